"""Showing a cohort's calendar: what happens when, in the reader's language and time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from handlers.access import Access
from handlers.calendar_file import check_entries
from handlers.context import Args, Context, Refusal
from handlers.formats import list_text, when_text, where_spans
from handlers.i18n import N_, Translator
from handlers.nudges import reachable
from handlers.programme_file import Programme, localise
from handlers.progress import missing
from handlers.registry import Command, Feature, Registry
from handlers.vocabulary import Message, MessageBuilder, Outgoing, Span
from handlers.yaml_file import Mistake
from storage.deliveries import NUDGE_PREFIX
from storage.models import CalendarEntry, Cohort, DeliveryState
from storage.unit import Repositories

EVENT_LABELS = {
    "theme_start": N_("Theme {number} starts: {title}"),
    "workshop": N_("Workshop, theme {number}"),
    "digilog_open": N_("The digilog of theme {number} opens"),
    "digilog_close": N_("The digilog of theme {number} closes"),
    "quiz_open": N_("The quiz of theme {number} opens"),
    "quiz_close": N_("The quiz of theme {number} closes"),
    "opening_meeting": N_("Opening local meeting: what do I want to develop?"),
    "closing_meeting": N_("Closing local meeting: my plan for change"),
    "survey_open": N_("The survey after theme {number} opens"),
    "survey_close": N_("The survey after theme {number} closes"),
    "assessment_open": N_("The self-assessment opens"),
    "assessment_close": N_("The self-assessment closes"),
    "final_open": N_("The final evaluation of the programme opens"),
    "final_close": N_("The final evaluation of the programme closes"),
    "lab": N_("Lab: {title}"),
}


def calendar_message(
    t: Translator,
    programme: Programme,
    entries: list[CalendarEntry],
    zone: ZoneInfo,
    *,
    now: datetime,
    include_past: bool,
    keys: bool = False,
) -> Message:
    """The calendar with the programme's lab sessions, oldest first."""
    language = t.language
    rows: list[tuple[datetime, int, tuple[Span, ...]]] = []  # a theme's start comes first
    for entry in entries:
        if entry.starts_at < now and not include_past:
            continue
        theme = programme.theme(entry.theme_number) if entry.theme_number else None
        title = localise(theme.title, language) if theme else ""
        if entry.kind == "event":  # a named event brings its own title
            text = localise(entry.title or {"en": entry.key}, language)
        else:
            text = t(EVENT_LABELS[entry.kind], number=entry.theme_number, title=title)
        when = when_text(entry.starts_at, entry.ends_at, zone, language)
        rank = 0 if entry.kind == "theme_start" else 1
        row = _row(t, when, text, entry.place, entry.link)
        if keys:  # what `schedule move` calls the entry
            row += (Span(f"  [{entry.key.removeprefix('theme:')}]"),)
        rows.append((entry.starts_at, rank, row))
    for lab in programme.labs:
        for session in lab.sessions:
            if session.start < now and not include_past:
                continue
            text = t(EVENT_LABELS["lab"], title=localise(lab.title, language))
            when = when_text(session.start, session.end, zone, language)
            rows.append((session.start, 1, _row(t, when, text, session.place, session.link)))
    build = MessageBuilder().heading(t("Calendar"))
    if not rows:
        build.para(t("Nothing is on the calendar."))
    build.bullets(row for _, _, row in sorted(rows, key=lambda r: (r[0], r[1])))
    build.note(t("Times in {zone}.", zone=zone.key))
    return build.build()


def _row(
    t: Translator, when: str, text: str, place: dict[str, str] | None, link: str | None
) -> tuple[Span, ...]:
    where = where_spans(t, place, link)
    return (Span(when + "  ", strong=True), Span(text), *([Span(" · ")] if where else []), *where)


async def show(context: Context, args: Args) -> list[Outgoing]:
    """schedule [--all]: what is coming up for the cohort (everything with --all)."""
    context.require_member()
    cohort = context.require_cohort()
    entries = await context.repos.calendar.entries(cohort.id)
    programme = await context.programme()
    if not entries and not programme.labs:
        raise Refusal(context.t("This cohort has no calendar yet."))
    now = context.now()
    message = calendar_message(
        context.t,
        programme,
        entries,
        context.zone,
        now=now,
        include_past="all" in args.flags,
        keys=context.is_facilitator,
    )
    if context.is_facilitator:
        message = await with_deliveries(
            context.repos,
            context.registry(),
            cohort,
            context.t,
            context.zone,
            message,
            entries,
            now,
        )
    return [context.reply(message)]


async def move(context: Context, args: Args) -> list[Outgoing]:
    """schedule move KEY YYYY-MM-DD HH:MM: one calendar entry to a new time (the cohort's zone)."""
    t = context.t
    context.require_facilitator()
    cohort = context.require_cohort()
    words = args.words
    if len(words) != 3:
        raise Refusal(t("Write it like `schedule move 2:quiz_close 2027-03-31 17:00`."))
    key = (
        words[0]
        if words[0].startswith(("theme:", "meeting:", "assessment:", "event:"))
        else f"theme:{words[0]}"
    )
    entries = await context.repos.calendar.entries(cohort.id)
    entry = next((e for e in entries if e.key == key), None)
    if entry is None:
        raise Refusal(
            t(
                "The calendar has no {key}. It has: {keys}",
                key=words[0],
                keys=_keys(entries, t.language),
            )
        )
    try:
        when = datetime.strptime(f"{words[1]} {words[2]}", "%Y-%m-%d %H:%M")
    except ValueError:
        raise Refusal(t("Write the time like 2027-03-31 17:00.")) from None
    moved_to = when.replace(tzinfo=ZoneInfo(cohort.timezone))
    shift = moved_to - entry.starts_at
    entry.starts_at = moved_to
    if entry.ends_at is not None:
        entry.ends_at += shift
    try:
        check_entries(entries)
    except Mistake as problem:
        why = t(problem.text, **problem.values)
        raise Refusal(t("That would not work: {problem}", problem=why)) from None
    return [
        context.reply(
            t(
                "{key} moved to {when} ({zone}); what it sets off moves with it.",
                key=key,
                when=when_text(moved_to, None, ZoneInfo(cohort.timezone), t.language),
                zone=cohort.timezone,
            )
        )
    ]


def _keys(entries: list[CalendarEntry], language: str) -> str:
    return list_text((e.key.removeprefix("theme:") for e in entries), language)


WAITING_SHOWN = 30
AD_HOC_LABEL = N_("Nudge, theme {number}: sent by a facilitator")
NUDGE_LABELS = {
    "nudge_post": N_("Nudge, theme {number}: not yet posted in the digilog"),
    "nudge_reply": N_("Nudge, theme {number}: posted but not replied to anyone"),
    "nudge_quiz": N_("Nudge, theme {number}: quiz not finished"),
    "nudge_survey": N_("Nudge, theme {number}: survey not answered"),
}


async def with_deliveries(
    repos: Repositories,
    features: Registry,
    cohort: Cohort,
    t: Translator,
    zone: ZoneInfo,
    message: Message,
    entries: list[CalendarEntry],
    now: datetime,
) -> Message:
    """What facilitators also need: who will be nudged when, and what could not be sent."""
    build = MessageBuilder(list(message.blocks))
    names = {m.person.id: m.person.display_name for m in await repos.people.members(cohort.id)}
    rows: list[tuple[Span, ...]] = []
    for due in features.future_steps(entries, now):
        if due.step.task is None or due.entry.theme_number is None:
            continue
        people = await missing(repos, cohort, due.step.task, due.entry.theme_number)
        # Who it would really reach: not those who muted the kind, were stopped, snoozed
        # past it, or cannot be written to.
        people = await reachable(repos, cohort, people, due.step.task, due.relevant_until)
        label = t(NUDGE_LABELS[due.step.kind], number=due.entry.theme_number)
        count = t.plural("{n} person as of now", "{n} people as of now", len(people))
        rows.append(
            (
                Span(when_text(due.at, None, zone, t.language) + "  ", strong=True),
                Span(label + " · " + count),
            )
        )
    if rows:
        build.heading(t("Nudges ahead"))
        build.bullets(rows)
        build.note(
            t(
                "Each person gets at most one message a working day, listing everything open "
                "for them, within their working hours and at most 3 a week; after 3 went "
                "unheeded, one every other working day."
            )
        )
    waiting = [
        d
        for d in await repos.deliveries.of_cohort(cohort.id, [DeliveryState.pending], limit=500)
        if d.person_id is not None and d.kind.startswith(NUDGE_PREFIX) and d.due_at > now
    ]
    if waiting:
        build.heading(t("Nudges waiting"))
        build.bullets(
            t(
                "{when}  {what} · {name}",
                when=when_text(d.due_at, None, zone, t.language),
                what=t(NUDGE_LABELS.get(d.kind, AD_HOC_LABEL), number=d.theme_number),
                name=names.get(d.person_id or 0, "?"),
            )
            for d in sorted(waiting, key=lambda d: (d.due_at, d.id))[:WAITING_SHOWN]
        )
        if len(waiting) > WAITING_SHOWN:
            build.note(t("… and {n} more.", n=len(waiting) - WAITING_SHOWN))
    failed = await repos.deliveries.of_cohort(cohort.id, [DeliveryState.failed], limit=10)
    if failed:
        build.heading(t("Could not be sent"))
        build.bullets(
            f"{when_text(d.due_at, None, zone, t.language)}  {d.kind}: {d.reason}" for d in failed
        )
    return build.build()


FEATURE = Feature(
    "schedule",
    N_("Calendar"),
    commands=(
        Command(
            ("schedule",),
            N_("schedule [--all]"),
            N_("What is coming up: themes, workshops, digilogs, quizzes, meetings, labs."),
            Access.member,
            show,
            flags=("all",),
            sv=("schema",),
        ),
        Command(
            ("schedule", "move"),
            N_("schedule move <2:quiz_close | meeting:opening> <YYYY-MM-DD HH:MM>"),
            N_("Move one calendar entry; its posts, reminders and nudges move with it."),
            Access.facilitator,
            move,
            sv=("schema", "flytta"),
        ),
    ),
)
