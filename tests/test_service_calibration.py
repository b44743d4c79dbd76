"""Calibration arithmetic (pure) and the procedure against the real simulator."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.device.protocol import SampleFlag
from app.device.signal_model import INTRINSIC_ERROR
from app.service.calibration import (
    CalibrationError,
    CalibrationPoint,
    compute_calibration,
    fit_channel,
    pulse_points,
)
from app.service.procedure import Collected


def _points(true_ua, r_ohm, gi, oi, gv, ov, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    pts = []
    for t in true_ua:
        i = gi * t + oi + rng.normal(0, noise)
        v = gv * t * 1e-6 * r_ohm + ov + rng.normal(0, noise * 1e-3)
        pts.append(CalibrationPoint(t, i, v))
    return pts


@given(
    gi=st.floats(0.8, 1.2),
    oi=st.floats(-5, 5),
    gv=st.floats(0.8, 1.2),
    ov=st.floats(-0.05, 0.05),
    r=st.sampled_from([1e3, 4.7e3, 10e3]),
)
@settings(max_examples=60, deadline=None)
def test_exact_data_recovers_gain_and_offset(gi, oi, gv, ov, r):
    result = compute_calibration(_points([0, 100, 250, 500], r, gi, oi, gv, ov), r)
    assert result.current.gain == pytest.approx(gi, rel=1e-9)
    assert result.current.offset == pytest.approx(oi, abs=1e-7)
    assert result.voltage.gain == pytest.approx(gv, rel=1e-9)
    assert result.voltage.offset == pytest.approx(ov, abs=1e-9)
    assert result.current.residual_rms < 1e-6


def test_noisy_data_within_tolerance_and_correction_inverts_the_error():
    pts = _points(
        np.repeat([0.0, 100.0, 300.0, 600.0], 20), 10e3, 1.01, 0.8, 0.995, -0.004, noise=0.2, seed=3
    )
    result = compute_calibration(pts, 10e3)
    assert result.current.gain == pytest.approx(1.01, abs=1e-3)
    assert result.current.offset == pytest.approx(0.8, abs=0.1)
    assert result.voltage.gain == pytest.approx(0.995, abs=1e-3)
    assert result.current.correct(1.01 * 400 + 0.8) == pytest.approx(400, abs=0.5)


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ([CalibrationPoint(100, 101, 1.0)], "at least two measurements"),
        ([CalibrationPoint(100, 101, 1.0), CalibrationPoint(100, 102, 1.0)], "two different"),
        ([CalibrationPoint(0, 0, 0), CalibrationPoint(100, float("nan"), 1.0)], "finite"),
        ([CalibrationPoint(0, 0, 0), CalibrationPoint(100, 300, 1.0)], "current gain"),
        ([CalibrationPoint(0, 80, 0), CalibrationPoint(100, 180, 1.0)], "current offset"),
        ([CalibrationPoint(0, 0, 0), CalibrationPoint(100, 100, 0.1)], "voltage gain"),
    ],
)
def test_unusable_measurements_are_refused_with_a_reason(points, message):
    with pytest.raises(CalibrationError, match=message):
        compute_calibration(points, 10e3)


def test_fit_channel_rejects_unpaired_values():
    with pytest.raises(CalibrationError, match="paired"):
        fit_channel([1, 2, 3], [1, 2])


def test_pulse_points_split_tops_from_gaps_and_skip_the_ramp():
    n = 1000
    unit = (np.arange(n) % 100 < 50).astype(np.float64)
    level = np.full(n, 200.0)
    level[:100] = np.linspace(0, 199, 100)  # ramping: ignored
    i = 1.02 * unit * level + 0.5
    v = 0.99 * unit * level * 1e-6 * 1e4 - 0.002
    flags = np.full(n, int(SampleFlag.OUTPUT_ON), dtype=np.uint8)
    data = Collected(
        1e4, i.astype(np.float32), v.astype(np.float32), level.astype(np.float32), flags
    )
    top, gap = pulse_points(data, 200.0)
    assert top.true_current_ua == 200.0
    assert gap.true_current_ua == 0.0
    assert top.measured_current_ua == pytest.approx(204.5, abs=1e-3)
    assert gap.measured_current_ua == pytest.approx(0.5, abs=1e-4)
    assert top.samples == 450
    assert gap.samples == 450
    with pytest.raises(CalibrationError, match="pulse"):
        pulse_points(data, 300.0)


def test_intrinsic_error_is_what_the_procedure_should_find():
    # the simulator's documented error, fed through the arithmetic, comes back unchanged
    e = INTRINSIC_ERROR
    result = compute_calibration(
        _points(
            [0, 100, 250, 500],
            10e3,
            e.current_gain,
            e.current_offset_ua,
            e.voltage_gain,
            e.voltage_offset_v,
        ),
        10e3,
    )
    assert result.set_calibration_args == pytest.approx(
        (e.current_offset_ua, e.current_gain, e.voltage_offset_v, e.voltage_gain)
    )
