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

    def save_layout(self, settings: QSettings) -> None:
        settings.setValue(f"workspace/{self.name}/state", self.saveState())

    def restore_layout(self, settings: QSettings) -> None:
        state = settings.value(f"workspace/{self.name}/state")
        if state is not None:
            self.restoreState(state)


class TechnicianWorkspace(Workspace):
    """The bench: the full oscilloscope and manual output control."""

    name = "technician"
    title = "Technician"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scope = ScopeWidget()
        self.setCentralWidget(self.scope)
        self.output = OutputPanel()
        self.output_dock = self.add_dock("Manual output", self.output,
                                         Qt.DockWidgetArea.RightDockWidgetArea, "output")

    def samples_received(self, block: SampleBlock) -> None:
        self.scope.append(block)

    def reference_changed(self, settings: OutputSettings) -> None:
        self.scope.set_reference(settings)

    def device_connected(self, info: Info) -> None:
        self.scope.set_device_info(info)

    def leave(self) -> None:
        self.scope.clear()


def build_workspaces(window: QWidget) -> list[Workspace]:
    return [TechnicianWorkspace(window)]
