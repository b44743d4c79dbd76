"""Scope measurements on synthetic signals with noise (definitions in docs/scope.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.device.waveform import OutputSettings, Polarity, Waveform, charge_per_phase_uc, unit_wave
from app.scope.core.capture import Capture
from app.scope.core.measure import (
    JSON_KEYS,
    MEASUREMENTS,
    Statistics,
    crossings,
    deviation_pct,
    json_ready,
    measure,
    measure_arrays,
)
from app.scope.core.synthetic import RCLoad, SyntheticSource

FS = 10_000.0
BIG = RCLoad(compliance_v=1e6)  # never clamps: current is exactly what was commanded


def true_values(s: OutputSettings, seconds: float) -> dict[str, float]:
    """Mean, RMS and charge per phase of the noiseless *sampled* waveform over the whole
    periods of the capture. At 10 kS/s a pulse edge is quantised to a sample, which
    shifts the duty of the sampled signal by up to one sample per period: that is the
    signal, not a measurement error."""
    per = FS / s.frequency_hz
    periods = int(seconds * FS / per)
    n = int(round(periods * per))
    w = s.amplitude_ua * unit_wave(s, np.arange(n) / FS)
    q_pos = np.sum(np.clip(w, 0, None)) / FS / periods
    q_neg = np.sum(np.clip(-w, 0, None)) / FS / periods
    return {
        "rms": float(np.sqrt(np.mean(w * w))),
        "mean": float(np.mean(w)),
        "charge": float(max(q_pos, q_neg)),
    }


def capture_of(s: OutputSettings, seconds: float, noise: float, seed: int = 1) -> Capture:
    src = SyntheticSource(s, FS, load=BIG, noise_ua=noise, noise_v=0.005, seed=seed)
    b = src.next_block(int(seconds * FS))
    return Capture(FS, 0, 0, b.current_ua, b.voltage_v)


waveforms = st.sampled_from([Waveform.SQUARE, Waveform.SINE])
polarities = st.sampled_from([Polarity.BIPHASIC, Polarity.POSITIVE, Polarity.NEGATIVE])


@settings(max_examples=30, deadline=None)
@given(
    wf=waveforms,
    pol=polarities,
    freq=st.floats(2.0, 400.0),
    amp=st.floats(20.0, 900.0),
    seed=st.integers(0, 1000),
)
def test_frequency_rms_mean_and_charge_within_tolerance(wf, pol, freq, amp, seed):
    s = OutputSettings(wf, freq, amp, pol, 2.0, 0.0)
    seconds = max(1.0, 20.0 / freq)
    m = measure(capture_of(s, seconds, noise=0.01 * amp, seed=seed))
    truth = true_values(s, seconds)
    # the sampled truth is close to the waveform's definition
    assert truth["charge"] == pytest.approx(charge_per_phase_uc(s), rel=0.05)
    assert m["frequency_hz"] == pytest.approx(freq, rel=0.005)
    assert m["period_s"] == pytest.approx(1.0 / freq, rel=0.005)
    assert m["i_rms_ua"] == pytest.approx(truth["rms"], rel=0.01)
    assert m["i_mean_ua"] == pytest.approx(truth["mean"], abs=0.01 * amp)
    assert m["charge_per_phase_uc"] == pytest.approx(truth["charge"], rel=0.02)
    net = truth["mean"] / freq
    assert m["net_charge_uc"] == pytest.approx(net, abs=0.02 * truth["charge"])


@settings(max_examples=20, deadline=None)
@given(
    pol=polarities,
    freq=st.floats(2.0, 300.0),
    amp=st.floats(20.0, 900.0),
    seed=st.integers(0, 1000),
)
def test_square_amplitude_and_duty(pol, freq, amp, seed):
    s = OutputSettings(Waveform.SQUARE, freq, amp, pol, 2.0, 0.0)
    m = measure(capture_of(s, max(1.0, 20.0 / freq), noise=0.01 * amp, seed=seed))
    expected_amplitude = 2 * amp if pol == Polarity.BIPHASIC else amp
    assert m["i_amplitude_ua"] == pytest.approx(expected_amplitude, rel=0.01)
    if pol != Polarity.NEGATIVE:
        assert m["i_high_ua"] == pytest.approx(amp, rel=0.01)
    # an edge is quantised to one sample: the sampled duty may differ by that much
    assert m["duty"] == pytest.approx(0.5, abs=0.005 + freq / FS)
    assert m["pos_width_s"] + m["neg_width_s"] == pytest.approx(1 / freq, rel=0.005)


def test_peaks_and_peak_to_peak_of_a_clean_sine():
    s = OutputSettings(Waveform.SINE, 50.0, 200.0, Polarity.BIPHASIC, 2.0, 0.0)
    m = measure(capture_of(s, 1.0, noise=0.0))
    assert m["i_peak_pos_ua"] == pytest.approx(200.0, rel=0.01)
    assert m["i_peak_neg_ua"] == pytest.approx(-200.0, rel=0.01)
    assert m["i_pp_ua"] == pytest.approx(400.0, rel=0.01)


def test_impedance_of_a_resistive_load_and_voltage_pp():
    # a 5 kOhm resistor: Rs only, Rp tiny so the capacitor is shorted out
    load = RCLoad(rs_ohm=5_000.0, rp_ohm=1e-3, cp_f=1e-9, compliance_v=1e6)
    s = OutputSettings(Waveform.SQUARE, 20.0, 100.0, Polarity.BIPHASIC, 2.0, 0.0)
    b = SyntheticSource(s, FS, load=load).next_block(20_000)
    m = measure_arrays(b.current_ua, b.voltage_v, FS)
    assert m["impedance_ohm"] == pytest.approx(5_000.0, rel=0.01)
    assert m["v_pp_v"] == pytest.approx(2 * 100e-6 * 5_000, rel=0.01)


def test_no_current_means_no_impedance_and_no_frequency():
    z = np.zeros(5000, np.float32)
    m = measure_arrays(z, z + 1.0, FS)
    assert math.isnan(m["impedance_ohm"])
    assert math.isnan(m["frequency_hz"])
    assert m["i_rms_ua"] == 0.0


def test_all_missing_gives_nan_everywhere():
    nan = np.full(100, np.nan, np.float32)
    m = measure_arrays(nan, nan, FS)
    assert all(math.isnan(v) for v in m.values())
    assert set(m) == set(MEASUREMENTS)


def test_dropped_samples_do_not_bias_mean_or_rms():
    s = OutputSettings(Waveform.SQUARE, 10.0, 100.0, Polarity.POSITIVE, 2.0, 0.0)
    cap = capture_of(s, 2.0, noise=0.5)
    cur = cap.current_ua.copy()
    cur[5000:5200] = np.nan  # a gap of 20 ms
    m = measure_arrays(cur, cap.voltage_v, FS)
    assert m["frequency_hz"] == pytest.approx(10.0, rel=0.005)
    assert m["i_rms_ua"] == pytest.approx(100 / math.sqrt(2), rel=0.01)


def test_rise_time_10_to_90_percent_of_a_linear_edge():
    y = np.concatenate([np.zeros(100), np.linspace(0, 100, 101), np.full(100, 100.0)] * 3)
    m = measure_arrays(y, y, 1000.0)
    assert m["rise_time_s"] == pytest.approx(0.080, rel=0.02)  # 80 samples of 1 ms


def test_crossings_interpolate_between_samples():
    y = np.array([-1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 3.0])
    rise, fall = crossings(y, 0.0, 0.1)
    assert rise.tolist() == [1.5, 5.25]
    assert fall.tolist() == [3.5]


def test_deviation_from_commanded():
    ref = np.tile(np.r_[np.full(50, 100.0), np.full(50, -100.0)], 10)
    assert deviation_pct(0.9 * ref, ref) == pytest.approx(-10.0)
    assert deviation_pct(ref, ref) == pytest.approx(0.0)
    assert math.isnan(deviation_pct(ref, np.zeros_like(ref)))
    assert math.isnan(deviation_pct(ref, np.full_like(ref, np.nan)))


def test_json_ready_has_exactly_the_documented_keys_with_null_for_nan():
    out = json_ready({"frequency_hz": 10.0, "duty": float("nan")})
    assert list(out) == list(JSON_KEYS)
    assert out["frequency_hz"] == 10.0
    assert out["duty"] is None
    assert out["v_pp_v"] is None


def test_statistics_min_mean_max_skip_nan():
    st_ = Statistics()
    for x in (1.0, float("nan"), 3.0, 2.0):
        st_.add({"i_rms_ua": x})
    assert st_.summary("i_rms_ua") == (1.0, 2.0, 3.0, 3)
    assert st_.captures == 4
    lo, mean, hi, n = st_.summary("duty")
    assert n == 0
    assert math.isnan(mean)


def test_alternating_polarity_window_spanning_the_sign_change():
    s = OutputSettings(Waveform.SQUARE, 8.0, 200.0, Polarity.ALTERNATING, 2.0, 0.0)
    b = SyntheticSource(s, FS, load=BIG, noise_ua=2.0).next_block(int(3.5 * FS))
    cap = Capture(FS, 0, 0, b.current_ua[5000:], b.voltage_v[5000:])  # 0.5..3.5 s
    m = measure(cap)
    assert m["frequency_hz"] == pytest.approx(8.0, rel=0.005)
    assert m["duty"] == pytest.approx(0.5, abs=0.01)
    assert m["charge_per_phase_uc"] == pytest.approx(200.0 / 16.0, rel=0.02)


def test_idle_noise_has_no_frequency_but_a_small_output_does():
    """An idle capture (output off: ADC noise only) must not report the noise's "frequency"
    or a duty cycle; a 10 µA square in the same noise is still timed."""
    from app.scope.core.measure import measure_arrays

    rng = np.random.default_rng(5)
    fs = 10_000.0
    t = np.arange(20_000) / fs
    noise = rng.normal(0.0, 0.4, t.size)
    idle = measure_arrays(noise, noise * 0.02, fs)
    for key in ("frequency_hz", "period_s", "duty", "rise_time_s"):
        assert np.isnan(idle[key]), key
    assert idle["i_pp_ua"] > 0  # peak values are still reported
    square = np.where((t * 40.0) % 1.0 < 0.5, 10.0, 0.0) + noise
    m = measure_arrays(square, square * 0.02, fs)
    assert m["frequency_hz"] == pytest.approx(40.0, rel=0.005)
