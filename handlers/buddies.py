"""Learning buddies: a facilitator previews a pairing across organisations and announces
it; each group gets a conversation with the theme's reflection task; buddies say "we met"."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from handlers.core import channels
from handlers.core.access import Access
from handlers.core.context import Args, Context, Refusal, address_of, command_on
from handlers.core.formats import list_text, when_text
from handlers.core.i18n import N_, translator
from handlers.core.programme_file import localise
from handlers.core.registry import ButtonKind, Command, Feature
from handlers.core.vocabulary import (
    Conversation,
    Message,
    MessageBuilder,
    Option,
    Outgoing,
    Span,
    ToGroup,
)
from handlers.pairing import Candidate, best_group_for, pair_up
from handlers.themes import theme_number
from storage.models import Cohort, Role
from storage.people import Member


async def _round(
    context: Context, cohort: Cohort, seed: int
) -> tuple[list[tuple[Member, ...]], list[Member]]:
    """The groups this seed gives, and who is left out (opted out, or not on the platform)."""
    participants = await context.repos.people.members(cohort.id, Role.participant)
    taking_part = [m for m in participants if not m.membership.buddy_opt_out and m.person.user_id]
    left_out = [m for m in participants if m not in taking_part]
    if len(taking_part) < 2:
        raise Refusal(context.t("Pairing needs at least two participants who take part."))
    by_id = {m.person.id: m for m in taking_part}
    earlier = await context.repos.buddies.earlier_pairs(cohort.id)
    pinned, forbidden = await context.repos.buddies.rules(cohort.id)
    groups = pair_up(
        [Candidate(m.person.id, m.organisation.key) for m in taking_part],
        earlier,
        seed,
        pinned=pinned,
        forbidden=forbidden,
    )
    return [tuple(by_id[p] for p in group) for group in groups], left_out


def _names(group: tuple[Member, ...], language: str) -> str:
    """Each buddy's name and organisation; and e-mail address when the group spans
    platforms, since they cannot write to each other where they are."""
    across = len({(m.person.platform, m.person.workspace) for m in group}) > 1
    return " – ".join(
        f"{m.person.display_name} ({localise(m.organisation.name, language)}"
        + (f", {m.person.email}" if across and m.person.email else "")
        + ")"
        for m in group
    )


def _conversations(
    group: tuple[Member, ...], channels: list[Conversation] | None = None
) -> list[ToGroup]:
    """The group's conversation on each platform its buddies use (Slack and Teams cannot
    share one): each gets the same introduction. Each names the cohort's channel on that
    platform, where a platform that cannot open group conversations starts a thread."""
    by_platform: dict[tuple[str, str], list[str]] = {}
    for member in group:
        if member.person.user_id:
            key = (member.person.platform, member.person.workspace)
            by_platform.setdefault(key, []).append(member.person.user_id)
    meet_in = {(c.platform, c.workspace): c for c in reversed(channels or [])}
    return [
        ToGroup(platform, workspace, tuple(ids), meet_in.get((platform, workspace)))
        for (platform, workspace), ids in by_platform.items()
    ]


async def _channels(context: Context, cohort: Cohort) -> list[Conversation]:
    return [c.conversation for c in await channels.channels_of(context.repos, cohort)]


async def preview(context: Context, args: Args) -> list[Outgoing]:
    """pair [THEME] [--seed N]: the groups, and a button to announce them."""
    t = context.t
    context.require_facilitator()
    cohort = context.require_cohort()
    theme = theme_number(context, args, await context.programme()) if args.words else 0
    raw_seed = args.options.get("seed")
    if raw_seed is not None and not raw_seed.isdigit():
        raise Refusal(t("The seed is a whole number, like `--seed 42`."))
    seed = int(raw_seed) if raw_seed is not None else secrets.randbelow(1_000_000)
    groups, left_out = await _round(context, cohort, seed)
    title = (
        t("Learning buddies for theme {number}", number=theme)
        if theme
        else t("Learning buddies for the whole programme")
    )
    build = MessageBuilder().heading(title).bullets(_names(g, context.language) for g in groups)
    if left_out:
        build.note(
            t(
                "Not paired (opted out, or not on the platform yet): {names}",
                names=list_text((m.person.display_name for m in left_out), t.language),
            )
        )
    build.note(
        t(
            "The same seed gives the same pairs: {command}.",
            command=context.command(
                "pair", then=f"{theme or ''} {context.flag('seed')} {seed}".strip()
            ),
        )
    )
    build.choices([Option(f"pair:{cohort.id}:{theme}:{seed}", t("Announce"), style="primary")])
    return [context.reply(build.build())]


async def announce(context: Context, action_id: str) -> list[Outgoing]:
    """The preview's button: store the round once and open a conversation per group."""
    t = context.t
    context.require_facilitator()
    cohort = context.require_cohort()
    try:
        _, _, raw_theme, raw_seed = action_id.split(":")
        theme, seed = int(raw_theme), int(raw_seed)
    except ValueError:
        raise Refusal(t("That button no longer does anything.")) from None
    groups, left_out = await _round(context, cohort, seed)
    ids = await context.repos.buddies.start_round(
        cohort.id, theme, seed, [[m.person.id for m in g] for g in groups]
    )
    if ids is None:
        raise Refusal(t("These learning buddies have been announced already."))
    sent = [
        Outgoing(to, introduction)
        for group, group_id in zip(groups, ids, strict=True)
        if (introduction := await _introduction(context, cohort, theme, group, group_id))
        for to in _conversations(group, await _channels(context, cohort))
    ]
    for member in left_out:
        if member.person.user_id:
            sent.append(
                Outgoing(
                    address_of(member.person),
                    MessageBuilder()
                    .para(
                        t(
                            "You are not paired with a learning buddy this time, as you opted "
                            "out. Write {command} to take part next time.",
                            command=command_on(
                                FEATURE,
                                member.person.platform,
                                t.language,
                                ("buddies",),
                                _choice(t.language, "optin"),
                            ),
                        )
                    )
                    .build(),
                )
            )
    sent.append(context.reply(t.plural("{n} group announced.", "{n} groups announced.", len(ids))))
    return sent


async def _introduction(
    context: Context, cohort: Cohort, theme: int, group: tuple[Member, ...], group_id: int
) -> Message:
    """In the cohort's language: a group conversation has more than one reader."""
    language = cohort.language
    t = translator(language)
    build = MessageBuilder().heading(
        t("Your learning buddies for theme {number}", number=theme)
        if theme
        else t("Your learning buddies")
    )
    build.para(_names(group, language))
    programme = await context.programme()
    found = programme.theme(theme) if theme else None
    if found is not None:
        build.para(Span(t("Reflection task"), strong=True))
        build.para(localise(found.reflection_task.text, language))
        workshop = next(
            (
                e
                for e in await context.repos.calendar.entries(cohort.id)
                if e.kind == "workshop" and e.theme_number == theme
            ),
            None,
        )
        if workshop is not None:
            when = when_text(workshop.starts_at, None, ZoneInfo(cohort.timezone), t.language)
            build.para(
                t("Meet before the workshop on {when}, and do the task together.", when=when)
            )
        else:
            build.para(t("Meet before the workshop, and do the task together."))
    build.choices([Option(met_action(cohort.id, group_id), t("We met"))])
    return build.build()


def met_action(cohort_id: int, group_id: int) -> str:
    """The "we met" button's id, wherever the button is shown; `met` handles the click."""
    return f"met:{cohort_id}:{group_id}"


async def met(context: Context, action_id: str) -> list[Outgoing]:
    """The "we met" button: counted once per buddy."""
    t = context.t
    member = context.require_member()
    cohort = context.require_cohort()
    _, _, raw_group = [*action_id.split(":"), "", ""][:3]
    if (
        not raw_group.isdigit()
        or await context.repos.buddies.cohort_of_group(int(raw_group)) != cohort.id
    ):
        raise Refusal(t("That button belongs to another cohort."))
    marked = await context.repos.buddies.mark_met(int(raw_group), member.person.id, context.now())
    if marked is None:
        raise Refusal(t("Only the buddies of this group can say they met."))
    return [
        context.reply(t("Noted: you met. Thank you!") if marked else t("You had said so already."))
    ]


def rule(pinned: bool | None) -> Callable[[Context, Args], Awaitable[list[Outgoing]]]:
    """pair pin|forbid|clear USER USER: a facilitator's word on one pair."""

    async def run(context: Context, args: Args) -> list[Outgoing]:
        t = context.t
        context.require_facilitator()
        cohort = context.require_cohort()
        words = [w.lstrip("@") for w in args.words]
        if len(words) != 2 or words[0] == words[1]:
            raise Refusal(
                t(
                    "Name two people by user id, like {example}.",
                    example=context.command("pair", "pin", then="anna bjorn"),
                )
            )
        members = {
            m.person.user_id: m
            for m in await context.repos.people.members(cohort.id, Role.participant)
        }
        unknown = [w for w in words if w not in members]
        if unknown:
            raise Refusal(t("{user} is not a participant of this cohort.", user=unknown[0]))
        a, b = members[words[0]], members[words[1]]
        await context.repos.buddies.set_rule(cohort.id, a.person.id, b.person.id, pinned)
        names = {"a": a.person.display_name, "b": b.person.display_name}
        if pinned is None:
            return [context.reply(t("{a} and {b} are paired like anyone else again.", **names))]
        if pinned:
            return [context.reply(t("{a} and {b} will always be paired.", **names))]
        return [context.reply(t("{a} and {b} will not be paired.", **names))]

    return run


def regroup(joining: bool) -> Callable[[Context, Args], Awaitable[list[Outgoing]]]:
    """pair add|remove USER [THEME]: one person joins a round late, or leaves it; nobody
    else is reshuffled, and whoever is left alone joins the group they fit best."""

    async def run(context: Context, args: Args) -> list[Outgoing]:
        t = context.t
        context.require_facilitator()
        cohort = context.require_cohort()
        words = args.words
        if not words:
            raise Refusal(
                t(
                    "Name the person by user id, like {example}.",
                    example=context.command("pair", "add", then="anna 2"),
                )
            )
        theme = (
            theme_number(context, Args(words[1], set(), {}), await context.programme())
            if len(words) > 1
            else 0
        )
        groups = await context.repos.buddies.round_groups(cohort.id, theme)
        if groups is None:
            raise Refusal(t("No learning buddies have been announced for that yet."))
        members = {m.person.id: m for m in await context.repos.people.members(cohort.id)}
        person = next((m for m in members.values() if m.person.user_id == words[0]), None)
        if person is None or person.membership.role != Role.participant:
            raise Refusal(t("{user} is not a participant of this cohort.", user=words[0]))
        current = next((g for g, ids in groups.items() if person.person.id in ids), None)
        buddies = context.repos.buddies
        changed: list[int] = []
        if joining:
            if current is not None:
                raise Refusal(
                    t("{name} has learning buddies already.", name=person.person.display_name)
                )
            target = await _best_group(context, cohort, person, groups, members)
            await buddies.move(person.person.id, None, target)
            changed.append(target)
        else:
            if current is None:
                raise Refusal(
                    t(
                        "{name} has no learning buddies in that round.",
                        name=person.person.display_name,
                    )
                )
            await buddies.move(person.person.id, current, None)
            left = [p for p in groups[current] if p != person.person.id]
            others = {g: ids for g, ids in groups.items() if g != current and ids}
            if len(left) == 1 and others and left[0] in members:
                alone = members[left[0]]
                target = await _best_group(context, cohort, alone, others, members)
                await buddies.move(alone.person.id, current, target)
                changed.append(target)
            elif len(left) > 1:
                changed.append(current)
        sent = []
        for group_id in changed:
            now = await buddies.round_groups(cohort.id, theme) or {}
            group = tuple(members[p] for p in now.get(group_id, []) if p in members)
            introduction = await _introduction(context, cohort, theme, group, group_id)
            sent += [
                Outgoing(to, introduction)
                for to in _conversations(group, await _channels(context, cohort))
            ]
        done = (
            t("{name} has joined learning buddies.", name=person.person.display_name)
            if joining
            else t("{name} has left their learning buddies.", name=person.person.display_name)
        )
        return [*sent, context.reply(done)]

    return run


async def _best_group(
    context: Context,
    cohort: Cohort,
    person: Member,
    groups: dict[int, list[int]],
    members: dict[int, Member],
) -> int:
    earlier = await context.repos.buddies.earlier_pairs(cohort.id)
    _, forbidden = await context.repos.buddies.rules(cohort.id)
    candidates = {
        g: [Candidate(p, members[p].organisation.key) for p in ids if p in members]
        for g, ids in groups.items()
        if ids
    }
    return best_group_for(
        Candidate(person.person.id, person.organisation.key), candidates, earlier, forbidden
    )


# The words after `lärkompisar`, for the English ones.
SWEDISH_CHOICES = {"avstå": "optout", "delta": "optin"}


def _choice(language: str, choice: str) -> str:
    swedish = {english: sv for sv, english in SWEDISH_CHOICES.items()}
    return swedish[choice] if language == "sv" else choice


async def opt(context: Context, args: Args) -> list[Outgoing]:
    """buddies optout|optin: take part in pairing, or not."""
    t = context.t
    member = context.require_member()
    cohort = context.require_cohort()
    choice = args.words[0].lower() if args.words else ""
    choice = SWEDISH_CHOICES.get(choice, choice)
    if choice not in ("optout", "optin"):
        raise Refusal(
            t(
                "Write {optout} or {optin}.",
                optout=context.command("buddies", then=_choice(t.language, "optout")),
                optin=context.command("buddies", then=_choice(t.language, "optin")),
            )
        )
    await context.repos.buddies.set_opt_out(cohort.id, member.person.id, choice == "optout")
    return [
        context.reply(
            t(
                "You will not be paired with a learning buddy. {command} undoes it.",
                command=context.command("buddies", then=_choice(t.language, "optin")),
            )
            if choice == "optout"
            else t("You will be paired with a learning buddy from another organisation.")
        )
    ]


FEATURE = Feature(
    "buddies",
    N_("Learning buddies"),
    commands=(
        Command(
            ("buddies",),
            N_("buddies optout|optin"),
            N_("Take part in learning-buddy pairing, or not."),
            Access.member,
            opt,
            sv=("lärkompisar",),
        ),
        Command(
            ("pair",),
            N_("pair [theme] [--seed N]"),
            N_("Preview learning buddies across organisations, then announce them."),
            Access.facilitator,
            preview,
            options=("seed", "in"),
            sv=("para",),
        ),
        Command(
            ("pair", "add"),
            N_("pair add <user-id> [theme]"),
            N_("Give someone who joined late learning buddies, without reshuffling the rest."),
            Access.facilitator,
            regroup(joining=True),
            sv=("para", "in"),
        ),
        Command(
            ("pair", "remove"),
            N_("pair remove <user-id> [theme]"),
            N_(
                "Take someone out of their learning buddies; a buddy left alone joins another "
                "group."
            ),
            Access.facilitator,
            regroup(joining=False),
            sv=("para", "ur"),
        ),
        Command(
            ("pair", "pin"),
            N_("pair pin <user-id> <user-id>"),
            N_("Always pair these two as learning buddies."),
            Access.facilitator,
            rule(pinned=True),
            sv=("para", "alltid"),
        ),
        Command(
            ("pair", "forbid"),
            N_("pair forbid <user-id> <user-id>"),
            N_("Never pair these two."),
            Access.facilitator,
            rule(pinned=False),
            sv=("para", "aldrig"),
        ),
        Command(
            ("pair", "clear"),
            N_("pair clear <user-id> <user-id>"),
            N_("Pair these two like anyone else again."),
            Access.facilitator,
            rule(pinned=None),
            sv=("para", "fritt"),
        ),
    ),
    buttons=(
        ButtonKind("met", Access.member, "“We met”", met, "only the buddies of that group"),
        ButtonKind(
            "pair",
            Access.facilitator,
            "announce previewed learning buddies",
            announce,
            "this cohort's; once",
            same_cohort=True,
        ),
    ),
)
