"""Help and the role matrix, both read from what the features declare (handlers/registry.py).

Who may run a command is its level in the role matrix (handlers/access.py), checked by
`Digilog` before the command runs; help shows a person only what they may run.
"""

from __future__ import annotations

from handlers import access
from handlers.context import Args, Context
from handlers.i18n import N_
from handlers.registry import Command, Feature, Registry
from handlers.vocabulary import Message, MessageBuilder, Outgoing


async def _help(context: Context, args: Args) -> list[Outgoing]:
    return [context.reply(help_message(context))]


def help_message(context: Context, extra: list[tuple[str, str]] | None = None) -> Message:
    """The commands this person may run here, and nothing else."""
    t = context.t
    standing = access.standing_of(context)
    build = MessageBuilder().heading(t("Digilog commands"))
    # What everyone may do first, then the facilitators' own commands.
    allowed = [c for c in context.registry().commands if access.allows(c.access, standing)]
    allowed.sort(key=lambda c: c.access is access.Access.facilitator)
    rows = [(t(c.usage), t(c.summary)) for c in allowed]
    build.facts(rows + (extra or []))
    if standing in (access.Standing.unknown, access.Standing.known):
        build.note(t("You are not in a cohort here yet: write `join` in your cohort's channel."))
    elif standing is not access.Standing.facilitator:
        build.note(t("Reply in a theme's thread to take part in its digilog."))
    return build.build()


def matrix_markdown(features: Registry) -> str:
    """The whole role matrix as Markdown (docs/role-matrix.md): every feature's commands,
    buttons and forms, and the administrator's acts."""
    return access.matrix_markdown(
        ((c.usage, c.access, c.note) for c in features.commands),
        ((b.kind, b.access, b.what, b.finer) for b in features.buttons),
        ((f.kind, f.access, f.what, f.finer) for f in features.forms),
    )


FEATURE = Feature(
    "help",
    commands=(
        Command(("help",), N_("help"), N_("Show what you can do."), access.Access.anyone, _help),
    ),
)
