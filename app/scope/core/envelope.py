"""Min/max envelope per pixel column: what the screen can show, hiding nothing. Pure numpy.

Plain subsampling (every k-th sample) loses a one-sample spike; the envelope keeps the
minimum and the maximum of every pixel column, so the spike is drawn as a vertical
stroke in its column at any zoom. NaN samples (dropped on the link) are skipped; a
column with no valid sample is NaN, which the curve draws as a gap.
"""

from __future__ import annotations

import numpy as np


def visible_slice(n: int, t0: float, dt: float, t_lo: float, t_hi: float) -> slice:
    """Indices of samples ``t0 + k*dt`` inside ``[t_lo, t_hi]`` plus one either side."""
    lo = int(np.floor((t_lo - t0) / dt)) - 1
    hi = int(np.ceil((t_hi - t0) / dt)) + 2
    return slice(min(max(lo, 0), n), min(max(hi, 0), n))


def minmax_envelope(y: np.ndarray, t0: float, dt: float, t_lo: float, t_hi: float,
                    columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Points ``(x, y)`` that draw ``y`` (sampled at ``t0 + k*dt``) over ``[t_lo, t_hi]``.

    With at most two samples per column the samples themselves are returned (NaN kept
    for gaps); otherwise two points per column, its minimum then its maximum, at the
    column centre.
    """
    if columns < 1:
        raise ValueError(f"columns must be >= 1, got {columns}")
    if not t_hi > t_lo or dt <= 0:
        raise ValueError("empty time range or non-positive sample interval")
    sl = visible_slice(len(y), t0, dt, t_lo, t_hi)
    ys = np.asarray(y[sl])
    n = ys.shape[0]
    if n == 0:
        return np.zeros(0), np.zeros(0)
    xs_first = t0 + sl.start * dt
    if n <= 2 * columns:
        x = xs_first + np.arange(n, dtype=np.float64) * dt
        return x, ys.astype(np.float64)
    span = t_hi - t_lo
    t = xs_first + np.arange(n, dtype=np.float64) * dt
    col = np.floor((t - t_lo) * (columns / span)).astype(np.int64)
    np.clip(col, 0, columns - 1, out=col)
    starts = np.searchsorted(col, np.arange(columns), side="left")
    present = np.zeros(columns, dtype=bool)
    present[col] = True
    # a NaN sentinel lets trailing empty columns index one past the last sample
    ext = np.append(ys.astype(np.float64, copy=False), np.nan)
    lo = np.fmin.reduceat(ext, starts)
    hi = np.fmax.reduceat(ext, starts)
    lo[~present] = np.nan
    hi[~present] = np.nan
    centres = t_lo + (np.arange(columns) + 0.5) * (span / columns)
    x = np.repeat(centres, 2)
    out = np.empty(2 * columns, dtype=np.float64)
    out[0::2] = lo
    out[1::2] = hi
    return x, out
