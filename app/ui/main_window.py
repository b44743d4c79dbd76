"""The console's main window: live scope, output controls, status bar, emergency stop."""

from __future__ import annotations

import html
import time

import shiboken6
from PySide6.QtCore import (
    QEvent,
    QMargins,
    QObject,
    QRect,
    QSettings,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app import APP_NAME, palette
from app.device.protocol import DeviceState, Event, EventCode, Info, Status
from app.device.samples import SampleBlock
from app.device.stats import LinkStats
from app.device.waveform import OutputSettings
from app.engine.authority import Driver, OutputAuthority
from app.engine.session import ACTIVE
from app.service.clinic_limits import ClinicSettings
from app.ui import style
from app.ui.access import AccessControl
from app.ui.device_manager import DeviceManager
from app.ui.keys import (
    NEXT_STEP_KEY,
    PAUSE_KEY,
    EnterPresses,
    KeysDialog,
    key_name,
    session_key,
)
from app.ui.workspaces import WORKSPACES, Workspace, WorkspaceSet, build_workspace

LINK_CAUSE_S = 30.0  # a watchdog trip this soon after a lost link is the link's doing
STALE_AFTER_S = 0.5  # no frame for this long: alarm (the link declares loss after 1 s)
QWIDGETSIZE_MAX = 16777215  # Qt: no maximum size
IMPEDANCE_STEP = 0.03  # the contact's impedance is shown again when it moved this much
LINK_RATE_STEP = 0.10  # the link's frames/s and kB/s are shown again when they moved this much


MIN_WINDOW_W, MIN_WINDOW_H = 800, 560  # smaller: the workspaces scroll, STOP never hides
DEFAULT_W, DEFAULT_H = 1280, 800  # the window's size where the screen has room for it
# Before the window manager has framed the window its frame is unknown: this much title
# bar is assumed (the real frame is measured once shown, and the window fitted again).
FRAME_GUESS = QMargins(0, 32, 0, 0)


# Alarm priorities (IEC 60601-1-8 style): each banner has a priority, shown by colour AND
# a text prefix with the standard's marks, and heard as its own beep pattern; never
# colour alone.
HIGH, MEDIUM, LOW = "high", "medium", "low"
ALARM_PRIORITY = {
    "estop": HIGH,  # emergency stop, a workspace's alarm
    "revoked": HIGH,  # the output authority stopped the output (a limit, eligibility...)
    "watchdog": HIGH,  # the device's watchdog turned output off
    "fault": HIGH,  # the device reported a fault
    "link": HIGH,  # the link is down: output not confirmed
    "records": HIGH,  # the records cannot be written (or opened)
    "contact": MEDIUM,  # the probes left the skin: output paused by the device
    "stale": MEDIUM,  # the device has stopped sending for a moment
    "line": MEDIUM,  # the line rate cannot carry the device's sample rate: samples lost
    "info": LOW,  # information: nothing is wrong with the output
    # information about the records (a session an earlier run left interrupted): stays
    # until another alarm takes the banner, also when the device connects
    "records_info": LOW,
}
# prefix, background, text colour
ALARM_LOOK = {
    HIGH: ("!!! HIGH:", palette.ALARM_HIGH, palette.ALARM_HIGH_TEXT),
    MEDIUM: ("!! MEDIUM:", palette.ALARM_MEDIUM, palette.ALARM_MEDIUM_TEXT),
    LOW: ("! LOW:", palette.ALARM_LOW, palette.ALARM_LOW_TEXT),
}
# the banner flashes as the standard's visual indicators do: high 2 Hz, medium 0.6 Hz
# (between its colour and a lighter one, the text always readable), low steady
ALARM_FLASH = {
    HIGH: (250, palette.ALARM_HIGH_FLASH),
    MEDIUM: (830, palette.ALARM_MEDIUM_FLASH),
    LOW: None,
}
# beep pattern: pauses (ms) before each pulse. High: 3 + 2 quick pulses (the standard's
# burst rhythm), medium: 3 slower pulses, low: 1.
ALARM_BEEPS = {HIGH: (0, 120, 120, 360, 120), MEDIUM: (0, 250, 250), LOW: (0,)}


PRIORITY_RANK = {LOW: 0, MEDIUM: 1, HIGH: 2}
HELD_BANNER_S = 60.0  # a banner held under a higher one is shown after it, if this recent
INFO_BANNER_S = 20.0  # an information ("info") banner goes by itself after this long


# banners of a stop the device latches (until RESET): they go when the device leaves it
LATCHED_KINDS = ("estop", "watchdog", "fault")


def alarm_priority(kind: str) -> str:
    """The priority of a banner kind; a kind nobody named is high (never under-alarm)."""
    return ALARM_PRIORITY.get(kind, HIGH)


class AlarmSound(QObject):
    """Plays a priority's beep pattern (the system beep: silently nothing where there is
    no audio device). A new pattern replaces one still playing."""

    played = Signal(str)  # priority, when its pattern starts

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._generation = 0  # a newer pattern silences the rest of an older one

    def play(self, priority: str) -> None:
        self._generation += 1
        generation = self._generation
        self.played.emit(priority)
        at = 0
        for gap in ALARM_BEEPS[priority]:
            at += gap
            QTimer.singleShot(at, self, lambda g=generation: self._beep(g))

    def _beep(self, generation: int) -> None:
        if generation == self._generation:
            QApplication.beep()


INPUT_EVENTS = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
    }
)


class EscapeStops(QObject):
    """Esc is the emergency stop in every window and dialog the console shows.

    An application-wide shortcut is not enough: Qt blocks shortcuts of other windows while
    a modal dialog is open. This filter sees every key press first (installed on the
    QApplication), calls ``stop`` once per press and lets the press go on (a dialog still
    closes on it)."""

    def __init__(
        self, stop, parent: QObject | None = None, on_input=None, keys: QObject | None = None
    ) -> None:
        """``on_input()``: called at every key press, click, wheel or mouse move (the
        console's inactivity lock listens). ``keys``: a filter that also wants the key
        presses (the Enter-presses-the-focused-button filter). One application-wide
        filter for all three: every event the application handles — a queued signal from
        the device link included, hundreds a second — crosses into Python once per filter,
        so there is one, and it returns at once for anything that is not input."""
        super().__init__(parent)
        self._stop = stop
        self._on_input = on_input
        self._keys = keys
        self._seen: int | None = None  # the press being offered up the widget tree

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        kind = event.type()
        if kind not in INPUT_EVENTS:
            return False
        if self._on_input is not None:
            self._on_input()
        if kind != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent):
            return False
        if event.key() == Qt.Key.Key_Escape and not event.isAutoRepeat():
            # a press not taken by a widget is offered to its parents, synchronously: one
            # stop per press (the same event), forgotten once the event loop turns
            ptr = shiboken6.getCppPointer(event)[0]
            if ptr != self._seen:
                self._seen = ptr
                QTimer.singleShot(0, self._forget)
                self._stop()
            return False
        return self._keys is not None and self._keys.eventFilter(watched, event)

    def _forget(self) -> None:
        self._seen = None


class MainWindow(QMainWindow):
    """Hosts the instruments. Output is raised only by ``self.authority`` (the engine's
    output authority); the link and the simulator are ``self.device``'s."""

    live_data_seen = Signal()  # first samples shown after a (re)connect
    workspace_changed = Signal(str)
    store_failed = Signal(str)  # emitted from the store's writer thread: queued to the GUI
    records_opened = Signal()  # the client records are open (or known unavailable)
    clinic_record_read = Signal(object)  # app.store.clinic.ClinicRecord (GUI thread)

    def __init__(
        self,
        device: DeviceManager,
        settings: QSettings,
        store=None,
        store_error: str = "",
        *,
        records_pending: bool = False,
        fit_screen: bool = False,
    ) -> None:
        """``records_pending``: the store is being opened in the background and arrives
        through :meth:`attach_store` (or :meth:`store_unavailable`). ``fit_screen``: the
        window fits its screen, frame included (:meth:`fit_to_screen`; the console's
        window does, a test's or a screenshot's keeps the size it is given)."""
        super().__init__()
        self.device = device
        self.settings = settings
        self.store = None
        self.store_error = store_error
        self.records_pending = records_pending and store is None
        self._closed = False
        self._link = None
        self._reference: OutputSettings | None = None  # the output settings last applied
        self.interactive = True  # False where nobody can answer (--screenshot)
        self._samples_seen = 0
        self.demo_mode = False  # simulator only: start output once connected
        self._shown_rates = (0.0, 0.0)  # the frames/s and kB/s the link label shows
        self._shown_ohm = 0.0  # the impedance the contact label shows (0: none)
        self._link_lost_at: float | None = None  # when the link last went down
        self.client_watch = None  # app.engine.client_watch.ClientWatch, with the records
        self.setWindowTitle(APP_NAME)
        # The clinic's settings live in the store (shared by every room): the authority
        # follows them itself; until its row is read (the records open in the
        # background) the defaults apply.
        self.clinic_record = None  # app.store.clinic.ClinicRecord, once read
        self.clinic_watch = None  # app.engine.clinic_watch.ClinicSettingsWatch
        # The one authority that can raise output: every workspace asks it.
        self.authority = OutputAuthority(ClinicSettings(), parent=self)
        self.authority.clinic_read.connect(self._on_clinic_read)
        self.authority.output_commanded.connect(self._output_commanded)
        self.authority.output_revoked.connect(self._output_revoked)
        self.store_failed.connect(self._on_store_failed)
        # who works here: the sign-in page (part of this window, never a modal dialog:
        # STOP and Esc stay in reach), the lock after inactivity, the role checks
        self.access = AccessControl(self._output_busy, self)
        self.access.without_records = store is None and not records_pending and not store_error
        self.manager_window = None  # app.ui.manager.ManagerWindow, once opened
        self.secret_dialog = None  # the change of the signed-in operator's secret
        if store is not None:
            self._take_store(store)
        self.resize(DEFAULT_W, DEFAULT_H)
        self.setMinimumSize(MIN_WINDOW_W, MIN_WINDOW_H)  # the toolbar and STOP fit
        self._fit_screen = fit_screen
        self._fitted_once = False  # fitted again once the window manager framed it
        self._wanted_size: QSize | None = None  # before fitting: the default or restored

        self.banner = QLabel()
        self.banner.setObjectName("banner")
        self.banner.setTextFormat(Qt.TextFormat.PlainText)  # messages carry names, paths
        self.banner.setWordWrap(True)
        self.alarm_sound = AlarmSound(self)
        # a banner of lower priority than the one standing waits under it (the latest):
        # (text, kind, monotonic time), shown when the higher one is hidden
        self._held_banner: tuple[str, str, float] | None = None
        # the uptime (ms) of the newest STATUS showing a latched state since a latched
        # stop's banner went up (None: not seen latched yet)
        self._latched_at: int | None = None
        self._stopped_at: int | None = None  # the same for output off, since "revoked"
        # an information banner goes by itself (it was read, or it is no longer news)
        self._info_expiry = QTimer(self, singleShot=True, interval=int(INFO_BANNER_S * 1000))
        self._info_expiry.timeout.connect(self._info_expired)
        self._flash = QTimer(self)  # the banner's flashing (high and medium priority)
        self._flash.timeout.connect(self._flash_banner)
        self._flash_on = False
        self.banner.setVisible(False)
        self.stack = QStackedWidget()
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.banner)
        # On a screen smaller than a workspace needs (a 1366 x 768 laptop), the workspace
        # scrolls inside the window instead of the window growing past the screen: the
        # STOP button on the toolbar and the status bar always stay in view.
        self.stack_scroll = QScrollArea()
        self.stack_scroll.setWidget(self.stack)
        self.stack_scroll.setWidgetResizable(True)
        self.stack_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.stack_scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # not a tab stop of its own
        # the workspaces, or (locked, nobody signed in) the sign-in page over them
        self.central_stack = QStackedWidget()
        self.central_stack.addWidget(self.stack_scroll)
        self.central_stack.addWidget(self.access.page)
        lay.addWidget(self.central_stack, 1)
        self.setCentralWidget(central)

        self.workspaces = WorkspaceSet(self._build_workspace)
        self.workspaces.get("practitioner")  # the desk is built at once

        self._build_toolbar()
        self._build_status_bar()

        # Esc = emergency stop, from anywhere in the application, dialogs included.
        # Space and Enter press the focused control; pause/resume and next step have
        # keys of their own (F8, F9 by default; a foot switch can send them).
        self.enter_filter = EnterPresses(self)
        self.escape_filter = EscapeStops(
            self.emergency_stop, self, on_input=self.access.note_activity, keys=self.enter_filter
        )
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self.escape_filter)  # one filter: Esc, Enter, activity
        self.pause_shortcut = QShortcut(self)
        self.pause_shortcut.activated.connect(lambda: self.current_workspace().toggle_pause())
        self.next_step_shortcut = QShortcut(self)
        self.next_step_shortcut.activated.connect(lambda: self.current_workspace().next_step())
        self.apply_key_settings()
        if store is not None:
            self._tell_interrupted(store)

        # A silent device is flagged STALE_AFTER_S after its last report: every STATUS
        # (ten a second) starts this again, so while the device talks it never fires and
        # the GUI thread is not woken for it; the link's figures follow its statistics
        # (twice a second, shown when they change: _refresh_link_label).
        self._silence = QTimer(self)
        self._silence.setSingleShot(True)
        self._silence.setInterval(int(STALE_AFTER_S * 1000))
        self._silence.timeout.connect(self._check_silence)

        device.link_changed.connect(self._attach_link)
        device.failed.connect(lambda msg: self.show_alarm(msg, kind="link"))
        if device.link is not None:
            self._attach_link(device.link)
        self._restore_window_state()
        if fit_screen:
            self.fit_to_screen()
        self.access.locked_changed.connect(self._on_locked)
        self.access.signed_in_changed.connect(self._on_signed_in)
        self._on_signed_in(None)
        if self.store is not None:
            self.access.store_ready(self.store, interactive=self.interactive)

    def apply_key_settings(self) -> None:
        """(Re)read the pause/resume and next-step keys from the settings."""
        self.pause_shortcut.setKey(session_key(self.settings, PAUSE_KEY))
        self.next_step_shortcut.setKey(session_key(self.settings, NEXT_STEP_KEY))
        for ws in self.workspaces.built():
            ws.keys_changed(self.pause_shortcut.key(), self.next_step_shortcut.key())

    def edit_keys(self) -> KeysDialog:
        """The dialog that sets the pause/resume and next-step keys (applied once saved)."""
        dialog = KeysDialog(self.settings, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(self.apply_key_settings)
        dialog.open()
        return dialog

    @property
    def scope(self):
        """The technician's full oscilloscope (builds the bench if it is not yet)."""
        return self.workspaces["technician"].scope

    @property
    def output(self):
        """The technician's manual output panel (builds the bench if it is not yet)."""
        return self.workspaces["technician"].output

    def _build_workspace(self, name: str) -> Workspace:
        """Build ``name`` and bring it up to date with the link, the device and the store."""
        ws = build_workspace(self, name)
        if hasattr(ws, "message"):
            ws.message.connect(
                lambda text, kind: self.show_alarm(
                    text, {"alarm": "estop", "contact": "contact"}.get(kind, "info")
                )
            )
        self.stack.addWidget(ws)
        self._show_page(self.stack.currentWidget())
        ws.restore_layout(self.settings)
        if hasattr(self, "pause_shortcut"):
            ws.keys_changed(self.pause_shortcut.key(), self.next_step_shortcut.key())
        link = self._link
        if link is not None:
            ws.attach_link(link)
            info = getattr(link, "info", None)
            if link.is_connected and isinstance(info, Info):
                ws.device_connected(info)
        if self._reference is not None:
            ws.reference_changed(self._reference)
        return ws

    # ------------------------------------------------------------------ records

    def _take_store(self, store) -> None:
        from app.engine.client_watch import ClientWatch

        self.store = store
        self.store_error = ""
        self.records_pending = False
        store.writer.add_error_listener(self.store_failed.emit)
        # the chosen client's record, read off the GUI thread, reaches the authority
        self.client_watch = ClientWatch(store.engine, store.writer, parent=self)
        self.authority.set_watch(self.client_watch)
        self._watch_clinic(store)

    def _watch_clinic(self, store) -> None:
        """The clinic's settings and PIN from the store: an old settings.ini's are imported
        once (a store that never had any), then the shared row is watched off the GUI
        thread. The authority follows the watch itself (its limits come from there alone);
        each reading it applied comes back here for the bench, the lock and the alarms."""
        from app.engine.clinic_watch import ClinicSettingsWatch
        from app.service.clinic_limits import ini_import_request

        store.writer.submit(ini_import_request(self.settings))
        self.clinic_watch = ClinicSettingsWatch(store.engine, store.writer, parent=self)
        self.authority.follow_clinic(self.clinic_watch)

    @property
    def clinic(self) -> ClinicSettings:
        """The clinic's limits in force: the output authority's."""
        return self.authority.clinic

    def _on_clinic_read(self, record, problems: list[str]) -> None:
        """A reading of the store's clinic row (this room's change or another's), which the
        authority has applied: what was wrong in it is said, the lock follows it."""
        from app.service.clinic_limits import INI_PIN_KEY

        self.clinic_record = record
        if record.exists:
            for problem in problems:
                self.show_alarm(f"Clinic settings: {problem}", kind="info")
            self.access.set_lock_after(self.authority.clinic.lock_after_s)
            if self.settings.value(INI_PIN_KEY) is not None:
                # imported into the store: the old copy of the hash leaves the INI
                self.settings.remove(INI_PIN_KEY)
                self.settings.sync()
        self.clinic_record_read.emit(record)

    def attach_store(self, store) -> None:
        """The client records opened in the background: every workspace gets them."""
        if self._closed:  # the window closed first: just close the store again
            store.close(10.0)
            return
        self._take_store(store)
        self._tell_interrupted(store)
        for ws in self.workspaces.built():
            ws.store_ready(store)
        self.access.store_ready(store, interactive=self.interactive)
        self.records_opened.emit()

    def _tell_interrupted(self, store) -> None:
        """Sessions an earlier run left open (the console killed, a crash, a power cut)
        were closed as interrupted when the records opened: said once, on the banner."""
        from app.ui.records.format import interrupted_notice

        text = interrupted_notice(getattr(store.info, "interrupted", ()))
        if text:
            self.show_alarm(text, kind="records_info")

    def store_unavailable(self, error: str) -> None:
        """The client records could not be opened: the desk says why; output stays off."""
        self.records_pending = False
        self.store_error = error
        if self._closed:
            return
        for ws in self.workspaces.built():
            ws.store_unavailable(error)
        self.access.store_unavailable(error)
        self.show_alarm(f"Client records are unavailable: {error}", kind="records")
        self.records_opened.emit()

    def set_clinic_settings(self, clinic: ClinicSettings) -> None:
        """New clinic limits, saved here. With the records open the store is their one
        source: the authority reads the saved row at once (the watch reads after this
        room's commits; poked here too) and applies it, so a save can never leave the
        authority with values the store does not hold. Without records (no store to
        save to) the authority takes them directly."""
        if self.authority.follows_clinic:
            if self.clinic_watch is not None:
                self.clinic_watch.poke()
            return
        self.authority.set_clinic(clinic)
        self.access.set_lock_after(clinic.lock_after_s)

    # ------------------------------------------------------------------ building

    def _build_toolbar(self) -> None:
        bar = QToolBar("Main")
        bar.setObjectName("toolbar_main")
        bar.setMovable(False)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        self.workspace_actions = QActionGroup(self)
        self.workspace_actions.setExclusive(True)
        for i, (name, title) in enumerate(WORKSPACES):
            act = QAction(title, self, checkable=True)
            act.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            act.setToolTip(f"{title} workspace (Ctrl+{i + 1})")
            act.setData(name)
            act.triggered.connect(lambda _=False, n=name: self.switch_workspace(n))
            self.workspace_actions.addAction(act)
            bar.addAction(act)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        self.operator_button = QToolButton()
        self.operator_button.setObjectName("operator")
        self.operator_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.operator_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        # not a Tab stop (the desk's Tab round stays short): Ctrl+L locks from the keyboard
        self.operator_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.lock_action = QAction("Lock / switch operator", self)
        self.lock_action.setShortcut(QKeySequence("Ctrl+L"))
        self.lock_action.setToolTip(
            "Lock the console so that another operator can sign in (Ctrl+L); while output "
            "runs it locks once output stops"
        )
        self.lock_action.triggered.connect(self.lock_console)
        self.addAction(self.lock_action)
        self.manager_action = QAction("Audit trail and operators…", self)
        self.manager_action.setToolTip("The manager's screen: audit trail, operators, lock time")
        self.manager_action.triggered.connect(self.open_manager)
        self.secret_action = QAction("Change my PIN or passphrase…", self)
        self.secret_action.triggered.connect(self.change_my_secret)
        menu = QMenu(self.operator_button)
        menu.addAction(self.lock_action)
        menu.addAction(self.secret_action)
        menu.addAction(self.manager_action)
        self.operator_button.setMenu(menu)
        self.operator_button.setDefaultAction(self.lock_action)
        bar.addWidget(self.operator_button)
        self.keys_action = QAction("Keys", self)
        self.keys_action.setToolTip("The pause/resume and next-step keys (a foot switch's)")
        self.keys_action.triggered.connect(self.edit_keys)
        bar.addAction(self.keys_action)
        self.estop_button = QPushButton("STOP  (Esc)")
        self.estop_button.setObjectName("estop")
        self.estop_button.setToolTip("Emergency stop: output off at once (Esc)")
        self.estop_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.estop_button.clicked.connect(self.emergency_stop)
        bar.addWidget(self.estop_button)

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.device_label = QLabel("No device")
        self.link_label = QLabel()
        self.contact_label = QLabel()
        self.state_label = QLabel()
        # The link figures change twice a second: a label of fixed size (room for the
        # longest figures) does not ask the window to lay itself out again each time.
        self.link_label.setText(
            style.pill("LINK DEGRADED", style.WARN)
            + " 9999 frames/s · 999.9 kB/s · errors 99999 · dropped 9999999"
        )
        self.link_label.ensurePolished()
        self._link_label_size = self.link_label.sizeHint()
        self.link_label.setText("")
        # The device's state and contact change with its reports (ten a second): fixed
        # in size too, room for the longest of each, so a new figure repaints the label
        # only, not the window (a status-bar label that resizes relays out the window).
        states = [
            st.label.upper() + (" 9999 µA" if st.output_possible else "") for st in DeviceState
        ]
        _fix_size(
            self.state_label,
            [style.pill(t, style.ALARM) for t in [*states, "EMERGENCY STOP", "NO DEVICE"]],
        )
        _fix_size(
            self.contact_label,
            [
                style.pill("CONTACT", style.OK)
                + " 9999.9 kΩ "
                + style.pill("COMPLIANCE", style.WARN),
                style.pill("NO CONTACT", style.WARN)
                + " probes lifted "
                + style.pill("COMPLIANCE", style.WARN),
            ],
        )
        for w in (self.device_label, self.link_label, self.contact_label):
            sb.addWidget(w)
        # at the window's right edge, whatever the width of the state it shows
        self.state_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        sb.addPermanentWidget(self.state_label)
        self._show_disconnected("connecting…")

    # ------------------------------------------------------------------ device

    def _attach_link(self, link) -> None:
        self._link = link
        self.authority.set_link(link)
        if link is None:
            self._show_disconnected("closed")
            return
        for ws in self.workspaces.built():
            ws.attach_link(link)
        link.connected.connect(self._on_connected)
        link.disconnected.connect(self._on_disconnected)
        link.samples_received.connect(self._on_samples)
        link.status_received.connect(self._on_status)
        link.event_received.connect(self._on_event)
        link.stats_updated.connect(self._refresh_link_label)

    def emergency_stop(self) -> None:
        """ESTOP to the device first, then show it: never waits on anything."""
        self.authority.estop()
        for ws in self.workspaces.built():
            ws.emergency_stop_sent()
        self.show_alarm("EMERGENCY STOP — output off. Press Reset when it is safe to continue.")
        self.state_label.setText(style.pill("EMERGENCY STOP", style.ALARM))

    def _output_commanded(self, settings: OutputSettings) -> None:
        """The bench's manual output settings (as the authority sent them) are every
        scope's reference; the desk and the studio draw their own."""
        if self.authority.owner is Driver.BENCH:
            self._reference = settings
            for ws in self.workspaces.built():
                ws.reference_changed(settings)

    def _output_revoked(self, driver: Driver, why: str) -> None:
        self.show_alarm(f"Output stopped ({driver.label}): {why}.", kind="revoked")

    def _on_connected(self, info: Info) -> None:
        self._samples_seen = 0
        self._shown_rates = (0.0, 0.0)
        self._silence.start()
        if self.banner.property("kind") not in ("records", "records_info"):
            self.hide_alarm()  # a word about the records outlives the link's
        self.device_label.setText(
            f"<b>{html.escape(info.model)}</b> · {html.escape(info.serial)} · firmware "
            f"{html.escape(info.firmware)}"
        )
        for ws in self.workspaces.built():
            ws.device_connected(info)
        line = self.device.line_warning(info)
        if line:
            self.show_alarm(line, kind="line")
        if self.demo_mode and self.device.simulator is not None:
            QTimer.singleShot(300, self._demo_start)

    def _demo_start(self) -> None:
        if self._link is not None and self._link.is_connected:
            self.current_workspace().demo_start()

    def _on_disconnected(self, reason: str) -> None:
        self._silence.stop()
        self._show_disconnected(reason)
        self._link_lost_at = time.monotonic()
        for ws in self.workspaces.built():
            ws.device_disconnected(reason)
        self.show_alarm(f"Device link lost: {reason}. Reconnecting…", kind="link")

    def _show_disconnected(self, reason: str) -> None:
        self.device_label.setText("No device")
        self.link_label.setMinimumSize(0, 0)  # a reason of any length, shown whole
        self.link_label.setMaximumSize(QWIDGETSIZE_MAX, QWIDGETSIZE_MAX)
        self.link_label.setText(style.pill("LINK DOWN", style.ALARM) + f" {reason}")
        self.contact_label.setText("")
        self.state_label.setText(style.pill("NO DEVICE", style.MUTED))

    def _on_samples(self, block: SampleBlock) -> None:
        for ws in self.workspaces.built():
            ws.recording_samples(block)
        self.current_workspace().samples_received(block)
        self._samples_seen += len(block)
        if self._samples_seen == len(block):
            self.live_data_seen.emit()

    def _on_status(self, st: Status) -> None:
        self._silence.start()  # the device talks: not silent for another STALE_AFTER_S
        if self.banner.property("kind") == "stale":
            self._check_silence()
        colour = {
            DeviceState.RUNNING: style.OK,
            DeviceState.RAMP_UP: style.OK,
            DeviceState.RAMP_DOWN: style.WARN,
            DeviceState.PAUSED: style.WARN,
            DeviceState.CONTACT_LOST: style.ALARM,
        }.get(st.state, style.ALARM if st.state.latched else style.MUTED)
        text = st.state.label.upper()
        if st.state.output_possible:
            text += f" {st.level_ua:.0f} µA"
        # Ten reports a second: a label changes (and the status bar repaints) only when
        # what it says changes; the impedance's last digit does not flicker.
        _set_text(self.state_label, style.pill(text, colour))
        if st.contact:
            z = st.impedance_ohm
            if z == z and z < 1e9:
                if abs(z - self._shown_ohm) > IMPEDANCE_STEP * self._shown_ohm:
                    self._shown_ohm = z
                z = self._shown_ohm
            contact = style.pill("CONTACT", style.OK) + (
                f" {z / 1000:.1f} kΩ" if z == z and z < 1e9 else ""
            )
        else:
            self._shown_ohm = 0.0
            contact = style.pill("NO CONTACT", style.WARN) + " probes lifted"
        if st.compliance:
            contact += " " + style.pill("COMPLIANCE", style.WARN)
        _set_text(self.contact_label, contact)
        # A latched stop's banner goes when the device has left the latched state, seen
        # latched first: a STATUS the device sent before it took an ESTOP (in flight, or
        # held by the link at idle) must not hide the banner the moment it went up.
        running = st.state in (DeviceState.RAMP_UP, DeviceState.RUNNING)
        if st.state.latched:
            self._latched_at = st.uptime_ms
        if not running:
            self._stopped_at = st.uptime_ms
        kind = self.banner.property("kind")
        if kind in LATCHED_KINDS:
            if (
                not st.state.latched
                and self._latched_at is not None
                and st.uptime_ms > self._latched_at
            ):
                self.hide_alarm()
        elif (
            kind == "revoked"
            and running
            and self._stopped_at is not None
            and st.uptime_ms > self._stopped_at
        ):
            self.hide_alarm()  # output started again: the operator has dealt with the stop

    def _on_event(self, ev: Event) -> None:
        if ev.code == EventCode.WATCHDOG_TRIP:
            lost = self._link_lost_at
            if lost is not None and time.monotonic() - lost < LINK_CAUSE_S:
                # the console did not stop answering: the link was down (cable, port)
                self.show_alarm(
                    "The link to the device was lost (check the cable and the port): the "
                    "device's watchdog turned the output off, as designed. Press Reset when "
                    "it is safe to continue.",
                    kind="link",
                )
            else:
                self.show_alarm(
                    "Device watchdog tripped: the device stopped hearing the console and "
                    "turned the output off. Press Reset when it is safe to continue.",
                    kind="watchdog",
                )
        elif ev.code == EventCode.CONTACT_LOST:
            self.show_alarm(
                "Contact lost: output paused. Place the probes back, then Resume.", kind="contact"
            )
        elif ev.code == EventCode.CONTACT_RESTORED and (
            self._held_banner is not None and self._held_banner[1] == "contact"
        ):
            self._held_banner = None  # what was held under a higher alarm is over
        elif ev.code == EventCode.CONTACT_RESTORED and self.banner.property("kind") == "contact":
            self.hide_alarm()  # the contact alarm is over: its follow-up replaces it
            self.show_alarm(
                "Contact restored. Press Resume "
                f"({key_name(self.pause_shortcut.key())}) to continue.",
                kind="info",
            )
        elif ev.code == EventCode.FAULT:
            self.show_alarm(f"Device fault: {ev.text or ev.arg}", kind="fault")
        elif ev.code == EventCode.LIMIT_REFUSED:
            bench = self.workspaces.existing("technician")
            if bench is not None:
                bench.output.show_message(f"Device refused: {ev.text}", error=True)
            else:
                self.show_alarm(f"The device refused a setting: {ev.text}", kind="info")

    def _check_silence(self) -> None:
        """The stale alarm while no frame came for STALE_AFTER_S; off again once one did."""
        link = self._link
        if link is None or not link.is_connected:
            return
        age = link.stats.last_frame_age_s
        if age > STALE_AFTER_S:
            if self.banner.property("kind") != "stale":
                self.show_alarm(
                    f"The device has stopped sending ({age:.1f} s): "
                    "its output is not confirmed. Its watchdog turns output off "
                    "if it stops hearing the console; the link is being checked.",
                    kind="stale",
                )
            return
        if self.banner.property("kind") == "stale":
            self.hide_alarm()
        if not self._silence.isActive():  # frames, but no STATUS: look again then
            self._silence.start(max(1, int((STALE_AFTER_S - age) * 1000)))

    def _refresh_link_label(self, stats: LinkStats | None = None) -> None:
        """The link's figures (its statistics, twice a second): the label changes only
        when what it says does; the rates are shown again when they moved by
        LINK_RATE_STEP (their last digit's jitter repainted the status bar each time)."""
        link = self._link
        if link is None or not link.is_connected:
            return
        s: LinkStats = stats if stats is not None else link.stats
        if self.banner.property("kind") == "stale" or s.last_frame_age_s > STALE_AFTER_S:
            self._check_silence()
        frames, kbytes = self._shown_rates
        if abs(s.frames_per_s - frames) > LINK_RATE_STEP * frames or frames == 0.0:
            frames = s.frames_per_s
        if abs(s.bytes_per_s / 1000 - kbytes) > LINK_RATE_STEP * kbytes or kbytes == 0.0:
            kbytes = s.bytes_per_s / 1000
        self._shown_rates = (frames, kbytes)
        colour = {"good": style.OK, "degraded": style.WARN}.get(s.quality, style.ALARM)
        if self.link_label.maximumSize() != self._link_label_size:
            self.link_label.setFixedSize(self._link_label_size)
        _set_text(
            self.link_label,
            style.pill(f"LINK {s.quality.upper()}", colour)
            + f" {frames:.0f} frames/s · {kbytes:.1f} kB/s"
            + f" · errors {s.error_count} · dropped {s.samples_dropped}",
        )

    def _on_store_failed(self, message: str) -> None:
        """The records cannot be written: say so, and the authority stops any output
        (ramped, as the operator's Stop). The writer keeps what it has and retries."""
        held = self.authority.output_held
        self.authority.records_failed(message)
        stopped = " The output was stopped." if held else ""
        self.show_alarm(
            f"Records cannot be saved: {message}{stopped} Nothing already stored "
            "is lost; the console keeps retrying.",
            kind="records",
        )

    # ------------------------------------------------------------------ alarms

    def show_alarm(self, text: str, kind: str = "estop") -> None:
        """Every banner goes through here: its kind gives its priority (:data:`ALARM_PRIORITY`),
        shown by colour and a text prefix and heard as the priority's beep pattern (once
        per new alarm, not for the same one shown again)."""
        priority = alarm_priority(kind)
        standing = self.alarm_priority()
        if standing and PRIORITY_RANK[priority] < PRIORITY_RANK[standing]:
            # never over a higher alarm that still stands (an emergency stop is not
            # replaced by "session signed"): it waits, and is shown once that one goes
            self._held_banner = (text, kind, time.monotonic())
            return
        if self._held_banner is not None and self._held_banner[1] == kind:
            self._held_banner = None  # the same kind, newer: this one is shown now
        if kind in LATCHED_KINDS or kind == "revoked":
            # it stays until the device has been seen stopped (latched) and then running
            # (not latched): a STATUS sent before the device took the stop must not hide
            # it (see _on_status)
            self._latched_at = self._stopped_at = None
        prefix, background, colour = ALARM_LOOK[priority]
        shown = f"{prefix} {text}"
        new = not self.banner.isVisibleTo(self) or self.banner.text() != shown
        self.banner.setStyleSheet(f"background:{background};color:{colour}")
        self._flash_on = False
        flash = ALARM_FLASH[priority]
        if flash is None:
            self._flash.stop()
        elif self._flash.interval() != flash[0] or not self._flash.isActive():
            self._flash.start(flash[0])
        self.banner.setProperty("kind", kind)
        self.banner.setProperty("priority", priority)
        self.banner.setText(shown)
        self.banner.setVisible(True)
        if kind == "info":
            self._info_expiry.start()
        else:
            self._info_expiry.stop()
        if new:
            self.alarm_sound.play(priority)

    def alarm_priority(self) -> str:
        """The priority of the banner shown ("" when none is)."""
        return str(self.banner.property("priority") or "") if self.banner.isVisibleTo(self) else ""

    def _flash_banner(self) -> None:
        priority = self.banner.property("priority")
        flash = ALARM_FLASH.get(priority) if isinstance(priority, str) else None
        if flash is None or not self.banner.isVisibleTo(self):
            self._flash.stop()
            return
        self._flash_on = not self._flash_on
        _prefix, background, colour = ALARM_LOOK[priority]
        shade = flash[1] if self._flash_on else background
        self.banner.setStyleSheet(f"background:{shade};color:{colour}")

    def _info_expired(self) -> None:
        if self.banner.property("kind") == "info":
            self.hide_alarm()

    def hide_alarm(self) -> None:
        """Hide the banner; a lower one held under it (recent) is shown then."""
        self._flash.stop()
        self.banner.setVisible(False)
        self.banner.setProperty("kind", "")
        self.banner.setProperty("priority", "")
        held, self._held_banner = self._held_banner, None
        if held is not None and time.monotonic() - held[2] < HELD_BANNER_S:
            self.show_alarm(held[0], kind=held[1])

    # ------------------------------------------------------------------ workspaces

    # ------------------------------------------------------------------ operators

    def _output_busy(self) -> bool:
        """Output is held, or a treatment session is under way (a lock then waits)."""
        if self.authority.output_held:
            return True
        desk = self.workspaces.existing("practitioner") if hasattr(self, "workspaces") else None
        ctl = getattr(desk, "controller", None)
        return ctl is not None and ctl.state in ACTIVE

    def lock_console(self) -> bool:
        """Lock now (quick switch of operator); while output is held the lock waits until
        it stops, and says so."""
        if self.access.lock("asked"):
            return True
        if self.access.lock_pending:
            self.show_alarm(
                "Output is running: the console locks once output stops "
                "(STOP and Esc work as always).",
                kind="info",
            )
        return False

    def _on_locked(self, locked: bool) -> None:
        self.central_stack.setCurrentWidget(self.access.page if locked else self.stack_scroll)
        for act in self.workspace_actions.actions():  # no workspace to choose while locked
            act.setEnabled(not locked)
            act.setVisible(not locked)
        self.keys_action.setEnabled(not locked)
        if locked and self.manager_window is not None:
            self.manager_window.close()  # the manager's screen is the manager's only
        if locked and self.secret_dialog is not None and self.secret_dialog.isVisible():
            self.secret_dialog.reject()  # the operator who opened it is gone

    def _on_signed_in(self, who) -> None:
        """Name who is signed in on the toolbar; show a workspace their role may use."""
        if who is None:
            self.lock_action.setText("Nobody signed in")
            self.operator_button.setToolTip("Sign in on the page shown")
            self.manager_action.setEnabled(False)
            self.secret_action.setEnabled(False)
            return
        self.secret_action.setEnabled(True)
        self.lock_action.setText(f"{who.name} · {who.role.label}  —  Lock")
        self.operator_button.setToolTip(
            f"Signed in: {who.name} ({who.role.value}). Click to lock, so another "
            "operator can sign in (Ctrl+L)."
        )
        self.manager_action.setEnabled(self.access.is_manager())
        current = self.current_workspace()
        if current is not None and self.access.allows(current.name) is not None:
            from app.store.operators import home_workspace

            self.switch_workspace(home_workspace(who.role))

    def change_my_secret(self) -> None:
        """The operator signed in changes their own secret (the current one first: counted
        and locked out like a sign-in)."""
        who = self.access.signed_in
        if who is None or self.store is None:
            return
        from app.service.pin import operator_guard
        from app.store.operators import read_operator
        from app.ui.technician.pin_dialog import PinDialog

        def ask(record) -> None:
            if record is None or self.access.signed_in != who:
                return
            dialog = PinDialog(operator_guard(self.store.writer, record), self, change=True)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.open()
            self.secret_dialog = dialog

        self.access.read(read_operator, who.id, on_result=ask)

    def open_manager(self):
        """The manager's screen (audit trail, operators, lock time): managers only."""
        if not self.access.is_manager() or self.store is None:
            self.show_alarm(
                "The audit trail and the operators are for a manager: sign in as one.",
                kind="info",
            )
            return None
        from app.ui.manager import ManagerWindow

        if self.manager_window is None:
            self.manager_window = ManagerWindow(self.store, self)
        self.manager_window.show()
        return self.manager_window

    def current_workspace(self) -> Workspace:
        return self.stack.currentWidget()  # type: ignore[return-value]

    def switch_workspace(self, name: str) -> bool:
        """Show workspace ``name``; False if it stays closed (e.g. the role signed in may
        not use it)."""
        why = self.access.allows(name)
        if why is not None:
            title = dict(WORKSPACES).get(name, name)
            self.show_alarm(f"{title} workspace not opened: {why}.", kind="info")
            if hasattr(self, "workspace_actions"):
                self._check_current_action()
            return False
        ws = self.workspaces.get(name)
        if ws is None:
            return False
        current = self.current_workspace()
        if ws is current:
            self._check_current_action()
            return True
        desk = self.workspaces.existing("practitioner")
        ctl = getattr(desk, "controller", None)
        if ws is not desk and ctl is not None and ctl.state in ACTIVE:
            self.show_alarm(
                "A treatment session is under way: stop it before leaving the treatment desk.",
                kind="info",
            )
            self._check_current_action()
            return False
        if not ws.may_enter(self):
            self._check_current_action()
            return False
        if current is not None:
            current.leave()
        # The device goes with the workspace shown: output another workspace started is
        # stopped first, and the device passes once it reports no output (the authority).
        self.authority.transfer(ws.driver)
        self._show_page(ws)
        ws.enter()
        self._check_current_action()
        self.workspace_changed.emit(name)
        return True

    def _show_page(self, page: QWidget) -> None:
        """Show ``page``; only the page shown sets the minimum size (a stack takes the
        largest of all its pages otherwise: the bench's width would widen the desk)."""
        ignored, preferred = QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred
        for i in range(self.stack.count()):
            w = self.stack.widget(i)
            policy = preferred if w is page else ignored
            w.setSizePolicy(policy, policy)
        self.stack.setCurrentWidget(page)
        self.stack.updateGeometry()

    def _check_current_action(self) -> None:
        name = self.current_workspace().name
        for act in self.workspace_actions.actions():
            act.setChecked(act.data() == name)

    # ------------------------------------------------------------------ window state

    def _restore_window_state(self) -> None:
        geometry = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if geometry is not None and self._fit_screen:
            # (a picture for --screenshot is always of the default size, not of the
            # geometry an earlier window left, which may be an offscreen 800 pixels)
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
        start = self.settings.value("window/workspace", "practitioner")
        if start == "technician":  # never ask for the PIN before the window is even shown
            start = "practitioner"
        if not (
            isinstance(start, str) and start in self.workspaces and self.switch_workspace(start)
        ):
            self.switch_workspace("practitioner")

    def frame_margins(self) -> QMargins:
        """The window manager's frame (title bar, borders) around the window: measured
        once the window is shown and framed, else :data:`FRAME_GUESS`."""
        frame, inner = self.frameGeometry(), self.geometry()
        if self.isVisible() and frame != inner:
            return QMargins(
                inner.left() - frame.left(),
                inner.top() - frame.top(),
                frame.right() - inner.right(),
                frame.bottom() - inner.bottom(),
            )
        return QMargins(FRAME_GUESS) if not self.isVisible() else QMargins()

    def fit_to_screen(self, available: QRect | None = None, frame: QMargins | None = None) -> None:
        """Size and place the window so that it lies, frame included, inside the screen's
        available geometry (without panels and docks): the status bar and STOP are never
        off-screen. Not bigger than it was (1280 x 800 by default, or as the practitioner
        left it); a maximised or full-screen window is left to the window manager."""
        if self.isMaximized() or self.isFullScreen():
            return
        if available is None:
            screen = self.screen() or QGuiApplication.primaryScreen()
            if screen is None:
                return
            available = screen.availableGeometry()
        if frame is None:
            frame = self.frame_margins()
        room_w = available.width() - frame.left() - frame.right()
        room_h = available.height() - frame.top() - frame.bottom()
        if room_w <= 0 or room_h <= 0:
            return
        if self._wanted_size is None:
            self._wanted_size = self.size()
        self.setMinimumSize(min(MIN_WINDOW_W, room_w), min(MIN_WINDOW_H, room_h))
        w = min(self._wanted_size.width(), room_w)
        h = min(self._wanted_size.height(), room_h)
        if (w, h) != (self.width(), self.height()):
            self.resize(w, h)
        # the frame's top-left corner, kept inside the available area
        x = self.geometry().x() - frame.left()
        y = self.geometry().y() - frame.top()
        outer_w, outer_h = w + frame.left() + frame.right(), h + frame.top() + frame.bottom()
        nx = max(available.left(), min(x, available.left() + available.width() - outer_w))
        ny = max(available.top(), min(y, available.top() + available.height() - outer_h))
        if (nx, ny) != (x, y):
            framed = self.isVisible() and self.frameGeometry() != self.geometry()
            if framed:
                self.move(nx, ny)  # a framed window's move() places the frame's corner
            else:  # no frame yet: place the window where it will be inside the frame
                self.move(nx + frame.left(), ny + frame.top())

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._fit_screen and not self._fitted_once:
            # the window manager frames the window after it is shown: fit again with the
            # measured frame, at once and once more when a slow one has framed it
            self._fitted_once = True
            QTimer.singleShot(0, self.fit_to_screen)
            QTimer.singleShot(400, self.fit_to_screen)

    def confirm_close(self) -> bool:
        """Asked when the window closes with output on, after the output was stopped."""
        answer = QMessageBox.question(
            self,
            APP_NAME,
            "The output was on and has been stopped (emergency stop). Close the console?",
        )
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        st = self.device.state
        if self.authority.output_held or (
            st is not None and (st.output_possible or st == DeviceState.PAUSED)
        ):
            self.emergency_stop()  # output off before any question is asked
            if not self.confirm_close():
                event.ignore()
                return
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("window/workspace", self.current_workspace().name)
        for ws in self.workspaces.built():
            ws.save_layout(self.settings)
        self.device.close()  # ESTOP first, then the link and the simulator
        for ws in self.workspaces.built():
            ws.shutdown()
        self._closed = True
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self.escape_filter)
        if self.client_watch is not None:
            self.client_watch.close()
        if self.clinic_watch is not None:
            self.clinic_watch.close()
        if self.store is not None:
            if not self.store.close(10.0):
                QMessageBox.warning(
                    self,
                    APP_NAME,
                    f"Some records could not be written to the database ({self.store.info.url}).",
                )
            self.store = None
        event.accept()


def _fix_size(label: QLabel, texts: list[str]) -> None:
    """Fix ``label``'s size to fit the largest of ``texts`` (it is left empty)."""
    label.ensurePolished()
    width = height = 0
    for text in texts:
        label.setText(text)
        hint = label.sizeHint()
        width, height = max(width, hint.width()), max(height, hint.height())
    label.setText("")
    label.setFixedSize(width, height)


def _set_text(label: QLabel, text: str) -> None:
    """``label.setText(text)`` unless it shows ``text`` already (no relayout, no repaint)."""
    if label.text() != text:
        label.setText(text)
