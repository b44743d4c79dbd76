"""`python -m app programs list | check FILE`: the treatment program library."""

from __future__ import annotations

import argparse
import sys

from app.engine.programs import (
    ProgramError,
    load_library,
    load_program,
    load_program_file,
)
from app.format import clock


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "programs",
        help="list treatment programs or check a program file",
        description="Treatment programs: built-in ones in resources/programs/, "
        "custom ones in the data folder. A program's ID is its file name "
        "without .json.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    ls = actions.add_parser("list", help="list the programs: ID, name, steps, duration")
    ls.set_defaults(func=_list)
    check = actions.add_parser("check", help="validate a program file (exit 0 if valid)")
    check.add_argument("file", metavar="FILE", help="path of a program .json file")
    check.set_defaults(func=_check)
    show = actions.add_parser("show", help="show a program's steps")
    show.add_argument("id", metavar="ID", help="program ID (see: programs list)")
    show.set_defaults(func=_show)
    p.set_defaults(func=_usage, parser=p)


def _usage(args: argparse.Namespace) -> int:
    args.parser.print_usage(sys.stderr)
    print("error: choose an action: list, show ID or check FILE", file=sys.stderr)
    return 2


def _list(args: argparse.Namespace) -> int:
    library = load_library()
    rows = [
        (
            p.id,
            p.name,
            str(len(p.steps)),
            clock(p.duration_s),
            "built-in" if p.builtin else "custom",
        )
        for p in library.programs
    ]
    header = ("ID", "NAME", "STEPS", "DURATION", "SOURCE")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    for err in library.errors:
        print(f"warning: skipped {err}", file=sys.stderr)
    return 0


def _check(args: argparse.Namespace) -> int:
    try:
        program = load_program_file(args.file)
    except ProgramError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"{args.file}: valid program {program.id!r} ({program.name}), "
        f"{_steps(len(program.steps))}, {clock(program.duration_s)}"
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    try:
        program = load_program(args.id)
    except ProgramError as exc:
        known = ", ".join(p.id for p in load_library().programs)
        print(f"error: {exc}. Known: {known}", file=sys.stderr)
        return 1
    print(
        f"{program.id}: {program.name} ({_steps(len(program.steps))}, {clock(program.duration_s)})"
    )
    print(program.description)
    header = ("#", "STEP", "ZONES", "TECHNIQUE", "OUTPUT", "TIME")
    rows = []
    for n, step in enumerate(program.steps, 1):
        o = step.output
        technique = step.technique + ("" if step.direction == "none" else f" {step.direction}")
        rows.append(
            (
                str(n),
                step.name,
                " ".join(step.zones) or "(chosen by hand)",
                technique,
                f"{o.waveform.name.lower()} {o.frequency_hz:g} Hz {o.amplitude_ua:g} µA "
                f"{o.polarity.name.lower()}",
                clock(step.duration_s),
            )
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _steps(n: int) -> str:
    return f"{n} step" if n == 1 else f"{n} steps"
