"""A rehearsal's time: it stands still until told to move, and moving it over a window
runs what fell due in it, moment by moment, in the order it fell due.

Nothing runs in the background: the console asks for what is due after each line, so a
post appears where its time says it does, and the same transcript says the same thing
every time, on SQLite and on PostgreSQL alike. At each moment the clock shows the time
the work fell due, so whatever is written or sent then carries that time. What was
due and was not sent is told, never skipped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from handlers.core.context import programme_of
from handlers.core.registry import Registry
from schedules.clock import RehearsalClock
from schedules.service import Scheduling
from schedules.timekeeper import fingerprint
from storage.models import Delivery
from storage.unit import Store


@dataclass
class Rehearsal:
    store: Store
    clock: RehearsalClock
    scheduling: Scheduling
    features: Registry
    # What the calendars were when last planned: a line that changed none (the clock
    # stood still) made nothing new fall due by the calendar, only rows to send.
    _planned: dict[int, str] = field(default_factory=dict)

    async def run_due(self, *, plan: bool = True) -> list[Delivery]:
        """Plan (unless told not to) and send what is due now; the rows that were due and
        were skipped."""
        now = self.clock.now()
        if plan:
            self._planned = await self._calendars()
            await self.scheduling.timekeeper.sweep()
        async with self.store.transaction() as repos:
            due = await repos.deliveries.due_pending(now)
        await self.scheduling.sender.send_due()
        async with self.store.transaction() as repos:
            return await repos.deliveries.skipped_among(due)

    async def after_line(self) -> list[Delivery]:
        """What a console line made due (a nudge sent by hand, a calendar moved into the
        past) goes out before the next line is read."""
        return await self.run_due(plan=await self._calendars() != self._planned)

    async def _calendars(self) -> dict[int, str]:
        async with self.store.transaction() as repos:
            return {
                c.id: fingerprint(await repos.calendar.entries(c.id))
                for c in await repos.cohorts.all()
            }

    async def advance(self, to: datetime) -> list[Delivery]:
        """Move the clock to `to`, stopping at every moment something falls due on the way."""
        skipped = await self.run_due()  # anything the last line left due, at its own time
        while (moment := await self.next_moment(to)) is not None:
            self.clock.jump(moment)
            skipped += await self.run_due()
        self.clock.jump(to)
        return skipped + await self.run_due()

    async def next_moment(self, until: datetime) -> datetime | None:
        """The first moment after now and by `until` when a step, a planner's rule or a
        waiting row falls due."""
        now = self.clock.now()
        moments: list[datetime] = []
        async with self.store.transaction() as repos:
            if (row := await repos.deliveries.next_due(now, until)) is not None:
                moments.append(row)
            for cohort in await repos.cohorts.all():
                entries = await repos.calendar.entries(cohort.id)
                moments += [due.at for due in self.features.future_steps(entries, now)[:1]]
                if self.features.moments:
                    programme = await programme_of(repos, cohort.program_id)
                    moments += [
                        at
                        for rule in self.features.moments
                        for at in rule(cohort, programme, entries)
                        if now < at
                    ]
        moments = [at for at in moments if now < at <= until]
        return min(moments, default=None)
