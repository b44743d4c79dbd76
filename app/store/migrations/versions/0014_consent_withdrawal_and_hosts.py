"""A consent can be withdrawn: ``consent`` gains ``withdrawn``; screenings and consents
name the computer that saved them: ``host`` on both.

A withdrawal is a row of its own (consents stay immutable and append-only): the client's
newest consent row with ``withdrawn`` true, naming the text version withdrawn, when
(``given_at``) and by which operator it was recorded, with no text or signature. The
client then has no consent in force until a new one is signed. Existing rows are
consents given (false). ``host`` (the console's computer, as ``client.updated_by``) lets a
form whose save is refused say where the newer screening or consent was saved; NULL for
rows saved before.

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
        batch_op.add_column(sa.Column("host", sa.String(255), nullable=True))
    with op.batch_alter_table("screening") as batch_op:
        batch_op.add_column(sa.Column("host", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("screening") as batch_op:
        batch_op.drop_column("host")
    with op.batch_alter_table("consent") as batch_op:
        batch_op.drop_column("host")
        batch_op.drop_column("withdrawn")
