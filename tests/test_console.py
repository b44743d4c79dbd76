"""The console window end to end against the simulator process over a real pty."""

from __future__ import annotations

import numpy as np
import pytest
from access import unlock_bench
from PySide6.QtCore import QSettings, Qt

from app.device.protocol import DeviceState
from app.ui.device_manager import DeviceManager
from app.ui.main_window import MainWindow

REAL_CONFIRM_CLOSE = MainWindow.confirm_close  # conftest answers it in every other test


@pytest.fixture
def console(qtbot, tmp_path):
    device = DeviceManager()
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(device, settings)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.live_data_seen, timeout=15000):
        assert device.open(None)
    yield window
    device.close()


@pytest.fixture
def bench(console):
    """The console on the technician's bench (the role gate: tests/test_access_ui.py)."""
    unlock_bench()
    assert console.switch_workspace("technician")
    return console


def _wait_state(qtbot, window, state, timeout=5000):
    qtbot.waitUntil(lambda: window.device.state == state, timeout=timeout)


def test_live_data_and_status_bar(console):
    assert "MC-SIM" in console.device_label.text()
    assert console.device.info is not None
    assert console.device.info.sample_rate > 0


def test_esc_is_an_emergency_stop(qtbot, bench):
    console = bench
    link = console.device.link
    console.output.amplitude.setValue(200)
    console.output.ramp.setValue(0.2)
    console.output.start_button.click()
    _wait_state(qtbot, console, DeviceState.RUNNING)
    qtbot.keyClick(console, Qt.Key.Key_Escape)
    assert "EMERGENCY STOP" in console.banner.text()  # shown at once, before any answer
    _wait_state(qtbot, console, DeviceState.ESTOPPED)
    # After the stop, every delivered sample is zero.
    blocks = []
    link.samples_received.connect(blocks.append)
    qtbot.waitUntil(lambda: sum(len(b) for b in blocks) > 500, timeout=3000)
    assert np.max(np.abs(np.concatenate([b.current_ua for b in blocks]))) < 2.0
    # A latched stop needs an explicit reset.
    assert console.output.reset_button.isVisibleTo(console.output)
    console.output.reset_button.click()
    _wait_state(qtbot, console, DeviceState.IDLE)


def test_refused_command_is_shown(qtbot, bench):
    console = bench
    from app.device.waveform import OutputSettings

    bench_ws = console.workspaces["technician"]
    # above the live limits: the authority sends the clinic maximum and says so
    with qtbot.waitSignal(console.device.link.command_answered, timeout=3000):
        bench_ws._apply(OutputSettings(amplitude_ua=1500.0))
    assert console.authority.commanded.amplitude_ua == 600.0
    assert "limited to 600 µA by the clinic maximum" in console.output.message.text()
    # what the device itself refuses is shown in words
    with qtbot.waitSignal(console.device.link.command_answered, timeout=3000):
        bench_ws._apply(OutputSettings(frequency_hz=5000.0))
    assert "refused" in console.output.message.text().lower()


def test_close_stops_output_first(qtbot, bench, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    console = bench
    console.output.start_button.click()
    _wait_state(qtbot, console, DeviceState.RAMP_UP)
    happened = []
    link = console.device.link
    original = link.estop
    monkeypatch.setattr(link, "estop", lambda: (happened.append("estop"), original())[1])
    monkeypatch.setattr(
        QMessageBox,
        "question",
        lambda *a, **k: happened.append("asked") or QMessageBox.StandardButton.Yes,
    )
    monkeypatch.setattr(MainWindow, "confirm_close", REAL_CONFIRM_CLOSE)
    console.close()
    # output off before any question; then the link closes with ESTOP again
    assert happened[:2] == ["estop", "asked"]
    assert console.device.link is None


def test_bench_output_is_lent_and_returned_to_the_desk(qtbot, bench):
    """The treatment desk does not stop the bench's output while the device is lent to it,
    and takes the device back, output off, when the practitioner returns."""
    console = bench
    desk = console.workspaces["practitioner"]
    assert desk.controller.machine.device_lent
    console.output.ramp.setValue(0.1)
    console.output.start_button.click()
    _wait_state(qtbot, console, DeviceState.RUNNING)
    assert desk.controller.state.value != "device_fault"
    assert console.switch_workspace("practitioner")
    _wait_state(qtbot, console, DeviceState.IDLE)
    qtbot.waitUntil(lambda: not desk.controller.machine.device_lent, timeout=3000)
    assert desk.controller.state.value in ("idle", "ready")
