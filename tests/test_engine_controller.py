"""SessionController: against a recording fake link, then end to end with the simulator."""

from __future__ import annotations

import numpy as np
import pytest
from test_engine_support import PROGRAM, controller_on, make_program, status, step

from app.device.fake import FakeDevice
from app.device.protocol import (
    PROTOCOL_VERSION,
    Ack,
    DeviceState,
    Info,
    MsgType,
    Nak,
    NakReason,
    SampleFlag,
    SimOp,
)
from app.engine.session import SessionState

S = SessionState
# Eye-area step at 100 µA with a short ramp: quick to start and stop on the simulator.
FAST = make_program(
    [step("Eyes", ("orbicularis_oculi",), amplitude=100.0, duration=60.0, ramp_s=0.3)]
)
INFO = Info(
    0,
    PROTOCOL_VERSION,
    "FAKE",
    "F-1",
    "1.0",
    1000.0,
    0.5,
    2000.0,
    20.0,
    10_000,
    0.05,
    0.001,
    500,
    50,
)


FakeLink = FakeDevice


@pytest.fixture
def rig(qtbot):
    link = FakeLink()
    ctl = controller_on(link, tick_ms=20)
    yield link, ctl
    ctl.shutdown()


def ready(link, ctl):
    link.connect_device(INFO)
    ctl.choose_client("c1", screening_passed=True)
    ctl.load_program(PROGRAM)
    link.status_received.emit(status(DeviceState.IDLE, contact=True))
    assert ctl.state is S.READY


def running(link, ctl):
    ready(link, ctl)
    ctl.start()
    link.status_received.emit(status(DeviceState.RUNNING, contact=True))
    assert ctl.state is S.RUNNING


def test_estop_reaches_the_link_before_anything_else(rig):
    link, ctl = rig
    running(link, ctl)
    seen_at_signal: list[list[str]] = []
    ctl.state_changed.connect(lambda _s: seen_at_signal.append(link.names()))
    ctl.record_emitted.connect(lambda _r: seen_at_signal.append(link.names()))
    n = len(link.calls)
    ctl.estop()
    assert link.names()[n:] == ["estop"]  # exactly one ESTOP, nothing else sent
    assert seen_at_signal
    assert all(names[n:] == ["estop"] for names in seen_at_signal)
    assert ctl.state is S.ESTOPPED


def test_signals_for_ui_and_store(rig, qtbot):
    link, ctl = rig
    states, steps, limits, records, alarms = [], [], [], [], []
    ctl.state_changed.connect(states.append)
    ctl.step_changed.connect(steps.append)
    ctl.limits_changed.connect(limits.append)
    ctl.record_emitted.connect(records.append)
    ctl.alarm.connect(alarms.append)
    running(link, ctl)
    assert states == [S.READY, S.RAMPING_UP, S.RUNNING]
    assert steps[-1].step_index == 0
    assert steps[-1].program_id == "test_program"
    ctl.set_client_limit(120.0)
    assert limits[-1].layer.value == "client"
    assert limits[-1].allowed_ua == 120.0
    assert link.calls[-1][0] == "set_output"
    assert link.calls[-1][2].amplitude_ua == 120.0
    ctl.skip_step()
    assert steps[-1].step_index == 1
    assert {r.kind for r in records} >= {
        "transition",
        "command",
        "step",
        "client",
        "program",
        "device",
        "parameter",
    }
    link.disconnected.emit("cable")
    assert ctl.state is S.LINK_LOST
    assert alarms
    assert "link to the device lost" in alarms[-1].lower()


def test_tick_feeds_the_watchdog_and_reports_progress(rig, qtbot):
    link, ctl = rig
    running(link, ctl)
    views = []
    ctl.progress_changed.connect(views.append)
    qtbot.waitUntil(lambda: link.fed >= 3 and len(views) >= 3, timeout=2000)
    assert views[-1].step_remaining_s < PROGRAM.steps[0].duration_s


def test_progress_is_not_reported_again_while_nothing_changes(rig, qtbot):
    """Ready (a program loaded, no output) the view holds still: one report, then none,
    however many ticks feed the watchdog."""
    link, ctl = rig
    ready(link, ctl)
    views = []
    ctl.progress_changed.connect(views.append)
    fed = link.fed
    qtbot.waitUntil(lambda: link.fed >= fed + 6, timeout=2000)
    assert len(views) <= 1
    assert all(v == views[0] for v in views)


def test_a_refused_start_goes_back_and_alarms(rig, qtbot):
    link, ctl = rig
    ready(link, ctl)
    ctl.start()
    with qtbot.waitSignal(ctl.alarm, timeout=1000) as got:
        link.command_answered.emit(
            link.rid_of("start_output"), Nak(0, MsgType.START, NakReason.NO_CONTACT, "probes")
        )
    assert "refused start: no contact (probes)" in got.args[0]
    assert ctl.state is S.READY
    assert not ctl.machine.output_on


def test_acks_and_unknown_answers_change_nothing(rig):
    link, ctl = rig
    running(link, ctl)
    link.command_answered.emit(link.rid_of("start_output"), Ack(0, MsgType.START))
    link.command_answered.emit(9999, Nak(0, MsgType.START, NakReason.NO_CONTACT, ""))
    link.command_failed.emit(9998, "no answer")
    assert ctl.state is S.RUNNING


def test_unanswered_stop_escalates_to_estop(rig):
    link, ctl = rig
    running(link, ctl)
    ctl.stop()
    link.command_failed.emit(link.rid_of("stop_output"), "no answer within 500 ms")
    assert link.names()[-1] == "estop"
    assert ctl.state is S.DEVICE_FAULT


def test_reentrant_calls_wait_so_listeners_see_states_in_order(rig):
    link, ctl = rig
    first, second = [], []
    ctl.state_changed.connect(first.append)
    ctl.state_changed.connect(lambda s: ctl.start() if s is S.READY else None)
    ctl.state_changed.connect(second.append)
    link.connect_device(INFO)
    ctl.choose_client("c1", screening_passed=True)
    ctl.load_program(PROGRAM)
    link.status_received.emit(status(DeviceState.IDLE, contact=True))
    assert ctl.state is S.RAMPING_UP
    assert first == [S.READY, S.RAMPING_UP]
    assert second == [S.READY, S.RAMPING_UP]  # not RAMPING_UP before READY


def test_space_toggles_pause(rig):
    link, ctl = rig
    running(link, ctl)
    ctl.toggle_pause()
    assert ctl.state is S.PAUSED
    ctl.toggle_pause()
    assert ctl.state is S.RUNNING
    assert link.names()[-2:] == ["pause", "resume"]


def test_shutdown_turns_output_off_first(rig):
    link, ctl = rig
    running(link, ctl)
    ctl.shutdown()
    assert link.names()[-1] == "estop"
    fed = link.fed
    ctl.shutdown()  # idempotent
    assert link.fed == fed


def test_shutdown_when_idle_sends_nothing(rig):
    link, ctl = rig
    ctl.shutdown()
    assert link.calls == []


# --------------------------------------------------------------------------- end to end


@pytest.fixture
def sim_link(simulated_device):
    """The simulator's link, not started: the tests start it (and feed it) themselves."""
    return simulated_device(feed=False, connect=False).link


@pytest.mark.slow
def test_session_on_the_simulator_estop_reset_contact_loss_resume_complete(qtbot, sim_link):
    link = sim_link
    ctl = controller_on(link)
    blocks = []
    link.samples_received.connect(blocks.append)
    with qtbot.waitSignal(link.connected, timeout=5000):
        link.start()
    ctl.choose_client("training", screening_passed=True, training=True)
    ctl.load_program(FAST)
    qtbot.waitUntil(lambda: ctl.state is S.READY, timeout=3000)
    ctl.start()
    qtbot.waitUntil(lambda: ctl.state is S.RUNNING, timeout=5000)
    qtbot.waitUntil(lambda: any(b.level_ua.max() > 50 for b in blocks[-3:]), timeout=3000)
    assert max(float(np.abs(b.current_ua).max()) for b in blocks) <= 100.0 * 1.1
    ctl.estop()
    assert ctl.state is S.ESTOPPED
    n = len(blocks)
    qtbot.waitUntil(lambda: len(blocks) > n + 2, timeout=2000)
    last = blocks[-1]
    assert not (last.flags & SampleFlag.OUTPUT_ON).any()
    assert float(np.abs(last.current_ua).max()) < 5.0
    ctl.reset()
    qtbot.waitUntil(lambda: ctl.state is S.READY, timeout=3000)
    ctl.start()
    qtbot.waitUntil(lambda: ctl.state is S.RUNNING, timeout=5000)
    # Probes lifted: output and timer pause; back on the skin: still paused until Resume.
    link.sim_control(SimOp.SET_CONTACT, 0)
    qtbot.waitUntil(lambda: ctl.state is S.CONTACT_LOST, timeout=3000)
    assert not ctl.machine.output_on
    with qtbot.waitSignal(
        ctl.notice, timeout=3000, check_params_cb=lambda t: t.startswith("contact back")
    ):
        link.sim_control(SimOp.SET_CONTACT, 1)
    assert ctl.state is S.CONTACT_LOST
    ctl.resume()
    assert ctl.state is S.RUNNING
    n = len(blocks)
    qtbot.waitUntil(
        lambda: len(blocks) > n and any((b.flags & SampleFlag.OUTPUT_ON).any() for b in blocks[n:]),
        timeout=3000,
    )
    ctl.stop()
    qtbot.waitUntil(lambda: ctl.state is S.COMPLETE, timeout=5000)
    ctl.shutdown()


@pytest.mark.slow
def test_a_blocked_gui_thread_ends_in_output_off_within_1_s(qtbot, sim_link):
    """The controller's tick feeds the watchdog from the GUI thread: when that thread is
    blocked, heartbeats stop and the firmware turns output off by itself."""
    import time

    link = sim_link
    ctl = controller_on(link)
    records = []
    ctl.record_emitted.connect(lambda r: records.append(f"{r.state}: {r.message}"))
    blocks = []
    link.samples_received.connect(blocks.append)
    with qtbot.waitSignal(link.connected, timeout=5000):
        link.start()
    ctl.choose_client("training", screening_passed=True, training=True)
    ctl.load_program(FAST)
    qtbot.waitUntil(lambda: ctl.state is S.READY, timeout=3000)
    ctl.start()
    try:
        qtbot.waitUntil(lambda: ctl.state is S.RUNNING, timeout=5000)
    except Exception:
        print("\n".join(records))
        raise
    qtbot.waitUntil(
        lambda: bool(blocks) and bool(blocks[-1].flags[-1] & SampleFlag.OUTPUT_ON), timeout=2000
    )
    last = blocks[-1]
    index_at_block = last.first_index + len(last)  # the device is at least this far
    rate = last.sample_rate
    time.sleep(1.5)  # the GUI thread is blocked (this is the fault being tested, not a wait)
    qtbot.waitUntil(lambda: ctl.state is S.DEVICE_FAULT, timeout=3000)
    off_at = None
    for b in blocks:
        on = (b.flags & SampleFlag.OUTPUT_ON).astype(bool)
        idx = b.first_index + np.arange(len(b))
        off = idx[(idx >= index_at_block) & ~on]
        if off.size:
            off_at = int(off[0])
            break
    assert off_at is not None, "output never went off"
    assert (off_at - index_at_block) / rate <= 1.0
    assert not ctl.machine.output_on
    ctl.shutdown()


def test_the_tick_slows_while_nothing_is_timed_and_is_fast_once_output_starts(rig):
    """IDLE, READY, COMPLETE: nothing on the machine's clock, the tick five times slower
    (issue 17: an idle desk's wake-ups); a START makes it fast at once."""
    from app.engine.controller import QUIET_TICK_FACTOR

    link, ctl = rig
    assert ctl.state is S.IDLE
    assert ctl._timer.isActive()
    assert ctl._timer.interval() == 20 * QUIET_TICK_FACTOR
    ready(link, ctl)
    assert ctl._timer.interval() == 20 * QUIET_TICK_FACTOR
    ctl.start()
    assert ctl.state is not S.READY
    assert ctl._timer.interval() == 20
    assert ctl._timer.isActive()
    link.status_received.emit(status(DeviceState.RUNNING, contact=True))
    assert ctl.state is S.RUNNING
    assert ctl._timer.interval() == 20
