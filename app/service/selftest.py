"""The device self-test: a fixed sequence into reference resistors, with a pass/fail report.

:func:`selftest_procedure` is a generator run by
:class:`~app.service.procedure.ProcedureRunner`; it returns a :class:`SelfTestReport`.
Each step drives the device into a known resistor and compares measured figures (the
scope's own measurements, :func:`app.scope.core.measure.measure_arrays`) with tolerances.
A step that fails is recorded and the sequence goes on; only a device that cannot be
driven at all (no answer, link lost) stops it.

The watchdog step needs the console to stop feeding the link's heartbeats: the caller
passes ``set_watchdog_feeding(False/True)``; without it the step is reported as not run.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum

import numpy as np

from app import palette
from app.device.protocol import DeviceState, Info, NakReason, SampleFlag, SimOp
from app.device.waveform import OutputSettings, Polarity, Waveform
from app.scope.core.measure import measure_arrays
from app.service.calibration import ready_idle, run_steady, use_reference_load
from app.service.procedure import (
    Answer,
    Collect,
    Collected,
    Procedure,
    ProcedureError,
    Send,
    WaitStatus,
)

LINK_FEED_TIMEOUT_S = 0.3  # app.device.link.WATCHDOG_FEED_TIMEOUT_S: heartbeats stop after
WATCHDOG_MARGIN_S = 0.2  # STATUS period and scheduling
# ESTOP answered within the protocol's command timeout. The answer's time is measured in
# the GUI thread, so on a busy PC it includes the console's own delay; that output went
# off at once is proven by the samples after the stop (OFF_CURRENT_UA), not by this.
ESTOP_LIMIT_S = 0.5
OFF_CURRENT_UA = 3.0  # |I| below this counts as "no output" (offset + noise)
AMPLITUDE_TOL = 0.03  # ±3 % (+ 1 µA) on amplitude
FREQUENCY_TOL = 0.02
IMPEDANCE_TOL = 0.05


class Verdict(Enum):
    PASS = "pass"
    FAIL = "fail"
    NOT_RUN = "not run"


@dataclass(frozen=True, slots=True)
class Figure:
    """A measured figure and its acceptance band (either bound may be None)."""

    name: str
    value: float
    unit: str
    low: float | None = None
    high: float | None = None

    @property
    def ok(self) -> bool:
        if not math.isfinite(self.value):
            return False
        return (self.low is None or self.value >= self.low) and (
            self.high is None or self.value <= self.high
        )

    @property
    def band(self) -> str:
        if self.low is not None and self.high is not None:
            return f"{_num(self.low)} … {_num(self.high)} {self.unit}".strip()
        if self.low is not None:
            return f"≥ {_num(self.low)} {self.unit}".strip()
        if self.high is not None:
            return f"≤ {_num(self.high)} {self.unit}".strip()
        return "—"

    @property
    def shown(self) -> str:
        return f"{_num(self.value)} {self.unit}".strip() if math.isfinite(self.value) else "—"


def _num(x: float) -> str:
    """Four significant digits, thousands grouped: 9.8, 405.1, 1,050, 0.0203."""
    if not math.isfinite(x):
        return "—"
    if x == 0:
        return "0"
    return f"{x:,.0f}" if abs(x) >= 999.5 else f"{x:.4g}"


@dataclass(frozen=True, slots=True)
class StepResult:
    name: str
    verdict: Verdict
    figures: tuple[Figure, ...] = ()
    note: str = ""


@dataclass(slots=True)
class SelfTestReport:
    device: dict[str, object]
    steps: list[StepResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None

    @property
    def passed(self) -> bool:
        return bool(self.steps) and all(s.verdict == Verdict.PASS for s in self.steps)

    @property
    def verdict_text(self) -> str:
        failed = sum(s.verdict == Verdict.FAIL for s in self.steps)
        not_run = sum(s.verdict == Verdict.NOT_RUN for s in self.steps)
        if self.passed:
            return f"PASS — all {len(self.steps)} steps passed"
        parts = []
        if failed:
            parts.append(f"{failed} failed")
        if not_run:
            parts.append(f"{not_run} not run")
        return f"FAIL — {', '.join(parts)} of {len(self.steps)} steps"

    def as_dict(self) -> dict[str, object]:
        return {
            "device": self.device,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "passed": self.passed,
            "notes": list(self.notes),
            "steps": [
                {
                    "name": s.name,
                    "verdict": s.verdict.value,
                    "note": s.note,
                    "figures": [
                        {
                            "name": f.name,
                            "value": f.value if math.isfinite(f.value) else None,
                            "unit": f.unit,
                            "low": f.low,
                            "high": f.high,
                            "ok": f.ok,
                        }
                        for f in s.figures
                    ],
                }
                for s in self.steps
            ],
        }

    def to_text(self) -> str:
        d = self.device
        lines = [
            f"Self-test {self.verdict_text}",
            f"Device {d.get('model', '?')} serial {d.get('serial', '?')} firmware "
            f"{d.get('firmware', '?')}",
            f"Run at {self.started_at:%Y-%m-%d %H:%M:%S} UTC",
            "",
        ]
        for s in self.steps:
            lines.append(
                f"[{s.verdict.value.upper():>7}] {s.name}" + (f" — {s.note}" if s.note else "")
            )
            for f in s.figures:
                mark = "ok " if f.ok else "BAD"
                lines.append(f"          {mark} {f.name}: {f.shown} (limit {f.band})")
        for n in self.notes:
            lines.append(f"Note: {n}")
        return "\n".join(lines)

    def to_html(self) -> str:
        d = self.device
        colour = palette.SERVICE_PASS if self.passed else palette.SERVICE_FAIL
        out = [
            f"<h2 style='color:{colour}'>Self-test {html.escape(self.verdict_text)}</h2>",
            "<p>Device <b>"
            + html.escape(f"{d.get('model', '?')}")
            + "</b> serial <b>"
            + html.escape(f"{d.get('serial', '?')}")
            + "</b> firmware "
            + html.escape(f"{d.get('firmware', '?')}")
            + f"<br>Run at {self.started_at:%Y-%m-%d %H:%M:%S} UTC</p>",
            "<table border='1' cellspacing='0' cellpadding='3'>"
            "<tr><th>Step</th><th>Result</th><th>Figure</th><th>Measured</th>"
            "<th>Limit</th></tr>",
        ]
        for s in self.steps:
            vc = {
                Verdict.PASS: palette.SERVICE_PASS,
                Verdict.FAIL: palette.SERVICE_FAIL,
                Verdict.NOT_RUN: palette.SERVICE_NOT_RUN,
            }[s.verdict]
            rows: list[Figure | None] = list(s.figures) or [None]
            for k, f in enumerate(rows):
                cells = ""
                if k == 0:
                    name = html.escape(s.name) + (
                        f"<br><small>{html.escape(s.note)}</small>" if s.note else ""
                    )
                    cells += (
                        f"<td rowspan='{len(rows)}'>{name}</td>"
                        f"<td rowspan='{len(rows)}' style='color:{vc}'><b>"
                        f"{s.verdict.value.upper()}</b></td>"
                    )
                if f is None:
                    cells += "<td colspan='3'></td>"
                else:
                    fc = "" if f.ok else f" style='color:{palette.SERVICE_FAIL}'"
                    cells += (
                        f"<td>{html.escape(f.name)}</td><td{fc}>{html.escape(f.shown)}"
                        f"</td><td>{html.escape(f.band)}</td>"
                    )
                out.append(f"<tr>{cells}</tr>")
        out.append("</table>")
        for n in self.notes:
            out.append(f"<p><i>Note: {html.escape(n)}</i></p>")
        return "\n".join(out)


# --------------------------------------------------------------------------- the sequence


@dataclass(frozen=True, slots=True)
class OutputCase:
    name: str
    resistor_ohm: float
    settings: OutputSettings
    expect_compliance: bool = False


def _s(wf: Waveform, f: float, a: float, pol: Polarity) -> OutputSettings:
    return OutputSettings(wf, f, a, pol, 2.0, 0.0)


OUTPUT_CASES: tuple[OutputCase, ...] = (
    OutputCase(
        "1 kΩ, square 10 Hz positive, 400 µA",
        1_000.0,
        _s(Waveform.SQUARE, 10.0, 400.0, Polarity.POSITIVE),
    ),
    OutputCase(
        "1 kΩ, square 100 Hz biphasic, 200 µA",
        1_000.0,
        _s(Waveform.SQUARE, 100.0, 200.0, Polarity.BIPHASIC),
    ),
    OutputCase(
        "10 kΩ, sine 50 Hz biphasic, 300 µA",
        10_000.0,
        _s(Waveform.SINE, 50.0, 300.0, Polarity.BIPHASIC),
    ),
    OutputCase(
        "10 kΩ, square 1 kHz negative, 500 µA",
        10_000.0,
        _s(Waveform.SQUARE, 1000.0, 500.0, Polarity.NEGATIVE),
    ),
    OutputCase(
        "100 kΩ, square 10 Hz positive, 300 µA: compliance",
        100_000.0,
        _s(Waveform.SQUARE, 10.0, 300.0, Polarity.POSITIVE),
        expect_compliance=True,
    ),
)
COLLECT_S = 0.3
# The self-test's declared maximum: the output authority refuses to run it below this.
SELFTEST_MAX_UA = max(case.settings.amplitude_ua for case in OUTPUT_CASES)


def output_figures(case: OutputCase, data: Collected, compliance_v: float) -> list[Figure]:
    """The figures of one output case (pure: tested without a device)."""
    s = case.settings
    m = measure_arrays(data.current_ua, data.voltage_v, data.sample_rate)
    figs = [
        Figure(
            "Frequency",
            m["frequency_hz"],
            "Hz",
            s.frequency_hz * (1 - FREQUENCY_TOL),
            s.frequency_hz * (1 + FREQUENCY_TOL),
        )
    ]
    if case.expect_compliance:
        limit_ua = compliance_v / case.resistor_ohm * 1e6
        flagged = float(np.mean((data.flags & int(SampleFlag.COMPLIANCE)) != 0)) * 100
        figs += [
            Figure(
                "Current held at compliance (V/R)",
                m["i_peak_pos_ua"],
                "µA",
                limit_ua * (1 - AMPLITUDE_TOL) - 1,
                limit_ua * (1 + AMPLITUDE_TOL) + 1,
            ),
            Figure(
                "Voltage peak",
                float(np.max(data.voltage_v)),
                "V",
                compliance_v * 0.95,
                compliance_v * 1.03,
            ),
            Figure("Frames flagged COMPLIANCE", flagged, "%", 30.0, None),
        ]
        return figs
    a = s.amplitude_ua
    band = (a * (1 - AMPLITUDE_TOL) - 1, a * (1 + AMPLITUDE_TOL) + 1)
    if s.polarity in (Polarity.POSITIVE, Polarity.BIPHASIC):
        figs.append(Figure("Peak current +", m["i_peak_pos_ua"], "µA", *band))
    if s.polarity in (Polarity.NEGATIVE, Polarity.BIPHASIC):
        figs.append(Figure("Peak current −", -m["i_peak_neg_ua"], "µA", *band))
    r = case.resistor_ohm
    figs.append(
        Figure(
            "Load |V/I|", m["impedance_ohm"], "Ω", r * (1 - IMPEDANCE_TOL), r * (1 + IMPEDANCE_TOL)
        )
    )
    if s.polarity == Polarity.BIPHASIC:
        q = m["charge_per_phase_uc"]
        limit = 0.02 * q if math.isfinite(q) else 0.0
        figs.append(Figure("Net charge / period", m["net_charge_uc"], "µC", -limit, limit))
    return figs


def selftest_procedure(
    info: Info, report: SelfTestReport, set_watchdog_feeding: Callable[[bool], None] | None
) -> Procedure:
    """The fixed self-test sequence; fills and returns ``report``."""
    yield from ready_idle()
    # 1. reference load recognised
    status = None
    try:
        status = yield from use_reference_load(1_000.0, report.notes)
        report.steps.append(
            StepResult(
                "Reference load 1 kΩ recognised",
                Verdict.PASS,
                (Figure("Load impedance (STATUS)", status.impedance_ohm, "Ω", 950.0, 1050.0),),
            )
        )
    except ProcedureError as exc:
        report.steps.append(
            StepResult("Reference load 1 kΩ recognised", Verdict.FAIL, note=str(exc))
        )
    # 2. output cases
    current_r = 1_000.0
    for case in OUTPUT_CASES:
        if case.resistor_ohm != current_r:
            yield from ready_idle()
            try:
                yield from use_reference_load(case.resistor_ohm, report.notes)
            except ProcedureError as exc:
                report.steps.append(StepResult(case.name, Verdict.FAIL, note=str(exc)))
                continue
            current_r = case.resistor_ohm
        yield from run_steady(case.settings, case.name)
        data = yield Collect(COLLECT_S)
        figs = output_figures(case, data, info.compliance_v)
        verdict = Verdict.PASS if all(f.ok for f in figs) else Verdict.FAIL
        report.steps.append(StepResult(case.name, verdict, tuple(figs)))
    yield from ready_idle()
    yield from use_reference_load(1_000.0, report.notes)
    base = _s(Waveform.SQUARE, 10.0, 100.0, Polarity.POSITIVE)
    # 3. emergency stop
    yield from run_steady(base, "ESTOP test")
    ans: Answer = yield Send(lambda port: port.estop(), "ESTOP test: emergency stop")
    st, waited = yield WaitStatus(
        lambda s: s.state == DeviceState.ESTOPPED, 1.0, "ESTOP test: the device in Estopped"
    )
    after = yield Collect(0.1)
    report.steps.append(
        StepResult(
            "Emergency stop",
            _verdict(
                figs := [
                    Figure(
                        "ESTOP acknowledged after",
                        ans.elapsed_s * 1000,
                        "ms",
                        0.0,
                        ESTOP_LIMIT_S * 1000,
                    ),
                    Figure("Output level after ESTOP (STATUS)", st.level_ua, "µA", None, 0.0),
                    Figure(
                        "Largest |current| after ESTOP",
                        _max_abs(_after_output_off(after)),
                        "µA",
                        None,
                        OFF_CURRENT_UA,
                    ),
                ]
            ),
            tuple(figs),
            note=f"STATUS Estopped {waited * 1000:.0f} ms after the ESTOP was sent",
        )
    )
    yield from ready_idle()
    # 4. watchdog
    name = "Watchdog: heartbeats stopped"
    if set_watchdog_feeding is None:
        report.steps.append(
            StepResult(name, Verdict.NOT_RUN, note="this console cannot suspend its heartbeats")
        )
    else:
        yield from run_steady(base, "Watchdog test")
        limit = info.watchdog_ms / 1000 + LINK_FEED_TIMEOUT_S + WATCHDOG_MARGIN_S
        set_watchdog_feeding(False)
        try:
            st, waited = yield WaitStatus(
                lambda s: s.state != DeviceState.RUNNING,
                limit + 1.0,
                "Watchdog test: output to stop",
            )
        except ProcedureError:
            st, waited = None, math.nan
        finally:
            set_watchdog_feeding(True)
        after = yield Collect(0.1)
        figs = [
            Figure(
                "Watchdog tripped after", waited * 1000, "ms", info.watchdog_ms - 50.0, limit * 1000
            ),
            Figure(
                "Largest |current| after the trip",
                _max_abs(_after_output_off(after)),
                "µA",
                None,
                OFF_CURRENT_UA,
            ),
        ]
        ok = st is not None and st.state == DeviceState.WATCHDOG and all(f.ok for f in figs)
        went = (
            f"device went to {st.state.label}"
            if st is not None
            else f"output still running after {limit + 1.0:.1f} s"
        )
        note = (
            f"{went} (watchdog {info.watchdog_ms} ms; "
            f"the link stops heartbeats {LINK_FEED_TIMEOUT_S * 1000:.0f} ms after the "
            "console stops feeding)"
        )
        report.steps.append(
            StepResult(name, Verdict.PASS if ok else Verdict.FAIL, tuple(figs), note)
        )
        yield from ready_idle()
    yield Send(
        lambda port: port.sim_control(SimOp.LOAD_SKIN, 0.0),
        "Back to the skin load",
        accept=(NakReason.UNSUPPORTED,),
    )
    report.finished_at = datetime.now(UTC)
    return report


def _verdict(figs: list[Figure]) -> Verdict:
    return Verdict.PASS if all(f.ok for f in figs) else Verdict.FAIL


def _max_abs(x: np.ndarray) -> float:
    return float(np.max(np.abs(x))) if x.size else math.nan


def _after_output_off(data: Collected) -> np.ndarray:
    """The currents from where the device marks its output stopped (the first frame
    without OUTPUT_ON after one with it) onwards; all of them if none is marked on.

    A block handed over after a STATUS can still hold samples the device made before that
    STATUS (they crossed the line first; blocks are gathered for up to a display frame, and
    the start of a run can be in the same collection): the device's own per-frame flag,
    not the order of the console's signals, says where its output stopped. Output marked
    on again later is measured; output never marked off leaves nothing (a failed figure).
    """
    on = (data.flags & int(SampleFlag.OUTPUT_ON)) != 0
    if not on.any():
        return data.current_ua
    first_on = int(np.argmax(on))
    if on[first_on:].all():
        return data.current_ua[:0]
    return data.current_ua[first_on + int(np.argmin(on[first_on:])) :]
