"""Crash safety: a process writing a session is killed with SIGKILL mid-session."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from store_fixtures import pg_cluster, store_url  # noqa: F401

from app.store import services
from app.store.database import open_store
from app.store.models import Outcome

ROOT = Path(__file__).resolve().parents[1]
RATE = 1000

CHILD = """
import sys, time
import numpy as np
from app.store.database import open_store
from app.store.writer import StoreWriter

engine, info = open_store(sys.argv[1])
w = StoreWriter(engine)
uid = w.begin_session(info.training_client_id, program="crash test")
print("uid", uid, flush=True)
t0 = time.monotonic()
idx = ticks = 0
while True:  # 20 blocks of 50 samples per second, paced like the device; 10 events/s
    delay = t0 + idx / 1000 - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    values = np.arange(idx, idx + 50, dtype=np.float32)
    w.add_sample_arrays(uid, idx, 1000.0, values, -values)
    idx += 50
    if idx % 100 == 0:
        w.add_event(uid, "tick", {"n": ticks})
        ticks += 1
    print("fed", idx, ticks, flush=True)
"""


def _read_line(proc: subprocess.Popen, deadline: float) -> str:
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if not line:
                break
            return line
    proc.kill()
    proc.wait()
    raise AssertionError(f"child gave no output: {proc.stderr.read()}")


def test_sigkill_mid_session_loses_at_most_about_one_second(store_url):  # noqa: F811
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, store_url],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    try:
        uid = _read_line(proc, deadline).split()[1]
        while True:
            _, fed, ticks = _read_line(proc, deadline).split()
            if int(fed) >= 2.0 * RATE:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    fed, ticks = int(fed), int(ticks)

    engine, info = open_store(store_url)  # opens cleanly after the kill
    try:
        assert info.interrupted_sessions == 1
        detail = services.session_detail(engine, uid)
        assert detail.summary.outcome is Outcome.INTERRUPTED
        assert detail.summary.ended_at is not None
        rec = services.load_recording(engine, detail.summary.id)
        # every stored sample is intact and in place, from the first one on ...
        np.testing.assert_array_equal(rec.current_ua, np.arange(rec.n_samples))
        np.testing.assert_array_equal(rec.voltage_v, -rec.current_ua)
        # ... and only the last second or so (one chunk being filled) is missing
        assert rec.n_samples >= fed - 1.5 * RATE, (rec.n_samples, fed)
        got = [e.payload["n"] for e in detail.events if e.kind == "tick"]
        assert got == list(range(len(got)))
        assert len(got) >= ticks - 10, (len(got), ticks)
    finally:
        engine.dispose()


def test_a_step_under_way_when_the_console_is_killed_is_recorded(store_url):  # noqa: F811
    """What a kill -9 leaves in the store, made in process: the session recorder wrote 7 s
    of a step, then its process vanished (no end, no step end, its heartbeat not cleared).
    The next start keeps the step with its figures up to the last update (every
    PROGRESS_S) and says it ended early by the interruption; the session ends at its last
    sample, not at its last event."""
    import datetime as dt

    from sqlalchemy import update
    from sqlalchemy.orm import Session
    from test_engine_recorder import block

    from app.engine.recorder import PROGRESS_S, SessionRecorder
    from app.engine.session import SessionState
    from app.store.models import TreatmentSession
    from app.store.writer import StoreWriter

    engine, info = open_store(store_url)
    w = StoreWriter(engine)
    try:
        rec = SessionRecorder(w, info.training_client_id)
        rec.set_program("full_face_lift")
        rec.on_step(0, "masseter_l,masseter_r", {"step": "Jaw"}, 120.0)
        rec.on_state(SessionState.RAMPING_UP)
        rec.on_state(SessionState.RUNNING)
        for k in range(7 * 1000 // 100):  # 7 s at 1 kS/s, 100 µA
            rec.on_samples(block(100 * k, 100, on=True))
        assert w.flush(5)
        # fed at once here, at the device's pace there: the session (and the heartbeat its
        # start wrote) a minute ago
        started = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=1)
        with Session(engine) as s, s.begin():
            s.execute(
                update(TreatmentSession)
                .where(TreatmentSession.uid == rec.session_uid)
                .values(writer_pid=99_999_999, started_at=started, heartbeat_at=started)
            )  # and its process is gone
        uid = rec.session_uid
        w._open.clear()  # killed: nothing more is written for it
    finally:
        w.close()
    engine.dispose()
    engine, info = open_store(store_url)
    try:
        assert info.interrupted_sessions == 1
        detail = services.session_detail(engine, uid)
        assert detail.summary.outcome is Outcome.INTERRUPTED
        (step,) = detail.steps
        # written at its first block (0.1 s), brought up to date every PROGRESS_S since:
        # the last time before the kill at 7 s
        upto = 0.1 + PROGRESS_S * int((7.0 - 0.1) / PROGRESS_S + 1e-9)
        assert 7.0 - PROGRESS_S < upto <= 7.0
        assert step.actual_s == pytest.approx(upto)
        assert step.mean_current_ua == pytest.approx(100.0)
        assert step.charge_uc == pytest.approx(100.0 * upto)
        assert step.parameters == {"step": "Jaw", "ended_early": "interrupted"}
        # its last stored sample (no heartbeat since its start, no event after it): all
        # but the last quarter second the recorder held for the writer
        stored = services.load_recording(engine, detail.summary.id).n_samples / 1000
        assert 6.7 <= stored <= 7.0
        assert (detail.summary.ended_at - started).total_seconds() == pytest.approx(stored)
    finally:
        engine.dispose()
