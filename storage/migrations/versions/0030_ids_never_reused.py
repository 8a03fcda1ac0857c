"""Numbers are never given again (SQLite); PostgreSQL's search in two tsvectors

SQLite: people, reflections and audit entries get AUTOINCREMENT.

SQLite gives a new row the highest id in use plus one, so after the newest person or
reflection is deleted the next one gets its number, and the audit log's "about #12" then
names someone else. AUTOINCREMENT makes SQLite remember the highest id ever given
(sqlite_sequence). SQLite can add it only by building the table anew: alembic's batch
mode copies the rows over, ids as they are (which also starts sqlite_sequence at the
highest of them), with foreign keys off for the rebuild (storage/migrate.py).
PostgreSQL's sequences never give a number twice already.

PostgreSQL: the bank's search gets a second tsvector, `search_forms` (the words as
written, for ranking only), beside `search_vector`, which now holds only bases and
parts, without positions (storage/search.py says why). `search_vector` is kept in the
row uncompressed where it fits (STORAGE MAIN: the body is compressed first), so that
testing a row is cheap. Every reflection is indexed anew, in batches, as 0018 did.

Revision ID: 0030
Revises: 0023
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("people", "reflections", "audit_log")
REFUSE = "the audit log is append-only"  # as 0015 says it
BATCH = 1000


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
    if op.get_bind().dialect.name != "sqlite":
        op.execute("ALTER TABLE reflections ADD COLUMN search_forms tsvector")
        op.execute("ALTER TABLE reflections ALTER COLUMN search_vector SET STORAGE MAIN")
        _reindex()


def _reindex() -> None:
    """Both tsvectors of every reflection, as 0018 wrote the first: in batches."""
    from storage.search import ANALYSER_VERSION, forms_literal, tsvector_literal

    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(
            sa.text("SELECT id, body FROM reflections WHERE id > :last ORDER BY id LIMIT :n"),
            {"last": last, "n": BATCH},
        ).all()
        if not rows:
            break
        bind.execute(
            sa.text(
                "UPDATE reflections SET search_vector = CAST(:vector AS tsvector), "
                "search_forms = CAST(:forms AS tsvector), search_version = :v WHERE id = :id"
            ),
            [
                {
                    "id": id_,
                    "vector": tsvector_literal(body),
                    "forms": forms_literal(body),
                    "v": ANALYSER_VERSION,
                }
                for id_, body in rows
            ],
        )
        last = rows[-1][0]


def downgrade() -> None:
    _rebuild(autoincrement=False)
    if op.get_bind().dialect.name != "sqlite":
        op.execute("ALTER TABLE reflections DROP COLUMN search_forms")
        op.execute("ALTER TABLE reflections ALTER COLUMN search_vector SET STORAGE EXTENDED")
        op.execute("UPDATE reflections SET search_version = 0")
