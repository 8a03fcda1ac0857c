"""An erased person is gone from the disk, not only from the tables: their e-mail, name,
texts and indexed words are in no byte of the SQLite file or its write-ahead log, nor of
any PostgreSQL relation file (read page by page with pageinspect, free space included),
the planner's statistics included.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from handlers.core.programme_file import Programme
from handlers.digilog import Digilog
from storage.unit import Store
from tests.test_personal_data import (
    EMAIL,
    NEEDS,
    POST,
    PRIVATE,
    REPLY,
    SECRET_WORDS,
    USER,
    build_activity,
    person_of,
)


async def raw_bytes(store: Store) -> bytes:
    """Every byte the database keeps of Digilog's data."""
    engine = store.engine
    if engine.dialect.name == "sqlite":
        database = Path(str(make_url(str(engine.url)).database))
        files = [database, database.with_name(database.name + "-wal")]
        return b"".join(f.read_bytes() for f in files if f.exists())
    pages: list[bytes] = []
    async with engine.connect() as connection:
        await connection.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
        relations = await connection.execute(
            text(
                "SELECT c.oid::regclass::text, pg_relation_size(c.oid) / current_setting("
                "'block_size')::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE (n.nspname IN ('public', 'pg_toast') OR c.oid = 'pg_statistic'::regclass)"
                " AND c.relkind IN ('r', 'i', 't', 'm') AND c.relpersistence = 'p'"
            )
        )
        for name, blocks in relations.all():
            for block in range(blocks):
                page = await connection.scalar(
                    text("SELECT get_raw_page(:name, 'main', :block)"),
                    {"name": name, "block": block},
                )
                pages.append(bytes(page))
        await connection.commit()
    return b"".join(pages)


def found_in(data: bytes, needles: list[str]) -> list[str]:
    return [n for n in needles if n.encode() in data]


async def test_an_erased_person_is_in_no_byte_of_the_database(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    chat, _ = await build_activity(store, programme, digilog)
    zelda = await person_of(store, USER)
    name = str(zelda.display_name)
    private = [EMAIL, name, PRIVATE, POST, REPLY, NEEDS, *SECRET_WORDS]
    # The search finds her while she is there (and so would find her bytes after).
    assert found_in(await raw_bytes(store), [EMAIL, PRIVATE]) == [EMAIL, PRIVATE]
    if store.engine.dialect.name != "sqlite":
        # What the autovacuum does when it likes (it made this test fail now and then):
        # statistics sampled from her rows, her e-mail and texts among their values.
        async with store.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("ANALYZE"))
        assert found_in(await raw_bytes(store), [EMAIL]) == [EMAIL]

    preview = await chat.say(USER, "forget")
    done = await chat.click(USER, preview.options[0].action_id)  # everything, texts too
    assert "is erased" in done.text

    assert found_in(await raw_bytes(store), private) == []
    # What was not hers stays readable.
    assert found_in(await raw_bytes(store), ["Björns eget inlägg."])
