"""Scope core: ring buffer, reference trace, envelope, trigger and sweep acquirer (no Qt)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.device.protocol import SampleFlag
from app.device.samples import SampleBlock
from app.device.waveform import OutputSettings, Polarity, Waveform, unit_wave
from app.scope.core.buffer import SampleRing
from app.scope.core.envelope import envelopes, minmax_envelope
from app.scope.core.synthetic import RCLoad, SyntheticSource
from app.scope.core.trigger import (
    Edge,
    SweepAcquirer,
    TriggerMode,
    TriggerSettings,
    TriggerSource,
    edge_crossings,
    trigger_positions,
)

FS = 10_000.0
SQUARE = OutputSettings(Waveform.SQUARE, 50.0, 100.0, Polarity.BIPHASIC, 2.0, 0.0)


def block(first: int, values, fs: float = FS, sync=None, flags=None) -> SampleBlock:
    v = np.asarray(values, dtype=np.float32)
    n = v.size
    return SampleBlock(
        first,
        fs,
        v,
        v / 10,
        np.full(n, 100, np.float32),
        np.full(n, SampleFlag.OUTPUT_ON, np.uint8) if flags is None else flags,
        np.zeros(n, bool) if sync is None else np.asarray(sync, bool),
    )


# ---------------------------------------------------------------- ring buffer
def test_ring_window_returns_samples_in_order_and_nan_for_dropped():
    ring = SampleRing(64)
    ring.append(block(0, np.arange(10)))
    ring.append(block(15, np.arange(15, 20)))  # samples 10..14 were lost
    w = ring.window(0, 20)
    assert w.current_ua[:10].tolist() == list(range(10))
    assert np.isnan(w.current_ua[10:15]).all()
    assert not w.valid[10:15].any()
    assert w.current_ua[15:].tolist() == list(range(15, 20))
    assert ring.dropped == 5


def test_ring_wraps_and_forgets_overwritten_samples():
    ring = SampleRing(32)
    for k in range(0, 100, 10):
        ring.append(block(k, np.arange(k, k + 10)))
    w = ring.latest(32)
    assert w.current_ua.tolist() == list(range(68, 100))
    old = ring.window(0, 10)  # long overwritten: missing, not stale
    assert np.isnan(old.current_ua).all()


def test_ring_window_is_a_copy():
    ring = SampleRing(32)
    ring.append(block(0, np.ones(8)))
    w = ring.window(0, 8)
    w.current_ua[:] = 5
    assert ring.window(0, 8).current_ua.tolist() == [1.0] * 8


def test_ring_clears_on_sample_rate_change_or_counter_reset():
    ring = SampleRing(32)
    ring.append(block(100, np.ones(8)))
    ring.append(block(0, np.full(4, 2.0)))  # device restarted its counter
    assert ring.newest == 3
    assert ring.total_received == 4
    ring.append(block(4, np.full(4, 3.0), fs=5000.0))
    assert ring.sample_rate == 5000.0
    assert ring.newest == 7
    assert ring.total_received == 4


def test_ring_rejects_bad_capacity_and_rate():
    with pytest.raises(ValueError, match="capacity"):
        SampleRing(4)
    with pytest.raises(ValueError, match="sample rate"):
        SampleRing(32).append(block(0, np.ones(3), fs=0.0))


def test_reference_follows_commanded_waveform_phased_by_sync():
    s = OutputSettings(Waveform.SINE, 25.0, 80.0, Polarity.BIPHASIC, 2.0, 0.3)
    src = SyntheticSource(s, FS)
    ring = SampleRing(1 << 14)
    ring.reference.set_settings(s)
    for b in src.blocks(8000, 173):
        ring.append(b)
    w = ring.window(0, 8000)
    t = np.arange(8000) / FS
    level = 80.0 * np.clip(t / 0.3, 0, 1)
    np.testing.assert_allclose(w.reference_ua, level * unit_wave(s, t), atol=1e-3)


def test_reference_unknown_before_first_sync_and_alternating_sign_from_flag():
    s = OutputSettings(Waveform.SQUARE, 10.0, 50.0, Polarity.ALTERNATING, 0.2, 0.0)
    ring = SampleRing(4096)
    ring.reference.set_settings(s)
    n = 3000
    sync = np.zeros(n, bool)
    sync[500::1000] = True  # the stream joined mid-period: phase known from 500 on
    flags = np.full(n, SampleFlag.OUTPUT_ON, np.uint8)
    flags[1500:2500] |= np.uint8(SampleFlag.SIGN_NEGATIVE)
    # joined a running output (the first sample is not index 0 and already OUTPUT_ON):
    # the output start is unknown, so the sign comes from the per-frame flag
    b = SampleBlock(
        10_000,
        FS,
        np.zeros(n, np.float32),
        np.zeros(n, np.float32),
        np.full(n, 50, np.float32),
        flags,
        sync,
    )
    ring.append(b)
    ref = ring.window(10_000, 10_000 + n).reference_ua
    assert np.isnan(ref[:500]).all()
    assert ref[600] == pytest.approx(50.0)  # first half of a period, positive
    assert ref[1200] == pytest.approx(0.0)  # second half: rest
    assert ref[1600] == pytest.approx(-50.0)  # SIGN_NEGATIVE flag flips the pulse


# ---------------------------------------------------------------- envelope
def test_envelope_keeps_a_one_sample_spike_that_subsampling_loses():
    n = 50_000
    y = np.sin(np.arange(n) * 2 * np.pi / 500).astype(np.float32)
    y[31_337] = 9.0
    x, env = minmax_envelope(y, 0.0, 1e-4, 0.0, n * 1e-4, 700)
    assert env.size == 1400
    assert np.nanmax(env) == pytest.approx(9.0)
    col = int(31_337 * 1e-4 / (n * 1e-4) * 700)
    assert env[2 * col + 1] == pytest.approx(9.0)
    assert x[2 * col] <= 31_337e-4 + 1e-4 * n / 700
    step = n // 1400
    assert y[::step].max() < 2.0  # plain subsampling would not show it


@settings(max_examples=40, deadline=None)
@given(n=st.integers(50, 20_000), cols=st.integers(1, 900), seed=st.integers(0, 10_000))
def test_envelope_bounds_every_sample(n, cols, seed):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n)
    x, env = minmax_envelope(y, 0.0, 1.0, 0.0, float(n - 1), cols)
    assert np.nanmax(env) == pytest.approx(y.max())
    assert np.nanmin(env) == pytest.approx(y.min())
    assert np.all(np.diff(x) >= 0)


def test_envelope_shows_gaps_and_raw_samples_when_zoomed_in():
    y = np.arange(100, dtype=np.float64)
    y[40:60] = np.nan
    x, (env,) = envelopes([y], 0.0, 1.0, 0.0, 99.0, 10)
    assert np.isnan(env[8:12]).all()  # columns 4 and 5: nothing arrived
    assert np.isfinite(env[:8]).all()
    assert np.isfinite(env[12:]).all()
    x, (raw,) = envelopes([y], 0.0, 1.0, 0.0, 99.0, 500)
    assert raw.size == 100
    assert np.isnan(raw[40:60]).all()
    np.testing.assert_array_equal(x, np.arange(100.0))


def test_envelope_rejects_empty_range():
    with pytest.raises(ValueError):
        minmax_envelope(np.ones(10), 0.0, 1.0, 5.0, 5.0, 10)


# ---------------------------------------------------------------- trigger
def test_edge_crossings_fire_once_per_noisy_edge():
    rng = np.random.default_rng(3)
    t = np.arange(20_000) / FS
    y = 100 * np.sign(np.sin(2 * np.pi * 10 * t)) + rng.normal(0, 8, t.size)
    rising = edge_crossings(y, 0.0, 30.0, Edge.RISING)
    falling = edge_crossings(y, 0.0, 30.0, Edge.FALLING)
    assert rising.size == 19
    assert falling.size == 20
    assert np.all(np.abs(np.diff(rising) - 1000) <= 2)
    assert np.all(y[rising] >= 0)
    assert np.all(y[falling] <= 0)
    without = edge_crossings(y, 0.0, 0.0, Edge.RISING)
    assert without.size >= rising.size  # no hysteresis: noise may fire more


def test_edge_crossings_ignore_dropped_samples():
    y = np.array([0, 0, np.nan, 10, 10, 0, 0, 10], dtype=float)
    assert edge_crossings(y, 5.0, 1.0, Edge.RISING).tolist() == [3, 7]


def fed_acquirer(
    source: SyntheticSource, samples: int, trig: TriggerSettings, window: int = 1000
) -> tuple[SampleRing, SweepAcquirer]:
    ring = SampleRing(1 << 16)
    acq = SweepAcquirer(ring)
    acq.configure(trig, window)
    for b in source.blocks(samples, 167):
        ring.append(b)
    return ring, acq


def test_sync_trigger_places_period_start_at_pre_trigger_point():
    src = SyntheticSource(SQUARE, FS)
    ring, acq = fed_acquirer(src, 10_000, TriggerSettings(pre_fraction=0.25))
    cap = acq.poll(now=0.0)
    assert cap is not None
    assert cap.triggered
    assert cap.trigger_offset == 250
    trig_abs = cap.start_index + cap.trigger_offset
    assert trig_abs % 200 == 0  # 50 Hz at 10 kS/s: a period starts every 200 samples
    assert cap.times()[250] == 0.0
    assert cap.current_ua[249] < 0 < cap.current_ua[250]


@pytest.mark.parametrize("edge", [Edge.RISING, Edge.FALLING])
def test_edge_trigger_on_current_level(edge):
    s = OutputSettings(Waveform.SINE, 20.0, 100.0, Polarity.BIPHASIC, 2.0, 0.0)
    src = SyntheticSource(s, FS, noise_ua=2.0)
    trig = TriggerSettings(
        source=TriggerSource.CURRENT, edge=edge, level=50.0, hysteresis=10.0, pre_fraction=0.5
    )
    _ring, acq = fed_acquirer(src, 20_000, trig, window=400)
    cap = acq.poll(now=0.0)
    assert cap is not None
    assert cap.triggered
    k = cap.trigger_offset
    before, after = cap.current_ua[k - 3 : k].mean(), cap.current_ua[k : k + 3].mean()
    if edge == Edge.RISING:
        assert cap.current_ua[k] >= 50.0
        assert before < after
    else:
        assert cap.current_ua[k] <= 50.0
        assert before > after


@pytest.mark.parametrize("source", [TriggerSource.SYNC, TriggerSource.CURRENT])
def test_the_trigger_search_reads_only_new_samples_and_finds_every_trigger(source):
    s = OutputSettings(Waveform.SINE, 20.0, 100.0, Polarity.BIPHASIC, 2.0, 0.0)
    src = SyntheticSource(s, FS, noise_ua=8.0)
    trig = TriggerSettings(
        mode=TriggerMode.NORMAL, source=source, level=20.0, hysteresis=30.0, pre_fraction=0.5
    )
    ring = SampleRing(1 << 16)
    acq = SweepAcquirer(ring)
    acq.configure(trig, window=400)
    found: list[int] = []
    blocks = list(src.blocks(20_000, 160))
    for b in blocks:  # one poll a block, as the scope does once a frame
        ring.append(b)
        cap = acq.poll(now=0.0)
        if cap is not None:
            found.append(cap.start_index + cap.trigger_offset)
    searched_upto = acq._search_from
    first = blocks[0].first_index + acq.pre  # the first trigger with its pre-trigger part
    # the samples read: each new one once, plus context (≤ the window) only the first time
    assert acq.searched <= searched_upto - first + (400 if source != TriggerSource.SYNC else 0)
    # the same triggers as one search over the whole stream (the newest of each poll)
    cur = np.concatenate([b.current_ua for b in blocks])
    sync = np.concatenate([b.sync for b in blocks])
    everything = trigger_positions(sync, cur, cur, trig)
    everything = everything[(everything >= first) & (everything < searched_upto)]
    assert found
    assert set(found) <= set(everything.tolist())
    # an edge between two polls is found once: a trigger per period of 20 Hz
    assert len(found) >= (searched_upto - first) / (FS / 20) - 2


def test_normal_mode_waits_and_auto_mode_free_runs_without_trigger():
    flat = OutputSettings(Waveform.SQUARE, 20.0, 0.0, Polarity.BIPHASIC, 2.0, 0.0)
    trig = TriggerSettings(mode=TriggerMode.NORMAL, source=TriggerSource.CURRENT, level=50.0)
    src = SyntheticSource(flat, FS, noise_ua=1.0)
    _ring, acq = fed_acquirer(src, 5000, trig)
    assert acq.poll(now=100.0) is None  # Normal: nothing without a trigger, ever
    assert acq.poll(now=1000.0) is None
    acq.configure(
        TriggerSettings(mode=TriggerMode.AUTO, source=TriggerSource.CURRENT, level=50.0), 1000
    )
    t0 = acq._last_capture_clock
    assert acq.poll(now=t0 + 0.01) is None  # before the auto timeout
    cap = acq.poll(now=t0 + 5.0)
    assert cap is not None
    assert not cap.triggered
    assert len(cap) == 1000


def test_single_mode_captures_once_until_rearmed():
    src = SyntheticSource(SQUARE, FS)
    trig = TriggerSettings(mode=TriggerMode.SINGLE)
    ring, acq = fed_acquirer(src, 5000, trig)
    first = acq.poll(now=0.0)
    assert first is not None
    assert first.triggered
    assert not acq.armed
    for b in src.blocks(5000, 167):
        ring.append(b)
    assert acq.poll(now=10.0) is None
    acq.arm()
    assert acq.poll(now=11.0) is None  # no new data since arming
    for b in src.blocks(3000, 167):
        ring.append(b)
    again = acq.poll(now=12.0)
    assert again is not None
    assert again.start_index > first.start_index + 5000


def test_auto_mode_prefers_the_newest_trigger():
    src = SyntheticSource(SQUARE, FS)
    ring, acq = fed_acquirer(src, 10_000, TriggerSettings())
    cap = acq.poll(now=0.0)
    assert cap.start_index + len(cap) > 10_000 - 200 - len(cap)
    assert acq.poll(now=0.0) is None  # nothing new since


def test_trigger_settings_validate():
    with pytest.raises(ValueError, match="pre-trigger"):
        TriggerSettings(pre_fraction=1.5)
    with pytest.raises(ValueError, match="capture window"):
        SweepAcquirer(SampleRing(64)).configure(window=1)


def test_synthetic_source_flags_compliance():
    s = OutputSettings(Waveform.SQUARE, 2.0, 500.0, Polarity.POSITIVE, 2.0, 0.0)
    src = SyntheticSource(s, FS, load=RCLoad(compliance_v=3.0))
    b = src.next_block(5000)
    assert np.any(b.flags & SampleFlag.COMPLIANCE)
    assert np.max(np.abs(b.voltage_v)) <= 3.0 + 1e-6
