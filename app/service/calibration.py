"""Calibration of the device's current and voltage measurement against a reference resistor.

The arithmetic is pure (numpy): at two or more set points the device drives a known
current through a known resistor; what it *reports* is compared with the truth
(``I_true`` = the set point, ``V_true = I_true · R``) and a straight line
``measured = gain · true + offset`` is fitted per channel by least squares. The result
describes the channel's error in the form SET_CALIBRATION takes (the device then reports
``(reading - offset) / gain``).

:func:`calibration_procedure` is the bench procedure (a generator run by
:class:`~app.service.procedure.ProcedureRunner`): reference load, identity calibration,
square positive pulses at each set point (the pulse tops give ``I_true = set point``, the
gaps ``I_true = 0``), fit, write to the device, verify.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from app.device.protocol import DeviceState, Info, NakReason, SampleFlag, SimOp
from app.device.waveform import OutputSettings, Polarity, Waveform
from app.service.procedure import (
    Answer,
    Collect,
    Collected,
    Pause,
    Procedure,
    ProcedureError,
    Send,
    WaitStatus,
)

# What SET_CALIBRATION accepts (docs/protocol.md); a fit outside means a broken channel.
GAIN_RANGE = (0.5, 2.0)
CURRENT_OFFSET_MAX_UA = 50.0
VOLTAGE_OFFSET_MAX_V = 1.0

DEFAULT_RESISTOR_OHM = 10_000.0
DEFAULT_SETPOINTS_UA = (100.0, 250.0, 500.0)
PULSE_FREQUENCY_HZ = 10.0
COLLECT_S = 0.5


CLEARING = "Clearing the old calibration (measuring the raw channels)"
LEFT_UNCALIBRATED = "the device is left without calibration: run the calibration again"


class CalibrationError(ValueError):
    """The measurements cannot give a calibration; the message says why."""


@dataclass(frozen=True, slots=True)
class CalibrationPoint:
    """One averaged measurement: the true current and what the device reported."""

    true_current_ua: float
    measured_current_ua: float
    measured_voltage_v: float
    samples: int = 0


@dataclass(frozen=True, slots=True)
class ChannelFit:
    """``measured = gain · true + offset`` for one channel, with the fit's residual."""

    offset: float
    gain: float
    residual_rms: float  # of measured minus the fitted line, in the channel's unit

    def correct(self, measured: float | np.ndarray) -> float | np.ndarray:
        return (measured - self.offset) / self.gain


@dataclass(frozen=True, slots=True)
class CalibrationResult:
    """A computed calibration; ``as_dict`` is what the store records."""

    resistor_ohm: float
    current: ChannelFit  # µA
    voltage: ChannelFit  # V
    points: tuple[CalibrationPoint, ...]
    device_serial: str = ""
    device_model: str = ""
    firmware: str = ""
    performed_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    written: bool = False  # SET_CALIBRATION acknowledged by the device
    verify_current_error_ua: float = math.nan  # after writing: reported − true at a set point
    verify_voltage_error_v: float = math.nan

    @property
    def set_calibration_args(self) -> tuple[float, float, float, float]:
        """(current offset µA, current gain, voltage offset V, voltage gain)."""
        return (self.current.offset, self.current.gain, self.voltage.offset, self.voltage.gain)

    def as_dict(self) -> dict[str, object]:
        return {
            "performed_at": self.performed_at.isoformat(),
            "device_model": self.device_model,
            "device_serial": self.device_serial,
            "firmware": self.firmware,
            "resistor_ohm": self.resistor_ohm,
            "current_offset_ua": self.current.offset,
            "current_gain": self.current.gain,
            "current_residual_ua": self.current.residual_rms,
            "voltage_offset_v": self.voltage.offset,
            "voltage_gain": self.voltage.gain,
            "voltage_residual_v": self.voltage.residual_rms,
            "written": self.written,
            "verify_current_error_ua": _json_float(self.verify_current_error_ua),
            "verify_voltage_error_v": _json_float(self.verify_voltage_error_v),
            "points": [
                {
                    "true_current_ua": p.true_current_ua,
                    "measured_current_ua": p.measured_current_ua,
                    "measured_voltage_v": p.measured_voltage_v,
                    "samples": p.samples,
                }
                for p in self.points
            ],
        }

    def summary(self) -> str:
        return (
            f"current: gain {self.current.gain:.5f}, offset {self.current.offset:+.3f} µA; "
            f"voltage: gain {self.voltage.gain:.5f}, offset "
            f"{self.voltage.offset * 1000:+.2f} mV (reference {self.resistor_ohm:g} Ω)"
        )


def _json_float(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


# --------------------------------------------------------------------------- arithmetic


def fit_channel(
    true: Sequence[float] | np.ndarray,
    measured: Sequence[float] | np.ndarray,
    name: str = "channel",
) -> ChannelFit:
    """Least-squares line ``measured = gain · true + offset``."""
    x = np.asarray(true, dtype=np.float64)
    y = np.asarray(measured, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise CalibrationError(f"{name}: true and measured values must be paired")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise CalibrationError(f"{name}: a measurement is not a finite number")
    if np.unique(x).size < 2:
        raise CalibrationError(
            f"{name}: need at least two different true values, got {np.unique(x).size}"
        )
    a = np.stack([x, np.ones_like(x)], axis=1)
    (gain, offset), *_ = np.linalg.lstsq(a, y, rcond=None)
    resid = y - (gain * x + offset)
    return ChannelFit(float(offset), float(gain), float(np.sqrt(np.mean(resid * resid))))


def compute_calibration(
    points: Sequence[CalibrationPoint], resistor_ohm: float, info: Info | None = None
) -> CalibrationResult:
    """Fit both channels; CalibrationError if the result is outside what a device accepts."""
    if not (math.isfinite(resistor_ohm) and resistor_ohm > 0):
        raise CalibrationError(f"reference resistor {resistor_ohm!r} Ω must be a positive number")
    if len(points) < 2:
        raise CalibrationError(f"need at least two measurements, got {len(points)}")
    true_i = np.array([p.true_current_ua for p in points])
    cur = fit_channel(true_i, [p.measured_current_ua for p in points], "current")
    volt = fit_channel(
        true_i * 1e-6 * resistor_ohm, [p.measured_voltage_v for p in points], "voltage"
    )
    lo, hi = GAIN_RANGE
    for label, fit, off_max, unit in (
        ("current", cur, CURRENT_OFFSET_MAX_UA, "µA"),
        ("voltage", volt, VOLTAGE_OFFSET_MAX_V, "V"),
    ):
        if not lo <= fit.gain <= hi:
            raise CalibrationError(
                f"{label} gain {fit.gain:.4f} is outside {lo:g}..{hi:g}: the {label} channel "
                "or the reference load is faulty (is the right resistor connected?)"
            )
        if abs(fit.offset) > off_max:
            raise CalibrationError(
                f"{label} offset {fit.offset:+.4g} {unit} is beyond ±{off_max:g} {unit}: "
                f"the {label} channel is faulty"
            )
    return CalibrationResult(
        resistor_ohm=float(resistor_ohm),
        current=cur,
        voltage=volt,
        points=tuple(points),
        device_serial=info.serial if info else "",
        device_model=info.model if info else "",
        firmware=info.firmware if info else "",
    )


def pulse_points(
    data: Collected, setpoint_ua: float, min_samples: int = 20
) -> list[CalibrationPoint]:
    """Two points from square positive pulses at ``setpoint_ua``: tops (true = set point)
    and gaps (true = 0). Only samples taken at the full set point are used."""
    steady = (np.abs(data.level_ua - setpoint_ua) < 1e-3) & (
        (data.flags & int(SampleFlag.OUTPUT_ON)) != 0
    )
    i = data.current_ua[steady].astype(np.float64)
    v = data.voltage_v[steady].astype(np.float64)
    high = i > setpoint_ua / 2
    low = ~high
    if high.sum() < min_samples or low.sum() < min_samples:
        raise CalibrationError(
            f"at {setpoint_ua:g} µA: only {int(high.sum())} pulse and {int(low.sum())} gap "
            f"samples at the full set point (need {min_samples} each)"
        )
    return [
        CalibrationPoint(
            setpoint_ua, float(i[high].mean()), float(v[high].mean()), int(high.sum())
        ),
        CalibrationPoint(0.0, float(i[low].mean()), float(v[low].mean()), int(low.sum())),
    ]


# --------------------------------------------------------------------------- procedure


def _is(state: DeviceState):
    return lambda s: s.state == state


def use_reference_load(resistor_ohm: float, notes: list[str]) -> Procedure:
    """Select the reference resistor (the simulator switches its load; a real device answers
    UNSUPPORTED and the resistor must be connected by hand). Checks the device sees it."""
    yield Send(
        lambda port: port.sim_control(SimOp.SET_CONTACT, 1.0),
        "Closing the simulator's probe contact",
        accept=(NakReason.UNSUPPORTED,),
    )
    ans: Answer = yield Send(
        lambda port: port.sim_control(SimOp.LOAD_RESISTOR, resistor_ohm),
        f"Selecting the {resistor_ohm:g} Ω reference load",
        accept=(NakReason.UNSUPPORTED,),
    )
    if not ans.ok:
        notes.append(
            f"the device has no switchable load: the {resistor_ohm:g} Ω reference "
            "resistor must be connected between the probes"
        )
    yield WaitStatus(lambda s: True, 1.0, "STATUS from the device")
    # the next STATUS surely reflects the new load
    status, _ = yield WaitStatus(lambda s: True, 1.0, "STATUS from the device")
    z = status.impedance_ohm
    if not (math.isfinite(z) and abs(z - resistor_ohm) <= 0.05 * resistor_ohm):
        raise ProcedureError(
            f"the device measures the load as {z:g} Ω, not the "
            f"{resistor_ohm:g} Ω reference: check the reference resistor"
        )
    return status


def ready_idle() -> Procedure:
    """Bring the device to Idle: stop, then RESET if it is latched."""
    yield Send(lambda port: port.stop_output(), "Stopping the output")
    status, _ = yield WaitStatus(
        lambda s: s.state in (DeviceState.IDLE,) or s.state.latched,
        3.0,
        "the device stopping (Idle)",
    )
    if status.state.latched:
        yield Send(lambda port: port.reset(), f"Resetting the device ({status.state.label})")
        yield WaitStatus(_is(DeviceState.IDLE), 2.0, "Idle after RESET")


def run_steady(settings: OutputSettings, what: str, timeout_s: float = 3.0) -> Procedure:
    """Set the output and start it (or retune a running output); wait until it runs at the
    full set point."""
    yield Send(
        lambda port: port.request_settings(settings).request_id, f"{what}: setting the output"
    )
    status, _ = yield WaitStatus(lambda s: True, 1.0, "STATUS from the device")
    if status.state == DeviceState.IDLE:
        yield Send(lambda port: port.request_start(), f"{what}: starting the output")
    sp = settings.amplitude_ua
    yield WaitStatus(
        lambda s: s.state == DeviceState.RUNNING and abs(s.level_ua - sp) < 1e-3,
        timeout_s,
        f"{what}: output running at {sp:g} µA",
    )


def calibration_procedure(
    info: Info,
    resistor_ohm: float = DEFAULT_RESISTOR_OHM,
    setpoints_ua: Sequence[float] = DEFAULT_SETPOINTS_UA,
) -> Procedure:
    """The calibration procedure; returns a :class:`CalibrationResult` (written=True once the
    device acknowledged SET_CALIBRATION, with the verification errors).

    The arguments are checked at once (CalibrationError), before anything is sent."""
    setpoints = [float(s) for s in setpoints_ua]
    if len(set(setpoints)) < 2:
        raise CalibrationError("calibration needs at least two different set points")
    for sp in setpoints:
        v = sp * 1e-6 * resistor_ohm
        if not 0 < sp <= info.max_current_ua or v >= 0.9 * info.compliance_v:
            raise CalibrationError(
                f"set point {sp:g} µA into {resistor_ohm:g} Ω is not usable: needs "
                f"0 < I ≤ {info.max_current_ua:g} µA and I·R below 90 % of the "
                f"{info.compliance_v:g} V compliance"
            )
    return _calibrate(info, float(resistor_ohm), setpoints)


def _calibrate(info: Info, resistor_ohm: float, setpoints: list[float]) -> Procedure:
    notes: list[str] = []
    yield from ready_idle()
    yield from use_reference_load(resistor_ohm, notes)
    yield Send(lambda port: port.set_calibration(0.0, 1.0, 0.0, 1.0), CLEARING)
    try:
        return (yield from _measure_and_write(info, resistor_ohm, setpoints))
    except ProcedureError as exc:
        raise ProcedureError(f"{exc}; {LEFT_UNCALIBRATED}") from None


def _measure_and_write(info: Info, resistor_ohm: float, setpoints: list[float]) -> Procedure:
    points: list[CalibrationPoint] = []
    for sp in setpoints:
        settings = OutputSettings(
            Waveform.SQUARE, PULSE_FREQUENCY_HZ, sp, Polarity.POSITIVE, 2.0, 0.0
        )
        yield from run_steady(settings, f"Set point {sp:g} µA")
        data = yield Collect(COLLECT_S)
        try:
            points.extend(pulse_points(data, sp))
        except CalibrationError as exc:
            raise ProcedureError(str(exc)) from None
    try:
        result = compute_calibration(points, resistor_ohm, info)
    except CalibrationError as exc:
        raise ProcedureError(str(exc)) from None
    yield Send(
        lambda port: port.set_calibration(*result.set_calibration_args),
        "Writing the calibration to the device",
    )
    # verify at the set point still running, once samples measured before the change
    # have passed through the link
    sp = setpoints[-1]
    yield Pause(0.1)
    data = yield Collect(COLLECT_S)
    check = _verify_points(data, sp)
    yield from ready_idle()
    yield Send(
        lambda port: port.sim_control(SimOp.LOAD_SKIN, 0.0),
        "Back to the skin load",
        accept=(NakReason.UNSUPPORTED,),
    )
    top = check[0]
    return dataclasses.replace(
        result,
        written=True,
        verify_current_error_ua=top.measured_current_ua - sp,
        verify_voltage_error_v=(top.measured_voltage_v - sp * 1e-6 * resistor_ohm),
    )


def _verify_points(data: Collected, sp: float) -> list[CalibrationPoint]:
    try:
        return pulse_points(data, sp)
    except CalibrationError as exc:
        raise ProcedureError(f"verification: {exc}") from None
