"""The writer never dies: erasing a client while their session is written, constraint
errors, bad requests — each fails alone, is reported in words, and later writes go on."""

from __future__ import annotations

import datetime as dt
import threading

import numpy as np
import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from store_fixtures import pg_cluster, store_url  # noqa: F401

from app.__main__ import main
from app.device.samples import SampleBlock
from app.store import maintenance, services
from app.store.database import StoreError
from app.store.models import Client, Outcome, TreatmentSession
from app.store.runtime import start_store
from app.store.validation import ClientData

NAME = "Zelda Quixotic-Farnsworth"


class Errors:
    def __init__(self) -> None:
        self.messages: list[str] = []
        self.got = threading.Event()

    def __call__(self, message: str) -> None:
        self.messages.append(message)
        self.got.set()


def _block(first: int, n: int) -> SampleBlock:
    cur = np.arange(first, first + n, dtype=np.float32)
    return SampleBlock(
        first,
        1000.0,
        cur,
        cur / 100,
        np.full(n, 200, np.float32),
        np.zeros(n, np.uint8),
        np.zeros(n, bool),
    )


def test_erasing_a_client_with_a_session_in_progress_is_refused(store_url, capsys):  # noqa: F811
    errors = Errors()
    store = start_store(store_url, on_error=errors)
    try:
        cid = store.writer.save_client(ClientData(NAME)).result(5)
        rec = store.recorder(cid, program="Lift & tone")
        rec.event("state", {"to": "running"})
        rec.samples(_block(0, 500))
        assert store.writer.flush(5)
        with pytest.raises(StoreError, match="session in progress") as err:
            maintenance.erase_client(store.engine, cid)
        assert "End the session" in str(err.value)
        assert main(["db", "erase-client", str(cid), "--yes", "--database-url", store_url]) == 1
        out = capsys.readouterr()
        assert "session in progress" in out.err
        assert "Traceback" not in out.err
        # nothing was erased; the session is recorded to its end
        rec.samples(_block(500, 500))
        rec.end(Outcome.COMPLETED).result(5)
        assert store.writer.flush(5)
        [summary] = services.session_history(store.engine, cid)
        assert summary.outcome is Outcome.COMPLETED
        assert services.session_detail(store.engine, rec.uid).recorded_samples == 1000
        # ended: now it can be erased
        assert maintenance.erase_client(store.engine, cid)["client"] == 1
    finally:
        assert store.close()
    assert errors.messages == []


def test_rows_pulled_from_under_a_running_session_fail_alone_and_later_writes_go_on(store_url):  # noqa: F811
    """Another room (or an older console) erased the client while the session was being
    written: that session's requests fail and are reported; the writer lives on."""
    errors = Errors()
    store = start_store(store_url, on_error=errors)
    try:
        w = store.writer
        cid = w.save_client(ClientData(NAME, skin_notes="rosacea")).result(5)
        rec = store.recorder(cid, program="Lift & tone")
        rec.event("state", {"to": "running"})
        rec.samples(_block(0, 1500))
        assert w.flush(5)
        with Session(store.engine) as s, s.begin():  # the erasure, behind the writer's back
            s.execute(delete(TreatmentSession).where(TreatmentSession.client_id == cid))
            s.execute(delete(Client).where(Client.id == cid))
        event = rec.event("parameter", {"amplitude_ua": 200})
        step = rec.step("forehead", {"amplitude_ua": 200}, 60, 59.0)
        rec.samples(_block(1500, 1500))
        end = rec.end(Outcome.COMPLETED)
        for fut in (event, step, end):
            with pytest.raises((StoreError, ValueError), match="not in the database|no longer"):
                fut.result(5)
        assert errors.got.wait(5)
        assert w.running
        # a later, unrelated write is stored
        new = w.save_client(ClientData("New Client")).result(5)
        assert services.get_client(store.engine, new).name == "New Client"
        note = w.add_note(new, "first visit").result(5)
        assert note
        assert w.flush(5)
        assert w.running
        assert w.refused >= 3
    finally:
        # the console warns at close: some records could not be written
        assert not store.close()
    text = " ".join(errors.messages)
    assert "could not be stored" in text
    assert "its client may have been erased" in text
    assert NAME not in text
    assert "INSERT" not in text
    # the first refusal of the session is reported, its later requests are not repeated
    assert sum("session" in m for m in errors.messages) <= 2


def test_a_constraint_error_fails_its_request_only(store_url):  # noqa: F811
    errors = Errors()
    store = start_store(store_url, on_error=errors)
    try:
        w = store.writer
        good = w.save_client(ClientData("Before"))
        bad = w.add_consent(987654, "consent-2026-01", based_on=None)  # no such client: foreign key
        bad_screening = w.add_screening(
            987654, {"q": True}, dt.date.today(), dt.date.today(), based_on=None
        )
        after = w.save_client(ClientData("After"))
        assert w.flush(5)
        for fut in (bad, bad_screening):
            with pytest.raises(StoreError, match="could not be stored"):
                fut.result(5)
        assert good.result(5)
        assert after.result(5)
        with Session(store.engine) as s:
            names = set(s.scalars(select(Client.name)))
        assert {"Before", "After"} <= names
    finally:
        store.close()
    assert any(m.startswith("A consent could not be stored") for m in errors.messages)


def test_bad_samples_fail_alone(store_url):  # noqa: F811
    errors = Errors()
    store = start_store(store_url, on_error=errors)
    try:
        w = store.writer
        rec = store.recorder(store.info.training_client_id, program="P")
        bad = w.add_sample_arrays(rec.uid, 0, 1000.0, np.zeros(10), np.zeros(3))
        rec.samples(_block(0, 100))
        rec.end(Outcome.COMPLETED)
        assert w.flush(5)
        with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the chunker raises
            bad.result(5)
        assert w.running
        assert services.session_detail(store.engine, rec.uid).summary.outcome is Outcome.COMPLETED
    finally:
        store.close()


def test_a_constraint_error_of_a_live_session_does_not_stop_its_recording(store_url):  # noqa: F811
    """A refused request of a session whose row is still there (here: a duplicate chunk
    index) fails alone; the session's later requests are still stored."""
    errors = Errors()
    store = start_store(store_url, on_error=errors)
    try:
        w = store.writer
        rec = store.recorder(store.info.training_client_id, program="P")
        rec.samples(_block(0, 1000))  # chunk 0
        assert w.flush(5)
        w._state.next_chunk[rec.uid] = 0  # the next chunk repeats index 0: refused
        rec.samples(_block(1000, 1000))
        assert w.flush(5)
        assert errors.got.wait(5)
        rec.event("state", {"to": "running"}).result(5)
        rec.samples(_block(2000, 1000))  # chunk 1: stored
        rec.end(Outcome.COMPLETED).result(5)
        assert w.flush(5)
        detail = services.session_detail(store.engine, rec.uid)
        assert detail.summary.outcome is Outcome.COMPLETED
        assert [e.kind for e in detail.events] == ["state"]
        assert detail.recorded_samples == 2000
        assert rec.uid not in w._lost
    finally:
        assert not store.close()  # one chunk was refused: the console warns
    assert any(
        m.startswith("Part of a session's recording could not be stored") for m in errors.messages
    )
    assert not any("erased" in m for m in errors.messages)
