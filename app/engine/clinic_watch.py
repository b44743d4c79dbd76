"""The Qt face of the store's clinic watch: each new reading arrives as a queued signal.

:class:`ClinicSettingsWatch` runs an :class:`app.store.clinic.ClinicWatch` on its own
thread (never the GUI's): it reads the shared clinic row about once a second, at once
after this room's clinic writes (a writer commit listener), and emits
``record_read(ClinicRecord)`` whenever the settings or the PIN changed — Qt queues it to
the receiver's thread. The output authority follows it
(:meth:`app.engine.authority.OutputAuthority.follow_clinic`): the clinic's limits reach
every output path — the console's and ``run``'s — from this one reading.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from sqlalchemy.engine import Engine

from app.store.clinic import POLL_S, ClinicWatch
from app.store.writer import StoreWriter


class ClinicSettingsWatch(QObject):
    """See the module docstring. Close it (``close``) before the store's engine."""

    record_read = Signal(object)  # app.store.clinic.ClinicRecord
    read_failed = Signal(str)

    def __init__(
        self,
        engine: Engine,
        writer: StoreWriter | None = None,
        *,
        interval_s: float = POLL_S,
        parent: QObject | None = None,
        on_record: Callable[[Any], None] | None = None,
    ) -> None:
        """``on_record`` is connected to ``record_read`` before the first reading (which
        comes at once, from the watch's thread)."""
        super().__init__(parent)
        if on_record is not None:
            self.record_read.connect(on_record)
        self._latest: Any = None
        self._watch = ClinicWatch(engine, self._read, self.read_failed.emit, interval_s=interval_s)
        if writer is not None:
            writer.add_commit_listener(self._watch.on_commit)

    @property
    def latest(self) -> Any:
        """The newest reading (None until the first): for a receiver connected after it
        was emitted (the first comes at once, from the watch's thread)."""
        return self._latest

    def _read(self, record: Any) -> None:  # the watch's thread
        self._latest = record  # before the signal: a receiver that missed it finds it here
        self.record_read.emit(record)

    def poke(self) -> None:
        self._watch.poke()

    def close(self, timeout: float = 2.0) -> bool:
        return self._watch.close(timeout)
