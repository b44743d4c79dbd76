"""The frame log view: raw frames in hex beside their decoding, pausable, filterable."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QSortFilterProxyModel, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.service.framelog import FrameLogModel

#: filter label -> predicate on (direction, type name)
FILTERS = {
    "All frames": lambda d, t: True,
    "All but SAMPLES": lambda d, t: t != "SAMPLES",
    "Commands and answers": lambda d, t: d == "tx" or t in ("ACK", "NAK", "INFO"),
    "STATUS": lambda d, t: t == "STATUS",
    "EVENT": lambda d, t: t == "EVENT",
    "SAMPLES": lambda d, t: t == "SAMPLES",
    "Errors and notes": lambda d, t: t in ("ERROR", "NOTE"),
}


class _TypeFilter(QSortFilterProxyModel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.predicate = FILTERS["All frames"]

    def filterAcceptsRow(self, row: int, parent: QModelIndex) -> bool:  # noqa: N802
        src = self.sourceModel()
        if not isinstance(src, FrameLogModel) or row >= src.rowCount():
            return True
        r = src.row(row)
        return bool(self.predicate(r.direction, r.type_name))


class FrameLogView(QWidget):
    """Pause/resume, clear, filter by type; follows the newest frame unless scrolled up."""

    capture_changed = Signal(bool)  # True while frames are being captured

    def __init__(self, model: FrameLogModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.proxy = _TypeFilter(self)
        self.proxy.setSourceModel(model)
        layout = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self._on_pause)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(model.clear)
        self.filter_box = QComboBox()
        self.filter_box.addItems(list(FILTERS))
        self.filter_box.currentTextChanged.connect(self.set_filter)
        self.count = QLabel()
        bar.addWidget(self.pause_button)
        bar.addWidget(self.clear_button)
        bar.addSpacing(12)
        bar.addWidget(QLabel("Show:"))
        bar.addWidget(self.filter_box)
        bar.addStretch(1)
        bar.addWidget(self.count)
        layout.addLayout(bar)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(20)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        mono.setPointSizeF(max(8.0, mono.pointSizeF() - 1))
        self.table.setFont(mono)
        header = self.table.horizontalHeader()
        for col, width in enumerate((70, 52, 76, 50, 330)):
            header.resizeSection(col, width)
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)
        model.rowsInserted.connect(self._on_rows)
        model.modelReset.connect(self._update_count)
        self._update_count()
        model.set_shown(False)  # until this view is shown

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self.model.set_shown(True)

    def hideEvent(self, event) -> None:  # noqa: N802 - Qt API
        self.model.set_shown(False)  # no rows inserted into a table nobody sees
        super().hideEvent(event)

    @property
    def capturing(self) -> bool:
        return not self.model.paused

    def set_filter(self, label: str) -> None:
        self.proxy.predicate = FILTERS[label]
        self.proxy.invalidate()
        self._update_count()

    def _on_pause(self, paused: bool) -> None:
        self.model.set_paused(paused)
        self.pause_button.setText("Resume" if paused else "Pause")
        self.capture_changed.emit(not paused)
        self._update_count()

    def _on_rows(self, *_: object) -> None:
        bar = self.table.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 2
        self._update_count()
        if at_bottom:
            self.table.scrollToBottom()

    def _update_count(self) -> None:
        text = (
            f"{self.proxy.rowCount():,} shown of {self.model.rowCount():,} "
            f"(last {self.model.max_rows:,} kept)"
        )
        if self.model.paused:
            text = "PAUSED — " + text
        self.count.setText(text)
