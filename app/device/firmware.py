"""The simulated device's firmware logic: pure, no Qt, no I/O, no real clock.

:class:`Firmware` is fed decoded host messages and the time (``now`` in seconds, any
monotonic base) and produces the device's outgoing messages. The simulator process
(:mod:`app.device.simulator`) wraps it in a serial port; tests drive it with a fake
clock. ``docs/protocol.md`` is the normative description of this behaviour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from app.device.protocol import (
    PROTOCOL_VERSION,
    Ack,
    Command,
    DeviceState,
    Event,
    EventCode,
    Fault,
    Heartbeat,
    Hello,
    Info,
    Message,
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
    message_type,
)
from app.device.signal_model import (
    COMPLIANCE_V,
    CURRENT_LSB_UA,
    VOLTAGE_LSB_V,
    Adc,
    Calibration,
    LoadModel,
    WaveGenerator,
)
from app.device.waveform import OutputSettings, Polarity

# Hard limits, enforced whatever the host sends.
MAX_CURRENT_UA = 1000.0
MIN_FREQUENCY_HZ = 0.1
MAX_FREQUENCY_HZ = 2000.0
MAX_RAMP_S = 10.0
MIN_ALTERNATE_S = 0.5
MAX_ALTERNATE_S = 60.0
CAL_GAIN_RANGE = (0.5, 2.0)
CAL_CURRENT_OFFSET_MAX_UA = 50.0
CAL_VOLTAGE_OFFSET_MAX_V = 1.0
RESISTOR_RANGE_OHM = (10.0, 10e6)

WATCHDOG_S = 0.5
STATUS_HZ = 10
FRAME_S = 0.005  # a SAMPLES frame carries at most 5 ms of samples
# At most this many samples per frame: with a sync mark every 5th sample (the highest
# carrier frequency) 4 * 239 + 48 sync offsets + 17 bytes of header and CRC = 1021 bytes,
# within the protocol's 1024-byte payload.
MAX_SAMPLES_PER_FRAME = 239
CONTACT_MAX_OHM = 1e6  # the sense channel calls a load above this "no contact"

MODEL = "MC-SIM 1"
FIRMWARE_VERSION = "sim-1.0.0"

_DRIVING = (DeviceState.RAMP_UP, DeviceState.RUNNING, DeviceState.RAMP_DOWN)
_DEVICE_TYPES = frozenset(int(t) for t in MsgType if t >= 0x80)
# device-to-host messages whose body starts with a request id (u16)
_DEVICE_TYPES_WITH_ID = frozenset({MsgType.INFO, MsgType.ACK, MsgType.NAK})


def samples_per_frame(sample_rate: int) -> int:
    """Samples in one SAMPLES frame: 5 ms worth, at least 1, at most 239 (the payload
    limit). Below 200 S/s a frame holds one sample, more than 5 ms."""
    return max(1, min(MAX_SAMPLES_PER_FRAME, int(sample_rate * FRAME_S)))


def max_frequency_hz(sample_rate: int) -> float:
    """Highest carrier frequency: 2 kHz, and at least 5 samples per period."""
    return min(MAX_FREQUENCY_HZ, sample_rate / 5.0)


def line_bytes_per_s(sample_rate: int) -> float:
    """Bytes per second the device sends while streaming at ``sample_rate``, worst case.

    Output on at the highest carrier frequency (the most sync marks), the worst COBS
    overhead (one byte per 254), the delimiter, and STATUS ten times a second (33 bytes
    on the wire); ACK, NAK and EVENT are rare and not counted.
    """
    n = samples_per_frame(sample_rate)
    sync = n * max_frequency_hz(sample_rate) / sample_rate  # on average per frame
    payload = 4 + 11 + sync + 4 * n + 2
    wire = payload + 1 + payload // 254 + 1
    return sample_rate / n * wire + STATUS_HZ * 33


def max_sample_rate(baud: int, bits_per_byte: int = 10) -> int:
    """The highest sample rate (100 .. 50 000 S/s) whose stream a line of ``baud`` carries;
    0 if not even 100 S/s fits."""
    budget = baud / bits_per_byte
    lo, hi = 99, 50_000
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if line_bytes_per_s(mid) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo if lo >= 100 else 0


@dataclass(slots=True)
class _Pending:
    """Samples of the SAMPLES frame being filled."""

    first_index: int = 0
    level_ua: float = 0.0
    flags: SampleFlag = SampleFlag.NONE
    sync: list[int] = field(default_factory=list)
    chunks: list[np.ndarray] = field(default_factory=list)
    n: int = 0


class Firmware:
    """Device logic: state machine, limits, watchdog, ramping, sampling.

    Call :meth:`receive` for each host message and :meth:`advance` as time passes (both
    take ``now``); collect what the device sends with :meth:`take_outgoing`. Samples are
    generated on the given clock: ``advance(now)`` produces every sample due by ``now``.
    """

    def __init__(
        self,
        *,
        sample_rate: int = 10_000,
        serial: str = "SIM-000001",
        seed: int | None = None,
        now: float = 0.0,
        protocol_version: int = PROTOCOL_VERSION,
    ) -> None:
        if not 100 <= sample_rate <= 50_000:
            raise ValueError(f"sample rate {sample_rate} S/s: must be 100..50000")
        self.sample_rate = int(sample_rate)
        self.serial = serial
        self.protocol_version = protocol_version
        self.spf = samples_per_frame(self.sample_rate)
        self.max_frequency_hz = max_frequency_hz(self.sample_rate)
        self.wave = WaveGenerator(self.sample_rate)
        self.load = LoadModel(self.sample_rate)
        self.adc = Adc(seed=seed)
        self.state = DeviceState.IDLE
        self.settings: OutputSettings | None = None
        self.level_ua = 0.0
        self.faults = Fault.NONE
        self.net_charge_uc = 0.0
        self.streaming = False  # SAMPLES and STATUS flow once a HELLO was answered
        self._t0 = now
        self._index = 0  # next sample index (samples since power-up)
        self._last_host = now
        self._slew_ua_s = 0.0
        self._contact = self.load.impedance_ohm() < CONTACT_MAX_OHM
        self._compliance_status = False  # compliance since the last STATUS
        self._compliance_active = False  # for the COMPLIANCE event's edge
        self._compliance_clear_samples = 0
        self._status_every = max(1, self.sample_rate // STATUS_HZ)
        self._pending = _Pending()
        self._out: list[Message] = []

    # ------------------------------------------------------------------ public API

    @property
    def sample_index(self) -> int:
        """Index of the next sample to be generated."""
        return self._index

    @property
    def contact(self) -> bool:
        """Contact as the firmware senses it (updated as samples are generated)."""
        return self._contact

    def info(self, request_id: int = 0) -> Info:
        return Info(
            request_id=request_id,
            protocol_version=self.protocol_version,
            model=MODEL,
            serial=self.serial,
            firmware=FIRMWARE_VERSION,
            max_current_ua=MAX_CURRENT_UA,
            min_frequency_hz=MIN_FREQUENCY_HZ,
            max_frequency_hz=self.max_frequency_hz,
            compliance_v=COMPLIANCE_V,
            sample_rate=self.sample_rate,
            current_lsb_ua=CURRENT_LSB_UA,
            voltage_lsb_v=VOLTAGE_LSB_V,
            watchdog_ms=int(WATCHDOG_S * 1000),
            max_samples_per_frame=self.spf,
        )

    def next_frame_time(self) -> float:
        """The time (on the caller's clock) when the SAMPLES frame being filled is complete."""
        end = self._index - self._pending.n + self.spf
        return self._t0 + end / self.sample_rate

    def queue_info(self, request_id: int = 0) -> None:
        """Send INFO unasked (the answer to a frame of a foreign protocol version)."""
        self._out.append(self.info(request_id))

    def take_outgoing(self) -> list[Message]:
        out, self._out = self._out, []
        return out

    def set_contact(self, contact: bool) -> None:
        """Lift (False) or place (True) the probes; the firmware notices on the next sample."""
        self.load.contact = bool(contact)

    def advance(self, now: float, *, whole_frames: bool = False) -> None:
        """Generate every sample due by ``now`` (and the STATUS frames that fall due).

        ``whole_frames``: stop at the last complete SAMPLES frame (fewer, larger chunks;
        the simulator's loop uses it). Host messages always advance to the exact sample.
        """
        due = int((now - self._t0) * self.sample_rate)
        if whole_frames:
            frame_start = self._index - self._pending.n
            due = frame_start + (due - frame_start) // self.spf * self.spf
        while self._index < due:
            n = min(due - self._index, self.spf - self._pending.n)
            if self.state in _DRIVING or self.state in (
                DeviceState.PAUSED,
                DeviceState.CONTACT_LOST,
            ):
                deadline = self._watchdog_index()
                if self._index >= deadline:
                    self._trip_watchdog()
                else:
                    n = min(n, deadline - self._index)
            next_status = (self._index // self._status_every + 1) * self._status_every
            n = min(n, next_status - self._index)
            self._generate(n)
            if self._pending.n >= self.spf:
                self._flush_frame()
            if self._index % self._status_every == 0:
                self._emit_status()

    def receive(self, msg: Message, now: float) -> None:
        """Handle one decoded host message received at ``now``."""
        self.advance(now)  # everything before the message is produced under the old state
        self._last_host = now
        t = message_type(msg)
        if isinstance(msg, Heartbeat):
            return
        if isinstance(msg, Hello):
            self._on_hello(msg)
        elif isinstance(msg, SetOutput):
            self._on_set_output(msg)
        elif isinstance(msg, Command):
            self._on_command(msg)
        elif isinstance(msg, SetCalibration):
            self._on_calibration(msg)
        elif isinstance(msg, SimControl):
            self._on_sim_control(msg)
        else:
            rid = getattr(msg, "request_id", 0)
            self._nak(
                rid,
                t,
                NakReason.UNSUPPORTED,
                f"{t.name} is a device-to-host message; a device does not accept it",
            )

    def receive_malformed(self, msg_type: int, body: bytes, error: str, now: float) -> None:
        """A frame with a valid CRC whose body does not parse: NAK BAD_MESSAGE, or
        UNSUPPORTED for a device-to-host type (whatever its body)."""
        self.advance(now)
        self._last_host = now
        if msg_type in _DEVICE_TYPES:
            t = MsgType(msg_type)
            rid = (
                int.from_bytes(body[:2], "little")
                if t in _DEVICE_TYPES_WITH_ID and len(body) >= 2
                else 0
            )
            self._nak(
                rid,
                t,
                NakReason.UNSUPPORTED,
                f"{t.name} is a device-to-host message; a device does not accept it",
            )
            return
        rid = int.from_bytes(body[:2], "little") if len(body) >= 2 else 0
        self._nak(rid, msg_type & 0xFF, NakReason.BAD_MESSAGE, error)

    # ------------------------------------------------------------------ messages

    def _ack(self, rid: int, cmd: int) -> None:
        self._out.append(Ack(rid, int(cmd)))

    def _nak(self, rid: int, cmd: int, reason: NakReason, detail: str) -> None:
        self._out.append(Nak(rid, int(cmd), reason, detail[:255]))

    def _event(self, code: EventCode, arg: int = 0, text: str = "") -> None:
        self._out.append(Event(code, arg & 0xFFFF, text[:255]))

    def _on_hello(self, msg: Hello) -> None:
        if msg.version != self.protocol_version:
            self._nak(
                msg.request_id,
                MsgType.HELLO,
                NakReason.VERSION,
                f"device speaks protocol version {self.protocol_version}; "
                f"host asked for version {msg.version}",
            )
            return
        self.streaming = True
        self._out.append(self.info(msg.request_id))

    def _refuse_limits(self, rid: int, cmd: int, detail: str) -> None:
        self._nak(rid, cmd, NakReason.OUT_OF_RANGE, detail)
        self._event(EventCode.LIMIT_REFUSED, rid, detail)

    def _check_settings(self, s: OutputSettings) -> str | None:
        checks = [
            ("amplitude_ua", s.amplitude_ua, 0.0, MAX_CURRENT_UA, "µA"),
            ("frequency_hz", s.frequency_hz, MIN_FREQUENCY_HZ, self.max_frequency_hz, "Hz"),
            ("ramp_s", s.ramp_s, 0.0, MAX_RAMP_S, "s"),
        ]
        if s.polarity == Polarity.ALTERNATING:
            checks.append(("alternate_s", s.alternate_s, MIN_ALTERNATE_S, MAX_ALTERNATE_S, "s"))
        elif not math.isfinite(s.alternate_s):
            return f"alternate_s = {s.alternate_s} is not a finite number"
        for name, value, lo, hi, unit in checks:
            if not math.isfinite(value):
                return f"{name} = {value} is not a finite number"
            if not lo <= value <= hi:
                return f"{name} = {value:g} {unit} is outside the limit {lo:g}..{hi:g} {unit}"
        return None

    def _on_set_output(self, msg: SetOutput) -> None:
        problem = self._check_settings(msg.settings)
        if problem is not None:
            self._refuse_limits(msg.request_id, MsgType.SET_OUTPUT, problem)
            return
        self.settings = msg.settings
        if self.state in (DeviceState.RAMP_UP, DeviceState.RUNNING):
            self._set_slew(self.settings.amplitude_ua)  # the level slews to the new setpoint
        elif self.state == DeviceState.RAMP_DOWN:
            self._set_slew(0.0)
        self._ack(msg.request_id, MsgType.SET_OUTPUT)

    def _on_calibration(self, msg: SetCalibration) -> None:
        lo, hi = CAL_GAIN_RANGE
        fields = [
            ("current_gain", msg.current_gain, lo, hi, ""),
            ("voltage_gain", msg.voltage_gain, lo, hi, ""),
            (
                "current_offset_ua",
                msg.current_offset_ua,
                -CAL_CURRENT_OFFSET_MAX_UA,
                CAL_CURRENT_OFFSET_MAX_UA,
                " µA",
            ),
            (
                "voltage_offset_v",
                msg.voltage_offset_v,
                -CAL_VOLTAGE_OFFSET_MAX_V,
                CAL_VOLTAGE_OFFSET_MAX_V,
                " V",
            ),
        ]
        for name, value, a, b, unit in fields:
            if not math.isfinite(value):
                self._refuse_limits(
                    msg.request_id,
                    MsgType.SET_CALIBRATION,
                    f"{name} = {value} is not a finite number",
                )
                return
            if not a <= value <= b:
                self._refuse_limits(
                    msg.request_id,
                    MsgType.SET_CALIBRATION,
                    f"{name} = {value:g}{unit} is outside the limit {a:g}..{b:g}{unit}",
                )
                return
        self.adc.calibration = Calibration(
            msg.current_offset_ua, msg.current_gain, msg.voltage_offset_v, msg.voltage_gain
        )
        self._ack(msg.request_id, MsgType.SET_CALIBRATION)

    def _on_sim_control(self, msg: SimControl) -> None:
        rid, op, value = msg.request_id, msg.op, msg.value
        if not math.isfinite(value):
            self._refuse_limits(rid, MsgType.SIM_CONTROL, f"value = {value} is not finite")
            return
        if op == SimOp.SET_CONTACT:
            self.set_contact(value != 0)
        elif op == SimOp.LOAD_SKIN:
            self.load.use_skin()
        elif op == SimOp.LOAD_RESISTOR:
            lo, hi = RESISTOR_RANGE_OHM
            if not lo <= value <= hi:
                self._refuse_limits(
                    rid, MsgType.SIM_CONTROL, f"resistor = {value:g} Ω is outside {lo:g}..{hi:g} Ω"
                )
                return
            self.load.use_resistor(value)
        elif op == SimOp.INJECT_FAULT:
            bits = Fault(int(value) & 0x0F)
            if not bits:
                self._refuse_limits(
                    rid, MsgType.SIM_CONTROL, f"fault bits = {value:g}: must be 1..15"
                )
                return
            self._ack(rid, MsgType.SIM_CONTROL)
            self.faults |= bits
            self._event(EventCode.FAULT, int(bits), f"fault injected: {bits!r}")
            self._enter(DeviceState.FAULT, "fault")
            return
        self._ack(rid, MsgType.SIM_CONTROL)

    def _on_command(self, msg: Command) -> None:
        rid, t, st = msg.request_id, msg.type, self.state
        if t == MsgType.ESTOP:
            self._ack(rid, t)
            self._event(EventCode.ESTOP, 0, "emergency stop")
            if st != DeviceState.ESTOPPED:
                self._enter(DeviceState.ESTOPPED, "emergency stop")
            return
        if t == MsgType.RESET:
            if st.latched:
                self.faults = Fault.NONE
                self._ack(rid, t)
                self._enter(DeviceState.IDLE, "reset")
            elif st == DeviceState.IDLE:
                self._ack(rid, t)
            else:
                self._nak(
                    rid,
                    t,
                    NakReason.WRONG_STATE,
                    f"RESET only leaves a latched state; the device is {st.label}: "
                    "stop the output first",
                )
            return
        if t == MsgType.STOP:
            self._ack(rid, t)
            if st in (DeviceState.RAMP_UP, DeviceState.RUNNING):
                self._set_slew(0.0, from_level=True)
                self._enter(DeviceState.RAMP_DOWN, "stop")
            elif st in (DeviceState.PAUSED, DeviceState.CONTACT_LOST):
                self._enter(DeviceState.IDLE, "stop")
            return
        if st.latched:
            self._nak(
                rid,
                t,
                NakReason.FAULT_LATCHED,
                f"the device is {st.label} (latched): send RESET first",
            )
            return
        if t == MsgType.START:
            if st != DeviceState.IDLE:
                self._nak(
                    rid, t, NakReason.WRONG_STATE, f"START needs the device Idle; it is {st.label}"
                )
            elif self.settings is None:
                self._nak(
                    rid,
                    t,
                    NakReason.WRONG_STATE,
                    "no output settings yet: send SET_OUTPUT before START",
                )
            elif not self._contact:
                self._nak(
                    rid,
                    t,
                    NakReason.NO_CONTACT,
                    "no contact: place both probes on the skin before START",
                )
            else:
                self._ack(rid, t)
                self.net_charge_uc = 0.0
                self._start_ramp_up("start")
        elif t == MsgType.PAUSE:
            if st in (DeviceState.RAMP_UP, DeviceState.RUNNING):
                self._ack(rid, t)
                self.level_ua = 0.0
                self._enter(DeviceState.PAUSED, "pause")
            elif st == DeviceState.PAUSED:
                self._ack(rid, t)
            else:
                self._nak(
                    rid,
                    t,
                    NakReason.WRONG_STATE,
                    f"PAUSE needs the output on; the device is {st.label}",
                )
        elif t == MsgType.RESUME:
            if st not in (DeviceState.PAUSED, DeviceState.CONTACT_LOST):
                self._nak(
                    rid,
                    t,
                    NakReason.WRONG_STATE,
                    f"RESUME needs Paused or Contact lost; the device is {st.label}",
                )
            elif not self._contact:
                self._nak(
                    rid,
                    t,
                    NakReason.NO_CONTACT,
                    "no contact: place both probes on the skin before RESUME",
                )
            else:
                self._ack(rid, t)
                self._start_ramp_up("resume")
        else:  # pragma: no cover - Command only carries the types above
            self._nak(rid, t, NakReason.UNSUPPORTED, f"{t.name} is not a command")

    # ------------------------------------------------------------------ state

    def _enter(self, state: DeviceState, reason: str) -> None:
        if state not in _DRIVING:
            self.level_ua = 0.0
        if state == self.state:
            return
        self.state = state
        self._event(EventCode.STATE_CHANGED, int(state), reason)

    def _start_ramp_up(self, reason: str) -> None:
        assert self.settings is not None
        self.level_ua = 0.0
        self.wave.reset()
        self._set_slew(self.settings.amplitude_ua)
        self._enter(DeviceState.RAMP_UP, reason)

    def _set_slew(self, target: float, *, from_level: bool = False) -> None:
        """Slew rate towards ``target``: amplitude / ramp time, never faster than 1 frame."""
        assert self.settings is not None
        span = self.level_ua if from_level else max(target, self.level_ua)
        ramp = max(self.settings.ramp_s, self.spf / self.sample_rate)
        self._slew_ua_s = max(span, 1.0) / ramp

    def _watchdog_index(self) -> int:
        return math.ceil((self._last_host + WATCHDOG_S - self._t0) * self.sample_rate)

    def _trip_watchdog(self) -> None:
        self._event(
            EventCode.WATCHDOG_TRIP,
            0,
            f"no message from the host for {int(WATCHDOG_S * 1000)} ms: output off",
        )
        self._enter(DeviceState.WATCHDOG, "watchdog")

    # ------------------------------------------------------------------ sampling

    def _generate(self, n: int) -> None:
        """Produce the next ``n`` samples. The current of each is the mean over its interval
        (:class:`WaveGenerator`); the level (ramp, slew) steps once per sample and is
        taken as constant over the sample (its value at the sample's end), so the net
        charge, summed from the delivered sample currents, is exact."""
        dt = 1.0 / self.sample_rate
        st = self.state
        driving = st in _DRIVING and self.settings is not None
        flags = SampleFlag.NONE
        sync: np.ndarray | None = None
        if driving:
            assert self.settings is not None
            target = 0.0 if st == DeviceState.RAMP_DOWN else self.settings.amplitude_ua
            step = self._slew_ua_s * dt
            k = np.arange(1, n + 1, dtype=np.float64)
            if target >= self.level_ua:
                level = np.minimum(self.level_ua + step * k, target)
            else:
                level = np.maximum(self.level_ua - step * k, target)
            if self._pending.n == 0 and self.wave.negative_half(self.settings):
                flags |= SampleFlag.SIGN_NEGATIVE  # at the frame's first sample
            unit, sync = self.wave.generate(self.settings, n)
            i_cmd = level * unit
            flags |= SampleFlag.OUTPUT_ON
        else:
            level = np.zeros(n)
            i_cmd = level
        current, voltage, clamped = self.load.drive(i_cmd)
        raw = self.adc.measure(current, voltage)
        if driving:
            self.net_charge_uc += float(current.sum()) * dt
        # contact, as the sense channel sees it after this chunk
        contact = self.load.impedance_ohm() < CONTACT_MAX_OHM
        if contact:
            flags |= SampleFlag.CONTACT
        if clamped and contact:
            flags |= SampleFlag.COMPLIANCE
        p = self._pending
        if p.n == 0:
            p.first_index = self._index
            p.level_ua = float(level[0])
            p.flags = SampleFlag.NONE
        p.flags |= flags
        if sync is not None and sync.size:
            p.sync.extend(int(s) + p.n for s in sync)
        p.chunks.append(raw)
        p.n += n
        self._index += n
        if driving:
            self.level_ua = float(level[-1])
        self._after_chunk(contact, clamped and contact, n)

    def _after_chunk(self, contact: bool, clamped: bool, n: int) -> None:
        st = self.state
        if contact != self._contact:
            self._contact = contact
            if contact:
                self._event(EventCode.CONTACT_RESTORED, 0, "probes back on the skin")
            else:
                self._event(EventCode.CONTACT_LOST, 0, "probes lifted: the load is open")
                if st in _DRIVING:
                    self._enter(DeviceState.CONTACT_LOST, "contact lost")
                    st = self.state
        if clamped:
            self._compliance_status = True
            self._compliance_clear_samples = 0
            if not self._compliance_active:
                self._compliance_active = True
                self._event(
                    EventCode.COMPLIANCE,
                    0,
                    f"compliance voltage {COMPLIANCE_V:g} V reached: "
                    "the load cannot take the commanded current",
                )
        elif self._compliance_active:
            self._compliance_clear_samples += n
            if self._compliance_clear_samples >= self.sample_rate:  # 1 s clear
                self._compliance_active = False
        if st in _DRIVING and self.settings is not None:
            if st == DeviceState.RAMP_UP and self.level_ua >= self.settings.amplitude_ua:
                self._event(EventCode.RAMP_COMPLETE, int(DeviceState.RUNNING), "ramp up complete")
                self._enter(DeviceState.RUNNING, "ramp up complete")
            elif st == DeviceState.RAMP_DOWN and self.level_ua <= 0.0:
                self._event(EventCode.RAMP_COMPLETE, int(DeviceState.IDLE), "ramp down complete")
                self._enter(DeviceState.IDLE, "ramp down complete")

    def _flush_frame(self) -> None:
        p = self._pending
        raw = p.chunks[0] if len(p.chunks) == 1 else np.concatenate(p.chunks)
        if self.streaming:
            self._out.append(
                Samples(p.first_index & 0xFFFFFFFF, p.flags, p.level_ua, tuple(p.sync), raw)
            )
        self._pending = _Pending()

    def _emit_status(self) -> None:
        if self.streaming:
            self._out.append(
                Status(
                    state=self.state,
                    level_ua=self.level_ua,
                    setpoint_ua=self.settings.amplitude_ua if self.settings else 0.0,
                    impedance_ohm=self.load.impedance_ohm(),
                    contact=self._contact,
                    compliance=self._compliance_status,
                    faults=self.faults,
                    net_charge_uc=self.net_charge_uc,
                    uptime_ms=int(self._index * 1000 // self.sample_rate),
                )
            )
        self._compliance_status = False


STANDARD_BAUDS = (
    115_200,
    230_400,
    460_800,
    921_600,
    1_000_000,
    1_500_000,
    2_000_000,
    3_000_000,
    4_000_000,
)


def baud_for(sample_rate: int) -> int:
    """The lowest standard line rate that carries ``sample_rate`` (see max_sample_rate)."""
    for baud in STANDARD_BAUDS:
        if max_sample_rate(baud) >= sample_rate:
            return baud
    raise ValueError(f"no standard line rate carries {sample_rate} S/s")


def simulator_args_for(sample_rate: int) -> list[str]:
    """The simulator's options for ``sample_rate`` on a line that carries it."""
    return ["--sample-rate", str(int(sample_rate)), "--baud", str(baud_for(int(sample_rate)))]
