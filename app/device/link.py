"""The threaded device driver: one worker thread per device link, talking by signals.

:class:`DeviceLink` lives in the owner's (GUI) thread. It starts a worker QObject on its
own QThread that opens the port (any pyserial port or URL), handshakes (HELLO → INFO),
decodes frames (FrameDecoder + numpy), hands out fresh :class:`SampleBlock` arrays at a
bounded rate, writes queued commands (ESTOP first, woken at once), sends heartbeats while
the owner keeps feeding it, counts link statistics and reconnects with backoff.

Only QtCore is used. :class:`SampleAssembler` and :class:`FrameRecord` are plain Python.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import re
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import serial
from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from app.device.interface import RAISING_COMMANDS, check_authority, check_binding
from app.device.protocol import (
    PROTOCOL_VERSION,
    Ack,
    Command,
    DeviceState,
    Event,
    Frame,
    FrameDecoder,
    Heartbeat,
    Hello,
    Info,
    Message,
    MsgType,
    Nak,
    NakReason,
    ProtocolError,
    SampleFlag,
    Samples,
    SetCalibration,
    SetOutput,
    SimControl,
    SimOp,
    Status,
    decode_message,
    encode_frame,
    encode_message,
    message_type,
)
from app.device.samples import SampleBlock
from app.device.stats import LinkCounter, LinkStats
from app.device.waveform import OutputSettings

log = logging.getLogger(__name__)

COMMAND_TIMEOUT_S = 0.5  # a command without ACK/NAK after this has failed
HANDSHAKE_TIMEOUT_S = 1.0  # HELLO → INFO
HELLO_RESEND_S = 0.3
SILENCE_TIMEOUT_S = 1.0  # no good frame for this long → link lost
HEARTBEAT_PERIOD_S = 0.1
# The device's watchdog is armed only outside IDLE and the latched states (protocol §4),
# and only a host command leaves those: heartbeats pause once a STATUS received this long
# after the last command says the watchdog is not armed (10 fewer writes and wakeups a
# second on an idle console), and resume with the next command.
HEARTBEAT_QUIET_AFTER_S = 1.0
_UNGUARDED_STATES = frozenset(
    {DeviceState.IDLE, DeviceState.ESTOPPED, DeviceState.WATCHDOG, DeviceState.FAULT}
)
WATCHDOG_FEED_TIMEOUT_S = 0.3  # owner silent this long → heartbeats stop
# samples_received at most this often with the output on: one block a display frame (the
# scope draws at most one frame per 16 ms, so a shorter period only adds blocks, and a
# longer one makes the oldest sample of a block wait: it sets the sample → screen latency)
SAMPLE_EMIT_PERIOD_S = 0.016
IDLE_EMIT_PERIOD_S = 0.2  # ... with the output off: fewer, larger blocks (less CPU)
STATS_PERIOD_S = 0.5
BACKOFF_FIRST_S = 0.25
BACKOFF_MAX_S = 2.0
MAX_WAIT_S = 0.05  # longest the worker sleeps without looking at its clocks (output on,
# or heartbeats due); with the output off and nothing awaited, IDLE_EMIT_PERIOD_S (a command
# wakes it at once through its wake socket; the silence deadline bounds every wait)
# After a read, let bytes gather (fewer wakeups, less CPU): with the output on until the
# next block is due (one read a block at 10 kS/s), at most READ_BATCH_S and at most as long
# as STREAM_READ_BYTES take to arrive (half of what one read of a tty returns: 44 ms at
# 10 kS/s, 9 ms at 50 kS/s); with the output off, one read a block (IDLE_EMIT_PERIOD_S) and
# at most IDLE_READ_BYTES, under half of what a pseudo-terminal holds (about 18 kB; a serial
# port's host buffer holds 640 KiB): 178 ms at 10 kS/s, 36 ms at 50 kS/s
READ_BATCH_S = SAMPLE_EMIT_PERIOD_S
STREAM_READ_BYTES = 2048
IDLE_READ_BYTES = 8192
# One read of a tty returns at most what its line discipline holds (Linux: 4095 bytes);
# the kernel moves the next bytes in right after. A read that full is followed by more
# (waiting at most TTY_REFILL_S for each, at most TTY_DRAIN_BYTES in all), so a longer
# pause between reads never leaves bytes behind to pile up.
TTY_READ_LIMIT = 4095
TTY_REFILL_S = 0.02
TTY_DRAIN_BYTES = 65536
LINE_BYTES_PER_SAMPLE = 4.61  # the stream's bytes per sample (protocol §3: 46.1 kB/s at 10 kS/s)
WRITE_TIMEOUT_S = 0.5
LOG_MAX_PER_S = 300  # frame log records per second; the rest are counted, not logged

NOT_CONNECTED = "not connected"
NO_ANSWER = f"no answer from the device within {COMMAND_TIMEOUT_S * 1000:.0f} ms"
LINK_LOST = "the connection was lost before the device answered"

_HOST_COMMANDS = {
    MsgType.START,
    MsgType.PAUSE,
    MsgType.RESUME,
    MsgType.STOP,
    MsgType.ESTOP,
    MsgType.RESET,
}


# --------------------------------------------------------------------------- pure helpers


def _same_condition(a: Status, b: Status) -> bool:
    """The device in the same condition in both (what differs is only readings: level,
    impedance, charge, uptime)."""
    return (a.state, a.contact, a.compliance, a.faults) == (
        b.state,
        b.contact,
        b.compliance,
        b.faults,
    )


@dataclass(frozen=True, slots=True)
class FrameRecord:
    """One line of the technician's frame log."""

    at: float  # time.monotonic()
    direction: str  # "rx" (device → host) or "tx" (host → device)
    raw: bytes  # the frame as on the wire (COBS, with its 0x00), empty for notes
    message: Message | None = None  # decoded message, None if the frame was rejected
    error: str | None = None  # why the frame was rejected, or a note

    @property
    def summary(self) -> str:
        if self.message is None:
            return self.error or ""
        name = message_type(self.message).name
        fields = []
        if dataclasses.is_dataclass(self.message):
            for f in dataclasses.fields(self.message):
                if f.name in ("raw", "type"):
                    continue
                fields.append(f"{f.name}={getattr(self.message, f.name)!r}")
        return f"{name} " + " ".join(fields)


class SampleAssembler:
    """Collects decoded SAMPLES messages and turns them into SampleBlocks in physical units.

    :meth:`add` queues a message; :meth:`flush` returns one block per run of consecutive
    sample indices, built from fresh arrays (one concatenate and a few numpy operations
    per flush). Gaps are judged by ``on_samples(first_index, n) -> gap`` (the link's
    counter: :meth:`app.device.stats.LinkCounter.on_samples`), told of every message with
    samples, in order: a result other than 0 starts a new block.
    """

    def __init__(
        self, info: Info, on_samples: Callable[[int, int], int | None] | None = None
    ) -> None:
        self._rate = float(info.sample_rate)
        self._current_lsb = np.float32(info.current_lsb_ua)
        self._voltage_lsb = np.float32(info.voltage_lsb_v)
        self._on_samples = on_samples or LinkCounter().on_samples
        self._queue: list[Samples] = []
        self._last_at = 0.0

    @property
    def pending(self) -> bool:
        return bool(self._queue)

    def add(self, msg: Samples, now: float = 0.0) -> None:
        """Queue a SAMPLES message received at ``now`` (time.monotonic())."""
        if msg.raw.shape[0]:  # a frame without samples carries nothing
            self._queue.append(msg)
        self._last_at = now

    def flush(self) -> list[SampleBlock]:
        msgs, self._queue = self._queue, []
        if not msgs:
            return []
        at = self._last_at
        on_samples = self._on_samples
        counts = [m.raw.shape[0] for m in msgs]
        edges = [k for k, m in enumerate(msgs) if on_samples(m.first_index, counts[k]) != 0]
        raw = np.concatenate([m.raw for m in msgs])  # a fresh array
        current = raw[:, 0].astype(np.float32)
        current *= self._current_lsb
        voltage = raw[:, 1].astype(np.float32)
        voltage *= self._voltage_lsb
        level = np.repeat(np.array([m.level_ua for m in msgs], dtype=np.float32), counts)
        flags = np.repeat(np.array([m.flags for m in msgs], dtype=np.uint8), counts)
        offsets = np.zeros(len(msgs) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        sync = np.zeros(current.size, dtype=bool)
        sync[[int(offsets[k]) + s for k, m in enumerate(msgs) for s in m.sync]] = True
        starts = [k for k in edges if k > 0]  # messages that begin a new block
        if not starts:
            first = msgs[0].first_index
            return [SampleBlock(first, self._rate, current, voltage, level, flags, sync, at)]
        cuts = [0, *(int(offsets[k]) for k in starts), current.size]
        firsts = [msgs[k].first_index for k in [0, *starts]]
        return [  # each block owns its arrays
            SampleBlock(
                first,
                self._rate,
                current[lo:hi].copy(),
                voltage[lo:hi].copy(),
                level[lo:hi].copy(),
                flags[lo:hi].copy(),
                sync[lo:hi].copy(),
                at,
            )
            for first, lo, hi in zip(firsts, cuts[:-1], cuts[1:], strict=True)
        ]


def check_info(info: Info) -> str | None:
    """Why an INFO cannot be used, or None if it is fine."""
    if info.protocol_version != PROTOCOL_VERSION:
        return (
            f"device speaks protocol version {info.protocol_version}; "
            f"this console speaks {PROTOCOL_VERSION}"
        )
    if info.sample_rate <= 0:
        return f"device reports an invalid sample rate ({info.sample_rate})"
    for name in ("current_lsb_ua", "voltage_lsb_v"):
        value = getattr(info, name)
        if not (math.isfinite(value) and value > 0):
            return f"device reports an invalid sample scaling ({name} = {value})"
    return None


class _LinkDecoder(FrameDecoder):
    """FrameDecoder that also remembers a foreign protocol version and rejected frames."""

    def __init__(self) -> None:
        super().__init__()
        self.foreign_version: int | None = None
        self.rejected: list[tuple[bytes, str]] | None = None  # only while logging

    def _reject(self, chunk: bytes, why: str, quiet: bool, *, version: int | None = None) -> None:
        super()._reject(chunk, why, quiet, version=version)
        if version is not None:
            self.foreign_version = version
        if self.rejected is not None and not quiet:
            self.rejected.append((chunk + b"\x00", why))


def _open_error_text(exc: Exception) -> str:
    """pyserial's open errors repeat the port name and errno; keep the plain reason."""
    if "exclusively lock" in str(exc):
        return "the port is in use by another program (is another console connected to it?)"
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    if code is not None:
        with contextlib.suppress(ValueError, OverflowError):
            return os.strerror(code)
    return str(exc)


def _io_error_text(exc: Exception) -> str:
    """A plain reason for a read/write failure (pyserial's texts are for programmers)."""
    text = str(exc)
    if "returned no data" in text or "socket disconnected" in text:
        return "the device went away"
    errno_ = getattr(exc, "errno", None)
    if isinstance(errno_, int):
        with contextlib.suppress(ValueError, OverflowError):
            return os.strerror(errno_)
    return re.sub(r"\[Errno \d+\] ", "", text)


class _LinkDown(Exception):
    def __init__(self, reason: str, *, retry: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


# --------------------------------------------------------------------------- worker


class _LinkWorker(QObject):
    """Runs the whole link in one blocking loop on its own QThread."""

    connected = Signal(object)
    disconnected = Signal(str)
    samples_received = Signal(object)
    status_received = Signal(object)
    event_received = Signal(object)
    command_answered = Signal(int, object)
    command_failed = Signal(int, str)
    stats_updated = Signal(object)
    # the frame log's records (list[FrameRecord]), emitted together when the worker is
    # about to wait: one signal crosses to the GUI thread per read, not one per frame
    frames_logged = Signal(object)

    def __init__(self, port_url: str, baud: int) -> None:
        super().__init__()
        self._url = port_url
        self._baud = baud
        self._stop = threading.Event()
        self._queue: deque[Message] = deque()
        self._queue_lock = threading.Lock()
        self._wake_lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._wake_open = True
        self._fed_at = -math.inf  # time.monotonic() of the last feed_watchdog()
        self._logging = False
        self._log_samples = True  # SAMPLES frames logged too (the log's view is shown)
        self._samples_unlogged = 0  # SAMPLES frames left out since the last note
        self._counter = LinkCounter()
        self._stats_lock = threading.Lock()
        self._is_connected = False
        # worker-thread state
        self._port = None
        self._fd: int | None = None
        self._direct_reads = False  # _fd is non-blocking: read it without pyserial
        self._held: list[Status] = []  # idle STATUS messages waiting for the next samples
        self._decoder = _LinkDecoder()
        self._dec_seen = (0, 0, 0)
        self._tx_seq = 0
        self._pending: dict[int, float] = {}  # request id → deadline
        self._assembler: SampleAssembler | None = None
        self._last_hb = -math.inf
        self._last_command = -math.inf  # time.monotonic() a host command was last written
        self._watchdog_armed = True  # as far as the newest STATUS tells (see _dispatch)
        self._next_stats = 0.0
        self._last_flush = 0.0
        self._output_on = False  # OUTPUT_ON of the newest sample (set on arrival, cleared
        # when a block handed over ends with the output off)
        self._log_window = 0.0
        self._log_count = 0
        self._log_skipped = 0
        self._log_batch: list[FrameRecord] = []

    # -- called from any thread ----------------------------------------------------------

    def enqueue(self, msg: Message) -> None:
        with self._queue_lock:
            if message_type(msg) == MsgType.ESTOP:
                self._queue.appendleft(msg)
            else:
                self._queue.append(msg)
        self.wake()

    def wake(self) -> None:
        with self._wake_lock:
            if self._wake_open:
                with contextlib.suppress(BlockingIOError, OSError):
                    self._wake_w.send(b"x")
        port = self._port
        if port is not None and self._fd is None:  # polled fallback: cut its read short
            with contextlib.suppress(Exception):
                port.cancel_read()

    def request_stop(self) -> None:
        self._stop.set()
        self.wake()

    def feed(self) -> None:
        self._fed_at = time.monotonic()

    def set_logging(self, enabled: bool, samples: bool = True) -> None:
        self._logging = bool(enabled)
        self._log_samples = bool(samples)

    def snapshot(self) -> LinkStats:
        with self._stats_lock:
            return self._counter.snapshot(time.monotonic())

    # -- the thread ----------------------------------------------------------------------

    @Slot()
    def run(self) -> None:
        backoff = BACKOFF_FIRST_S
        last_reason: str | None = None
        try:
            while not self._stop.is_set():
                try:
                    try:
                        self._session()
                    except _LinkDown:
                        raise
                    except Exception as exc:  # a bug must not kill the link silently
                        log.exception("device link worker failed")
                        raise _LinkDown(f"internal error in the device link: {exc!r}") from exc
                except _LinkDown as down:
                    was_connected = self._is_connected
                    self._link_lost(down.reason)
                    if self._stop.is_set() and not was_connected:
                        break
                    if was_connected or down.reason != last_reason:
                        self.disconnected.emit(down.reason)
                    last_reason = down.reason
                    if was_connected:
                        backoff = BACKOFF_FIRST_S
                    if not down.retry:
                        self._idle(math.inf)
                        break
                    self._idle(backoff)
                    backoff = min(backoff * 2.0, BACKOFF_MAX_S)
                else:
                    break  # stopped while connected
            if self._is_connected:
                self._link_lost("link stopped by the console")
                self.disconnected.emit("link stopped by the console")
        finally:
            self._fail_queued()
            self._emit_log()
            self.stats_updated.emit(self.snapshot())
            with self._wake_lock:
                self._wake_open = False
                self._wake_r.close()
                self._wake_w.close()
            thread = QThread.currentThread()
            if thread is not None:
                thread.quit()

    def _session(self) -> None:
        try:
            # exclusive: two programs commanding one device (or reading each other's
            # bytes) is never right; the second gets a clear "in use" instead.
            port = serial.serial_for_url(
                self._url,
                baudrate=self._baud,
                timeout=0,
                write_timeout=WRITE_TIMEOUT_S,
                exclusive=True,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise _LinkDown(f"cannot open {self._url}: {_open_error_text(exc)}") from None
        self._port = port
        try:
            try:
                self._fd = port.fileno() if os.name == "posix" else None
            except (AttributeError, NotImplementedError, OSError, serial.SerialException):
                self._fd = None
            if self._fd is None:
                port.timeout = 0.01  # polled fallback for ports select() cannot wait on
            # pyserial opens a port non-blocking: then the worker reads the descriptor
            # itself, once, when it knows bytes are there (see _read_ready)
            try:
                self._direct_reads = self._fd is not None and not os.get_blocking(self._fd)
            except OSError:
                self._direct_reads = False
            self._decoder = _LinkDecoder()
            self._dec_seen = (0, 0, 0)
            info = self._handshake(port)
            self._stream(port, info)
        finally:
            self._port = None
            self._fd = None
            self._direct_reads = False
            with contextlib.suppress(Exception):
                port.close()

    # -- I/O primitives ------------------------------------------------------------------

    def _read(self, port, timeout: float) -> bytes:
        self._emit_log()
        try:
            if self._fd is not None:
                wake = self._wake_r.fileno()
                ready, _, _ = select.select([self._fd, wake], [], [], max(0.0, timeout))
                if wake in ready:
                    self._drain_wake()
                if self._fd in ready:
                    return self._read_ready(port, selected=True)
                return b""
            self._drain_wake()
            return port.read(4096)
        except (serial.SerialException, OSError) as exc:
            raise _LinkDown(f"serial port closed: {_io_error_text(exc)}") from None

    def _read_ready(self, port, *, selected: bool) -> bytes:
        """What the port holds now, without waiting (b"" if nothing). One ``read`` on a
        non-blocking descriptor: pyserial's own read would ``select`` first again.
        ``selected``: select() has just said the port is readable."""
        if not self._direct_reads:
            return port.read(65536)
        try:
            data = os.read(self._fd, 65536)  # type: ignore[arg-type]
        except BlockingIOError:
            return b""
        except OSError as exc:
            raise _LinkDown(f"serial port closed: {_io_error_text(exc)}") from None
        # A serial port set up by pyserial (no minimum count) reads nothing when nothing
        # is there; readable and yet nothing means its other end has gone, as pyserial
        # says it.
        if not data and selected:
            raise _LinkDown("serial port closed: the device went away") from None
        if len(data) >= TTY_READ_LIMIT:
            return self._read_rest(data)
        return data

    def _read_rest(self, data: bytes) -> bytes:
        """``data`` filled a tty's read: the bytes behind it too, as the kernel moves
        them in (see TTY_READ_LIMIT)."""
        fd = self._fd
        if fd is None:
            return data
        parts, total = [data], len(data)
        while len(parts[-1]) >= TTY_READ_LIMIT and total < TTY_DRAIN_BYTES:
            if not select.select([fd], [], [], TTY_REFILL_S)[0]:
                break
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                break
            except OSError as exc:
                raise _LinkDown(f"serial port closed: {_io_error_text(exc)}") from None
            if not chunk:  # gone: the next read says so, after these bytes are handled
                break
            parts.append(chunk)
            total += len(chunk)
        return b"".join(parts)

    def _read_now(self, port) -> bytes:
        try:
            return self._read_ready(port, selected=False)
        except (serial.SerialException, OSError) as exc:
            raise _LinkDown(f"serial port closed: {_io_error_text(exc)}") from None

    def _drain_wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while self._wake_r.recv(4096):
                pass

    def _idle(self, seconds: float) -> None:
        """Wait (no port open), failing commands at once, until stop or ``seconds``."""
        deadline = time.monotonic() + seconds
        while not self._stop.is_set():
            self._fail_queued()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            select.select([self._wake_r], [], [], min(left, STATS_PERIOD_S))
            self._drain_wake()
            self._maybe_emit_stats(time.monotonic())

    def _write(self, port, msg: Message) -> None:
        frame = encode_message(msg, self._tx_seq)
        self._tx_seq = (self._tx_seq + 1) & 0xFFFF
        try:
            port.write(frame)
        except serial.SerialTimeoutException:
            raise _LinkDown("the device is not accepting data (write timed out)") from None
        except (serial.SerialException, OSError) as exc:
            raise _LinkDown(f"serial port closed: {_io_error_text(exc)}") from None
        with self._stats_lock:
            self._counter.on_sent()
        if self._logging:
            self._log(FrameRecord(time.monotonic(), "tx", frame, msg))

    def _receive(self, data: bytes, now: float) -> list[tuple[Frame, Message | str]]:
        """Feed bytes to the decoder and update the counters; returns every good frame
        with its decoded message, or why the message was malformed (counted already)."""
        dec = self._decoder
        logging_ = self._logging
        if logging_:
            dec.rejected = []
        frames = dec.feed(data)
        s = dec.stats
        seen = (s.crc_errors, s.framing_errors, s.version_errors)
        out: list[tuple[Frame, Message | str]] = []
        with self._stats_lock:
            c = self._counter
            c.on_bytes(len(data), now)
            c.on_decoder_errors(
                seen[0] - self._dec_seen[0],
                seen[1] - self._dec_seen[1],
                seen[2] - self._dec_seen[2],
            )
            self._dec_seen = seen
            for frame in frames:
                c.on_frame(frame.seq, now)
                try:
                    out.append((frame, decode_message(frame.type, frame.body)))
                except ProtocolError as exc:
                    c.on_bad_message()
                    out.append((frame, str(exc)))
        if dec.rejected is not None:
            for raw, why in dec.rejected:
                self._log(FrameRecord(now, "rx", raw, None, why))
            dec.rejected = None
        if logging_:
            samples = self._log_samples
            if samples and self._samples_unlogged:
                self._log(
                    FrameRecord(
                        now,
                        "rx",
                        b"",
                        None,
                        f"{self._samples_unlogged} SAMPLES frames not logged (the log was hidden)",
                    )
                )
                self._samples_unlogged = 0
            for frame, item in out:
                if not samples and frame.type == MsgType.SAMPLES:
                    self._samples_unlogged += 1
                    continue
                raw = encode_frame(frame.type, frame.seq, frame.body)
                if isinstance(item, str):
                    self._log(FrameRecord(now, "rx", raw, None, item))
                else:
                    self._log(FrameRecord(now, "rx", raw, item))
        return out

    def _log(self, record: FrameRecord) -> None:
        now = record.at
        if now - self._log_window >= 1.0:
            if self._log_skipped:
                self._log_batch.append(
                    FrameRecord(
                        now,
                        "rx",
                        b"",
                        None,
                        f"{self._log_skipped} frames not logged (log limited to {LOG_MAX_PER_S}/s)",
                    )
                )
            self._log_window, self._log_count, self._log_skipped = now, 0, 0
        if self._log_count >= LOG_MAX_PER_S:
            self._log_skipped += 1
            return
        self._log_count += 1
        self._log_batch.append(record)

    def _emit_log(self) -> None:
        if self._log_batch:
            batch, self._log_batch = self._log_batch, []
            self.frames_logged.emit(batch)

    # -- handshake -----------------------------------------------------------------------

    def _handshake(self, port) -> Info:
        with contextlib.suppress(Exception):
            port.reset_input_buffer()
        request_id = 0  # the handshake's own id; commands from the owner start at 1
        start = time.monotonic()
        deadline = start + HANDSHAKE_TIMEOUT_S
        next_hello = start
        while not self._stop.is_set():
            now = time.monotonic()
            self._fail_queued()
            if now >= deadline:
                v = self._decoder.foreign_version
                if v is not None:
                    raise _LinkDown(
                        f"device speaks protocol version {v}; "
                        f"this console speaks {PROTOCOL_VERSION}",
                        retry=False,
                    )
                raise _LinkDown(
                    f"no answer to HELLO from {self._url} within {HANDSHAKE_TIMEOUT_S:.1f} s"
                )
            if now >= next_hello:
                self._write(port, Hello(request_id))
                next_hello = now + HELLO_RESEND_S
            data = self._read(port, min(next_hello, deadline) - now)
            if not data:
                continue
            for _frame, msg in self._receive(data, time.monotonic()):
                if isinstance(msg, Info):
                    problem = check_info(msg)
                    if problem:
                        raise _LinkDown(problem, retry=False)
                    return msg
                if (
                    isinstance(msg, Nak)
                    and msg.command == MsgType.HELLO
                    and msg.reason == NakReason.VERSION
                ):
                    detail = f" ({msg.detail})" if msg.detail else ""
                    raise _LinkDown(
                        f"device refuses protocol version {PROTOCOL_VERSION}{detail}", retry=False
                    )
        raise _LinkDown("link stopped by the console", retry=False)

    # -- streaming -----------------------------------------------------------------------

    def _stream(self, port, info: Info) -> None:
        now = time.monotonic()
        self._assembler = SampleAssembler(info, self._counter.on_samples)
        self._pending.clear()
        self._held.clear()
        self._last_flush = now - IDLE_EMIT_PERIOD_S  # the first samples go at once (live data)
        self._last_hb = -math.inf
        self._last_command = now  # the handshake: heartbeats until a STATUS is seen
        self._watchdog_armed = True
        with self._stats_lock:
            self._counter.on_connected(now)
        self._is_connected = True
        self.connected.emit(info)
        self._maybe_emit_stats(now, force=True)
        got_data = False
        self._output_on = False
        silence_due = now + SILENCE_TIMEOUT_S
        line_rate = LINE_BYTES_PER_SAMPLE * max(1.0, float(info.sample_rate))  # bytes/s
        idle_batch = min(IDLE_EMIT_PERIOD_S, IDLE_READ_BYTES / line_rate)
        stream_batch = min(READ_BATCH_S, STREAM_READ_BYTES / line_rate)
        while not self._stop.is_set():
            self._send_queued(port)
            now = time.monotonic()
            # Output off (the device's flag in the newest sample), nobody waits on the
            # samples: gather them longer. A command still wakes the worker at once.
            emit_period = SAMPLE_EMIT_PERIOD_S if self._output_on else IDLE_EMIT_PERIOD_S
            feeding = now - self._fed_at < WATCHDOG_FEED_TIMEOUT_S and self._watchdog_armed
            if feeding and now - self._last_hb >= HEARTBEAT_PERIOD_S:
                self._write(port, Heartbeat())
                self._last_hb = now
            # Output off, no heartbeat due: one wake-up a block (the device's silence is
            # still noticed on time: the wait ends at its deadline).
            wait = MAX_WAIT_S if self._output_on or feeding else IDLE_EMIT_PERIOD_S
            wait = min(wait, silence_due - now)
            if feeding:
                wait = min(wait, self._last_hb + HEARTBEAT_PERIOD_S - now)
            if self._assembler.pending or self._held:
                wait = min(wait, self._last_flush + emit_period - now)
            if self._pending:
                wait = min(wait, min(self._pending.values()) - now)
            if got_data and self._fd is not None and wait > 0:
                # Let bytes gather for a few ms (fewer, larger reads: less CPU); a command
                # from the owner still wakes the worker at once through the wake socket.
                pause = min(wait, stream_batch if self._output_on else idle_batch)
                self._emit_log()
                if select.select([self._wake_r], [], [], pause)[0]:
                    self._drain_wake()
                    continue
                wait -= pause
                # Bytes are there as a rule after the pause: read them at once (one
                # system call, not three); wait on the port only if none came.
                data = self._read_now(port) if self._direct_reads else b""
                if not data:
                    data = self._read(port, wait)
            else:
                data = self._read(port, wait)
            got_data = bool(data)
            now = time.monotonic()
            if data:
                self._dispatch(self._receive(data, now), now)
            # (a sample with the output on, just read, has switched to the shorter period)
            emit_period = SAMPLE_EMIT_PERIOD_S if self._output_on else IDLE_EMIT_PERIOD_S
            due = self._last_flush + emit_period - now
            # Output off: hand over with this read what the next one would come too late
            # for (not a wake-up of its own a few ms later just to flush).
            if (self._assembler.pending or self._held) and (
                due <= 0 or (data and not self._output_on and due < idle_batch)
            ):
                self._flush_samples(now)
            self._expire_commands(now)
            self._maybe_emit_stats(now)
            with self._stats_lock:
                age = self._counter.last_frame_age(now)
            silence_due = now + max(0.0, SILENCE_TIMEOUT_S - age) + 0.001
            if age > SILENCE_TIMEOUT_S:
                raise _LinkDown(f"device stopped sending for {SILENCE_TIMEOUT_S:.1f} s")
        # Stopping: commands queued just before stop() (an ESTOP on close) still go out.
        self._send_queued(port)

    def _dispatch(self, received: list[tuple[Frame, Message | str]], now: float) -> None:
        for _frame, msg in received:  # a malformed one (str) was counted already
            if isinstance(msg, Samples):
                if self._assembler is not None:
                    self._assembler.add(msg, now)
                if not self._output_on and msg.flags & SampleFlag.OUTPUT_ON:
                    # the output has started: from this read on, blocks go at the display's
                    # pace, not the idle period's (the first samples of a START never wait
                    # 200 ms behind the STATUS that says RUNNING)
                    self._output_on = True
            elif isinstance(msg, Status):
                self._watchdog_armed = (
                    msg.state not in _UNGUARDED_STATES
                    or now - self._last_command < HEARTBEAT_QUIET_AFTER_S
                )
                if self._output_on or msg.state not in _UNGUARDED_STATES or self._pending:
                    self._emit_held()
                    self.status_received.emit(msg)
                else:
                    # Nothing in motion, no command awaited: handed over with the next
                    # samples (one wake-up of the console for both, not two); one that
                    # only brings newer readings (the same state, contact, compliance and
                    # faults) takes the place of the one held before it.
                    if self._held and _same_condition(self._held[-1], msg):
                        self._held[-1] = msg
                    else:
                        self._held.append(msg)
            elif isinstance(msg, Event):
                self._emit_held()
                self.event_received.emit(msg)
            elif isinstance(msg, Ack | Nak) and self._pending.pop(msg.request_id, None) is not None:
                self._emit_held()
                self.command_answered.emit(msg.request_id, msg)

    def _emit_held(self) -> None:
        """The STATUS messages held back, in order, before anything that came after them."""
        while self._held:
            self.status_received.emit(self._held.pop(0))

    def _flush_samples(self, now: float) -> None:
        assembler = self._assembler
        if assembler is None:
            return
        with self._stats_lock:
            blocks = assembler.flush()
        self._emit_held()
        for block in blocks:
            self.samples_received.emit(block)
        if blocks and len(blocks[-1]):
            self._output_on = bool(blocks[-1].flags[-1] & SampleFlag.OUTPUT_ON.value)
        self._last_flush = now

    def _send_queued(self, port) -> None:
        while True:
            with self._queue_lock:
                if not self._queue:
                    return
                msg = self._queue.popleft()
            self._write(port, msg)
            self._last_command = time.monotonic()
            self._watchdog_armed = True
            rid = getattr(msg, "request_id", None)
            if rid is not None:
                self._pending[rid] = time.monotonic() + COMMAND_TIMEOUT_S

    def _expire_commands(self, now: float) -> None:
        for rid, deadline in list(self._pending.items()):
            if now >= deadline:
                del self._pending[rid]
                self._command_failed(rid, NO_ANSWER)

    def _command_failed(self, rid: int, reason: str) -> None:
        with self._stats_lock:
            self._counter.on_command_failed()
        self.command_failed.emit(rid, reason)

    def _fail_queued(self) -> None:
        while True:
            with self._queue_lock:
                if not self._queue:
                    return
                msg = self._queue.popleft()
            rid = getattr(msg, "request_id", None)
            if rid is not None:
                self._command_failed(rid, NOT_CONNECTED)

    def _link_lost(self, reason: str) -> None:
        """Bookkeeping when a session ends: flush samples, fail pending commands."""
        if self._is_connected:
            self._emit_held()
            if self._assembler is not None and self._assembler.pending:
                self._flush_samples(time.monotonic())
            for rid in list(self._pending):
                self._command_failed(rid, LINK_LOST)
            self._pending.clear()
            with self._stats_lock:
                self._counter.on_disconnected()
            self._is_connected = False
        self._assembler = None
        self._emit_log()  # the session's last frames, before the disconnect is told
        self._maybe_emit_stats(time.monotonic(), force=True)

    def _maybe_emit_stats(self, now: float, *, force: bool = False) -> None:
        if force or now >= self._next_stats:
            self._next_stats = now + STATS_PERIOD_S
            self.stats_updated.emit(self.snapshot())


# --------------------------------------------------------------------------- public API


class DeviceLink(QObject):
    """A device connection, driven by a worker thread; every signal arrives in this
    object's thread. Methods are thread-safe and never block on I/O (except ``stop``,
    which joins the worker)."""

    connected = Signal(object)  # protocol.Info, after each successful handshake
    disconnected = Signal(str)  # a clear human reason
    samples_received = Signal(object)  # SampleBlock (fresh arrays, physical units)
    status_received = Signal(object)  # protocol.Status
    event_received = Signal(object)  # protocol.Event
    command_answered = Signal(int, object)  # request id, Ack or Nak
    command_failed = Signal(int, str)  # request id, reason
    stats_updated = Signal(object)  # LinkStats, about twice a second
    frame_logged = Signal(object)  # FrameRecord, only while frame logging is on

    def __init__(self, port_url: str, *, baud: int = 921600, parent: QObject | None = None):
        super().__init__(parent)
        self._url = port_url
        self._baud = int(baud)
        self._thread: QThread | None = None
        self._worker: _LinkWorker | None = None
        self._info: Info | None = None
        self._connected = False
        self._last_stats = LinkStats()
        self._logging = False
        self._log_samples = True
        self._id_lock = threading.Lock()
        self._next_id = 1
        self._authority: object | None = None
        self.heartbeats_suspended = False

    # -- properties ----------------------------------------------------------------------

    @property
    def port_url(self) -> str:
        return self._url

    @property
    def info(self) -> Info | None:
        """INFO of the connected device (kept after a disconnect), None before the first."""
        return self._info

    @property
    def is_connected(self) -> bool:
        return self._connected

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    @property
    def stats(self) -> LinkStats:
        worker = self._worker
        return worker.snapshot() if worker is not None else self._last_stats

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker thread (it connects, and reconnects, until stop())."""
        if self.is_running:
            return
        worker = _LinkWorker(self._url, self._baud)
        worker.set_logging(self._logging, self._log_samples)
        thread = QThread()
        thread.setObjectName(f"DeviceLink {self._url}")
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.connected.connect(self._on_connected)
        worker.disconnected.connect(self._on_disconnected)
        worker.stats_updated.connect(self._on_stats)
        worker.samples_received.connect(self.samples_received)
        worker.status_received.connect(self.status_received)
        worker.event_received.connect(self.event_received)
        worker.command_answered.connect(self.command_answered)
        worker.command_failed.connect(self.command_failed)
        worker.frames_logged.connect(self._relay_log)
        self._worker, self._thread = worker, thread
        thread.start()

    def stop(self, timeout_ms: int = 2000) -> bool:
        """Stop the worker and join its thread; False if it did not end in time."""
        thread, worker = self._thread, self._worker
        if thread is None or worker is None:
            return True
        worker.request_stop()
        thread.quit()
        if not thread.wait(int(timeout_ms)):
            return False
        self._last_stats = worker.snapshot()
        self._connected = False
        self._thread = self._worker = None
        return True

    # -- commands ------------------------------------------------------------------------

    def _new_id(self) -> int:
        with self._id_lock:
            rid = self._next_id
            self._next_id = rid % 0xFFFF + 1  # 1..65535; 0 is the handshake's
        return rid

    def bind_authority(self, authority: object) -> None:
        """Name the one object allowed to raise output (app.engine.authority)."""
        self._authority = check_binding(self._authority, authority)

    def send(self, msg: Message, *, by: object | None = None) -> int:
        """Queue a command; returns its request id. The answer arrives as
        command_answered(id, Ack|Nak) or command_failed(id, reason).

        SET_OUTPUT, START and RESUME can raise output: only the bound output authority
        may send them (``by``); anyone else gets :class:`OutputNotAuthorised`."""
        t = message_type(msg)
        if t in RAISING_COMMANDS:
            check_authority(self._authority, by, t.name)
        if t not in _HOST_COMMANDS and t not in (
            MsgType.SET_OUTPUT,
            MsgType.SET_CALIBRATION,
            MsgType.SIM_CONTROL,
        ):
            raise ValueError(
                f"{t.name} is not a command the console sends "
                "(HELLO and HEARTBEAT are sent by the link itself)"
            )
        rid = self._new_id()
        msg = dataclasses.replace(msg, request_id=rid)  # type: ignore[arg-type]
        worker = self._worker
        if worker is None or not self.is_running:
            QTimer.singleShot(0, self, lambda: self.command_failed.emit(rid, NOT_CONNECTED))
            return rid
        worker.enqueue(msg)
        return rid

    def set_output(self, settings: OutputSettings, *, by: object | None = None) -> int:
        return self.send(SetOutput(0, settings), by=by)

    def start_output(self, *, by: object | None = None) -> int:
        return self.send(Command(MsgType.START, 0), by=by)

    def pause(self) -> int:
        return self.send(Command(MsgType.PAUSE, 0))

    def resume(self, *, by: object | None = None) -> int:
        return self.send(Command(MsgType.RESUME, 0), by=by)

    def stop_output(self) -> int:
        """Ramped stop (STOP); see estop() for the immediate one."""
        return self.send(Command(MsgType.STOP, 0))

    def estop(self) -> int:
        """Emergency stop: written ahead of anything queued, within about a millisecond."""
        return self.send(Command(MsgType.ESTOP, 0))

    def reset(self) -> int:
        return self.send(Command(MsgType.RESET, 0))

    def sim_control(self, op: SimOp, value: float = 0.0) -> int:
        return self.send(SimControl(0, SimOp(op), float(value)))

    def set_calibration(
        self,
        current_offset_ua: float = 0.0,
        current_gain: float = 1.0,
        voltage_offset_v: float = 0.0,
        voltage_gain: float = 1.0,
    ) -> int:
        return self.send(
            SetCalibration(0, current_offset_ua, current_gain, voltage_offset_v, voltage_gain)
        )

    def set_frame_logging(self, enabled: bool, *, samples: bool = True) -> None:
        """Log frames (``frame_logged``) while ``enabled``; SAMPLES frames only with
        ``samples`` (the bulk of the traffic: left out while no one looks at them, and
        counted in a note when they are logged again)."""
        self._logging = bool(enabled)
        self._log_samples = bool(samples)
        if self._worker is not None:
            self._worker.set_logging(enabled, samples)

    def feed_watchdog(self) -> None:
        """Keep heartbeats going for another 300 ms; call it every 100 ms from a QTimer in
        the GUI thread, so a frozen GUI ends in the firmware watchdog turning output off."""
        if self._worker is not None and not self.heartbeats_suspended:
            self._worker.feed()

    def suspend_heartbeats(self, suspended: bool) -> None:
        """Ignore every feed_watchdog() while suspended (the technician's watchdog test):
        heartbeats stop within 300 ms, whoever else keeps feeding."""
        self.heartbeats_suspended = suspended

    # -- worker → owner ------------------------------------------------------------------

    @Slot(object)
    def _on_connected(self, info: Info) -> None:
        self._info = info
        self._connected = True
        self.connected.emit(info)

    @Slot(str)
    def _on_disconnected(self, reason: str) -> None:
        self._connected = False
        self.disconnected.emit(reason)

    @Slot(object)
    def _relay_log(self, records: list[FrameRecord]) -> None:
        for record in records:
            self.frame_logged.emit(record)

    @Slot(object)
    def _on_stats(self, stats: LinkStats) -> None:
        self._last_stats = stats
        self.stats_updated.emit(stats)
