"""Mask test: delivered current against the commanded waveform ± a tolerance. Pure numpy.

The mask around the reference is widened in time by ``time_tolerance`` either side
(the max/min of the reference over that window, so edges that are a little late do not
fail) and in amplitude by ``tolerance_ua``. A sample outside the mask is a violation;
a waveform period (sync to sync) with at least one violation is a failed period.
Samples whose reference is unknown (before the first sync mark) or that were dropped
are not tested.

Only new data is tested: after a reset (a new tolerance, reference or output) the
first update marks the newest sample in the ring and tests only what arrives after it,
so the count never includes data that was in the buffer before (the 104 s of history
is never re-tested). Every failed period is logged (:class:`MaskLogEntry`: time, sample
index and worst deviation); the log keeps the newest ``LOG_LIMIT`` entries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.device.protocol import SampleFlag
from app.scope.core.buffer import SampleRing


@dataclass(frozen=True, slots=True)
class MaskSettings:
    tolerance_pct: float = 10.0  # of the commanded amplitude
    floor_ua: float = 2.0  # added to the tolerance (ADC noise)
    time_tolerance_fraction: float = 0.02  # of the waveform period, either side

    def __post_init__(self) -> None:
        if not 0 < self.tolerance_pct <= 100:
            raise ValueError(f"mask tolerance must be 0..100 %, got {self.tolerance_pct:g} %")
        if self.floor_ua < 0 or self.time_tolerance_fraction < 0:
            raise ValueError("mask floor and time tolerance must be >= 0")


@dataclass(frozen=True, slots=True)
class MaskLogEntry:
    """One failed period: where its first violating sample is and how far outside."""

    time_s: float  # device time of the first violating sample in the period
    index: int  # its absolute sample index
    deviation_ua: float  # the period's largest distance outside the mask
    compliance: bool  # the device flagged compliance in the period


LOG_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class MaskFailure:
    """What ``mask_failed`` carries: the failures found in one evaluation."""

    time_s: float  # device time of the first violating sample
    failed_periods: int  # new failed periods in this evaluation
    fail_count: int  # failed periods since the counter was reset
    worst_deviation_ua: float  # largest distance outside the mask
    compliance: bool  # the device flagged compliance on a violating sample
    index: int = -1  # absolute sample index of the first violating sample


def mask_bounds(
    reference: np.ndarray, tolerance_ua: float, half_window: int
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper mask limits around ``reference`` (NaN where it is unknown)."""
    r = np.asarray(reference, dtype=np.float64)
    if half_window > 0 and r.size:
        padded = np.pad(r, half_window, mode="edge")
        width = 2 * half_window + 1
        upper = _sliding_extreme(padded, width, np.maximum)
        lower = _sliding_extreme(padded, width, np.minimum)
    else:
        upper = lower = r
    return lower - tolerance_ua, upper + tolerance_ua


def _sliding_extreme(a: np.ndarray, width: int, op: np.ufunc) -> np.ndarray:
    """``op`` (np.maximum or np.minimum) over every ``width`` consecutive values of ``a``
    (``len(a) - width + 1`` results; NaN anywhere in a window gives NaN, as np.max does).

    log2(width) passes of the whole array instead of ``width`` (a window of 2p is two
    windows of p), so the mask costs the same for a wide time tolerance as for a narrow one.
    """
    m, p = a, 1
    while 2 * p <= width:
        m = op(m[:-p], m[p:])  # m[i]: op over a[i : i + 2p]
        p *= 2
    n = a.size - width + 1
    return op(m[:n], m[width - p : width - p + n])  # two overlapping windows of p


def violations(current: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Distance outside the mask per sample (0 inside, NaN where untested)."""
    i = np.asarray(current, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        d = np.maximum(np.maximum(i - upper, lower - i), 0.0)
    return d


class MaskTester:
    """Tests the stream in the ring buffer as it arrives, counting failed periods."""

    def __init__(self, settings: MaskSettings | None = None) -> None:
        self.settings = settings or MaskSettings()
        self.amplitude_ua = 0.0
        self.frequency_hz = 0.0
        self.reset()

    def reset(self, ring: SampleRing | None = None) -> None:
        """Clear the count and the log; test only samples after the newest one now in
        ``ring`` (without a ring: after the newest one at the next update)."""
        self.fail_count = 0
        self.tested_periods = 0
        self.log: list[MaskLogEntry] = []
        self._tested_upto: int | None = None
        self._generation: int | None = None
        if ring is not None:
            self._tested_upto = -1 if ring.newest is None else ring.newest
            self._generation = ring.generation
        self._last_failed_period: int | None = None
        self._last_sync: int | None = None

    def configure(self, amplitude_ua: float, frequency_hz: float) -> None:
        self.amplitude_ua = float(amplitude_ua)
        self.frequency_hz = float(frequency_hz)

    @property
    def tolerance_ua(self) -> float:
        s = self.settings
        return s.tolerance_pct / 100.0 * abs(self.amplitude_ua) + s.floor_ua

    def half_window(self, sample_rate: float) -> int:
        if self.frequency_hz <= 0:
            return 1
        return max(
            1, int(round(self.settings.time_tolerance_fraction * sample_rate / self.frequency_hz))
        )

    def update(self, ring: SampleRing) -> MaskFailure | None:
        """Test samples that arrived since the last call; a MaskFailure if any failed."""
        if ring.newest is None or ring.sample_rate is None:
            return None
        k = self.half_window(ring.sample_rate)
        oldest = ring.oldest_kept if ring.oldest_kept is not None else ring.newest
        if self._generation is not None and ring.generation != self._generation:
            self._tested_upto = oldest - 1  # the ring was cleared: all of it is new
            self._last_sync = self._last_failed_period = None
        self._generation = ring.generation
        if self._tested_upto is None:  # first update after a reset: nothing old
            self._tested_upto = ring.newest
            return None
        first = max(self._tested_upto + 1, oldest)
        last = ring.newest - k  # samples further on need future neighbours
        if last < first:
            return None
        w = ring.window(max(first - k, oldest), last + k + 1)
        off = first - w.start
        lower, upper = mask_bounds(w.reference_ua, self.tolerance_ua, k)
        d = violations(w.current_ua, lower, upper)[off : off + last - first + 1]
        idx = np.arange(first, last + 1, dtype=np.int64)
        sync = w.sync[off : off + last - first + 1]
        # period start (absolute index) of each tested sample
        marks = np.where(sync, idx, -1)
        period = np.maximum.accumulate(marks)
        if self._last_sync is not None:
            period = np.maximum(period, self._last_sync)
        if sync.any():
            self._last_sync = int(idx[sync][-1])
            self.tested_periods += int(np.count_nonzero(sync))
        self._tested_upto = last
        with np.errstate(invalid="ignore"):
            bad = d > 0
        if not bad.any():
            return None
        bad_periods = np.unique(period[bad])
        flags = w.flags[off : off + last - first + 1]
        # the log: the first violating sample of each failed period, its worst deviation
        # (a period already logged in an earlier update is not logged again)
        for p in bad_periods.tolist():
            if p == self._last_failed_period:
                continue
            in_p = bad & (period == p)
            at = int(np.flatnonzero(in_p)[0])
            self.log.append(
                MaskLogEntry(
                    time_s=float(idx[at] / ring.sample_rate),
                    index=int(idx[at]),
                    deviation_ua=float(np.nanmax(d[in_p])),
                    compliance=bool(np.any(flags[in_p] & SampleFlag.COMPLIANCE.value)),
                )
            )
        if len(self.log) > LOG_LIMIT:
            del self.log[: len(self.log) - LOG_LIMIT]
        if self._last_failed_period is not None:
            bad_periods = bad_periods[bad_periods != self._last_failed_period]
        new = int(bad_periods.size)
        if new == 0:
            return None
        self._last_failed_period = int(bad_periods[-1])
        self.fail_count += new
        first_bad = int(np.flatnonzero(bad)[0])
        return MaskFailure(
            time_s=float(idx[first_bad] / ring.sample_rate),
            failed_periods=new,
            fail_count=self.fail_count,
            worst_deviation_ua=float(np.nanmax(d[bad])),
            compliance=bool(np.any(flags[bad] & SampleFlag.COMPLIANCE.value)),
            index=int(idx[first_bad]),
        )
