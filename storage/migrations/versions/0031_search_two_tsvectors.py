"""PostgreSQL's bank search in two tsvectors

The bank's search gets a second tsvector, `search_forms` (the words as written, for
ranking only), beside `search_vector`, which now holds only bases and compound parts,
without positions (storage/search.py says why). `search_vector` is kept in the row
uncompressed where it fits (STORAGE MAIN: the body is compressed first), so that testing
a row is cheap. Every reflection is indexed anew, in batches, as 0018 did. SQLite's
index does not change.

Revision ID: 0031
Revises: 0024
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
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
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute("ALTER TABLE reflections DROP COLUMN search_forms")
    op.execute("ALTER TABLE reflections ALTER COLUMN search_vector SET STORAGE EXTENDED")
    # What the earlier analyser wrote: the background re-index writes it again.
    op.execute("UPDATE reflections SET search_version = 0")
