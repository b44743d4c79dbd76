"""Display formatting shared by the records widgets."""

from __future__ import annotations

import datetime as dt
from typing import Any

# The console's one duration rule (app/format.py), for the records widgets' imports.
from app.format import clock as clock
from app.format import duration as duration


def local_date(day: dt.date | None) -> str:
    return day.strftime("%d %b %Y") if day else "—"


def local_datetime(when: dt.datetime | None) -> str:
    return when.astimezone().strftime("%d %b %Y %H:%M") if when else "—"


def local_time(when: dt.datetime | None) -> str:
    return when.astimezone().strftime("%H:%M:%S") if when else "—"


def number(x: float | None, unit: str, digits: int = 1) -> str:
    return "—" if x is None else f"{x:.{digits}f} {unit}"


# field-name endings that carry a unit (the engine's and the store's naming)
_UNITS = (
    ("_ua_per_cm2", "µA/cm²"),
    ("_ua", "µA"),
    ("_uc", "µC"),
    ("_hz", "Hz"),
    ("_ohm", "Ω"),
    ("_ms", "ms"),
    ("_s", "s"),
    ("_v", "V"),
    ("_pct", "%"),
)


def zone_names(field: str) -> str:
    """A stored step zone (``"platysma_l,platysma_r"``, ``"manual"``, ``"studio"``) in
    words: ``"Platysma (R, L)"``; sides of one muscle are grouped."""
    from app.engine.zones import ZONES

    ids = [z for z in field.split(",") if z]
    if not ids:
        return "—"
    groups: dict[str, list[str]] = {}
    for zid in ids:
        zone = ZONES.get(zid)
        if zone is None:
            groups.setdefault(zid.replace("_", " ").capitalize(), [])
            continue
        name = zone.muscle_name or zone.name
        sides = groups.setdefault(name, [])
        if zone.side in ("l", "r"):
            sides.append(zone.side.upper())
    return ", ".join(
        f"{name} ({', '.join(sides)})" if sides else name for name, sides in groups.items()
    )


def program_names() -> dict[str, str]:
    """Program id → display name, for every program in the library now."""
    from app.engine.programs import load_library

    return {p.id: p.name for p in load_library().programs}


def program_name(program_id: str | None, names: dict[str, str] | None = None) -> str:
    """The program's display name (a removed or unknown one: its id)."""
    if not program_id:
        return "no program"
    if program_id == "studio":
        return "Waveform studio"
    return (program_names() if names is None else names).get(program_id, program_id)


def field_value(key: str, value: object) -> str:
    """``("max_current_ua", 1000)`` → ``"max current 1000 µA"``; for event details."""
    label, unit = key, ""
    for ending, u in _UNITS:
        if key.endswith(ending) and len(key) > len(ending):
            label, unit = key[: -len(ending)], u
            break
    label = label.replace("_", " ")
    if value is None:
        text = "—"
        unit = ""
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, float):
        text = f"{value:.4g}"
    elif isinstance(value, list | tuple):
        text = ", ".join(str(v) for v in value)
        if key == "zones":
            text = zone_names(",".join(str(v) for v in value))
    else:
        text = str(value)
        if key in ("zone", "zones"):
            text = zone_names(text)
    return f"{label} {text}" + (f" {unit}" if unit else "")


def event_details(payload: dict) -> str:
    """The event's message first, then its other fields in words with their units
    (``max current 1000 µA``; floats to 4 significant digits; zones by name)."""
    head = str(payload.get("message", ""))
    rest = "; ".join(field_value(k, v) for k, v in payload.items() if k != "message")
    return f"{head} — {rest}" if head and rest else head or rest


def damage_note(rec: Any) -> str:
    """' 2 s of the recording … could not be read …' for a recording (or its overview)
    with chunks the store holds damaged, '' otherwise: what is missing, said where the
    recording shows (a leading space, to follow another sentence)."""
    chunks = int(getattr(rec, "damaged_chunks", 0) or 0)
    if not chunks:
        return ""
    rate = float(getattr(rec, "sample_rate", 0.0) or 0.0)
    lost = int(getattr(rec, "damaged_samples", 0) or 0)
    pieces = f"{chunks} stored {'piece' if chunks == 1 else 'pieces'}"
    if not int(getattr(rec, "n_samples", 0) or 0):
        length = f"{duration(lost / rate)}, " if rate > 0 else ""
        return (
            f" None of the recording ({length}{pieces}) could be read: it is damaged in the "
            "records."
        )
    span = f"{duration(lost / rate)} of the recording" if rate > 0 else "Part of the recording"
    return (
        f" {span} ({pieces}) could not be read (damaged in the records) and is shown as a "
        "gap; the rest is as recorded."
    )
