"""The vectorised SAMPLES decoder agrees with the per-frame one on any input."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from app.device.protocol import ProtocolError, SampleFlag, Samples, parse_samples_bodies

frames = st.builds(
    lambda first, flags, level, n, sync, seed: Samples(
        first,
        SampleFlag(flags),
        level,
        tuple(sorted({s % n for s in sync})) if n else (),
        np.random.default_rng(seed).integers(-32768, 32767, (n, 2)).astype(np.int16),
    ),
    st.integers(0, 2**32 - 1),
    st.integers(0, 15),
    st.floats(-1000, 1000, allow_nan=False, width=32),
    st.integers(0, 60),
    st.lists(st.integers(0, 255), max_size=4),
    st.integers(0, 1000),
)


def _bad_sync(m: Samples) -> bytes:
    body = bytearray(Samples(m.first_index, m.flags, m.level_ua, (0,), m.raw).encode_body())
    body[11] = max(m.raw.shape[0], 1) + 3  # a sync offset past the frame's end
    return bytes(body)


bodies = st.lists(
    st.one_of(frames.map(lambda m: m.encode_body()), frames.map(_bad_sync), st.binary(max_size=40)),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(bodies)
def test_batch_equals_per_frame_decoding(items):
    batch = parse_samples_bodies(items)
    expected, bad_positions = [], []
    for pos, body in enumerate(items):
        try:
            expected.append(Samples.decode_body(body))
        except ProtocolError:
            bad_positions.append(pos)
    assert [pos for pos, _ in batch.bad] == bad_positions
    assert batch.first_index.tolist() == [m.first_index for m in expected]
    assert batch.counts.tolist() == [m.raw.shape[0] for m in expected]
    assert batch.flags.tolist() == [int(m.flags) for m in expected]
    np.testing.assert_array_equal(
        batch.level_ua, np.array([m.level_ua for m in expected], dtype=np.float32)
    )
    assert batch.sync == [(k, s) for k, m in enumerate(expected) for s in m.sync]
    want = np.concatenate([m.raw for m in expected]) if expected else np.zeros((0, 2))
    np.testing.assert_array_equal(batch.raw, want)


def test_batch_hands_out_fresh_arrays():
    body = Samples(0, SampleFlag.OUTPUT_ON, 1.0, (), np.ones((50, 2), np.int16)).encode_body()
    batch = parse_samples_bodies([body, body])
    assert not np.shares_memory(batch.raw, np.frombuffer(body, np.uint8))
