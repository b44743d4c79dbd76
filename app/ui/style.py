"""Colours and the application style sheet: one place for the console's look."""

from __future__ import annotations

CURRENT = "#ffb000"  # delivered current trace (amber)
VOLTAGE = "#3fb6ff"  # electrode voltage trace (sky blue)
REFERENCE = "#9aa0a6"  # commanded waveform (grey)
OK = "#2e9e5b"
WARN = "#d98c00"
ALARM = "#d32f2f"
MUTED = "#6b7280"
FOCUS = "#0b3d91"  # the keyboard focus ring: dark blue, visible on white and on blue buttons

# The focus ring: 2 px, with 1 px less padding so that nothing moves when focus arrives.
# Widget style sheets that restyle buttons append FOCUS_BUTTON (theirs would win).
FOCUS_BUTTON = f"""
QPushButton:focus {{ border: 2px solid {FOCUS}; padding: 4px 11px; }}
"""

STYLE_SHEET = (
    """
QMainWindow, QDialog { background: #f6f7f9; }
QDockWidget { font-weight: 600; }
QDockWidget::title { background: #e9ecf1; padding: 4px 8px; }
QGroupBox { font-weight: 600; border: 1px solid #d6dae1; border-radius: 6px;
            margin-top: 10px; padding-top: 6px; background: white; }
QGroupBox::title { subcontrol-origin: margin; left: 8px; padding: 0 4px; }
QStatusBar { background: #e9ecf1; }
QStatusBar QLabel { padding: 0 8px; }
QPushButton { padding: 5px 12px; border-radius: 4px; border: 1px solid #c9ced6;
              background: white; color: #1f2937; }
QPushButton:hover { background: #eef2f7; }
QPushButton:pressed { background: #dde3ec; }
QPushButton:checked { background: #dbe7fd; border-color: #1f6feb; color: #0b3d91; }
QPushButton:disabled { color: #9aa1ab; background: #f3f4f6; border-color: #e1e4e8; }
QPushButton#estop {
    background: #c62828; color: white; font-size: 18px; font-weight: 800;
    border: 3px solid #7f0000; border-radius: 10px; padding: 8px 22px; min-height: 44px;
}
QPushButton#estop:hover { background: #e53935; }
QPushButton#estop:pressed { background: #8e0000; }
QPushButton#primary { background: #1f6feb; color: white; font-weight: 600;
                      border-color: #1f6feb; }
QPushButton#primary:hover { background: #1a5fd0; }
QPushButton#primary:disabled { background: #9db8e8; border-color: #9db8e8; color: white; }
QCheckBox, QRadioButton { border: 2px solid transparent; border-radius: 4px;
                          padding: 1px 4px; }
QCheckBox:focus, QRadioButton:focus { border-color: @FOCUS@; }
QLineEdit, QComboBox, QPlainTextEdit, QTextEdit {
    border: 1px solid #c9ced6; border-radius: 4px; padding: 3px; background: white; }
QLineEdit:focus, QComboBox:focus, QPlainTextEdit:focus, QTextEdit:focus {
    border: 2px solid @FOCUS@; padding: 2px; }
QAbstractSpinBox QLineEdit, QAbstractSpinBox QLineEdit:focus,
QComboBox QLineEdit, QComboBox QLineEdit:focus { border: none; padding: 0; }
QLabel#banner { padding: 6px 12px; border-radius: 4px; font-weight: 600; }
QToolBar#toolbar_main { spacing: 4px; padding: 4px 8px; }
QToolBar#toolbar_main QToolButton { font-size: 15px; font-weight: 600; padding: 8px 18px;
    border: 1px solid #c9ced6; border-radius: 6px; background: white; color: #374151; }
QToolBar#toolbar_main QToolButton:checked { background: #1f6feb; color: white;
    border-color: #1f6feb; }
QToolBar#toolbar_main QToolButton:hover:!checked { background: #eef2f7; }
""".replace("@FOCUS@", FOCUS)
    + FOCUS_BUTTON
)


def pill(text: str, colour: str) -> str:
    """Rich-text badge used in the status bar."""
    return (
        f"<span style='background:{colour};color:white;border-radius:3px;"
        f"padding:1px 6px;font-weight:600'>&nbsp;{text}&nbsp;</span>"
    )
