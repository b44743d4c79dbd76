"""Where the console keeps its files (platformdirs), overridable for tests and kiosks.

``MICROCURRENT_HOME`` points everything (database, settings, logs) at one folder.

Every file the console writes that holds health data or secrets (database, backups,
exports, reports, logs, settings) is created readable by its owner only (0600), and the
folders the console creates for them 0700: :func:`private_dir`, :func:`create_private`.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

import platformdirs

from app import APP_NAME, ORG_NAME

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """``path`` as a folder; each folder created here (parents too) is 0700. An existing
    folder keeps its mode (it may be the user's own, chosen in a dialog)."""
    path = Path(path)
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for p in reversed(missing):
        with contextlib.suppress(FileExistsError):
            p.mkdir(mode=DIR_MODE)
            p.chmod(DIR_MODE)  # whatever the umask
    if not path.is_dir():
        raise NotADirectoryError(f"{path} is not a folder")
    return path


def create_private(path: Path, *, truncate: bool = False) -> Path:
    """Make sure ``path`` exists as a file readable by its owner only (0600).

    Created with that mode (never briefly readable by others); an existing file is
    restricted. ``truncate``: empty it (a file about to be rewritten)."""
    path = Path(path)
    flags = os.O_CREAT | os.O_WRONLY | (os.O_TRUNC if truncate else 0)
    fd = os.open(path, flags, FILE_MODE)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) != FILE_MODE:
            os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def open_private(path: Path, mode: str = "w", **kwargs):
    """``open(path, mode)`` for writing a file that is created (or restricted to) 0600."""
    create_private(path, truncate="w" in mode)
    return open(path, mode, **kwargs)  # noqa: SIM115 - the caller closes it


def data_dir() -> Path:
    home = os.environ.get("MICROCURRENT_HOME")
    path = Path(home) if home else Path(platformdirs.user_data_dir(APP_NAME, ORG_NAME))
    return private_dir(path)


def default_database_url() -> str:
    return os.environ.get("MICROCURRENT_DATABASE_URL") or f"sqlite:///{data_dir() / 'console.db'}"


def settings_file() -> Path:
    """The QSettings INI file (IniFormat) of the console: PIN hash and clinic limits, so it
    is created 0600 before QSettings writes it (QSettings keeps an existing file's mode)."""
    path = data_dir() / "settings.ini"
    create_private(path)
    return path


def log_file() -> Path:
    """The console's log (full detail of errors shown in words on screen), 0600."""
    path = private_dir(data_dir() / "logs") / "console.log"
    create_private(path)
    return path


def resources_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "resources"
