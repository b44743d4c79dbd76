"""Session report as PDF (Qt's own QPdfWriter) and CSV."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from PySide6.QtCore import QMarginsF, QRectF, Qt
from PySide6.QtGui import QFont, QImage, QPageLayout, QPageSize, QPainter, QPdfWriter

from app import APP_NAME, paths
from app.store.services import ClientRecord, SessionDetail
from app.ui.records.format import (
    duration,
    event_details,
    local_date,
    local_datetime,
    local_time,
    number,
    program_name,
    zone_names,
)
from app.ui.records.history import outcome_text


def kohm(ohm: float | None) -> str:
    return number(None if ohm is None else ohm / 1000, "kΩ")


def write_csv(detail: SessionDetail, path: Path) -> None:
    """Steps and events of a session, one row each (a ``section`` column tells which)."""
    with paths.open_private(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["section", "time_utc", "position", "zone_or_kind", "planned_s", "actual_s",
                    "charge_uc", "mean_current_ua", "mean_impedance_ohm", "details"])
        for st in detail.steps:
            w.writerow(["step", "", st.position, st.zone, st.planned_s, st.actual_s,
                        st.charge_uc, st.mean_current_ua, st.mean_impedance_ohm,
                        json.dumps(st.parameters, sort_keys=True)])
        for ev in detail.events:
            w.writerow(["event", ev.timestamp.isoformat(), "", ev.kind, "", "", "", "", "",
                        json.dumps(ev.payload, sort_keys=True)])


def write_pdf(detail: SessionDetail, client: ClientRecord, path: Path,
              chart: QImage | None = None) -> None:
    """A one-session report on A4: who, what, how it went, steps, events and the chart.

    The file (health data) is created readable by its owner only."""
    paths.create_private(path, truncate=True)
    writer = QPdfWriter(str(path))
    writer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4),
                                     QPageLayout.Orientation.Portrait,
                                     QMarginsF(15, 15, 15, 15), QPageLayout.Unit.Millimeter))
    writer.setResolution(150)
    writer.setTitle(f"Session report {detail.summary.id}")
    writer.setCreator(APP_NAME)
    p = QPainter(writer)
    try:
        _paint(p, writer, detail, client, chart)
    finally:
        p.end()


def _paint(p: QPainter, writer: QPdfWriter, detail: SessionDetail, client: ClientRecord,
           chart: QImage | None) -> None:
    width = writer.width()
    height = writer.height()
    y = 0.0
    s = detail.summary

    def text(line: str, size: float = 10, bold: bool = False, gap: float = 1.45) -> None:
        nonlocal y
        if y > height - 80:
            writer.newPage()
            y = 0.0
        font = QFont("Sans Serif", size)
        font.setBold(bold)
        p.setFont(font)
        h = p.fontMetrics().height()
        p.drawText(QRectF(0, y, width, h * 1.2), Qt.AlignmentFlag.AlignLeft, line)
        y += h * gap

    text("Microcurrent session report", 16, True)
    text(f"Client: {client.name}    Date of birth: {local_date(client.date_of_birth)}")
    text(f"Session {s.id}: {local_datetime(s.started_at)} — {local_time(s.ended_at)}    "
         f"Duration: {duration(s.duration_s)}    Outcome: {outcome_text(s.outcome, s.training)}")
    text(f"Program: {program_name(s.program)}    Device: {s.device_serial or '—'}    "
         f"Firmware: {s.firmware or '—'}")
    text(f"Charge delivered: {number(s.charge_uc, 'µC', 2)}    Mean current: "
         f"{number(s.mean_current_ua, 'µA', 0)}    Mean impedance: "
         f"{kohm(s.mean_impedance_ohm)}")
    y += 10
    if chart is not None and not chart.isNull():
        h = width * chart.height() / max(chart.width(), 1)
        p.drawImage(QRectF(0, y, width, h), chart)
        y += h + 10
    text("Steps", 12, True)
    if not detail.steps:
        text("No steps recorded.")
    for st in detail.steps:
        text(f"{st.position + 1}. {zone_names(st.zone)}: {duration(st.actual_s)} of "
             f"{duration(st.planned_s)}, {number(st.mean_current_ua, 'µA', 0)}, "
             f"{number(st.charge_uc, 'µC', 2)}, "
             f"{kohm(st.mean_impedance_ohm)}")
    y += 10
    text("Events", 12, True)
    if not detail.events:
        text("No events recorded.")
    for ev in detail.events:
        text(f"{local_time(ev.timestamp)}  {ev.kind}  {event_details(ev.payload)}", 9,
             gap=1.3)
    y += 10
    text(f"Recording: {detail.recorded_samples} samples in {detail.chunks} chunk(s).", 9)
