"""Treatment courses in the store: saved through the writer, sessions linked, progress
and per-zone charge read back, a stale edit refused (no silent overwrite), erased with
the client; and migration 0012 on a database holding data."""

from __future__ import annotations

import datetime as dt
import json
import zipfile

import pytest
from photo_helpers import jpeg_with_exif
from sqlalchemy import inspect, text
from store_fixtures import pg_cluster, sqlite_url, store_url  # noqa: F401

from app.store import courses, maintenance, photos, services
from app.store.database import (
    StaleRecordError,
    head_revision,
    make_engine,
    open_store,
    upgrade_to_head,
)
from app.store.models import CourseSession, SessionPhoto, TreatmentCourse
from app.store.validation import ClientData
from app.store.writer import StoreWriter, count_rows

TODAY = dt.date.today()


@pytest.fixture
def store(store_url):  # noqa: F811
    engine, info = open_store(store_url)
    w = StoreWriter(engine)
    yield engine, info, w
    w.close()
    engine.dispose()


def _session(w, cid, course_id, when, zones):
    uid = w.begin_session(cid, program="lift", started_at=when)
    if course_id is not None:
        w.submit(courses.LinkCourseSession(uid, course_id))
    for i, (zone, charge) in enumerate(zones):
        w.add_step(uid, i, zone, {}, 60, 60, charge_uc=0.5, charge_abs_uc=charge)
    w.end_session(uid, "completed", ended_at=when + dt.timedelta(minutes=10))
    return uid


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12, 0)).astimezone(dt.UTC)


def test_a_course_counts_its_sessions_with_per_zone_charge_and_photos(store, tmp_path):
    engine, _, w = store
    cid = w.save_client(ClientData("Course Person")).result(5)
    start = TODAY - dt.timedelta(days=10)
    course_id = w.submit(
        courses.SaveCourse(courses.CourseData(cid, "lift", 10, start, per_week=2))
    ).result(5)
    _session(w, cid, course_id, _at(start), [("forehead", 30.0), ("jaw_l", 20.0)])
    _session(w, cid, course_id, _at(start + dt.timedelta(days=3)), [("forehead", 35.0)])
    _session(w, cid, None, _at(start + dt.timedelta(days=4)), [("forehead", 99.0)])  # no course
    assert w.flush(5)
    [course] = courses.client_courses(engine, cid, today=TODAY)
    assert course.session_days == (start, start + dt.timedelta(days=3))
    assert (course.progress.done, course.progress.remaining) == (2, 8)
    assert course.progress.next_due == start + dt.timedelta(days=7)
    assert course.progress.overdue_days == 3  # today is day 10
    assert course.active
    assert courses.active_course([course]) == course

    view = courses.course_view(engine, course_id, today=TODAY)
    assert view is not None
    assert view.zones == ("forehead", "jaw_l")
    assert [s.charge_by_zone for s in view.sessions] == [
        {"forehead": 30.0, "jaw_l": 20.0},
        {"forehead": 35.0},
    ]
    photo = photos.prepare(jpeg_with_exif())
    first = view.sessions[0].session_id
    photos.add_photo(w, first, "before", photo, taken_at=_at(start)).result(5)
    view = courses.course_view(engine, course_id, today=TODAY)
    assert [(p.session_id, p.label) for p in view.photos] == [(first, "before")]
    assert courses.session_course(engine, first) == course_id
    assert courses.course_view(engine, 9999) is None
    # the client's export carries the course and which sessions count in it
    dest = maintenance.export_client(engine, cid, tmp_path / "export.zip")
    with zipfile.ZipFile(dest) as zf:
        doc = json.loads(zf.read("client.json"))
    [exported] = doc["courses"]
    assert (exported["id"], exported["planned_sessions"], exported["per_week"]) == (
        course_id,
        10,
        2,
    )
    assert [s["course_id"] for s in doc["sessions"]] == [course_id, course_id, None]
    assert [len(s["photos"]) for s in doc["sessions"]] == [1, 0, 0]


def test_a_closed_or_complete_course_is_not_picked_by_default(store):
    engine, _, w = store
    cid = w.save_client(ClientData("Picky Person")).result(5)
    old = w.submit(
        courses.SaveCourse(courses.CourseData(cid, "lift", 1, TODAY, every_days=7))
    ).result(5)
    _session(w, cid, old, _at(TODAY), [("forehead", 1.0)])
    closed = w.submit(
        courses.SaveCourse(courses.CourseData(cid, "tone", 5, TODAY, every_days=7, closed_on=TODAY))
    ).result(5)
    assert w.flush(5)
    found = courses.client_courses(engine, cid, today=TODAY)
    assert {c.id for c in found} == {old, closed}
    assert courses.active_course(found) is None


def test_two_rooms_editing_the_same_course_one_is_told_nothing_is_overwritten(store):
    engine, _, w = store
    cid = w.save_client(ClientData("Shared Person")).result(5)
    course_id = w.submit(
        courses.SaveCourse(courses.CourseData(cid, "lift", 10, TODAY, per_week=2))
    ).result(5)
    [read_a] = courses.client_courses(engine, cid)
    [read_b] = courses.client_courses(engine, cid)
    w.submit(courses.SaveCourse(read_a.data(planned_sessions=12))).result(5)
    with pytest.raises(StaleRecordError) as err:
        w.submit(courses.SaveCourse(read_b.data(planned_sessions=6))).result(5)
    assert "This treatment course was changed" in str(err.value)
    assert "nothing was overwritten" in str(err.value)
    [now] = courses.client_courses(engine, cid)
    assert (now.plan.planned, now.version) == (12, 2)
    assert now.id == course_id


def test_a_course_that_makes_no_sense_is_refused_in_words(store):
    _, _, w = store
    cid = w.save_client(ClientData("Bad Plan")).result(5)
    with pytest.raises(ValueError, match="The course was not saved: choose the course's program"):
        w.submit(courses.SaveCourse(courses.CourseData(cid, " ", 5, TODAY, every_days=3))).result(5)
    with pytest.raises(ValueError, match="sessions per week must be 1 to 7"):
        w.submit(courses.SaveCourse(courses.CourseData(cid, "lift", 5, TODAY, per_week=9))).result(
            5
        )


def test_a_session_cannot_be_linked_to_another_clients_course(store):
    engine, _, w = store
    a = w.save_client(ClientData("Client A")).result(5)
    b = w.save_client(ClientData("Client B")).result(5)
    course_a = w.submit(
        courses.SaveCourse(courses.CourseData(a, "lift", 5, TODAY, every_days=3))
    ).result(5)
    uid = w.begin_session(b, program="lift")
    with pytest.raises(ValueError, match="not this client's"):
        w.submit(courses.LinkCourseSession(uid, course_a)).result(5)


def test_erasing_the_client_removes_courses_links_and_photos(store):
    engine, _, w = store
    cid = w.save_client(ClientData("Erase Me")).result(5)
    keep = w.save_client(ClientData("Keep Me")).result(5)
    course_id = w.submit(
        courses.SaveCourse(courses.CourseData(cid, "lift", 5, TODAY, every_days=3))
    ).result(5)
    kept = w.submit(
        courses.SaveCourse(courses.CourseData(keep, "lift", 5, TODAY, every_days=3))
    ).result(5)
    _session(w, cid, course_id, _at(TODAY), [("forehead", 1.0)])
    _session(w, keep, kept, _at(TODAY), [("forehead", 1.0)])
    assert w.flush(5)
    [s] = services.session_history(engine, cid)
    photos.add_photo(w, s.id, "before", photos.prepare(jpeg_with_exif())).result(5)
    counts = maintenance.erase_client(engine, cid)
    assert counts["treatment_course"] == 1
    assert counts["course_session"] == 1
    assert counts["session_photo"] == 1
    assert count_rows(engine, TreatmentCourse, client_id=cid) == 0
    assert count_rows(engine, SessionPhoto, client_id=cid) == 0
    assert count_rows(engine, TreatmentCourse) == 1
    assert count_rows(engine, CourseSession) == 1


def test_migration_0012_on_a_database_with_data(store_url):  # noqa: F811
    assert upgrade_to_head(store_url, revision="0008") == "0008"
    engine = make_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO client (name, contact, skin_notes, is_training, created_at, "
                    "updated_at, version) VALUES ('Old Client', '', 'dry', false, :t, :t, 3)"
                ),
                {"t": dt.datetime(2026, 1, 1)},
            )
            cid = conn.execute(text("SELECT id FROM client WHERE name = 'Old Client'")).scalar()
            conn.execute(
                text(
                    "INSERT INTO treatment_session (uid, client_id, program, device_serial, "
                    "firmware, started_at, training) VALUES ('u-1', :c, 'lift', 'S1', 'f', "
                    ":t, false)"
                ),
                {"c": cid, "t": dt.datetime(2026, 1, 2)},
            )
            assert "session_photo" not in inspect(conn).get_table_names()
    finally:
        engine.dispose()
    engine, info = open_store(store_url)
    w = StoreWriter(engine)
    try:
        assert info.revision == head_revision()
        tables = set(inspect(engine).get_table_names())
        assert {"treatment_course", "course_session", "session_photo"} <= tables
        [old] = services.session_history(engine, cid)
        assert old.program == "lift"
        assert services.get_client(engine, cid).version == 3
        photos.add_photo(w, old.id, "after", photos.prepare(jpeg_with_exif())).result(5)
        course_id = w.submit(
            courses.SaveCourse(courses.CourseData(cid, "lift", 4, TODAY, every_days=7))
        ).result(5)
        w.submit(courses.LinkCourseSession("u-1", course_id)).result(5)
        assert courses.client_courses(engine, cid)[0].progress.done == 1
    finally:
        w.close()
        engine.dispose()


def test_other_rooms_see_courses_and_photos_change_through_the_change_stamp(store):
    engine, _, w = store
    cid = w.save_client(ClientData("Stamp Person")).result(5)
    stamps = [services.change_stamp(engine)]
    course_id = w.submit(
        courses.SaveCourse(courses.CourseData(cid, "lift", 5, TODAY, every_days=3))
    ).result(5)
    stamps.append(services.change_stamp(engine))
    [c] = courses.client_courses(engine, cid)
    w.submit(courses.SaveCourse(c.data(planned_sessions=6))).result(5)
    stamps.append(services.change_stamp(engine))
    uid = _session(w, cid, course_id, _at(TODAY), [("forehead", 1.0)])
    assert w.flush(5)
    stamps.append(services.change_stamp(engine))
    sid = services.session_detail(engine, uid).summary.id
    photo_id = photos.add_photo(w, sid, "before", photos.prepare(jpeg_with_exif())).result(5)
    stamps.append(services.change_stamp(engine))
    w.submit(photos.DeletePhoto(photo_id)).result(5)
    stamps.append(services.change_stamp(engine))
    # every change moves it (removing the only photo goes back to the stamp before it was
    # added: a room that did not see it in between has nothing to read again)
    assert all(a != b for a, b in zip(stamps, stamps[1:], strict=False))
    assert len(set(stamps)) == len(stamps) - 1
