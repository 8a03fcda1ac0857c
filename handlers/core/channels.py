"""A cohort's channels, and messages for another platform than the one at hand.

A cohort can meet in a Slack channel and a Teams channel at once: its own channel
and any others. A post for the whole cohort goes to each; a theme's post starts a
thread in each, and each channel's thread is the digilog there.

An adapter can only write to its own platform. Whatever a handler sends elsewhere (a
post in the cohort's Teams channel after a facilitator's Slack command, a buddy on
the other platform) is handed to the outbox as a `relay` delivery, the message kept
as JSON; the courier of that platform sends it once, from whichever process serves it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from handlers.core.context import cohort_channel
from handlers.core.vocabulary import (
    Conversation,
    Destination,
    Message,
    Outgoing,
    ToConversation,
    ToGroup,
    ToPerson,
    message_from_json,
    message_json,
)
from storage.deliveries import Planned
from storage.models import Cohort, Delivery, ThemeRun
from storage.unit import Repositories

RELAY = "relay"
RELAY_RELEVANCE = timedelta(days=7)
WAIT_FOR_ROOT = timedelta(seconds=30)  # the theme's post in that channel is on its way


@dataclass(frozen=True)
class Channel:
    conversation: Conversation
    channel_id: int | None  # None: the cohort's own channel


async def channels_of(repos: Repositories, cohort: Cohort) -> list[Channel]:
    own = [Channel(cohort_channel(cohort), None)]
    return own + [
        Channel(Conversation(c.platform, c.workspace, c.conversation_id), c.id)
        for c in await repos.cohorts.other_channels(cohort.id)
    ]


async def to_every_channel(
    repos: Repositories, cohort: Cohort, message: Message, receipt: str | None = None
) -> list[Outgoing]:
    """The post for each of the cohort's channels (those elsewhere are relayed)."""
    return [
        Outgoing(ToConversation(channel.conversation), message, receipt=receipt)
        for channel in await channels_of(repos, cohort)
    ]


def platform_of(to: Destination) -> tuple[str, str] | None:
    match to:
        case ToConversation(conversation=conversation):
            return conversation.platform, conversation.workspace
        case (
            ToPerson(platform=platform, workspace=workspace)
            | ToGroup(platform=platform, workspace=workspace)
        ):
            return platform, workspace
    return None  # the person who acted, or their home page: always here


async def hand_over(
    repos: Repositories,
    cohort: Cohort | None,
    outgoing: list[Outgoing],
    here: tuple[str, str],
    now: datetime,
) -> list[Outgoing]:
    """What the adapter at hand (platform, workspace) sends itself; the rest is relayed."""
    kept: list[Outgoing] = []
    for item in outgoing:
        target = platform_of(item.to)
        if cohort is None or target is None or target == here:
            kept.append(item)
            continue
        if not isinstance(item.message, Message):
            continue  # forms and files only ever go to the person at hand
        # Neither platform can open a conversation with people of another: one each.
        destinations: list[ToConversation | ToPerson] = (
            [ToPerson(item.to.platform, item.to.workspace, u) for u in item.to.user_ids]
            if isinstance(item.to, ToGroup)
            else [item.to]
            if isinstance(item.to, ToConversation | ToPerson)
            else []
        )
        for to in destinations:
            await relay(repos, cohort, to, item.message, now=now, receipt=item.receipt)
    return kept


async def mirror(
    repos: Repositories,
    cohort: Cohort,
    message: Message,
    *,
    key: str,
    now: datetime,
    receipt: str | None = None,
    theme: int | None = None,
) -> None:
    """A post of the sender's for the cohort's other channels (their theme threads, with
    `theme`): its own channel's is sent as the delivery itself."""
    for channel in (await channels_of(repos, cohort))[1:]:
        await relay(
            repos,
            cohort,
            ToConversation(channel.conversation),
            message,
            now=now,
            receipt=receipt,
            key=f"{key}:ch{channel.channel_id}",
            channel_id=channel.channel_id,
            theme=theme,
        )


async def relay(
    repos: Repositories,
    cohort: Cohort,
    to: ToConversation | ToPerson,
    message: Message,
    *,
    now: datetime,
    receipt: str | None = None,
    key: str | None = None,
    channel_id: int | None = None,
    theme: int | None = None,
) -> None:
    """One delivery for another platform's courier. A key makes it once for good; without
    one, the handled event's own deduplication keeps it from being planned twice."""
    if isinstance(to, ToConversation):
        c = to.conversation
        address: dict[str, Any] = {
            "conversation": [c.platform, c.workspace, c.conversation_id, c.thread_id],
            "channel_id": channel_id,
        }
    else:
        address = {"person": [to.platform, to.workspace, to.user_id]}
    await repos.deliveries.add(
        [
            Planned(
                key=f"{RELAY}:{key or uuid.uuid4().hex}",
                cohort_id=cohort.id,
                kind=RELAY,
                due_at=now,
                relevant_until=now + RELAY_RELEVANCE,
                detail={
                    **address,
                    "message": message_json(message),
                    "receipt": receipt,
                    "theme": theme,
                },
            )
        ]
    )


async def relayed(repos: Repositories, delivery: Delivery, now: datetime) -> Outgoing | datetime:
    """What a relay delivery sends; or, for a note in a theme's thread whose root has not
    gone out in that channel yet, when to look again."""
    detail = delivery.detail or {}
    message = message_from_json(detail["message"])
    if "person" in detail:
        return Outgoing(ToPerson(*detail["person"]), message)
    platform, workspace, conversation_id, thread_id = detail["conversation"]
    conversation = Conversation(platform, workspace, conversation_id, thread_id)
    theme = detail.get("theme")
    if theme is not None:
        run = await repos.themes.get(delivery.cohort_id, theme)
        root = await root_in(repos, run, detail.get("channel_id")) if run else None
        if root is None:
            return now + WAIT_FOR_ROOT
        conversation = conversation.thread(root)
    return Outgoing(ToConversation(conversation), message, receipt=detail.get("receipt"))


async def root_in(repos: Repositories, run: ThemeRun, channel_id: int | None) -> str | None:
    """The theme post's id in a channel of the cohort (None: its own)."""
    if channel_id is None:
        return run.post_message_id
    return await repos.themes.post_in(run.id, channel_id)


async def thread_on(
    repos: Repositories, cohort: Cohort, run: ThemeRun, platform: str, workspace: str
) -> Conversation | None:
    """The theme's thread in the cohort's channel on that platform, if it has one."""
    for channel in await channels_of(repos, cohort):
        conversation = channel.conversation
        if (conversation.platform, conversation.workspace) == (platform, workspace):
            root = await root_in(repos, run, channel.channel_id)
            return conversation.thread(root) if root else None
    return None


async def channel_id_of(repos: Repositories, cohort: Cohort, where: Conversation) -> int | None:
    """Which of the cohort's other channels a conversation is (None: its own, or none)."""
    for channel in (await channels_of(repos, cohort))[1:]:
        c = channel.conversation
        if (c.platform, c.workspace, c.conversation_id) == (
            where.platform,
            where.workspace,
            where.conversation_id,
        ):
            return channel.channel_id
    return None
