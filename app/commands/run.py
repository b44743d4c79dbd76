"""``python -m app run``: a headless treatment run against a device, recorded in the store.

For burn-in, automation and demonstrations. The run goes through exactly the same
engine as the console — the output authority, which follows the store's facts while the
run goes on (the clinic's limits, the client's own limit and the client's eligibility:
screening, consent and expiry), the session state machine, programs — and the same store
writer. A client who may not be treated is refused before the device is touched; one who
stops being eligible during the run, or records that cannot be written, stop the output,
and the run exits 1. A limit lowered during the run (here or in another room) lowers the
output at once; the summary says when and why.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

SIMULATOR_START_TIMEOUT_S = 15.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run", help="run a treatment program headless, recorded in the store", description=__doc__
    )
    p.add_argument("--program", required=True, help="program ID (see `programs list`)")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--client", type=int, help="client ID in the store")
    who.add_argument(
        "--training",
        action="store_true",
        help="run on the built-in training client (marked as training)",
    )
    p.add_argument(
        "--seconds",
        type=float,
        required=True,
        help="stop (ramped) after this many seconds, or earlier at program end",
    )
    p.add_argument("--port", help="serial port or URL (default: start the simulator)")
    p.add_argument("--database-url", help="store URL (default: the local SQLite file)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=main)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    return 2


def main(args: argparse.Namespace) -> int:  # noqa: C901 - one linear procedure
    if not (args.seconds > 0):
        return _fail(f"--seconds must be above 0 (got {args.seconds})")
    from PySide6.QtCore import QCoreApplication, QObject, QSettings, QTimer, Signal, Slot

    from app import paths
    from app.device.link import DeviceLink
    from app.device.sim_process import SimulatorProcess
    from app.engine.authority import Driver, OutputAuthority
    from app.engine.client_watch import ClientWatch
    from app.engine.clinic_watch import ClinicSettingsWatch
    from app.engine.controller import SessionController
    from app.engine.programs import ProgramError, load_library
    from app.engine.recorder import SessionRecorder
    from app.engine.session import SessionState
    from app.service.clinic_limits import store_clinic_settings
    from app.store.database import StoreError, open_store
    from app.store.eligibility import read_facts
    from app.store.writer import StoreWriter

    try:
        engine, store = open_store(args.database_url)
    except StoreError as exc:
        return _fail(str(exc))
    try:
        library = load_library()
    except ProgramError as exc:
        return _fail(str(exc))
    program = next((p for p in library.programs if p.id == args.program), None)
    if program is None:
        known = ", ".join(sorted(p.id for p in library.programs))
        return _fail(f"no program with ID '{args.program}'. Known: {known}")

    client_id = store.training_client_id if args.training else args.client
    # The same facts the output authority decides from (screening, consent, expiry): a
    # client who may not be treated is told so before the device is touched.
    facts = read_facts(engine, client_id)
    if facts.error:
        return _fail(
            f"no client with ID {client_id} in {store.url}"
            if "no longer exists" in facts.error
            else f"client {client_id}: {facts.error}"
        )
    if not (facts.allowed or facts.is_training):
        return _fail(
            f"client {client_id} may not be treated now "
            f"(screening {facts.status}): {facts.summary()}"
        )
    # the clinic's limits are the store's (shared by every room); an old settings.ini's
    # are imported once into a store that never had them
    try:
        clinic, clinic_problems = store_clinic_settings(
            engine,
            QSettings(str(paths.settings_file()), QSettings.Format.IniFormat),
            store.default_operator_id,
        )
    except Exception as exc:  # noqa: BLE001 - never a traceback; no output without limits
        from app.store.database import describe_error

        return _fail(f"the clinic settings could not be read: {describe_error(exc)}")

    qapp = QCoreApplication.instance() or QCoreApplication(sys.argv[:1])
    sim = None
    port = args.port
    if port is None:
        sim = SimulatorProcess()
        try:
            port = sim.start(SIMULATOR_START_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - reported to the user
            return _fail(f"could not start the device simulator: {exc}")

    errors: list[str] = []

    def note(message: str) -> None:  # each problem once, however often it is read again
        if message not in errors:
            errors.append(message)

    def note_clinic(problems: list[str]) -> None:  # each names the default used instead
        for p in problems:
            note(f"clinic settings: {p}")

    note_clinic(clinic_problems)

    class _Relay(QObject):
        """Store failures, from the writer's thread to this one (a queued signal)."""

        failed = Signal(str)

        def __init__(self) -> None:
            super().__init__()
            self.failed.connect(self._failed)

        @Slot(str)
        def _failed(self, message: str) -> None:
            errors.append(message)
            authority.records_failed(message)  # no output goes on unrecorded

    relay = _Relay()
    writer = StoreWriter(engine, on_error=relay.failed.emit)
    recorder = SessionRecorder(
        writer, client_id, training=args.training, operator_id=store.default_operator_id
    )
    recorder.set_program(program.id)
    link = DeviceLink(port)
    authority = OutputAuthority(clinic, owner=Driver.RUN)
    authority.set_link(link)
    # the store's facts, followed while the run goes on (as the console follows them):
    # the client's record (eligibility, own limit) and the clinic's limits
    watch = ClientWatch(engine, writer)
    authority.set_watch(watch)
    clinic_watch = ClinicSettingsWatch(engine, writer)
    authority.clinic_read.connect(lambda _record, problems: note_clinic(problems))
    clinic_watch.read_failed.connect(note)
    authority.follow_clinic(clinic_watch)
    revoked: list[str] = []
    authority.output_revoked.connect(lambda _driver, why: revoked.append(why))
    lowered: list[dict[str, Any]] = []
    began = time.monotonic()

    def on_lowered(_driver, why: str) -> None:
        sent = authority.commanded
        lowered.append(
            {
                "after_s": round(time.monotonic() - began, 2),
                "amplitude_ua": None if sent is None else sent.amplitude_ua,
                "reason": why,
            }
        )

    authority.output_lowered.connect(on_lowered)
    controller = SessionController(authority, driver=Driver.RUN)
    summary: dict[str, Any] = {
        "program": program.id,
        "client_id": client_id,
        "training": bool(args.training),
        "port": port,
    }
    started = {"done": False, "stopping": False}

    def on_connected(info) -> None:
        recorder.set_device(info.serial, info.firmware)
        summary["device"] = {"model": info.model, "serial": info.serial, "firmware": info.firmware}
        if not started["done"]:
            controller.watch_client(client_id)  # eligibility arrives from the store watch
            controller.load_program(program)

    def on_step(view) -> None:
        if view is None or view.finished:  # the last step is written at the session's end
            return
        step = program.steps[view.step_index]
        recorder.on_step(
            view.step_index,
            ",".join(view.zones) or "manual",
            {"step": step.name, **step.to_json()},
            step.duration_s,
        )

    def on_state(state: SessionState) -> None:
        view = controller.guided_view()
        recorder.on_state(state, program_finished=bool(view and view.finished))
        if state == SessionState.READY and not started["done"]:
            started["done"] = True
            controller.start()
        elif (
            started["done"]
            and not recorder.recording
            and state != SessionState.READY
            and state not in (SessionState.RAMPING_UP,)
        ):
            finish()

    def stop_run() -> None:
        if recorder.recording:
            started["stopping"] = True
            controller.stop()
        else:
            finish()

    def finish() -> None:
        if summary.get("finished"):
            return
        summary["finished"] = True
        summary["final_state"] = controller.state.value
        QTimer.singleShot(0, qapp.quit)

    def give_up() -> None:
        errors.append(f"the run did not finish within {args.seconds + 60:.0f} s")
        controller.estop()
        finish()

    link.connected.connect(on_connected)
    link.samples_received.connect(recorder.on_samples)
    controller.record_emitted.connect(recorder.on_record)
    controller.state_changed.connect(on_state)
    controller.step_changed.connect(on_step)
    controller.alarm.connect(lambda text: errors.append(text))
    feed = QTimer()
    feed.timeout.connect(link.feed_watchdog)
    feed.start(100)
    QTimer.singleShot(int(args.seconds * 1000), stop_run)
    QTimer.singleShot(int((args.seconds + 60) * 1000), give_up)
    link.start()
    qapp.exec()

    feed.stop()
    if recorder.recording:  # the run ended some other way (link lost, give-up)
        recorder.close(recorder.outcome or _outcome_for(controller.state))
    controller.shutdown()
    link.stop(3000)
    watch.close()
    clinic_watch.close()
    if sim is not None:
        sim.stop()
    flushed = writer.flush(10.0)
    writer.close(10.0)
    engine.dispose()
    summary.update(
        {
            "outcome": recorder.outcome.value if recorder.outcome else None,
            "sessions_recorded": recorder.sessions_recorded,
            "samples_recorded": recorder.samples_recorded,
            "store": store.url,
            "errors": errors,
            "output_lowered_by_authority": lowered,
            "output_stopped_by_authority": revoked,
        }
    )
    if args.json:
        print(json.dumps(summary, indent=2), flush=True)
    else:
        print(
            f"program {program.id} on client {client_id}: outcome {summary['outcome']}, "
            f"{recorder.samples_recorded} samples recorded in {store.url}",
            flush=True,
        )
        for e in errors:
            print(f"  alarm: {e}", flush=True)
        for low in lowered:
            to = "" if low["amplitude_ua"] is None else f" to {low['amplitude_ua']:g} µA"
            print(f"  output lowered{to} after {low['after_s']:g} s: {low['reason']}", flush=True)
        for why in revoked:
            print(f"  output stopped: {why}", flush=True)
    ok = recorder.sessions_recorded > 0 and flushed and not revoked
    return 0 if ok else 1


def _outcome_for(state):
    from app.engine.recorder import END_OUTCOMES
    from app.store.models import Outcome

    return END_OUTCOMES.get(state, Outcome.INTERRUPTED)
