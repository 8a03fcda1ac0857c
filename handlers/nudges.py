"""Nudges as people steer them: their own settings, and a facilitator's nudge to a segment."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from handlers import channels, surveys
from handlers.access import Access
from handlers.context import Args, Context, Refusal, address_of, cohort_channel, zone_of
from handlers.deliveries import Composing, Decision, Drop, Send, SharedReads, Wait
from handlers.formats import list_text, when_text
from handlers.humane import WEEKLY_CAP, WorkingHours, cap_frees_at, holiday_name, next_humane_time
from handlers.i18n import N_, Translator, translator
from handlers.people import find_organisation
from handlers.programme_file import localise
from handlers.progress import missing
from handlers.quiz import QuizAction
from handlers.registry import ButtonKind, Command, Feature, Registry
from handlers.steps import AD_HOC, CLOSING_GRACE, DAY_BEFORE, Audience, Step, Task, survey_key
from handlers.themes import theme_number
from handlers.vocabulary import Conversation, Message, MessageBuilder, Option, Outgoing, Span
from storage.deliveries import Planned
from storage.models import Cohort, Delivery, Person, Role
from storage.unit import Repositories

SNOOZE = timedelta(days=7)
IGNORED_IN_A_ROW = 3
ALERT_PAUSED = "alert_paused"
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
        raise Refusal(t("Write `nudges`, `nudges snooze`, `nudges mute quiz` or `nudges on`."))
    return [context.reply(_settings_message(context, person).build())]


def _settings_message(context: Context, person: Person) -> MessageBuilder:
    t = context.t
    now = context.now()
    hours = WorkingHours.stored(person.working_hours)
    state = t("on")
    if person.nudges_paused_at is not None:
        state = t("paused after several went unheeded; `nudges on` turns them on")
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
    return [
        context.reply(context.t("Nudges to {name} are on again.", name=member.person.display_name))
    ]


# ---------------------------------------------------------------- a facilitator's nudge


def _task(context: Context, args: Args) -> Task:
    words = [SWEDISH_WORDS.get(word.lower(), word.lower()) for word in args.words]
    if len(words) < 2 or words[1] not in Task.__members__:
        raise Refusal(
            context.t(
                "Write it like `nudge 2 post --org pitea`: a theme, then post, reply or quiz."
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


def _task_of(features: Registry, delivery: Delivery) -> Task | None:
    """What a nudge asks for (an ad-hoc nudge says so in its detail)."""
    if delivery.kind == AD_HOC:
        return Task((delivery.detail or {}).get("task", Task.post))
    return features.nudge_task(delivery.kind)


# Long on purpose: each condition of a humane nudge, in the order they are weighed.
async def _nudge(composing: Composing) -> Decision:  # noqa: C901
    """A nudge to one participant: still needed, still relevant, not muted or snoozed,
    inside their working hours, under the weekly cap, and not one too many after several
    went unheeded."""
    repos, reads, cohort, delivery = (
        composing.repos,
        composing.reads,
        composing.cohort,
        composing.delivery,
    )
    relevant_until, now = composing.relevant_until, composing.now
    task = _task_of(composing.features, delivery)
    if task is None or delivery.person_id is None or delivery.theme_number is None:
        return Drop(f"unknown kind {delivery.kind}")
    member = await repos.people.member(cohort.id, delivery.person_id)
    if member is None or member.membership.role != Role.participant:
        return Drop("no longer a participant")
    person = member.person
    if person.user_id is None:
        return Drop("the person has not used Digilog yet, so has no account to write to")
    theme = delivery.theme_number
    if person.id in await reads.done_by(repos, cohort, task, theme):
        return Drop("already done")
    if person.nudges_paused_at is not None:
        return Drop("nudges to this person are paused")
    if person.unreachable_since is not None:
        return Drop("the platform cannot deliver to this person until they use Digilog")
    if task.value in (person.muted_nudges or []):
        return Drop(f"the person muted {task.value} nudges")

    def later(when: datetime, reason: str) -> Decision:
        if relevant_until is not None and when >= relevant_until:
            return Drop(reason + " until it was too late")
        return Wait(when, reason)

    if person.nudges_snoozed_until is not None and person.nudges_snoozed_until > now:
        return later(person.nudges_snoozed_until, "snoozed")
    zone = zone_of(person, cohort)
    hours = WorkingHours.stored(person.working_hours)
    opens = next_humane_time(now, zone, hours)
    if opens > now:
        return later(opens, "outside working hours")
    last = await repos.deliveries.last_nudges(person.id, max(WEEKLY_CAP, IGNORED_IN_A_ROW))
    frees = cap_frees_at([n.sent_at for n in last if n.sent_at is not None], now)
    if frees is not None:
        return later(next_humane_time(frees, zone, hours), "weekly cap reached")
    unheeded = last[:IGNORED_IN_A_ROW]
    if await _unheeded_in_a_row(composing.features, repos, reads, cohort, person.id, unheeded):
        person.nudges_paused_at = now
        await _alert_facilitators(repos, cohort, person, now)
        return Drop(f"paused: {IGNORED_IN_A_ROW} nudges in a row went unheeded")
    t = translator(person.language or cohort.language)
    message = await _nudge_message(composing, t, task, zone, person)
    return Send(Outgoing(address_of(person), message))


async def _unheeded_in_a_row(
    features: Registry,
    repos: Repositories,
    reads: SharedReads,
    cohort: Cohort,
    person_id: int,
    last: list[Delivery],
) -> bool:
    if len(last) < IGNORED_IN_A_ROW:
        return False
    for nudge in last:
        task = _task_of(features, nudge)
        if task is None or nudge.theme_number is None:
            return False
        if person_id in await reads.done_by(repos, cohort, task, nudge.theme_number):
            return False
    return True


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
    if delivery.person_id is None or delivery.kind in (ALERT_PAUSED, ALERT_UNREACHABLE):
        return
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
        return Drop("nobody to tell")
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
                "They can turn them on again with `nudges on`, "
                "and you with `nudges resume {user}`.",
                user=about.user_id or about.display_name,
            )
        )
        .build()
    )
    to = address_of(facilitator)
    return Send(Outgoing(to, message))


async def _nudge_message(
    composing: Composing, t: Translator, task: Task, zone: ZoneInfo, person: Person
) -> Message:
    """What is missing, by when, and a way straight to it."""
    repos, reads, cohort = composing.repos, composing.reads, composing.cohort
    programme, delivery = composing.programme, composing.delivery
    number = delivery.theme_number or 0
    theme = programme.theme(number)
    title = localise(theme.title, t.language) if theme else str(number)
    build = MessageBuilder()
    if task is Task.post:
        build.para(
            t(
                "You have not posted in the digilog of theme {number}, “{title}”, yet.",
                number=number,
                title=title,
            )
        )
    elif task is Task.reply:
        build.para(
            t(
                "You have posted in the digilog of theme {number}, “{title}”: now reply to "
                "someone else's post.",
                number=number,
                title=title,
            )
        )
    elif task is Task.quiz:
        build.para(
            t(
                "You have not finished the quiz of theme {number}, “{title}”.",
                number=number,
                title=title,
            )
        )
    else:
        build.para(
            t(
                "You have not answered the survey after theme {number}, “{title}”, yet: "
                "it takes a minute.",
                number=number,
                title=title,
            )
        )
    closes = composing.features.deadline(await reads.calendar(repos, cohort.id), task, number)
    if closes is not None:
        build.para(t("It closes {when}.", when=when_text(closes, None, zone, t.language)))
    if task is Task.quiz:
        build.choices([Option(QuizAction(cohort.id, number).begin(), t("Take the quiz"))])
    elif task is Task.survey:
        action = f"{surveys.PREFIX}{cohort.id}:{survey_key(number)}"
        build.choices([Option(action, t("Answer the survey"))])
    elif (where := await _digilog_of(reads, repos, cohort, number, person)) is not None:
        build.para(Span(t("Go to the digilog"), ref=where))
    build.note(t("Too many nudges? Write `nudges` to snooze them for a week or mute a kind."))
    return build.build()


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
    steps=(
        Step("nudge_post", "digilog_close", 2 * DAY_BEFORE, Audience.missing, Task.post),
        Step("nudge_reply", "digilog_close", 2 * DAY_BEFORE, Audience.missing, Task.reply),
        Step("nudge_quiz", "quiz_close", DAY_BEFORE, Audience.missing, Task.quiz),
        Step("nudge_survey", "survey_close", DAY_BEFORE, Audience.missing, Task.survey),
    ),
    deliveries={
        "nudge_post": _nudge,
        "nudge_reply": _nudge,
        "nudge_quiz": _nudge,
        "nudge_survey": _nudge,
        AD_HOC: _nudge,
        ALERT_PAUSED: _alert,
        ALERT_UNREACHABLE: _alert,
    },
)
