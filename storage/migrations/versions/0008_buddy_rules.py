"""Facilitators' pinned and forbidden buddy pairs

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "buddy_rules",
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("first_id", sa.Integer(), nullable=False),
        sa.Column("second_id", sa.Integer(), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cohort_id"],
            ["cohorts.id"],
            name=op.f("fk_buddy_rules_cohort_id_cohorts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["first_id"],
            ["people.id"],
            name=op.f("fk_buddy_rules_first_id_people"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["second_id"],
            ["people.id"],
            name=op.f("fk_buddy_rules_second_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "cohort_id", "first_id", "second_id", name=op.f("pk_buddy_rules")
        ),
    )


def downgrade() -> None:
    op.drop_table("buddy_rules")
