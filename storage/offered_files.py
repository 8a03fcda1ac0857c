"""Files offered in Teams and waiting for the person's consent (see bot/teams/files.py)."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OfferedFile, utcnow


class OfferedFileRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def offer(self, workspace: str, user_id: str, filename: str, content: bytes) -> str:
        """Keep the file; its id, unguessable, is what the consent card carries."""
        file_id = secrets.token_hex(16)
        self._session.add(
            OfferedFile(
                id=file_id,
                workspace=workspace,
                user_id=user_id,
                filename=filename,
                content=content,
                offered_at=utcnow(),
            )
        )
        await self._session.flush()
        return file_id

    async def take(self, file_id: str, workspace: str, user_id: str) -> OfferedFile | None:
        """The file offered to this person under that id, removed: it is sent at most once,
        and to nobody else."""
        found = await self._session.scalar(
            select(OfferedFile).where(
                OfferedFile.id == file_id,
                OfferedFile.workspace == workspace,
                OfferedFile.user_id == user_id,
            )
        )
        if found is not None:
            await self._session.delete(found)
            await self._session.flush()
        return found

    async def forget_before(self, moment: datetime) -> int:
        """Offers nobody answered: a person's data is not kept for a card they ignored."""
        result = await self._session.execute(
            delete(OfferedFile).where(OfferedFile.offered_at < moment)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
