"""Zone screening and comfortable intensities in the store: the upgrade to 0011 keeps
the data, a client's comfortable level per zone is kept (one row per zone, replaced),
read with the client's facts (with the screening's zone rules) and erased with the
client."""

from __future__ import annotations

import datetime as dt
import json
import zipfile

import pytest
from sqlalchemy import inspect, text
from store_fixtures import pg_cluster, sqlite_url, store_url  # noqa: F401

from app.store import maintenance, services
from app.store.database import head_revision, make_engine, open_store, upgrade_to_head
from app.store.eligibility import read_facts
from app.store.screening import add_months, load_questionnaire
from app.store.validation import ClientData
from app.store.vocabulary import ZoneRule
from app.store.writer import StoreWriter

Q = load_questionnaire()


@pytest.fixture
def store(store_url):  # noqa: F811
    engine, info = open_store(store_url)
    writer = StoreWriter(engine, retry_s=0.05)
    yield store_url, engine, info, writer
    writer.close()
    engine.dispose()


def _answers(**zone_answers) -> dict:
    base = {i.id: (False if i.type == "yes_no" else None) for i in Q.items if i.asked}
    return base | zone_answers


def test_upgrading_a_0008_database_with_data_adds_comfort_and_keeps_everything(store_url):  # noqa: F811
    assert upgrade_to_head(store_url, revision="0008") == "0008"
    engine = make_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO client (name, contact, skin_notes, is_training, created_at, "
                    "updated_at, version) VALUES ('Old Client', '', 'dry', false, "
                    "'2026-01-01', '2026-01-01', 1)"
                )
            )
            cid = conn.execute(text("SELECT id FROM client")).scalar()
            conn.execute(
                text(
                    "INSERT INTO screening (client_id, questionnaire_version, answers, "
                    "screened_on, expires_on, overrides_acknowledged, created_at) VALUES "
                    "(:c, 1, '{\"pregnancy\": false}', '2026-11-01', '2027-05-01', '[]', "
                    "'2026-11-01')"
                ),
                {"c": cid},
            )
    finally:
        engine.dispose()
    engine, info = open_store(store_url)
    writer = StoreWriter(engine, retry_s=0.05)
    try:
        assert info.revision == head_revision()
        assert "zone_comfort" in inspect(engine).get_table_names()
        record = services.get_client(engine, cid)
        assert record.name == "Old Client"
        assert record.screening.answers == {"pregnancy": False}
        # an old screening names no zones
        assert services.treatment_gate(engine, cid, record=record).zone_rules == ()
        assert writer.save_comfort(cid, ("masseter_l",), 180.0).result(10) == 1
        assert services.comfort_levels(engine, cid) == {"masseter_l": 180.0}
    finally:
        writer.close()
        engine.dispose()


def test_comfort_is_kept_per_zone_replaced_and_read_with_the_facts(store):
    _url, engine, _info, writer = store
    cid = writer.save_client(ClientData("Ann Example", dt.date(1980, 1, 2))).result(10)
    writer.save_comfort(cid, ("masseter_l", "masseter_r"), 180.0, None).result(10)
    writer.save_comfort(cid, ("masseter_r",), 160.0, None).result(10)
    assert services.comfort_levels(engine, cid) == {"masseter_l": 180.0, "masseter_r": 160.0}
    today = dt.date.today()
    fillers = (today - dt.timedelta(days=5)).isoformat()
    answers = _answers(
        fillers_botox=fillers,
        filler_toxin_sites=["zygomaticus_major_l"],
        metal_implant_sites=["buccinator_r"],
    )
    writer.add_screening(
        cid,
        answers,
        today,
        add_months(today, 6),
        ("fillers_botox",),
        questionnaire_version=2,
        based_on=None,
    ).result(10)
    writer.add_consent(cid, Q.consent_text_version, based_on=None).result(10)
    facts = read_facts(engine, cid)
    assert facts.allowed  # the face-level filler question was overridden
    assert facts.zone_rules == (
        ZoneRule("zygomaticus_major_l", "filler_toxin_sites", "filler or toxin site", None),
        ZoneRule("buccinator_r", "metal_implant_sites", "metal implant", 100.0),
    )
    assert facts.comfort("masseter_r") == 160.0
    with pytest.raises(ValueError, match="must be ≥ 0"):
        writer.save_comfort(cid, ("masseter_l",), float("nan")).result(10)


def test_comfort_is_exported_and_erased_with_the_client(store, tmp_path):
    _url, engine, _info, writer = store
    cid = writer.save_client(ClientData("Ann Example", dt.date(1980, 1, 2))).result(10)
    writer.save_comfort(cid, ("mentalis_l",), 120.0).result(10)
    writer.close()
    dest = maintenance.export_client(engine, cid, tmp_path / "export.zip")
    with zipfile.ZipFile(dest) as z:
        exported = json.loads(z.read("client.json"))
    assert [(c["zone"], c["intensity_ua"]) for c in exported["zone_comfort"]] == [
        ("mentalis_l", 120.0)
    ]
    counts = maintenance.erase_client(engine, cid)
    assert counts["zone_comfort"] == 1
    assert services.comfort_levels(engine, cid) == {}


def test_the_recorder_keeps_a_comfort_record_for_the_client_never_for_training(store):
    from app.engine.recorder import SessionRecorder
    from app.engine.session import SessionRecord

    _url, engine, _info, writer = store
    cid = writer.save_client(ClientData("Ann Example", dt.date(1980, 1, 2))).result(10)
    record = SessionRecord(
        dt.datetime.now(dt.UTC),
        "comfort",
        "running",
        "comfortable level 170 µA on Masseter (client's left)",
        {"zones": ["masseter_l"], "intensity_ua": 170.0},
    )
    SessionRecorder(writer, cid).on_record(record)
    training = services.training_client_id(engine)
    SessionRecorder(writer, training, training=True).on_record(record)
    assert writer.flush(10)
    assert services.comfort_levels(engine, cid) == {"masseter_l": 170.0}
    assert services.comfort_levels(engine, training) == {}
