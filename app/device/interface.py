"""The device contract: what the engine may expect of a device link. No Qt.

:class:`DeviceInterface` is a :class:`typing.Protocol` that :class:`app.device.link.DeviceLink`
implements and :class:`app.device.fake.FakeDevice` (the tests' one fake) implements too.
The engine types against it; nothing looks link methods up by name.

Raising output (SET_OUTPUT, START, RESUME) takes the bound output authority as ``by``:
each link names exactly one authority (:meth:`DeviceInterface.bind_authority`), and a
raising command from anyone else is refused with :class:`OutputNotAuthorised` before it is
queued. Lowering output (PAUSE, STOP, ESTOP) and RESET are open to every caller and act
at once. See docs/safety.md, "One output authority".
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from app.device.protocol import Info, MsgType, SimOp
from app.device.stats import LinkStats
from app.device.waveform import OutputSettings

# Message types that can make the device deliver current (or more of it).
RAISING_COMMANDS = frozenset({MsgType.SET_OUTPUT, MsgType.START, MsgType.RESUME})


class OutputNotAuthorised(PermissionError):
    """A raising command came from something other than the link's output authority."""


def check_binding(current: object | None, new: object) -> object:
    """The authority a link keeps after ``bind_authority(new)``: the first one binds; binding
    the same one again is harmless, another one is refused."""
    if current is not None and current is not new:
        raise OutputNotAuthorised("this device link already has an output authority")
    return new


def check_authority(bound: object | None, by: object | None, what: str) -> None:
    """Raise :class:`OutputNotAuthorised` unless ``by`` is the bound authority."""
    if bound is None or by is not bound:
        raise OutputNotAuthorised(
            f"{what} can raise output: only the engine's output authority may send it"
        )


@runtime_checkable
class DeviceInterface(Protocol):
    """A device link as the engine sees it (app.device.link.DeviceLink is the real one).

    Signals (Qt ``SignalInstance`` objects; typed ``Any`` here to keep this module free of
    Qt): ``connected(Info)``, ``disconnected(str)``, ``samples_received(SampleBlock)``,
    ``status_received(Status)``, ``event_received(Event)``, ``command_answered(int, Ack|Nak)``,
    ``command_failed(int, str)``, ``stats_updated(LinkStats)``.
    """

    connected: Any
    disconnected: Any
    samples_received: Any
    status_received: Any
    event_received: Any
    command_answered: Any
    command_failed: Any
    stats_updated: Any

    @property
    def info(self) -> Info | None: ...

    @property
    def is_connected(self) -> bool: ...

    @property
    def stats(self) -> LinkStats: ...

    def bind_authority(self, authority: object) -> None: ...

    # raising: the bound authority only
    def set_output(self, settings: OutputSettings, *, by: object | None = None) -> int: ...

    def start_output(self, *, by: object | None = None) -> int: ...

    def resume(self, *, by: object | None = None) -> int: ...

    # lowering and service: anyone, at once
    def pause(self) -> int: ...

    def stop_output(self) -> int: ...

    def estop(self) -> int: ...

    def reset(self) -> int: ...

    def sim_control(self, op: SimOp, value: float = 0.0) -> int: ...

    def set_calibration(
        self,
        current_offset_ua: float = 0.0,
        current_gain: float = 1.0,
        voltage_offset_v: float = 0.0,
        voltage_gain: float = 1.0,
    ) -> int: ...

    def feed_watchdog(self) -> None: ...
