"""Reads off the GUI thread: each read runs on a short-lived thread and answers a Future.

The console's GUI thread never waits on the database, for writes (the writer thread) or
for reads (this). A read is a plain function of the engine — the services in
:mod:`app.store.services` — run by :func:`read_in_background`; its result (or exception)
arrives in the returned :class:`~concurrent.futures.Future`, which the Qt side turns into
a queued signal (app/ui/records/bridge.py). Long reads take a ``cancel`` event and stop
between chunks when it is set. No Qt here.

A thread per read, rather than a pool: reads follow a person's clicks (a few a second
at most), a thread costs far less than the read, and nothing is left running when the
reads are done.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from sqlalchemy.engine import Engine

T = TypeVar("T")


class ReadCancelled(Exception):
    """The read was cancelled before it finished (its result is not wanted any more)."""


def read_in_background(
    engine: Engine, fn: Callable[..., T], *args: Any, name: str = "StoreRead", **kwargs: Any
) -> Future[T]:
    """Run ``fn(engine, *args, **kwargs)`` on a new thread; the Future has its result.

    The thread lets go of ``fn`` and its arguments *before* it answers the Future: a
    caller that keeps them until the answer is delivered (app/ui/background.py does)
    releases them on its own thread, so a callable of a Qt widget (a bound method, a
    lambda over ``self``) is never destroyed on this one (Qt objects must be destroyed on
    their own thread: the console crashed on it)."""
    future: Future[T] = Future()
    job: list[Any] = [fn, args, kwargs]

    def run() -> None:
        call, call_args, call_kwargs = job
        job.clear()
        if not future.set_running_or_notify_cancel():
            return
        try:
            result: T = call(engine, *call_args, **call_kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on it
            del call, call_args, call_kwargs
            future.set_exception(exc)
            return
        del call, call_args, call_kwargs
        future.set_result(result)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future
