"""Showing a cohort's calendar: what happens when, in the reader's language and time zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from handlers.core.access import Access
from handlers.core.calendar_file import check_entries
from handlers.core.context import Args, Context, Refusal, address_of, command_on
from handlers.core.deliveries import Composing, Decision, Drop, Send
from handlers.core.formats import list_text, when_text, where_spans
from handlers.core.i18n import N_, Translator, translator
from handlers.core.programme_file import Programme, localise
from handlers.core.progress import missing
from handlers.core.registry import ButtonKind, Command, Feature, Registry
from handlers.core.vocabulary import Message, MessageBuilder, Option, Outgoing, Span
from handlers.core.yaml_file import Mistake
from handlers.meetings import meeting_title
from handlers.nudges import reachable
from storage.deliveries import NUDGE_PREFIX, Planned, Tally
from storage.models import CalendarEntry, Cohort, Delivery, DeliveryState, Role
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
    organisation: str | None = None,
) -> Message:
    """The calendar with the programme's lab sessions, oldest first. With `organisation`
    (someone's own), other organisations' own local meetings are left out."""
    language = t.language
    names = {o.id: localise(o.name, language) for o in programme.programme.organisations}
    rows: list[tuple[datetime, int, tuple[Span, ...]]] = []  # a theme's start comes first
    for entry in entries:
        if entry.starts_at < now and not include_past:
            continue
        if organisation is not None and entry.organisation not in (None, organisation):
            continue
        theme = programme.theme(entry.theme_number) if entry.theme_number else None
        title = localise(theme.title, language) if theme else ""
        if entry.kind == "event":  # a named event brings its own title
            text = localise(entry.title or {"en": entry.key}, language)
        elif entry.organisation is not None:
            text = meeting_title(t, entry, names.get(entry.organisation, entry.organisation))
            if entry.host:
                text += " · " + t("Host: {host}", host=entry.host)
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
        organisation=None
        if context.is_facilitator or context.member is None
        else context.member.organisation.key,
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
            names="names" in args.flags,
            buttons=True,
        )
    return [context.reply(message)]


async def move(context: Context, args: Args) -> list[Outgoing]:
    """schedule move KEY YYYY-MM-DD HH:MM: one calendar entry to a new time (the cohort's zone)."""
    t = context.t
    context.require_facilitator()
    cohort = context.require_cohort()
    words = args.words
    if len(words) != 3:
        raise Refusal(
            t(
                "Write it like {example}.",
                example=context.command("schedule", "move", then="2:quiz_close 2027-03-31 17:00"),
            )
        )
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
    *,
    names: bool = False,
    buttons: bool = False,
) -> Message:
    """What facilitators also need: who will be nudged when, what is waiting and what
    could not be sent, and why, in words (with the names if asked for)."""
    build = MessageBuilder(list(message.blocks))
    member_names = {
        m.person.id: m.person.display_name for m in await repos.people.members(cohort.id)
    }
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
                name=member_names.get(d.person_id or 0, "?"),
            )
            for d in sorted(waiting, key=lambda d: (d.due_at, d.id))[:WAITING_SHOWN]
        )
        if len(waiting) > WAITING_SHOWN:
            build.note(t("… and {n} more.", n=len(waiting) - WAITING_SHOWN))
    await outbox_summary(repos, features, cohort, t, build, names=names, buttons=buttons)
    return build.build()


# ---------------------------------------------------------------- the outbox, for facilitators

OUTBOX_PREFIX = "outbox"  # buttons: `outbox:<cohort>:names`, `outbox:<cohort>:again`
TROUBLE_WORDS = {
    "no_answer": N_("{platform} did not answer"),
    "rate_limited": N_("{platform} limited the sending"),
    "refused": N_("{platform} refused them"),
    "unreachable": N_("{platform} cannot reach the person"),
    "not_connected": N_("Digilog is not connected to {platform}"),
    "expired": N_("their deadline passed before they could go out"),
}
OUTAGE_DELAYED = "alert_outage"
OUTAGE_OVER = "alert_recovered"
WAITING = (DeliveryState.pending, DeliveryState.sending)
SEND_AGAIN_WITHIN = timedelta(days=14)  # older failures are history, not something to send now


def kind_label(t: Translator, features: Registry, kind: str) -> str:
    """What facilitators call a kind's messages: each feature names the kinds it composes."""
    label = features.label(kind)
    return t(label) if label else t("Other messages")


def trouble_words(t: Translator, trouble: str | None, platform: str) -> str:
    words = TROUBLE_WORDS.get(trouble or "")
    return t(words, platform=platform_name(platform)) if words else t("another reason")


def platform_name(platform: str) -> str:
    return {"slack": "Slack", "teams": "Teams"}.get(platform, platform.title())


async def outbox_summary(
    repos: Repositories,
    features: Registry,
    cohort: Cohort,
    t: Translator,
    build: MessageBuilder,
    *,
    names: bool,
    buttons: bool,
) -> None:
    """Per kind: how many wait to go out and how many failed, and why, in words."""
    tallies = await repos.deliveries.tally(cohort.id, [*WAITING, DeliveryState.failed])
    if not tallies:
        return
    by_label: dict[str, list[Tally]] = {}
    for tally in tallies:
        by_label.setdefault(kind_label(t, features, tally.kind), []).append(tally)
    rows: list[tuple[Span, ...]] = []
    for label, found in sorted(by_label.items()):
        parts = []
        waiting = [x for x in found if x.state in WAITING]
        if waiting:
            count = sum(x.count for x in waiting)
            text = t.plural("{n} waiting", "{n} waiting", count)
            parts.append(text + _why(t, waiting, cohort.platform, only_troubled=True))
        failed = [x for x in found if x.state is DeliveryState.failed]
        if failed:
            count = sum(x.count for x in failed)
            failed_text = t.plural("{n} failed", "{n} failed", count)
            parts.append(failed_text + _why(t, failed, cohort.platform, only_troubled=False))
        rows.append((Span(label + ": ", strong=True), Span("; ".join(parts))))
    build.heading(t("Deliveries"))
    build.bullets(rows)
    failed_rows = [x for x in tallies if x.state is DeliveryState.failed]
    if names:
        await _names(repos, features, cohort, t, build)
    if failed_rows and buttons:
        build.choices(
            [
                Option(f"{OUTBOX_PREFIX}:{cohort.id}:names", t("Who missed them")),
                Option(
                    f"{OUTBOX_PREFIX}:{cohort.id}:again",
                    t("Send again to those who missed it"),
                    style="primary",
                ),
            ]
        )
    elif failed_rows and not names:
        # Without buttons this is the administrator's command line (`digilog schedule show`),
        # whose command words and options are English in every language.
        command = f"`digilog schedule show {cohort.key} --names`"
        build.note(t("{command} lists who missed them.", command=command))


def _why(t: Translator, tallies: list[Tally], platform: str, *, only_troubled: bool) -> str:
    """ " (1750: Slack did not answer)": the troubles behind the count, in words."""
    merged: dict[str | None, int] = {}
    for tally in tallies:
        if tally.trouble is not None or not only_troubled:
            merged[tally.trouble] = merged.get(tally.trouble, 0) + tally.count
    if not merged:
        return ""
    words = "; ".join(
        f"{count}: {trouble_words(t, trouble, platform)}"
        for trouble, count in sorted(merged.items(), key=lambda kv: -kv[1])
    )
    return f" ({words})"


async def _names(
    repos: Repositories, features: Registry, cohort: Cohort, t: Translator, build: MessageBuilder
) -> None:
    """Who missed what: the people behind the failed rows, and behind those that wait
    after trouble."""
    rows = await repos.deliveries.of_cohort(cohort.id, [DeliveryState.failed, *WAITING], limit=500)
    lines: list[str] = []
    for row in rows:
        if row.state in WAITING and row.trouble is None:
            continue  # waiting for its time, working hours or the weekly cap: not missed
        who = await repos.people.get(row.person_id) if row.person_id else None
        name = who.display_name if who else t("the cohort's channel")
        state = t("failed") if row.state is DeliveryState.failed else t("waiting")
        lines.append(
            f"{name}: {kind_label(t, features, row.kind)}, {state}, "
            f"{trouble_words(t, row.trouble, cohort.platform)}"
        )
    build.heading(t("Who missed them"))
    if not lines:
        build.para(t("Nobody: nothing failed or is held up."))
    build.bullets(sorted(lines))


async def outbox_choice(context: Context, action_id: str) -> list[Outgoing]:
    """The buttons under `schedule`: the names, or sending again to those who missed it.
    Digilog has checked the role and the cohort (same_cohort)."""
    t, cohort = context.t, context.require_cohort()
    what = action_id.rpartition(":")[2]
    if what == "names":
        build = MessageBuilder()
        await _names(context.repos, context.registry(), cohort, t, build)
        return [context.reply(build.build())]
    if what != "again":
        raise Refusal(t("That button no longer does anything."))
    count = await context.repos.deliveries.send_again(
        cohort.id, context.now(), SEND_AGAIN_WITHIN, "sent again by a facilitator"
    )
    text = (
        t.plural(
            "{n} message will be sent again, to those who missed it, as soon as it may.",
            "{n} messages will be sent again, to those who missed them, as soon as they may.",
            count,
        )
        if count
        else t("Nothing failed: there is nothing to send again.")
    )
    return [context.reply(text)]


# ---------------------------------------------------------------- outages, told to facilitators


async def outage_begun(
    repos: Repositories, delivery: Delivery, trouble: str, since: datetime, now: datetime
) -> None:
    """An outage has kept a step's rows from going out for a while: its facilitators are
    told, once per step (whichever sender notices first)."""
    if delivery.step is None or delivery.kind.startswith("alert_"):
        return  # an alert about an alert would only wait behind the same outage
    news = await repos.deliveries.outage_begun(
        delivery.cohort_id, delivery.step, delivery.kind, trouble, since, now
    )
    if news:
        await _tell_facilitators(repos, delivery.cohort_id, delivery.step, OUTAGE_DELAYED, now)


async def outages_over(repos: Repositories, now: datetime) -> int:
    """Steps an outage delayed whose rows have all gone (or are no longer held up): their
    facilitators are told that it is over. Returns how many steps recovered."""
    recovered = 0
    for outage in await repos.deliveries.open_outages():
        if await repos.deliveries.in_trouble(outage.cohort_id, outage.step):
            continue
        outage.recovered_at = now
        await _tell_facilitators(repos, outage.cohort_id, outage.step, OUTAGE_OVER, now)
        recovered += 1
    return recovered


async def _tell_facilitators(
    repos: Repositories, cohort_id: int, step: str, kind: str, now: datetime
) -> None:
    facilitators = await repos.people.members(cohort_id, Role.facilitator)
    await repos.deliveries.add(
        Planned(
            key=f"{kind}:c{cohort_id}:{step}:f{f.person.id}",
            cohort_id=cohort_id,
            kind=kind,
            due_at=now,
            person_id=f.person.id,
            detail={"step": step},
        )
        for f in facilitators
    )


async def _compose_outage(composing: Composing) -> Decision:
    """To a facilitator: an outage delays a step, or it is over."""
    repos, cohort, delivery = composing.repos, composing.cohort, composing.delivery
    facilitator = await repos.people.get(delivery.person_id or 0)
    step = str((delivery.detail or {}).get("step", ""))
    outage = await repos.deliveries.outage(cohort.id, step)
    if facilitator is None or facilitator.user_id is None or outage is None:
        return Drop(N_("nobody to tell"))
    t = translator(facilitator.language or cohort.language)
    zone = ZoneInfo(facilitator.timezone or cohort.timezone)
    what = kind_label(t, composing.features, outage.kind)
    why = trouble_words(t, outage.trouble, cohort.platform)
    since = when_text(outage.since, None, zone, t.language)
    if delivery.kind == OUTAGE_DELAYED:
        if outage.recovered_at is not None:
            return Drop(N_("the outage was over before this could be told"))
        waiting = await repos.deliveries.in_trouble(cohort.id, step)
        text = t(
            "{what} are delayed: {why} since {since}. {n} wait and will go out when it "
            "answers again; nothing is lost.",
            what=what,
            why=why,
            since=since,
            n=waiting,
        )
    else:
        sent, last = await repos.deliveries.step_sent(cohort.id, step)
        text = t(
            "{what} are on their way again: {why} from {since}; {n} have gone out, "
            "the last at {last}.",
            what=what,
            why=why,
            since=since,
            n=sent,
            last=when_text(last, None, zone, t.language) if last else "–",
        )
    shows = command_on(composing.features, facilitator.platform, t.language, ("schedule",))
    message = (
        MessageBuilder()
        .para(text)
        .note(t("{command} shows what waits and what failed.", command=shows))
    )
    return Send(Outgoing(address_of(facilitator), message.build()))


FEATURE = Feature(
    "schedule",
    N_("Calendar"),
    commands=(
        Command(
            ("schedule",),
            N_("schedule [--all] [--names]"),
            N_("What is coming up: themes, workshops, digilogs, quizzes, meetings, labs."),
            Access.member,
            show,
            flags=("all", "names"),
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
    buttons=(
        ButtonKind(
            OUTBOX_PREFIX,
            Access.facilitator,
            "who missed a delivery; send it again",
            outbox_choice,
            "this cohort's",
            same_cohort=True,
        ),
    ),
    deliveries={OUTAGE_DELAYED: _compose_outage, OUTAGE_OVER: _compose_outage},
    labels={
        OUTAGE_DELAYED: N_("Alerts to facilitators"),
        OUTAGE_OVER: N_("Alerts to facilitators"),
    },
)
