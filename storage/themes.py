"""Theme runs: which themes a cohort has started, where their posts are, quiz state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import insert_ignoring_duplicates
from storage.models import ThemeRun, utcnow


class ThemeRunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, cohort_id: int, theme_number: int) -> ThemeRun | None:
        return await self._session.scalar(
            select(ThemeRun).where(
                ThemeRun.cohort_id == cohort_id, ThemeRun.theme_number == theme_number
            )
        )

    async def by_id(self, run_id: int) -> ThemeRun | None:
        return await self._session.get(ThemeRun, run_id)

    async def start(
        self, cohort_id: int, theme_number: int, started_by: int | None, forced: bool
    ) -> ThemeRun | None:
        """Start a theme once: None if it had already been started (by anyone, concurrently too)."""
        inserted = await self._session.scalar(
            insert_ignoring_duplicates(self._session, ThemeRun)
            .values(
                cohort_id=cohort_id,
                theme_number=theme_number,
                started_by=started_by,
                forced=forced,
                started_at=utcnow(),
            )
            .returning(ThemeRun.id)
        )
        return None if inserted is None else await self._session.get(ThemeRun, inserted)

    async def started(self, cohort_id: int) -> list[ThemeRun]:
        query = select(ThemeRun).where(ThemeRun.cohort_id == cohort_id)
        return list((await self._session.scalars(query.order_by(ThemeRun.theme_number))).all())

    async def by_post(self, cohort_id: int, message_id: str) -> ThemeRun | None:
        return await self._session.scalar(
            select(ThemeRun).where(
                ThemeRun.cohort_id == cohort_id, ThemeRun.post_message_id == message_id
            )
        )

    async def record_post(self, run_id: int, message_id: str) -> None:
        run = await self._session.get(ThemeRun, run_id)
        if run is not None and run.post_message_id is None:
            run.post_message_id = message_id
            await self._session.flush()

    async def set_quiz_state(
        self, run: ThemeRun, *, opened: datetime | None, closed: datetime | None
    ) -> None:
        run.quiz_opened_at, run.quiz_closed_at = opened, closed
        await self._session.flush()
