"""The firmware simulator process: :class:`~app.device.firmware.Firmware` behind a serial port.

It opens a pseudo-terminal (or, with ``tcp=True`` or where pseudo-terminals do not exist,
a localhost TCP socket), publishes a stable path to it, and serves the wire protocol
until it is told to stop or its parent process dies. Output is paced to the baud rate
as a UART would send it (10 bits per byte), and samples are generated on the real-time
clock. Fault options corrupt or drop frames, hang the device or make it vanish and
return. Single-threaded: one ``select()`` loop.

Transmit queue: a frame, once its first byte is on the line, is always sent whole.
Answers, STATUS and EVENT frames go before SAMPLES frames. When the line cannot carry
the sample rate (or nobody reads), the transmit FIFO fills and whole SAMPLES frames are
discarded (counted in ``SimStats.frames_overflowed``): a SAMPLES frame is queued only
while the queue holds less than 0.1 s of line time (at least 2200 bytes), so what does
arrive is recent; sequence numbers are given as
frames go on the line, and every discarded frame skips one, so the host sees each loss
as a gap in the sequence numbers (and a discarded SAMPLES frame as a gap in the sample
index).

The line and the host's buffer, as with a real device: the line is paced on the real
clock even when this process was not running for a while (the frames it makes late were
due during the pause, when the line had time for them), and what crossed the line waits
in a host receive buffer of :data:`HOST_BUFFER_BYTES` (a serial port's on Linux, 640 KiB;
a pseudo-terminal holds only about 18 KiB; ``host_buffer``: a host driver's smaller one)
until the host reads it. Only when that
buffer is full does the line wait and the FIFO fill: a host that stops reading for a
moment (its reader thread not scheduled) loses nothing; one that stops for longer loses
whole SAMPLES frames. Each loss is logged (at most a line a second) with its time and
whose fault it was: the host not reading, this process not running, or the line rate.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import math
import os
import select
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import TextIO

import numpy as np
from cobs import cobs

from app.device.firmware import Firmware, line_bytes_per_s
from app.device.protocol import (
    CRC,
    DELIMITER,
    HEADER,
    PROTOCOL_VERSION,
    FrameDecoder,
    Message,
    ProtocolError,
    Samples,
    crc16,
    decode_message,
    message_type,
)

TX_FIFO_BYTES = 16_384  # device-side transmit buffer; whole frames beyond it are lost
# host-side receive buffer: Linux's per-port limit for a serial driver's flip buffers
# (TTYB_DEFAULT_MEM_LIMIT, 640 KiB; a pseudo-terminal limits its own to 8 KiB)
HOST_BUFFER_BYTES = 640 * 1024
FRAME_OVERHEAD = 8  # header, CRC, COBS code byte and delimiter around a body (about)
SAMPLE_BACKLOG_S = 0.1  # SAMPLES frames queue for at most this much line time
BITS_PER_BYTE = 10  # start + 8 data + stop
OVERFLOW_LOG_INTERVAL_S = 1.0  # "tx overflow" lines, at most one a second
PAUSE_LOG_S = 0.5  # a pause of this process this long is logged (a host may time out)
FOREIGN_INFO_INTERVAL_S = 0.25  # INFO answers to frames of another version, at most


@dataclass(slots=True)
class SimOptions:
    baud: int = 921_600
    sample_rate: int = 10_000
    serial: str = "SIM-000001"
    corrupt: float = 0.0  # fraction of transmitted bytes flipped
    drop: float = 0.0  # fraction of frames dropped whole
    hang_after: float | None = None  # seconds after start: stop sending anything
    disconnect_after: float | None = None  # seconds after start: the device vanishes
    down_for: float = 2.0  # ... for this long, then returns on the same path
    contact_script: list[tuple[float, bool]] = field(default_factory=list)
    tcp: bool = False
    link: str | None = None  # path of the stable symlink (default: in a temp dir)
    seed: int | None = None
    protocol_version: int = PROTOCOL_VERSION  # another value plays a device of that version
    host_buffer: int = HOST_BUFFER_BYTES  # the host's receive buffer in bytes (its driver's)


def encode_versioned(msg: Message, seq: int, version: int) -> bytes:
    """Like ``protocol.encode_message`` but with any protocol version in the header."""
    payload = HEADER.pack(version & 0xFF, int(message_type(msg)), seq & 0xFFFF)
    payload += msg.encode_body()
    return cobs.encode(payload + CRC.pack(crc16(payload))) + DELIMITER


def parse_contact_script(text: str) -> list[tuple[float, bool]]:
    """``"lift@5,place@8"`` → ``[(5.0, False), (8.0, True)]`` (seconds after start)."""
    steps: list[tuple[float, bool]] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        action, sep, when = item.partition("@")
        action = action.strip().lower()
        if not sep or action not in ("lift", "place"):
            raise ValueError(
                f"contact script step {item!r}: write lift@SECONDS or "
                'place@SECONDS, e.g. "lift@5,place@8"'
            )
        try:
            t = float(when)
        except ValueError:
            raise ValueError(
                f"contact script step {item!r}: {when!r} is not a number of seconds"
            ) from None
        if not (math.isfinite(t) and t >= 0):
            raise ValueError(f"contact script step {item!r}: the time must be ≥ 0 s")
        steps.append((t, action == "place"))
    return sorted(steps)


# --------------------------------------------------------------------------- transports


class PtyTransport:
    """A pseudo-terminal whose slave is reachable through a stable symlink."""

    def __init__(self, link: str | None = None) -> None:
        if link is None:
            self._tmpdir: str | None = tempfile.mkdtemp(prefix="microcurrent-sim-")
            link = os.path.join(self._tmpdir, "device")
        else:
            self._tmpdir = None
        self.link = os.path.abspath(link)
        self._master = -1
        self._slave = -1

    @property
    def url(self) -> str:
        return self.link

    def open(self) -> None:
        import tty

        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        tmp = f"{self.link}.new"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        os.symlink(os.ttyname(slave), tmp)
        os.replace(tmp, self.link)  # atomic re-point

    @property
    def is_open(self) -> bool:
        return self._master >= 0

    def read_fds(self) -> list[int]:
        return [self._master] if self._master >= 0 else []

    def on_readable(self, fd: int) -> bytes:
        try:
            return os.read(self._master, 4096)
        except BlockingIOError:
            return b""
        except OSError as exc:
            if exc.errno == errno.EIO:  # no slave open: nothing to read
                return b""
            raise

    @property
    def has_peer(self) -> bool:
        return self._master >= 0

    def write(self, data: bytes | bytearray) -> int:
        if self._master < 0:
            return 0
        try:
            return os.write(self._master, data)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError as exc:
            if exc.errno == errno.EIO:
                return 0
            raise

    def close(self) -> None:
        """The device vanishes: the pty closes and the path disappears."""
        for fd in (self._master, self._slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = -1
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.link)

    def cleanup(self) -> None:
        self.close()
        if self._tmpdir is not None:
            with contextlib.suppress(OSError):
                os.rmdir(self._tmpdir)


class TcpTransport:
    """A localhost TCP socket (pyserial URL ``socket://127.0.0.1:PORT``); one client at a
    time, a new connection replaces the old one."""

    def __init__(self) -> None:
        self._listener: socket.socket | None = None
        self._client: socket.socket | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def open(self) -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(2)
        s.setblocking(False)
        self.port = s.getsockname()[1]
        self._listener = s

    @property
    def is_open(self) -> bool:
        return self._listener is not None

    def read_fds(self) -> list[int]:
        fds = [self._listener.fileno()] if self._listener else []
        if self._client is not None:
            fds.append(self._client.fileno())
        return fds

    @property
    def has_peer(self) -> bool:
        return self._client is not None

    def on_readable(self, fd: int) -> bytes:
        if self._listener is not None and fd == self._listener.fileno():
            try:
                client, _ = self._listener.accept()
            except BlockingIOError:
                return b""
            self._drop_client()
            client.setblocking(False)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._client = client
            return b""
        if self._client is None:
            return b""
        try:
            data = self._client.recv(4096)
        except BlockingIOError:
            return b""
        except OSError:
            data = b""
        if not data:
            self._drop_client()
        return data

    def write(self, data: bytes | bytearray) -> int:
        if self._client is None:
            return 0
        try:
            return self._client.send(data)
        except BlockingIOError:
            return 0
        except OSError:
            self._drop_client()
            return 0

    def _drop_client(self) -> None:
        if self._client is not None:
            with contextlib.suppress(OSError):
                self._client.close()
            self._client = None

    def close(self) -> None:
        self._drop_client()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()
            self._listener = None

    def cleanup(self) -> None:
        self.close()


def pty_available() -> bool:
    if not hasattr(os, "openpty"):
        return False
    try:
        master, slave = os.openpty()
    except OSError:
        return False
    os.close(master)
    os.close(slave)
    return True


# --------------------------------------------------------------------------- the loop


@dataclass(slots=True)
class SimStats:
    frames_sent: int = 0
    frames_dropped: int = 0  # --drop
    frames_overflowed: int = 0  # TX FIFO full (nobody reading, or the line too slow)
    samples_overflowed: int = 0  # samples in the SAMPLES frames among those
    bytes_sent: int = 0
    bytes_corrupted: int = 0
    host_frames: int = 0


class Simulator:
    """The simulator loop. ``run()`` serves until ``request_stop()``, a signal, or the
    parent process dying."""

    def __init__(
        self, options: SimOptions, *, out: TextIO | None = None, log: TextIO | None = None
    ) -> None:
        self.options = options
        self._out = out or sys.stdout
        self._log = log or sys.stderr
        self._rng = np.random.default_rng(options.seed)
        self._stop = False
        self._disconnect_now = False
        self.stats = SimStats()
        self.transport: PtyTransport | TcpTransport
        if options.tcp or not pty_available():
            self.transport = TcpTransport()
        else:
            self.transport = PtyTransport(options.link)
        self._seq = 0  # sequence number of the next frame put on the line
        self._head = b""  # the rest of the frame on the line: always sent whole
        self._priority: collections.deque[tuple[Message, int]] = collections.deque()
        self._samples: collections.deque[tuple[Message, int]] = collections.deque()
        self._tx_bytes = 0  # bytes queued (estimated sizes), the frame on the line excluded
        # SAMPLES frames are queued only while the queue holds less than this: on a line
        # too slow for the sample rate they are discarded rather than delivered late
        self._sample_backlog = min(
            TX_FIFO_BYTES, max(options.baud / BITS_PER_BYTE * SAMPLE_BACKLOG_S, 2 * 1100)
        )
        self._decoder = FrameDecoder()
        self.firmware: Firmware | None = None
        self._last_foreign_info = -math.inf
        self._wire = bytearray()  # crossed the line, not yet taken by the host (its buffer)
        self._host_full = False  # the host's buffer is full: the line waits for the host
        self._had_peer = False  # a host was connected at the last turn (TCP: a client)
        self._turn_gap_s = 0.0  # time between the last two turns of the loop
        # discarded since the last log line, by cause; the longest pause of this process
        self._lost: dict[str, list[int]] = {}
        self._last_overflow_log = -math.inf
        self._longest_gap_s = 0.0

    def request_stop(self, *_: object) -> None:
        self._stop = True

    def request_disconnect(self, *_: object) -> None:
        """Pull the cable now (SIGUSR1): as ``--disconnect-after``, for ``--down-for``."""
        self._disconnect_now = True

    def _say(self, text: str) -> None:
        print(f"simulator: {text}", file=self._log, flush=True)

    def run(self) -> int:
        opts = self.options
        ppid = os.getppid()
        start = time.monotonic()
        fw = self.firmware = Firmware(
            sample_rate=opts.sample_rate,
            serial=opts.serial,
            seed=opts.seed,
            now=start,
            protocol_version=opts.protocol_version,
        )
        self.transport.open()
        # Sample n is produced at start + n / sample_rate on the system-wide monotonic clock
        # (time.monotonic() in any process on this machine): benches measure latency by it.
        self._say(f"clock: sample 0 at monotonic {start:.6f} s")
        print(f"PORT {self.transport.url}", file=self._out, flush=True)
        need = line_bytes_per_s(opts.sample_rate)
        if opts.baud / BITS_PER_BYTE < need:
            self._say(
                f"warning: {opts.baud} baud carries {opts.baud // BITS_PER_BYTE} B/s but "
                f"{opts.sample_rate} S/s needs about {int(need)} B/s: frames will be lost"
            )
        script = collections.deque(opts.contact_script)
        byte_rate = opts.baud / BITS_PER_BYTE
        frame_s = fw.spf / fw.sample_rate
        burst = max(300.0, byte_rate * frame_s * 2)  # line time of two frame periods
        credit = 0.0
        last = start
        hung = False
        down_until: float | None = None
        disconnect_at = start + opts.disconnect_after if opts.disconnect_after is not None else None
        hang_at = start + opts.hang_after if opts.hang_after is not None else None
        self._say(
            f"serving {self.transport.url} at {opts.baud} baud, "
            f"{opts.sample_rate} S/s, serial {opts.serial}"
        )
        try:
            while not self._stop:
                if os.getppid() != ppid:
                    self._say("parent process ended: stopping")
                    break
                now = time.monotonic()
                # -- scripted events
                while script and now - start >= script[0][0]:
                    _, place = script.popleft()
                    fw.set_contact(place)
                    self._say("contact script: probes " + ("placed" if place else "lifted"))
                if hang_at is not None and not hung and now >= hang_at:
                    hung = True
                    self._clear_tx()
                    self._say("hang: the device stops sending")
                if self._disconnect_now:
                    self._disconnect_now = False
                    if down_until is None:
                        disconnect_at = now
                if disconnect_at is not None and now >= disconnect_at:
                    disconnect_at = None
                    self.transport.close()
                    self._clear_tx()
                    self._decoder = FrameDecoder()
                    fw.streaming = False
                    down_until = now + opts.down_for
                    self._say(f"disconnect: the device is gone for {opts.down_for:g} s")
                if down_until is not None and now >= down_until:
                    down_until = None
                    self.transport.open()
                    self._say(f"disconnect: the device is back at {self.transport.url}")
                # -- wait for host bytes or the next frame
                fds = self.transport.read_fds()
                timeout = fw.next_frame_time() - now + 0.0002  # just past the frame end
                if self._tx_pending() and self.transport.has_peer and not hung:
                    timeout = min(timeout, (self._next_size() - credit) / byte_rate)
                timeout = min(max(timeout, 0.0005), frame_s)
                if fds:
                    readable, _, _ = select.select(fds, [], [], timeout)
                else:
                    readable = []
                    time.sleep(timeout)
                now = time.monotonic()
                for fd in readable:
                    data = self.transport.on_readable(fd)
                    if data:
                        self._handle_host_bytes(data, now)
                fw.advance(now, whole_frames=True)
                # -- pace the line: the UART sends while frames are due, even through a
                # stall of this process (the frames made late were due during the stall,
                # when the line had time for them); idle line time is not saved up.
                credit += (now - last) * byte_rate
                self._turn_gap_s, last = now - last, now
                self._longest_gap_s = max(self._longest_gap_s, self._turn_gap_s)
                if self._turn_gap_s >= PAUSE_LOG_S:  # the host saw the line fall silent
                    self._say(
                        f"paused {self._turn_gap_s:.3f} s by {now - start:.3f} s: this process "
                        "was not running (the line was silent meanwhile)"
                    )
                sending = not hung and self.transport.has_peer
                if self.transport.has_peer and not self._had_peer:
                    self._wire.clear()  # a new host: what waited for the old one is gone
                self._had_peer = self.transport.has_peer
                self._flush_wire()
                for msg in fw.take_outgoing():
                    self._queue(msg, hung or down_until is not None)
                    if sending and self._tx_pending():
                        credit -= self._send(int(credit))
                if sending and self._tx_pending():
                    credit -= self._send(int(credit))
                credit = min(credit, burst)
                if self._lost and now - self._last_overflow_log >= OVERFLOW_LOG_INTERVAL_S:
                    self._log_overflow(now, now - start)
        finally:
            self.transport.cleanup()
            s = self.stats
            self._say(
                f"stopped: {s.frames_sent} frames / {s.bytes_sent} bytes sent, "
                f"{s.frames_dropped} dropped, {s.frames_overflowed} lost to a full "
                f"TX buffer ({s.samples_overflowed} samples), "
                f"{s.bytes_corrupted} bytes corrupted"
            )
        return 0

    def _handle_host_bytes(self, data: bytes, now: float) -> None:
        fw = self.firmware
        assert fw is not None
        version_errors = self._decoder.stats.version_errors
        frames = self._decoder.feed(data)
        foreign = self._decoder.stats.version_errors > version_errors
        if self.options.protocol_version != PROTOCOL_VERSION:
            foreign = foreign or bool(frames)  # we play a device of another version
            frames = []
        if foreign and now - self._last_foreign_info >= FOREIGN_INFO_INTERVAL_S:
            # A frame of another protocol version: tell the host which version we speak.
            self._last_foreign_info = now
            fw.queue_info()
        for frame in frames:
            self.stats.host_frames += 1
            try:
                msg = decode_message(frame.type, frame.body)
            except ProtocolError as exc:
                fw.receive_malformed(frame.type, frame.body, str(exc), now)
                continue
            fw.receive(msg, now)

    # ------------------------------------------------------------------ transmit queue

    def _skip_seq(self) -> None:
        """A frame was discarded: its sequence number is skipped (the host sees a gap)."""
        self._seq = (self._seq + 1) & 0xFFFF

    def _clear_tx(self) -> None:
        self._head = b""
        self._wire.clear()
        self._host_full = False
        self._priority.clear()
        self._samples.clear()
        self._tx_bytes = 0

    def _tx_pending(self) -> bool:
        return bool(self._head or self._priority or self._samples)

    def _next_size(self) -> int:
        """Bytes of the frame that goes out next (estimated when not yet encoded)."""
        if self._head:
            return len(self._head)
        queue = self._priority or self._samples
        return queue[0][1] if queue else 0

    def _overflow(self, msg: Message) -> None:
        self.stats.frames_overflowed += 1
        samples = msg.raw.shape[0] if isinstance(msg, Samples) else 0
        self.stats.samples_overflowed += samples
        # whose fault: the host not taking what crossed the line, this process not
        # running (a long pause between its turns), or else the line rate
        if self._host_full:
            cause = "the host did not read (its buffer was full)"
        elif self._turn_gap_s >= SAMPLE_BACKLOG_S:
            cause = "the simulator was not running"
        else:
            cause = f"the line is too slow for {self.options.sample_rate} S/s"
        lost = self._lost.setdefault(cause, [0, 0])
        lost[0] += 1
        lost[1] += samples
        self._skip_seq()

    def _log_overflow(self, now: float, t: float) -> None:
        """A line (at most one a second): when frames were lost, how many, and why."""
        causes = "; ".join(
            f"{frames} frames ({samples} samples): {cause}"
            for cause, (frames, samples) in self._lost.items()
        )
        self._say(
            f"tx overflow by {t:.3f} s: {causes}; longest pause of this process "
            f"{1000 * self._longest_gap_s:.0f} ms"
        )
        self._last_overflow_log = now
        self._lost.clear()
        self._longest_gap_s = 0.0

    def _queue(self, msg: Message, discard: bool) -> None:
        """Queue one outgoing message: answers, STATUS and EVENT ahead of SAMPLES; a
        SAMPLES frame that does not fit the FIFO is discarded whole (the new one)."""
        if discard:
            self._skip_seq()
            return
        size = (
            len(msg.encode_body()) + FRAME_OVERHEAD
            if not isinstance(msg, Samples)
            else (4 * msg.raw.shape[0] + len(msg.sync) + 11 + FRAME_OVERHEAD)
        )
        if isinstance(msg, Samples):
            if self._tx_bytes + size > self._sample_backlog:
                self._overflow(msg)
                return
            self._samples.append((msg, size))
        else:
            self._priority.append((msg, size))
        self._tx_bytes += size
        while self._tx_bytes > TX_FIFO_BYTES and (self._samples or len(self._priority) > 1):
            old, old_size = (self._samples or self._priority).popleft()
            self._tx_bytes -= old_size
            self._overflow(old)

    def _next_frame(self) -> bytes | None:
        """Take the next message off the queue and encode it with the next sequence number
        (``--drop`` and ``--corrupt`` apply here); None when nothing is queued."""
        opts = self.options
        while self._priority or self._samples:
            msg, size = (self._priority or self._samples).popleft()
            self._tx_bytes -= size
            if opts.drop and self._rng.random() < opts.drop:
                self.stats.frames_dropped += 1
                self._skip_seq()
                continue
            frame = encode_versioned(msg, self._seq, opts.protocol_version)
            self._seq = (self._seq + 1) & 0xFFFF
            if opts.corrupt:
                n = int(self._rng.binomial(len(frame), opts.corrupt))
                if n:
                    buf = bytearray(frame)
                    for pos in self._rng.integers(0, len(buf), size=n):
                        buf[pos] ^= int(self._rng.integers(1, 256))
                    frame = bytes(buf)
                    self.stats.bytes_corrupted += n
            return frame
        return None

    def _send(self, budget: int) -> int:
        """Put up to ``budget`` bytes on the line, frame after frame, into the host's
        buffer (as far as it has room); return how many went out.

        A frame whose first byte went out stays at the head until its last byte is sent.
        """
        sent = 0
        while sent < budget:
            room = self.options.host_buffer - len(self._wire)
            self._host_full = room <= 0
            if self._host_full:
                break
            if not self._head:
                frame = self._next_frame()
                if frame is None:
                    break
                self._head = frame
            head = self._head
            chunk = head[: min(budget - sent, room)]
            self._wire += chunk
            n = len(chunk)
            sent += n
            self.stats.bytes_sent += n
            self._head = head[n:]
            if not self._head:
                self.stats.frames_sent += 1
        self._flush_wire()
        return sent

    def _flush_wire(self) -> None:
        """Hand the host what crossed the line, as much as its port takes now."""
        while self._wire:
            n = self.transport.write(self._wire)
            if n <= 0:
                break
            del self._wire[:n]
        if len(self._wire) < self.options.host_buffer:
            self._host_full = False


def serve(options: SimOptions) -> int:
    """Run the simulator in this process until SIGTERM/SIGINT or the parent's death."""
    sim = Simulator(options)
    signal.signal(signal.SIGTERM, sim.request_stop)
    signal.signal(signal.SIGINT, sim.request_stop)
    if hasattr(signal, "SIGUSR1"):  # not on Windows
        signal.signal(signal.SIGUSR1, sim.request_disconnect)
    return sim.run()
