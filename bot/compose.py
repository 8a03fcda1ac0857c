"""The composition root: the one place that builds what `serve`, `worker` and `console` run.

Settings in; out come the engine and store, the features and `Digilog`, each platform's
courier and the scheduling of the calendar. Nothing else builds them, so the three
entry points cannot drift apart, and a rehearsal's clock is given to what it drives
when that is built rather than set on it afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp

from bot import logs
from bot.settings import Settings
from bot.work import Journal, JournalTiming
from handlers.core.registry import Registry
from handlers.digilog import Digilog
from handlers.features import REGISTRY
from schedules.clock import Clock, RehearsalClock, SystemClock
from schedules.courier import ByPlatform, Courier
from schedules.rehearsal import Rehearsal
from schedules.send import Sender
from schedules.service import Scheduling, Timing, scheduling, worker_name
from schedules.timekeeper import Timekeeper
from storage import migrate, swedish
from storage.db import create_engine
from storage.unit import Store


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    store: Store
    features: Registry
    clock: Clock
    digilog: Digilog

    def on_clock(self, clock: Clock) -> Runtime:
        """The same database and features on `clock`'s time (a rehearsal): Digilog's, and
        that of every row written, a reflection as much as a quiz answer or a sign-up."""
        store = self.store.on_clock(clock.now)
        digilog = Digilog(store, now=clock.now, features=self.features)
        return Runtime(self.settings, store, self.features, clock, digilog)


def configure_logging(settings: Settings) -> None:
    """Once, at the entry point: what goes to the log and how much of it."""
    logs.configure(settings.log_level, settings.log_format)


def timing_of(settings: Settings) -> Timing:
    return Timing(
        sweep_seconds=settings.schedule_sweep_seconds,
        poll_seconds=settings.sender_poll_seconds,
        lease_seconds=settings.sender_lease_seconds,
        election_seconds=settings.leader_retry_seconds,
    )


def journal_of(settings: Settings, store: Store) -> Journal:
    """The inbound journal with this deployment's timing; its platforms add their work."""
    timing = JournalTiming(
        # SQLite takes one writer at a time: more workers would only queue at the database.
        workers=1 if store.engine.dialect.name == "sqlite" else 4,
        lease_seconds=settings.inbound_lease_seconds,
        poll_seconds=settings.inbound_poll_seconds,
        attempts=settings.inbound_attempts,
        backoff_seconds=settings.inbound_backoff_seconds,
    )
    # The Swedish dictionary (search, the bank's index) loads once actions come, between
    # them, rather than at start: an idle server stays small and starts at once.
    return Journal(store, timing, warm=swedish.load_slice)


@asynccontextmanager
async def open_runtime(settings: Settings, *, upgrade: bool = True) -> AsyncIterator[Runtime]:
    """Everything a command or server needs; the schema is brought up to date first
    (Alembic is loaded only if it is not: a server's start on a current database skips it)."""
    settings.prepare()
    engine = create_engine(settings.effective_database_url)
    try:
        if upgrade:
            await migrate.bring_up_to_date(engine)
        store = Store(engine)
        clock = SystemClock()
        digilog = Digilog(store, now=clock.now, features=REGISTRY)
        yield Runtime(settings, store, REGISTRY, clock, digilog)
    finally:
        await engine.dispose()


def platform_couriers(
    settings: Settings, runtime: Runtime, session: aiohttp.ClientSession
) -> ByPlatform:
    """A courier for each platform that is configured, sharing one HTTP session."""
    # Imported here: a process without Slack or Teams does not load their SDKs.
    couriers: dict[str, Courier] = {}
    if settings.slack_enabled:
        from bot.slack.courier import slack_courier

        couriers["slack"] = slack_courier(settings, runtime.store.engine, session)
    if settings.teams_enabled:
        from bot.teams.connector import teams_connector
        from bot.teams.courier import TeamsCourier

        couriers["teams"] = TeamsCourier(runtime.store, teams_connector(settings, session))
    return ByPlatform(couriers)


@asynccontextmanager
async def running_schedules(
    runtime: Runtime, courier: Courier, timing: Timing
) -> AsyncIterator[Scheduling]:
    """Scheduled posts and nudges through `courier`, on the runtime's clock."""
    async with scheduling(
        runtime.store, runtime.digilog, courier, clock=runtime.clock, timing=timing
    ) as running:
        yield running


def rehearsal(runtime: Runtime, courier: Courier, clock: RehearsalClock) -> Rehearsal:
    """The calendar on a rehearsal's clock, run only when asked (after each console line,
    or when the clock is moved): no timer, no background sender, no leader to elect."""
    sender = Sender(
        runtime.store, runtime.digilog, courier, clock, worker=f"rehearsal:{worker_name()}"
    )
    timekeeper = Timekeeper(runtime.store, clock, lambda: None, sweep_seconds=0, timers=False)
    return Rehearsal(runtime.store, clock, Scheduling(timekeeper, sender), runtime.features)
