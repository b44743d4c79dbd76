"""Session detail: summary, signature, notes and amendments, steps, events, and the
recording replayed. Signing and amending open dialogs (app/ui/records/signing.py); the
lock itself is the store's.

Everything is read off the GUI thread (app/store/reader.py). The recording is shown as an
overview first — min/max per bucket over the whole session, a few MB however long it is —
and, zoomed in to a few seconds, as the samples themselves, read for that window only.
"""

from __future__ import annotations

import html
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app import palette
from app.engine.zones import step_outcome
from app.store import audit, photos, services
from app.store.recording import Recording
from app.store.vocabulary import AMENDABLE
from app.ui import style
from app.ui.labels import ElidedLabel
from app.ui.records import report
from app.ui.records.bridge import RecordsStore
from app.ui.records.format import (
    clock,
    damage_note,
    duration,
    event_details,
    field_value,
    local_datetime,
    local_time,
    number,
    program_name,
    zone_names,
)
from app.ui.records.history import OUTCOME_COLOURS, outcome_text
from app.ui.records.photos import PhotoCompareView, SessionPhotos
from app.ui.records.photos import caption as photo_caption
from app.ui.records.signing import AmendDialog, SignSessionDialog
from app.ui.screen_fit import resize_within_screen


def _table(headers: tuple[str, ...]) -> QTableWidget:
    t = QTableWidget(0, len(headers))
    t.setHorizontalHeaderLabels(headers)
    t.verticalHeader().setVisible(False)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.horizontalHeader().setSectionResizeMode(len(headers) - 1, QHeaderView.ResizeMode.Stretch)
    return t


STEP_WORDS = {"done": "done", "partial": "partly done", "skipped": "skipped"}
DETAIL_SPAN_S = 20.0  # zoomed in to this span or less: the samples themselves are shown


class SessionDetailView(QWidget):
    """What was done in one session, with the delivered current/voltage replayed.
    ``shown(session_id)`` once the session's record and its overview are on screen."""

    shown = Signal(int)
    exported = Signal(str)  # a CSV export (and its recording file) was written
    reloaded = Signal(int)  # the session was read again (after a signature, an amendment)
    report_written = Signal(str)  # a PDF report was written

    def __init__(self, store: RecordsStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.detail: services.SessionDetail | None = None
        self.client: services.ClientRecord | None = None
        self.overview: services.RecordingOverview | None = None
        self.recording: Recording | None = None  # the samples of the zoomed window, if any
        self._window: tuple[float, float] | None = None
        self._zoom = QTimer(self, singleShot=True, interval=150, timeout=self._load_window)
        self.title = ElidedLabel("Session")  # a long name never widens the view
        self.title.setStyleSheet("font-size: 16px; font-weight: 600")
        self.summary = QLabel(wordWrap=True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.pdf_button = QPushButton("Report (PDF)…")
        self.csv_button = QPushButton("Export CSV…")
        self.technician_page = QCheckBox("with technician page")
        self.technician_page.setToolTip(
            "Add a second page to the report with the session's full event log"
        )
        # the signature (or that it is not signed yet), the notes signed, the amendments
        self.sign_button = QPushButton("Sign…")
        self.sign_button.setToolTip("Sign this finished session as performed: it is then locked")
        self.amend_button = QPushButton("Amend…")
        self.amend_button.setToolTip("Add a dated correction under the signed record")
        self.signature_line = QLabel(wordWrap=True)
        self.signature_line.setTextFormat(Qt.TextFormat.PlainText)  # a name is never markup
        self.notes_label = QLabel(wordWrap=True)
        self.notes_label.setTextFormat(Qt.TextFormat.PlainText)
        self.amendments = _table(("Date", "By", "Corrects", "Correction", "Reason"))
        self.amendments.setWordWrap(True)
        self.amendments_box = QGroupBox("Amendments")
        box = QVBoxLayout(self.amendments_box)
        box.setContentsMargins(4, 4, 4, 4)
        box.addWidget(
            QLabel("Made after signing; the signed record stays as it was.", wordWrap=True)
        )
        box.addWidget(self.amendments)
        self.amendments_box.setVisible(False)
        self.steps = _table(
            ("#", "Zone", "Time / planned", "Mean current", "Charge", "Impedance", "Parameters")
        )
        self.events = _table(("Time", "Event", "Details"))
        self.plot = pg.GraphicsLayoutWidget()
        self.plot.setBackground(palette.SCOPE_BACKGROUND)
        self.current_plot = self.plot.addPlot(row=0, col=0)
        self.voltage_plot = self.plot.addPlot(row=1, col=0)
        self.voltage_plot.setXLink(self.current_plot)
        self.current_plot.setTitle(
            "Recorded delivered current", color=palette.SCOPE_TITLE, size="10pt"
        )
        for plot, label in (
            (self.current_plot, "current (µA)"),
            (self.voltage_plot, "electrode voltage (V)"),
        ):
            plot.getAxis("left").setLabel(label)
            plot.getAxis("left").setWidth(60)
            plot.showGrid(x=True, y=True, alpha=0.25)
            plot.setDownsampling(auto=True, mode="peak")
            plot.setClipToView(True)
        self.voltage_plot.setLabel("bottom", "time since the first sample", units="s")
        self.current_curve = self.current_plot.plot([], [], pen=pg.mkPen(style.CURRENT, width=1))
        self.voltage_curve = self.voltage_plot.plot([], [], pen=pg.mkPen(style.VOLTAGE, width=1))
        self.current_plot.sigXRangeChanged.connect(lambda *_: self._zoom.start())
        self.photos = SessionPhotos(store)
        self.photos.compare_requested.connect(self.compare_photos)
        self.compare: PhotoCompareView | None = None
        self.report_photos = QCheckBox("with photos")
        self.report_photos.setToolTip(
            "Print this session's before/after photos (scaled down) on the client's page"
        )
        self.no_recording = QLabel("No recording was stored for this session.")
        self.no_recording.setStyleSheet(f"color: {style.MUTED}")
        self.recording_damage = QLabel(wordWrap=True)  # what of it could not be read
        self.recording_damage.setStyleSheet(f"color: {style.WARN}")
        self.recording_damage.hide()

        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.pdf_button)
        head.addWidget(self.csv_button)
        # the signature and the report's options on rows of their own: the desk must fit
        # a 1280-pixel screen
        signing = QHBoxLayout()
        signing.addWidget(self.signature_line, 1)
        signing.addWidget(self.sign_button)
        signing.addWidget(self.amend_button)
        option = QHBoxLayout()
        option.addStretch(1)
        option.addWidget(self.report_photos)
        option.addWidget(self.technician_page)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.steps)
        split.addWidget(self.events)
        split.addWidget(self.plot)
        split.addWidget(self.photos)
        split.setSizes([90, 170, 300, 170])
        lay = QVBoxLayout(self)
        lay.addLayout(head)
        lay.addLayout(signing)
        lay.addLayout(option)
        lay.addWidget(self.summary)
        lay.addWidget(self.notes_label)
        lay.addWidget(self.amendments_box)
        lay.addWidget(split, 1)
        lay.addWidget(self.no_recording)
        lay.addWidget(self.recording_damage)
        self.pdf_button.clicked.connect(self._ask_pdf)
        self.csv_button.clicked.connect(self._ask_csv)
        self.sign_button.clicked.connect(self.ask_sign)
        self.amend_button.clicked.connect(self.ask_amend)
        self._set_enabled(False)

    def _set_enabled(self, on: bool) -> None:
        self.pdf_button.setEnabled(on)
        self.csv_button.setEnabled(on)
        d = self.detail
        finished = d is not None and d.summary.outcome is not None and d.summary.ended_at
        self.sign_button.setEnabled(bool(on and finished and d is not None and not d.locked))
        self.amend_button.setEnabled(bool(on and d is not None and d.locked))
        self.sign_button.setVisible(not (d is not None and d.locked))
        self.amend_button.setVisible(d is not None and d.locked)

    def _subject(self) -> str:
        assert self.detail is not None
        s = self.detail.summary
        name = self.client.name if self.client else ""
        return f"Session {s.id} · {local_datetime(s.started_at)} · {name}"

    def ask_sign(self) -> SignSessionDialog | None:
        """The signing dialog (open, non-blocking); the view reads the session again once
        it is signed."""
        if self.detail is None or self.detail.locked:
            return None
        dialog = SignSessionDialog(self.store, self.detail.summary.id, self._subject(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.done_with.connect(lambda _id: self.reload())
        dialog.open()
        return dialog

    def ask_amend(self) -> AmendDialog | None:
        if self.detail is None or not self.detail.locked:
            return None
        dialog = AmendDialog(self.store, self.detail.summary.id, self._subject(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.done_with.connect(lambda _id: self.reload())
        dialog.open()
        return dialog

    def reload(self) -> None:
        """Read the shown session again (after signing or amending it); ``reloaded``
        follows, not ``shown`` (that was a view, and is audited as one)."""
        if self.detail is None:
            return
        self.store.read(
            _session_and_overview,
            self.detail.summary.id,
            on_result=lambda r: self._show(r, announce=False),
            what="reading the session",
            key="session_detail",
            cancellable=True,
        )

    def _show_signature(self, detail: services.SessionDetail) -> None:
        sig = detail.signature
        if sig is None:
            self.signature_line.setText(
                "Not signed. Sign it once you have checked it: it is then locked."
                if detail.summary.outcome is not None
                else "Not finished: a session is signed once it has ended."
            )
            self.signature_line.setStyleSheet(f"color: {style.MUTED}")
        else:
            self.signature_line.setText(
                f"Signed by {sig.printed_name}, {local_datetime(sig.signed_at)}, "
                f"meaning: {sig.meaning}. Locked: corrections are amendments."
            )
            self.signature_line.setStyleSheet(f"color: {style.OK}; font-weight: 600")
        notes = "\n".join(text for _, text in detail.notes)
        self.notes_label.setText(f"Notes (as signed): {notes}" if notes else "")
        self.notes_label.setVisible(bool(notes))
        self.amendments.setRowCount(len(detail.amendments))
        for row, a in enumerate(detail.amendments):
            cells = (
                local_datetime(a.made_at),
                a.author_name,
                AMENDABLE.get(a.field, a.field),
                a.text,
                a.reason,
            )
            for col, value in enumerate(cells):
                self.amendments.setItem(row, col, QTableWidgetItem(value))
        self.amendments.resizeColumnsToContents()
        self.amendments.resizeRowsToContents()
        # as tall as its rows (a few), then it scrolls
        rows_h = sum(self.amendments.rowHeight(r) for r in range(min(4, len(detail.amendments))))
        self.amendments.setFixedHeight(
            self.amendments.horizontalHeader().sizeHint().height() + rows_h + 4
        )
        self.amendments_box.setVisible(bool(detail.amendments))

    def show_session(self, session_id: int) -> None:
        """Read the session, its client and its recording's overview off the GUI thread;
        ``shown`` follows when they are on screen."""
        self.store.read(
            _session_and_overview,
            session_id,
            on_result=self._show,
            what="reading the session",
            key="session_detail",
            cancellable=True,
        )

    def _show(self, result, announce: bool = True) -> None:
        detail, client, overview = result
        if detail is None:
            return
        self.detail = detail
        self.client = client
        self._show_signature(detail)
        s = detail.summary
        self.title.setText(f"Session {s.id} — {self.client.name if self.client else ''}")
        colour = OUTCOME_COLOURS.get(s.outcome, style.MUTED)
        self.summary.setText(
            f"{local_datetime(s.started_at)} · {duration(s.duration_s)} · "
            f"<b>{html.escape(program_name(s.program))}</b> · device "
            f"{html.escape(s.device_serial or '—')} "
            f"(firmware {html.escape(s.firmware or '—')}) · "
            f"<span style='color:{colour}'><b>{outcome_text(s.outcome, s.training)}</b></span>"
            f" · charge {number(s.charge_uc, 'µC', 2)}"
        )
        self.steps.setRowCount(len(detail.steps))
        for row, st in enumerate(detail.steps):
            params = "; ".join(
                field_value(k, v)
                for k, v in st.parameters.items()
                if k not in ("zones", "technique", "direction", "skipped_reason")
            )
            cells = (
                str(st.position + 1),
                zone_names(st.zone),
                f"{clock(st.actual_s)} / {clock(st.planned_s)} · "
                f"{STEP_WORDS[step_outcome(st.actual_s, st.planned_s)]}"
                + (
                    f": {why.split(' skipped: ', 1)[-1]}"
                    if isinstance(why := st.parameters.get("skipped_reason"), str) and why
                    else ""
                ),
                number(st.mean_current_ua, "µA", 0),
                number(st.charge_uc, "µC", 2),
                number(
                    None if st.mean_impedance_ohm is None else st.mean_impedance_ohm / 1000, "kΩ"
                ),
                params,
            )
            for col, value in enumerate(cells):
                self.steps.setItem(row, col, QTableWidgetItem(value))
        self.steps.resizeColumnsToContents()
        self.steps.horizontalHeader().setSectionResizeMode(6, QHeaderView.ResizeMode.Stretch)
        self.events.setRowCount(len(detail.events))
        for row, ev in enumerate(detail.events):
            details = event_details(ev.payload)
            kind = QTableWidgetItem(ev.kind)
            if "alarm" in ev.kind or "stop" in ev.kind or "fault" in ev.kind:
                kind.setForeground(pg.mkColor(style.ALARM))
            for col, item in enumerate(
                (QTableWidgetItem(local_time(ev.timestamp)), kind, QTableWidgetItem(details))
            ):
                self.events.setItem(row, col, item)
        self.events.resizeColumnsToContents()
        self.events.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.overview, self.recording, self._window = overview, None, None
        damage = damage_note(overview).strip()
        self.no_recording.setVisible(overview.n_samples == 0 and not damage)
        self.recording_damage.setText(damage)
        self.recording_damage.setVisible(bool(damage))
        self.plot.setVisible(overview.n_samples > 0)
        self._draw_overview()
        if overview.n_samples:
            self.current_plot.setXRange(0, overview.duration_s, padding=0)
            self.current_plot.enableAutoRange(axis="y")
            self.voltage_plot.enableAutoRange(axis="y")
        self.photos.set_session(s.id)
        self._set_enabled(True)
        if announce:
            self.shown.emit(s.id)
        else:
            self.reloaded.emit(s.id)

    def _draw_overview(self) -> None:
        ov = self.overview
        if ov is None:
            return
        self.current_curve.setData(*ov.envelope("current"), connect="finite")
        self.voltage_curve.setData(*ov.envelope("voltage"), connect="finite")

    def _load_window(self) -> None:
        """Zoomed in to DETAIL_SPAN_S or less: read those samples (only those)."""
        ov, detail = self.overview, self.detail
        if ov is None or detail is None or not ov.n_samples:
            return
        t0, t1 = self.current_plot.viewRange()[0]
        if t1 - t0 > DETAIL_SPAN_S:
            if self._window is not None:
                self._window, self.recording = None, None
                self._draw_overview()
            return
        if self._window is not None and self._window[0] <= t0 and t1 <= self._window[1]:
            return
        pad = (t1 - t0) / 2
        window = (max(0.0, t0 - pad), t1 + pad)
        self.store.read(
            services.recording_window,
            detail.summary.id,
            *window,
            on_result=lambda rec: self._show_window(window, rec),
            what="reading the recording",
            key="session_detail_window",
            cancellable=True,
        )

    def _show_window(self, window: tuple[float, float], rec: Recording) -> None:
        self._window, self.recording = window, rec
        self.current_curve.setData(rec.t_s, rec.current_ua, connect="finite")
        self.voltage_curve.setData(rec.t_s, rec.voltage_v, connect="finite")

    def compare_photos(self, session_id: int) -> None:
        """A window comparing this session's photos with another session's of the client."""
        if self.detail is None:
            return
        if self.compare is not None:
            self.compare.close()
        self.compare = PhotoCompareView(self.store, self.detail.summary.client_id, parent=self)
        self.compare.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.compare.destroyed.connect(lambda *_: setattr(self, "compare", None))
        resize_within_screen(self.compare, 1200, 760)
        self.compare.open(left_session=None, right_session=session_id)
        self.compare.show()

    def save_pdf(self, path: Path) -> None:
        """The report (client page, and the technician page if ticked), its chart drawn
        from the recording's overview already read (not a screen grab)."""
        assert self.detail is not None
        assert self.client is not None
        if self.report_photos.isChecked():  # the photos are read first, off the GUI thread
            detail = self.detail

            def write(found: list[photos.Photo]) -> None:
                if self.detail is not detail:
                    return  # another session opened meanwhile
                items = [(photo_caption(p.info), p.data) for p in found]
                try:
                    self._write_pdf(path, items)
                except OSError as exc:
                    self.store.error_occurred.emit(f"Cannot write {path}: {exc.strerror or exc}")

            self.store.read(
                photos.photos_of,
                detail.summary.id,
                on_result=write,
                what="reading the photos for the report",
            )
            return
        self._write_pdf(path, None)

    def _write_pdf(self, path: Path, items: list[tuple[str, bytes]] | None) -> None:
        assert self.detail is not None
        assert self.client is not None
        report.write_pdf(
            self.detail,
            self.client,
            path,
            self.overview,
            technician_page=self.technician_page.isChecked(),
            photos=items,
        )
        self.store.audit(
            "report",
            audit.session_subject(self.detail.summary.id),
            {
                "format": "pdf",
                "client": self.detail.summary.client_id,
                "technician_page": self.technician_page.isChecked(),
                "photos": len(items or []),
            },
        )
        self.report_written.emit(str(path))

    def save_csv(self, path: Path) -> None:
        """Steps and events to ``path``, the recording beside it
        (report.recording_csv_path): the samples are read off the GUI thread, then both
        files are written; ``exported(path)`` follows."""
        detail = self.detail
        assert detail is not None
        sid = detail.summary.id

        def write(rec: Recording) -> None:
            try:
                report.write_csv(detail, path, rec)
            except OSError as exc:
                self.store.error_occurred.emit(f"Cannot write {path}: {exc.strerror or exc}")
                return
            self.store.audit(
                "export",
                audit.session_subject(sid),
                {"format": "csv", "client": detail.summary.client_id, "samples": rec.n_samples},
            )
            self.exported.emit(str(path))

        self.store.read(
            services.load_recording,
            sid,
            on_result=write,
            what="reading the recording to export",
            cancellable=True,
        )

    def _ask_pdf(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save session report", f"session-{self.detail.summary.id}.pdf", "PDF (*.pdf)"
        )
        if path:
            self._guarded(self.save_pdf, Path(path))

    def _ask_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export session", f"session-{self.detail.summary.id}.csv", "CSV (*.csv)"
        )
        if path:
            self._guarded(self.save_csv, Path(path))

    def _guarded(self, fn, path: Path) -> None:
        try:
            fn(path)
        except OSError as exc:
            self.store.error_occurred.emit(f"Cannot write {path}: {exc.strerror or exc}")


def _session_and_overview(engine, session_id: int, cancel=None):
    """One background read: the session, its client and its recording's overview."""
    detail = services.session_detail(engine, session_id)
    if detail is None:
        return None, None, None
    return (
        detail,
        services.get_client(engine, detail.summary.client_id),
        services.recording_overview(engine, session_id, cancel=cancel),
    )
