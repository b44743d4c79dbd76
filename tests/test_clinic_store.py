"""Clinic settings, the technician PIN and its lockout in the store, shared by every room
(two consoles on one PostgreSQL, two processes on one SQLite file), on SQLite and on a
real PostgreSQL server (tests/store_fixtures.py)."""

from __future__ import annotations

import pytest
from forked_children import zygote_fixture
from PySide6.QtCore import QSettings
from sqlalchemy import text
from store_fixtures import pg_cluster, sqlite_url, store_url  # noqa: F401

from app.__main__ import main
from app.engine.limits import ClinicSettings
from app.service.clinic_limits import (
    ini_import_request,
    save_clinic_settings,
    settings_from_dict,
    settings_to_dict,
    store_clinic_settings,
)
from app.service.pin import FIRST_LOCKOUT_S, PinError, PinGuard, StorePinBackend
from app.store import services
from app.store.clinic import (
    ClinicWatch,
    SaveClinicSettings,
    SetPinHash,
    StaleClinicSettings,
    read_clinic,
)
from app.store.database import open_store
from app.store.models import ServiceKind
from app.store.writer import StoreWriter


class Room:
    """One console on the store: its own engine, writer and PIN guard."""

    def __init__(self, url: str, clock=None) -> None:
        self.engine, self.info = open_store(url)
        self.writer = StoreWriter(self.engine, retry_s=0.05)
        self.backend = StorePinBackend(self.writer, self.info.default_operator_id)
        self.guard = PinGuard(self.backend, clock) if clock else PinGuard(self.backend)
        self.read()

    def read(self):
        record = read_clinic(self.engine)
        self.backend.update(record)
        return record

    def save(self, cs: ClinicSettings, expected: int):
        return self.writer.submit(
            SaveClinicSettings(settings_to_dict(cs), expected, self.info.default_operator_id)
        ).result(10)

    def close(self) -> None:
        self.writer.close()
        self.engine.dispose()


@pytest.fixture
def rooms(store_url):  # noqa: F811
    made: list[Room] = []

    def room(clock=None) -> Room:
        made.append(Room(store_url, clock))
        return made[-1]

    yield room
    for r in made:
        r.close()


def _records(engine, kind):
    return [r for r in services.service_records(engine) if r.kind == kind]


def test_two_rooms_see_the_same_clinic_limits_and_pin(rooms):
    a, b = rooms(), rooms()
    assert not a.read().exists
    assert a.guard.setup_allowed
    a.save(
        ClinicSettings(
            max_current_ua=150.0, eye_area_max_ua=100.0, zone_max_ua={"masseter_l": 120.0}
        ),
        0,
    )
    a.guard.set_pin("2468")
    seen = b.read()
    cs, problems = settings_from_dict(seen.settings)
    assert problems == []
    assert cs.max_current_ua == 150.0
    assert cs.zone_max_ua == {"masseter_l": 120.0}
    assert b.guard.is_set
    assert not b.guard.setup_allowed
    assert b.guard.verify("2468").ok
    assert not b.guard.verify("1111").ok
    assert a.read().pin_failures == 1  # room A sees room B's wrong PIN


def test_a_change_is_a_service_record_with_old_and_new(rooms):
    a = rooms()
    a.save(ClinicSettings(max_current_ua=300.0), 0)
    version = a.read().version
    a.save(ClinicSettings(max_current_ua=250.0), version)
    changes = _records(a.engine, ServiceKind.CLINIC_SETTINGS)
    assert len(changes) == 2
    newest = changes[0].payload
    assert newest["changed"]["max_current_ua"] == [300.0, 250.0]
    assert newest["old"]["max_current_ua"] == 300.0
    assert newest["new"]["max_current_ua"] == 250.0
    assert newest["by"]  # the console's host
    assert changes[0].operator_id == a.info.default_operator_id
    a.guard.set_pin("2468")
    a.guard.set_pin("1357", "2468")
    pins = _records(a.engine, ServiceKind.PIN)
    assert [p.payload["action"] for p in pins] == ["change", "set"]
    assert all("2468" not in str(p.payload) and "scrypt" not in str(p.payload) for p in pins)


def test_a_save_from_a_stale_version_is_refused(rooms):
    a, b = rooms(), rooms()
    a.save(ClinicSettings(max_current_ua=300.0), 0)
    shown = b.read().version
    a.save(ClinicSettings(max_current_ua=200.0), a.read().version)
    with pytest.raises(StaleClinicSettings, match="changed by"):
        b.save(ClinicSettings(max_current_ua=500.0), shown)
    assert settings_from_dict(b.read().settings)[0].max_current_ua == 200.0
    assert b.writer.refused == 0  # refused on its merits: not a records failure


@pytest.mark.parametrize("stored_before", [True, False], ids=["stored", "nothing-stored"])
def test_two_rooms_saving_from_the_same_version_at_once_exactly_one_succeeds(rooms, stored_before):
    """Two writers (two rooms) on one database submit a save made from the same version at
    the same moment (also the very first save, which creates the row): the store's writer
    of one of them refuses it as stale, whatever the timing — never a records failure;
    the stored settings are the winner's."""
    import concurrent.futures

    a, b = rooms(), rooms()
    if stored_before:
        a.save(ClinicSettings(max_current_ua=150.0, eye_area_max_ua=150.0), 0)
    shown = a.read().version
    assert b.read().version == shown  # both rooms show the same stored version
    requests = {
        room: SaveClinicSettings(
            settings_to_dict(ClinicSettings(max_current_ua=ua, eye_area_max_ua=100.0)), shown
        )
        for room, ua in ((a, 300.0), (b, 120.0))
    }
    futures = {room.writer.submit(req): room for room, req in requests.items()}
    concurrent.futures.wait(list(futures), timeout=20)
    won = [f for f in futures if f.exception() is None]
    lost = [f for f in futures if f.exception() is not None]
    assert len(won) == 1, [f.exception() for f in futures]
    assert len(lost) == 1
    assert isinstance(lost[0].exception(), StaleClinicSettings)
    winner = futures[won[0]]
    stored = settings_from_dict(a.read().settings)[0].max_current_ua
    assert stored == (300.0 if winner is a else 120.0)
    assert a.read().version == (shown + 1 if stored_before else 2)
    changes = _records(a.engine, ServiceKind.CLINIC_SETTINGS)
    # the first save (if any) and the winner's: nothing for the refused one
    assert len(changes) == (2 if stored_before else 1)
    assert a.writer.refused == b.writer.refused == 0  # refused on its merits


def test_a_save_must_state_the_version_it_was_made_from(rooms):
    """There is no unchecked save: a request without a version is refused, and a save made
    from "nothing stored yet" is refused once another room stored settings."""
    a, b = rooms(), rooms()
    assert b.read().version == 0
    a.save(ClinicSettings(max_current_ua=150.0, eye_area_max_ua=150.0), 0)
    with pytest.raises(ValueError, match="must name the stored version"):
        a.save(ClinicSettings(max_current_ua=500.0), None)  # type: ignore[arg-type]
    with pytest.raises(StaleClinicSettings, match="nothing was saved"):
        b.save(ClinicSettings(max_current_ua=500.0), 0)
    assert settings_from_dict(a.read().settings)[0].max_current_ua == 150.0


def test_lockout_survives_a_restart_and_the_clock_going_forward(rooms, monkeypatch):
    import time

    a = rooms(clock=lambda: 50.0)
    a.guard.set_pin("2468")
    for _ in range(3):
        assert not a.guard.verify("0000").ok
    assert a.read().pin_failures == 3
    real = time.time()
    monkeypatch.setattr(time, "time", lambda: real + 10 * 86_400)  # clock 10 days forward
    restarted = rooms(clock=lambda: 7.0)  # another process: its own monotonic clock
    assert restarted.guard.locked_for_s() == FIRST_LOCKOUT_S
    check = restarted.guard.verify("2468")
    assert not check.ok
    assert check.locked_for_s > 0
    assert restarted.read().pin_failures == 3


def test_an_unwritable_settings_table_gives_no_fresh_tries_after_restarts(rooms, store_url):  # noqa: F811
    a = rooms()
    a.guard.set_pin("2468")
    assert not a.guard.verify("0000").ok
    with a.engine.begin() as conn:
        if a.engine.dialect.name == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER clinic_ro BEFORE UPDATE ON clinic_config "
                    "BEGIN SELECT RAISE(ABORT, 'read-only'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION clinic_ro() RETURNS trigger LANGUAGE plpgsql "
                    "AS $$ BEGIN RAISE EXCEPTION 'read-only'; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER clinic_ro BEFORE UPDATE ON clinic_config "
                    "FOR EACH ROW EXECUTE FUNCTION clinic_ro()"
                )
            )
    for _restart in range(3):
        room = rooms()
        check = room.guard.verify("2468", timeout=3.0)  # even the right PIN
        assert not check.ok
        assert "could not be recorded" in check.message
    assert a.read().pin_failures == 1


def test_deleting_the_pin_hash_does_not_allow_a_new_setup(rooms):
    a = rooms()
    a.guard.set_pin("2468")
    with a.engine.begin() as conn:
        conn.execute(text("UPDATE clinic_config SET pin_hash = NULL"))
    b = rooms()
    assert b.guard.missing
    assert not b.guard.setup_allowed
    with pytest.raises(PinError, match="reset-pin"):
        b.guard.set_pin("1357")
    # the request itself is refused too (a dialog that thought otherwise)
    with pytest.raises(ValueError, match="already been set"):
        b.writer.submit(SetPinHash("scrypt$x", first=True)).result(10)
    with a.engine.begin() as conn:  # the whole row deleted: the service history remembers
        conn.execute(text("DELETE FROM clinic_config"))
    c = rooms()
    assert c.guard.missing
    assert not c.guard.setup_allowed


def test_db_reset_pin_is_the_recovery_and_is_recorded(rooms, store_url, capsys):  # noqa: F811
    a = rooms()
    a.guard.set_pin("2468")
    with a.engine.begin() as conn:
        conn.execute(text("UPDATE clinic_config SET pin_hash = NULL"))
    assert main(["db", "reset-pin", "--yes", "--by", "Sam", "--database-url", store_url]) == 0
    assert "reset" in capsys.readouterr().out
    b = rooms()
    assert b.guard.setup_allowed
    b.guard.set_pin("1357")
    assert b.guard.verify("1357").ok
    actions = [(r.payload["action"], r.payload["by"]) for r in _records(b.engine, ServiceKind.PIN)]
    assert actions[0][0] == "set"
    assert actions[1][0] == "reset"
    assert "Sam" in actions[1][1]


def test_reset_pin_without_yes_and_no_terminal_refuses(store_url, capsys):  # noqa: F811
    assert main(["db", "reset-pin", "--database-url", store_url]) == 2
    assert "--yes" in capsys.readouterr().err


def test_the_ini_settings_and_pin_are_imported_once(rooms, store_url, tmp_path):  # noqa: F811
    ini = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    save_clinic_settings(ini, ClinicSettings(max_current_ua=180.0, eye_area_max_ua=90.0))
    from app.service.pin import hash_pin

    ini.setValue("technician_pin/hash", hash_pin("4321"))
    ini.sync()
    a = rooms()
    assert a.writer.submit(ini_import_request(ini, a.info.default_operator_id)).result(10)
    record = a.read()
    assert settings_from_dict(record.settings)[0].max_current_ua == 180.0
    assert a.guard.verify("4321").ok
    imported = _records(a.engine, ServiceKind.CLINIC_SETTINGS)
    assert imported[0].payload["action"] == "import"
    # later: the INI no longer counts
    save_clinic_settings(ini, ClinicSettings(max_current_ua=400.0))
    assert not a.writer.submit(ini_import_request(ini)).result(10)
    cs, _ = store_clinic_settings(a.engine, ini)
    assert cs.max_current_ua == 180.0


def test_the_watch_reports_another_rooms_change(rooms):
    import queue

    a, b = rooms(), rooms()
    got: queue.Queue = queue.Queue()
    watch = ClinicWatch(b.engine, got.put, interval_s=0.05)
    try:
        assert not got.get(timeout=5).exists
        a.save(ClinicSettings(max_current_ua=222.0), 0)
        record = got.get(timeout=5)
        assert settings_from_dict(record.settings)[0].max_current_ua == 222.0
    finally:
        watch.close()


def test_the_watch_reads_the_row_only_after_a_commit(sqlite_url):  # noqa: F811
    """Between pokes the clinic watch asks SQLite's change number and reads the row only
    when it moved (issue 17: an idle console's CPU)."""
    import queue
    import threading

    a, b = Room(sqlite_url), Room(sqlite_url)
    got: queue.Queue = queue.Queue()
    watch = ClinicWatch(b.engine, got.put, interval_s=0.005)
    asked = {"n": 0}
    twenty = threading.Event()
    real = watch._version.read

    def counted():
        asked["n"] += 1
        if asked["n"] >= 20:
            twenty.set()
        return real()

    try:
        assert not got.get(timeout=5).exists
        watch._version.read = counted
        assert twenty.wait(5)
        assert watch.reads == 1  # twenty turns, nothing committed: the row not read
        a.save(ClinicSettings(max_current_ua=222.0), 0)  # another room, no poke
        record = got.get(timeout=5)
        assert settings_from_dict(record.settings)[0].max_current_ua == 222.0
        assert watch.reads >= 2
    finally:
        watch.close()
        for room in (a, b):
            room.close()


def test_migration_0006_keeps_service_records_and_accepts_the_new_kinds(store_url):  # noqa: F811
    import datetime as dt

    from sqlalchemy import inspect

    from app.store.database import head_revision, make_engine, upgrade_to_head

    assert upgrade_to_head(store_url, revision="0005") == "0005"
    engine = make_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO service_record (at, kind, device_serial, firmware, passed, "
                    "payload) VALUES (:t, 'calibration', 'SN1', 'fw', true, '{}')"
                ),
                {"t": dt.datetime(2026, 1, 1)},
            )
    finally:
        engine.dispose()
    a = Room(store_url)
    try:
        assert a.info.revision == head_revision() == "0014"
        assert [r.device_serial for r in services.service_records(a.engine)] == ["SN1"]
        assert "clinic_config" in inspect(a.engine).get_table_names()
        a.save(ClinicSettings(max_current_ua=300.0), 0)
        kinds = {r.kind for r in services.service_records(a.engine)}
        assert kinds == {ServiceKind.CALIBRATION, ServiceKind.CLINIC_SETTINGS}
        with pytest.raises(Exception, match="(?i)check"), a.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO service_record (at, kind, device_serial, "
                    "firmware, payload) VALUES (:t, 'bogus', '', '', '{}')"
                ),
                {"t": dt.datetime(2026, 1, 1)},
            )
    finally:
        a.close()


# Another room's process: forked from one process that imported this once
# (tests/forked_children.py); each child opens its own engine and writer.
OTHER_PREAMBLE = """
from app.engine.limits import ClinicSettings
from app.service.clinic_limits import settings_to_dict
from app.service.pin import PinGuard, StorePinBackend
from app.store.clinic import SaveClinicSettings, read_clinic
from app.store.database import open_store
from app.store.writer import StoreWriter
"""
OTHER_RUN = """
url, pin = args
engine, info = open_store(url)
writer = StoreWriter(engine)
record = read_clinic(engine)
writer.submit(SaveClinicSettings(settings_to_dict(ClinicSettings(
    max_current_ua=140.0, eye_area_max_ua=90.0)), record.version)).result(10)
backend = StorePinBackend(writer)
backend.update(read_clinic(engine))
print(PinGuard(backend).verify(pin).message)
assert writer.close(10)
engine.dispose()
return 0
"""


other_rooms = zygote_fixture(OTHER_PREAMBLE, OTHER_RUN)


def test_another_process_sees_and_changes_the_same_limits_and_pin(
    rooms,
    store_url,  # noqa: F811
    other_rooms,
):
    a = rooms()
    a.save(ClinicSettings(max_current_ua=300.0), 0)
    a.guard.set_pin("2468")
    child = other_rooms.take(store_url, "0000")
    out, _ = child.communicate(timeout=120)
    assert child.returncode == 0, out
    assert "wrong PIN" in out
    record = a.read()
    assert settings_from_dict(record.settings)[0].max_current_ua == 140.0
    assert record.pin_failures == 1  # the other process's wrong PIN counts here
    out, _ = other_rooms.take(store_url, "2468").communicate(timeout=120)
    assert "PIN accepted" in out
    assert a.read().pin_failures == 0
