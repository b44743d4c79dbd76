"""The records' fixed vocabularies (session outcomes, service procedures). No SQLAlchemy.

Kept apart from :mod:`app.store.models` so the engine and the console's widgets can name
an outcome without importing the database layer: the console opens its window first and
its client records in the background (start-up time).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Outcome(enum.StrEnum):
    """How a treatment session ended (``None`` while it is running)."""

    COMPLETED = "completed"
    STOPPED = "stopped"
    EMERGENCY_STOPPED = "emergency_stopped"
    INTERRUPTED = "interrupted"  # the console ended without closing the session (crash)
    FAULT = "fault"

    @property
    def label(self) -> str:
        return self.value.replace("_", "-").capitalize()


# A step that was under way when its session ended early (stopped, emergency-stopped,
# interrupted, a fault) is recorded with what it delivered until then, and the outcome
# that ended it in its ``parameters[ENDED_EARLY]`` (app.engine.recorder).
ENDED_EARLY = "ended_early"
# A step still under way: its row is written once it delivered output and brought up to
# date every second; this mark goes at its end. A session closed as interrupted at
# the next start (the console killed mid-step) has it replaced by ENDED_EARLY.
IN_PROGRESS = "in_progress"
_ENDED_EARLY_WORDS = {
    Outcome.STOPPED: "session stopped",
    Outcome.EMERGENCY_STOPPED: "emergency stop",
    Outcome.INTERRUPTED: "session interrupted",
    Outcome.FAULT: "device fault",
}


def ended_early_text(parameters: object) -> str:
    """'ended early (emergency stop)' for a step its session's end cut short, else ''."""
    why = parameters.get(ENDED_EARLY) if isinstance(parameters, dict) else None
    try:
        outcome = Outcome(why) if isinstance(why, str) else None
    except ValueError:
        outcome = None
    if outcome is None or outcome not in _ENDED_EARLY_WORDS:
        return ""
    return f"ended early ({_ENDED_EARLY_WORDS[outcome]})"


class ServiceKind(enum.StrEnum):
    """What a service record is the result of (a procedure, or a change of the clinic's
    settings or of the technician PIN)."""

    CALIBRATION = "calibration"
    SELFTEST = "selftest"
    WATCHDOG_TEST = "watchdog_test"
    CLINIC_SETTINGS = "clinic_settings"  # a change of the clinic's limits (old → new)
    PIN = "pin"  # the technician PIN set, changed or reset (never the PIN or its hash)

    @property
    def label(self) -> str:
        return {
            "calibration": "Calibration",
            "selftest": "Self-test",
            "watchdog_test": "Watchdog test",
            "clinic_settings": "Clinic settings",
            "pin": "Technician PIN",
        }[self.value]


@dataclass(frozen=True, slots=True)
class ZoneRule:
    """One face-map zone a client's screening excludes or holds under a ceiling."""

    zone: str  # face-map zone id, e.g. "masseter_l"
    item_id: str  # the screening item that names it
    reason: str  # the item's reason, e.g. "Filler or toxin injection site"
    max_ua: float | None  # the zone's ceiling for this client; None: excluded
    overridden: bool = False  # an exclusion the practitioner acknowledged overriding

    @property
    def excluded(self) -> bool:
        """Output on this zone is refused (an exclusion with no acknowledged override)."""
        return self.max_ua is None and not self.overridden


@dataclass(frozen=True, slots=True)
class ClientFacts:
    """One reading of a client's record, as the output authority needs it."""

    client_id: int
    name: str
    allowed: bool  # screening cleared and unexpired, consent current (or the training head)
    status: str  # the screening status (cleared, blocked, expired, ...) or "unknown"
    reasons: tuple[str, ...]  # operator-readable, one per problem or accepted override
    limit_ua: float | None  # the client's own limit (None: none set)
    is_training: bool
    checked_at: float  # time.monotonic() of the reading
    error: str = ""  # the record could not be read (then allowed is False)
    zone_rules: tuple[ZoneRule, ...] = ()  # from the latest screening (app.store.screening)
    # the intensity the client found comfortable per zone, last time (zone id, µA)
    comfort_ua: tuple[tuple[str, float], ...] = ()

    def excluded_zones(self) -> dict[str, ZoneRule]:
        """The zones output is refused on (zone id → the first rule that excludes it)."""
        out: dict[str, ZoneRule] = {}
        for rule in self.zone_rules:
            if rule.excluded:
                out.setdefault(rule.zone, rule)
        return out

    def comfort(self, zone: str) -> float | None:
        """The comfortable intensity remembered for ``zone`` (None: none yet)."""
        return dict(self.comfort_ua).get(zone)

    def summary(self) -> str:
        """Why treatment is not allowed, in one line ('' when it is)."""
        if self.error:
            return f"the client's record cannot be read: {self.error}"
        if self.allowed:
            return ""
        return "; ".join(r.rstrip(".") for r in self.reasons) or f"screening {self.status}"


# what a practitioner's signature of a session means (21 CFR 11.50(a)(3))
SIGNATURE_MEANINGS = ("performed",)
# what an amendment of a signed session corrects: key → label
AMENDABLE = {
    "notes": "Session notes",
    "outcome": "Outcome",
    "steps": "Steps",
    "other": "Other",
}
