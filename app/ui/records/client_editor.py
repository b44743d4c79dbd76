"""Client editor with live validation; saves through the writer thread."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QDate, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDateEdit,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.store import services
from app.store.validation import MAX_CLIENT_LIMIT_UA, ClientData, validate_client
from app.ui import style
from app.ui.records.bridge import RecordsStore


class ClientEditor(QWidget):
    """Edit or create a client. ``saved(client_id)`` once the writer committed it."""

    saved = Signal(int)

    def __init__(self, store: RecordsStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.client_id: int | None = None
        self.title = QLabel("New client")
        self.title.setStyleSheet("font-size: 16px; font-weight: 600")
        self.name = QLineEdit(placeholderText="First and last name")
        self.dob_known = QCheckBox("known")
        self.dob = QDateEdit(calendarPopup=True, displayFormat="dd MMM yyyy")
        self.dob.setDate(QDate(1980, 1, 1))
        self.dob.setMaximumDate(QDate.currentDate())
        self.contact = QLineEdit(placeholderText="Phone or e-mail")
        self.skin_notes = QPlainTextEdit(placeholderText="Skin type, sensitivities, goals…")
        self.skin_notes.setFixedHeight(80)
        self.limit_on = QCheckBox("own limit")
        self.limit = QDoubleSpinBox(suffix=" µA", decimals=0, minimum=1,
                                    maximum=MAX_CLIENT_LIMIT_UA, value=300)
        self.problems = QLabel(wordWrap=True)
        self.problems.setStyleSheet(f"color: {style.ALARM}")
        self.save_button = QPushButton("Save client")
        self.save_button.setObjectName("primary")

        dob_row = QHBoxLayout()
        dob_row.addWidget(self.dob_known)
        dob_row.addWidget(self.dob, 1)
        limit_row = QHBoxLayout()
        limit_row.addWidget(self.limit_on)
        limit_row.addWidget(self.limit, 1)
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Date of birth", dob_row)
        form.addRow("Contact", self.contact)
        form.addRow("Skin notes", self.skin_notes)
        form.addRow("Current limit", limit_row)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        lay = QVBoxLayout(self)
        lay.addWidget(self.title)
        lay.addLayout(form)
        lay.addWidget(self.problems)
        lay.addLayout(buttons)
        lay.addStretch(1)

        for w in (self.name, self.contact):
            w.textChanged.connect(self._validate)
        self.dob.dateChanged.connect(self._validate)
        self.dob_known.toggled.connect(self.dob.setEnabled)
        self.dob_known.toggled.connect(self._validate)
        self.limit_on.toggled.connect(self.limit.setEnabled)
        self.limit_on.toggled.connect(self._validate)
        self.limit.valueChanged.connect(self._validate)
        self.save_button.clicked.connect(self.save)
        store.error_occurred.connect(lambda _m: self._validate())
        self.new_client()

    def new_client(self) -> None:
        self.client_id = None
        self.title.setText("New client")
        self.name.clear()
        self.contact.clear()
        self.skin_notes.clear()
        self.dob_known.setChecked(True)
        self.dob.setDate(QDate(1980, 1, 1))
        self.limit_on.setChecked(False)
        self.limit.setEnabled(False)
        self._validate()

    def load(self, client_id: int) -> None:
        record = services.get_client(self.store.engine, client_id)
        if record is None:
            return
        self.client_id = client_id
        self.title.setText(f"Client — {record.name}")
        self.name.setText(record.name)
        self.contact.setText(record.contact)
        self.skin_notes.setPlainText(record.skin_notes)
        self.dob_known.setChecked(record.date_of_birth is not None)
        self.dob.setEnabled(record.date_of_birth is not None)
        if record.date_of_birth:
            d = record.date_of_birth
            self.dob.setDate(QDate(d.year, d.month, d.day))
        self.limit_on.setChecked(record.current_limit_ua is not None)
        self.limit.setEnabled(record.current_limit_ua is not None)
        if record.current_limit_ua is not None:
            self.limit.setValue(record.current_limit_ua)
        self._validate()

    def data(self) -> ClientData:
        q = self.dob.date()
        return ClientData(
            name=self.name.text(),
            date_of_birth=dt.date(q.year(), q.month(), q.day()) if self.dob_known.isChecked()
            else None,
            contact=self.contact.text(),
            skin_notes=self.skin_notes.toPlainText(),
            current_limit_ua=self.limit.value() if self.limit_on.isChecked() else None,
            id=self.client_id)

    def _validate(self) -> list[str]:
        problems = validate_client(self.data(), dt.date.today())
        self.problems.setText("\n".join(problems))
        self.save_button.setEnabled(not problems)
        return problems

    def save(self) -> None:
        if self._validate():
            return
        self.save_button.setEnabled(False)
        self.store.when_done(self.store.writer.save_client(self.data()), self._saved,
                             "saving the client")

    def _saved(self, client_id: int) -> None:
        self.client_id = client_id
        self.title.setText(f"Client — {self.name.text().strip()}")
        self.save_button.setEnabled(True)
        self.saved.emit(client_id)
