"""Face-map zones: the treatment zones' anatomy, loaded from ``resources/zones.json``. Pure, no Qt.

Each of the 16 paired facial muscles gives two zones, ``<muscle>_l`` and ``<muscle>_r``
(the client's left and right; in a frontal view the client's left is on the viewer's
right). The midline procerus and orbicularis oris are one zone each, id ``<muscle>``.
The ids agree with :mod:`app.engine.zone_ids`, which programs and limits use; the
drawing is ``resources/face_map.svg`` (one element per zone id).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from app.engine import zone_ids

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
ZONES_FILE = RESOURCES / "zones.json"
SCHEMA_VERSION = 1

SIDE_NAMES = {"l": "client's left", "r": "client's right", "m": "midline"}
_TEXT_FIELDS = ("name", "action", "origin", "insertion", "direction")
_ID_RE = re.compile(r"^[a-z]+(_[a-z]+)*$")


class ZonesError(ValueError):
    """The zones file is missing or malformed; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class Zone:
    """One treatment zone: a muscle on one side of the face (or a midline muscle)."""

    id: str  # e.g. "zygomaticus_major_l"
    muscle: str  # e.g. "zygomaticus_major"
    side: str  # "l" (client's left), "r" (client's right) or "m" (midline)
    name: str  # display name, e.g. "Zygomaticus major (client's left)"
    action: str
    origin: str
    insertion: str
    direction: str  # the lifting probe direction, in words
    eye_area: bool
    max_ua: float  # default zone ceiling; the clinic may set a lower one
    muscle_name: str = ""  # e.g. "Zygomaticus major"
    region: str = ""  # where on the face, in plain words

    @property
    def side_name(self) -> str:
        return SIDE_NAMES[self.side]

    @property
    def mirror_id(self) -> str:
        """The same muscle on the other side (a midline zone is its own mirror)."""
        if self.side == "m":
            return self.id
        return f"{self.muscle}_{'r' if self.side == 'l' else 'l'}"


def _text(file: Path, raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ZonesError(f"{file}: {where}: '{key}' must be a non-empty text")
    return value.strip()


def _number(file: Path, raw: dict[str, Any], key: str, where: str) -> float:
    value = raw.get(key)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ZonesError(f"{file}: {where}: '{key}' must be a number > 0 (µA), got {value!r}")
    return float(value)


def parse_zones(data: Any, file: Path = ZONES_FILE) -> dict[str, Zone]:
    """Zones from the decoded JSON document, in file order (each muscle: right, then left)."""
    if not isinstance(data, dict):
        raise ZonesError(f"{file}: the top level must be an object")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ZonesError(
            f"{file}: schema_version must be {SCHEMA_VERSION}, got {data.get('schema_version')!r}"
        )
    defaults = data.get("defaults")
    if not isinstance(defaults, dict):
        raise ZonesError(f"{file}: 'defaults' must be an object")
    max_ua = _number(file, defaults, "max_ua", "defaults")
    eye_max_ua = _number(file, defaults, "eye_area_max_ua", "defaults")
    muscles = data.get("muscles")
    if not isinstance(muscles, list) or not muscles:
        raise ZonesError(f"{file}: 'muscles' must be a non-empty list")
    zones: dict[str, Zone] = {}
    for n, raw in enumerate(muscles, 1):
        where = f"muscle {n}"
        if not isinstance(raw, dict):
            raise ZonesError(f"{file}: {where} must be an object")
        muscle = _text(file, raw, "muscle", where)
        where = f"muscle {n} ({muscle})"
        if not _ID_RE.match(muscle):
            raise ZonesError(f"{file}: {where}: 'muscle' must be lower_case_with_underscores")
        texts = {k: _text(file, raw, k, where) for k in _TEXT_FIELDS}
        eye = raw.get("eye_area")
        if not isinstance(eye, bool):
            raise ZonesError(f"{file}: {where}: 'eye_area' must be true or false")
        midline = raw.get("midline", False)
        if not isinstance(midline, bool):
            raise ZonesError(f"{file}: {where}: 'midline' must be true or false")
        limit = (
            _number(file, raw, "max_ua", where)
            if "max_ua" in raw
            else (eye_max_ua if eye else max_ua)
        )
        region = raw.get("region", "")
        sides = ("m",) if midline else ("r", "l")
        for side in sides:
            zid = muscle if side == "m" else f"{muscle}_{side}"
            if zid in zones:
                raise ZonesError(f"{file}: {where}: zone {zid!r} appears twice")
            name = texts["name"] if side == "m" else f"{texts['name']} ({SIDE_NAMES[side]})"
            zones[zid] = Zone(
                zid,
                muscle,
                side,
                name,
                texts["action"],
                texts["origin"],
                texts["insertion"],
                texts["direction"],
                eye,
                limit,
                muscle_name=texts["name"],
                region=str(region),
            )
    return zones


@cache
def _load(path: Path) -> dict[str, Zone]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ZonesError(f"{path}: zones file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ZonesError(f"{path}: cannot read the zones file: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ZonesError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    return parse_zones(data, path)


def load_zones(path: Path | None = None) -> dict[str, Zone]:
    """All zones by id, in display order. Raises ZonesError with a clear message."""
    return dict(_load(Path(path) if path is not None else ZONES_FILE))


def check_against_engine(zones: dict[str, Zone]) -> list[str]:
    """Disagreements between the zones file and :mod:`app.engine.zone_ids` (empty: none)."""
    problems = []
    for missing in sorted(zone_ids.ZONE_IDS - zones.keys()):
        problems.append(f"zone {missing!r} is known to the engine but missing from zones.json")
    for extra in sorted(zones.keys() - zone_ids.ZONE_IDS):
        problems.append(f"zone {extra!r} is in zones.json but unknown to the engine")
    for zid, zone in zones.items():
        if zid in zone_ids.ZONE_IDS and zone.eye_area != zone_ids.is_eye_area(zid):
            problems.append(f"zone {zid!r}: eye_area disagrees with the engine")
    return problems


DONE_FRACTION = 0.9  # a step delivered for at least this share of its planned time is done


def step_outcome(delivered_s: float | None, planned_s: float | None) -> str:
    """How a past step went: *done* (delivered ≥ 90 % of its planned time), *partial*
    (some output, less than that) or *skipped* (no output at all)."""
    delivered = delivered_s or 0.0
    if delivered <= 0.0:
        return "skipped"
    if not planned_s or delivered >= DONE_FRACTION * planned_s:
        return "done"
    return "partial"


def zone_states_for_run(
    step_zones: Sequence[Sequence[str]],
    current: int | None,
    skipped: Iterable[int] = (),
    finished: bool = False,
    outcomes: Mapping[int, str] | None = None,
) -> dict[str, str]:
    """Each zone's state in a guided run, for the face map's ``set_zone_states``.

    ``step_zones[i]`` are the zone ids of step i (``ProgramStep.zones``); ``current`` is
    the running step's index (None before the start); ``outcomes`` how each past step went
    (:func:`step_outcome`: done, partial, skipped; ``skipped`` lists skipped indices, for
    callers without outcomes). A zone is *active* in the current step, else *pending* if a
    later step still covers it, else the best outcome of the past steps that covered it.
    """
    skipped = set(skipped)
    outcomes = dict(outcomes or {})
    n = len(step_zones)
    if current is not None and not 0 <= current < n:
        raise ValueError(f"current step {current} is outside the program's {n} steps")
    states: dict[str, str] = {}
    for i, ids in enumerate(step_zones):
        for zid in ids:
            if finished or (current is not None and i < current):
                state = outcomes.get(i, "skipped" if i in skipped else "done")
            elif i == current:
                state = "active"
            else:
                state = "pending"
            rank = {"active": 4, "pending": 3, "done": 2, "partial": 1, "skipped": 0}
            if zid not in states or rank[state] > rank[states[zid]]:
                states[zid] = state
    return states


ZONES: dict[str, Zone] = load_zones()
ZONE_IDS: tuple[str, ...] = tuple(ZONES)
MUSCLES: tuple[str, ...] = tuple(dict.fromkeys(z.muscle for z in ZONES.values()))
BILATERAL_ZONE_IDS: tuple[str, ...] = tuple(z.id for z in ZONES.values() if z.side != "m")
