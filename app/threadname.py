"""Threads named at the operating system's level, so ``top -H``, ``ps -L`` and
``/proc/<pid>/task/*/comm`` tell the console's threads apart (``python -m app bench idle``
reports CPU per thread by these names). No Qt: a ``QThread`` names itself from its
``objectName``."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading

_PR_SET_NAME = 15
_libc: ctypes.CDLL | None = None


def name_os_thread(name: str | None = None) -> bool:
    """Give the calling thread ``name`` (default: its Python name) as its OS name
    (Linux: the first 15 bytes). True if it was set; elsewhere nothing happens."""
    global _libc
    if not sys.platform.startswith("linux"):
        return False
    text = name if name is not None else threading.current_thread().name
    try:
        if _libc is None:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return _libc.prctl(_PR_SET_NAME, text.encode("utf-8", "replace")[:15], 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False
