"""`python -m app simulator`: the firmware simulator on a pseudo-terminal (or TCP)."""

from __future__ import annotations

import argparse
import math
import sys

from app.commands._argtypes import fraction as _fraction


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (math.isfinite(value) and value >= 0.0):
        raise argparse.ArgumentTypeError(f"{text} s: must be 0 or more seconds")
    return value


def _int_range(lo: int, hi: int, what: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{what} {value}: must be {lo}..{hi}")
        return value

    return parse


def _script(text: str) -> list[tuple[float, bool]]:
    from app.device.simulator import parse_contact_script

    try:
        return parse_contact_script(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "simulator",
        help="run the firmware simulator on a pseudo-terminal",
        description="Simulated microcurrent device. Prints 'PORT <path or URL>' as its "
        "first line, then serves the wire protocol (docs/protocol.md) until SIGTERM/SIGINT "
        "or until its parent process ends.",
    )
    p.add_argument(
        "--baud",
        type=_int_range(1200, 12_000_000, "baud rate"),
        default=921_600,
        help="line rate the output is paced to, 10 bits per byte (default 921600)",
    )
    p.add_argument(
        "--sample-rate",
        type=_int_range(100, 50_000, "sample rate"),
        default=10_000,
        metavar="N",
        help="samples per second (default 10000)",
    )
    p.add_argument("--serial", default="SIM-000001", help="serial number reported in INFO")
    p.add_argument(
        "--corrupt",
        type=_fraction,
        default=0.0,
        metavar="RATE",
        help="fraction of transmitted bytes to corrupt (e.g. 0.0001)",
    )
    p.add_argument(
        "--drop",
        type=_fraction,
        default=0.0,
        metavar="RATE",
        help="fraction of transmitted frames to drop whole",
    )
    p.add_argument(
        "--hang-after",
        type=_seconds,
        metavar="S",
        help="stop sending anything S seconds after start",
    )
    p.add_argument(
        "--disconnect-after",
        type=_seconds,
        metavar="S",
        help="S seconds after start the device vanishes (the port closes) ...",
    )
    p.add_argument(
        "--down-for",
        type=_seconds,
        default=2.0,
        metavar="S",
        help="... and returns at the same path S seconds later (default 2)",
    )
    p.add_argument(
        "--contact-script",
        type=_script,
        default=[],
        metavar="STEPS",
        help='scripted contact, seconds after start, e.g. "lift@5,place@8"',
    )
    p.add_argument(
        "--tcp",
        action="store_true",
        help="serve on a localhost TCP socket (socket://127.0.0.1:N) instead of a pseudo-terminal",
    )
    p.add_argument(
        "--link",
        metavar="PATH",
        help="path of the stable symlink to the pseudo-terminal "
        "(default: 'device' in a new temporary folder)",
    )
    p.add_argument("--seed", type=int, help="seed for noise and fault injection")
    p.add_argument(
        "--protocol-version",
        type=_int_range(1, 255, "protocol version"),
        default=1,
        metavar="N",
        help="play a device speaking protocol version N (default 1; "
        "another value tests how a host handles a foreign version)",
    )
    p.add_argument(
        "--host-buffer",
        type=_int_range(1, 640, "host buffer"),
        default=640,
        metavar="KIB",
        help="the host's receive buffer in KiB, where bytes wait until the host reads them "
        "(default 640, a serial port's on Linux; a smaller one plays a host driver with "
        "less: a host that stops reading loses frames sooner)",
    )
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    from app.device.simulator import SimOptions, serve

    options = SimOptions(
        baud=args.baud,
        sample_rate=args.sample_rate,
        serial=args.serial,
        corrupt=args.corrupt,
        drop=args.drop,
        hang_after=args.hang_after,
        disconnect_after=args.disconnect_after,
        down_for=args.down_for,
        contact_script=args.contact_script,
        tcp=args.tcp,
        link=args.link,
        seed=args.seed,
        protocol_version=args.protocol_version,
        host_buffer=args.host_buffer * 1024,
    )
    try:
        return serve(options)
    except OSError as exc:
        print(f"error: the simulator could not open its port: {exc}", file=sys.stderr, flush=True)
        return 1
