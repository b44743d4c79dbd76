"""The technician bench against the real simulator, and its dialogs and panels."""

from __future__ import annotations

import stat

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QDialogButtonBox

from app.device.link import DeviceLink
from app.device.protocol import DeviceState
from app.device.waveform import OutputSettings, Polarity, Waveform
from app.engine.authority import Driver
from app.service.pin import FIRST_LOCKOUT_S, MemoryPinBackend, PinGuard, PinState
from app.service.selftest import Figure, SelfTestReport, StepResult, Verdict
from app.ui.technician import PinDialog, TechnicianBench
from app.ui.technician.clinic_view import ClinicLimitsPanel
from app.ui.technician.procedures_view import parse_setpoints


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def records(new_sqlite_url):
    """A records store (SQLite): the clinic limits and the PIN live there."""
    from app.store.runtime import start_store

    store = start_store(new_sqlite_url)
    yield store
    store.close()


def _panel(qtbot, store) -> ClinicLimitsPanel:
    """A clinic panel showing the store's clinic row, as the console feeds it."""
    from app.store.clinic import read_clinic

    panel = ClinicLimitsPanel()
    qtbot.addWidget(panel)
    panel.set_store(store)
    panel.show_record(read_clinic(store.engine))
    return panel


@pytest.fixture
def live(qtbot, settings, simulated_device):
    d = simulated_device("--seed", "3", owner=Driver.BENCH, connect=False)
    link = d.link
    link.test_port = d.port(Driver.BENCH)
    bench = TechnicianBench(link, settings, d.feeder.set_watchdog_feeding)
    bench.set_authority(d.authority)
    qtbot.addWidget(bench)
    bench.resize(1200, 760)
    bench.show()
    with qtbot.waitSignal(link.connected, timeout=5000):
        link.start()
    return bench, link


def test_bench_shows_live_device_link_load_and_frames(qtbot, live):
    bench, link = live
    assert bench.info_panel.value("serial") == "SIM-000001"
    assert bench.info_panel.value("compliance") == "20 V"
    port = link.test_port  # as the manual output panel asks: through the output authority
    port.request_start_with(
        OutputSettings(Waveform.SQUARE, 10.0, 200.0, Polarity.BIPHASIC, 2.0, 0.0)
    )
    qtbot.waitUntil(lambda: bench.load_panel.value("state") == "Running", timeout=3000)
    events = bench.events_panel.texts()
    assert any("state → Running" in e for e in events)
    qtbot.waitUntil(lambda: bench.load_panel.value("z_vi").endswith("kΩ"), timeout=3000)
    qtbot.waitUntil(lambda: bench.stats_panel.history_length >= 3, timeout=4000)
    assert float(bench.stats_panel.value("fps").replace(",", "")) > 50
    assert bench.stats_panel.value("crc") == "0"
    # frame log: SAMPLES frames only while its tab is shown (all other frames always)
    model = bench.log_model
    assert bench.tabs.currentWidget() is not bench.log_view
    assert link._logging
    assert not link._log_samples
    model.flush()
    assert {model.row(i).type_name for i in range(model.rowCount())} >= {"STATUS"}
    assert all(model.row(i).type_name != "SAMPLES" for i in range(model.rowCount()))
    bench.tabs.setCurrentWidget(bench.log_view)
    assert link._log_samples
    # rows with hex beside decoding, filtered by type
    qtbot.waitUntil(lambda: model.rowCount() > 50, timeout=3000)
    types = {model.row(i).type_name for i in range(model.rowCount())}
    assert {"SAMPLES", "STATUS"} <= types
    assert any(
        "SAMPLES frames not logged (the log was hidden)" in model.row(i).decoded
        for i in range(model.rowCount())
    )
    status_row = next(
        model.row(i) for i in range(model.rowCount()) if model.row(i).type_name == "STATUS"
    )
    assert status_row.hex.split()[1] == "01"  # protocol version byte, COBS-encoded frame
    bench.log_view.filter_box.setCurrentText("STATUS")
    proxy = bench.log_view.proxy
    assert 0 < proxy.rowCount() < model.rowCount()
    assert all(proxy.index(r, 2).data() == "STATUS" for r in range(proxy.rowCount()))
    # pausing stops capture on the link and freezes the table
    bench.log_view.pause_button.click()
    assert not link._logging
    frozen = model.rowCount()
    with qtbot.waitSignal(link.stats_updated, timeout=2000):
        pass
    model.flush()
    assert model.rowCount() == frozen
    bench.log_view.pause_button.click()
    assert link._logging
    link.stop_output()


def test_bench_calibrates_through_the_panel_and_reports_the_result(qtbot, live):
    bench, link = live
    panel = bench.calibration
    panel.setpoints.setText("100, 400")
    with qtbot.waitSignal(bench.calibration_completed, timeout=15_000) as got:
        panel.run_button.click()
    result = got.args[0]
    assert result.written
    assert result.current.gain == pytest.approx(1.01, abs=3e-3)
    assert panel.table.item(0, 1).text() == f"{result.current.gain:.5f}"
    assert "verified" in panel.progress.text()


def test_abort_makes_the_output_safe(qtbot, live):
    bench, link = live
    states = []
    link.status_received.connect(lambda s: states.append(s.state))
    bench.calibration.run_button.click()
    qtbot.waitUntil(lambda: DeviceState.RUNNING in states, timeout=5000)
    with qtbot.waitSignal(bench.runner.failed, timeout=2000):
        bench.calibration.abort_button.click()
    text = bench.calibration.progress.text()
    assert "aborted" in text
    assert "output switched off" in text
    assert "without calibration" in text
    states.clear()
    qtbot.waitUntil(lambda: len(states) >= 3, timeout=2000)
    assert states[-1] == DeviceState.IDLE
    assert bench.calibration.run_button.isEnabled()


def test_bench_follows_a_link_change(qtbot, settings):
    old, new = DeviceLink("/dev/null-old"), DeviceLink("/dev/null-new")  # never started
    bench = TechnicianBench(old, settings)
    qtbot.addWidget(bench)
    assert bench.info_panel.value("port") == "/dev/null-old"
    bench.set_link(new)
    assert bench.info_panel.value("port") == "/dev/null-new"
    old.disconnected.emit("old link")  # no longer followed
    new.disconnected.emit("new link")
    events = bench.events_panel.texts()
    assert any("new link" in e for e in events)
    assert not any("old link" in e for e in events)
    bench.set_link(None)
    assert "Not connected" in bench.info_panel.state.text()
    bench.calibration.run_button.click()
    assert "not connected" in bench.calibration.progress.text()
    bench.selftest.run_button.click()
    assert "not connected" in bench.selftest.progress.text()


def test_setpoint_parsing_names_the_bad_entry():
    assert parse_setpoints("100, 250 500") == [100.0, 250.0, 500.0]
    with pytest.raises(ValueError, match="'abc'"):
        parse_setpoints("100, abc")
    with pytest.raises(ValueError, match="two different"):
        parse_setpoints("100, 100")
    with pytest.raises(ValueError, match="positive"):
        parse_setpoints("-5, 100")


def test_selftest_report_saves_as_pdf(qtbot, settings, tmp_path):
    bench = TechnicianBench(None, settings)
    qtbot.addWidget(bench)
    panel = bench.selftest
    with pytest.raises(ValueError, match="no self-test"):
        panel.save_pdf(str(tmp_path / "none.pdf"))
    rep = SelfTestReport({"model": "M", "serial": "S", "firmware": "F"})
    rep.steps.append(StepResult("Frequency", Verdict.PASS, (Figure("f", 10, "Hz", 9, 11),)))
    panel.finished(rep)
    assert "PASS" in panel.view.toPlainText()
    panel.save_pdf(str(tmp_path / "r.pdf"))
    assert (tmp_path / "r.pdf").read_bytes()[:5] == b"%PDF-"
    assert stat.S_IMODE((tmp_path / "r.pdf").stat().st_mode) == 0o600  # owner only


def test_clinic_panel_refuses_inconsistent_limits_and_saves_good_ones(qtbot, records):
    panel = _panel(qtbot, records)
    panel.spins["eye_area_max_ua"].setValue(700)
    assert not panel.save_button.isEnabled()
    assert "eye-area" in panel.message.text()
    panel.spins["eye_area_max_ua"].setValue(150)
    panel.spins["max_current_ua"].setValue(500)
    with qtbot.waitSignal(panel.clinic_settings_changed) as got:
        panel.save_button.click()
    assert got.args[0].max_current_ua == 500
    again = _panel(qtbot, records)  # another view of the store (another room)
    assert again.spins["eye_area_max_ua"].value() == 150
    assert again.spins["max_current_ua"].value() == 500


def test_clinic_panel_without_records_cannot_save(qtbot):
    panel = ClinicLimitsPanel()
    qtbot.addWidget(panel)
    assert panel.spins["max_current_ua"].value() == 600  # the defaults, until read
    assert not panel.save_button.isEnabled()
    assert not panel.save()
    assert "not open" in panel.message.text()


def _other_room_saves(url: str, max_ua: float, eye_ua: float) -> int:
    """Another room (its own engine and store writer on the same database) saves clinic
    limits over the version it reads; returns the new version."""
    from app.engine.limits import ClinicSettings
    from app.service.clinic_limits import settings_to_dict
    from app.store.clinic import SaveClinicSettings, read_clinic
    from app.store.database import make_engine
    from app.store.writer import StoreWriter

    engine = make_engine(url)
    room = StoreWriter(engine)
    try:
        version = read_clinic(engine).version
        cs = ClinicSettings(max_current_ua=max_ua, eye_area_max_ua=eye_ua)
        return room.submit(SaveClinicSettings(settings_to_dict(cs), version, by="room-C")).result(
            10
        )
    finally:
        room.close(10)
        engine.dispose()


def _stored_max(store) -> float:
    from app.service.clinic_limits import settings_from_dict
    from app.store.clinic import read_clinic

    return settings_from_dict(read_clinic(store.engine).settings)[0].max_current_ua


def test_clinic_panel_save_from_a_stale_reading_is_refused_and_the_typed_values_kept(
    qtbot, records, new_sqlite_url
):
    """Another room saved before this panel read it: the store refuses the panel's save
    (it states the version it was made from); the typed value stays, listed against the
    stored one, and Save stays off until Revert shows the stored limits."""
    from app.store.clinic import read_clinic

    panel = _panel(qtbot, records)
    _other_room_saves(new_sqlite_url, 400.0, 200.0)
    panel.spins["max_current_ua"].setValue(500)
    with qtbot.waitSignal(panel.saved):
        panel.save_button.click()
    assert _stored_max(records) == 400.0  # not overwritten
    text = panel.message.text()
    assert "changed by room-C" in text
    assert "Yours, not saved: Maximum current 500 µA" in text
    assert panel.spins["max_current_ua"].value() == 500  # what was typed is still shown
    assert not panel.save_button.isEnabled()
    panel.show_record(read_clinic(records.engine))  # the console's watch reads it
    assert "Stored now: Maximum current 400 µA" in panel.message.text()
    assert not panel.save_button.isEnabled()
    panel.revert_button.click()
    assert panel.spins["max_current_ua"].value() == 400
    assert "Your values, not saved: Maximum current 500 µA" in panel.message.text()


def test_another_rooms_change_turns_save_off_and_revert_shows_it(qtbot, records, new_sqlite_url):
    """The tester's two rooms: A edits 250/200 µA while C saves 120/100 µA. A's panel,
    fed by the console's clinic watch, turns Save off and says what is stored against
    what was typed; saving anyway is refused (the store has 120 µA); Revert shows the
    stored limits and keeps A's values listed; saved again from there, A's save holds."""
    from app.engine.clinic_watch import ClinicSettingsWatch

    panel = ClinicLimitsPanel()
    qtbot.addWidget(panel)
    panel.set_store(records)
    watch = ClinicSettingsWatch(
        records.engine, records.writer, interval_s=0.05, on_record=panel.show_record
    )
    try:
        qtbot.waitUntil(lambda: panel.record is not None, timeout=5000)
        panel.spins["max_current_ua"].setValue(250)
        panel.spins["eye_area_max_ua"].setValue(200)
        assert panel.save_button.isEnabled()
        version = _other_room_saves(new_sqlite_url, 120.0, 100.0)
        qtbot.waitUntil(lambda: panel.record.version == version, timeout=5000)
        assert not panel.save_button.isEnabled()
        text = panel.message.text()
        assert "changed by room-C" in text
        assert "Stored now: Maximum current 120 µA, Eye-area maximum 100 µA." in text
        assert "Yours, not saved: Maximum current 250 µA, Eye-area maximum 200 µA." in text
        assert "Limits saved" not in text
        assert not panel.save()  # a save from the old version is refused here...
        qtbot.wait(100)
        assert _stored_max(records) == 120.0  # ...and nothing reached the store
        panel.revert_button.click()
        assert panel.spins["max_current_ua"].value() == 120
        assert panel.spins["eye_area_max_ua"].value() == 100
        assert "Maximum current 250 µA" in panel.message.text()  # not lost silently
        panel.spins["max_current_ua"].setValue(250)
        with qtbot.waitSignal(panel.clinic_settings_changed, timeout=5000):
            panel.save_button.click()
        assert _stored_max(records) == 250.0
        assert "Limits saved" in panel.message.text()
    finally:
        watch.close()


def test_two_rooms_saving_at_once_one_wins_the_other_is_told(qtbot, records, new_sqlite_url):
    """Two panels (two rooms, each with its own writer) on one database, both showing the
    same version, both save: exactly one save is stored; the other panel keeps its values
    and says the limits were changed meanwhile."""
    from app.store.clinic import read_clinic
    from app.store.runtime import start_store

    other = start_store(new_sqlite_url)
    try:
        a, b = _panel(qtbot, records), _panel(qtbot, other)
        a.spins["max_current_ua"].setValue(300)
        b.spins["max_current_ua"].setValue(250)
        outcomes = []
        a.clinic_settings_changed.connect(lambda cs: outcomes.append(("a", cs.max_current_ua)))
        b.clinic_settings_changed.connect(lambda cs: outcomes.append(("b", cs.max_current_ua)))
        with qtbot.waitSignals([a.saved, b.saved], timeout=10000):
            assert a.save(), a.message.text()
            assert b.save(), b.message.text()
        assert len(outcomes) == 1, outcomes
        winner, loser = (a, b) if outcomes[0][0] == "a" else (b, a)
        assert _stored_max(records) == outcomes[0][1]
        assert "Limits saved" in winner.message.text()
        assert "changed by" in loser.message.text()
        assert "Yours, not saved" in loser.message.text()
        assert not loser.save_button.isEnabled()
        assert winner.base_version == read_clinic(records.engine).version
        assert loser.spins["max_current_ua"].value() in (300, 250)  # its own, still shown
    finally:
        other.close()


def test_the_saved_message_says_what_happens_to_running_output(qtbot, records):
    """Lowered: output above the new limits is lowered at once (the output authority does
    it); raised: running output is not raised."""
    panel = _panel(qtbot, records)
    panel.spins["max_current_ua"].setValue(300)
    with qtbot.waitSignal(panel.clinic_settings_changed):
        panel.save_button.click()
    text = panel.message.text()
    assert "lowered to them at once" in text
    assert "next output change" not in text
    panel.spins["max_current_ua"].setValue(450)
    with qtbot.waitSignal(panel.clinic_settings_changed):
        panel.save_button.click()
    text = panel.message.text()
    assert "does not raise output already running" in text
    assert "lowered" not in text


def test_a_number_typed_out_of_range_is_shown_and_named_never_cut(qtbot, records):
    """Typed keys, as a technician types them: "1e9" stays "1e9 µA" (a plain spin box
    left "19 µA"), is named with the allowed range, and Save is off until it is fixed."""
    from PySide6.QtCore import Qt

    panel = _panel(qtbot, records)
    panel.show()
    spin = panel.spins["max_current_ua"]
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "1e9")
    assert spin.text() == "1e9 µA"
    assert "Maximum current: 1e9 µA is outside the allowed 10–1000 µA" in panel.message.text()
    assert not panel.save_button.isEnabled()
    qtbot.keyClick(spin, Qt.Key.Key_Tab)  # leaving the field keeps what was typed
    assert spin.text() == "1e9 µA"
    assert not panel.save_button.isEnabled()
    assert not panel.save()
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "500")
    assert spin.value() == 500
    assert panel.save_button.isEnabled()
    # a zone's limit: "2000" stays 2000 µA, out of range (never 200 µA)
    zone = panel.zone_spins["masseter_l"]
    zone.setFocus()
    zone.selectAll()
    qtbot.keyClicks(zone, "2000")
    assert zone.text() == "2000 µA"
    assert "2000 µA is outside the allowed 0–1000 µA" in panel.message.text()
    assert not panel.save_button.isEnabled()


def test_pin_dialog_first_use_then_rate_limited(qtbot):
    clock = [1000.0]
    store = MemoryPinBackend()
    guard = PinGuard(store, lambda: clock[0])
    dlg = PinDialog(guard)
    qtbot.addWidget(dlg)
    assert dlg.first_use
    dlg.pin.setText("1234")
    dlg.confirm.setText("1235")
    dlg.submit()
    assert "differ" in dlg.message.text()
    assert not guard.is_set
    dlg.confirm.setText("1234")
    dlg.submit()
    assert dlg.result() == PinDialog.DialogCode.Accepted
    assert "1234" not in str(store.current)

    dlg = PinDialog(guard)
    qtbot.addWidget(dlg)
    ok = dlg.buttons.button(QDialogButtonBox.StandardButton.Ok)
    for _ in range(3):
        dlg.pin.setText("9999")
        dlg.submit()
    assert not ok.isEnabled()
    assert "try again" in dlg.message.text()
    dlg.pin.setText("1234")
    dlg.submit()  # locked: even the right PIN is refused
    assert dlg.result() != PinDialog.DialogCode.Accepted
    clock[0] += FIRST_LOCKOUT_S + 1
    dlg._update_lock()
    assert ok.isEnabled()
    dlg.pin.setText("1234")
    dlg.submit()
    assert dlg.result() == PinDialog.DialogCode.Accepted


def test_pin_dialog_change_needs_the_current_pin(qtbot):
    guard = PinGuard(MemoryPinBackend())
    guard.set_pin("1111")
    dlg = PinDialog(guard, change=True)
    qtbot.addWidget(dlg)
    dlg.current.setText("0000")
    dlg.pin.setText("2222")
    dlg.confirm.setText("2222")
    dlg.submit()
    assert "wrong PIN" in dlg.message.text()
    dlg.current.setText("1111")
    dlg.pin.setText("2222")
    dlg.confirm.setText("2222")
    dlg.submit()
    assert dlg.result() == PinDialog.DialogCode.Accepted
    assert guard.verify("2222").ok


def test_pin_dialog_with_a_missing_hash_offers_no_setup(qtbot):
    guard = PinGuard(MemoryPinBackend(PinState(None, True, 0, 2)))
    dlg = PinDialog(guard)
    qtbot.addWidget(dlg)
    assert not dlg.first_use
    assert not dlg.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()
    assert "reset-pin" in dlg.findChildren(type(dlg.message))[0].text()


def test_pin_dialog_checks_no_pin_it_cannot_record(qtbot):
    backend = MemoryPinBackend()
    guard = PinGuard(backend)
    guard.set_pin("1234")
    backend.writable = False
    dlg = PinDialog(guard)
    qtbot.addWidget(dlg)
    dlg.pin.setText("1234")
    dlg.submit()
    assert dlg.result() != PinDialog.DialogCode.Accepted
    assert "could not be recorded" in dlg.message.text()


def test_selftest_stopped_early_still_gives_a_failing_report(qtbot, settings):
    bench = TechnicianBench(None, settings)
    qtbot.addWidget(bench)
    panel = bench.selftest
    panel.report = SelfTestReport({"model": "M", "serial": "S", "firmware": "F"})
    panel.report.steps.append(StepResult("Reference load", Verdict.PASS))
    with qtbot.waitSignal(bench.selftest_completed) as got:
        panel.stopped("the device link was lost: cable pulled")
    report = got.args[0]
    assert not report.passed
    assert report.steps[-1].verdict == Verdict.FAIL
    assert "cable pulled" in panel.view.toPlainText()


def test_zone_limits_are_edited_saved_and_bind_in_the_engine(qtbot, records):
    panel = _panel(qtbot, records)
    assert panel.zone_spins["masseter_l"].text() == "default"
    row = panel.zone_ids.index("orbicularis_oculi_l")
    assert panel.zone_table.item(row, 1).text() == "200 µA"  # the eye-area maximum
    # around the eyes: never above the eye-area maximum
    panel.zone_spins["orbicularis_oculi_l"].setValue(300)
    assert not panel.save_button.isEnabled()
    assert "eye-area maximum" in panel.message.text()
    panel.zone_spins["orbicularis_oculi_l"].setValue(120)
    # elsewhere: never above the clinic maximum
    panel.zone_spins["masseter_l"].setValue(900)
    assert not panel.save_button.isEnabled()
    assert "clinic maximum" in panel.message.text()
    panel.zone_spins["masseter_l"].setValue(250)
    with qtbot.waitSignal(panel.clinic_settings_changed) as got:
        panel.save_button.click()
    cs = got.args[0]
    assert cs.zone_max_ua == {"orbicularis_oculi_l": 120.0, "masseter_l": 250.0}
    # the engine's zone layer uses them: the lowest zone of a step binds
    assert cs.zone_limit(["masseter_l", "masseter_r"]) == (
        250.0,
        "clinic limit for zone masseter_l",
    )
    assert cs.zone_limit(["orbicularis_oculi_l"])[0] == 120.0
    again = _panel(qtbot, records)
    assert again.zone_spins["masseter_l"].value() == 250
    assert again.zone_spins["masseter_r"].text() == "default"


def test_damaged_zone_limits_in_the_file_fall_back_to_defaults(settings):
    from app.service.clinic_limits import load_clinic_settings

    settings.setValue("clinic/version", 1)
    settings.setValue(
        "clinic/zone_max_ua",
        '{"masseter_l": 250, "nose_tip": 100, "frontalis_r": "lots", "orbicularis_oculi_r": 900}',
    )
    cs, problems = load_clinic_settings(settings)
    assert cs.zone_max_ua == {"masseter_l": 250.0}
    text = " | ".join(problems)
    assert "unknown zone 'nose_tip'" in text
    assert "frontalis_r" in text
    assert "not a number" in text
    assert "orbicularis_oculi_r" in text
    assert "eye-area maximum" in text
    settings.setValue("clinic/zone_max_ua", "{broken")
    cs, problems = load_clinic_settings(settings)
    assert cs.zone_max_ua == {}
    assert "not JSON" in problems[0]


def test_service_history_lists_clinic_and_pin_changes_with_old_and_new(qtbot, records):
    from app.ui.technician.service_history import ServiceHistoryPanel

    panel = _panel(qtbot, records)
    panel.spins["max_current_ua"].setValue(450)
    with qtbot.waitSignal(panel.clinic_settings_changed):
        panel.save_button.click()
    from app.service.pin import StorePinBackend
    from app.store.clinic import read_clinic

    backend = StorePinBackend(records.writer)
    backend.update(read_clinic(records.engine))
    guard = PinGuard(backend)
    guard.set_pin("2468")
    history = ServiceHistoryPanel(records)
    qtbot.addWidget(history)
    qtbot.waitUntil(lambda: history.table.rowCount() >= 2, timeout=5000)  # read off the GUI thread
    rows = [
        (history.table.item(r, 1).text(), history.table.item(r, 5).text())
        for r in range(history.table.rowCount())
    ]
    assert rows[0][0] == "Technician PIN"
    assert rows[0][1].startswith("PIN set up: none → a PIN (by ")
    assert rows[1][0] == "Clinic settings"
    assert rows[1][1].startswith("max_current_ua: 600 → 450 (by ")
    assert "2468" not in str(rows)


def test_the_load_panel_computes_only_while_shown(qtbot, settings):
    """The bench opens on any tab: a load panel never shown runs no timer (its figures
    are computed when it is shown, from the blocks it kept)."""
    bench = TechnicianBench(None, settings)
    qtbot.addWidget(bench)
    panel = bench.load_panel
    bench.tabs.setCurrentWidget(bench.log_view)
    bench.show()
    qtbot.waitExposed(bench)
    assert not panel.isVisible()
    assert not panel._timer.isActive()
    bench.tabs.setCurrentIndex(0)  # Device and link
    assert panel.isVisible()
    assert panel._timer.isActive()
    bench.tabs.setCurrentWidget(bench.log_view)
    assert not panel._timer.isActive()


def test_the_frame_log_inserts_rows_only_while_its_tab_is_shown(qtbot, settings):
    """Records wait while the Frame log tab is hidden (no table work for nobody) and are
    all there when it is shown."""
    from app.device.link import FrameRecord
    from app.device.protocol import Heartbeat

    bench = TechnicianBench(None, settings)
    qtbot.addWidget(bench)
    model = bench.log_model
    bench.show()
    qtbot.waitExposed(bench)
    assert not bench.log_view.isVisible()
    for k in range(30):
        model.add(FrameRecord(float(k), "tx", b"\x01\x02", Heartbeat()))
    assert not model._timer.isActive()  # no flush timer while hidden
    assert model.flushes == 0
    assert model.rowCount() == 0
    bench.tabs.setCurrentWidget(bench.log_view)
    assert model.rowCount() == 30
    model.add(FrameRecord(31.0, "tx", b"\x01\x02", Heartbeat()))
    qtbot.waitUntil(lambda: model.rowCount() == 31, timeout=2000)


def test_hidden_device_panels_keep_figures_and_show_them_when_shown(qtbot, settings):
    """On another tab the link statistics and the load panel update no label and no
    plot (ten reports a second for nobody); shown, they show the newest figures."""
    from app.device.protocol import Fault, Status
    from app.device.stats import LinkStats

    bench = TechnicianBench(None, settings)
    qtbot.addWidget(bench)
    bench.tabs.setCurrentWidget(bench.log_view)
    bench.show()
    qtbot.waitExposed(bench)
    stats, load = bench.stats_panel, bench.load_panel
    assert not stats.isVisible()
    before = (stats.value("frames"), load.value("state"))
    for k in range(5):
        stats.update_stats(LinkStats(connected=True, frames=1000 + k, frames_per_s=200.0))
        load.add_status(
            Status(DeviceState.RUNNING, 150.0, 200.0, 20_000.0, True, False, Fault.NONE, 0.0, k)
        )
    assert (stats.value("frames"), load.value("state")) == before
    assert stats.history_length == 5  # the plot's history is kept all the same
    bench.tabs.setCurrentIndex(0)  # Device and link
    assert stats.value("frames") == "1,004"
    assert load.value("state") == "Running"
    stats.update_stats(LinkStats(connected=True, frames=2000, frames_per_s=200.0))
    assert stats.value("frames") == "2,000"  # shown: at once
