"""What the console (or a headless run) calls to use the store. No Qt.

store = start_store(args.database_url, on_error=signal.emit)   # StoreError → message
rec = store.recorder(client_id, program="Lift & tone", device_serial=..., firmware=...)
rec.event("state", {"to": "running"}); rec.samples(block); rec.step(...)
rec.end(Outcome.COMPLETED)
store.close()
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from app.device.samples import SampleBlock
from app.store.database import StoreInfo, open_store
from app.store.models import Outcome
from app.store.operators import OperatorContext
from app.store.writer import StoreWriter


class SessionWrites:
    """One session's raw writes, bound to its uid, for tools, benchmarks and tests that
    write a session directly. Every call returns at once. (The console's sessions — desk,
    ``run`` and studio alike — are recorded by the one
    :class:`app.engine.recorder.SessionRecorder`, which keeps their life cycle.)"""

    def __init__(self, writer: StoreWriter, uid: str) -> None:
        self.writer = writer
        self.uid = uid
        self._steps = 0
        self.ended = False

    def event(
        self, kind: str, payload: dict[str, Any] | None = None, timestamp: dt.datetime | None = None
    ) -> Future:
        return self.writer.add_event(self.uid, kind, payload, timestamp)

    def samples(self, block: SampleBlock) -> Future:
        return self.writer.add_samples(self.uid, block)

    def step(
        self,
        zone: str,
        parameters: dict[str, Any],
        planned_s: float,
        actual_s: float,
        *,
        charge_uc: float | None = None,
        mean_current_ua: float | None = None,
        mean_impedance_ohm: float | None = None,
        charge_abs_uc: float | None = None,
    ) -> Future:
        position = self._steps
        self._steps += 1
        return self.writer.add_step(
            self.uid,
            position,
            zone,
            parameters,
            planned_s,
            actual_s,
            charge_uc=charge_uc,
            mean_current_ua=mean_current_ua,
            mean_impedance_ohm=mean_impedance_ohm,
            charge_abs_uc=charge_abs_uc,
        )

    def end(self, outcome: Outcome | str, ended_at: dt.datetime | None = None) -> Future:
        self.ended = True
        return self.writer.end_session(self.uid, outcome, ended_at)


@dataclass
class RunningStore:
    """An open store: engine for reads, the writer thread for writes, start-up facts,
    and who is signed in (``operators``: every write naming nobody names them)."""

    engine: Engine
    info: StoreInfo
    writer: StoreWriter
    recorders: list[SessionWrites] = field(default_factory=list)
    operators: OperatorContext = field(default_factory=OperatorContext)

    def __post_init__(self) -> None:
        if self.operators.default_id is None:
            self.operators.default_id = self.info.default_operator_id
        self.writer.operators = self.operators

    def recorder(
        self,
        client_id: int,
        *,
        operator_id: int | None = None,
        program: str = "",
        device_serial: str = "",
        firmware: str = "",
        training: bool | None = None,
    ) -> SessionWrites:
        uid = self.writer.begin_session(
            client_id,
            operator_id=operator_id or self.operators.current_id,
            program=program,
            device_serial=device_serial,
            firmware=firmware,
            training=training,
        )
        rec = SessionWrites(self.writer, uid)
        self.recorders.append(rec)
        return rec

    def close(self, timeout: float = 5.0) -> bool:
        """Write what is queued and stop the writer. Sessions not ended stay open and are
        marked interrupted at the next start. False if writes were lost: abandoned at
        close, or refused on their own during the run (``writer.refused``)."""
        ok = self.writer.close(timeout)
        self.engine.dispose()
        return ok and not self.writer.refused


def start_store(
    url: str | None = None, on_error: Callable[[str], None] | None = None
) -> RunningStore:
    """Open (migrate, recover, seed) and start the writer. Raises StoreError."""
    engine, info = open_store(url)
    return RunningStore(engine, info, StoreWriter(engine, on_error))
