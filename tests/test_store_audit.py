"""The tamper-evident audit trail (app/store/audit.py) on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
import stat
import threading

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from store_fixtures import pg_cluster, sqlite_url, store_url  # noqa: F401

from app.__main__ import main
from app.store import audit
from app.store.clinic import SaveClinicSettings, SetPinHash
from app.store.database import make_engine, open_store
from app.store.models import AuditEntry
from app.store.validation import ClientData
from app.store.writer import StoreWriter

SECRET_NAME = "Ottoline Quarrington-Vessey"


@pytest.fixture
def store(store_url):  # noqa: F811
    engine, info = open_store(store_url)
    writer = StoreWriter(engine, retry_s=0.05)
    yield store_url, engine, info, writer
    writer.close()
    engine.dispose()


def _append(writer: StoreWriter, n: int, start: int = 0) -> list[int]:
    futures = [
        writer.audit("view_client", audit.client_subject(start + i), {"n": start + i})
        for i in range(n)
    ]
    return [f.result(20) for f in futures]


def test_entries_form_one_chain(store):
    _url, engine, _info, writer = store
    ids = _append(writer, 5)
    assert ids == sorted(ids)
    lines = audit.entries(engine)
    assert [ln.id for ln in lines] == ids
    assert lines[0].prev_hash == audit.GENESIS
    for a, b in zip(lines, lines[1:], strict=False):
        assert b.prev_hash == a.hash
    assert lines[2].subject == "client:2"
    assert lines[2].details == {"n": 2}
    assert lines[0].at.tzinfo is not None
    assert lines[0].host
    verdict = audit.verify(engine)
    assert verdict.ok
    assert verdict.checked == 5
    assert [ln.id for ln in audit.entries(engine, subject="client:3")] == [ids[3]]
    with pytest.raises(ValueError, match="unknown audit action"):
        writer.audit("looked_around", "client:1")


def _verify_cli(url: str, capsys) -> tuple[int, str]:
    code = main(["db", "audit-verify", "--database-url", url])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_a_changed_detail_is_named_by_the_verify_command(store, capsys):
    url, engine, _info, writer = store
    ids = _append(writer, 4)
    assert _verify_cli(url, capsys) == (0, "audit trail intact: 4 entries\n")
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_entry SET details = :d WHERE id = :i"),
            {"d": '{"n": 99}', "i": ids[2]},
        )
    code, out = _verify_cli(url, capsys)
    assert code == 1
    assert f"BROKEN at entry {ids[2]}:" in out
    assert "content was changed" in out


def test_a_forger_who_rehashes_an_entry_breaks_the_next_link(store, capsys):
    url, engine, _info, writer = store
    ids = _append(writer, 4)
    with Session(engine) as s, s.begin():
        row = s.get(AuditEntry, ids[1])
        assert row is not None
        row.details = {"n": 42}
        row.hash = audit.entry_hash(
            row.prev_hash,
            audit.canonical(
                row.id, row.at, row.operator_id, row.host, row.action, row.subject, row.details
            ),
        )
    code, out = _verify_cli(url, capsys)
    assert code == 1
    assert f"BROKEN at entry {ids[2]}:" in out


def test_a_deleted_entry_is_named_by_the_verify_command(store, capsys):
    url, engine, _info, writer = store
    ids = _append(writer, 5)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entry WHERE id = :i"), {"i": ids[1]})
    code, out = _verify_cli(url, capsys)
    assert code == 1
    assert f"BROKEN at entry {ids[2]}:" in out
    assert "deleted" in out


def test_a_reordered_entry_is_named_by_the_verify_command(store, capsys):
    url, engine, _info, writer = store
    ids = _append(writer, 5)
    cols = "at, operator_id, host, action, subject, details, prev_hash, hash"
    with engine.begin() as conn:  # rows 2 and 3 swap places (every column but the id)
        a = conn.execute(text(f"SELECT {cols} FROM audit_entry WHERE id = :i"), {"i": ids[2]}).one()
        b = conn.execute(text(f"SELECT {cols} FROM audit_entry WHERE id = :i"), {"i": ids[3]}).one()
        sets = ", ".join(f"{c} = :{c}" for c in cols.split(", "))
        for row, target in ((b, ids[2]), (a, ids[3])):
            values = row._asdict()
            if not isinstance(values["details"], str):
                values["details"] = json.dumps(values["details"])
            conn.execute(
                text(f"UPDATE audit_entry SET {sets} WHERE id = :id"), {**values, "id": target}
            )
    code, out = _verify_cli(url, capsys)
    assert code == 1
    assert f"BROKEN at entry {ids[2]}:" in out


def test_two_writers_on_one_database_keep_one_chain(store):
    url, engine, _info, writer = store
    other_engine = make_engine(url)
    other = StoreWriter(other_engine, retry_s=0.05)
    try:
        results: dict[str, list[int]] = {}

        def run(name: str, w: StoreWriter, start: int) -> None:
            ids = []
            for i in range(40):  # one commit each: the two rooms interleave
                ids.append(w.audit("view_session", audit.session_subject(start + i)).result(30))
            results[name] = ids

        threads = [
            threading.Thread(target=run, args=("a", writer, 0)),
            threading.Thread(target=run, args=("b", other, 1000)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(results["a"]) == len(results["b"]) == 40
        verdict = audit.verify(engine)
        assert verdict.ok, verdict
        assert verdict.checked == 80
        lines = audit.entries(engine)
        assert len({ln.prev_hash for ln in lines}) == 80  # no two entries share a parent
    finally:
        other.close()
        other_engine.dispose()


def test_erase_keeps_the_entries_without_the_name(store, tmp_path, capsys):
    url, engine, _info, writer = store
    cid = writer.save_client(ClientData(SECRET_NAME, contact="ottoline@example.org")).result(10)
    writer.audit("view_client", audit.client_subject(cid)).result(10)
    writer.close()
    assert (
        main(["db", "export-client", str(cid), str(tmp_path / "x.zip"), "--database-url", url]) == 0
    )
    assert main(["db", "erase-client", str(cid), "--yes", "--database-url", url]) == 0
    capsys.readouterr()
    lines = audit.entries(engine, subject=audit.client_subject(cid))
    assert [ln.action for ln in lines] == ["view_client", "export", "erase"]
    assert lines[2].details["rows"]["client"] == 1
    with Session(engine) as s:
        stored = [(r.host, r.subject, str(r.details)) for r in s.scalars(select(AuditEntry))]
    for secret in (SECRET_NAME, "Ottoline", "ottoline@example.org"):
        assert not any(secret in str(row) for row in stored)
    assert _verify_cli(url, capsys)[0] == 0


def test_limit_and_pin_changes_are_audited(store):
    _url, engine, info, writer = store
    writer.submit(
        SaveClinicSettings({"max_current_ua": 300.0}, 0, operator_id=info.default_operator_id)
    ).result(10)
    writer.submit(SetPinHash("scrypt$not-a-real-hash", first=True)).result(10)
    lines = audit.entries(engine)
    assert [(ln.action, ln.subject) for ln in lines] == [
        ("limit_change", "clinic"),
        ("pin_change", "clinic"),
    ]
    assert lines[0].details == {"changed": {"max_current_ua": [None, 300.0]}}
    assert lines[0].operator_id == info.default_operator_id
    assert "hash" not in str(lines[1].details)
    assert audit.verify(engine).ok


def test_audit_export_is_a_private_csv(store, tmp_path, capsys):
    url, engine, _info, writer = store
    _append(writer, 3)
    dest = tmp_path / "audit.csv"
    assert main(["db", "audit-export", str(dest), "--database-url", url]) == 0
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    with dest.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["action"] for r in rows] == ["view_client"] * 3
    assert rows[1]["prev_hash"] == rows[0]["hash"]
    # the export itself is recorded
    assert audit.entries(engine)[-1].action == "audit_export"
    assert main(["db", "audit-export", str(dest), "--database-url", url]) == 1
    assert "already exists" in capsys.readouterr().err


def test_technician_sign_ins_and_failed_ones_are_audited(store):
    from app.service.pin import PinGuard, StorePinBackend
    from app.store.clinic import read_clinic

    _url, engine, info, writer = store
    backend = StorePinBackend(writer, info.default_operator_id)
    backend.update(read_clinic(engine))
    guard = PinGuard(backend)
    guard.set_pin("2468")
    assert not guard.verify("1111").ok
    assert guard.verify("2468").ok
    assert writer.flush(10)
    lines = [(ln.action, ln.subject, ln.details) for ln in audit.entries(engine)]
    assert lines == [
        ("pin_change", "clinic", {"action": "set"}),
        ("sign_in_failed", "bench", {"via": "technician PIN", "failures_in_a_row": 1}),
        ("sign_in", "bench", {"via": "technician PIN", "failures_in_a_row": 0}),
    ]
    assert "2468" not in str(lines)
    assert all(ln.operator_id == info.default_operator_id for ln in audit.entries(engine)[1:])
    assert audit.verify(engine).ok


def test_upgrading_a_0006_database_starts_an_empty_chain(store_url):  # noqa: F811
    from sqlalchemy import inspect

    from app.store.database import head_revision, upgrade_to_head

    assert upgrade_to_head(store_url, revision="0006") == "0006"
    engine, info = open_store(store_url)
    try:
        assert info.revision == head_revision()
        assert "audit_entry" in inspect(engine).get_table_names()
        cols = {c["name"] for c in inspect(engine).get_columns("session_step")}
        assert "charge_abs_uc" in cols
        assert audit.verify(engine) == audit.Verdict(True, 0)
    finally:
        engine.dispose()


def test_a_clients_own_limit_change_is_audited_without_the_name(store):
    _url, engine, _info, writer = store
    cid = writer.save_client(ClientData(SECRET_NAME)).result(10)
    writer.save_client(ClientData(SECRET_NAME, contact="x", id=cid)).result(10)  # no limit
    writer.save_client(ClientData(SECRET_NAME, current_limit_ua=300.0, id=cid)).result(10)
    writer.save_client(ClientData(SECRET_NAME, current_limit_ua=250.0, id=cid)).result(10)
    other = writer.save_client(ClientData("B. Other", current_limit_ua=200.0)).result(10)
    lines = [(ln.action, ln.subject, ln.details) for ln in audit.entries(engine)]
    assert lines == [
        ("limit_change", f"client:{cid}", {"client_limit_ua": [None, 300.0]}),
        ("limit_change", f"client:{cid}", {"client_limit_ua": [300.0, 250.0]}),
        ("limit_change", f"client:{other}", {"client_limit_ua": [None, 200.0]}),
    ]
    assert SECRET_NAME not in str(audit.entries(engine))
    assert audit.verify(engine).ok


def test_the_client_filter_finds_the_client_record_and_their_sessions(store):
    """A manager asking "who saw client N" gets the record's entries and every entry
    about one of that client's sessions — not another client's."""
    from app.store.audit_query import AuditFilter, query

    _url, engine, _info, writer = store
    anna = writer.save_client(ClientData(name="Anna Audit")).result(20)
    bert = writer.save_client(ClientData(name="Bert Audit")).result(20)
    uid = writer.begin_session(anna, program="lift")
    other = writer.begin_session(bert, program="lift")
    assert writer.flush(20)
    with Session(engine) as s:
        from app.store.models import TreatmentSession

        sid = s.scalar(select(TreatmentSession.id).where(TreatmentSession.uid == uid))
        bert_sid = s.scalar(select(TreatmentSession.id).where(TreatmentSession.uid == other))
    for subject in (
        audit.client_subject(anna),
        audit.session_subject(sid),
        audit.client_subject(bert),
        audit.session_subject(bert_sid),
    ):
        writer.audit("view_client" if subject.startswith("client") else "view_session", subject)
    assert writer.flush(20)
    page = query(engine, AuditFilter(client_id=anna))
    assert sorted(ln.subject for ln in page.lines) == sorted(
        [audit.client_subject(anna), audit.session_subject(sid)]
    )
    assert page.total == 2
