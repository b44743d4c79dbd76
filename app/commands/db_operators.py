"""`python -m app db operators list|add|reset-secret|set-role|deactivate|activate`.

Who may work at the console, from the command line (the console's manager screen does the
same): every change is a writer request of ``app.store.operators`` and is appended to the
audit trail (``via: db operators``). Secrets are typed twice at a hidden prompt, or given
in ``$MICROCURRENT_OPERATOR_SECRET`` where nobody can type (scripts); they are hashed
with scrypt (``app.service.pin``) and never printed or stored in clear.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

SECRET_ENV = "MICROCURRENT_OPERATOR_SECRET"
VIA = "db operators"
ROLES = ("practitioner", "trainer", "technician", "manager")


def register(actions: argparse._SubParsersAction, common) -> None:
    q = actions.add_parser(
        "operators",
        help="list, add or change the operators (roles, secrets, deactivation; audited)",
        description="Who works at the console. Secrets are asked at a hidden prompt "
        f"(or taken from ${SECRET_ENV}); every change is in the audit trail.",
    )
    ops = q.add_subparsers(dest="op_action", metavar="ACTION", required=True)
    x = ops.add_parser("list", help="every operator: name, role, active, secret set")
    common(x)
    x = ops.add_parser("add", help="add an operator with a role and a secret")
    x.add_argument("name", metavar="NAME")
    x.add_argument("--role", choices=ROLES, default="practitioner")
    common(x)
    x = ops.add_parser(
        "reset-secret",
        help="a new secret for an operator who forgot theirs (clears their lockout)",
    )
    x.add_argument("name", metavar="NAME")
    common(x)
    x = ops.add_parser("set-role", help="change an operator's role")
    x.add_argument("name", metavar="NAME")
    x.add_argument("role", choices=ROLES, metavar="ROLE")
    common(x)
    for action, text in (
        ("deactivate", "an operator can no longer sign in (their records keep their name)"),
        ("activate", "a deactivated operator may sign in again"),
    ):
        x = ops.add_parser(action, help=text)
        x.add_argument("name", metavar="NAME")
        common(x)


def _ask_secret(name: str) -> str:
    from app.service.pin import check_format

    given = os.environ.get(SECRET_ENV)
    if given is None:
        if not sys.stdin.isatty():
            raise ValueError(
                f"no secret given: type it at a terminal, or set ${SECRET_ENV} for scripts"
            )
        given = getpass.getpass(f"New PIN or passphrase for {name}: ")
        if getpass.getpass("Repeat it: ") != given:
            raise ValueError("the two entries differ: nothing was changed")
    problem = check_format(given, passphrase=True)
    if problem:
        raise ValueError(f"{problem}: nothing was changed")
    return given


def authorize_manager(engine: Any, name: str | None, what: str) -> tuple[int | None, str]:
    """Erasure and the audit trail are a manager's: once a manager can sign in, the
    command needs one (``name`` or $MICROCURRENT_OPERATOR, and their secret), checked
    and counted like a sign-in at the console. Returns (the manager's id or None, why
    refused or "")."""
    from app.service.pin import operator_guard
    from app.store.operators import Role, find_operator, list_operators, needs_first_account
    from app.store.writer import StoreWriter

    if needs_first_account(list_operators(engine)):
        return None, ""  # no manager yet: whoever holds the database file
    name = name or os.environ.get("MICROCURRENT_OPERATOR")
    if not name:
        return None, (
            f"only a manager may {what}: give --operator NAME (their secret is asked, or "
            f"taken from ${SECRET_ENV})"
        )
    record = find_operator(engine, name)
    if record is None or not record.active or record.role is not Role.MANAGER:
        return None, f"only a manager may {what}: {name!r} is not an active manager"
    secret = os.environ.get(SECRET_ENV)
    if secret is None:
        if not sys.stdin.isatty():
            return None, f"no secret given: type it at a terminal, or set ${SECRET_ENV}"
        secret = getpass.getpass(f"PIN or passphrase of {record.name}: ")
    writer = StoreWriter(engine)
    try:
        check = operator_guard(writer, record).verify(secret, 30)
        writer.flush(30)
    finally:
        writer.close()
    if not check.ok:
        return None, f"{record.name}: {check.message}"
    return record.id, ""


def run(args: argparse.Namespace, engine: Any) -> int:
    """One ``db operators`` action on an open store (``engine``); the exit status."""
    from app.service.pin import hash_pin
    from app.store.operators import (
        AddOperator,
        ChangeOperator,
        Role,
        SetOperatorSecret,
        check_name,
        find_operator,
        list_operators,
    )
    from app.store.writer import StoreWriter

    if args.op_action == "list":
        rows = list_operators(engine)
        width = max([len(o.name) for o in rows] + [4])
        print(f"{'id':>4}  {'name':<{width}}  {'role':<12}  {'status':<11}  secret")
        for o in rows:
            status = "active" if o.active else "deactivated"
            secret = "set" if o.has_secret else "none (cannot sign in)"
            print(f"{o.id:>4}  {o.name:<{width}}  {o.role.value:<12}  {status:<11}  {secret}")
        return 0
    name = args.name.strip()
    target = find_operator(engine, name)
    if args.op_action == "add":
        problem = check_name(name)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        if target is not None and (target.has_secret or not target.active):
            print(f"error: an operator called {target.name!r} exists already", file=sys.stderr)
            return 1
    elif target is None:
        print(
            f"error: no operator called {name!r} ('db operators list' shows them)",
            file=sys.stderr,
        )
        return 1
    try:
        secret = _ask_secret(name) if args.op_action in ("add", "reset-secret") else ""
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    writer = StoreWriter(engine)
    try:
        if args.op_action == "add":
            request: Any = AddOperator(name, Role(args.role), hash_pin(secret), None, via=VIA)
            done = f"operator {name!r} added as {args.role}"
        elif args.op_action == "reset-secret":
            assert target is not None
            request = SetOperatorSecret(target.id, hash_pin(secret), None, None, via=VIA)
            done = f"secret of {target.name!r} reset; their failed sign-ins cleared"
        elif args.op_action == "set-role":
            assert target is not None
            request = ChangeOperator(target.id, role=Role(args.role), via=VIA)
            done = f"{target.name!r} is now {args.role}"
        else:
            assert target is not None
            active = args.op_action == "activate"
            request = ChangeOperator(target.id, active=active, via=VIA)
            done = f"{target.name!r} {'activated' if active else 'deactivated'}"
        try:
            writer.submit(request).result(30)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(done + " (recorded in the audit trail)")
        return 0
    finally:
        writer.close()
