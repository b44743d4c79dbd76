"""Ideal (commanded) waveforms and the overlay set of the waveform studio. Pure numpy.

The shape comes from :func:`app.device.waveform.unit_wave`, the one definition of every
waveform; this module only scales it by the amplitude and the output-start ramp.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from app.device.waveform import OutputSettings, Polarity, Waveform, unit_wave

MAX_OVERLAYS = 3


class OverlayError(ValueError):
    """An overlay that cannot be added; the message says why."""


def describe(settings: OutputSettings) -> str:
    """A short name for a class: ``"Square 10 Hz alternating"``."""
    f = settings.frequency_hz
    freq = f"{f:g} Hz" if f < 1000 else f"{f / 1000:g} kHz"
    text = f"{settings.waveform.label} {freq} {settings.polarity.label.lower()}"
    if settings.polarity == Polarity.ALTERNATING:
        text += f" (flip {settings.alternate_s:g} s)"
    return text


def ramp_envelope(settings: OutputSettings, t: np.ndarray) -> np.ndarray:
    """0..1: the linear ramp from output start (t = 0) to full amplitude at ``ramp_s``."""
    t = np.asarray(t, dtype=np.float64)
    if settings.ramp_s <= 0:
        return np.where(t >= 0, 1.0, 0.0)
    return np.clip(t / settings.ramp_s, 0.0, 1.0)


def ideal_trace(
    settings: OutputSettings, t: np.ndarray, *, t_start: float = 0.0, ramp: bool = True
) -> np.ndarray:
    """The commanded current (µA) at times ``t`` for output started at ``t_start``.

    Before ``t_start`` the output is 0. ``ramp=False`` draws the steady state (full
    amplitude from the start), as used for comparing shapes.
    """
    t_rel = np.asarray(t, dtype=np.float64) - t_start
    shape = unit_wave(settings, t_rel)
    level = ramp_envelope(settings, t_rel) if ramp else np.where(t_rel >= 0, 1.0, 0.0)
    return settings.amplitude_ua * level * shape


def validate(settings: OutputSettings) -> None:
    """Raise ValueError naming the first setting that cannot be drawn."""
    checks = (
        ("frequency", settings.frequency_hz, "Hz"),
        ("amplitude", settings.amplitude_ua, "µA"),
    )
    for name, value, unit in checks:
        if not (isinstance(value, int | float) and math.isfinite(value)):
            raise ValueError(f"{name} {value!r} {unit}: must be a number")
    if settings.frequency_hz <= 0:
        raise ValueError(f"frequency {settings.frequency_hz:g} Hz: must be above 0 Hz")
    if settings.amplitude_ua < 0:
        raise ValueError(f"amplitude {settings.amplitude_ua:g} µA: must not be negative")
    if settings.polarity == Polarity.ALTERNATING and not (
        math.isfinite(settings.alternate_s) and settings.alternate_s > 0
    ):
        raise ValueError(f"flip period {settings.alternate_s!r} s: must be above 0 s")
    if not (math.isfinite(settings.ramp_s) and settings.ramp_s >= 0):
        raise ValueError(f"ramp {settings.ramp_s!r} s: must be 0 s or more")
    if not isinstance(settings.waveform, Waveform) or not isinstance(settings.polarity, Polarity):
        raise ValueError("waveform and polarity must be chosen from the lists")


class Overlays:
    """Up to :data:`MAX_OVERLAYS` ideal waveforms drawn together for comparison."""

    def __init__(self, limit: int = MAX_OVERLAYS) -> None:
        self.limit = limit
        self._items: list[OutputSettings] = []

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[OutputSettings]:
        return iter(list(self._items))

    def __getitem__(self, index: int) -> OutputSettings:
        return self._items[index]

    @property
    def full(self) -> bool:
        return len(self._items) >= self.limit

    def add(self, settings: OutputSettings) -> int:
        """Add ``settings``; return its index. Refuses a fourth or a duplicate."""
        validate(settings)
        if settings in self._items:
            raise OverlayError(f"“{describe(settings)}” is already overlaid")
        if self.full:
            raise OverlayError(
                f"At most {self.limit} waveforms can be overlaid: remove one "
                "before adding “" + describe(settings) + "”"
            )
        self._items.append(settings)
        return len(self._items) - 1

    def remove(self, index: int) -> OutputSettings:
        if not 0 <= index < len(self._items):
            raise OverlayError(f"no overlay number {index + 1} (there are {len(self._items)})")
        return self._items.pop(index)

    def clear(self) -> None:
        self._items.clear()

    def labels(self) -> list[str]:
        return [describe(s) for s in self._items]

    def traces(self, t: np.ndarray) -> list[np.ndarray]:
        """Each overlay's steady-state current (µA) at ``t`` (phase 0 at t = 0)."""
        return [ideal_trace(s, t, ramp=False) for s in self._items]
