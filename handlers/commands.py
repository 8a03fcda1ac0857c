"""The command table: what each command is called, who may run it, and its help.

Who may run a command is its row in the role matrix (handlers/access.py), checked by
`Digilog` before the command runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from handlers import (
    access,
    bank,
    buddies,
    export,
    failures,
    labs,
    meetings,
    nudges,
    people,
    personal_data,
    quiz,
    report,
    schedule,
    surveys,
    themes,
)
from handlers.access import Access as Access  # re-exported: the table's levels
from handlers.context import Args, Context
from handlers.i18n import N_
from handlers.vocabulary import Message, MessageBuilder, Outgoing

Run = Callable[[Context, Args], Awaitable[list[Outgoing]]]


@dataclass(frozen=True)
class Command:
    words: tuple[str, ...]
    usage: str
    summary: str
    access: Access
    run: Run
    flags: tuple[str, ...] = ()
    options: tuple[str, ...] = field(default=("in",))
    note: str = ""  # for the role matrix, in English: what the command checks beyond the role


async def _help(context: Context, args: Args) -> list[Outgoing]:
    return [context.reply(help_message(context))]


COMMANDS: tuple[Command, ...] = (
    Command(("help",), N_("help"), N_("Show what you can do."), Access.anyone, _help),
    Command(
        ("join",),
        N_("join [organisation]"),
        N_("Join this channel's cohort."),
        Access.anyone,
        people.join,
        note="in the cohort's channel, if it allows self-enrolment",
    ),
    Command(
        ("language",),
        N_("language sv|en"),
        N_("Choose the language I write to you in."),
        Access.enrolled,
        people.language,
        note="one's own",
    ),
    Command(
        ("timezone",),
        N_("timezone [Europe/Stockholm]"),
        N_("Show or change the time zone times are shown to you in."),
        Access.enrolled,
        people.timezone,
        note="one's own",
    ),
    Command(
        ("nudges",),
        N_("nudges [snooze | mute KIND | unmute KIND | on]"),
        N_("Your nudges: snooze them for a week, mute a kind, or turn them on again."),
        Access.enrolled,
        nudges.settings,
        note="one's own",
    ),
    Command(
        ("hours",),
        N_("hours [mon-fri 08-17]"),
        N_("Show or set the hours in which nudges may reach you."),
        Access.enrolled,
        nudges.hours,
        note="one's own",
    ),
    Command(
        ("theme",),
        N_("theme"),
        N_("List the themes and which have started."),
        Access.member,
        themes.list_themes,
    ),
    Command(
        ("theme", "show"),
        N_("theme show <number>"),
        N_("Show a theme's materials and tasks."),
        Access.member,
        themes.show_theme,
    ),
    Command(
        ("reflect",),
        N_("reflect [--theme N] [--cohort | --facilitators] <text>"),
        N_("Save a reflection; only you see it unless you say --cohort or --facilitators."),
        Access.member,
        bank.reflect,
        flags=("cohort", "facilitators", "private"),
        options=("theme", "in"),
    ),
    Command(
        ("bank",),
        N_("bank [words] [--theme N] [--kind digilog|written|saved|needs|plan] [--mine]"),
        N_("List or search the reflection bank."),
        Access.member,
        bank.bank,
        note="only reflections one may read",
        flags=("mine",),
        options=("theme", "kind", "in"),
    ),
    Command(
        ("needs",),
        N_("needs [--private | --cohort] [text]"),
        N_(
            "Your needs inventory from the opening local meeting: what you want to develop. "
            "The facilitators see it unless you say otherwise."
        ),
        Access.member,
        meetings.command("needs"),
        flags=("private", "cohort"),
    ),
    Command(
        ("plan",),
        N_("plan [--share | --private | --cohort] [text]"),
        N_(
            "Your plan for change from the closing local meeting; --share shows it to your "
            "organisation's support function too."
        ),
        Access.member,
        meetings.command("plan"),
        flags=("share", "private", "cohort"),
    ),
    Command(
        ("survey",),
        N_("survey [theme]"),
        N_("Answer the survey after a theme."),
        Access.participant,
        surveys.take_survey,
    ),
    Command(
        ("assess",),
        N_("assess [--mine]"),
        N_("Take the self-assessment while it is open, or see your own change per area."),
        Access.participant,
        surveys.take_assessment,
        flags=("mine",),
    ),
    Command(
        ("schedule",),
        N_("schedule [--all]"),
        N_("What is coming up: themes, workshops, digilogs, quizzes, meetings, labs."),
        Access.member,
        schedule.show,
        flags=("all",),
    ),
    Command(
        ("quiz",), N_("quiz [number]"), N_("Take a theme's quiz."), Access.member, quiz.take_quiz
    ),
    Command(
        ("buddies",),
        N_("buddies optout|optin"),
        N_("Take part in learning-buddy pairing, or not."),
        Access.member,
        buddies.opt,
    ),
    Command(
        ("labs",),
        N_("labs [--mine]"),
        N_("The lab catalogue: sessions, free seats, and your sign-ups."),
        Access.member,
        labs.catalogue,
        flags=("mine",),
    ),
    Command(
        ("lab", "signup"),
        N_("lab signup <lab> [session]"),
        N_("Take a seat at a lab session (or a place on its waitlist)."),
        Access.member,
        labs.sign_up,
    ),
    Command(
        ("lab", "cancel"),
        N_("lab cancel <lab> [session]"),
        N_("Give up your seat or waitlist place; the next in line gets it."),
        Access.member,
        labs.cancel,
    ),
    Command(
        ("lab", "ics"),
        N_("lab ics <lab> [session]"),
        N_("The session as a calendar file (.ics)."),
        Access.member,
        labs.calendar_file,
    ),
    Command(
        ("theme", "start"),
        N_("theme start <number> [--force]"),
        N_("Post a theme to the cohort and open its digilog."),
        Access.facilitator,
        themes.start_theme,
        flags=("force",),
    ),
    Command(
        ("quiz", "start"),
        N_("quiz start <number>"),
        N_("Open a theme's quiz."),
        Access.facilitator,
        quiz.start_quiz,
    ),
    Command(
        ("quiz", "close"),
        N_("quiz close <number>"),
        N_("Close a theme's quiz."),
        Access.facilitator,
        quiz.close_quiz,
    ),
    Command(
        ("survey", "open"),
        N_("survey open <theme>"),
        N_("Open the survey after a theme."),
        Access.facilitator,
        surveys.open_command(assessment=False),
    ),
    Command(
        ("survey", "close"),
        N_("survey close <theme>"),
        N_("Close the survey after a theme."),
        Access.facilitator,
        surveys.close_command(assessment=False),
    ),
    Command(
        ("survey", "results"),
        N_("survey results <theme>"),
        N_("A survey's ratings per organisation (groups of five or more) and its comments."),
        Access.facilitator,
        surveys.survey_results,
    ),
    Command(
        ("assess", "open"),
        N_("assess open start|end"),
        N_("Open the self-assessment at the start or at the end."),
        Access.facilitator,
        surveys.open_command(assessment=True),
    ),
    Command(
        ("assess", "close"),
        N_("assess close start|end"),
        N_("Close a round of the self-assessment."),
        Access.facilitator,
        surveys.close_command(assessment=True),
    ),
    Command(
        ("assess", "results"),
        N_("assess results"),
        N_("The self-assessment's change per area (groups of five or more)."),
        Access.facilitator,
        surveys.assessment_results,
    ),
    Command(
        ("results",),
        N_("results <number>"),
        N_("Quiz results per question and per organisation."),
        Access.facilitator,
        quiz.results,
    ),
    Command(
        ("report",),
        N_("report"),
        N_("How the cohort is doing, per theme and organisation, with a chart."),
        Access.facilitator,
        report.report,
    ),
    Command(
        ("pair",),
        N_("pair [theme] [--seed N]"),
        N_("Preview learning buddies across organisations, then announce them."),
        Access.facilitator,
        buddies.preview,
        options=("seed", "in"),
    ),
    Command(
        ("pair", "add"),
        N_("pair add <user-id> [theme]"),
        N_("Give someone who joined late learning buddies, without reshuffling the rest."),
        Access.facilitator,
        buddies.regroup(joining=True),
    ),
    Command(
        ("pair", "remove"),
        N_("pair remove <user-id> [theme]"),
        N_("Take someone out of their learning buddies; a buddy left alone joins another group."),
        Access.facilitator,
        buddies.regroup(joining=False),
    ),
    Command(
        ("pair", "pin"),
        N_("pair pin <user-id> <user-id>"),
        N_("Always pair these two as learning buddies."),
        Access.facilitator,
        buddies.rule(pinned=True),
    ),
    Command(
        ("pair", "forbid"),
        N_("pair forbid <user-id> <user-id>"),
        N_("Never pair these two."),
        Access.facilitator,
        buddies.rule(pinned=False),
    ),
    Command(
        ("pair", "clear"),
        N_("pair clear <user-id> <user-id>"),
        N_("Pair these two like anyone else again."),
        Access.facilitator,
        buddies.rule(pinned=None),
    ),
    Command(
        ("lab", "attendees"),
        N_("lab attendees <lab> [session]"),
        N_("Who has a seat at a lab session, who waits, and how many seats are free."),
        Access.facilitator,
        labs.attendees,
    ),
    Command(
        ("lab", "attended"),
        N_("lab attended <lab> [session] <user-id> [<user-id> ...]"),
        N_("Mark who attended a lab session that has taken place."),
        Access.facilitator,
        labs.attended,
    ),
    Command(
        ("lab", "absent"),
        N_("lab absent <lab> [session] <user-id> [<user-id> ...]"),
        N_("Undo an attendance mark made by mistake."),
        Access.facilitator,
        labs.absent,
    ),
    Command(
        ("enrol",),
        N_("enrol <user-id> <organisation> [--facilitator | --support] [--name NAME]"),
        N_("Enrol a person in this cohort."),
        Access.facilitator,
        people.enrol,
        note="the only role change in chat: --facilitator, --support",
        flags=("facilitator", "support"),
        options=("name", "in"),
    ),
    Command(
        ("export",),
        N_("export [csv|json] [--pseudonymised [--no-text]]"),
        N_(
            "The cohort's reflection bank as a file, sent to you; pseudonymised for "
            "evaluating the programme, with or without the texts."
        ),
        Access.facilitator,
        export.export,
        flags=("pseudonymised", "no-text"),
    ),
    Command(
        ("schedule", "move"),
        N_("schedule move <2:quiz_close | meeting:opening> <YYYY-MM-DD HH:MM>"),
        N_("Move one calendar entry; its posts, reminders and nudges move with it."),
        Access.facilitator,
        schedule.move,
    ),
    Command(
        ("nudge",),
        N_("nudge <theme> post|reply|quiz [--org ORG]"),
        N_("Preview a nudge to those who have not done a step, then send it."),
        Access.facilitator,
        nudges.preview,
        options=("org", "in"),
    ),
    Command(
        ("nudges", "resume"),
        N_("nudges resume <user-id>"),
        N_("Turn on nudges to someone after they were paused."),
        Access.facilitator,
        nudges.resume,
    ),
    Command(
        ("members",),
        N_("members"),
        N_("List the people in this cohort."),
        Access.facilitator,
        people.members,
    ),
    Command(
        ("failures",),
        N_("failures"),
        N_("Actions of this cohort's people that did not go through, newest first."),
        Access.facilitator,
        failures.failures,
    ),
    Command(
        ("mydata",),
        N_("mydata"),
        N_("Everything Digilog stores about you, as a file sent to you."),
        Access.anyone,
        personal_data.mydata,
        note="one's own data",
    ),
    Command(
        ("forget",),
        N_("forget"),
        N_("Erase everything Digilog stores about you (you confirm first)."),
        Access.anyone,
        personal_data.forget,
        note="one's own data",
    ),
)


_BY_WORDS = {command.words: command for command in COMMANDS}


def find(text: str) -> tuple[Command | None, str]:
    """The command a line starts with (the longest match) and the rest of the line, as typed."""
    stripped = text.strip()
    head = stripped.split(maxsplit=2)
    for n in (2, 1):
        key = tuple(word.lower() for word in head[:n])
        if len(key) == n and key in _BY_WORDS:
            rest = stripped.split(maxsplit=n)[n:]
            return _BY_WORDS[key], rest[0] if rest else ""
    return None, stripped


def help_message(context: Context, extra: list[tuple[str, str]] | None = None) -> Message:
    """The commands this person may run here, and nothing else."""
    t = context.t
    standing = access.standing_of(context)
    build = MessageBuilder().heading(t("Digilog commands"))
    rows = [(t(c.usage), t(c.summary)) for c in COMMANDS if access.allows(c.access, standing)]
    build.facts(rows + (extra or []))
    if standing in (access.Standing.unknown, access.Standing.known):
        build.note(t("You are not in a cohort here yet: write `join` in your cohort's channel."))
    elif standing is not access.Standing.facilitator:
        build.note(t("Reply in a theme's thread to take part in its digilog."))
    return build.build()


def matrix_markdown() -> str:
    """The whole role matrix as Markdown (docs/role-matrix.md): these commands, the buttons,
    the forms and the administrator's acts."""
    return access.matrix_markdown((c.usage, c.access, c.note) for c in COMMANDS)
