"""The practitioner's treatment desk: client, screening, program, face map, intensity, stop.

Every output decision goes through the engine's :class:`SessionController` (the session
state machine) and, below it, the console's output authority (live limits and the
client's eligibility, read from the store off the GUI thread); every fact it records goes
to the store through :class:`SessionRecorder` and the store's single writer. The client
shown is the authority's newest reading of the record, so a screening or limit saved
here or in another room shows (and binds) at once. This module only arranges and connects
the views.
"""

from __future__ import annotations

import html
import logging
from collections import defaultdict
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.device.protocol import Info
from app.device.samples import SampleBlock
from app.engine.authority import Driver, OutputAuthority
from app.engine.controller import SessionController
from app.engine.programs import Program, ProgramError, load_library
from app.engine.recorder import SessionRecorder
from app.engine.session import ACTIVE, EmergencyStop, SessionState
from app.engine.zones import zone_states_for_run
from app.scope.widget import ScopeWidget
from app.store.vocabulary import ClientFacts, Outcome
from app.ui import style
from app.ui.face_map import FaceMapWidget
from app.ui.guided_run import GuidedRunPanel
from app.ui.labels import ElidedLabel
from app.ui.limits_panel import LimitsPanel
from app.ui.program_editor import ProgramEditorDialog
from app.ui.records.desk_course import DeskCourse, course_program
from app.ui.workspaces import Workspace

if TYPE_CHECKING:  # the records (SQLAlchemy) load after the window shows: imported then
    from app.store.runtime import RunningStore
    from app.ui.records.panel import RecordsPanel

log = logging.getLogger(__name__)


TREATMENT_DOCK_W = 440  # px: the treatment panel's width beside the face map
SCOPE_DOCK_H = 210  # px: the small scope under it
PULSING = frozenset({SessionState.RAMPING_UP, SessionState.RUNNING})  # the zone pulses


def zone_summary(facts: ClientFacts) -> str:
    """The client's zone screening in a few words for the desk (' · 2 zones excluded')."""
    excluded = len(facts.excluded_zones())
    limited = len({r.zone for r in facts.zone_rules if r.max_ua is not None})
    overridden = len({r.zone for r in facts.zone_rules if r.overridden})
    parts = [
        f"{n} zone{'s' if n != 1 else ''} {what}"
        for n, what in (
            (excluded, "excluded (hatched)"),
            (overridden, "excluded with override"),
            (limited, "with a client ceiling"),
        )
        if n
    ]
    return "".join(f" · {p}" for p in parts)


class PractitionerWorkspace(Workspace):
    """Face map in the centre; client, guided run, limits and a small scope around it."""

    name = "practitioner"
    title = "Practitioner"
    message = Signal(str, str)  # text, kind ("alarm" | "contact" | "info") for the banner

    driver = Driver.DESK

    def __init__(
        self,
        store: RunningStore | None,
        authority: OutputAuthority,
        store_error: str = "",
        parent: QWidget | None = None,
        *,
        records_pending: bool = False,
    ) -> None:
        """``records_pending``: the store opens in the background; :meth:`store_ready` or
        :meth:`store_unavailable` follows."""
        super().__init__(parent)
        self.authority = authority
        self._show_chosen = False  # show the treatment tab when the chosen client is read
        self.store: RunningStore | None = None
        self.records_store = None
        # the records panel (client list, screening, history, session, courses: about
        # 0.2 s to build) is built when its tab is first shown, or asked for (records)
        self._records_panel: RecordsPanel | None = None
        self._records_page: QWidget | None = None
        self._demo_requested = False
        self._device_link = None
        self.controller: SessionController | None = None
        self.recorder: SessionRecorder | None = None
        self.client_id: int | None = None
        self.programs: dict[str, Program] = {}
        self._zone_seconds: dict[str, float] = defaultdict(float)
        self._keys: tuple[QKeySequence, QKeySequence] | None = None  # pause, next step

        # centre: header (client, program, contact) above the face map
        # a long name is elided (whole in its tooltip): it never widens the desk
        self.client_label = ElidedLabel("No client chosen")
        self.client_label.setStyleSheet("font-size:16px;font-weight:700")
        self.screening_label = QLabel()
        self.screening_label.setWordWrap(True)
        self.contact_label = QLabel()
        self.program_box = QComboBox()
        self.program_box.setMinimumWidth(240)
        self.program_box.setToolTip("Treatment program for this session")
        self.edit_programs_button = QPushButton("Edit programs…")
        self.edit_programs_button.setToolTip("Clone a program and edit your own copy")
        self.edit_programs_button.clicked.connect(self._edit_programs)
        self.history_button = QPushButton("Show history")
        self.history_button.setCheckable(True)
        self.history_button.setToolTip(
            "Heat map of how long each zone was treated in this client's past sessions"
        )
        self.history_button.toggled.connect(self._toggle_history)
        self.face = FaceMapWidget()
        self.face.zone_selected.connect(self._zone_selected)
        # offered when a client's session has just ended: sign it here, or later from
        # its record (Clients & records → History → Session)
        self.sign_button = QPushButton("Sign this session…")
        self.sign_button.setToolTip(
            "Sign the session that just ended as performed (it is then locked); "
            "or sign it later from its record"
        )
        self.sign_button.setVisible(False)
        self.sign_button.clicked.connect(self.sign_last_session)
        self._to_sign: str | None = None  # the uid of the session the button signs

        # two rows: who (and contact), then what program; one long row would make the
        # desk wider than a 1280-pixel screen
        head = QHBoxLayout()
        who = QVBoxLayout()
        who.addWidget(self.client_label)
        who.addWidget(self.screening_label)
        head.addLayout(who, 1)
        head.addWidget(self.sign_button, 0, Qt.AlignmentFlag.AlignTop)
        head.addWidget(self.contact_label)
        # the treatment course the session counts in (the client's active one by default)
        self.course = DeskCourse()
        self.course.course_changed.connect(self._course_chosen)
        head.addWidget(self.course)
        what = QHBoxLayout()
        what.addWidget(QLabel("Program"))
        what.addWidget(self.program_box, 1)
        what.addWidget(self.edit_programs_button)
        what.addWidget(self.history_button)
        treatment = QWidget()
        lay = QVBoxLayout(treatment)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.addLayout(head)
        lay.addLayout(what)
        lay.addWidget(self.face, 1)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(treatment, "Treatment")
        self.setCentralWidget(self.tabs)
        # the treatment panel takes the full height at the right (the scope sits under the
        # face map only): the step card and Start/Pause/Stop stay in view at 1280 x 800
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.setCorner(Qt.Corner.TopRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)

        # second tab: the client records (or why they are unavailable); filled below
        self.tabs.addTab(QWidget(), "Clients && records")
        self.tabs.currentChanged.connect(self._tab_shown)

        # right + bottom are filled when the link arrives (they need the controller)
        self.scope = ScopeWidget(compact=True, mask=False)  # no mask test on the desk
        self.scope_dock = self.add_dock(
            "Delivered output", self.scope, Qt.DockWidgetArea.BottomDockWidgetArea, "scope"
        )
        # the face map is what the practitioner works on: it gets the height to spare
        self.resizeDocks([self.scope_dock], [SCOPE_DOCK_H], Qt.Orientation.Vertical)
        self.guided: GuidedRunPanel | None = None
        self.limits: LimitsPanel | None = None
        self._load_programs()
        self.program_box.currentIndexChanged.connect(self._program_chosen)
        if store is not None:
            self.store_ready(store)
        elif records_pending:
            self._records_message("Opening the client records…", style.MUTED)
            self.client_label.setText("Opening the client records…")
        else:
            self.store_unavailable(store_error)

    # ------------------------------------------------------------------ records

    def _records_message(self, text: str, colour: str) -> None:
        label = QLabel(text)
        label.setWordWrap(True)
        label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        label.setStyleSheet(f"color:{colour};padding:12px")
        self._set_records_widget(label)

    def _set_records_widget(self, widget: QWidget) -> None:
        current = self.tabs.currentIndex()
        old = self.tabs.widget(1)
        self.tabs.removeTab(1)
        self.tabs.insertTab(1, widget, "Clients && records")
        self.tabs.setCurrentIndex(current)
        old.deleteLater()

    def store_ready(self, store: RunningStore) -> None:
        """The records are open: the client list, and sessions recorded from now on."""
        if self.store is not None:
            return
        from app.ui.records.bridge import RecordsStore

        self.store = store
        # writes name the operator signed in (the store's OperatorContext)
        self.records_store = RecordsStore(store.engine, store.writer, parent=self)
        self.course.attach(self.records_store)
        self.records_store.error_occurred.connect(lambda t: self.message.emit(t, "alarm"))
        page = QWidget()  # the panel goes in when the tab is first shown
        QVBoxLayout(page).setContentsMargins(0, 0, 0, 0)
        self._records_page = page
        self._set_records_widget(page)
        if self.tabs.currentIndex() == 1:
            self._build_records_panel()
        self._show_client(None)
        self._start_recording()

    @property
    def records(self) -> RecordsPanel | None:
        """The client records panel, built now if it was not yet (None until the records
        are open)."""
        if self._records_panel is None and self._records_page is not None:
            self._build_records_panel()
        return self._records_panel

    def _tab_shown(self, index: int) -> None:
        if index == 1 and self._records_panel is None and self._records_page is not None:
            self._build_records_panel()

    def _build_records_panel(self) -> None:
        from app.ui.records.panel import RecordsPanel

        page = self._records_page
        if self._records_panel is not None or page is None or self.records_store is None:
            return
        panel = RecordsPanel(self.records_store)
        panel.client_chosen.connect(self.choose_client)
        if self.controller is not None:  # no other client while a session runs
            panel.setEnabled(self.controller.state not in ACTIVE)
        layout = page.layout()
        assert layout is not None
        layout.addWidget(panel)
        panel.show()  # at once on a page shown (a layout would show it a turn later)
        self._records_panel = panel

    def store_unavailable(self, error: str) -> None:
        self._records_message(
            f"Client records are unavailable:\n{error}\n\n"
            "Treatments cannot be recorded, so output is disabled.",
            style.ALARM,
        )
        self._show_client(None)
        self.screening_label.setText(
            "Client records are unavailable: treatments cannot be recorded, so output is disabled."
        )

    # ------------------------------------------------------------------ wiring

    def attach_link(self, link) -> None:
        """Create the session controller on the device link (once per link)."""
        if self.controller is not None or link is None:
            return
        self._device_link = link
        self.controller = SessionController(self.authority, driver=self.driver, parent=self)
        ctl = self.controller
        self.guided = GuidedRunPanel(ctl)
        if self._keys is not None:
            self.guided.set_keys(*self._keys)
        self.limits = LimitsPanel(ctl)
        right = QWidget()
        v = QVBoxLayout(right)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(self.guided)
        v.addWidget(self.limits)
        v.addStretch(1)
        # On a short screen the panel scrolls in its dock, never squeezed: the step card
        # and the limits keep the height their wrapped text needs.
        scroll = QScrollArea()
        scroll.setWidget(right)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # not a tab stop: its controls are
        scroll.setMinimumWidth(
            right.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width()
        )
        self.session_dock = self.add_dock(
            "Treatment", scroll, Qt.DockWidgetArea.RightDockWidgetArea, "treatment"
        )
        # a little wider than it must be: the step's instructions on fewer lines
        self.resizeDocks([self.session_dock], [TREATMENT_DOCK_W], Qt.Orientation.Horizontal)
        ctl.state_changed.connect(self._on_state)
        ctl.step_changed.connect(self._on_step)
        ctl.alarm.connect(self._controller_alarm)
        ctl.client_facts_changed.connect(self._client_read)
        link.connected.connect(self._on_connected)
        self._program_chosen()
        self._start_recording()

    def _controller_alarm(self, text: str) -> None:
        """The session's alarms reach the banner; contact loss is a medium-priority one."""
        contact = self.controller is not None and self.controller.state is SessionState.CONTACT_LOST
        self.message.emit(text, "contact" if contact else "alarm")

    def _start_recording(self) -> None:
        """With both the controller and the records: sessions are recorded from now on,
        starting on the training client (a real client is chosen from the list)."""
        if self.store is None or self.controller is None or self.recorder is not None:
            return
        info = self.store.info
        self.recorder = SessionRecorder(
            self.store.writer,
            info.training_client_id,
            training=True,  # the operator: whoever is signed in when a session begins
        )
        self.recorder.course_id = self.course.course_id
        self.controller.record_emitted.connect(self.recorder.on_record)
        link_info = getattr(self._device_link, "info", None)
        if isinstance(link_info, Info):
            self.recorder.set_device(link_info.serial, link_info.firmware)
        program = self.programs.get(self.program_box.currentData())
        if program is not None:
            self.recorder.set_program(program.id)
        # the step already current (its program was loaded before the records opened):
        # without it a session's first step would be recorded with no step row
        self._on_step(self.controller.guided_view())
        if self.client_id is None:
            self.choose_client(info.training_client_id)
        if self._demo_requested:
            self._demo_requested = False
            self.demo_start()

    def _on_connected(self, info: Info) -> None:
        if self.recorder is not None:
            self.recorder.set_device(info.serial, info.firmware)
        self.scope.set_device_info(info)

    # ------------------------------------------------------------------ client & program

    def choose_client(self, client_id: int) -> None:
        """The practitioner picked a client: the authority reads the record (off the GUI
        thread) and keeps reading it; the desk shows each reading (:meth:`_client_read`)."""
        if self.store is None or self.controller is None:
            return
        if self.controller.state in ACTIVE or not self.controller.watch_client(client_id):
            self.message.emit("Finish or stop the running session before changing client.", "info")
            return
        if client_id != self.client_id:
            self.client_id = client_id
            self._show_chosen = True
            self.client_label.setText("Checking the client's record…")
            self.screening_label.setText("")
        if self.history_button.isChecked():
            self._toggle_history(True)

    def _client_read(self, facts: ClientFacts) -> None:
        """A reading of the chosen client's record: what the desk shows, and records."""
        if facts.client_id != self.client_id:
            return
        if self.recorder is not None and not self.recorder.recording:
            self.recorder.client_id = facts.client_id
            self.recorder.training = facts.is_training
        if facts.client_id != self.course.client_id or facts.is_training:
            self.course.set_client(facts.client_id, facts.is_training)
        self._show_client(facts)
        if self._show_chosen:
            self._show_chosen = False
            if facts.allowed:  # else stay on the records: screening or consent comes first
                self.tabs.setCurrentIndex(0)

    def _show_client(self, facts: ClientFacts | None) -> None:
        # the client's excluded zones hatched, ceilings outlined (none without a client)
        self.face.set_zone_rules(() if facts is None else facts.zone_rules)
        if facts is None:
            self.client_label.setText("No client chosen")
            self.screening_label.setText("Choose a client on the “Clients & records” tab.")
            return
        name = (
            "Training head (demo)"
            if facts.is_training
            else (facts.name or f"Client {facts.client_id}")
        )
        self.client_label.setText(name)
        if facts.error:
            self.screening_label.setText(
                style.pill("UNKNOWN", style.ALARM) + f" {html.escape(facts.summary())} — output is "
                "blocked"
            )
        elif facts.allowed:
            limit = f" · own limit {facts.limit_ua:.0f} µA" if facts.limit_ua else ""
            self.screening_label.setText(
                style.pill("CLEARED", style.OK) + limit + zone_summary(facts)
            )
        else:
            reasons = " ".join(r.strip() for r in facts.reasons[:3])
            self.screening_label.setText(
                style.pill(facts.status.upper().replace("_", " "), style.ALARM)
                + f" {html.escape(reasons)} — output is blocked"
            )

    def _load_programs(self) -> None:
        try:
            library = load_library()
        except ProgramError as exc:
            self.message.emit(str(exc), "alarm")
            return
        self.programs = {p.id: p for p in library.programs}
        self.program_box.clear()
        for p in library.programs:
            self.program_box.addItem(p.name, p.id)
        idx = self.program_box.findData("full_face_lift")
        self.program_box.setCurrentIndex(max(idx, 0))
        for err in library.errors:
            self.message.emit(str(err), "alarm")

    def _edit_programs(self) -> ProgramEditorDialog:
        dialog = ProgramEditorDialog(self.program_box.currentData(), parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.program_saved.connect(self._program_saved)
        dialog.program_deleted.connect(self._program_deleted)
        dialog.open()
        return dialog

    def _program_saved(self, program_id: str) -> None:
        """A custom program was saved: reload the library; select it unless a run is on."""
        previous = self.program_box.currentData()
        running = self.controller is not None and self.controller.state in ACTIVE
        self._load_programs()
        idx = self.program_box.findData(previous if running else program_id)
        if idx >= 0:
            self.program_box.setCurrentIndex(idx)

    def _program_deleted(self, program_id: str) -> None:
        """A custom program was deleted: reload; keep the choice if it still exists (a
        running session goes on with the program it loaded)."""
        previous = self.program_box.currentData()
        self._load_programs()
        idx = self.program_box.findData(previous)
        if idx >= 0:
            self.program_box.setCurrentIndex(idx)

    def _course_chosen(self, course_id: int | None) -> None:
        """The next session counts in this course (a running one keeps its course)."""
        if self.recorder is not None and not self.recorder.recording:
            self.recorder.course_id = course_id
        # the course's program, when the course names one this console has
        program = course_program(self.course.records, course_id)
        running = self.controller is not None and self.controller.state in ACTIVE
        if program and not running and self.program_box.findData(program) >= 0:
            self.program_box.setCurrentIndex(self.program_box.findData(program))

    def _program_chosen(self, *_: object) -> None:
        if self.controller is None:
            return
        program = self.programs.get(self.program_box.currentData())
        if program is None:
            return
        if self.controller.state in ACTIVE:
            return
        self.controller.load_program(program)
        if self.recorder is not None:
            self.recorder.set_program(program.id)
        self._zone_seconds.clear()
        self._paint_steps()

    # ------------------------------------------------------------------ session following

    def _sync_reference(self) -> None:
        settings = self.controller.machine.settings() if self.controller else None
        if settings is not None and settings != self.scope.settings:
            self.scope.set_reference(settings)

    def _on_state(self, state: SessionState) -> None:
        self._sync_reference()
        view = self.controller.guided_view() if self.controller else None
        if self.recorder is not None:
            ended = self.recorder.last_session_uid
            self.recorder.on_state(state, program_finished=bool(view and view.finished))
            if state in ACTIVE:
                self._offer_signing(None)
            elif self.recorder.last_session_uid != ended and not self.recorder.training:
                self._offer_signing(self.recorder.last_session_uid)
        self.program_box.setEnabled(state not in ACTIVE)
        self.course.box.setEnabled(state not in ACTIVE and self.course.box.count() > 1)
        if self._records_panel is not None:
            self._records_panel.setEnabled(state not in ACTIVE)
        self._paint_steps()

    def _on_step(self, view) -> None:
        if view is None or self.controller is None:
            return
        self._sync_reference()
        program = self.programs.get(view.program_id)
        # the program's end is no new step: the last one is written at the session's end
        if program is not None and self.recorder is not None and not view.finished:
            step = program.steps[view.step_index]
            self.recorder.on_step(
                view.step_index,
                ",".join(view.zones) or "manual",
                {"step": step.name, **step.to_json()},
                step.duration_s,
            )
        self._paint_steps()

    def _paint_steps(self) -> None:
        """Zone states from the program's progress: done before, active now, pending after."""
        if self.controller is None:
            return
        view = self.controller.guided_view()
        program = self.programs.get(view.program_id) if view else None
        if view is None or program is None:
            self.face.set_zone_states({})
            return
        running = self.controller.state in ACTIVE or view.finished
        current = view.step_index if running else None
        self.face.set_zone_states(
            zone_states_for_run(
                [st.zones for st in program.steps],
                current,
                finished=view.finished,
                outcomes=dict(view.outcomes),
            )
        )
        step = program.steps[view.step_index]
        if self.controller.state in ACTIVE and not view.finished:
            self.face.set_active(view.zones or None, step.direction)
            # paused (or contact lost): the zone holds still, no pulse to repaint
            self.face.set_pulsing(self.controller.state in PULSING)
        else:
            self.face.set_active(None)

    def _zone_selected(self, zone_id: str) -> None:
        if self.controller is not None and self.controller.state not in ACTIVE:
            self.controller.select_zone(zone_id)

    def _offer_signing(self, uid: str | None) -> None:
        self._to_sign = uid
        self.sign_button.setVisible(uid is not None and self.records_store is not None)

    def sign_last_session(self):  # -> SignSessionDialog | None
        """The signing dialog for the session that just ended (open, non-blocking)."""
        if self._to_sign is None or self.records_store is None:
            return None
        from app.ui.records.signing import SignSessionDialog

        uid = self._to_sign
        dialog = SignSessionDialog(
            self.records_store,
            uid,
            f"The session that just ended · {self.client_label.text()}",
            self,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.done_with.connect(lambda _id: self._signed(uid))
        dialog.open()
        return dialog

    def _signed(self, uid: str) -> None:
        if self._to_sign == uid:
            self._offer_signing(None)
        self.message.emit("Session signed and locked: corrections are amendments.", "info")

    def _toggle_history(self, on: bool) -> None:
        self.history_button.setText("Hide history" if on else "Show history")
        if not on or self.store is None or self.client_id is None:
            self.face.clear_heatmap()
            return
        from app.store.services import zone_minutes

        if self.records_store is None:
            return
        client_id = self.client_id
        self.records_store.read(
            zone_minutes,
            client_id,
            on_result=lambda r: self._show_heatmap(client_id, *r),
            what="reading the treatment history",
            key="heatmap",
        )

    def _show_heatmap(self, client_id: int, minutes: dict[str, float], sessions: int) -> None:
        if client_id != self.client_id or not self.history_button.isChecked():
            return
        # face zones only: a studio or manual step ("studio", "manual") has no place on
        # the face (it crashed the map, for any client with a studio session)
        known = set(self.face.zone_ids())
        face = {zone: m for zone, m in minutes.items() if zone in known}
        self.face.set_heatmap(face, f"minutes treated over {sessions} session(s)")

    # ------------------------------------------------------------------ workspace hooks

    def samples_received(self, block: SampleBlock) -> None:
        self.scope.append(block)

    def recording_samples(self, block: SampleBlock) -> None:
        """Every block, visible or not: the session's recording must not have holes."""
        if self.recorder is not None:
            self.recorder.on_samples(block)

    def device_disconnected(self, reason: str) -> None:
        self.scope.clear()  # the small scope shows no trace while the link is down

    def reference_changed(self, settings) -> None:
        self.scope.set_reference(settings)

    def emergency_stop_sent(self) -> None:
        if self.controller is not None:
            self.controller.handle(EmergencyStop(already_sent=True))

    def toggle_pause(self) -> None:
        if self.controller is not None:
            self.controller.toggle_pause()

    def next_step(self) -> None:
        """The next-step key: as the Skip button, when it can be pressed."""
        if self.guided is not None and self.guided.skip_button.isEnabled():
            self.guided.skip_button.click()

    def keys_changed(self, pause: QKeySequence, next_step: QKeySequence) -> None:
        self._keys = (pause, next_step)
        if self.guided is not None:
            self.guided.set_keys(pause, next_step)

    def demo_start(self) -> None:
        if self.store is None:  # the records are still opening: start once they are
            self._demo_requested = True
        elif self.controller is not None and self.controller.state == SessionState.READY:
            self.controller.start()

    def shutdown(self) -> None:
        """The console is closing (output already stopped): close the session record."""
        if self.recorder is not None and self.recorder.recording:
            self.recorder.close(Outcome.STOPPED)
        if self.controller is not None:
            self.controller.shutdown()
