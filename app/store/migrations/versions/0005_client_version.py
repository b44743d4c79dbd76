"""Optimistic concurrency for client records: a version, and which console changed it.

A save names the version it was edited from; the store refuses it when the record has
been changed since (another room saved first) instead of overwriting that change.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN only (batch mode on SQLite adds in place): no table is rebuilt, so
    # foreign keys (ON) never cascade here. Existing clients start at version 1.
    with op.batch_alter_table("client") as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("updated_by", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("client") as batch_op:
        batch_op.drop_column("updated_by")
        batch_op.drop_column("version")
