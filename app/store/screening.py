"""Contraindication screening: the clinic-editable questionnaire and its evaluation. No Qt.

The questionnaire lives in ``resources/screening.json``. Items are ``absolute`` (block
output) or ``relative`` (output only after the operator acknowledged an override, which
is stored with the screening). Item types:

* ``yes_no``: the answer is ``true`` when the condition is present.
* ``date``: the answer is the ISO date of the last occurrence (or ``null`` for never);
  it counts when it lies within ``window_days`` before today.
* ``age_under``: computed from the client's date of birth (``years``).

:func:`evaluate` is a pure function of (screening, client, today).
"""

from __future__ import annotations

import calendar
import datetime as dt
import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from app import paths

KINDS = ("absolute", "relative")
TYPES = ("yes_no", "date", "age_under")


class QuestionnaireError(ValueError):
    """The questionnaire file is missing or malformed (the message names what is wrong)."""


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    kind: str  # "absolute" | "relative"
    type: str  # "yes_no" | "date" | "age_under"
    question: str
    reason: str
    window_days: int = 0
    years: int = 0

    @property
    def asked(self) -> bool:
        """False for items computed from the client record (not asked)."""
        return self.type != "age_under"


@dataclass(frozen=True, slots=True)
class Questionnaire:
    version: int
    title: str
    validity_months: int
    items: tuple[Item, ...]
    consent_text_version: str = ""
    consent_text: str = ""

    def item(self, item_id: str) -> Item:
        for it in self.items:
            if it.id == item_id:
                return it
        raise KeyError(item_id)


def default_path() -> Path:
    return paths.resources_dir() / "screening.json"


def parse_questionnaire(data: Any) -> Questionnaire:
    if not isinstance(data, dict):
        raise QuestionnaireError("the screening file must hold a JSON object")
    if data.get("schema_version") != 1:
        raise QuestionnaireError(
            f"unsupported schema_version {data.get('schema_version')!r} (expected 1)"
        )
    items_raw = data.get("items")
    if not isinstance(items_raw, list) or not items_raw:
        raise QuestionnaireError("'items' must be a non-empty list")
    items: list[Item] = []
    seen: set[str] = set()
    for n, raw in enumerate(items_raw, 1):
        where = f"item {n}"
        if not isinstance(raw, dict):
            raise QuestionnaireError(f"{where} must be an object")
        item_id = raw.get("id")
        if not isinstance(item_id, str) or not item_id:
            raise QuestionnaireError(f"{where} needs a text 'id'")
        where = f"item '{item_id}'"
        if item_id in seen:
            raise QuestionnaireError(f"{where} appears twice")
        seen.add(item_id)
        if raw.get("kind") not in KINDS:
            raise QuestionnaireError(f"{where}: 'kind' must be one of {', '.join(KINDS)}")
        if raw.get("type") not in TYPES:
            raise QuestionnaireError(f"{where}: 'type' must be one of {', '.join(TYPES)}")
        for key in ("question", "reason"):
            if not isinstance(raw.get(key), str) or not raw[key].strip():
                raise QuestionnaireError(f"{where} needs a text '{key}'")
        window = raw.get("window_days", 0)
        years = raw.get("years", 0)
        if raw["type"] == "date" and (not isinstance(window, int) or window <= 0):
            raise QuestionnaireError(f"{where}: 'window_days' must be a positive whole number")
        if raw["type"] == "age_under" and (not isinstance(years, int) or years <= 0):
            raise QuestionnaireError(f"{where}: 'years' must be a positive whole number")
        items.append(
            Item(
                item_id,
                raw["kind"],
                raw["type"],
                raw["question"],
                raw["reason"],
                int(window),
                int(years),
            )
        )
    months = data.get("validity_months", 6)
    if not isinstance(months, int) or not 1 <= months <= 36:
        raise QuestionnaireError("'validity_months' must be a whole number from 1 to 36")
    version = data.get("questionnaire_version", 1)
    if not isinstance(version, int):
        raise QuestionnaireError("'questionnaire_version' must be a whole number")
    consent_version = data.get("consent_text_version", "")
    consent_text = data.get("consent_text", "")
    if not isinstance(consent_version, str) or not isinstance(consent_text, str):
        raise QuestionnaireError("'consent_text_version' and 'consent_text' must be text")
    return Questionnaire(
        version,
        str(data.get("title", "Screening")),
        months,
        tuple(items),
        consent_version,
        consent_text,
    )


def load_questionnaire(path: Path | None = None) -> Questionnaire:
    path = path or default_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise QuestionnaireError(f"screening questionnaire {path} is missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionnaireError(f"cannot read screening questionnaire {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise QuestionnaireError(
            f"screening questionnaire {path} is not valid JSON (line {exc.lineno}: {exc.msg})"
        ) from None
    try:
        return parse_questionnaire(data)
    except QuestionnaireError as exc:
        raise QuestionnaireError(f"screening questionnaire {path}: {exc}") from None


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus whole months, clamped to the month's last day (31 Aug + 6 → 28/29 Feb)."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def age_on(date_of_birth: dt.date, today: dt.date) -> int:
    years = today.year - date_of_birth.year
    if (today.month, today.day) < (date_of_birth.month, date_of_birth.day):
        years -= 1
    return years


class Status(enum.StrEnum):
    CLEARED = "cleared"
    NEEDS_OVERRIDE = "needs_override"
    BLOCKED = "blocked"
    EXPIRED = "expired"
    MISSING = "missing"

    @property
    def allows_output(self) -> bool:
        return self is Status.CLEARED


@dataclass(frozen=True, slots=True)
class Reason:
    item_id: str  # questionnaire item, or "screening" for the screening as a whole
    text: str
    kind: str  # "absolute" | "relative" | "acknowledged" | "missing" | "expired"


class Evaluation(NamedTuple):
    status: Status
    reasons: tuple[Reason, ...]


class ScreeningLike(Protocol):
    @property
    def answers(self) -> Mapping[str, Any]: ...

    @property
    def screened_on(self) -> dt.date: ...

    @property
    def expires_on(self) -> dt.date: ...

    @property
    def overrides_acknowledged(self) -> Sequence[str]: ...


class ClientLike(Protocol):
    @property
    def date_of_birth(self) -> dt.date | None: ...


@dataclass(frozen=True, slots=True)
class ScreeningAnswers:
    """A screening not (yet) stored: same fields as the ``screening`` row."""

    answers: Mapping[str, Any]
    screened_on: dt.date
    expires_on: dt.date
    overrides_acknowledged: Sequence[str] = field(default_factory=tuple)


def _as_date(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def evaluate(
    screening: ScreeningLike | None,
    client: ClientLike,
    today: dt.date,
    questionnaire: Questionnaire | None = None,
) -> Evaluation:
    """Whether output may start for ``client`` on ``today``.

    Order of precedence: missing (no screening, unanswered question, no date of birth) →
    expired → blocked (any absolute contraindication) → needs_override (a relative one not
    acknowledged) → cleared. Acknowledged relative contraindications are returned as
    reasons of kind ``acknowledged`` so they can be shown and logged.
    """
    q = questionnaire or load_questionnaire()
    if screening is None:
        return Evaluation(
            Status.MISSING,
            (
                Reason(
                    "screening",
                    "No screening on file: screen the client before the first treatment.",
                    "missing",
                ),
            ),
        )
    missing: list[Reason] = []
    found: list[tuple[Item, str]] = []
    answers = screening.answers or {}
    for it in q.items:
        if it.type == "age_under":
            if client.date_of_birth is None:
                missing.append(
                    Reason(
                        it.id, "Date of birth not recorded: the age cannot be checked.", "missing"
                    )
                )
            elif age_on(client.date_of_birth, today) < it.years:
                found.append((it, it.reason))
            continue
        if it.id not in answers:
            missing.append(Reason(it.id, f"Not answered: {it.question}", "missing"))
            continue
        value = answers[it.id]
        if it.type == "yes_no":
            if not isinstance(value, bool):
                missing.append(Reason(it.id, f"Answer is not yes or no: {it.question}", "missing"))
            elif value:
                found.append((it, it.reason))
        else:  # date
            day = _as_date(value)
            if value not in (None, "") and day is None:
                missing.append(Reason(it.id, f"Answer is not a date: {it.question}", "missing"))
            elif day is not None and day > today:
                missing.append(Reason(it.id, f"Date lies in the future: {it.question}", "missing"))
            elif day is not None and (today - day).days < it.window_days:
                found.append((it, f"{it.reason} (on {day.isoformat()})"))
    if missing:
        return Evaluation(Status.MISSING, tuple(missing))
    if today > screening.expires_on:
        return Evaluation(
            Status.EXPIRED,
            (
                Reason(
                    "screening",
                    f"The screening of {screening.screened_on.isoformat()} expired on "
                    f"{screening.expires_on.isoformat()}: screen the client again.",
                    "expired",
                ),
            ),
        )
    absolute = [Reason(it.id, text, "absolute") for it, text in found if it.kind == "absolute"]
    if absolute:
        return Evaluation(Status.BLOCKED, tuple(absolute))
    acknowledged = set(screening.overrides_acknowledged or ())
    open_ = [Reason(it.id, text, "relative") for it, text in found if it.id not in acknowledged]
    acked = [Reason(it.id, text, "acknowledged") for it, text in found if it.id in acknowledged]
    if open_:
        return Evaluation(Status.NEEDS_OVERRIDE, tuple(open_ + acked))
    return Evaluation(Status.CLEARED, tuple(acked))
