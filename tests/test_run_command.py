"""`python -m app run`: a headless program run against the simulator, recorded in the store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(tmp_path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, MICROCURRENT_HOME=str(tmp_path / "home"), QT_QPA_PLATFORM="offscreen")
    env.pop("MICROCURRENT_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "app", "run", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_training_run_is_recorded_with_events_and_recording(tmp_path):
    result = _run(tmp_path, "--program", "toning", "--training", "--seconds", "3", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["training"] is True
    assert summary["outcome"] == "stopped"  # ended by --seconds before the program's end
    assert summary["errors"] == []

    os.environ["MICROCURRENT_HOME"] = str(tmp_path / "home")
    try:
        from app.store.database import open_store
        from app.store.services import load_recording, session_detail, session_history

        engine, store = open_store()
        history = session_history(engine, store.training_client_id)
        assert len(history) == 1
        session = history[0]
        assert session.training
        assert session.program == "toning"
        assert session.device_serial.startswith("SIM-")
        detail = session_detail(engine, session.id)
        kinds = {e.kind for e in detail.events}
        assert {"transition", "command", "program", "client"} <= kinds
        assert len(detail.steps) == 1
        assert detail.steps[0].charge_uc is not None
        rec = load_recording(engine, session.id)
        assert rec.sample_rate == 10000.0
        assert rec.current_ua.size >= 3 * 10000 * 0.9  # ≥ 90 % of 3 s recorded
        assert abs(float(rec.current_ua.max())) > 50  # real output, not an idle line
        engine.dispose()
    finally:
        os.environ.pop("MICROCURRENT_HOME", None)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--program", "no_such_program", "--training", "--seconds", "1"], "no program"),
        (["--program", "toning", "--client", "999", "--seconds", "1"], "no client with ID 999"),
        (["--program", "toning", "--training", "--seconds", "0"], "--seconds must be above 0"),
    ],
)
def test_bad_arguments_get_a_clear_message(tmp_path, monkeypatch, capsys, args, message):
    """Refused before the device is touched: the command's own ``main``, in this process
    (the command line itself runs above)."""
    from app.__main__ import main

    monkeypatch.setenv("MICROCURRENT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MICROCURRENT_DATABASE_URL", raising=False)
    assert main(["run", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
