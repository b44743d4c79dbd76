"""Zoom and pan of a frozen capture along the time axis. Pure numpy.

A view is a time span ``(lo, hi)`` in seconds relative to the trigger, inside the full
span of the capture on screen. Zooming keeps the time under the pointer (or the centre)
in place; panning shifts the span. Both are clamped: the view never leaves the full
span and never gets narrower than :data:`MIN_SAMPLES` sample intervals.
:func:`visible_capture` is the part of a capture inside a view — what the measurements
of a zoomed view are computed on.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from app.scope.core.capture import Capture

MIN_SAMPLES = 8  # the narrowest view, in sample intervals
Span = tuple[float, float]


def clamp_span(span: Span, full: Span, min_width: float) -> Span:
    """``span`` moved (not resized) into ``full``; widened to ``min_width``, narrowed to
    ``full`` if needed."""
    f_lo, f_hi = full
    if not f_hi > f_lo:
        raise ValueError("the full span is empty")
    lo, hi = span
    width = min(max(hi - lo, min_width), f_hi - f_lo)
    centre = 0.5 * (lo + hi)
    lo = centre - 0.5 * width
    lo = min(max(lo, f_lo), f_hi - width)
    return (lo, lo + width)


def zoom_span(span: Span, full: Span, factor: float, at: float | None, min_width: float) -> Span:
    """Zoom by ``factor`` (> 1 in, < 1 out) keeping time ``at`` (default: the centre) at
    the same place on screen."""
    if not factor > 0:
        raise ValueError(f"zoom factor must be positive, got {factor}")
    lo, hi = span
    at = 0.5 * (lo + hi) if at is None else min(max(at, lo), hi)
    new_lo = at - (at - lo) / factor
    new_hi = at + (hi - at) / factor
    width = min(max(new_hi - new_lo, min_width), full[1] - full[0])
    # keep the anchor's fraction of the width when the width was limited
    frac = (at - lo) / (hi - lo) if hi > lo else 0.5
    new_lo = at - frac * width
    return clamp_span((new_lo, new_lo + width), full, min_width)


def pan_span(span: Span, full: Span, fraction: float, min_width: float) -> Span:
    """Shift by ``fraction`` of the view's width (positive: later in time)."""
    lo, hi = span
    d = fraction * (hi - lo)
    return clamp_span((lo + d, hi + d), full, min_width)


def visible_capture(cap: Capture, span: Span) -> Capture:
    """The samples of ``cap`` whose times lie in ``span`` (times stay relative to the
    capture's trigger, which may fall outside)."""
    n = len(cap)
    fs = cap.sample_rate
    k_lo = int(np.ceil(span[0] * fs - 1e-9)) + cap.trigger_offset
    k_hi = int(np.floor(span[1] * fs + 1e-9)) + cap.trigger_offset + 1
    k_lo, k_hi = max(0, min(k_lo, n)), max(0, min(k_hi, n))
    if k_hi - k_lo < 2:
        raise ValueError("the view holds fewer than two samples")
    sl = slice(k_lo, k_hi)
    return replace(
        cap,
        start_index=cap.start_index + k_lo,
        trigger_offset=cap.trigger_offset - k_lo,
        current_ua=cap.current_ua[sl],
        voltage_v=cap.voltage_v[sl],
        reference_ua=None if cap.reference_ua is None else cap.reference_ua[sl],
        flags=None if cap.flags is None else cap.flags[sl],
    )


def is_zoomed(span: Span | None, full: Span) -> bool:
    if span is None:
        return False
    tol = 1e-9 * max(abs(full[1] - full[0]), 1e-12)
    return abs(span[0] - full[0]) > tol or abs(span[1] - full[1]) > tol
