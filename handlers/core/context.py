"""What every handler needs to know about an event: who, where, which cohort, which language."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from handlers.core.formats import list_text
from handlers.core.i18n import Translator, language_of, translator
from handlers.core.programme_file import Programme, localise, programme_from_json
from handlers.core.vocabulary import Actor, Conversation, Message, Outgoing, ToActor, ToPerson, say
from storage.models import Cohort, Person, Role, utcnow
from storage.people import Member
from storage.unit import Repositories

if TYPE_CHECKING:
    from handlers.core.registry import Feature, Registry

MAX_REFLECTION_CHARS = 4000
DEFAULT_ZONE = "Europe/Stockholm"
# How a command is typed where the person is: Slack's slash command, a mention in Teams,
# the bare words in the console.
COMMAND_PREFIX = {"slack": "/digilog ", "teams": "@Digilog "}


def typed_on(platform: str, command: str) -> str:
    """How a command is typed on a platform, as code: `/digilog help` in Slack."""
    return f"`{COMMAND_PREFIX.get(platform, '')}{command}`"


def command_on(
    features: Registry | Feature,
    platform: str,
    language: str,
    words: tuple[str, ...],
    then: str = "",
) -> str:
    """A command's words in the reader's language, and what follows, typed on a platform;
    for a message that has no Context (a scheduled one)."""
    name = " ".join(features.command(words).words_in(language))
    return typed_on(platform, f"{name} {then}".strip())


def known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def zone_of(person: Person | None, cohort: Cohort | None) -> ZoneInfo:
    """A person's time zone: their own, else their cohort's, else Stockholm's."""
    for name in (person.timezone if person else None, cohort.timezone if cohort else None):
        if name and known_zone(name):
            return ZoneInfo(name)
    return ZoneInfo(DEFAULT_ZONE)


def cohort_channel(cohort: Cohort) -> Conversation:
    return Conversation(cohort.platform, cohort.workspace, cohort.conversation_id)


def address_of(person: Person) -> ToPerson:
    """A direct message to the person, on the platform they use (in a cohort that meets
    in Slack and Teams, not necessarily the cohort's own)."""
    assert person.user_id is not None, "someone who has never used Digilog has no address"
    return ToPerson(person.platform, person.workspace, person.user_id)


class Refusal(Exception):
    """Stop here and tell the person why; nothing of the transaction is kept."""

    def __init__(self, message: Message | str) -> None:
        super().__init__(message if isinstance(message, str) else message.summary)
        self.message = say(message) if isinstance(message, str) else message


_parsed: dict[str, Programme] = {}  # by checksum: a stored version never changes


async def programme_of(repos: Repositories, program_id: str) -> Programme:
    """The stored programme, parsed once per version rather than on every click."""
    checksum = await repos.programs.checksum(program_id)
    if checksum is None:
        raise LookupError(f"programme {program_id} is not loaded")
    if checksum not in _parsed:
        stored = await repos.programs.get(program_id)
        assert stored is not None
        _parsed[checksum] = programme_from_json(stored.definition)
    return _parsed[checksum]


@dataclass
class Context:
    repos: Repositories
    actor: Actor
    where: Conversation
    person: Person | None = None
    cohort: Cohort | None = None
    member: Member | None = None
    _programme: Programme | None = None
    t: Translator = field(default_factory=lambda: translator(None))
    # The time as the process keeps it: a console rehearsal runs ahead of the wall clock.
    now: Callable[[], datetime] = utcnow
    features: Registry | None = None  # what every feature offers; Digilog sets it

    def registry(self) -> Registry:
        assert self.features is not None, "only Digilog's contexts know the features"
        return self.features

    @property
    def language(self) -> str:
        return self.t.language

    @property
    def zone(self) -> ZoneInfo:
        hint = self.actor.zone_hint
        if hint and not (self.person and self.person.timezone) and known_zone(hint):
            return ZoneInfo(hint)
        return zone_of(self.person, self.cohort)

    @property
    def member_person_id(self) -> int | None:
        return self.member.person.id if self.member else None

    @property
    def is_facilitator(self) -> bool:
        return self.member is not None and self.member.membership.role == Role.facilitator

    def local(self, value: dict[str, str]) -> str:
        return localise(value, self.language)

    async def programme(self) -> Programme:
        if self._programme is None:
            self._programme = await programme_of(self.repos, self.require_cohort().program_id)
        return self._programme

    def require_cohort(self) -> Cohort:
        if self.cohort is None:
            raise Refusal(self.t("This conversation is not a cohort's channel."))
        return self.cohort

    def require_member(self) -> Member:
        cohort = self.require_cohort()
        if self.member is None:
            raise Refusal(
                self.t(
                    "You are not enrolled in {cohort}. Write {command} in the cohort's channel, "
                    "or ask a facilitator to enrol you.",
                    cohort=cohort.title,
                    command=self.command("join"),
                )
            )
        return self.member

    def require_facilitator(self) -> Member:
        member = self.require_member()
        if member.membership.role != Role.facilitator:
            raise Refusal(self.t("Only a facilitator of this cohort can do that."))
        return member

    def typed(self, command: str) -> str:
        """`/digilog help` in Slack, `@Digilog help` in Teams, `help` in the console."""
        return typed_on(self.actor.platform, command)

    def flag(self, name: str) -> str:
        return flag_in(self.language, name)

    def command(self, *words: str, then: str = "") -> str:
        """A command as this person types it, where they are and in their language:
        `/digilog labb avboka hantera-information 2` for ("lab", "cancel") in Slack."""
        if self.features is None:  # a context made outside Digilog.handle: English words
            return self.typed(f"{' '.join(words)} {then}".strip())
        return command_on(self.features, self.actor.platform, self.language, words, then)

    def reply(self, message: Message | str) -> Outgoing:
        return Outgoing(ToActor(), say(message) if isinstance(message, str) else message)


async def build_context(
    repos: Repositories,
    actor: Actor,
    where: Conversation,
    cohort_key: str | None = None,
    *,
    several_ok: bool = False,
) -> Context:
    """Find the person, the cohort this event is about, their membership and language.

    The cohort is the conversation's; outside a cohort channel (a direct message, the
    console) it is the one named with --in KEY, or the person's only cohort.
    """
    # Someone known, where they are and their membership, in one query: a click's usual case.
    found = await repos.people.where_they_are(
        actor.platform,
        actor.workspace,
        actor.user_id,
        (where.platform, where.workspace, where.conversation_id),
    )
    person: Person | None
    cohort: Cohort | None
    member: Member | None = None
    if found is not None:
        person, cohort, member = found
    else:
        person = await repos.people.by_account(actor.platform, actor.workspace, actor.user_id)
        if person is None and actor.email:
            person = await repos.people.link_account(
                actor.platform, actor.workspace, actor.user_id, actor.email
            )
        cohort = await repos.cohorts.by_conversation(
            where.platform, where.workspace, where.conversation_id
        )
    if person is not None and person.unreachable_since is not None:
        person.unreachable_since = None  # they use Digilog, so it can write to them again
    context = Context(repos=repos, actor=actor, where=where, person=person, cohort=cohort)
    member_known = found is not None and cohort is not None
    if cohort is None and person is not None:
        cohorts = await repos.cohorts.of_person(person.id)
        if cohort_key is not None:
            # A command's --in KEY, or a button's cohort id (a nudge in a direct message).
            cohort = next((c for c in cohorts if cohort_key in (c.key, f"#{c.id}")), None)
        elif len(cohorts) == 1:
            cohort = cohorts[0]
        context.cohort = cohort
        if cohort is None and len(cohorts) > 1 and not several_ok:
            context.t = _language(person, actor, None)
            raise Refusal(
                context.t(
                    "You are in several cohorts; say which with --in: {keys}",
                    keys=list_text((c.key for c in cohorts), context.language, either=True),
                )
            )
    if person is not None and actor.display_name and person.display_name != actor.display_name:
        person.display_name = actor.display_name  # people rename themselves on the platform
    zone = actor.timezone
    if person is not None and zone and person.timezone != zone and known_zone(zone):
        person.timezone = zone  # and move, and say so in their profile
    if member_known:
        context.member = member
    elif cohort is not None and person is not None:
        context.member = await repos.people.member(cohort.id, person.id)
    context.t = _language(person, actor, cohort)
    return context


def _language(person: Person | None, actor: Actor, cohort: Cohort | None) -> Translator:
    for choice in (
        person.language if person else None,
        language_of(actor.locale),
        cohort.language if cohort else None,
    ):
        if choice:
            return translator(choice)
    return translator(None)


# A value never starts with "--": `--pseudonymised --no-text` is two flags.
_OPTION = re.compile(r"(?:^|\s)--([a-zåäö][a-zåäö-]*)(?:[ =](?!--)(\S+))?")

# Every flag and option has a Swedish name beside its English one (docs/commands.md). One
# Swedish word may stand for two English ones that no command takes both of: the command's
# own decide. `--org` and `--organisation` are Swedish as they are.
SWEDISH_FLAGS: dict[str, tuple[str, ...]] = {
    "alla": ("all",),
    "dela": ("share",),
    "grupp": ("cohort",),
    "i": ("in",),
    "inte-själv": ("no-self",),
    "mina": ("mine",),
    "namn": ("name", "names"),
    "privat": ("private",),
    "processledare": ("facilitators", "facilitator"),
    "pseudonymiserad": ("pseudonymised",),
    "själv": ("self",),
    "startvärde": ("seed",),
    "stödfunktion": ("support",),
    "tema": ("theme",),
    "typ": ("kind",),
    "utan-text": ("no-text",),
    "ändå": ("force",),
}
SAME_IN_SWEDISH = frozenset({"org", "organisation"})


def flag_in(language: str, name: str) -> str:
    """`--mina` for a Swede, `--mine` for others."""
    if language == "sv":
        name = next((sv for sv, english in SWEDISH_FLAGS.items() if name in english), name)
    return f"--{name}"


def _english_name(name: str, known: set[str]) -> str:
    """The English name the command declares for a flag typed in either language."""
    return next((e for e in SWEDISH_FLAGS.get(name, ()) if e in known), name)


@dataclass
class Args:
    """A command's arguments: known --flags and --options anywhere, the rest kept as typed."""

    rest: str
    flags: set[str]
    options: dict[str, str]

    @classmethod
    def parse(cls, raw: str, flags: Iterable[str] = (), options: Iterable[str] = ()) -> Args:
        flag_names, option_names = set(flags), set(options)
        found_flags: set[str] = set()
        found_options: dict[str, str] = {}
        kept, cursor = [], 0
        for match in _OPTION.finditer(raw):
            name = _english_name(match.group(1), flag_names | option_names)
            value = match.group(2)
            if name in option_names and value is not None:
                found_options[name] = value
            elif name in flag_names:
                found_flags.add(name)
                if value is not None:  # the word after a flag is not its value
                    kept.append(raw[cursor : match.start(2)].replace(f"--{match.group(1)}", "", 1))
                    cursor = match.start(2)
                    continue
            else:
                continue
            kept.append(raw[cursor : match.start()])
            cursor = match.end()
        kept.append(raw[cursor:])
        return cls("".join(kept).strip(), found_flags, found_options)

    @property
    def words(self) -> list[str]:
        return self.rest.split()
