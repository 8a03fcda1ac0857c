"""Slack OAuth installations with their tokens encrypted at rest.

slack_sdk's SQLAlchemy installation store keeps bot and user tokens, refresh tokens and
the incoming webhook URL as plain text. This store seals each of them with Fernet
(`cryptography`) on the way into the database and opens them on the way out; the other
columns (team, scopes, dates) stay readable.

The keys come from DIGILOG_SECRET_KEYS, newest first. A value is sealed with the first
and opened with any, so a key is rotated by putting a new one first, running
`digilog secrets rotate` (which seals every stored value again with the newest key),
and only then dropping the old one. Values stored before encryption was turned on are
plain text; they are read as they are and sealed by the next rotation.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TypeVar

from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.sealing import Sealer, SecretKeyError
from bot.settings import Settings
from handlers.core.i18n import N_

BOT_SECRETS = ("bot_token", "bot_refresh_token")
INSTALLATION_SECRETS = (*BOT_SECRETS, "user_token", "user_refresh_token", "incoming_webhook_url")

Entity = TypeVar("Entity", Installation, Bot)


def _with(entity: Entity, fields: Sequence[str], sealer: Sealer, sealing: bool) -> Entity:
    """A copy of the installation or bot with its secret fields sealed or opened."""
    out = copy.copy(entity)
    for field in fields:
        value = getattr(out, field, None)
        if isinstance(value, str) and value:
            setattr(out, field, sealer.seal(value) if sealing else sealer.open(value))
    return out


class SealedInstallationStore(AsyncSQLAlchemyInstallationStore):
    """slack_sdk's store, with every token sealed before it reaches the database."""

    def __init__(self, client_id: str, engine: AsyncEngine, sealer: Sealer) -> None:
        super().__init__(client_id, engine)
        self.sealer = sealer

    async def async_save(self, installation: Installation) -> None:
        # The parent saves the bot through async_save_bot with the already sealed copy;
        # seal() leaves sealed values alone, so nothing is sealed twice.
        await super().async_save(_with(installation, INSTALLATION_SECRETS, self.sealer, True))

    async def async_save_bot(self, bot: Bot) -> None:
        await super().async_save_bot(_with(bot, BOT_SECRETS, self.sealer, True))

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        bot = await super().async_find_bot(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )
        return None if bot is None else _with(bot, BOT_SECRETS, self.sealer, False)

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        # The parent may copy the bot token of the latest bot (found through our
        # async_find_bot, so already open) into the installation; open() passes it through.
        installation = await super().async_find_installation(
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            is_enterprise_install=is_enterprise_install,
        )
        if installation is None:
            return None
        return _with(installation, INSTALLATION_SECRETS, self.sealer, False)

    async def reseal_all(self) -> int:
        """Seal every stored secret again with the newest key (plain-text ones for the first
        time), in one transaction, for every client id; the number of values rewritten."""
        changed = 0
        async with self.engine.begin() as connection:
            for table, fields in (
                (self.bots, BOT_SECRETS),
                (self.installations, INSTALLATION_SECRETS),
            ):
                changed += await self._reseal_table(connection, table, fields)
        return changed

    async def _reseal_table(
        self, connection: AsyncConnection, table: Table, fields: Sequence[str]
    ) -> int:
        columns = [table.c[field] for field in fields]
        rows = (await connection.execute(select(table.c.id, *columns))).mappings().all()
        changed = 0
        for row in rows:
            values = {
                field: self.sealer.reseal(row[field]) for field in fields if row[field] is not None
            }
            if values:
                await connection.execute(update(table).where(table.c.id == row["id"]), values)
                changed += len(values)
        return changed


def sealed_installation_store(settings: Settings, engine: AsyncEngine) -> SealedInstallationStore:
    """The installation store of the OAuth app in `settings`, sealing with its keys."""
    if not settings.slack_client_id:
        raise SecretKeyError(N_("Slack OAuth is off: SLACK_CLIENT_ID is not set"))
    return SealedInstallationStore(
        settings.slack_client_id, engine, Sealer(settings.secret_key_list())
    )
