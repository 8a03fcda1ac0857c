"""Engine creation and the few places where SQLite and PostgreSQL differ."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import sqlite3
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.sql.dml import Insert
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

if TYPE_CHECKING:
    from sqlalchemy.dialects.postgresql.dml import Insert as PostgresqlInsert
    from sqlalchemy.dialects.sqlite.dml import Insert as SqliteInsert

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 5000

# The execution option of a statement that reads or writes one row through an index (a
# quiz answer, a theme run). On SQLite, inside a transaction (which holds the write lock
# since its BEGIN IMMEDIATE, so the statement waits for no one), it runs in the event
# loop's thread: the hand-over to aiosqlite's thread and back cost two to three times
# such a statement. Not for one that touches many rows (a batch's claim, 50 rows in
# 0.7 ms here) or may take long (a search, a report): in aiosqlite's thread it runs on
# another core while the loop answers requests. Only through an AsyncSession: an
# AsyncConnection's execute insists that something was awaited.
BRIEF = "digilog_brief"


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
    # asyncpg prepares every statement; after five runs PostgreSQL may switch a prepared
    # search to a generic plan that cannot see the tsquery and scans every match.
    kwargs.setdefault("connect_args", {"server_settings": {"plan_cache_mode": "force_custom_plan"}})
    engine = create_async_engine(parsed, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_after_idle(engine)
    return engine


# A connection given back to the pool this recently was alive then: taken again, it is
# used without a ping. In a burst, where connections go round in milliseconds, pinging
# each time (SQLAlchemy's pool_pre_ping: BEGIN, a query, ROLLBACK) cost three round trips
# per transaction and 2–3 % of the event loop.
PING_AFTER_IDLE_SECONDS = 2.0


def _ping_after_idle(engine: AsyncEngine) -> None:
    """Ping a pooled connection before use only after it has been idle: one that died with
    a server restarted meanwhile is replaced before anyone's transaction meets it."""
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkin")  # codespell:ignore checkin
    def _given_back(dbapi_connection: Any, record: Any) -> None:
        record.info["given_back_at"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _taken(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        given_back_at = record.info.get("given_back_at")
        if given_back_at is not None and time.monotonic() - given_back_at < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dbapi_connection.ping()
        except Exception as error:
            # The pool drops this connection and checks out another (up to three tries).
            raise DisconnectionError(f"connection lost while idle: {error}") from error


def _statement_in_one_trip(
    raw: sqlite3.Connection, operation: str, parameters: Any, many: bool
) -> tuple[Any, list[Any], int, int | None]:
    """Run in aiosqlite's thread: the statement, its rows, its counts, the cursor closed."""
    cursor = raw.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class _OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor whose statement goes to aiosqlite's thread and back once.

    SQLAlchemy's adapter makes four trips for each statement (open a cursor, execute,
    fetch, close), each a hand-over between threads and a wake-up of the event loop: in
    a quiz burst they cost more than the SQL. Server-side cursors (streamed results)
    keep the adapter's own."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    async def _async_soft_close(self) -> None:
        return None  # nothing is open: the rows were fetched with the statement

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            return await_(self._one_trip(operation, parameters, many=False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            return await_(self._one_trip(operation, seq_of_parameters, many=True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _one_trip(self, operation: Any, parameters: Any, *, many: bool) -> None:
        connection = self._connection
        async with self._adapt_connection._execute_mutex:
            # aiosqlite's own way into its thread (SQLAlchemy's adapter uses it too).
            found = await connection._execute(
                _statement_in_one_trip, connection._conn, operation, parameters, many
            )
        self._keep(found)

    def run_here(self, operation: Any, parameters: Any, *, many: bool) -> bool:
        """A BRIEF statement, in this thread when its transaction holds the write lock
        (False: it was not run, and goes to aiosqlite's thread as any other)."""
        raw = self._connection._conn
        # Outside a transaction a write would wait for the lock (up to the busy timeout);
        # the mutex is held only while another statement is in aiosqlite's thread.
        if not raw.in_transaction or self._adapt_connection._execute_mutex.locked():
            return False
        try:
            found = _statement_in_one_trip(raw, operation, parameters, many)
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self._keep(found)
        return True

    def _keep(self, found: tuple[Any, list[Any], int, int | None]) -> None:
        self._description, rows, self._rowcount, self._lastrowid = found
        self._rows = deque(rows)


# Where a statement's failure passes on its way out (bot/logs.py names its caller instead).
DRIVER_FILE = __file__
DRIVER_FRAMES = frozenset(
    {
        "_statement_in_one_trip",
        "_one_trip",
        "execute",
        "executemany",
        "run_here",
        "_run_here",
        "_brief",
        "_brief_many",
    }
)


class _OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = _OneTripCursor


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        if type(dbapi_connection) is AsyncAdapt_aiosqlite_connection:
            dbapi_connection.__class__ = _OneTripConnection
        # Take transaction control from the driver so that every transaction starts
        # with BEGIN IMMEDIATE: a read-then-write transaction that upgrades its lock
        # late fails with SQLITE_BUSY at once, whatever the busy timeout says.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # What is deleted is overwritten with zeros, not left in free pages to be read
        # with a hex editor (SQLite's default build leaves it).
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    # True: SQLAlchemy need not run the statement, it ran here.
    @event.listens_for(engine.sync_engine, "do_execute")
    def _brief(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
        return _run_here(cursor, statement, parameters, context, many=False)

    @event.listens_for(engine.sync_engine, "do_executemany")
    def _brief_many(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
        return _run_here(cursor, statement, parameters, context, many=True)


def _run_here(cursor: Any, statement: str, parameters: Any, context: Any, *, many: bool) -> bool:
    return (
        context.execution_options.get(BRIEF, False)
        and isinstance(cursor, _OneTripCursor)
        and cursor.run_here(statement, parameters, many=many)
    )


@asynccontextmanager
async def scratch_postgresql(
    server_url: str | URL, prefix: str, *, keep: bool = False
) -> AsyncIterator[URL]:
    """A new, empty database `<prefix>_<random>` on the PostgreSQL server of `server_url`
    (whose own database is not touched), dropped at the end unless `keep`: for the
    schema's snapshot (storage/snapshot.py) and the benches."""
    server = normalise_url(server_url)
    name = f"{prefix}_{secrets.token_hex(5)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield server.set(database=name)
        finally:
            if not keep:
                async with admin.connect() as connection:
                    await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@asynccontextmanager
async def listening(
    engine: AsyncEngine, channel: str, heard: Callable[[str], None]
) -> AsyncIterator[bool]:
    """While the block runs, `heard(what)` is called whenever another transaction (of any
    process) sends `notify(channel, what)` and commits: PostgreSQL's LISTEN, on a
    connection held for it. Yields False on SQLite, which has no such thing (poll
    instead)."""
    if engine.dialect.name != "postgresql":
        yield False
        return
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None

        def callback(_connection: Any, _pid: int, _channel: str, what: str) -> None:
            heard(what)

        await driver.add_listener(channel, callback)
        try:
            yield True
        finally:
            with contextlib.suppress(Exception):  # the connection may be gone by now
                await driver.remove_listener(channel, callback)


async def notify(session: AsyncSession, channel: str, what: str = "") -> None:
    """Tell the processes listening on `channel` (see `listening`) once this transaction
    commits, saying `what`; nothing on SQLite."""
    assert channel.isidentifier()  # ours, never a caller's text
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_NOTIFY, {"channel": channel, "what": what})


_NOTIFY = text("SELECT pg_notify(:channel, :what)")


# Set on a session whose transaction erased personal data: once it has committed, the
# store scrubs what the database still keeps of it (see `scrub`).
ERASED = "digilog_erased"


SCRUB_WAIT_ROUNDS, SCRUB_WAIT_SECONDS = 100, 0.1
# Transactions of this database (others do not hold its dead rows back) begun before the
# erasure committed that still hold a snapshot, or an id: a transaction that wrote keeps
# rows deleted after it began from a vacuum even between its statements, when it holds
# no snapshot.
OLDER_TRANSACTIONS = text(
    "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
    " AND datname = current_database()"
    " AND (backend_xmin IS NOT NULL OR backend_xid IS NOT NULL) AND xact_start < :started"
)


def mark_erased(session: AsyncSession) -> None:
    session.info[ERASED] = True


async def scrub(engine: AsyncEngine) -> None:
    """After an erasure has committed: make the erased bytes unreadable on disk.

    SQLite (secure_delete on) has zeroed the rows in the pages it wrote, but those pages
    and the rows as they were before sit in the write-ahead log until a checkpoint:
    TRUNCATE copies the log into the database and empties it. PostgreSQL leaves deleted
    rows and their index entries in its pages until a vacuum; a VACUUM removes them and
    VACUUM FULL then rewrites each table and its indexes into new files and drops the
    old ones, so nothing of the dead rows is left in any relation file. Every table is
    done, not only those named in the erasure: ON DELETE CASCADE reaches tables that
    Python never saw.

    PostgreSQL also keeps copies of values in its statistics (pg_statistic: most common
    values and histogram bounds, TOASTed when long): an ANALYZE before the erasure (the
    autovacuum's, whenever it came) sampled the person's e-mail, name and texts. So the
    tables are analysed anew and pg_statistic itself is rewritten, which drops the old
    statistics rows. ANALYZE leaves an emptied table's statistics as they were, so a
    superuser first deletes the tables' statistics; a database owner who is no
    superuser cannot, and the statistics of a table only the erased person had rows in
    stay until the table has rows again and is analysed (docs/security.md says so).
    """
    if engine.dialect.name == "sqlite":
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            # The driver's own connection: SQLAlchemy would open a transaction first,
            # and no checkpoint can run inside one.
            driver = raw.driver_connection
            assert driver is not None
            cursor = await driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            busy, _, _ = await cursor.fetchone()
            await cursor.close()
        if busy:
            # Another process reads the database: the log is emptied at its next checkpoint.
            log.warning("after an erasure the write-ahead log could not be emptied yet")
        return
    from storage.models import Base

    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        # A vacuum keeps a deleted row that a transaction begun before the deletion may
        # still see (another request's, an ANALYZE's): wait for those to end, briefly.
        started = await autocommit.scalar(text("SELECT clock_timestamp()"))
        for _ in range(SCRUB_WAIT_ROUNDS):
            older = await autocommit.scalar(OLDER_TRANSACTIONS, {"started": started})
            if not older:
                break
            await asyncio.sleep(SCRUB_WAIT_SECONDS)
        else:
            log.warning("after an erasure older transactions were still open; vacuuming anyway")
        # First a plain VACUUM, which removes the dead rows; then VACUUM FULL, which
        # writes what is left into new files, leaving no freed space behind. VACUUM
        # FULL alone copies a dead row it deems "recently dead": unlike a plain vacuum
        # it counts its own snapshot, whose horizon is the oldest transaction still
        # running in any database of the server (another application's, a long
        # import's), so it kept the erased rows now and then.
        await autocommit.execute(text(f"VACUUM {tables}"))
        await autocommit.execute(text(f"VACUUM (FULL) {tables}"))
        superuser = text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if await autocommit.scalar(superuser):
            # ANALYZE leaves an empty table's statistics as they were: a table only the
            # erased person had rows in would go on holding them.
            await autocommit.execute(
                text("DELETE FROM pg_statistic WHERE starelid = ANY(CAST(:tables AS regclass[]))"),
                {"tables": [table.name for table in Base.metadata.sorted_tables]},
            )
        await autocommit.execute(text(f"ANALYZE {tables}"))
        await autocommit.execute(text("VACUUM pg_statistic"))
        await autocommit.execute(text("VACUUM (FULL) pg_statistic"))


def _insert(session: AsyncSession, table: Any) -> SqliteInsert | PostgresqlInsert:
    if session.get_bind().dialect.name == "sqlite":
        return sqlite_insert(table)
    # Here, not at the top: PostgreSQL's dialect costs a SQLite server 50 ms of its start.
    from sqlalchemy.dialects.postgresql import insert

    return insert(table)


def insert_ignoring_duplicates(session: AsyncSession, table: Any) -> Insert:
    """INSERT … ON CONFLICT DO NOTHING in the session's dialect: the first write wins."""
    return _insert(session, table).on_conflict_do_nothing()


def upsert(session: AsyncSession, table: Any, keys: list[str], columns: list[str]) -> Insert:
    """INSERT … ON CONFLICT (keys) DO UPDATE the columns: the last write wins, atomically."""
    statement = _insert(session, table)
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
