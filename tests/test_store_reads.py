"""Reads off the GUI thread: the background read, the recording overview and window, the
heat map's one query, cancellation. Pure: no Qt."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from app.bench.recording import device_blocks
from app.store import services
from app.store.reader import ReadCancelled, read_in_background
from app.store.runtime import start_store


@pytest.fixture
def recorded(tmp_path):
    store = start_store(f"sqlite:///{tmp_path / 'r.db'}")
    rec = store.recorder(store.info.training_client_id, program="p")
    blocks = list(device_blocks(4.0, on_s=1.0, idle_s=1.0))
    for b in blocks[:60]:
        rec.samples(b)
    for b in blocks[100:]:  # a gap in the middle
        rec.samples(b)
    rec.end("completed")
    assert store.writer.flush(10)
    sid = services.recent_sessions(store.engine, limit=1)[0].id
    yield store, sid
    store.close()


def test_the_overview_keeps_every_peak_and_marks_the_gap(recorded):
    store, sid = recorded
    full = services.load_recording(store.engine, sid)
    ov = services.recording_overview(store.engine, sid, points=200)
    assert ov.n_samples == full.n_samples
    assert ov.t_s.size <= 200
    assert np.nanmax(ov.current_max) == pytest.approx(np.nanmax(full.current_ua))
    assert np.nanmin(ov.current_min) == pytest.approx(np.nanmin(full.current_ua))
    assert np.isnan(ov.current_max).any()  # the gap: buckets with no sample
    x, y = ov.envelope()
    assert x.size == y.size == 2 * ov.t_s.size


def test_a_window_holds_the_samples_of_its_time_span_only(recorded):
    store, sid = recorded
    full = services.load_recording(store.engine, sid)
    win = services.recording_window(store.engine, sid, 0.5, 0.7)
    finite = np.isfinite(win.t_s)
    assert win.t_s[finite].min() <= 0.5
    assert win.t_s[finite].max() >= 0.7
    assert win.n_samples < full.n_samples
    # the same samples at the same times as the whole recording
    k = np.searchsorted(full.t_s, win.t_s[finite][0])
    np.testing.assert_array_equal(full.current_ua[k : k + 100], win.current_ua[finite][:100])


def test_a_cancelled_read_stops_between_chunks(recorded):
    store, sid = recorded
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ReadCancelled):
        services.recording_overview(store.engine, sid, cancel=cancel)
    with pytest.raises(ReadCancelled):
        services.load_recording(store.engine, sid, cancel=cancel)


def test_background_reads_answer_in_their_future(recorded):
    store, sid = recorded
    ok = read_in_background(store.engine, services.session_detail, sid)
    assert ok.result(10).summary.id == sid

    def broken(_engine):
        raise LookupError("no such table")

    bad = read_in_background(store.engine, broken)
    with pytest.raises(LookupError, match="no such table"):
        bad.result(10)


def test_zone_minutes_sums_the_steps_in_one_query(recorded):
    store, _ = recorded
    cid = store.info.training_client_id
    uid = store.writer.begin_session(cid, program="q")
    store.writer.add_step(uid, 0, "masseter_l,masseter_r", {}, 60.0, 30.0)
    store.writer.add_step(uid, 1, "manual", {}, 60.0, 60.0)
    store.writer.end_session(uid, "completed")
    assert store.writer.flush(10)
    minutes, sessions = services.zone_minutes(store.engine, cid)
    assert minutes == {"masseter_l": 0.5, "masseter_r": 0.5}
    assert sessions == 2


def test_a_damaged_chunk_is_a_gap_and_the_rest_of_the_recording_reads(recorded):
    """One stored chunk damaged (a disk error, a bad restore): the recording, its overview
    and a window over it still read, with a gap where it was and the damage counted;
    what is read is the same as before."""
    from sqlalchemy import select, update

    from app.store.models import RecordingChunk

    store, sid = recorded
    before = services.load_recording(store.engine, sid)
    with store.engine.begin() as conn:
        chunks = conn.execute(
            select(RecordingChunk.id, RecordingChunk.first_index, RecordingChunk.n)
            .where(RecordingChunk.session_id == sid)
            .order_by(RecordingChunk.first_index)
        ).all()
        assert len(chunks) >= 3
        bad_id, bad_first, bad_n = chunks[1]
        conn.execute(
            update(RecordingChunk).where(RecordingChunk.id == bad_id).values(data=b";" * 40)
        )
    full = services.load_recording(store.engine, sid)
    assert (full.damaged_chunks, full.damaged_samples) == (1, bad_n)
    assert full.n_samples == before.n_samples - bad_n
    first0 = chunks[0][1]
    t_bad = (bad_first - first0) / full.sample_rate
    finite = np.isfinite(full.t_s)
    assert not (
        (full.t_s[finite] >= t_bad) & (full.t_s[finite] < t_bad + 0.5 * bad_n / full.sample_rate)
    ).any()
    k = np.searchsorted(before.t_s, full.t_s[finite][-1])  # the rest is as it was
    assert full.current_ua[finite][-1] == before.current_ua[k]
    ov = services.recording_overview(store.engine, sid, points=200)
    assert (ov.damaged_chunks, ov.n_samples) == (1, full.n_samples)
    win = services.recording_window(store.engine, sid, max(0.0, t_bad - 0.1), t_bad + 0.1)
    assert win.damaged_chunks == 1
    assert win.n_samples > 0
