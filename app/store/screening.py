"""Contraindication screening: the clinic-editable questionnaire and its evaluation. No Qt.

The questionnaire lives in ``resources/screening.json``. Items are ``absolute`` (block
output) or ``relative`` (output only after the operator acknowledged an override, which
is stored with the screening). Item types:

* ``yes_no``: the answer is ``true`` when the condition is present.
* ``date``: the answer is the ISO date of the last occurrence (or ``null`` for never);
  it counts when it lies within ``window_days`` before today.
* ``age_under``: computed from the client's date of birth (``years``).
* ``zones`` (schema 2): the answer is a list of face-map zone ids (``[]`` or ``null``:
  none) — e.g. the sites of a recent filler injection.

Items of kind ``zone`` (schema 2) do not decide whether the client may be treated at
all: they name face-map zones that are *excluded* (``"effect": "exclude"``) or held
under a ceiling (``"effect": "limit"``, ``"max_ua"``). A ``zones`` item names its zones
in the answer; a ``yes_no`` item implies its own (``"zones": [...]``, e.g. bruxism → both
masseters). ``"window_of"`` ties a ``zones`` item to a ``date`` item: the zones count only
while that date lies within its window (injection sites of the last 30 days). An
exclusion is lifted only by an acknowledged override, like a relative contraindication:
the item id in ``overrides_acknowledged`` lifts it for every zone the item names, and
``"item_id@zone"`` (:func:`zone_override`) for that zone alone — a practitioner may treat
one injection site anyway and keep the others excluded. A ceiling is not lifted.
Zone items are optional (a screening made before they existed names no zones): an
unanswered one names none. :func:`zone_rules` turns the answers into
:class:`~app.store.vocabulary.ZoneRule` s, which the output authority enforces.

:func:`evaluate` and :func:`zone_rules` are pure functions of (screening, client, today).
"""

from __future__ import annotations

import calendar
import datetime as dt
import enum
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from app import paths
from app.store.vocabulary import ZoneRule

KINDS = ("absolute", "relative", "zone")
TYPES = ("yes_no", "date", "age_under", "zones")
EFFECTS = ("exclude", "limit")
SCHEMA_VERSIONS = (1, 2)
# the form of a face-map zone id (which ids exist is the face map's: tests check them)
_ZONE_ID = re.compile(r"^[a-z]+(_[a-z]+)*$")


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
    effect: str = ""  # kind "zone": "exclude" | "limit"
    max_ua: float | None = None  # kind "zone", effect "limit": the zones' ceiling
    zones: tuple[str, ...] = ()  # kind "zone", type "yes_no": the zones a yes implies
    window_of: str = ""  # type "zones": the date item whose window the zones follow

    @property
    def asked(self) -> bool:
        """False for items computed from the client record (not asked)."""
        return self.type != "age_under"

    @property
    def zone_level(self) -> bool:
        """The item names face-map zones (it never blocks the whole face)."""
        return self.kind == "zone"


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
    schema = data.get("schema_version")
    if schema not in SCHEMA_VERSIONS:
        raise QuestionnaireError(f"unsupported schema_version {schema!r} (expected 1 or 2)")
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
        zone_fields = _zone_fields(raw, where, schema)
        items.append(
            Item(
                item_id,
                raw["kind"],
                raw["type"],
                raw["question"],
                raw["reason"],
                int(window),
                int(years),
                **zone_fields,
            )
        )
    for it in items:
        if it.window_of and not any(o.id == it.window_of and o.type == "date" for o in items):
            raise QuestionnaireError(
                f"item '{it.id}': 'window_of' must name a date item, not {it.window_of!r}"
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


def _zone_fields(raw: dict[str, Any], where: str, schema: Any) -> dict[str, Any]:
    """The zone-level fields of one item (schema 2), checked."""
    kind, type_ = raw["kind"], raw["type"]
    if schema == 1 and (kind == "zone" or type_ == "zones"):
        raise QuestionnaireError(f"{where}: zone items need schema_version 2")
    if type_ == "zones" and kind != "zone":
        raise QuestionnaireError(f"{where}: a 'zones' answer belongs to an item of kind 'zone'")
    if kind != "zone":
        return {}
    if type_ not in ("zones", "yes_no"):
        raise QuestionnaireError(f"{where}: a zone item's 'type' must be zones or yes_no")
    effect = raw.get("effect")
    if effect not in EFFECTS:
        raise QuestionnaireError(f"{where}: 'effect' must be one of {', '.join(EFFECTS)}")
    max_ua = raw.get("max_ua")
    if effect == "limit" and (
        isinstance(max_ua, bool)
        or not isinstance(max_ua, int | float)
        or not math.isfinite(max_ua)
        or max_ua <= 0
    ):
        raise QuestionnaireError(f"{where}: 'max_ua' must be a number > 0 (µA)")
    zones = raw.get("zones", [])
    if type_ == "yes_no" and (
        not isinstance(zones, list)
        or not zones
        or not all(isinstance(z, str) and _ZONE_ID.match(z) for z in zones)
    ):
        raise QuestionnaireError(f"{where}: 'zones' must list the zone ids a yes implies")
    window_of = raw.get("window_of", "")
    if not isinstance(window_of, str) or (window_of and type_ != "zones"):
        raise QuestionnaireError(f"{where}: 'window_of' must name a date item (zones items)")
    return {
        "effect": effect,
        "max_ua": float(max_ua) if effect == "limit" and max_ua is not None else None,
        "zones": tuple(zones) if type_ == "yes_no" else (),
        "window_of": window_of,
    }


def zone_answer(value: Any) -> tuple[str, ...] | None:
    """A ``zones`` answer as zone ids (None: not a list of zone ids)."""
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or not all(
        isinstance(z, str) and _ZONE_ID.match(z) for z in value
    ):
        return None
    return tuple(dict.fromkeys(value))


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
        if it.zone_level:  # optional; never blocks the face, only a wrong answer is said
            if it.id in answers and (
                (it.type == "zones" and zone_answer(answers[it.id]) is None)
                or (it.type == "yes_no" and not isinstance(answers[it.id], bool))
            ):
                missing.append(Reason(it.id, f"Answer is not usable: {it.question}", "missing"))
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


ZONE_OVERRIDE_SEP = "@"


def zone_override(item_id: str, zone: str) -> str:
    """The acknowledged override of one zone of a zone item (``"lesion_sites@mentalis_r"``)."""
    return f"{item_id}{ZONE_OVERRIDE_SEP}{zone}"


def zone_rules(
    screening: ScreeningLike | None,
    today: dt.date,
    questionnaire: Questionnaire | None = None,
) -> tuple[ZoneRule, ...]:
    """The per-zone exclusions and ceilings the screening's answers name (pure).

    One rule per (item, zone). An exclusion whose item id — or that zone's own override
    (:func:`zone_override`) — is in the screening's acknowledged overrides comes back
    ``overridden``; a ``zones`` item tied to a date
    item (``window_of``) names its zones only while that date lies within its window.
    """
    if screening is None:
        return ()
    q = questionnaire or load_questionnaire()
    answers = screening.answers or {}
    acked = set(screening.overrides_acknowledged or ())
    out: list[ZoneRule] = []
    for it in q.items:
        if not it.zone_level or it.id not in answers:
            continue
        value = answers[it.id]
        if it.type == "yes_no":
            zones = it.zones if value is True else ()
        else:
            zones = zone_answer(value) or ()
            if zones and it.window_of:
                base = q.item(it.window_of)
                day = _as_date(answers.get(it.window_of))
                if day is None or day > today or (today - day).days >= base.window_days:
                    zones = ()
        for zone in zones:
            out.append(
                ZoneRule(
                    zone,
                    it.id,
                    it.reason,
                    it.max_ua if it.effect == "limit" else None,
                    overridden=it.effect == "exclude"
                    and (it.id in acked or zone_override(it.id, zone) in acked),
                )
            )
    return tuple(out)
