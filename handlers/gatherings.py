"""Gatherings: where the people of a cohort meet (workshops, local meetings, events), who
was there and for how long, and the calendar's named events with their registration.

The programme is funded by the European Social Fund, which needs each participant's
attendance and hours: a facilitator marks who was present (a button per person), or lets
participants say "I was there" themselves; each gathering lasts from its calendar entry's
start to its end (or the calendar file's `default_hours`); lab sessions that a
facilitator marked count too. The export is the ESF-style list per organisation: CSV for
Excel and a printable page with a signature column.
"""

from __future__ import annotations

import html
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from handlers import labs
from handlers.core import csv_cells
from handlers.core.access import Access
from handlers.core.calendar_file import EVENT_PREFIX
from handlers.core.context import Args, Context, Refusal, cohort_channel, programme_of, zone_of
from handlers.core.deliveries import Composing, Decision
from handlers.core.formats import day_text, hours_number, list_text, when_text, where_spans
from handlers.core.i18n import N_, Translator, translator
from handlers.core.ics import ics
from handlers.core.programme_file import Programme, localise
from handlers.core.registry import ButtonKind, Command, Feature
from handlers.core.steps import DAY_BEFORE, EVENING_BEFORE, Audience, Step
from handlers.core.vocabulary import (
    FileMessage,
    Message,
    MessageBuilder,
    Option,
    Outgoing,
    Span,
    ToActor,
    ToConversation,
)
from storage.models import CalendarEntry, Cohort, Role
from storage.people import Member
from storage.unit import Repositories

GATHERING_KINDS = ("workshop", "opening_meeting", "closing_meeting", "event")
PRESENT, ABSENT = "✅", "⬜"
Format = Literal["csv", "html"]
FORMATS: tuple[Format, ...] = ("csv", "html")


def short_key(entry: CalendarEntry) -> str:
    """What people type: `1:workshop`, `meeting:opening`, `event:konferens`."""
    return entry.key.removeprefix("theme:")


def gathering_title(t: Translator, entry: CalendarEntry) -> str:
    if entry.kind == "workshop":
        return t("Workshop, theme {number}", number=entry.theme_number)
    if entry.kind in ("opening_meeting", "closing_meeting") and entry.organisation:
        # An organisation's own meeting: its title is the organisation's name.
        name = localise(entry.title or {"en": entry.organisation}, t.language)
        if entry.kind == "opening_meeting":
            return t("The opening local meeting of {organisation}", organisation=name)
        return t("The closing local meeting of {organisation}", organisation=name)
    if entry.kind == "opening_meeting":
        return t("The opening local meeting")
    if entry.kind == "closing_meeting":
        return t("The closing local meeting")
    return localise(entry.title or {"en": short_key(entry)}, t.language)


def expected_at(entry: CalendarEntry, members: list[Member]) -> list[Member]:
    """Who a gathering is for: an organisation's own local meeting is for its people."""
    if entry.organisation is None:
        return members
    return [m for m in members if m.organisation.key == entry.organisation]


def hours_of(entry: CalendarEntry) -> float | None:
    if entry.ends_at is None:
        return None
    return (entry.ends_at - entry.starts_at) / timedelta(hours=1)


def hours_text(t: Translator, hours: float) -> str:
    """1.5 in English, 1,5 in Swedish; whole hours without decimals."""
    return hours_number(hours, t.language)


def gatherings_of(entries: Iterable[CalendarEntry]) -> list[CalendarEntry]:
    return [e for e in entries if e.kind in GATHERING_KINDS]


def find_gathering(t: Translator, entries: list[CalendarEntry], word: str) -> CalendarEntry:
    """The gathering a typed key names, with or without its `theme:` or `event:` prefix."""
    found = gatherings_of(entries)
    lowered = word.lower()
    for entry in found:
        if lowered in (entry.key, short_key(entry), entry.key.removeprefix(EVENT_PREFIX)):
            return entry
    raise Refusal(
        t(
            "There is no gathering {key}. The gatherings are: {keys}",
            key=word,
            keys=list_text((short_key(e) for e in found), t.language) or "–",
        )
    )


# ------------------------------------------------------------------ attendance


@dataclass(frozen=True)
class Attended:
    """One person's presence at one activity: a row of the ESF list."""

    person_id: int
    activity: str
    theme: int | None
    starts_at: datetime
    hours: float  # 0 when the activity has no length


async def attendance_rows(
    repos: Repositories, cohort: Cohort, programme: Programme, t: Translator
) -> list[Attended]:
    """Every presence in the cohort: gatherings and the lab sessions a facilitator marked."""
    rows: list[Attended] = []
    entries = gatherings_of(await repos.calendar.entries(cohort.id))
    present = await repos.gatherings.present(cohort.id)
    for entry in entries:
        title = gathering_title(t, entry)
        hours = hours_of(entry) or 0.0
        rows += [
            Attended(person, title, entry.theme_number, entry.starts_at, hours)
            for person in sorted(present.get(entry.key, ()))
        ]
    for key, chosen in labs.sessions_by_key(programme).items():
        attended = await repos.labs.attended(cohort.id, key)
        session = chosen.session
        title = t("Lab: {title}", title=localise(chosen.lab.title, t.language))
        hours = (session.end - session.start) / timedelta(hours=1)
        rows += [Attended(p, title, None, session.start, hours) for p in sorted(attended)]
    return sorted(rows, key=lambda r: (r.starts_at, r.activity, r.person_id))


async def overview(context: Context, args: Args) -> list[Outgoing]:
    """attendance [KEY [--self | --no-self]]: the gatherings, or one's list of people."""
    context.require_facilitator()
    cohort = context.require_cohort()
    entries = await context.repos.calendar.entries(cohort.id)
    if args.words:
        entry = find_gathering(context.t, entries, args.words[0])
        outgoing: list[Outgoing] = []
        if "self" in args.flags or "no-self" in args.flags:
            allowed = "self" in args.flags
            await context.repos.gatherings.allow_self_marking(cohort.id, entry.key, allowed)
            if allowed:
                outgoing.append(_invitation(cohort, entry))
        return [context.reply(await participant_list(context, cohort, entry)), *outgoing]
    t = context.t
    found = gatherings_of(entries)
    if not found:
        raise Refusal(t("The calendar has no workshops, local meetings or events yet."))
    present = await context.repos.gatherings.present(cohort.id)
    everyone = await context.repos.people.members(cohort.id, Role.participant)
    build = MessageBuilder().heading(t("Attendance"))
    rows = []
    for entry in found:
        length = hours_of(entry)
        row = [
            Span(
                when_text(entry.starts_at, entry.ends_at, context.zone, t.language) + "  ",
                strong=True,
            ),
            Span(gathering_title(t, entry)),
            Span(
                " · "
                + t(
                    "{present} of {people} present",
                    present=len(present.get(entry.key, ())),
                    people=len(expected_at(entry, everyone)),
                )
            ),
        ]
        if length is not None:
            row.append(Span(" · " + t("{hours} h", hours=hours_text(t, length))))
        row.append(Span(f"  [{short_key(entry)}]"))
        rows.append(tuple(row))
    build.bullets(rows)
    build.note(
        t(
            "{command} lists the participants with a button each; --self lets them mark "
            "themselves present.",
            command=context.typed(t("attendance <key>")),
        )
    )
    return [context.reply(build.build())]


async def participant_list(context: Context, cohort: Cohort, entry: CalendarEntry) -> Message:
    """The participants of one gathering with a button each that turns their mark over."""
    t = context.t
    members = expected_at(entry, await context.repos.people.members(cohort.id, Role.participant))
    present = (await context.repos.gatherings.present(cohort.id, entry.key)).get(entry.key, set())
    self_marking = entry.key in await context.repos.gatherings.self_marking(cohort.id)
    title = gathering_title(t, entry)
    build = MessageBuilder().heading(
        f"{title} · {when_text(entry.starts_at, entry.ends_at, context.zone, t.language)}"
    )
    build.para(
        t(
            "{present} of {people} present",
            present=len(present & _ids(members)),
            people=len(members),
        )
    )
    build.bullets(
        f"{PRESENT if m.person.id in present else ABSENT} {m.person.display_name} "
        f"({context.local(m.organisation.name)})"
        for m in members
    )
    if entry.starts_at > context.now():
        build.note(t("Attendance can be marked once the gathering has begun."))
        return build.build()
    build.note(
        t("Participants may mark themselves present.")
        if self_marking
        else t("Only facilitators mark attendance here.")
    )
    options = [
        Option(
            f"attend:{cohort.id}:{m.person.id}:{'absent' if m.person.id in present else 'present'}"
            f":{entry.key}",
            f"{PRESENT if m.person.id in present else ABSENT} {m.person.display_name}",
        )
        for m in members
    ]
    verb = "off" if self_marking else "on"
    label = (
        t("Stop self-marking") if self_marking else t("Let participants mark themselves present")
    )
    options.append(Option(f"attend:{cohort.id}:self:{verb}:{entry.key}", label))
    return build.choices(options).build()


def _ids(members: list[Member]) -> set[int]:
    return {m.person.id for m in members}


def _invitation(cohort: Cohort, entry: CalendarEntry) -> Outgoing:
    """The post in the cohort's channel that lets each participant say they were there:
    in the cohort's language and time zone, as the channel's other posts."""
    t = translator(cohort.language)
    message = (
        MessageBuilder()
        .para(
            t(
                "Were you at {gathering} ({when})? Say so, and your hours count.",
                gathering=gathering_title(t, entry),
                when=when_text(entry.starts_at, entry.ends_at, zone_of(None, cohort), t.language),
            )
        )
        .choices([Option(f"here:{cohort.id}:{entry.key}", t("I was there"), "primary")])
        .build()
    )
    return Outgoing(ToConversation(cohort_channel(cohort)), message)


async def mark_button(context: Context, action_id: str) -> list[Outgoing]:
    """`attend:<cohort>:<person>:present|absent:<entry>` and `attend:<cohort>:self:on|off:…`."""
    t = context.t
    context.require_facilitator()
    cohort = context.require_cohort()
    _, cohort_id, who, verb, entry_key = [*action_id.split(":", 4), "", "", "", ""][:5]
    if cohort_id != str(cohort.id):
        raise Refusal(t("That button belongs to another cohort."))
    entries = await context.repos.calendar.entries(cohort.id)
    entry = next((e for e in gatherings_of(entries) if e.key == entry_key), None)
    if entry is None:
        raise Refusal(t("That gathering is no longer on the calendar."))
    if who == "self" and verb in ("on", "off"):
        await context.repos.gatherings.allow_self_marking(cohort.id, entry.key, verb == "on")
        outgoing = [context.reply(await participant_list(context, cohort, entry))]
        if verb == "on":
            outgoing.append(_invitation(cohort, entry))
        return outgoing
    if not who.isdigit() or verb not in ("present", "absent"):
        raise Refusal(t("That button no longer does anything."))
    if entry.starts_at > context.now():
        raise Refusal(t("Attendance can be marked once the gathering has begun."))
    member = await context.repos.people.member(cohort.id, int(who))
    if member is None or member.membership.role != Role.participant:
        raise Refusal(t("That person is no longer in this cohort."))
    if not expected_at(entry, [member]):
        raise Refusal(t("That meeting is another organisation's own."))
    await context.repos.gatherings.mark(
        cohort.id, entry.key, [member.person.id], present=verb == "present", when=context.now()
    )
    return [context.reply(await participant_list(context, cohort, entry))]


async def here(context: Context, args: Args) -> list[Outgoing]:
    """attendance here KEY: "I was there", when the facilitators allow it."""
    t = context.t
    if not args.words:
        raise Refusal(
            t(
                "Which gathering? Write {command} to see yours.",
                command=context.command("attendance", "mine"),
            )
        )
    entries = await context.repos.calendar.entries(context.require_cohort().id)
    return await _here(context, find_gathering(t, entries, args.words[0]))


async def here_button(context: Context, action_id: str) -> list[Outgoing]:
    """`here:<cohort>:<entry>`: the button in the channel."""
    _, cohort_id, entry_key = [*action_id.split(":", 2), "", ""][:3]
    cohort = context.require_cohort()
    if cohort_id != str(cohort.id):
        raise Refusal(context.t("That button belongs to another cohort."))
    entries = await context.repos.calendar.entries(cohort.id)
    entry = next((e for e in gatherings_of(entries) if e.key == entry_key), None)
    if entry is None:
        raise Refusal(context.t("That gathering is no longer on the calendar."))
    return await _here(context, entry)


async def _here(context: Context, entry: CalendarEntry) -> list[Outgoing]:
    t = context.t
    member = context.require_member()
    cohort = context.require_cohort()
    title = gathering_title(t, entry)
    if entry.starts_at > context.now():
        raise Refusal(t("{gathering} has not begun yet.", gathering=title))
    if entry.key not in await context.repos.gatherings.self_marking(cohort.id):
        raise Refusal(t("For {gathering}, the facilitators mark who was present.", gathering=title))
    repos = context.repos.gatherings
    if await repos.mark_self(cohort.id, entry.key, member.person.id):
        return [context.reply(t("Noted: you were at {gathering}.", gathering=title))]
    if await repos.mark_of(cohort.id, entry.key, member.person.id):
        return [context.reply(t("You are already marked present at {gathering}.", gathering=title))]
    raise Refusal(
        t(
            "A facilitator has marked you absent from {gathering}; ask them if that is wrong.",
            gathering=title,
        )
    )


async def mine(context: Context, args: Args) -> list[Outgoing]:
    """attendance mine: one's own hours per theme and in total."""
    t = context.t
    member = context.require_member()
    cohort = context.require_cohort()
    programme = await context.programme()
    rows = [
        r
        for r in await attendance_rows(context.repos, cohort, programme, t)
        if r.person_id == member.person.id
    ]
    build = MessageBuilder().heading(t("My attendance"))
    if not rows:
        build.para(t("No attendance has been marked for you yet."))
        return [context.reply(build.build())]
    build.bullets(
        (
            Span(day_text(r.starts_at.astimezone(context.zone), t.language) + "  ", strong=True),
            Span(f"{r.activity} · " + t("{hours} h", hours=hours_text(t, r.hours))),
        )
        for r in rows
    )
    build.facts(
        [
            (label, t("{hours} h", hours=hours_text(t, hours)))
            for label, hours in _per_theme(t, rows)
        ]
    )
    return [context.reply(build.build())]


def _per_theme(t: Translator, rows: list[Attended]) -> list[tuple[str, float]]:
    """Hours per theme, then the rest (local meetings, events, labs), then in total."""
    themes: dict[int, float] = {}
    other = 0.0
    for row in rows:
        if row.theme is None:
            other += row.hours
        else:
            themes[row.theme] = themes.get(row.theme, 0.0) + row.hours
    found = [(t("Theme {number}", number=n), themes[n]) for n in sorted(themes)]
    if other:
        found.append((t("Labs, local meetings and events"), other))
    found.append((t("In total"), sum(r.hours for r in rows)))
    return found


async def my_hours(repos: Repositories, cohort: Cohort, person_id: int, t: Translator) -> float:
    """For the home page: one's hours in total."""
    programme = await programme_of(repos, cohort.program_id)
    rows = await attendance_rows(repos, cohort, programme, t)
    return sum(r.hours for r in rows if r.person_id == person_id)


# ------------------------------------------------------------------ the ESF list


@dataclass(frozen=True)
class ListRow:
    name: str
    organisation: str
    activity: str
    date: str
    hours: str


async def esf_rows(
    repos: Repositories, cohort: Cohort, programme: Programme, t: Translator
) -> list[ListRow]:
    """The list as the funder reads it, in the reader's language and the cohort's zone."""
    zone = ZoneInfo(cohort.timezone)
    members = {m.person.id: m for m in await repos.people.members(cohort.id, Role.participant)}
    found = []
    for row in await attendance_rows(repos, cohort, programme, t):
        member = members.get(row.person_id)
        if member is None:  # no longer a participant of the cohort
            continue
        found.append(
            ListRow(
                member.person.display_name,
                localise(member.organisation.name, t.language),
                row.activity,
                row.starts_at.astimezone(zone).strftime("%Y-%m-%d"),
                hours_text(t, row.hours),
            )
        )
    return sorted(found, key=lambda r: (r.organisation, r.name, r.date, r.activity))


def header(t: Translator) -> list[str]:
    return [t("Name"), t("Organisation"), t("Activity"), t("Date"), t("Hours"), t("Signature")]


def as_csv(t: Translator, rows: list[ListRow], *, excel: bool = False) -> bytes:
    """For Excel in the reader's language, or Swedish Excel's way with `excel`
    (handlers/core/csv_cells.py)."""
    buffer = io.StringIO()
    writer = csv_cells.writer(buffer, t.language, excel=excel)
    writer.writerow(header(t))
    for row in rows:
        writer.writerow([row.name, row.organisation, row.activity, row.date, row.hours, ""])
    return buffer.getvalue().encode("utf-8")


def as_html(t: Translator, cohort: Cohort, rows: list[ListRow]) -> bytes:
    """One printed page per organisation, with a line for each signature."""
    by_organisation: dict[str, list[ListRow]] = {}
    for row in rows:
        by_organisation.setdefault(row.organisation, []).append(row)
    title = html.escape(t("Attendance: {cohort}", cohort=cohort.title))
    pages = []
    for organisation, found in by_organisation.items():
        cells = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(c)}</td>"
                for c in (r.name, r.organisation, r.activity, r.date, r.hours)
            )
            + '<td class="signature"></td></tr>\n'
            for r in found
        )
        heads = "".join(f"<th>{html.escape(h)}</th>" for h in header(t))
        pages.append(
            f'<section class="page"><h1>{title}</h1><h2>{html.escape(organisation)}</h2>\n'
            f"<table><thead><tr>{heads}</tr></thead>\n<tbody>\n{cells}</tbody></table>"
            "</section>\n"
        )
    if not pages:
        pages.append(f"<h1>{title}</h1><p>{html.escape(t('No attendance has been marked.'))}</p>")
    document = (
        f'<!DOCTYPE html>\n<html lang="{t.language}"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>"
        "body{font-family:sans-serif;font-size:11pt}"
        "table{border-collapse:collapse;width:100%}"
        "th,td{border:1px solid #444;padding:4pt;text-align:left}"
        "td.signature{width:30%;height:18pt}"
        ".page{page-break-after:always}"
        "</style></head><body>\n" + "".join(pages) + "</body></html>\n"
    )
    return document.encode("utf-8")


async def export_file(
    repos: Repositories,
    cohort: Cohort,
    programme: Programme,
    t: Translator,
    fmt: Format,
    organisation: str | None = None,
    *,
    excel: bool = False,
) -> tuple[bytes, int]:
    """The file's bytes and how many rows it has; `organisation` (key or name) narrows it."""
    rows = await esf_rows(repos, cohort, programme, t)
    if organisation is not None:
        wanted = organisation.lower()
        names = {}
        for known in programme.programme.organisations:
            name = localise(known.name, t.language)
            names[known.id.lower()] = names[name.lower()] = name
        if wanted not in names:
            raise Refusal(
                t(
                    "There is no organisation {organisation}. The organisations are: {keys}",
                    organisation=organisation,
                    keys=list_text((o.id for o in programme.programme.organisations), t.language),
                )
            )
        rows = [r for r in rows if r.organisation == names[wanted]]
    content = as_csv(t, rows, excel=excel) if fmt == "csv" else as_html(t, cohort, rows)
    return content, len(rows)


async def export(context: Context, args: Args) -> list[Outgoing]:
    """attendance export [csv|html] [--organisation ORG]: the ESF list, sent as a file."""
    t = context.t
    member = context.require_facilitator()
    cohort = context.require_cohort()
    typed = (args.words[0] if args.words else "csv").lower()
    fmt = next((f for f in FORMATS if f == typed), None)
    if fmt is None:
        raise Refusal(
            t("Choose a format: {choices}", choices=list_text(FORMATS, t.language, either=True))
        )
    organisation = args.options.get("organisation")
    content, rows = await export_file(
        context.repos,
        cohort,
        await context.programme(),
        t,
        fmt,
        organisation,
    )
    await context.repos.audit.record(
        "export_attendance",
        cohort_id=cohort.id,
        actor_person_id=member.person.id,
        detail={"format": fmt, "rows": rows, "organisation": organisation},
    )
    suffix = f"-{organisation.lower()}" if organisation else ""
    return [
        Outgoing(
            ToActor(),
            FileMessage(
                filename=f"digilog-{cohort.key}-attendance{suffix}.{fmt}",
                content=content,
                title=t("Attendance: {cohort}", cohort=cohort.title),
                comment=t.plural(
                    "{n} row of attendance, exported for you.",
                    "{n} rows of attendance, exported for you.",
                    rows,
                ),
            ),
        )
    ]


@dataclass(frozen=True)
class Turnout:
    """For the report: how many of each group were present, of its participants."""

    label: str
    present: dict[str, int]
    people: dict[str, int]


async def report_counts(
    repos: Repositories,
    cohort: Cohort,
    t: Translator,
    organisation: dict[int, str],
    now: datetime | None = None,
) -> list[Turnout]:
    """For the report: per gathering, how many were present per group of the report's
    (each group stands for at least K participants: handlers/core/anonymity.py).

    The organisations' own local meetings are one row per kind, not one per meeting: a
    meeting of one organisation is a figure about that organisation alone, which the
    report's groups may merge or not show. Together they count each participant at their
    own organisation's meeting, out of all the group's participants, as a workshop does:
    out of only those whose organisation held one, a group merged of one organisation
    that did and one that did not would give a figure about fewer than K. The
    facilitators see each meeting by name in `attendance`, and each person in the ESF
    list."""
    present = await repos.gatherings.present(cohort.id)
    members = await repos.people.members(cohort.id, Role.participant)
    everyone: dict[str, int] = {}
    for group in organisation.values():
        everyone[group] = everyone.get(group, 0) + 1
    zone = ZoneInfo(cohort.timezone)
    found: list[tuple[datetime, Turnout]] = []
    own: dict[str, tuple[datetime, dict[str, int]]] = {}
    for entry in gatherings_of(await repos.calendar.entries(cohort.id)):
        if now is not None and entry.starts_at > now:
            continue  # not begun: "0 of 6 present" would only say it has not happened
        counts: dict[str, int] = {}
        if entry.organisation is None:
            for person in present.get(entry.key, ()):
                if person in organisation:
                    counts[organisation[person]] = counts.get(organisation[person], 0) + 1
            day = day_text(entry.starts_at.astimezone(zone), t.language)
            label = f"{gathering_title(t, entry)} ({day})"
            found.append((entry.starts_at, Turnout(label, counts, everyone)))
            continue
        first, counts = own.get(entry.kind, (entry.starts_at, {}))
        for member in expected_at(entry, members):
            person = member.person.id
            if person in organisation and person in present.get(entry.key, ()):
                counts[organisation[person]] = counts.get(organisation[person], 0) + 1
        own[entry.kind] = (min(first, entry.starts_at), counts)
    for kind, (first, counts) in own.items():
        label = (
            t("The organisations' own opening local meetings")
            if kind == "opening_meeting"
            else t("The organisations' own closing local meetings")
        )
        found.append((first, Turnout(label, counts, everyone)))
    return [turnout for _, turnout in sorted(found, key=lambda f: f[0])]


# ------------------------------------------------------------------ events


def _events(entries: list[CalendarEntry]) -> list[CalendarEntry]:
    return [e for e in entries if e.kind == "event"]


async def _event(context: Context, args: Args) -> CalendarEntry:
    t = context.t
    entries = _events(await context.repos.calendar.entries(context.require_cohort().id))
    if not args.words:
        raise Refusal(
            t("Which event? Write {command} to see them.", command=context.command("events"))
        )
    word = args.words[0].lower().removeprefix(EVENT_PREFIX)
    found = next((e for e in entries if e.key == EVENT_PREFIX + word), None)
    if found is None:
        raise Refusal(
            t(
                "There is no event {event}. The events are: {events}",
                event=args.words[0],
                events=list_text((e.key.removeprefix(EVENT_PREFIX) for e in entries), t.language)
                or "–",
            )
        )
    return found


def _event_key(entry: CalendarEntry) -> str:
    return entry.key.removeprefix(EVENT_PREFIX)


async def list_events(context: Context, args: Args) -> list[Outgoing]:
    """events: the programme's named events, with their free seats."""
    t = context.t
    member = context.require_member()
    cohort = context.require_cohort()
    entries = _events(await context.repos.calendar.entries(cohort.id))
    if not entries:
        raise Refusal(t("The calendar has no events."))
    counts = await context.repos.gatherings.counts(cohort.id)
    build = MessageBuilder().heading(t("Events"))
    options: list[Option] = []
    for entry in entries:
        key = _event_key(entry)
        build.para(Span(gathering_title(t, entry), strong=True), Span(f" ({key})"))
        row = [Span(when_text(entry.starts_at, entry.ends_at, context.zone, t.language))]
        if where := where_spans(t, entry.place, entry.link):
            row += [Span(" · "), *where]
        build.para(*row)
        mine = await context.repos.gatherings.is_registered(cohort.id, entry.key, member.person.id)
        if entry.capacity is not None:
            free = max(entry.capacity - counts.get(entry.key, 0), 0)
            build.note(
                t("{free} of {seats} seats free", free=free, seats=entry.capacity)
                + (" · " + t("you are registered") if mine else "")
            )
            if not mine and free and entry.starts_at > context.now():
                options.append(
                    Option(
                        f"event:{cohort.id}:register:{key}",
                        t("Register: {event}", event=gathering_title(t, entry)),
                    )
                )
        options.append(
            Option(
                f"event:{cohort.id}:ics:{key}",
                t("Calendar file: {event}", event=gathering_title(t, entry)),
            )
        )
    return [context.reply(build.choices(options).build())]


async def register(context: Context, args: Args) -> list[Outgoing]:
    """event register KEY: a seat at an event that takes registrations."""
    t = context.t
    member = context.require_member()
    cohort = context.require_cohort()
    entry = await _event(context, args)
    title = gathering_title(t, entry)
    if entry.capacity is None:
        raise Refusal(t("{event} needs no registration: welcome!", event=title))
    if entry.starts_at <= context.now():
        raise Refusal(t("{event} has already begun.", event=title))
    done = await context.repos.gatherings.register(
        cohort.id, entry.key, entry.capacity, member.person.id
    )
    if done is None:
        raise Refusal(t("{event} is full.", event=title))
    when = when_text(entry.starts_at, entry.ends_at, context.zone, t.language)
    lead = (
        t("You are registered for {event} on {when}.", event=title, when=when)
        if done
        else t("You were already registered for {event} on {when}.", event=title, when=when)
    )
    ics = Option(f"event:{cohort.id}:ics:{_event_key(entry)}", t("Add to my calendar"))
    return [context.reply(MessageBuilder().para(lead).choices([ics]).build())]


async def cancel(context: Context, args: Args) -> list[Outgoing]:
    """event cancel KEY: give the seat back."""
    t = context.t
    member = context.require_member()
    cohort = context.require_cohort()
    entry = await _event(context, args)
    title = gathering_title(t, entry)
    if not await context.repos.gatherings.cancel(cohort.id, entry.key, member.person.id):
        raise Refusal(t("You are not registered for {event}.", event=title))
    return [context.reply(t("You are no longer registered for {event}.", event=title))]


async def registered(context: Context, args: Args) -> list[Outgoing]:
    """event registered KEY: who has registered, and the seats left."""
    t = context.t
    context.require_facilitator()
    cohort = context.require_cohort()
    entry = await _event(context, args)
    people = await context.repos.gatherings.registered(cohort.id, entry.key)
    build = MessageBuilder().heading(gathering_title(t, entry))
    facts = [(t("Registered"), str(len(people)))]
    if entry.capacity is not None:
        facts += [
            (t("Seats"), str(entry.capacity)),
            (t("Free"), str(max(entry.capacity - len(people), 0))),
        ]
    build.facts(facts)
    build.bullets(p.display_name for p in people)
    return [context.reply(build.build())]


async def calendar_file(context: Context, args: Args) -> list[Outgoing]:
    """event ics KEY: the event as an .ics file for one's own calendar."""
    context.require_member()
    entry = await _event(context, args)
    return [Outgoing(ToActor(), event_ics(context, entry))]


def event_ics(context: Context, entry: CalendarEntry) -> FileMessage:
    t = context.t
    title = gathering_title(t, entry)
    content = ics(
        f"{entry.key}-{context.require_cohort().id}",
        entry.starts_at,
        entry.ends_at or entry.starts_at + timedelta(hours=1),
        title,
        stamped=context.now(),
        location=context.local(entry.place) if entry.place else None,
        url=entry.link,
    )
    return FileMessage(
        filename=f"{_event_key(entry)}.ics",
        content=content,
        title=title,
        comment=t("Open the file to add the event to your calendar."),
    )


async def event_button(context: Context, action_id: str) -> list[Outgoing]:
    """`event:<cohort>:register|cancel|ics:<event>`."""
    # The cohort in the id is checked before this runs (`same_cohort` below).
    _, _, verb, key = [*action_id.split(":", 3), "", "", ""][:4]
    args = Args(key, set(), {})
    if verb == "register":
        return await register(context, args)
    if verb == "cancel":
        return await cancel(context, args)
    if verb == "ics":
        return await calendar_file(context, args)
    raise Refusal(context.t("That button no longer does anything."))


async def _compose_event_reminder(composing: Composing) -> Decision:
    """A day and an hour before an event, in the cohort's channels."""
    assert composing.due is not None
    entry, cohort, t = composing.due.entry, composing.cohort, composing.t
    key = _event_key(entry)
    choices = [Option(f"event:{cohort.id}:ics:{key}", t("Add to my calendar"))]
    if entry.capacity is not None:
        choices.insert(0, Option(f"event:{cohort.id}:register:{key}", t("Register")))
    soon = composing.due.step.kind == "event_soon"
    what = gathering_title(t, entry)
    return await composing.everywhere(composing.reminder(what, soon=soon, choices=choices))


FEATURE = Feature(
    "gatherings",
    N_("Attendance and events"),
    commands=(
        Command(
            ("attendance",),
            N_("attendance [<key> [--self | --no-self]]"),
            N_(
                "The cohort's workshops, local meetings and events with how many were "
                "present; with a key, the participants with a button each to mark them."
            ),
            Access.facilitator,
            overview,
            flags=("self", "no-self"),
            sv=("närvaro",),
        ),
        Command(
            ("attendance", "mine"),
            N_("attendance mine"),
            N_("Your attendance and hours, per theme and in total."),
            Access.member,
            mine,
            sv=("närvaro", "mina"),
        ),
        Command(
            ("attendance", "here"),
            N_("attendance here <key>"),
            N_("Mark yourself present at a gathering, when the facilitators allow it."),
            Access.participant,
            here,
            sv=("närvaro", "här"),
        ),
        Command(
            ("attendance", "export"),
            N_("attendance export [csv|html] [--organisation <org>]"),
            N_(
                "The attendance list for the funder (name, organisation, activity, date, "
                "hours, signature), sent to you as a file."
            ),
            Access.facilitator,
            export,
            options=("in", "organisation"),
            sv=("närvaro", "exportera"),
        ),
        Command(
            ("events",),
            N_("events"),
            N_("The programme's events: conference, closing and more, with free seats."),
            Access.member,
            list_events,
            sv=("evenemang",),
        ),
        Command(
            ("event", "register"),
            N_("event register <event>"),
            N_("Register for an event that has a limited number of seats."),
            Access.member,
            register,
            sv=("evenemang", "anmäl"),
        ),
        Command(
            ("event", "cancel"),
            N_("event cancel <event>"),
            N_("Cancel your registration for an event."),
            Access.member,
            cancel,
            sv=("evenemang", "avboka"),
        ),
        Command(
            ("event", "ics"),
            N_("event ics <event>"),
            N_("The event as a calendar file (.ics)."),
            Access.member,
            calendar_file,
            sv=("evenemang", "kalender"),
        ),
        Command(
            ("event", "registered"),
            N_("event registered <event>"),
            N_("Who has registered for an event, and how many seats are free."),
            Access.facilitator,
            registered,
            sv=("evenemang", "anmälda"),
        ),
    ),
    buttons=(
        ButtonKind(
            "attend",
            Access.facilitator,
            "mark a participant present or absent; allow self-marking",
            mark_button,
            "this cohort's gathering",
        ),
        ButtonKind(
            "here",
            Access.participant,
            "I was there (when self-marking is allowed)",
            here_button,
            "this cohort's gathering",
        ),
        ButtonKind(
            "event",
            Access.member,
            "register, cancel, calendar file",
            event_button,
            "this cohort's event",
            same_cohort=True,
        ),
    ),
    steps=(
        Step("event_tomorrow", "event", DAY_BEFORE, Audience.channel, relevance=EVENING_BEFORE),
        Step("event_soon", "event", -timedelta(hours=1), Audience.channel, working_time=False),
    ),
    deliveries={
        "event_tomorrow": _compose_event_reminder,
        "event_soon": _compose_event_reminder,
    },
    labels={"event_tomorrow": N_("Event reminders"), "event_soon": N_("Event reminders")},
)
