"""The audit log: sensitive acts, appended and never changed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry, now_of


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(
        self,
        action: str,
        *,
        cohort_id: int | None = None,
        actor_person_id: int | None = None,
        subject_person_id: int | None = None,
        detail: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> None:
        self._session.add(
            AuditEntry(
                at=at or now_of(self._session),
                action=action,
                cohort_id=cohort_id,
                actor_person_id=actor_person_id,
                subject_person_id=subject_person_id,
                detail=detail,
            )
        )
        await self._session.flush()

    async def entries(self, cohort_id: int | None = None, limit: int = 200) -> list[AuditEntry]:
        """The newest first."""
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if cohort_id is not None:
            query = query.where(AuditEntry.cohort_id == cohort_id)
        return list(await self._session.scalars(query))
