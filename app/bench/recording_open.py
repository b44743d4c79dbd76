"""`python -m app bench recording_open`: opening a long recording for display.

A 20-minute session at 10 kS/s (12 million samples: one minute of the simulator's own
firmware output, repeated) is written through the real store writer into a fresh SQLite
database. Then the way the session detail opens it now — the min/max overview read one
chunk at a time (``services.recording_overview``), and a 10-second zoomed window at full
resolution (``services.recording_window``) — is timed, and its peak memory measured with
tracemalloc (numpy's arrays included), against loading the whole recording as arrays
(``services.load_recording``, what the session detail did before). Target: the overview's
peak memory ≤ 50 MB.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
import tracemalloc
from pathlib import Path

MINUTES = 20.0
TARGET_PEAK_MB = 50.0


def _measure(fn) -> tuple[object, float, float]:
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        result = fn()
        seconds = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, seconds, peak / 1e6


def run(args: argparse.Namespace | None = None) -> dict:
    from app.bench.recording import SAMPLE_RATE, device_blocks
    from app.store import services
    from app.store.runtime import start_store

    minutes = float(getattr(args, "seconds", None) or MINUTES * 60) / 60.0
    minute = list(device_blocks(min(60.0, minutes * 60.0)))
    per_minute = sum(len(b) for b in minute)
    repeats = max(1, round(minutes * 60 * SAMPLE_RATE / per_minute))
    with tempfile.TemporaryDirectory(prefix="bench-recording-open-") as tmp:
        store = start_store(f"sqlite:///{Path(tmp) / 'records.sqlite'}")
        try:
            rec = store.recorder(
                store.info.training_client_id,
                program="bench",
                device_serial="SIM-000001",
                firmware="bench",
            )
            for k in range(repeats):
                shift = k * per_minute
                for b in minute:
                    rec.samples(dataclasses.replace(b, first_index=b.first_index + shift))
                if not store.writer.flush(120.0):
                    return {"error": "the store writer did not keep up", "passed": False}
            rec.end("completed")
            store.writer.flush(60.0)
            sid = services.recent_sessions(store.engine, limit=1)[0].id
            n = repeats * per_minute
            ov, ov_s, ov_mb = _measure(lambda: services.recording_overview(store.engine, sid))
            mid = (n / 2) / SAMPLE_RATE
            win, win_s, win_mb = _measure(
                lambda: services.recording_window(store.engine, sid, mid, mid + 10.0)
            )
            full, full_s, full_mb = _measure(lambda: services.load_recording(store.engine, sid))
        finally:
            store.close()
    result = {
        "minutes": round(n / SAMPLE_RATE / 60, 2),
        "samples": n,
        "overview_samples_counted": ov.n_samples,  # type: ignore[attr-defined]
        "overview_points": int(ov.t_s.size),  # type: ignore[attr-defined]
        "overview_s": round(ov_s, 3),
        "overview_peak_mb": round(ov_mb, 1),
        "window_10s_s": round(win_s, 3),
        "window_10s_peak_mb": round(win_mb, 1),
        "window_samples": int(win.n_samples),  # type: ignore[attr-defined]
        "whole_load_s": round(full_s, 3),
        "whole_load_peak_mb": round(full_mb, 1),
        "target_peak_mb": TARGET_PEAK_MB,
    }
    del full
    result["passed"] = (
        result["overview_samples_counted"] == n and result["overview_peak_mb"] <= TARGET_PEAK_MB
    )
    return result
