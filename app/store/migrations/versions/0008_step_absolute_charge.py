"""The total absolute charge of a step beside its net charge.

``session_step.charge_uc`` is the net charge (positive phase + negative phase), which a
charge-balanced waveform brings near zero; ``charge_abs_uc`` is the total absolute charge
(what was actually delivered, both phases). With both, the report gives each phase:
positive = (abs + net) / 2, negative = (net - abs) / 2. Steps recorded before keep NULL.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN only (batch mode on SQLite adds in place): no table is rebuilt
    with op.batch_alter_table("session_step") as batch_op:
        batch_op.add_column(sa.Column("charge_abs_uc", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("session_step") as batch_op:
        batch_op.drop_column("charge_abs_uc")
