"""One duration formatter with one rounding rule (app/format.py), used everywhere."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from app.format import clock, duration, whole_seconds

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("seconds", "whole"),
    [
        (0, 0),
        (0.2, 1),
        (0.5, 1),
        (1.0, 1),
        (1.5, 2),
        (2.5, 3),
        (59.01, 60),
        (60, 60),
        (60.0000001, 60),  # float noise does not add a second
        (0.1 * 3 * 100, 30),
        (-0.4, 0),
        (-5, 0),
    ],
)
def test_one_rule_whole_seconds_rounded_up(seconds, whole):
    assert whole_seconds(seconds) == whole


def test_the_two_spellings_of_one_number():
    assert clock(0) == "0:00"
    assert clock(4.2) == "0:05"  # a countdown reads 0:01 until the step has ended
    assert clock(0.3) == "0:01"
    assert clock(125) == "2:05"
    assert clock(18 * 60) == "18:00"
    assert clock(75 * 60) == "75:00"
    assert duration(42) == "42 s"
    assert duration(41.2) == "42 s"
    assert duration(60) == "1 min 00 s"
    assert duration(125) == "2 min 05 s"
    assert duration(90) == "1 min 30 s"
    assert clock(None) == duration(None) == "—"
    for bad in (math.nan, math.inf):
        with pytest.raises(ValueError, match="not a duration"):
            clock(bad)


def test_records_and_the_pin_lockout_use_it():
    from app.service.pin import FREE_ATTEMPTS, MemoryPinBackend, PinGuard, lockout_s
    from app.ui.records import format as records_format

    assert records_format.clock is clock
    assert records_format.duration is duration
    now = [1000.0]
    guard = PinGuard(MemoryPinBackend(), clock=lambda: now[0])
    guard.set_pin("2468")
    for _ in range(FREE_ATTEMPTS - 1):
        assert not guard.verify("0000").ok
    check = guard.verify("0000")
    assert check.message.endswith(f"locked for {duration(lockout_s(FREE_ATTEMPTS))}")
    now[0] += lockout_s(FREE_ATTEMPTS) - 0.3  # 0.3 s left: "1 s", never "0 s"
    assert guard.verify("2468").message == "too many wrong PINs: try again in 1 s"


def _sources():
    for path in sorted((ROOT / "app").rglob("*.py")):
        if path != ROOT / "app" / "format.py":
            yield path, path.read_text(encoding="utf-8")


def test_no_other_duration_formatter_in_the_code():
    """No second ``m:ss`` / ``min ss s`` spelling (each with its own rounding) returns."""
    offenders = []
    patterns = [
        re.compile(r"def \w*format_duration\w*\("),
        re.compile(r"(//|%) ?60\}?:02d"),
        re.compile(r"divmod\([^)]*, ?60\)"),
    ]
    for path, text in _sources():
        for n, line in enumerate(text.splitlines(), 1):
            if any(p.search(line) for p in patterns):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "format durations with app.format:\n" + "\n".join(offenders)
