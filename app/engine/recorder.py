"""Records a treatment session into the store: the glue between the engine and the writer.

No Qt. Whoever owns the session controller forwards three things here (the console's
practitioner desk and the headless ``run`` command both do):

* :meth:`SessionRecorder.on_state` — each session state change: entering ramp-up opens
  a store session, reaching an end state closes it with its outcome;
* :meth:`SessionRecorder.on_record` — each engine record, stored as a timestamped event
  of the session recording when it was made. Of the records made while no session
  records, only the coming session's set-up is kept and written when it opens (see
  :data:`SETUP_KINDS`): the client chosen, the program loaded, the limits, zone and
  parameters set since, and the Start that opened it. Idle time — the device connected,
  studio or bench use, an emergency stop or an alarm with no session under way, an
  earlier client — is no part of a client's record (the device's own history keeps
  what the device reported; an emergency stop or fault latched then is logged);
* :meth:`SessionRecorder.on_samples` — each sample block, stored as compressed chunks
  while output is under way, and summed per program step (charge, mean current, |V/I|).
  The step current when a session opens is known from :meth:`SessionRecorder.on_step`
  (called whenever another step becomes current, recording or not); a step is written
  once, when the next one becomes current or when the session ends — ended early (a
  stop, an emergency stop, the output authority, a lost link, the console closing), it
  is written with what it delivered until then and the outcome that cut it short
  (``parameters["ended_early"]``). Its row is stored as soon as it delivered output and
  brought up to date every :data:`PROGRESS_S` of samples (``parameters["in_progress"]``
  until it ends), so a console killed mid-step leaves the step recorded up to then
  (the next start marks it ended early by the interruption).
  Consecutive blocks go to the writer together, :data:`SAMPLE_BATCH_S` of samples at a
  time (and at every state change and at the end): one request, and one wake-up of the
  writer's thread, four times a second rather than once a block (60 a second).

Nothing here waits: the writer queues every request on its own thread.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.device.protocol import DeviceState, SampleFlag
from app.device.samples import SampleBlock, joined
from app.engine.session import SessionRecord, SessionState
from app.store.vocabulary import ENDED_EARLY, IN_PROGRESS, Outcome

RECORDING_STATES = frozenset(
    {
        SessionState.RAMPING_UP,
        SessionState.RUNNING,
        SessionState.PAUSED,
        SessionState.CONTACT_LOST,
        SessionState.RAMPING_DOWN,
    }
)
# The one outcome mapping of every output path (desk, run, studio): how a session ends
# for each machine state the desk reaches, and for each latched device state the studio
# sees. A watchdog trip is a fault (the device stopped because the console went silent)
# wherever it happens; only a lost link or a console that closed is "interrupted".
END_OUTCOMES = {
    SessionState.ESTOPPED: Outcome.EMERGENCY_STOPPED,
    SessionState.LINK_LOST: Outcome.INTERRUPTED,
    SessionState.DEVICE_FAULT: Outcome.FAULT,
}
DEVICE_END_OUTCOMES = {
    DeviceState.ESTOPPED: Outcome.EMERGENCY_STOPPED,
    DeviceState.FAULT: Outcome.FAULT,
    DeviceState.WATCHDOG: Outcome.FAULT,
}
log = logging.getLogger(__name__)

PRE_SESSION_RECORDS = 50
# Records made while no session records that are the coming session's set-up (kept in
# the order made and written when it opens). A new client chosen (or the client cleared)
# drops what was set up before except the program loaded; a new program drops the steps
# of the one before; a state change that does not open a session drops the commands sent
# before it (an emergency stop or a reset at idle); a session's end drops everything.
SETUP_KINDS = frozenset(
    {"client", "program", "parameter", "limit", "step", "zone_skipped", "zone_override"}
)
_STEP_KINDS = frozenset({"step", "zone_skipped", "zone_override"})
# latched states reached with no session under way: said in the console's log (the state
# names only: a reason may quote a client's screening)
_LATCHED = {
    SessionState.ESTOPPED.value: "emergency stop",
    SessionState.DEVICE_FAULT.value: "device fault or watchdog trip",
}
SAMPLE_BATCH_S = 0.25
PROGRESS_S = 1.0  # a step under way is brought up to date in the store this often (as the
# recording: a crash loses about the last second of both)


@dataclass(frozen=True)
class _Step:
    """The program step current (recording or not): what a step row is written for."""

    position: int
    zone: str
    parameters: dict[str, Any]
    planned_s: float


@dataclass
class _StepTotals:
    step: _Step
    started: float
    samples: int = 0
    sum_i: float = 0.0
    sum_abs_i: float = 0.0
    sum_abs_v: float = 0.0
    sample_rate: float = 0.0
    active_s: float = 0.0
    on_samples: int = 0  # samples with the output on: the time the step was delivered
    extra: dict[str, Any] = field(default_factory=dict)
    stored: bool = False  # its row is in the store (brought up to date from then on)
    stored_samples: int = 0  # its samples when it was last brought up to date

    def add(self, block: SampleBlock) -> None:
        i = block.current_ua.astype(np.float64)
        self.samples += len(block)
        self.on_samples += int(np.count_nonzero(block.flags & SampleFlag.OUTPUT_ON.value))
        self.sum_i += float(i.sum())
        self.sum_abs_i += float(np.abs(i).sum())
        self.sum_abs_v += float(np.abs(block.voltage_v).sum())
        self.sample_rate = block.sample_rate


class SessionRecorder:
    """See the module docstring. ``writer`` is an app.store.writer.StoreWriter."""

    def __init__(
        self,
        writer: Any,
        client_id: int,
        *,
        training: bool = False,
        operator_id: int | None = None,
        device_serial: str = "",
        firmware: str = "",
    ) -> None:
        self.writer = writer
        self.client_id = client_id
        self.training = training
        self.operator_id = operator_id
        self.device_serial = device_serial
        self.firmware = firmware
        self.program_id = ""
        # the treatment course the next session counts in (None: none); the desk sets it
        # to the client's active course by default (app/store/courses.py)
        self.course_id: int | None = None
        self.session_uid: str | None = None
        self.last_session_uid: str | None = None  # the session ended last (to sign it)
        self.outcome: Outcome | None = None
        self.sessions_recorded = 0
        self.samples_recorded = 0
        self._state = SessionState.IDLE
        self._pre: deque[SessionRecord] = deque(maxlen=PRE_SESSION_RECORDS)
        self._current: _Step | None = None  # the step current, recording or not
        self._step: _StepTotals | None = None  # its totals in the open session
        self._steps_written = 0
        self._program_finished = False
        self._batch: list[SampleBlock] = []  # consecutive blocks not yet handed over
        self._batch_samples = 0

    @property
    def recording(self) -> bool:
        return self.session_uid is not None

    def set_device(self, serial: str, firmware: str) -> None:
        self.device_serial, self.firmware = serial, firmware

    def set_program(self, program_id: str) -> None:
        self.program_id = program_id

    # -- inputs -------------------------------------------------------------

    def on_record(self, record: SessionRecord) -> None:
        if record.kind == "comfort" and not self.training:
            # the client's comfortable level on these zones, offered next time
            zones = tuple(str(z) for z in record.data.get("zones", ()))
            level = record.data.get("intensity_ua")
            if zones and isinstance(level, int | float):
                self.writer.save_comfort(self.client_id, zones, float(level), self.session_uid)
        if self.session_uid is None:
            self._keep_setup(record)
            return
        self._write_event(record)

    def on_state(self, state: SessionState, *, program_finished: bool = False) -> None:
        self._hand_over_samples()
        old, self._state = self._state, state
        if (
            self.session_uid is None
            and state == SessionState.RAMPING_UP
            and old not in RECORDING_STATES
        ):
            self._open()
        elif self.session_uid is not None and state not in RECORDING_STATES:
            if state in END_OUTCOMES:
                outcome = END_OUTCOMES[state]
            elif program_finished or not self.program_id or self.program_id == "manual":
                outcome = Outcome.COMPLETED
            else:
                outcome = Outcome.STOPPED
            self.close(outcome)

    def on_step(
        self, position: int, zone: str, parameters: dict[str, Any], planned_s: float
    ) -> None:
        """A program step became current (recording or not): the previous one is written
        with its totals. Its owner calls it again for every new step, not for the end of
        the program (the last step goes on through the ramp down and is written at the
        session's end)."""
        self._finish_step()
        self._current = _Step(position, zone, dict(parameters), planned_s)
        if self.session_uid is not None:
            self._step = _StepTotals(self._current, time.monotonic())

    def on_samples(self, block: SampleBlock) -> None:
        if self.session_uid is None or self._state not in RECORDING_STATES:
            return
        batch = self._batch
        if batch and (
            block.first_index != batch[-1].first_index + len(batch[-1])
            or block.sample_rate != batch[0].sample_rate
        ):
            self._hand_over_samples()  # a block is one run of consecutive samples
        self._batch.append(block)
        self._batch_samples += len(block)
        if self._batch_samples >= SAMPLE_BATCH_S * block.sample_rate:
            self._hand_over_samples()
        self.samples_recorded += len(block)
        step = self._step
        if step is not None:
            step.add(block)
            if not step.stored or step.samples - step.stored_samples >= PROGRESS_S * (
                block.sample_rate or 1.0
            ):
                self._store_step(step, {IN_PROGRESS: True})

    def close(self, outcome: Outcome) -> None:
        """End the open session (also used when the console closes mid-session)."""
        if self.session_uid is None:
            return
        self._hand_over_samples()
        self._finish_step(None if outcome is Outcome.COMPLETED else outcome)
        self.writer.end_session(self.session_uid, outcome)
        self.outcome = outcome
        self.last_session_uid = self.session_uid
        self.session_uid = None
        self.sessions_recorded += 1
        self._pre.clear()  # what was set up before belonged to this session

    # -- internals ------------------------------------------------------------

    def _hand_over_samples(self) -> None:
        batch = self._batch
        if not batch:
            return
        self._batch, self._batch_samples = [], 0
        if self.session_uid is None:
            return
        self.writer.add_samples(self.session_uid, joined(batch))

    def _open(self) -> None:
        self.session_uid = self.writer.begin_session(
            self.client_id,
            operator_id=self.operator_id,
            program=self.program_id,
            device_serial=self.device_serial,
            firmware=self.firmware,
            training=self.training,
        )
        if self.course_id is not None and not self.training:
            from app.store.courses import LinkCourseSession  # (SQLAlchemy: not at start-up)

            self.writer.submit(LinkCourseSession(self.session_uid, self.course_id))
        self.outcome = None
        self._steps_written = 0
        while self._pre:
            self._write_event(self._pre.popleft())
        if self._current is not None:  # the step current when output started
            self._step = _StepTotals(self._current, time.monotonic())

    def _keep_setup(self, record: SessionRecord) -> None:
        """A record made while no session records: kept if it is the coming session's
        set-up (:data:`SETUP_KINDS`), or the Start that opens it."""
        kind, pre = record.kind, self._pre
        if kind == "transition":
            if record.state == SessionState.RAMPING_UP.value:
                pre.append(record)  # the Start: its commands are before it
            else:  # a state change at idle: the commands sent before it were not a Start
                self._drop(lambda r: r.kind == "command")
                if record.state in _LATCHED:  # kept in the console's log, not a client's
                    log.warning(
                        "%s with no session under way (from %s): not in any client's record",
                        _LATCHED[record.state],
                        record.data.get("previous", "?"),
                    )
            return
        if kind == "client" and ("client_id" in record.data or record.message == "client cleared"):
            self._drop(lambda r: r.kind != "program")  # another client's set-up
        elif kind == "program":
            self._drop(lambda r: r.kind in _STEP_KINDS)  # the program before's steps
        if kind in SETUP_KINDS or kind == "command":
            pre.append(record)

    def _drop(self, which: Callable[[SessionRecord], bool]) -> None:
        kept = [r for r in self._pre if not which(r)]
        self._pre.clear()
        self._pre.extend(kept)

    def _write_event(self, record: SessionRecord) -> None:
        payload = {"state": record.state, "message": record.message}
        payload.update({k: _jsonable(v) for k, v in record.data.items()})
        self.writer.add_event(self.session_uid, record.kind, payload, timestamp=record.at)
        if record.kind == "zone_skipped":
            # a step skipped on an excluded zone is a step of the session, with no time
            # (skipped in the history and the report) and its reason
            d = record.data
            self.writer.add_step(
                self.session_uid,
                int(d.get("index", 0)),
                ",".join(str(z) for z in d.get("zones", ())) or "manual",
                {"step": str(d.get("name", "")), "skipped_reason": record.message},
                float(d.get("planned_s", 0.0)),
                0.0,
            )

    def _finish_step(self, ended_early: Outcome | None = None) -> None:
        """Write the current step's totals in the open session, once: ``ended_early``,
        the outcome of the session's end that cut it short."""
        step, self._step = self._step, None
        if step is None or self.session_uid is None or step.samples == 0:
            return
        self._store_step(step, {} if ended_early is None else {ENDED_EARLY: ended_early.value})
        self._steps_written += 1

    def _store_step(self, step: _StepTotals, marks: dict[str, Any]) -> None:
        """The step's row with its totals so far: added the first time, then updated."""
        assert self.session_uid is not None
        fs = step.sample_rate or 1.0
        mean_i = step.sum_abs_i / step.samples
        impedance = (step.sum_abs_v / step.sum_abs_i * 1e6) if step.sum_abs_i > 0 else None
        # actual_s is the time the output was on during the step (pauses, contact loss and
        # a skip do not count): done, partial and skipped are told apart from it
        # (app.engine.zones.step_outcome)
        totals = {
            "charge_uc": step.sum_i / fs,
            "mean_current_ua": mean_i,
            "mean_impedance_ohm": impedance,
            "charge_abs_uc": step.sum_abs_i / fs,
        }
        parameters = {**step.step.parameters, **marks}
        if step.stored:
            self.writer.update_step(
                self.session_uid,
                step.step.position,
                parameters,
                step.on_samples / fs,
                **totals,
            )
        else:
            self.writer.add_step(
                self.session_uid,
                step.step.position,
                step.step.zone,
                parameters,
                step.step.planned_s,
                step.on_samples / fs,
                **totals,
            )
        step.stored, step.stored_samples = True, step.samples


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if hasattr(value, "value"):
        return _jsonable(value.value)
    return str(value)
