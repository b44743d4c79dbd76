"""Photos and courses on screen: attaching (EXIF gone, bad files named), the camera only
where QtMultimedia exists, two sessions compared with synced zoom/pan and a grid by
keyboard, photos on the report (one page), the course view and a conflict between rooms.
Screenshots go to a temporary folder; with DOC_SCREENSHOTS=docs/images they refresh the
pictures in the documentation (looked at)."""

from __future__ import annotations

import datetime as dt
import io
import re
import threading
import warnings
from pathlib import Path

import pytest
from access import doc_images
from photo_helpers import SERIAL, jpeg_with_exif
from PIL import Image
from PySide6.QtCore import Qt
from test_store_ui import populate

from app.store import audit, courses, photos, services
from app.store.database import open_store
from app.store.writer import StoreWriter


@pytest.fixture
def records(qtbot, new_sqlite_url):
    from app.ui.records.bridge import RecordsStore

    engine, info = open_store(new_sqlite_url)
    ids = populate(engine, info)
    writer = StoreWriter(engine)
    store = RecordsStore(engine, writer, info.default_operator_id)
    yield store, ids
    writer.close()
    _quiet(store)
    engine.dispose()


def _reads_running() -> bool:
    return any(t.name == "StoreRead" and t.is_alive() for t in threading.enumerate())


def _settle(qtbot, *stores) -> None:
    """End of a test: no refresh pending, every background read over and its answer
    delivered while the widgets still exist (not into the next test)."""
    from PySide6.QtCore import QCoreApplication

    for store in stores:
        store._changed.stop()  # noqa: SLF001
        store._poll.stop()  # noqa: SLF001
    for _ in range(20):  # an answer may ask for another read (a list, then its detail)
        qtbot.waitUntil(lambda: not _reads_running() and not _timers_pending(), timeout=5000)
        QCoreApplication.processEvents()
        if not _reads_running() and not _timers_pending():
            break


def _timers_pending() -> bool:
    """A widget's single-shot timer still to fire (e.g. the session plot's zoom read)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    return any(
        t.isActive() and t.isSingleShot()
        for w in QApplication.topLevelWidgets()
        for t in w.findChildren(QTimer)
    )


def _quiet(store) -> None:
    """The store's pending refresh never fires into the next test's (deleted) widgets."""
    from PySide6.QtCore import QCoreApplication

    QCoreApplication.processEvents()  # queued commits of this test arrive now
    store._changed.stop()  # noqa: SLF001
    store._poll.stop()  # noqa: SLF001
    with warnings.catch_warnings():  # (a view may have connected nothing)
        warnings.simplefilter("ignore", RuntimeWarning)
        store.records_changed.disconnect()


def _face(path: Path, hue: tuple[int, int, int], shift: int = 0) -> Path:
    """A 'face' photo (an oval on a background) with EXIF GPS and a serial number."""
    from PIL import ImageDraw

    img = Image.new("RGB", (600, 800), (40, 44, 52))
    d = ImageDraw.Draw(img)
    d.ellipse((150 + shift, 120, 450 + shift, 620), fill=hue)
    d.ellipse((230 + shift, 300, 270 + shift, 330), fill=(30, 30, 30))
    d.ellipse((330 + shift, 300, 370 + shift, 330), fill=(30, 30, 30))
    d.arc((240 + shift, 420, 360 + shift, 500), 20, 160, fill=(120, 40, 40), width=6)
    buf = io.BytesIO()
    exif = Image.open(io.BytesIO(jpeg_with_exif(orientation=1))).getexif()
    img.save(buf, "JPEG", exif=exif.tobytes(), quality=92)
    path.write_bytes(buf.getvalue())
    assert SERIAL.encode() in path.read_bytes()  # the test can fail
    return path


def _open_session(qtbot, panel, ids, row: int):
    panel.resize(1280, 800)
    qtbot.waitUntil(lambda: panel.clients.table.rowCount() == 5, timeout=5000)
    with qtbot.waitSignal(panel.history.loaded, timeout=5000):
        panel.clients.select_client(ids["anna"])
    with qtbot.waitSignal(panel.detail.photos.loaded, timeout=5000):
        panel.history.table.selectRow(row)
    return panel.detail


def _attach(qtbot, strip, path: Path, label: str) -> None:
    strip.label_box.setCurrentIndex(strip.label_box.findData(label))
    before = strip.list.count()
    strip.add_file(str(path))
    qtbot.waitUntil(lambda: strip.list.count() == before + 1, timeout=10000)
    qtbot.waitUntil(lambda: not strip.busy, timeout=5000)


def test_attaching_photos_strips_exif_and_names_a_bad_file(qtbot, records, tmp_path):
    from app.ui.records.panel import RecordsPanel

    store, ids = records
    panel = RecordsPanel(store)
    qtbot.addWidget(panel)
    d = _open_session(qtbot, panel, ids, 0)
    strip = d.photos
    assert strip.list.count() == 0
    assert strip.empty.isVisible() or not panel.isVisible()
    strip.zone_box.setCurrentIndex(strip.zone_box.findData("frontalis_l"))
    _attach(qtbot, strip, _face(tmp_path / "a.jpg", (230, 190, 160)), "before")
    assert "EXIF data removed" in strip.status.text()
    _attach(qtbot, strip, _face(tmp_path / "b.jpg", (240, 200, 175)), "after")
    strip.add_file(str(tmp_path / "missing.jpg"))
    qtbot.waitUntil(lambda: "missing.jpg cannot be read" in strip.status.text(), timeout=5000)
    assert strip.list.count() == 2
    strip.list.setCurrentRow(1)
    strip.list.setFocus()
    qtbot.keyClick(strip.list, Qt.Key.Key_Delete)  # the Delete key removes it too
    qtbot.waitUntil(lambda: strip.list.count() == 1, timeout=5000)
    [info] = strip.infos
    assert (info.label, info.zone) == ("before", "frontalis_l")
    assert strip.list.item(0).text().startswith("Before · Frontalis")
    stored = photos.photos_of(store.engine, d.detail.summary.id)[0].data
    assert SERIAL.encode() not in stored
    assert len(Image.open(io.BytesIO(stored)).getexif()) == 0

    bad = tmp_path / "notes.txt"
    bad.write_text("not a photo")
    strip.add_file(str(bad))
    qtbot.waitUntil(lambda: "Not attached" in strip.status.text(), timeout=5000)
    assert strip.status.text() == "Not attached: notes.txt is not a JPEG or PNG image."
    assert strip.list.count() == 1
    _attach(qtbot, strip, _face(tmp_path / "c.jpg", (235, 195, 170)), "after")
    assert strip.list.count() == 2

    panel.show()
    assert panel.grab().save(str(doc_images(tmp_path) / "session-photos.png"))
    strip.list.setCurrentRow(0)
    assert strip.remove_button.isEnabled()
    strip.remove_button.click()
    qtbot.waitUntil(lambda: strip.list.count() == 1, timeout=5000)
    _settle(qtbot, store)
    # both removals and the three photos added are audited, as the operator who did it
    trail = audit.entries(store.engine, subject=f"session:{d.detail.summary.id}")
    assert [e.action for e in trail if e.action.endswith("_photo")] == [
        "add_photo",
        "add_photo",
        "remove_photo",
        "add_photo",
        "remove_photo",
    ]
    assert {e.operator_id for e in trail if e.action.endswith("_photo")} == {store.operator_id}


def test_the_camera_option_shows_only_where_qtmultimedia_can_be_imported(
    qtbot, records, monkeypatch
):
    import importlib.util

    from app.ui.records import photos as ui_photos

    store, _ = records
    here = importlib.util.find_spec("PySide6.QtMultimedia") is not None
    assert ui_photos.camera_available() == here
    strip = ui_photos.SessionPhotos(store)
    qtbot.addWidget(strip)
    assert strip.camera_button.isHidden() == (not here)
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: object() if name == "PySide6.QtMultimedia" else real(name, *a),
    )
    assert ui_photos.camera_available()
    shown = ui_photos.SessionPhotos(store)
    qtbot.addWidget(shown)
    assert not shown.camera_button.isHidden()
    monkeypatch.setattr(importlib.util, "find_spec", lambda *a: None)
    hidden = ui_photos.SessionPhotos(store)
    qtbot.addWidget(hidden)
    assert hidden.camera_button.isHidden()


def _store_photo(store, session_uid: str, label: str, path: Path) -> None:
    detail = services.session_detail(store.engine, session_uid)
    prepared = photos.prepare(path.read_bytes())
    photos.add_photo(store.writer, detail.summary.id, label, prepared).result(5)


def test_compare_two_sessions_with_synced_zoom_pan_and_grid_by_keyboard(qtbot, records, tmp_path):
    from app.ui.records.photos import PhotoCompareView

    store, ids = records
    _store_photo(store, ids["session0"], "before", _face(tmp_path / "b.jpg", (225, 180, 150)))
    _store_photo(store, ids["session3"], "before", _face(tmp_path / "c.jpg", (230, 190, 165)))
    _store_photo(
        store, ids["session3"], "after", _face(tmp_path / "d.jpg", (240, 200, 175), shift=8)
    )
    view = PhotoCompareView(store, ids["anna"])
    qtbot.addWidget(view)
    view.resize(1200, 760)
    view.show()
    with qtbot.waitSignal(view.loaded, timeout=5000):
        view.open()
    qtbot.waitUntil(lambda: all(view.current_photo(i) is not None for i in (0, 1)), timeout=5000)
    left, right = view.current_photo(0), view.current_photo(1)
    # the first session's before beside the last one's after, by default
    assert (left.info.label, right.info.label) == ("before", "after")
    assert left.info.session_id != right.info.session_id
    a, b = view.panes
    fit = a.transform().m11()
    assert fit == pytest.approx(b.transform().m11())
    a.setFocus()
    qtbot.keyClick(a, Qt.Key.Key_Plus)
    qtbot.keyClick(a, Qt.Key.Key_Plus)
    assert a.transform().m11() == pytest.approx(fit * 1.25**2)
    assert b.transform().m11() == pytest.approx(a.transform().m11())
    bar_a, bar_b = a.horizontalScrollBar(), b.horizontalScrollBar()
    assert bar_a.maximum() > 0
    for _ in range(5):
        qtbot.keyClick(a, Qt.Key.Key_Right)
    frac_a = bar_a.value() / bar_a.maximum()
    frac_b = bar_b.value() / bar_b.maximum()
    assert frac_a > 0.5
    assert frac_b == pytest.approx(frac_a, abs=0.02)
    b.verticalScrollBar().setValue(0)  # panning the other pane moves this one too
    assert a.verticalScrollBar().value() == a.verticalScrollBar().minimum()
    assert a.grid
    assert b.grid
    qtbot.keyClick(a, Qt.Key.Key_G)
    assert not a.grid
    assert not b.grid
    assert not view.grid_box.isChecked()
    qtbot.keyClick(a, Qt.Key.Key_G)
    assert a.grid
    qtbot.keyClick(a, Qt.Key.Key_0)
    assert a.transform().m11() == pytest.approx(fit)
    # the session choice: another session's photos on the left
    view.session_boxes[0].setCurrentIndex(1)
    qtbot.waitUntil(
        lambda: (
            view.current_photo(0) is not None
            and view.current_photo(0).info.session_id == right.info.session_id
        ),
        timeout=5000,
    )
    assert view.current_photo(0).info.label == "before"
    view.session_boxes[0].setCurrentIndex(0)
    qtbot.waitUntil(lambda: view.current_photo(0).info.id == left.info.id, timeout=5000)
    qtbot.keyClick(a, Qt.Key.Key_Plus)
    assert view.grab().save(str(doc_images(tmp_path) / "photo-compare.png"))
    _settle(qtbot, store)


def test_a_client_without_photos_gets_words_not_an_empty_pane(qtbot, records):
    from app.ui.records.photos import PhotoCompareView

    store, ids = records
    view = PhotoCompareView(store, ids["maria"])
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.loaded, timeout=5000):
        view.open()
    assert view.panes[0].message == "This client has no photos yet"
    _settle(qtbot, store)


def _pdf_pages(path: Path) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", path.read_bytes()))


def test_photos_on_the_report_keep_the_client_part_on_one_page(qtbot, records, tmp_path):
    from app.ui.records.panel import RecordsPanel

    store, ids = records
    for k, label in enumerate(("before", "before", "after", "after", "after")):
        _store_photo(
            store, ids["session3"], label, _face(tmp_path / f"p{k}.jpg", (220, 180, 150 + 15 * k))
        )
    panel = RecordsPanel(store)
    qtbot.addWidget(panel)
    d = _open_session(qtbot, panel, ids, 0)  # newest first: session3
    assert d.photos.list.count() == 5
    plain, with_photos = tmp_path / "plain.pdf", tmp_path / "photos.pdf"
    with qtbot.waitSignal(d.report_written, timeout=5000):
        d.save_pdf(plain)
    d.report_photos.setChecked(True)
    with qtbot.waitSignal(d.report_written, timeout=10000):
        d.save_pdf(with_photos)
    assert _pdf_pages(plain) == 1
    assert _pdf_pages(with_photos) == 1  # the client's part stays one page
    assert with_photos.stat().st_size > plain.stat().st_size + 20_000
    assert with_photos.stat().st_size < 3_000_000  # scaled down, not the stored photos
    assert SERIAL.encode() not in with_photos.read_bytes()
    d.technician_page.setChecked(True)
    with qtbot.waitSignal(d.report_written, timeout=10000):
        d.save_pdf(tmp_path / "both.pdf")
    assert _pdf_pages(tmp_path / "both.pdf") == 2
    _settle(qtbot, store)


def _link_sessions(store, ids, course_id: int, keys: tuple[str, ...]) -> None:
    for key in keys:
        store.writer.submit(courses.LinkCourseSession(ids[key], course_id)).result(5)


def test_the_course_view_plans_shows_progress_charge_and_photos(qtbot, records, tmp_path):
    from app.ui.records.panel import RecordsPanel

    store, ids = records
    panel = RecordsPanel(store)
    qtbot.addWidget(panel)
    panel.resize(1280, 800)
    panel.show()
    qtbot.waitUntil(lambda: panel.clients.table.rowCount() == 5, timeout=5000)
    view = panel.courses
    with qtbot.waitSignal(view.loaded, timeout=5000):
        panel.clients.select_client(ids["anna"])
    assert panel.tabs.isTabEnabled(panel.tabs.indexOf(panel.page(view)))
    assert view.table.rowCount() == 0
    panel.show_view(view)
    view.new_button.click()
    assert view.form.isVisible()
    form = view.form
    assert form.program.currentData() == "full_face_lift"
    form.program.setCurrentIndex(form.program.findData("eye_area"))
    form.sessions.setValue(6)
    form.kind.setCurrentIndex(1)  # every N days
    form.every.setValue(14)
    form.start.setText("not a date")
    form.save.click()
    assert form.problem.text().startswith("Start date:")
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(days=60)).astimezone().date()
    form.start.set_value(start)
    with qtbot.waitSignal(view.saved, timeout=5000) as saved:
        form.save.click()
    course_id = saved.args[0]
    _link_sessions(store, ids, course_id, ("session0", "session1", "session2", "session3"))
    _store_photo(store, ids["session0"], "before", _face(tmp_path / "b.jpg", (225, 180, 150)))
    _store_photo(store, ids["session3"], "after", _face(tmp_path / "a.jpg", (240, 200, 175)))
    with qtbot.waitSignal(view.course_shown, timeout=5000):
        view.refresh()
    qtbot.waitUntil(lambda: view.charge.rowCount() == 4, timeout=5000)
    assert view.charge.columnCount() == 4  # total + forehead, cheeks, jawline
    assert view.charge.item(0, 1).text() == f"{150 * 0.09:.1f}"  # net (no absolute stored)
    assert view.photo_list.count() == 2
    assert "4 of 6 done, 2 to go" in view.summary.text()
    assert "next due" in view.summary.text() or "OVERDUE" in view.summary.text()
    assert view.table.item(0, 0).text().endswith("(active)")
    panel.show_view(view)
    assert panel.grab().save(str(doc_images(tmp_path) / "course-view.png"))
    # the course's first photos beside its latest
    assert view.compare_button.isEnabled()
    compare = view.compare_photos()
    qtbot.waitUntil(lambda: all(compare.current_photo(i) is not None for i in (0, 1)), timeout=5000)
    assert [compare.current_photo(i).info.label for i in (0, 1)] == ["before", "after"]
    compare.close()
    _settle(qtbot, store)


def test_two_rooms_editing_one_course_the_second_is_told(qtbot, records):
    from app.ui.records.bridge import RecordsStore
    from app.ui.records.courses import CoursesView

    store, ids = records
    course_id = store.writer.submit(
        courses.SaveCourse(courses.CourseData(ids["anna"], "lift", 10, dt.date.today(), per_week=2))
    ).result(5)
    writer_b = StoreWriter(store.engine)
    store_b = RecordsStore(store.engine, writer_b)
    try:
        room_a, room_b = CoursesView(store), CoursesView(store_b)
        for v in (room_a, room_b):
            qtbot.addWidget(v)
            with qtbot.waitSignal(v.loaded, timeout=5000):
                v.set_client(ids["anna"])
            assert v.current().id == course_id
            v.edit_button.click()
        room_a.form.sessions.setValue(12)
        with qtbot.waitSignal(room_a.saved, timeout=5000):
            room_a.form.save.click()
        room_b.form.sessions.setValue(8)
        room_b.form.save.click()
        qtbot.waitUntil(lambda: "another room" in room_b.message.text(), timeout=5000)
        assert "nothing was overwritten" in room_b.form.problem.text()
        assert not room_b.form.isHidden()  # the edit is kept in the form
        assert courses.client_courses(store.engine, ids["anna"])[0].plan.planned == 12
        _settle(qtbot, store, store_b)
    finally:
        writer_b.close()
        _quiet(store_b)


def test_the_compare_window_opens_from_the_session_and_closes_with_the_records(
    qtbot, records, tmp_path
):
    from app.ui.records.panel import RecordsPanel

    store, ids = records
    _store_photo(store, ids["session0"], "before", _face(tmp_path / "b.jpg", (225, 180, 150)))
    _store_photo(store, ids["session3"], "after", _face(tmp_path / "a.jpg", (240, 200, 175)))
    panel = RecordsPanel(store)
    qtbot.addWidget(panel)
    d = _open_session(qtbot, panel, ids, 0)  # the newest: session 3
    d.photos.compare_button.click()
    compare = d.compare
    assert compare is not None
    assert compare.isWindow()
    qtbot.waitUntil(lambda: all(compare.current_photo(i) is not None for i in (0, 1)), timeout=5000)
    # this session on the right, the first one on the left
    newest = services.session_detail(store.engine, ids["session3"]).summary.id
    assert compare.current_photo(1).info.session_id == newest
    assert compare.current_photo(0).info.label == "before"
    assert compare.parent() is d  # deleted with the records (closes with the console)
    compare.close()  # and closing it deletes it
    qtbot.waitUntil(lambda: d.compare is None, timeout=5000)
    _settle(qtbot, store)
