"""Studio output runs as sessions on the training client, recorded in the store: the
console window end to end against the simulator process over a real pty."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt
from store_fixtures import save_clinic

from app.device.protocol import DeviceState
from app.device.waveform import OutputSettings, Polarity, Waveform
from app.store.models import Outcome
from app.store.runtime import start_store
from app.store.services import session_detail, session_history
from app.teaching.schedule import settings_from_payload
from app.ui.device_manager import DeviceManager
from app.ui.main_window import MainWindow

SETTINGS = OutputSettings(Waveform.SQUARE, 20.0, 100.0, Polarity.BIPHASIC, 2.0, 0.1)


@pytest.fixture
def trainer(qtbot, tmp_path, new_sqlite_url):
    store = start_store(new_sqlite_url)
    device = DeviceManager()
    window = MainWindow(
        device, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), store
    )
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.live_data_seen, timeout=15000):
        assert device.open(None)
    assert window.switch_workspace("trainer")
    try:
        yield window, window.workspaces["trainer"], store
    finally:
        device.close()
        for ws in window.workspaces.built():
            ws.shutdown()
        store.close(10)


def start(qtbot, window, ws, samples: int = 300) -> None:
    messages: list[str] = []
    ws.studio.message.connect(messages.append)
    ws.studio.set_controls(SETTINGS)
    ws.studio.start()
    try:
        qtbot.waitUntil(lambda: ws.session is not None, timeout=10000)
    finally:
        ws.studio.message.disconnect(messages.append)
    assert messages[-1].startswith("Output on"), messages
    qtbot.waitUntil(lambda: window.device.state == DeviceState.RUNNING, timeout=10000)
    qtbot.waitUntil(lambda: ws.session.samples > samples, timeout=10000)


def training_sessions(store):
    assert store.writer.flush(10)
    return session_history(store.engine, store.info.training_client_id)


def test_start_and_stop_record_a_completed_training_session(qtbot, trainer):
    window, ws, store = trainer
    assert training_sessions(store) == []
    start(qtbot, window, ws)
    # a settings change while the output is on is an event and a new step
    ws.studio.amplitude.setValue(150.0)
    ws.studio.apply_button.click()
    qtbot.waitUntil(
        lambda: window.device.status is not None and window.device.status.level_ua > 140,
        timeout=10000,
    )
    uid = ws.session.uid
    ws.studio.stop_output()
    qtbot.waitUntil(lambda: ws.session is None, timeout=10000)
    assert window.device.state == DeviceState.IDLE
    (summary,) = training_sessions(store)
    assert summary.uid == uid
    assert summary.program == "studio"
    assert summary.training
    assert summary.outcome is Outcome.COMPLETED
    assert summary.device_serial == window.device.info.serial
    assert summary.firmware == window.device.info.firmware
    assert summary.ended_at is not None
    detail = session_detail(store.engine, uid)
    assert detail.recorded_samples > 300
    kinds = [e.kind for e in detail.events]
    assert kinds[0] == "settings"
    assert kinds.count("settings") == 2
    assert "stop_requested" in kinds
    assert kinds[-1] == "ended"
    changed = [e.payload for e in detail.events if e.kind == "settings"][1]
    assert changed["amplitude_ua"] == 150.0
    assert changed["source"] == "studio"
    assert [s.position for s in detail.steps] == [0, 1]
    assert settings_from_payload(detail.steps[0].parameters) == SETTINGS
    assert settings_from_payload(detail.steps[1].parameters).amplitude_ua == 150.0
    # the recording replays in the studio
    with qtbot.waitSignal(ws.replay_loaded, timeout=10000) as loaded:
        ws.replay(summary.id)  # read off the GUI thread
    assert loaded.args == [True]
    assert ws.studio.recording.duration_s > 0.2


def test_escape_ends_the_session_emergency_stopped(qtbot, trainer):
    window, ws, store = trainer
    start(qtbot, window, ws)
    uid = ws.session.uid
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert ws.session is None  # ended at once, before any answer from the device
    qtbot.waitUntil(lambda: window.device.state == DeviceState.ESTOPPED, timeout=10000)
    (summary,) = training_sessions(store)
    assert summary.uid == uid
    assert summary.outcome is Outcome.EMERGENCY_STOPPED
    assert session_detail(store.engine, uid).recorded_samples > 0


def test_settings_above_the_live_limit_are_clamped_and_said(qtbot, trainer):
    """The studio's output is bounded by the output authority, not by its spin box: a
    value above the clinic maximum is sent at the maximum, and the studio says so."""
    from app.service.clinic_limits import ClinicSettings

    window, ws, store = trainer
    # saved in this room: the store's watch reads it after the commit, the authority
    # applies it (the one way the clinic's limits reach it)
    cs = ClinicSettings(max_current_ua=150.0, eye_area_max_ua=150.0)
    save_clinic(store.writer, store.engine, cs)
    qtbot.waitUntil(lambda: window.authority.clinic.max_current_ua == 150.0, timeout=5000)
    assert ws.studio.amplitude.maximum() == 150.0  # the control follows the live limit
    ws.studio.amplitude.setMaximum(5000.0)  # a control that lets more through: no matter
    ws.studio.set_controls(
        OutputSettings(Waveform.SQUARE, 20.0, 1500.0, Polarity.BIPHASIC, 2.0, 0.1)
    )
    messages = []
    ws.studio.message.connect(messages.append)
    ws.studio.start()
    qtbot.waitUntil(
        lambda: any("limited to 150 µA by the clinic maximum" in m for m in messages), timeout=10000
    )
    qtbot.waitUntil(lambda: ws.session is not None, timeout=10000)
    assert window.authority.commanded.amplitude_ua == 150.0
    ws.studio.stop_output()
    qtbot.waitUntil(lambda: window.device.state == DeviceState.IDLE, timeout=10000)


def test_close_with_output_on_stops_it_first_and_records_the_stop(qtbot, trainer, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    window, ws, store = trainer
    start(qtbot, window, ws, samples=100)
    uid = ws.session.uid
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    engine = store.engine
    window.close()  # ESTOP before the question, shuts the workspaces down, closes the store
    assert ws.session is None
    (summary,) = session_history(engine, store.info.training_client_id)
    assert summary.uid == uid
    assert summary.outcome is Outcome.EMERGENCY_STOPPED
    assert session_detail(engine, uid).recorded_samples > 0


def test_link_loss_marks_the_session_interrupted(qtbot, trainer):
    window, ws, store = trainer
    start(qtbot, window, ws, samples=100)
    uid = ws.session.uid
    window.device.link.disconnected.emit("cable pulled")
    assert ws.session is None
    (summary,) = training_sessions(store)
    assert summary.uid == uid
    assert summary.outcome is Outcome.INTERRUPTED
    assert any(
        e.payload.get("message") == "link lost: cable pulled"
        for e in session_detail(store.engine, uid).events
    )
    ws.studio.stop_output()
    qtbot.waitUntil(lambda: window.device.state == DeviceState.IDLE, timeout=10000)


def test_what_the_output_authority_does_to_studio_output_is_shown(qtbot, trainer):
    """The clinic maximum drops below the running 100 µA: the output authority lowers
    it, and the studio's title, ideal and control say 50 µA, not the 100 µA applied.
    Then it stops the output (the records cannot be saved): the line the trainer reads
    last, the session's end, still says why."""
    from app.service.clinic_limits import ClinicSettings

    window, ws, store = trainer
    start(qtbot, window, ws, samples=100)
    # saved in this room: through the store, as every room's change reaches the authority
    save_clinic(
        store.writer, store.engine, ClinicSettings(max_current_ua=50.0, eye_area_max_ua=50.0)
    )
    qtbot.waitUntil(lambda: ws.studio.settings.amplitude_ua == 50.0, timeout=5000)
    assert "50 µA" in ws.studio.title.text()
    assert ws.studio.current_settings().amplitude_ua == 50.0
    messages: list[str] = []
    ws.studio.message.connect(messages.append)
    window.authority.records_failed("the disk is full")
    qtbot.waitUntil(lambda: ws.session is None, timeout=10000)
    assert messages[-1].startswith("Output stopped: records cannot be saved (the disk is full).")
    assert "Training session ended (stopped)" in messages[-1]
