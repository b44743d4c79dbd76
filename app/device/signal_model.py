"""Electrode–skin load, waveform generation and ADC model of the simulated device. No Qt.

Three pieces, each usable on its own:

* :class:`WaveGenerator` turns :class:`~app.device.waveform.OutputSettings` into the unit
  waveform as an integrating ADC sees it (each sample the exact mean over its interval),
  carrying the carrier phase across chunks (so a change of frequency never makes the
  wave jump) and marking the samples in which a period starts.
* :class:`LoadModel` is a constant-current source driving the load between the probes:
  the electrode–skin model ``Rs + (Rp ‖ Cp)`` (slowly drifting), a plain resistor, or an
  open load when the probes are lifted. The source is clamped at the compliance voltage:
  when the load cannot take the commanded current, the current falls.
* :class:`Adc` measures current and voltage with a small intrinsic gain/offset error,
  noise and int16 quantisation; a :class:`Calibration` corrects the error.

All currents are in µA, voltages in V, resistances in Ω, capacitances in F, times in s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from app.device.waveform import (
    OutputSettings,
    Polarity,
    Waveform,
    alternation_count,
    burst_envelope,
    period_integral,
)

COMPLIANCE_V = 20.0
CURRENT_LSB_UA = 0.05
VOLTAGE_LSB_V = 0.001
INT16_MAX = 32767


@dataclass(frozen=True, slots=True)
class SkinLoad:
    """Electrode–skin model: series resistance Rs, then the skin Rp in parallel with Cp."""

    rs_ohm: float = 2_000.0
    rp_ohm: float = 20_000.0
    cp_f: float = 100e-9


@dataclass(frozen=True, slots=True)
class Calibration:
    """Correction applied to the ADC readings: ``corrected = (reading - offset) / gain``.

    The fields describe the measured error of the channel, so a calibration equal to the
    intrinsic error (:data:`INTRINSIC_ERROR`) cancels it exactly.
    """

    current_offset_ua: float = 0.0
    current_gain: float = 1.0
    voltage_offset_v: float = 0.0
    voltage_gain: float = 1.0


# The simulated device's own measurement error, as a calibration would describe it.
INTRINSIC_ERROR = Calibration(
    current_offset_ua=0.8, current_gain=1.01, voltage_offset_v=-0.004, voltage_gain=0.995
)


class WaveGenerator:
    """The commanded unit waveform (-1..1) as an integrating ADC sees it, chunk by chunk.

    Like a DDS in firmware, the carrier phase is a 32-bit integer accumulator advanced by
    ``floor(f / fs * 2**32)`` per sample, so the result does not depend on how the stream
    is cut into chunks and a change of frequency never makes the wave jump. Sample ``k``
    (since output start) covers the interval ``[k / fs, (k + 1) / fs)`` and its value is
    the exact mean of the wave over that interval: the piecewise wave is integrated
    analytically (:func:`~app.device.waveform.period_integral`), so edges fall at their
    true times and the charge in the samples is the charge of the wave. The burst
    envelope is taken as constant over a sample (its value at the sample's middle).

    ALTERNATING polarity is decided per period, at the period's start
    (:func:`~app.device.waveform.alternation_count`): a flip never splits a pulse.
    ``reset()`` at output start: the phase, the time since output start and the
    alternation go to zero (positive first).
    """

    PHASE_BITS = 32

    def __init__(self, sample_rate: float) -> None:
        self.sample_rate = float(sample_rate)
        self.reset()

    def reset(self) -> None:
        self._acc = 0  # phase accumulator at the next sample's start (0 .. 2**32 - 1)
        self._n = 0  # samples since output start (the next sample's index)
        self._sign = 1.0  # ALTERNATING sign of the period in progress
        self._flips = 0.0  # alternation count of the period in progress

    @property
    def time_s(self) -> float:
        """Seconds since output start of the next sample's start."""
        return self._n / self.sample_rate

    def increment(self, settings: OutputSettings) -> int:
        """Phase accumulator step per sample (rounded down: a period never runs short)."""
        return max(1, math.floor(settings.frequency_hz / self.sample_rate * (1 << self.PHASE_BITS)))

    def generate(self, settings: OutputSettings, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(unit, sync)``: n sample means of the unit wave and the offsets (int
        array) of the samples in whose interval a waveform period starts."""
        bits = self.PHASE_BITS
        one = 1 << bits
        inc = self.increment(settings)
        acc0 = self._acc
        acc = acc0 + inc * np.arange(n + 1, dtype=np.int64)  # at the n + 1 sample edges
        whole = acc >> bits  # periods started since the one in progress at acc0
        # a period starts in sample k when an integer phase lies in [acc_k, acc_k+1)
        started = (acc - 1) >> bits
        sync = np.flatnonzero(started[1:] > started[:-1])
        periods = int(whole[-1])
        signs = np.ones(periods + 1)
        if settings.polarity == Polarity.NEGATIVE:
            signs = -signs
        elif settings.polarity == Polarity.ALTERNATING:
            signs[0] = self._sign
            if periods:
                period_s = one / (inc * self.sample_rate)
                offset = (np.arange(1, periods + 1, dtype=np.float64) * one - acc0) / inc
                start_s = (self._n + offset) / self.sample_rate
                counts = alternation_count(settings.alternate_s, start_s, period_s)
                seen = np.maximum.accumulate(np.concatenate(([self._flips], counts)))
                flip = counts > seen[:-1]
                signs[1:] = self._sign * np.where(np.cumsum(flip) % 2 == 0, 1.0, -1.0)
                self._flips = float(seen[-1])
                self._sign = float(signs[-1])
        # integral of the wave from the start of the period in progress, at each edge
        q = float(period_integral(settings, np.ones(1))[0])
        before = np.concatenate(([0.0], np.cumsum(signs[:-1] * q)))
        frac = (acc & (one - 1)) / one
        integral = before[whole] + signs[whole] * period_integral(settings, frac)
        unit = np.diff(integral) * (one / inc)
        if settings.waveform == Waveform.BURST:
            unit = unit * burst_envelope((self._n + np.arange(n) + 0.5) / self.sample_rate)
        self._acc = int(acc[-1]) & (one - 1)
        self._n += n
        return unit, sync

    def negative_half(self, settings: OutputSettings) -> bool:
        """True while ALTERNATING polarity is negative at the middle of the next sample."""
        if settings.polarity != Polarity.ALTERNATING:
            return False
        one = 1 << self.PHASE_BITS
        inc = self.increment(settings)
        if self._acc + inc // 2 < one:  # the middle is in the period in progress
            return self._sign < 0
        start_s = (self._n + (one - self._acc) / inc) / self.sample_rate
        count = float(
            alternation_count(
                settings.alternate_s, np.array([start_s]), one / (inc * self.sample_rate)
            )[0]
        )
        return (-self._sign if count > self._flips else self._sign) < 0


class LoadModel:
    """Constant-current source into the load between the probes, clamped at compliance.

    The skin's Rp and Cp drift slowly (a few % over minutes, as the gel soaks in).
    The RC is discretised exactly for a current held constant over each sample.
    """

    def __init__(
        self,
        sample_rate: float,
        *,
        skin: SkinLoad | None = None,
        compliance_v: float = COMPLIANCE_V,
    ) -> None:
        self.sample_rate = float(sample_rate)
        self.skin = skin or SkinLoad()
        self.compliance_v = float(compliance_v)
        self.contact = True
        self.resistor_ohm: float | None = None  # None: skin model
        self._vc = 0.0  # voltage across Cp
        self._t = 0.0  # model time for the drift

    # -- configuration
    def use_skin(self, skin: SkinLoad | None = None) -> None:
        if skin is not None:
            self.skin = skin
        self.resistor_ohm = None

    def use_resistor(self, ohms: float) -> None:
        if not (math.isfinite(ohms) and ohms > 0):
            raise ValueError(f"resistor value {ohms!r} Ω: must be a positive number")
        self.resistor_ohm = float(ohms)
        self._vc = 0.0

    # -- present load values (with drift)
    def _skin_now(self) -> tuple[float, float, float]:
        t = self._t
        drift = 1.0 - 0.04 * (1.0 - math.exp(-t / 300.0)) + 0.01 * math.sin(2 * math.pi * t / 97.0)
        cdrift = 1.0 + 0.02 * (1.0 - math.exp(-t / 300.0))
        return self.skin.rs_ohm, self.skin.rp_ohm * drift, self.skin.cp_f * cdrift

    def impedance_ohm(self) -> float:
        """The load's resistance as the sense channel measures it (DC): inf when open."""
        if not self.contact:
            return math.inf
        if self.resistor_ohm is not None:
            return self.resistor_ohm
        rs, rp, _ = self._skin_now()
        return rs + rp

    # -- simulation
    def drive(self, i_cmd_ua: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        """Drive the commanded current (µA per sample); return (current µA, voltage V,
        compliance reached in this chunk)."""
        i_cmd = np.asarray(i_cmd_ua, dtype=np.float64)
        n = i_cmd.shape[0]
        dt = 1.0 / self.sample_rate
        vmax = self.compliance_v
        self._t += n * dt
        if not self.contact:
            # Open load: no current flows, the source sits at compliance while driving.
            v = np.where(i_cmd > 0, vmax, np.where(i_cmd < 0, -vmax, 0.0))
            if self.resistor_ohm is None:
                _, rp, cp = self._skin_now()
                self._vc *= math.exp(-n * dt / (rp * cp))
            return np.zeros(n), v, bool(np.any(i_cmd != 0))
        if self.resistor_ohm is not None:
            r = self.resistor_ohm
            limit_ua = vmax / r * 1e6
            i = np.clip(i_cmd, -limit_ua, limit_ua)
            return i, i * 1e-6 * r, bool(np.any(np.abs(i_cmd) > limit_ua))
        rs, rp, cp = self._skin_now()
        a = math.exp(-dt / (rp * cp))
        b = rp * (1.0 - a)
        if n == 0:
            return np.zeros(0), np.zeros(0), False
        # Fast path, exact for a current held over each sample:
        #   vc[k] = a^k * (vc0 + b * sum_{j<k} a^-(j+1) * i[j])
        # A chunk never spans more than ~5 ms (a few time constants), so a^-k stays small.
        i = i_cmd * 1e-6
        k = np.arange(n + 1, dtype=np.float64)
        ak = a**k
        w = np.concatenate(([0.0], np.cumsum(i / ak[1:])))
        vc = ak * (self._vc + b * w)  # vc[0..n]
        v = i * rs + vc[:-1]
        if np.all(np.abs(v) <= vmax) and np.all(np.isfinite(vc)):
            self._vc = float(vc[-1])
            return i_cmd.copy(), v, False
        return self._drive_clamped(i_cmd, rs, a, b)

    def _drive_clamped(
        self, i_cmd: np.ndarray, rs: float, a: float, b: float
    ) -> tuple[np.ndarray, np.ndarray, bool]:
        """Sample by sample, with the compliance clamp (when the fast path would exceed it)."""
        vmax = self.compliance_v
        vc = self._vc
        cur: list[float] = []
        volt: list[float] = []
        clamped = False
        for ic in i_cmd.tolist():
            i = ic * 1e-6
            v = i * rs + vc
            if v > vmax:
                i, v, clamped = (vmax - vc) / rs, vmax, True
            elif v < -vmax:
                i, v, clamped = (-vmax - vc) / rs, -vmax, True
            cur.append(i)
            volt.append(v)
            vc = vc * a + i * b
        self._vc = vc
        return np.array(cur) * 1e6, np.array(volt), clamped


class Adc:
    """Current and voltage ADC: intrinsic error, noise, calibration, int16 counts."""

    def __init__(
        self,
        *,
        seed: int | None = None,
        error: Calibration = INTRINSIC_ERROR,
        current_noise_ua: float = 0.08,
        voltage_noise_v: float = 0.0015,
    ) -> None:
        self.error = error
        self.calibration = Calibration()
        self.current_noise_ua = current_noise_ua
        self.voltage_noise_v = voltage_noise_v
        self._rng = np.random.default_rng(seed)

    def measure(self, current_ua: np.ndarray, voltage_v: np.ndarray) -> np.ndarray:
        """(n, 2) int16 counts of (current, voltage), calibration applied."""
        n = current_ua.shape[0]
        e, c = self.error, self.calibration
        noise = self._rng.standard_normal((2, n))
        i_read = current_ua * e.current_gain + e.current_offset_ua
        i_read += noise[0] * self.current_noise_ua
        v_read = voltage_v * e.voltage_gain + e.voltage_offset_v
        v_read += noise[1] * self.voltage_noise_v
        i_cal = (i_read - c.current_offset_ua) / c.current_gain
        v_cal = (v_read - c.voltage_offset_v) / c.voltage_gain
        raw = np.empty((n, 2), dtype=np.int16)
        raw[:, 0] = np.clip(np.rint(i_cal / CURRENT_LSB_UA), -INT16_MAX, INT16_MAX)
        raw[:, 1] = np.clip(np.rint(v_cal / VOLTAGE_LSB_V), -INT16_MAX, INT16_MAX)
        return raw
