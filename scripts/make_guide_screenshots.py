"""Regenerates the guides' screenshots that need interaction (docs/images/guide_*.png).

Drives the real console offscreen: the same MainWindow, DeviceManager (built-in simulator)
and records store as ``python -m app``, in a fresh MICROCURRENT_HOME, and saves
``window.grab()`` at each state a guide describes. The plain workspace pictures come from
the console's own ``--screenshot`` option (see docs/index.md).

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/make_guide_screenshots.py [OUT_DIR]

Takes about two minutes: it first records two short headless training sessions
(``python -m app run``) so the history, session detail, heat map and replay have data.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HOME = Path(tempfile.mkdtemp(prefix="guide_shots_"))
os.environ["MICROCURRENT_HOME"] = str(HOME)
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "images"
OUT.mkdir(parents=True, exist_ok=True)
SIZE = (1500, 960)


def headless_runs() -> None:
    """Two recorded training sessions, so there is a history to show."""
    for program, seconds in (("full_face_lift", 20), ("toning", 12)):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "app",
                "run",
                "--program",
                program,
                "--training",
                "--seconds",
                str(seconds),
            ],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )


def main() -> int:
    headless_runs()

    from app.ui.device_manager import DeviceManager
    from app.ui.launcher import console_settings, make_application, open_records
    from app.ui.main_window import MainWindow

    app = make_application()
    # nobody can type here: a manager signs in from the environment (the first start of
    # this fresh MICROCURRENT_HOME creates them), so every workspace opens
    os.environ.setdefault("MICROCURRENT_OPERATOR", "Maya Okafor")
    os.environ.setdefault("MICROCURRENT_OPERATOR_SECRET", "guide-pictures")
    store, error = open_records(None)
    if store is None:
        print(f"error: records store: {error}", file=sys.stderr)
        return 1
    device = DeviceManager()
    window = MainWindow(device, console_settings(), store, error)
    window.resize(*SIZE)
    window.show()
    device.open(None)

    def pump(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    def wait(cond, what: str, timeout: float = 20.0) -> None:
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                hint = desk.guided.hint.text() if desk.guided is not None else ""
                raise RuntimeError(
                    f"timed out waiting for {what} (session state "
                    f"{getattr(desk.controller, 'state', None)}; {hint})"
                )
            app.processEvents()
            time.sleep(0.01)

    def shot(name: str, widget=None) -> None:
        window.resize(*SIZE)  # a long message may have widened the window: shrink it back
        pump(0.4)
        path = OUT / f"guide_{name}.png"
        if not (widget or window).grab().save(str(path)):
            raise RuntimeError(f"could not write {path}")
        print(f"saved {path}")

    desk = window.workspaces["practitioner"]
    try:
        return shoot_all(window, device, store, desk, wait, pump, shot)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        device.close()
        for ws in window.workspaces.built():
            ws.shutdown()
        store.close(10)
        window.close()


def shoot_all(window, device, store, desk, wait, pump, shot) -> int:
    from PySide6.QtCore import QDate

    from app.device.protocol import SimOp
    from app.device.waveform import OutputSettings, Polarity, Waveform
    from app.engine.session import SessionState
    from app.store.services import session_history

    wait(lambda: device.link is not None and device.link.is_connected, "live data")
    ctl = desk.controller
    wait(lambda: ctl.state == SessionState.READY, "the desk to be ready")
    records = desk.records
    training_id = store.info.training_client_id

    # -- a new client: the editor with its validation message
    desk.tabs.setCurrentIndex(1)
    records.clients.new_button.click()
    ed = records.editor
    ed.name.setText("")
    ed.contact.setText("anna@example.org")
    ed.dob.setDate(QDate(1890, 5, 12))  # a typo in the year
    shot("client_invalid", desk.tabs)
    ed.name.setText("Anna Example")
    ed.dob.setDate(QDate(1984, 5, 12))
    ed.limit_on.setChecked(True)
    ed.limit.setValue(250)
    ed.save_button.click()
    wait(lambda: ed.client_id is not None, "the client to be saved")
    # saving chooses the client, and the desk then shows its Treatment tab: go back
    desk.tabs.setCurrentIndex(1)
    records.tabs.setCurrentWidget(records.screening)

    # -- screening: an absolute contraindication blocks; a relative one needs an override
    form = records.screening
    for item in form.q.items:
        if item.asked:
            form.set_answer(item.id, False if item.type == "yes_no" else None)
    form.set_answer("pregnancy", True)
    form.consent.setChecked(True)
    shot("screening_blocked", desk.tabs)
    form.set_answer("pregnancy", False)
    form.set_answer("fillers_botox", (dt.date.today() - dt.timedelta(days=10)).isoformat())
    shot("screening_override", desk.tabs)

    # -- the training client's history and one session's detail
    records.clients.select_client(training_id)
    wait(lambda: records.history.client_id == training_id, "the training client")
    desk.tabs.setCurrentIndex(1)
    records.tabs.setCurrentWidget(records.history)
    shot("history", desk.tabs)
    sessions = session_history(store.engine, training_id)
    lift = next(s for s in sessions if s.program == "full_face_lift")
    records.open_session(lift.id)
    shot("session_detail", desk.tabs)

    # -- the treatment tab: history heat map, then a guided run
    desk.choose_client(training_id)
    desk.tabs.setCurrentIndex(0)
    desk.history_button.setChecked(True)
    shot("heatmap")
    desk.history_button.setChecked(False)
    desk.program_box.setCurrentIndex(desk.program_box.findData("eye_area"))
    wait(
        lambda: (
            ctl.state == SessionState.READY
            and desk.guided.start_button.isEnabled()
            and ctl.guided_view().program_id == "eye_area"
        ),
        "ready with the eye-area program",
    )
    desk.guided.start_button.click()
    wait(lambda: ctl.state == SessionState.RUNNING, "the output to run", timeout=30.0)
    pump(1.5)
    shot("running")

    # -- contact loss: the simulator lifts the probes
    device.link.sim_control(SimOp.SET_CONTACT, 0.0)
    wait(lambda: ctl.state == SessionState.CONTACT_LOST, "contact loss")
    pump(0.8)
    shot("contact_lost")
    device.link.sim_control(SimOp.SET_CONTACT, 1.0)
    pump(0.8)

    # -- emergency stop (Esc), then Reset
    window.emergency_stop()
    wait(lambda: ctl.state == SessionState.ESTOPPED, "the emergency stop")
    pump(0.8)
    shot("estopped")
    ctl.reset()
    wait(lambda: ctl.state in (SessionState.READY, SessionState.IDLE), "reset")
    pump(0.5)

    # -- trainer: replay of the recorded full-face session
    if not window.switch_workspace("trainer"):
        raise RuntimeError("could not open the trainer workspace")
    trainer = window.workspaces["trainer"]
    studio = trainer.studio
    pump(0.5)
    trainer.demo_start()  # the studio's own Start: a session on the training client
    pump(4.0)
    for shape, polarity in (
        (Waveform.SINE, Polarity.BIPHASIC),
        (Waveform.SQUARE, Polarity.POSITIVE),
    ):
        studio.add_overlay(OutputSettings(shape, 10.0, 100.0, polarity, 2.0, 1.0))
    shot("overlay")
    studio.clear_overlays()
    studio.stop_output()
    pump(2.5)

    # replay: 5 s across the screen ending 4.6 s in shows the ramp and the polarity flips
    loaded: list[bool] = []  # the replay is read off the GUI thread: replay_loaded(ok)
    trainer.replay_loaded.connect(loaded.append)
    trainer.replay(lift.id)
    wait(lambda: bool(loaded), "the replay to load")
    if not loaded[0]:
        raise RuntimeError("the replay was refused")
    studio.set_time_base(5.0)
    studio.seek(4.6)
    shot("replay")
    studio.close_recording()

    # (presentation mode: docs/images/trainer_presentation.png, made by the studio's tests)
    device.link.reset()  # clears a latched state before the bench
    pump(1.0)

    # -- technician: the self-test report
    if not window.switch_workspace("technician"):
        raise RuntimeError("could not open the technician workspace")
    tech = window.workspaces["technician"]
    bench = tech.bench
    wait(lambda: tech.output.start_button.isEnabled(), "the bench's Start (device idle)")
    tech.demo_start()  # the manual output panel's Start, as --demo does
    pump(4.0)
    capture = HOME / "capture.csv"
    tech.scope.export_csv(str(capture))
    print(f"capture for `python -m app measure`: {capture}")
    device.link.stop_output()
    pump(2.5)
    done = []
    bench.selftest_completed.connect(done.append)
    bench.tabs.setCurrentWidget(bench.selftest)
    bench.selftest.start()
    wait(lambda: done, "the self-test", timeout=40.0)
    shot("selftest")
    bench.tabs.setCurrentWidget(bench.log_view)
    pump(1.0)
    shot("framelog")
    return 0


if __name__ == "__main__":
    sys.exit(main())
