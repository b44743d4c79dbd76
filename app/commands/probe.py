"""`python -m app probe`."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("probe", help="(not available yet)")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    print("error: 'probe' is not available in this build yet", flush=True)
    return 2
