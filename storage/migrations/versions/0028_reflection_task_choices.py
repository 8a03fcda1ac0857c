"""Reflection tasks as in the programme: each participant's choice of a colleague or their
learning buddy per theme, and when "what we found" was handed in

Revision ID: 0028
Revises: 0023
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reflection_task_choices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("theme_number", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("form", sa.String(length=20), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("partner_name", sa.String(length=200), nullable=True),
        sa.Column("chosen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finding_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["cohort_id"],
            ["cohorts.id"],
            name=op.f("fk_reflection_task_choices_cohort_id_cohorts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_reflection_task_choices_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["people.id"],
            name=op.f("fk_reflection_task_choices_partner_id_people"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["reflections.id"],
            name=op.f("fk_reflection_task_choices_finding_id_reflections"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reflection_task_choices")),
        sa.UniqueConstraint(
            "cohort_id",
            "theme_number",
            "person_id",
            name=op.f("uq_reflection_task_choices_cohort_id_theme_number_person_id"),
        ),
    )
    op.create_index(
        op.f("ix_reflection_task_choices_person_id"),
        "reflection_task_choices",
        ["person_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_reflection_task_choices_partner_id"),
        "reflection_task_choices",
        ["partner_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_reflection_task_choices_partner_id"), table_name="reflection_task_choices"
    )
    op.drop_index(
        op.f("ix_reflection_task_choices_person_id"), table_name="reflection_task_choices"
    )
    op.drop_table("reflection_task_choices")
