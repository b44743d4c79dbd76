"""The trainer's waveform studio: ideal vs delivered waveform, annotated, for a class.

:class:`WaveformStudio` is self-contained: give it a DeviceLink with ``set_link(link)``
(or anything with the same signals) for what the device sends, and the output authority's
port for the studio with ``set_port(port)`` for what it asks the device to do (output is
raised only through the authority, within the live limits); it shows what the device delivers
into the chosen load beside the ideal waveform, with period, amplitude, polarity flips,
ramp and charge written on the plot. Up to three ideal waveforms can be overlaid for
comparison; a recorded session can be replayed with a timeline. The emergency stop is
not here: the main window binds Esc to it application-wide, so presentation mode is
left with F11 or its button, never Esc.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app import palette
from app.device.protocol import DeviceState, Info, Nak, SampleFlag, SimOp, Status
from app.device.samples import SampleBlock
from app.device.waveform import BURST_CYCLE_S, OutputSettings, Polarity, Waveform
from app.engine.authority import Grant, OutputRefused
from app.scope.core.buffer import SampleRing
from app.scope.core.envelope import envelopes
from app.teaching.annotations import Annotations, annotate
from app.teaching.apply_timing import apply_delay_s
from app.teaching.ideal import OverlayError, Overlays, describe, ideal_trace, validate
from app.teaching.replay import SLIDER_STEPS, SPEEDS, Recording, RecordingError, Timeline
from app.teaching.schedule import OutputSchedule
from app.ui.output_settings import OutputSettingsEditor
from app.ui.style import ALARM, MUTED, WARN, pill
from app.ui.trainer.plot import OVERLAYS, Frame, StudioPlot, ramp_name

FRAME_MS = 80  # repaint timer (~12 fps: the sweep stands still, see _live_frame)
IDLE_FRAME_MS = 250  # live with the output off: the noise floor four times a second
LIVE_BLINK_S = 0.5  # the live mark's ● and ○ in turn
LIVE_STALE_S = 1.0  # no live block for this long: "no live samples"
ANNOTATE_BUDGET = 0.1  # share of the time annotating may take: a live sweep is redrawn
# (and annotated with it) no sooner than its last annotation's cost / this budget,
LIVE_SWEEP_MIN_S = 0.2  # and no sooner than this (5 sweeps a second: it stands still),
LIVE_SWEEP_MAX_S = 0.5  # nor later than this (one slow frame on a busy CPU delays little)
# A change applied while the output runs: the picture holds its last sweep of the old wave
# until a whole sweep of the new one has arrived (no sweep, and no figure, mixes the two),
# for at most this long (longer time bases let the old wave scroll out instead)
SETTLE_MAX_S = 1.0
SETTLE_MARGIN_SAMPLES = 64  # after the ACK's newest sample: the device's frame being filled
COLUMNS = 1600  # min/max columns the curves are reduced to
PRESENTATION_WINDOW_S = 10.0  # presentation without settings: 10 s across
PRESENTATION_PERIODS = 5  # presentation with settings: about five periods across
#: device states that keep output off until RESET (the studio then offers Reset)
LATCHED = (DeviceState.ESTOPPED, DeviceState.WATCHDOG, DeviceState.FAULT)
RING_CAPACITY = 1 << 19  # 52 s at 10 kS/s: enough for the 10 s window and a period

#: (label, ohms or None for the skin model)
LOADS: tuple[tuple[str, float | None], ...] = (
    ("Skin model (electrode–skin)", None),
    ("1 kΩ resistor", 1_000.0),
    ("5 kΩ resistor", 5_000.0),
    ("10 kΩ resistor", 10_000.0),
)
#: (label, seconds across the screen; 0 = automatic: three periods)
TIME_BASES: tuple[tuple[str, float], ...] = (
    ("Auto (3 periods)", 0.0),
    ("20 ms", 0.02),
    ("50 ms", 0.05),
    ("100 ms", 0.1),
    ("200 ms", 0.2),
    ("500 ms", 0.5),
    ("1 s", 1.0),
    ("2 s", 2.0),
    ("5 s", 5.0),
    ("10 s", 10.0),
    ("20 s", 20.0),
)


class WaveformStudio(QWidget):
    """Ideal vs delivered waveform with annotations, overlays, presentation mode, replay.

    Signals: ``presentation_changed(bool)``; ``message(str)`` with every notice shown
    in the studio's status line (refused commands, bad input).
    """

    presentation_changed = Signal(bool)
    message = Signal(str)
    # settings that became the ideal and were sent (at once, or at a period boundary)
    settings_applied = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.link = None
        self.port = None  # app.engine.authority.OutputPort for the studio (None: no output)
        self.ring = SampleRing(RING_CAPACITY)
        self.overlays = Overlays()
        self.settings: OutputSettings | None = None  # what was last applied
        self.load_ohm: float | None = None  # None: the skin model
        self.frozen = False
        self.presentation = False
        self.recording: Recording | None = None
        self._titled_settings: OutputSettings | None = None  # what the replay title names
        self.timeline: Timeline | None = None
        self.annotations: Annotations | None = None
        self.frames_drawn = 0
        self.frames_unchanged = 0  # live sweeps not drawn: the screen showed them already
        self._annotated_settings: OutputSettings | None = None  # of the annotations shown
        self._pending: dict[int, str] = {}  # request id -> what it was
        self._last_block: tuple[int, int] | None = None
        self._start_handler: Callable[[OutputSettings], object] | None = None
        self._last_apply_id: int | None = None
        self._held_apply_id: int | None = None  # a change held for a pause, once sent
        # a change landing in the running output: since when (monotonic), and the first
        # sample index surely of the new wave (None until the device's ACK)
        self._settle_since: float | None = None
        self._settle_index: int | None = None
        self._stop_handler: Callable[[], object] | None = None
        self._dirty = True
        self._last_annotate = -math.inf
        self._annotate_gap = 0.0  # s: the next live sweep waits this long (cost / budget)
        self._drawn: tuple[float, float, np.ndarray, np.ndarray] | None = None  # on screen
        self._newest_at = 0.0  # monotonic time the newest live block arrived
        self._pending_apply: OutputSettings | None = None  # held for a period boundary
        self._apply_timer = QTimer(self)
        self._apply_timer.setSingleShot(True)
        self._apply_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._apply_timer.timeout.connect(self._send_pending_apply)
        self._last_tick = time.monotonic()
        self._saved_time_base = 0
        self._saved_window_state = Qt.WindowState.WindowNoState
        self._build()
        self._shortcut = QShortcut(QKeySequence(Qt.Key.Key_F11), self)
        self._shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        self._shortcut.activated.connect(self.toggle_presentation)
        self._output_on = False  # in the newest live block
        self._timer = QTimer(self)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self.render_frame)
        self._timer.start()  # stopped while hidden (hideEvent)
        self._sync_rate()

    # ------------------------------------------------------------------- building
    def _build(self) -> None:
        self.controls = QWidget()
        self.controls.setMaximumWidth(330)
        col = QVBoxLayout(self.controls)
        col.setContentsMargins(0, 0, 0, 0)

        out = QGroupBox("Waveform")
        self.editor = OutputSettingsEditor(
            waveform_label="Shape", amplitude_label="Amplitude", polarity=Polarity.BIPHASIC
        )
        QVBoxLayout(out).addWidget(self.editor)
        form = self.editor.form
        self.amplitude = self.editor.amplitude  # bounded by the live limit (set_amplitude_cap)
        self.load = QComboBox()
        for label, ohms in LOADS:
            self.load.addItem(label, ohms)
        self.load.setToolTip(
            "What the simulator drives: the electrode–skin model or a "
            "plain resistor for teaching Ohm's law"
        )
        form.addRow("Load", self.load)
        self.load.currentIndexChanged.connect(self._load_changed)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setObjectName("primary")
        self.apply_button.setToolTip("Send these settings to the device and redraw the ideal")
        self.apply_button.clicked.connect(self.apply)
        form.addRow(self.apply_button)
        col.addWidget(out)

        view = QGroupBox("View")
        vform = QFormLayout(view)
        self.time_base = QComboBox()
        for label, seconds in TIME_BASES:
            self.time_base.addItem(label, seconds)
        self.time_base.currentIndexChanged.connect(self._view_changed)
        vform.addRow("Across the screen", self.time_base)
        col.addWidget(view)

        cmp_box = QGroupBox("Compare (up to 3)")
        cl = QVBoxLayout(cmp_box)
        self.overlay_list = QListWidget()
        self.overlay_list.setMaximumHeight(92)
        cl.addWidget(self.overlay_list)
        row = QHBoxLayout()
        self.add_overlay_button = QPushButton("Add these settings")
        self.add_overlay_button.setToolTip("Overlay the ideal waveform of the settings above")
        self.add_overlay_button.clicked.connect(self.add_overlay_from_controls)
        self.remove_overlay_button = QPushButton("Remove")
        self.remove_overlay_button.clicked.connect(self._remove_selected_overlay)
        self.clear_overlays_button = QPushButton("Clear")
        self.clear_overlays_button.clicked.connect(self.clear_overlays)
        for b in (self.add_overlay_button, self.remove_overlay_button, self.clear_overlays_button):
            row.addWidget(b)
        cl.addLayout(row)
        col.addWidget(cmp_box)

        self.readout = QLabel()
        self.readout.setWordWrap(True)
        self.readout.setTextFormat(Qt.TextFormat.RichText)
        rbox = QGroupBox("Measured (as the scope measures)")
        QVBoxLayout(rbox).addWidget(self.readout)
        col.addWidget(rbox)
        col.addStretch(1)

        # right side: action bar, plot, replay bar, status line
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.start_button = QPushButton("Start output")
        self.start_button.setObjectName("primary")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop output")
        self.stop_button.clicked.connect(self.stop_output)
        self.freeze_button = QPushButton("Freeze")
        self.freeze_button.setCheckable(True)
        self.freeze_button.setToolTip("Hold the picture still to explain it")
        self.freeze_button.toggled.connect(self.set_frozen)
        self.present_button = QPushButton("Presentation (F11)")
        self.present_button.setCheckable(True)
        self.present_button.toggled.connect(self.set_presentation)
        self.reset_button = QPushButton("Reset device")
        self.reset_button.setToolTip(
            "After an emergency stop, a watchdog stop or a fault the "
            "device stays off until it is reset: send RESET"
        )
        self.reset_button.clicked.connect(self.reset_device)
        self.reset_button.setVisible(False)
        # the time base stays at hand in presentation mode (the side controls are hidden)
        self.present_time_base = QComboBox()
        for label, seconds in TIME_BASES:
            self.present_time_base.addItem(label, seconds)
        self.present_time_base.setToolTip("Time across the screen")
        self.present_time_base.currentIndexChanged.connect(self._present_time_base_chosen)
        self.present_time_base.setVisible(False)
        self.output_state = QLabel(pill("no device", MUTED))
        self.output_state.setTextFormat(Qt.TextFormat.RichText)
        # the title on a line of its own: the buttons (larger in presentation, one more
        # when Reset is offered) never squeeze it into a tall narrow column
        heading = QHBoxLayout()
        heading.addWidget(self.title, 1)
        heading.addWidget(self.output_state)
        buttons = QHBoxLayout()
        # a live picture that stands still (a steady wave is not drawn again) still says
        # it is live: the mark blinks while samples arrive
        self.live_mark = QLabel()
        self.live_mark.setToolTip(
            "Blinks while live samples arrive: the picture is live even when it stands "
            "still (a steady wave starts each sweep at the same point)"
        )
        buttons.addWidget(self.live_mark)
        buttons.addStretch(1)
        for b in (
            self.reset_button,
            self.start_button,
            self.stop_button,
            self.freeze_button,
            self.present_time_base,
            self.present_button,
        ):
            buttons.addWidget(b)
        bar = QVBoxLayout()
        bar.setSpacing(4)
        bar.addLayout(heading)
        bar.addLayout(buttons)

        self.plot = StudioPlot()
        self.plot.setMinimumHeight(320)

        self.replay_bar = QWidget()
        rb = QHBoxLayout(self.replay_bar)
        rb.setContentsMargins(0, 0, 0, 0)
        self.play_button = QPushButton("Play")
        self.play_button.clicked.connect(self.toggle_play)
        self.speed = QComboBox()
        for s in SPEEDS:
            self.speed.addItem(f"×{s}", s)
        self.speed.currentIndexChanged.connect(self._speed_changed)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.valueChanged.connect(self._slider_moved)
        self.replay_time = QLabel()
        self.live_button = QPushButton("Back to live")
        self.live_button.clicked.connect(self.close_recording)
        rb.addWidget(QLabel("Replay"))
        rb.addWidget(self.play_button)
        rb.addWidget(self.speed)
        rb.addWidget(self.slider, 1)
        rb.addWidget(self.replay_time)
        rb.addWidget(self.live_button)
        self.replay_bar.setVisible(False)

        self.status = QLabel()
        self.status.setWordWrap(True)
        self.message.connect(self.status.setText)

        right = QVBoxLayout()
        right.addLayout(bar)
        right.addWidget(self.plot, 1)
        right.addWidget(self.replay_bar)
        right.addWidget(self.status)
        # The controls scroll when the screen is short (a 1280 x 720 projector), so the
        # measured figures at the bottom are never cut off.
        self.controls_scroll = QScrollArea()
        self.controls_scroll.setWidget(self.controls)
        self.controls_scroll.setWidgetResizable(True)
        self.controls_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.controls_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # as wide as the controls plus a scroll bar: the bar never covers the figures
        self.controls_scroll.setFixedWidth(
            self.controls.maximumWidth()
            + self.controls_scroll.verticalScrollBar().sizeHint().width()
            + 2
        )
        main = QHBoxLayout(self)
        main.addWidget(self.controls_scroll)
        main.addLayout(right, 1)
        self._update_title()
        self._update_readout()

    # ------------------------------------------------------------------ the link
    def set_link(self, link) -> None:
        """Connect to a DeviceLink (or an object with the same signals and methods)."""
        if self.link is not None:
            for sig, slot in self._link_connections():
                sig.disconnect(slot)
        self.link = link
        if link is not None:
            for sig, slot in self._link_connections():
                sig.connect(slot)
            info = getattr(link, "info", None)
            if isinstance(info, Info):
                self.device_connected(info)

    def set_port(self, port) -> None:
        """The output authority's port for the studio: every command goes through it."""
        if self.port is not None:
            self.port.authority.start_abandoned.disconnect(self._start_abandoned)
        self.port = port
        if port is not None:
            port.authority.start_abandoned.connect(self._start_abandoned)

    def _start_abandoned(self, driver, why: str) -> None:
        if self.port is not None and driver is self.port.driver:
            self._say(f"Output not started: {why}.")

    def _link_connections(self):
        lk = self.link
        pairs = [
            (lk.samples_received, self.samples_received),
            (lk.connected, self.device_connected),
            (lk.command_answered, self._command_answered),
            (lk.command_failed, self._command_failed),
        ]
        if hasattr(lk, "status_received"):
            pairs.append((lk.status_received, self.status_received))
        if hasattr(lk, "disconnected"):
            pairs.append((lk.disconnected, self._disconnected))
        return pairs

    def status_received(self, status: Status) -> None:
        """Show the device's output state beside the Start/Stop buttons."""
        st = status.state
        if st in (DeviceState.RAMP_UP, DeviceState.RUNNING, DeviceState.RAMP_DOWN):
            text, colour = f"OUTPUT ON · {status.level_ua:.0f} µA", ALARM
            if st == DeviceState.RAMP_UP:
                text += " (ramping up)"
            elif st == DeviceState.RAMP_DOWN:
                text += " (ramping down)"
        elif st == DeviceState.IDLE:
            text, colour = "output off", MUTED
        elif st == DeviceState.PAUSED:
            text, colour = "paused", WARN
        else:
            text = {
                DeviceState.ESTOPPED: "EMERGENCY STOP (latched until reset)",
                DeviceState.CONTACT_LOST: "contact lost: output stopped",
                DeviceState.WATCHDOG: "watchdog stop: link was silent",
                DeviceState.FAULT: "device fault",
            }.get(st, st.name.lower())
            colour = ALARM
        if status.compliance:
            text += " · at compliance: current limited"
        self.output_state.setText(pill(text, colour))
        latched = st in LATCHED
        self.reset_button.setVisible(latched)
        # latched, the device refuses START until a RESET: Start waits for Reset, as on
        # the bench (not a refusal message after the click)
        self.start_button.setEnabled(not latched)
        self.start_button.setToolTip(
            "The device is latched: press Reset device first" if latched else ""
        )

    def _disconnected(self, reason: str) -> None:
        self._cancel_pending_apply()
        self.output_state.setText(pill("no device", MUTED))
        self.reset_button.setVisible(False)
        self.start_button.setEnabled(True)  # it says what is missing when pressed
        self.start_button.setToolTip("")
        self._say(f"Device disconnected: {reason}")

    def samples_received(self, block: SampleBlock) -> None:
        """Store a block of live samples (drawn by the repaint timer).

        The same block delivered twice (set_link and a forwarding window both connected)
        is ignored instead of restarting the buffer."""
        key = (block.first_index, len(block))
        if key == self._last_block:
            return
        self._last_block = key
        self.ring.append(block)
        self._newest_at = time.monotonic()
        self._dirty = True
        on = bool(len(block) and block.flags[-1] & SampleFlag.OUTPUT_ON.value)
        if on != self._output_on:
            self._output_on = on
            self._sync_rate()

    def _sync_rate(self) -> None:
        """Full frame rate for live output or a replay; slower for the idle noise floor."""
        live_idle = self.recording is None and not self._output_on
        self._timer.setInterval(IDLE_FRAME_MS if live_idle else FRAME_MS)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self._dirty = True
        if not self._timer.isActive():
            self._timer.start()

    def hideEvent(self, event) -> None:  # noqa: N802 - Qt API
        self._timer.stop()  # nobody sees it (samples are still taken in)
        super().hideEvent(event)

    def device_connected(self, info: Info) -> None:
        """Bound the controls by the device's hard limits."""
        self.editor.set_device(info)
        self._say(
            f"Connected to {info.model} {info.serial}: up to "
            f"{info.max_current_ua:g} µA, {info.min_frequency_hz:g}–"
            f"{info.max_frequency_hz:g} Hz."
        )
        if self.load_ohm is not None:  # the device starts on the skin model
            self._load_changed()

    def set_amplitude_cap(self, cap_ua: float, reason: str = "") -> None:
        """Lower the amplitude control's maximum (e.g. the clinic's limit)."""
        if not (math.isfinite(cap_ua) and cap_ua >= 0):
            raise ValueError(f"amplitude cap {cap_ua!r} µA: must be a number ≥ 0")
        self.amplitude.set_limit(cap_ua, reason)

    def set_reference(self, settings: OutputSettings | None) -> None:
        """The commanded output changed elsewhere (e.g. another panel): draw it as ideal."""
        self.settings = settings
        self.ring.reference.set_settings(settings)
        if settings is not None:
            self.set_controls(settings)
        self._dirty = True
        self._update_title()

    def _send(self, what: str, call, *args) -> int | None:
        if self.link is None or self.port is None or call is None:
            self._say(f"No device: cannot {what}. Connect the device (or the simulator) first.")
            return None
        try:
            rid = call(*args)
        except OutputRefused as exc:
            self._say(f"Cannot {what}: {exc}.")
            return None
        if isinstance(rid, Grant):  # settings: sent as the live limits allow
            if rid.note:
                self._say(rid.note)
            rid = rid.request_id
        if rid is not None:
            self._pending[rid] = what
        return rid

    def _command_answered(self, rid: int, answer) -> None:
        what = self._pending.pop(rid, None)
        if rid == self._last_apply_id and self._settle_since is not None:
            if isinstance(answer, Nak) or self.ring.newest is None:
                self._settle_since = None  # refused: the old wave goes on
            else:  # in force on the device: what arrives after this is the new wave
                self._settle_index = self.ring.newest + SETTLE_MARGIN_SAMPLES
        if what is not None and isinstance(answer, Nak):
            detail = f": {answer.detail}" if answer.detail else ""
            self._say(f"The device refused to {what} ({answer.reason.text}{detail}).")
        elif what is not None and rid == self._held_apply_id:
            # the change held for a pause between pulses has landed: say so, not "applying"
            self._say("Applied between pulses: no pulse was split.")
        if rid == self._held_apply_id:
            self._held_apply_id = None

    def _command_failed(self, rid: int, reason: str) -> None:
        what = self._pending.pop(rid, None)
        if rid == self._last_apply_id:
            self._settle_since = None
        if what is not None:
            self._say(f"Could not {what}: {reason}")

    # ----------------------------------------------------------------- controls
    def current_settings(self) -> OutputSettings:
        return self.editor.settings()

    def set_controls(self, s: OutputSettings) -> None:
        self.editor.set_settings(s)

    def apply(self) -> bool:
        """Send the control settings to the device and use them as the ideal."""
        if self.editor.problem():  # a number typed outside its range: nothing is sent
            self._say(f"Not applied: {self.editor.problem()}.")
            return False
        s = self.current_settings()
        try:
            validate(s)
        except ValueError as exc:
            self._say(f"Not applied: {exc}")
            return False
        self._cancel_pending_apply()
        delay = self._boundary_delay() if self.link is not None else None
        if delay is not None and delay > 0.001:
            # running: held back so it lands between pulses (app/teaching/apply_timing.py)
            self._pending_apply = s
            self._apply_timer.start(max(1, int(round(delay * 1000))))
            self._say(
                f"Applying at the next pause between pulses (in {delay * 1000:.0f} ms): "
                "no pulse is split."
            )
            return True
        self._use_settings(s)
        if self.link is None:
            self._say("Ideal waveform drawn. No device connected to send it to.")
        else:
            self._last_apply_id = self._send(
                "apply the settings", self.port.request_settings if self.port else None, s
            )
            self._begin_settle()
        self.settings_applied.emit(s)
        return True

    def _use_settings(self, s: OutputSettings) -> None:
        """``s`` becomes the ideal (when it is sent: the plot never runs ahead)."""
        self.settings = s
        self.ring.reference.set_settings(s)
        self._dirty = True
        self._update_title()

    def _boundary_delay(self) -> float | None:
        """Seconds until a change sent now would land at the target phase of a period of
        the running output; None: send at once (output off, no period marks)."""
        fs = self.ring.sample_rate
        old = self.settings
        if not self._output_on or fs is None or self.ring.newest is None or old is None:
            return None
        per = int(fs / old.frequency_hz) + 1
        w = self.ring.latest(min(self.ring.capacity, 3 * per + 2))
        marks = w.start + np.flatnonzero(w.sync)
        age = time.monotonic() - self._newest_at
        return apply_delay_s(marks, self.ring.newest, age, fs, old.frequency_hz, old.polarity)

    def _send_pending_apply(self) -> None:
        s, self._pending_apply = self._pending_apply, None
        if s is None:
            return
        self._use_settings(s)
        self._last_apply_id = self._send(
            "apply the settings", self.port.request_settings if self.port else None, s
        )
        self._held_apply_id = self._last_apply_id
        self._begin_settle()
        self.settings_applied.emit(s)

    def _begin_settle(self) -> None:
        """A change sent to the running output: hold the picture until it is in force."""
        if self._last_apply_id is not None and self._output_on:
            self._settle_since = time.monotonic()
            self._settle_index = None

    def _settling(self, sweep_start: int) -> bool:
        """Whether the sweep from ``sweep_start`` may still hold old wave (then it is not
        drawn: the screen keeps the last sweep and its figures)."""
        since = self._settle_since
        if since is None:
            return False
        if time.monotonic() - since > SETTLE_MAX_S or (
            self._settle_index is not None and sweep_start >= self._settle_index
        ):
            self._settle_since = None
            return False
        return True

    def _cancel_pending_apply(self) -> None:
        """A change held for a period boundary is dropped (stop, reset, a newer change);
        a picture held for a change in progress is let go."""
        self._apply_timer.stop()
        self._pending_apply = None
        self._settle_since = None

    def set_output_handlers(
        self, start: Callable[[OutputSettings], object] | None, stop: Callable[[], object] | None
    ) -> None:
        """Route Start/Stop through the console (e.g. a session on the training client,
        with its limits and recording) instead of straight to the link. ``None``: the link.
        Apply still sends the settings to the link so the ideal and the device agree."""
        self._start_handler, self._stop_handler = start, stop

    def start(self) -> None:
        """Start: the control settings, then START once the device has accepted them (the
        authority sequences it: never old settings running while the plot shows new)."""
        if self.editor.problem():  # a number typed outside its range: nothing is sent
            self._say(f"Not started: {self.editor.problem()}.")
            return
        s = self.current_settings()
        try:
            validate(s)
        except ValueError as exc:
            self._say(f"Not started: {exc}")
            return
        if self._start_handler is not None:
            self.set_reference(s)
            self._start_handler(s)
            return
        if self.link is None or self.port is None:
            self._say(
                "No device: cannot start output. Connect the device (or the simulator) first."
            )
            return
        self._cancel_pending_apply()
        try:
            grant = self.port.request_start_with(s)
        except OutputRefused as exc:
            self._say(f"Not started: {exc}.")
            return
        self._use_settings(grant.settings)
        self._last_apply_id = grant.request_id
        self._begin_settle()
        if grant.note:
            self._say(grant.note)
        self.settings_applied.emit(grant.settings)

    def reset_device(self) -> None:
        """RESET through the studio's port (after an emergency stop, a watchdog stop or a
        fault the device refuses START until it is reset); output stays off."""
        self._cancel_pending_apply()
        rid = self._send("reset the device", self.port.reset if self.port else None)
        if rid is not None:
            self._say("Reset sent: the device returns to idle. Start output again when ready.")

    def stop_output(self) -> None:
        """Ramped stop. (The emergency stop is the main window's, on Esc.)"""
        self._cancel_pending_apply()
        if self._stop_handler is not None:
            self._stop_handler()
            return
        self._send("stop output", self.port.stop_output if self.port else None)

    def set_load(self, ohms: float | None) -> None:
        """Select the skin model (None) or a resistor of ``ohms`` from LOADS."""
        idx = self.load.findData(ohms)
        if idx < 0:
            raise ValueError(
                f"load {ohms!r} Ω is not offered: choose the skin model or 1, 5 or 10 kΩ"
            )
        if idx == self.load.currentIndex():
            self._load_changed()
        else:
            self.load.setCurrentIndex(idx)

    def _load_changed(self) -> None:
        self.load_ohm = self.load.currentData()
        self._update_title()
        if self.link is None:
            return
        if self.load_ohm is None:
            self._send(
                "select the skin model",
                self.port.sim_control if self.port else None,
                SimOp.LOAD_SKIN,
                0.0,
            )
        else:
            self._send(
                f"select the {self.load_ohm / 1000:g} kΩ resistor",
                self.port.sim_control if self.port else None,
                SimOp.LOAD_RESISTOR,
                self.load_ohm,
            )

    # ------------------------------------------------------------------ overlays
    def add_overlay(self, settings: OutputSettings) -> bool:
        """Overlay the ideal waveform of ``settings``; False (and a message) if refused."""
        try:
            k = self.overlays.add(settings)
        except (OverlayError, ValueError) as exc:
            self._say(str(exc))
            return False
        self._refresh_overlay_list()
        self._say(f"Overlay {k + 1}: {describe(settings)}.")
        self._dirty = True
        return True

    def add_overlay_from_controls(self) -> bool:
        return self.add_overlay(self.current_settings())

    def remove_overlay(self, index: int) -> None:
        try:
            self.overlays.remove(index)
        except OverlayError as exc:
            self._say(str(exc))
            return
        self._refresh_overlay_list()
        self._dirty = True

    def clear_overlays(self) -> None:
        self.overlays.clear()
        self._refresh_overlay_list()
        self._dirty = True

    def _remove_selected_overlay(self) -> None:
        row = self.overlay_list.currentRow()
        if row < 0:
            self._say("Select an overlay in the list to remove it.")
            return
        self.remove_overlay(row)

    def _refresh_overlay_list(self) -> None:
        self.overlay_list.clear()
        for k, s in enumerate(self.overlays):
            item = QListWidgetItem(describe(s))
            item.setForeground(QColor(palette.TRAINER_BACKGROUND))
            item.setBackground(QColor(OVERLAYS[k]))
            self.overlay_list.addItem(item)
        self.add_overlay_button.setEnabled(not self.overlays.full)
        self.add_overlay_button.setToolTip(
            "Three waveforms overlaid: remove one to add another"
            if self.overlays.full
            else "Overlay the ideal waveform of the settings above"
        )

    # ---------------------------------------------------------------------- view
    def window_seconds(self) -> float:
        """Seconds across the screen (automatic: three periods of the ideal)."""
        chosen = float(self.time_base.currentData())
        if chosen > 0:
            return chosen
        s = self.settings or self.current_settings()
        freqs = [s.frequency_hz] + [o.frequency_hz for o in self.overlays]
        return float(np.clip(3.0 / min(freqs), 0.02, 20.0))

    def set_time_base(self, seconds: float) -> None:
        """Choose one of TIME_BASES by its seconds (0 = automatic)."""
        idx = self.time_base.findData(float(seconds))
        if idx < 0:
            raise ValueError(f"time base {seconds!r} s is not offered")
        self.time_base.setCurrentIndex(idx)

    def presentation_time_base(self) -> float:
        """The offered time base presentation mode starts with: about five periods of
        the applied settings (10 s without settings), at most 20 s."""
        s = self.settings
        if s is None or s.frequency_hz <= 0:
            return PRESENTATION_WINDOW_S
        want = PRESENTATION_PERIODS / s.frequency_hz
        offered = [sec for _, sec in TIME_BASES if sec > 0]
        return next((sec for sec in offered if sec >= want * 0.999), offered[-1])

    def _present_time_base_chosen(self, index: int) -> None:
        if index != self.time_base.currentIndex():
            self.time_base.setCurrentIndex(index)

    def _view_changed(self) -> None:
        if self.present_time_base.currentIndex() != self.time_base.currentIndex():
            self.present_time_base.blockSignals(True)
            self.present_time_base.setCurrentIndex(self.time_base.currentIndex())
            self.present_time_base.blockSignals(False)
        if self.timeline is not None:
            self.timeline.window_s = self.window_seconds()
        self._dirty = True

    def set_frozen(self, frozen: bool) -> None:
        """Hold the picture. Every sweep is drawn together with the annotations computed
        on its own samples, so what freezes is that pair (nothing is recomputed)."""
        self.frozen = bool(frozen)
        if self.freeze_button.isChecked() != self.frozen:
            self.freeze_button.setChecked(self.frozen)
        self.freeze_button.setText("Frozen — click to resume" if frozen else "Freeze")
        self._dirty = True

    def toggle_presentation(self) -> None:
        self.set_presentation(not self.presentation)

    def set_presentation(self, on: bool) -> None:
        """Full screen, large fonts, high contrast, 10 s across. F11 or the button."""
        on = bool(on)
        if on == self.presentation:
            return
        self.presentation = on
        if self.present_button.isChecked() != on:
            self.present_button.setChecked(on)
        self.present_button.setText("Exit presentation (F11)" if on else "Presentation (F11)")
        self.controls_scroll.setVisible(not on)
        self.present_time_base.setVisible(on)
        win = self.window()
        if on:
            self._saved_time_base = self.time_base.currentIndex()
            self.set_time_base(self.presentation_time_base())
            self._saved_window_state = win.windowState()
            win.showFullScreen()
            # large for the back of the room, and the row still fits 1280 pixels
            big = "font-size: 16pt; padding: 6px 16px;"
            for b in (
                self.reset_button,
                self.start_button,
                self.stop_button,
                self.freeze_button,
                self.present_button,
                self.present_time_base,
            ):
                b.setStyleSheet(big)
            self.status.setStyleSheet("font-size: 18pt;")
        else:
            self.time_base.setCurrentIndex(self._saved_time_base)
            win.setWindowState(self._saved_window_state)
            for b in (
                self.reset_button,
                self.start_button,
                self.stop_button,
                self.freeze_button,
                self.present_button,
                self.present_time_base,
            ):
                b.setStyleSheet("")
            self.status.setStyleSheet("")
        self.plot.set_presentation(on)
        self._update_title()
        self._dirty = True
        self.presentation_changed.emit(on)

    # -------------------------------------------------------------------- replay
    def load_recording(
        self,
        t,
        i_ua,
        v_v,
        events=(),
        settings: OutputSettings | None = None,
        sample_rate: float | None = None,
        schedule: OutputSchedule | None = None,
    ) -> bool:
        """Replay a recorded session: times (s), current (µA), voltage (V), optional
        ``(time s, text)`` events and the commanded settings (for the ideal): ``settings``
        throughout, or a ``schedule`` of what was in force when (a program's steps,
        intensity changes, pauses).

        Returns False, and says what is wrong with the arrays in the status line (and
        ``message``), when the recording cannot be replayed; the view is unchanged.
        """
        try:
            rec = Recording.from_arrays(
                t,
                i_ua,
                v_v,
                settings=settings,
                events=events,
                sample_rate=sample_rate,
                schedule=schedule,
            )
        except RecordingError as exc:
            self._say(f"Cannot replay this recording: {exc}")
            return False
        self.recording = rec
        self._sync_rate()
        self.timeline = Timeline(len(rec), rec.sample_rate, self.window_seconds())
        self.replay_bar.setVisible(True)
        self.play_button.setText("Play")
        self._sync_slider()
        self._dirty = True
        self._update_title()
        kinds = {p.settings for p in rec.output_schedule().pieces} - {None}
        if len(kinds) > 1:
            what = (
                f" (starting with {describe(rec.settings)}; {len(kinds)} settings in all)"
                if rec.settings
                else f" ({len(kinds)} settings in all)"
            )
        else:
            what = f" ({describe(rec.settings)})" if rec.settings else ""
        self._say(f"Replaying a recording of {rec.duration_s:.1f} s{what}.")
        return True

    def close_recording(self) -> None:
        """Back to the live view."""
        self.recording = None
        self._sync_rate()
        self.timeline = None
        self.replay_bar.setVisible(False)
        self._dirty = True
        self._update_title()

    def toggle_play(self) -> None:
        tl = self.timeline
        if tl is None:
            return
        if tl.playing:
            tl.pause()
        else:
            tl.play()
        self.play_button.setText("Pause" if tl.playing else "Play")
        self._dirty = True

    def set_speed(self, speed: int) -> None:
        idx = self.speed.findData(speed)
        if idx < 0:
            raise ValueError(f"replay speed ×{speed} is not offered: choose ×1, ×2 or ×5")
        self.speed.setCurrentIndex(idx)

    def seek(self, seconds: float) -> None:
        if self.timeline is not None:
            self.timeline.seek(seconds)
            self._sync_slider()
            self._dirty = True

    def _speed_changed(self) -> None:
        if self.timeline is not None:
            self.timeline.speed = self.speed.currentData()

    def _slider_moved(self, value: int) -> None:
        if self.timeline is not None and value != self.timeline.to_slider():
            self.timeline.from_slider(value)
            self._dirty = True
            self._update_replay_time()

    def _sync_slider(self) -> None:
        if self.timeline is None:
            return
        self.slider.blockSignals(True)
        self.slider.setValue(self.timeline.to_slider())
        self.slider.blockSignals(False)
        self._update_replay_time()

    def _update_replay_time(self) -> None:
        tl = self.timeline
        if tl is not None:
            self.replay_time.setText(f"{tl.position_s:6.1f} s / {tl.duration_s:.1f} s")
            if self._replay_settings() != self._titled_settings:
                self._update_title()

    def _replay_settings(self) -> OutputSettings | None:
        """The settings in force at the replay's playhead (a program changes them)."""
        rec, tl = self.recording, self.timeline
        if rec is None:
            return None
        return rec.settings_at(tl.position_s if tl is not None else 0.0)

    # ------------------------------------------------------------------ painting
    def _show_live_mark(self, now: float) -> None:
        """● and ○ in turn every LIVE_BLINK_S while live samples arrive; what the picture
        is otherwise (a replay, frozen, no live samples). Set only when it changes."""
        if self.recording is not None:
            text = ""
        elif self.frozen:
            text = "frozen"
        elif self._newest_at and now - self._newest_at < LIVE_STALE_S:
            text = ("● live", "○ live")[int(now / LIVE_BLINK_S) % 2]
        else:
            text = "no live samples"
        if text != self.live_mark.text():
            self.live_mark.setText(text)

    def render_frame(self) -> None:
        """Timer tick: advance a playing replay, then redraw if anything changed."""
        now = time.monotonic()
        wall, self._last_tick = now - self._last_tick, now
        self._show_live_mark(now)
        tl = self.timeline
        if tl is not None and tl.playing:
            tl.advance(min(wall, 0.5))
            if not tl.playing:
                self.play_button.setText("Play")
            self._sync_slider()
            self._dirty = True
        if self.frozen or not self._dirty or not self.isVisible():
            return
        if tl is None and now - self._last_annotate < self._annotate_gap:
            return  # a live sweep is drawn only with its own annotations: not yet
        frame, t0, fs, cur, volt = (
            self._replay_frame() if self.recording is not None else self._live_frame()
        )
        if frame is None:
            return
        self._dirty = False
        if (
            self.recording is None
            and self._annotated_settings == self.settings
            and not (self.annotations is not None and self.annotations.ramping)
            and self.plot.shows_already(frame)
        ):
            # a live sweep the screen already shows (an idle flat trace, a steady wave):
            # neither it nor its annotations are drawn again
            self.frames_unchanged += 1
            return
        # the sweep and its annotations are one pair: computed on the very samples drawn,
        # shown together, frozen together
        self.plot.show_frame(frame)
        self.frames_drawn += 1
        self._drawn = (t0, fs, cur, volt)
        self._last_annotate = now
        self.refresh_annotations(t0, fs, cur, volt)
        cost = time.monotonic() - now
        self._annotate_gap = min(LIVE_SWEEP_MAX_S, max(LIVE_SWEEP_MIN_S, cost / ANNOTATE_BUDGET))

    def refresh_annotations(self, t0: float, fs: float, cur: np.ndarray, volt: np.ndarray) -> None:
        settings = self._replay_settings() if self.recording is not None else self.settings
        self._annotated_settings = settings
        if cur.size < 4 or not np.isfinite(cur).any():
            self.annotations = None
            self.plot.clear_annotations()
        else:
            self.annotations = annotate(t0, fs, cur, volt, settings)
            self.plot.show_annotations(self.annotations)
        self._update_readout()

    def _overlays(self, x0: float, x1: float) -> tuple[np.ndarray | None, list]:
        """Overlay traces over [x0, x1] (phase 0 at the sweep start), evaluated 4 times
        per column. A wave too fast for the screen (under 16 columns a period) is drawn
        as min and max per column, so it fills its band instead of aliasing."""
        if not len(self.overlays):
            return None, []
        sub = 4
        span = x1 - x0
        x = x0 + (np.arange(COLUMNS * sub) + 0.5) * (span / (COLUMNS * sub))
        out = []
        for s, name, y in zip(
            self.overlays, self.overlays.labels(), self.overlays.traces(x - x0), strict=True
        ):
            if s.frequency_hz * span > COLUMNS / 16:
                cols = y.reshape(COLUMNS, sub)
                y = np.repeat(cols.min(axis=1), sub)
                y[1::sub] = cols.max(axis=1)  # a vertical stroke per column
            out.append((name, y))
        return x, out

    def _y_amplitude(self, *values: float, live: bool = True) -> float:
        """Half the current axis: the values, and when ``live`` the overlays and the
        applied settings (a replay is scaled to its own data and ideal only)."""
        amps = [v for v in values if math.isfinite(v)]
        if live:
            amps += [o.amplitude_ua for o in self.overlays]
            if self.settings is not None:
                amps.append(self.settings.amplitude_ua)
        return max(amps + [10.0])

    def _live_frame(self):
        w_s = self.window_seconds()
        fs = self.ring.sample_rate
        if fs is None or self.ring.newest is None:
            # no samples yet: still show the ideal and the overlays
            x = np.linspace(0.0, w_s, COLUMNS)
            s = self.settings
            ideal = ideal_trace(s, x, ramp=False) if s is not None else None
            frame = Frame(
                x=x,
                delivered=np.full(x.size, np.nan),
                ideal=ideal,
                voltage=np.full(x.size, np.nan),
                overlays=self._overlays(0.0, w_s),
                x_range=(0.0, w_s),
                y_amplitude=self._y_amplitude(),
            )
            return frame, 0.0, 1.0, np.zeros(0), np.zeros(0)
        n = max(16, int(round(w_s * fs)))
        s = self.settings
        per = int(round(fs / s.frequency_hz)) if s is not None else 0
        extra = min(per, n) if per > 0 else 0
        w = self.ring.latest(n + extra)
        # start the sweep on a period start, like a triggered scope: the picture stands still
        k = extra
        if extra:
            marks = np.flatnonzero(w.sync[: extra + 1])
            if marks.size:
                k = int(marks[-1])
        if self._settling(w.start + k):
            return None, 0.0, fs, np.zeros(0), np.zeros(0)
        cur = w.current_ua[k : k + n].astype(np.float64)
        volt = w.voltage_v[k : k + n].astype(np.float64)
        ref = w.reference_ua[k : k + n].astype(np.float64)
        dt = 1.0 / fs
        arrays = [cur, volt] + ([ref] if s is not None else [])
        x, ys = envelopes(arrays, 0.0, dt, 0.0, n * dt, COLUMNS)
        ideal = ys[2] if s is not None else None
        frame = Frame(
            x=x,
            delivered=ys[0],
            ideal=ideal,
            voltage=ys[1],
            overlays=self._overlays(0.0, n * dt),
            x_range=(0.0, n * dt),
            y_amplitude=self._y_amplitude(
                float(np.nanmax(np.abs(cur))) if np.isfinite(cur).any() else math.nan
            ),
        )
        return frame, 0.0, fs, cur, volt

    def _replay_frame(self):
        rec, tl = self.recording, self.timeline
        if rec is None or tl is None:
            return None, 0.0, 1.0, np.zeros(0), np.zeros(0)
        tl.window_s = self.window_seconds()
        sl = tl.window()
        fs = rec.sample_rate
        dt = 1.0 / fs
        lo, hi = tl.window_start_s(), tl.position_s
        cur = rec.current_ua[sl]
        volt = rec.voltage_v[sl]
        if cur.size == 0:
            x = np.linspace(lo, hi, 2)
            frame = Frame(
                x=x,
                delivered=np.full(2, np.nan),
                ideal=None,
                voltage=np.full(2, np.nan),
                x_range=(lo, hi),
                y_amplitude=self._y_amplitude(live=False),
                x_label="session time",
            )
            return frame, lo, fs, cur, volt
        t0 = sl.start * dt
        ref = rec.ideal(sl)
        has_ideal = bool(np.isfinite(ref).any())
        arrays = [cur, volt] + ([ref] if has_ideal else [])
        x, ys = envelopes(arrays, t0, dt, lo, hi, COLUMNS)
        ideal = ys[2] if has_ideal else None
        events = [(e.t, e.text) for e in rec.events if lo <= e.t <= hi]
        with np.errstate(invalid="ignore"):
            peak = float(np.nanmax(np.abs(cur))) if np.isfinite(cur).any() else math.nan
        frame = Frame(
            x=x,
            delivered=ys[0],
            ideal=ideal,
            voltage=ys[1],
            x_range=(lo, hi),  # no live overlays over a recording
            y_amplitude=max(
                self._y_amplitude(peak, live=False),
                float(np.nanmax(np.abs(ref))) if has_ideal else 0.0,
            ),
            events=events,
            x_label="session time",
        )
        return frame, t0, fs, cur, volt

    # ------------------------------------------------------------------ text
    def _update_title(self) -> None:
        s = self.settings
        what = (
            describe(s) + f", {s.amplitude_ua:g} µA" if s is not None else "no settings applied yet"
        )
        load = self.load.currentText() if hasattr(self, "load") else ""
        load = load.replace(" (electrode–skin)", "")
        if self.recording is not None:
            src = "Replay of a recorded session"
            rs = self._replay_settings()
            self._titled_settings = rs
            what = describe(rs) + f", {rs.amplitude_ua:g} µA" if rs else "settings not recorded"
            load = ""
        else:
            src = "Live"
        size = "20pt" if self.presentation else "12pt"
        into = f" · into <b>{load}</b>" if load else ""
        self.title.setText(f"<span style='font-size:{size}'>{src}: <b>{what}</b>{into}</span>")

    def _update_readout(self) -> None:
        a = self.annotations
        if a is None:
            self.readout.setText(
                "No delivered waveform yet: apply settings and start output, or replay a recording."
            )
            return
        cmd = a.commanded

        def row(name: str, value: str, commanded: str = "") -> str:
            extra = (
                f" <span style='color:{palette.MUTED}'>(set {commanded})</span>"
                if commanded
                else ""
            )
            return f"<tr><td>{name}</td><td align='right'><b>{value}</b>{extra}</td></tr>"

        def num(x: float, fmt: str, unit: str) -> str:
            return "—" if not math.isfinite(x) else f"{format(x, fmt)} {unit}"

        if a.ramping:  # the start ramp: its periods are not the output's

            def num(x: float, fmt: str, unit: str) -> str:  # noqa: F811 - ramping
                return "ramping" if not math.isfinite(x) else f"{format(x, fmt)} {unit}"

        rows = [
            row(
                "Period",
                num(a.period_s * 1e3, ".1f", "ms"),
                num(a.commanded_period_s * 1e3, ".1f", "ms") if cmd else "",
            ),
            row(
                "Frequency",
                num(a.frequency_hz, ".2f", "Hz"),
                num(cmd.frequency_hz, "g", "Hz") if cmd else "",
            ),
            row(
                "Amplitude",
                num(a.amplitude_ua, ".1f", "µA"),
                num(cmd.amplitude_ua, "g", "µA") if cmd else "",
            ),
            row(
                "Charge / phase",
                num(a.charge_per_phase_uc, ".3f", "µC"),
                num(a.commanded_charge_uc, ".3f", "µC") if cmd else "",
            ),
            row("Net charge / period", num(a.net_charge_uc, "+.3f", "µC")),
            row("Load |V/I|", num(a.measured.get("impedance_ohm", math.nan) / 1e3, ".2f", "kΩ")),
            row("Polarity flips in view", str(len(a.flips))),
        ]
        if a.ramp is not None:
            burst = cmd is not None and cmd.waveform == Waveform.BURST
            set_s = (BURST_CYCLE_S / 4 if burst else cmd.ramp_s) if cmd else math.nan
            rows.append(
                row(
                    ramp_name(a).capitalize(),
                    num(a.ramp.duration_s, ".2f", "s"),
                    num(set_s, "g", "s") if cmd else "",
                )
            )
        notes = "".join(f"<br><i>{n}</i>" for n in a.notes)
        self.readout.setText("<table width='100%'>" + "".join(rows) + "</table>" + notes)

    def _say(self, text: str) -> None:
        self.message.emit(text)  # connected to the status line

    # ------------------------------------------------------------------ shutdown
    def shutdown(self) -> None:
        """Stop the repaint timer and leave presentation mode (before closing)."""
        self._timer.stop()
        self._cancel_pending_apply()
        if self.presentation:
            self.set_presentation(False)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        self.shutdown()
        super().closeEvent(event)
