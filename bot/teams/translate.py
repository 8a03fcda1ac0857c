"""Teams activities into the neutral events of handlers/core/vocabulary.py: the inbound half.

In a Teams channel, a conversation id ends in `;messageid=<root>` when the activity
belongs to a thread: that root is the theme post, and the thread is its digilog.
A command is a message that @mentions the bot (or any message in a one-to-one chat
with it); a message in a thread that does not mention the bot is a digilog post.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from microsoft_agents.activity import Activity

from bot.teams.binding import Binder
from bot.teams.cards import asked_in_of, choice_of, submitted_values, viewed_of
from handlers.core.vocabulary import (
    Actor,
    CardViewed,
    ChoiceMade,
    CommandReceived,
    Conversation,
    FormSubmitted,
    HomeOpened,
    Inbound,
    MessageSaved,
    PostDeleted,
    PostEdited,
    ThreadPost,
)
from handlers.features import REGISTRY

PLATFORM = "teams"
_MENTION = re.compile(r"<at>.*?</at>", re.IGNORECASE | re.DOTALL)
_MENTION_NAME = re.compile(r"<at>(.*?)</at>", re.IGNORECASE | re.DOTALL)
# The message action (`composeExtensions` in the manifest): "Save to Digilog" in a message's
# menu, Teams' counterpart of Slack's message shortcut. With fetchTask, Teams asks the bot
# at once, and the answer is the line it shows: one click, no dialog to fill in.
SAVE_MESSAGE = "saveToBank"
MESSAGE_ACTION = "composeExtension/fetchTask"
# Slack has its App Home tab; in Teams the word (English or Swedish) asks for the same page.
HOME_WORDS = ("home", "hem")
_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"<br\s*/?>|</p>\s*<p>", re.IGNORECASE)


class ForgedButton(Exception):
    """A button's channel does not open with the server's key for the person who pressed it:
    written by hand, changed, or copied from someone else's card."""


@dataclass(frozen=True)
class Where:
    """What a reply needs: where Teams wants it sent, and who asked."""

    service_url: str
    tenant_id: str
    bot_id: str
    user_id: str
    conversation_id: str  # as Teams gave it, `;messageid=` and all
    personal: bool
    activity_id: str | None
    language: str | None  # the Teams client's, e.g. "sv" of "sv-SE"


def where_of(activity: Activity) -> Where:
    conversation = activity.conversation
    return Where(
        service_url=activity.service_url or "",
        tenant_id=tenant_of(activity),
        bot_id=activity.recipient.id if activity.recipient else "",
        user_id=activity.from_property.id if activity.from_property else "",
        conversation_id=conversation.id if conversation else "",
        personal=bool(conversation and conversation.conversation_type == "personal"),
        activity_id=activity.id,
        language=(activity.locale or "").partition("-")[0] or None,
    )


def field_of(data: Any, *names: str) -> Any:
    """`data[a][b]…` when each step is a mapping, else None: Teams' JSON is not trusted."""
    for name in names:
        if not isinstance(data, dict):
            return None
        data = data.get(name)
    return data


def tenant_of(activity: Activity) -> str:
    tenant = field_of(activity.channel_data, "tenant", "id")
    if not tenant and activity.conversation is not None:
        tenant = activity.conversation.tenant_id
    return tenant if isinstance(tenant, str) else ""


def conversation_of(activity: Activity) -> Conversation:
    """The channel (or chat) and, inside a channel thread, the thread's root message."""
    raw = activity.conversation.id if activity.conversation else ""
    channel, _, root = raw.partition(";messageid=")
    return Conversation(PLATFORM, tenant_of(activity), channel, root or None)


def actor_of(activity: Activity) -> Actor:
    sender = activity.from_property
    return Actor(
        PLATFORM,
        tenant_of(activity),
        sender.id if sender else "",
        display_name=sender.name if sender else None,
        locale=activity.locale,
        zone_hint=_local_timezone(activity),
    )


def _local_timezone(activity: Activity) -> str | None:
    """The IANA zone of the Teams client (`localTimezone`), e.g. "Europe/Stockholm"."""
    zone = getattr(activity, "local_timezone", None)
    if not zone and activity.entities:  # older clients put it in the clientInfo entity
        for entity in activity.entities:
            if getattr(entity, "type", None) == "clientInfo":
                zone = getattr(entity, "timezone", None) or getattr(entity, "timeZone", None)
    return zone if isinstance(zone, str) and 0 < len(zone) <= 64 else None


def plain_text(value: str | None) -> str:
    """Teams sends channel messages as HTML: the text a person wrote, mentions left out."""
    text = _MENTION.sub("", value or "")
    text = _BREAK.sub("\n", text)
    return html.unescape(_TAG.sub("", text)).replace("\xa0", " ").strip()


@dataclass(frozen=True)
class Mention:
    text: str  # as it stands in the message: `<at>Anna Lindqvist</at>`
    user_id: str
    name: str


def mentions_of(activity: Activity) -> list[Mention]:
    """The activity's mention entities: who each `<at>…</at>` in its text is."""
    found: list[Mention] = []
    for entity in activity.entities or []:
        if getattr(entity, "type", None) != "mention":
            continue
        mentioned = getattr(entity, "mentioned", None)
        if isinstance(mentioned, dict):
            user_id, name = mentioned.get("id"), mentioned.get("name")
        else:
            user_id, name = getattr(mentioned, "id", None), getattr(mentioned, "name", None)
        text = getattr(entity, "text", None)
        if isinstance(user_id, str) and user_id:
            found.append(
                Mention(
                    text if isinstance(text, str) else "",
                    user_id,
                    name if isinstance(name, str) else "",
                )
            )
    return found


def _mentions(activity: Activity) -> tuple[bool, tuple[str, ...]]:
    """Whether the bot is @mentioned, and whom else the message @mentions."""
    bot_id = activity.recipient.id if activity.recipient else None
    found = mentions_of(activity)
    bot = any(m.user_id == bot_id for m in found)
    return bot, tuple(m.user_id for m in found if m.user_id != bot_id)


def _with_mentions(activity: Activity, person: Callable[[Mention], str]) -> str:
    """The text with the bot's mention left out and each person's given by `person`; each
    `<at>` tag is matched to the entity with its text, in order (two people of one name
    are two entities)."""
    bot_id = activity.recipient.id if activity.recipient else None
    unused = mentions_of(activity)

    def one(match: re.Match[str]) -> str:
        tag = html.unescape(match.group(0))
        entity = next(
            (m for m in unused if html.unescape(m.text) == tag),
            None,
        )
        if entity is None:  # a tag without its entity: the name as written
            return match.group(1)
        unused.remove(entity)
        return "" if entity.user_id == bot_id else person(entity)

    return plain_text(_MENTION_NAME.sub(one, activity.text or ""))


def command_text(activity: Activity) -> str:
    """A command as handlers read it: `enrol <at>David</at> umea` → `enrol 29:… umea`, as
    Slack's `<@U…>` become plain ids."""
    return _with_mentions(activity, lambda mention: mention.user_id)


def post_text(activity: Activity) -> str:
    """A digilog post as people read it: the bot's mention left out, others' as @name."""
    return _with_mentions(activity, lambda mention: f"@{_name_of(mention)}")


def _name_of(mention: Mention) -> str:
    return mention.name or plain_text(mention.text) or mention.user_id


def event_of(activity: Activity, binder: Binder | None = None) -> Inbound | None:
    """The neutral event an activity means, or None for what Digilog does not act on.
    `binder` opens the channel a button in a personal chat says it was asked for in; a
    ForgedButton when it does not open."""
    actor, where = actor_of(activity), conversation_of(activity)
    if not actor.user_id:
        return None  # from nobody Digilog could answer or remember
    data: Any = activity.value
    personal = activity.conversation is not None and (
        activity.conversation.conversation_type == "personal"
    )
    if activity.type == "invoke" and activity.name == MESSAGE_ACTION:
        return _saved_message(activity, actor, where)
    if activity.type == "invoke" and activity.name == "adaptiveCard/action":
        return _card_action(actor, where, field_of(data, "action", "data"), personal, binder)
    if activity.type == "message":
        if isinstance(data, dict) and (found := _card_action(actor, where, data, personal, binder)):
            return found  # an Action.Submit arrives as a message with a value
        bot_mentioned, others = _mentions(activity)
        in_thread = (
            not personal
            and where.thread_id is not None
            and bool(activity.id)
            and activity.id != where.thread_id
        )
        text = command_text(activity)
        # In a theme's thread, @Digilog is how a reply reaches the bot where the tenant does
        # not allow it to read every message (and in the Agents Playground): a reply, unless
        # it starts with a command word.
        is_command = bot_mentioned and not (in_thread and REGISTRY.find(text)[0] is None)
        if is_command or personal:
            if text.strip().lower() in HOME_WORDS:
                return HomeOpened(actor, where)
            return CommandReceived(actor, where, text)
        if in_thread and activity.id:
            return ThreadPost(actor, where, activity.id, post_text(activity), mentions=others)
        return None
    if activity.type == "messageUpdate" and activity.id:
        return PostEdited(actor, where, activity.id, post_text(activity))
    if activity.type == "messageDelete" and activity.id:
        return PostDeleted(actor, where, activity.id)
    return None


def _saved_message(activity: Activity, actor: Actor, where: Conversation) -> Inbound | None:
    """ "Save to Digilog" on a message: who wrote it, its text, and the thread it is in."""
    value: Any = activity.value
    if field_of(value, "commandId") != SAVE_MESSAGE:
        return None
    payload = field_of(value, "messagePayload")
    message_id = field_of(payload, "id")
    if not isinstance(message_id, str) or not message_id:
        return None
    # The payload names its author by Entra object id, the activity its sender by both.
    author = field_of(payload, "from", "user", "id")
    sender = activity.from_property
    own = sender is not None and bool(author) and author == sender.aad_object_id
    root = field_of(payload, "replyToId")
    thread = root if isinstance(root, str) and root else where.thread_id
    body = field_of(payload, "body", "content")
    text = _MENTION_NAME.sub(r"@\1", body) if isinstance(body, str) else ""
    return MessageSaved(
        actor,
        Conversation(where.platform, where.workspace, where.conversation_id, thread),
        message_id,
        actor.user_id if own else str(author or ""),
        plain_text(text),
    )


def _card_action(
    actor: Actor, where: Conversation, data: Any, personal: bool, binder: Binder | None
) -> Inbound | None:
    if not isinstance(data, dict):
        return None
    if viewed := viewed_of(data):
        # A card's refresh: how it looks to this person, asked by their Teams client.
        return CardViewed(actor, where, viewed)
    if submitted := submitted_values(data):
        form_id, values = submitted
        return FormSubmitted(actor, where, form_id, values)
    if action_id := choice_of(data):
        sealed = asked_in_of(data)
        if sealed and personal and Binder.looks_sealed(sealed):
            # Pressed in the person's own chat, on a card asked for in that channel: the
            # channel's cohort is the button's (a join button of a cohort not yet theirs),
            # if the server sealed that channel for this very person (bot/teams/binding.py).
            # A bare channel (a card sent before sealing) is not taken: the button acts as
            # one that names no channel, whose cohort is in its id or is the person's own.
            channel = binder.open(actor.workspace, actor.user_id, sealed) if binder else None
            if channel is None:
                raise ForgedButton(action_id)
            where = Conversation(where.platform, where.workspace, channel)
        return ChoiceMade(actor, where, action_id)
    return None
