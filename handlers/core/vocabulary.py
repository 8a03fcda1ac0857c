"""The neutral vocabulary between adapters and handlers.

Adapters turn platform events into these inbound events and render the outbound
messages as Block Kit, Adaptive Cards or terminal text. A message is a list of
simple blocks that all three can show; formatting is structured (spans), never
platform markup, so no renderer has to unpick another's syntax.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

# ---------------------------------------------------------------- who and where


@dataclass(frozen=True)
class Actor:
    """A person as the platform knows them."""

    platform: str  # "console", "slack", "teams"
    workspace: str  # Slack team id, Teams tenant id, "local" in the console
    user_id: str
    display_name: str | None = None
    locale: str | None = None  # the platform's hint, e.g. "sv-SE"; a saved choice wins
    email: str | None = None  # links someone a roster named only by e-mail address
    timezone: str | None = None  # an IANA zone the platform knows for the person
    # The zone of the device in use (Teams' localTimezone): shown in only while the person
    # has no zone of their own; never saved, since it follows them when they travel.
    zone_hint: str | None = None


@dataclass(frozen=True)
class Conversation:
    """A channel, group or direct conversation; `thread_id` narrows it to one thread."""

    platform: str
    workspace: str
    conversation_id: str
    thread_id: str | None = None

    def thread(self, root_message_id: str) -> Conversation:
        return Conversation(self.platform, self.workspace, self.conversation_id, root_message_id)


# ---------------------------------------------------------------- inbound


@dataclass(frozen=True)
class CommandReceived:
    """`/digilog theme start 1`, `@Digilog theme start 1`, or a console line."""

    actor: Actor
    where: Conversation
    text: str


@dataclass(frozen=True)
class ChoiceMade:
    """A button or menu pick; `action_id` is stable, e.g. `quiz:<quiz>:<question>:<option>`."""

    actor: Actor
    where: Conversation
    action_id: str


@dataclass(frozen=True)
class ThreadPost:
    """A message in a thread, such as a reply under a theme post (the digilog)."""

    actor: Actor
    where: Conversation  # thread_id is the root message
    message_id: str
    text: str
    reply_to_message_id: str | None = None  # the post it answers, when the platform says
    mentions: tuple[str, ...] = ()  # user ids @-mentioned: whom a reply answers in Slack


@dataclass(frozen=True)
class PostEdited:
    actor: Actor
    where: Conversation
    message_id: str
    text: str


@dataclass(frozen=True)
class PostDeleted:
    actor: Actor
    where: Conversation
    message_id: str


@dataclass(frozen=True)
class FormSubmitted:
    """A filled-in form (a Slack modal, an Adaptive Card's inputs): field id → value."""

    actor: Actor
    where: Conversation
    form_id: str
    values: Mapping[str, str]


@dataclass(frozen=True)
class MessageSaved:
    """ "Save to reflection bank" on a message someone wrote (a message shortcut)."""

    actor: Actor
    where: Conversation
    message_id: str
    author_user_id: str
    text: str


@dataclass(frozen=True)
class HomeOpened:
    """The person opened their own page with the bot (Slack App Home, a Teams personal tab)."""

    actor: Actor
    where: Conversation  # the person's direct conversation with the bot, if known


@dataclass(frozen=True)
class CardViewed:
    """A card in a shared conversation asks how it looks to this person (a Teams card's
    `refresh`: one card for everyone, and each person's own state in it). A question,
    never an action: what it is answered with changes nothing."""

    actor: Actor
    where: Conversation
    action_id: str  # the card's button, whose feature says how it looks to the person


@dataclass(frozen=True)
class Delivered:
    """An adapter's report that a message with a receipt was posted, and its platform id."""

    receipt: str
    where: Conversation
    message_id: str


Inbound = (
    CommandReceived
    | ChoiceMade
    | ThreadPost
    | PostEdited
    | PostDeleted
    | FormSubmitted
    | MessageSaved
    | HomeOpened
    | CardViewed
)

# ---------------------------------------------------------------- outbound


@dataclass(frozen=True)
class Span:
    text: str
    strong: bool = False
    link: str | None = None
    # A link to a message (a thread's root): each adapter knows how to point at one.
    ref: Conversation | None = None


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class Paragraph:
    spans: tuple[Span, ...]


@dataclass(frozen=True)
class BulletList:
    items: tuple[tuple[Span, ...], ...]


@dataclass(frozen=True)
class Facts:
    """Label and value pairs (an Adaptive Card FactSet, Slack section fields)."""

    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Note:
    """Small print under the main content."""

    text: str


@dataclass(frozen=True)
class Divider:
    pass


@dataclass(frozen=True)
class Option:
    action_id: str
    label: str
    style: Literal["default", "primary", "danger"] = "default"


@dataclass(frozen=True)
class Choices:
    """Buttons to pick one of; the pick comes back as ChoiceMade with the option's action_id."""

    options: tuple[Option, ...]


Block = Heading | Paragraph | BulletList | Facts | Note | Divider | Choices


@dataclass(frozen=True)
class Message:
    blocks: tuple[Block, ...]
    summary: str  # plain text for notifications and screen readers


@dataclass(frozen=True)
class TextField:
    field_id: str
    label: str
    multiline: bool = False
    max_length: int | None = None
    optional: bool = False
    initial: str | None = None
    placeholder: str | None = None


@dataclass(frozen=True)
class SelectField:
    field_id: str
    label: str
    options: tuple[tuple[str, str], ...]  # (value, label)
    initial: str | None = None
    optional: bool = False


Field = TextField | SelectField


@dataclass(frozen=True)
class Form:
    """Questions to fill in; comes back as FormSubmitted with the same form_id."""

    form_id: str
    title: str
    fields: tuple[Field, ...]
    submit_label: str
    intro: str | None = None


@dataclass(frozen=True)
class FileMessage:
    """A file for the person (an export): Slack uploads it, the console saves it."""

    filename: str
    content: bytes
    title: str
    comment: str


@dataclass(frozen=True)
class ToActor:
    """Only the person who acted sees it (ephemeral in a channel, or a direct reply)."""


@dataclass(frozen=True)
class ToConversation:
    """Everyone in the conversation (or thread) sees it."""

    conversation: Conversation


@dataclass(frozen=True)
class ToPerson:
    """A direct message to someone else."""

    platform: str
    workspace: str
    user_id: str


@dataclass(frozen=True)
class ToGroup:
    """A conversation of a few people (Slack: a group DM), opened if need be."""

    platform: str
    workspace: str
    user_ids: tuple[str, ...]
    # Where the group can meet when the platform gives a bot no way to open a group
    # conversation (Teams): a new thread there names each of them.
    meet_in: Conversation | None = None


@dataclass(frozen=True)
class ToHome:
    """The person's own page with the bot, replaced as a whole (Slack App Home)."""


Destination = ToActor | ToConversation | ToPerson | ToGroup | ToHome


@dataclass(frozen=True)
class Outgoing:
    to: Destination
    message: Message | Form | FileMessage  # forms and files only ever go ToActor
    # When set, the adapter reports the posted message's id back as Delivered(receipt, ...).
    receipt: str | None = None


# ---------------------------------------------------------------- building messages


def text(value: str, *, strong: bool = False, link: str | None = None) -> tuple[Span, ...]:
    return (Span(value, strong=strong, link=link),)


def paragraph(*parts: str | Span) -> Paragraph:
    return Paragraph(tuple(Span(p) if isinstance(p, str) else p for p in parts))


@dataclass
class MessageBuilder:
    """Collects blocks; the summary defaults to the first heading or paragraph."""

    blocks: list[Block] = field(default_factory=list)
    summary: str | None = None

    def heading(self, value: str) -> MessageBuilder:
        self.blocks.append(Heading(value))
        return self

    def para(self, *parts: str | Span) -> MessageBuilder:
        self.blocks.append(paragraph(*parts))
        return self

    def bullets(self, items: Iterable[tuple[Span, ...] | str]) -> MessageBuilder:
        rows = tuple(text(i) if isinstance(i, str) else i for i in items)
        if rows:
            self.blocks.append(BulletList(rows))
        return self

    def facts(self, pairs: Iterable[tuple[str, str]]) -> MessageBuilder:
        rows = tuple(pairs)
        if rows:
            self.blocks.append(Facts(rows))
        return self

    def note(self, value: str) -> MessageBuilder:
        self.blocks.append(Note(value))
        return self

    def divider(self) -> MessageBuilder:
        self.blocks.append(Divider())
        return self

    def choices(self, options: Iterable[Option]) -> MessageBuilder:
        self.blocks.append(Choices(tuple(options)))
        return self

    def build(self) -> Message:
        return Message(tuple(self.blocks), self.summary or _summary(self.blocks))


def _summary(blocks: Iterable[Block]) -> str:
    for block in blocks:
        if isinstance(block, Heading):
            return block.text
        if isinstance(block, Paragraph):
            return "".join(s.text for s in block.spans)[:150]
    return ""


def say(*parts: str | Span) -> Message:
    """A one-paragraph message."""
    return MessageBuilder().para(*parts).build()


# ---------------------------------------------------------------- storing a message


def _span_json(span: Span) -> dict[str, Any]:
    data: dict[str, Any] = {"text": span.text}
    if span.strong:
        data["strong"] = True
    if span.link:
        data["link"] = span.link
    if span.ref:
        data["ref"] = [
            span.ref.platform,
            span.ref.workspace,
            span.ref.conversation_id,
            span.ref.thread_id,
        ]
    return data


def _span(data: Mapping[str, Any]) -> Span:
    ref = data.get("ref")
    return Span(
        data["text"],
        strong=bool(data.get("strong")),
        link=data.get("link"),
        ref=Conversation(*ref) if ref else None,
    )


def message_json(message: Message) -> dict[str, Any]:
    """A message as JSON, to be sent later (to a cohort's channel on another platform)."""
    blocks: list[dict[str, Any]] = []
    for block in message.blocks:
        match block:
            case Heading(text=value) | Note(text=value):
                blocks.append({"kind": type(block).__name__, "text": value})
            case Paragraph(spans=spans):
                blocks.append({"kind": "Paragraph", "spans": [_span_json(s) for s in spans]})
            case BulletList(items=items):
                rows = [[_span_json(s) for s in item] for item in items]
                blocks.append({"kind": "BulletList", "items": rows})
            case Facts(pairs=pairs):
                blocks.append({"kind": "Facts", "pairs": [list(p) for p in pairs]})
            case Divider():
                blocks.append({"kind": "Divider"})
            case Choices(options=options):
                blocks.append(
                    {
                        "kind": "Choices",
                        "options": [[o.action_id, o.label, o.style] for o in options],
                    }
                )
    return {"summary": message.summary, "blocks": blocks}


def message_from_json(data: Mapping[str, Any]) -> Message:
    blocks: list[Block] = []
    for block in data["blocks"]:
        match block["kind"]:
            case "Heading":
                blocks.append(Heading(block["text"]))
            case "Note":
                blocks.append(Note(block["text"]))
            case "Paragraph":
                blocks.append(Paragraph(tuple(_span(s) for s in block["spans"])))
            case "BulletList":
                blocks.append(
                    BulletList(tuple(tuple(_span(s) for s in item) for item in block["items"]))
                )
            case "Facts":
                blocks.append(Facts(tuple((label, value) for label, value in block["pairs"])))
            case "Divider":
                blocks.append(Divider())
            case "Choices":
                blocks.append(
                    Choices(tuple(Option(a, label, style) for a, label, style in block["options"]))
                )
    return Message(tuple(blocks), data["summary"])
