"""What the waveform studio writes on its plot, computed from a capture. Pure numpy.

Every number comes from :func:`app.scope.core.measure.measure_arrays` (period,
frequency, peaks, charge per phase, net charge), so the studio and the oscilloscope
always agree. This module adds *where* to draw them:

* ``period_span``: two consecutive rising mid-level crossings (the dimension arrow);
* ``positive_phase`` / ``negative_phase``: one pulse phase of each sign, from the
  zero crossing before it to the zero crossing after it (the shaded charge);
* ``flips``: polarity flips, where the current averaged over one period changes sign
  (ALTERNATING polarity; a biphasic wave averages to ~0 and never "flips"), placed at
  the start of the first pulse of the new sign; when the view holds flips, the numbers
  are measured on the longest stretch of one polarity (see ``notes``);
* ``ramp``: the output-start ramp, where the per-period peak climbs from < 10 % to
  > 90 % of the steady amplitude, extrapolated linearly to 0 and 100 %. A view that holds
  a ramp is measured on its settled part only (after the ramp's end): periods whose
  amplitude is still growing would shift the mid-level crossings and read a wrong
  frequency. When less than 1.5 periods follow the ramp, ``ramping`` is True and the
  period, frequency and charges are not given (the studio says "ramping").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from app.device.waveform import OutputSettings, Polarity, Waveform, charge_per_phase_uc
from app.scope.core.measure import HYSTERESIS_FRACTION, crossings, levels, measure_arrays

PHASE_EDGE_FRACTION = 0.02  # of the amplitude: where a pulse phase starts and ends
FLIP_MIN_FRACTION = 0.15  # period-mean current needed to call a polarity, of amplitude


@dataclass(frozen=True, slots=True)
class Flip:
    t: float  # s, where the period-averaged current crosses zero
    to_negative: bool


@dataclass(frozen=True, slots=True)
class Ramp:
    t_start: float  # s, extrapolated start (0 %)
    t_end: float  # s, extrapolated end (100 %)
    level_ua: float  # steady amplitude reached

    @property
    def duration_s(self) -> float:
        return self.t_end - self.t_start


@dataclass(frozen=True, slots=True)
class Annotations:
    """Measured values (µA, µC, s, Hz) and where to draw them (times in s)."""

    measured: dict[str, float]
    amplitude_ua: float
    period_s: float
    frequency_hz: float
    charge_per_phase_uc: float
    net_charge_uc: float
    period_span: tuple[float, float] | None = None
    positive_phase: tuple[float, float] | None = None
    negative_phase: tuple[float, float] | None = None
    positive_phase_uc: float = math.nan  # charge under the shaded positive phase
    negative_phase_uc: float = math.nan  # charge under the shaded negative phase (< 0)
    flips: tuple[Flip, ...] = ()
    ramp: Ramp | None = None
    commanded: OutputSettings | None = None
    notes: tuple[str, ...] = field(default=())
    ramping: bool = False  # the view ends inside (or too soon after) the start ramp

    @property
    def commanded_charge_uc(self) -> float:
        return math.nan if self.commanded is None else charge_per_phase_uc(self.commanded)

    @property
    def commanded_period_s(self) -> float:
        return math.nan if self.commanded is None else 1.0 / self.commanded.frequency_hz


def annotate(
    t0: float,
    sample_rate: float,
    current_ua: np.ndarray,
    voltage_v: np.ndarray,
    settings: OutputSettings | None = None,
) -> Annotations:
    """Annotations of equally spaced samples starting at time ``t0`` (NaN = missing).

    ``settings`` is the commanded output, shown beside the measurements and used as
    the period for flip and ramp detection when the capture has fewer than two periods.
    """
    if not (math.isfinite(sample_rate) and sample_rate > 0):
        raise ValueError(f"sample rate must be a positive number, got {sample_rate!r}")
    i = np.asarray(current_ua, dtype=np.float64)
    v = np.asarray(voltage_v, dtype=np.float64)
    if i.shape != v.shape or i.ndim != 1:
        raise ValueError("current and voltage must be 1-D arrays of the same length")
    dt = 1.0 / sample_rate
    notes: list[str] = []
    m = measure_arrays(i, v, sample_rate)
    amp = _nan_max(abs(m["i_peak_pos_ua"]), abs(m["i_peak_neg_ua"]))
    period = 1.0 / settings.frequency_hz if settings is not None else m["period_s"]
    flips: tuple[Flip, ...] = ()
    ramp = None
    s_a, s_b = 0, i.size  # the samples the numbers are measured on
    ramping = False
    if math.isfinite(period) and math.isfinite(amp) and amp > 0:
        n_per = max(1, int(round(period * sample_rate)))
        # polarity flips only where the output flips polarity: with another polarity
        # commanded, a period average changing sign is something else (the old and the
        # new wave of a change in view, averaged over the new period)
        if settings is None or settings.polarity is Polarity.ALTERNATING:
            flips = _flips(i, n_per, amp, t0, dt)
        ramp = _ramp(i, n_per, amp, t0, dt)
        if ramp is None and settings is not None:
            ramp = _ramp_at_view_start(i, n_per, amp, t0, dt, settings)
        if ramp is not None:
            settled = min(i.size, max(0, int(math.ceil((ramp.t_end - t0) / dt))))
            if i.size - settled >= 1.5 * n_per:
                if settled > 0:
                    s_a = settled
                    m = measure_arrays(i[s_a:], v[s_a:], sample_rate)
                    notes.append(f"measured after the start ramp, from {t0 + s_a * dt:.2f} s")
            else:
                ramping = True
                notes.append("ramping: measured once the output has settled")
        if flips and not ramping:
            # measure one polarity at a time: the longest stretch between flips on which
            # the period can be measured (the ramp can make the first one unmeasurable)
            found = None
            for a, b in _stretches(i.size, [f.t for f in flips], t0, dt):
                a = max(a, s_a)  # never the ramp
                if b - a < 1.5 * n_per:
                    continue
                m_ab = measure_arrays(i[a:b], v[a:b], sample_rate)
                if found is None or (
                    math.isfinite(m_ab["period_s"]) and not math.isfinite(found[2]["period_s"])
                ):
                    found = (a, b, m_ab)
                if math.isfinite(m_ab["period_s"]):
                    break
            if found is not None:
                s_a, s_b, m = found
                notes.append(
                    f"measured between polarity flips, {t0 + s_a * dt:.2f} s to "
                    f"{t0 + s_b * dt:.2f} s"
                )
            else:
                notes.append("polarity flips too often in view to measure one polarity")
    if ramping:
        m = dict(m)
        for key in ("period_s", "frequency_hz", "charge_per_phase_uc", "net_charge_uc"):
            m[key] = math.nan
    amp = _nan_max(abs(m["i_peak_pos_ua"]), abs(m["i_peak_neg_ua"]))
    if not math.isfinite(m["period_s"]) and not ramping:
        notes.append("fewer than two periods in view: period not measured")
    period_span = pos = neg = None
    q_pos = q_neg = math.nan
    if math.isfinite(amp) and amp > 0:
        seg = i[s_a:s_b]
        lv_seg = levels(seg)
        if lv_seg is not None and lv_seg.span > 0:
            rise, _ = crossings(seg, lv_seg.mid, HYSTERESIS_FRACTION * lv_seg.span / 2)
            if rise.size >= 2:
                k = (rise.size - 2) // 2  # the middle period: clear of legends and edges
                period_span = (t0 + (s_a + rise[k]) * dt, t0 + (s_a + rise[k + 1]) * dt)
        # shade the phases of that period when it has them, else the first whole ones
        after = 0 if period_span is None else int((period_span[0] - t0) / dt) - 1
        pos, q_pos = _phase(i, amp, +1, t0, dt, after)
        neg, q_neg = _phase(i, amp, -1, t0, dt, after)
    return Annotations(
        measured=m,
        amplitude_ua=amp,
        period_s=m["period_s"],
        frequency_hz=m["frequency_hz"],
        charge_per_phase_uc=m["charge_per_phase_uc"],
        net_charge_uc=m["net_charge_uc"],
        period_span=period_span,
        positive_phase=pos,
        negative_phase=neg,
        positive_phase_uc=q_pos,
        negative_phase_uc=q_neg,
        flips=flips,
        ramp=ramp,
        commanded=settings,
        notes=tuple(notes),
        ramping=ramping,
    )


def _nan_max(a: float, b: float) -> float:
    vals = [x for x in (a, b) if math.isfinite(x)]
    return max(vals) if vals else math.nan


def _phase(
    i: np.ndarray, amp: float, sign: int, t0: float, dt: float, after: int = 0
) -> tuple[tuple[float, float] | None, float]:
    """The first whole full-amplitude pulse phase of ``sign`` starting at or after sample
    ``after`` (else the first anywhere): (start, end) times and its charge (µC).

    A phase is a run of samples with ``sign * i`` above 2 % of the amplitude that does
    not touch the edges of the capture and reaches 90 % of the amplitude.
    """
    if not (math.isfinite(amp) and amp > 0) or i.size < 3:
        return None, math.nan
    with np.errstate(invalid="ignore"):
        inside = np.concatenate([[False], sign * i > PHASE_EDGE_FRACTION * amp, [False]])
    d = np.diff(inside.astype(np.int8))
    starts, stops = np.flatnonzero(d == 1), np.flatnonzero(d == -1)  # run = [start, stop)
    runs = list(zip(starts.tolist(), stops.tolist(), strict=True))
    runs = [r for r in runs if r[0] >= after] + [r for r in runs if r[0] < after]
    for lo, hi in runs:
        if lo == 0 or hi == i.size or hi - lo < 2:
            continue  # cut by the edge of the capture, or a noise blip
        seg = i[lo:hi]
        if float(np.max(sign * seg)) < 0.9 * amp:
            continue  # still ramping up: show a full-amplitude phase
        return (t0 + (lo - 0.5) * dt, t0 + (hi - 0.5) * dt), float(np.sum(seg)) * dt
    return None, math.nan


def _stretches(n: int, flip_times: list[float], t0: float, dt: float) -> list[tuple[int, int]]:
    """Sample ranges of one polarity, longest first (a tie: the later, steadier one).

    Flips are placed where a new sign's first pulse starts, so each range holds whole
    pulses of one sign."""
    cuts = [0] + [int(round((ft - t0) / dt)) for ft in flip_times] + [n]
    spans = list(zip(cuts[:-1], cuts[1:], strict=True))
    return sorted(spans, key=lambda ab: (ab[1] - ab[0], ab[0]), reverse=True)


def _period_mean(i: np.ndarray, n: int) -> np.ndarray:
    """Centred moving average over ``n`` samples (NaN where the window is incomplete)."""
    x = np.where(np.isfinite(i), i, 0.0)
    c = np.concatenate([[0.0], np.cumsum(x)])
    out = np.full(i.size, np.nan)
    if i.size < n:
        return out
    means = (c[n:] - c[:-n]) / n  # window k .. k+n-1
    start = n // 2
    out[start : start + means.size] = means
    return out


def _flips(i: np.ndarray, n_per: int, amp: float, t0: float, dt: float) -> tuple[Flip, ...]:
    avg = _period_mean(i, n_per)
    thr = FLIP_MIN_FRACTION * amp
    with np.errstate(invalid="ignore"):
        state = np.where(avg > thr, 1, np.where(avg < -thr, -1, 0))
    nz = np.flatnonzero(state)
    if nz.size < 2:
        return ()
    s = state[nz]
    out = []
    for k in np.flatnonzero(s[1:] != s[:-1]).tolist():
        a, b = int(nz[k]), int(nz[k + 1])
        seg = avg[a : b + 1]
        # where the average passes zero between the two decided states ...
        j = a + int(np.argmin(np.abs(seg)))
        # ... and the first pulse of the new sign starts within a period of it
        new = int(s[k + 1])
        lo = max(j - n_per, 0)
        with np.errstate(invalid="ignore"):
            first = np.flatnonzero(new * i[lo : j + n_per] > 0.5 * amp)
        if first.size:
            j = lo + int(first[0])
            # back to where that pulse leaves the baseline (noise alone never gets to 50 %)
            while j > 0 and new * i[j - 1] > PHASE_EDGE_FRACTION * amp:
                j -= 1
        out.append(Flip(t0 + j * dt, to_negative=new < 0))
    return tuple(out)


START_RAMP_MIN_S = 0.005  # START with ramp_s = 0 still ramps over one frame (5 ms)


def _ramp_at_view_start(
    i: np.ndarray, n_per: int, amp: float, t0: float, dt: float, settings: OutputSettings
) -> Ramp | None:
    """A start ramp too short for :func:`_ramp`'s blocks, beginning at the view's first
    sample (a live sweep starts at the output's first period start): a flat-pulse wave
    whose first sample is near 0 and that climbs steadily to 90 % over at least half the
    commanded ramp (START with ``ramp_s = 0`` takes 5 ms), within half a period. Its slow
    edge would otherwise be timed as a period start and shorten the mean period."""
    if settings.waveform == Waveform.SINE or i.size < 3 or not np.isfinite(i[0]):
        return None
    ramp_n = max(settings.ramp_s, START_RAMP_MIN_S) / dt
    mag = np.abs(i[: max(3, min(n_per // 2, int(1.5 * ramp_n) + 2))])
    if mag[0] >= 0.1 * amp:
        return None
    with np.errstate(invalid="ignore"):
        full = np.flatnonzero(mag >= 0.9 * amp)
    if full.size == 0:
        return None
    k1 = int(full[0])
    if k1 < max(3, 0.5 * ramp_n):
        return None  # a sharp edge: a period start, not a ramp
    head = mag[: k1 + 1]
    if not (np.all(np.isfinite(head)) and np.all(np.diff(head) > -0.05 * amp)):
        return None  # not a steady climb
    return Ramp(t0, t0 + k1 * dt, amp)


def _ramp(i: np.ndarray, n_per: int, amp: float, t0: float, dt: float) -> Ramp | None:
    """The output-start ramp: the envelope (peak over the last period) climbs from below
    10 % to 90 % of ``amp``; the line through the peaks on the way is extrapolated."""
    sub = max(1, n_per // 8)  # eighth-of-a-period blocks
    nb = i.size // sub
    if nb < 16:
        return None
    blocks = np.abs(i[: nb * sub].reshape(nb, sub))
    blocks = np.where(np.isfinite(blocks), blocks, -1.0)
    arg = np.argmax(blocks, axis=1)
    peak = blocks[np.arange(nb), arg]
    width = max(1, n_per // sub)
    env = np.maximum.accumulate(
        np.lib.stride_tricks.sliding_window_view(
            np.concatenate([np.full(width - 1, -1.0), peak]), width
        ),
        axis=1,
    )[:, -1]
    full = np.flatnonzero(env >= 0.9 * amp)
    if full.size == 0:
        return None
    k1 = int(full[0])
    low = np.flatnonzero((env[:k1] >= 0) & (env[:k1] < 0.1 * amp))
    if low.size == 0:
        return None
    k0 = int(low[-1])
    ks = np.arange(k0 + 1, k1 + 1)
    on = (peak[ks] > 0.1 * amp) & (peak[ks] < 0.9 * amp)
    ks = ks[on]
    if ks.size >= 2:
        tt = t0 + (ks * sub + arg[ks]) * dt
        slope, icpt = np.polyfit(tt, peak[ks], 1)
        if slope > 0:
            return Ramp(float(-icpt / slope), float((amp - icpt) / slope), amp)
    # a ramp too short to fit: bound it by the blocks around it
    return Ramp(t0 + (k0 + 1) * sub * dt, t0 + (k1 * sub + int(arg[k1])) * dt, amp)
