"""The type errors app/ui still has, per file: a baseline that may only shrink.

``python tests/ui_type_baseline.py`` rewrites tests/ui_type_baseline.json from a mypy run
over app/ui (after fixing errors, to lock the gain in); tests/test_types.py fails when any
file has more errors than its baseline, or a new file has any.

One mypy run serves both checks of tests/test_types.py (:func:`run_mypy`): the checked
layers of ``[tool.mypy] files`` (pyproject.toml) and app/ui together, its report then split
by file. Each module's errors are the same whichever others are listed (the rest are
followed silently), and the run costs about half of two separate ones.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = Path(__file__).with_suffix(".json")
UI = "app/ui"
_ERROR = re.compile(r"^([^:\s]+\.py):\d+: error:")


def checked_paths() -> list[str]:
    """The files and folders pyproject.toml's [tool.mypy] checks with zero errors."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return list(config["tool"]["mypy"]["files"])


def run_mypy() -> tuple[str, str, int]:
    """mypy over the checked layers and app/ui at once, from ROOT: its report, error output
    and exit status (0 clean, 1 errors found, 2 it could not run). In a process of its own:
    the hundreds of thousands of objects a run leaves behind would otherwise be walked by
    every garbage collection of the test process that ran it."""
    paths = [p for p in checked_paths() if not p.startswith(UI + "/")]  # app/ui holds them
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), *paths, UI],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return proc.stdout, proc.stderr, proc.returncode


def errors_per_file(report: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in report.splitlines():
        m = _ERROR.match(line)
        if m:
            counts[m.group(1)] += 1
    return counts


def in_checked_layers(path: str) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in checked_paths())


def ui_errors(report: str) -> Counter[str]:
    """Errors per app/ui file that the baseline counts (not those held to zero)."""
    return Counter(
        {
            f: n
            for f, n in errors_per_file(report).items()
            if f.startswith(UI + "/") and not in_checked_layers(f)
        }
    )


def main() -> None:
    out, err, status = run_mypy()
    if status not in (0, 1):
        raise SystemExit(f"mypy could not run: {out}{err}")
    counts = ui_errors(out)
    BASELINE.write_text(json.dumps(dict(sorted(counts.items())), indent=1) + "\n")
    print(f"{sum(counts.values())} errors in {len(counts)} files written to {BASELINE.name}")


if __name__ == "__main__":
    main()
