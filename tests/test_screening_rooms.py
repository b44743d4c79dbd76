"""A stale screening form never undoes a screening saved elsewhere: every screening (and
consent) save names the client's newest screening (consent) it was made from, and the
writer refuses, in the same transaction, one made from any other. Two engines (two
rooms) on one database, SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import socket
import threading

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from store_fixtures import pg_cluster, sqlite_url, store_url  # noqa: F401

from app.store import audit, services
from app.store.database import open_store
from app.store.models import Consent, Operator, Screening
from app.store.screening import Status, add_months, load_questionnaire
from app.store.signature import typed
from app.store.validation import ClientData
from app.store.writer import StaleScreeningError, StoreWriter, count_rows

Q = load_questionnaire()
TODAY = dt.date.today()


def clean() -> dict:
    return {i.id: (False if i.type == "yes_no" else None) for i in Q.items if i.asked}


class Room:
    """One treatment room's console: its own engine and writer on the shared store."""

    def __init__(self, url: str, operator: str) -> None:
        self.engine, self.info = open_store(url)
        self.errors: list[str] = []
        self.writer = StoreWriter(self.engine, self.errors.append)
        self.operator_id = self._operator(operator)

    def _operator(self, name: str) -> int:
        """The practitioner of this room (an operator row: the refusal names them)."""
        with Session(self.engine) as s, s.begin():
            known = s.scalar(select(Operator.id).where(Operator.name == name))
            if known is not None:
                return known
            row = Operator(name=name, role="practitioner")
            s.add(row)
            s.flush()
            return row.id

    def shown(self, cid: int) -> tuple[int | None, int | None]:
        """What a screening form opened now shows: (newest screening, newest consent)."""
        r = services.get_client(self.engine, cid)
        return (
            r.screening.id if r.screening else None,
            r.consent.id if r.consent else None,
        )

    def screen(self, cid: int, based_on: int | None, **answers):
        return self.writer.add_screening(
            cid,
            clean() | answers,
            TODAY,
            add_months(TODAY, 6),
            operator_id=self.operator_id,
            based_on=based_on,
        )

    def close(self) -> None:
        self.writer.close()
        self.engine.dispose()


@pytest.fixture
def rooms(store_url):  # noqa: F811
    a, c = Room(store_url, "Ada Room-A"), Room(store_url, "Cleo Room-C")
    yield a, c
    a.close()
    c.close()


def _cleared_client(room: Room) -> int:
    cid = room.writer.save_client(ClientData("Nina Screened", dt.date(1990, 1, 1))).result(10)
    room.screen(cid, None).result(10)
    room.writer.add_consent(cid, Q.consent_text_version, based_on=None).result(10)
    assert services.treatment_gate(room.engine, cid).allowed
    return cid


def test_a_stale_form_cannot_clear_a_contraindication_saved_in_another_room(rooms):
    a, c = rooms
    cid = _cleared_client(a)
    seen_by_a, _ = a.shown(cid)  # room A opens the screening form: cleared
    seen_by_c, _ = c.shown(cid)
    c.screen(cid, seen_by_c, pregnancy=True).result(10)  # room C: pregnant
    assert services.treatment_gate(a.engine, cid).status is Status.BLOCKED
    # room A's form, still showing "cleared", saves: refused, nothing stored
    rows = count_rows(a.engine, Screening, client_id=cid)
    with pytest.raises(StaleScreeningError) as err:
        a.screen(cid, seen_by_a).result(10)
    message = str(err.value)
    assert "screening was saved again on" in message
    assert "by Cleo Room-C" in message  # who
    assert f"on the console on {socket.gethostname()}" in message  # which computer
    assert err.value.host == socket.gethostname()
    assert err.value.changed_at is not None  # when
    assert err.value.changed_at.astimezone().strftime("%H:%M:%S") in message
    assert "not saved" in message
    assert "not overwritten" in message
    assert "Reload" in message
    assert "pregnan" not in message.lower()  # no health data in the words
    assert err.value.current_id == a.shown(cid)[0]
    assert count_rows(a.engine, Screening, client_id=cid) == rows
    gate = services.treatment_gate(a.engine, cid)
    assert gate.status is Status.BLOCKED
    assert not gate.allowed
    # refused on its merits (the form says why), not a failure of the records
    assert a.errors == []
    assert a.writer.refused == 0
    # a proper re-screening: room A reloads (sees the pregnancy), edits and saves
    reloaded, _ = a.shown(cid)
    assert services.get_client(a.engine, cid).screening.answers["pregnancy"] is True
    a.screen(cid, reloaded).result(10)
    assert services.treatment_gate(c.engine, cid).allowed


def test_the_same_refusal_the_other_way_round(rooms):
    """Room A's form still shows a heart condition room B cleared meanwhile."""
    a, b = rooms
    cid = _cleared_client(a)
    a.screen(cid, a.shown(cid)[0], heart_condition=True).result(10)
    seen_by_a, _ = a.shown(cid)
    b.screen(cid, b.shown(cid)[0]).result(10)  # B: the condition was a mistake
    with pytest.raises(StaleScreeningError, match="by Cleo Room-C"):
        a.screen(cid, seen_by_a, heart_condition=True).result(10)
    assert services.get_client(a.engine, cid).screening.answers["heart_condition"] is False


def test_a_form_that_showed_no_screening_is_refused_once_one_exists(rooms):
    a, c = rooms
    cid = a.writer.save_client(ClientData("First Visit", dt.date(1990, 1, 1))).result(10)
    c.screen(cid, None, epilepsy=True).result(10)
    with pytest.raises(StaleScreeningError):
        a.screen(cid, None).result(10)
    assert services.treatment_gate(a.engine, cid).status is Status.BLOCKED


def test_a_screening_based_on_an_older_screening_of_this_room_is_refused(rooms):
    a, _c = rooms
    cid = _cleared_client(a)
    first, _ = a.shown(cid)
    a.screen(cid, first, pregnancy=True).result(10)
    with pytest.raises(StaleScreeningError):
        a.screen(cid, first).result(10)  # two windows of one room: the same rule


def test_a_stale_consent_is_refused_and_its_screening_with_it(rooms):
    """A screening saved with a consent is stored whole or not at all."""
    a, c = rooms
    cid = a.writer.save_client(ClientData("Consent Race", dt.date(1990, 1, 1))).result(10)
    a.screen(cid, None).result(10)
    screening_a, consent_a = a.shown(cid)
    assert consent_a is None
    c.writer.add_consent(
        cid,
        Q.consent_text_version,
        c.operator_id,
        based_on=None,
        text_snapshot=Q.consent_text,
        signature=typed("Consent Race"),
    ).result(10)
    trail = len(audit.entries(a.engine))
    consent = a.writer.consent_request(
        cid,
        Q.consent_text_version,
        based_on=consent_a,
        text_snapshot=Q.consent_text,
        signature=typed("Consent Race"),
    )
    before = count_rows(a.engine, Screening, client_id=cid)
    fut = a.writer.add_screening(
        cid,
        clean(),
        TODAY,
        add_months(TODAY, 6),
        operator_id=a.operator_id,
        based_on=screening_a,
        consent=consent,
    )
    with pytest.raises(StaleScreeningError, match="consent was saved again .* by Cleo Room-C"):
        fut.result(10)
    assert count_rows(a.engine, Screening, client_id=cid) == before  # neither was stored
    assert count_rows(a.engine, Consent, client_id=cid) == 1
    assert len(audit.entries(a.engine)) == trail  # no signing entry for a refused consent
    # from the consent on record: stored together, the signing audited as before
    fresh = a.writer.consent_request(
        cid,
        Q.consent_text_version,
        based_on=a.shown(cid)[1],
        text_snapshot=Q.consent_text,
        signature=typed("Consent Race"),
    )
    sid = a.writer.add_screening(
        cid,
        clean(),
        TODAY,
        add_months(TODAY, 6),
        operator_id=a.operator_id,
        based_on=screening_a,
        consent=fresh,
    ).result(10)
    stored = services.get_client(a.engine, cid)
    assert stored.screening.id == sid
    assert stored.consent.operator_id == a.operator_id  # the screening's operator
    signed = [e for e in audit.entries(a.engine) if e.action == "sign_consent"]
    assert signed[-1].details["consent"] == stored.consent.id
    assert audit.verify(a.engine).ok


def test_two_rooms_saving_from_the_same_screening_at_once_exactly_one_wins(rooms):
    a, c = rooms
    cid = _cleared_client(a)
    for round_ in range(6):
        base, _ = a.shown(cid)
        go = threading.Barrier(2)
        futures: dict = {}

        def save(room: Room, key: str, go=go, base=base, futures=futures) -> None:
            go.wait()
            futures[key] = room.screen(cid, base, pregnancy=key == "c")

        threads = [threading.Thread(target=save, args=(r, k)) for r, k in ((a, "a"), (c, "c"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        outcomes = {}
        for key, fut in futures.items():
            try:
                outcomes[key] = fut.result(20)
            except StaleScreeningError:
                outcomes[key] = "refused"
        assert sorted(str(v) == "refused" for v in outcomes.values()) == [False, True], (
            round_,
            outcomes,
        )
        winner = next(k for k, v in outcomes.items() if v != "refused")
        stored = services.get_client(a.engine, cid).screening
        assert stored.id == outcomes[winner]
        assert stored.answers["pregnancy"] is (winner == "c")


# -- consent withdrawn (migration 0014)


def test_a_withdrawn_consent_makes_the_client_ineligible_until_given_again(rooms):
    from app.store.eligibility import read_facts

    a, c = rooms
    cid = _cleared_client(a)
    given = a.shown(cid)[1]
    wid = a.writer.withdraw_consent(cid, based_on=given, operator_id=a.operator_id).result(10)
    record = services.get_client(c.engine, cid)
    assert record.consent.id == wid
    assert record.consent.withdrawn
    assert record.consent.operator_name == "Ada Room-A"
    assert record.consent_version is None
    gate = services.treatment_gate(c.engine, cid)
    assert not gate.allowed
    assert gate.status is Status.CLEARED  # the screening itself is as it was
    assert any(r.startswith("Consent withdrawn on") for r in gate.reasons)
    facts = read_facts(c.engine, cid)  # what the output authority goes by, in any room
    assert not facts.allowed
    # recorded in the audit trail (no name), the chain whole
    [entry] = [e for e in audit.entries(a.engine) if e.action == "withdraw_consent"]
    assert entry.subject == f"client:{cid}"
    assert entry.details == {
        "consent": wid,
        "withdraws": given,
        "text_version": Q.consent_text_version,
    }
    assert entry.operator_id == a.operator_id
    assert audit.verify(a.engine).ok
    # nothing to withdraw twice
    with pytest.raises(ValueError, match="already withdrawn"):
        a.writer.withdraw_consent(cid, based_on=wid).result(10)
    # a session begun now names no consent in force
    uid = a.writer.begin_session(cid, program="P")
    a.writer.end_session(uid, "completed")
    assert a.writer.flush(10)
    assert services.session_detail(a.engine, uid).consent is None
    # the client consents again, from the form that showed the withdrawal
    again = a.writer.add_consent(
        cid,
        Q.consent_text_version,
        based_on=wid,
        text_snapshot=Q.consent_text,
        signature=typed("Nina Screened"),
    ).result(10)
    assert services.get_client(c.engine, cid).consent.id == again
    assert services.treatment_gate(c.engine, cid).allowed


def test_a_withdrawal_from_a_stale_form_is_refused(rooms):
    a, c = rooms
    cid = _cleared_client(a)
    shown_a = a.shown(cid)[1]
    # room C: the client withdrew, then signed again there
    wid = c.writer.withdraw_consent(cid, based_on=shown_a, operator_id=c.operator_id).result(10)
    with pytest.raises(StaleScreeningError, match="consent was saved again .* by Cleo Room-C"):
        a.writer.withdraw_consent(cid, based_on=shown_a).result(10)
    # a consent "given again" from a form that still showed the old consent: refused too
    with pytest.raises(StaleScreeningError):
        a.writer.add_consent(cid, Q.consent_text_version, based_on=shown_a).result(10)
    assert services.get_client(a.engine, cid).consent.id == wid
    assert not services.treatment_gate(a.engine, cid).allowed


def test_two_rooms_withdrawing_at_once_record_one_withdrawal(rooms):
    a, c = rooms
    cid = _cleared_client(a)
    given = a.shown(cid)[1]
    go = threading.Barrier(2)
    futures: dict = {}

    def withdraw(room: Room, key: str) -> None:
        go.wait()
        futures[key] = room.writer.withdraw_consent(cid, based_on=given)

    threads = [threading.Thread(target=withdraw, args=(r, k)) for r, k in ((a, "a"), (c, "c"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcomes = []
    for fut in futures.values():
        try:
            fut.result(20)
            outcomes.append("withdrawn")
        except (StaleScreeningError, ValueError):
            outcomes.append("refused")
    assert sorted(outcomes) == ["refused", "withdrawn"]
    assert count_rows(a.engine, Consent, client_id=cid) == 2  # the consent and one withdrawal


def test_upgrading_a_0013_database_keeps_its_consents_given(store_url):  # noqa: F811
    from sqlalchemy import text

    from app.store.database import make_engine, upgrade_to_head

    assert upgrade_to_head(store_url, revision="0013") == "0013"
    engine = make_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO client (name, contact, skin_notes, is_training, created_at, "
                    "updated_at, version) VALUES ('Old Client', '', '', false, :t, :t, 1)"
                ),
                {"t": dt.datetime(2026, 1, 1)},
            )
            conn.execute(
                text(
                    "INSERT INTO consent (client_id, text_version, given_at) VALUES "
                    "((SELECT id FROM client WHERE name = 'Old Client'), :v, :t)"
                ),
                {"v": Q.consent_text_version, "t": dt.datetime(2026, 1, 2)},
            )
    finally:
        engine.dispose()
    engine, info = open_store(store_url)
    try:
        assert info.revision == "0014"
        with Session(engine) as s:
            cid = s.scalar(select(Consent.client_id))
        record = services.get_client(engine, cid)
        assert record.consent is not None
        assert not record.consent.withdrawn
        assert record.consent_version == Q.consent_text_version
    finally:
        engine.dispose()
