"""Learning buddies: groups per theme, who said "we met", and opting out

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "buddy_rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("theme_number", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cohort_id"],
            ["cohorts.id"],
            name=op.f("fk_buddy_rounds_cohort_id_cohorts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buddy_rounds")),
        sa.UniqueConstraint(
            "cohort_id", "theme_number", name=op.f("uq_buddy_rounds_cohort_id_theme_number")
        ),
    )
    op.create_table(
        "buddy_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["buddy_rounds.id"],
            name=op.f("fk_buddy_groups_round_id_buddy_rounds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buddy_groups")),
    )
    with op.batch_alter_table("buddy_groups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_buddy_groups_round_id"), ["round_id"], unique=False
        )
    op.create_table(
        "buddy_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("met_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["buddy_groups.id"],
            name=op.f("fk_buddy_members_group_id_buddy_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_buddy_members_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buddy_members")),
        sa.UniqueConstraint(
            "group_id", "person_id", name=op.f("uq_buddy_members_group_id_person_id")
        ),
    )
    with op.batch_alter_table("buddy_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_buddy_members_person_id"), ["person_id"], unique=False
        )
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("buddy_opt_out", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_column("buddy_opt_out")
    with op.batch_alter_table("buddy_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_buddy_members_person_id"))
    op.drop_table("buddy_members")
    with op.batch_alter_table("buddy_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_buddy_groups_round_id"))
    op.drop_table("buddy_groups")
    op.drop_table("buddy_rounds")
