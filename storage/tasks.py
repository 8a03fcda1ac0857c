"""Reflection tasks: how each participant does a theme's task, with whom, and when what
they found was handed in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import upsert
from storage.models import ReflectionTaskChoice, now_of


class ReflectionTaskRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, cohort_id: int, theme: int, person_id: int) -> ReflectionTaskChoice | None:
        return await self._session.scalar(
            select(ReflectionTaskChoice).where(
                ReflectionTaskChoice.cohort_id == cohort_id,
                ReflectionTaskChoice.theme_number == theme,
                ReflectionTaskChoice.person_id == person_id,
            )
        )

    async def choose(
        self,
        cohort_id: int,
        theme: int,
        person_id: int,
        form: str,
        *,
        partner_id: int | None = None,
        partner_name: str | None = None,
    ) -> ReflectionTaskChoice:
        """Record (or change) a choice; the last one wins, atomically."""
        await self._session.execute(
            upsert(
                self._session,
                ReflectionTaskChoice,
                ["cohort_id", "theme_number", "person_id"],
                ["form", "partner_id", "partner_name", "chosen_at"],
            ).values(
                cohort_id=cohort_id,
                theme_number=theme,
                person_id=person_id,
                form=form,
                partner_id=partner_id,
                partner_name=partner_name,
                chosen_at=now_of(self._session),  # a rehearsal's time in a rehearsal
            )
        )
        found = await self.get(cohort_id, theme, person_id)
        assert found is not None
        await self._session.refresh(found)
        return found

    async def done(
        self, cohort_id: int, theme: int, person_ids: list[int], finding_id: int, when: datetime
    ) -> None:
        """What they found is handed in: the task is done for each of them."""
        await self._session.execute(
            update(ReflectionTaskChoice)
            .where(
                ReflectionTaskChoice.cohort_id == cohort_id,
                ReflectionTaskChoice.theme_number == theme,
                ReflectionTaskChoice.person_id.in_(person_ids),
            )
            .values(done_at=when, finding_id=finding_id)
            .execution_options(synchronize_session=False)
        )

    async def done_by_kind(self, cohort_id: int) -> list[tuple[int, str, int]]:
        """(theme, form, person) for every task done in the cohort."""
        query = select(
            ReflectionTaskChoice.theme_number,
            ReflectionTaskChoice.form,
            ReflectionTaskChoice.person_id,
        ).where(
            ReflectionTaskChoice.cohort_id == cohort_id,
            ReflectionTaskChoice.done_at.is_not(None),
        )
        return [(a, b, c) for a, b, c in (await self._session.execute(query)).all()]
