"""Start-up: the window shows live data before the records open; workspaces build on use.

The console's window opens with only the practitioner's desk built and without the
client records; the records open on a background thread (``RecordsOpener``) and arrive
through ``MainWindow.attach_store`` (or ``store_unavailable``). These tests hold the
parts of that to what a user sees: the desk says the records are opening, then shows
them and records on the training client; a workspace built late is as up to date as
one built at once; and nothing on the window's path imports the database layer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from access import unlock_bench
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QLabel
from store_fixtures import pg_cluster, store_url  # noqa: F401

from app.engine.session import SessionState
from app.store.runtime import start_store
from app.ui.device_manager import DeviceManager
from app.ui.launcher import RecordsOpener
from app.ui.main_window import MainWindow
from app.ui.records.panel import RecordsPanel

ROOT = Path(__file__).resolve().parents[1]


def _settings(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)


def test_window_modules_do_not_import_the_database_layer():
    """SQLAlchemy and alembic are off the path to the first live trace."""
    code = (
        "import sys, app.ui.launcher, app.ui.main_window, app.ui.practitioner, "
        "app.ui.workspaces, app.ui.trainer_workspace\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'alembic')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.strip()
    assert out == "[]"


def test_building_the_window_does_not_import_the_database_layer(tmp_path):
    """Nor does building the window as the console does (records still opening): its
    sign-in checks and restored state need no store until the records are open."""
    code = (
        "import sys\n"
        "from PySide6.QtCore import QSettings\n"
        "from app.ui.launcher import make_application\n"
        "from app.ui.device_manager import DeviceManager\n"
        "from app.ui.main_window import MainWindow\n"
        "app = make_application()\n"
        "settings = QSettings(sys.argv[1], QSettings.Format.IniFormat)\n"
        "settings.setValue('window/workspace', 'trainer')\n"
        "window = MainWindow(DeviceManager(), settings, records_pending=True)\n"
        "window.show()\n"
        "app.processEvents()\n"
        "print(window.current_workspace().name, sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('sqlalchemy', 'alembic')))"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MICROCURRENT_HOME=str(tmp_path))
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "s.ini")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.strip()
    assert out == "trainer []"


def test_only_the_desk_is_built_at_start_and_others_catch_up(qtbot, tmp_path):
    device = DeviceManager()
    window = MainWindow(device, _settings(tmp_path))
    qtbot.addWidget(window)
    window.show()
    assert [ws.name for ws in window.workspaces.built()] == ["practitioner"]
    assert window.workspaces.existing("trainer") is None
    with qtbot.waitSignal(window.live_data_seen, timeout=15000):
        device.open(None)
    info = device.link.info
    # built now, after the link connected: it has the link and the device's facts
    unlock_bench()
    assert window.switch_workspace("technician")
    bench = window.workspaces["technician"]
    assert bench.bench.link is device.link
    assert bench.scope.device_info == dict(info.as_dict())
    assert bench.output.start_button.isEnabled()  # connected, idle
    assert window.switch_workspace("trainer")
    trainer = window.workspaces["trainer"]
    assert trainer.studio.link is device.link
    assert {ws.name for ws in window.workspaces.built()} == {
        "practitioner",
        "trainer",
        "technician",
    }
    device.close()
    for ws in window.workspaces.built():
        ws.shutdown()


def test_desk_waits_for_the_records_then_records_on_the_training_client(qtbot, tmp_path):
    device = DeviceManager()
    window = MainWindow(device, _settings(tmp_path), records_pending=True)
    qtbot.addWidget(window)
    window.show()
    desk = window.workspaces["practitioner"]
    opening = desk.tabs.widget(1)
    assert isinstance(opening, QLabel)
    assert "opening" in opening.text().lower()
    assert "opening" in desk.client_label.text().lower()
    with qtbot.waitSignal(window.live_data_seen, timeout=15000):
        device.open(None)
    assert desk.recorder is None
    assert desk.client_id is None
    assert desk.controller.state != SessionState.READY

    store = start_store(f"sqlite:///{tmp_path / 'records.db'}")
    try:
        with qtbot.waitSignal(window.records_opened, timeout=5000):
            window.attach_store(store)
        assert desk.tabs.currentIndex() == 0  # the practitioner stays on the treatment
        assert desk.client_id == store.info.training_client_id
        assert desk.recorder is not None
        qtbot.waitUntil(lambda: desk.controller.state == SessionState.READY, timeout=5000)
        # the records panel is built when its tab is first shown (not while the desk
        # streams its first samples), and then once
        page = desk.tabs.widget(1)
        assert page.findChildren(RecordsPanel) == []
        desk.tabs.setCurrentIndex(1)
        panels = page.findChildren(RecordsPanel)
        assert len(panels) == 1
        assert panels[0] is desk.records
        assert panels[0].isVisible()
        desk.tabs.setCurrentIndex(0)
        desk.tabs.setCurrentIndex(1)
        assert page.findChildren(RecordsPanel) == panels
        # the studio, built after, records too
        trainer = window.workspaces["trainer"]
        assert trainer.store is store
        assert trainer.replay_button.isEnabled()
    finally:
        device.close()
        for ws in window.workspaces.built():
            ws.shutdown()
        store.close(10)


def test_records_that_fail_to_open_are_explained(qtbot, tmp_path):
    window = MainWindow(DeviceManager(), _settings(tmp_path), records_pending=True)
    qtbot.addWidget(window)
    window.store_unavailable("The database is read-only (sqlite:///x.db)")
    desk = window.workspaces["practitioner"]
    text = desk.tabs.widget(1).text()
    assert "unavailable" in text
    assert "read-only" in text
    assert "output is disabled" in text
    assert window.banner.isVisibleTo(window)
    assert "read-only" in window.banner.text()
    trainer = window.workspaces["trainer"]
    assert not trainer.replay_button.isEnabled()


def test_records_opener_delivers_the_store_once(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("MICROCURRENT_HOME", str(tmp_path / "home"))
    opener = RecordsOpener(f"sqlite:///{tmp_path / 'r.db'}")
    with qtbot.waitSignal(opener.opened, timeout=30000) as got:
        opener.start()
        opener.start()  # a second trigger (live data and the fallback timer) is ignored
    store = got.args[0]
    assert store.info.training_client_id
    opener.finish()  # delivered: the window owns it, the opener leaves it open
    assert store.writer.running
    store.close(10)


def test_records_opener_closes_a_store_nobody_took(qtbot, tmp_path):
    opener = RecordsOpener(f"sqlite:///{tmp_path / 'r.db'}")
    opener.start()
    opener.finish()  # the event loop ended before the store arrived
    assert opener.store is not None
    assert not opener.store.writer.running


def test_records_opener_reports_a_bad_url(qtbot):
    opener = RecordsOpener("nosuchdb://x")
    with qtbot.waitSignal(opener.failed, timeout=30000) as got:
        opener.start()
    opener.finish()
    assert "nosuchdb" in got.args[0]


@pytest.mark.parametrize("name", ["trainer", "technician"])
def test_a_workspace_built_late_gets_the_clinic_limits(qtbot, tmp_path, name):
    from app.service.clinic_limits import ClinicSettings

    window = MainWindow(DeviceManager(), _settings(tmp_path))
    qtbot.addWidget(window)
    window.set_clinic_settings(ClinicSettings(max_current_ua=350.0))
    ws = window.workspaces[name]
    if name == "trainer":
        assert ws.studio.amplitude.maximum() == pytest.approx(350.0)
    assert window.authority.clinic.max_current_ua == 350.0
    if name == "technician":
        assert ws.output.amplitude.maximum() == pytest.approx(350.0)
        assert "clinic maximum" in ws.output.limit_label.text()


def _store_with_clinic_max(url: str, max_ua: float):
    from app.engine.limits import ClinicSettings
    from app.service.clinic_limits import settings_to_dict
    from app.store.clinic import SaveClinicSettings

    store = start_store(url)
    store.writer.submit(
        SaveClinicSettings(
            settings_to_dict(
                ClinicSettings(max_current_ua=max_ua, eye_area_max_ua=min(200.0, max_ua))
            ),
            0,  # a new store: no clinic settings stored yet
        )
    ).result(5)
    return store


def test_the_authority_receives_the_stores_clinic_limits(qtbot, tmp_path, store_url):  # noqa: F811
    """Defaults until the store's clinic row is read (off the GUI thread), then the
    store's limits; another room's change reaches this console's authority too."""
    from app.engine.limits import ClinicSettings
    from app.service.clinic_limits import settings_to_dict
    from app.store.clinic import SaveClinicSettings, read_clinic

    url = store_url
    store = _store_with_clinic_max(url, 150.0)
    window = MainWindow(DeviceManager(), _settings(tmp_path), records_pending=True)
    qtbot.addWidget(window)
    assert window.authority.clinic == ClinicSettings()  # the defaults until read
    other = start_store(url)  # another room on the same database
    try:
        window.attach_store(store)
        qtbot.waitUntil(lambda: window.authority.clinic.max_current_ua == 150, timeout=5000)
        version = read_clinic(other.engine).version
        other.writer.submit(
            SaveClinicSettings(
                settings_to_dict(ClinicSettings(max_current_ua=120.0, eye_area_max_ua=100.0)),
                version,
            )
        ).result(5)
        qtbot.waitUntil(lambda: window.authority.clinic.max_current_ua == 120, timeout=5000)
        assert window.authority.clinic.eye_area_max_ua == 100
    finally:
        window.close()
        other.close()


def test_the_ini_clinic_limits_and_pin_are_imported_once_then_unused(qtbot, tmp_path):
    from app.engine.limits import ClinicSettings
    from app.service.clinic_limits import save_clinic_settings
    from app.service.pin import hash_pin
    from app.store import services
    from app.store.clinic import read_clinic
    from app.store.models import ServiceKind

    ini = _settings(tmp_path)
    save_clinic_settings(ini, ClinicSettings(max_current_ua=175.0, eye_area_max_ua=90.0))
    ini.setValue("technician_pin/hash", hash_pin("8642"))
    ini.sync()
    store = start_store(f"sqlite:///{tmp_path / 'records.db'}")
    window = MainWindow(DeviceManager(), ini, records_pending=True)
    qtbot.addWidget(window)
    try:
        window.attach_store(store)
        qtbot.waitUntil(lambda: window.authority.clinic.max_current_ua == 175, timeout=5000)
        record = read_clinic(store.engine)
        assert record.pin_hash
        assert record.pin_ever_set
        qtbot.waitUntil(lambda: ini.value("technician_pin/hash") is None, timeout=5000)
        kinds = [r.kind for r in services.service_records(store.engine)]
        assert ServiceKind.CLINIC_SETTINGS in kinds
        assert ServiceKind.PIN in kinds
        # the bench is opened by signing in now: the PIN became a technician's secret
        from app.service.pin import operator_guard
        from app.store.operators import Role, find_operator

        tech = find_operator(store.engine, "Technician")
        assert tech.role is Role.TECHNICIAN
        assert operator_guard(store.writer, tech).verify("8642").ok
    finally:
        window.close()


def test_the_bench_opens_for_the_role_signed_in_from_the_store(qtbot, tmp_path, monkeypatch):
    """With records, the bench opens for a technician or a manager signed in (the store's
    operators, the same in every room); a console whose records are not open keeps the
    bench closed, and a practitioner signed in cannot open it."""
    from access import TEST_SECRET

    from app.service.pin import hash_pin
    from app.store.operators import AddOperator, Role

    url = f"sqlite:///{tmp_path / 'records.db'}"
    first = MainWindow(DeviceManager(), _settings(tmp_path), records_pending=True)
    qtbot.addWidget(first)
    first.interactive = False
    assert not first.switch_workspace("technician")  # records not open: closed
    store = start_store(url)
    first.attach_store(store)  # the first start: the manager from the environment
    assert first.access.signed_in.role is Role.MANAGER
    assert first.switch_workspace("technician")
    store.writer.submit(AddOperator("Pia", Role.PRACTITIONER, hash_pin("13579"))).result(10)
    second = MainWindow(
        DeviceManager(),
        QSettings(str(tmp_path / "b.ini"), QSettings.Format.IniFormat),
        records_pending=True,
    )
    qtbot.addWidget(second)
    second.interactive = False
    monkeypatch.setenv("MICROCURRENT_OPERATOR", "Pia")
    monkeypatch.setenv("MICROCURRENT_OPERATOR_SECRET", "24680")
    second.attach_store(start_store(url))
    assert second.access.signed_in is None  # a wrong secret: the sign-in page
    assert second.access.locked
    assert not second.switch_workspace("technician")
    monkeypatch.setenv("MICROCURRENT_OPERATOR_SECRET", "13579")
    third = MainWindow(
        DeviceManager(),
        QSettings(str(tmp_path / "c.ini"), QSettings.Format.IniFormat),
        records_pending=True,
    )
    qtbot.addWidget(third)
    third.attach_store(start_store(url))
    assert third.access.signed_in.name == "Pia"
    assert not third.switch_workspace("technician")
    assert "for manager or technician" in third.banner.text()
    assert TEST_SECRET not in third.banner.text()
    first.close()
    second.close()
    third.close()
