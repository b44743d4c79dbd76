"""The simulator's signal model: waveform generation, load, compliance, ADC. Pure numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.device.signal_model import (
    CURRENT_LSB_UA,
    INTRINSIC_ERROR,
    VOLTAGE_LSB_V,
    Adc,
    LoadModel,
    SkinLoad,
    WaveGenerator,
)
from app.device.waveform import (
    OutputSettings,
    Polarity,
    Waveform,
    period_balance,
    period_integral,
    unit_wave,
)

FS = 10_000


def _wave(s: OutputSettings, n: int, chunks: list[int] | None = None):
    gen = WaveGenerator(FS)
    units, syncs, pos = [], [], 0
    for c in chunks or [n]:
        u, sync = gen.generate(s, c)
        units.append(u)
        syncs.append(sync + pos)
        pos += c
    return np.concatenate(units), np.concatenate(syncs)


def test_square_wave_amplitude_and_frequency():
    s = OutputSettings(Waveform.SQUARE, frequency_hz=40.0, polarity=Polarity.POSITIVE)
    unit, sync = _wave(s, FS)
    assert unit.max() == 1.0
    assert unit.min() == 0.0
    assert unit.mean() == pytest.approx(0.5, abs=0.01)  # 50 % duty
    assert len(sync) == 40
    assert sync[0] == 0
    assert np.all(np.diff(sync) == FS // 40)


@settings(max_examples=30, deadline=None)
@given(
    st.floats(0.1, 2000),
    st.lists(st.integers(1, 255), min_size=1, max_size=30),
    st.sampled_from(list(Polarity)),
    st.sampled_from(list(Waveform)),
)
def test_chunked_generation_equals_one_shot(freq, chunks, polarity, waveform):
    s = OutputSettings(waveform, frequency_hz=freq, polarity=polarity, alternate_s=0.5)
    n = sum(chunks)
    one_u, one_s = _wave(s, n)
    ch_u, ch_s = _wave(s, n, chunks)
    np.testing.assert_allclose(ch_u, one_u, atol=1e-9)
    np.testing.assert_array_equal(ch_s, one_s)


def test_frequency_change_keeps_the_phase_continuous():
    gen = WaveGenerator(FS)
    s1 = OutputSettings(Waveform.SINE, frequency_hz=10.0, polarity=Polarity.BIPHASIC)
    s2 = OutputSettings(Waveform.SINE, frequency_hz=20.0, polarity=Polarity.BIPHASIC)
    a, _ = gen.generate(s1, 250)  # a quarter period into a 10 Hz sine: at its peak
    b, _ = gen.generate(s2, 10)
    assert abs(b[0] - a[-1]) < 0.01


def test_biphasic_is_charge_balanced_every_period():
    for wf in (Waveform.SQUARE, Waveform.SINE):
        s = OutputSettings(wf, frequency_hz=50.0, polarity=Polarity.BIPHASIC)
        unit, sync = _wave(s, FS)
        for a, b in zip(sync[:-1], sync[1:], strict=False):
            assert abs(unit[a:b].sum()) < 1e-6 * (b - a)
        assert unit.max() == pytest.approx(1.0, abs=1e-3)
        assert unit.min() == pytest.approx(-1.0, abs=1e-3)


def test_alternating_flips_sign_every_alternate_period():
    s = OutputSettings(
        Waveform.SQUARE, frequency_hz=100.0, polarity=Polarity.ALTERNATING, alternate_s=0.5
    )
    gen = WaveGenerator(FS)
    u1, _ = gen.generate(s, FS // 2)
    assert gen.negative_half(s)
    u2, _ = gen.generate(s, FS // 2)
    assert u1.min() == 0.0
    assert u1.max() == 1.0
    assert u2.max() == 0.0
    assert u2.min() == -1.0


def test_skin_load_charges_with_its_time_constant():
    load = LoadModel(FS, skin=SkinLoad(2000, 20000, 100e-9))
    i, v, clamped = load.drive(np.full(FS // 10, 100.0))  # 100 µA for 100 ms
    assert not clamped
    np.testing.assert_allclose(i, 100.0)
    assert v[0] == pytest.approx(100e-6 * 2000, rel=1e-6)  # only Rs at the step
    tau = 20000 * 100e-9
    t = np.arange(20) / FS
    expected = 100e-6 * (2000 + 20000 * (1 - np.exp(-t / tau)))
    np.testing.assert_allclose(v[:20], expected, rtol=1e-3)  # exact discretisation
    assert v[-1] == pytest.approx(100e-6 * 22000, rel=0.01)


def test_compliance_clamps_and_the_current_falls():
    load = LoadModel(FS)
    i, v, clamped = load.drive(np.full(FS // 10, 1000.0))  # 1 mA into ~22 kΩ needs 22 V
    assert clamped
    assert v.max() <= 20.0 + 1e-9
    assert v[-1] == pytest.approx(20.0)
    assert i[0] == pytest.approx(1000.0)  # the skin capacitance takes it at first
    assert i[-1] < 950.0


def test_resistor_load_and_its_compliance_limit():
    load = LoadModel(FS)
    load.use_resistor(100_000)
    i, v, clamped = load.drive(np.array([100.0, 150.0, 300.0, -300.0]))
    np.testing.assert_allclose(i, [100, 150, 200, -200])
    np.testing.assert_allclose(v, [10, 15, 20, -20])
    assert clamped
    with pytest.raises(ValueError, match="positive"):
        load.use_resistor(math.nan)


def test_open_load_no_current_voltage_at_compliance():
    load = LoadModel(FS)
    load.contact = False
    assert math.isinf(load.impedance_ohm())
    i, v, clamped = load.drive(np.array([200.0, 0.0, -200.0]))
    np.testing.assert_array_equal(i, [0, 0, 0])
    np.testing.assert_array_equal(v, [20, 0, -20])
    assert clamped


def test_skin_drifts_only_a_few_percent_over_minutes():
    load = LoadModel(100)
    z0 = load.impedance_ohm()
    values = []
    for _ in range(10 * 60):  # ten minutes in 1 s steps
        load.drive(np.zeros(100))
        values.append(load.impedance_ohm())
    change = np.abs(np.array(values) / z0 - 1)
    assert 0.01 < change.max() < 0.08


def test_adc_quantises_to_int16_and_calibration_cancels_the_error():
    adc = Adc(seed=0, current_noise_ua=0.0, voltage_noise_v=0.0)
    raw = adc.measure(np.array([100.0, 2000.0]), np.array([1.0, -40.0]))
    assert raw.dtype == np.int16
    assert raw[0, 0] == round((100 * 1.01 + 0.8) / CURRENT_LSB_UA)
    assert raw[1, 0] == 32767  # clipped, never wrapped
    assert raw[1, 1] == -32767
    adc.calibration = INTRINSIC_ERROR
    raw = adc.measure(np.array([100.0]), np.array([1.5]))
    assert raw[0, 0] == round(100 / CURRENT_LSB_UA)
    assert raw[0, 1] == round(1.5 / VOLTAGE_LSB_V)


def test_adc_noise_is_small():
    adc = Adc(seed=0)
    adc.calibration = INTRINSIC_ERROR
    raw = adc.measure(np.zeros(FS), np.zeros(FS))
    assert np.std(raw[:, 0] * CURRENT_LSB_UA) == pytest.approx(0.08 / 1.01, rel=0.1)
    assert abs(np.mean(raw[:, 0] * CURRENT_LSB_UA)) < 0.01


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-400, 400), min_size=1, max_size=255), st.floats(-5, 5))
def test_vectorised_rc_equals_the_sample_by_sample_model(currents, vc0):
    fast, slow = LoadModel(FS), LoadModel(FS)
    fast._vc = slow._vc = vc0
    i_cmd = np.array(currents)
    i_f, v_f, c_f = fast.drive(i_cmd)
    slow._t += len(currents) / FS  # the same point of the drift as drive() uses
    rs, rp, cp = slow._skin_now()
    a = math.exp(-1 / FS / (rp * cp))
    i_s, v_s, c_s = slow._drive_clamped(i_cmd, rs, a, rp * (1 - a))
    assert c_f == c_s
    np.testing.assert_allclose(i_f, i_s, atol=1e-9)
    np.testing.assert_allclose(v_f, v_s, atol=1e-9)
    assert fast._vc == pytest.approx(slow._vc, abs=1e-9)


# --------------------------------------------------------------------------------------
# The integrating ADC: each sample is the exact mean of the wave over its interval.

ONE = 1 << 32


def _actual_hz(s: OutputSettings, fs: float) -> float:
    """The carrier frequency the DDS really makes (its step is rounded down)."""
    return WaveGenerator(fs).increment(s) * fs / ONE


def _exact_integral(s: OutputSettings, fs: float, n: int) -> np.ndarray:
    """Integral (in unit·seconds) of the non-alternating unit wave from 0 to each of the
    n + 1 sample edges, from the closed form: whole periods carry the period balance."""
    f = _actual_hz(s, fs)
    phase = np.arange(n + 1) * (f / fs)
    whole = np.floor(phase)
    sign = -1.0 if s.polarity == Polarity.NEGATIVE else 1.0
    return (whole * period_balance(s) + sign * period_integral(s, phase - whole)) / f


_RATES = st.sampled_from([100, 1_000, 2_000, 10_000, 20_000, 50_000])
_MONO = st.sampled_from([Polarity.POSITIVE, Polarity.NEGATIVE, Polarity.BIPHASIC])
_SHAPES = st.sampled_from([Waveform.SQUARE, Waveform.SINE])


@st.composite
def _frequency(draw, fs: int) -> float:
    """Any accepted frequency: odd and even whole samples per period, or any ratio."""
    fmax = min(2000.0, fs / 5)
    kind = draw(st.sampled_from(["odd", "whole", "any"]))
    if kind == "any":
        return draw(st.floats(0.1, fmax))
    lo = max(5, math.ceil(fs / fmax))
    spp = draw(st.integers(lo, max(lo, min(int(fs / 0.1), 400))))
    if kind == "odd" and spp % 2 == 0:
        spp += 1
    return fs / spp


@settings(max_examples=120, deadline=None)
@given(st.data(), _RATES, _MONO, _SHAPES, st.lists(st.integers(1, 239), min_size=1, max_size=12))
def test_charge_in_the_samples_is_the_charge_of_the_wave(data, fs, polarity, waveform, chunks):
    f = data.draw(_frequency(fs), label="frequency")
    s = OutputSettings(waveform, frequency_hz=f, polarity=polarity)
    gen = WaveGenerator(fs)
    unit = np.concatenate([gen.generate(s, c)[0] for c in chunks])
    charge = np.concatenate(([0.0], np.cumsum(unit))) / fs  # at every sample edge
    exact = _exact_integral(s, fs, unit.size)
    np.testing.assert_allclose(charge, exact, rtol=0, atol=1e-9 * (1 + unit.size / fs))


@settings(max_examples=80, deadline=None)
@given(st.data(), _RATES, _MONO, _SHAPES)
def test_charge_per_period_equals_the_commanded_balance(data, fs, polarity, waveform):
    f = data.draw(_frequency(fs), label="frequency")
    s = OutputSettings(waveform, frequency_hz=f, polarity=polarity)
    periods = 40
    n = min(int(periods * fs / f) + 1, 400_000)
    unit, sync = WaveGenerator(fs).generate(s, n)
    # charge per period (unit x period) = the mean of the samples over the whole span,
    # which is whole periods plus a part of one (whose charge is at most half a period's)
    span_periods = n / fs * _actual_hz(s, fs)
    assert unit.mean() == pytest.approx(period_balance(s), abs=0.5 / span_periods + 1e-9)
    if polarity == Polarity.BIPHASIC:  # whole periods between sync marks: balanced
        a, b = sync[0], sync[-1]
        assert abs(unit[a:b].sum()) <= 1.0 + 1e-9  # less than the two part-samples at the ends
    if polarity == Polarity.POSITIVE and waveform == Waveform.SQUARE:
        assert unit[sync[0] : sync[-1]].mean() == pytest.approx(0.5, abs=1.0 / (sync[-1] + 1))


@settings(max_examples=60, deadline=None)
@given(st.data(), _RATES, _SHAPES, st.sampled_from([0.5, 0.7, 1.0, 2.0, 3.3]))
def test_alternating_flips_only_at_period_boundaries(data, fs, waveform, alternate_s):
    f = data.draw(_frequency(fs), label="frequency")
    s = OutputSettings(
        waveform, frequency_hz=f, polarity=Polarity.ALTERNATING, alternate_s=alternate_s
    )
    n = min(int(max(4 * alternate_s, 3 / f) * fs), 300_000)
    unit, sync = WaveGenerator(fs).generate(s, n)
    bounds = [*sync.tolist(), n]
    signs = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        part = unit[a:b]
        on = part[np.abs(part) > 1e-9]
        assert on.size, "every period has its pulse"
        assert np.all(on > 0) or np.all(on < 0), "a flip inside a period"
        signs.append(1 if on[0] > 0 else -1)
    assert signs[0] == 1  # positive first
    flips = np.flatnonzero(np.diff(signs)) + 1
    period = 1.0 / _actual_hz(s, fs)
    for k, j in enumerate(flips, start=1):
        start = sync[j] / fs  # the period starts within this sample
        if alternate_s >= period:  # the boundary nearest to the k-th due flip
            assert abs(start - k * alternate_s) <= period / 2 + 1.0 / fs + 1e-9
    if alternate_s < period:  # one flip per period
        assert len(flips) == len(signs) - 1


def test_two_khz_at_ten_kilosamples_is_balanced_and_square_has_half_duty():
    for polarity, expected in ((Polarity.BIPHASIC, 0.0), (Polarity.POSITIVE, 0.5)):
        s = OutputSettings(Waveform.SQUARE, frequency_hz=2000.0, polarity=polarity)
        unit, sync = WaveGenerator(FS).generate(s, 11_000)  # 1.1 s, 5 samples a period
        assert len(sync) == 2200
        assert unit.mean() == pytest.approx(expected, abs=1e-6)
    # a pulse edge inside a sample gives that sample the mean: 2.5 samples on, 2.5 off
    s = OutputSettings(Waveform.SQUARE, frequency_hz=2000.0, polarity=Polarity.POSITIVE)
    unit, _ = WaveGenerator(FS).generate(s, 5)
    np.testing.assert_allclose(unit, [1.0, 1.0, 0.5, 0.0, 0.0], atol=1e-6)


def test_samples_agree_with_the_point_wave_integrated_finely():
    """An independent check of the closed form: integrate unit_wave numerically."""
    for s in (
        OutputSettings(Waveform.SINE, frequency_hz=1300.0, polarity=Polarity.BIPHASIC),
        OutputSettings(Waveform.SQUARE, frequency_hz=10_000 / 7, polarity=Polarity.NEGATIVE),
    ):
        unit, _ = WaveGenerator(FS).generate(s, 40)
        fine = 4000
        t = (np.arange(40 * fine) + 0.5) / (FS * fine)
        f = _actual_hz(s, FS)
        point = unit_wave(OutputSettings(s.waveform, frequency_hz=f, polarity=s.polarity), t)
        np.testing.assert_allclose(unit, point.reshape(40, fine).mean(axis=1), atol=2e-3)
