"""Run the firmware simulator as a child process (plain subprocess, no Qt).

>>> with SimulatorProcess(["--sample-rate", "5000"]) as sim:   # doctest: +SKIP
...     port = sim.port            # a path like /tmp/microcurrent-sim-xyz/device
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

_ROOT = Path(__file__).resolve().parents[2]


class SimulatorError(RuntimeError):
    """The simulator process could not be started or did not announce its port."""


class SimulatorProcess:
    """``python -m app simulator [extra_args]`` in a child process.

    ``start()`` returns the port (a device path, or ``socket://127.0.0.1:N`` with
    ``--tcp``) once the simulator has printed its ``PORT`` line. ``stop()`` terminates it
    (SIGTERM, then SIGKILL after a grace period). The simulator also exits on its own if
    this process dies.
    """

    def __init__(self, extra_args: Sequence[str] = ()) -> None:
        self.extra_args = [str(a) for a in extra_args]
        self._proc: subprocess.Popen[bytes] | None = None
        self._port: str | None = None
        self._stderr: IO[bytes] | None = None
        self._sample_zero: float | None = None

    @property
    def port(self) -> str:
        if self._port is None:
            raise SimulatorError("the simulator is not running: call start() first")
        return self._port

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self, timeout: float = 10.0) -> str:
        """Spawn the simulator and wait for its port (see :meth:`spawn`)."""
        if self.alive and self._port:
            return self.port
        if self._proc is None:
            self.spawn()
        return self.wait_port(timeout)

    def spawn(self) -> None:
        """Start the process without waiting: its own start-up overlaps the caller's
        (the console builds its window meanwhile); :meth:`wait_port` collects the port."""
        if self._proc is not None:
            return
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the child
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH", "")]))
        env["PYTHONUNBUFFERED"] = "1"
        cmd = [sys.executable, "-m", "app", "simulator", *self.extra_args]
        try:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                cwd=str(_ROOT),
                env=env,
            )
        except OSError as exc:
            raise SimulatorError(f"could not start the simulator ({' '.join(cmd)}): {exc}") from exc

    def wait_port(self, timeout: float = 10.0) -> str:
        """The port of a spawned simulator, once it prints it (SimulatorError if not)."""
        if self._port:
            return self._port
        if self._proc is None:
            raise SimulatorError("the simulator was not started")
        line = self._read_line(timeout)
        if not line.startswith("PORT "):
            detail = self._stderr_text()
            self.stop()
            if line:
                detail = f"{line}\n{detail}"
            raise SimulatorError(
                "the simulator did not start: "
                + (detail.strip() or f"no output within {timeout:g} s")
            )
        self._port = line[5:].strip()
        # the simulator logs its clock before it prints PORT
        assert self._stderr is not None  # spawn() made it
        head = os.pread(self._stderr.fileno(), 4000, 0).decode("utf-8", errors="replace")
        match = re.search(r"clock: sample 0 at monotonic ([0-9.]+) s", head)
        self._sample_zero = float(match.group(1)) if match else None
        return self._port

    def _read_line(self, timeout: float) -> str:
        assert self._proc is not None
        assert self._proc.stdout is not None
        stdout = self._proc.stdout
        deadline = time.monotonic() + timeout
        buf = b""
        with selectors.DefaultSelector() as sel:
            sel.register(stdout, selectors.EVENT_READ)
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    break
                chunk = os.read(stdout.fileno(), 4096)
                if not chunk:  # the process exited
                    break
                buf += chunk
        return buf.split(b"\n", 1)[0].decode("utf-8", errors="replace").strip()

    def _stderr_text(self) -> str:
        if self._stderr is None:
            return ""
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=1.0)
        return self._read_stderr()

    def log(self) -> str:
        """What the simulator wrote to stderr so far (its last 2000 characters)."""
        if self._stderr is None:
            return ""
        return self._read_stderr()

    def _read_stderr(self) -> str:
        # pread: the child shares this file's offset; moving it would make it overwrite
        assert self._stderr is not None
        fd = self._stderr.fileno()
        size = os.fstat(fd).st_size
        start = max(0, size - 8000)
        return os.pread(fd, size - start, start).decode("utf-8", errors="replace")[-2000:]

    def sample_zero_time(self) -> float | None:
        """``time.monotonic()`` (system-wide on Linux) at which the simulator's sample 0 was
        due: sample n is produced at ``sample_zero_time() + n / sample_rate``."""
        return self._sample_zero

    def stop(self, timeout: float = 5.0) -> int | None:
        """Terminate the simulator; returns its exit code (None if it was not started)."""
        proc, self._proc = self._proc, None
        self._port = None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
        if proc.stdout is not None:
            proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        return proc.returncode

    def __enter__(self) -> SimulatorProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __del__(self) -> None:  # last resort: never leave a simulator behind
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            proc.kill()
