"""The application style sheet: one place for the console's look.

Its colours come from :mod:`app.palette` (the one module with colour literals); the
trace and meaning colours are named here too, as the widgets have always used them.
"""

from __future__ import annotations

from app.palette import (
    ALARM,
    CURRENT,
    FOCUS,
    MUTED,
    OK,
    REFERENCE,
    VOLTAGE,
    WARN,
    WHITE,
    css,
)

__all__ = [
    "ALARM",
    "CURRENT",
    "FOCUS",
    "FOCUS_BUTTON",
    "MUTED",
    "OK",
    "REFERENCE",
    "STYLE_SHEET",
    "VOLTAGE",
    "WARN",
    "pill",
]

# The focus ring: 2 px, with 1 px less padding so that nothing moves when focus arrives.
# Widget style sheets that restyle buttons append FOCUS_BUTTON (theirs would win). A rule
# naming a button (#primary: blue, #stopRun) outranks a bare :focus, so each is named
# here too: without it a focused Start or Reset showed no ring at all.
FOCUS_BUTTON = css("""
QPushButton:focus, QPushButton:checked:focus { border: 2px solid @FOCUS@; padding: 4px 11px; }
QPushButton#stopRun:focus { border: 2px solid @FOCUS@; padding: 4px 11px; }
QPushButton#primary:focus { border: 2px solid @FOCUS_ON_ACCENT@; padding: 4px 11px; }
""")

STYLE_SHEET = (
    css(
        """
QMainWindow, QDialog { background: @WINDOW@; }
QDockWidget { font-weight: 600; }
QDockWidget::title { background: @TITLE_BAR@; padding: 4px 8px; }
QGroupBox { font-weight: 600; border: 1px solid @BORDER_LIGHT@; border-radius: 6px;
            margin-top: 10px; padding-top: 6px; background: @WHITE@; }
QGroupBox::title { subcontrol-origin: margin; left: 8px; padding: 0 4px; }
QStatusBar { background: @TITLE_BAR@; }
QStatusBar QLabel { padding: 0 8px; }
QPushButton { padding: 5px 12px; border-radius: 4px; border: 1px solid @BORDER@;
              background: @WHITE@; color: @TEXT@; }
QPushButton:hover { background: @HOVER@; }
QPushButton:pressed { background: @PRESSED@; }
QPushButton:checked { background: @CHECKED@; border-color: @ACCENT@; color: @FOCUS@; }
QPushButton:disabled { color: @DISABLED_TEXT@; background: @DISABLED_BACKGROUND@;
                       border-color: @DISABLED_BORDER@; }
QPushButton#estop {
    background: @ESTOP@; color: @WHITE@; font-size: 18px; font-weight: 800;
    border: 3px solid @ESTOP_BORDER@; border-radius: 10px; padding: 8px 22px; min-height: 44px;
}
QPushButton#estop:hover { background: @ESTOP_HOVER@; }
QPushButton#estop:pressed { background: @ESTOP_PRESSED@; }
QPushButton#primary { background: @ACCENT@; color: @WHITE@; font-weight: 600;
                      border-color: @ACCENT@; }
QPushButton#primary:hover { background: @ACCENT_HOVER@; }
QPushButton#primary:disabled { background: @ACCENT_DISABLED@; border-color: @ACCENT_DISABLED@;
                               color: @WHITE@; }
QCheckBox, QRadioButton { border: 2px solid @TRANSPARENT@; border-radius: 4px;
                          padding: 1px 4px; }
QCheckBox:focus, QRadioButton:focus { border-color: @FOCUS@; }
QLineEdit, QComboBox, QPlainTextEdit, QTextEdit {
    border: 1px solid @BORDER@; border-radius: 4px; padding: 3px; background: @WHITE@; }
QLineEdit:focus, QComboBox:focus, QPlainTextEdit:focus, QTextEdit:focus {
    border: 2px solid @FOCUS@; padding: 2px; }
QAbstractSpinBox QLineEdit, QAbstractSpinBox QLineEdit:focus,
QComboBox QLineEdit, QComboBox QLineEdit:focus { border: none; padding: 0; }
QLabel#banner { padding: 6px 12px; border-radius: 4px; font-weight: 600; }
QToolBar#toolbar_main { spacing: 4px; padding: 4px 8px; }
QToolBar#toolbar_main QToolButton { font-size: 15px; font-weight: 600; padding: 8px 18px;
    border: 1px solid @BORDER@; border-radius: 6px; background: @WHITE@;
    color: @TEXT_SECONDARY@; }
QToolBar#toolbar_main QToolButton:checked { background: @ACCENT@; color: @WHITE@;
    border-color: @ACCENT@; }
QToolBar#toolbar_main QToolButton:hover:!checked { background: @HOVER@; }
"""
    )
    + FOCUS_BUTTON
)


def pill(text: str, colour: str) -> str:
    """Rich-text badge used in the status bar."""
    return (
        f"<span style='background:{colour};color:{WHITE};border-radius:3px;"
        f"padding:1px 6px;font-weight:600'>&nbsp;{text}&nbsp;</span>"
    )
