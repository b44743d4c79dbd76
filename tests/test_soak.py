"""Soak test guarding the PySide6 pin: 10,000 pyqtgraph updates must not crash.

PySide6 6.12.0 on Python 3.11 drops references to None in QObject.property()/parent()
and aborts the interpreter after ~1,600 setData calls. If this test dies with a fatal
error after a PySide6 upgrade, keep the pin (pyproject.toml: PySide6-Essentials<6.12).
"""

import numpy as np
import pyqtgraph as pg
from PySide6 import __version__ as pyside_version

UPDATES = 10_000


def test_pyside_pin_is_respected():
    major, minor = (int(x) for x in pyside_version.split(".")[:2])
    assert (major, minor) < (6, 12), f"PySide6 {pyside_version}: see pyproject.toml pin"


def test_ten_thousand_plot_updates(qtbot):
    widgets = []
    for _ in range(10):  # the crash also showed at exit with >= 10 plot widgets
        w = pg.PlotWidget()
        qtbot.addWidget(w)
        w.resize(320, 200)
        widgets.append(w)
    curves = [w.plot(pen=pg.mkPen("y", width=1)) for w in widgets]
    x = np.arange(256, dtype=np.float64)
    rng = np.random.default_rng(1)
    for i in range(UPDATES):
        y = np.sin(x / 20.0 + i * 0.01) + rng.normal(0, 0.01, x.size)
        curves[i % len(curves)].setData(x, y)
        if i % 500 == 0:
            widgets[i % len(widgets)].grab()  # really render now and then
    last = UPDATES - 1
    expected = np.sin(x / 20.0 + last * 0.01)
    got = curves[last % len(curves)].getData()[1]
    assert np.max(np.abs(got - expected)) < 0.1  # the widgets still hold the latest data
