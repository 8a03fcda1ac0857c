"""Run Alembic migrations from code, on the caller's async engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Not for autogenerate: the search index, written by hand in 0001 (FTS5 / tsvector),
    and slack_sdk's OAuth tables, which 0002 creates but our models do not describe."""
    not_ours = ("reflection_search", "ix_reflections_search", "search_vector", "slack_")
    return not (name or "").startswith(not_ours) and not (
        type_ == "index" and getattr(getattr(obj, "table", None), "name", "").startswith("slack_")
    )


def alembic_config(connection: Connection | None = None) -> Config:
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
    await _migrate(engine, lambda connection: command.upgrade(alembic_config(connection), revision))


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    await _migrate(
        engine, lambda connection: command.downgrade(alembic_config(connection), revision)
    )


async def is_current(engine: AsyncEngine) -> bool:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()

    def current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(current) == head
