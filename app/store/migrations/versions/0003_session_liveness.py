"""Session liveness: which console process writes an open session, and its heartbeat.

Lets a console sharing a PostgreSQL database with other rooms tell a session that is
still being recorded elsewhere from one whose console crashed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN only: no table is rebuilt, so foreign keys (ON) never cascade here.
    with op.batch_alter_table("treatment_session") as batch_op:
        batch_op.add_column(sa.Column("writer_host", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("writer_pid", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("treatment_session") as batch_op:
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("writer_pid")
        batch_op.drop_column("writer_host")
