"""The composition root: builds the engine, the store and the handlers, and tears them down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot import logs
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
    logs.configure(settings.log_level, settings.log_format)
    settings.prepare()
    engine = create_engine(settings.effective_database_url)
    try:
        if upgrade:
            await migrate.upgrade(engine)
        store = Store(engine)
        yield Runtime(settings=settings, store=store, digilog=Digilog(store))
    finally:
        await engine.dispose()
