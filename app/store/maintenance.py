"""Backup, export and erasure of records (the `python -m app db` commands). No Qt."""

from __future__ import annotations

import contextlib
import csv
import functools
import glob
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, delete, select, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from app.store import photos, services
from app.store.database import (
    StoreError,
    describe_error,
    make_engine,
    parse_url,
    resolve_url,
    scrub,
)
from app.store.models import (
    Amendment,
    Client,
    Consent,
    CourseSession,
    Event,
    Note,
    RecordingChunk,
    Screening,
    SessionPhoto,
    SessionSignature,
    SessionStep,
    TreatmentCourse,
    TreatmentSession,
    ZoneComfort,
)


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


# ---------------------------------------------------------------- backup


def open_for_backup(url: str | None = None) -> Engine:
    """An engine on an existing database, for a backup: no migration, nothing written."""
    url = resolve_url(url)
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "").expanduser()
        if not path.is_file():
            raise StoreError(f"There is no database file at {path}: nothing to back up.")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - a clear message, never a traceback
        engine.dispose()
        raise StoreError(describe_error(exc, url)) from None
    return engine


PARTIAL = ".partial-"


def backup(engine: Engine, dest: Path) -> Path:
    """A consistent online copy: SQLite backup API, or pg_dump (custom format) for PostgreSQL.

    Atomic and verified: the copy is written to a hidden temporary name in the same folder
    (``.NAME.partial-PID``), synced to disk, checked (SQLite: ``PRAGMA integrity_check`` and
    every table's row count against the source's snapshot; pg_dump: ``pg_restore --list``
    lists every table's data), and only then given its name. A kill at any moment leaves no
    file at ``dest`` (a temporary one left by a killed backup is removed by the next).
    Readable by its owner only. Raises StoreError.
    """
    dest = Path(dest).expanduser()
    if dest.exists():
        raise StoreError(f"{dest} already exists: choose a new file name for the backup.")
    if not dest.parent.is_dir():
        raise StoreError(f"The folder {dest.parent} does not exist.")
    _remove_stale_partials(dest)
    tmp = dest.with_name(f".{dest.name}{PARTIAL}{os.getpid()}")
    try:
        if engine.dialect.name == "sqlite":
            _backup_sqlite(engine, tmp)
        else:
            _backup_postgres(engine, tmp)
        with contextlib.suppress(OSError):  # created 0600; some file systems have no modes
            tmp.chmod(0o600)
        _fsync(tmp)
        _publish(tmp, dest)
    except OSError as exc:
        raise StoreError(
            f"The backup could not be written to {dest.parent}: {exc.strerror or exc}."
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _remove_stale_partials(dest: Path) -> None:
    """Temporary files of backups to ``dest`` whose process is gone (killed)."""
    import psutil

    for p in dest.parent.glob(glob.escape(f".{dest.name}{PARTIAL}") + "*"):
        pid = p.name.rsplit(PARTIAL, 1)[-1]
        try:
            # its writer is alive if a process of that id began before the file's last
            # write (a process started since only reuses the id of a killed one)
            alive = pid.isdigit() and psutil.Process(int(pid)).create_time() <= (
                p.stat().st_mtime + 1.0
            )
        except (psutil.Error, OSError):
            alive = False
        if not alive:
            with contextlib.suppress(OSError):
                p.unlink()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish(tmp: Path, dest: Path) -> None:
    """Give the verified copy its name, never replacing a file that appeared meanwhile."""
    try:
        os.link(tmp, dest)
    except FileExistsError:
        raise StoreError(f"{dest} already exists: choose a new file name for the backup.") from None
    except OSError:  # no hard links here (a FAT memory stick): rename instead
        if dest.exists():
            raise StoreError(
                f"{dest} already exists: choose a new file name for the backup."
            ) from None
        os.rename(tmp, dest)
    with contextlib.suppress(OSError):  # the new name itself reaches the disk
        fd = os.open(dest.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _table_counts(conn: sqlite3.Connection) -> dict[str, int]:
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


def _backup_sqlite(engine: Engine, dest: Path) -> None:
    fd = os.open(dest, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    target = sqlite3.connect(dest)
    try:
        raw = engine.raw_connection()
        try:
            src = raw.driver_connection
            assert isinstance(src, sqlite3.Connection)
            if src.in_transaction:
                src.rollback()
            # one read transaction: the counts and the copy see the same snapshot
            src.execute("BEGIN")
            try:
                counts = _table_counts(src)
                src.backup(target)
            finally:
                src.rollback()
        finally:
            raw.close()
        target.execute("PRAGMA journal_mode=DELETE")
        target.commit()
    except sqlite3.Error as exc:
        raise StoreError(describe_error(exc, engine.url)) from None
    finally:
        target.close()
    _verify_sqlite(dest, counts)


def _verify_sqlite(path: Path, counts: dict[str, int]) -> None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            check = [r[0] for r in conn.execute("PRAGMA integrity_check")]
            got = _table_counts(conn)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(
            f"The backup failed its check ({exc}); nothing was kept: try again, or on another disk."
        ) from None
    if check != ["ok"]:
        raise StoreError(
            "The backup failed its integrity check; nothing was kept: try "
            "again, or on another disk."
        )
    if got != counts:
        raise StoreError(
            "The backup's row counts differ from the database's; nothing was kept: try again."
        )


def libpq_url(url: URL) -> str:
    """The URL for libpq tools, without any password (that goes in PGPASSWORD)."""
    return (
        url.set(drivername="postgresql")
        ._replace(password=None)
        .difference_update_query(["password"])
        .render_as_string(hide_password=False)
    )


def libpq_env(url: URL) -> dict[str, str]:
    """The environment for a libpq tool: the password, if any, in PGPASSWORD (never on the
    command line, where every local user could read it)."""
    env = dict(os.environ)
    password = url.password if url.password is not None else url.query.get("password")
    if isinstance(password, tuple):
        password = password[-1]
    if password:
        env["PGPASSWORD"] = str(password)
    return env


def _backup_postgres(engine: Engine, dest: Path) -> None:
    url = engine.url
    pg_dump = shutil.which("pg_dump")
    pg_restore = shutil.which("pg_restore")
    if pg_dump is None or pg_restore is None:
        raise StoreError(
            "pg_dump is not installed: install the PostgreSQL client tools "
            "(Debian: apt install postgresql-client) to back up a server database."
        )
    fd = os.open(dest, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    env = libpq_env(url)
    proc = subprocess.run(
        [pg_dump, "--format=custom", "--no-owner", "--file", str(dest), "--dbname", libpq_url(url)],
        capture_output=True,
        text=True,
        timeout=3600,
        env=env,
        preexec_fn=functools.partial(_die_with_parent, os.getpid()),  # noqa: PLW1509 - Linux signal
    )
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise StoreError(f"pg_dump failed: {scrub(first, url)}")
    # the check: pg_restore reads the whole archive's table of contents; every table's
    # data must be in it
    listed = subprocess.run(
        [pg_restore, "--list", str(dest)], capture_output=True, text=True, timeout=600
    )
    with engine.connect() as conn:
        tables = [
            r[0]
            for r in conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            )
        ]
    missing = [t for t in tables if f"TABLE DATA public {t} " not in listed.stdout]
    if listed.returncode != 0 or missing:
        raise StoreError(
            "The backup failed its check (pg_restore cannot read it); nothing was kept: try again."
        )


# ---------------------------------------------------------------- export


def export_client(engine: Engine, client_id: int, dest: Path) -> Path:
    """Everything about one client as a ZIP: client.json, one CSV per recording and the
    session photos (the stored JPEGs, without metadata)."""
    dest = Path(dest).expanduser()
    if dest.exists():
        raise StoreError(f"{dest} already exists: choose a new file name for the export.")
    if not dest.parent.is_dir():
        raise StoreError(f"The folder {dest.parent} does not exist.")
    with Session(engine) as s:
        client = s.get(Client, client_id)
        if client is None:
            raise StoreError(f"There is no client with id {client_id}.")
        doc: dict[str, Any] = {
            "format": "microcurrent-client-export",
            "version": 1,
            "client": _row(
                client,
                (
                    "id",
                    "name",
                    "date_of_birth",
                    "contact",
                    "skin_notes",
                    "current_limit_ua",
                    "is_training",
                    "created_at",
                    "updated_at",
                ),
            ),
            "screenings": [
                _row(
                    x,
                    (
                        "screened_on",
                        "expires_on",
                        "questionnaire_version",
                        "answers",
                        "overrides_acknowledged",
                        "operator_id",
                        "host",
                    ),
                )
                for x in client.screenings
            ],
            "consents": [
                _row(
                    x,
                    (
                        "text_version",
                        "given_at",
                        "operator_id",
                        "text_snapshot",
                        "signature_kind",
                        "signature",
                        "signed_name",
                        "withdrawn",
                        "host",
                    ),
                )
                for x in client.consents
            ],
            "notes": [_row(x, ("created_at", "text", "session_id")) for x in client.notes],
            "zone_comfort": [
                _row(x, ("zone", "intensity_ua", "updated_at", "session_uid"))
                for x in client.comfort
            ],
            "courses": [
                _row(
                    x,
                    (
                        "id",
                        "program",
                        "planned_sessions",
                        "every_days",
                        "per_week",
                        "start_date",
                        "closed_on",
                        "notes",
                    ),
                )
                for x in s.scalars(
                    select(TreatmentCourse).where(TreatmentCourse.client_id == client_id)
                )
            ],
            "sessions": [],
        }
        course_of = {
            sid: cid
            for sid, cid in s.execute(
                select(CourseSession.session_id, CourseSession.course_id)
                .join(TreatmentSession, TreatmentSession.id == CourseSession.session_id)
                .where(TreatmentSession.client_id == client_id)
            )
        }
        session_ids = [x.id for x in sorted(client.sessions, key=lambda x: x.started_at)]
    fd = os.open(dest, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
        for sid in session_ids:
            detail = services.session_detail(engine, sid)
            assert detail is not None
            entry = {
                k: getattr(detail.summary, k)
                for k in (
                    "id",
                    "uid",
                    "program",
                    "started_at",
                    "ended_at",
                    "outcome",
                    "training",
                    "device_serial",
                    "firmware",
                )
            }
            entry["course_id"] = course_of.get(sid)
            entry["steps"] = [_dc(st) for st in detail.steps]
            entry["photos"] = []
            for photo in photos.photos_of(engine, sid):
                name = f"photos/session-{sid}-{photo.info.id}-{photo.info.label}.jpg"
                zf.writestr(name, photo.data)
                entry["photos"].append(
                    {
                        "file": name,
                        "label": photo.info.label,
                        "zone": photo.info.zone,
                        "taken_at": photo.info.taken_at,
                    }
                )
            entry["events"] = [_dc(e) for e in detail.events]
            entry["signature"] = None if detail.signature is None else _dc(detail.signature)
            entry["amendments"] = [_dc(a) for a in detail.amendments]
            rec = services.load_recording(engine, sid)
            if rec.n_samples:
                name = f"recordings/session-{sid}.csv"
                entry["recording"] = {
                    "file": name,
                    "sample_rate_hz": rec.sample_rate,
                    "samples": rec.n_samples,
                }
                zf.writestr(name, _recording_csv(rec))
            if rec.damaged_chunks:  # exported as far as it reads; the rest named, not hidden
                entry.setdefault("recording", {})["damaged"] = {
                    "chunks": rec.damaged_chunks,
                    "samples": rec.damaged_samples,
                }
            doc["sessions"].append(entry)
        zf.writestr(
            "client.json", json.dumps(doc, indent=2, default=_json_default, ensure_ascii=False)
        )
    return dest


def _row(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    return {f: getattr(obj, f) for f in fields}


def _dc(obj: Any) -> dict[str, Any]:
    return {f: getattr(obj, f) for f in obj.__slots__}


def _recording_csv(rec: Any) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["t_s", "current_ua", "voltage_v"])
    for t, c, v in zip(rec.t_s, rec.current_ua, rec.voltage_v, strict=True):
        if t == t:  # NaN rows mark gaps: left out of the CSV
            w.writerow([f"{t:.6f}", f"{c:.4f}", f"{v:.5f}"])
    return buf.getvalue()


# ---------------------------------------------------------------- erasure


def erase_client(engine: Engine, client_id: int) -> dict[str, int]:
    """Delete every row of a client (sessions, steps, events, recordings, signatures and
    amendments, photos, courses, screenings, consents, comfort levels, notes). On SQLite
    the file is then vacuumed and the WAL truncated, so the client's data no longer
    appears anywhere in the database files. Returns row counts.
    """
    counts: dict[str, int] = {}
    with Session(engine) as s, s.begin():
        client = s.get(Client, client_id)
        if client is None:
            raise StoreError(f"There is no client with id {client_id}.")
        if client.is_training:
            raise StoreError("The built-in training client cannot be erased.")
        _refuse_if_recording(s, client_id)
        sids = select(TreatmentSession.id).where(TreatmentSession.client_id == client_id)

        def deleted(stmt: Any) -> int:
            return int(cast("CursorResult[Any]", s.execute(stmt)).rowcount)

        for per_session in (
            RecordingChunk,
            Event,
            SessionStep,
            Amendment,
            SessionSignature,
            CourseSession,
        ):
            counts[per_session.__tablename__] = deleted(
                delete(per_session).where(per_session.session_id.in_(sids))
            )
        for per_client in (SessionPhoto, Note, Screening, Consent, ZoneComfort, TreatmentSession):
            counts[per_client.__tablename__] = deleted(
                delete(per_client).where(per_client.client_id == client_id)
            )
        counts[TreatmentCourse.__tablename__] = deleted(
            delete(TreatmentCourse).where(TreatmentCourse.client_id == client_id)
        )
        counts["client"] = deleted(delete(Client).where(Client.id == client_id))
    compact(engine)
    return counts


def _refuse_if_recording(s: Session, client_id: int) -> None:
    """A session of the client still being recorded (not ended, its console's heartbeat
    fresh): erasing now would pull the rows from under that console's writer."""
    import datetime as dt

    from app.store.database import STALE_AFTER_S, _writer_alive

    now = dt.datetime.now(dt.UTC)
    rows = s.scalars(
        select(TreatmentSession).where(
            TreatmentSession.client_id == client_id, TreatmentSession.outcome.is_(None)
        )
    ).all()
    live = [r for r in rows if _writer_alive(r, now, STALE_AFTER_S)]
    if live:
        where = live[0].writer_host or "another console"
        raise StoreError(
            f"Client {client_id} has a session in progress (recorded by the "
            f"console on {where}): nothing was erased. End the session, then "
            "erase the client."
        )


def compact(engine: Engine) -> None:
    """Rewrite the database so deleted data is gone from the files (SQLite: VACUUM and
    truncate the WAL; PostgreSQL: VACUUM the tables that held personal data)."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.exec_driver_sql("VACUUM")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        path = Path(parse_url(str(engine.url)).database or "")
        with contextlib.suppress(FileNotFoundError):
            if path.with_name(path.name + "-wal").stat().st_size:
                raise StoreError(
                    "The database is in use by another program: the erased "
                    "client's data may remain in its journal until it closes."
                )
    else:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            for table in (
                "recording_chunk",
                "event",
                "session_step",
                "note",
                "screening",
                "consent",
                "treatment_session",
                "client",
            ):
                conn.execute(text(f"VACUUM {table}"))


def _die_with_parent(parent: int) -> None:
    """In the child before exec: on Linux, end with the backup process ``parent``. A
    backup killed (kill -9) must not leave pg_dump writing its temporary file after the
    next backup has cleaned up. A parent killed between the fork and the ``prctl`` sends
    no signal: the child sees it has been re-parented, and ends before it execs."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:
            os._exit(1)
