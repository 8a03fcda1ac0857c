"""Platform deliveries already handled, so that a retried delivery is not handled twice."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import insert_ignoring_duplicates
from storage.models import ProcessedEvent, utcnow


class ProcessedEventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def first_time(self, platform: str, delivery_id: str) -> bool:
        """Record the delivery; False if it had been recorded before (a retry)."""
        inserted = await self._session.scalar(
            insert_ignoring_duplicates(self._session, ProcessedEvent)
            .values(platform=platform, delivery_id=delivery_id, received_at=utcnow())
            .returning(ProcessedEvent.id)
        )
        return inserted is not None
