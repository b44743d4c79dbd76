"""The trainer's waveform studio workspace: live demonstrations, presentation, replay."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QInputDialog, QMessageBox, QPushButton, QWidget

from app.device.waveform import OutputSettings, Polarity, Waveform
from app.ui.trainer.studio import WaveformStudio
from app.ui.workspaces import Workspace


class TrainerWorkspace(Workspace):
    """The studio in the centre; recorded sessions of the store can be replayed into it."""

    name = "trainer"
    title = "Trainer"

    def __init__(self, store=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.studio = WaveformStudio()
        self.setCentralWidget(self.studio)
        self.replay_button = QPushButton("Replay a recorded session…")
        self.replay_button.setEnabled(store is not None)
        self.replay_button.setToolTip("Load a session's recording from the client records "
                                      "and scrub through it")
        self.replay_button.clicked.connect(self.choose_replay)
        self.studio.presentation_changed.connect(self._presentation)
        self.add_dock("Recordings", self.replay_button, Qt.DockWidgetArea.BottomDockWidgetArea,
                      "replay")

    def attach_link(self, link) -> None:
        self.studio.set_link(link)

    def toggle_pause(self) -> None:
        self.studio.stop_output()

    def shutdown(self) -> None:
        self.studio.shutdown()

    def demo_start(self) -> None:
        if self.studio.apply():
            self.studio.start_output()

    def _presentation(self, on: bool) -> None:
        # The studio makes the window full screen itself; the class sees only the studio
        # (and the STOP button, which stays in reach on the main toolbar).
        for dock in self.findChildren(QDockWidget):
            dock.setVisible(not on)

    # -- replay ---------------------------------------------------------------------

    def choose_replay(self) -> None:
        from app.store.services import recent_sessions

        sessions = [s for s in recent_sessions(self.store.engine) if s.ended_at is not None]
        if not sessions:
            QMessageBox.information(self, "Replay", "No recorded sessions yet.")
            return
        labels = [f"{s.started_at:%Y-%m-%d %H:%M} · {s.program or 'manual'} · "
                  f"{'training' if s.training else f'client {s.client_id}'} · "
                  f"{s.outcome.value if s.outcome else 'open'}" for s in sessions]
        label, ok = QInputDialog.getItem(self, "Replay a session", "Session:", labels, 0, False)
        if ok:
            self.replay(sessions[labels.index(label)].id)

    def replay(self, session_id: int) -> bool:
        """Load a stored session into the studio's replay timeline."""
        from app.store.services import load_recording, session_detail

        rec = load_recording(self.store.engine, session_id)
        if rec.n_samples == 0:
            self.studio.message.emit(f"Session {session_id} has no recording.")
            return False
        detail = session_detail(self.store.engine, session_id)
        events = []
        settings = None
        if detail is not None:
            start = detail.summary.started_at.replace(tzinfo=None)
            for e in detail.events:
                at = (e.timestamp.replace(tzinfo=None) - start).total_seconds()
                events.append((at, str(e.payload.get("message", e.kind))))
            if detail.steps:
                settings = _settings_from_step(detail.steps[0].parameters)
        return bool(self.studio.load_recording(rec.t_s, rec.current_ua, rec.voltage_v,
                                               events=events, settings=settings,
                                               sample_rate=rec.sample_rate))


def _settings_from_step(params: dict) -> OutputSettings | None:
    try:
        return OutputSettings(Waveform[str(params["waveform"]).upper()],
                              float(params["frequency_hz"]), float(params["amplitude_ua"]),
                              Polarity[str(params["polarity"]).upper()],
                              float(params.get("alternate_s", 2.0)),
                              float(params.get("ramp_s", 1.0)))
    except (KeyError, ValueError, TypeError):
        return None

