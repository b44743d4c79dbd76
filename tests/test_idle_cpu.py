"""What keeps an idle console cheap (issue 17, docs/performance.md): the status bar's
labels change only when what they say changes. Mechanisms, not timings."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from app.device.protocol import DeviceState, Fault, Status
from app.ui.device_manager import DeviceManager
from app.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow(DeviceManager(), QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    yield w
    w.close()


def _status(ohm: float, *, contact: bool = True, uptime_ms: int = 0) -> Status:
    return Status(DeviceState.IDLE, 0.0, 0.0, ohm, contact, False, Fault.NONE, 0.0, uptime_ms)


def _count_set_text(label) -> list[str]:
    calls: list[str] = []
    real = label.setText

    def counted(text: str) -> None:
        calls.append(text)
        real(text)

    label.setText = counted
    return calls


def test_ten_reports_a_second_of_an_idle_device_do_not_touch_the_status_labels(window):
    window._on_status(_status(22_040.0))
    assert "22.0 kΩ" in window.contact_label.text()
    contact = _count_set_text(window.contact_label)
    state = _count_set_text(window.state_label)
    # the load's noise moves the impedance by less than 3 %: the label holds still
    for i, ohm in enumerate((22_060.0, 21_980.0, 22_110.0, 22_040.0, 21_900.0) * 4):
        window._on_status(_status(ohm, uptime_ms=100 * i))
    assert contact == []
    assert state == []
    assert "22.0 kΩ" in window.contact_label.text()
    # a real change is shown at once, and so is the probes' lifting
    window._on_status(_status(30_000.0))
    assert "30.0 kΩ" in window.contact_label.text()
    window._on_status(_status(float("inf"), contact=False))
    assert "NO CONTACT" in window.contact_label.text()
    assert len(contact) == 2
    window._on_status(_status(22_040.0))  # back: the new reading, not the old one held
    assert "22.0 kΩ" in window.contact_label.text()
