"""Nudges as people steer them: their own settings, and a facilitator's nudge to a segment."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from handlers import surveys
from handlers.core import channels
from handlers.core.access import Access
from handlers.core.context import (
    Args,
    Context,
    Refusal,
    address_of,
    cohort_channel,
    command_on,
    zone_of,
)
from handlers.core.deliveries import TOO_LATE, Composing, Decision, Drop, Send, SharedReads, Wait
from handlers.core.formats import list_text, when_text
from handlers.core.humane import (
    DEFAULT_HOURS,
    WorkingHours,
    cap_frees_at,
    holiday_name,
    next_humane_time,
    next_working_day,
)
from handlers.core.i18n import N_, Translator, translator
from handlers.core.programme_file import Programme, localise
from handlers.core.progress import missing
from handlers.core.registry import ButtonKind, Command, Feature
from handlers.core.steps import AD_HOC, CLOSING_GRACE, DAY_BEFORE, Audience, Step, Task, survey_key
from handlers.core.vocabulary import Conversation, Message, MessageBuilder, Option, Outgoing, Span
from handlers.people import find_organisation
from handlers.quiz import QuizAction
from handlers.themes import theme_number
from storage.deliveries import IN_MESSAGE, Planned
from storage.models import CalendarEntry, Cohort, Delivery, Person, Role
from storage.unit import Repositories

SNOOZE = timedelta(days=7)
# After this many messages in a row went unheeded, one every other working day instead
# of one a day: fewer, never none. Only the person (`nudges snooze`, `nudges mute`) or a
# facilitator (`nudges stop`) stops them.
IGNORED_IN_A_ROW = 3
LOOK_BACK = 5  # the person's latest messages: the weekly cap, heeded or not, what they carried
ALERT_PAUSED = "alert_paused"  # no longer planned: unheeded nudges come less often instead
ALERT_BEHIND = "alert_behind"  # the facilitators' weekly list of who is far behind
SUMMARY_RELEVANCE = timedelta(days=2)
ALERT_UNREACHABLE = "alert_unreachable"
MUTABLE = tuple(Task)  # what a person can mute: post, reply, quiz, survey
# The words a Swede types after `påminnelser` and `påminn`, for the English ones.
SWEDISH_WORDS = {
    "pausa": "snooze",
    "tysta": "mute",
    "tillåt": "unmute",
    "på": "on",
    "inlägg": "post",
    "svar": "reply",
    "enkät": "survey",
}
_KIND_WORDS = {"sv": ("inlägg", "svar", "quiz", "enkät"), "en": tuple(t.value for t in Task)}


# Working hours as a reader may write them: shown in their language.
EXAMPLES = ("08-17", "mon-thu 8:30-16", "mon,wed,fri 9-15")


def _said(language: str, *words: str) -> str:
    """Sub-words in the reader's language: ("mute", "quiz") → `tysta quiz` for a Swede."""
    swedish = {english: sv for sv, english in SWEDISH_WORDS.items()}
    return " ".join(swedish.get(w, w) if language == "sv" else w for w in words)


def _nudges(context: Context, *words: str) -> str:
    """`nudges snooze` in the reader's words: `påminnelser pausa`."""
    return context.command("nudges", then=_said(context.language, *words))


def _settings_commands(context: Context) -> str:
    return list_text(
        (
            context.command("nudges"),
            _nudges(context, "snooze"),
            _nudges(context, "mute", "quiz"),
            _nudges(context, "on"),
        ),
        context.language,
        either=True,
    )


def _kinds(context: Context) -> str:
    return list_text(_KIND_WORDS.get(context.language, _KIND_WORDS["en"]), context.language)


PREVIEW_NAMES = 30


def task_label(t: Translator, task: Task, n: int) -> str:
    """Who has not done a task: one person "has not", several "have not"."""
    match task:
        case Task.post:
            return t.plural("has not posted in the digilog", "have not posted in the digilog", n)
        case Task.reply:
            return t.plural(
                "has posted but not replied to anyone", "have posted but not replied to anyone", n
            )
        case Task.quiz:
            return t.plural("has not finished the quiz", "have not finished the quiz", n)
        case Task.survey:
            return t.plural("has not answered the survey", "have not answered the survey", n)


def _person(context: Context) -> Person:
    if context.person is None:
        raise Refusal(context.t("Join a cohort first; then your settings can be saved."))
    return context.person


async def settings(context: Context, args: Args) -> list[Outgoing]:
    """nudges [snooze | mute KIND | unmute KIND | on]."""
    t = context.t
    words = [SWEDISH_WORDS.get(word.lower(), word.lower()) for word in args.words]
    action = words[0] if words else ""
    person = _person(context)
    now = context.now()
    if action == "snooze":
        person.nudges_snoozed_until = now + SNOOZE
    elif action in ("mute", "unmute"):
        kind = words[1] if len(words) > 1 else ""
        if kind not in MUTABLE:
            raise Refusal(t("Mute which kind? One of: {kinds}", kinds=_kinds(context)))
        muted = set(person.muted_nudges or [])
        muted = muted | {kind} if action == "mute" else muted - {kind}
        person.muted_nudges = sorted(muted)
    elif action == "on":
        person.nudges_snoozed_until = None
        person.nudges_paused_at = None
        person.muted_nudges = []
    elif action:
        raise Refusal(t("Write {commands}.", commands=_settings_commands(context)))
    return [context.reply(_settings_message(context, person).build())]


def _settings_message(context: Context, person: Person) -> MessageBuilder:
    t = context.t
    now = context.now()
    hours = WorkingHours.stored(person.working_hours)
    state = t("on")
    if person.nudges_paused_at is not None:
        state = t(
            "stopped by a facilitator; {command} turns them on",
            command=_nudges(context, "on"),
        )
    elif person.nudges_snoozed_until is not None and person.nudges_snoozed_until > now:
        until = when_text(person.nudges_snoozed_until, None, context.zone, context.language)
        state = t("snoozed until {when}", when=until)
    shown = _KIND_WORDS.get(context.language, _KIND_WORDS["en"])
    words = dict(zip(_KIND_WORDS["en"], shown, strict=True))
    muted = list_text((words.get(k, k) for k in person.muted_nudges or []), t.language) or t("none")
    return (
        MessageBuilder()
        .heading(t("Your nudges"))
        .facts(
            [
                (t("Nudges"), state),
                (t("Muted kinds"), muted),
                (t("Working hours"), f"{hours.display(context.language)} ({context.zone.key})"),
            ]
        )
        .note(
            t(
                "Nudges come only in your working hours, never on a public holiday, and at "
                "most 3 a week. {snooze} pauses them for a week; {mute} (or {others}) mutes a "
                "kind; {hours} sets your hours.",
                snooze=_nudges(context, "snooze"),
                mute=_nudges(context, "mute", "quiz"),
                others=list_text(_KIND_WORDS.get(t.language, _KIND_WORDS["en"])[:2], t.language),
                hours=context.command("hours", then=DEFAULT_HOURS.display(t.language)),
            )
        )
    )


async def hours(context: Context, args: Args) -> list[Outgoing]:
    """hours [mon-fri 08-17]: when nudges may reach you."""
    person = _person(context)
    if args.rest.strip():
        try:
            person.working_hours = WorkingHours.parse(args.rest.strip()).format()
        except ValueError:
            raise Refusal(
                context.t(
                    "I could not read “{hours}”. Write it like {examples}.",
                    hours=args.rest.strip(),
                    examples=list_text(
                        (f"`{WorkingHours.parse(e).display(context.language)}`" for e in EXAMPLES),
                        context.language,
                        either=True,
                    ),
                )
            ) from None
    return [context.reply(_settings_message(context, person).build())]


async def _member_named(context: Context, args: Args) -> Person:
    """The person of the cohort a facilitator names by user id or email."""
    context.require_facilitator()
    cohort = context.require_cohort()
    if not args.words:
        raise Refusal(context.t("Missing {what}.", what=context.t("user id")))
    wanted = args.words[0].lstrip("@")
    member = next(
        (
            m
            for m in await context.repos.people.members(cohort.id)
            if wanted in (m.person.user_id, m.person.email)
        ),
        None,
    )
    if member is None:
        raise Refusal(context.t("{user} is not in this cohort.", user=wanted))
    return member.person


async def resume(context: Context, args: Args) -> list[Outgoing]:
    """nudges resume USER: a facilitator turns on nudges they had stopped."""
    person = await _member_named(context, args)
    person.nudges_paused_at = None
    return [context.reply(context.t("Nudges to {name} are on again.", name=person.display_name))]


async def stop(context: Context, args: Args) -> list[Outgoing]:
    """nudges stop USER: a facilitator stops nudges to someone (unheeded ones never do)."""
    person = await _member_named(context, args)
    person.nudges_paused_at = context.now()
    return [
        context.reply(
            context.t(
                "Nudges to {name} are stopped until you write {resume} or they write {on}.",
                name=person.display_name,
                resume=context.command(
                    "nudges", "resume", then=person.user_id or person.email or ""
                ),
                on=command_on(
                    context.registry(),
                    person.platform,
                    context.language,
                    ("nudges",),
                    _said(context.language, "on"),
                ),
            )
        )
    ]


# ---------------------------------------------------------------- a facilitator's nudge


def _task(context: Context, args: Args) -> Task:
    words = [SWEDISH_WORDS.get(word.lower(), word.lower()) for word in args.words]
    if len(words) < 2 or words[1] not in Task.__members__:
        raise Refusal(
            context.t(
                "Write it like {example}: a theme, then {kinds}.",
                example=context.command(
                    "nudge", then=f"2 {_KIND_WORDS.get(context.language, _KIND_WORDS['en'])[0]}"
                ),
                kinds=list_text(
                    _KIND_WORDS.get(context.language, _KIND_WORDS["en"]),
                    context.language,
                    either=True,
                ),
            )
        )
    return Task(words[1])


async def preview(context: Context, args: Args) -> list[Outgoing]:
    """nudge THEME post|reply|quiz [--org ORG]: who would get it, and a button to send it."""
    t = context.t
    context.require_facilitator()
    cohort = context.require_cohort()
    programme = await context.programme()
    number = theme_number(context, args, programme)
    task = _task(context, args)
    organisation = args.options.get("org")
    if organisation is not None:
        organisation = (await find_organisation(context, organisation)).key
    people_ids = await missing(context.repos, cohort, task, number, organisation)
    if not people_ids:
        raise Refusal(t("Nobody in that group needs this nudge."))
    names = [
        f"{m.person.display_name} ({context.local(m.organisation.name)})"
        for m in await context.repos.people.members(cohort.id)
        if m.person.id in set(people_ids)
    ]
    build = MessageBuilder().heading(t("Nudge preview"))
    what = task_label(t, task, len(names))
    build.para(
        t.plural(
            "{n} person in theme {number} {what}:",
            "{n} people in theme {number} {what}:",
            len(names),
            number=number,
            what=what,
        )
    )
    build.bullets(names[:PREVIEW_NAMES])
    if len(names) > PREVIEW_NAMES:
        build.note(t("… and {n} more.", n=len(names) - PREVIEW_NAMES))
    build.note(t("Each gets it within their working hours, and not past the weekly cap."))
    token = secrets.token_hex(4)
    action = f"nudge:{cohort.id}:{number}:{task.value}:{organisation or '-'}:{token}"
    build.choices([Option(action, t("Send to them"), style="primary")])
    return [context.reply(build.build())]


async def confirm(context: Context, action_id: str) -> list[Outgoing]:
    """The preview's button: queue the nudge for the group as it is now, once per preview."""
    t = context.t
    member = context.require_facilitator()
    cohort = context.require_cohort()
    try:
        _, cohort_id, theme, task_name, organisation, token = action_id.split(":")
        number, task = int(theme), Task(task_name)
    except ValueError:
        raise Refusal(t("That button no longer does anything.")) from None
    if int(cohort_id) != cohort.id:
        raise Refusal(t("That button belongs to another cohort."))
    org = None if organisation == "-" else organisation
    now = context.now()
    entries = await context.repos.calendar.entries(cohort.id)
    closes = context.registry().deadline(entries, task, number)
    relevant_until = closes if closes and closes > now else now + CLOSING_GRACE
    people_ids = await missing(context.repos, cohort, task, number, org)
    added = await context.repos.deliveries.add(
        Planned(
            key=f"{AD_HOC}:c{cohort.id}:{token}:p{person}",
            cohort_id=cohort.id,
            kind=AD_HOC,
            due_at=now,
            relevant_until=relevant_until,
            theme_number=number,
            person_id=person,
            detail={"task": task.value, "by": member.person.id},
        )
        for person in people_ids
    )
    if added == 0:
        return [context.reply(t("That nudge has already been sent."))]
    today = holiday_name(now.astimezone(context.zone).date())
    reply = t.plural(
        "The nudge goes to {n} person within their working hours.",
        "The nudge goes to {n} people within their working hours.",
        added,
    )
    if today:
        reply += " " + t("Today is {holiday}, so it goes on the next working day.", holiday=today)
    return [context.reply(reply)]


# ---------------------------------------------------------------- the nudges the calendar plans


def _task_of(delivery: Delivery) -> Task | None:
    """What a nudge asks for (an ad-hoc nudge says so in its detail)."""
    if delivery.kind == AD_HOC:
        return Task((delivery.detail or {}).get("task", Task.post))
    step = next((s for s in STEPS if s.kind == delivery.kind), None)
    return step.task if step else None


# Long on purpose: each condition of a humane nudge, in the order they are weighed.
async def _nudge(composing: Composing) -> Decision:  # noqa: C901
    """The day's one message to a participant, if this nudge is the first of theirs due:
    it lists everything open for them. Still needed, still relevant, not muted, snoozed or
    stopped; inside their working hours; one message a working day (every other working
    day once several went unheeded), and under the weekly cap."""
    repos, cohort, delivery = composing.repos, composing.cohort, composing.delivery
    relevant_until, now = composing.relevant_until, composing.now
    task = _task_of(delivery)
    if task is None or delivery.person_id is None or delivery.theme_number is None:
        return Drop(f"unknown kind {delivery.kind}")
    member = await repos.people.member(cohort.id, delivery.person_id)
    if member is None or member.membership.role != Role.participant:
        return Drop(N_("no longer a participant"))
    person = member.person
    if person.user_id is None:
        return Drop(N_("the person has not used Digilog yet, so has no account to write to"))
    last = await repos.deliveries.last_nudges(person.id, LOOK_BACK)
    if (carried := _carried_by(last, delivery.key)) is not None:
        return Drop(IN_MESSAGE + carried.key)
    if (why := await _not_needed(composing, person, delivery, task)) is not None:
        return Drop(why)
    if person.nudges_paused_at is not None:
        return Drop(N_("a facilitator stopped nudges to this person"))
    if person.unreachable_since is not None:
        return Drop(N_("the platform cannot deliver to this person until they use Digilog"))

    def later(when: datetime, reason: str) -> Decision:
        if relevant_until is not None and when >= relevant_until:
            return Drop(reason + TOO_LATE)
        return Wait(when, reason)

    if person.nudges_snoozed_until is not None and person.nudges_snoozed_until > now:
        return later(person.nudges_snoozed_until, N_("snoozed"))
    zone = zone_of(person, cohort)
    hours = WorkingHours.stored(person.working_hours)
    opens = next_humane_time(now, zone, hours)
    if opens > now:
        return later(opens, N_("outside working hours"))
    unheeded = await _unheeded_in_a_row(repos, composing.reads, cohort, last)
    if (pause := _pause_after(last, unheeded, zone, hours)) is not None and pause > now:
        reason = (
            N_("every other working day after unheeded nudges")
            if unheeded >= IGNORED_IN_A_ROW
            else N_("one message a working day")
        )
        return later(pause, reason)
    frees = cap_frees_at([n.sent_at for n in last if n.sent_at is not None], now)
    if frees is not None:
        return later(next_humane_time(frees, zone, hours), "weekly cap reached")
    also = await _also_open(composing, person, delivery)
    taken = await repos.deliveries.fold_into(
        [row.id for row, _ in also], delivery.key, delivery.claimed_by
    )
    # Only what this message took: a nudge another sender holds goes out in its own.
    lines = [(delivery, task)] + [(row, line_task) for row, line_task in also if row.id in taken]
    folded = [row for row, _ in lines[1:]]
    # What the message listed, so that a row it carried is not sent again, and so that
    # whether it was heeded can be told later.
    delivery.detail = {
        **(delivery.detail or {}),
        "lines": [[line_task.value, row.theme_number] for row, line_task in _shown(lines)],
        "carries": [row.key for row in folded],
    }
    t = translator(person.language or cohort.language)
    message = await _day_message(composing, t, lines, zone, person)
    return Send(Outgoing(address_of(person), message))


def _carried_by(last: list[Delivery], key: str) -> Delivery | None:
    """The message already sent that listed this nudge as one of its lines."""
    return next((d for d in last if key in (d.detail or {}).get("carries", [])), None)


async def _not_needed(
    composing: Composing, person: Person, row: Delivery, task: Task
) -> str | None:
    """Why this nudge is no longer worth a line, if it is not."""
    theme = row.theme_number
    assert theme is not None
    if person.id in await composing.reads.done_by(composing.repos, composing.cohort, task, theme):
        return N_("already done")
    if task.value in (person.muted_nudges or []):
        return N_("the person muted this kind of nudge")
    return None


async def _also_open(
    composing: Composing, person: Person, first: Delivery
) -> list[tuple[Delivery, Task]]:
    """The person's other nudges that are due and still worth a line: the day's message
    carries them too (one line each, whatever planned it)."""
    repos, cohort, now = composing.repos, composing.cohort, composing.now
    entries = await composing.reads.calendar(repos, cohort.id)
    lines: list[tuple[Delivery, Task]] = []
    for row in await repos.deliveries.open_nudges(person.id, cohort.id, now, first.key):
        task = _task_of(row)
        if row.id == first.id or task is None or row.theme_number is None:
            continue
        entry_key = (row.detail or {}).get("entry")
        due = composing.features.step_of(entries, row.kind, entry_key) if entry_key else None
        until = due.relevant_until if due else row.relevant_until
        if until is not None and now >= until:
            continue  # its own turn drops it as no longer relevant
        if await _not_needed(composing, person, row, task) is not None:
            continue
        lines.append((row, task))  # the same thing asked twice is one line (`_shown`)
    return lines


def _pause_after(
    last: list[Delivery], unheeded: int, zone: ZoneInfo, hours: WorkingHours
) -> datetime | None:
    """When the next message may go: the next working day after the last one, or the one
    after that once several in a row went unheeded (fewer, never none)."""
    if not last or last[0].sent_at is None:
        return None
    day = last[0].sent_at.astimezone(zone).date()
    for _ in range(2 if unheeded >= IGNORED_IN_A_ROW else 1):
        day = next_working_day(day, hours)
    return next_humane_time(datetime.combine(day, hours.start, zone), zone, hours)


async def _unheeded_in_a_row(
    repos: Repositories,
    reads: SharedReads,
    cohort: Cohort,
    last: list[Delivery],
) -> int:
    """How many of the person's latest messages in a row did nothing: none of their lines
    has been done since."""
    person_id = last[0].person_id if last else None
    count = 0
    for message in last:
        lines = (message.detail or {}).get("lines")
        if lines is None:  # a nudge sent before messages had lines
            task = _task_of(message)
            lines = [[task.value, message.theme_number]] if task else []
        for task_name, theme in lines:
            if theme is None or person_id is None:
                return count
            if person_id in await reads.done_by(repos, cohort, Task(task_name), theme):
                return count
        count += 1
    return count


async def _alert_facilitators(
    repos: Repositories, cohort: Cohort, person: Person, now: datetime, kind: str = ALERT_PAUSED
) -> None:
    facilitators = await repos.people.members(cohort.id, Role.facilitator)
    await repos.deliveries.add(
        Planned(
            key=f"{kind}:c{cohort.id}:p{person.id}:{now:%Y%m%d%H%M}:f{f.person.id}",
            cohort_id=cohort.id,
            kind=kind,
            due_at=now,
            person_id=f.person.id,
            about_person_id=person.id,
        )
        for f in facilitators
        if f.person.id != person.id
    )


async def unreachable(repos: Repositories, delivery: Delivery, now: datetime) -> None:
    """The platform cannot write to the person a delivery was for: no more nudges to them
    until they use Digilog again, and the cohort's facilitators hear of it once."""
    if delivery.person_id is None or delivery.kind.startswith("alert_"):
        return  # any alert to a facilitator, outage notices included
    person = await repos.people.get(delivery.person_id)
    cohort = await repos.cohorts.by_id(delivery.cohort_id)
    if person is None or cohort is None or person.unreachable_since is not None:
        return
    person.unreachable_since = now
    await _alert_facilitators(repos, cohort, person, now, ALERT_UNREACHABLE)


async def _alert(composing: Composing) -> Decision:
    """A facilitator hears that nudges to someone are paused, or cannot reach them."""
    repos, cohort, delivery = composing.repos, composing.cohort, composing.delivery
    facilitator = await repos.people.get(delivery.person_id or 0)
    about = await repos.people.get(delivery.about_person_id or 0)
    if facilitator is None or about is None or facilitator.user_id is None:
        return Drop(N_("nobody to tell"))
    t = translator(facilitator.language or cohort.language)
    if delivery.kind == ALERT_UNREACHABLE:
        message = (
            MessageBuilder()
            .para(
                t(
                    "Digilog cannot write to {name}: they have not opened Digilog in {platform} "
                    "yet. Their reminders and nudges are held until they do.",
                    name=about.display_name,
                    platform=cohort.platform.title(),
                )
            )
            .build()
        )
        return Send(Outgoing(address_of(facilitator), message))
    message = (
        MessageBuilder()
        .para(
            t(
                "Nudges to {name} are paused: the last {n} went unheeded.",
                name=about.display_name,
                n=IGNORED_IN_A_ROW,
            )
        )
        .note(
            t(
                "They can turn them on again with {on}, and you with {resume}.",
                on=command_on(
                    composing.features,
                    about.platform,
                    t.language,
                    ("nudges",),
                    _said(t.language, "on"),
                ),
                resume=command_on(
                    composing.features,
                    facilitator.platform,
                    t.language,
                    ("nudges", "resume"),
                    about.user_id or about.display_name,
                ),
            )
        )
        .build()
    )
    to = address_of(facilitator)
    return Send(Outgoing(to, message))


def _line_text(t: Translator, task: Task, number: int) -> str:
    match task:
        case Task.post:
            return t("Theme {number}: you have not posted in the digilog yet", number=number)
        case Task.reply:
            return t(
                "Theme {number}: you have posted in the digilog; now reply to someone else's post",
                number=number,
            )
        case Task.quiz:
            return t("Theme {number}: you have not finished the quiz", number=number)
        case Task.survey:
            return t(
                "Theme {number}: you have not answered the survey yet (it takes a minute)",
                number=number,
            )


def _shown(lines: list[tuple[Delivery, Task]]) -> list[tuple[Delivery, Task]]:
    """One line for each thing asked, however many nudges asked for it."""
    seen: set[tuple[Task, int | None]] = set()
    shown = []
    for row, task in lines:
        if (task, row.theme_number) not in seen:
            seen.add((task, row.theme_number))
            shown.append((row, task))
    return shown


async def _day_message(
    composing: Composing,
    t: Translator,
    lines: list[tuple[Delivery, Task]],
    zone: ZoneInfo,
    person: Person,
) -> Message:
    """Everything open for the person, a line each: what is missing, by when, and a way
    straight to it."""
    repos, reads, cohort = composing.repos, composing.reads, composing.cohort
    entries = await reads.calendar(repos, cohort.id)
    rows: list[list[Span]] = []
    choices: list[Option] = []
    for row, task in _shown(lines):
        number = row.theme_number or 0
        text = _line_text(t, task, number)
        closes = composing.features.deadline(entries, task, number)
        if closes is not None:
            text = t(
                "{what} (closes {when})", what=text, when=when_text(closes, None, zone, t.language)
            )
        spans = [Span(text)]
        if task is Task.quiz:
            label = t("Take the quiz of theme {number}", number=number)
            choices.append(Option(QuizAction(cohort.id, number).begin(), label))
        elif task is Task.survey:
            action = f"{surveys.PREFIX}{cohort.id}:{survey_key(number)}"
            label = t("Answer the survey after theme {number}", number=number)
            choices.append(Option(action, label))
        elif (where := await _digilog_of(reads, repos, cohort, number, person)) is not None:
            spans += [Span(" · "), Span(t("Go to the digilog"), ref=where)]
        rows.append(spans)
    build = MessageBuilder()
    if len(rows) == 1:
        build.para(*rows[0])
    else:
        build.para(t("Still open for you:"))
        build.bullets(tuple(spans) for spans in rows)
    if choices:
        build.choices(choices)
    build.note(
        t(
            "One such message a day at most. Too many? Write {command} to snooze them for a "
            "week or mute a kind.",
            command=command_on(composing.features, person.platform, t.language, ("nudges",)),
        )
    )
    return build.build()


async def reachable(
    repos: Repositories, cohort: Cohort, people_ids: list[int], task: Task, until: datetime | None
) -> list[int]:
    """Those of `people_ids` a nudge would really reach before `until`: not muted for this
    kind, not stopped, not snoozed past it, with an account Digilog can write to."""
    wanted = set(people_ids)
    return [
        m.person.id
        for m in await repos.people.members(cohort.id, Role.participant)
        if m.person.id in wanted
        and m.person.user_id is not None
        and m.person.unreachable_since is None
        and m.person.nudges_paused_at is None
        and task.value not in (m.person.muted_nudges or [])
        and not (
            until is not None
            and m.person.nudges_snoozed_until is not None
            and m.person.nudges_snoozed_until >= until
        )
    ]


# ---------------------------------------------------------------- the facilitators' week


def _summary_times(cohort: Cohort, entries: list[CalendarEntry]) -> list[datetime]:
    """The first working morning of each week the calendar spans, and of the week after."""
    if not entries:
        return []
    zone = zone_of(None, cohort)
    first = min(e.starts_at for e in entries).astimezone(zone).date()
    last = max(e.starts_at for e in entries).astimezone(zone).date() + timedelta(days=7)
    monday = first - timedelta(days=first.weekday())
    times = []
    while monday <= last:
        opens = datetime.combine(monday, DEFAULT_HOURS.start, zone)
        times.append(next_humane_time(opens, zone, DEFAULT_HOURS))
        monday += timedelta(days=7)
    return times


def _summary_moments(
    cohort: Cohort, programme: Programme, entries: list[CalendarEntry]
) -> list[datetime]:
    return _summary_times(cohort, entries)


async def _plan_summaries(
    repos: Repositories, cohort: Cohort, programme: Programme, now: datetime
) -> list[Planned]:
    """Each week, one message to each facilitator about who is far behind."""
    times = _summary_times(cohort, await repos.calendar.entries(cohort.id))
    current = [at for at in times if at <= now < at + SUMMARY_RELEVANCE]
    if not current:
        return []
    at = current[-1]
    if not await _behind(repos, SharedReads(), cohort, "en"):
        return []  # nothing to tell: no message (the list is looked for again next sweep)
    return [
        Planned(
            key=f"{ALERT_BEHIND}:c{cohort.id}:{at.astimezone(UTC):%G-W%V}:p{f.person.id}",
            cohort_id=cohort.id,
            kind=ALERT_BEHIND,
            due_at=at,
            relevant_until=at + SUMMARY_RELEVANCE,
            person_id=f.person.id,
        )
        for f in await repos.people.members(cohort.id, Role.facilitator)
    ]


async def _behind(
    repos: Repositories, reads: SharedReads, cohort: Cohort, language: str
) -> list[str]:
    """Who let their last few messages go unheeded: name (organisation), in `language`."""
    behind: list[str] = []
    candidates = set(await repos.deliveries.nudged_at_least(cohort.id, IGNORED_IN_A_ROW))
    if not candidates:
        return behind
    for member in await repos.people.members(cohort.id, Role.participant):
        if member.person.id not in candidates:
            continue
        last = await repos.deliveries.last_nudges(member.person.id, LOOK_BACK)
        if await _unheeded_in_a_row(repos, reads, cohort, last) >= IGNORED_IN_A_ROW:
            organisation = localise(member.organisation.name, language)
            behind.append(f"{member.person.display_name} ({organisation})")
    return behind


async def _far_behind(composing: Composing) -> Decision:
    """Who let their last few nudges go unheeded: a list of people the facilitator may see
    (names, not a figure about a group)."""
    repos, reads, cohort, delivery = (
        composing.repos,
        composing.reads,
        composing.cohort,
        composing.delivery,
    )
    facilitator = await repos.people.get(delivery.person_id or 0)
    if facilitator is None or facilitator.user_id is None:
        return Drop(N_("nobody to tell"))
    t = translator(facilitator.language or cohort.language)
    behind = await _behind(repos, reads, cohort, t.language)
    if not behind:
        return Drop(N_("nobody is far behind any longer"))
    message = (
        MessageBuilder()
        .heading(t("Far behind this week"))
        .para(
            t.plural(
                "{n} participant let the last {k} nudges go unheeded:",
                "{n} participants let the last {k} nudges go unheeded:",
                len(behind),
                k=IGNORED_IN_A_ROW,
            )
        )
        .bullets(behind)
        .note(
            t(
                "They still get one every other working day. {nudge} nudges a group now; "
                "{stop} stops someone's.",
                nudge=command_on(
                    composing.features,
                    facilitator.platform,
                    t.language,
                    ("nudge",),
                    f"2 {_said(t.language, 'post')} --org pitea",
                ),
                stop=command_on(
                    composing.features,
                    facilitator.platform,
                    t.language,
                    ("nudges", "stop"),
                    t("USER-ID"),
                ),
            )
        )
        .build()
    )
    return Send(Outgoing(address_of(facilitator), message))


async def _digilog_of(
    reads: SharedReads, repos: Repositories, cohort: Cohort, theme: int, person: Person
) -> Conversation | None:
    """The theme's thread in the cohort's channel on the person's platform."""
    if (person.platform, person.workspace) == (cohort.platform, cohort.workspace):
        root = await reads.thread(repos, cohort.id, theme)
        return cohort_channel(cohort).thread(root) if root else None
    run = await repos.themes.get(cohort.id, theme)
    return (
        await channels.thread_on(repos, cohort, run, person.platform, person.workspace)
        if run
        else None
    )


STEPS = (
    Step("nudge_post", "digilog_close", 2 * DAY_BEFORE, Audience.missing, Task.post),
    Step("nudge_reply", "digilog_close", 2 * DAY_BEFORE, Audience.missing, Task.reply),
    Step("nudge_quiz", "quiz_close", DAY_BEFORE, Audience.missing, Task.quiz),
    Step("nudge_survey", "survey_close", DAY_BEFORE, Audience.missing, Task.survey),
)

FEATURE = Feature(
    "nudges",
    N_("Reminders"),
    commands=(
        Command(
            ("nudges",),
            N_("nudges [snooze | mute KIND | unmute KIND | on]"),
            N_("Your nudges: snooze them for a week, mute a kind, or turn them on again."),
            Access.enrolled,
            settings,
            note="one's own",
            sv=("påminnelser",),
        ),
        Command(
            ("hours",),
            N_("hours [mon-fri 08-17]"),
            N_("Show or set the hours in which nudges may reach you."),
            Access.enrolled,
            hours,
            note="one's own",
            sv=("arbetstider",),
        ),
        Command(
            ("nudge",),
            N_("nudge <theme> post|reply|quiz [--org ORG]"),
            N_("Preview a nudge to those who have not done a step, then send it."),
            Access.facilitator,
            preview,
            options=("org", "in"),
            sv=("påminn",),
        ),
        Command(
            ("nudges", "resume"),
            N_("nudges resume <user-id>"),
            N_("Turn on nudges to someone after they were paused."),
            Access.facilitator,
            resume,
            sv=("påminnelser", "återuppta"),
        ),
        Command(
            ("nudges", "stop"),
            N_("nudges stop <user-id>"),
            N_("Stop nudges to someone (unheeded nudges only come less often)."),
            Access.facilitator,
            stop,
            sv=("påminnelser", "stoppa"),
        ),
    ),
    buttons=(
        ButtonKind(
            "nudge",
            Access.facilitator,
            "send a previewed nudge",
            confirm,
            "this cohort's; sent once",
        ),
    ),
    steps=STEPS,
    deliveries={
        "nudge_post": _nudge,
        "nudge_reply": _nudge,
        "nudge_quiz": _nudge,
        "nudge_survey": _nudge,
        AD_HOC: _nudge,
        ALERT_PAUSED: _alert,
        ALERT_UNREACHABLE: _alert,
        ALERT_BEHIND: _far_behind,
    },
    planners=(_plan_summaries,),
    moments=(_summary_moments,),
    labels={
        "nudge_post": N_("Nudges to post in the digilog"),
        "nudge_reply": N_("Nudges to reply in the digilog"),
        "nudge_quiz": N_("Nudges to finish the quiz"),
        "nudge_survey": N_("Nudges to answer the survey"),
        AD_HOC: N_("Nudges sent by a facilitator"),
        ALERT_PAUSED: N_("Alerts to facilitators"),
        ALERT_UNREACHABLE: N_("Alerts to facilitators"),
        ALERT_BEHIND: N_("Alerts to facilitators"),
    },
)
