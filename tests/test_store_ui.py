"""Records widgets: client list, editor, screening form, history, session detail, reports."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextDocumentFragment

from app.device.samples import SampleBlock
from app.store import services
from app.store.database import open_store
from app.store.models import Outcome
from app.store.screening import Status, add_months
from app.store.validation import ClientData
from app.store.writer import StoreWriter

RATE = 1000.0


def _block(first: int, n: int, amp: float) -> SampleBlock:
    t = (first + np.arange(n)) / RATE
    phase = np.mod(t * 10, 1.0)
    cur = np.where(phase < 0.5, amp, -amp).astype(np.float32) * np.where(
        np.mod(np.floor(t / 2), 2) == 0, 1, -1
    ).astype(np.float32)
    volt = (cur * 12e-3 + 0.05 * np.sin(2 * np.pi * 3 * t)).astype(np.float32)
    return SampleBlock(
        first,
        RATE,
        cur,
        volt,
        np.full(n, amp, np.float32),
        np.zeros(n, np.uint8),
        np.zeros(n, bool),
    )


def populate(engine, info) -> dict[str, int]:
    """A small clinic: a cleared client with four sessions, a pregnant one, a minor."""
    w = StoreWriter(engine)
    ids: dict[str, int] = {}
    try:
        ids["anna"] = w.save_client(
            ClientData(
                "Anna Berg",
                dt.date(1979, 4, 12),
                "anna.berg@example.org",
                "Dry, mature skin",
                250.0,
            )
        ).result(5)
        ids["maria"] = w.save_client(
            ClientData("Maria Lopez", dt.date(1991, 9, 3), "+44 20 7946 0001")
        ).result(5)
        ids["tom"] = w.save_client(ClientData("Tom Jensen", dt.date(2010, 6, 1))).result(5)
        ids["lena"] = w.save_client(
            ClientData("Lena Fischer", dt.date(1985, 1, 30), "lena@example.org")
        ).result(5)
        today = dt.date.today()
        no = {
            "implanted_device": False,
            "epilepsy": False,
            "pregnancy": False,
            "active_cancer": False,
            "heart_condition": False,
            "metal_implants": False,
            "facial_surgery": None,
            "fillers_botox": None,
            "retinoids": None,
            "diabetes": False,
            "thrombosis": False,
            "skin_lesions": False,
        }
        w.add_screening(ids["anna"], no, today, add_months(today, 6), based_on=None)
        w.add_consent(ids["anna"], "consent-2026-01", based_on=None)
        w.add_screening(
            ids["maria"], no | {"pregnancy": True}, today, add_months(today, 6), based_on=None
        )
        start = dt.datetime.now(dt.UTC) - dt.timedelta(days=60)
        for k, (amp, z, outcome) in enumerate(
            [
                (150, 16000, Outcome.COMPLETED),
                (180, 14500, Outcome.COMPLETED),
                (200, 13800, Outcome.STOPPED),
                (220, 12900, Outcome.COMPLETED),
            ]
        ):
            t0 = start + dt.timedelta(days=14 * k)
            uid = w.begin_session(
                ids["anna"],
                program="Lift & tone",
                device_serial="MC-0042",
                firmware="1.3.0",
                started_at=t0,
            )
            w.add_event(uid, "state", {"to": "running"}, t0)
            w.add_event(uid, "parameter", {"amplitude_ua": amp}, t0 + dt.timedelta(seconds=30))
            if outcome is Outcome.STOPPED:
                w.add_event(
                    uid, "alarm", {"code": "HIGH_IMPEDANCE"}, t0 + dt.timedelta(seconds=400)
                )
            for first in range(0, 4000, 100):
                w.add_samples(uid, _block(first, 100, amp))
            for pos, zone in enumerate(("forehead", "cheeks", "jawline")):
                w.add_step(
                    uid,
                    pos,
                    zone,
                    {"frequency_hz": 10, "amplitude_ua": amp},
                    180,
                    150 if outcome is Outcome.STOPPED and pos == 2 else 180,
                    charge_uc=amp * 0.09,
                    mean_current_ua=amp * 0.95,
                    mean_impedance_ohm=z + 500 * pos,
                )
            w.add_event(uid, "state", {"to": "finished"}, t0 + dt.timedelta(seconds=540))
            w.end_session(uid, outcome, t0 + dt.timedelta(seconds=540))
            ids[f"session{k}"] = uid  # type: ignore[assignment]
        assert w.flush(10)
    finally:
        w.close()
    return ids


@pytest.fixture
def records(qtbot, new_sqlite_url):
    from app.ui.records.bridge import RecordsStore

    engine, info = open_store(new_sqlite_url)
    ids = populate(engine, info)
    writer = StoreWriter(engine)
    store = RecordsStore(engine, writer, info.default_operator_id)
    yield store, ids
    writer.close()
    engine.dispose()


def test_client_list_searches(qtbot, records):
    from app.ui.records.client_list import ClientList

    store, ids = records
    w = ClientList(store)
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w.table.rowCount() == 5, timeout=5000)  # read off the GUI thread
    assert "Training" in w.table.item(0, 0).text()
    status = {
        w.table.item(r, 0).text(): w.table.item(r, 2).text() for r in range(w.table.rowCount())
    }
    # a name the column cuts short is whole in its tooltip
    assert all(
        QTextDocumentFragment.fromHtml(w.table.item(r, 0).toolTip()).toPlainText()
        == w.table.item(r, 0).text()
        for r in range(w.table.rowCount())
    )
    assert status == {
        "Training head (demo)": "Demo head",
        "Anna Berg": "Cleared",
        "Lena Fischer": "Screening needed",
        "Maria Lopez": "Blocked",
        "Tom Jensen": "Screening needed",
    }
    w.search.setText("lopez")
    qtbot.waitUntil(lambda: w.table.rowCount() == 1, timeout=2000)
    assert w.table.item(0, 0).text() == "Maria Lopez"
    with qtbot.waitSignal(w.client_selected) as got:
        w.table.selectRow(0)
    assert got.args == [ids["maria"]]


def test_editor_validates_and_saves_through_the_writer(qtbot, records):
    from app.ui.records.client_editor import ClientEditor

    store, _ = records
    ed = ClientEditor(store)
    qtbot.addWidget(ed)
    assert not ed.save_button.isEnabled()
    assert "Name: enter the client's name." in ed.problems.text()
    # an empty new form says what a save needs in grey, not as an error in red
    from app.ui import style

    assert style.MUTED in ed.problems.styleSheet()
    ed.name.setText("Nora Quist")
    assert style.ALARM in ed.problems.styleSheet()  # typing began: what is missing is red
    ed.limit_on.setChecked(True)
    ed.limit.setValue(180)
    # no default date of birth: it is typed (or marked unknown)
    assert not ed.save_button.isEnabled()
    assert "Date of birth: no date entered" in ed.problems.text()
    ed.dob.setText("24 Nov")  # half a date is not a date, and is never completed for you
    assert "'24 Nov' is not a date" in ed.problems.text()
    ed.dob.setText("24 Nov 1984")
    assert ed.save_button.isEnabled()
    assert ed.problems.text() == ""
    with qtbot.waitSignal(ed.saved, timeout=5000) as got:
        ed.save_button.click()
    record = services.get_client(store.engine, got.args[0])
    assert (record.name, record.current_limit_ua) == ("Nora Quist", 180.0)
    assert record.date_of_birth == dt.date(1984, 11, 24)


def test_screening_form_blocks_a_contraindicated_client(qtbot, records):
    from app.ui.records.screening_form import ScreeningForm

    store, ids = records
    form = ScreeningForm(store)
    qtbot.addWidget(form)
    with qtbot.waitSignal(form.loaded, timeout=5000):
        form.set_client(ids["maria"])
    assert form.evaluation().status is Status.BLOCKED
    assert "Output blocked" in form.banner.text()
    assert "Pregnancy" in form.banner.text()
    # answering "no" clears her; a relative one then needs an acknowledged override
    form.set_answer("pregnancy", False)
    assert form.evaluation().status is Status.CLEARED
    form.set_answer("diabetes", True)
    assert form.evaluation().status is Status.NEEDS_OVERRIDE
    form.acknowledge("diabetes")
    assert form.evaluation().status is Status.CLEARED
    with qtbot.waitSignal(form.saved, timeout=5000):
        form.save_button.click()
    ev = services.screening_status(store.engine, ids["maria"])
    assert ev.status is Status.CLEARED
    assert [r.kind for r in ev.reasons] == ["acknowledged"]


def test_an_override_never_carries_over_to_the_next_client(qtbot, records):
    from app.ui.records.screening_form import ScreeningForm

    store, ids = records
    form = ScreeningForm(store)
    qtbot.addWidget(form)
    with qtbot.waitSignal(form.loaded, timeout=5000):
        form.set_client(ids["maria"])
    form.set_answer("pregnancy", False)
    form.set_answer("diabetes", True)
    form.acknowledge("diabetes")
    assert form.evaluation().status is Status.CLEARED
    # the next client's stored screening has the same relative contraindication, not
    # acknowledged: her box starts unticked
    today = dt.date.today()
    answers = {
        item_id: False if ans.item.type == "yes_no" else None
        for item_id, ans in form.answers.items()
    } | {"diabetes": True}
    assert store.writer.add_screening(
        ids["lena"], answers, today, add_months(today, 6), based_on=None
    ).result(5)
    with qtbot.waitSignal(form.loaded, timeout=5000):
        form.set_client(ids["lena"])
    assert not form.overrides["diabetes"].isChecked()
    assert form.evaluation().status is Status.NEEDS_OVERRIDE


def test_screening_form_needs_every_answer(qtbot, records):
    from app.ui.records.screening_form import ScreeningForm

    store, ids = records
    form = ScreeningForm(store)
    qtbot.addWidget(form)
    with qtbot.waitSignal(form.loaded, timeout=5000):  # never screened, 16 years old
        form.set_client(ids["tom"])
    assert form.evaluation().status is Status.MISSING
    assert not form.save_button.isEnabled()
    for item_id, ans in form.answers.items():
        form.set_answer(item_id, False if ans.item.type == "yes_no" else None)
    assert form.evaluation().status is Status.NEEDS_OVERRIDE
    assert "under 18" in form.banner.text()
    assert form.save_button.isEnabled()


def test_history_and_session_detail_with_replay_and_reports(qtbot, records, tmp_path):
    from app.ui.records.panel import RecordsPanel

    store, ids = records
    panel = RecordsPanel(store)
    qtbot.addWidget(panel)
    panel.resize(1280, 800)
    qtbot.waitUntil(lambda: panel.clients.table.rowCount() == 5, timeout=5000)
    with qtbot.waitSignal(panel.history.loaded, timeout=5000):  # read off the GUI thread
        panel.clients.select_client(ids["anna"])
    assert panel.history.table.rowCount() == 4
    x, y = panel.history.plots["current"][1].getData()
    assert len(x) == 4
    np.testing.assert_allclose(y, [142.5, 171.0, 190.0, 209.0])
    assert panel.history.chart_area.currentWidget() is panel.history.chart
    with qtbot.waitSignal(panel.detail.shown, timeout=5000):
        panel.history.table.selectRow(0)  # newest first
    assert panel.tabs.currentWidget() is panel.page(panel.detail)
    d = panel.detail
    assert d.steps.rowCount() == 3
    assert [d.events.item(r, 1).text() for r in range(d.events.rowCount())] == [
        "state",
        "parameter",
        "state",
    ]
    # the overview: every sample counted, the peaks kept, a few thousand points drawn
    ov = d.overview
    assert ov.n_samples == 4000
    assert np.nanmax(np.abs(np.r_[ov.current_min, ov.current_max])) == pytest.approx(220)
    cx, cy = d.current_curve.getData()
    assert cx is not None
    assert len(cx) <= 2 * 4000
    assert d.recording is None
    # zoomed in: the samples of that window, read for it alone
    d.current_plot.setXRange(0.05, 0.10, padding=0)
    qtbot.waitUntil(lambda: d.recording is not None, timeout=5000)
    t = d.recording.t_s[np.isfinite(d.recording.t_s)]
    assert t.min() <= 0.05
    assert t.max() >= 0.10
    assert d.recording.n_samples < 4000
    pdf, csv_path = tmp_path / "r.pdf", tmp_path / "r.csv"
    d.save_pdf(pdf)
    with qtbot.waitSignal(d.exported, timeout=5000):
        d.save_csv(csv_path)
    assert pdf.read_bytes()[:5] == b"%PDF-"
    # health data: readable by their owner only, whatever the umask
    assert stat.S_IMODE(pdf.stat().st_mode) == 0o600
    assert stat.S_IMODE(csv_path.stat().st_mode) == 0o600
    assert pdf.stat().st_size > 5000
    lines = csv_path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("section,time_utc")
    assert sum(1 for x in lines if x.startswith("step,")) == 3
    assert sum(1 for x in lines if x.startswith("event,")) == 3
    # the recording beside it, as the guide says: every sample
    samples = (tmp_path / "r-recording.csv").read_text(encoding="utf-8").splitlines()
    assert samples[1] == "t_s,current_ua,voltage_v"
    assert len(samples) == 2 + 4000
    assert stat.S_IMODE((tmp_path / "r-recording.csv").stat().st_mode) == 0o600
    # the audit trail: the client's record and the session were viewed, reported, exported
    from app.store import audit

    assert store.writer.flush(5)
    sid = d.detail.summary.id
    seen = [(e.action, e.subject, e.details.get("format")) for e in audit.entries(store.engine)]
    assert ("view_client", f"client:{ids['anna']}", None) in seen
    assert seen[-3:] == [
        ("view_session", f"session:{sid}", None),
        ("report", f"session:{sid}", "pdf"),
        ("export", f"session:{sid}", "csv"),
    ]
    assert all(
        e.operator_id == store.operator_id
        for e in audit.entries(store.engine)
        if e.action in ("view_client", "view_session", "report", "export")
    )
    assert audit.verify(store.engine).ok
    if os.environ.get("RECORDS_SCREENSHOTS"):
        out = Path(os.environ["RECORDS_SCREENSHOTS"])
        panel.show()
        qtbot.waitExposed(panel)
        panel.grab().save(str(out / "records-session-detail.png"))
        panel.tabs.setCurrentWidget(panel.history)
        panel.grab().save(str(out / "records-history.png"))
        with qtbot.waitSignal(panel.screening.loaded, timeout=5000):
            panel.clients.select_client(ids["maria"])
        panel.tabs.setCurrentWidget(panel.screening)
        panel.grab().save(str(out / "records-screening-blocked.png"))
        panel.tabs.setCurrentWidget(panel.editor)
        panel.grab().save(str(out / "records-client-list.png"))


def test_writer_errors_are_shown_in_the_panel(qtbot, records):
    from app.ui.records.panel import RecordsPanel

    store, _ = records
    panel = RecordsPanel(store)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(store.error_occurred, timeout=5000):
        store.when_done(store.writer.add_note(99999, "orphan note"), None, "saving a note")
    assert panel.error.isVisibleTo(panel)
    assert "Error while saving a note" in panel.error.text()


def test_event_details_put_the_message_first():
    from app.ui.records.session_detail import event_details

    assert (
        event_details({"state": "idle", "message": "contact made", "z": 12345.678})
        == "contact made — state idle; z 1.235e+04"
    )
    assert event_details({"zones": ["platysma_l", "platysma_r"]}) == "zones Platysma (L, R)"
    # field names in words, with their units; booleans and missing values readable
    assert event_details(
        {
            "message": "device connected",
            "max_current_ua": 1000,
            "min_frequency_hz": 0.1,
            "screening_passed": True,
            "limit_ua": None,
        }
    ) == (
        "device connected — max current 1000 µA; min frequency 0.1 Hz; "
        "screening passed yes; limit —"
    )
    assert event_details({"message": "only"}) == "only"
    assert event_details({}) == ""


def test_stored_zones_and_programs_read_as_names():
    from app.ui.records.format import program_name, zone_names

    assert (
        zone_names("zygomaticus_major_r,zygomaticus_major_l,masseter_r")
        == "Zygomaticus major (R, L), Masseter (R)"
    )
    assert zone_names("manual") == "Manual"
    assert zone_names("") == "—"
    assert program_name("full_face_lift") == "Full-face lift"
    assert program_name("studio") == "Waveform studio"
    assert program_name("gone_program") == "gone_program"  # deleted: its id, not a blank
    assert program_name(None) == "no program"


def test_views_follow_this_rooms_sessions_and_other_rooms_edits(qtbot, records, tmp_path):
    """The client list is a view of the records: a session recorded here and a client
    saved by another room (another writer on the same database) show without a click."""
    from app.store.validation import ClientData
    from app.ui.records.client_list import ClientList

    store, ids = records
    # another room's changes are looked for every 3 s (bridge.POLL_MS): here every 0.25 s,
    # the same look, without three seconds of waiting for it
    store._poll.setInterval(250)  # noqa: SLF001
    w = ClientList(store)
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w.table.rowCount() == 5, timeout=5000)

    def sessions_of(name: str) -> str:
        row = next(r for r in range(w.table.rowCount()) if w.table.item(r, 0).text() == name)
        return w.table.item(row, 3).text()

    before = int(sessions_of("Lena Fischer"))
    uid = store.writer.begin_session(ids["lena"], program="p")  # a treatment, this room
    store.writer.end_session(uid, "completed")
    qtbot.waitUntil(lambda: sessions_of("Lena Fischer") == str(before + 1), timeout=5000)
    other = StoreWriter(store.engine)  # another room's writer on the same database
    try:
        other.save_client(ClientData("Olga Other")).result(5)
    finally:
        other.close()
    qtbot.waitUntil(lambda: w.table.rowCount() == 6, timeout=8000)


def test_a_name_that_looks_like_markup_is_shown_as_typed(qtbot, records):
    """User data is plain text on screen: a name cannot show a picture or a fake status."""
    from app.store.validation import ClientData
    from app.ui.records.history import SessionHistory

    store, _ = records
    name = '<img src="/etc/x.png"><b style="color:green">CLEARED</b>'
    cid = store.writer.save_client(ClientData(name)).result(5)
    h = SessionHistory(store)
    qtbot.addWidget(h)
    with qtbot.waitSignal(h.loaded, timeout=5000):
        h.set_client(cid)
    assert h.title.textFormat() == Qt.TextFormat.PlainText
    assert h.title.text() == f"Session history — {name}"


def test_a_half_typed_screening_date_is_missing_not_guessed(qtbot, records):
    from app.ui.records.screening_form import ScreeningForm

    store, ids = records
    form = ScreeningForm(store)
    qtbot.addWidget(form)
    with qtbot.waitSignal(form.loaded, timeout=5000):
        form.set_client(ids["anna"])
    dated = next(a for a in form.answers.values() if a.date is not None)
    dated.yes.setChecked(True)
    dated.date.setText("24 Nov")  # December: Qt's date editor made this 02 Nov
    assert form.evaluation().status is Status.MISSING
    assert "'24 Nov' is not a date" in form.banner.text()
    assert not form.save_button.isEnabled()
    dated.date.setText((dt.date.today() - dt.timedelta(days=10)).strftime("%d.%m.%Y"))
    assert "is not a date" not in form.banner.text()


def test_a_read_answered_after_its_widget_closed_is_dropped(qtbot, records):
    """A slow read whose widget was closed meanwhile is not delivered to a deleted object."""
    import shiboken6
    from PySide6.QtWidgets import QLabel

    from app.ui.background import BackgroundReads

    store, ids = records
    reads = BackgroundReads(store.engine)
    label = QLabel()
    future = reads.read(services.get_client, ids["anna"], on_result=label.setText, what="reading")
    future.result(5)
    shiboken6.delete(label)  # closed before the answer reached the GUI thread
    qtbot.wait(100)  # the queued answer is delivered: no exception in the event loop


def test_an_answer_for_a_closed_widget_is_dropped_through_a_lambda_or_a_partial(qtbot, records):
    """The views ask with lambdas (``lambda infos: self._show(infos)``) and partials as
    well as methods: an answer, a read's or a save's, for a widget deleted meanwhile is
    dropped, not called into a deleted object (an exception in the event loop)."""
    import functools

    import shiboken6
    from PySide6.QtWidgets import QLabel

    from app.store.validation import ClientData
    from app.ui.background import BackgroundReads

    store, ids = records
    reads = BackgroundReads(store.engine)
    called: list[str] = []
    label = QLabel()
    by_lambda = lambda client: (called.append("lambda"), label.setText(client.name))  # noqa: E731
    by_partial = functools.partial(label.setProperty, "client")
    futures = [
        reads.read(services.get_client, ids["anna"], on_result=by_lambda),
        reads.read(services.get_client, ids["anna"], on_result=by_partial),
    ]
    saved: list[int] = []
    store.when_done(
        store.writer.save_client(ClientData("Ina Late")),
        lambda cid: (saved.append(cid), label.setText("saved")),
    )
    for f in futures:
        f.result(5)
    shiboken6.delete(label)  # closed before the answers reached the GUI thread
    with qtbot.waitSignal(store.records_changed, timeout=5000):  # the save still counts
        pass
    qtbot.wait(50)  # every queued answer delivered: none raised
    assert called == []
    assert saved == []


def test_tab_leaves_the_skin_notes_and_space_ticks_a_check_box(qtbot, records):
    """Keyboard only: Tab is never typed into the skin notes, it moves on; Space ticks
    the focused check box and Enter presses the focused button."""
    from PySide6.QtWidgets import QApplication

    from app.ui.keys import EnterPresses
    from app.ui.records.client_editor import ClientEditor

    store, _ = records
    ed = ClientEditor(store)
    qtbot.addWidget(ed)
    ed.show()
    ed.activateWindow()
    enter = EnterPresses()
    QApplication.instance().installEventFilter(enter)
    try:
        ed.skin_notes.setFocus()
        qtbot.waitUntil(ed.skin_notes.hasFocus, timeout=2000)
        qtbot.keyClicks(ed.skin_notes, "dry")
        qtbot.keyClick(ed.skin_notes, Qt.Key.Key_Tab)
        assert ed.skin_notes.toPlainText() == "dry"
        assert not ed.skin_notes.hasFocus()
        assert QApplication.focusWidget() is ed.limit_on  # the next control
        assert not ed.limit_on.isChecked()
        qtbot.keyClick(ed.limit_on, Qt.Key.Key_Space)
        assert ed.limit_on.isChecked()
        qtbot.keyClick(ed.limit_on, Qt.Key.Key_Backtab)
        assert ed.skin_notes.hasFocus()
        # Enter on a focused button presses it
        ed.name.setText("Nora Quist")
        ed.dob.setText("24 Nov 1984")
        assert ed.save_button.isEnabled(), ed.problems.text()
        ed.save_button.setFocus()
        qtbot.waitUntil(ed.save_button.hasFocus, timeout=2000)
        with qtbot.waitSignal(ed.saved, timeout=5000):
            qtbot.keyClick(ed.save_button, Qt.Key.Key_Return)
    finally:
        QApplication.instance().removeEventFilter(enter)


def test_a_new_client_saved_in_the_panel_opens_on_its_screening(qtbot, records):
    """Save client on a new client: its screening opens at once, usable (the tab enabled,
    the form on that client), and its row is selected once the list, read again off the
    GUI thread, has it — the client is opened once, not again by that selection."""
    from app.ui.records.panel import RecordsPanel

    store, _ = records
    panel = RecordsPanel(store)
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: panel.clients.table.rowCount() == 5, timeout=5000)
    opened: list[int] = []
    panel.client_chosen.connect(opened.append)
    panel.clients.new_client_requested.emit()
    ed = panel.editor
    ed.name.setText("Rita Tester")
    ed.dob.setText("24 Nov 1984")
    with qtbot.waitSignal(ed.saved, timeout=5000) as saved:
        ed.save_button.click()
    cid = saved.args[0]
    assert panel.tabs.currentWidget() is panel.page(panel.screening)
    assert panel.tabs.isTabEnabled(panel.tabs.currentIndex())
    assert opened == [cid]
    qtbot.waitUntil(lambda: panel.clients.selected_client_id() == cid, timeout=5000)
    qtbot.waitUntil(lambda: panel.screening.client_id == cid, timeout=5000)
    assert opened == [cid]  # the row's selection did not open it a second time
    # an existing client edited and saved stays on its Client tab
    panel.tabs.setCurrentWidget(panel.editor)
    qtbot.waitUntil(lambda: ed.client_id == cid, timeout=5000)
    ed.contact.setText("0123 456")
    with qtbot.waitSignal(ed.saved, timeout=5000):
        ed.save_button.click()
    assert panel.tabs.currentWidget() is panel.editor


def test_a_read_lets_go_of_the_callers_objects_on_the_gui_thread(qtbot, records):
    """A widget whose only reference is a read's answer callback is released on the GUI
    thread when the answer is delivered, never by the reading thread ending later (a Qt
    object destroyed off its thread: "QBasicTimer::start: Timers cannot be started from
    another thread", then a crash of the test process — seen in CI)."""
    import gc
    import threading

    from PySide6.QtCore import QObject

    from app.ui.background import BackgroundReads

    store, _ = records
    dropped_in: list[str] = []

    class Probe(QObject):
        def __del__(self) -> None:
            dropped_in.append(threading.current_thread().name)

    go, linger = threading.Event(), threading.Event()

    def read(_engine) -> int:
        go.wait(5)
        return 1

    reads = BackgroundReads(store.engine)
    probe = Probe()
    got: list[int] = []
    future = reads.read(read, on_result=lambda r, p=probe: (got.append(r), p.objectName()))
    # the reading thread lingers after answering, until the answer has been delivered
    future.add_done_callback(lambda _f: linger.wait(5))
    del probe, future
    go.set()
    qtbot.waitUntil(lambda: got == [1], timeout=5000)
    gc.collect()
    linger.set()
    qtbot.waitUntil(
        lambda: not any(t.name == "StoreRead" and t.is_alive() for t in threading.enumerate()),
        timeout=5000,
    )
    gc.collect()
    assert dropped_in == ["MainThread"]


def test_a_save_lets_go_of_the_callers_objects_on_the_gui_thread(qtbot, records):
    """The same for a write: the writer's thread answers the future and lives on; the
    callback's widget is released on the GUI thread when the answer is delivered."""
    import gc
    import threading
    from concurrent.futures import Future

    from PySide6.QtCore import QObject

    store, _ = records
    dropped_in: list[str] = []

    class Probe(QObject):
        def __del__(self) -> None:
            dropped_in.append(threading.current_thread().name)

    future: Future = Future()
    linger = threading.Event()
    probe = Probe()
    got: list[int] = []
    store.when_done(future, lambda r, p=probe: (got.append(r), p.objectName()))
    del probe

    def writer(f: Future) -> None:  # answers, then holds its future a while longer
        f.set_result(7)
        linger.wait(5)

    thread = threading.Thread(target=writer, args=(future,), name="FakeWriter")
    del future
    thread.start()
    qtbot.waitUntil(lambda: got == [7], timeout=5000)
    gc.collect()
    linger.set()
    thread.join(5)
    del thread
    gc.collect()
    assert dropped_in == ["MainThread"]


def test_history_without_figures_says_what_the_chart_will_show(qtbot, records):
    """A client with no measured session sees a sentence in place of empty axes."""
    from app.ui.records.history import SessionHistory

    store, ids = records
    view = SessionHistory(store)
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.loaded, timeout=5000):
        view.set_client(ids["tom"])
    assert view.chart_area.currentWidget() is view.no_chart
    assert "mean current" in view.no_chart.text()
    with qtbot.waitSignal(view.loaded, timeout=5000):
        view.set_client(ids["anna"])
    assert view.chart_area.currentWidget() is view.chart
    # each quantity chosen shows its sessions in range (it was fitted while hidden)
    view.show()
    for index, key in enumerate(("current", "duration", "impedance")):
        view.chart_choice.setCurrentIndex(index)
        plot, curve = view.plots[key]
        x, y = curve.getData()
        (x0, x1), (y0, y1) = plot.viewRange()
        assert x0 < x.min() <= x.max() < x1, key
        assert y0 <= y.min() <= y.max() <= y1, key
        assert x1 - x0 >= 2 * 86_400  # dates on the axis, not fractions of a second


def test_a_damaged_recording_says_what_could_not_be_read(qtbot, records):
    """A stored chunk of the recording is damaged: the session still opens, and says how
    much of its recording could not be read (instead of refusing the whole session)."""
    from sqlalchemy import update

    from app.store.models import RecordingChunk
    from app.ui.records.session_detail import SessionDetailView

    store, ids = records
    sid = services.session_history(store.engine, ids["anna"])[-1].id
    with store.engine.begin() as conn:
        conn.execute(
            update(RecordingChunk).where(RecordingChunk.session_id == sid).values(data=b";" * 40)
        )
    view = SessionDetailView(store)
    qtbot.addWidget(view)
    view.show()
    with qtbot.waitSignal(view.shown, timeout=5000):
        view.show_session(sid)
    assert view.recording_damage.isVisible()
    text = view.recording_damage.text()
    assert text == (
        "None of the recording (4 s, 4 stored pieces) could be read: it is damaged in the records."
    )
    assert not view.no_recording.isVisible()  # one was stored: it is not "no recording"
