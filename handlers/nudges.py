"""Nudges as people steer them: their own settings, and a facilitator's nudge to a segment."""

from __future__ import annotations

import secrets
from datetime import timedelta

from handlers.context import Args, Context, Refusal
from handlers.deliveries import MUTABLE
from handlers.humane import WorkingHours, holiday_name
from handlers.i18n import Translator
from handlers.people import find_organisation
from handlers.progress import missing
from handlers.steps import AD_HOC, CLOSING_GRACE, Task, deadline
from handlers.themes import theme_number
from handlers.vocabulary import MessageBuilder, Option, Outgoing
from storage.deliveries import Planned
from storage.models import Person

SNOOZE = timedelta(days=7)
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
    words = args.words
    action = words[0].lower() if words else ""
    person = _person(context)
    now = context.now()
    if action == "snooze":
        person.nudges_snoozed_until = now + SNOOZE
    elif action in ("mute", "unmute"):
        kind = words[1].lower() if len(words) > 1 else ""
        if kind not in MUTABLE:
            raise Refusal(
                t("Mute which kind? One of: {kinds}", kinds=", ".join(k.value for k in MUTABLE))
            )
        muted = set(person.muted_nudges or [])
        muted = muted | {kind} if action == "mute" else muted - {kind}
        person.muted_nudges = sorted(muted)
    elif action == "on":
        person.nudges_snoozed_until = None
        person.nudges_paused_at = None
        person.muted_nudges = []
    elif action:
        raise Refusal(t("Write `nudges`, `nudges snooze`, `nudges mute quiz` or `nudges on`."))
    await context.repos.session.flush()
    return [context.reply(_settings_message(context, person).build())]


def _settings_message(context: Context, person: Person) -> MessageBuilder:
    t = context.t
    now = context.now()
    hours = WorkingHours.stored(person.working_hours)
    state = t("on")
    if person.nudges_paused_at is not None:
        state = t("paused after several went unheeded; `nudges on` turns them on")
    elif person.nudges_snoozed_until is not None and person.nudges_snoozed_until > now:
        until = person.nudges_snoozed_until.astimezone(context.zone).strftime("%Y-%m-%d %H:%M")
        state = t("snoozed until {when}", when=until)
    muted = ", ".join(person.muted_nudges or []) or t("none")
    return (
        MessageBuilder()
        .heading(t("Your nudges"))
        .facts(
            [
                (t("Nudges"), state),
                (t("Muted kinds"), muted),
                (t("Working hours"), f"{hours.format()} ({context.zone.key})"),
            ]
        )
        .note(
            t(
                "Nudges come only in your working hours, never on a public holiday, and at "
                "most 3 a week. `nudges snooze` pauses them for a week; `nudges mute quiz` "
                "(or post, reply) mutes a kind; `hours mon-fri 08-17` sets your hours."
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
                    "I could not read “{hours}”. Write it like `08-17`, `mon-thu 8:30-16` "
                    "or `mon,wed,fri 9-15`.",
                    hours=args.rest.strip(),
                )
            ) from None
        await context.repos.session.flush()
    return [context.reply(_settings_message(context, person).build())]


async def resume(context: Context, args: Args) -> list[Outgoing]:
    """nudges resume USER: a facilitator turns on nudges that were paused."""
    words = args.words
    context.require_facilitator()
    cohort = context.require_cohort()
    if not words:
        raise Refusal(context.t("Missing {what}.", what=context.t("user id")))
    wanted = words[0].lstrip("@")
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
    member.person.nudges_paused_at = None
    await context.repos.session.flush()
    return [
        context.reply(context.t("Nudges to {name} are on again.", name=member.person.display_name))
    ]


# ---------------------------------------------------------------- a facilitator's nudge


def _task(context: Context, args: Args) -> Task:
    words = args.words
    if len(words) < 2 or words[1].lower() not in Task.__members__:
        raise Refusal(
            context.t(
                "Write it like `nudge 2 post --org pitea`: a theme, then post, reply or quiz."
            )
        )
    return Task(words[1].lower())


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
    closes = deadline(await context.repos.calendar.entries(cohort.id), task, number)
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
