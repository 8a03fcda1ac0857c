"""Slack payloads in, neutral events out: the inbound half of the Slack adapter."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.slack.blocks import chosen_action_id
from handlers.vocabulary import (
    Actor,
    ChoiceMade,
    CommandReceived,
    Conversation,
    Inbound,
    MessageSaved,
    PostDeleted,
    PostEdited,
    ThreadPost,
)

PLATFORM = "slack"
# With "escape channels, users and links" on, Slack writes <@U123|name> and <#C123|name>.
_ESCAPED_ENTITY = re.compile(r"<([@#!])([A-Z0-9_]+)(?:\|[^>]*)?>")
_MENTION = re.compile(r"<@([A-Z0-9_]+)(?:\|[^>]*)?>")

Payload = Mapping[str, Any]


def team_of(body: Payload) -> str:
    """The workspace: team_id of a command, team.id of an interaction, team_id of an event."""
    team = body.get("team_id") or body.get("team")
    if isinstance(team, Mapping):
        team = team.get("id")
    user = body.get("user")
    if not team and isinstance(user, Mapping):
        team = user.get("team_id")
    return str(team or "")


def unescape_command(text: str) -> str:
    """`enrol <@U123|anna> umea` → `enrol U123 umea`: handlers see plain ids."""
    text = _ESCAPED_ENTITY.sub(lambda m: m.group(2), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mentions(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_MENTION.findall(text)))


def plain_text(text: str, names: Mapping[str, str]) -> str:
    """A message as it reads to people: mentions as @name, Slack's escapes undone."""

    def entity(match: re.Match[str]) -> str:
        kind, ident = match.group(1), match.group(2)
        if kind == "@":
            return "@" + names.get(ident, ident)
        label = match.group(0).partition("|")[2].rstrip(">")
        return ("#" if kind == "#" else "@") + (label or ident)

    text = _ESCAPED_ENTITY.sub(entity, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def actor(
    team: str,
    user_id: str,
    *,
    name: str | None = None,
    locale: str | None = None,
    email: str | None = None,
    timezone: str | None = None,
) -> Actor:
    return Actor(PLATFORM, team, user_id, name, locale, email, timezone)


def conversation(team: str, channel: str, thread: str | None = None) -> Conversation:
    return Conversation(PLATFORM, team, channel, thread)


def command(body: Payload, who: Actor) -> CommandReceived:
    where = conversation(team_of(body), str(body.get("channel_id", "")))
    return CommandReceived(who, where, unescape_command(str(body.get("text", ""))))


def choice(body: Payload, who: Actor) -> ChoiceMade | None:
    actions = body.get("actions") or []
    if not actions:
        return None
    return ChoiceMade(who, where_of_interaction(body), chosen_action_id(actions[0]))


def where_of_interaction(body: Payload) -> Conversation:
    team = team_of(body)
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id", ""
    )
    message = body.get("message") or {}
    thread = message.get("thread_ts")
    return conversation(team, str(channel), str(thread) if thread else None)


def saved_message(body: Payload, who: Actor, names: Mapping[str, str]) -> MessageSaved:
    message = body.get("message") or {}
    ts = str(message.get("ts", ""))
    thread = message.get("thread_ts")
    where = conversation(team_of(body), str((body.get("channel") or {}).get("id", "")), thread)
    return MessageSaved(
        who,
        where,
        ts,
        str(message.get("user", "")),
        plain_text(str(message.get("text", "")), names),
    )


# A reply also sent to the channel, or with a file attached, is still the person's post.
POST_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})


def message_event(event: Payload, team: str, names: Mapping[str, str]) -> Inbound | None:
    """A message event as a neutral event; None for what the bank must not hold."""
    subtype = event.get("subtype")
    channel = str(event.get("channel", ""))
    if subtype in POST_SUBTYPES:
        thread = event.get("thread_ts")
        user = event.get("user")
        if not thread or not user or event.get("bot_id") or thread == event.get("ts"):
            return None  # not a reply in a thread, or a bot's
        text = str(event.get("text", ""))
        return ThreadPost(
            actor(team, str(user)),
            conversation(team, channel, str(thread)),
            str(event["ts"]),
            plain_text(text, names),
            mentions=mentions(text),
        )
    if subtype == "message_changed":
        message = event.get("message") or {}
        user, thread = message.get("user"), message.get("thread_ts")
        if not user or message.get("bot_id"):
            return None
        return PostEdited(
            actor(team, str(user)),
            conversation(team, channel, str(thread) if thread else None),
            str(message.get("ts", "")),
            plain_text(str(message.get("text", "")), names),
        )
    if subtype == "message_deleted":
        previous = event.get("previous_message") or {}
        user, thread = previous.get("user"), previous.get("thread_ts")
        if not user:
            return None
        return PostDeleted(
            actor(team, str(user)),
            conversation(team, channel, str(thread) if thread else None),
            str(event.get("deleted_ts") or previous.get("ts", "")),
        )
    return None  # joins, bot messages, file shares and other subtypes are not reflections
