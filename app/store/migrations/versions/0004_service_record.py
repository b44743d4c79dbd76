"""Service records: calibrations, self-tests and watchdog tests of a device, with results.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a new table only: nothing existing is rebuilt
    op.create_table(
        "service_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("device_serial", sa.String(length=80), nullable=False),
        sa.Column("firmware", sa.String(length=80), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('calibration', 'selftest', 'watchdog_test')",
            name=op.f("ck_service_record_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operator.id"], name=op.f("fk_service_record_operator_id_operator")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_record")),
    )
    op.create_index(op.f("ix_service_record_at"), "service_record", ["at"])
    op.create_index(op.f("ix_service_record_device_serial"), "service_record", ["device_serial"])


def downgrade() -> None:
    op.drop_index(op.f("ix_service_record_device_serial"), table_name="service_record")
    op.drop_index(op.f("ix_service_record_at"), table_name="service_record")
    op.drop_table("service_record")
