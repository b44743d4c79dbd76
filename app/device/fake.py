"""The one fake device link, for tests and tools: records every call, answers like the link.

:class:`FakeDevice` implements :class:`app.device.interface.DeviceInterface` (the same
signals, the same authority rule for raising commands) without a port or a thread. It
answers each command with ACK on the next turn of the event loop (``auto_answer``), or
with the NAK a test names in ``refuse``; ``connect_device`` and ``emit_status`` play the
device's side. Tests that need real firmware behaviour use the simulator instead.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from app.device.interface import check_authority, check_binding
from app.device.protocol import (
    PROTOCOL_VERSION,
    Ack,
    DeviceState,
    Fault,
    Info,
    Nak,
    NakReason,
    SimOp,
    Status,
)
from app.device.stats import LinkStats
from app.device.waveform import OutputSettings

FAKE_INFO = Info(
    0,
    PROTOCOL_VERSION,
    "FAKE",
    "F-1",
    "1.0",
    1000.0,
    0.5,
    2000.0,
    20.0,
    10_000,
    0.05,
    0.001,
    500,
    50,
)


def fake_status(
    state: DeviceState = DeviceState.IDLE,
    *,
    contact: bool = True,
    level_ua: float = 0.0,
    setpoint_ua: float = 0.0,
    charge_uc: float = 0.0,
    faults: Fault = Fault.NONE,
    uptime_ms: int = 0,
) -> Status:
    return Status(
        state,
        level_ua,
        setpoint_ua,
        5000.0 if contact else float("inf"),
        contact,
        False,
        faults,
        charge_uc,
        uptime_ms,
    )


class FakeDevice(QObject):
    """See the module docstring. ``calls`` holds ``(name, request_id, *args)`` in order."""

    connected = Signal(object)
    disconnected = Signal(str)
    samples_received = Signal(object)
    status_received = Signal(object)
    event_received = Signal(object)
    command_answered = Signal(int, object)
    command_failed = Signal(int, str)
    stats_updated = Signal(object)
    frame_logged = Signal(object)

    def __init__(
        self,
        *,
        auto_answer: bool = False,
        connected: bool = False,
        info: Info = FAKE_INFO,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.calls: list[tuple] = []
        self.log_samples = True  # set_frame_logging(samples=...)
        self.fed = 0
        self.auto_answer = auto_answer
        # call name -> the NAK's reason, or (reason, detail)
        self.refuse: dict[str, NakReason | tuple[NakReason, str]] = {}
        self._rid = 0
        self._authority: object | None = None
        self._info: Info | None = info if connected else None
        self._connected = connected
        self._default_info = info
        self.settings: OutputSettings | None = None  # the last SET_OUTPUT accepted
        self.port_url = "fake://device"

    # -- the DeviceInterface -------------------------------------------------------------

    @property
    def info(self) -> Info | None:
        return self._info

    @property
    def is_connected(self) -> bool:
        return self._connected

    @property
    def stats(self) -> LinkStats:
        return LinkStats()

    def bind_authority(self, authority: object) -> None:
        self._authority = check_binding(self._authority, authority)

    def set_output(self, settings: OutputSettings, *, by: object | None = None) -> int:
        check_authority(self._authority, by, "SET_OUTPUT")
        self.settings = settings
        return self._call("set_output", settings)

    def start_output(self, *, by: object | None = None) -> int:
        check_authority(self._authority, by, "START")
        return self._call("start_output")

    def resume(self, *, by: object | None = None) -> int:
        check_authority(self._authority, by, "RESUME")
        return self._call("resume")

    def pause(self) -> int:
        return self._call("pause")

    def stop_output(self) -> int:
        return self._call("stop_output")

    def estop(self) -> int:
        return self._call("estop")

    def reset(self) -> int:
        return self._call("reset")

    def sim_control(self, op: SimOp, value: float = 0.0) -> int:
        return self._call("sim_control", op, value)

    def set_calibration(self, *args: float) -> int:
        return self._call("set_calibration", *args)

    def set_frame_logging(self, enabled: bool, *, samples: bool = True) -> None:
        self.calls.append(("set_frame_logging", 0, enabled))
        self.log_samples = samples

    def feed_watchdog(self) -> None:
        self.fed += 1

    # -- the device's side ---------------------------------------------------------------

    def connect_device(self, info: Info | None = None) -> None:
        self._info = info or self._default_info
        self._connected = True
        self.connected.emit(self._info)

    def disconnect_device(self, reason: str = "cable pulled") -> None:
        self._connected = False
        self.disconnected.emit(reason)

    def emit_status(self, state: DeviceState = DeviceState.IDLE, **kw) -> Status:
        st = fake_status(state, **kw)
        self.status_received.emit(st)
        return st

    # -- for assertions ------------------------------------------------------------------

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]

    def rid_of(self, name: str) -> int:
        return [c[1] for c in self.calls if c[0] == name][-1]

    def amplitudes(self) -> list[float]:
        """Every SET_OUTPUT amplitude sent, in order."""
        return [c[2].amplitude_ua for c in self.calls if c[0] == "set_output"]

    # -- plumbing ------------------------------------------------------------------------

    def _call(self, name: str, *args: object) -> int:
        self._rid = self._rid % 0xFFFF + 1
        rid = self._rid
        self.calls.append((name, rid, *args))
        if name in self.refuse:
            why = self.refuse[name]
            reason, detail = why if isinstance(why, tuple) else (why, f"{name} refused")
            answer: Ack | Nak = Nak(rid, 0, reason, detail)
            QTimer.singleShot(0, self, lambda: self.command_answered.emit(rid, answer))
        elif self.auto_answer:
            QTimer.singleShot(0, self, lambda: self.command_answered.emit(rid, Ack(rid, 0)))
        return rid
