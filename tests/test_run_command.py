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
from store_fixtures import save_clinic

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


def _answers(*, blocked: bool = False) -> dict:
    from app.store.screening import load_questionnaire

    q = load_questionnaire()
    answers = {i.id: (False if i.type == "yes_no" else None) for i in q.items if i.asked}
    if blocked:
        answers["pregnancy"] = True
    return answers


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
        today = dt.date.today()
        w.add_screening(cid, _answers(), today, add_months(today, 6), (), based_on=None).result(5)
        w.add_consent(cid, load_questionnaire().consent_text_version, based_on=None).result(5)
        return cid
    finally:
        store.close(10)


def _other_room_saves(url: str, cid: int, what: str) -> float:
    """Another room (its own engine and store writer on the same database) saves
    ``what``: a clinic maximum or a client's own limit of LOWERED_UA, or a screening that
    blocks the client; when it was committed."""
    from app.engine.limits import ClinicSettings
    from app.store.database import make_engine
    from app.store.screening import add_months
    from app.store.services import get_client
    from app.store.validation import ClientData
    from app.store.writer import StoreWriter

    engine = make_engine(url)
    other = StoreWriter(engine)
    try:
        if what == "clinic":
            cs = ClinicSettings(max_current_ua=LOWERED_UA, eye_area_max_ua=LOWERED_UA)
            save_clinic(other, engine, cs)
        elif what == "client":
            data = ClientData("Ann Example", dt.date(1990, 1, 1), current_limit_ua=LOWERED_UA)
            other.save_client(dataclasses.replace(data, id=cid)).result(5)
        else:
            today = dt.date.today()
            blocked = _answers(blocked=True)
            shown = get_client(engine, cid).screening  # a re-screening from the one stored
            other.add_screening(
                cid, blocked, today, add_months(today, 6), (), based_on=shown.id
            ).result(5)
        return time.monotonic()
    finally:
        other.close(5)
        engine.dispose()


def _run_while_another_room_saves(tmp_path, monkeypatch, capsys, url: str, what: str):
    """``run`` (its ``main``, in this process) for a client whose own limit is 80 µA, on
    the simulator; once the output runs at 80 µA another room saves ``what``. Returns
    the exit code, the JSON summary, when the save was committed and the delivered
    level recorded 50 ms at a time (times on the simulator's clock, as the save's)."""
    import app.engine.authority as authority_module
    from app.__main__ import main
    from app.device.protocol import DeviceState
    from app.device.sim_process import SimulatorProcess
    from app.store.database import make_engine
    from app.store.services import load_recording, session_history

    cid = _client_with_limit(url, 80.0)
    saved_at: list[float] = []  # when the other room's save was committed
    savers: list[threading.Thread] = []

    class Watched(authority_module.OutputAuthority):
        """The run's own authority, so that the save comes once the output runs."""

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.status_received.connect(self._maybe_save)

        def _maybe_save(self, status) -> None:
            if savers or status.state is not DeviceState.RUNNING or status.setpoint_ua < 79:
                return
            # the other room saves on a thread of its own: the run's thread goes on
            save = threading.Thread(
                target=lambda: saved_at.append(_other_room_saves(url, cid, what))
            )
            savers.append(save)
            save.start()

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
        for save in savers:
            save.join(10)
    out, err = capsys.readouterr()
    assert saved_at, f"the output never ran at 80 µA: {err}"
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
    finally:
        engine.dispose()
    at = zero + first / rec.sample_rate + rec.t_s  # each sample's time
    current = np.where(np.isfinite(rec.current_ua), np.abs(rec.current_ua), 0.0)
    # the level delivered, 50 ms at a time (a biphasic wave crosses zero in between)
    edges = np.arange(at[0], at[-1], 0.05)
    level = np.array([current[(at >= a) & (at < a + 0.05)].max(initial=0.0) for a in edges])
    return code, json.loads(out), cid, saved_at[0], edges, level


def _acted_at(edges, level, saved: float) -> float:
    """When the delivered level began to fall after the save (it ran at 80 µA before)."""
    assert level[edges < saved].max() > 70.0
    falling = edges[(edges > saved) & (level < 70.0)]
    assert falling.size, "the output was never lowered"
    return float(falling[0])


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
    from app.store.database import make_engine
    from app.store.eligibility import read_facts

    url = new_sqlite_url
    code, summary, cid, saved, edges, level = _run_while_another_room_saves(
        tmp_path, monkeypatch, capsys, url, what
    )
    assert code == 0, summary["errors"]
    assert summary["output_stopped_by_authority"] == []  # lowered, not stopped
    (low,) = summary["output_lowered_by_authority"]
    assert low["amplitude_ua"] == LOWERED_UA
    assert f"limited to 20 µA by the {layer}" in low["reason"]
    # lowered within about a second: another room's save is read within one poll of
    # the store's watch (1 s for the clinic row, 0.5 s for the client's record)
    acted = _acted_at(edges, level, saved)
    assert acted - saved <= 1.5, f"lowered {acted - saved:.2f} s after the save"
    # and the device slews to the new level over the step's ramp time (1 s)
    under = level[edges >= acted + 1.1]
    assert under.size >= 10  # at least half a second of it
    # the simulated ADC's uncalibrated gain (1 %) and offset (0.8 µA) error, its noise
    assert under.max() <= LOWERED_UA * 1.03 + 1.0
    engine = make_engine(url)
    try:
        comfort = dict(read_facts(engine, cid).comfort_ua)
    finally:
        engine.dispose()
    assert comfort, "no comfortable level was stored"
    assert max(comfort.values()) <= LOWERED_UA


def test_a_screening_saved_as_blocked_in_another_room_stops_a_run(
    qapp, tmp_path, monkeypatch, capsys, new_sqlite_url
):
    """Eligibility, watched the same way: the output stops within about a second of the
    other room's save, the summary names the authority's stop and the run exits 1."""
    code, summary, _cid, saved, edges, level = _run_while_another_room_saves(
        tmp_path, monkeypatch, capsys, new_sqlite_url, "screening"
    )
    assert code == 1
    (why,) = summary["output_stopped_by_authority"]
    assert "may not be treated" in why
    assert "Pregnancy" in why
    acted = _acted_at(edges, level, saved)
    assert acted - saved <= 1.5, f"stopped {acted - saved:.2f} s after the save"
    # ramped down (the step's ramp time, 1 s) and ended: the recording ends with it
    assert edges[-1] - acted <= 1.3
    assert level[-1] < 40.0


def test_damaged_clinic_settings_run_on_the_defaults_and_are_named_once(
    qapp, tmp_path, monkeypatch, capsys, new_sqlite_url
):
    """A stored clinic maximum that is not a number: the run uses the default and its
    summary names the problem once (read at the start and again by the watch)."""
    from app.__main__ import main
    from app.store.runtime import start_store

    url = new_sqlite_url
    store = start_store(url)
    try:
        save_clinic(store.writer, store.engine, {"max_current_ua": "lots"})
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
