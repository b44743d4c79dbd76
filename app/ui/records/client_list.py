"""Client list with search."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.store import services
from app.store.screening import Status
from app.ui import style
from app.ui.labels import plain_tooltip
from app.ui.records.bridge import RecordsStore
from app.ui.records.format import local_date

COLUMNS = ("Name", "Date of birth", "Screening", "Sessions", "Last session")
SCREENING = {
    Status.CLEARED: ("Cleared", style.OK),
    Status.NEEDS_OVERRIDE: ("Override needed", style.WARN),
    Status.BLOCKED: ("Blocked", style.ALARM),
    Status.EXPIRED: ("Expired", style.WARN),
    Status.MISSING: ("Screening needed", style.MUTED),
}


class ClientList(QWidget):
    """Searchable list of clients; the training client is listed first."""

    client_selected = Signal(int)
    new_client_requested = Signal()

    def __init__(self, store: RecordsStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.search = QLineEdit(placeholderText="Search by name or contact…")
        self.search.setClearButtonEnabled(True)
        self.new_button = QPushButton("New client")
        self.new_button.setObjectName("primary")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        # the name is what the practitioner reads: room for about 18 characters of it
        # (the desk, with the client editor beside it, still fits a 1280-pixel screen)
        self.table.setMinimumWidth(self.fontMetrics().horizontalAdvance("M" * 10) + 300)
        self.status = QLabel()
        self.status.setStyleSheet(f"color: {style.MUTED}")

        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.new_button)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.status)

        self._to_select: tuple[int, bool] | None = None  # (client, quiet) once it is listed
        self._debounce = QTimer(self, singleShot=True, interval=200, timeout=self.refresh)
        self.search.textChanged.connect(lambda _t: self._debounce.start())
        self.new_button.clicked.connect(self.new_client_requested)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        store.records_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        """Search again (off the GUI thread); the list follows when the answer comes."""
        self.store.read(
            partial(
                services.search_clients,
                text=self.search.text(),
                questionnaire=self.store.questionnaire,
            ),
            on_result=self._show_clients,
            what="searching the clients",
            key="client_list",
            on_error=lambda exc: self.status.setText(
                "The client list could not be read: see the banner."
            ),
        )

    def _show_clients(self, clients) -> None:
        selected = self.selected_client_id()
        self.table.blockSignals(True)
        self.table.setRowCount(len(clients))
        for row, c in enumerate(clients):
            name = QTableWidgetItem(c.name)
            name.setData(Qt.ItemDataRole.UserRole, c.id)
            name.setToolTip(plain_tooltip(c.name))  # whole, where the column cuts it short
            if c.is_training:
                font = name.font()
                font.setItalic(True)
                name.setFont(font)
            label, colour = SCREENING[c.screening]
            if c.is_training:
                label = "Demo head"
            status = QTableWidgetItem(label)
            status.setForeground(QColor(colour))
            cells = (
                name,
                QTableWidgetItem(local_date(c.date_of_birth)),
                status,
                QTableWidgetItem(str(c.sessions)),
                QTableWidgetItem(
                    local_date(c.last_session_at.astimezone().date() if c.last_session_at else None)
                ),
            )
            cells[3].setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            for col, item in enumerate(cells):
                self.table.setItem(row, col, item)
            if c.id == selected:
                self.table.selectRow(row)
        self.table.blockSignals(False)
        self._select_pending()
        self._to_select = None  # not in this answer (a search hides it): asked no longer
        text = self.search.text().strip()
        self.status.setText(f"{len(clients)} client(s)" + (f" matching “{text}”" if text else ""))

    def selected_client_id(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 0)
        return int(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def select_client(self, client_id: int, *, quiet: bool = False) -> None:
        """Select ``client_id``'s row: now if the list shows it, else when the list next
        comes back from the store (a client just saved is not in it yet: the list is read
        off the GUI thread). ``quiet``: no ``client_selected`` (the caller opened it)."""
        self._to_select = (client_id, quiet)
        if self._select_pending():
            return
        self.refresh()

    def _select_pending(self) -> bool:
        if self._to_select is None:
            return False
        client_id, quiet = self._to_select
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(Qt.ItemDataRole.UserRole) == client_id:
                self._to_select = None
                self.table.blockSignals(quiet)
                self.table.selectRow(row)
                self.table.blockSignals(False)
                return True
        return False

    def _selection_changed(self) -> None:
        cid = self.selected_client_id()
        if cid is not None:
            self.client_selected.emit(cid)
