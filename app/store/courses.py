"""Treatment courses: plan, link sessions, read progress and the course's record. No Qt.

Writes go through the store's writer (:class:`SaveCourse`, :class:`LinkCourseSession`);
a course carries a ``version`` like a client's record: a save names the version it was
read at, one conditional UPDATE applies it, and a save from an older version is refused
with :class:`app.store.database.StaleRecordError` (two rooms editing the same course:
one is told, nothing is overwritten). The arithmetic is app/store/course_plan.py.
"""

from __future__ import annotations

import datetime as dt
import socket
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, select, update
from sqlalchemy.orm import Session

from app.store import course_plan
from app.store.database import StaleRecordError
from app.store.models import (
    Client,
    CourseSession,
    SessionStep,
    TreatmentCourse,
    TreatmentSession,
    utcnow,
)
from app.store.photos import PhotoInfo, client_photo_infos


@dataclass(frozen=True, slots=True)
class CourseData:
    """A course as the form gives it. ``id`` None: a new course; else ``version`` is the
    version it was read at."""

    client_id: int
    program: str
    planned_sessions: int
    start_date: dt.date
    every_days: int | None = None
    per_week: int | None = None
    closed_on: dt.date | None = None
    notes: str = ""
    id: int | None = None
    version: int | None = None

    @property
    def plan(self) -> course_plan.Plan:
        return course_plan.Plan(
            self.planned_sessions, self.start_date, self.every_days, self.per_week
        )


@dataclass(frozen=True, slots=True)
class SaveCourse:
    # refused on its merits (a stale version, a plan that makes no sense): the form says
    # why; not a failure of the records
    quiet_refusal = True  # noqa: RUF045 - class constant, not a field
    data: CourseData

    def apply(self, s: Session, st: object, tentative: dict[str, int]) -> int:
        d = self.data
        wrong = course_plan.problems(d.plan)
        if not d.program.strip():
            wrong.insert(0, "choose the course's program")
        if wrong:
            raise ValueError("The course was not saved: " + "; ".join(wrong) + ".")
        values: dict[str, Any] = {
            "program": d.program.strip(),
            "planned_sessions": d.planned_sessions,
            "every_days": d.every_days,
            "per_week": d.per_week,
            "start_date": d.start_date,
            "closed_on": d.closed_on,
            "notes": d.notes,
            "updated_by": socket.gethostname(),
        }
        if d.id is None:
            if s.get(Client, d.client_id) is None:
                raise ValueError(f"client {d.client_id} does not exist")
            row = TreatmentCourse(client_id=d.client_id, version=1, **values)
            s.add(row)
            s.flush()
            return row.id
        stmt = update(TreatmentCourse).where(TreatmentCourse.id == d.id)
        if d.version is not None:
            stmt = stmt.where(TreatmentCourse.version == d.version)
        result = s.execute(
            stmt.values(
                **values, version=TreatmentCourse.version + 1, updated_at=utcnow()
            ).execution_options(synchronize_session=False)
        )
        if cast("CursorResult[Any]", result).rowcount == 1:
            return d.id
        now = s.execute(
            select(
                TreatmentCourse.version, TreatmentCourse.updated_at, TreatmentCourse.updated_by
            ).where(TreatmentCourse.id == d.id)
        ).first()
        if now is None:
            raise ValueError(f"course {d.id} no longer exists (its client may have been erased)")
        raise StaleRecordError(
            "This treatment course", d.id, now.version, now.updated_at, now.updated_by
        )


@dataclass(frozen=True, slots=True)
class LinkCourseSession:
    """Count session ``session_uid`` in course ``course_id`` (after ``begin_session``;
    the writer applies requests in order). ``course_id`` None: in no course."""

    session_uid: str
    course_id: int | None

    def apply(self, s: Session, st: Any, tentative: dict[str, int]) -> None:
        sid = st.session_id(s, self.session_uid, tentative)
        row = s.get(CourseSession, sid)
        if self.course_id is None:
            if row is not None:
                s.delete(row)
            return
        course = s.get(TreatmentCourse, self.course_id)
        client = s.scalar(select(TreatmentSession.client_id).where(TreatmentSession.id == sid))
        if course is None or course.client_id != client:
            raise ValueError("the chosen course is not this client's (or no longer exists)")
        if row is None:
            s.add(CourseSession(session_id=sid, course_id=self.course_id))
        else:
            row.course_id = self.course_id


# ---------------------------------------------------------------- reads (any thread)


@dataclass(frozen=True, slots=True)
class CourseRecord:
    id: int
    client_id: int
    program: str
    plan: course_plan.Plan
    closed_on: dt.date | None
    notes: str
    version: int
    updated_at: dt.datetime | None
    updated_by: str | None
    session_days: tuple[dt.date, ...]  # local days of the sessions counted in it
    progress: course_plan.Progress

    @property
    def active(self) -> bool:
        return self.closed_on is None and not self.progress.complete

    def data(self, **changes: Any) -> CourseData:
        """The form's starting point for an edit (carries the version read)."""
        base = CourseData(
            self.client_id,
            self.program,
            self.plan.planned,
            self.plan.start,
            self.plan.every_days,
            self.plan.per_week,
            self.closed_on,
            self.notes,
            self.id,
            self.version,
        )
        from dataclasses import replace

        return replace(base, **changes)


def _local_day(t: dt.datetime) -> dt.date:
    return t.astimezone().date()


def client_courses(
    engine: Engine, client_id: int, today: dt.date | None = None
) -> list[CourseRecord]:
    """A client's courses, newest start first, each with its progress today."""
    day = today or dt.date.today()
    with Session(engine) as s:
        courses = s.scalars(
            select(TreatmentCourse)
            .where(TreatmentCourse.client_id == client_id)
            .order_by(TreatmentCourse.start_date.desc(), TreatmentCourse.id.desc())
        ).all()
        starts: dict[int, list[dt.date]] = defaultdict(list)
        for course_id, started in s.execute(
            select(CourseSession.course_id, TreatmentSession.started_at)
            .join(TreatmentSession, TreatmentSession.id == CourseSession.session_id)
            .where(TreatmentSession.client_id == client_id)
        ):
            starts[course_id].append(_local_day(started))
        out = []
        for c in courses:
            plan = course_plan.Plan(c.planned_sessions, c.start_date, c.every_days, c.per_week)
            days = sorted(starts.get(c.id, []))
            out.append(
                CourseRecord(
                    c.id,
                    c.client_id,
                    c.program,
                    plan,
                    c.closed_on,
                    c.notes,
                    c.version,
                    c.updated_at,
                    c.updated_by,
                    tuple(days),
                    course_plan.progress(plan, days, day, closed=c.closed_on is not None),
                )
            )
    return out


def active_course(courses: list[CourseRecord]) -> CourseRecord | None:
    """The course a new session counts in by default: the open, unfinished one that
    started last (not one starting in the future if another is under way)."""
    open_ = [c for c in courses if c.active]
    if not open_:
        return None
    today = dt.date.today()
    started = [c for c in open_ if c.plan.start <= today]
    return max(started or open_, key=lambda c: (c.plan.start, c.id))


@dataclass(frozen=True, slots=True)
class CourseSessionRow:
    session_id: int
    started_at: dt.datetime
    program: str
    outcome: str | None
    charge_by_zone: dict[str, float]  # zone → total absolute charge (µC), else net


@dataclass(frozen=True, slots=True)
class CourseView:
    course: CourseRecord
    sessions: tuple[CourseSessionRow, ...]
    zones: tuple[str, ...]  # every zone treated in the course, in first-treated order
    photos: tuple[PhotoInfo, ...]  # of the course's sessions, in time order


def course_view(engine: Engine, course_id: int, today: dt.date | None = None) -> CourseView | None:
    """A course with its sessions' per-zone charge and photos (None: no such course)."""
    with Session(engine) as s:
        client_id = s.scalar(
            select(TreatmentCourse.client_id).where(TreatmentCourse.id == course_id)
        )
        if client_id is None:
            return None
        rows = s.execute(
            select(
                TreatmentSession.id,
                TreatmentSession.started_at,
                TreatmentSession.program,
                TreatmentSession.outcome,
            )
            .join(CourseSession, CourseSession.session_id == TreatmentSession.id)
            .where(CourseSession.course_id == course_id)
            .order_by(TreatmentSession.started_at, TreatmentSession.id)
        ).all()
        ids = [r.id for r in rows]
        charge: dict[int, dict[str, float]] = defaultdict(dict)
        zones: list[str] = []
        if ids:
            for sid, zone, net, absolute in s.execute(
                select(
                    SessionStep.session_id,
                    SessionStep.zone,
                    SessionStep.charge_uc,
                    SessionStep.charge_abs_uc,
                )
                .where(SessionStep.session_id.in_(ids))
                .order_by(SessionStep.session_id, SessionStep.position)
            ):
                value = absolute if absolute is not None else abs(net or 0.0)
                charge[sid][zone] = charge[sid].get(zone, 0.0) + float(value)
                if zone not in zones:
                    zones.append(zone)
    course = next(c for c in client_courses(engine, client_id, today) if c.id == course_id)
    sessions = tuple(
        CourseSessionRow(
            r.id,
            r.started_at,
            r.program,
            r.outcome.value if r.outcome is not None else None,
            dict(charge.get(r.id, {})),
        )
        for r in rows
    )
    wanted = set(ids)
    photos = tuple(p for p in client_photo_infos(engine, client_id) if p.session_id in wanted)
    return CourseView(course, sessions, tuple(zones), photos)


def session_course(engine: Engine, session_id: int) -> int | None:
    """The course a session counts in (None: none)."""
    with Session(engine) as s:
        return s.scalar(
            select(CourseSession.course_id).where(CourseSession.session_id == session_id)
        )
