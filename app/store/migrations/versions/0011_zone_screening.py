"""Zone-level screening: the comfortable intensity per client and face-map zone.

The screening's zone answers (filler sites, lesions, metal implants, bruxism) live in
the screening's ``answers`` JSON and their acknowledged overrides in
``overrides_acknowledged``, as every other answer: no column for them. New here is
``zone_comfort``: one row per (client, zone), the intensity the practitioner settled on
when the last step on that zone ended, offered as the starting intensity next time.
Erased with the client (ON DELETE CASCADE, and app.store.maintenance.erase_client).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a new table only: no existing table is rebuilt
    op.create_table(
        "zone_comfort",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("zone", sa.String(length=80), nullable=False),
        sa.Column("intensity_ua", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("session_uid", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["client.id"],
            name=op.f("fk_zone_comfort_client_id_client"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zone_comfort")),
        sa.UniqueConstraint("client_id", "zone", name=op.f("uq_zone_comfort_client_id")),
    )
    op.create_index(op.f("ix_zone_comfort_client_id"), "zone_comfort", ["client_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_zone_comfort_client_id"), table_name="zone_comfort")
    op.drop_table("zone_comfort")
