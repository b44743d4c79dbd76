"""The technician PIN dialog: sets the PIN at first use, then asks for it."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.service.pin import MAX_LENGTH, MIN_LENGTH, PinError, PinGuard
from app.ui import style


class PinDialog(QDialog):
    """Accepts only after a correct PIN (or, at first use, a new PIN entered twice).

    With ``change=True`` it asks for the current PIN and a new one entered twice."""

    def __init__(self, guard: PinGuard, parent: QWidget | None = None, *,
                 change: bool = False) -> None:
        super().__init__(parent)
        self.guard = guard
        self.first_use = not guard.is_set
        self.change = change and not self.first_use
        self.setWindowTitle("Technician bench — PIN")
        layout = QVBoxLayout(self)
        if self.first_use:
            text = ("No technician PIN is set yet. Choose one now: "
                    f"{MIN_LENGTH} to {MAX_LENGTH} digits. Only a salted hash of it is kept.")
        elif self.change:
            text = (f"Enter the current PIN, then the new one ({MIN_LENGTH} to {MAX_LENGTH} "
                    "digits) twice.")
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
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
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
        edit.setMaxLength(MAX_LENGTH)
        edit.setInputMask("")
        return edit

    def _say(self, text: str, colour: str = "") -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color:{colour};font-weight:600" if colour else "")

    def _update_lock(self) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        wait = 0.0 if self.first_use else self.guard.locked_for_s()
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
        pin = self.pin.text()
        if self.first_use or self.change:
            if pin != self.confirm.text():
                self._say("The two new PINs differ: enter the same PIN twice.", style.ALARM)
                return
            try:
                self.guard.set_pin(pin, self.current.text() if self.change else None)
            except PinError as exc:
                self.current.clear()
                self._say(f"Not set: {exc}.", style.ALARM)
                self._update_lock()
                return
            self.accept()
            return
        check = self.guard.verify(pin)
        self.pin.clear()
        if check.ok:
            self.accept()
            return
        self._say(check.message[0].upper() + check.message[1:] + ".", style.ALARM)
        self._update_lock()

    @staticmethod
    def request_access(guard: PinGuard, parent: QWidget | None = None) -> bool:
        """Show the dialog modally; True when the technician may enter the bench."""
        return PinDialog(guard, parent).exec() == QDialog.DialogCode.Accepted
