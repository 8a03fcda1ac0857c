"""The local meetings that open and close the programme, and what each person writes there.

The opening meeting is a needs inventory ("what do I want to develop?"), the
closing one a plan for change. Both go into the reflection bank with their kind,
one of each per person: writing again replaces it. A plan can be shared with the
support function of one's own organisation, who are told when it is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from handlers import bank
from handlers.bank import VISIBILITY_LABELS, check_length, chosen_audience
from handlers.core import anonymity
from handlers.core.access import Access
from handlers.core.context import (
    MAX_REFLECTION_CHARS,
    Args,
    Context,
    Refusal,
    address_of,
    command_on,
    flag_in,
    zone_of,
)
from handlers.core.deliveries import Composing, Decision, Drop, Send
from handlers.core.formats import when_text, where_spans
from handlers.core.humane import DEFAULT_HOURS, next_humane_time, working_moment_before
from handlers.core.i18n import N_, Translator, translator
from handlers.core.programme_file import Programme, localise
from handlers.core.registry import ButtonKind, Command, Feature, FormKind, Registry
from handlers.core.steps import DAY_BEFORE, EVENING_BEFORE, Audience, Step
from handlers.core.vocabulary import (
    Form,
    FormSubmitted,
    Message,
    MessageBuilder,
    Option,
    Outgoing,
    SelectField,
    Span,
    TextField,
    ToActor,
)
from handlers.digest import Contribution, distinctive, excerpt
from handlers.lab_suggestions import suggestions_for
from storage.deliveries import Planned
from storage.models import (
    CalendarEntry,
    Cohort,
    Organisation,
    Reflection,
    Role,
    Source,
    Visibility,
)
from storage.people import Member
from storage.reflections import Viewer
from storage.unit import Repositories

Run = Callable[[Context, Args], Awaitable[list[Outgoing]]]
PREFIX = "meeting:"  # of forms and buttons: `meeting:<cohort>:needs|plan`
KINDS = {"needs": Source.needs_inventory, "plan": Source.change_plan}
TITLES = {"needs": N_("My needs inventory"), "plan": N_("My plan for change")}
QUESTIONS = {
    "needs": N_("What do I want to develop during the programme, and why?"),
    "plan": N_("What will I change in my own organisation, with whom, and by when?"),
}
# Both may be shared with one's organisation's support function: a needs inventory goes
# into their summary of what their managers asked for, a plan they help carry out.
AUDIENCES = {
    "needs": (
        Visibility.private,
        Visibility.facilitators,
        Visibility.organisation,
        Visibility.cohort,
    ),
    "plan": (
        Visibility.private,
        Visibility.facilitators,
        Visibility.organisation,
        Visibility.cohort,
    ),
}


def _message_id(kind: str, person_id: int) -> str:
    """The key that keeps one needs inventory and one plan per person."""
    return f"{KINDS[kind].value}:p{person_id}"


async def _existing(context: Context, kind: str) -> Reflection | None:
    person = context.require_member().person
    cohort = context.require_cohort()
    return await context.repos.reflections.by_message(cohort.id, _message_id(kind, person.id))


def command(kind: str) -> Run:
    """`needs [text]` and `plan [text] [--share]`: without a text, the form."""

    async def run(context: Context, args: Args) -> list[Outgoing]:
        context.require_member()
        if not args.rest.strip():
            return [await form_for(context, kind)]
        visibility = Visibility.facilitators
        for flag, chosen in (
            ("private", Visibility.private),
            ("cohort", Visibility.cohort),
            ("share", Visibility.organisation),
        ):
            if flag in args.flags and chosen in AUDIENCES[kind]:
                visibility = chosen
        return await _save(context, kind, args.rest, visibility)

    return run


async def form_for(context: Context, kind: str) -> Outgoing:
    t = context.t
    cohort = context.require_cohort()
    existing = await _existing(context, kind)
    return Outgoing(
        ToActor(),
        Form(
            form_id=f"{PREFIX}{cohort.id}:{kind}",
            title=t(TITLES[kind]),
            intro=t("It goes into the reflection bank of {cohort}.", cohort=cohort.title),
            fields=(
                TextField(
                    "text",
                    t(QUESTIONS[kind]),
                    multiline=True,
                    max_length=MAX_REFLECTION_CHARS,
                    initial=existing.body if existing else None,
                ),
                SelectField(
                    "visibility",
                    t("Who may read it"),
                    tuple((v.value, t(VISIBILITY_LABELS[v])) for v in AUDIENCES[kind]),
                    initial=(existing.visibility if existing else Visibility.facilitators).value,
                ),
            ),
            submit_label=t("Save"),
        ),
    )


def kind_of(context: Context, identifier: str) -> str:
    """`meeting:<cohort>:<kind>`, checked against the cohort it is used in."""
    _, cohort_id, kind = [*identifier.split(":", 2), "", ""][:3]
    if cohort_id != str(context.require_cohort().id):
        raise Refusal(context.t("That form belongs to another cohort."))
    if kind not in KINDS:
        raise Refusal(context.t("That button no longer does anything."))
    return kind


async def form_submitted(context: Context, event: FormSubmitted) -> list[Outgoing]:
    kind = kind_of(context, event.form_id)
    visibility = chosen_audience(
        context, event.values.get("visibility"), AUDIENCES[kind], Visibility.facilitators
    )
    return await _save(context, kind, event.values.get("text", ""), visibility)


async def _save(context: Context, kind: str, text: str, visibility: Visibility) -> list[Outgoing]:
    t = context.t
    member = context.require_member()
    cohort = context.require_cohort()
    body = check_length(context, text)
    existing = await _existing(context, kind)
    was_shared = existing is not None and existing.visibility == Visibility.organisation
    if existing is not None:
        existing.visibility = visibility
        await context.repos.reflections.edit(existing, body)
        reflection = existing
    else:
        reflection, _ = await context.repos.reflections.add(
            Reflection(
                cohort_id=cohort.id,
                author_id=member.person.id,
                organisation_id=member.organisation.id,
                theme_number=None,
                source=KINDS[kind],
                visibility=visibility,
                body=body,
                message_id=_message_id(kind, member.person.id),
            )
        )
    outgoing = [
        context.reply(
            t(
                "“{title}” is saved in the reflection bank as #{id}, visible to {audience}.",
                title=t(TITLES[kind]),
                id=reflection.id,
                audience=t(VISIBILITY_LABELS[visibility]),
            )
        )
    ]
    if kind == "plan" and visibility == Visibility.organisation and not was_shared:
        outgoing += await _tell_support(context, reflection)
    if kind == "needs":
        # The inventory leads somewhere: labs that meet it, to sign up for at once.
        outgoing += await suggestions_for(context, await context.programme(), body)
    return outgoing


async def _tell_support(context: Context, plan: Reflection) -> list[Outgoing]:
    """The organisation's support function hears of a plan shared with them, once."""
    member = context.require_member()
    cohort = context.require_cohort()
    support = [
        m
        for m in await context.repos.people.members(cohort.id, Role.support)
        if m.organisation.id == member.organisation.id and m.person.user_id is not None
    ]
    if not support:
        return [
            context.reply(
                context.t(
                    "Nobody of your organisation's support function is in Digilog yet; "
                    "they will find your plan in the reflection bank once they are."
                )
            )
        ]
    outgoing = []
    for reader in support:
        t = translator(reader.person.language or cohort.language)  # the reader's language
        assert reader.person.user_id is not None
        message = (
            MessageBuilder()
            .para(
                Span(
                    t(
                        "{name} shared their plan for change with you (#{id}):",
                        name=member.person.display_name,
                        id=plan.id,
                    ),
                    strong=True,
                )
            )
            .para(plan.body)
            .note(
                t(
                    "Find every shared plan with {command}.",
                    command=command_on(
                        bank.FEATURE,
                        reader.person.platform,
                        t.language,
                        ("bank",),
                        f"{flag_in(t.language, 'kind')} plan",
                    ),
                )
            )
            .build()
        )
        outgoing.append(Outgoing(address_of(reader.person), message))
    return outgoing


async def _meeting_button(context: Context, action_id: str) -> list[Outgoing]:
    return [await form_for(context, kind_of(context, action_id))]


async def _compose_meeting_reminder(composing: Composing) -> Decision:
    """The local meeting is tomorrow, with a button to write for it."""
    assert composing.due is not None
    t, cohort = composing.t, composing.cohort
    opening = composing.due.entry.kind == "opening_meeting"
    kind = "needs" if opening else "plan"
    what = t("The opening local meeting") if opening else t("The closing local meeting")
    label = t("Write your needs inventory") if opening else t("Write your plan for change")
    choices = [Option(f"{PREFIX}{cohort.id}:{kind}", label)]
    return await composing.everywhere(composing.reminder(what, soon=False, choices=choices))


# ------------------------------------------------ each organisation's own local meetings

OWN_MEETING = "meeting_own"  # a delivery: an organisation's meeting, to one of its people
SUMMARY = "needs_summary"  # a delivery: the needs summary, to one support person
SUMMARY_AFTER = timedelta(days=7)  # after the organisation's opening meeting
SUMMARY_FOR = timedelta(days=14)
SUMMARY_TEXTS = 20  # shared inventories listed in a summary; the rest are counted


def own_meetings(entries: list[CalendarEntry]) -> list[CalendarEntry]:
    return [
        e
        for e in entries
        if e.kind in ("opening_meeting", "closing_meeting") and e.organisation is not None
    ]


async def _people_of(repos: Repositories, cohort: Cohort, organisation: str) -> list[Member]:
    """An organisation's participants and support people, who its meetings are for."""
    return [
        m
        for m in await repos.people.members(cohort.id)
        if m.organisation.key == organisation
        and m.membership.role in (Role.participant, Role.support)
    ]


async def _plan_own_meetings(
    repos: Repositories, cohort: Cohort, programme: Programme, now: datetime
) -> list[Planned]:
    """A reminder to each of an organisation's people on the working day before its own
    meeting; and, a week after its opening meeting, the needs summary to its support."""
    planned: list[Planned] = []
    zone = zone_of(None, cohort)
    for entry in own_meetings(await repos.calendar.entries(cohort.id)):
        assert entry.organisation is not None
        due = working_moment_before(entry.starts_at + DAY_BEFORE, zone, DEFAULT_HOURS)
        until = entry.starts_at + EVENING_BEFORE
        rows: list[tuple[str, datetime, datetime, list[Member]]] = []
        if due <= now < until:
            rows.append(
                (OWN_MEETING, due, until, await _people_of(repos, cohort, entry.organisation))
            )
        summary_at = next_humane_time(entry.starts_at + SUMMARY_AFTER, zone, DEFAULT_HOURS)
        if entry.kind == "opening_meeting" and summary_at <= now < summary_at + SUMMARY_FOR:
            support = [
                m
                for m in await _people_of(repos, cohort, entry.organisation)
                if m.membership.role == Role.support
            ]
            rows.append((SUMMARY, summary_at, summary_at + SUMMARY_FOR, support))
        for kind, at, relevant, people in rows:
            planned += [
                Planned(
                    key=f"{kind}:c{cohort.id}:{entry.key}:p{m.person.id}",
                    cohort_id=cohort.id,
                    kind=kind,
                    due_at=at,
                    relevant_until=relevant,
                    person_id=m.person.id,
                    detail={"meeting": entry.key},
                )
                for m in people
            ]
    return planned


async def _meeting_and_member(
    composing: Composing,
) -> tuple[CalendarEntry, Member] | str:
    """The organisation's meeting a row is about, and the member it goes to (or why not)."""
    repos, cohort, delivery = composing.repos, composing.cohort, composing.delivery
    key = (delivery.detail or {}).get("meeting")
    entry = next(
        (e for e in await composing.reads.calendar(repos, cohort.id) if e.key == key), None
    )
    if entry is None or entry.organisation is None:
        return N_("no longer on the calendar")
    if delivery.person_id is None:
        return N_("it goes to one person")
    member = await repos.people.member(cohort.id, delivery.person_id)
    if member is None or member.organisation.key != entry.organisation:
        return N_("no longer one of the organisation's people")
    if member.person.user_id is None:
        return N_("no account to write to")
    return entry, member


def meeting_title(t: Translator, entry: CalendarEntry, organisation: str) -> str:
    """ "Umeå kommun's opening local meeting"."""
    if entry.kind == "opening_meeting":
        return t("The opening local meeting of {organisation}", organisation=organisation)
    return t("The closing local meeting of {organisation}", organisation=organisation)


async def _compose_own_meeting(composing: Composing) -> Decision:
    """An organisation's own meeting is coming up: when, where, who hosts it; participants
    get the button to write their needs inventory or plan for change."""
    found = await _meeting_and_member(composing)
    if isinstance(found, str):
        return Drop(found)
    entry, member = found
    cohort = composing.cohort
    t = translator(member.person.language or cohort.language)
    zone = zone_of(member.person, cohort)
    name = localise(member.organisation.name, t.language)
    build = MessageBuilder().para(
        Span(t("Reminder") + ": ", strong=True),
        Span(
            t(
                "{meeting} is on {when}.",
                meeting=meeting_title(t, entry, name),
                when=when_text(entry.starts_at, entry.ends_at, zone, t.language),
            )
        ),
    )
    if where := where_spans(t, entry.place, entry.link):
        build.para(*where)
    if entry.host:
        build.para(t("Host: {host}", host=entry.host))
    opening = entry.kind == "opening_meeting"
    if member.membership.role == Role.participant:
        kind = "needs" if opening else "plan"
        label = t("Write your needs inventory") if opening else t("Write your plan for change")
        build.choices([Option(f"{PREFIX}{cohort.id}:{kind}", label)])
    elif opening:
        build.note(
            t(
                "As support: a week after the meeting you get a summary of what your "
                "organisation's managers wrote in their needs inventories."
            )
        )
    return Send(Outgoing(address_of(member.person), build.build()))


async def _compose_summary(composing: Composing) -> Decision:
    found = await _meeting_and_member(composing)
    if isinstance(found, str):
        return Drop(found)
    _, member = found
    t = translator(member.person.language or composing.cohort.language)
    more = _all_needs(composing.features, member.person.platform, t.language)
    message = await needs_summary(composing.repos, composing.cohort, member.organisation, t, more)
    return Send(Outgoing(address_of(member.person), message))


def _all_needs(features: Registry | Feature, platform: str, language: str) -> str:
    """`bank --typ behov` for a Swede, typed as their platform needs it."""
    kind = "behov" if language == "sv" else "needs"  # bank's kind word (bank.SWEDISH_KINDS)
    return command_on(
        features, platform, language, ("bank",), f"{flag_in(language, 'kind')} {kind}"
    )


async def needs_summary(
    repos: Repositories, cohort: Cohort, organisation: Organisation, t: Translator, more: str
) -> Message:
    """What an organisation's managers asked for in their needs inventories: how many
    wrote one (a figure: only for an organisation of at least K participants), the words
    that came up in those shared with its support or the cohort (more than in the other
    organisations'), and those texts themselves. Nothing of another organisation, and no
    text that was not shared."""
    name = localise(organisation.name, t.language)
    build = MessageBuilder().heading(
        t("Summary of the needs inventories of {organisation}", organisation=name)
    )
    participants = {
        m.person.id
        for m in await repos.people.members(cohort.id, Role.participant)
        if m.organisation.id == organisation.id
    }
    written = participants & await repos.reflections.authors_of(cohort.id, Source.needs_inventory)
    if anonymity.shown(len(participants)):
        build.para(
            t(
                "{written} of the organisation's {people} participants have written their "
                "needs inventory.",
                written=len(written),
                people=len(participants),
            )
        )
    else:
        build.note(
            t(
                "{organisation} has fewer than {k} participants in the programme, so no "
                "figures are shown for it.",
                organisation=name,
                k=anonymity.K,
            )
        )
    # What the organisation's support function may read: shared with it, or with everyone.
    viewer = Viewer(cohort.id, 0, is_facilitator=False, supports_organisation_id=organisation.id)
    shared = [
        v
        for v in await repos.reflections.visible(
            viewer, sources=(Source.needs_inventory,), limit=1000
        )
        if v.organisation.id == organisation.id and v.author.id in participants
    ]
    elsewhere = [
        v.reflection.body
        for v in await repos.reflections.visible(
            Viewer(cohort.id, 0, is_facilitator=False),
            sources=(Source.needs_inventory,),
            limit=1000,
        )
        if v.organisation.id != organisation.id
    ]
    if not shared:
        build.para(t("Nobody has shared their needs inventory with the support function yet."))
        return build.build()
    contributions = [
        Contribution(
            v.reflection.id,
            v.author.id,
            v.author.display_name,
            name,
            v.reflection.body,
            False,
            None,
            None,
            v.reflection.created_at,
        )
        for v in shared
    ]
    words, phrases = distinctive(contributions, elsewhere)
    if words or phrases:
        build.para(Span(t("What came up"), strong=True))
        build.facts(
            [
                (label, " · ".join(f"{term.shown} ({term.posts})" for term in terms))
                for label, terms in ((t("Words"), words), (t("Phrases"), phrases))
                if terms
            ]
        )
        build.note(t("In brackets: in how many of the shared needs inventories."))
    build.para(Span(t("Shared with you"), strong=True))
    build.bullets(
        (Span(f"{c.author}: ", strong=True), Span(excerpt(c.body)))
        for c in contributions[:SUMMARY_TEXTS]
    )
    if len(contributions) > SUMMARY_TEXTS:
        build.note(
            t("And {n} more: {command}.", n=len(contributions) - SUMMARY_TEXTS, command=more)
        )
    return build.build()


async def summary_command(context: Context, args: Args) -> list[Outgoing]:
    """`needs summary [--org ORG]`: the support function's summary of its own organisation;
    a facilitator names the organisation."""
    t, cohort = context.t, context.require_cohort()
    member = context.require_member()
    role = member.membership.role
    if role == Role.participant:
        raise Refusal(
            t(
                "The summary of the needs inventories is for the support function and the "
                "facilitators."
            )
        )
    organisation = member.organisation
    wanted = args.options.get("org")
    if role == Role.facilitator:
        found = {
            m.organisation.key: m.organisation
            for m in await context.repos.people.members(cohort.id)
        }
        if not wanted or wanted not in found:
            raise Refusal(
                t(
                    "Say which organisation with --org: {keys}",
                    keys=", ".join(sorted(k for k in found if k)),
                )
            )
        organisation = found[wanted]
    elif wanted and wanted != organisation.key:
        raise Refusal(t("The support function sees only its own organisation's summary."))
    more = _all_needs(context.registry(), context.actor.platform, context.language)
    return [context.reply(await needs_summary(context.repos, cohort, organisation, t, more))]


FEATURE = Feature(
    "meetings",
    N_("Local meetings"),
    commands=(
        Command(
            ("needs",),
            N_("needs [--private | --share | --cohort] [text]"),
            N_(
                "Your needs inventory from the opening local meeting: what you want to develop. "
                "The facilitators see it unless you say otherwise."
            ),
            Access.member,
            command("needs"),
            flags=("private", "cohort", "share"),
            sv=("behov",),
        ),
        Command(
            ("needs", "summary"),
            N_("needs summary [--org ORG]"),
            N_(
                "For the support function: what your organisation's managers wrote in their "
                "needs inventories (a facilitator names the organisation)."
            ),
            Access.member,
            summary_command,
            options=("in", "org"),
            note="the support function: its own organisation only; facilitators: any",
            sv=("behov", "sammanfattning"),
        ),
        Command(
            ("plan",),
            N_("plan [--share | --private | --cohort] [text]"),
            N_(
                "Your plan for change from the closing local meeting; --share shows it to your "
                "organisation's support function too."
            ),
            Access.member,
            command("plan"),
            flags=("share", "private", "cohort"),
            sv=("plan",),
        ),
    ),
    buttons=(
        ButtonKind(
            "meeting",
            Access.member,
            "open the needs inventory or plan for change",
            _meeting_button,
            "this cohort's",
        ),
    ),
    forms=(
        FormKind(
            "meeting",
            Access.member,
            "a needs inventory or plan for change",
            form_submitted,
            "this cohort's",
        ),
    ),
    steps=(
        Step(
            "meeting_tomorrow",
            "opening_meeting",
            DAY_BEFORE,
            Audience.channel,
            relevance=EVENING_BEFORE,
        ),
        Step(
            "meeting_tomorrow",
            "closing_meeting",
            DAY_BEFORE,
            Audience.channel,
            relevance=EVENING_BEFORE,
        ),
    ),
    deliveries={
        "meeting_tomorrow": _compose_meeting_reminder,
        OWN_MEETING: _compose_own_meeting,
        SUMMARY: _compose_summary,
    },
    planners=(_plan_own_meetings,),
    labels={
        "meeting_tomorrow": N_("Local meeting reminders"),
        OWN_MEETING: N_("An organisation's own local meeting reminders"),
        SUMMARY: N_("The support function's needs summary"),
    },
    reads_text=True,
)
