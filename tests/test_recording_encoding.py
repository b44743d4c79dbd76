"""The recording chunk encodings: bit-exact round trips, compact for ADC data, old rows read."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from app.store.recording import (
    ENCODING,
    ENCODINGS,
    LEGACY_ENCODING,
    LZMA_ENCODING,
    decode,
    encode,
)

LSBS = st.sampled_from([0.05, 0.001, 0.01, 0.1, 0.025, 1.0, 0.0125, 0.2, 0.005])


def _same_bits(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == np.float32
    assert b.dtype == np.float32
    np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))


@settings(max_examples=80, deadline=None)
@given(st.data(), st.integers(0, 3000), LSBS, LSBS, st.integers(0, 32767))
def test_adc_data_round_trips_bit_exact(data, n, lsb_c, lsb_v, span):
    # what the driver hands over: float32(count) * float32(lsb), as SampleAssembler does
    counts = data.draw(hnp.arrays(np.int16, (2, n), elements=st.integers(-span, span)))
    cur = counts[0].astype(np.float32) * np.float32(lsb_c)
    volt = counts[1].astype(np.float32) * np.float32(lsb_v)
    c2, v2 = decode(encode(cur, volt), n)
    _same_bits(c2, cur)
    _same_bits(v2, volt)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float32, st.integers(0, 500), elements=st.floats(width=32)),
    hnp.arrays(np.float32, 500, elements=st.floats(width=32, allow_nan=True)),
)
def test_any_float32_round_trips_bit_exact(cur, volt):
    """Values off any grid, NaN, infinities and -0.0 are kept too (stored as float32)."""
    volt = volt[: cur.size]
    c2, v2 = decode(encode(cur, volt), cur.size)
    _same_bits(c2, cur)
    _same_bits(v2, volt)


def _device_like(n: int = 50_000, rate: float = 50_000.0) -> tuple[np.ndarray, np.ndarray]:
    """A 10 Hz square into an RC load: current steps, voltage settles (tau 2 ms), ADC noise."""
    rng = np.random.default_rng(1)
    t = np.arange(n) / rate
    square = np.sign(np.sin(2 * np.pi * 10 * t + 0.1))
    i_counts = np.round(square * 4000 + rng.normal(0, 1.6, n))
    since_edge = t % 0.05
    settle = 2000 * np.exp(-since_edge / 0.002)
    v_counts = np.round(square * (4400 - settle) + rng.normal(0, 1.5, n))
    cur = i_counts.astype(np.float32) * np.float32(0.05)
    volt = v_counts.astype(np.float32) * np.float32(0.001)
    return cur, volt


def test_device_like_data_is_much_smaller_than_float32_zlib():
    cur, volt = _device_like()
    ours = encode(cur, volt)
    legacy = encode(cur, volt, LEGACY_ENCODING)
    assert len(ours) < 0.5 * len(legacy)
    # about the noise's entropy (2.7 bits a sample and channel for 1.6 counts rms)
    assert len(ours) * 8 / (2 * cur.size) < 3.1


def test_the_predictive_coder_beats_the_lzma_encoding_on_device_like_data():
    cur, volt = _device_like()
    assert len(encode(cur, volt)) < 0.9 * len(encode(cur, volt, LZMA_ENCODING))


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_every_encoding_round_trips_device_like_data(encoding):
    """The older encodings are still written on request (fixtures, comparisons) and read."""
    cur, volt = _device_like(5_000)
    c2, v2 = decode(encode(cur, volt, encoding), cur.size, encoding)
    _same_bits(c2, cur)
    _same_bits(v2, volt)


# Bytes written by the second encoding's own encoder (commit 7730bd1, before the
# predictive coder): rows like this are in every database recorded until then.
_LZMA_ROW = bytes.fromhex(
    "00016f12833aecffffff01e001f300685d00002757e73a9b75317cbd831fddd2888ab38cd928ce47"
    "4fad9885e03cd639c7634de78257ca1a3b4051a8a42005ed30c4089f2d6e0ef56b9ece831a58468f"
    "a24d495b5197e3a2d356d56300cd9a59487a3d2fb0f8a551bf27c81a638863e67cd7eae66b4a6db8"
    "600000"
)


def test_rows_of_the_lzma_encoding_are_still_read():
    k = np.arange(100)
    cur = ((k % 10) * 37 - 100).astype(np.float32) * np.float32(0.05)
    volt = (k * k % 53 - 20).astype(np.float32) * np.float32(0.001)
    c2, v2 = decode(_LZMA_ROW, 100, LZMA_ENCODING)
    _same_bits(c2, cur)
    _same_bits(v2, volt)
    assert encode(cur, volt, LZMA_ENCODING) == _LZMA_ROW  # the old code path, unchanged
    with pytest.raises(ValueError, match="expected 99"):
        decode(_LZMA_ROW, 99, LZMA_ENCODING)


@settings(max_examples=80, deadline=None)
@given(
    st.sampled_from([0, 1, 2, 63, 64, 65, 127, 128, 129, 1000]),
    st.sampled_from(["noise", "steps", "extremes", "ramp", "constant"]),
    st.integers(0, 2**32 - 1),
)
def test_block_edges_and_extreme_counts_round_trip(n, shape, seed):
    """Lengths around the 64-sample blocks, full-scale jumps (escapes), ramps (the fit)."""
    rng = np.random.default_rng(seed)
    top = (1 << 24) - 1  # the largest count float32 holds exactly
    if shape == "noise":
        counts = rng.normal(0, 1.6, n).round()
    elif shape == "steps":
        counts = np.repeat(rng.integers(-32768, 32768, 1 + n // 7), 7)[:n]
    elif shape == "extremes":
        counts = rng.choice([-top, top, 0, 1, -1], n)
    elif shape == "ramp":
        counts = np.round(np.arange(n) ** 2 * rng.uniform(-50, 50) + rng.normal(0, 2, n))
        counts = np.clip(counts, -top, top)
    else:
        counts = np.full(n, rng.integers(-top, top))
    cur = counts.astype(np.float32) * np.float32(0.05)
    volt = counts[::-1].astype(np.float32) * np.float32(0.001)
    c2, v2 = decode(encode(cur, volt), n)
    _same_bits(c2, cur)
    _same_bits(v2, volt)


def test_legacy_rows_are_still_read():
    """Rows of the first encoding, made as its writer made them (zlib of float32)."""
    cur = np.linspace(-300, 300, 100, dtype=np.float32)
    volt = np.sin(np.arange(100, dtype=np.float32))
    old = zlib.compress(cur.astype("<f4").tobytes() + volt.astype("<f4").tobytes(), 6)
    c2, v2 = decode(old, 100, LEGACY_ENCODING)
    _same_bits(c2, cur)
    _same_bits(v2, volt)
    with pytest.raises(ValueError, match="expected 99"):
        decode(old, 99, LEGACY_ENCODING)


def test_damaged_or_mislabelled_chunks_give_a_clear_error():
    cur = np.arange(1000, dtype=np.float32) * np.float32(0.05)
    data = encode(cur, cur)
    with pytest.raises(ValueError, match="expected 999"):
        decode(data, 999)
    with pytest.raises(ValueError, match="damaged"):
        decode(data[:-7], 1000)
    with pytest.raises(ValueError, match="damaged"):
        decode(b"\x07" + data[1:], 1000)
    with pytest.raises(ValueError, match="damaged"):
        decode(b"", 1000)
    with pytest.raises(ValueError, match="damaged"):
        decode(data + b"\x00", 1000)
    with pytest.raises(ValueError, match="unknown recording encoding 'x'"):
        decode(data, 1000, "x")
    with pytest.raises(ValueError, match="unknown recording encoding 'x'"):
        encode(cur, cur, "x")
    assert all(len(name) <= 20 for name in ENCODINGS)  # the column's width
    assert len(set(ENCODINGS)) == 3
    assert ENCODINGS[0] == ENCODING


def test_values_near_the_float32_limit_are_kept_without_numeric_warnings():
    """Rounding a step near float32's top overflows; such steps are skipped quietly."""
    import warnings

    big = np.array([3.3e38, -3.4e38, 3.4028235e38, 0.0], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c2, v2 = decode(encode(big, big[::-1].copy()), big.size)
    _same_bits(c2, big)
    _same_bits(v2, big[::-1].copy())


def test_a_counts_channel_beside_a_float_channel_round_trips():
    """One channel on the ADC grid (predictive), the other not (NaN, -0.0: float32)."""
    cur, _ = _device_like(1000)
    volt = np.linspace(-1, 1, 1000, dtype=np.float32)
    volt[[3, 500]] = np.nan
    volt[7] = -0.0
    for c, v in ((cur, volt), (volt, cur)):
        c2, v2 = decode(encode(c, v), 1000)
        _same_bits(c2, c)
        _same_bits(v2, v)
