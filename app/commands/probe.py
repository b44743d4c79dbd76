"""`python -m app probe`: connect, handshake, stream for a while and report link quality.

Without ``--port`` the probe starts its own firmware simulator (fault options pass
through to it). Prints one JSON object with ``--json``, else a readable summary.
Exit status: 0 measured, 2 the device could not be reached or the arguments are wrong.

The verdict is OK only when no sample was dropped and no frame was bad, at least 99 % of
the samples the device produced arrived, and the device's clock kept pace with the wall
clock (the device time spanned by the samples received is the wall time within
``CLOCK_TOLERANCE`` plus ``LATENCY_GRACE_S``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field

from app.commands._argtypes import fraction as _fraction

DEFAULT_SECONDS = 10.0
CONNECT_TIMEOUT_S = 5.0
QUALITY_MIN_RATIO = 0.99
# The device's clock keeps pace when the device time streamed is the wall time, within
# this fraction, plus the link's latency at the two ends of the measurement.
CLOCK_TOLERANCE = 0.02
LATENCY_GRACE_S = 0.15


class ProbeError(RuntimeError):
    """The probe could not measure anything (no device, no handshake)."""


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (math.isfinite(value) and 0.1 <= value <= 3600):
        raise argparse.ArgumentTypeError(f"{text} s: streaming time must be 0.1..3600 s")
    return value


def _baud(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1200 <= value <= 12_000_000:
        raise argparse.ArgumentTypeError(f"baud rate {value}: must be 1200..12000000")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "probe",
        help="measure the device link: handshake, stream, count samples and errors",
        description="Connects to the device (or, without --port, to a simulator it starts "
        "itself), handshakes, streams for --seconds and reports samples expected/received/"
        "dropped, CRC and framing errors and throughput. It never switches the output on. "
        "Exit status 0 when measured (see 'ok' / the verdict), 2 when the device cannot be "
        "reached.",
    )
    p.add_argument(
        "--port",
        help="serial port or pyserial URL (default: start the built-in firmware simulator)",
    )
    p.add_argument(
        "--seconds",
        type=_seconds,
        default=DEFAULT_SECONDS,
        metavar="S",
        help=f"how long to stream (default {DEFAULT_SECONDS:g})",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--baud", type=_baud, default=921_600, help="baud rate (default 921600)")
    sim = p.add_argument_group("built-in simulator faults (only without --port)")
    sim.add_argument(
        "--corrupt",
        type=_fraction,
        metavar="RATE",
        help="fraction of bytes the simulator corrupts (e.g. 0.0001)",
    )
    sim.add_argument(
        "--drop", type=_fraction, metavar="RATE", help="fraction of frames the simulator drops"
    )
    p.set_defaults(func=_main)


@dataclass
class _Tally:
    info: object = None
    first_index: int | None = None
    end_index: int | None = None
    received: int = 0
    max_abs_current_ua: float = 0.0
    error: str | None = None
    disconnects: list[str] = field(default_factory=list)
    t_start: float = 0.0
    t_end: float = 0.0
    stats_start: object = None


def run_probe(
    port: str, seconds: float, *, baud: int = 921_600, connect_timeout_s: float = CONNECT_TIMEOUT_S
) -> dict[str, object]:
    """Connect to ``port``, stream ``seconds`` and return the report; ProbeError if the
    device cannot be reached. Runs a Qt event loop (QCoreApplication if none exists)."""
    import psutil
    from PySide6.QtCore import QCoreApplication, QEventLoop, Qt, QTimer

    from app.device.link import DeviceLink

    app = QCoreApplication.instance() or QCoreApplication([])  # noqa: F841 - keeps Qt alive
    loop = QEventLoop()
    link = DeviceLink(port, baud=baud)
    tally = _Tally()
    proc = psutil.Process()
    stream_timer = QTimer()
    stream_timer.setSingleShot(True)
    stream_timer.setTimerType(Qt.TimerType.PreciseTimer)
    stream_timer.timeout.connect(loop.quit)

    def on_connected(info) -> None:
        if tally.info is not None:
            return
        tally.info = info
        tally.t_start = time.monotonic()
        tally.stats_start = link.stats
        proc.cpu_percent(None)
        stream_timer.start(int(seconds * 1000))

    def on_disconnected(reason: str) -> None:
        if tally.info is None:
            tally.error = reason
            loop.quit()
        else:
            tally.disconnects.append(reason)

    def on_samples(block) -> None:
        if tally.info is None or not stream_timer.isActive():
            return
        if tally.first_index is None:
            tally.first_index = block.first_index
        tally.end_index = block.first_index + len(block)
        tally.received += len(block)
        if len(block):
            peak = float(abs(block.current_ua).max())
            tally.max_abs_current_ua = max(tally.max_abs_current_ua, peak)

    def on_connect_timeout() -> None:
        if tally.info is None:
            tally.error = tally.error or (
                f"no device answered on {port} within {connect_timeout_s:g} s"
            )
            loop.quit()

    link.connected.connect(on_connected)
    link.disconnected.connect(on_disconnected)
    link.samples_received.connect(on_samples)
    feed = QTimer()
    feed.timeout.connect(link.feed_watchdog)
    feed.start(100)
    QTimer.singleShot(int(connect_timeout_s * 1000), loop, on_connect_timeout)
    link.feed_watchdog()
    link.start()
    try:
        loop.exec()
        tally.t_end = time.monotonic()
        cpu = proc.cpu_percent(None)
        end_stats = link.stats
    finally:
        feed.stop()
        stream_timer.stop()
        link.stop(3000)
        link.deleteLater()
    if tally.info is None:
        raise ProbeError(tally.error or f"no device answered on {port}")
    return _report(tally, end_stats, cpu)


def _report(t: _Tally, end, cpu: float) -> dict[str, object]:
    info = t.info
    start = t.stats_start
    expected = 0 if t.first_index is None else t.end_index - t.first_index
    wall = max(t.t_end - t.t_start, 1e-9)
    dropped = expected - t.received
    crc = end.crc_errors - start.crc_errors
    framing = end.framing_errors - start.framing_errors
    bad = end.bad_messages - start.bad_messages
    device_s = expected / info.sample_rate  # device time the received samples span
    report: dict[str, object] = {
        "port": None,
        "device": info.as_dict(),
        "seconds": round(device_s, 3),
        "wall_seconds": round(wall, 3),
        "clock_ratio": round(device_s / wall, 4),
        "samples_expected": expected,
        "samples_received": t.received,
        "samples_dropped": dropped,
        "received_ratio": round(t.received / expected, 5) if expected else 0.0,
        "crc_errors": crc,
        "framing_errors": framing,
        "bad_messages": bad,
        "sequence_gaps": end.sequence_gaps - start.sequence_gaps,
        "frames_lost": end.frames_lost - start.frames_lost,
        "frames": end.frames - start.frames,
        "bytes": end.bytes_in - start.bytes_in,
        "bytes_per_s": round((end.bytes_in - start.bytes_in) / wall, 1),
        "max_abs_current_ua": round(t.max_abs_current_ua, 3),
        "disconnects": t.disconnects,
        "cpu_percent": round(cpu, 1),
    }
    problems = []
    if expected == 0:
        problems.append("no samples arrived")
    if dropped:
        problems.append(f"{dropped} samples dropped")
    if crc:
        problems.append(f"{crc} CRC errors")
    if framing:
        problems.append(f"{framing} framing errors")
    if bad:
        problems.append(f"{bad} messages that did not parse")
    if expected and t.received < QUALITY_MIN_RATIO * expected:
        problems.append(f"only {100 * t.received / expected:.2f} % of the samples arrived")
    if expected and abs(device_s - wall) > CLOCK_TOLERANCE * wall + LATENCY_GRACE_S:
        problems.append(
            f"the device streamed {device_s:.3f} s of its time in {wall:.3f} s "
            "of wall time: its clock did not keep pace"
        )
    if t.disconnects:
        problems.append(f"{len(t.disconnects)} disconnects")
    report["ok"] = not problems
    report["problems"] = problems
    return report


def format_summary(r: dict) -> str:
    d = r["device"]
    expected = r["samples_expected"]
    pct = 100.0 * r["samples_received"] / expected if expected else 0.0
    lines = [
        f"Port       {r['port']}",
        f"Device     {d['model']}  serial {d['serial']}  firmware {d['firmware']}  "
        f"protocol {d['protocol_version']}  {d['sample_rate']} S/s",
        f"Streamed   {r['seconds']:.2f} s of device time ({r['wall_seconds']:.2f} s wall)",
        f"Samples    {r['samples_received']} received of {expected} expected ({pct:.2f} %), "
        f"{r['samples_dropped']} dropped",
        f"Link       {r['frames']} frames, {r['bytes_per_s']:.0f} B/s, "
        f"{r['crc_errors']} CRC errors, {r['framing_errors']} framing errors, "
        f"{r['sequence_gaps']} sequence gaps ({r['frames_lost']} frames lost)",
        f"CPU        {r['cpu_percent']:.1f} % of one core (this process)",
    ]
    for reason in r["disconnects"]:
        lines.append(f"Disconnect {reason}")
    lines.append("Verdict    " + ("OK" if r["ok"] else "PROBLEMS: " + "; ".join(r["problems"])))
    return "\n".join(lines)


def _main(args: argparse.Namespace) -> int:
    from app.device.sim_process import SimulatorError, SimulatorProcess

    if args.port is not None and (args.corrupt is not None or args.drop is not None):
        print(
            "error: --corrupt and --drop set faults of the built-in simulator; "
            "they cannot be used with --port",
            file=sys.stderr,
        )
        return 2
    sim = None
    port = args.port
    try:
        if port is None:
            extra = ["--baud", str(args.baud)]
            if args.corrupt is not None:
                extra += ["--corrupt", repr(args.corrupt)]
            if args.drop is not None:
                extra += ["--drop", repr(args.drop)]
            sim = SimulatorProcess(extra)
            try:
                port = sim.start()
            except SimulatorError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
        try:
            report = run_probe(port, args.seconds, baud=args.baud)
        except ProbeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    finally:
        if sim is not None:
            sim.stop()
    report["port"] = "built-in simulator" if args.port is None else port
    if args.json:
        print(json.dumps(report), flush=True)
    else:
        print(format_summary(report), flush=True)
    return 0
