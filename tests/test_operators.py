"""Operators in the store: roles, secrets (one hashing and lockout rule with the PIN),
the first account, who is signed in recorded on every write, audited changes, and the
upgrade of a database with data (revision 0008 → 0013)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from store_fixtures import pg_cluster, sqlite_url, store_url  # noqa: F401

from app.service.pin import hash_pin, operator_guard, verify_hash
from app.store import audit
from app.store.database import DEFAULT_OPERATOR_NAME, make_engine, open_store, upgrade_to_head
from app.store.models import Consent, Screening, TreatmentSession
from app.store.operators import (
    AddOperator,
    ChangeOperator,
    OperatorContext,
    Role,
    SignedIn,
    find_operator,
    home_workspace,
    list_operators,
    may_enter,
    needs_first_account,
    read_operator,
)
from app.store.runtime import RunningStore
from app.store.writer import StoreWriter


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def store(store_url):  # noqa: F811
    engine, info = open_store(store_url)
    running = RunningStore(engine, info, StoreWriter(engine, retry_s=0.05))
    yield running
    running.close()


def _add(store: RunningStore, name: str, role: Role, secret: str, **kw) -> int:
    return int(store.writer.submit(AddOperator(name, role, hash_pin(secret), **kw)).result(10))


def test_roles_gate_the_workspaces_erase_and_audit():
    assert may_enter(Role.TECHNICIAN, "technician")
    assert may_enter(Role.MANAGER, "technician")
    assert not may_enter(Role.PRACTITIONER, "technician")
    assert not may_enter(Role.TRAINER, "technician")
    assert may_enter(Role.PRACTITIONER, "practitioner")
    assert not may_enter(Role.TECHNICIAN, "practitioner")
    assert not may_enter(Role.TRAINER, "practitioner")
    assert may_enter(Role.TRAINER, "trainer")
    assert not may_enter(None, "practitioner")
    assert home_workspace(Role.TECHNICIAN) == "technician"
    assert home_workspace(Role.TRAINER) == "trainer"


def test_a_fresh_store_keeps_its_practitioner_and_asks_for_a_first_manager(store):
    ops = list_operators(store.engine)
    assert [(o.name, o.role, o.has_secret) for o in ops] == [
        (DEFAULT_OPERATOR_NAME, Role.PRACTITIONER, False)
    ]
    assert needs_first_account(ops)
    mid = _add(store, "Maya Manager", Role.MANAGER, "4321", first=True)
    assert not needs_first_account(list_operators(store.engine))
    # a second "first account" is refused once a manager can sign in
    with pytest.raises(ValueError, match="manager account exists already"):
        _add(store, "Intruder", Role.MANAGER, "9999", first=True)
    assert find_operator(store.engine, "  maya manager ").id == mid
    assert store.writer.flush(10)
    lines = [(ln.action, ln.subject, ln.operator_id) for ln in audit.entries(store.engine)]
    assert lines == [("operator_change", f"operator:{mid}", mid)]


def test_the_default_practitioner_is_taken_over_not_duplicated(store):
    pid = store.info.default_operator_id
    got = _add(store, DEFAULT_OPERATOR_NAME, Role.PRACTITIONER, "1357")
    assert got == pid
    rec = read_operator(store.engine, pid)
    assert rec.has_secret
    assert verify_hash("1357", rec.secret_hash)
    assert "1357" not in rec.secret_hash
    with pytest.raises(ValueError, match="exists already"):
        _add(store, "practitioner", Role.TRAINER, "2468")


def test_a_wrong_secret_is_refused_counted_and_locked_out(store):
    oid = _add(store, "Ann Practitioner", Role.PRACTITIONER, "correct horse")
    clock = Clock()
    guard = operator_guard(store.writer, read_operator(store.engine, oid), clock)
    for i in range(3):
        check = guard.verify("wrong")
        assert not check.ok
        assert check.locked_for_s == (0 if i < 2 else 30)
    refused = guard.refusal()
    assert refused is not None
    assert "too many wrong PINs" in refused.message
    assert not guard.verify("correct horse").ok  # the lockout holds even for the right one
    clock.t += 31
    assert guard.verify("correct horse").ok
    assert store.writer.flush(10)
    assert read_operator(store.engine, oid).failures == 0
    actions = [
        (ln.action, ln.operator_id, ln.details.get("failures_in_a_row"))
        for ln in audit.entries(store.engine)
        if ln.action.startswith("sign_in")
    ]
    assert actions == [
        ("sign_in_failed", oid, 1),
        ("sign_in_failed", oid, 2),
        ("sign_in_failed", oid, 3),
        ("sign_in", oid, 0),
    ]
    assert "correct horse" not in str(audit.entries(store.engine))


def test_a_lockout_survives_a_new_guard_as_the_count_is_stored(store):
    oid = _add(store, "Tom Technician", Role.TECHNICIAN, "8642")
    for _ in range(3):
        operator_guard(store.writer, read_operator(store.engine, oid)).verify("0000")
    fresh = operator_guard(store.writer, read_operator(store.engine, oid))
    assert fresh.locked_for_s() == pytest.approx(30)


def test_a_secret_too_short_or_with_a_line_break_is_refused(store):
    oid = _add(store, "Tina Trainer", Role.TRAINER, "2468")
    guard = operator_guard(store.writer, read_operator(store.engine, oid))
    with pytest.raises(ValueError, match="4 to 64 characters"):
        guard.set_pin("abc", "2468")
    with pytest.raises(ValueError, match="control character"):
        guard.set_pin("abc\ndef", "2468")
    guard.set_pin("a long passphrase", "2468")
    assert verify_hash("a long passphrase", read_operator(store.engine, oid).secret_hash)


def test_every_write_names_the_operator_signed_in(store):
    ann = _add(store, "Ann", Role.PRACTITIONER, "1111")
    bob = _add(store, "Bob", Role.PRACTITIONER, "2222")
    cid = store.info.training_client_id
    w = store.writer
    # nobody signed in: the default operator (headless runs)
    uid0 = w.begin_session(cid)
    store.operators.sign_in(SignedIn(ann, "Ann", Role.PRACTITIONER))
    uid1 = w.begin_session(cid)
    w.add_screening(cid, {}, dt.date.today(), dt.date.today(), ("pregnancy",), based_on=None)
    store.operators.sign_in(SignedIn(bob, "Bob", Role.PRACTITIONER))
    w.add_consent(cid, "v1", based_on=None)
    w.audit("export", f"client:{cid}", {"format": "csv"})
    uid2 = w.begin_session(cid, operator_id=ann)  # an explicit operator is kept
    from app.store.validation import ClientData

    w.save_client(ClientData("Cleo Client", current_limit_ua=250.0))  # a client's own limit
    assert w.flush(10)
    from sqlalchemy.orm import Session

    with Session(store.engine) as s:
        by_uid = dict(s.execute(text("SELECT uid, operator_id FROM treatment_session")).all())
        screening = s.query(Screening).one()
        consent = s.query(Consent).one()
        assert s.query(TreatmentSession).count() == 3
    assert by_uid == {uid0: store.info.default_operator_id, uid1: ann, uid2: ann}
    assert screening.operator_id == ann
    assert consent.operator_id == bob
    export = [ln for ln in audit.entries(store.engine) if ln.action == "export"]
    assert export[0].operator_id == bob
    limit = [ln for ln in audit.entries(store.engine) if ln.action == "limit_change"]
    assert [ln.operator_id for ln in limit] == [bob]


def test_role_changes_are_audited_and_the_last_manager_is_kept(store):
    mid = _add(store, "Maya", Role.MANAGER, "4321", first=True)
    tid = _add(store, "Tom", Role.PRACTITIONER, "8642", operator_id=mid)
    w = store.writer
    w.submit(ChangeOperator(tid, role=Role.TECHNICIAN, operator_id=mid)).result(10)
    assert read_operator(store.engine, tid).role is Role.TECHNICIAN
    with pytest.raises(ValueError, match="last manager"):
        w.submit(ChangeOperator(mid, role=Role.PRACTITIONER, operator_id=mid)).result(10)
    with pytest.raises(ValueError, match="last manager"):
        w.submit(ChangeOperator(mid, active=False, operator_id=mid)).result(10)
    w.submit(ChangeOperator(tid, active=False, operator_id=mid)).result(10)
    assert not read_operator(store.engine, tid).active
    assert [o.name for o in list_operators(store.engine, active_only=True)] == [
        "Maya",
        DEFAULT_OPERATOR_NAME,
    ]
    assert w.flush(10)
    changes = [
        (ln.action, ln.subject, ln.operator_id, ln.details.get("change"))
        for ln in audit.entries(store.engine)
        if ln.action == "role_change"
    ]
    assert changes == [
        ("role_change", f"operator:{tid}", mid, "role"),
        ("role_change", f"operator:{tid}", mid, "deactivated"),
    ]
    assert audit.verify(store.engine).ok


def test_context_listeners_hear_sign_in_and_out():
    ctx = OperatorContext(default_id=7)
    heard: list = []
    ctx.add_listener(heard.append)
    assert ctx.current_id == 7
    assert ctx.role is None
    who = SignedIn(3, "Ann", Role.TRAINER)
    ctx.sign_in(who)
    assert ctx.current_id == 3
    assert ctx.role is Role.TRAINER
    ctx.sign_out()
    assert heard == [who, None]
    assert ctx.current_id == 7


def test_upgrading_an_0008_database_with_data_keeps_its_operator_and_bench_pin(store_url):  # noqa: F811
    assert upgrade_to_head(store_url, revision="0008") == "0008"
    pin = hash_pin("97531")
    engine = make_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO operator (name, created_at) VALUES ('Practitioner', :t)"),
                {"t": dt.datetime(2026, 1, 1)},
            )
            conn.execute(
                text(
                    "INSERT INTO client (name, contact, skin_notes, is_training, created_at, "
                    "updated_at, version) VALUES ('Old Client', '', '', false, :t, :t, 1)"
                ),
                {"t": dt.datetime(2026, 1, 1)},
            )
            conn.execute(
                text(
                    "INSERT INTO treatment_session (uid, client_id, operator_id, program, "
                    "device_serial, firmware, started_at, training) VALUES ('u-1', "
                    "(SELECT id FROM client), (SELECT id FROM operator), 'p', '', '', :t, false)"
                ),
                {"t": dt.datetime(2026, 1, 1)},
            )
            conn.execute(
                text(
                    "INSERT INTO clinic_config (id, settings, version, updated_at, pin_hash, "
                    "pin_ever_set, pin_failures, pin_version) VALUES (1, '{}', 1, :t, :h, "
                    "true, 0, 1)"
                ),
                {"t": dt.datetime(2026, 1, 1), "h": pin},
            )
    finally:
        engine.dispose()
    engine, info = open_store(store_url)
    try:
        ops = {o.name: o for o in list_operators(engine)}
        assert set(ops) == {"Practitioner", "Technician"}
        old = ops["Practitioner"]
        assert (old.role, old.active, old.has_secret) == (Role.PRACTITIONER, True, False)
        assert info.default_operator_id == old.id
        tech = ops["Technician"]
        assert tech.role is Role.TECHNICIAN
        assert verify_hash("97531", tech.secret_hash)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT operator_id FROM treatment_session")).scalar() == (
                old.id
            )
        assert needs_first_account(list(ops.values()))  # no manager yet
    finally:
        engine.dispose()


def test_db_operators_adds_lists_resets_and_changes_roles(store_url, monkeypatch, capsys):  # noqa: F811
    from app.__main__ import main

    def db(*args: str) -> int:
        return main(["db", "operators", *args, "--database-url", store_url])

    monkeypatch.setenv("MICROCURRENT_OPERATOR_SECRET", "ab")
    assert db("add", "Maya", "--role", "manager") == 2  # too short: nothing added
    assert "4 to 64 characters" in capsys.readouterr().err
    monkeypatch.setenv("MICROCURRENT_OPERATOR_SECRET", "maya-secret")
    assert db("add", "Maya", "--role", "manager") == 0
    assert db("add", "maya", "--role", "trainer") == 1  # the name is taken
    monkeypatch.setenv("MICROCURRENT_OPERATOR_SECRET", "tom-secret")
    assert db("add", "Tom", "--role", "practitioner") == 0
    assert db("set-role", "Tom", "technician") == 0
    assert db("set-role", "Maya", "trainer") == 1  # the last manager stays one
    assert "last manager" in capsys.readouterr().err
    monkeypatch.setenv("MICROCURRENT_OPERATOR_SECRET", "tom-new-secret")
    assert db("reset-secret", "Tom") == 0
    assert db("deactivate", "Tom") == 0
    assert db("reset-secret", "Nobody") == 1
    capsys.readouterr()
    assert db("list") == 0
    out = capsys.readouterr().out
    assert "Maya" in out
    assert "deactivated" in out
    assert "secret" not in out.split("\n", 1)[1].replace("none (cannot sign in)", "")
    assert "tom-new-secret" not in out
    engine, _info = open_store(store_url)
    try:
        tom = find_operator(engine, "Tom")
        assert tom.role is Role.TECHNICIAN
        assert not tom.active
        assert verify_hash("tom-new-secret", tom.secret_hash)
        lines = [(ln.action, ln.details.get("via")) for ln in audit.entries(engine)]
        assert lines.count(("operator_change", "db operators")) == 3  # 2 added, 1 reset
        assert ("role_change", "db operators") in lines
        assert "tom-new-secret" not in str(audit.entries(engine))
    finally:
        engine.dispose()


def test_erasure_and_the_audit_export_need_a_manager_once_one_exists(
    store_url,  # noqa: F811
    monkeypatch,
    capsys,
    tmp_path,
):
    from app.__main__ import main
    from app.store.validation import ClientData

    engine, info = open_store(store_url)
    writer = StoreWriter(engine)
    cid = writer.save_client(ClientData("Erin Erased")).result(10)
    mid = writer.submit(
        AddOperator("Maya", Role.MANAGER, hash_pin("maya-secret"), first=True)
    ).result(10)
    writer.submit(AddOperator("Tom", Role.TECHNICIAN, hash_pin("tom-secret"))).result(10)
    writer.close()
    url = ["--database-url", store_url]
    monkeypatch.delenv("MICROCURRENT_OPERATOR", raising=False)
    monkeypatch.setenv("MICROCURRENT_OPERATOR_SECRET", "tom-secret")
    assert main(["db", "erase-client", str(cid), "--yes", *url]) == 1
    assert "only a manager may erase a client" in capsys.readouterr().err
    assert main(["db", "erase-client", str(cid), "--yes", "--operator", "Tom", *url]) == 1
    assert "not an active manager" in capsys.readouterr().err
    monkeypatch.setenv("MICROCURRENT_OPERATOR_SECRET", "wrong")
    assert main(["db", "erase-client", str(cid), "--yes", "--operator", "Maya", *url]) == 1
    assert "wrong PIN" in capsys.readouterr().err
    assert main(["db", "audit-export", str(tmp_path / "a.csv"), "--operator", "Maya", *url]) == 1
    assert not (tmp_path / "a.csv").exists()
    monkeypatch.setenv("MICROCURRENT_OPERATOR_SECRET", "maya-secret")
    assert main(["db", "erase-client", str(cid), "--yes", "--operator", "maya", *url]) == 0
    assert main(["db", "audit-export", str(tmp_path / "a.csv"), "--operator", "Maya", *url]) == 0
    try:
        erase = [ln for ln in audit.entries(engine) if ln.action == "erase"]
        assert [ln.operator_id for ln in erase] == [mid]
        failed = [ln for ln in audit.entries(engine) if ln.action == "sign_in_failed"]
        assert [ln.operator_id for ln in failed] == [mid, mid]
        assert read_operator(engine, mid).failures == 0  # the right secret cleared them
    finally:
        engine.dispose()
