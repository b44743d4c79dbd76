"""Helpers of the fault-injection suite (tests/test_faults.py): the desk, sample capture,
a port that speaks only noise, and database faults. No test lives here."""

from __future__ import annotations

import contextlib
import os
import pty
import subprocess
import sys
import threading
import time
import tty
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from app.device.samples import SampleBlock
from app.engine.session import SessionState
from app.store.database import open_store
from app.store.models import Event, RecordingChunk, TreatmentSession
from app.store.recording import CHUNK_SECONDS
from app.store.runtime import RunningStore
from app.store.writer import StoreWriter
from app.ui.device_manager import DeviceManager
from app.ui.main_window import MainWindow

ROOT = Path(__file__).resolve().parents[1]
NOISE_UA = 5.0  # the simulator's current noise and ADC quantisation stay well below this


@dataclass
class Desk:
    """The console window on the practitioner's desk, with a temp SQLite store."""

    window: MainWindow
    device: DeviceManager
    store: RunningStore | None
    db_path: Path

    @property
    def practitioner(self):
        return self.window.workspaces["practitioner"]

    @property
    def controller(self):
        return self.practitioner.controller

    def close(self) -> None:
        self.device.close()
        for ws in self.window.workspaces.built():
            ws.shutdown()
        if self.store is not None:
            self.store.close(10)


def open_desk(
    qtbot,
    tmp_path: Path,
    simulator_args: list[str] | None = None,
    *,
    with_store: bool = True,
    ready: bool = True,
    chunk_seconds: float = CHUNK_SECONDS,
    retry_s: float = 1.0,
    url: str | None = None,
) -> Desk:
    """The console on the simulator (started with ``simulator_args``; none with ``None``)
    and a new SQLite store at ``url`` (default ``records.db`` in ``tmp_path``; a test passes
    the conftest's ``new_sqlite_url``), as ``start_store`` opens it; ``chunk_seconds`` and
    ``retry_s`` go to the store's writer (its own parameters: how much recording one chunk
    holds, how soon a refused write is tried again)."""
    db = Path(url.removeprefix("sqlite:///")) if url else tmp_path / "records.db"
    store = None
    if with_store:
        engine, info = open_store(f"sqlite:///{db}")
        store = RunningStore(
            engine, info, StoreWriter(engine, chunk_seconds=chunk_seconds, retry_s=retry_s)
        )
    device = DeviceManager()
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(device, settings, store)
    qtbot.addWidget(window)
    window.show()
    desk = Desk(window, device, store, db)
    if simulator_args is None:
        return desk
    try:
        with qtbot.waitSignal(window.live_data_seen, timeout=15000):
            assert device.open(None, simulator_args)
        if ready:
            qtbot.waitUntil(lambda: desk.controller.state == SessionState.READY, timeout=5000)
    except BaseException:
        desk.close()
        raise
    return desk


# A program whose output ramps up (and down) in 1 s, at 10 Hz as eye_area: eye_area's 2 s
# ramps would add two seconds of waiting to every session a fault case starts and stops.
QUICK_PROGRAM = "full_face_lift"


def start_session(qtbot, desk: Desk, program: str = QUICK_PROGRAM) -> None:
    """Start a guided program on the training head and wait until it runs."""
    p = desk.practitioner
    p.program_box.setCurrentIndex(p.program_box.findData(program))
    seen: list[str] = []
    desk.controller.state_changed.connect(lambda st: seen.append(st.value))
    p.guided.start_button.click()
    try:
        qtbot.waitUntil(lambda: desk.controller.state == SessionState.RUNNING, timeout=10000)
    except Exception as exc:
        raise AssertionError(
            f"the session did not start: states {seen}, banner {desk.window.banner.text()!r}"
        ) from exc


@dataclass
class Capture:
    """Every sample block a link delivers, with the GUI-thread arrival time."""

    blocks: list[SampleBlock] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)

    def __call__(self, block: SampleBlock) -> None:
        self.blocks.append(block)
        self.arrivals.append(time.monotonic())

    @property
    def count(self) -> int:
        return sum(len(b) for b in self.blocks)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(sample index, current µA, commanded level µA) of everything captured."""
        if not self.blocks:
            return np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.float32)
        idx = np.concatenate([b.first_index + np.arange(len(b)) for b in self.blocks])
        cur = np.concatenate([b.current_ua for b in self.blocks])
        lvl = np.concatenate([b.level_ua for b in self.blocks])
        return idx, cur, lvl


# ---------------------------------------------------------------- a port full of noise


class NoisePort:
    """A pseudo-terminal whose far end writes random bytes (os.urandom) and reads and
    discards whatever the console sends; ``path`` is what the console opens."""

    def __init__(self, bytes_per_s: int = 40_000, seed_chunk: int = 512) -> None:
        self.master, slave = pty.openpty()
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        self._slave = slave  # kept open so the pty survives the console's reopen attempts
        self._rate = bytes_per_s
        self._chunk = seed_chunk
        self._stop = threading.Event()
        self.sent = 0
        self.received = 0
        self._thread = threading.Thread(target=self._run, name="NoisePort", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import select as sel

        period = self._chunk / self._rate
        next_t = time.monotonic()
        while not self._stop.is_set():
            r, w, _ = sel.select([self.master], [self.master], [], 0.05)
            if r:
                with contextlib.suppress(OSError):
                    self.received += len(os.read(self.master, 4096))
            if w and time.monotonic() >= next_t:
                with contextlib.suppress(OSError):
                    self.sent += os.write(self.master, os.urandom(self._chunk))
                next_t += period
            else:
                self._stop.wait(min(period, 0.01))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for fd in (self.master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)


# ---------------------------------------------------------------- database faults


class SqliteFault:
    """Makes every connection of ``engine`` refuse writes the way SQLite itself does:

    * ``"readonly"``: ``PRAGMA query_only = ON`` → "attempt to write a readonly database";
    * ``"full"``: ``PRAGMA max_page_count`` = the file's current size → "database or disk is
      full" (SQLITE_FULL), exactly what a full disk gives.

    The pragma is set on each connection as the pool hands it out, so the store's
    writer thread meets it at its next transaction. ``clear()`` lifts the fault."""

    def __init__(self, engine, kind: str) -> None:
        assert kind in ("readonly", "full")
        self.engine = engine
        self.kind = kind
        self.active = False
        event.listen(engine, "checkout", self._on_checkout)

    def _on_checkout(self, dbapi_conn, record, proxy) -> None:
        cur = dbapi_conn.cursor()
        try:
            if self.active and self.kind == "readonly":
                cur.execute("PRAGMA query_only = ON")
            elif self.active:
                pages = cur.execute("PRAGMA page_count").fetchone()[0]
                cur.execute(f"PRAGMA max_page_count = {int(pages)}")
            else:
                cur.execute("PRAGMA query_only = OFF")
                cur.execute("PRAGMA max_page_count = 1073741823")
        finally:
            cur.close()

    def start(self) -> None:
        self.active = True

    def clear(self) -> None:
        self.active = False

    def remove(self) -> None:
        self.active = False
        event.remove(self.engine, "checkout", self._on_checkout)


# ---------------------------------------------------------------- store facts


def stored_facts(engine, session_id: int | None = None) -> dict[str, int]:
    """Row counts (sessions, events, chunks, samples) as stored, for before/after checks."""
    with Session(engine) as s:

        def count(model, *where):
            return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)

        ev_where = [] if session_id is None else [Event.session_id == session_id]
        ch_where = [] if session_id is None else [RecordingChunk.session_id == session_id]
        samples = s.scalar(select(func.coalesce(func.sum(RecordingChunk.n), 0)).where(*ch_where))
        return {
            "sessions": count(TreatmentSession),
            "events": count(Event, *ev_where),
            "chunks": count(RecordingChunk, *ch_where),
            "samples": int(samples or 0),
        }


def last_recorded_index(engine, session_id: int) -> int | None:
    """Index (device sample counter) one past the last stored sample of a session."""
    with Session(engine) as s:
        return s.scalar(
            select(func.max(RecordingChunk.first_index + RecordingChunk.n)).where(
                RecordingChunk.session_id == session_id
            )
        )


def run_app(tmp_path: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """``python -m app ARGS`` with a temp home; text output captured."""
    env = dict(os.environ, MICROCURRENT_HOME=str(tmp_path / "home"), QT_QPA_PLATFORM="offscreen")
    env.pop("MICROCURRENT_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# ---------------------------------------------------------------- in process, virtual time


class VirtualLine:
    """The simulated device and the console's receiving end in this process, on a
    virtual clock: no simulator process, no port, no thread, no waiting.

    The firmware model (``app/device/firmware.py``) runs on ``now``, which :meth:`run`
    advances in steps of the link worker's read batch (10 ms). What it sends is encoded
    as the simulator puts it on the line (with ``corrupt``, that fraction of the bytes
    changed, as ``--corrupt`` does) and read by the link worker's own receive path
    (``_LinkWorker._receive`` / ``_dispatch`` / ``_flush_samples``: the decoder, the link
    counters, the sample assembler), flushed every 20 ms as the worker does. The host
    sends what the link sends: HELLO, the owner's commands, and a HEARTBEAT every 0.1 s
    while ``fed`` (the console's GUI is alive). ``cut`` takes the line away both ways.
    """

    STEP_S = 0.01  # the worker's READ_BATCH_S
    FLUSH_EVERY = 2  # steps: SAMPLE_EMIT_PERIOD_S

    def __init__(self, *, seed: int = 1, corrupt: float = 0.0, sample_rate: int = 10_000):
        from app.device.firmware import Firmware
        from app.device.link import _LinkWorker

        self.now = 0.0
        self.fw = Firmware(sample_rate=sample_rate, seed=seed, now=0.0)
        self.worker = _LinkWorker("virtual://", 0)
        self.worker._wake_r.close()  # no thread to wake
        self.worker._wake_w.close()
        self.shown = Capture()
        self.statuses: list = []
        self.events: list = []
        self.worker.samples_received.connect(lambda b: self.shown(b))
        self.worker.status_received.connect(self.statuses.append)
        self.worker.event_received.connect(self.events.append)
        self.corrupt = corrupt
        self.fed = True
        self.cut = False
        self.info = None
        self.longest_silence = 0.0  # longest time without a good frame while connected
        self._rng = np.random.default_rng(seed)
        self._seq = 0
        self._last_hb = -1.0
        self._steps = 0
        self._rid = 0

    @property
    def stats(self):
        return self.worker.snapshot()

    def send(self, msg) -> None:
        """A host message, as the link writes it (lost while the line is cut)."""
        if not self.cut:
            self.fw.receive(msg, self.now)

    def request_id(self) -> int:
        self._rid += 1
        return self._rid

    def connect(self) -> None:
        """The link's handshake: HELLO until INFO, then streaming (as ``_stream`` starts)."""
        from app.device.link import SampleAssembler, _LinkDecoder, check_info
        from app.device.protocol import Hello, Info

        w = self.worker
        w._decoder = _LinkDecoder()  # a new session, a new decoder (as _session does)
        w._dec_seen = (0, 0, 0)
        self.info = None
        self.send(Hello(0))
        for _ in range(100):
            for _frame, msg in w._receive(self._line(), self.now):
                if isinstance(msg, Info) and check_info(msg) is None:
                    self.info = msg
            if self.info is not None:
                break
            self._tick()
        assert self.info is not None, "no INFO from the virtual device"
        w._assembler = SampleAssembler(self.info, w._counter.on_samples)
        w._counter.on_connected(self.now)

    def cut_line(self) -> None:
        """The cable is pulled: nothing passes either way; the device notices that its
        host is gone and stops streaming until the next HELLO (as the simulator does)."""
        self.cut = True
        self.fw.streaming = False

    def restore_line(self) -> None:
        """The cable is back; the console reconnects with its handshake (:meth:`connect`)."""
        self.cut = False
        self.worker._assembler = None
        self.worker._counter.on_disconnected()
        self.longest_silence = 0.0

    def start_output(self, settings) -> None:
        from app.device.protocol import Command, MsgType, SetOutput

        self.send(SetOutput(self.request_id(), settings))
        self.send(Command(MsgType.START, self.request_id()))

    def run(self, seconds: float) -> None:
        """Advance the virtual clock by ``seconds``, the line and the host working."""
        end = self.now + seconds - 1e-9
        w = self.worker
        while self.now < end:
            self._tick()
            data = self._line()
            if data:
                w._dispatch(w._receive(data, self.now), self.now)
            self._steps += 1
            if self._steps % self.FLUSH_EVERY == 0 and w._assembler is not None:
                w._flush_samples(self.now)
            if w._assembler is not None:
                age = w._counter.last_frame_age(self.now)
                self.longest_silence = max(self.longest_silence, age)
        if w._assembler is not None:
            w._flush_samples(self.now)

    def _tick(self) -> None:
        from app.device.protocol import Heartbeat

        self.now += self.STEP_S
        if self.fed and self.now - self._last_hb >= 0.1 - 1e-9:
            self.send(Heartbeat())
            self._last_hb = self.now
        self.fw.advance(self.now)

    def _line(self) -> bytes:
        """The bytes the device put on the line since the last read (none while cut)."""
        from app.device.protocol import encode_message

        out = []
        for msg in self.fw.take_outgoing():
            frame = encode_message(msg, self._seq)
            self._seq = (self._seq + 1) & 0xFFFF
            if self.corrupt:  # as the simulator's --corrupt: bytes changed to other values
                n = int(self._rng.binomial(len(frame), self.corrupt))
                if n:
                    buf = bytearray(frame)
                    for pos in self._rng.integers(0, len(buf), size=n):
                        buf[pos] ^= int(self._rng.integers(1, 256))
                    frame = bytes(buf)
            out.append(frame)
        return b"" if self.cut else b"".join(out)
