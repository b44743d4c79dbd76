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
