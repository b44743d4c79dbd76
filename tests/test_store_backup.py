"""Backups are atomic and verified: kill -9 at random moments of `db backup`, a copy that
fails its check is not kept, pg_dump never sees the password on its command line."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import stat
import subprocess
import time
from pathlib import Path

import pytest
from forked_children import kill_moments, kill_rounds, zygote_fixture
from sqlalchemy import text
from store_fixtures import pg_cluster, sqlite_url, store_url  # noqa: F401

from app.__main__ import main
from app.store import maintenance
from app.store.database import StoreError, make_engine, open_store

ROOT = Path(__file__).resolve().parents[1]

# Each child is forked from one process that imported all of this once
# (tests/forked_children.py).
PREAMBLE = """
from app.__main__ import main
from app.store import maintenance  # noqa: F401 - imported before the child starts
"""
RUN = """
url, dest = args
return main(["db", "backup", dest, "--database-url", url])
"""

backups = zygote_fixture(PREAMBLE, RUN)


def _with_ballast(url: str, megabytes: int) -> dict[str, int]:
    """A database big enough for a backup to take a while; returns its row counts."""
    engine, _ = open_store(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE TABLE ballast (id INTEGER PRIMARY KEY, b BYTEA)"
                    if engine.dialect.name == "postgresql"
                    else "CREATE TABLE ballast (id INTEGER PRIMARY KEY, b BLOB)"
                )
            )
            for i in range(megabytes):
                conn.execute(
                    text("INSERT INTO ballast (id, b) VALUES (:i, :b)"),
                    {"i": i, "b": os.urandom(1_000_000)},
                )
    finally:
        engine.dispose()
    return {"ballast": megabytes}


def _valid_sqlite_backup(path: Path, megabytes: int) -> bool:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM ballast").fetchone()[0] == megabytes
        assert conn.execute("SELECT count(*) FROM client").fetchone()[0] >= 1
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    finally:
        conn.close()
    return True


def _valid_pg_backup(path: Path) -> bool:
    listed = subprocess.run(
        ["pg_restore", "--list", str(path)], capture_output=True, text=True, check=True
    )
    assert "TABLE DATA public ballast" in listed.stdout
    assert "TABLE DATA public client" in listed.stdout
    return True


def test_kill_9_at_random_moments_of_db_backup_never_leaves_a_fake_backup(
    store_url,  # noqa: F811
    tmp_path,
    backups,
):
    """One kill in each slice of the backup's run (MICROCURRENT_KILL_ROUNDS: more): before
    the copy, during it, its check, and after the rename (a kept backup is complete)."""
    rng = random.Random(4)
    sqlite = store_url.startswith("sqlite")
    rounds = kill_rounds(4 if sqlite else 3)
    megabytes = 40 if sqlite else 8
    _with_ballast(store_url, megabytes)
    out = tmp_path / "out"
    out.mkdir()
    dest = out / "first.db"
    proc = backups.take(store_url, str(dest))
    t0 = time.monotonic()
    _, err = proc.communicate(timeout=120)
    duration = time.monotonic() - t0
    assert proc.returncode == 0, err
    kept = 0
    for i, moment in enumerate(kill_moments(rng, rounds, duration)):
        dest = out / f"backup-{i}.db"
        proc = backups.take(store_url, str(dest))
        time.sleep(moment)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        if dest.exists():  # killed after the rename: a complete, checked copy
            kept += 1
            assert stat.S_IMODE(dest.stat().st_mode) == 0o600
            assert _valid_sqlite_backup(dest, megabytes) if sqlite else _valid_pg_backup(dest)
            continue
        # killed before: nothing at the name, and the same name can be used again at once
        assert main(["db", "backup", str(dest), "--database-url", store_url]) == 0
        assert _valid_sqlite_backup(dest, megabytes) if sqlite else _valid_pg_backup(dest)
        # the killed backup's temporary file is gone (removed by the next backup)
        assert [p.name for p in out.iterdir() if maintenance.PARTIAL in p.name] == []
    assert kept < rounds  # the first slice is before the rename: never all kept


def test_a_backup_that_fails_its_check_is_not_kept(
    sqlite_url,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    engine, _ = open_store(sqlite_url)
    try:
        real = maintenance._table_counts
        calls = {"n": 0}

        def counts_on_the_copy_differ(conn):
            calls["n"] += 1
            got = real(conn)
            return got if calls["n"] == 1 else {**got, "client": got["client"] - 1}

        monkeypatch.setattr(maintenance, "_table_counts", counts_on_the_copy_differ)
        dest = tmp_path / "b.db"
        with pytest.raises(StoreError, match="row counts differ"):
            maintenance.backup(engine, dest)
        assert not dest.exists()
        assert [p.name for p in tmp_path.iterdir() if maintenance.PARTIAL in p.name] == []
        monkeypatch.setattr(maintenance, "_table_counts", real)
        # a damaged copy: its integrity check fails
        path = tmp_path / "damaged.db"
        path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 4000)
        with pytest.raises(StoreError, match="check"):
            maintenance._verify_sqlite(path, {"client": 1})
        assert maintenance.backup(engine, dest) == dest
        assert _valid_sqlite_backup_no_ballast(dest)
    finally:
        engine.dispose()


def _valid_sqlite_backup_no_ballast(path: Path) -> bool:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


FAKE_PG_DUMP = """#!/bin/sh
printf '%s\\n' "$@" > "{log}"
printf '%s' "$PGPASSWORD" > "{log}.env"
printf 'not a dump' > "$4"
"""


def test_pg_dump_gets_the_password_from_the_environment_never_its_command_line(
    tmp_path, monkeypatch, capsys
):
    log = tmp_path / "argv"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "pg_dump"
    fake.write_text(FAKE_PG_DUMP.format(log=log))
    fake.chmod(0o700)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("PGPASSWORD", raising=False)
    secret = "s3cr@t-Pw"
    for url in (
        f"postgresql+psycopg://clinic:{secret}@db.example/records",
        "postgresql+psycopg://clinic@db.example/records?password=s3cr%40t-Pw",
    ):
        engine = make_engine(url)
        try:
            monkeypatch.setattr(engine, "connect", _fake_connect)
            with pytest.raises(StoreError) as err:
                maintenance.backup(engine, tmp_path / "b.dump")
        finally:
            engine.dispose()
        argv = log.read_text()
        assert "s3cr" not in argv, argv
        assert "Pw" not in argv, argv
        assert "clinic@db.example" in argv
        assert (tmp_path / "argv.env").read_text() == secret
        assert "s3cr" not in str(err.value)
        assert "failed its check" in str(err.value)  # the fake "dump" is not kept
        assert not (tmp_path / "b.dump").exists()


class _FakeConn:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, *_args):
        return [("client",)]


def _fake_connect():
    return _FakeConn()


def test_backup_of_a_postgres_url_with_a_password(pg_cluster, tmp_path):  # noqa: F811
    url = pg_cluster.new_database()
    engine, _ = open_store(url)
    engine.dispose()
    with_password = url.replace("postgres@", "postgres:pa%40ss@")
    assert main(["db", "backup", str(tmp_path / "b.dump"), "--database-url", with_password]) == 0
    listed = subprocess.run(
        ["pg_restore", "--list", str(tmp_path / "b.dump")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "TABLE DATA public client" in listed.stdout
