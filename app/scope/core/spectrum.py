"""The spectrum of a capture: single-sided amplitude per frequency, with a window. Pure numpy.

:func:`spectrum` returns the amplitude (same unit as the input: µA for the current) of
each frequency bin, corrected for the window's coherent gain, so a sine of amplitude A
reads A at its frequency (exactly with ``flattop``, within the scallop loss with the
others). NaN samples (gaps) are replaced by the mean of the rest before the transform;
the DC bin carries the mean. A window choice trades frequency resolution (``rectangular``,
``hann``) against amplitude accuracy (``flattop``) and leakage (``blackman``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WINDOWS = ("hann", "hamming", "blackman", "flattop", "rectangular")


@dataclass(frozen=True, slots=True)
class Spectrum:
    frequency_hz: np.ndarray  # bin centres, 0 .. sample_rate / 2
    amplitude: np.ndarray  # single-sided amplitude per bin (the input's unit)
    window: str
    resolution_hz: float  # the bin spacing

    def peak(self, above_hz: float = 0.0) -> tuple[float, float]:
        """(frequency, amplitude) of the largest bin above ``above_hz`` (DC excluded)."""
        mask = self.frequency_hz > max(above_hz, 0.0)
        if not mask.any():
            return float("nan"), float("nan")
        k = int(np.argmax(np.where(mask, self.amplitude, -np.inf)))
        return float(self.frequency_hz[k]), float(self.amplitude[k])


def window(name: str, n: int) -> np.ndarray:
    """The window ``name`` (see WINDOWS) of ``n`` points."""
    if name == "rectangular":
        return np.ones(n)
    if name == "hann":
        return np.hanning(n)
    if name == "hamming":
        return np.hamming(n)
    if name == "blackman":
        return np.blackman(n)
    if name == "flattop":  # the SRS / HP coefficients: amplitude flat within 0.01 dB
        k = np.arange(n) * 2 * np.pi / max(n - 1, 1)
        a = (0.21557895, 0.41663158, 0.277263158, 0.083578947, 0.006947368)
        return (
            a[0]
            - a[1] * np.cos(k)
            + a[2] * np.cos(2 * k)
            - a[3] * np.cos(3 * k)
            + a[4] * np.cos(4 * k)
        )
    raise ValueError(f"unknown window {name!r}: choose one of {', '.join(WINDOWS)}")


def spectrum(x: np.ndarray, sample_rate: float, window_name: str = "hann") -> Spectrum:
    """Single-sided amplitude spectrum of ``x`` sampled at ``sample_rate``."""
    if not sample_rate > 0:
        raise ValueError(f"sample rate {sample_rate!r} must be positive")
    data = np.asarray(x, dtype=np.float64)
    n = data.size
    if n < 2:
        return Spectrum(np.zeros(0), np.zeros(0), window_name, float("nan"))
    finite = np.isfinite(data)
    if not finite.all():
        data = np.where(finite, data, data[finite].mean() if finite.any() else 0.0)
    w = window(window_name, n)
    gain = w.sum()  # coherent gain × n: a sine of amplitude A gives A·gain/2 in its bin
    mean = data.mean()
    fft = np.fft.rfft((data - mean) * w)
    amplitude = 2.0 * np.abs(fft) / gain
    amplitude[0] = abs(mean)  # DC: the mean itself, not windowed
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
    return Spectrum(freqs, amplitude, window_name, float(sample_rate / n))
