"""`python -m app bench idle`: CPU of the console open and idle (no output), per workspace.

Measured from outside, as the operating system sees it: ``python main.py --workspace
NAME`` is spawned with a fresh data directory (``MICROCURRENT_HOME``) and offscreen Qt;
the console connects to its simulator process and shows live data with the output off.
After a warm-up of ``WARMUP_S`` seconds the process's CPU time (user + system) is read
over ``WINDOW_S`` seconds and reported as % of one core, for the practitioner desk, the
trainer studio and the technician bench (a manager signs in through
``MICROCURRENT_OPERATOR`` and ``MICROCURRENT_OPERATOR_SECRET``: the first start creates
them). The simulator process is not counted.

Process CPU time, not wall-clock time, so a loaded machine changes the figure little;
``--rounds`` repeats each measurement and the median is reported. The budget for the
desk is ``DESK_BUDGET_PCT``.

Where the time goes: ``<workspace>_threads`` gives the same window's CPU per thread
(``/proc/<pid>/task/*/stat``, medians over the rounds), by the threads' OS names: ``GUI``
(the main thread), ``DeviceLink`` (the device link's worker), ``EligibilityWatch``,
``ClinicWatch``, ``StoreWriter`` (:func:`app.threadname.name_os_thread`), the rest
summed as ``other``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WARMUP_S = 12.0
WINDOW_S = 15.0
DESK_BUDGET_PCT = 3.0
WORKSPACES = (("desk", "practitioner"), ("studio", "trainer"), ("bench", "technician"))
ROOT = Path(__file__).resolve().parents[2]
BENCH_OPERATOR, BENCH_SECRET = "Bench Manager", "bench-246810"


NAMED_THREADS = ("DeviceLink", "EligibilityWat", "ClinicWatch", "StoreWriter")
_FULL_NAMES = {"EligibilityWat": "EligibilityWatch"}


def thread_times(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) of each of ``pid``'s threads so far, by thread label
    (see the module docstring); ``{}`` where ``/proc`` is not there."""
    from app.bench._threads import thread_times as per_thread

    out: dict[str, float] = {}
    for name, seconds in per_thread(pid).values():
        label = "GUI" if name == "gui" else "other"
        for prefix in NAMED_THREADS:
            if name.startswith(prefix):
                label = _FULL_NAMES.get(prefix, prefix)
        out[label] = out.get(label, 0.0) + seconds
    return out


def measure(workspace: str, *, warmup_s: float = WARMUP_S, window_s: float = WINDOW_S) -> float:
    """% of one core the console uses with ``workspace`` open and the output off."""
    return measure_threads(workspace, warmup_s=warmup_s, window_s=window_s)[0]


def measure_threads(
    workspace: str, *, warmup_s: float = WARMUP_S, window_s: float = WINDOW_S
) -> tuple[float, dict[str, float]]:
    """Like :func:`measure`, with the same window's % of one core per thread."""
    import psutil

    with tempfile.TemporaryDirectory(prefix="bench-idle-") as home:
        env = dict(
            os.environ,
            QT_QPA_PLATFORM="offscreen",
            MICROCURRENT_HOME=home,
            MICROCURRENT_OPERATOR=BENCH_OPERATOR,
            MICROCURRENT_OPERATOR_SECRET=BENCH_SECRET,
        )
        env.pop("MICROCURRENT_DATABASE_URL", None)
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "main.py"), "--workspace", workspace],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            ps = psutil.Process(proc.pid)
            time.sleep(warmup_s)
            if proc.poll() is not None:
                raise RuntimeError(f"the console exited ({proc.returncode}) during warm-up")
            # the per-thread interval inside the process's, as in ``bench stream``
            c0, w0 = sum(ps.cpu_times()[:2]), time.monotonic()
            t0 = thread_times(proc.pid)
            time.sleep(window_s)
            t1 = thread_times(proc.pid)
            c1, w1 = sum(ps.cpu_times()[:2]), time.monotonic()
            span = w1 - w0
            threads = {k: 100.0 * (v - t0.get(k, 0.0)) / span for k, v in t1.items()}
            return 100.0 * (c1 - c0) / span, threads
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run(args: argparse.Namespace) -> dict:
    rounds = max(1, getattr(args, "rounds", None) or 1)
    window = getattr(args, "seconds", None) or WINDOW_S
    out: dict = {}
    for label, workspace in WORKSPACES:
        runs = [measure_threads(workspace, window_s=window) for _ in range(rounds)]
        out[f"{label}_pct"] = round(statistics.median(pct for pct, _ in runs), 1)
        out[f"{label}_runs_pct"] = [round(pct, 2) for pct, _ in runs]
        names = sorted({name for _, threads in runs for name in threads})
        out[f"{label}_threads"] = {
            name: round(statistics.median(t.get(name, 0.0) for _, t in runs), 2) for name in names
        }
    out["desk_budget_pct"] = DESK_BUDGET_PCT
    out["passed"] = out["desk_pct"] <= DESK_BUDGET_PCT
    return out
