"""DeviceLink: pure helpers without Qt, then end to end over a real pty with the simulator."""

from __future__ import annotations

import dataclasses
import math
import os
import select
import threading
import time

import numpy as np
import pytest
from cobs import cobs
from hypothesis import given
from hypothesis import strategies as st
from PySide6.QtCore import QTimer

from app.device import link as link_mod
from app.device.interface import OutputNotAuthorised
from app.device.link import (
    NO_ANSWER,
    NOT_CONNECTED,
    DeviceLink,
    FrameRecord,
    SampleAssembler,
    _LinkDecoder,
    check_info,
)
from app.device.protocol import (
    CRC,
    HEADER,
    PROTOCOL_VERSION,
    Ack,
    Command,
    DeviceState,
    Event,
    EventCode,
    FrameDecoder,
    Heartbeat,
    Hello,
    Info,
    MsgType,
    Nak,
    NakReason,
    SampleFlag,
    Samples,
    SetOutput,
    SimOp,
    Status,
    crc16,
    decode_message,
    encode_message,
)
from app.device.sim_process import SimulatorProcess
from app.device.stats import INDEX_MODULUS, LinkCounter, forward_gap
from app.device.waveform import OutputSettings, Polarity, Waveform

INFO = Info(
    0,
    PROTOCOL_VERSION,
    "TEST",
    "T-1",
    "1.0",
    1000.0,
    0.1,
    2000.0,
    20.0,
    10_000,
    0.05,
    0.001,
    500,
    50,
)


def _samples(first: int, n: int, *, flags=SampleFlag.OUTPUT_ON, level=100.0, sync=()):
    raw = np.stack(
        [np.arange(n, dtype=np.int16) + first % 1000, -np.arange(n, dtype=np.int16)], axis=1
    )
    return Samples(first, flags, level, tuple(sync), raw)


# --------------------------------------------------------------------------- pure


def test_assembler_scales_splits_at_gaps_and_marks_sync():
    asm = SampleAssembler(INFO)
    asm.add(_samples(0, 50, sync=(0, 25)), now=1.0)
    asm.add(_samples(50, 50, flags=SampleFlag.NONE, level=0.0, sync=(10,)), now=1.1)
    asm.add(_samples(200, 30), now=1.2)  # 100 samples lost before this one
    blocks = asm.flush()
    assert not asm.pending
    assert [(b.first_index, len(b)) for b in blocks] == [(0, 100), (200, 30)]
    b = blocks[0]
    assert b.sample_rate == 10_000
    assert b.current_ua.dtype == np.float32
    np.testing.assert_allclose(b.current_ua[:3], [0.0, 0.05, 0.10], rtol=1e-6)
    np.testing.assert_allclose(b.voltage_v[:3], [0.0, -0.001, -0.002], rtol=1e-6)
    assert list(np.flatnonzero(b.sync)) == [0, 25, 60]
    assert b.flags[49] == SampleFlag.OUTPUT_ON
    assert b.flags[50] == 0
    assert b.level_ua[0] == 100.0
    assert b.level_ua[99] == 0.0
    assert blocks[1].received_at == 1.2


def test_assembler_tells_the_counter_of_every_frame_with_samples_in_order():
    seen = []
    asm = SampleAssembler(INFO, lambda first, n: seen.append((first, n)) or 0)
    asm.add(_samples(0, 50))
    asm.add(_samples(50, 0))  # a frame without samples carries nothing
    asm.add(_samples(50, 10))
    (block,) = asm.flush()
    assert seen == [(0, 50), (50, 10)]
    assert len(block) == 60
    assert asm.flush() == []


def test_assembler_starts_a_block_where_the_device_restarted_its_counter():
    asm = SampleAssembler(INFO)
    asm.add(_samples(5000, 50, sync=(3,)))
    asm.add(_samples(0, 50, sync=(7,)))  # index jumped backwards: a new block
    a, b = asm.flush()
    assert [(a.first_index, len(a)), (b.first_index, len(b))] == [(5000, 50), (0, 50)]
    assert np.flatnonzero(a.sync).tolist() == [3]
    assert np.flatnonzero(b.sync).tolist() == [7]
    for arr in (b.current_ua, b.sync):
        assert arr.base is None  # a split block owns its arrays too


def test_worker_counts_a_malformed_samples_frame_and_keeps_the_good_ones(qapp):
    from app.device.protocol import encode_frame

    worker = link_mod._LinkWorker("loop://", 115_200)
    try:
        good = encode_message(_samples(0, 50), 2)
        out = worker._receive(b"\x00" + encode_frame(MsgType.SAMPLES, 1, bytes(7)) + good, 1.0)
        assert out[0][1] == "SAMPLES: header truncated"
        assert isinstance(out[1][1], Samples)
        stats = worker.snapshot()
        assert (stats.frames, stats.bad_messages) == (2, 1)
    finally:
        worker._wake_r.close()
        worker._wake_w.close()


def test_bench_decode_counts_every_sample_and_refuses_a_damaged_stream():
    from app.bench import decode as bench

    info = bench._info(50_000)
    reads, samples = bench._stream(50_000, 0.2)
    assert bench.decode(reads, info) == samples
    damaged = bytearray(b"".join(reads))
    damaged[len(damaged) // 2] ^= 0x01
    with pytest.raises(RuntimeError, match="decoded wrongly"):
        bench.decode([bytes(damaged)], info)


def test_assembler_hands_out_fresh_arrays():
    msg = _samples(0, 50)
    asm = SampleAssembler(INFO)
    asm.add(msg)
    (block,) = asm.flush()
    for arr in (block.current_ua, block.voltage_v, block.level_ua, block.flags, block.sync):
        assert arr.base is None  # owns its memory: nothing the worker keeps can change it
        assert not np.shares_memory(arr, msg.raw)


def test_check_info_names_the_problem():
    assert check_info(INFO) is None
    v2 = dataclasses.replace(INFO, protocol_version=2)
    assert check_info(v2) == "device speaks protocol version 2; this console speaks 1"
    bad = dataclasses.replace(INFO, sample_rate=0)
    assert "sample rate" in check_info(bad)


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**31 - 1))
def test_forward_gap_counts_skips_modulo(start, skip):
    assert forward_gap(start, (start + skip) % INDEX_MODULUS, INDEX_MODULUS) == skip


@given(
    st.lists(st.integers(1, 60), min_size=1, max_size=40),
    st.lists(st.integers(0, 500), min_size=40, max_size=40),
    st.integers(0, 2**32 - 1),
)
def test_counter_dropped_samples_equal_index_gaps(sizes, gaps, start):
    c = LinkCounter()
    c.on_connected(0.0)
    index, expected_drop = start, 0
    for i, n in enumerate(sizes):
        if i:
            index += gaps[i]
            expected_drop += gaps[i]
        gap = c.on_samples(index % INDEX_MODULUS, n)
        assert gap == (gaps[i] if i else 0)
        index += n
    assert c.samples_dropped == expected_drop
    assert c.samples_received == sum(sizes)


def test_counter_sequence_gaps_and_rates():
    c = LinkCounter()
    c.on_connected(0.0)
    for i, seq in enumerate([65534, 65535, 0, 3, 4]):
        c.on_frame(seq, 0.1 * i)
        c.on_bytes(100, 0.1 * i)
    assert (c.sequence_gaps, c.frames_lost) == (1, 2)
    s = c.snapshot(2.0)
    assert s.frames == 5
    assert s.bytes_in == 500
    assert s.last_frame_age_s == pytest.approx(1.6)
    assert s.quality == "stale"
    c2 = LinkCounter()
    c2.on_connected(0.0)
    for i in range(300):  # 100 frames/s of 200 bytes for 3 s
        c2.on_frame(i, i / 100)
        c2.on_bytes(200, i / 100)
    fps, bps = c2.rates(2.995)
    assert fps == pytest.approx(100, rel=0.05)
    assert bps == pytest.approx(20_000, rel=0.05)


def _frame_v(version: int, msg_type: int, body: bytes, seq: int = 0) -> bytes:
    payload = HEADER.pack(version, msg_type, seq) + body
    return cobs.encode(payload + CRC.pack(crc16(payload))) + b"\x00"


def test_decoder_remembers_foreign_version_and_logs_rejected_frames():
    dec = _LinkDecoder()
    dec.rejected = []
    good = encode_message(Command(MsgType.START, 7), 1)
    bad = bytearray(good)
    bad[3] ^= 0x40
    v2 = _frame_v(2, MsgType.INFO, INFO.encode_body())
    frames = dec.feed(b"\x00" + good + bytes(bad) + v2)
    assert len(frames) == 1
    assert dec.foreign_version == 2
    assert [why for _, why in dec.rejected] == ["CRC mismatch", "protocol version 2"]
    assert dec.stats.crc_errors == 1
    assert dec.stats.version_errors == 1


def test_frame_record_summary():
    rec = FrameRecord(0.0, "tx", b"", Command(MsgType.ESTOP, 9))
    assert rec.summary.startswith("ESTOP")
    assert "request_id=9" in rec.summary
    assert FrameRecord(0.0, "rx", b"\x01", None, "CRC mismatch").summary == "CRC mismatch"


def test_send_refuses_messages_the_link_sends_itself(qtbot):
    link = DeviceLink("/nonexistent")
    with pytest.raises(ValueError, match="HEARTBEAT"):
        link.send(Heartbeat())
    with pytest.raises(ValueError, match="HELLO"):
        link.send(Hello(0))


def test_command_before_start_fails_not_connected(qtbot):
    link = DeviceLink("/nonexistent")
    with qtbot.waitSignal(link.command_failed, timeout=1000) as got:
        rid = link.estop()
    assert got.args == [rid, NOT_CONNECTED]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def simulator():
    procs: list[SimulatorProcess] = []

    def start(*args: str) -> str:
        sim = SimulatorProcess(list(args))
        procs.append(sim)
        return sim.start()

    yield start
    for sim in procs:
        sim.stop()


@pytest.fixture
def make_link(qtbot):
    links: list[DeviceLink] = []

    def make(url: str, **kwargs) -> DeviceLink:
        link = DeviceLink(url, **kwargs)
        link.bind_authority(KEY)  # these tests play the output authority themselves
        links.append(link)
        return link

    yield make
    for link in links:
        assert link.stop(3000), "the link thread did not stop"
        assert not link.is_running


def _connect(qtbot, link: DeviceLink, timeout: int = 5000) -> Info:
    with qtbot.waitSignal(link.connected, timeout=timeout) as got:
        link.start()
    return got.args[0]


def _feeder(link: DeviceLink) -> QTimer:
    timer = QTimer()
    timer.timeout.connect(link.feed_watchdog)
    timer.start(100)
    link.feed_watchdog()
    return timer


def _answer(qtbot, link: DeviceLink, send, timeout: int = 2000):
    rid_box: list[int] = []
    with qtbot.waitSignal(
        link.command_answered,
        timeout=timeout,
        check_params_cb=lambda rid, _m: bool(rid_box) and rid == rid_box[0],
    ) as got:
        rid_box.append(send())
    return got.args[1]


KEY = object()  # the output authority's place in these link-level tests


def test_raising_commands_need_the_bound_authority(qtbot):
    link = DeviceLink("/nonexistent")
    with pytest.raises(OutputNotAuthorised, match="only the engine's output authority"):
        link.set_output(OutputSettings())
    link.bind_authority(KEY)
    for call in (
        lambda: link.set_output(OutputSettings(), by=object()),
        link.start_output,
        link.resume,
        lambda: link.send(SetOutput(0, OutputSettings())),
    ):
        with pytest.raises(OutputNotAuthorised):
            call()
    with pytest.raises(OutputNotAuthorised, match="already has an output authority"):
        link.bind_authority(object())
    with qtbot.waitSignal(link.command_failed, timeout=1000):
        link.set_output(OutputSettings(), by=KEY)  # accepted (fails: not connected)
    link.stop_output()  # lowering: anyone
    link.estop()


# --------------------------------------------------------------------------- end to end


def test_handshake_and_streaming(qtbot, simulator, make_link):
    link = make_link(simulator())
    blocks = []
    link.samples_received.connect(blocks.append)
    info = _connect(qtbot, link)
    assert info.model
    assert info.sample_rate == 10_000
    assert link.is_connected
    assert link.info == info
    qtbot.waitUntil(lambda: sum(len(b) for b in blocks) >= 5000, timeout=3000)
    stamps = [b.received_at for b in blocks]
    # bounded emit rate: ~20 ms apart on average, never hundreds of tiny blocks
    assert len(blocks) <= 2 + (stamps[-1] - stamps[0]) / 0.015
    for a, b in zip(blocks, blocks[1:], strict=False):
        assert b.first_index == a.first_index + len(a)  # contiguous, nothing dropped
    assert all(b.current_ua.dtype == np.float32 and b.sample_rate == 10_000 for b in blocks)
    with qtbot.waitSignal(link.stats_updated, timeout=2000) as got:
        pass
    stats = got.args[0]
    assert stats.connected
    assert stats.connect_count == 1
    assert stats.crc_errors == stats.framing_errors == stats.samples_dropped == 0
    assert stats.frames_per_s > 100
    assert stats.bytes_per_s > 10_000
    assert link.stop(2000)
    assert not link.is_running
    assert not link.is_connected


def test_commands_ack_and_nak(qtbot, simulator, make_link):
    link = make_link(simulator())
    _connect(qtbot, link)
    ok = _answer(qtbot, link, lambda: link.set_output(OutputSettings(amplitude_ua=200.0), by=KEY))
    assert isinstance(ok, Ack)
    assert ok.command == MsgType.SET_OUTPUT
    refused = _answer(
        qtbot, link, lambda: link.set_output(OutputSettings(amplitude_ua=5000.0), by=KEY)
    )
    assert isinstance(refused, Nak)
    assert refused.reason == NakReason.OUT_OF_RANGE
    wrong = _answer(qtbot, link, lambda: link.resume(by=KEY))
    assert isinstance(wrong, Nak)
    assert wrong.reason == NakReason.WRONG_STATE


def test_command_timeout_and_protocol_version(qtbot, make_link):
    with FakeDevice(answer_commands=False) as dev:
        link = make_link(dev.path)
        _connect(qtbot, link)
        t0 = time.monotonic()
        with qtbot.waitSignal(link.command_failed, timeout=2000) as got:
            rid = link.start_output(by=KEY)
        assert got.args == [rid, NO_ANSWER]
        assert 0.45 <= time.monotonic() - t0 < 1.5
        # Stop it before its device goes: a running link reconnects by path, and the
        # next pty is likely to get the same /dev/pts number.
        assert link.stop(3000)
    with FakeDevice(header_version=2) as dev:
        link = make_link(dev.path)
        with qtbot.waitSignal(link.disconnected, timeout=3000) as got:
            link.start()
        assert got.args[0] == "device speaks protocol version 2; this console speaks 1"
        # no retry storm: the worker gives up on an incompatible device
        hellos = dev.hellos
        with qtbot.waitSignal(link.connected, timeout=1500, raising=False) as again:
            pass
        assert not again.signal_triggered
        # At most the one HELLO that was already on the wire when the link gave up.
        assert dev.hellos - hellos <= 1


def test_estop_is_written_at_once_and_output_goes_to_zero(qtbot, simulator, make_link):
    link = make_link(simulator())
    feeder = _feeder(link)
    _connect(qtbot, link)
    settings = OutputSettings(Waveform.SQUARE, 50.0, 300.0, Polarity.BIPHASIC, 2.0, 0.0)
    assert isinstance(_answer(qtbot, link, lambda: link.set_output(settings, by=KEY)), Ack)
    assert isinstance(_answer(qtbot, link, lambda: link.start_output(by=KEY)), Ack)
    qtbot.waitUntil(lambda: link.stats.samples_received > 0, timeout=2000)
    on = []
    link.samples_received.connect(lambda b: on.append(float(np.abs(b.current_ua).max())))
    qtbot.waitUntil(lambda: bool(on) and on[-1] > 200.0, timeout=3000)
    link.set_frame_logging(True)
    sent: list[FrameRecord] = []
    link.frame_logged.connect(lambda r: sent.append(r) if r.direction == "tx" else None)
    after: list = []
    t_call = time.monotonic()
    rid = link.estop()
    link.samples_received.connect(after.append)
    qtbot.waitUntil(
        lambda: any(
            r.message is not None and getattr(r.message, "request_id", -1) == rid for r in sent
        ),
        timeout=2000,
    )
    record = next(r for r in sent if getattr(r.message, "request_id", -1) == rid)
    assert record.at - t_call < 0.02  # written within milliseconds, not behind a read timeout

    def quiet() -> bool:
        return any(
            len(b)
            and not (b.flags & SampleFlag.OUTPUT_ON).any()
            and np.abs(b.current_ua).max() < 10.0
            for b in after
        )

    qtbot.waitUntil(quiet, timeout=1000)
    feeder.stop()


def test_watchdog_trips_when_the_owner_stops_feeding(qtbot, simulator, make_link):
    link = make_link(simulator())
    feeder = _feeder(link)
    _connect(qtbot, link)
    assert isinstance(_answer(qtbot, link, lambda: link.set_output(OutputSettings(), by=KEY)), Ack)
    assert isinstance(_answer(qtbot, link, lambda: link.start_output(by=KEY)), Ack)
    with qtbot.waitSignal(
        link.status_received, timeout=2000, check_params_cb=lambda s: s.state.output_possible
    ):
        pass
    # fed for a while: no trip
    with qtbot.waitSignal(
        link.event_received,
        timeout=800,
        raising=False,
        check_params_cb=lambda e: e.code == EventCode.WATCHDOG_TRIP,
    ) as w:
        pass
    assert not w.signal_triggered
    feeder.stop()  # the GUI "freezes": heartbeats stop after 300 ms, the device trips at 500
    t0 = time.monotonic()
    with qtbot.waitSignal(
        link.event_received,
        timeout=1500,
        check_params_cb=lambda e: e.code == EventCode.WATCHDOG_TRIP,
    ):
        pass
    assert time.monotonic() - t0 < 1.2
    with qtbot.waitSignal(
        link.status_received,
        timeout=1000,
        check_params_cb=lambda s: s.state == DeviceState.WATCHDOG,
    ) as got:
        pass
    assert isinstance(got.args[0], Status)
    assert got.args[0].level_ua == 0.0
    assert link.is_connected  # STATUS keeps flowing: the link itself is fine


def test_corruption_counted_and_no_bad_sample_gets_through(qtbot, simulator, make_link):
    link = make_link(simulator("--corrupt", "0.0001"))
    feeder = _feeder(link)
    info = _connect(qtbot, link)
    amp = 200.0
    settings = OutputSettings(Waveform.SQUARE, 20.0, amp, Polarity.BIPHASIC, 2.0, 0.0)
    # a corrupted ACK may be lost: retry until the device has taken the settings
    for _ in range(5):
        if isinstance(_answer_or_none(qtbot, link, lambda: link.set_output(settings, by=KEY)), Ack):
            break
    for _ in range(5):
        if isinstance(_answer_or_none(qtbot, link, lambda: link.start_output(by=KEY)), Ack):
            break
    blocks = []
    link.samples_received.connect(blocks.append)
    qtbot.waitUntil(
        lambda: (
            link.stats.crc_errors + link.stats.framing_errors >= 3
            and sum(len(b) for b in blocks) >= 20_000
        ),
        timeout=15_000,
    )
    feeder.stop()
    current = np.concatenate([b.current_ua for b in blocks])
    voltage = np.concatenate([b.voltage_v for b in blocks])
    assert current.size > 10_000
    # physical bounds of this waveform: ±amplitude plus ADC noise; compliance for voltage
    assert np.abs(current).max() <= amp * 1.05 + 5.0
    assert np.abs(voltage).max() <= info.compliance_v + 0.5
    stats = link.stats
    assert stats.crc_errors > 0
    assert stats.samples_dropped > 0  # corrupted frames were discarded, and counted as gaps
    assert link.is_connected


def test_an_overloaded_line_loses_whole_frames_counted_in_the_link_statistics(
    qtbot, simulator, make_link
):
    link = make_link(simulator("--sample-rate", "10000", "--baud", "115200"))
    blocks = []
    link.samples_received.connect(blocks.append)
    _connect(qtbot, link)
    qtbot.waitUntil(lambda: link.stats.samples_dropped >= 5000, timeout=5000)
    for _ in range(3):  # answers keep priority over the samples that do not fit
        assert isinstance(_answer(qtbot, link, link.reset, timeout=1000), Ack)
    stats = link.stats
    assert stats.crc_errors == stats.framing_errors == stats.bad_messages == 0
    assert stats.frames_lost > 0  # the discarded frames' sequence numbers were skipped
    assert stats.samples_dropped % 50 == 0  # whole frames of 50 samples
    assert all(len(b) % 50 == 0 for b in blocks)
    assert link.is_connected


def _answer_or_none(qtbot, link, send):
    """The Ack/Nak of one command, or None if it failed (e.g. its answer was corrupted)."""
    rid_box: list[int] = []
    result: list = []

    def on_answer(rid, msg):
        if rid_box and rid == rid_box[0]:
            result.append(msg)

    def on_failed(rid, _reason):
        if rid_box and rid == rid_box[0]:
            result.append(None)

    link.command_answered.connect(on_answer)
    link.command_failed.connect(on_failed)
    rid_box.append(send())  # answers are queued to this thread: none can be missed
    qtbot.waitUntil(lambda: bool(result), timeout=2000)
    link.command_answered.disconnect(on_answer)
    link.command_failed.disconnect(on_failed)
    return result[0]


def test_disconnect_then_reconnect(qtbot, simulator, make_link):
    link = make_link(simulator("--disconnect-after", "1.0", "--down-for", "0.8"))
    reasons: list[str] = []
    link.disconnected.connect(reasons.append)
    _connect(qtbot, link)
    with qtbot.waitSignal(link.disconnected, timeout=4000):
        pass
    assert not link.is_connected
    assert reasons[0] in (
        "serial port closed: the device went away",
        "device stopped sending for 1.0 s",
    )
    with qtbot.waitSignal(link.connected, timeout=6000):
        pass
    assert link.is_connected
    assert link.stats.connect_count == 2
    with qtbot.waitSignal(link.samples_received, timeout=2000):
        pass


def test_silence_is_a_disconnect(qtbot, simulator, make_link):
    link = make_link(simulator("--hang-after", "0.8"))
    _connect(qtbot, link)
    with qtbot.waitSignal(link.disconnected, timeout=4000) as got:
        pass
    assert got.args[0] == "device stopped sending for 1.0 s"


# --------------------------------------------------------------------------- fake device


class FakeDevice:
    """A minimal device on a pty: answers HELLO (optionally in another protocol version),
    streams STATUS, and ACKs commands unless told not to."""

    def __init__(self, *, header_version: int = PROTOCOL_VERSION, answer_commands=True):
        self.header_version = header_version
        self.answer_commands = answer_commands
        self._master, self._slave = os.openpty()
        self.path = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="FakeDevice", daemon=True)
        self.hellos = 0
        self._seq = 0

    def __enter__(self) -> FakeDevice:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(2.0)
        os.close(self._master)
        os.close(self._slave)

    def _send(self, msg) -> None:
        body = msg.encode_body()
        t = MsgType.STATUS if isinstance(msg, Status) else msg.TYPE
        os.write(self._master, _frame_v(self.header_version, t, body, self._seq))
        self._seq = (self._seq + 1) & 0xFFFF

    def _run(self) -> None:
        dec = FrameDecoder()
        status = Status(DeviceState.IDLE, 0.0, 0.0, 2000.0, True, False, 0, 0.0, 0)
        next_status = 0.0
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.02)
            if ready:
                try:
                    data = os.read(self._master, 4096)
                except OSError:
                    data = b""
                for frame in dec.feed(data):
                    msg = decode_message(frame.type, frame.body)
                    if isinstance(msg, Hello):
                        self.hellos += 1
                        self._send(dataclasses.replace(INFO, request_id=msg.request_id))
                    elif self.answer_commands and hasattr(msg, "request_id"):
                        self._send(Ack(msg.request_id, frame.type))
            if time.monotonic() >= next_status and self.hellos:
                self._send(status)
                next_status = time.monotonic() + 0.1


def test_fake_device_answers_commands(qtbot, make_link):
    with FakeDevice() as dev:
        link = make_link(dev.path)
        _connect(qtbot, link)
        ack = _answer(qtbot, link, lambda: link.sim_control(SimOp.SET_CONTACT, 1))
        assert isinstance(ack, Ack)
        assert ack.command == MsgType.SIM_CONTROL
        assert link_mod.COMMAND_TIMEOUT_S == 0.5


def test_estop_jumps_the_queue(qtbot):
    worker = link_mod._LinkWorker("/nonexistent", 921600)
    for i in range(3):
        worker.enqueue(Command(MsgType.START, i + 1))
    worker.enqueue(Command(MsgType.ESTOP, 9))
    assert [m.request_id for m in worker._queue] == [9, 1, 2, 3]
    worker._wake_r.close()
    worker._wake_w.close()


def test_estop_wakes_the_worker_on_a_quiet_line(qtbot, make_link):
    """With little traffic the worker sleeps in select(); ESTOP must not wait for it."""
    with FakeDevice() as dev:
        link = make_link(dev.path)
        _connect(qtbot, link)
        link.set_frame_logging(True)
        sent: list[FrameRecord] = []
        link.frame_logged.connect(lambda r: sent.append(r) if r.direction == "tx" else None)
        delays = []
        for _ in range(5):
            t_call = time.monotonic()
            ack = _answer(qtbot, link, link.estop)
            assert isinstance(ack, Ack)
            qtbot.waitUntil(
                lambda rid=ack.request_id: any(
                    getattr(r.message, "request_id", None) == rid for r in sent
                ),
                timeout=1000,
            )
            record = next(
                r for r in sent if getattr(r.message, "request_id", None) == ack.request_id
            )
            delays.append(record.at - t_call)
        assert max(delays) < 0.02, delays


def test_a_worker_bug_is_reported_not_swallowed(qtbot, make_link, monkeypatch):
    def broken(self, port):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(link_mod._LinkWorker, "_handshake", broken)
    master, slave = os.openpty()
    try:
        link = make_link(os.ttyname(slave))
        with qtbot.waitSignal(link.disconnected, timeout=2000) as got:
            link.start()
        assert got.args[0] == "internal error in the device link: ZeroDivisionError('boom')"
        assert link.is_running  # it keeps trying, with backoff, until stop()
        assert link.stop(2000)
    finally:
        os.close(master)
        os.close(slave)


def test_estop_right_before_stop_still_reaches_the_device(qtbot, simulator, make_link):
    url = simulator()
    first = make_link(url)
    feeder = _feeder(first)
    _connect(qtbot, first)
    assert isinstance(
        _answer(qtbot, first, lambda: first.set_output(OutputSettings(), by=KEY)), Ack
    )
    assert isinstance(_answer(qtbot, first, lambda: first.start_output(by=KEY)), Ack)
    feeder.stop()
    first.estop()
    assert first.stop(2000)  # what the console does on close: ESTOP, then stop at once
    second = make_link(url)
    _connect(qtbot, second)
    with qtbot.waitSignal(second.status_received, timeout=1000) as got:
        pass
    assert got.args[0].state == DeviceState.ESTOPPED


def test_quality_degrades_while_troubles_last():
    c = LinkCounter()
    c.on_connected(0.0)
    c.on_bytes(100, 0.0)
    c.on_frame(0, 0.0)
    assert c.snapshot(0.1).quality == "good"
    c.on_bytes(100, 1.0)
    c.on_decoder_errors(crc=1)
    c.on_frame(1, 1.0)
    assert c.snapshot(1.0).quality == "degraded"
    assert c.snapshot(1.0).recent_troubles == 1
    for i in range(2, 80):  # clean traffic for 7.8 s more
        c.on_bytes(100, i / 10)
        c.on_frame(i, i / 10)
    s = c.snapshot(7.9)
    assert s.quality == "good"
    assert s.crc_errors == 1  # the total is kept
    c.on_disconnected()
    assert c.snapshot(8.0).quality == "offline"


def test_frame_log_is_rate_limited(qtbot):
    worker = link_mod._LinkWorker("/nonexistent", 921600)
    got: list[FrameRecord] = []
    batches: list[list[FrameRecord]] = []
    worker.frames_logged.connect(batches.append)
    worker.frames_logged.connect(got.extend)
    rec = FrameRecord(10.0, "rx", b"\x00", Heartbeat())
    for _ in range(link_mod.LOG_MAX_PER_S + 100):
        worker._log(rec)
    assert got == []  # kept until the worker is about to wait
    worker._emit_log()
    assert len(batches) == 1  # one signal to the GUI thread for all of them
    assert len(got) == link_mod.LOG_MAX_PER_S
    worker._emit_log()
    assert len(batches) == 1  # nothing new: no signal
    worker._log(dataclasses.replace(rec, at=11.5))
    worker._emit_log()
    assert got[-2].error == f"100 frames not logged (log limited to {link_mod.LOG_MAX_PER_S}/s)"
    assert got[-1].at == 11.5
    worker._wake_r.close()
    worker._wake_w.close()


def test_polled_fallback_port_without_select(qtbot, make_link):
    """pyserial's loop:// has no file descriptor: the polled path still handshakes
    (its own HELLOs echo back, so no INFO ever comes) and reports it plainly."""
    link = make_link("loop://")
    with qtbot.waitSignal(link.disconnected, timeout=3000) as got:
        link.start()
    assert got.args[0] == "no answer to HELLO from loop:// within 1.0 s"
    assert link.stats.frames >= 2  # the echoed HELLOs were decoded: reading works
    assert link.stop(2000)


def test_io_error_texts_are_plain():
    import serial

    assert (
        link_mod._io_error_text(
            serial.SerialException(
                "device reports readiness to read but returned no data (device disconnected or "
                "multiple access on port?)"
            )
        )
        == "the device went away"
    )
    assert (
        link_mod._io_error_text(serial.SerialException("read failed: [Errno 5] Input/output error"))
        == "read failed: Input/output error"
    )
    assert (
        link_mod._open_error_text(
            serial.SerialException(2, "could not open port /dev/x: [Errno 2] No such file")
        )
        == "No such file or directory"
    )


def test_simulator_of_another_protocol_version_is_refused_once(qtbot, simulator, make_link):
    link = make_link(simulator("--protocol-version", "2"))
    reasons: list[str] = []
    link.disconnected.connect(reasons.append)
    with qtbot.waitSignal(link.disconnected, timeout=3000):
        link.start()
    sent = link.stats.frames_sent
    with qtbot.waitSignal(link.connected, timeout=1000, raising=False) as again:
        pass
    assert not again.signal_triggered
    assert reasons == ["device speaks protocol version 2; this console speaks 1"]
    assert link.stats.frames_sent == sent  # no HELLO storm


def test_a_second_console_on_the_same_port_is_told_it_is_in_use(qtbot, make_link):
    """Two programs on one device would split its bytes and both command it."""
    with FakeDevice() as dev:
        first = make_link(dev.path)
        _connect(qtbot, first)
        second = make_link(dev.path)
        with qtbot.waitSignal(second.disconnected, timeout=3000) as got:
            second.start()
        assert got.args[0] == (
            f"cannot open {dev.path}: the port is in use by another "
            "program (is another console connected to it?)"
        )
        assert first.is_connected


def test_heartbeats_pause_while_the_watchdog_is_not_armed_and_resume_with_a_command(
    qtbot, simulator, make_link
):
    """IDLE arms no watchdog (protocol §4) and only a command leaves it: an idle link sends
    no heartbeats once a STATUS a second after its last command says IDLE; a START brings
    them back at once (the watchdog is fed: no trip)."""
    from app.device.link import HEARTBEAT_QUIET_AFTER_S

    link = make_link(simulator())
    feeder = _feeder(link)
    _connect(qtbot, link)
    link.set_frame_logging(True)
    beats: list[float] = []
    link.frame_logged.connect(
        lambda r: (
            beats.append(r.at) if r.direction == "tx" and isinstance(r.message, Heartbeat) else None
        )
    )
    statuses: list[tuple[float, DeviceState]] = []
    link.status_received.connect(lambda s: statuses.append((time.monotonic(), s.state)))
    connected_at = time.monotonic()
    # heartbeats at first (the handshake counts as a command) ...
    qtbot.waitUntil(lambda: len(beats) >= 3, timeout=2000)
    # ... none once an IDLE status came a second after it: watch 10 more statuses (1 s)
    qtbot.waitUntil(
        lambda: any(t - connected_at > HEARTBEAT_QUIET_AFTER_S + 0.2 for t, _ in statuses),
        timeout=4000,
    )
    quiet_from = time.monotonic() + 0.15  # a heartbeat already on its way
    mark = len(statuses)
    qtbot.waitUntil(lambda: len(statuses) >= mark + 10, timeout=4000)
    assert all(state is DeviceState.IDLE for _, state in statuses)
    assert not [t for t in beats if t > quiet_from]
    # a command: heartbeats again at once, and the running output's watchdog stays fed
    assert isinstance(_answer(qtbot, link, lambda: link.set_output(OutputSettings(), by=KEY)), Ack)
    resumed = time.monotonic()
    assert isinstance(_answer(qtbot, link, lambda: link.start_output(by=KEY)), Ack)
    qtbot.waitUntil(lambda: len([t for t in beats if t > resumed]) >= 8, timeout=3000)
    assert all(state is not DeviceState.WATCHDOG for _, state in statuses)
    assert statuses[-1][1] in (DeviceState.RAMP_UP, DeviceState.RUNNING)
    feeder.stop()


def test_an_idle_link_wakes_once_a_block_and_keeps_up_with_the_stream(qtbot, simulator, make_link):
    """Output off, nothing awaited: the worker wakes about once a block (200 ms), reads
    what gathered at once — a read that fills the tty's read is followed by the bytes
    behind it — and falls no further behind the device (issue 17: the idle desk's CPU)."""
    waits: list[float] = []
    real_select = select.select

    def counted(r, w, x, timeout=None):
        waits.append(time.monotonic())
        return real_select(r, w, x, timeout)

    link = make_link(simulator())
    blocks: list[tuple[float, object]] = []
    link.samples_received.connect(lambda b: blocks.append((time.monotonic(), b)))
    _connect(qtbot, link)
    qtbot.waitUntil(lambda: len(blocks) >= 3, timeout=5000)
    link_select = link_mod.select
    try:
        link_mod.select = type("Select", (), {"select": staticmethod(counted)})
        mark = len(blocks)
        qtbot.waitUntil(lambda: len(blocks) >= mark + 11, timeout=6000)
    finally:
        link_mod.select = link_select
    from app.device.link import IDLE_EMIT_PERIOD_S, IDLE_READ_BYTES, TTY_READ_LIMIT

    t0, t1 = blocks[mark][0], blocks[mark + 10][0]
    inside = [t for t in waits if t0 < t <= t1]
    # a block's bytes (about 9 kB at 10 kS/s) come in one wake-up: its pause, then at most
    # one refill wait for each full read behind the first
    per_block = 1 + math.ceil(IDLE_READ_BYTES / TTY_READ_LIMIT)
    assert len(inside) <= per_block * 10, f"{len(inside)} waits for 10 blocks"
    assert (t1 - t0) / 10 >= 0.8 * IDLE_EMIT_PERIOD_S  # a block a period, not more often
    # no backlog builds up: the blocks carry the stream's 10 kS/s, end to end
    got = sum(len(b) for _, b in blocks[mark + 1 : mark + 11])
    assert got >= 0.9 * 10_000 * (t1 - t0)
    assert link.stats.samples_dropped == 0


def _tty_holds(fd: int) -> int:
    import fcntl
    import struct
    import termios

    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


def test_a_full_tty_read_is_followed_by_the_bytes_behind_it(qtbot, monkeypatch):
    """One read of a tty returns at most 4095 bytes; the worker reads the rest that came
    behind them in the same wake-up, not a pause later."""
    master, slave = os.openpty()
    try:
        import tty

        tty.setraw(slave)
        os.set_blocking(slave, False)
        # the kernel moves the next bytes in within microseconds; a loaded test machine
        # may take longer to run that work
        monkeypatch.setattr(link_mod, "TTY_REFILL_S", 1.0)
        worker = link_mod._LinkWorker("loop://", 115_200)
        try:
            worker._fd, worker._direct_reads = slave, True
            sent = bytes(range(256)) * 40  # 10,240 bytes, more than two tty reads
            written = 0
            while written < len(sent):
                written += os.write(master, sent[written : written + 4096])
                select.select([slave], [], [], 1.0)
            # the tty's read buffer full (what one read returns; the rest behind it)
            qtbot.waitUntil(lambda: _tty_holds(slave) >= link_mod.TTY_READ_LIMIT, timeout=5000)
            assert worker._read_ready(None, selected=True) == sent  # one read, all of it
        finally:
            worker._wake_r.close()
            worker._wake_w.close()
    finally:
        os.close(master)
        os.close(slave)


def test_idle_statuses_that_bring_only_newer_readings_are_handed_over_as_the_newest(qapp):
    """Output off and nothing awaited, statuses wait for the next samples; of several with
    the device in the same condition only the newest is handed over, but a change of
    state, contact, compliance or faults is never folded away."""
    worker = link_mod._LinkWorker("loop://", 115_200)
    seen: list[Status] = []
    worker.status_received.connect(seen.append)
    try:
        worker._assembler = SampleAssembler(INFO)
        idle = Status(DeviceState.IDLE, 0.0, 0.0, 2000.0, True, False, 0, 0.0, 0)
        newer = dataclasses.replace(idle, impedance_ohm=2100.0, uptime_ms=100)
        lifted = dataclasses.replace(newer, contact=False, impedance_ohm=math.inf, uptime_ms=200)
        latest = dataclasses.replace(lifted, uptime_ms=300)
        off = _samples(0, 50, flags=SampleFlag(0))
        worker._dispatch([(None, off), (None, idle), (None, newer)], 1.0)
        worker._dispatch([(None, lifted), (None, latest)], 1.05)
        assert seen == []  # held
        worker._flush_samples(1.2)
        assert seen == [newer, latest]  # the contact change kept, each with its newest
    finally:
        worker._wake_r.close()
        worker._wake_w.close()


def test_an_idle_status_waits_for_the_next_samples_and_nothing_overtakes_it(qapp):
    """Output off, no command awaited, IDLE: a STATUS goes out with the next samples (one
    wake-up of the console for both); before an EVENT or an answer, and at once while
    output runs or a command waits."""
    worker = link_mod._LinkWorker("loop://", 115_200)
    seen: list[str] = []
    worker.status_received.connect(lambda s: seen.append(f"status {s.state.name}"))
    worker.event_received.connect(lambda e: seen.append(f"event {e.code.name}"))
    worker.samples_received.connect(lambda b: seen.append(f"samples {len(b)}"))
    worker.command_answered.connect(lambda rid, m: seen.append(f"answer {rid}"))
    try:
        worker._assembler = SampleAssembler(INFO)
        idle = Status(DeviceState.IDLE, 0.0, 0.0, 2000.0, True, False, 0, 0.0, 0)
        off = _samples(0, 50, flags=SampleFlag(0))
        worker._dispatch([(None, off), (None, idle)], 1.0)
        assert seen == []  # held
        worker._flush_samples(1.1)
        assert seen == ["status IDLE", "samples 50"]
        seen.clear()
        worker._dispatch([(None, idle), (None, Event(EventCode.CONTACT_LOST, 0, ""))], 1.2)
        assert seen == ["status IDLE", "event CONTACT_LOST"]  # in the order they came
        seen.clear()
        worker._pending[7] = 9.0  # a command awaits its answer: every status at once
        worker._dispatch([(None, idle)], 1.3)
        assert seen == ["status IDLE"]
        worker._dispatch([(None, Ack(7, MsgType.START))], 1.4)
        assert seen == ["status IDLE", "answer 7"]
        seen.clear()
        worker._output_on = True  # output on: at once
        worker._dispatch([(None, dataclasses.replace(idle, state=DeviceState.RUNNING))], 1.5)
        assert seen == ["status RUNNING"]
    finally:
        worker._wake_r.close()
        worker._wake_w.close()


def test_samples_with_the_output_on_end_the_idle_pace_as_they_arrive(qapp):
    """With the output off the driver hands over a block every 200 ms; the first sample
    the device marks OUTPUT_ON switches it to the display's pace at once (on arrival, not
    at the next idle hand-over), so a START's first samples never trail its STATUS by
    200 ms (a self-test measuring "after the emergency stop" got the run's start)."""
    worker = link_mod._LinkWorker("loop://", 115_200)
    try:
        worker._assembler = SampleAssembler(INFO)
        worker._dispatch([(None, _samples(0, 50, flags=SampleFlag(0)))], 1.0)
        assert not worker._output_on  # idle: gathered for the idle period
        worker._dispatch([(None, _samples(50, 50, flags=SampleFlag.OUTPUT_ON))], 1.01)
        assert worker._output_on  # on arrival: the next hand-over is due in 16 ms
        worker._flush_samples(1.02)
        worker._dispatch([(None, _samples(100, 50, flags=SampleFlag(0)))], 1.03)
        worker._flush_samples(1.04)
        assert not worker._output_on  # a block ending with the output off: idle pace again
    finally:
        worker._wake_r.close()
        worker._wake_w.close()
