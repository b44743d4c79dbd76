"""The one editor of output settings (waveform, frequency, amplitude, polarity, flip, ramp).

Used by the technician's manual output panel (:mod:`app.ui.output_panel`) and the
trainer's waveform studio (:mod:`app.ui.trainer.studio`). It only edits an
:class:`~app.device.waveform.OutputSettings`: what is done with it (sent to the device,
drawn as the ideal) is the caller's, and whatever is sent is checked again by the output
authority and the firmware.
"""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QWidget

from app.device.protocol import Info
from app.device.waveform import OutputSettings, Polarity, Waveform

MIN_FREQUENCY_HZ = 0.1  # the lowest carrier any screen offers, whatever the device says


class OutputSettingsEditor(QWidget):
    """One row per setting in a form (``form``: callers may add their own rows to it,
    aligned with these). ``waveform_label`` and ``amplitude_label`` name those rows
    (the trainer says "Shape" under a "Waveform" title, and "Amplitude"); ``polarity`` is
    the one shown first. "Flip every" is enabled only for alternating polarity.
    """

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
        self.frequency = _spin(MIN_FREQUENCY_HZ, 2000.0, 10.0, " Hz", 1)
        self.amplitude = _spin(0.0, 600.0, 100.0, " µA", 0, step=10.0)
        self.polarity = QComboBox()
        for p in Polarity:
            self.polarity.addItem(p.label, p)
        self.polarity.setCurrentIndex(self.polarity.findData(polarity))
        self.flip = _spin(0.5, 60.0, 2.0, " s", 1, step=0.5)
        self.ramp = _spin(0.0, 10.0, 1.0, " s", 1, step=0.5)
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
        self.amplitude.setMaximum(min(self.amplitude.maximum(), float(info.max_current_ua)))

    def _polarity_changed(self) -> None:
        self.flip.setEnabled(self.polarity.currentData() == Polarity.ALTERNATING)


def _spin(
    lo: float, hi: float, value: float, suffix: str, decimals: int, step: float = 1.0
) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(lo, hi)
    spin.setDecimals(decimals)
    spin.setSingleStep(step)
    spin.setValue(value)
    spin.setSuffix(suffix)
    spin.setKeyboardTracking(False)
    spin.setAccelerated(True)
    return spin
