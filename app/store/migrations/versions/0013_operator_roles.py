"""Operators with a role, a hashed secret and a lockout count; never deleted.

``operator`` gains ``role`` (practitioner, trainer, technician, manager), ``secret_hash``
(salted scrypt, app/service/pin.py), ``secret_failures`` (wrong secrets in a row),
``secret_version`` and ``active``. Existing operators (the default "Practitioner") keep
their id and records, as practitioners without a secret (a manager sets one).

A technician PIN already set in the clinic row becomes the secret of a new operator
"Technician" (role technician): whoever knew the bench PIN still opens the bench, now by
signing in. The clinic row's PIN columns stay (a downgrade keeps them).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN only (batch mode on SQLite adds in place): no table is rebuilt
    with op.batch_alter_table("operator") as batch_op:
        batch_op.add_column(
            sa.Column("role", sa.String(20), nullable=False, server_default="practitioner")
        )
        batch_op.add_column(sa.Column("secret_hash", sa.String(255), nullable=True))
        batch_op.add_column(
            sa.Column("secret_failures", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("secret_version", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("active", sa.Boolean(), nullable=False, server_default="1"))
    conn = op.get_bind()
    pin = conn.execute(sa.text("SELECT pin_hash FROM clinic_config WHERE id = 1")).scalar()
    if pin:
        names = set(conn.execute(sa.text("SELECT name FROM operator")).scalars())
        name = "Technician" if "Technician" not in names else "Technician (bench PIN)"
        conn.execute(
            sa.text(
                "INSERT INTO operator (name, created_at, role, secret_hash, secret_failures, "
                "secret_version, active) VALUES (:name, :at, 'technician', :hash, 0, 1, :on)"
            ),
            {
                "name": name,
                "at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
                "hash": pin,
                "on": True,
            },
        )


def downgrade() -> None:
    with op.batch_alter_table("operator") as batch_op:
        batch_op.drop_column("active")
        batch_op.drop_column("secret_version")
        batch_op.drop_column("secret_failures")
        batch_op.drop_column("secret_hash")
        batch_op.drop_column("role")
