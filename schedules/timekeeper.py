"""The leader's timers: APScheduler wakes the planner when a calendar step falls due.

Jobs take a cohort id only and are built from the database: at start (after catching
up on what fell due while no one was keeping time) and again whenever a cohort's
calendar changes, which a periodic sweep notices. The sweep also plans anything due
(cheaply: a step planned before is skipped unless its time or the roster changed, see
`plan.py`), so a timer lost in a crash costs at most one sweep's delay, tells
facilitators when an outage that delayed a step is over, and carries out retention
(`handlers/retention.py`) on the real clock only: a rehearsal's never deletes anything.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from handlers import retention
from handlers.features import REGISTRY
from handlers.schedule import outages_over
from schedules.clock import Clock
from schedules.plan import plan_everything, plan_one
from storage.models import CalendarEntry
from storage.reflections import reindex_in_background
from storage.unit import Store

if TYPE_CHECKING:
    from apscheduler.job import Job
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

SWEEP_JOB = "sweep"
RETENTION_EVERY = timedelta(minutes=10)
STOP_WAIT_SECONDS = 10


def _report_reindexing(task: asyncio.Task[int]) -> None:
    """A failed re-index is logged when it fails; the next leader tries again, and until
    then searches use the older terms."""
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("re-indexing the reflection bank failed", exc_info=error)


def fingerprint(entries: list[CalendarEntry]) -> str:
    """Changes whenever an entry is added, removed or moved."""
    digest = hashlib.sha256()
    for entry in entries:
        digest.update(f"{entry.key}@{entry.starts_at.isoformat()};".encode())
    return digest.hexdigest()


class Timekeeper:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        wake_senders: Callable[[], None],
        *,
        sweep_seconds: float,
        timers: bool = True,
    ) -> None:
        """`timers=False` when the clock is not the system's (a rehearsal): the sweep alone,
        and no retention."""
        self.store, self.clock, self.wake_senders = store, clock, wake_senders
        self.sweep_seconds, self.timers = sweep_seconds, timers
        self._built: dict[int, str] = {}  # cohort id → fingerprint its timers were built from
        self._retention_next: datetime | None = None
        # Planning runs one at a time; stopping waits for the one under way, since
        # APScheduler's shutdown would cancel it mid-transaction and log that as a failure.
        self._busy = asyncio.Lock()

    @cached_property
    def scheduler(self) -> AsyncIOScheduler:
        # Loaded by the leader, when it first keeps time: APScheduler reads every installed
        # package's entry points as it loads, 50 ms of a start on a slow machine.
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        return AsyncIOScheduler(timezone=UTC)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Keep time while entered: what the leader does."""
        await self.sweep()  # catches up on what fell due while nobody kept time
        # A new analyser version re-indexes the bank a batch at a time, beside the bot.
        reindexing = asyncio.create_task(reindex_in_background(self.store))
        reindexing.add_done_callback(_report_reindexing)
        self.scheduler.add_job(
            self.sweep,
            "interval",
            seconds=self.sweep_seconds,
            id=SWEEP_JOB,
            coalesce=True,
            max_instances=1,
        )
        self.scheduler.start()
        try:
            yield
        finally:
            reindexing.cancel()
            with suppress(asyncio.CancelledError, Exception):  # told by _report_reindexing
                await reindexing
            self.scheduler.pause()
            with suppress(TimeoutError):
                async with asyncio.timeout(STOP_WAIT_SECONDS), self._busy:
                    pass
            self.scheduler.shutdown(wait=False)
            self.scheduler.remove_all_jobs()
            self._built.clear()

    async def sweep(self) -> None:
        """Plan whatever is due, and rebuild the timers of every calendar that changed."""
        async with self._busy:
            now = self.clock.now()
            noticed = 0
            if self.timers and (self._retention_next is None or now >= self._retention_next):
                # Retention is counted in days: every sweep would only repeat the reads.
                noticed = (await retention.sweep(self.store, now)).notices
                self._retention_next = now + RETENTION_EVERY
            async with self.store.transaction() as repos:
                recovered = await outages_over(repos, now)
            if await plan_everything(self.store, now) or noticed or recovered:
                self.wake_senders()
            if self.timers:
                await self.rebuild()

    async def rebuild(self) -> None:
        async with self.store.transaction() as repos:
            calendars = {
                c.id: await repos.calendar.entries(c.id) for c in await repos.cohorts.all()
            }
        for cohort_id in set(self._built) - set(calendars):
            self._remove(cohort_id)
        for cohort_id, entries in calendars.items():
            mark = fingerprint(entries)
            if self._built.get(cohort_id) != mark:
                self._schedule(cohort_id, entries)
                self._built[cohort_id] = mark

    def _schedule(self, cohort_id: int, entries: list[CalendarEntry]) -> None:
        from apscheduler.triggers.date import DateTrigger

        self._remove(cohort_id)
        now = self.clock.now()
        for due in REGISTRY.future_steps(entries, now):
            self.scheduler.add_job(
                self.fire,
                DateTrigger(due.at),
                args=(cohort_id,),
                id=f"c{cohort_id}:{due.step.kind}:{due.entry.key}",
                misfire_grace_time=None,  # late is better than never; relevance decides
                replace_existing=True,
            )
        log.debug("cohort %s: %d timers", cohort_id, len(self.jobs(cohort_id)))

    def _remove(self, cohort_id: int) -> None:
        for job in self.jobs(cohort_id):
            job.remove()
        self._built.pop(cohort_id, None)

    def jobs(self, cohort_id: int) -> list[Job]:
        prefix = f"c{cohort_id}:"
        return [job for job in self.scheduler.get_jobs() if job.id.startswith(prefix)]

    async def fire(self, cohort_id: int) -> None:
        async with self._busy:
            if await plan_one(self.store, cohort_id, self.clock.now()):
                self.wake_senders()
