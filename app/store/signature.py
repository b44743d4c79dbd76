"""A client's signature on a consent, as stored: pure data, no Qt.

A **drawn** signature is kept as compact vector strokes: the pad's size and, per stroke
(pen down to pen up), its points as a flat list of whole pad pixels
``[x0, y0, x1, y1, …]``. A few hundred points make a signature (a few kB of JSON); it
is drawn back at any size (app/ui/records/signature_pad.py). A **typed** signature is
the client's full name typed by them (or for them, with their agreement) where no pen,
mouse or touch screen is at hand: the console is keyboard-first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DRAWN = "drawn"
TYPED = "typed"
KINDS = (DRAWN, TYPED)
MAX_POINTS = 20_000  # a signature, not a drawing
MIN_POINTS = 5  # fewer is a click, not a signature
MAX_PAD = 4000  # pixels, either side
MAX_NAME = 200


class SignatureError(ValueError):
    """A signature that cannot be stored, and why (in words)."""


@dataclass(frozen=True, slots=True)
class Signature:
    """``kind`` DRAWN (``strokes`` on a ``width``×``height`` pad) or TYPED; ``name`` is
    the signer's name as printed under the signature (typed: the signature itself)."""

    kind: str
    name: str
    strokes: tuple[tuple[int, ...], ...] = ()
    width: int = 0
    height: int = 0

    @property
    def points(self) -> int:
        return sum(len(s) // 2 for s in self.strokes)

    def problem(self) -> str | None:
        """Why this signature cannot be stored, or None."""
        if self.kind not in KINDS:
            return f"unknown kind of signature {self.kind!r}"
        name = self.name.strip()
        if len(name) > MAX_NAME:
            return f"the signer's name is longer than {MAX_NAME} characters"
        if self.kind == TYPED:
            if not name:
                return "the typed signature is empty: type the client's full name"
            if any(ord(c) < 32 for c in name):
                return "the typed signature holds a line break or a control character"
            return None
        if not (0 < self.width <= MAX_PAD and 0 < self.height <= MAX_PAD):
            return "the signature pad's size is not a valid size"
        if self.points < MIN_POINTS:
            return "the signature box is empty: the client signs in it"
        if self.points > MAX_POINTS:
            return f"the signature has more than {MAX_POINTS} points"
        for stroke in self.strokes:
            if len(stroke) % 2 or not stroke:
                return "a stroke of the signature is not a list of x, y points"
            for i, v in enumerate(stroke):
                limit = self.width if i % 2 == 0 else self.height
                if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= limit:
                    return "a point of the signature lies outside its pad"
        return None

    def to_json(self) -> dict[str, Any]:
        """The stored form (the consent's ``signature`` column); TYPED stores no strokes."""
        if self.kind == TYPED:
            return {"v": 1}
        return {
            "v": 1,
            "w": self.width,
            "h": self.height,
            "strokes": [list(s) for s in self.strokes],
        }

    @classmethod
    def from_stored(cls, kind: str | None, data: Any, name: str | None) -> Signature | None:
        """The signature of a stored consent (None: recorded before signatures were)."""
        if kind not in KINDS:
            return None
        d = data if isinstance(data, dict) else {}
        strokes = tuple(
            tuple(int(v) for v in stroke)
            for stroke in d.get("strokes", ())
            if isinstance(stroke, list)
        )
        return cls(kind, name or "", strokes, int(d.get("w", 0)), int(d.get("h", 0)))


def drawn(
    strokes: list[list[tuple[float, float]]], width: int, height: int, name: str = ""
) -> Signature:
    """A drawn signature from the pad's strokes (points in pad pixels, rounded and
    clamped to the pad; repeated points dropped)."""
    out: list[tuple[int, ...]] = []
    for stroke in strokes:
        flat: list[int] = []
        last: tuple[int, int] | None = None
        for x, y in stroke:
            p = (min(max(round(x), 0), width), min(max(round(y), 0), height))
            if p != last:
                flat += p
                last = p
        if flat:
            out.append(tuple(flat))
    return Signature(DRAWN, name.strip(), tuple(out), width, height)


def typed(name: str) -> Signature:
    return Signature(TYPED, name.strip())
