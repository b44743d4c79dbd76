"""The console's keyboard: configurable session keys and Enter on a focused button.

Space and Enter belong to the focused control (a button is pressed, a check box ticked),
so pause/resume and "next step" have keys of their own, read from the settings (a USB
foot switch sends one of them): ``keys/pause_resume`` (default F8) and ``keys/next_step``
(default F9). Esc stays the emergency stop everywhere (:class:`app.ui.main_window.EscapeStops`).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSettings, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QAbstractButton, QCheckBox, QPushButton, QRadioButton

PAUSE_KEY = "keys/pause_resume"
NEXT_STEP_KEY = "keys/next_step"
DEFAULT_KEYS = {PAUSE_KEY: "F8", NEXT_STEP_KEY: "F9"}

# keys a session key must never take: the emergency stop and the focused control's keys
_RESERVED = frozenset({"Esc", "Space", "Return", "Enter", "Tab", "Backtab", "Shift+Tab",
                       "Up", "Down", "Left", "Right"})


def session_key(settings: QSettings, name: str) -> QKeySequence:
    """The key bound to ``name`` (:data:`PAUSE_KEY` or :data:`NEXT_STEP_KEY`): the settings'
    value if it is one valid key that is not reserved, else the default."""
    default = DEFAULT_KEYS[name]
    value = settings.value(name, default)
    text = value if isinstance(value, str) else default
    seq = QKeySequence.fromString(text.strip(), QKeySequence.SequenceFormat.PortableText)
    portable = seq.toString(QKeySequence.SequenceFormat.PortableText)
    if seq.count() != 1 or seq[0].key() == Qt.Key.Key_unknown or portable in _RESERVED:
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
        if event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent) \
                or event.key() not in self._KEYS or event.isAutoRepeat() \
                or event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            return False
        if not isinstance(watched, QAbstractButton) or isinstance(
                watched, (QCheckBox, QRadioButton)):
            return False
        if not (watched.hasFocus() and watched.isEnabled() and watched.isVisible()):
            return False
        if isinstance(watched, QPushButton) and watched.autoDefault():
            return False  # a dialog's button: Qt presses it itself
        watched.click()
        return True
