"""Guided-run and limits widgets over a SessionController with a recording fake link."""

from __future__ import annotations

import pytest
from test_engine_controller import INFO, FakeLink
from test_engine_support import controller_on, status

from app.device.protocol import DeviceState
from app.device.waveform import OutputSettings, Polarity, Waveform
from app.engine.limits import LimitLayer
from app.engine.programs import load_program
from app.engine.session import SessionState
from app.ui.guided_run import GuidedRunPanel, zones_text
from app.ui.limits_panel import LimitsPanel


@pytest.fixture
def ctl(qtbot):
    link = FakeLink()
    c = controller_on(link, tick_ms=50)
    c.test_link = link
    link.connect_device(INFO)
    c.choose_client("c1", screening_passed=True)
    c.load_program(load_program("full_face_lift"))
    link.status_received.emit(status(DeviceState.IDLE, True))
    yield c
    c.shutdown()


def run(ctl):
    ctl.start()
    ctl.test_link.status_received.emit(status(DeviceState.RUNNING, True))
    assert ctl.state is SessionState.RUNNING


def test_guided_run_shows_the_step_and_navigates(qtbot, ctl):
    panel = GuidedRunPanel(ctl)
    qtbot.addWidget(panel)
    assert panel.step_no.text() == "STEP 1 OF 15"
    assert panel.step_name.text() == "Neck: platysma"
    assert panel.zones.text() == "platysma (left, right)"
    assert panel.countdown.text() == "2:00"
    assert panel.start_button.isEnabled()
    assert not panel.stop_button.isEnabled()
    zones = []
    panel.zones_changed.connect(zones.append)
    panel.skip_button.click()
    assert panel.step_name.text() == "Jaw: masseter"
    assert zones[-1] == ("masseter_l", "masseter_r")
    panel.back_button.click()
    assert panel.step_no.text() == "STEP 1 OF 15"


def test_step_change_under_way_gives_a_cue_and_the_countdown_runs(qtbot, ctl):
    panel = GuidedRunPanel(ctl)
    qtbot.addWidget(panel)
    run(ctl)
    assert panel.stop_button.isEnabled()
    assert panel.pause_button.text() == "Pause (F8)"
    qtbot.waitUntil(lambda: panel.countdown.text() == "1:59", timeout=3000)
    assert panel.step_bar.value() > 0
    with qtbot.waitSignal(panel.cue_given, timeout=1000) as got:
        panel.skip_button.click()
    assert got.args == [1]
    assert "#fff4d6" in panel.card.styleSheet()
    qtbot.waitUntil(lambda: "#fff4d6" not in panel.card.styleSheet(), timeout=3000)


def test_buttons_follow_the_state(qtbot, ctl):
    panel = GuidedRunPanel(ctl)
    qtbot.addWidget(panel)
    run(ctl)
    panel.pause_button.click()
    assert ctl.state is SessionState.PAUSED
    assert panel.pause_button.text() == "Resume (F8)"
    ctl.estop()
    assert panel.start_button.text() == "Reset"
    assert panel.start_button.isEnabled()
    assert not panel.up_button.isEnabled()
    panel.start_button.click()
    assert ctl.state is SessionState.READY
    assert ctl.test_link.names()[-1] == "reset"


def test_a_session_stopped_before_the_programs_end_says_stopped_not_complete(qtbot, ctl):
    """Stop pressed in step 1: the session is recorded as stopped, and the panel says so
    (a practitioner must not read "Session complete." for a treatment cut short)."""
    panel = GuidedRunPanel(ctl)
    qtbot.addWidget(panel)
    run(ctl)
    panel.stop_button.click()
    ctl.test_link.status_received.emit(status(DeviceState.IDLE, True))
    qtbot.waitUntil(lambda: ctl.state is SessionState.COMPLETE, timeout=3000)
    assert "Stopped" in panel.state.text()
    assert "Complete" not in panel.state.text()
    assert panel.hint.text().startswith("Session stopped before the program's end")
    assert panel.start_button.text() == "New session"


def test_intensity_buttons_step_the_target(qtbot, ctl):
    panel = GuidedRunPanel(ctl)
    qtbot.addWidget(panel)
    assert panel.target.text() == "200 µA"
    panel.down_button.click()
    assert panel.target.text() == "190 µA"


def test_limits_panel_names_the_binding_layer_and_warns_on_density(qtbot, ctl):
    panel = LimitsPanel(ctl)
    qtbot.addWidget(panel)
    assert "binds" in panel._value[LimitLayer.STEP].text()  # platysma step 200 µA
    ctl.set_client_limit(150.0)
    assert "binds" in panel._value[LimitLayer.CLIENT].text()
    assert "binds" not in panel._value[LimitLayer.STEP].text()
    assert panel.allowed.text() == "150 µA"
    assert panel.explanation.text() == "150 µA is within the client's own limit 150 µA"
    assert panel.output.text() == "off"
    ctl.set_electrode_area(0.1)
    panel.refresh()
    assert panel.density.text() == "1500 µA/cm²"
    assert panel.density_warning.text().startswith(
        "Above the warning threshold of 500 µA/cm² for a 0.1 cm² electrode"
    )
    run(ctl)
    panel.refresh()
    assert panel.output.text() == "150 µA commanded"


def test_zones_text():
    assert zones_text(("procerus", "frontalis_l")) == "procerus, frontalis (left)"
    assert zones_text(()) == "chosen on the face map"


def test_hints_say_what_is_missing_and_echo_refusals(qtbot):
    link = FakeLink()
    c = controller_on(link, tick_ms=50)
    panel = GuidedRunPanel(c)
    qtbot.addWidget(panel)
    assert panel.hint.text() == (
        "Before starting: choose a client; choose a program; "
        "connect the device; place the probes on the skin "
        "(no contact)."
    )
    link.connect_device(INFO)
    c.choose_client("c1", screening_passed=True)
    assert "choose a client" not in panel.hint.text()
    c.load_program(load_program("eye_area"))
    link.status_received.emit(status(DeviceState.IDLE, True))
    assert panel.hint.text() == "Ready: press Start."
    assert panel.next_step.text() == "Next: Brow: corrugator supercilii"
    panel.up_button.click()  # already at the step's 100 µA
    assert panel.hint.text().startswith("At the limit: program step 100 µA")
    c.shutdown()


# --------------------------------------------------------------------------- the editor


def test_one_settings_editor_serves_the_bench_and_the_studio(qtbot):
    from app.ui.output_panel import OutputPanel
    from app.ui.output_settings import OutputSettingsEditor
    from app.ui.trainer.studio import WaveformStudio

    panel, studio = OutputPanel(), WaveformStudio()
    qtbot.addWidget(panel)
    qtbot.addWidget(studio)
    try:
        labels = {}
        for name, w in (("bench", panel), ("studio", studio)):
            assert isinstance(w.editor, OutputSettingsEditor)
            form = w.editor.form
            labels[name] = [
                form.labelForField(f).text()
                for f in (w.editor.waveform, w.editor.amplitude, w.editor.flip)
            ]
        assert labels["bench"] == ["Waveform", "Intensity", "Flip every"]
        assert labels["studio"] == ["Shape", "Amplitude", "Flip every"]
        # each screen's own rows sit in the editor's form, aligned with its rows
        assert panel.editor.form.indexOf(panel.limit_label) >= 0
        assert studio.editor.form.indexOf(studio.load) >= 0
        assert panel.settings().polarity is Polarity.ALTERNATING
        assert studio.current_settings().polarity is Polarity.BIPHASIC
        s = OutputSettings(Waveform.SINE, 37.5, 220.0, Polarity.NEGATIVE, 4.5, 2.5)
        panel.set_settings(s)
        studio.set_controls(s)
        assert panel.settings() == studio.current_settings() == s
    finally:
        studio.shutdown()


def test_the_editor_enables_flip_for_alternating_only_and_takes_the_device_bounds(qtbot):
    import dataclasses

    from app.ui.output_settings import OutputSettingsEditor

    e = OutputSettingsEditor(polarity=Polarity.POSITIVE)
    qtbot.addWidget(e)
    assert not e.flip.isEnabled()
    e.polarity.setCurrentIndex(e.polarity.findData(Polarity.ALTERNATING))
    assert e.flip.isEnabled()
    e.set_device(dataclasses.replace(INFO, min_frequency_hz=0.01, max_frequency_hz=500.0))
    assert (e.frequency.minimum(), e.frequency.maximum()) == (0.1, 500.0)
    assert e.amplitude.maximum() == min(600.0, INFO.max_current_ua)
    e.frequency.setValue(900.0)
    assert e.settings().frequency_hz == 500.0


def test_a_number_typed_above_the_limit_is_kept_named_and_never_applied(qtbot):
    """One number field for the bench's manual output and the studio: typing "500" where
    the clinic maximum allows 150 µA leaves "500 µA" on screen (a plain spin box dropped
    the last digit: 50 µA), says so naming the limit, and Apply/Start send nothing."""
    from PySide6.QtCore import Qt

    from app.ui.output_panel import OutputPanel
    from app.ui.trainer.studio import WaveformStudio

    panel, studio = OutputPanel(), WaveformStudio()
    qtbot.addWidget(panel)
    qtbot.addWidget(studio)
    try:
        panel.set_limits(None, 150.0, "clinic maximum")
        studio.set_amplitude_cap(150.0, "clinic maximum")
        for w in (panel, studio):
            w.show()
            field = w.editor.amplitude
            before = field.value()
            field.setFocus()
            field.selectAll()
            qtbot.keyClicks(field, "500")
            assert field.text() == "500 µA"
            qtbot.keyClick(field, Qt.Key.Key_Return)  # Enter (and leaving) keeps it
            assert field.text() == "500 µA"
            assert field.value() == before  # never a number the field does not allow
            label = w.editor.form.labelForField(field).text()
            want = f"{label}: 500 µA is above the limit of 150 µA (clinic maximum)"
            assert w.editor.problem() == want
            assert w.editor.problem_label.isVisibleTo(w)
            assert w.editor.problem_label.text() == want
        sent = []
        panel.apply_requested.connect(sent.append)
        panel.start_requested.connect(lambda: sent.append("start"))
        panel.apply_button.setEnabled(True)
        panel.start_button.setEnabled(True)
        panel.apply_button.click()
        assert "Not applied: Intensity: 500 µA is above the limit" in panel.message.text()
        panel.start_button.click()
        assert "Not started: Intensity: 500 µA is above the limit" in panel.message.text()
        assert sent == []
        # corrected: the refusal is no longer true and goes
        panel.editor.amplitude.selectAll()
        qtbot.keyClicks(panel.editor.amplitude, "120")
        qtbot.keyClick(panel.editor.amplitude, Qt.Key.Key_Return)
        assert panel.editor.problem() == ""
        assert panel.message.text() == ""
        panel.editor.amplitude.selectAll()
        qtbot.keyClicks(panel.editor.amplitude, "500")
        qtbot.keyClick(panel.editor.amplitude, Qt.Key.Key_Return)
        said = []
        studio.message.connect(said.append)
        assert not studio.apply()
        studio.start()
        assert said == [
            "Not applied: Amplitude: 500 µA is above the limit of 150 µA (clinic maximum).",
            "Not started: Amplitude: 500 µA is above the limit of 150 µA (clinic maximum).",
        ]
        # "1e9" is a number too: kept and named, not read as 19
        field = panel.editor.frequency
        field.setFocus()
        field.selectAll()
        qtbot.keyClicks(field, "1e9")
        assert field.text() == "1e9 Hz"
        assert "Frequency: 1e9 Hz is outside the allowed 0.1–2000 Hz" in panel.editor.problem()
        # a step of the arrows, or a value set by the program, puts a number in range back
        field.setValue(20.0)
        panel.editor.amplitude.stepBy(1)
        assert panel.editor.problem() == ""
        assert not panel.editor.problem_label.isVisibleTo(panel)
    finally:
        studio.shutdown()
