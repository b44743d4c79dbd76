"""The treatment session state machine. Pure, no Qt.

The machine consumes inputs (operator actions, device status and events, timer ticks)
and returns an :class:`Output`: device commands to send, timestamped records for the
store, and alarms / notices for the operator. It never talks to the device itself, so
tests (and hypothesis) drive it directly; app.engine.controller wires it to the link.

States (docs/safety.md has the full table)::

    idle -> ready -> ramping_up -> running <-> paused -> ramping_down -> complete
    contact_lost (from ramping_up/running; back to running by Resume with contact)
    link_lost, device_fault, estopped (latched; Reset leaves them)

Safety rules the machine keeps:

* every SET_OUTPUT amplitude is at most the binding limit (app.engine.limits);
* an increase is step-limited (one click = ``intensity_step_ua``) and ramped in at
  ``slew_ua_per_s``; a decrease, or a lower limit, is applied at once;
* after Stop, emergency stop, contact loss, link loss or a device fault, output is
  commanded off and only an operator action (Start / Resume) turns it on again;
* a step on a zone the client's screening excludes is skipped with its reason (a
  ``zone_skipped`` record); a step on an excluded zone whose override was acknowledged
  runs and says so (``zone_override``);
* a step starts at the intensity the client found comfortable on its zones last time
  (``comfort``), never above the live limits; the level the practitioner settled on
  when a step ends is recorded as the new comfortable one (a ``comfort`` record).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from app.device.protocol import DeviceState, Event, EventCode, Fault, Status
from app.device.waveform import OutputSettings
from app.engine import zone_ids
from app.engine.guided import GuidedRun, GuidedView
from app.engine.limits import (
    ChargeMeter,
    ClinicSettings,
    DensityReading,
    DeviceLimits,
    LimitDecision,
    LimitStack,
    build_stack,
    clamp_amplitude,
    current_density,
    excluded_zone,
    zone_name,
)
from app.engine.programs import Program, ProgramStep
from app.store.vocabulary import ZoneRule


class SessionState(Enum):
    IDLE = "idle"
    READY = "ready"
    RAMPING_UP = "ramping_up"
    RUNNING = "running"
    PAUSED = "paused"
    RAMPING_DOWN = "ramping_down"
    COMPLETE = "complete"
    CONTACT_LOST = "contact_lost"
    LINK_LOST = "link_lost"
    DEVICE_FAULT = "device_fault"
    ESTOPPED = "estopped"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()

    @property
    def latched(self) -> bool:
        return self in (SessionState.LINK_LOST, SessionState.DEVICE_FAULT, SessionState.ESTOPPED)


# States in which a session's output is under way (output on, or paused within a run).
ACTIVE = frozenset(
    {SessionState.RAMPING_UP, SessionState.RUNNING, SessionState.PAUSED, SessionState.CONTACT_LOST}
)


class CommandKind(Enum):
    SET_OUTPUT = "set_output"
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    ESTOP = "estop"
    RESET = "reset"


@dataclass(frozen=True, slots=True)
class DeviceCommand:
    kind: CommandKind
    settings: OutputSettings | None = None  # SET_OUTPUT only


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One timestamped fact for the store: a transition, a parameter change, ..."""

    at: datetime  # wall-clock, UTC
    kind: str  # transition | parameter | command | step | alarm | device | client | program
    state: str  # the session state after the fact
    message: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Output:
    commands: list[DeviceCommand] = field(default_factory=list)
    records: list[SessionRecord] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)  # needs the operator's attention
    notices: list[str] = field(default_factory=list)  # informative (refused click, ...)


# ----------------------------------------------------------------------------- inputs
# Operator actions


@dataclass(frozen=True, slots=True)
class ChooseClient:
    client_id: str
    limit_ua: float | None = None
    screening_passed: bool = False
    training: bool = False
    zone_rules: tuple[ZoneRule, ...] = ()  # the screening's excluded and limited zones
    comfort_ua: tuple[tuple[str, float], ...] = ()  # comfortable intensity per zone


@dataclass(frozen=True, slots=True)
class ClearClient:
    pass


@dataclass(frozen=True, slots=True)
class ClientUpdated:
    """The chosen client's record was read again (this room's write, another room's, or the
    watch's regular reading): the limit and eligibility as stored now."""

    client_id: str
    limit_ua: float | None
    screening_passed: bool
    reason: str = ""  # why treatment is not allowed ('' when it is)
    zone_rules: tuple[ZoneRule, ...] = ()
    comfort_ua: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class OutputRevoked:
    """The output authority stopped the output (the facts no longer allow it)."""

    reason: str


@dataclass(frozen=True, slots=True)
class OutputLowered:
    """The output authority lowered the output to a live limit the machine did not know."""

    reason: str
    amplitude_ua: float


@dataclass(frozen=True, slots=True)
class SetClientLimit:
    limit_ua: float | None


@dataclass(frozen=True, slots=True)
class LoadProgram:
    program: Program


@dataclass(frozen=True, slots=True)
class SelectZone:
    """The zone the practitioner works on in a step without fixed zones (manual)."""

    zone_id: str | None


@dataclass(frozen=True, slots=True)
class UpdateClinic:
    settings: ClinicSettings


@dataclass(frozen=True, slots=True)
class SetElectrodeArea:
    area_cm2: float


@dataclass(frozen=True, slots=True)
class Start:
    pass


@dataclass(frozen=True, slots=True)
class Pause:
    pass


@dataclass(frozen=True, slots=True)
class Resume:
    pass


@dataclass(frozen=True, slots=True)
class Stop:
    pass


@dataclass(frozen=True, slots=True)
class EmergencyStop:
    already_sent: bool = False  # the controller sent ESTOP itself, before the machine ran


@dataclass(frozen=True, slots=True)
class Reset:
    pass


@dataclass(frozen=True, slots=True)
class ResetAnswered:
    """The device acknowledged our RESET: what it reports from now on is after it (until
    then, a latched EVENT is the echo of what the RESET clears: the ESTOP just pressed)."""


@dataclass(frozen=True, slots=True)
class LendDevice:
    """Another workspace (technician's bench, trainer's studio) takes the device for output
    outside a treatment session (``lent``), or gives it back. Refused during a session."""

    lent: bool
    to: str = ""


@dataclass(frozen=True, slots=True)
class IntensityUp:
    pass


@dataclass(frozen=True, slots=True)
class IntensityDown:
    pass


@dataclass(frozen=True, slots=True)
class SkipStep:
    pass


@dataclass(frozen=True, slots=True)
class PreviousStep:
    pass


@dataclass(frozen=True, slots=True)
class RepeatStep:
    pass


# Device inputs


@dataclass(frozen=True, slots=True)
class LinkConnected:
    limits: DeviceLimits


@dataclass(frozen=True, slots=True)
class LinkLost:
    reason: str = ""


@dataclass(frozen=True, slots=True)
class StatusReceived:
    status: Status


@dataclass(frozen=True, slots=True)
class DeviceEventReceived:
    event: Event


@dataclass(frozen=True, slots=True)
class CommandRefused:
    """The device refused a command (NAK) or it went unanswered (``reason`` says)."""

    command: CommandKind
    reason: str


# Timer


@dataclass(frozen=True, slots=True)
class Tick:
    now: float  # time.monotonic() seconds


OPERATOR_INPUTS = (
    ChooseClient,
    ClearClient,
    SetClientLimit,
    LoadProgram,
    SelectZone,
    UpdateClinic,
    SetElectrodeArea,
    Start,
    Pause,
    Resume,
    Stop,
    EmergencyStop,
    Reset,
    IntensityUp,
    IntensityDown,
    SkipStep,
    PreviousStep,
    RepeatStep,
)
DEVICE_INPUTS = (LinkConnected, LinkLost, StatusReceived, DeviceEventReceived, CommandRefused)

MAX_TICK_S = 1.0  # a longer gap between ticks counts as this much (the GUI was blocked)
DISAGREE_S = 0.5  # the device still drives this long after our PAUSE: ESTOP


# ----------------------------------------------------------------------------- machine


class SessionMachine:
    """See the module docstring. ``handle(input) -> Output`` is the whole interface."""

    def __init__(
        self,
        clinic: ClinicSettings | None = None,
        *,
        wall_clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.clinic = clinic or ClinicSettings()
        problems = self.clinic.validate()
        if problems:
            raise ValueError("clinic settings: " + "; ".join(problems))
        self._wall = wall_clock or (lambda: datetime.now(UTC))
        self.state = SessionState.IDLE
        self.device: DeviceLimits | None = None
        self.client_id: str | None = None
        self.client_limit_ua: float | None = None
        self.screening_passed = False
        self.training = False
        self.zone_rules: tuple[ZoneRule, ...] = ()
        self.comfort_ua: dict[str, float] = {}
        # the step whose comfortable level is still to be recorded: (zones, output seen)
        self._comfort_step: tuple[str, ...] = ()
        self._comfort_due = False
        self.contact = False
        self.program: Program | None = None
        self.run: GuidedRun | None = None
        self.manual_zone: str | None = None
        self.electrode_area_cm2 = self.clinic.electrode_area_cm2
        self.target_ua = 0.0  # what the operator asks for in this step (before limits)
        self.commanded_ua = 0.0  # the amplitude of the last SET_OUTPUT
        self.output_on = False  # START/RESUME sent and not since PAUSE/STOP/ESTOP/loss
        self.output_s = 0.0  # seconds of output in this session (for the automatic off)
        self.charge = ChargeMeter()
        self._last_tick: float | None = None
        # the last decision() and what it was made from (ten statuses and ten ticks a
        # second ask again with nothing changed: the stack is built only for new inputs)
        self._decided: tuple[tuple, LimitDecision] | None = None
        self._phase_s = 0.0  # time spent in RAMPING_UP / RAMPING_DOWN / awaiting reset
        self._awaiting_reset = False
        self._awaiting_reset_s = 0.0
        self._reset_answered = False  # the device acknowledged the RESET we await
        self._device_reported: DeviceState | None = None  # the last state the device reported
        self._disagree_s = 0.0  # how long the device has driven while we want output off
        self.device_lent = False  # another workspace drives the device (no session here)
        self._out = Output()

    # ------------------------------------------------------------------ queries

    @property
    def step(self) -> ProgramStep | None:
        return None if self.run is None else self.run.step

    def zones(self) -> tuple[str, ...]:
        step = self.step
        if step is None:
            return ()
        if step.zones:
            return step.zones
        return (self.manual_zone,) if self.manual_zone else ()

    def limit_stack(self) -> LimitStack:
        """Every layer's ceiling for the present step (for the limits display)."""
        step = self.step
        return build_stack(
            self.device,
            self.clinic,
            self.zones(),
            self.client_limit_ua,
            None if step is None else step.amplitude_ua,
            self.zone_rules,
        )

    def decision(self, requested_ua: float | None = None) -> LimitDecision:
        """The limit decision for ``requested_ua`` (default: the operator's target)."""
        step = self.step
        key = (
            self.target_ua if requested_ua is None else requested_ua,
            self.device,
            self.clinic,
            self.zones(),
            self.client_limit_ua,
            None if step is None else step.amplitude_ua,
            self.zone_rules,
        )
        decided = self._decided
        if decided is not None and decided[0] == key:
            return decided[1]
        out = clamp_amplitude(key[0], self.limit_stack())
        self._decided = (key, out)
        return out

    @property
    def ceiling_ua(self) -> float:
        return self.decision().ceiling_ua

    def density(self) -> DensityReading:
        return current_density(
            self.commanded_ua if self.output_on else self.decision().allowed_ua,
            self.electrode_area_cm2,
            self.clinic.density_warn_ua_per_cm2,
        )

    def guided_view(self) -> GuidedView | None:
        return None if self.run is None else self.run.view()

    def missing(self) -> list[str]:
        """What stands between idle and ready, in words for the operator."""
        out = []
        if self.client_id is None:
            out.append("choose a client")
        elif not self.screening_passed:
            out.append("the client may not be treated now (screening or consent: see their record)")
        if self.program is None:
            out.append("choose a program")
        if self.device is None:
            out.append("connect the device")
        if not self.contact:
            out.append("place the probes on the skin (no contact)")
        return out

    def comfort_for(self, zones: tuple[str, ...]) -> float | None:
        """The comfortable intensity remembered for a step on ``zones`` (the lowest of
        them; None unless every zone has one)."""
        if not zones or any(z not in self.comfort_ua for z in zones):
            return None
        return min(self.comfort_ua[z] for z in zones)

    def _starting_target(self, step: ProgramStep) -> float:
        comfort = self.comfort_for(step.zones)
        return step.amplitude_ua if comfort is None else min(comfort, step.amplitude_ua)

    def settings(self) -> OutputSettings | None:
        step = self.step
        if step is None:
            return None
        return replace(step.output, amplitude_ua=self.commanded_ua)

    # ------------------------------------------------------------------ plumbing

    def _record(self, kind: str, message: str, **data: Any) -> None:
        self._out.records.append(SessionRecord(self._wall(), kind, self.state.value, message, data))

    def _command(self, kind: CommandKind, settings: OutputSettings | None = None) -> None:
        self._out.commands.append(DeviceCommand(kind, settings))
        data: dict[str, Any] = {"command": kind.value}
        if settings is not None:
            data.update(
                amplitude_ua=settings.amplitude_ua,
                frequency_hz=settings.frequency_hz,
                waveform=settings.waveform.name.lower(),
                polarity=settings.polarity.name.lower(),
                alternate_s=settings.alternate_s,
                ramp_s=settings.ramp_s,
            )
        self._record("command", f"sent {kind.value}", **data)

    def _alarm(self, text: str) -> None:
        self._out.alarms.append(text)
        self._record("alarm", text)

    def _notice(self, text: str) -> None:
        self._out.notices.append(text)

    def _go(self, new: SessionState, why: str) -> None:
        if new is self.state:
            return
        if new is not SessionState.RUNNING:
            self._record_comfort()
        old = self.state
        self.state = new
        self._phase_s = 0.0
        self._record(
            "transition", f"{old.value} -> {new.value}: {why}", previous=old.value, reason=why
        )

    def _send_output(self, amplitude_ua: float) -> None:
        step = self.step
        assert step is not None
        problem = self._frequency_problem(step)
        if problem:  # never send what the device cannot do; stop a session under way
            self._alarm(f"step {self.run.index + 1 if self.run else 1}: {problem}")
            if self.state in ACTIVE:
                self._stop("the step cannot run on this device")
            return
        self.commanded_ua = amplitude_ua
        self._command(CommandKind.SET_OUTPUT, replace(step.output, amplitude_ua=amplitude_ua))

    def _output_off(self) -> None:
        self.output_on = False

    def _refresh_ready(self) -> None:
        if self.state is SessionState.IDLE and not self.missing():
            self._go(SessionState.READY, "client, screening, program, device and contact ready")
        elif self.state is SessionState.READY and self.missing():
            self._go(SessionState.IDLE, "; ".join(self.missing()))

    def _apply_limits(self) -> None:
        """Bring the commanded amplitude under the binding limit at once, if it is above."""
        d = self.decision()
        if self.target_ua > d.ceiling_ua:
            self.target_ua = d.ceiling_ua
        if self.state in ACTIVE and self.commanded_ua > d.allowed_ua + 1e-9:
            self._record("limit", d.explanation, layer=d.layer.value, ceiling_ua=d.ceiling_ua)
            self._send_output(d.allowed_ua)

    def _record_comfort(self) -> None:
        """The step that had output ends (or pauses): its level is the comfortable one."""
        if not self._comfort_due or not self._comfort_step or self.training:
            self._comfort_due = False
            return
        self._comfort_due = False
        zones = self._comfort_step
        # never above the limits in force on those zones now (a limit lowered during the
        # step, here or in another room): the level offered next time must be allowed.
        # Only the layers that set one (a link lost as the step ends is no comfort level
        # of 0 µA); a damaged ceiling counts as 0, as in every decision.
        stack = build_stack(
            self.device, self.clinic, zones, self.client_limit_ua, None, self.zone_rules
        )
        level = min(
            [self.target_ua] + [v if math.isfinite(v) else 0.0 for _layer, v in stack.ceilings()]
        )
        for z in zones:
            self.comfort_ua[z] = level
        self._record(
            "comfort",
            f"comfortable level {level:g} µA on " + ", ".join(zone_name(z) for z in zones),
            zones=list(zones),
            intensity_ua=level,
        )

    def _skip_excluded(self) -> bool:
        """Skip the steps, from the present one, on a zone the client's screening
        excludes, each with its reason. True if the run finished that way."""
        run = self.run
        assert run is not None
        while not run.finished:
            rule = excluded_zone(self.zone_rules, run.step.zones)
            if rule is None:
                return False
            why = f"{zone_name(rule.zone)} is excluded for this client ({rule.reason})"
            self._record(
                "zone_skipped",
                f"step {run.index + 1}/{run.step_count}: {run.step.name} skipped: {why}",
                index=run.index,
                name=run.step.name,
                zones=list(run.step.zones),
                zone=rule.zone,
                reason=rule.reason,
                item_id=rule.item_id,
                planned_s=run.step.duration_s,
            )
            self._notice(f"step {run.index + 1} skipped: {why}")
            run.skip()
        return True

    def _record_overrides(self, zones: tuple[str, ...]) -> None:
        """Treating a zone whose exclusion the practitioner overrode: said in the session."""
        for rule in self.zone_rules:
            if rule.overridden and rule.zone in zones:
                self._record(
                    "zone_override",
                    f"{zone_name(rule.zone)} treated despite {rule.reason}: "
                    "override acknowledged in the screening",
                    zone=rule.zone,
                    reason=rule.reason,
                    item_id=rule.item_id,
                )

    def _enter_step(self, why: str) -> None:
        """A new step became current: set its target and, under way, its output."""
        self._record_comfort()
        assert self.run is not None
        if self.state in ACTIVE and self._skip_excluded():
            self._record("step", "last steps skipped: program complete")
            self._stop("program complete")
            return
        step = self.step
        assert step is not None
        self.target_ua = self._starting_target(step)
        d = self.decision()
        self.target_ua = d.allowed_ua
        comfort = self.comfort_for(step.zones)
        self._record(
            "step",
            f"step {self.run.index + 1}/{self.run.step_count}: {step.name} ({why})",
            index=self.run.index,
            name=step.name,
            zones=list(step.zones),
            target_ua=self.target_ua,
            layer=d.layer.value,
            comfort_ua=comfort,
        )
        self._comfort_step = step.zones
        if self.state in ACTIVE:
            self._record_overrides(self.zones())
            problem = self._frequency_problem(step)
            if problem:
                self._alarm(f"step {self.run.index + 1}: {problem}; stopping")
                self._stop("the step cannot run on this device")
                return
            # Never step up in one go: keep the present level (or less) and ramp in.
            self._send_output(min(self.commanded_ua, d.allowed_ua))

    def _frequency_problem(self, step: ProgramStep) -> str | None:
        if self.device is None:
            return "no device connected"
        return self.device.frequency_problem(step.output.frequency_hz)

    def _stop(self, why: str) -> None:
        self._command(CommandKind.STOP)
        self._output_off()
        self._go(SessionState.RAMPING_DOWN, why)

    def _latch(self, state: SessionState, why: str, *, send_estop: bool = False) -> None:
        if send_estop:
            self._command(CommandKind.ESTOP)
        self._output_off()
        self._awaiting_reset = False
        self._go(state, why)

    def _run_under_way(self) -> bool:
        """The program has been partly run (a step begun, time or charge delivered)."""
        run = self.run
        return run is not None and (run.index > 0 or run.step_elapsed_s > 0 or self.output_s > 0)

    def _new_session(self) -> None:
        self.charge.reset()
        self.output_s = 0.0
        if self.program is not None:
            self.run = GuidedRun(self.program)
            step = self.step
            assert step is not None
            self.target_ua = self.decision(self._starting_target(step)).allowed_ua
            self._comfort_step = step.zones
        self.commanded_ua = 0.0

    # ------------------------------------------------------------------ dispatch

    def handle(self, event: object) -> Output:
        self._out = Output()
        handler = getattr(self, "_on_" + type(event).__name__, None)
        if handler is None:
            raise TypeError(f"the session machine does not take {type(event).__name__}")
        handler(event)
        return self._out

    # operator -----------------------------------------------------------

    def _on_LendDevice(self, e: LendDevice) -> None:
        if e.lent == self.device_lent:
            return
        if e.lent and self.state in ACTIVE:
            self._notice("a treatment session is under way: the device stays with it")
            return
        self.device_lent = e.lent
        self._record(
            "device",
            f"device lent to the {e.to} workspace"
            if e.lent
            else "device back with the treatment desk",
            lent=e.lent,
        )

    def _on_ChooseClient(self, e: ChooseClient) -> None:
        if self.state not in (SessionState.IDLE, SessionState.READY, SessionState.COMPLETE):
            self._notice("finish or stop the session before changing the client")
            return
        problem = self._client_limit_problem(e.limit_ua)
        if problem:
            self._notice(f"client {e.client_id} not chosen: {problem}")
            return
        if self.state is SessionState.COMPLETE:
            self._new_session()
            self._go(SessionState.IDLE, "new session")
        elif e.client_id != self.client_id and self._run_under_way():
            # a program part done for one client (stopped and reset) is not carried on
            # for another: the new client starts the program from its beginning
            self._new_session()
            self._record("session", "program started again from step 1 for another client")
        self.client_id = e.client_id
        self.client_limit_ua = e.limit_ua
        self.screening_passed = e.screening_passed
        self.training = e.training
        self.zone_rules = tuple(e.zone_rules)
        self.comfort_ua = dict(e.comfort_ua)
        if self.run is not None and self.state not in ACTIVE:
            # this client's comfortable level for the present step
            step = self.step
            assert step is not None
            self.target_ua = self.decision(self._starting_target(step)).allowed_ua
        self._record(
            "client",
            f"client {e.client_id} chosen",
            client_id=e.client_id,
            limit_ua=e.limit_ua,
            screening_passed=e.screening_passed,
            training=e.training,
        )
        if not e.screening_passed:
            self._notice("the client may not be treated now (screening or consent): no treatment")
        self._apply_limits()
        self._refresh_ready()

    def _on_ClearClient(self, e: ClearClient) -> None:
        if self.state not in (SessionState.IDLE, SessionState.READY, SessionState.COMPLETE):
            self._notice("finish or stop the session before changing the client")
            return
        self.client_id = None
        self.client_limit_ua = None
        self.screening_passed = False
        self.training = False
        self.zone_rules = ()
        self.comfort_ua = {}
        self._record("client", "client cleared")
        self._refresh_ready()

    def _on_ClientUpdated(self, e: ClientUpdated) -> None:
        if e.client_id != self.client_id:
            return
        if not self.output_on:  # learnt during a step, kept until it ends
            self.comfort_ua = dict(e.comfort_ua)
        if tuple(e.zone_rules) != self.zone_rules:
            self.zone_rules = tuple(e.zone_rules)
            self._record(
                "client",
                "the client's zone screening changed in the record",
                zones=[
                    {"zone": r.zone, "max_ua": r.max_ua, "overridden": r.overridden}
                    for r in self.zone_rules
                ],
            )
            self._apply_limits()
        if self._client_limit_problem(e.limit_ua) is None and e.limit_ua != self.client_limit_ua:
            before = self.client_limit_ua
            self.client_limit_ua = e.limit_ua
            self._record(
                "parameter",
                f"client limit changed in the record: {before} -> {e.limit_ua} µA",
                limit_ua=e.limit_ua,
                previous_ua=before,
            )
            self._apply_limits()
        if e.screening_passed == self.screening_passed:
            return
        self.screening_passed = e.screening_passed
        if e.screening_passed:
            self._record(
                "client", "client cleared for treatment in the record", screening_passed=True
            )
        else:
            why = f"the client may no longer be treated: {e.reason or 'screening not passed'}"
            self._record("client", why, screening_passed=False, reason=e.reason)
            if self.state in ACTIVE:
                self._alarm(f"{why[0].upper()}{why[1:]}. Output stopped.")
                self._stop(why)
            else:
                self._notice(why)
        self._refresh_ready()

    def _on_OutputRevoked(self, e: OutputRevoked) -> None:
        self._record(
            "limit", f"output stopped by the output authority: {e.reason}", reason=e.reason
        )
        if self.state in ACTIVE:
            self._alarm(f"Output stopped: {e.reason}.")
            self._output_off()
            self._go(SessionState.RAMPING_DOWN, e.reason)

    def _on_OutputLowered(self, e: OutputLowered) -> None:
        self._record(
            "limit",
            f"output lowered by the output authority: {e.reason}",
            reason=e.reason,
            amplitude_ua=e.amplitude_ua,
        )
        self.commanded_ua = min(self.commanded_ua, e.amplitude_ua)
        self.target_ua = min(self.target_ua, e.amplitude_ua)

    def _client_limit_problem(self, limit_ua: float | None) -> str | None:
        if limit_ua is None:
            return None
        if (
            isinstance(limit_ua, bool)
            or not isinstance(limit_ua, int | float)
            or not math.isfinite(limit_ua)
            or limit_ua < 0
        ):
            return f"client limit {limit_ua!r} µA must be a number ≥ 0"
        return None

    def _on_SetClientLimit(self, e: SetClientLimit) -> None:
        problem = self._client_limit_problem(e.limit_ua)
        if problem:
            self._notice(problem + "; limit unchanged")
            return
        self.client_limit_ua = e.limit_ua
        self._record("parameter", f"client limit set to {e.limit_ua} µA", limit_ua=e.limit_ua)
        self._apply_limits()

    def _on_LoadProgram(self, e: LoadProgram) -> None:
        if self.state not in (SessionState.IDLE, SessionState.READY, SessionState.COMPLETE):
            self._notice("stop the session before choosing another program")
            return
        if self.state is SessionState.COMPLETE:
            self._go(SessionState.IDLE, "new session")
        self.program = e.program
        self.manual_zone = None
        self._new_session()
        self._record(
            "program",
            f"program {e.program.id} loaded",
            program_id=e.program.id,
            steps=len(e.program.steps),
            duration_s=e.program.duration_s,
        )
        self._enter_step("program loaded")
        self._refresh_ready()

    def _on_SelectZone(self, e: SelectZone) -> None:
        if e.zone_id is not None and not zone_ids.is_known_zone(e.zone_id):
            self._notice(f"unknown zone {e.zone_id!r}")
            return
        if self.step is not None and self.step.zones:
            self._notice("this step's zones are set by the program")
            return
        self.manual_zone = e.zone_id
        self._record("parameter", f"zone set to {e.zone_id}", zone=e.zone_id)
        self._apply_limits()

    def _on_UpdateClinic(self, e: UpdateClinic) -> None:
        problems = e.settings.validate()
        if problems:
            self._notice("clinic settings refused: " + "; ".join(problems))
            return
        self.clinic = e.settings
        self._record(
            "parameter",
            "clinic settings changed",
            max_current_ua=e.settings.max_current_ua,
            eye_area_max_ua=e.settings.eye_area_max_ua,
        )
        self._apply_limits()

    def _on_SetElectrodeArea(self, e: SetElectrodeArea) -> None:
        if not (
            isinstance(e.area_cm2, int | float)
            and math.isfinite(e.area_cm2)
            and 0.05 <= e.area_cm2 <= 50
        ):
            self._notice(f"electrode area {e.area_cm2!r} cm² is outside 0.05–50 cm²")
            return
        self.electrode_area_cm2 = float(e.area_cm2)
        self._record("parameter", f"electrode area set to {e.area_cm2:g} cm²", area_cm2=e.area_cm2)

    def _on_Start(self, e: Start) -> None:
        if self.state is not SessionState.READY:
            missing = self.missing()
            why = (
                "; ".join(missing)
                if (self.state is SessionState.IDLE and missing)
                else f"cannot start while {self.state.label.lower()}"
            )
            self._notice(why)
            return
        assert self.run is not None
        if self.run.finished:
            self.run.repeat()
        index, elapsed = self.run.index, self.run.step_elapsed_s
        if self._skip_excluded():
            self._notice("every remaining step is on a zone excluded for this client")
            self.run.index, self.run.step_elapsed_s, self.run.finished = index, elapsed, False
            return
        if self.run.index != index:  # excluded steps skipped: the new one's own start
            step = self.step
            assert step is not None
            self.target_ua = self._starting_target(step)
        step = self.step
        assert step is not None
        problem = self._frequency_problem(step)
        if problem:
            self._alarm(f"step {self.run.index + 1}: {problem}")
            return
        self._comfort_step = step.zones
        self._record_overrides(self.zones())
        d = self.decision()
        self.target_ua = d.allowed_ua
        self._send_output(d.allowed_ua)
        self._command(CommandKind.START)
        self.output_on = True
        self.charge.started()
        self._go(SessionState.RAMPING_UP, f"start at {d.allowed_ua:g} µA ({d.explanation})")

    def _on_Pause(self, e: Pause) -> None:
        if self.state not in (SessionState.RUNNING, SessionState.RAMPING_UP):
            self._notice(f"nothing to pause while {self.state.label.lower()}")
            return
        self._command(CommandKind.PAUSE)
        self._output_off()
        self._go(SessionState.PAUSED, "paused by the operator")

    def _on_Resume(self, e: Resume) -> None:
        if self.state not in (SessionState.PAUSED, SessionState.CONTACT_LOST):
            self._notice(f"nothing to resume while {self.state.label.lower()}")
            return
        if not self.contact:
            self._notice("no contact: place the probes on the skin, then resume")
            return
        if self.device is None:
            self._notice("the device is not connected")
            return
        assert self.step is not None
        problem = self._frequency_problem(self.step)
        if problem:
            self._alarm(f"cannot resume: {problem}")
            return
        d = self.decision()
        if self.commanded_ua > d.allowed_ua:
            self._send_output(d.allowed_ua)
        self._command(CommandKind.RESUME)
        self.output_on = True
        self._go(SessionState.RUNNING, "resumed by the operator")

    def _on_Stop(self, e: Stop) -> None:
        if self.state not in ACTIVE:
            self._notice(f"nothing to stop while {self.state.label.lower()}")
            return
        self._stop("stopped by the operator")

    def _on_EmergencyStop(self, e: EmergencyStop) -> None:
        if not e.already_sent:
            self._command(CommandKind.ESTOP)
        else:
            self._record(
                "command",
                "sent estop (by the controller, before any other work)",
                command=CommandKind.ESTOP.value,
            )
        self._output_off()
        self._awaiting_reset = False
        self._go(SessionState.ESTOPPED, "emergency stop by the operator")
        self._alarm("Emergency stop: output off. Reset when it is safe.")

    def _on_Reset(self, e: Reset) -> None:
        if self.state is SessionState.COMPLETE:
            self._new_session()
            self._go(SessionState.IDLE, "new session")
            if self.run is not None:
                self._enter_step("new session")
            self._refresh_ready()
            return
        if not self.state.latched:
            self._notice(f"nothing to reset while {self.state.label.lower()}")
            return
        if self.device is not None:
            self._command(CommandKind.RESET)
            self._awaiting_reset = True
            self._awaiting_reset_s = 0.0
            self._reset_answered = False
        self._output_off()
        self._go(SessionState.IDLE, "reset by the operator")
        self._refresh_ready()

    def _on_IntensityUp(self, e: IntensityUp) -> None:
        self._intensity(+1)

    def _on_IntensityDown(self, e: IntensityDown) -> None:
        self._intensity(-1)

    def _intensity(self, sign: int) -> None:
        if self.step is None:
            self._notice("choose a program first")
            return
        if self.state in (SessionState.RAMPING_DOWN, SessionState.COMPLETE) or self.state.latched:
            self._notice(f"intensity cannot change while {self.state.label.lower()}")
            return
        d = self.decision()
        before = self.target_ua
        new = before + sign * self.clinic.intensity_step_ua
        new = max(0.0, min(new, d.ceiling_ua))
        if sign > 0 and new <= before:
            self._notice(f"at the limit: {d.layer.label} {d.ceiling_ua:g} µA")
            return
        self.target_ua = new
        self._record(
            "parameter",
            f"intensity {before:g} -> {new:g} µA",
            target_ua=new,
            previous_ua=before,
            layer=d.layer.value,
            ceiling_ua=d.ceiling_ua,
        )
        if sign < 0 and self.state in ACTIVE and self.commanded_ua > new:
            self._send_output(new)  # down at once; up is ramped in by the ticks

    def _on_SkipStep(self, e: SkipStep) -> None:
        self._navigate("skip")

    def _on_PreviousStep(self, e: PreviousStep) -> None:
        self._navigate("back")

    def _on_RepeatStep(self, e: RepeatStep) -> None:
        self._navigate("repeat")

    def _navigate(self, how: str) -> None:
        if self.run is None:
            self._notice("choose a program first")
            return
        if self.state in (SessionState.RAMPING_DOWN, SessionState.COMPLETE):
            self._notice(f"steps cannot change while {self.state.label.lower()}")
            return
        getattr(self.run, how)()
        if self.run.finished:
            self._record("step", "last step skipped: program complete")
            if self.state in ACTIVE:
                self._stop("program complete")
            return
        self._enter_step(f"{how} by the operator")

    # device -------------------------------------------------------------

    def _on_LinkConnected(self, e: LinkConnected) -> None:
        self.device = e.limits
        self._record(
            "device",
            "device connected",
            max_current_ua=e.limits.max_current_ua,
            min_frequency_hz=e.limits.min_frequency_hz,
            max_frequency_hz=e.limits.max_frequency_hz,
        )
        if self.state not in ACTIVE and self.step is not None:
            # Without a device every ceiling was 0: the step's level, within the limits
            # now known, is the target again (a program chosen before the device connected).
            self.target_ua = self.decision(self.step.amplitude_ua).allowed_ua
        self._apply_limits()
        self._refresh_ready()

    def _on_LinkLost(self, e: LinkLost) -> None:
        self.device = None
        self.contact = False
        self._awaiting_reset = False
        why = f"link to the device lost{': ' + e.reason if e.reason else ''}"
        self._record("device", why)
        if self.state in ACTIVE or self.state is SessionState.RAMPING_DOWN:
            self._latch(SessionState.LINK_LOST, why)
            self._alarm(
                f"{why[0].upper()}{why[1:]}. The device's watchdog stops "
                "its output; reconnect and reset."
            )
        else:
            self._output_off()
            self._refresh_ready()

    def _on_StatusReceived(self, e: StatusReceived) -> None:
        s = e.status
        if self.state in ACTIVE or self.state is SessionState.RAMPING_DOWN:
            self.charge.update(s.net_charge_uc)
        self._device_state(s.state, s.faults)
        self._contact(bool(s.contact))  # kept current in every state, latched ones too

    def _device_state(self, dstate: DeviceState, faults: Fault = Fault.NONE) -> bool:
        """React to the device's reported state; False if the machine latched."""
        self._device_reported = dstate
        if self._awaiting_reset:
            if not self._reset_answered:
                # sent before the device took our RESET (it answers commands in order):
                # a PAUSED or RUNNING from before the stop must not latch the new session
                return True
            if dstate.latched or faults:
                return True  # a status from before our RESET took effect
            self._awaiting_reset = False
        if self.device_lent and self.state.latched and dstate is DeviceState.IDLE and not faults:
            # Lent to the studio or the bench, which reset the device after a stop there:
            # the desk follows the device (it has no session of its own meanwhile), as
            # its own Reset would have — never a desk left showing "Estopped" and refusing
            # a new client for a device that is idle.
            self._record("device", "the device was reset while lent to another workspace")
            self._output_off()
            self._go(SessionState.IDLE, "device reset while lent")
            self._refresh_ready()
            return True
        if faults or dstate is DeviceState.FAULT:
            if (
                self.state is not SessionState.DEVICE_FAULT
                and self.state is not SessionState.ESTOPPED
            ):
                names = (
                    ", ".join((f.name or "").lower() for f in Fault if f and f in faults) or "fault"
                )
                self._latch(SessionState.DEVICE_FAULT, f"device fault ({names})")
                self._alarm(f"Device fault ({names}): output off.")
            return False
        if dstate is DeviceState.WATCHDOG and self.state is SessionState.LINK_LOST:
            # the expected end of a lost link: the device stopped hearing anyone
            self._record(
                "device",
                "the device's watchdog turned the output off while the link was down, as designed",
            )
            return False
        if dstate is DeviceState.WATCHDOG:
            if (
                self.state is not SessionState.DEVICE_FAULT
                and self.state is not SessionState.ESTOPPED
            ):
                self._latch(SessionState.DEVICE_FAULT, "device watchdog tripped")
                self._alarm(
                    "The device's watchdog stopped output: the console "
                    "stopped answering. Reset when it is safe."
                )
            return False
        if dstate is DeviceState.ESTOPPED:
            # In device_fault we usually sent that ESTOP ourselves: stay, one alarm is enough.
            if self.state not in (SessionState.ESTOPPED, SessionState.DEVICE_FAULT):
                self._latch(SessionState.ESTOPPED, "emergency stop on the device")
                self._alarm("Emergency stop on the device: output off.")
            return False
        if (
            dstate in (DeviceState.RAMP_UP, DeviceState.RUNNING)
            and not self.output_on
            and not self.device_lent
        ):
            if self.state.latched:
                # e.g. reconnected within the watchdog time, or our ESTOP was lost: again.
                self._command(CommandKind.ESTOP)
                return False
            if self.state in (SessionState.IDLE, SessionState.READY, SessionState.COMPLETE):
                why = "the device was driving output outside a session"
                self._latch(SessionState.DEVICE_FAULT, why, send_estop=True)
                self._alarm(f"{why[0].upper()}{why[1:]}: emergency stop sent.")
                return False
        if self.state is SessionState.RAMPING_UP and dstate is DeviceState.RUNNING:
            self._go(SessionState.RUNNING, "device reached the set level")
        elif self.state is SessionState.RUNNING and dstate is DeviceState.IDLE:
            # Reports arrive in order: after the device confirmed RUNNING, IDLE is real.
            why = "the device stopped its output by itself (it reports idle)"
            self._latch(SessionState.DEVICE_FAULT, why)
            self._alarm(
                f"{why[0].upper()}{why[1:]}. Reset, then start again to continue at this step."
            )
            return False
        elif self.state is SessionState.RAMPING_DOWN and dstate is DeviceState.IDLE:
            self._go(SessionState.COMPLETE, "device output off")
            self._record(
                "session",
                "session complete",
                net_charge_uc=self.charge.net_uc,
                output_s=self.output_s,
            )
        return True

    def _contact(self, contact: bool) -> None:
        was = self.contact
        self.contact = contact
        if contact == was:
            return
        self._record("device", "contact made" if contact else "contact lost")
        if not contact and self.state in (SessionState.RAMPING_UP, SessionState.RUNNING):
            # The device stops driving by itself on an open load (its CONTACT_LOST state,
            # left only by RESUME); the console marks output off and stops the timer.
            self._output_off()
            self._go(SessionState.CONTACT_LOST, "contact lost")
            self._alarm("Contact lost: output and timer paused. Place the probes, then resume.")
        elif contact and self.state is SessionState.CONTACT_LOST:
            self._notice("contact back: press Resume to continue")
        self._refresh_ready()

    def _on_ResetAnswered(self, e: ResetAnswered) -> None:
        if self._awaiting_reset:
            self._reset_answered = True

    def _before_our_reset(self, code: EventCode) -> bool:
        """A latched EVENT the device sent before it took the RESET we await (it answers
        commands in order): the echo of the stop the RESET clears — an ESTOP pressed a
        moment before Reset must not latch the new session again."""
        if not self._awaiting_reset or self._reset_answered:
            return False
        # a change of state too (a PAUSE's, before the ESTOP): it would end the wait
        return code in (
            EventCode.ESTOP,
            EventCode.WATCHDOG_TRIP,
            EventCode.FAULT,
            EventCode.STATE_CHANGED,
        )

    def _on_DeviceEventReceived(self, e: DeviceEventReceived) -> None:
        ev = e.event
        code = ev.code
        self._record(
            "device",
            f"device event {code.name.lower()}",
            code=code.name.lower(),
            arg=ev.arg,
            text=ev.text,
        )
        if self._before_our_reset(code):
            return
        if code is EventCode.CONTACT_LOST:
            self._contact(False)
        elif code is EventCode.CONTACT_RESTORED:
            self._contact(True)
        elif code is EventCode.WATCHDOG_TRIP:
            self._awaiting_reset = False
            self._device_state(DeviceState.WATCHDOG)
        elif code is EventCode.FAULT:
            self._awaiting_reset = False
            self._device_state(DeviceState.FAULT, Fault(ev.arg & 0xFF) or Fault.INTERNAL)
        elif code is EventCode.ESTOP:
            self._awaiting_reset = False
            self._device_state(DeviceState.ESTOPPED)
        elif code is EventCode.RAMP_COMPLETE:
            if self.state is SessionState.RAMPING_UP:
                self._go(SessionState.RUNNING, "device reached the set level")
            elif self.state is SessionState.RAMPING_DOWN:
                self._device_state(DeviceState.IDLE)
        elif code is EventCode.STATE_CHANGED:
            try:
                dstate = DeviceState(ev.arg)
            except ValueError:
                return
            if dstate.latched:
                self._awaiting_reset = False
            self._device_state(dstate)
        elif code is EventCode.LIMIT_REFUSED:
            detail = f": {ev.text}" if ev.text else ""
            self._alarm(f"The device refused a setting above its limit{detail}.")
        elif code is EventCode.COMPLIANCE:
            self._notice(
                "compliance voltage reached: the device cannot drive the set current "
                "(check contact and gel)"
            )

    def _on_CommandRefused(self, e: CommandRefused) -> None:
        what = f"the device refused {e.command.value}: {e.reason}"
        if self.device is None:  # no link: the refusal only says the command was not sent
            self._record("device", what)
            return
        if e.command in (CommandKind.START, CommandKind.RESUME) and self.state in (
            SessionState.RAMPING_UP,
            SessionState.RUNNING,
        ):
            self._output_off()
            if e.command is CommandKind.START:
                self._go(SessionState.IDLE, what)
                self._refresh_ready()
            else:
                self._go(SessionState.PAUSED, what)
            self._alarm(what[0].upper() + what[1:])
        elif e.command is CommandKind.SET_OUTPUT and self.state in (
            SessionState.RAMPING_UP,
            SessionState.RUNNING,
        ):
            self._command(CommandKind.PAUSE)
            self._output_off()
            self._go(SessionState.PAUSED, what)
            self._alarm(what[0].upper() + what[1:] + "; output paused")
        elif e.command is CommandKind.STOP and self.state is SessionState.RAMPING_DOWN:
            self._latch(SessionState.DEVICE_FAULT, what, send_estop=True)
            self._alarm(what[0].upper() + what[1:] + "; emergency stop sent")
        elif e.command is CommandKind.ESTOP:
            self._latch(SessionState.DEVICE_FAULT, what)
            self._alarm(what[0].upper() + what[1:] + ": switch the device off at its power switch")
        elif e.command is CommandKind.RESET:
            self._awaiting_reset = False
            if self.state is SessionState.IDLE or self.state is SessionState.READY:
                self._go(SessionState.DEVICE_FAULT, what)
            self._alarm(what[0].upper() + what[1:])
        else:
            self._record("device", what)

    # timer --------------------------------------------------------------

    def _on_Tick(self, e: Tick) -> None:
        last, self._last_tick = self._last_tick, e.now
        if last is None:
            return
        dt = min(max(0.0, e.now - last), MAX_TICK_S)
        if self._awaiting_reset:
            self._awaiting_reset_s += dt
            if self._awaiting_reset_s > self.clinic.confirm_timeout_s:
                self._awaiting_reset = False  # the next latched status counts again
        if self.state in (
            SessionState.PAUSED,
            SessionState.CONTACT_LOST,
        ) and self._device_reported in (DeviceState.RAMP_UP, DeviceState.RUNNING):
            # Paused here, driving there: a status from before our PAUSE lasts ~0.1 s;
            # longer, the PAUSE was lost.
            self._disagree_s += dt
            if self._disagree_s > DISAGREE_S:
                why = f"the device kept driving {DISAGREE_S:g} s after output was paused here"
                self._latch(SessionState.DEVICE_FAULT, why, send_estop=True)
                self._alarm(f"{why[0].upper()}{why[1:]}: emergency stop sent.")
                return
        else:
            self._disagree_s = 0.0
        step = self.step
        if self.state in (SessionState.RAMPING_UP, SessionState.RAMPING_DOWN):
            self._phase_s += dt
            limit = (step.output.ramp_s if step else 0.0) + self.clinic.confirm_timeout_s
            if self._phase_s > limit:
                which = "start" if self.state is SessionState.RAMPING_UP else "stop"
                why = f"the device did not confirm the {which} within {limit:g} s"
                self._latch(SessionState.DEVICE_FAULT, why, send_estop=True)
                self._alarm(f"{why[0].upper()}{why[1:]}: emergency stop sent.")
                return
        if self.state is not SessionState.RUNNING or self.run is None:
            return
        self.output_s += dt
        self._comfort_due = True  # this step has had output: its level is worth keeping
        if self.output_s >= self.clinic.max_session_s:
            self._alarm(
                f"Automatic off after {self.clinic.max_session_s / 60:g} minutes of output."
            )
            self._stop("automatic off")
            return
        if self.run.advance(dt):
            if self.run.finished:
                self._record("step", "last step complete")
                self._stop("program complete")
                return
            self._enter_step("countdown ended")
            if self.state is not SessionState.RUNNING:
                return
        self._slew(dt)

    def _slew(self, dt: float) -> None:
        d = self.decision()
        goal = d.allowed_ua
        if self.commanded_ua > goal + 1e-9:
            self._send_output(goal)
        elif self.commanded_ua < goal - 1e-9:
            self._send_output(min(goal, self.commanded_ua + self.clinic.slew_ua_per_s * dt))
