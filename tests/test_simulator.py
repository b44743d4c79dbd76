"""The simulator as a real process, reached through a real pseudo-terminal with pyserial."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest
import serial

from app.device.protocol import (
    Ack,
    Command,
    DeviceState,
    Event,
    EventCode,
    FrameDecoder,
    Hello,
    Info,
    MsgType,
    Nak,
    Samples,
    SetOutput,
    Status,
    decode_message,
    encode_message,
)
from app.device.sim_process import SimulatorError, SimulatorProcess
from app.device.waveform import OutputSettings

pytestmark = pytest.mark.timeout(60)


class Client:
    """A minimal host: pyserial + FrameDecoder, no threads."""

    def __init__(self, port: str) -> None:
        self.port = serial.serial_for_url(port, baudrate=921_600, timeout=0.05)
        self.decoder = FrameDecoder()
        self.seq = 0
        self.seqs: list[int] = []
        self.backlog: list = []

    def send(self, msg) -> None:
        self.port.write(encode_message(msg, self.seq))
        self.seq = (self.seq + 1) & 0xFFFF

    def read(self) -> list:
        out, self.backlog = self.backlog, []
        for f in self.decoder.feed(self.port.read(self.port.in_waiting or 1)):
            self.seqs.append(f.seq)
            out.append(decode_message(f.type, f.body))
        return out

    def wait_for(self, pred, timeout: float = 5.0) -> list:
        """Read until a message satisfies ``pred``; return everything read, that one last."""
        got: list = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = self.read()
            for i, m in enumerate(batch):
                got.append(m)
                if pred(m):
                    self.backlog = batch[i + 1 :]  # the next read() returns the rest
                    return got
        kinds = sorted({type(m).__name__ for m in got})
        others = [m for m in got if not isinstance(m, Samples | Status)]
        raise AssertionError(
            f"nothing matched within {timeout} s; got {len(got)} messages ({kinds}): {others[:10]}"
        )

    def hello(self) -> Info:
        self.send(Hello(1))
        return self.wait_for(lambda m: isinstance(m, Info))[-1]

    def close(self) -> None:
        self.port.close()


def _wait_until(cond, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.fixture
def sim(request):
    args = getattr(request, "param", [])
    proc = SimulatorProcess(["--seed", "7", *args])
    proc.start()
    yield proc
    assert proc.alive, proc.log()
    assert proc.stop() == 0


def test_handshake_and_samples_arrive_at_the_configured_rate(sim):
    assert os.path.islink(sim.port)
    client = Client(sim.port)
    try:
        info = client.hello()
        assert info.sample_rate == 10_000
        assert info.serial == "SIM-000001"
        got = client.wait_for(lambda m: isinstance(m, Samples))
        first, t0 = got[-1], time.monotonic()
        last, count = first, 0
        while time.monotonic() - t0 < 1.5:
            for m in client.read():
                if isinstance(m, Samples):
                    assert m.first_index == last.first_index + last.raw.shape[0]  # no gap
                    last, count = m, count + m.raw.shape[0]
        elapsed = time.monotonic() - t0
        assert count / elapsed == pytest.approx(10_000, rel=0.04)
        # the last frame's samples were produced on the clock the simulator announced
        end = last.first_index + last.raw.shape[0]
        produced_at = sim.sample_zero_time() + end / 10_000
        assert 0 <= time.monotonic() - produced_at < 0.5
        assert client.decoder.stats.crc_errors == 0
        assert client.decoder.stats.framing_errors == 0
    finally:
        client.close()


def test_start_without_heartbeats_trips_the_watchdog(sim):
    client = Client(sim.port)
    try:
        client.hello()
        client.send(SetOutput(2, OutputSettings(amplitude_ua=100, ramp_s=0.1)))
        client.send(Command(MsgType.START, 3))
        got = client.wait_for(lambda m: isinstance(m, Event) and m.code == EventCode.WATCHDOG_TRIP)
        acks = [m.request_id for m in got if isinstance(m, Ack)]
        assert acks == [2, 3], [m for m in got if not isinstance(m, Samples | Status)]
        status = client.wait_for(lambda m: isinstance(m, Status))[-1]
        assert status.state == DeviceState.WATCHDOG, status
        assert status.level_ua == 0, status
    finally:
        client.close()


@pytest.mark.parametrize("sim", [["--drop", "0.05", "--corrupt", "0.0005"]], indirect=True)
def test_drops_and_corruption_are_counted_by_the_decoder(sim):
    client = Client(sim.port)
    try:
        client.hello()
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            client.read()
        s = client.decoder.stats
        assert s.frames_ok > 200
        assert s.crc_errors + s.framing_errors > 0
        gaps = sum(
            1 for a, b in zip(client.seqs, client.seqs[1:], strict=False) if (b - a) & 0xFFFF != 1
        )
        assert gaps > 5
    finally:
        client.close()


@pytest.mark.parametrize("sim", [["--disconnect-after", "0.5", "--down-for", "0.5"]], indirect=True)
def test_disconnect_then_return_on_the_same_path(sim):
    path = sim.port
    client = Client(path)
    client.hello()
    # the device vanishes under the reader: pyserial says so as SerialException, or as the
    # pty's EIO from its in_waiting ioctl (OSError) — the link treats both as a lost device
    with pytest.raises((serial.SerialException, OSError)):
        client.wait_for(lambda m: False, timeout=3.0)
    client.close()
    assert not os.path.exists(path)
    _wait_until(lambda: os.path.exists(path), timeout=3.0)
    client = Client(path)
    try:
        assert client.hello().serial == "SIM-000001"
    finally:
        client.close()


@pytest.mark.parametrize("sim", [["--tcp"]], indirect=True)
def test_tcp_mode_serves_a_pyserial_socket_url(sim):
    assert sim.port.startswith("socket://127.0.0.1:")
    client = Client(sim.port)
    try:
        assert client.hello().max_current_ua == 1000
    finally:
        client.close()


def test_bad_options_give_a_clear_error(capsys):
    proc = SimulatorProcess(["--corrupt", "2"])  # the process's message, as a start error
    with pytest.raises(SimulatorError, match="fraction between 0 and 1"):
        proc.start()
    assert not proc.alive
    from app.__main__ import build_parser  # the others: the same parser, in this process

    for args, message in (
        (["--contact-script", "lift@soon"], "not a number of seconds"),
        (["--host-buffer", "0"], "host buffer 0: must be 1..640"),
    ):
        with pytest.raises(SystemExit) as exit_:
            build_parser().parse_args(["simulator", *args])
        assert exit_.value.code == 2
        assert message in capsys.readouterr().err


def test_simulator_exits_when_its_parent_dies(tmp_path):
    code = (
        "import sys; from app.device.sim_process import SimulatorProcess\n"
        "p = SimulatorProcess(); p.start(); print(p.pid, flush=True)\n"
        "import os; os._exit(0)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=os.path.dirname(os.path.dirname(__file__)),
    )
    pid = int(out.stdout.strip())

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # a zombie reparented to init is gone too
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] == "Z"

    _wait_until(gone, timeout=5.0)


@pytest.mark.parametrize("sim", [["--protocol-version", "2"]], indirect=True)
def test_a_device_of_another_version_announces_it(sim):
    from cobs import cobs

    client = Client(sim.port)
    try:
        raw, payloads, next_hello = b"", [], 0.0
        deadline = time.monotonic() + 5.0
        while not any(p and p[0] == 2 for p in payloads):
            assert time.monotonic() < deadline, "no frame of version 2 arrived"
            if time.monotonic() >= next_hello:  # a host repeats HELLO until answered
                client.send(Hello(1))
                next_hello = time.monotonic() + 0.3
            data = client.port.read(client.port.in_waiting or 1)
            assert client.decoder.feed(data) == []  # a v1 host accepts none of it
            *whole, raw = (raw + data).split(b"\x00")
            payloads += [cobs.decode(c) for c in whole if c]
        payload = next(p for p in payloads if p[0] == 2)
        info = decode_message(payload[1], payload[4:-2])
        assert isinstance(info, Info)
        assert info.protocol_version == 2
    finally:
        client.close()


@pytest.mark.parametrize("sim", [["--baud", "19200", "--sample-rate", "1000"]], indirect=True)
def test_output_is_paced_to_the_line_rate(sim):
    client = Client(sim.port)
    try:
        client.hello()
        client.wait_for(lambda m: isinstance(m, Samples))
        start_bytes, t0 = client.decoder.stats.bytes_in, time.monotonic()
        while time.monotonic() - t0 < 1.5:
            client.read()
        rate = (client.decoder.stats.bytes_in - start_bytes) / (time.monotonic() - t0)
        # 1000 S/s needs ~4.5 kB/s; a 19200-baud line carries 1920 B/s and no more
        assert 1500 < rate < 1920 * 1.1
        assert "frames will be lost" in sim.log()
    finally:
        client.close()


# --------------------------------------------------------------------------------------
# An independent client written from docs/protocol.md alone (no app.device.protocol):
# if the document and the device disagree, this test fails.


def _cobs_encode(data: bytes) -> bytes:
    out, block = bytearray(), bytearray()
    for b in data:
        if b == 0:
            out += bytes([len(block) + 1]) + block
            block = bytearray()
        else:
            block.append(b)
            if len(block) == 254:
                out += b"\xff" + block
                block = bytearray()
    return bytes(out + bytes([len(block) + 1]) + block)


def _cobs_decode(data: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(data):
        code = data[i]
        out += data[i + 1 : i + code]
        i += code
        if code < 0xFF and i < len(data):
            out.append(0)
    return bytes(out)


class DocClient:
    def __init__(self, port: str) -> None:
        self.port = serial.serial_for_url(port, baudrate=921_600, timeout=0.05)
        self.seq = 0
        self.buf = b""

    def send(self, msg_type: int, body: bytes) -> None:
        import binascii
        import struct

        payload = struct.pack("<BBH", 1, msg_type, self.seq) + body
        payload += struct.pack("<H", binascii.crc_hqx(payload, 0xFFFF))
        self.port.write(_cobs_encode(payload) + b"\x00")
        self.seq += 1

    def frames(self, seconds: float):
        import binascii

        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.buf += self.port.read(self.port.in_waiting or 1)
            *chunks, self.buf = self.buf.split(b"\x00")
            for chunk in chunks:
                p = _cobs_decode(chunk)
                if len(p) < 6 or binascii.crc_hqx(p[:-2], 0xFFFF) != int.from_bytes(
                    p[-2:], "little"
                ):
                    continue
                yield p[1], p[4:-2]


def test_an_independent_client_written_from_the_document(sim):
    import struct

    c = DocClient(sim.port)
    try:
        c.send(0x01, struct.pack("<HB", 77, 1))  # HELLO
        info = None
        for t, body in c.frames(5.0):
            if t == 0x81:
                info = body
                break
        assert info is not None
        rid, version = struct.unpack_from("<HB", info)
        pos, strings = 3, []
        for _ in range(3):
            n = info[pos]
            strings.append(info[pos + 1 : pos + 1 + n].decode())
            pos += 1 + n
        (max_ua, fmin, fmax, vcomp, rate, i_lsb, v_lsb, wd_ms, spf) = struct.unpack_from(
            "<ffffIffHH", info, pos
        )
        assert (rid, version, strings[1], rate, wd_ms, spf) == (
            77,
            1,
            "SIM-000001",
            10_000,
            500,
            50,
        )
        # plain resistor, 200 µA positive square at 5 Hz, no ramp
        c.send(0x0B, struct.pack("<HBf", 78, 3, 10_000.0))
        c.send(0x02, struct.pack("<HBffBff", 79, 0, 5.0, 200.0, 0, 2.0, 0.0))
        c.send(0x03, struct.pack("<H", 80))  # START
        acks, currents, voltages, states = [], [], [], []
        for t, body in c.frames(0.4):  # < 500 ms: no heartbeat needed
            if t == 0x82:
                acks.append(struct.unpack_from("<HB", body))
            elif t == 0x86:
                first, flags, level, n_sync, n = struct.unpack_from("<IBfBB", body)
                if flags & 0x01:
                    raw = struct.unpack_from(f"<{2 * n}h", body, 11 + n_sync)
                    currents += [x * i_lsb for x in raw[0::2]]
                    voltages += [x * v_lsb for x in raw[1::2]]
            elif t == 0x84:
                states.append(body[0])
        assert acks == [(78, 0x0B), (79, 0x02), (80, 0x03)]
        assert 2 in states  # RUNNING
        on = sorted(i for i in currents if i > 100)
        assert on[len(on) // 2] == pytest.approx(200 * 1.01 + 0.8, abs=0.5)  # uncalibrated
        assert max(voltages) == pytest.approx(2.0 * 0.995, abs=0.05)  # 200 µA × 10 kΩ
        c.send(0x07, struct.pack("<H", 81))  # ESTOP
        for t, body in c.frames(2.0):
            if t == 0x84 and body[0] == 6:  # ESTOPPED
                assert struct.unpack_from("<f", body, 1)[0] == 0.0
                break
        else:
            raise AssertionError("no STATUS with state ESTOPPED")
    finally:
        c.port.close()


@pytest.mark.parametrize("sim", [["--hang-after", "1.0"]], indirect=True)
def test_hang_stops_all_output(sim):
    client = Client(sim.port)
    try:
        client.hello()  # answered: the device is not hung yet
        deadline = time.monotonic() + 5.0
        silent_since = time.monotonic()
        while time.monotonic() - silent_since < 0.5:  # wait for 0.5 s of silence
            assert time.monotonic() < deadline, "the device never went silent"
            if client.port.read(client.port.in_waiting or 1):
                silent_since = time.monotonic()
        client.send(Hello(2))  # still silent: a hung device answers nothing
        assert client.port.read(1) == b""
        assert "hang" in sim.log()
    finally:
        client.close()


@pytest.mark.parametrize(
    "sim",
    [["--sample-rate", "50000"], ["--sample-rate", "10000", "--baud", "115200"]],
    indirect=True,
    ids=["50kS/s-921600", "10kS/s-115200"],
)
def test_an_overloaded_line_drops_whole_frames_and_answers_still_get_through(sim):
    client = Client(sim.port)
    try:
        info = client.hello()
        got = client.wait_for(lambda m: isinstance(m, Status), timeout=3.0)
        resets = []
        for k in range(5):
            client.send(Command(MsgType.RESET, 100 + k))
            got += client.wait_for(
                lambda m: isinstance(m, Ack | Nak) and m.request_id >= 100, timeout=2.0
            )
            resets.append(got[-1])
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.5:
            got += client.read()
        assert [(type(m), m.request_id) for m in resets] == [(Ack, 100 + k) for k in range(5)]
        stats = client.decoder.stats
        assert stats.framing_errors == 0
        assert stats.crc_errors == 0
        statuses = [m for m in got if isinstance(m, Status)]
        assert len(statuses) >= 10  # STATUS keeps priority over SAMPLES
        frames = [m for m in got if isinstance(m, Samples)]
        assert frames
        spf = info.max_samples_per_frame
        assert {m.raw.shape[0] for m in frames} == {spf}  # never a cut frame
        steps = np.diff([m.first_index for m in frames])
        assert np.all(steps % spf == 0)  # samples are lost a whole frame at a time
        assert np.any(steps > spf)  # ... and they are lost: the line cannot carry them
        end = frames[-1].first_index + spf  # what arrives is recent, not a stale backlog
        assert time.monotonic() - (sim.sample_zero_time() + end / info.sample_rate) < 0.5
        gaps = np.diff(client.seqs) % 65536
        assert np.any(gaps > 1)  # every discarded frame skipped a sequence number
        assert np.all(gaps >= 1)  # frames go out in sequence order
        assert "frames will be lost" in sim.log()
        assert "the line is too slow" in sim.log()  # the loss is logged with its cause
    finally:
        client.close()


def _stream_after(client: Client, seconds: float) -> list[Samples]:
    """The SAMPLES frames read over ``seconds`` of reading as fast as they come."""
    frames: list[Samples] = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        frames += [m for m in client.read() if isinstance(m, Samples)]
    return frames


def _contiguous(frames: list[Samples], spf: int) -> np.ndarray:
    """Steps between consecutive frames' first samples (spf everywhere: nothing lost)."""
    return np.diff([m.first_index for m in frames]) if frames else np.zeros(0, dtype=int)


FAST = ["--sample-rate", "50000", "--baud", "3000000"]  # about 207 kB/s


@pytest.mark.parametrize("sim", [FAST], indirect=True, ids=["50kS/s"])
def test_a_host_that_stops_reading_for_a_moment_loses_nothing(sim):
    """At 50 kS/s a host that reads nothing for 1 s (207 kB) finds every frame waiting:
    the host's buffer (640 KiB, as Linux gives a serial port) holds them, as a real link
    does, where the pseudo-terminal alone holds about 18 KiB (0.09 s)."""
    client = Client(sim.port)
    try:
        info = client.hello()
        first = _stream_after(client, 0.3)
        assert first
        time.sleep(1.0)  # the host's reader is not scheduled: nothing is read
        # the backlog (about 230 kB) drains in 0.8 s at the line rate; a loss during the
        # stop would show where it ends
        frames = first + _stream_after(client, 1.6)
        steps = _contiguous(frames, info.max_samples_per_frame)
        assert np.all(steps == info.max_samples_per_frame), sim.log()
        assert "tx overflow" not in sim.log()
    finally:
        client.close()


@pytest.mark.parametrize(
    "sim", [[*FAST, "--host-buffer", "64"]], indirect=True, ids=["50kS/s-64KiB"]
)
def test_a_host_that_stops_reading_for_long_loses_whole_frames_and_it_is_logged(sim):
    """Beyond the host's buffer (and the device's FIFO) whole SAMPLES frames are lost,
    counted, and the simulator's log says when and that the host did not read. The host
    driver here has 64 KiB (``--host-buffer``): 1 s of not reading (207 kB) is twice what
    its buffer, the pseudo-terminal's and the device's FIFO hold (64 + 18 + 16 KiB) — the
    same overflow as Linux's 640 KiB after more than 3.3 s, in a third of the time."""
    client = Client(sim.port)
    try:
        info = client.hello()
        first = _stream_after(client, 0.3)
        time.sleep(1.0)  # the host's reader is not scheduled: nothing is read
        frames = first + _stream_after(client, 2.0)
        spf = info.max_samples_per_frame
        steps = _contiguous(frames, spf)
        assert np.all(steps % spf == 0)  # whole frames
        assert np.any(steps > spf)  # ... and lost
        _wait_until(lambda: "tx overflow" in sim.log(), 3.0)
        assert "the host did not read (its buffer was full)" in sim.log()
        assert {m.raw.shape[0] for m in frames} == {spf}  # never a cut frame
        assert client.decoder.stats.framing_errors == 0
    finally:
        client.close()


@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGSTOP"), reason="POSIX signals")
def test_a_simulator_paused_for_a_moment_loses_nothing(sim):
    """The simulator not running for 0.6 s (descheduled on a busy machine): the frames it
    makes late were due while the line had time for them, and all of them are sent — a
    device does not lose data because the host's simulator process was paused. The pause
    is logged (a host may have taken the silence for a lost link)."""
    import signal

    client = Client(sim.port)
    try:
        info = client.hello()
        first = _stream_after(client, 0.3)
        assert sim.pid is not None
        os.kill(sim.pid, signal.SIGSTOP)
        try:
            time.sleep(0.6)
        finally:
            os.kill(sim.pid, signal.SIGCONT)
        frames = first + _stream_after(client, 1.5)
        steps = _contiguous(frames, info.max_samples_per_frame)
        assert np.all(steps == info.max_samples_per_frame), sim.log()
        assert "tx overflow" not in sim.log()
        assert "this process was not running (the line was silent meanwhile)" in sim.log()
    finally:
        client.close()


def test_frames_of_another_version_do_not_feed_the_watchdog():
    """docs/protocol.md §2: only valid frames of this version feed the watchdog."""
    from app.device.firmware import Firmware
    from app.device.protocol import Heartbeat
    from app.device.simulator import SimOptions, Simulator, encode_versioned

    sim = Simulator(SimOptions(tcp=True))
    fw = sim.firmware = Firmware(sample_rate=1000, seed=0, now=0.0)
    sim._handle_host_bytes(b"\x00" + encode_message(Hello(1), 0), 0.0)
    sim._handle_host_bytes(encode_message(SetOutput(2, OutputSettings(ramp_s=0.0)), 1), 0.0)
    sim._handle_host_bytes(encode_message(Command(MsgType.START, 3), 2), 0.0)
    for k in range(1, 10):  # a HEARTBEAT of version 2 every 100 ms
        sim._handle_host_bytes(encode_versioned(Heartbeat(), 3 + k, 2), k * 0.1)
        fw.advance(k * 0.1)  # as the simulator's loop does
    assert fw.state == DeviceState.WATCHDOG
    out = fw.take_outgoing()
    assert any(isinstance(m, Info) and m.request_id == 0 for m in out[1:])  # told our version
