"""The composition root: builds the engine, the store and the handlers, and tears them down."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.settings import Settings
from handlers.digilog import Digilog
from schedules.service import Timing
from storage import migrate
from storage.db import create_engine
from storage.unit import Store


@dataclass
class Runtime:
    settings: Settings
    store: Store
    digilog: Digilog


def timing_of(settings: Settings) -> Timing:
    return Timing(
        sweep_seconds=settings.schedule_sweep_seconds,
        poll_seconds=settings.sender_poll_seconds,
        lease_seconds=settings.sender_lease_seconds,
        election_seconds=settings.leader_retry_seconds,
    )


@asynccontextmanager
async def open_runtime(settings: Settings, *, upgrade: bool = True) -> AsyncIterator[Runtime]:
    """Everything a command or server needs; the schema is brought up to date first."""
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    # Alembic narrates every start at INFO; only its warnings are news.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # and APScheduler every job
    # At DEBUG slack_sdk logs every response body, the OAuth access token's too.
    logging.getLogger("slack_sdk.web").setLevel(logging.INFO)
    settings.prepare()
    engine = create_engine(settings.effective_database_url)
    try:
        if upgrade:
            await migrate.upgrade(engine)
        store = Store(engine)
        yield Runtime(settings=settings, store=store, digilog=Digilog(store))
    finally:
        await engine.dispose()
