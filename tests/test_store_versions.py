"""No silent overwrite between rooms: every client save names the version it was edited
from; a save against a stale version is refused with who/when, nothing is lost. Two
engines (two rooms) on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import socket
import threading

import pytest
from forked_children import zygote_fixture
from sqlalchemy import inspect, text
from store_fixtures import pg_cluster, sqlite_url, store_url  # noqa: F401

from app.store import services
from app.store.database import (
    StaleRecordError,
    head_revision,
    make_engine,
    open_store,
    upgrade_to_head,
)
from app.store.validation import ClientData
from app.store.writer import StoreWriter

NAME = "Ingrid Holm"


class Room:
    """One treatment room's console: its own engine and writer on the shared store."""

    def __init__(self, url: str) -> None:
        self.engine, self.info = open_store(url)
        self.errors: list[str] = []
        self.writer = StoreWriter(self.engine, self.errors.append)

    def edit(self, client_id: int, **changes) -> ClientData:
        r = services.get_client(self.engine, client_id)
        base = ClientData(
            r.name, r.date_of_birth, r.contact, r.skin_notes, r.current_limit_ua, r.id, r.version
        )
        return _replace(base, **changes)

    def close(self) -> None:
        self.writer.close()
        self.engine.dispose()


def _replace(d: ClientData, **changes) -> ClientData:
    from dataclasses import replace

    return replace(d, **changes)


@pytest.fixture
def rooms(store_url):  # noqa: F811
    a, b = Room(store_url), Room(store_url)
    yield a, b
    a.close()
    b.close()


def test_a_save_against_a_stale_version_is_refused_and_nothing_is_lost(rooms):
    a, b = rooms
    cid = a.writer.save_client(ClientData(NAME, skin_notes="dry")).result(5)
    assert services.get_client(a.engine, cid).version == 1
    # both rooms open the client
    edit_a = a.edit(cid, current_limit_ua=150.0)
    edit_b = b.edit(cid, skin_notes="dry; prefers low intensity")
    assert edit_a.version == edit_b.version == 1
    assert a.writer.save_client(edit_a).result(5) == cid  # room A saves first
    with pytest.raises(StaleRecordError) as err:
        b.writer.save_client(edit_b).result(5)  # room B: refused, not "saved"
    message = str(err.value)
    assert "was changed on" in message
    assert socket.gethostname() in message  # which console changed it
    assert "nothing was overwritten" in message
    assert "Reload" in message
    assert err.value.current_version == 2
    assert err.value.changed_at is not None
    # the saver shows the conflict; it is not a failure of the records (which would
    # raise the records alarm and stop the room's output)
    assert b.errors == []
    stored = services.get_client(b.engine, cid)
    assert stored.current_limit_ua == 150.0  # room A's limit is still there
    assert stored.skin_notes == "dry"
    assert stored.version == 2
    assert stored.updated_by == socket.gethostname()
    # room B reloads and saves again: both changes are kept
    again = b.edit(cid, skin_notes="dry; prefers low intensity")
    assert b.writer.save_client(again).result(5) == cid
    final = services.get_client(a.engine, cid)
    assert (final.current_limit_ua, final.skin_notes, final.version) == (
        150.0,
        "dry; prefers low intensity",
        3,
    )


def test_two_rooms_saving_the_same_version_at_once_exactly_one_wins(rooms):
    a, b = rooms
    cid = a.writer.save_client(ClientData(NAME)).result(5)
    for round_ in range(8):
        version = services.get_client(a.engine, cid).version
        go = threading.Barrier(2)
        futures = {}

        def save(
            room: Room,
            key: str,
            round_: int = round_,
            version: int = version,
            go: threading.Barrier = go,
            futures: dict = futures,
        ) -> None:
            go.wait()
            futures[key] = room.writer.save_client(
                ClientData(NAME, contact=f"{key}-{round_}", id=cid, version=version)
            )

        threads = [threading.Thread(target=save, args=(r, k)) for r, k in ((a, "a"), (b, "b"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        outcomes = {}
        for key, fut in futures.items():
            try:
                fut.result(10)
                outcomes[key] = "saved"
            except StaleRecordError:
                outcomes[key] = "refused"
        assert sorted(outcomes.values()) == ["refused", "saved"], (round_, outcomes)
        stored = services.get_client(a.engine, cid)
        winner = next(k for k, v in outcomes.items() if v == "saved")
        assert stored.contact == f"{winner}-{round_}"
        assert stored.version == version + 1


def test_a_save_without_a_version_is_not_checked(rooms):
    """Scripts (and the first save of a new client) pass no version: saved as before."""
    a, b = rooms
    cid = a.writer.save_client(ClientData(NAME)).result(5)
    a.writer.save_client(ClientData(NAME, contact="1", id=cid)).result(5)
    b.writer.save_client(ClientData(NAME, contact="2", id=cid)).result(5)
    assert services.get_client(a.engine, cid).version == 3


def test_migration_0005_gives_existing_clients_version_1(store_url):  # noqa: F811
    assert upgrade_to_head(store_url, revision="0004") == "0004"
    engine = make_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO client (id, name, contact, skin_notes, is_training, created_at, "
                    "updated_at) VALUES (7, 'Kim', '', '', false, :t, :t)"
                ),
                {"t": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)},
            )
    finally:
        engine.dispose()
    engine, info = open_store(store_url)
    try:
        assert info.revision == head_revision()
        columns = {c["name"]: c for c in inspect(engine).get_columns("client")}
        assert not columns["version"]["nullable"]
        kim = services.get_client(engine, 7)
        assert (kim.version, kim.updated_by) == (1, None)
        w = StoreWriter(engine)
        try:
            w.save_client(ClientData("Kim", contact="x", id=7, version=1)).result(5)
            with pytest.raises(StaleRecordError):
                w.save_client(ClientData("Kim", contact="y", id=7, version=1)).result(5)
        finally:
            w.close()
    finally:
        engine.dispose()


def test_the_client_editor_refuses_a_stale_save_and_merges_on_reload(qtbot, sqlite_url):  # noqa: F811
    from app.ui.records.bridge import RecordsStore
    from app.ui.records.client_editor import ClientEditor

    a, b = Room(sqlite_url), Room(sqlite_url)
    store = RecordsStore(b.engine, b.writer, b.info.default_operator_id)
    try:
        cid = a.writer.save_client(ClientData(NAME, contact="0123", skin_notes="dry")).result(5)
        editor = ClientEditor(store)
        qtbot.addWidget(editor)
        with qtbot.waitSignal(editor.loaded, timeout=5000):
            editor.load(cid)  # room B opens the client (read off the GUI thread) ...
        a.writer.save_client(a.edit(cid, current_limit_ua=150.0, contact="0456")).result(5)
        editor.skin_notes.setPlainText("dry; prefers low intensity")  # ... and edits
        editor.contact.setText("0789")
        errors: list[str] = []
        store.error_occurred.connect(errors.append)
        editor.save()
        qtbot.waitUntil(lambda: not editor.reload_button.isHidden(), timeout=5000)
        assert errors == []  # said beside the form, not as a records failure (a banner)
        assert "was changed on" in editor.conflict.text()
        assert services.get_client(a.engine, cid).current_limit_ua == 150.0
        with qtbot.waitSignal(editor.merged, timeout=5000) as merged:
            editor.reload_and_merge()
        assert merged.args[0] == ["Contact"]  # changed in both rooms: the typed one is kept
        assert editor.limit_on.isChecked()
        assert editor.limit.value() == 150.0  # room A's change came in
        assert editor.skin_notes.toPlainText() == "dry; prefers low intensity"  # mine kept
        assert editor.contact.text() == "0789"
        assert "Contact" in editor.conflict.text()
        with qtbot.waitSignal(editor.saved, timeout=5000):
            editor.save()
        final = services.get_client(a.engine, cid)
        assert (final.current_limit_ua, final.skin_notes, final.contact, final.version) == (
            150.0,
            "dry; prefers low intensity",
            "0789",
            3,
        )
        # a further edit from the same editor saves (it follows its own version)
        editor.skin_notes.setPlainText("normal")
        with qtbot.waitSignal(editor.saved, timeout=5000):
            editor.save()
        assert services.get_client(a.engine, cid).version == 4
    finally:
        a.close()
        b.close()


# A room's process, forked from one process that imported this once
# (tests/forked_children.py): its own engine, writer and connections.
ROOM_PREAMBLE = """
from app.store import services
from app.store.database import StaleRecordError, open_store
from app.store.validation import ClientData
from app.store.writer import StoreWriter
"""
ROOM_RUN = """
url, cid, n = args[0], int(args[1]), int(args[2])
engine, _ = open_store(url)
w = StoreWriter(engine)
conflicts = 0
done = 0
while done < n:  # read, change, save; on a conflict: reload and try again
    r = services.get_client(engine, cid)
    edit = ClientData(r.name, r.date_of_birth, str(int(r.contact) + 1), r.skin_notes,
                      r.current_limit_ua, r.id, r.version)
    try:
        w.save_client(edit).result(10)
        done += 1
    except StaleRecordError:
        conflicts += 1
w.close()
engine.dispose()
print("conflicts", conflicts, flush=True)
return 0
"""


room_processes = zygote_fixture(ROOM_PREAMBLE, ROOM_RUN)


def test_two_room_processes_editing_one_client_lose_no_update(
    store_url,  # noqa: F811
    room_processes,
):
    """Two console processes each add 1 to the client's record 15 times (read, change,
    save; reload on a conflict): all 30 changes are there. The two are forked at once
    and run side by side."""
    engine, _ = open_store(store_url)
    w = StoreWriter(engine)
    try:
        cid = w.save_client(ClientData(NAME, contact="0")).result(5)
    finally:
        w.close()
    procs = room_processes.take_together(*([store_url, str(cid), "15"] for _ in range(2)))
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert "conflicts" in out
    try:
        final = services.get_client(engine, cid)
        assert final.contact == "30"  # no update lost
        assert final.version == 31
    finally:
        engine.dispose()
