"""Smoke tests of the benchmarks: each runs in a tiny configuration and reports its figures.

Timing figures are never asserted (they depend on the machine); what a benchmark counts
(samples, drops, stored rows) is, because a wrong count is a bug whatever the machine.
"""

from __future__ import annotations

import argparse
import json
import os

import pytest

from app.commands.bench import available


def _args(**kw) -> argparse.Namespace:
    return argparse.Namespace(json=True, **kw)


def _common(result: dict, *keys: str) -> None:
    json.dumps(result)  # `bench all --json` prints it: plain JSON values only
    assert "error" not in result, result.get("error")
    assert isinstance(result["passed"], bool)
    for key in keys:
        assert key in result, key


def test_every_benchmark_of_issue_8_is_found():
    assert {
        "decode",
        "latency",
        "stream",
        "memory",
        "startup",
        "recording",
        "scope",
        "estop",
    } <= set(available())


def test_recording_stores_every_sample_and_reports_mb_per_hour():
    from app.bench.recording import run

    r = run(_args(seconds=3))
    _common(
        r, "mb_per_hour", "legacy_mb_per_hour", "lzma_mb_per_hour", "target_mb_per_hour", "encoding"
    )
    assert 0 < r["encode_cpu_percent"] < 100
    assert r["samples"] == 30_000
    assert r["samples_stored"] == r["samples"]
    assert r["db_growth_bytes"] > 0
    assert r["mb_per_hour"] > 0


def test_device_blocks_are_contiguous_adc_data_with_output_on_and_off():
    import numpy as np

    from app.bench.recording import device_blocks

    blocks = list(device_blocks(3.0, on_s=1.0, idle_s=2.0))
    idx = np.concatenate([b.first_index + np.arange(len(b)) for b in blocks])
    assert np.array_equal(idx, np.arange(idx[0], idx[0] + 30_000))
    cur = np.concatenate([b.current_ua for b in blocks])
    counts = cur / np.float32(0.05)
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-3)  # ADC-quantised
    assert np.abs(cur[5000:10_000]).max() > 100  # output on in the first second
    assert np.abs(cur[-1000:]).max() < 5  # off (ramped down) at the end


@pytest.fixture
def in_this_process(monkeypatch):
    """A benchmark that measures in a process of its own (``in_fresh_process``: so that
    ``bench all`` does not measure what the benchmarks before left) measures here: its
    counts are the same, without a second interpreter importing Qt. The latency test
    goes through the fresh process."""
    from app.bench._console import ISOLATED_ENV

    monkeypatch.setenv(ISOLATED_ENV, "1")


def test_memory_feeds_every_sample_to_the_recorder(in_this_process):
    from app.bench.memory import run

    r = run(_args(seconds=12))
    _common(r, "growth_mb", "target_growth_mb", "rss_after_warmup_mb", "rss_end_mb")
    assert r["samples"] == 120_000
    assert r["samples_recorded"] == r["samples"]
    assert r["renders"] >= 100


def test_latency_measures_samples_on_screen():
    from app.bench._console import ISOLATED_ENV
    from app.bench.latency import run

    assert ISOLATED_ENV not in os.environ  # measured in a process of its own
    r = run(_args(seconds=0.5))
    _common(r, "p50_ms", "p95_ms", "newest_p95_ms", "target_p95_ms")
    assert r["samples"] > 1000
    assert r["p50_ms"] <= r["p95_ms"] <= r["max_ms"]
    assert r["p50_ms"] > 0  # a sample cannot be on screen before it was produced


def test_stream_records_what_it_received(in_this_process):
    from app.bench.stream import run

    r = run(_args(seconds=2.0))
    _common(r, "samples_dropped", "cpu_percent", "peak_rss_mb", "target_cpu_percent")
    assert r["samples_received"] > 5_000
    assert r["samples_stored"] == r["samples_recorded"]
    assert r["samples_recorded"] >= r["samples_received"]
    assert r["cpu_percent"] > 0
    threads = r["cpu_percent_by_thread"]  # the GUI thread, the driver's, the writer's
    assert threads["gui"] > 0
    assert any(name.startswith("DeviceLink") for name in threads)
    # /proc counts each thread's time in clock ticks: each thread's share may be up to one
    # tick over, the process total one tick under, and each figure is rounded to 0.1 %
    tick = 100.0 / os.sysconf("SC_CLK_TCK") / r["seconds"]
    assert sum(threads.values()) <= r["cpu_percent"] + (len(threads) + 1) * (tick + 0.05)


def test_thread_split_is_each_threads_share_of_one_core_by_name():
    from app.bench._threads import thread_split

    before = {1: ("gui", 10.0), 2: ("StoreWriter", 1.0), 3: ("gone", 5.0)}
    after = {1: ("gui", 10.5), 2: ("StoreWriter", 1.1), 4: ("StoreWriter", 0.2), 5: ("idle", 0.0)}
    split = thread_split(before, after, 2.0)
    assert split == {"gui": 25.0, "StoreWriter": 15.0}  # same names added, largest first
    assert list(split) == ["gui", "StoreWriter"]
    assert thread_split(before, after, 0.0) == {}


@pytest.mark.timeout(120)
def test_startup_reports_seconds_to_live_data():
    from app.bench.startup import run

    # one start (it compiles the byte-code cache: the same path as the first start's)
    r = run(_args(runs=1, first_start=False))
    _common(r, "seconds", "first_start_s", "import_s", "target_s")
    assert r["failures"] == []
    assert r["first_start_s"] is None
    assert r["all_s"] == [r["seconds"]]
    assert 0 < r["import_s"] < r["seconds"]


def test_recording_open_counts_every_sample_in_the_overview():
    from app.bench.recording_open import run

    r = run(_args(seconds=6))
    _common(r, "overview_peak_mb", "whole_load_peak_mb", "window_10s_s", "target_peak_mb")
    assert r["samples"] == 60_000
    assert r["overview_samples_counted"] == r["samples"]
    assert 0 < r["overview_points"] <= 4000
    assert r["window_samples"] > 0


def test_idle_measures_each_workspace_and_reports_the_median(monkeypatch):
    """The figures come from ``measure`` (a console process, timed from outside): here a
    stand-in, so the test checks the bookkeeping, never a timing."""
    from app.bench import idle

    assert "idle" in available()
    seen: list[str] = []
    figures = {
        "practitioner": iter([2.0, 4.0, 2.5]),
        "trainer": iter([5.0, 5.0, 5.0]),
        "technician": iter([1.0, 9.0, 1.5]),
    }

    def fake(workspace: str, **_kw) -> tuple[float, dict[str, float]]:
        seen.append(workspace)
        pct = next(figures[workspace])
        return pct, {"GUI": pct / 2, "DeviceLink": 1.0}

    monkeypatch.setattr(idle, "measure_threads", fake)
    result = idle.run(_args(rounds=3, seconds=None))
    _common(result, "desk_pct", "studio_pct", "bench_pct")
    assert seen.count("practitioner") == seen.count("trainer") == seen.count("technician") == 3
    assert (result["desk_pct"], result["studio_pct"], result["bench_pct"]) == (2.5, 5.0, 1.5)
    assert result["desk_runs_pct"] == [2.0, 4.0, 2.5]
    assert result["desk_threads"] == {"DeviceLink": 1.0, "GUI": 1.25}  # medians per thread
    assert result["passed"] is (idle.DESK_BUDGET_PCT >= 2.5)


def test_idle_reads_each_threads_cpu_time_by_its_name():
    """``thread_times`` of this process: the main thread as GUI, a thread named with
    app.threadname under its name (what ``bench idle`` reports per thread)."""
    import os
    import threading

    from app.bench.idle import thread_times
    from app.threadname import name_os_thread

    if not os.path.isdir(f"/proc/{os.getpid()}/task"):
        pytest.skip("no /proc on this system")
    named, done = threading.Event(), threading.Event()

    def run() -> None:
        name_os_thread("StoreWriter")
        named.set()
        done.wait(10)

    t = threading.Thread(target=run, name="StoreWriter")
    t.start()
    try:
        assert named.wait(10)
        times = thread_times(os.getpid())
    finally:
        done.set()
        t.join(10)
    assert "GUI" in times
    assert "StoreWriter" in times
    assert all(v >= 0.0 for v in times.values())
