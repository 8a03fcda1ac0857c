"""Scheduled deliveries out through the Slack Web API, at a pace Slack accepts.

**Pace, by Slack's documented tiers** (`bot/pace.py`, one `Pacer` per process shared by
every sender in it): chat.postMessage at most `posts_per_second` per workspace and one a
second per channel; the lookups a sender makes when unsure whether a post went out
(conversations.open, .history, .replies: Tier 3, 50 a minute per method and workspace)
and chat.getPermalink (Tier 4-like, 100 a minute) in their own lanes. A 429 holds the
lane it came from for its Retry-After, lookups included. Every call has a timeout
(`request_seconds`) well inside the sender's lease.

**An outage** (no answer in time, a dropped connection, HTTP 5xx) holds the whole
workspace with a capped, jittered backoff: the next calls give their rows back to the
outbox (`Busy`, nothing sent) instead of each pushing one more row into doubt. A post
whose answer was lost, or that got a 5xx (Slack: "some aspect of the operation may have
succeeded"), is `OutcomeUnknown`: the row stays in doubt until a lookup settles it.
Could not connect at all: nothing left, the row simply waits.

Each message carries its delivery key in Slack's message metadata, so a sender that
is unsure whether an earlier attempt went out can look for it before sending again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.pace import Busy, Key, Limit, Pacer
from bot.settings import Settings
from bot.slack.blocks import render_message
from handlers.core.vocabulary import (
    Block,
    BulletList,
    Message,
    Outgoing,
    Paragraph,
    Span,
    ToConversation,
    ToPerson,
)
from schedules.courier import NO_ANSWER, OutcomeUnknown, Refused, Sent, TryLater

log = logging.getLogger(__name__)

METADATA_TYPE = "digilog_delivery"
PER_CHANNEL_SECONDS = 1.0
TIER_3_PER_MINUTE = 50  # conversations.open, .history, .replies
TIER_4_PER_MINUTE = 100  # chat.getPermalink
# A call taking longer is given up (its outcome unknown): a post, a wait for its turn and
# a lookup stay well inside the sender's 60 s lease, which the sender extends meanwhile.
REQUEST_SECONDS = 10.0
LONGEST_WAIT = 5.0  # a longer wait for a turn gives the row back to the outbox
POST, CHANNEL, TIER_3, TIER_4 = "post", "channel", "tier3", "tier4"
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
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        session=session,
        retry_handlers=[],
        timeout=int(REQUEST_SECONDS),
    )


def slack_limits(
    posts_per_second: float,
    per_channel_seconds: float = PER_CHANNEL_SECONDS,
    tier3_per_minute: int = TIER_3_PER_MINUTE,
) -> dict[str, tuple[Limit, ...]]:
    # A few posts a window rather than strict spacing: a turn that came late is made up
    # by the next ones, so small delays of the event loop do not add up to a lower rate.
    burst = max(1, round(posts_per_second / 4))
    return {
        POST: (Limit(burst, burst / posts_per_second),),
        CHANNEL: (Limit(1, per_channel_seconds),) if per_channel_seconds > 0 else (),
        TIER_3: (Limit(tier3_per_minute, 60.0),),
        TIER_4: (Limit(TIER_4_PER_MINUTE, 60.0),),
    }


def slack_courier(
    settings: Settings, engine: AsyncEngine, session: aiohttp.ClientSession
) -> SlackCourier:
    """A courier for the one workspace of a bot token, or for every OAuth installation."""

    def client(token: str) -> AsyncWebClient:
        return courier_client(token, settings.slack_api_url, session)

    pacer = Pacer(
        slack_limits(
            settings.slack_posts_per_second,
            tier3_per_minute=settings.slack_lookups_per_minute,
        )
    )

    if settings.slack_client_id:
        # Here: its Fernet (cryptography) is loaded only where tokens are stored sealed.
        from bot.slack.secure_store import sealed_installation_store

        store = sealed_installation_store(settings, engine)

        async def installed(workspace: str) -> AsyncWebClient:
            bot = await store.async_find_bot(enterprise_id=None, team_id=workspace)
            if bot is None or not bot.bot_token:
                raise Refused(f"Digilog is not installed in workspace {workspace}", permanent=True)
            return client(bot.bot_token)

        return SlackCourier(installed, settings.slack_posts_per_second, pacer=pacer)
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    single = client(token)

    async def one(workspace: str) -> AsyncWebClient:
        return single

    return SlackCourier(one, settings.slack_posts_per_second, pacer=pacer)


class SlackCourier:
    def __init__(
        self,
        client_for: ClientFor,
        posts_per_second: float,
        per_channel_seconds: float = PER_CHANNEL_SECONDS,
        *,
        pacer: Pacer | None = None,
        request_seconds: float = REQUEST_SECONDS,
        longest_wait: float = LONGEST_WAIT,
    ) -> None:
        self.client_for = client_for
        self.pacer = pacer or Pacer(slack_limits(posts_per_second, per_channel_seconds))
        self.request_seconds, self.longest_wait = request_seconds, longest_wait
        # A fan-out links every nudge to the same thread: one lookup serves them all.
        self._permalinks: dict[tuple[str, str], str] = {}
        # (workspace, user) → their direct conversation with the bot, from every post and
        # conversations.open: a lookup after an outage then needs no conversations.open.
        self._direct: dict[tuple[str, str], str] = {}

    async def _call(
        self,
        workspace: str,
        lanes: tuple[Key, ...],
        call: Callable[[], Awaitable[Any]],
        *,
        retry_lane: Key,
    ) -> Any:
        """One Web API call: its turn in its lanes, a timeout, and what its failure says.

        Raises Busy (not sent: a lane held or full), TryLater (429, not sent),
        OutcomeUnknown (no answer or 5xx: it may have been done), Refused."""
        try:
            await self.pacer.turn(workspace, lanes, self.longest_wait, "Slack: paced")
        except Busy as busy:
            # Posting is what waits (not only a lookup): every row of the workspace waits.
            busy.whole = busy.whole or lanes[0][0] == POST
            raise
        try:
            async with asyncio.timeout(self.request_seconds):
                response = await call()
        except SlackApiError as error:
            status = error.response.status_code
            if status == 429:
                self.pacer.answered(workspace)
                seconds = float(error.response.headers.get("Retry-After", 1))
                self.pacer.retry_after(retry_lane, seconds)
                raise TryLater(
                    seconds, "Slack: ratelimited", whole=retry_lane[0] == POST
                ) from error
            answer = error.response.data
            if status >= 500 or not isinstance(answer, dict) or not answer:
                held = self.pacer.no_answer(workspace)
                log.warning(
                    "Slack answered HTTP %s; holding workspace %s for %.1f s",
                    status,
                    workspace,
                    held,
                )
                raise OutcomeUnknown(f"Slack: HTTP {status}") from error
            self.pacer.answered(workspace)
            code = str(error.response.get("error", "unknown_error"))
            raise Refused(f"Slack: {code}", permanent=code in PERMANENT_ERRORS) from error
        except aiohttp.ClientConnectorError as error:
            # No connection: the request never left, so nothing can have been done.
            held = self.pacer.no_answer(workspace)
            raise Busy(held, f"Slack: no connection: {error}", outage=True) from error
        except (aiohttp.ClientError, TimeoutError) as error:
            held = self.pacer.no_answer(workspace)
            log.warning(
                "Slack did not answer (%s); holding workspace %s for %.1f s",
                str(error) or type(error).__name__,
                workspace,
                held,
            )
            raise OutcomeUnknown(f"Slack: {str(error) or type(error).__name__}") from error
        self.pacer.answered(workspace)
        return response

    async def send(self, key: str, outgoing: Outgoing) -> Sent:
        workspace, channel, thread = _target(outgoing)
        if not isinstance(outgoing.message, Message):
            raise Refused("only messages are scheduled, not forms or files", permanent=True)
        client = await self.client_for(workspace)
        message = await self._resolve_refs(client, workspace, outgoing.message)
        metadata = {"event_type": METADATA_TYPE, "event_payload": {"key": key}}
        post_lane: Key = (POST, workspace)
        first: Sent | None = None
        for part in render_message(message):
            lanes = (post_lane, (CHANNEL, f"{workspace}:{channel}"))
            tagged = metadata if first is None else None
            try:
                response = await self._call(
                    workspace,
                    lanes,
                    lambda part=part, tagged=tagged: client.chat_postMessage(  # type: ignore[misc]
                        channel=channel,
                        thread_ts=thread,
                        text=part.text,
                        blocks=part.blocks,
                        metadata=tagged,
                    ),
                    retry_lane=post_lane,
                )
            except (TryLater, Refused, OutcomeUnknown) as error:
                if first is None:
                    raise
                # The message is out, only a later part is not: it is not sent again.
                log.error("part of delivery %s was not sent: %s", key, error)
                break
            # Posting to a user id lands in the direct conversation; Slack names it.
            first = first or Sent(str(response["channel"]), str(response["ts"]))
        assert first is not None
        if channel.startswith(("U", "W")):
            self._direct[workspace, channel] = first.conversation_id
        return first

    async def find(self, key: str, outgoing: Outgoing, since: datetime) -> Sent | None:
        workspace, channel, thread = _target(outgoing)
        client = await self.client_for(workspace)
        if channel.startswith(("U", "W")):
            user = channel
            if (workspace, user) not in self._direct:
                opened = await self._lookup(
                    workspace,
                    "conversations.open",
                    lambda: client.conversations_open(users=user),
                )
                self._direct[workspace, user] = str(opened["channel"]["id"])
            channel = self._direct[workspace, user]
        oldest = f"{since.timestamp() - 1:.6f}"
        cursor: str | None = None
        for _ in range(FIND_PAGES):
            if thread:
                page = await self._lookup(
                    workspace,
                    "conversations.replies",
                    lambda cursor=cursor: client.conversations_replies(  # type: ignore[misc]
                        channel=channel,
                        ts=thread,
                        oldest=oldest,
                        cursor=cursor,
                        include_all_metadata=True,
                        limit=200,
                    ),
                )
            else:
                page = await self._lookup(
                    workspace,
                    "conversations.history",
                    lambda cursor=cursor: client.conversations_history(  # type: ignore[misc]
                        channel=channel,
                        oldest=oldest,
                        cursor=cursor,
                        include_all_metadata=True,
                        limit=200,
                    ),
                )
            for found in page.get("messages") or []:
                if _key_of(found) == key:
                    return Sent(channel, str(found["ts"]))
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        raise OutcomeUnknown(f"more than {FIND_PAGES * 200} messages to look through")

    async def _lookup(self, workspace: str, method: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """A Tier 3 read: paced per method and workspace, honouring its Retry-After."""
        lane: Key = (TIER_3, f"{workspace}:{method}")
        return await self._call(workspace, (lane,), call, retry_lane=lane)

    async def _resolve_refs(
        self, client: AsyncWebClient, workspace: str, message: Message
    ) -> Message:
        """Links to messages become Slack permalinks (or plain text if Slack has none)."""
        known = self._permalinks
        lane: Key = (TIER_4, f"{workspace}:chat.getPermalink")

        async def span(value: Span) -> Span:
            if value.ref is None or value.ref.thread_id is None:
                return value
            where = (value.ref.conversation_id, value.ref.thread_id)
            if where not in known:
                try:
                    found = await self._call(
                        workspace,
                        (lane,),
                        lambda: client.chat_getPermalink(channel=where[0], message_ts=where[1]),
                        retry_lane=lane,
                    )
                except Refused as refused:
                    log.warning("no permalink for a message: %s", refused.reason)
                    return replace(value, ref=None)
                except OutcomeUnknown as unknown:
                    # A read: nothing was sent, so the row may simply wait.
                    raise TryLater(1.0, str(unknown), NO_ANSWER) from unknown
                known[where] = str(found["permalink"])
            return replace(value, link=known[where], ref=None)

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
            if conversation.thread_id == "":
                # A thread whose first message's id was lost: an empty thread_ts would put
                # the reply in the channel instead.
                raise Refused("Slack: the thread's first message id is unknown", permanent=True)
            return conversation.workspace, conversation.conversation_id, conversation.thread_id
        case ToPerson(workspace=workspace, user_id=user_id):
            return workspace, user_id, None
    # A refusal the sender records, not an error that would leave the row to its lease.
    raise Refused(f"a scheduled delivery cannot go to {type(outgoing.to).__name__}", permanent=True)
