"""The scope widget (pytest-qt, offscreen): ingest, repaint, triggers, history, cursors,
mask signal, export, replay; and the benchmark harness."""

from __future__ import annotations

import time

import numpy as np
import pytest

from app.device.samples import SampleBlock
from app.device.waveform import OutputSettings, Polarity, Waveform
from app.scope.core.capture import read_csv
from app.scope.core.measure import measure
from app.scope.core.synthetic import RCLoad, SyntheticSource
from app.scope.core.trigger import TriggerMode, TriggerSource
from app.scope.widget import TIME_BASES, ScopeWidget

FS = 10_000.0
SQUARE = OutputSettings(Waveform.SQUARE, 50.0, 100.0, Polarity.BIPHASIC, 2.0, 0.0)


@pytest.fixture
def scope(qtbot):
    w = ScopeWidget()
    qtbot.addWidget(w)
    w.resize(1200, 700)
    w.show()
    qtbot.waitExposed(w)
    w.set_reference(SQUARE)
    return w


def curve_y(curve) -> np.ndarray:
    return np.asarray(curve.getData()[1])


def feed(
    w: ScopeWidget, src: SyntheticSource, samples: int, block: int = 167, render: bool = True
) -> None:
    for b in src.blocks(samples, block):
        w.append(b)
        if render:
            w.render_frame()


def test_time_bases_are_1_2_5_from_100us_to_10s():
    assert TIME_BASES[0] == pytest.approx(100e-6)
    assert TIME_BASES[-1] == pytest.approx(10.0)
    assert len(TIME_BASES) == 16


def test_append_then_the_timer_repaints_the_curves(qtbot, scope):
    src = SyntheticSource(SQUARE, FS, noise_ua=0.5)
    for b in src.blocks(3000, 167):
        scope.append(b)  # ingest only: drawing is the timer's job
    qtbot.waitUntil(lambda: curve_y(scope.current_curve).size > 0, timeout=3000)
    y = curve_y(scope.current_curve)
    # 50 µA/div default: the ±100 µA square spans about ±2 divisions
    assert np.nanmax(y) == pytest.approx(2.0, abs=0.1)
    assert np.nanmin(y) == pytest.approx(-2.0, abs=0.1)
    assert curve_y(scope.voltage_curve).size > 0
    assert curve_y(scope.ref_curve).size > 0
    assert scope.shown is not None
    assert scope.shown.triggered


def test_drawn_points_are_bounded_by_pixel_columns_and_keep_a_spike(scope):
    scope.set_time_base(0.5)  # 5 s window: 50,000 samples
    src = SyntheticSource(SQUARE, FS, noise_ua=0.5, spikes={30_000: 300.0})
    scope.set_roll(True)
    feed(scope, src, 50_000, block=5000, render=False)
    scope.render_frame()
    y = curve_y(scope.current_curve)
    assert y.size <= 2 * scope._columns()
    assert np.nanmax(y) * scope.i_scale > 350.0  # the one-sample spike (100 + 300 µA)


def test_roll_mode_shows_the_newest_samples_and_gaps(scope):
    scope.set_time_base(1e-3)  # 10 ms = 100 samples: raw samples, no envelope
    scope.set_roll(True)
    src = SyntheticSource(SQUARE, FS)
    feed(scope, src, 500, render=False)
    src.skip(20)  # lost on the link
    feed(scope, src, 40, render=False)
    scope.render_frame()
    x, y = (np.asarray(a) for a in scope.current_curve.getData())
    assert x.max() <= 0.0
    assert x.min() >= -0.0101
    assert np.isnan(y).sum() == 20  # the gap is drawn as a gap, never interpolated
    assert scope.status_label.text() == "ROLL"


def test_normal_and_single_trigger_modes(scope):
    scope.set_trigger(mode=TriggerMode.NORMAL, source=TriggerSource.CURRENT, level=500.0)
    src = SyntheticSource(SQUARE, FS)
    feed(scope, src, 3000)
    assert scope.shown is None  # level above the signal: Normal never draws
    assert scope.status_label.text() == "WAITING"
    scope.set_trigger(mode=TriggerMode.SINGLE, level=0.0)
    feed(scope, src, 3000)
    first = scope.shown
    assert first is not None
    assert first.triggered
    assert scope.status_label.text().startswith("STOPPED")
    feed(scope, src, 3000)
    assert scope.shown is first  # Single: stays until re-armed
    scope.arm()
    feed(scope, src, 3000)
    assert scope.shown is not first


def test_dragging_the_trigger_level_sets_it_in_microamps(scope):
    scope.set_trigger(source=TriggerSource.CURRENT)
    scope.set_channel("current", scale=20.0, offset=10.0)
    scope.trigger_line.setValue(2.0)  # two divisions above the centre line
    assert scope.trigger.level == pytest.approx(50.0)
    assert scope.acquirer.settings.level == pytest.approx(50.0)
    assert scope.trigger_line.isVisible()


def test_typed_trigger_level_and_the_t_line_are_bound_both_ways(qtbot, scope):
    from PySide6.QtCore import Qt

    scope.set_trigger(source=TriggerSource.CURRENT)
    scope.set_channel("current", scale=20.0, offset=10.0)
    assert scope.level_spin.isEnabled()
    assert scope.level_spin.suffix() == " µA"
    # typed: select the text, type a level, Enter
    scope.level_spin.lineEdit().selectAll()
    qtbot.keyClicks(scope.level_spin.lineEdit(), "70")
    qtbot.keyClick(scope.level_spin.lineEdit(), Qt.Key.Key_Return)
    assert scope.trigger.level == pytest.approx(70.0)
    assert scope.acquirer.settings.level == pytest.approx(70.0)
    assert scope.trigger_line.value() == pytest.approx(3.0)  # (70 - 10) / 20 divisions
    # dragged: the box follows the line
    scope.trigger_line.setValue(-1.5)
    assert scope.trigger.level == pytest.approx(-20.0)
    assert scope.level_spin.value() == pytest.approx(-20.0)
    # voltage source: the box is in volts; Sync: no level
    scope.set_trigger(source=TriggerSource.VOLTAGE, level=1.5)
    assert scope.level_spin.suffix() == " V"
    assert scope.level_spin.value() == pytest.approx(1.5)
    scope.set_trigger(source=TriggerSource.SYNC)
    assert not scope.level_spin.isEnabled()


def test_holdoff_box_sets_the_trigger_holdoff(qtbot, scope):
    scope.holdoff_spin.setValue(50.0)
    assert scope.trigger.holdoff_s == pytest.approx(0.05)
    assert scope.acquirer.settings.holdoff_s == pytest.approx(0.05)
    scope.set_trigger(mode=TriggerMode.NORMAL, pre_fraction=0.0)
    shown = []
    src = SyntheticSource(SQUARE, FS)  # a period start every 20 ms
    for b in src.blocks(20_000, 100):
        scope.append(b)
        scope.render_frame()
        if scope.shown is not None and (not shown or scope.shown is not shown[-1]):
            shown.append(scope.shown)
    trig = [c.start_index + c.trigger_offset for c in shown]
    assert len(trig) > 5
    assert np.all(np.diff(trig) >= 500)  # 50 ms holdoff at 10 kS/s
    scope.set_trigger(holdoff_s=0.0)
    assert scope.holdoff_spin.value() == 0.0


def test_freeze_keeps_32_captures_to_step_through_and_measure(qtbot, scope):
    src = SyntheticSource(SQUARE, FS, noise_ua=0.5)
    feed(scope, src, 1000, block=1000)
    for _ in range(40):
        feed(scope, src, 1000, block=1000)  # 100 ms window: one new capture per frame
    assert len(scope.history) == 32
    with qtbot.waitSignal(scope.measurements_updated, timeout=1000) as got:
        scope.freeze(True)
    assert got.args[0]["frequency_hz"] == pytest.approx(50.0, rel=0.005)
    assert scope.run_button.text() == "Run"
    newest = scope.displayed_capture()
    scope.step_history(-5)
    older = scope.displayed_capture()
    assert older is scope.history[26]
    assert older.start_index < newest.start_index
    assert scope.history_label.text() == "capture 27/32"
    feed(scope, src, 3000)  # still recorded while frozen, but not drawn
    assert scope.displayed_capture() is older
    assert scope.ring.newest == src.index - 1
    scope.step_history(+100)
    assert scope.displayed_capture() is scope.history[-1]
    scope.freeze(False)
    assert scope.status_label.text() != "FROZEN"


def test_cursors_show_deltas(scope):
    scope.set_channel("current", scale=50.0, offset=0.0)
    scope.set_channel("voltage", scale=2.0, offset=1.0)
    scope.show_cursors(True)
    scope.set_cursors(0.002, 0.012, 100.0, -50.0)
    c = scope.cursor_values()
    assert c["dt_s"] == pytest.approx(0.010)
    assert c["inv_dt_hz"] == pytest.approx(100.0)
    assert c["di_ua"] == pytest.approx(-150.0)
    assert c["dv_v"] == pytest.approx(-6.0)  # -3 divisions at 2 V/div
    assert c["v1_v"] == pytest.approx(5.0)  # 2 divisions above a 1 V offset
    text = scope.cursor_label.text()
    assert "ΔT 10 ms" in text
    assert "100 Hz" in text
    scope.cursor_t[1].setValue(0.022)  # dragging updates the readout
    assert "20 ms" in scope.cursor_label.text()


def test_mask_failed_signal_when_the_device_hits_compliance(qtbot, scope):
    s = OutputSettings(Waveform.SQUARE, 5.0, 400.0, Polarity.POSITIVE, 2.0, 0.0)
    scope.set_reference(s)
    src = SyntheticSource(
        s, FS, load=RCLoad(rs_ohm=2_000, rp_ohm=50_000, cp_f=1e-6, compliance_v=5.0)
    )
    with qtbot.waitSignal(scope.mask_failed, timeout=1000) as got:
        feed(scope, src, 20_000, block=500, render=False)
    failure = got.args[0]
    assert failure.compliance
    assert failure.fail_count >= 1
    assert "MASK FAIL" in scope.mask_label.text()
    assert scope.mask.log
    assert f"sample {scope.mask.log[-1].index}" in scope.mask_label.toolTip()
    # a new tolerance resets the test: the buffer full of failures is not re-tested
    scope.set_mask_tolerance(50)
    assert scope.mask.fail_count == 0
    assert scope.mask.log == []
    assert scope.mask_label.text() == "Mask pass"
    scope.append(src.next_block(10))
    assert scope.mask.fail_count <= 1  # at most the period the new samples belong to


def test_the_mask_test_runs_once_per_tenth_of_a_second_of_stream_and_sees_every_sample(scope):
    s, src = _compliance_source()
    scope.set_reference(s)
    blocks = list(src.blocks(20_000, 160))  # 125 blocks of 16 ms, as the driver hands them
    for b in blocks:
        scope.append(b)
    assert len(blocks) == 125
    assert scope.mask_tests == 125 // 7  # once 1,000 samples (0.1 s) are new, not 125 times
    assert scope.mask.fail_count >= 2
    scope.run_mask_test()  # the samples since the last run are tested on demand
    k = scope.mask.half_window(FS)
    idx = np.concatenate([b.first_index + np.arange(len(b)) for b in blocks])
    sync = np.concatenate([b.sync for b in blocks])
    # every period start up to the newest sample with its neighbours was tested, once
    assert scope.mask.tested_periods == int(np.count_nonzero(sync[idx <= idx[-1] - k]))


def test_mask_passes_a_good_signal(qtbot, scope):
    with qtbot.assertNotEmitted(scope.mask_failed):
        feed(scope, SyntheticSource(SQUARE, FS, noise_ua=1.0), 10_000, render=False)
    assert scope.mask_label.text() == "Mask pass"
    scope.set_mask_enabled(False)
    assert scope.mask_label.text() == "Mask off"


def test_export_csv_and_png_of_the_frozen_capture(tmp_path, scope):
    scope.set_device_info({"model": "MC-1", "serial": "SIM-000001"})
    feed(scope, SyntheticSource(SQUARE, FS, noise_ua=0.5), 5000)
    scope.freeze(True)
    path = scope.export_csv(tmp_path / "cap.csv")
    back = read_csv(path)
    assert back.metadata["device_serial"] == "SIM-000001"
    assert back.metadata["waveform"] == "Square"
    shown = scope.displayed_capture()
    np.testing.assert_allclose(back.current_ua, shown.current_ua, rtol=1e-5, atol=1e-4)
    assert measure(back)["frequency_hz"] == pytest.approx(50.0, rel=0.005)
    assert back.metadata["trigger_mode"] == "Auto"
    assert back.metadata["trigger_source"] == "Sync"
    png = scope.export_png(tmp_path / "cap.png")
    assert png.stat().st_size > 1000


def test_exported_png_prints_time_settings_trigger_and_measurements(tmp_path, scope):
    from PySide6.QtGui import QImage

    scope.set_device_info({"model": "MC-1", "serial": "SIM-000001"})
    scope.set_trigger(source=TriggerSource.CURRENT, level=20.0, holdoff_s=0.005)
    feed(scope, SyntheticSource(SQUARE, FS, noise_ua=0.5), 5000)
    scope.freeze(True)
    plot_h = scope.plot.grab().height()
    path = scope.export_png(tmp_path / "cap.png")
    img = QImage(str(path))
    assert img.width() == scope.plot.grab().width()
    assert img.height() > plot_h + 4 * 12  # the printed lines under the plot
    caption = img.text("Caption")
    lines = caption.splitlines()
    assert lines[0].startswith("Captured 20")  # a date and time
    assert "exported" in lines[0]
    assert "SIM-000001" in lines[0]
    assert "Settings: Square 50 Hz, 100 µA, biphasic" in caption.replace("Biphasic", "biphasic")
    assert "Trigger: Auto, Current, rising at 20 µA, 10 % pre, holdoff 5 ms" in caption
    assert "mask ± 10 %: pass" in caption
    assert "Frequency 50" in caption
    assert "I peak-peak" in caption
    assert img.text("trigger_level") == "20.0"
    assert img.text("device_serial") == "SIM-000001"
    # the band under the plot is not empty: the text was drawn
    band = img.copy(0, plot_h, img.width(), img.height() - plot_h)
    colours = {
        band.pixel(x, y) for x in range(0, band.width(), 3) for y in range(0, band.height(), 2)
    }
    assert len(colours) > 2


def test_export_without_data_is_a_clear_error(tmp_path, scope):
    with pytest.raises(ValueError, match="nothing to export"):
        scope.export_csv(tmp_path / "x.csv")
    with pytest.raises(ValueError, match="nothing to export"):
        scope.export_png(tmp_path / "x.png")


def test_load_capture_replays_a_recording(scope):
    t = np.arange(2000) / FS - 0.02
    cur = 80.0 * np.sign(np.sin(2 * np.pi * 25.0 * (t + 0.02)))
    cap = scope.load_capture(t, cur, cur / 100.0)
    assert scope.frozen
    assert scope.displayed_capture() is cap
    assert scope.last_measurements["frequency_hz"] == pytest.approx(25.0, rel=0.005)
    assert scope.time_base == pytest.approx(0.02)
    assert curve_y(scope.current_curve).size > 0


def test_auto_setup_fits_the_signal(scope):
    s = OutputSettings(Waveform.SINE, 200.0, 300.0, Polarity.BIPHASIC, 2.0, 0.0)
    scope.set_reference(s)
    scope.set_roll(True)
    feed(scope, SyntheticSource(s, FS), 5000, render=False)
    scope.auto_setup()
    assert not scope.roll
    assert scope.i_scale == 100.0  # 300 µA peak within 3.5 divisions
    assert scope.time_base == pytest.approx(2e-3)  # 3 periods of 5 ms in 10 divisions
    assert scope.trigger.source == TriggerSource.SYNC


def test_bad_settings_are_refused_with_a_message(scope):
    with pytest.raises(ValueError, match="time base"):
        scope.set_time_base(0.003)
    with pytest.raises(ValueError, match="channel"):
        scope.set_channel("power", scale=1.0)
    with pytest.raises(ValueError, match="scale"):
        scope.set_channel("current", scale=0.0)


def test_clear_forgets_everything(scope):
    feed(scope, SyntheticSource(SQUARE, FS), 3000)
    scope.clear()
    assert scope.ring.newest is None
    assert not scope.history
    assert scope.shown is None
    assert curve_y(scope.current_curve).size == 0


def test_compact_view_has_no_table(qtbot):
    w = ScopeWidget(compact=True)
    qtbot.addWidget(w)
    w.show()
    assert not w.table.isVisible()
    assert not w.source_combo.isVisible()
    assert w.run_button.isVisible()


def test_benchmark_harness_reports_and_sees_the_spike(qtbot):
    from app.scope.widget_bench import run_benchmark

    result = run_benchmark(frames=12, width=900, height=500)
    assert set(result) >= {"fps", "ms_per_frame", "baseline_fps", "ratio", "spike_preserved"}
    assert result["spike_preserved"] is True
    assert result["fps"] > 0
    assert result["baseline_fps"] > 0


def test_cursor_checkbox_places_cursors_inside_the_screen(scope):
    scope.cursor_check.setChecked(True)
    c = scope.cursor_values()
    x_lo, x_hi = scope._x_range()
    assert x_lo < c["t1_s"] < c["t2_s"] < x_hi
    assert c["i1_ua"] == pytest.approx(1.5 * scope.i_scale)
    assert scope.cursor_label.isVisible()
    scope.cursor_check.setChecked(False)
    assert not scope.cursor_t[0].isVisible()
    assert not scope.cursor_label.isVisible()


def test_time_axis_labels_every_other_division_when_narrow_keeping_zero(qtbot):
    from app.scope.widget import X_DIVS, _TimeAxis

    axis = _TimeAxis()
    axis.div, axis.x0 = 0.02, -0.02  # 20 ms/div, one division before the trigger
    wide = axis.tickValues(-0.02, 0.18, 10 * X_DIVS * 8)
    assert len(wide) == 1
    assert len(wide[0][1]) == X_DIVS + 1
    labelled, unlabelled = axis.tickValues(-0.02, 0.18, 40 * X_DIVS)
    assert labelled[0] == pytest.approx(0.04)
    assert 0.0 in [round(v, 9) for v in labelled[1]]
    assert len(labelled[1]) + len(unlabelled[1]) == X_DIVS + 1
    assert axis.style["maxTextLevel"] == 0  # only the first level carries text


def _compliance_source():
    s = OutputSettings(Waveform.SQUARE, 5.0, 400.0, Polarity.POSITIVE, 2.0, 0.0)
    return s, SyntheticSource(
        s, FS, load=RCLoad(rs_ohm=2_000, rp_ohm=50_000, cp_f=1e-6, compliance_v=5.0)
    )


def test_mask_action_stop_freezes_on_the_failing_sample(qtbot, scope):
    s, src = _compliance_source()
    scope.set_reference(s)
    scope.mask_action_combo.setCurrentIndex(scope.mask_action_combo.findData("stop"))
    assert scope.mask_action == "stop"
    with qtbot.waitSignal(scope.mask_failed, timeout=1000) as got:
        feed(scope, src, 20_000, block=500, render=False)
    failure = got.args[0]
    assert scope.frozen
    cap = scope.displayed_capture()
    assert cap.start_index + cap.trigger_offset == failure.index
    assert failure.index == scope.mask.log[0].index
    assert scope.status_label.text() == "FROZEN"


def test_mask_action_save_writes_the_failure_capture(qtbot, scope, tmp_path):
    s, src = _compliance_source()
    scope.set_reference(s)
    scope.mask_save_dir = tmp_path / "fails"
    scope.set_mask_action("save")
    assert scope.mask_action_combo.currentData() == "save"
    feed(scope, src, 20_000, block=500, render=False)
    assert scope.mask.fail_count >= 2
    files = sorted((tmp_path / "fails").glob("mask-fail-*.csv"))
    assert len(files) == 1  # at most one a second
    back = read_csv(files[0])
    first = scope.mask.log[0]
    assert back.metadata["mask_failure_index"] == str(first.index)
    assert float(back.metadata["mask_deviation_ua"]) > 40.0
    assert np.isfinite(back.current_ua).all()
    assert scope.mask_saved_paths == files


def test_mask_action_beep_and_bad_action(qtbot, scope, monkeypatch):
    from PySide6.QtWidgets import QApplication

    beeps = []
    monkeypatch.setattr(QApplication, "beep", staticmethod(lambda: beeps.append(1)))
    s, src = _compliance_source()
    scope.set_reference(s)
    scope.set_mask_action("beep")
    feed(scope, src, 20_000, block=500, render=False)
    assert len(beeps) >= 1
    assert not scope.frozen
    with pytest.raises(ValueError, match="mask action"):
        scope.set_mask_action("explode")


# --------------------------------------------------------- CPU: nothing drawn for nothing


def _idle_block(first: int, n: int = 500, seed: int = 0) -> SampleBlock:
    """Output off: flat noise of ±0.3 µA (a fraction of a pixel at 50 µA/div)."""
    rng = np.random.default_rng(seed)
    return SampleBlock(
        first_index=first,
        sample_rate=FS,
        current_ua=rng.uniform(-0.3, 0.3, n).astype(np.float32),
        voltage_v=np.zeros(n, np.float32),
        level_ua=np.zeros(n, np.float32),
        flags=np.zeros(n, np.uint8),
        sync=np.zeros(n, bool),
    )


def _count_set_data(monkeypatch, w: ScopeWidget) -> list[str]:
    calls: list[str] = []
    for name in ("current_curve", "voltage_curve", "ref_curve", "mask_lo_curve", "mask_hi_curve"):
        curve = getattr(w, name)
        original = curve.setData

        def counting(*args, _name=name, _original=original, **kw):
            calls.append(_name)
            return _original(*args, **kw)

        monkeypatch.setattr(curve, "setData", counting)
    return calls


def test_an_idle_flat_trace_is_not_drawn_again(scope, monkeypatch):
    scope.set_reference(None)
    scope.set_roll(True)  # 200 ms on screen: 2,000 samples
    for k in range(5):
        scope.append(_idle_block(500 * k, seed=k))
    scope.render_frame()
    calls = _count_set_data(monkeypatch, scope)
    drawn, unchanged = scope.frames_drawn, scope.frames_unchanged
    for k in range(5, 10):  # new samples, new noise: nothing a pixel would show
        scope.append(_idle_block(500 * k, seed=k))
        scope.render_frame()
    assert calls == []
    assert scope.frames_drawn == drawn
    assert scope.frames_unchanged >= unchanged + 5  # (the timer may have ticked too)
    # a change worth a pixel is drawn at once: a 20 µA step (0.4 div)
    step = _idle_block(5000, seed=10)
    step.current_ua[-50:] += 20.0
    scope.append(step)
    scope.render_frame()
    assert "current_curve" in calls
    assert scope.frames_drawn == drawn + 1
    # and so is a new scale, even on the same samples
    calls.clear()
    scope.set_channel("current", scale=0.1)
    scope.render_frame()
    assert "current_curve" in calls


def test_the_frame_timer_is_slow_with_the_output_off_and_stops_while_hidden(scope, qtbot):
    """5 frames a second with the output off; with it on, a frame as each block arrives
    (at most one per FRAME_MS), none between blocks; nothing while hidden."""
    from app.scope.widget import FRAME_MS, FRAME_SLACK_MS, IDLE_FRAME_MS

    assert scope._timer.isActive()
    assert scope._timer.interval() == IDLE_FRAME_MS
    assert not scope._soon.isActive()  # nothing delivered yet
    src = SyntheticSource(SQUARE, FS)
    frames: list[float] = []
    render = scope.render_frame
    scope.render_frame = lambda: (frames.append(time.monotonic()), render())
    feed(scope, src, 500, render=False)  # output on: a frame is due at once
    assert scope._soon.isActive()
    qtbot.waitUntil(lambda: len(frames) == 1, timeout=1000)
    assert not scope._soon.isActive()  # and none until the next block
    feed(scope, src, 500, render=False)
    assert scope._soon.isActive()
    assert scope._soon.remainingTime() <= FRAME_MS
    qtbot.waitUntil(lambda: len(frames) == 2, timeout=1000)
    assert frames[1] - frames[0] >= (FRAME_MS - FRAME_SLACK_MS - 1) / 1000.0
    scope.append(_idle_block(src.index))
    assert not scope._soon.isActive()  # output off: the slow timer alone
    assert scope._timer.interval() == IDLE_FRAME_MS
    scope.hide()
    assert not scope._timer.isActive()
    scope.append(_idle_block(src.index + 500))  # still taken in while hidden
    assert scope.ring.newest == src.index + 999
    src.skip(1000)  # the idle blocks took these indices
    feed(scope, src, 500, render=False)  # output on while hidden: no frame either
    assert not scope._soon.isActive()
    assert scope.ring.newest == src.index - 1
    scope.show()
    qtbot.waitExposed(scope)
    assert scope._timer.isActive()


def test_blocks_faster_than_the_frame_rate_draw_at_most_one_frame_per_frame_ms(scope, qtbot):
    """Data rate is not paint rate: blocks every 2 ms (500 a second) make at most one
    frame per FRAME_MS on average (plus the one that may come FRAME_SLACK_MS early), and
    never two closer than FRAME_MS - FRAME_SLACK_MS."""
    from PySide6.QtCore import QTimer

    from app.scope.widget import FRAME_MS, FRAME_SLACK_MS

    src = SyntheticSource(SQUARE, FS)
    blocks = list(src.blocks(3000, 20))  # 150 blocks of 2 ms
    frames: list[float] = []
    render = scope.render_frame
    scope.render_frame = lambda: (frames.append(time.monotonic()), render())
    feeder = QTimer()
    feeder.setInterval(2)
    feeder.timeout.connect(lambda: scope.append(blocks.pop(0)) if blocks else feeder.stop())
    t0 = time.monotonic()
    feeder.start()
    qtbot.waitUntil(lambda: not blocks, timeout=10_000)
    elapsed = time.monotonic() - t0
    assert frames, "no frame was drawn"
    assert len(frames) <= elapsed / (FRAME_MS / 1000.0) + 2
    gaps = np.diff(frames)
    assert gaps.size == 0 or gaps.min() >= (FRAME_MS - FRAME_SLACK_MS - 1) / 1000.0
    assert len(frames) < 150 / 2  # far fewer frames than blocks


def test_the_measurement_table_is_fitted_once_a_refresh(scope, monkeypatch):
    """The figure columns fit their widest text (as ResizeToContents did), measured once
    per column a refresh: ResizeToContents re-measured a whole column for every changed
    cell, a dozen times four times a second while streaming."""
    from PySide6.QtWidgets import QHeaderView

    header = scope.table.horizontalHeader()
    for col in range(1, 5):
        assert header.sectionResizeMode(col) == QHeaderView.ResizeMode.Fixed
    feed(scope, SyntheticSource(SQUARE, FS, noise_ua=0.5), 6000)
    measured: list[int] = []
    hint = scope.table.sizeHintForColumn
    monkeypatch.setattr(
        scope.table, "sizeHintForColumn", lambda c: (measured.append(c), hint(c))[1]
    )
    scope._publish(measure(scope.shown))
    scope._update_table(force=True)
    assert 0 < len(measured) <= 4  # at most once per figure column
    for col in range(1, 5):
        widest = max(hint(col), header.sectionSizeHint(col))
        assert header.sectionSize(col) == widest
        texts = [scope.table.item(r, col).text() for r in range(scope.table.rowCount())]
        assert any(t != "—" for t in texts)


def test_the_statistics_count_changes_without_relaying_out_the_scope(scope, qapp):
    """The count under the table changes four times a second while streaming: it is a
    fixed-size label, so a new count repaints the label only (a label free to resize
    asks every layout above it to be redone, and the tab widget holding the scope then
    repaints the whole page)."""
    from PySide6.QtCore import QEvent, QObject

    class Count(QObject):
        n = 0

        def eventFilter(self, obj, event):  # noqa: N802 - Qt API
            if event.type() == QEvent.Type.LayoutRequest:
                Count.n += 1
            return False

    feed(scope, SyntheticSource(SQUARE, FS, noise_ua=0.5), 6000)
    m = measure(scope.shown)
    scope._publish(m)
    scope._update_table(force=True)
    qapp.processEvents()
    counter = Count()
    scope.installEventFilter(counter)
    texts = set()
    for _ in range(12):
        scope._publish(m)
        scope._update_table(force=True)
        texts.add(scope.stats_label.text())
        qapp.processEvents()
    scope.removeEventFilter(counter)
    assert len(texts) == 12  # the count changed every time
    assert Count.n <= 2  # (a figure column that widened: laid out once), not one a count
    assert scope.stats_label.minimumSize() == scope.stats_label.maximumSize()


def test_the_desk_scope_has_no_mask_test_and_skips_it(qtbot, monkeypatch):
    w = ScopeWidget(compact=True, mask=False)
    qtbot.addWidget(w)
    w.set_reference(SQUARE)
    assert not w.mask_enabled
    assert not w.mask_check.isChecked()
    monkeypatch.setattr(w.mask, "update", lambda ring: pytest.fail("mask test ran"))
    feed(w, SyntheticSource(SQUARE, FS), 2000, render=False)
    assert w.ring.total_received == 2000


def test_the_compact_scope_measures_only_for_a_listener(qtbot, monkeypatch):
    import app.scope.widget as widget

    w = ScopeWidget(compact=True, mask=False)
    qtbot.addWidget(w)
    w.set_reference(SQUARE)
    calls = []
    monkeypatch.setattr(widget, "measure", lambda cap: calls.append(cap) or measure(cap))
    w._last_measure = -1e9
    feed(w, SyntheticSource(SQUARE, FS), 3000)
    assert calls == []  # no table, nobody listening: nothing measured
    got = []
    w.measurements_updated.connect(got.append)
    w._last_measure = -1e9
    feed(w, SyntheticSource(SQUARE, FS), 3000)
    assert calls
    assert got
