"""The local meetings that open and close the programme, and what each person writes there.

The opening meeting is a needs inventory ("what do I want to develop?"), the
closing one a plan for change. Both go into the reflection bank with their kind,
one of each per person: writing again replaces it. A plan can be shared with the
support function of one's own organisation, who are told when it is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from handlers.access import Access
from handlers.bank import VISIBILITY_LABELS, check_length, chosen_audience
from handlers.context import MAX_REFLECTION_CHARS, Args, Context, Refusal, address_of
from handlers.deliveries import Composing, Decision
from handlers.i18n import N_, translator
from handlers.registry import ButtonKind, Command, Feature, FormKind
from handlers.steps import DAY_BEFORE, EVENING_BEFORE, Audience, Step
from handlers.vocabulary import (
    Form,
    FormSubmitted,
    MessageBuilder,
    Option,
    Outgoing,
    SelectField,
    Span,
    TextField,
    ToActor,
)
from storage.models import Reflection, Role, Source, Visibility

Run = Callable[[Context, Args], Awaitable[list[Outgoing]]]
PREFIX = "meeting:"  # of forms and buttons: `meeting:<cohort>:needs|plan`
KINDS = {"needs": Source.needs_inventory, "plan": Source.change_plan}
TITLES = {"needs": N_("My needs inventory"), "plan": N_("My plan for change")}
QUESTIONS = {
    "needs": N_("What do I want to develop during the programme, and why?"),
    "plan": N_("What will I change in my own organisation, with whom, and by when?"),
}
# Only a plan is for one's organisation's support function: they help carry it out.
AUDIENCES = {
    "needs": (Visibility.private, Visibility.facilitators, Visibility.cohort),
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
    if visibility == Visibility.organisation and not was_shared:
        outgoing += await _tell_support(context, reflection)
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
            .note(t("Find every shared plan with `bank --kind plan`."))
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


FEATURE = Feature(
    "meetings",
    N_("Local meetings"),
    commands=(
        Command(
            ("needs",),
            N_("needs [--private | --cohort] [text]"),
            N_(
                "Your needs inventory from the opening local meeting: what you want to develop. "
                "The facilitators see it unless you say otherwise."
            ),
            Access.member,
            command("needs"),
            flags=("private", "cohort"),
            sv=("behov",),
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
    deliveries={"meeting_tomorrow": _compose_meeting_reminder},
    labels={"meeting_tomorrow": N_("Local meeting reminders")},
)
