"""Manual output controls: waveform, frequency, intensity, polarity, ramp; start/pause/stop."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import palette
from app.device.protocol import DeviceState, Info
from app.device.waveform import OutputSettings
from app.ui.output_settings import OutputSettingsEditor


class OutputPanel(QWidget):
    """Edits an OutputSettings and asks for it to be applied; shows the device's answer.

    The spin boxes are bounded by the device's hard limits (from INFO) and by the
    tighter ``amplitude_cap_ua`` the console sets (clinic/zone/client limits); the
    firmware checks again whatever arrives.
    """

    apply_requested = Signal(object)  # OutputSettings
    start_requested = Signal()
    pause_requested = Signal()
    resume_requested = Signal()
    stop_requested = Signal()
    reset_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._state = DeviceState.IDLE
        self._connected = False

        self.editor = OutputSettingsEditor()
        self.amplitude, self.ramp = self.editor.amplitude, self.editor.ramp  # the ones used most
        form = self.editor.form
        self.limit_label = QLabel()
        self.limit_label.setWordWrap(True)
        self.limit_label.setStyleSheet(f"color:{palette.MUTED}")
        form.addRow(self.limit_label)
        box = QGroupBox("Output")
        QVBoxLayout(box).addWidget(self.editor)

        self.apply_button = QPushButton("Apply")
        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("primary")
        self.pause_button = QPushButton("Pause")
        self.stop_button = QPushButton("Stop")
        self.reset_button = QPushButton("Reset device")
        self.reset_button.setToolTip("Clear a latched emergency stop, watchdog trip or fault")
        self.apply_button.clicked.connect(self._apply)
        self.start_button.clicked.connect(self._start)
        self.pause_button.clicked.connect(self._pause_resume)
        self.stop_button.clicked.connect(self.stop_requested)
        self.reset_button.clicked.connect(self.reset_requested)
        buttons = QGridLayout()
        buttons.addWidget(self.apply_button, 0, 0)
        buttons.addWidget(self.start_button, 0, 1)
        buttons.addWidget(self.pause_button, 1, 0)
        buttons.addWidget(self.stop_button, 1, 1)
        buttons.addWidget(self.reset_button, 2, 0, 1, 2)

        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.addWidget(box)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addStretch(1)
        self._refusal = ""  # the "Not applied/started: …" shown, until its problem is gone
        self.editor.problem_changed.connect(self._problem_changed)
        self.set_device_state(DeviceState.IDLE, connected=False)

    def settings(self) -> OutputSettings:
        return self.editor.settings()

    def set_settings(self, s: OutputSettings) -> None:
        self.editor.set_settings(s)

    def set_limits(self, info: Info | None, amplitude_cap_ua: float, reason: str) -> None:
        """Bound the inputs: device hard limits, then the console's binding limit."""
        if info is not None:
            self.editor.set_device(info)
            cap = min(amplitude_cap_ua, info.max_current_ua)
        else:
            cap = amplitude_cap_ua
        self.amplitude.set_limit(cap, reason)
        self.limit_label.setText(f"Intensity limit {cap:.0f} µA — {reason}")

    def set_device_state(self, state: DeviceState, *, connected: bool) -> None:
        self._state, self._connected = state, connected
        active = state in (DeviceState.RAMP_UP, DeviceState.RUNNING, DeviceState.RAMP_DOWN)
        self.apply_button.setEnabled(connected)
        self.start_button.setEnabled(connected and state == DeviceState.IDLE)
        paused = state in (DeviceState.PAUSED, DeviceState.CONTACT_LOST)
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_button.setEnabled(connected and (active or paused))
        self.stop_button.setEnabled(connected and (active or paused))
        self.reset_button.setVisible(state.latched)
        self.reset_button.setEnabled(connected and state.latched)

    def show_message(self, text: str, *, error: bool = False) -> None:
        colour = palette.MESSAGE_ERROR if error else palette.MESSAGE_OK
        self.message.setStyleSheet(f"color:{colour}")
        self.message.setText(text)
        self._refusal = ""

    def _problem_changed(self, problem: str) -> None:
        """The typed value that was refused is corrected (or the limit moved): the
        refusal is no longer true, so it goes."""
        if self._refusal and not problem and self.message.text() == self._refusal:
            self.message.clear()
            self._refusal = ""

    def _refused(self, what: str) -> bool:
        """A number typed outside its range: nothing is sent (never the number the field
        last held in place of the one shown)."""
        problem = self.editor.problem()
        if problem:
            self.show_message(f"Not {what}: {problem}.", error=True)
            self._refusal = self.message.text()
        return bool(problem)

    def _apply(self) -> None:
        if not self._refused("applied"):
            self.apply_requested.emit(self.settings())

    def _start(self) -> None:
        if self._refused("started"):
            return
        self.apply_requested.emit(self.settings())
        self.start_requested.emit()

    def _pause_resume(self) -> None:
        if self._state in (DeviceState.PAUSED, DeviceState.CONTACT_LOST):
            self.resume_requested.emit()
        else:
            self.pause_requested.emit()
