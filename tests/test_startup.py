"""What `digilog serve` loads at start: on a database already at the newest revision, not
Alembic, nor the libraries only a first use needs (#16: healthy within 2 s, small when
idle). An older database is still migrated. How fast and how small is measured in
bench/startup.py, not here."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage import migrate, snapshot
from storage.db import create_engine
from storage.unit import Store
from tests.conftest import migrate_to_head, scratch_postgres_database

ROOT = Path(__file__).resolve().parents[1]

# serve's app, started and stopped as aiohttp does it (every cleanup context entered),
# then what the process had imported by then.
START = """
import asyncio, json, sys
from aiohttp import web
from bot.settings import Settings
from bot.web import create_app

async def main():
    runner = web.AppRunner(create_app(Settings()))
    await runner.setup()
    loaded = sorted(sys.modules)
    await runner.cleanup()
    print(json.dumps(loaded))

asyncio.run(main())
"""
# Needed only at a first use: a migration, a holiday looked up for a nudge, a calendar
# file, a search that found nothing, the leader's timers (which start after the server).
FIRST_USE_ONLY = {
    "alembic",
    "mako",
    "pygments",
    "holidays",
    "icalendar",
    "rapidfuzz",
    "apscheduler",
}


SLACK = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "abc"}
TEAMS = {
    "TEAMS_APP_ID": "00000000-0000-4000-8000-000000000001",
    "TEAMS_APP_PASSWORD": "x",
    "TEAMS_TENANT_ID": "00000000-0000-4000-8000-000000000002",
}


def started_serve(database_url: str, folder: Path, platforms: dict[str, str] = SLACK) -> set[str]:
    """The top-level packages serve had loaded once started (`loaded_modules` for all)."""
    return {name.split(".")[0] for name in loaded_modules(database_url, folder, platforms)}


def loaded_modules(database_url: str, folder: Path, platforms: dict[str, str]) -> set[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "DIGILOG_DATABASE_URL": database_url,
        "DIGILOG_LANGUAGE": "en",
        **platforms,
    }
    done = subprocess.run(
        [sys.executable, "-c", START],
        env=env,
        cwd=folder,  # away from any .env file in the checkout
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_head_is_alembics_newest_revision() -> None:
    """A new migration must move HEAD too, or a database at the old one would be taken
    as current and never migrated."""
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    assert scripts.get_heads() == [migrate.HEAD]


async def test_a_current_database_starts_without_alembic(
    store: Store, database_url: str, tmp_path: Path
) -> None:
    assert await migrate.is_current(store.engine)
    loaded = started_serve(database_url, tmp_path)
    assert "aiohttp" in loaded and "slack_bolt" in loaded  # it did start serve's app
    assert loaded & FIRST_USE_ONLY == set()
    assert await migrate.revisions(store.engine) == (migrate.HEAD,)


async def test_teams_starts_without_msal_or_the_token_validator(
    database_url: str, tmp_path: Path
) -> None:
    """MSAL is for the bot's own token, asked for at its first message out; the SDK's
    token validator (its hosting package) for the first activity in, whose keys are
    fetched then too."""
    modules = loaded_modules(database_url, tmp_path, TEAMS)
    loaded = {name.split(".")[0] for name in modules}
    assert "microsoft_agents.activity" in modules  # it did start the Teams adapter
    assert loaded & (FIRST_USE_ONLY | {"msal"}) == set()
    assert not any(name.startswith("microsoft_agents.hosting") for name in modules)
    assert loaded & {"slack_bolt", "slack_sdk"} == set(), "Teams alone needs no Slack library"


async def test_a_slack_bot_token_starts_without_fernet(database_url: str, tmp_path: Path) -> None:
    """Fernet (cryptography) seals the tokens of OAuth installs only; on SQLite, the
    PostgreSQL dialect (50 ms of a start) is not loaded either."""
    modules = loaded_modules(database_url, tmp_path, SLACK)
    assert "slack_bolt" in modules
    assert "cryptography" not in modules
    if make_url(database_url).get_backend_name() == "sqlite":
        assert not any(name.startswith("sqlalchemy.dialects.postgresql") for name in modules)


async def test_an_older_database_is_migrated_at_start(
    store: Store, database_url: str, tmp_path: Path
) -> None:
    await migrate.downgrade(store.engine, "0028")
    assert await migrate.revisions(store.engine) == ("0028",)
    assert not await migrate.is_current(store.engine)
    loaded = started_serve(database_url, tmp_path)
    assert "alembic" in loaded
    assert await migrate.is_current(store.engine)


async def test_a_new_database_is_made_from_the_snapshot_without_alembic(
    empty_database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(empty_database_url)
    try:
        assert await migrate.revisions(engine) == ()
        loaded = started_serve(empty_database_url, tmp_path)
        assert "aiohttp" in loaded
        assert loaded & FIRST_USE_ONLY == set(), "a new database should not need Alembic"
        assert await migrate.revisions(engine) == (migrate.HEAD,)
        assert not await migrate.bring_up_to_date(engine)  # nothing left to do
    finally:
        await engine.dispose()


def schema_of(url: str) -> str:
    """What the database's schema is, as the snapshot's writer dumps it."""
    if make_url(url).get_backend_name() == "postgresql":
        return snapshot.dump_postgresql(url)

    async def dump() -> str:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(snapshot.dump_sqlite)
        finally:
            await engine.dispose()

    return asyncio.run(dump())


def test_the_snapshot_makes_what_the_migrations_make(
    empty_database_url: str, request: pytest.FixtureRequest
) -> None:
    kind = make_url(empty_database_url).get_backend_name()
    written = snapshot.snapshot_path(kind).read_text(encoding="utf-8")
    assert snapshot.revision_of(written) == migrate.HEAD, (
        "the schema's snapshot is older than the newest migration: run `make schema`"
    )

    async def make() -> bool:
        engine = create_engine(empty_database_url)
        try:
            return await snapshot.create_if_empty(engine)
        finally:
            await engine.dispose()

    assert asyncio.run(make())
    made = schema_of(empty_database_url)
    if kind == "sqlite":
        migrated = schema_of(f"sqlite+aiosqlite:///{request.getfixturevalue('sqlite_template')}")
    else:
        # A database of its own: the session's is shared with tests that add to it (an
        # extension to read pages with).
        with scratch_postgres_database() as url:
            asyncio.run(migrate_to_head(url))
            migrated = schema_of(url)
    assert made == migrated, (
        "the schema's snapshot differs from what the migrations make: run `make schema`"
    )


async def test_a_database_with_tables_but_no_revision_is_not_made_from_the_snapshot(
    tmp_path: Path,
) -> None:
    """Someone else's tables, or a half-made schema: Alembic decides, as before."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'other.db'}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY)"))
        assert not await snapshot.create_if_empty(engine)
        assert await migrate.revisions(engine) == ()
    finally:
        await engine.dispose()
