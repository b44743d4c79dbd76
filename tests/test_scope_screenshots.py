"""Pictures of the scope (triggered, roll, frozen with cursors) from the device's own
signal model (waveform generator, electrode-skin load, ADC).

They are written to a temporary folder; with SCOPE_SCREENSHOTS=docs/images they refresh
the pictures in the documentation.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from app.device.protocol import SampleFlag
from app.device.samples import SampleBlock
from app.device.signal_model import (
    CURRENT_LSB_UA,
    VOLTAGE_LSB_V,
    Adc,
    LoadModel,
    SkinLoad,
    WaveGenerator,
)
from app.device.waveform import OutputSettings, Polarity, Waveform, alternating_sign
from app.scope.widget import ScopeWidget

FS = 10_000


def model_blocks(
    settings: OutputSettings, block: int = 167, skin: SkinLoad | None = None, seed: int = 7
):
    """An endless stream of SampleBlocks as the simulated device would send them."""
    gen, load, adc = WaveGenerator(FS), LoadModel(FS, skin=skin), Adc(seed=seed)
    index = 0
    while True:
        n = block
        t = (index + np.arange(n)) / FS
        unit, sync_at = gen.generate(settings, n)
        level = settings.amplitude_ua * (
            np.clip(t / settings.ramp_s, 0, 1) if settings.ramp_s > 0 else np.ones(n)
        )
        cur, volt, clamped = load.drive(level * unit)
        raw = adc.measure(cur, volt)
        flags = np.full(n, SampleFlag.OUTPUT_ON | SampleFlag.CONTACT, np.uint8)
        if settings.polarity == Polarity.ALTERNATING:
            flags[alternating_sign(settings, t) < 0] |= np.uint8(SampleFlag.SIGN_NEGATIVE)
        if clamped:
            flags |= np.uint8(SampleFlag.COMPLIANCE)
        sync = np.zeros(n, bool)
        sync[sync_at] = True
        yield SampleBlock(
            index,
            float(FS),
            (raw[:, 0] * CURRENT_LSB_UA).astype(np.float32),
            (raw[:, 1] * VOLTAGE_LSB_V).astype(np.float32),
            level.astype(np.float32),
            flags,
            sync,
        )
        index += n


@pytest.fixture
def out_dir(tmp_path) -> Path:
    target = os.environ.get("SCOPE_SCREENSHOTS")
    path = Path(target) if target else tmp_path
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def scope(qtbot):
    w = ScopeWidget()
    qtbot.addWidget(w)
    w.resize(1500, 760)
    w.set_device_info({"model": "MC-Sim", "serial": "SIM-000001"})
    w.show()
    qtbot.waitExposed(w)
    return w


def save(w: ScopeWidget, path: Path) -> Path:
    w.render_frame()
    w._update_table(force=True)
    QApplication.processEvents()  # let the labels' layout settle before the picture
    assert w.grab().save(str(path))
    img = QImage(str(path))
    assert img.width() >= 1400
    assert img.height() >= 700
    return path


def run(w: ScopeWidget, stream, seconds: float) -> None:
    for k in range(int(seconds * FS / 167)):
        b = next(stream)
        w.append(b)
        if k % 2 == 0:
            w.render_frame()


def test_triggered_view(scope, out_dir):
    s = OutputSettings(Waveform.SQUARE, 40.0, 150.0, Polarity.BIPHASIC, 2.0, 0.5)
    scope.set_reference(s)
    stream = model_blocks(s)
    run(scope, stream, 1.0)
    scope.auto_setup()
    run(scope, stream, 1.5)
    save(scope, out_dir / "scope_triggered.png")
    m = scope.last_measurements
    assert m["frequency_hz"] == pytest.approx(40.0, rel=0.005)
    assert scope.mask.fail_count == 0
    assert scope.status_label.text().startswith("TRIG'D")


def test_roll_view(scope, out_dir):
    s = OutputSettings(Waveform.SQUARE, 8.0, 200.0, Polarity.ALTERNATING, 2.0, 1.0)
    scope.set_reference(s)
    scope.set_roll(True)
    scope.set_time_base(0.5)
    scope.set_channel("current", scale=100.0)
    scope.set_channel("voltage", scale=2.0)
    run(scope, model_blocks(s), 4.2)
    save(scope, out_dir / "scope_roll.png")
    y = np.asarray(scope.current_curve.getData()[1]) * scope.i_scale
    assert np.nanmax(y) > 150
    assert np.nanmin(y) < -150


def test_frozen_with_cursors(scope, out_dir):
    s = OutputSettings(Waveform.SINE, 100.0, 120.0, Polarity.BIPHASIC, 2.0, 0.2)
    scope.set_reference(s)
    stream = model_blocks(s)
    run(scope, stream, 0.6)
    scope.auto_setup()
    run(scope, stream, 3.0)
    scope.freeze(True)
    scope.step_history(-3)
    scope.show_cursors(True)
    scope.set_cursors(0.0, 0.010, 120.0, -120.0)
    save(scope, out_dir / "scope_frozen_cursors.png")
    c = scope.cursor_values()
    assert c["inv_dt_hz"] == pytest.approx(100.0)
    assert scope.history_label.text().startswith(f"capture {len(scope.history) - 3}/")


def test_persistence_and_averaging(scope, out_dir):
    """Persistence of a sine whose amplitude varies (the skin load's contact changes): the
    envelope of recent sweeps graded under the trace; averaging on in a second picture."""
    s = OutputSettings(Waveform.SINE, 50.0, 150.0, Polarity.BIPHASIC, 2.0, 1.5)
    scope.set_reference(s)
    scope.set_persistence(2.0)
    stream = model_blocks(s)
    scope.set_time_base(2e-3)
    scope.set_channel("current", scale=50.0)
    run(scope, stream, 1.6)  # the start ramp: sweeps of growing amplitude
    save(scope, out_dir / "scope_persistence.png")
    assert scope.persist_image.isVisible()
    graded = scope.persistence.graded()
    assert (graded > 0).sum() > 5 * scope.persistence.columns  # a band, not a line
    scope.set_persistence(0)
    scope.set_averaging(16)
    run(scope, stream, 1.0)
    save(scope, out_dir / "scope_averaged.png")
    assert scope.shown.metadata["averaged"] == "16"
    assert "avg 16/16" in scope.status_label.text()


def test_frozen_zoomed_and_exported(scope, out_dir):
    s = OutputSettings(Waveform.SQUARE, 40.0, 150.0, Polarity.BIPHASIC, 2.0, 0.2)
    scope.set_reference(s)
    stream = model_blocks(s)
    run(scope, stream, 0.6)
    scope.auto_setup()
    run(scope, stream, 1.0)
    scope.freeze(True)
    scope.label_capture("rising edge, 40 Hz")
    scope.pin_capture(True)
    scope.zoom_by(8.0, at=0.0)
    save(scope, out_dir / "scope_zoomed.png")
    assert scope.measure_scope_label.text().startswith("Measured: zoomed view")
    png = scope.export_png(out_dir / "scope_export.png")
    img = QImage(str(png))
    assert "Measured: zoomed view" in img.text("Caption")
