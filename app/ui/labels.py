"""Labels shared by the workspaces."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


def plain_tooltip(text: str) -> str:
    """``text`` as a tooltip that shows it as written: Qt renders a tooltip that looks like
    markup as rich text (a name "<b>Ann</b>" would show bold, its tags gone)."""
    return f"<span>{html.escape(text)}</span>" if text else ""


class ElidedLabel(QLabel):
    """A one-line plain-text label that elides what does not fit, so a long name (a
    client's, a custom program's) never widens its panel: the whole text is ``text()``
    and the tooltip."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setTextFormat(Qt.TextFormat.PlainText)  # user data is never markup
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt API
        self._full = text
        self.setToolTip(plain_tooltip(text))
        self._elide()

    def text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._elide()

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().changeEvent(event)  # a style sheet's font arrives here
        self._elide()

    def _elide(self) -> None:
        full = getattr(self, "_full", None)
        if full is None:  # (a change event while QLabel is being built)
            return
        shown = self.fontMetrics().elidedText(
            full, Qt.TextElideMode.ElideRight, max(self.width(), 0)
        )
        if shown != super().text():
            super().setText(shown)
