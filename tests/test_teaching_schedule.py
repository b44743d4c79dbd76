"""The replay's ideal: what was commanded when (from a session's events), phased to the
delivered samples so it stays on them over long recordings."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.device.waveform import OutputSettings, Polarity, Waveform, unit_wave
from app.teaching.ideal import ideal_trace
from app.teaching.replay import Recording
from app.teaching.schedule import (
    OutputSchedule,
    ideal_samples,
    phase_shift,
    schedule_from_events,
    settings_from_payload,
)

SQUARE_10 = OutputSettings(Waveform.SQUARE, 10.0, 100.0, Polarity.BIPHASIC, 2.0, 0.0)


def _error(a: np.ndarray, b: np.ndarray, amplitude: float) -> float:
    """Mean absolute difference as a fraction of the amplitude."""
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.mean(np.abs(a[ok] - b[ok]))) / amplitude


@given(
    delay=st.floats(-0.049, 0.049),
    polarity=st.sampled_from([Polarity.POSITIVE, Polarity.NEGATIVE, Polarity.BIPHASIC]),
    waveform=st.sampled_from([Waveform.SQUARE, Waveform.SINE]),
)
@settings(max_examples=40, deadline=None)
def test_phase_shift_finds_the_delay_of_the_delivered_wave(delay, polarity, waveform):
    s = OutputSettings(waveform, 10.0, 100.0, polarity, 2.0, 0.0)
    t = np.arange(3000) / 10_000.0
    rng = np.random.default_rng(1)
    delivered = 100.0 * unit_wave(s, t - delay) + rng.normal(0, 2.0, t.size)
    got = phase_shift(s, t, delivered)
    # the same instant of the period, to within two phase bins (0.2 ms of 100 ms)
    assert math.remainder(got - delay, 0.1) == pytest.approx(0.0, abs=2e-4)


def test_phase_shift_needs_a_period_of_data_and_slow_enough_samples():
    s = SQUARE_10
    t = np.arange(500) / 10_000.0  # half a period
    assert phase_shift(s, t, 100 * unit_wave(s, t - 0.01)) == 0.0
    fast = OutputSettings(Waveform.SQUARE, 4000.0, 100.0, Polarity.BIPHASIC, 2.0, 0.0)
    t = np.arange(10_000) / 10_000.0  # 2.5 samples a period: drawn as a band
    assert phase_shift(fast, t, 100 * unit_wave(fast, t)) == 0.0
    t = np.arange(3000) / 10_000.0
    assert phase_shift(s, t, np.full(t.size, np.nan)) == 0.0
    assert phase_shift(s, t, np.zeros(t.size)) == 0.0


def test_a_long_recording_keeps_the_ideal_on_the_delivered_wave():
    """A device clock 0.05 % fast and output that began 37 ms after the recording: after
    ten minutes the ideal drawn from the settings alone is a quarter period off, the
    aligned one is on the samples."""
    fs = 2000.0
    t = np.arange(int(600 * fs)) / fs
    device_t = (t - 0.037) * 1.0005
    delivered = 100.0 * unit_wave(SQUARE_10, device_t)
    delivered += np.random.default_rng(2).normal(0, 1.0, t.size)
    sl = slice(int(590 * fs), int(590.3 * fs))
    naive = ideal_trace(SQUARE_10, t[sl])
    aligned = ideal_samples(OutputSchedule.constant(SQUARE_10), t[sl], delivered[sl])
    assert _error(naive, delivered[sl], 100.0) > 0.5
    assert _error(aligned, delivered[sl], 100.0) < 0.05


def test_alternating_polarity_takes_each_periods_sign_from_the_samples():
    s = OutputSettings(Waveform.SQUARE, 10.0, 150.0, Polarity.ALTERNATING, 2.0, 0.0)
    fs = 10_000.0
    t = np.arange(int(6 * fs)) / fs
    delivered = 150.0 * unit_wave(s, t - 0.337)  # flips 0.337 s later than t = 2, 4
    sl = slice(int(2.0 * fs), int(2.6 * fs))  # across the flip at 2.337 s
    aligned = ideal_samples(OutputSchedule.constant(s), t[sl], delivered[sl])
    assert _error(aligned, delivered[sl], 150.0) < 0.02
    before, after = aligned[:3000], aligned[-2000:]  # 2.0-2.3 s and 2.4-2.6 s
    assert (before.min(), before.max()) == pytest.approx((0.0, 150.0))
    assert (after.min(), after.max()) == pytest.approx((-150.0, 0.0))


def _practitioner_events():
    """What the engine writes: pre-session records (before 0 s), then the run."""
    cmd = {"command": "set_output", "waveform": "square", "polarity": "biphasic"}
    return [
        (-0.4, "transition", {"state": "ready", "message": "idle -> ready"}),
        (
            -0.2,
            "command",
            {**cmd, "frequency_hz": 10.0, "amplitude_ua": 200.0, "state": "ready", "ramp_s": 1.0},
        ),
        (-0.1, "transition", {"state": "ramping_up"}),
        (1.0, "transition", {"state": "running"}),
        (2.0, "limit", {"state": "running", "ceiling_ua": 300.0}),
        (5.0, "command", {**cmd, "frequency_hz": 20.0, "amplitude_ua": 150.0, "state": "running"}),
        (8.0, "transition", {"state": "paused"}),
        (9.0, "transition", {"state": "ramping_up"}),
        (12.0, "transition", {"state": "ramping_down"}),
        (13.0, "transition", {"state": "complete"}),
    ]


def test_a_programs_events_give_what_was_commanded_when():
    first = OutputSettings(Waveform.SQUARE, 10.0, 200.0, Polarity.BIPHASIC, 2.0, 1.0)
    sch = schedule_from_events(_practitioner_events(), first)
    assert sch.settings_at(2.0).frequency_hz == 10.0
    assert sch.settings_at(6.0).frequency_hz == 20.0
    assert sch.settings_at(6.0).amplitude_ua == 150.0
    level = sch.level(np.array([0.5, 3.0, 5.125, 6.0, 8.5, 9.5, 11.0, 12.5, 13.5]))
    # 200 -> 150 µA slews at 200 µA/s (the firmware: the larger of the two over the ramp)
    assert level == pytest.approx([100.0, 200.0, 175.0, 150.0, 0.0, 75.0, 150.0, 75.0, 0.0])
    # every output starts at phase 0: the resumed one at 9 s
    assert sch.piece_at(9.5).t_on == 9.0
    assert sch.piece_at(6.0).t_on == 0.0


def test_the_studios_events_give_what_was_commanded_when():
    sd = {
        "waveform": "sine",
        "frequency_hz": 5.0,
        "amplitude_ua": 80.0,
        "polarity": "positive",
        "alternate_s": 2.0,
        "ramp_s": 0.5,
    }
    events = [
        (0.0, "settings", {"message": "output started", **sd}),
        (0.05, "device_state", {"message": "device ramp up", "state": "ramp_up"}),
        (0.6, "device_state", {"state": "running"}),
        (3.0, "settings", {"message": "settings changed (studio)", **sd, "amplitude_ua": 40.0}),
        (6.0, "stop_requested", {"message": "stop requested"}),
        (6.0, "device_state", {"state": "ramp_down"}),
        (6.5, "device_state", {"state": "idle"}),
        (6.6, "ended", {"message": "output off", "outcome": "completed"}),
    ]
    sch = schedule_from_events(events, settings_from_payload(sd))
    level = sch.level(np.array([0.25, 2.0, 3.25, 4.0, 6.25, 7.0]))
    # 80 -> 40 µA slews at 80 µA per 0.5 s; the ramp down at 40 µA per 0.5 s
    assert level == pytest.approx([40.0, 80.0, 40.0, 40.0, 20.0, 0.0])
    assert sch.settings_at(4.0).amplitude_ua == 40.0


def test_the_ideal_is_zero_while_the_output_is_off_and_follows_each_step():
    first = OutputSettings(Waveform.SQUARE, 10.0, 200.0, Polarity.BIPHASIC, 2.0, 1.0)
    sch = schedule_from_events(_practitioner_events(), first)
    fs = 5000.0
    t = np.arange(int(14 * fs)) / fs
    lvl = sch.level(t)
    freq = np.where(t < 5.0, 10.0, 20.0)
    # the device's phase: a run from 0 s (with a step at 5 s) and one resumed at 9 s,
    # both seen 20 ms late on the sample clock
    t_dev = np.where(t < 9.0, t, t - 9.0) - 0.02
    phase = np.where(t < 5.0, t_dev * 10.0, 50.0 + (t_dev - 5.0) * 20.0)
    phase = np.where(t >= 9.0, t_dev * 20.0, phase)
    delivered = lvl * np.where(np.mod(phase, 1.0) < 0.5, 1.0, -1.0)
    assert freq.size == delivered.size
    for lo, hi in ((3.0, 3.3), (6.0, 6.15), (10.5, 10.65)):
        sl = slice(int(lo * fs), int(hi * fs))
        got = ideal_samples(sch, t[sl], delivered[sl])
        assert _error(got, delivered[sl], 200.0) < 0.03, (lo, hi)
    paused = slice(int(8.2 * fs), int(8.8 * fs))
    assert np.all(ideal_samples(sch, t[paused], delivered[paused]) == 0.0)


def test_a_recording_without_a_schedule_keeps_its_settings_throughout():
    t = np.arange(4000) / 1000.0
    cur = 100.0 * unit_wave(SQUARE_10, t)
    rec = Recording.from_arrays(t, cur, cur * 0.01, settings=SQUARE_10)
    assert rec.settings_at(3.0) == SQUARE_10
    assert _error(rec.ideal(slice(1000, 1300)), cur[1000:1300], 100.0) < 0.01
    none = Recording.from_arrays(t, cur, cur * 0.01)
    assert np.isnan(none.ideal(slice(0, 100))).all()


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            {"waveform": "square", "frequency_hz": 10, "amplitude_ua": 100, "polarity": "biphasic"},
            OutputSettings(Waveform.SQUARE, 10.0, 100.0, Polarity.BIPHASIC, 2.0, 1.0),
        ),
        ({"waveform": "triangle", "frequency_hz": 10}, None),
        ({"waveform": "square", "frequency_hz": "fast"}, None),
        ({"waveform": "square", "frequency_hz": -1}, None),
        ({"waveform": "square", "frequency_hz": math.nan}, None),
        ({"frequency_hz": 10}, None),
        ({"message": "no settings here"}, None),
    ],
)
def test_settings_from_payload_reads_what_it_can_and_refuses_the_rest(payload, expected):
    assert settings_from_payload(payload) == expected


def test_settings_from_payload_fills_missing_fields_from_the_previous_settings():
    prev = OutputSettings(Waveform.SINE, 5.0, 80.0, Polarity.ALTERNATING, 3.0, 0.4)
    got = settings_from_payload(
        {"waveform": "square", "frequency_hz": 20, "amplitude_ua": 50}, prev
    )
    assert got == OutputSettings(Waveform.SQUARE, 20.0, 50.0, Polarity.ALTERNATING, 3.0, 0.4)


@given(
    st.lists(
        st.tuples(
            st.floats(-5, 60, allow_nan=False),
            st.sampled_from(
                ["transition", "device_state", "command", "settings", "ended", "limit"]
            ),
            st.sampled_from(
                [
                    "ramping_up",
                    "running",
                    "paused",
                    "ramp_down",
                    "idle",
                    "estopped",
                    "ramping_down",
                    "",
                ]
            ),
            st.sampled_from([None, 5.0, 20.0]),
            st.floats(0, 1000, allow_nan=False),
        ),
        max_size=25,
    )
)
@settings(max_examples=100, deadline=None)
def test_any_sequence_of_events_gives_a_level_within_what_was_commanded(events):
    first = OutputSettings(Waveform.SQUARE, 10.0, 200.0, Polarity.BIPHASIC, 2.0, 1.0)
    stored = []
    for t, kind, state, freq, amp in events:
        payload = {"state": state}
        if freq is not None:
            payload.update(waveform="square", frequency_hz=freq, amplitude_ua=amp)
        stored.append((t, kind, payload))
    sch = schedule_from_events(stored, first)
    ceiling = max([200.0] + [a for *_, f, a in events if f is not None])
    level = sch.level(np.linspace(0, 70, 2000))
    assert np.all(level >= 0.0)
    assert np.all(level <= ceiling + 1e-9)
    starts = [p.start for p in sch.pieces]
    assert starts == sorted(starts)


def test_level_and_ideal_are_the_same_for_times_in_any_order():
    first = OutputSettings(Waveform.SQUARE, 10.0, 200.0, Polarity.BIPHASIC, 2.0, 1.0)
    sch = schedule_from_events(_practitioner_events(), first)
    t = np.linspace(0, 14, 3001)
    order = np.random.default_rng(3).permutation(t.size)
    assert np.array_equal(sch.level(t[order]), sch.level(t)[order])
    cur = sch.level(t) * unit_wave(first, t)
    ideal = ideal_samples(sch, t, cur)
    shuffled = ideal_samples(sch, t[order], cur[order])
    assert np.allclose(shuffled, ideal[order], equal_nan=True)
