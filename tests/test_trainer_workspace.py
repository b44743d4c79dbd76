"""The trainer workspace replays a session recorded in the store."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSettings

from app.device.samples import SampleBlock
from app.store.runtime import start_store
from app.ui.device_manager import DeviceManager
from app.ui.main_window import MainWindow


def test_replay_of_a_stored_session(qtbot, tmp_path):
    store = start_store(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        uid = store.writer.begin_session(store.info.training_client_id, program="toning",
                                         training=True)
        fs = 1000.0
        t = np.arange(3000) / fs
        current = np.where(np.mod(t * 10, 1) < 0.5, 100.0, -100.0).astype(np.float32)
        store.writer.add_samples(uid, SampleBlock(0, fs, current, current * 0.02,
                                                  np.full(3000, 100, np.float32),
                                                  np.zeros(3000, np.uint8),
                                                  np.zeros(3000, bool)))
        store.writer.add_event(uid, "transition", {"message": "ready -> ramping_up"})
        store.writer.end_session(uid, "completed")
        assert store.writer.flush(10)
        window = MainWindow(DeviceManager(),
                            QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
                            store)
        qtbot.addWidget(window)
        assert window.switch_workspace("trainer")
        trainer = window.workspaces["trainer"]
        from app.store.services import recent_sessions

        (session,) = recent_sessions(store.engine)
        assert trainer.replay(session.id)
        assert trainer.studio.recording is not None
        assert trainer.studio.recording.duration_s > 2.9
        window.close()
        for ws in window.workspaces.built():
            ws.shutdown()
    finally:
        store.close(10)
