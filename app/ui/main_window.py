"""The console's main window: live scope, output controls, status bar, emergency stop."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app import APP_NAME
from app.device.protocol import Ack, DeviceState, Event, EventCode, Info, Nak, Status
from app.device.samples import SampleBlock
from app.device.stats import LinkStats
from app.engine.session import ACTIVE
from app.ui import style
from app.ui.device_manager import DeviceManager
from app.ui.workspaces import Workspace, build_workspaces

CLINIC_DEFAULT_MAX_UA = 600.0
STALE_AFTER_S = 0.5  # no frame for this long: alarm (the link declares loss after 1 s)


class MainWindow(QMainWindow):
    """Hosts the instruments; every command to the device goes through ``self.device``."""

    live_data_seen = Signal()  # first samples shown after a (re)connect
    workspace_changed = Signal(str)
    store_failed = Signal(str)  # emitted from the store's writer thread: queued to the GUI

    def __init__(self, device: DeviceManager, settings: QSettings, store=None,
                 store_error: str = "") -> None:
        super().__init__()
        self.device = device
        self.settings = settings
        self.store = store
        self._link = None
        self._samples_seen = 0
        self.demo_mode = False  # simulator only: start output once connected
        self._return_device = False  # give the device back to the desk once output is off
        self._label_ticks = 0
        self.setWindowTitle(APP_NAME)
        if store is not None:
            self.store_failed.connect(self._on_store_failed)
            store.writer.add_error_listener(self.store_failed.emit)
        self.resize(1280, 800)

        self.banner = QLabel()
        self.banner.setObjectName("banner")
        self.banner.setVisible(False)
        self.stack = QStackedWidget()
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.banner)
        lay.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self.workspaces: dict[str, Workspace] = {}
        for ws in build_workspaces(self, store, store_error):
            self.workspaces[ws.name] = ws
            if hasattr(ws, "message"):
                ws.message.connect(lambda text, kind: self.show_alarm(
                    text, "estop" if kind == "alarm" else "info"))
            self.stack.addWidget(ws)
            ws.restore_layout(settings)
        technician = self.workspaces["technician"]
        self.scope = technician.scope
        self.output = technician.output

        self._build_toolbar()
        self._build_status_bar()
        self._wire_output_panel()

        # Esc = emergency stop, from anywhere in the application; Space = pause/resume.
        self.estop_shortcut = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        self.estop_shortcut.setContext(Qt.ShortcutContext.ApplicationShortcut)
        self.estop_shortcut.activated.connect(self.emergency_stop)
        self.pause_shortcut = QShortcut(QKeySequence(Qt.Key.Key_Space), self)
        self.pause_shortcut.activated.connect(lambda: self.current_workspace().toggle_pause())

        self._age_timer = QTimer(self)
        self._age_timer.setInterval(100)  # 10 Hz: a silent device is flagged within 0.6 s
        self._age_timer.timeout.connect(self._refresh_link_label)
        self._age_timer.start()

        device.link_changed.connect(self._attach_link)
        device.failed.connect(lambda msg: self.show_alarm(msg))
        if device.link is not None:
            self._attach_link(device.link)
        self.output.set_limits(None, CLINIC_DEFAULT_MAX_UA, "clinic maximum")
        self._restore_window_state()

    # ------------------------------------------------------------------ building

    def _build_toolbar(self) -> None:
        bar = QToolBar("Main")
        bar.setObjectName("toolbar_main")
        bar.setMovable(False)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        self.workspace_actions = QActionGroup(self)
        self.workspace_actions.setExclusive(True)
        for i, ws in enumerate(self.workspaces.values()):
            act = QAction(ws.title, self, checkable=True)
            act.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            act.setToolTip(f"{ws.title} workspace (Ctrl+{i + 1})")
            act.setData(ws.name)
            act.triggered.connect(lambda _=False, n=ws.name: self.switch_workspace(n))
            self.workspace_actions.addAction(act)
            bar.addAction(act)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
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
        for w in (self.device_label, self.link_label, self.contact_label):
            sb.addWidget(w)
        sb.addPermanentWidget(self.state_label)
        self._show_disconnected("connecting…")

    def _wire_output_panel(self) -> None:
        o = self.output
        o.apply_requested.connect(self.apply_settings)
        o.start_requested.connect(lambda: self._send("start_output"))
        o.pause_requested.connect(lambda: self._send("pause"))
        o.resume_requested.connect(lambda: self._send("resume"))
        o.stop_requested.connect(lambda: self._send("stop_output"))
        o.reset_requested.connect(lambda: self._send("reset"))

    # ------------------------------------------------------------------ device

    def _attach_link(self, link) -> None:
        self._link = link
        if link is None:
            self._show_disconnected("closed")
            return
        for ws in self.workspaces.values():
            ws.attach_link(link)
        desk = self.workspaces.get("practitioner")
        current = self.current_workspace()
        if getattr(desk, "controller", None) is not None and current is not desk:
            desk.controller.lend_device(True, current.name)
        link.connected.connect(self._on_connected)
        link.disconnected.connect(self._on_disconnected)
        link.samples_received.connect(self._on_samples)
        link.status_received.connect(self._on_status)
        link.event_received.connect(self._on_event)
        link.command_answered.connect(self._on_answer)
        link.command_failed.connect(self._on_command_failed)

    def emergency_stop(self) -> None:
        """ESTOP to the device first, then show it: never waits on anything."""
        if self._link is not None:
            self._link.estop()
        for ws in self.workspaces.values():
            ws.emergency_stop_sent()
        self.show_alarm("EMERGENCY STOP — output off. Press Reset when it is safe to continue.")
        self.state_label.setText(style.pill("EMERGENCY STOP", style.ALARM))

    def apply_settings(self, settings) -> None:
        if self._link is not None:
            self._link.set_output(settings)
            for ws in self.workspaces.values():
                ws.reference_changed(settings)

    def _send(self, method: str) -> None:
        if self._link is None or not self._link.is_connected:
            self.output.show_message("Not connected to a device.", error=True)
            return
        getattr(self._link, method)()

    def _on_connected(self, info: Info) -> None:
        self._samples_seen = 0
        self.hide_alarm()
        self.device_label.setText(
            f"<b>{info.model}</b> · {info.serial} · firmware {info.firmware}")
        for ws in self.workspaces.values():
            ws.device_connected(info)
        self.output.set_limits(info, CLINIC_DEFAULT_MAX_UA, "clinic maximum")
        self.output.set_device_state(DeviceState.IDLE, connected=True)
        self.apply_settings(self.output.settings())
        if self.demo_mode and self.device.simulator is not None:
            QTimer.singleShot(300, self.current_workspace().demo_start)

    def _on_disconnected(self, reason: str) -> None:
        self._show_disconnected(reason)
        self.show_alarm(f"Device link lost: {reason}. Reconnecting…")

    def _show_disconnected(self, reason: str) -> None:
        self.device_label.setText("No device")
        self.link_label.setText(style.pill("LINK DOWN", style.ALARM) + f" {reason}")
        self.contact_label.setText("")
        self.state_label.setText(style.pill("NO DEVICE", style.MUTED))
        self.output.set_device_state(DeviceState.IDLE, connected=False)

    def _on_samples(self, block: SampleBlock) -> None:
        for ws in self.workspaces.values():
            ws.recording_samples(block)
        self.current_workspace().samples_received(block)
        self._samples_seen += len(block)
        if self._samples_seen == len(block):
            self.live_data_seen.emit()

    def _on_status(self, st: Status) -> None:
        self.output.set_device_state(st.state, connected=True)
        if self._return_device and not st.state.output_possible \
                and st.state != DeviceState.PAUSED:
            self._return_device = False
            desk = self.workspaces.get("practitioner")
            if getattr(desk, "controller", None) is not None:
                desk.controller.lend_device(False)
        colour = {DeviceState.RUNNING: style.OK, DeviceState.RAMP_UP: style.OK,
                  DeviceState.RAMP_DOWN: style.WARN, DeviceState.PAUSED: style.WARN,
                  DeviceState.CONTACT_LOST: style.ALARM}.get(
            st.state, style.ALARM if st.state.latched else style.MUTED)
        text = st.state.label.upper()
        if st.state.output_possible:
            text += f" {st.level_ua:.0f} µA"
        self.state_label.setText(style.pill(text, colour))
        if st.contact:
            z = st.impedance_ohm
            self.contact_label.setText(style.pill("CONTACT", style.OK)
                                       + (f" {z / 1000:.1f} kΩ" if z == z and z < 1e9 else ""))
        else:
            self.contact_label.setText(style.pill("NO CONTACT", style.WARN) + " probes lifted")
        if st.compliance:
            self.contact_label.setText(self.contact_label.text()
                                       + " " + style.pill("COMPLIANCE", style.WARN))
        if not st.state.latched and self.banner.property("kind") == "estop":
            self.hide_alarm()

    def _on_event(self, ev: Event) -> None:
        if ev.code == EventCode.WATCHDOG_TRIP:
            self.show_alarm("Device watchdog tripped: output turned off. "
                            "Press Reset when it is safe to continue.")
        elif ev.code == EventCode.CONTACT_LOST:
            self.show_alarm("Contact lost: output paused. Place the probes back, then Resume.",
                            kind="contact")
        elif ev.code == EventCode.CONTACT_RESTORED and self.banner.property("kind") == "contact":
            self.show_alarm("Contact restored. Press Resume (Space) to continue.", kind="info")
        elif ev.code == EventCode.FAULT:
            self.show_alarm(f"Device fault: {ev.text or ev.arg}")
        elif ev.code == EventCode.LIMIT_REFUSED:
            self.output.show_message(f"Device refused: {ev.text}", error=True)

    def _on_answer(self, request_id: int, answer: Ack | Nak) -> None:
        if isinstance(answer, Nak):
            detail = f": {answer.detail}" if answer.detail else ""
            self.output.show_message(f"Device refused the command ({answer.reason.text}){detail}",
                                     error=True)
        else:
            self.output.show_message("")

    def _on_command_failed(self, request_id: int, message: str) -> None:
        self.output.show_message(message, error=True)

    def _refresh_link_label(self) -> None:
        link = self._link
        if link is None or not link.is_connected:
            return
        s: LinkStats = link.stats
        if s.last_frame_age_s > STALE_AFTER_S:
            if self.banner.property("kind") != "stale":
                self.show_alarm(f"The device has stopped sending ({s.last_frame_age_s:.1f} s): "
                                "its output is not confirmed. Its watchdog turns output off "
                                "if it stops hearing the console; the link is being checked.",
                                kind="stale")
        elif self.banner.property("kind") == "stale":
            self.hide_alarm()
        self._label_ticks = (self._label_ticks + 1) % 5
        if self._label_ticks:  # the numbers themselves twice a second
            return
        colour = {"good": style.OK, "degraded": style.WARN}.get(s.quality, style.ALARM)
        self.link_label.setText(
            style.pill(f"LINK {s.quality.upper()}", colour)
            + f" {s.frames_per_s:.0f} frames/s · {s.bytes_per_s / 1000:.1f} kB/s"
            + f" · errors {s.error_count} · dropped {s.samples_dropped}")

    def _on_store_failed(self, message: str) -> None:
        """The records cannot be written: say so, and stop any output being recorded
        (ramped, as the operator's Stop). The writer keeps what it has and retries."""
        stopped = ""
        desk = self.workspaces.get("practitioner")
        ctl = getattr(desk, "controller", None)
        if ctl is not None and ctl.state in ACTIVE:
            ctl.stop()
            stopped = " The treatment was stopped."
        trainer = self.workspaces.get("trainer")
        if trainer is not None and getattr(trainer, "session", None) is not None:
            trainer.studio.stop_output()
            stopped = " The output was stopped."
        self.show_alarm(f"Records cannot be saved: {message}{stopped} Nothing already stored "
                        "is lost; the console keeps retrying.")

    # ------------------------------------------------------------------ alarms

    def show_alarm(self, text: str, kind: str = "estop") -> None:
        colour = {"info": "#e3f2fd;color:#0d47a1", "contact": "#fff3e0;color:#e65100"}.get(
            kind, "#ffebee;color:#b71c1c")
        self.banner.setStyleSheet(f"background:{colour}")
        self.banner.setProperty("kind", kind)
        self.banner.setText(text)
        self.banner.setVisible(True)

    def hide_alarm(self) -> None:
        self.banner.setVisible(False)
        self.banner.setProperty("kind", "")

    # ------------------------------------------------------------------ workspaces

    def current_workspace(self) -> Workspace:
        return self.stack.currentWidget()  # type: ignore[return-value]

    def switch_workspace(self, name: str) -> bool:
        """Show workspace ``name``; False if it stays closed (e.g. a wrong PIN)."""
        ws = self.workspaces.get(name)
        if ws is None:
            return False
        current = self.current_workspace()
        if ws is current:
            self._check_current_action()
            return True
        desk = self.workspaces.get("practitioner")
        ctl = getattr(desk, "controller", None)
        if ws is not desk and ctl is not None and ctl.state in ACTIVE:
            self.show_alarm("A treatment session is under way: stop it before leaving the "
                            "treatment desk.", kind="info")
            self._check_current_action()
            return False
        if not ws.may_enter(self):
            self._check_current_action()
            return False
        if current is not None:
            current.leave()
        if ctl is not None:
            if ws is desk:
                # Output the bench or studio started is stopped; the desk takes the device
                # back once it reports no output.
                st = self.device.state
                if self._link is not None and st is not None and (
                        st.output_possible or st == DeviceState.PAUSED):
                    self._link.stop_output()
                    self._return_device = True
                else:
                    ctl.lend_device(False)
            else:
                self._return_device = False
                ctl.lend_device(True, ws.name)
        self.stack.setCurrentWidget(ws)
        ws.enter()
        self._check_current_action()
        self.workspace_changed.emit(name)
        return True

    def _check_current_action(self) -> None:
        name = self.current_workspace().name
        for act in self.workspace_actions.actions():
            act.setChecked(act.data() == name)

    # ------------------------------------------------------------------ window state

    def _restore_window_state(self) -> None:
        geometry = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
        start = self.settings.value("window/workspace", "practitioner")
        if start == "technician":  # never ask for the PIN before the window is even shown
            start = "practitioner"
        if not (isinstance(start, str) and self.switch_workspace(start)):
            self.switch_workspace(next(iter(self.workspaces)))

    def confirm_close(self) -> bool:
        """Asked when the window closes with output on (the output is stopped first)."""
        answer = QMessageBox.question(
            self, APP_NAME, "Output is on. Stop the output and close the console?")
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        st = self.device.state
        if st is not None and (st.output_possible or st == DeviceState.PAUSED) \
                and not self.confirm_close():
            event.ignore()
            return
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("window/workspace", self.current_workspace().name)
        for ws in self.workspaces.values():
            ws.save_layout(self.settings)
        self.device.close()  # ESTOP first, then the link and the simulator
        for ws in self.workspaces.values():
            ws.shutdown()
        if self.store is not None:
            if not self.store.close(10.0):
                QMessageBox.warning(self, APP_NAME, "Some records could not be written to "
                                    f"the database ({self.store.info.url}).")
            self.store = None
        event.accept()
