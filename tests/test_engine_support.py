"""Shared helpers for the engine tests: a small program, device limits, statuses, and a
machine driven into each session state. Pure, no Qt."""

from __future__ import annotations

from datetime import UTC, datetime

from app.device.protocol import DeviceState, Event, EventCode, Fault, Status
from app.engine.limits import DeviceLimits
from app.engine.programs import parse_program
from app.engine.session import (
    ChooseClient,
    DeviceEventReceived,
    EmergencyStop,
    LinkConnected,
    LinkLost,
    LoadProgram,
    Pause,
    SessionMachine,
    SessionState,
    Start,
    StatusReceived,
    Stop,
)

LIMITS = DeviceLimits(
    max_current_ua=1000.0, min_frequency_hz=0.5, max_frequency_hz=2000.0, compliance_v=20.0
)


def step(
    name="Jaw",
    zones=("masseter",),
    side="both",
    amplitude=300.0,
    duration=10.0,
    frequency=10.0,
    **extra,
):
    d = {
        "name": name,
        "zones": list(zones),
        "side": side,
        "technique": "hold",
        "direction": "none",
        "waveform": "square",
        "frequency_hz": frequency,
        "amplitude_ua": amplitude,
        "polarity": "alternating",
        "duration_s": duration,
    }
    d.update(extra)
    return d


def program_data(steps=None):
    return {
        "schema_version": 1,
        "name": "Test",
        "description": "A test program",
        "notes": ["made up for tests"],
        "steps": steps
        if steps is not None
        else [step(), step("Eyes", ("orbicularis_oculi",), amplitude=150.0)],
    }


def make_program(steps=None, program_id="test_program"):
    return parse_program(program_data(steps), f"{program_id}.json", program_id)


PROGRAM = make_program()


def status(state=DeviceState.IDLE, contact=True, faults=Fault.NONE, charge=0.0):
    return Status(
        state, 0.0, 0.0, 5000.0 if contact else float("inf"), contact, False, faults, charge, 0
    )


def wall():
    return datetime(2026, 1, 1, tzinfo=UTC)


def machine_in(state: SessionState, program=PROGRAM) -> SessionMachine:
    """A machine driven through real inputs into ``state``.

    IDLE here means: device connected, client chosen and screened, program loaded, but
    the probes are not on the skin (no contact).
    """
    m = SessionMachine(wall_clock=wall)
    if state is SessionState.IDLE:
        m.handle(LinkConnected(LIMITS))
        m.handle(ChooseClient("c1", None, True))
        m.handle(LoadProgram(program))
        assert m.state is SessionState.IDLE
        return m
    m.handle(LinkConnected(LIMITS))
    m.handle(ChooseClient("c1", None, True))
    m.handle(LoadProgram(program))
    m.handle(StatusReceived(status(DeviceState.IDLE, contact=True)))
    assert m.state is SessionState.READY
    if state is SessionState.READY:
        return m
    m.handle(Start())
    if state is SessionState.RAMPING_UP:
        return m
    m.handle(StatusReceived(status(DeviceState.RUNNING)))
    assert m.state is SessionState.RUNNING
    path = {
        SessionState.RUNNING: [],
        SessionState.PAUSED: [Pause()],
        SessionState.RAMPING_DOWN: [Stop()],
        SessionState.COMPLETE: [Stop(), StatusReceived(status(DeviceState.IDLE))],
        SessionState.CONTACT_LOST: [
            StatusReceived(status(DeviceState.CONTACT_LOST, contact=False))
        ],
        SessionState.LINK_LOST: [LinkLost("cable pulled")],
        SessionState.DEVICE_FAULT: [
            DeviceEventReceived(Event(EventCode.FAULT, int(Fault.OVERCURRENT)))
        ],
        SessionState.ESTOPPED: [EmergencyStop()],
    }[state]
    for e in path:
        m.handle(e)
    assert m.state is state, (m.state, state)
    return m


def controller_on(link, clinic=None, **kwargs):
    """A SessionController for the desk over ``link`` (a FakeDevice or a DeviceLink),
    through its own output authority, as the console builds it."""
    from app.engine.authority import OutputAuthority
    from app.engine.controller import SessionController

    authority = OutputAuthority(clinic)
    authority.set_link(link)
    return SessionController(authority, **kwargs)
