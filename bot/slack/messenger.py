"""Neutral outgoing messages out through the Slack Web API: the outbound half of the adapter."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.lanes import Lanes, Throttled, all_sent, lane_of
from bot.slack.blocks import render_home, render_message, render_modal
from bot.webhooks import WebhookPoster
from handlers.core.vocabulary import (
    Delivered,
    FileMessage,
    Form,
    Message,
    Outgoing,
    Paragraph,
    Span,
    ToActor,
    ToConversation,
    ToGroup,
    ToHome,
    ToPerson,
)
from handlers.digilog import Digilog

log = logging.getLogger(__name__)


@dataclass
class Origin:
    """Where the request came from, for replies that only the person should see."""

    client: AsyncWebClient
    team: str
    user_id: str
    poster: WebhookPoster  # for the response_url
    channel_id: str | None = None
    thread_ts: str | None = None
    trigger_id: str | None = None
    response_url: str | None = None  # of a command or interaction, when Slack gave one
    replace_original: bool = False  # an ephemeral question answered in place


@dataclass
class _Progress:
    """Parts of a message already sent: a retry after a 429 goes on from the next."""

    parts: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def deliver(
    digilog: Digilog, origin: Origin, outgoing: list[Outgoing], lanes: Lanes
) -> Awaitable[None] | None:
    """Hand each reply to its destination's lane; what is returned finishes when all went
    (and raises the first failure, after the others were tried). One reply's is its
    lane's own future, which the journal waits on without a task (bot/work.py)."""
    if not outgoing:
        return None
    futures = [
        lanes.send(
            lane_of("slack", origin.team, origin.user_id, item),
            partial(_send, digilog, origin, item, _Progress()),
        )
        for item in outgoing
    ]
    return futures[0] if len(futures) == 1 else all_sent(futures)


async def _send(digilog: Digilog, origin: Origin, item: Outgoing, progress: _Progress) -> None:
    try:
        await _deliver(digilog, origin, item, progress)
    except SlackApiError as error:
        if getattr(error.response, "status_code", None) == 429:
            raise Throttled(retry_after(getattr(error.response, "headers", None))) from error
        raise RuntimeError(f"Slack refused {type(item.to).__name__}: {refusal(error)}") from error


def retry_after(headers: Mapping[str, Any] | None) -> float:
    """Slack's Retry-After, in seconds (1 when it is missing or odd)."""
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) and value else value
            try:
                return max(0.0, float(raw))
            except (TypeError, ValueError):
                return 1.0
    return 1.0


def refusal(error: SlackApiError) -> str:
    """Slack's error code, also when the answer was not Slack's JSON (a proxy's page, say)."""
    response = error.response
    data = getattr(response, "data", response)
    if isinstance(data, Mapping) and data.get("error"):
        return str(data["error"])
    return f"HTTP {getattr(response, 'status_code', '?')}"


async def _deliver(digilog: Digilog, origin: Origin, item: Outgoing, progress: _Progress) -> None:
    message = item.message
    if isinstance(message, Form):
        await _open_form(origin, message)
        return
    if isinstance(message, FileMessage):
        await _upload(origin, message)
        return
    if any(
        span.ref is not None
        for block in message.blocks
        for span in (block.spans if isinstance(block, Paragraph) else ())
    ):
        message = await resolve_refs(origin.client, message, {})  # links to threads
    match item.to:
        case ToActor():
            await _to_actor(origin, message, progress)
        case ToHome():
            await origin.client.views_publish(user_id=origin.user_id, view=render_home(message))
        case ToConversation(conversation=conversation):
            ts = await _post(
                origin.client,
                conversation.conversation_id,
                conversation.thread_id,
                message,
                progress,
            )
            if item.receipt is not None and ts is not None:
                await digilog.delivered(Delivered(item.receipt, conversation, ts))
        case ToPerson(user_id=user_id):
            channel = await _open(origin.client, user_id, progress)
            await _post(origin.client, channel, None, message, progress)
        case ToGroup(user_ids=user_ids):
            channel = await _open(origin.client, ",".join(user_ids), progress)
            await _post(origin.client, channel, None, message, progress)


async def _open(client: AsyncWebClient, users: str, progress: _Progress) -> str:
    """The direct conversation's id, opened once even when a post is tried again."""
    if "channel" not in progress.extra:
        opened = await client.conversations_open(users=users)
        progress.extra["channel"] = opened["channel"]["id"]
    return str(progress.extra["channel"])


async def _post(
    client: AsyncWebClient,
    channel: str,
    thread_ts: str | None,
    message: Message,
    progress: _Progress,
) -> str | None:
    """Post a message (in several parts past Slack's limits); the first part's ts is its id."""
    parts = render_message(message)
    for part in parts[progress.parts :]:
        response = await client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, text=part.text, blocks=part.blocks
        )
        progress.extra.setdefault("ts", response.get("ts"))
        progress.parts += 1
    first = progress.extra.get("ts")
    return str(first) if first else None


async def _respond(origin: Origin, body: bytes) -> None:
    """Post to the response_url; Slack answers 429 there too, per URL. On a kept
    connection of its own (bot/webhooks.py): slack_sdk's webhook client cost a reply more
    than the POST itself, and aiohttp's client three times what this does."""
    assert origin.response_url is not None
    answer = await origin.poster.post(origin.response_url, body, _JSON)
    if answer.status == 429:
        raise Throttled(retry_after(answer.headers))
    if answer.status >= 300:
        raise RuntimeError(f"the response_url answered HTTP {answer.status}")


_JSON = "application/json; charset=utf-8"


async def _to_actor(origin: Origin, message: Message, progress: _Progress) -> None:
    parts = render_message(message)
    for i, part in enumerate(parts):
        if i < progress.parts:
            continue
        if origin.response_url is not None:
            await _respond(
                origin, part.response_body(replace_original=origin.replace_original and i == 0)
            )
        elif origin.channel_id:
            await origin.client.chat_postEphemeral(
                channel=origin.channel_id,
                user=origin.user_id,
                thread_ts=origin.thread_ts,
                text=part.text,
                blocks=part.blocks,
            )
        else:
            channel = await _open(origin.client, origin.user_id, progress)
            await origin.client.chat_postMessage(
                channel=channel, text=part.text, blocks=part.blocks
            )
        progress.parts += 1


async def resolve_refs(
    client: AsyncWebClient, message: Message, known: dict[tuple[str, str], str]
) -> Message:
    """Links to threads (a bank entry's) become Slack permalinks, or plain text if Slack has
    none; the courier does the same for scheduled posts, paced as they are."""

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
            log.warning("no permalink for a message: %s", refusal(error))
            return replace(value, ref=None)

    blocks = [
        Paragraph(tuple([await span(s) for s in block.spans]))
        if isinstance(block, Paragraph)
        else block
        for block in message.blocks
    ]
    return replace(message, blocks=tuple(blocks))


async def _upload(origin: Origin, file: FileMessage) -> None:
    """Files go to the person's direct conversation with the bot: exports are not for a channel."""
    opened = await origin.client.conversations_open(users=origin.user_id)
    await origin.client.files_upload_v2(
        channel=opened["channel"]["id"],
        filename=file.filename,
        content=file.content,
        title=file.title,
        initial_comment=file.comment,
    )


async def _open_form(origin: Origin, form: Form) -> None:
    if origin.trigger_id is None:
        log.warning("a form without a trigger_id cannot be opened: %s", form.form_id)
        return
    metadata = json.dumps({"channel": origin.channel_id, "thread": origin.thread_ts})
    view = render_modal(form, callback_id=form.form_id, private_metadata=metadata)
    await origin.client.views_open(trigger_id=origin.trigger_id, view=view)
