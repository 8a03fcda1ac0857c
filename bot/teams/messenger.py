"""Neutral outgoing messages out through the Bot Connector: the outbound half of the adapter.

Teams has no message that only one person in a channel sees, so what is for the
person who acted (a quiz question, a form, a refusal) goes to their one-to-one
chat with the bot. A bot cannot open a group chat either: a message for a few
people (learning buddies) goes to each of them in their own chat.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Hashable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from bot.lanes import Lanes, Throttled, all_sent
from bot.teams.cards import card, form_card
from bot.teams.chats import personal_chat
from bot.teams.connector import Connector, ConnectorError
from bot.teams.translate import Where
from handlers.digilog import Digilog
from handlers.i18n import Translator, translator
from handlers.vocabulary import (
    Delivered,
    FileMessage,
    Form,
    Message,
    MessageBuilder,
    Outgoing,
    ToActor,
    ToConversation,
    ToGroup,
    ToHome,
    ToPerson,
)
from storage.unit import Store

log = logging.getLogger(__name__)
CARD = "application/vnd.microsoft.card.adaptive"


def activity_of(content: Message | Form, t: Translator) -> dict[str, Any]:
    """A message activity with one Adaptive Card; the summary is the notification's text."""
    if isinstance(content, Form):
        rendered = form_card(content, placeholder=t("Choose"), required=t("Please fill this in."))
        summary = content.title
    else:
        rendered, summary = card(content), content.summary
    return {
        "type": "message",
        "summary": summary,
        "attachments": [{"contentType": CARD, "content": rendered}],
    }


@dataclass
class Messenger:
    connector: Connector
    digilog: Digilog
    store: Store
    lanes: Lanes = field(default_factory=Lanes)

    def deliver(self, where: Where, outgoing: list[Outgoing]) -> Awaitable[None] | None:
        """Hand each reply to its destination's lane (bot/lanes.py): a throttled chat holds
        no one else's; what is returned finishes when all went, or raises the first error."""
        if not outgoing:
            return None
        futures = [
            self.lanes.send(self.lane_of(where, item), partial(self._send, where, item))
            for item in outgoing
        ]
        return all_sent(futures)

    @staticmethod
    def lane_of(where: Where, item: Outgoing) -> Hashable:
        match item.to:
            case ToConversation(conversation=conversation):
                return ("teams", where.tenant_id, "conversation", conversation.conversation_id)
            case ToPerson(user_id=user_id):
                return ("teams", where.tenant_id, "person", user_id)
            case ToGroup(user_ids=user_ids):
                return ("teams", where.tenant_id, "group", tuple(sorted(user_ids)))
        return ("teams", where.tenant_id, "person", where.user_id)

    async def _send(self, where: Where, item: Outgoing) -> None:
        try:
            await self._deliver(where, item)
        except ConnectorError as error:
            if error.status == 429:
                raise Throttled(error.retry_after or 1.0, str(error)) from error
            raise

    async def _deliver(self, where: Where, item: Outgoing) -> None:
        t = translator(where.language)
        content = item.message
        if isinstance(content, FileMessage):
            content = _file_note(t, content)
        match item.to:
            case ToActor() | ToHome():
                await self._to_person(where, where.user_id, content)
            case ToPerson(user_id=user_id):
                await self._to_person(where, user_id, content)
            case ToGroup(user_ids=user_ids):
                for user_id in user_ids:
                    await self._to_person(where, user_id, content)
            case ToConversation(conversation=conversation):
                target = conversation.conversation_id
                if conversation.thread_id is not None:
                    target += f";messageid={conversation.thread_id}"
                message_id = await self.connector.send(
                    where.service_url, target, activity_of(content, t)
                )
                if item.receipt is not None and message_id:
                    await self.digilog.delivered(Delivered(item.receipt, conversation, message_id))

    async def _to_person(self, where: Where, user_id: str, content: Message | Form) -> None:
        if where.personal and user_id == where.user_id:
            conversation, service_url = where.conversation_id, where.service_url
        else:
            conversation, service_url = await personal_chat(
                self.store,
                self.connector,
                where.tenant_id,
                user_id,
                service_url=where.service_url,
                bot_id=where.bot_id,
            )
        activity = activity_of(content, translator(where.language))
        await self.connector.send(service_url, conversation, activity)


def _file_note(t: Translator, file: FileMessage) -> Message:
    """Teams needs the person's consent before a bot sends a file; until Digilog asks for it,
    the person is told where to get the file instead."""
    return (
        MessageBuilder()
        .para(file.title)
        .note(
            t(
                "Teams cannot take files from Digilog yet: {file} is made on the server by "
                "`digilog report` or `digilog bank export`.",
                file=file.filename,
            )
        )
        .build()
    )
