"""Help and the role matrix, both read from what the features declare (handlers/core/registry.py).

Who may run a command is its level in the role matrix (handlers/core/access.py), checked by
`Digilog` before the command runs; help shows a person only what they may run.
"""

from __future__ import annotations

import difflib

from handlers.core import access
from handlers.core.context import Args, Context
from handlers.core.i18n import N_
from handlers.core.registry import Command, Feature, Registry
from handlers.core.vocabulary import Message, MessageBuilder, Outgoing


async def _help(context: Context, args: Args) -> list[Outgoing]:
    if args.rest.strip():
        return [context.reply(command_help(context, args.rest))]
    return [context.reply(help_message(context))]


def _allowed(context: Context) -> list[Command]:
    standing = access.standing_of(context)
    return [c for c in context.registry().commands if access.allows(c.access, standing)]


def name_of(context: Context, command: Command) -> str:
    return " ".join(command.words_in(context.language))


def named(context: Context, *words: str) -> str:
    """A command's name as this person would type it in their language: `hjälp`."""
    return name_of(context, context.registry().command(words))


def help_message(context: Context) -> Message:
    """A short overview: the commands this person may run here, by feature, in their
    language; `help COMMAND` tells more of one."""
    t = context.t
    features = context.registry()
    allowed = {c.words for c in _allowed(context)}
    # Features of one title share a row: the reflection tasks' command sits with the themes'.
    by_title: dict[str, list[str]] = {}
    for feature in features.features:
        names = [name_of(context, c) for c in feature.commands if c.words in allowed]
        if names and feature.commands[0].words != ("help",):
            by_title.setdefault(t(feature.title), []).extend(names)
    rows = [(title, ", ".join(names)) for title, names in by_title.items()]
    build = MessageBuilder().heading(t("Digilog commands")).facts(rows)
    example = f"{named(context, 'help')} {rows[0][1].split(', ')[0] if rows else ''}"
    build.note(t("{command} tells more about a command.", command=context.typed(example.strip())))
    standing = access.standing_of(context)
    if standing in (access.Standing.unknown, access.Standing.known):
        build.note(
            t(
                "You are not in a cohort here yet: write {command} in your cohort's channel.",
                command=context.typed(named(context, "join")),
            )
        )
    elif standing is not access.Standing.facilitator:
        build.note(t("Reply in a theme's thread to take part in its digilog."))
    return build.build()


def command_help(context: Context, asked: str) -> Message:
    """`help theme`: the usage and summary of each command that starts so, in either
    language, among those this person may run."""
    t = context.t
    wanted = tuple(asked.lower().split())
    found: list[Command] = []
    # `help survey final` is about `survey`: the words after a command are its arguments.
    while wanted and not found:
        found = [
            c
            for c in _allowed(context)
            if any(words[: len(wanted)] == wanted for words in (c.words, c.sv) if words)
        ]
        wanted = wanted[:-1]
    if not found:
        return unknown_command(context, asked)
    build = MessageBuilder().heading(t("Digilog commands"))
    build.facts([(t(c.usage), t(c.summary)) for c in found])
    return build.build()


def unknown_command(context: Context, typed: str) -> Message:
    """Not a command: the nearest ones this person may run, and how to see them all."""
    t = context.t
    word = typed.split()[0][:40] if typed.split() else ""  # an echo, not a megabyte
    # Names in the reader's language first; the other language's if none is near.
    near: list[str] = []
    for language in (context.language, "en"):
        heads = sorted({" ".join(c.words_in(language)).split()[0] for c in _allowed(context)})
        near = near or difflib.get_close_matches(word.lower(), heads, n=2, cutoff=0.6)
    build = MessageBuilder().para(t("I don't know the command “{word}”.", word=word))
    if near:
        suggested = t(" or ").join(context.typed(n) for n in near)
        build.para(t("Did you mean {commands}?", commands=suggested))
    listing = context.typed(named(context, "help"))
    build.note(t("{command} lists what you can do.", command=listing))
    return build.build()


def matrix_markdown(features: Registry) -> str:
    """The whole role matrix as Markdown (docs/role-matrix.md): every feature's commands,
    buttons and forms, and the administrator's acts."""
    return access.matrix_markdown(
        ((f"`{c.usage}` (sv: `{' '.join(c.sv)}`)", c.access, c.note) for c in features.commands),
        ((b.kind, b.access, b.what, b.finer) for b in features.buttons),
        ((f.kind, f.access, f.what, f.finer) for f in features.forms),
    )


FEATURE = Feature(
    "help",
    N_("Help"),
    commands=(
        Command(
            ("help",),
            N_("help"),
            N_("Show what you can do."),
            access.Access.anyone,
            _help,
            sv=("hjälp",),
        ),
    ),
)
