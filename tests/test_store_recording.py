"""Recording chunking and encoding: pure numpy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.store.recording import Chunker, assemble, decode, encode


def test_encode_decode_round_trip():
    cur = np.linspace(-300, 300, 1000, dtype=np.float32)
    volt = np.sin(np.arange(1000, dtype=np.float32))
    c2, v2 = decode(encode(cur, volt), 1000)
    np.testing.assert_array_equal(c2, cur)
    np.testing.assert_array_equal(v2, volt)
    with pytest.raises(ValueError, match="expected 999"):
        decode(encode(cur, volt), 999)
    with pytest.raises(ValueError, match="unknown recording encoding"):
        decode(encode(cur, volt), 1000, "i2")


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 700), st.integers(0, 3)), min_size=1, max_size=30))
def test_chunks_hold_every_sample_once_in_about_one_second(blocks):
    rate = 500.0
    ch = Chunker(1.0)
    chunks, fed, index = [], [], 0
    for n, gap in blocks:
        index += gap  # a gap in the device's sample counter
        cur = np.arange(index, index + n, dtype=np.float32)
        chunks += ch.feed(index, rate, cur, -cur)
        fed.append(cur)
        index += n
    chunks += ch.flush()
    assert ch.pending == 0
    for c in chunks:
        assert 0 < c.n <= 500
        np.testing.assert_array_equal(c.current_ua, np.arange(c.first_index, c.first_index + c.n))
        np.testing.assert_array_equal(c.voltage_v, -c.current_ua)
    got = np.concatenate([c.current_ua for c in chunks])
    np.testing.assert_array_equal(got, np.concatenate(fed))
    # only the flushed tail and chunks cut by a gap may be short
    gaps = sum(1 for _, g in blocks[1:] if g)
    assert sum(1 for c in chunks if c.n < 500) <= gaps + 1
    rec = assemble([(c.first_index, c.sample_rate, c.current_ua, c.voltage_v) for c in chunks])
    assert rec.n_samples == got.size
    finite = ~np.isnan(rec.t_s)
    np.testing.assert_allclose(rec.t_s[finite] * rate, rec.current_ua[finite] - got[0])


def test_rate_change_closes_the_chunk():
    ch = Chunker(1.0)
    assert ch.feed(0, 100.0, np.zeros(50), np.zeros(50)) == []
    out = ch.feed(50, 200.0, np.zeros(10), np.zeros(10))
    assert [(c.first_index, c.n, c.sample_rate) for c in out] == [(0, 50, 100.0)]
    assert ch.pending == 10
