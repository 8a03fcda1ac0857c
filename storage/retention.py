"""Retention's storage: each cohort's periods and progress, the deletions by kind, and the
figures kept after them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import mark_erased
from storage.models import (
    BuddyRound,
    CalendarEntry,
    Delivery,
    KeptFigure,
    Person,
    QuizAnswer,
    Reflection,
    Retention,
    UTCDateTime,
)
from storage.personal_data import ANONYMOUS_PLATFORM, PersonalDataRepository, anonymous_workspace


class RetentionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, cohort_id: int) -> Retention | None:
        return await self._session.get(Retention, cohort_id)

    async def get_or_add(self, cohort_id: int, days: int) -> Retention:
        found = await self.get(cohort_id)
        if found is None:
            found = Retention(cohort_id=cohort_id, days=days, noticed={}, deleted={})
            self._session.add(found)
            await self._session.flush()
        return found

    async def calendar_ends(self) -> dict[int, datetime]:
        """Each cohort's last calendar time: when its last entry starts or ends."""
        # An aggregate loses the column's type; coerced, it reads back as an aware time.
        last = type_coerce(
            func.max(func.coalesce(CalendarEntry.ends_at, CalendarEntry.starts_at)), UTCDateTime()
        )
        rows = await self._session.execute(
            select(CalendarEntry.cohort_id, last).group_by(CalendarEntry.cohort_id)
        )
        return {row[0]: row[1] for row in rows}

    async def delete_quiz_answers(self, cohort_id: int) -> int:
        return await self._delete(QuizAnswer, QuizAnswer.cohort_id == cohort_id)

    async def delete_reflections(self, cohort_id: int) -> int:
        """The cohort's whole bank, its search index entries and its anonymous author."""
        ids = list(
            await self._session.scalars(
                select(Reflection.id).where(Reflection.cohort_id == cohort_id)
            )
        )
        personal = PersonalDataRepository(self._session)
        deleted = await personal.delete_reflections(ids)
        await self._delete(
            Person,
            Person.platform == ANONYMOUS_PLATFORM,
            Person.workspace == anonymous_workspace(cohort_id),
        )
        await personal.optimise_search_index()
        return deleted

    async def delete_cohort_traces(self, cohort_id: int) -> int:
        """What is left once the people have gone: the cohort's posts and reminders in the
        outbox, and its buddy rounds."""
        deleted = await self._delete(Delivery, Delivery.cohort_id == cohort_id)
        return deleted + await self._delete(BuddyRound, BuddyRound.cohort_id == cohort_id)

    async def keep_figures(
        self, cohort_id: int, files: Iterable[tuple[str, bytes, str]], at: datetime
    ) -> None:
        for name, content, title in files:
            self._session.add(
                KeptFigure(cohort_id=cohort_id, name=name, content=content, title=title, kept_at=at)
            )
        await self._session.flush()

    async def kept_figures(self, cohort_id: int) -> list[KeptFigure]:
        return list(
            await self._session.scalars(
                select(KeptFigure).where(KeptFigure.cohort_id == cohort_id).order_by(KeptFigure.id)
            )
        )

    async def _delete(self, model: Any, *where: Any) -> int:
        mark_erased(self._session)
        result = await self._session.execute(
            delete(model).where(*where).execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
