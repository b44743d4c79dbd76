"""`python -m app db upgrade|backup PATH|export-client ID PATH|erase-client ID|reset-pin|
audit-verify|audit-export PATH|operators …`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def manager_option(q: argparse.ArgumentParser) -> None:
    from app.commands.db_operators import SECRET_ENV

    q.add_argument(
        "--operator",
        metavar="NAME",
        help="the manager who does it (default $MICROCURRENT_OPERATOR); their secret is "
        f"asked, or taken from ${SECRET_ENV}. Needed once a manager can sign in",
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "db",
        help="maintain the records database (migrate, back up, export, "
        "erase a client, reset the technician PIN, verify or export the "
        "audit trail, list or change the operators)",
        description="Maintain the records database. Every action accepts "
        "--database-url (default: $MICROCURRENT_DATABASE_URL, else the local "
        "SQLite file).",
    )
    actions = p.add_subparsers(dest="db_action", metavar="ACTION", required=True)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument(
            "--database-url",
            dest="db_url",
            metavar="URL",
            help="sqlite:///PATH or postgresql+psycopg://USER@HOST/DB",
        )

    q = actions.add_parser("upgrade", help="apply the schema migrations (also done at start-up)")
    common(q)
    q = actions.add_parser("backup", help="consistent online copy of the database to PATH")
    q.add_argument("path", type=Path, metavar="PATH")
    common(q)
    q = actions.add_parser(
        "export-client",
        help="everything about one client as a ZIP (client.json + recordings as CSV)",
    )
    q.add_argument("client_id", type=int, metavar="ID")
    q.add_argument("path", type=Path, metavar="PATH")
    common(q)
    q = actions.add_parser(
        "erase-client",
        help="right to erasure: delete every record and "
        "recording of a client, leaving no trace in the database file",
    )
    q.add_argument("client_id", type=int, metavar="ID")
    q.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    manager_option(q)
    common(q)
    q = actions.add_parser(
        "reset-pin",
        help="forget the clinic-wide technician PIN of an older console (recorded as a "
        "service record); the bench now opens for a technician or manager signed in: "
        "see 'db operators reset-secret'",
    )
    q.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    q.add_argument(
        "--by",
        default="",
        metavar="NAME",
        help="who resets it (kept in the service record; default: this host)",
    )
    common(q)
    q = actions.add_parser(
        "audit-verify",
        help="check the audit trail's hash chain; names the first broken entry (exit status 1)",
    )
    common(q)
    q = actions.add_parser(
        "audit-export", help="the audit trail as CSV to PATH (readable by its owner only)"
    )
    q.add_argument("path", type=Path, metavar="PATH")
    manager_option(q)
    common(q)
    from app.commands import db_operators

    db_operators.register(actions, common)
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    # Imported here: SQLAlchemy/Alembic are only needed by this command.
    from app.store import audit, maintenance
    from app.store.database import StoreError, open_store

    db_url = getattr(args, "db_url", None) or getattr(args, "database_url", None)
    try:
        if args.db_action == "backup":
            # a copy of the database as it is: not migrated, nothing written (so a database
            # of a newer console's schema can be backed up too)
            engine, info = maintenance.open_for_backup(db_url), None
        else:
            engine, info = open_store(db_url)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    try:
        if args.db_action == "operators":
            from app.commands import db_operators

            return db_operators.run(args, engine)
        if args.db_action == "upgrade":
            assert info is not None
            print(
                f"{info.url}: schema at revision {info.revision}"
                + (
                    f"; {info.interrupted_sessions} unfinished session(s) marked interrupted"
                    if info.interrupted_sessions
                    else ""
                )
            )
        elif args.db_action == "backup":
            dest = maintenance.backup(engine, args.path)
            print(f"backup written to {dest}")
        elif args.db_action == "export-client":
            dest = maintenance.export_client(engine, args.client_id, args.path)
            audit.record(
                engine,
                "export",
                audit.client_subject(args.client_id),
                {"format": "zip", "via": "db export-client"},
                operator_id=info.default_operator_id if info else None,
            )
            print(f"client {args.client_id} exported to {dest}")
        elif args.db_action == "erase-client":
            from app.commands.db_operators import authorize_manager

            manager_id, refusal = authorize_manager(engine, args.operator, "erase a client")
            if refusal:
                print(f"error: {refusal}", file=sys.stderr, flush=True)
                return 1
            if not args.yes:
                if not sys.stdin.isatty():
                    print(
                        "error: erase-client deletes records for good: add --yes to confirm",
                        file=sys.stderr,
                    )
                    return 2
                answer = input(
                    f"Erase client {args.client_id} and all their records for "
                    "good? Type 'erase' to confirm: "
                )
                if answer.strip() != "erase":
                    print("nothing erased")
                    return 1
            counts = maintenance.erase_client(engine, args.client_id)
            audit.record(
                engine,
                "erase",
                audit.client_subject(args.client_id),
                {"rows": {k: v for k, v in counts.items() if v}, "via": "db erase-client"},
                operator_id=manager_id if manager_id is not None else info.default_operator_id,
            )
            total = sum(counts.values())
            print(
                f"client {args.client_id} erased ({total} rows: "
                + ", ".join(f"{k} {v}" for k, v in counts.items() if v)
                + ")"
            )
        elif args.db_action == "reset-pin":
            if not args.yes:
                if not sys.stdin.isatty():
                    print(
                        "error: reset-pin lets the next person at the bench choose a new "
                        "technician PIN: add --yes to confirm",
                        file=sys.stderr,
                    )
                    return 2
                answer = input(
                    "Forget the technician PIN, so that the next person to open "
                    "the bench sets a new one? Type 'reset' to confirm: "
                )
                if answer.strip() != "reset":
                    print("nothing changed")
                    return 1
            from app.store.clinic import reset_pin, who

            assert info is not None
            had = reset_pin(
                engine,
                info.default_operator_id,
                f"{args.by} on {who()} (db reset-pin)" if args.by else "",
            )
            audit.record(
                engine,
                "pin_change",
                "clinic",
                {"action": "reset", "via": "db reset-pin"},
                operator_id=info.default_operator_id,
            )
            print(
                ("technician PIN reset" if had else "no technician PIN was set")
                + " (recorded in the service history). The bench opens for a technician "
                "or manager signed in; a forgotten operator's secret is reset with "
                "'db operators reset-secret NAME'"
            )
        elif args.db_action == "audit-verify":
            verdict = audit.verify(engine)
            if not verdict.ok:
                print(
                    f"audit trail BROKEN at entry {verdict.broken_id}: {verdict.reason} "
                    f"({verdict.checked} entries before it are intact)",
                    file=sys.stderr,
                    flush=True,
                )
                return 1
            print(f"audit trail intact: {verdict.checked} entries")
        elif args.db_action == "audit-export":
            from app.commands.db_operators import authorize_manager

            manager_id, refusal = authorize_manager(engine, args.operator, "export the audit trail")
            if refusal:
                print(f"error: {refusal}", file=sys.stderr, flush=True)
                return 1
            try:
                n = audit.export_csv(engine, args.path)
            except FileExistsError:
                print(
                    f"error: {args.path} already exists: choose a new file name",
                    file=sys.stderr,
                    flush=True,
                )
                return 1
            audit.record(
                engine,
                "audit_export",
                "audit",
                {"entries": n, "format": "csv"},
                operator_id=manager_id
                if manager_id is not None
                else (info.default_operator_id if info else None),
            )
            print(f"{n} audit entries written to {args.path}")
        return 0
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    except Exception as exc:  # noqa: BLE001 - a clear message, never a traceback
        from app.store.database import describe_error

        print(f"error: {describe_error(exc, engine.url)}", file=sys.stderr, flush=True)
        return 1
    finally:
        engine.dispose()
