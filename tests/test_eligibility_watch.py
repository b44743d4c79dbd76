"""The eligibility watch confirms a client's facts without querying the records while
nothing was committed (SQLite's data_version on a connection of its own), and reads them
again at once after another room's commit (issue 17: an idle desk's CPU). Mechanisms, not
timings: statements are counted, readings awaited on an event."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading

import pytest
from sqlalchemy import event
from store_fixtures import sqlite_url  # noqa: F401

from app.store import eligibility
from app.store.database import make_engine, open_store
from app.store.eligibility import EligibilityWatch
from app.store.validation import ClientData
from app.store.vocabulary import ClientFacts
from app.store.writer import StoreWriter


class Readings:
    """The watch's readings, and a wait for the one a test needs (never a sleep)."""

    def __init__(self) -> None:
        self.facts: list[ClientFacts] = []
        self._cond = threading.Condition()

    def __call__(self, facts: ClientFacts) -> None:
        with self._cond:
            self.facts.append(facts)
            self._cond.notify_all()

    def wait_for(self, pred, timeout: float = 10.0) -> ClientFacts:
        with self._cond:
            assert self._cond.wait_for(lambda: any(pred(f) for f in self.facts), timeout), (
                f"no such reading among {len(self.facts)}"
            )
            return next(f for f in self.facts if pred(f))

    def wait_count(self, n: int, timeout: float = 10.0) -> list[ClientFacts]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.facts) >= n, timeout)
            return list(self.facts)


@pytest.fixture
def room(sqlite_url):  # noqa: F811
    engine, _info = open_store(sqlite_url)
    writer = StoreWriter(engine, retry_s=0.05)
    cid = writer.save_client(
        ClientData("Ann Example", dt.date(1980, 1, 2), current_limit_ua=300.0)
    ).result(10)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    yield sqlite_url, engine, writer, cid, statements
    writer.close()
    engine.dispose()


def _stripped(f: ClientFacts) -> ClientFacts:
    return dataclasses.replace(f, checked_at=0.0)


def test_an_unchanged_record_is_confirmed_without_a_query_and_a_commit_is_read_at_once(room):
    url, engine, _writer, cid, statements = room
    readings = Readings()
    watch = EligibilityWatch(engine, readings, interval_s=0.005)
    try:
        watch.watch(cid)
        first = readings.wait_count(1)[0]
        assert first.limit_ua == 300.0
        assert not first.error
        assert watch.full_reads == 1
        queried = len(statements)
        assert queried > 0  # the first reading read the record
        # twenty readings more, nothing committed: the same facts, newly confirmed, and
        # not one statement through the engine
        later = readings.wait_count(21)[1:21]
        assert len(statements) == queried
        assert watch.full_reads == 1
        assert all(_stripped(f) == _stripped(first) for f in later)
        assert [f.checked_at for f in later] == sorted(f.checked_at for f in later)
        assert later[-1].checked_at > first.checked_at
        # another room (its own engine and writer, no poke of this watch) lowers the limit
        other = make_engine(url)
        other_writer = StoreWriter(other, retry_s=0.05)
        try:
            other_writer.save_client(
                ClientData("Ann Example", dt.date(1980, 1, 2), current_limit_ua=150.0, id=cid)
            ).result(10)
        finally:
            other_writer.close()
            other.dispose()
        assert readings.wait_for(lambda f: f.limit_ua == 150.0).client_id == cid
        assert watch.full_reads >= 2
        assert len(statements) > queried
    finally:
        assert watch.close()


def test_a_poke_or_a_new_client_reads_the_record_and_so_does_the_backstop(room, monkeypatch):
    _url, engine, writer, cid, statements = room
    readings = Readings()
    watch = EligibilityWatch(engine, readings, interval_s=3600.0)  # only pokes wake it
    try:
        watch.watch(cid)
        readings.wait_count(1)
        watch.poke()
        readings.wait_count(2)
        assert watch.full_reads == 2  # a poke (this room's write) always reads
        other = writer.save_client(ClientData("Bo Example", dt.date(1990, 3, 4))).result(10)
        watch.watch(other)
        assert readings.wait_for(lambda f: f.client_id == other).name == "Bo Example"
    finally:
        assert watch.close()
    # the backstop: with FULL_READ_S at 0 every reading reads the record
    monkeypatch.setattr(eligibility, "FULL_READ_S", 0.0)
    readings = Readings()
    watch = EligibilityWatch(engine, readings, interval_s=0.005)
    try:
        watch.watch(cid)
        readings.wait_count(5)
        assert watch.full_reads >= 5
    finally:
        assert watch.close()
    assert statements
