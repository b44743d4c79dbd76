"""`python -m app bench NAME [--json]`: run a benchmark from app/bench/<NAME>.py.

Each benchmark module exposes ``run(args) -> dict`` of figures; ``all`` runs every
module found in app/bench.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys

import app.bench


def available() -> list[str]:
    return sorted(
        m.name for m in pkgutil.iter_modules(app.bench.__path__) if not m.name.startswith("_")
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="run a performance benchmark",
        description="Run a benchmark (app/bench/<NAME>.py) and print its figures.",
    )
    p.add_argument(
        "name", metavar="NAME", help="benchmark to run: " + ", ".join(available() + ["all"])
    )
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.add_argument(
        "--seconds",
        type=float,
        help="duration of stream/latency/memory/recording "
        "(default: each benchmark's own; stream runs 10 minutes)",
    )
    p.add_argument(
        "--rounds",
        type=int,
        help="estop: number of stops (default 100); "
        "idle: measurements of each workspace (median; default 1)",
    )
    p.add_argument(
        "--sample-rate",
        type=int,
        metavar="S/s",
        help="stream/latency: the simulator's sample rate (default 10000; up to "
        "50000, on a line rate that carries it); recording: the device data's",
    )
    p.add_argument("--frames", type=int, help="scope: number of frames to render")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    names = available()
    if args.name == "all":
        chosen = names
    elif args.name in names:
        chosen = [args.name]
    else:
        print(
            f"error: unknown benchmark '{args.name}'; available: {', '.join(names + ['all'])}",
            file=sys.stderr,
            flush=True,
        )
        return 2
    results: dict[str, dict] = {}
    for name in chosen:
        module = importlib.import_module(f"app.bench.{name}")
        results[name] = module.run(args)
    out = results[chosen[0]] if args.name != "all" else results
    if args.json:
        print(json.dumps(out), flush=True)
    else:
        for name, figures in results.items():
            print(f"{name}:")
            for key, value in figures.items():
                print(f"  {key}: {value}")
    failed = [n for n, f in results.items() if f.get("passed") is False]
    return 1 if failed else 0
