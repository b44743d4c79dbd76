"""The records workspace: client list on the left; client, screening, history and
session detail on the right."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app import palette
from app.store import audit
from app.ui import style
from app.ui.records.bridge import RecordsStore
from app.ui.records.client_editor import ClientEditor
from app.ui.records.client_list import ClientList
from app.ui.records.courses import CoursesView
from app.ui.records.history import SessionHistory
from app.ui.records.screening_form import ScreeningForm
from app.ui.records.session_detail import SessionDetailView


class RecordsPanel(QWidget):
    """``client_chosen(client_id)``: the operator picked the client to treat next."""

    client_chosen = Signal(int)

    def __init__(self, store: RecordsStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.clients = ClientList(store)
        self.editor = ClientEditor(store)
        self.screening = ScreeningForm(store)
        self.history = SessionHistory(store)
        self.detail = SessionDetailView(store)
        self.courses = CoursesView(store)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.editor, "Client")
        self.tabs.addTab(self.screening, "Screening && consent")
        self.tabs.addTab(self.history, "History")
        # the session and the course views scroll within their tab: at 1280 × 800 the
        # desk gives them less height than everything they show needs
        self._pages: dict[QWidget, QWidget] = {
            self.detail: _scrolled(self.detail),
            self.courses: _scrolled(self.courses),
        }
        self.tabs.addTab(self._pages[self.detail], "Session")
        self.tabs.addTab(self._pages[self.courses], "Courses")
        # every tab's title whole: no scroll arrows hiding the last tab; the splitter
        # gives the tabs the width their titles need
        self.tabs.setUsesScrollButtons(False)
        self.tabs.tabBar().setElideMode(Qt.TextElideMode.ElideNone)
        self.error = QLabel(wordWrap=True)
        self.error.setStyleSheet(
            f"background: {style.ALARM}; color: {palette.WHITE};"
            " padding: 6px 10px; border-radius: 4px"
        )
        self.error.setVisible(False)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.clients)
        split.addWidget(self.tabs)
        split.setSizes([540, 740])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.error)
        lay.addWidget(split, 1)

        self.clients.client_selected.connect(self.open_client)
        self.clients.new_client_requested.connect(self._new_client)
        self.editor.saved.connect(self._client_saved)
        self.history.session_selected.connect(self.open_session)
        self.detail.shown.connect(self._session_shown)
        store.error_occurred.connect(self._show_error)
        # a slot of this panel (not a lambda): the store outlives the panel, and a slot
        # is disconnected when the panel goes
        store.records_changed.connect(self._hide_error)
        self.tabs.setTabEnabled(1, False)
        self.tabs.setTabEnabled(2, False)
        self.tabs.setTabEnabled(3, False)
        self.tabs.setTabEnabled(4, False)

    def page(self, view: QWidget) -> QWidget:
        """The tab page that holds ``view`` (the view itself, or the area it scrolls in)."""
        return self._pages.get(view, view)

    def show_view(self, view: QWidget) -> None:
        self.tabs.setCurrentWidget(self.page(view))

    def open_client(self, client_id: int) -> None:
        self.store.audit("view_client", audit.client_subject(client_id))
        self.editor.load(client_id)
        self.screening.set_client(client_id)
        self.history.set_client(client_id)
        self.courses.set_client(client_id)
        for i in (1, 2, 4):
            self.tabs.setTabEnabled(i, True)
        self.tabs.setTabEnabled(3, False)
        self.client_chosen.emit(client_id)

    def open_session(self, session_id: int) -> None:
        """The session opens in its tab once read (off the GUI thread)."""
        self.detail.show_session(session_id)

    def _session_shown(self, session_id: int) -> None:
        self.store.audit("view_session", audit.session_subject(session_id))
        self.tabs.setTabEnabled(3, True)
        self.show_view(self.detail)

    def _new_client(self) -> None:
        self.clients.table.clearSelection()
        self.editor.new_client()
        for i in (1, 2, 3, 4):
            self.tabs.setTabEnabled(i, False)
        self.tabs.setCurrentWidget(self.editor)

    def _client_saved(self, client_id: int) -> None:
        """A client saved: a new one is opened at once (its screening is next), and its
        row is selected once the list, read again off the GUI thread, has it."""
        if self.clients.selected_client_id() != client_id:  # a new client: screen them next
            self.open_client(client_id)
            self.tabs.setCurrentWidget(self.page(self.screening))
        self.clients.select_client(client_id, quiet=True)  # (an edited one stays on its tab)

    def _hide_error(self) -> None:
        self.error.setVisible(False)

    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(True)


def _scrolled(view: QWidget) -> QScrollArea:
    """``view`` in a frameless area that scrolls up and down, never sideways."""
    area = QScrollArea(widgetResizable=True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setWidget(view)
    return area
