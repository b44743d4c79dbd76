"""Signing a finished session, and amending a signed one: two small dialogs.

Both write through the store's writer (never on the GUI thread) with the console's
current operator (``RecordsStore.operator_id``) and the printed name typed here (offered
from ``RecordsStore.operator_name``). The lock itself is the store's: these dialogs only
ask; a refusal comes back in words and is shown in the dialog.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.store.database import user_message
from app.store.vocabulary import AMENDABLE
from app.ui import style
from app.ui.records.bridge import RecordsStore

MEANING = "performed"


def _text_box(placeholder: str) -> QPlainTextEdit:
    box = QPlainTextEdit()
    box.setPlaceholderText(placeholder)
    box.setTabChangesFocus(True)  # keyboard-first: Tab leaves the box
    box.setFixedHeight(90)
    return box


class _StoreDialog(QDialog):
    """A dialog that submits one write and closes when it is committed."""

    done_with = Signal(int)  # the new row's id

    def __init__(self, store: RecordsStore, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.setWindowTitle(title)
        self.setMinimumWidth(520)
        self.error = QLabel(wordWrap=True)
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.setStyleSheet(f"color: {style.ALARM}")
        self.error.setVisible(False)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.addButton("OK", QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok.setObjectName("primary")
        self.ok.setDefault(True)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)

    def _problem(self) -> str | None:
        raise NotImplementedError

    def _future(self):  # -> Future
        raise NotImplementedError

    def submit(self) -> None:
        why = self._problem()
        if why is not None:
            self._failed_text(why)
            return
        self.ok.setEnabled(False)
        self.store.when_done(
            self._future(), self._committed, self.windowTitle().lower(), self._failed
        )

    def _committed(self, row_id: int) -> None:
        self.done_with.emit(int(row_id))
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self._failed_text(user_message(exc, self.store.engine.url))
        self.ok.setEnabled(True)

    def _failed_text(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(True)


class SignSessionDialog(_StoreDialog):
    """The practitioner signs a finished session: printed name, the time of signing,
    meaning "performed", and the session's notes, locked with it. ``done_with(id)``."""

    def __init__(
        self,
        store: RecordsStore,
        session: int | str,
        what: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(store, "Sign the session", parent)
        self.session = session
        self.ok.setText("Sign and lock")
        intro = QLabel(
            "Signing states that you performed this session. Once signed, its steps, "
            "events, notes and outcome are locked: a later correction is added as a dated "
            "amendment, and the record as signed stays visible.",
            wordWrap=True,
        )
        subject = QLabel(what, wordWrap=True)
        subject.setTextFormat(Qt.TextFormat.PlainText)  # a client's name is never markup
        subject.setStyleSheet("font-weight: 600")
        self.name = QLineEdit(store.operator_name or "")
        self.name.setMaxLength(200)
        self.name.setPlaceholderText("Your name as it is to be printed")
        self.notes = _text_box("Optional: what you observed, advice given…")
        form = QFormLayout()
        form.addRow("&Printed name:", self.name)
        form.addRow("Meaning:", QLabel(f"{MEANING} (I performed this session)"))
        form.addRow("Date and time:", QLabel("the moment you sign (recorded by the console)"))
        form.addRow("Session &notes:", self.notes)
        lay = QVBoxLayout(self)
        lay.addWidget(subject)
        lay.addWidget(intro)
        lay.addLayout(form)
        lay.addWidget(self.error)
        lay.addWidget(self.buttons)
        self.name.setFocus()

    def _problem(self) -> str | None:
        return None if self.name.text().strip() else "Type your printed name to sign."

    def _future(self):
        return self.store.writer.sign_session(
            self.session,
            self.store.operator_id,
            self.name.text(),
            meaning=MEANING,
            notes=self.notes.toPlainText(),
        )


class AmendDialog(_StoreDialog):
    """A dated amendment of a signed session: what it corrects, the correction, why, and
    who. ``done_with(id)``."""

    def __init__(
        self, store: RecordsStore, session: int | str, what: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(store, "Amend the signed session", parent)
        self.session = session
        self.ok.setText("Add amendment")
        intro = QLabel(
            "The signed record is not changed: this amendment is added under it, with "
            "your name, the date and time, and your reason.",
            wordWrap=True,
        )
        subject = QLabel(what, wordWrap=True)
        subject.setTextFormat(Qt.TextFormat.PlainText)
        subject.setStyleSheet("font-weight: 600")
        self.field = QComboBox()
        for key, label in AMENDABLE.items():
            self.field.addItem(label, key)
        self.text = _text_box("The corrected information")
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("Why the record is corrected")
        self.name = QLineEdit(store.operator_name or "")
        self.name.setMaxLength(200)
        form = QFormLayout()
        form.addRow("&Corrects:", self.field)
        form.addRow("C&orrection:", self.text)
        form.addRow("&Reason:", self.reason)
        form.addRow("&Printed name:", self.name)
        lay = QVBoxLayout(self)
        lay.addWidget(subject)
        lay.addWidget(intro)
        lay.addLayout(form)
        lay.addWidget(self.error)
        lay.addWidget(self.buttons)
        self.field.setFocus()

    def _problem(self) -> str | None:
        if not self.text.toPlainText().strip():
            return "Write the correction."
        if not self.reason.text().strip():
            return "Give the reason for the correction."
        if not self.name.text().strip():
            return "Type your printed name."
        return None

    def _future(self):
        return self.store.writer.amend_session(
            self.session,
            self.store.operator_id,
            self.name.text(),
            str(self.field.currentData()),
            self.text.toPlainText(),
            self.reason.text(),
        )
