"""Actions that did not go through: what the person is told, and what facilitators see.

The adapters journal every action before they acknowledge it (bot/work.py). When its
work still fails after a few tries, or its reply cannot be sent, the person gets the
notice below in their language and a failure row is kept; `failures` shows a cohort's
to its facilitators, `digilog failures` every cohort's to an operator.
"""

from __future__ import annotations

from handlers.core.access import Access
from handlers.core.context import Args, Context
from handlers.core.i18n import N_, Translator
from handlers.core.registry import Command, Feature
from handlers.core.vocabulary import Message, MessageBuilder, Outgoing, say
from storage.unit import Store

SHOWN = 20

# What a failure row's `what` starts with, as the adapters write it (bot/slack/app.py,
# bot/teams/app.py: "command: tema", "button: quiz:3-1:0:1", or the kind alone). The row
# keeps the English word; facilitators and operators read it in their language.
FAILED_WHAT = {
    "command": N_("command"),
    "button": N_("button"),
    "form": N_("form"),
    "message": N_("message"),
    "home": N_("home page"),
    "shortcut": N_("shortcut"),
    "invoke": N_("card action"),
}


def failed_what(t: Translator, what: str) -> str:
    """A failure row's `what` with its kind in `t`'s language ("knapp: quiz:3-1:0:1"); what
    follows the kind is an id or a command as typed, and stays as it is."""
    kind, _, rest = what.partition(": ")
    if kind not in FAILED_WHAT:
        return what
    return f"{t(FAILED_WHAT[kind])}: {rest}" if rest else t(FAILED_WHAT[kind])


def notice(t: Translator, kind: str, command: str | None = None) -> Message:
    """`kind`: command, choice, form, post or anything else."""
    if kind == "command" and command:
        text = t(
            "Digilog could not run the command “{command}”; try again or contact a facilitator.",
            command=command[:40],
        )
    elif kind == "choice":
        text = t("Digilog could not take your choice; try again or contact a facilitator.")
    elif kind == "form":
        text = t("Digilog could not save your form; try again or contact a facilitator.")
    elif kind == "post":
        text = t("Digilog could not take your post; try again or contact a facilitator.")
    else:
        text = t("Digilog could not do what you asked; try again or contact a facilitator.")
    return say(text)


async def language(store: Store, platform: str, workspace: str, user_id: str) -> str | None:
    """The language Digilog speaks with this person: their own, else their one cohort's."""
    async with store.transaction() as repos:
        person = await repos.people.by_account(platform, workspace, user_id)
        if person is None:
            return None
        if person.language:
            return person.language
        cohorts = await repos.cohorts.of_person(person.id)
        return cohorts[0].language if len(cohorts) == 1 else None


async def failures(context: Context, args: Args) -> list[Outgoing]:
    """failures: the latest actions of this cohort's people that did not go through."""
    t = context.t
    context.require_facilitator()
    cohort = context.require_cohort()
    repos = context.repos
    rows = await repos.inbound.failures(cohort_id=cohort.id, limit=SHOWN)
    total = await repos.inbound.failure_count(cohort_id=cohort.id)
    build = MessageBuilder().heading(t("Actions that did not go through"))
    if not rows:
        build.para(t("None: every action in this cohort went through."))
        return [context.reply(build.build())]
    build.para(
        t.plural(
            "{n} action did not go through; the latest:",
            "{n} actions did not go through; the latest:",
            total,
        )
    )
    lines = []
    for row in rows:
        person = await repos.people.by_account(row.platform, row.workspace, row.user_id)
        who = person.display_name if person is not None else row.user_id
        when = row.failed_at.astimezone(context.zone).strftime("%Y-%m-%d %H:%M")
        told = t("told") if row.told else t("not told")
        lines.append(f"{when} · {who} · {failed_what(t, row.what)} · {told}")
    build.bullets(lines)
    # The operator's command line, whose command words are English in every language.
    operator = f"`digilog failures --cohort {cohort.key}`"
    build.note(
        t(
            "The person was told to try again; an operator sees why with {command}.",
            command=operator,
        )
    )
    return [context.reply(build.build())]


FEATURE = Feature(
    "failures",
    N_("Failed actions"),
    commands=(
        Command(
            ("failures",),
            N_("failures"),
            N_("Actions of this cohort's people that did not go through, newest first."),
            Access.facilitator,
            failures,
            sv=("misslyckade",),
        ),
    ),
)
