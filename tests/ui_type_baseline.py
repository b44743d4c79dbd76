"""The type errors app/ui still has, per file: a baseline that may only shrink.

``python tests/ui_type_baseline.py`` rewrites tests/ui_type_baseline.json from a mypy run
over app/ui (after fixing errors, to lock the gain in); tests/test_types.py fails when any
file has more errors than its baseline, or a new file has any.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = Path(__file__).with_suffix(".json")


def ui_errors() -> Counter[str]:
    from mypy import api

    out, _err, _status = api.run(["--config-file", str(ROOT / "pyproject.toml"), "app/ui"])
    counts: Counter[str] = Counter()
    for line in out.splitlines():
        m = re.match(r"^(app/ui/[^:]+\.py):\d+: error:", line)
        if m:
            counts[m.group(1)] += 1
    return counts


def main() -> None:
    import os

    os.chdir(ROOT)
    counts = ui_errors()
    BASELINE.write_text(json.dumps(dict(sorted(counts.items())), indent=1) + "\n")
    print(f"{sum(counts.values())} errors in {len(counts)} files written to {BASELINE.name}")


if __name__ == "__main__":
    main()
