"""Screening and consent form: shows live whether output may start, blocks a
contraindicated client, and records acknowledged overrides of relative ones.

Zone questions (filler sites, lesions, metal implants, bruxism) name face-map zones
with a compact :class:`~app.ui.records.zone_picker.ZonePicker`; an excluded zone is
treated only with its override ticked. Every row keeps its place and its height as
answers change (the override boxes are always there, enabled when they apply; the
banner has a fixed height), and nothing needs sideways scrolling.

The form is a view of the client's record. A save names the screening and consent the
form showed (their ids), and the store refuses one made from anything older
(:class:`~app.store.writer.StaleScreeningError`): a form left open never undoes a
screening saved in another room. When the record changes while the form is open (this
room's ``records_changed``, which also follows other rooms' changes), an untouched form
shows the stored answers; an edited one keeps what was typed, says when and by whom the
screening was changed, shows the stored verdict in its banner and refuses to save until
the practitioner reloads ("Reload stored screening") and screens again."""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app import palette
from app.store import services
from app.store.screening import (
    Evaluation,
    Item,
    ScreeningAnswers,
    Status,
    add_months,
    age_on,
    evaluate,
    zone_override,
    zone_rules,
)
from app.store.signature import MAX_NAME, Signature, typed
from app.store.writer import StaleScreeningError
from app.ui import style
from app.ui.records.bridge import RecordsStore
from app.ui.records.date_field import DateField
from app.ui.records.format import local_date, local_datetime, local_time
from app.ui.records.signature_pad import SignaturePad, render_signature
from app.ui.records.zone_picker import ZonePicker, ZonePickerDialog

BANNER_LINES = 3  # reasons shown under the banner's headline (all of them in its tooltip)
BANNER = {
    Status.CLEARED: (style.OK, "Cleared for treatment"),
    Status.NEEDS_OVERRIDE: (style.WARN, "Override needed before output can start"),
    Status.BLOCKED: (style.ALARM, "Output blocked: absolute contraindication"),
    Status.EXPIRED: (style.WARN, "Screening expired: screen the client again"),
    Status.MISSING: (style.MUTED, "Screening incomplete"),
}


def _on(when: dt.datetime | None) -> str:
    """'on 05 Dec 2026 at 11:04:07' (local time), or 'meanwhile'."""
    if when is None:
        return "meanwhile"
    return f"on {local_date(when.astimezone().date())} at {local_time(when)}"


def _at(host: str | None) -> str:
    """' on the console on room-c' (nothing when not recorded)."""
    return f" on the console on {host}" if host else ""


class _Answer:
    """The widgets of one asked item (yes/no or a date)."""

    def __init__(self, item: Item, parent: QWidget) -> None:
        self.item = item
        self.group = QButtonGroup(parent)
        self.group.setExclusive(True)
        self.row = QHBoxLayout()
        if item.type == "yes_no":
            self.no, self.yes = QRadioButton("No"), QRadioButton("Yes")
            self.date = None
        else:
            self.no, self.yes = QRadioButton("None"), QRadioButton("On")
            # typed as a whole date, never corrected behind the practitioner's back
            self.date = DateField(parent)
            self.date.setEnabled(False)
            self.yes.toggled.connect(self.date.setEnabled)
        for b in (self.no, self.yes):
            self.group.addButton(b)
            self.row.addWidget(b)
        if self.date is not None:
            self.row.addWidget(self.date)
        self.row.addStretch(1)

    def value(self) -> tuple[bool, Any]:
        """(answered, value)."""
        if not (self.no.isChecked() or self.yes.isChecked()):
            return False, None
        if self.item.type == "yes_no":
            return True, self.yes.isChecked()
        if self.no.isChecked():
            return True, None
        day = self.date.value()
        if day is None:  # "On" without a whole, allowed date: not answered yet
            return False, None
        return True, day.isoformat()

    def problem(self) -> str | None:
        """Why this answer is not usable yet (a date that is not a date), or None."""
        if self.date is not None and self.yes.isChecked():
            why = self.date.problem()
            return f"{self.item.question.rstrip('?')}: {why}" if why else None
        return None

    def set_value(self, answered: bool, value: Any) -> None:
        self.group.setExclusive(False)
        self.no.setChecked(False)
        self.yes.setChecked(False)
        self.group.setExclusive(True)
        if not answered:
            return
        if self.item.type == "yes_no":
            (self.yes if value else self.no).setChecked(True)
        elif value:
            self.yes.setChecked(True)
            self.date.set_value(dt.date.fromisoformat(value))
        else:
            self.no.setChecked(True)


class _Banner(QLabel):
    """The verdict: a headline and up to BANNER_LINES reasons, one line each (elided; all
    of them in the tooltip and in ``text()``). Always the same height: nothing below it
    moves as answers change, and it never widens the form."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("banner")
        self.setTextFormat(Qt.TextFormat.RichText)  # built here, every text escaped
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self._headline = ""
        self._lines: list[str] = []
        self.setFixedHeight(self._bold_metrics().lineSpacing() * (BANNER_LINES + 1) + 24)

    def _bold_metrics(self) -> QFontMetrics:
        font = QFont(self.font())
        font.setBold(True)
        return QFontMetrics(font)

    def set_content(self, headline: str, lines: list[str]) -> None:
        self._headline, self._lines = headline, list(lines)
        self.setToolTip("\n".join(self._lines))
        self._render()

    def text(self) -> str:
        """The headline and every reason (plain text, one a line)."""
        return "\n".join([self._headline, *self._lines])

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._render()

    def _render(self) -> None:
        fm = self._bold_metrics()
        width = max(40, self.contentsRect().width() - 4)
        shown = [f"• {r}" for r in self._lines[:BANNER_LINES]]
        if len(self._lines) > BANNER_LINES:
            shown[-1] = f"… and {len(self._lines) - BANNER_LINES + 1} more (see the tooltip)"
        body = [
            html.escape(fm.elidedText(t, Qt.TextElideMode.ElideRight, width), quote=False)
            for t in shown
        ]
        super().setText("<br>".join([f"<b>{html.escape(self._headline, quote=False)}</b>", *body]))


class _ZoneAnswer:
    """The picker of one ``zones`` item: always answered (no zones is an answer)."""

    date = None

    def __init__(self, item: Item, parent: QWidget) -> None:
        self.item = item
        self.picker = ZonePicker(item.question, parent)

    def value(self) -> tuple[bool, Any]:
        return True, self.picker.zones()

    def problem(self) -> str | None:
        return None

    def set_value(self, answered: bool, value: Any) -> None:
        zones = value if answered and isinstance(value, list | tuple) else []
        self.picker.set_zones([z for z in zones if isinstance(z, str)])


class _ZoneOverrideBox(QCheckBox):
    """ "Treat anyway" for a zone exclusion: ticked, every zone the item names; partly
    ticked ("2 of 3 zones"), only the zones chosen. A click on an unticked box whose item
    names several zones asks which (all ticked to start with); a click on a ticked one
    unticks it."""

    def __init__(self, item: Item, zones_of, parent: QWidget | None = None) -> None:
        super().__init__("Treat anyway", parent)
        self.item = item
        self._zones_of = zones_of  # () -> the zones the item names now
        self.partial: tuple[str, ...] = ()  # the zones treated anyway when partly ticked
        self._help = (
            f"Override acknowledged by the practitioner: {item.reason}. Ticked: every "
            "zone named here is treated; with several zones you choose which (the others "
            "stay excluded)."
        )
        self.setTristate(True)
        self.stateChanged.connect(lambda *_: self._label())

    def acknowledge(self, zones: tuple[str, ...] | None) -> None:
        """``None``: every zone the item names; ``()``: none; else those zones."""
        named = list(self._zones_of())
        if zones is None or (zones and set(named) <= set(zones)):
            self.partial = ()
            self.setCheckState(Qt.CheckState.Checked)
        elif zones:
            self.partial = tuple(z for z in named if z in set(zones))
            self.setCheckState(
                Qt.CheckState.PartiallyChecked if self.partial else Qt.CheckState.Unchecked
            )
        else:
            self.partial = ()
            self.setCheckState(Qt.CheckState.Unchecked)

    def tokens(self) -> tuple[str, ...]:
        """What is stored in the screening's acknowledged overrides."""
        state = self.checkState()
        if state == Qt.CheckState.Checked:
            return (self.item.id,)
        if state == Qt.CheckState.PartiallyChecked:
            named = set(self._zones_of())
            return tuple(zone_override(self.item.id, z) for z in self.partial if z in named)
        return ()

    def dialog(self) -> ZonePickerDialog:
        """Which of the item's zones to treat anyway (tests drive it by keys)."""
        named = list(self._zones_of())
        return ZonePickerDialog(
            f"{self.item.reason.capitalize()}: which of these zones are treated anyway? "
            "The practitioner takes responsibility; the others stay excluded.",
            named,
            self,
            offered=named,
            window_title="Treat anyway",
        )

    def nextCheckState(self) -> None:  # noqa: N802 - Qt override: a click
        if self.checkState() != Qt.CheckState.Unchecked:
            self.acknowledge(())
            return
        named = list(self._zones_of())
        if len(named) <= 1:
            self.acknowledge(None)
            return
        dlg = self.dialog()
        if dlg.exec() == QDialog.DialogCode.Accepted:
            self.acknowledge(tuple(dlg.zones()))

    def _label(self) -> None:
        """The text keeps its width (the form never reflows as answers change); which
        zones are treated is said in the tooltip, to screen readers and in the banner."""
        from app.engine.limits import zone_name

        named = list(self._zones_of())
        state = self.checkState()
        if state == Qt.CheckState.PartiallyChecked and named:
            chosen = [z for z in self.partial if z in set(named)]
            said = (
                f"Treated anyway: {len(chosen)} of {len(named)} zones "
                f"({', '.join(zone_name(z) for z in chosen)}); the others stay excluded."
            )
        elif state == Qt.CheckState.Checked:
            said = "Treated anyway: every zone named here."
        else:
            said = "Not treated: every zone named here stays excluded."
        self.setAccessibleDescription(said)
        self.setToolTip(f"{said}\n{self._help}")


class _WithdrawBox(QMessageBox):
    """ "Withdraw the consent of <name>?": Withdraw consent, or Cancel (the default)."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setIcon(QMessageBox.Icon.Warning)
        self.setWindowTitle("Withdraw consent")
        self.setTextFormat(Qt.TextFormat.PlainText)  # a name is never markup
        self.setText(
            f"Withdraw the consent of {name or 'this client'}?\n\n"
            "Output for this client stops at once, also a treatment running in another "
            "room, and no treatment can start until they sign the consent again. The "
            "withdrawal is recorded with your name and the time, in the client's record "
            "and the audit trail."
        )
        self.withdraw = self.addButton("Withdraw consent", QMessageBox.ButtonRole.DestructiveRole)
        cancel = self.addButton(QMessageBox.StandardButton.Cancel)
        self.setDefaultButton(cancel)
        self.setEscapeButton(cancel)


class ScreeningForm(QWidget):
    """``saved(screening_id)`` after the writer committed the screening (and consent)."""

    saved = Signal(int)
    evaluation_changed = Signal(object)  # Evaluation
    loaded = Signal(int)  # the client's record arrived and the form shows it
    consent_withdrawn = Signal(int)  # the store recorded the client's withdrawal

    def __init__(self, store: RecordsStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.q = store.questionnaire
        self.client_id: int | None = None
        self._client = None
        self.today = dt.date.today()
        self._evaluation = Evaluation(Status.MISSING, ())
        # what the form was filled from: the newest screening and consent it showed (a
        # save names them) and the answers as filled (to tell whether the user edited)
        self.based_on: tuple[int | None, int | None] = (None, None)
        self._base_draft: tuple[dict[str, Any], tuple[str, ...]] | None = None
        self._busy = False  # a save or a (re)load is on its way: a check waits for it
        # the record changed elsewhere while this form was edited: what is stored now
        self._stored: services.ClientRecord | None = None
        self.conflict_text = ""

        self.title = QLabel("Screening")
        self.title.setTextFormat(Qt.TextFormat.PlainText)  # a name is never markup
        self.title.setStyleSheet("font-size: 16px; font-weight: 600")
        self.title.setWordWrap(True)  # a long name never widens the form
        self.banner = _Banner()
        # the record changed elsewhere while edited here: said plainly, with the means to
        # reload (plain text: it names an operator)
        self.conflict = QLabel(wordWrap=True)
        self.conflict.setTextFormat(Qt.TextFormat.PlainText)
        self.conflict.setStyleSheet(
            f"background: {palette.WHITE}; color: {style.ALARM}; border: 2px solid "
            f"{style.ALARM}; border-radius: 4px; padding: 6px 8px"
        )
        self.conflict.hide()
        self.reload_button = QPushButton("Reload stored screening")
        self.reload_button.setToolTip(
            "Show the screening and consent as stored now (the answers typed here are "
            "replaced); then screen the client again"
        )
        self.reload_button.hide()
        self.answers: dict[str, _Answer | _ZoneAnswer] = {}
        # every override box is there from the start, enabled when its item applies
        self.overrides: dict[str, QCheckBox] = {}
        content = QWidget()
        body = QVBoxLayout(content)
        # short titles (a group box is never narrower than its title), the rest wrapped
        for kind, heading, note in (
            ("absolute", "Absolute contraindications", "Any of these blocks output."),
            (
                "relative",
                "Relative contraindications",
                "Output needs an acknowledged override: the practitioner takes "
                "responsibility, logged with the screening.",
            ),
            (
                "zone",
                "Zones (optional)",
                "Excluded zones are hatched on the face map and skipped by guided runs "
                "unless treated anyway; metal implants and bruxism hold their zones under "
                "a ceiling.",
            ),
        ):
            items = [item for item in self.q.items if item.kind == kind]
            if not items:
                continue
            box = QGroupBox(heading)
            # each question (with its override box beside it) on a line of its own and
            # its answer under it: the form stays narrow enough for the desk at 1280 px
            grid = QGridLayout(box)
            grid.setColumnStretch(0, 1)
            grid.setVerticalSpacing(2)
            explain = QLabel(note, wordWrap=True)
            explain.setStyleSheet(f"color: {style.MUTED}")
            grid.addWidget(explain, 0, 0, 1, 2)
            for n, item in enumerate(items):
                row = 1 + 2 * n
                label = QLabel(item.question, wordWrap=True)
                label.setStyleSheet("padding-top: 6px")
                grid.addWidget(label, row, 0)
                if item.type == "zones":
                    zans = _ZoneAnswer(item, self)
                    zans.picker.zones_changed.connect(lambda *_: self._update())
                    self.answers[item.id] = zans
                    grid.addWidget(zans.picker, row + 1, 0, 1, 2)
                elif item.asked:
                    ans = _Answer(item, self)
                    ans.group.buttonToggled.connect(lambda *_: self._update())
                    if ans.date is not None:
                        ans.date.date_changed.connect(lambda *_: self._update())
                    self.answers[item.id] = ans
                    grid.addLayout(ans.row, row + 1, 0, 1, 2)
                else:
                    self.age_label = QLabel("—")
                    grid.addWidget(self.age_label, row + 1, 0, 1, 2)
                if kind == "relative" or (kind == "zone" and item.effect == "exclude"):
                    override: QCheckBox
                    if kind == "zone":
                        override = _ZoneOverrideBox(item, self._named_zones(item.id), self)
                    else:
                        override = QCheckBox("Proceed anyway")
                        override.setToolTip(
                            f"Override acknowledged by the practitioner: {item.reason}"
                        )
                    override.setEnabled(False)
                    override.stateChanged.connect(lambda *_: self._update())
                    self.overrides[item.id] = override
                    grid.addWidget(
                        override, row, 1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom
                    )
            body.addWidget(box)
        consent_box = QGroupBox(f"Consent ({self.q.consent_text_version})")
        cl = QVBoxLayout(consent_box)
        self.consent_text = QLabel(self.q.consent_text, wordWrap=True)
        self.consent_text.setTextFormat(Qt.TextFormat.PlainText)
        self.consent_text.setStyleSheet(f"color: {palette.TEXT_SECONDARY}")
        cl.addWidget(self.consent_text)
        # the consent as signed (shown once recorded): when, by whom, the signature
        self.consent_status = QLabel(wordWrap=True)
        self.consent_status.setTextFormat(Qt.TextFormat.PlainText)
        self.consent_signature = QLabel()
        self.consent_signature.setStyleSheet(f"border: 1px solid {palette.BORDER_LIGHT}")
        self.consent_signature.setAlignment(Qt.AlignmentFlag.AlignLeft)
        cl.addWidget(self.consent_status)
        cl.addWidget(self.consent_signature, 0, Qt.AlignmentFlag.AlignLeft)
        # the client withdraws the consent in force (confirmed, naming the client)
        self.withdraw_button = QPushButton("Withdraw consent…")
        self.withdraw_button.setToolTip(
            "The client withdraws their consent: output for them stops at once, in every "
            "room, until they sign the consent again"
        )
        self.withdraw_button.setVisible(False)
        self.withdraw_button.clicked.connect(self.withdraw_consent)
        self._withdraw_box: _WithdrawBox | None = None
        cl.addWidget(self.withdraw_button, 0, Qt.AlignmentFlag.AlignLeft)
        # signing: the pad, or the typed name for keyboard users
        self.sign_area = QWidget()
        sl = QVBoxLayout(self.sign_area)
        sl.setContentsMargins(0, 0, 0, 0)
        self.consent = QCheckBox("The client has read and agreed to this text")
        self.pad = SignaturePad()
        self.clear_pad = QPushButton("Clear signature")
        # the pad over its Clear button: the form is about 380 px wide on the desk
        pad_row = QVBoxLayout()
        pad_row.addWidget(self.pad)
        pad_row.addWidget(self.clear_pad, 0, Qt.AlignmentFlag.AlignLeft)
        self.typed_name = QLineEdit()
        self.typed_name.setMaxLength(MAX_NAME)
        self.typed_name.setPlaceholderText("The client's full name")
        typed_label = QLabel(
            "&Or, without a pen or mouse: the client types their full name as their "
            "signature (a typed signature):",
            wordWrap=True,
        )
        typed_label.setBuddy(self.typed_name)
        sl.addWidget(self.consent)
        sl.addWidget(QLabel("Client's signature:"))
        sl.addLayout(pad_row)
        sl.addWidget(typed_label)
        sl.addWidget(self.typed_name)
        cl.addWidget(self.sign_area)
        body.addWidget(consent_box)
        body.addStretch(1)
        scroll = self.scroll_area = QScrollArea(widgetResizable=True)
        scroll.setWidget(content)

        self.save_button = QPushButton("Save screening")
        self.save_button.setObjectName("primary")
        self.hint = QLabel(wordWrap=True)
        self.hint.setStyleSheet(f"color: {style.MUTED}")
        buttons = QHBoxLayout()
        buttons.addWidget(self.hint, 1)
        buttons.addWidget(self.reload_button)
        buttons.addWidget(self.save_button)
        lay = QVBoxLayout(self)
        lay.addWidget(self.title)
        lay.addWidget(self.conflict)
        lay.addWidget(self.banner)
        lay.addWidget(scroll, 1)
        lay.addLayout(buttons)
        self.save_button.clicked.connect(self.save)
        self.reload_button.clicked.connect(self.reload)
        # a slot of this form (not a lambda): the store outlives it
        store.records_changed.connect(self.check_stored)
        self.consent.toggled.connect(lambda *_: self._update())
        self.pad.changed.connect(self._update)
        self.clear_pad.clicked.connect(self.pad.clear)
        self.typed_name.textChanged.connect(lambda *_: self._update())

    # -- state

    def set_client(self, client_id: int, today: dt.date | None = None) -> None:
        """Load the client's latest screening (answers pre-filled for a renewal), read off
        the GUI thread; the form fills when it arrives (``loaded``)."""
        self.today = today or dt.date.today()
        self.client_id = client_id
        self._busy = True
        self.store.read(
            services.get_client,
            client_id,
            on_result=self._fill,
            what="reading the client's screening",
            key="screening_form",
            on_error=lambda _exc: self._not_busy(),
        )

    def reload(self) -> None:
        """Show the record as stored now (what was typed here is replaced)."""
        if self.client_id is not None:
            self.set_client(self.client_id, self.today)

    def _not_busy(self) -> None:
        self._busy = False

    def _fill(self, client) -> None:
        self._busy = False
        self._client = client
        if self._client is None:
            return
        self._stored = None
        self.conflict_text = ""
        self.conflict.hide()
        self.reload_button.hide()
        self.based_on = (
            client.screening.id if client.screening is not None else None,
            client.consent.id if client.consent is not None else None,
        )
        self.title.setText(f"Screening — {self._client.name}")
        previous = self._client.screening
        for item_id, ans in self.answers.items():
            if previous is not None and item_id in previous.answers:
                ans.set_value(True, previous.answers[item_id])
            else:
                ans.set_value(False, None)
        acked = set(previous.overrides_acknowledged) if previous else set()
        for item_id, box in self.overrides.items():  # the last client's ticks never stay
            box.blockSignals(True)
            if isinstance(box, _ZoneOverrideBox):
                prefix = zone_override(item_id, "")
                some = tuple(a[len(prefix) :] for a in acked if a.startswith(prefix))
                box.acknowledge(None if item_id in acked else some)
                box._label()  # noqa: SLF001 - its signals are blocked while filled
            else:
                box.setChecked(item_id in acked)
            box.blockSignals(False)
        self._show_consent(self._client.consent)
        dob = self._client.date_of_birth
        self.age_label.setText(
            f"Age {age_on(dob, self.today)} (from the date of birth)"
            if dob
            else "Date of birth not recorded"
        )
        self._update()
        draft = self.current()
        self._base_draft = (dict(draft.answers), tuple(draft.overrides_acknowledged))
        self.loaded.emit(self._client.id)

    # -- the record changed elsewhere

    def edited(self) -> bool:
        """The user changed the form since it was filled (answers, overrides, a consent
        being signed)."""
        if self._client is None or self._base_draft is None:
            return False
        draft = self.current()
        if (dict(draft.answers), tuple(draft.overrides_acknowledged)) != self._base_draft:
            return True
        return self._signing()

    def _signing(self) -> bool:
        """A consent is being given here (ticked, drawn or typed, not yet stored)."""
        return not self._consent_current() and (
            self.consent.isChecked() or not self.pad.is_empty() or bool(self.typed_name.text())
        )

    def check_stored(self) -> None:
        """The records changed (here or in another room): read the client's screening and
        consent again, off the GUI thread, and compare them with what the form shows."""
        if self.client_id is None or self._busy:
            return  # a save or a load on its way brings the newest record itself
        self.store.read(
            services.get_client,
            self.client_id,
            on_result=self._compare,
            what="checking the client's screening",
            key="screening_form_check",
        )

    def _compare(self, record: services.ClientRecord | None) -> None:
        if record is None or record.id != self.client_id or self._busy or self._client is None:
            return
        screening_id = record.screening.id if record.screening is not None else None
        consent_id = record.consent.id if record.consent is not None else None
        if (screening_id, consent_id) == self.based_on:
            return
        if not self.edited():
            self._fill(record)  # nothing typed here: the form shows the record as stored
            return
        if screening_id == self.based_on[0] and not self._signing():
            # only the consent changed, and none is being given here: show it, keep the
            # answers being edited (their save names the same screening)
            self._client = record
            self.based_on = (screening_id, consent_id)
            self._show_consent(record.consent)
            self._update()
            return
        self._show_conflict(record)

    def _show_conflict(self, record: services.ClientRecord, refused: bool = False) -> None:
        """Keep what was typed; say what changed, when and by whom; show the stored
        verdict; Save refused until reloaded (``refused``: a save was just refused)."""
        self._stored = record
        changed = self._what_changed(record)
        saved = "Your save was refused: your" if refused else "Your"
        self.conflict_text = (
            f"{changed} {saved} answers below are not saved, and cannot be (nothing stored "
            "is overwritten). The banner shows what is stored now: reload it, then screen "
            "the client again."
        )
        self.conflict.setText(self.conflict_text)
        self.conflict.show()
        self.reload_button.show()
        self._update()

    def _what_changed(self, record: services.ClientRecord) -> str:
        scr, con = record.screening, record.consent
        if (scr.id if scr else None) != self.based_on[0]:
            if scr is None:
                return "The client's screening was removed in another room (or window)."
            who = scr.operator_name or "an operator not recorded"
            return (
                "The screening was changed in another room (or window) "
                f"{_on(scr.created_at)} by {who}{_at(scr.host)}."
            )
        if con is None:
            return "The client's consent was removed in another room (or window)."
        who = con.operator_name or "an operator not recorded"
        return (
            "The consent was recorded in another room (or window) "
            f"{_on(con.given_at)} by {who}{_at(con.host)}."
        )

    def _withdrawal(self) -> services.ConsentRecord | None:
        """The client's consent as stored is a withdrawal (None: it is not)."""
        consent = self._client.consent if self._client is not None else None
        return consent if consent is not None and consent.withdrawn else None

    def in_conflict(self) -> bool:
        """The record changed elsewhere while edited here: Save is refused."""
        return self._stored is not None

    def _consent_current(self) -> bool:
        return self._client is not None and (
            self._client.consent_version == self.q.consent_text_version
        )

    def _show_consent(self, consent: services.ConsentRecord | None) -> None:
        """The client's consent as stored (text signed, time, signature), or the means to
        sign it: the signed consent is never edited, only viewed."""
        self.pad.clear()
        self.typed_name.clear()
        current = self._consent_current()
        self.consent.setChecked(current)
        self.sign_area.setVisible(not current)
        self.consent_signature.setVisible(False)
        self.withdraw_button.setVisible(current)
        if consent is not None and consent.withdrawn:
            self.consent_text.setText(self.q.consent_text)
            who = f" by {consent.operator_name}" if consent.operator_name else ""
            self.consent_status.setText(
                f"Consent withdrawn on {local_datetime(consent.given_at)}{who}: no treatment "
                "until the client signs the consent again."
            )
            return
        if consent is None:
            self.consent_text.setText(self.q.consent_text)
            self.consent_status.setText("Not signed yet.")
            return
        when = local_datetime(consent.given_at)
        if not current:
            self.consent_text.setText(self.q.consent_text)
            self.consent_status.setText(
                f"The consent on record ({consent.text_version}, {when}) is not the current "
                "text: the client signs the current one."
            )
            return
        # the text the client signed, not today's resources
        self.consent_text.setText(consent.text or self.q.consent_text)
        sig = consent.signature
        if sig is None:
            self.consent_status.setText(
                f"Agreed on {when} (recorded before consents were signed on screen: "
                "no signature or text snapshot is stored)."
            )
            return
        how = "drawn signature" if sig.kind == "drawn" else "typed signature"
        self.consent_status.setText(
            f"Signed on {when} by {sig.name or 'the client'} ({how}); this signed consent "
            "cannot be changed."
        )
        image = render_signature(sig, 300, 84)
        self.consent_signature.setPixmap(QPixmap.fromImage(image))
        self.consent_signature.setVisible(True)

    def withdraw_dialog(self) -> _WithdrawBox:
        """The confirmation, naming the client (plain text: a name is never markup)."""
        return _WithdrawBox(self._client.name if self._client is not None else "", self)

    def withdraw_consent(self) -> None:
        """Ask, then record the withdrawal of the consent this form shows (refused, and
        shown like a stale screening, when another consent was recorded meanwhile)."""
        if self.client_id is None or self._client is None or not self._consent_current():
            return
        based_on = self.based_on[1]
        if based_on is None or self._stored is not None:
            return
        box = self._withdraw_box = self.withdraw_dialog()
        box.exec()
        self._withdraw_box = None
        if box.clickedButton() is not box.withdraw:
            return
        self.withdraw_button.setEnabled(False)
        self.store.when_done(
            self.store.writer.withdraw_consent(
                self.client_id, based_on=based_on, operator_id=self.store.operator_id
            ),
            self._withdrawn,
            "withdrawing the consent",
            on_error=self._withdraw_failed,
        )

    def _withdrawn(self, _consent_id: int) -> None:
        self.withdraw_button.setEnabled(True)
        self.check_stored()  # shows the withdrawal; answers being edited stay
        self.consent_withdrawn.emit(self.client_id)

    def _withdraw_failed(self, exc: BaseException) -> None:
        self.withdraw_button.setEnabled(True)
        self._save_failed(exc)

    def pending_signature(self) -> Signature | None:
        """The signature given for the consent now: the drawn one, else the typed name
        (None: not signed yet)."""
        name = self.typed_name.text().strip()
        client = self._client.name if self._client is not None else ""
        if not self.pad.is_empty():
            return self.pad.signature(name or client)
        if name:
            return typed(name)
        return None

    def current(self) -> ScreeningAnswers:
        answers = {}
        for item_id, ans in self.answers.items():
            answered, value = ans.value()
            if answered:
                answers[item_id] = value
        acked: list[str] = []
        for item_id, box in self.overrides.items():
            if not box.isEnabled():
                continue
            if isinstance(box, _ZoneOverrideBox):
                acked += box.tokens()
            elif box.isChecked():
                acked.append(item_id)
        return ScreeningAnswers(
            answers, self.today, add_months(self.today, self.q.validity_months), tuple(acked)
        )

    def evaluation(self) -> Evaluation:
        return self._evaluation

    def set_answer(self, item_id: str, value: Any) -> None:
        """Answer an item programmatically (tests, renewals)."""
        self.answers[item_id].set_value(True, value)

    def acknowledge(self, item_id: str, on: bool = True) -> None:
        box = self.overrides[item_id]
        if isinstance(box, _ZoneOverrideBox):
            box.acknowledge(None if on else ())
        else:
            box.setChecked(on)

    def acknowledge_zones(self, item_id: str, zones: tuple[str, ...]) -> None:
        """Treat these zones of a zone exclusion anyway (the others stay excluded)."""
        box = self.overrides[item_id]
        assert isinstance(box, _ZoneOverrideBox), f"{item_id} is not a zone exclusion"
        box.acknowledge(tuple(zones))

    def _named_zones(self, item_id: str):
        def named() -> list[str]:
            ans = self.answers.get(item_id)
            return ans.picker.zones() if isinstance(ans, _ZoneAnswer) else []

        return named

    def zone_rules(self):
        """The zone rules the answers as they stand would give (for the face map)."""
        return zone_rules(self.current(), self.today, self.q)

    def _update(self) -> None:
        if self._client is None:
            return
        # an override box is live only where it applies: a relative contraindication
        # present, or zones an exclusion names (a tick elsewhere is kept, not counted)
        ev = evaluate(self._with_all_overrides(), self._client, self.today, self.q)
        applies = {r.item_id for r in ev.reasons if r.kind in ("relative", "acknowledged")}
        applies |= {r.item_id for r in zone_rules(self.current(), self.today, self.q)}
        for item_id, box in self.overrides.items():
            box.setEnabled(item_id in applies)
            if isinstance(box, _ZoneOverrideBox):
                box._label()  # noqa: SLF001 - "n of m zones" follows the zones named
        draft = self.current()
        ev = evaluate(draft, self._client, self.today, self.q)
        self._evaluation = ev
        held = self._stored
        if held is not None:
            # in conflict: the banner shows what is stored now (what governs output),
            # not the unsaved answers below it
            shown = evaluate(held.screening, held, self.today, self.q)
            colour, headline = BANNER[shown.status]
            headline = f"Stored now: {headline}"
            reasons = [
                r.text + (" — override acknowledged" if r.kind == "acknowledged" else "")
                for r in shown.reasons
            ]
            reasons += self._zone_lines(held.screening) if held.screening else []
        else:
            colour, headline = BANNER[ev.status]
            reasons = [
                r.text + (" — override acknowledged" if r.kind == "acknowledged" else "")
                for r in ev.reasons
            ]
            # a date that is not a date is said, not guessed at (the answer counts as
            # missing)
            reasons += [p for a in self.answers.values() if (p := a.problem())]
            reasons += self._zone_lines(draft)
        withdrawn = self._withdrawal() if held is None else None
        if withdrawn is not None:
            # the screening may be cleared, but no output without consent: said first
            reasons.insert(
                0,
                f"Withdrawn on {local_datetime(withdrawn.given_at)}: the client signs the "
                "consent below again to be treated.",
            )
            if ev.status is Status.CLEARED:
                colour, headline = style.ALARM, "Consent withdrawn: no output until signed again"
        self.banner.set_content(headline, reasons)
        self.banner.setStyleSheet(
            f"background: {colour}; color: {palette.WHITE}; padding: 8px 12px; border-radius: 4px"
        )
        unanswered = [r for r in ev.reasons if r.kind == "missing"]
        complete = not unanswered or all(r.item_id == "under_18" for r in unanswered)
        signing = self.consent.isChecked() and not self._consent_current()
        sig = self.pending_signature() if signing else None
        unsigned = signing and (sig is None or sig.problem() is not None)
        self.save_button.setEnabled(complete and not unsigned and held is None)
        self.withdraw_button.setEnabled(held is None)
        if held is not None:
            hint = "Not saved: the screening changed elsewhere (see above)."
        elif not complete:
            hint = "Answer every question to save."
        elif unsigned:
            hint = "The client signs in the box, or types their full name, to record the consent."
        else:
            hint = (
                "Saving records the answers, the overrides and today's date "
                f"(valid {self.q.validity_months} months)"
                + (", and the signed consent with its text." if signing else ".")
            )
        self.hint.setText(hint)
        self.evaluation_changed.emit(ev)

    def _with_all_overrides(self) -> ScreeningAnswers:
        """The answers with every override box counted as unticked (what applies)."""
        draft = self.current()
        return ScreeningAnswers(draft.answers, draft.screened_on, draft.expires_on, ())

    def _zone_lines(self, draft: Any) -> list[str]:
        """The zone answers' effect, one line per item, for the banner."""
        from app.engine.limits import zone_name

        # item -> effect -> zones (one item may have zones treated anyway and others not)
        by_item: dict[str, dict[str, list[str]]] = {}
        for r in zone_rules(draft, self.today, self.q):
            effect = (
                "override acknowledged"
                if r.overridden
                else "excluded"
                if r.max_ua is None
                else f"≤ {r.max_ua:g} µA"
            )
            by_item.setdefault(r.item_id, {}).setdefault(effect, []).append(zone_name(r.zone))
        return [
            f"{self.q.item(i).reason.capitalize()}: "
            + "; ".join(f"{', '.join(z)} — {effect}" for effect, z in effects.items())
            for i, effects in by_item.items()
        ]

    def save(self) -> None:
        """Store the screening (and the consent signed here) as made from the screening
        and consent this form showed; refused when either changed since."""
        if self.client_id is None or self._client is None:
            return
        if self._stored is not None:  # the button is disabled; a key or a test may call
            self.conflict.show()
            return
        draft = self.current()
        writer = self.store.writer
        sig = self.pending_signature()
        consent = None
        if self.consent.isChecked() and not self._consent_current() and sig is not None:
            # the exact text shown and signed is stored with the signature, in the
            # screening's transaction (both or neither)
            consent = writer.consent_request(
                self.client_id,
                self.q.consent_text_version,
                operator_id=self.store.operator_id,
                based_on=self.based_on[1],
                text_snapshot=self.q.consent_text,
                signature=sig,
            )
        fut = writer.add_screening(
            self.client_id,
            dict(draft.answers),
            draft.screened_on,
            draft.expires_on,
            tuple(draft.overrides_acknowledged),
            operator_id=self.store.operator_id,
            questionnaire_version=self.q.version,
            based_on=self.based_on[0],
            consent=consent,
        )
        self._busy = True
        self.save_button.setEnabled(False)
        self.store.when_done(fut, self._saved, "saving the screening", on_error=self._save_failed)

    def _saved(self, screening_id: int) -> None:
        self.save_button.setEnabled(True)
        if self.client_id is not None:
            self.set_client(self.client_id, self.today)
        self.saved.emit(screening_id)

    def _save_failed(self, exc: BaseException) -> None:
        """Refused or failed: what was typed stays; a stale form says why and offers to
        reload (the stored record is read to show it)."""
        self._busy = False
        if not isinstance(exc, StaleScreeningError) or self.client_id is None:
            self._update()
            return

        def show(record: services.ClientRecord | None) -> None:
            if record is not None and record.id == self.client_id and not self._busy:
                self._show_conflict(record, refused=True)

        # the store's words until the stored record is read (it follows at once)
        self.conflict_text = str(exc)
        self.conflict.setText(self.conflict_text)
        self.conflict.show()
        self.reload_button.show()
        self.store.read(
            services.get_client,
            self.client_id,
            on_result=show,
            what="reading the client's screening",
            key="screening_form_check",
        )
