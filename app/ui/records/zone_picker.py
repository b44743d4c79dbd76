"""A compact face-map zone picker for the screening form: one line (the zones chosen and a
"Choose zones…" button) that opens a checkable list of the 32 zones grouped by region.

Keyboard: Tab reaches the button, Space or Enter opens the list; in the list the arrow
keys move, Space ticks a zone (or a whole region), Enter accepts and Esc cancels. The
line never grows (the names are elided; the whole list is the tooltip), so the form does
not move as zones are chosen.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.engine.zones import ZONES
from app.ui.records.format import zone_names

# The face in six regions, top to bottom; every muscle is in exactly one (a test checks).
REGIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Forehead and brows", ("frontalis", "corrugator_supercilii", "procerus")),
    ("Eyes", ("orbicularis_oculi",)),
    ("Nose", ("nasalis", "levator_labii_superioris_alaeque_nasi")),
    (
        "Cheeks",
        (
            "levator_labii_superioris",
            "zygomaticus_minor",
            "zygomaticus_major",
            "levator_anguli_oris",
            "risorius",
            "buccinator",
        ),
    ),
    (
        "Mouth and chin",
        ("orbicularis_oris", "depressor_anguli_oris", "depressor_labii_inferioris", "mentalis"),
    ),
    ("Jaw and neck", ("masseter", "platysma")),
)
_ZONE_ROLE = Qt.ItemDataRole.UserRole


def region_zones() -> list[tuple[str, list[str]]]:
    """(region, zone ids in it): each muscle's right then left side, or its midline zone."""
    out = []
    for region, muscles in REGIONS:
        ids = [
            z.id
            for m in muscles
            for z in sorted(
                (z for z in ZONES.values() if z.muscle == m), key=lambda z: "rlm".index(z.side)
            )
        ]
        out.append((region, ids))
    return out


class ZonePickerDialog(QDialog):
    """The zones, grouped by region, each a check box; a region's box ticks them all.
    ``offered``: only these zones (and their regions) are listed (None: every zone)."""

    def __init__(
        self,
        title: str,
        chosen: Iterable[str],
        parent: QWidget | None = None,
        *,
        offered: Iterable[str] | None = None,
        window_title: str = "Choose zones",
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(window_title)
        only = None if offered is None else set(offered)
        question = QLabel(title)
        question.setTextFormat(Qt.TextFormat.PlainText)
        question.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.tree.setAccessibleName("Zones")
        wanted = set(chosen)
        self.items: dict[str, QTreeWidgetItem] = {}
        for region, all_ids in region_zones():
            ids = [z for z in all_ids if only is None or z in only]
            if not ids:
                continue
            parent_item = QTreeWidgetItem(self.tree, [region])
            parent_item.setFlags(
                parent_item.flags()
                | Qt.ItemFlag.ItemIsUserCheckable
                | Qt.ItemFlag.ItemIsAutoTristate
            )
            for zid in ids:
                zone = ZONES[zid]
                item = QTreeWidgetItem(parent_item, [f"{zone.muscle_name} — {zone.side_name}"])
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setData(0, _ZONE_ROLE, zid)
                item.setToolTip(0, zone.region)
                item.setCheckState(
                    0, Qt.CheckState.Checked if zid in wanted else Qt.CheckState.Unchecked
                )
                self.items[zid] = item
            parent_item.setExpanded(True)
        first = self.tree.topLevelItem(0)
        if first is not None:
            self.tree.setCurrentItem(first)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.none_button = buttons.addButton("None", QDialogButtonBox.ButtonRole.ResetRole)
        self.none_button.setToolTip("Untick every zone")
        self.none_button.clicked.connect(lambda: self.set_zones(()))
        lay = QVBoxLayout(self)
        lay.addWidget(question)
        lay.addWidget(self.tree, 1)
        lay.addWidget(buttons)
        # fits a 1280 × 800 screen with its frame (a short list: a smaller window)
        self.resize(420, 560 if only is None or len(only) > 8 else 320)

    def zones(self) -> list[str]:
        """The ticked zone ids, in the list's order (top of the face first)."""
        return [z for z, it in self.items.items() if it.checkState(0) == Qt.CheckState.Checked]

    def set_zones(self, zones: Iterable[str]) -> None:
        wanted = set(zones)
        for zid, item in self.items.items():
            item.setCheckState(
                0, Qt.CheckState.Checked if zid in wanted else Qt.CheckState.Unchecked
            )


class ZonePicker(QWidget):
    """One line: the zones chosen (elided; the whole list in the tooltip) and a button
    that opens :class:`ZonePickerDialog`. ``zones_changed(list)`` after every change."""

    zones_changed = Signal(list)

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._title = title
        self._zones: list[str] = []
        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.summary.setMinimumWidth(60)
        self.button = QPushButton("Choose zones…")
        self.button.setToolTip(f"{title} — tick the zones on a list grouped by region")
        self.button.setAccessibleName(f"Choose zones: {title}")
        self.button.clicked.connect(self.choose)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.summary, 1)
        lay.addWidget(self.button)
        self._show()

    def zones(self) -> list[str]:
        return list(self._zones)

    def set_zones(self, zones: Iterable[str]) -> None:
        clean = [z for z in dict.fromkeys(zones) if z in ZONES]
        order = {z: i for i, (_r, ids) in enumerate(region_zones()) for z in ids}
        clean.sort(key=lambda z: (order.get(z, 99), list(ZONES).index(z)))
        if clean != self._zones:
            self._zones = clean
            self._show()
            self.zones_changed.emit(list(clean))

    def dialog(self) -> ZonePickerDialog:
        """The list, ready to show (tests drive it by keys)."""
        return ZonePickerDialog(self._title, self._zones, self)

    def choose(self) -> None:
        dlg = self.dialog()
        if dlg.exec() == QDialog.DialogCode.Accepted:
            self.set_zones(dlg.zones())

    def text(self) -> str:
        return "None" if not self._zones else zone_names(",".join(self._zones))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._show()

    def _show(self) -> None:
        full = self.text()
        self.summary.setToolTip(full)
        self.summary.setText(
            self.summary.fontMetrics().elidedText(
                full, Qt.TextElideMode.ElideRight, max(self.summary.width(), 0)
            )
        )
