"""When the studio sends a change while the output runs: at a chosen phase of a period."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.device.waveform import Polarity
from app.teaching.apply_timing import (
    LATENCY_S,
    MAX_DELAY_S,
    MIN_PERIOD_S,
    apply_delay_s,
    target_phase,
)

FS = 10_000.0


@settings(max_examples=200, deadline=None)
@given(
    freq=st.floats(0.6, 1000 / 8 / 5),  # periods from 40 ms up
    newest=st.integers(10_000, 1_000_000),
    age=st.floats(0.0, 0.05),
    offset=st.floats(0.0, 0.999),
    pol=st.sampled_from(list(Polarity)),
)
def test_the_change_arrives_at_the_target_phase_within_one_period(freq, newest, age, offset, pol):
    per = FS / freq
    last = newest - int(offset * per)  # the latest period start at or before the newest
    marks = np.array([last - 2 * per, last - per, last]).round().astype(np.int64)
    delay = apply_delay_s(marks, newest, age, FS, freq, pol)
    if per / FS < MIN_PERIOD_S:
        assert delay is None
        return
    if delay is None:
        assert per / FS > MAX_DELAY_S * 0.5
        return
    assert 0.0 <= delay <= per / FS + 1e-9
    arrival = newest + (age + delay + LATENCY_S) * FS  # device sample at arrival
    phase = ((arrival - marks[-1]) / np.median(np.diff(marks))) % 1.0
    assert phase == pytest.approx(target_phase(pol), abs=1e-6)


def test_monophasic_lands_in_the_rest_and_biphasic_after_a_period_start():
    marks = np.array([0, 1000, 2000])  # 10 Hz at 10 kS/s
    # newest sample 2100, just in: arrival now would be 2180 (x = 0.18, inside the pulse)
    d = apply_delay_s(marks, 2100, 0.0, FS, 10.0, Polarity.POSITIVE)
    assert d == pytest.approx((2750 - 2180) / FS)
    d = apply_delay_s(marks, 2100, 0.0, FS, 10.0, Polarity.BIPHASIC)
    assert d == pytest.approx((3050 - 2180) / FS)


def test_no_wait_without_period_starts_for_fast_or_very_slow_waves():
    assert (
        apply_delay_s(np.array([], dtype=np.int64), 100, 0.0, FS, 10.0, Polarity.POSITIVE) is None
    )
    fast = np.arange(0, 10_000, 50)  # 200 Hz: 5 ms periods
    assert apply_delay_s(fast, 10_000, 0.0, FS, 200.0, Polarity.POSITIVE) is None
    slow = np.array([0, 100_000])  # 0.1 Hz: the target can be 10 s away
    assert apply_delay_s(slow, 150_000, 0.0, FS, 0.1, Polarity.POSITIVE) is None
