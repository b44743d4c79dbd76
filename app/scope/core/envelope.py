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


def minmax_envelope(
    y: np.ndarray, t0: float, dt: float, t_lo: float, t_hi: float, columns: int
) -> tuple[np.ndarray, np.ndarray]:
    x, ys = envelopes([y], t0, dt, t_lo, t_hi, columns)
    return x, ys[0]


def envelopes(
    arrays: list[np.ndarray], t0: float, dt: float, t_lo: float, t_hi: float, columns: int
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Points ``(x, y)`` that draw each of ``arrays`` (equal length, sampled at
    ``t0 + k*dt``) over ``[t_lo, t_hi]``; the x points are shared.

    With at most two samples per column the samples themselves are returned (NaN kept
    for gaps); otherwise two points per column, its minimum then its maximum, at the
    column centre.
    """
    if columns < 1:
        raise ValueError(f"columns must be >= 1, got {columns}")
    if not t_hi > t_lo or dt <= 0:
        raise ValueError("empty time range or non-positive sample interval")
    n_all = len(arrays[0])
    sl = visible_slice(n_all, t0, dt, t_lo, t_hi)
    n = sl.stop - sl.start
    if n <= 0:
        return np.zeros(0), [np.zeros(0) for _ in arrays]
    xs_first = t0 + sl.start * dt
    if n <= 2 * columns:
        x = xs_first + np.arange(n, dtype=np.float64) * dt
        return x, [np.asarray(a[sl], dtype=np.float64) for a in arrays]
    span = t_hi - t_lo
    # column of each sample, computed once for all arrays: the first sample of column c
    # is the first k with xs_first + k*dt >= t_lo + c*span/columns
    edges = t_lo + np.arange(columns) * (span / columns)
    starts = np.clip(np.ceil((edges - xs_first) / dt - 1e-9), 0, n).astype(np.int64)
    present = np.append(starts[1:], n) > starts
    centres = edges + 0.5 * (span / columns)
    x = np.repeat(centres, 2)
    outs = []
    for a in arrays:
        # a NaN sentinel lets trailing empty columns index one past the last sample
        ext = np.empty(n + 1, dtype=np.float64)
        ext[:n] = a[sl]
        ext[n] = np.nan
        lo = np.fmin.reduceat(ext, starts)
        hi = np.fmax.reduceat(ext, starts)
        lo[~present] = np.nan
        hi[~present] = np.nan
        out = np.empty(2 * columns, dtype=np.float64)
        out[0::2] = lo
        out[1::2] = hi
        outs.append(out)
    return x, outs
