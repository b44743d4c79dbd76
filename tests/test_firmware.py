"""The simulated firmware's logic, on a fake clock (no real time, no I/O)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.device.firmware import FRAME_S, WATCHDOG_S, Firmware
from app.device.protocol import (
    Ack,
    Command,
    DeviceState,
    Event,
    EventCode,
    Heartbeat,
    Hello,
    Info,
    MsgType,
    Nak,
    NakReason,
    SampleFlag,
    Samples,
    SetCalibration,
    SetOutput,
    SimControl,
    SimOp,
    Status,
)
from app.device.signal_model import CURRENT_LSB_UA
from app.device.waveform import OutputSettings, Polarity, Waveform

FS = 10_000


class Bench:
    """A firmware on a fake clock, with helpers to talk to it."""

    def __init__(self, **kw) -> None:
        self.now = 0.0
        self.fw = Firmware(sample_rate=FS, seed=1, now=0.0, **kw)
        self.rid = 0
        self.out: list = []
        self.send(Hello(self.next_id()))

    def next_id(self) -> int:
        self.rid += 1
        return self.rid

    def send(self, msg):
        self.fw.receive(msg, self.now)
        got = self.fw.take_outgoing()
        self.out.extend(got)
        return got

    def command(self, t: MsgType):
        rid = self.next_id()
        replies = [m for m in self.send(Command(t, rid)) if isinstance(m, Ack | Nak)]
        assert len(replies) == 1
        assert replies[0].request_id == rid
        return replies[0]

    def set_output(self, **kw):
        rid = self.next_id()
        replies = [
            m for m in self.send(SetOutput(rid, OutputSettings(**kw))) if isinstance(m, Ack | Nak)
        ]
        assert len(replies) == 1
        assert replies[0].request_id == rid
        return replies[0]

    def run(self, seconds: float, heartbeat: bool = True) -> list:
        """Advance the clock, sending a heartbeat every 100 ms if asked."""
        got = []
        end = round(self.now + seconds, 9)
        while self.now < end:
            self.now = min(end, round(self.now + 0.1, 9))
            if heartbeat:
                self.fw.receive(Heartbeat(), self.now)
            else:
                self.fw.advance(self.now)
            got.extend(self.fw.take_outgoing())
        self.out.extend(got)
        return got


def samples(msgs) -> list[Samples]:
    return [m for m in msgs if isinstance(m, Samples)]


def events(msgs, code=None) -> list[Event]:
    return [m for m in msgs if isinstance(m, Event) and (code is None or m.code == code)]


def currents(msgs) -> tuple[np.ndarray, np.ndarray]:
    """(sample index, current µA) over all SAMPLES in msgs."""
    blocks = samples(msgs)
    idx = np.concatenate([b.first_index + np.arange(b.raw.shape[0]) for b in blocks])
    cur = np.concatenate([b.raw[:, 0] for b in blocks]) * CURRENT_LSB_UA
    return idx, cur


def test_hello_answers_info_with_limits_and_scaling():
    b = Bench()
    info = b.out[0]
    assert isinstance(info, Info)
    assert info.request_id == 1
    assert info.max_current_ua == 1000
    assert info.sample_rate == FS
    assert info.max_samples_per_frame == int(FS * FRAME_S)
    assert info.watchdog_ms == 500


def test_hello_of_another_version_is_refused():
    fw = Firmware(sample_rate=FS, now=0.0)
    fw.receive(Hello(7, version=2), 0.0)
    (nak,) = fw.take_outgoing()
    assert isinstance(nak, Nak)
    assert nak.reason == NakReason.VERSION
    assert nak.request_id == 7
    assert "version 1" in nak.detail
    assert "version 2" in nak.detail
    assert not fw.streaming


def test_samples_are_contiguous_frames_of_at_most_5_ms_and_status_at_10_hz():
    b = Bench()
    got = b.run(1.0)
    blocks = samples(got)
    sizes = {blk.raw.shape[0] for blk in blocks}
    assert sizes == {50}
    firsts = [blk.first_index for blk in blocks]
    assert firsts == list(range(firsts[0], firsts[0] + 50 * len(firsts), 50))
    assert 50 * len(blocks) == FS  # one second of samples
    assert len([m for m in got if isinstance(m, Status)]) == 10


def test_start_needs_settings_and_contact():
    b = Bench()
    nak = b.command(MsgType.START)
    assert nak.reason == NakReason.WRONG_STATE
    assert "SET_OUTPUT" in nak.detail
    assert isinstance(b.set_output(amplitude_ua=100), Ack)
    b.fw.set_contact(False)
    b.run(0.1)
    nak = b.command(MsgType.START)
    assert nak.reason == NakReason.NO_CONTACT
    assert b.fw.state == DeviceState.IDLE


@pytest.mark.parametrize(
    ("field", "value", "limit"),
    [
        ("amplitude_ua", 1000.5, "1000"),
        ("amplitude_ua", -1.0, "0..1000"),
        ("frequency_hz", 0.05, "0.1..2000"),
        ("frequency_hz", 2500.0, "0.1..2000"),
        ("ramp_s", 11.0, "0..10"),
        ("amplitude_ua", math.nan, "not a finite"),
        ("frequency_hz", math.inf, "not a finite"),
    ],
)
def test_out_of_range_settings_are_refused_and_reported(field, value, limit):
    b = Bench()
    nak = b.set_output(**{field: value})
    assert isinstance(nak, Nak)
    assert nak.reason == NakReason.OUT_OF_RANGE
    assert field in nak.detail
    assert limit in nak.detail
    refused = events(b.out, EventCode.LIMIT_REFUSED)
    assert len(refused) == 1
    assert refused[0].arg == nak.request_id
    assert b.fw.settings is None


def test_alternate_period_is_limited_only_for_alternating_polarity():
    b = Bench()
    assert isinstance(b.set_output(polarity=Polarity.ALTERNATING, alternate_s=0.1), Nak)
    assert isinstance(b.set_output(polarity=Polarity.BIPHASIC, alternate_s=0.0), Ack)


def test_ramp_up_run_and_stop_ramp_down():
    b = Bench()
    b.set_output(amplitude_ua=400, ramp_s=1.0)
    assert isinstance(b.command(MsgType.START), Ack)
    assert b.fw.state == DeviceState.RAMP_UP
    b.run(0.5)
    assert b.fw.level_ua == pytest.approx(200, abs=5)
    b.run(0.6)
    assert b.fw.state == DeviceState.RUNNING
    assert b.fw.level_ua == 400
    assert events(b.out, EventCode.RAMP_COMPLETE)
    b.command(MsgType.STOP)
    assert b.fw.state == DeviceState.RAMP_DOWN
    b.run(0.5)
    assert b.fw.level_ua == pytest.approx(200, abs=5)
    b.run(0.6)
    assert b.fw.state == DeviceState.IDLE
    changes = [DeviceState(e.arg) for e in events(b.out, EventCode.STATE_CHANGED)]
    assert changes == [
        DeviceState.RAMP_UP,
        DeviceState.RUNNING,
        DeviceState.RAMP_DOWN,
        DeviceState.IDLE,
    ]


def test_set_output_while_running_slews_never_jumps():
    b = Bench()
    b.set_output(
        amplitude_ua=100,
        ramp_s=0.0,
        waveform=Waveform.SQUARE,
        polarity=Polarity.POSITIVE,
        frequency_hz=10,
    )
    b.command(MsgType.START)
    b.run(0.1)
    assert b.fw.state == DeviceState.RUNNING
    b.set_output(amplitude_ua=900, ramp_s=0.0, polarity=Polarity.POSITIVE, frequency_hz=10)
    got = b.run(0.2)
    levels = [blk.level_ua for blk in samples(got)]
    steps = np.diff([100.0, *levels])
    assert levels[-1] == 900
    # ramp 0 still slews over at least one frame: no step larger than 900 µA per frame
    assert steps.max() <= 900 + 1e-3
    assert np.count_nonzero(steps > 0) >= 1


def test_pause_zeroes_output_at_once_and_resume_ramps_up():
    b = Bench()
    b.set_output(amplitude_ua=300, ramp_s=0.2)
    b.command(MsgType.START)
    b.run(0.3)
    assert b.command(MsgType.PAUSE).__class__ is Ack
    assert b.fw.state == DeviceState.PAUSED
    got = b.run(0.2)
    assert all(not blk.flags & SampleFlag.OUTPUT_ON for blk in samples(got))
    _, cur = currents(got)
    assert np.abs(cur).max() < 3  # offset + noise only
    assert isinstance(b.command(MsgType.RESUME), Ack)
    assert b.fw.state == DeviceState.RAMP_UP


def test_estop_output_zero_from_the_very_next_sample():
    b = Bench()
    b.send(SimControl(b.next_id(), SimOp.LOAD_RESISTOR, 10_000))
    b.set_output(
        amplitude_ua=500,
        ramp_s=0.0,
        waveform=Waveform.SQUARE,
        polarity=Polarity.POSITIVE,
        frequency_hz=1.0,
    )  # on for 0.5 s
    b.command(MsgType.START)
    b.run(0.2)
    b.now += 0.01234  # mid-frame, mid-sample
    b.fw.advance(b.now)
    before = b.fw.sample_index  # the first sample generated after the ESTOP
    assert before % 50 != 0
    assert isinstance(b.command(MsgType.ESTOP), Ack)
    assert b.fw.state == DeviceState.ESTOPPED
    got = b.run(0.1)
    idx, cur = currents(b.out)
    assert cur[idx == before - 1][0] > 450  # still on just before
    assert np.abs(cur[idx >= before]).max() < 3  # off from the next sample
    assert events(got + b.out, EventCode.ESTOP)


def test_latched_states_need_reset():
    b = Bench()
    b.set_output(amplitude_ua=100)
    b.command(MsgType.ESTOP)
    nak = b.command(MsgType.START)
    assert nak.reason == NakReason.FAULT_LATCHED
    assert isinstance(b.command(MsgType.STOP), Ack)
    assert b.fw.state == DeviceState.ESTOPPED
    assert isinstance(b.command(MsgType.RESET), Ack)
    assert b.fw.state == DeviceState.IDLE
    assert isinstance(b.command(MsgType.START), Ack)
    nak = b.command(MsgType.RESET)
    assert nak.reason == NakReason.WRONG_STATE


def test_watchdog_trips_500_ms_after_the_last_host_message():
    b = Bench()
    b.set_output(
        amplitude_ua=200,
        ramp_s=0.0,
        polarity=Polarity.POSITIVE,
        waveform=Waveform.SQUARE,
        frequency_hz=0.5,
    )  # on for 1 s
    b.command(MsgType.START)
    b.run(0.3)
    last = b.now
    b.run(0.45, heartbeat=False)
    assert b.fw.state == DeviceState.RUNNING  # 450 ms: not yet
    got = b.run(0.2, heartbeat=False)
    assert b.fw.state == DeviceState.WATCHDOG
    (trip,) = events(got, EventCode.WATCHDOG_TRIP)
    idx, cur = currents(b.out)
    trip_index = math.ceil((last + WATCHDOG_S) * FS)
    assert cur[idx == trip_index - 1][0] > 150
    assert np.abs(cur[idx >= trip_index]).max() < 3
    assert b.command(MsgType.START).reason == NakReason.FAULT_LATCHED


def test_watchdog_sleeps_while_idle():
    b = Bench()
    b.run(2.0, heartbeat=False)
    assert b.fw.state == DeviceState.IDLE


def test_contact_loss_stops_output_and_only_resume_restarts_it():
    b = Bench()
    b.set_output(amplitude_ua=200, ramp_s=0.1)
    b.command(MsgType.START)
    b.run(0.3)
    b.fw.set_contact(False)
    got = b.run(0.1)
    assert b.fw.state == DeviceState.CONTACT_LOST
    assert events(got, EventCode.CONTACT_LOST)
    status = [m for m in got if isinstance(m, Status)][-1]
    assert not status.contact
    assert math.isinf(status.impedance_ohm)
    assert b.command(MsgType.RESUME).reason == NakReason.NO_CONTACT
    b.fw.set_contact(True)
    got = b.run(0.2)
    assert events(got, EventCode.CONTACT_RESTORED)
    assert b.fw.state == DeviceState.CONTACT_LOST  # stays off until told
    assert all(not blk.flags & SampleFlag.OUTPUT_ON for blk in samples(got))
    assert isinstance(b.command(MsgType.RESUME), Ack)
    b.run(0.2)
    assert b.fw.state == DeviceState.RUNNING


def test_calibration_corrects_the_intrinsic_error():
    def mean_on_current(cal: dict | None) -> float:
        b = Bench()
        b.send(SimControl(b.next_id(), SimOp.LOAD_RESISTOR, 10_000))
        if cal is not None:
            assert isinstance(b.send(SetCalibration(b.next_id(), **cal))[0], Ack)
        b.set_output(
            amplitude_ua=100,
            ramp_s=0.0,
            polarity=Polarity.POSITIVE,
            waveform=Waveform.SQUARE,
            frequency_hz=0.5,
        )  # on for 1 s
        b.command(MsgType.START)
        b.out.clear()
        b.run(0.5)
        return float(currents(b.out)[1][100:].mean())

    assert mean_on_current(None) == pytest.approx(100 * 1.01 + 0.8, abs=0.1)
    cal = {"current_offset_ua": 0.8, "current_gain": 1.01}
    assert mean_on_current(cal) == pytest.approx(100.0, abs=0.1)


def test_calibration_out_of_range_is_refused():
    b = Bench()
    (nak, _event) = b.send(SetCalibration(9, current_gain=0.0))
    assert nak.reason == NakReason.OUT_OF_RANGE
    assert "current_gain" in nak.detail


def test_injected_fault_latches():
    b = Bench()
    b.set_output(amplitude_ua=100)
    b.command(MsgType.START)
    b.run(0.2)
    b.send(SimControl(b.next_id(), SimOp.INJECT_FAULT, 2))
    assert b.fw.state == DeviceState.FAULT
    assert events(b.out, EventCode.FAULT)[0].arg == 2
    got = b.run(0.1)
    assert [m for m in got if isinstance(m, Status)][-1].faults == 2


def test_device_messages_sent_to_the_device_are_unsupported():
    b = Bench()
    (nak,) = b.send(Ack(5, 3))
    assert nak.reason == NakReason.UNSUPPORTED
    assert nak.request_id == 5


_COMMANDS = [
    MsgType.START,
    MsgType.PAUSE,
    MsgType.RESUME,
    MsgType.STOP,
    MsgType.ESTOP,
    MsgType.RESET,
]
_step = st.one_of(
    st.tuples(st.just("cmd"), st.sampled_from(_COMMANDS)),
    st.tuples(st.just("set"), st.floats(-10, 1200) | st.just(math.nan)),
    st.tuples(st.just("contact"), st.booleans()),
    st.tuples(st.just("wait"), st.floats(0.0, 0.7)),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(_step, max_size=25))
def test_every_command_is_answered_once_and_output_is_off_when_not_driving(steps):
    fw = Firmware(sample_rate=2000, seed=3, now=0.0)
    now, rid, expected = 0.0, 0, []
    fw.receive(Hello(0), now)
    out = fw.take_outgoing()
    for kind, arg in steps:
        if kind == "wait":
            now += arg
            fw.advance(now)
        elif kind == "contact":
            fw.set_contact(arg)
        else:
            rid += 1
            expected.append(rid)
            msg = (
                Command(arg, rid)
                if kind == "cmd"
                else SetOutput(rid, OutputSettings(amplitude_ua=arg, ramp_s=0.05))
            )
            fw.receive(msg, now)
        out.extend(fw.take_outgoing())
    answers = [m.request_id for m in out if isinstance(m, Ack | Nak)]
    assert answers == expected
    for blk in samples(out):
        if not blk.flags & SampleFlag.OUTPUT_ON:
            assert np.abs(blk.raw[:, 0]).max() * CURRENT_LSB_UA < 3
        assert blk.level_ua <= 1000


_HOST_TYPES = [int(t) for t in MsgType if t < 0x80] + [0x00, 0x0C, 0x7F, 0x81, 0x86]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_HOST_TYPES), st.binary(max_size=40)), max_size=12))
def test_no_host_frame_makes_the_firmware_raise(frames):
    from app.device.protocol import ProtocolError, decode_message

    fw = Firmware(sample_rate=1000, seed=0, now=0.0)
    now = 0.0
    for msg_type, body in frames:
        now += 0.013
        try:
            msg = decode_message(msg_type, body)
        except ProtocolError as exc:
            fw.receive_malformed(msg_type, body, str(exc), now)
        else:
            fw.receive(msg, now)
        fw.advance(now + 0.05)
        for m in fw.take_outgoing():
            assert not isinstance(m, Samples) or m.level_ua <= 1000
    assert fw.state in DeviceState


def test_compliance_is_flagged_reported_and_evented_once():
    b = Bench()
    b.send(SimControl(b.next_id(), SimOp.LOAD_RESISTOR, 100_000))  # 20 V / 100 kΩ = 200 µA
    b.set_output(
        amplitude_ua=500,
        ramp_s=0.0,
        polarity=Polarity.POSITIVE,
        waveform=Waveform.SQUARE,
        frequency_hz=10.0,
    )
    b.command(MsgType.START)
    got = b.run(0.5)
    assert any(blk.flags & SampleFlag.COMPLIANCE for blk in samples(got))
    assert len(events(got, EventCode.COMPLIANCE)) == 1
    assert any(m.compliance for m in got if isinstance(m, Status))
    _, cur = currents(got)
    assert cur.max() < 200 * 1.01 + 0.8 + 1  # the current fell to what 20 V can drive


def test_net_charge_biphasic_is_balanced_monophasic_is_not():
    def charge(polarity: Polarity) -> float:
        b = Bench()
        b.set_output(
            amplitude_ua=200,
            ramp_s=0.0,
            polarity=polarity,
            waveform=Waveform.SQUARE,
            frequency_hz=50.0,
        )
        b.command(MsgType.START)
        got = b.run(1.0)
        return [m for m in got if isinstance(m, Status)][-1].net_charge_uc

    assert abs(charge(Polarity.BIPHASIC)) < 0.5
    assert charge(Polarity.POSITIVE) == pytest.approx(200 * 0.5 * 1.0, rel=0.02)  # µA × duty × s


def _charge_run(fs: int, freq: float, polarity: Polarity, seconds: float):
    """START a 200 µA square into 10 kΩ; (net charge of the last STATUS, charge in the
    SAMPLES while output was on, both µC), calibration applied so samples read true."""
    b = Bench.__new__(Bench)
    b.now, b.rid, b.out = 0.0, 0, []
    b.fw = Firmware(sample_rate=fs, seed=1, now=0.0)
    b.send(Hello(b.next_id()))
    b.send(SimControl(b.next_id(), SimOp.LOAD_RESISTOR, 10_000))
    b.send(SetCalibration(b.next_id(), 0.8, 1.01, -0.004, 0.995))
    b.set_output(
        amplitude_ua=200, ramp_s=0.0, polarity=polarity, waveform=Waveform.SQUARE, frequency_hz=freq
    )
    b.command(MsgType.START)
    start = b.fw.sample_index
    got = b.run(seconds + 0.01)
    statuses = [m for m in got if isinstance(m, Status)]
    statuses = [m for m in statuses if m.uptime_ms <= seconds * 1000 + 1e-6]
    idx, cur = currents(b.out)
    end = statuses[-1].uptime_ms * fs // 1000  # the sample index of the last STATUS
    total = float(cur[(idx >= start) & (idx < end)].sum()) / fs
    return statuses, total


def test_two_khz_biphasic_at_ten_kilosamples_delivers_no_net_charge():
    statuses, from_samples = _charge_run(FS, 2000.0, Polarity.BIPHASIC, 1.1)
    # was +22.8 µC when samples were points; now only the 5 ms slew from START leaves a
    # trace (each negative half a little higher than the positive one before it):
    # 10 periods x 10 µA x 0.25 ms = 0.025 µC
    assert abs(statuses[-1].net_charge_uc) < 0.03
    assert abs(statuses[-1].net_charge_uc - statuses[0].net_charge_uc) < 1e-4  # running
    assert abs(from_samples) < 0.05


@pytest.mark.parametrize(
    ("fs", "freq"), [(10_000, 2000.0), (10_000, 10_000 / 7), (50_000, 2000.0), (1_000, 37.3)]
)
def test_net_charge_counter_agrees_with_the_samples_and_the_duty(fs, freq):
    statuses, from_samples = _charge_run(fs, freq, Polarity.POSITIVE, 1.0)
    status = statuses[-1]
    # the counter and the samples, over the same samples since START
    assert status.net_charge_uc == pytest.approx(from_samples, abs=0.02)
    # 50 % duty: 200 µA for half of the time since START (the first 5 ms slew to it)
    assert status.net_charge_uc == pytest.approx(100.0 * 1.0, abs=200 * 0.5 / freq + 0.3)
    q = [m.net_charge_uc for m in statuses]
    # 10 µC per 100 ms, within one pulse's charge where 100 ms is not whole periods
    np.testing.assert_allclose(np.diff(q), 100.0 * 0.1, rtol=0, atol=200 * 0.5 / freq + 1e-6)


def test_frames_fit_the_payload_limit_at_the_highest_rate_and_frequency():
    from app.device.protocol import MAX_PAYLOAD

    fw = Firmware(sample_rate=50_000, seed=0, now=0.0)
    fw.receive(Hello(1), 0.0)
    fw.receive(
        SetOutput(
            2,
            OutputSettings(
                frequency_hz=2000.0, amplitude_ua=100, ramp_s=0, polarity=Polarity.BIPHASIC
            ),
        ),
        0.0,
    )
    fw.receive(Command(MsgType.START, 3), 0.0)
    fw.advance(0.2)
    frames = samples(fw.take_outgoing())
    assert fw.info().max_samples_per_frame == 239
    assert max(len(f.encode_body()) + 6 for f in frames) <= MAX_PAYLOAD
    assert max(len(f.sync) for f in frames) >= 9


@pytest.mark.parametrize(
    ("msg_type", "body", "rid"),
    [
        (MsgType.ACK, b"\x34\x12", 0x1234),  # too short to parse as an ACK
        (MsgType.INFO, b"\x07\x00\x01", 7),
        (MsgType.NAK, b"\x09\x00", 9),
        (MsgType.STATUS, b"\x01\x02", 0),  # carries no request id
        (MsgType.SAMPLES, b"", 0),
        (MsgType.EVENT, b"\x05", 0),
    ],
)
def test_device_to_host_types_are_refused_as_unsupported_with_their_request_id(msg_type, body, rid):
    fw = Firmware(sample_rate=FS, now=0.0)
    fw.receive_malformed(int(msg_type), body, "does not parse", 0.01)
    (nak,) = [m for m in fw.take_outgoing() if isinstance(m, Nak)]
    assert nak.reason == NakReason.UNSUPPORTED
    assert nak.command == msg_type
    assert nak.request_id == rid
    assert "device-to-host" in nak.detail


def test_unknown_types_are_still_bad_messages():
    fw = Firmware(sample_rate=FS, now=0.0)
    fw.receive_malformed(0x90, b"\x02\x00", "unknown message type 0x90", 0.01)
    (nak,) = fw.take_outgoing()
    assert (nak.reason, nak.request_id) == (NakReason.BAD_MESSAGE, 2)


@pytest.mark.parametrize("fs", [100, 1_000, 10_000, 50_000])
def test_line_budget_is_what_the_device_really_sends(fs):
    from app.device.firmware import line_bytes_per_s, max_frequency_hz
    from app.device.protocol import encode_message

    fw = Firmware(sample_rate=fs, seed=0, now=0.0)
    fw.receive(Hello(1), 0.0)
    fw.receive(
        SetOutput(
            2,
            OutputSettings(
                Waveform.SQUARE, max_frequency_hz(fs), 1000.0, Polarity.BIPHASIC, 2.0, 0.0
            ),
        ),
        0.0,
    )
    fw.receive(Command(MsgType.START, 3), 0.0)
    t = 0.0
    sent = 0
    while t < 3.0:
        t = round(t + 0.1, 6)
        fw.receive(Heartbeat(), t)
        out = fw.take_outgoing()
        if t > 1.0:  # not the start: its answers and events are not the steady stream
            sent += sum(len(encode_message(m, 0x0101)) for m in out)
    assert fw.state == DeviceState.RUNNING
    assert sent / 2.0 == pytest.approx(line_bytes_per_s(fs), rel=0.01)


def test_the_documented_line_rate_table_is_right():
    import re
    from pathlib import Path

    from app.device.firmware import max_sample_rate

    doc = (Path(__file__).resolve().parents[1] / "docs" / "protocol.md").read_text("utf-8")
    rows = re.findall(
        r"^\| ([\d ]+) baud \| ([\d ]+) S/s \|$|^\| ([\d ]+) baud \| none \|$",
        doc,
        flags=re.MULTILINE,
    )
    assert len(rows) >= 10
    for baud, rate, baud_none in rows:
        got = max_sample_rate(int((baud or baud_none).replace(" ", "")))
        assert got == (int(rate.replace(" ", "")) if rate else 0), baud or baud_none


def test_reset_keeps_the_last_set_output():
    b = Bench()
    b.set_output(amplitude_ua=321, frequency_hz=7.0, polarity=Polarity.BIPHASIC)
    b.command(MsgType.START)
    b.run(0.1)
    b.command(MsgType.ESTOP)
    assert isinstance(b.command(MsgType.RESET), Ack)
    assert b.fw.settings == OutputSettings(
        amplitude_ua=321, frequency_hz=7.0, polarity=Polarity.BIPHASIC
    )
    assert isinstance(b.command(MsgType.START), Ack)  # no new SET_OUTPUT needed
    status = [m for m in b.run(0.2) if isinstance(m, Status)][-1]
    assert status.setpoint_ua == pytest.approx(321)


def test_resume_restarts_the_alternation_and_the_carrier():
    b = Bench()
    b.send(SimControl(b.next_id(), SimOp.LOAD_RESISTOR, 10_000))
    b.set_output(
        amplitude_ua=200,
        ramp_s=0.0,
        frequency_hz=10.0,
        polarity=Polarity.ALTERNATING,
        alternate_s=0.5,
    )
    b.command(MsgType.START)
    b.run(0.7)  # past the first flip at 0.5 s: negative now
    assert b.fw.wave.negative_half(b.fw.settings)
    b.command(MsgType.PAUSE)
    b.run(0.1)
    b.command(MsgType.RESUME)
    resumed = b.fw.sample_index
    got = b.run(0.2)
    idx, cur = currents(got)
    assert not any(
        blk.flags & SampleFlag.SIGN_NEGATIVE
        for blk in samples(got)
        if blk.flags & SampleFlag.OUTPUT_ON
    )  # positive first again
    on = next(blk for blk in samples(got) if blk.flags & SampleFlag.OUTPUT_ON)
    assert on.first_index <= resumed < on.first_index + on.raw.shape[0]
    assert 0 in [s + on.first_index - resumed for s in on.sync]  # a period starts there
    assert cur[idx >= resumed].max() > 150
