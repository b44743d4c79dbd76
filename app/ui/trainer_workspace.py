"""The trainer's waveform studio workspace: live demonstrations, presentation, replay.

With a store, studio output runs as a session on the training client: Start sends the
settings, then START once the device accepted them, and the session (program "studio",
training) begins when the device acknowledges START. It is recorded by the same
:class:`~app.engine.recorder.SessionRecorder` as the desk's and ``run``'s sessions. While
it is open every sample block is recorded, each settings change is an event (and closes
a step of the session), and the session ends ``completed`` once a Stop has brought the
device back to idle, ``emergency_stopped`` on the console's ESTOP (or the device's),
``stopped`` when the output ended otherwise (the output authority's stop included),
``fault`` on a device fault or watchdog trip (the desk's mapping,
app.engine.recorder.DEVICE_END_OUTCOMES), and ``interrupted`` on link loss or close.

Every command goes through the output authority's studio port: the studio drives the
training load, never a client's treatment, within the live limits (the spin box's maximum
is the authority's ceiling, named).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDockWidget, QInputDialog, QMessageBox, QPushButton, QWidget

from app.device.protocol import DeviceState, Info, Status
from app.device.samples import SampleBlock
from app.device.waveform import OutputSettings
from app.engine.authority import Driver, OutputAuthority, OutputRefused
from app.engine.recorder import DEVICE_END_OUTCOMES, SessionRecorder
from app.engine.session import SessionRecord, SessionState
from app.store.vocabulary import Outcome
from app.teaching.schedule import schedule_from_events, settings_from_payload
from app.ui.records.format import damage_note
from app.ui.trainer.studio import WaveformStudio
from app.ui.workspaces import Workspace


class TrainerWorkspace(Workspace):
    """The studio in the centre; recorded sessions of the store can be replayed into it."""

    name = "trainer"
    title = "Trainer"
    driver = Driver.STUDIO
    replay_loaded = Signal(bool)  # a recorded session is in the studio's timeline (or not)

    def __init__(
        self,
        store,
        authority: OutputAuthority,
        parent: QWidget | None = None,
        *,
        records_pending: bool = False,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.records_pending = records_pending and store is None
        self.authority = authority
        self._background = None  # BackgroundReads on the store's engine, made when needed
        self.port = authority.port(Driver.STUDIO)
        self.studio = WaveformStudio()
        self.studio.set_port(self.port)
        self.setCentralWidget(self.studio)
        self.link = None
        self._link_slots: list = []
        self.session: _StudioSession | None = None  # the open training session, if any
        self.last_session_uid: str | None = None
        # a training session begins when the authority reports the studio's START taken
        authority.output_started.connect(self._output_started)
        if store is not None or self.records_pending:
            self.studio.set_output_handlers(self._start_requested, self._stop_requested)
        # recorded when the studio sends them (a change while running is held for a
        # period boundary: the record says when it was commanded, not when asked)
        self.studio.settings_applied.connect(self._settings_applied)
        self.replay_button = QPushButton("Replay a recorded session…")
        self.replay_button.setEnabled(store is not None)
        self.replay_button.setToolTip(
            "Load a session's recording from the client records and scrub through it"
            if store is not None or self.records_pending
            else "Client records are unavailable: nothing to replay"
        )
        self.replay_button.clicked.connect(self.choose_replay)
        self.studio.presentation_changed.connect(self._presentation)
        self.add_dock(
            "Recordings", self.replay_button, Qt.DockWidgetArea.BottomDockWidgetArea, "replay"
        )
        authority.limits_changed.connect(self._show_limits)
        authority.output_revoked.connect(self._output_revoked)
        authority.output_lowered.connect(self._output_lowered)
        self._show_limits()

    def _show_limits(self) -> None:
        """The amplitude control's maximum is the authority's ceiling for the studio."""
        d = self.port.ceiling()
        self.studio.set_amplitude_cap(d.ceiling_ua, d.layer_label)

    def _output_revoked(self, driver: Driver, why: str) -> None:
        if driver is not Driver.STUDIO:
            return
        self.studio.message.emit(f"Output stopped: {why}.")
        if self.session is not None:
            self.session.revoked = why  # said again when the session ends, which follows
            self.session.event("limit", f"output stopped by the output authority: {why}")

    def _output_lowered(self, driver: Driver, why: str) -> None:
        if driver is not Driver.STUDIO:
            return
        self.studio.message.emit(f"Output lowered: {why}.")
        commanded = self.authority.commanded
        if commanded is not None:  # the title, the ideal and the controls say what runs now
            self.studio.set_reference(commanded)
        if self.session is not None:
            self.session.event("limit", f"output lowered by the output authority: {why}")

    def store_ready(self, store) -> None:
        """The records opened: studio output is recorded, sessions can be replayed."""
        self.store = store
        self.records_pending = False
        self.studio.set_output_handlers(self._start_requested, self._stop_requested)
        self.replay_button.setEnabled(True)
        self.attach_link(self.link)

    def store_unavailable(self, error: str) -> None:
        """No records: the studio drives the device directly, unrecorded (as it says)."""
        self.records_pending = False
        self.studio.set_output_handlers(None, None)
        self.replay_button.setToolTip("Client records are unavailable: nothing to replay")

    def attach_link(self, link) -> None:
        self.studio.set_link(link)
        for sig, slot in self._link_slots:
            sig.disconnect(slot)
        self._link_slots = []
        self.link = link
        if link is None or self.store is None:
            return
        self._link_slots = [
            (link.status_received, self._status_received),
            (link.disconnected, self._link_lost),
        ]
        for sig, slot in self._link_slots:
            sig.connect(slot)

    def toggle_pause(self) -> None:
        self.studio.stop_output()

    def shutdown(self) -> None:
        self._end_session(Outcome.INTERRUPTED, "console closed")
        self.studio.shutdown()

    # -- studio output as sessions on the training client ------------------------------

    def recording_samples(self, block: SampleBlock) -> None:
        if self.session is not None:
            self.session.recorder.on_samples(block)

    def reference_changed(self, settings: OutputSettings) -> None:
        """Settings applied from the console's output panel."""
        self._record_settings(settings, "output panel")

    def emergency_stop_sent(self) -> None:
        self._end_session(Outcome.EMERGENCY_STOPPED, "emergency stop")

    def _connected(self) -> bool:
        return self.link is not None and bool(getattr(self.link, "is_connected", False))

    def _start_requested(self, settings: OutputSettings) -> None:
        if self.store is None:  # only while the records are opening (a second at start-up)
            self.studio.message.emit(
                "The client records are still opening: studio output "
                "starts once it can be recorded. Try again in a moment."
            )
            return
        if not self._connected():
            self.studio.message.emit(
                "No device: cannot start output. Connect the device (or the simulator) first."
            )
            return
        running = self.session is not None  # already on: new settings for that output
        try:  # else START follows once the device took them (the authority sequences it)
            grant = (
                self.port.request_settings(settings)
                if running
                else self.port.request_start_with(settings)
            )
        except OutputRefused as exc:
            self.studio.message.emit(f"Output not started: {exc}.")
            return
        if grant.note:
            self.studio.message.emit(grant.note)
        if running:
            self._record_settings(grant.settings, "studio")

    def _stop_requested(self) -> None:
        if not self._connected():
            self.studio.message.emit("No device: nothing to stop.")
            self._end_session(Outcome.INTERRUPTED, "no device link")
            return
        self.port.stop_output()
        if self.session is not None:
            self.session.stopping = True
            self.session.event("stop_requested", "stop requested")

    def _output_started(self, driver: Driver, settings: OutputSettings) -> None:
        if driver is Driver.STUDIO and self.store is not None and self.session is None:
            self._begin_session(settings)

    def _begin_session(self, settings: OutputSettings) -> None:
        info = getattr(self.link, "info", None)
        serial, firmware = (info.serial, info.firmware) if isinstance(info, Info) else ("", "")
        store = self.store
        # the one session recorder of every path (desk, run, studio): same life cycle,
        # same outcome mapping, steps timed by their output-on samples
        recorder = SessionRecorder(
            store.writer,
            store.info.training_client_id,
            training=True,  # the operator: whoever is signed in when the session begins
            device_serial=serial,
            firmware=firmware,
        )
        recorder.set_program("studio")
        recorder.on_state(SessionState.RAMPING_UP)  # opens the session in the store
        self.session = ses = _StudioSession(recorder, settings)
        self.last_session_uid = recorder.session_uid
        recorder.on_step(0, "studio", settings_dict(settings), 0.0)
        ses.event("settings", "output started", **settings_dict(settings))
        self.studio.message.emit("Output on: recorded as a session on the training client.")

    def _settings_applied(self, settings: OutputSettings) -> None:
        self._record_settings(settings, "studio")

    def _record_settings(self, settings: OutputSettings, source: str) -> None:
        ses = self.session
        if ses is None or settings == ses.settings:
            return
        ses.settings = settings
        ses.steps += 1
        ses.recorder.on_step(ses.steps, "studio", settings_dict(settings), 0.0)
        ses.event(
            "settings", f"settings changed ({source})", source=source, **settings_dict(settings)
        )

    def _status_received(self, status: Status) -> None:
        ses = self.session
        if ses is None:
            return
        st = status.state
        if st != ses.state:
            ses.state = st
            ses.event("device_state", f"device {st.label.lower()}", state=st.name.lower())
        if st.output_possible or st == DeviceState.PAUSED:
            ses.output_seen = True
            return
        ending = DEVICE_END_OUTCOMES.get(st)
        if ending is not None:
            self._end_session(ending, f"device {st.label.lower()}")
        elif st == DeviceState.IDLE and (ses.stopping or ses.output_seen):
            self._end_session(Outcome.COMPLETED if ses.stopping else Outcome.STOPPED, "output off")

    def _link_lost(self, reason: str) -> None:
        self._end_session(Outcome.INTERRUPTED, f"link lost: {reason}")

    def _end_session(self, outcome: Outcome, why: str) -> None:
        ses = self.session
        if ses is None:
            return
        ses.event("ended", why, outcome=outcome.value)
        state, finished = _END_STATE[outcome]
        ses.recorder.on_state(state, program_finished=finished)  # closes with its outcome
        self.session = None
        # why the output authority stopped it, if it did: the last line the trainer reads
        cause = f"Output stopped: {ses.revoked}. " if ses.revoked else ""
        self.studio.message.emit(
            f"{cause}Training session ended ({outcome.label.lower()}): "
            f"{ses.recorder.samples_recorded:,} samples recorded."
        )

    def demo_start(self) -> None:
        if self.studio.apply():
            self.studio.start()

    def _presentation(self, on: bool) -> None:
        # The studio makes the window full screen itself; the class sees only the studio
        # (and the STOP button, which stays in reach on the main toolbar).
        for dock in self.findChildren(QDockWidget):
            dock.setVisible(not on)

    # -- replay ---------------------------------------------------------------------

    def _reads(self):
        from app.ui.background import BackgroundReads

        if self._background is None or self._background.engine is not self.store.engine:
            self._background = BackgroundReads(self.store.engine, self)
            self._background.failed.connect(self.studio.message)
        return self._background

    def choose_replay(self) -> None:
        """List the recorded sessions (read off the GUI thread), then ask which one."""
        from app.store.services import recent_sessions

        self._reads().read(
            recent_sessions,
            on_result=self._offer_replay,
            what="listing the recorded sessions",
            key="replay_list",
        )

    def _offer_replay(self, recent) -> None:
        from app.ui.records.format import program_name, program_names

        names = program_names()
        sessions = [s for s in recent if s.ended_at is not None]
        if not sessions:
            QMessageBox.information(self, "Replay", "No recorded sessions yet.")
            return
        labels = [
            f"{s.started_at:%Y-%m-%d %H:%M} · {program_name(s.program, names)} · "
            f"{'training' if s.training else f'client {s.client_id}'} · "
            f"{s.outcome.value if s.outcome else 'open'}"
            for s in sessions
        ]
        label, ok = QInputDialog.getItem(self, "Replay a session", "Session:", labels, 0, False)
        if ok:
            self.replay(sessions[labels.index(label)].id)

    def replay(self, session_id: int) -> None:
        """Load a stored session into the studio's replay timeline: read off the GUI
        thread (a long session takes a moment; the studio says so), then shown;
        ``replay_loaded(ok)`` follows."""
        self.studio.message.emit(f"Loading session {session_id}'s recording…")
        self._reads().read(
            _recording_and_detail,
            session_id,
            on_result=lambda r: self._replay_loaded(session_id, *r),
            what="reading the recording",
            key="replay",
            cancellable=True,
        )

    def _replay_loaded(self, session_id: int, rec, detail) -> None:
        damage = damage_note(rec)
        if rec.n_samples == 0:
            self.studio.message.emit(f"Session {session_id} has no recording.{damage}")
            self.replay_loaded.emit(False)
            return
        events, stored = [], []
        settings = None
        if detail is not None:
            start = detail.summary.started_at.replace(tzinfo=None)
            for e in detail.events:
                at = (e.timestamp.replace(tzinfo=None) - start).total_seconds()
                events.append((at, str(e.payload.get("message", e.kind))))
                stored.append((at, e.kind, e.payload))
            if detail.steps:
                settings = settings_from_payload(detail.steps[0].parameters)
        # The ideal follows what was commanded when: steps, intensity, pauses, stops.
        schedule = schedule_from_events(stored, settings)
        ok = bool(
            self.studio.load_recording(
                rec.t_s,
                rec.current_ua,
                rec.voltage_v,
                events=events,
                schedule=schedule,
                sample_rate=rec.sample_rate,
            )
        )
        if ok and damage:
            self.studio.message.emit(f"Replaying session {session_id}.{damage}")
        self.replay_loaded.emit(ok)


def _recording_and_detail(engine, session_id: int, cancel=None):
    """One background read: a session's recording and its record."""
    from app.store.services import load_recording, session_detail

    return load_recording(engine, session_id, cancel=cancel), session_detail(engine, session_id)


# How a studio session's end reaches the one recorder: the machine state whose outcome
# (app.engine.recorder.END_OUTCOMES) it is, and whether the output ended as asked.
_END_STATE = {
    Outcome.COMPLETED: (SessionState.COMPLETE, True),
    Outcome.STOPPED: (SessionState.COMPLETE, False),
    Outcome.EMERGENCY_STOPPED: (SessionState.ESTOPPED, False),
    Outcome.FAULT: (SessionState.DEVICE_FAULT, False),
    Outcome.INTERRUPTED: (SessionState.LINK_LOST, False),
}


@dataclass
class _StudioSession:
    """The open training session (GUI thread only): the one SessionRecorder, and what the
    studio needs to know to end it."""

    recorder: SessionRecorder
    settings: OutputSettings
    steps: int = 0
    state: DeviceState | None = None
    output_seen: bool = False  # the device reported output on since the session began
    stopping: bool = False  # the studio's Stop was sent
    revoked: str = ""  # why the output authority stopped the output (a limit, eligibility)

    @property
    def uid(self) -> str | None:
        return self.recorder.session_uid

    @property
    def samples(self) -> int:
        return self.recorder.samples_recorded

    def event(self, kind: str, message: str, **data: object) -> None:
        self.recorder.on_record(
            SessionRecord(dt.datetime.now(dt.UTC), kind, "studio", message, dict(data))
        )


def settings_dict(s: OutputSettings) -> dict:
    """The settings as stored in events and steps (read back by ``settings_from_payload``)."""
    return {
        "waveform": s.waveform.name.lower(),
        "frequency_hz": s.frequency_hz,
        "amplitude_ua": s.amplitude_ua,
        "polarity": s.polarity.name.lower(),
        "alternate_s": s.alternate_s,
        "ramp_s": s.ramp_s,
    }
