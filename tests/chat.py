"""A test backend in the errbot manner: say a line as someone, read what Digilog answered."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from bot.console.render import render
from handlers.core.vocabulary import (
    Actor,
    ChoiceMade,
    CommandReceived,
    Conversation,
    Delivered,
    Form,
    FormSubmitted,
    Inbound,
    Message,
    Option,
    Outgoing,
    PostDeleted,
    PostEdited,
    ThreadPost,
    ToActor,
)
from handlers.digilog import Digilog
from storage.models import Cohort
from tests.conftest import PEOPLE

_ids = itertools.count(1)
NAMES = {user: name for user, name, _, _ in PEOPLE}


@dataclass
class Reply:
    outgoing: list[Outgoing]

    @property
    def messages(self) -> list[tuple[Outgoing, Message]]:
        return [(o, o.message) for o in self.outgoing if isinstance(o.message, Message)]

    @property
    def forms(self) -> list[Form]:
        return [o.message for o in self.outgoing if isinstance(o.message, Form)]

    @property
    def text(self) -> str:
        return "\n".join(render(m)[0] for _, m in self.messages)

    @property
    def private(self) -> str:
        return "\n".join(render(m)[0] for o, m in self.messages if isinstance(o.to, ToActor))

    @property
    def public(self) -> list[Outgoing]:
        return [o for o in self.outgoing if not isinstance(o.to, ToActor)]

    @property
    def options(self) -> list[Option]:
        return [opt for _, m in self.messages for opt in render(m)[1]]


@dataclass
class Chat:
    digilog: Digilog
    cohort: Cohort
    locale: str | None = None
    posts: dict[int, str] = field(default_factory=dict)  # theme → root message id

    @property
    def channel(self) -> Conversation:
        return Conversation(
            self.cohort.platform, self.cohort.workspace, self.cohort.conversation_id
        )

    def actor(self, user: str) -> Actor:
        # As a platform would: the names people have there (the roster's), else a made-up one.
        name = NAMES.get(user, user.title())
        return Actor(self.cohort.platform, self.cohort.workspace, user, name, self.locale)

    async def send(self, event: Inbound) -> Reply:
        outgoing = await self.digilog.handle(event)
        for item in outgoing:
            if item.receipt:  # as an adapter does once the platform has posted it
                message_id = f"msg-{next(_ids)}"
                await self.digilog.delivered(Delivered(item.receipt, self.channel, message_id))
                assert isinstance(item.message, Message)
                theme = int(item.message.summary.split(":")[0].split()[-1])
                self.posts[theme] = message_id
        return Reply(outgoing)

    async def say(self, user: str, text: str, where: Conversation | None = None) -> Reply:
        return await self.send(CommandReceived(self.actor(user), where or self.channel, text))

    async def submit(self, user: str, form_id: str, values: dict[str, str]) -> Reply:
        return await self.send(FormSubmitted(self.actor(user), self.channel, form_id, values))

    async def click(self, user: str, action_id: str, where: Conversation | None = None) -> Reply:
        return await self.send(ChoiceMade(self.actor(user), where or self.channel, action_id))

    async def post(
        self,
        user: str,
        theme: int,
        text: str,
        reply_to: str | None = None,
        message_id: str | None = None,
    ) -> tuple[str, Reply]:
        message_id = message_id or f"msg-{next(_ids)}"
        event = ThreadPost(
            self.actor(user), self.channel.thread(self.posts[theme]), message_id, text, reply_to
        )
        return message_id, await self.send(event)

    async def edit(self, user: str, theme: int, message_id: str, text: str) -> Reply:
        where = self.channel.thread(self.posts[theme])
        return await self.send(PostEdited(self.actor(user), where, message_id, text))

    async def delete(self, user: str, theme: int, message_id: str) -> Reply:
        where = self.channel.thread(self.posts[theme])
        return await self.send(PostDeleted(self.actor(user), where, message_id))
