"""The Qt adapter of the session machine: link signals in, device commands out.

QtCore only. :class:`SessionController` owns a :class:`SessionMachine`, feeds it the
link's signals and a QTimer tick, sends the commands it returns through the link and
re-emits what the UI and the store writer need as signals.

The link is duck-typed: anything with the DeviceLink methods (``set_output``,
``start_output``, ``pause``, ``resume``, ``stop_output``, ``estop``, ``reset``, and
optionally ``feed_watchdog``) and, optionally, its signals (``connected``,
``disconnected``, ``status_received``, ``event_received``, ``command_answered``,
``command_failed``). Tests use a recorder object; the console uses
app.device.link.DeviceLink.

Emergency stop: :meth:`SessionController.estop` calls ``link.estop()`` first,
synchronously, before the machine, the records or any signal run.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from app.device.protocol import Nak
from app.engine.guided import GuidedView
from app.engine.limits import ClinicSettings, DeviceLimits, LimitDecision
from app.engine.programs import Program
from app.engine.session import (
    ACTIVE,
    ChooseClient,
    ClearClient,
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
    Pause,
    PreviousStep,
    RepeatStep,
    Reset,
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

_LINK_METHOD = {
    CommandKind.START: "start_output",
    CommandKind.PAUSE: "pause",
    CommandKind.RESUME: "resume",
    CommandKind.STOP: "stop_output",
    CommandKind.ESTOP: "estop",
    CommandKind.RESET: "reset",
}


class SessionController(QObject):
    """Runs a treatment session against a device link. See the module docstring."""

    state_changed = Signal(object)  # SessionState
    step_changed = Signal(object)  # GuidedView | None: a new step (or program) is current
    progress_changed = Signal(object)  # GuidedView: every tick while a program is loaded
    limits_changed = Signal(object)  # LimitDecision: the ceiling, its layer or target changed
    record_emitted = Signal(object)  # SessionRecord, for the store writer
    alarm = Signal(str)  # needs the operator's attention (shown prominently)
    notice = Signal(str)  # informative (a refused click, contact back, ...)

    def __init__(self, link: Any, clinic: ClinicSettings | None = None, *, tick_ms: int = 100,
                 clock: Callable[[], float] = time.monotonic,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._link = link
        self._clock = clock
        self.machine = SessionMachine(clinic)
        self._pending: dict[int, CommandKind] = {}
        self._queue: deque[object] = deque()
        self._busy = False
        self._last_state = self.machine.state
        self._last_step: tuple | None = None
        self._last_decision: LimitDecision | None = None
        for name, slot in (("connected", self._on_connected),
                           ("disconnected", self._on_disconnected),
                           ("status_received", self._on_status),
                           ("event_received", self._on_event),
                           ("command_answered", self._on_answered),
                           ("command_failed", self._on_failed)):
            signal = getattr(link, name, None)
            if signal is not None:
                signal.connect(slot)
        self._timer = QTimer(self)
        self._timer.setInterval(int(tick_ms))
        self._timer.timeout.connect(self._on_tick)
        self._timer.start()
        info = getattr(link, "info", None)
        if getattr(link, "is_connected", False) and info is not None:
            self._on_connected(info)

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
        rid = self._link.estop()
        if isinstance(rid, int):
            self._pending[rid] = CommandKind.ESTOP
        self.handle(EmergencyStop(already_sent=True))

    def choose_client(self, client_id: str, *, limit_ua: float | None = None,
                      screening_passed: bool = False, training: bool = False) -> None:
        self.handle(ChooseClient(client_id, limit_ua, screening_passed, training))

    def clear_client(self) -> None:
        self.handle(ClearClient())

    def set_client_limit(self, limit_ua: float | None) -> None:
        self.handle(SetClientLimit(limit_ua))

    def lend_device(self, lent: bool, to: str = "") -> bool:
        """Let another workspace drive the device outside a session (False: refused)."""
        self.handle(LendDevice(lent, to))
        return self.machine.device_lent == lent

    def load_program(self, program: Program) -> None:
        self.handle(LoadProgram(program))

    def select_zone(self, zone_id: str | None) -> None:
        self.handle(SelectZone(zone_id))

    def update_clinic(self, settings: ClinicSettings) -> None:
        self.handle(UpdateClinic(settings))

    def set_electrode_area(self, area_cm2: float) -> None:
        self.handle(SetElectrodeArea(area_cm2))

    def start(self) -> None:
        self.handle(Start())

    def pause(self) -> None:
        self.handle(Pause())

    def resume(self) -> None:
        self.handle(Resume())

    def toggle_pause(self) -> None:
        """Space: pause while running, resume while paused (or after contact is back)."""
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
        if self.machine.state in ACTIVE or self.machine.state is SessionState.RAMPING_DOWN \
                or self.machine.output_on:
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
        if cmd.kind is CommandKind.SET_OUTPUT:
            rid = self._link.set_output(cmd.settings)
        else:
            rid = getattr(self._link, _LINK_METHOD[cmd.kind])()
        if isinstance(rid, int):
            self._pending[rid] = cmd.kind
            if len(self._pending) > 1024:  # answers lost with a link: forget the oldest
                for old in list(self._pending)[:512]:
                    del self._pending[old]

    def _publish(self) -> None:
        m = self.machine
        if m.state is not self._last_state:
            self._last_state = m.state
            self.state_changed.emit(m.state)
        view = m.guided_view()
        key = None if view is None else (view.program_id, view.step_index, view.finished)
        if key != self._last_step:
            self._last_step = key
            self.step_changed.emit(view)
        decision = m.decision()
        if decision != self._last_decision:
            self._last_decision = decision
            self.limits_changed.emit(decision)

    # ------------------------------------------------------------------ link → machine

    @Slot()
    def _on_tick(self) -> None:
        feed = getattr(self._link, "feed_watchdog", None)
        if feed is not None:
            feed()
        self.handle(Tick(self._clock()))
        view = self.machine.guided_view()
        if view is not None:
            self.progress_changed.emit(view)

    @Slot(object)
    def _on_connected(self, info: object) -> None:
        self.handle(LinkConnected(DeviceLimits.from_info(info)))

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

    @Slot(int, str)
    def _on_failed(self, request_id: int, reason: str) -> None:
        kind = self._pending.pop(request_id, None)
        if kind is not None:
            self.handle(CommandRefused(kind, reason))
