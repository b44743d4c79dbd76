"""CPU time of a process per thread, from ``/proc/<pid>/task`` (Linux): this process by
default (``bench stream``), or another one (``bench idle`` measures the console it starts).

``before = thread_times(); ...; split = thread_split(before, thread_times(), seconds)``
gives each thread's share of one core over the interval, named as a reader would look for
it: ``gui`` (the main thread, which runs Qt's event loop), the Python threads by their
``threading`` name (``StoreWriter``…), the others by the name the kernel holds (Qt names
a QThread's OS thread after its object name, e.g. ``DeviceLink /dev/pts/3``). Threads of
the same name are added up. Elsewhere than Linux both return empty mappings.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path


def _ticks() -> float:
    try:
        return float(os.sysconf("SC_CLK_TCK"))
    except (ValueError, OSError):  # pragma: no cover - not POSIX
        return 100.0


def thread_times(pid: int | None = None) -> dict[int, tuple[str, float]]:
    """Each live thread's id → (name, CPU seconds so far, user + system), of ``pid``
    (None: this process, whose Python threads are named by their ``threading`` names;
    another process's by the names the kernel holds)."""
    tasks = Path(f"/proc/{pid if pid is not None else 'self'}/task")
    if not tasks.is_dir():  # not Linux, or the process has ended
        return {}
    python_names = (
        {t.native_id: t.name for t in threading.enumerate() if t.native_id} if pid is None else {}
    )
    main_id = pid if pid is not None else os.getpid()
    hz = _ticks()
    out: dict[int, tuple[str, float]] = {}
    for task in tasks.iterdir():
        try:
            tid = int(task.name)
            stat = (task / "stat").read_text()
            comm = (task / "comm").read_text().strip()
        except (ValueError, OSError):  # the thread ended meanwhile
            continue
        # fields after "(comm)": state is field 3, utime 14 and stime 15 (proc(5))
        fields = stat[stat.rfind(")") + 2 :].split()
        cpu = (int(fields[11]) + int(fields[12])) / hz
        name = "gui" if tid == main_id else python_names.get(tid, comm)
        out[tid] = (name, cpu)
    return out


def thread_split(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], seconds: float
) -> dict[str, float]:
    """% of one core per thread name over ``seconds``, the largest first (0.1 % steps).

    A thread that started in the interval counts from zero; one that ended is missing
    (its time is still in the process's total).
    """
    if seconds <= 0:
        return {}
    per_name: dict[str, float] = {}
    for tid, (name, cpu) in after.items():
        start = before[tid][1] if tid in before else 0.0
        per_name[name] = per_name.get(name, 0.0) + max(0.0, cpu - start)
    ranked = sorted(per_name.items(), key=lambda kv: -kv[1])
    return {name: round(100.0 * cpu / seconds, 1) for name, cpu in ranked if cpu > 0}
