"""Store fixtures: a throwaway PostgreSQL cluster, and a URL per backend.

Use from a test module with ``pytest_plugins = ["tests.store_fixtures"]`` or by importing
the fixtures. ``store_url`` is parametrized over SQLite and PostgreSQL; each test gets a
fresh, empty database. The PostgreSQL cluster (one per test session) lives in a temporary
folder, listens on a Unix socket only, and is skipped — with the reason — only when no
server binaries exist (scripts/test.sh installs them). initdb refuses to run as root, so
as root the cluster runs as ``nobody``.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def _pg_bindir() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PgCluster:
    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="mc-pg-"))
        self.data = self.root / "data"
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            os.chown(self.root, 65534, 65534)  # nobody
            self.prefix = ["runuser", "-u", "nobody", "--"]
        self._counter = itertools.count(1)

    def _run(self, *args: str) -> None:
        proc = subprocess.run(
            self.prefix + list(args), capture_output=True, text=True, timeout=60, cwd=self.root
        )
        if proc.returncode != 0:
            log = (self.root / "log").read_text() if (self.root / "log").exists() else ""
            raise RuntimeError(f"{args[0]} failed: {proc.stdout}{proc.stderr}{log}")

    def start(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )
        opts = (
            f"-k {self.root} -p 5432 -c listen_addresses='' -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            opts,
            "-l",
            str(self.root / "log"),
            "-w",
            "-t",
            "30",
            "start",
        )

    def stop(self) -> None:
        try:
            self._run(
                str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"
            )
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.root}&port=5432"

    def new_database(self) -> str:
        import psycopg

        name = f"store_test_{next(self._counter)}"
        with psycopg.connect(
            host=str(self.root), port=5432, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb) are not installed: "
            "scripts/test.sh installs them (apt package 'postgresql')"
        )
    cluster = PgCluster(bindir)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'records.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'records.db'}"
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return cluster.new_database()


def save_clinic(writer, engine, settings) -> int:
    """Save the clinic's settings (``ClinicSettings``, or a raw stored object) through
    ``writer`` as a room does: from the version stored now (read after what the writer
    already holds is committed). Returns the new version."""
    from app.engine.limits import ClinicSettings
    from app.service.clinic_limits import settings_to_dict
    from app.store.clinic import SaveClinicSettings, read_clinic

    assert writer.flush(10)
    record = read_clinic(engine)
    values = settings_to_dict(settings) if isinstance(settings, ClinicSettings) else settings
    request = SaveClinicSettings(values, record.version if record.exists else 0)
    return writer.submit(request).result(10)
