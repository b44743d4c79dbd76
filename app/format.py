"""One way to write a duration, wherever the console shows one: on screen, in reports, in
commands and in messages.

**One rounding rule**: a duration is shown in whole seconds, rounded *up*
(:func:`whole_seconds`). A countdown then reads 0:01 until its step has really ended and
never shows 0:00 while output runs; a step's time left and the session's time left agree;
a lockout never reads "0 s" while it lasts; and an elapsed time is never shown shorter than
it was. Values are first rounded to the microsecond, so float noise (``60.0000001``)
does not add a second.

Two spellings of that one number:

* :func:`clock` ``m:ss`` — countdowns and table cells (``2:05``, ``18:00``, ``75:00``);
* :func:`duration` in words — sentences and summaries (``42 s``, ``2 min 05 s``).

Pure: no Qt, usable from every layer (the pure cores included).
"""

from __future__ import annotations

import math

MISSING = "—"


def whole_seconds(seconds: float) -> int:
    """``seconds`` as whole seconds, rounded up (never negative): the console's one rule."""
    if not math.isfinite(seconds):
        raise ValueError(f"not a duration: {seconds!r}")
    return max(0, math.ceil(round(seconds, 6)))


def clock(seconds: float | None) -> str:
    """``m:ss`` (minutes not wrapped into hours): ``0:42``, ``2:05``, ``75:00``; ``—``
    for no value."""
    if seconds is None:
        return MISSING
    m, s = divmod(whole_seconds(seconds), 60)
    return f"{m}:{s:02d}"


def duration(seconds: float | None) -> str:
    """In words: ``42 s``, ``1 min 00 s``, ``2 min 05 s``; ``—`` for no value."""
    if seconds is None:
        return MISSING
    m, s = divmod(whole_seconds(seconds), 60)
    return f"{m} min {s:02d} s" if m else f"{s} s"
