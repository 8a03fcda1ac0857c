"""Slack payloads in, neutral events out: the inbound half of the Slack adapter."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from bot.slack.blocks import chosen_action_id, values_from_view_state
from handlers.core.vocabulary import (
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
_ID = re.compile(r"[A-Z0-9_]{1,40}")  # a user's, channel's or workspace's

Payload = Mapping[str, Any]


# ---------------------------------------------------------------- the payload's shape


def problem(body: object) -> str | None:
    """What makes a payload unusable, or None: checked once, before bolt or Digilog reads it.

    Only the shape that bolt's matchers and this adapter rely on: objects where they
    read keys, strings where they take ids, and a view state from Digilog's own modals.
    """
    if not isinstance(body, Mapping):
        return "the body is not an object"
    wrong = _ids(body, "", "team_id", "enterprise_id", "user_id", "channel_id")
    wrong = wrong or _strings(
        body, "", "type", "callback_id", "trigger_id", "response_url", "event_id"
    )
    if wrong or (wrong := _authorizations_problem(body.get("authorizations"))):
        return wrong
    if "command" in body:
        return _strings(body, "", "command", required=("command",)) or _ids(
            body, "", "user_id", required=("user_id",)
        )
    if body.get("type") == "event_callback":
        return _event_problem(body.get("event"))
    return _interaction_problem(body)


def context_problem(context: Mapping[str, Any]) -> str | None:
    """The ids bolt took from the payload for its context (and its Web API calls)."""
    ids = ("enterprise_id", "team_id", "user_id", "channel_id")
    actors = ("actor_enterprise_id", "actor_team_id", "actor_user_id")
    path = "the context's "
    return _ids(context, path, *ids, *actors) or _strings(context, path, "thread_ts")


def _authorizations_problem(authorizations: object) -> str | None:
    if authorizations is None:
        return None
    if not isinstance(authorizations, list) or not all(
        isinstance(a, Mapping) for a in authorizations
    ):
        return "authorizations is not a list of objects"
    for n, authorization in enumerate(authorizations):
        ids = ("enterprise_id", "team_id", "user_id")
        if wrong := _ids(authorization, f"authorizations[{n}].", *ids):
            return wrong
    return None


def _strings(
    where: Mapping[str, Any], path: str, *keys: str, required: tuple[str, ...] = ()
) -> str | None:
    """What is wrong when one of `keys` is not a string, or a required one is missing."""
    for key in keys:
        value = where.get(key)
        if key in required and not value:
            return f"{path}{key} is missing"
        if value is not None and not isinstance(value, str):
            return f"{path}{key} is a {type(value).__name__}, not a string"
    return None


def _ids(
    where: Mapping[str, Any], path: str, *keys: str, required: tuple[str, ...] = ()
) -> str | None:
    """As _strings, and each one there shaped as Slack's ids are."""
    if wrong := _strings(where, path, *keys, required=required):
        return wrong
    for key in keys:
        if where.get(key) and not _ID.fullmatch(where[key]):
            return f"{path}{key} is not a Slack id"
    return None


def _objects(where: Mapping[str, Any], path: str, *keys: str) -> str | None:
    for key in keys:
        if key in where and not isinstance(where[key], Mapping):
            return f"{path}{key} is a {type(where[key]).__name__}, not an object"
    return None


def _event_problem(event: object) -> str | None:
    if not isinstance(event, Mapping):
        return "event is not an object"
    wrong = _strings(event, "event.", "type", required=("type",))
    if wrong or event["type"] not in ("message", "app_home_opened"):
        return wrong
    ids, strings = ("user", "channel"), ("subtype", "ts", "thread_ts", "deleted_ts", "tab")
    wrong = _ids(event, "event.", *ids) or _strings(event, "event.", *strings)
    wrong = wrong or _objects(event, "event.", "message", "previous_message")
    for key in ("message", "previous_message"):
        inner = event.get(key) or {}
        wrong = wrong or _ids(inner, f"event.{key}.", *ids)
        wrong = wrong or _strings(inner, f"event.{key}.", *strings)
    if event["type"] == "app_home_opened":
        wrong = wrong or _ids(event, "event.", "user", required=("user",))
    return wrong


def _interaction_problem(body: Payload) -> str | None:
    kind = body.get("type")
    wrong = _objects(body, "", "user", "team", "channel", "container", "message")
    wrong = wrong or _objects(body, "", "view")
    if not wrong and body.get("view") is not None:  # bolt reads a view's type unchecked
        wrong = _strings(body["view"], "view.", "type", required=("type",))
    wrong = wrong or _ids(body.get("team") or {}, "team.", "id")
    wrong = wrong or _ids(body.get("channel") or {}, "channel.", "id")
    wrong = wrong or _ids(body.get("container") or {}, "container.", "channel_id")
    if wrong or kind not in ("block_actions", "view_submission", "shortcut", "message_action"):
        return wrong
    wrong = _ids(body.get("user") or {}, "user.", "id", "team_id", required=("id",))
    if kind == "block_actions":
        return wrong or _actions_problem(body.get("actions"))
    if kind == "view_submission":
        return wrong or _view_problem(body.get("view") or {})
    return wrong or _strings(body, "", "callback_id", required=("callback_id",))


def _actions_problem(actions: object) -> str | None:
    if not isinstance(actions, list) or not actions:
        return "actions is not a list of actions"
    for n, action in enumerate(actions):
        if not isinstance(action, Mapping):
            return f"actions[{n}] is not an object"
        wrong = _strings(action, f"actions[{n}].", "action_id", "type", required=("action_id",))
        if wrong := wrong or _objects(action, f"actions[{n}].", "selected_option"):
            return wrong
    return None


def _view_problem(view: Payload) -> str | None:
    wrong = _strings(view, "view.", "callback_id", required=("callback_id",))
    wrong = wrong or _objects(view, "view.", "state")
    if wrong:
        return wrong
    if form_origin(view) is None:
        return "view.private_metadata is not Digilog's"
    try:
        values_from_view_state((view.get("state") or {}).get("values") or {})
    except ValueError as error:
        return f"view.state: {error}"
    return None


def form_origin(view: Payload) -> tuple[str, str | None] | None:
    """(channel, thread) a form was opened from, as messenger.py put them in its metadata."""
    metadata = view.get("private_metadata") or "{}"
    try:
        where = json.loads(metadata) if isinstance(metadata, str) else None
    except ValueError:
        return None
    if not isinstance(where, dict):
        return None
    channel, thread = where.get("channel") or "", where.get("thread") or None
    if not isinstance(channel, str) or not isinstance(thread, str | None):
        return None
    return channel, thread


# ---------------------------------------------------------------- translation


def team_of(body: Payload) -> str:
    """The workspace: team_id of a command, team.id of an interaction, team_id of an event."""
    team = body.get("team_id") or body.get("team")
    if isinstance(team, Mapping):
        team = team.get("id")
    user = body.get("user")
    if not team and isinstance(user, Mapping):
        team = user.get("team_id")
    return team if isinstance(team, str) else ""


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


def click_to_keep(body: Payload) -> dict[str, Any]:
    """What the work after the ack reads of a checked block_actions payload (`problem`):
    who clicked where, which button, and how to answer. The inbound journal stores no
    more of it: the clicked message's text and blocks, the person's name and a view's
    contents are not Digilog's to keep, and a channel post's blocks made the row many
    times larger."""
    kept: dict[str, Any] = {
        key: body[key]
        for key in ("type", "is_enterprise_install", "trigger_id", "response_url")
        if key in body
    }
    for key, fields in _KEPT_OF_A_CLICK.items():
        if isinstance(part := body.get(key), Mapping):
            kept[key] = {field: part[field] for field in fields if field in part}
    kept["actions"] = [
        {field: action[field] for field in _KEPT_OF_AN_ACTION if field in action}
        for action in (body.get("actions") or [])[:1]
        if isinstance(action, Mapping)
    ]
    return kept


_KEPT_OF_A_CLICK: Final = {
    "team": ("id",),
    "enterprise": ("id",),
    "user": ("id", "team_id"),
    "channel": ("id",),
    "container": ("type", "channel_id", "message_ts", "thread_ts", "is_ephemeral", "view_id"),
    "message": ("ts", "thread_ts"),
}
_KEPT_OF_AN_ACTION: Final = ("type", "action_id", "block_id", "value", "selected_option")


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
        ts = event.get("ts")
        if not thread or not user or not ts or event.get("bot_id") or thread == ts:
            return None  # not a reply in a thread, or a bot's
        text = str(event.get("text", ""))
        return ThreadPost(
            actor(team, str(user)),
            conversation(team, channel, str(thread)),
            str(ts),
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
