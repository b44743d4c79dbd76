"""A consent can be withdrawn: ``consent`` gains ``withdrawn``.

A withdrawal is a row of its own (consents stay immutable and append-only): the client's
newest consent row with ``withdrawn`` true, naming the text version withdrawn, when
(``given_at``) and by which operator it was recorded, with no text or signature. The
client then has no consent in force until a new one is signed. Existing rows are
consents given (false).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN only (batch mode on SQLite adds in place): no table is rebuilt
    with op.batch_alter_table("consent") as batch_op:
        batch_op.add_column(
            sa.Column("withdrawn", sa.Boolean(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("consent") as batch_op:
        batch_op.drop_column("withdrawn")
