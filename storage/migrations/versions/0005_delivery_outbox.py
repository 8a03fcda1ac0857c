"""The delivery outbox, and each person's nudge preferences

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES = ("pending", "sending", "sent", "skipped", "failed")


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("theme_number", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("about_person_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("relevant_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "state",
            sa.Enum(*STATES, name="deliverystate", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("maybe_sent", sa.Boolean(), nullable=False),
        sa.Column("conversation_id", sa.String(length=200), nullable=True),
        sa.Column("message_id", sa.String(length=200), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cohort_id"],
            ["cohorts.id"],
            name=op.f("fk_deliveries_cohort_id_cohorts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_deliveries_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["about_person_id"],
            ["people.id"],
            name=op.f("fk_deliveries_about_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("key", name=op.f("uq_deliveries_key")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deliveries_state_due_at"), ["state", "due_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_deliveries_person_id_sent_at"), ["person_id", "sent_at"], unique=False
        )
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("working_hours", sa.String(length=40), nullable=True))
        batch_op.add_column(
            sa.Column("nudges_snoozed_until", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("muted_nudges", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("nudges_paused_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("nudges_paused_at")
        batch_op.drop_column("muted_nudges")
        batch_op.drop_column("nudges_snoozed_until")
        batch_op.drop_column("working_hours")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_person_id_sent_at"))
        batch_op.drop_index(batch_op.f("ix_deliveries_state_due_at"))
    op.drop_table("deliveries")
