"""The output authority: the one place that raises output, from the live facts.

Against the shared fake device (every command it was sent is in ``calls``): ownership,
the limit stack of every driver, eligibility, facts that change while output runs, stale
facts, records failures, and a hypothesis machine over random sequences of actions across
drivers. The end-to-end cases (simulator, store, a second process) are in
tests/test_output_authority_e2e.py.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QObject, Signal
from test_engine_support import make_program, step

from app.device.fake import FAKE_INFO, FakeDevice
from app.device.interface import OutputNotAuthorised
from app.device.protocol import DeviceState
from app.device.waveform import OutputSettings, Polarity, Waveform
from app.engine.authority import Driver, OutputAuthority, OutputRefused
from app.engine.controller import SessionController
from app.engine.limits import ClinicSettings
from app.engine.session import SessionState
from app.service.clinic_limits import settings_to_dict
from app.store.clinic import ClinicRecord
from app.store.vocabulary import ClientFacts

S = SessionState
SQUARE = OutputSettings(Waveform.SQUARE, 10.0, 300.0, Polarity.BIPHASIC, 2.0, 0.0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def facts(client_id=7, *, allowed=True, limit=None, training=False, at=100.0, error=""):
    return ClientFacts(
        client_id,
        "Ann Example",
        allowed,
        "cleared" if allowed else "blocked",
        () if allowed else ("Pregnancy.",),
        limit,
        training,
        at,
        error,
    )


@pytest.fixture
def rig(qtbot):
    clock = Clock()
    device = FakeDevice(connected=True)
    authority = OutputAuthority(ClinicSettings(max_current_ua=150.0), clock=clock)
    authority.set_link(device)
    return authority, device, clock


def test_only_the_authority_may_raise_output_on_the_link(rig):
    authority, device, _ = rig
    with pytest.raises(OutputNotAuthorised):
        device.set_output(SQUARE)
    with pytest.raises(OutputNotAuthorised):
        device.start_output()
    with pytest.raises(OutputNotAuthorised, match="already has an output authority"):
        OutputAuthority().set_link(device)
    device.stop_output()  # lowering stays open to everyone
    device.estop()
    assert device.names() == ["stop_output", "estop"]


def test_every_driver_is_capped_by_the_same_live_limits_and_told_which_binds(rig):
    authority, device, _ = rig
    for driver in (Driver.BENCH, Driver.STUDIO):
        assert authority.transfer(driver)
        grant = authority.set_output(driver, SQUARE)
        assert grant.settings.amplitude_ua == 150.0
        assert grant.decision.layer_label == "clinic maximum"
        assert "limited to 150 µA by the clinic maximum" in grant.decision.explanation
    # a procedure's declared maximum is a layer of its own, named as such
    grant = authority.set_output(
        Driver.STUDIO, SQUARE, step_ua=100.0, step_label="calibration's highest set point"
    )
    assert grant.settings.amplitude_ua == 100.0
    assert grant.decision.layer_label == "calibration's highest set point"
    # the desk: zone (eye area) and the client's own limit too
    assert authority.transfer(Driver.DESK)
    authority.watch_client(7)
    authority.set_client_facts(facts(limit=80.0))
    grant = authority.set_output(Driver.DESK, SQUARE, zones=("masseter",), step_ua=300.0)
    assert grant.settings.amplitude_ua == 80.0
    assert grant.decision.layer_label == "client's own limit"
    assert device.amplitudes() == [150.0, 150.0, 100.0, 80.0]


def test_the_device_is_with_one_driver_at_a_time(rig):
    authority, device, _ = rig
    with pytest.raises(OutputRefused, match="the device is with the treatment desk"):
        authority.set_output(Driver.BENCH, SQUARE)
    assert authority.transfer(Driver.STUDIO)
    authority.set_output(Driver.STUDIO, SQUARE)
    authority.start(Driver.STUDIO)
    device.emit_status(DeviceState.RUNNING, level_ua=150.0)
    # the studio's output is stopped before the device passes to the desk
    assert not authority.transfer(Driver.DESK)
    assert device.names()[-1] == "stop_output"
    assert authority.owner is Driver.STUDIO
    device.emit_status(DeviceState.RAMP_DOWN)
    assert authority.owner is Driver.STUDIO
    device.emit_status(DeviceState.IDLE)
    assert authority.owner is Driver.DESK
    with pytest.raises(OutputRefused, match="no client chosen"):
        authority.start(Driver.DESK)


def test_a_treatment_under_way_keeps_the_device(rig):
    authority, device, _ = rig
    authority.watch_client(7)
    authority.set_client_facts(facts())
    authority.set_output(Driver.DESK, SQUARE)
    authority.start(Driver.DESK)
    device.emit_status(DeviceState.RUNNING, level_ua=150.0)
    assert not authority.transfer(Driver.BENCH)
    assert authority.owner is Driver.DESK
    assert "stop_output" not in device.names()
    assert not authority.watch_client(8)  # nor changes client


@pytest.mark.parametrize("case", ["no client", "blocked", "error", "stale"])
def test_no_output_starts_for_a_client_who_is_not_eligible_now(rig, case):
    authority, device, clock = rig
    if case != "no client":
        authority.watch_client(7)
        authority.set_client_facts(
            {
                "blocked": facts(allowed=False),
                "error": facts(allowed=False, error="database is locked"),
                "stale": facts(),
            }[case]
        )
    if case == "stale":
        clock.now += 10.0
    with pytest.raises(OutputRefused) as refused:
        authority.set_output(Driver.DESK, SQUARE)  # not even settings are sent
    with pytest.raises(OutputRefused):
        authority.start(Driver.DESK)
    assert {
        "no client": "no client chosen",
        "blocked": "may not be treated: Pregnancy",
        "error": "cannot be read: database is locked",
        "stale": "not been confirmed for 10 s",
    }[case] in str(refused.value)
    assert device.names() == []


def test_a_training_client_is_always_allowed(rig):
    authority, device, _ = rig
    authority.watch_client(1)
    authority.set_client_facts(facts(1, allowed=False, training=True))
    authority.set_output(Driver.DESK, SQUARE)
    authority.start(Driver.DESK)
    assert device.names()[-1] == "start_output"


def _running(authority, device, driver=Driver.DESK):
    authority.set_output(driver, SQUARE, zones=("masseter",), step_ua=300.0)
    authority.start(driver)
    device.emit_status(DeviceState.RUNNING, level_ua=150.0)


def test_changed_facts_lower_or_stop_output_at_once_and_say_why(qtbot, rig):
    authority, device, clock = rig
    authority.watch_client(7)
    authority.set_client_facts(facts())
    _running(authority, device)
    lowered, revoked = [], []
    authority.output_lowered.connect(lambda d, why: lowered.append((d, why)))
    authority.output_revoked.connect(lambda d, why: revoked.append((d, why)))
    # another room saved the client's own limit: 80 µA
    authority.set_client_facts(facts(limit=80.0))
    assert device.amplitudes()[-1] == 80.0
    assert lowered == [
        (Driver.DESK, "150 µA requested, limited to 80 µA by the client's own limit 80 µA")
    ]
    # the clinic maximum lowered under it
    authority.set_clinic(ClinicSettings(max_current_ua=60.0))
    assert device.amplitudes()[-1] == 60.0
    # the screening saved as blocked: output stops, with the reason
    authority.set_client_facts(facts(allowed=False))
    assert device.names()[-1] == "stop_output"
    assert revoked == [(Driver.DESK, "the client may not be treated: Pregnancy")]


def test_facts_that_stop_arriving_stop_the_output(qtbot, rig):
    authority, device, clock = rig
    authority.watch_client(7)
    authority.set_client_facts(facts())
    _running(authority, device)
    with qtbot.waitSignal(authority.output_revoked, timeout=2000) as got:
        clock.now += 5.0  # the records cannot be reached: no reading for 5 s
        device.emit_status(DeviceState.RUNNING, level_ua=150.0)  # the next STATUS checks
    assert "has not been confirmed for 5 s" in got.args[1]
    assert device.names()[-1] == "stop_output"


def test_records_that_cannot_be_saved_stop_any_output(rig):
    authority, device, _ = rig
    assert authority.transfer(Driver.STUDIO)
    _running(authority, device, Driver.STUDIO)
    authority.records_failed("the disk is full")
    assert device.names()[-1] == "stop_output"


# --------------------------------------------------------------------------- the desk


@pytest.fixture
def desk(qtbot):
    device = FakeDevice(connected=True)
    authority = OutputAuthority()
    authority.set_link(device)
    ctl = SessionController(authority, tick_ms=20)
    authority.watch_client(7)
    authority.set_client_facts(facts(at=authority.now()))
    ctl.load_program(
        make_program([step("Jaw", ("masseter",), amplitude=200.0, duration=60.0, ramp_s=0.0)])
    )
    device.emit_status(DeviceState.IDLE, contact=True)
    assert ctl.state is S.READY
    yield ctl, authority, device
    ctl.shutdown()


def test_a_screening_saved_as_blocked_mid_treatment_stops_it_and_is_recorded(qtbot, desk):
    ctl, authority, device = desk
    records, alarms = [], []
    ctl.record_emitted.connect(lambda r: records.append(r.message))
    ctl.alarm.connect(alarms.append)
    ctl.start()
    device.emit_status(DeviceState.RUNNING, contact=True, level_ua=200.0)
    assert ctl.state is S.RUNNING
    authority.set_client_facts(facts(allowed=False, at=authority.now()))
    assert ctl.state is S.RAMPING_DOWN
    assert device.names()[-1] == "stop_output"
    assert any("may no longer be treated: Pregnancy" in r for r in records)
    assert any("Output stopped" in a for a in alarms)
    device.emit_status(DeviceState.IDLE, contact=True)
    assert ctl.state is S.COMPLETE
    ctl.reset()  # a new session: not ready, the client is blocked
    assert ctl.state is S.IDLE
    assert "may not be treated now (screening or consent" in "; ".join(ctl.machine.missing())


def test_a_client_limit_saved_in_the_record_binds_the_desk(qtbot, desk):
    ctl, authority, device = desk
    ctl.start()
    assert device.amplitudes() == [200.0]
    authority.set_client_facts(facts(limit=80.0, at=authority.now()))
    assert device.amplitudes()[-1] == 80.0
    assert ctl.decision().layer.value == "client"
    assert ctl.machine.commanded_ua == 80.0


def test_an_authority_refusal_reaches_the_machine_as_a_refused_start(qtbot, desk):
    ctl, authority, device = desk
    assert authority.transfer(Driver.BENCH)  # e.g. the bench took the device
    ctl.start()
    assert ctl.state is not S.RUNNING
    assert "start_output" not in device.names()


# --------------------------------------------------------------------------- property


ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("transfer"), st.sampled_from(list(Driver))),
        st.tuples(
            st.just("set"),
            st.sampled_from(list(Driver)),
            st.floats(0, 2000),
            st.sampled_from([(), ("masseter",), ("orbicularis_oculi",)]),
        ),
        st.tuples(st.just("start"), st.sampled_from(list(Driver))),
        st.tuples(st.just("resume"), st.sampled_from(list(Driver))),
        st.tuples(st.just("clinic"), st.floats(1, 800)),
        st.tuples(st.just("facts"), st.booleans(), st.one_of(st.none(), st.floats(0, 600))),
        st.tuples(
            st.just("status"),
            st.sampled_from(
                [DeviceState.IDLE, DeviceState.RUNNING, DeviceState.PAUSED, DeviceState.RAMP_DOWN]
            ),
        ),
        st.tuples(st.just("age"), st.floats(0, 5)),
        st.tuples(st.just("lower"), st.sampled_from(["stop", "pause", "estop"])),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=ACTIONS)
# found by this test: settings held by a device that reports PAUSED (RESUME away) while
# the clinic maximum drops below them were left above it
@example(
    actions=[
        ("transfer", Driver.STUDIO),
        ("status", DeviceState.PAUSED),
        ("set", Driver.STUDIO, 2.0, ()),
        ("clinic", 1.0),
    ]
)
@example(  # the same, the device reporting PAUSED only after the limit was lowered
    actions=[("set", Driver.DESK, 2.0, ()), ("clinic", 1.0), ("status", DeviceState.PAUSED)]
)
def test_random_actions_never_output_above_the_live_limit_nor_for_an_ineligible_client(
    qapp, actions
):
    clock = Clock()
    device = FakeDevice(connected=True)
    authority = OutputAuthority(clock=clock)
    authority.set_link(device)
    authority.watch_client(7)
    state = {"clinic": 600.0, "allowed": True, "limit": None, "at": clock.now}
    authority.set_client_facts(facts(at=clock.now))

    def ceiling(driver, zones):
        c = min(FAKE_INFO.max_current_ua, state["clinic"])
        if driver.treats_client:
            zone = authority.clinic.zone_limit(zones)[0]
            c = c if zone is None else min(c, zone)
            if state["limit"] is not None:
                c = min(c, state["limit"])
        return c

    for action in actions:
        kind = action[0]
        before = len(device.calls)
        try:
            if kind == "transfer":
                authority.transfer(action[1])
            elif kind == "set":
                _, driver, amp, zones = action
                authority.set_output(driver, OutputSettings(amplitude_ua=amp), zones=zones)
            elif kind in ("start", "resume"):
                driver = action[1]
                (authority.start if kind == "start" else authority.resume)(driver)
                if driver.treats_client:  # never for an ineligible (or unconfirmed) client
                    assert state["allowed"]
                    assert clock.now - state["at"] <= 3.0
            elif kind == "clinic":
                state["clinic"] = action[1]
                authority.set_clinic(ClinicSettings(max_current_ua=action[1]))
            elif kind == "facts":
                state.update(allowed=action[1], limit=action[2], at=clock.now)
                authority.set_client_facts(facts(allowed=action[1], limit=action[2], at=clock.now))
            elif kind == "status":
                device.emit_status(action[1], level_ua=0.0)
            elif kind == "age":
                clock.now += action[1]
                authority.check()  # what each STATUS does
            else:
                getattr(authority, action[1])()
        except OutputRefused:
            pass
        # every SET_OUTPUT sent by this action is within the live limit of its context
        for call in device.calls[before:]:
            if call[0] == "set_output":
                ctx = authority._context
                assert ctx is not None
                assert call[2].amplitude_ua <= ceiling(ctx.driver, ctx.zones) + 1e-9
        # held output is always within the live limit of its own context, whatever changed
        # (or being stopped)
        ctx = authority._context
        stopping = bool(device.calls) and device.calls[-1][0] in (
            "stop_output",
            "estop",
            "pause",
            "reset",
        )
        if (
            authority.output_held
            and not stopping
            and ctx is not None
            and authority.commanded is not None
        ):
            assert authority.commanded.amplitude_ua <= ceiling(ctx.driver, ctx.zones) + 1e-9
        # held output of a client's treatment never outlives the client's eligibility
        ctx = authority._context
        if authority._started and ctx is not None and ctx.driver.treats_client:
            assert state["allowed"]
            assert clock.now - state["at"] <= 3.0 + 1e-9


def test_estop_and_stop_act_at_once_whoever_asks(rig):
    authority, device, _ = rig
    assert authority.transfer(Driver.STUDIO)
    _running(authority, device, Driver.STUDIO)
    rid = authority.estop()  # e.g. the desk's Esc while the studio drives
    assert device.calls[-1][:2] == ("estop", rid)
    assert not authority._started
    with pytest.raises(OutputRefused, match="with the trainer's studio"):
        authority.start(Driver.DESK)


def test_a_revoked_output_is_stopped_once_and_left_to_ramp_down(rig):
    """STOP again during the ramp-down would restart the device's ramp: one is enough."""
    authority, device, _ = rig
    authority.watch_client(7)
    authority.set_client_facts(facts())
    _running(authority, device)
    authority.set_client_facts(facts(allowed=False))
    for _ in range(5):  # the device reports its ramp-down ten times a second
        device.emit_status(DeviceState.RAMP_DOWN, level_ua=80.0)
    assert device.names().count("stop_output") == 1


# --------------------------------------------------------------------------- review fixes


def test_a_refused_set_output_stops_output_started_with_it(qtbot, rig):
    """The device keeps its previous settings when it refuses new ones: a START sent with
    them must not run on the old ones."""
    from app.device.protocol import Nak, NakReason

    authority, device, _ = rig
    assert authority.transfer(Driver.BENCH)
    grant = authority.set_output(Driver.BENCH, SQUARE)
    authority.start(Driver.BENCH)
    with qtbot.waitSignal(authority.output_revoked) as got:
        device.command_answered.emit(
            grant.request_id, Nak(grant.request_id, 0, NakReason.OUT_OF_RANGE, "x")
        )
    assert "refused the output settings" in got.args[1]
    assert device.names()[-1] == "stop_output"


def test_a_setpoint_the_device_reports_above_the_limit_is_stopped(rig):
    authority, device, _ = rig
    assert authority.transfer(Driver.BENCH)
    authority.set_output(Driver.BENCH, SQUARE)  # 150 µA sent (clinic maximum)
    authority.start(Driver.BENCH)
    device.emit_status(DeviceState.RUNNING, level_ua=150.0, setpoint_ua=150.0)
    assert device.names()[-1] == "start_output"
    device.emit_status(DeviceState.RUNNING, level_ua=300.0, setpoint_ua=300.0)
    assert device.names()[-1] == "stop_output"


def test_output_nobody_started_or_a_lost_stop_ends_in_an_emergency_stop(rig):
    authority, device, clock = rig
    device.emit_status(DeviceState.RUNNING, level_ua=100.0, setpoint_ua=100.0)
    assert device.names() == ["estop"]  # nothing here started it
    authority.reset()
    device.emit_status(DeviceState.IDLE)
    assert authority.transfer(Driver.BENCH)
    authority.set_output(Driver.BENCH, SQUARE)
    authority.start(Driver.BENCH)
    device.emit_status(DeviceState.RUNNING, level_ua=150.0, uptime_ms=10_000)
    authority.stop()
    # statuses from before the STOP, read late by a busy GUI thread: no alarm
    device.emit_status(DeviceState.RUNNING, level_ua=150.0, uptime_ms=10_100)
    clock.now += 5.0
    device.emit_status(DeviceState.RUNNING, level_ua=150.0, uptime_ms=10_200)
    assert device.names()[-1] == "stop_output"
    # the device's own clock says it still drives 2 s after the STOP: it was lost
    device.emit_status(DeviceState.RUNNING, level_ua=150.0, uptime_ms=12_000)
    assert device.names()[-1] == "estop"


def test_an_emergency_stop_stays_latched_until_a_reset(rig):
    authority, device, _ = rig
    assert authority.transfer(Driver.BENCH)
    authority.set_output(Driver.BENCH, SQUARE)
    authority.estop()
    with pytest.raises(OutputRefused, match="emergency stop is latched"):
        authority.start(Driver.BENCH)
    authority.reset()
    authority.start(Driver.BENCH)
    assert device.names()[-1] == "start_output"


def test_while_the_device_passes_to_another_driver_the_old_one_cannot_raise(rig):
    authority, device, _ = rig
    assert authority.transfer(Driver.STUDIO)
    _running(authority, device, Driver.STUDIO)
    assert not authority.transfer(Driver.DESK)  # studio output being stopped
    with pytest.raises(OutputRefused, match="passing to the treatment desk"):
        authority.start(Driver.STUDIO)


def test_after_a_reconnect_running_output_is_still_held_to_the_limits(rig):
    authority, device, _ = rig
    assert authority.transfer(Driver.BENCH)
    _running(authority, device, Driver.BENCH)
    device.disconnect_device("cable wiggled")
    device.connect_device()  # back before the device's watchdog turned the output off
    device.emit_status(DeviceState.RUNNING, level_ua=150.0, setpoint_ua=150.0)
    authority.set_clinic(ClinicSettings(max_current_ua=60.0))
    assert device.amplitudes()[-1] == 60.0


def test_escape_stops_once_per_press_even_for_synthetic_key_events(qtbot):
    """Key events made in code (a virtual keyboard) carry timestamp 0: every press still
    stops; one press offered to a widget's parents stops once."""
    from PySide6.QtCore import QEvent, Qt
    from PySide6.QtGui import QKeyEvent
    from PySide6.QtWidgets import QApplication, QLineEdit, QWidget

    from app.ui.main_window import EscapeStops

    stops: list[int] = []
    app = QApplication.instance()
    flt = EscapeStops(lambda: stops.append(1))
    app.installEventFilter(flt)
    try:
        parent = QWidget()
        child = QLineEdit(parent)  # a line edit ignores Esc: the press goes to the parent
        qtbot.addWidget(parent)
        for expected in (1, 2, 3):
            event = QKeyEvent(
                QEvent.Type.KeyPress, Qt.Key.Key_Escape, Qt.KeyboardModifier.NoModifier
            )
            QApplication.sendEvent(child, event)
            qtbot.wait(20)  # the next press comes after the event loop has turned
            assert len(stops) == expected
    finally:
        app.removeEventFilter(flt)


def test_a_reading_that_only_repeats_the_facts_keeps_them_fresh_without_news(qtbot, rig):
    """The watch reads twice a second: the same facts again refresh the reading's time (no
    revocation for old facts) but are not announced; changed facts, and the first reading
    after the client is chosen again, are."""
    authority, device, clock = rig
    announced: list[ClientFacts] = []
    authority.facts_changed.connect(announced.append)
    authority.watch_client(7)
    authority.set_client_facts(facts(at=clock.now))
    _running(authority, device)
    for _ in range(10):  # 5 s of the same readings: fresh all along, nothing new to say
        clock.now += 0.5
        authority.set_client_facts(facts(at=clock.now))
        device.emit_status(DeviceState.RUNNING, level_ua=150.0)
    assert len(announced) == 1
    assert authority.output_held
    authority.set_client_facts(facts(limit=80.0, at=clock.now))
    assert [f.limit_ua for f in announced] == [None, 80.0]
    assert authority.watch_client(7)  # chosen again: its next reading is news
    authority.set_client_facts(facts(limit=80.0, at=clock.now))
    assert len(announced) == 3


# ---------------------------------------------------------------- start_with: one sequence


def _answer(device, rid, nak=None):
    from app.device.protocol import Ack, Nak, NakReason

    reply = Ack(rid, 0) if nak is None else Nak(rid, 0, NakReason.OUT_OF_RANGE, nak)
    device.command_answered.emit(rid, reply)


def _start_rig(rig):
    authority, device, clock = rig
    assert authority.transfer(Driver.STUDIO)
    started, abandoned = [], []
    authority.output_started.connect(lambda d, s: started.append((d, s)))
    authority.start_abandoned.connect(lambda d, why: abandoned.append((d, why)))
    return authority, device, started, abandoned


def test_start_with_starts_only_once_the_device_took_the_settings(rig):
    authority, device, started, abandoned = _start_rig(rig)
    grant = authority.start_with(Driver.STUDIO, SQUARE)
    assert grant.settings.amplitude_ua == 150.0  # the clinic maximum binds
    assert "limited to 150 µA by the clinic maximum" in grant.note
    assert device.names() == ["set_output"]  # no START before the settings' answer
    _answer(device, grant.request_id)
    assert device.names() == ["set_output", "start_output"]
    assert started == []
    assert abandoned == []
    start_rid = device.calls[-1][1]
    _answer(device, start_rid)
    assert started == [(Driver.STUDIO, grant.settings)]
    assert abandoned == []


def test_start_with_never_starts_on_refused_or_lost_settings(rig):
    authority, device, started, abandoned = _start_rig(rig)
    grant = authority.start_with(Driver.STUDIO, SQUARE)
    _answer(device, grant.request_id, nak="too high")
    assert device.names() == ["set_output"]
    assert abandoned == [
        (Driver.STUDIO, "the device refused to take the settings (out of range: too high)")
    ]
    grant = authority.start_with(Driver.STUDIO, SQUARE)
    device.command_failed.emit(grant.request_id, "no answer from the device")
    _answer(device, grant.request_id)  # a late answer starts nothing
    assert device.names() == ["set_output", "set_output"]
    assert abandoned[-1] == (Driver.STUDIO, "no answer from the device")
    assert started == []


@pytest.mark.parametrize("first", ["stop", "estop", "pause", "newer settings", "passed on"])
def test_anything_that_comes_first_cancels_a_start_waiting_for_its_settings(rig, first):
    """An emergency stop pressed while the settings are on their way: the ACK that follows
    must not start the output (whichever screen asked for it)."""
    authority, device, started, abandoned = _start_rig(rig)
    grant = authority.start_with(Driver.STUDIO, SQUARE)
    if first == "stop":
        authority.stop()
    elif first == "estop":
        authority.estop()
    elif first == "pause":
        authority.pause()
    elif first == "newer settings":
        authority.set_output(Driver.STUDIO, SQUARE)
    else:
        assert authority.transfer(Driver.BENCH)
    _answer(device, grant.request_id)
    assert "start_output" not in device.names()
    assert started == []
    assert len(abandoned) == 1


def test_a_start_refused_after_the_settings_is_reported(rig):
    authority, device, started, abandoned = _start_rig(rig)
    grant = authority.start_with(Driver.STUDIO, SQUARE)
    _answer(device, grant.request_id)
    _answer(device, device.calls[-1][1], nak="no contact")
    assert started == []
    assert abandoned == [
        (Driver.STUDIO, "the device refused to start output (out of range: no contact)")
    ]


def test_start_with_is_refused_at_once_like_set_output(rig):
    authority, device, started, abandoned = _start_rig(rig)
    authority.estop()
    with pytest.raises(OutputRefused, match="emergency stop is latched"):
        authority.start_with(Driver.STUDIO, SQUARE)
    with pytest.raises(OutputRefused, match="with the trainer's studio"):
        authority.start_with(Driver.BENCH, SQUARE)
    assert device.names() == ["estop"]


# --------------------------------------------------------------------------- clinic


class FakeClinicWatch(QObject):
    """What the authority follows: app.engine.clinic_watch.ClinicSettingsWatch's face."""

    record_read = Signal(object)

    def __init__(self, latest=None) -> None:
        super().__init__()
        self.latest = latest

    def read(self, record) -> None:
        self.latest = record
        self.record_read.emit(record)


def clinic_record(version: int, **values) -> ClinicRecord:
    settings = settings_to_dict(ClinicSettings(**values)) if values else {}
    return ClinicRecord(True, settings, version, None, "room 2", None, False, 0, 0)


def test_the_authority_follows_the_stores_clinic_limits_itself(rig):
    """The one place the clinic's limits come from: each reading of the store's clinic
    row, applied by the authority — a lowered maximum lowers the output at once and says
    so; a raised one raises nothing by itself; a reading seen before is no news."""
    authority, device, _ = rig
    assert authority.transfer(Driver.STUDIO)
    watch = FakeClinicWatch(latest=clinic_record(3, max_current_ua=120.0, eye_area_max_ua=100.0))
    read, lowered = [], []
    authority.clinic_read.connect(lambda record, problems: read.append((record.version, problems)))
    authority.output_lowered.connect(lambda d, why: lowered.append((d, why)))
    authority.follow_clinic(watch)  # the first reading came before: applied at once
    assert authority.follows_clinic
    assert authority.clinic.max_current_ua == 120.0
    assert read == [(3, [])]
    _running(authority, device, Driver.STUDIO)
    assert device.amplitudes() == [120.0]
    # another room saves 20 µA: the running output is lowered at once
    watch.read(clinic_record(4, max_current_ua=20.0, eye_area_max_ua=20.0))
    assert device.amplitudes() == [120.0, 20.0]
    assert lowered == [
        (Driver.STUDIO, "120 µA requested, limited to 20 µA by the clinic maximum 20 µA")
    ]
    assert authority.clinic_record.version == 4
    # raised again: the limit is, the running output is not
    watch.read(clinic_record(5, max_current_ua=300.0))
    assert authority.clinic.max_current_ua == 300.0
    assert device.amplitudes() == [120.0, 20.0]
    watch.read(clinic_record(5, max_current_ua=300.0))  # the same reading again
    assert [v for v, _ in read] == [3, 4, 5]


def test_damaged_stored_clinic_settings_give_the_defaults_and_say_what_was_wrong(rig):
    authority, _device, _ = rig
    watch = FakeClinicWatch()
    read = []
    authority.clinic_read.connect(lambda record, problems: read.append(problems))
    authority.follow_clinic(watch)
    assert read == []  # nothing read yet: the limits stay as they are
    watch.read(ClinicRecord(False, {}, 0, None, None, None, False, 0, 0))
    assert authority.clinic.max_current_ua == 150.0  # a store with none: kept
    watch.read(ClinicRecord(True, {"max_current_ua": "lots"}, 2, None, "vm", None, False, 0, 0))
    assert authority.clinic == ClinicSettings()
    assert read[-1] == ["Maximum current: stored value 'lots' is not a number; default 600 µA used"]


def test_a_desk_step_under_a_clinic_limit_lowered_mid_step_keeps_that_limit_as_comfort(qtbot):
    """The level remembered as comfortable is never above the limits in force: a clinic
    maximum lowered during the step (another room) is what the step ends at."""
    device = FakeDevice(connected=True)
    authority = OutputAuthority()
    authority.set_link(device)
    watch = FakeClinicWatch(latest=clinic_record(1))
    authority.follow_clinic(watch)
    ctl = SessionController(authority, tick_ms=20)
    authority.watch_client(7)
    authority.set_client_facts(facts(limit=80.0, at=authority.now()))
    ctl.load_program(
        make_program(
            [step("Jaw", ("masseter",), side="left", amplitude=200.0, duration=60, ramp_s=0.0)]
        )
    )
    device.emit_status(DeviceState.IDLE, contact=True)
    records = []
    ctl.record_emitted.connect(records.append)
    ctl.start()
    device.emit_status(DeviceState.RUNNING, contact=True, level_ua=80.0)
    qtbot.waitUntil(lambda: ctl.machine.output_s > 0.05)
    watch.read(clinic_record(2, max_current_ua=20.0, eye_area_max_ua=20.0))
    assert device.amplitudes()[-1] == 20.0
    assert ctl.machine.commanded_ua == 20.0
    ctl.stop()
    comfort = [r.data["intensity_ua"] for r in records if r.kind == "comfort"]
    assert comfort == [20.0]
    assert any("clinic maximum 20 µA" in r.message for r in records if r.kind == "limit")
    ctl.shutdown()


def test_a_setpoint_the_device_has_not_lowered_yet_is_not_taken_for_a_breach(rig):
    """A limit lowered under running output: until the device answers the lowering
    SET_OUTPUT its STATUS still shows the old setpoint — that is the lowering on its way,
    not settings from elsewhere (the run saw it stop instead of lower). Once answered, or
    lost (1.5 s on the device's clock), the old setpoint is stopped as before."""
    authority, device, _ = rig
    assert authority.transfer(Driver.BENCH)
    authority.set_output(Driver.BENCH, SQUARE)  # 150 µA (clinic maximum)
    authority.start(Driver.BENCH)
    device.emit_status(DeviceState.RUNNING, level_ua=150.0, setpoint_ua=150.0, uptime_ms=1000)
    authority.set_clinic(ClinicSettings(max_current_ua=60.0))
    assert device.amplitudes() == [150.0, 60.0]
    device.emit_status(DeviceState.RUNNING, level_ua=150.0, setpoint_ua=150.0, uptime_ms=1100)
    assert device.names()[-1] == "set_output"  # not stopped: the device has not taken it
    device.emit_status(DeviceState.RUNNING, level_ua=150.0, setpoint_ua=200.0, uptime_ms=1200)
    assert device.names()[-1] == "stop_output"  # above what it held: not ours
    # answered: a STATUS still at the old setpoint is a breach
    authority.reset()
    device.emit_status(DeviceState.IDLE, uptime_ms=1300)
    authority.set_output(Driver.BENCH, SQUARE)
    authority.start(Driver.BENCH)
    device.emit_status(DeviceState.RUNNING, level_ua=60.0, setpoint_ua=60.0, uptime_ms=1400)
    authority.set_clinic(ClinicSettings(max_current_ua=40.0))
    _answer(device, device.rid_of("set_output"))
    device.emit_status(DeviceState.RUNNING, level_ua=60.0, setpoint_ua=60.0, uptime_ms=1500)
    assert device.names()[-1] == "stop_output"
    # lost: 1.5 s on the device's clock without an answer
    authority.reset()
    device.emit_status(DeviceState.IDLE, uptime_ms=1600)
    authority.set_output(Driver.BENCH, SQUARE)
    authority.start(Driver.BENCH)
    device.emit_status(DeviceState.RUNNING, level_ua=40.0, setpoint_ua=40.0, uptime_ms=1700)
    authority.set_clinic(ClinicSettings(max_current_ua=20.0))
    device.emit_status(DeviceState.RUNNING, level_ua=40.0, setpoint_ua=40.0, uptime_ms=2000)
    assert device.names()[-1] == "set_output"
    device.emit_status(DeviceState.RUNNING, level_ua=40.0, setpoint_ua=40.0, uptime_ms=3300)
    assert device.names()[-1] == "stop_output"
