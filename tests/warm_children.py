"""Child processes for the kill -9 tests, started one round ahead.

A kill test runs its command in a child Python process many times and kills it at a random
moment. Each child's start (the interpreter, SQLAlchemy, Alembic, the app: about 0.4 s of
CPU, several seconds on a loaded machine) happened inside the round, before the child said
"ready" and the timed part began. Here the next child is started as soon as the current one
is handed its work, so it imports while the current one works, is killed and checked; the
round then waits only for the work it times. What each child runs and when it is killed
are unchanged: it still imports everything before "ready", then reads its arguments (one
JSON list on a line of its standard input) and runs.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class WarmChildren:
    """``take(*args)`` → a ready child running ``code``, handed ``list(args)``; at most
    ``count`` children are started in all (the last one takes no successor). ``code`` prints
    ``ready`` once imported, then reads its arguments: ``json.loads(sys.stdin.readline())``."""

    def __init__(self, code: str, count: int) -> None:
        assert "sys.stdin.readline()" in code, "the child reads its arguments after ready"
        self._code = code
        self._left = count
        self._pending: subprocess.Popen | None = None
        self._start()

    def _start(self) -> None:
        if self._left <= 0:
            self._pending = None
            return
        self._left -= 1
        self._pending = subprocess.Popen(
            [sys.executable, "-c", self._code],
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def take(self, *args: str) -> subprocess.Popen:
        proc = self._pending
        assert proc is not None, "more children taken than were asked for"
        assert proc.stdout is not None
        assert proc.stdin is not None
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, proc.stderr.read() if proc.stderr else "no ready line in 60 s"
        line = proc.stdout.readline().strip()
        assert line == "ready", proc.stderr.read() if proc.stderr else line
        proc.stdin.write(json.dumps(list(args)) + "\n")
        proc.stdin.flush()
        self._start()  # the next one imports while this one works
        return proc

    def close(self) -> None:
        """Stop a child started but never taken (a test that failed half-way)."""
        if self._pending is not None:
            self._pending.kill()
            self._pending.communicate()
            self._pending = None

    def __enter__(self) -> WarmChildren:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
