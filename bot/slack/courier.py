"""Scheduled deliveries out through the Slack Web API, at a pace Slack accepts.

Slack allows about one message a second per channel and a few hundred a minute per
workspace for chat.postMessage; past that it answers 429 with Retry-After. This
courier spaces its posts under both limits and, when Slack still says wait, holds
every post to that workspace for as long as Slack asked.

Each message carries its delivery key in Slack's message metadata, so a sender that
is unsure whether an earlier attempt went out can look for it before sending again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.settings import Settings
from bot.slack.blocks import render_message
from bot.slack.secure_store import sealed_installation_store
from handlers.vocabulary import (
    Block,
    BulletList,
    Message,
    Outgoing,
    Paragraph,
    Span,
    ToConversation,
    ToPerson,
)
from schedules.courier import OutcomeUnknown, Refused, Sent, TryLater

log = logging.getLogger(__name__)

METADATA_TYPE = "digilog_delivery"
PER_CHANNEL_SECONDS = 1.0
FIND_PAGES = 10  # pages of history to look through for a message that may have gone
# Errors that no retry will mend: the channel, the person or the token is gone.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "user_not_found",
        "user_disabled",
        "account_inactive",
        "cannot_dm_bot",
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "invalid_blocks",
        "msg_too_long",
        "team_not_found",
    }
)

ClientFor = Callable[[str], Awaitable[AsyncWebClient]]


def courier_client(token: str, base_url: str, session: aiohttp.ClientSession) -> AsyncWebClient:
    """A client that never retries by itself (slack_sdk retries a dropped connection by
    default): a retried post that had reached Slack would be a duplicate. The sender
    retries instead, after looking whether it went out."""
    return AsyncWebClient(token=token, base_url=base_url, session=session, retry_handlers=[])


def slack_courier(
    settings: Settings, engine: AsyncEngine, session: aiohttp.ClientSession
) -> SlackCourier:
    """A courier for the one workspace of a bot token, or for every OAuth installation."""

    def client(token: str) -> AsyncWebClient:
        return courier_client(token, settings.slack_api_url, session)

    if settings.slack_client_id:
        store = sealed_installation_store(settings, engine)

        async def installed(workspace: str) -> AsyncWebClient:
            bot = await store.async_find_bot(enterprise_id=None, team_id=workspace)
            if bot is None or not bot.bot_token:
                raise Refused(f"Digilog is not installed in workspace {workspace}", permanent=True)
            return client(bot.bot_token)

        return SlackCourier(installed, settings.slack_posts_per_second)
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    single = client(token)

    async def one(workspace: str) -> AsyncWebClient:
        return single

    return SlackCourier(one, settings.slack_posts_per_second)


class Pace:
    """Spaces calls: at most `per_second` overall, one a second per channel, and none
    while Slack's Retry-After lasts."""

    def __init__(self, per_second: float, per_channel_seconds: float) -> None:
        self.interval = 1.0 / per_second
        self.per_channel = per_channel_seconds
        self._next = 0.0
        self._next_in: dict[str, float] = {}
        self._lock = asyncio.Lock()

    async def turn(self, channel: str) -> None:
        async with self._lock:
            now = time.monotonic()
            at = max(now, self._next, self._next_in.get(channel, 0.0))
            self._next = at + self.interval
            self._next_in[channel] = at + self.per_channel
        if at > now:
            await asyncio.sleep(at - now)

    def hold(self, seconds: float) -> None:
        self._next = max(self._next, time.monotonic() + seconds)


class SlackCourier:
    def __init__(
        self,
        client_for: ClientFor,
        posts_per_second: float,
        per_channel_seconds: float = PER_CHANNEL_SECONDS,
    ) -> None:
        self.client_for = client_for
        self.posts_per_second, self.per_channel_seconds = posts_per_second, per_channel_seconds
        self._paces: dict[str, Pace] = {}
        # A fan-out links every nudge to the same thread: one lookup serves them all.
        self._permalinks: dict[tuple[str, str], str] = {}

    def _pace(self, workspace: str) -> Pace:
        if workspace not in self._paces:
            self._paces[workspace] = Pace(self.posts_per_second, self.per_channel_seconds)
        return self._paces[workspace]

    async def send(self, key: str, outgoing: Outgoing) -> Sent:
        workspace, channel, thread = _target(outgoing)
        if not isinstance(outgoing.message, Message):
            raise Refused("only messages are scheduled, not forms or files", permanent=True)
        client = await self.client_for(workspace)
        message = await resolve_refs(client, outgoing.message, self._permalinks)
        pace = self._pace(workspace)
        metadata = {"event_type": METADATA_TYPE, "event_payload": {"key": key}}
        first: Sent | None = None
        for part in render_message(message):
            await pace.turn(channel)
            try:
                response = await client.chat_postMessage(
                    channel=channel,
                    thread_ts=thread,
                    text=part.text,
                    blocks=part.blocks,
                    metadata=metadata if first is None else None,
                )
            except SlackApiError as error:
                if first is None:
                    raise _translated(error, pace) from error
                # The message is out, only a later part is not: it is not sent again.
                log.error("part of delivery %s was refused: %s", key, error.response.get("error"))
                break
            except (aiohttp.ClientError, TimeoutError) as error:
                if first is None:
                    raise OutcomeUnknown(str(error) or type(error).__name__) from error
                log.error("part of delivery %s may be missing: %s", key, error)
                break
            # Posting to a user id lands in the direct conversation; Slack names it.
            first = first or Sent(str(response["channel"]), str(response["ts"]))
        assert first is not None
        return first

    async def find(self, key: str, outgoing: Outgoing, since: datetime) -> Sent | None:
        workspace, channel, thread = _target(outgoing)
        client = await self.client_for(workspace)
        try:
            if channel.startswith(("U", "W")):
                opened = await client.conversations_open(users=channel)
                channel = str(opened["channel"]["id"])
            oldest = f"{since.timestamp() - 1:.6f}"
            cursor: str | None = None
            for _ in range(FIND_PAGES):
                if thread:
                    page = await client.conversations_replies(
                        channel=channel,
                        ts=thread,
                        oldest=oldest,
                        cursor=cursor,
                        include_all_metadata=True,
                        limit=200,
                    )
                else:
                    page = await client.conversations_history(
                        channel=channel,
                        oldest=oldest,
                        cursor=cursor,
                        include_all_metadata=True,
                        limit=200,
                    )
                for found in page.get("messages") or []:
                    if _key_of(found) == key:
                        return Sent(channel, str(found["ts"]))
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    return None
        except SlackApiError as error:
            raise _translated(error, self._pace(workspace)) from error
        except (aiohttp.ClientError, TimeoutError) as error:
            raise OutcomeUnknown(str(error) or type(error).__name__) from error
        raise OutcomeUnknown(f"more than {FIND_PAGES * 200} messages to look through")


def _key_of(message: dict[str, Any]) -> str | None:
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != METADATA_TYPE:
        return None
    key = (metadata.get("event_payload") or {}).get("key")
    return str(key) if key is not None else None


def _target(outgoing: Outgoing) -> tuple[str, str, str | None]:
    """Workspace, channel and thread; a person is written to by user id."""
    match outgoing.to:
        case ToConversation(conversation=conversation):
            return conversation.workspace, conversation.conversation_id, conversation.thread_id
        case ToPerson(workspace=workspace, user_id=user_id):
            return workspace, user_id, None
    raise ValueError(f"a scheduled delivery cannot go to {type(outgoing.to).__name__}")


def _translated(error: SlackApiError, pace: Pace) -> Exception:
    code = str(error.response.get("error", "unknown_error"))
    if error.response.status_code == 429:
        seconds = float(error.response.headers.get("Retry-After", 1))
        pace.hold(seconds)
        return TryLater(seconds, "Slack: ratelimited")
    return Refused(f"Slack: {code}", permanent=code in PERMANENT_ERRORS)


async def resolve_refs(
    client: AsyncWebClient, message: Message, known: dict[tuple[str, str], str]
) -> Message:
    """Links to messages become Slack permalinks (or plain text if Slack has none)."""

    async def span(value: Span) -> Span:
        if value.ref is None or value.ref.thread_id is None:
            return value
        where = (value.ref.conversation_id, value.ref.thread_id)
        try:
            if where not in known:
                found = await client.chat_getPermalink(channel=where[0], message_ts=where[1])
                known[where] = str(found["permalink"])
            return replace(value, link=known[where], ref=None)
        except SlackApiError as error:
            log.warning("no permalink for a message: %s", error.response.get("error"))
            return replace(value, ref=None)

    blocks: list[Block] = []
    for block in message.blocks:
        if isinstance(block, Paragraph):
            block = Paragraph(tuple([await span(s) for s in block.spans]))
        elif isinstance(block, BulletList):
            block = BulletList(
                tuple([tuple([await span(s) for s in item]) for item in block.items])
            )
        blocks.append(block)
    return replace(message, blocks=tuple(blocks))
