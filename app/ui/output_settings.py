"""The one editor of output settings (waveform, frequency, amplitude, polarity, flip, ramp).

Used by the technician's manual output panel (:mod:`app.ui.output_panel`) and the
trainer's waveform studio (:mod:`app.ui.trainer.studio`). It only edits an
:class:`~app.device.waveform.OutputSettings`: what is done with it (sent to the device,
drawn as the ideal) is the caller's, and whatever is sent is checked again by the output
authority and the firmware. Its numbers are :class:`~app.ui.number_field.NumberField`:
a typed number outside a field's range is kept and named ("Intensity: 500 µA is above
the limit of 150 µA (clinic maximum)", shown under the fields); callers refuse to apply
or start while :meth:`OutputSettingsEditor.problem` says so.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QSizePolicy, QWidget

from app import palette
from app.device.protocol import Info
from app.device.waveform import OutputSettings, Polarity, Waveform
from app.ui.number_field import NumberField

MIN_FREQUENCY_HZ = 0.1  # the lowest carrier any screen offers, whatever the device says


class OutputSettingsEditor(QWidget):
    """One row per setting in a form (``form``: callers may add their own rows to it,
    aligned with these). ``waveform_label`` and ``amplitude_label`` name those rows
    (the trainer says "Shape" under a "Waveform" title, and "Amplitude"); ``polarity`` is
    the one shown first. "Flip every" is enabled only for alternating polarity.
    ``problem_changed(str)``: a typed number outside its range (or "" once none is).
    """

    problem_changed = Signal(str)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        waveform_label: str = "Waveform",
        amplitude_label: str = "Intensity",
        polarity: Polarity = Polarity.ALTERNATING,
    ) -> None:
        super().__init__(parent)
        self.waveform = QComboBox()
        for w in Waveform:
            self.waveform.addItem(w.label, w)
        self.frequency = _spin(MIN_FREQUENCY_HZ, 2000.0, 10.0, " Hz", 1, label="Frequency")
        self.amplitude = _spin(0.0, 600.0, 100.0, " µA", 0, step=10.0, label=amplitude_label)
        self.polarity = QComboBox()
        for p in Polarity:
            self.polarity.addItem(p.label, p)
        self.polarity.setCurrentIndex(self.polarity.findData(polarity))
        self.flip = _spin(0.5, 60.0, 2.0, " s", 1, step=0.5, label="Flip every")
        self.ramp = _spin(0.0, 10.0, 1.0, " s", 1, step=0.5, label="Ramp")
        self.polarity.currentIndexChanged.connect(self._polarity_changed)
        self._polarity_changed()

        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.addRow(waveform_label, self.waveform)
        self.form.addRow("Frequency", self.frequency)
        self.form.addRow(amplitude_label, self.amplitude)
        self.form.addRow("Polarity", self.polarity)
        self.form.addRow("Flip every", self.flip)
        self.form.addRow("Ramp", self.ramp)
        self.problem_label = QLabel()  # a typed number that is not taken, and why
        self.problem_label.setWordWrap(True)
        # a long message wraps in the width the form has: it never widens the form
        self.problem_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.problem_label.setStyleSheet(f"color:{palette.MESSAGE_ERROR};font-weight:600")
        self.problem_label.setVisible(False)
        self.form.addRow(self.problem_label)
        for field in self.fields():
            field.problem_changed.connect(self._problem_changed)

    def fields(self) -> tuple[NumberField, ...]:
        return (self.frequency, self.amplitude, self.flip, self.ramp)

    def problem(self) -> str:
        """Why the settings shown cannot be used ("" when every number is in range)."""
        return "; ".join(p for p in (f.problem() for f in self.fields()) if p)

    def _problem_changed(self, _text: str) -> None:
        text = self.problem()
        self.problem_label.setText(text)
        self.problem_label.setVisible(bool(text))
        self.problem_changed.emit(text)

    def settings(self) -> OutputSettings:
        return OutputSettings(
            waveform=Waveform(self.waveform.currentData()),
            frequency_hz=self.frequency.value(),
            amplitude_ua=self.amplitude.value(),
            polarity=Polarity(self.polarity.currentData()),
            alternate_s=self.flip.value(),
            ramp_s=self.ramp.value(),
        )

    def set_settings(self, s: OutputSettings) -> None:
        self.waveform.setCurrentIndex(self.waveform.findData(s.waveform))
        self.polarity.setCurrentIndex(self.polarity.findData(s.polarity))
        self.frequency.setValue(s.frequency_hz)
        self.amplitude.setValue(s.amplitude_ua)
        self.flip.setValue(s.alternate_s)
        self.ramp.setValue(s.ramp_s)

    def set_device(self, info: Info) -> None:
        """Bound the frequency by the device's range and the amplitude by its maximum."""
        self.frequency.setRange(
            max(MIN_FREQUENCY_HZ, float(info.min_frequency_hz)), float(info.max_frequency_hz)
        )
        if float(info.max_current_ua) < self.amplitude.maximum():
            self.amplitude.set_limit(float(info.max_current_ua), "the device's maximum")

    def _polarity_changed(self) -> None:
        self.flip.setEnabled(self.polarity.currentData() == Polarity.ALTERNATING)


def _spin(
    lo: float,
    hi: float,
    value: float,
    suffix: str,
    decimals: int,
    step: float = 1.0,
    *,
    label: str,
) -> NumberField:
    spin = NumberField(
        lo, hi, value=value, suffix=suffix, decimals=decimals, step=step, label=label
    )
    spin.setKeyboardTracking(False)
    spin.setAccelerated(True)
    return spin
