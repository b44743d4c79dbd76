"""Synthetic sample streams for the scope's tests, benchmark and documentation pictures.

A current source follows the commanded waveform (app.device.waveform) into an
electrode-skin load: series resistance Rs, then Rp parallel Cp. The source cannot drive
beyond ``compliance_v``: there it clamps the voltage, the current falls short and the
COMPLIANCE flag is set, as the real device reports it. Gaussian noise and single-sample
spikes can be added. This is not the device simulator (app.device.signal_model); it
exists so the scope can be tested and measured on its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from app.device.protocol import SampleFlag
from app.device.samples import SampleBlock
from app.device.waveform import OutputSettings, Polarity, alternating_sign, unit_wave


@dataclass
class RCLoad:
    rs_ohm: float = 1_000.0
    rp_ohm: float = 30_000.0
    cp_f: float = 0.5e-6
    compliance_v: float = 12.0


@dataclass
class SyntheticSource:
    """Generates consecutive SampleBlocks; ``next_block(n)`` returns the next n samples."""

    settings: OutputSettings
    sample_rate: float = 10_000.0
    load: RCLoad = field(default_factory=RCLoad)
    noise_ua: float = 0.0
    noise_v: float = 0.0
    seed: int = 1
    spikes: dict[int, float] = field(default_factory=dict)  # sample index -> added µA

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)
        self._index = 0
        self._vc = 0.0

    @property
    def index(self) -> int:
        return self._index

    def skip(self, n: int) -> None:
        """Drop ``n`` samples (as if lost on the link): the next block leaves a gap."""
        self._advance(n)

    def next_block(self, n: int) -> SampleBlock:
        first = self._index
        cur, volt, level, flags, sync = self._advance(n)
        return SampleBlock(
            first_index=first,
            sample_rate=self.sample_rate,
            current_ua=cur,
            voltage_v=volt,
            level_ua=level,
            flags=flags,
            sync=sync,
        )

    def blocks(self, total: int, size: int) -> list[SampleBlock]:
        return [self.next_block(min(size, total - k)) for k in range(0, total, size)]

    def _advance(self, n: int):
        s, fs, load = self.settings, self.sample_rate, self.load
        idx = self._index + np.arange(n, dtype=np.int64)
        t = idx / fs
        ramp = np.clip(t / s.ramp_s, 0.0, 1.0) if s.ramp_s > 0 else np.ones(n)
        level = s.amplitude_ua * ramp
        wanted = level * unit_wave(s, t)  # µA
        # period starts: the phase wraps between the previous sample and this one
        phase = t * s.frequency_hz
        sync = np.floor(phase) != np.floor((idx - 1) / fs * s.frequency_hz)
        sync[idx == 0] = True
        flags = np.full(n, SampleFlag.OUTPUT_ON | SampleFlag.CONTACT, dtype=np.uint8)
        if s.polarity == Polarity.ALTERNATING:
            flags[alternating_sign(s, t) < 0] |= np.uint8(SampleFlag.SIGN_NEGATIVE)
        cur = np.empty(n)
        volt = np.empty(n)
        a = math.exp(-1.0 / (fs * load.rp_ohm * load.cp_f))
        vc = self._vc
        for k, i_ua in enumerate(wanted.tolist()):
            i_a = i_ua * 1e-6
            v = i_a * load.rs_ohm + vc
            if abs(v) > load.compliance_v:
                v = math.copysign(load.compliance_v, v)
                i_a = (v - vc) / load.rs_ohm
                flags[k] |= np.uint8(SampleFlag.COMPLIANCE)
            cur[k] = i_a * 1e6
            volt[k] = v
            vc = vc * a + i_a * load.rp_ohm * (1.0 - a)
        self._vc = vc
        if self.noise_ua:
            cur += self._rng.normal(0.0, self.noise_ua, n)
        if self.noise_v:
            volt += self._rng.normal(0.0, self.noise_v, n)
        for where, add in self.spikes.items():
            if self._index <= where < self._index + n:
                cur[where - self._index] += add
        self._index += n
        return (
            cur.astype(np.float32),
            volt.astype(np.float32),
            level.astype(np.float32),
            flags,
            sync,
        )
