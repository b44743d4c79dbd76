"""`python -m app bench recording`: database bytes per hour of recording at 10 kS/s
(``--sample-rate 50000``: at 50 kS/s, budget 150 MB/h, issue 16).

Realistic device data: the simulator's own firmware (:class:`app.device.firmware.Firmware`:
waveform generator, electrode–skin load, ADC noise and int16 quantisation) runs a typical
program step — square 10 Hz, alternating polarity every 2 s, 200 µA, 1 s ramp — for 40 s,
then idles (output off, probes on the skin) for 20 s, and so on. Its SAMPLES frames go
through the driver's :class:`~app.device.link.SampleAssembler` into the same float32
blocks the console records. The blocks go through the real store writer into a fresh
SQLite database (a session on the training client); ``mb_per_hour`` is the growth of the
database files (after a WAL checkpoint) scaled to one hour. The legacy float32+zlib
encoding and the second one (counts byte-shuffled, LZMA2) are measured on the same chunks
for comparison (``legacy_mb_per_hour``, ``lzma_mb_per_hour``), and the CPU time the
encoder takes (``encode_cpu_percent`` of one core at the recorded rate, thread CPU time).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SAMPLE_RATE = 10_000
SECONDS = 60
TARGET_MB_PER_HOUR = 60.0  # at 10 kS/s
TARGET_MB_PER_HOUR_50K = 150.0  # above 10 kS/s (up to 50 kS/s)
ON_S, IDLE_S = 40.0, 20.0
STEP_S = 0.02  # the driver hands over a block about every 20 ms


def device_blocks(
    seconds: float,
    *,
    sample_rate: int = SAMPLE_RATE,
    seed: int = 3,
    on_s: float = ON_S,
    idle_s: float = IDLE_S,
) -> Iterator:
    """SampleBlocks of the simulated device running a typical step with idle stretches.

    Generated at full speed on the firmware's own clock (no real time), decoded by the
    driver's SampleAssembler: the same values the console receives.
    """
    from app.device.firmware import Firmware
    from app.device.link import SampleAssembler
    from app.device.protocol import Command, Heartbeat, Hello, MsgType, Samples, SetOutput
    from app.device.waveform import OutputSettings, Polarity, Waveform

    fw = Firmware(sample_rate=sample_rate, seed=seed, now=0.0)
    fw.receive(Hello(1), 0.0)
    fw.take_outgoing()
    assembler = SampleAssembler(fw.info())
    settings = OutputSettings(Waveform.SQUARE, 10.0, 200.0, Polarity.ALTERNATING, 2.0, 1.0)
    rid, now, on = 1, 0.0, False
    while now < seconds:
        want = now % (on_s + idle_s) < on_s
        if want != on:
            rid += 2
            if want:
                fw.receive(SetOutput(rid - 1, settings), now)
                fw.receive(Command(MsgType.START, rid), now)
            else:
                fw.receive(Command(MsgType.STOP, rid), now)
            on = want
        now = min(now + STEP_S, seconds)
        fw.receive(Heartbeat(), now)  # the console's heartbeat keeps the watchdog quiet
        for msg in fw.take_outgoing():
            if isinstance(msg, Samples):
                assembler.add(msg, now)
        yield from assembler.flush()


def database_bytes(path: Path) -> int:
    """Size of an SQLite database with its WAL and shared-memory files."""
    return sum(
        p.stat().st_size for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
    )


def checkpoint(engine) -> None:
    from sqlalchemy import text

    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute(text("SELECT 1"))


def run(args: argparse.Namespace | None = None) -> dict:
    from app.store.recording import ENCODING, LEGACY_ENCODING, LZMA_ENCODING
    from app.store.runtime import start_store

    seconds = float(getattr(args, "seconds", None) or SECONDS)
    rate = int(getattr(args, "sample_rate", None) or SAMPLE_RATE)
    target = TARGET_MB_PER_HOUR if rate <= SAMPLE_RATE else TARGET_MB_PER_HOUR_50K
    blocks = list(device_blocks(seconds, sample_rate=rate))
    n_samples = sum(len(b) for b in blocks)
    with tempfile.TemporaryDirectory(prefix="bench-recording-") as tmp:
        path = Path(tmp) / "records.sqlite"
        store = start_store(f"sqlite:///{path}")
        try:
            rec = store.recorder(
                store.info.training_client_id,
                program="bench recording",
                device_serial="SIM-000001",
                firmware="bench",
            )
            if not store.writer.flush(10.0):
                return {"error": "the store writer did not start the session", "passed": False}
            checkpoint(store.engine)
            before = database_bytes(path)
            t0 = time.perf_counter()
            for block in blocks:
                rec.samples(block)
            rec.end("completed")
            if not store.writer.flush(60.0):
                return {"error": "the store writer did not finish writing", "passed": False}
            write_s = time.perf_counter() - t0
            checkpoint(store.engine)
            after = database_bytes(path)
            stored, chunk_bytes, legacy_bytes, lzma_bytes, encode_s = _chunk_sizes(store.engine)
        finally:
            store.close()
    per_hour = 3600.0 / (n_samples / rate)
    result: dict[str, Any] = {
        "sample_rate": rate,
        "seconds_recorded": round(n_samples / rate, 3),
        "samples": n_samples,
        "samples_stored": stored,
        "encoding": ENCODING,
        "db_growth_bytes": after - before,
        "chunk_bytes": chunk_bytes,
        "mb_per_hour": round((after - before) * per_hour / 1e6, 1),
        "legacy_encoding": LEGACY_ENCODING,
        "legacy_mb_per_hour": round(legacy_bytes * per_hour / 1e6, 1),
        "lzma_encoding": LZMA_ENCODING,
        "lzma_mb_per_hour": round(lzma_bytes * per_hour / 1e6, 1),
        "encode_cpu_percent": round(100 * encode_s / (n_samples / rate), 2),
        "writer_s_per_recorded_s": round(write_s / (n_samples / rate), 4),
        "target_mb_per_hour": target,
    }
    result["passed"] = stored == n_samples and result["mb_per_hour"] <= target
    return result


def _chunk_sizes(engine) -> tuple[int, int, int, int, float]:
    """(samples stored, bytes of chunk data, bytes the legacy and the LZMA encodings would
    take, thread CPU seconds the current encoder takes for all chunks)."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from app.store.models import RecordingChunk
    from app.store.recording import LEGACY_ENCODING, LZMA_ENCODING, decode, encode

    stored = size = legacy = old = 0
    encode_s = 0.0
    with Session(engine) as s:
        for n, enc, data in s.execute(
            select(RecordingChunk.n, RecordingChunk.encoding, RecordingChunk.data)
        ):
            cur, volt = decode(data, n, enc)
            stored += n
            size += len(data)
            legacy += len(encode(cur, volt, LEGACY_ENCODING))
            old += len(encode(cur, volt, LZMA_ENCODING))
            t0 = time.thread_time()
            encode(cur, volt)
            encode_s += time.thread_time() - t0
    return stored, size, legacy, old, encode_s


if __name__ == "__main__":  # pragma: no cover - manual run
    print(run(argparse.Namespace(seconds=float(os.environ.get("SECONDS", SECONDS)))))
