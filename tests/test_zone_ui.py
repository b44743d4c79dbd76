"""Zone screening on screen: the face map hatches excluded zones and outlines client
ceilings (with text, never colour alone), the zone picker works by keys alone, the
screening form saves zone answers and their overrides without moving or scrolling
sideways, the desk shows the comfort level, and a skipped step's reason reaches the
session's steps."""

from __future__ import annotations

import datetime as dt
import html

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QScrollArea

from app.engine import zone_ids
from app.store import services
from app.store.database import open_store
from app.store.screening import Status
from app.store.validation import ClientData
from app.store.vocabulary import ZoneRule
from app.store.writer import StoreWriter
from app.ui.face_map import FaceMapWidget
from app.ui.records.zone_picker import REGIONS, ZonePicker, ZonePickerDialog, region_zones

LESION = ZoneRule("mentalis_r", "lesion_sites", "skin lesion or broken skin", None)
IMPLANT = ZoneRule("masseter_l", "metal_implant_sites", "metal implant", 100.0)


# --------------------------------------------------------------------------- face map


@pytest.fixture
def face(qtbot):
    w = FaceMapWidget()
    qtbot.addWidget(w)
    w.resize(900, 700)
    w.show()
    qtbot.waitExposed(w)
    return w


def _pixels(w: FaceMapWidget, zid: str) -> list:
    """The colours of a small patch around the zone's inner point."""
    image = w.grab().toImage()
    c = w.map_from_drawing(w.drawing.shapes[zid].centre)
    return [
        image.pixelColor(round(c.x()) + dx, round(c.y()) + dy).name()
        for dx in range(-3, 4)
        for dy in range(-3, 4)
    ]


def test_an_excluded_zone_is_hatched_and_said_and_a_ceiling_is_outlined(face):
    plain = _pixels(face, "mentalis_r")
    face.set_zone_rules([LESION, IMPLANT])
    assert face.excluded("mentalis_r")
    assert not face.excluded("masseter_l")
    hatched = _pixels(face, "mentalis_r")
    assert hatched != plain  # a pattern drawn over the zone
    assert len(set(hatched)) > 2  # lines and gaps: a pattern, not a flat colour
    # words, not colour alone: tooltip, card and the session table
    assert face.zone_rule_text("mentalis_r") == (
        "Excluded for this client: skin lesion or broken skin (skipped by guided runs)"
    )
    assert face.zone_rule_text("masseter_l") == "Client ceiling 100 µA: metal implant"
    face._set_hover("mentalis_r")
    assert "Excluded for this client" in face.toolTip()
    assert "excluded for this client" in face._card_html()
    face._set_hover(None)
    assert "Excluded for this client (╳):</b> Mentalis (R)" in face._card_html()
    assert "Masseter (L) 100 µA" in face._card_html()
    face.set_zone_states({"mentalis_r": "pending", "masseter_l": "pending"})
    _title, _cols, rows = face._summary()
    states = {(r[0][0], r[1][0]): r[2][0] for r in rows}
    assert states[("Mentalis", "R")] == "excluded"
    assert states[("Masseter", "L")] == "pending"
    # an overridden exclusion is not "excluded"; no client: nothing drawn
    face.set_zone_rules([ZoneRule("mentalis_r", "lesion_sites", "lesion", None, True)])
    assert not face.excluded("mentalis_r")
    assert "override acknowledged" in face.zone_rule_text("mentalis_r")
    noted = _pixels(face, "mentalis_r")

    # treated anyway: marked, but quieter than an exclusion (less ink over the zone)
    def ink(patch: list) -> int:
        return sum(
            abs(int(a[i : i + 2], 16) - int(b[i : i + 2], 16))
            for a, b in zip(patch, plain, strict=True)
            for i in (1, 3, 5)
        )

    assert 0 < ink(noted) < ink(hatched)
    face.set_zone_states({})
    face.set_zone_rules([])
    assert _pixels(face, "mentalis_r") == plain


# --------------------------------------------------------------------------- zone picker


def test_every_zone_is_in_exactly_one_region():
    muscles = [m for _r, ms in REGIONS for m in ms]
    assert sorted(muscles) == sorted(zone_ids.MUSCLES)
    zones = [z for _r, ids in region_zones() for z in ids]
    assert sorted(zones) == sorted(zone_ids.ZONE_IDS)


def test_the_zone_list_works_by_keys_alone(qtbot):
    dlg = ZonePickerDialog("Where is there a skin lesion?", ["mentalis_l"])
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)
    tree = dlg.tree
    tree.setFocus()
    assert tree.currentItem().text(0) == "Forehead and brows"
    QTest.keyClick(tree, Qt.Key.Key_Down)  # the first zone: frontalis, client's right
    QTest.keyClick(tree, Qt.Key.Key_Space)
    assert dlg.zones() == ["frontalis_r", "mentalis_l"]
    QTest.keyClick(tree, Qt.Key.Key_Space)  # Space again: unticked
    assert dlg.zones() == ["mentalis_l"]
    QTest.keyClick(tree, Qt.Key.Key_Up)
    QTest.keyClick(tree, Qt.Key.Key_Space)  # a region's box ticks the whole region
    assert dlg.zones()[:5] == [
        "frontalis_r",
        "frontalis_l",
        "corrugator_supercilii_r",
        "corrugator_supercilii_l",
        "procerus",
    ]
    with qtbot.waitSignal(dlg.accepted, timeout=2000):
        QTest.keyClick(tree, Qt.Key.Key_Return)
    assert dlg.size().width() <= 1280
    assert dlg.size().height() <= 760


def test_the_picker_line_is_one_line_with_the_whole_list_in_its_tooltip(qtbot):
    picker = ZonePicker("Where?")
    qtbot.addWidget(picker)
    picker.resize(260, 40)
    picker.show()
    height = picker.sizeHint().height()
    got = []
    picker.zones_changed.connect(got.append)
    picker.set_zones(["mentalis_l", "frontalis_r", "platysma_l", "platysma_r", "unknown"])
    assert picker.zones() == ["frontalis_r", "mentalis_l", "platysma_r", "platysma_l"]
    assert got == [picker.zones()]
    assert picker.summary.toolTip() == "Frontalis (R), Mentalis (L), Platysma (R, L)"
    assert picker.sizeHint().height() == height  # never taller: nothing below moves
    picker.set_zones([])
    assert picker.text() == "None"


# --------------------------------------------------------------------------- the form


@pytest.fixture
def records(qtbot, new_sqlite_url):
    from app.ui.records.bridge import RecordsStore

    engine, info = open_store(new_sqlite_url)
    writer = StoreWriter(engine)
    cid = writer.save_client(ClientData("Ann Example", dt.date(1980, 5, 1))).result(10)
    store = RecordsStore(engine, writer, info.default_operator_id)
    yield store, cid
    writer.close()
    engine.dispose()


def _positions(form) -> list[int]:
    scroll = form.findChild(QScrollArea)
    content = scroll.widget()
    return [
        w.mapTo(content, w.rect().topLeft()).y() for w in (*form.overrides.values(), form.consent)
    ] + [form.banner.height()]


def test_the_form_saves_zone_answers_and_their_override_without_moving(qtbot, records):
    from app.ui.records.screening_form import ScreeningForm

    store, cid = records
    form = ScreeningForm(store)
    qtbot.addWidget(form)
    form.resize(380, 900)  # as narrow as the desk gives it at 1280 pixels
    form.show()
    with qtbot.waitSignal(form.loaded, timeout=5000):
        form.set_client(cid)
    for item_id, ans in form.answers.items():
        form.set_answer(item_id, False if ans.item.type == "yes_no" else None)
    form.consent.setChecked(True)
    form.typed_name.setText("Zone Client")  # the consent is signed (typed) to be saved
    qtbot.wait(10)
    before = _positions(form)
    scroll = form.findChild(QScrollArea)
    assert scroll.horizontalScrollBar().maximum() == 0
    assert not form.overrides["lesion_sites"].isEnabled()  # no zones: nothing to override
    form.answers["lesion_sites"].picker.set_zones(["mentalis_r"])
    form.set_answer("metal_implant_sites", ["masseter_l"])
    form.set_answer("bruxism", True)
    form.set_answer("diabetes", True)
    assert form.overrides["lesion_sites"].isEnabled()
    assert "Skin lesion or broken skin: Mentalis (client's right) — excluded" in (
        form.banner.text()
    )
    form.acknowledge("diabetes")
    form.acknowledge("lesion_sites")
    assert "override acknowledged" in form.banner.text()
    assert form.evaluation().status is Status.CLEARED
    qtbot.wait(10)
    assert _positions(form) == before  # nothing jumped
    assert scroll.horizontalScrollBar().maximum() == 0
    rules = form.zone_rules()
    assert [(r.zone, r.overridden, r.max_ua) for r in rules] == [
        ("mentalis_r", True, None),
        ("masseter_l", False, 100.0),
        ("masseter_l", False, 150.0),
        ("masseter_r", False, 150.0),
    ]
    with qtbot.waitSignal(form.saved, timeout=5000):
        form.save_button.click()
    record = services.get_client(store.engine, cid)
    assert record.screening.answers["lesion_sites"] == ["mentalis_r"]
    assert set(record.screening.overrides_acknowledged) == {"diabetes", "lesion_sites"}
    gate = services.treatment_gate(store.engine, cid)
    assert gate.allowed
    assert gate.zone_rules == tuple(rules)
    # read back into a fresh form: the zones and the override are there
    again = ScreeningForm(store)
    qtbot.addWidget(again)
    with qtbot.waitSignal(again.loaded, timeout=5000):
        again.set_client(cid)
    assert again.answers["lesion_sites"].picker.zones() == ["mentalis_r"]
    assert again.overrides["lesion_sites"].isChecked()


def test_an_override_ticked_where_it_does_not_apply_is_not_saved(qtbot, records):
    from app.ui.records.screening_form import ScreeningForm

    store, cid = records
    form = ScreeningForm(store)
    qtbot.addWidget(form)
    with qtbot.waitSignal(form.loaded, timeout=5000):
        form.set_client(cid)
    for item_id, ans in form.answers.items():
        form.set_answer(item_id, False if ans.item.type == "yes_no" else None)
    form.answers["lesion_sites"].picker.set_zones(["mentalis_r"])
    form.acknowledge("lesion_sites")
    form.answers["lesion_sites"].picker.set_zones([])  # the zones taken back
    assert "lesion_sites" not in form.current().overrides_acknowledged


# --------------------------------------------------------------------------- the desk


def test_the_desk_shows_the_comfort_level_and_why_a_step_is_skipped(qtbot):
    from test_engine_support import make_program, step

    from app.device.fake import FakeDevice
    from app.device.protocol import DeviceState
    from app.engine.authority import OutputAuthority
    from app.engine.controller import SessionController
    from app.store.vocabulary import ClientFacts
    from app.ui.guided_run import GuidedRunPanel

    device = FakeDevice(connected=True)
    authority = OutputAuthority()
    authority.set_link(device)
    ctl = SessionController(authority, tick_ms=20)
    panel = GuidedRunPanel(ctl)
    qtbot.addWidget(panel)
    chin = step("Chin", ("mentalis",), side="right", amplitude=200.0, duration=30.0)
    jaw = step("Jaw", ("masseter",), side="left", amplitude=200.0, duration=30.0)
    ctl.load_program(make_program([jaw, chin]))
    authority.watch_client(7)
    facts = ClientFacts(
        7,
        "Ann",
        True,
        "cleared",
        (),
        None,
        False,
        authority.now(),
        zone_rules=(LESION, IMPLANT),
        comfort_ua=(("masseter_l", 180.0),),
    )
    authority.set_client_facts(facts)
    device.emit_status(DeviceState.IDLE, contact=True)
    # the jaw: 180 µA last time, the implant's 100 µA ceiling binds now
    assert panel.comfort.text() == (
        "comfort level from last session: 180 µA (starts at 100 µA: client zone: "
        "metal implant (Masseter (client's left)))"
    )
    assert panel.target.text() == "100 µA"
    ctl.skip_step()
    assert panel.comfort.text() == (
        "Mentalis (client's right) excluded for this client (skin lesion or broken skin): skipped"
    )
    ctl.shutdown()


def test_a_skipped_step_is_stored_as_skipped_with_its_reason(tmp_path):
    from app.engine.recorder import SessionRecorder
    from app.engine.session import SessionRecord, SessionState
    from app.ui.records.report import skip_reason

    engine, _info = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    writer = StoreWriter(engine)
    try:
        cid = writer.save_client(ClientData("Ann Example", dt.date(1980, 5, 1))).result(10)
        rec = SessionRecorder(writer, cid)
        message = (
            "step 1/2: Chin skipped: Mentalis (client's right) is excluded for this client "
            "(skin lesion or broken skin)"
        )
        rec.on_record(
            SessionRecord(
                dt.datetime.now(dt.UTC),
                "zone_skipped",
                "ready",
                message,
                {"index": 0, "name": "Chin", "zones": ["mentalis_r"], "planned_s": 30.0},
            )
        )
        rec.on_state(SessionState.RAMPING_UP)  # the session opens: the skip is written
        rec.close(services.Outcome.STOPPED)
        assert writer.flush(10)
        sid = services.session_history(engine, cid)[0].id
        detail = services.session_detail(engine, sid)
        (st,) = detail.steps
        assert (st.zone, st.actual_s, st.planned_s) == ("mentalis_r", 0.0, 30.0)
        assert skip_reason(st.parameters) == html.escape(  # for the report's HTML
            ": Mentalis (client's right) is excluded for this client (skin lesion or broken skin)"
        )
        assert any(e.kind == "zone_skipped" for e in detail.events)
    finally:
        writer.close()
        engine.dispose()


def test_at_1280x800_the_screening_form_needs_no_sideways_scrolling(qtbot, tmp_path):
    """The desk fitted to a 1280 x 800 screen with a title bar, the console's style sheet
    applied: the records tab with the screening form (zones answered) scrolls neither the
    window nor the form sideways."""
    from PySide6.QtCore import QMargins, QRect, QSettings
    from PySide6.QtWidgets import QApplication

    from app.store.runtime import start_store
    from app.ui.device_manager import DeviceManager
    from app.ui.main_window import MainWindow
    from app.ui.style import STYLE_SHEET

    app = QApplication.instance()
    app.setStyleSheet(STYLE_SHEET)
    store = start_store(f"sqlite:///{tmp_path / 'r.db'}")
    cid = store.writer.save_client(ClientData("Ann Example", dt.date(1980, 5, 1))).result(10)
    w = MainWindow(
        DeviceManager(), QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), store
    )
    qtbot.addWidget(w)
    try:
        w.fit_to_screen(QRect(0, 0, 1280, 800), QMargins(2, 25, 2, 2))
        w.show()
        desk = w.workspaces["practitioner"]
        qtbot.waitUntil(lambda: desk.records is not None, timeout=8000)
        desk.tabs.setCurrentIndex(1)
        form = desk.records.screening
        with qtbot.waitSignal(form.loaded, timeout=5000):
            desk.records.open_client(cid)
        desk.records.tabs.setCurrentWidget(form)
        form.answers["filler_toxin_sites"].picker.set_zones(
            ["levator_labii_superioris_alaeque_nasi_l", "zygomaticus_major_l"]
        )
        form.set_answer("bruxism", True)
        qtbot.wait(50)
        assert w.stack_scroll.horizontalScrollBar().maximum() == 0
        assert form.findChild(QScrollArea).horizontalScrollBar().maximum() == 0
    finally:
        app.setStyleSheet("")
        w.close()
        for ws in w.workspaces.built():
            ws.shutdown()
        store.close(10)


def test_one_injection_site_treated_anyway_by_keys_the_other_stays_excluded(
    qtbot, records, tmp_path
):
    """Two lesion sites; Space on "Treat anyway" asks which (both ticked to start), the
    practitioner unticks one by keys: that one stays excluded, the box says "1 of 2", the
    screening stores that zone's override alone and reads it back."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.ui.records.screening_form import ScreeningForm

    store, cid = records
    form = ScreeningForm(store)
    qtbot.addWidget(form)
    form.resize(380, 900)
    form.show()
    with qtbot.waitSignal(form.loaded, timeout=5000):
        form.set_client(cid)
    for item_id, ans in form.answers.items():
        form.set_answer(item_id, False if ans.item.type == "yes_no" else None)
    form.answers["lesion_sites"].picker.set_zones(["mentalis_r", "frontalis_l"])
    box = form.overrides["lesion_sites"]
    assert box.isEnabled()
    seen = {}

    def choose() -> None:  # the dialog, by keys: the first zone (frontalis) unticked
        dlg = QApplication.activeModalWidget()
        seen["title"] = dlg.windowTitle()
        seen["listed"] = sorted(dlg.items)
        seen["before"] = dlg.zones()
        dlg.tree.setFocus()
        QTest.keyClick(dlg.tree, Qt.Key.Key_Down)
        QTest.keyClick(dlg.tree, Qt.Key.Key_Space)
        assert dlg.grab().save(str(tmp_path / "treat-anyway.png"))
        QTest.keyClick(dlg.tree, Qt.Key.Key_Return)

    box.setFocus()
    QTimer.singleShot(0, choose)
    QTest.keyClick(box, Qt.Key.Key_Space)
    assert seen == {
        "title": "Treat anyway",
        "listed": ["frontalis_l", "mentalis_r"],  # only the zones this answer names
        "before": ["frontalis_l", "mentalis_r"],
    }
    assert box.checkState() == Qt.CheckState.PartiallyChecked
    assert box.text() == "Treat anyway"  # same width: the form never reflows
    assert box.accessibleDescription() == (
        "Treated anyway: 1 of 2 zones (Mentalis (client's right)); the others stay excluded."
    )
    assert form.current().overrides_acknowledged == ("lesion_sites@mentalis_r",)
    assert [(r.zone, r.overridden) for r in form.zone_rules()] == [
        ("frontalis_l", False),
        ("mentalis_r", True),
    ]
    assert (
        "Skin lesion or broken skin: Frontalis (client's left) — excluded; "
        "Mentalis (client's right) — override acknowledged"
    ) in form.banner.text()
    form.consent.setChecked(True)
    form.typed_name.setText("Ann Example")
    with qtbot.waitSignal(form.saved, timeout=5000):
        form.save_button.click()
    gate = services.treatment_gate(store.engine, cid)
    assert [(r.zone, r.excluded) for r in gate.zone_rules] == [
        ("frontalis_l", True),
        ("mentalis_r", False),
    ]
    again = ScreeningForm(store)
    qtbot.addWidget(again)
    with qtbot.waitSignal(again.loaded, timeout=5000):
        again.set_client(cid)
    back = again.overrides["lesion_sites"]
    assert back.checkState() == Qt.CheckState.PartiallyChecked
    assert back.toolTip().startswith("Treated anyway: 1 of 2 zones")
    assert again.current().overrides_acknowledged == ("lesion_sites@mentalis_r",)
    QTest.keyClick(back, Qt.Key.Key_Space)  # Space on a (partly) ticked box unticks it
    assert again.current().overrides_acknowledged == ()
    assert back.toolTip().startswith("Not treated: every zone named here stays excluded.")
