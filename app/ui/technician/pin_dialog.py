"""The PIN dialog: sets the technician PIN at first use, then asks for it; with an
operator's guard (``app.service.pin.operator_guard``) it changes that operator's own
PIN or passphrase.

The PIN lives in the store: each attempt is first counted there (through the store's
writer, never waited on: the dialog polls the request's future), then checked. While the
count is not recorded no PIN is checked (an unwritable store locks the bench).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.service.pin import (
    MAX_LENGTH,
    MIN_LENGTH,
    SECRET_MAX_LENGTH,
    SECRET_MIN_LENGTH,
    PinGuard,
    check_format,
)
from app.ui import style

POLL_MS = 15


def _first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def when_done(
    future: Future, parent: QObject, callback: Callable[[Any, BaseException | None], None]
) -> None:
    """Call ``callback(result, exception)`` in the GUI thread once ``future`` is done
    (polled: the writer's callbacks run in its own thread)."""
    if future.done():
        exc = future.exception()
        callback(None if exc else future.result(), exc)
        return
    QTimer.singleShot(POLL_MS, parent, lambda: when_done(future, parent, callback))


class PinDialog(QDialog):
    """Accepts only after a correct PIN (or, at first use, a new PIN entered twice).

    With ``change=True`` it asks for the current PIN and a new one entered twice."""

    def __init__(
        self, guard: PinGuard, parent: QWidget | None = None, *, change: bool = False
    ) -> None:
        super().__init__(parent)
        self.guard = guard
        self.first_use = guard.setup_allowed
        self.change = change and not self.first_use
        self.busy = False  # a request to the store is under way
        self.passphrase = guard.passphrase
        self.setWindowTitle(
            "Technician bench — PIN" if not self.passphrase else _first_upper(guard.what)
        )
        layout = QVBoxLayout(self)
        if self.first_use:
            text = (
                "No technician PIN is set yet. Choose one now: "
                f"{MIN_LENGTH} to {MAX_LENGTH} digits. Only a salted hash of it is kept."
            )
        elif self.change and self.passphrase:
            text = (
                "Enter your current PIN or passphrase, then the new one twice "
                f"({SECRET_MIN_LENGTH} to {SECRET_MAX_LENGTH} characters)."
            )
        elif self.change:
            text = (
                f"Enter the current PIN, then the new one ({MIN_LENGTH} to {MAX_LENGTH} "
                "digits) twice."
            )
        elif guard.missing:
            text = (
                "The technician PIN is missing from the client records. A new one can "
                "only be set after the recovery command 'python -m app db reset-pin' "
                "(see docs/technician.md)."
            )
        elif not guard.known:
            text = (
                "The technician PIN is kept in the client records, which are not open "
                "yet (or could not be opened). Try again once they are."
            )
        else:
            text = "The technician bench is protected. Enter the PIN."
        intro = QLabel(text)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.current = self._field()
        if self.change:
            form.addRow("Current PIN", self.current)
        self.pin = self._field()
        form.addRow("New PIN" if self.first_use or self.change else "PIN", self.pin)
        self.confirm = self._field()
        if self.first_use or self.change:
            form.addRow("Repeat the new PIN", self.confirm)
        layout.addLayout(form)
        self.message = QLabel()
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._update_lock)
        self._update_lock()

    def _field(self) -> QLineEdit:
        edit = QLineEdit()
        edit.setEchoMode(QLineEdit.EchoMode.Password)
        edit.setMaxLength(SECRET_MAX_LENGTH if self.passphrase else MAX_LENGTH)
        edit.setInputMask("")
        return edit

    def _say(self, text: str, colour: str = "") -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color:{colour};font-weight:600" if colour else "")

    def _update_lock(self) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        wait = 0.0 if self.first_use else self.guard.locked_for_s()
        closed = not self.first_use and (self.guard.missing or not self.guard.known)
        if closed or self.busy:
            ok.setEnabled(False)
            return
        if wait > 0:
            ok.setEnabled(False)
            self.pin.setEnabled(False)
            self.current.setEnabled(False)
            self._say(f"Too many wrong PINs: try again in {int(wait + 0.999)} s.", style.ALARM)
            if not self._tick.isActive():
                self._tick.start()
        else:
            if self._tick.isActive():
                self._tick.stop()
                self._say("")
            ok.setEnabled(True)
            self.pin.setEnabled(True)
            self.current.setEnabled(True)

    def submit(self) -> None:
        if self.busy:
            return
        pin = self.pin.text()
        if self.first_use or self.change:
            if pin != self.confirm.text():
                self._say("The two new PINs differ: enter the same PIN twice.", style.ALARM)
                return
            problem = check_format(pin, passphrase=self.passphrase)
            if problem:
                self._say(f"Not set: {problem}.", style.ALARM)
                return
        if self.first_use:
            self._wait(self.guard.store_pin(pin, None), self._stored)
            return
        refused = self.guard.refusal()
        if refused is not None:
            self._say(refused.message[0].upper() + refused.message[1:] + ".", style.ALARM)
            self._update_lock()
            return
        typed = self.current.text() if self.change else pin
        self._wait(
            self.guard.count_attempt(), lambda counted, exc: self._counted(typed, pin, counted, exc)
        )

    def _wait(self, future: Future, then: Callable[[Any, BaseException | None], None]) -> None:
        self.busy = True
        self._say("Recording in the client records…")
        self._update_lock()

        def done(result: Any, exc: BaseException | None) -> None:
            self.busy = False
            then(result, exc)
            self._update_lock()

        when_done(future, self, done)

    def _counted(self, typed: str, new_pin: str, counted: Any, exc: BaseException | None) -> None:
        self.pin.clear()
        self.current.clear()
        if exc is not None:
            self._say(
                f"The attempt could not be recorded in the client records ({exc}): "
                "no PIN is checked until it can be.",
                style.ALARM,
            )
            return
        check = self.guard.check(typed, counted)
        if not check.ok:
            self._say(
                f"Not set: {check.message}."
                if self.change
                else check.message[0].upper() + check.message[1:] + ".",
                style.ALARM,
            )
            return
        if self.change:
            self._wait(self.guard.store_pin(new_pin, counted.version), self._stored)
            return
        self.accept()

    def _stored(self, _result: Any, exc: BaseException | None) -> None:
        if exc is not None:
            self._say(f"Not set: {exc}.", style.ALARM)
            return
        self.accept()

    @staticmethod
    def request_access(guard: PinGuard, parent: QWidget | None = None) -> bool:
        """Show the dialog modally; True when the technician may enter the bench."""
        return PinDialog(guard, parent).exec() == QDialog.DialogCode.Accepted
