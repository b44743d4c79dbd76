"""Treatment courses of a client: plan one, see done/remaining and the next due date,
and a course's charge per zone over its sessions and its photos over time.

Reads run in the background (:meth:`RecordsStore.read`); a save goes through the store's
writer with the version the course was read at, so a course changed in another room
meanwhile is refused with a message saying so (nothing is overwritten).
"""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.store import course_plan, courses
from app.store.database import StaleRecordError
from app.ui import style
from app.ui.records.bridge import RecordsStore
from app.ui.records.date_field import DateField
from app.ui.records.format import local_date, program_name, program_names, zone_names
from app.ui.records.photos import PhotoCompareView, caption, pixmap_of
from app.ui.screen_fit import resize_within_screen

INTERVALS = (("times a week", "per_week"), ("every N days", "every_days"))


def progress_text(c: courses.CourseRecord, today: dt.date | None = None) -> tuple[str, str]:
    """(words, colour) for a course's state: done of planned, next due, overdue."""
    p = c.progress
    head = f"{p.done} of {c.plan.planned} done, {p.remaining} to go"
    if c.closed_on is not None:
        return f"{head} · closed on {local_date(c.closed_on)}", style.MUTED
    if p.complete:
        return f"{p.done} of {c.plan.planned} done · complete", style.OK
    assert p.next_due is not None
    if p.overdue_days:
        days = "1 day" if p.overdue_days == 1 else f"{p.overdue_days} days"
        return f"{head} · next was due {local_date(p.next_due)}: OVERDUE by {days}", style.ALARM
    day = today or dt.date.today()
    when = "today" if p.next_due == day else local_date(p.next_due)
    return f"{head} · next due {when}", style.OK


def _item(text: str) -> QTableWidgetItem:
    return QTableWidgetItem(text)  # plain text: a program name is never markup


class CourseForm(QGroupBox):
    """Plan a new course or edit one (with the version it was read at)."""

    save_requested = Signal(object)  # courses.CourseData
    cancelled = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Course", parent)
        self.client_id: int | None = None
        self.editing: courses.CourseRecord | None = None
        self.program = QComboBox()
        for pid, name in sorted(program_names().items(), key=lambda kv: kv[1].lower()):
            self.program.addItem(name, pid)
        self.sessions = QSpinBox(minimum=1, maximum=course_plan.MAX_SESSIONS, value=10)
        self.sessions.setSuffix(" sessions")
        self.every = QSpinBox(minimum=1, maximum=course_plan.MAX_EVERY_DAYS, value=2)
        self.kind = QComboBox()
        for text, key in INTERVALS:
            self.kind.addItem(text, key)
        self.start = DateField(latest=dt.date.today() + dt.timedelta(days=366))
        self.closed = QCheckBox("Closed (no more sessions planned)")
        self.problem = QLabel()
        self.problem.setTextFormat(Qt.TextFormat.PlainText)
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(f"color: {style.ALARM}")
        self.save = QPushButton("Save course")
        self.cancel = QPushButton("Cancel")
        interval = QHBoxLayout()
        interval.addWidget(self.every)
        interval.addWidget(self.kind, 1)
        form = QFormLayout()
        form.addRow("Program", self.program)
        form.addRow("Sessions", self.sessions)
        form.addRow("Interval", interval)
        form.addRow("Start date", self.start)
        form.addRow("", self.closed)
        buttons = QHBoxLayout()
        buttons.addWidget(self.problem, 1)
        buttons.addWidget(self.save)
        buttons.addWidget(self.cancel)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addLayout(buttons)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.save.clicked.connect(self._save)
        self.cancel.clicked.connect(self.cancelled)
        self._kind_changed()

    def _kind_changed(self) -> None:
        per_week = self.kind.currentData() == "per_week"
        self.every.setMaximum(course_plan.MAX_PER_WEEK if per_week else course_plan.MAX_EVERY_DAYS)
        self.every.setPrefix("" if per_week else "every ")
        self.every.setSuffix("" if per_week else " days")

    def new_course(self, client_id: int) -> None:
        self.client_id, self.editing = client_id, None
        self.setTitle("New course")
        self.program.setCurrentIndex(max(0, self.program.findData("full_face_lift")))
        self.sessions.setValue(10)
        self.kind.setCurrentIndex(0)
        self.every.setValue(2)
        self.start.set_value(dt.date.today())
        self.closed.setChecked(False)
        self.closed.setVisible(False)
        self.problem.clear()

    def edit(self, course: courses.CourseRecord) -> None:
        self.client_id, self.editing = course.client_id, course
        self.setTitle(f"Edit course: {program_name(course.program)}")
        i = self.program.findData(course.program)
        if i < 0:
            self.program.addItem(course.program, course.program)
            i = self.program.count() - 1
        self.program.setCurrentIndex(i)
        self.sessions.setValue(course.plan.planned)
        self.kind.setCurrentIndex(0 if course.plan.per_week is not None else 1)
        self.every.setValue(course.plan.per_week or course.plan.every_days or 1)
        self.start.set_value(course.plan.start)
        self.closed.setVisible(True)
        self.closed.setChecked(course.closed_on is not None)
        self.problem.clear()

    def data(self) -> courses.CourseData | str:
        """The form as a course, or what is wrong with it (words)."""
        if self.client_id is None:
            return "No client is chosen."
        start = self.start.value()
        if start is None:
            return f"Start date: {self.start.problem() or 'type a date, e.g. 24 Nov 2026'}"
        per_week = self.kind.currentData() == "per_week"
        closed = None
        if self.closed.isChecked():
            closed = (self.editing.closed_on if self.editing else None) or dt.date.today()
        data = courses.CourseData(
            self.client_id,
            str(self.program.currentData() or ""),
            self.sessions.value(),
            start,
            every_days=None if per_week else self.every.value(),
            per_week=self.every.value() if per_week else None,
            closed_on=closed,
            id=self.editing.id if self.editing else None,
            version=self.editing.version if self.editing else None,
        )
        wrong = course_plan.problems(data.plan)
        return "; ".join(wrong).capitalize() + "." if wrong else data

    def _save(self) -> None:
        data = self.data()
        if isinstance(data, str):
            self.problem.setText(data)
            return
        self.problem.clear()
        self.save_requested.emit(data)


class CoursesView(QWidget):
    """A client's courses (top), the chosen one's record (below). ``loaded`` after the
    list is read; ``course_shown`` after a course's record is on screen."""

    loaded = Signal()
    course_shown = Signal(int)
    saved = Signal(int)

    def __init__(self, store: RecordsStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.client_id: int | None = None
        self.courses: list[courses.CourseRecord] = []
        self.view: courses.CourseView | None = None
        self._want_course: int | None = None
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(("Program", "Plan", "Start", "Progress"))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.setAccessibleName("Treatment courses")
        self.new_button = QPushButton("New course…")
        self.edit_button = QPushButton("Edit…")
        self.message = QLabel()
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setWordWrap(True)
        self.form = CourseForm()
        self.form.setVisible(False)
        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet("font-weight: 600")
        self.charge = QTableWidget(0, 0)
        self.charge.verticalHeader().setVisible(True)
        self.charge.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.charge.setAccessibleName("Charge per zone and session")
        self.photo_list = QListWidget()
        self.photo_list.setViewMode(QListWidget.ViewMode.IconMode)
        self.photo_list.setFlow(QListWidget.Flow.LeftToRight)
        self.photo_list.setWrapping(False)
        self.photo_list.setIconSize(QSize(88, 88))
        self.photo_list.setMovement(QListWidget.Movement.Static)
        self.photo_list.setFixedHeight(88 + 52)
        self.photo_list.setAccessibleName("The course's photos over time")
        self.compare_button = QPushButton("Compare first and last…")
        self.compare_button.setToolTip(
            "The course's first photos beside its latest, with synchronised zoom and a grid"
        )
        self.compare: PhotoCompareView | None = None
        self.no_photos = QLabel("No photos in this course's sessions yet.")
        self.no_photos.setStyleSheet(f"color: {style.MUTED}")

        buttons = QHBoxLayout()
        buttons.addWidget(QLabel("Treatment courses"))
        buttons.addStretch(1)
        buttons.addWidget(self.new_button)
        buttons.addWidget(self.edit_button)
        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addLayout(buttons)
        tl.addWidget(self.message)
        tl.addWidget(self.table, 1)
        tl.addWidget(self.form)
        bottom = QWidget()
        bl = QVBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self.summary)
        bl.addWidget(QLabel("Charge per zone in each session (µC, total of both phases)"))
        bl.addWidget(self.charge, 1)
        photos_head = QHBoxLayout()
        photos_head.addWidget(QLabel("Photos over the course"))
        photos_head.addStretch(1)
        photos_head.addWidget(self.compare_button)
        bl.addLayout(photos_head)
        bl.addWidget(self.photo_list)
        bl.addWidget(self.no_photos)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setSizes([170, 530])
        lay = QVBoxLayout(self)
        lay.addWidget(split)
        self.new_button.clicked.connect(self._new)
        self.edit_button.clicked.connect(self._edit)
        self.form.save_requested.connect(self._save)
        self.form.cancelled.connect(lambda: self.form.setVisible(False))
        self.table.itemSelectionChanged.connect(self._chosen)
        self.compare_button.clicked.connect(self.compare_photos)
        store.records_changed.connect(self.refresh)
        self._buttons()

    def _buttons(self) -> None:
        self.new_button.setEnabled(self.client_id is not None)
        self.edit_button.setEnabled(self.current() is not None)

    def set_client(self, client_id: int | None) -> None:
        if client_id != self.client_id:
            self.form.setVisible(False)
            self.message.clear()
            self._want_course = None
        self.client_id = client_id
        self.refresh()

    def refresh(self) -> None:
        if self.client_id is None:
            self._show([])
            return
        cid = self.client_id
        self.store.read(
            courses.client_courses,
            cid,
            on_result=lambda found: self._show(found) if cid == self.client_id else None,
            what="reading the treatment courses",
            key="courses",
        )

    def _show(self, found: list[courses.CourseRecord]) -> None:
        now = self.current()
        keep = self._want_course or (now.id if now is not None else None)
        self.courses = list(found)
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.courses))
        select = 0 if self.courses else -1
        active = courses.active_course(self.courses)
        for row, c in enumerate(self.courses):
            words, colour = progress_text(c)
            name = program_name(c.program) + (" (active)" if c is active else "")
            prog = _item(words)
            prog.setForeground(QColor(colour))
            for col, item in enumerate(
                (
                    _item(name),
                    _item(f"{c.plan.planned} sessions, {c.plan.interval_text()}"),
                    _item(local_date(c.plan.start)),
                    prog,
                )
            ):
                self.table.setItem(row, col, item)
            if c.id == keep or (keep is None and c is active):
                select = row
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.blockSignals(False)
        if select >= 0:
            self.table.selectRow(select)
        self._chosen()
        self._buttons()
        self.loaded.emit()

    def current(self) -> courses.CourseRecord | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self.courses):
            return None
        return self.courses[rows[0].row()]

    def _chosen(self) -> None:
        self._buttons()
        c = self.current()
        if c is None:
            self._show_view(None)
            return
        self.store.read(
            courses.course_view,
            c.id,
            on_result=self._show_view,
            what="reading the course",
            key="course_view",
        )

    def _show_view(self, view: courses.CourseView | None) -> None:
        self.view = view
        self.charge.clear()
        self.photo_list.clear()
        if view is None:
            self.summary.setText("No course chosen." if self.courses else "No course planned.")
            self.charge.setRowCount(0)
            self.charge.setColumnCount(0)
            self.no_photos.setVisible(True)
            self.photo_list.setVisible(False)
            self.compare_button.setEnabled(False)
            return
        c = view.course
        words, colour = progress_text(c)
        self.summary.setText(f"{program_name(c.program)}: {words}")
        self.summary.setStyleSheet(f"font-weight: 600; color: {colour}")
        self.charge.setRowCount(len(view.sessions))
        self.charge.setColumnCount(len(view.zones) + 1)
        self.charge.setHorizontalHeaderLabels(["Total"] + [zone_names(z) for z in view.zones])
        self.charge.setVerticalHeaderLabels(
            [
                f"{k + 1}. {local_date(s.started_at.astimezone().date())}"
                for k, s in enumerate(view.sessions)
            ]
        )
        for row, s in enumerate(view.sessions):
            total = sum(s.charge_by_zone.values())
            self.charge.setItem(row, 0, _item(f"{total:.1f}"))
            for col, zone in enumerate(view.zones, start=1):
                value = s.charge_by_zone.get(zone)
                self.charge.setItem(row, col, _item("—" if value is None else f"{value:.1f}"))
        self.charge.resizeColumnsToContents()
        numbers = {s.session_id: (k + 1, s.started_at) for k, s in enumerate(view.sessions)}
        for p in view.photos:
            n, when = numbers.get(p.session_id, (0, p.taken_at))
            item = QListWidgetItem(
                QIcon(pixmap_of(p.thumbnail)),
                f"Session {n}, {local_date(when.astimezone().date())}\n{caption(p)}",
            )
            item.setToolTip(caption(p))
            self.photo_list.addItem(item)
        self.photo_list.setVisible(bool(view.photos))
        self.no_photos.setVisible(not view.photos)
        self.compare_button.setEnabled(bool(view.photos))
        self.course_shown.emit(c.id)

    def compare_photos(self) -> PhotoCompareView | None:
        """The course's first photographed session beside its latest one."""
        view = self.view
        if view is None or not view.photos:
            return None
        if self.compare is not None:
            self.compare.close()
        first, last = view.photos[0].session_id, view.photos[-1].session_id
        self.compare = PhotoCompareView(self.store, view.course.client_id, parent=self)
        self.compare.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.compare.destroyed.connect(lambda *_: setattr(self, "compare", None))
        resize_within_screen(self.compare, 1200, 760)
        self.compare.open(left_session=first, right_session=last)
        self.compare.show()
        return self.compare

    # -- planning and editing

    def _new(self) -> None:
        if self.client_id is None:
            return
        self.form.new_course(self.client_id)
        self.form.setVisible(True)
        self.form.program.setFocus()

    def _edit(self) -> None:
        c = self.current()
        if c is None:
            return
        self.form.edit(c)
        self.form.setVisible(True)
        self.form.program.setFocus()

    def _save(self, data: courses.CourseData) -> None:
        self.message.clear()

        def done(course_id: int) -> None:
            self.form.setVisible(False)
            self._want_course = course_id
            self.message.setStyleSheet(f"color: {style.OK}")
            self.message.setText("Course saved.")
            self.refresh()
            self.saved.emit(course_id)

        def failed(exc: BaseException) -> None:
            self.message.setStyleSheet(f"color: {style.ALARM}")
            if isinstance(exc, StaleRecordError):
                self.form.problem.setText(str(exc))
            else:
                self.form.problem.setText(str(exc) if isinstance(exc, ValueError) else "")
            self.message.setText(
                "The course was not saved: it was changed in another room. Your changes are "
                "still in the form; reload to see the other changes."
                if isinstance(exc, StaleRecordError)
                else "The course was not saved."
            )

        self.store.when_done(
            self.store.writer.submit(courses.SaveCourse(data)),
            done,
            what="saving the course",
            on_error=failed,
        )
