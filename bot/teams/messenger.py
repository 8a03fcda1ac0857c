"""Neutral outgoing messages out through the Bot Connector: the outbound half of the adapter.

Teams has no message that only one person in a channel sees, so what is for the
person who acted (a quiz question, a form, a refusal) goes to their one-to-one
chat with the bot. A bot cannot open a group chat either (that needs Microsoft Graph
and an admin's consent): learning buddies get a new thread in their cohort's channel
that @mentions each of them, or, without a channel, a message each in their own chat.

Each person is sent to on their own: one who cannot be reached (403/404: they never
opened Digilog in Teams) is marked so, the others still get theirs, and the person who
acted is told the true count.
"""

from __future__ import annotations

import asyncio
import base64
import html
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import quote, urlencode

from bot.lanes import Lanes, Throttled, all_sent, lane_of
from bot.teams.binding import Binder
from bot.teams.cards import (
    CARD_BYTES,
    REFRESH_USERS,
    asked_in,
    card,
    card_size,
    form_card,
    image,
    with_refresh,
)
from bot.teams.chats import personal_chat
from bot.teams.connector import Connector, ConnectorError
from bot.teams.files import OFFER_KEPT, consent_card
from bot.teams.translate import PLATFORM, Where
from handlers.core.i18n import Translator, translator
from handlers.core.vocabulary import (
    Choices,
    Conversation,
    Delivered,
    Divider,
    Facts,
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
from handlers.digilog import Digilog
from handlers.features import REGISTRY
from storage.models import Cohort, utcnow
from storage.unit import Repositories, Store

log = logging.getLogger(__name__)
CARD = "application/vnd.microsoft.card.adaptive"
INVOKE_CARD = "application/vnd.microsoft.card.adaptive"
INVOKE_MESSAGE = "application/vnd.microsoft.activity.message"
UNREACHABLE = frozenset({403, 404})  # the person never opened Digilog, or left the tenant


def activity_of(
    content: Message | Form,
    t: Translator,
    *,
    asked_in_channel: str | None = None,
    shared: bool = False,
    viewers: Sequence[str] | None = None,
) -> dict[str, Any]:
    """A message activity with one Adaptive Card; the summary is the notification's text.

    `shared`: the card goes to a channel, where everyone sees the same one; if one of its
    buttons says how it looks to each person, the card asks Teams to fetch each of
    `viewers` (or, without them, everyone Teams will) their own view (`refresh`)."""
    shown = card_of(content, t)
    if asked_in_channel is not None:
        shown = asked_in(shown, asked_in_channel)
    viewed = viewable(content) if shared else None
    if viewed is not None:
        shown = with_refresh(shown, viewed, t("Refresh"), viewers)
    return {
        "type": "message",
        "summary": _summary(content),
        "attachments": [{"contentType": CARD, "content": shown}],
    }


def card_of(content: Message | Form, t: Translator) -> dict[str, Any]:
    if isinstance(content, Form):
        return form_card(content, placeholder=t("Choose"), required=t("Please fill this in."))
    return card(content, link_to=message_link)


def viewable(content: object) -> str | None:
    """The first button of the message whose feature says how the card looks to each
    person (a quiz's "Take the quiz"), if any."""
    if not isinstance(content, Message):
        return None
    for block in content.blocks:
        if isinstance(block, Choices):
            for option in block.options:
                button = REGISTRY.button(option.action_id)
                if button is not None and button.view is not None:
                    return option.action_id
    return None


async def viewers_of(repos: Repositories, cohort: Cohort | None, tenant: str) -> list[str] | None:
    """Whose Teams clients fetch their own view of a cohort's channel card: its members in
    this tenant, when there are at most REFRESH_USERS (Teams' limit); otherwise None, and
    Teams fetches for everyone in a conversation that small, or on Refresh in the menu."""
    if cohort is None:
        return None
    found = [
        m.person.user_id
        for m in await repos.people.members(cohort.id)
        if m.person.platform == PLATFORM and m.person.workspace == tenant and m.person.user_id
    ]
    return found if 0 < len(found) <= REFRESH_USERS else None


def message_link(where: Conversation) -> str | None:
    """A Teams deep link to a channel message (a theme's post, its thread): opens it in the
    Teams client of whoever follows it, if they are in the team."""
    if where.platform != PLATFORM or not where.thread_id:
        return None
    channel = quote(where.conversation_id, safe="")
    query = urlencode({"tenantId": where.workspace, "parentMessageId": where.thread_id})
    return f"https://teams.microsoft.com/l/message/{channel}/{where.thread_id}?{query}"


def _summary(content: Message | Form) -> str:
    return content.title if isinstance(content, Form) else content.summary


@dataclass
class Clicked:
    """An Action.Execute waiting for its answer: the card to show in place of the one
    clicked, or a line saying where the answer went. `values` are what a form sent, as
    its card showed them."""

    personal: bool
    answer: asyncio.Future[dict[str, Any]]
    values: tuple[tuple[str, str], ...] = ()
    # The message the clicked card is in (the invoke's replyToId): in the person's own
    # chat it becomes the answered card for good, on every device and after a reload.
    card_id: str | None = None
    replaced: dict[str, Any] | None = None
    # A card's refresh asking how it looks to this person: the answer is their view, for
    # their client alone, and nothing is sent or changed for anyone else.
    view: str | None = None  # the button the refresh asks about

    def give(self, body: dict[str, Any]) -> bool:
        if self.answer.done():
            return False  # answered already ("working on it"): the reply goes as a message
        self.answer.set_result(body)
        return True


@dataclass
class _Tally:
    """Who could not be reached in one delivery, for the person who acted."""

    tried: set[str] = field(default_factory=set)
    missed: dict[str, str] = field(default_factory=dict)  # user id → name


@dataclass
class Messenger:
    connector: Connector
    digilog: Digilog
    store: Store
    lanes: Lanes = field(default_factory=Lanes)
    # Seals the channel a button in someone's own chat was asked for in (bot/teams/binding.py).
    binder: Binder = field(default_factory=Binder.random)

    def deliver(
        self, where: Where, outgoing: list[Outgoing], clicked: Clicked | None = None
    ) -> Awaitable[None] | None:
        """Answer the click in place (Universal Actions) when one waits, and hand each other
        reply to its destination's lane (bot/lanes.py): a throttled chat holds no one
        else's. What is returned finishes when all went, or raises the first error after
        the others were tried."""
        t = translator(where.language)
        if clicked is not None:
            outgoing = self._answer_click(where, outgoing, clicked, t)
        # Teams shows an invoke's card to the person until the card is drawn again; the
        # message itself, in a chat that is theirs alone, is made the same.
        kept = (
            [
                self.lanes.send(
                    ("teams", where.tenant_id, "person", where.user_id),  # the person's lane
                    partial(self._keep_answered, where, clicked.card_id, clicked.replaced),
                )
            ]
            if clicked is not None and clicked.replaced is not None and clicked.card_id
            else []
        )
        if not outgoing and not kept:
            return None
        tally = _Tally()
        futures = kept + [
            self.lanes.send(
                lane_of("teams", where.tenant_id, where.user_id, item),
                partial(self._send, where, item, tally),
            )
            for item in outgoing
        ]
        return self._all_sent(where, futures, tally, t)

    async def _all_sent(
        self, where: Where, futures: list[asyncio.Future[None]], tally: _Tally, t: Translator
    ) -> None:
        try:
            await all_sent(futures)
        finally:
            missed = {u: n for u, n in tally.missed.items() if u != where.user_id}
            if missed:
                note = t(
                    "Not reached in Teams: {n} of {total} people ({names}). They have not "
                    "opened Digilog there, and get nothing from it until they do.",
                    n=len(missed),
                    total=len(tally.tried),
                    names=", ".join(sorted(missed.values())),
                )
                try:
                    await self._to_person(where, where.user_id, MessageBuilder().para(note).build())
                except ConnectorError as error:
                    log.error("Teams refused the note of who was not reached: %s", error)

    async def _keep_answered(self, where: Where, card_id: str, replaced: dict[str, Any]) -> None:
        answered = {"type": "message", "attachments": [{"contentType": CARD, "content": replaced}]}
        try:
            await self.connector.update(where.service_url, where.conversation_id, card_id, answered)
        except ConnectorError as error:
            log.warning("Teams refused to keep the answered card: %s", error)

    async def _send(self, where: Where, item: Outgoing, tally: _Tally) -> None:
        try:
            await self._deliver(where, item, tally)
        except ConnectorError as error:
            if error.status == 429:
                raise Throttled(error.retry_after or 1.0, str(error)) from error
            raise

    # ---------------------------------------------------------------- a click's answer

    def _answer_click(
        self, where: Where, outgoing: list[Outgoing], clicked: Clicked, t: Translator
    ) -> list[Outgoing]:
        """Universal Actions: the invoke's answer. In the person's own chat, the card they
        clicked becomes what the click did (an answered question its answer, a sent form
        what it saved), its buttons gone; in a channel, where the card is everyone's, a
        line says where their answer went. Never an empty banner."""
        if clicked.view:
            self._answer_view(where, outgoing, clicked, t)
            return []
        mine = next(
            (
                n
                for n, item in enumerate(outgoing)
                if isinstance(item.to, ToActor | ToHome)
                and not isinstance(item.message, FileMessage)
            ),
            None,
        )
        if mine is None:
            files = any(isinstance(item.message, FileMessage) for item in outgoing)
            clicked.give(
                _banner(
                    t("The file is offered in your chat with Digilog.") if files else t("Done.")
                )
            )
            return outgoing
        first = outgoing[mine].message
        assert not isinstance(first, FileMessage)
        if not clicked.personal or isinstance(first, Form):
            if isinstance(first, Form):
                line = t("The form is in your chat with Digilog.")
            elif any(isinstance(b, Choices) for b in first.blocks):
                line = t("The question is in your chat with Digilog.")
            else:
                line = t("The answer is in your chat with Digilog.")
            clicked.give(_banner(line if not clicked.personal else t("Done.")))
            return outgoing
        assert isinstance(first, Message)
        done, then = _split(first)
        if clicked.values:
            done = Message((*done.blocks, Facts(clicked.values)), done.summary)
        # What the click did and, below it, what comes next (the next question, or the
        # result): one card that goes on, as Slack's private question does, and one call
        # to keep it. Past a card's size, what comes next goes as a card of its own.
        whole = (
            done
            if then is None
            else Message((*done.blocks, Divider(), *then.blocks), first.summary)
        )
        try:
            replaced, then = card(whole), None
        except ValueError:
            try:
                replaced = card(done)
            except ValueError:
                return outgoing  # too large to answer in place: it goes as a message
        if not clicked.give({"statusCode": 200, "type": INVOKE_CARD, "value": replaced}):
            return outgoing
        clicked.replaced = replaced
        rest = [*outgoing[:mine], *outgoing[mine + 1 :]]
        if then is not None:
            rest.insert(mine, Outgoing(ToActor(), then))
        return rest

    def _answer_view(
        self, where: Where, outgoing: list[Outgoing], clicked: Clicked, t: Translator
    ) -> None:
        """A refresh's answer: the card as this person sees it, asking to be refreshed
        again for them alone (it is shown only to the client that asked)."""
        first = next(
            (
                item.message
                for item in outgoing
                if isinstance(item.to, ToActor) and isinstance(item.message, Message)
            ),
            None,
        )
        if first is None:
            return  # nothing of their own: the card stays as posted
        try:
            shown = card(first, link_to=message_link)
        except ValueError:
            return
        if clicked.view is not None:
            # Asked about the same button, though the view may show it no longer (all
            # answered): it stays up to date for them.
            shown = with_refresh(shown, clicked.view, t("Refresh"), [where.user_id])
        clicked.give({"statusCode": 200, "type": INVOKE_CARD, "value": shown})

    # ---------------------------------------------------------------- sending

    async def _deliver(self, where: Where, item: Outgoing, tally: _Tally) -> None:
        t = translator(where.language)
        content = item.message
        match item.to:
            case ToActor() | ToHome():
                await self._to_someone(where, where.user_id, content, tally)
            case ToPerson(user_id=user_id):
                await self._to_someone(where, user_id, content, tally)
            case ToGroup(user_ids=user_ids, meet_in=meet_in):
                if (
                    isinstance(content, Message)
                    and meet_in is not None
                    and meet_in.platform == (PLATFORM)
                ):
                    await self._group_thread(where, meet_in, user_ids, content, t)
                    return
                for user_id in user_ids:
                    await self._to_someone(where, user_id, content, tally)
            case ToConversation(conversation=conversation):
                if isinstance(content, FileMessage):
                    return  # files are for one person, never a channel
                target = conversation.conversation_id
                if conversation.thread_id is not None:
                    target += f";messageid={conversation.thread_id}"
                viewers = None
                if viewable(content) is not None:
                    async with self.store.transaction() as repos:
                        cohort = await repos.cohorts.by_conversation(
                            PLATFORM, conversation.workspace, conversation.conversation_id
                        )
                        viewers = await viewers_of(repos, cohort, conversation.workspace)
                shown = activity_of(content, t, shared=True, viewers=viewers)
                message_id = await self.connector.send(where.service_url, target, shown)
                if item.receipt is not None and message_id:
                    await self.digilog.delivered(Delivered(item.receipt, conversation, message_id))

    async def _to_someone(
        self, where: Where, user_id: str, content: Message | Form | FileMessage, tally: _Tally
    ) -> None:
        """One person: what cannot reach them is noted, and the rest goes on."""
        tally.tried.add(user_id)
        try:
            if isinstance(content, FileMessage):
                await self._offer_file(where, user_id, content)
            else:
                await self._to_person(where, user_id, content)
        except ConnectorError as error:
            if error.status not in UNREACHABLE:
                raise
            tally.missed[user_id] = await self._unreachable(where.tenant_id, user_id)
        except LookupError as error:  # no address for the tenant yet
            log.warning("Teams: %s", error)
            tally.missed[user_id] = user_id

    async def _unreachable(self, tenant: str, user_id: str) -> str:
        """Mark the person unreachable (nudges wait until they use Digilog); their name."""
        async with self.store.transaction() as repos:
            person = await repos.people.by_account(PLATFORM, tenant, user_id)
            if person is None:
                return user_id
            if person.unreachable_since is None:
                person.unreachable_since = utcnow()
            return person.display_name

    async def _chat_of(self, where: Where, user_id: str) -> tuple[str, str]:
        if where.personal and user_id == where.user_id:
            return where.conversation_id, where.service_url
        return await personal_chat(
            self.store,
            self.connector,
            where.tenant_id,
            user_id,
            service_url=where.service_url,
            bot_id=where.bot_id,
        )

    async def _to_person(self, where: Where, user_id: str, content: Message | Form) -> None:
        conversation, service_url = await self._chat_of(where, user_id)
        # An answer to something asked in a channel goes to the asker's own chat: its
        # buttons say which channel, sealed for this person, so that pressing them there
        # acts in that channel, and nobody can write in another.
        channel = where.conversation_id.partition(";messageid=")[0]
        asked = (
            self.binder.seal(where.tenant_id, user_id, channel)
            if not where.personal and user_id == where.user_id
            else None
        )
        activity = activity_of(content, translator(where.language), asked_in_channel=asked)
        await self.connector.send(service_url, conversation, activity)

    async def _offer_file(self, where: Where, user_id: str, file: FileMessage) -> None:
        """Teams takes a bot's file only with the person's consent, in their own chat: a
        consent card now, the upload when they accept (bot/teams/files.py). A picture also
        shows in a card at once, when it fits in one."""
        t = translator(where.language)
        conversation, service_url = await self._chat_of(where, user_id)
        async with self.store.transaction() as repos:
            await repos.offered_files.forget_before(utcnow() - OFFER_KEPT)  # unanswered ones
            file_id = await repos.offered_files.offer(
                where.tenant_id, user_id, file.filename, file.content
            )
        if file.filename.lower().endswith(".png"):
            inline = _inline_picture(file)
            if inline is not None:
                await self.connector.send(service_url, conversation, inline)
        await self.connector.send(service_url, conversation, consent_card(file, file_id, t))

    async def _group_thread(
        self,
        where: Where,
        channel: Conversation,
        user_ids: tuple[str, ...],
        content: Message,
        t: Translator,
    ) -> None:
        """A new thread in the cohort's channel that @mentions each buddy: Teams lets a bot
        start one, and a mention notifies each of them."""
        async with self.store.transaction() as repos:
            names = []
            for user_id in user_ids:
                person = await repos.people.by_account(PLATFORM, channel.workspace, user_id)
                names.append(person.display_name if person else user_id)
        entities: list[dict[str, Any]] = [
            {
                "type": "mention",
                "text": f"<at>{html.escape(name)}</at>",
                "mentioned": {"id": user_id, "name": name},
            }
            for user_id, name in zip(user_ids, names, strict=True)
        ]
        activity = activity_of(content, t)
        activity["text"] = " ".join(e["text"] for e in entities)
        activity["entities"] = entities
        await self.connector.send(where.service_url, channel.conversation_id, activity)


def _banner(text: str) -> dict[str, Any]:
    return {"statusCode": 200, "type": INVOKE_MESSAGE, "value": text}


def _split(message: Message) -> tuple[Message, Message | None]:
    """What a click did (up to the first divider), its buttons gone, and what comes next
    (the next question)."""
    blocks = message.blocks
    cut = next((n for n, b in enumerate(blocks) if isinstance(b, Divider)), None)
    if cut is None or cut == 0:
        return message, None
    done = tuple(b for b in blocks[:cut] if not isinstance(b, Choices))
    then = blocks[cut + 1 :]
    summary = message.summary
    return Message(done, summary), (Message(then, summary) if then else None)


def _inline_picture(file: FileMessage) -> dict[str, Any] | None:
    """The picture in a card as a data URL, if the card stays within Teams' size."""
    url = "data:image/png;base64," + base64.b64encode(file.content).decode("ascii")
    shown = card(MessageBuilder().para(file.title).build())
    shown["body"].append(image(url, file.title))
    if card_size(shown) > CARD_BYTES:
        return None
    return {
        "type": "message",
        "summary": file.title,
        "attachments": [{"contentType": CARD, "content": shown}],
    }
