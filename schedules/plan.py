"""Turning the calendar into delivery rows: whatever has fallen due and still matters.

Planning is incremental: each step of each cohort, once planned, leaves a marker of what
it was planned from (the step's time; for a nudge, also the roster). A sweep plans a step
again only when that changed (the calendar moved it, someone joined or left), so a due
nudge step for 2,500 people costs its rows once, not every sweep.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from handlers.core.context import programme_of
from handlers.core.progress import missing
from handlers.core.steps import Audience
from handlers.features import REGISTRY
from storage.deliveries import Planned
from storage.models import Cohort
from storage.unit import Repositories, Store


async def plan_cohort(repos: Repositories, cohort: Cohort, now: datetime) -> int:
    """Write a row for every due step (a nudge: one per person who needs it); returns new rows.

    Safe to run any number of times from any process: each row's key is unique, so work
    planned before (and perhaps sent) is not planned again.
    """
    planned: list[Planned] = []
    marks = await repos.deliveries.planned_marks(cohort.id)
    roster: str | None = None
    for due in REGISTRY.due_steps(await repos.calendar.entries(cohort.id), now):
        step = due.key(cohort.id)
        mark = due.at.isoformat()
        if due.step.audience is not Audience.channel:
            roster = roster or await repos.deliveries.roster_mark(cohort.id)
            mark += f"|{roster}"
        if marks.get(step) == mark:
            continue  # planned from what is still true
        await repos.deliveries.mark_planned(cohort.id, step, mark, now)
        channel_post = Planned(
            key=due.key(cohort.id),
            cohort_id=cohort.id,
            kind=due.step.kind,
            due_at=due.at,
            relevant_until=due.relevant_until,
            theme_number=due.entry.theme_number,
            detail={"entry": due.entry.key},
        )
        if due.step.audience is Audience.channel:
            planned.append(channel_post)
            continue
        assert due.step.task is not None and due.entry.theme_number is not None
        people = await missing(repos, cohort, due.step.task, due.entry.theme_number)
        planned += [
            replace(channel_post, key=due.key(cohort.id, person), person_id=person)
            for person in people
        ]
    programme = await programme_of(repos, cohort.program_id)
    for planner in REGISTRY.planners:  # rows a feature plans by its own rule (lab reminders)
        planned += await planner(repos, cohort, programme, now)
    return await repos.deliveries.add(planned)


async def plan_everything(store: Store, now: datetime) -> int:
    """Every cohort, each in its own transaction: one broken calendar does not stop the rest."""
    async with store.transaction() as repos:
        cohort_ids = [cohort.id for cohort in await repos.cohorts.all()]
    added = 0
    for cohort_id in cohort_ids:
        added += await plan_one(store, cohort_id, now)
    return added


async def plan_one(store: Store, cohort_id: int, now: datetime) -> int:
    async with store.transaction() as repos:
        cohort = await repos.cohorts.by_id(cohort_id)
        return 0 if cohort is None else await plan_cohort(repos, cohort, now)
