"""Serial port discovery for the device menu: the built-in simulator first, then hardware.

No Qt. :func:`discover` asks ``serial.tools.list_ports``; :func:`menu_labels` formats
any list of :class:`PortEntry` for a menu or a terminal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

SIMULATOR_LABEL = "Built-in simulator"


@dataclass(frozen=True, slots=True)
class PortEntry:
    """One choice in the device menu. ``url`` None means: start the built-in simulator."""

    url: str | None
    description: str
    hwid: str = ""

    @property
    def is_simulator(self) -> bool:
        return self.url is None


SIMULATOR = PortEntry(None, "simulated microcurrent device (firmware simulator process)", "")


def _from_list_ports(info) -> PortEntry:
    description = (info.description or "").strip()
    if not description or description == "n/a" or description == info.device:
        description = "serial port"
    hwid = (info.hwid or "").strip()
    return PortEntry(info.device, description, "" if hwid == "n/a" else hwid)


def discover(*, include_simulator: bool = True) -> list[PortEntry]:
    """The simulator (unless excluded), then every serial port the system reports,
    USB devices before others, each group sorted by name."""
    from serial.tools import list_ports

    found = [_from_list_ports(p) for p in list_ports.comports()]
    found.sort(key=lambda e: (not e.hwid.upper().startswith("USB"), e.url or ""))
    return ([SIMULATOR] if include_simulator else []) + found


def menu_labels(entries: Iterable[PortEntry]) -> list[str]:
    """One label per entry, e.g. ``"/dev/ttyUSB0 — CP2102 USB to UART (USB VID:PID=…)"``."""
    labels = []
    for e in entries:
        if e.is_simulator:
            labels.append(f"{SIMULATOR_LABEL} — {e.description}")
            continue
        label = f"{e.url} — {e.description}"
        if e.hwid:
            label += f" ({e.hwid})"
        labels.append(label)
    return labels
