"""Workspaces: one window layout per job, each with its own docks and remembered layout.

A workspace is a QMainWindow used as a page of the main window's stack, so it has its
own dock areas and ``saveState()``. The outer window keeps what every workspace needs:
the workspace switcher, the emergency stop, the alarm banner and the status bar.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow, QWidget

from app.device.protocol import Info
from app.device.samples import SampleBlock
from app.device.waveform import OutputSettings
from app.scope.widget import ScopeWidget
from app.ui.output_panel import OutputPanel


class Workspace(QMainWindow):
    """Base of the three workspaces. Subclasses add docks in ``__init__``."""

    name = ""
    title = ""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"workspace_{self.name}")
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks
                            | QMainWindow.DockOption.AllowTabbedDocks)

    def add_dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea,
                 key: str) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{self.name}_{key}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    # hooks called by the main window ------------------------------------------
    def may_enter(self, window: QWidget) -> bool:
        """Asked before the workspace is shown (the technician's asks for the PIN)."""
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

    def attach_link(self, link) -> None:
        """The console's device link (created once; it reconnects by itself)."""

    def recording_samples(self, block: SampleBlock) -> None:
        """Every sample block, whichever workspace is visible (for recordings)."""

    def emergency_stop_sent(self) -> None:
        """The main window has just sent ESTOP to the device."""

    def toggle_pause(self) -> None:
        """Space: pause or resume the output this workspace controls."""

    def shutdown(self) -> None:
        """The console is closing; output has already been stopped."""

    def demo_start(self) -> None:
        """--demo on the simulator: start output the way this workspace's user would."""

    def save_layout(self, settings: QSettings) -> None:
        settings.setValue(f"workspace/{self.name}/state", self.saveState())

    def restore_layout(self, settings: QSettings) -> None:
        state = settings.value(f"workspace/{self.name}/state")
        if state is not None:
            self.restoreState(state)


class TechnicianWorkspace(Workspace):
    """The bench: oscilloscope, device and link, frame log, calibration, self-test, clinic
    limits, and manual output. Entered with the technician PIN."""

    name = "technician"
    title = "Technician"

    def __init__(self, settings: QSettings, set_watchdog_feeding=None,
                 parent: QWidget | None = None, store=None) -> None:
        from app.service.pin import PinGuard, QSettingsStore
        from app.ui.technician.bench import TechnicianBench
        from app.ui.technician.service_history import ServiceHistoryPanel, ServiceRecorder

        super().__init__(parent)
        self.pin_guard = PinGuard(QSettingsStore(settings))
        self.require_pin = True
        self.scope = ScopeWidget()
        self.bench = TechnicianBench(None, settings, set_watchdog_feeding)
        self.bench.tabs.insertTab(0, self.scope, "Oscilloscope")
        self.bench.tabs.setCurrentIndex(0)
        self.setCentralWidget(self.bench)
        # calibrations and self-tests are kept in the store, listed in "Service history"
        self.history = ServiceHistoryPanel(store)
        self.bench.tabs.addTab(self.history, "Service history")
        self.service_recorder = None
        if store is not None:
            self.service_recorder = ServiceRecorder(store, self)
            self.bench.calibration_completed.connect(self.service_recorder.record_calibration)
            self.bench.selftest_completed.connect(self.service_recorder.record_selftest)
            self.service_recorder.recorded.connect(self.history.refresh)
            self.service_recorder.failed.connect(self.history.show_problem)
        self.output = OutputPanel()
        self.output_dock = self.add_dock("Manual output", self.output,
                                         Qt.DockWidgetArea.RightDockWidgetArea, "output")

    def may_enter(self, window: QWidget) -> bool:
        if not self.require_pin:
            return True
        from app.ui.technician.pin_dialog import PinDialog

        return PinDialog.request_access(self.pin_guard, window)

    def attach_link(self, link) -> None:
        self.bench.set_link(link)

    def samples_received(self, block: SampleBlock) -> None:
        self.scope.append(block)

    def reference_changed(self, settings: OutputSettings) -> None:
        self.scope.set_reference(settings)

    def device_connected(self, info: Info) -> None:
        self.scope.set_device_info(info)

    def leave(self) -> None:
        self.scope.clear()

    def toggle_pause(self) -> None:
        self.output.pause_button.click()

    def demo_start(self) -> None:
        self.output.start_button.click()


def build_workspaces(window, store=None, store_error: str = "") -> list[Workspace]:
    """The practitioner's desk, the trainer's studio and the technician's bench."""
    from app.service.clinic_limits import load_clinic_settings
    from app.ui.practitioner import PractitionerWorkspace
    from app.ui.trainer_workspace import TrainerWorkspace

    practitioner = PractitionerWorkspace(store, store_error, window)
    technician = TechnicianWorkspace(window.settings, window.device.set_watchdog_feeding,
                                     window, store=store)
    clinic, problems = load_clinic_settings(window.settings)
    practitioner.set_clinic_settings(clinic)
    for problem in problems:
        practitioner.message.emit(f"Clinic settings: {problem} (default used)", "alarm")
    technician.bench.clinic_settings_changed.connect(practitioner.set_clinic_settings)
    trainer = TrainerWorkspace(store, window)
    trainer.studio.set_amplitude_cap(clinic.max_current_ua, "clinic maximum")
    return [practitioner, trainer, technician]
