"""Command-line entry: ``python -m app [subcommand]``; no subcommand opens the console."""

from __future__ import annotations

import argparse
import importlib
import sys

# Each subcommand lives in app/commands/<name>.py and exposes
# ``register(subparsers) -> None`` that adds its parser and sets ``func``.
SUBCOMMANDS = ("simulator", "probe", "measure", "programs", "run", "db", "bench")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="microcurrent",
        description="Microcurrent Console. Without a subcommand, opens the console window.",
    )
    gui = parser.add_argument_group("console window")
    gui.add_argument(
        "--port",
        help="serial port or pyserial URL of the device "
        "(default: start the built-in firmware simulator)",
    )
    gui.add_argument(
        "--baud",
        type=int,
        metavar="N",
        help="line rate of --port in baud (default 921600, which carries up to 21454 S/s; "
        "50 kS/s needs 3000000)",
    )
    gui.add_argument(
        "--database-url",
        help="SQLAlchemy URL of the store "
        "(default: $MICROCURRENT_DATABASE_URL, else a local SQLite file)",
    )
    gui.add_argument(
        "--workspace", choices=("practitioner", "trainer", "technician"), help="workspace to open"
    )
    gui.add_argument(
        "--sample-rate",
        type=int,
        metavar="S/s",
        help="with the built-in simulator only: its sample rate, 100 to 50000 "
        "(default 10000), on a line rate that carries it",
    )
    gui.add_argument(
        "--demo",
        action="store_true",
        help="with the built-in simulator only: start the output at the panel's "
        "settings once connected (demonstrations, training, screenshots)",
    )
    gui.add_argument(
        "--screenshot",
        metavar="PATH",
        help="wait for live data (and, with --workspace technician, for the bench to "
        "open), save a PNG of the main window to PATH and exit",
    )
    gui.add_argument(
        "--after",
        type=float,
        default=1.5,
        metavar="SECONDS",
        help="with --screenshot: seconds of live data before the picture (default 1.5)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"app.commands.{name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from app.ui.launcher import run_console

        return run_console(args)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
