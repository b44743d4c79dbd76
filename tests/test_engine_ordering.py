"""The order in which the console learns things must not change what a session delivers."""

from __future__ import annotations

import itertools

import pytest

from app.device.protocol import DeviceState
from app.engine.session import (
    ChooseClient,
    LinkConnected,
    LoadProgram,
    SessionMachine,
    SessionState,
    Start,
    StatusReceived,
)
from tests.test_engine_support import LIMITS, PROGRAM, status, wall

SETUP = {
    "link": LinkConnected(LIMITS),
    "client": ChooseClient("c1", None, True),
    "program": LoadProgram(PROGRAM),
    "contact": StatusReceived(status(DeviceState.IDLE, contact=True)),
}


def _started_amplitude(order) -> float:
    m = SessionMachine(wall_clock=wall)
    for name in order:
        m.handle(SETUP[name])
    assert m.state is SessionState.READY
    out = m.handle(Start())
    commanded = [c.settings.amplitude_ua for c in out.commands if c.settings is not None]
    assert commanded, out
    return commanded[-1]


REFERENCE = _started_amplitude(("link", "client", "program", "contact"))


def test_reference_order_starts_at_the_step_level():
    assert pytest.approx(PROGRAM.steps[0].amplitude_ua) == REFERENCE


@pytest.mark.parametrize("order", list(itertools.permutations(SETUP)))
def test_step_level_is_the_same_whatever_the_order(order):
    """E.g. the desk loads its program before the device has connected (no limits yet)."""
    assert _started_amplitude(order) == pytest.approx(REFERENCE)
