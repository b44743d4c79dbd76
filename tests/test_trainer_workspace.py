"""The trainer workspace replays a session recorded in the store."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSettings

from app.device.samples import SampleBlock
from app.store.runtime import start_store
from app.ui.device_manager import DeviceManager
from app.ui.main_window import MainWindow


def _trainer(qtbot, tmp_path, store):
    """The console window on ``store``, showing the trainer workspace."""
    window = MainWindow(
        DeviceManager(), QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), store
    )
    qtbot.addWidget(window)
    window.show()
    assert window.switch_workspace("trainer")
    return window, window.workspaces["trainer"]


def _close(window) -> None:
    window.close()
    for ws in window.workspaces.built():
        ws.shutdown()


def test_replay_of_a_stored_session(qtbot, tmp_path):
    store = start_store(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        uid = store.writer.begin_session(
            store.info.training_client_id, program="toning", training=True
        )
        fs = 1000.0
        t = np.arange(3000) / fs
        current = np.where(np.mod(t * 10, 1) < 0.5, 100.0, -100.0).astype(np.float32)
        store.writer.add_samples(
            uid,
            SampleBlock(
                0,
                fs,
                current,
                current * 0.02,
                np.full(3000, 100, np.float32),
                np.zeros(3000, np.uint8),
                np.zeros(3000, bool),
            ),
        )
        store.writer.add_event(uid, "transition", {"message": "ready -> ramping_up"})
        store.writer.end_session(uid, "completed")
        assert store.writer.flush(10)
        window, trainer = _trainer(qtbot, tmp_path, store)
        from app.store.services import recent_sessions

        (session,) = recent_sessions(store.engine)
        with qtbot.waitSignal(trainer.replay_loaded, timeout=10000) as loaded:
            trainer.replay(session.id)  # read off the GUI thread
        assert loaded.args == [True]
        assert trainer.studio.recording is not None
        assert trainer.studio.recording.duration_s > 2.9
        _close(window)
    finally:
        store.close(10)


def test_replay_of_a_program_follows_each_steps_settings_in_phase(qtbot, tmp_path):
    """Step 1 at 10 Hz, step 2 at 20 Hz and a lower intensity, on a device clock 20 ms
    behind the session's: the replay's ideal is each step's waveform, on the samples."""
    import datetime as dt
    import math

    from app.device.waveform import OutputSettings, Polarity, Waveform, unit_wave
    from app.store.services import recent_sessions
    from tests.test_trainer_ui import shots_dir

    store = start_store(f"sqlite:///{tmp_path / 'r.db'}")
    window = None
    try:
        start = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
        uid = store.writer.begin_session(
            store.info.training_client_id, program="toning", training=True, started_at=start
        )
        fs = 2000.0
        t = np.arange(int(6 * fs)) / fs
        step1 = OutputSettings(Waveform.SQUARE, 10.0, 100.0, Polarity.BIPHASIC, 2.0, 0.0)
        step2 = OutputSettings(Waveform.SQUARE, 20.0, 60.0, Polarity.BIPHASIC, 2.0, 0.0)
        td = t - 0.02
        current = np.where(
            t < 3.0, 100.0 * unit_wave(step1, td), 60.0 * unit_wave(step2, td)
        ).astype(np.float32)
        store.writer.add_samples(
            uid,
            SampleBlock(
                0,
                fs,
                current,
                current * 0.02,
                np.full(t.size, 100, np.float32),
                np.zeros(t.size, np.uint8),
                np.zeros(t.size, bool),
            ),
        )

        def at(seconds: float) -> dt.datetime:
            return start + dt.timedelta(seconds=seconds)

        cmd = {
            "command": "set_output",
            "waveform": "square",
            "polarity": "biphasic",
            "alternate_s": 2.0,
            "ramp_s": 0.0,
        }
        store.writer.add_event(
            uid, "command", {**cmd, "frequency_hz": 10.0, "amplitude_ua": 100.0}, timestamp=at(-0.1)
        )
        store.writer.add_event(uid, "transition", {"state": "ramping_up"}, timestamp=at(0))
        store.writer.add_event(uid, "step", {"message": "step 2/2"}, timestamp=at(3.0))
        store.writer.add_event(
            uid, "command", {**cmd, "frequency_hz": 20.0, "amplitude_ua": 60.0}, timestamp=at(3.0)
        )
        store.writer.add_step(
            uid,
            0,
            "frontalis",
            {
                "waveform": "square",
                "frequency_hz": 10,
                "amplitude_ua": 100,
                "polarity": "biphasic",
                "ramp_s": 0.0,
            },
            3.0,
            3.0,
        )
        store.writer.end_session(uid, "completed")
        assert store.writer.flush(10)
        window, trainer = _trainer(qtbot, tmp_path, store)
        studio = trainer.studio
        (session,) = recent_sessions(store.engine)
        with qtbot.waitSignal(trainer.replay_loaded, timeout=10000) as loaded:
            trainer.replay(session.id)  # read off the GUI thread
        assert loaded.args == [True]
        assert "2 settings in all" in studio.status.text()
        studio.set_time_base(0.5)
        for playhead, settings in ((2.0, step1), (5.0, step2)):
            studio.seek(playhead)
            studio._last_annotate = -math.inf
            studio._dirty = True
            studio.render_frame()
            x = studio.plot.ideal_curve.xData
            ideal = studio.plot.ideal_curve.yData
            delivered = studio.plot.delivered_curve.yData
            ok = np.isfinite(ideal) & np.isfinite(delivered)
            assert ok.sum() > 100
            error = np.mean(np.abs(ideal[ok] - delivered[ok])) / settings.amplitude_ua
            assert error < 0.05, (playhead, error)
            assert np.nanmax(np.abs(ideal)) == settings.amplitude_ua
            assert x[0] >= playhead - 0.5 - 1e-6
            assert studio.annotations.commanded == settings
            assert f"{settings.frequency_hz:g} Hz" in studio.title.text()
            studio.grab().save(str(shots_dir(tmp_path) / f"replay_step_at_{playhead:g}s.png"))
    finally:
        if window is not None:
            _close(window)
        store.close(10)
