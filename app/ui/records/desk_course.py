"""The desk's course choice: which treatment course the next session counts in.

The client's active course (open, not complete; app/store/courses.py ``active_course``)
is chosen by default; the practitioner may pick another open course or none. The list
is read in the background and again whenever the records change (a session ended here,
a course planned in another room). Nothing here imports SQLAlchemy at start-up: the
store's modules load with the records.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

if TYPE_CHECKING:
    from app.ui.records.bridge import RecordsStore

NO_COURSE = "No course"


def short_text(course: Any, program: str) -> str:
    """A course in a few words for the desk: ``Eye area · 3/10 · next 08 Dec``."""
    from app.ui.records.format import local_date

    p = course.progress
    head = f"{program} · {p.done}/{course.plan.planned}"
    if p.next_due is None:
        return f"{head} · complete"
    if p.overdue_days:
        return f"{head} · OVERDUE {p.overdue_days} d"
    import datetime as dt

    if p.next_due <= dt.date.today():
        return f"{head} · due today"
    return f"{head} · next {local_date(p.next_due)[:6]}"


def course_program(records: list[Any], course_id: int | None) -> str | None:
    """The program of course ``course_id`` among ``records`` (None: no such course)."""
    return next((c.program for c in records if c.id == course_id), None)


class DeskCourse(QWidget):
    """``course_changed(course_id | None)`` when the choice changes (by the user or
    because the client's courses were read)."""

    course_changed = Signal(object)
    loaded = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store: RecordsStore | None = None
        self.client_id: int | None = None
        self.records: list[Any] = []  # courses.CourseRecord
        self.box = QComboBox()
        self.box.setMinimumWidth(230)
        self.box.setToolTip(
            "The treatment course this session counts in (the client's active course "
            "unless you choose another)"
        )
        self.box.setAccessibleName("Treatment course")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(QLabel("Course"))
        lay.addWidget(self.box, 1)
        self.box.currentIndexChanged.connect(lambda _i: self.course_changed.emit(self.course_id))
        self.setVisible(False)

    @property
    def course_id(self) -> int | None:
        data = self.box.currentData()
        return int(data) if data is not None else None

    def attach(self, store: RecordsStore | None) -> None:
        """The records are open: read through ``store`` (None: still closed)."""
        if store is None:
            return
        self.store = store
        store.records_changed.connect(self.refresh)

    def set_client(self, client_id: int | None, is_training: bool = False) -> None:
        """The desk's client changed (or was read again)."""
        changed = client_id != self.client_id
        self.client_id = None if is_training else client_id
        self.setVisible(self.client_id is not None and self.store is not None)
        if changed or self.client_id is None:
            self._fill([], keep=None)
        self.refresh()

    def refresh(self) -> None:
        if self.store is None or self.client_id is None:
            return
        from app.store import courses

        cid = self.client_id
        self.store.read(
            courses.client_courses,
            cid,
            on_result=lambda found: self._read(cid, found),
            what="reading the client's treatment courses",
            key="desk_courses",
        )

    def _read(self, client_id: int, found: list[Any]) -> None:
        if client_id != self.client_id:
            return
        from app.store import courses

        active = courses.active_course(found)
        chosen = self.course_id
        still_open = chosen is None or any(c.id == chosen and c.active for c in found)
        # the practitioner's choice stays (also "No course") while that course is open;
        # a new client, or a course that has just been completed, goes to the active one
        keep = chosen if self.records and still_open else (active.id if active else None)
        self._fill(found, keep)
        self.loaded.emit()

    def _fill(self, found: list[Any], keep: int | None) -> None:
        from app.ui.records.courses import progress_text
        from app.ui.records.format import program_name

        self.records = list(found)
        before = self.course_id
        self.box.blockSignals(True)
        self.box.clear()
        self.box.addItem(NO_COURSE, None)
        for c in found:
            if not c.active and c.id != keep:
                continue
            words, _colour = progress_text(c)
            self.box.addItem(short_text(c, program_name(c.program)), c.id)
            self.box.setItemData(self.box.count() - 1, words, Qt.ItemDataRole.ToolTipRole)
        index = self.box.findData(keep) if keep is not None else 0
        self.box.setCurrentIndex(max(0, index))
        self.box.setEnabled(self.box.count() > 1)
        if self.box.count() == 1:
            self.box.setItemText(0, "No course planned")
        self.box.blockSignals(False)
        if self.course_id != before:
            self.course_changed.emit(self.course_id)
