"""Calibration and self-test panels: run a bench procedure, show and keep its result."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import QMarginsF, Signal
from PySide6.QtGui import QPageLayout, QPageSize, QPdfWriter, QTextDocument
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app import paths
from app.service.calibration import (
    CLEARING,
    DEFAULT_RESISTOR_OHM,
    DEFAULT_SETPOINTS_UA,
    LEFT_UNCALIBRATED,
    CalibrationError,
    CalibrationResult,
    calibration_procedure,
)
from app.service.procedure import ProcedureRunner
from app.service.selftest import (
    SELFTEST_MAX_UA,
    SelfTestReport,
    StepResult,
    Verdict,
    selftest_procedure,
)
from app.ui import style


def parse_setpoints(text: str) -> list[float]:
    """``"100, 250 500"`` → [100.0, 250.0, 500.0]; ValueError naming the bad entry."""
    parts = [p for p in re.split(r"[,;\s]+", text.strip()) if p]
    values = []
    for p in parts:
        try:
            x = float(p)
        except ValueError:
            raise ValueError(f"set point {p!r} is not a number") from None
        if not (math.isfinite(x) and x > 0):
            raise ValueError(f"set point {p} µA must be a positive number")
        values.append(x)
    if len(set(values)) < 2:
        raise ValueError("give at least two different set points, e.g. 100, 250, 500")
    return values


class _ProcedurePanel(QWidget):
    """Shared plumbing: the bench's one runner, run/abort buttons, a progress line."""

    def __init__(self, runner: ProcedureRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self._mine = False
        self.run_button = QPushButton("Run")
        self.run_button.setObjectName("primary")
        self.abort_button = QPushButton("Abort")
        self.abort_button.setEnabled(False)
        self.abort_button.clicked.connect(lambda: self.runner.abort())
        self.progress = QLabel("Ready.")
        self.progress.setWordWrap(True)
        runner.progressed.connect(self._on_progress)
        runner.finished.connect(self._on_finished)
        runner.failed.connect(self._on_failed)

    def _start(self, procedure, max_ua: float, label: str) -> None:
        self._mine = True
        self.run_button.setEnabled(False)
        self.abort_button.setEnabled(True)
        self._show("Starting…", "")
        self.runner.run(procedure, max_ua=max_ua, label=label)

    def _show(self, text: str, colour: str) -> None:
        self.progress.setText(text)
        self.progress.setStyleSheet(f"color:{colour};font-weight:600" if colour else "")

    def _on_progress(self, text: str) -> None:
        if self._mine:
            self._show(text + "…", "")

    def _done(self) -> bool:
        mine, self._mine = self._mine, False
        self.run_button.setEnabled(True)
        self.abort_button.setEnabled(False)
        return mine

    def _on_finished(self, result: object) -> None:
        if self._done():
            self.finished(result)

    def _on_failed(self, reason: str) -> None:
        if self._done():
            self._show(f"Stopped: {reason}.", style.ALARM)
            self.stopped(reason)

    def finished(self, result: object) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def stopped(self, reason: str) -> None:
        """The procedure ended early (after the progress line shows why)."""


class CalibrationPanel(_ProcedurePanel):
    """Reference resistor and set points in; gain/offset per channel out, written to the
    device. ``calibration_completed(CalibrationResult)`` once it is written and verified."""

    calibration_completed = Signal(object)

    def __init__(
        self, runner: ProcedureRunner, info: Callable[[], object], parent: QWidget | None = None
    ) -> None:
        super().__init__(runner, parent)
        self._info = info
        self._cleared = False  # the running procedure has cleared the device's calibration
        self.result: CalibrationResult | None = None
        layout = QVBoxLayout(self)
        setup = QGroupBox("Reference load")
        form = QFormLayout(setup)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self.resistor = QDoubleSpinBox()
        self.resistor.setRange(100.0, 1_000_000.0)
        self.resistor.setDecimals(0)
        self.resistor.setSuffix(" Ω")
        self.resistor.setValue(DEFAULT_RESISTOR_OHM)
        self.resistor.setMinimumWidth(160)
        self.setpoints = QLineEdit(", ".join(f"{s:g}" for s in DEFAULT_SETPOINTS_UA))
        self.setpoints.setMinimumWidth(240)
        self.setpoints.setToolTip("Two or more currents in µA, separated by commas")
        form.addRow("Reference resistor", self.resistor)
        form.addRow("Set points (µA)", self.setpoints)
        hint = QLabel(
            "The device drives square positive pulses through the reference "
            "resistor at each set point. Probes must not touch a person. The "
            "previous calibration is cleared while measuring."
        )
        hint.setWordWrap(True)
        hint.setStyleSheet(f"color:{style.MUTED}")
        form.addRow(hint)
        layout.addWidget(setup)
        buttons = QHBoxLayout()
        self.run_button.setText("Calibrate")
        self.run_button.clicked.connect(self.start)
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.abort_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        box = QGroupBox("Result")
        inner = QVBoxLayout(box)
        self.table = QTableWidget(2, 4)
        self.table.setHorizontalHeaderLabels(["Channel", "Gain", "Offset", "Fit residual"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setFixedHeight(
            self.table.horizontalHeader().sizeHint().height()
            + 2 * self.table.verticalHeader().defaultSectionSize()
            + 4
        )
        inner.addWidget(self.table)
        self.verify = QLabel("No calibration run in this session.")
        self.verify.setWordWrap(True)
        inner.addWidget(self.verify)
        self.points = QPlainTextEdit()
        self.points.setTabChangesFocus(True)  # Tab moves on; never typed in
        self.points.setReadOnly(True)
        self.points.setPlaceholderText("The averaged measurements appear here.")
        inner.addWidget(self.points, 1)
        layout.addWidget(box, 1)

    def start(self) -> None:
        info = self._info()
        if info is None:
            self._show("The device is not connected.", style.ALARM)
            return
        try:
            setpoints = parse_setpoints(self.setpoints.text())
            procedure = calibration_procedure(info, self.resistor.value(), setpoints)
        except (ValueError, CalibrationError) as exc:
            self._show(str(exc), style.ALARM)
            return
        self._start(procedure, max(setpoints), "calibration's highest set point")

    def _on_progress(self, text: str) -> None:
        if self._mine and text == CLEARING:
            self._cleared = True
        super()._on_progress(text)

    def _start(self, procedure, max_ua: float, label: str) -> None:
        self._cleared = False
        super()._start(procedure, max_ua, label)

    def stopped(self, reason: str) -> None:
        if self._cleared and LEFT_UNCALIBRATED not in reason:
            self._show(f"Stopped: {reason}; {LEFT_UNCALIBRATED}.", style.ALARM)

    def finished(self, result: object) -> None:
        assert isinstance(result, CalibrationResult)
        self.result = result
        rows = (
            ("Current", result.current, "µA", 1.0, "{:+.3f}"),
            ("Voltage", result.voltage, "mV", 1000.0, "{:+.2f}"),
        )
        for r, (name, fit, unit, k, fmt) in enumerate(rows):
            for c, text in enumerate(
                (
                    name,
                    f"{fit.gain:.5f}",
                    f"{fmt.format(fit.offset * k)} {unit}",
                    f"{fit.residual_rms * k:.3g} {unit}",
                )
            ):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.verify.setText(
            f"Written to {result.device_model} {result.device_serial} at "
            f"{result.performed_at:%H:%M:%S} UTC. Check after writing: current "
            f"{result.verify_current_error_ua:+.3f} µA, voltage "
            f"{result.verify_voltage_error_v * 1000:+.2f} mV from the truth."
        )
        self.points.setPlainText(
            "True current → reported current, voltage\n"
            + "\n".join(
                f"{p.true_current_ua:7.1f} µA → {p.measured_current_ua:9.3f} µA, "
                f"{p.measured_voltage_v:8.4f} V  ({p.samples} samples)"
                for p in result.points
            )
        )
        self._show("Calibration written to the device and verified.", style.OK)
        self.calibration_completed.emit(result)


class SelfTestPanel(_ProcedurePanel):
    """Runs the fixed self-test and shows its report; saves it as PDF."""

    selftest_completed = Signal(object)

    def __init__(
        self,
        runner: ProcedureRunner,
        info: Callable[[], object],
        feeding: Callable[[bool], None] | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(runner, parent)
        self._info = info
        self._feeding = feeding
        self.report: SelfTestReport | None = None
        layout = QVBoxLayout(self)
        hint = QLabel(
            "Drives the device into 1 kΩ, 10 kΩ and 100 kΩ reference loads at "
            "several waveforms, frequencies, amplitudes and polarities, then checks "
            "the emergency stop and the watchdog. About 6 s. Probes must not touch "
            "a person."
        )
        hint.setWordWrap(True)
        hint.setStyleSheet(f"color:{style.MUTED}")
        layout.addWidget(hint)
        buttons = QHBoxLayout()
        self.run_button.setText("Run self-test")
        self.run_button.clicked.connect(self.start)
        self.pdf_button = QPushButton("Save report as PDF…")
        self.pdf_button.setEnabled(False)
        self.pdf_button.clicked.connect(self._ask_pdf)
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.abort_button)
        buttons.addStretch(1)
        buttons.addWidget(self.pdf_button)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        self.view = QTextBrowser()
        self.view.setPlaceholderText("No self-test run in this session.")
        layout.addWidget(self.view, 1)

    def set_watchdog_feeding(self, feeding: Callable[[bool], None] | None) -> None:
        self._feeding = feeding

    def start(self) -> None:
        info = self._info()
        if info is None:
            self._show("The device is not connected.", style.ALARM)
            return
        self.report = SelfTestReport(info.as_dict())
        self.view.clear()
        self.pdf_button.setEnabled(False)
        self._start(
            selftest_procedure(info, self.report, self._feeding),
            SELFTEST_MAX_UA,
            "self-test's highest output",
        )

    def finished(self, result: object) -> None:
        assert isinstance(result, SelfTestReport)
        self.report = result
        self.view.setHtml(result.to_html())
        self.pdf_button.setEnabled(True)
        self._show(f"Self-test {result.verdict_text}.", style.OK if result.passed else style.ALARM)
        self.selftest_completed.emit(result)

    def stopped(self, reason: str) -> None:
        rep = self.report
        if rep is None:
            return
        rep.steps.append(StepResult("Sequence completed", Verdict.FAIL, note=reason))
        rep.finished_at = datetime.now(UTC)
        self.finished(rep)

    def save_pdf(self, path: str) -> None:
        """Write the last report to ``path`` as an A4 PDF."""
        if self.report is None:
            raise ValueError("no self-test report to save")
        paths.create_private(Path(path), truncate=True)  # 0600 from its creation
        writer = QPdfWriter(path)
        writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
        writer.setPageMargins(QMarginsF(15, 15, 15, 15), QPageLayout.Unit.Millimeter)
        writer.setTitle("Microcurrent device self-test")
        doc = QTextDocument()
        doc.setHtml(self.report.to_html())
        doc.print_(writer)

    def _ask_pdf(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save self-test report", "selftest.pdf", "PDF (*.pdf)"
        )
        if not path:
            return
        try:
            self.save_pdf(path)
        except OSError as exc:
            self._show(f"Could not save the report: {exc}", style.ALARM)
        else:
            self._show(f"Report saved to {path}.", "")
