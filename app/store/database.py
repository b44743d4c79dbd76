"""Opening the store: URL choice, engine set-up, migrations, clear error messages. No Qt.

The console calls :func:`open_store` once at start-up. It validates the URL, creates the
engine (SQLite: WAL, foreign keys on, busy timeout, file mode 0600), applies the Alembic
migrations, marks sessions left open by a crash as interrupted and makes sure the built-in
training client exists. Every failure is a :class:`StoreError` whose message says what is
wrong in words a practitioner can act on; it never carries personal data.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import socket
import sqlite3
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

import psutil
from sqlalchemy import Engine, create_engine, event, select, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DataError,
    DBAPIError,
    IntegrityError,
    NoSuchModuleError,
    SQLAlchemyError,
)
from sqlalchemy.orm import Session

from app import paths
from app.store.models import Client, Operator, Outcome, TreatmentSession

log = logging.getLogger(__name__)

ENV_VAR = "MICROCURRENT_DATABASE_URL"
TRAINING_CLIENT_NAME = "Training head (demo)"
DEFAULT_OPERATOR_NAME = "Practitioner"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class StoreError(Exception):
    """A database problem, described for the operator (no traceback, no personal data)."""


class StaleRecordError(StoreError):
    """A save against a version of a record that has been changed since (another room or
    window saved first): refused, nothing overwritten. ``current_version``,
    ``changed_at`` and ``changed_by`` say what is stored now."""

    def __init__(
        self,
        what: str,
        record_id: int,
        current_version: int,
        changed_at: dt.datetime | None,
        changed_by: str | None,
    ) -> None:
        self.record_id = record_id
        self.current_version = current_version
        self.changed_at = changed_at
        self.changed_by = changed_by
        when = (
            changed_at.astimezone().strftime("%d %b %Y at %H:%M:%S")
            if changed_at is not None
            else "meanwhile"
        )
        who = f" by the console on {changed_by}" if changed_by else ""
        super().__init__(
            f"{what} was changed on {when}{who} after you opened it: your "
            "changes were not saved (nothing was overwritten). Reload to see "
            "the other changes, then save yours again."
        )


def resolve_url(url: str | None = None) -> str:
    """``url`` if given, else $MICROCURRENT_DATABASE_URL, else the local SQLite file."""
    return url or os.environ.get(ENV_VAR) or paths.default_database_url()


def _normalize(url: str) -> str:
    """``url`` with an unencoded ``@`` in its password percent-encoded.

    ``postgresql://me:p@ss@host/db`` would otherwise be read as password ``p`` on host
    ``ss@host`` (and ``ss`` shown in every message naming the host). The host part never
    holds an ``@``, so the credentials end at the last one.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.startswith("sqlite"):
        return url
    head, q, query = rest.partition("?")
    if head.count("@") <= 1:
        return url
    at = head.rfind("@")
    user, colon, password = head[:at].partition(":")
    if not colon:
        return url
    return f"{scheme}://{user}:{quote(unquote(password), safe='')}@{head[at + 1 :]}{q}{query}"


def _make_url(url: str | URL) -> URL:
    return url if isinstance(url, URL) else make_url(_normalize(url.strip()))


def secrets_of(url: str | URL | None) -> list[str]:
    """The password(s) in ``url`` (user:PASSWORD@ or ?password=), as written and encoded."""
    if url is None:
        return []
    found: list[str] = []
    try:
        parsed = _make_url(url)
        values = [parsed.password, *(_query_values(parsed, "password"))]
    except Exception:  # noqa: BLE001 - unparsable: look for the usual shapes by hand
        values = []
    if isinstance(url, str):  # what the user typed, even if the parser read it otherwise
        m = re.search(r"://[^:/?#]*:(.*)@[^@]*$", url.split("?", 1)[0])
        if m:
            values.append(m.group(1))
        values += re.findall(r"[?&]password=([^&]*)", url)
    for v in values:
        if v:
            v = str(v)
            found += [v, quote(v, safe=""), unquote(v)]
    return sorted({v for v in found if len(v) >= 3}, key=len, reverse=True)


def _query_values(url: URL, key: str) -> list[str]:
    value = url.query.get(key)
    if value is None:
        return []
    return list(value) if isinstance(value, tuple) else [value]


def scrub(message: str, url: str | URL | None) -> str:
    """``message`` with every password of ``url`` replaced by ``***``."""
    for secret in secrets_of(url):
        message = message.replace(secret, "***")
    return message


def safe_url(url: str | URL) -> str:
    """The URL with any password (user:PASSWORD@ or ?password=) masked, for messages."""
    try:
        parsed = _make_url(url)
        if "password" in parsed.query:
            parsed = parsed.update_query_dict({"password": "***"})
        shown = parsed.render_as_string(hide_password=True).replace("%2A%2A%2A", "***")
        return scrub(shown, url)
    except Exception:  # noqa: BLE001 - unparsable: show nothing of it
        return "(unreadable URL)"


def parse_url(url: str | URL) -> URL:
    try:
        parsed = _make_url(url)
    except ArgumentError:
        raise StoreError(
            f"'{safe_url(url)}' is not a database URL. Use sqlite:///PATH/TO/FILE.db or "
            "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE."
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise StoreError(
                "The records need a database file: give sqlite:///PATH/TO/FILE.db "
                "(an in-memory database would lose every record)."
            )
        return parsed
    if backend == "postgresql":
        if parsed.get_driver_name() in ("psycopg2", "pg8000", "asyncpg"):
            raise StoreError(
                f"Database driver '{parsed.get_driver_name()}' is not supported: "
                "use postgresql+psycopg://…"
            )
        passwords = _query_values(parsed, "password")
        if passwords:  # ?password=…: held as the URL's password (masked when shown)
            parsed = parsed.difference_update_query(["password"]).set(password=passwords[-1])
        return parsed.set(drivername="postgresql+psycopg")
    raise StoreError(
        f"Database type '{backend}' is not supported: use sqlite:///PATH or "
        "postgresql+psycopg://USER@HOST/DATABASE."
    )


def describe_error(exc: BaseException, url: str | URL | None = None) -> str:
    """A short, actionable description of a database error (no SQL, no parameters)."""
    if isinstance(exc, StoreError):
        return str(exc)
    where = f" ({safe_url(url)})" if url is not None else ""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    text = scrub(text, url)
    low = text.lower()
    if isinstance(exc, NoSuchModuleError | ModuleNotFoundError):
        return f"The database driver is not installed{where}: {text}."
    if "database is locked" in low or "database table is locked" in low:
        return (
            f"The database is locked by another program{where}. Close any other copy of "
            "the console or database tool using it; recording continues to be retried."
        )
    if "readonly" in low or "read-only" in low or "read only" in low:
        return (
            f"The database is read-only{where}: nothing can be recorded. Check the file's "
            "permissions or the server's settings."
        )
    if "disk is full" in low or "no space left" in low or "could not extend file" in low:
        return f"The disk holding the database is full{where}: free some space."
    if (
        "not a database" in low
        or "malformed" in low
        or "file is encrypted" in low
        or "disk image" in low
    ):
        return (
            f"The database file is damaged{where}. Restore the latest backup "
            "(python -m app db backup makes one) or move the file aside."
        )
    if "unable to open database file" in low:
        return f"The database file cannot be opened{where}: the folder is missing or not writable."
    if "disk i/o error" in low:
        return f"The disk holding the database reported an I/O error{where}."
    if (
        "connection refused" in low
        or "could not connect" in low
        or "connection failed" in low
        or "no such file or directory" in low
        or "could not translate host" in low
        or "timeout expired" in low
    ):
        return f"Cannot reach the database server{where}: {text}."
    if "password authentication failed" in low or "authentication failed" in low:
        return f"The database server refused the user name or password{where}."
    if "does not exist" in low and "database" in low:
        return f"The database does not exist on the server{where}: {text}."
    if isinstance(exc, OSError):
        return f"Cannot use the database file{where}: {exc.strerror or text}."
    # Anything else may quote the statement or the record's values (a name, screening
    # answers): the screen gets what failed and what to do, the log the detail.
    log.error("database error%s: %s", where, scrub(str(exc), url))
    if isinstance(exc, IntegrityError):
        return (
            f"The database refused the record{where}: it conflicts with the records "
            "stored (one it refers to may have been deleted meanwhile). Reload the "
            "records and try again; the details are in the console's log."
        )
    if isinstance(exc, DataError):
        return (
            f"The database refused a value of the record{where}. Check the entries and "
            "try again; the details are in the console's log."
        )
    return (
        f"The database reported an error{where} ({type(orig).__name__}). Try again; "
        "if it persists, the details are in the console's log."
    )


def user_message(exc: BaseException, url: str | URL | None = None) -> str:
    """A failed store request, for the screen: what failed and what to do, never the SQL
    or the record's values (a name, screening answers); the detail goes to the log."""
    if isinstance(exc, StoreError | ValueError):
        return scrub(str(exc), url)
    if isinstance(exc, SQLAlchemyError | OSError):
        return describe_error(exc, url)
    log.error("store request failed", exc_info=exc)
    return f"an unexpected problem ({type(exc).__name__}); the details are in the console's log"


@dataclass(frozen=True, slots=True)
class InterruptedSession:
    """A session this start closed as interrupted, in facts safe to show on any screen:
    when it ran and which program — no client's name, no health data."""

    started_at: dt.datetime
    ended_at: dt.datetime  # the last sign of life the store has of it
    program: str
    training: bool


@dataclass(frozen=True, slots=True)
class StoreInfo:
    """What :func:`open_store` found and did."""

    url: str  # password masked
    backend: str  # "sqlite" | "postgresql"
    revision: str
    interrupted_sessions: int
    training_client_id: int
    default_operator_id: int
    # the sessions this start closed as interrupted (the console says so once, on screen)
    interrupted: tuple[InterruptedSession, ...] = ()


def _sqlite_path(url: URL) -> Path:
    return Path(url.database or "").expanduser()


def _sqlite_pragmas(busy_timeout_s: float):
    def on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        _on_sqlite_connect(dbapi_conn, busy_timeout_s)

    return on_connect


def _on_sqlite_connect(dbapi_conn: sqlite3.Connection, busy_timeout_s: float) -> None:
    cur = dbapi_conn.cursor()
    try:
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA secure_delete=ON")
    finally:
        cur.close()


def make_engine(url: str, busy_timeout_s: float = 5.0) -> Engine:
    """An engine for ``url`` (validated); SQLite files are created with mode 0600.

    ``busy_timeout_s``: how long SQLite waits for another program's lock before the
    statement fails as "locked" (the writer then retries).
    """
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = _sqlite_path(parsed)
        try:
            paths.private_dir(path.parent)  # folders created here: 0700
            if not path.exists():
                paths.create_private(path)
            _restrict(path)
        except OSError as exc:
            raise StoreError(describe_error(exc, parsed)) from None
        engine = create_engine(parsed, connect_args={"timeout": busy_timeout_s})
        event.listen(engine, "connect", _sqlite_pragmas(busy_timeout_s))
        return engine
    try:
        return create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 5})
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise StoreError(describe_error(exc, parsed)) from None


def _restrict(path: Path) -> None:
    """Owner-only permissions on the database file and its WAL/SHM companions."""
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            if stat.S_IMODE(p.stat().st_mode) != 0o600:
                p.chmod(0o600)


def alembic_config(url: str):  # -> alembic.config.Config (imported lazily: slow import)
    from alembic.config import Config

    cfg = Config(str(MIGRATIONS_DIR.parent / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["url"] = url
    return cfg


def _migration_engine(url: str, busy_timeout_s: float = 30.0) -> Engine:
    """SQLite: an engine whose transactions really enclose DDL.

    Python's sqlite3 module commits before every statement that is not INSERT/UPDATE/
    DELETE, so by default each ``ALTER TABLE`` of a migration is committed on its own: a
    kill between two of them left a half-upgraded database that no later start could
    upgrade ("duplicate column name"). Here the driver's own transaction handling is off
    and every transaction starts with ``BEGIN IMMEDIATE``: the whole upgrade (schema
    changes and the new revision number) commits at once or not at all.
    """
    parsed = parse_url(url)
    engine = create_engine(parsed, connect_args={"timeout": busy_timeout_s})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        dbapi_conn.isolation_level = None  # the driver never commits on its own
        _on_sqlite_connect(dbapi_conn, busy_timeout_s)

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return {rev.revision for rev in script.walk_revisions()}


def newer_schema_message(revision: str) -> str:
    return (
        f"The database was written by a newer version of the console (schema revision "
        f"{revision}; this console knows revisions up to {head_revision()}). Nothing was "
        "changed. Update the console on this computer (or open the records with the "
        "newer one); 'python -m app db backup PATH' still makes a copy."
    )


def check_schema(engine: Engine) -> str:
    """The database's revision; StoreError if a newer console wrote it (unknown revision)."""
    revision = current_revision(engine)
    if revision and revision not in known_revisions():
        raise StoreError(newer_schema_message(revision))
    return revision


def upgrade_to_head(url: str, engine: Engine | None = None, revision: str = "head") -> str:
    """Apply the migrations up to ``revision`` in one transaction; returns the revision now
    in the database. A database of a newer schema is left untouched (StoreError).

    On SQLite the upgrade runs on its own connection in a real transaction (see
    :func:`_migration_engine`), so a kill at any moment leaves the old or the new revision.
    """
    from alembic import command
    from alembic.util import CommandError

    own = engine is None
    engine = engine or make_engine(url)
    sqlite = parse_url(url).get_backend_name() == "sqlite"
    migrator = _migration_engine(url) if sqlite else engine
    try:
        current = check_schema(migrator)
        if revision == "head" and current == head_revision():
            return current  # nothing to do: no write lock taken, nothing written
        with migrator.begin() as conn:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
        return current_revision(engine)
    except StoreError:
        raise
    except SQLAlchemyError as exc:
        log.error("schema upgrade failed: %s", scrub(str(exc), url))
        raise StoreError(describe_error(exc, url)) from None
    except CommandError as exc:
        log.error("schema upgrade failed: %s", scrub(str(exc), url))
        raise StoreError(
            "The database schema could not be upgraded (nothing was changed): "
            f"{str(exc).splitlines()[0]}"
        ) from None
    finally:
        if migrator is not engine:
            migrator.dispose()
        if own:
            engine.dispose()
        if sqlite:
            _restrict(_sqlite_path(parse_url(url)))


def current_revision(engine: Engine) -> str:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() or ""


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() or ""


HEARTBEAT_S = 5.0
STALE_AFTER_S = 60.0


def _writer_alive(row: TreatmentSession, now: dt.datetime, stale_after_s: float) -> bool:
    """True while another live console process is still recording ``row``."""
    if row.heartbeat_at is None or (now - row.heartbeat_at).total_seconds() > stale_after_s:
        return False
    if row.writer_host == socket.gethostname() and row.writer_pid is not None:
        return psutil.pid_exists(row.writer_pid)
    return True  # another computer, heartbeat fresh


def mark_interrupted_sessions(engine: Engine, stale_after_s: float = STALE_AFTER_S) -> int:
    """Open sessions (no outcome) whose console is gone are closed as interrupted.

    A console is gone when its writer closed without ending the session, its process on
    this computer no longer exists, or its heartbeat is older than ``stale_after_s``
    (another treatment room's console that stopped). Returns how many were closed.
    """
    return len(close_interrupted_sessions(engine, stale_after_s))


def close_interrupted_sessions(
    engine: Engine, stale_after_s: float = STALE_AFTER_S
) -> tuple[InterruptedSession, ...]:
    """As :func:`mark_interrupted_sessions`; returns what was closed. Each ends at the last
    sign of life the store has of it (:func:`_last_sign_of_life`)."""
    now = dt.datetime.now(dt.UTC)
    closed: list[InterruptedSession] = []
    with Session(engine) as s, s.begin():
        rows = s.scalars(select(TreatmentSession).where(TreatmentSession.outcome.is_(None))).all()
        gone = [r for r in rows if not _writer_alive(r, now, stale_after_s)]
        for row in gone:
            last = _last_sign_of_life(s, row, now)
            _end_steps_under_way(s, row.id)
            s.execute(
                update(TreatmentSession)
                .where(TreatmentSession.id == row.id)
                .values(outcome=Outcome.INTERRUPTED, ended_at=last, heartbeat_at=None)
            )
            closed.append(
                InterruptedSession(_utc(row.started_at), _utc(last), row.program, row.training)
            )
    if gone:
        log.warning("%d session(s) left open by an earlier run were marked interrupted", len(gone))
    return tuple(closed)


def _end_steps_under_way(s: Session, session_id: int) -> None:
    """The step its console was delivering when it went (written with its figures up to
    about a second before, app.engine.recorder) ended early: the session was interrupted."""
    from app.store.models import SessionStep
    from app.store.vocabulary import ENDED_EARLY, IN_PROGRESS

    for step in s.scalars(select(SessionStep).where(SessionStep.session_id == session_id)):
        if isinstance(step.parameters, dict) and IN_PROGRESS in step.parameters:
            params = {k: v for k, v in step.parameters.items() if k != IN_PROGRESS}
            step.parameters = {**params, ENDED_EARLY: Outcome.INTERRUPTED.value}


def _utc(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)


def _last_sign_of_life(s: Session, row: TreatmentSession, now: dt.datetime) -> dt.datetime:
    """When an interrupted session was last known to run: the latest of its last event,
    its console's last heartbeat (every 5 s while it was open) and its last recorded
    sample (the session's start plus the span of its recording, by the device's sample
    counter); its start when the store has none of them. Never later than ``now``."""
    from sqlalchemy import func

    from app.store.models import Event, RecordingChunk

    start = _utc(row.started_at)
    signs = [
        s.scalar(select(func.max(Event.timestamp)).where(Event.session_id == row.id)),
        row.heartbeat_at,
    ]
    first, end, n, seconds = s.execute(
        select(
            func.min(RecordingChunk.first_index),
            func.max(RecordingChunk.first_index + RecordingChunk.n),
            func.sum(RecordingChunk.n),
            func.sum(RecordingChunk.n / RecordingChunk.sample_rate),
        ).where(RecordingChunk.session_id == row.id)
    ).one()
    if n:
        rate = s.scalar(
            select(RecordingChunk.sample_rate)
            .where(RecordingChunk.session_id == row.id)
            .order_by(RecordingChunk.chunk_index.desc())
            .limit(1)
        )
        span = (end - first) / rate if rate else -1.0
        if not 0.0 <= span <= (now - start).total_seconds():
            span = float(seconds or 0.0)  # a counter that restarted: the samples' own time
        signs.append(start + dt.timedelta(seconds=span))
    known = [_utc(t) for t in signs if t is not None]
    return min(max(known), now) if known else start


def ensure_fixtures(engine: Engine) -> tuple[int, int]:
    """The training client and a default operator exist; returns their ids."""
    with Session(engine) as s, s.begin():
        client = s.scalar(
            select(Client).where(Client.is_training.is_(True)).order_by(Client.id).limit(1)
        )
        if client is None:
            client = Client(
                name=TRAINING_CLIENT_NAME,
                is_training=True,
                skin_notes="Built-in client for training sessions on the "
                "demo head; its sessions are marked as training.",
            )
            s.add(client)
        operator = s.scalar(select(Operator).order_by(Operator.id).limit(1))
        if operator is None:
            operator = Operator(name=DEFAULT_OPERATOR_NAME)
            s.add(operator)
        s.flush()
        return client.id, operator.id


def open_store(url: str | None = None) -> tuple[Engine, StoreInfo]:
    """Start-up: validate, connect, migrate, recover and seed. Raises :class:`StoreError`."""
    url = resolve_url(url)
    engine = make_engine(url)
    try:
        parsed = parse_url(url)
        if parsed.get_backend_name() == "sqlite":
            path = _sqlite_path(parsed)
            if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
                raise StoreError(
                    f"The database is read-only ({safe_url(parsed)}): nothing "
                    "could be recorded. Check the file's and folder's permissions."
                )
        revision = upgrade_to_head(url, engine)
        interrupted = close_interrupted_sessions(engine)
        training_id, operator_id = ensure_fixtures(engine)
    except StoreError:
        engine.dispose()
        raise
    except (SQLAlchemyError, OSError) as exc:
        engine.dispose()
        log.error("opening the records failed: %s", scrub(str(exc), url))
        raise StoreError(describe_error(exc, url)) from None
    except Exception as exc:  # noqa: BLE001 - never a traceback or a silent hang
        engine.dispose()
        log.exception("opening the records failed")
        raise StoreError(
            f"The client records could not be opened ({type(exc).__name__}); "
            "the details are in the console's log."
        ) from None
    info = StoreInfo(
        safe_url(url),
        parse_url(url).get_backend_name(),
        revision,
        len(interrupted),
        training_id,
        operator_id,
        interrupted,
    )
    return engine, info
