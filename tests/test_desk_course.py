"""The desk counts a session in the client's active treatment course by default; the
practitioner may choose no course; a training session is never counted."""

from __future__ import annotations

import datetime as dt

from access import doc_images
from PySide6.QtCore import Qt
from test_practitioner import desk  # noqa: F401 - the fixture
from test_store_ui import populate

from app.engine.session import SessionState
from app.store import courses
from app.store.services import session_history


def _plan(store, client_id: int, closed: bool = False) -> int:
    return store.writer.submit(
        courses.SaveCourse(
            courses.CourseData(
                client_id,
                "eye_area",
                10,
                dt.date.today(),
                per_week=2,
                closed_on=dt.date.today() if closed else None,
            )
        )
    ).result(5)


def _run_briefly(qtbot, window, practitioner) -> None:
    ctl = practitioner.controller
    practitioner.program_box.setCurrentIndex(practitioner.program_box.findData("eye_area"))
    qtbot.waitUntil(lambda: ctl.state == SessionState.READY, timeout=8000)
    practitioner.guided.start_button.click()
    qtbot.waitUntil(lambda: ctl.state == SessionState.RUNNING, timeout=8000)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: ctl.state == SessionState.ESTOPPED, timeout=3000)


def test_the_active_course_is_chosen_and_the_session_counts_in_it(qtbot, desk, tmp_path):  # noqa: F811
    window, practitioner, store = desk
    assert practitioner.course.isHidden()  # the training head has no courses
    ids = populate(store.engine, store.info)
    _plan(store, ids["anna"], closed=True)
    course_id = _plan(store, ids["anna"])
    box = practitioner.course.box
    with qtbot.waitSignal(practitioner.course.loaded, timeout=5000):
        practitioner.choose_client(ids["anna"])
    assert not practitioner.course.isHidden()
    assert practitioner.course.course_id == course_id
    assert box.count() == 2  # no course + the open one (the closed one is not offered)
    assert box.currentText() == "Eye area · 0/10 · due today"
    assert box.itemData(1, Qt.ItemDataRole.ToolTipRole).startswith("0 of 10 done, 10 to go")
    # the course's program is chosen with it
    assert practitioner.program_box.currentData() == "eye_area"
    assert practitioner.recorder.course_id == course_id
    window.resize(1280, 800)
    assert window.grab().save(str(doc_images(tmp_path) / "desk-course.png"))
    _run_briefly(qtbot, window, practitioner)
    assert store.writer.flush(10)
    history = session_history(store.engine, ids["anna"])
    assert len(history) == 5  # four from before, and this one
    session = max(history, key=lambda s: s.started_at)
    assert courses.session_course(store.engine, session.id) == course_id
    # the desk's list follows: one done now
    qtbot.waitUntil(lambda: box.currentText().startswith("Eye area · 1/10 · next"), timeout=8000)

    # "No course" is kept when chosen, also when the list is read again
    box.setCurrentIndex(box.findData(None))
    assert practitioner.recorder.course_id is None
    with qtbot.waitSignal(practitioner.course.loaded, timeout=5000):
        practitioner.course.refresh()
    assert practitioner.course.course_id is None
    assert practitioner.recorder.course_id is None


def test_the_recorder_links_a_session_only_to_a_chosen_course_and_never_training():
    from app.engine.recorder import SessionRecorder

    class Writer:
        def __init__(self) -> None:
            self.requests: list = []

        def begin_session(self, *args, **kwargs) -> str:
            return f"uid-{len(self.requests)}"

        def submit(self, request) -> None:
            self.requests.append(request)

    w = Writer()
    rec = SessionRecorder(w, 7)
    rec._open()  # noqa: SLF001
    assert w.requests == []
    rec.course_id = 3
    rec._open()  # noqa: SLF001
    assert w.requests == [courses.LinkCourseSession("uid-0", 3)]
    rec.training = True
    rec._open()  # noqa: SLF001
    assert len(w.requests) == 1
