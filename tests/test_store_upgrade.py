"""Upgrades cannot break a database: kill -9 at random moments of `db upgrade`, and a
database written by a newer console (unknown schema revision)."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import pytest
from forked_children import kill_moments, kill_rounds, zygote_fixture
from sqlalchemy import inspect, text
from store_fixtures import pg_cluster, sqlite_url, store_url  # noqa: F401

from app.__main__ import main
from app.store import services
from app.store.database import (
    StoreError,
    current_revision,
    head_revision,
    make_engine,
    open_store,
    upgrade_to_head,
)

ROOT = Path(__file__).resolve().parents[1]

# The child upgrades through the command line; every statement is slowed down so that
# the kill lands inside the migration most of the time. Each child is forked from one
# process that imported all of this once (tests/forked_children.py).
PREAMBLE = """
import time
from sqlalchemy import event
from sqlalchemy.engine import Engine
import alembic.command  # noqa: F401 - imported before the child starts: only the upgrade is timed
from app.__main__ import main
from app.store import database  # noqa: F401

@event.listens_for(Engine, "before_cursor_execute")
def _slow(*_args):
    time.sleep(0.01)
"""
RUN = """
(url,) = args
return main(["db", "upgrade", "--database-url", url])
"""

upgrades = zygote_fixture(PREAMBLE, RUN)


def _old_database(url: str) -> None:
    assert upgrade_to_head(url, revision="0001") == "0001"
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO client (name, contact, skin_notes, is_training, created_at, "
                    "updated_at) VALUES ('Old Client', '', 'dry', false, '2026-01-01', "
                    "'2026-01-01')"
                )
            )
    finally:
        engine.dispose()


def _fresh_url(store_url: str, request, i: int, tmp_path: Path) -> str:  # noqa: F811
    if store_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / f'records-{i}.db'}"
    return request.getfixturevalue("pg_cluster").new_database()


def test_kill_9_at_random_moments_of_db_upgrade_leaves_old_or_new_revision(
    store_url,  # noqa: F811
    request,
    tmp_path,
    upgrades,
):
    """One kill in each quarter of the upgrade's run (MICROCURRENT_KILL_ROUNDS: more): the
    child's start, the migration's statements (slowed down) and its commit and exit."""
    rng = random.Random(1313)
    rounds = kill_rounds(4 if store_url.startswith("sqlite") else 3)
    # how long an upgrade takes in the child (from its start to its exit)
    url = _fresh_url(store_url, request, 0, tmp_path)
    _old_database(url)
    proc = upgrades.take(url)
    t0 = time.monotonic()
    out, err = proc.communicate(timeout=60)
    duration = time.monotonic() - t0
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    seen: set[str] = set()
    for i, moment in enumerate(kill_moments(rng, rounds, duration * 0.9), start=1):
        url = _fresh_url(store_url, request, i, tmp_path)
        _old_database(url)
        proc = upgrades.take(url)
        time.sleep(moment)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        engine = make_engine(url)
        try:
            revision = current_revision(engine)
            seen.add(revision)
            # one transaction: never a revision in between, never a half-added column
            assert revision in ("0001", head_revision()), (i, revision)
            columns = {c["name"] for c in inspect(engine).get_columns("client")}
            assert ("current_limit_ua" in columns) == (revision != "0001"), (i, revision)
            if engine.dialect.name == "sqlite":
                with engine.connect() as conn:
                    assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        finally:
            engine.dispose()
        # the next start opens and upgrades; the old data is there
        engine, info = open_store(url)
        try:
            assert info.revision == head_revision()
            assert [c.name for c in services.search_clients(engine, "old client")] == ["Old Client"]
        finally:
            engine.dispose()
    assert seen, seen


def _newer_database(url: str) -> None:
    engine, _ = open_store(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    finally:
        engine.dispose()


def _snapshot(url: str) -> object:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, name, updated_at FROM client ORDER BY id")).all()
            sessions = conn.execute(text("SELECT count(*) FROM treatment_session")).scalar()
            rev = current_revision(engine)
        return rows, sessions, rev
    finally:
        engine.dispose()


def test_a_newer_schema_gets_a_clear_message_everywhere_and_nothing_is_written(
    store_url,  # noqa: F811
    tmp_path,
    capsys,
):
    _newer_database(store_url)
    before = _snapshot(store_url)
    with pytest.raises(StoreError, match="newer version of the console") as err:
        open_store(store_url)
    assert "0099" in str(err.value)
    for args in (
        ["upgrade"],
        ["export-client", "1", str(tmp_path / "e.zip")],
        ["erase-client", "2", "--yes"],
    ):
        assert main(["db", *args, "--database-url", store_url]) == 1
        out = capsys.readouterr()
        assert "newer version of the console" in out.err, args
        assert "Traceback" not in out.err
    assert not (tmp_path / "e.zip").exists()
    # the console's store opening (on its own thread, as the console does): a message,
    # not a hang
    from concurrent.futures import ThreadPoolExecutor

    from app.ui.launcher import open_records

    with ThreadPoolExecutor(1) as pool:
        store, why = pool.submit(open_records, store_url).result(60)
    assert store is None
    assert "newer version of the console" in why
    capsys.readouterr()
    assert _snapshot(store_url) == before  # nothing written
    # a backup still works
    dest = tmp_path / "newer-backup.db"
    assert main(["db", "backup", str(dest), "--database-url", store_url]) == 0, (
        capsys.readouterr().err
    )
    assert dest.exists()
