"""Where a platform takes the bot's messages: per conversation, and each person's
one-to-one chat with the bot (Teams gives these with every activity)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import upsert
from storage.models import ConversationAddress, now_of


class Address(NamedTuple):
    """Where one conversation takes messages, as a platform gave it."""

    workspace: str
    conversation_id: str
    address: str
    bot_id: str
    user_id: str | None = None


# The upsert, per dialect.
_REMEMBER: dict[str, Any] = {}


class AddressRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def remember(
        self,
        platform: str,
        workspace: str,
        conversation_id: str,
        address: str,
        bot_id: str,
        user_id: str | None = None,
    ) -> None:
        """Keep the latest address given for the conversation (it can move)."""
        await self.remember_many(
            platform, [Address(workspace, conversation_id, address, bot_id, user_id)]
        )

    async def remember_many(self, platform: str, addresses: Sequence[Address]) -> None:
        """remember() for several conversations, in one statement sent for all."""
        if not addresses:
            return
        dialect = self._session.get_bind().dialect.name
        statement = _REMEMBER.get(dialect)
        if statement is None:  # built once: building it cost more than running it
            statement = _REMEMBER[dialect] = upsert(
                self._session,
                ConversationAddress.__table__,
                ["platform", "workspace", "conversation_id"],
                ["address", "bot_id", "user_id", "updated_at"],
            )
        now = now_of(self._session)
        await self._session.execute(
            statement,
            [
                {
                    "platform": platform,
                    "workspace": a.workspace,
                    "conversation_id": a.conversation_id,
                    "address": a.address,
                    "bot_id": a.bot_id,
                    "user_id": a.user_id,
                    "updated_at": now,
                }
                for a in addresses
            ],
        )

    async def of_conversation(
        self, platform: str, workspace: str, conversation_id: str
    ) -> ConversationAddress | None:
        return await self._session.get(ConversationAddress, (platform, workspace, conversation_id))

    async def personal(
        self, platform: str, workspace: str, user_id: str
    ) -> ConversationAddress | None:
        """The person's one-to-one chat with the bot, if it has been seen."""
        return await self._session.scalar(
            select(ConversationAddress)
            .where(
                ConversationAddress.platform == platform,
                ConversationAddress.workspace == workspace,
                ConversationAddress.user_id == user_id,
            )
            .order_by(ConversationAddress.updated_at.desc())
            .limit(1)
        )

    async def newest_in(self, platform: str, workspace: str) -> ConversationAddress | None:
        """The newest address of any conversation in the workspace (a Teams tenant is served
        from one address, which also opens new one-to-one chats)."""
        return await self._session.scalar(
            select(ConversationAddress)
            .where(
                ConversationAddress.platform == platform,
                ConversationAddress.workspace == workspace,
            )
            .order_by(ConversationAddress.updated_at.desc())
            .limit(1)
        )
