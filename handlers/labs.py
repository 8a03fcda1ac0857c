"""The lab catalogue: browse labs and their sessions, sign up or cancel (a full session
has a waitlist), get a session into one's own calendar, and see who is coming."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from handlers.core.access import Access
from handlers.core.context import (
    Args,
    Context,
    Refusal,
    address_of,
    command_on,
    programme_of,
    zone_of,
)
from handlers.core.deliveries import Composing, Decision, Drop, Send
from handlers.core.formats import clock_text, day_text, list_text, when_text, where_spans
from handlers.core.humane import DEFAULT_HOURS, working_moment_before
from handlers.core.i18n import N_, translator
from handlers.core.ics import ics
from handlers.core.programme_file import Lab, LabSession, Programme, localise
from handlers.core.registry import ButtonKind, Command, Feature
from handlers.core.steps import WORKPLACE_ZONE
from handlers.core.vocabulary import (
    FileMessage,
    Message,
    MessageBuilder,
    Option,
    Outgoing,
    Span,
    ToActor,
)
from storage.deliveries import Planned
from storage.models import CalendarEntry, Cohort, Person, SignupState
from storage.unit import Repositories

CATEGORY_LABELS = {
    "leading-digitally": N_("Leading digitally and in a digital age"),
    "development-methods": N_("Methods for leading digital development work"),
}


def session_key(lab: Lab, session: LabSession) -> str:
    """Stable when a programme file reorders its sessions: the lab and the start time."""
    return f"{lab.id}@{session.start.astimezone(UTC):%Y-%m-%dT%H:%MZ}"


@dataclass(frozen=True)
class Chosen:
    lab: Lab
    number: int  # 1-based, as shown
    session: LabSession

    @property
    def key(self) -> str:
        return session_key(self.lab, self.session)


def sessions_by_key(programme: Programme) -> dict[str, Chosen]:
    return {
        session_key(lab, session): Chosen(lab, n, session)
        for lab in programme.labs
        for n, session in enumerate(lab.sessions, start=1)
    }


# Beside each name in a session that has begun: marked as attended, or not (yet).
PRESENT, ABSENT = "✅", "⬜"

LAB_TOMORROW = "lab_tomorrow"
REMINDER_AHEAD = timedelta(days=1)


async def not_begun_sessions(
    repos: Repositories, person_id: int, now: datetime
) -> set[tuple[int, str]]:
    """The sessions (cohort, key) the person holds a place in that have not begun: the only
    ones whose waitlist moves when they leave. A session no longer in the programme moves
    none."""
    found: set[tuple[int, str]] = set()
    for cohort in await repos.cohorts.of_person(person_id):
        held = await repos.labs.of_person(cohort.id, person_id)
        if not held:
            continue
        sessions = sessions_by_key(await programme_of(repos, cohort.program_id))
        found |= {
            (cohort.id, key)
            for key in held
            if key in sessions and sessions[key].session.start > now
        }
    return found


def reminder_at(session: LabSession) -> datetime:
    """A day ahead, in a Swedish workplace's working time (the working day before, if the
    day ahead is a weekend or a holiday), as the channel's reminders go."""
    return working_moment_before(session.start - REMINDER_AHEAD, WORKPLACE_ZONE, DEFAULT_HOURS)


def reminders_due(programme: Programme, now: datetime) -> list[Chosen]:
    """Sessions whose reminder is due and that have not begun."""
    return [
        chosen
        for chosen in sessions_by_key(programme).values()
        if reminder_at(chosen.session) <= now < chosen.session.start
    ]


async def reminder(
    repos: Repositories,
    cohort: Cohort,
    programme: Programme,
    person_id: int,
    key: str,
    now: datetime,
) -> Message | str:
    """The reminder for someone signed up, or why there is none (a reason to skip)."""
    chosen = sessions_by_key(programme).get(key)
    if chosen is None:
        return N_("the session is no longer in the programme")
    if await repos.labs.state(cohort.id, key, person_id) is not SignupState.signed_up:
        return N_("no longer signed up")
    person = await repos.people.get(person_id)
    if person is None or person.user_id is None:
        return N_("nobody to remind")
    t = translator(person.language or cohort.language)
    session, zone = chosen.session, zone_of(person, cohort)
    when = when_text(session.start, session.end, zone, t.language)
    what = t("Lab: {title}", title=localise(chosen.lab.title, t.language))
    tomorrow = (now.astimezone(zone) + timedelta(days=1)).date()
    if session.start.astimezone(zone).date() == tomorrow:
        lead = t("{what} is tomorrow: {when}.", what=what, when=when)
    else:  # sent on the working day before a weekend or a holiday
        lead = t("{what} is coming up: {when}.", what=what, when=when)
    build = MessageBuilder().para(Span(t("Reminder") + ": ", strong=True), Span(lead))
    link = str(session.link) if session.link else None
    if where := where_spans(t, session.place, link):
        build.para(*where)
    build.note(
        t(
            "Cannot come? {command} gives your seat to the next in line.",
            command=command_on(
                FEATURE,
                person.platform,
                t.language,
                ("lab", "cancel"),
                f"{chosen.lab.id} {chosen.number}",
            ),
        )
    )
    return build.build()


def _choose_session(
    context: Context, programme: Programme, words: list[str]
) -> tuple[Chosen, list[str]]:
    """The lab and session the words begin with, and the words after them. The session
    number may be left out when the lab has only one."""
    t = context.t
    if not words:
        raise Refusal(t("Which lab? Write {command} to see them.", command=context.command("labs")))
    lab = next((lab for lab in programme.labs if lab.id == words[0].lower()), None)
    if lab is None:
        raise Refusal(
            t(
                "There is no lab {lab}. The labs are: {labs}",
                lab=words[0],
                labs=list_text((lab.id for lab in programme.labs), t.language),
            )
        )
    numbered = len(words) > 1 and words[1].isdigit()
    if not numbered and len(lab.sessions) > 1:
        raise Refusal(
            t(
                "Which session of {lab}? Give its number, 1–{last}.",
                lab=context.local(lab.title),
                last=len(lab.sessions),
            )
        )
    number = int(words[1]) if numbered else 1
    if not 1 <= number <= len(lab.sessions):
        raise Refusal(
            t("{lab} has sessions 1–{last}.", lab=context.local(lab.title), last=len(lab.sessions))
        )
    return Chosen(lab, number, lab.sessions[number - 1]), words[2 if numbered else 1 :]


def _choose(context: Context, programme: Programme, words: list[str]) -> Chosen:
    """A lab and session only: a word where the number belongs is a typo (words after
    the number are ignored, as they always were)."""
    chosen, rest = _choose_session(context, programme, words)
    if rest and not words[1].isdigit():
        last = len(chosen.lab.sessions)
        raise Refusal(
            context.t(
                "{lab} has sessions 1–{last}.", lab=context.local(chosen.lab.title), last=last
            )
        )
    return chosen


def _when(context: Context, session: LabSession) -> str:
    return when_text(session.start, session.end, context.zone, context.language)


def button_label(context: Context, action: str, lab: Lab, session: LabSession) -> str:
    """What a lab's button does, by the lab's title and the session's day and time (not
    its id: "Anmäl mig: Hantera information, tis 16 feb. 13:00")."""
    starts = session.start.astimezone(context.zone)
    when = f"{day_text(starts, context.language)} {clock_text(starts, context.language)}"
    return context.t(action, lab=context.local(lab.title), when=when)


async def catalogue(context: Context, args: Args) -> list[Outgoing]:
    """labs [--mine]: the labs by category, each session with its free seats."""
    t = context.t
    member = context.require_member()
    cohort = context.require_cohort()
    programme = await context.programme()
    if not programme.labs:
        raise Refusal(t("This programme has no labs."))
    counts = await context.repos.labs.counts(cohort.id)
    mine = await context.repos.labs.of_person(cohort.id, member.person.id)
    now = context.now()
    build = MessageBuilder().heading(t("Labs"))
    options: list[Option] = []
    for category, label in CATEGORY_LABELS.items():
        labs = [lab for lab in programme.labs if lab.category == category]
        if "mine" in args.flags:
            labs = [lab for lab in labs if any(session_key(lab, s) in mine for s in lab.sessions)]
        if not labs:
            continue
        build.para(Span(t(label), strong=True))
        for lab in labs:
            build.para(Span(context.local(lab.title), strong=True), Span(f" ({lab.id})"))
            build.para(context.local(lab.description))
            rows = []
            for n, session in enumerate(lab.sessions, start=1):
                key = session_key(lab, session)
                taken = counts.get(key, {}).get(SignupState.signed_up, 0)
                free = max(session.capacity - taken, 0)
                row = [Span(f"{n}. {_when(context, session)}  ", strong=True)]
                if session.place:
                    row.append(Span(context.local(session.place) + " · "))
                row.append(
                    Span(t("{free} of {seats} seats free", free=free, seats=session.capacity))
                )
                state = mine.get(key)
                if state is SignupState.signed_up:
                    row.append(Span(" · " + t("you have a seat")))
                elif state is SignupState.waiting:
                    row.append(Span(" · " + t("you are on the waitlist")))
                elif session.start > now:
                    options.append(
                        Option(
                            f"lab:{cohort.id}:signup:{lab.id}:{n}",
                            button_label(context, N_("Sign up: {lab}, {when}"), lab, session),
                        )
                    )
                rows.append(tuple(row))
            build.bullets(rows)
    lab_n = t("LAB N")
    build.note(
        t(
            "{signup} takes a seat; {cancel} gives it up.",
            signup=context.command("lab", "signup", then=lab_n),
            cancel=context.command("lab", "cancel", then=lab_n),
        )
    )
    if options:
        build.choices(options)
    return [context.reply(build.build())]


async def sign_up(context: Context, args: Args) -> list[Outgoing]:
    """lab signup LAB [N]: a seat, or a place on the waitlist when the session is full."""
    t = context.t
    member = context.require_member()
    cohort = context.require_cohort()
    chosen = _choose(context, await context.programme(), args.words)
    if chosen.session.start <= context.now():
        raise Refusal(t("That session has already taken place."))
    state, new = await context.repos.labs.sign_up(
        cohort.id, chosen.key, chosen.session.capacity, member.person.id
    )
    title, when = context.local(chosen.lab.title), _when(context, chosen.session)
    if state is SignupState.waiting:
        waiting = await context.repos.labs.people(cohort.id, chosen.key, SignupState.waiting)
        place = 1 + [p.id for p in waiting].index(member.person.id)
        text = t(
            "{lab} on {when} is full. You are number {place} on the waitlist; if a seat "
            "frees up, it is yours and I will tell you.",
            lab=title,
            when=when,
            place=place,
        )
        return [context.reply(text)]
    lead = (
        t("You have a seat at {lab} on {when}.", lab=title, when=when)
        if new
        else t("You already have a seat at {lab} on {when}.", lab=title, when=when)
    )
    message = (
        MessageBuilder()
        .para(lead)
        .choices(
            [
                Option(
                    f"lab:{cohort.id}:ics:{chosen.lab.id}:{chosen.number}",
                    t("Add to my calendar"),
                )
            ]
        )
        .build()
    )
    return [context.reply(message)]


async def cancel(context: Context, args: Args) -> list[Outgoing]:
    """lab cancel LAB [N]: give up a seat (the first on the waitlist gets it) or a place."""
    t = context.t
    member = context.require_member()
    cohort = context.require_cohort()
    chosen = _choose(context, await context.programme(), args.words)
    title, when = context.local(chosen.lab.title), _when(context, chosen.session)
    if chosen.session.start <= context.now():
        # Its seats and waitlist are its history now: who had a seat is who could attend.
        raise Refusal(
            t(
                "{lab} on {when} has already begun; it can no longer be cancelled.",
                lab=title,
                when=when,
            )
        )
    done = await context.repos.labs.cancel(cohort.id, chosen.key, member.person.id)
    if done.was is None:
        raise Refusal(t("You are not signed up for {lab} on {when}.", lab=title, when=when))
    replies = [
        context.reply(t("You are no longer signed up for {lab} on {when}.", lab=title, when=when))
    ]
    if done.promoted is not None and done.promoted.user_id is not None:
        replies.append(_seat_freed(cohort, chosen, done.promoted, context))
    return replies


def _seat_freed(cohort: Cohort, chosen: Chosen, promoted: Person, context: Context) -> Outgoing:
    """The message to the first on the waitlist, in their own language."""
    t = translator(promoted.language or cohort.language)
    note = (
        MessageBuilder()
        .para(
            t(
                "A seat freed up: you now have a seat at {lab} on {when}.",
                lab=localise(chosen.lab.title, t.language),
                when=when_text(
                    chosen.session.start, chosen.session.end, zone_of(promoted, cohort), t.language
                ),
            )
        )
        .choices(
            [
                Option(
                    f"lab:{cohort.id}:ics:{chosen.lab.id}:{chosen.number}", t("Add to my calendar")
                )
            ]
        )
        .build()
    )
    return Outgoing(address_of(promoted), note)


async def attendees(context: Context, args: Args) -> list[Outgoing]:
    """lab attendees LAB [N]: who has a seat, who waits, how many seats are free, and
    once the session has begun, who attended."""
    context.require_facilitator()
    cohort = context.require_cohort()
    chosen = _choose(context, await context.programme(), args.words)
    return [context.reply(await _attendees(context, cohort, chosen, MessageBuilder()))]


async def _attendees(
    context: Context, cohort: Cohort, chosen: Chosen, build: MessageBuilder
) -> Message:
    t = context.t
    seated = await context.repos.labs.people(cohort.id, chosen.key, SignupState.signed_up)
    waiting = await context.repos.labs.people(cohort.id, chosen.key, SignupState.waiting)
    build.heading(f"{context.local(chosen.lab.title)} · {_when(context, chosen.session)}")
    build.facts(
        [
            (t("Seats"), str(chosen.session.capacity)),
            (t("Signed up"), str(len(seated))),
            (t("Free"), str(max(chosen.session.capacity - len(seated), 0))),
            (t("Waitlist"), str(len(waiting))),
        ]
    )
    if chosen.session.start <= context.now():
        present = await context.repos.labs.attended(cohort.id, chosen.key)
        build.para(
            t(
                "{attended} of {seated} attended",
                attended=sum(p.id in present for p in seated),
                seated=len(seated),
            )
        )
        build.bullets(f"{PRESENT if p.id in present else ABSENT} {p.display_name}" for p in seated)
    elif seated:
        build.bullets(p.display_name for p in seated)
    if waiting:
        build.para(Span(t("Waitlist"), strong=True))
        build.bullets(f"{n}. {p.display_name}" for n, p in enumerate(waiting, start=1))
    return build.build()


async def attended(context: Context, args: Args) -> list[Outgoing]:
    """lab attended LAB [N] USER...: these people came to the session."""
    return await _mark(context, args, present=True)


async def absent(context: Context, args: Args) -> list[Outgoing]:
    """lab absent LAB [N] USER...: undo a mark made by mistake."""
    return await _mark(context, args, present=False)


async def _mark(context: Context, args: Args, *, present: bool) -> list[Outgoing]:
    """Every name is checked before anything is written: one bad id changes nothing."""
    t = context.t
    context.require_facilitator()
    cohort = context.require_cohort()
    chosen, users = _choose_session(context, await context.programme(), args.words)
    title, when = context.local(chosen.lab.title), _when(context, chosen.session)
    if not users:
        raise Refusal(
            t(
                "Name the people by user id, like {example}.",
                example=context.command(
                    "lab", "attended", then=f"{chosen.lab.id} {chosen.number} anna bjorn"
                ),
            )
        )
    if chosen.session.start > context.now():
        raise Refusal(t("{lab} on {when} has not taken place yet.", lab=title, when=when))
    members = {m.person.user_id: m.person for m in await context.repos.people.members(cohort.id)}
    seated = {
        p.id for p in await context.repos.labs.people(cohort.id, chosen.key, SignupState.signed_up)
    }
    problems, people = [], []
    for user in dict.fromkeys(u.lstrip("@") for u in users):  # each once, in the order given
        person = members.get(user)
        if person is None:
            problems.append(t("{user} is not in this cohort.", user=user))
        elif person.id not in seated:
            problems.append(
                t(
                    "{name} has no seat at {lab} on {when}.",
                    name=person.display_name,
                    lab=title,
                    when=when,
                )
            )
        else:
            people.append(person)
    if problems:
        raise Refusal(MessageBuilder().bullets(problems).note(t("Nothing was changed.")).build())
    await context.repos.labs.set_attended(
        cohort.id, chosen.key, [p.id for p in people], context.now() if present else None
    )
    names = list_text((p.display_name for p in people), t.language)
    lead = (
        t("Marked as attended: {names}.", names=names)
        if present
        else t("No longer marked as attended: {names}.", names=names)
    )
    return [context.reply(await _attendees(context, cohort, chosen, MessageBuilder().para(lead)))]


async def calendar_file(context: Context, args: Args) -> list[Outgoing]:
    """lab ics LAB [N]: the session as an .ics file for one's own calendar."""
    context.require_member()
    chosen = _choose(context, await context.programme(), args.words)
    return [Outgoing(ToActor(), session_ics(context, chosen))]


def session_ics(context: Context, chosen: Chosen) -> FileMessage:
    t = context.t
    session = chosen.session
    content = ics(
        f"{chosen.key}-{context.require_cohort().id}",
        session.start,
        session.end,
        t("Lab: {title}", title=context.local(chosen.lab.title)),
        stamped=context.now(),
        description=context.local(chosen.lab.description),
        location=context.local(session.place) if session.place else None,
        url=str(session.link) if session.link else None,
    )
    return FileMessage(
        filename=f"{chosen.lab.id}-{chosen.number}.ics",
        content=content,
        title=context.local(chosen.lab.title),
        comment=t("Open the file to add the session to your calendar."),
    )


async def choice(context: Context, action_id: str) -> list[Outgoing]:
    """`lab:<cohort>:signup|ics|cancel:<lab>:<n>`: the catalogue, a confirmation, the home page."""
    # The cohort in the id is checked before this runs (`same_cohort` below).
    _, _, verb, lab, number = [*action_id.split(":"), "", "", "", ""][:5]
    args = Args(f"{lab} {number}", set(), {})
    if verb == "signup":
        return await sign_up(context, args)
    if verb == "ics":
        return await calendar_file(context, args)
    if verb == "cancel":
        return await cancel(context, args)
    raise Refusal(context.t("That button no longer does anything."))


async def _compose_reminder(composing: Composing) -> Decision:
    """A day before a lab session, to each person with a seat."""
    repos, cohort, delivery = composing.repos, composing.cohort, composing.delivery
    if delivery.person_id is None:
        return Drop(f"unknown kind {delivery.kind}")
    key = str((delivery.detail or {}).get("session"))
    found = await reminder(
        repos, cohort, composing.programme, delivery.person_id, key, composing.now
    )
    if isinstance(found, str):
        return Drop(found)
    person = await repos.people.get(delivery.person_id)
    assert person is not None and person.user_id is not None
    return Send(Outgoing(address_of(person), found))


async def _plan_reminders(
    repos: Repositories, cohort: Cohort, programme: Programme, now: datetime
) -> list[Planned]:
    """A reminder row for everyone with a seat at a session that is a day away; a session
    is planned again only when who has a seat changed (schedules/plan.py's markers)."""
    planned: list[Planned] = []
    marks: dict[str, str] | None = None
    for chosen in reminders_due(programme, now):
        signed_up = await repos.labs.people(cohort.id, chosen.key, SignupState.signed_up)
        marks = marks if marks is not None else await repos.deliveries.planned_marks(cohort.id)
        step, mark = f"{LAB_TOMORROW}:{chosen.key}", _ids_mark([p.id for p in signed_up])
        if marks.get(step) == mark:
            continue
        await repos.deliveries.mark_planned(cohort.id, step, mark, now)
        planned += [
            Planned(
                key=f"{LAB_TOMORROW}:c{cohort.id}:{chosen.key}:p{person.id}",
                cohort_id=cohort.id,
                kind=LAB_TOMORROW,
                due_at=reminder_at(chosen.session),
                relevant_until=chosen.session.start,
                person_id=person.id,
                detail={"session": chosen.key},
            )
            for person in signed_up
        ]
    return planned


def _ids_mark(ids: list[int]) -> str:
    return hashlib.sha256(",".join(map(str, sorted(ids))).encode()).hexdigest()[:32]


def _reminder_moments(
    cohort: Cohort, programme: Programme, entries: list[CalendarEntry]
) -> list[datetime]:
    """When each session's reminder falls due (what `_plan_reminders` looks for)."""
    return [reminder_at(c.session) for c in sessions_by_key(programme).values()]


FEATURE = Feature(
    "labs",
    N_("Labs"),
    commands=(
        Command(
            ("labs",),
            N_("labs [--mine]"),
            N_("The lab catalogue: sessions, free seats, and your sign-ups."),
            Access.member,
            catalogue,
            flags=("mine",),
            sv=("labb",),
        ),
        Command(
            ("lab", "signup"),
            N_("lab signup <lab> [session]"),
            N_("Take a seat at a lab session (or a place on its waitlist)."),
            Access.member,
            sign_up,
            sv=("labb", "anmäl"),
        ),
        Command(
            ("lab", "cancel"),
            N_("lab cancel <lab> [session]"),
            N_("Give up your seat or waitlist place; the next in line gets it."),
            Access.member,
            cancel,
            sv=("labb", "avboka"),
        ),
        Command(
            ("lab", "ics"),
            N_("lab ics <lab> [session]"),
            N_("The session as a calendar file (.ics)."),
            Access.member,
            calendar_file,
            sv=("labb", "kalender"),
        ),
        Command(
            ("lab", "attendees"),
            N_("lab attendees <lab> [session]"),
            N_("Who has a seat at a lab session, who waits, and how many seats are free."),
            Access.facilitator,
            attendees,
            sv=("labb", "deltagare"),
        ),
        Command(
            ("lab", "attended"),
            N_("lab attended <lab> [session] <user-id> [<user-id> ...]"),
            N_("Mark who attended a lab session that has taken place."),
            Access.facilitator,
            attended,
            sv=("labb", "närvarade"),
        ),
        Command(
            ("lab", "absent"),
            N_("lab absent <lab> [session] <user-id> [<user-id> ...]"),
            N_("Undo an attendance mark made by mistake."),
            Access.facilitator,
            absent,
            sv=("labb", "frånvarande"),
        ),
    ),
    buttons=(
        ButtonKind(
            "lab",
            Access.member,
            "sign up, cancel, calendar file",
            choice,
            "this cohort's lab",
            same_cohort=True,
        ),
    ),
    deliveries={LAB_TOMORROW: _compose_reminder},
    labels={LAB_TOMORROW: N_("Lab reminders")},
    planners=(_plan_reminders,),
    moments=(_reminder_moments,),
)
