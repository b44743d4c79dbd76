"""The instrument features' pure core: averaging, persistence, zoom/pan, capture history,
saved sessions (round trip and hostile files) and the CSV reference column."""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.__main__ import main
from app.device.waveform import OutputSettings, Polarity, Waveform
from app.scope.core.average import MEMORY_SAMPLES, SweepAverager
from app.scope.core.capture import HEADER_REF, Capture, format_csv, parse_csv, write_csv
from app.scope.core.history import MAX_PINNED, CaptureHistory, clean_label
from app.scope.core.persistence import Persistence
from app.scope.core.session import (
    FORMAT,
    ScopeSession,
    SessionFileError,
    load_session,
    save_session,
)
from app.scope.core.view import clamp_span, is_zoomed, pan_span, visible_capture, zoom_span

FS = 10_000.0
OUT = OutputSettings(Waveform.SQUARE, 50.0, 120.0, Polarity.BIPHASIC, 2.0, 0.0)


def sweep(cur, volt=None, *, trig: int = 10, triggered: bool = True, fs: float = FS) -> Capture:
    cur = np.asarray(cur, dtype=np.float32)
    volt = np.zeros_like(cur) if volt is None else np.asarray(volt, dtype=np.float32)
    return Capture(fs, 0, trig, cur, volt, triggered=triggered, wall_time=1.0e9)


# ------------------------------------------------------------------------ averaging
@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 8),
    sweeps=st.integers(1, 20),
    seed=st.integers(0, 2**32 - 1),
)
def test_average_is_the_mean_of_the_last_n_sweeps(n, sweeps, seed):
    rng = np.random.default_rng(seed)
    avg = SweepAverager(n)
    data = rng.normal(0, 50, size=(sweeps, 64)).astype(np.float32)
    data[rng.random(data.shape) < 0.1] = np.nan  # dropped samples
    for k in range(sweeps):
        out = avg.add(sweep(data[k]))
    last = data[max(0, sweeps - n) :].astype(np.float64)
    count = np.isfinite(last).sum(axis=0)
    total = np.nansum(last, axis=0)
    want = np.full(total.shape, np.nan)
    np.divide(total, count, out=want, where=count > 0)
    np.testing.assert_allclose(out.current_ua, want, rtol=1e-5, atol=1e-3, equal_nan=True)
    assert out.metadata["averaged"] == str(min(n, sweeps))
    assert avg.sweeps == min(n, sweeps)


def test_average_reduces_noise_and_keeps_the_waveform():
    rng = np.random.default_rng(1)
    clean = np.where(np.arange(1000) % 200 < 100, 100.0, -100.0)
    avg = SweepAverager(16)
    for _ in range(16):
        out = avg.add(sweep(clean + rng.normal(0, 10, 1000)))
    resid = np.asarray(out.current_ua) - clean
    assert np.std(resid) < 10 / math.sqrt(16) * 1.3
    assert abs(np.mean(resid)) < 1.0


def test_average_resets_on_shape_change_and_skips_free_running_sweeps():
    avg = SweepAverager(4)
    avg.add(sweep(np.full(50, 10.0)))
    avg.add(sweep(np.full(50, 20.0)))
    assert avg.sweeps == 2
    free = sweep(np.full(50, 1000.0), triggered=False)
    assert avg.add(free) is free  # not aligned: shown as is, not averaged
    assert avg.sweeps == 2
    out = avg.add(sweep(np.full(50, 30.0), trig=11))  # another trigger position
    assert avg.sweeps == 1
    assert float(out.current_ua[0]) == 30.0
    out = avg.add(sweep(np.full(60, 5.0), trig=11))  # another window
    assert avg.sweeps == 1
    avg.count = 1  # off: the sweep itself
    c = sweep(np.full(60, 7.0))
    assert avg.add(c) is c
    with pytest.raises(ValueError, match="1..64"):
        avg.count = 65


def test_average_memory_cap():
    avg = SweepAverager(64)
    n = MEMORY_SAMPLES // 4
    assert avg.effective_count(n) == 4
    assert avg.effective_count(1000) == 64


# ---------------------------------------------------------------------- persistence
def test_persistence_counts_hits_and_decays():
    p = Persistence(columns=10, rows=8, x_range=(0, 10), y_range=(-4, 4), half_life_s=1.0)
    x = np.arange(10) + 0.5
    y = np.full(10, 0.5)  # row 4
    p.add(x, y, now=0.0)
    assert p.image[:, 4].tolist() == [1.0] * 10
    assert p.image.sum() == 10
    p.add(x, y, now=1.0)  # one half-life later: 0.5 + 1
    np.testing.assert_allclose(p.image[:, 4], 1.5)
    g = p.graded()
    assert g.max() == pytest.approx(1.0)
    assert g.min() == 0.0


def test_persistence_joins_an_edge_into_a_vertical_stroke():
    p = Persistence(columns=4, rows=8, x_range=(0, 4), y_range=(-4, 4), half_life_s=math.inf)
    p.add(np.array([0.5, 1.5, 2.5, 3.5]), np.array([-3.5, -3.5, 3.5, 3.5]), now=0.0)
    # column 2 covers rows 0..7 (the rising edge), columns 0, 1, 3 one row each
    assert p.image[2].tolist() == [1.0] * 8
    assert p.image[0].sum() == 1
    assert p.image[1].sum() == 1
    assert p.image[3].sum() == 1


def test_persistence_gaps_stay_gaps_and_off_screen_is_ignored():
    p = Persistence(columns=4, rows=8, x_range=(0, 4), y_range=(-4, 4), half_life_s=2.0)
    p.add(np.array([0.5, 1.5, 2.5, 3.5]), np.array([0.0, np.nan, 0.0, 99.0]), now=0.0)
    assert p.image[1].sum() == 0  # no sample: nothing drawn
    # column 3: the edge from row 4 up to the top row (the trace leaves the screen there)
    assert p.image[3].tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert p.sweeps == 1


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), sweeps=st.integers(1, 6))
def test_persistence_without_decay_counts_each_sweep_once_per_column(seed, sweeps):
    rng = np.random.default_rng(seed)
    p = Persistence(columns=50, rows=40, x_range=(0, 1), y_range=(-4, 4), half_life_s=math.inf)
    x = (np.arange(200) + 0.5) / 200
    for k in range(sweeps):
        p.add(x, rng.uniform(-3.9, 3.9, 200), now=float(k))
    # every column is hit by every sweep; each sweep adds 1 per covered cell, never more
    assert p.image.max() <= sweeps
    assert np.all(p.image.max(axis=1) >= 1)
    assert np.all(np.isclose(p.image, np.round(p.image)))


def test_persistence_configure_clears_only_on_change():
    p = Persistence(columns=10, rows=8, x_range=(0, 10), y_range=(-4, 4))
    p.add(np.array([0.5]), np.array([0.5]), now=0.0)
    assert not p.configure(10, 8, (0, 10), (-4, 4))
    assert p.image.sum() == 1
    assert p.configure(10, 8, (0, 5), (-4, 4))
    assert p.image.sum() == 0
    with pytest.raises(ValueError, match="positive"):
        p.half_life_s = 0


# ---------------------------------------------------------------------- zoom and pan
def test_zoom_keeps_the_anchor_and_clamps():
    full = (-0.01, 0.09)
    s = zoom_span(full, full, 2.0, at=0.0, min_width=1e-3)
    assert s[1] - s[0] == pytest.approx(0.05)
    assert (0.0 - s[0]) / (s[1] - s[0]) == pytest.approx(0.1)  # 0 s stays at 10 %
    tiny = zoom_span(s, full, 1e6, at=0.0, min_width=1e-3)
    assert tiny[1] - tiny[0] == pytest.approx(1e-3)
    assert zoom_span(s, full, 1e-6, at=None, min_width=1e-3) == pytest.approx(full)
    left = pan_span(s, full, -10.0, 1e-3)
    assert left[0] == pytest.approx(full[0])
    right = pan_span(s, full, +10.0, 1e-3)
    assert right[1] == pytest.approx(full[1])
    assert is_zoomed(s, full)
    assert not is_zoomed(full, full)
    assert not is_zoomed(None, full)
    assert clamp_span((5, 6), (0, 1), 0.1) == pytest.approx((0.0, 1.0))
    assert clamp_span((0.2, 0.25), (0, 1), 0.1) == pytest.approx((0.175, 0.275))


@settings(max_examples=100, deadline=None)
@given(
    lo=st.floats(-1, 1),
    w=st.floats(1e-3, 2),
    factor=st.floats(0.01, 100),
    at=st.floats(-2, 2),
    pan=st.floats(-5, 5),
)
def test_zoom_and_pan_stay_inside_the_full_span(lo, w, factor, at, pan):
    full = (-0.5, 1.5)
    s = zoom_span((lo, lo + w), full, factor, at, 1e-3)
    s = pan_span(s, full, pan, 1e-3)
    assert full[0] - 1e-9 <= s[0] < s[1] <= full[1] + 1e-9
    assert s[1] - s[0] >= 1e-3 - 1e-12


def test_visible_capture_is_the_samples_in_the_view():
    cur = np.arange(100, dtype=np.float32)
    cap = Capture(
        1000.0, 500, 10, cur, cur * 0.01, reference_ua=cur + 1, flags=cur.astype(np.uint8)
    )
    part = visible_capture(cap, (0.0, 0.0199))  # samples 10..29
    assert part.current_ua[0] == 10
    assert part.current_ua[-1] == 29
    assert part.trigger_offset == 0
    assert part.start_index == 510
    assert part.times()[0] == 0.0
    assert part.reference_ua is not None
    assert part.reference_ua[0] == 11
    with pytest.raises(ValueError, match="fewer than two"):
        visible_capture(cap, (10.0, 11.0))


# --------------------------------------------------------------------------- history
def test_history_keeps_pinned_captures_and_labels_as_plain_text():
    h = CaptureHistory(maxlen=3)
    h.append(sweep(np.zeros(4)), label="first\n<b>x</b>")
    h.pin(0)
    for k in range(5):
        h.append(sweep(np.full(4, k)))
    assert len(h) == 4  # the pinned one and the last three
    assert h.entries[0].pinned
    assert h.entries[0].label == "first <b>x</b>"
    assert [float(c.current_ua[0]) for c in h][1:] == [2.0, 3.0, 4.0]
    assert clean_label("a" * 500) == "a" * 80
    for _ in range(MAX_PINNED):
        h.append(sweep(np.zeros(4)), pinned=h.pinned_count < MAX_PINNED)
    with pytest.raises(ValueError, match="pinned"):
        h.pin(len(h) - 1)


# -------------------------------------------------------------------------- sessions
def make_session() -> ScopeSession:
    h = CaptureHistory()
    rng = np.random.default_rng(3)
    for k in range(3):
        cur = rng.normal(0, 10, 500).astype(np.float32)
        cur[100:110] = np.nan
        cap = Capture(
            FS,
            1000 * k,
            50,
            cur,
            (cur / 1000).astype(np.float32),
            reference_ua=np.where(np.arange(500) < 5, np.nan, 120.0).astype(np.float32),
            flags=np.full(500, 3, dtype=np.uint8),
            triggered=k != 1,
            wall_time=1.7e9 + k,
            metadata={"averaged": "4"} if k == 2 else {},
        )
        h.append(cap, pinned=k == 0, label=f"capture {k}")
    return ScopeSession(
        entries=list(h.entries),
        settings={
            "time_base_s_per_div": 0.005,
            "trigger_mode": "Normal",
            "mask_enabled": True,
            "average_count": 4,
            "zoom_s": (0.001, 0.002),
            "a_future_setting": 1,
        },
        output=OUT,
        shown=1,
    )


def test_session_round_trip(tmp_path):
    path = save_session(tmp_path / "s.mcscope", make_session())
    assert (path.stat().st_mode & 0o777) == 0o600
    back = load_session(path)
    orig = make_session()
    assert len(back.entries) == 3
    assert back.shown == 1
    assert back.output == OUT
    assert back.settings["time_base_s_per_div"] == 0.005
    assert back.settings["zoom_s"] == (0.001, 0.002)
    assert "a_future_setting" not in back.settings  # not this console's: ignored
    for a, b in zip(back.entries, orig.entries, strict=True):
        assert (a.pinned, a.label, a.time) == (b.pinned, b.label, b.time)
        ca, cb = a.capture, b.capture
        assert (ca.sample_rate, ca.start_index, ca.trigger_offset, ca.triggered) == (
            cb.sample_rate,
            cb.start_index,
            cb.trigger_offset,
            cb.triggered,
        )
        np.testing.assert_array_equal(ca.current_ua, cb.current_ua)
        np.testing.assert_array_equal(ca.voltage_v, cb.voltage_v)
        np.testing.assert_array_equal(ca.reference_ua, cb.reference_ua)
        np.testing.assert_array_equal(ca.flags, cb.flags)
        assert ca.metadata == cb.metadata
    assert not list(tmp_path.glob("*.part"))


def _rewrite(path: Path, tmp_path: Path, *, header=None, drop=(), replace=None) -> Path:
    """A copy of a session file with its header or arrays changed."""
    out = tmp_path / f"bad-{len(list(tmp_path.glob('bad-*')))}.mcscope"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            if name in drop:
                continue
            data = src.read(name)
            if name == "header.npy" and header is not None:
                buf = io.BytesIO()
                raw = json.dumps(header).encode() if not isinstance(header, bytes) else header
                np.save(buf, np.frombuffer(raw, dtype=np.uint8))
                data = buf.getvalue()
            if replace and name in replace:
                buf = io.BytesIO()
                np.save(buf, replace[name], allow_pickle=True)
                data = buf.getvalue()
            dst.writestr(name, data)
    return out


def _header(path: Path) -> dict:
    with np.load(path) as z:
        return json.loads(z["header"].tobytes())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda h: h.update(format="something else"), "not a scope session file"),
        (lambda h: h.update(version=7), "newer console"),
        (lambda h: h.pop("version"), "version is missing"),
        (lambda h: h.update(captures=[]), "no captures"),
        (lambda h: h["captures"][1].update(sample_rate="fast"), "capture 2 sample_rate"),
        (lambda h: h["captures"][0].update(sample_rate=-5), "sample_rate must be"),
        (lambda h: h["captures"][0].update(trigger_offset=1.5), "whole number"),
        (lambda h: h["captures"][0].update(wall_time=1e300), "wall_time 1e\\+300 is not a time"),
        (lambda h: h["captures"][0].update(start_index=2**70), "start_index is out of range"),
        (lambda h: h["captures"][2].update(pinned="yes"), "pinned must be true or false"),
        (lambda h: h["captures"][0].update(label=["x"]), "label must be a short text"),
        (lambda h: h["captures"][0].update(metadata={"k": 5}), "metadata 'k'"),
        (lambda h: h["settings"].update(time_base_s_per_div="x"), "time_base_s_per_div"),
        (lambda h: h["settings"].update(mask_enabled=1), "mask_enabled must be true"),
        (lambda h: h["settings"].update(zoom_s=[2, 1]), "zoom_s must be an increasing"),
        (lambda h: h["output"].update(waveform="LASER"), "output.waveform"),
        (lambda h: h["output"].update(frequency_hz=0), "frequency_hz must be positive"),
        (lambda h: h["output"].pop("amplitude_ua"), "amplitude_ua is missing"),
        (lambda h: h.update(captures=[{}] * 65), "at most 64"),
    ],
)
def test_hostile_headers_are_named(tmp_path, change, message):
    good = save_session(tmp_path / "s.mcscope", make_session())
    h = _header(good)
    change(h)
    with pytest.raises(SessionFileError, match=message):
        load_session(_rewrite(good, tmp_path, header=h))


def test_hostile_archives_are_named(tmp_path):
    good = save_session(tmp_path / "s.mcscope", make_session())
    cases = [
        (_rewrite(good, tmp_path, drop=("c1_voltage.npy",)), "capture 2: the voltage"),
        (_rewrite(good, tmp_path, drop=("header.npy",)), "no header"),
        (_rewrite(good, tmp_path, header=b"\xff\xfe"), "not valid JSON"),
        (_rewrite(good, tmp_path, header=b"[1, 2]"), "format tag missing"),
        (_rewrite(good, tmp_path, header=b"[" * 200_000), "nested too deeply"),
    ]
    for path, message in cases:
        with pytest.raises(SessionFileError, match=message):
            load_session(path)
    bad = _rewrite(good, tmp_path, replace={"c0_current.npy": np.array([{"x": 1}], dtype=object)})
    with pytest.raises(SessionFileError, match="objects, not numbers"):
        load_session(bad)
    bad = _rewrite(good, tmp_path, replace={"c0_current.npy": np.zeros((2, 3), np.float32)})
    with pytest.raises(SessionFileError, match="one-dimensional"):
        load_session(bad)
    bad = _rewrite(good, tmp_path, replace={"c0_voltage.npy": np.zeros(7, np.float32)})
    with pytest.raises(SessionFileError, match="7 voltage values for 500"):
        load_session(bad)
    bad = _rewrite(good, tmp_path, replace={"c2_current.npy": np.full(500, np.inf, np.float32)})
    with pytest.raises(SessionFileError, match="infinite"):
        load_session(bad)
    bad = _rewrite(good, tmp_path, replace={"c2_current.npy": np.arange(500)})
    with pytest.raises(SessionFileError, match="not numbers"):
        load_session(bad)


def test_hostile_files_not_archives(tmp_path):
    (tmp_path / "text.mcscope").write_text("hello")
    with pytest.raises(SessionFileError, match="not a .npz archive"):
        load_session(tmp_path / "text.mcscope")
    with pytest.raises(SessionFileError, match="no such file"):
        load_session(tmp_path / "missing.mcscope")
    with pytest.raises(SessionFileError, match="is a folder"):
        load_session(tmp_path)


def test_a_decompression_bomb_is_refused_before_reading(tmp_path):
    good = save_session(tmp_path / "s.mcscope", make_session())
    bomb = tmp_path / "bomb.mcscope"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            if name != "c0_reference.npy":
                dst.writestr(name, src.read(name))
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            buf, {"descr": "<f4", "fortran_order": False, "shape": (200_000_000,)}
        )
        dst.writestr("c0_reference.npy", buf.getvalue())  # claims 800 MB, holds nothing
    with pytest.raises(SessionFileError, match="too large"):
        load_session(bomb)


# ---------------------------------------------------------------- CSV reference column
def test_csv_reference_column_round_trip_and_measure(tmp_path, capsys):
    n = 2000
    t = np.arange(n)
    square = np.where((t // 100) % 2 == 0, 120.0, -120.0)
    ref = square.astype(np.float32)
    ref[:30] = np.nan  # before the first period start: unknown
    cur = (square + np.random.default_rng(0).normal(0, 1, n)).astype(np.float32)
    cur[500:510] = np.nan  # dropped
    cap = Capture(FS, 0, 100, cur, cur / 1000, reference_ua=ref)
    text = format_csv(cap, {"trigger_mode": "Normal", "time_base_s_per_div": 0.02})
    assert ",".join(HEADER_REF) in text.splitlines()
    assert "# trigger_mode: Normal" in text
    back = parse_csv(text)
    assert back.metadata["trigger_mode"] == "Normal"
    assert back.reference_ua is not None
    want = ref.copy()
    want[500:510] = np.nan  # no row for a dropped sample
    np.testing.assert_allclose(back.reference_ua, want, equal_nan=True)
    np.testing.assert_allclose(back.current_ua, cur, rtol=1e-5, equal_nan=True)
    path = tmp_path / "c.csv"
    write_csv(path, cap)
    assert main(["measure", str(path), "--json"]) == 0
    values = json.loads(capsys.readouterr().out)
    assert values["frequency_hz"] == pytest.approx(50.0, rel=0.01)
    # the text output also gives the deviation from the reference column
    assert main(["measure", str(path)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "Deviation" in x)
    assert float(line.split()[-2]) < 5


def test_csv_reference_column_errors():
    base = "# format: microcurrent-scope-capture 1\n# sample_rate_hz: 1000\n"
    head = ",".join(HEADER_REF) + "\n"
    with pytest.raises(ValueError, match="line 4: expected 4 values"):
        parse_csv(base + head + "0,1,2\n")
    with pytest.raises(ValueError, match="reference_uA 'x' is not a number"):
        parse_csv(base + head + "0,1,2,x\n")
    ok = parse_csv(base + head + "0,1,2,\n0.001,1,2,5\n")
    assert ok.reference_ua is not None
    assert math.isnan(ok.reference_ua[0])
    assert ok.reference_ua[1] == 5
    assert FORMAT  # the session format tag is distinct from the CSV's


def test_persistence_draws_the_line_between_sparse_samples():
    p = Persistence(columns=10, rows=10, x_range=(0, 10), y_range=(0, 10), half_life_s=1.0)
    # two samples 9 columns apart: the columns between them get the line, not nothing
    p.add(np.array([0.5, 9.5]), np.array([0.5, 9.5]), now=0.0)
    assert all(p.image[c].sum() >= 1 for c in range(10))
    assert p.image[5, 5] == 1  # on the diagonal
    p.clear()
    p.add(np.array([0.5, 5.0, 9.5]), np.array([0.5, np.nan, 9.5]), now=0.0)
    assert p.image[2:8].sum() == 0  # across a dropped sample: a gap


def test_a_large_session_is_stored_uncompressed_and_reads_back(tmp_path, monkeypatch):
    import app.scope.core.session as session_mod

    monkeypatch.setattr(session_mod, "COMPRESS_BELOW_BYTES", 1000)
    path = save_session(tmp_path / "big.mcscope", make_session())
    with zipfile.ZipFile(path) as z:
        assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_STORED}
    back = load_session(path)
    np.testing.assert_array_equal(
        back.entries[2].capture.current_ua, make_session().entries[2].capture.current_ua
    )
