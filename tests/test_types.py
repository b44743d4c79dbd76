"""The type checker runs inside the suite: zero errors in the device, engine, service,
store, scope-core and teaching layers (pyproject.toml [tool.mypy] names them). A new error
fails this test. One mypy run (tests/ui_type_baseline.py ``run_mypy``) serves both tests."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def mypy_report() -> str:
    from ui_type_baseline import run_mypy

    out, err, status = run_mypy()
    assert status in (0, 1), f"mypy could not run: {out}{err}"  # 2: a crash or bad config
    assert out.rstrip().splitlines()[-1].startswith(("Success:", "Found ")), out + err
    return out


def test_mypy_finds_no_errors_in_the_checked_layers(mypy_report):
    from ui_type_baseline import in_checked_layers

    errors = [line for line in mypy_report.splitlines() if ": error:" in line]
    # an error of a checked file, or one of no file (the configuration, an import cycle)
    held = [line for line in errors if in_checked_layers(line.split(":", 1)[0])]
    held += [line for line in errors if not line.split(":", 1)[0].endswith(".py")]
    assert not held, "\n".join(held)


def test_ui_type_errors_only_shrink(mypy_report):
    """app/ui is checked against a baseline of its remaining errors per file
    (tests/ui_type_baseline.json): a file may not gain errors, a new file starts at none."""
    from ui_type_baseline import BASELINE, ui_errors

    baseline = json.loads(BASELINE.read_text())
    now = ui_errors(mypy_report)
    grown = {f: (n, baseline.get(f, 0)) for f, n in now.items() if n > baseline.get(f, 0)}
    assert not grown, f"type errors added in app/ui (now, baseline): {grown}"
