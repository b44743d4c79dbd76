"""`python -m app run`: a headless program run against the simulator, recorded in the store."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.store.models import RecordingChunk

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


# ------------------------------------------------------- limits lowered in another room

LOWERED_UA = 20.0


def _client_with_limit(url: str, limit_ua: float) -> int:
    from app.store.runtime import start_store
    from app.store.screening import add_months, load_questionnaire
    from app.store.validation import ClientData

    store = start_store(url)
    try:
        w = store.writer
        cid = w.save_client(
            ClientData("Ann Example", dt.date(1990, 1, 1), current_limit_ua=limit_ua)
        ).result(5)
        q = load_questionnaire()
        answers = {i.id: (False if i.type == "yes_no" else None) for i in q.items if i.asked}
        today = dt.date.today()
        w.add_screening(cid, answers, today, add_months(today, 6), ()).result(5)
        w.add_consent(cid, q.consent_text_version).result(5)
        return cid
    finally:
        store.close(10)


def _lower(url: str, cid: int, what: str) -> float:
    """Another room (its own engine and store writer on the same database) saves the
    lowered limit; when it was committed."""
    from app.engine.limits import ClinicSettings
    from app.service.clinic_limits import settings_to_dict
    from app.store.clinic import SaveClinicSettings
    from app.store.database import make_engine
    from app.store.validation import ClientData
    from app.store.writer import StoreWriter

    engine = make_engine(url)
    other = StoreWriter(engine)
    try:
        if what == "clinic":
            cs = ClinicSettings(max_current_ua=LOWERED_UA, eye_area_max_ua=LOWERED_UA)
            other.submit(SaveClinicSettings(settings_to_dict(cs), None)).result(5)
        else:
            data = ClientData("Ann Example", dt.date(1990, 1, 1), current_limit_ua=LOWERED_UA)
            other.save_client(dataclasses.replace(data, id=cid)).result(5)
        return time.monotonic()
    finally:
        other.close(5)
        engine.dispose()


@pytest.mark.parametrize(
    ("what", "layer"), [("clinic", "clinic maximum"), ("client", "client's own limit")]
)
def test_a_limit_lowered_in_another_room_lowers_a_running_run_at_once(
    qapp, tmp_path, monkeypatch, capsys, new_sqlite_url, what, layer
):
    """The tester's case: ``run`` at the client's 80 µA while another room saves a clinic
    maximum (or the client's own limit) of 20 µA. The output is lowered within about a
    second of the save and the recorded current is under 20 µA once the device has
    slewed there; the summary says the output was lowered and why (a lowering, not a
    stop), and the level stored as comfortable is not above the new limit."""
    import app.engine.authority as authority_module
    from app.__main__ import main
    from app.device.protocol import DeviceState
    from app.device.sim_process import SimulatorProcess
    from app.store.database import make_engine
    from app.store.eligibility import read_facts
    from app.store.services import load_recording, session_history

    url = new_sqlite_url
    cid = _client_with_limit(url, 80.0)
    saved_at: list[float] = []  # when the other room's save was committed
    savers: list[threading.Thread] = []
    authorities: list = []

    class Watched(authority_module.OutputAuthority):
        """The run's own authority, so the test saves once the output runs at 80 µA."""

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            authorities.append(self)
            self.status_received.connect(self._maybe_lower)

        def _maybe_lower(self, status) -> None:
            if savers or status.state is not DeviceState.RUNNING or status.setpoint_ua < 79:
                return
            # the other room saves on a thread of its own: the run's thread goes on
            saver = threading.Thread(target=lambda: saved_at.append(_lower(url, cid, what)))
            savers.append(saver)
            saver.start()

    monkeypatch.setattr(authority_module, "OutputAuthority", Watched)
    monkeypatch.setenv("MICROCURRENT_HOME", str(tmp_path / "home"))
    sim = SimulatorProcess([])
    port = sim.start()
    try:
        code = main(
            ["run", "--client", str(cid), "--program", "full_face_lift", "--seconds", "4.5"]
            + ["--port", port, "--database-url", url, "--json"]
        )
        zero = sim.sample_zero_time()
    finally:
        sim.stop()
        for saver in savers:
            saver.join(10)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert len(authorities) == 1
    assert saved_at, "the output never ran at 80 µA"
    summary = json.loads(out)
    assert summary["output_stopped_by_authority"] == []  # lowered, not stopped
    (low,) = summary["output_lowered_by_authority"]
    assert low["amplitude_ua"] == LOWERED_UA
    assert f"limited to 20 µA by the {layer}" in low["reason"]

    engine = make_engine(url)
    try:
        (session,) = session_history(engine, cid)
        with Session(engine) as s:
            first = s.scalar(
                select(func.min(RecordingChunk.first_index)).where(
                    RecordingChunk.session_id == session.id
                )
            )
        rec = load_recording(engine, session.id)
        at = zero + first / rec.sample_rate + rec.t_s  # each sample's time
        current = np.where(np.isfinite(rec.current_ua), np.abs(rec.current_ua), 0.0)
        # the level delivered, 50 ms at a time (a biphasic wave crosses zero in between)
        edges = np.arange(at[0], at[-1], 0.05)
        level = np.array([current[(at >= a) & (at < a + 0.05)].max(initial=0.0) for a in edges])
        saved = saved_at[0]
        assert level[edges < saved].max() > 70.0  # it ran at 80 µA until the save
        # lowered within about a second: another room's save is read within one poll of
        # the store's watch (1 s for the clinic row, 0.5 s for the client's record)
        falling = edges[(edges > saved) & (level < 70.0)]
        assert falling.size
        assert falling[0] - saved <= 1.5, f"lowered {falling[0] - saved:.2f} s after the save"
        # and the device slews to the new level over the step's ramp time (1 s)
        under = level[edges >= falling[0] + 1.1]
        assert under.size >= 10  # at least half a second of it
        # the simulated ADC's uncalibrated gain (1 %) and offset (0.8 µA) error, its noise
        assert under.max() <= LOWERED_UA * 1.03 + 1.0
        comfort = dict(read_facts(engine, cid).comfort_ua)
        assert comfort, "no comfortable level was stored"
        assert max(comfort.values()) <= LOWERED_UA
    finally:
        engine.dispose()


def test_damaged_clinic_settings_run_on_the_defaults_and_are_named_once(
    qapp, tmp_path, monkeypatch, capsys, new_sqlite_url
):
    """A stored clinic maximum that is not a number: the run uses the default and its
    summary names the problem once (read at the start and again by the watch)."""
    from app.__main__ import main
    from app.store.clinic import SaveClinicSettings
    from app.store.runtime import start_store

    url = new_sqlite_url
    store = start_store(url)
    try:
        store.writer.submit(SaveClinicSettings({"max_current_ua": "lots"}, None)).result(5)
    finally:
        store.close(10)
    monkeypatch.setenv("MICROCURRENT_HOME", str(tmp_path / "home"))
    code = main(
        ["run", "--training", "--program", "toning", "--seconds", "1"]
        + ["--database-url", url, "--json"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out)
    assert summary["errors"] == [
        "clinic settings: Maximum current: stored value 'lots' is not a number; default 600 µA used"
    ]
    assert summary["output_lowered_by_authority"] == []
