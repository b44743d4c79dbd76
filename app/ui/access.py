"""Who works at the console: the sign-in page, the lock after inactivity, role checks.

The page is part of the main window, never a modal dialog: the STOP button stays on the
toolbar above it and Esc stops output from anywhere, locked or not. The store's
:class:`~app.store.operators.OperatorContext` is the one place that knows who is signed
in; :class:`AccessControl` only signs people in and out of it.

- **First start** (no manager can sign in): the page asks for the first account, a
  manager (name and a PIN or passphrase entered twice).
- **Sign-in**: a list of names and a PIN; the secret is checked by the same rule as any
  other (``app.service.pin``: every attempt counted in the store first, wrong ones
  locked out for a growing time).
- **Lock**: after the clinic's ``lock_after_s`` without a key press or a click, or at
  once from the button naming who is signed in (quick switch). While output is held the
  lock waits until output stops: locking never stops or pauses output, and STOP and Esc
  work over the lock screen as everywhere.
- **Headless**: ``MICROCURRENT_OPERATOR`` and ``MICROCURRENT_OPERATOR_SECRET`` sign in
  where nobody can type (screenshots, benchmarks, tests), checked and counted like typed
  ones; on a first start they create that first manager.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.ui import style

ENV_OPERATOR = "MICROCURRENT_OPERATOR"
ENV_SECRET = "MICROCURRENT_OPERATOR_SECRET"
DEFAULT_LOCK_AFTER_S = 300.0
TICK_MS = 1000
RECHECK_S = 5.0  # the signed-in operator re-read this often (another room may change them)


class SignInPage(QWidget):
    """The sign-in / first-account / lock page (no logic: :class:`AccessControl`)."""

    sign_in_requested = Signal(int, str)  # operator id, secret
    first_account_requested = Signal(str, str)  # name, secret

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        self.card = QFrame()
        self.card.setObjectName("signin_card")
        self.card.setFrameShape(QFrame.Shape.StyledPanel)
        self.card.setMaximumWidth(520)
        self.card.setMinimumWidth(420)
        row.addWidget(self.card)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(2)
        lay = QVBoxLayout(self.card)
        self.title = QLabel()
        self.title.setStyleSheet("font-size:20px;font-weight:600")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        lay.addWidget(self.title)
        self.intro = QLabel()
        self.intro.setWordWrap(True)
        self.intro.setTextFormat(Qt.TextFormat.PlainText)  # it names people
        lay.addWidget(self.intro)
        # sign-in: the names, then the secret
        self.names = QListWidget()
        self.names.setMinimumHeight(150)
        self.names.itemActivated.connect(self._focus_secret)
        lay.addWidget(self.names)
        # first account: a name
        self.form = QFormLayout()
        self.name = QLineEdit()
        self.name.setMaxLength(120)
        self.name.setPlaceholderText("Your full name")
        self.form.addRow("Name", self.name)
        self.secret = self._secret_field()
        self.form.addRow("PIN or passphrase", self.secret)
        self.repeat = self._secret_field()
        self.form.addRow("Repeat it", self.repeat)
        lay.addLayout(self.form)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        lay.addWidget(self.message)
        self.button = QPushButton()
        self.button.setObjectName("primary")
        self.button.clicked.connect(self.submit)
        self.secret.returnPressed.connect(self.submit)
        self.repeat.returnPressed.connect(self.submit)
        lay.addWidget(self.button)
        self.hint = QLabel("STOP (Esc) on the toolbar stops output at any time, signed in or not.")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet(f"color:{style.MUTED}")
        lay.addWidget(self.hint)
        self.mode = "wait"
        self.show_waiting("Opening the client records…")

    def _focus_secret(self, _item: QListWidgetItem) -> None:
        self.secret.setFocus()

    @staticmethod
    def _secret_field() -> QLineEdit:
        edit = QLineEdit()
        edit.setEchoMode(QLineEdit.EchoMode.Password)
        edit.setMaxLength(64)
        return edit

    def _set_rows(self, *, names: bool, name: bool, repeat: bool, secret: bool) -> None:
        self.names.setVisible(names)
        self.form.setRowVisible(self.name, name)
        self.form.setRowVisible(self.repeat, repeat)
        self.form.setRowVisible(self.secret, secret)
        self.button.setVisible(secret)

    def say(self, text: str, colour: str = "") -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color:{colour};font-weight:600" if colour else "")

    def show_waiting(self, text: str) -> None:
        self.mode = "wait"
        self.title.setText("Microcurrent Console")
        self.intro.setText(text)
        self._set_rows(names=False, name=False, repeat=False, secret=False)

    def show_first_account(self) -> None:
        self.mode = "first"
        self.title.setText("Create the first account")
        self.intro.setText(
            "This console has no manager yet. The first account is a manager's: they add "
            "the practitioners, trainers and technicians (menu under their name), and see "
            "the audit trail. Choose a PIN (digits) or a passphrase of 4 to 64 characters; "
            "only a salted hash of it is kept."
        )
        self.button.setText("Create manager account")
        self._set_rows(names=False, name=True, repeat=True, secret=True)
        self.name.setFocus()

    def show_operators(self, operators: list[Any], locked_by: str = "", select_id: int = 0) -> None:
        """``operators``: OperatorRecords that may sign in (active, with a secret)."""
        self.mode = "sign_in"
        self.title.setText("Locked" if locked_by else "Who is working?")
        self.intro.setText(
            f"{locked_by} was signed in. Choose your name and enter your PIN or passphrase."
            if locked_by
            else "Choose your name and enter your PIN or passphrase."
        )
        self.button.setText("Sign in")
        self.names.clear()
        for op in operators:
            item = QListWidgetItem(f"{op.name}  ·  {op.role.label}")  # plain text
            item.setData(Qt.ItemDataRole.UserRole, op.id)
            self.names.addItem(item)
            if op.id == select_id:
                self.names.setCurrentItem(item)
        if self.names.currentItem() is None and self.names.count():
            self.names.setCurrentRow(0)
        self._set_rows(names=True, name=False, repeat=False, secret=True)
        if not operators:
            self.intro.setText(
                "Nobody can sign in: no active operator has a PIN or passphrase. A manager "
                "sets one with 'python -m app db operators reset-secret NAME'."
            )
        self.secret.setFocus()

    def selected_id(self) -> int | None:
        item = self.names.currentItem()
        return None if item is None else int(item.data(Qt.ItemDataRole.UserRole))

    def set_busy(self, busy: bool) -> None:
        self.button.setEnabled(not busy)

    def submit(self) -> None:
        if not self.button.isEnabled() or not self.button.isVisible():
            return
        secret = self.secret.text()
        if self.mode == "first":
            if secret != self.repeat.text():
                self.say(
                    "The two entries differ: enter the same PIN or passphrase twice.", style.ALARM
                )
                return
            self.first_account_requested.emit(self.name.text(), secret)
        elif self.mode == "sign_in":
            who = self.selected_id()
            if who is None:
                self.say("Choose your name in the list first.", style.ALARM)
                return
            self.sign_in_requested.emit(who, secret)

    def clear_secrets(self) -> None:
        self.secret.clear()
        self.repeat.clear()


class AccessControl(QObject):
    """Signs operators in and out of the store's OperatorContext for ``window`` and locks
    it after inactivity (see the module docstring). ``output_busy()`` says whether output
    is held (a lock then waits). The window calls :meth:`note_activity` at every input
    (its application-wide key filter sees every event already)."""

    signed_in_changed = Signal(object)  # SignedIn | None
    locked_changed = Signal(bool)

    def __init__(
        self,
        output_busy: Callable[[], bool],
        parent: QObject | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(parent)
        self.page = SignInPage()
        self.page.sign_in_requested.connect(self._sign_in)
        self.page.first_account_requested.connect(self._first_account)
        self._output_busy = output_busy
        self.clock = clock
        self.store: Any = None
        self.context: Any = None
        self.lock_after_s = DEFAULT_LOCK_AFTER_S
        # a window built without any records (benchmarks, tests; never the console, which
        # always has records open, opening or failed): nobody to sign in, nothing gated
        self.without_records = False
        self.locked = False
        self.lock_pending = False  # asked while output was held: locks once it stops
        self._last_activity = clock()
        self._recheck_at = 0.0  # when to re-read the signed-in operator next
        self._locked_by = ""
        self._last_id = 0
        self._operators: list[Any] = []
        self._guards: dict[int, Any] = {}  # operator id -> PinGuard (its lockout clock)
        self._reads: Any = None
        self._tick = QTimer(self)
        self._tick.setInterval(TICK_MS)
        self._tick.timeout.connect(self.check_idle)

    # ---------------------------------------------------------------- state

    @property
    def signed_in(self) -> Any:
        return None if self.context is None else self.context.current

    def allows(self, workspace: str) -> str | None:
        """Why the operator signed in may not use ``workspace`` (None: they may). Without
        records nobody can sign in: the desk and the studio stay open (nothing can be
        recorded or started without them), the bench stays closed."""
        if self.context is None:
            if workspace == "technician" and not self.without_records:
                return (
                    "the bench needs a technician or a manager signed in, and nobody can "
                    "sign in until the client records are open"
                )
            return None
        # imported once the records are open: app.store.operators brings SQLAlchemy,
        # which must stay off the path to the first live trace (bench startup)
        from app.store.operators import WORKSPACE_ROLES, may_enter

        who = self.signed_in
        if who is None:
            return "nobody is signed in"
        if may_enter(who.role, workspace):
            return None
        roles = " or ".join(sorted(r.value for r in WORKSPACE_ROLES.get(workspace, ())))
        return f"{who.name} is signed in as {who.role.value}; this workspace is for {roles}"

    def read(self, fn: Callable[..., Any], *args: Any, on_result: Callable[[Any], None]) -> None:
        """A read of the records off the GUI thread (after :meth:`store_ready`)."""
        if self._reads is not None:
            self._reads.read(fn, *args, on_result=on_result, what="reading the operators")

    def is_manager(self) -> bool:
        from app.store.operators import is_manager

        who = self.signed_in
        return who is not None and is_manager(who.role)

    def set_lock_after(self, seconds: float) -> None:
        self.lock_after_s = max(30.0, float(seconds))

    # ---------------------------------------------------------------- records

    def store_ready(self, store: Any, *, interactive: bool = True) -> None:
        """The records are open: sign in from the environment, or ask who is working."""
        from app.ui.background import BackgroundReads

        self.store = store
        self.context = store.operators
        self._reads = BackgroundReads(store.engine, self)
        self._reads.failed.connect(lambda text: self.page.say(text, style.ALARM))
        self._tick.start()
        name = os.environ.get(ENV_OPERATOR)
        if name is not None:
            problem = self._sign_in_from_env(name, os.environ.get(ENV_SECRET, ""))
            if problem is None:
                return
            self.page.say(f"{ENV_OPERATOR}: {problem}", style.ALARM)
        self._lock_now("")

    def store_unavailable(self, error: str) -> None:
        self.page.show_waiting(f"The client records are unavailable: {error}")

    def _sign_in_from_env(self, name: str, secret: str, timeout: float = 10.0) -> str | None:
        """Headless sign-in (waits for the store: off the GUI thread, a few ms). The
        first start creates this operator as the first manager. Why it failed, or None."""
        from app.service.pin import check_format, hash_pin, operator_guard
        from app.store.operators import (
            AddOperator,
            Role,
            find_operator,
            list_operators,
            needs_first_account,
        )
        from app.store.reader import read_in_background

        engine, writer = self.store.engine, self.store.writer
        try:
            ops = read_in_background(engine, list_operators).result(timeout)
            record = read_in_background(engine, find_operator, name).result(timeout)
            if needs_first_account(ops) and (record is None or not record.has_secret):
                problem = check_format(secret, passphrase=True)
                if problem:
                    return f"the first manager was not created: {problem}"
                writer.submit(
                    AddOperator(name, Role.MANAGER, hash_pin(secret), None, first=True)
                ).result(timeout)
                record = read_in_background(engine, find_operator, name).result(timeout)
        except Exception as exc:  # noqa: BLE001 - in words on the page
            return f"the sign-in could not be recorded ({exc})"
        if record is None or not record.active:
            return f"no active operator called {name!r}"
        check = operator_guard(writer, record).verify(secret, timeout)
        if not check.ok:
            return check.message
        self._complete(record)
        return None

    # ---------------------------------------------------------------- sign-in

    def _refresh_page(self) -> None:
        from app.store.operators import list_operators, needs_first_account

        def show(ops: list[Any]) -> None:
            self._operators = ops
            if not self.locked:
                return
            if needs_first_account(ops):
                self.page.show_first_account()
            else:
                ready = [o for o in ops if o.active and o.has_secret]
                self.page.show_operators(ready, self._locked_by, self._last_id)

        self._reads.read(list_operators, on_result=show, what="reading the operators", key="ops")

    def _sign_in(self, operator_id: int, secret: str) -> None:
        from app.service.pin import operator_guard

        record = next((o for o in self._operators if o.id == operator_id), None)
        if record is None or self.store is None:
            return
        guard = self._guards.get(record.id)
        if guard is None:
            guard = self._guards[record.id] = operator_guard(self.store.writer, record)
        else:
            known = guard.state
            # a reading older than what this guard counted never lowers its count
            if known is None or (
                record.secret_version != known.version or record.failures > known.failures
            ):
                guard.backend.update(record)
        refused = guard.refusal()
        if refused is not None:
            self.page.clear_secrets()  # not kept in the field while the lockout runs
            self.page.say(refused.message[0].upper() + refused.message[1:] + ".", style.ALARM)
            return
        self.page.set_busy(True)
        self.page.say("Recording in the client records…")

        def counted(state: Any, exc: BaseException | None) -> None:
            self.page.set_busy(False)
            self.page.clear_secrets()
            if exc is not None:
                self.page.say(
                    f"The attempt could not be recorded in the client records ({exc}): "
                    "no PIN is checked until it can be.",
                    style.ALARM,
                )
                return
            check = guard.check(secret, state)
            if not check.ok:
                self.page.say(check.message[0].upper() + check.message[1:] + ".", style.ALARM)
                self._refresh_page()  # the stored count of wrong tries
                return
            self._complete(record)

        self._wait(guard.count_attempt(), counted)

    def _first_account(self, name: str, secret: str) -> None:
        from app.service.pin import check_format, hash_pin
        from app.store.operators import AddOperator, Role, check_name

        problem = check_name(name) or check_format(secret, passphrase=True)
        if problem:
            self.page.say(f"Not created: {problem}.", style.ALARM)
            return
        self.page.set_busy(True)
        request = AddOperator(name.strip(), Role.MANAGER, hash_pin(secret), None, first=True)

        def added(new_id: Any, exc: BaseException | None) -> None:
            self.page.set_busy(False)
            self.page.clear_secrets()
            if exc is not None:
                self.page.say(f"Not created: {exc}.", style.ALARM)
                self._refresh_page()
                return
            from app.store.operators import SignedIn

            self.store.writer.audit(
                "sign_in",
                f"operator:{new_id}",
                {"role": "manager", "first_account": True},
                operator_id=int(new_id),
            )
            self._enter(SignedIn(int(new_id), name.strip(), Role.MANAGER))

        self._wait(self.store.writer.submit(request), added)

    def _wait(self, future: Any, then: Callable[[Any, BaseException | None], None]) -> None:
        from app.ui.technician.pin_dialog import when_done

        when_done(future, self, then)

    def _complete(self, record: Any) -> None:
        from app.store.operators import SignedIn

        self._enter(SignedIn(record.id, record.name, record.role))

    def _enter(self, who: Any) -> None:
        self.context.sign_in(who)
        self._last_id = who.id
        self.page.say("")
        self.locked = False
        self.lock_pending = False
        self.note_activity()
        self.locked_changed.emit(False)
        self.signed_in_changed.emit(who)

    # ---------------------------------------------------------------- lock

    def note_activity(self) -> None:
        self._last_activity = self.clock()

    def idle_s(self) -> float:
        return self.clock() - self._last_activity

    def check_idle(self) -> None:
        """Every second: lock after ``lock_after_s`` idle, or a lock asked while output
        was held, once output has stopped."""
        if self.locked or self.context is None or self.signed_in is None:
            return
        if self.lock_pending or self.idle_s() >= self.lock_after_s:
            self.lock("idle" if not self.lock_pending else "asked")
            return
        if self.clock() >= self._recheck_at:
            self._recheck_at = self.clock() + RECHECK_S
            self._recheck(self.signed_in)

    def _recheck(self, who: Any) -> None:
        """Re-read the operator signed in (off the GUI thread): deactivated, or given
        another role, in this room or another, they are signed out (the lock waits while
        output is held, like any lock) and sign in again under their role as it is now."""
        from app.store.operators import read_operator

        def seen(record: Any) -> None:
            if self.locked or self.signed_in is None or self.signed_in.id != who.id:
                return
            if record is None or not record.active:
                self.lock("deactivated")
            elif record.role != who.role:
                self.lock("role changed")

        self.read(read_operator, who.id, on_result=seen)

    def lock(self, why: str = "asked") -> bool:
        """Sign out and show the sign-in page; False (and a lock pending) while output is
        held: locking never touches output."""
        if self.context is None or self.locked:
            return self.locked
        if self._output_busy():
            self.lock_pending = True
            return False
        who = self.signed_in
        if who is not None:
            self.store.writer.audit("lock", f"operator:{who.id}", {"why": why}, operator_id=who.id)
        self._lock_now(who.name if who is not None else "")
        return True

    def _lock_now(self, locked_by: str) -> None:
        self.lock_pending = False
        self._locked_by = locked_by
        self.locked = True
        if self.context is not None and self.context.current is not None:
            self.context.sign_out()
        self.page.clear_secrets()
        self.page.show_waiting("Reading who may sign in…")
        self.locked_changed.emit(True)
        self.signed_in_changed.emit(None)
        self._refresh_page()
