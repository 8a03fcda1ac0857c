"""Gatherings: attendance at workshops, local meetings and events; events in the calendar
with their own title and an optional registration with seats

Revision ID: 0023
Revises: 0018
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _cohort_and_person(table: str) -> list[sa.ForeignKeyConstraint]:
    return [
        sa.ForeignKeyConstraint(
            ["cohort_id"],
            ["cohorts.id"],
            name=op.f(f"fk_{table}_cohort_id_cohorts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f(f"fk_{table}_person_id_people"),
            ondelete="CASCADE",
        ),
    ]


def upgrade() -> None:
    with op.batch_alter_table("calendar_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("title", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("capacity", sa.Integer(), nullable=True))
    op.create_table(
        "gatherings",
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("entry_key", sa.String(length=60), nullable=False),
        sa.Column("self_marking", sa.Boolean(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cohort_id"],
            ["cohorts.id"],
            name=op.f("fk_gatherings_cohort_id_cohorts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("cohort_id", "entry_key", name=op.f("pk_gatherings")),
    )
    op.create_table(
        "attendance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("entry_key", sa.String(length=60), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("present", sa.Boolean(), nullable=False),
        sa.Column("by_self", sa.Boolean(), nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        *_cohort_and_person("attendance"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance")),
        sa.UniqueConstraint(
            "cohort_id",
            "entry_key",
            "person_id",
            name=op.f("uq_attendance_cohort_id_entry_key_person_id"),
        ),
    )
    op.create_index(op.f("ix_attendance_person_id"), "attendance", ["person_id"], unique=False)
    op.create_table(
        "event_registrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("entry_key", sa.String(length=60), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        *_cohort_and_person("event_registrations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_registrations")),
        sa.UniqueConstraint(
            "cohort_id",
            "entry_key",
            "person_id",
            name=op.f("uq_event_registrations_cohort_id_entry_key_person_id"),
        ),
    )
    op.create_index(
        op.f("ix_event_registrations_person_id"),
        "event_registrations",
        ["person_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_event_registrations_person_id"), table_name="event_registrations")
    op.drop_table("event_registrations")
    op.drop_index(op.f("ix_attendance_person_id"), table_name="attendance")
    op.drop_table("attendance")
    op.drop_table("gatherings")
    with op.batch_alter_table("calendar_entries", schema=None) as batch_op:
        batch_op.drop_column("capacity")
        batch_op.drop_column("title")
