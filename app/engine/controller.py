"""The Qt adapter of the session machine: authority signals in, requests out.

QtCore only. :class:`SessionController` owns a :class:`SessionMachine`, feeds it the
device's signals (as re-emitted by the output authority), the client's facts and a QTimer
tick, and carries out the commands it returns — every one of them through the
:class:`~app.engine.authority.OutputAuthority`, which alone can raise output and decides
from the live limits and the client's eligibility. A request the authority refuses comes
back to the machine as a refused command; output the authority lowers or stops is recorded
by the machine with its reason.

Emergency stop: :meth:`SessionController.estop` calls the authority's ``estop()`` (the
link's ESTOP) first, synchronously, before the machine, the records or any signal run.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from app.device.protocol import Nak
from app.engine.authority import Driver, OutputAuthority, OutputRefused
from app.engine.guided import GuidedView
from app.engine.limits import DeviceLimits, LimitDecision
from app.engine.programs import Program
from app.engine.session import (
    ACTIVE,
    ChooseClient,
    ClearClient,
    ClientUpdated,
    CommandKind,
    CommandRefused,
    DeviceCommand,
    DeviceEventReceived,
    EmergencyStop,
    IntensityDown,
    IntensityUp,
    LendDevice,
    LinkConnected,
    LinkLost,
    LoadProgram,
    Output,
    OutputLowered,
    OutputRevoked,
    Pause,
    PreviousStep,
    RepeatStep,
    Reset,
    ResetAnswered,
    Resume,
    SelectZone,
    SessionMachine,
    SessionState,
    SetClientLimit,
    SetElectrodeArea,
    SkipStep,
    Start,
    StatusReceived,
    Stop,
    Tick,
    UpdateClinic,
)
from app.store.vocabulary import ClientFacts

QUIET_TICK_FACTOR = 5  # the tick this many times slower while the machine is QUIET
# Nothing is timed in these: no output, no ramp, no reset awaited (the device's watchdog is
# fed by the DeviceManager's own timer). Any input that leaves them ticks fast at once.
QUIET = frozenset({SessionState.IDLE, SessionState.READY, SessionState.COMPLETE})


class SessionController(QObject):
    """Runs a treatment session against a device link. See the module docstring."""

    state_changed = Signal(object)  # SessionState
    step_changed = Signal(object)  # GuidedView | None: a new step (or program) is current
    progress_changed = Signal(object)  # GuidedView: a tick changed it (a program loaded)
    limits_changed = Signal(object)  # LimitDecision: the ceiling, its layer or target changed
    record_emitted = Signal(object)  # SessionRecord, for the store writer
    alarm = Signal(str)  # needs the operator's attention (shown prominently)
    notice = Signal(str)  # informative (a refused click, contact back, ...)
    client_facts_changed = Signal(object)  # ClientFacts: the chosen client's record, as read

    def __init__(
        self,
        authority: OutputAuthority,
        *,
        driver: Driver = Driver.DESK,
        tick_ms: int = 100,
        clock: Callable[[], float] = time.monotonic,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.authority = authority
        self.driver = driver
        self._clock = clock
        self.machine = SessionMachine(authority.clinic)
        self._pending: dict[int, CommandKind] = {}
        self._queue: deque[object] = deque()
        self._busy = False
        self._last_state = self.machine.state
        self._last_step: tuple | None = None
        self._last_view: GuidedView | None = None  # as progress_changed last carried it
        self._last_decision: LimitDecision | None = None
        self._names: dict[int, str] = {}  # test clients named by text (choose_client)
        a = authority
        a.connected.connect(self._on_connected)
        a.disconnected.connect(self._on_disconnected)
        a.status_received.connect(self._on_status)
        a.event_received.connect(self._on_event)
        a.command_answered.connect(self._on_answered)
        a.command_failed.connect(self._on_failed)
        a.facts_changed.connect(self._on_facts)
        a.limits_changed.connect(self._on_limits)
        a.owner_changed.connect(self._on_owner)
        a.output_revoked.connect(self._on_revoked)
        a.output_lowered.connect(self._on_lowered)
        self._tick_ms = int(tick_ms)
        self._timer = QTimer(self)
        self._timer.setInterval(self._tick_interval())
        self._timer.timeout.connect(self._on_tick)
        self._timer.start()
        if a.owner is not driver:
            self.handle(LendDevice(True, a.owner.label))
        link = a.link
        info = None if link is None else link.info
        if link is not None and link.is_connected and info is not None:
            self._on_connected(info)
        if a.client is not None:
            self._on_facts(a.client)

    # ------------------------------------------------------------------ queries

    @property
    def state(self) -> SessionState:
        return self.machine.state

    def decision(self) -> LimitDecision:
        return self.machine.decision()

    def guided_view(self) -> GuidedView | None:
        return self.machine.guided_view()

    # ------------------------------------------------------------------ operator actions

    def estop(self) -> None:
        """Emergency stop: ESTOP to the device first, synchronously; then the state."""
        rid = self.authority.estop()
        if isinstance(rid, int):
            self._pending[rid] = CommandKind.ESTOP
        self.handle(EmergencyStop(already_sent=True))

    def watch_client(self, client_id: int) -> bool:
        """Treat ``client_id``: the authority reads its record (off the GUI thread) and the
        machine gets it with its eligibility and limit when the reading arrives."""
        if self.machine.state in ACTIVE:
            self.machine_notice("finish or stop the session before changing the client")
            return False
        return self.authority.watch_client(client_id)

    def choose_client(
        self,
        client_id: str | int,
        *,
        limit_ua: float | None = None,
        screening_passed: bool = False,
        training: bool = False,
    ) -> None:
        """Hand the authority these facts about a client, as if just read from its record
        (tests and tools without a store; the desk uses :meth:`watch_client`)."""
        if self.machine.state in ACTIVE:
            self.machine_notice("finish or stop the session before changing the client")
            return
        name = str(client_id)
        if name.isdigit():
            cid = int(name)
        else:  # a test's named client: a negative id of its own
            cid = next((k for k, v in self._names.items() if v == name), -1 - len(self._names))
        self._names[cid] = name
        self.authority.watch_client(cid)
        self.authority.set_client_facts(
            ClientFacts(
                cid,
                str(client_id),
                bool(screening_passed or training),
                "cleared" if screening_passed or training else "not_screened",
                () if screening_passed or training else ("screening not passed",),
                limit_ua,
                bool(training),
                self.authority.now(),
            )
        )

    def machine_notice(self, text: str) -> None:
        self.notice.emit(text)

    def clear_client(self) -> None:
        self.handle(ClearClient())

    def set_client_limit(self, limit_ua: float | None) -> None:
        self.handle(SetClientLimit(limit_ua))

    def load_program(self, program: Program) -> None:
        self.handle(LoadProgram(program))

    def select_zone(self, zone_id: str | None) -> None:
        self.handle(SelectZone(zone_id))

    def set_electrode_area(self, area_cm2: float) -> None:
        self.handle(SetElectrodeArea(area_cm2))

    def start(self) -> None:
        self.handle(Start())

    def pause(self) -> None:
        self.handle(Pause())

    def resume(self) -> None:
        self.handle(Resume())

    def toggle_pause(self) -> None:
        """The pause key: pause while running, resume while paused (or after contact is back)."""
        if self.machine.state in (SessionState.RUNNING, SessionState.RAMPING_UP):
            self.pause()
        elif self.machine.state in (SessionState.PAUSED, SessionState.CONTACT_LOST):
            self.resume()

    def stop(self) -> None:
        self.handle(Stop())

    def reset(self) -> None:
        self.handle(Reset())

    def intensity_up(self) -> None:
        self.handle(IntensityUp())

    def intensity_down(self) -> None:
        self.handle(IntensityDown())

    def skip_step(self) -> None:
        self.handle(SkipStep())

    def previous_step(self) -> None:
        self.handle(PreviousStep())

    def repeat_step(self) -> None:
        self.handle(RepeatStep())

    def shutdown(self) -> None:
        """The window is closing: output off first (ESTOP if a session may drive), then
        stop the tick. The firmware watchdog covers a console that dies instead."""
        if (
            self.machine.state in ACTIVE
            or self.machine.state is SessionState.RAMPING_DOWN
            or self.machine.output_on
        ):
            self.estop()
        self._timer.stop()

    # ------------------------------------------------------------------ the core loop

    def handle(self, event: object) -> Output | None:
        """Feed one input to the machine and carry out what it returns.

        An input that arrives while another is being carried out (a slot connected to
        one of our signals calls back into the controller) waits until that one is
        finished, so every listener sees the signals in the order the machine made
        them; it then returns None. (estop() has already reached the link by then.)
        """
        self._queue.append(event)
        if self._busy:
            return None
        self._busy = True
        first: Output | None = None
        try:
            while self._queue:
                out = self._carry_out(self._queue.popleft())
                if first is None:
                    first = out
        finally:
            self._busy = False
            self._queue.clear()
        return first

    def _carry_out(self, event: object) -> Output:
        out = self.machine.handle(event)
        # ESTOP before anything else the same input asked for.
        commands = sorted(out.commands, key=lambda c: c.kind is not CommandKind.ESTOP)
        for cmd in commands:
            self._send(cmd)
        for record in out.records:
            self.record_emitted.emit(record)
        for text in out.alarms:
            self.alarm.emit(text)
        for text in out.notices:
            self.notice.emit(text)
        self._publish()
        return out

    def _send(self, cmd: DeviceCommand) -> None:
        a, kind = self.authority, cmd.kind
        try:
            if kind is CommandKind.SET_OUTPUT:
                assert cmd.settings is not None
                step = self.machine.step
                rid: int | None = a.set_output(
                    self.driver,
                    cmd.settings,
                    zones=self.machine.zones(),
                    step_ua=None if step is None else step.amplitude_ua,
                ).request_id
            elif kind is CommandKind.START:
                rid = a.start(self.driver)
            elif kind is CommandKind.RESUME:
                rid = a.resume(self.driver)
            elif kind is CommandKind.PAUSE:
                rid = a.pause()
            elif kind is CommandKind.STOP:
                rid = a.stop()
            elif kind is CommandKind.ESTOP:
                rid = a.estop()
            else:
                rid = a.reset()
        except OutputRefused as exc:
            self._queue.append(CommandRefused(kind, str(exc)))
            return
        if isinstance(rid, int):
            self._pending[rid] = cmd.kind
            if len(self._pending) > 1024:  # answers lost with a link: forget the oldest
                for old in list(self._pending)[:512]:
                    del self._pending[old]

    def _publish(self) -> None:
        m = self.machine
        if m.state is not self._last_state:
            self._last_state = m.state
            interval = self._tick_interval()
            if self._timer.interval() != interval:
                self._timer.setInterval(interval)
            self.state_changed.emit(m.state)
        run = m.run  # which step: read off the run, the view is built only for a new one
        key = None if run is None else (run.program.id, run.index, run.finished)
        if key != self._last_step:
            self._last_step = key
            self.step_changed.emit(m.guided_view())
        decision = m.decision()
        if decision != self._last_decision:
            self._last_decision = decision
            self.limits_changed.emit(decision)

    def _tick_interval(self) -> int:
        """``tick_ms``; QUIET_TICK_FACTOR times that while the machine is QUIET (the
        desk's 100 ms: twice a second)."""
        if self.machine.state in QUIET:
            return self._tick_ms * QUIET_TICK_FACTOR
        return self._tick_ms

    # ------------------------------------------------------------------ link → machine

    @Slot()
    def _on_tick(self) -> None:
        link = self.authority.link
        if link is not None:
            link.feed_watchdog()
        self.handle(Tick(self._clock()))
        view = self.machine.guided_view()
        # Only a changed view: idle, paused or finished, the panels have nothing to redo.
        if view is not None and view != self._last_view:
            self.progress_changed.emit(view)
        self._last_view = view

    @Slot(object)
    def _on_connected(self, info: object) -> None:
        self.handle(LinkConnected(DeviceLimits.from_info(info)))

    @Slot(object)
    def _on_facts(self, facts: ClientFacts) -> None:
        m = self.machine
        cid = self._names.get(facts.client_id, str(facts.client_id))
        if m.client_id == cid:
            self.handle(
                ClientUpdated(
                    cid,
                    facts.limit_ua,
                    facts.allowed or facts.is_training,
                    facts.summary(),
                    facts.zone_rules,
                    facts.comfort_ua,
                )
            )
        elif m.state not in ACTIVE:
            self.handle(
                ChooseClient(
                    cid,
                    facts.limit_ua,
                    facts.allowed or facts.is_training,
                    facts.is_training,
                    facts.zone_rules,
                    facts.comfort_ua,
                )
            )
        self.client_facts_changed.emit(facts)

    @Slot()
    def _on_limits(self) -> None:
        clinic = self.authority.clinic
        if clinic is not self.machine.clinic:
            self.handle(UpdateClinic(clinic))

    @Slot(object)
    def _on_owner(self, owner: Driver) -> None:
        self.handle(LendDevice(owner is not self.driver, owner.label))

    @Slot(object, str)
    def _on_revoked(self, driver: Driver, reason: str) -> None:
        if driver is self.driver:
            self.handle(OutputRevoked(reason))

    @Slot(object, str)
    def _on_lowered(self, driver: Driver, reason: str) -> None:
        settings = self.authority.commanded
        if driver is self.driver and settings is not None:
            self.handle(OutputLowered(reason, settings.amplitude_ua))

    @Slot(str)
    def _on_disconnected(self, reason: str) -> None:
        self._pending.clear()
        self.handle(LinkLost(reason))

    @Slot(object)
    def _on_status(self, status: object) -> None:
        self.handle(StatusReceived(status))  # type: ignore[arg-type]

    @Slot(object)
    def _on_event(self, event: object) -> None:
        self.handle(DeviceEventReceived(event))  # type: ignore[arg-type]

    @Slot(int, object)
    def _on_answered(self, request_id: int, answer: object) -> None:
        kind = self._pending.pop(request_id, None)
        if kind is not None and isinstance(answer, Nak):
            detail = f" ({answer.detail})" if answer.detail else ""
            self.handle(CommandRefused(kind, f"{answer.reason.text}{detail}"))
        elif kind is CommandKind.RESET:
            self.handle(ResetAnswered())

    @Slot(int, str)
    def _on_failed(self, request_id: int, reason: str) -> None:
        kind = self._pending.pop(request_id, None)
        if kind is not None:
            self.handle(CommandRefused(kind, reason))
