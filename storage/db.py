"""Engine creation and the few places where SQLite and PostgreSQL differ."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.sql.dml import Insert

SQLITE_BUSY_TIMEOUT_MS = 5000


def normalise_url(url: str | URL) -> URL:
    """Accept the URLs people paste (postgresql://, sqlite:///) and pick our async drivers."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.drivername != "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend in ("postgresql", "postgres") and parsed.drivername != "postgresql+asyncpg":
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed


def create_engine(url: str | URL, **kwargs: Any) -> AsyncEngine:
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        # SQLite lets one writer in at a time and makes the others retry with growing
        # sleeps, which is unfair: under a burst some waited past the busy timeout and
        # failed. One pooled connection queues transactions first come, first served.
        kwargs.setdefault("pool_size", 1)
        kwargs.setdefault("max_overflow", 0)
        engine = create_async_engine(parsed, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    # asyncpg prepares every statement; after five runs PostgreSQL may switch a prepared
    # search to a generic plan that cannot see the tsquery and scans every match.
    kwargs.setdefault("connect_args", {"server_settings": {"plan_cache_mode": "force_custom_plan"}})
    return create_async_engine(parsed, **kwargs)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so that every transaction starts
        # with BEGIN IMMEDIATE: a read-then-write transaction that upgrades its lock
        # late fails with SQLITE_BUSY at once, whatever the busy timeout says.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def insert_ignoring_duplicates(session: AsyncSession, table: Any) -> Insert:
    """INSERT … ON CONFLICT DO NOTHING in the session's dialect: the first write wins."""
    name = session.get_bind().dialect.name
    insert = sqlite_insert if name == "sqlite" else postgresql_insert
    return insert(table).on_conflict_do_nothing()


def upsert(session: AsyncSession, table: Any, keys: list[str], columns: list[str]) -> Insert:
    """INSERT … ON CONFLICT (keys) DO UPDATE the columns: the last write wins, atomically."""
    name = session.get_bind().dialect.name
    insert = sqlite_insert if name == "sqlite" else postgresql_insert
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=keys, set_={c: statement.excluded[c] for c in columns}
    )


def backup_sqlite(url: str | URL, target: Path) -> None:
    """A consistent copy of a SQLite database, even while another process writes to it
    (SQLite's online backup copies a snapshot, page by page)."""
    import sqlite3

    parsed = normalise_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        raise ValueError("only a SQLite database file can be copied this way")
    source = sqlite3.connect(f"file:{parsed.database}?mode=ro", uri=True)
    try:
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
    finally:
        source.close()
