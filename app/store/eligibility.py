"""A client's treatment eligibility, kept current from the store on its own thread. No Qt.

:class:`EligibilityWatch` reads the treatment gate (screening, consent, expiry, the
client's own limit: :func:`app.store.services.treatment_gate`) of the one client being
watched, every ``interval_s`` and at once when :meth:`poke` is called (the store writer's
commit listener pokes it after this room's writes; the interval catches other rooms').
Each reading goes to ``on_facts`` as :class:`ClientFacts`, from the watch's thread; the
output authority decides from the newest one and treats an old one as unknown.

A reading reads the record again only when the database may have changed
(:class:`app.store.stamp.DataVersion`: SQLite's change number, which moves with every
commit of another connection, this room's writer's or another room's). Unchanged, on the
same day (a screening expires by the day), the last facts are confirmed as they stand —
the same facts with a new ``checked_at`` — for at most ``FULL_READ_S``; then, after a
poke, a new client or a failed reading, the record is read in full. Elsewhere
(PostgreSQL) every reading is full.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.engine import Engine

from app.store.database import describe_error
from app.store.stamp import DataVersion
from app.store.vocabulary import ClientFacts
from app.threadname import name_os_thread

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 0.5
FULL_READ_S = 10.0  # the record read in full at least this often, the database unchanged


def read_facts(
    engine: Engine, client_id: int, *, clock: Callable[[], float] = time.monotonic
) -> ClientFacts:
    """Read ``client_id``'s facts now (any thread but the GUI's)."""
    from app.store.services import comfort_levels, get_client, treatment_gate

    now = clock()
    try:
        record = get_client(engine, client_id)  # read once: the gate decides from it
        if record is None:
            raise ValueError(f"client {client_id} does not exist")
        gate = treatment_gate(engine, client_id, record=record)
        comfort = comfort_levels(engine, client_id)
    except ValueError:
        return ClientFacts(
            client_id,
            "",
            False,
            "unknown",
            (),
            None,
            False,
            now,
            error=f"client {client_id} no longer exists",
        )
    except Exception as exc:  # noqa: BLE001 - any failure to read means "not known"
        log.warning("eligibility of client %s could not be read: %s", client_id, type(exc).__name__)
        return ClientFacts(
            client_id, "", False, "unknown", (), None, False, now, error=describe_error(exc)
        )
    return ClientFacts(
        client_id,
        record.name,
        gate.allowed,
        str(gate.status),
        tuple(gate.reasons),
        gate.current_limit_ua,
        gate.is_training,
        now,
        zone_rules=gate.zone_rules,
        comfort_ua=tuple(sorted(comfort.items())),
    )


class EligibilityWatch:
    """See the module docstring. ``on_facts`` is called from the watch's thread."""

    def __init__(
        self,
        engine: Engine,
        on_facts: Callable[[ClientFacts], None],
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
    ) -> None:
        self._engine = engine
        self._on_facts = on_facts
        self._interval_s = float(interval_s)
        self._lock = threading.Lock()
        self._client_id: int | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.full_reads = 0  # readings that read the record (the rest were confirmations)
        # the watch thread's own: the database's change number, the last full reading,
        # the stamp it was read under and when
        self._version = DataVersion(engine)
        self._last: ClientFacts | None = None
        self._last_stamp: tuple | None = None
        self._last_full = 0.0
        self._thread = threading.Thread(target=self._run, name="EligibilityWatch", daemon=True)
        self._thread.start()

    @property
    def client_id(self) -> int | None:
        with self._lock:
            return self._client_id

    def watch(self, client_id: int | None) -> None:
        """Watch ``client_id`` from now on (None: nobody); the first reading comes at once."""
        with self._lock:
            self._client_id = client_id
        self._wake.set()

    def poke(self) -> None:
        """Read again now (a record of this room was written)."""
        self._wake.set()

    def close(self, timeout: float = 2.0) -> bool:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        name_os_thread()
        try:
            self._loop()
        finally:
            self._version.close()

    def _loop(self) -> None:
        poked = True
        while not self._stop.is_set():
            if not poked:
                poked = self._wake.wait(self._interval_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            client_id = self.client_id
            if client_id is None:
                self._last = None
                poked = False
                continue
            facts = self._reading(client_id, full=poked)
            poked = False
            if self.client_id != client_id:  # changed while reading: read the new one
                poked = True
                continue
            try:
                self._on_facts(facts)
            except Exception:  # noqa: BLE001 - a broken listener must not stop the watch
                log.exception("eligibility listener failed")

    def _reading(self, client_id: int, *, full: bool) -> ClientFacts:
        """The facts now: the last ones confirmed if nothing can have changed, else read."""
        now = time.monotonic()
        stamp = self._stamp()  # before the reading: a commit after it changes the next
        last = self._last
        if (
            not full
            and stamp is not None
            and stamp == self._last_stamp
            and last is not None
            and last.client_id == client_id
            and not last.error
            and now - self._last_full < FULL_READ_S
        ):
            return dataclasses.replace(last, checked_at=now)
        facts = read_facts(self._engine, client_id)
        self.full_reads += 1
        self._last, self._last_stamp, self._last_full = facts, stamp, now
        return facts

    def _stamp(self) -> tuple | None:
        """(today, the database's change number); None where there is no such number."""
        version = self._version.read()
        return None if version is None else (dt.date.today(), version)
