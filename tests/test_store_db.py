"""The records store on SQLite and on a real PostgreSQL server (tests/store_fixtures.py)."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import stat
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from store_fixtures import pg_cluster, sqlite_url, store_url  # noqa: F401

from app.__main__ import main
from app.device.samples import SampleBlock
from app.store import maintenance, services
from app.store.database import (
    StoreError,
    head_revision,
    make_engine,
    open_store,
    upgrade_to_head,
)
from app.store.models import Client, Event, Outcome, RecordingChunk, TreatmentSession
from app.store.screening import Status, add_months, load_questionnaire
from app.store.validation import ClientData, validate_client
from app.store.writer import StoreWriter, count_rows

RATE = 1000.0
T0 = dt.datetime(2026, 1, 1, 9, 0)
SECRET_NAME = "Zelda Quixotic-Farnsworth"


@pytest.fixture
def store(store_url):  # noqa: F811
    engine, info = open_store(store_url)
    yield engine, info
    engine.dispose()


class Errors:
    def __init__(self) -> None:
        self.messages: list[str] = []
        self.got = threading.Event()

    def __call__(self, message: str) -> None:
        self.messages.append(message)
        self.got.set()


def block(first: int, n: int) -> SampleBlock:
    t = (first + np.arange(n)) / RATE
    cur = (200 * np.sin(2 * np.pi * 10 * t)).astype(np.float32)
    return SampleBlock(
        first,
        RATE,
        cur,
        (cur / 100).astype(np.float32),
        np.full(n, 200, np.float32),
        np.zeros(n, np.uint8),
        np.zeros(n, bool),
    )


def write_session(
    w: StoreWriter,
    client_id: int,
    operator_id: int,
    seconds: float = 2.5,
    outcome: Outcome = Outcome.COMPLETED,
) -> str:
    uid = w.begin_session(
        client_id,
        operator_id=operator_id,
        program="Lift & tone",
        device_serial="MC-0042",
        firmware="1.3.0",
    )
    w.add_event(uid, "state", {"to": "running"})
    for first in range(0, int(seconds * RATE), 50):
        w.add_samples(uid, block(first, 50))
    w.add_event(uid, "parameter", {"amplitude_ua": 200})
    w.add_step(
        uid,
        0,
        "forehead",
        {"frequency_hz": 10, "amplitude_ua": 200},
        60,
        58.5,
        charge_uc=2.9,
        mean_current_ua=190.0,
        mean_impedance_ohm=12000.0,
    )
    w.add_step(
        uid,
        1,
        "cheeks",
        {"frequency_hz": 0.5, "amplitude_ua": 100},
        60,
        60.0,
        charge_uc=1.5,
        mean_current_ua=95.0,
        mean_impedance_ohm=14000.0,
    )
    w.add_event(uid, "alarm", {"code": "HIGH_IMPEDANCE"})
    w.end_session(uid, outcome)
    return uid


# ---------------------------------------------------------------- schema and start-up


def test_open_store_migrates_and_seeds(store):
    engine, info = store
    assert info.revision == head_revision() == "0014"
    assert info.interrupted_sessions == 0
    clients = services.search_clients(engine)
    assert [(c.id, c.is_training) for c in clients] == [(info.training_client_id, True)]
    # opening again changes nothing
    engine2, info2 = open_store(str(engine.url.render_as_string(hide_password=False)))
    engine2.dispose()
    assert info2.training_client_id == info.training_client_id
    assert len(services.search_clients(engine)) == 1


def test_sqlite_file_is_private_with_wal_and_foreign_keys(sqlite_url):  # noqa: F811
    engine, _ = open_store(sqlite_url)
    try:
        path = Path(engine.url.database)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_migration_from_previous_revision_keeps_data(store_url):  # noqa: F811
    assert upgrade_to_head(store_url, revision="0001") == "0001"
    engine = make_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO client (name, contact, skin_notes, is_training, created_at, "
                    "updated_at) VALUES ('Old Client', '', 'dry', false, :t, :t)"
                ),
                {"t": dt.datetime(2026, 1, 1)},
            )
    finally:
        engine.dispose()
    engine, info = open_store(store_url)
    try:
        assert info.revision == head_revision()
        old = [c for c in services.search_clients(engine, "old client")]
        assert len(old) == 1
        record = services.get_client(engine, old[0].id)
        assert record.skin_notes == "dry"
        assert record.current_limit_ua is None
        w = StoreWriter(engine)
        try:
            w.add_note(old[0].id, "written after the migration").result(5)
        finally:
            w.close()
        assert services.get_client(engine, old[0].id).notes[0][1] == "written after the migration"
    finally:
        engine.dispose()


def test_migration_from_the_previous_revision_recovers_open_sessions(store_url):  # noqa: F811
    assert upgrade_to_head(store_url, revision="0002") == "0002"
    engine = make_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO client (id, name, contact, skin_notes, is_training, created_at, "
                    "updated_at) VALUES (7, 'Kim', '', '', false, :t, :t)"
                ),
                {"t": T0},
            )
            conn.execute(
                text(
                    "INSERT INTO treatment_session (uid, client_id, program, device_serial, "
                    "firmware, started_at, training) VALUES ('u-1', 7, 'P', '', '', :t, false)"
                ),
                {"t": T0},
            )
    finally:
        engine.dispose()
    engine, info = open_store(store_url)
    try:
        assert info.revision == head_revision()
        assert info.interrupted_sessions == 1
        detail = services.session_detail(engine, "u-1")
        assert detail.summary.outcome is Outcome.INTERRUPTED
    finally:
        engine.dispose()


def test_a_session_still_recorded_by_a_live_console_is_left_open(store_url):  # noqa: F811
    """Several rooms share one PostgreSQL database: starting a console in room B must not
    close room A's running session; a room whose heartbeat stopped is closed."""
    engine, info = open_store(store_url)
    w = StoreWriter(engine)
    try:
        live = w.begin_session(info.training_client_id, program="Room A")
        gone = w.begin_session(info.training_client_id, program="Room C")
        assert w.flush(5)
        with Session(engine) as s, s.begin():  # room C: another computer, silent for 2 min
            row = s.scalar(select(TreatmentSession).where(TreatmentSession.uid == gone))
            row.writer_host = "room-c.example"
            row.heartbeat_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)
        w._open.discard(gone)  # room C's writer is not this one
        engine_b, info_b = open_store(store_url)  # room B starts
        engine_b.dispose()
        assert info_b.interrupted_sessions == 1
        assert services.session_detail(engine, live).summary.outcome is None
        assert services.session_detail(engine, gone).summary.outcome is Outcome.INTERRUPTED
    finally:
        w.close()
    engine.dispose()


def test_bad_urls_get_clear_messages(tmp_path):
    cases = {
        "not a url at all": "is not a database URL",
        "mysql://u@h/db": "Database type 'mysql' is not supported",
        "sqlite://": "need a database file",
        "postgresql+psycopg2://u@h/db": "driver 'psycopg2' is not supported",
        f"postgresql+psycopg://u@/db?host={tmp_path}&port=1": "Cannot reach the database server",
    }
    for url, message in cases.items():
        with pytest.raises(StoreError, match=message) as err:
            open_store(url)
        assert "Traceback" not in str(err.value)


def test_password_never_appears_in_messages(tmp_path):
    with pytest.raises(StoreError) as err:
        open_store(f"postgresql+psycopg://user:hunter2@/db?host={tmp_path}&port=1")
    assert "hunter2" not in str(err.value)


def test_damaged_database_gets_a_clear_message(tmp_path):
    path = tmp_path / "records.db"
    path.write_bytes(b"this is not a database, just some bytes" * 200)
    with pytest.raises(StoreError, match="damaged"):
        open_store(f"sqlite:///{path}")


def test_missing_folder_is_created_and_unwritable_place_is_explained(tmp_path):
    engine, _ = open_store(f"sqlite:///{tmp_path / 'new' / 'folder' / 'r.db'}")
    engine.dispose()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="Cannot use the database file"):
        open_store(f"sqlite:///{blocker / 'r.db'}")


# ---------------------------------------------------------------- the writer


def test_writer_round_trip_through_the_read_services(store):
    engine, info = store
    errors = Errors()
    w = StoreWriter(engine, errors)
    try:
        cid = w.save_client(
            ClientData(SECRET_NAME, dt.date(1985, 3, 2), "0123 456", "sensitive skin", 150.0)
        ).result(5)
        answers = {
            i.id: (False if i.type == "yes_no" else None)
            for i in load_questionnaire().items
            if i.asked
        }
        today = dt.date.today()
        w.add_screening(cid, answers, today, add_months(today, 6), operator_id=1, based_on=None)
        w.add_consent(cid, "consent-2026-01", based_on=None)
        w.add_note(cid, "Prefers low intensity")
        uid = write_session(w, cid, info.default_operator_id)
        assert w.flush(5)
    finally:
        assert w.close()
    assert errors.messages == []
    record = services.get_client(engine, cid)
    assert (record.name, record.current_limit_ua, record.consent_version) == (
        SECRET_NAME,
        150.0,
        "consent-2026-01",
    )
    assert record.notes[0][1] == "Prefers low intensity"
    assert services.screening_status(engine, cid).status is Status.CLEARED
    [summary] = services.session_history(engine, cid)
    assert summary.uid == uid
    assert summary.outcome is Outcome.COMPLETED
    assert not summary.training
    assert summary.duration_s is not None
    assert summary.duration_s >= 0
    assert summary.charge_uc == pytest.approx(4.4)
    assert summary.mean_current_ua == pytest.approx((190 * 58.5 + 95 * 60) / 118.5)
    detail = services.session_detail(engine, uid)
    assert [e.kind for e in detail.events] == ["state", "parameter", "alarm"]
    assert [s.zone for s in detail.steps] == ["forehead", "cheeks"]
    assert detail.recorded_samples == 2500
    assert detail.chunks == 3  # 1 s + 1 s + the last half second
    rec = services.load_recording(engine, summary.id)
    expected = block(0, 2500)
    np.testing.assert_array_equal(rec.current_ua, expected.current_ua)
    np.testing.assert_array_equal(rec.voltage_v, expected.voltage_v)
    assert rec.t_s[-1] == pytest.approx(2.499)
    assert [c.name for c in services.search_clients(engine, "quixotic")] == [SECRET_NAME]
    assert services.search_clients(engine, "nobody-like-this") == []


def test_training_client_sessions_are_training(store):
    engine, info = store
    w = StoreWriter(engine)
    try:
        write_session(w, info.training_client_id, info.default_operator_id, seconds=0.2)
        assert w.flush(5)
    finally:
        w.close()
    [summary] = services.session_history(engine, info.training_client_id)
    assert summary.training
    assert services.screening_status(engine, info.training_client_id).status is Status.CLEARED


def test_sessions_left_open_are_marked_interrupted_at_next_start(store_url):  # noqa: F811
    engine, info = open_store(store_url)
    w = StoreWriter(engine)
    try:
        uid = w.begin_session(info.training_client_id, program="Demo")
        w.add_event(
            uid,
            "state",
            {"to": "running"},
            timestamp=dt.datetime(2026, 11, 24, 10, 0, 5, tzinfo=dt.UTC),
        )
        assert w.flush(5)
    finally:
        w.close()
    engine.dispose()
    engine, info = open_store(store_url)
    try:
        assert info.interrupted_sessions == 1
        detail = services.session_detail(engine, uid)
        assert detail.summary.outcome is Outcome.INTERRUPTED
        assert detail.summary.ended_at == dt.datetime(2026, 11, 24, 10, 0, 5, tzinfo=dt.UTC)
    finally:
        engine.dispose()


def test_an_interrupted_session_ends_at_its_last_sign_of_life(store_url):  # noqa: F811
    """A console killed mid-session leaves its last event early (nothing happened for
    a while) but samples and heartbeats until the kill: the session ends at the latest of
    them, and the start that closes it says which sessions, in client-safe facts."""
    engine, info = open_store(store_url)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    w = StoreWriter(engine)
    try:
        # A: events for 1 s, then 9 s of samples (by the device's counter), no heartbeat
        start_a = now - dt.timedelta(minutes=5)
        a = w.begin_session(info.training_client_id, program="full_face_lift", started_at=start_a)
        w.add_event(a, "transition", {"to": "running"}, start_a + dt.timedelta(seconds=1))
        w.add_sample_arrays(a, 5000, RATE, np.ones(9000), np.ones(9000))
        # B: 2 s of samples, but its console's heartbeat said it ran 30 s (then was killed)
        start_b = now - dt.timedelta(seconds=50)
        b = w.begin_session(info.training_client_id, program="eye_area", started_at=start_b)
        w.add_event(b, "transition", {"to": "running"}, start_b)
        w.add_sample_arrays(b, 0, RATE, np.ones(2000), np.ones(2000))
        assert w.flush(5)
        with Session(engine) as s, s.begin():
            row = s.scalar(select(TreatmentSession).where(TreatmentSession.uid == b))
            row.heartbeat_at = start_b + dt.timedelta(seconds=30)
            row.writer_pid = 99_999_999  # its process is gone
        w._open.discard(b)  # killed: its writer never cleared the heartbeat
    finally:
        w.close()
    engine.dispose()
    engine, info = open_store(store_url)
    try:
        assert info.interrupted_sessions == 2
        ends = {
            x.uid: x.ended_at for x in (services.session_detail(engine, u).summary for u in (a, b))
        }
        assert abs((ends[a] - start_a).total_seconds() - 9.0) < 0.01
        assert ends[b] == start_b + dt.timedelta(seconds=30)
        told = sorted(info.interrupted, key=lambda x: x.started_at)
        assert [(x.program, x.started_at, x.ended_at) for x in told] == [
            ("full_face_lift", start_a, ends[a]),
            ("eye_area", start_b, ends[b]),
        ]
        assert all(x.training for x in told)
        _engine, again = open_store(store_url)  # said once: the next start finds none
        _engine.dispose()
        assert again.interrupted == ()
    finally:
        engine.dispose()


def test_an_invalid_request_fails_alone_and_is_reported(store):
    engine, info = store
    errors = Errors()
    w = StoreWriter(engine, errors)
    try:
        good = w.begin_session(info.training_client_id)
        bad_event = w.add_event("no-such-session", "state")
        bad_client = w.save_client(ClientData("  "))
        w.add_event(good, "state", {"to": "running"})
        assert w.flush(5)
        with pytest.raises(ValueError, match="not in the database"):
            bad_event.result(1)
        with pytest.raises(ValueError, match="Name: enter the client's name"):
            bad_client.result(1)
    finally:
        w.close()
    assert any("not in the database" in m for m in errors.messages)
    assert [e.kind for e in services.session_detail(engine, good).events] == ["state"]


def test_writer_keeps_and_retries_writes_while_the_database_is_locked(sqlite_url):  # noqa: F811
    engine, info = open_store(sqlite_url)
    engine.dispose()
    engine = make_engine(sqlite_url, busy_timeout_s=0.05)
    locker = sqlite3.connect(engine.url.database, isolation_level=None)
    errors = Errors()
    w = StoreWriter(engine, errors, retry_s=0.05)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        uid = w.begin_session(info.training_client_id)
        fut = w.add_event(uid, "state", {"to": "running"})
        assert errors.got.wait(5)
        assert "locked by another program" in errors.messages[0]
        assert not fut.done()
        locker.execute("COMMIT")
        fut.result(5)
    finally:
        locker.close()
        w.close()
    assert [e.kind for e in services.session_detail(engine, uid).events] == ["state"]
    engine.dispose()


def test_read_only_database_is_reported_and_close_says_writes_were_lost(sqlite_url):  # noqa: F811
    engine, info = open_store(sqlite_url)
    engine.dispose()
    path = make_engine(sqlite_url).url.database
    from sqlalchemy import create_engine

    ro = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    errors = Errors()
    w = StoreWriter(ro, errors, retry_s=0.05)
    try:
        w.begin_session(info.training_client_id)
        assert errors.got.wait(5)
        assert "read-only" in errors.messages[0]
    finally:
        assert not w.close(timeout=0.3)
    assert "could not be written" in errors.messages[-1]
    ro.dispose()


def test_client_validation_names_the_field():
    today = dt.date(2026, 11, 24)
    assert (
        validate_client(ClientData("Ann", dt.date(1990, 1, 1), current_limit_ua=300), today) == []
    )
    problems = validate_client(
        ClientData("", dt.date(2027, 1, 1), "x" * 301, "", float("nan")), today
    )
    assert [p.split(":")[0] for p in problems] == [
        "Name",
        "Date of birth",
        "Contact",
        "Current limit",
    ]
    assert validate_client(ClientData("A", current_limit_ua=1200), today)[0].startswith(
        "Current limit"
    )


# ---------------------------------------------------------------- erase, export, backup


def _fill_client(engine, info) -> int:
    w = StoreWriter(engine)
    try:
        cid = w.save_client(
            ClientData(SECRET_NAME, dt.date(1985, 3, 2), "zelda@example.org", "rosacea")
        ).result(5)
        w.add_note(cid, f"{SECRET_NAME} asked for a gentler program")
        w.add_consent(cid, "consent-2026-01", based_on=None)
        write_session(w, cid, info.default_operator_id, seconds=1.5)
        other = w.save_client(ClientData("Other Person")).result(5)
        write_session(w, other, info.default_operator_id, seconds=0.5)
        assert w.flush(5)
    finally:
        w.close()
    return cid


def test_erase_client_removes_every_row(store):
    engine, info = store
    cid = _fill_client(engine, info)
    counts = maintenance.erase_client(engine, cid)
    assert counts["client"] == 1
    assert counts["recording_chunk"] == 2
    assert counts["event"] == 3
    with Session(engine) as s:
        assert s.get(Client, cid) is None
        assert s.scalars(select(TreatmentSession.client_id)).all() == [
            c.id for c in services.search_clients(engine, "other person")
        ]
    assert count_rows(engine, RecordingChunk) == 1
    assert count_rows(engine, Event) == 3
    with pytest.raises(StoreError, match="no client with id"):
        maintenance.erase_client(engine, cid)
    with pytest.raises(StoreError, match="training client cannot be erased"):
        maintenance.erase_client(engine, info.training_client_id)


def _db_bytes(path: Path) -> bytes:
    data = b""
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if p.exists():
            data += p.read_bytes()
    return data


def test_erase_client_leaves_no_trace_in_the_sqlite_file(sqlite_url):  # noqa: F811
    engine, info = open_store(sqlite_url)
    path = Path(engine.url.database)
    try:
        cid = _fill_client(engine, info)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        assert SECRET_NAME.encode() in _db_bytes(path)  # the test can fail
        assert main(["db", "erase-client", str(cid), "--yes", "--database-url", sqlite_url]) == 0
    finally:
        engine.dispose()
    data = _db_bytes(path)
    for secret in (SECRET_NAME, "Quixotic", "zelda@example.org", "rosacea", "gentler program"):
        assert secret.encode() not in data
    assert b"Other Person" in data


def test_export_client_is_a_zip_with_json_and_recordings(store, tmp_path):
    engine, info = store
    cid = _fill_client(engine, info)
    dest = maintenance.export_client(engine, cid, tmp_path / "export.zip")
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    with zipfile.ZipFile(dest) as zf:
        doc = json.loads(zf.read("client.json"))
        assert doc["client"]["name"] == SECRET_NAME
        assert doc["consents"][0]["text_version"] == "consent-2026-01"
        [session] = doc["sessions"]
        assert [e["kind"] for e in session["events"]] == ["state", "parameter", "alarm"]
        assert session["outcome"] == "completed"
        lines = zf.read(session["recording"]["file"]).decode().splitlines()
    assert lines[0] == "t_s,current_ua,voltage_v"
    assert len(lines) == 1 + 1500
    with pytest.raises(StoreError, match="already exists"):
        maintenance.export_client(engine, cid, dest)
    with pytest.raises(StoreError, match="no client with id 999"):
        maintenance.export_client(engine, 999, tmp_path / "x.zip")


def test_backup_is_a_consistent_copy(store, tmp_path):
    engine, info = store
    cid = _fill_client(engine, info)
    dest = maintenance.backup(engine, tmp_path / "backup.db")
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    if engine.dialect.name == "sqlite":
        copy, _ = open_store(f"sqlite:///{dest}")
        try:
            assert services.get_client(copy, cid).name == SECRET_NAME
            assert (
                len(
                    services.load_recording(
                        copy, services.session_history(copy, cid)[0].id
                    ).current_ua
                )
                == 1500
            )
        finally:
            copy.dispose()
    else:
        assert dest.read_bytes()[:5] == b"PGDMP"
    with pytest.raises(StoreError, match="already exists"):
        maintenance.backup(engine, dest)


# ---------------------------------------------------------------- command line


def test_db_command_line(sqlite_url, tmp_path, capsys):  # noqa: F811
    assert main(["db", "upgrade", "--database-url", sqlite_url]) == 0
    assert f"schema at revision {head_revision()}" in capsys.readouterr().out
    assert main(["db", "backup", str(tmp_path / "b.db"), "--database-url", sqlite_url]) == 0
    assert (tmp_path / "b.db").exists()
    assert (
        main(["db", "export-client", "42", str(tmp_path / "e.zip"), "--database-url", sqlite_url])
        == 1
    )
    assert "no client with id 42" in capsys.readouterr().err
    assert main(["db", "upgrade", "--database-url", "mysql://x/y"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: Database type 'mysql' is not supported")
    assert "Traceback" not in err


def test_db_command_uses_the_environment_variable(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("MICROCURRENT_DATABASE_URL", url)
    assert main(["db", "upgrade"]) == 0
    assert os.path.exists(tmp_path / "env.db")


def test_treatment_gate_needs_screening_and_consent_and_logs_overrides(store):
    engine, info = store
    w = StoreWriter(engine)
    try:
        cid = w.save_client(ClientData("Gate Client", dt.date(1990, 1, 1))).result(5)
        assert not services.treatment_gate(engine, cid).allowed
        answers = {
            i.id: (False if i.type == "yes_no" else None)
            for i in load_questionnaire().items
            if i.asked
        }
        today = dt.date.today()
        w.add_screening(
            cid,
            answers | {"diabetes": True},
            today,
            add_months(today, 6),
            ("diabetes",),
            based_on=None,
        ).result(5)
        gate = services.treatment_gate(engine, cid)
        assert gate.status is Status.CLEARED
        assert not gate.allowed
        assert gate.reasons[-1].startswith("Consent consent-2026-01")
        w.add_consent(cid, "consent-2026-01", based_on=None).result(5)
        gate = services.treatment_gate(engine, cid)
        assert gate.allowed
        assert gate.reasons == ("Diabetes (override acknowledged)",)
        uid = w.begin_session(cid, program="P")
        assert w.flush(5)
    finally:
        w.close()
    [ev] = services.session_detail(engine, uid).events
    assert ev.kind == "screening_overrides"
    assert ev.payload["items"] == ["diabetes"]
    assert services.treatment_gate(engine, info.training_client_id).allowed


def test_full_disk_is_reported_and_writes_resume_when_space_returns(sqlite_url):  # noqa: F811
    from sqlalchemy import event as sa_event

    engine, info = open_store(sqlite_url)
    engine.dispose()
    engine = make_engine(sqlite_url)
    limit = {"pages": 0}

    @sa_event.listens_for(engine, "connect")
    def _cap(dbapi_conn, _rec):
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        limit["pages"] = pages
        dbapi_conn.execute(f"PRAGMA max_page_count={pages}")  # the disk is "full"

    errors = Errors()
    w = StoreWriter(engine, errors, retry_s=0.05)
    try:
        uid = w.begin_session(info.training_client_id)
        for first in range(0, 20_000, 500):
            w.add_samples(uid, block(first, 500))
        assert errors.got.wait(5)
        assert "disk holding the database is full" in errors.messages[0]
        # space comes back: raise the cap on the writer's pooled connection
        sa_event.remove(engine, "connect", _cap)
        engine.dispose()  # the next attempt opens a fresh, uncapped connection
        assert w.flush(10)
    finally:
        w.close()
    detail = services.session_detail(engine, uid)
    assert detail.recorded_samples == 20_000
    engine.dispose()


def test_running_store_records_a_session_for_the_console(store_url):  # noqa: F811
    from app.store.runtime import start_store

    running = start_store(store_url)
    try:
        rec = running.recorder(
            running.info.training_client_id, program="Demo", device_serial="SIM-1", firmware="sim"
        )
        rec.event("state", {"to": "running"})
        rec.samples(block(0, 300))
        rec.step("forehead", {"amplitude_ua": 100}, 10, 9.5, charge_uc=0.5)
        rec.step("cheeks", {"amplitude_ua": 100}, 10, 10, charge_uc=0.5)
        rec.end(Outcome.STOPPED)
    finally:
        assert running.close()
    engine, _ = open_store(store_url)
    try:
        detail = services.session_detail(engine, rec.uid)
    finally:
        engine.dispose()
    assert detail.summary.training
    assert detail.summary.outcome is Outcome.STOPPED
    assert [s.position for s in detail.steps] == [0, 1]
    assert detail.recorded_samples == 300
