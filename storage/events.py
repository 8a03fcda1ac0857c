"""Platform deliveries already handled, so that a retried delivery is not handled twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import insert_ignoring_duplicates
from storage.models import ProcessedEvent, now_of


class ProcessedEventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def first_time(self, platform: str, delivery_id: str) -> bool:
        """Record the delivery; False if it had been recorded before (a retry)."""
        inserted = await self._session.scalar(
            insert_ignoring_duplicates(self._session, ProcessedEvent)
            .values(platform=platform, delivery_id=delivery_id, received_at=now_of(self._session))
            .returning(ProcessedEvent.id)
        )
        return inserted is not None

    async def forget_before(self, moment: datetime) -> int:
        """Drop the marks of deliveries received before `moment`: past any retry."""
        result = await self._session.execute(
            delete(ProcessedEvent).where(ProcessedEvent.received_at < moment)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
