"""`python -m app bench decode`: frame decoding throughput vs a line-per-sample ASCII protocol.

Both sides decode the same samples on one core, in this process, in the same run:

* ours: the driver's real path (``DeviceLink``'s worker) — ``FrameDecoder.feed_batch``
  over the driver's reads of up to 64 KiB (COBS, length, CRC, version and type of every
  frame checked), the
  link counter told every frame's sequence number, and ``SampleAssembler`` decoding the
  SAMPLES frames in batches with numpy into float32 blocks in physical units, gaps in the
  sample indices counted, flushed every 20 ms as the driver does (``SAMPLE_EMIT_PERIOD_S``:
  at full throughput the batches are what a backlog of 20 ms gives);
* baseline: what typical hobby serial scopes do — one ``"current,voltage\\n"`` line per
  sample, read with ``readline()``, ``split(b",")`` and ``float()``, collected in lists
  and turned into numpy arrays at the end.

``line_rate_ratio`` is how many times faster than a 921,600-baud line (10 bits a byte)
can deliver our frames that we decode them.
"""

from __future__ import annotations

import argparse
import io
import time

import numpy as np

SECONDS_OF_DATA = 20  # at 10 kS/s: 200,000 sample pairs
SAMPLE_RATE = 10_000
PER_FRAME = 50
READ_SIZE = 65536  # what the driver asks the port for when bytes are waiting (link._read)
BAUD = 921_600


def _stream() -> tuple[bytes, bytes, int]:
    from app.device.protocol import SampleFlag, Samples, encode_message

    rng = np.random.default_rng(7)
    n = SECONDS_OF_DATA * SAMPLE_RATE
    t = np.arange(n) / SAMPLE_RATE
    i_counts = np.round(np.sign(np.sin(2 * np.pi * 10 * t)) * 2000 + rng.normal(0, 3, n))
    v_counts = np.round(i_counts * 2.2 + rng.normal(0, 3, n))
    raw = np.stack([i_counts, v_counts], axis=1).astype("<i2")
    frames = []
    for k, start in enumerate(range(0, n, PER_FRAME)):
        msg = Samples(
            start,
            SampleFlag.OUTPUT_ON | SampleFlag.CONTACT,
            100.0,
            (0,),
            raw[start : start + PER_FRAME],
        )
        frames.append(encode_message(msg, k))
    binary = b"".join(frames)
    ascii_lines = "".join(f"{c * 0.05:.2f},{v * 0.001:.3f}\n" for c, v in raw.tolist())
    return binary, ascii_lines.encode(), n


def _decode_ours(data: bytes):
    from app.device.link import SAMPLE_EMIT_PERIOD_S, SampleAssembler
    from app.device.protocol import FrameDecoder, Info
    from app.device.stats import LinkCounter

    info = Info(
        0, 1, "bench", "0", "0", 1000.0, 0.1, 2000.0, 20.0, SAMPLE_RATE, 0.05, 0.001, 500, PER_FRAME
    )
    counter = LinkCounter()
    counter.on_connected(0.0)
    decoder = FrameDecoder()
    assembler = SampleAssembler(info, on_batch=counter.on_samples_batch)
    total = 0
    view = memoryview(data)
    last_flush = time.perf_counter()
    for pos in range(0, len(data), READ_SIZE):
        got = decoder.feed_batch(bytes(view[pos : pos + READ_SIZE]))
        counter.on_frames(got.seqs, 0.0)
        if got.frames:  # none in this stream (the driver decodes them one by one)
            raise RuntimeError("unexpected frame in the bench stream")
        assembler.add_batch(got)
        now = time.perf_counter()
        if now - last_flush >= SAMPLE_EMIT_PERIOD_S:  # the driver flushes every 20 ms
            total += sum(len(b) for b in assembler.flush())
            last_flush = now
    total += sum(len(b) for b in assembler.flush())
    s = decoder.stats
    if (
        counter.samples_received != total
        or counter.samples_dropped
        or s.crc_errors
        or s.framing_errors
    ):
        raise RuntimeError(f"bench stream decoded wrongly: {counter.snapshot(0.0)}")
    return total


def _decode_ascii(data: bytes):
    stream = io.BytesIO(data)
    currents, voltages = [], []
    while line := stream.readline():
        c, v = line.split(b",")
        currents.append(float(c))
        voltages.append(float(v))
    np.array(currents, dtype=np.float32)
    np.array(voltages, dtype=np.float32)
    return len(currents)


def _best_rate(fn, data: bytes, pairs: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        got = fn(data)
        best = min(best, time.perf_counter() - t0)
        if got != pairs:
            raise RuntimeError(f"{fn.__name__} decoded {got} of {pairs} pairs")
    return pairs / best


def run(args: argparse.Namespace | None = None) -> dict:
    binary, ascii_data, pairs = _stream()
    ours = _best_rate(_decode_ours, binary, pairs, 5)
    baseline = _best_rate(_decode_ascii, ascii_data, pairs, 3)
    bytes_per_pair = len(binary) / pairs
    line_pairs_per_s = BAUD / 10 / bytes_per_pair
    result = {
        "pairs": pairs,
        "pairs_per_s": round(ours),
        "baseline_pairs_per_s": round(baseline),
        "ratio": round(ours / baseline, 1),
        "wire_bytes_per_pair": round(bytes_per_pair, 2),
        "line_pairs_per_s": round(line_pairs_per_s),
        "line_rate_ratio": round(ours / line_pairs_per_s, 1),
        "target_ratio": 20.0,
    }
    result["passed"] = result["ratio"] >= 20.0
    return result
