"""The command table: what each command is called, who may run it, and its help."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import IntEnum

from handlers import bank, buddies, export, labs, nudges, people, quiz, report, schedule, themes
from handlers.context import Args, Context
from handlers.i18n import N_
from handlers.vocabulary import Message, MessageBuilder, Outgoing


class Access(IntEnum):
    """Who may run a command; each level includes the ones above it."""

    anyone = 0
    member = 1
    facilitator = 2


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
    ),
    Command(
        ("language",),
        N_("language sv|en"),
        N_("Choose the language I write to you in."),
        Access.anyone,
        people.language,
    ),
    Command(
        ("timezone",),
        N_("timezone [Europe/Stockholm]"),
        N_("Show or change the time zone times are shown to you in."),
        Access.anyone,
        people.timezone,
    ),
    Command(
        ("nudges",),
        N_("nudges [snooze | mute KIND | unmute KIND | on]"),
        N_("Your nudges: snooze them for a week, mute a kind, or turn them on again."),
        Access.anyone,
        nudges.settings,
    ),
    Command(
        ("hours",),
        N_("hours [mon-fri 08-17]"),
        N_("Show or set the hours in which nudges may reach you."),
        Access.anyone,
        nudges.hours,
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
        N_("bank [words] [--theme N] [--mine]"),
        N_("List or search the reflection bank."),
        Access.member,
        bank.bank,
        flags=("mine",),
        options=("theme", "in"),
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
        ("enrol",),
        N_("enrol <user-id> <organisation> [--facilitator] [--name NAME]"),
        N_("Enrol a person in this cohort."),
        Access.facilitator,
        people.enrol,
        flags=("facilitator",),
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


def access_of(context: Context) -> Access:
    if context.is_facilitator:
        return Access.facilitator
    return Access.member if context.member is not None else Access.anyone


def help_message(context: Context, extra: list[tuple[str, str]] | None = None) -> Message:
    t = context.t
    level = access_of(context)
    build = MessageBuilder().heading(t("Digilog commands"))
    rows = [(t(c.usage), t(c.summary)) for c in COMMANDS if c.access <= level]
    build.facts(rows + (extra or []))
    if level is Access.anyone:
        build.note(t("You are not in a cohort here yet: write `join` in your cohort's channel."))
    elif level is Access.member:
        build.note(t("Reply in a theme's thread to take part in its digilog."))
    return build.build()
