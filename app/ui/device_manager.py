"""Owns the device connection of the console: the simulator process (by default) and the link.

Lives in the GUI thread; every I/O happens in the link's worker thread. It feeds the
link's heartbeat gate from a GUI-thread timer, so a frozen GUI stops the heartbeats and
the firmware watchdog turns the output off.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer, Signal

from app.device.event_history import DeviceEventHistory
from app.device.firmware import baud_for, max_sample_rate
from app.device.link import DeviceLink
from app.device.protocol import DeviceState, Info, Status
from app.device.sim_process import SimulatorProcess

log = logging.getLogger(__name__)

WATCHDOG_FEED_MS = 100
DEFAULT_BAUD = 921_600  # the console's and the simulator's line rate unless told otherwise


class DeviceManager(QObject):
    """Starts/stops the simulator and the link; keeps the latest INFO and STATUS."""

    link_changed = Signal(object)  # the new DeviceLink (or None)
    failed = Signal(str)  # could not start the simulator or open the port

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.link: DeviceLink | None = None
        self.simulator: SimulatorProcess | None = None
        self.info: Info | None = None
        self.status: Status | None = None
        self.port = ""
        self.baud = DEFAULT_BAUD  # the line rate: the link's, or the simulator's --baud
        self.history = DeviceEventHistory(self)  # the device's events since start-up
        self._feed = QTimer(self)
        self._feed.setInterval(WATCHDOG_FEED_MS)
        self._feed.timeout.connect(self._feed_watchdog)

    @property
    def state(self) -> DeviceState | None:
        return self.status.state if self.status is not None else None

    @property
    def connected(self) -> bool:
        return self.link is not None and self.link.is_connected

    def open(
        self,
        port: str | None,
        simulator_args: list[str] | None = None,
        simulator: SimulatorProcess | None = None,
        baud: int = DEFAULT_BAUD,
    ) -> bool:
        """Connect to ``port`` at ``baud``, or to the built-in simulator when ``port`` is
        None (a ``simulator`` already spawned by the launcher, or a new one; its line
        rate is its own ``--baud``)."""
        self.close()
        self.baud = int(baud)
        if port is None:
            self.simulator = simulator or SimulatorProcess(list(simulator_args or []))
            args = self.simulator.extra_args
            if "--baud" in args[:-1]:
                self.baud = int(args[args.index("--baud") + 1])
            else:
                self.baud = DEFAULT_BAUD
            try:
                port = self.simulator.start()
            except Exception as exc:  # noqa: BLE001 - shown to the user, console keeps working
                self.simulator = None
                self.failed.emit(f"Could not start the device simulator: {exc}")
                return False
        self.port = port
        self.link = DeviceLink(port, baud=self.baud)
        self.link.connected.connect(self._on_connected)
        self.link.disconnected.connect(self._on_disconnected)
        self.link.status_received.connect(self._on_status)
        self.history.follow(self.link)
        self.link.start()
        self._feed.start()
        self.link_changed.emit(self.link)
        return True

    def close(self) -> None:
        """Output off first (ESTOP), then stop the link and the simulator."""
        self._feed.stop()
        if self.link is not None:
            if self.link.is_connected and (self.state is None or not self.state.latched):
                self.link.estop()
            self.link.stop(2000)
            self.history.follow(None)
            self.link.deleteLater()
            self.link = None
            self.link_changed.emit(None)
        if self.simulator is not None:
            self.simulator.stop()
            self.simulator = None
        self.info = None
        self.status = None

    def set_watchdog_feeding(self, on: bool) -> None:
        """Technician's watchdog test: stop (or resume) every heartbeat of this console."""
        if self.link is not None:
            self.link.suspend_heartbeats(not on)

    def _feed_watchdog(self) -> None:
        if self.link is not None:
            self.link.feed_watchdog()

    def _on_connected(self, info: Info) -> None:
        self.info = info
        log.info("connected to %s %s firmware %s", info.model, info.serial, info.firmware)

    def line_warning(self, info: Info) -> str:
        """Why the line cannot carry the device's stream ('' when it can): at a sample
        rate above what the line rate carries (docs/protocol.md §3) the device drops whole
        frames of samples."""
        carried = max_sample_rate(self.baud)
        if info.sample_rate <= carried:
            return ""
        try:
            fix = (
                f"Set the device and the console (--baud) to "
                f"{baud_for(info.sample_rate):,} baud or more."
            )
        except ValueError:
            fix = "Lower the device's sample rate."
        return (
            f"The device sends {info.sample_rate:,} samples/s, but its connection at "
            f"{self.baud:,} baud carries at most {carried:,}: samples will be missing "
            f"from the scope and the recording. {fix}"
        )

    def _on_disconnected(self, reason: str) -> None:
        self.status = None
        log.warning("device link lost: %s", reason)

    def _on_status(self, status: Status) -> None:
        self.status = status
