"""The vectorised rise-time search equals the plain sample-by-sample walk it replaced."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from app.scope.core.measure import _edges, _interp_cross, _rise_time, levels


def _reference(i, lv, rise, dt):
    """The original walk: back to <= 10 %, forward to >= 90 %, stopping at gaps."""
    if lv is None or lv.span <= 0 or rise.size == 0:
        return None
    lo, hi = lv.base + 0.1 * lv.span, lv.base + 0.9 * lv.span
    times, n = [], i.size
    for c in (int(r) for r in rise):
        j0 = c
        while j0 > 0 and np.isfinite(i[j0]) and i[j0] > lo:
            j0 -= 1
        j1 = c + 1
        while j1 < n - 1 and np.isfinite(i[j1]) and i[j1] < hi:
            j1 += 1
        if not (np.isfinite(i[j0]) and np.isfinite(i[j1])) or i[j0] > lo or i[j1] < hi:
            continue
        t_lo, t_hi = _interp_cross(i, j0, lo), _interp_cross(i, j1 - 1, hi)
        if t_lo is not None and t_hi is not None and t_hi >= t_lo:
            times.append((t_hi - t_lo) * dt)
    return float(np.mean(times)) if times else None


signals = st.one_of(
    arrays(
        np.float64, st.integers(2, 300), elements=st.one_of(st.floats(-200, 200), st.just(np.nan))
    ),
    st.builds(
        lambda n, half, noise, seed: (
            np.where((np.arange(n) // half) % 2 == 0, 100.0, 0.0)
            + np.random.default_rng(seed).normal(0, noise, n)
        ),
        st.integers(4, 600),
        st.integers(1, 50),
        st.floats(0, 20),
        st.integers(0, 99),
    ),
)


LOW, HIGH = [0.0] * 6, [100.0] * 6  # plateaus: no noise, every step is an edge


# Every edge of the two walks is an example of its own (each run tries them first), so
# 100 random signals on top suffice (400 before: 2 s of CPU for the same cases).
@settings(max_examples=100, deadline=None)
@given(signals)
@example(np.full(5, np.nan))  # no levels at all
@example(np.full(10, 5.0))  # a flat signal: no span
@example(np.array(LOW + HIGH + LOW + [0.0, 100.0]))  # the last rise at the end: no walk on
@example(np.array(LOW + [10.0, 90.0] + HIGH + LOW + [10.0, 90.0] + HIGH))  # at 10 %, 90 %
@example(np.array([30.0, 30.0] + HIGH + LOW + HIGH))  # the walk back reaches index 0
@example(np.array(LOW + HIGH + LOW + [0.0, 50.0, 60.0]))  # the walk on reaches the end
@example(np.array(LOW + [50.0, np.nan] + HIGH + LOW + [50.0] + HIGH))  # a gap in the rise
@example(np.array(LOW + [np.nan, 50.0] + HIGH + LOW + HIGH))  # a gap just before it
def test_same_rise_time_as_the_sample_walk(i):
    lv = levels(i)
    _y, _lv, rise, _fall = _edges(i, lv)
    got, want = _rise_time(i, lv, rise, 1e-4), _reference(i, lv, rise, 1e-4)
    assert (got is None) == (want is None)
    if got is not None:
        assert abs(got - want) < 1e-12
