"""`python -m app bench scope`: scope widget frame rate vs a default pyqtgraph PlotWidget."""

from __future__ import annotations

import argparse
import os


def run(args: argparse.Namespace | None = None) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from app.scope.widget_bench import run_benchmark

    return run_benchmark(frames=getattr(args, "frames", None))
