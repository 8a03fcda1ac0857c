"""What `digilog serve` loads at start: on a database already at the newest revision, not
Alembic, nor the libraries only a first use needs (#16: healthy within 2 s, small when
idle). An older database is still migrated. How fast and how small is measured in
bench/startup.py, not here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory

from storage import migrate
from storage.unit import Store

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
    loaded = sorted({name.split(".")[0] for name in sys.modules})
    await runner.cleanup()
    print(json.dumps(loaded))

asyncio.run(main())
"""
# Needed only at a first use: a migration, a holiday looked up for a nudge, a calendar
# file, a search that found nothing.
FIRST_USE_ONLY = {"alembic", "mako", "pygments", "holidays", "icalendar", "rapidfuzz"}


SLACK = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "abc"}
TEAMS = {
    "TEAMS_APP_ID": "00000000-0000-4000-8000-000000000001",
    "TEAMS_APP_PASSWORD": "x",
    "TEAMS_TENANT_ID": "00000000-0000-4000-8000-000000000002",
}


def started_serve(database_url: str, folder: Path, platforms: dict[str, str] = SLACK) -> set[str]:
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


async def test_teams_starts_without_msal(database_url: str, tmp_path: Path) -> None:
    """MSAL is for the bot's own token, asked for at its first message out."""
    loaded = started_serve(database_url, tmp_path, TEAMS)
    assert "microsoft_agents" in loaded  # it did start the Teams adapter
    assert loaded & (FIRST_USE_ONLY | {"msal"}) == set()


async def test_an_older_database_is_migrated_at_start(
    store: Store, database_url: str, tmp_path: Path
) -> None:
    await migrate.downgrade(store.engine, "0028")
    assert await migrate.revisions(store.engine) == ("0028",)
    assert not await migrate.is_current(store.engine)
    loaded = started_serve(database_url, tmp_path)
    assert "alembic" in loaded
    assert await migrate.is_current(store.engine)


async def test_an_empty_database_has_no_revision(tmp_path: Path) -> None:
    from storage.db import create_engine

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    try:
        assert await migrate.revisions(engine) == ()
        assert not await migrate.is_current(engine)
        assert await migrate.bring_up_to_date(engine)
        assert await migrate.revisions(engine) == (migrate.HEAD,)
        assert not await migrate.bring_up_to_date(engine)  # nothing left to do
    finally:
        await engine.dispose()
