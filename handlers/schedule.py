"""Showing a cohort's calendar: what happens when, in the reader's language and time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from handlers.context import Args, Context, Refusal
from handlers.i18n import N_, Translator
from handlers.programme_file import Programme, localise
from handlers.vocabulary import Message, MessageBuilder, Outgoing, Span
from storage.models import CalendarEntry, utcnow

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
        when = _when(entry.starts_at, entry.ends_at, zone)
        rank = 0 if entry.kind == "theme_start" else 1
        rows.append((entry.starts_at, rank, _row(t, when, text, entry.place, entry.link)))
    for lab in programme.labs:
        for session in lab.sessions:
            if session.start < now and not include_past:
                continue
            text = t(EVENT_LABELS["lab"], title=localise(lab.title, language))
            when = _when(session.start, session.end, zone)
            rows.append((session.start, 1, _row(t, when, text, session.place, session.link)))
    build = MessageBuilder().heading(t("Calendar"))
    if not rows:
        build.para(t("Nothing is on the calendar."))
    build.bullets(row for _, _, row in sorted(rows, key=lambda r: (r[0], r[1])))
    build.note(t("Times in {zone}.", zone=zone.key))
    return build.build()


def _when(start: datetime, end: datetime | None, zone: ZoneInfo) -> str:
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
    message = calendar_message(
        context.t,
        programme,
        entries,
        context.zone,
        now=utcnow(),
        include_past="all" in args.flags,
    )
    return [context.reply(message)]
