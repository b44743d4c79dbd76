"""Service records (migration 0004): calibrations, self-tests and watchdog tests kept in the
store, on SQLite and on a real PostgreSQL server (tests/store_fixtures.py)."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError
from store_fixtures import pg_cluster, sqlite_url, store_url  # noqa: F401

from app.service.calibration import CalibrationPoint, CalibrationResult, ChannelFit
from app.service.selftest import Figure, SelfTestReport, StepResult, Verdict
from app.store import services
from app.store.database import head_revision, make_engine, open_store, upgrade_to_head
from app.store.models import ServiceKind
from app.store.writer import StoreWriter

T0 = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def store(store_url):  # noqa: F811
    engine, info = open_store(store_url)
    yield engine, info
    engine.dispose()


def calibration() -> CalibrationResult:
    points = tuple(
        CalibrationPoint(t, t * 1.02 + 0.5, t * 1e-5 * 10_000 * 0.99, 400)
        for t in (50.0, 200.0, 400.0)
    )
    return CalibrationResult(
        10_000.0,
        ChannelFit(0.5, 1.02, 0.01),
        ChannelFit(0.001, 0.99, 1e-4),
        points,
        device_serial="MC-0042",
        device_model="MC-1",
        firmware="1.3.0",
        performed_at=T0,
        written=True,
        verify_current_error_ua=0.02,
        verify_voltage_error_v=math.nan,
    )


def selftest(passed: bool) -> SelfTestReport:
    rep = SelfTestReport(
        {"model": "MC-1", "serial": "MC-0042", "firmware": "1.3.0"},
        started_at=T0,
        finished_at=T0 + dt.timedelta(seconds=6),
    )
    rep.steps.append(
        StepResult("1 kΩ square 10 Hz", Verdict.PASS, (Figure("amplitude", 199.2, "µA", 190, 210),))
    )
    rep.steps.append(
        StepResult(
            "Watchdog",
            Verdict.PASS if passed else Verdict.FAIL,
            (Figure("time to stop", 512.0 if passed else math.nan, "ms", 450, 900),),
        )
    )
    return rep


def test_migration_from_the_previous_revision_adds_the_table_and_keeps_data(store_url):  # noqa: F811
    assert upgrade_to_head(store_url, revision="0003") == "0003"
    engine = make_engine(store_url)
    try:
        assert "service_record" not in inspect(engine).get_table_names()
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO client (id, name, contact, skin_notes, is_training, created_at, "
                    "updated_at) VALUES (7, 'Kim', '', '', false, :t, :t)"
                ),
                {"t": T0},
            )
    finally:
        engine.dispose()
    engine, info = open_store(store_url)
    try:
        assert info.revision == head_revision()
        assert services.get_client(engine, 7).name == "Kim"
        columns = {c["name"]: c for c in inspect(engine).get_columns("service_record")}
        assert set(columns) == {
            "id",
            "at",
            "kind",
            "device_serial",
            "firmware",
            "passed",
            "payload",
            "operator_id",
        }
        assert columns["passed"]["nullable"]
        assert columns["operator_id"]["nullable"]
        assert not columns["at"]["nullable"]
        assert not columns["payload"]["nullable"]
        assert services.service_records(engine) == []
    finally:
        engine.dispose()


def test_downgrade_to_the_previous_revision_removes_only_the_table(store_url):  # noqa: F811
    from alembic import command

    from app.store.database import alembic_config

    assert upgrade_to_head(store_url, revision="0004") == "0004"
    command.downgrade(alembic_config(store_url), "0003")
    engine = make_engine(store_url)
    try:
        names = inspect(engine).get_table_names()
        assert "service_record" not in names
        assert "treatment_session" in names
    finally:
        engine.dispose()


def test_the_models_match_the_migration(store):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from app.store.models import Base

    engine, _ = store
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(ctx, Base.metadata)

    assert diffs == []  # every table, service_record included


def test_calibration_and_selftests_round_trip_newest_first(store):
    engine, info = store
    w = StoreWriter(engine)
    try:
        cal = calibration()
        cal_id = w.add_service_record(
            ServiceKind.CALIBRATION,
            cal.as_dict(),
            device_serial=cal.device_serial,
            firmware=cal.firmware,
            passed=cal.written,
            at=T0,
            operator_id=info.default_operator_id,
        ).result(5)
        good, bad = selftest(True), selftest(False)
        w.add_service_record(
            "selftest",
            good.as_dict(),
            device_serial="MC-0042",
            firmware="1.3.0",
            passed=good.passed,
            at=T0 + dt.timedelta(minutes=1),
        ).result(5)
        w.add_service_record(
            "selftest",
            bad.as_dict(),
            device_serial="MC-0042",
            firmware="1.3.0",
            passed=bad.passed,
            at=T0 + dt.timedelta(minutes=2),
        ).result(5)
        w.add_service_record(
            "watchdog_test",
            {"stopped_after_ms": 512.0},
            device_serial="MC-0099",
            firmware="1.2.0",
            passed=None,
            at=T0 + dt.timedelta(minutes=3),
        ).result(5)
    finally:
        assert w.close()
    every = services.service_records(engine)
    assert [r.kind for r in every] == [
        ServiceKind.WATCHDOG_TEST,
        ServiceKind.SELFTEST,
        ServiceKind.SELFTEST,
        ServiceKind.CALIBRATION,
    ]
    assert [r.verdict for r in every] == ["—", "FAIL", "PASS", "PASS"]
    assert all(r.at.tzinfo is not None for r in every)
    one = services.service_records(engine, device_serial="MC-0042")
    assert len(one) == 3
    assert {r.device_serial for r in one} == {"MC-0042"}
    assert services.service_records(engine, device_serial="MC-0042", limit=1)[0].passed is False
    rec = one[-1]
    assert rec.id == cal_id
    assert rec.at == T0
    assert rec.firmware == "1.3.0"
    assert rec.operator_id == info.default_operator_id
    assert rec.payload["current_gain"] == pytest.approx(1.02)
    assert rec.payload["verify_voltage_error_v"] is None  # NaN is stored as null
    assert len(rec.payload["points"]) == 3
    failed = one[0].payload
    assert failed["passed"] is False
    assert failed["steps"][1]["figures"][0]["value"] is None
    assert failed["steps"][1]["verdict"] == "fail"


def test_nan_inside_a_payload_is_stored_as_null(store):
    engine, _ = store
    w = StoreWriter(engine)
    try:
        w.add_service_record(
            "calibration", {"gain": math.inf, "xs": (1.0, math.nan)}, passed=True
        ).result(5)
    finally:
        assert w.close()
    assert services.service_records(engine)[0].payload == {"gain": None, "xs": [1.0, None]}


def test_bad_requests_are_refused_with_a_clear_message(store):
    engine, _ = store
    w = StoreWriter(engine)
    try:
        with pytest.raises(ValueError, match="unknown service record kind 'tune-up'"):
            w.add_service_record("tune-up", {})
        with pytest.raises(ValueError, match="self-test result cannot be recorded"):
            w.add_service_record("selftest", {"when": dt.date(2026, 1, 1)})
    finally:
        assert w.close()
    assert services.service_records(engine) == []


def test_the_database_refuses_an_unknown_kind(store):
    engine, _ = store
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO service_record (at, kind, device_serial, firmware, payload) "
                "VALUES (:t, 'tune-up', '', '', '{}')"
            ),
            {"t": T0.replace(tzinfo=None)},
        )


# ---------------------------------------------------------------- the technician's bench


def test_the_bench_records_calibrations_and_selftests_and_lists_them(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from app.engine.authority import OutputAuthority
    from app.store.runtime import start_store
    from app.ui.workspaces import TechnicianWorkspace

    store = start_store(f"sqlite:///{tmp_path / 'records.db'}")
    try:
        ws = TechnicianWorkspace(
            QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
            OutputAuthority(),
            store=store,
        )
        qtbot.addWidget(ws)
        history = ws.history
        qtbot.waitUntil(
            lambda: "No calibration or self-test recorded yet" in history.summary.text(),
            timeout=5000,
        )  # read off the GUI thread
        assert history.table.rowCount() == 0
        with qtbot.waitSignal(ws.service_recorder.recorded, timeout=5000):
            ws.bench.calibration_completed.emit(calibration())
        qtbot.waitUntil(lambda: history.table.rowCount() == 1, timeout=5000)
        ws.bench.selftest_completed.emit(selftest(False))
        qtbot.waitUntil(lambda: history.table.rowCount() == 3, timeout=5000)
        records = services.service_records(store.engine)
        assert [r.kind for r in records][-1] is ServiceKind.CALIBRATION
        assert {r.kind for r in records[:2]} == {ServiceKind.SELFTEST, ServiceKind.WATCHDOG_TEST}
        assert all(r.device_serial == "MC-0042" for r in records)
        assert all(r.operator_id == store.info.default_operator_id for r in records)
        by_kind = {r.kind: r for r in records}
        assert by_kind[ServiceKind.SELFTEST].passed is False
        assert by_kind[ServiceKind.WATCHDOG_TEST].passed is False
        assert by_kind[ServiceKind.WATCHDOG_TEST].payload["step"]["name"] == "Watchdog"
        assert by_kind[ServiceKind.CALIBRATION].passed is True
        shown = {history.table.item(r, 1).text(): history.table.item(r, 4).text() for r in range(3)}
        assert shown == {"Calibration": "PASS", "Self-test": "FAIL", "Watchdog test": "FAIL"}
        figures = [history.table.item(r, 5).text() for r in range(3)]
        assert any("current gain 1.02000, offset +0.500 µA" in f for f in figures)
        assert any("failed: Watchdog" in f for f in figures)
    finally:
        store.close(10)


def test_the_figures_line_of_each_kind():
    from app.ui.technician.service_history import describe

    assert describe(ServiceKind.CALIBRATION, calibration().as_dict()) == (
        "current gain 1.02000, offset +0.500 µA; voltage gain 0.99000, offset +1.00 mV "
        "(reference 10000 Ω)"
    )
    assert describe(ServiceKind.SELFTEST, selftest(True).as_dict()) == "all 2 steps passed"
    assert describe(ServiceKind.SELFTEST, selftest(False).as_dict()) == (
        "2 steps · failed: Watchdog"
    )
    wd = {
        "step": {
            "name": "Watchdog",
            "note": "device went to Watchdog (watchdog 500 ms)",
            "figures": [{"name": "Watchdog tripped after", "value": 512.4, "unit": "ms"}],
        }
    }
    assert describe(ServiceKind.WATCHDOG_TEST, wd) == (
        "Watchdog tripped after 512.4 ms · device went to Watchdog"
    )
    assert describe(ServiceKind.CALIBRATION, {"current_gain": "x"}) == "(figures unreadable)"
