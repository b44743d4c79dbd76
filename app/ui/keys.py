"""The console's keyboard: configurable session keys and Enter on a focused button.

Space and Enter belong to the focused control (a button is pressed, a check box ticked),
so pause/resume and "next step" have keys of their own, read from the settings (a USB
foot switch sends one of them): ``keys/pause_resume`` (default F8) and ``keys/next_step``
(default F9). Esc stays the emergency stop everywhere (:class:`app.ui.main_window.EscapeStops`).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSettings, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QKeySequenceEdit,
    QLabel,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.ui import style

PAUSE_KEY = "keys/pause_resume"
NEXT_STEP_KEY = "keys/next_step"
DEFAULT_KEYS = {PAUSE_KEY: "F8", NEXT_STEP_KEY: "F9"}

# keys a session key must never take: the emergency stop and the focused control's keys
_RESERVED = frozenset(
    {
        "Esc",
        "Space",
        "Return",
        "Enter",
        "Tab",
        "Backtab",
        "Shift+Tab",
        "Up",
        "Down",
        "Left",
        "Right",
    }
)


def session_key(settings: QSettings, name: str) -> QKeySequence:
    """The key bound to ``name`` (:data:`PAUSE_KEY` or :data:`NEXT_STEP_KEY`): the settings'
    value if it is one valid key that is not reserved, else the default."""
    default = DEFAULT_KEYS[name]
    value = settings.value(name, default)
    text = value if isinstance(value, str) else default
    seq = QKeySequence.fromString(text.strip(), QKeySequence.SequenceFormat.PortableText)
    if key_problem(seq) or seq[0].key() == Qt.Key.Key_unknown:
        seq = QKeySequence(default)
    return seq


def key_name(seq: QKeySequence) -> str:
    """How a key is written on buttons and hints ("F8")."""
    return seq.toString(QKeySequence.SequenceFormat.NativeText)


class EnterPresses(QObject):
    """Enter/Return on a focused button presses it, as Space does (Qt does this only for a
    dialog's buttons). Check boxes and radio buttons keep Space; Enter on them goes on to
    the window (a dialog's default button). Installed on the QApplication."""

    _KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if (
            event.type() != QEvent.Type.KeyPress
            or not isinstance(event, QKeyEvent)
            or event.key() not in self._KEYS
            or event.isAutoRepeat()
            or event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        ):
            return False
        if not isinstance(watched, QAbstractButton) or isinstance(
            watched, (QCheckBox, QRadioButton)
        ):
            return False
        if not (watched.hasFocus() and watched.isEnabled() and watched.isVisible()):
            return False
        if isinstance(watched, QPushButton) and watched.autoDefault():
            return False  # a dialog's button: Qt presses it itself
        watched.click()
        return True


def key_problem(seq: QKeySequence) -> str:
    """Why ``seq`` cannot be a session key ("" if it can)."""
    portable = seq.toString(QKeySequence.SequenceFormat.PortableText)
    if seq.isEmpty():
        return "press a key"
    if seq.count() != 1:
        return "one key only"
    if portable in _RESERVED:
        return f"{key_name(seq)} is the desk's own (Esc stops; Space, Enter, Tab, arrows move)"
    return ""


class KeysDialog(QDialog):
    """Set the pause/resume and next-step keys: click a field and press the key (or the
    foot switch). Saved in the settings; ``saved`` once they are."""

    saved = Signal()

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keys for pause and next step")
        self.settings = settings
        self.edits: dict[str, QKeySequenceEdit] = {}
        form = QFormLayout()
        for name, label in ((PAUSE_KEY, "Pause / resume"), (NEXT_STEP_KEY, "Next step")):
            edit = QKeySequenceEdit(session_key(settings, name))
            edit.setMaximumSequenceLength(1)
            edit.setClearButtonEnabled(True)
            edit.keySequenceChanged.connect(self._check)
            self.edits[name] = edit
            form.addRow(label, edit)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setTextFormat(Qt.TextFormat.PlainText)
        note = QLabel(
            "Click a field, then press the key (or the foot switch). "
            f"Defaults: {DEFAULT_KEYS[PAUSE_KEY]} and {DEFAULT_KEYS[NEXT_STEP_KEY]}."
        )
        note.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            self._defaults
        )
        lay = QVBoxLayout(self)
        lay.addWidget(note)
        lay.addLayout(form)
        lay.addWidget(self.problem)
        lay.addWidget(self.buttons)
        self._check()

    def _defaults(self) -> None:
        for name, edit in self.edits.items():
            edit.setKeySequence(QKeySequence(DEFAULT_KEYS[name]))

    def _check(self, *_: object) -> str:
        seqs = {name: edit.keySequence() for name, edit in self.edits.items()}
        problems = [
            f"{name.split('/')[-1].replace('_', ' ')}: {why}"
            for name, seq in seqs.items()
            if (why := key_problem(seq))
        ]
        if not problems and seqs[PAUSE_KEY] == seqs[NEXT_STEP_KEY]:
            problems.append("the two keys must differ")
        text = "; ".join(problems)
        self.problem.setText(text)
        self.problem.setStyleSheet(f"color:{style.ALARM}" if text else "")
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(not text)
        return text

    def save(self) -> None:
        if self._check():
            return
        for name, edit in self.edits.items():
            self.settings.setValue(
                name, edit.keySequence().toString(QKeySequence.SequenceFormat.PortableText)
            )
        self.settings.sync()
        self.saved.emit()
        self.accept()
