"""A new database's schema at `migrate.HEAD`, made in one transaction from a snapshot
instead of by walking every migration.

Walking the 31 migrations on a new database took about 0.4 s and left Alembic, Mako and
Pygments loaded (about 12 MB): a first start missed `serve`'s 2 s and 120 MB (#16). The
snapshot is what the migrations build, dumped from a database they built:
`storage/schema/sqlite.sql` from `sqlite_master`, `storage/schema/postgresql.sql` by
`pg_dump`. As Rails does with its schema file, only an empty database is made from it;
every other one migrates as before. tests/test_startup.py builds a database both ways
and fails if they differ, so a new migration needs `make schema` to write the snapshot
again.

    .venv/bin/python -m storage.snapshot [POSTGRESQL_URL]    # what `make schema` runs
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import migrate
from storage.db import create_engine, scratch_postgresql

SCHEMAS = Path(__file__).parent / "schema"
# The first line of a snapshot names the revision it was dumped at; one that is not
# `migrate.HEAD` is not used (the database migrates instead) and fails the tests.
HEADER = "-- Digilog's schema at revision {revision}, written by `make schema`; do not edit.\n"
# FTS5 makes these for each of its virtual tables; creating the virtual table makes them.
FTS5_SHADOWS = ("_data", "_idx", "_content", "_docsize", "_config")


def snapshot_path(dialect: str) -> Path:
    return SCHEMAS / f"{dialect}.sql"


def revision_of(snapshot: str) -> str | None:
    found = re.match(r"-- Digilog's schema at revision (\S+),", snapshot)
    return found.group(1) if found else None


def is_empty(connection: Connection) -> bool:
    return not inspect(connection).get_table_names()


async def create_if_empty(engine: AsyncEngine) -> bool:
    """Make the schema at HEAD from the snapshot, if the database has no table at all and
    the snapshot is HEAD's; whether it did. Alembic's table records HEAD, so later starts
    and migrations see what they would after `upgrade`."""
    path = snapshot_path(engine.dialect.name)
    if not path.exists():
        return False
    snapshot = path.read_text(encoding="utf-8")
    if revision_of(snapshot) != migrate.HEAD:
        return False
    async with engine.begin() as connection:
        if not await connection.run_sync(is_empty):
            return False
        if engine.dialect.name == "sqlite":
            for statement in sqlite_statements(snapshot):
                await connection.exec_driver_sql(statement)
        else:
            # pg_dump's statements hold `;` inside function bodies: the driver's simple
            # protocol takes the whole script, in the transaction already begun.
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            await driver.execute(snapshot)
        await connection.execute(
            text("INSERT INTO alembic_version (version_num) VALUES (:head)"),
            {"head": migrate.HEAD},
        )
    return True


def sqlite_statements(script: str) -> list[str]:
    """The script's statements, whole: a trigger's body holds `;` of its own."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        if not pending and (not line.strip() or line.startswith("--")):
            continue
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        raise ValueError(f"an unfinished statement at the end of the snapshot: {pending[:80]}")
    return statements


def dump_sqlite(connection: Connection) -> str:
    """What `sqlite_master` holds, tables first, each kind by name (a migration's rebuilt
    table and its indexes come back in no fixed order), without what SQLite makes itself.
    A table may refer to one made after it: SQLite looks only when a row is written."""
    rows = connection.execute(
        text("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL")
    ).all()
    virtual = [name for kind, name, sql in rows if sql.upper().startswith("CREATE VIRTUAL")]
    shadows = {v + suffix for v in virtual for suffix in FTS5_SHADOWS}
    order = {"table": 0, "index": 1, "view": 2, "trigger": 3}
    kept = sorted(
        (order[kind], name, sql)
        for kind, name, sql in rows
        if not name.startswith("sqlite_") and name not in shadows
    )
    return "".join(f"{constraints_in_order(sql)};\n\n" for _, _, sql in kept)


def constraints_in_order(sql: str) -> str:
    """A table's constraints in order of their text, its columns as they are: Alembic
    rebuilds a SQLite table with its constraints in the order of a set, different in
    every run, and the order means nothing to SQLite."""
    lines = sql.split("\n")
    if not sql.startswith("CREATE TABLE") or len(lines) < 3 or lines[-1] != ")":
        return sql
    items = [line.rstrip().rstrip(",") for line in lines[1:-1]]
    columns = [item for item in items if not item.lstrip().startswith("CONSTRAINT ")]
    constraints = sorted(item for item in items if item.lstrip().startswith("CONSTRAINT "))
    return "\n".join([lines[0], ", \n".join(columns + constraints), lines[-1]])


def dump_postgresql(url: str) -> str:
    """`pg_dump --schema-only`, without its session settings, comments and psql's
    meta-commands (`\\restrict` carries a new random key in every dump): the settings
    would change the loading connection's search path, the rest is not SQL."""
    target = make_url(url)
    command = [
        "pg_dump",
        "--schema-only",
        "--no-owner",
        "--no-privileges",
        "--no-comments",
        "--no-publications",
        "--no-subscriptions",
        "--no-tablespaces",
        "--host",
        target.host or "127.0.0.1",
        "--port",
        str(target.port or 5432),
        "--username",
        target.username or "postgres",
        target.database or "",
    ]
    password = {"PGPASSWORD": target.password} if target.password else {}
    dumped = subprocess.run(
        command, check=True, capture_output=True, text=True, env={**os.environ, **password}
    ).stdout
    kept = [
        line
        for line in dumped.splitlines()
        if not line.startswith(("--", "\\", "SET ", "SELECT pg_catalog.set_config("))
    ]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip() + "\n"


async def _migrated_sqlite() -> str:
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(folder) / 'snapshot.db'}")
        try:
            await migrate.upgrade(engine)
            async with engine.connect() as connection:
                return await connection.run_sync(dump_sqlite)
        finally:
            await engine.dispose()


async def _migrated_postgresql(server_url: str) -> str:
    """Migrate a scratch database on the server of `server_url`, dump it, drop it."""
    async with scratch_postgresql(server_url, "digilog_snapshot") as scratch:
        engine = create_engine(scratch)
        try:
            await migrate.upgrade(engine)
        finally:
            await engine.dispose()
        return dump_postgresql(scratch.render_as_string(hide_password=False))


async def write(postgresql_url: str | None) -> None:
    header = HEADER.format(revision=migrate.HEAD)
    SCHEMAS.mkdir(exist_ok=True)
    snapshot_path("sqlite").write_text(header + "\n" + await _migrated_sqlite(), "utf-8")
    if postgresql_url:
        dumped = await _migrated_postgresql(postgresql_url)
        snapshot_path("postgresql").write_text(header + "\n" + dumped, "utf-8")


if __name__ == "__main__":
    asyncio.run(write(sys.argv[1] if len(sys.argv) > 1 else None))
