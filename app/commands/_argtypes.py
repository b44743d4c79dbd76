"""Argument types shared by the subcommands: each names what is wrong with a bad value."""

from __future__ import annotations

import argparse
import math


def fraction(text: str) -> float:
    """A rate between 0 and 1 (e.g. --corrupt 0.0001 for 1 byte in 10,000)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise argparse.ArgumentTypeError(
            f"{text} is not a fraction between 0 and 1 (e.g. 0.0001 for 1 in 10,000)"
        )
    return value
