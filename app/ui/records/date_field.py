"""A date typed as text: it takes what was typed, or says why not; it never changes it.

Qt's QDateEdit corrects a date section by section while it is typed: with a maximum of
today, typing "24" then "Nov" in December turned into 02 Nov — a screening date 22 days
off, silently. :class:`DateField` is a line edit: the date is read only from the whole
text (24.11.2026, 24 Nov 2026, 2026-11-24, 24/11/2026), a date it cannot read or that is
not allowed (in the future, before 1900) is shown in red with the reason, and the value is
*no date* until it is right. There is no default date.
"""

from __future__ import annotations

import datetime as dt
import re

from PySide6.QtCore import QDate, Signal
from PySide6.QtWidgets import QLineEdit, QWidget

from app.ui import style

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
DISPLAY = "%d %b %Y"  # 24 Nov 2026


def parse_date(text: str) -> dt.date | None:
    """The date ``text`` names in full, or None (never a guess from a part of it)."""
    t = text.strip().lower()
    m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", t)
    if m:
        y, mo, d = (int(g) for g in m.groups())
    else:
        m = re.fullmatch(r"(\d{1,2})[./ -](\d{1,2}|[a-z]{3})[a-z]*[./ -](\d{4})", t)
        if not m:
            return None
        d, y = int(m.group(1)), int(m.group(3))
        mon = m.group(2)
        if mon.isdigit():
            mo = int(mon)
        elif mon in _MONTHS:
            mo = _MONTHS[mon]
        else:
            return None
    try:
        return dt.date(y, mo, d)
    except ValueError:
        return None


class DateField(QLineEdit):
    """See the module docstring. ``date_changed`` on every edit (the date or None)."""

    date_changed = Signal(object)  # dt.date | None

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        latest: dt.date | None = None,
        earliest: dt.date = dt.date(1900, 1, 1),
    ) -> None:
        super().__init__(parent)
        self._latest = latest  # None: today, whenever it is asked
        self._earliest = earliest
        self.setPlaceholderText("dd.mm.yyyy")
        self.setToolTip("Type the whole date: 24.11.2026, 24 Nov 2026 or 2026-11-24")
        self.setMinimumWidth(120)
        self.textChanged.connect(self._changed)

    # -- value ---------------------------------------------------------------------------

    def value(self) -> dt.date | None:
        """The date, when the text is a whole, allowed date; else None."""
        return None if self.problem() else parse_date(self.text())

    def problem(self) -> str | None:
        """Why the text is not a date that can be used ('' text: 'no date')."""
        text = self.text().strip()
        if not text:
            return "no date entered"
        day = parse_date(text)
        if day is None:
            return f"'{text}' is not a date (type it as dd.mm.yyyy)"
        latest = self._latest or dt.date.today()
        if day > latest:
            return f"{day.strftime(DISPLAY)} is in the future"
        if day < self._earliest:
            return f"{day.strftime(DISPLAY)} is before {self._earliest.year}"
        return None

    def set_value(self, day: dt.date | None) -> None:
        self.setText("" if day is None else day.strftime(DISPLAY))

    # QDateEdit's names, for code written against it
    def date(self) -> QDate:
        day = self.value()
        return QDate() if day is None else QDate(day.year, day.month, day.day)

    def setDate(self, day: QDate) -> None:  # noqa: N802 - QDateEdit's name
        self.set_value(dt.date(day.year(), day.month(), day.day()) if day.isValid() else None)

    def _changed(self, _text: str) -> None:
        bad = bool(self.text().strip()) and self.problem() is not None
        self.setStyleSheet(f"border: 2px solid {style.ALARM}" if bad else "")
        self.setToolTip(
            self.problem() if bad else "Type the whole date: 24.11.2026, 24 Nov 2026 or 2026-11-24"
        )
        self.date_changed.emit(self.value())
