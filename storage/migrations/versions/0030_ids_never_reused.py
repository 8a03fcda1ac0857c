"""Numbers are never given again: people, reflections and audit entries on SQLite

SQLite gives a new row the highest id in use plus one, so after the newest person or
reflection is deleted the next one gets its number, and the audit log's "about #12" then
names someone else. AUTOINCREMENT makes SQLite remember the highest id ever given
(sqlite_sequence). SQLite can add it only by building the table anew: alembic's batch
mode copies the rows over, ids as they are (which also starts sqlite_sequence at the
highest of them), with foreign keys off for the rebuild (storage/migrate.py).
PostgreSQL's sequences never give a number twice already: nothing to do there.

Revision ID: 0030
Revises: 0023
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0030"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("people", "reflections", "audit_log")
REFUSE = "the audit log is append-only"  # as 0015 says it


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass
    # Dropping the old audit_log dropped its triggers (0015): the new one refuses again.
    for verb in ("UPDATE", "DELETE"):
        op.execute(f"DROP TRIGGER IF EXISTS audit_log_no_{verb.lower()}")
        op.execute(
            f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
            f"BEGIN SELECT RAISE(ABORT, '{REFUSE}'); END"
        )


def upgrade() -> None:
    _rebuild(autoincrement=True)


def downgrade() -> None:
    _rebuild(autoincrement=False)
