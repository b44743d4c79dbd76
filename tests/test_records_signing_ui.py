"""Signing on screen: the signature pad records strokes drawn with the mouse and they
come back from the store as drawn; keyboard users sign with a typed name; a finished
session is signed from its detail view, then shows the signature and takes amendments
(the record as signed stays on screen). Screenshots with RECORDS_SCREENSHOTS=folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from test_store_ui import populate

from app.store import audit, services
from app.store.database import open_store
from app.store.signature import DRAWN, TYPED
from app.store.writer import StoreWriter


@pytest.fixture
def records(qtbot, new_sqlite_url):
    from PySide6.QtWidgets import QWidget

    from app.ui.records.bridge import RecordsStore

    engine, info = open_store(new_sqlite_url)
    ids = populate(engine, info)
    writer = StoreWriter(engine)
    # owned by a widget qtbot deletes: its polling timer ends with the test
    holder = QWidget()
    qtbot.addWidget(holder)
    store = RecordsStore(engine, writer, info.default_operator_id, parent=holder)
    qtbot.waitUntil(lambda: store.operator_name == "Practitioner", timeout=5000)
    yield store, ids
    store._poll.stop()
    writer.close()
    engine.dispose()


def _shot(widget, name: str) -> None:
    folder = os.environ.get("RECORDS_SCREENSHOTS")
    if folder:
        widget.grab().save(str(Path(folder) / name))


def _draw(qtbot, pad, points: list[tuple[int, int]]) -> None:
    QTest.mousePress(pad, Qt.MouseButton.LeftButton, pos=QPoint(*points[0]))
    for p in points[1:]:
        QTest.mouseMove(pad, QPoint(*p))
    QTest.mouseRelease(pad, Qt.MouseButton.LeftButton, pos=QPoint(*points[-1]))


def _answer_all_no(form) -> None:
    for item_id, ans in form.answers.items():
        form.set_answer(item_id, False if ans.item.type == "yes_no" else None)


def test_a_consent_drawn_on_the_pad_is_stored_with_its_text_and_shown_back(qtbot, records):
    from app.ui.records.screening_form import ScreeningForm

    store, ids = records
    form = ScreeningForm(store)
    qtbot.addWidget(form)
    form.resize(740, 760)
    form.show()
    qtbot.waitExposed(form)
    with qtbot.waitSignal(form.loaded, timeout=5000):
        form.set_client(ids["lena"])
    assert form.sign_area.isVisible()
    assert form.consent_status.text() == "Not signed yet."
    _answer_all_no(form)
    form.consent.setChecked(True)
    # agreed but not signed: nothing is saved until the client signs
    assert not form.save_button.isEnabled()
    assert "signs in the box" in form.hint.text()
    wave = [(30 + 6 * i, 60 + (i % 5) * 8) for i in range(40)]
    _draw(qtbot, form.pad, wave)
    _draw(qtbot, form.pad, [(60, 95), (200, 90), (380, 92)])
    assert not form.pad.is_empty()
    assert form.save_button.isEnabled()
    form.scroll_area.ensureWidgetVisible(form.typed_name)
    _shot(form, "consent-signature-pad.png")
    drawn = form.pending_signature()
    with qtbot.waitSignal(form.saved, timeout=5000):
        form.save_button.click()
    consent = services.get_client(store.engine, ids["lena"]).consent
    assert consent.text == store.questionnaire.consent_text  # the exact text signed
    assert consent.signature == drawn  # the strokes, round-tripped
    assert consent.signature.kind == DRAWN
    assert len(consent.signature.strokes) == 2
    assert consent.signature.name == "Lena Fischer"
    # the form shows the signed consent, read back: no pad any more
    qtbot.waitUntil(lambda: not form.sign_area.isVisible(), timeout=5000)
    form.scroll_area.ensureWidgetVisible(form.consent_signature)
    assert "Signed on" in form.consent_status.text()
    assert "drawn signature" in form.consent_status.text()
    assert form.consent_signature.isVisible()
    assert not form.consent_signature.pixmap().isNull()
    _shot(form, "consent-signed.png")
    assert store.writer.flush(5)
    assert [e.details["kind"] for e in audit.entries(store.engine, action="sign_consent")] == [
        DRAWN
    ]


def test_a_keyboard_user_signs_the_consent_with_a_typed_name(qtbot, records):
    from app.ui.records.screening_form import ScreeningForm

    store, ids = records
    form = ScreeningForm(store)
    qtbot.addWidget(form)
    with qtbot.waitSignal(form.loaded, timeout=5000):
        form.set_client(ids["lena"])
    _answer_all_no(form)
    form.consent.setChecked(True)
    assert not form.save_button.isEnabled()
    form.typed_name.setFocus()
    QTest.keyClicks(form.typed_name, "Lena Fischer")
    assert form.save_button.isEnabled()
    with qtbot.waitSignal(form.saved, timeout=5000):
        form.save_button.click()
    sig = services.get_client(store.engine, ids["lena"]).consent.signature
    assert (sig.kind, sig.name, sig.strokes) == (TYPED, "Lena Fischer", ())
    qtbot.waitUntil(lambda: "typed signature" in form.consent_status.text(), timeout=5000)


def test_a_session_is_signed_from_its_detail_then_amended_with_the_original_kept(
    qtbot, records, tmp_path
):
    from app.ui.records.panel import RecordsPanel

    store, ids = records
    panel = RecordsPanel(store)
    qtbot.addWidget(panel)
    panel.resize(1280, 800)
    panel.show()
    qtbot.waitExposed(panel)
    qtbot.waitUntil(lambda: panel.clients.table.rowCount() == 5, timeout=5000)
    with qtbot.waitSignal(panel.history.loaded, timeout=5000):
        panel.clients.select_client(ids["anna"])
    d = panel.detail
    with qtbot.waitSignal(d.shown, timeout=5000):
        panel.history.table.selectRow(0)
    sid = d.detail.summary.id
    assert d.sign_button.isEnabled()
    assert not d.amend_button.isVisible()
    assert d.signature_line.text().startswith("Not signed")
    dialog = d.ask_sign()
    assert dialog.name.text() == "Practitioner"  # the console's operator, editable
    dialog.name.setText("Dr Maria Ek")
    dialog.notes.setPlainText("Left cheek slightly red.\nAdvised a cool compress.")
    _shot(dialog, "session-sign-dialog.png")
    with qtbot.waitSignal(d.reloaded, timeout=5000):
        dialog.ok.click()
    assert d.detail.locked
    assert d.signature_line.text().startswith("Signed by Dr Maria Ek, ")
    assert "meaning: performed" in d.signature_line.text()
    assert "Left cheek slightly red." in d.notes_label.text()
    assert not d.sign_button.isVisible()
    assert d.amend_button.isEnabled()
    # the store refuses to change it: a late step of this session is refused, in words
    with pytest.raises(ValueError, match=f"Session {sid} was signed on .* and is locked"):
        store.writer.add_step(d.detail.summary.uid, 9, "forehead", {}, 1.0, 1.0).result(5)
    # amend: the dialog asks for the reason; the original stays
    am = d.ask_amend()
    am.field.setCurrentIndex(am.field.findData("notes"))
    am.text.setPlainText("Right cheek, not left.")
    am.ok.click()
    assert am.error.text() == "Give the reason for the correction."
    am.reason.setText("Wrong side noted at signing.")
    assert am.name.text() == "Practitioner"
    am.name.setText("Dr Maria Ek")
    _shot(am, "session-amend-dialog.png")
    with qtbot.waitSignal(d.reloaded, timeout=5000):
        am.ok.click()
    assert d.amendments_box.isVisible()
    assert d.amendments.rowCount() == 1
    row = [d.amendments.item(0, c).text() for c in range(5)]
    assert row[1:] == [
        "Dr Maria Ek",
        "Session notes",
        "Right cheek, not left.",
        "Wrong side noted at signing.",
    ]
    assert "Left cheek slightly red." in d.notes_label.text()  # the original, as signed
    panel.show_view(d)
    _shot(panel, "records-session-signed.png")
    assert store.writer.flush(5)
    acts = [e.action for e in audit.entries(store.engine, subject=audit.session_subject(sid))]
    assert acts == ["view_session", "sign_session", "amend_session"]
    assert audit.verify(store.engine).ok
    # the report of the signed session: the signature line and the amendment
    pdf = tmp_path / "signed.pdf"
    d.save_pdf(pdf)
    assert pdf.read_bytes()[:5] == b"%PDF-"


def test_the_pad_takes_a_finger_too(qtbot):
    from PySide6.QtCore import QPoint

    from app.ui.records.signature_pad import SignaturePad, render_signature

    pad = SignaturePad()
    qtbot.addWidget(pad)
    pad.show()
    qtbot.waitExposed(pad)
    finger = QTest.createTouchDevice()
    QTest.touchEvent(pad, finger).press(0, QPoint(20, 30)).commit()
    for x in range(30, 200, 10):
        QTest.touchEvent(pad, finger).move(0, QPoint(x, 30 + x // 4)).commit()
    with qtbot.waitSignal(pad.changed, timeout=2000):
        QTest.touchEvent(pad, finger).release(0, QPoint(200, 80)).commit()
    sig = pad.signature("Finger Signer")
    assert sig.problem() is None
    assert len(sig.strokes) == 1
    x0, y0 = sig.strokes[0][:2]
    assert abs(x0 - 20) <= 3  # (the touch point's centre, as the platform maps it)
    assert abs(y0 - 30) <= 3
    assert len(sig.strokes[0]) // 2 >= 15
    img = render_signature(sig, 230, 65)
    assert any(img.pixelColor(x, y).red() < 100 for x in range(230) for y in range(65))
    pad.clear()
    assert pad.is_empty()
