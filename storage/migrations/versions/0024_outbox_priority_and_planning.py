"""Outbox: priority, the step a row belongs to, its trouble; planned steps; outages

Revision ID: 0024
Revises: 0028
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="2"))
        batch.add_column(sa.Column("step", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("trouble", sa.String(length=30), nullable=True))
        batch.add_column(sa.Column("trouble_since", sa.DateTime(timezone=True), nullable=True))
    # Rows already there: channel posts first, as new ones are.
    op.execute("UPDATE deliveries SET priority = 0 WHERE person_id IS NULL")
    op.create_index(
        op.f("ix_deliveries_state_priority_due_at"),
        "deliveries",
        ["state", "priority", "due_at"],
    )
    op.create_index(op.f("ix_deliveries_cohort_id_step"), "deliveries", ["cohort_id", "step"])
    op.create_table(
        "planned_steps",
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=200), nullable=False),
        sa.Column("mark", sa.String(length=200), nullable=False),
        sa.Column("planned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cohort_id"],
            ["cohorts.id"],
            name=op.f("fk_planned_steps_cohort_id_cohorts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("cohort_id", "step", name=op.f("pk_planned_steps")),
    )
    op.create_table(
        "delivery_outages",
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("trouble", sa.String(length=30), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("noticed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recovered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["cohort_id"],
            ["cohorts.id"],
            name=op.f("fk_delivery_outages_cohort_id_cohorts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("cohort_id", "step", name=op.f("pk_delivery_outages")),
    )


def downgrade() -> None:
    op.drop_table("delivery_outages")
    op.drop_table("planned_steps")
    op.drop_index(op.f("ix_deliveries_cohort_id_step"), table_name="deliveries")
    op.drop_index(op.f("ix_deliveries_state_priority_due_at"), table_name="deliveries")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("trouble_since")
        batch.drop_column("trouble")
        batch.drop_column("step")
        batch.drop_column("priority")
