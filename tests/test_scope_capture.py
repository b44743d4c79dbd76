"""Capture CSV round trip, malformed files, `measure` command and the mask test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.__main__ import main
from app.device.protocol import SampleFlag
from app.device.waveform import OutputSettings, Polarity, Waveform
from app.scope.core.buffer import SampleRing
from app.scope.core.capture import (
    HEADER,
    Capture,
    CaptureFileError,
    capture_from_samples,
    format_csv,
    parse_csv,
    read_csv,
    write_csv,
)
from app.scope.core.mask import MaskSettings, MaskTester, mask_bounds, violations
from app.scope.core.measure import JSON_KEYS
from app.scope.core.synthetic import RCLoad, SyntheticSource

FS = 10_000.0
ROOT = Path(__file__).resolve().parents[1]
SETTINGS = OutputSettings(Waveform.SQUARE, 50.0, 120.0, Polarity.BIPHASIC, 2.0, 0.0)


def make_capture(n: int = 4000, gap: slice | None = None) -> Capture:
    b = SyntheticSource(SETTINGS, FS, noise_ua=0.5).next_block(n)
    cur, volt = b.current_ua.copy(), b.voltage_v.copy()
    if gap is not None:
        cur[gap] = np.nan
        volt[gap] = np.nan
    return Capture(FS, 0, 400, cur, volt)


def test_csv_round_trip_keeps_values_times_metadata_and_gaps(tmp_path):
    cap = make_capture(gap=slice(1000, 1100))
    path = tmp_path / "c.csv"
    write_csv(path, cap, {"device_model": "MC-1", "note": "line\nbreak"})
    text = path.read_text()
    lines = text.splitlines()
    assert lines[0] == "# format: microcurrent-scope-capture 1"
    assert ",".join(HEADER) in lines
    assert "# note: line break" in lines
    back = read_csv(path)
    assert back.sample_rate == pytest.approx(FS)
    assert back.metadata["device_model"] == "MC-1"
    assert len(back) == len(cap)
    np.testing.assert_allclose(back.times(), cap.times(), atol=1e-9)
    np.testing.assert_allclose(back.current_ua, cap.current_ua, rtol=1e-5, equal_nan=True)
    np.testing.assert_allclose(back.voltage_v, cap.voltage_v, rtol=1e-5, atol=1e-6, equal_nan=True)
    assert np.isnan(back.current_ua[1000:1100]).all()  # the gap stays a gap


def test_capture_from_samples_without_rate_uses_median_step():
    t = np.array([0.0, 0.001, 0.002, 0.005, 0.006])
    cap = capture_from_samples(t, np.arange(5.0), np.zeros(5))
    assert cap.sample_rate == pytest.approx(1000.0)
    assert len(cap) == 7
    assert np.isnan(cap.current_ua[3:5]).all()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no header"),
        ("# only: comments\n", "no header"),
        ("t,i,v\n0,1,2\n", "expected the header"),
        ("time_s,current_uA,voltage_V\n", "no samples"),
        ("time_s,current_uA,voltage_V\n0,1\n", "line 2: expected 3 values"),
        ("time_s,current_uA,voltage_V\n0,1,2\n0.1,abc,2\n", "line 3: not a number"),
        ("time_s,current_uA,voltage_V\n0,1,2\n0,1,2\n", "time must increase"),
        ("time_s,current_uA,voltage_V\n0,nan,2\n", "finite"),
        ("# sample_rate_hz: fast\ntime_s,current_uA,voltage_V\n0,1,2\n", "not a number"),
        ("# sample_rate_hz: -5\ntime_s,current_uA,voltage_V\n0,1,2\n", "positive"),
        ("time_s,current_uA,voltage_V\n0,1,2\n", "single sample"),
    ],
)
def test_malformed_csv_is_rejected_with_a_clear_message(text, message):
    with pytest.raises(CaptureFileError, match=message):
        parse_csv(text, source="x.csv")


def test_unreadable_files(tmp_path):
    with pytest.raises(CaptureFileError, match="no such file"):
        read_csv(tmp_path / "missing.csv")
    with pytest.raises(CaptureFileError, match="folder"):
        read_csv(tmp_path)
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(CaptureFileError, match="not a text file"):
        read_csv(binary)


def test_measure_command_json_has_exactly_the_keys(tmp_path, capsys):
    path = tmp_path / "cap.csv"
    write_csv(path, make_capture(20_000))
    assert main(["measure", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == list(JSON_KEYS)
    assert out["frequency_hz"] == pytest.approx(50.0, rel=0.005)
    assert out["i_rms_ua"] == pytest.approx(120.0, rel=0.01)
    assert out["charge_per_phase_uc"] == pytest.approx(120.0 * 0.01, rel=0.02)
    assert out["duty"] == pytest.approx(0.5, abs=0.01)


def test_measure_command_text_output(tmp_path, capsys):
    path = tmp_path / "cap.csv"
    write_csv(path, make_capture(4000))
    assert main(["measure", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Frequency" in out
    assert "50 Hz" in out


@pytest.mark.parametrize(
    "content", [b"", b"time_s,current_uA,voltage_V\n", b"1,2,3\n", b"\x00\x01\x02\xff"]
)
def test_measure_command_bad_file_exits_nonzero_without_traceback(tmp_path, capsys, content):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    assert main(["measure", str(path), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ")
    assert str(path) in captured.err
    assert "Traceback" not in captured.err


def test_measure_command_missing_file_as_a_process(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "app", "measure", str(tmp_path / "nope.csv"), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "no such file" in result.stderr
    assert "Traceback" not in result.stderr


def test_format_csv_of_empty_capture_has_header_only():
    cap = Capture(FS, 0, 0, np.full(3, np.nan, np.float32), np.full(3, np.nan, np.float32))
    assert format_csv(cap).splitlines()[-1] == ",".join(HEADER)


# ---------------------------------------------------------------- mask test
def test_mask_bounds_widen_in_time_and_amplitude():
    ref = np.r_[np.zeros(10), np.full(10, 100.0)]
    lo, hi = mask_bounds(ref, 5.0, 2)
    assert hi[8] == 105.0
    assert lo[8] == -5.0
    assert hi[7] == 5.0
    assert hi[5] == 5.0
    assert lo[15] == 95.0
    d = violations(np.r_[np.zeros(10), np.full(10, 80.0)], lo, hi)
    assert d[15] == pytest.approx(15.0)
    assert d[5] == 0.0


@pytest.mark.parametrize("half_window", [1, 2, 3, 7, 20, 64, 100])
def test_mask_bounds_equal_the_plain_sliding_window_with_gaps(half_window):
    """The log2 running extremes give exactly what max/min over every window give,
    NaN (a gap in the reference) included."""
    from numpy.lib.stride_tricks import sliding_window_view

    rng = np.random.default_rng(half_window)
    ref = rng.normal(0.0, 100.0, 700)
    ref[50:60] = np.nan
    ref[300] = np.nan
    lo, hi = mask_bounds(ref, 5.0, half_window)
    padded = np.pad(ref, half_window, mode="edge")
    view = sliding_window_view(padded, 2 * half_window + 1)
    np.testing.assert_array_equal(hi, view.max(axis=1) + 5.0)
    np.testing.assert_array_equal(lo, view.min(axis=1) - 5.0)


def feed(tester: MaskTester, source: SyntheticSource, n: int, ring: SampleRing | None = None):
    ring = ring or SampleRing(1 << 16)
    ring.reference.set_settings(source.settings)
    failures = []
    for b in source.blocks(n, 167):
        ring.append(b)
        f = tester.update(ring)
        if f is not None:
            failures.append(f)
    return ring, failures


def test_mask_passes_a_good_signal_with_noise():
    s = OutputSettings(Waveform.SQUARE, 40.0, 200.0, Polarity.BIPHASIC, 2.0, 0.5)
    tester = MaskTester(MaskSettings(tolerance_pct=10))
    tester.configure(s.amplitude_ua, s.frequency_hz)
    _ring, failures = feed(tester, SyntheticSource(s, FS, noise_ua=2.0), 20_000)
    assert failures == []
    assert tester.fail_count == 0
    assert tester.tested_periods >= 75


def test_mask_fails_at_compliance_and_counts_periods():
    s = OutputSettings(Waveform.SQUARE, 5.0, 400.0, Polarity.POSITIVE, 2.0, 0.0)
    src = SyntheticSource(
        s, FS, load=RCLoad(rs_ohm=2_000, rp_ohm=50_000, cp_f=1e-6, compliance_v=5.0)
    )
    tester = MaskTester(MaskSettings(tolerance_pct=10))
    tester.configure(s.amplitude_ua, s.frequency_hz)
    _ring, failures = feed(tester, src, 20_000)  # 2 s = 10 periods
    assert failures, "compliance must make the mask fail"
    assert all(f.compliance for f in failures)
    assert failures[-1].fail_count == tester.fail_count
    assert 1 <= tester.fail_count <= 10
    assert sum(f.failed_periods for f in failures) == tester.fail_count
    assert max(f.worst_deviation_ua for f in failures) > 40.0


def test_mask_settings_validate():
    with pytest.raises(ValueError, match="tolerance"):
        MaskSettings(tolerance_pct=0)


def test_mask_ignores_unknown_reference():
    ring = SampleRing(4096)  # no settings: reference unknown everywhere
    src = SyntheticSource(SETTINGS, FS)
    for b in src.blocks(3000, 500):
        ring.append(b)
    tester = MaskTester()
    tester.configure(120.0, 50.0)
    assert tester.update(ring) is None
    assert tester.fail_count == 0
    assert not np.any(ring.window(0, 10).flags & SampleFlag.COMPLIANCE)
