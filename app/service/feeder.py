"""A GUI-thread heartbeat feeder for a DeviceLink that a bench test can suspend.

The console's own feeder (the lead's DeviceManager) does the same job; whatever feeds the
link must offer ``set_watchdog_feeding(bool)`` to the technician bench so the watchdog
self-test can stop the heartbeats. This one is used by the bench's tests and the
screenshot and can serve any stand-alone bench.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

from app.device.interface import DeviceInterface

FEED_PERIOD_MS = 100


class WatchdogFeeder(QObject):
    """Calls ``link.feed_watchdog()`` every 100 ms while feeding is on."""

    def __init__(self, link: DeviceInterface | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._link = link
        self._feeding = True
        self._timer = QTimer(self)
        self._timer.setInterval(FEED_PERIOD_MS)
        self._timer.timeout.connect(self._feed)
        self._timer.start()
        self._feed()

    @property
    def feeding(self) -> bool:
        return self._feeding

    def set_link(self, link: DeviceInterface | None) -> None:
        self._link = link
        self._feed()

    def set_watchdog_feeding(self, on: bool) -> None:
        self._feeding = bool(on)
        self._feed()

    def stop(self) -> None:
        self._timer.stop()

    def _feed(self) -> None:
        if self._feeding and self._link is not None:
            self._link.feed_watchdog()
