"""Averaging over the last N triggered sweeps. Pure numpy.

Sweeps are aligned on their trigger sample (the acquirer cuts every capture of one
setting with the trigger at the same offset), so sample k of the average is the mean of
sample k of the last N sweeps: noise uncorrelated with the trigger falls as 1/sqrt(N),
the triggered waveform stays. A sample that was dropped on the link (NaN) is left out of
that position's mean only; a position with no valid sample in any sweep stays NaN.

Free-running (untriggered) sweeps are not aligned and are never averaged. Any change of
the sweep's shape (window length, trigger position, sample rate) starts the average
over; the widget also resets it on every setting change.

Memory: the last N sweeps are kept (the oldest is taken out of the running sums when a
new one comes). N is capped so the kept sweeps stay within :data:`MEMORY_SAMPLES`; the
cap is reported by :attr:`SweepAverager.effective_count`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace

import numpy as np

from app.scope.core.capture import Capture

COUNTS = (1, 2, 4, 8, 16, 32, 64)  # the choices offered; 1 = off
MEMORY_SAMPLES = 16_000_000  # sweeps kept x samples per sweep (x 2 channels x 4 bytes)


class SweepAverager:
    """Mean of the last :attr:`count` triggered sweeps, sample by sample."""

    def __init__(self, count: int = 1) -> None:
        self._count = 1
        self._kept: deque[tuple[np.ndarray, np.ndarray]] = deque()
        self._sum_i = self._sum_v = np.zeros(0)
        self._n_i = self._n_v = np.zeros(0, dtype=np.int32)
        self._shape: tuple[int, int, float] | None = None
        self.count = count

    @property
    def count(self) -> int:
        return self._count

    @count.setter
    def count(self, n: int) -> None:
        n = int(n)
        if not 1 <= n <= COUNTS[-1]:
            raise ValueError(f"average over 1..{COUNTS[-1]} sweeps, got {n}")
        self._count = n
        self.reset()

    @property
    def enabled(self) -> bool:
        return self._count > 1

    @property
    def sweeps(self) -> int:
        """How many sweeps the current average holds."""
        return len(self._kept)

    def effective_count(self, samples: int) -> int:
        """The number of sweeps kept for sweeps of ``samples`` samples (memory cap)."""
        return max(1, min(self._count, MEMORY_SAMPLES // max(samples, 1)))

    def reset(self) -> None:
        """Forget every sweep (the next one starts a new average)."""
        self._kept.clear()
        self._sum_i = self._sum_v = np.zeros(0)
        self._n_i = self._n_v = np.zeros(0, dtype=np.int32)
        self._shape = None

    def add(self, cap: Capture) -> Capture:
        """Add a sweep; return the average of the last N (with ``metadata['averaged']``
        = sweeps in it). Off, or for a free-running sweep, the sweep itself."""
        if not self.enabled or not cap.triggered:
            return cap
        shape = (len(cap), cap.trigger_offset, float(cap.sample_rate))
        if shape != self._shape:
            self.reset()
            self._shape = shape
            n = len(cap)
            self._sum_i = np.zeros(n)
            self._sum_v = np.zeros(n)
            self._n_i = np.zeros(n, dtype=np.int32)
            self._n_v = np.zeros(n, dtype=np.int32)
        i = np.asarray(cap.current_ua, dtype=np.float32).copy()
        v = np.asarray(cap.voltage_v, dtype=np.float32).copy()
        self._accumulate(i, v, +1)
        self._kept.append((i, v))
        while len(self._kept) > self.effective_count(len(cap)):
            old_i, old_v = self._kept.popleft()
            self._accumulate(old_i, old_v, -1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_i = np.where(self._n_i > 0, self._sum_i / self._n_i, np.nan)
            mean_v = np.where(self._n_v > 0, self._sum_v / self._n_v, np.nan)
        meta = dict(cap.metadata)
        meta["averaged"] = str(len(self._kept))
        return replace(
            cap,
            current_ua=mean_i.astype(np.float32),
            voltage_v=mean_v.astype(np.float32),
            metadata=meta,
        )

    def _accumulate(self, i: np.ndarray, v: np.ndarray, sign: int) -> None:
        ok_i, ok_v = np.isfinite(i), np.isfinite(v)
        self._sum_i += sign * np.where(ok_i, i, 0.0)
        self._sum_v += sign * np.where(ok_v, v, 0.0)
        self._n_i += sign * ok_i
        self._n_v += sign * ok_v
        if sign < 0:  # no drift: a position with no sweep left holds exactly nothing
            self._sum_i[self._n_i == 0] = 0.0
            self._sum_v[self._n_v == 0] = 0.0
