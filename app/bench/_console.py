"""The real console in this process for benchmarks: window offscreen, simulator over a pty.

``with ConsoleRun(record=True) as run: run.start_output(); run.spin(10); ...`` shows the
main window (technician workspace: the full scope, measuring every capture), opens the
simulator process through the DeviceManager (a pseudo-terminal, the real driver thread),
and, with ``record=True``, records the stream as a session through the engine's
SessionRecorder and the real StoreWriter into a temporary SQLite database. Every block
the console receives is counted; gaps in the sample index are counted as dropped.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from app.bench._qt import application, spin_until

TYPICAL = dict(
    waveform="SQUARE",
    frequency_hz=10.0,
    amplitude_ua=200.0,
    polarity="ALTERNATING",
    alternate_s=2.0,
    ramp_s=1.0,
)


class BenchError(RuntimeError):
    """The console could not be brought to the state the benchmark needs."""


class ConsoleRun:
    def __init__(
        self, *, record: bool = False, workspace: str = "technician", sample_rate: int | None = None
    ) -> None:
        self.record = record
        self.simulator_rate = sample_rate  # None: the simulator's default (10 kS/s)
        self.workspace = workspace
        self.samples = 0
        self.gap_samples = 0
        self.gaps = 0
        self.blocks = 0
        self.first_index: int | None = None
        self._next: int | None = None
        self.store = None
        self.recorder = None
        self.db_path: Path | None = None

    # ------------------------------------------------------------------ lifetime

    def __enter__(self) -> ConsoleRun:
        from PySide6.QtCore import QSettings

        from app.ui.device_manager import DeviceManager
        from app.ui.main_window import MainWindow

        application()
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-console-")
        tmp = Path(self._tmp.name)
        self.device = DeviceManager()
        self.window = MainWindow(
            self.device, QSettings(str(tmp / "console.ini"), QSettings.Format.IniFormat)
        )
        try:
            # a window built without records: nobody signs in, no workspace is gated (the
            # console proper asks who is working once its records are open)
            if not self.window.switch_workspace(self.workspace):
                raise BenchError(f"could not open the {self.workspace} workspace")
            self.window.show()
            if self.record:
                self._open_store(tmp)
            from app.device.firmware import simulator_args_for

            sim_args = simulator_args_for(self.simulator_rate) if self.simulator_rate else []
            if not self.device.open(None, simulator_args=sim_args):
                raise BenchError("could not start the simulator")
            self.link = self.device.link
            self.link.samples_received.connect(self._count)
            if self.recorder is not None:
                self.link.samples_received.connect(self.recorder.on_samples)
            if not spin_until(lambda: self.device.info is not None, 15):
                raise BenchError("the simulator did not answer HELLO within 15 s")
            info = self.device.info
            if self.recorder is not None:
                self.recorder.set_device(info.serial, info.firmware)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.recorder is not None and self.recorder.recording:
                from app.store.models import Outcome

                self.recorder.close(Outcome.COMPLETED)
            if self.store is not None:
                self.store.close(30.0)
        finally:
            self.device.close()
            self.window.close()
            self._tmp.cleanup()

    def _open_store(self, tmp: Path) -> None:
        from app.engine.recorder import SessionRecorder
        from app.store.runtime import start_store

        self.db_path = tmp / "records.sqlite"
        self.store = start_store(f"sqlite:///{self.db_path}")
        info = self.store.info
        self.recorder = SessionRecorder(
            self.store.writer,
            info.training_client_id,
            training=True,
            operator_id=info.default_operator_id,
        )
        self.recorder.set_program("manual")

    # ------------------------------------------------------------------ driving

    @property
    def simulator(self):
        return self.device.simulator

    @property
    def sample_rate(self) -> float:
        return float(self.device.info.sample_rate)

    def start_output(self, **settings: object) -> None:
        """Output on with ``settings`` (default: a typical step); waits until it runs."""
        from app.device.protocol import DeviceState
        from app.device.waveform import OutputSettings, Polarity, Waveform
        from app.engine.session import SessionState

        s = {**TYPICAL, **settings}
        out = OutputSettings(
            Waveform[str(s["waveform"])],
            float(s["frequency_hz"]),
            float(s["amplitude_ua"]),
            Polarity[str(s["polarity"])],
            float(s["alternate_s"]),
            float(s["ramp_s"]),
        )
        # as the output panel does: through the output authority (scope reference too)
        port = self.window.authority.port(self.window.current_workspace().driver)
        port.request_start_with(out)  # START once the device took the settings
        if self.recorder is not None:
            self.recorder.on_state(SessionState.RAMPING_UP)
        if not spin_until(
            lambda: self.device.state in (DeviceState.RAMP_UP, DeviceState.RUNNING), 5
        ):
            raise BenchError(f"output did not start (device state {self.device.state})")
        if self.recorder is not None:
            self.recorder.on_state(SessionState.RUNNING)

    def stop_output(self) -> None:
        from app.device.protocol import DeviceState
        from app.engine.session import SessionState

        self.window.authority.stop()
        spin_until(lambda: self.device.state == DeviceState.IDLE, 5)
        if self.recorder is not None:
            self.recorder.on_state(SessionState.COMPLETE)

    def spin(self, seconds: float) -> None:
        """Run the console's event loop for ``seconds`` (this is the GUI thread).

        A real ``QEventLoop.exec()`` that sleeps between events, as the console's own loop
        does (not a polling loop, which would burn a core and spoil the CPU figure).
        """
        from PySide6.QtCore import QEventLoop, QTimer

        loop = QEventLoop()
        QTimer.singleShot(max(0, int(seconds * 1000)), loop.quit)
        loop.exec()

    def _count(self, block) -> None:
        self.blocks += 1
        if self.first_index is None:
            self.first_index = block.first_index
        elif block.first_index != self._next:
            self.gaps += 1
            self.gap_samples += max(0, block.first_index - (self._next or 0))
        self._next = block.first_index + len(block)
        self.samples += len(block)

    # ------------------------------------------------------------------ results

    def stored_samples(self) -> int:
        """Samples in the recording chunks of the database (after the writer flushed)."""
        if self.store is None:
            return 0
        from sqlalchemy import func, select
        from sqlalchemy.orm import Session

        from app.store.models import RecordingChunk

        if not self.store.writer.flush(30.0):
            raise BenchError("the store writer did not catch up within 30 s")
        with Session(self.store.engine) as s:
            return int(s.scalar(select(func.coalesce(func.sum(RecordingChunk.n), 0))) or 0)


def wall_clock_offset(run: ConsoleRun) -> float:
    """The simulator's sample-0 time on ``time.monotonic()`` (raises if unknown)."""
    t0 = run.simulator.sample_zero_time() if run.simulator is not None else None
    if t0 is None or not math.isfinite(t0):
        raise BenchError("the simulator did not report when its sample 0 was produced")
    return t0


def now() -> float:
    return time.monotonic()


ISOLATED_ENV = "MICROCURRENT_BENCH_ISOLATED"


def in_fresh_process(
    module: str,
    args: argparse.Namespace | None,
    options: dict,
    run_here: Callable[[argparse.Namespace | None], dict],
    timeout_s: float,
) -> dict:
    """Run benchmark ``module`` in a process of its own and return its figures.

    ``bench all`` runs every benchmark in one process: windows, timers and memory left by
    the benchmarks before would be measured too (CPU, RSS, a busy GUI thread). The child
    runs ``python -m MODULE --json --OPTION VALUE...`` with :data:`ISOLATED_ENV` set, which
    makes ``run`` measure in that process (``run_here``).
    """
    if os.environ.get(ISOLATED_ENV):
        return run_here(args)
    argv = [sys.executable, "-m", module, "--json"]
    for name, default in options.items():
        value = getattr(args, name, None) or default
        argv += [f"--{name}", str(value)]
    env = dict(os.environ, **{ISOLATED_ENV: "1"})
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=env,
            cwd=Path(__file__).resolve().parents[2],
        )
    except subprocess.TimeoutExpired:
        return {"error": f"{module} did not finish within {timeout_s:.0f} s", "passed": False}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        tail = proc.stderr.strip().splitlines()[-3:]
        return {
            "error": f"{module} exited with code {proc.returncode}: {' | '.join(tail)}",
            "passed": False,
        }
    return json.loads(lines[-1])


def child_main(
    doc: str | None,
    run_here: Callable[[argparse.Namespace | None], dict],
    options: dict[str, tuple[type, object, str]],
) -> None:
    """``python -m app.bench.NAME [--json] [--OPTION VALUE]``: run here, print figures."""
    p = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    for name, (kind, default, text) in options.items():
        p.add_argument(f"--{name}", type=kind, default=default, help=text)
    args = p.parse_args()
    os.environ[ISOLATED_ENV] = "1"
    result = run_here(args)
    print(json.dumps(result) if args.json else result, flush=True)
