"""The tamper-evident audit trail: who viewed, exported, erased or changed what, and when.
No Qt.

Every entry (``audit_entry``) carries the SHA-256 of the entry before it, so a changed,
deleted or reordered entry breaks the chain, and :func:`verify` names the first entry
whose stored hashes no longer agree (``python -m app db audit-verify``).

Entries are appended only by the store's writer thread (:class:`AppendAudit`, a writer
request; :func:`record` submits one from a command without a running console), so the
chain is serial per database. Inside the append transaction the chain's end is locked:
on PostgreSQL a ``SHARE ROW EXCLUSIVE`` lock on the table (it conflicts with itself, not
with readers), on SQLite the new row is inserted first, which takes the database's write
lock before the last entry is read. Two rooms appending at once therefore wait for each
other and never fork the chain.

``details`` hold no personal data (ids, counts, formats, the action's outcome: never a
name, a note, a contact or a file path), so erasing a client keeps its entries whole.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.store.models import AuditEntry, utcnow

GENESIS = "0" * 64

# the actions recorded (free text is refused, so a typo never makes a new action)
ACTIONS = frozenset(
    {
        "view_client",
        "view_session",
        "report",
        "export",
        "erase",
        "limit_change",
        "pin_change",
        "sign_in",
        "sign_in_failed",
        "lock",
        "operator_change",
        "role_change",
        "audit_export",
        "audit_view",
        "sign_session",
        "amend_session",
        "sign_consent",
        "withdraw_consent",
        "add_photo",
        "remove_photo",
    }
)


def canonical(
    entry_id: int,
    at: dt.datetime,
    operator_id: int | None,
    host: str,
    action: str,
    subject: str,
    details: dict[str, Any],
) -> str:
    """The entry as the hash sees it: sorted keys, no spaces, UTC time to the µs."""
    when = at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json.dumps(
        {
            "id": entry_id,
            "at": when,
            "operator_id": operator_id,
            "host": host,
            "action": action,
            "subject": subject,
            "details": details,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def entry_hash(prev_hash: str, text: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{text}".encode()).hexdigest()


def _hash_of(row: AuditEntry, prev_hash: str) -> str:
    return entry_hash(
        prev_hash,
        canonical(
            row.id,
            row.at,
            row.operator_id,
            row.host,
            row.action,
            row.subject,
            dict(row.details or {}),
        ),
    )


def _clean(details: dict[str, Any]) -> dict[str, Any]:
    """Details as JSON gives them back (so the hash at append and at verify agree)."""
    out = json.loads(json.dumps(details, allow_nan=False, sort_keys=True))
    if not isinstance(out, dict):
        raise ValueError("audit details must be a JSON object")
    return out


def lock_audit_trail(s: Session) -> None:
    """PostgreSQL: lock the chain's end for this transaction (``SHARE ROW EXCLUSIVE``
    conflicts with itself — another room's append waits — not with readers). The writer
    takes it at the start of a batch holding an append (requests with ``appends_audit``),
    before any row lock, so two rooms always lock in the same order. SQLite: nothing (the
    append's insert takes the database's write lock)."""
    if s.get_bind().dialect.name == "postgresql":
        s.connection().exec_driver_sql("LOCK TABLE audit_entry IN SHARE ROW EXCLUSIVE MODE")


@dataclass(frozen=True, slots=True)
class AppendAudit:
    """A writer request: append one entry at the end of the chain. Returns its id."""

    appends_audit = True  # noqa: RUF045 - class constant, not a field

    action: str
    subject: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    operator_id: int | None = None
    host: str = ""
    at: dt.datetime | None = None

    def apply(self, s: Session, st: object, tentative: object) -> int:
        return append(
            s,
            self.action,
            self.subject,
            self.details,
            operator_id=self.operator_id,
            host=self.host,
            at=self.at,
        )


def append(
    s: Session,
    action: str,
    subject: str = "",
    details: dict[str, Any] | None = None,
    *,
    operator_id: int | None = None,
    host: str = "",
    at: dt.datetime | None = None,
) -> int:
    """Append an entry in ``s``'s transaction (the writer thread's: see the module
    docstring for the lock that keeps the chain serial). Returns the entry's id."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    clean = _clean(dict(details or {}))
    lock_audit_trail(s)
    when = (at or utcnow()).astimezone(dt.UTC)
    row = AuditEntry(
        at=when,
        operator_id=operator_id,
        host=host or socket.gethostname(),
        action=action,
        subject=subject,
        details=clean,
        prev_hash="",
        hash="",
    )
    s.add(row)
    s.flush()  # SQLite: the write lock is ours from here; the id is known
    prev = s.scalar(
        select(AuditEntry.hash)
        .where(AuditEntry.id < row.id)
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )
    row.prev_hash = prev or GENESIS
    row.hash = _hash_of(row, row.prev_hash)
    s.flush()
    return row.id


# ---------------------------------------------------------------- verification


@dataclass(frozen=True, slots=True)
class Verdict:
    """The chain's check: ``ok``, how many entries were checked, and the first broken
    entry's id (``broken_id``) and why (``reason``)."""

    ok: bool
    checked: int
    broken_id: int | None = None
    reason: str = ""


def _walk(engine: Engine, batch: int = 1000) -> Iterator[AuditEntry]:
    last = 0
    while True:
        with Session(engine) as s:
            rows = s.scalars(
                select(AuditEntry).where(AuditEntry.id > last).order_by(AuditEntry.id).limit(batch)
            ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def verify(engine: Engine) -> Verdict:
    """Walk the chain in id order: each entry must name the previous entry's hash and its
    own hash must match its content. A deleted entry breaks the next one's link, a changed
    one its own hash, a reordered one its link (the id is part of what is hashed)."""
    prev = GENESIS
    checked = 0
    for row in _walk(engine):
        if row.prev_hash != prev:
            return Verdict(
                False,
                checked,
                row.id,
                "it does not follow the entry before it (an entry before it was "
                "deleted, inserted or moved)",
            )
        try:
            expected = _hash_of(row, prev)
        except (TypeError, ValueError):
            expected = ""
        if row.hash != expected:
            return Verdict(False, checked, row.id, "its content was changed after it was recorded")
        prev = row.hash
        checked += 1
    return Verdict(True, checked)


# ---------------------------------------------------------------- reading, export


@dataclass(frozen=True, slots=True)
class AuditLine:
    id: int
    at: dt.datetime
    operator_id: int | None
    host: str
    action: str
    subject: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


def entries(
    engine: Engine, action: str | None = None, subject: str | None = None
) -> list[AuditLine]:
    """The entries in chain order, optionally of one action and/or one subject."""
    with Session(engine) as s:
        q = select(AuditEntry).order_by(AuditEntry.id)
        if action:
            q = q.where(AuditEntry.action == action)
        if subject:
            q = q.where(AuditEntry.subject == subject)
        return [
            AuditLine(
                r.id,
                r.at,
                r.operator_id,
                r.host,
                r.action,
                r.subject,
                dict(r.details or {}),
                r.prev_hash,
                r.hash,
            )
            for r in s.scalars(q)
        ]


CSV_COLUMNS = (
    "id",
    "at_utc",
    "operator_id",
    "host",
    "action",
    "subject",
    "details",
    "prev_hash",
    "hash",
)


def export_csv(engine: Engine, dest: Path) -> int:
    """Every entry as CSV (owner-only file, created new). Returns the number of entries."""
    dest = Path(dest).expanduser()
    if dest.exists():
        raise FileExistsError(f"{dest} already exists: choose a new file name")
    fd = os.open(dest, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    n = 0
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS)
        for row in _walk(engine):
            w.writerow(
                [
                    row.id,
                    row.at.astimezone(dt.UTC).isoformat(),
                    row.operator_id or "",
                    row.host,
                    row.action,
                    row.subject,
                    json.dumps(row.details, sort_keys=True, ensure_ascii=False),
                    row.prev_hash,
                    row.hash,
                ]
            )
            n += 1
    return n


def record(
    engine: Engine,
    action: str,
    subject: str = "",
    details: dict[str, Any] | None = None,
    operator_id: int | None = None,
    timeout: float = 30.0,
) -> int:
    """Append one entry through a writer thread of its own and wait for it: for commands
    that run without a console (``python -m app db …``). Returns the entry's id."""
    from app.store.writer import StoreWriter

    writer = StoreWriter(engine)
    try:
        fut = writer.submit(AppendAudit(action, subject, dict(details or {}), operator_id))
        return int(fut.result(timeout))
    finally:
        writer.close()


def client_subject(client_id: int) -> str:
    return f"client:{client_id}"


def session_subject(session_id: int) -> str:
    return f"session:{session_id}"
