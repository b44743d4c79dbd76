"""The manager's screen: the audit trail (filter, verify, export CSV and PDF), the
operators (add, role, deactivate, reset a secret) and the console's lock time.

Opened from the menu under the name of the operator signed in, for managers only. Every
read runs off the GUI thread (``BackgroundReads``); every change goes through the store's
writer and is itself in the audit trail, as are this screen's views and exports. Names
are shown and printed as plain text.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import (
    QFont,
    QPageLayout,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app import APP_NAME, __version__
from app.ui import style
from app.ui.background import BackgroundReads
from app.ui.screen_fit import resize_within_screen
from app.ui.technician.pin_dialog import when_done

ROLES = ("practitioner", "trainer", "technician", "manager")
AUDIT_COLUMNS = ("#", "Time", "Operator", "Action", "Subject", "Details", "Console")


def _item(text: str) -> QTableWidgetItem:
    item = QTableWidgetItem(text)  # a table item is plain text
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    return item


def _local(at: dt.datetime) -> str:
    return at.astimezone().strftime("%d %b %Y %H:%M:%S")


def subject_text(subject: str, names: dict[int, str]) -> str:
    """``operator:5`` with the operator's name beside it (names live in the store, not in
    the entries: the trail holds no personal data)."""
    kind, _, ident = subject.partition(":")
    if kind == "operator" and ident.isdigit() and int(ident) in names:
        return f"{subject} ({names[int(ident)]})"
    return subject


class AuditView(QWidget):
    """The audit trail: filters, the entries (newest first), the chain's verdict, exports."""

    loaded = Signal()  # a reading of the entries is shown
    verified = Signal(object)  # app.store.audit.Verdict

    def __init__(self, store: Any, operator_id: Callable[[], int | None], parent=None) -> None:
        super().__init__(parent)
        self.store = store
        self._operator_id = operator_id
        self._reads = BackgroundReads(store.engine, self)
        self._reads.failed.connect(lambda text: self._say(text, style.ALARM))
        self.page: Any = None  # app.store.audit_query.AuditPage shown
        self.filter: Any = None
        self.verdict: Any = None
        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        self.operator = QComboBox()
        self.operator.addItem("Every operator", None)
        self.action = QComboBox()
        self.action.addItem("Every action", None)
        from app.store.audit import ACTIONS  # the vocabulary (a plain frozenset)

        for a in sorted(ACTIONS):
            self.action.addItem(a.replace("_", " "), a)
        self.client = QLineEdit()
        self.client.setPlaceholderText("client id")
        self.client.setMaximumWidth(90)
        today = QDate.currentDate()
        self.since = QDateEdit(today.addDays(-30))
        self.until = QDateEdit(today)
        for d in (self.since, self.until):
            d.setCalendarPopup(True)
            d.setDisplayFormat("dd MMM yyyy")
        for label, w in (
            ("Operator", self.operator),
            ("Action", self.action),
            ("Client", self.client),
            ("From", self.since),
            ("to", self.until),
        ):
            row.addWidget(QLabel(label))
            row.addWidget(w)
        self.show_button = QPushButton("Show")
        self.show_button.clicked.connect(self.refresh)
        row.addWidget(self.show_button)
        row.addStretch(1)
        lay.addLayout(row)
        self.table = QTableWidget(0, len(AUDIT_COLUMNS))
        self.table.setHorizontalHeaderLabels(AUDIT_COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        lay.addWidget(self.table, 1)
        count_row = QHBoxLayout()
        self.count = QLabel()
        count_row.addWidget(self.count, 1)
        self.more_button = QPushButton("Show older entries")
        self.more_button.setToolTip(
            "Read the next entries of this filter, older than the last shown"
        )
        self.more_button.clicked.connect(self.show_older)
        self.more_button.setVisible(False)
        count_row.addWidget(self.more_button)
        lay.addLayout(count_row)
        bottom = QHBoxLayout()
        self.verify_button = QPushButton("Verify the chain")
        self.verify_button.setToolTip(
            "Check every entry's hash and its link to the one before (the whole trail)"
        )
        self.verify_button.clicked.connect(self.verify)
        self.csv_button = QPushButton("Export CSV…")
        self.csv_button.clicked.connect(lambda: self._ask_export("csv"))
        self.pdf_button = QPushButton("Export PDF…")
        self.pdf_button.clicked.connect(lambda: self._ask_export("pdf"))
        bottom.addWidget(self.verify_button)
        self.verdict_label = QLabel("The chain has not been verified yet on this screen.")
        self.verdict_label.setWordWrap(True)
        bottom.addWidget(self.verdict_label, 1)
        bottom.addWidget(self.csv_button)
        bottom.addWidget(self.pdf_button)
        lay.addLayout(bottom)
        self.message = QLabel()
        self.message.setWordWrap(True)
        lay.addWidget(self.message)

    def _say(self, text: str, colour: str = "") -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color:{colour};font-weight:600" if colour else "")

    def set_operators(self, operators: list[Any]) -> None:
        chosen = self.operator.currentData()
        self.operator.blockSignals(True)
        self.operator.clear()
        self.operator.addItem("Every operator", None)
        for op in operators:
            self.operator.addItem(op.name if op.active else f"{op.name} (deactivated)", op.id)
        index = self.operator.findData(chosen)
        self.operator.setCurrentIndex(max(0, index))
        self.operator.blockSignals(False)

    def current_filter(self) -> Any:
        """The filter the fields say (``None`` with a message if the client id is not one)."""
        from app.store.audit_query import AuditFilter

        text = self.client.text().strip()
        client_id = None
        if text:
            if not text.isdigit():
                self._say("The client id is a number (shown in the client's record).", style.ALARM)
                return None
            client_id = int(text)
        first, last = self.since.date(), self.until.date().addDays(1)
        start = dt.datetime(first.year(), first.month(), first.day()).astimezone()
        end = dt.datetime(last.year(), last.month(), last.day()).astimezone()
        return AuditFilter(
            self.operator.currentData(),
            self.action.currentData(),
            client_id,
            start.astimezone(dt.UTC),
            end.astimezone(dt.UTC),
        )

    def refresh(self) -> None:
        from app.store.audit_query import DEFAULT_LIMIT, query

        f = self.current_filter()
        if f is None:
            return
        self._say("Reading the audit trail…")
        self._reads.read(
            query,
            f,
            DEFAULT_LIMIT,
            on_result=lambda page: self._show(f, page),
            what="reading the audit trail",
            key="audit",
        )

    def show_older(self) -> None:
        """The next entries of the filter shown, older than the last one on screen."""
        from app.store.audit_query import DEFAULT_LIMIT, AuditPage, query

        f, page = self.filter, self.page
        if f is None or page is None or not page.lines:
            return
        self.more_button.setEnabled(False)
        self._say("Reading older entries…")

        def add(older: Any) -> None:
            self.more_button.setEnabled(True)
            if f is not self.filter:
                return  # another filter was shown meanwhile
            lines = page.lines + older.lines
            self._show(f, AuditPage(lines, older.total, older.names), first=len(page.lines))

        self._reads.read(
            query,
            f,
            DEFAULT_LIMIT,
            page.lines[-1].id,  # older than the last shown
            on_result=add,
            what="reading older audit entries",
            key="audit",
        )

    def _show(self, f: Any, page: Any, first: int = 0) -> None:
        """Show ``page``; rows before ``first`` are on screen already (older ones added)."""
        from app.store.audit_query import details_text

        self.filter, self.page = f, page
        self.table.setRowCount(len(page.lines))
        for r, ln in enumerate(page.lines[first:], start=first):
            who = page.names.get(ln.operator_id, "—") if ln.operator_id is not None else "—"
            cells = (
                str(ln.id),
                _local(ln.at),
                who,
                ln.action.replace("_", " "),
                subject_text(ln.subject, page.names),
                details_text(ln.details),
                ln.host,
            )
            for c, text in enumerate(cells):
                self.table.setItem(r, c, _item(text))
        shown = len(page.lines)
        self.count.setText(
            f"{page.total:,} {'entry matches' if page.total == 1 else 'entries match'}"
            + (
                f"; the newest {shown:,} are shown (export gives these)"
                if shown < page.total
                else ""
            )
        )
        self.more_button.setVisible(shown < page.total)
        self._say("")
        self.loaded.emit()

    def verify(self) -> None:
        from app.store.audit import verify

        self.verify_button.setEnabled(False)
        self.verdict_label.setText("Verifying every entry…")
        self.verdict_label.setStyleSheet("")

        def show(verdict: Any) -> None:
            self.verify_button.setEnabled(True)
            self.verdict = verdict
            if verdict.ok:
                self.verdict_label.setText(
                    f"Intact: all {verdict.checked} entries are whole and in order."
                )
                self.verdict_label.setStyleSheet(f"color:{style.OK};font-weight:600")
            else:
                self.verdict_label.setText(
                    f"BROKEN at entry {verdict.broken_id}: {verdict.reason}. The "
                    f"{verdict.checked} entries before it are intact."
                )
                self.verdict_label.setStyleSheet(f"color:{style.ALARM};font-weight:600")
            self.verified.emit(verdict)
            self.refresh()  # the list as of the verdict (entries appended meanwhile)

        self._reads.read(verify, on_result=show, what="verifying the audit trail", key="verify")

    def _ask_export(self, kind: str) -> None:
        if self.page is None:
            self._say("Show some entries first.", style.ALARM)
            return
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M")
        name, _ = QFileDialog.getSaveFileName(
            self,
            "Export the audit trail",
            f"audit-{stamp}.{kind}",
            "CSV (*.csv)" if kind == "csv" else "PDF (*.pdf)",
        )
        if name:
            self.export(Path(name), kind)

    def export(self, path: Path, kind: str) -> bool:
        """The entries shown, to ``path`` (a new file, readable by its owner only);
        recorded in the audit trail (what was exported: the filter and the count)."""
        from app.store.audit_query import export_csv

        if self.page is None:
            return False
        if path.exists():
            self._say(f"{path.name} exists already: choose a new file name.", style.ALARM)
            return False
        try:
            if kind == "csv":
                n = export_csv(self.page.lines, self.page.names, path)
            else:
                n = write_audit_pdf(
                    self.page, self.filter.describe(self.page.names), self.verdict, path
                )
        except OSError as exc:
            self._say(f"Not exported: {exc.strerror or exc}.", style.ALARM)
            return False
        self.store.writer.audit(
            "audit_export",
            "audit",
            {"entries": n, "format": kind, "filtered": self.filter.describe({}) != "every entry"},
            operator_id=self._operator_id(),
        )
        self._say(f"{n} entries exported to {path}.", style.OK)
        return True


def audit_html(page: Any, described: str, verdict: Any) -> str:
    from app.store.audit_query import details_text

    esc = html.escape
    rows = []
    for ln in page.lines:
        who = page.names.get(ln.operator_id, "—") if ln.operator_id is not None else "—"
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{esc(t)}</td>"
                for t in (
                    str(ln.id),
                    _local(ln.at),
                    who,
                    ln.action.replace("_", " "),
                    subject_text(ln.subject, page.names),
                    details_text(ln.details),
                    ln.host,
                )
            )
            + "</tr>"
        )
    if verdict is None:
        chain = "The chain was not verified before this export."
    elif verdict.ok:
        chain = f"Chain verified: all {verdict.checked} entries intact."
    else:
        chain = f"Chain BROKEN at entry {verdict.broken_id}: {verdict.reason}."
    head = "".join(f"<th align='left'>{esc(c)}</th>" for c in AUDIT_COLUMNS)
    printed = dt.datetime.now().astimezone().strftime("%d %b %Y %H:%M")
    return (
        f"<h2>Audit trail</h2><p>{esc(described)} · {page.total} entries match, "
        f"{len(page.lines)} listed · printed {esc(printed)}<br/>{esc(chain)}</p>"
        "<table width='100%' cellspacing='0' cellpadding='3' border='1' "
        f"style='border-collapse:collapse'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def write_audit_pdf(page: Any, described: str, verdict: Any, path: Path) -> int:
    """The entries on A4 landscape pages, laid out by Qt's rich-text engine (as the session
    report, with its page set-up and footer: text wraps in its cell, never past the page);
    the number of entries."""
    from app.ui.records.report import open_pdf, print_pages

    writer, page_w, _body_h = open_pdf(path, "Audit trail", QPageLayout.Orientation.Landscape)
    doc = QTextDocument()
    doc.documentLayout().setPaintDevice(writer)
    doc.setDocumentMargin(0)
    font = QFont("DejaVu Sans")
    font.setPointSizeF(7.5)
    doc.setDefaultFont(font)
    doc.setHtml(audit_html(page, described, verdict))
    doc.setTextWidth(page_w)
    print_pages(
        writer,
        [doc],
        lambda n, total: f"{APP_NAME} {__version__} · audit trail · page {n} of {total}",
    )
    return len(page.lines)


class OperatorsView(QWidget):
    """The operators: add one, change a role, deactivate or reactivate, reset a secret."""

    changed = Signal()  # a change was stored (the list is read again)

    def __init__(self, store: Any, operator_id: Callable[[], int | None], parent=None) -> None:
        super().__init__(parent)
        self.store = store
        self._operator_id = operator_id
        self._reads = BackgroundReads(store.engine, self)
        self._reads.failed.connect(lambda text: self._say(text, style.ALARM))
        self.operators: list[Any] = []
        lay = QHBoxLayout(self)
        left = QVBoxLayout()
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(("Name", "Role", "Status", "Can sign in"))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._selected)
        left.addWidget(self.table, 1)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        left.addWidget(self.message)
        lay.addLayout(left, 3)
        right = QVBoxLayout()
        add = QGroupBox("Add an operator")
        form = QFormLayout(add)
        self.new_name = QLineEdit()
        self.new_name.setMaxLength(120)
        self.new_role = QComboBox()
        for r in ROLES:
            self.new_role.addItem(r.capitalize(), r)
        self.new_secret = self._secret()
        self.new_repeat = self._secret()
        form.addRow("Name", self.new_name)
        form.addRow("Role", self.new_role)
        form.addRow("PIN or passphrase", self.new_secret)
        form.addRow("Repeat it", self.new_repeat)
        self.add_button = QPushButton("Add")
        self.add_button.clicked.connect(self.add)
        form.addRow(self.add_button)
        right.addWidget(add)
        sel = QGroupBox("The operator chosen in the list")
        form2 = QFormLayout(sel)
        self.role = QComboBox()
        for r in ROLES:
            self.role.addItem(r.capitalize(), r)
        self.role_button = QPushButton("Set role")
        self.role_button.clicked.connect(self.set_role)
        row = QHBoxLayout()
        row.addWidget(self.role, 1)
        row.addWidget(self.role_button)
        form2.addRow("Role", row)
        self.active_button = QPushButton("Deactivate")
        self.active_button.setToolTip(
            "A deactivated operator cannot sign in; the records they made keep their name"
        )
        self.active_button.clicked.connect(self.toggle_active)
        form2.addRow(self.active_button)
        self.reset_secret = self._secret()
        self.reset_repeat = self._secret()
        form2.addRow("New PIN or passphrase", self.reset_secret)
        form2.addRow("Repeat it", self.reset_repeat)
        self.reset_button = QPushButton("Reset the secret")
        self.reset_button.clicked.connect(self.reset)
        form2.addRow(self.reset_button)
        right.addWidget(sel)
        right.addStretch(1)
        lay.addLayout(right, 2)
        self._selected()

    @staticmethod
    def _secret() -> QLineEdit:
        edit = QLineEdit()
        edit.setEchoMode(QLineEdit.EchoMode.Password)
        edit.setMaxLength(64)
        return edit

    def _say(self, text: str, colour: str = "") -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color:{colour};font-weight:600" if colour else "")

    def refresh(self) -> None:
        from app.store.operators import list_operators

        self._reads.read(
            list_operators, on_result=self._show, what="reading the operators", key="ops"
        )

    def _show(self, operators: list[Any]) -> None:
        chosen = self.chosen()
        self.operators = operators
        self.table.setRowCount(len(operators))
        for r, op in enumerate(operators):
            for c, text in enumerate(
                (
                    op.name,
                    op.role.label,
                    "active" if op.active else "deactivated",
                    "yes" if op.active and op.has_secret else "no",
                )
            ):
                self.table.setItem(r, c, _item(text))
            if chosen is not None and op.id == chosen.id:
                self.table.selectRow(r)
        self._selected()

    def chosen(self) -> Any:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self.operators):
            return None
        return self.operators[rows[0].row()]

    def select(self, name: str) -> None:
        for r, op in enumerate(self.operators):
            if op.name == name:
                self.table.selectRow(r)

    def _selected(self) -> None:
        op = self.chosen()
        for w in (self.role_button, self.active_button, self.reset_button):
            w.setEnabled(op is not None)
        if op is not None:
            self.role.setCurrentIndex(max(0, self.role.findData(op.role.value)))
            self.active_button.setText("Deactivate" if op.active else "Reactivate")

    def _submit(self, request: Any, done: str) -> None:
        def then(_result: Any, exc: BaseException | None) -> None:
            if exc is not None:
                self._say(f"Not changed: {exc}.", style.ALARM)
                return
            self._say(done, style.OK)
            self.refresh()
            self.changed.emit()

        when_done(self.store.writer.submit(request), self, then)

    def _checked_secret(self, a: QLineEdit, b: QLineEdit) -> str | None:
        from app.service.pin import check_format

        secret = a.text()
        if secret != b.text():
            self._say(
                "The two entries differ: enter the same PIN or passphrase twice.", style.ALARM
            )
            return None
        problem = check_format(secret, passphrase=True)
        if problem:
            self._say(f"Not changed: {problem}.", style.ALARM)
            return None
        a.clear()
        b.clear()
        return secret

    def add(self) -> None:
        from app.service.pin import hash_pin
        from app.store.operators import AddOperator, Role, check_name

        name = self.new_name.text().strip()
        problem = check_name(name)
        if problem:
            self._say(f"Not added: {problem}.", style.ALARM)
            return
        secret = self._checked_secret(self.new_secret, self.new_repeat)
        if secret is None:
            return
        role = Role(self.new_role.currentData())
        self.new_name.clear()
        self._submit(
            AddOperator(name, role, hash_pin(secret), self._operator_id()),
            f"{name} added as {role.value}.",
        )

    def set_role(self) -> None:
        from app.store.operators import ChangeOperator, Role

        op = self.chosen()
        if op is None:
            return
        role = Role(self.role.currentData())
        self._submit(
            ChangeOperator(op.id, role=role, operator_id=self._operator_id()),
            f"{op.name} is now {role.value}.",
        )

    def toggle_active(self) -> None:
        from app.store.operators import ChangeOperator

        op = self.chosen()
        if op is None:
            return
        if op.id == self._operator_id() and op.active:
            self._say("You cannot deactivate yourself while signed in.", style.ALARM)
            return
        self._submit(
            ChangeOperator(op.id, active=not op.active, operator_id=self._operator_id()),
            f"{op.name} {'reactivated' if not op.active else 'deactivated'}.",
        )

    def reset(self) -> None:
        from app.service.pin import hash_pin
        from app.store.operators import SetOperatorSecret

        op = self.chosen()
        if op is None:
            return
        secret = self._checked_secret(self.reset_secret, self.reset_repeat)
        if secret is None:
            return
        self._submit(
            SetOperatorSecret(op.id, hash_pin(secret), None, self._operator_id(), via="manager"),
            f"The secret of {op.name} was reset; their failed sign-ins are cleared.",
        )


class LockView(QWidget):
    """The clinic's lock time (kept in the store's clinic settings, for every room)."""

    def __init__(self, store: Any, window: Any, parent=None) -> None:
        super().__init__(parent)
        self.store = store
        self.window_ = window
        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.minutes = QSpinBox()
        self.minutes.setRange(1, 120)
        self.minutes.setSuffix(" min")
        self.minutes.setValue(max(1, round(window.clinic.lock_after_s / 60)))
        form.addRow("Lock the console after", self.minutes)
        lay.addLayout(form)
        note = QLabel(
            "Without a key press or a click for this long, the console locks and asks who is "
            "working. While output is running it waits until output stops: locking never "
            "stops or pauses output, and STOP (Esc) works over the lock screen as everywhere. "
            "The setting is shared by every treatment room on these records."
        )
        note.setWordWrap(True)
        note.setStyleSheet(f"color:{style.MUTED}")
        lay.addWidget(note)
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.save)
        lay.addWidget(self.save_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.message = QLabel()
        lay.addWidget(self.message)
        lay.addStretch(1)

    def save(self) -> None:
        import dataclasses

        from app.engine.limits import ClinicSettings
        from app.service.clinic_limits import settings_to_dict
        from app.store.clinic import SaveClinicSettings

        w = self.window_
        cs = dataclasses.replace(w.clinic, lock_after_s=float(self.minutes.value() * 60))
        record = w.clinic_record
        expected = record.version if record is not None and record.exists else 0
        request = SaveClinicSettings(
            settings_to_dict(cs), expected, None, defaults=settings_to_dict(ClinicSettings())
        )

        def then(_r: Any, exc: BaseException | None) -> None:
            if exc is not None:
                self.message.setText(f"Not saved: {exc}")
                self.message.setStyleSheet(f"color:{style.ALARM};font-weight:600")
                return
            w.set_clinic_settings(cs)
            if w.clinic_watch is not None:
                w.clinic_watch.poke()  # read the new version at once
            self.message.setText(f"Saved: the console locks after {self.minutes.value()} min.")
            self.message.setStyleSheet(f"color:{style.OK};font-weight:600")

        when_done(self.store.writer.submit(request), self, then)


class ManagerWindow(QWidget):
    """The manager's screen (a window of its own beside the console, not modal)."""

    def __init__(self, store: Any, window: Any) -> None:
        super().__init__(window, Qt.WindowType.Window)
        self.setWindowTitle("Audit trail and operators")
        resize_within_screen(self, 1200, 720)
        self.store = store
        self.main_window = window

        def who() -> int | None:
            me = window.access.signed_in
            return None if me is None else me.id

        self.operator_id = who
        lay = QVBoxLayout(self)
        self.tabs = QTabWidget()
        self.audit = AuditView(store, who)
        self.operators = OperatorsView(store, who)
        self.lock = LockView(store, window)
        self.tabs.addTab(self.audit, "Audit trail")
        self.tabs.addTab(self.operators, "Operators")
        self.tabs.addTab(self.lock, "Console lock")
        lay.addWidget(self.tabs)
        self.operators.changed.connect(self.operators.refresh)
        self.operators._reads.read(
            _operators, on_result=self.audit.set_operators, what="reading the operators"
        )
        self.operators.refresh()
        self.audit.refresh()
        store.writer.audit("audit_view", "audit", {}, operator_id=who())


def _operators(engine: Any) -> list[Any]:
    from app.store.operators import list_operators

    return list_operators(engine)
