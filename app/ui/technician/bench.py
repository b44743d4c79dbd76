"""The technician's bench: one widget with the device, link, load, frame log, calibration,
self-test and clinic limits. The lead places it in the technician workspace."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.device.event_history import DeviceEventHistory
from app.device.protocol import Info
from app.device.stats import LinkStats
from app.service.framelog import FrameLogModel
from app.service.procedure import ProcedureRunner
from app.ui.technician.clinic_view import ClinicLimitsPanel
from app.ui.technician.framelog_view import FrameLogView
from app.ui.technician.panels import DeviceInfoPanel, EventsPanel, LinkStatsPanel, LoadPanel
from app.ui.technician.procedures_view import CalibrationPanel, SelfTestPanel


class TechnicianBench(QWidget):
    """The bench over one DeviceLink (``set_link`` after a reconnect).

    ``set_watchdog_feeding(bool)`` must switch the console's heartbeat feeding off and on
    again (the watchdog self-test needs it); without it that step is reported as not run.
    Frame logging on the link is on while the bench is visible and the log not paused;
    SAMPLES frames (the bulk of the traffic) are logged while the Frame log tab is shown.
    """

    calibration_completed = Signal(object)  # CalibrationResult, written to the device
    selftest_completed = Signal(object)  # SelfTestReport
    clinic_settings_changed = Signal(object)  # engine.limits.ClinicSettings, saved

    def __init__(
        self,
        link: object | None,
        settings: QSettings,
        set_watchdog_feeding: Callable[[bool], None] | None = None,
        parent: QWidget | None = None,
        history: DeviceEventHistory | None = None,
    ) -> None:
        super().__init__(parent)
        self.link = None
        # the console's device history (the device manager's: it holds what happened
        # before the bench was opened); a bench on its own keeps its own
        self.history = history if history is not None else DeviceEventHistory(self)
        self._connections: list = []
        self.runner = ProcedureRunner(None, self)
        self.log_model = FrameLogModel(parent=self)

        self.info_panel = DeviceInfoPanel()
        self.stats_panel = LinkStatsPanel()
        self.load_panel = LoadPanel()
        self.events_panel = EventsPanel(self.history)
        self.log_view = FrameLogView(self.log_model)
        self.calibration = CalibrationPanel(self.runner, self._info)
        self.selftest = SelfTestPanel(self.runner, self._info, set_watchdog_feeding)
        self.clinic = ClinicLimitsPanel()
        self.calibration.calibration_completed.connect(self.calibration_completed)
        self.selftest.selftest_completed.connect(self.selftest_completed)
        self.clinic.clinic_settings_changed.connect(self.clinic_settings_changed)
        self.log_view.capture_changed.connect(lambda _on: self._update_logging())

        overview = QWidget()
        row = QHBoxLayout(overview)
        left = QVBoxLayout()
        left.addWidget(self.info_panel)
        left.addWidget(self.load_panel)
        left.addWidget(self.events_panel, 1)
        row.addLayout(left, 2)
        row.addWidget(self.stats_panel, 3)

        # the overview is the tallest page: it scrolls on a short screen rather than make
        # every tab (and the workspace) taller than a 1280 x 800 window shows — which hid
        # the buttons and messages at the foot of the other tabs (Save limits)
        self.overview_page = QScrollArea()  # the "Device and link" tab
        self.overview_page.setWidgetResizable(True)
        self.overview_page.setFrameShape(QFrame.Shape.NoFrame)
        self.overview_page.setWidget(overview)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.overview_page, "Device and link")
        self.tabs.addTab(self.log_view, "Frame log")
        self.tabs.addTab(self.calibration, "Calibration")
        self.tabs.addTab(self.selftest, "Self-test")
        self.tabs.addTab(self.clinic, "Clinic limits")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tabs)
        self.tabs.currentChanged.connect(lambda _i: self._update_logging())
        self.set_link(link)

    # -- public ---------------------------------------------------------------------------

    def set_authority(self, authority) -> None:
        """The output authority the bench's procedures ask for output."""
        self.runner.set_authority(authority)

    def set_link(self, link: object | None) -> None:
        """Follow another link (or none); a running procedure is aborted."""
        # the old link may already be gone (deleted after a disconnect): nothing to undo then
        with contextlib.suppress(RuntimeError):
            if self.link is not None:
                self.link.set_frame_logging(False)
            for sig, slot in self._connections:
                sig.disconnect(slot)
        self._connections = []
        self.link = link
        self.history.follow(link)
        self.runner.set_link(link)
        self.load_panel.clear()
        if link is None:
            self.info_panel.set_info(None)
            self.info_panel.set_port("")
            self.info_panel.set_connected(False, "no device link")
            return
        self._connections = [
            (link.connected, self._on_connected),
            (link.disconnected, self._on_disconnected),
            (link.stats_updated, self.stats_panel.update_stats),
            (link.status_received, self.load_panel.add_status),
            (link.samples_received, self.load_panel.add_samples),
            (link.frame_logged, self.log_model.add),
        ]
        for sig, slot in self._connections:
            sig.connect(slot)
        self.info_panel.set_port(getattr(link, "port_url", ""))
        info = getattr(link, "info", None)
        self.info_panel.set_info(info)
        self.load_panel.set_info(info)
        self.info_panel.set_connected(
            bool(getattr(link, "is_connected", False)), "" if info else "waiting for the device"
        )
        stats = getattr(link, "stats", None)
        if isinstance(stats, LinkStats):
            self.stats_panel.update_stats(stats)
        self._update_logging()

    def set_watchdog_feeding(self, feeding: Callable[[bool], None] | None) -> None:
        self.selftest.set_watchdog_feeding(feeding)

    # -- internals ------------------------------------------------------------------------

    def _info(self) -> Info | None:
        link = self.link
        if link is None or not getattr(link, "is_connected", False):
            return None
        return link.info

    def _on_connected(self, info: Info) -> None:
        self.info_panel.set_info(info)
        self.load_panel.set_info(info)
        self.info_panel.set_connected(True)

    def _on_disconnected(self, reason: str) -> None:
        self.info_panel.set_connected(False, reason)

    def _update_logging(self) -> None:
        if self.link is not None:
            self.link.set_frame_logging(
                self.isVisible() and self.log_view.capturing,
                samples=self.tabs.currentWidget() is self.log_view,
            )

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self._update_logging()

    def hideEvent(self, event) -> None:  # noqa: N802
        super().hideEvent(event)
        self._update_logging()
