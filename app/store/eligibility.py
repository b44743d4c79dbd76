"""A client's treatment eligibility, kept current from the store on its own thread. No Qt.

:class:`EligibilityWatch` reads the treatment gate (screening, consent, expiry, the
client's own limit: :func:`app.store.services.treatment_gate`) of the one client being
watched, every ``interval_s`` and at once when :meth:`poke` is called (the store writer's
commit listener pokes it after this room's writes; the interval catches other rooms').
Each reading goes to ``on_facts`` as :class:`ClientFacts`, from the watch's thread; the
output authority decides from the newest one and treats an old one as unknown.

The GUI thread never reads the database for this: it only names the client to watch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.engine import Engine

from app.store.database import describe_error
from app.store.vocabulary import ClientFacts

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 0.5


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
        while not self._stop.is_set():
            self._wake.wait(self._interval_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            client_id = self.client_id
            if client_id is None:
                continue
            facts = read_facts(self._engine, client_id)
            if self.client_id != client_id:  # changed while reading: read the new one
                self._wake.set()
                continue
            try:
                self._on_facts(facts)
            except Exception:  # noqa: BLE001 - a broken listener must not stop the watch
                log.exception("eligibility listener failed")
