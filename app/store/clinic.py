"""The clinic's settings, the technician PIN hash and its lockout, kept in the store. No Qt.

One row (``clinic_config``, id 1) is shared by every console on the store: two rooms on
one PostgreSQL, or two processes on one SQLite file, read the same values. Every change
goes through the store's writer as a request below and leaves a service record (who:
the operator id and the console's host; when; old → new). The settings are stored as the
engine's ``ClinicSettings`` in a JSON object (``app.service.clinic_limits`` converts and
checks them: the store does not import the engine).

The PIN: only its salted scrypt hash is stored, with ``pin_ever_set`` (true once a PIN
was set, until ``python -m app db reset-pin``) and ``pin_failures`` (wrong PINs in a row).
Every attempt is counted in the store *before* the PIN is checked
(:class:`CountPinAttempt`), so an attempt that cannot be recorded is never checked: with
an unwritable store no restart gives fresh tries. The lockout is derived from that count
(see ``app.service.pin``), never from a stored wall-clock time.

:class:`ClinicWatch` reads the row on its own thread about once a second (and at once
after this room's writes) and reports each new version.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.store import audit
from app.store.models import ClinicConfig, ServiceKind, ServiceRecord, utcnow
from app.store.stamp import DataVersion
from app.threadname import name_os_thread

log = logging.getLogger(__name__)

ROW_ID = 1
POLL_S = 1.0
FULL_READ_S = 30.0  # the row read at least this often, the database unchanged
RESET_PIN_COMMAND = "python -m app db reset-pin"


def who() -> str:
    """The console that makes a change (its host name)."""
    return socket.gethostname()


@dataclass(frozen=True, slots=True)
class ClinicRecord:
    """One reading of the clinic row (``exists`` False: the store never had one)."""

    exists: bool
    settings: dict[str, Any]
    version: int
    updated_at: dt.datetime | None
    updated_by: str | None
    pin_hash: str | None
    pin_ever_set: bool
    pin_failures: int
    pin_version: int

    @property
    def pin_setup_allowed(self) -> bool:
        """A new PIN may be chosen without the current one: only on a store that never
        had one (or after ``db reset-pin``)."""
        return not self.pin_hash and not self.pin_ever_set

    @property
    def pin_missing(self) -> bool:
        """A PIN was set but its hash is gone: only ``db reset-pin`` helps."""
        return not self.pin_hash and self.pin_ever_set


MISSING = ClinicRecord(False, {}, 0, None, None, None, False, 0, 0)


def _record(row: ClinicConfig | None, ever_set_by_history: bool = False) -> ClinicRecord:
    if row is None:
        return ClinicRecord(False, {}, 0, None, None, None, ever_set_by_history, 0, 0)
    return ClinicRecord(
        True,
        dict(row.settings or {}),
        row.version,
        row.updated_at,
        row.updated_by,
        row.pin_hash,
        bool(row.pin_ever_set),
        max(0, int(row.pin_failures or 0)),
        int(row.pin_version or 0),
    )


def _pin_history_says_set(s: Session) -> bool:
    """The service history shows a PIN set (and not reset since): the row was deleted."""
    last = s.scalar(
        select(ServiceRecord)
        .where(ServiceRecord.kind == ServiceKind.PIN)
        .order_by(ServiceRecord.id.desc())
        .limit(1)
    )
    return last is not None and (last.payload or {}).get("action") != "reset"


def read_clinic(engine: Engine) -> ClinicRecord:
    """The clinic row as it is now (any thread; a short session of its own)."""
    with Session(engine) as s:
        row = s.get(ClinicConfig, ROW_ID)
        return _record(row, row is None and _pin_history_says_set(s))


def _service(
    s: Session, kind: ServiceKind, payload: dict[str, Any], operator_id: int | None, by: str
) -> None:
    s.add(
        ServiceRecord(
            kind=kind,
            device_serial="",
            firmware="",
            passed=None,
            payload={**payload, "by": by},
            at=utcnow(),
            operator_id=operator_id,
        )
    )


def _row(s: Session, by: str) -> ClinicConfig:
    """The row, created with default settings if it is missing (its PIN flag taken from the
    service history, so deleting the row does not allow a fresh PIN set-up); created by
    the one race-free insert (:func:`_insert_row_if_missing`)."""
    row = s.get(ClinicConfig, ROW_ID)
    if row is None:
        _insert_row_if_missing(s, by)
        row = s.get(ClinicConfig, ROW_ID)
        assert row is not None  # inserted here, or by another room meanwhile
    return row


def _insert_row_if_missing(s: Session, by: str) -> bool:
    """Create the row with default settings unless it exists (one statement: of two rooms
    creating it at once, one inserts and the other's insert does nothing). True when this
    one created it."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = s.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    result = s.execute(
        insert(ClinicConfig)
        .values(
            id=ROW_ID,
            settings={},
            version=1,
            updated_at=utcnow(),
            updated_by=by,
            pin_ever_set=_pin_history_says_set(s),
            pin_failures=0,
            pin_version=0,
        )
        .on_conflict_do_nothing(index_elements=[ClinicConfig.id])
        .returning(ClinicConfig.id)
    )
    return result.first() is not None


class StaleClinicSettings(ValueError):
    """The settings were changed by another room since they were read."""

    def __init__(self, version: int, updated_at: dt.datetime | None, updated_by: str | None):
        when = f" at {updated_at:%Y-%m-%d %H:%M:%S} UTC" if updated_at else ""
        super().__init__(
            f"the clinic settings were changed by {updated_by or 'another console'}"
            f"{when} (version {version}) since they were shown here: nothing was saved"
        )
        self.version = version
        self.updated_at = updated_at
        self.updated_by = updated_by


# ---------------------------------------------------------------- writer requests


@dataclass(frozen=True, slots=True)
class ImportClinic:
    """First start with a store that has no clinic row: take the INI's settings and PIN
    hash once (``settings`` empty: the defaults). Nothing happens if the row exists or the
    store had clinic settings before (its service history says so)."""

    settings: dict[str, Any]
    pin_hash: str | None
    source: str
    operator_id: int | None = None
    by: str = ""

    def apply(self, s: Session, st: object, tentative: object) -> bool:
        if s.get(ClinicConfig, ROW_ID) is not None:
            return False
        had = s.scalar(
            select(ServiceRecord.id)
            .where(ServiceRecord.kind.in_((ServiceKind.CLINIC_SETTINGS, ServiceKind.PIN)))
            .limit(1)
        )
        by = self.by or who()
        if had is not None:  # the row was deleted: never import an old INI again
            _row(s, by)
            return False
        ever = _pin_history_says_set(s)
        row = ClinicConfig(
            id=ROW_ID,
            settings=dict(self.settings),
            version=1,
            updated_at=utcnow(),
            updated_by=by,
            pin_hash=self.pin_hash or None,
            pin_ever_set=bool(self.pin_hash) or ever,
            pin_failures=0,
            pin_version=1 if self.pin_hash else 0,
        )
        s.add(row)
        _service(
            s,
            ServiceKind.CLINIC_SETTINGS,
            {"action": "import", "source": self.source, "old": None, "new": dict(self.settings)},
            self.operator_id,
            by,
        )
        if self.pin_hash:
            _service(
                s,
                ServiceKind.PIN,
                {"action": "import", "source": self.source},
                self.operator_id,
                by,
            )
            from app.store.operators import adopt_bench_pin

            adopt_bench_pin(s, self.pin_hash)  # the bench is opened by signing in now
        s.flush()
        return True


@dataclass(frozen=True, slots=True)
class SaveClinicSettings:
    """New settings (checked by the caller), saved over ``expected_version``: the version
    of the stored row the new settings were edited from (0: the store had none). The
    store is the one authority on staleness: in the same transaction as the write, a save
    whose version is no longer the stored one — another room saved since — is refused
    with :class:`StaleClinicSettings` (nothing is written); of two rooms saving from the
    same version at once exactly one succeeds. There is no "save without a check".
    Returns the new version."""

    # a refusal (stale version, bad settings) is the caller's to show: not a store failure
    quiet_refusal = True  # noqa: RUF045 - class constant, not a field
    appends_audit = True  # noqa: RUF045 - class constant, not a field
    settings: dict[str, Any]
    expected_version: int
    operator_id: int | None = None
    by: str = ""
    defaults: dict[str, Any] | None = None  # what "nothing stored" means (the old values)

    def apply(self, s: Session, st: object, tentative: object) -> int:
        expected = self.expected_version
        if isinstance(expected, bool) or not isinstance(expected, int) or expected < 0:
            raise ValueError(
                "a save of the clinic settings must name the stored version it was made "
                f"from (got {expected!r})"
            )
        by = self.by or who()
        existing = s.get(ClinicConfig, ROW_ID)
        if existing is None:
            if expected != 0:  # the row was deleted since it was read
                raise StaleClinicSettings(0, None, None)
            if not _insert_row_if_missing(s, by):  # another room created it meanwhile
                existing = s.get(ClinicConfig, ROW_ID, populate_existing=True)
                if existing is None:
                    raise StaleClinicSettings(0, None, None)
                raise StaleClinicSettings(
                    existing.version, existing.updated_at, existing.updated_by
                )
            existing = s.get(ClinicConfig, ROW_ID, populate_existing=True)
            assert existing is not None
            expected = existing.version  # created just now, from the defaults
        elif expected == 0:
            # edited from "no settings stored yet", but another room stored some since
            raise StaleClinicSettings(existing.version, existing.updated_at, existing.updated_by)
        row = existing
        old = dict(row.settings or {}) or dict(self.defaults or {})
        # the check and the write are one statement: a row another room changed since
        # (committed before this one, or waiting on its lock) matches no row here
        result = s.execute(
            update(ClinicConfig)
            .where(ClinicConfig.id == ROW_ID, ClinicConfig.version == expected)
            .values(
                settings=dict(self.settings),
                version=ClinicConfig.version + 1,
                updated_at=utcnow(),
                updated_by=by,
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            s.expire(row)
            raise StaleClinicSettings(row.version, row.updated_at, row.updated_by)
        changed = {k: [old.get(k), v] for k, v in self.settings.items() if old.get(k) != v}
        _service(
            s,
            ServiceKind.CLINIC_SETTINGS,
            {"action": "change", "old": old, "new": dict(self.settings), "changed": changed},
            self.operator_id,
            by,
        )
        audit.append(
            s,
            "limit_change",
            "clinic",
            {"changed": changed},
            operator_id=self.operator_id,
            host=who(),
        )
        return int(s.scalar(select(ClinicConfig.version).where(ClinicConfig.id == ROW_ID)) or 0)


@dataclass(frozen=True, slots=True)
class SetPinHash:
    """Store a new PIN hash. ``first``: a set-up, refused unless the store never had a PIN
    (two rooms setting up at once: one wins). Otherwise a change, which the caller allows
    only after a counted, correct attempt (``after_version``: the PIN it was checked
    against, so a PIN changed meanwhile in another room is not overwritten)."""

    quiet_refusal = True  # noqa: RUF045 - class constant, not a field
    appends_audit = True  # noqa: RUF045 - class constant, not a field
    pin_hash: str
    first: bool
    after_version: int | None = None
    operator_id: int | None = None
    by: str = ""

    def apply(self, s: Session, st: object, tentative: object) -> int:
        by = self.by or who()
        row = _row(s, by)
        if self.first and (row.pin_hash or row.pin_ever_set):
            raise ValueError(
                "a technician PIN has already been set on this store"
                + (
                    ""
                    if row.pin_hash
                    else f"; its hash is missing: recover with '{RESET_PIN_COMMAND}'"
                )
            )
        if (
            not self.first
            and self.after_version is not None
            and row.pin_version != self.after_version
        ):
            raise ValueError("the technician PIN was changed meanwhile (another room)")
        row.pin_hash = self.pin_hash
        row.pin_ever_set = True
        row.pin_failures = 0
        row.pin_version = (row.pin_version or 0) + 1
        _service(
            s,
            ServiceKind.PIN,
            {
                "action": "set" if self.first else "change",
                "old": "none" if self.first else "a PIN",
                "new": "a PIN",
            },
            self.operator_id,
            by,
        )
        audit.append(
            s,
            "pin_change",
            "clinic",
            {"action": "set" if self.first else "change"},
            operator_id=self.operator_id,
            host=who(),
        )
        s.flush()
        return row.pin_version


@dataclass(frozen=True, slots=True)
class CountPinAttempt:
    """One PIN attempt, counted before it is checked: ``pin_failures`` + 1 (atomic, so two
    rooms' attempts both count). Returns the row after it (the hash to check against)."""

    quiet_refusal = True  # noqa: RUF045 - class constant, not a field

    def apply(self, s: Session, st: object, tentative: object) -> ClinicRecord:
        row = s.get(ClinicConfig, ROW_ID)
        if row is None or not row.pin_hash:
            raise ValueError("no technician PIN is stored")
        s.execute(
            update(ClinicConfig)
            .where(ClinicConfig.id == ROW_ID)
            .values(pin_failures=ClinicConfig.pin_failures + 1)
            .execution_options(synchronize_session=False)
        )
        s.expire(row)
        return _record(s.get(ClinicConfig, ROW_ID))


@dataclass(frozen=True, slots=True)
class ClearPinFailures:
    """The PIN was right: the count of wrong PINs in a row starts again."""

    def apply(self, s: Session, st: object, tentative: object) -> None:
        s.execute(
            update(ClinicConfig)
            .where(ClinicConfig.id == ROW_ID)
            .values(pin_failures=0)
            .execution_options(synchronize_session=False)
        )


def apply_now(engine: Engine, request: Any) -> Any:
    """Apply one clinic request in a transaction of its own (commands that run before, or
    without, a writer thread: ``run``, ``db``)."""
    with Session(engine) as s, s.begin():
        return request.apply(s, None, None)


CLINIC_WRITES = (ImportClinic, SaveClinicSettings, SetPinHash, CountPinAttempt, ClearPinFailures)


def reset_pin(engine: Engine, operator_id: int | None = None, by: str = "") -> bool:
    """Recovery (``db reset-pin``): forget the PIN hash, its failures and the flag that one
    was set, so the bench offers a new set-up; recorded as a service record. Returns
    whether a PIN (or its flag) was there."""
    by = by or f"{who()} (db reset-pin)"
    with Session(engine) as s, s.begin():
        row = _row(s, by)
        had = bool(row.pin_hash or row.pin_ever_set)
        row.pin_hash = None
        row.pin_ever_set = False
        row.pin_failures = 0
        row.pin_version = (row.pin_version or 0) + 1
        _service(
            s,
            ServiceKind.PIN,
            {
                "action": "reset",
                "old": "a PIN" if had else "none",
                "new": "none (set-up offered at the next bench opening)",
            },
            operator_id,
            by,
        )
    return had


# ---------------------------------------------------------------- the watch


class ClinicWatch:
    """Reads the clinic row on its own thread every ``interval_s`` (and at once after
    :meth:`poke`); ``on_record(ClinicRecord)`` (from that thread) at the first reading and
    whenever the settings or the PIN change; ``on_error(message)`` when it cannot read.
    Between pokes the row is read only when the database's change number moved
    (:class:`app.store.stamp.DataVersion`), and at least every ``FULL_READ_S``."""

    def __init__(
        self,
        engine: Engine,
        on_record: Callable[[ClinicRecord], None],
        on_error: Callable[[str], None] | None = None,
        *,
        interval_s: float = POLL_S,
    ) -> None:
        self._engine = engine
        self._on_record = on_record
        self._on_error = on_error
        self._interval_s = float(interval_s)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._last: tuple[Any, ...] | None = None
        self._version = DataVersion(engine)
        self.reads = 0  # readings of the row (the watch thread's count)
        self._thread = threading.Thread(target=self._run, name="ClinicWatch", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        self._wake.set()

    def on_commit(self, requests: list[Any]) -> None:
        """A StoreWriter commit listener: read again after this room's clinic writes."""
        if any(isinstance(r, CLINIC_WRITES) for r in requests):
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
        first = True
        read_version: int | None = None  # the change number the last good reading saw
        read_at = 0.0
        while not self._stop.is_set():
            poked = first
            if not first:
                poked = self._wake.wait(self._interval_s)
                self._wake.clear()
            first = False
            if self._stop.is_set():
                return
            version = self._version.read()  # before the row: a later commit moves it
            now = time.monotonic()
            if (
                not poked
                and version is not None
                and version == read_version
                and now - read_at < FULL_READ_S
            ):
                continue  # nothing committed since: the row is as it was
            read_version, read_at = None, now
            try:
                self.reads += 1
                rec = read_clinic(self._engine)
            except SQLAlchemyError as exc:
                log.warning("clinic settings not read: %s", type(exc).__name__)
                if self._on_error is not None:
                    self._on_error("the clinic settings could not be read from the records")
                continue
            read_version = version
            key = (
                rec.exists,
                rec.version,
                rec.pin_version,
                rec.pin_failures,
                bool(rec.pin_hash),
                rec.pin_ever_set,
            )
            if key == self._last:
                continue
            self._last = key
            try:
                self._on_record(rec)
            except Exception:  # noqa: BLE001 - a broken listener must not stop the watch
                log.exception("clinic listener failed")
