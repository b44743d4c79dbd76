"""The scope widget's instrument features (pytest-qt, offscreen): averaging, persistence,
zoom and pan of a frozen capture, pin and label, saved sessions, exports."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from app.device.waveform import OutputSettings, Polarity, Waveform
from app.scope.core.capture import read_csv
from app.scope.core.session import SessionFileError
from app.scope.core.synthetic import SyntheticSource
from app.scope.core.trigger import TriggerMode
from app.scope.widget import ScopeWidget

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
    w.set_trigger(mode=TriggerMode.NORMAL)
    return w


def feed(w: ScopeWidget, src: SyntheticSource, samples: int, block: int = 500) -> None:
    for b in src.blocks(samples, block):
        w.append(b)
        w.render_frame()


def noise_of(cap) -> float:
    """Standard deviation of the current on the flat tops (away from the edges)."""
    i = np.asarray(cap.current_ua, dtype=np.float64)
    ok = np.isfinite(i) & (np.abs(np.abs(i) - 100.0) < 40.0)
    return float(np.std(np.abs(i[ok]) - 100.0))


def test_averaging_lowers_the_noise_and_restarts_on_a_setting_change(scope):
    src = SyntheticSource(SQUARE, FS, noise_ua=8.0)
    feed(scope, src, 5000)
    raw = noise_of(scope.shown)
    scope.set_averaging(16)
    assert scope.average_combo.currentData() == 16
    feed(scope, src, 60_000)
    assert scope.shown.metadata["averaged"] == "16"
    assert noise_of(scope.shown) < raw / 2.5  # 1/sqrt(16) = 1/4, with margin
    assert "avg 16/16" in scope.status_label.text()
    scope.set_time_base(0.05)  # another window: a new average
    assert scope.averager.sweeps == 0
    with pytest.raises(ValueError, match="average over one of"):
        scope.set_averaging(3)


def test_persistence_image_under_the_trace_updates_only_when_it_changes(scope):
    clean = SyntheticSource(SQUARE, FS, noise_ua=0.0)
    scope.set_persistence(math.inf)
    assert scope.persist_combo.currentText() == "Persist ∞"
    feed(scope, clean, 20_000)
    assert scope.persist_image.isVisible()
    assert scope.persist_image.zValue() < scope.current_curve.zValue()
    assert scope.persistence.sweeps >= 5
    # the same sweep again and again, no decay: the graded picture stays the same, so
    # the image is set once and never again (nothing repaints when nothing changed)
    scope.set_persistence(math.inf)
    start = scope.persist_updates
    for _ in range(10):
        scope._add_persistence()
    assert scope.persistence.sweeps == 10
    assert scope.persist_updates == start + 1
    noisy = SyntheticSource(SQUARE, FS, noise_ua=10.0)
    feed(scope, noisy, 5000)
    assert scope.persist_updates > 1
    scope.set_channel("current", scale=100.0)  # the image is in divisions: cleared
    assert not scope.persist_image.isVisible()
    assert scope.persistence.sweeps == 0
    scope.set_persistence(0)
    assert not scope.persistence_on


def test_persistence_grades_the_voltage_trace_too_in_its_own_colours(scope):
    """One mechanism for both traces: the voltage's image holds the voltage's sweeps (not
    the current's), lies under the voltage trace, and is graded in the voltage's colour."""
    from app import palette

    scope.set_persistence(math.inf)
    scope.set_channel("current", offset=150.0)  # current above the centre line...
    scope.set_channel("voltage", offset=-5.0)  # ... the voltage below it (different rows)
    feed(scope, SyntheticSource(SQUARE, FS, noise_ua=0.0), 20_000)
    cur, volt = scope.persistences["current"], scope.persistences["voltage"]
    assert volt.sweeps == cur.sweeps >= 5
    image = scope.persist_images["voltage"]
    assert image.isVisible()
    assert image.zValue() < scope.voltage_curve.zValue()
    assert image.zValue() < scope.persist_images["current"].zValue()
    # each image's hits are on the rows its own trace was drawn at
    x, i_div, v_div = scope._last_env
    for persistence, divs in ((cur, i_div), (volt, v_div)):
        on_screen = divs[np.abs(divs) < 4]  # Y_DIVS = 8: -4 .. 4 divisions
        assert on_screen.size
        rows = np.floor((on_screen + 4) / 8 * persistence.rows).astype(int)
        hit = persistence.image.sum(axis=0) > 0
        assert hit[rows].all()
    assert not np.array_equal(cur.image, volt.image)
    # the middle of each scale is its trace's colour
    lut = image.lut
    assert tuple(lut[128][:3]) == pytest.approx(palette.SCOPE_PERSISTENCE_VOLTAGE, abs=2)
    current_lut = scope.persist_images["current"].lut
    assert tuple(current_lut[128][:3]) == pytest.approx(palette.SCOPE_PERSISTENCE, abs=2)
    # a change of the voltage's scale clears both (the images are in divisions); off hides
    scope.set_channel("voltage", scale=0.5)
    assert volt.sweeps == 0
    assert not image.isVisible()
    feed(scope, SyntheticSource(SQUARE, FS, noise_ua=0.0), 5_000)
    assert image.isVisible()
    scope.set_persistence(0)
    assert not image.isVisible()
    assert not scope.persist_images["current"].isVisible()


def test_zoom_and_pan_a_frozen_capture_with_keys_and_measurements_follow(qtbot, scope):
    scope.set_time_base(0.01)  # 100 ms: five periods of 50 Hz
    feed(scope, SyntheticSource(SQUARE, FS, noise_ua=0.5), 8000)
    scope.zoom_by(2.0)  # running: the view follows the time base
    assert scope.zoom is None
    scope.freeze(True)
    whole = dict(scope.last_measurements)  # the frozen capture, measured whole
    assert scope.measure_scope_label.text() == "Measured: the whole of the capture"
    full = scope._full_range()
    scope.plot.setFocus()
    qtbot.keyClick(scope.plot, Qt.Key.Key_Plus)
    qtbot.keyClick(scope.plot, Qt.Key.Key_Plus)
    lo, hi = scope.zoom
    assert hi - lo == pytest.approx((full[1] - full[0]) / 4)
    assert scope.plot.getPlotItem().getViewBox().viewRange()[0] == pytest.approx([lo, hi])
    assert "zoom ×4" in scope.status_label.text()
    assert scope.measure_scope_label.text().startswith("Measured: zoomed view")
    assert scope.zoom_out_button.isEnabled()
    qtbot.keyClick(scope.plot, Qt.Key.Key_Right)
    assert scope.zoom[0] == pytest.approx(lo + 0.25 * (hi - lo))
    # 25 ms of a 50 Hz square: about one period; the count of samples measured is smaller
    assert scope.last_measurements != whole
    # the mouse (pyqtgraph's view box) zooms too: the widget follows the view range
    scope.plot.getPlotItem().getViewBox().setXRange(0.0, 0.005, padding=0)
    scope.render_frame()
    assert scope.zoom == pytest.approx((0.0, 0.005))
    assert "0 s … 5 ms" in scope.measure_scope_label.text()
    qtbot.keyClick(scope.plot, Qt.Key.Key_Home)
    assert scope.zoom is None
    assert not scope.zoom_out_button.isEnabled()
    assert scope.last_measurements == whole
    scope.zoom_by(1e9)  # never narrower than a few samples
    assert scope.zoom[1] - scope.zoom[0] == pytest.approx(8 / FS)
    scope.freeze(False)
    assert scope.zoom is None
    assert scope._x_range() == pytest.approx(full)


def test_pin_and_label_are_kept_and_shown_as_plain_text(scope):
    feed(scope, SyntheticSource(SQUARE, FS), 3000)
    scope.freeze(True)
    scope.pin_capture(True)
    scope.label_capture("<b>after gel</b>\nleft cheek")
    assert scope.pin_button.isChecked()
    assert scope.history_label.textFormat() == Qt.TextFormat.PlainText
    assert scope.history_label.text().endswith("· pinned · <b>after gel</b> left cheek")
    assert "&lt;b&gt;after gel&lt;/b&gt;" in scope.history_label.toolTip()  # shown as typed
    pinned = scope.displayed_capture()
    scope.freeze(False)
    feed(scope, SyntheticSource(SQUARE, FS), 60_000, block=167)  # > 32 new captures
    assert pinned in list(scope.history)


def test_session_round_trip_shows_the_capture_frozen(qtbot, scope, tmp_path):
    scope.set_time_base(0.005)
    scope.set_averaging(4)
    feed(scope, SyntheticSource(SQUARE, FS, noise_ua=1.0), 6000)
    scope.freeze(True)
    scope.step_history(-1)
    scope.pin_capture(True)
    scope.label_capture("baseline")
    scope.zoom_by(2.0)
    shown = scope.displayed_capture()
    n = len(scope.history)
    path = scope.save_session(tmp_path / "visit")
    assert path.name == "visit.mcscope"

    other = ScopeWidget()
    qtbot.addWidget(other)
    other.resize(1200, 700)
    other.show()
    other.load_session(path)
    assert other.frozen
    assert len(other.history) == n
    assert other.history_pos == n - 2
    back = other.displayed_capture()
    np.testing.assert_array_equal(back.current_ua, shown.current_ua)
    assert other.history.entries[other.history_pos].pinned
    assert other.history.entries[other.history_pos].label == "baseline"
    assert other.time_base == 0.005
    assert other.averager.count == 4
    assert other.settings == SQUARE  # offline: the session's output is the reference
    assert other.zoom == pytest.approx(scope.zoom)
    assert "capture" in other.history_label.text()
    assert "baseline" in other.history_label.text()


def test_a_bad_session_file_changes_nothing_and_names_the_problem(scope, tmp_path):
    feed(scope, SyntheticSource(SQUARE, FS), 3000)
    bad = tmp_path / "bad.mcscope"
    bad.write_bytes(b"PK\x03\x04 definitely not a zip")
    before = (scope.frozen, len(scope.history), scope.time_base)
    with pytest.raises(SessionFileError, match="bad.mcscope: not a scope session file"):
        scope.load_session(bad)
    assert (scope.frozen, len(scope.history), scope.time_base) == before


def test_exports_carry_the_reference_settings_and_measurement_scope(scope, tmp_path):
    scope.set_averaging(2)
    feed(scope, SyntheticSource(SQUARE, FS, noise_ua=0.5), 8000)
    scope.freeze(True)
    scope.zoom_by(2.0, at=0.0)
    csv = scope.export_csv(tmp_path / "c.csv")
    cap = read_csv(csv)
    assert cap.reference_ua is not None
    assert np.isfinite(cap.reference_ua).sum() > 0.9 * len(cap)
    assert cap.metadata["trigger_mode"] == "Normal"
    assert cap.metadata["averaged_sweeps"] == "2"
    assert cap.metadata["measurements_of"].startswith("Measured: zoomed view")
    png = scope.export_png(tmp_path / "c.png")
    img = QImage(str(png))
    assert img.height() > scope.plot.height()
    caption = img.text("Caption")
    assert "Settings: Square 50 Hz, 100 µA" in caption
    assert "Measured: zoomed view" in caption
    assert "Trigger: Normal" in caption
    assert "exported" in caption


def test_a_frozen_roll_window_is_shown_whole_and_can_be_zoomed(scope):
    scope.set_roll(True)
    feed(scope, SyntheticSource(SQUARE, FS), 5000)
    scope.freeze(True)
    scope.render_frame()
    x = np.asarray(scope.current_curve.getData()[0])
    span = 10 * scope.time_base
    assert scope._x_range() == pytest.approx((-span, 0.0))
    assert x.min() < -0.9 * span  # the whole window, not its last tenth
    scope.zoom_by(2.0)
    assert scope.zoom == pytest.approx((-0.75 * span, -0.25 * span))


def test_a_single_capture_can_be_zoomed_until_armed_again(qtbot, scope):
    scope.set_trigger(mode=TriggerMode.SINGLE)
    src = SyntheticSource(SQUARE, FS, noise_ua=0.5)
    feed(scope, src, 6000)
    assert not scope.acquirer.armed
    assert scope.still
    assert not scope.frozen
    scope.plot.setFocus()
    qtbot.keyClick(scope.plot, Qt.Key.Key_Plus)
    assert scope.zoom is not None
    assert "STOPPED (Single) · zoom ×2" in scope.status_label.text()
    assert scope.measure_scope_label.text().startswith("Measured: zoomed view")
    feed(scope, src, 2000)  # stopped: new data changes nothing on screen
    assert scope.zoom is not None
    scope.arm()
    assert scope.zoom is None
    assert not scope.still
    assert scope._x_range() == pytest.approx(scope._full_range())
