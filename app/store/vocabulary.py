"""The records' fixed vocabularies (session outcomes, service procedures). No SQLAlchemy.

Kept apart from :mod:`app.store.models` so the engine and the console's widgets can name
an outcome without importing the database layer: the console opens its window first and
its client records in the background (start-up time).
"""

from __future__ import annotations

import enum


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


class ServiceKind(enum.StrEnum):
    """What a service record is the result of."""

    CALIBRATION = "calibration"
    SELFTEST = "selftest"
    WATCHDOG_TEST = "watchdog_test"

    @property
    def label(self) -> str:
        return {"calibration": "Calibration", "selftest": "Self-test",
                "watchdog_test": "Watchdog test"}[self.value]
