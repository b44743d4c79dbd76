"""The one number field of the console's forms: a typed number is never silently changed.

A plain ``QDoubleSpinBox`` drops a key press that would take its text above the maximum:
typing "500" into a field whose limit is 150 µA leaves "50 µA", and "1e9" leaves
"19 µA" — a different number, without a word. :class:`NumberField` keeps what is typed:
a number outside the field's range stays on screen, framed as wrong, and the field says
why in words that name the range ("Intensity: 500 µA is above the limit of 150 µA
(clinic maximum)"): :meth:`NumberField.problem`, announced by ``problem_changed``.
Meanwhile :meth:`value` stays the last number inside the range (Qt's own rule for text
that is not acceptable), so nothing is ever taken from a number the field does not
allow; the form that holds the field refuses its action (Save, Apply, Start) while a
field has a problem and shows the text. Leaving the field (Tab, a click elsewhere,
Enter, another tab) keeps the typed text and its problem; an arrow step, or a value set
by the program, replaces it with a number inside the range.

Used by the output settings editor (studio, bench's manual output) and the bench's
clinic limits.
"""

from __future__ import annotations

import math
import re

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFocusEvent, QHideEvent, QKeyEvent, QValidator
from PySide6.QtWidgets import QDoubleSpinBox, QWidget

from app import palette

# a number as it is typed: digits, a decimal point, an exponent, or the start of one
_PARTIAL = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d*)?([eE][+-]?\d*)?$")


def _format(x: float) -> str:
    return f"{x:g}"


class NumberField(QDoubleSpinBox):
    """A spin box for a number with a unit: see the module docstring.

    ``label`` names the field in its problem text ("Intensity: …"); ``limit_name`` says
    why the maximum is what it is ("clinic maximum"), set with :meth:`set_limit`.
    """

    problem_changed = Signal(str)  # "" when the field holds a number inside its range

    def __init__(
        self,
        lo: float,
        hi: float,
        *,
        value: float | None = None,
        suffix: str = "",
        decimals: int = 0,
        step: float = 1.0,
        label: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.label = label
        self.limit_name = ""
        self._problem = ""
        self._finished = False  # the typed text was left: a number below the range counts
        self._bold = False
        self.setDecimals(decimals)
        self.setRange(lo, hi)
        self.setSingleStep(step)
        if suffix:
            self.setSuffix(suffix)
        if value is not None:
            self.setValue(value)
        # the text typed (Qt puts its own text in place without this signal: setValue, a
        # step, the value restored on leaving — those are checked below)
        self.lineEdit().textChanged.connect(self._text_changed)
        self.valueChanged.connect(lambda _v: self._check())

    # ------------------------------------------------------------------ public

    def problem(self) -> str:
        """Why the typed text is not taken ("" when it is a number inside the range)."""
        return self._problem

    def set_bold(self, bold: bool) -> None:
        """Bold text (e.g. a value of the clinic's own, not a default)."""
        if bold != self._bold:
            self._bold = bold
            self._restyle()

    def set_limit(self, maximum: float, why: str = "") -> None:
        """A new maximum and what sets it ("clinic maximum"), named in the problem text."""
        self.limit_name = why
        self.setMaximum(maximum)
        self._check()

    def setRange(self, lo: float, hi: float) -> None:  # noqa: N802 - Qt's name
        super().setRange(lo, hi)
        self._check()

    def setMaximum(self, hi: float) -> None:  # noqa: N802 - Qt's name
        super().setMaximum(hi)
        self._check()

    def setMinimum(self, lo: float) -> None:  # noqa: N802 - Qt's name
        super().setMinimum(lo)
        self._check()

    def setValue(self, value: float) -> None:  # noqa: N802 - Qt's name
        super().setValue(value)
        self._check()  # Qt replaced the text (without textChanged)

    def stepBy(self, steps: int) -> None:  # noqa: N802 - Qt's name
        super().stepBy(steps)
        self._check()

    # ------------------------------------------------------------------ Qt

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        state, text, pos = super().validate(text, pos)
        if state == QValidator.State.Invalid:
            number = self._number_text(text)
            if number is not None and _PARTIAL.match(number):
                # a number (or the start of one) outside the range: kept as typed, and
                # named as wrong (never a digit dropped to make it fit)
                state = QValidator.State.Intermediate
        return state, text, pos

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: N802 - Qt's name
        self._keep_typed(lambda: super(NumberField, self).focusOutEvent(event))

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt's name
        self._keep_typed(lambda: super(NumberField, self).hideEvent(event))

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._keep_typed(lambda: super(NumberField, self).keyPressEvent(event))
            return
        super().keyPressEvent(event)

    # ------------------------------------------------------------------ inside

    def _keep_typed(self, handler) -> None:
        """Run Qt's handler, which puts the last number in range back in place of text
        that is not acceptable, then show the typed text again (still marked wrong)."""
        typed = self.lineEdit().text()
        keep = self._typed_number(typed) is not None and not self._in_range(typed)
        handler()
        if keep and self.lineEdit().text() != typed:
            self.lineEdit().setText(typed)
        self._finished = True
        self._check()

    def _text_changed(self, _text: str) -> None:
        if self.hasFocus():
            self._finished = False
        self._check()

    def _number_text(self, text: str) -> str | None:
        """``text`` without the prefix and suffix (None: it does not carry them as set)."""
        body = text
        prefix, suffix = self.prefix(), self.suffix()
        if prefix and body.startswith(prefix):
            body = body[len(prefix) :]
        if suffix:
            if body.endswith(suffix):
                body = body[: -len(suffix)]
            elif suffix.strip() and body.rstrip().endswith(suffix.strip()):
                body = body.rstrip()[: -len(suffix.strip())]
        return body.strip()

    def _typed_number(self, text: str) -> float | None:
        body = self._number_text(text)
        if not body:
            return None
        ok = False
        value, ok = self.locale().toDouble(body)
        if not ok:
            try:
                value = float(body.replace(",", "."))
            except ValueError:
                return None
        return value if math.isfinite(value) else None

    def _in_range(self, text: str) -> bool:
        value = self._typed_number(text)
        if value is None:
            return True
        rounded = round(value, self.decimals())
        return self.minimum() <= rounded <= self.maximum()

    def _check(self) -> None:
        problem = self._problem_of(self.lineEdit().text())
        self.setToolTip(problem or self._range_text())
        if problem != self._problem:
            self._problem = problem
            self._restyle()
            self.problem_changed.emit(problem)

    def _restyle(self) -> None:
        # marked as wrong (and said why: the tooltip, the form's message): the text's
        # colours, so the spin box keeps its own frame and arrows
        self.lineEdit().setStyleSheet(
            f"background:{palette.PROBLEM_BACKGROUND};color:{palette.MESSAGE_ERROR};font-weight:600"
            if self._problem
            else ""
        )
        self.setStyleSheet("font-weight:600" if self._bold else "")

    def _range_text(self) -> str:
        unit, lo, hi = self.suffix(), self.minimum(), self.maximum()
        if self.limit_name:
            return f"At most {_format(hi)}{unit}: {self.limit_name}"
        return f"Allowed: {_format(lo)}–{_format(hi)}{unit}"

    def _problem_of(self, text: str) -> str:
        body = self._number_text(text)
        if not body or (self.specialValueText() and text == self.specialValueText()):
            return ""
        value = self._typed_number(text)
        unit = self.suffix()
        lo, hi = self.minimum(), self.maximum()
        name = f"{self.label}: " if self.label else ""
        if value is None:
            if body and not _PARTIAL.match(body):
                return f"{name}{body!r} is not a number"
            return ""
        rounded = round(value, self.decimals())
        allowed = f"{name}{body}{unit} is outside the allowed {_format(lo)}–{_format(hi)}{unit}"
        if rounded > hi:
            if self.limit_name:
                why = self.limit_name
                why = f" — {why}" if "(" in why else f" ({why})"
                return f"{name}{body}{unit} is above the limit of {_format(hi)}{unit}{why}"
            return allowed
        if rounded < lo and (self._finished or not self.hasFocus()):
            return allowed
        return ""
