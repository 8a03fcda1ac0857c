"""Platform deliveries already handled, so that a retried delivery is not handled twice."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import insert_ignoring_duplicates
from storage.memo import memo
from storage.models import ProcessedEvent, now_of

# Deliveries a batch recorded ahead: (platform, delivery id) → whether it was new. Not
# forgotten when the transaction writes other deliveries (a refusal records its own): the
# rows it speaks of were written by that read itself, and stay written. Forgotten, the
# later first_time would find them and take each for a retry.
_RECORDED = memo("first_time")


class ProcessedEventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def read_ahead(self, platform: str, delivery_ids: Collection[str]) -> None:
        """Record a batch's deliveries in one statement; each one's first_time is then
        answered from what it found (for the one call it was recorded for)."""
        if not delivery_ids:
            return
        now = now_of(self._session)
        rows = [
            {"platform": platform, "delivery_id": delivery, "received_at": now}
            for delivery in delivery_ids
        ]
        inserted = await self._session.execute(
            insert_ignoring_duplicates(self._session, ProcessedEvent.__table__).returning(
                ProcessedEvent.delivery_id
            ),
            rows,
        )
        new = set(inserted.scalars().all())
        kept = _RECORDED.of(self._session)
        for delivery in delivery_ids:
            kept[(platform, delivery)] = delivery in new

    async def first_time(self, platform: str, delivery_id: str) -> bool:
        """Record the delivery; False if it had been recorded before (a retry)."""
        kept = _RECORDED.peek(self._session)
        if kept and (platform, delivery_id) in kept:
            return bool(kept.pop((platform, delivery_id)))
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
