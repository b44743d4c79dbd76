"""Waveform definitions shared by the firmware simulator, the console and the scope.

Pure numpy, no Qt. This is the single definition of what each waveform and polarity
mode means; the simulator generates from it and the scope draws its reference from it.
``docs/protocol.md`` states the same equations in words.

A waveform period is split in two halves (phase 0..0.5 and 0.5..1):

* ``SQUARE``: the first half is a flat pulse (50 % duty).
* ``SINE``: the first half is a half sine.
* ``BURST``: square pulses at the carrier frequency, gated by a trapezoidal burst
  envelope of ``BURST_CYCLE_S`` (ramp up, hold, ramp down, rest; a quarter each).

The polarity mode decides what the halves carry:

* ``POSITIVE`` / ``NEGATIVE``: monophasic; the first half with that sign, the second 0.
* ``ALTERNATING``: monophasic; the sign flips about every ``alternate_s`` seconds, but
  only at a period boundary (a flip never splits a pulse): the flip due at
  ``k * alternate_s`` happens at the period boundary nearest to it, and when
  ``alternate_s`` is shorter than a period the sign flips at every boundary
  (:func:`alternation_count`).
* ``BIPHASIC``: the first half positive, the second half its negative mirror
  (charge balanced within every period).

:func:`unit_wave` is the point value of the wave; :func:`period_integral` its integral
over a period, from which the simulated device computes each sample as the mean of the
current over the sample's interval (an integrating ADC).
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


def unit_wave(settings: OutputSettings, t: np.ndarray, *, phase0: float = 0.0) -> np.ndarray:
    """The commanded waveform at amplitude 1 for times ``t`` (s) since output start.

    ``phase0`` offsets the carrier phase (in periods, 0 <= phase0 < 1). Values lie in -1..1.
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
        out = out * alternating_sign(settings, t, phase0=phase0)
    if settings.waveform == Waveform.BURST:
        out = out * burst_envelope(t)
    return out


def alternation_count(
    alternate_s: float, period_start_s: np.ndarray, period_s: float
) -> np.ndarray:
    """``floor((start + period / 2) / alternate_s)`` for periods starting at ``period_start_s``.

    ALTERNATING polarity flips the sign at the start of every period whose count is
    higher than the previous period's: the flip due at ``k * alternate_s`` lands on the
    period boundary nearest to it, and several flips due within one period are one flip.
    """
    alt = max(float(alternate_s), 1e-6)
    return np.floor((np.asarray(period_start_s, dtype=np.float64) + 0.5 * period_s) / alt)


def alternating_sign(settings: OutputSettings, t: np.ndarray, *, phase0: float = 0.0) -> np.ndarray:
    """+1 / -1 for ALTERNATING polarity at times ``t`` since output start (positive first).

    The sign belongs to a whole period (it changes only at period boundaries); see
    :func:`alternation_count`. ``phase0`` as in :func:`unit_wave`.
    """
    f = settings.frequency_hz
    period = 1.0 / f
    m = np.floor(np.asarray(t, dtype=np.float64) * f + phase0)  # the period holding t
    if settings.alternate_s >= period:  # at most one flip per period
        start = np.maximum(m - phase0, 0.0) / f
        flips = np.maximum(alternation_count(settings.alternate_s, start, period), 0.0)
    else:  # a flip at every period boundary
        flips = np.maximum(m, 0.0)
    return np.where(np.mod(flips, 2) == 0, 1.0, -1.0)


def period_integral(settings: OutputSettings, frac: np.ndarray) -> np.ndarray:
    """Integral of one period of the positive-signed unit wave from phase 0 to ``frac``.

    In periods (multiply by the period in seconds for unit-seconds). The polarity's sign
    (NEGATIVE, ALTERNATING) and the burst envelope are not applied; BIPHASIC gives the
    mirrored second half, so ``period_integral(s, 1.0) == 0`` for it.
    Square: ``min(x, 0.5)``; sine: ``(1 - cos(2 pi min(x, 0.5))) / (2 pi)``; biphasic
    subtracts the same expression of ``max(x - 0.5, 0)``.
    """
    x = np.clip(np.asarray(frac, dtype=np.float64), 0.0, 1.0)
    if settings.waveform == Waveform.SINE:

        def part(u: np.ndarray) -> np.ndarray:
            return (1.0 - np.cos(2.0 * np.pi * u)) / (2.0 * np.pi)
    else:

        def part(u: np.ndarray) -> np.ndarray:
            return u

    out = part(np.minimum(x, 0.5))
    if settings.polarity == Polarity.BIPHASIC:
        out = out - part(np.maximum(x - 0.5, 0.0))
    return out


def period_balance(settings: OutputSettings) -> float:
    """Net charge of one period at amplitude 1, as a fraction of (amplitude x period).

    0 for biphasic; 0.5 for a positive square (1/pi for a sine); negative for NEGATIVE.
    ALTERNATING: the positive period's value (each period carries it with its own sign).
    """
    q = float(period_integral(settings, np.ones(1))[0])
    return -q if settings.polarity == Polarity.NEGATIVE else q


def burst_envelope(t: np.ndarray) -> np.ndarray:
    """Trapezoidal 0..1 burst envelope: up, hold, down, rest, a quarter cycle each."""
    q = np.mod(np.asarray(t, dtype=np.float64), BURST_CYCLE_S) / (BURST_CYCLE_S / 4.0)
    return np.clip(np.where(q < 1, q, np.where(q < 2, 1.0, np.where(q < 3, 3.0 - q, 0.0))), 0, 1)


def charge_per_phase_uc(settings: OutputSettings) -> float:
    """Charge (µC) of one pulse phase at full amplitude, from the waveform definition."""
    half_period = 0.5 / settings.frequency_hz
    mean_shape = 2.0 / np.pi if settings.waveform == Waveform.SINE else 1.0
    return settings.amplitude_ua * half_period * mean_shape
