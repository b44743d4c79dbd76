"""Layered limits, parameters validation, current density and the charge meter."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.device.waveform import OutputSettings
from app.engine.limits import (
    ChargeMeter,
    ClinicSettings,
    DeviceLimits,
    LimitLayer,
    LimitStack,
    build_stack,
    clamp_amplitude,
    current_density,
)
from app.engine.parameters import ParameterError, TreatmentParameters

DEVICE = DeviceLimits(600.0, 0.5, 1500.0, 20.0)


@pytest.mark.parametrize(
    ("stack", "layer", "allowed"),
    [
        (LimitStack(device=100, clinic=600, zone=None, client=None, step=400), "device", 100),
        (LimitStack(device=1000, clinic=500, zone=None, client=None, step=800), "clinic", 500),
        (LimitStack(device=1000, clinic=600, zone=200, client=None, step=400), "zone", 200),
        (LimitStack(device=1000, clinic=600, zone=200, client=150, step=400), "client", 150),
        (LimitStack(device=1000, clinic=600, zone=200, client=150, step=90), "step", 90),
    ],
)
def test_each_layer_can_bind(stack, layer, allowed):
    allowed_ua, layer_name, explanation = clamp_amplitude(1000.0, stack)
    assert (allowed_ua, layer_name) == (allowed, layer)
    assert f"limited to {allowed:g} µA" in explanation
    assert LimitLayer(layer).label in explanation


def test_a_tie_names_the_outer_layer():
    d = clamp_amplitude(500, LimitStack(device=600, clinic=200, zone=200, step=200))
    assert d.layer is LimitLayer.CLINIC


def test_within_limits_is_not_clamped_but_names_the_ceiling():
    d = clamp_amplitude(
        120,
        LimitStack(
            device=600,
            clinic=600,
            zone=200,
            step=300,
            zone_reason="orbicularis_oculi_l is in the eye area",
        ),
    )
    assert d.allowed_ua == 120
    assert not d.clamped
    assert d.ceiling_ua == 200
    assert "within the zone limit 200 µA (orbicularis_oculi_l is in the eye area)" in d.explanation


def test_no_device_allows_nothing():
    d = clamp_amplitude(100, LimitStack(clinic=600))
    assert d.allowed_ua == 0
    assert d.layer is LimitLayer.DEVICE
    assert "no device connected" in d.explanation


@pytest.mark.parametrize("bad", [float("nan"), float("-inf"), -5.0])
def test_nonsense_requests_clamp_to_zero(bad):
    assert clamp_amplitude(bad, LimitStack(device=600)).allowed_ua == 0.0


layer_value = st.one_of(st.none(), st.floats(0.0, 2000.0))


@given(
    req=st.floats(-100, 5000),
    device=st.floats(0.0, 2000.0),
    clinic=layer_value,
    zone=layer_value,
    client=layer_value,
    step=layer_value,
)
def test_allowed_is_the_minimum_of_request_and_every_layer(req, device, clinic, zone, client, step):
    stack = LimitStack(device, clinic, zone, client, step)
    d = clamp_amplitude(req, stack)
    ceilings = [v for v in (device, clinic, zone, client, step) if v is not None]
    assert d.allowed_ua == pytest.approx(max(0.0, min([req, *ceilings])))
    assert d.ceiling_ua == min(ceilings)
    assert getattr(stack, d.layer.value) == d.ceiling_ua


def test_zone_layer_from_clinic_settings():
    clinic = ClinicSettings(eye_area_max_ua=180, zone_max_ua={"masseter_l": 250})
    assert clinic.zone_limit(["frontalis_l"]) == (400, "face-map limit for frontalis_l")
    assert clinic.zone_limit(["orbicularis_oculi_r", "frontalis_r"])[0] == 180
    assert clinic.zone_limit(["masseter_l"]) == (250, "clinic limit for zone masseter_l")
    value, why = clinic.zone_limit([])
    assert value == 180
    assert "no zone chosen" in why
    stack = build_stack(DEVICE, clinic, ["corrugator_supercilii_l"], 300, 400)
    assert stack.binding() == (LimitLayer.ZONE, 180)


def test_clinic_settings_validation_names_the_field():
    problems = ClinicSettings(max_current_ua=-1, zone_max_ua={"nose": 10}).validate()
    assert any(p.startswith("max_current_ua") for p in problems)
    assert any("unknown zone 'nose'" in p for p in problems)
    assert ClinicSettings().validate() == []


def test_device_limits_from_info_and_frequency_messages():
    class Info:
        max_current_ua, min_frequency_hz, max_frequency_hz, compliance_v = 500, 1, 1000, 15

    d = DeviceLimits.from_info(Info())
    assert d == DeviceLimits(500.0, 1.0, 1000.0, 15.0)
    assert d.frequency_problem(0.5) == "frequency 0.5 Hz is below the device's minimum 1 Hz"
    assert "above the device's maximum 1000 Hz" in d.frequency_problem(1500)
    assert d.frequency_problem(10) is None


def test_current_density_warns_above_threshold():
    ok = current_density(200, 1.0, 500)
    assert not ok.warning
    assert ok.text() == "200 µA/cm²"
    hot = current_density(200, 0.25, 500)
    assert hot.ua_per_cm2 == 800
    assert hot.warning
    assert "above the warning threshold of 500 µA/cm²" in hot.text()
    with pytest.raises(ValueError, match="electrode area 0"):
        current_density(100, 0, 500)


def test_charge_meter_banks_each_start():
    q = ChargeMeter()
    q.started()
    q.update(1.5)
    q.update(2.0)
    q.started()
    q.update(-0.5)
    assert q.net_uc == pytest.approx(1.5)
    q.update(math.nan)
    assert q.net_uc == pytest.approx(1.5)
    q.reset()
    assert q.net_uc == 0


def test_parameters_validation_names_field_value_and_range():
    p = TreatmentParameters(
        OutputSettings(frequency_hz=2000.0, amplitude_ua=-3.0),
        duration_s=1.0,
        electrode_area_cm2=1.0,
    )
    with pytest.raises(ParameterError) as err:
        p.check()
    text = str(err.value)
    assert "frequency_hz: 2000 Hz is outside the allowed range 0.5–1500 Hz" in text
    assert "amplitude_ua: -3 µA is outside the allowed range 0–600 µA" in text
    assert "duration_s: 1 s is outside the allowed range 5–1200 s" in text
    assert [i.field for i in err.value.issues] == ["frequency_hz", "amplitude_ua", "duration_s"]


def test_parameters_reject_non_numbers_and_report_density():
    p = TreatmentParameters(OutputSettings(ramp_s="slow"), electrode_area_cm2=0.5)  # type: ignore[arg-type]
    issues = p.validate()
    assert [str(i) for i in issues] == ["ramp_s: 'slow' is not a number (allowed 0–10 s)"]
    good = TreatmentParameters(OutputSettings(amplitude_ua=100.0), 60, 0.5).check()
    assert good.density_ua_per_cm2() == 200
    assert good.with_amplitude(50).amplitude_ua == 50


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_damaged_ceiling_counts_as_zero(bad):
    d = clamp_amplitude(100, LimitStack(device=600, clinic=600, client=bad, step=300))
    assert d.allowed_ua == 0
    assert d.layer is LimitLayer.CLIENT
