"""Showing a cohort's calendar: what happens when, in the reader's language and time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from handlers.context import Args, Context, Refusal
from handlers.i18n import N_, Translator
from handlers.programme_file import Programme, localise
from handlers.progress import missing
from handlers.steps import future_steps
from handlers.vocabulary import Message, MessageBuilder, Outgoing, Span
from storage.models import CalendarEntry, DeliveryState

EVENT_LABELS = {
    "theme_start": N_("Theme {number} starts: {title}"),
    "workshop": N_("Workshop, theme {number}"),
    "digilog_open": N_("The digilog of theme {number} opens"),
    "digilog_close": N_("The digilog of theme {number} closes"),
    "quiz_open": N_("The quiz of theme {number} opens"),
    "quiz_close": N_("The quiz of theme {number} closes"),
    "opening_meeting": N_("Opening local meeting: what do I want to develop?"),
    "closing_meeting": N_("Closing local meeting: my plan for change"),
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
) -> Message:
    """The calendar with the programme's lab sessions, oldest first."""
    language = t.language
    rows: list[tuple[datetime, int, tuple[Span, ...]]] = []  # a theme's start comes first
    for entry in entries:
        if entry.starts_at < now and not include_past:
            continue
        theme = programme.theme(entry.theme_number) if entry.theme_number else None
        title = localise(theme.title, language) if theme else ""
        text = t(EVENT_LABELS[entry.kind], number=entry.theme_number, title=title)
        when = when_text(entry.starts_at, entry.ends_at, zone)
        rank = 0 if entry.kind == "theme_start" else 1
        rows.append((entry.starts_at, rank, _row(t, when, text, entry.place, entry.link)))
    for lab in programme.labs:
        for session in lab.sessions:
            if session.start < now and not include_past:
                continue
            text = t(EVENT_LABELS["lab"], title=localise(lab.title, language))
            when = when_text(session.start, session.end, zone)
            rows.append((session.start, 1, _row(t, when, text, session.place, session.link)))
    build = MessageBuilder().heading(t("Calendar"))
    if not rows:
        build.para(t("Nothing is on the calendar."))
    build.bullets(row for _, _, row in sorted(rows, key=lambda r: (r[0], r[1])))
    build.note(t("Times in {zone}.", zone=zone.key))
    return build.build()


def when_text(start: datetime, end: datetime | None, zone: ZoneInfo) -> str:
    when = start.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    if end is not None:
        when += "–" + end.astimezone(zone).strftime("%H:%M")
    return when


def _row(
    t: Translator, when: str, text: str, place: dict[str, str] | None, link: str | None
) -> tuple[Span, ...]:
    spans = [Span(when + "  ", strong=True), Span(text)]
    if place:
        spans.append(Span(" · " + localise(place, t.language)))
    if link:
        spans += [Span(" · "), Span(t("link"), link=link)]
    return tuple(spans)


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
        context.t, programme, entries, context.zone, now=now, include_past="all" in args.flags
    )
    if context.is_facilitator:
        message = await _with_deliveries(context, message, entries, now)
    return [context.reply(message)]


NUDGE_LABELS = {
    "nudge_post": N_("Nudge, theme {number}: not yet posted in the digilog"),
    "nudge_reply": N_("Nudge, theme {number}: posted but not replied to anyone"),
    "nudge_quiz": N_("Nudge, theme {number}: quiz not finished"),
}


async def _with_deliveries(
    context: Context, message: Message, entries: list[CalendarEntry], now: datetime
) -> Message:
    """What facilitators also need: who will be nudged when, and what could not be sent."""
    t, cohort = context.t, context.require_cohort()
    build = MessageBuilder(list(message.blocks))
    rows: list[tuple[Span, ...]] = []
    for due in future_steps(entries, now):
        if due.step.task is None or due.entry.theme_number is None:
            continue
        people = await missing(context.repos, cohort, due.step.task, due.entry.theme_number)
        label = t(NUDGE_LABELS[due.step.kind], number=due.entry.theme_number)
        count = t.plural("{n} person as of now", "{n} people as of now", len(people))
        rows.append(
            (
                Span(when_text(due.at, None, context.zone) + "  ", strong=True),
                Span(label + " · " + count),
            )
        )
    if rows:
        build.heading(t("Nudges ahead"))
        build.bullets(rows)
        build.note(t("Each goes within the person's working hours, at most 3 a week."))
    failed = await context.repos.deliveries.of_cohort(cohort.id, [DeliveryState.failed], limit=10)
    if failed:
        build.heading(t("Could not be sent"))
        build.bullets(
            f"{when_text(d.due_at, None, context.zone)}  {d.kind}: {d.reason}" for d in failed
        )
    return build.build()
