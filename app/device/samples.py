"""Blocks of decoded samples handed from the driver to the console. Pure numpy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class SampleBlock:
    """Consecutive samples in physical units, owned by the receiver (fresh arrays).

    ``first_index`` is the device's sample counter of the first sample; ``t0`` is its
    time in seconds (first_index / sample_rate). Samples lost on the link leave a gap
    in the index: a new block starts after each gap.
    """

    first_index: int
    sample_rate: float
    current_ua: np.ndarray  # float32, delivered current in µA
    voltage_v: np.ndarray  # float32, electrode voltage in V
    level_ua: np.ndarray  # float32, commanded amplitude envelope in µA (ramp included)
    flags: np.ndarray  # uint8, SampleFlag bits per sample
    sync: np.ndarray  # bool, True where a waveform period starts
    received_at: float = 0.0  # time.monotonic() when the last frame of the block arrived

    def __len__(self) -> int:
        return int(self.current_ua.shape[0])

    @property
    def t0(self) -> float:
        return self.first_index / self.sample_rate

    def times(self) -> np.ndarray:
        return (self.first_index + np.arange(len(self), dtype=np.float64)) / self.sample_rate


def joined(blocks: list[SampleBlock]) -> SampleBlock:
    """Consecutive blocks as one: the first's index, the last's arrival time (one block
    is returned as it is, not copied)."""
    if len(blocks) == 1:
        return blocks[0]
    b0 = blocks[0]
    return SampleBlock(
        b0.first_index,
        b0.sample_rate,
        np.concatenate([b.current_ua for b in blocks]),
        np.concatenate([b.voltage_v for b in blocks]),
        np.concatenate([b.level_ua for b in blocks]),
        np.concatenate([b.flags for b in blocks]),
        np.concatenate([b.sync for b in blocks]),
        blocks[-1].received_at,
    )
