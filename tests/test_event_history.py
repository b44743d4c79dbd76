"""The console's device history: one per console, following the link the device manager
opens, so the bench shows what happened before it was first opened."""

from __future__ import annotations

from app.device.event_history import MAX_ENTRIES, DeviceEventHistory, describe
from app.device.fake import FakeDevice
from app.device.protocol import DeviceState, Event, EventCode
from app.ui.technician.panels import EventsPanel


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_events_are_worded_and_alarms_marked():
    assert describe(Event(EventCode.ESTOP, 0, "stop key")) == ("estop: stop key", True)
    assert describe(Event(EventCode.RAMP_COMPLETE)) == ("ramp complete", False)
    text, alarm = describe(Event(EventCode.STATE_CHANGED, int(DeviceState.RUNNING), "ramp done"))
    assert (text, alarm) == ("state → Running (ramp done)", False)
    # a state the console does not know is named by its code, not dropped
    assert describe(Event(EventCode.STATE_CHANGED, 999)) == ("state changed", False)


def test_the_history_follows_one_link_at_a_time_and_keeps_the_latest():
    history = DeviceEventHistory(clock=Clock())
    seen: list = []
    history.added.connect(seen.append)
    old, new = FakeDevice(), FakeDevice()
    history.follow(old)
    history.follow(old)  # the same link again: not recorded twice
    old.connect_device()
    old.event_received.emit(Event(EventCode.WATCHDOG_TRIP, 0, "no heartbeat"))
    assert [e.text for e in history.entries()] == [
        f"connected to {_model_serial(old)}",
        "watchdog trip: no heartbeat",
    ]
    assert [e.alarm for e in history.entries()] == [False, True]
    assert seen == history.entries()
    history.follow(new)
    old.disconnect_device("old cable")  # no longer followed
    new.disconnect_device("new cable")
    assert history.entries()[-1].text == "link lost: new cable"
    assert not any("old cable" in e.text for e in history.entries())
    history.follow(None)
    new.event_received.emit(Event(EventCode.FAULT))
    assert history.entries()[-1].text == "link lost: new cable"
    for i in range(MAX_ENTRIES + 5):
        history.add_note(f"note {i}", alarm=False)
    entries = history.entries()
    assert len(entries) == MAX_ENTRIES
    assert entries[-1].text == f"note {MAX_ENTRIES + 4}"
    assert entries == sorted(entries, key=lambda e: e.at)


def _model_serial(dev: FakeDevice) -> str:
    info = dev.info
    assert info is not None
    return f"{info.model} {info.serial}"


def test_the_panel_shows_what_happened_before_it_was_built_then_follows(qtbot):
    history = DeviceEventHistory(clock=Clock())
    history.add_event(Event(EventCode.ESTOP, 0, "stop key"))
    history.add_note("connected to X 1", alarm=False)
    panel = EventsPanel(history)
    qtbot.addWidget(panel)
    texts = panel.texts()
    assert [t.split("  ", 1)[1] for t in texts] == ["connected to X 1", "estop: stop key"]
    assert texts[0][:8].count(":") == 2  # time-stamped HH:MM:SS
    history.add_event(Event(EventCode.FAULT, 0, "overcurrent"))
    assert panel.texts()[0].endswith("fault: overcurrent")
    alarm = panel.list.item(0).foreground().color().name()
    assert alarm != panel.list.item(1).foreground().color().name()
