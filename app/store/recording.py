"""Recording chunks: encoding, ~1 s chunking of sample blocks, and reassembly. Pure numpy."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

ENCODING = "f4le-cv-zlib"
CHUNK_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Chunk:
    """Consecutive samples ready to be stored as one ``recording_chunk`` row."""

    first_index: int
    sample_rate: float
    current_ua: np.ndarray  # float32
    voltage_v: np.ndarray  # float32

    @property
    def n(self) -> int:
        return int(self.current_ua.shape[0])


def encode(current_ua: np.ndarray, voltage_v: np.ndarray) -> bytes:
    c = np.ascontiguousarray(current_ua, dtype="<f4")
    v = np.ascontiguousarray(voltage_v, dtype="<f4")
    if c.shape != v.shape or c.ndim != 1:
        raise ValueError("current and voltage must be 1-D arrays of the same length")
    return zlib.compress(c.tobytes() + v.tobytes(), 6)


def decode(data: bytes, n: int, encoding: str = ENCODING) -> tuple[np.ndarray, np.ndarray]:
    """Fresh float32 (current µA, voltage V) arrays of a stored chunk."""
    if encoding != ENCODING:
        raise ValueError(f"unknown recording encoding {encoding!r}")
    raw = np.frombuffer(zlib.decompress(data), dtype="<f4")
    if raw.shape[0] != 2 * n:
        raise ValueError(f"recording chunk holds {raw.shape[0] // 2} samples, expected {n}")
    return raw[:n].astype(np.float32), raw[n:].astype(np.float32)


class Chunker:
    """Collects consecutive samples and cuts them into chunks of about ``seconds``.

    A gap in the sample index or a change of sample rate closes the current chunk.
    """

    def __init__(self, seconds: float = CHUNK_SECONDS) -> None:
        self._seconds = seconds
        self._first: int | None = None
        self._rate = 0.0
        self._cur: list[np.ndarray] = []
        self._volt: list[np.ndarray] = []
        self._n = 0

    @property
    def pending(self) -> int:
        return self._n

    def feed(self, first_index: int, sample_rate: float, current_ua: np.ndarray,
             voltage_v: np.ndarray) -> list[Chunk]:
        out: list[Chunk] = []
        if len(current_ua) != len(voltage_v):
            raise ValueError("current and voltage must have the same length")
        if self._n and (first_index != self._first + self._n  # type: ignore[operator]
                        or sample_rate != self._rate):
            out.extend(self.flush())
        if len(current_ua) == 0:
            return out
        if not self._n:
            self._first, self._rate = first_index, float(sample_rate)
        self._cur.append(np.asarray(current_ua, dtype=np.float32))
        self._volt.append(np.asarray(voltage_v, dtype=np.float32))
        self._n += len(current_ua)
        per_chunk = max(1, int(round(self._seconds * self._rate)))
        if self._n >= per_chunk:
            cur = np.concatenate(self._cur)
            volt = np.concatenate(self._volt)
            first = self._first
            assert first is not None
            pos = 0
            while self._n - pos >= per_chunk:
                out.append(Chunk(first + pos, self._rate, cur[pos:pos + per_chunk].copy(),
                                 volt[pos:pos + per_chunk].copy()))
                pos += per_chunk
            rest = self._n - pos
            self._cur, self._volt = ([cur[pos:].copy()], [volt[pos:].copy()]) if rest else ([], [])
            self._first, self._n = first + pos, rest
        return out

    def flush(self) -> list[Chunk]:
        """The samples collected so far as one (shorter) chunk, if any."""
        if not self._n:
            return []
        assert self._first is not None
        chunk = Chunk(self._first, self._rate, np.concatenate(self._cur),
                      np.concatenate(self._volt))
        self._cur, self._volt, self._n, self._first = [], [], 0, None
        return [chunk]


@dataclass(frozen=True, slots=True)
class Recording:
    """A session's recording as plot-ready arrays (NaN rows mark gaps between chunks)."""

    sample_rate: float
    t_s: np.ndarray  # float64, seconds since the first recorded sample
    current_ua: np.ndarray  # float32
    voltage_v: np.ndarray  # float32
    n_samples: int  # samples actually recorded (gap markers excluded)

    @property
    def duration_s(self) -> float:
        return float(self.t_s[-1] - self.t_s[0]) if self.t_s.size else 0.0


def assemble(chunks: list[tuple[int, float, np.ndarray, np.ndarray]]) -> Recording:
    """Join (first_index, sample_rate, current, voltage) chunks in index order."""
    if not chunks:
        empty = np.zeros(0, dtype=np.float32)
        return Recording(0.0, np.zeros(0), empty, empty.copy(), 0)
    chunks = sorted(chunks, key=lambda c: c[0])
    first0, rate0 = chunks[0][0], chunks[0][1]
    ts, cs, vs = [], [], []
    expected = None
    total = 0
    for first, rate, cur, volt in chunks:
        if expected is not None and first != expected:
            ts.append(np.array([np.nan]))
            cs.append(np.array([np.nan], dtype=np.float32))
            vs.append(np.array([np.nan], dtype=np.float32))
        ts.append((first - first0 + np.arange(len(cur), dtype=np.float64)) / rate)
        cs.append(cur)
        vs.append(volt)
        expected = first + len(cur)
        total += len(cur)
    return Recording(rate0, np.concatenate(ts), np.concatenate(cs).astype(np.float32),
                     np.concatenate(vs).astype(np.float32), total)
