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
