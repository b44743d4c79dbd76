"""Workspaces: one window layout per job, each with its own docks and remembered layout.

A workspace is a QMainWindow used as a page of the main window's stack, so it has its
own dock areas and ``saveState()``. The outer window keeps what every workspace needs:
the workspace switcher, the emergency stop, the alarm banner and the status bar.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QWidget

from app.device.event_history import DeviceEventHistory
from app.device.protocol import Ack, DeviceState, Info, Nak, Status
from app.device.samples import SampleBlock
from app.device.waveform import OutputSettings
from app.engine.authority import Driver, OutputAuthority, OutputRefused

# name, title: the switcher's order (Ctrl+1..3). Each is built the first time it is shown.
WORKSPACES = (
    ("practitioner", "Practitioner"),
    ("trainer", "Trainer"),
    ("technician", "Technician"),
)
_NAMES = frozenset(name for name, _ in WORKSPACES)


class Workspace(QMainWindow):
    """Base of the three workspaces. Subclasses add docks in ``__init__``."""

    name = ""
    title = ""
    driver = Driver.DESK  # who asks the output authority for output from this workspace

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"workspace_{self.name}")
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks
        )

    def add_dock(
        self, title: str, widget: QWidget, area: Qt.DockWidgetArea, key: str
    ) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{self.name}_{key}")
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(area, dock)
        return dock

    # hooks called by the main window ------------------------------------------
    def may_enter(self, window: QWidget) -> bool:
        """Asked before the workspace is shown (after the main window's role check)."""
        return True

    def enter(self) -> None:
        """Became the visible workspace."""

    def leave(self) -> None:
        """Another workspace is about to be shown."""

    def samples_received(self, block: SampleBlock) -> None:
        """Live samples; only the visible workspace gets them (no hidden drawing)."""

    def reference_changed(self, settings: OutputSettings) -> None:
        """The commanded output changed."""

    def device_connected(self, info: Info) -> None:
        """A device (re)connected."""

    def device_disconnected(self, reason: str) -> None:
        """The link is down: nothing live may be shown as if it were still coming."""

    def attach_link(self, link) -> None:
        """The console's device link (created once; it reconnects by itself)."""

    def recording_samples(self, block: SampleBlock) -> None:
        """Every sample block, whichever workspace is visible (for recordings)."""

    def emergency_stop_sent(self) -> None:
        """The main window has just sent ESTOP to the device."""

    def toggle_pause(self) -> None:
        """The pause key (F8): pause or resume the output this workspace controls."""

    def next_step(self) -> None:
        """The next-step key (F9): go on to the next step of a guided run."""

    def keys_changed(self, pause: QKeySequence, next_step: QKeySequence) -> None:
        """The pause/resume and next-step keys (to name them on buttons and hints)."""

    def shutdown(self) -> None:
        """The console is closing; output has already been stopped."""

    def demo_start(self) -> None:
        """--demo on the simulator: start output the way this workspace's user would."""

    def store_ready(self, store) -> None:
        """The client records opened after the workspace was built (they open in the
        background at start-up, so the window shows live data first)."""

    def store_unavailable(self, error: str) -> None:
        """The client records could not be opened: ``error`` says why."""

    def save_layout(self, settings: QSettings) -> None:
        settings.setValue(f"workspace/{self.name}/state", self.saveState())

    def restore_layout(self, settings: QSettings) -> None:
        state = settings.value(f"workspace/{self.name}/state")
        if state is not None:
            self.restoreState(state)


class TechnicianWorkspace(Workspace):
    """The bench: oscilloscope, device and link, frame log, calibration, self-test, clinic
    limits, and manual output. Entered by a technician or a manager signed in (the main
    window's role check, app/ui/access.py)."""

    name = "technician"
    title = "Technician"
    driver = Driver.BENCH

    def __init__(
        self,
        settings: QSettings,
        authority: OutputAuthority,
        set_watchdog_feeding=None,
        parent: QWidget | None = None,
        store=None,
        device_status: Callable[[], Status | None] | None = None,
        history: DeviceEventHistory | None = None,
    ) -> None:
        from app.scope.widget import ScopeWidget
        from app.ui.output_panel import OutputPanel
        from app.ui.technician.bench import TechnicianBench
        from app.ui.technician.service_history import ServiceHistoryPanel

        super().__init__(parent)
        self.link = None
        self._link_slots: list = []
        self.authority = authority
        self.port = authority.port(Driver.BENCH)
        self._note = ""  # why the last settings were lowered (shown until the next apply)
        self._device_status = device_status or (lambda: None)
        self.scope = ScopeWidget()
        self.bench = TechnicianBench(None, settings, set_watchdog_feeding, history=history)
        self.bench.set_authority(authority)
        self.bench.tabs.insertTab(0, self.scope, "Oscilloscope")
        self.bench.tabs.setCurrentIndex(0)
        self.setCentralWidget(self.bench)
        # calibrations and self-tests are kept in the store, listed in "Service history"
        self.history = ServiceHistoryPanel(store)
        self.bench.tabs.addTab(self.history, "Service history")
        self.service_recorder = None
        if store is not None:
            self.store_ready(store)
        self.output = OutputPanel()
        self.output_dock = self.add_dock(
            "Manual output", self.output, Qt.DockWidgetArea.RightDockWidgetArea, "output"
        )
        self.output.set_device_state(DeviceState.IDLE, connected=False)
        o = self.output
        o.apply_requested.connect(self._apply)
        o.start_requested.connect(lambda: self._send(self.port.request_start))
        o.pause_requested.connect(lambda: self._send(self.port.pause))
        o.resume_requested.connect(lambda: self._send(self.port.request_resume))
        o.stop_requested.connect(lambda: self._send(self.port.stop_output))
        o.reset_requested.connect(lambda: self._send(self.port.reset))
        authority.limits_changed.connect(self._show_limits)
        authority.output_lowered.connect(self._output_lowered)
        authority.output_revoked.connect(self._output_lowered)
        self._show_limits()

    def store_ready(self, store) -> None:
        from app.ui.technician.service_history import ServiceRecorder

        if self.service_recorder is not None:
            return
        self.history.store = store
        self.history.refresh()
        self.bench.clinic.set_store(store)
        self.service_recorder = ServiceRecorder(store, self)
        self.bench.calibration_completed.connect(self.service_recorder.record_calibration)
        self.bench.selftest_completed.connect(self.service_recorder.record_selftest)
        self.service_recorder.recorded.connect(self.history.refresh)
        self.service_recorder.failed.connect(self.history.show_problem)

    def store_unavailable(self, error: str) -> None:
        self.history.refresh()

    def clinic_record(self, record) -> None:
        """A reading of the store's clinic row: the clinic limits."""
        self.bench.clinic.show_record(record)
        if self.history.isVisible():  # a change of the settings is a service record
            self.history.refresh()

    def attach_link(self, link) -> None:
        self.bench.set_link(link)
        for sig, slot in self._link_slots:
            sig.disconnect(slot)
        self.link = link
        self._link_slots = (
            []
            if link is None
            else [
                (link.connected, self._connected),
                (link.disconnected, self._disconnected),
                (link.status_received, self._status),
                (link.command_answered, self._answered),
                (
                    link.command_failed,
                    lambda _rid, message: self.output.show_message(message, error=True),
                ),
            ]
        )
        for sig, slot in self._link_slots:
            sig.connect(slot)
        if link is not None and getattr(link, "is_connected", False):
            self._show_limits()
            st = self._device_status()
            self.output.set_device_state(
                st.state if st is not None else DeviceState.IDLE, connected=True
            )

    # the manual output panel: every command through the output authority ---------------
    def _show_limits(self) -> None:
        """The intensity bound is the authority's live ceiling for the bench, named."""
        d = self.port.ceiling()
        info = self.port.info
        self.output.set_limits(
            info if isinstance(info, Info) else None,
            d.ceiling_ua,
            d.layer_label if self.port.is_connected else f"{d.layer_label} (no device connected)",
        )

    def _apply(self, settings: OutputSettings) -> bool:
        self._note = ""
        try:
            grant = self.port.request_settings(settings)
        except OutputRefused as exc:
            self.output.show_message(f"Not applied: {exc}", error=True)
            return False
        self._note = grant.note
        if self._note:
            self.output.show_message(self._note, error=True)
        return True

    def _send(self, command: Callable[[], object]) -> None:
        if not self.port.is_connected:
            self.output.show_message("Not connected to a device.", error=True)
            return
        try:
            command()
        except OutputRefused as exc:
            self.output.show_message(str(exc)[0].upper() + str(exc)[1:] + ".", error=True)

    def _output_lowered(self, driver: Driver, why: str) -> None:
        if driver is Driver.BENCH:
            self.output.show_message(f"Output changed by the limits: {why}.", error=True)

    def _connected(self, info: Info) -> None:
        self._show_limits()
        self.output.set_device_state(DeviceState.IDLE, connected=True)
        if self.authority.owner is Driver.BENCH:  # the device and the panel agree at once
            self._apply(self.output.settings())

    def _disconnected(self, _reason: str) -> None:
        self.output.set_device_state(DeviceState.IDLE, connected=False)

    def _status(self, st: Status) -> None:
        self.output.set_device_state(st.state, connected=True)

    def _answered(self, _rid: int, answer: Ack | Nak) -> None:
        if isinstance(answer, Nak):
            detail = f": {answer.detail}" if answer.detail else ""
            self.output.show_message(
                f"Device refused the command ({answer.reason.text}){detail}", error=True
            )
        else:  # accepted: a limit note stays until the next apply
            self.output.show_message(self._note, error=bool(self._note))

    # workspace hooks ------------------------------------------------------------------
    def samples_received(self, block: SampleBlock) -> None:
        self.scope.append(block)

    def reference_changed(self, settings: OutputSettings) -> None:
        self.scope.set_reference(settings)

    def device_connected(self, info: Info) -> None:
        self.scope.set_device_info(info)

    def device_disconnected(self, reason: str) -> None:
        self.scope.clear()  # no last trace left standing as if live

    def leave(self) -> None:
        self.scope.clear()
        # a procedure never goes on driving the device behind another workspace
        self.bench.runner.abort("the technician left the bench")

    def emergency_stop_sent(self) -> None:
        """Esc / STOP: a running procedure ends at once and does not reset the latch."""
        self.bench.runner.abort("emergency stop by the operator", safe_stop=False)

    def toggle_pause(self) -> None:
        self.output.pause_button.click()

    def demo_start(self) -> None:
        self.output.start_button.click()


class WorkspaceSet:
    """The console's workspaces by name, each built the first time it is asked for.

    Only the desk is built at start-up (the window shows live data sooner); the studio
    and the bench are built when first shown, or when something asks for them.
    """

    def __init__(self, build: Callable[[str], Workspace]) -> None:
        self._build = build
        self._built: dict[str, Workspace] = {}

    def __getitem__(self, name: str) -> Workspace:
        ws = self._built.get(name)
        if ws is None:
            if name not in _NAMES:
                raise KeyError(name)
            ws = self._built[name] = self._build(name)
        return ws

    def get(self, name: str, default: Workspace | None = None) -> Workspace | None:
        try:
            return self[name]
        except KeyError:
            return default

    def built(self) -> list[Workspace]:
        """The workspaces that exist so far (only these get samples, links and stops)."""
        return list(self._built.values())

    def existing(self, name: str) -> Workspace | None:
        """``name`` if it has been built, else None (never builds)."""
        return self._built.get(name)

    def __contains__(self, name: object) -> bool:
        return name in _NAMES

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in WORKSPACES)

    def __len__(self) -> int:
        return len(WORKSPACES)


def build_workspace(window, name: str) -> Workspace:
    """One of the desk, the studio or the bench, for ``window`` (a MainWindow)."""
    if name == "practitioner":
        from app.ui.practitioner import PractitionerWorkspace

        return PractitionerWorkspace(
            window.store,
            window.authority,
            window.store_error,
            window,
            records_pending=window.records_pending,
        )
    if name == "trainer":
        from app.ui.trainer_workspace import TrainerWorkspace

        return TrainerWorkspace(
            window.store, window.authority, window, records_pending=window.records_pending
        )
    if name == "technician":
        technician = TechnicianWorkspace(
            window.settings,
            window.authority,
            window.device.set_watchdog_feeding,
            window,
            store=window.store,
            device_status=lambda: window.device.status,
            history=window.device.history,
        )
        technician.bench.clinic_settings_changed.connect(window.set_clinic_settings)
        window.clinic_record_read.connect(technician.clinic_record)
        if window.clinic_record is not None:
            technician.clinic_record(window.clinic_record)
        return technician
    raise KeyError(name)
