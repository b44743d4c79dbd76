"""Benchmark of the scope widget against a default pyqtgraph PlotWidget (offscreen).

Both views get the same 2 x 50,000-point window (10 kS/s, 5 s), advanced by
display-frame-sized blocks. A scope frame is the real widget's path: ``append(block)``,
``render_frame()`` (window, envelopes, setData, throttled measurements) and a paint of
its plot with ``grab()``; a baseline frame is ``setData`` of both curves and ``grab()``
of a default PlotWidget of the same size.
A one-sample current spike is injected; ``spike_preserved`` says whether the scope's
rendered image shows it at its place.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication

from app import palette
from app.device.waveform import OutputSettings, Polarity, Waveform
from app.scope.core.synthetic import SyntheticSource
from app.scope.widget import CURRENT_COLOUR, ScopeWidget

SAMPLE_RATE = 10_000.0
WINDOW_S = 5.0
DISPLAY_HZ = 60
SPIKE_UA = 250.0


def _top_row(img: QImage, columns: range, colour: QColor, tol: int = 60) -> int | None:
    """The highest image row in ``columns`` painted in ``colour`` (None if none)."""
    best = None
    for x in columns:
        if not 0 <= x < img.width():
            continue
        for y in range(img.height()):
            c = img.pixelColor(x, y)
            if (
                abs(c.red() - colour.red())
                + abs(c.green() - colour.green())
                + abs(c.blue() - colour.blue())
            ) <= tol:
                best = y if best is None else min(best, y)
                break
    return best


def _pixel_of(plot: pg.PlotWidget, x: float, y: float, img: QImage) -> tuple[int, int]:
    vb = plot.getPlotItem().getViewBox()
    scene_pt = vb.mapViewToScene(QPointF(x, y))
    p = plot.mapFromScene(scene_pt)
    dpr = img.devicePixelRatio() or 1.0
    return int(round(p.x() * dpr)), int(round(p.y() * dpr))


def run_benchmark(frames: int | None = None, width: int = 1280, height: int = 720) -> dict:
    app = QApplication.instance() or QApplication([])
    window = int(SAMPLE_RATE * WINDOW_S)
    block = int(round(SAMPLE_RATE / DISPLAY_HZ))
    frames = frames or window // block
    total = window + frames * block
    spike_at = window + (frames * block) // 2  # inside the final window
    settings = OutputSettings(Waveform.SQUARE, 20.0, 100.0, Polarity.BIPHASIC, 2.0, 0.0)
    src = SyntheticSource(
        settings, SAMPLE_RATE, noise_ua=0.8, noise_v=0.01, spikes={spike_at: SPIKE_UA}
    )
    prefill = src.next_block(window)
    blocks = [src.next_block(block) for _ in range(frames)]
    cur = np.concatenate([prefill.current_ua] + [b.current_ua for b in blocks])
    volt = np.concatenate([prefill.voltage_v] + [b.voltage_v for b in blocks])

    # --- the scope ------------------------------------------------------------
    scope = ScopeWidget()
    scope._timer.stop()  # frames are driven here, one render per block
    scope.resize(width, height)
    scope.show()
    scope.set_reference(settings)
    scope.set_roll(True)
    scope.set_time_base(0.5)
    scope.set_channel("current", scale=100.0, offset=0.0)
    scope.set_channel("voltage", scale=1.0, offset=0.0)
    app.processEvents()
    scope.append(prefill)
    scope.render_frame()
    scope.plot.grab()
    t0 = time.perf_counter()
    for b in blocks:
        scope.append(b)
        scope.render_frame()
        scope.plot.grab()
    scope_s = time.perf_counter() - t0
    img = scope.plot.grab().toImage()
    newest_t = (total - 1) / SAMPLE_RATE
    spike_x = spike_at / SAMPLE_RATE - newest_t
    spike_y = float(cur[spike_at]) / scope.i_scale
    px, py = _pixel_of(scope.plot, spike_x, spike_y, img)
    colour = QColor(CURRENT_COLOUR)
    top = _top_row(img, range(px - 1, px + 2), colour)
    around = [_top_row(img, range(x, x + 1), colour) for x in (px - 10, px + 10)]
    # the spike's column reaches its value; columns beside it stay well below
    spike_seen = top is not None and abs(top - py) <= 3
    clean_beside = all(r is None or r > py + 10 for r in around)
    plot_size = scope.plot.size()
    scope.close()
    scope.deleteLater()

    # --- the baseline: default PlotWidget, all points every frame -----------------
    t_all = np.arange(total) / SAMPLE_RATE
    base = pg.PlotWidget()
    base.resize(plot_size)
    base.show()
    c_cur = base.plot()
    c_volt = base.plot(pen=palette.SCOPE_BENCH_VOLTAGE)
    c_cur.setData(t_all[:window], cur[:window])
    c_volt.setData(t_all[:window], volt[:window])
    base.grab()
    t0 = time.perf_counter()
    for k in range(1, frames + 1):
        sl = slice(k * block, k * block + window)
        c_cur.setData(t_all[sl], cur[sl])
        c_volt.setData(t_all[sl], volt[sl])
        base.grab()
    base_s = time.perf_counter() - t0
    base.close()
    base.deleteLater()
    app.processEvents()

    fps = frames / scope_s
    baseline_fps = frames / base_s
    return {
        "fps": round(fps, 1),
        "ms_per_frame": round(1000.0 * scope_s / frames, 2),
        "baseline_fps": round(baseline_fps, 1),
        "ratio": round(fps / baseline_fps, 2),
        "spike_preserved": bool(spike_seen and clean_beside),
        "frames": frames,
        "points_per_curve": window,
        "block_samples": block,
        "passed": bool(fps >= 60 and fps / baseline_fps >= 2 and spike_seen and clean_beside),
    }
