"""The limit display: every layer's ceiling, which one binds, density and net charge.

A view of a :class:`app.engine.controller.SessionController`; it changes nothing.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QGroupBox, QLabel, QVBoxLayout, QWidget

from app import palette
from app.engine.controller import SessionController
from app.engine.limits import LimitLayer
from app.ui import style

_ROWS = (
    (LimitLayer.DEVICE, "Device", "hard limit reported by the device"),
    (LimitLayer.CLINIC, "Clinic", "clinic maximum (technician workspace)"),
    (LimitLayer.ZONE, "Zone", "eye-area and per-zone limits"),
    (LimitLayer.CLIENT, "Client", "the client's own limit"),
    (LimitLayer.STEP, "Program step", "this step's intensity"),
)


class LimitsPanel(QWidget):
    """Shows the layered limits of the present step; the binding layer is highlighted."""

    def __init__(self, controller: SessionController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctl = controller
        box = QGroupBox("Limits")
        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(4)
        self._value: dict[LimitLayer, QLabel] = {}
        self._name: dict[LimitLayer, QLabel] = {}
        for row, (layer, name, tip) in enumerate(_ROWS):
            n = QLabel(name)
            n.setToolTip(tip)
            v = QLabel("—")
            v.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            v.setMinimumWidth(80)
            grid.addWidget(n, row, 0)
            grid.addWidget(v, row, 1)
            self._name[layer], self._value[layer] = n, v
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setStyleSheet(f"color:{palette.BORDER_LIGHT}")
        grid.addWidget(line, len(_ROWS), 0, 1, 2)
        self.allowed = QLabel()
        self.allowed.setStyleSheet("font-size:20px;font-weight:700")
        self.explanation = QLabel()
        self.explanation.setWordWrap(True)
        self.explanation.setStyleSheet(f"color:{style.MUTED}")
        self.output = QLabel()
        self.density = QLabel()
        self.density_warning = QLabel()
        self.density_warning.setWordWrap(True)
        self.density_warning.setStyleSheet(f"color:{style.ALARM}")
        self.charge = QLabel()
        r = len(_ROWS) + 1
        grid.addWidget(QLabel("Allowed now"), r, 0)
        grid.addWidget(self.allowed, r, 1, Qt.AlignmentFlag.AlignRight)
        grid.addWidget(self.explanation, r + 1, 0, 1, 2)
        grid.addWidget(QLabel("Output"), r + 2, 0)
        grid.addWidget(self.output, r + 2, 1, Qt.AlignmentFlag.AlignRight)
        grid.addWidget(QLabel("Current density"), r + 3, 0)
        grid.addWidget(self.density, r + 3, 1, Qt.AlignmentFlag.AlignRight)
        grid.addWidget(self.density_warning, r + 4, 0, 1, 2)
        grid.addWidget(QLabel("Net charge"), r + 5, 0)
        grid.addWidget(self.charge, r + 5, 1, Qt.AlignmentFlag.AlignRight)
        box.setLayout(grid)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addWidget(box)
        controller.limits_changed.connect(self.refresh)
        controller.state_changed.connect(self.refresh)
        controller.progress_changed.connect(self.refresh)
        self.refresh()

    def refresh(self, *_: object) -> None:
        m = self._ctl.machine
        stack = m.limit_stack()
        decision = m.decision()
        for layer, _name, _tip in _ROWS:
            value = getattr(stack, layer.value)
            text = "no limit" if value is None else f"{value:.0f} µA"
            if layer is LimitLayer.DEVICE and value is None:
                text = "not connected"
            binds = layer is decision.layer
            weight = "700" if binds else "400"
            colour = style.WARN if binds else palette.VALUE_TEXT
            sheet = f"font-weight:{weight};color:{colour}"
            _show(self._value[layer], text + ("  ◀ binds" if binds else ""), sheet)
            _show(self._name[layer], None, sheet)
        _show(self.allowed, f"{decision.allowed_ua:.0f} µA")
        _show(self.explanation, decision.explanation)
        _show(self.output, f"{m.commanded_ua:.0f} µA commanded" if m.output_on else "off")
        reading = m.density()
        _show(
            self.density,
            f"{reading.ua_per_cm2:.0f} µA/cm²",
            f"color:{style.ALARM};font-weight:700" if reading.warning else "",
        )
        _show(
            self.density_warning,
            f"Above the warning threshold of {reading.threshold:g} µA/cm² for a "
            f"{m.electrode_area_cm2:g} cm² electrode: lower the intensity or use a larger "
            "electrode."
            if reading.warning
            else "",
        )
        if self.density_warning.isVisibleTo(self) != reading.warning:
            self.density_warning.setVisible(reading.warning)
        _show(self.charge, f"{m.charge.net_uc:+.2f} µC")


def _show(label: QLabel, text: str | None, sheet: str | None = None) -> None:
    """Set a label's text and style only when they change: the panel is refreshed ten
    times a second, and a style sheet set again restyles and repaints even when equal."""
    if text is not None and label.text() != text:
        label.setText(text)
    if sheet is not None and label.styleSheet() != sheet:
        label.setStyleSheet(sheet)
