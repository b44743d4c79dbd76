"""Waveform definitions shared by the firmware simulator, the console and the scope.

Pure numpy, no Qt. This is the single definition of what each waveform and polarity
mode means; the simulator generates from it and the scope draws its reference from it.

A waveform period is split in two halves (phase 0..0.5 and 0.5..1):

* ``SQUARE``: the first half is a flat pulse (50 % duty).
* ``SINE``: the first half is a half sine.
* ``BURST``: square pulses at the carrier frequency, gated by a trapezoidal burst
  envelope of ``BURST_CYCLE_S`` (ramp up, hold, ramp down, rest; a quarter each).

The polarity mode decides what the halves carry:

* ``POSITIVE`` / ``NEGATIVE``: monophasic; the first half with that sign, the second 0.
* ``ALTERNATING``: monophasic, the sign flips every ``alternate_s`` seconds.
* ``BIPHASIC``: the first half positive, the second half its negative mirror
  (charge balanced within every period).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

BURST_CYCLE_S = 2.0


class Waveform(IntEnum):
    SQUARE = 0
    SINE = 1
    BURST = 2

    @property
    def label(self) -> str:
        return {0: "Square", 1: "Sine", 2: "Ramped burst"}[int(self)]


class Polarity(IntEnum):
    POSITIVE = 0
    NEGATIVE = 1
    ALTERNATING = 2
    BIPHASIC = 3

    @property
    def label(self) -> str:
        return {0: "Positive", 1: "Negative", 2: "Alternating", 3: "Biphasic"}[int(self)]


@dataclass(frozen=True, slots=True)
class OutputSettings:
    """What SET_OUTPUT carries: the commanded output of the device."""

    waveform: Waveform = Waveform.SQUARE
    frequency_hz: float = 10.0
    amplitude_ua: float = 100.0
    polarity: Polarity = Polarity.ALTERNATING
    alternate_s: float = 2.0
    ramp_s: float = 1.0


def half_shape(waveform: Waveform, phase: np.ndarray) -> np.ndarray:
    """Magnitude 0..1 of the first half-period's pulse at ``phase`` (0..0.5)."""
    if waveform == Waveform.SINE:
        return np.sin(2.0 * np.pi * phase)
    return np.ones_like(phase)


def unit_wave(
    settings: OutputSettings, t: np.ndarray, *, phase0: float = 0.0
) -> np.ndarray:
    """The commanded waveform at amplitude 1 for times ``t`` (s) since output start.

    ``phase0`` offsets the carrier phase (in periods). Values lie in -1..1.
    """
    t = np.asarray(t, dtype=np.float64)
    phase = np.mod(t * settings.frequency_hz + phase0, 1.0)
    first = phase < 0.5
    out = np.zeros_like(t)
    mag_first = half_shape(settings.waveform, np.where(first, phase, 0.0))
    out[first] = mag_first[first]
    if settings.polarity == Polarity.BIPHASIC:
        second = ~first
        mag_second = half_shape(settings.waveform, np.where(second, phase - 0.5, 0.0))
        out[second] = -mag_second[second]
    elif settings.polarity == Polarity.NEGATIVE:
        out = -out
    elif settings.polarity == Polarity.ALTERNATING:
        out = out * alternating_sign(settings, t)
    if settings.waveform == Waveform.BURST:
        out = out * burst_envelope(t)
    return out


def alternating_sign(settings: OutputSettings, t: np.ndarray) -> np.ndarray:
    """+1 / -1 for ALTERNATING polarity: positive first, flipping every alternate_s."""
    period = max(settings.alternate_s, 1e-6)
    return np.where(np.mod(np.floor(np.asarray(t) / period), 2) == 0, 1.0, -1.0)


def burst_envelope(t: np.ndarray) -> np.ndarray:
    """Trapezoidal 0..1 burst envelope: up, hold, down, rest, a quarter cycle each."""
    q = np.mod(np.asarray(t, dtype=np.float64), BURST_CYCLE_S) / (BURST_CYCLE_S / 4.0)
    return np.clip(np.where(q < 1, q, np.where(q < 2, 1.0, np.where(q < 3, 3.0 - q, 0.0))), 0, 1)


def charge_per_phase_uc(settings: OutputSettings) -> float:
    """Charge (µC) of one pulse phase at full amplitude, from the waveform definition."""
    half_period = 0.5 / settings.frequency_hz
    mean_shape = 2.0 / np.pi if settings.waveform == Waveform.SINE else 1.0
    return settings.amplitude_ua * half_period * mean_shape
