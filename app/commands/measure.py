"""`python -m app measure CAPTURE.csv [--json]`: measurements of an exported scope capture."""

from __future__ import annotations

import argparse
import json
import math
import sys

from app.scope.core.capture import CaptureFileError, read_csv
from app.scope.core.measure import JSON_KEYS, MEASUREMENTS, json_ready, measure


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "measure",
        help="measure an exported scope capture (CSV)",
        description="Print the scope measurements (definitions: docs/scope.md) of a capture "
        "exported from the scope as CSV.",
    )
    p.add_argument("capture", metavar="CAPTURE.csv", help="capture file exported by the scope")
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object with the keys " + ", ".join(JSON_KEYS),
    )
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    try:
        capture = read_csv(args.capture)
    except CaptureFileError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    values = measure(capture)
    if args.json:
        print(json.dumps(json_ready(values)), flush=True)
        return 0
    print(f"{args.capture}: {capture.valid_count} samples at {capture.sample_rate:g} S/s")
    for key, (label, unit) in MEASUREMENTS.items():
        x = values.get(key, float("nan"))
        if key == "duty" and math.isfinite(x):
            x *= 100.0
        text = "—" if not math.isfinite(x) else f"{x:.6g} {unit}"
        print(f"  {label:<26} {text}")
    return 0
