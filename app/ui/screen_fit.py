"""Top-level windows and dialogs sized within the screen they open on.

A dialog asks for the size it would like; on a smaller screen (a 1280 x 800 laptop with a
panel) it gets what the screen has room for, its title bar included, so its buttons are
never off-screen. The main window does the same, and more (``MainWindow.fit_to_screen``).
"""

from __future__ import annotations

from PySide6.QtCore import QMargins, QRect
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

# Before the window manager framed the window its frame is unknown: this much title bar
# (and a border) is assumed.
FRAME_GUESS = QMargins(2, 32, 2, 2)


def available_for(widget: QWidget) -> QRect | None:
    """The available geometry (without panels) of the screen ``widget`` opens on: its
    parent's, or the primary screen."""
    parent = widget.parentWidget()
    screen = (
        widget.screen()
        if widget.isVisible() or parent is None
        else (parent.window().screen() or widget.screen())
    )
    screen = screen or QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen is not None else None


def resize_within_screen(
    widget: QWidget, width: int, height: int, available: QRect | None = None
) -> None:
    """Resize ``widget`` to ``width`` x ``height``, or less: what ``available`` (by default
    its screen's available geometry) has room for, frame included."""
    room = available if available is not None else available_for(widget)
    if room is not None and room.width() > 0 and room.height() > 0:
        width = min(width, room.width() - FRAME_GUESS.left() - FRAME_GUESS.right())
        height = min(height, room.height() - FRAME_GUESS.top() - FRAME_GUESS.bottom())
    widget.resize(width, height)
