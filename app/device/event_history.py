"""What the device reported since the console started: its EVENTs, and the link's
connections and drops, time-stamped, newest last (the latest ``MAX_ENTRIES``).

One history per console, owned by the device manager and following whichever link it
opens, so the technician's bench shows a watchdog trip that happened on the desk before
the bench was ever opened. Views read ``entries()`` once and then follow ``added``.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from app.device.protocol import DeviceState, Event, EventCode, Info

MAX_ENTRIES = 200
ALARMS = frozenset(
    {
        EventCode.WATCHDOG_TRIP,
        EventCode.FAULT,
        EventCode.ESTOP,
        EventCode.COMPLIANCE,
        EventCode.CONTACT_LOST,
        EventCode.LIMIT_REFUSED,
    }
)


@dataclass(frozen=True)
class HistoryEntry:
    at: float  # wall-clock time (time.time())
    text: str
    alarm: bool  # shown as an alarm (red)


def describe(event: Event) -> tuple[str, bool]:
    """An EVENT as the history words it, and whether it is an alarm."""
    if event.code == EventCode.STATE_CHANGED and event.arg in DeviceState._value2member_map_:
        text = f"state → {DeviceState(event.arg).label}"
        return (f"{text} ({event.text})" if event.text else text), False
    name = event.code.name.replace("_", " ").lower()
    return (f"{name}: {event.text}" if event.text else name), event.code in ALARMS


class DeviceEventHistory(QObject):
    """The recent history of the device and its link (GUI thread)."""

    added = Signal(object)  # the new HistoryEntry

    def __init__(self, parent: QObject | None = None, clock=time.time) -> None:
        super().__init__(parent)
        self._entries: deque[HistoryEntry] = deque(maxlen=MAX_ENTRIES)
        self._clock = clock
        self._link: object | None = None
        self._slots: list = []

    def entries(self) -> list[HistoryEntry]:
        """Oldest first."""
        return list(self._entries)

    def follow(self, link) -> None:
        """Record what ``link`` reports from now on (and no longer the previous link's);
        following the link already followed changes nothing."""
        if link is self._link:
            return
        for sig, slot in self._slots:
            with contextlib.suppress(RuntimeError, TypeError):  # the old link is deleted
                sig.disconnect(slot)
        self._link = link
        self._slots = (
            []
            if link is None
            else [
                (link.event_received, self.add_event),
                (link.connected, self._connected),
                (link.disconnected, self._disconnected),
            ]
        )
        for sig, slot in self._slots:
            sig.connect(slot)

    def add_event(self, event: Event) -> None:
        text, alarm = describe(event)
        self.add_note(text, alarm)

    def add_note(self, text: str, alarm: bool = True) -> None:
        entry = HistoryEntry(self._clock(), text, alarm)
        self._entries.append(entry)
        self.added.emit(entry)

    def _connected(self, info: Info) -> None:
        self.add_note(f"connected to {info.model} {info.serial}", alarm=False)

    def _disconnected(self, reason: str) -> None:
        self.add_note(f"link lost: {reason}")
