"""Run Alembic migrations from code, on the caller's async engine.

Alembic (with Mako and Pygments under it, some 10 MB and a tenth of a second) is imported
only when a migration runs: a server that starts on a database already at `HEAD` reads
the revision with plain SQLAlchemy and never loads it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration's revision, known without asking Alembic. A new migration
# changes it too: tests/test_migrations.py fails until it equals Alembic's head, since
# a database at a stale HEAD would be taken as current and never be migrated.
HEAD = "0031"


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Not for autogenerate: the search index, written by hand in 0001 (FTS5 / tsvector),
    and slack_sdk's OAuth tables, which 0002 creates but our models do not describe."""
    not_ours = (
        "reflection_search",
        "ix_reflections_search",
        "search_vector",
        "search_forms",
        "slack_",
    )
    return not (name or "").startswith(not_ours) and not (
        type_ == "index" and getattr(getattr(obj, "table", None), "name", "").startswith("slack_")
    )


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # env.py runs on this connection instead of opening its own.
    config.attributes["connection"] = connection
    return config


async def _migrate(engine: AsyncEngine, step: Callable[[Connection], None]) -> None:
    """Run migrations in one transaction.

    On SQLite, with foreign keys off for it: a migration that rebuilds a table (a copy,
    DROP, RENAME, as alembic's batch mode does) would otherwise have the DROP delete
    every row that refers to it, by ON DELETE CASCADE. SQLite ignores the pragma inside
    a transaction, so it is set on the driver's connection before the transaction
    begins; the transaction is refused at its end if any reference points nowhere.
    """
    sqlite = engine.dialect.name == "sqlite"
    async with engine.connect() as connection:
        driver = None
        if sqlite:
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            await driver.execute("PRAGMA foreign_keys=OFF")
        try:
            async with connection.begin():
                await connection.run_sync(step)
                if sqlite:
                    broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all()
                    if broken:
                        raise RuntimeError(f"a migration left references to nothing: {broken[:5]}")
        finally:
            if driver is not None:
                await driver.execute("PRAGMA foreign_keys=ON")


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    from alembic import command

    await _migrate(engine, lambda connection: command.upgrade(alembic_config(connection), revision))


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    from alembic import command

    await _migrate(
        engine, lambda connection: command.downgrade(alembic_config(connection), revision)
    )


async def revisions(engine: AsyncEngine) -> tuple[str, ...]:
    """The revisions the database records itself at (Alembic's table, read without
    Alembic): none for an empty database."""

    def read(connection: Connection) -> tuple[str, ...]:
        if not inspect(connection).has_table("alembic_version"):
            return ()
        rows = connection.execute(text("SELECT version_num FROM alembic_version"))
        return tuple(sorted(row[0] for row in rows))

    async with engine.connect() as connection:
        return await connection.run_sync(read)


async def is_current(engine: AsyncEngine) -> bool:
    return await revisions(engine) == (HEAD,)


async def bring_up_to_date(engine: AsyncEngine) -> bool:
    """Bring the database to the newest revision unless it is there already; whether it
    changed. An empty database is made from the schema's snapshot at HEAD, without
    Alembic; any other migrates. A database at a revision this code does not know (newer
    code ran on it) goes to Alembic too, which refuses it as `upgrade` always has."""
    # Here, not at the top: the snapshot's writer migrates a scratch database with this
    # module.
    from storage import snapshot

    found = await revisions(engine)
    if found == (HEAD,):
        return False
    if not found and await snapshot.create_if_empty(engine):
        return True
    await upgrade(engine)
    return True
