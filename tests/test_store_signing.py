"""Signed and locked records (app/store: models' lock, writer's SignSession/AmendSession,
the consent signed on screen): a signed session refuses every change in the store with
a message naming why; an amendment keeps the original; a signed consent keeps the exact
text and its signature, immutable; each signature and amendment is in the audit trail;
migration 0010 upgrades a database that holds data."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session
from store_fixtures import pg_cluster, sqlite_url, store_url  # noqa: F401

from app.store import audit, services
from app.store.database import head_revision, make_engine, open_store, upgrade_to_head
from app.store.maintenance import erase_client
from app.store.models import (
    Consent,
    Event,
    LockedRecordError,
    Note,
    Outcome,
    SessionStep,
    TreatmentSession,
)
from app.store.screening import load_questionnaire
from app.store.signature import DRAWN, TYPED, Signature, SignatureError, drawn, typed
from app.store.validation import ClientData
from app.store.writer import StoreWriter

T0 = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def store(store_url):  # noqa: F811
    engine, info = open_store(store_url)
    writer = StoreWriter(engine)
    yield engine, info, writer
    writer.close()
    engine.dispose()


def _finished_session(writer: StoreWriter, operator_id: int, name: str = "Ana Client") -> tuple:
    cid = writer.save_client(ClientData(name)).result(10)
    uid = writer.begin_session(cid, operator_id=operator_id, program="lift", started_at=T0)
    writer.add_step(uid, 0, "frontalis_l", {}, 60.0, 60.0, charge_uc=1.0, mean_current_ua=200.0)
    writer.add_event(uid, "state", {"state": "running"}, T0)
    writer.end_session(uid, Outcome.COMPLETED, T0 + dt.timedelta(minutes=1))
    assert writer.flush(10)
    return cid, uid


def _sid(engine, uid: str) -> int:
    return services.session_detail(engine, uid).summary.id


def test_a_signed_session_is_locked_in_the_store_and_says_why(store):
    engine, info, w = store
    cid, uid = _finished_session(w, info.default_operator_id)
    sid = _sid(engine, uid)
    sign_at = T0 + dt.timedelta(minutes=5)
    w.sign_session(
        uid, info.default_operator_id, "  Dr Maria Ek ", notes="Calm skin.", signed_at=sign_at
    ).result(10)

    detail = services.session_detail(engine, sid)
    assert detail.locked
    assert detail.signature.printed_name == "Dr Maria Ek"
    assert detail.signature.meaning == "performed"
    assert detail.signature.signed_at == sign_at
    assert [t for _, t in detail.notes] == ["Calm skin."]

    # every path that changes a session's record is refused, by the writer ...
    refused = [
        w.add_step(uid, 1, "frontalis_r", {}, 60.0, 10.0),
        w.add_event(uid, "note", {"message": "late"}),
        w.end_session(uid, Outcome.STOPPED),
        w.add_note(cid, "changed my mind", session_uid=uid),
    ]
    for fut in refused:
        with pytest.raises(LockedRecordError) as err:
            fut.result(10)
        message = str(err.value)
        assert f"Session {sid} was signed on 2026-12-05 09:05 UTC and is locked" in message
        assert "amendment" in message
    # ... and by any other ORM session (the lock is the store's, not the writer's)
    with Session(engine) as s:
        row = s.get(TreatmentSession, sid)
        row.outcome = Outcome.STOPPED
        with pytest.raises(LockedRecordError, match="locked"):
            s.flush()
        s.rollback()
        step = s.scalars(select(SessionStep).where(SessionStep.session_id == sid)).one()
        step.actual_s = 1.0
        with pytest.raises(LockedRecordError):
            s.commit()
    with Session(engine) as s:
        s.add(Event(session_id=sid, timestamp=T0, kind="forged", payload={}))
        with pytest.raises(LockedRecordError):
            s.commit()
    # nothing changed
    after = services.session_detail(engine, sid)
    assert after.summary.outcome is Outcome.COMPLETED
    assert [(st.position, st.actual_s) for st in after.steps] == [(0, 60.0)]
    assert [e.kind for e in after.events] == ["state"]
    assert [t for _, t in after.notes] == ["Calm skin."]
    # a second signature is refused, in words
    with pytest.raises(LockedRecordError, match="already signed"):
        w.sign_session(sid, info.default_operator_id, "Someone Else").result(10)


def test_an_unsigned_session_is_not_locked_and_only_a_finished_one_can_be_signed(store):
    engine, info, w = store
    cid = w.save_client(ClientData("Open Session")).result(10)
    uid = w.begin_session(cid, operator_id=info.default_operator_id, started_at=T0)
    assert w.flush(10)
    with pytest.raises(ValueError, match="not finished"):
        w.sign_session(uid, info.default_operator_id, "Dr Ek").result(10)
    w.add_step(uid, 0, "frontalis_l", {}, 60.0, 60.0).result(10)  # still open: written
    w.end_session(uid, Outcome.COMPLETED).result(10)
    with pytest.raises(ValueError, match="printed name is empty"):
        w.sign_session(uid, info.default_operator_id, "   ").result(10)
    with pytest.raises(ValueError, match="meaning"):
        w.sign_session(uid, info.default_operator_id, "Dr Ek", meaning="approved").result(10)
    assert not services.session_detail(engine, uid).locked


def test_an_amendment_keeps_the_original_and_is_dated_and_audited(store):
    engine, info, w = store
    _cid, uid = _finished_session(w, info.default_operator_id)
    sid = _sid(engine, uid)
    with pytest.raises(ValueError, match="not signed yet"):
        w.amend_session(uid, info.default_operator_id, "Dr Ek", "notes", "x", "y").result(10)
    w.sign_session(uid, info.default_operator_id, "Dr Ek", notes="Left cheek red.").result(10)
    made = T0 + dt.timedelta(days=1)
    aid = w.amend_session(
        sid,
        info.default_operator_id,
        "Dr Ek",
        "notes",
        "Right cheek red, not left.",
        "Wrong side noted at signing.",
        made_at=made,
    ).result(10)
    with pytest.raises(ValueError, match="no reason"):
        w.amend_session(sid, info.default_operator_id, "Dr Ek", "notes", "x", " ").result(10)
    with pytest.raises(ValueError, match="corrects one of"):
        w.amend_session(sid, info.default_operator_id, "Dr Ek", "client", "x", "y").result(10)

    detail = services.session_detail(engine, sid)
    assert [t for _, t in detail.notes] == ["Left cheek red."]  # the original stays
    (a,) = detail.amendments
    assert (a.id, a.made_at, a.author_name, a.field, a.text, a.reason) == (
        aid,
        made,
        "Dr Ek",
        "notes",
        "Right cheek red, not left.",
        "Wrong side noted at signing.",
    )
    # an amendment cannot itself be changed
    from app.store.models import Amendment

    with Session(engine) as s:
        s.get(Amendment, aid).text = "rewritten"
        with pytest.raises(LockedRecordError, match="amendment cannot be changed"):
            s.commit()
    # signing and amending are in the audit trail, without the text (health data)
    lines = audit.entries(engine, subject=audit.session_subject(sid))
    assert [x.action for x in lines] == ["sign_session", "amend_session"]
    assert lines[1].details == {"amendment": aid, "field": "notes"}
    assert "cheek" not in repr([x.details for x in lines])
    assert audit.verify(engine).ok


def test_a_consent_signed_on_screen_keeps_the_exact_text_and_its_signature(store):
    engine, info, w = store
    q = load_questionnaire()
    cid = w.save_client(ClientData("Signing Client")).result(10)
    sig = drawn(
        [[(10.2, 20.7), (10.2, 20.7), (30, 40), (55, 42)], [(60, 10), (90, 95)]],
        400,
        120,
        "Signing Client",
    )
    assert sig.strokes == ((10, 21, 30, 40, 55, 42), (60, 10, 90, 95))  # repeats dropped
    con_id = w.add_consent(
        cid,
        q.consent_text_version,
        info.default_operator_id,
        T0,
        based_on=None,
        text_snapshot=q.consent_text,
        signature=sig,
    ).result(10)
    record = services.get_client(engine, cid).consent
    assert record.id == con_id
    assert record.text == q.consent_text  # the exact text signed
    assert record.signature == sig  # the strokes round-trip
    assert record.given_at == T0
    # immutable: neither the text nor the signature can be changed afterwards
    for change in (
        lambda c: setattr(c, "text_snapshot", "a gentler text"),
        lambda c: setattr(c, "signature", {"v": 1, "w": 1, "h": 1, "strokes": []}),
        lambda c: setattr(c, "given_at", T0 + dt.timedelta(days=1)),
    ):
        with Session(engine) as s:
            change(s.get(Consent, con_id))
            with pytest.raises(LockedRecordError, match=f"Consent {con_id} was signed"):
                s.commit()
    assert services.get_client(engine, cid).consent == record
    # typed, for keyboard users
    tid = w.add_consent(
        cid,
        q.consent_text_version,
        info.default_operator_id,
        T0 + dt.timedelta(hours=1),
        based_on=con_id,
        text_snapshot=q.consent_text,
        signature=typed(" Signing Client "),
    ).result(10)
    latest = services.get_client(engine, cid).consent
    assert latest.id == tid
    assert latest.signature == Signature(TYPED, "Signing Client")
    lines = audit.entries(engine, action="sign_consent")
    assert [x.details["kind"] for x in lines] == [DRAWN, TYPED]
    assert "Signing" not in repr([x.details for x in lines])


def test_an_unusable_signature_is_refused_in_words(store):
    engine, info, w = store
    cid = w.save_client(ClientData("No Signature")).result(10)
    with pytest.raises(SignatureError, match="signature box is empty"):
        w.add_consent(
            cid, "v1", based_on=None, text_snapshot="text", signature=drawn([[(1, 1)]], 400, 120)
        )
    with pytest.raises(SignatureError, match="type the client's full name"):
        w.add_consent(cid, "v1", based_on=None, text_snapshot="text", signature=typed("  "))
    outside = Signature(DRAWN, "", ((1, 1, 2, 2, 3, 3, 4, 4, 500, 5),), 400, 120)
    assert outside.problem() == "a point of the signature lies outside its pad"
    with pytest.raises(ValueError, match="text the client signed is missing"):
        w.add_consent(cid, "v1", based_on=None, signature=typed("No Signature")).result(10)
    assert services.get_client(engine, cid).consent is None


def test_erasing_a_client_removes_signatures_and_amendments(store):
    engine, info, w = store
    cid, uid = _finished_session(w, info.default_operator_id)
    w.sign_session(uid, info.default_operator_id, "Dr Ek", notes="n").result(10)
    w.amend_session(uid, info.default_operator_id, "Dr Ek", "other", "t", "r").result(10)
    assert w.flush(10)
    counts = erase_client(engine, cid)
    assert counts["session_signature"] == 1
    assert counts["amendment"] == 1
    with Session(engine) as s:
        assert s.scalar(select(Note).where(Note.client_id == cid)) is None


def test_migration_0010_upgrades_a_database_with_data(store_url):  # noqa: F811
    assert upgrade_to_head(store_url, revision="0008") == "0008"
    engine = make_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO client (name, contact, skin_notes, is_training, created_at, "
                    "updated_at, version) VALUES ('Old Client', '', '', false, "
                    "'2026-01-01', '2026-01-01', 1)"
                )
            )
            cid = conn.execute(text("SELECT id FROM client WHERE name = 'Old Client'")).scalar()
            conn.execute(
                text(
                    "INSERT INTO consent (client_id, text_version, given_at) "
                    "VALUES (:c, 'consent-2025', '2026-01-02 10:00:00')"
                ),
                {"c": cid},
            )
            conn.execute(
                text(
                    "INSERT INTO treatment_session (uid, client_id, program, device_serial, "
                    "firmware, started_at, ended_at, outcome, training) VALUES "
                    "('u-1', :c, 'lift', '', '', '2026-01-03 10:00:00', "
                    "'2026-01-03 10:20:00', 'completed', false)"
                ),
                {"c": cid},
            )
    finally:
        engine.dispose()
    engine, info = open_store(store_url)
    w = StoreWriter(engine)
    try:
        assert info.revision == head_revision()
        names = inspect(engine).get_table_names()
        assert {"session_signature", "amendment"} <= set(names)
        old = services.get_client(engine, cid)
        assert old.consent.text_version == "consent-2025"
        assert old.consent.text is None  # kept as it was
        assert old.consent.signature is None
        detail = services.session_detail(engine, "u-1")
        assert not detail.locked
        assert detail.amendments == ()
        # an old session can be signed and amended after the upgrade
        w.sign_session("u-1", info.default_operator_id, "Dr Ek").result(10)
        w.amend_session("u-1", info.default_operator_id, "Dr Ek", "outcome", "x", "y").result(10)
        assert services.session_detail(engine, "u-1").locked
    finally:
        w.close()
        engine.dispose()


def test_a_session_names_the_consent_in_force_when_it_began(store):
    engine, info, w = store
    cid = w.save_client(ClientData("Two Consents")).result(10)
    before = w.add_consent(
        cid,
        "v1",
        None,
        T0 - dt.timedelta(days=1),
        based_on=None,
        text_snapshot="old",
        signature=typed("A B"),
    ).result(10)
    w.add_consent(
        cid,
        "v2",
        None,
        T0 + dt.timedelta(days=1),
        based_on=before,
        text_snapshot="new",
        signature=typed("A B"),
    ).result(10)
    uid = w.begin_session(cid, started_at=T0)
    w.end_session(uid, Outcome.COMPLETED, T0 + dt.timedelta(minutes=1))
    assert w.flush(10)
    consent = services.session_detail(engine, uid).consent
    assert (consent.id, consent.text) == (before, "old")
    early = w.begin_session(cid, started_at=T0 - dt.timedelta(days=2))
    assert w.flush(10)
    assert services.session_detail(engine, early).consent is None
