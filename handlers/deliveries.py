"""What a delivery row says when its time comes, and whether it should go at all.

The sender calls `compose` inside the transaction that holds the claimed row. A
channel post may change state as it goes (a theme starts, a quiz opens or closes); a
nudge is checked against everything that makes it humane: still needed, still
relevant, not muted or snoozed, inside the person's working hours, under the weekly
cap, and not one too many after several went unheeded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from handlers import channels, labs, meetings, retention, surveys
from handlers.context import address_of, cohort_channel, programme_of, zone_of
from handlers.humane import WEEKLY_CAP, WorkingHours, cap_frees_at, next_humane_time
from handlers.i18n import Translator, translator
from handlers.labs import LAB_TOMORROW
from handlers.programme_file import Programme, localise
from handlers.progress import done_by
from handlers.quiz import QuizAction, quiz_announcement
from handlers.schedule import OUTAGE_DELAYED, OUTAGE_OVER, outage_notice, when_text, where_spans
from handlers.steps import AD_HOC, NUDGE_TASKS, Audience, DueStep, Task, deadline, step_of
from handlers.themes import RECEIPT_PREFIX, theme_post
from handlers.vocabulary import (
    Conversation,
    Message,
    MessageBuilder,
    Option,
    Outgoing,
    Span,
    ToConversation,
)
from storage.deliveries import Planned
from storage.models import CalendarEntry, Cohort, Delivery, Person, Role, ThemeRun
from storage.unit import Repositories

IGNORED_IN_A_ROW = 3
ALERT_PAUSED = "alert_paused"
ALERT_UNREACHABLE = "alert_unreachable"
MUTABLE = tuple(Task)  # what a person can mute: post, reply, quiz


@dataclass(frozen=True)
class Send:
    outgoing: Outgoing


@dataclass(frozen=True)
class Wait:
    until: datetime
    reason: str


@dataclass(frozen=True)
class Drop:
    reason: str


Decision = Send | Wait | Drop


@dataclass
class SharedReads:
    """Cohort-wide reads that the rows of one claimed batch share.

    A fan-out of 2,500 nudges would otherwise read the same cohort, calendar,
    programme and "who has posted" 2,500 times. A batch takes seconds, so someone
    who posts during it may still get that batch's nudge.
    """

    cohorts: dict[int, Cohort | None] = field(default_factory=dict)
    entries: dict[int, list[CalendarEntry]] = field(default_factory=dict)
    programmes: dict[str, Programme] = field(default_factory=dict)
    done: dict[tuple[int, Task, int], set[int]] = field(default_factory=dict)
    threads: dict[tuple[int, int], str | None] = field(default_factory=dict)

    async def cohort(self, repos: Repositories, cohort_id: int) -> Cohort | None:
        if cohort_id not in self.cohorts:
            self.cohorts[cohort_id] = await repos.cohorts.by_id(cohort_id)
        return self.cohorts[cohort_id]

    async def calendar(self, repos: Repositories, cohort_id: int) -> list[CalendarEntry]:
        if cohort_id not in self.entries:
            self.entries[cohort_id] = await repos.calendar.entries(cohort_id)
        return self.entries[cohort_id]

    async def programme(self, repos: Repositories, program_id: str) -> Programme:
        if program_id not in self.programmes:
            self.programmes[program_id] = await programme_of(repos, program_id)
        return self.programmes[program_id]

    async def done_by(
        self, repos: Repositories, cohort: Cohort, task: Task, theme: int
    ) -> set[int]:
        if (cohort.id, task, theme) not in self.done:
            self.done[cohort.id, task, theme] = await done_by(repos, cohort, task, theme)
        return self.done[cohort.id, task, theme]

    async def thread(self, repos: Repositories, cohort_id: int, theme: int) -> str | None:
        """The theme post's id: its thread is the digilog a nudge links to."""
        if (cohort_id, theme) not in self.threads:
            run = await repos.themes.get(cohort_id, theme)
            self.threads[cohort_id, theme] = run.post_message_id if run else None
        return self.threads[cohort_id, theme]


def task_of(delivery: Delivery) -> Task | None:
    """What a nudge asks for (an ad-hoc nudge says so in its detail)."""
    if delivery.kind == AD_HOC:
        return Task((delivery.detail or {}).get("task", Task.post))
    return NUDGE_TASKS.get(delivery.kind)


async def compose(
    repos: Repositories, delivery: Delivery, now: datetime, reads: SharedReads | None = None
) -> Decision:
    reads = reads or SharedReads()
    cohort = await reads.cohort(repos, delivery.cohort_id)
    if cohort is None:
        return Drop("the cohort is gone")
    entries = await reads.calendar(repos, cohort.id)
    entry_key = (delivery.detail or {}).get("entry")
    due: DueStep | None = None
    if entry_key is not None:
        due = step_of(entries, delivery.kind, entry_key)
        if due is None:
            return Drop("no longer on the calendar")
    relevant_until = due.relevant_until if due else delivery.relevant_until
    if relevant_until is not None and now >= relevant_until:
        return Drop("no longer relevant")
    programme = await reads.programme(repos, cohort.program_id)
    if delivery.kind == channels.RELAY:
        relayed = await channels.relayed(repos, delivery, now)
        if isinstance(relayed, datetime):
            return Wait(relayed, "the theme's post in that channel has not gone out yet")
        return Send(relayed)
    if delivery.kind in (ALERT_PAUSED, ALERT_UNREACHABLE):
        return await _alert(repos, cohort, delivery)
    if delivery.kind in (OUTAGE_DELAYED, OUTAGE_OVER):
        told = await outage_notice(repos, cohort, delivery)
        if isinstance(told, str):
            return Drop(told)
        facilitator = await repos.people.get(delivery.person_id or 0)
        assert facilitator is not None
        return Send(Outgoing(address_of(facilitator), told))
    if delivery.kind == retention.NOTICE:
        notice = await retention.notice(repos, cohort, delivery)
        return Drop("nobody to tell") if notice is None else Send(notice)
    if delivery.kind == LAB_TOMORROW and delivery.person_id is not None:
        key = str((delivery.detail or {}).get("session"))
        found = await labs.reminder(repos, cohort, programme, delivery.person_id, key)
        if isinstance(found, str):
            return Drop(found)
        person = await repos.people.get(delivery.person_id)
        assert person is not None and person.user_id is not None
        return Send(Outgoing(address_of(person), found))
    if due is not None and due.step.audience is Audience.channel:
        return await _channel_post(repos, cohort, programme, delivery, due, now)
    task = task_of(delivery)
    if task is None or delivery.person_id is None:
        return Drop(f"unknown kind {delivery.kind}")
    return await _nudge(repos, reads, cohort, programme, delivery, task, relevant_until, now)


# ---------------------------------------------------------------- channel posts


async def _channel_post(
    repos: Repositories,
    cohort: Cohort,
    programme: Programme,
    delivery: Delivery,
    due: DueStep,
    now: datetime,
) -> Decision:
    """A post in the cohort's channel; a state change it brings happens once, by this row.

    `applied` in the row's detail says this row made the change, so that its retry
    posts rather than mistaking the change for a facilitator's.
    """
    applied = bool((delivery.detail or {}).get("applied"))

    def apply() -> None:
        delivery.detail = {**(delivery.detail or {}), "applied": True}

    t = translator(cohort.language)
    number = due.entry.theme_number
    theme = programme.theme(number) if number else None
    run = await repos.themes.get(cohort.id, number) if number else None
    kind = due.step.kind
    if kind == "theme_start":
        assert theme is not None and number is not None
        if run is None and (run := await repos.themes.start(cohort.id, number, None, False)):
            apply()
        elif not applied or run is None or run.post_message_id is not None:
            return Drop("the theme had been started by hand")
        post = theme_post(theme, number, cohort.language, cohort.id)
        receipt = f"{RECEIPT_PREFIX}{run.id}"
        return await _everywhere(repos, cohort, delivery, now, post, receipt)
    if kind in ("workshop_tomorrow", "workshop_soon", "meeting_tomorrow"):
        return await _everywhere(repos, cohort, delivery, now, _reminder(t, cohort, due))
    if number is not None and run is None:
        return Drop(f"theme {number} has not started")
    if kind in ("survey_open", "survey_close", "assessment_open", "assessment_close"):
        # `assessment:start:open` names its round; a survey is its theme's.
        key = (
            surveys.survey_key(number)
            if number is not None
            else surveys.assessment_key(due.entry.key.split(":")[1])
        )
        if surveys.questionnaire(programme, key, t) is None:
            return Drop("the programme has no such survey")
        opening = kind.endswith("_open")
        if not applied:
            if opening and not await repos.surveys.open(cohort.id, key, now):
                return Drop("it had been opened by hand")
            if not opening and not await repos.surveys.close(cohort.id, key, now):
                return Drop("it was not open")
            apply()
        post = (surveys.announcement if opening else surveys.closing_note)(cohort, key, programme)
        return await _everywhere(repos, cohort, delivery, now, post)
    if run is None:
        return Drop(f"unknown kind {kind}")
    match kind:
        case "digilog_open":
            text = t("The digilog of theme {number} is open: reply in this thread.", number=number)
            return await _in_threads(repos, cohort, run, delivery, now, text)
        case "digilog_close":
            if run.digilog_closed_at is None:
                run.digilog_closed_at = now
            text = t(
                "The digilog of theme {number} is closed. What was said here is in the "
                "reflection bank.",
                number=number,
            )
            return await _in_threads(repos, cohort, run, delivery, now, text)
        case "quiz_open":
            if theme is None or theme.quiz is None:
                return Drop(f"theme {number} has no quiz")
            if run.quiz_opened_at is not None and not applied:
                return Drop("the quiz had been opened by hand")
            if not applied:
                await repos.themes.set_quiz_state(run, opened=now, closed=None)
                apply()
            post = quiz_announcement(cohort, theme, due.entry.theme_number or 0)
            return await _everywhere(repos, cohort, delivery, now, post)
        case "quiz_close":
            if not applied:
                if run.quiz_opened_at is None or run.quiz_closed_at is not None:
                    return Drop("the quiz was not open")
                await repos.themes.set_quiz_state(run, opened=run.quiz_opened_at, closed=now)
                apply()
            text = t("The quiz for theme {number} has closed.", number=number)
            post = MessageBuilder().para(text).build()
            return await _everywhere(repos, cohort, delivery, now, post)
    return Drop(f"unknown kind {kind}")


async def _everywhere(
    repos: Repositories,
    cohort: Cohort,
    delivery: Delivery,
    now: datetime,
    post: Message,
    receipt: str | None = None,
) -> Decision:
    """The post for the cohort's own channel; its other channels get it relayed."""
    await channels.mirror(repos, cohort, post, key=delivery.key, now=now, receipt=receipt)
    return Send(Outgoing(ToConversation(cohort_channel(cohort)), post, receipt=receipt))


async def _in_threads(
    repos: Repositories, cohort: Cohort, run: ThemeRun, delivery: Delivery, now: datetime, text: str
) -> Decision:
    if run.post_message_id is None:
        return Drop("the theme's post has no thread")
    note = MessageBuilder().para(text).build()
    await channels.mirror(repos, cohort, note, key=delivery.key, now=now, theme=run.theme_number)
    thread = cohort_channel(cohort).thread(run.post_message_id)
    return Send(Outgoing(ToConversation(thread), note))


def _reminder(t: Translator, cohort: Cohort, due: DueStep) -> Message:
    entry = due.entry
    when = when_text(entry.starts_at, entry.ends_at, zone_of(None, cohort))
    if entry.kind == "workshop":
        what = t("The workshop of theme {number}", number=entry.theme_number)
    elif entry.kind == "opening_meeting":
        what = t("The opening local meeting")
    else:
        what = t("The closing local meeting")
    lead = (
        t("{what} is tomorrow: {when}.", what=what, when=when)
        if due.step.kind != "workshop_soon"
        else t("{what} starts in an hour: {when}.", what=what, when=when)
    )
    build = MessageBuilder().para(Span(t("Reminder") + ": ", strong=True), Span(lead))
    if where := where_spans(t, entry.place, entry.link):
        build.para(*where)
    if entry.kind in ("opening_meeting", "closing_meeting"):
        kind = "needs" if entry.kind == "opening_meeting" else "plan"
        label = (
            t("Write your needs inventory") if kind == "needs" else t("Write your plan for change")
        )
        build.choices([Option(f"{meetings.PREFIX}{cohort.id}:{kind}", label)])
    return build.build()


# ---------------------------------------------------------------- nudges


async def _nudge(
    repos: Repositories,
    reads: SharedReads,
    cohort: Cohort,
    programme: Programme,
    delivery: Delivery,
    task: Task,
    relevant_until: datetime | None,
    now: datetime,
) -> Decision:
    assert delivery.person_id is not None and delivery.theme_number is not None
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
    if await _unheeded_in_a_row(repos, reads, cohort, person.id, last[:IGNORED_IN_A_ROW]):
        person.nudges_paused_at = now
        await _alert_facilitators(repos, cohort, person, now)
        return Drop(f"paused: {IGNORED_IN_A_ROW} nudges in a row went unheeded")
    t = translator(person.language or cohort.language)
    message = await _nudge_message(reads, repos, t, cohort, programme, delivery, task, zone, person)
    return Send(Outgoing(address_of(person), message))


async def _unheeded_in_a_row(
    repos: Repositories, reads: SharedReads, cohort: Cohort, person_id: int, last: list[Delivery]
) -> bool:
    if len(last) < IGNORED_IN_A_ROW:
        return False
    for nudge in last:
        task = task_of(nudge)
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
    if delivery.person_id is None or delivery.kind.startswith("alert_"):
        return
    person = await repos.people.get(delivery.person_id)
    cohort = await repos.cohorts.by_id(delivery.cohort_id)
    if person is None or cohort is None or person.unreachable_since is not None:
        return
    person.unreachable_since = now
    await _alert_facilitators(repos, cohort, person, now, ALERT_UNREACHABLE)


async def _alert(repos: Repositories, cohort: Cohort, delivery: Delivery) -> Decision:
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
    reads: SharedReads,
    repos: Repositories,
    t: Translator,
    cohort: Cohort,
    programme: Programme,
    delivery: Delivery,
    task: Task,
    zone: ZoneInfo,
    person: Person,
) -> Message:
    """What is missing, by when, and a way straight to it."""
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
    closes = deadline(await reads.calendar(repos, cohort.id), task, number)
    if closes is not None:
        build.para(t("It closes {when}.", when=when_text(closes, None, zone)))
    if task is Task.quiz:
        build.choices([Option(QuizAction(cohort.id, number).begin(), t("Take the quiz"))])
    elif task is Task.survey:
        action = f"{surveys.PREFIX}{cohort.id}:{surveys.survey_key(number)}"
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


# ---------------------------------------------------------------- outages


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
