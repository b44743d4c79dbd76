"""Operators: who works at the console, in which role, and who is signed in now. No Qt.

Every person has a row (``operator``): a name, a :class:`Role`, a salted scrypt hash of
their secret (PIN or passphrase; hashed and checked by ``app.service.pin``, never stored
in clear), the count of wrong secrets in a row (the lockout is derived from it) and
``active``. Operators are never deleted: a deactivated one cannot sign in, and the
records they made keep naming them.

:class:`OperatorContext` is the one place that knows who is signed in. The store's
writer holds it: a request that names no operator (``operator_id`` None) is recorded
with the signed-in one, so every session, screening, consent, override, limit change,
export and erasure names its operator without each caller knowing who that is.

Every change of an operator (added, secret set or reset, role changed, deactivated) and
every sign-in, failed sign-in and lock is appended to the audit trail.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from app.store import audit
from app.store.models import Operator


class Role(enum.StrEnum):
    PRACTITIONER = "practitioner"
    TRAINER = "trainer"
    TECHNICIAN = "technician"
    MANAGER = "manager"

    @property
    def label(self) -> str:
        return self.value.capitalize()


# what each role may do (the manager may do everything)
WORKSPACE_ROLES: dict[str, frozenset[Role]] = {
    "practitioner": frozenset({Role.PRACTITIONER, Role.MANAGER}),
    "trainer": frozenset({Role.TRAINER, Role.PRACTITIONER, Role.MANAGER}),
    "technician": frozenset({Role.TECHNICIAN, Role.MANAGER}),
}
CLINIC_LIMITS_ROLES = frozenset({Role.TECHNICIAN, Role.MANAGER})
MANAGER_ROLES = frozenset({Role.MANAGER})  # erase, the audit trail, operators

NAME_MAX = 120


def may_enter(role: Role | str | None, workspace: str) -> bool:
    """True when ``role`` may use ``workspace`` (practitioner, trainer, technician)."""
    if role is None:
        return False
    return Role(role) in WORKSPACE_ROLES.get(workspace, frozenset())


def is_manager(role: Role | str | None) -> bool:
    return role is not None and Role(role) in MANAGER_ROLES


def home_workspace(role: Role | str) -> str:
    """The workspace a role starts in."""
    return {
        Role.PRACTITIONER: "practitioner",
        Role.TRAINER: "trainer",
        Role.TECHNICIAN: "technician",
        Role.MANAGER: "practitioner",
    }[Role(role)]


@dataclass(frozen=True, slots=True)
class OperatorRecord:
    """One operator as read from the store (no secret: only whether one is set)."""

    id: int
    name: str
    role: Role
    active: bool
    secret_hash: str | None
    failures: int
    secret_version: int

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_hash)


def _record(row: Operator) -> OperatorRecord:
    try:
        role = Role(row.role)
    except ValueError:
        role = Role.PRACTITIONER  # an unknown role (a newer console's) grants the least
    return OperatorRecord(
        row.id,
        row.name,
        role,
        bool(row.active),
        row.secret_hash,
        max(0, int(row.secret_failures or 0)),
        int(row.secret_version or 0),
    )


def list_operators(engine: Engine, *, active_only: bool = False) -> list[OperatorRecord]:
    """Every operator, by name (any thread; a short session of its own)."""
    with Session(engine) as s:
        q = select(Operator).order_by(func.lower(Operator.name), Operator.id)
        if active_only:
            q = q.where(Operator.active.is_(True))
        return [_record(r) for r in s.scalars(q)]


def read_operator(engine: Engine, operator_id: int) -> OperatorRecord | None:
    with Session(engine) as s:
        row = s.get(Operator, operator_id)
        return None if row is None else _record(row)


def find_operator(engine: Engine, name: str) -> OperatorRecord | None:
    """The operator called ``name`` (case and surrounding spaces ignored)."""
    with Session(engine) as s:
        row = s.scalar(
            select(Operator).where(func.lower(Operator.name) == name.strip().lower()).limit(1)
        )
        return None if row is None else _record(row)


def needs_first_account(operators: list[OperatorRecord]) -> bool:
    """A first start: no active manager can sign in, so the first account (a manager)
    may be created without signing in."""
    return not any(o.active and o.has_secret and o.role is Role.MANAGER for o in operators)


def check_name(name: str) -> str | None:
    """Why ``name`` cannot be an operator's name, or None."""
    clean = name.strip()
    if not clean:
        return "the name is empty"
    if len(clean) > NAME_MAX:
        return f"the name is longer than {NAME_MAX} characters"
    if any(ord(c) < 32 for c in clean):
        return "the name contains a line break or a control character"
    return None


# ---------------------------------------------------------------- who is signed in


@dataclass(frozen=True, slots=True)
class SignedIn:
    id: int
    name: str
    role: Role


class OperatorContext:
    """Who is signed in at this console (thread-safe: the writer thread reads it).

    ``default_id`` is recorded when nobody is signed in (headless commands, the ``run``
    command, a console whose records opened before anyone signed in)."""

    def __init__(self, default_id: int | None = None) -> None:
        self._lock = threading.Lock()
        self._current: SignedIn | None = None
        self.default_id = default_id
        self._listeners: list[Callable[[SignedIn | None], None]] = []

    @property
    def current(self) -> SignedIn | None:
        with self._lock:
            return self._current

    @property
    def current_id(self) -> int | None:
        """The operator every write names: the signed-in one, else the default."""
        with self._lock:
            return self._current.id if self._current is not None else self.default_id

    @property
    def role(self) -> Role | None:
        with self._lock:
            return self._current.role if self._current is not None else None

    def sign_in(self, who: SignedIn) -> None:
        with self._lock:
            self._current = who
        self._notify(who)

    def sign_out(self) -> None:
        with self._lock:
            self._current = None
        self._notify(None)

    def add_listener(self, callback: Callable[[SignedIn | None], None]) -> None:
        """``callback(signed_in_or_None)`` at each change (on the caller's thread)."""
        self._listeners.append(callback)

    def _notify(self, who: SignedIn | None) -> None:
        for cb in list(self._listeners):
            cb(who)


# ---------------------------------------------------------------- writer requests


def adopt_bench_pin(s: Session, pin_hash: str) -> int | None:
    """An older console's technician PIN (its hash) becomes the secret of an operator
    "Technician" (role technician), as migration 0013 does for a PIN already in the store:
    whoever knew the bench PIN still opens the bench, by signing in. Returns the id (None:
    an operator already has that secret)."""
    if s.scalar(select(Operator.id).where(Operator.secret_hash == pin_hash)) is not None:
        return None
    taken = {n.lower() for n in s.scalars(select(Operator.name))}
    name = "Technician" if "technician" not in taken else "Technician (bench PIN)"
    row = Operator(name=name, role=Role.TECHNICIAN.value, secret_hash=pin_hash, secret_version=1)
    s.add(row)
    s.flush()
    audit.append(
        s,
        "operator_change",
        _subject(row.id),
        {"change": "added", "role": row.role, "via": "technician PIN imported"},
    )
    return row.id


def _subject(operator_id: int) -> str:
    return f"operator:{operator_id}"


@dataclass(frozen=True, slots=True)
class AddOperator:
    """Add an operator (``first``: only while no manager can sign in). Returns its id.

    ``secret_hash`` is already hashed (app/service/pin.py); an existing operator without
    a secret and of the same name (the default "Practitioner") is taken over instead of
    duplicated."""

    appends_audit = True  # noqa: RUF045 - class constant, not a field

    name: str
    role: Role
    secret_hash: str | None
    operator_id: int | None = None  # who adds (None: nobody signed in, e.g. first start)
    first: bool = False
    via: str = "console"

    @property
    def fills_operator(self) -> bool:
        """The writer names the operator signed in, except on the first account (nobody
        is signed in: the new manager adds themselves)."""
        return not self.first

    def apply(self, s: Session, st: object, tentative: object) -> int:
        problem = check_name(self.name)
        if problem:
            raise ValueError(f"operator not added: {problem}")
        name = self.name.strip()
        if self.first:
            managers = s.scalar(
                select(func.count(Operator.id)).where(
                    Operator.role == Role.MANAGER.value,
                    Operator.active.is_(True),
                    Operator.secret_hash.is_not(None),
                )
            )
            if managers:
                raise ValueError(
                    "a manager account exists already: sign in, or ask a manager to add you"
                )
        row = s.scalar(select(Operator).where(func.lower(Operator.name) == name.lower()))
        if row is not None and (row.secret_hash or not row.active):
            raise ValueError(f"an operator called {name!r} exists already")
        if row is None:
            row = Operator(name=name)
            s.add(row)
        row.role = Role(self.role).value
        row.secret_hash = self.secret_hash
        row.secret_failures = 0
        row.secret_version = (row.secret_version or 0) + 1
        row.active = True
        s.flush()
        audit.append(
            s,
            "operator_change",
            _subject(row.id),
            {"change": "added", "role": row.role, "first_account": self.first, "via": self.via},
            operator_id=row.id if self.first else self.operator_id,
        )
        return row.id


@dataclass(frozen=True, slots=True)
class CountSignIn:
    """Count one sign-in attempt before the secret is checked; returns the record after."""

    target_id: int

    def apply(self, s: Session, st: object, tentative: object) -> OperatorRecord:
        s.execute(
            update(Operator)
            .where(Operator.id == self.target_id)
            .values(secret_failures=Operator.secret_failures + 1)
        )
        row = s.get(Operator, self.target_id)
        if row is None:
            raise ValueError(f"operator {self.target_id} does not exist")
        s.refresh(row)
        return _record(row)


@dataclass(frozen=True, slots=True)
class ClearSignInFailures:
    target_id: int

    def apply(self, s: Session, st: object, tentative: object) -> None:
        s.execute(update(Operator).where(Operator.id == self.target_id).values(secret_failures=0))


@dataclass(frozen=True, slots=True)
class SetOperatorSecret:
    """A new secret hash (changed by its owner, or reset by a manager / ``db operators
    reset-secret``); ``after_version``: refused if the secret changed meanwhile."""

    appends_audit = True  # noqa: RUF045 - class constant, not a field

    target_id: int
    secret_hash: str
    after_version: int | None = None
    operator_id: int | None = None  # who sets it
    via: str = "console"

    def apply(self, s: Session, st: object, tentative: object) -> int:
        row = s.get(Operator, self.target_id)
        if row is None:
            raise ValueError(f"operator {self.target_id} does not exist")
        if self.after_version is not None and row.secret_version != self.after_version:
            raise ValueError("the secret was changed meanwhile: nothing was changed")
        row.secret_hash = self.secret_hash
        row.secret_failures = 0
        row.secret_version = (row.secret_version or 0) + 1
        s.flush()
        audit.append(
            s,
            "operator_change",
            _subject(row.id),
            {"change": "secret_set", "via": self.via},
            operator_id=self.operator_id,
        )
        return row.secret_version


@dataclass(frozen=True, slots=True)
class ChangeOperator:
    """A manager changes an operator's role and/or deactivates or reactivates them. The
    last active manager who can sign in is never demoted or deactivated."""

    appends_audit = True  # noqa: RUF045 - class constant, not a field

    target_id: int
    role: Role | None = None
    active: bool | None = None
    operator_id: int | None = None
    via: str = "console"

    def apply(self, s: Session, st: object, tentative: object) -> None:
        row = s.get(Operator, self.target_id)
        if row is None:
            raise ValueError(f"operator {self.target_id} does not exist")
        old_role, old_active = row.role, bool(row.active)
        new_role = Role(self.role).value if self.role is not None else old_role
        new_active = old_active if self.active is None else self.active
        losing_manager = old_role == Role.MANAGER.value and (
            new_role != Role.MANAGER.value or not new_active
        )
        if losing_manager and old_active and row.secret_hash:
            others = s.scalar(
                select(func.count(Operator.id)).where(
                    Operator.id != row.id,
                    Operator.role == Role.MANAGER.value,
                    Operator.active.is_(True),
                    Operator.secret_hash.is_not(None),
                )
            )
            if not others:
                raise ValueError(
                    "this is the last manager who can sign in: add another manager first"
                )
        row.role, row.active = new_role, new_active
        details: dict[str, Any] = {"via": self.via}
        if new_role != old_role:
            details.update(change="role", old=old_role, new=new_role)
        if new_active != old_active:
            details["active"] = {"old": old_active, "new": new_active}
            details.setdefault("change", "activated" if new_active else "deactivated")
        if "change" not in details:
            return
        s.flush()
        audit.append(s, "role_change", _subject(row.id), details, operator_id=self.operator_id)
