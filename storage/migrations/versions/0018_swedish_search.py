"""Bank search: one Swedish analyser in Python feeds both databases; every bank re-indexed

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05

SQLite's FTS5 table gets the analyser's three kinds of terms as columns (form, base,
part); PostgreSQL's generated 'swedish' tsvector becomes a plain one that the
application fills with the same terms (storage/search.py). Every existing reflection is
re-indexed here, and marked with the analyser's version, so a later version re-indexes
in the background instead (storage/reflections.py, reindex_in_background).
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
FTS5_TOKENIZER = "tokenize = \"unicode61 remove_diacritics 0 tokenchars '-'\""


def upgrade() -> None:
    from storage.search import ANALYSER_VERSION, sqlite_columns, tsvector_literal

    bind = op.get_bind()
    op.add_column(
        "reflections",
        sa.Column("search_version", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        op.execute("DROP TABLE reflection_search")
        op.execute(f"CREATE VIRTUAL TABLE reflection_search USING fts5(form, base, part, {FTS5_TOKENIZER})")
    else:
        op.execute("ALTER TABLE reflections DROP COLUMN search_vector")  # and its index
        op.execute("ALTER TABLE reflections ADD COLUMN search_vector tsvector")
    last = 0
    while True:
        rows = bind.execute(
            sa.text("SELECT id, body FROM reflections WHERE id > :last ORDER BY id LIMIT :n"),
            {"last": last, "n": BATCH},
        ).all()
        if not rows:
            break
        if sqlite:
            bind.execute(
                sa.text(
                    "INSERT INTO reflection_search(rowid, form, base, part) "
                    "VALUES (:id, :form, :base, :part)"
                ),
                [dict(zip(("form", "base", "part"), sqlite_columns(body)), id=id) for id, body in rows],
            )
            bind.execute(
                sa.text("UPDATE reflections SET search_version = :v WHERE id BETWEEN :a AND :b"),
                {"v": ANALYSER_VERSION, "a": rows[0][0], "b": rows[-1][0]},
            )
        else:
            bind.execute(
                sa.text(
                    "UPDATE reflections SET search_vector = CAST(:vector AS tsvector), "
                    "search_version = :v WHERE id = :id"
                ),
                [{"id": id, "vector": tsvector_literal(body), "v": ANALYSER_VERSION} for id, body in rows],
            )
        last = rows[-1][0]
    if not sqlite:
        # Built after the fill: one pass over the table instead of an update per entry.
        op.execute(
            "CREATE INDEX ix_reflections_search_vector ON reflections USING gin (search_vector)"
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        import Stemmer

        stemmer = Stemmer.Stemmer("swedish")
        op.execute("DROP TABLE reflection_search")
        op.execute(
            "CREATE VIRTUAL TABLE reflection_search USING fts5("
            "stems, tokenize = 'unicode61 remove_diacritics 0')"
        )
        words = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
        rows = bind.execute(sa.text("SELECT id, body FROM reflections")).all()
        if rows:
            bind.execute(
                sa.text("INSERT INTO reflection_search(rowid, stems) VALUES (:id, :stems)"),
                [
                    {"id": id, "stems": " ".join(stemmer.stemWords(w.lower() for w in words.findall(body)))}
                    for id, body in rows
                ],
            )
    else:
        op.execute("ALTER TABLE reflections DROP COLUMN search_vector")
        op.execute(
            "ALTER TABLE reflections ADD COLUMN search_vector tsvector "
            "GENERATED ALWAYS AS (to_tsvector('swedish', body)) STORED"
        )
        op.execute(
            "CREATE INDEX ix_reflections_search_vector ON reflections USING gin (search_vector)"
        )
    with op.batch_alter_table("reflections") as batch_op:
        batch_op.drop_column("search_version")
