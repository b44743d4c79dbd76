"""Service history: calibrations, self-tests and watchdog tests recorded in the store.

:class:`ServiceRecorder` writes a finished calibration or self-test through the store's
writer (never waiting on it) and the :class:`ServiceHistoryPanel` lists what is recorded,
newest first. The watchdog step of a self-test is also kept as its own ``watchdog_test``
record, so a device's watchdog checks can be read without opening every report.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app import palette
from app.service.calibration import CalibrationResult
from app.service.selftest import SelfTestReport, Verdict
from app.store.vocabulary import ServiceKind
from app.ui import style

WATCHDOG_STEP = "watchdog"  # a self-test step whose name contains this is the watchdog test


def describe(kind: ServiceKind, payload: dict[str, Any]) -> str:
    """One line of figures for the history list, from a record's payload."""
    try:
        if kind == ServiceKind.CLINIC_SETTINGS:
            by = f" (by {payload.get('by')})" if payload.get("by") else ""
            if payload.get("action") == "import":
                return f"stored in the records, from {payload.get('source', '?')}{by}"
            changed = payload.get("changed") or {}
            parts = [
                f"{name}: {_v(old)} → {_v(new)}"
                for name, (old, new) in sorted(changed.items())
                if name != "version"
            ]
            return ("; ".join(parts) or "saved unchanged") + by
        if kind == ServiceKind.PIN:
            by = f" (by {payload.get('by')})" if payload.get("by") else ""
            action = {
                "set": "PIN set up",
                "change": "PIN changed",
                "reset": "PIN reset (db reset-pin)",
                "import": f"PIN hash imported from {payload.get('source', '?')}",
            }.get(str(payload.get("action")), str(payload.get("action")))
            old, new = payload.get("old"), payload.get("new")
            return action + (f": {old} → {new}" if old and new else "") + by
        if kind == ServiceKind.CALIBRATION:
            return (
                f"current gain {float(payload['current_gain']):.5f}, offset "
                f"{float(payload['current_offset_ua']):+.3f} µA; voltage gain "
                f"{float(payload['voltage_gain']):.5f}, offset "
                f"{float(payload['voltage_offset_v']) * 1000:+.2f} mV "
                f"(reference {float(payload['resistor_ohm']):g} Ω)"
            )
        steps = payload.get("steps") or []
        if kind == ServiceKind.SELFTEST:
            failed = [s["name"] for s in steps if s.get("verdict") == Verdict.FAIL.value]
            not_run = sum(s.get("verdict") == Verdict.NOT_RUN.value for s in steps)
            if not failed and not not_run:
                return f"all {len(steps)} steps passed"
            parts = [f"{len(steps)} steps"]
            if failed:
                parts.append(f"failed: {', '.join(failed)}")
            if not_run:
                parts.append(f"{not_run} not run")
            return " · ".join(parts)
        step = payload.get("step") or {}
        parts = [
            f"{f['name']} {float(f['value']):.4g} {f['unit']}".strip()
            for f in step.get("figures", [])
            if f.get("value") is not None
        ]
        note = str(step.get("note", "")).split(" (")[0]  # the detail stays in the payload
        return " · ".join([*parts, note] if note else parts)
    except (KeyError, TypeError, ValueError):
        return "(figures unreadable)"


def _v(value: Any) -> str:
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{k} {_v(v)}" for k, v in sorted(value.items())) + "}"
            if value
            else "none"
        )
    if isinstance(value, float):
        return f"{value:g}"
    return "—" if value is None else str(value)


class ServiceRecorder(QObject):
    """Records finished procedures in the store; ``recorded`` after each commit and
    ``failed(message)`` when the store refused a record (both in the GUI thread)."""

    recorded = Signal()
    failed = Signal(str)

    def __init__(self, store, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store

    def _submit(
        self,
        kind: ServiceKind,
        payload: dict[str, Any],
        serial: str,
        firmware: str,
        passed: bool | None,
    ) -> None:
        try:
            future = self.store.writer.add_service_record(
                kind,
                payload,
                device_serial=serial,
                firmware=firmware,
                passed=passed,  # the operator: the one signed in (filled by the writer)
            )
        except ValueError as exc:
            self.failed.emit(f"The {kind.label.lower()} was not recorded: {exc}")
            return
        # the future resolves in the writer thread: signals reach the GUI thread queued
        future.add_done_callback(
            lambda f: (
                self.failed.emit(f"The {kind.label.lower()} was not recorded: {f.exception()}")
                if f.exception() is not None
                else self.recorded.emit()
            )
        )

    def record_calibration(self, result: CalibrationResult) -> None:
        self._submit(
            ServiceKind.CALIBRATION,
            result.as_dict(),
            result.device_serial,
            result.firmware,
            result.written,
        )

    def record_selftest(self, report: SelfTestReport) -> None:
        device = report.as_dict()
        serial = str(report.device.get("serial", ""))
        firmware = str(report.device.get("firmware", ""))
        self._submit(ServiceKind.SELFTEST, device, serial, firmware, report.passed)
        for step in device["steps"]:
            if WATCHDOG_STEP in step["name"].lower():
                passed = (
                    None
                    if step["verdict"] == Verdict.NOT_RUN.value
                    else step["verdict"] == Verdict.PASS.value
                )
                self._submit(
                    ServiceKind.WATCHDOG_TEST,
                    {"device": report.device, "started_at": device["started_at"], "step": step},
                    serial,
                    firmware,
                    passed,
                )


class ServiceHistoryPanel(QWidget):
    """The newest service records of every device (reads the store; never writes)."""

    loaded = Signal()  # the records were read (off the GUI thread) and are shown

    COLUMNS = ("When (UTC)", "Procedure", "Device", "Firmware", "Result", "Figures")

    def __init__(self, store, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.records: list = []
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        top.addWidget(self.summary, 1)
        top.addWidget(self.refresh_button)
        layout.addLayout(top)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        for col in range(len(self.COLUMNS) - 1):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        layout.addWidget(self.table, 1)
        self._reads = None  # BackgroundReads on the store's engine, made when first needed
        self.refresh()

    def show_problem(self, message: str) -> None:
        self.summary.setText(style.pill("NOT RECORDED", style.ALARM) + " " + message)

    def refresh(self) -> None:
        if self.store is None:
            self.records = []
            self.table.setRowCount(0)
            self.summary.setText("No records database: calibrations and self-tests are not kept.")
            return
        from app.store.services import service_records
        from app.ui.background import BackgroundReads

        if self._reads is None or self._reads.engine is not self.store.engine:
            self._reads = BackgroundReads(self.store.engine, self)
            self._reads.failed.connect(
                lambda message: self.summary.setText(
                    style.pill("UNAVAILABLE", style.ALARM) + " " + message
                )
            )
        self._reads.read(
            partial(service_records, limit=100),
            on_result=self._show,
            what="reading the service history",
            key="service_history",
        )

    def _show(self, records) -> None:
        self.records = records
        self.table.setRowCount(len(self.records))
        colours = {True: style.OK, False: style.ALARM}
        for row, r in enumerate(self.records):
            cells = (
                f"{r.at:%Y-%m-%d %H:%M:%S}",
                r.kind.label,
                r.device_serial or "—",
                r.firmware or "—",
                r.verdict,
                describe(r.kind, r.payload),
            )
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 4 and r.passed is not None:
                    item.setForeground(_qcolor(palette.WHITE))
                    item.setBackground(_qcolor(colours[r.passed]))
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(row, col, item)
        self.summary.setText(
            "No calibration or self-test recorded yet."
            if not self.records
            else f"{len(self.records)} most recent record(s), newest first. Every calibration "
            "and self-test run on this bench is kept in the records database."
        )
        self.loaded.emit()


def _qcolor(name: str):
    from PySide6.QtGui import QColor

    return QColor(name)
