"""`python -m app bench startup`: process start to the main window showing live data.

Measured from outside, as a user would see it: ``python main.py --screenshot PNG
--after 0`` is spawned with a fresh data directory (``MICROCURRENT_HOME``: a new records
database is created, migrated and seeded; no saved settings) and offscreen Qt. The
console opens its window, starts the simulator process over a pseudo-terminal,
handshakes, and saves the screenshot as soon as the first samples are shown
(``MainWindow.live_data_seen``); it prints ``screenshot saved to ...`` at that moment.
``seconds`` is the median, over ``runs`` runs, of spawn → that line, with Python's
byte-code cache warm (as on an installed console; ``first_start_s`` is the very first
start, which compiles it; ``--no-first-start`` leaves it out: ``first_start_s`` is then
null and the first of the runs compiles the cache).

The client records (SQLAlchemy, the migrations, a new database's tables) open on a
background thread once the window shows; the console prints ``client records open`` when
they are, and ``records_s`` is the median of spawn → that line: the moment the desk's
client list and recording are ready. ``import_s`` is the median time of a process
importing the modules the window needs before it shows (PySide6, pyqtgraph, numpy, app).
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

RUNS = 3
TARGET_S = 2.0
TIMEOUT_S = 60.0
ROOT = Path(__file__).resolve().parents[2]


def _env(home: Path, pycache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["MICROCURRENT_HOME"] = str(home)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env.pop("MICROCURRENT_DATABASE_URL", None)
    # Byte-code cached as on an installed console (pip writes .pyc files), kept out of
    # the work tree; a build or CI environment may have turned caching off.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def _one_start(pycache: Path) -> tuple[float | None, float | None, str]:
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        home = Path(tmp) / "home"
        shot = Path(tmp) / "shot.png"
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "main.py"), "--screenshot", str(shot), "--after", "0"],
            cwd=ROOT,
            env=_env(home, pycache),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        seen = records = None
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith("screenshot saved"):
                    seen = time.monotonic() - t0
                elif line.startswith("client records open"):
                    records = time.monotonic() - t0
            proc.wait(TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        err = proc.stderr.read() if proc.stderr else ""
        if seen is None:
            return (
                None,
                None,
                (f"no screenshot line (exit {proc.returncode}): {err.strip()[-300:]}"),
            )
        if records is None:
            return seen, None, f"the client records did not open: {err.strip()[-300:]}"
        return seen, records, ""


def _import_time(pycache: Path) -> float:
    t0 = time.monotonic()
    subprocess.run(
        [sys.executable, "-c", "import app.ui.launcher, app.ui.main_window, app.ui.practitioner"],
        cwd=ROOT,
        env=_env(pycache / "home", pycache),
        check=True,
        capture_output=True,
        timeout=TIMEOUT_S,
    )
    return time.monotonic() - t0


def run(args: argparse.Namespace | None = None) -> dict:
    runs = int(getattr(args, "runs", None) or RUNS)
    times, records, errors = [], [], []
    cold = None
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as pycache_dir:
        pycache = Path(pycache_dir)
        if getattr(args, "first_start", True):
            cold, _, why = _one_start(pycache)  # the first start after install compiles .pyc
            if why:
                errors.append(why)
        for _ in range(runs):
            seconds, records_s, why = _one_start(pycache)
            if why:
                errors.append(why)
            if seconds is not None:
                times.append(seconds)
            if records_s is not None:
                records.append(records_s)
        imports = [_import_time(pycache) for _ in range(runs)]
    result = {
        "runs": runs,
        "seconds": round(statistics.median(times), 2) if times else None,
        "all_s": [round(t, 2) for t in times],
        "first_start_s": round(cold, 2) if cold is not None else None,
        "records_s": round(statistics.median(records), 2) if records else None,
        "import_s": round(statistics.median(imports), 2),
        "failures": errors[:3],
        "target_s": TARGET_S,
    }
    result["passed"] = bool(times) and not errors and result["seconds"] <= TARGET_S
    return result


def main() -> None:  # pragma: no cover - manual run
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=RUNS)
    p.add_argument(
        "--no-first-start",
        dest="first_start",
        action="store_false",
        help="skip the first start, which compiles the byte-code cache (first_start_s: null)",
    )
    print(run(p.parse_args()))


if __name__ == "__main__":  # pragma: no cover
    main()
