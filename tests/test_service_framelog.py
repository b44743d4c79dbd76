"""Frame log formatting (pure) and the bounded table model; clinic limit settings."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt

from app.device.link import FrameRecord
from app.device.protocol import (
    Ack,
    DeviceState,
    Fault,
    MsgType,
    SampleFlag,
    Samples,
    Status,
    encode_message,
)
from app.engine.limits import ClinicSettings
from app.service.clinic_limits import (
    check_clinic_settings,
    load_clinic_settings,
    save_clinic_settings,
)
from app.service.framelog import FrameLogModel, describe, hex_bytes, log_row


def _rec(msg, at=10.0, direction="rx"):
    return FrameRecord(at, direction, encode_message(msg, 7), msg)


def test_hex_formatting_and_truncation():
    assert hex_bytes(b"\x00\x0a\xff") == "00 0a ff"
    long = bytes(range(100))
    text = hex_bytes(long, limit=4)
    assert text == "00 01 02 03 … (+96 bytes)"


def test_samples_are_summarised_not_dumped():
    raw = np.stack([np.arange(50, dtype=np.int16), np.zeros(50, dtype=np.int16)], axis=1)
    msg = Samples(1234, SampleFlag.OUTPUT_ON | SampleFlag.CONTACT, 100.0, (0, 25), raw)
    name, text = describe(_rec(msg))
    assert name == "SAMPLES"
    assert "#1234 n=50" in text
    assert "OUTPUT_ON" in text
    assert "sync=[0, 25]" in text
    assert "0..49" in text
    row = log_row(_rec(msg, at=12.5), t0=10.0)
    assert row.time_s == pytest.approx(2.5)
    assert row.size == len(encode_message(msg, 7))
    assert "+" in row.hex  # long frame: truncated


def test_status_ack_and_rejected_frames_are_readable():
    st = Status(DeviceState.RUNNING, 99.5, 100.0, float("inf"), False, True, Fault.NONE, 1.5, 42)
    name, text = describe(_rec(st))
    assert name == "STATUS"
    assert "Running" in text
    assert "|Z| inf" in text
    name, text = describe(_rec(Ack(5, int(MsgType.START)), direction="tx"))
    assert name == "ACK"
    assert "request_id=5" in text
    bad = FrameRecord(1.0, "rx", b"\x03\x01\x02\x00", None, "CRC mismatch")
    assert describe(bad) == ("ERROR", "CRC mismatch")
    assert log_row(bad, 0.0).error


def test_model_is_bounded_keeps_newest_and_pauses(qapp):
    model = FrameLogModel(max_rows=50)
    for k in range(120):
        model.add(_rec(Ack(k, 3), at=float(k)))
    model.flush()
    assert model.rowCount() == 50
    assert "request_id=70" in model.data(model.index(0, 5))
    assert "request_id=119" in model.data(model.index(49, 5))
    assert model.data(model.index(49, 2), Qt.ItemDataRole.UserRole) == "ACK"
    model.set_paused(True)
    model.add(_rec(Ack(500, 3)))
    model.flush()
    assert model.rowCount() == 50
    assert model.missed_while_paused == 1
    model.set_paused(False)
    for k in range(10):
        model.add(_rec(Ack(200 + k, 3), at=200.0 + k))
    model.flush()
    assert model.rowCount() == 50
    assert "request_id=209" in model.data(model.index(49, 5))
    model.clear()
    assert model.rowCount() == 0
    with pytest.raises(ValueError, match="max_rows"):
        FrameLogModel(max_rows=0)


def test_clinic_settings_round_trip_and_defaults(tmp_path):
    path = str(tmp_path / "c.ini")
    cs, problems = load_clinic_settings(QSettings(path, QSettings.Format.IniFormat))
    assert (cs.max_current_ua, cs.eye_area_max_ua) == (600.0, 200.0)
    assert not problems
    new = dataclasses.replace(
        cs, max_current_ua=450.0, eye_area_max_ua=150.0, density_warn_ua_per_cm2=300.0
    )
    save_clinic_settings(QSettings(path, QSettings.Format.IniFormat), new)
    back, problems = load_clinic_settings(QSettings(path, QSettings.Format.IniFormat))
    assert back.max_current_ua == 450.0
    assert back.eye_area_max_ua == 150.0
    assert back.density_warn_ua_per_cm2 == 300.0
    assert not problems


def test_clinic_settings_refuse_bad_values_and_report_damaged_files(tmp_path):
    bad = ClinicSettings(max_current_ua=100.0, eye_area_max_ua=200.0)
    assert any("eye-area" in p for p in check_clinic_settings(bad))
    with pytest.raises(ValueError, match="eye-area"):
        save_clinic_settings(QSettings(str(tmp_path / "x.ini"), QSettings.Format.IniFormat), bad)
    s = QSettings(str(tmp_path / "d.ini"), QSettings.Format.IniFormat)
    s.setValue("clinic/version", 1)
    s.setValue("clinic/max_current_ua", "lots")
    s.setValue("clinic/density_warn_ua_per_cm2", -5)
    s.sync()
    cs, problems = load_clinic_settings(s)
    assert cs.max_current_ua == 600.0
    assert cs.density_warn_ua_per_cm2 == 500.0
    assert len(problems) == 2
    assert "not a number" in problems[0]


def _minute_of_traffic(rate_per_s: int = 300, seconds: float = 60.0):
    """The link's heaviest logging: SAMPLES frames (and a STATUS every 20th) at its cap."""
    raw = (np.arange(100).reshape(50, 2) * 37 % 5000).astype(np.int16)
    n = int(rate_per_s * seconds)
    for k in range(n):
        at = 1000.0 + k / rate_per_s
        if k % 20 == 0:
            msg = Status(
                DeviceState.RUNNING, 300.0, 300.0, 22_000.0, True, False, Fault(0), 1.25, k
            )
        else:
            msg = Samples(k * 50, SampleFlag.OUTPUT_ON, 300.0, (3,), raw)
        yield FrameRecord(at, "rx", encode_message(msg, k % 256), msg)


def test_the_log_keeps_a_minute_of_traffic_in_bounded_memory(qapp):
    import tracemalloc

    from app.device.link import LOG_MAX_PER_S
    from app.service.framelog import MAX_ROWS

    assert MAX_ROWS >= 60 * LOG_MAX_PER_S
    model = FrameLogModel()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for k, rec in enumerate(_minute_of_traffic(LOG_MAX_PER_S, 70.0)):  # 70 s at the cap
        model.add(rec)
        if k % 60 == 59:  # the timer's 200 ms batches
            model.flush()
    model.flush()
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert model.rowCount() == MAX_ROWS
    span = model.row(MAX_ROWS - 1).time_s - model.row(0).time_s
    assert span >= 59.9  # the newest minute is all there
    assert used < 12e6, f"{used / 1e6:.1f} MB for a minute of frames"
    # rows keep the frame's head, formatted on display
    row = model.row(MAX_ROWS - 1)
    assert len(row.head) <= 40
    assert row.hex.endswith("bytes)")
    assert model.data(model.index(MAX_ROWS - 1, 4)) == row.hex


def test_samples_rows_are_formatted_only_when_shown(qapp, monkeypatch):
    """Up to 200 SAMPLES frames a second are logged: their text is made for the rows a
    view reads, not for every frame as it arrives (and is the same text)."""
    import app.service.framelog as framelog

    raw = np.stack([np.arange(50, dtype=np.int16), np.zeros(50, dtype=np.int16)], axis=1)
    msgs = [Samples(50 * k, SampleFlag.OUTPUT_ON, 100.0, (0,), raw) for k in range(100)]
    calls = []
    text = framelog._samples_text
    monkeypatch.setattr(framelog, "_samples_text", lambda *a: (calls.append(a), text(*a))[1])
    model = FrameLogModel(max_rows=500)
    for m in msgs:
        model.add(_rec(m))
    model.flush()
    assert model.rowCount() == 100
    assert calls == []  # nothing formatted yet
    shown = model.data(model.index(7, 5))
    assert len(calls) == 1
    assert shown == describe(_rec(msgs[7]))[1]
    assert "#350 n=50" in shown
    assert "OUTPUT_ON" in shown
