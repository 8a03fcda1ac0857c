"""Evaluation where it belongs and local meetings per organisation: survey keys long
enough for a lab session's (`lab:<lab>@<start>`), and a calendar entry's organisation and
host (an organisation's own opening or closing meeting)

Revision ID: 0029
Revises: 0030
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("survey_windows", "survey_answers"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                "survey_key",
                existing_type=sa.String(length=40),
                type_=sa.String(length=100),
                existing_nullable=False,
            )
    with op.batch_alter_table("calendar_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organisation", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("host", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calendar_entries", schema=None) as batch_op:
        batch_op.drop_column("host")
        batch_op.drop_column("organisation")
    for table in ("survey_answers", "survey_windows"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                "survey_key",
                existing_type=sa.String(length=100),
                type_=sa.String(length=40),
                existing_nullable=False,
            )
