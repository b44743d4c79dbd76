"""Session state machine: every state × every input (table-driven), plus focused cases."""

from __future__ import annotations

import pytest
from test_engine_support import LIMITS, PROGRAM, machine_in, make_program, status, step, wall

from app.device.protocol import DeviceState, Event, EventCode, Fault
from app.engine.limits import ClinicSettings
from app.engine.session import (
    ACTIVE,
    ChooseClient,
    ClearClient,
    CommandKind,
    CommandRefused,
    DeviceEventReceived,
    EmergencyStop,
    IntensityDown,
    IntensityUp,
    LinkConnected,
    LinkLost,
    LoadProgram,
    Pause,
    PreviousStep,
    RepeatStep,
    Reset,
    Resume,
    SelectZone,
    SessionMachine,
    SessionState,
    SetClientLimit,
    SetElectrodeArea,
    SkipStep,
    Start,
    StatusReceived,
    Stop,
    Tick,
    UpdateClinic,
)

S = SessionState


def ev(code, arg=0, text=""):
    return DeviceEventReceived(Event(code, arg, text))


EVENTS = {
    "choose_client": ChooseClient("c9", None, True),
    "choose_unscreened": ChooseClient("c8", None, False),
    "clear_client": ClearClient(),
    "client_limit": SetClientLimit(50.0),
    "load_program": LoadProgram(PROGRAM),
    "select_zone": SelectZone("masseter_l"),
    "update_clinic": UpdateClinic(ClinicSettings(max_current_ua=150.0)),
    "electrode_area": SetElectrodeArea(0.5),
    "start": Start(),
    "pause": Pause(),
    "resume": Resume(),
    "stop": Stop(),
    "estop": EmergencyStop(),
    "reset": Reset(),
    "up": IntensityUp(),
    "down": IntensityDown(),
    "skip": SkipStep(),
    "back": PreviousStep(),
    "repeat": RepeatStep(),
    "connected": LinkConnected(LIMITS),
    "link_lost": LinkLost("cable"),
    "status_running": StatusReceived(status(DeviceState.RUNNING)),
    "status_idle": StatusReceived(status(DeviceState.IDLE)),
    "status_paused": StatusReceived(status(DeviceState.PAUSED)),
    "status_no_contact": StatusReceived(status(DeviceState.CONTACT_LOST, contact=False)),
    "status_estopped": StatusReceived(status(DeviceState.ESTOPPED)),
    "status_watchdog": StatusReceived(status(DeviceState.WATCHDOG)),
    "status_fault": StatusReceived(status(DeviceState.FAULT, faults=Fault.OVERCURRENT)),
    "ev_contact_lost": ev(EventCode.CONTACT_LOST),
    "ev_contact_restored": ev(EventCode.CONTACT_RESTORED),
    "ev_watchdog": ev(EventCode.WATCHDOG_TRIP),
    "ev_fault": ev(EventCode.FAULT, int(Fault.OUTPUT_STAGE)),
    "ev_estop": ev(EventCode.ESTOP),
    "ev_ramp_complete": ev(EventCode.RAMP_COMPLETE),
    "ev_limit_refused": ev(EventCode.LIMIT_REFUSED, 0, "amplitude"),
    "ev_compliance": ev(EventCode.COMPLIANCE),
    "ev_state_running": ev(EventCode.STATE_CHANGED, int(DeviceState.RUNNING)),
    "ev_state_idle": ev(EventCode.STATE_CHANGED, int(DeviceState.IDLE)),
    "nak_start": CommandRefused(CommandKind.START, "no contact"),
    "nak_resume": CommandRefused(CommandKind.RESUME, "no contact"),
    "nak_set_output": CommandRefused(CommandKind.SET_OUTPUT, "out of range"),
    "nak_stop": CommandRefused(CommandKind.STOP, "wrong state"),
    "nak_pause": CommandRefused(CommandKind.PAUSE, "wrong state"),
    "nak_estop": CommandRefused(CommandKind.ESTOP, "timed out"),
    "nak_reset": CommandRefused(CommandKind.RESET, "wrong state"),
    "tick": Tick(0.1),
}

LATCHING = {
    "estop": S.ESTOPPED,
    "status_estopped": S.ESTOPPED,
    "ev_estop": S.ESTOPPED,
    "status_watchdog": S.DEVICE_FAULT,
    "status_fault": S.DEVICE_FAULT,
    "ev_watchdog": S.DEVICE_FAULT,
    "ev_fault": S.DEVICE_FAULT,
    "nak_estop": S.DEVICE_FAULT,
}

# A device that reports driving while no session is under way is emergency-stopped.
DRIVING_OUTSIDE_A_SESSION = {"status_running": S.DEVICE_FAULT, "ev_state_running": S.DEVICE_FAULT}

# Expected next state for every (state, input); an input not listed leaves the state as is.
EXPECTED: dict[S, dict[str, S]] = {
    S.IDLE: {
        **LATCHING,
        **DRIVING_OUTSIDE_A_SESSION,
        "status_idle": S.READY,
        "status_paused": S.READY,
        "ev_contact_restored": S.READY,
        "nak_reset": S.DEVICE_FAULT,
    },
    S.READY: {
        **LATCHING,
        **DRIVING_OUTSIDE_A_SESSION,
        "choose_unscreened": S.IDLE,
        "clear_client": S.IDLE,
        "start": S.RAMPING_UP,
        "link_lost": S.IDLE,
        "status_no_contact": S.IDLE,
        "ev_contact_lost": S.IDLE,
        "nak_reset": S.DEVICE_FAULT,
    },
    S.RAMPING_UP: {
        **LATCHING,
        "pause": S.PAUSED,
        "stop": S.RAMPING_DOWN,
        "link_lost": S.LINK_LOST,
        "status_running": S.RUNNING,
        "status_no_contact": S.CONTACT_LOST,
        "ev_contact_lost": S.CONTACT_LOST,
        "ev_ramp_complete": S.RUNNING,
        "ev_state_running": S.RUNNING,
        "nak_start": S.READY,
        "nak_resume": S.PAUSED,
        "nak_set_output": S.PAUSED,
    },
    S.RUNNING: {
        **LATCHING,
        "pause": S.PAUSED,
        "stop": S.RAMPING_DOWN,
        "link_lost": S.LINK_LOST,
        "status_no_contact": S.CONTACT_LOST,
        "ev_contact_lost": S.CONTACT_LOST,
        "nak_start": S.READY,
        "status_idle": S.DEVICE_FAULT,
        "ev_state_idle": S.DEVICE_FAULT,
        "nak_resume": S.PAUSED,
        "nak_set_output": S.PAUSED,
    },
    S.PAUSED: {**LATCHING, "resume": S.RUNNING, "stop": S.RAMPING_DOWN, "link_lost": S.LINK_LOST},
    S.RAMPING_DOWN: {
        **LATCHING,
        "link_lost": S.LINK_LOST,
        "status_idle": S.COMPLETE,
        "ev_ramp_complete": S.COMPLETE,
        "ev_state_idle": S.COMPLETE,
        "nak_stop": S.DEVICE_FAULT,
    },
    S.COMPLETE: {
        **LATCHING,
        **DRIVING_OUTSIDE_A_SESSION,
        "choose_client": S.READY,
        "choose_unscreened": S.IDLE,
        "load_program": S.READY,
        "reset": S.READY,
    },
    S.CONTACT_LOST: {**LATCHING, "stop": S.RAMPING_DOWN, "link_lost": S.LINK_LOST},
    # a watchdog trip after a lost link is the link's expected end, not a device fault
    S.LINK_LOST: {
        **LATCHING,
        "reset": S.IDLE,
        "nak_estop": S.LINK_LOST,
        "status_watchdog": S.LINK_LOST,
        "ev_watchdog": S.LINK_LOST,
    },
    S.DEVICE_FAULT: {
        **LATCHING,
        "status_watchdog": S.DEVICE_FAULT,
        "status_estopped": S.DEVICE_FAULT,
        "ev_estop": S.DEVICE_FAULT,
        "status_fault": S.DEVICE_FAULT,
        "ev_watchdog": S.DEVICE_FAULT,
        "ev_fault": S.DEVICE_FAULT,
        "reset": S.READY,
    },
    S.ESTOPPED: {
        **LATCHING,
        "status_watchdog": S.ESTOPPED,
        "status_fault": S.ESTOPPED,
        "ev_watchdog": S.ESTOPPED,
        "ev_fault": S.ESTOPPED,
        "reset": S.READY,
    },
}


def test_the_table_covers_every_state():
    assert set(EXPECTED) == set(S)


@pytest.mark.parametrize("state", list(S), ids=lambda s: s.value)
@pytest.mark.parametrize("name", list(EVENTS))
def test_every_state_times_every_input(state, name):
    m = machine_in(state)
    m.handle(Tick(0.0))  # the clock starts: the table's Tick(0.1) then advances 0.1 s
    out = m.handle(EVENTS[name])
    expected = EXPECTED[state].get(name, state)
    assert m.state is expected, f"{state.value} + {name}: got {m.state.value}"
    # Safety invariants hold after every input.
    for cmd in out.commands:
        if cmd.kind is CommandKind.SET_OUTPUT:
            assert cmd.settings.amplitude_ua <= m.ceiling_ua + 1e-9
    if m.state not in (S.RAMPING_UP, S.RUNNING):
        assert not m.output_on
    kinds = [c.kind for c in out.commands]
    if CommandKind.START in kinds or CommandKind.RESUME in kinds:
        assert name in ("start", "resume")
    if name == "estop":
        assert kinds[0] is CommandKind.ESTOP
    # Every transition is recorded, with a timestamp.
    if m.state is not state:
        transitions = [r for r in out.records if r.kind == "transition"]
        assert transitions
        assert transitions[-1].state == m.state.value
        assert transitions[0].data["previous"] == state.value
        assert all(r.at == wall() for r in out.records)


def test_unknown_input_is_refused_with_its_name():
    m = SessionMachine()
    with pytest.raises(TypeError, match="does not take str"):
        m.handle("start")


def test_start_sends_settings_then_start_within_limits():
    m = machine_in(S.READY)
    out = m.handle(Start())
    kinds = [c.kind for c in out.commands]
    assert kinds == [CommandKind.SET_OUTPUT, CommandKind.START]
    assert out.commands[0].settings.amplitude_ua == 300.0
    assert out.commands[0].settings.frequency_hz == 10.0
    assert m.output_on


def test_missing_conditions_are_named():
    m = SessionMachine()
    assert m.missing() == [
        "choose a client",
        "choose a program",
        "connect the device",
        "place the probes on the skin (no contact)",
    ]
    out = m.handle(Start())
    assert "choose a client" in out.notices[0]
    m.handle(ChooseClient("c1", None, False))
    assert "may not be treated now (screening or consent" in m.missing()[0]


def test_contact_loss_pauses_timer_and_needs_contact_and_operator():
    m = machine_in(S.RUNNING)
    m.handle(Tick(0.0))
    m.handle(Tick(1.0))
    elapsed = m.run.step_elapsed_s
    m.handle(StatusReceived(status(DeviceState.CONTACT_LOST, contact=False)))
    assert m.state is S.CONTACT_LOST
    assert not m.output_on
    m.handle(Tick(5.0))
    assert m.run.step_elapsed_s == elapsed  # the countdown stood still
    out = m.handle(Resume())
    assert m.state is S.CONTACT_LOST
    assert "no contact" in out.notices[0]
    out = m.handle(StatusReceived(status(DeviceState.CONTACT_LOST, contact=True)))
    assert m.state is S.CONTACT_LOST  # contact back alone does not resume
    assert not any(c.kind is CommandKind.RESUME for c in out.commands)
    out = m.handle(Resume())
    assert [c.kind for c in out.commands] == [CommandKind.RESUME]
    assert m.state is S.RUNNING
    assert m.output_on


def test_intensity_up_is_step_limited_and_ramped_in():
    m = machine_in(S.RUNNING)
    m.handle(IntensityDown())
    m.handle(IntensityDown())
    assert m.target_ua == 280.0
    assert m.commanded_ua == 280.0
    out = m.handle(IntensityUp())
    assert m.target_ua == 290.0
    assert not [c for c in out.commands if c.kind is CommandKind.SET_OUTPUT]  # not a jump
    m.handle(Tick(0.0))
    out = m.handle(Tick(0.1))
    sent = [c.settings.amplitude_ua for c in out.commands]
    assert sent == [pytest.approx(282.0)]  # 20 µA/s × 0.1 s
    for i in range(2, 12):
        m.handle(Tick(0.1 * i))
    assert m.commanded_ua == pytest.approx(290.0)


def test_intensity_cannot_pass_the_binding_limit():
    m = machine_in(S.RUNNING)
    out = m.handle(IntensityUp())
    assert m.target_ua == 300.0
    assert "program step 300 µA" in out.notices[0]


def test_lower_limit_applies_at_once():
    m = machine_in(S.RUNNING)
    out = m.handle(SetClientLimit(120.0))
    assert [c.settings.amplitude_ua for c in out.commands] == [120.0]
    assert m.decision().layer.value == "client"


def test_step_change_never_steps_up_and_eye_zone_is_limited():
    prog = make_program(
        [
            step(amplitude=100.0, duration=5.0),
            step("Jaw 2", amplitude=300.0, duration=5.0),
            step("Eyes", ("orbicularis_oculi",), amplitude=400.0, duration=5.0),
        ]
    )
    m = machine_in(S.RUNNING, prog)
    m.handle(Tick(0.0))
    out = m.handle(Tick(1.0))
    for t in range(2, 6):
        out = m.handle(Tick(float(t)))
    assert m.run.index == 1
    assert [c.settings.amplitude_ua for c in out.commands][0] == 100.0  # keeps the level
    for t in range(6, 11):
        m.handle(Tick(float(t)))
    assert m.run.index == 2
    d = m.decision()
    assert d.ceiling_ua == 200.0
    assert d.layer.value == "zone"
    assert m.commanded_ua <= 200.0


def test_program_end_ramps_down_and_completes():
    prog = make_program([step(duration=5.0)])
    m = machine_in(S.RUNNING, prog)
    m.handle(Tick(0.0))
    outs = [m.handle(Tick(float(t))) for t in range(1, 6)]
    assert m.state is S.RAMPING_DOWN
    assert CommandKind.STOP in [c.kind for c in outs[-1].commands]
    out = m.handle(ev(EventCode.RAMP_COMPLETE, int(DeviceState.IDLE)))
    assert m.state is S.COMPLETE
    assert any(r.kind == "session" for r in out.records)


def test_automatic_off_after_max_session_time():
    prog = make_program([step(duration=1200.0)])
    m = machine_in(S.RUNNING, prog)
    m.handle(UpdateClinic(ClinicSettings(max_session_s=3.0)))
    m.handle(Tick(0.0))
    for t in range(1, 4):
        out = m.handle(Tick(float(t)))
    assert m.state is S.RAMPING_DOWN
    assert any("Automatic off" in a for a in out.alarms)


def test_device_that_never_confirms_start_is_emergency_stopped():
    m = machine_in(S.RAMPING_UP)
    m.handle(Tick(0.0))
    out = None
    for t in range(1, 6):
        out = m.handle(Tick(float(t)))
        if m.state is not S.RAMPING_UP:
            break
    assert m.state is S.DEVICE_FAULT
    assert [c.kind for c in out.commands] == [CommandKind.ESTOP]
    assert "did not confirm the start" in out.alarms[0]


def test_device_that_never_confirms_stop_is_emergency_stopped():
    m = machine_in(S.RAMPING_DOWN)
    m.handle(Tick(0.0))
    for t in range(1, 6):
        m.handle(Tick(float(t)))
    assert m.state is S.DEVICE_FAULT


def test_stale_latched_status_after_reset_is_ignored_then_counts_again():
    from app.engine.session import ResetAnswered

    m = machine_in(S.ESTOPPED)
    out = m.handle(Reset())
    assert [c.kind for c in out.commands] == [CommandKind.RESET]
    assert m.state is S.READY
    m.handle(StatusReceived(status(DeviceState.ESTOPPED)))  # sent before RESET arrived
    m.handle(StatusReceived(status(DeviceState.RUNNING)))  # ... and before the ESTOP
    assert m.state is S.READY
    m.handle(ResetAnswered())
    m.handle(StatusReceived(status(DeviceState.ESTOPPED)))  # sent before it took effect
    assert m.state is S.READY
    m.handle(StatusReceived(status(DeviceState.IDLE)))  # reset took effect
    m.handle(StatusReceived(status(DeviceState.ESTOPPED)))  # a real, new emergency stop
    assert m.state is S.ESTOPPED


def test_events_sent_before_the_device_took_our_reset_do_not_latch_the_new_session():
    """Pause, Esc, then Reset at once: the device's events for the PAUSE and the ESTOP
    (sent before it took the RESET: it answers in order) can arrive after the desk went
    ready. Until the RESET is answered they are echoes, not a new stop; after, a latched
    event counts again (a stop pressed on the device)."""
    from app.engine.session import ResetAnswered

    m = machine_in(S.ESTOPPED)
    m.handle(Reset())
    assert m.state is S.READY
    m.handle(ev(EventCode.STATE_CHANGED, int(DeviceState.PAUSED)))
    m.handle(ev(EventCode.ESTOP))
    m.handle(ev(EventCode.STATE_CHANGED, int(DeviceState.ESTOPPED)))
    assert m.state is S.READY
    m.handle(ResetAnswered())
    m.handle(StatusReceived(status(DeviceState.IDLE)))
    assert m.state is S.READY
    m.handle(ev(EventCode.ESTOP))  # a real, new emergency stop
    assert m.state is S.ESTOPPED


@pytest.mark.parametrize("latched", [DeviceState.ESTOPPED, DeviceState.WATCHDOG])
def test_a_device_reset_where_it_was_lent_clears_the_desks_latch(latched):
    """Esc in the studio latches the desk too (the device is emergency-stopped); the studio's
    Reset brings the device back to idle: the desk follows it, not a desk still showing
    "Estopped" and refusing a new client. Not lent, an idle status changes nothing."""
    from app.engine.session import LendDevice

    m = machine_in(S.READY)
    m.handle(LendDevice(True, "trainer's studio"))
    m.handle(StatusReceived(status(latched)))
    assert m.state.latched
    out = m.handle(StatusReceived(status(DeviceState.IDLE)))  # reset by the studio
    assert m.state is S.READY
    assert "the device was reset while lent to another workspace" in [
        r.message for r in out.records
    ]
    # the desk's own latch, device with the desk: only the desk's Reset clears it
    m.handle(LendDevice(False))
    m.handle(StatusReceived(status(DeviceState.ESTOPPED)))
    m.handle(StatusReceived(status(DeviceState.IDLE)))
    assert m.state is S.ESTOPPED


def test_device_still_latched_after_reset_timeout_counts():
    m = machine_in(S.ESTOPPED)
    m.handle(Tick(0.0))
    m.handle(Reset())
    for t in range(1, 5):
        m.handle(Tick(float(t)))
    m.handle(StatusReceived(status(DeviceState.ESTOPPED)))
    assert m.state is S.ESTOPPED


def test_session_continues_at_the_same_step_after_a_fault():
    m = machine_in(S.RUNNING)
    m.handle(SkipStep())
    assert m.run.index == 1
    m.handle(ev(EventCode.WATCHDOG_TRIP))
    assert m.state is S.DEVICE_FAULT
    m.handle(Reset())
    m.handle(StatusReceived(status(DeviceState.IDLE)))
    assert m.state is S.READY
    assert m.run.index == 1
    m.handle(Start())
    assert m.state is S.RAMPING_UP
    assert m.commanded_ua == 150.0


def test_net_charge_accumulates_over_restarts():
    m = machine_in(S.RUNNING)
    m.handle(StatusReceived(status(DeviceState.RUNNING, charge=2.5)))
    m.handle(EmergencyStop())
    m.handle(Reset())
    m.handle(StatusReceived(status(DeviceState.IDLE)))
    m.handle(Start())
    m.handle(StatusReceived(status(DeviceState.RUNNING, charge=1.0)))
    assert m.charge.net_uc == pytest.approx(3.5)


def test_estop_already_sent_by_controller_is_not_sent_twice():
    m = machine_in(S.RUNNING)
    out = m.handle(EmergencyStop(already_sent=True))
    assert out.commands == []
    assert m.state is S.ESTOPPED
    assert any(r.kind == "command" and r.data["command"] == "estop" for r in out.records)


def test_manual_step_uses_eye_limit_until_a_zone_is_chosen():
    prog = make_program([step("Manual", (), amplitude=400.0, duration=60.0)])
    m = machine_in(S.READY, prog)
    assert m.decision().ceiling_ua == 200.0
    m.handle(SelectZone("masseter_r"))
    assert m.decision().ceiling_ua == 400.0
    out = m.handle(SelectZone("nonsense"))
    assert "unknown zone" in out.notices[0]


def test_step_frequency_outside_device_range_refuses_start():
    prog = make_program([step(frequency=1500.0)])
    m = SessionMachine()
    from app.engine.limits import DeviceLimits

    m.handle(LinkConnected(DeviceLimits(600.0, 0.5, 1000.0)))
    m.handle(ChooseClient("c", None, True))
    m.handle(LoadProgram(prog))
    m.handle(StatusReceived(status()))
    out = m.handle(Start())
    assert m.state is S.READY
    assert not out.commands
    assert "above the device's maximum 1000 Hz" in out.alarms[0]


def test_active_states_are_the_ones_with_a_session_under_way():
    assert {S.RAMPING_UP, S.RUNNING, S.PAUSED, S.CONTACT_LOST} == ACTIVE


@pytest.mark.parametrize("bad", [float("nan"), -1.0, "200"])
def test_a_bad_client_limit_is_refused_with_a_message(bad):
    m = machine_in(S.RUNNING)
    out = m.handle(SetClientLimit(bad))
    assert "must be a number ≥ 0" in out.notices[0]
    assert m.client_limit_ua is None
    m2 = SessionMachine()
    out = m2.handle(ChooseClient("c1", bad, True))
    assert m2.client_id is None
    assert "client c1 not chosen" in out.notices[0]


def test_bad_clinic_settings_are_refused_at_construction():
    with pytest.raises(ValueError, match="clinic settings: max_current_ua"):
        SessionMachine(ClinicSettings(max_current_ua=float("nan")))


@pytest.mark.parametrize("state", [S.LINK_LOST, S.ESTOPPED, S.DEVICE_FAULT])
def test_a_device_still_driving_in_a_latched_state_gets_estop_again(state):
    m = machine_in(state)
    if state is S.LINK_LOST:
        m.handle(LinkConnected(LIMITS))  # back within the watchdog time
    out = m.handle(StatusReceived(status(DeviceState.RUNNING)))
    assert [c.kind for c in out.commands] == [CommandKind.ESTOP]
    assert m.state is state


def test_a_device_driving_outside_a_session_is_emergency_stopped():
    m = machine_in(S.READY)
    out = m.handle(StatusReceived(status(DeviceState.RUNNING)))
    assert [c.kind for c in out.commands] == [CommandKind.ESTOP]
    assert "driving output outside a session" in out.alarms[0]


def test_a_lost_pause_is_caught_and_emergency_stopped():
    m = machine_in(S.RUNNING)
    m.handle(Tick(0.0))
    m.handle(Pause())
    m.handle(StatusReceived(status(DeviceState.RUNNING)))  # stale or lost PAUSE?
    m.handle(Tick(0.3))
    assert m.state is S.PAUSED  # a stale status is tolerated for a moment
    m.handle(StatusReceived(status(DeviceState.RUNNING)))
    out = m.handle(Tick(0.6))
    assert m.state is S.DEVICE_FAULT
    assert [c.kind for c in out.commands] == [CommandKind.ESTOP]
    assert "kept driving" in out.alarms[0]


def test_a_stale_running_status_after_pause_is_tolerated():
    m = machine_in(S.RUNNING)
    m.handle(Tick(0.0))
    m.handle(Pause())
    m.handle(StatusReceived(status(DeviceState.RUNNING)))
    m.handle(Tick(0.1))
    m.handle(StatusReceived(status(DeviceState.PAUSED)))
    for t in range(2, 20):
        m.handle(Tick(t / 10))
    assert m.state is S.PAUSED


def test_a_watchdog_trip_after_a_lost_link_stays_the_links_fault_not_the_consoles():
    """A pulled cable: the device's watchdog ends the output, as designed. The session
    stays 'link lost' and no alarm blames the console."""
    from app.engine.session import LinkLost

    m = machine_in(SessionState.RUNNING)
    m.handle(LinkLost("cable pulled"))
    assert m.state is SessionState.LINK_LOST
    out = m.handle(StatusReceived(status(DeviceState.WATCHDOG)))
    assert m.state is SessionState.LINK_LOST
    assert not any("console" in a for a in out.alarms)
    assert any("as designed" in r.message for r in out.records)


def test_a_decision_asked_again_with_nothing_changed_is_not_made_again(monkeypatch):
    """Ten statuses and ten ticks a second ask for the decision (issue 17: an idle desk's
    CPU): it is made again only when something it is made of changed."""
    import app.engine.session as session_mod

    built: list[object] = []
    real = session_mod.clamp_amplitude
    monkeypatch.setattr(session_mod, "clamp_amplitude", lambda *a: built.append(a) or real(*a))
    m = machine_in(S.IDLE)
    first = m.decision()
    built.clear()
    for i in range(20):
        m.handle(Tick(0.1 * i))
        assert m.decision() == first
    assert built == []
    m.handle(SetClientLimit(120.0))
    assert m.decision().allowed_ua == 120.0
    assert m.decision().layer.value == "client"
    made = len(built)
    assert made >= 1
    assert m.decision(50.0).allowed_ua == 50.0  # another request: decided afresh
    assert len(built) == made + 1


def test_a_program_part_run_for_one_client_starts_again_for_the_next():
    """Stopped by an emergency stop in step 2 and reset: the same client continues there
    (a fault interrupts a treatment, it does not end it); another client chosen starts
    the program from its beginning, with no time or charge carried over."""
    m = machine_in(S.RUNNING)
    m.handle(Tick(0.0))
    m.handle(StatusReceived(status(DeviceState.RUNNING, charge=2.5)))
    for t in range(1, 4):
        m.handle(Tick(float(t)))
    m.handle(SkipStep())
    m.handle(Tick(4.0))
    m.handle(EmergencyStop())
    m.handle(Reset())
    m.handle(StatusReceived(status(DeviceState.IDLE)))
    assert m.state is S.READY
    assert m.run.index == 1  # the same client: where it stopped
    m.handle(ChooseClient("another", None, True))
    assert m.state is S.READY
    assert m.run.index == 0
    assert m.run.step_elapsed_s == 0.0
    assert m.output_s == 0.0
    assert m.charge.net_uc == 0.0
