"""Guided run: the present step, its countdown, step and session progress, navigation.

A view of a :class:`app.engine.controller.SessionController`: every button calls the
controller; nothing here decides about output. At each step change under way it gives
a visual cue (the step card flashes) and an audible one (the system beep, which does
nothing where there is no audio device), and emits ``zones_changed`` for the face map.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import palette
from app.engine import zone_ids
from app.engine.controller import SessionController
from app.engine.guided import GuidedView
from app.engine.limits import excluded_zone, zone_name
from app.engine.session import ACTIVE, SessionState
from app.format import clock
from app.ui import style
from app.ui.keys import key_name
from app.ui.labels import ElidedLabel

_STATE_COLOUR = {
    SessionState.IDLE: style.MUTED,
    SessionState.READY: style.OK,
    SessionState.RAMPING_UP: style.OK,
    SessionState.RUNNING: style.OK,
    SessionState.PAUSED: style.WARN,
    SessionState.RAMPING_DOWN: style.WARN,
    SessionState.COMPLETE: style.MUTED,
    SessionState.CONTACT_LOST: style.ALARM,
    SessionState.LINK_LOST: style.ALARM,
    SessionState.DEVICE_FAULT: style.ALARM,
    SessionState.ESTOPPED: style.ALARM,
}
_CARD = palette.css(
    "QFrame#stepCard {{ background:{bg}; border:1px solid @BORDER_LIGHT@; border-radius:8px; }}"
)
CUE_MS = 1200
_BUTTONS = (
    palette.css("""
QPushButton { border:1px solid @CARD_BUTTON_BORDER@; background:@WHITE@; border-radius:4px;
              padding:5px 12px; }
QPushButton:hover { background:@HOVER@; }
QPushButton:disabled { color:@GREY@; border-color:@DISABLED_BORDER@; background:@WINDOW@; }
QPushButton#primary { background:@ACCENT@; color:@WHITE@; font-weight:600;
                      border-color:@ACCENT@; }
QPushButton#primary:disabled { background:@ACCENT_DISABLED@; border-color:@ACCENT_DISABLED@; }
QPushButton#stopRun { color:@STOP_RUN@; border-color:@STOP_RUN@; font-weight:600; }
QPushButton#stopRun:disabled { color:@GREY@; border-color:@DISABLED_BORDER@; }
""")
    + style.FOCUS_BUTTON
    + """
"""
)


def zones_text(zones: tuple[str, ...]) -> str:
    """'orbicularis oculi (left, right), procerus' from zone ids."""
    if not zones:
        return "chosen on the face map"
    by_muscle: dict[str, list[str]] = {}
    for z in zones:
        muscle = zone_ids.muscle_of(z)
        side = {"l": "left", "r": "right"}.get(z.rsplit("_", 1)[-1]) if z != muscle else None
        by_muscle.setdefault(muscle, [])
        if side:
            by_muscle[muscle].append(side)
    parts = []
    for muscle, sides in by_muscle.items():
        name = muscle.replace("_", " ")
        parts.append(f"{name} ({', '.join(sides)})" if sides else name)
    return ", ".join(parts)


class GuidedRunPanel(QWidget):
    """The guided run of the controller's program."""

    zones_changed = Signal(tuple)  # zone ids of the active step, for the face map
    cue_given = Signal(int)  # step index, each time the step-change cue is given

    def __init__(self, controller: SessionController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctl = controller
        self._shown_index: int | None = None

        self.program = ElidedLabel()  # a long custom program's name never widens the panel
        self.program.setStyleSheet("font-size:15px;font-weight:600")
        self.state = QLabel()
        head = QHBoxLayout()
        head.addWidget(self.program, 1)
        head.addWidget(self.state)

        self.card = QFrame()
        self.card.setObjectName("stepCard")
        self.step_no = QLabel()
        self.step_no.setStyleSheet(f"color:{style.MUTED};font-weight:600")
        self.step_name = QLabel()
        self.step_name.setStyleSheet("font-size:22px;font-weight:700")
        self.step_name.setWordWrap(True)
        # program and step names, instructions: a custom program's text, never markup
        for label in (self.program, self.step_name):
            label.setTextFormat(Qt.TextFormat.PlainText)
        self.countdown = QLabel("0:00")
        self.countdown.setStyleSheet(
            "font-size:40px;font-weight:700;font-family:'DejaVu Sans Mono',monospace"
        )
        self.countdown.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.zones = QLabel()
        self.zones.setWordWrap(True)
        self.technique = QLabel()
        self.output = QLabel()
        self.instructions = QLabel()
        self.instructions.setWordWrap(True)
        self.instructions.setStyleSheet("font-style:italic")
        self.instructions.setTextFormat(Qt.TextFormat.PlainText)  # a custom program's text
        card = QGridLayout(self.card)
        card.addWidget(self.step_no, 0, 0)
        card.addWidget(self.step_name, 1, 0)
        card.addWidget(self.countdown, 0, 1, 2, 1)
        card.addWidget(self._caption("Zones"), 2, 0, 1, 2)
        card.addWidget(self.zones, 3, 0, 1, 2)
        card.addWidget(self._caption("Technique"), 4, 0, 1, 2)
        card.addWidget(self.technique, 5, 0, 1, 2)
        card.addWidget(self._caption("Step settings"), 6, 0, 1, 2)
        card.addWidget(self.output, 7, 0, 1, 2)
        card.addWidget(self.instructions, 8, 0, 1, 2)
        card.setColumnStretch(0, 1)
        self._set_card(cue=False)

        self.step_bar = QProgressBar()
        self.step_bar.setRange(0, 1000)
        self.step_bar.setTextVisible(False)
        self.session_bar = QProgressBar()
        self.session_bar.setRange(0, 1000)
        self.session_bar.setTextVisible(False)
        self.step_left = QLabel()
        self.session_left = QLabel()
        bars = QGridLayout()
        bars.addWidget(QLabel("Step"), 0, 0)
        bars.addWidget(self.step_bar, 0, 1)
        bars.addWidget(self.step_left, 0, 2)
        bars.addWidget(QLabel("Session"), 1, 0)
        bars.addWidget(self.session_bar, 1, 1)
        bars.addWidget(self.session_left, 1, 2)
        bars.setColumnStretch(1, 1)

        self.back_button = QPushButton("◀ Back")
        self.repeat_button = QPushButton("↻ Repeat step")
        self.skip_button = QPushButton("Skip ▶")
        self.back_button.setToolTip("Go back to the start of the previous step")
        self.repeat_button.setToolTip("Restart this step's countdown")
        self.skip_button.setToolTip("Go to the next step")
        self.down_button = QPushButton("− intensity")
        self.up_button = QPushButton("+ intensity")
        self.target = QLabel()
        self.target.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.target.setMinimumWidth(90)
        self.target.setStyleSheet("font-weight:700")
        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("primary")
        self._pause_key = "F8"  # named on the button and hints; set by set_keys
        self.pause_button = QPushButton("Pause (F8)")
        self.stop_button = QPushButton("Stop (ramp down)")
        self.stop_button.setObjectName("stopRun")
        self.back_button.clicked.connect(controller.previous_step)
        self.repeat_button.clicked.connect(controller.repeat_step)
        self.skip_button.clicked.connect(controller.skip_step)
        self.down_button.clicked.connect(controller.intensity_down)
        self.up_button.clicked.connect(controller.intensity_up)
        self.start_button.clicked.connect(self._start_or_reset)
        self.pause_button.clicked.connect(controller.toggle_pause)
        self.stop_button.clicked.connect(controller.stop)
        # Three short rows (steps, intensity, run) rather than two long ones: the desk
        # fits a 1280-pixel-wide screen beside the face map.
        nav = QHBoxLayout()
        for b in (self.back_button, self.repeat_button, self.skip_button):
            nav.addWidget(b)
        nav.addStretch(1)
        # one line, elided (the whole name in its tooltip): a long name never makes the
        # row taller, so the buttons below it never move between steps
        self.next_step = ElidedLabel()
        self.next_step.setStyleSheet(f"color:{style.MUTED}")
        self.next_step.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        # the client's comfortable level on this step's zones (or why the step will be
        # skipped): one elided line, so nothing below moves as it changes
        self.comfort = ElidedLabel()
        self.comfort.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        level = QHBoxLayout()
        level.addWidget(QLabel("Intensity"))
        level.addStretch(1)
        level.addWidget(self.down_button)
        level.addWidget(self.target)
        level.addWidget(self.up_button)
        run = QHBoxLayout()
        run.addWidget(self.start_button)
        run.addWidget(self.pause_button)
        run.addWidget(self.stop_button)
        run.addStretch(1)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setObjectName("hint")

        self.setStyleSheet(_BUTTONS)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.card)
        layout.addLayout(bars)
        layout.addLayout(nav)
        layout.addWidget(self.next_step)  # a line of its own: the name mostly fits
        layout.addWidget(self.comfort)  # a line of its own, always there (maybe empty)
        layout.addLayout(level)
        layout.addLayout(run)
        layout.addWidget(self.hint)
        layout.addStretch(1)

        self._cue_timer = QTimer(self)
        self._cue_timer.setSingleShot(True)
        self._cue_timer.setInterval(CUE_MS)
        self._cue_timer.timeout.connect(lambda: self._set_card(cue=False))
        controller.step_changed.connect(self._on_step)
        controller.progress_changed.connect(self._show_progress)
        controller.state_changed.connect(self._on_state)
        controller.limits_changed.connect(lambda _d: self._show_target())
        controller.notice.connect(self._show_notice)
        controller.record_emitted.connect(self._on_record)
        controller.alarm.connect(self._show_alarm)
        controller.client_facts_changed.connect(lambda _f: self._show_target())
        self._on_step(controller.guided_view())
        self._on_state(controller.state)

    def set_keys(self, pause: QKeySequence, next_step: QKeySequence) -> None:
        """Name the pause/resume and next-step keys on the buttons (a foot switch's)."""
        self._pause_key = key_name(pause)
        self.skip_button.setToolTip(f"Go to the next step ({key_name(next_step)})")
        self.pause_button.setToolTip(f"Pause or resume the output ({self._pause_key})")
        self._on_state(self._ctl.state)

    @staticmethod
    def _caption(text: str) -> QLabel:
        label = QLabel(text.upper())
        label.setStyleSheet(f"color:{style.MUTED};font-size:10px;font-weight:700")
        return label

    def _set_card(self, *, cue: bool) -> None:
        self.card.setStyleSheet(_CARD.format(bg=palette.CARD_CUE if cue else palette.WHITE))

    def _start_or_reset(self) -> None:
        if self._ctl.state is SessionState.COMPLETE or self._ctl.state.latched:
            self._ctl.reset()
        else:
            self._ctl.start()

    # ------------------------------------------------------------------ updates

    def _on_step(self, view: GuidedView | None) -> None:
        m = self._ctl.machine
        step = m.step
        if view is None or step is None:
            self.program.setText("No program chosen")
            self.step_no.setText("")
            self.step_name.setText("Choose a program to begin")
            for label in (self.zones, self.technique, self.output, self.instructions):
                label.setText("")
            self._show_progress(None)
            return
        self.program.setText(view.program_name)
        self.step_no.setText(f"STEP {view.step_index + 1} OF {view.step_count}")
        self.step_name.setText(view.step_name)
        self.zones.setText(zones_text(m.zones()))
        technique = step.technique.replace("_", " ").capitalize()
        if step.direction != "none":
            technique += f" · {step.direction.replace('_', ' ')}"
        self.technique.setText(technique)
        o = step.output
        polarity = o.polarity.label
        if o.polarity.name == "ALTERNATING":
            polarity += f" every {o.alternate_s:g} s"
        self.output.setText(
            f"{o.waveform.label} {o.frequency_hz:g} Hz · {polarity} · "
            f"{o.amplitude_ua:.0f} µA · ramp {o.ramp_s:g} s"
        )
        self.instructions.setText(step.instructions)
        self.instructions.setVisible(bool(step.instructions))
        if view.step_index + 1 < view.step_count:
            upcoming = self._ctl.machine.program.steps[view.step_index + 1]  # type: ignore[union-attr]
            self.next_step.setText(f"Next: {upcoming.name}")
        else:
            self.next_step.setText("Last step")
        changed = self._shown_index is not None and self._shown_index != view.step_index
        self._shown_index = view.step_index
        self.zones_changed.emit(tuple(m.zones()))
        if changed and m.state in ACTIVE:
            self._cue(view.step_index)
        self._show_progress(view)
        self._show_target()

    def _cue(self, index: int) -> None:
        self._set_card(cue=True)
        self._cue_timer.start()
        QApplication.beep()  # silently nothing where there is no audio device
        self.cue_given.emit(index)

    def _show_progress(self, view: GuidedView | None) -> None:
        if view is None:
            self.countdown.setText("0:00")
            self.step_bar.setValue(0)
            self.session_bar.setValue(0)
            self.step_left.setText("")
            self.session_left.setText("")
            return
        self.countdown.setText(clock(view.step_remaining_s))
        self.step_bar.setValue(round(view.step_progress * 1000))
        self.session_bar.setValue(round(view.session_progress * 1000))
        self.step_left.setText(f"{clock(view.step_remaining_s)} left")
        self.session_left.setText(f"{clock(view.session_remaining_s)} left")

    def _show_target(self) -> None:
        m = self._ctl.machine
        self.target.setText(f"{m.target_ua:.0f} µA" if m.step is not None else "—")
        self._show_comfort()

    def _show_comfort(self) -> None:
        """'comfort level from last session: 180 µA' — or why this step will be skipped."""
        m = self._ctl.machine
        zones = m.zones()
        rule = excluded_zone(m.zone_rules, zones) if m.step is not None else None
        if rule is not None:
            text = f"{zone_name(rule.zone)} excluded for this client ({rule.reason}): skipped"
            colour = style.ALARM
        elif m.step is not None and (level := m.comfort_for(zones)) is not None:
            text = f"comfort level from last session: {level:.0f} µA"
            if m.target_ua < level - 0.5 and m.state not in ACTIVE:
                text += f" (starts at {m.target_ua:.0f} µA: {m.decision(level).layer_label})"
            colour = style.MUTED
        else:
            text, colour = "", style.MUTED
        self.comfort.setText(text)
        self.comfort.setStyleSheet(f"color:{colour}")

    def _set_hint(self, text: str, colour: str = style.MUTED) -> None:
        self.hint.setText(text)
        self.hint.setStyleSheet(f"color:{colour}")

    def _on_record(self, _record: object) -> None:
        if self._ctl.state is SessionState.IDLE:  # what is missing may have changed
            self._set_hint(*self._state_hint(SessionState.IDLE))

    def _show_notice(self, text: str) -> None:
        self._set_hint(text[0].upper() + text[1:], style.WARN)

    def _show_alarm(self, text: str) -> None:
        self._set_hint(text, style.ALARM)

    def _stopped_early(self, state: SessionState) -> bool:
        """Ended before the program's last step (Stop pressed): recorded as stopped, and
        said so here, not "complete"."""
        run = self._ctl.machine.run
        return state is SessionState.COMPLETE and run is not None and not run.finished

    def _state_hint(self, state: SessionState) -> tuple[str, str]:
        if self._stopped_early(state):
            return "Session stopped before the program's end (recorded as stopped).", style.MUTED
        missing = self._ctl.machine.missing()
        if state is SessionState.IDLE and missing:
            return "Before starting: " + "; ".join(missing) + ".", style.MUTED
        return {
            SessionState.READY: ("Ready: press Start.", style.OK),
            SessionState.PAUSED: (
                f"Paused: press Resume or {self._pause_key} to continue.",
                style.WARN,
            ),
            SessionState.CONTACT_LOST: (
                "Contact lost: place the probes on the skin, then Resume.",
                style.ALARM,
            ),
            SessionState.COMPLETE: ("Session complete.", style.OK),
            SessionState.LINK_LOST: (
                "Link to the device lost: reconnect, then Reset.",
                style.ALARM,
            ),
            SessionState.DEVICE_FAULT: (
                "Device fault: output is off. Reset when it is safe.",
                style.ALARM,
            ),
            SessionState.ESTOPPED: (
                "Emergency stop: output is off. Reset when it is safe.",
                style.ALARM,
            ),
        }.get(state, ("", style.MUTED))

    def _on_state(self, state: SessionState) -> None:
        self._set_hint(*self._state_hint(state))
        colour = _STATE_COLOUR[state]
        label = "Stopped" if self._stopped_early(state) else state.label
        self.state.setText(style.pill(label, colour))
        has_run = self._ctl.machine.run is not None
        navigable = has_run and state not in (SessionState.RAMPING_DOWN, SessionState.COMPLETE)
        for b in (self.back_button, self.repeat_button, self.skip_button):
            b.setEnabled(navigable)
        adjustable = (
            has_run
            and not state.latched
            and state not in (SessionState.RAMPING_DOWN, SessionState.COMPLETE)
        )
        self.up_button.setEnabled(adjustable)
        self.down_button.setEnabled(adjustable)
        was = self.start_button.text()
        if state is SessionState.COMPLETE:
            self.start_button.setText("New session")
        elif state.latched:
            self.start_button.setText("Reset")
        else:
            self.start_button.setText("Start")
            if was in ("Reset", "New session") and self.start_button.hasFocus():
                # the key that pressed Reset must not, pressed again, start output: Start
                # after a reset is a choice of its own (Tab back to it, or click it)
                self.start_button.clearFocus()
        self.start_button.setEnabled(
            state in (SessionState.READY, SessionState.COMPLETE) or state.latched
        )
        self.start_button.setToolTip(
            "; ".join(self._ctl.machine.missing()) if state is SessionState.IDLE else ""
        )
        self.pause_button.setEnabled(
            state
            in (
                SessionState.RUNNING,
                SessionState.RAMPING_UP,
                SessionState.PAUSED,
                SessionState.CONTACT_LOST,
            )
        )
        resume = state in (SessionState.PAUSED, SessionState.CONTACT_LOST)
        self.pause_button.setText(f"{'Resume' if resume else 'Pause'} ({self._pause_key})")
        self.stop_button.setEnabled(state in ACTIVE)
