"""`python -m app simulator`."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulator", help="(not available yet)")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    print("error: 'simulator' is not available in this build yet", flush=True)
    return 2
