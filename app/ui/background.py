"""Database reads for the widgets, off the GUI thread, answered on it.

:class:`BackgroundReads` runs a store read (:func:`app.store.reader.read_in_background`)
and calls ``on_result`` on the GUI thread through a queued signal; a failure is emitted as
``failed(message)`` in words (never SQL or values). With ``key``, only the newest read of
that key is delivered: a slow answer about a client no longer shown is dropped.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal, Slot
from sqlalchemy.engine import Engine

from app.store.database import user_message
from app.store.reader import ReadCancelled, read_in_background


class BackgroundReads(QObject):
    """See the module docstring."""

    failed = Signal(str)
    _done = Signal(object)

    def __init__(self, engine: Engine, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self._latest: dict[str, object] = {}
        self._cancels: dict[str, threading.Event] = {}
        # queued even when the read is over before its callback is added (then the signal
        # is emitted from this thread): an answer always comes after read() returned
        self._done.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

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
        the GUI thread. ``cancellable``: ``fn`` takes ``cancel`` (a threading.Event it
        checks between chunks); a newer read of the same ``key``, or :meth:`cancel`,
        sets it, so a long read nobody wants any more stops early."""
        token = object()
        kwargs: dict[str, Any] = {}
        if key is not None:
            self._latest[key] = token
            self.cancel(key)
            if cancellable:
                kwargs["cancel"] = self._cancels[key] = threading.Event()
        future = read_in_background(self.engine, fn, *args, **kwargs)
        # What the caller gave (the read and its answers: often methods of widgets, or
        # lambdas over them) travels with the answer and is let go of on the GUI thread:
        # the reading thread, which ends on its own time, never holds the last reference
        # (a widget destroyed off its thread: Qt's timers warn, then the process crashes).
        # The answer goes in a box the GUI thread empties: this thread keeps no reference
        # of its own to it, whichever of the two is done with it first.
        held: list[Any] = [(on_result, on_error, fn, args)]

        def done(f: Future) -> None:
            box = [(key, token, what, f, held.pop())]
            with contextlib.suppress(RuntimeError):  # the widgets are gone
                self._done.emit(box)

        future.add_done_callback(done)
        return future

    def cancel(self, key: str) -> None:
        """Stop the long read of ``key`` under way, if any (its answer is dropped)."""
        event = self._cancels.pop(key, None)
        if event is not None:
            event.set()

    @Slot(object)
    def _deliver(self, box: list) -> None:
        key, token, what, future, (on_result, on_error, _fn, _args) = box.pop()
        if key is not None and self._latest.get(key) is not token:
            return  # a newer read of the same thing was asked for
        if future.cancelled() or isinstance(future.exception(), ReadCancelled):
            return
        if not _alive(on_result) or (on_error is not None and not _alive(on_error)):
            return  # the widget that asked is gone (closed while the read ran)
        exc = future.exception()
        if exc is not None:
            self.failed.emit(f"Error while {what}: {user_message(exc, self.engine.url)}")
            if on_error is not None:
                on_error(exc)
            return
        on_result(future.result())


def _alive(callback: Callable[..., Any]) -> bool:
    """False when ``callback`` belongs to a Qt object already deleted: a method of one, a
    ``functools.partial`` of such a method, or a function (a lambda) that holds one in
    its closure (``lambda infos: self._show(infos)`` of a closed widget)."""
    func = getattr(callback, "func", callback)  # functools.partial
    owner = getattr(func, "__self__", None)
    if isinstance(owner, QObject) and not shiboken6.isValid(owner):
        return False
    for cell in getattr(func, "__closure__", None) or ():
        try:
            held = cell.cell_contents
        except ValueError:  # a cell not filled yet
            continue
        if isinstance(held, QObject) and not shiboken6.isValid(held):
            return False
    return True
