"""Files offered in Teams, waiting for the person's consent

Revision ID: 0026
Revises: 0023
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "offered_files",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.String(length=100), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offered_files")),
    )
    op.create_index(
        op.f("ix_offered_files_offered_at"), "offered_files", ["offered_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_offered_files_offered_at"), table_name="offered_files")
    op.drop_table("offered_files")
