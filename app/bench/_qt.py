"""Helpers for benchmarks that drive the real console offscreen (benchmark code only)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable


def application():
    """The QApplication of a benchmark run (offscreen unless a display is asked for)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication([])


def spin_until(predicate: Callable[[], bool], timeout_s: float) -> bool:
    """Run the GUI event loop (this is the GUI thread) until ``predicate`` or timeout."""
    from PySide6.QtCore import QEventLoop

    loop_deadline = time.monotonic() + timeout_s
    app = application()
    while not predicate():
        if time.monotonic() > loop_deadline:
            return False
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
    return True


def percentile(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else float("nan")
