"""Fixtures: real SQLite and real PostgreSQL, migrated by Alembic, one clean database per test."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from handlers.admin import CohortSpec, create_cohort, import_roster, load_programme
from handlers.core.programme_file import Programme
from handlers.core.programme_file import load_programme as read_programme
from handlers.core.roster import RosterRow
from handlers.digilog import Digilog
from storage import migrate
from storage.db import create_engine, normalise_url
from storage.models import Cohort, Role
from storage.unit import Store

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "digital-kompetens.yaml"
POSTGRES_URL = os.environ.get("DIGILOG_TEST_POSTGRES_URL")
# In CI the properties draw the same examples every run, so that a red build can be
# reproduced; on a developer's machine they explore anew each time.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


async def table_names(connection: AsyncConnection) -> list[str]:
    """Every table the migrations made, whoever added it: a list kept by hand would miss
    the next one."""
    names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    return sorted(name for name in names if name != "alembic_version")


def pytest_report_header() -> str:
    if POSTGRES_URL:
        return f"PostgreSQL tests: {make_url(POSTGRES_URL).render_as_string(hide_password=True)}"
    return "PostgreSQL tests: skipped (set DIGILOG_TEST_POSTGRES_URL to run them)"


async def migrate_to_head(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "digilog.db"
    asyncio.run(migrate_to_head(f"sqlite+aiosqlite:///{path}"))
    return path


@contextlib.contextmanager
def scratch_postgres_database() -> Iterator[str]:
    """A new, empty database on the test server, dropped afterwards."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL: DIGILOG_TEST_POSTGRES_URL is not set")
    admin_url = normalise_url(POSTGRES_URL)
    name = f"digilog_test_{uuid.uuid4().hex[:10]}"

    async def run(statement: str) -> None:
        engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as connection:
                await connection.execute(text(statement))
        finally:
            await engine.dispose()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A scratch database for this test run, migrated once, dropped at the end."""
    with scratch_postgres_database() as url:
        asyncio.run(migrate_to_head(url))
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of each kind with nothing in it, not even Alembic's table."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    with scratch_postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "digilog.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_database")

    async def truncate() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                tables = ", ".join(await table_names(connection))
                await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        finally:
            await engine.dispose()

    asyncio.run(truncate())
    yield url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    engine = create_engine(database_url)
    try:
        yield Store(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def programme() -> Programme:
    return read_programme(EXAMPLE)


# user id, name, organisation, role: people from different organisations
PEOPLE = (
    ("fia", "Fia Facilitator", "region-vasterbotten", Role.facilitator),
    ("anna", "Anna Lindqvist", "umea", Role.participant),
    ("bjorn", "Björn Öberg", "pitea", Role.participant),
    ("cecilia", "Cecilia Åström", "skelleftea", Role.participant),
)


async def make_cohort(
    store: Store,
    programme: Programme,
    key: str = "grupp-1",
    *,
    language: str = "en",
    self_enrol: bool = False,
    people: tuple[tuple[str, str, str, Role], ...] = PEOPLE,
    platform: str = "console",
    workspace: str = "local",
) -> Cohort:
    await load_programme(store, programme)
    cohort = await create_cohort(
        store,
        CohortSpec(
            key=key,
            program_id=programme.id,
            title=key.replace("-", " ").title(),
            platform=platform,
            workspace=workspace,
            conversation_id=f"channel-{key}",
            language=language,
            self_enrol=self_enrol,
        ),
    )
    rows = [RosterRow(i, n, None, u, o, r) for i, (u, n, o, r) in enumerate(people, start=1)]
    created, problems = await import_roster(store, key, rows, skip_bad=False)
    assert not problems and created == len(rows)
    return cohort


@pytest.fixture
async def cohort(store: Store, programme: Programme) -> Cohort:
    return await make_cohort(store, programme)


def run_digilog(
    database_url: str, cwd: Path, *args: str, stdin: str = "", language: str = "sv"
) -> subprocess.CompletedProcess[str]:
    """The `digilog` command in a process of its own, as someone at a terminal runs it."""
    env = {**os.environ, "DIGILOG_DATABASE_URL": database_url, "DIGILOG_LANGUAGE": language}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,  # generous: a loaded machine is slow, not broken
        check=False,
    )


@pytest.fixture
def digilog(store: Store) -> Digilog:
    return Digilog(store)
