"""ProcedureRunner over a fake link: answers, refusals, timeouts, abort, link loss."""

from __future__ import annotations

import numpy as np
import pytest

from app.device.fake import FakeDevice
from app.device.protocol import (
    Ack,
    DeviceState,
    Fault,
    MsgType,
    Nak,
    NakReason,
    Status,
)
from app.device.samples import SampleBlock
from app.device.waveform import OutputSettings, Polarity, Waveform
from app.engine.authority import Driver, OutputAuthority
from app.service.procedure import (
    Collect,
    Pause,
    ProcedureError,
    ProcedureRunner,
    Send,
    WaitStatus,
)


class FakeLink(FakeDevice):
    """The shared fake, connected, naming what was sent the way these tests read it."""

    def __init__(self) -> None:
        super().__init__(connected=True)

    @property
    def sent(self) -> list[str]:
        names = {"start_output": "start", "set_output": "set"}
        return [
            f"sim {c[2].name}" if c[0] == "sim_control" else names.get(c[0], c[0])
            for c in self.calls
        ]

    def unplug(self, connected: bool) -> None:
        self._connected = connected


def _status(state=DeviceState.IDLE):
    return Status(state, 0.0, 0.0, 1000.0, True, False, Fault.NONE, 0.0, 0)


def _block(n=100):
    z = np.zeros(n, dtype=np.float32)
    return SampleBlock(0, 1000.0, z + 1, z, z, np.zeros(n, dtype=np.uint8), z.astype(bool))


def _runner(qtbot):
    link = FakeLink()
    authority = OutputAuthority(owner=Driver.BENCH)
    authority.set_link(link)
    # settings sent beforehand (a procedure's START needs them): then a clean record
    grant = authority.set_output(
        Driver.BENCH, OutputSettings(Waveform.SQUARE, 10.0, 100.0, Polarity.POSITIVE, 2.0, 0.0)
    )
    link.command_answered.emit(grant.request_id, Ack(grant.request_id, 0))  # accepted
    link.calls.clear()
    link._rid = 0
    runner = ProcedureRunner(link)
    runner.set_authority(authority)
    got: dict[str, object] = {}
    runner.finished.connect(lambda r: got.setdefault("result", r))
    runner.failed.connect(lambda r: got.setdefault("failed", r))
    return link, runner, got


def test_steps_receive_answers_status_and_samples(qtbot):
    link, runner, got = _runner(qtbot)

    def proc():
        ans = yield Send(lambda lk: lk.request_start(), "Starting")
        st, waited = yield WaitStatus(lambda s: s.state == DeviceState.RUNNING, 1.0, "running")
        data = yield Collect(0.25)
        yield Pause(0.01)
        return ans.ok, st.state, len(data)

    runner.run(proc(), max_ua=100.0)
    assert runner.running
    link.command_answered.emit(99, Ack(99, 3))  # someone else's answer: ignored
    link.command_answered.emit(1, Ack(1, int(MsgType.START)))
    link.status_received.emit(_status(DeviceState.IDLE))
    link.status_received.emit(_status(DeviceState.RUNNING))
    for _ in range(3):
        link.samples_received.emit(_block())
    qtbot.waitUntil(lambda: "result" in got, timeout=1000)
    assert got["result"] == (True, DeviceState.RUNNING, 300)
    assert not runner.running


def test_a_refusal_fails_with_the_devices_reason_and_makes_output_safe(qtbot):
    link, runner, got = _runner(qtbot)

    def proc():
        yield Send(lambda lk: lk.request_start(), "Starting the output")

    runner.run(proc(), max_ua=100.0)
    link.command_answered.emit(1, Nak(1, int(MsgType.START), NakReason.NO_CONTACT, "lift"))
    assert "Starting the output — the device refused (no contact: lift)" in got["failed"]
    assert "output switched off" in got["failed"]
    assert link.sent[1:] == ["estop", "reset", "sim LOAD_SKIN"]


def test_accepted_refusals_are_results_and_procedures_may_catch_errors(qtbot):
    link, runner, got = _runner(qtbot)

    def proc():
        ans = yield Send(lambda lk: lk.request_start(), "x", accept=(NakReason.UNSUPPORTED,))
        try:
            yield WaitStatus(lambda s: False, 0.05, "never")
        except ProcedureError as exc:
            return ans.ok, str(exc)

    runner.run(proc(), max_ua=100.0)
    link.command_answered.emit(1, Nak(1, 3, NakReason.UNSUPPORTED))
    qtbot.waitUntil(lambda: "result" in got, timeout=1000)
    assert got["result"] == (False, "never — not seen within 0.05 s")


def test_timeouts_abort_and_link_loss(qtbot):
    link, runner, got = _runner(qtbot)

    def waits():
        yield WaitStatus(lambda s: False, 0.05, "the device in Idle")

    with qtbot.waitSignal(runner.failed, timeout=1000):
        runner.run(waits(), max_ua=100.0)
    assert got["failed"].startswith("the device in Idle — not seen within 0.05 s")

    link, runner, got = _runner(qtbot)
    runner.run(waits(), max_ua=100.0)
    runner.abort()
    assert got["failed"].startswith("aborted by the technician")
    assert "estop" in link.sent

    link, runner, got = _runner(qtbot)
    runner.run(waits(), max_ua=100.0)
    link.disconnected.emit("cable pulled")
    assert got["failed"] == "the device link was lost: cable pulled"
    assert link.sent == []  # nothing can be sent on a lost link


def test_not_connected_and_one_at_a_time(qtbot):
    link, runner, got = _runner(qtbot)
    link.unplug(False)

    def proc():
        yield Pause(1.0)

    runner.run(proc(), max_ua=100.0)
    assert got["failed"] == "the device is not connected"
    link.unplug(True)
    runner.run(proc(), max_ua=100.0)
    with pytest.raises(RuntimeError, match="already running"):
        runner.run(proc(), max_ua=100.0)
    runner.abort()
