"""The custom program editor: clone a program, edit it, save it with the loader's validation.

Built-in programs are read-only; a clone is a custom program saved in the user's data
directory (``app.engine.programs.save_custom_program``). Every edit rebuilds the program's
JSON and runs it through :func:`app.engine.programs.parse_program`, the same check the
loader applies to files, so the editor can never save what the loader would refuse. The
first problem is shown next to the step table, naming the step and the field, the cell is
highlighted and Save stays disabled until it is fixed.
"""

from __future__ import annotations

import copy
import math
import re
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStyledItemDelegate,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app import palette
from app.engine import zone_ids
from app.engine.programs import (
    DIRECTIONS,
    ID_PATTERN,
    MAX_PROGRAM_S,
    POLARITIES,
    SCHEMA_VERSION,
    STEP_DEFAULTS,
    TECHNIQUES,
    WAVEFORMS,
    Program,
    ProgramError,
    builtin_dir,
    clone_program,
    delete_custom_program,
    load_library,
    parse_program,
    save_custom_program,
)
from app.engine.zones import ZONES
from app.format import clock
from app.ui import style
from app.ui.labels import ElidedLabel
from app.ui.screen_fit import resize_within_screen

_Index = QModelIndex | QPersistentModelIndex

# ------------------------------------------------------------------------ labels


def _muscle_labels() -> dict[str, str]:
    names = {z.muscle: z.muscle_name for z in ZONES.values() if z.muscle_name}
    return {m: names.get(m) or m.replace("_", " ").capitalize() for m in zone_ids.MUSCLES}


MUSCLE_LABELS = _muscle_labels()
SIDE_LABELS = {
    "left": "Client's left",
    "right": "Client's right",
    "both": "Both sides",
    "midline": "Midline",
}
TECHNIQUE_LABELS = {t: t.replace("_", " ").capitalize() for t in TECHNIQUES}
DIRECTION_LABELS = {d: d.replace("_", " ").capitalize() for d in DIRECTIONS}
WAVEFORM_LABELS = {k: w.label for k, w in WAVEFORMS.items()}
POLARITY_LABELS = {k: p.label for k, p in POLARITIES.items()}


class Column:
    """One column of the step table: the JSON field it edits and how it is shown."""

    def __init__(
        self,
        field: str,
        title: str,
        kind: str,
        choices: dict[str, str] | None = None,
        tip: str = "",
    ) -> None:
        self.field = field
        self.title = title
        self.kind = kind  # "text" | "muscles" | "choice" | "number"
        self.choices = choices or {}
        self.tip = tip


COLUMNS: tuple[Column, ...] = (
    Column("name", "Step name", "text", tip="Shown to the practitioner during the guided run"),
    Column(
        "zones",
        "Muscles",
        "muscles",
        tip="Double-click (or “Muscles…”) to choose; none: chosen on the face map",
    ),
    Column("side", "Side", "choice", SIDE_LABELS),
    Column("technique", "Technique", "choice", TECHNIQUE_LABELS),
    Column(
        "direction",
        "Direction",
        "choice",
        DIRECTION_LABELS,
        tip="Probe direction; a glide needs one",
    ),
    Column("waveform", "Waveform", "choice", WAVEFORM_LABELS),
    Column("frequency_hz", "Freq. Hz", "number", tip="Frequency, 0.5–1500 Hz"),
    Column(
        "amplitude_ua",
        "µA",
        "number",
        tip="The step's ceiling, above 0 and at most 600 µA; the layered limits may "
        "clamp it further at run time",
    ),
    Column("polarity", "Polarity", "choice", POLARITY_LABELS),
    Column(
        "alternate_s",
        "Alt. s",
        "number",
        tip="Alternate every … s (0.1–60 s): how often alternating polarity flips",
    ),
    Column("ramp_s", "Ramp s", "number", tip="0–10 s: ramp at start, resume and stop"),
    Column("duration_s", "Duration s", "number", tip="5–1200 s; the whole program ≤ 20 min"),
    Column("instructions", "Instructions", "text", tip="Optional, shown with the step"),
)
COLUMN_OF_FIELD = {c.field: i for i, c in enumerate(COLUMNS)}
FIELD_TITLES = {c.field: c.title for c in COLUMNS} | {"name": "Step name", "zones": "Muscles"}
PROGRAM_FIELD_TITLES = {
    "name": "Name",
    "description": "Description",
    "notes": "Notes",
    "steps": "Steps",
    "duration_s": "Total duration",
    "sources": "Sources",
    "schema_version": "Schema version",
}


def default_step() -> dict[str, Any]:
    """A new step: a gentle, valid 60 s hold on the forehead (edited from there)."""
    return {
        "name": "New step",
        "zones": ["frontalis"],
        "side": "both",
        "technique": "hold",
        "direction": "none",
        "waveform": "square",
        "frequency_hz": 10.0,
        "amplitude_ua": 100.0,
        "polarity": "alternating",
        "alternate_s": STEP_DEFAULTS["alternate_s"],
        "ramp_s": STEP_DEFAULTS["ramp_s"],
        "duration_s": 60.0,
        "instructions": "",
    }


def describe_error(exc: ProgramError, steps: list[dict[str, Any]] | None = None) -> str:
    """The error as the practitioner reads it: step number and name, field title, message."""
    if exc.step is not None:
        where = f"Step {exc.step}"
        if steps and 0 < exc.step <= len(steps):
            name = steps[exc.step - 1].get("name")
            if isinstance(name, str) and name.strip():
                where += f" “{name.strip()}”"
        if exc.field is not None:
            where += f", {FIELD_TITLES.get(exc.field, exc.field)} ({exc.field})"
        return f"{where}: {exc.message}"
    if exc.field is not None:
        return f"{PROGRAM_FIELD_TITLES.get(exc.field, exc.field)}: {exc.message}"
    return exc.message


def parse_number(text: str) -> float | str:
    """A number typed in a cell; text that is not a number is kept for the validator."""
    cleaned = text.strip().replace(",", ".")
    try:
        value = float(cleaned)
    except ValueError:
        return text
    return value


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def slug(text: str) -> str:
    """A program ID proposed from a name: lower-case letters, digits and underscores."""
    s = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return s[:64]


# ------------------------------------------------------------------------ step model


class StepTableModel(QAbstractTableModel):
    """The steps of one program as JSON dicts (the file's own field names)."""

    steps_edited = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._steps: list[dict[str, Any]] = []
        self._editable = False
        self._error_cell: tuple[int, int] | None = None
        self._error_row: int | None = None

    # content
    def set_steps(self, steps: list[dict[str, Any]], editable: bool) -> None:
        self.beginResetModel()
        self._steps = copy.deepcopy(steps)
        self._editable = editable
        self._error_cell = None
        self._error_row = None
        self.endResetModel()

    def steps(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self._steps)

    def step(self, row: int) -> dict[str, Any]:
        return copy.deepcopy(self._steps[row])

    @property
    def editable(self) -> bool:
        return self._editable

    def set_error(self, step: int | None, field: str | None) -> None:
        """Highlight the offending cell (step counted from 1), or clear with None."""
        old = (self._error_row, self._error_cell)
        self._error_row = step - 1 if step is not None else None
        col = COLUMN_OF_FIELD.get(field or "")
        self._error_cell = (
            (self._error_row, col) if (self._error_row is not None and col is not None) else None
        )
        if old != (self._error_row, self._error_cell) and self._steps:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._steps) - 1, len(COLUMNS) - 1)
            )

    # Qt model
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._steps)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section].title
            if role == Qt.ItemDataRole.ToolTipRole:
                return COLUMNS[section].tip or None
        elif role == Qt.ItemDataRole.DisplayRole:
            return str(section + 1)
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if self._editable and COLUMNS[index.column()].kind != "muscles":
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        col = COLUMNS[index.column()]
        value = self._steps[index.row()].get(col.field, STEP_DEFAULTS.get(col.field, ""))
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(col, value)
        if role == Qt.ItemDataRole.EditRole:
            if col.kind == "number" and isinstance(value, int | float):
                return f"{value:g}"
            return value
        if role == Qt.ItemDataRole.ToolTipRole:
            if col.field == "duration_s" and _finite(value):
                return f"{clock(value)} (min:s)"
            if col.kind == "muscles" and self._editable:
                return "Double-click to choose the muscles"
            return col.tip or None
        if role == Qt.ItemDataRole.BackgroundRole and self._error_cell == (
            index.row(),
            index.column(),
        ):
            return QBrush(QColor(palette.PROBLEM_CELL))
        if (
            role == Qt.ItemDataRole.FontRole
            and self._error_row == index.row()
            and (index.column() == 0)
        ):
            font = QFont()
            font.setBold(True)
            return font
        if (
            role == Qt.ItemDataRole.ForegroundRole
            and self._error_row == index.row()
            and (index.column() == 0)
        ):
            return QBrush(QColor(style.ALARM))
        return None

    @staticmethod
    def _display(col: Column, value: Any) -> str:
        if col.kind == "muscles":
            if not isinstance(value, list):
                return str(value)
            if not value:
                return "(chosen on the face map)"
            return ", ".join(MUSCLE_LABELS.get(m, m) for m in value)
        if col.kind == "choice":
            return col.choices.get(value, str(value))
        if col.kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
            return f"{value:g}"
        return str(value)

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.EditRole or not self._editable:
            return False
        col = COLUMNS[index.column()]
        if col.kind == "number" and isinstance(value, str):
            value = parse_number(value)
        elif col.kind == "muscles":
            value = list(value)
        self._steps[index.row()][col.field] = value
        self.dataChanged.emit(index, index)
        self.steps_edited.emit()
        return True

    def set_field(self, row: int, field: str, value: Any) -> bool:
        """Edit one step's field by its JSON name (as typing into the cell would)."""
        return self.setData(self.index(row, COLUMN_OF_FIELD[field]), value)

    # row operations
    def insert_step(self, row: int, step: dict[str, Any]) -> None:
        self.beginInsertRows(QModelIndex(), row, row)
        self._steps.insert(row, copy.deepcopy(step))
        self.endInsertRows()
        self.steps_edited.emit()

    def remove_step(self, row: int) -> None:
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._steps[row]
        self.endRemoveRows()
        self.steps_edited.emit()

    def move_step(self, row: int, to: int) -> None:
        if to == row or not (0 <= to < len(self._steps)):
            return
        dest = to + 1 if to > row else to
        self.beginMoveRows(QModelIndex(), row, row, QModelIndex(), dest)
        self._steps.insert(to, self._steps.pop(row))
        self.endMoveRows()
        self.steps_edited.emit()


class StepDelegate(QStyledItemDelegate):
    """Combo boxes for the fields with a fixed set of values; line edits for the rest."""

    def createEditor(self, parent: QWidget, option, index: _Index) -> QWidget:
        col = COLUMNS[index.column()]
        if col.kind == "choice":
            box = QComboBox(parent)
            for value, label in col.choices.items():
                box.addItem(label, value)
            return box
        return super().createEditor(parent, option, index)

    def setEditorData(self, editor: QWidget, index: _Index) -> None:
        if isinstance(editor, QComboBox):
            i = editor.findData(index.data(Qt.ItemDataRole.EditRole))
            editor.setCurrentIndex(max(i, 0))
            return
        super().setEditorData(editor, index)

    def setModelData(self, editor: QWidget, model, index: _Index) -> None:
        if isinstance(editor, QComboBox):
            model.setData(index, editor.currentData(), Qt.ItemDataRole.EditRole)
            return
        super().setModelData(editor, model, index)


# ------------------------------------------------------------------------ small dialogs


class MuscleChooser(QDialog):
    """Tick the muscles one step works on (none: chosen on the face map during the run)."""

    def __init__(self, chosen: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Muscles of this step")
        self.list = QListWidget()
        for m in zone_ids.MUSCLES:
            label = MUSCLE_LABELS[m]
            if m in zone_ids.MIDLINE_MUSCLES:
                label += " (midline)"
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, m)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if m in chosen else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.list.setMinimumHeight(380)
        hint = QLabel(
            "Left, right or both sides are set in the step's Side column; "
            "midline muscles need the side “Midline”. Tick none to let the "
            "practitioner choose the zone on the face map."
        )
        hint.setWordWrap(True)
        hint.setStyleSheet(f"color:{style.MUTED}")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.list)
        lay.addWidget(hint)
        lay.addWidget(buttons)

    def chosen(self) -> list[str]:
        out = []
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                out.append(item.data(Qt.ItemDataRole.UserRole))
        return out


class CloneDialog(QDialog):
    """Asks the copy's name and ID; the ID is the file name, so its characters are checked."""

    def __init__(self, source: Program, taken_ids: set[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Clone “{source.name}”")
        self._taken = set(taken_ids)
        self._id_edited = False
        self.name_edit = QLineEdit(f"{source.name} (my version)")
        self.id_edit = QLineEdit()
        self.id_edit.setMaxLength(64)
        self.id_edit.setPlaceholderText("e.g. my_full_face_lift")
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(f"color:{style.ALARM}")
        form = QFormLayout()
        form.addRow("Name", self.name_edit)
        form.addRow("ID (file name)", self.id_edit)
        hint = QLabel(
            "The ID names the program's file: lower-case letters, digits and "
            "underscores, starting with a letter or a digit."
        )
        hint.setWordWrap(True)
        hint.setStyleSheet(f"color:{style.MUTED}")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Clone")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(hint)
        lay.addWidget(self.problem)
        lay.addWidget(self.buttons)
        self.setMinimumWidth(440)
        self.name_edit.textChanged.connect(self._name_changed)
        self.id_edit.textEdited.connect(self._id_typed)
        self._name_changed(self.name_edit.text())

    def _name_changed(self, text: str) -> None:
        if not self._id_edited:
            proposal = slug(text) or "my_program"
            base, n = proposal, 2
            while proposal in self._taken:
                proposal = f"{base[:60]}_{n}"
                n += 1
            self.id_edit.setText(proposal)
        self._check()

    def _id_typed(self, _text: str) -> None:
        self._id_edited = True
        self._check()

    def problem_text(self) -> str:
        """Why the name/ID cannot be used; empty when they can."""
        pid = self.id_edit.text()
        if not self.name_edit.text().strip():
            return "The name must not be empty."
        if not pid:
            return "The ID must not be empty."
        if not ID_PATTERN.match(pid):
            bad = sorted({c for c in pid if not re.match(r"[a-z0-9_]", c)})
            if bad:
                return (
                    "The ID may only use lower-case letters, digits and underscores, "
                    f"not {' '.join(repr(c) for c in bad)}."
                )
            return "The ID must start with a lower-case letter or a digit."
        if (builtin_dir() / f"{pid}.json").exists():
            return f"“{pid}” is a built-in program's ID; choose another."
        if pid in self._taken:
            return f"A program with the ID “{pid}” already exists; choose another."
        return ""

    def _check(self) -> None:
        text = self.problem_text()
        self.problem.setText(text)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not text)

    def values(self) -> tuple[str, str]:
        return self.id_edit.text(), self.name_edit.text().strip()


# ------------------------------------------------------------------------ the editor


class ProgramEditorDialog(QDialog):
    """Lists the programs; clones one; edits and saves custom programs.

    ``program_saved(id)`` is emitted after each successful save (the file is written by
    :func:`save_custom_program`); ``saved_ids`` lists them in order.
    """

    program_saved = Signal(str)
    program_deleted = Signal(str)

    def __init__(self, current_id: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Treatment programs")
        resize_within_screen(self, 1400, 760)  # its Save button on a 1280-pixel screen
        self.saved_ids: list[str] = []
        self._library: dict[str, Program] = {}
        self._unsaved: dict[str, Program] = {}  # clones not yet written to disk
        self._current: Program | None = None
        self._dirty = False
        self._valid: Program | None = None
        self._loading = False

        # left: the programs
        self.program_list = QListWidget()
        self.program_list.setMinimumWidth(265)
        self.program_list.setSpacing(3)
        self.program_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.program_list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.program_list.currentItemChanged.connect(self._list_changed)
        self.clone_button = QPushButton("Clone…")
        self.clone_button.setToolTip("Make a custom copy of the selected program to edit")
        self.clone_button.clicked.connect(self._ask_clone)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setToolTip(
            "Delete the selected custom program (its file is kept "
            "in the programs folder's “deleted” folder)"
        )
        self.delete_button.clicked.connect(lambda: self.delete_current())
        self.load_errors = QLabel()
        self.load_errors.setWordWrap(True)
        self.load_errors.setStyleSheet(f"color:{style.ALARM}")
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(QLabel("<b>Programs</b>"))
        lv.addWidget(self.program_list, 1)
        library_buttons = QHBoxLayout()
        library_buttons.addWidget(self.clone_button)
        library_buttons.addWidget(self.delete_button)
        lv.addLayout(library_buttons)
        lv.addWidget(self.load_errors)

        # right: the editor
        self.title = ElidedLabel()  # a custom program's name: plain text, never wider
        self.title.setStyleSheet("font-size:16px;font-weight:700")
        self.readonly_note = QLabel(
            "Built-in programs cannot be changed. Use “Clone…” to make your own copy and edit that."
        )
        self.readonly_note.setWordWrap(True)
        self.readonly_note.setStyleSheet(
            f"background:{palette.NOTE_BACKGROUND};color:{palette.NOTE_TEXT};padding:6px;border-radius:4px"
        )
        self.name_edit = QLineEdit()
        self.description_edit = QLineEdit()
        self.notes_edit = QPlainTextEdit()
        self.notes_edit.setTabChangesFocus(True)  # Tab moves on; never typed in
        self.notes_edit.setPlaceholderText(
            "One note per line: where each parameter choice comes from; cite a source as [key]"
        )
        self.notes_edit.setFixedHeight(72)
        self.notes_edit.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        form = QFormLayout()
        form.addRow("Name", self.name_edit)
        form.addRow("Description", self.description_edit)
        form.addRow("Notes", self.notes_edit)

        self.model = StepTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setItemDelegate(StepDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.table.doubleClicked.connect(self._cell_double_clicked)

        self.add_button = QPushButton("Add step")
        self.remove_button = QPushButton("Remove step")
        self.up_button = QPushButton("Move up")
        self.down_button = QPushButton("Move down")
        self.muscles_button = QPushButton("Muscles…")
        self.muscles_button.setToolTip("Choose the muscles of the selected step")
        self.add_button.clicked.connect(self._add_step)
        self.remove_button.clicked.connect(self._remove_step)
        self.up_button.clicked.connect(lambda: self._move_step(-1))
        self.down_button.clicked.connect(lambda: self._move_step(+1))
        self.muscles_button.clicked.connect(self._choose_muscles)
        step_buttons = QHBoxLayout()
        for b in (
            self.add_button,
            self.remove_button,
            self.up_button,
            self.down_button,
            self.muscles_button,
        ):
            step_buttons.addWidget(b)
        step_buttons.addStretch(1)
        self.total_label = QLabel()
        step_buttons.addWidget(self.total_label)

        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setMinimumHeight(34)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.limits_note = QLabel(
            "µA is each step's ceiling and starting level. However a program is written, "
            "the console still bounds every step at run time by its layered limits — the "
            "device's own limits, the clinic's maximum, the zone limits (e.g. around the "
            "eyes) and the client's own limit — and the lowest one wins."
        )
        self.limits_note.setWordWrap(True)
        self.limits_note.setStyleSheet(f"color:{style.MUTED}")

        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("primary")
        self.save_button.setToolTip("Save this custom program (checked like a program file)")
        self.save_button.clicked.connect(self.save)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addWidget(self.limits_note, 1)
        bottom.addSpacing(12)
        bottom.addWidget(self.save_button)
        bottom.addWidget(self.close_button)

        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.title)
        rv.addWidget(self.readonly_note)
        rv.addLayout(form)
        rv.addWidget(self.table, 1)
        rv.addLayout(step_buttons)
        rv.addWidget(self.error_label)
        rv.addLayout(bottom)

        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([270, 1130])
        lay = QVBoxLayout(self)
        lay.addWidget(split)

        self.name_edit.textEdited.connect(self._edited)
        self.description_edit.textEdited.connect(self._edited)
        self.notes_edit.textChanged.connect(self._notes_changed)
        self.model.steps_edited.connect(self._edited)
        self.table.selectionModel().currentRowChanged.connect(self._update_buttons)

        self.reload(select=current_id)

    # ------------------------------------------------------------------ library

    def reload(self, select: str | None = None) -> None:
        """Read the library again (built-ins, then custom programs) and list it."""
        listing = load_library()
        self._library = {p.id: p for p in listing.programs}
        for pid in list(self._unsaved):
            if pid in self._library:
                del self._unsaved[pid]
        self.load_errors.setText("\n".join(str(e) for e in listing.errors))
        self._fill_list(select)

    def _all_programs(self) -> list[Program]:
        return list(self._library.values()) + list(self._unsaved.values())

    def _fill_list(self, select: str | None) -> None:
        self._loading = True
        self.program_list.clear()
        for p in self._all_programs():
            kind = (
                "built-in" if p.builtin else ("new, unsaved" if p.id in self._unsaved else "custom")
            )
            item = QListWidgetItem(f"{p.name}\n{p.id} · {kind} · {clock(p.duration_s)}")
            item.setData(Qt.ItemDataRole.UserRole, p.id)
            if not p.builtin:
                f = item.font()
                f.setBold(True)
                item.setFont(f)
            item.setToolTip(p.description)
            self.program_list.addItem(item)
        self._loading = False
        row = 0
        for i in range(self.program_list.count()):
            if self.program_list.item(i).data(Qt.ItemDataRole.UserRole) == select:
                row = i
        if self.program_list.count():
            self.program_list.setCurrentRow(row)
            self._show(
                self._program_by_id(self.program_list.item(row).data(Qt.ItemDataRole.UserRole))
            )
        else:
            self._show(None)

    def _program_by_id(self, pid: str) -> Program | None:
        return self._unsaved.get(pid) or self._library.get(pid)

    def select_program(self, program_id: str) -> bool:
        """Show ``program_id`` in the editor; False if there is no such program."""
        for i in range(self.program_list.count()):
            if self.program_list.item(i).data(Qt.ItemDataRole.UserRole) == program_id:
                self.program_list.setCurrentRow(i)
                return self._current is not None and self._current.id == program_id
        return False

    def _list_changed(self, item: QListWidgetItem | None, previous) -> None:
        if self._loading or item is None:
            return
        pid = item.data(Qt.ItemDataRole.UserRole)
        if self._current is not None and pid == self._current.id:
            return
        if not self._confirm_discard():
            self._loading = True
            self.program_list.setCurrentItem(previous)
            self._loading = False
            return
        self._show(self._program_by_id(pid))

    def _confirm_discard(self) -> bool:
        if not self._dirty or self._current is None:
            return True
        answer = QMessageBox.question(
            self,
            "Unsaved changes",
            f"“{self._current.name}” has changes that are not saved. Discard them?",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Discard

    # ------------------------------------------------------------------ editor

    @property
    def current(self) -> Program | None:
        """The program shown (as last loaded or cloned, without unsaved edits)."""
        return self._current

    @property
    def editable(self) -> bool:
        return self._current is not None and not self._current.builtin

    def _show(self, program: Program | None) -> None:
        self._loading = True
        self._current = program
        self._dirty = False
        editable = program is not None and not program.builtin
        data = program.to_json() if program is not None else None
        self._sources = data["sources"] if data else []
        self.title.setText(program.name if program else "No programs")
        self.readonly_note.setVisible(program is not None and program.builtin)
        self.name_edit.setText(data["name"] if data else "")
        self.description_edit.setText(data["description"] if data else "")
        self.notes_edit.setPlainText("\n".join(data["notes"]) if data else "")
        for w in (self.name_edit, self.description_edit):
            w.setReadOnly(not editable)
        self.notes_edit.setReadOnly(not editable)
        self.model.set_steps(data["steps"] if data else [], editable)
        self.table.resizeColumnsToContents()
        for i, width in ((0, 200), (1, 160), (len(COLUMNS) - 1, 160)):
            self.table.setColumnWidth(i, min(max(self.table.columnWidth(i), 90), width))
        self.clone_button.setEnabled(program is not None)
        self.delete_button.setEnabled(editable)
        self._loading = False
        self._validate()
        self._update_buttons()

    def program_data(self) -> dict[str, Any]:
        """The edited program as the JSON a program file holds."""
        notes = [n.strip() for n in self.notes_edit.toPlainText().splitlines() if n.strip()]
        return {
            "schema_version": SCHEMA_VERSION,
            "name": self.name_edit.text(),
            "description": self.description_edit.text(),
            "notes": notes,
            "sources": copy.deepcopy(self._sources),
            "steps": self.model.steps(),
        }

    def _notes_changed(self) -> None:
        if not self._loading and self.editable:
            self._edited()

    def _edited(self) -> None:
        if self._loading or self._current is None:
            return
        self._dirty = True
        self._validate()
        self._update_buttons()

    def _validate(self) -> None:
        """Run the edited program through the loader's own checks; show the first problem."""
        program = self._current
        self._valid = None
        if program is None:
            self.error_label.setText("")
            self.model.set_error(None, None)
            self.total_label.setText("")
            return
        data = self.program_data()
        total = sum(s["duration_s"] for s in data["steps"] if _finite(s.get("duration_s")))
        total = min(total, 99 * 3600.0)
        self.total_label.setText(
            f"{len(data['steps'])} steps · total {clock(total)} of {clock(MAX_PROGRAM_S)} max"
        )
        try:
            self._valid = parse_program(
                data, f"{program.id}.json", program.id, builtin=program.builtin
            )
        except ProgramError as exc:
            self.model.set_error(exc.step, exc.field)
            self.error_label.setText("⚠ " + describe_error(exc, data["steps"]))
            self.error_label.setStyleSheet(
                f"color:{style.ALARM};font-weight:600;"
                f"background:{palette.PROBLEM_BACKGROUND};padding:6px;border-radius:4px"
            )
            return
        self.model.set_error(None, None)
        if program.builtin:
            self.error_label.setText("")
            self.error_label.setStyleSheet("")
        else:
            state = (
                "Changes not saved yet." if self._dirty or program.id in self._unsaved else "Saved."
            )
            self.error_label.setText(f"✓ Valid: every step follows the program rules. {state}")
            self.error_label.setStyleSheet(f"color:{style.OK};padding:6px")

    @property
    def error_text(self) -> str:
        """The validation message shown next to the table (empty or a ✓ when valid)."""
        return self.error_label.text()

    def _selected_row(self) -> int:
        idx = self.table.currentIndex()
        return idx.row() if idx.isValid() else -1

    def _update_buttons(self, *_: object) -> None:
        editable = self.editable
        row = self._selected_row()
        n = self.model.rowCount()
        self.add_button.setEnabled(editable)
        self.remove_button.setEnabled(editable and row >= 0 and n > 1)
        self.up_button.setEnabled(editable and row > 0)
        self.down_button.setEnabled(editable and 0 <= row < n - 1)
        self.muscles_button.setEnabled(editable and row >= 0)
        needs_save = self._dirty or (
            self._current is not None and self._current.id in self._unsaved
        )
        self.save_button.setEnabled(editable and self._valid is not None and needs_save)

    # ------------------------------------------------------------------ step actions

    def select_step(self, row: int) -> None:
        self.table.setCurrentIndex(self.model.index(row, 0))

    def _add_step(self) -> None:
        row = self._selected_row()
        step = self.model.step(row) if row >= 0 else default_step()
        if row >= 0:
            step["name"] = f"{step['name']} (copy)"
        at = row + 1 if row >= 0 else self.model.rowCount()
        self.model.insert_step(at, step)
        self.select_step(at)

    def _remove_step(self) -> None:
        row = self._selected_row()
        if row >= 0 and self.model.rowCount() > 1:
            self.model.remove_step(row)
            self.select_step(min(row, self.model.rowCount() - 1))

    def _move_step(self, delta: int) -> None:
        row = self._selected_row()
        to = row + delta
        if row >= 0 and 0 <= to < self.model.rowCount():
            self.model.move_step(row, to)
            self.select_step(to)

    def _cell_double_clicked(self, index: QModelIndex) -> None:
        if COLUMNS[index.column()].kind == "muscles":
            self.select_step(index.row())
            self._choose_muscles()

    def _choose_muscles(self) -> None:
        row = self._selected_row()
        if row < 0 or not self.editable:
            return
        current = self.model.step(row).get("zones", [])
        chooser = MuscleChooser(current if isinstance(current, list) else [], self)
        if chooser.exec() == QDialog.DialogCode.Accepted:
            self.model.set_field(row, "zones", chooser.chosen())

    # ------------------------------------------------------------------ clone & save

    def _ask_clone(self) -> None:
        if self._current is None or not self._confirm_discard():
            return
        taken = {p.id for p in self._all_programs()}
        dlg = CloneDialog(self._current, taken, self)
        if dlg.exec() == QDialog.DialogCode.Accepted:
            new_id, name = dlg.values()
            self.clone_current(new_id, name)

    def clone_current(self, new_id: str, new_name: str) -> Program:
        """A custom, not yet saved copy of the shown program, opened for editing."""
        if self._current is None:
            raise ProgramError(f"{new_id}.json", "no program is selected to clone")
        if not ID_PATTERN.match(new_id):
            raise ProgramError(
                f"{new_id}.json",
                "the ID may only use lower-case letters, "
                "digits and underscores, starting with a letter or a digit",
            )
        if (
            new_id in self._library
            or new_id in self._unsaved
            or (builtin_dir() / f"{new_id}.json").exists()
        ):
            raise ProgramError(f"{new_id}.json", f"a program with the ID {new_id!r} exists")
        clone = clone_program(self._current, new_id, new_name)
        self._unsaved[new_id] = clone
        self._dirty = False
        self._fill_list(new_id)
        return clone

    def delete_current(self, confirm: bool = True) -> bool:
        """Delete the shown custom program (after asking); False if nothing was deleted."""
        program = self._current
        if program is None or program.builtin:
            return False
        if confirm:
            answer = QMessageBox.question(
                self,
                "Delete program",
                f"Delete “{program.name}” ({program.id})? It disappears from the program "
                "list; its file is kept in the “deleted” folder of the custom programs, and "
                "past sessions keep its name.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return False
        if program.id in self._unsaved:
            del self._unsaved[program.id]
        else:
            try:
                delete_custom_program(program.id)
            except (ProgramError, OSError) as exc:
                self._show_save_error(f"The program could not be deleted: {exc}")
                return False
        self._dirty = False
        self._current = None
        self.reload()
        self.error_label.setStyleSheet("")
        self.error_label.setText(f"Deleted “{program.name}”.")
        self.program_deleted.emit(program.id)
        return True

    def save(self) -> bool:
        """Write the edited custom program; False (and the reason shown) if it cannot be."""
        program = self._current
        if program is None or program.builtin:
            return False
        self._validate()
        if self._valid is None:
            return False
        try:
            path = save_custom_program(self._valid)
        except ProgramError as exc:
            self._show_save_error(describe_error(exc))
            return False
        except OSError as exc:
            self._show_save_error(f"The program could not be written: {exc}")
            return False
        self._dirty = False
        self._unsaved.pop(program.id, None)
        self.saved_ids.append(program.id)
        self.reload(select=program.id)
        self.error_label.setText(f"✓ Saved to {path}")
        self.program_saved.emit(program.id)
        return True

    def _show_save_error(self, text: str) -> None:
        self.error_label.setText("⚠ " + text)
        self.error_label.setStyleSheet(
            f"color:{style.ALARM};font-weight:600;background:{palette.PROBLEM_BACKGROUND};"
            "padding:6px;border-radius:4px"
        )

    def reject(self) -> None:
        if self._confirm_discard():
            self._dirty = False
            super().reject()
