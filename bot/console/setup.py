"""Choosing (or, on an empty database, creating) the cohort the console talks in."""

from __future__ import annotations

from pathlib import Path

from bot.compose import Runtime
from handlers import admin
from handlers.core.programme_file import load_programme
from storage.models import Cohort, Role

PLATFORM = "console"


async def choose_cohort(runtime: Runtime, example: Path, wanted: str | None) -> tuple[Cohort, str]:
    """The console's cohort and whom to act as first (its first facilitator)."""
    async with runtime.store.transaction() as repos:
        empty = await repos.programs.count() == 0
    if empty:
        programme = load_programme(example)
        await admin.load_programme(runtime.store, programme)
        await admin.seed_demo(runtime.store, programme, runtime.settings.language)
    async with runtime.store.transaction() as repos:
        cohorts = [c for c in await repos.cohorts.all() if c.platform == PLATFORM]
        if wanted is not None:
            cohort = next((c for c in cohorts if c.key == wanted), None)
            if cohort is None:
                raise admin.AdminError(f"no console cohort {wanted!r}")
        elif len(cohorts) == 1:
            cohort = cohorts[0]
        elif not cohorts:
            raise admin.AdminError(
                "no console cohort: create one with "
                "`digilog cohort create KEY --program ID --title TITLE`"
            )
        else:
            raise admin.AdminError(
                "several console cohorts; choose one with --cohort: "
                + ", ".join(c.key for c in cohorts)
            )
        facilitators = await repos.people.members(cohort.id, Role.facilitator)
        everyone = facilitators or await repos.people.members(cohort.id)
        first = next((m.person.user_id for m in everyone if m.person.user_id), "me")
        return cohort, first
