"""The trainer's waveform studio: controls through the link, annotations equal to the
scope's measurements, overlays, presentation mode, replay, and live on the simulator.

Pictures are written to a temporary folder; with TRAINER_SCREENSHOTS=docs/images they
refresh the pictures in the documentation.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from app.device.fake import FakeDevice
from app.device.protocol import DeviceState, Fault, NakReason, SimOp, Status
from app.device.samples import SampleBlock
from app.device.waveform import OutputSettings, Polarity, Waveform, charge_per_phase_uc
from app.engine.authority import Driver, OutputAuthority
from app.scope.core.measure import measure_arrays
from app.scope.core.synthetic import SyntheticSource
from app.ui.style import STYLE_SHEET
from app.ui.trainer import WaveformStudio
from app.ui.trainer.plot import format_charge
from app.ui.trainer.studio import PRESENTATION_WINDOW_S

FS = 10_000.0


class FakeLink(FakeDevice):
    """The shared fake, connected and answering; ``sent`` lists calls without their ids."""

    def __init__(self) -> None:
        super().__init__(auto_answer=True, connected=True)

    @property
    def sent(self) -> list[tuple]:
        return [(c[0], *c[2:]) for c in self.calls]


def attach(studio: WaveformStudio, link) -> OutputAuthority:
    """Give the studio ``link`` and its output authority's studio port, as the console does."""
    authority = OutputAuthority(owner=Driver.STUDIO)
    authority.set_link(link)
    studio.set_link(link)
    studio.set_port(authority.port(Driver.STUDIO))
    return authority


def shots_dir(tmp_path: Path) -> Path:
    target = os.environ.get("TRAINER_SCREENSHOTS")
    folder = Path(target) if target else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def feed(
    studio: WaveformStudio,
    settings: OutputSettings,
    seconds: float,
    *,
    off_s: float = 0.0,
    noise: float = 0.4,
) -> None:
    """Synthetic device samples: ``off_s`` of output off, then ``seconds`` of output."""
    index = 0
    if off_s:
        n = int(off_s * FS)
        z = np.zeros(n, dtype=np.float32)
        studio.samples_received(
            SampleBlock(0, FS, z, z, z, np.zeros(n, np.uint8), np.zeros(n, bool))
        )
        index = n
    src = SyntheticSource(settings, sample_rate=FS, noise_ua=noise)
    for _ in range(int(seconds * FS) // 1000):
        b = src.next_block(1000)
        studio.samples_received(
            SampleBlock(
                b.first_index + index, FS, b.current_ua, b.voltage_v, b.level_ua, b.flags, b.sync
            )
        )


def feed_on(studio: WaveformStudio, source: SyntheticSource, blocks: int) -> None:
    """``blocks`` blocks of 1,000 samples from ``source``, numbered on from the studio's
    newest sample (a new source, as after a change of settings)."""
    base = studio.ring.newest + 1
    for _ in range(blocks):
        b = source.next_block(1000)
        studio.samples_received(
            SampleBlock(
                b.first_index + base, FS, b.current_ua, b.voltage_v, b.level_ua, b.flags, b.sync
            )
        )


def redraw(studio: WaveformStudio) -> None:
    studio._last_annotate = -math.inf
    studio._dirty = True
    studio.render_frame()


@pytest.fixture
def studio(qtbot):
    w = WaveformStudio()
    w.setStyleSheet(STYLE_SHEET)
    qtbot.addWidget(w)
    w.resize(1500, 900)
    w.show()
    yield w
    w.shutdown()


def test_apply_start_stop_and_load_go_through_the_link(qtbot, studio):
    link = FakeLink()
    attach(studio, link)
    s = OutputSettings(Waveform.SINE, 25.0, 150.0, Polarity.ALTERNATING, 3.0, 0.5)
    studio.set_controls(s)
    studio.start_button.click()
    assert link.sent == [("set_output", s)]  # START waits for the settings' ACK
    qtbot.waitUntil(lambda: len(link.sent) == 2, timeout=2000)
    assert link.sent == [("set_output", s), ("start_output",)]
    assert studio.settings == s
    studio.stop_button.click()
    assert link.sent[-1] == ("stop_output",)
    studio.set_load(10_000.0)
    assert link.sent[-1] == ("sim_control", SimOp.LOAD_RESISTOR, 10_000.0)
    assert "10 kΩ" in studio.title.text()
    studio.set_load(None)
    assert link.sent[-1] == ("sim_control", SimOp.LOAD_SKIN, 0.0)
    with pytest.raises(ValueError, match="not offered"):
        studio.set_load(2_000.0)


def test_start_and_stop_can_go_through_the_console_instead(studio):
    link = FakeLink()
    attach(studio, link)
    started, stopped = [], []
    studio.set_output_handlers(started.append, lambda: stopped.append(True))
    s = OutputSettings(Waveform.SQUARE, 5.0, 80.0, Polarity.BIPHASIC, 2.0, 1.0)
    studio.set_controls(s)
    studio.start_button.click()
    studio.stop_button.click()
    assert started == [s]
    assert stopped == [True]
    assert link.sent == []  # nothing went around the console
    assert studio.settings == s  # and the ideal is what was asked for
    studio.set_output_handlers(None, None)
    studio.stop_button.click()
    assert link.sent == [("stop_output",)]


def test_output_state_is_shown_from_the_device_status(studio):
    def status(state, compliance=False):
        return Status(state, 80.0, 100.0, 20_000.0, True, compliance, Fault(0), 0.0, 0)

    studio.status_received(status(DeviceState.RAMP_UP))
    assert "OUTPUT ON · 80 µA (ramping up)" in studio.output_state.text()
    studio.status_received(status(DeviceState.RUNNING, compliance=True))
    assert "current limited" in studio.output_state.text()
    studio.status_received(status(DeviceState.IDLE))
    assert "output off" in studio.output_state.text()
    studio.status_received(status(DeviceState.ESTOPPED))
    assert "EMERGENCY STOP" in studio.output_state.text()


def test_refused_settings_are_shown_in_words_and_output_is_not_started(qtbot, studio):
    link = FakeLink()
    link.refuse = {"set_output": (NakReason.OUT_OF_RANGE, "amplitude above 600 µA")}
    attach(studio, link)
    with qtbot.waitSignal(
        studio.message, timeout=2000, check_params_cb=lambda m: "refused" in m
    ) as got:
        studio.start()
    assert got.args[0] == (
        "Output not started: the device refused to take the settings (out of range: "
        "amplitude above 600 µA)."
    )
    assert studio.status.text() == got.args[0]
    assert [c[0] for c in link.sent] == ["set_output"]


def test_stop_cancels_a_start_still_waiting_for_its_settings(qtbot, studio):
    link = FakeLink()
    attach(studio, link)
    studio.start()
    studio.stop_output()
    assert studio.status.text() == "Output not started: output was stopped before it started."
    with qtbot.waitSignal(link.command_answered, timeout=2000):
        pass  # the settings' ACK arrives after the stop: it starts nothing
    assert [c[0] for c in link.sent] == ["set_output", "stop_output"]


def test_without_a_device_the_studio_says_so(studio):
    studio.start()
    assert "No device" in studio.status.text()
    studio.stop_output()
    assert "No device: cannot stop output" in studio.status.text()


@pytest.mark.parametrize(
    "settings",
    [
        OutputSettings(Waveform.SQUARE, 10.0, 100.0, Polarity.BIPHASIC, 2.0, 0.0),
        OutputSettings(Waveform.SINE, 20.0, 200.0, Polarity.POSITIVE, 2.0, 0.0),
    ],
    ids=["square-biphasic", "sine-positive"],
)
def test_annotations_on_the_plot_are_the_scope_measurements(studio, settings):
    studio.set_controls(settings)
    studio.apply()
    feed(studio, settings, 1.0)
    redraw(studio)
    a = studio.annotations
    assert a is not None
    # the same samples the plot shows, measured by the scope's code
    n = int(round(studio.window_seconds() * FS))
    w = studio.ring.latest(n + int(FS / settings.frequency_hz))
    marks = np.flatnonzero(w.sync[: int(FS / settings.frequency_hz) + 1])
    k = int(marks[-1])
    m = measure_arrays(w.current_ua[k : k + n], w.voltage_v[k : k + n], FS)
    assert a.period_s == pytest.approx(m["period_s"], rel=1e-9)
    assert a.charge_per_phase_uc == pytest.approx(m["charge_per_phase_uc"], rel=1e-9)
    assert a.net_charge_uc == pytest.approx(m["net_charge_uc"], rel=1e-9, abs=1e-9)
    # and they are the commanded values
    assert a.period_s == pytest.approx(1 / settings.frequency_hz, rel=2e-3)
    assert a.charge_per_phase_uc == pytest.approx(charge_per_phase_uc(settings), rel=0.02)
    # written on the plot
    plot = studio.plot
    assert plot.period_text.isVisible()
    assert f"{a.period_s * 1e3:.1f} ms" in plot.period_text.toPlainText()
    assert plot.pos_fill.isVisible()
    assert format_charge(a.charge_per_phase_uc) in plot.qpos_text.toPlainText()
    assert format_charge(a.charge_per_phase_uc).startswith("+")
    assert plot.net_text.isVisible()
    assert f"{a.amplitude_ua:.0f} µA" in plot.amp_text.toPlainText()
    assert f"{a.charge_per_phase_uc:.3f} µC" in studio.readout.text()
    # the dimension arrow spans one period
    t0, t1 = a.period_span
    assert t1 - t0 == pytest.approx(1 / settings.frequency_hz, rel=5e-3)


def test_ramp_and_flips_are_marked(studio):
    s = OutputSettings(Waveform.SQUARE, 5.0, 120.0, Polarity.ALTERNATING, 2.0, 1.0)
    studio.set_controls(s)
    studio.apply()
    studio.set_time_base(5.0)
    feed(studio, s, 4.5, off_s=0.6)
    redraw(studio)
    a = studio.annotations
    assert a.ramp is not None
    assert a.ramp.duration_s == pytest.approx(1.0, abs=0.12)
    assert len(a.flips) >= 1
    assert studio.plot.ramp_line.isVisible()
    assert studio.plot.flip_lines[0].isVisible()
    assert "polarity" in studio.plot.flip_lines[0].label.toPlainText()


def test_overlays_at_most_three_with_a_legend(studio, tmp_path):
    studio.set_time_base(0.5)
    shapes = [
        OutputSettings(Waveform.SQUARE, 10.0, 100.0, Polarity.ALTERNATING, 2.0),
        OutputSettings(Waveform.SINE, 10.0, 100.0, Polarity.BIPHASIC, 2.0),
        OutputSettings(Waveform.SQUARE, 5.0, 60.0, Polarity.BIPHASIC, 2.0),
    ]
    for s in shapes:
        studio.set_controls(s)
        studio.add_overlay_button.click()
    assert studio.overlay_list.count() == 3
    assert not studio.add_overlay_button.isEnabled()
    assert not studio.add_overlay(OutputSettings(Waveform.SINE, 2.0))
    assert "At most 3" in studio.status.text()
    redraw(studio)
    legend = studio.plot.legend_entries
    assert "Delivered" not in legend  # nothing delivered yet: not in the legend
    assert "Square 10 Hz alternating (flip 2 s)" in legend
    assert "Sine 10 Hz biphasic" in legend
    assert all(c.isVisible() for c in studio.plot.overlay_curves)
    y = studio.plot.overlay_curves[1].yData
    assert np.nanmax(y) == pytest.approx(100.0, rel=0.01)
    QApplication.processEvents()  # let the axes lay out their labels
    assert studio.grab().save(str(shots_dir(tmp_path) / "trainer_overlay.png"))
    studio.overlay_list.setCurrentRow(0)
    studio.remove_overlay_button.click()
    assert studio.overlay_list.count() == 2
    assert studio.add_overlay_button.isEnabled()
    studio.clear_overlays_button.click()
    redraw(studio)
    assert not any(c.isVisible() for c in studio.plot.overlay_curves)


def test_presentation_mode_f11_big_and_slow_and_esc_does_not_leave(qtbot, studio):
    studio.set_time_base(0.2)
    seen = []
    studio.presentation_changed.connect(seen.append)
    normal_font = studio.plot.period_text.textItem.font().pointSize()
    qtbot.keyClick(studio, Qt.Key.Key_F11)
    assert studio.presentation
    assert seen == [True]
    assert studio.window().isFullScreen()
    assert studio.window_seconds() == PRESENTATION_WINDOW_S
    assert not studio.controls.isVisible()
    assert studio.plot.period_text.textItem.font().pointSize() > normal_font
    qtbot.keyClick(studio, Qt.Key.Key_Escape)  # Esc belongs to the emergency stop
    assert studio.presentation
    studio.present_button.click()
    assert not studio.presentation
    assert seen == [True, False]
    assert studio.window_seconds() == 0.2
    assert studio.controls.isVisible()


def test_presentation_picture_of_a_half_hertz_wave(studio, tmp_path):
    s = OutputSettings(Waveform.SQUARE, 0.5, 150.0, Polarity.ALTERNATING, 4.0, 2.0)
    studio.set_controls(s)
    studio.apply()
    studio.set_presentation(True)
    feed(studio, s, 8.0, off_s=2.0, noise=0.8)
    redraw(studio)
    studio.window().setWindowState(Qt.WindowState.WindowNoState)  # offscreen: fixed size
    studio.resize(1600, 900)
    redraw(studio)
    a = studio.annotations
    assert a.ramp is not None
    assert a.period_s == pytest.approx(2.0, rel=0.01)
    QApplication.processEvents()
    path = shots_dir(tmp_path) / "trainer_presentation.png"
    assert studio.grab().save(str(path))
    assert QImage(str(path)).width() == 1600
    studio.set_presentation(False)


def test_replay_plays_scrubs_and_shows_events(qtbot, studio, tmp_path):
    s = OutputSettings(Waveform.SQUARE, 10.0, 100.0, Polarity.BIPHASIC, 2.0, 1.0)
    src = SyntheticSource(s, sample_rate=1000.0, noise_ua=0.3)
    b = src.next_block(20_000)  # 20 s at 1 kS/s
    t = 100.0 + np.arange(20_000) / 1000.0
    studio.set_time_base(1.0)
    assert studio.load_recording(
        t, b.current_ua, b.voltage_v, events=[(105.0, "intensity +10")], settings=s
    )
    assert studio.replay_bar.isVisible()
    assert "Replay" in studio.title.text()
    tl = studio.timeline
    assert tl.duration_s == pytest.approx(20.0)
    studio.seek(5.5)
    redraw(studio)
    x0, x1 = studio.plot.cplot.viewRange()[0]
    assert (x0, x1) == pytest.approx((4.5, 5.5), abs=1e-6)
    assert studio.plot.event_lines[0].isVisible()
    assert studio.plot.event_lines[0].value() == pytest.approx(5.0)
    assert studio.annotations.period_s == pytest.approx(0.1, rel=5e-3)
    QApplication.processEvents()
    assert studio.grab().save(str(shots_dir(tmp_path) / "trainer_replay.png"))
    studio.slider.setValue(5000)  # half way
    assert tl.position_s == pytest.approx(10.0)
    studio.set_speed(5)
    start = tl.position_s
    studio.play_button.click()
    assert studio.play_button.text() == "Pause"
    qtbot.waitUntil(lambda: tl.position_s >= start + 1.0, timeout=3000)
    studio.play_button.click()
    assert not tl.playing
    with pytest.raises(ValueError, match="×3"):
        studio.set_speed(3)
    studio.live_button.click()
    assert studio.recording is None
    assert not studio.replay_bar.isVisible()


def test_a_block_delivered_twice_is_stored_once(studio):
    s = OutputSettings(Waveform.SQUARE, 10.0, 100.0, Polarity.BIPHASIC, 2.0, 0.0)
    src = SyntheticSource(s, sample_rate=FS)
    first, second = src.next_block(500), src.next_block(500)
    for b in (first, first, second, second):
        studio.samples_received(b)
    assert studio.ring.total_received == 1000
    assert studio.ring.newest == 999


def test_bad_recording_is_refused_with_its_reason(studio):
    assert not studio.load_recording([0.0, 0.1, 0.2], [1.0, 2.0], [0.0, 0.0, 0.0])
    assert studio.recording is None
    assert "Cannot replay this recording" in studio.status.text()
    assert "same length" in studio.status.text()


def test_a_stored_recording_with_gap_markers_replays_with_the_gap(studio):
    from app.store.recording import assemble

    s = OutputSettings(Waveform.SQUARE, 10.0, 100.0, Polarity.BIPHASIC, 2.0, 0.0)
    src = SyntheticSource(s, sample_rate=1000.0)
    a = src.next_block(2000)
    src.skip(500)
    b = src.next_block(2000)
    rec = assemble([(blk.first_index, 1000.0, blk.current_ua, blk.voltage_v) for blk in (a, b)])
    assert np.isnan(rec.t_s).any()  # the store marks the gap with a NaN row
    assert studio.load_recording(
        rec.t_s, rec.current_ua, rec.voltage_v, sample_rate=rec.sample_rate
    )
    assert len(studio.recording) == 4500
    assert np.isnan(studio.recording.current_ua[2000:2500]).all()
    assert np.isfinite(studio.recording.current_ua[2500:]).all()


def test_messages_from_the_workspace_reach_the_status_line(studio):
    studio.message.emit("Session 7 has no recording.")
    assert studio.status.text() == "Session 7 has no recording."


@pytest.mark.slow
def test_live_on_the_simulator_into_a_resistor_and_the_skin_model(
    qtbot, studio, tmp_path, simulated_device
):
    link = simulated_device("--seed", "5", connect=False).link
    try:
        attach(studio, link)
        with qtbot.waitSignal(link.connected, timeout=5000):
            link.start()
        s = OutputSettings(Waveform.SQUARE, 20.0, 100.0, Polarity.BIPHASIC, 2.0, 0.0)
        studio.set_controls(s)
        studio.set_load(10_000.0)
        studio.start()

        def measured_output(expect_kohm):
            a = studio.annotations
            return (
                a is not None
                and math.isfinite(a.period_s)
                and a.amplitude_ua > 90
                and abs(a.measured["impedance_ohm"] / 1e3 - expect_kohm) < 0.5
            )

        qtbot.waitUntil(lambda: measured_output(10.0), timeout=8000)
        a = studio.annotations
        assert a.period_s == pytest.approx(0.05, rel=0.01)
        assert a.charge_per_phase_uc == pytest.approx(2.5, rel=0.05)
        assert abs(a.net_charge_uc) < 0.1
        studio.set_load(None)  # skin model: 2 kΩ + 20 kΩ ‖ 100 nF, about 20 kΩ at 20 Hz
        qtbot.waitUntil(
            lambda: (
                studio.annotations is not None
                and math.isfinite(studio.annotations.measured["impedance_ohm"])
                and studio.annotations.measured["impedance_ohm"] > 14_000
            ),
            timeout=8000,
        )
        QApplication.processEvents()
        assert studio.grab().save(str(shots_dir(tmp_path) / "trainer_studio.png"))
        link.stop_output()
    finally:
        studio.set_link(None)


def test_sign_flag_alternation_in_the_ideal(studio):
    """The live ideal follows the device's sign flag (ALTERNATING), like the scope's."""
    s = OutputSettings(Waveform.SQUARE, 10.0, 100.0, Polarity.ALTERNATING, 0.5, 0.0)
    studio.set_controls(s)
    studio.apply()
    studio.set_time_base(1.0)
    feed(studio, s, 1.5)
    redraw(studio)
    ideal = studio.plot.ideal_curve.yData
    assert np.nanmax(ideal) == pytest.approx(100.0)
    assert np.nanmin(ideal) == pytest.approx(-100.0)


@pytest.mark.parametrize(
    ("uc", "text"),
    [
        (2.5449, "+2.54 µC"),
        (150.32, "+150 µC"),
        (-0.04, "−0.0400 µC"),
        (1e-5, "0 µC"),
        (float("nan"), "—"),
    ],
)
def test_charge_is_written_with_three_significant_digits(uc, text):
    assert format_charge(uc) == text


def test_replay_event_labels_close_together_do_not_cover_each_other(studio):
    s = OutputSettings(Waveform.SQUARE, 10.0, 100.0, Polarity.BIPHASIC, 2.0, 0.0)
    b = SyntheticSource(s, sample_rate=1000.0, noise_ua=0.3).next_block(6000)
    t = np.arange(6000) / 1000.0
    events = [
        (0.9, "idle -> ready: client, screening, program, device and contact ready"),
        (1.0, "ready -> ramping_up: start"),
        (1.05, "step 1/3: frontalis"),
    ]
    studio.set_time_base(5.0)
    assert studio.load_recording(t, b.current_ua, b.voltage_v, events=events, settings=s)
    studio.seek(4.6)
    for _ in range(2):  # the net-charge box is placed with the annotations
        redraw(studio)
        QApplication.processEvents()
    labels = [line.label for line in studio.plot.event_lines[:3]]
    assert all(line.isVisible() for line in studio.plot.event_lines[:3])
    boxes = [lab.sceneBoundingRect() for lab in labels]
    assert studio.plot.net_text.isVisible()
    boxes.append(studio.plot.net_text.sceneBoundingRect())
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not boxes[i].intersects(boxes[j]), (i, j)


def test_a_cluster_of_events_is_summed_up_and_later_events_keep_their_labels(studio):
    """A practitioner's session opens with a burst of records (program, step, device,
    transitions): they are one label "(+N more)", and an event later on is still named."""
    s = OutputSettings(Waveform.SQUARE, 10.0, 100.0, Polarity.BIPHASIC, 2.0, 0.0)
    b = SyntheticSource(s, sample_rate=1000.0, noise_ua=0.3).next_block(6000)
    t = np.arange(6000) / 1000.0
    burst = [(0.5 + 0.01 * k, f"start-up record number {k}") for k in range(20)]
    events = burst + [(3.5, "step 2/3: zygomaticus major")]
    studio.set_time_base(5.0)
    assert studio.load_recording(t, b.current_ua, b.voltage_v, events=events, settings=s)
    studio.seek(4.6)
    for _ in range(2):
        redraw(studio)
        QApplication.processEvents()
    shown = {
        line.label.toPlainText(): line.label.sceneBoundingRect()
        for line in studio.plot.event_lines
        if line.isVisible() and line.label.toPlainText()
    }
    assert "step 2/3: zygomaticus major" in shown
    summed = [text for text in shown if text.endswith("more)")]
    assert summed
    named = len(shown) - 1
    assert sum(int(text.rsplit("+", 1)[1].split()[0]) for text in summed) == 20 - named
    boxes = list(shown.values()) + [studio.plot.net_text.sceneBoundingRect()]
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not boxes[i].intersects(boxes[j]), (i, j)


def test_on_a_short_screen_the_controls_scroll_and_nothing_is_cut_off(qtbot, studio, tmp_path):
    """A classroom projector of 1280 x 720: the measured figures stay reachable."""
    s = OutputSettings(Waveform.SQUARE, 10.0, 100.0, Polarity.BIPHASIC, 2.0, 0.0)
    studio.set_controls(s)
    studio.apply()
    feed(studio, s, 1.0)
    studio.resize(1280, 600)
    redraw(studio)
    QApplication.processEvents()
    area = studio.controls_scroll
    bar = area.verticalScrollBar()
    qtbot.waitUntil(
        lambda: studio.controls.minimumSizeHint().height() > area.viewport().height(), timeout=2000
    )  # it does not fit...
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=2000)  # ...so it scrolls
    area.ensureWidgetVisible(studio.readout)
    QApplication.processEvents()
    top_left = studio.readout.mapTo(area.viewport(), studio.readout.rect().topLeft())
    assert 0 <= top_left.y() < area.viewport().height()
    assert studio.grab().save(str(shots_dir(tmp_path) / "trainer_short_screen.png"))


# ------------------------------------------------------------- issue 16: the studio
@pytest.mark.parametrize("latched", [DeviceState.ESTOPPED, DeviceState.WATCHDOG, DeviceState.FAULT])
def test_reset_after_an_emergency_stop_goes_through_the_studio_port(
    qtbot, studio, monkeypatch, latched
):
    link = FakeLink()
    authority = attach(studio, link)
    through_port = []
    real_reset = authority.reset
    monkeypatch.setattr(authority, "reset", lambda: through_port.append(True) or real_reset())
    link.emit_status(DeviceState.RUNNING)
    assert not studio.reset_button.isVisible()
    link.emit_status(latched)  # Esc in the main window, a silent link or a fault
    assert studio.reset_button.isVisible()
    assert not studio.start_button.isEnabled()  # Start waits for Reset (as on the bench)
    studio.reset_button.click()
    assert through_port == [True]  # the port, not the link directly
    assert link.sent[-1] == ("reset",)
    assert "Reset sent" in studio.status.text()
    link.emit_status(DeviceState.IDLE)
    assert not studio.reset_button.isVisible()
    assert studio.start_button.isEnabled()
    # and output can be started again, through the authority
    s = OutputSettings(Waveform.SQUARE, 10.0, 100.0, Polarity.BIPHASIC, 2.0, 1.0)
    studio.set_controls(s)
    studio.start_button.click()
    qtbot.waitUntil(lambda: link.sent[-1] == ("start_output",), timeout=2000)


def test_reset_without_a_device_says_so(studio):
    studio.status_received(
        Status(DeviceState.ESTOPPED, 0.0, 0.0, 20_000.0, True, False, Fault(0), 0.0, 0)
    )
    assert studio.reset_button.isVisible()
    studio.reset_button.click()
    assert "No device: cannot reset the device" in studio.status.text()


def test_presentation_keeps_a_time_base_control_scaled_to_the_frequency(qtbot, studio):
    studio.set_time_base(0.2)
    s = OutputSettings(Waveform.SQUARE, 10.0, 150.0, Polarity.ALTERNATING, 2.0, 0.5)
    studio.set_controls(s)
    studio.apply()
    assert not studio.present_time_base.isVisible()
    qtbot.keyClick(studio, Qt.Key.Key_F11)
    assert studio.presentation
    assert not studio.controls.isVisible()
    assert studio.present_time_base.isVisible()
    assert studio.window_seconds() == pytest.approx(0.5)  # five periods of 10 Hz
    assert studio.present_time_base.currentData() == pytest.approx(0.5)
    studio.present_time_base.setCurrentIndex(studio.present_time_base.findData(2.0))
    assert studio.window_seconds() == pytest.approx(2.0)
    assert studio.time_base.currentData() == pytest.approx(2.0)
    feed(studio, s, 3.0)
    redraw(studio)
    x0, x1 = studio.plot.cplot.viewRange()[0]
    assert x1 - x0 == pytest.approx(2.0, rel=0.01)
    studio.present_button.click()
    assert not studio.presentation
    assert not studio.present_time_base.isVisible()
    assert studio.window_seconds() == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("f", "seconds"), [(0.5, 10.0), (2.0, 5.0), (10.0, 0.5), (100.0, 0.05), (0.1, 20.0)]
)
def test_presentation_time_base_is_about_five_periods(studio, f, seconds):
    studio.settings = OutputSettings(Waveform.SINE, f, 100.0, Polarity.BIPHASIC, 2.0, 0.0)
    assert studio.presentation_time_base() == seconds


def test_replay_hides_the_live_overlays(studio):
    studio.set_time_base(1.0)
    studio.add_overlay(OutputSettings(Waveform.SINE, 3.0, 400.0, Polarity.BIPHASIC, 2.0))
    redraw(studio)
    assert studio.plot.overlay_curves[0].isVisible()
    s = OutputSettings(Waveform.SQUARE, 10.0, 100.0, Polarity.BIPHASIC, 2.0, 0.0)
    b = SyntheticSource(s, sample_rate=1000.0).next_block(5000)
    assert studio.load_recording(np.arange(5000) / 1000.0, b.current_ua, b.voltage_v, settings=s)
    studio.seek(3.0)
    redraw(studio)
    assert not any(c.isVisible() for c in studio.plot.overlay_curves)
    assert "Sine 3 Hz biphasic" not in studio.plot.legend_entries
    assert max(abs(v) for v in studio.plot.cplot.viewRange()[1]) < 400.0  # scaled to 100 µA
    studio.close_recording()
    redraw(studio)
    assert studio.plot.overlay_curves[0].isVisible()


def test_freeze_keeps_the_annotations_of_the_sweep_on_screen(studio):
    """Every drawn sweep is drawn with the annotations computed on its own samples: a
    newer sweep is never paired with older figures, and freezing keeps the pair."""
    s = OutputSettings(Waveform.SQUARE, 10.0, 100.0, Polarity.BIPHASIC, 2.0, 0.0)
    studio.set_controls(s)
    studio.apply()
    studio.set_time_base(0.5)
    feed(studio, s, 1.0)
    redraw(studio)  # annotated: 100 µA
    assert studio.annotations.amplitude_ua == pytest.approx(100.0, rel=0.05)
    louder = OutputSettings(Waveform.SQUARE, 10.0, 300.0, Polarity.BIPHASIC, 2.0, 0.0)
    feed_on(studio, SyntheticSource(louder, sample_rate=FS, noise_ua=0.4), 10)
    drawn = studio.frames_drawn
    studio._annotate_gap = 10.0  # the last annotation was costly: the next sweep waits
    studio.render_frame()
    assert studio.frames_drawn == drawn  # not drawn without its annotations
    assert studio.annotations.amplitude_ua == pytest.approx(100.0, rel=0.05)
    studio._annotate_gap = 0.0
    studio.render_frame()  # drawn now, annotated on the very samples drawn
    assert studio.frames_drawn == drawn + 1
    t0, fs, cur, volt = studio._drawn
    assert np.nanmax(np.abs(cur)) == pytest.approx(300.0, rel=0.05)
    assert studio.annotations.amplitude_ua == pytest.approx(300.0, rel=0.05)
    studio.freeze_button.click()
    assert studio.frozen
    drawn_then, annotations_then = studio._drawn, studio.annotations
    studio._dirty = True
    studio.render_frame()
    assert studio._drawn is drawn_then
    assert studio.annotations is annotations_then


def test_a_change_while_running_is_held_for_a_pause_between_pulses(qtbot, studio):
    link = FakeLink()
    attach(studio, link)
    s = OutputSettings(Waveform.SQUARE, 2.0, 100.0, Polarity.POSITIVE, 2.0, 0.0)
    studio.set_controls(s)
    studio.start_button.click()
    qtbot.waitUntil(lambda: ("start_output",) in link.sent, timeout=2000)
    feed(studio, s, 1.0)  # output on, period starts marked, the newest just in
    assert studio._output_on
    louder = OutputSettings(Waveform.SQUARE, 2.0, 200.0, Polarity.POSITIVE, 2.0, 0.0)
    studio.set_controls(louder)
    sent = len(link.sent)
    assert studio.apply()
    # 1.0 s into 2 Hz (period starts at 0, 0.5, 1.0 s), arriving 8 ms later (the link):
    # the next rest half's middle is at 1.375 s of device time, 367 ms from now; not
    # sent yet, the ideal unchanged
    assert len(link.sent) == sent
    assert studio.settings == s
    assert "next pause between pulses" in studio.status.text()
    assert 250 < studio._apply_timer.remainingTime() <= 367
    qtbot.waitUntil(lambda: len(link.sent) == sent + 1, timeout=2000)
    assert link.sent[-1] == ("set_output", louder)
    assert studio.settings == louder
    # the device took it: the line says it landed, not that it is still coming
    qtbot.waitUntil(lambda: "Applied between pulses" in studio.status.text(), timeout=2000)
    assert "next pause" not in studio.status.text()
    # a held change is dropped by a stop
    studio.set_controls(s)
    studio.apply()
    assert studio._pending_apply == s
    studio.stop_button.click()
    assert studio._pending_apply is None
    assert link.sent[-1] == ("stop_output",)


def test_replay_of_the_start_ramp_does_not_read_a_wrong_frequency(studio, tmp_path):
    s = OutputSettings(Waveform.SQUARE, 10.0, 200.0, Polarity.BIPHASIC, 2.0, 2.0)
    src = SyntheticSource(s, sample_rate=1000.0, noise_ua=0.3)
    b = src.next_block(5500)  # the recording starts with the output (the ideal too)
    cur, volt = b.current_ua, b.voltage_v
    assert studio.load_recording(np.arange(cur.size) / 1000.0, cur, volt, settings=s)
    studio.set_time_base(1.0)
    studio.seek(1.0)  # the first second: the start of the 2 s ramp, no settled part
    redraw(studio)
    assert studio.annotations.ramping
    assert "Frequency" in studio.readout.text()
    assert "ramping" in studio.readout.text()
    assert "Hz</b>" not in studio.readout.text().split("Frequency")[1].split("</tr>")[0]
    assert studio.grab().save(str(shots_dir(tmp_path) / "trainer_replay_ramping.png"))
    studio.set_time_base(5.0)
    studio.seek(5.5)  # ramp and settled output in view: measured after the ramp
    redraw(studio)
    assert not studio.annotations.ramping
    assert studio.annotations.frequency_hz == pytest.approx(10.0, rel=0.01)
    assert studio.grab().save(str(shots_dir(tmp_path) / "trainer_replay_ramp.png"))


def test_a_shaded_pulse_unlike_the_others_is_labelled_with_its_own_charge():
    from app.ui.trainer.plot import shaded_charge

    assert shaded_charge(5.0, 5.1) == 5.0  # the scope's figure when the pulse holds it
    assert shaded_charge(25.6, 12.1) == pytest.approx(12.1)  # never a whole phase's
    assert shaded_charge(5.0, -2.0) == pytest.approx(2.0)
    assert shaded_charge(5.0, float("nan")) == 5.0
    assert shaded_charge(float("nan"), 3.0) == 3.0


def test_presentation_at_1280_by_800_keeps_the_plot_large_and_every_button_on_screen(
    qtbot, studio, tmp_path
):
    """A projector at 1280 × 800, latched (Reset offered too): the title keeps a line of
    its own (not a tall column beside the buttons), the buttons fit across, and the plot
    keeps most of the height."""
    s = OutputSettings(Waveform.SQUARE, 5.0, 150.0, Polarity.BIPHASIC, 2.0, 0.0)
    studio.set_controls(s)
    studio.apply()
    studio.reset_button.setVisible(True)
    studio.set_presentation(True)
    feed(studio, s, 3.0)
    studio.window().setWindowState(Qt.WindowState.WindowNoState)  # offscreen: fixed size
    studio.resize(1280, 800)
    redraw(studio)
    QApplication.processEvents()
    assert studio.title.height() <= 90  # one or two lines of 20 pt
    right_edge = studio.present_button.mapTo(studio, studio.present_button.rect().topRight())
    assert right_edge.x() <= studio.width()
    assert studio.plot.height() >= 500
    assert studio.grab().save(str(shots_dir(tmp_path) / "trainer_presentation_1280.png"))
    studio.set_presentation(False)


def test_a_live_sweep_already_on_screen_is_not_drawn_again(studio):
    """A steady wave starts each sweep on a period start, so the picture stands still:
    once drawn, sweeps within a pixel of it are neither drawn nor annotated again (less
    CPU for the same screen); a change of the wave is drawn at once."""
    s = OutputSettings(Waveform.SQUARE, 10.0, 100.0, Polarity.BIPHASIC, 2.0, 0.0)
    studio.set_controls(s)
    studio.apply()
    studio.set_time_base(0.5)
    src = SyntheticSource(s, sample_rate=FS, noise_ua=0.05)

    def sweep(source) -> None:
        for _ in range(6):
            studio.samples_received(source.next_block(1000))
        studio._annotate_gap = 0.0
        studio.render_frame()

    sweep(src)
    drawn, annotated = studio.frames_drawn, studio.annotations
    unchanged = studio.frames_unchanged
    for _ in range(3):
        sweep(src)
    assert drawn >= 1
    assert studio.frames_drawn == drawn
    assert studio.frames_unchanged == unchanged + 3
    assert studio.annotations is annotated  # not computed again either
    louder = OutputSettings(Waveform.SQUARE, 10.0, 130.0, Polarity.BIPHASIC, 2.0, 0.0)
    feed_on(studio, SyntheticSource(louder, sample_rate=FS, noise_ua=0.05), 6)
    studio._annotate_gap = 0.0
    studio.render_frame()
    assert studio.frames_drawn == drawn + 1
    assert studio.annotations.amplitude_ua > annotated.amplitude_ua


def test_the_live_mark_blinks_while_samples_arrive_even_when_the_picture_stands_still(studio):
    """A steady wave is not drawn again, so the studio says it is live another way: a
    mark blinking while live samples arrive; it says so when they stop, or when frozen."""
    s = OutputSettings(Waveform.SQUARE, 10.0, 100.0, Polarity.BIPHASIC, 2.0, 0.0)
    src = SyntheticSource(s, sample_rate=FS, noise_ua=0.05)
    studio._show_live_mark(1.0)
    assert studio.live_mark.text() == "no live samples"
    studio.samples_received(src.next_block(1000))
    t = studio._newest_at
    marks = {studio._show_live_mark(t + k * 0.25) or studio.live_mark.text() for k in range(4)}
    assert marks == {"● live", "○ live"}
    studio._show_live_mark(t + 2.0)
    assert studio.live_mark.text() == "no live samples"
    studio.freeze_button.click()
    studio._show_live_mark(t + 0.1)
    assert studio.live_mark.text() == "frozen"


def test_a_change_while_running_never_shows_old_and_new_wave_in_one_sweep(qtbot, studio):
    """Apply while the output runs: the picture keeps its last sweep of the old wave
    until a whole sweep of the new one has arrived, so no sweep, and no figure of the
    Measured panel, is of the two waves at once."""
    link = FakeLink()
    attach(studio, link)
    old = OutputSettings(Waveform.SQUARE, 10.0, 100.0, Polarity.BIPHASIC, 2.0, 0.0)
    studio.set_controls(old)
    studio.start_button.click()
    qtbot.waitUntil(lambda: ("start_output",) in link.sent, timeout=2000)
    studio.set_time_base(0.5)
    source = SyntheticSource(old, sample_rate=FS, noise_ua=0.05)
    for _ in range(10):
        studio.samples_received(source.next_block(1000))
    redraw(studio)
    assert studio.annotations.frequency_hz == pytest.approx(10.0, rel=0.02)
    faster = OutputSettings(Waveform.SQUARE, 25.0, 100.0, Polarity.BIPHASIC, 2.0, 0.0)
    studio.set_controls(faster)
    assert studio.apply()
    qtbot.waitUntil(lambda: ("set_output", faster) in link.sent, timeout=2000)
    qtbot.waitUntil(lambda: studio._settle_index is not None, timeout=2000)  # the ACK
    source = SyntheticSource(faster, sample_rate=FS, noise_ua=0.05)
    seen = []
    base = studio.ring.newest + 1  # the new wave follows the old without a gap
    for _ in range(80):  # 0.8 s of the new wave, 10 ms at a time, a sweep tried after each
        b = source.next_block(100)
        studio.samples_received(
            SampleBlock(
                b.first_index + base, FS, b.current_ua, b.voltage_v, b.level_ua, b.flags, b.sync
            )
        )
        redraw(studio)
        seen.append(round(studio.annotations.frequency_hz, 1))
    mixed = [f for f in seen if abs(f - 10.0) > 0.2 and abs(f - 25.0) > 0.5]
    assert not mixed, str(seen)
    assert seen[-1] == pytest.approx(25.0, rel=0.02)
    assert seen.count(seen[0]) < len(seen)  # the new wave was shown well within the 0.8 s
