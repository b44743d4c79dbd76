"""Self-test figures and report (pure), then calibration and self-test over the simulator."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.device.protocol import SampleFlag
from app.device.signal_model import INTRINSIC_ERROR
from app.device.waveform import OutputSettings, unit_wave
from app.engine.authority import Driver
from app.service.calibration import CalibrationResult, calibration_procedure
from app.service.procedure import Collected, ProcedureRunner
from app.service.selftest import (
    OUTPUT_CASES,
    SELFTEST_MAX_UA,
    Figure,
    SelfTestReport,
    StepResult,
    Verdict,
    output_figures,
    selftest_procedure,
)

RATE = 10_000.0


def _collected(settings: OutputSettings, r_ohm: float, gain: float = 1.0) -> Collected:
    t = np.arange(3000) / RATE
    i = settings.amplitude_ua * unit_wave(settings, t) * gain
    flags = np.full(t.size, int(SampleFlag.OUTPUT_ON), dtype=np.uint8)
    return Collected(
        RATE,
        i.astype(np.float32),
        (i * 1e-6 * r_ohm).astype(np.float32),
        np.full(t.size, settings.amplitude_ua, dtype=np.float32),
        flags,
    )


def test_figure_bands():
    assert Figure("f", 10.0, "Hz", 9.8, 10.2).ok
    assert not Figure("f", 10.3, "Hz", 9.8, 10.2).ok
    assert not Figure("f", float("nan"), "Hz", None, 1.0).ok
    assert Figure("x", 0.5, "µA", None, 3.0).band == "≤ 3 µA"
    assert Figure("z", 973.6, "Ω", 950.0, 1050.0).band == "950 … 1,050 Ω"
    assert Figure("z", 1.0, "Ω", 9500.0, 10500.0).band == "9,500 … 10,500 Ω"


@pytest.mark.parametrize(
    "case", [c for c in OUTPUT_CASES if not c.expect_compliance], ids=lambda c: c.name
)
def test_output_figures_pass_on_ideal_data_and_fail_on_a_gain_error(case):
    good = output_figures(case, _collected(case.settings, case.resistor_ohm), 20.0)
    assert all(f.ok for f in good), [(f.name, f.shown, f.band) for f in good if not f.ok]
    bad = output_figures(case, _collected(case.settings, case.resistor_ohm, gain=0.9), 20.0)
    assert not all(f.ok for f in bad)


def test_current_after_a_stop_is_measured_from_the_frame_the_device_marks_off():
    """Samples the device made before its STATUS can arrive in the block after it: the
    cut is the first sample of a frame without OUTPUT_ON, and a device that never marks
    its output off has nothing to pass with."""
    from app.service.selftest import _after_output_off, _max_abs

    on, off = int(SampleFlag.OUTPUT_ON), 0

    def data(currents, flags):
        n = len(currents)
        return Collected(
            10_000.0,
            np.asarray(currents, dtype=np.float32),
            np.zeros(n, dtype=np.float32),
            np.zeros(n, dtype=np.float32),
            np.asarray(flags, dtype=np.uint8),
        )

    stopped = data([100, 100, 0.5, 0.2], [on, on, off, off])
    assert _max_abs(_after_output_off(stopped)) == pytest.approx(0.5)
    # the collection began before the run's START: cut at its stop, not at the idle
    from_start = data([0.8, 41.0, 101.7, 0.7, 0.9], [off, on, on, off, off])
    assert _max_abs(_after_output_off(from_start)) == pytest.approx(0.9)
    assert _max_abs(_after_output_off(data([0.8, 0.9], [off, off]))) == pytest.approx(0.9)
    restarted = data([100, 0.5, 90], [on, off, on])  # marked on again after the stop
    assert _max_abs(_after_output_off(restarted)) == 90
    still_driving = data([100, 100, 0.5, 80], [on, on, off, off])  # current without the flag
    assert _max_abs(_after_output_off(still_driving)) == 80
    never_off = data([100, 100], [on, on])
    assert np.isnan(_max_abs(_after_output_off(never_off)))
    assert not Figure("after", math.nan, "µA", None, 3.0).ok


def test_report_verdict_text_and_html():
    rep = SelfTestReport({"model": "M", "serial": "S<1>", "firmware": "F"})
    assert not rep.passed  # no steps: not a pass
    rep.steps.append(StepResult("a", Verdict.PASS, (Figure("f", 1.0, "Hz", 0.5, 1.5),)))
    assert rep.passed
    assert rep.verdict_text.startswith("PASS")
    rep.steps.append(StepResult("b", Verdict.NOT_RUN, note="why"))
    assert not rep.passed
    assert "1 not run" in rep.verdict_text
    html = rep.to_html()
    assert "S&lt;1&gt;" in html
    assert "NOT RUN" in html
    assert "[NOT RUN] b — why" in rep.to_text()
    assert rep.as_dict()["steps"][0]["figures"][0]["ok"] is True


# --------------------------------------------------------------------------- simulator


@pytest.fixture
def device(simulated_device):
    d = simulated_device("--seed", "7", owner=Driver.BENCH)  # the bench drives, as on the console
    d.link.test_authority = d.authority
    return d.link, d.feeder


def _run(qtbot, link, procedure, timeout=20_000, max_ua=SELFTEST_MAX_UA):
    runner = ProcedureRunner(link)
    runner.set_authority(link.test_authority)
    failures: list[str] = []
    runner.failed.connect(failures.append)
    with qtbot.waitSignal(runner.finished, timeout=timeout) as done:
        runner.run(procedure, max_ua=max_ua)
    assert not failures
    return done.args[0]


def test_calibration_finds_and_corrects_the_simulators_error(qtbot, device):
    link, _ = device
    result = _run(qtbot, link, calibration_procedure(link.info), max_ua=500.0)
    assert isinstance(result, CalibrationResult)
    assert result.written
    e = INTRINSIC_ERROR
    assert result.current.gain == pytest.approx(e.current_gain, abs=2e-3)
    assert result.current.offset == pytest.approx(e.current_offset_ua, abs=0.1)
    assert result.voltage.gain == pytest.approx(e.voltage_gain, abs=2e-3)
    assert result.voltage.offset == pytest.approx(e.voltage_offset_v, abs=2e-3)
    assert abs(result.verify_current_error_ua) < 0.2
    assert abs(result.verify_voltage_error_v) < 0.005
    assert result.device_serial == "SIM-000001"


def test_selftest_passes_on_a_healthy_device(qtbot, device):
    link, feeder = device
    report = SelfTestReport(link.info.as_dict())
    _run(qtbot, link, selftest_procedure(link.info, report, feeder.set_watchdog_feeding))
    assert report.passed, report.to_text()
    assert len(report.steps) == 8
    assert report.finished_at is not None
    assert feeder.feeding


def test_selftest_fails_a_miscalibrated_device_and_a_watchdog_that_never_trips(qtbot, device):
    link, _ = device
    with qtbot.waitSignal(link.command_answered, timeout=2000):
        link.set_calibration(0.0, 1.2, 0.0, 1.0)  # current reads 17 % low: a channel fault
    report = SelfTestReport(link.info.as_dict())
    # a console whose heartbeats go on: the device must not trip, so the step fails
    _run(qtbot, link, selftest_procedure(link.info, report, lambda on: None))
    assert not report.passed
    by_name = {s.name: s for s in report.steps}
    amp = by_name["1 kΩ, square 10 Hz positive, 400 µA"]
    assert amp.verdict == Verdict.FAIL
    assert not next(f for f in amp.figures if f.name == "Peak current +").ok
    assert by_name["Watchdog: heartbeats stopped"].verdict == Verdict.FAIL
    assert by_name["Emergency stop"].verdict == Verdict.PASS
    assert "FAIL" in report.to_html()
