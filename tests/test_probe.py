"""`python -m app probe`: the technician's link measurement, against the real simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.commands.probe import ProbeError, format_summary, run_probe
from app.device.sim_process import SimulatorProcess

ROOT = Path(__file__).resolve().parents[1]


def _probe(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "app", "probe", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
    )


def test_probe_json_against_its_own_simulator():
    done = _probe("--seconds", "2", "--json")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1  # one JSON object, nothing else on stdout
    report = json.loads(lines[0])
    assert report["device"]["model"]
    assert report["device"]["sample_rate"] == 10_000
    expected = report["samples_expected"]
    assert expected == pytest.approx(report["seconds"] * 10_000, abs=1)
    assert 1.5 <= report["seconds"] <= 2.5
    assert report["samples_dropped"] == 0
    assert report["crc_errors"] == 0
    assert report["framing_errors"] == 0
    assert report["samples_received"] >= 0.99 * expected
    assert report["bytes_per_s"] > 10_000
    assert report["ok"] is True
    text = format_summary(report)
    assert "Verdict    OK" in text
    assert f"{report['samples_received']} received of {expected} expected" in text


def test_probe_counts_corruption(qtbot):
    with SimulatorProcess(["--corrupt", "0.002"]) as sim:
        report = run_probe(sim.port, 1.5)
    assert report["crc_errors"] + report["framing_errors"] > 0
    assert report["samples_dropped"] > 0
    assert report["samples_dropped"] == report["samples_expected"] - report["samples_received"]
    assert report["ok"] is False
    assert any("dropped" in p for p in report["problems"])
    assert "PROBLEMS" in format_summary(report)


# The refusals below: the command's own ``main`` in this process (the command line
# itself runs in the first test).


def _probe_here(capsys, *args: str) -> tuple[int, str, str]:
    from app.__main__ import main

    try:
        code = main(["probe", *args])
    except SystemExit as exc:  # argparse refuses an option's value
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_probe_unreachable_port_exits_2_with_a_clear_message(tmp_path, capsys):
    missing = tmp_path / "no-such-device"
    code, out, err = _probe_here(capsys, "--port", str(missing), "--seconds", "1")
    assert code == 2
    assert out == ""
    assert err.strip() == f"error: cannot open {missing}: No such file or directory"


def test_probe_silent_port_is_reported(qtbot):
    master, slave = os.openpty()  # a port that opens but never answers
    try:
        with pytest.raises(ProbeError, match="no answer to HELLO"):
            run_probe(os.ttyname(slave), 1.0, connect_timeout_s=3.0)
    finally:
        os.close(master)
        os.close(slave)


def test_probe_rejects_simulator_faults_with_a_port(capsys):
    code, _, err = _probe_here(capsys, "--port", "/dev/ttyUSB0", "--corrupt", "0.001")
    assert code == 2
    assert "cannot be used with --port" in err
    code, _, err = _probe_here(capsys, "--seconds", "zero")
    assert code == 2
    assert "'zero' is not a number of seconds" in err


def _tally(first: int, end: int, received: int, wall: float):
    from types import SimpleNamespace

    from app.commands.probe import _Tally
    from app.device.stats import LinkStats

    info = SimpleNamespace(sample_rate=10_000, as_dict=lambda: {"sample_rate": 10_000})
    return _Tally(
        info=info,
        first_index=first,
        end_index=end,
        received=received,
        t_start=10.0,
        t_end=10.0 + wall,
        stats_start=LinkStats(),
    )


def test_probe_verdict_needs_the_device_clock_to_keep_pace():
    from app.commands.probe import _report
    from app.device.stats import LinkStats

    # the case: 0.01 s of device time in 4 s, with 374 framing errors
    slow = _report(_tally(0, 100, 100, 4.0), LinkStats(framing_errors=374), 1.0)
    assert slow["ok"] is False
    assert slow["clock_ratio"] == pytest.approx(0.0025)
    assert any("did not keep pace" in p for p in slow["problems"])
    assert any("374 framing errors" in p for p in slow["problems"])
    # the same with a clean link: still not OK, the clock did not keep pace
    assert _report(_tally(0, 100, 100, 4.0), LinkStats(), 1.0)["ok"] is False
    # a healthy 4 s: a little less device time than wall time (latency at the ends)
    good = _report(_tally(0, 39_000, 39_000, 4.0), LinkStats(), 1.0)
    assert good["ok"] is True, good["problems"]
    # 98.9 % of the samples: not OK
    short = _report(_tally(0, 40_000, 39_560, 4.0), LinkStats(), 1.0)
    assert short["ok"] is False
    assert any("98.90 %" in p for p in short["problems"])


def test_probe_on_a_line_too_slow_for_the_sample_rate_is_not_ok(qtbot):
    with SimulatorProcess(["--baud", "115200"]) as sim:
        report = run_probe(sim.port, 1.5, baud=115_200)
    assert report["ok"] is False
    assert report["framing_errors"] == report["crc_errors"] == 0  # whole frames lost
    assert report["samples_dropped"] > 0
    assert report["received_ratio"] < 0.99
