"""Each person's one-to-one chat with the bot: found where Digilog saw it, else opened.

Teams keeps one such chat per person and bot, so opening it again gives the same id;
keeping it saves a call per message and lets scheduled nudges reach people who have
not written lately.
"""

from __future__ import annotations

from bot.teams.connector import Connector
from bot.teams.translate import PLATFORM
from storage.unit import Store


async def personal_chat(
    store: Store,
    connector: Connector,
    tenant_id: str,
    user_id: str,
    *,
    service_url: str | None = None,
    bot_id: str | None = None,
) -> tuple[str, str]:
    """The chat's conversation id and the service URL to post it to; opening the chat
    needs the tenant's address (given, or the newest one seen)."""
    async with store.transaction() as repos:
        known = await repos.addresses.personal(PLATFORM, tenant_id, user_id)
        if known is not None:
            return known.conversation_id, known.address
        if service_url is None or bot_id is None:
            newest = await repos.addresses.newest_in(PLATFORM, tenant_id)
            if newest is None:
                raise LookupError(f"Digilog has not heard from the Teams tenant {tenant_id} yet")
            service_url, bot_id = service_url or newest.address, bot_id or newest.bot_id
    conversation_id = await open_chat(store, connector, service_url, bot_id, tenant_id, user_id)
    return conversation_id, service_url


async def open_chat(
    store: Store, connector: Connector, service_url: str, bot_id: str, tenant_id: str, user_id: str
) -> str:
    """Open (or get again) the person's chat with the bot, and keep it."""
    conversation_id = await connector.personal_chat(service_url, tenant_id, bot_id, user_id)
    async with store.transaction() as repos:
        await repos.addresses.remember(
            PLATFORM, tenant_id, conversation_id, service_url, bot_id, user_id=user_id
        )
    return conversation_id
