"""Teams activities into the neutral events of handlers/vocabulary.py: the inbound half.

In a Teams channel, a conversation id ends in `;messageid=<root>` when the activity
belongs to a thread: that root is the theme post, and the thread is its digilog.
A command is a message that @mentions the bot (or any message in a one-to-one chat
with it); a message in a thread that does not mention the bot is a digilog post.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from microsoft_agents.activity import Activity

from bot.teams.cards import choice_of, submitted_values
from handlers.vocabulary import (
    Actor,
    ChoiceMade,
    CommandReceived,
    Conversation,
    FormSubmitted,
    Inbound,
    PostDeleted,
    PostEdited,
    ThreadPost,
)

PLATFORM = "teams"
_MENTION = re.compile(r"<at>.*?</at>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"<br\s*/?>|</p>\s*<p>", re.IGNORECASE)


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
    )


def plain_text(value: str | None) -> str:
    """Teams sends channel messages as HTML: the text a person wrote, mentions left out."""
    text = _MENTION.sub("", value or "")
    text = _BREAK.sub("\n", text)
    return html.unescape(_TAG.sub("", text)).replace("\xa0", " ").strip()


def _mentions(activity: Activity) -> tuple[bool, tuple[str, ...]]:
    """Whether the bot is @mentioned, and whom else the message @mentions."""
    bot_id = activity.recipient.id if activity.recipient else None
    named: list[str] = []
    bot = False
    for entity in activity.entities or []:
        if getattr(entity, "type", None) != "mention":
            continue
        mentioned = getattr(entity, "mentioned", None)
        mentioned_id = getattr(mentioned, "id", None)
        if mentioned_id is None and isinstance(mentioned, dict):
            mentioned_id = mentioned.get("id")
        if mentioned_id == bot_id:
            bot = True
        elif mentioned_id:
            named.append(str(mentioned_id))
    return bot, tuple(named)


def event_of(activity: Activity) -> Inbound | None:
    """The neutral event an activity means, or None for what Digilog does not act on."""
    actor, where = actor_of(activity), conversation_of(activity)
    if not actor.user_id:
        return None  # from nobody Digilog could answer or remember
    data: Any = activity.value
    if activity.type == "invoke" and activity.name == "adaptiveCard/action":
        return _card_action(actor, where, field_of(data, "action", "data"))
    if activity.type == "message":
        if isinstance(data, dict) and (found := _card_action(actor, where, data)):
            return found  # an Action.Submit arrives as a message with a value
        bot_mentioned, others = _mentions(activity)
        text = plain_text(activity.text)
        personal = activity.conversation is not None and (
            activity.conversation.conversation_type == "personal"
        )
        if bot_mentioned or personal:
            return CommandReceived(actor, where, text)
        if where.thread_id is not None and activity.id and activity.id != where.thread_id:
            return ThreadPost(actor, where, activity.id, text, mentions=others)
        return None
    if activity.type == "messageUpdate" and activity.id:
        return PostEdited(actor, where, activity.id, plain_text(activity.text))
    if activity.type == "messageDelete" and activity.id:
        return PostDeleted(actor, where, activity.id)
    return None


def _card_action(actor: Actor, where: Conversation, data: Any) -> Inbound | None:
    if not isinstance(data, dict):
        return None
    if submitted := submitted_values(data):
        form_id, values = submitted
        return FormSubmitted(actor, where, form_id, values)
    if action_id := choice_of(data):
        return ChoiceMade(actor, where, action_id)
    return None
