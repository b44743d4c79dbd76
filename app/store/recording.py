"""Recording chunks: encoding, ~1 s chunking of sample blocks, and reassembly. Pure numpy.

The encoding (:data:`ENCODING`) is lossless, bit for bit, and small for device data.
The driver hands over ``float32(count) * float32(lsb)`` for each channel (ADC counts
times the channel's LSB), so each channel of a chunk is stored, when that reproduces
every float32 exactly, as its step (the LSB, found in the data), its lowest count, and
the counts above it in the fewest bytes that hold them (1, 2 or 4). Anything else
(values off any grid, NaN, -0.0) is stored as plain float32. Both channels' bytes are
byte-shuffled (all first bytes, then all second bytes, ...) and compressed together
with LZMA2. About 34 MB of database per hour at 10 kS/s for a typical program (square
alternating 200 µA into the skin model, with idle stretches): ``bench recording``.
"""

from __future__ import annotations

import lzma
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

ENCODING = "cv-lsb-shuf-lzma"
"""How new chunks are stored (see :func:`encode`); every stored row names its encoding."""
LEGACY_ENCODING = "f4le-cv-zlib"
"""Float32 current then voltage, zlib: what the first recordings used (still read)."""
ENCODINGS = (ENCODING, LEGACY_ENCODING)
CHUNK_SECONDS = 1.0

# LZMA2 without a container (the encoding name fixes the filter); a 64 KiB dictionary
# covers a whole chunk (two channels of 10,000 samples) and keeps the coder's memory small.
_LZMA_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 6, "dict_size": 1 << 16}]
_FLOAT, _COUNTS = 0, 1
_COUNTS_HEADER = struct.Struct("<fiB")  # step (float32), base count, bytes per count
_MAX_COUNT = 1 << 24  # float32 holds every integer up to here exactly


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
    """The chunk's bytes in :data:`ENCODING` (lossless: float32 bits are kept)."""
    c = np.ascontiguousarray(current_ua, dtype="<f4")
    v = np.ascontiguousarray(voltage_v, dtype="<f4")
    if c.shape != v.shape or c.ndim != 1:
        raise ValueError("current and voltage must be 1-D arrays of the same length")
    header, payload = bytearray(), []
    for x in (c, v):
        found = _as_counts(x)
        if found is None:
            header.append(_FLOAT)
            payload.append(_shuffle(x))
        else:
            step, base, width, counts = found
            header.append(_COUNTS)
            header += _COUNTS_HEADER.pack(step, base, width)
            payload.append(_shuffle(counts) if width else b"")
    return bytes(header) + lzma.compress(
        b"".join(payload), format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS
    )


def decode(data: bytes, n: int, encoding: str = ENCODING) -> tuple[np.ndarray, np.ndarray]:
    """Fresh float32 (current µA, voltage V) arrays of a stored chunk.

    Raises ValueError naming what is wrong for an unknown encoding, a damaged chunk or
    a sample count that does not match ``n``.
    """
    if encoding == LEGACY_ENCODING:
        try:
            raw = np.frombuffer(zlib.decompress(data), dtype="<f4")
        except zlib.error as exc:
            raise ValueError(f"recording chunk is damaged ({exc})") from exc
        if raw.shape[0] != 2 * n:
            raise ValueError(f"recording chunk holds {raw.shape[0] // 2} samples, expected {n}")
        return raw[:n].astype(np.float32), raw[n:].astype(np.float32)
    if encoding != ENCODING:
        raise ValueError(
            f"unknown recording encoding {encoding!r}; this console reads {', '.join(ENCODINGS)}"
        )
    try:
        return _decode_current(bytes(data), n)
    except (lzma.LZMAError, struct.error, IndexError) as exc:
        raise ValueError(f"recording chunk is damaged ({exc})") from exc


def _decode_current(data: bytes, n: int) -> tuple[np.ndarray, np.ndarray]:
    pos, layouts = 0, list[Any]()
    for _ in range(2):
        kind = data[pos]
        pos += 1
        if kind == _FLOAT:
            layouts.append(None)
        elif kind == _COUNTS:
            layouts.append(_COUNTS_HEADER.unpack_from(data, pos))
            pos += _COUNTS_HEADER.size
        else:
            raise ValueError(f"recording chunk is damaged (channel kind {kind})")
    body = lzma.decompress(data[pos:], format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS)
    sizes = [4 * n if lay is None else lay[2] * n for lay in layouts]
    if len(body) != sum(sizes):
        held = len(body) / max(1, sum(sizes) // n) if n else len(body)
        raise ValueError(f"recording chunk holds {held:g} samples, expected {n}")
    out, start = [], 0
    for lay, size in zip(layouts, sizes, strict=True):
        part = body[start : start + size]
        start += size
        if lay is None:
            out.append(_unshuffle(part, "<f4", n).astype(np.float32))
            continue
        step, base, width = lay
        if width not in (0, 1, 2, 4):
            raise ValueError(f"recording chunk is damaged (count width {width})")
        counts = (
            np.full(n, base, dtype=np.int64)
            if width == 0
            else _unshuffle(part, f"<u{width}", n).astype(np.int64) + base
        )
        out.append(counts.astype(np.float32) * np.float32(step))
    return out[0], out[1]


def _as_counts(x: np.ndarray) -> tuple[float, int, int, np.ndarray] | None:
    """(step, base, width, counts - base) if ``x == float32(count) * float32(step)``."""
    if x.size == 0:
        return 1.0, 0, 0, x.astype(np.uint8)
    if not np.isfinite(x).all():
        return None
    for step in _step_candidates(x):
        counts = np.rint(x.astype(np.float64) / float(step))
        if np.abs(counts).max() > _MAX_COUNT:
            continue
        k = counts.astype(np.int64)  # (rint keeps -0.0; the decoder's integers do not)
        with np.errstate(over="ignore", invalid="ignore"):  # inf then fails the check
            back = k.astype(np.float32) * step
        if not np.array_equal(back.view(np.uint32), x.view(np.uint32)):
            continue
        base = int(k.min())
        span = int(k.max()) - base
        width = 0 if span == 0 else 1 if span < 1 << 8 else 2 if span < 1 << 16 else 4
        dtype = np.uint8 if width <= 1 else np.uint16 if width == 2 else np.uint32
        return float(step), base, width, (k - base).astype(dtype)
    return None


def _step_candidates(x: np.ndarray) -> list[np.float32]:
    """LSBs to try: the smallest spacing of the values (or a fraction of it), rounded to
    1..7 significant digits — an LSB is a round number, the spacing of products is not."""
    levels = np.unique(x)
    if levels.size == 1:
        return [np.float32(1.0)] if levels[0] == 0 else [np.float32(levels[0])]
    spacing = float(np.diff(levels.astype(np.float64)).min())
    if levels[0] < 0 < levels[-1]:  # zero is a level of every grid through it
        spacing = min(spacing, float(np.abs(levels[levels != 0]).min()))
    out: list[np.float32] = []
    for divisor in (1, 2, 3, 4, 5):
        for digits in range(1, 8):
            with np.errstate(over="ignore"):  # near float32's top, rounding up overflows
                step = np.float32(float(f"{spacing / divisor:.{digits}g}"))
            if np.isfinite(step) and step > 0 and step not in out:
                out.append(step)
    return out


def _shuffle(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a.view(np.uint8).reshape(-1, a.itemsize).T).tobytes()


def _unshuffle(data: bytes, dtype: str, n: int) -> np.ndarray:
    size = np.dtype(dtype).itemsize
    planes = np.frombuffer(data, dtype=np.uint8).reshape(size, n)
    return np.ascontiguousarray(planes.T).view(dtype).reshape(n)


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

    def feed(
        self, first_index: int, sample_rate: float, current_ua: np.ndarray, voltage_v: np.ndarray
    ) -> list[Chunk]:
        out: list[Chunk] = []
        if len(current_ua) != len(voltage_v):
            raise ValueError("current and voltage must have the same length")
        if self._n and (
            first_index != self._first + self._n  # type: ignore[operator]
            or sample_rate != self._rate
        ):
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
                out.append(
                    Chunk(
                        first + pos,
                        self._rate,
                        cur[pos : pos + per_chunk].copy(),
                        volt[pos : pos + per_chunk].copy(),
                    )
                )
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
        chunk = Chunk(
            self._first, self._rate, np.concatenate(self._cur), np.concatenate(self._volt)
        )
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
    return Recording(
        rate0,
        np.concatenate(ts),
        np.concatenate(cs).astype(np.float32),
        np.concatenate(vs).astype(np.float32),
        total,
    )
