"""Replay timeline arithmetic, recording validation, overlays and ideal traces."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.device.waveform import OutputSettings, Polarity, Waveform, unit_wave
from app.teaching.ideal import (
    MAX_OVERLAYS,
    OverlayError,
    Overlays,
    describe,
    ideal_trace,
    validate,
)
from app.teaching.replay import SLIDER_STEPS, Recording, RecordingError, Timeline

# -- timeline


def test_window_is_the_seconds_before_the_playhead():
    tl = Timeline(n_samples=10_000, sample_rate=1000.0, window_s=2.0)
    assert tl.duration_s == 10.0
    assert tl.position_s == 2.0  # first screen is full
    assert tl.window() == slice(0, 2000)
    tl.seek(5.5)
    assert tl.window() == slice(3500, 5500)
    assert tl.window_start_s() == pytest.approx(3.5)
    tl.seek(0.5)
    assert tl.window() == slice(0, 500)  # the start of the recording: partly empty
    tl.seek(99)
    assert tl.position_s == 10.0
    assert tl.window() == slice(8000, 10_000)
    tl.seek(-3)
    assert tl.position_s == 0.0
    assert tl.window() == slice(0, 0)


def test_advance_uses_speed_only_while_playing_and_stops_at_end():
    tl = Timeline(10_000, 1000.0, 1.0)
    tl.advance(1.0)
    assert tl.position_s == 1.0  # paused: no movement
    tl.play()
    tl.speed = 5
    tl.advance(0.5)
    assert tl.position_s == pytest.approx(3.5)
    tl.speed = 2
    tl.advance(10.0)
    assert tl.position_s == 10.0
    assert tl.at_end
    assert not tl.playing
    tl.play()  # playing again from the end restarts
    assert tl.playing
    assert tl.position_s == 1.0


@given(steps=st.lists(st.tuples(st.sampled_from([1, 2, 5]), st.floats(0.0, 3.0)), max_size=30))
def test_property_playing_moves_forward_at_speed_and_stops_at_the_end(steps):
    tl = Timeline(5000, 1000.0, 0.5)
    tl.play()
    for speed, wall in steps:
        before, was_playing = tl.position_s, tl.playing
        tl.speed = speed
        tl.advance(wall)
        assert before <= tl.position_s <= tl.duration_s
        if was_playing and not tl.at_end:
            assert tl.position_s == pytest.approx(before + speed * wall)
        if tl.at_end:
            assert not tl.playing


def test_only_offered_speeds():
    tl = Timeline(100, 100.0, 1.0)
    with pytest.raises(ValueError, match="×3"):
        tl.speed = 3


def test_slider_round_trip():
    tl = Timeline(12_345, 1000.0, 1.0)
    tl.from_slider(SLIDER_STEPS // 2)
    assert tl.position_s == pytest.approx(12.345 / 2)
    assert tl.to_slider() == SLIDER_STEPS // 2
    tl.from_slider(SLIDER_STEPS)
    assert tl.at_end


@given(
    n=st.integers(1, 200_000),
    fs=st.sampled_from([500.0, 1000.0, 5000.0, 10_000.0]),
    w=st.floats(0.05, 20.0),
    pos=st.floats(-5.0, 100.0),
)
def test_property_window_inside_recording_and_at_most_window_long(n, fs, w, pos):
    tl = Timeline(n, fs, w)
    tl.seek(pos)
    sl = tl.window()
    assert 0 <= sl.start <= sl.stop <= n
    assert sl.stop - sl.start <= int(round(w * fs))
    assert sl.stop == min(int(round(tl.position_s * fs)), n)


def test_bad_timeline_values_are_named():
    with pytest.raises(ValueError, match="sample rate"):
        Timeline(10, 0.0, 1.0)
    with pytest.raises(ValueError, match="time window"):
        Timeline(10, 10.0, 0.0)
    with pytest.raises(ValueError, match="at least one"):
        Timeline(0, 10.0, 1.0)


# -- recordings


def test_recording_grids_samples_and_keeps_gaps_as_nan():
    t = np.array([10.0, 10.001, 10.002, 10.004, 10.005])  # one sample missing
    rec = Recording.from_arrays(
        t, [1, 2, 3, 5, 6], [0, 0, 0, 0, 0], events=[(10.003, "stop pressed")]
    )
    assert rec.sample_rate == pytest.approx(1000.0)
    assert rec.t0 == 10.0
    assert len(rec) == 6
    assert np.isnan(rec.current_ua[3])
    assert rec.current_ua[4] == 5
    assert rec.events[0].t == pytest.approx(0.003)
    assert rec.events[0].text == "stop pressed"


def test_gap_marker_rows_are_skipped_and_the_gap_kept():
    t = [0.0, 0.001, float("nan"), 0.004, 0.005]
    rec = Recording.from_arrays(t, [1, 2, float("nan"), 5, 6], [0, 0, float("nan"), 0, 0])
    assert len(rec) == 6
    assert np.isnan(rec.current_ua[2:4]).all()
    with pytest.raises(RecordingError, match="two timed samples"):
        Recording.from_arrays([0.0, float("nan")], [1, 2], [0, 0])


@pytest.mark.parametrize(
    ("t", "i", "v", "events", "message"),
    [
        ([0.0], [1.0], [1.0], (), "at least two"),
        ([0.0, 0.1], [1.0], [1.0, 2.0], (), "same length"),
        ([0.0, 0.0], [1.0, 2.0], [1.0, 2.0], (), "increase"),
        ([0.0, 0.1], ["a", 2.0], [1.0, 2.0], (), "numbers"),
        ([0.0, 0.1], [1.0, 2.0], [1.0, 2.0], [(0.05,)], "event 1"),
        ([0.0, 0.1], [1.0, 2.0], [1.0, 2.0], [("x", "y")], "event 1"),
        ([0.0, 0.1], [1.0, float("inf")], [1.0, 2.0], (), "current sample 2 is infinite"),
    ],
)
def test_bad_recordings_are_named(t, i, v, events, message):
    with pytest.raises(RecordingError, match=message):
        Recording.from_arrays(t, i, v, events=events)


# -- ideal traces and overlays


def test_ideal_trace_is_unit_wave_times_amplitude_and_ramp():
    s = OutputSettings(Waveform.SINE, 10.0, 200.0, Polarity.BIPHASIC, 2.0, 1.0)
    t = np.linspace(0, 3, 3001)
    got = ideal_trace(s, t)
    ramp = np.clip(t / 1.0, 0, 1)
    np.testing.assert_allclose(got, 200.0 * ramp * unit_wave(s, t))
    assert np.all(ideal_trace(s, t, t_start=5.0) == 0)  # before output start
    steady = ideal_trace(s, t, ramp=False)
    assert np.max(steady[:100]) == pytest.approx(200.0, rel=1e-3)


def test_describe_names_shape_frequency_and_polarity():
    assert (
        describe(OutputSettings(Waveform.SQUARE, 10, 100, Polarity.ALTERNATING, 2.0))
        == "Square 10 Hz alternating (flip 2 s)"
    )
    assert (
        describe(OutputSettings(Waveform.SINE, 0.5, 100, Polarity.BIPHASIC))
        == "Sine 0.5 Hz biphasic"
    )
    assert (
        describe(OutputSettings(Waveform.SQUARE, 2000, 100, Polarity.POSITIVE))
        == "Square 2 kHz positive"
    )


def test_overlay_limit_of_three():
    ov = Overlays()
    for f in (1.0, 2.0, 5.0):
        ov.add(OutputSettings(frequency_hz=f))
    assert len(ov) == MAX_OVERLAYS == 3
    assert ov.full
    with pytest.raises(OverlayError, match="At most 3"):
        ov.add(OutputSettings(frequency_hz=10.0))
    assert len(ov) == 3
    ov.remove(0)
    ov.add(OutputSettings(frequency_hz=10.0))
    assert [s.frequency_hz for s in ov] == [2.0, 5.0, 10.0]
    with pytest.raises(OverlayError, match="already overlaid"):
        ov.add(OutputSettings(frequency_hz=10.0))
    with pytest.raises(OverlayError, match="no overlay number 4"):
        ov.remove(3)
    traces = ov.traces(np.linspace(0, 1, 11))
    assert len(traces) == 3
    assert all(tr.shape == (11,) for tr in traces)
    ov.clear()
    assert len(ov) == 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"frequency_hz": 0.0}, "frequency"),
        ({"frequency_hz": float("nan")}, "frequency"),
        ({"amplitude_ua": -1.0}, "amplitude"),
        ({"alternate_s": 0.0}, "flip period"),
        ({"ramp_s": -1.0}, "ramp"),
    ],
)
def test_invalid_settings_are_named(changes, message):
    base = dict(
        waveform=Waveform.SQUARE,
        frequency_hz=10.0,
        amplitude_ua=100.0,
        polarity=Polarity.ALTERNATING,
        alternate_s=2.0,
        ramp_s=1.0,
    )
    base.update(changes)
    with pytest.raises(ValueError, match=message):
        validate(OutputSettings(**base))
    with pytest.raises(ValueError, match=message):
        Overlays().add(OutputSettings(**base))
