"""The driver's fast decode path gives exactly what the per-frame path gives.

FrameDecoder.feed_batch vs FrameDecoder.feed, parse_samples_payloads vs
Samples.decode_body, LinkCounter's batch methods vs its per-frame ones, SampleAssembler
vs decoding and counting frame by frame: on arbitrary streams, with corrupted bytes,
foreign versions, garbage and arbitrary chunking.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from cobs import cobs
from hypothesis import given, settings
from hypothesis import strategies as st

from app.device.link import SampleAssembler, _LinkDecoder
from app.device.protocol import (
    CRC,
    DELIMITER,
    HEADER,
    PROTOCOL_VERSION,
    DeviceState,
    Fault,
    FrameDecoder,
    Heartbeat,
    Info,
    MsgType,
    ProtocolError,
    SampleFlag,
    Samples,
    Status,
    crc16,
    encode_frame,
    encode_message,
    parse_samples_payloads,
)
from app.device.stats import INDEX_MODULUS, SEQ_MODULUS, LinkCounter

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


def _samples(
    first: int,
    n: int,
    sync: tuple[int, ...] = (),
    seed: int = 0,
    flags: int = 9,
    level: float = 100.0,
) -> Samples:
    raw = np.random.default_rng(seed).integers(-32768, 32768, (n, 2)).astype(np.int16)
    return Samples(first % INDEX_MODULUS, SampleFlag(flags), level, sync, raw)


def _payload(body: bytes, seq: int = 0) -> bytes:
    head = HEADER.pack(PROTOCOL_VERSION, MsgType.SAMPLES, seq) + body
    return head + CRC.pack(crc16(head))


# --------------------------------------------------------------------------- streams

STATUS = Status(DeviceState.RUNNING, 10.0, 20.0, 3000.0, True, False, Fault.NONE, 0.5, 7)


@st.composite
def streams(draw) -> bytes:
    """A device stream: mostly steady SAMPLES frames, with other messages, frames of
    other shapes, skipped sequence numbers, foreign versions, garbage and bit flips."""
    n = draw(st.sampled_from([0, 1, 5, 50]))
    n_sync = draw(st.integers(0, 2)) if n else 0
    parts: list[bytes] = []
    seq, index = draw(st.integers(0, SEQ_MODULUS - 1)), draw(st.integers(0, INDEX_MODULUS - 1))
    for k in range(draw(st.integers(0, 30))):
        kind = draw(
            st.sampled_from(
                ["samples"] * 6
                + ["status", "heartbeat", "odd", "skip", "v2", "garbage", "bad_body"]
            )
        )
        if kind == "samples":
            sync = tuple(range(n_sync))
            parts.append(encode_message(_samples(index, n, sync, k), seq))
            index += n
        elif kind == "status":
            parts.append(encode_message(STATUS, seq))
        elif kind == "heartbeat":
            parts.append(encode_message(Heartbeat(), seq))
        elif kind == "odd":  # another shape of SAMPLES frame
            parts.append(encode_message(_samples(index, 3, (1,), k), seq))
            index += 3
        elif kind == "skip":
            seq = (seq + draw(st.integers(1, 5))) % SEQ_MODULUS
            index += draw(st.integers(1, 500))
            continue
        elif kind == "v2":
            payload = HEADER.pack(2, MsgType.SAMPLES, seq) + _samples(index, n).encode_body()
            parts.append(cobs.encode(payload + CRC.pack(crc16(payload))) + DELIMITER)
        elif kind == "garbage":
            parts.append(draw(st.binary(max_size=30)))
        else:  # good frame, body that does not parse
            parts.append(encode_frame(MsgType.SAMPLES, seq, b"\x01\x02\x03"))
        seq = (seq + 1) % SEQ_MODULUS
    data = bytearray(b"".join(parts))
    for pos, value in draw(
        st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=3)
    ):
        if data:
            data[pos % len(data)] = value
    lead = draw(st.sampled_from([b"", DELIMITER, b"\x05\x01\x86", b"junk\x00"]))
    return lead + bytes(data)


def _chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(edges[:-1], edges[1:], strict=True)]


@settings(max_examples=300, deadline=None)
@given(streams(), st.lists(st.integers(0, 10**6), max_size=8))
def test_feed_batch_equals_feed(data, cuts):
    slow, fast = _LinkDecoder(), _LinkDecoder()
    slow.rejected, fast.rejected = [], []
    frames, seqs, others, payloads = [], [], [], []
    for chunk in _chunked(data, cuts):
        frames += slow.feed(chunk)
        got = fast.feed_batch(chunk)
        seqs += got.seqs
        others += got.frames
        payloads += got.samples + (got.run.payloads() if got.run is not None else [])
    assert fast.stats == slow.stats
    assert fast.rejected == slow.rejected
    assert fast.foreign_version == slow.foreign_version
    assert seqs == [f.seq for f in frames]
    assert others == [f for f in frames if f.type != MsgType.SAMPLES]
    samples = [f for f in frames if f.type == MsgType.SAMPLES]
    assert [p[4:-2] for p in payloads] == [f.body for f in samples]
    assert [p[:4] for p in payloads] == [HEADER.pack(f.version, f.type, f.seq) for f in samples]


def test_feed_batch_takes_a_steady_read_at_once_and_falls_back_on_a_bad_frame():
    frames = [encode_message(_samples(50 * k, 50, (0,), k), k) for k in range(20)]
    dec = FrameDecoder()
    got = dec.feed_batch(DELIMITER + b"".join(frames))
    assert got.seqs == list(range(20))
    assert got.frames == []
    assert got.samples == []
    assert got.run is not None
    assert got.run.count == 20
    assert got.run.payloads() == [cobs.decode(f[:-1]) for f in frames]
    bad = bytearray(frames[3])
    bad[40] ^= 0x55
    got = dec.feed_batch(b"".join([frames[0], bytes(bad), frames[5]]))
    assert got.seqs == [0, 5]
    assert dec.stats.crc_errors == 1
    assert dec.stats.frames_ok == 22


# --------------------------------------------------------------------------- parsing


@st.composite
def payload_lists(draw) -> list[bytes]:
    """Mostly one shape (the fast path), sometimes anything (the per-frame path)."""
    n = draw(st.integers(0, 60))
    n_sync = draw(st.integers(0, 3))
    out = []
    for k in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["same"] * 5 + ["other", "bad_sync", "junk", "long"]))
        first = draw(st.integers(0, INDEX_MODULUS - 1))
        if kind == "same":
            sync = tuple(draw(st.integers(0, max(n - 1, 0))) for _ in range(n_sync)) if n else ()
            body = _samples(first, n, sync, k, k % 16, 0.25 * k).encode_body()
        elif kind == "other":
            body = _samples(first, draw(st.integers(0, 9)), (), k).encode_body()
        elif kind == "bad_sync":
            body = bytearray(_samples(first, n, (0,) * max(n_sync, 1), k).encode_body())
            body[11] = n + draw(st.integers(0, 3))  # a sync offset past the frame's end
            body = bytes(body)
        elif kind == "long":
            body = _samples(first, n, (), k).encode_body() + b"\x00"
        else:
            body = draw(st.binary(max_size=30))
        out.append(_payload(body, k))
    return out


@settings(max_examples=400, deadline=None)
@given(payload_lists())
def test_parse_samples_payloads_equals_per_frame_decoding(payloads):
    got = parse_samples_payloads(payloads)
    expected, bad = [], []
    for pos, payload in enumerate(payloads):
        try:
            expected.append(Samples.decode_body(payload[4:-2]))
        except ProtocolError as exc:
            bad.append((pos, str(exc)))
    assert got.bad == bad
    assert got.first_index.tolist() == [m.first_index for m in expected]
    assert got.counts.tolist() == [m.raw.shape[0] for m in expected]
    if got.per_frame is not None:
        assert set(got.counts.tolist()) <= {got.per_frame}
    assert got.flags.tolist() == [int(m.flags) for m in expected]
    np.testing.assert_array_equal(
        got.level_ua, np.array([m.level_ua for m in expected], np.float32)
    )
    offsets = np.cumsum([0] + [m.raw.shape[0] for m in expected])
    assert got.sync_at.tolist() == [
        int(offsets[k]) + s for k, m in enumerate(expected) for s in m.sync
    ]
    want = np.concatenate([m.raw for m in expected]) if expected else np.zeros((0, 2))
    np.testing.assert_array_equal(got.raw.reshape(-1, 2), want)


def test_steady_payloads_take_the_one_shape_path():
    payloads = [_payload(_samples(50 * k, 50, (0, 7), k).encode_body(), k) for k in range(30)]
    got = parse_samples_payloads(payloads)
    assert got.per_frame == 50
    assert got.raw.shape == (30, 50, 2)
    assert got.sync_at[:4].tolist() == [0, 7, 50, 57]


# --------------------------------------------------------------------------- counting


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, SEQ_MODULUS - 1), max_size=20), max_size=6),
    st.booleans(),
    st.integers(0, SEQ_MODULUS - 1),
)
def test_on_frames_equals_on_frame(batches, steady, start):
    if steady:  # consecutive numbers, across the wrap too
        batches = [[(start + 7 * b + i) % SEQ_MODULUS for i in range(7)] for b in range(4)]
    one, many = LinkCounter(), LinkCounter()
    for c in (one, many):
        c.on_connected(0.0)
    for k, seqs in enumerate(batches):
        lost = sum(one.on_frame(s, float(k)) for s in seqs)
        assert many.on_frames(seqs, float(k)) == lost
    assert vars(many) == vars(one)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0, 1, 3, 50]),
            st.sampled_from([0, 0, 0, 0, 1, 40, -60, 2**31, 2**31 - 1]),
        ),
        max_size=40,
    ),
    st.integers(0, INDEX_MODULUS - 1),
    st.lists(st.integers(1, 40), max_size=5),
)
def test_on_samples_batch_equals_on_samples(frames, start, cuts):
    one, many = LinkCounter(), LinkCounter()
    for c in (one, many):
        c.on_connected(0.0)
    firsts, counts, index = [], [], start
    for n, skip in frames:
        index = (index + skip) % INDEX_MODULUS
        firsts.append(index)
        counts.append(n or 50)
        index += n or 50
    edges = [0, *sorted({c % (len(frames) + 1) for c in cuts}), len(frames)]
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        f, n = np.array(firsts[a:b], np.int64), np.array(counts[a:b], np.int64)
        want = [k for k in range(b - a) if one.on_samples(firsts[a + k], counts[a + k]) != 0]
        per_frame = counts[a] if b > a and len(set(counts[a:b])) == 1 else None
        assert many.on_samples_batch(f, n, per_frame) == want
    assert vars(many) == vars(one)


# --------------------------------------------------------------------------- assembling


def _reference_blocks(bodies: list[bytes], counter: LinkCounter) -> tuple[list, list[str]]:
    """Decode and count frame by frame; blocks as (first_index, current, voltage, level,
    flags, sync)."""
    blocks: list[list] = []
    bad = []
    for body in bodies:
        try:
            m = Samples.decode_body(body)
        except ProtocolError as exc:
            bad.append(str(exc))
            continue
        n = m.raw.shape[0]
        if not n:
            continue
        sync = np.zeros(n, bool)
        sync[list(m.sync)] = True
        part = [
            m.raw[:, 0].astype(np.float32) * np.float32(INFO.current_lsb_ua),
            m.raw[:, 1].astype(np.float32) * np.float32(INFO.voltage_lsb_v),
            np.full(n, m.level_ua, np.float32),
            np.full(n, int(m.flags), np.uint8),
            sync,
        ]
        if counter.on_samples(m.first_index, n) != 0 or not blocks:
            blocks.append([m.first_index, *part])
        else:
            block = blocks[-1]
            for i, arr in enumerate(part, start=1):
                block[i] = np.concatenate([block[i], arr])
    return blocks, bad


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["same", "same", "same", "gap", "back", "other", "empty", "junk"]),
            st.integers(0, 2**31),
        ),
        max_size=30,
    ),
    st.integers(0, INDEX_MODULUS - 1),
    st.lists(st.integers(1, 30), max_size=4),
)
def test_assembler_equals_frame_by_frame(plan, start, flush_at):
    bodies, index = [], start
    for k, (kind, skip) in enumerate(plan):
        n = {"other": 7, "empty": 0}.get(kind, 50)
        if kind == "gap":
            index += 1 + skip % 1000
        elif kind == "back":
            index -= 1 + skip % 1000
        if kind == "junk":
            bodies.append(bytes([k]) * (k % 20))
            continue
        bodies.append(
            _samples(index, n, (0, k % max(n, 1)) if n else (), k, k % 16, float(k)).encode_body()
        )
        index += n
    ref_counter, counter = LinkCounter(), LinkCounter()
    expected, expected_bad = [], []
    asm = SampleAssembler(INFO, on_batch=counter.on_samples_batch)
    got = []
    edges = [0, *sorted({c % (len(bodies) + 1) for c in flush_at}), len(bodies)]
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        for body in bodies[a:b]:
            asm.add_body(body)
        got += asm.flush()
        blocks, bad = _reference_blocks(bodies[a:b], ref_counter)
        expected += blocks
        expected_bad += bad
    assert asm.bad == expected_bad
    assert [(b.first_index, len(b)) for b in got] == [(e[0], len(e[1])) for e in expected]
    for block, want in zip(got, expected, strict=True):
        for arr, ref in zip(
            (block.current_ua, block.voltage_v, block.level_ua, block.flags, block.sync),
            want[1:],
            strict=True,
        ):
            np.testing.assert_array_equal(arr, ref)
            assert arr.dtype == ref.dtype
            assert arr.base is None
    assert vars(counter) == vars(ref_counter)


def test_assembler_takes_decoder_payloads():
    frames = [encode_message(_samples(50 * k, 50, (3,), k), k) for k in range(10)]
    got = FrameDecoder().feed_batch(DELIMITER + b"".join(frames))
    counter = LinkCounter()
    asm = SampleAssembler(INFO, on_batch=counter.on_samples_batch)
    asm.add_batch(got, now=2.5)
    (block,) = asm.flush()
    assert (block.first_index, len(block), block.received_at) == (0, 500, 2.5)
    assert np.flatnonzero(block.sync).tolist() == [3 + 50 * k for k in range(10)]
    assert counter.samples_received == 500
    raw = np.concatenate([_samples(50 * k, 50, (3,), k).raw for k in range(10)])
    np.testing.assert_array_equal(block.current_ua, raw[:, 0].astype(np.float32) * np.float32(0.05))
    assert dataclasses.is_dataclass(block)


def test_bench_decodes_every_pair_through_the_driver_path():
    from app.bench.decode import _decode_ours

    frames = [encode_message(_samples(50 * k, 50, (0,), k), k) for k in range(200)]
    data = b"".join(frames)
    assert _decode_ours(data) == 200 * 50
    bad = bytearray(data)
    bad[len(frames[0]) * 100 + 30] ^= 0x01  # one corrupted frame: the bench refuses the run
    with pytest.raises(RuntimeError, match="decoded wrongly"):
        _decode_ours(bytes(bad))


@settings(max_examples=400, deadline=None)
@given(
    st.integers(1, 25),
    st.sampled_from([0, 1, 20, 50, 70]),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), max_size=3),
    st.integers(0, SEQ_MODULUS - 1),
    st.booleans(),
)
def test_one_length_reads_with_corrupted_bytes_equal_feed(count, n, flips, seq, status):
    """Reads of frames of one length (decoded in one piece) with bytes changed to other
    non-zero values (frame lengths unchanged: COBS codes, CRCs, headers corrupted)."""
    frames = []
    for k in range(count):
        msg = STATUS if status and k % 3 == 1 else _samples(n * k, n, (0,) if n else (), k)
        frames.append(encode_message(msg, (seq + k) % SEQ_MODULUS))
    data = bytearray(DELIMITER + b"".join(frames))
    for pos, value in flips:
        if data[pos % len(data)] != 0:  # delimiters stay where they are
            data[pos % len(data)] = value
    slow, fast = _LinkDecoder(), _LinkDecoder()
    slow.rejected, fast.rejected = [], []
    want = slow.feed(bytes(data))
    got = fast.feed_batch(bytes(data))
    payloads = got.samples + (got.run.payloads() if got.run is not None else [])
    assert fast.stats == slow.stats
    assert fast.rejected == slow.rejected
    assert got.seqs == [f.seq for f in want]
    assert got.frames == [f for f in want if f.type != MsgType.SAMPLES]
    assert [p[4:-2] for p in payloads] == [f.body for f in want if f.type == MsgType.SAMPLES]


def _same_length_reads(tamper) -> tuple[_LinkDecoder, _LinkDecoder, list, object]:
    frames = [encode_message(_samples(50 * k, 50, (0,), k), k) for k in range(6)]
    chunks = tamper([f[:-1] for f in frames])
    assert len({len(c) for c in chunks}) == 1
    assert all(0 not in c for c in chunks)
    data = DELIMITER + DELIMITER.join(chunks) + DELIMITER
    slow, fast = _LinkDecoder(), _LinkDecoder()
    return slow, fast, slow.feed(data), fast.feed_batch(data)


def test_a_wrong_crc_high_byte_alone_is_a_crc_error():
    def tamper(chunks):
        last = chunks[2][-1]  # the CRC's high byte (non-zero here)
        assert last != 0
        chunks[2] = chunks[2][:-1] + bytes([last % 255 + 1])
        return chunks

    slow, fast, want, got = _same_length_reads(tamper)
    assert slow.stats.crc_errors == fast.stats.crc_errors == 1
    assert got.seqs == [f.seq for f in want] == [0, 1, 3, 4, 5]


def test_chunks_that_only_decode_joined_are_not_taken_whole():
    """Two chunks of one length whose joint COBS decoding is two good payloads with a
    non-zero byte between them: neither chunk decodes alone to a good frame."""

    def tamper(chunks):
        p1, p2 = cobs.decode(chunks[0]), cobs.decode(chunks[1])
        joined = cobs.encode(p1 + b"\x07" + p2)  # one COBS stream, no 0x00 at the boundary
        size = len(chunks[0])
        assert len(joined) == 2 * size
        return [joined[:size], joined[size:], *chunks[2:]]

    slow, fast, want, got = _same_length_reads(tamper)
    assert fast.stats == slow.stats
    assert slow.stats.frames_ok == 4
    assert got.seqs == [f.seq for f in want] == [2, 3, 4, 5]
