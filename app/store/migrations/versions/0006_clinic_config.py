"""Clinic settings, the technician PIN hash and its lockout in the store (shared by rooms).

A new one-row table ``clinic_config``; service records gain the kinds
``clinic_settings`` and ``pin`` (their changes are listed in the bench's history).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('calibration', 'selftest', 'watchdog_test')"
NEW_KINDS = "kind IN ('calibration', 'selftest', 'watchdog_test', 'clinic_settings', 'pin')"


def upgrade() -> None:
    op.create_table(
        "clinic_config",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=255), nullable=True),
        sa.Column("pin_hash", sa.String(length=255), nullable=True),
        sa.Column("pin_ever_set", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("pin_failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("pin_version", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinic_config")),
    )
    # the kind check names the new kinds: on SQLite batch mode rebuilds service_record
    # (no table refers to it, so no foreign key cascades); the whole upgrade is one
    # transaction (database.upgrade_to_head)
    with op.batch_alter_table("service_record") as batch_op:
        batch_op.drop_constraint(op.f("ck_service_record_kind"), type_="check")
        batch_op.create_check_constraint("kind", NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM service_record WHERE kind IN ('clinic_settings', 'pin')")
    with op.batch_alter_table("service_record") as batch_op:
        batch_op.drop_constraint(op.f("ck_service_record_kind"), type_="check")
        batch_op.create_check_constraint("kind", OLD_KINDS)
    op.drop_table("clinic_config")
