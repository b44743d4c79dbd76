"""Screening questionnaire and evaluate(): pure, no database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.store.screening import (
    QuestionnaireError,
    ScreeningAnswers,
    Status,
    add_months,
    age_on,
    evaluate,
    load_questionnaire,
    parse_questionnaire,
)

Q = load_questionnaire()
TODAY = dt.date(2026, 11, 24)
ABSOLUTE = [i.id for i in Q.items if i.kind == "absolute"]
RELATIVE_YES_NO = [i.id for i in Q.items if i.kind == "relative" and i.type == "yes_no"]


@dataclass
class C:
    date_of_birth: dt.date | None = dt.date(1980, 5, 1)


def clean_answers() -> dict:
    return {i.id: (False if i.type == "yes_no" else None) for i in Q.items if i.asked}


def screening(answers=None, on=TODAY, acked=()) -> ScreeningAnswers:
    return ScreeningAnswers(
        answers if answers is not None else clean_answers(),
        on,
        add_months(on, Q.validity_months),
        tuple(acked),
    )


def test_questionnaire_lists_every_required_contraindication():
    ids = {i.id: i.kind for i in Q.items}
    for item in ("implanted_device", "epilepsy", "pregnancy", "active_cancer", "heart_condition"):
        assert ids[item] == "absolute"
    for item in (
        "metal_implants",
        "facial_surgery",
        "fillers_botox",
        "retinoids",
        "diabetes",
        "thrombosis",
        "skin_lesions",
        "under_18",
    ):
        assert ids[item] == "relative"
    assert Q.validity_months == 6
    assert Q.item("fillers_botox").window_days == 30
    assert Q.item("retinoids").window_days == 21


def test_no_screening_is_missing():
    status, reasons = evaluate(None, C(), TODAY, Q)
    assert status is Status.MISSING
    assert reasons[0].item_id == "screening"
    assert not status.allows_output


def test_clean_screening_clears():
    assert evaluate(screening(), C(), TODAY, Q) == (Status.CLEARED, ())
    assert Status.CLEARED.allows_output


@pytest.mark.parametrize("item", ABSOLUTE)
def test_absolute_blocks_even_when_acknowledged(item):
    answers = clean_answers() | {item: True}
    status, reasons = evaluate(screening(answers, acked=[item]), C(), TODAY, Q)
    assert status is Status.BLOCKED
    assert [r.item_id for r in reasons] == [item]


@pytest.mark.parametrize("item", RELATIVE_YES_NO)
def test_relative_needs_override_then_clears_when_acknowledged(item):
    answers = clean_answers() | {item: True}
    status, reasons = evaluate(screening(answers), C(), TODAY, Q)
    assert status is Status.NEEDS_OVERRIDE
    assert reasons[0].kind == "relative"
    status, reasons = evaluate(screening(answers, acked=[item]), C(), TODAY, Q)
    assert status is Status.CLEARED
    assert reasons[0].kind == "acknowledged"


def test_fillers_count_within_30_days_only():
    recent = clean_answers() | {"fillers_botox": (TODAY - dt.timedelta(days=29)).isoformat()}
    old = clean_answers() | {"fillers_botox": (TODAY - dt.timedelta(days=30)).isoformat()}
    assert evaluate(screening(recent), C(), TODAY, Q).status is Status.NEEDS_OVERRIDE
    assert evaluate(screening(old), C(), TODAY, Q).status is Status.CLEARED


def test_retinoids_within_three_weeks():
    answers = clean_answers() | {"retinoids": (TODAY - dt.timedelta(days=20)).isoformat()}
    status, reasons = evaluate(screening(answers), C(), TODAY, Q)
    assert status is Status.NEEDS_OVERRIDE
    assert "Retinoids" in reasons[0].text
    later = TODAY + dt.timedelta(days=1)
    assert evaluate(screening(answers), C(), later, Q).status is Status.CLEARED


def test_under_18_is_computed_from_date_of_birth():
    minor = C(dt.date(2009, 11, 25))  # turns 17 on 2026-11-25: 16 today
    status, reasons = evaluate(screening(), minor, TODAY, Q)
    assert status is Status.NEEDS_OVERRIDE
    assert reasons[0].item_id == "under_18"
    adult = C(dt.date(2008, 11, 24))  # 18th birthday today
    assert evaluate(screening(), adult, TODAY, Q).status is Status.CLEARED
    assert evaluate(screening(), C(None), TODAY, Q).status is Status.MISSING


def test_unanswered_or_wrong_answers_are_missing():
    answers = clean_answers()
    del answers["pregnancy"]
    status, reasons = evaluate(screening(answers), C(), TODAY, Q)
    assert status is Status.MISSING
    assert reasons[0].item_id == "pregnancy"
    bad = clean_answers() | {"epilepsy": "no", "retinoids": "last week"}
    status, reasons = evaluate(screening(bad), C(), TODAY, Q)
    assert status is Status.MISSING
    assert {r.item_id for r in reasons} == {"epilepsy", "retinoids"}
    future = clean_answers() | {"facial_surgery": (TODAY + dt.timedelta(days=3)).isoformat()}
    assert evaluate(screening(future), C(), TODAY, Q).status is Status.MISSING


def test_screening_expires_after_six_months():
    old = screening(on=dt.date(2026, 5, 24))
    assert old.expires_on == dt.date(2026, 11, 24)
    assert evaluate(old, C(), TODAY, Q).status is Status.CLEARED
    status, reasons = evaluate(old, C(), TODAY + dt.timedelta(days=1), Q)
    assert status is Status.EXPIRED
    assert "expired on 2026-11-24" in reasons[0].text
    # an expired screening must be renewed even if it showed a contraindication
    blocked = screening(clean_answers() | {"pregnancy": True}, on=dt.date(2025, 1, 1))
    assert evaluate(blocked, C(), TODAY, Q).status is Status.EXPIRED


@given(
    st.sets(
        st.sampled_from(
            [i.id for i in Q.items if i.asked and i.type == "yes_no" and not i.zone_level]
        )
    ),
    st.sets(st.sampled_from([i.id for i in Q.items])),
)
def test_status_follows_the_rules(present, acked):
    answers = clean_answers() | {k: True for k in present}
    status, reasons = evaluate(screening(answers, acked=acked), C(), TODAY, Q)
    absolute = present & set(ABSOLUTE)
    open_relative = (present - set(ABSOLUTE)) - acked
    if absolute:
        assert status is Status.BLOCKED
        assert {r.item_id for r in reasons} == absolute
    elif open_relative:
        assert status is Status.NEEDS_OVERRIDE
        assert {r.item_id for r in reasons if r.kind == "relative"} == open_relative
    else:
        assert status is Status.CLEARED
        assert {r.item_id for r in reasons} == present


@given(st.dates(dt.date(1900, 1, 1), dt.date(2100, 1, 1)), st.integers(0, 40))
def test_add_months_lands_in_the_right_month(day, months):
    out = add_months(day, months)
    assert (out.year * 12 + out.month) - (day.year * 12 + day.month) == months
    assert out.day <= day.day


@given(st.dates(dt.date(1900, 1, 1), dt.date(2020, 1, 1)), st.integers(0, 80))
def test_age_on_birthdays(dob, years):
    try:
        birthday = dob.replace(year=dob.year + years)
    except ValueError:  # 29 February
        return
    assert age_on(dob, birthday) == years
    assert age_on(dob, birthday - dt.timedelta(days=1)) == years - 1


def test_malformed_questionnaires_are_named(tmp_path):
    good = {
        "schema_version": 1,
        "items": [
            {"id": "a", "kind": "absolute", "type": "yes_no", "question": "Q?", "reason": "R"}
        ],
    }
    assert parse_questionnaire(good).items[0].id == "a"
    cases = {
        "'kind' must be one of": {"kind": "maybe"},
        "'type' must be one of": {"type": "text"},
        "'window_days' must be": {"type": "date"},
        "needs a text 'reason'": {"reason": ""},
    }
    for message, change in cases.items():
        bad = {**good, "items": [good["items"][0] | change]}
        with pytest.raises(QuestionnaireError, match=message):
            parse_questionnaire(bad)
    dup = {**good, "items": good["items"] * 2}
    with pytest.raises(QuestionnaireError, match="appears twice"):
        parse_questionnaire(dup)
    path = tmp_path / "screening.json"
    path.write_text("{ not json", encoding="utf-8")
    with pytest.raises(QuestionnaireError, match="not valid JSON"):
        load_questionnaire(path)
    with pytest.raises(QuestionnaireError, match="missing"):
        load_questionnaire(tmp_path / "absent.json")
