"""Port discovery: the simulator first, then USB serial ports, then the rest."""

from __future__ import annotations

from serial.tools import list_ports, list_ports_common

from app.device.ports import SIMULATOR, SIMULATOR_LABEL, PortEntry, discover, menu_labels


def _port(device: str, description: str, hwid: str) -> list_ports_common.ListPortInfo:
    info = list_ports_common.ListPortInfo(device, skip_link_detection=True)
    info.description = description
    info.hwid = hwid
    return info


def test_simulator_first_then_usb_ports(monkeypatch):
    fake = [
        _port("/dev/ttyS0", "n/a", "n/a"),
        _port("/dev/ttyUSB1", "CP2102 USB to UART", "USB VID:PID=10C4:EA60 SER=0002"),
        _port("/dev/ttyACM0", "MC-1 microcurrent", "USB VID:PID=1209:0001 SER=MC1234"),
    ]
    monkeypatch.setattr(list_ports, "comports", lambda *a, **k: fake)
    entries = discover()
    assert entries[0] is SIMULATOR
    assert entries[0].is_simulator
    assert [e.url for e in entries[1:]] == ["/dev/ttyACM0", "/dev/ttyUSB1", "/dev/ttyS0"]
    assert entries[3] == PortEntry("/dev/ttyS0", "serial port", "")
    assert [e.url for e in discover(include_simulator=False)][0] == "/dev/ttyACM0"


def test_menu_labels():
    labels = menu_labels(
        [
            SIMULATOR,
            PortEntry("/dev/ttyACM0", "MC-1 microcurrent", "USB VID:PID=1209:0001"),
            PortEntry("COM3", "serial port", ""),
        ]
    )
    assert labels[0].startswith(SIMULATOR_LABEL)
    assert labels[1] == "/dev/ttyACM0 — MC-1 microcurrent (USB VID:PID=1209:0001)"
    assert labels[2] == "COM3 — serial port"
    assert menu_labels([]) == []


def test_discover_on_this_machine_lists_real_ports_or_none():
    entries = discover()
    assert entries[0] is SIMULATOR
    assert all(not e.is_simulator and e.url for e in entries[1:])
