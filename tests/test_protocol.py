"""The wire codec: message round trips, and the frame decoder's robustness properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.device.protocol import (
    DELIMITER,
    PROTOCOL_VERSION,
    Ack,
    Command,
    DeviceState,
    Event,
    EventCode,
    Fault,
    FrameDecoder,
    Heartbeat,
    Hello,
    Info,
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
    crc16,
    decode_message,
    encode_frame,
    encode_message,
    message_type,
)
from app.device.waveform import OutputSettings, Polarity, Waveform

F32 = st.floats(width=32, allow_nan=False)

MESSAGES = [
    Hello(1),
    Hello(65535, version=9),
    SetOutput(2, OutputSettings(Waveform.SINE, 0.5, 250.0, Polarity.BIPHASIC, 4.0, 2.5)),
    *(
        Command(t, 100 + i)
        for i, t in enumerate(
            [
                MsgType.START,
                MsgType.PAUSE,
                MsgType.RESUME,
                MsgType.STOP,
                MsgType.ESTOP,
                MsgType.RESET,
            ]
        )
    ),
    Heartbeat(),
    SetCalibration(7, 0.75, 1.25, -0.5, 0.5),
    SimControl(8, SimOp.LOAD_RESISTOR, 10_000.0),
    Info(
        9,
        1,
        "MC-SIM 1",
        "SIM-000042",
        "sim-1.0.0",
        1000.0,
        0.125,
        2000.0,
        20.0,
        10_000,
        0.0625,
        0.0009765625,
        500,
        50,
    ),
    Ack(10, int(MsgType.START)),
    Nak(11, int(MsgType.SET_OUTPUT), NakReason.OUT_OF_RANGE, "amplitude_ua = 1500 µA"),
    Status(DeviceState.RUNNING, 99.5, 100.0, math.inf, True, False, Fault.ADC, -0.25, 123456),
    Event(EventCode.CONTACT_LOST, 3, "probes lifted"),
    Samples(
        4_000_000_000,
        SampleFlag.OUTPUT_ON | SampleFlag.CONTACT,
        42.5,
        (0, 17, 49),
        np.arange(100, dtype=np.int16).reshape(50, 2) - 50,
    ),
]


def _roundtrip(msg):
    frames = FrameDecoder().feed(DELIMITER + encode_message(msg, 321))
    assert len(frames) == 1
    assert frames[0].seq == 321
    assert frames[0].type == message_type(msg)
    return decode_message(frames[0].type, frames[0].body)


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: type(m).__name__)
def test_every_message_round_trips(msg):
    back = _roundtrip(msg)
    if isinstance(msg, Samples):
        assert (back.first_index, back.flags, back.level_ua, back.sync) == (
            msg.first_index,
            msg.flags,
            msg.level_ua,
            msg.sync,
        )
        np.testing.assert_array_equal(back.raw, msg.raw)
        assert back.raw.shape == (50, 2)
    else:
        assert back == msg


def test_message_types_cover_every_defined_type():
    covered = {message_type(m) for m in MESSAGES}
    assert covered == set(MsgType)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 65535),
    F32,
    F32.filter(lambda x: x >= 0),
    st.sampled_from(list(Waveform)),
    st.sampled_from(list(Polarity)),
)
def test_set_output_round_trips_any_float32(rid, freq, amp, wf, pol):
    msg = SetOutput(rid, OutputSettings(wf, freq, amp, pol, 1.5, 0.5))
    assert _roundtrip(msg) == msg


def test_crc_is_ccitt_false():
    assert crc16(b"123456789") == 0x29B1  # the standard check value


def test_worked_example_frame_bytes():
    """The example in docs/protocol.md, byte for byte."""
    frame = encode_message(Command(MsgType.START, 0x0102), 5)
    assert frame.hex(" ") == "04 01 03 05 05 02 01 64 6f 00"
    assert crc16(bytes([PROTOCOL_VERSION, 0x03, 0x05, 0x00, 0x02, 0x01])) == 0x6F64


def test_truncated_bodies_raise_protocol_errors():
    for msg in MESSAGES:
        body = msg.encode_body()
        if not body:
            continue
        with pytest.raises(ProtocolError):
            decode_message(message_type(msg), body[: len(body) // 2])
    with pytest.raises(ProtocolError, match="unknown message type"):
        decode_message(0x7F, b"")


def _stream(msgs) -> tuple[bytes, list[bytes]]:
    frames = [encode_message(m, i) for i, m in enumerate(msgs)]
    return DELIMITER + b"".join(frames), frames


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000), st.lists(st.integers(1, 500), max_size=10))
def test_no_byte_stream_makes_the_decoder_raise(data, cuts):
    dec = FrameDecoder()
    pos = 0
    for c in [*cuts, len(data)]:
        for f in dec.feed(data[pos : pos + c]):
            assert f.version == PROTOCOL_VERSION
        pos += c
    assert dec.stats.bytes_in == len(data)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(MESSAGES), st.data())
def test_every_corrupted_frame_is_rejected_and_counted(msg, data):
    good = encode_message(Heartbeat(), 0)
    frame = bytearray(encode_message(msg, 1))
    pos = data.draw(st.integers(0, len(frame) - 2), label="position")  # not the delimiter
    frame[pos] ^= data.draw(st.integers(1, 255), label="xor")
    dec = FrameDecoder()
    frames = dec.feed(DELIMITER + good + bytes(frame) + good)
    assert [f.seq for f in frames] == [0, 0]  # only the two good ones
    s = dec.stats
    assert s.crc_errors + s.framing_errors >= 1


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=500).map(lambda b: b.replace(b"\x00", b"\x01")))
def test_decoder_resynchronises_after_garbage(garbage):
    msgs = [Hello(1), Event(EventCode.ESTOP, 0, "x")]
    stream, _ = _stream(msgs)
    dec = FrameDecoder()
    dec.feed(DELIMITER + encode_message(Heartbeat(), 9))  # in sync
    frames = dec.feed(garbage + stream)
    decoded = [decode_message(f.type, f.body) for f in frames]
    assert decoded == msgs
    if garbage:
        assert dec.stats.crc_errors + dec.stats.framing_errors == 1


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 400), max_size=20))
def test_chunking_does_not_change_the_frames(cuts):
    stream, _ = _stream(MESSAGES)
    whole = FrameDecoder().feed(stream)
    dec, got, pos = FrameDecoder(), [], 0
    for c in sorted(cuts):
        got += dec.feed(stream[pos:c])
        pos = max(pos, c)
    got += dec.feed(stream[pos:])
    assert [(f.type, f.seq, f.body) for f in got] == [(f.type, f.seq, f.body) for f in whole]
    assert len(whole) == len(MESSAGES)
    assert dec.stats.crc_errors == dec.stats.framing_errors == 0


def test_joining_mid_frame_is_not_an_error():
    stream, frames = _stream([Hello(1), Hello(2)])
    dec = FrameDecoder()
    got = dec.feed(frames[0][3:] + frames[1])  # started listening mid-frame
    assert [decode_message(f.type, f.body) for f in got] == [Hello(2)]
    assert dec.stats.crc_errors == dec.stats.framing_errors == 0


def test_other_protocol_versions_are_counted_not_delivered():
    payload = bytes([2, int(MsgType.HELLO), 0, 0, 1, 0, 2])
    from cobs import cobs

    frame = cobs.encode(payload + crc16(payload).to_bytes(2, "little")) + DELIMITER
    dec = FrameDecoder()
    assert dec.feed(DELIMITER + frame) == []
    assert dec.stats.version_errors == 1


def test_runaway_frame_is_dropped():
    dec = FrameDecoder()
    dec.feed(DELIMITER + b"\x05" * 3000)
    assert dec.stats.framing_errors == 1
    assert [f.seq for f in dec.feed(DELIMITER + encode_frame(MsgType.HEARTBEAT, 4))] == [4]


def test_every_wire_example_in_the_protocol_document_is_a_valid_frame():
    from pathlib import Path

    doc = Path(__file__).resolve().parents[1] / "docs" / "protocol.md"
    lines = [
        ln.split(":", 1)[1]
        for ln in doc.read_text(encoding="utf-8").splitlines()
        if ln.startswith("wire:")
    ]
    assert len(lines) >= 4
    for hex_text in lines:
        data = bytes.fromhex(hex_text)
        dec = FrameDecoder()
        frames = dec.feed(DELIMITER + data)
        assert len(frames) == 1, hex_text
        decode_message(frames[0].type, frames[0].body)  # parses
        assert dec.stats.crc_errors == dec.stats.framing_errors == 0


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 255), st.binary(max_size=300))
def test_any_body_decodes_or_raises_a_protocol_error(msg_type, body):
    problem = ""
    try:
        decode_message(msg_type, body)
    except ProtocolError as exc:
        problem = str(exc) or "(no text)"
    assert problem != "(no text)"  # a refusal always says what is wrong


@pytest.mark.parametrize(
    "msg", [m for m in MESSAGES if not isinstance(m, Samples)], ids=lambda m: type(m).__name__
)
def test_trailing_bytes_are_ignored_except_in_samples(msg):
    """docs/protocol.md §1: bytes after the last field are accepted and ignored."""
    body = msg.encode_body() + b"\x01\x02\x03"
    assert decode_message(int(message_type(msg)), body) == decode_message(
        int(message_type(msg)), msg.encode_body()
    )


def test_samples_with_trailing_bytes_are_bad_messages():
    msg = Samples(5, SampleFlag.OUTPUT_ON, 10.0, (0,), np.zeros((3, 2), dtype=np.int16))
    with pytest.raises(ProtocolError, match="SAMPLES"):
        decode_message(int(MsgType.SAMPLES), msg.encode_body() + b"\x00")
