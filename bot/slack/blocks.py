"""Neutral messages and forms as Slack Block Kit: messages, the App Home view, modals.

Pure functions, no I/O. Every documented Block Kit limit is respected. Long
content is split into more blocks (and, past a message's limits, into more
messages), never cut. Only text that is not content is ever shortened, always
with a visible "…": the notification fallback, placeholders, and labels that
Slack caps hard and that are repeated in full elsewhere (a modal title, a long
field label, long option labels).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import accumulate
from typing import Any, Final

from handlers.core.vocabulary import (
    Block,
    BulletList,
    Choices,
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

# ---------------------------------------------------------------- Slack's limits
# From docs.slack.dev/reference/block-kit (blocks, block elements, composition
# objects, views) and chat.postMessage. slack_sdk's models check most of them.

MESSAGE_BLOCKS: Final = 50
VIEW_BLOCKS: Final = 100  # modals and the App Home alike
SECTION_TEXT: Final = 3000
SECTION_FIELDS: Final = 10
FIELD_TEXT: Final = 2000
HEADER_TEXT: Final = 150
CONTEXT_TEXT: Final = 3000  # a text object's limit; the context block sets none of its own
ACTIONS_ELEMENTS: Final = 25
BUTTON_TEXT: Final = 75
BUTTON_VALUE: Final = 2000
ACTION_ID: Final = 255
BLOCK_ID: Final = 255
OPTION_TEXT: Final = 75
OPTION_VALUE: Final = 150
SELECT_OPTIONS: Final = 100
PLACEHOLDER: Final = 150
INPUT_LABEL: Final = 2000
TEXT_INPUT_MAX: Final = 3000  # plain_text_input.max_length accepts 1..3000
VIEW_TITLE: Final = 24
VIEW_BUTTON: Final = 24  # submit and close
CALLBACK_ID: Final = 255
PRIVATE_METADATA: Final = 3000
# chat.postMessage: "limit the number of characters in the text field to 4,000".
FALLBACK_TEXT: Final = 4000

# Undocumented: Slack also rejects a message whose blocks hold too much text in
# all (`msg_blocks_too_long`). A Slack engineer put it at "12,000 text characters
# with a buffer for block containers" (slackapi/bolt-js#2509); #2509 measured
# about 125 characters of overhead per block, and #2867 saw a refusal at 11,341
# characters of text. So each message stays under this budget, counting every
# block's text plus that overhead. Views have no known cumulative limit beyond
# their 100 blocks.
MESSAGE_TEXT_BUDGET: Final = 11_000
BLOCK_OVERHEAD: Final = 125

# Our choices, not Slack's.
MAX_BUTTONS: Final = 5  # more options than this read better as a menu
BULLET: Final = "• "
DEFAULT_PLACEHOLDER: Final = "Välj / Choose"  # no translator here; callers pass their own
DEFAULT_CLOSE: Final = "Avbryt / Cancel"
DEFAULT_MORE: Final = "… Det finns mer än som ryms här. / There is more than fits here."
# A menu's own action_id; the chosen option's value carries the neutral action id.
SELECT_ACTION_PREFIX: Final = "digilog.select."
# A link text's "|" would end Slack's <url|text>; there is no escape for it, so a
# look-alike (U+2223 DIVIDES) stands in.
PIPE_STAND_IN: Final = "\u2223"


@dataclass(frozen=True)
class SlackMessage:
    """One chat.postMessage worth: the notification fallback and the blocks, and each
    block as JSON text (made once per distinct block, with its rendering)."""

    text: str
    blocks: list[JSON]
    encoded: tuple[str, ...]

    def response_body(self, *, replace_original: bool) -> bytes:
        """This message as a private reply to a response_url: the JSON body, its blocks'
        text joined rather than encoded again (in a quiz burst that was a reply's dearest
        step but the POST itself)."""
        return (
            f'{{"text":{_json_text(self.text)},"blocks":[{",".join(self.encoded)}],'
            f'"response_type":"ephemeral","replace_original":'
            f"{'true' if replace_original else 'false'}}}"
        ).encode()


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------- mrkdwn


_ESCAPES: Final = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_URL_ESCAPES: Final = str.maketrans({"&": "&amp;", "<": "%3C", ">": "%3E", "|": "%7C"})


def escape(text: str) -> str:
    """Slack's three control characters as entities; nothing else needs escaping."""
    return text.translate(_ESCAPES)


def mrkdwn(spans: Iterable[Span]) -> str:
    """Spans as Slack mrkdwn. Each span renders on its own, so chunks of spans do too."""
    return "".join(_span(span) for span in spans)


def _span(span: Span) -> str:
    if span.link:
        return _link(span)
    if span.strong:
        # Slack's *bold* neither spans lines nor starts or ends with whitespace.
        return "\n".join(_around_core(line, _bold) for line in span.text.split("\n"))
    return escape(span.text)


def _link(span: Span) -> str:
    target = span.link.translate(_URL_ESCAPES) if span.link else ""
    if not span.text.strip():
        return escape(span.text) + f"<{target}>"

    def link(core: str) -> str:
        label = f"<{target}|{escape(core).replace('|', PIPE_STAND_IN)}>"
        return _bold(label, escaped=True) if span.strong else label

    return _around_core(span.text, link)


def _bold(core: str, *, escaped: bool = False) -> str:
    return f"*{core if escaped else escape(core)}*"


def _around_core(text: str, wrap: Callable[[str], str]) -> str:
    """`wrap` applied to the text between leading and trailing whitespace."""
    core = text.strip()
    if not core:
        return escape(text)
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    return lead + wrap(core) + trail


# ---------------------------------------------------------------- splitting text
# Splitting works on spans, not on rendered mrkdwn, so that a chunk can never end
# inside an entity, a link or a *bold* pair: every chunk renders on its own.


@dataclass(frozen=True)
class _Unit:
    """A word with its trailing whitespace (or a whole link): the smallest piece moved."""

    span: Span
    origin: int  # which input span it came from, to join its neighbours back
    cost: int  # its rendered length; a joined run never renders longer than its sum
    score: int  # how good a place it is to split right after it


_WORDS: Final = re.compile(r"\S+\s*|\s+")
_SENTENCE_END: Final = ".!?…:;"


def split_spans(spans: Sequence[Span], limit: int) -> list[tuple[Span, ...]]:
    """Spans in chunks whose mrkdwn fits `limit`, split at the best boundary near it.

    Boundaries, best first: a blank line, a line break, a sentence end, a space,
    and (only for a word longer than `limit`) between two characters. Nothing is
    dropped but the whitespace at each split and at both ends.
    """
    if _one_chunk(spans, limit):  # most texts: no need to cut them into words and back
        whole = _trim([span for span in spans if span.text or span.link])
        return [whole] if whole else []
    chunks: list[list[_Unit]] = []
    current: list[_Unit] = []
    cost = 0
    for unit in _units(spans, limit):
        while current and cost + unit.cost > limit:
            cut = _best_cut(current, limit)
            chunks.append(current[:cut])
            current = current[cut:]
            cost = sum(u.cost for u in current)
        current.append(unit)
        cost += unit.cost
    chunks.append(current)
    return [chunk for chunk in (_join(units) for units in chunks) if chunk]


def _one_chunk(spans: Sequence[Span], limit: int) -> bool:
    """Whether the units of `spans` cost at most `limit` in all, so that splitting would
    keep them in one chunk. A bold word costs its own pair of asterisks as a unit: two
    per word over the span's rendering bounds that."""
    total = 0
    for span in spans:
        total += len(_span(span))
        if span.strong and not span.link:
            total += 2 * len(span.text.split())
        if total > limit:
            return False
    return True


def _units(spans: Sequence[Span], limit: int) -> Iterator[_Unit]:
    for origin, span in enumerate(_linkable(spans, limit)):
        pieces = [span.text] if span.link else _WORDS.findall(span.text)
        for piece in pieces:
            part = replace(span, text=piece)
            if len(_span(part)) <= limit:
                yield _unit(part, origin, _score(piece))
            else:
                yield from _hard_split(part, origin, limit)


def _linkable(spans: Sequence[Span], limit: int) -> Iterator[Span]:
    """Spans, where a link too long to fit whole becomes its text and its bare URL."""
    for span in spans:
        if span.link and len(_span(span)) > limit:
            yield replace(span, link=None)
            yield Span(f" {span.link}")  # Slack links a bare URL by itself
        else:
            yield span


def _hard_split(span: Span, origin: int, limit: int) -> Iterator[_Unit]:
    """A word longer than `limit`, cut between characters (never inside an entity)."""
    budget = limit - (len(_span(replace(span, text="x"))) - 1)  # room left by *…*
    piece, cost = "", 0
    for char in span.text:
        size = len(escape(char))
        if piece and cost + size > budget:
            yield _unit(replace(span, text=piece), origin, 0)
            piece, cost = "", 0
        piece, cost = piece + char, cost + size
    yield _unit(replace(span, text=piece), origin, _score(piece))


def _unit(span: Span, origin: int, score: int) -> _Unit:
    return _Unit(span, origin, len(_span(span)), score)


def _score(text: str) -> int:
    core = text.rstrip()
    space = text[len(core) :]
    if space.count("\n") >= 2:
        return 4
    if "\n" in space:
        return 3
    if space and core and core[-1] in _SENTENCE_END:
        return 2
    return 1 if space else 0


def _best_cut(units: Sequence[_Unit], limit: int) -> int:
    """How many units to keep: the best boundary in the back half of the chunk."""
    ends = list(accumulate(u.cost for u in units))
    candidates = [i + 1 for i, end in enumerate(ends) if end >= limit // 2] or list(
        range(1, len(units) + 1)
    )
    return max(candidates, key=lambda n: (units[n - 1].score, n))


def _join(units: Sequence[_Unit]) -> tuple[Span, ...]:
    """Neighbouring units of one span joined again, whitespace trimmed at both ends."""
    spans: list[Span] = []
    origins: list[int] = []
    for unit in units:
        if origins and origins[-1] == unit.origin:
            spans[-1] = replace(spans[-1], text=spans[-1].text + unit.span.text)
        else:
            spans.append(unit.span)
            origins.append(unit.origin)
    return _trim(spans)


def _trim(spans: list[Span]) -> tuple[Span, ...]:
    while spans and not spans[0].link and not spans[0].text.strip():
        spans.pop(0)
    while spans and not spans[-1].link and not spans[-1].text.strip():
        spans.pop()
    if spans:
        spans[0] = replace(spans[0], text=spans[0].text.lstrip())
        spans[-1] = replace(spans[-1], text=spans[-1].text.rstrip())
    return tuple(spans)


def _pack_lines(lines: Iterable[str], limit: int) -> list[str]:
    """Lines (each within `limit`) joined by newlines into as few texts as fit."""
    texts: list[str] = []
    for line in lines:
        if texts and len(texts[-1]) + 1 + len(line) <= limit:
            texts[-1] += "\n" + line
        else:
            texts.append(line)
    return texts


# ---------------------------------------------------------------- composition objects


def _plain(text: str) -> JSON:
    return {"type": "plain_text", "text": text, "emoji": True}


def _md(text: str) -> JSON:
    return {"type": "mrkdwn", "text": text}


def _cut(text: str, limit: int) -> str:
    """Plain text within `limit`, visibly shortened at a word if one ends late enough.

    Only for labels Slack caps hard whose full text is shown elsewhere, or that
    are not content (placeholders, button labels of our own).
    """
    if len(text) <= limit:
        return text
    kept = text[: limit - 1]
    space = kept.rfind(" ")
    if space >= limit // 2:
        kept = kept[:space]
    return kept.rstrip() + "…"


def _cut_escaped(text: str, limit: int) -> str:
    """`text` escaped within `limit`, shortened with "…" but never inside an entity."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    kept: list[str] = []
    size = 0
    for char in text:
        entity = escape(char)
        if size + len(entity) > limit - 1:
            break
        kept.append(entity)
        size += len(entity)
    return "".join(kept).rstrip() + "…"


def _check(what: str, value: str, limit: int) -> str:
    """Our own identifiers must fit: cutting them would break routing, so refuse."""
    if not value or len(value) > limit:
        raise ValueError(f"{what} must be 1 to {limit} characters, got {len(value)}: {value!r}")
    return value


# ---------------------------------------------------------------- blocks


def _sections(spans: Sequence[Span]) -> list[JSON]:
    return [{"type": "section", "text": _md(mrkdwn(c))} for c in split_spans(spans, SECTION_TEXT)]


def _text_sections(lines: Iterable[str]) -> list[JSON]:
    return [{"type": "section", "text": _md(t)} for t in _pack_lines(lines, SECTION_TEXT)]


def _heading(text: str) -> list[JSON]:
    if not text.strip():
        return []
    if len(text) <= HEADER_TEXT:
        return [{"type": "header", "text": _plain(text)}]
    # A header cannot hold it; a bold section reads as the same heading.
    return _sections((Span(text, strong=True),))


def _bullets(items: Iterable[tuple[Span, ...]]) -> list[JSON]:
    lines: list[str] = []
    for item in items:
        chunks = split_spans(item, SECTION_TEXT - len(BULLET)) or [()]
        lines.append(BULLET + mrkdwn(chunks[0]))
        lines.extend(mrkdwn(chunk) for chunk in chunks[1:])
    return _text_sections(lines)


def _facts(pairs: Iterable[tuple[str, str]]) -> list[JSON]:
    """Short facts as section fields (a two-column grid); long ones as lines."""
    kept = [(label, value) for label, value in pairs if label.strip() or value.strip()]
    fields = [_fact_field(label, value) for label, value in kept]
    if all(len(field) <= FIELD_TEXT for field in fields):
        return [
            {"type": "section", "fields": [_md(field) for field in group]}
            for group in _field_groups(fields)
        ]
    lines = [
        mrkdwn(chunk)
        for label, value in kept
        for chunk in split_spans((Span(label, strong=True), Span(f"  {value}")), SECTION_TEXT)
    ]
    return _text_sections(lines)


def _fact_field(label: str, value: str) -> str:
    parts = (mrkdwn((Span(label.strip(), strong=True),)), escape(value.strip()))
    return "\n".join(part for part in parts if part)


def _field_groups(fields: list[str]) -> list[list[str]]:
    """At most ten fields a section, and no more text than a section's own text."""
    groups: list[list[str]] = []
    for field in fields:
        last = groups[-1] if groups else []
        if (
            groups
            and len(last) < SECTION_FIELDS
            and sum(map(len, last)) + len(field) <= SECTION_TEXT
        ):
            last.append(field)
        else:
            groups.append([field])
    return groups


def _note(text: str) -> list[JSON]:
    # Several context elements would sit side by side, so each chunk gets a block.
    return [
        {"type": "context", "elements": [_md(mrkdwn(chunk))]}
        for chunk in split_spans((Span(text),), CONTEXT_TEXT)
    ]


def _choices(options: Sequence[Option], position: int, placeholder: str) -> list[JSON]:
    if not options:
        return []
    if any(len(option.label) > BUTTON_TEXT for option in options):
        # Quiz options are often long: show them in full, answer by number.
        numbers = [str(n) for n in range(1, len(options) + 1)]
        return _numbered([o.label for o in options]) + _buttons(options, numbers)
    if len(options) <= MAX_BUTTONS:
        return _buttons(options, [option.label for option in options])
    return _menus(options, position, placeholder)


def _numbered(labels: Sequence[str]) -> list[JSON]:
    lines = [
        mrkdwn(chunk)
        for n, label in enumerate(labels, 1)
        for chunk in split_spans((Span(f"{n}. {label}"),), SECTION_TEXT)
    ]
    return _text_sections(lines)


def _buttons(options: Sequence[Option], labels: Sequence[str]) -> list[JSON]:
    buttons = [_button(option, label) for option, label in zip(options, labels, strict=True)]
    return [
        {"type": "actions", "elements": buttons[i : i + ACTIONS_ELEMENTS]}
        for i in range(0, len(buttons), ACTIONS_ELEMENTS)
    ]


def _button(option: Option, label: str) -> JSON:
    button: JSON = {
        "type": "button",
        "text": _plain(_label(option, label)),
        "action_id": option.action_id,
        "value": _check("a button's value", option.action_id, BUTTON_VALUE),
    }
    if option.style != "default":
        button["style"] = option.style
    return button


def _menus(options: Sequence[Option], position: int, placeholder: str) -> list[JSON]:
    menus = [
        {
            "type": "static_select",
            # Unique within the message; the adapter reads the chosen option's value.
            "action_id": f"{SELECT_ACTION_PREFIX}{position}.{n}",
            "placeholder": _plain(_cut(placeholder, PLACEHOLDER)),
            "options": [
                _option(_label(o, o.label), _menu_value(o)) for o in options[i : i + SELECT_OPTIONS]
            ],
        }
        for n, i in enumerate(range(0, len(options), SELECT_OPTIONS))
    ]
    return [
        {"type": "actions", "elements": menus[i : i + ACTIONS_ELEMENTS]}
        for i in range(0, len(menus), ACTIONS_ELEMENTS)
    ]


def _label(option: Option, label: str) -> str:
    if not label.strip():  # Slack refuses an empty button or option text
        raise ValueError(f"option {option.action_id!r} has no label")
    return label


def _menu_value(option: Option) -> str:
    return _check("an action id in a menu (an option's value)", option.action_id, OPTION_VALUE)


def _option(text: str, value: str) -> JSON:
    return {"text": _plain(text), "value": value}


def _render(block: Block, position: int, placeholder: str) -> list[JSON]:
    match block:
        case Heading(text=text):
            return _heading(text)
        case Paragraph(spans=spans):
            return _sections(spans)
        case BulletList(items=items):
            return _bullets(items)
        case Facts(pairs=pairs):
            return _facts(pairs)
        case Note(text=text):
            return _note(text)
        case Divider():
            return [{"type": "divider"}]
        case Choices(options=options):
            return _choices(options, position, placeholder)
    raise TypeError(f"unknown block {block!r}")


def _groups(blocks: Sequence[Block], placeholder: str) -> list[list[Rendered]]:
    """Each neutral block's Slack blocks with their costs, a heading glued to what follows."""
    _check_action_ids(blocks)
    groups: list[list[Rendered]] = []
    glue = False
    for position, block in enumerate(blocks):
        # Menus' action ids name their place in the message; nothing else does.
        place = position if isinstance(block, Choices) else 0
        try:
            rendered = _rendered(block, place, placeholder)
        except TypeError:  # a block built with a list somewhere cannot be a key: render it
            rendered = _with_costs(_render(block, place, placeholder))
        if not rendered:
            continue
        if glue:
            groups[-1].extend(rendered)
        else:
            groups.append(list(rendered))
        glue = isinstance(block, Heading)
    return groups


# A Slack block, its cost against a message's limits, and its JSON text.
Rendered = tuple[JSON, int, str]

# Rendered blocks kept: a few hundred distinct ones serve a workshop's quiz. They hold
# texts people wrote (bank entries) until pushed out; never written anywhere.
RENDERED_BLOCKS: Final = 1024


@lru_cache(maxsize=RENDERED_BLOCKS)
def _rendered(block: Block, position: int, placeholder: str) -> tuple[Rendered, ...]:
    """A block's Slack blocks, each with its cost and its JSON text, worked out once: in a
    quiz burst a thousand replies are made of a few dozen distinct blocks (the questions,
    their options in a person's order, the verdicts). What it returns is shared: never
    changed after."""
    return _with_costs(_render(block, position, placeholder))


def _with_costs(blocks: Iterable[JSON]) -> tuple[Rendered, ...]:
    return tuple((block, _cost(block), _json_text(block)) for block in blocks)


def _check_action_ids(blocks: Iterable[Block]) -> None:
    """Bolt routes by action id: each must fit, and one message must not repeat one."""
    seen: set[str] = set()
    for block in blocks:
        if not isinstance(block, Choices):
            continue
        for option in block.options:
            _check("an action id", option.action_id, ACTION_ID)
            if option.action_id in seen:
                raise ValueError(f"action id {option.action_id!r} appears twice in one message")
            seen.add(option.action_id)


# ---------------------------------------------------------------- messages


def render_message(
    message: Message, *, placeholder: str = DEFAULT_PLACEHOLDER
) -> list[SlackMessage]:
    """The message as one Slack message, or several in order when it exceeds one's limits.

    `placeholder` is shown in a menu (used for more than five choices).
    """
    parts = _pack(_groups(message.blocks, placeholder))
    summary = message.summary.strip() or _first_text(message.blocks)
    if len(parts) == 1:
        return [SlackMessage(_cut_escaped(summary, FALLBACK_TEXT), *_split(parts[0]))]
    return [
        SlackMessage(_numbered_fallback(summary, n, len(parts)), *_split(part))
        for n, part in enumerate(parts, 1)
    ]


def _split(part: list[Rendered]) -> tuple[list[JSON], tuple[str, ...]]:
    return [block for block, _, _ in part], tuple(encoded for _, _, encoded in part)


def _pack(groups: Iterable[list[Rendered]]) -> list[list[Rendered]]:
    """Blocks into messages; a group that fits one message is not split across two.

    Each block's cost is counted once and the message's kept as a sum: measuring the whole
    message again for each block made every reply cost the square of its blocks."""
    parts: list[list[Rendered]] = [[]]
    cost = 0  # of parts[-1]
    for group in groups:
        whole = sum(block_cost for _, block_cost, _ in group)
        if (
            parts[-1]
            and not _fits(len(parts[-1]) + len(group), cost + whole)
            and _fits(len(group), whole)
        ):
            parts.append([])
            cost = 0
        for rendered in group:
            block_cost = rendered[1]
            if parts[-1] and not _fits(len(parts[-1]) + 1, cost + block_cost):
                parts.append([])
                cost = 0
            parts[-1].append(rendered)
            cost += block_cost
    return parts


def _cost(block: JSON) -> int:
    return BLOCK_OVERHEAD + sum(map(len, _texts(block)))


def _fits(blocks: int, cost: int) -> bool:
    return blocks <= MESSAGE_BLOCKS and cost <= MESSAGE_TEXT_BUDGET


def _texts(node: Any) -> Iterator[str]:
    """Every "text" string in a block, however deep."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "text" and isinstance(value, str):
                yield value
            else:
                yield from _texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _texts(item)


def _numbered_fallback(summary: str, n: int, total: int) -> str:
    suffix = f" ({n}/{total})"
    return _cut_escaped(summary, FALLBACK_TEXT - len(suffix)) + suffix


def _first_text(blocks: Iterable[Block]) -> str:
    """A fallback for an empty summary: Slack wants notification text with blocks."""
    for block in blocks:
        text = " ".join(_plain_text(block).split())
        if text:
            return text
    return ""


def _plain_text(block: Block) -> str:
    match block:
        case Heading(text=text) | Note(text=text):
            return text
        case Paragraph(spans=spans):
            return "".join(span.text for span in spans)
        case BulletList(items=items):
            return " ".join("".join(span.text for span in item) for item in items)
        case Facts(pairs=pairs):
            return " ".join(f"{label}: {value}" for label, value in pairs)
        case Choices(options=options):
            return " / ".join(option.label for option in options)
    return ""


# ---------------------------------------------------------------- App Home


def render_home(
    message: Message, *, placeholder: str = DEFAULT_PLACEHOLDER, more: str = DEFAULT_MORE
) -> JSON:
    """The message as the App Home view: one surface of at most 100 blocks."""
    blocks = [block for group in _groups(message.blocks, placeholder) for block, _, _ in group]
    if len(blocks) > VIEW_BLOCKS:
        blocks = _merge_sections(blocks)
    if len(blocks) > VIEW_BLOCKS:
        # The one place where content is dropped: a view cannot continue in a
        # second view the way a message continues in a second message. Whole
        # trailing blocks go, and the last block says that more exists.
        blocks = blocks[: VIEW_BLOCKS - 1]
        while blocks and blocks[-1]["type"] == "header":
            blocks.pop()  # a heading without its content would mislead
        blocks.append({"type": "context", "elements": [_md(_cut_escaped(more, CONTEXT_TEXT))]})
    return {"type": "home", "blocks": blocks}


def _merge_sections(blocks: Iterable[JSON]) -> list[JSON]:
    """Neighbouring text sections joined as paragraphs of one, as far as they fit."""
    merged: list[JSON] = []
    for block in blocks:
        last = merged[-1] if merged else None
        if (
            last is not None
            and _is_text_section(last)
            and _is_text_section(block)
            and len(last["text"]["text"]) + 2 + len(block["text"]["text"]) <= SECTION_TEXT
        ):
            text = last["text"]["text"] + "\n\n" + block["text"]["text"]
            merged[-1] = {"type": "section", "text": _md(text)}
        else:
            merged.append(block)
    return merged


def _is_text_section(block: JSON) -> bool:
    return block["type"] == "section" and set(block) == {"type", "text"}


# ---------------------------------------------------------------- modals


def render_modal(
    form: Form,
    *,
    callback_id: str,
    private_metadata: str,
    close_label: str = DEFAULT_CLOSE,
    placeholder: str = DEFAULT_PLACEHOLDER,
) -> JSON:
    """The form as a modal; each input's block_id and action_id is its field_id."""
    if not form.title.strip():
        raise ValueError(f"form {form.form_id!r} has no title; a modal needs one")
    blocks: list[JSON] = []
    if len(form.title) > VIEW_TITLE:
        blocks += _sections((Span(form.title, strong=True),))  # the title in full
    if form.intro:
        blocks += _sections((Span(form.intro),))
    _check_field_ids(form)
    for field in form.fields:
        blocks += _field(field, placeholder)
    if len(blocks) > VIEW_BLOCKS:
        raise ValueError(f"form {form.form_id!r} needs {len(blocks)} blocks; a modal holds 100")
    view: JSON = {
        "type": "modal",
        "callback_id": _check("callback_id", callback_id, CALLBACK_ID),
        "title": _plain(_cut(form.title, VIEW_TITLE)),
        # Labels Slack caps at 24: a translation may run long, and a shortened
        # button still works where a refused modal would not open at all.
        "submit": _plain(_cut(form.submit_label, VIEW_BUTTON)),
        "close": _plain(_cut(close_label, VIEW_BUTTON)),
        "blocks": blocks,
    }
    if len(private_metadata) > PRIVATE_METADATA:
        # Ours, like an action id: cutting it would lose what the submission needs.
        raise ValueError(
            f"private_metadata is {len(private_metadata)} characters; Slack allows 3000"
        )
    if private_metadata:  # Slack leaves an empty one out as well
        view["private_metadata"] = private_metadata
    return view


def _check_field_ids(form: Form) -> None:
    ids = [_check("a field id", field.field_id, BLOCK_ID) for field in form.fields]
    if len(set(ids)) != len(ids):
        raise ValueError(f"form {form.form_id!r} repeats a field id: {ids}")


def _field(field: Field, placeholder: str) -> list[JSON]:
    before: list[JSON] = []
    if len(field.label) > INPUT_LABEL:
        before += _sections((Span(field.label),))  # the label in full, above its input
    if isinstance(field, TextField):
        element = _text_input(field)
    else:
        extra, element = _select(field, placeholder)
        before += extra
    block = {
        "type": "input",
        "block_id": field.field_id,
        "label": _plain(_cut(field.label, INPUT_LABEL)),
        "element": element,
        "optional": field.optional,
    }
    return [*before, block]


def _text_input(field: TextField) -> JSON:
    element: JSON = {
        "type": "plain_text_input",
        "action_id": field.field_id,
        "multiline": field.multiline,
    }
    if field.max_length is not None:
        if field.max_length < 1:
            raise ValueError(f"field {field.field_id!r}: max_length must be at least 1")
        # Slack takes at most 3000. Capping asks for less, it cuts nothing: Slack
        # tells the writer, in the modal, when the text is too long.
        element["max_length"] = min(field.max_length, TEXT_INPUT_MAX)
    if field.initial is not None:
        element["initial_value"] = field.initial
    if field.placeholder:
        element["placeholder"] = _plain(_cut(field.placeholder, PLACEHOLDER))
    return element


def _select(field: SelectField, placeholder: str) -> tuple[list[JSON], JSON]:
    """The menu, and any blocks to show above it (long option labels in full)."""
    if not 1 <= len(field.options) <= SELECT_OPTIONS:
        raise ValueError(f"field {field.field_id!r} has {len(field.options)} options; 1 to 100")
    labels = [label for _, label in field.options]
    before: list[JSON] = []
    if any(len(label) > OPTION_TEXT for label in labels):
        before = _numbered(labels)
        labels = [_cut(f"{n}. {label}", OPTION_TEXT) for n, label in enumerate(labels, 1)]
    options = [
        _option(label, _check("an option value", value, OPTION_VALUE))
        for (value, _), label in zip(field.options, labels, strict=True)
    ]
    element: JSON = {
        "type": "static_select",
        "action_id": field.field_id,
        "placeholder": _plain(_cut(placeholder, PLACEHOLDER)),
        "options": options,
    }
    if field.initial is not None:
        element["initial_option"] = _initial_option(field, options)
    return before, element


def _initial_option(field: SelectField, options: list[JSON]) -> JSON:
    for option in options:
        if option["value"] == field.initial:
            return option
    raise ValueError(f"field {field.field_id!r}: initial {field.initial!r} is not an option")


# ---------------------------------------------------------------- coming back


def values_from_view_state(state_values: Any) -> dict[str, str]:
    """view_submission's `view.state.values` as field_id → value ("" when left empty).

    ValueError when it is not what Digilog's own modals send back.
    """
    if not isinstance(state_values, Mapping):
        raise ValueError("the state values are not an object")
    values = {}
    for actions in state_values.values():
        if not isinstance(actions, Mapping):
            raise ValueError("a block's state is not an object")
        for action_id, state in actions.items():
            values[action_id] = _state_value(action_id, state)
    return values


def _state_value(action_id: str, state: Any) -> str:
    if not isinstance(state, Mapping):
        raise ValueError(f"{action_id!r}: the element's state is not an object")
    kind = state.get("type")
    if kind == "plain_text_input":
        return str(state.get("value") or "")
    if kind == "static_select":
        option = state.get("selected_option") or {}
        if not isinstance(option, Mapping):
            raise ValueError(f"{action_id!r}: the selected option is not an object")
        return str(option.get("value") or "")
    raise ValueError(f"{action_id!r}: a {kind!r} element is not one Digilog renders")


def chosen_action_id(action: Mapping[str, Any]) -> str:
    """The neutral action id behind a block_actions action: a button's or a menu pick's."""
    if action.get("type") == "static_select":
        return str((action.get("selected_option") or {}).get("value") or "")
    return str(action.get("value") or action.get("action_id") or "")
