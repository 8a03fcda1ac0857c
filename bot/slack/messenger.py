"""Neutral outgoing messages out through the Slack Web API: the outbound half of the adapter."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.blocks import render_home, render_message, render_modal
from bot.slack.courier import resolve_refs
from handlers.digilog import Digilog
from handlers.vocabulary import (
    Delivered,
    FileMessage,
    Form,
    Message,
    Outgoing,
    Paragraph,
    ToActor,
    ToConversation,
    ToGroup,
    ToHome,
    ToPerson,
)

log = logging.getLogger(__name__)


@dataclass
class Origin:
    """Where the request came from, for replies that only the person should see."""

    client: AsyncWebClient
    team: str
    user_id: str
    channel_id: str | None = None
    thread_ts: str | None = None
    trigger_id: str | None = None
    respond: AsyncRespond | None = None  # the response_url of a command or interaction
    replace_original: bool = False  # an ephemeral question answered in place


async def deliver(digilog: Digilog, origin: Origin, outgoing: list[Outgoing]) -> None:
    for item in outgoing:
        try:
            await _deliver(digilog, origin, item)
        except SlackApiError as error:
            # One failed reply must not stop the others (the theme post still goes out).
            log.error("Slack refused %s: %s", type(item.to).__name__, refusal(error))


def refusal(error: SlackApiError) -> str:
    """Slack's error code, also when the answer was not Slack's JSON (a proxy's page, say)."""
    response = error.response
    data = getattr(response, "data", response)
    if isinstance(data, Mapping) and data.get("error"):
        return str(data["error"])
    return f"HTTP {getattr(response, 'status_code', '?')}"


async def _deliver(digilog: Digilog, origin: Origin, item: Outgoing) -> None:
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
            await _to_actor(origin, message)
        case ToHome():
            await origin.client.views_publish(user_id=origin.user_id, view=render_home(message))
        case ToConversation(conversation=conversation):
            ts = await _post(
                origin.client, conversation.conversation_id, conversation.thread_id, message
            )
            if item.receipt is not None and ts is not None:
                await digilog.delivered(Delivered(item.receipt, conversation, ts))
        case ToPerson(user_id=user_id):
            opened = await origin.client.conversations_open(users=user_id)
            await _post(origin.client, opened["channel"]["id"], None, message)
        case ToGroup(user_ids=user_ids):
            opened = await origin.client.conversations_open(users=",".join(user_ids))
            await _post(origin.client, opened["channel"]["id"], None, message)


async def _post(
    client: AsyncWebClient, channel: str, thread_ts: str | None, message: Message
) -> str | None:
    """Post a message (in several parts past Slack's limits); the first part's ts is its id."""
    first: str | None = None
    for part in render_message(message):
        response = await client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, text=part.text, blocks=part.blocks
        )
        first = first or response.get("ts")
    return first


async def _to_actor(origin: Origin, message: Message) -> None:
    parts = render_message(message)
    for i, part in enumerate(parts):
        if origin.respond is not None:
            await origin.respond(
                text=part.text,
                blocks=part.blocks,
                response_type="ephemeral",
                replace_original=origin.replace_original and i == 0,
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
            opened = await origin.client.conversations_open(users=origin.user_id)
            await origin.client.chat_postMessage(
                channel=opened["channel"]["id"], text=part.text, blocks=part.blocks
            )


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
