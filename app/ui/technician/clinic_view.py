"""The clinic's limit settings, edited on the technician bench and kept in QSettings."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.engine.limits import ClinicSettings
from app.service.clinic_limits import (
    FIELDS,
    check_clinic_settings,
    load_clinic_settings,
    save_clinic_settings,
)
from app.service.pin import PinGuard, QSettingsStore
from app.ui import style
from app.ui.technician.pin_dialog import PinDialog


class ClinicLimitsPanel(QWidget):
    """Edit, check and save the clinic limits; ``clinic_settings_changed(ClinicSettings)``
    after each successful save."""

    clinic_settings_changed = Signal(object)

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        layout = QVBoxLayout(self)
        box = QGroupBox("Clinic limits")
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self.spins: dict[str, QDoubleSpinBox] = {}
        for name, (label, unit, lo, hi) in FIELDS.items():
            spin = QDoubleSpinBox()
            spin.setRange(lo, hi)
            spin.setDecimals(2 if hi <= 20 else 0)
            spin.setSuffix(f" {unit}")
            spin.setMinimumWidth(160)
            spin.valueChanged.connect(self._on_edit)
            self.spins[name] = spin
            form.addRow(label, spin)
        note = QLabel("The lowest limit always binds: device hard limit, clinic maximum, "
                      "eye-area maximum for eye-area zones, then the client's and the "
                      "program's. The density warning is shown when the current per probe "
                      "contact area exceeds it.")
        note.setWordWrap(True)
        note.setStyleSheet(f"color:{style.MUTED}")
        form.addRow(note)
        layout.addWidget(box)
        buttons = QHBoxLayout()
        self.save_button = QPushButton("Save limits")
        self.save_button.setObjectName("primary")
        self.save_button.clicked.connect(self.save)
        self.revert_button = QPushButton("Revert")
        self.revert_button.clicked.connect(self.load)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.revert_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.message = QLabel()
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        pin_box = QGroupBox("Technician PIN")
        pin_row = QHBoxLayout(pin_box)
        self.pin_button = QPushButton("Change PIN…")
        self.pin_button.clicked.connect(self._change_pin)
        self.pin_message = QLabel("Protects this bench. Stored only as a salted scrypt hash; "
                                  "wrong PINs lock the bench for a growing time.")
        self.pin_message.setWordWrap(True)
        self.pin_message.setStyleSheet(f"color:{style.MUTED}")
        pin_row.addWidget(self.pin_button)
        pin_row.addWidget(self.pin_message, 1)
        layout.addWidget(pin_box)
        layout.addStretch(1)
        self.current = ClinicSettings()
        self.load()

    def edited(self) -> ClinicSettings:
        return dataclasses.replace(self.current, **{n: s.value() for n, s in self.spins.items()})

    def load(self) -> None:
        self.current, problems = load_clinic_settings(self._settings)
        for name, spin in self.spins.items():
            spin.blockSignals(True)
            spin.setValue(getattr(self.current, name))
            spin.blockSignals(False)
        if problems:
            self._say("; ".join(problems), style.WARN)
        else:
            self._say("Showing the stored limits (defaults until first saved).", "")

    def save(self) -> bool:
        cs = self.edited()
        try:
            save_clinic_settings(self._settings, cs)
        except ValueError as exc:
            self._say(f"Not saved: {exc}", style.ALARM)
            return False
        self.current = cs
        self._say("Limits saved. They apply from the next output change.", style.OK)
        self.clinic_settings_changed.emit(cs)
        return True

    def _on_edit(self) -> None:
        problems = check_clinic_settings(self.edited())
        if problems:
            self._say("; ".join(problems), style.ALARM)
        else:
            self._say("Changed — not saved yet.", style.WARN)
        self.save_button.setEnabled(not problems)

    def _change_pin(self) -> None:
        guard = PinGuard(QSettingsStore(self._settings))
        if PinDialog(guard, self, change=True).exec() == PinDialog.DialogCode.Accepted:
            self.pin_message.setText("PIN changed.")
            self.pin_message.setStyleSheet(f"color:{style.OK};font-weight:600")

    def _say(self, text: str, colour: str) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color:{colour};font-weight:600" if colour else "")
