"""Neutral messages and forms as Adaptive Cards for Microsoft Teams, and submissions back.

Pure functions, no I/O: JSON-able dicts out. Text is Adaptive Card Markdown as Teams
renders it (a CommonMark subset: **bold**, _italic_, lists, [links](url)); everything a
person or a programme file wrote is escaped, so it shows as written. Nothing is cut: a card
that would exceed Teams' size limit is refused with a ValueError, as bot/slack/blocks.py
refuses what Slack would.

Buttons (Choices) and form submission both use Action.Execute, Universal Actions
(schema 1.4+): Teams sends an `adaptiveCard/action` invoke whose `value.action.data` holds
the button's data merged with the card's inputs. See `form_card` for why forms use it too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Final

from handlers.core.vocabulary import (
    Block,
    BulletList,
    Choices,
    Conversation,
    Divider,
    Facts,
    Field,
    Form,
    Heading,
    Message,
    Note,
    Option,
    Paragraph,
    SelectField,
    Span,
    TextField,
)

JSON = dict[str, Any]
LinkTo = Callable[[Conversation], str | None]

# ---------------------------------------------------------------- limits and choices

SCHEMA: Final = "http://adaptivecards.io/schemas/adaptive-card.json"
# Teams renders cards up to 1.5 for bots; Action.Execute needs 1.4, `style: heading` 1.5.
VERSION: Final = "1.5"
VERB: Final = "digilog"  # every Action.Execute of ours; the data says what it is

# The size of one card, as compact UTF-8 JSON. Teams documents the limit of a whole bot
# message, measured in UTF-16: 40 KB in older versions of "Format your bot messages",
# now "about 100 KB, keep it within 80 KB"; a message over it is refused with 413
# MessageSizeTooBig. Posting cards to Teams through the Teams connector (Workflows,
# Power Automate) fails over "about 28 KB". We keep every card under the smallest of
# these: UTF-16 never takes more than twice the UTF-8 bytes, so 28 KB of UTF-8 is at
# most 56 KB of UTF-16, under every documented limit, with room for the activity around.
CARD_BYTES: Final = 28 * 1024

# Teams' host config (microsoft-teams-light.json in microsoft/AdaptiveCards) has
# "maxActions": 6 and horizontal actions: renderers drop actions past six without a
# word, so no ActionSet of ours holds more.
MAX_ACTIONS: Final = 6
# Our assumptions, not documented figures: Teams shows a button's title on one line and
# cuts what does not fit with an ellipsis, and a row of buttons shares the card's width. Options
# with a longer label are listed by number above buttons titled with the numbers (the
# full label is the button's tooltip); a row takes buttons while their titles fit.
MAX_BUTTON_TITLE: Final = 30
ROW_CHARS: Final = 60

# Keys of our own in an action's data: a form's field must not take one of these ids,
# since inputs are merged into the same object.
FORM_KEY: Final = "form_id"
ACTION_KEY: Final = "action_id"
# How the form showed its fields (label, and the title of each choice), sent back with the
# inputs so that the answered card can say what was saved in the words the person saw.
SHOWN_KEY: Final = "shown"
# The channel a button was asked for in, on a card Teams shows in the person's own chat
# (it has no replies for one person in a channel): the click is that channel's, as the same
# button's would be in Slack, where it stays in the channel.
ASKED_IN_KEY: Final = "asked_in"
# A card's `refresh` asks with the button whose feature says how the card looks to a person:
# its own key, so that a refresh can never be taken for a press of that button.
VIEW_KEY: Final = "view"
RESERVED_KEYS: Final = frozenset(
    {FORM_KEY, ACTION_KEY, SHOWN_KEY, ASKED_IN_KEY, VIEW_KEY, "msteams"}
)
# Teams fetches a card's own view automatically for at most 60 people (`userIds`);
# without the list, for everyone in a conversation of at most 60 members, and otherwise
# when someone picks Refresh in the message's menu.
REFRESH_USERS: Final = 60

DEFAULT_PLACEHOLDER: Final = "Välj / Choose"  # no translator here; callers pass their own
DEFAULT_REQUIRED: Final = "Fyll i det här. / Please fill this in."


# ---------------------------------------------------------------- Markdown

# Characters Adaptive Card Markdown (CommonMark) reads as syntax anywhere in a line:
# emphasis, links and images, code, strikethrough, autolinks and HTML, and "{{" that
# opens a DATE()/TIME() function. An "&" only when it starts an entity such as "&amp;".
# A backslash before ASCII punctuation shows the punctuation itself.
_INLINE: Final = re.compile(r"[\\`*_\[\]~<{]|&(?=#?[0-9A-Za-z]+;)")
# At the start of a line: headings, block quotes, list items, setext underlines,
# thematic breaks, ordered list items ("1." or "1)").
_LINE_START: Final = re.compile(r"[#>+=-]|(?P<digits>\d{1,9})(?=[.)])")
_URL_ESCAPES: Final = str.maketrans(
    {" ": "%20", "(": "%28", ")": "%29", "<": "%3C", ">": "%3E", "\\": "%5C"}
)
_PARAGRAPH_BREAK: Final = "\n\n"  # a single "\n" is only a space in a TextBlock


def escape(text: str, *, line_start: bool = True) -> str:
    """One line of plain text as Markdown that shows it literally.

    `line_start` says whether the text begins a line, where "- ", "1. " or "#" would
    start a list or a heading.
    """
    escaped = _INLINE.sub(lambda m: "\\" + m.group(0), text)
    if not line_start:
        return escaped
    escaped = escaped.lstrip(" \t")  # four spaces would start a code block
    found = _LINE_START.match(escaped)
    if found is None:
        return escaped
    if found.group("digits"):
        digits = found.group("digits")
        return digits + "\\" + escaped[len(digits) :]
    return "\\" + escaped


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def markdown(
    spans: Iterable[Span],
    *,
    link_to: LinkTo | None = None,
    breaks: str = _PARAGRAPH_BREAK,
) -> str:
    """Spans as one TextBlock's Markdown; a line break in the text becomes `breaks`.

    `link_to` turns a reference to another message's thread into a URL (a Teams deep
    link, which needs ids only the adapter knows); without one, or when it returns None,
    the reference shows as its text.
    """
    out = ""
    for span in spans:
        target = span.link
        if target is None and span.ref is not None and link_to is not None:
            target = link_to(span.ref)
        line_start = not out or out.endswith("\n")
        if target:
            out += _link(span.text, target, strong=span.strong, line_start=line_start)
        else:
            out += _text(span.text, strong=span.strong, line_start=line_start, breaks=breaks)
    return out


def _text(text: str, *, strong: bool, line_start: bool, breaks: str) -> str:
    lines = _lines(text)
    newline_starts = "\n" in breaks  # joined with spaces, later lines continue a line
    parts = []
    for n, line in enumerate(lines):
        starts = line_start if n == 0 else newline_starts
        if strong:
            # CommonMark's ** neither spans a paragraph nor opens before whitespace.
            parts.append(
                _around_core(line, starts, lambda core, s: f"**{escape(core, line_start=s)}**")
            )
        else:
            parts.append(escape(line, line_start=starts))
    return breaks.join(parts)


def _link(text: str, url: str, *, strong: bool, line_start: bool) -> str:
    target = url.strip().translate(_URL_ESCAPES)
    label = " ".join(_lines(text))

    def link(core: str, _: bool) -> str:
        rendered = f"[{escape(core, line_start=False)}]({target})"
        return f"**{rendered}**" if strong else rendered

    if not label.strip():
        return link(url.strip(), line_start)
    return _around_core(label, line_start, link)


def _around_core(text: str, line_start: bool, wrap: Callable[[str, bool], str]) -> str:
    """`wrap` applied to the text between leading and trailing whitespace."""
    core = text.strip()
    if not core:
        return "" if line_start else text
    lead = "" if line_start else text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    return lead + wrap(core, line_start) + trail


# ---------------------------------------------------------------- elements


def _text_block(text: str, **style: Any) -> JSON:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _heading(text: str) -> list[JSON]:
    md = " ".join(escape(line) for line in _lines(text) if line.strip())
    if not md:
        return []
    return [_text_block(md, style="heading", size="Medium", weight="Bolder")]


def _paragraph(spans: Sequence[Span], link_to: LinkTo | None) -> list[JSON]:
    md = markdown(spans, link_to=link_to).strip()
    return [_text_block(md)] if md else []


def _bullets(items: Sequence[tuple[Span, ...]], link_to: LinkTo | None) -> list[JSON]:
    # Teams' Markdown lists: "- item" lines joined by "\n" (a blank line would indent the
    # next item), so a line break inside an item becomes a space.
    lines = [markdown(item, link_to=link_to, breaks=" ").strip() for item in items]
    text = "\n".join(f"- {line}" for line in lines if line)
    return [_text_block(text)] if text else []


def _facts(pairs: Sequence[tuple[str, str]]) -> list[JSON]:
    # Teams reads Markdown in Fact.title and Fact.value as in a TextBlock.
    facts = [
        {"title": markdown((Span(label),)).strip(), "value": markdown((Span(value),)).strip()}
        for label, value in pairs
    ]
    return [{"type": "FactSet", "facts": facts}] if facts else []


def _note(text: str) -> list[JSON]:
    md = markdown((Span(text),)).strip()
    return [_text_block(md, isSubtle=True, size="Small")] if md else []


_STYLES: Final = {"primary": "positive", "danger": "destructive"}


def _execute(title: str, data: JSON, style: str = "default", tooltip: str | None = None) -> JSON:
    action: JSON = {"type": "Action.Execute", "title": title, "verb": VERB, "data": data}
    if style in _STYLES:
        action["style"] = _STYLES[style]
    if tooltip:
        action["tooltip"] = tooltip
    return action


def _choices(options: Sequence[Option]) -> list[JSON]:
    if not options:
        return []
    for option in options:
        if not option.action_id:
            raise ValueError(f"option {option.label!r} has no action id")
        if not option.label.strip():
            raise ValueError(f"option {option.action_id!r} has no label; a button needs one")
    elements: list[JSON] = []
    numbered = any(len(option.label.strip()) > MAX_BUTTON_TITLE for option in options)
    if numbered:
        # Listed in full, answered by number: a long title would be cut on the button.
        listing = "\n".join(
            f"{n}. {escape(' '.join(_lines(option.label)).strip())}"
            for n, option in enumerate(options, 1)
        )
        elements.append(_text_block(listing))
    actions = [
        _execute(
            str(n) if numbered else option.label.strip(),
            {ACTION_KEY: option.action_id},
            option.style,
            tooltip=option.label.strip() if numbered else None,
        )
        for n, option in enumerate(options, 1)
    ]
    elements += [{"type": "ActionSet", "actions": row} for row in _rows(actions)]
    return elements


def _rows(actions: Sequence[JSON]) -> Iterator[list[JSON]]:
    """Buttons in rows of at most MAX_ACTIONS whose titles take at most ROW_CHARS."""
    row: list[JSON] = []
    width = 0
    for action in actions:
        title = len(action["title"])
        if row and (len(row) == MAX_ACTIONS or width + title > ROW_CHARS):
            yield row
            row, width = [], 0
        row.append(action)
        width += title
    if row:
        yield row


def _render(block: Block, link_to: LinkTo | None) -> list[JSON]:
    match block:
        case Heading(text=text):
            return _heading(text)
        case Paragraph(spans=spans):
            return _paragraph(spans, link_to)
        case BulletList(items=items):
            return _bullets(items, link_to)
        case Facts(pairs=pairs):
            return _facts(pairs)
        case Note(text=text):
            return _note(text)
        case Choices(options=options):
            return _choices(options)
        case Divider():
            return []
    raise TypeError(f"unknown block {block!r}")


def _check_action_ids(blocks: Iterable[Block]) -> None:
    """One card must not offer one action id twice: the pick would be ambiguous."""
    seen: set[str] = set()
    for block in blocks:
        if isinstance(block, Choices):
            for option in block.options:
                if option.action_id in seen:
                    raise ValueError(f"action id {option.action_id!r} appears twice in one card")
                seen.add(option.action_id)


# ---------------------------------------------------------------- cards


def _card(body: list[JSON], summary: str, what: str, actions: list[JSON] | None = None) -> JSON:
    result: JSON = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": VERSION, "body": body}
    if actions:
        result["actions"] = actions
    if summary:
        result["fallbackText"] = summary  # shown where the card cannot be
        result["speak"] = summary
    size = card_size(result)
    if size > CARD_BYTES:
        raise ValueError(
            f"{what} makes an Adaptive Card of {size:,} bytes; Teams takes about "
            f"{CARD_BYTES:,} (28 KB). Send it as several messages, or shorten it."
        )
    return result


def card_size(value: JSON) -> int:
    """The card's size as Teams is sent it: compact JSON in UTF-8 bytes."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def card(message: Message, *, link_to: LinkTo | None = None) -> JSON:
    """The message as one Adaptive Card; a ValueError when Teams would refuse it.

    A Divider draws a separator above the element that follows it. `link_to` gives the
    URL of a message that a Span.ref points at, when the adapter knows one.
    """
    _check_action_ids(message.blocks)
    body: list[JSON] = []
    separator = False
    for block in message.blocks:
        if isinstance(block, Divider):
            separator = True
            continue
        elements = _render(block, link_to)
        if not elements:
            continue
        if separator and body:
            elements[0] = {**elements[0], "separator": True}
        separator = False
        body += elements
    summary = " ".join(message.summary.split()) or _first_text(message.blocks)
    return _card(body, summary, "the message")


def _first_text(blocks: Iterable[Block]) -> str:
    for block in blocks:
        match block:
            case Heading(text=text) | Note(text=text):
                found = text
            case Paragraph(spans=spans):
                found = "".join(span.text for span in spans)
            case BulletList(items=items):
                found = " ".join("".join(span.text for span in item) for item in items)
            case _:
                found = ""
        if found.strip():
            return " ".join(found.split())
    return ""


# ---------------------------------------------------------------- forms


def form_card(
    form: Form, *, placeholder: str = DEFAULT_PLACEHOLDER, required: str = DEFAULT_REQUIRED
) -> JSON:
    """The form as an Adaptive Card of inputs; each input's id is its field_id.

    `placeholder` shows in a menu with nothing chosen; `required` is the message under a
    required input left empty (Teams checks those before it sends anything).

    The submit button is an Action.Execute, like the Choices buttons, not an Action.Submit
    (Teams takes both in 1.5): every click then arrives as one kind of activity, the
    `adaptiveCard/action` invoke, which the adapter answers within Teams' 5 s and may
    answer with a card that replaces the form (a confirmation, or the form again with
    what was wrong). An Action.Submit arrives as a message activity, with nothing to
    answer in place. Microsoft's Teams SDK docs call Submit the legacy action and
    recommend Execute for forms. A dialog (task module) returns what its Action.Submit
    sends (`task/submit`); `submitted_values` reads that shape too, should the adapter
    ever open forms in one.
    """
    if not form.form_id:
        raise ValueError("a form needs a form id: it routes the submission")
    if not form.submit_label.strip():
        raise ValueError(f"form {form.form_id!r} has no submit label; its button needs one")
    body: list[JSON] = []
    body += _heading(form.title)
    if form.intro:
        body += _paragraph((Span(form.intro),), None)
    _check_field_ids(form)
    for field in form.fields:
        body.append(_input(field, placeholder, required))
    shown = {
        f.field_id: [f.label, dict(f.options) if isinstance(f, SelectField) else {}]
        for f in form.fields
    }
    submit = _execute(
        form.submit_label.strip(), {FORM_KEY: form.form_id, SHOWN_KEY: shown}, "primary"
    )
    summary = " ".join(form.title.split())
    return _card(body, summary, f"form {form.form_id!r}", [submit])


def _check_field_ids(form: Form) -> None:
    ids = [field.field_id for field in form.fields]
    if not all(ids):
        raise ValueError(f"form {form.form_id!r} has a field without an id")
    if len(set(ids)) != len(ids):
        raise ValueError(f"form {form.form_id!r} repeats a field id: {ids}")
    taken = RESERVED_KEYS.intersection(ids)
    if taken:
        raise ValueError(
            f"form {form.form_id!r}: field id {sorted(taken)[0]!r} is reserved for the "
            "submission's own data"
        )


def _input(field: Field, placeholder: str, required: str) -> JSON:
    common: JSON = {"id": field.field_id, "label": field.label, "isRequired": not field.optional}
    if not field.optional:
        common["errorMessage"] = required
    if isinstance(field, TextField):
        return _text_input(field, common)
    return _choice_input(field, common, placeholder)


def _text_input(field: TextField, common: JSON) -> JSON:
    element: JSON = {"type": "Input.Text", **common, "isMultiline": field.multiline}
    if field.max_length is not None:
        if field.max_length < 1:
            raise ValueError(f"field {field.field_id!r}: max_length must be at least 1")
        element["maxLength"] = field.max_length
    if field.initial is not None:
        element["value"] = field.initial
    if field.placeholder:
        element["placeholder"] = field.placeholder
    return element


def _choice_input(field: SelectField, common: JSON, placeholder: str) -> JSON:
    if not field.options:
        raise ValueError(f"field {field.field_id!r} has no options to choose from")
    values = [value for value, _ in field.options]
    if len(set(values)) != len(values):
        raise ValueError(f"field {field.field_id!r} repeats an option value: {values}")
    element: JSON = {
        "type": "Input.ChoiceSet",
        **common,
        "style": "compact",
        "choices": [{"title": label, "value": value} for value, label in field.options],
        "placeholder": placeholder,
        "wrap": True,  # a long option wraps instead of being clipped
    }
    if field.initial is not None:
        if field.initial not in values:
            raise ValueError(
                f"field {field.field_id!r}: initial {field.initial!r} is not an option"
            )
        element["value"] = field.initial
    return element


# ---------------------------------------------------------------- coming back


def _payload(value: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Our data (with any inputs merged in) from an activity's `value`, in any shape.

    - `adaptiveCard/action` invoke (Action.Execute): {"action": {"verb", "data"}, ...}
    - a message activity from Action.Submit: the data itself, inputs at the top level
    - `task/submit` invoke from a dialog: {"data": {...}, "context": {...}}
    """
    if FORM_KEY in value or ACTION_KEY in value or VIEW_KEY in value:
        return value
    action = value.get("action")
    if isinstance(action, Mapping):
        if action.get("verb") not in (None, VERB):
            return None
        data = action.get("data")
        return data if isinstance(data, Mapping) else None
    data = value.get("data")
    if isinstance(data, Mapping) and (FORM_KEY in data or ACTION_KEY in data):
        return data
    return None


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)  # true, 3, 2.5 as JSON writes them


def submitted_values(value: Mapping[str, Any]) -> tuple[str, dict[str, str]] | None:
    """The form id and field id → value of a submitted form card; None if not one of ours."""
    data = _payload(value)
    if data is None:
        return None
    form_id = data.get(FORM_KEY)
    if not isinstance(form_id, str) or not form_id:
        return None
    values = {str(k): _as_text(v) for k, v in data.items() if k not in RESERVED_KEYS}
    return form_id, values


def shown_values(value: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """A submitted form's answers as the card showed them: (label, answer), in order;
    nothing when the submission does not say how its card showed it."""
    data = _payload(value)
    shown = data.get(SHOWN_KEY) if data is not None else None
    if not isinstance(shown, Mapping):
        return ()
    pairs: list[tuple[str, str]] = []
    for field_id, how in shown.items():
        if not (isinstance(how, list) and len(how) == 2 and isinstance(how[0], str)):
            continue
        label, titles = how
        answer = _as_text(data.get(field_id)) if data is not None else ""
        if isinstance(titles, Mapping):
            answer = str(titles.get(answer, answer))
        if answer.strip():
            pairs.append((label, answer))
    return tuple(pairs)


def image(url: str, alt_text: str) -> JSON:
    """A picture in a card: a data URL (within the card's size) or an https address."""
    return {"type": "Image", "url": url, "altText": alt_text, "size": "Stretch"}


def asked_in(content: JSON, conversation_id: str) -> JSON:
    """The card with each of its buttons saying which channel it was asked for in."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {key: walk(value) for key, value in node.items()}
            data = out.get("data")
            if isinstance(data, dict) and ACTION_KEY in data:
                out["data"] = {**data, ASKED_IN_KEY: conversation_id}
            return out
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    result: JSON = walk(content)
    return result


def asked_in_of(value: Mapping[str, Any]) -> str | None:
    """The channel a pressed button was asked for in, if its card said."""
    data = _payload(value)
    channel = data.get(ASKED_IN_KEY) if data is not None else None
    return channel if isinstance(channel, str) and channel else None


def with_refresh(
    content: JSON, action_id: str, title: str, user_ids: Sequence[str] | None = None
) -> JSON:
    """The card with a Universal Actions `refresh`: Teams asks the bot (an
    `adaptiveCard/action` invoke carrying `view`) how the card looks to each of `user_ids`
    (at most REFRESH_USERS), and shows each their own. Without the list, or when it would
    make the card too large, Teams asks for everyone in a small conversation."""
    action = {"type": "Action.Execute", "title": title, "verb": VERB, "data": {VIEW_KEY: action_id}}
    result: JSON = {**content, "refresh": {"action": action}}
    if user_ids is not None and 0 < len(user_ids) <= REFRESH_USERS:
        listed: JSON = {**result, "refresh": {"action": action, "userIds": list(user_ids)}}
        if card_size(listed) <= CARD_BYTES:
            return listed
    if card_size(result) > CARD_BYTES:
        return content  # the card as it was: one view for everyone
    return result


def viewed_of(value: Mapping[str, Any]) -> str | None:
    """The button a card's refresh asks about; None if the value is no refresh of ours."""
    data = _payload(value)
    viewed = data.get(VIEW_KEY) if data is not None else None
    return viewed if isinstance(viewed, str) and viewed else None


def choice_of(value: Mapping[str, Any]) -> str | None:
    """The action id of a pressed Choices button; None if the value is not one of ours."""
    data = _payload(value)
    if data is None or FORM_KEY in data:
        return None
    action_id = data.get(ACTION_KEY)
    return action_id if isinstance(action_id, str) and action_id else None
