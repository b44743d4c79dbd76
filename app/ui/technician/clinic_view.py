"""The clinic's limit settings, edited on the technician bench and kept in the store.

The store's clinic row is shared by every room. The panel shows each reading the
console receives (this room's save, another room's change). Its fields are *based on*
one stored version (``base``): a save states that version and the store's writer
refuses it if another room saved since (the store is the one authority on staleness:
:class:`app.store.clinic.SaveClinicSettings`). Once a newer version has arrived while
the fields hold unsaved changes, the panel is in *conflict*: Save is disabled, and the
message lists what is stored now against what was typed here; *Revert* shows the stored
limits, and the typed values stay listed until the next save so they can be entered
again. Saves go through the store's writer (never waiting: the request's future is
polled), and every save is a service record (old → new) in the bench's Service history.

What a saved change does to output (``app.engine.authority``): a lowered limit lowers
output already above it at once (here at once, in the other rooms as soon as they read
the change, about a second); a raised limit never raises output already running, it
applies to the next intensity change or start.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
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
from app.ui.number_field import NumberField
from app.ui.technician.pin_dialog import when_done


def _zone_name(zid: str) -> str:
    zone = ZONES[zid]
    side = {"l": " (client's left)", "r": " (client's right)"}.get(zone.side, "")
    return (zone.muscle_name or zone.name) + side


def _values(cs: ClinicSettings) -> dict[str, str]:
    """What the panel edits, in words: field label (or zone name) -> value with its unit."""
    out = {
        label: f"{getattr(cs, name):g} {unit}" for name, (label, unit, _lo, _hi) in FIELDS.items()
    }
    for zid in sorted(ZONES, key=_zone_name):
        value = cs.zone_max_ua.get(zid)
        out[f"Zone {_zone_name(zid)}"] = "default" if value is None else f"{value:g} µA"
    return out


def differences(stored: ClinicSettings, typed: ClinicSettings) -> list[tuple[str, str, str]]:
    """(what, stored value, typed value) for every edited value that differs."""
    a, b = _values(stored), _values(typed)
    return [(k, a[k], b[k]) for k in a if a[k] != b[k]]


def output_effect(old: ClinicSettings, new: ClinicSettings) -> str:
    """What saving ``new`` over ``old`` does to output, as the output authority acts:
    a lowered ceiling lowers output above it at once; a raised one raises nothing."""
    zones = [[z] for z in ZONES] + [[]]  # every zone, and manual work without one

    def ceiling(cs: ClinicSettings, z: list[str]) -> float:
        zone = cs.zone_limit(z)[0]
        return cs.max_current_ua if zone is None else min(cs.max_current_ua, zone)

    pairs = [(ceiling(old, z), ceiling(new, z)) for z in zones]
    lowered = any(b < a for a, b in pairs)
    raised = any(b > a for a, b in pairs)
    parts = []
    if lowered:
        parts.append(
            "Output running above the new limits is lowered to them at once: here now, "
            "in the other rooms as soon as they read the change (about a second)."
        )
    if raised:
        parts.append(
            "A raised limit does not raise output already running: it applies to the "
            "next intensity change or start."
        )
    if not parts:
        parts.append("The output limits are unchanged.")
    return " ".join(parts)


class ClinicLimitsPanel(QWidget):
    """Edit, check and save the clinic limits in the store;
    ``clinic_settings_changed(ClinicSettings)`` after each successful save (committed)."""

    clinic_settings_changed = Signal(object)
    saved = Signal()  # a save committed (or refused: see message)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store: Any = None  # the running store (writer), once open
        self.record: Any = None  # app.store.clinic.ClinicRecord: the newest reading
        self.base: Any = None  # the reading the fields were loaded from (a save states it)
        self.stale_version = 0  # a newer version the store named in refusing a save
        self.stale: Any = None  # that refusal (who saved, when)
        self.unsaved: ClinicSettings | None = None  # typed here, set aside by Revert
        self.saving = False
        self.dirty = False
        layout = QVBoxLayout(self)
        box = QGroupBox("Clinic limits")
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self.spins: dict[str, NumberField] = {}
        for name, (label, unit, lo, hi) in FIELDS.items():
            spin = NumberField(
                lo, hi, suffix=f" {unit}", decimals=2 if hi <= 20 else 0, label=label
            )
            spin.setMinimumWidth(160)
            spin.valueChanged.connect(self._on_edit)
            spin.problem_changed.connect(self._on_edit)
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
        # the buttons and what they say, side by side under the fields: the zone table
        # (which scrolls) gives way, never these (a check's error, a conflict, a result)
        buttons = QHBoxLayout()
        self.save_button = QPushButton("Save limits")
        self.save_button.setObjectName("primary")
        self.save_button.clicked.connect(self.save)
        self.revert_button = QPushButton("Revert")
        self.revert_button.setToolTip(
            "Show the stored limits (the newest reading), in place of the changes here"
        )
        self.revert_button.clicked.connect(self.revert)
        column = QVBoxLayout()
        column.addWidget(self.save_button)
        column.addWidget(self.revert_button)
        column.addStretch(1)
        buttons.addLayout(column, 0)
        self.message = QLabel()
        self.message.setObjectName("clinic_message")
        self.message.setTextFormat(Qt.TextFormat.PlainText)  # names a host, an operator
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons.addWidget(self.message, 1)
        layout.addLayout(buttons, 0)
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
        self.zone_spins: dict[str, NumberField] = {}
        for row, zid in enumerate(self.zone_ids):
            name = QTableWidgetItem(_zone_name(zid))
            if zone_ids.is_eye_area(zid):
                name.setToolTip("Eye area")
            self.zone_table.setItem(row, 0, name)
            self.zone_table.setItem(row, 1, QTableWidgetItem())
            spin = NumberField(
                0.0, 1000.0, suffix=" µA", step=10.0, label=f"Zone {_zone_name(zid)}"
            )
            spin.setSpecialValueText("default")  # 0: the zone has no limit of its own
            spin.setFrame(False)
            spin.valueChanged.connect(self._on_edit)
            spin.problem_changed.connect(self._on_edit)
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
            assert item is not None  # set in _build_zone_table
            item.setText("—" if limit is None else f"{limit:g} µA")
            item.setToolTip(why)
            self.zone_spins[zid].set_bold(self.zone_spins[zid].value() > 0)

    def edited(self) -> ClinicSettings:
        zones = {z: s.value() for z, s in self.zone_spins.items() if s.value() > 0}
        return dataclasses.replace(
            self.current, zone_max_ua=zones, **{n: s.value() for n, s in self.spins.items()}
        )

    def field_problems(self) -> list[str]:
        """Numbers typed outside their range (kept on screen, never taken)."""
        fields = [*self.spins.values(), *self.zone_spins.values()]
        return [f.problem() for f in fields if f.problem()]

    def problems(self) -> list[str]:
        """Why the values shown cannot be saved (empty: they can)."""
        return self.field_problems() or check_clinic_settings(self.edited())

    # ------------------------------------------------------------------ versions

    @property
    def base_version(self) -> int | None:
        """The stored version the fields are based on (0: none stored; None: not read)."""
        if self.base is None:
            return None
        return self.base.version if self.base.exists else 0

    @property
    def conflict(self) -> bool:
        """The fields hold changes made from a version the store no longer has."""
        if not self.dirty:
            return False
        if self.base_version is None:  # edited before the stored limits were read
            return self.record is not None
        newest = max(self.stale_version, self._version(self.record))
        return newest > self.base_version

    @staticmethod
    def _version(record: Any) -> int:
        return 0 if record is None or not record.exists else int(record.version)

    def set_store(self, store: Any) -> None:
        self.store = store
        self._on_edit_state()

    def show_record(self, record: Any) -> None:
        """A reading of the store's clinic row. Unsaved changes are kept, and then said to
        be in conflict with it (their save is refused: Revert shows the stored ones)."""
        self.record = record
        if self.saving:
            return  # the save's answer decides what is shown
        if self.dirty:
            if self.conflict:
                self._show_conflict()
            return
        if self.base is not None and self._version(record) == self.base_version:
            self.base = record  # the version shown (e.g. this room's save read back)
            return
        self.load()

    def revert(self) -> None:
        """Show the stored limits (the newest reading) in place of the changes here; in a
        conflict the values typed here stay listed (not saved) to be entered again."""
        if self._waiting_for_reading():
            return
        if self.conflict:
            self.unsaved = self.edited()
        self.load()

    def _waiting_for_reading(self) -> bool:
        """The store named a newer version than the newest reading: Revert would show
        older limits as the stored ones, so it waits for the watch's next reading."""
        return self.stale_version > self._version(self.record)

    def load(self) -> None:
        """Show the settings of the last reading of the store (defaults before one)."""
        problems: list[str] = []
        self.base = self.record
        self.stale_version = 0
        self.stale = None
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
            self._say(
                self._stored_text() + self._unsaved_text(), style.WARN if self.unsaved else ""
            )

    def _stored_text(self) -> str:
        by = self.record.updated_by if self.record is not None else None
        when = self.record.updated_at if self.record is not None else None
        return "Showing the stored limits" + (
            f" (last changed by {by} at {when:%Y-%m-%d %H:%M} UTC)." if by and when else "."
        )

    def _unsaved_text(self) -> str:
        if self.unsaved is None:
            return ""
        diffs = differences(self.current, self.unsaved)
        if not diffs:
            return ""
        typed = ", ".join(f"{what} {mine}" for what, _stored, mine in diffs)
        return (
            f" Your values, not saved: {typed}. Enter them again and save if they "
            "should still apply."
        )

    def _show_conflict(self) -> None:
        """Save is off: say who changed the stored limits, what they are now against what
        was typed here (or, before the newer reading arrived, what was typed)."""
        rec = self.record
        arrived = rec is not None and self._version(rec) >= self.stale_version
        source: Any = rec if arrived else self.stale
        who = getattr(source, "updated_by", None) or "another room"
        at = getattr(source, "updated_at", None)
        when = f" at {at:%H:%M} UTC" if at else ""
        lines = [
            f"Not saved — the stored limits were changed by {who}{when} while you were "
            "editing here, so Save is off (it would overwrite that change)."
        ]
        if arrived:
            stored = ClinicSettings()
            if rec is not None and rec.exists:
                stored = settings_from_dict(rec.settings)[0]
            diffs = differences(stored, self.edited())
            if diffs:
                lines.append("Stored now: " + ", ".join(f"{w} {a}" for w, a, _b in diffs) + ".")
                lines.append(
                    "Yours, not saved: " + ", ".join(f"{w} {b}" for w, _a, b in diffs) + "."
                )
            lines.append("Revert shows the stored limits; your values stay listed here.")
        else:
            diffs = differences(self.current, self.edited())
            if diffs:
                lines.append(
                    "Yours, not saved: " + ", ".join(f"{w} {b}" for w, _a, b in diffs) + "."
                )
            lines.append("Reading the stored limits…")
        self._on_edit_state()
        self._say("\n".join(lines), style.ALARM)

    # ------------------------------------------------------------------ saving

    def save(self) -> bool:
        """Submit the edited settings; True when the save was submitted (the result comes
        with ``saved``/``clinic_settings_changed``)."""
        from app.store.clinic import SaveClinicSettings

        if self.conflict:
            self._show_conflict()
            return False
        problems = self.problems()
        if problems:
            self._say(f"Not saved: {'; '.join(problems)}.", style.ALARM)
            return False
        if self.store is None:
            self._say(
                "Not saved: the clinic limits are kept in the client records, which are not open.",
                style.ALARM,
            )
            return False
        expected = self.base_version
        if expected is None:
            self._say(
                "Not saved: the stored clinic limits have not been read yet; try again in a "
                "moment.",
                style.ALARM,
            )
            return False
        cs = self.edited()
        old = self.current
        # the version the fields were loaded from: the store refuses the save if another
        # room saved since (in the same transaction as the write), never a silent overwrite
        future = self.store.writer.submit(
            SaveClinicSettings(
                settings_to_dict(cs),
                expected,
                None,  # the operator signed in (the store's writer fills it)
                defaults=settings_to_dict(ClinicSettings()),
            )
        )
        self.saving = True
        self._on_edit_state()
        self._say("Saving in the client records…", style.WARN)
        when_done(future, self, lambda result, exc: self._saved(old, cs, result, exc))
        return True

    def _saved(
        self, old: ClinicSettings, cs: ClinicSettings, version: Any, exc: BaseException | None
    ) -> None:
        from app.store.clinic import StaleClinicSettings

        self.saving = False
        if isinstance(exc, StaleClinicSettings):
            # another room saved first: the typed values stay, in conflict with it
            base = self.base_version or 0
            self.stale = exc
            self.stale_version = exc.version if exc.version > base else base + 1
            self._show_conflict()
            self.saved.emit()
            return
        if exc is not None:
            self._on_edit_state()
            self._say(f"Not saved: {exc}. Your changes are still shown here.", style.ALARM)
            if self.conflict:  # a newer reading arrived meanwhile: that says more
                self._show_conflict()
            self.saved.emit()
            return
        assert self.base is not None
        self.base = dataclasses.replace(
            self.base, exists=True, settings=settings_to_dict(cs), version=int(version)
        )
        self.current = cs
        self.dirty = False
        self.unsaved = None
        self._on_edit_state()
        self._say(
            "Limits saved for every room (recorded in the Service history). "
            + output_effect(old, cs),
            style.OK,
        )
        self.clinic_settings_changed.emit(cs)
        self.saved.emit()
        if self._version(self.record) > int(version):  # another room saved just after
            self.show_record(self.record)

    def _on_edit_state(self) -> None:
        self.revert_button.setEnabled(not self.saving and not self._waiting_for_reading())
        self.save_button.setEnabled(
            self.store is not None
            and not self.saving
            and self.dirty
            and not self.conflict
            and not self.problems()
        )

    def _on_edit(self) -> None:
        self.dirty = True
        self._refresh_defaults(self.edited())
        self._on_edit_state()
        if self.saving:
            return
        if self.conflict:
            self._show_conflict()
            return
        problems = self.problems()
        if problems:
            self._say("Not saved: " + "; ".join(problems) + ".", style.ALARM)
        elif self.dirty:
            self._say("Changed — not saved yet." + self._unsaved_text(), style.WARN)

    def _say(self, text: str, colour: str) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color:{colour};font-weight:600" if colour else "")
