"""Opening the technician's bench in tests: the PIN gate holds, so tests give the PIN the
way a non-interactive run does (the environment; conftest removes it after each test).
The settings are a fresh temporary file, so the first entry sets this PIN up."""

from __future__ import annotations

import os

from app.ui.workspaces import PIN_ENV

TEST_PIN = "246810"


def unlock_bench(*_unused: object) -> None:
    os.environ[PIN_ENV] = TEST_PIN
