"""Display formatting shared by the records widgets."""

from __future__ import annotations

import datetime as dt


def local_date(day: dt.date | None) -> str:
    return day.strftime("%d %b %Y") if day else "—"


def local_datetime(when: dt.datetime | None) -> str:
    return when.astimezone().strftime("%d %b %Y %H:%M") if when else "—"


def local_time(when: dt.datetime | None) -> str:
    return when.astimezone().strftime("%H:%M:%S") if when else "—"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m} min {s:02d} s" if m else f"{s} s"


def number(x: float | None, unit: str, digits: int = 1) -> str:
    return "—" if x is None else f"{x:.{digits}f} {unit}"


def clock(seconds: float | None) -> str:
    """``m:ss`` for table cells."""
    if seconds is None:
        return "—"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d}"
