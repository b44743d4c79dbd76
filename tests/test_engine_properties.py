"""Hypothesis: no sequence of operator actions, program steps and device events makes the
session machine command more than the binding limit, jump up in intensity, or leave
output on after a stop, an emergency stop, a link loss or a contact loss."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_engine_support import LIMITS, make_program, status, step

from app.device.protocol import DeviceState, Event, EventCode, Fault
from app.engine import zone_ids
from app.engine.limits import ClinicSettings, DeviceLimits
from app.engine.programs import load_library
from app.engine.session import (
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
    SkipStep,
    Start,
    StatusReceived,
    Stop,
    Tick,
    UpdateClinic,
)
from app.paths import resources_dir

BUILTIN = load_library().programs
ZONES = sorted(zone_ids.ZONE_IDS)


def _zone_defaults() -> dict[str, float]:
    """Each zone's default ceiling, read straight from resources/zones.json."""
    data = json.loads((resources_dir() / "zones.json").read_text(encoding="utf-8"))
    out = {}
    for rec in data["muscles"]:
        value = float(rec.get("max_ua", data["defaults"]["max_ua"]))
        ids = [rec["muscle"]] if rec.get("midline") else [f"{rec['muscle']}_{s}" for s in "lr"]
        out.update(dict.fromkeys(ids, value))
    return out


ZONE_DEFAULTS = _zone_defaults()

amps = st.floats(min_value=1.0, max_value=600.0, allow_nan=False)
limit = st.one_of(st.none(), st.floats(min_value=0.0, max_value=900.0, allow_nan=False))


@st.composite
def programs(draw):
    if draw(st.booleans()):
        return draw(st.sampled_from(BUILTIN))
    n = draw(st.integers(1, 4))
    steps = []
    for i in range(n):
        muscles = draw(
            st.lists(st.sampled_from(zone_ids.BILATERAL_MUSCLES), max_size=2, unique=True)
        )
        steps.append(
            step(
                f"s{i}",
                tuple(muscles),
                amplitude=draw(amps),
                duration=draw(st.floats(5.0, 30.0)),
                frequency=draw(st.sampled_from([0.5, 10.0, 160.0, 1500.0])),
            )
        )
    return make_program(steps)


clinic = st.builds(
    ClinicSettings,
    max_current_ua=st.floats(10.0, 800.0),
    eye_area_max_ua=st.floats(10.0, 300.0),
    intensity_step_ua=st.floats(1.0, 50.0),
    slew_ua_per_s=st.floats(1.0, 200.0),
    max_session_s=st.floats(5.0, 1200.0),
)

statuses = st.builds(
    lambda state, contact, faults, q: StatusReceived(status(state, contact, faults, q)),
    st.sampled_from(list(DeviceState)),
    st.booleans(),
    st.sampled_from([Fault.NONE] * 5 + [Fault.OVERCURRENT, Fault.ADC]),
    st.floats(-50.0, 50.0),
)
events = st.builds(
    lambda code, arg: DeviceEventReceived(Event(code, arg)),
    st.sampled_from(list(EventCode)),
    st.integers(0, 9),
)

inputs = st.one_of(
    st.builds(ChooseClient, st.sampled_from(["a", "b"]), limit, st.booleans()),
    st.just(ClearClient()),
    st.builds(SetClientLimit, limit),
    st.builds(LoadProgram, programs()),
    st.builds(SelectZone, st.one_of(st.none(), st.sampled_from(ZONES))),
    st.builds(UpdateClinic, clinic),
    st.sampled_from(
        [
            Start(),
            Start(),
            Pause(),
            Resume(),
            Resume(),
            Stop(),
            EmergencyStop(),
            Reset(),
            IntensityUp(),
            IntensityUp(),
            IntensityUp(),
            IntensityDown(),
            SkipStep(),
            PreviousStep(),
            RepeatStep(),
        ]
    ),
    st.builds(
        LinkConnected,
        st.builds(
            DeviceLimits, st.floats(50.0, 1000.0), st.floats(0.1, 1.0), st.floats(200.0, 2000.0)
        ),
    ),
    st.builds(LinkLost, st.just("gone")),
    statuses,
    events,
    st.builds(CommandRefused, st.sampled_from(list(CommandKind)), st.just("refused")),
    st.builds(lambda dt: ("tick", dt), st.floats(0.0, 3.0)),
    st.builds(lambda dt: ("tick", dt), st.floats(0.0, 0.3)),
)


def independent_ceiling(m: SessionMachine) -> float:
    """The binding limit, worked out here from the layers, not by the engine."""
    if m.device is None:
        return 0.0
    values = [m.device.max_current_ua, m.clinic.max_current_ua]
    st_ = m.step
    if st_ is not None:
        values.append(st_.amplitude_ua)
        zones = list(st_.zones) or ([m.manual_zone] if m.manual_zone else [])
        if not zones:
            values.append(m.clinic.eye_area_max_ua)
        for z in zones:
            if z in m.clinic.zone_max_ua:
                values.append(m.clinic.zone_max_ua[z])
            elif zone_ids.is_eye_area(z):
                values.append(m.clinic.eye_area_max_ua)
            else:
                values.append(ZONE_DEFAULTS[z])
    if m.client_limit_ua is not None:
        values.append(m.client_limit_ua)
    return max(0.0, min(values))


def to_running(m: SessionMachine, program) -> None:
    m.handle(LinkConnected(LIMITS))
    m.handle(ChooseClient("c", None, True))
    m.handle(LoadProgram(program))
    m.handle(StatusReceived(status(DeviceState.IDLE, True)))
    m.handle(Start())
    m.handle(StatusReceived(status(DeviceState.RUNNING, True)))


OFF_INPUTS = (Stop, EmergencyStop, LinkLost)


def is_contact_loss(inp) -> bool:
    if isinstance(inp, StatusReceived):
        return not inp.status.contact
    return isinstance(inp, DeviceEventReceived) and inp.event.code is EventCode.CONTACT_LOST


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start_running=st.booleans(), program=programs(), seq=st.lists(inputs, max_size=60))
def test_no_sequence_exceeds_limits_or_leaves_output_on(start_running, program, seq):
    m = SessionMachine()
    now = 0.0
    m.handle(Tick(now))
    if start_running:
        to_running(m, program)
    for inp in seq:
        if isinstance(inp, tuple):
            now += inp[1]
            inp = Tick(now)
        before = m.commanded_ua
        out = m.handle(inp)
        ceiling = independent_ceiling(m)
        assert abs(m.ceiling_ua - ceiling) < 1e-9 or m.step is None
        kinds = [c.kind for c in out.commands]
        prev = before
        for cmd in out.commands:
            if cmd.kind is not CommandKind.SET_OUTPUT:
                continue
            amp = cmd.settings.amplitude_ua
            assert 0.0 <= amp <= ceiling + 1e-9, (inp, amp, ceiling)
            assert m.device is not None
            assert (
                m.device.min_frequency_hz <= cmd.settings.frequency_hz <= m.device.max_frequency_hz
            )
            if amp > prev + 1e-9:  # an increase: only START, or ramped in by the tick
                assert isinstance(inp, Start | Tick), inp
                if isinstance(inp, Tick):
                    assert amp - prev <= m.clinic.slew_ua_per_s * 1.0 + 1e-6
            prev = amp
        if CommandKind.START in kinds or CommandKind.RESUME in kinds:
            assert isinstance(inp, Start | Resume), inp
        if isinstance(inp, OFF_INPUTS) or is_contact_loss(inp):
            assert not m.output_on, inp
        if isinstance(inp, EmergencyStop):
            assert kinds[0] is CommandKind.ESTOP
            assert m.state is SessionState.ESTOPPED
        if m.output_on:
            assert m.state in (SessionState.RAMPING_UP, SessionState.RUNNING)
            assert m.commanded_ua <= ceiling + 1e-9
        event(m.state.value)


@settings(max_examples=100, deadline=None)
@given(program=programs(), dts=st.lists(st.floats(0.05, 1.0), min_size=1, max_size=200))
def test_program_steps_run_in_order_within_limits(program, dts):
    """Ticks alone walk a running program through its steps, never above any step's
    binding limit, and end it with a STOP."""
    m = SessionMachine()
    m.handle(Tick(0.0))
    to_running(m, program)
    now, last_index = 0.0, m.run.index
    for dt in dts:
        now += dt
        out = m.handle(Tick(now))
        for cmd in out.commands:
            if cmd.kind is CommandKind.SET_OUTPUT:
                assert cmd.settings.amplitude_ua <= independent_ceiling(m) + 1e-9
        assert m.run.index >= last_index
        last_index = m.run.index
        if m.state is not SessionState.RUNNING:
            assert m.state is SessionState.RAMPING_DOWN
            assert CommandKind.STOP in [c.kind for c in out.commands]
            assert not m.output_on
            break
