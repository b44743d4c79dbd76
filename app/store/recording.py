"""Recording chunks: encoding, ~1 s chunking of sample blocks, and reassembly. Pure numpy.

The encoding (:data:`ENCODING`) is lossless, bit for bit, and small for device data.
The driver hands over ``float32(count) * float32(lsb)`` for each channel (ADC counts
times the channel's LSB), so each channel of a chunk is stored, when that reproduces
every float32 exactly, as its step (the LSB, found in the data), its lowest count and
the counts above it; anything else (values off any grid, NaN, -0.0) is stored as plain
float32 (byte-shuffled, LZMA2).

The counts are coded predictively: in blocks of 64 samples, each block predicted by a
constant (a flat stretch of a square wave, idle), the previous sample (an edge) or a
quadratic (the electrodes settling after an edge), whichever leaves the smallest
residuals. What remains is the ADC noise, which is Huffman-coded one byte a sample.
About 132 MB of database per hour at 50 kS/s, 33 at 10 kS/s, for a typical program
(square alternating 200 µA into the skin model, with idle stretches): ``bench recording``.

Every stored row names its encoding; the two earlier ones (:data:`LZMA_ENCODING`,
:data:`LEGACY_ENCODING`) are still read, and :func:`encode` still writes them on request.
"""

from __future__ import annotations

import lzma
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

ENCODING = "cv-lsb-pred-huff"
"""How new chunks are stored (see :func:`encode`); every stored row names its encoding."""
LZMA_ENCODING = "cv-lsb-shuf-lzma"
"""ADC counts in 1, 2 or 4 bytes, byte-shuffled, LZMA2: the second encoding (still read)."""
LEGACY_ENCODING = "f4le-cv-zlib"
"""Float32 current then voltage, zlib: what the first recordings used (still read)."""
ENCODINGS = (ENCODING, LZMA_ENCODING, LEGACY_ENCODING)
CHUNK_SECONDS = 1.0

# LZMA2 without a container (the encoding name fixes the filter); a 64 KiB dictionary
# covers a whole chunk (two channels of 10,000 samples) and keeps the coder's memory small.
_LZMA_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 6, "dict_size": 1 << 16}]
_FLOAT, _COUNTS = 0, 1
_COUNTS_HEADER = struct.Struct("<fiB")  # step (float32), base count, bytes per count
_PRED_HEADER = struct.Struct("<fi")  # step (float32), base count
_SECTIONS = struct.Struct("<IIII")  # samples; bytes of the side information, of each channel
_MAX_COUNT = 1 << 24  # float32 holds every integer up to here exactly

# The predictive coder (ENCODING) works on blocks of _BLOCK samples, each predicted by
_BLOCK = 64
_LEVEL, _DELTA, _QUAD = 0, 1, 2
# - _LEVEL: a constant, the block's rounded mean (a flat stretch of a square wave, idle);
# - _DELTA: the previous sample, the first one the block's "level" (an edge);
# - _QUAD: level + (slope·j·64 + curvature·(j² − M)) >> 13, j = 2i − (B − 1) (odd
#   integers), M = (B² − 1)/3 the mean of j², in exact integer arithmetic (settling).
# The residuals (sample − prediction, zigzag: 0, −1, 1, −2, … → 0, 1, 2, 3, …) are the
# ADC noise, about 1.6 counts rms: one byte each (255: the value is in the escapes),
# Huffman-coded (raw deflate, Huffman only: near the noise's entropy, and fast). The side
# information (modes, levels as differences, slopes and curvatures of _QUAD blocks, the
# escapes, all as byte-shuffled zigzag uint64) goes through LZMA2.
_J = 2 * np.arange(_BLOCK, dtype=np.int64) - (_BLOCK - 1)
_JQ = _J * _J - (_BLOCK * _BLOCK - 1) // 3
_FIT = np.linalg.pinv(np.stack([np.ones(_BLOCK), _J, _JQ], axis=1).astype(np.float64))
_ESCAPE = 255
_MAX_SIDE = 1 << 40  # slopes and curvatures beyond this are not a fit worth keeping
# a block's side information, in units of summed |residual| (about a bit and a half each)
_DELTA_COST, _QUAD_COST = 2, 12


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


def encode(current_ua: np.ndarray, voltage_v: np.ndarray, encoding: str = ENCODING) -> bytes:
    """The chunk's bytes in ``encoding`` (lossless: float32 bits are kept).

    New chunks are stored in :data:`ENCODING`; the earlier encodings are written only to
    compare and to test that old rows are still read.
    """
    c = np.ascontiguousarray(current_ua, dtype="<f4")
    v = np.ascontiguousarray(voltage_v, dtype="<f4")
    if c.shape != v.shape or c.ndim != 1:
        raise ValueError("current and voltage must be 1-D arrays of the same length")
    if encoding == ENCODING:
        return _encode_pred(c, v)
    if encoding == LZMA_ENCODING:
        return _encode_lzma(c, v)
    if encoding == LEGACY_ENCODING:
        return zlib.compress(c.tobytes() + v.tobytes(), 6)
    raise ValueError(
        f"unknown recording encoding {encoding!r}; this console writes {', '.join(ENCODINGS)}"
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
    if encoding not in ENCODINGS:
        raise ValueError(
            f"unknown recording encoding {encoding!r}; this console reads {', '.join(ENCODINGS)}"
        )
    try:
        if encoding == LZMA_ENCODING:
            return _decode_lzma(bytes(data), n)
        return _decode_pred(bytes(data), n)
    except (lzma.LZMAError, zlib.error, struct.error, IndexError) as exc:
        raise ValueError(f"recording chunk is damaged ({exc})") from exc


# --- the predictive encoding (ENCODING) -------------------------------------------------


def _encode_pred(c: np.ndarray, v: np.ndarray) -> bytes:
    header, side, parts = bytearray(), [], []
    for x in (c, v):
        found = _as_counts(x)
        if found is None:
            header.append(_FLOAT)
            parts.append(lzma.compress(_shuffle(x), format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS))
            continue
        step, base, _width, counts = found
        header.append(_COUNTS)
        header += _PRED_HEADER.pack(step, base)
        block_side, residuals = _predict(counts.astype(np.int64))
        side.append(block_side)
        parts.append(_huffman(residuals))
    side_bytes = lzma.compress(b"".join(side), format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS)
    return (
        bytes(header)
        + _SECTIONS.pack(c.shape[0], len(side_bytes), len(parts[0]), len(parts[1]))
        + side_bytes
        + b"".join(parts)
    )


def _predict(k: np.ndarray) -> tuple[bytes, bytes]:
    """(side information, residual bytes) of one channel's counts (0 .. 2**25)."""
    n = k.shape[0]
    nb = -(-n // _BLOCK)
    if n == 0:
        return b"", b""
    kb = np.concatenate([k, np.full(nb * _BLOCK - n, k[-1], dtype=np.int64)]).reshape(nb, _BLOCK)
    kf = kb.astype(np.float64)
    level = np.rint(kf.mean(axis=1)).astype(np.int64)
    r_level = kb - level[:, None]
    r_delta = np.diff(kb, axis=1, prepend=kb[:, :1])
    fit = kf @ _FIT.T  # (nb, 3): level, slope per j, curvature per (j² − M)
    slope = np.clip(np.rint(fit[:, 1] * 128), -_MAX_SIDE, _MAX_SIDE).astype(np.int64)
    curve = np.clip(np.rint(fit[:, 2] * 8192), -_MAX_SIDE, _MAX_SIDE).astype(np.int64)
    q_level = np.rint(fit[:, 0]).astype(np.int64)
    r_quad = kb - (q_level[:, None] + _quad(slope, curve))
    cost = np.stack(
        [
            np.abs(r_level).sum(axis=1),
            np.abs(r_delta).sum(axis=1) + _DELTA_COST,
            np.abs(r_quad).sum(axis=1) + _QUAD_COST,
        ]
    )
    mode = cost.argmin(axis=0).astype(np.uint8)
    pick = mode[:, None]
    r = np.where(pick == _LEVEL, r_level, np.where(pick == _DELTA, r_delta, r_quad)).ravel()
    first = np.where(mode == _LEVEL, level, np.where(mode == _DELTA, kb[:, 0], q_level))
    quad = mode == _QUAD
    z = _zigzag(r)
    escapes = z[z >= _ESCAPE]
    residual_bytes = np.minimum(z, _ESCAPE).astype(np.uint8).tobytes()
    side = b"".join(
        [
            mode.tobytes(),
            _shuffle(_zigzag(np.diff(first, prepend=0))),
            _shuffle(_zigzag(np.concatenate([slope[quad], curve[quad]]))),
            _shuffle(escapes),
        ]
    )
    return side, residual_bytes


def _quad(slope: np.ndarray, curve: np.ndarray) -> np.ndarray:
    return (slope[:, None] * _J * 64 + curve[:, None] * _JQ) >> 13


def _zigzag(r: np.ndarray) -> np.ndarray:
    return ((r << 1) ^ (r >> 63)).view(np.uint64)


def _unzigzag(z: np.ndarray) -> np.ndarray:
    return (z >> np.uint64(1)).view(np.int64) ^ -(z & np.uint64(1)).view(np.int64)


def _huffman(data: bytes) -> bytes:
    coder = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_HUFFMAN_ONLY)
    return coder.compress(data) + coder.flush()


def _channel_layouts(data: bytes, header: struct.Struct) -> tuple[list[Any], int]:
    """The two channels' kinds at the head of a chunk: None for raw float32, else the
    ``header`` fields of a counts channel; and where the chunk's body starts."""
    pos, layouts = 0, list[Any]()
    for _ in range(2):
        kind = data[pos]
        pos += 1
        if kind == _FLOAT:
            layouts.append(None)
        elif kind == _COUNTS:
            layouts.append(header.unpack_from(data, pos))
            pos += header.size
        else:
            raise ValueError(f"recording chunk is damaged (channel kind {kind})")
    return layouts, pos


def _decode_pred(data: bytes, n: int) -> tuple[np.ndarray, np.ndarray]:
    layouts, pos = _channel_layouts(data, _PRED_HEADER)
    held, *sizes = _SECTIONS.unpack_from(data, pos)
    pos += _SECTIONS.size
    if held != n:
        raise ValueError(f"recording chunk holds {held} samples, expected {n}")
    if pos + sum(sizes) != len(data):
        raise ValueError("recording chunk is damaged (its sections do not add up)")
    side = lzma.decompress(
        data[pos : pos + sizes[0]], format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS
    )
    pos += sizes[0]
    side_pos, out = 0, []
    for lay, size in zip(layouts, sizes[1:], strict=True):
        part = data[pos : pos + size]
        pos += size
        if lay is None:
            body = lzma.decompress(part, format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS)
            if len(body) != 4 * n:
                raise ValueError(f"recording chunk holds {len(body) / 4:g} samples, expected {n}")
            out.append(_unshuffle(body, "<f4", n).astype(np.float32))
            continue
        step, base = lay
        residuals = zlib.decompress(part, -15)
        counts, side_pos = _unpredict(side, side_pos, residuals, n)
        out.append((counts + base).astype(np.float32) * np.float32(step))
    if side_pos != len(side):
        raise ValueError("recording chunk is damaged (side information left over)")
    return out[0], out[1]


def _unpredict(side: bytes, pos: int, residual_bytes: bytes, n: int) -> tuple[np.ndarray, int]:
    """One channel's counts (relative to its base) and where its side information ends."""
    nb = -(-n // _BLOCK)
    if len(residual_bytes) != nb * _BLOCK:
        held = len(residual_bytes)
        raise ValueError(f"recording chunk holds {held} samples, expected {n} (in whole blocks)")
    if n == 0:
        return np.zeros(0, dtype=np.int64), pos

    def take(count: int, itemsize: int) -> bytes:
        nonlocal pos
        if pos + count * itemsize > len(side):
            raise ValueError("recording chunk is damaged (side information cut short)")
        part = side[pos : pos + count * itemsize]
        pos += count * itemsize
        return part

    mode = np.frombuffer(take(nb, 1), dtype=np.uint8)
    if mode.max() > _QUAD:
        raise ValueError(f"recording chunk is damaged (block mode {int(mode.max())})")
    first = np.cumsum(_unzigzag(_unshuffle(take(nb, 8), "<u8", nb)))
    quad = mode == _QUAD
    nq = int(quad.sum())
    fits = _unzigzag(_unshuffle(take(2 * nq, 8), "<u8", 2 * nq))
    z = np.frombuffer(residual_bytes, dtype=np.uint8).astype(np.uint64)
    where = np.flatnonzero(z == _ESCAPE)
    z[where] = _unshuffle(take(where.size, 8), "<u8", where.size)
    r = _unzigzag(z).reshape(nb, _BLOCK)
    k = first[:, None] + r
    delta = mode == _DELTA
    k[delta] = first[delta, None] + np.cumsum(r[delta], axis=1)
    k[quad] += _quad(fits[:nq], fits[nq:])
    return k.ravel()[:n], pos


# --- the second encoding (LZMA_ENCODING) ------------------------------------------------


def _encode_lzma(c: np.ndarray, v: np.ndarray) -> bytes:
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


def _decode_lzma(data: bytes, n: int) -> tuple[np.ndarray, np.ndarray]:
    layouts, pos = _channel_layouts(data, _COUNTS_HEADER)
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
    damaged_chunks: int = 0  # chunks that could not be decoded: gaps in the arrays
    damaged_samples: int = 0  # ... and the samples they held

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
