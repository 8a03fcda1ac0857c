"""Neutral messages as terminal text."""

from __future__ import annotations

from collections.abc import Iterable

from handlers.core.vocabulary import (
    BulletList,
    Choices,
    Divider,
    Facts,
    Heading,
    Message,
    Note,
    Option,
    Paragraph,
    Span,
)

BOLD, DIM, RESET = "\033[1m", "\033[2m", "\033[0m"


def spans(parts: Iterable[Span], *, color: bool, marks: bool = True) -> str:
    out = []
    for span in parts:
        value = span.text
        if span.strong and value.strip() and (color or marks):
            # Markers hug the words: "**Task:** text", not "**Task: **text".
            core = value.strip()
            lead, trail = value[: len(value) - len(value.lstrip())], value[len(value.rstrip()) :]
            core = f"{BOLD}{core}{RESET}" if color else f"**{core}**"
            value = lead + core + trail
        if span.link:
            value = f"{value} <{span.link}>"
        elif span.ref is not None:
            value = f"{value} <#{span.ref.conversation_id}>"
        out.append(value)
    return "".join(out)


def render(
    message: Message, *, color: bool = False, indent: str = "  ", marks: bool = True
) -> tuple[str, list[Option]]:
    """The message as lines of text, and its choices in the order they are numbered.

    Without color, strong text is written between ** (`marks`): a console transcript
    shows what was strong. marks=False writes it plain, for a reader of the digilog
    command's output, for whom ** would be stray markup."""
    lines: list[str] = []
    options: list[Option] = []
    for block in message.blocks:
        match block:
            case Heading(text=text):
                lines.append(f"{BOLD}{text}{RESET}" if color else f"== {text} ==")
            case Paragraph(spans=parts):
                lines.extend(spans(parts, color=color, marks=marks).splitlines() or [""])
            case BulletList(items=items):
                lines.extend(f"  • {spans(item, color=color, marks=marks)}" for item in items)
            case Facts(pairs=pairs):
                width = min(max((len(label) for label, _ in pairs), default=0), 40)
                lines.extend(f"  {label.ljust(width)}  {value}" for label, value in pairs)
            case Note(text=text):
                lines.append(f"{DIM}{text}{RESET}" if color else f"({text})")
            case Divider():
                lines.append("─" * 40)
            case Choices(options=choices):
                for option in choices:
                    options.append(option)
                    lines.append(f"  [{len(options)}] {option.label}")
    return "\n".join(indent + line if line else line for line in lines), options
