"""Trigger detection and the sweep acquirer (Auto / Normal / Single). Pure numpy.

Edge triggers use hysteresis: a rising edge fires where the signal reaches ``level``
after having been below ``level - hysteresis`` (falling: mirror image), so noise on a
slow edge fires once, not many times. The sync trigger fires on the device's
period-start mark.

Old data is never presented as new: configuring the acquirer (any trigger setting or
window change), resetting or arming it starts the trigger search at the newest sample
in the ring, so a Single capture's trigger is always a sample that arrived after the
arming (the pre-trigger part of the window may be older). A holdoff ignores triggers
closer than ``holdoff_s`` to the previous accepted one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from enum import Enum

import numpy as np

from app.scope.core.buffer import SampleRing
from app.scope.core.capture import Capture


class TriggerMode(Enum):
    AUTO = "Auto"  # free-runs when no trigger comes within the auto timeout
    NORMAL = "Normal"  # draws only triggered captures; keeps the last one on screen
    SINGLE = "Single"  # one triggered capture, then stops until re-armed


class TriggerSource(Enum):
    SYNC = "Sync"  # the device's period-start mark (default: stable for any waveform)
    CURRENT = "Current"
    VOLTAGE = "Voltage"


class Edge(Enum):
    RISING = "Rising"
    FALLING = "Falling"


@dataclass(frozen=True, slots=True)
class TriggerSettings:
    mode: TriggerMode = TriggerMode.AUTO
    source: TriggerSource = TriggerSource.SYNC
    edge: Edge = Edge.RISING
    level: float = 0.0  # in the source channel's unit (µA or V)
    hysteresis: float = 1.0  # same unit, >= 0
    pre_fraction: float = 0.1  # share of the window before the trigger, 0..1
    holdoff_s: float = 0.0  # after a trigger, ignore triggers for this long

    def __post_init__(self) -> None:
        if not 0.0 <= self.holdoff_s <= 100.0:
            raise ValueError(f"trigger holdoff must be 0..100 s, got {self.holdoff_s:g} s")
        if not 0.0 <= self.pre_fraction <= 1.0:
            raise ValueError(f"pre-trigger must be 0..100 %, got {self.pre_fraction * 100:g} %")
        if self.hysteresis < 0:
            raise ValueError(f"trigger hysteresis must be >= 0, got {self.hysteresis}")


def edge_crossings(values: np.ndarray, level: float, hysteresis: float, edge: Edge) -> np.ndarray:
    """Positions where ``values`` crosses ``level`` on ``edge`` with hysteresis.

    NaN samples (dropped) neither arm nor fire. Returns sorted int positions.
    """
    return edge_crossings_from(values, level, hysteresis, edge)[0]


def edge_crossings_from(
    values: np.ndarray, level: float, hysteresis: float, edge: Edge, prior: int = 0
) -> tuple[np.ndarray, int]:
    """:func:`edge_crossings` continuing a search: ``prior`` is the hysteresis state
    before ``values[0]`` (1 above the level, -1 armed below the band, 0 unknown); returns
    the positions and the state after the last value, for the next search."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return np.zeros(0, dtype=np.int64), prior
    if edge == Edge.FALLING:
        v, level = -v, -level
    with np.errstate(invalid="ignore"):
        state = np.where(v >= level, 1, np.where(v < level - hysteresis, -1, 0))
    nz = np.flatnonzero(state)
    last = int(state[nz[-1]]) if nz.size else prior
    s = state[nz]
    if prior:
        s = np.concatenate(([prior], s))
        nz = np.concatenate(([-1], nz))
    if nz.size < 2:
        return np.zeros(0, dtype=np.int64), last
    fire = np.flatnonzero((s[1:] == 1) & (s[:-1] == -1)) + 1
    return nz[fire].astype(np.int64), last


def apply_holdoff(positions: np.ndarray, holdoff: int, previous: int | None = None) -> np.ndarray:
    """The triggers of sorted ``positions`` that are at least ``holdoff`` samples after
    the previous accepted one (``previous``: the last trigger accepted before these)."""
    pos = np.asarray(positions, dtype=np.int64)
    if holdoff <= 0:
        return pos
    kept: list[int] = []
    i = 0 if previous is None else int(np.searchsorted(pos, previous + holdoff))
    while i < pos.size:
        p = int(pos[i])
        kept.append(p)
        i = int(np.searchsorted(pos, p + holdoff, side="left"))
    return np.asarray(kept, dtype=np.int64)


def trigger_positions(
    sync: np.ndarray, current: np.ndarray, voltage: np.ndarray, settings: TriggerSettings
) -> np.ndarray:
    """Trigger positions (indices into the given arrays) for ``settings``."""
    if settings.source == TriggerSource.SYNC:
        return np.flatnonzero(sync).astype(np.int64)
    values = current if settings.source == TriggerSource.CURRENT else voltage
    return edge_crossings(values, settings.level, settings.hysteresis, settings.edge)


class SweepAcquirer:
    """Turns the ring buffer into captures of ``window`` samples around triggers.

    Call :meth:`poll` once per display frame; it returns the newest complete capture
    since the last poll (or ``None``). Searching resumes where the last poll stopped, so
    every trigger is considered once; at most one capture per poll is returned (the
    newest for Auto/Normal, the first for Single).

    ``armed_at`` is the absolute index of the first sample that counts as new: no
    trigger before it is ever used (it is the newest sample + 1 when the acquirer was
    configured, reset or armed with data in the ring).
    """

    def __init__(self, ring: SampleRing) -> None:
        self.ring = ring
        self.settings = TriggerSettings()
        self.window = 1000
        self.auto_timeout_s = 0.1
        self.armed = True  # Single: False after its capture until arm()
        self._search_from: int | None = None
        self._last_trigger: int | None = None
        self._ring_generation = ring.generation
        self.armed_at: int | None = None
        self._last_capture_clock = time.monotonic()
        self._edge_state = 0  # hysteresis state after the last edge search (0: unknown)
        self._edge_key: tuple | None = None  # the edge settings it belongs to
        self.searched = 0  # samples read by trigger searches (new ones, and any context)

    def configure(self, settings: TriggerSettings | None = None, window: int | None = None) -> None:
        if settings is not None:
            self.settings = settings
        if window is not None:
            if window < 2:
                raise ValueError(f"capture window must be at least 2 samples, got {window}")
            self.window = int(window)
        self.reset()

    def set_level(self, level: float) -> None:
        """Move the trigger level without re-arming (dragging the level marker)."""
        self.settings = replace(self.settings, level=float(level))

    def reset(self) -> None:
        """Start over on new data: the search begins after the newest sample in the ring."""
        ring = self.ring
        self._ring_generation = ring.generation
        self._search_from = None if ring.newest is None else ring.newest + 1
        self.armed_at = self._search_from
        self._last_trigger = None
        self._edge_state = 0
        self._last_capture_clock = time.monotonic()
        self.armed = True

    def arm(self) -> None:
        """Re-arm (Single mode): the next trigger after now makes a capture."""
        self.reset()

    @property
    def pre(self) -> int:
        return int(round(self.window * self.settings.pre_fraction))

    def poll(self, now: float | None = None) -> Capture | None:
        ring = self.ring
        if ring.newest is None or not self.armed:
            return None
        now = time.monotonic() if now is None else now
        if ring.generation != self._ring_generation:
            # the ring was cleared (new stream): everything in it arrived after that
            self._ring_generation = ring.generation
            self._search_from = self.armed_at = None
            self._last_trigger = None
            self._edge_state = 0
        pre, post = self.pre, self.window - self.pre
        newest = ring.newest
        oldest = ring.oldest_kept if ring.oldest_kept is not None else newest
        lo = max(oldest + pre, self._search_from if self._search_from is not None else oldest)
        hi = newest - post + 1  # a trigger at hi-1 has its whole post-trigger part
        cap = None
        if hi > lo:
            pos = self._search(lo, hi, oldest)
            holdoff = int(round(self.settings.holdoff_s * (ring.sample_rate or 1.0)))
            pos = apply_holdoff(pos, holdoff, self._last_trigger)
            if pos.size:
                single = self.settings.mode == TriggerMode.SINGLE
                trig = int(pos[0] if single else pos[-1])
                self._last_trigger = int(pos[-1])
                cap = self._capture(trig - pre, trig, True)
                if single:
                    self.armed = False
            self._search_from = hi
        if cap is None and self.settings.mode == TriggerMode.AUTO:
            span_s = self.window / (ring.sample_rate or 1.0)
            if (
                now - self._last_capture_clock > max(self.auto_timeout_s, 1.5 * span_s)
                and newest - oldest + 1 >= 1
            ):
                start = newest - self.window + 1
                cap = self._capture(start, start + pre, False)
        if cap is not None:
            self._last_capture_clock = now
        return cap

    def _search(self, lo: int, hi: int, oldest: int) -> np.ndarray:
        """Trigger positions (absolute) in ``lo .. hi-1``. Only samples not searched
        before are read: a sync mark needs no context, and an edge search carries its
        hysteresis state from the last search (context before ``lo`` only when that state
        is unknown: the first search, a new level, a gap in the search)."""
        ring, st = self.ring, self.settings
        if st.source == TriggerSource.SYNC:
            self.searched += hi - lo
            return np.flatnonzero(ring.sync_marks(lo, hi)).astype(np.int64) + lo
        key = (st.source, st.edge, st.level, st.hysteresis)
        prior = self._edge_state if key == self._edge_key and lo == self._search_from else 0
        start = lo if prior else max(lo - min(self.window, 10_000), oldest)
        w = ring.window(start, hi)
        values = w.current_ua if st.source == TriggerSource.CURRENT else w.voltage_v
        pos, self._edge_state = edge_crossings_from(values, st.level, st.hysteresis, st.edge, prior)
        self._edge_key = key
        self.searched += hi - start
        pos = pos + start
        return pos[pos >= lo]

    def _capture(self, start: int, trigger: int, triggered: bool) -> Capture:
        w = self.ring.window(start, start + self.window)
        return Capture(
            sample_rate=w.sample_rate,
            start_index=start,
            trigger_offset=trigger - start,
            current_ua=w.current_ua,
            voltage_v=w.voltage_v,
            reference_ua=w.reference_ua,
            flags=w.flags,
            triggered=triggered,
            wall_time=time.time(),
        )
