"""Signed and locked records: a session's signature, its amendments, and the consent
signed on screen with the exact text signed.

Two new tables (``session_signature``: one per signed session; ``amendment``: dated
corrections of a signed session) and four nullable columns of ``consent`` (the text
snapshot and the signature); consents recorded before keep NULL there. ADD COLUMN and
CREATE TABLE only: no table is rebuilt and no existing row is touched.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_signature",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("printed_name", sa.String(length=200), nullable=False),
        sa.Column("meaning", sa.String(length=40), nullable=False),
        sa.Column("signed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operator.id"],
            name=op.f("fk_session_signature_operator_id_operator"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["treatment_session.id"],
            name=op.f("fk_session_signature_session_id_treatment_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_signature")),
        sa.UniqueConstraint("session_id", name=op.f("uq_session_signature_session_id")),
    )
    op.create_table(
        "amendment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("made_at", sa.DateTime(), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operator.id"], name=op.f("fk_amendment_operator_id_operator")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["treatment_session.id"],
            name=op.f("fk_amendment_session_id_treatment_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_amendment")),
    )
    with op.batch_alter_table("amendment") as batch_op:
        batch_op.create_index(batch_op.f("ix_amendment_session_id"), ["session_id"], unique=False)
    # ADD COLUMN only (batch mode on SQLite adds in place): the consent table is not rebuilt
    with op.batch_alter_table("consent") as batch_op:
        batch_op.add_column(sa.Column("text_snapshot", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("signature_kind", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("signature", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("signed_name", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("consent") as batch_op:
        batch_op.drop_column("signed_name")
        batch_op.drop_column("signature")
        batch_op.drop_column("signature_kind")
        batch_op.drop_column("text_snapshot")
    with op.batch_alter_table("amendment") as batch_op:
        batch_op.drop_index(batch_op.f("ix_amendment_session_id"))
    op.drop_table("amendment")
    op.drop_table("session_signature")
