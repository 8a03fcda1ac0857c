"""A cohort's calendar: dated events, replaced as a whole when the calendar changes."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import CalendarEntry


class CalendarRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def replace(self, cohort_id: int, entries: Iterable[CalendarEntry]) -> int:
        """The cohort's calendar becomes exactly these entries; returns how many."""
        await self._session.execute(
            delete(CalendarEntry).where(CalendarEntry.cohort_id == cohort_id)
        )
        count = 0
        for entry in entries:
            entry.cohort_id = cohort_id
            self._session.add(entry)
            count += 1
        await self._session.flush()
        return count

    async def entries(self, cohort_id: int) -> list[CalendarEntry]:
        query = (
            select(CalendarEntry)
            .where(CalendarEntry.cohort_id == cohort_id)
            .order_by(CalendarEntry.starts_at, CalendarEntry.id)
        )
        return list(await self._session.scalars(query))
