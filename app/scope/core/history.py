"""The scope's capture history: the last captures, each with its time, a pin and a label.
Pure Python.

New captures push the oldest unpinned one out once :attr:`CaptureHistory.maxlen`
unpinned captures are held; pinned captures stay (at most :data:`MAX_PINNED`) until
unpinned or cleared. Entries keep the order they were taken in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from app.scope.core.capture import Capture

MAX_PINNED = 32
MAX_LABEL = 80


def clean_label(text: str) -> str:
    """A label as stored: one line, no control characters, at most MAX_LABEL characters."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(text))
    return " ".join(text.split())[:MAX_LABEL]


@dataclass(slots=True)
class HistoryEntry:
    capture: Capture
    pinned: bool = False
    label: str = ""

    @property
    def time(self) -> float:
        """Wall-clock time (s since the epoch) the capture was taken; 0 if unknown."""
        return self.capture.wall_time


class CaptureHistory:
    """A list of :class:`HistoryEntry`; indexing gives the capture."""

    def __init__(self, maxlen: int = 32) -> None:
        if maxlen < 1:
            raise ValueError(f"history length must be at least 1, got {maxlen}")
        self.maxlen = maxlen
        self.entries: list[HistoryEntry] = []

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> Capture:
        return self.entries[index].capture

    def __iter__(self) -> Iterator[Capture]:
        return (e.capture for e in self.entries)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def clear(self) -> None:
        self.entries.clear()

    def append(self, capture: Capture, *, pinned: bool = False, label: str = "") -> int:
        """Add a capture; returns how many entries before it were pushed out."""
        self.entries.append(HistoryEntry(capture, False, clean_label(label)))
        if pinned:
            self.pin(len(self.entries) - 1, True)
        return self._trim()

    def _trim(self) -> int:
        removed = 0
        while sum(not e.pinned for e in self.entries) > self.maxlen:
            k = next(i for i, e in enumerate(self.entries) if not e.pinned)
            del self.entries[k]
            removed += 1
        return removed

    def pin(self, index: int, pinned: bool = True) -> None:
        entry = self.entries[index]
        if pinned and not entry.pinned and self.pinned_count >= MAX_PINNED:
            raise ValueError(f"at most {MAX_PINNED} captures can be pinned; unpin one first")
        entry.pinned = bool(pinned)

    def set_label(self, index: int, label: str) -> None:
        self.entries[index].label = clean_label(label)

    @property
    def pinned_count(self) -> int:
        return sum(e.pinned for e in self.entries)
