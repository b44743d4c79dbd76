"""The clinic's limit settings, edited on the technician bench and kept in the store.

The store's clinic row is shared by every room: the panel shows each reading the console
receives (this room's save, another room's change), saves through the store's writer
(never waiting: the request's future is polled) from the version it shows — a save made
from settings another room has changed since is refused and the stored ones are shown —
and every save is a service record (old → new) in the bench's Service history.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.engine import zone_ids
from app.engine.limits import ClinicSettings
from app.engine.zones import ZONES
from app.service.clinic_limits import (
    FIELDS,
    check_clinic_settings,
    settings_from_dict,
    settings_to_dict,
)
from app.ui import style
from app.ui.technician.pin_dialog import when_done


class ClinicLimitsPanel(QWidget):
    """Edit, check and save the clinic limits in the store;
    ``clinic_settings_changed(ClinicSettings)`` after each successful save (committed)."""

    clinic_settings_changed = Signal(object)
    saved = Signal()  # a save committed (or refused: see message)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store: Any = None  # the running store (writer), once open
        self.record: Any = None  # app.store.clinic.ClinicRecord last shown
        self.saving = False
        self.dirty = False
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
        note = QLabel(
            "The lowest limit always binds: device hard limit, clinic maximum, "
            "eye-area maximum for eye-area zones, then the client's and the "
            "program's. The density warning is shown when the current per probe "
            "contact area exceeds it."
        )
        note.setWordWrap(True)
        note.setStyleSheet(f"color:{style.MUTED}")
        form.addRow(note)
        top = QHBoxLayout()
        top.addWidget(box, 0)
        top.addWidget(self._build_zone_table(), 1)
        layout.addLayout(top, 1)
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
        self.current = ClinicSettings()
        self.load()
        self._say(
            "The clinic limits are kept in the client records; until they are read "
            "the defaults are shown (and applied).",
            style.WARN,
        )

    def _build_zone_table(self) -> QGroupBox:
        """Every zone with its default ceiling and the clinic's own limit, if any."""
        box = QGroupBox("Zone limits")
        v = QVBoxLayout(box)
        hint = QLabel(
            "A zone's own limit replaces its default (the face map's, or the "
            "eye-area maximum around the eyes). It may lower it, but never rise "
            "above the clinic or eye-area maximum. “default”: no limit of its own."
        )
        hint.setWordWrap(True)
        hint.setStyleSheet(f"color:{style.MUTED}")
        v.addWidget(hint)
        self.zone_ids = sorted(
            ZONES, key=lambda z: (ZONES[z].muscle_name or ZONES[z].name, ZONES[z].side)
        )
        self.zone_table = QTableWidget(len(self.zone_ids), 3)
        self.zone_table.setHorizontalHeaderLabels(("Zone", "Default", "Clinic limit"))
        self.zone_table.verticalHeader().setVisible(False)
        self.zone_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.zone_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.zone_spins: dict[str, QDoubleSpinBox] = {}
        for row, zid in enumerate(self.zone_ids):
            zone = ZONES[zid]
            side = {"l": " (client's left)", "r": " (client's right)"}.get(zone.side, "")
            name = QTableWidgetItem((zone.muscle_name or zone.name) + side)
            if zone_ids.is_eye_area(zid):
                name.setToolTip("Eye area")
            self.zone_table.setItem(row, 0, name)
            self.zone_table.setItem(row, 1, QTableWidgetItem())
            spin = QDoubleSpinBox()
            spin.setRange(0.0, 1000.0)
            spin.setDecimals(0)
            spin.setSingleStep(10.0)
            spin.setSuffix(" µA")
            spin.setSpecialValueText("default")  # 0: the zone has no limit of its own
            spin.setFrame(False)
            spin.valueChanged.connect(self._on_edit)
            self.zone_spins[zid] = spin
            self.zone_table.setCellWidget(row, 2, spin)
        header = self.zone_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.zone_table.setColumnWidth(2, 120)
        v.addWidget(self.zone_table, 1)
        return box

    def _refresh_defaults(self, cs: ClinicSettings) -> None:
        base = dataclasses.replace(cs, zone_max_ua={})
        for row, zid in enumerate(self.zone_ids):
            limit, why = base.zone_limit([zid])
            item = self.zone_table.item(row, 1)
            item.setText("—" if limit is None else f"{limit:g} µA")
            item.setToolTip(why)
            spin = self.zone_spins[zid]
            spin.setStyleSheet("font-weight:600" if spin.value() > 0 else "")

    def edited(self) -> ClinicSettings:
        zones = {z: s.value() for z, s in self.zone_spins.items() if s.value() > 0}
        return dataclasses.replace(
            self.current, zone_max_ua=zones, **{n: s.value() for n, s in self.spins.items()}
        )

    def set_store(self, store: Any) -> None:
        self.store = store
        self._on_edit_state()

    def show_record(self, record: Any) -> None:
        """A reading of the store's clinic row. Unsaved edits are kept (a save from them is
        refused if the stored settings changed meanwhile)."""
        changed_elsewhere = (
            self.record is not None and record.version != self.record.version and not self.saving
        )
        self.record = record
        if self.dirty and changed_elsewhere:
            self._say(
                f"The stored limits were changed by {record.updated_by or 'another room'}"
                ": Revert shows them; your changes here are not saved.",
                style.WARN,
            )
            return
        if not self.saving:
            self.load()

    def load(self) -> None:
        """Show the settings of the last reading of the store (defaults before one)."""
        problems: list[str] = []
        if self.record is not None and self.record.exists:
            self.current, problems = settings_from_dict(self.record.settings)
        else:
            self.current = ClinicSettings()
        for name, spin in self.spins.items():
            spin.blockSignals(True)
            spin.setValue(getattr(self.current, name))
            spin.blockSignals(False)
        for zid, spin in self.zone_spins.items():
            spin.blockSignals(True)
            spin.setValue(self.current.zone_max_ua.get(zid, 0.0))
            spin.blockSignals(False)
        self.dirty = False
        self._refresh_defaults(self.current)
        self._on_edit_state()
        if problems:
            self._say("; ".join(problems), style.WARN)
        elif self.record is not None:
            by = self.record.updated_by
            when = self.record.updated_at
            self._say(
                "Showing the stored limits"
                + (
                    f" (last changed by {by} at {when:%Y-%m-%d %H:%M} UTC)." if by and when else "."
                ),
                "",
            )

    def save(self) -> bool:
        """Submit the edited settings; True when the save was submitted (the result comes
        with ``saved``/``clinic_settings_changed``)."""
        from app.store.clinic import SaveClinicSettings

        cs = self.edited()
        problems = check_clinic_settings(cs)
        if problems:
            self._say(f"Not saved: {'; '.join(problems)}", style.ALARM)
            return False
        if self.store is None:
            self._say(
                "Not saved: the clinic limits are kept in the client records, which are not open.",
                style.ALARM,
            )
            return False
        # the version shown (0: none stored yet): a save over another room's newer change
        # is refused, never a silent overwrite
        expected = self.record.version if self.record is not None and self.record.exists else 0
        future = self.store.writer.submit(
            SaveClinicSettings(
                settings_to_dict(cs),
                expected,
                None,  # the operator signed in (the store's writer fills it)
                defaults=settings_to_dict(ClinicSettings()),
            )
        )
        self.saving = True
        self.save_button.setEnabled(False)
        self._say("Saving in the client records…", style.WARN)
        when_done(future, self, lambda result, exc: self._saved(cs, result, exc))
        return True

    def _saved(self, cs: ClinicSettings, version: Any, exc: BaseException | None) -> None:
        self.saving = False
        self._on_edit_state()
        if exc is not None:
            self._say(f"Not saved: {exc}.", style.ALARM)
            if self.dirty:
                self.dirty = False
                self.load()
                self._say(f"Not saved: {exc}.", style.ALARM)
            self.saved.emit()
            return
        self.current = cs
        self.dirty = False
        self._say(
            "Limits saved for every room (recorded in the Service history). They "
            "apply from the next output change.",
            style.OK,
        )
        self.clinic_settings_changed.emit(cs)
        self.saved.emit()

    def _on_edit_state(self) -> None:
        self.save_button.setEnabled(
            self.store is not None and not self.saving and not check_clinic_settings(self.edited())
        )

    def _on_edit(self) -> None:
        self.dirty = True
        self._refresh_defaults(self.edited())
        problems = check_clinic_settings(self.edited())
        if problems:
            self._say("; ".join(problems), style.ALARM)
        else:
            self._say("Changed — not saved yet.", style.WARN)
        self.save_button.setEnabled(not problems and self.store is not None and not self.saving)

    def _say(self, text: str, colour: str) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color:{colour};font-weight:600" if colour else "")
