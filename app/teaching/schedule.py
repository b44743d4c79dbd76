"""What the device was told to deliver over a recorded session, and the ideal trace of a
replay window phased to the delivered samples. Pure numpy.

A stored session keeps current and voltage but not the device's phase marks, and its
events carry wall-clock times while the samples carry the device's clock. So the ideal of
a replay is built in two parts:

* :class:`OutputSchedule`, from the session's events: which settings were in force when,
  when the output started (the device starts every output at phase 0 and ramps up),
  and the commanded level: ramps up, intensity changes (slewed as the firmware slews
  them), ramps down and off. :func:`schedule_from_events` reads the events that the
  practitioner's engine (``transition`` and ``command``) and the studio (``settings``,
  ``device_state``, ``ended``) write.
* :func:`ideal_samples`: the ideal at the window's sample times, shifted by less than a
  period so it lies on the delivered waveform (folded over one period and
  cross-correlated), so the two stay in phase however long the recording is. For
  alternating polarity the sign of each period is read from the samples, as the live
  reference reads it from the device's sign flag.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from app.device.waveform import OutputSettings, Polarity, Waveform, unit_wave

#: States (the engine's and the device's names) in which the output is driven.
ON_STATES = frozenset({"ramping_up", "ramp_up", "running"})
#: States in which the output ramps down to zero.
RAMP_DOWN_STATES = frozenset({"ramping_down", "ramp_down"})
#: Event kinds whose ``state`` is a change of state (in other events it is only context).
STATE_EVENTS = frozenset({"transition", "device_state"})

FOLD_BINS = 1024  # phase bins over one period for the alignment
MIN_SAMPLES_PER_PERIOD = 4  # faster waves are drawn as a band: nothing to align
FIT_SAMPLES = 20_000  # the alignment looks at no more samples than this (or 2 periods)


def settings_from_payload(
    payload: Mapping[str, Any], fallback: OutputSettings | None = None
) -> OutputSettings | None:
    """Output settings from a stored step's parameters or an event's payload.

    Fields missing from the payload are taken from ``fallback``; None when the payload
    names no waveform settings or they cannot be read.
    """
    if "waveform" not in payload or "frequency_hz" not in payload:
        return None
    try:
        base = fallback or OutputSettings(Waveform.SQUARE, 1.0, 0.0, Polarity.POSITIVE)
        waveform = Waveform[str(payload["waveform"]).upper()]
        polarity = Polarity[str(payload.get("polarity", base.polarity.name)).upper()]
        s = OutputSettings(
            waveform,
            float(payload["frequency_hz"]),
            float(payload.get("amplitude_ua", base.amplitude_ua)),
            polarity,
            float(payload.get("alternate_s", base.alternate_s)),
            float(payload.get("ramp_s", base.ramp_s)),
        )
    except (KeyError, ValueError, TypeError):
        return None
    values = (s.frequency_hz, s.amplitude_ua, s.alternate_s, s.ramp_s)
    if (
        not all(math.isfinite(v) for v in values)
        or s.frequency_hz <= 0
        or s.amplitude_ua < 0
        or s.ramp_s < 0
    ):
        return None
    return s


@dataclass(frozen=True, slots=True)
class Piece:
    """From ``start`` (s since the recording's first sample) until the next piece."""

    start: float
    settings: OutputSettings | None  # None: nothing known, no ideal is drawn
    t_on: float  # when this output started (its phase 0 and the start of its ramp)
    level0: float  # commanded level (µA) at ``start``
    target: float  # the level it slews to (µA)
    slew: float  # µA/s; inf for an immediate step

    def level(self, t: np.ndarray | float) -> np.ndarray:
        d = np.maximum(np.asarray(t, dtype=np.float64) - self.start, 0.0)
        span = self.target - self.level0
        if span == 0 or math.isinf(self.slew):
            return np.full(np.shape(d), self.target)
        return self.level0 + math.copysign(1.0, span) * np.minimum(self.slew * d, abs(span))


def _slew(settings: OutputSettings, span_ua: float) -> float:
    """The firmware's slew rate: the span (µA) over the ramp time."""
    if settings.ramp_s <= 0:
        return math.inf
    return max(span_ua, 1.0) / settings.ramp_s


class OutputSchedule:
    """The commanded output over a recording, as a sequence of :class:`Piece`."""

    def __init__(self, pieces: Iterable[Piece]) -> None:
        self.pieces = tuple(sorted(pieces, key=lambda p: p.start))
        if not self.pieces:
            raise ValueError("a schedule needs at least one piece")
        self._starts = np.array([p.start for p in self.pieces])

    @classmethod
    def constant(cls, settings: OutputSettings | None) -> OutputSchedule:
        """One output, started with the recording (ramping up) and never changed."""
        if settings is None:
            return cls([Piece(0.0, None, 0.0, 0.0, 0.0, math.inf)])
        a = settings.amplitude_ua
        return cls([Piece(0.0, settings, 0.0, 0.0, a, _slew(settings, a))])

    def __len__(self) -> int:
        return len(self.pieces)

    def index_at(self, t: float) -> int:
        return max(int(np.searchsorted(self._starts, t, side="right")) - 1, 0)

    def piece_at(self, t: float) -> Piece:
        return self.pieces[self.index_at(t)]

    def settings_at(self, t: float) -> OutputSettings | None:
        """The settings in force at ``t`` (their amplitude: the one commanded then)."""
        return self.piece_at(t).settings

    def level(self, t: np.ndarray) -> np.ndarray:
        """The commanded level (µA, ≥ 0) at times ``t``."""
        t = np.asarray(t, dtype=np.float64)
        out = np.zeros(t.shape)
        if t.ndim == 1 and t.size > 1 and bool(np.all(t[1:] >= t[:-1])):
            # sample times in order (a replay window): each piece is one slice
            edges = np.searchsorted(t, self._starts[1:], side="left")
            bounds = np.concatenate(([0], edges, [t.size]))
            for i in range(len(self.pieces)):
                a, b = int(bounds[i]), int(bounds[i + 1])
                if b > a:
                    out[a:b] = self.pieces[i].level(t[a:b])
            return out
        idx = np.clip(np.searchsorted(self._starts, t, side="right") - 1, 0, None)
        for i in np.unique(idx):
            sel = idx == i
            out[sel] = self.pieces[int(i)].level(t[sel])
        return out


def schedule_from_events(
    events: Iterable[tuple[float, str, Mapping[str, Any]]], first: OutputSettings | None
) -> OutputSchedule:
    """Rebuild the commanded output from a session's events ``(t s, kind, payload)``.

    The recording starts as the output starts (sessions open at ramp-up), with ``first``
    (e.g. the first step's parameters). Events before the first sample count as at 0.
    """
    settings = first
    on = True
    ramping_down = False
    t_on = 0.0
    a = settings.amplitude_ua if settings is not None else 0.0
    pieces = [
        Piece(0.0, settings, 0.0, 0.0, a, _slew(settings, a) if settings is not None else math.inf)
    ]

    def push(t: float, level0: float, target: float, slew: float) -> None:
        piece = Piece(t, settings, t_on, level0, target, slew)
        if pieces[-1].start >= t:  # same instant: the later event wins
            pieces[-1] = replace(piece, start=pieces[-1].start)
        else:
            pieces.append(piece)

    for t, kind, payload in sorted(events, key=lambda e: e[0]):
        t = max(float(t), 0.0)
        if not math.isfinite(t):
            continue
        level = float(pieces[-1].level(t))
        new = settings_from_payload(payload, settings)
        if new is not None and new != settings:
            settings = new
            if on and not ramping_down:
                target = settings.amplitude_ua
                push(t, level, target, _slew(settings, max(target, level)))
            else:
                push(t, level, pieces[-1].target, pieces[-1].slew)
        state = str(payload.get("state", "")) if kind in STATE_EVENTS else ""
        if kind == "ended":
            state = "idle"
        if not state:
            continue
        if state in ON_STATES:
            if not on or ramping_down:
                on, ramping_down, t_on = True, False, t
                target = settings.amplitude_ua if settings is not None else 0.0
                push(t, 0.0, target, _slew(settings, target) if settings else math.inf)
        elif state in RAMP_DOWN_STATES:
            if on and not ramping_down:
                ramping_down = True
                push(t, level, 0.0, _slew(settings, level) if settings else math.inf)
        elif on or level > 0:
            on = ramping_down = False
            push(t, 0.0, 0.0, math.inf)
    return OutputSchedule(pieces)


# -- the ideal of a replay window ------------------------------------------------------


def _carrier(settings: OutputSettings) -> OutputSettings:
    """The settings with one fixed polarity: what a single period looks like."""
    pol = Polarity.POSITIVE if settings.polarity == Polarity.ALTERNATING else settings.polarity
    return replace(settings, polarity=pol, amplitude_ua=1.0)


def phase_shift(settings: OutputSettings, t_rel: np.ndarray, current: np.ndarray) -> float:
    """The shift (s, within ±half a period) that best lays the ideal on ``current``.

    ``t_rel``: the samples' times since output start. The delivered samples are folded
    over one period and cross-correlated with the ideal period; for alternating polarity
    the magnitudes are compared, as the sign changes from period to period.
    """
    period = 1.0 / settings.frequency_hz
    ok = np.isfinite(current) & np.isfinite(t_rel)
    if ok.sum() < 2 * MIN_SAMPLES_PER_PERIOD:
        return 0.0
    t_ok, cur = t_rel[ok], current[ok].astype(np.float64)
    dt = float(np.median(np.diff(t_ok[:1000]))) if t_ok.size > 1 else period
    if dt > 0 and t_ok.size > FIT_SAMPLES:
        # the newest samples, at least two periods of them, fix the phase well enough
        keep = max(FIT_SAMPLES, int(2 * period / dt))
        t_ok, cur = t_ok[-keep:], cur[-keep:]
    per_period = period / dt if dt > 0 else 0.0
    if per_period < MIN_SAMPLES_PER_PERIOD or t_ok[-1] - t_ok[0] < period:
        return 0.0
    m = int(min(FOLD_BINS, max(8, per_period)))
    bins = (np.mod(t_ok / period, 1.0) * m).astype(np.int64) % m
    counts = np.bincount(bins, minlength=m)
    sums = np.bincount(
        bins, weights=cur if settings.polarity != Polarity.ALTERNATING else np.abs(cur), minlength=m
    )
    filled = counts > 0
    folded = np.divide(sums, counts, out=np.zeros(m), where=filled)
    folded[~filled] = folded[filled].mean()  # bins no sample fell in: no information
    template = unit_wave(_carrier(settings), (np.arange(m) + 0.5) / m * period)
    if settings.polarity == Polarity.ALTERNATING:
        template = np.abs(template)
    folded = folded - folded.mean()
    template = template - template.mean()
    if not folded.any() or not template.any():
        return 0.0
    corr = np.fft.irfft(np.fft.rfft(folded) * np.conj(np.fft.rfft(template)), m)
    k = int(np.argmax(corr))
    if k > m // 2:
        k -= m
    return k * period / m


def _period_signs(
    settings: OutputSettings, t_rel: np.ndarray, current: np.ndarray, shape: np.ndarray
) -> np.ndarray:
    """±1 per sample: each period's sign as the delivered samples show it."""
    period_no = np.floor(t_rel * settings.frequency_hz).astype(np.int64)
    first = int(period_no.min())
    idx = period_no - first
    cur = np.where(np.isfinite(current), current, 0.0)
    dots = np.bincount(idx, weights=cur * shape)
    default = unit_wave(
        replace(settings, amplitude_ua=1.0),
        (np.arange(dots.size) + first + 0.25) / settings.frequency_hz,
    )
    signs = np.where(dots > 0, 1.0, np.where(dots < 0, -1.0, np.sign(default) + (default == 0)))
    return signs[idx]


def ideal_samples(schedule: OutputSchedule, t: np.ndarray, current: np.ndarray) -> np.ndarray:
    """The ideal current (µA) at the sample times ``t`` (s since the recording's start),
    phased to the delivered ``current`` at those times (NaN where nothing is known).
    Times in order (a replay window) are fastest; any order gives the same values."""
    t = np.asarray(t, dtype=np.float64)
    current = np.asarray(current)
    out = np.full(t.shape, np.nan)
    if t.size == 0:
        return out
    if t.ndim != 1 or not bool(np.all(t[1:] >= t[:-1])):
        order = np.argsort(t, axis=None, kind="stable")
        out.flat[order] = ideal_samples(schedule, t.flat[order], current.flat[order])
        return out
    level = schedule.level(t)
    first, last = schedule.index_at(float(t[0])), schedule.index_at(float(t[-1]))
    # Consecutive pieces of one output at one frequency share one phase: align them once.
    groups: list[tuple[Piece, float, float]] = []
    for i in range(first, last + 1):
        p = schedule.pieces[i]
        end = schedule.pieces[i + 1].start if i + 1 < len(schedule) else math.inf
        key = None if p.settings is None else (p.t_on, _carrier(p.settings))
        if (
            groups
            and key is not None
            and groups[-1][0].settings is not None
            and (groups[-1][0].t_on, _carrier(groups[-1][0].settings)) == key
        ):
            groups[-1] = (groups[-1][0], groups[-1][1], end)
        else:
            groups.append((p, p.start if i > first else -math.inf, end))
    for p, lo, hi in groups:
        a, b = np.searchsorted(t, [lo, hi], side="left")  # t is in order: a slice
        if p.settings is None or b <= a:
            continue
        sel = slice(int(a), int(b))
        t_rel = t[sel] - p.t_on
        cur = current[sel]
        fit = (level[sel] > 0) & np.isfinite(cur)
        if fit.all():
            shift = phase_shift(p.settings, t_rel, cur)
        else:
            shift = phase_shift(p.settings, t_rel[fit], cur[fit]) if fit.any() else 0.0
        t_rel -= shift
        shape = unit_wave(_carrier(p.settings), t_rel)
        if p.settings.polarity == Polarity.ALTERNATING:
            shape *= _period_signs(p.settings, t_rel, cur, shape)
        out[sel] = level[sel] * shape
    return out
