"""The records widgets' link to the store: reads and writes off the GUI thread.

``RecordsStore`` hands every write to :class:`app.store.writer.StoreWriter` and every
read to a background read (:func:`app.store.reader.read_in_background`); the GUI never
waits on the database, and each result comes back on the GUI thread through a queued
signal. A read whose answer is no longer wanted (another client chosen meanwhile) is
dropped by its ``key``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from sqlalchemy import Engine

from app.store.database import StaleRecordError, user_message
from app.store.screening import Questionnaire, load_questionnaire
from app.store.writer import StoreWriter
from app.ui.background import BackgroundReads, _alive

POLL_MS = 3000  # how often another room's changes are looked for
# the writes the records views show (client list, history, editor, screening)
_SHOWN = frozenset(
    {
        "SaveClient",
        "AddScreening",
        "AddConsent",
        "WithdrawConsent",
        "AddNote",
        "BeginSession",
        "EndSession",
        "AddStep",
        "SignSession",
        "AmendSession",
        "AddPhoto",
        "DeletePhoto",
        "SaveCourse",
        "LinkCourseSession",
    }
)


class RecordsStore(QObject):
    """Engine + writer for the widgets. ``error_occurred(str)``: a store problem, in words."""

    error_occurred = Signal(str)
    # the records changed: a write of this room (the widgets', a session's) was committed,
    # or another room's was seen; the views showing them read again
    records_changed = Signal()
    _completed = Signal(object)  # (callback, future), emitted from the writer thread
    _committed = Signal()  # this room's writer committed something the views show

    def __init__(
        self,
        engine: Engine,
        writer: StoreWriter,
        operator_id: int | None = None,
        questionnaire: Questionnaire | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.engine = engine
        self.writer = writer
        # None: whoever is signed in (the store's OperatorContext, which the writer holds:
        # it names them on every write); an id: that operator (tests, tools)
        self._operator_id = operator_id
        self._context = getattr(writer, "operators", None)
        # the printed name a signature offers for an explicit or default operator (read
        # below); the operator signed in gives their own
        self._operator_name: str | None = None
        self.questionnaire = questionnaire or load_questionnaire()
        self._completed.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self._reads = BackgroundReads(engine, self)
        self._reads.failed.connect(self.error_occurred)
        # one refresh for a burst of changes (a session writes many rows)
        self._changed = QTimer(
            self, singleShot=True, interval=300, timeout=self.records_changed.emit
        )
        # queued: emitted from the writer's thread, the timer starts in this one (a slot
        # of this object, not the timer's overloaded start(): PySide makes that a bare
        # functor, whose thread is not this object's by construction)
        self._committed.connect(self._restart_changed, Qt.ConnectionType.QueuedConnection)
        writer.add_commit_listener(self._on_commit)
        # other rooms: a fingerprint of the records, read in the background every few s
        self._stamp: tuple | None = None
        self._poll = QTimer(self, interval=POLL_MS, timeout=self._check_other_rooms)
        self._poll.start()
        self._check_other_rooms()  # the baseline
        default = operator_id if operator_id is not None else self._default_id()
        if default is not None:
            self._read_operator_name(default)

    def _default_id(self) -> int | None:
        ctx = self._context
        return None if ctx is None else ctx.default_id

    @property
    def operator_id(self) -> int | None:
        """The operator a write names: None lets the store's writer name the one signed
        in (or the default operator when nobody is)."""
        return self._operator_id

    @property
    def operator_name(self) -> str | None:
        """The printed name a signature offers: the operator signed in, else the one
        given (or the default operator's, as read)."""
        ctx = self._context
        who = ctx.current if ctx is not None and self._operator_id is None else None
        return who.name if who is not None else self._operator_name

    @operator_name.setter
    def operator_name(self, name: str | None) -> None:
        self._operator_name = name

    def set_operator(self, operator_id: int | None, name: str | None) -> None:
        """An explicit operator for this store's writes and signatures (tools, tests);
        the console leaves it None: the operator signed in."""
        self._operator_id = operator_id
        self._operator_name = name

    def _read_operator_name(self, operator_id: int) -> None:
        from app.store.services import operator_name

        def got(name: str | None) -> None:
            if self._operator_id in (None, operator_id):
                self._operator_name = name

        self._reads.read(
            operator_name, operator_id, on_result=got, what="reading the operator's name"
        )

    @Slot()
    def _restart_changed(self) -> None:
        self._changed.start()

    def _on_commit(self, requests: list) -> None:  # the writer's thread
        if any(type(r).__name__ in _SHOWN for r in requests):
            with contextlib.suppress(RuntimeError):  # the widgets are gone
                self._committed.emit()

    def _check_other_rooms(self) -> None:
        from app.store.services import change_stamp

        self._reads.read(
            change_stamp,
            on_result=self._stamp_read,
            what="checking the records",
            key="change_stamp",
        )

    def _stamp_read(self, stamp: tuple) -> None:
        if self._stamp is not None and stamp != self._stamp:
            self._changed.start()
        self._stamp = stamp

    def read(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_result: Callable[[Any], None],
        what: str = "reading the records",
        key: str | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        cancellable: bool = False,
    ) -> Future:
        """Run ``fn(engine, *args)`` off the GUI thread; ``on_result(result)`` follows on
        the GUI thread (app.ui.background.BackgroundReads)."""
        return self._reads.read(
            fn,
            *args,
            on_result=on_result,
            what=what,
            key=key,
            on_error=on_error,
            cancellable=cancellable,
        )

    def when_done(
        self,
        future: Future,
        on_result: Callable[[Any], None] | None = None,
        what: str = "saving",
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Call ``on_result(result)`` on the GUI thread once ``future`` is committed;
        a failure is emitted as ``error_occurred`` (and given to ``on_error``)."""

        # the callbacks (methods of widgets, lambdas over them) travel in a box that the
        # GUI thread empties: the writer's thread never holds the last reference to one
        # (a widget destroyed off its thread crashes Qt; see app/ui/background.py)
        held: list[Any] = [(on_result, on_error)]

        def done(f: Future) -> None:
            box = [(what, f, held.pop())]
            # RuntimeError: the widgets were closed before the write finished
            with contextlib.suppress(RuntimeError):
                self._completed.emit(box)

        future.add_done_callback(done)

    def audit(self, action: str, subject: str, details: dict[str, Any] | None = None) -> Future:
        """Append an audit trail entry (a view, a report, an export) through the writer;
        never waits. A failure is shown like any store problem."""
        future = self.writer.audit(action, subject, details, operator_id=self.operator_id)

        def done(f: Future) -> None:  # the writer's thread: a queued signal to the GUI
            exc = f.exception()
            if exc is not None:
                with contextlib.suppress(RuntimeError):
                    self.error_occurred.emit(
                        "The audit trail could not record this "
                        f"{action.replace('_', ' ')}: "
                        f"{user_message(exc, self.engine.url)}"
                    )

        future.add_done_callback(done)
        return future

    @Slot(object)
    def _deliver(self, box: list) -> None:
        what, future, (on_result, on_error) = box.pop()
        if on_result is not None and not _alive(on_result):
            on_result = None  # the widget that saved is gone: the views still hear of it
        if on_error is not None and not _alive(on_error):
            on_error = None
        exc = future.exception()
        if exc is not None:
            if isinstance(exc, StaleRecordError) and on_error is not None:
                # another room saved first: the widget that saved says so beside what it
                # shows and offers a reload; not a failure of the records (no banner)
                on_error(exc)
                return
            # in words: never the SQL or the record's values (the detail is in the log)
            self.error_occurred.emit(f"Error while {what}: {user_message(exc, self.engine.url)}")
            if on_error is not None:
                on_error(exc)
            return
        self.records_changed.emit()
        if on_result is not None:
            on_result(future.result())
