"""The session recorder, against a recording fake writer: what a step's record says."""

from __future__ import annotations

import numpy as np

from app.device.protocol import SampleFlag
from app.device.samples import SampleBlock
from app.engine.recorder import DEVICE_END_OUTCOMES, END_OUTCOMES, SessionRecorder
from app.engine.session import SessionState
from app.store.vocabulary import Outcome


class Writer:
    def __init__(self) -> None:
        self.steps: list[tuple] = []
        self.ended: list = []

    def begin_session(self, *_a, **_k) -> str:
        return "uid-1"

    def add_event(self, *_a, **_k) -> None:
        pass

    def add_samples(self, *_a, **_k) -> None:
        pass

    def add_step(self, uid, position, zone, parameters, planned_s, actual_s, **totals):
        self.steps.append((position, planned_s, actual_s, totals))

    def update_step(self, uid, position, parameters, actual_s, **totals) -> int:
        """As the store: the newest row of that position gets the new totals."""
        i = max(k for k, st in enumerate(self.steps) if st[0] == position)
        self.steps[i] = (position, self.steps[i][1], actual_s, totals)
        return i

    def end_session(self, uid, outcome) -> None:
        self.ended.append(outcome)


def block(first: int, n: int, on: bool, rate: float = 1000.0) -> SampleBlock:
    cur = np.full(n, 100.0 if on else 0.0, dtype=np.float32)
    flags = np.full(n, int(SampleFlag.OUTPUT_ON) if on else 0, dtype=np.uint8)
    return SampleBlock(first, rate, cur, cur * 0.01, cur.copy(), flags, np.zeros(n, dtype=bool))


def test_a_steps_recorded_time_is_the_time_its_output_was_on():
    w = Writer()
    rec = SessionRecorder(w, 7)
    rec.set_program("p")
    rec.on_state(SessionState.RAMPING_UP)
    rec.on_step(0, "masseter_l", {}, 60.0)
    rec.on_samples(block(0, 6000, on=True))  # 6 s of output
    rec.on_state(SessionState.PAUSED)
    rec.on_samples(block(6000, 20000, on=False))  # 20 s paused: not treatment
    rec.on_state(SessionState.RUNNING)
    rec.on_step(1, "masseter_r", {}, 60.0)  # skipped on after 6 s
    rec.on_samples(block(26000, 1000, on=True))
    rec.on_state(SessionState.COMPLETE)
    (first, planned, actual, totals), (second, _, actual2, _) = w.steps
    assert (first, planned, actual) == (0, 60.0, 6.0)
    assert totals["charge_uc"] == 600.0  # 100 µA for 6 s
    assert totals["charge_abs_uc"] == 600.0  # one phase: all of it positive
    assert (second, actual2) == (1, 1.0)
    assert w.ended == [Outcome.STOPPED]


def test_one_outcome_mapping_for_every_path():
    """The desk (machine states) and the studio (device states) end a session the same
    way for the same cause: a watchdog trip is a fault on both."""
    from app.device.protocol import DeviceState

    assert END_OUTCOMES[SessionState.DEVICE_FAULT] is DEVICE_END_OUTCOMES[DeviceState.WATCHDOG]
    assert END_OUTCOMES[SessionState.ESTOPPED] is DEVICE_END_OUTCOMES[DeviceState.ESTOPPED]
    assert DEVICE_END_OUTCOMES[DeviceState.FAULT] is Outcome.FAULT


class SampleWriter(Writer):
    def __init__(self) -> None:
        super().__init__()
        self.samples: list[SampleBlock] = []

    def add_samples(self, uid, block_) -> None:
        self.samples.append(block_)


def test_consecutive_blocks_go_to_the_writer_together():
    """One request (one wake-up of the writer's thread) per SAMPLE_BATCH_S of samples,
    not one per block; a gap, a state change and the end hand over what is held, and
    every sample reaches the writer once, in order."""
    from app.engine.recorder import SAMPLE_BATCH_S

    w = SampleWriter()
    rec = SessionRecorder(w, 7)
    rec.on_state(SessionState.RAMPING_UP)
    per = int(SAMPLE_BATCH_S * 10_000) // 160 + 1  # 16 blocks of 16 ms make 0.25 s
    for k in range(per - 1):
        rec.on_samples(block(160 * k, 160, on=True, rate=10_000.0))
    assert w.samples == []  # held: under SAMPLE_BATCH_S
    rec.on_samples(block(160 * (per - 1), 160, on=True, rate=10_000.0))
    assert [(b.first_index, len(b)) for b in w.samples] == [(0, 160 * per)]
    rec.on_samples(block(160 * per, 160, on=True, rate=10_000.0))
    rec.on_samples(block(160 * per + 1000, 160, on=True, rate=10_000.0))  # after a gap
    assert [(b.first_index, len(b)) for b in w.samples[1:]] == [(160 * per, 160)]
    rec.on_state(SessionState.PAUSED)  # a state change hands over what is held
    assert [(b.first_index, len(b)) for b in w.samples[2:]] == [(160 * per + 1000, 160)]
    rec.on_state(SessionState.RUNNING)
    rec.on_samples(block(160 * per + 1160, 100, on=True, rate=10_000.0))
    rec.close(Outcome.COMPLETED)  # and so does the end, before the session is ended
    assert w.samples[-1].first_index == 160 * per + 1160
    assert w.ended == [Outcome.COMPLETED]
    assert sum(len(b) for b in w.samples) == rec.samples_recorded
    np.testing.assert_array_equal(w.samples[0].current_ua, np.full(160 * per, 100.0))


# -- a step cut short by the session's end (D1) ------------------------------------


class StepWriter(Writer):
    """Also keeps each step's parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.params: list[dict] = []
        self.uids = 0

    def begin_session(self, *_a, **_k) -> str:
        self.uids += 1
        return f"uid-{self.uids}"

    def add_step(self, uid, position, zone, parameters, planned_s, actual_s, **totals):
        super().add_step(uid, position, zone, parameters, planned_s, actual_s, **totals)
        self.params.append(dict(parameters))

    def update_step(self, uid, position, parameters, actual_s, **totals) -> int:
        i = super().update_step(uid, position, parameters, actual_s, **totals)
        self.params[i] = dict(parameters)
        return i


ENDS_EARLY = [
    (SessionState.ESTOPPED, Outcome.EMERGENCY_STOPPED),
    (SessionState.LINK_LOST, Outcome.INTERRUPTED),
    (SessionState.DEVICE_FAULT, Outcome.FAULT),
    (SessionState.COMPLETE, Outcome.STOPPED),  # STOP, or the output authority's stop
]


def test_a_step_cut_short_is_recorded_once_with_what_it_delivered():
    """The step current when output started (its program loaded before) and cut short
    by the session's end — stop, emergency stop, the output authority, a lost link, a
    fault — is written once, with its time so far, its figures and what ended it."""
    import pytest

    from app.store.vocabulary import ENDED_EARLY, ended_early_text

    for end, outcome in ENDS_EARLY:
        w = StepWriter()
        rec = SessionRecorder(w, 7)
        rec.set_program("p")
        rec.on_step(0, "masseter_l", {"step": "Jaw"}, 120.0)  # before the session
        rec.on_state(SessionState.RAMPING_UP)
        rec.on_state(SessionState.RUNNING)
        rec.on_samples(block(0, 9000, on=True))  # 9 s at 100 µA
        if end is SessionState.COMPLETE:
            rec.on_state(SessionState.RAMPING_DOWN)
        rec.on_state(end)
        rec.close(Outcome.STOPPED)  # the console closing afterwards: nothing more
        assert w.ended == [outcome]
        ((position, planned, actual, totals),) = w.steps
        assert (position, planned, actual) == (0, 120.0, 9.0), end
        assert totals["mean_current_ua"] == pytest.approx(100.0)
        assert totals["charge_uc"] == pytest.approx(900.0)
        assert totals["mean_impedance_ohm"] == pytest.approx(10_000.0)
        assert w.params == [{"step": "Jaw", ENDED_EARLY: outcome.value}]
        assert ended_early_text(w.params[0]).startswith("ended early (")


def test_the_console_closing_mid_step_records_the_step():
    w = StepWriter()
    rec = SessionRecorder(w, 7)
    rec.set_program("p")
    rec.on_step(2, "mentalis_r", {}, 60.0)
    rec.on_state(SessionState.RAMPING_UP)
    rec.on_samples(block(0, 3000, on=True))
    rec.close(Outcome.STOPPED)  # the desk's shutdown
    assert [(p, a) for p, _pl, a, _t in w.steps] == [(2, 3.0)]
    assert w.params[0]["ended_early"] == "stopped"


def test_the_step_current_again_after_an_emergency_stop_is_recorded_in_the_next_session():
    """After an emergency stop and a reset the run is still on the same step (no step
    change is signalled): the next session records it too."""
    w = StepWriter()
    rec = SessionRecorder(w, 7)
    rec.set_program("p")
    rec.on_step(0, "masseter_l", {}, 120.0)
    rec.on_state(SessionState.RAMPING_UP)
    rec.on_samples(block(0, 2000, on=True))
    rec.on_state(SessionState.ESTOPPED)
    rec.on_state(SessionState.IDLE)
    rec.on_state(SessionState.READY)
    rec.on_state(SessionState.RAMPING_UP)  # the second session, same step
    rec.on_samples(block(5000, 4000, on=True))
    rec.on_state(SessionState.RUNNING)
    rec.on_step(1, "masseter_r", {}, 120.0)
    rec.on_samples(block(9000, 1000, on=True))
    rec.on_state(SessionState.RAMPING_DOWN)
    rec.on_state(SessionState.COMPLETE)
    assert [(p, a) for p, _pl, a, _t in w.steps] == [(0, 2.0), (0, 4.0), (1, 1.0)]
    assert [p.get("ended_early") for p in w.params] == ["emergency_stopped", None, "stopped"]


def test_a_completed_session_ends_its_last_step_without_marking_it():
    w = StepWriter()
    rec = SessionRecorder(w, 7)
    rec.set_program("p")
    rec.on_step(0, "masseter_l", {}, 1.0)
    rec.on_state(SessionState.RAMPING_UP)
    rec.on_samples(block(0, 1000, on=True))
    rec.on_state(SessionState.RAMPING_DOWN)
    rec.on_samples(block(1000, 500, on=True))  # the ramp down: still the last step
    rec.on_state(SessionState.COMPLETE, program_finished=True)
    assert [(p, a) for p, _pl, a, _t in w.steps] == [(0, 1.5)]
    assert w.params == [{}]
    assert w.ended == [Outcome.COMPLETED]


# -- which events are a session's (D2) ---------------------------------------------


class EventWriter(StepWriter):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, str, str]] = []  # (uid, kind, message)

    def add_event(self, uid, kind, payload, timestamp=None) -> None:
        self.events.append((uid, kind, payload["message"]))


class Drive:
    """A SessionMachine wired to a recorder as the controller wires them: each input's
    records first, then its state change, then its step change."""

    def __init__(self, rec: SessionRecorder) -> None:
        from test_engine_support import wall

        from app.engine.session import SessionMachine

        self.m = SessionMachine(wall_clock=wall)
        self.rec = rec
        self._state = self.m.state
        self._step = None

    def __call__(self, *inputs) -> None:
        for e in inputs:
            out = self.m.handle(e)
            for r in out.records:
                self.rec.on_record(r)
            if self.m.state is not self._state:
                self._state = self.m.state
                view = self.m.guided_view()
                self.rec.on_state(self._state, program_finished=bool(view and view.finished))
            run = self.m.run
            key = None if run is None else (run.program.id, run.index, run.finished)
            if key != self._step:
                self._step = key
                view = self.m.guided_view()
                if view is not None and not view.finished:
                    self.rec.on_step(view.step_index, ",".join(view.zones), {}, 10.0)


def test_idle_time_and_another_clients_set_up_are_not_in_a_clients_session(caplog):
    """An emergency stop with no session under way, the device connecting, an earlier
    client chosen and its limit, a state change at idle: none of it is written into the
    session that opens later. The session holds its own set-up (client, program) and
    the Start that opened it, then what happened while it recorded."""
    from test_engine_support import LIMITS, PROGRAM, status

    from app.device.protocol import DeviceState
    from app.engine.session import (
        ChooseClient,
        EmergencyStop,
        LinkConnected,
        LoadProgram,
        Reset,
        ResetAnswered,
        SetClientLimit,
        Start,
        StatusReceived,
        Stop,
    )

    w = EventWriter()
    rec = SessionRecorder(w, 9)
    drive = Drive(rec)
    drive(LinkConnected(LIMITS), StatusReceived(status(DeviceState.IDLE)))
    drive(EmergencyStop(), Reset(), ResetAnswered(), StatusReceived(status(DeviceState.IDLE)))
    # kept in the console's log instead (state names only: no reason, no client)
    assert "emergency stop with no session under way (from idle)" in caplog.text
    drive(ChooseClient("c7", None, True), SetClientLimit(40.0))  # an earlier client
    drive(ChooseClient("c9", None, True), LoadProgram(PROGRAM))
    drive(StatusReceived(status(DeviceState.IDLE)))
    assert drive.m.state is SessionState.READY
    assert w.events == []
    drive(Start())
    drive(StatusReceived(status(DeviceState.RUNNING)), Stop(), StatusReceived(status()))
    assert drive.m.state is SessionState.COMPLETE
    kinds = [(k, msg) for _uid, k, msg in w.events]
    text = " | ".join(msg for _k, msg in kinds)
    for stranger in ("c7", "40", "estop", "reset"):  # the earlier client, the idle E-stop
        assert stranger not in text, text
    opening = [m for k, m in kinds if k == "transition"][0]
    assert opening.startswith("ready -> ramping_up"), kinds
    assert ("client", "client c9 chosen") in kinds
    assert ("program", f"program {PROGRAM.id} loaded") in kinds
    assert [m for k, m in kinds if k == "command"][:2] == ["sent set_output", "sent start"]
    before_start = kinds[: kinds.index(("transition", opening))]
    assert {k for k, _m in before_start} <= {"client", "program", "limit", "step", "command"}
    # the first session's steps: the step current when it started, written once
    assert [(p, a) for p, _pl, a, _t in w.steps] == []  # no samples fed: nothing delivered
    # after the session: what happens at idle is not carried into the next one
    n = len(w.events)
    drive(EmergencyStop(), Reset(), StatusReceived(status(DeviceState.IDLE)))
    drive(Start())
    later = [(k, m) for _uid, k, m in w.events[n:]]
    assert all(uid == "uid-2" for uid, _k, _m in w.events[n:])
    assert [m for _k, m in later][:2] == ["sent set_output", "sent start"], later
    assert later[2][1].startswith("ready -> ramping_up"), later


def test_a_step_under_way_is_in_the_store_and_kept_up_to_date():
    """A console killed mid-step must leave the step recorded: its row is written once it
    delivered output (marked in progress) and brought up to date every PROGRESS_S of
    samples; its end writes the final totals into the same row, without the mark."""
    from app.engine.recorder import PROGRESS_S

    w = StepWriter()
    rec = SessionRecorder(w, 7)
    rec.set_program("p")
    rec.on_step(0, "masseter_l", {"step": "Jaw"}, 60.0)
    rec.on_state(SessionState.RAMPING_UP)
    rec.on_samples(block(0, 160, on=True))
    assert [(p, a) for p, _pl, a, _t in w.steps] == [(0, 0.16)]
    assert w.params == [{"step": "Jaw", "in_progress": True}]
    per = int(PROGRESS_S * 1000)
    rec.on_samples(block(160, per - 1, on=True))  # not yet PROGRESS_S since
    assert w.steps[0][2] == 0.16
    rec.on_samples(block(160 + per - 1, 1, on=True))  # PROGRESS_S since: brought up to date
    assert [(p, a) for p, _pl, a, _t in w.steps] == [(0, PROGRESS_S + 0.16)]
    rec.on_samples(block(160 + per, 1000, on=True))
    rec.on_state(SessionState.ESTOPPED)
    assert [(p, a) for p, _pl, a, _t in w.steps] == [(0, PROGRESS_S + 1.16)]  # one row
    assert w.params == [{"step": "Jaw", "ended_early": "emergency_stopped"}]
