"""The screening form is a view of the client's record: a screening saved in another room
(its own engine and writer on the same database) shows in a form left open; an edited
form says so, keeps what was typed and refuses to save; a stale save the form had not
yet noticed is refused by the store and kept on screen."""

from __future__ import annotations

import datetime as dt
import os
import socket
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store import services
from app.store.database import make_engine
from app.store.models import Operator, Screening
from app.store.screening import Status, add_months, load_questionnaire
from app.store.writer import StoreWriter, count_rows

Q = load_questionnaire()


def _shot(widget, name: str) -> None:
    folder = os.environ.get("RECORDS_SCREENSHOTS")
    if folder:
        widget.grab().save(str(Path(folder) / name))


class OtherRoom:
    """Room C: its own engine and writer on the database room A's form reads."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.writer = StoreWriter(self.engine)
        with Session(self.engine) as s, s.begin():
            row = Operator(name="Cleo Room-C", role="practitioner")
            s.add(row)
            s.flush()
            self.operator_id = row.id

    def screen(self, cid: int, **answers) -> int:
        """A screening made there from the client's newest one (a fresh form)."""
        record = services.get_client(self.engine, cid)
        base = {i.id: (False if i.type == "yes_no" else None) for i in Q.items if i.asked}
        today = dt.date.today()
        return self.writer.add_screening(
            cid,
            base | answers,
            today,
            add_months(today, 6),
            operator_id=self.operator_id,
            based_on=record.screening.id if record.screening else None,
        ).result(10)

    def close(self) -> None:
        self.writer.close()
        self.engine.dispose()


@pytest.fixture
def rooms(qtbot, new_sqlite_url):
    from PySide6.QtWidgets import QWidget
    from test_store_ui import populate

    from app.store.database import open_store
    from app.ui.records.bridge import RecordsStore

    engine, info = open_store(new_sqlite_url)
    ids = populate(engine, info)
    writer = StoreWriter(engine)
    holder = QWidget()  # owns the store: its polling timer ends with the test
    qtbot.addWidget(holder)
    store = RecordsStore(engine, writer, info.default_operator_id, parent=holder)
    # another room's changes are looked for every 3 s (bridge.POLL_MS): here every
    # 0.25 s, the same look
    store._poll.setInterval(250)  # noqa: SLF001
    other = OtherRoom(new_sqlite_url)
    yield store, ids, other
    store._poll.stop()  # noqa: SLF001
    other.close()
    writer.close()
    engine.dispose()


def _open_form(qtbot, store, cid: int):
    from app.ui.records.screening_form import ScreeningForm

    form = ScreeningForm(store)
    qtbot.addWidget(form)
    form.resize(560, 760)
    form.show()
    qtbot.waitExposed(form)
    with qtbot.waitSignal(form.loaded, timeout=5000):
        form.set_client(cid)
    return form


def _list_status(panel, name: str) -> str:
    table = panel.clients.table
    row = next(r for r in range(table.rowCount()) if table.item(r, 0).text() == name)
    return table.item(row, 2).text()


def _gate(store, cid: int) -> services.TreatmentGate:
    return services.treatment_gate(store.engine, cid)


def test_an_untouched_form_shows_a_contraindication_saved_in_another_room(qtbot, rooms):
    store, ids, other = rooms
    form = _open_form(qtbot, store, ids["anna"])
    assert form.evaluation().status is Status.CLEARED
    assert form.banner.text().startswith("Cleared for treatment")
    other.screen(ids["anna"], pregnancy=True)
    qtbot.waitUntil(lambda: form.evaluation().status is Status.BLOCKED, timeout=8000)
    assert form.answers["pregnancy"].yes.isChecked()
    assert form.banner.text().startswith("Output blocked")
    assert not form.in_conflict()
    assert form.based_on[0] == services.get_client(store.engine, ids["anna"]).screening.id


def test_an_edited_stale_form_says_so_keeps_the_answers_and_cannot_clear_the_client(qtbot, rooms):
    from app.ui.records.panel import RecordsPanel

    store, ids, other = rooms
    cid = ids["anna"]
    panel = RecordsPanel(store)  # room A's records, as on the desk
    qtbot.addWidget(panel)
    panel.resize(1280, 760)
    panel.show()
    qtbot.waitExposed(panel)
    form = panel.screening
    with qtbot.waitSignal(form.loaded, timeout=5000):
        panel.clients.select_client(cid)
    panel.show_view(form)
    # the practitioner in room A edits the form: a metal implant, treated anyway
    form.set_answer("metal_implants", True)
    form.acknowledge("metal_implants")
    assert form.evaluation().status is Status.CLEARED
    other.screen(cid, pregnancy=True)  # room C: pregnant
    assert _gate(store, cid).status is Status.BLOCKED
    qtbot.waitUntil(form.in_conflict, timeout=8000)
    said = form.conflict.text()
    assert form.conflict.isVisible()
    assert "changed in another room" in said
    assert f"by Cleo Room-C on the console on {socket.gethostname()}" in said
    stored = services.get_client(store.engine, cid).screening
    assert stored.created_at.astimezone().strftime("%H:%M") in said  # when
    assert "not saved" in said
    # what is stored now, in the banner; what was typed, kept below it
    assert form.banner.text().startswith("Stored now: Output blocked")
    assert "pregnan" in form.banner.text().lower()
    assert form.answers["metal_implants"].yes.isChecked()
    assert form.answers["pregnancy"].no.isChecked()
    assert form.overrides["metal_implants"].isChecked()
    assert not form.save_button.isEnabled()
    assert form.reload_button.isVisible()
    assert "changed elsewhere" in form.hint.text()
    qtbot.waitUntil(lambda: "Blocked" in _list_status(panel, "Anna Berg"), timeout=5000)
    _shot(panel, "records-screening-conflict.png")
    rows = count_rows(store.engine, Screening, client_id=cid)
    form.save()  # refused: the client stays blocked
    assert form.in_conflict()
    assert count_rows(store.engine, Screening, client_id=cid) == rows
    assert _gate(store, cid).status is Status.BLOCKED
    # a proper re-screening: reload (the pregnancy shows), answer again, save
    with qtbot.waitSignal(form.loaded, timeout=5000):
        form.reload_button.click()
    assert not form.in_conflict()
    assert not form.conflict.isVisible()
    assert form.answers["pregnancy"].yes.isChecked()
    assert not form.answers["metal_implants"].yes.isChecked()  # the stored answers
    assert form.banner.text().startswith("Output blocked")
    form.set_answer("pregnancy", False)
    assert form.save_button.isEnabled()
    with qtbot.waitSignal(form.saved, timeout=5000):
        form.save_button.click()
    assert _gate(store, cid).allowed
    assert services.get_client(store.engine, cid).screening.answers["pregnancy"] is False


def test_a_stale_save_the_form_had_not_noticed_is_refused_and_kept(qtbot, rooms):
    """The store is the authority: a save made before the form heard of the other
    room's change (here: no looking for other rooms at all) is refused there."""
    from app.ui.records.panel import RecordsPanel

    store, ids, other = rooms
    store._poll.stop()  # noqa: SLF001 - the form never hears of room C
    cid = ids["anna"]
    panel = RecordsPanel(store)
    qtbot.addWidget(panel)
    panel.resize(1280, 760)
    panel.show()
    qtbot.waitExposed(panel)
    form = panel.screening
    with qtbot.waitSignal(form.loaded, timeout=5000):
        panel.open_client(cid)
    panel.show_view(form)
    other.screen(cid, pregnancy=True)
    form.set_answer("diabetes", True)
    form.acknowledge("diabetes")
    rows = count_rows(store.engine, Screening, client_id=cid)
    assert form.save_button.isEnabled()  # it does not know yet
    errors: list[str] = []
    store.error_occurred.connect(errors.append)
    form.save_button.click()
    qtbot.waitUntil(lambda: "Your save was refused" in form.conflict.text(), timeout=5000)
    # said once, by the form (not again as an error of the records above the panel)
    assert errors == []
    assert not panel.error.isVisible()
    assert "by Cleo Room-C" in form.conflict.text()
    assert count_rows(store.engine, Screening, client_id=cid) == rows
    gate = _gate(store, cid)
    assert gate.status is Status.BLOCKED
    assert not gate.allowed
    # nothing typed is lost; saving again is refused until reloaded
    assert form.answers["diabetes"].yes.isChecked()
    assert form.overrides["diabetes"].isChecked()
    assert not form.save_button.isEnabled()
    assert form.reload_button.isVisible()
    assert form.banner.text().startswith("Stored now: Output blocked")
    _shot(panel, "screening-refused-panel.png")


def test_a_consent_recorded_elsewhere_shows_without_touching_the_answers(qtbot, rooms):
    """Only the consent changed: an edited form keeps its answers (their save names the
    same screening) and shows the consent as recorded."""
    store, ids, other = rooms
    cid = ids["maria"]  # screened, no consent yet
    form = _open_form(qtbot, store, cid)
    assert form.sign_area.isVisible()
    form.set_answer("pregnancy", False)  # edited here
    other.writer.add_consent(cid, Q.consent_text_version, other.operator_id, based_on=None).result(
        10
    )
    qtbot.waitUntil(lambda: not form.sign_area.isVisible(), timeout=8000)
    assert not form.in_conflict()
    assert form.answers["pregnancy"].no.isChecked()
    with qtbot.waitSignal(form.saved, timeout=5000):
        form.save_button.click()
    assert _gate(store, cid).allowed


def test_a_consent_being_signed_here_is_not_stored_over_one_recorded_elsewhere(qtbot, rooms):
    store, ids, other = rooms
    store._poll.stop()  # noqa: SLF001 - the form never hears of room C
    cid = ids["maria"]
    form = _open_form(qtbot, store, cid)
    form.set_answer("pregnancy", False)
    form.consent.setChecked(True)
    form.typed_name.setText("Maria Lopez")
    other.writer.add_consent(cid, Q.consent_text_version, other.operator_id, based_on=None).result(
        10
    )
    consent_rows = len(
        [
            c
            for c in [services.get_client(store.engine, cid).consent]
            if c is not None and c.operator_id == other.operator_id
        ]
    )
    assert consent_rows == 1
    screenings = count_rows(store.engine, Screening, client_id=cid)
    form.save_button.click()
    qtbot.waitUntil(lambda: "Your save was refused" in form.conflict.text(), timeout=5000)
    assert "consent was recorded in another room" in form.conflict.text()
    assert count_rows(store.engine, Screening, client_id=cid) == screenings  # neither
    assert form.typed_name.text() == "Maria Lopez"  # kept
    with Session(store.engine) as s:
        from app.store.models import Consent

        assert s.scalars(select(Consent).where(Consent.client_id == cid)).all()[-1].operator_id == (
            other.operator_id
        )


def _answer_box(qtbot, form, click: str, seen: list) -> None:
    """Answer the withdrawal's confirmation once it is on screen: "withdraw" or "cancel"."""
    from PySide6.QtCore import QTimer

    def answer() -> None:
        box = form._withdraw_box  # noqa: SLF001 - the confirmation on screen
        if box is None or not box.isVisible():
            QTimer.singleShot(20, answer)
            return
        seen.append((box.text(), box.textFormat()))
        _shot(box, "consent-withdraw-confirm.png")
        if click == "withdraw":
            box.withdraw.click()
        else:
            box.reject()

    QTimer.singleShot(0, answer)


def test_the_client_withdraws_consent_and_gives_it_again(qtbot, rooms):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from app.store import audit
    from app.ui.records.panel import RecordsPanel

    store, ids, _other = rooms
    cid = ids["anna"]
    panel = RecordsPanel(store)
    qtbot.addWidget(panel)
    panel.resize(1280, 760)
    panel.show()
    qtbot.waitExposed(panel)
    form = panel.screening
    with qtbot.waitSignal(form.loaded, timeout=5000):
        panel.clients.select_client(cid)
    panel.show_view(form)
    assert _gate(store, cid).allowed
    assert form.withdraw_button.isVisible()
    assert not form.sign_area.isVisible()
    # cancelled: nothing recorded
    seen: list = []
    _answer_box(qtbot, form, "cancel", seen)
    form.withdraw_button.click()
    assert "Withdraw the consent of Anna Berg?" in seen[0][0]
    assert seen[0][1] == Qt.TextFormat.PlainText  # a name is never markup
    assert "stops at once" in seen[0][0]
    assert _gate(store, cid).allowed
    # confirmed: recorded, audited, the client no longer eligible
    _answer_box(qtbot, form, "withdraw", seen)
    with qtbot.waitSignal(form.consent_withdrawn, timeout=5000):
        form.withdraw_button.click()
    qtbot.waitUntil(lambda: "Consent withdrawn on" in form.consent_status.text(), timeout=5000)
    assert "by Practitioner" in form.consent_status.text()
    gate = _gate(store, cid)
    assert not gate.allowed
    assert any(r.startswith("Consent withdrawn on") for r in gate.reasons)
    [entry] = [e for e in audit.entries(store.engine) if e.action == "withdraw_consent"]
    assert entry.subject == f"client:{cid}"
    assert form.sign_area.isVisible()  # it may be given again
    assert not form.withdraw_button.isVisible()
    assert form.banner.text().startswith("Consent withdrawn: no output until signed again")
    bar = form.scroll_area.verticalScrollBar()
    bar.setValue(bar.maximum())  # the consent, at the foot of the form
    QApplication.processEvents()  # the scrolled area repainted before the picture
    _shot(panel, "records-consent-withdrawn.png")
    # given again: signed (typed) and saved with a screening
    form.consent.setChecked(True)
    form.typed_name.setText("Anna Berg")
    with qtbot.waitSignal(form.saved, timeout=5000):
        form.save_button.click()
    qtbot.waitUntil(lambda: form.withdraw_button.isVisible(), timeout=5000)
    assert _gate(store, cid).allowed
    assert "typed signature" in form.consent_status.text()
    assert form.banner.text().startswith("Cleared for treatment")


def test_a_withdrawal_from_a_stale_form_is_refused_and_shown(qtbot, rooms):
    store, ids, other = rooms
    store._poll.stop()  # noqa: SLF001 - the form never hears of room C
    cid = ids["anna"]
    form = _open_form(qtbot, store, cid)
    shown = services.get_client(store.engine, cid).consent.id
    # room C: withdrawn and signed again there meanwhile
    wid = other.writer.withdraw_consent(cid, based_on=shown).result(10)
    other.writer.add_consent(cid, Q.consent_text_version, other.operator_id, based_on=wid).result(
        10
    )
    seen: list = []
    _answer_box(qtbot, form, "withdraw", seen)
    form.withdraw_button.click()
    qtbot.waitUntil(lambda: "Your save was refused" in form.conflict.text(), timeout=5000)
    assert "consent was recorded in another room" in form.conflict.text()
    assert "by Cleo Room-C" in form.conflict.text()
    assert _gate(store, cid).allowed  # room C's consent stands
    assert not form.withdraw_button.isEnabled()
