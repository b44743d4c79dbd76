"""The type checker runs inside the suite: zero errors in the device, engine, service,
store, scope-core and teaching layers (pyproject.toml [tool.mypy] names them). A new error
fails this test."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_finds_no_errors_in_the_checked_layers(monkeypatch):
    from mypy import api

    monkeypatch.chdir(ROOT)
    out, err, status = api.run(["--config-file", str(ROOT / "pyproject.toml")])
    assert status == 0, out + err
    assert "Success: no issues found" in out


def test_ui_type_errors_only_shrink(monkeypatch):
    """app/ui is checked against a baseline of its remaining errors per file
    (tests/ui_type_baseline.json): a file may not gain errors, a new file starts at none."""
    import json

    from ui_type_baseline import BASELINE, ui_errors

    monkeypatch.chdir(ROOT)
    baseline = json.loads(BASELINE.read_text())
    now = ui_errors()
    grown = {f: (n, baseline.get(f, 0)) for f, n in now.items() if n > baseline.get(f, 0)}
    assert not grown, f"type errors added in app/ui (now, baseline): {grown}"
