"""Where the test suite's time goes, per file and per worker.

Run the suite with every duration and the worker of every test, then read its output:

    bash scripts/test.sh -p no:cacheprovider --durations=0 -v > /tmp/suite.txt 2>&1
    .venv/bin/python scripts/suite_times.py /tmp/suite.txt [TOP]

It prints the total of the durations pytest reports (set-up, call and tear-down of every
test), that total per xdist worker (two equal totals: the workers are balanced), and the
TOP files (20 by default) by their total, with their worker, number of tests and the split
between set-up, call and tear-down. pytest's own start, collection and the workers' start
are not in any test's duration: the wall time of the run is a little longer than the
larger worker's total.
"""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict

DURATION = re.compile(r"\s*([\d.]+)s (setup|call|teardown)\s+(tests/[^:]+)::")
PASSED = re.compile(r"\[(gw\d+)\] \[\s*\d+%\] \w+ (tests/[^:]+)::")
SUMMARY = re.compile(r"=+ (.* in [\d.]+s.*) =+")


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 2
    with open(argv[0], encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    top = int(argv[1]) if len(argv) > 1 else 20
    total: Counter[str] = Counter()
    phases: defaultdict[str, Counter[str]] = defaultdict(Counter)
    worker: dict[str, str] = {}
    tests: Counter[str] = Counter()
    summary = ""
    for line in lines:
        if m := DURATION.match(line):
            seconds, phase, path = float(m.group(1)), m.group(2), m.group(3)
            total[path] += seconds
            phases[path][phase] += seconds
        elif m := PASSED.match(line):
            worker[m.group(2)] = m.group(1)
            tests[m.group(2)] += 1
        elif m := SUMMARY.match(line):
            summary = m.group(1)
    if not total:
        print("no durations found: run pytest with --durations=0", file=sys.stderr)
        return 1
    per_worker: Counter[str] = Counter()
    for path, seconds in total.items():
        per_worker[worker.get(path, "-")] += seconds
    print(summary)
    print(f"durations: {sum(total.values()):.1f} s in all; per worker: ", end="")
    print(", ".join(f"{w} {s:.1f} s" for w, s in sorted(per_worker.items())))
    head = ("seconds", "worker", "tests", "set-up", "call", "tear-down")
    print("{:>8} {:>6} {:>5} {:>7} {:>7} {:>9}  file".format(*head))
    for path, seconds in total.most_common(top):
        p = phases[path]
        print(
            f"{seconds:8.1f} {worker.get(path, '-'):>6} {tests[path]:5d} {p['setup']:7.1f} "
            f"{p['call']:7.1f} {p['teardown']:9.1f}  {path}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
