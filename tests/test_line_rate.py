"""The console says so when the line rate cannot carry the device's sample rate
(docs/protocol.md §3): at 50 kS/s on the default 921,600 baud whole frames are lost."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import QSettings

from app.device.fake import FAKE_INFO
from app.device.firmware import max_sample_rate
from app.device.sim_process import SimulatorProcess
from app.ui.device_manager import DEFAULT_BAUD, DeviceManager
from app.ui.main_window import MainWindow


def _info(rate: int):
    return dataclasses.replace(FAKE_INFO, sample_rate=rate)


def test_the_line_warning_names_the_rates_and_the_fix():
    dm = DeviceManager()
    assert dm.baud == DEFAULT_BAUD
    assert dm.line_warning(_info(10_000)) == ""
    assert dm.line_warning(_info(max_sample_rate(DEFAULT_BAUD))) == ""
    text = dm.line_warning(_info(50_000))
    assert "50,000" in text
    assert "921,600 baud" in text
    assert f"at most {max_sample_rate(DEFAULT_BAUD):,}" in text
    assert "3,000,000 baud or more" in text
    dm.baud = 3_000_000
    assert dm.line_warning(_info(50_000)) == ""


def test_the_simulators_own_line_rate_counts(qtbot, monkeypatch):
    """The built-in simulator runs at its --baud: the launcher picks one that carries the
    chosen sample rate, so no warning; a slower one given by hand is warned about."""
    monkeypatch.setattr(SimulatorProcess, "start", lambda self, timeout=10.0: "/nonexistent")
    dm = DeviceManager()
    try:
        dm.open(None, simulator=SimulatorProcess(["--sample-rate", "50000", "--baud", "3000000"]))
        assert dm.baud == 3_000_000
        assert dm.line_warning(_info(50_000)) == ""
        dm.open(None, simulator=SimulatorProcess(["--sample-rate", "50000"]))
        assert dm.baud == DEFAULT_BAUD
        assert "921,600 baud" in dm.line_warning(_info(50_000))
    finally:
        dm.simulator = None  # never started: nothing to stop
        dm.close()


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow(DeviceManager(), QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    yield w
    w.close()


def test_the_console_shows_the_warning_when_the_device_connects(window):
    window._on_connected(_info(10_000))
    assert window.banner.isHidden() or window.banner.property("kind") != "line"
    window._on_connected(_info(50_000))
    assert window.banner.property("kind") == "line"
    assert "samples will be missing from the scope and the recording" in window.banner.text()


def test_the_console_takes_the_line_rate_of_its_port():
    from app.__main__ import build_parser

    args = build_parser().parse_args(["--port", "/dev/ttyUSB0", "--baud", "3000000"])
    assert (args.port, args.baud) == ("/dev/ttyUSB0", 3_000_000)
    assert build_parser().parse_args([]).baud is None  # the default: 921,600
