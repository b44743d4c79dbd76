"""Studio annotations: numbers equal the scope's measurements; marks sit where they should."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.device.waveform import OutputSettings, Polarity, Waveform, charge_per_phase_uc
from app.scope.core.measure import measure_arrays
from app.scope.core.synthetic import SyntheticSource
from app.teaching.annotations import annotate

FS = 5000.0


def capture(
    s: OutputSettings, seconds: float, *, lead_s: float = 0.0, noise: float = 0.3, seed: int = 1
):
    """Synthetic delivered current; ``lead_s`` seconds of zero output before the start."""
    src = SyntheticSource(s, sample_rate=FS, noise_ua=noise, seed=seed)
    b = src.next_block(int(seconds * FS))
    pad = np.zeros(int(lead_s * FS), dtype=np.float32)
    return (-lead_s, np.concatenate([pad, b.current_ua]), np.concatenate([pad, b.voltage_v]))


STEADY = [
    OutputSettings(Waveform.SQUARE, 10.0, 100.0, Polarity.POSITIVE, 2.0, 0.0),
    OutputSettings(Waveform.SQUARE, 40.0, 250.0, Polarity.BIPHASIC, 2.0, 0.0),
    OutputSettings(Waveform.SINE, 10.0, 80.0, Polarity.BIPHASIC, 2.0, 0.0),
    OutputSettings(Waveform.SINE, 25.0, 150.0, Polarity.NEGATIVE, 2.0, 0.0),
]


@pytest.mark.parametrize("s", STEADY, ids=lambda s: f"{s.waveform.name}-{s.polarity.name}")
def test_numbers_are_the_scope_measurements(s):
    t0, i, v = capture(s, 0.5)
    a = annotate(t0, FS, i, v, s)
    m = measure_arrays(i, v, FS)
    for key, got in (
        ("period_s", a.period_s),
        ("frequency_hz", a.frequency_hz),
        ("charge_per_phase_uc", a.charge_per_phase_uc),
        ("net_charge_uc", a.net_charge_uc),
    ):
        assert got == pytest.approx(m[key], rel=1e-12), key
    assert a.amplitude_ua == pytest.approx(max(m["i_peak_pos_ua"], -m["i_peak_neg_ua"]))
    # and the measurements are what was commanded
    assert a.period_s == pytest.approx(1.0 / s.frequency_hz, rel=2e-3)
    assert a.amplitude_ua == pytest.approx(s.amplitude_ua, abs=2.0)
    assert a.charge_per_phase_uc == pytest.approx(charge_per_phase_uc(s), rel=0.02)
    expected_net = (
        0.0
        if s.polarity == Polarity.BIPHASIC
        else (charge_per_phase_uc(s) * (1 if s.polarity == Polarity.POSITIVE else -1))
    )
    assert a.net_charge_uc == pytest.approx(expected_net, abs=0.02 * charge_per_phase_uc(s))
    assert a.flips == ()
    assert a.ramp is None  # output was already on when the capture started


def test_period_arrow_spans_one_period():
    s = STEADY[0]
    t0, i, v = capture(s, 0.5)
    a = annotate(t0, FS, i, v, s)
    assert a.period_span is not None
    start, end = a.period_span
    assert end - start == pytest.approx(0.1, abs=2 / FS)
    assert 0.0 <= start < 0.5


def test_shaded_phases_hold_the_charge_per_phase():
    s = STEADY[1]  # square biphasic: both signs
    t0, i, v = capture(s, 0.5)
    a = annotate(t0, FS, i, v, s)
    q = charge_per_phase_uc(s)
    assert a.positive_phase is not None
    assert a.negative_phase is not None
    assert a.positive_phase_uc == pytest.approx(q, rel=0.02)
    assert a.negative_phase_uc == pytest.approx(-q, rel=0.02)
    assert a.positive_phase_uc == pytest.approx(a.charge_per_phase_uc, rel=0.02)
    p0, p1 = a.positive_phase
    assert p1 - p0 == pytest.approx(0.5 / s.frequency_hz, abs=2 / FS)


def test_monophasic_has_no_negative_phase():
    s = STEADY[0]
    t0, i, v = capture(s, 0.5)
    a = annotate(t0, FS, i, v, s)
    assert a.positive_phase is not None
    assert a.negative_phase is None


def test_alternating_flips_and_measures_one_polarity():
    s = OutputSettings(Waveform.SQUARE, 10.0, 100.0, Polarity.ALTERNATING, 1.0, 0.0)
    t0, i, v = capture(s, 3.0)
    a = annotate(t0, FS, i, v, s)
    assert [round(f.t, 3) for f in a.flips] == [1.0, 2.0]
    assert [f.to_negative for f in a.flips] == [True, False]
    # numbers come from the longest single-polarity stretch, measured by the scope code
    assert a.notes
    assert "between polarity flips" in a.notes[0]
    assert a.charge_per_phase_uc == pytest.approx(charge_per_phase_uc(s), rel=0.02)
    assert abs(a.net_charge_uc) == pytest.approx(charge_per_phase_uc(s), rel=0.02)
    assert a.period_s == pytest.approx(0.1, rel=2e-3)


def test_biphasic_never_flips():
    s = OutputSettings(Waveform.SQUARE, 10.0, 100.0, Polarity.BIPHASIC, 1.0, 0.0)
    t0, i, v = capture(s, 3.0)
    assert annotate(t0, FS, i, v, s).flips == ()


@pytest.mark.parametrize("ramp_s", [0.5, 1.5])
def test_ramp_is_found_from_output_start(ramp_s):
    s = OutputSettings(Waveform.SQUARE, 20.0, 100.0, Polarity.BIPHASIC, 2.0, ramp_s)
    t0, i, v = capture(s, ramp_s + 1.0, lead_s=0.3)
    a = annotate(t0, FS, i, v, s)
    assert a.ramp is not None
    assert a.ramp.t_start == pytest.approx(0.0, abs=0.05)
    assert a.ramp.duration_s == pytest.approx(ramp_s, abs=0.05)
    assert a.ramp.level_ua == pytest.approx(100.0, abs=2.0)


def test_nothing_to_measure_is_nan_not_an_error():
    z = np.zeros(1000)
    a = annotate(0.0, FS, z, z)
    assert math.isnan(a.period_s)
    assert a.period_span is None
    assert a.ramp is None
    nan = np.full(100, np.nan)
    a = annotate(0.0, FS, nan, nan)
    assert math.isnan(a.amplitude_ua)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="sample rate"):
        annotate(0.0, 0.0, np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="same length"):
        annotate(0.0, FS, np.zeros(3), np.zeros(4))


def test_dropped_samples_do_not_break_the_numbers():
    s = STEADY[1]
    t0, i, v = capture(s, 0.5)
    i = i.astype(np.float64)
    i[1000:1010] = np.nan
    a = annotate(t0, FS, i, v, s)
    assert a.period_s == pytest.approx(1.0 / s.frequency_hz, rel=3e-3)
    assert a.charge_per_phase_uc == pytest.approx(charge_per_phase_uc(s), rel=0.03)


@settings(max_examples=25, deadline=None)
@given(
    freq=st.sampled_from([5.0, 8.0, 10.0, 20.0, 50.0]),
    amp=st.floats(20.0, 400.0),
    wave=st.sampled_from([Waveform.SQUARE, Waveform.SINE]),
    pol=st.sampled_from([Polarity.POSITIVE, Polarity.NEGATIVE, Polarity.BIPHASIC]),
)
def test_property_numbers_match_measurements_and_commanded(freq, amp, wave, pol):
    s = OutputSettings(wave, freq, amp, pol, 2.0, 0.0)
    src = SyntheticSource(s, sample_rate=FS, noise_ua=0.2)
    b = src.next_block(int(4 / freq * FS) + 7)
    a = annotate(0.0, FS, b.current_ua, b.voltage_v, s)
    m = measure_arrays(b.current_ua, b.voltage_v, FS)
    assert a.charge_per_phase_uc == m["charge_per_phase_uc"]
    assert a.net_charge_uc == m["net_charge_uc"]
    assert a.period_s == m["period_s"]
    assert a.charge_per_phase_uc == pytest.approx(charge_per_phase_uc(s), rel=0.03)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.floats(-1e4, 1e4), st.just(float("nan"))), min_size=0, max_size=400
    ),
    freq=st.sampled_from([None, 1.0, 50.0, 2000.0]),
)
def test_property_any_samples_give_annotations_never_an_exception(values, freq):
    i = np.array(values, dtype=np.float64)
    s = (
        None
        if freq is None
        else OutputSettings(Waveform.SQUARE, freq, 100.0, Polarity.ALTERNATING, 0.01, 0.0)
    )
    a = annotate(0.0, 1000.0, i, i * 0.01, s)
    assert a.amplitude_ua >= 0 or math.isnan(a.amplitude_ua)
    for phase in (a.positive_phase, a.negative_phase):
        assert phase is None or phase[0] < phase[1]


@pytest.mark.parametrize("ramp_s", [1.0, 2.0])
def test_the_start_ramp_is_not_measured_as_frequency(ramp_s):
    """A replay or live view holding the start ramp: the frequency is measured on the
    settled part only (the ramp's growing peaks shift the mid-level crossings)."""
    s = OutputSettings(Waveform.SQUARE, 10.0, 200.0, Polarity.BIPHASIC, 2.0, ramp_s)
    t0, i, v = capture(s, ramp_s + 1.0, lead_s=0.5)
    a = annotate(t0, FS, i, v, s)
    assert a.ramp is not None
    assert not a.ramping
    assert a.frequency_hz == pytest.approx(10.0, rel=0.01)
    assert any("after the start ramp" in n for n in a.notes)


def test_a_view_ending_inside_the_ramp_says_ramping():
    s = OutputSettings(Waveform.SQUARE, 10.0, 200.0, Polarity.BIPHASIC, 2.0, 2.0)
    t0, i, v = capture(s, 1.2, lead_s=0.5)  # the ramp is still going at the end
    a = annotate(t0, FS, i, v, s)
    assert a.ramping
    assert math.isnan(a.frequency_hz)
    assert math.isnan(a.charge_per_phase_uc)
    assert any(n.startswith("ramping") for n in a.notes)


def test_a_sweep_starting_at_the_output_start_is_measured_after_starts_5_ms_ramp():
    """A live sweep begins at the output's first period start: START's 5 ms ramp (with
    ramp_s = 0) must not be timed as a period start (it read 48.8 ms for 50 ms)."""
    s = OutputSettings(Waveform.SQUARE, 20.0, 100.0, Polarity.BIPHASIC, 2.0, 0.0)
    fs = 10_000.0
    b = SyntheticSource(s, sample_rate=fs, noise_ua=0.3).next_block(1500)
    i = b.current_ua.astype(np.float64)
    i[:50] *= (np.arange(50) + 0.5) / 50  # the device's START slew over one frame
    v = b.voltage_v.astype(np.float64)
    a = annotate(0.0, fs, i, v, s)
    assert a.ramp is not None
    assert a.ramp.duration_s == pytest.approx(0.0045, abs=0.001)
    assert a.period_s == pytest.approx(0.05, rel=1e-3)
    # a steady sweep (sharp first edge) and a steady sine have no such ramp
    steady = annotate(0.0, fs, b.current_ua, b.voltage_v, s)
    assert steady.ramp is None
    sine = OutputSettings(Waveform.SINE, 100.0, 100.0, Polarity.BIPHASIC, 2.0, 0.0)
    c = SyntheticSource(sine, sample_rate=fs, noise_ua=0.3).next_block(1000)
    assert annotate(0.0, fs, c.current_ua, c.voltage_v, sine).ramp is None


def test_a_change_of_frequency_in_view_is_never_taken_for_a_polarity_flip():
    """A sweep holding the old wave and the new one (a frequency change landing while
    running): averaged over the new period the old wave's halves look like a change of
    sign; with a biphasic output commanded there is no polarity to flip, and no flip
    is marked (a trainer saw a false "polarity → +" mark on a biphasic wave)."""
    old = OutputSettings(Waveform.SQUARE, 10.0, 100.0, Polarity.BIPHASIC, 2.0, 0.0)
    new = OutputSettings(Waveform.SQUARE, 25.0, 100.0, Polarity.BIPHASIC, 2.0, 0.0)
    t0, i_old, v_old = capture(old, 0.15)
    _, i_new, v_new = capture(new, 0.15)
    i, v = np.concatenate([i_old, i_new]), np.concatenate([v_old, v_new])
    assert annotate(t0, FS, i, v, new).flips == ()
