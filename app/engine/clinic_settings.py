"""The clinic's settings as the store keeps them: a JSON object, checked. Pure (no Qt).

The values are :class:`~app.engine.limits.ClinicSettings`; the store (``app.store.clinic``:
one row shared by every room) keeps them as a JSON object with a schema version.
:func:`settings_from_dict` turns a stored object into settings the output authority can
use — a value that is missing or damaged falls back to its default and is reported, so
bad stored settings never leave a console without limits — and :func:`settings_to_dict`
is its inverse. :func:`check_clinic_settings` names what the bench would refuse to save.

The output authority converts every reading of the store's row with these (one place);
``app.service.clinic_limits`` re-exports them beside the one-time import of an old
``settings.ini``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from typing import Any

from app.engine import zone_ids
from app.engine.limits import ClinicSettings

SCHEMA_VERSION = 1
ZONES_KEY = "zone_max_ua"  # JSON object: zone id -> µA (zones without one use defaults)
ZONE_MIN_UA = 10.0
#: the fields the bench edits: name -> (label, unit, lowest, highest)
FIELDS: dict[str, tuple[str, str, float, float]] = {
    "max_current_ua": ("Maximum current", "µA", 10.0, 1000.0),
    "eye_area_max_ua": ("Eye-area maximum", "µA", 10.0, 1000.0),
    "density_warn_ua_per_cm2": ("Current-density warning", "µA/cm²", 1.0, 5000.0),
    "electrode_area_cm2": ("Probe contact area", "cm²", 0.05, 20.0),
}


def check_clinic_settings(cs: ClinicSettings) -> list[str]:
    """Problems with ``cs`` as the bench would save it (empty when fine)."""
    problems = cs.validate()
    for name, (label, unit, lo, hi) in FIELDS.items():
        value = getattr(cs, name)
        if isinstance(value, int | float) and math.isfinite(value) and not lo <= value <= hi:
            problems.append(f"{label} {value:g} {unit} is outside {lo:g}..{hi:g} {unit}")
    if cs.eye_area_max_ua > cs.max_current_ua:
        problems.append(
            f"the eye-area maximum ({cs.eye_area_max_ua:g} µA) cannot be above "
            f"the clinic maximum ({cs.max_current_ua:g} µA)"
        )
    problems += _zone_problems(cs)
    return problems


def _zone_problems(cs: ClinicSettings) -> list[str]:
    """A zone's own limit may lower its default, never rise above the clinic's maximum
    (or, around the eyes, the eye-area maximum)."""
    problems = []
    for zone, value in sorted(cs.zone_max_ua.items()):
        if not (
            zone_ids.is_known_zone(zone) and isinstance(value, int | float) and math.isfinite(value)
        ):
            continue  # named by ClinicSettings.validate()
        if value < ZONE_MIN_UA:
            problems.append(f"zone {zone}: {value:g} µA is below {ZONE_MIN_UA:g} µA")
        elif zone_ids.is_eye_area(zone) and value > cs.eye_area_max_ua:
            problems.append(
                f"zone {zone}: {value:g} µA is above the eye-area maximum "
                f"({cs.eye_area_max_ua:g} µA)"
            )
        elif value > cs.max_current_ua:
            problems.append(
                f"zone {zone}: {value:g} µA is above the clinic maximum ({cs.max_current_ua:g} µA)"
            )
    return problems


#: the other ClinicSettings fields kept in the store (bench edits FIELDS; these keep values)
OTHER_FIELDS = (
    "intensity_step_ua",
    "slew_ua_per_s",
    "max_session_s",
    "confirm_timeout_s",
    "lock_after_s",  # the console's lock after inactivity (the manager's screen sets it)
)


def settings_to_dict(cs: ClinicSettings) -> dict[str, Any]:
    """``cs`` as the store keeps it (a JSON object, with a schema version)."""
    out: dict[str, Any] = {"version": SCHEMA_VERSION}
    for name in (*FIELDS, *OTHER_FIELDS):
        out[name] = float(getattr(cs, name))
    out[ZONES_KEY] = {z: float(v) for z, v in sorted(cs.zone_max_ua.items())}
    return out


def settings_from_dict(data: dict[str, Any]) -> tuple[ClinicSettings, list[str]]:
    """The settings in a store's JSON object (empty: the defaults) and what was wrong."""
    zones = data.get(ZONES_KEY)
    raw = {k: v for k, v in data.items() if k != ZONES_KEY}
    raw[ZONES_KEY] = None if zones is None else json.dumps(zones)
    cs, problems = read_settings(raw.get)
    others: dict[str, Any] = {}
    for name in OTHER_FIELDS:
        value = data.get(name)
        if value is None:
            continue
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and value > 0
        ):
            others[name] = float(value)
        else:
            problems.append(
                f"{name}: stored value {value!r} is not a positive number; "
                f"default {getattr(cs, name):g} used"
            )
    return dataclasses.replace(cs, **others), problems


def read_settings(get: Callable[[str], Any]) -> tuple[ClinicSettings, list[str]]:
    """The settings from ``get(name)`` (a stored object's or an INI group's values; None:
    not there) and what was wrong (defaults used for those)."""
    defaults = ClinicSettings()
    values: dict[str, float] = {}
    problems: list[str] = []
    version = get("version")
    if version is not None and str(version) != str(SCHEMA_VERSION):
        problems.append(f"clinic settings version {version} is not {SCHEMA_VERSION}: defaults used")
        return defaults, problems
    for name, (label, unit, lo, hi) in FIELDS.items():
        raw = get(name)
        if raw is None:
            continue
        try:
            value = float(raw)
        except (TypeError, ValueError):
            problems.append(
                f"{label}: stored value {raw!r} is not a number; "
                f"default {getattr(defaults, name):g} {unit} used"
            )
            continue
        if not (math.isfinite(value) and lo <= value <= hi):
            problems.append(
                f"{label}: stored value {value:g} {unit} is outside "
                f"{lo:g}..{hi:g}; default {getattr(defaults, name):g} used"
            )
            continue
        values[name] = value
    zones, zone_problems = _load_zones(get(ZONES_KEY))
    problems += zone_problems
    cs = dataclasses.replace(defaults, **values, zone_max_ua=zones)
    if cs.eye_area_max_ua > cs.max_current_ua:
        problems.append(
            "stored eye-area maximum was above the clinic maximum: both set to their defaults"
        )
        cs = dataclasses.replace(
            cs, max_current_ua=defaults.max_current_ua, eye_area_max_ua=defaults.eye_area_max_ua
        )
    bad = _zone_problems(cs)
    if bad:
        problems += [f"{p}: that zone's default used" for p in bad]
        cs = dataclasses.replace(
            cs,
            zone_max_ua={
                z: v
                for z, v in cs.zone_max_ua.items()
                if not _zone_problems(dataclasses.replace(cs, zone_max_ua={z: v}))
            },
        )
    return cs, problems


def _load_zones(raw: object) -> tuple[dict[str, float], list[str]]:
    if raw in (None, ""):
        return {}, []
    try:
        data = json.loads(str(raw))
    except ValueError:
        return {}, [f"zone limits: stored value {str(raw)[:40]!r} is not JSON; defaults used"]
    if not isinstance(data, dict):
        return {}, ["zone limits: stored value is not a zone → µA table; defaults used"]
    zones: dict[str, float] = {}
    problems = []
    for zone, value in data.items():
        if not zone_ids.is_known_zone(zone):
            problems.append(f"zone limits: unknown zone {zone!r} ignored")
        elif not (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        ):
            problems.append(f"zone limits: {zone} = {value!r} is not a number; default used")
        else:
            zones[zone] = float(value)
    return zones, problems
