"""A cohort's channels on other platforms, and its theme posts there

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cohort_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("workspace", sa.String(length=100), nullable=False),
        sa.Column("conversation_id", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["cohort_id"],
            ["cohorts.id"],
            name=op.f("fk_cohort_channels_cohort_id_cohorts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cohort_channels")),
        sa.UniqueConstraint(
            "platform",
            "workspace",
            "conversation_id",
            name=op.f("uq_cohort_channels_platform_workspace_conversation_id"),
        ),
    )
    op.create_index(
        op.f("ix_cohort_channels_cohort_id"), "cohort_channels", ["cohort_id"], unique=False
    )
    op.create_table(
        "theme_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["cohort_channels.id"],
            name=op.f("fk_theme_posts_channel_id_cohort_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["theme_runs.id"],
            name=op.f("fk_theme_posts_run_id_theme_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_theme_posts")),
        sa.UniqueConstraint("run_id", "channel_id", name=op.f("uq_theme_posts_run_id_channel_id")),
    )
    op.create_index(op.f("ix_theme_posts_message_id"), "theme_posts", ["message_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_theme_posts_message_id"), table_name="theme_posts")
    op.drop_table("theme_posts")
    op.drop_index(op.f("ix_cohort_channels_cohort_id"), table_name="cohort_channels")
    op.drop_table("cohort_channels")
