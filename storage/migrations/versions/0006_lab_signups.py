"""Lab sign-ups with seats and a waitlist

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lab_seats",
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("session_key", sa.String(length=120), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cohort_id"],
            ["cohorts.id"],
            name=op.f("fk_lab_seats_cohort_id_cohorts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("cohort_id", "session_key", name=op.f("pk_lab_seats")),
    )
    op.create_table(
        "lab_signups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("session_key", sa.String(length=120), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "signed_up", "waiting", "cancelled", name="signupstate", native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cohort_id"],
            ["cohorts.id"],
            name=op.f("fk_lab_signups_cohort_id_cohorts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_lab_signups_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lab_signups")),
        sa.UniqueConstraint(
            "cohort_id", "session_key", "person_id",
            name=op.f("uq_lab_signups_cohort_id_session_key_person_id"),
        ),
    )
    with op.batch_alter_table("lab_signups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lab_signups_cohort_id_session_key_state_created_at"),
            ["cohort_id", "session_key", "state", "created_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("lab_signups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lab_signups_cohort_id_session_key_state_created_at"))
    op.drop_table("lab_signups")
    op.drop_table("lab_seats")
