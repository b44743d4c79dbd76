"""Before/after photos of sessions and treatment courses.

New tables only (nothing rebuilt, no existing row touched), so the upgrade is quick
whatever the size of the records; the whole upgrade is one transaction
(database.upgrade_to_head):

* ``treatment_course``: a client's planned course (program, number of sessions, interval,
  start date), versioned like ``client`` so two rooms cannot overwrite each other;
* ``course_session``: which course a session counts in (one course per session);
* ``session_photo``: a session's before/after photos, re-encoded without EXIF, stored in
  the database like the recordings and erased with the client (ON DELETE CASCADE).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "treatment_course",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("program", sa.String(length=200), nullable=False),
        sa.Column("planned_sessions", sa.Integer(), nullable=False),
        sa.Column("every_days", sa.Integer(), nullable=True),
        sa.Column("per_week", sa.Integer(), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("updated_by", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["client.id"],
            name=op.f("fk_treatment_course_client_id_client"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_treatment_course")),
    )
    with op.batch_alter_table("treatment_course") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_treatment_course_client_id"), ["client_id"], unique=False
        )
    op.create_table(
        "course_session",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["treatment_course.id"],
            name=op.f("fk_course_session_course_id_treatment_course"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["treatment_session.id"],
            name=op.f("fk_course_session_session_id_treatment_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_course_session")),
    )
    with op.batch_alter_table("course_session") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_course_session_course_id"), ["course_id"], unique=False
        )
    op.create_table(
        "session_photo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=10), nullable=False),
        sa.Column("zone", sa.String(length=80), nullable=True),
        sa.Column("taken_at", sa.DateTime(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("thumbnail", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["client.id"],
            name=op.f("fk_session_photo_client_id_client"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operator.id"], name=op.f("fk_session_photo_operator_id_operator")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["treatment_session.id"],
            name=op.f("fk_session_photo_session_id_treatment_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_photo")),
    )
    with op.batch_alter_table("session_photo") as batch_op:
        batch_op.create_index(batch_op.f("ix_session_photo_client_id"), ["client_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_session_photo_session_id"), ["session_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("session_photo") as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_photo_session_id"))
        batch_op.drop_index(batch_op.f("ix_session_photo_client_id"))
    op.drop_table("session_photo")
    with op.batch_alter_table("course_session") as batch_op:
        batch_op.drop_index(batch_op.f("ix_course_session_course_id"))
    op.drop_table("course_session")
    with op.batch_alter_table("treatment_course") as batch_op:
        batch_op.drop_index(batch_op.f("ix_treatment_course_client_id"))
    op.drop_table("treatment_course")
