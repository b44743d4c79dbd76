"""The practitioner's treatment desk end to end: simulator, engine, store."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt

from app.engine.session import SessionState
from app.store.runtime import start_store
from app.store.services import load_recording, session_detail, session_history
from app.ui.device_manager import DeviceManager
from app.ui.main_window import MainWindow


@pytest.fixture
def desk(qtbot, tmp_path):
    store = start_store(f"sqlite:///{tmp_path / 'records.db'}")
    device = DeviceManager()
    window = MainWindow(device, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
                        store)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.live_data_seen, timeout=15000):
        device.open(None)
    practitioner = window.workspaces["practitioner"]
    qtbot.waitUntil(lambda: practitioner.controller.state == SessionState.READY, timeout=5000)
    yield window, practitioner, store
    device.close()
    for ws in window.workspaces.built():
        ws.shutdown()
    store.close(10)


def test_guided_run_then_escape_is_recorded(qtbot, desk):
    window, practitioner, store = desk
    ctl = practitioner.controller
    assert practitioner.client_label.text() == "Training head (demo)"
    practitioner.program_box.setCurrentIndex(practitioner.program_box.findData("eye_area"))
    assert ctl.guided_view().program_id == "eye_area"
    practitioner.guided.start_button.click()
    qtbot.waitUntil(lambda: ctl.state == SessionState.RUNNING, timeout=8000)
    assert practitioner.face.active_zones()  # the step's zones are highlighted
    assert not window.switch_workspace("technician")  # the desk keeps the device
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: ctl.state == SessionState.ESTOPPED, timeout=3000)
    assert store.writer.flush(10)
    sessions = session_history(store.engine, store.info.training_client_id)
    assert [s.outcome.value for s in sessions] == ["emergency_stopped"]
    assert sessions[0].program == "eye_area"
    detail = session_detail(store.engine, sessions[0].id)
    messages = " ".join(e.message for e in detail.events if hasattr(e, "message"))
    kinds = {e.kind for e in detail.events}
    assert "transition" in kinds, messages
    assert load_recording(store.engine, sessions[0].id).current_ua.size > 0


def test_store_failure_stops_the_session_and_says_so(qtbot, desk):
    """A store that cannot write (read-only, disk full, server gone) stops the treatment
    that is being recorded and says so; the writer keeps what it has and retries."""
    window, practitioner, store = desk
    ctl = practitioner.controller
    practitioner.guided.start_button.click()
    qtbot.waitUntil(lambda: ctl.state == SessionState.RUNNING, timeout=8000)
    store.writer._report("The database is read-only (sqlite:///records.db).")  # writer thread's
    qtbot.waitUntil(lambda: "Records cannot be saved" in window.banner.text(), timeout=3000)
    assert "read-only" in window.banner.text()
    assert "output was stopped" in window.banner.text()
    qtbot.waitUntil(lambda: ctl.state in (SessionState.RAMPING_DOWN, SessionState.COMPLETE),
                    timeout=3000)
    # ramped down to the end (the window would otherwise ask before closing)
    qtbot.waitUntil(lambda: ctl.state == SessionState.COMPLETE, timeout=8000)
    qtbot.waitUntil(lambda: not window.device.state.output_possible, timeout=3000)
