"""The practitioner's treatment desk end to end: simulator, engine, store."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QLabel

from app.device.protocol import DeviceState
from app.engine.session import SessionState
from app.store.runtime import start_store
from app.store.services import load_recording, session_detail, session_history
from app.ui.device_manager import DeviceManager
from app.ui.main_window import MainWindow

# The desk's program in these tests: its output ramps up and down in 1 s, at 10 Hz as
# eye_area (whose 2 s ramps would add seconds of waiting to every start, resume and stop).
PROGRAM = "full_face_lift"


@pytest.fixture
def desk(qtbot, tmp_path, new_sqlite_url):
    store = start_store(new_sqlite_url)
    device = DeviceManager()
    window = MainWindow(
        device, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), store
    )
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.live_data_seen, timeout=15000):
        device.open(None)
    practitioner = window.workspaces["practitioner"]
    practitioner.program_box.setCurrentIndex(practitioner.program_box.findData(PROGRAM))
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
    practitioner.program_box.setCurrentIndex(practitioner.program_box.findData(PROGRAM))
    assert ctl.guided_view().program_id == PROGRAM
    practitioner.guided.start_button.click()
    qtbot.waitUntil(lambda: ctl.state == SessionState.RUNNING, timeout=8000)
    assert practitioner.face.active_zones()  # the step's zones are highlighted
    assert not window.switch_workspace("technician")  # the desk keeps the device
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: ctl.state == SessionState.ESTOPPED, timeout=3000)
    assert store.writer.flush(10)
    sessions = session_history(store.engine, store.info.training_client_id)
    assert [s.outcome.value for s in sessions] == ["emergency_stopped"]
    assert sessions[0].program == PROGRAM
    detail = session_detail(store.engine, sessions[0].id)
    messages = " ".join(e.message for e in detail.events if hasattr(e, "message"))
    kinds = {e.kind for e in detail.events}
    assert "transition" in kinds, messages
    assert load_recording(store.engine, sessions[0].id).current_ua.size > 0


def test_a_step_cut_short_by_an_emergency_stop_is_recorded(qtbot, desk):
    """The first session after start-up (its program loaded before the records opened)
    stopped mid-step: its step is recorded with what it delivered, once, and marked as
    ended by the emergency stop; the history's figures come from it."""
    window, practitioner, store = desk
    ctl = practitioner.controller
    practitioner.guided.start_button.click()
    qtbot.waitUntil(lambda: ctl.state == SessionState.RUNNING, timeout=8000)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: ctl.state == SessionState.ESTOPPED, timeout=3000)
    assert store.writer.flush(10)
    (session,) = session_history(store.engine, store.info.training_client_id)
    (step,) = session_detail(store.engine, session.id).steps
    assert step.position == 0
    assert step.actual_s > 0
    assert step.mean_current_ua is not None
    assert step.mean_current_ua > 0
    assert step.parameters["ended_early"] == "emergency_stopped"
    assert session.mean_current_ua is not None
    assert session.charge_uc is not None


def test_an_emergency_stop_at_idle_is_not_in_the_next_clients_session(qtbot, desk):
    """Esc with no session under way, Reset, then a session: the session's events are its
    own — nothing of the idle emergency stop (its alarm, its transitions, the ESTOP and
    RESET commands) is written into it."""
    window, practitioner, store = desk
    ctl = practitioner.controller
    qtbot.keyClick(window, Qt.Key.Key_Escape)  # nobody is being treated
    qtbot.waitUntil(lambda: window.device.state == DeviceState.ESTOPPED, timeout=3000)
    assert ctl.state == SessionState.ESTOPPED
    practitioner.guided.start_button.click()  # Reset
    qtbot.waitUntil(lambda: window.device.state == DeviceState.IDLE, timeout=3000)
    qtbot.waitUntil(lambda: ctl.state == SessionState.READY, timeout=8000)
    practitioner.guided.start_button.click()
    qtbot.waitUntil(lambda: ctl.state == SessionState.RUNNING, timeout=8000)
    practitioner.guided.stop_button.click()
    qtbot.waitUntil(lambda: ctl.state == SessionState.COMPLETE, timeout=8000)
    assert store.writer.flush(10)
    (session,) = session_history(store.engine, store.info.training_client_id)
    events = session_detail(store.engine, session.id).events
    said = [(e.kind, e.payload.get("message", "")) for e in events]
    assert not [m for _k, m in said if "estop" in m or "reset" in m], said
    assert not [k for k, _m in said if k == "alarm"], said
    transitions = [m for k, m in said if k == "transition"]
    assert transitions[0].startswith("ready -> ramping_up"), said


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
    qtbot.waitUntil(
        lambda: ctl.state in (SessionState.RAMPING_DOWN, SessionState.COMPLETE), timeout=3000
    )
    # ramped down to the end (the window would otherwise ask before closing)
    qtbot.waitUntil(lambda: ctl.state == SessionState.COMPLETE, timeout=8000)
    qtbot.waitUntil(lambda: not window.device.state.output_possible, timeout=3000)


def _focused():
    from PySide6.QtWidgets import QApplication

    return QApplication.focusWidget()


def _tab_to(qtbot, target, limit: int = 40) -> int:
    """Press Tab until ``target`` has the focus; the number of presses."""
    for n in range(1, limit + 1):
        qtbot.keyClick(_focused(), Qt.Key.Key_Tab)
        if target.hasFocus():
            return n
    raise AssertionError(f"Tab never reached {target!r}; focus on {_focused()!r}")


def test_the_main_flow_by_keyboard_alone(qtbot, desk):
    """Choose a program, Tab to Start, Enter starts; the pause key (F8) pauses and
    resumes, the next-step key (F9) skips, Space presses the focused button, Esc stops."""
    window, practitioner, _store = desk
    ctl, guided = practitioner.controller, practitioner.guided
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)  # window shortcuts need it
    box = practitioner.program_box
    box.setFocus()
    qtbot.waitUntil(box.hasFocus, timeout=2000)
    box.setCurrentIndex(box.findData("eye_area"))  # the keys below choose another
    target = box.findData(PROGRAM)
    assert target != box.currentIndex()
    for _ in range(box.count()):
        if box.currentIndex() == target:
            break
        qtbot.keyClick(box, Qt.Key.Key_Up if box.currentIndex() > target else Qt.Key.Key_Down)
    assert ctl.guided_view().program_id == PROGRAM
    # Tab goes round the whole desk and back: the face map is one stop, not 34 of 52
    stops = []
    for _ in range(40):
        qtbot.keyClick(_focused(), Qt.Key.Key_Tab)
        stops.append(_focused())
        if box.hasFocus():
            break
    assert box.hasFocus()
    assert stops.count(practitioner.face) == 1
    assert len(stops) <= 20, [type(w).__name__ for w in stops]
    presses = _tab_to(qtbot, guided.start_button)
    assert presses <= 15, presses
    assert guided.pause_button.text() == "Pause (F8)"
    qtbot.keyClick(guided.start_button, Qt.Key.Key_Return)  # Enter presses the button
    qtbot.waitUntil(lambda: ctl.state == SessionState.RUNNING, timeout=8000)
    qtbot.keyClick(_focused(), Qt.Key.Key_F8)
    qtbot.waitUntil(lambda: ctl.state == SessionState.PAUSED, timeout=3000)
    assert guided.pause_button.text() == "Resume (F8)"
    qtbot.keyClick(_focused(), Qt.Key.Key_F8)
    qtbot.waitUntil(
        lambda: ctl.state in (SessionState.RAMPING_UP, SessionState.RUNNING), timeout=3000
    )
    step = ctl.guided_view().step_index
    qtbot.keyClick(_focused(), Qt.Key.Key_F9)
    qtbot.waitUntil(lambda: ctl.guided_view().step_index == step + 1, timeout=3000)
    # Space presses the focused button (no shortcut takes it): the Pause button
    guided.pause_button.setFocus()
    qtbot.waitUntil(guided.pause_button.hasFocus, timeout=2000)
    qtbot.waitUntil(lambda: ctl.state == SessionState.RUNNING, timeout=8000)
    qtbot.keyClick(guided.pause_button, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: ctl.state == SessionState.PAUSED, timeout=3000)
    qtbot.keyClick(_focused(), Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: ctl.state == SessionState.ESTOPPED, timeout=3000)
    # Enter on Reset resets; the same key pressed again does not start output: Start
    # after a reset is a choice of its own (the focus has left the button)
    guided.start_button.setFocus()
    qtbot.waitUntil(guided.start_button.hasFocus, timeout=2000)
    assert guided.start_button.text() == "Reset"
    qtbot.keyClick(guided.start_button, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: ctl.state == SessionState.READY, timeout=5000)
    assert guided.start_button.text() == "Start"
    assert not guided.start_button.hasFocus()
    # the device's events for the PAUSE and the ESTOP just before (sent before it took
    # the RESET) arrive now: the new session is not latched again by them
    qtbot.keyClick(_focused() or window, Qt.Key.Key_Return)
    qtbot.wait(500)
    assert ctl.state == SessionState.READY
    # the history heat map of a client with studio sessions ("studio" is no face zone)
    practitioner.history_button.setChecked(True)
    zone = practitioner.face.zone_ids()[0]
    minutes = {"studio": 4.0, "manual": 1.0, zone: 2.0}
    practitioner._show_heatmap(practitioner.client_id, minutes, 3)
    assert practitioner.face._heat == {zone: 2.0}


def test_the_session_keys_come_from_the_settings(qtbot, tmp_path):
    """A foot switch sends its own key: the pause and next-step keys are settings; a
    reserved key (Space, Enter, Esc...) or nonsense falls back to the default."""
    from PySide6.QtGui import QKeySequence

    from app.ui.keys import NEXT_STEP_KEY, PAUSE_KEY, session_key

    settings = QSettings(str(tmp_path / "k.ini"), QSettings.Format.IniFormat)
    assert session_key(settings, PAUSE_KEY) == QKeySequence("F8")
    assert session_key(settings, NEXT_STEP_KEY) == QKeySequence("F9")
    settings.setValue(PAUSE_KEY, "Pause")
    settings.setValue(NEXT_STEP_KEY, "Ctrl+Right")
    assert session_key(settings, PAUSE_KEY) == QKeySequence("Pause")
    assert session_key(settings, NEXT_STEP_KEY) == QKeySequence("Ctrl+Right")
    for bad in ("Space", "Return", "Esc", "Tab", "", "not a key", "F1, F2"):
        settings.setValue(PAUSE_KEY, bad)
        assert session_key(settings, PAUSE_KEY) == QKeySequence("F8"), bad
    settings.setValue(PAUSE_KEY, "F12")
    window = MainWindow(DeviceManager(), settings)
    qtbot.addWidget(window)
    assert window.pause_shortcut.key() == QKeySequence("F12")
    assert window.next_step_shortcut.key() == QKeySequence("Ctrl+Right")
    window.close()


def test_the_keys_dialog_sets_the_foot_switch_keys(qtbot, tmp_path):
    """Keys: press the foot switch's key in a field; a reserved or repeated key is
    refused with the reason; saved, the shortcuts follow at once."""
    from PySide6.QtGui import QKeySequence
    from PySide6.QtWidgets import QDialogButtonBox

    from app.ui.keys import NEXT_STEP_KEY, PAUSE_KEY

    settings = QSettings(str(tmp_path / "k.ini"), QSettings.Format.IniFormat)
    window = MainWindow(DeviceManager(), settings)
    qtbot.addWidget(window)
    dialog = window.edit_keys()
    save = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
    pause, step = dialog.edits[PAUSE_KEY], dialog.edits[NEXT_STEP_KEY]
    assert pause.keySequence() == QKeySequence("F8")
    pause.setKeySequence(QKeySequence("Space"))
    assert not save.isEnabled()
    assert "desk's own" in dialog.problem.text()
    pause.setKeySequence(QKeySequence("F9"))
    assert not save.isEnabled()
    assert "differ" in dialog.problem.text()
    pause.setFocus()
    qtbot.keyClick(pause, Qt.Key.Key_Pause)  # what the foot switch sends
    assert pause.keySequence() == QKeySequence("Pause")
    step.setKeySequence(QKeySequence("F10"))
    assert save.isEnabled()
    save.click()
    assert settings.value(PAUSE_KEY) == "Pause"
    assert settings.value(NEXT_STEP_KEY) == "F10"
    assert window.pause_shortcut.key() == QKeySequence("Pause")
    assert window.next_step_shortcut.key() == QKeySequence("F10")
    window.close()


def test_a_clients_session_is_offered_for_signing_when_it_ends(qtbot, desk):
    """At the end of a client's session the desk offers to sign it (the console's
    operator, printed name editable); once signed it is locked. Not offered for the demo
    head, nor while output runs."""
    import datetime as dt

    from app.store.screening import add_months, load_questionnaire
    from app.store.validation import ClientData

    window, practitioner, store = desk
    q = load_questionnaire()
    w = store.writer
    cid = w.save_client(ClientData("Ann Signer", dt.date(1990, 1, 1))).result(5)
    today = dt.date.today()
    answers = {i.id: (False if i.type == "yes_no" else None) for i in q.items if i.asked}
    w.add_screening(cid, answers, today, add_months(today, 6), (), based_on=None).result(5)
    w.add_consent(cid, q.consent_text_version, based_on=None).result(5)
    ctl = practitioner.controller
    practitioner.choose_client(cid)
    qtbot.waitUntil(lambda: ctl.machine.client_id == str(cid), timeout=5000)
    qtbot.waitUntil(lambda: ctl.state == SessionState.READY, timeout=5000)
    assert not practitioner.sign_button.isVisible()
    practitioner.guided.start_button.click()
    qtbot.waitUntil(lambda: ctl.state == SessionState.RUNNING, timeout=8000)
    assert not practitioner.sign_button.isVisible()
    practitioner.guided.stop_button.click()
    qtbot.waitUntil(lambda: practitioner.sign_button.isVisible(), timeout=8000)
    uid = practitioner.recorder.last_session_uid
    window.resize(1280, 800)
    assert window.minimumSizeHint().width() <= 1280
    if os.environ.get("RECORDS_SCREENSHOTS"):
        window.grab().save(os.path.join(os.environ["RECORDS_SCREENSHOTS"], "desk-sign.png"))
    dialog = practitioner.sign_last_session()
    assert any("Ann Signer" in label.text() for label in dialog.findChildren(QLabel))
    dialog.name.setText("Dr Ann Practitioner")
    with qtbot.waitSignal(practitioner.message, timeout=5000) as said:
        dialog.ok.click()
    assert said.args[0].startswith("Session signed and locked")
    assert not practitioner.sign_button.isVisible()
    detail = session_detail(store.engine, uid)
    assert detail.signature.printed_name == "Dr Ann Practitioner"
    # the operator signed in (the test's manager, from the environment)
    assert detail.signature.operator_id == window.access.signed_in.id
