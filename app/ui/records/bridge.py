"""The records widgets' link to the store: reads on demand, writes via the writer thread.

``RecordsStore`` hands every write to :class:`app.store.writer.StoreWriter` (the GUI
never waits) and delivers the result back on the GUI thread through a queued signal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot
from sqlalchemy import Engine

from app.store.database import user_message
from app.store.screening import Questionnaire, load_questionnaire
from app.store.writer import StoreWriter


class RecordsStore(QObject):
    """Engine + writer for the widgets. ``error_occurred(str)``: a store problem, in words."""

    error_occurred = Signal(str)
    records_changed = Signal()  # a write of the records widgets was committed
    _completed = Signal(object)  # (callback, future), emitted from the writer thread

    def __init__(self, engine: Engine, writer: StoreWriter, operator_id: int | None = None,
                 questionnaire: Questionnaire | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.writer = writer
        self.operator_id = operator_id
        self.questionnaire = questionnaire or load_questionnaire()
        self._completed.connect(self._deliver)

    def when_done(self, future: Future, on_result: Callable[[Any], None] | None = None,
                  what: str = "saving",
                  on_error: Callable[[BaseException], None] | None = None) -> None:
        """Call ``on_result(result)`` on the GUI thread once ``future`` is committed;
        a failure is emitted as ``error_occurred`` (and given to ``on_error``)."""
        def done(f: Future) -> None:
            # RuntimeError: the widgets were closed before the write finished
            with contextlib.suppress(RuntimeError):
                self._completed.emit((on_result, what, f, on_error))

        future.add_done_callback(done)

    @Slot(object)
    def _deliver(self, item: tuple) -> None:
        on_result, what, future, on_error = item
        exc = future.exception()
        if exc is not None:
            # in words: never the SQL or the record's values (the detail is in the log)
            self.error_occurred.emit(f"Error while {what}: {user_message(exc, self.engine.url)}")
            if on_error is not None:
                on_error(exc)
            return
        self.records_changed.emit()
        if on_result is not None:
            on_result(future.result())
