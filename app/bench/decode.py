"""`python -m app bench decode`: what decoding the device's stream costs, in % of one core.

The driver's decode path (``DeviceLink``'s worker) runs on a recorded stream of the
simulated device with the output on, at 10 and 50 kS/s, in this thread, as the driver
runs it: reads of 16 ms of bytes (``READ_BATCH_S``), each fed to ``FrameDecoder.feed``
(COBS, length, CRC and version of every frame), the link counter told every frame's
sequence number, every frame decoded to its message (``decode_message``), the SAMPLES
messages queued in a ``SampleAssembler`` and flushed every 16 ms
(``SAMPLE_EMIT_PERIOD_S``) into float32 blocks in physical units, gaps counted.

The figure is the CPU time this thread spends (``time.thread_time``: time stolen by
other processes on a shared machine is not counted) divided by the seconds of stream it
decoded; the best of a few rounds. The budget is 1 % of one core at 50 kS/s.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

SECONDS_OF_DATA = 10
RATES = (10_000, 50_000)
BUDGET_PCT = 1.0  # at the highest rate
ROUNDS = 5


def _info(sample_rate: int):
    from app.device.firmware import samples_per_frame
    from app.device.protocol import Info

    return Info(
        0,
        1,
        "bench",
        "0",
        "0",
        1000.0,
        0.1,
        2000.0,
        20.0,
        sample_rate,
        0.05,
        0.001,
        500,
        samples_per_frame(sample_rate),
    )


def _stream(sample_rate: int, seconds: float) -> tuple[list[bytes], int]:
    """The device's SAMPLES frames for ``seconds`` at ``sample_rate`` (a 10 Hz square wave
    with noise, one sync mark per period), cut into the driver's reads (``READ_BATCH_S``)."""
    from app.device.firmware import samples_per_frame
    from app.device.link import READ_BATCH_S
    from app.device.protocol import SampleFlag, Samples, encode_message

    rng = np.random.default_rng(7)
    n = int(seconds * sample_rate)
    per_frame = samples_per_frame(sample_rate)
    t = np.arange(n) / sample_rate
    i_counts = np.round(np.sign(np.sin(2 * np.pi * 10 * t)) * 2000 + rng.normal(0, 3, n))
    v_counts = np.round(i_counts * 2.2 + rng.normal(0, 3, n))
    raw = np.stack([i_counts, v_counts], axis=1).astype("<i2")
    period = sample_rate // 10
    frames = []
    for k, start in enumerate(range(0, n, per_frame)):
        chunk = raw[start : start + per_frame]
        first_sync = start + -start % period  # a period starts every ``period`` samples
        sync = tuple(range(first_sync - start, len(chunk), period))
        msg = Samples(start, SampleFlag.OUTPUT_ON | SampleFlag.CONTACT, 100.0, sync, chunk)
        frames.append(encode_message(msg, k % 65536))
    data = b"\x00" + b"".join(frames)
    step = max(1, round(len(data) / seconds * READ_BATCH_S))
    return [data[pos : pos + step] for pos in range(0, len(data), step)], n


def decode(reads: list[bytes], info) -> int:
    """Decode ``reads`` as the driver does; the number of samples in the blocks handed out.

    RuntimeError if any frame or sample was lost or rejected (the stream is clean).
    """
    from app.device.link import READ_BATCH_S, SAMPLE_EMIT_PERIOD_S, SampleAssembler
    from app.device.protocol import FrameDecoder, ProtocolError, Samples, decode_message
    from app.device.stats import LinkCounter

    counter = LinkCounter()
    counter.on_connected(0.0)
    decoder = FrameDecoder()
    assembler = SampleAssembler(info, counter.on_samples)
    flush_every = max(1, round(SAMPLE_EMIT_PERIOD_S / READ_BATCH_S))
    total = bad = 0
    for k, data in enumerate(reads):
        counter.on_bytes(len(data), 0.0)
        for frame in decoder.feed(data):
            counter.on_frame(frame.seq, 0.0)
            try:
                msg = decode_message(frame.type, frame.body)
            except ProtocolError:
                bad += 1
                continue
            if isinstance(msg, Samples):
                assembler.add(msg)
        if k % flush_every == flush_every - 1:
            total += sum(len(b) for b in assembler.flush())
    total += sum(len(b) for b in assembler.flush())
    s = decoder.stats
    if (
        bad
        or counter.samples_received != total
        or counter.samples_dropped
        or counter.frames_lost
        or s.crc_errors
        or s.framing_errors
    ):
        raise RuntimeError(f"bench stream decoded wrongly: {counter.snapshot(0.0)}")
    return total


def cpu_percent(sample_rate: int, seconds: float = SECONDS_OF_DATA, rounds: int = ROUNDS) -> dict:
    """% of one core the driver's decoding takes at ``sample_rate`` (best of ``rounds``)."""
    info = _info(sample_rate)
    reads, samples = _stream(sample_rate, seconds)
    best = float("inf")
    for _ in range(rounds):
        t0 = time.thread_time()
        got = decode(reads, info)
        best = min(best, time.thread_time() - t0)
        if got != samples:
            raise RuntimeError(f"decoded {got} of {samples} samples")
    frames = -(-samples // info.max_samples_per_frame)
    return {
        "cpu_pct": round(100 * best / seconds, 3),
        "us_per_frame": round(best / frames * 1e6, 1),
        "frames_per_s": round(frames / seconds),
    }


def run(args: argparse.Namespace | None = None) -> dict:
    result: dict = {"stream_s": SECONDS_OF_DATA}
    for rate in RATES:
        figures = cpu_percent(rate)
        for key, value in figures.items():
            result[f"{key}_{rate // 1000}k"] = value
    result["budget_pct_50k"] = BUDGET_PCT
    result["passed"] = result[f"cpu_pct_{RATES[-1] // 1000}k"] <= BUDGET_PCT
    return result
