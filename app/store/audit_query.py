"""Reading the audit trail for the manager's screen: filtered, newest first, with the
operators' names; and a filtered CSV export. No Qt.

The trail itself (append, verify, the full export) is ``app.store.audit``. Filters: an
operator, an action, a client (entries whose subject is ``client:ID`` or one of the
client's sessions, ``session:ID``) and a time range
(UTC; the screen turns its local dates into it).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.store.audit import AuditLine, client_subject, session_subject
from app.store.models import AuditEntry, Operator, TreatmentSession

DEFAULT_LIMIT = 2000


@dataclass(frozen=True, slots=True)
class AuditFilter:
    operator_id: int | None = None
    action: str | None = None
    client_id: int | None = None
    start: dt.datetime | None = None  # UTC, inclusive
    end: dt.datetime | None = None  # UTC, exclusive

    def describe(self, names: dict[int, str]) -> str:
        """The filter in words (for the export's heading)."""
        parts = []
        if self.operator_id is not None:
            parts.append(f"operator {names.get(self.operator_id, self.operator_id)}")
        if self.action:
            parts.append(f"action {self.action}")
        if self.client_id is not None:
            parts.append(f"client {self.client_id}")
        if self.start is not None:
            parts.append(f"from {self.start.astimezone().strftime('%d %b %Y %H:%M')}")
        if self.end is not None:
            parts.append(f"before {self.end.astimezone().strftime('%d %b %Y %H:%M')}")
        return ", ".join(parts) or "every entry"


@dataclass(frozen=True, slots=True)
class AuditPage:
    lines: list[AuditLine]  # newest first
    total: int  # entries matching the filter (may be more than shown)
    names: dict[int, str]  # operator id -> name (every operator, deactivated ones too)


def _line(r: AuditEntry) -> AuditLine:
    return AuditLine(
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


def query(
    engine: Engine, f: AuditFilter, limit: int = DEFAULT_LIMIT, before_id: int | None = None
) -> AuditPage:
    """The entries matching ``f``, newest first, at most ``limit`` of them; with
    ``before_id``, the next ones older than that entry (the screen's "Show older"). The
    total counts every matching entry."""
    conds = []
    if f.operator_id is not None:
        conds.append(AuditEntry.operator_id == f.operator_id)
    if f.action:
        conds.append(AuditEntry.action == f.action)
    if f.start is not None:
        conds.append(AuditEntry.at >= f.start)
    if f.end is not None:
        conds.append(AuditEntry.at < f.end)
    with Session(engine) as s:
        if f.client_id is not None:
            # the client's record and every session of theirs still in the store (who
            # viewed, signed, amended or exported any of it)
            sessions = s.scalars(
                select(TreatmentSession.id).where(TreatmentSession.client_id == f.client_id)
            ).all()
            subjects = [client_subject(f.client_id), *(session_subject(i) for i in sessions)]
            conds.append(AuditEntry.subject.in_(subjects))
        total = int(s.scalar(select(func.count(AuditEntry.id)).where(*conds)) or 0)
        if before_id is not None:
            conds.append(AuditEntry.id < before_id)
        rows = s.scalars(
            select(AuditEntry).where(*conds).order_by(AuditEntry.id.desc()).limit(limit)
        ).all()
        names = {i: n for i, n in s.execute(select(Operator.id, Operator.name)).all()}
        return AuditPage([_line(r) for r in rows], total, names)


def details_text(details: dict) -> str:
    return json.dumps(details, sort_keys=True, ensure_ascii=False)


CSV_COLUMNS = (
    "id",
    "at_utc",
    "operator_id",
    "operator",
    "host",
    "action",
    "subject",
    "details",
    "prev_hash",
    "hash",
)


def export_csv(lines: Sequence[AuditLine], names: dict[int, str], dest: Path) -> int:
    """``lines`` as CSV (a new file, readable by its owner only); the number written."""
    dest = Path(dest).expanduser()
    fd = os.open(dest, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS)
        for ln in lines:
            w.writerow(
                [
                    ln.id,
                    ln.at.astimezone(dt.UTC).isoformat(),
                    ln.operator_id if ln.operator_id is not None else "",
                    names.get(ln.operator_id, "") if ln.operator_id is not None else "",
                    ln.host,
                    ln.action,
                    ln.subject,
                    details_text(ln.details),
                    ln.prev_hash,
                    ln.hash,
                ]
            )
    return len(lines)
