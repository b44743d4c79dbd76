"""The signature pad: a box the client signs in with a pen, a finger or the mouse, and
the signature drawn back (on screen and in the report) from its stored strokes.

The pad records strokes (pen down to pen up) in its own pixels; ``signature(name)``
turns them into :class:`app.store.signature.Signature` (compact vector strokes, stored
as JSON). Keyboard users have the typed alternative beside it (the screening form).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QTabletEvent,
    QTouchEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from app import palette
from app.store.signature import Signature, drawn
from app.ui import style

INK = QColor(palette.SIGNATURE_INK)
PAD_SIZE = QSize(460, 130)  # preferred; it narrows to MIN_WIDTH in a narrow form
MIN_WIDTH = 240


class SignaturePad(QWidget):
    """A box to sign in. ``changed()`` after each stroke and after ``clear()``."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._strokes: list[list[QPointF]] = []
        self._down = False
        self.setFixedHeight(PAD_SIZE.height())
        self.setMinimumWidth(MIN_WIDTH)
        self.setMaximumWidth(PAD_SIZE.width())
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAttribute(Qt.WidgetAttribute.WA_AcceptTouchEvents, True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setAccessibleName("Signature box")
        self.setAccessibleDescription(
            "The client signs here with a pen, a finger or the mouse; "
            "or type their name in the field below instead."
        )
        self.setToolTip("The client signs here with a pen, a finger or the mouse")

    # -- the strokes

    def is_empty(self) -> bool:
        return not any(len(s) > 1 for s in self._strokes)

    def strokes(self) -> list[list[tuple[float, float]]]:
        return [[(p.x(), p.y()) for p in s] for s in self._strokes]

    def clear(self) -> None:
        self._strokes.clear()
        self._down = False
        self.update()
        self.changed.emit()

    def sizeHint(self) -> QSize:
        return PAD_SIZE

    def signature(self, name: str = "") -> Signature:
        # the box as it is now, widened to hold strokes drawn before it was narrowed
        strokes = self.strokes()
        right = max((x for s in strokes for x, _ in s), default=0.0)
        return drawn(strokes, max(self.width(), int(right) + 1), self.height(), name)

    def _begin(self, p: QPointF) -> None:
        self._down = True
        self._strokes.append([p])
        self.update()

    def _extend(self, p: QPointF) -> None:
        if self._down and self.rect().contains(p.toPoint()):
            self._strokes[-1].append(p)
            self.update()

    def _end(self) -> None:
        if self._down:
            self._down = False
            self.changed.emit()

    # -- input: mouse, pen (tablet), touch

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._begin(event.position())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self._extend(event.position())

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._extend(event.position())
        self._end()

    def tabletEvent(self, event: QTabletEvent) -> None:
        kind = event.type()
        if kind == QEvent.Type.TabletPress:
            self._begin(event.position())
        elif kind == QEvent.Type.TabletMove:
            self._extend(event.position())
        elif kind == QEvent.Type.TabletRelease:
            self._end()
        event.accept()

    def event(self, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.TouchBegin, QEvent.Type.TouchUpdate, QEvent.Type.TouchEnd):
            assert isinstance(event, QTouchEvent)
            points = event.points()
            if points:
                pos = points[0].position()
                if kind == QEvent.Type.TouchBegin:
                    self._begin(pos)
                elif kind == QEvent.Type.TouchUpdate:
                    self._extend(pos)
                else:
                    self._extend(pos)
                    self._end()
            event.accept()
            return True
        return super().event(event)

    # -- drawing

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor(palette.WHITE))
        p.setPen(QPen(QColor(palette.BORDER), 1))
        p.drawRect(self.rect().adjusted(0, 0, -1, -1))
        base = self.height() - 28
        p.setPen(QPen(QColor(palette.DISABLED_TEXT), 1, Qt.PenStyle.DashLine))
        p.drawLine(16, base, self.width() - 16, base)
        if self.is_empty():
            p.setPen(QColor(style.MUTED))
            p.drawText(
                QRectF(0, base + 4, self.width(), 20),
                Qt.AlignmentFlag.AlignCenter,
                "Client signs above the line",
            )
        p.setPen(_ink(2.2))
        for stroke in self._strokes:
            p.drawPath(_path(stroke))
        p.end()


def _ink(width: float) -> QPen:
    pen = QPen(INK, width)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return pen


def _path(points: list[QPointF]) -> QPainterPath:
    path = QPainterPath(points[0])
    if len(points) == 1:
        path.lineTo(points[0] + QPointF(0.5, 0.5))  # a dot
    for q in points[1:]:
        path.lineTo(q)
    return path


def render_signature(sig: Signature, width: int, height: int) -> QImage:
    """The signature drawn on white at ``width``×``height`` pixels: a drawn one from its
    strokes (scaled, proportions kept), a typed one as the typed name in italics."""
    img = QImage(width, height, QImage.Format.Format_RGB32)
    img.fill(QColor(palette.WHITE))
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    if sig.kind == "typed":
        font = p.font()
        font.setItalic(True)
        font.setPixelSize(max(8, int(height * 0.38)))
        p.setFont(font)
        p.setPen(INK)
        p.drawText(
            QRectF(0, 0, width, height),
            Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextSingleLine,
            sig.name,
        )
    elif sig.width and sig.height:
        scale = min(width / sig.width, height / sig.height)
        p.translate((width - sig.width * scale) / 2, (height - sig.height * scale) / 2)
        p.scale(scale, scale)
        p.setPen(_ink(2.2))
        for stroke in sig.strokes:
            pts = [QPointF(stroke[i], stroke[i + 1]) for i in range(0, len(stroke), 2)]
            if pts:
                p.drawPath(_path(pts))
    p.end()
    return img
