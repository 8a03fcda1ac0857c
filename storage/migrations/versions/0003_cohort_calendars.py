"""Cohort calendars: the dated events of a cohort's programme

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("theme_number", sa.Integer(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("place", sa.JSON(), nullable=True),
        sa.Column("link", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["cohort_id"],
            ["cohorts.id"],
            name=op.f("fk_calendar_entries_cohort_id_cohorts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_entries")),
        sa.UniqueConstraint(
            "cohort_id", "key", name=op.f("uq_calendar_entries_cohort_id_key")
        ),
    )
    with op.batch_alter_table("calendar_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_calendar_entries_starts_at"), ["starts_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("calendar_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calendar_entries_starts_at"))
    op.drop_table("calendar_entries")
