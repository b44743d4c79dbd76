"""Child processes for the kill -9 tests (and other tests' "another process"), forked
from one process that imported once.

A kill test runs a command in a child process many times and kills it (SIGKILL) at a
random moment of its work. Each child used to be a new interpreter importing SQLAlchemy,
Alembic and the app before it said "ready" (about 0.4 s of CPU, several seconds on a
loaded machine; 30 children in the two tests). Here one process, the *zygote*, runs the
test's preamble (its imports, its slowed-down statements) once; every child is an
``os.fork()`` of it, so each starts with everything imported, as the old children did at
"ready", and then runs its command: a process of its own, with its own pid, connections,
files and exit status, killed and collected as before. Nothing is created in the zygote
before it forks (no engine, no connection, no thread).

``ForkedChildren(PREAMBLE, RUN)``: ``PREAMBLE`` is Python run once in the zygote;
``RUN`` is the body of a function of ``args`` (a list of strings) that returns the
child's exit status, run in each child. ``take(*args)`` forks a child and returns a
handle with ``pid``, ``send_signal``, ``communicate`` and ``returncode`` (as
``subprocess.Popen``: ``-9`` for a child killed by SIGKILL). ``take_together(args1,
args2, ...)`` forks several at once, running side by side (two rooms on one database).
:func:`zygote_fixture` makes a pytest fixture of one zygote for a whole test module (its
tests, and each database's parameters, share the imports).

When to kill: :func:`kill_moments` draws one moment at random in each of ``rounds`` equal
slices of the child's run, so a few rounds reach its start (imports done, connecting), its
middle and its end, where uniform draws over the whole run may all land in one phase.
``MICROCURRENT_KILL_ROUNDS=N`` runs every kill test with N rounds instead of its default
(a long run: ``MICROCURRENT_KILL_ROUNDS=30 .venv/bin/python -m pytest -q
tests/test_store_upgrade.py tests/test_store_backup.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import select
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ZYGOTE = """
import json, os, sys
{preamble}

def _run(args):
{run}

def _child(args, out_path):
    fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    code = 1
    try:
        code = _run(args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:  # never back into the zygote's loop, whatever happened
            os._exit(code if isinstance(code, int) else 1)

print("ready", flush=True)
for line in sys.stdin:
    pids = []
    for args, out_path in json.loads(line):  # one child, or several running together
        pid = os.fork()
        if pid == 0:
            _child(args, out_path)
        pids.append(pid)
        print(json.dumps(["started", pid]), flush=True)
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        print(json.dumps(["exited", pid, os.waitstatus_to_exitcode(status)]), flush=True)
"""


def zygote_fixture(preamble: str, run: str):
    """A module-scoped pytest fixture: one :class:`ForkedChildren` for the module's tests
    (children a failed test left running are ended before the next test's start)."""
    import pytest

    @pytest.fixture(scope="module")
    def fixture():
        children = ForkedChildren(preamble, run)
        yield children
        children.close()

    return fixture


def kill_rounds(default: int) -> int:
    """How many kill rounds a test runs: ``default``, or ``MICROCURRENT_KILL_ROUNDS``."""
    return int(os.environ.get("MICROCURRENT_KILL_ROUNDS", "0")) or default


def kill_moments(rng: random.Random, rounds: int, until: float) -> list[float]:
    """``rounds`` moments in [0, ``until``): one at random in each of ``rounds`` equal
    slices, shuffled (the phases follow each other in no fixed order)."""
    moments = [until * (k + rng.random()) / rounds for k in range(rounds)]
    rng.shuffle(moments)
    return moments


class ForkedChild:
    """One forked child: its pid, a signal to it, and its end (exit status, output)."""

    def __init__(self, lines: _Lines, pid: int, out_path: Path) -> None:
        self._lines = lines
        self.pid = pid
        self._out_path = out_path
        self.returncode: int | None = None

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:  # (it may have just ended: then nothing to signal)
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        """Wait for the child to end; its output (stdout and stderr together) is returned
        as both, so a check on either sees everything it wrote."""
        if self.returncode is None:
            _, pid, code = json.loads(self._lines.read(timeout))
            assert pid == self.pid, (pid, self.pid)
            self.returncode = code
        text = self._out_path.read_text(errors="replace") if self._out_path.exists() else ""
        return text, text


class ForkedChildren:
    def __init__(self, preamble: str, run: str) -> None:
        code = ZYGOTE.format(
            preamble=textwrap.dedent(preamble), run=textwrap.indent(textwrap.dedent(run), "    ")
        )
        self._dir = tempfile.TemporaryDirectory(prefix="forked-children-")
        self._count = 0
        self._zygote = subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines = _Lines(self._zygote)
        self._running: list[ForkedChild] = []
        try:
            line = self._lines.read(60)
        except (AssertionError, subprocess.TimeoutExpired) as exc:
            self.close()
            raise AssertionError(f"the zygote did not start: {exc}") from exc
        assert line == "ready", line

    def take(self, *args: str) -> ForkedChild:
        """Fork a child that runs ``RUN`` with ``list(args)``; it is running on return."""
        (child,) = self.take_together(list(args))
        return child

    def take_together(self, *arg_lists: list[str]) -> list[ForkedChild]:
        """Fork one child for each list of arguments, one right after the other: they run
        at the same time. Collect them (``communicate``) in the order given."""
        assert self._zygote.stdin is not None
        self.end_running()
        jobs = []
        for args in arg_lists:
            self._count += 1
            jobs.append((list(args), Path(self._dir.name) / f"child-{self._count}.txt"))
        self._zygote.stdin.write(json.dumps([[a, str(p)] for a, p in jobs]) + "\n")
        self._zygote.stdin.flush()
        children = []
        for _, out_path in jobs:
            what, pid = json.loads(self._lines.read(60))
            assert what == "started", what
            children.append(ForkedChild(self._lines, pid, out_path))
        self._running = children
        return children

    def end_running(self) -> None:
        """Kill and collect the children still running (left by a test that failed
        half-way): the zygote forks the next ones only once they are collected."""
        for child in self._running:
            if child.returncode is None:
                child.send_signal(signal.SIGKILL)
                with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
                    child.communicate(timeout=30)
        self._running = []

    def close(self) -> None:
        """End the zygote (its input closed, it exits) and remove the children's output;
        children still running (a test that failed half-way) are killed first."""
        for child in self._running:
            if child.returncode is None:
                child.send_signal(signal.SIGKILL)
        if self._zygote.poll() is None:
            try:
                self._zygote.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                self._zygote.kill()
                self._zygote.communicate()
        self._dir.cleanup()


class _Lines:
    """Lines from the zygote's output, read from its file descriptor (a buffered reader
    could hold a second line that select() then never reports)."""

    def __init__(self, zygote: subprocess.Popen) -> None:
        assert zygote.stdout is not None
        self._fd = zygote.stdout.fileno()
        self._zygote = zygote
        self._buf = b""

    def read(self, timeout: float | None) -> str:
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self._fd], [], [], left)
            if not ready:
                raise subprocess.TimeoutExpired("forked child", timeout or 0)
            chunk = os.read(self._fd, 4096)
            if not chunk:
                err = self._zygote.stderr.read() if self._zygote.stderr else ""
                raise AssertionError(f"the zygote exited: {err}")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode()
