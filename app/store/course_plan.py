"""Treatment-course arithmetic: planned dates, done/remaining, the next due date. Pure.

A course is ``planned`` sessions from ``start``, either every ``every_days`` days or
``per_week`` times a week (the interval is then 7 / per_week days: twice a week is 3.5,
so planned dates alternate 3 and 4 days apart). Session *k* (0-based) is planned on
``start + floor(k × interval)``. The next session is due on its planned date, but never
less than one whole interval (rounded down, at least a day) after the last session done:
a client who came late is not asked back the next day.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

MAX_SESSIONS = 100
MAX_EVERY_DAYS = 90
MAX_PER_WEEK = 7


@dataclass(frozen=True, slots=True)
class Plan:
    """What a course asks for (``every_days`` or ``per_week``, exactly one)."""

    planned: int
    start: dt.date
    every_days: int | None = None
    per_week: int | None = None

    @property
    def interval_days(self) -> float:
        if self.every_days is not None:
            return float(self.every_days)
        assert self.per_week is not None
        return 7.0 / self.per_week

    def interval_text(self) -> str:
        if self.per_week is not None:
            return {1: "once a week", 2: "twice a week"}.get(
                self.per_week, f"{self.per_week} times a week"
            )
        assert self.every_days is not None
        return "every day" if self.every_days == 1 else f"every {self.every_days} days"


def problems(plan: Plan) -> list[str]:
    """What is wrong with a plan, in words (empty: it can be saved)."""
    out = []
    if not 1 <= plan.planned <= MAX_SESSIONS:
        out.append(f"the number of sessions must be 1 to {MAX_SESSIONS}")
    if (plan.every_days is None) == (plan.per_week is None):
        out.append("give either every how many days or how many times a week")
    if plan.every_days is not None and not 1 <= plan.every_days <= MAX_EVERY_DAYS:
        out.append(f"the interval must be 1 to {MAX_EVERY_DAYS} days")
    if plan.per_week is not None and not 1 <= plan.per_week <= MAX_PER_WEEK:
        out.append(f"sessions per week must be 1 to {MAX_PER_WEEK}")
    return out


def planned_dates(plan: Plan) -> list[dt.date]:
    step = plan.interval_days
    # (a tiny epsilon: 3 × 7/3 must be 7, not 6.999…)
    return [
        plan.start + dt.timedelta(days=math.floor(k * step + 1e-9)) for k in range(plan.planned)
    ]


@dataclass(frozen=True, slots=True)
class Progress:
    done: int
    remaining: int
    next_due: dt.date | None  # None: the course is complete (or closed)
    overdue_days: int  # > 0: the next session is that many days late

    @property
    def complete(self) -> bool:
        return self.remaining == 0


def progress(
    plan: Plan, session_days: list[dt.date], today: dt.date, closed: bool = False
) -> Progress:
    """Done/remaining and the next due date, from the days of the sessions counted in the
    course (any order). Sessions beyond the plan count as done; remaining never < 0."""
    done = len(session_days)
    remaining = max(0, plan.planned - done)
    if remaining == 0 or closed:
        return Progress(done, remaining, None, 0)
    due = planned_dates(plan)[done]
    if session_days:
        gap = max(1, math.floor(plan.interval_days + 1e-9))
        due = max(due, max(session_days) + dt.timedelta(days=gap))
    late = (today - due).days
    return Progress(done, remaining, due, max(0, late))
