"""The Qt face of the store's eligibility watch: readings arrive as a queued signal.

:class:`ClientWatch` runs an :class:`app.store.eligibility.EligibilityWatch` on its own
thread and re-emits each reading as ``facts_read(ClientFacts)``, which Qt queues to the
receiver's (GUI) thread. With the store's writer it also re-reads at once after this
room's writes of a client, a screening or a consent (or its withdrawal), so a change made
here reaches the output authority within one database read; another room's within
``interval_s``.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal
from sqlalchemy.engine import Engine

from app.store.eligibility import DEFAULT_INTERVAL_S, EligibilityWatch
from app.store.writer import (
    AddConsent,
    AddScreening,
    SaveClient,
    SaveComfort,
    StoreWriter,
    WithdrawConsent,
)

# The writes that can change a client's eligibility or own limit.
_CLIENT_WRITES = (SaveClient, AddScreening, AddConsent, WithdrawConsent, SaveComfort)


class ClientWatch(QObject):
    """See the module docstring. Close it (``close``) before the store's engine."""

    facts_read = Signal(object)  # ClientFacts, about twice a second and after each write

    def __init__(
        self,
        engine: Engine,
        writer: StoreWriter | None = None,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._watch = EligibilityWatch(engine, self.facts_read.emit, interval_s=interval_s)
        if writer is not None:
            writer.add_commit_listener(self._on_commit)

    @property
    def client_id(self) -> int | None:
        return self._watch.client_id

    def watch(self, client_id: int | None) -> None:
        self._watch.watch(client_id)

    def poke(self) -> None:
        self._watch.poke()

    def close(self, timeout: float = 2.0) -> bool:
        return self._watch.close(timeout)

    def _on_commit(self, requests: list[Any]) -> None:  # the writer's thread
        if any(isinstance(r, _CLIENT_WRITES) for r in requests):
            self._watch.poke()
