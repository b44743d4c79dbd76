"""Replay of a recorded session: the recording on a sample grid and its timeline. Pure numpy.

A recording is given as arrays (time s, current µA, voltage V), optionally with the
commanded settings and events ``(time s, text)``. The samples are placed on an evenly
spaced grid (:func:`app.scope.core.capture.capture_from_samples`); samples missing in
the recording are NaN, never interpolated. Rows whose time is NaN are gap markers (as
the store's recordings carry them) and are skipped.

The timeline's *position* is the playhead: the time of the newest sample on screen.
The screen shows the ``window_s`` seconds that end at the playhead, as a live scope
would have shown them at that moment.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from app.device.waveform import OutputSettings
from app.scope.core.capture import capture_from_samples
from app.teaching.schedule import OutputSchedule, ideal_samples

SPEEDS = (1, 2, 5)
SLIDER_STEPS = 10_000


class RecordingError(ValueError):
    """A recording that cannot be replayed; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class ReplayEvent:
    t: float  # s since the start of the recording
    text: str


@dataclass(frozen=True, slots=True, eq=False)
class Recording:
    """Evenly spaced samples from time ``t0`` (s); NaN marks missing samples."""

    t0: float
    sample_rate: float
    current_ua: np.ndarray
    voltage_v: np.ndarray
    settings: OutputSettings | None = None
    events: tuple[ReplayEvent, ...] = ()
    schedule: OutputSchedule | None = None  # None: ``settings`` throughout, from 0 s

    def __len__(self) -> int:
        return int(self.current_ua.shape[0])

    @property
    def duration_s(self) -> float:
        return len(self) / self.sample_rate

    def output_schedule(self) -> OutputSchedule:
        """What the device was commanded over the recording (times since its start)."""
        return (
            self.schedule if self.schedule is not None else OutputSchedule.constant(self.settings)
        )

    def settings_at(self, t: float) -> OutputSettings | None:
        """The settings in force ``t`` s after the recording's start."""
        return self.output_schedule().settings_at(t)

    def ideal(self, window: slice) -> np.ndarray:
        """The ideal current (µA) at the samples of ``window``, in phase with the
        delivered ones (NaN where no settings are known)."""
        start, stop, _ = window.indices(len(self))
        t = np.arange(start, stop, dtype=np.float64) / self.sample_rate
        return ideal_samples(self.output_schedule(), t, self.current_ua[start:stop])

    @classmethod
    def from_arrays(
        cls,
        t,
        i_ua,
        v_v,
        *,
        settings: OutputSettings | None = None,
        events: Iterable = (),
        sample_rate: float | None = None,
        schedule: OutputSchedule | None = None,
    ) -> Recording:
        """Validate and grid a recording. Times may start anywhere; they are kept.

        ``schedule`` (times since the first sample) says which settings were in force
        when; without it ``settings`` hold throughout, from an output started at 0 s."""
        try:
            t_arr = np.asarray(t, dtype=np.float64)
            i_arr = np.asarray(i_ua, dtype=np.float64)
            v_arr = np.asarray(v_v, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise RecordingError(f"recording arrays must hold numbers: {exc}") from exc
        if t_arr.ndim != 1 or t_arr.size < 2:
            raise RecordingError("a recording needs at least two samples in a 1-D time array")
        if t_arr.shape == i_arr.shape == v_arr.shape:
            # rows with no time are gap markers (app.store.recording.assemble writes one
            # between chunks that do not follow on): the grid keeps the gap as NaN
            keep = ~np.isnan(t_arr)
            if not keep.all():
                t_arr, i_arr, v_arr = t_arr[keep], i_arr[keep], v_arr[keep]
                if t_arr.size < 2:
                    raise RecordingError("a recording needs at least two timed samples")
        for name, arr in (("current", i_arr), ("voltage", v_arr)):
            bad = np.flatnonzero(np.isinf(arr))
            if bad.size:
                raise RecordingError(
                    f"recording: {name} sample {int(bad[0]) + 1} is infinite "
                    "(missing samples are NaN)"
                )
        try:
            cap = capture_from_samples(t_arr, i_arr, v_arr, sample_rate=sample_rate)
        except ValueError as exc:
            raise RecordingError(f"recording: {exc}") from exc
        evs = []
        for n, ev in enumerate(events, start=1):
            try:
                et, text = ev
                et = float(et)
            except (TypeError, ValueError) as exc:
                raise RecordingError(f"event {n}: expected (time in s, text), got {ev!r}") from exc
            if not math.isfinite(et):
                raise RecordingError(f"event {n}: time {et!r} is not a number")
            evs.append(ReplayEvent(et - float(t_arr[0]), str(text)))
        evs.sort(key=lambda e: e.t)
        if settings is None and schedule is not None:
            settings = schedule.pieces[0].settings
        return cls(
            float(t_arr[0]),
            cap.sample_rate,
            cap.current_ua,
            cap.voltage_v,
            settings,
            tuple(evs),
            schedule,
        )


class Timeline:
    """Playhead arithmetic of a replay: position (s since the recording's start),
    speed, play/pause, and which samples the screen shows."""

    def __init__(self, n_samples: int, sample_rate: float, window_s: float) -> None:
        if n_samples < 1:
            raise ValueError("a timeline needs at least one sample")
        if not (math.isfinite(sample_rate) and sample_rate > 0):
            raise ValueError(f"sample rate must be a positive number, got {sample_rate!r}")
        self.n_samples = int(n_samples)
        self.sample_rate = float(sample_rate)
        self.playing = False
        self._speed = 1
        self._window_s = 1.0
        self.window_s = window_s
        self.position_s = min(self.window_s, self.duration_s)

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.sample_rate

    @property
    def window_s(self) -> float:
        return self._window_s

    @window_s.setter
    def window_s(self, seconds: float) -> None:
        if not (math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"time window must be above 0 s, got {seconds!r}")
        self._window_s = float(seconds)

    @property
    def speed(self) -> int:
        return self._speed

    @speed.setter
    def speed(self, value: int) -> None:
        if value not in SPEEDS:
            raise ValueError(f"replay speed ×{value} is not offered: choose ×1, ×2 or ×5")
        self._speed = int(value)

    @property
    def at_end(self) -> bool:
        return self.position_s >= self.duration_s

    def seek(self, seconds: float) -> float:
        """Move the playhead (clamped to the recording); return the new position."""
        if not math.isfinite(seconds):
            raise ValueError(f"position {seconds!r} s is not a number")
        self.position_s = min(max(float(seconds), 0.0), self.duration_s)
        return self.position_s

    def advance(self, wall_seconds: float) -> float:
        """Move on by ``wall_seconds`` of real time at the current speed while playing;
        playing stops at the end of the recording."""
        if self.playing and wall_seconds > 0:
            self.seek(self.position_s + wall_seconds * self._speed)
            if self.at_end:
                self.playing = False
        return self.position_s

    def play(self) -> None:
        if self.at_end:
            self.seek(min(self.window_s, self.duration_s))
        self.playing = True

    def pause(self) -> None:
        self.playing = False

    def window(self) -> slice:
        """Sample indices on screen: the ``window_s`` seconds ending at the playhead."""
        stop = int(round(self.position_s * self.sample_rate))
        start = stop - int(round(self.window_s * self.sample_rate))
        return slice(max(start, 0), min(max(stop, 0), self.n_samples))

    def window_start_s(self) -> float:
        """Time (s since start) of the left edge of the screen (may be negative)."""
        return self.position_s - self.window_s

    def to_slider(self) -> int:
        if self.duration_s <= 0:
            return 0
        return int(round(self.position_s / self.duration_s * SLIDER_STEPS))

    def from_slider(self, value: int) -> float:
        return self.seek(value / SLIDER_STEPS * self.duration_s)
