"""Session history of a client: a table and a chart over time."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app import palette
from app.store import services
from app.store.vocabulary import Outcome
from app.ui import style
from app.ui.labels import ElidedLabel
from app.ui.records.bridge import RecordsStore
from app.ui.records.format import duration, local_datetime, number, program_name, program_names

COLUMNS = ("Date", "Program", "Duration", "Mean current", "Impedance", "Charge", "Outcome")
OUTCOME_COLOURS = {
    Outcome.COMPLETED: style.OK,
    Outcome.STOPPED: style.MUTED,
    Outcome.EMERGENCY_STOPPED: style.ALARM,
    Outcome.INTERRUPTED: style.WARN,
    Outcome.FAULT: style.ALARM,
}


def outcome_text(outcome: Outcome | None, training: bool) -> str:
    text = outcome.label if outcome is not None else "Running"
    return text + (" (training)" if training else "")


class SessionHistory(QWidget):
    """``session_selected(session_id)`` when a row is chosen."""

    session_selected = Signal(int)
    loaded = Signal(int)  # the client's history arrived and is shown

    def __init__(self, store: RecordsStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.client_id: int | None = None
        self.sessions: list[services.SessionSummary] = []
        self.title = ElidedLabel("Session history")  # a long name never widens the view
        self.title.setStyleSheet("font-size: 16px; font-weight: 600")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        # one quantity at a time, chosen above the chart: the view is as narrow as the
        # records tab beside the treatment panel (about 400 px), too narrow for three
        # plots side by side and too short for three stacked (their titles overprinted)
        self.chart_choice = QComboBox()
        self.chart_pages = QStackedWidget()
        self.plots = {}
        for key, label, unit, colour in (
            ("current", "Mean current", "µA", style.CURRENT),
            ("duration", "Duration", "min", style.MUTED),
            ("impedance", "Impedance", "kΩ", style.VOLTAGE),
        ):
            widget = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem()})
            widget.setBackground(palette.PLOT_LIGHT)
            p = widget.getPlotItem()
            left = p.getAxis("left")
            left.enableAutoSIPrefix(False)  # a "(x0.001)" would overprint the title
            left.setLabel(f"{label} ({unit})")
            p.showGrid(x=True, y=True, alpha=0.3)
            p.setMouseEnabled(x=True, y=False)
            curve = p.plot(
                [],
                [],
                pen=pg.mkPen(colour, width=2),
                symbol="o",
                symbolSize=7,
                symbolBrush=colour,
                symbolPen=None,
            )
            self.plots[key] = (p, curve)
            self.chart_pages.addWidget(widget)
            self.chart_choice.addItem(f"{label} ({unit})", key)
        self.chart_choice.currentIndexChanged.connect(self._chart_chosen)
        self.chart = QWidget()
        chart_lay = QVBoxLayout(self.chart)
        chart_lay.setContentsMargins(0, 0, 0, 0)
        choice_row = QHBoxLayout()
        choice_row.addWidget(QLabel("Chart over time"))
        choice_row.addWidget(self.chart_choice, 1)
        chart_lay.addLayout(choice_row)
        chart_lay.addWidget(self.chart_pages, 1)
        self.empty = QLabel("No sessions yet.")
        self.empty.setStyleSheet(f"color: {style.MUTED}")
        # in place of the chart while no session has a figure to plot (empty axes say
        # nothing): what would be plotted, and why there is nothing yet
        self.no_chart = QLabel(
            "The chart shows each finished session's mean current, duration and skin "
            "impedance once a session has them."
        )
        self.no_chart.setWordWrap(True)
        self.no_chart.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.no_chart.setStyleSheet(f"color: {style.MUTED}")
        self.chart_area = QStackedWidget()
        self.chart_area.addWidget(self.chart)
        self.chart_area.addWidget(self.no_chart)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.chart_area)
        split.setSizes([250, 350])
        lay = QVBoxLayout(self)
        lay.addWidget(self.title)
        lay.addWidget(self.empty)
        lay.addWidget(split, 1)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        store.records_changed.connect(self.refresh)

    def set_client(self, client_id: int) -> None:
        self.client_id = client_id
        self.refresh()

    def refresh(self) -> None:
        """Read the client and their sessions off the GUI thread; shown when they arrive."""
        if self.client_id is None:
            return
        self.store.read(
            _client_and_history,
            self.client_id,
            on_result=self._show,
            what="reading the session history",
            key="history",
        )

    def _show(self, result) -> None:
        record, sessions = result
        if record is None or record.id != self.client_id:
            return
        self.title.setText(f"Session history — {record.name}")
        self.sessions = list(reversed(sessions))
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.sessions))
        names = program_names()
        for row, s in enumerate(self.sessions):
            out = QTableWidgetItem(outcome_text(s.outcome, s.training))
            if s.outcome is not None:
                out.setForeground(pg.mkColor(OUTCOME_COLOURS[s.outcome]))
            cells = [
                QTableWidgetItem(local_datetime(s.started_at)),
                QTableWidgetItem(program_name(s.program, names)),
                QTableWidgetItem(duration(s.duration_s)),
                QTableWidgetItem(number(s.mean_current_ua, "µA", 0)),
                QTableWidgetItem(
                    number(
                        None if s.mean_impedance_ohm is None else s.mean_impedance_ohm / 1000, "kΩ"
                    )
                ),
                QTableWidgetItem(number(s.charge_uc, "µC", 2)),
                out,
            ]
            cells[0].setData(Qt.ItemDataRole.UserRole, s.id)
            for col, item in enumerate(cells):
                if 2 <= col <= 5:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.blockSignals(False)
        self.empty.setVisible(not self.sessions)
        self._update_chart()
        self.loaded.emit(record.id)

    def _update_chart(self) -> None:
        done = [s for s in reversed(self.sessions) if s.ended_at is not None]
        x = np.array([s.started_at.timestamp() for s in done], dtype=float)

        def series(values):
            return np.array([np.nan if v is None else v for v in values], dtype=float)

        data = {
            "current": series(s.mean_current_ua for s in done),
            "duration": series(s.duration_s / 60 for s in done),
            "impedance": series(
                None if s.mean_impedance_ohm is None else s.mean_impedance_ohm / 1000 for s in done
            ),
        }
        for key, (plot, curve) in self.plots.items():
            y = data[key]
            ok = np.isfinite(y)
            curve.setData(x[ok], y[ok])
            if ok.any():
                _fit(plot, x[ok], y[ok])
        shown = any(np.isfinite(y).any() for y in data.values())
        self.chart_area.setCurrentWidget(self.chart if shown else self.no_chart)

    def _chart_chosen(self, index: int) -> None:
        self.chart_pages.setCurrentIndex(index)
        plot, curve = self.plots[self.chart_choice.itemData(index)]
        x, y = curve.getData()
        if x is not None and len(x):
            _fit(plot, x, y)  # (fitted while hidden, at no size: again now it is shown)

    def _selection_changed(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            sid = self.table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole)
            self.session_selected.emit(int(sid))


DAY_S = 86_400.0


def _fit(plot, x: np.ndarray, y: np.ndarray) -> None:
    """The sessions in view, with room around them: at least a day either side on the
    time axis (one session, or several on one day, would otherwise span seconds and read
    as "00.250 00.500"), and the values with a margin (a constant one too)."""
    span = float(x.max() - x.min())
    pad = max(span * 0.05, DAY_S)
    plot.setXRange(float(x.min()) - pad, float(x.max()) + pad, padding=0)
    lo, hi = float(np.min(y)), float(np.max(y))
    margin = max((hi - lo) * 0.1, abs(hi) * 0.1, 1.0)
    plot.setYRange(min(0.0, lo) if lo >= 0 else lo - margin, hi + margin, padding=0)


def _client_and_history(engine, client_id: int):
    """One background read: the client's record and their sessions."""
    return services.get_client(engine, client_id), services.session_history(engine, client_id)
