"""Who works at the console, on screen: the first account, the sign-in page (a wrong
secret refused and locked out), roles gating the workspaces, the lock after inactivity
(deferred while output is held; Esc and STOP above it), the operator named on writes,
and the manager's audit screen (filters, verdict, CSV and PDF exports)."""

from __future__ import annotations

import csv
import subprocess

import pytest
from access import TEST_OPERATOR, doc_images, no_operator_from_env
from PySide6.QtCore import QSettings, Qt
from store_fixtures import save_clinic

from app.service.pin import hash_pin
from app.store import audit
from app.store.operators import AddOperator, Role, find_operator, list_operators
from app.store.runtime import start_store
from app.ui.device_manager import DeviceManager
from app.ui.main_window import MainWindow


class Clock:
    def __init__(self) -> None:
        self.t = 5000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def console(qtbot, tmp_path):
    """A console with records (no device): ``make()`` opens it on the records."""
    windows = []
    url = f"sqlite:///{tmp_path / 'records.db'}"

    def make(name: str = "a") -> MainWindow:
        w = MainWindow(
            DeviceManager(),
            QSettings(str(tmp_path / f"{name}.ini"), QSettings.Format.IniFormat),
            records_pending=True,
        )
        qtbot.addWidget(w)
        w.resize(1280, 800)
        w.show()
        w.attach_store(start_store(url))
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.close()


def _add(window: MainWindow, name: str, role: Role, secret: str) -> None:
    window.store.writer.submit(AddOperator(name, role, hash_pin(secret))).result(10)


def _page_ready(qtbot, window: MainWindow, mode: str) -> None:
    qtbot.waitUntil(lambda: window.access.page.mode == mode, timeout=5000)


def _sign_in(qtbot, window: MainWindow, name: str, secret: str) -> None:
    page = window.access.page
    _page_ready(qtbot, window, "sign_in")
    for i in range(page.names.count()):
        if page.names.item(i).text().startswith(name):
            page.names.setCurrentRow(i)
    page.secret.setText(secret)
    qtbot.mouseClick(page.button, Qt.MouseButton.LeftButton)


def test_the_first_start_creates_a_manager_on_the_page(qtbot, console, monkeypatch):
    no_operator_from_env(monkeypatch)
    w = console()
    page = w.access.page
    _page_ready(qtbot, w, "first")
    assert w.central_stack.currentWidget() is page
    assert w.estop_button.isVisible()
    assert w.estop_button.isEnabled()  # STOP above the page
    assert not any(a.isEnabled() for a in w.workspace_actions.actions())
    page.name.setText("Maya Manager")
    page.secret.setText("first-pass")
    page.repeat.setText("first-pas")
    qtbot.mouseClick(page.button, Qt.MouseButton.LeftButton)
    assert "differ" in page.message.text()
    page.secret.setText("first-pass")
    page.repeat.setText("first-pass")
    qtbot.mouseClick(page.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.access.signed_in is not None, timeout=5000)
    assert w.access.signed_in.role is Role.MANAGER
    assert w.central_stack.currentWidget() is w.stack_scroll
    assert "Maya Manager" in w.operator_button.text()
    assert all(a.isEnabled() for a in w.workspace_actions.actions())
    assert w.store.writer.flush(10)
    actions = [(ln.action, ln.details.get("first_account")) for ln in audit.entries(w.store.engine)]
    assert ("operator_change", True) in actions
    assert ("sign_in", True) in actions
    assert "first-pass" not in str(audit.entries(w.store.engine))


def test_a_wrong_secret_is_refused_then_locked_out_on_the_page(qtbot, console):
    w = console()
    _add(w, "Pia Practitioner", Role.PRACTITIONER, "1357")
    assert w.lock_console()
    page = w.access.page
    for n in range(3):
        _sign_in(qtbot, w, "Pia", "0000")
        qtbot.waitUntil(lambda: "Wrong PIN" in page.message.text(), timeout=5000)
        if n < 2:
            assert "before a lockout" in page.message.text()
            page.message.clear()
    assert "locked for 30 s" in page.message.text()
    assert w.access.signed_in is None
    _sign_in(qtbot, w, "Pia", "1357")  # the right one, but locked out: not even counted
    assert "Too many wrong PINs" in page.message.text()
    assert page.secret.text() == ""  # the refused secret is not left in the field
    assert w.access.signed_in is None
    assert find_operator(w.store.engine, "Pia Practitioner").failures == 3


def test_roles_gate_the_workspaces_and_sign_in_moves_to_the_roles_own(qtbot, console):
    w = console()
    assert w.access.signed_in.name == TEST_OPERATOR  # the manager from the environment
    assert w.switch_workspace("technician")
    assert w.switch_workspace("practitioner")
    _add(w, "Tom Technician", Role.TECHNICIAN, "8642")
    _add(w, "Pia Practitioner", Role.PRACTITIONER, "1357")
    _add(w, "Tina Trainer", Role.TRAINER, "2468")
    assert w.lock_console()
    _sign_in(qtbot, w, "Tom", "8642")
    qtbot.waitUntil(lambda: w.access.signed_in is not None, timeout=5000)
    assert w.current_workspace().name == "technician"  # the desk is not a technician's
    assert not w.switch_workspace("practitioner")
    assert "for manager or practitioner" in w.banner.text()
    assert w.manager_action.isEnabled() is False
    assert w.open_manager() is None
    assert w.lock_console()
    _sign_in(qtbot, w, "Pia", "1357")
    qtbot.waitUntil(lambda: w.access.signed_in is not None, timeout=5000)
    assert w.current_workspace().name == "practitioner"
    assert not w.switch_workspace("technician")
    assert "for manager or technician" in w.banner.text()
    assert w.lock_console()
    _sign_in(qtbot, w, "Tina", "2468")
    qtbot.waitUntil(lambda: w.access.signed_in is not None, timeout=5000)
    assert w.current_workspace().name == "trainer"


def test_the_operator_signed_in_is_named_on_the_desks_writes(qtbot, console):
    w = console()
    _add(w, "Pia Practitioner", Role.PRACTITIONER, "1357")
    assert w.lock_console()
    _sign_in(qtbot, w, "Pia", "1357")
    qtbot.waitUntil(lambda: w.access.signed_in is not None, timeout=5000)
    pia = find_operator(w.store.engine, "Pia Practitioner").id
    desk = w.workspaces["practitioner"]
    assert desk.records_store.operator_name == "Pia Practitioner"  # a signature offers it
    cid = w.store.info.training_client_id
    desk.records_store.audit("view_client", audit.client_subject(cid))
    w.store.writer.add_consent(cid, "v1", based_on=None)
    assert w.store.writer.flush(10)
    views = [ln for ln in audit.entries(w.store.engine) if ln.action == "view_client"]
    assert views[-1].operator_id == pia
    from sqlalchemy import text

    with w.store.engine.connect() as conn:
        assert conn.execute(text("SELECT operator_id FROM consent")).scalar() == pia


def test_idle_locks_but_never_while_output_is_held_and_esc_works_over_it(qtbot, console):
    w = console()
    clock = Clock()
    w.access.clock = clock
    w.access.note_activity()
    w.access.set_lock_after(60)
    busy = {"on": True}
    w.access._output_busy = lambda: busy["on"]
    clock.t += 59
    qtbot.keyClick(w.operator_button, Qt.Key.Key_Shift)  # any input starts the wait again
    clock.t += 59
    w.access.check_idle()
    assert not w.access.locked
    clock.t += 2
    w.access.check_idle()
    assert not w.access.locked  # output held: the lock waits
    assert w.access.lock_pending
    busy["on"] = False
    w.access.check_idle()
    assert w.access.locked
    assert w.access.signed_in is None
    assert w.central_stack.currentWidget() is w.access.page
    assert not w.switch_workspace("trainer")
    # Esc and STOP work over the lock screen
    qtbot.keyClick(w.access.page.secret, Qt.Key.Key_Escape)
    assert "EMERGENCY STOP" in w.banner.text()
    w.hide_alarm()
    qtbot.mouseClick(w.estop_button, Qt.MouseButton.LeftButton)
    assert "EMERGENCY STOP" in w.banner.text()
    assert w.store.writer.flush(10)
    locks = [ln for ln in audit.entries(w.store.engine) if ln.action == "lock"]
    assert [ln.details for ln in locks] == [{"why": "asked"}]


def test_a_lock_asked_while_output_runs_waits_and_says_so(qtbot, console):
    w = console()
    w.access._output_busy = lambda: True
    assert not w.lock_console()
    assert "locks once output stops" in w.banner.text()
    assert w.access.signed_in is not None


def test_the_lock_time_is_the_clinics_setting(qtbot, console):
    from app.engine.limits import ClinicSettings

    w = console()
    # the store's settings, read by the watch
    save_clinic(w.store.writer, w.store.engine, ClinicSettings(lock_after_s=120.0))
    qtbot.waitUntil(lambda: w.access.lock_after_s == 120.0, timeout=5000)
    assert ClinicSettings(lock_after_s=0).validate()


def test_the_manager_reads_older_entries_page_by_page(qtbot, console, monkeypatch, tmp_path):
    """A long trail is read a page at a time (2,000 entries; 3 here): "Show older
    entries" adds the next page under the rows shown until every matching one is there."""
    import app.store.audit_query as audit_query

    monkeypatch.setattr(audit_query, "DEFAULT_LIMIT", 3)
    w = console()
    for n in range(7):
        w.store.writer.audit("view_client", f"client:{100 + n}")
    assert w.store.writer.flush(10)
    mw = w.open_manager()
    view = mw.audit
    view.action.setCurrentIndex(view.action.findData("view_client"))
    with qtbot.waitSignal(view.loaded, timeout=5000):
        view.refresh()
    subjects = lambda: [view.table.item(r, 4).text() for r in range(view.table.rowCount())]  # noqa: E731
    assert view.page.total == 7
    assert len(subjects()) == 3
    assert view.count.text() == "7 entries match; the newest 3 are shown (export gives these)"
    assert view.more_button.isVisibleTo(view)
    mw.resize(1280, 760)
    assert mw.grab().save(str(doc_images(tmp_path) / "manager-audit-older.png"))
    for shown in (6, 7):
        with qtbot.waitSignal(view.loaded, timeout=5000):
            view.more_button.click()
        assert len(subjects()) == shown
    ids = [ln.id for ln in view.page.lines]
    assert ids == sorted(ids, reverse=True)  # newest first, no entry twice or missing
    assert len(set(ids)) == 7
    assert view.count.text() == "7 entries match"
    assert not view.more_button.isVisibleTo(view)
    mw.close()


def test_the_manager_filters_verifies_and_exports_the_audit_trail(qtbot, console, tmp_path):
    w = console()
    _add(w, "Pia Practitioner", Role.PRACTITIONER, "1357")
    w.store.writer.audit("export", "client:7", {"format": "zip"})
    w.store.writer.audit("view_client", "client:8")
    assert w.store.writer.flush(10)
    mw = w.open_manager()
    view = mw.audit
    qtbot.waitUntil(lambda: view.page is not None, timeout=5000)
    assert view.page.total >= 4
    # by action
    view.action.setCurrentIndex(view.action.findData("export"))
    with qtbot.waitSignal(view.loaded, timeout=5000):
        view.refresh()
    assert [ln.subject for ln in view.page.lines] == ["client:7"]
    assert view.table.item(0, 2).text() == TEST_OPERATOR
    # by client
    view.action.setCurrentIndex(0)
    view.client.setText("8")
    with qtbot.waitSignal(view.loaded, timeout=5000):
        view.refresh()
    assert [ln.action for ln in view.page.lines] == ["view_client"]
    # by operator: the manager's own entries only
    view.client.clear()
    qtbot.waitUntil(lambda: view.operator.count() > 2, timeout=5000)
    me = w.access.signed_in.id
    view.operator.setCurrentIndex(view.operator.findData(me))
    with qtbot.waitSignal(view.loaded, timeout=5000):
        view.refresh()
    assert view.page.lines
    assert {ln.operator_id for ln in view.page.lines} == {me}
    # by date: nothing tomorrow
    view.operator.setCurrentIndex(0)
    view.since.setDate(view.until.date().addDays(1))
    view.until.setDate(view.until.date().addDays(1))
    with qtbot.waitSignal(view.loaded, timeout=5000):
        view.refresh()
    assert view.page.total == 0
    view.since.setDate(view.until.date().addDays(-2))
    with qtbot.waitSignal(view.loaded, timeout=5000):
        view.refresh()
    # the verdict
    with qtbot.waitSignal(view.verified, timeout=10000):
        view.verify()
    assert view.verdict.ok
    assert "Intact" in view.verdict_label.text()
    # exports: CSV and PDF of what is shown, each audited
    assert view.export(tmp_path / "a.csv", "csv")
    rows = list(csv.DictReader((tmp_path / "a.csv").open(encoding="utf-8")))
    assert len(rows) == len(view.page.lines)
    assert {r["operator"] for r in rows} >= {TEST_OPERATOR}
    assert not view.export(tmp_path / "a.csv", "csv")  # never overwrites
    assert view.export(tmp_path / "a.pdf", "pdf")
    text = subprocess.run(
        ["pdftotext", "-layout", str(tmp_path / "a.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Audit trail" in text
    assert "entries intact" in text  # "Chain verified: all N entries intact."
    assert TEST_OPERATOR in text
    assert w.store.writer.flush(10)
    exports = [
        ln.details["format"] for ln in audit.entries(w.store.engine) if ln.action == "audit_export"
    ]
    assert exports == ["csv", "pdf"]
    assert any(ln.action == "audit_view" for ln in audit.entries(w.store.engine))
    # a forged entry: the verdict names it
    from sqlalchemy import text as sql

    with w.store.engine.begin() as conn:
        conn.execute(sql("UPDATE audit_entry SET subject = 'client:9' WHERE subject = 'client:7'"))
    with qtbot.waitSignal(view.verified, timeout=10000):
        view.verify()
    assert not view.verdict.ok
    assert "BROKEN at entry" in view.verdict_label.text()
    mw.close()


def test_the_manager_adds_and_deactivates_operators(qtbot, console):
    w = console()
    mw = w.open_manager()
    ops = mw.operators
    qtbot.waitUntil(lambda: len(ops.operators) >= 2, timeout=5000)
    ops.new_name.setText("Tom Technician")
    ops.new_role.setCurrentIndex(ops.new_role.findData("technician"))
    ops.new_secret.setText("8642")
    ops.new_repeat.setText("8642")
    with qtbot.waitSignal(ops.changed, timeout=5000):
        ops.add()
    qtbot.waitUntil(lambda: any(o.name == "Tom Technician" for o in ops.operators), timeout=5000)
    ops.select("Tom Technician")
    with qtbot.waitSignal(ops.changed, timeout=5000):
        ops.toggle_active()
    tom = find_operator(w.store.engine, "Tom Technician")
    assert tom.role is Role.TECHNICIAN
    assert not tom.active
    names = [o.name for o in list_operators(w.store.engine, active_only=True)]
    assert "Tom Technician" not in names
    assert w.store.writer.flush(10)
    me = w.access.signed_in.id
    changes = [
        (ln.action, ln.operator_id)
        for ln in audit.entries(w.store.engine)
        if ln.subject == f"operator:{tom.id}"
    ]
    assert changes == [("operator_change", me), ("role_change", me)]
    mw.close()


def test_an_operator_changes_their_own_secret_after_the_current_one(qtbot, console):
    from app.service.pin import verify_hash

    w = console()
    _add(w, "Pia Practitioner", Role.PRACTITIONER, "1357")
    assert w.lock_console()
    _sign_in(qtbot, w, "Pia", "1357")
    qtbot.waitUntil(lambda: w.access.signed_in is not None, timeout=5000)
    w.change_my_secret()
    qtbot.waitUntil(
        lambda: w.secret_dialog is not None and w.secret_dialog.isVisible(), timeout=5000
    )
    dlg = w.secret_dialog
    dlg.current.setText("0000")
    dlg.pin.setText("a new passphrase")
    dlg.confirm.setText("a new passphrase")
    dlg.submit()
    qtbot.waitUntil(lambda: "wrong PIN" in dlg.message.text(), timeout=5000)
    dlg.current.setText("1357")
    dlg.pin.setText("a new passphrase")
    dlg.confirm.setText("a new passphrase")
    with qtbot.waitSignal(dlg.accepted, timeout=5000):
        dlg.submit()
    pia = find_operator(w.store.engine, "Pia Practitioner")
    assert verify_hash("a new passphrase", pia.secret_hash)
    assert pia.failures == 0
    w.change_my_secret()
    qtbot.waitUntil(lambda: w.secret_dialog is not dlg, timeout=5000)
    qtbot.waitUntil(w.secret_dialog.isVisible, timeout=5000)
    again = w.secret_dialog
    assert w.lock_console()
    assert not again.isVisible()  # a lock closes it: the next person cannot use it


def test_a_screenshot_of_a_first_start_never_waits_and_env_sign_in_opens_the_bench(
    tmp_path, monkeypatch
):
    """``--screenshot`` on a new machine: nobody can type, so nothing may wait on a dialog
    (the first-account page is part of the window). With the environment, that manager is
    created, signs in and the bench opens; a wrong secret keeps it shut."""
    from fault_helpers import run_app
    from PySide6.QtGui import QImage

    no_operator_from_env(monkeypatch)
    shot = tmp_path / "first.png"
    result = run_app(tmp_path, "--screenshot", str(shot), "--after", "0", timeout=60)
    assert result.returncode == 0, result.stderr
    assert QImage(str(shot)).width() > 0
    monkeypatch.setenv("MICROCURRENT_OPERATOR", "Maya Okafor")
    monkeypatch.setenv("MICROCURRENT_OPERATOR_SECRET", "shot-secret")
    bench = tmp_path / "bench.png"
    # the picture waits for live data and for the bench (it opens once the records have):
    # no seconds of live data after that are needed
    result = run_app(
        tmp_path, "--workspace", "technician", "--screenshot", str(bench), "--after", "0"
    )
    assert result.returncode == 0, result.stderr  # the first manager, created and signed in
    assert QImage(str(bench)).width() > 0
    monkeypatch.setenv("MICROCURRENT_OPERATOR_SECRET", "not-it")
    # no device this time (a port that is not there: no simulator process to start), so
    # the records open at once; a bench opened by mistake would end without live data
    # (exit 1), not with the refusal (exit 2)
    result = run_app(
        tmp_path,
        *("--workspace", "technician", "--port", str(tmp_path / "no-such-port")),
        *("--screenshot", str(bench), "--after", "0"),
    )
    assert result.returncode == 2  # a wrong secret: nobody signed in, the bench stays shut
    assert "could not open the technician workspace" in result.stderr
    assert "not-it" not in result.stderr + result.stdout


def test_an_operator_deactivated_or_given_another_role_elsewhere_is_signed_out(qtbot, console):
    """Another room (here: the store's writer directly) deactivates the operator signed in
    at this console, or changes their role: within a re-check they are signed out, and
    the lock is audited with why."""
    from app.store.operators import ChangeOperator

    w = console()
    clock = Clock()
    w.access.clock = clock
    _add(w, "Pia Practitioner", Role.PRACTITIONER, "1357")
    _add(w, "Tom Technician", Role.TECHNICIAN, "8642")
    for name, secret, change in (
        ("Pia", "1357", {"active": False}),
        ("Tom", "8642", {"role": Role.TRAINER}),
    ):
        assert w.lock_console()
        _sign_in(qtbot, w, name, secret)
        qtbot.waitUntil(
            lambda n=name: w.access.signed_in is not None and w.access.signed_in.name.startswith(n),
            timeout=5000,
        )
        who = w.access.signed_in
        w.access.check_idle()  # a re-check while nothing changed keeps them signed in
        clock.t += 10
        w.access.check_idle()
        qtbot.wait(200)
        assert w.access.signed_in is who
        w.store.writer.submit(ChangeOperator(who.id, **change)).result(10)
        w.access.note_activity()
        clock.t += 10
        w.access.check_idle()
        qtbot.waitUntil(lambda: w.access.locked, timeout=5000)
        assert w.access.signed_in is None
    assert w.store.writer.flush(10)
    whys = [ln.details.get("why") for ln in audit.entries(w.store.engine) if ln.action == "lock"]
    assert whys[-2:] == ["deactivated", "role changed"]
