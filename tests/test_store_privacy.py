"""Nothing secret or personal leaks: passwords masked in every form, store errors in
words (no SQL, no values), files holding health data or secrets 0600 in 0700 folders."""

from __future__ import annotations

import datetime as dt
import logging
import os
import stat
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session
from store_fixtures import pg_cluster, sqlite_url, store_url  # noqa: F401

from app import paths
from app.store.database import (
    StoreError,
    describe_error,
    open_store,
    parse_url,
    safe_url,
    user_message,
)
from app.store.models import Note
from app.store.validation import ClientData
from app.store.writer import StoreWriter

SECRET = "s3cr@tPW"
NAME = "Zelda Quixotic-Farnsworth"
PERSONAL = (NAME, "Quixotic", "rosacea flare", "zelda@example.org")


def _no_secret(message: str) -> None:
    for piece in ("s3cr", "tPW", "s3cr%40tPW"):
        assert piece not in message, message


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://clinic:{SECRET}@/records?host={{tmp}}&port=1",  # unencoded @
        "postgresql+psycopg://clinic:s3cr%40tPW@/records?host={tmp}&port=1",
        "postgresql+psycopg://clinic@/records?host={tmp}&port=1&password=s3cr%40tPW",
        f"postgresql+psycopg://clinic@/records?password={SECRET}&host={{tmp}}&port=1",
    ],
)
def test_postgres_passwords_are_masked_in_every_message(url, tmp_path):
    url = url.format(tmp=tmp_path)
    _no_secret(safe_url(url))
    assert parse_url(url).password == SECRET  # read whole, whichever way it was written
    assert parse_url(url).host is None
    with pytest.raises(StoreError) as err:
        open_store(url)
    assert "Cannot reach the database server" in str(err.value)
    _no_secret(str(err.value))
    # a driver message quoting the password is scrubbed too
    _no_secret(describe_error(RuntimeError(f"bad option near {SECRET}"), url))
    _no_secret(describe_error(RuntimeError("bad option near s3cr%40tPW"), url))


def _failed_write(engine, when: dt.datetime) -> SQLAlchemyError:
    """A real database error on a statement carrying personal data."""
    try:
        with Session(engine) as s, s.begin():
            s.add(
                Note(
                    client_id=987654,
                    text=f"{NAME}: rosacea flare, zelda@example.org",
                    created_at=when,
                )
            )
    except SQLAlchemyError as exc:
        return exc
    raise AssertionError("no database error")


def test_store_errors_on_screen_never_show_sql_or_values(store_url, caplog):  # noqa: F811
    engine, _ = open_store(store_url)
    try:
        exc = _failed_write(engine, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        assert isinstance(exc, IntegrityError)
        assert NAME in str(exc)  # the raw error does carry them (the test can fail)
        caplog.set_level(logging.ERROR)
        for shown in (describe_error(exc, engine.url), user_message(exc, engine.url)):
            for value in PERSONAL:
                assert value not in shown
            for sql in ("INSERT", "[SQL", "parameters", "note ("):
                assert sql not in shown
            assert "refused the record" in shown
            assert "Reload" in shown
        # the detail is in the log, for the technician
        assert any("INSERT" in r.getMessage() for r in caplog.records)
        # an error raised while binding the values (naive time): no SQL, no values either
        exc = _failed_write(engine, dt.datetime(2026, 1, 1))
        assert NAME in str(exc)
        shown = user_message(exc, engine.url)
        assert "database reported an error" in shown
        for value in (*PERSONAL, "INSERT", "[SQL"):
            assert value not in shown
        # through the writer: the listener and the future get words, nothing else
        messages: list[str] = []
        got = threading.Event()
        w = StoreWriter(engine, lambda m: (messages.append(m), got.set()))
        try:
            fut = w.add_note(987654, f"{NAME} has a rosacea flare")
            with pytest.raises(StoreError) as err:
                fut.result(5)
            assert got.wait(5)
        finally:
            w.close()
        for shown in (*messages, str(err.value)):
            assert "A note could not be stored" in shown
            for value in PERSONAL:
                assert value not in shown
            assert "INSERT" not in shown
    finally:
        engine.dispose()


def test_records_widgets_show_store_errors_in_words(qtbot, sqlite_url):  # noqa: F811
    from app.ui.records.bridge import RecordsStore

    engine, info = open_store(sqlite_url)
    writer = StoreWriter(engine)
    store = RecordsStore(engine, writer, info.default_operator_id)
    try:
        with qtbot.waitSignal(store.error_occurred, timeout=5000) as got:
            store.when_done(
                writer.add_note(987654, f"{NAME}: rosacea flare"), what="saving the note"
            )
        [message] = got.args
        assert message.startswith("Error while saving the note: ")
        for value in (*PERSONAL, "INSERT", "[SQL"):
            assert value not in message
    finally:
        writer.close()
        engine.dispose()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_console_files_are_private_from_creation(tmp_path, monkeypatch, umask_022):
    from PySide6.QtCore import QSettings

    home = tmp_path / "new" / "home"
    monkeypatch.setenv("MICROCURRENT_HOME", str(home))
    settings = paths.settings_file()
    assert _mode(home) == 0o700
    assert _mode(settings) == 0o600
    qs = QSettings(str(settings), QSettings.Format.IniFormat)
    qs.setValue("technician/pin_hash", "abc")
    qs.sync()
    assert qs.status() == QSettings.Status.NoError
    assert "pin_hash" in settings.read_text()
    assert _mode(settings) == 0o600  # QSettings rewrote it and kept the mode
    log = paths.log_file()
    assert _mode(log) == 0o600
    assert _mode(log.parent) == 0o700
    # an existing, too open settings file is restricted
    settings.chmod(0o644)
    assert _mode(paths.settings_file()) == 0o600
    # open_private: files written by the console
    with paths.open_private(tmp_path / "report.csv", "w") as fh:
        fh.write("x")
    assert _mode(tmp_path / "report.csv") == 0o600
    # a scope capture exported as CSV
    import numpy as np

    from app.scope.core.capture import Capture, parse_csv, write_csv

    t = np.arange(5) / 1000.0
    write_csv(tmp_path / "capture.csv", Capture(1000.0, 0, 0, t * 100, t / 10))
    assert _mode(tmp_path / "capture.csv") == 0o600
    assert parse_csv((tmp_path / "capture.csv").read_text()).current_ua.size == 5


def test_database_folders_0700_and_files_0600_with_wal_and_shm(tmp_path, umask_022):
    folder = tmp_path / "a" / "b"
    engine, info = open_store(f"sqlite:///{folder / 'records.db'}")
    w = StoreWriter(engine)
    try:
        w.save_client(ClientData(NAME)).result(5)
        with engine.connect() as conn:  # keeps the WAL and SHM files in place
            conn.execute(text("SELECT count(*) FROM client")).scalar()
            for name in ("records.db", "records.db-wal", "records.db-shm"):
                assert _mode(folder / name) == 0o600, name
    finally:
        w.close()
        engine.dispose()
    assert _mode(tmp_path / "a") == 0o700
    assert _mode(folder) == 0o700
