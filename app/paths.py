"""Where the console keeps its files (platformdirs), overridable for tests and kiosks.

``MICROCURRENT_HOME`` points everything (database, settings, logs) at one folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from app import APP_NAME, ORG_NAME


def data_dir() -> Path:
    home = os.environ.get("MICROCURRENT_HOME")
    path = Path(home) if home else Path(platformdirs.user_data_dir(APP_NAME, ORG_NAME))
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_database_url() -> str:
    return os.environ.get("MICROCURRENT_DATABASE_URL") or f"sqlite:///{data_dir() / 'console.db'}"


def settings_file() -> Path:
    """The QSettings INI file (IniFormat) of the console."""
    return data_dir() / "settings.ini"


def resources_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "resources"
