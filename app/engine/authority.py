"""The output authority: the only code that can make the device deliver current.

Every path that raises output — the desk's guided treatment, the headless ``run``
command, the trainer's studio, the technician's manual output and bench procedures
(calibration, self-test, watchdog test), ``--demo`` — *asks* :class:`OutputAuthority`.
It alone holds the device link's raising commands (SET_OUTPUT, START, RESUME: the link
refuses them from anyone else, app.device.interface), and it decides every time from the
facts as they are *now*:

* **who drives** (:class:`Driver`): one driver owns the device at a time; the device
  passes to another only while its output is off (a studio or bench output is stopped
  first; a treatment under way keeps it);
* **the live limit stack** (app.engine.limits): the device's hard limit, the clinic
  maximum, the zone limit, the client's own limit (with the per-zone ceilings of the
  client's screening: "client zone: metal implant (Masseter, client's left)") and the
  step (or a procedure's declared maximum) — the lowest binds and the decision names it;
* **the client's excluded zones** (a filler site, a lesion: app.store.screening): output
  on such a zone is refused — SET_OUTPUT, START and RESUME — unless the practitioner
  acknowledged an override in the screening (stored with it; the desk records the
  override in the session's events); an exclusion that appears while output runs on
  the zone stops it;
* **eligibility**, for the drivers that treat a client (desk, ``run``): the client's
  screening, consent and expiry as last read from the store (app.store.eligibility), no
  older than ``max_facts_age_s``. Studio and bench drive a training or service load and
  never a client's treatment.

The clinic's limits are the store's (one row shared by every room): the authority
follows them itself (:meth:`OutputAuthority.follow_clinic`, a
:class:`app.engine.clinic_watch.ClinicSettingsWatch`), converting each reading with
app.engine.clinic_settings, so every console and ``run`` obey the same stored limits
without anyone passing them on. This room's save reaches it at once (the watch reads
after the writer's commit), another room's within about a second.

When a fact changes (a screening saved as blocked, consent withdrawn, a limit lowered —
in this room or another, a records failure), :meth:`OutputAuthority._enforce` lowers the
present output to the new ceiling at once, or stops it, and says why
(``output_lowered`` / ``output_revoked``); the driver records it. Lowering output (PAUSE,
STOP, ESTOP) and RESET stay open to every caller and act at once; ESTOP is written
ahead of anything queued.

QtCore only (signals and one timer); the decisions themselves are the pure functions of
app.engine.limits.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum

from PySide6.QtCore import QObject, Signal, Slot

from app.device.interface import DeviceInterface
from app.device.protocol import DeviceState, Info, Nak, SimOp, Status
from app.device.waveform import OutputSettings
from app.engine.clinic_settings import settings_from_dict
from app.engine.limits import (
    ClinicSettings,
    DeviceLimits,
    LimitDecision,
    LimitStack,
    build_stack,
    clamp_amplitude,
    excluded_zone,
    exclusion_text,
)
from app.store.vocabulary import ClientFacts

FACTS_MAX_AGE_S = 3.0  # a client's record read longer ago than this counts as unknown
# A device still driving (RAMP_UP/RUNNING) this long after STOP/PAUSE/ESTOP, or driving
# output nobody here started, gets an emergency stop (the command was lost).
UNCOMMANDED_S = 1.5
# A device's setpoint above the live ceiling by more than this (its own rounding) is
# stopped at once: settings the device did not take, or took from someone else.
SETPOINT_TOLERANCE_UA = 1.0


class Driver(Enum):
    """Who is asking for output. Only the desk and ``run`` treat a client."""

    DESK = "desk"
    RUN = "run"
    STUDIO = "studio"
    BENCH = "bench"

    @property
    def label(self) -> str:
        return {
            "desk": "treatment desk",
            "run": "run command",
            "studio": "trainer's studio",
            "bench": "technician's bench",
        }[self.value]

    @property
    def treats_client(self) -> bool:
        return self in (Driver.DESK, Driver.RUN)


class OutputRefused(Exception):
    """The authority will not raise output now; the message says why, for the operator."""


@dataclass(frozen=True, slots=True)
class Grant:
    """A SET_OUTPUT the authority sent: the settings as clamped, and the decision."""

    request_id: int
    settings: OutputSettings
    decision: LimitDecision

    @property
    def note(self) -> str:
        """What lowered the amplitude on its way to the device, for the operator ('' if
        nothing did): the limits' own explanation, the one wording of every screen."""
        return f"{self.decision.explanation}." if self.decision.clamped else ""


@dataclass(frozen=True, slots=True)
class _PendingStart:
    """A :meth:`OutputAuthority.start_with` under way: START waits for the settings' ACK."""

    driver: Driver
    settings_rid: int
    settings: OutputSettings  # as sent (after the limits)
    start_rid: int | None = None  # START sent, its answer awaited


@dataclass(frozen=True, slots=True)
class _Context:
    """What the present output was asked for: its driver, zones and step ceiling."""

    driver: Driver
    zones: tuple[str, ...] = ()
    step_ua: float | None = None
    step_label: str = ""


class OutputAuthority(QObject):
    """See the module docstring. One per console (and one per ``run``)."""

    # The link's signals, re-emitted: drivers follow the authority, not a particular link.
    connected = Signal(object)  # Info
    disconnected = Signal(str)
    status_received = Signal(object)  # Status
    event_received = Signal(object)  # Event
    command_answered = Signal(int, object)  # request id, Ack | Nak
    command_failed = Signal(int, str)

    owner_changed = Signal(object)  # Driver: who drives the device now
    facts_changed = Signal(object)  # ClientFacts: a new reading of the watched client
    limits_changed = Signal()  # clinic, device or client facts changed: ask ceiling() again
    # follow_clinic(): a new reading of the store's clinic row (app.store.clinic.ClinicRecord)
    # and what was wrong in it (list[str]: those values' defaults are in force), after the
    # limits in it were applied
    clinic_read = Signal(object, object)
    output_commanded = Signal(object)  # OutputSettings as sent (after the limits)
    output_lowered = Signal(object, str)  # Driver, why: present output lowered to a limit
    output_revoked = Signal(object, str)  # Driver, why: present output stopped
    # start_with(): the device accepted the settings and then START (OutputSettings as
    # sent), or the start did not happen (why, for the operator)
    output_started = Signal(object, object)  # Driver, OutputSettings
    start_abandoned = Signal(object, str)  # Driver, why

    def __init__(
        self,
        clinic: ClinicSettings | None = None,
        *,
        owner: Driver = Driver.DESK,
        clock: Callable[[], float] = time.monotonic,
        max_facts_age_s: float = FACTS_MAX_AGE_S,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._clinic = clinic or ClinicSettings()
        self._clock = clock
        self._max_age_s = float(max_facts_age_s)
        self._link: DeviceInterface | None = None
        self._link_slots: list = []
        self._device: DeviceLimits | None = None
        self._device_state: DeviceState | None = None
        self._owner = owner
        self._pending_owner: Driver | None = None
        self._watch = None  # app.engine.client_watch.ClientWatch
        self._watching: int | None = None
        self._client: ClientFacts | None = None
        self._announce_facts = False  # set by watch_client(): emit the next reading
        self._clinic_watch = None  # app.engine.clinic_watch.ClinicSettingsWatch
        self._clinic_record = None  # its last reading applied (app.store.clinic.ClinicRecord)
        self._commanded: OutputSettings | None = None
        self._context: _Context | None = None
        self._started = False  # START/RESUME sent, not since PAUSE/STOP/ESTOP/RESET/loss
        self._seen_on = False  # the device has reported output since that START/RESUME
        # the device's own clock (STATUS uptime, ms) when STOP/PAUSE/ESTOP/RESET was last
        # sent: a STATUS still driving well after it means the command was lost (measured
        # on the device's clock, so a busy GUI thread reading old STATUS late is no sign)
        self._lowered_at: int | None = None
        self._uptime_ms: int | None = None  # the newest STATUS's uptime
        self._latched = False  # an emergency stop here: no output until a RESET
        self._settings_rid: int | None = None  # the last SET_OUTPUT, until it is answered
        # a lowering SET_OUTPUT the device has not answered yet: (its request id, the
        # amplitude it lowers from, the device's uptime (ms) when it was sent); until the
        # answer the device's STATUS may still show the old setpoint
        self._lowering: tuple[int, float, int | None] | None = None
        self._start_after: _PendingStart | None = None  # start_with() waiting for answers

    # ------------------------------------------------------------------ facts in

    def now(self) -> float:
        """The authority's clock (the age of a client's facts is measured on it)."""
        return self._clock()

    @property
    def link(self) -> DeviceInterface | None:
        return self._link

    @property
    def clinic(self) -> ClinicSettings:
        return self._clinic

    @property
    def device_limits(self) -> DeviceLimits | None:
        return self._device

    @property
    def owner(self) -> Driver:
        return self._owner

    @property
    def client(self) -> ClientFacts | None:
        """The newest reading of the watched client (None: none chosen or not read yet)."""
        return self._client

    @property
    def commanded(self) -> OutputSettings | None:
        return self._commanded

    @property
    def output_held(self) -> bool:
        """Output is on, ramping, or paused within a run (it can come back by RESUME)."""
        st = self._device_state
        return self._started or (
            st is not None
            and (st.output_possible or st in (DeviceState.PAUSED, DeviceState.CONTACT_LOST))
        )

    def set_link(self, link: DeviceInterface | None) -> None:
        """Hold ``link`` (it refuses raising commands from anyone else from now on)."""
        if link is not None:
            link.bind_authority(self)  # first: a link bound elsewhere changes nothing here
        for sig, slot in self._link_slots:
            with contextlib.suppress(RuntimeError, TypeError):  # the old link is gone
                sig.disconnect(slot)
        self._link_slots = []
        self._cancel_start("the device link changed")
        self._link = link
        self._started = False
        self._commanded = self._context = None
        self._settings_rid = None
        self._lowering = None
        self._device = None
        self._device_state = None
        if link is None:
            self.limits_changed.emit()
            return
        self._link_slots = [
            (link.connected, self._on_connected),
            (link.disconnected, self._on_disconnected),
            (link.status_received, self._on_status),
            (link.event_received, self.event_received),
            (link.command_answered, self._on_answered),
            (link.command_failed, self._on_failed),
        ]
        for sig, slot in self._link_slots:
            sig.connect(slot)
        info = link.info
        if link.is_connected and isinstance(info, Info):
            self._device = DeviceLimits.from_info(info)
        self.limits_changed.emit()

    def set_clinic(self, clinic: ClinicSettings) -> None:
        """The clinic's limits changed: applied to output at once (a lowered maximum lowers
        present output; a raised one raises nothing by itself). An authority following
        the store (:meth:`follow_clinic`) gets them from each reading; a console without
        records sets them here."""
        problems = clinic.validate()
        if problems:
            raise ValueError("clinic settings: " + "; ".join(problems))
        self._clinic = clinic
        self._lower_held()  # first: the drivers hear of it as a lowering, then the new limits
        self.limits_changed.emit()
        self._enforce()

    @property
    def follows_clinic(self) -> bool:
        """The clinic's limits come from the store (:meth:`follow_clinic`)."""
        return self._clinic_watch is not None

    @property
    def clinic_record(self):
        """The last reading of the store's clinic row applied here (None: none yet)."""
        return self._clinic_record

    def follow_clinic(self, watch) -> None:
        """Take the clinic's limits from the store from now on: each reading of ``watch``
        (an app.engine.clinic_watch.ClinicSettingsWatch) is applied at once — a lowered
        maximum lowers present output, a raised one raises nothing by itself — and then
        announced (``clinic_read``). A store with no clinic settings yet leaves the limits
        as they are (the defaults)."""
        self._clinic_watch = watch
        watch.record_read.connect(self._on_clinic_record)
        latest = watch.latest  # the first reading may have come before the connection
        if latest is not None:
            self._on_clinic_record(latest)

    @Slot(object)
    def _on_clinic_record(self, record) -> None:
        if record == self._clinic_record:
            return  # the same reading again (the latest, then its queued signal)
        self._clinic_record = record
        problems: list[str] = []
        if record.exists:
            clinic, problems = settings_from_dict(record.settings)
            if clinic != self._clinic:
                try:
                    self.set_clinic(clinic)
                except ValueError as exc:
                    problems = [*problems, f"{exc}: the limits in force are kept"]
        self.clinic_read.emit(record, problems)

    def set_watch(self, watch) -> None:
        """Read client facts from ``watch`` (an app.engine.client_watch.ClientWatch)."""
        self._watch = watch
        watch.facts_read.connect(self.set_client_facts)
        if self._watching is not None:
            watch.watch(self._watching)

    def watch_client(self, client_id: int | None) -> bool:
        """Treat ``client_id`` from now on (its facts arrive from the watch); False while a
        client's treatment holds the output."""
        if client_id == self._watching:
            self._announce_facts = True  # the next reading is news, even if unchanged
            if self._watch is not None:
                self._watch.poke()
            return True
        if self.output_held and self._owner.treats_client:
            return False
        self._watching = client_id
        self._client = None
        self.limits_changed.emit()
        if self._watch is not None:
            self._watch.watch(client_id)
        return True

    @Slot(object)
    def set_client_facts(self, facts: ClientFacts) -> None:
        """A reading of a client's record (from the watch; tests hand their own)."""
        if self._watching is None or facts.client_id != self._watching:
            if self._watch is not None:
                return  # a reading for a client no longer watched
            self._watching = facts.client_id
        old = self._client
        self._client = facts
        # first the held output (lowered to a lowered limit, or stopped for a client who
        # may not be treated now), then the news: the lowering or stop is the authority's
        # on every path, and its drivers hear of it as such
        self._enforce()
        # The watch reads twice a second: a reading that differs only in its time keeps
        # the facts fresh (checked below) but is no news for the session or the screen.
        if (
            old is None
            or self._announce_facts
            or replace(old, checked_at=facts.checked_at) != facts
        ):
            self._announce_facts = False
            self.facts_changed.emit(facts)
        if old is None or (old.allowed, old.limit_ua, old.error, old.zone_rules) != (
            facts.allowed,
            facts.limit_ua,
            facts.error,
            facts.zone_rules,
        ):
            self.limits_changed.emit()

    def records_failed(self, message: str) -> None:
        """The records cannot be written: no output may go on unrecorded."""
        if self.output_held:
            self._revoke(f"records cannot be saved ({message})")

    # ------------------------------------------------------------------ decisions

    def stack(
        self,
        driver: Driver,
        zones: tuple[str, ...] = (),
        step_ua: float | None = None,
        step_label: str = "",
    ) -> LimitStack:
        """Every layer's ceiling for ``driver`` now. A client's treatment has all five
        layers; the studio and the bench (a training or service load, no face zone) have
        the device, the clinic and their own (step or procedure) ceiling."""
        if driver.treats_client:
            client = self._client
            limit = None if client is None else client.limit_ua
            rules = () if client is None else client.zone_rules
            stack = build_stack(self._device, self._clinic, zones, limit, step_ua, rules)
            return replace(stack, step_label=step_label)
        return LimitStack(
            device=None if self._device is None else self._device.max_current_ua,
            clinic=self._clinic.max_current_ua,
            step=step_ua,
            step_label=step_label,
        )

    def decide(
        self,
        driver: Driver,
        requested_ua: float,
        zones: tuple[str, ...] = (),
        step_ua: float | None = None,
        step_label: str = "",
    ) -> LimitDecision:
        return clamp_amplitude(requested_ua, self.stack(driver, zones, step_ua, step_label))

    def ceiling(
        self,
        driver: Driver,
        zones: tuple[str, ...] = (),
        step_ua: float | None = None,
        step_label: str = "",
        *,
        without_device: bool = False,
    ) -> LimitDecision:
        """The highest amplitude ``driver`` may have now, and the layer that binds.
        ``without_device``: the console's own layers alone, for controls shown while no
        device is connected (nothing is allowed then; this says what will bind)."""
        stack = self.stack(driver, zones, step_ua, step_label)
        if without_device and stack.device is None:
            stack = replace(stack, device=sys.float_info.max)  # no device layer yet
        return clamp_amplitude(stack.binding()[1], stack)

    def problem(self, driver: Driver) -> str | None:
        """Why ``driver`` may not raise output now (None: it may)."""
        if driver is not self._owner:
            return f"the device is with the {self._owner.label}"
        if self._pending_owner is not None:
            return (
                f"the device is passing to the {self._pending_owner.label}: its output "
                "is being stopped"
            )
        if self._latched:
            return "an emergency stop is latched: reset the device first"
        link = self._link
        if link is None or not link.is_connected or self._device is None:
            return "no device connected"
        if driver.treats_client:
            return self._client_problem()
        return None

    def _client_problem(self) -> str | None:
        client = self._client
        if self._watching is None:
            return "no client chosen"
        if client is None:
            return "the client's record is being checked"
        if client.error:
            return client.summary()
        age = self._clock() - client.checked_at
        if age > self._max_age_s:
            return (
                f"the client's record has not been confirmed for {age:.0f} s "
                "(the records cannot be reached)"
            )
        if not (client.allowed or client.is_training):
            return f"the client may not be treated: {client.summary()}"
        return None

    def zone_problem(self, driver: Driver, zones: tuple[str, ...]) -> str | None:
        """Why output on ``zones`` is refused for ``driver``'s client (an excluded zone
        with no acknowledged override), or None."""
        client = self._client
        if not driver.treats_client or client is None:
            return None
        rule = excluded_zone(client.zone_rules, zones)
        return None if rule is None else exclusion_text(rule)

    # ------------------------------------------------------------------ raising (asked)

    def set_output(
        self,
        driver: Driver,
        settings: OutputSettings,
        *,
        zones: tuple[str, ...] = (),
        step_ua: float | None = None,
        step_label: str = "",
    ) -> Grant:
        """Send ``settings`` for ``driver``, the amplitude clamped to the live limits."""
        problem = self.problem(driver)
        if problem is None and self.output_held and driver.treats_client:
            problem = self._client_problem()
        if problem is None:
            problem = self.zone_problem(driver, tuple(zones))
        if problem is not None:
            raise OutputRefused(f"output settings not sent: {problem}")
        self._cancel_start("newer settings were sent")
        context = _Context(driver, tuple(zones), step_ua, step_label)
        return self._send_settings(settings, context)

    def start_with(
        self,
        driver: Driver,
        settings: OutputSettings,
        *,
        zones: tuple[str, ...] = (),
        step_ua: float | None = None,
        step_label: str = "",
    ) -> Grant:
        """Send ``settings`` for ``driver`` and START once the device has accepted them:
        output never runs on settings the device refused or has not taken yet, while a
        screen already shows the new ones. Refused at once (:class:`OutputRefused`) as
        :meth:`set_output` is; after that the outcome arrives as ``output_started`` (the
        device accepted START) or ``start_abandoned`` (settings or START refused or lost,
        the facts changed, or a stop, reset, loss of the link or newer settings came
        first)."""
        grant = self.set_output(
            driver, settings, zones=zones, step_ua=step_ua, step_label=step_label
        )
        self._start_after = _PendingStart(driver, grant.request_id, grant.settings)
        return grant

    def start(self, driver: Driver) -> int:
        """START for ``driver`` (its settings sent first through :meth:`set_output`)."""
        return self._raise(driver, "start")

    def resume(self, driver: Driver) -> int:
        return self._raise(driver, "resume")

    def _raise(self, driver: Driver, what: str) -> int:
        problem = self.problem(driver)
        context = self._context
        if problem is None and (
            self._commanded is None or context is None or context.driver is not driver
        ):
            problem = "no output settings have been sent"
        if problem is None and context is not None:
            problem = self.zone_problem(driver, context.zones)
        if problem is not None:
            raise OutputRefused(
                f"output not {'started' if what == 'start' else 'resumed'}: {problem}"
            )
        assert self._commanded is not None
        assert context is not None
        assert self._link is not None
        # the facts may have changed since the settings were sent: never start above them
        decision = self._decision_for(self._commanded, context)
        if self._commanded.amplitude_ua > decision.allowed_ua + 1e-9:
            self._send_settings(self._commanded, context)
        rid = self._link.start_output(by=self) if what == "start" else self._link.resume(by=self)
        self._started, self._seen_on = True, False
        return rid

    def _decision_for(self, settings: OutputSettings, context: _Context) -> LimitDecision:
        return self.decide(
            context.driver,
            settings.amplitude_ua,
            context.zones,
            context.step_ua,
            context.step_label,
        )

    def _send_settings(self, settings: OutputSettings, context: _Context) -> Grant:
        assert self._link is not None
        decision = self._decision_for(settings, context)
        sent = replace(settings, amplitude_ua=decision.allowed_ua)
        rid = self._link.set_output(sent, by=self)
        self._commanded, self._context = sent, context
        self._settings_rid = rid
        self._lowering = None  # newer settings: the device's answer to these is awaited
        self.output_commanded.emit(sent)
        return Grant(rid, sent, decision)

    # ------------------------------------------------------------------ lowering (anyone)

    def estop(self) -> int | None:
        """Emergency stop: to the link first, synchronously, before any bookkeeping. It
        stays latched here until a RESET: nothing raises output meanwhile."""
        link = self._link
        rid = link.estop() if link is not None else None
        self._off()
        self._latched = True
        return rid

    def stop(self) -> int | None:
        link = self._link
        rid = link.stop_output() if link is not None else None
        self._off()
        return rid

    def pause(self) -> int | None:
        link = self._link
        rid = link.pause() if link is not None else None
        self._off()
        return rid

    def reset(self) -> int | None:
        """RESET: leaves a latched state (the device's and this one); output needs a new
        START afterwards."""
        link = self._link
        rid = link.reset() if link is not None else None
        self._off()
        self._latched = False
        return rid

    def sim_control(self, op: SimOp, value: float = 0.0) -> int | None:
        """The simulator's test controls (load, faults): they never raise output."""
        link = self._link
        return link.sim_control(op, value) if link is not None else None

    def _off(self) -> None:
        self._cancel_start("output was stopped before it started")
        self._started = False
        self._lowered_at = self._uptime_ms if self._uptime_ms is not None else 0

    # ------------------------------------------------------------------ ownership

    def transfer(self, to: Driver) -> bool:
        """Give the device to ``to``. True: done. False: the present output is being
        stopped first (the device passes once it reports no output), or — a client's
        treatment with output on — refused (a treatment ramping down after its own stop
        passes the device once it is off)."""
        if to is self._owner:
            self._pending_owner = None
            return True
        if not self.output_held:
            self._set_owner(to)
            return True
        if self._owner.treats_client:
            if self._started:  # a treatment under way keeps the device
                return False
            self._pending_owner = to  # its own stop is under way: passes once it is off
            return False
        self._pending_owner = to
        self.stop()
        return False

    def _set_owner(self, driver: Driver) -> None:
        self._pending_owner = None
        if driver is self._owner:
            return
        self._owner = driver
        self._cancel_start(f"the device passed to the {driver.label}")
        self._commanded = self._context = None
        self.owner_changed.emit(driver)

    # ------------------------------------------------------------------ enforcement

    def _enforce(self) -> None:
        """Bring output that is on under the present facts: lower it, or stop it. Output
        already being lowered (a STOP, PAUSE or ESTOP sent since the last START/RESUME)
        is left to ramp down: sending STOP again would restart the device's ramp."""
        context, settings = self._context, self._commanded
        if context is None or settings is None or self._link is None:
            return
        if self._started and context.driver.treats_client:
            problem = self._client_problem() or self.zone_problem(context.driver, context.zones)
            if problem is not None:
                self._revoke(problem)
                return
        self._lower_held()

    def _lower_held(self) -> None:
        """Held output above the present facts' ceiling is lowered to it (and said, by
        ``output_lowered``): settings the device holds with its output on, ramping or
        paused (a RESUME away, ours or one the device reports) — never a ceiling above the
        facts. A changed limit is applied here *before* it is announced, so the lowering
        is the authority's, at once, and the drivers record it as such."""
        context, settings = self._context, self._commanded
        if context is None or settings is None or self._link is None or not self.output_held:
            return
        decision = self._decision_for(settings, context)
        if settings.amplitude_ua > decision.allowed_ua + 1e-9:
            grant = self._send_settings(settings, context)
            self._lowering = (grant.request_id, settings.amplitude_ua, self._uptime_ms)
            self.output_lowered.emit(context.driver, decision.explanation)

    def _revoke(self, why: str) -> None:
        driver = self._owner if self._context is None else self._context.driver
        self.stop()
        self.output_revoked.emit(driver, why)

    def check(self) -> None:
        """Check held output against the facts' age now (each STATUS does: ten a second)."""
        self._enforce()

    # ------------------------------------------------------------------ link in

    @Slot(object)
    def _on_connected(self, info: Info) -> None:
        self._device = DeviceLimits.from_info(info)
        self._device_state = None
        self.limits_changed.emit()
        self.connected.emit(info)

    @Slot(str)
    def _on_disconnected(self, reason: str) -> None:
        # _started stays: if the link comes back before the device's watchdog turns the
        # output off, the output is still ours and still enforced
        self._device = None
        self._device_state = None
        self._settings_rid = None
        self._cancel_start(f"the device link was lost ({reason})")
        if self._pending_owner is not None:
            self._set_owner(self._pending_owner)
        self.limits_changed.emit()
        self.disconnected.emit(reason)

    @Slot(int, object)
    def _on_answered(self, rid: int, answer: object) -> None:
        if self._lowering is not None and rid == self._lowering[0]:
            self._lowering = None  # the device holds the lowered settings (or refused them)
        if rid == self._settings_rid:
            self._settings_rid = None
            if isinstance(answer, Nak) and self._started:
                # the device kept its previous settings: a START sent with these must not
                # run on those
                self._revoke("the device refused the output settings")
        self._start_answered(rid, answer)
        self.command_answered.emit(rid, answer)

    @Slot(int, str)
    def _on_failed(self, rid: int, reason: str) -> None:
        p = self._start_after
        if p is not None and rid in (p.settings_rid, p.start_rid):
            self._cancel_start(reason)
        self.command_failed.emit(rid, reason)

    # ------------------------------------------------------------------ start_with

    def _start_answered(self, rid: int, answer: object) -> None:
        p = self._start_after
        if p is None or rid not in (p.settings_rid, p.start_rid):
            return
        if isinstance(answer, Nak):
            detail = f": {answer.detail}" if answer.detail else ""
            what = "take the settings" if rid == p.settings_rid else "start output"
            self._cancel_start(f"the device refused to {what} ({answer.reason.text}{detail})")
        elif rid == p.settings_rid:  # the settings are the device's: START now
            self._start_after = None
            try:
                start_rid = self._raise(p.driver, "start")
            except OutputRefused as exc:
                self.start_abandoned.emit(p.driver, str(exc))
                return
            self._start_after = replace(p, start_rid=start_rid)
        else:
            self._start_after = None
            self.output_started.emit(p.driver, self._commanded or p.settings)

    def _cancel_start(self, why: str) -> None:
        p, self._start_after = self._start_after, None
        if p is not None:
            self.start_abandoned.emit(p.driver, why)

    @Slot(object)
    def _on_status(self, status: Status) -> None:
        self._uptime_ms = status.uptime_ms
        st = self._device_state = status.state
        if st.output_possible or st is DeviceState.PAUSED:
            self._seen_on = True
        elif st.latched or (st is DeviceState.IDLE and self._seen_on):
            self._started = False  # the device has ended the output we started
        if self._pending_owner is not None and not self.output_held:
            self._set_owner(self._pending_owner)
        self.status_received.emit(status)
        # the device reports ten times a second: facts too old stop output, and settings
        # it holds one RESUME away (PAUSED) are lowered to the ceiling as it is now
        if self._started or self.output_held:
            self._enforce()
        self._guard(status)

    def _guard(self, status: Status) -> None:
        """What the device *says* it does, against what is allowed: a setpoint above the
        live ceiling is stopped at once; output still driving after a lowering command
        (lost), or that nobody here started, gets an emergency stop."""
        st = status.state
        if st not in (DeviceState.RAMP_UP, DeviceState.RUNNING):
            return
        context = self._context
        if self._started and context is not None:
            ceiling = self.ceiling(
                context.driver, context.zones, context.step_ua, context.step_label
            ).ceiling_ua
            if (
                status.setpoint_ua > ceiling + SETPOINT_TOLERANCE_UA
                and not self._lowering_under_way(status)
            ):
                self._revoke(
                    f"the device's setpoint {status.setpoint_ua:.0f} µA is above "
                    f"the live limit {ceiling:.0f} µA"
                )
            return
        since = None if self._lowered_at is None else (status.uptime_ms - self._lowered_at) / 1000.0
        if since is None or since > UNCOMMANDED_S:
            driver = self._owner if context is None else context.driver
            self.estop()
            self.output_revoked.emit(
                driver,
                "the device was driving output that was not "
                "asked for here (a stop was lost?): emergency stop",
            )

    def _lowering_under_way(self, status: Status) -> bool:
        """The setpoint ``status`` shows is the one a lowering SET_OUTPUT sent here is
        replacing, and the device has not answered it yet (a STATUS it sent before it
        took the command); for at most UNCOMMANDED_S on the device's clock, after which
        the command counts as lost."""
        low = self._lowering
        if low is None:
            return False
        rid, from_ua, sent_at = low
        if sent_at is None:  # no STATUS seen before it was sent: timed from this one
            sent_at = status.uptime_ms
            self._lowering = (rid, from_ua, sent_at)
        if status.uptime_ms - sent_at > UNCOMMANDED_S * 1000:
            return False
        return status.setpoint_ua <= from_ua + SETPOINT_TOLERANCE_UA

    # ------------------------------------------------------------------ ports

    def port(
        self, driver: Driver, *, ceiling_ua: float | None = None, label: str = ""
    ) -> OutputPort:
        """What ``driver`` holds instead of the link (``ceiling_ua``: its own declared
        maximum, e.g. a procedure's, named ``label`` on screen)."""
        return OutputPort(self, driver, ceiling_ua=ceiling_ua, label=label)


class OutputPort:
    """A driver's handle on the device, through the authority.

    Raising is *requested* (``request_settings``, ``request_start_with``,
    ``request_start``, ``request_resume``): the authority decides for this driver and
    raises :class:`OutputRefused` when it refuses. Lowering (``pause``, ``stop_output``,
    ``estop``) and service commands act at once. Procedures (calibration, self-test) issue
    their commands on a port, so their declared maximum binds like every other layer.
    """

    def __init__(
        self,
        authority: OutputAuthority,
        driver: Driver,
        *,
        ceiling_ua: float | None = None,
        label: str = "",
    ) -> None:
        self.authority = authority
        self.driver = driver
        self.ceiling_ua = ceiling_ua
        self.label = label

    @property
    def is_connected(self) -> bool:
        link = self.authority.link
        return link is not None and link.is_connected

    @property
    def info(self) -> Info | None:
        link = self.authority.link
        return None if link is None else link.info

    def ceiling(self) -> LimitDecision:
        """The live ceiling for this port (with no device: what will bind once connected)."""
        return self.authority.ceiling(
            self.driver, step_ua=self.ceiling_ua, step_label=self.label, without_device=True
        )

    def request_settings(self, settings: OutputSettings) -> Grant:
        """SET_OUTPUT, the amplitude clamped to the live limits (see the Grant)."""
        return self.authority.set_output(
            self.driver, settings, step_ua=self.ceiling_ua, step_label=self.label
        )

    def request_start_with(self, settings: OutputSettings) -> Grant:
        """The settings, then START once the device accepted them (the authority's
        ``output_started`` / ``start_abandoned`` say how it ended)."""
        return self.authority.start_with(
            self.driver, settings, step_ua=self.ceiling_ua, step_label=self.label
        )

    def request_start(self) -> int:
        return self.authority.start(self.driver)

    def request_resume(self) -> int:
        return self.authority.resume(self.driver)

    def pause(self) -> int | None:
        return self.authority.pause()

    def stop_output(self) -> int | None:
        return self.authority.stop()

    def estop(self) -> int | None:
        return self.authority.estop()

    def reset(self) -> int | None:
        return self.authority.reset()

    def sim_control(self, op: SimOp, value: float = 0.0) -> int | None:
        return self.authority.sim_control(op, value)

    def set_calibration(self, *args: float) -> int | None:
        link = self.authority.link
        return None if link is None else link.set_calibration(*args)
