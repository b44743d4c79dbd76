"""The keyboard focus ring is visible on every kind of button: plain, primary (blue) and
checked (the face map's side buttons), as the keyboard-only practitioner needs it."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QPushButton, QVBoxLayout, QWidget

from app import palette
from app.ui.style import STYLE_SHEET


@pytest.mark.parametrize(
    ("name", "checked", "ring"),
    [
        ("", False, palette.FOCUS),
        ("primary", False, palette.FOCUS_ON_ACCENT),
        ("", True, palette.FOCUS),
        ("stopRun", False, palette.FOCUS),
    ],
)
def test_a_focused_button_shows_its_ring(qtbot, name, checked, ring):
    box = QWidget()
    box.setStyleSheet(STYLE_SHEET)
    qtbot.addWidget(box)
    lay = QVBoxLayout(box)
    other = QPushButton("Other")
    button = QPushButton("Start")
    button.setObjectName(name)
    button.setCheckable(checked)
    button.setChecked(checked)
    lay.addWidget(other)
    lay.addWidget(button)
    box.show()
    qtbot.waitExposed(box)
    box.activateWindow()
    other.setFocus()
    qtbot.waitUntil(other.hasFocus, timeout=2000)
    edge = (1, button.height() // 2)
    unfocused = button.grab().toImage().pixelColor(*edge).name()
    button.setFocus()
    qtbot.waitUntil(button.hasFocus, timeout=2000)
    focused = button.grab().toImage().pixelColor(*edge).name()
    assert focused == QColor(ring).name()
    assert focused != unfocused


def test_the_chosen_side_button_of_the_face_map_shows_its_ring(qtbot):
    from app.ui.face_map import FaceMapWidget

    fmap = FaceMapWidget()
    qtbot.addWidget(fmap)
    fmap.show()
    qtbot.waitExposed(fmap)
    fmap.activateWindow()
    both = fmap.side_buttons[None]
    assert both.isChecked()
    edge = (1, both.height() // 2)
    unfocused = both.grab().toImage().pixelColor(*edge).name()
    both.setFocus()
    qtbot.waitUntil(both.hasFocus, timeout=2000)
    focused = both.grab().toImage().pixelColor(*edge).name()
    assert focused == QColor(palette.FOCUS_ON_ACCENT).name()
    assert focused != unfocused


def test_the_guided_runs_start_and_stop_buttons_show_their_ring(qtbot):
    """The guided run panel restyles its buttons (Start blue, Stop red-bordered)."""
    from app.ui.guided_run import _BUTTONS

    for name, ring in (("primary", palette.FOCUS_ON_ACCENT), ("stopRun", palette.FOCUS)):
        box = QWidget()
        box.setStyleSheet(_BUTTONS)
        qtbot.addWidget(box)
        lay = QVBoxLayout(box)
        other, button = QPushButton("Other"), QPushButton("Start")
        button.setObjectName(name)
        lay.addWidget(other)
        lay.addWidget(button)
        box.show()
        qtbot.waitExposed(box)
        box.activateWindow()
        button.setFocus()
        qtbot.waitUntil(button.hasFocus, timeout=2000)
        edge = (1, button.height() // 2)
        assert button.grab().toImage().pixelColor(*edge).name() == QColor(ring).name(), name
