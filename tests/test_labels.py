"""The shared elided label: a long name never widens its panel, and is never markup."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextDocumentFragment
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from app.ui.labels import ElidedLabel


def test_a_long_name_is_elided_whole_in_its_tooltip_and_never_markup(qtbot):
    box = QWidget()
    qtbot.addWidget(box)
    row = QHBoxLayout(box)
    label = ElidedLabel()
    row.addWidget(label)
    name = "<b>Ann</b> " + "Verylongfamilyname " * 8
    label.setText(name)
    box.resize(200, 40)
    box.show()
    qtbot.waitExposed(box)
    assert box.minimumSizeHint().width() < 200  # the name does not set the width
    shown = QLabel.text(label)
    assert shown.endswith("…")
    assert len(shown) < len(name)
    assert label.text() == name
    # the tooltip shows the name as written, tags and all (not rendered as bold)
    assert QTextDocumentFragment.fromHtml(label.toolTip()).toPlainText() == name
    assert label.textFormat() == Qt.TextFormat.PlainText
    box.resize(2000, 40)
    qtbot.waitUntil(lambda: QLabel.text(label) == name, timeout=1000)  # room: all of it
