"""A small sequencer that runs bench procedures (calibration, self-test) over a DeviceLink.

Procedures command the device only through an :class:`~app.engine.authority.OutputPort`
of the output authority (the bench's, with the procedure's declared maximum as its own
limit layer): a procedure that needs more current than the live limits allow is refused
before it starts, and every SET_OUTPUT it sends is clamped like any other.

A procedure is a plain Python generator that yields *operations* (send a command and wait
for its answer, wait for a STATUS, collect samples, wait) and receives each operation's
result back. :class:`ProcedureRunner` drives it from the link's signals in the owner's
(GUI) thread: nothing blocks, nothing sleeps, every wait has a timeout. When a procedure
fails or is aborted the runner makes the output safe (ESTOP, then RESET, and the
simulator's skin load back) before it reports.

Only QtCore is used; the operations and :class:`Collected` are plain data.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from app.device.protocol import Ack, Nak, NakReason, SimOp, Status
from app.device.samples import SampleBlock
from app.engine.authority import Driver, OutputAuthority, OutputPort, OutputRefused


class ProcedureError(Exception):
    """A step of a procedure could not be done; the message says which and why."""


# --------------------------------------------------------------------------- operations


@dataclass(frozen=True, slots=True)
class Send:
    """Send a command (``issue(port)`` returns its request id) and wait for ACK or NAK.

    Result: :class:`Answer`. A NAK fails the procedure unless its reason is in
    ``accept``; no answer fails it always.
    """

    issue: Callable[[OutputPort], int | None]
    what: str
    accept: tuple[NakReason, ...] = ()


@dataclass(frozen=True, slots=True)
class Answer:
    reply: Ack | Nak
    elapsed_s: float  # from queueing the command to its answer

    @property
    def ok(self) -> bool:
        return isinstance(self.reply, Ack)


@dataclass(frozen=True, slots=True)
class WaitStatus:
    """Wait for a STATUS satisfying ``predicate``. Result: ``(Status, elapsed_s)``."""

    predicate: Callable[[Status], bool]
    timeout_s: float
    what: str


@dataclass(frozen=True, slots=True)
class Collect:
    """Collect ``seconds`` of samples (by sample count). Result: :class:`Collected`."""

    seconds: float
    timeout_s: float = 3.0


@dataclass(frozen=True, slots=True)
class Pause:
    """Let ``seconds`` pass (the link keeps running). Result: None."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Collected:
    """Samples gathered by :class:`Collect`, concatenated (fresh arrays)."""

    sample_rate: float
    current_ua: np.ndarray
    voltage_v: np.ndarray
    level_ua: np.ndarray
    flags: np.ndarray

    @classmethod
    def from_blocks(cls, blocks: list[SampleBlock], rate: float) -> Collected:
        if not blocks:
            empty = np.zeros(0, dtype=np.float32)
            return cls(rate, empty, empty.copy(), empty.copy(), np.zeros(0, dtype=np.uint8))
        return cls(
            rate,
            np.concatenate([b.current_ua for b in blocks]),
            np.concatenate([b.voltage_v for b in blocks]),
            np.concatenate([b.level_ua for b in blocks]),
            np.concatenate([b.flags for b in blocks]),
        )

    def __len__(self) -> int:
        return int(self.current_ua.shape[0])


Operation = Send | WaitStatus | Collect | Pause
# A procedure yields operations and is sent each one's result (Answer, (Status, s),
# Collected or None, by operation): typed Any, as the generator protocol cannot say which.
Procedure = Generator[Operation, Any, Any]


# --------------------------------------------------------------------------- runner


class ProcedureRunner(QObject):
    """Runs one procedure at a time over a DeviceLink (or anything with its signals)."""

    progressed = Signal(str)  # a line for the technician: what is being done now
    finished = Signal(object)  # the procedure's return value
    failed = Signal(str)  # why it stopped (output has been made safe)

    def __init__(self, link: object | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._link: Any = None  # the DeviceLink whose signals the runner follows
        self._authority: OutputAuthority | None = None
        self._port: OutputPort | None = None
        self._gen: Procedure | None = None
        self._op: Operation | None = None
        self._op_started = 0.0
        self._rid: int | None = None
        self._blocks: list[SampleBlock] = []
        self._collected_s = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._on_timeout)
        self.set_link(link)

    # -- public ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._gen is not None

    @property
    def link(self):
        return self._link

    def set_link(self, link: object | None) -> None:
        """Use another link (after a reconnect); a running procedure is aborted."""
        if self.running:
            self._fail("the device link was replaced", safe_stop=False)
        if self._link is not None:
            with contextlib.suppress(RuntimeError):  # the old link may already be deleted
                for sig, slot in self._connections():
                    sig.disconnect(slot)
        self._link = link
        if link is not None:
            for sig, slot in self._connections():
                sig.connect(slot)

    def set_authority(self, authority: OutputAuthority | None) -> None:
        """The output authority the procedures ask for output (the bench's driver)."""
        self._authority = authority

    def run(self, procedure: Procedure, *, max_ua: float, label: str = "") -> None:
        """Run ``procedure``, which never asks for more than ``max_ua`` (its declared
        maximum): refused at once if the live limits do not allow that much."""
        if self.running:
            raise RuntimeError("a procedure is already running")
        problem = None
        if self._link is None or not getattr(self._link, "is_connected", False):
            problem = "the device is not connected"
        elif self._authority is None:
            problem = "no output authority: the device cannot be commanded"
        else:
            label = label or "procedure maximum"
            port = self._authority.port(Driver.BENCH, ceiling_ua=max_ua, label=label)
            refused = self._authority.problem(Driver.BENCH)
            ceiling = port.ceiling()
            if refused is not None:
                problem = refused
            elif max_ua > ceiling.ceiling_ua + 1e-9:
                problem = (
                    f"it needs {max_ua:g} µA but the {ceiling.layer_label} allows "
                    f"{ceiling.ceiling_ua:g} µA"
                )
            else:
                self._port = port
        if problem is not None:
            self.failed.emit(problem)
            procedure.close()
            return
        self._gen = procedure
        self._advance(None)

    def abort(self, reason: str = "aborted by the technician", *, safe_stop: bool = True) -> None:
        """Stop the procedure. ``safe_stop`` False: the output was already stopped by
        someone else (an operator's emergency stop), whose latch must stay: no RESET."""
        if self.running:
            self._fail(reason, safe_stop=safe_stop)

    # -- plumbing -------------------------------------------------------------------------

    def _connections(self):
        link = self._link
        return [
            (link.command_answered, self._on_answer),
            (link.command_failed, self._on_command_failed),
            (link.status_received, self._on_status),
            (link.samples_received, self._on_samples),
            (link.disconnected, self._on_disconnected),
        ]

    def _advance(self, value: object = None, *, error: Exception | None = None) -> None:
        gen = self._gen
        if gen is None:
            return
        self._timer.stop()
        self._op = None
        self._rid = None
        try:
            op = gen.throw(error) if error is not None else gen.send(value)
        except StopIteration as done:
            self._gen = None
            self._port = None
            self.finished.emit(done.value)
            return
        except ProcedureError as exc:
            self._fail(str(exc), close=False)
            return
        except Exception as exc:  # noqa: BLE001 - reported to the technician, output made safe
            self._fail(f"internal error in the procedure: {type(exc).__name__}: {exc}", close=False)
            return
        self._begin(op)

    def _begin(self, op: Operation) -> None:
        self._op = op
        self._op_started = time.monotonic()
        if isinstance(op, Send):
            self.progressed.emit(op.what)
            assert self._port is not None  # run() set it before the first operation
            try:
                self._rid = op.issue(self._port)
            except OutputRefused as exc:
                self._advance(error=ProcedureError(f"{op.what} — {exc}"))
                return
            self._timer.start(3000)  # the link itself answers within 0.5 s
        elif isinstance(op, WaitStatus):
            self._timer.start(max(1, int(op.timeout_s * 1000)))
        elif isinstance(op, Collect):
            self._blocks = []
            self._collected_s = 0.0
            self._timer.start(max(1, int((op.seconds + op.timeout_s) * 1000)))
        elif isinstance(op, Pause):
            self._timer.start(max(0, int(op.seconds * 1000)))
        else:
            self._advance(error=ProcedureError(f"unknown operation {op!r}"))

    def _fail(self, reason: str, *, safe_stop: bool = True, close: bool = True) -> None:
        gen, self._gen = self._gen, None
        self._timer.stop()
        self._op = None
        self._rid = None
        if gen is not None and close:
            gen.close()
        port, self._port = self._port, None
        if safe_stop and port is not None and port.is_connected:
            port.estop()  # output off at once, whatever the procedure was doing
            port.reset()
            port.sim_control(SimOp.LOAD_SKIN, 0.0)
            reason += " — output switched off (ESTOP, then RESET)"
        self.failed.emit(reason)

    # -- link signals ---------------------------------------------------------------------

    @Slot(int, object)
    def _on_answer(self, rid: int, reply: object) -> None:
        op = self._op
        if not isinstance(op, Send) or rid != self._rid:
            return
        answer = Answer(reply, time.monotonic() - self._op_started)  # type: ignore[arg-type]
        if isinstance(reply, Nak) and reply.reason not in op.accept:
            detail = f": {reply.detail}" if reply.detail else ""
            self._advance(
                error=ProcedureError(
                    f"{op.what} — the device refused ({reply.reason.text}{detail})"
                )
            )
            return
        self._advance(answer)

    @Slot(int, str)
    def _on_command_failed(self, rid: int, reason: str) -> None:
        op = self._op
        if isinstance(op, Send) and rid == self._rid:
            self._advance(error=ProcedureError(f"{op.what} — {reason}"))

    @Slot(object)
    def _on_status(self, status: Status) -> None:
        op = self._op
        if isinstance(op, WaitStatus) and op.predicate(status):
            self._advance((status, time.monotonic() - self._op_started))

    @Slot(object)
    def _on_samples(self, block: SampleBlock) -> None:
        op = self._op
        if not isinstance(op, Collect):
            return
        self._blocks.append(block)
        self._collected_s += len(block) / block.sample_rate
        if self._collected_s >= op.seconds:
            self._advance(Collected.from_blocks(self._blocks, block.sample_rate))

    @Slot(str)
    def _on_disconnected(self, reason: str) -> None:
        if self.running:
            self._fail(f"the device link was lost: {reason}", safe_stop=False)

    @Slot()
    def _on_timeout(self) -> None:
        op = self._op
        if isinstance(op, Pause):
            self._advance(None)
        elif isinstance(op, Send):
            self._advance(error=ProcedureError(f"{op.what} — no answer from the device"))
        elif isinstance(op, WaitStatus):
            self._advance(error=ProcedureError(f"{op.what} — not seen within {op.timeout_s:g} s"))
        elif isinstance(op, Collect):
            self._advance(
                error=ProcedureError(
                    f"no samples from the device for {op.seconds + op.timeout_s:g} s "
                    f"(got {self._collected_s:.2f} s of {op.seconds:g} s)"
                )
            )


def finite(x: float) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)
