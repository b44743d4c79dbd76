"""Treatment-course arithmetic (pure): planned dates, done/remaining, next due, overdue."""

from __future__ import annotations

import datetime as dt

import pytest

from app.store.course_plan import Plan, planned_dates, problems, progress

D = dt.date(2026, 12, 1)  # a Tuesday


def days(*offsets: int) -> list[dt.date]:
    return [D + dt.timedelta(days=o) for o in offsets]


def test_twice_a_week_alternates_three_and_four_days():
    plan = Plan(10, D, per_week=2)
    assert planned_dates(plan) == days(0, 3, 7, 10, 14, 17, 21, 24, 28, 31)
    assert plan.interval_text() == "twice a week"


def test_every_n_days_and_three_times_a_week():
    assert planned_dates(Plan(4, D, every_days=5)) == days(0, 5, 10, 15)
    assert planned_dates(Plan(4, D, per_week=3)) == days(0, 2, 4, 7)  # 3 × 7/3 is 7, not 6
    assert Plan(1, D, every_days=1).interval_text() == "every day"
    assert Plan(1, D, every_days=4).interval_text() == "every 4 days"
    assert Plan(1, D, per_week=1).interval_text() == "once a week"


def test_nothing_done_yet_the_first_session_is_due_on_the_start_date():
    p = progress(Plan(10, D, per_week=2), [], today=D - dt.timedelta(days=2))
    assert (p.done, p.remaining, p.next_due, p.overdue_days) == (0, 10, D, 0)
    late = progress(Plan(10, D, per_week=2), [], today=D + dt.timedelta(days=3))
    assert late.overdue_days == 3


def test_on_schedule_the_next_is_due_on_its_planned_date():
    p = progress(Plan(10, D, per_week=2), days(0, 3), today=D + dt.timedelta(days=5))
    assert (p.done, p.remaining, p.next_due, p.overdue_days) == (2, 8, days(7)[0], 0)


def test_a_late_session_moves_the_next_one_at_least_an_interval_after_it():
    # the 2nd session (planned day 3) was done on day 6: the 3rd is due day 9, not day 7
    p = progress(Plan(10, D, per_week=2), days(0, 6), today=D + dt.timedelta(days=7))
    assert p.next_due == days(9)[0]
    assert p.overdue_days == 0


def test_overdue_counts_the_days_past_the_due_date():
    p = progress(Plan(6, D, every_days=7), days(0), today=D + dt.timedelta(days=10))
    assert (p.next_due, p.overdue_days) == (days(7)[0], 3)


def test_a_complete_or_closed_course_has_no_next_date_and_never_negative_remaining():
    done = progress(Plan(2, D, every_days=7), days(0, 7, 14), today=D)
    assert (done.done, done.remaining, done.next_due, done.complete) == (3, 0, None, True)
    closed = progress(Plan(5, D, every_days=7), days(0), today=D, closed=True)
    assert (closed.remaining, closed.next_due, closed.overdue_days) == (4, None, 0)


def test_session_days_in_any_order():
    p = progress(Plan(10, D, per_week=2), days(3, 0), today=D)
    assert p.next_due == days(7)[0]


@pytest.mark.parametrize(
    ("plan", "words"),
    [
        (Plan(0, D, every_days=3), "number of sessions must be 1 to 100"),
        (Plan(101, D, every_days=3), "number of sessions must be 1 to 100"),
        (Plan(5, D), "either every how many days or how many times a week"),
        (Plan(5, D, every_days=3, per_week=2), "either every how many days"),
        (Plan(5, D, every_days=0), "interval must be 1 to 90 days"),
        (Plan(5, D, per_week=8), "sessions per week must be 1 to 7"),
    ],
)
def test_plans_that_make_no_sense_are_named(plan, words):
    assert any(words in p for p in problems(plan))


def test_a_sensible_plan_has_no_problems():
    assert problems(Plan(10, D, per_week=2)) == []
