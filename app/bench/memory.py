"""`python -m app bench memory`: memory growth over an accelerated one-hour session.

One hour of 10 kS/s sample blocks, built like the driver's (the simulator firmware's
frames through the driver's SampleAssembler: 60 s of a typical step with idle stretches,
or the whole session when it is shorter, replayed with advancing sample indices and
fresh arrays for every block), is fed at full speed — no real time — through what a
session touches: the full scope widget (append of every block, a repaint every 0.1 s
of data: triggering, measuring, history, mask test), the engine's SessionRecorder and
the real StoreWriter into a temporary SQLite database. The writer is let catch up every
10 s of data (as real time would), so its queue is not counted as growth. ``growth_mb``
= RSS at the end minus RSS after a warm-up of ``warmup_s`` seconds of data (ring buffer,
capture history and caches filled).
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from pathlib import Path

SECONDS = 3600.0
WARMUP_S = 300.0
TEMPLATE_S = 60.0  # the replayed stretch of device data (a shorter session: its length)
RENDER_EVERY_S = 0.1
CATCH_UP_EVERY_S = 10.0
TARGET_GROWTH_MB = 20.0


def run(args: argparse.Namespace | None = None) -> dict:
    """Measured in a fresh process (see :func:`app.bench._console.in_fresh_process`)."""
    from app.bench._console import in_fresh_process

    seconds = float(getattr(args, "seconds", None) or SECONDS)
    return in_fresh_process(
        "app.bench.memory", args, {"seconds": seconds}, _run_here, timeout_s=seconds * 0.5 + 600
    )


def _run_here(args: argparse.Namespace | None = None) -> dict:
    import psutil

    from app.bench._qt import application
    from app.bench.recording import device_blocks
    from app.device.firmware import Firmware
    from app.device.samples import SampleBlock
    from app.device.waveform import OutputSettings, Polarity, Waveform
    from app.engine.recorder import SessionRecorder
    from app.engine.session import SessionState
    from app.scope.widget import ScopeWidget
    from app.store.models import Outcome
    from app.store.runtime import start_store

    seconds = float(getattr(args, "seconds", None) or SECONDS)
    warmup_s = min(WARMUP_S, seconds / 4)
    application()
    # a session shorter than the template uses only its start: build no more than that
    template = list(device_blocks(min(TEMPLATE_S, seconds)))
    period = sum(len(b) for b in template)
    fs = template[0].sample_rate
    me = psutil.Process()
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        store = start_store(f"sqlite:///{Path(tmp) / 'records.sqlite'}")
        scope = ScopeWidget()
        scope.resize(1000, 600)
        scope.show()
        try:
            scope.set_device_info(Firmware().info())
            scope.set_reference(
                OutputSettings(Waveform.SQUARE, 10.0, 200.0, Polarity.ALTERNATING, 2.0, 1.0)
            )
            info = store.info
            rec = SessionRecorder(
                store.writer,
                info.training_client_id,
                training=True,
                operator_id=info.default_operator_id,
            )
            rec.set_program("manual")
            rec.on_state(SessionState.RAMPING_UP)
            rec.on_state(SessionState.RUNNING)
            fed = renders = 0
            next_render, next_catch_up = RENDER_EVERY_S, CATCH_UP_EVERY_S
            rss_warm = None
            total = int(seconds * fs)
            lap = 0
            while fed < total:
                for b in template:
                    if fed >= total:
                        break
                    n = min(len(b), total - fed)
                    block = SampleBlock(
                        lap * period + b.first_index,
                        b.sample_rate,
                        b.current_ua[:n].copy(),
                        b.voltage_v[:n].copy(),
                        b.level_ua[:n].copy(),
                        b.flags[:n].copy(),
                        b.sync[:n].copy(),
                        time.monotonic(),
                    )
                    scope.append(block)
                    rec.on_samples(block)
                    fed += n
                    t = fed / fs
                    if t >= next_render:
                        scope.render_frame()
                        application().processEvents()
                        renders += 1
                        next_render += RENDER_EVERY_S
                    if t >= next_catch_up:
                        store.writer.flush(60.0)
                        next_catch_up += CATCH_UP_EVERY_S
                        if rss_warm is None and t >= warmup_s:
                            gc.collect()
                            rss_warm = me.memory_info().rss
                lap += 1
            rec.on_state(SessionState.COMPLETE)
            store.writer.flush(60.0)
            gc.collect()
            rss_end = me.memory_info().rss
            recorded = rec.samples_recorded
            if rec.recording:
                rec.close(Outcome.COMPLETED)
        finally:
            scope.close()
            store.close(30.0)
    if rss_warm is None:
        rss_warm = rss_end
    result = {
        "session_seconds": round(fed / fs, 1),
        "samples": fed,
        "samples_recorded": recorded,
        "renders": renders,
        "wall_s": round(time.perf_counter() - t_start, 1),
        "warmup_s": warmup_s,
        "rss_after_warmup_mb": round(rss_warm / 1e6, 1),
        "rss_end_mb": round(rss_end / 1e6, 1),
        "growth_mb": round((rss_end - rss_warm) / 1e6, 1),
        "target_growth_mb": TARGET_GROWTH_MB,
    }
    result["passed"] = bool(recorded == fed and result["growth_mb"] <= TARGET_GROWTH_MB)
    return result


def main() -> None:  # pragma: no cover - manual run
    from app.bench._console import child_main

    child_main(__doc__, _run_here, {"seconds": (float, SECONDS, "session length to simulate")})


if __name__ == "__main__":  # pragma: no cover
    main()
