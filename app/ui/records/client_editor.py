"""Client editor with live validation; saves through the writer thread."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
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
from app.store.database import StaleRecordError
from app.store.validation import MAX_CLIENT_LIMIT_UA, ClientData, validate_client
from app.ui import style
from app.ui.labels import ElidedLabel
from app.ui.records.bridge import RecordsStore
from app.ui.records.date_field import DateField


class ClientEditor(QWidget):
    """Edit or create a client. ``saved(client_id)`` once the writer committed it.

    A save carries the version the edit started from. If another room (or window) saved
    the client meanwhile, the store refuses it: the editor says so, keeps what was typed,
    and offers "Reload and merge" — fields changed only elsewhere take the stored value,
    fields changed here keep the typed one (both changed: the typed one, named) — then
    the practitioner saves again. Nothing is overwritten unseen, nothing typed is lost.
    """

    saved = Signal(int)
    loaded = Signal(int)  # a client's record arrived and the form shows it
    merged = Signal(list)  # reload-and-merge done: the fields changed here and elsewhere

    def __init__(self, store: RecordsStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.client_id: int | None = None
        self.version: int | None = None  # the stored version the edit started from
        self._base: ClientData | None = None  # the record as loaded (for the merge)
        self.title = ElidedLabel("New client")  # a long name never widens the form
        self.title.setStyleSheet("font-size: 16px; font-weight: 600")
        self.name = QLineEdit(placeholderText="First and last name")
        self.dob_known = QCheckBox("known")
        self.dob = DateField()  # no default: typed, whole, and never corrected silently
        self.contact = QLineEdit(placeholderText="Phone or e-mail")
        self.skin_notes = QPlainTextEdit(placeholderText="Skin type, sensitivities, goals…")
        self.skin_notes.setTabChangesFocus(True)  # Tab moves on; never typed in
        self.skin_notes.setFixedHeight(80)
        self.limit_on = QCheckBox("own limit")
        self.limit = QDoubleSpinBox(
            suffix=" µA", decimals=0, minimum=1, maximum=MAX_CLIENT_LIMIT_UA, value=300
        )
        self.problems = QLabel(wordWrap=True)
        self.problems.setStyleSheet(f"color: {style.ALARM}")
        self.save_button = QPushButton("Save client")
        self.save_button.setObjectName("primary")
        self.conflict = QLabel(wordWrap=True)
        self.conflict.setStyleSheet(f"color: {style.ALARM}")
        self.conflict.hide()
        self.reload_button = QPushButton("Reload and merge")
        self.reload_button.setToolTip(
            "Take the other changes into the form, keeping what you typed; then save again"
        )
        self.reload_button.hide()

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
        buttons.addWidget(self.reload_button)
        buttons.addWidget(self.save_button)
        lay = QVBoxLayout(self)
        lay.addWidget(self.title)
        lay.addLayout(form)
        lay.addWidget(self.problems)
        lay.addWidget(self.conflict)
        lay.addLayout(buttons)
        lay.addStretch(1)

        for w in (self.name, self.contact):
            w.textChanged.connect(self._validate)
        self.dob.date_changed.connect(self._validate)
        self.dob_known.toggled.connect(self.dob.setEnabled)
        self.dob_known.toggled.connect(self._validate)
        self.limit_on.toggled.connect(self.limit.setEnabled)
        self.limit_on.toggled.connect(self._validate)
        self.limit.valueChanged.connect(self._validate)
        self.save_button.clicked.connect(self.save)
        self.reload_button.clicked.connect(self.reload_and_merge)
        store.error_occurred.connect(lambda _m: self._validate())
        self.new_client()

    def new_client(self) -> None:
        self.client_id = None
        self.version = None
        self._base = None
        self._clear_conflict()
        self.title.setText("New client")
        self.name.clear()
        self.contact.clear()
        self.skin_notes.clear()
        self.dob_known.setChecked(True)
        self.dob.set_value(None)
        self.limit_on.setChecked(False)
        self.limit.setEnabled(False)
        self._validate()

    def load(self, client_id: int) -> None:
        """Show ``client_id``'s record, read off the GUI thread (``loaded`` follows)."""
        self.store.read(
            services.get_client,
            client_id,
            on_result=self._loaded,
            what="reading the client",
            key="client_editor",
        )

    def _loaded(self, record) -> None:
        if record is None:
            return
        client_id = record.id
        self.client_id = client_id
        self._clear_conflict()
        self.title.setText(f"Client — {record.name}")
        self._fill(_as_data(record))
        self.version = record.version
        self._base = self.data()
        self.loaded.emit(client_id)

    def _fill(self, d: ClientData) -> None:
        self.name.setText(d.name)
        self.contact.setText(d.contact)
        self.skin_notes.setPlainText(d.skin_notes)
        self.dob_known.setChecked(d.date_of_birth is not None)
        self.dob.setEnabled(d.date_of_birth is not None)
        self.dob.set_value(d.date_of_birth)
        self.limit_on.setChecked(d.current_limit_ua is not None)
        self.limit.setEnabled(d.current_limit_ua is not None)
        if d.current_limit_ua is not None:
            self.limit.setValue(d.current_limit_ua)
        self._validate()

    def reload_and_merge(self) -> None:
        """Read the stored record (theirs, off the GUI thread) and merge it into the form
        (mine) from the record as it was loaded (base); ``merged`` names the fields both
        changed (mine kept)."""
        if self.client_id is None:
            return
        self.store.read(
            services.get_client,
            self.client_id,
            on_result=self._merge,
            what="reading the client again",
            key="client_editor",
        )

    def _merge(self, theirs_record) -> list[str]:
        if theirs_record is None:
            self.conflict.setText("This client no longer exists (erased in another room).")
            self.conflict.show()
            self.reload_button.hide()
            self.merged.emit([])
            return []
        theirs = _as_data(theirs_record)
        mine = self.data()
        base = self._base or mine
        merged: dict[str, object] = {}
        both: list[str] = []
        for name, label in _FIELDS:
            m, b, t = getattr(mine, name), getattr(base, name), getattr(theirs, name)
            merged[name] = t if m == b else m
            if m != b and t != b and m != t:
                both.append(label)
        self._fill(ClientData(**merged, id=self.client_id))
        self.version = theirs_record.version
        self._base = theirs
        self._clear_conflict()
        if both:
            self.conflict.setText(
                "Changed here and in the other room: "
                + ", ".join(both)
                + " — yours is kept; check before saving."
            )
            self.conflict.show()
        self.merged.emit(both)
        return both

    def _clear_conflict(self) -> None:
        self.conflict.clear()
        self.conflict.hide()
        self.reload_button.hide()

    def data(self) -> ClientData:
        return ClientData(
            name=self.name.text(),
            date_of_birth=self.dob.value() if self.dob_known.isChecked() else None,
            contact=self.contact.text(),
            skin_notes=self.skin_notes.toPlainText(),
            current_limit_ua=self.limit.value() if self.limit_on.isChecked() else None,
            id=self.client_id,
            version=self.version,
        )

    def _validate(self) -> list[str]:
        problems = validate_client(self.data(), dt.date.today())
        why = self.dob.problem() if self.dob_known.isChecked() else None
        if why:
            problems.insert(1, f"Date of birth: {why} (or untick 'known').")
        self.problems.setText("\n".join(problems))
        # a new, still empty form says what a save needs, in grey; red once typing began
        untouched = (
            self.client_id is None and not self.name.text().strip() and not self.dob.text().strip()
        )
        colour = style.MUTED if untouched else style.ALARM
        if self.problems.property("colour") != colour:
            self.problems.setProperty("colour", colour)
            self.problems.setStyleSheet(f"color: {colour}")
        self.save_button.setEnabled(not problems)
        return problems

    def save(self) -> None:
        if self._validate():
            return
        self.save_button.setEnabled(False)
        self._clear_conflict()
        self.store.when_done(
            self.store.writer.save_client(self.data()),
            self._saved,
            "saving the client",
            on_error=self._save_failed,
        )

    def _save_failed(self, exc: BaseException) -> None:
        self.save_button.setEnabled(not self._validate())
        if isinstance(exc, StaleRecordError):
            self.conflict.setText(str(exc))
            self.conflict.show()
            self.reload_button.show()

    def _saved(self, client_id: int) -> None:
        # the save succeeded from exactly self.version: the store holds the next one
        self.version = 1 if self.client_id is None or self.version is None else (self.version + 1)
        self.client_id = client_id
        self._base = self.data()
        self.title.setText(f"Client — {self.name.text().strip()}")
        self.save_button.setEnabled(True)
        self.saved.emit(client_id)


_FIELDS = (
    ("name", "Name"),
    ("date_of_birth", "Date of birth"),
    ("contact", "Contact"),
    ("skin_notes", "Skin notes"),
    ("current_limit_ua", "Current limit"),
)


def _as_data(record: services.ClientRecord) -> ClientData:
    return ClientData(
        record.name,
        record.date_of_birth,
        record.contact,
        record.skin_notes,
        record.current_limit_ua,
        record.id,
        record.version,
    )
