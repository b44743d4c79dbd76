"""Alarms by priority (IEC 60601-1-8 style): colour, a text prefix and a beep pattern,
never colour alone; every banner goes through MainWindow.show_alarm."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from app.device.protocol import DeviceState, Event, EventCode
from app.ui.device_manager import DeviceManager
from app.ui.main_window import (
    ALARM_BEEPS,
    ALARM_LOOK,
    ALARM_PRIORITY,
    HIGH,
    LOW,
    MEDIUM,
    MainWindow,
)


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow(DeviceManager(), QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.show()
    played: list[str] = []
    w.alarm_sound.played.connect(played.append)
    w.played = played  # type: ignore[attr-defined]
    yield w
    w.close()


def _shows(w: MainWindow, priority: str) -> None:
    prefix, background, colour = ALARM_LOOK[priority]
    assert w.banner.isVisible()
    assert w.banner.text().startswith(prefix + " ")
    assert w.alarm_priority() == priority
    sheet = w.banner.styleSheet()
    assert f"background:{background}" in sheet
    assert f"color:{colour}" in sheet


@pytest.mark.parametrize("kind", sorted(ALARM_PRIORITY))
def test_each_kind_shows_its_prefix_colour_and_sound(window, kind):
    priority = ALARM_PRIORITY[kind]
    window.show_alarm("Something happened.", kind=kind)
    _shows(window, priority)
    assert window.banner.text().endswith("Something happened.")
    assert window.played == [priority]
    window.show_alarm("Something happened.", kind=kind)  # the same alarm again: no new sound
    assert window.played == [priority]


def test_the_priorities_differ_by_more_than_colour():
    prefixes = {p: ALARM_LOOK[p][0] for p in (HIGH, MEDIUM, LOW)}
    assert prefixes == {HIGH: "!!! HIGH:", MEDIUM: "!! MEDIUM:", LOW: "! LOW:"}
    assert len({ALARM_LOOK[p][1] for p in prefixes}) == 3  # colours
    assert len({ALARM_BEEPS[p] for p in prefixes}) == 3  # sounds
    assert len(ALARM_BEEPS[HIGH]) > len(ALARM_BEEPS[MEDIUM]) > len(ALARM_BEEPS[LOW])


def test_the_consoles_alarms_have_their_priorities(window):
    window.emergency_stop()
    _shows(window, HIGH)
    assert "EMERGENCY STOP" in window.banner.text()
    window._on_event(Event(EventCode.WATCHDOG_TRIP))
    _shows(window, HIGH)
    window._on_event(Event(EventCode.FAULT, 3, "over-current"))
    _shows(window, HIGH)
    assert "Device fault: over-current" in window.banner.text()
    window._on_store_failed("The disk is full.")
    _shows(window, HIGH)
    window._on_disconnected("cable pulled")
    _shows(window, HIGH)
    window.hide_alarm()  # (a lower alarm never replaces a higher one: see below)
    window._on_event(Event(EventCode.CONTACT_LOST))
    _shows(window, MEDIUM)
    window._on_event(Event(EventCode.CONTACT_RESTORED))
    _shows(window, LOW)
    assert "Resume (F8)" in window.banner.text()
    window.show_alarm("A new kind nobody named.", kind="mystery")
    _shows(window, HIGH)  # never under-alarm
    assert window.played == [HIGH, HIGH, HIGH, HIGH, HIGH, MEDIUM, LOW, HIGH]
    window.hide_alarm()
    assert window.alarm_priority() == ""


def test_a_banner_is_plain_text(window):
    window.show_alarm("Client <b>Ann</b> <img src='x'>", kind="info")
    assert window.banner.text() == "! LOW: Client <b>Ann</b> <img src='x'>"
    assert window.banner.textFormat().name == "PlainText"


def test_the_desks_alarms_have_their_priorities(window):
    """The session's alarms: contact loss is medium, the rest high; notices are low."""
    from types import SimpleNamespace

    from app.engine.session import SessionState

    desk = window.workspaces["practitioner"]
    desk.message.emit("Finish the session first.", "info")
    _shows(window, LOW)
    desk.controller = SimpleNamespace(state=SessionState.CONTACT_LOST)
    try:
        desk._controller_alarm("Contact lost: output and timer paused.")
        _shows(window, MEDIUM)
        desk.controller.state = SessionState.DEVICE_FAULT
        desk._controller_alarm("Device fault (over-current): output off.")
        _shows(window, HIGH)
    finally:
        desk.controller = None


def test_high_and_medium_flash_low_is_steady(window):
    """As the standard's visual indicators: high flashes at 2 Hz, medium at 0.6 Hz (colour
    and a lighter shade; the prefix and text stay), low is steady."""
    from app.ui.main_window import ALARM_FLASH

    window.show_alarm("Contact lost.", kind="contact")
    assert window._flash.isActive()
    assert window._flash.interval() == ALARM_FLASH[MEDIUM][0]
    window.show_alarm("EMERGENCY STOP.", kind="estop")
    assert window._flash.interval() == ALARM_FLASH[HIGH][0]
    assert 1.4 <= 1000 / (2 * ALARM_FLASH[HIGH][0]) <= 2.8  # Hz (a period is on + off)
    assert 0.4 <= 1000 / (2 * ALARM_FLASH[MEDIUM][0]) <= 0.8
    shades = set()
    for _ in range(4):  # the timer's ticks
        window._flash_banner()
        shades.add(window.banner.styleSheet())
        assert window.banner.text().startswith("!!! HIGH: ")
    assert len(shades) == 2
    assert f"background:{ALARM_FLASH[HIGH][1]}" in "".join(shades)
    window.hide_alarm()
    window.show_alarm("For your information.", kind="info")
    assert not window._flash.isActive()
    window.show_alarm("EMERGENCY STOP.", kind="estop")
    window.hide_alarm()
    assert not window._flash.isActive()


def test_a_lower_alarm_never_replaces_a_higher_one_and_is_shown_after_it(window):
    """An information ("session signed") arriving while the emergency stop stands waits
    under it, and is shown once the stop is cleared; a contact loss held under a higher
    alarm and restored meanwhile is not shown late."""
    window.emergency_stop()
    _shows(window, HIGH)
    window.show_alarm("Session signed and locked.", kind="info")
    _shows(window, HIGH)
    assert "EMERGENCY STOP" in window.banner.text()
    window.hide_alarm()  # the device was reset
    _shows(window, LOW)
    assert window.banner.text().endswith("Session signed and locked.")
    window.hide_alarm()
    assert window.alarm_priority() == ""
    window.show_alarm("The records cannot be written.", kind="records")
    window._on_event(Event(EventCode.CONTACT_LOST))
    _shows(window, HIGH)
    window._on_event(Event(EventCode.CONTACT_RESTORED))
    window.hide_alarm()
    assert window.alarm_priority() == ""  # nothing stale comes up
    assert window.played == [HIGH, LOW, HIGH]


def test_a_watchdog_trip_after_a_lost_link_names_the_link_and_live_views_are_cleared(window):
    """A pulled cable: the banner names the link, not the console, and no scope keeps the
    last trace on screen as if it were live."""
    import numpy as np

    from app.device.samples import SampleBlock

    desk = window.workspaces["practitioner"]
    n = 500
    z = np.full(n, 200.0, dtype=np.float32)
    desk.scope.append(
        SampleBlock(
            0, 10_000.0, z, z * 0.01, z.copy(), np.ones(n, dtype=np.uint8), np.zeros(n, dtype=bool)
        )
    )
    assert desk.scope.ring.total_received > 0
    window._on_disconnected("cable pulled")
    assert desk.scope.ring.total_received == 0
    window._on_event(Event(EventCode.WATCHDOG_TRIP, 0, ""))
    assert "link to the device was lost" in window.banner.text()
    assert "console" not in window.banner.text()
    window._link_lost_at = None  # long after: a trip is the console's silence
    window._on_event(Event(EventCode.WATCHDOG_TRIP, 0, ""))
    assert "stopped hearing the console" in window.banner.text()


def test_the_emergency_stop_banner_outlives_a_status_sent_before_the_device_took_it(window):
    """Esc: the banner goes up at once. A STATUS the device sent before it took the ESTOP
    (in flight, or held by the link while idle) arrives after it and must not take the
    banner down; only the device leaving the latched state (a Reset) does."""
    from app.device.fake import fake_status

    window.emergency_stop()
    _shows(window, HIGH)
    window._on_status(fake_status(DeviceState.RUNNING, level_ua=200.0, uptime_ms=5_000))
    window._on_status(fake_status(DeviceState.IDLE, uptime_ms=5_050))  # idle, held
    _shows(window, HIGH)
    assert "EMERGENCY STOP" in window.banner.text()
    window._on_status(fake_status(DeviceState.ESTOPPED, uptime_ms=5_100))
    window._on_status(fake_status(DeviceState.ESTOPPED, uptime_ms=5_200))
    _shows(window, HIGH)
    window._on_status(fake_status(DeviceState.IDLE, uptime_ms=9_000))  # reset
    assert window.alarm_priority() == ""


def test_a_stop_by_the_output_authority_stays_up_until_output_runs_again(window):
    """'Output stopped (desk): the client may no longer be treated' is read, not flashed:
    the device's next (idle) report does not hide it; output running again does."""
    from app.device.fake import fake_status
    from app.engine.authority import Driver

    window._output_revoked(Driver.DESK, "the client may no longer be treated: pregnancy")
    _shows(window, HIGH)
    window._on_status(fake_status(DeviceState.RUNNING, uptime_ms=900))  # sent before the stop
    _shows(window, HIGH)
    window._on_status(fake_status(DeviceState.RAMP_DOWN, uptime_ms=1_000))
    window._on_status(fake_status(DeviceState.IDLE, uptime_ms=1_100))
    _shows(window, HIGH)
    assert "may no longer be treated" in window.banner.text()
    window._on_status(fake_status(DeviceState.RAMP_UP, uptime_ms=60_000))
    assert window.alarm_priority() == ""


def test_an_information_banner_goes_by_itself_an_alarm_does_not(window, qtbot):
    window._info_expiry.setInterval(50)  # (INFO_BANNER_S, shortened for the test)
    window.show_alarm("Session signed and locked.", kind="info")
    qtbot.waitUntil(lambda: window.alarm_priority() == "", timeout=2000)
    window.show_alarm("Session signed and locked.", kind="info")
    window.emergency_stop()  # an alarm replaces it: the expiry does not take the alarm down
    qtbot.wait(200)
    _shows(window, HIGH)
