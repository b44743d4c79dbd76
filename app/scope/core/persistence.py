"""Persistence with intensity grading: a decaying 2-D histogram of recent sweeps. Pure numpy.

The screen is a grid of ``columns`` x ``rows`` cells over the plot's x range and its
vertical range (in divisions). Each drawn sweep adds one hit to every cell its trace
passes through: per column the span from the column's minimum to its maximum, joined to
the neighbouring columns so an edge is a vertical stroke, not two dots; a column between
two samples (samples sparser than columns) gets the line between them. Before a sweep
is added the whole image decays by ``0.5 ** (elapsed / half_life_s)``: a cell the trace
keeps visiting stays bright, a glitch seen once fades. The image is graded on a log
scale (:meth:`Persistence.graded`: 0 = never, 1 = the most visited cell), so a rare
excursion stays visible next to the steady trace.

Cost: one update per displayed sweep (once per paint, never per sample): a few
operations on the grid, about a millisecond for 1000 x 400 cells.
"""

from __future__ import annotations

import math

import numpy as np

HALF_LIVES_S = (0.5, 2.0, 10.0, math.inf)  # offered choices; inf = infinite persistence


class Persistence:
    """A decaying hit count per screen cell; see the module docstring."""

    def __init__(
        self,
        columns: int = 800,
        rows: int = 320,
        x_range: tuple[float, float] = (0.0, 1.0),
        y_range: tuple[float, float] = (-4.0, 4.0),
        half_life_s: float = 2.0,
    ) -> None:
        self.half_life_s = half_life_s
        self.columns = self.rows = 0
        self.x_range = self.y_range = (0.0, 1.0)
        self.image = np.zeros((0, 0), dtype=np.float32)
        self.sweeps = 0
        self._last_t: float | None = None
        self.configure(columns, rows, x_range, y_range)

    @property
    def half_life_s(self) -> float:
        return self._half_life

    @half_life_s.setter
    def half_life_s(self, value: float) -> None:
        value = float(value)
        if not value > 0:
            raise ValueError(f"persistence half-life must be positive, got {value:g} s")
        self._half_life = value

    def configure(
        self,
        columns: int,
        rows: int,
        x_range: tuple[float, float],
        y_range: tuple[float, float],
    ) -> bool:
        """Set the grid; clears the image if anything changed (returns True then)."""
        if columns < 1 or rows < 1:
            raise ValueError(f"persistence grid must be at least 1 x 1, got {columns} x {rows}")
        if not (x_range[1] > x_range[0] and y_range[1] > y_range[0]):
            raise ValueError("persistence ranges must be increasing")
        new = (int(columns), int(rows), tuple(map(float, x_range)), tuple(map(float, y_range)))
        if new == (self.columns, self.rows, self.x_range, self.y_range):
            return False
        self.columns, self.rows = new[0], new[1]
        self.x_range, self.y_range = new[2], new[3]  # type: ignore[assignment]
        self.clear()
        return True

    def clear(self) -> None:
        self.image = np.zeros((self.columns, self.rows), dtype=np.float32)
        self.sweeps = 0
        self._last_t = None

    def decay_factor(self, elapsed_s: float) -> float:
        if math.isinf(self._half_life) or elapsed_s <= 0:
            return 1.0
        return float(0.5 ** (elapsed_s / self._half_life))

    def add(self, x: np.ndarray, y: np.ndarray, now: float) -> None:
        """Add one sweep given as points (x in the x range's unit, y in the vertical
        range's unit; NaN = gap), after decaying the image by the time since the last."""
        if self._last_t is not None:
            f = self.decay_factor(now - self._last_t)
            if f < 1.0:
                self.image *= f
        self._last_t = now
        lo, hi = self._column_spans(np.asarray(x, dtype=np.float64), np.asarray(y, np.float64))
        ok = lo <= hi
        if not ok.any():
            return
        cols = np.flatnonzero(ok)
        diff = np.zeros((self.columns, self.rows + 1), dtype=np.float32)
        np.add.at(diff, (cols, lo[ok]), 1.0)
        np.add.at(diff, (cols, hi[ok] + 1), -1.0)
        self.image += np.cumsum(diff[:, :-1], axis=1)
        self.sweeps += 1

    def _column_spans(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per column the lowest and highest row the trace covers (lo > hi: none)."""
        c_n, r_n = self.columns, self.rows
        lo = np.full(c_n, np.inf)
        hi = np.full(c_n, -np.inf)
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.any():
            x0, x1 = self.x_range
            y0, y1 = self.y_range
            c = np.floor((x[ok] - x0) / (x1 - x0) * c_n).astype(np.int64)
            r = (y[ok] - y0) / (y1 - y0) * r_n
            inside = (c >= 0) & (c < c_n)
            c, r = c[inside], r[inside]
            np.minimum.at(lo, c, r)
            np.maximum.at(hi, c, r)
            # samples sparser than columns (a fast time base): the line between two
            # neighbouring samples crosses the columns between them, as the trace does
            xs, ys = x[ok], (y[ok] - y0) / (y1 - y0) * r_n
            if xs.size >= 2:
                centres = x0 + (np.arange(c_n) + 0.5) * (x1 - x0) / c_n
                j = np.searchsorted(x, centres)  # the sample after each column centre
                inner = (j > 0) & (j < x.size)
                jj = np.clip(j, 1, max(x.size - 1, 1))
                joined = inner & np.isfinite(y[jj - 1]) & np.isfinite(y[jj]) & ~np.isfinite(lo)
                if joined.any():
                    yi = np.interp(centres[joined], xs, ys)
                    lo[joined] = yi
                    hi[joined] = yi
            # join each column to its neighbour (a vertical stroke across an edge), only
            # between columns that both hold samples; gaps (dropped samples) stay gaps
            have = np.isfinite(lo)
            both = have[1:] & have[:-1]
            prev_lo, prev_hi = lo[:-1].copy(), hi[:-1].copy()
            cur_lo, cur_hi = lo[1:].copy(), hi[1:].copy()
            lo[1:] = np.where(both, np.minimum(cur_lo, prev_hi), cur_lo)
            hi[1:] = np.where(both, np.maximum(cur_hi, prev_lo), cur_hi)
        have = np.isfinite(lo)
        lo_i = np.full(c_n, 1, dtype=np.int64)
        hi_i = np.full(c_n, 0, dtype=np.int64)
        # a span wholly above or below the screen covers no cell
        vis = have & (hi >= 0) & (lo < r_n)
        lo_i[vis] = np.clip(np.floor(lo[vis]), 0, r_n - 1).astype(np.int64)
        hi_i[vis] = np.clip(np.floor(hi[vis]), 0, r_n - 1).astype(np.int64)
        return lo_i, hi_i

    def graded(self) -> np.ndarray:
        """The image on a log intensity scale, 0..1 (columns x rows, float32)."""
        peak = float(self.image.max()) if self.image.size else 0.0
        if peak <= 0:
            return np.zeros_like(self.image)
        return (np.log1p(self.image) / math.log1p(peak)).astype(np.float32)
