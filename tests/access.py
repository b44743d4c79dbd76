"""Who works at the console in tests: every test's console signs in a manager from the
environment (conftest ``_an_operator_signs_in``), as a headless run does; the first
start of a fresh database creates that manager. ``unlock_bench`` is kept for the tests
written when the bench had a PIN of its own: the bench is now opened by the role of the
operator signed in, and a manager may open it."""

from __future__ import annotations

import os

from app.ui.access import ENV_OPERATOR, ENV_SECRET

TEST_OPERATOR = "Test Manager"
TEST_SECRET = "test-secret-2468"


def unlock_bench(*_unused: object) -> None:
    """Sign in a manager (who may open the bench) where nobody can type."""
    os.environ[ENV_OPERATOR] = TEST_OPERATOR
    os.environ[ENV_SECRET] = TEST_SECRET


def no_operator_from_env(monkeypatch) -> None:
    """Nobody signs in from the environment: the console shows its sign-in page."""
    monkeypatch.delenv(ENV_OPERATOR, raising=False)
    monkeypatch.delenv(ENV_SECRET, raising=False)


def doc_images(tmp_path):
    """Where a test's screenshot goes: a temporary folder, or the folder named by
    DOC_SCREENSHOTS (``DOC_SCREENSHOTS=docs/images`` refreshes the guides' pictures).
    Tests never write into the tracked tree on their own."""
    import os
    from pathlib import Path

    target = os.environ.get("DOC_SCREENSHOTS")
    path = Path(target) if target else Path(tmp_path)
    path.mkdir(parents=True, exist_ok=True)
    return path
