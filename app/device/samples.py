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
