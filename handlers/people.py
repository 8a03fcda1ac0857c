"""Joining a cohort, enrolling people, choosing a language, listing members."""

from __future__ import annotations

from handlers import retention
from handlers.core import audit
from handlers.core.access import Access
from handlers.core.context import Args, Context, Refusal, known_zone
from handlers.core.formats import list_text
from handlers.core.i18n import N_, SUPPORTED, translator
from handlers.core.registry import ButtonKind, Command, Feature
from handlers.core.vocabulary import MessageBuilder, Option, Outgoing
from storage.models import ID_LENGTH, Organisation, Role


async def find_organisation(context: Context, wanted: str) -> Organisation:
    """By id or name (case-insensitive, in any language), or a refusal listing the choices."""
    cohort = context.require_cohort()
    found = await context.repos.programs.find_organisation(cohort.program_id, wanted)
    if found is not None:
        return found
    organisations = await context.repos.programs.organisations(cohort.program_id)
    raise Refusal(
        context.t(
            "There is no organisation {name} in this programme. Choose one of: {choices}",
            name=wanted,
            choices=list_text(
                (f"{o.key} ({context.local(o.name)})" for o in organisations),
                context.language,
                either=True,
            ),
        )
    )


async def join(context: Context, args: Args) -> list[Outgoing]:
    t = context.t
    cohort = context.require_cohort()
    if context.member is not None:
        return [
            context.reply(
                t(
                    "You are already in {cohort}, from {organisation}.",
                    cohort=cohort.title,
                    organisation=context.local(context.member.organisation.name),
                )
            )
        ]
    if await retention.is_closed(context.repos, cohort):
        raise Refusal(
            t(
                "{cohort} has ended and its personal data has been deleted: "
                "nobody can join it any more.",
                cohort=cohort.title,
            )
        )
    if not cohort.self_enrol:
        facilitators = await context.repos.people.members(cohort.id, Role.facilitator)
        names = list_text(
            (f.person.display_name for f in facilitators), t.language, either=True
        ) or t("the programme's team")
        raise Refusal(
            t(
                "To join {cohort}, ask a facilitator to enrol you: {names}.",
                cohort=cohort.title,
                names=names,
            )
        )
    if not args.rest:
        organisations = await context.repos.programs.organisations(cohort.program_id)
        message = (
            MessageBuilder()
            .para(t("Welcome to {cohort}! Which organisation are you from?", cohort=cohort.title))
            .choices(
                Option(f"join:{cohort.id}:{o.key}", context.local(o.name)) for o in organisations
            )
            .build()
        )
        return [context.reply(message)]
    organisation = await find_organisation(context, args.rest)
    person = await context.repos.people.find_or_add(
        context.actor.platform,
        context.actor.workspace,
        user_id=context.actor.user_id,
        email=None,
        display_name=context.actor.display_name or context.actor.user_id,
    )
    existing = await context.repos.people.member(cohort.id, person.id)
    if existing is not None:  # joined a moment ago, in another click
        context.member = existing
        return await join(context, args)
    await context.repos.people.enrol(cohort.id, person.id, organisation.id, Role.participant)
    return [
        context.reply(
            t(
                "Welcome to {cohort}, {name} from {organisation}! "
                "Write {command} to see what you can do.",
                command=context.command("help"),
                cohort=cohort.title,
                name=person.display_name,
                organisation=context.local(organisation.name),
            )
        )
    ]


async def enrol(context: Context, args: Args) -> list[Outgoing]:
    """enrol <user-id> <organisation> [--facilitator] [--name NAME]"""
    t = context.t
    context.require_facilitator()
    cohort = context.require_cohort()
    words = args.words
    if len(words) < 2:
        raise Refusal(t("Missing {what}.", what=t("user id and organisation")))
    user_id, organisation = words[0], " ".join(words[1:])
    if len(user_id) > ID_LENGTH:
        raise Refusal(t("“{value}” is too long for a user id.", value=user_id[:40] + "…"))
    found = await find_organisation(context, organisation)
    name = args.options.get("name", user_id).replace("_", " ")
    known = await context.repos.people.by_account(cohort.platform, cohort.workspace, user_id)
    if known is not None:
        # Someone Digilog knows keeps their name (the platform's or the roster's). Only a
        # --name renames them, and only if no other cohort knows them: a facilitator does
        # not change what another cohort's people see (issue #7).
        elsewhere = {c.id for c in await context.repos.cohorts.of_person(known.id)} - {cohort.id}
        if "name" not in args.options or elsewhere:
            name = known.display_name
    person = await context.repos.people.find_or_add(
        cohort.platform, cohort.workspace, user_id=user_id, email=None, display_name=name
    )
    role = next((r for r in (Role.facilitator, Role.support) if r.value in args.flags), None)
    role = role or Role.participant
    _, created = await audit.enrol(
        context.repos, cohort.id, person.id, found.id, role, by=context.member_person_id
    )
    text = (
        t(
            "{name} is enrolled as {role} from {organisation}.",
            name=person.display_name,
            role=role_name(context, role),
            organisation=context.local(found.name),
        )
        if created
        else t(
            "{name} was already enrolled; now {role} from {organisation}.",
            name=person.display_name,
            role=role_name(context, role),
            organisation=context.local(found.name),
        )
    )
    return [context.reply(text)]


ROLE_NAMES = {
    Role.participant: N_("participant"),
    Role.facilitator: N_("facilitator"),
    Role.support: N_("support function"),
}


def role_name(context: Context, role: Role) -> str:
    return context.t(ROLE_NAMES[role])


async def members(context: Context, args: Args) -> list[Outgoing]:
    context.require_facilitator()
    cohort = context.require_cohort()
    everyone = await context.repos.people.members(cohort.id)
    message = (
        MessageBuilder()
        .heading(context.t("People in {cohort}", cohort=cohort.title))
        .bullets(
            f"{m.person.display_name} ({m.person.user_id or m.person.email}) · "
            f"{context.local(m.organisation.name)} · {role_name(context, m.membership.role)}"
            for m in everyone
        )
        .note(context.t.plural("{n} person", "{n} people", len(everyone)))
        .build()
    )
    return [context.reply(message)]


async def language(context: Context, args: Args) -> list[Outgoing]:
    chosen = args.rest.strip().lower()
    if chosen not in SUPPORTED:
        raise Refusal(
            context.t(
                "Choose a language: {choices}",
                choices=list_text(SUPPORTED, context.language, either=True),
            )
        )
    if context.person is None:
        raise Refusal(context.t("Join a cohort first; then your language choice can be saved."))
    context.person.language = chosen
    t = translator(chosen)  # answer in the language just chosen
    return [context.reply(t("From now on I will write to you in English."))]


async def timezone(context: Context, args: Args) -> list[Outgoing]:
    """timezone [ZONE]: the time zone times are shown in; with a zone, change it."""
    if context.person is None:
        raise Refusal(context.t("Join a cohort first; then your time zone can be saved."))
    wanted = args.rest.strip()
    if wanted:
        if not known_zone(wanted):
            raise Refusal(
                context.t(
                    "There is no time zone {zone}; write it like Europe/Stockholm.", zone=wanted
                )
            )
        context.person.timezone = wanted
    return [context.reply(context.t("Times are shown to you in {zone}.", zone=context.zone.key))]


async def _join_button(context: Context, action_id: str) -> list[Outgoing]:
    """`join:<cohort>:<organisation>`: join as someone of that organisation."""
    return await join(context, Args([*action_id.split(":", 2), ""][2], set(), {}))


FEATURE = Feature(
    "people",
    N_("Joining and your settings"),
    commands=(
        Command(
            ("join",),
            N_("join [organisation]"),
            N_("Join this channel's cohort."),
            Access.anyone,
            join,
            note="in the cohort's channel, if it allows self-enrolment",
            sv=("gå", "med"),
        ),
        Command(
            ("language",),
            N_("language sv|en"),
            N_("Choose the language I write to you in."),
            Access.enrolled,
            language,
            note="one's own",
            sv=("språk",),
        ),
        Command(
            ("timezone",),
            N_("timezone [Europe/Stockholm]"),
            N_("Show or change the time zone times are shown to you in."),
            Access.enrolled,
            timezone,
            note="one's own",
            sv=("tidszon",),
        ),
        Command(
            ("enrol",),
            N_("enrol <user-id> <organisation> [--facilitator | --support] [--name NAME]"),
            N_("Enrol a person in this cohort."),
            Access.facilitator,
            enrol,
            note="the only role change in chat: --facilitator, --support",
            flags=("facilitator", "support"),
            options=("name", "in"),
            sv=("registrera",),
        ),
        Command(
            ("members",),
            N_("members"),
            N_("List the people in this cohort."),
            Access.facilitator,
            members,
            sv=("deltagare",),
        ),
    ),
    buttons=(
        ButtonKind(
            "join",
            Access.anyone,
            "join as someone of an organisation",
            _join_button,
            "this cohort's channel",
            same_cohort=True,
        ),
    ),
)
