"""The recording chunk encoding: bit-exact round trips, compact for ADC data, old rows read."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from app.store.recording import ENCODING, LEGACY_ENCODING, decode, encode

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


def test_device_like_data_is_much_smaller_than_float32_zlib():
    rng = np.random.default_rng(1)
    t = np.arange(10_000) / 10_000
    i_counts = np.round(np.sign(np.sin(2 * np.pi * 10 * t)) * 4000 + rng.normal(0, 1.6, t.size))
    v_counts = np.round(i_counts * 0.55 + rng.normal(0, 3, t.size))
    cur = i_counts.astype(np.float32) * np.float32(0.05)
    volt = v_counts.astype(np.float32) * np.float32(0.001)
    ours = encode(cur, volt)
    legacy = zlib.compress(cur.astype("<f4").tobytes() + volt.astype("<f4").tobytes(), 6)
    assert len(ours) < 0.6 * len(legacy)
    assert len(ours) < 10_000  # under 4 bits a sample: the noise's entropy is about 3.2


def test_legacy_rows_are_still_read():
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
    with pytest.raises(ValueError, match="unknown recording encoding 'x'"):
        decode(data, 1000, "x")
    assert len(ENCODING) <= 20  # the column's width


def test_values_near_the_float32_limit_are_kept_without_numeric_warnings():
    """Rounding a step near float32's top overflows; such steps are skipped quietly."""
    import warnings

    big = np.array([3.3e38, -3.4e38, 3.4028235e38, 0.0], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c2, v2 = decode(encode(big, big[::-1].copy()), big.size)
    _same_bits(c2, big)
    _same_bits(v2, big[::-1].copy())
