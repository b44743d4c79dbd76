"""The spectrum view: amplitudes as a technician reads them, per window. Pure core first."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.scope.core.spectrum import WINDOWS, spectrum, window

FS = 10_000.0


def sine(f: float, amp: float, n: int = 10_000, dc: float = 0.0) -> np.ndarray:
    t = np.arange(n) / FS
    return dc + amp * np.sin(2 * np.pi * f * t)


@pytest.mark.parametrize("name", WINDOWS)
def test_a_sine_on_a_bin_reads_its_amplitude_and_frequency(name):
    sp = spectrum(sine(50.0, 120.0, dc=7.0), FS, name)
    f, a = sp.peak()
    assert f == pytest.approx(50.0)
    assert a == pytest.approx(120.0, rel=0.01)
    assert sp.amplitude[0] == pytest.approx(7.0, abs=1e-6)  # DC: the mean
    assert sp.resolution_hz == pytest.approx(1.0)


@settings(max_examples=30, deadline=None)
@given(st.floats(20.0, 2000.0), st.floats(1.0, 600.0))
def test_flattop_reads_the_amplitude_between_bins_too(f, amp):
    _, a = spectrum(sine(f, amp, n=4096), FS, "flattop").peak()
    assert a == pytest.approx(amp, rel=0.01)


def test_a_square_wave_has_odd_harmonics_at_four_over_pi():
    t = np.arange(10_000) / FS
    square = 300.0 * np.sign(np.sin(2 * np.pi * 10.0 * t + 1e-9))
    sp = spectrum(square, FS, "flattop")
    amp = {k: sp.amplitude[np.argmin(np.abs(sp.frequency_hz - 10.0 * k))] for k in (1, 2, 3)}
    assert amp[1] == pytest.approx(4 / math.pi * 300.0, rel=0.02)
    assert amp[3] == pytest.approx(4 / math.pi * 100.0, rel=0.05)
    assert amp[2] < 0.02 * amp[1]  # no even harmonics


def test_gaps_and_bad_input():
    x = sine(100.0, 50.0)
    x[1000:1100] = np.nan  # samples that never arrived
    f, a = spectrum(x, FS).peak()
    assert f == pytest.approx(100.0)
    assert a == pytest.approx(50.0, rel=0.05)
    with pytest.raises(ValueError, match="unknown window"):
        window("kaiser", 8)
    with pytest.raises(ValueError, match="sample rate"):
        spectrum(x, 0.0)
    assert spectrum(np.zeros(1), FS).amplitude.size == 0


def test_the_bench_scope_shows_the_spectrum_of_the_capture_on_screen(qtbot):
    from app.scope.core.capture import Capture
    from app.scope.widget import ScopeWidget

    scope = ScopeWidget()
    qtbot.addWidget(scope)
    cap = Capture(
        FS, 0, 0, sine(250.0, 80.0, n=4000).astype(np.float32), np.zeros(4000, dtype=np.float32)
    )
    scope.shown = cap
    assert scope.spectrum_plot.isHidden()
    scope.spectrum_check.setChecked(True)
    assert not scope.spectrum_plot.isHidden()
    scope.spectrum_window.setCurrentText("flattop")
    f, a = scope.last_spectrum.peak()
    assert f == pytest.approx(250.0, abs=2.5)
    assert a == pytest.approx(80.0, rel=0.02)
    assert "peak 250 Hz" in scope.spectrum_label.text()
    x, y = scope.spectrum_curve.getData()
    assert len(x) == len(y) > 100
