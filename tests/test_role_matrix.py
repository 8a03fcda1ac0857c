"""The role matrix (handlers/core/access.py and the levels the features declare), walked.

Every command of the matrix is sent by each of the people the matrix has a column for:

- a participant, a support person and a facilitator of the cohort "grupp-1";
- a facilitator of another cohort, "grupp-2", in the same workspace;
- an unknown user of the same workspace;
- a user of another workspace or tenant whose user id is the facilitator's.

Each is sent in grupp-1's channel (the user of another workspace: in a channel of their own
workspace with the same channel id). A refusal must be exactly the refusal for the person's
standing, and nothing may be posted to anyone; an allowed command must not be refused for
the person's role (it may still answer "the quiz is not open") and, for the examples with a
visible effect, must do its thing.

- The neutral path (`Digilog.handle` with console actors, as tests/chat.py does): every
  command, every button kind and every form kind, on SQLite and PostgreSQL.
- The console adapter itself (`as USER`, then the command, read from what it prints): every
  command, on SQLite and PostgreSQL.
- Slack (signed slash commands to `digilog serve` against the fake Web API, in Swedish) and
  Teams (signed activities against the fake Bot Connector): every command for every person,
  on SQLite only. Each of these two walks takes some 5-12 seconds; the neutral one 2-7.

Then: docs/role-matrix.md is what docs/role_matrix.py prints; the administrator's acts are
exactly the `digilog` command's, none of them is a chat command, and the only role change in
chat (`enrol --facilitator`) is a facilitator's.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import click
import pytest
from sqlalchemy import inspect, select, text

from bot.cli import main as cli
from bot.console.render import render
from bot.console.shell import Console
from bot.settings import Settings
from bot.web import RUNTIME, WORK
from handlers import bank, guide, meetings, personal_data, surveys
from handlers.admin import CohortSpec, create_cohort, import_roster, load_programme
from handlers.core import access
from handlers.core.access import Access, Standing
from handlers.core.context import typed_on
from handlers.core.i18n import Translator, translator
from handlers.core.limits import PerPerson
from handlers.core.programme_file import Programme
from handlers.core.registry import ButtonKind, FormKind
from handlers.core.roster import RosterRow
from handlers.core.vocabulary import (
    Actor,
    ChoiceMade,
    CommandReceived,
    Conversation,
    FileMessage,
    Form,
    FormSubmitted,
    Inbound,
    Message,
    Outgoing,
    ToActor,
)
from handlers.digilog import Digilog
from handlers.features import REGISTRY
from storage.models import BuddyMember, Person, Role
from storage.unit import Store
from tests import slack_payloads as p
from tests.conftest import ROOT
from tests.servers import SLACK_SECRET, serve, serve_settings
from tests.slack_fake import FakeSlack
from tests.teams_fake import APP_ID, BOT, TENANT, FakeConnector
from tests.test_teams_scenarios import SIGNER

LAB = "hantera-information"  # a lab of examples/digital-kompetens.yaml, session 1 online
TITLE = "Grupp 1"

# ---------------------------------------------------------------- who


@dataclass(frozen=True)
class Principal:
    column: str  # the matrix's column (access.PRINCIPALS)
    user: str
    standing: Standing
    elsewhere: bool = False  # acts from another workspace or tenant


@dataclass(frozen=True)
class Platform:
    """One platform's ids for the same people and places."""

    name: str
    workspace: str
    other_workspace: str
    channel: str  # grupp-1's
    other_channel: str  # grupp-2's
    ids: dict[str, str]  # fia, anna, … → the platform's user id
    language: str

    def principals(self) -> list[Principal]:
        ids = self.ids
        return [
            Principal("participant", ids["anna"], Standing.participant),
            Principal("support function", ids["sara"], Standing.support),
            Principal("facilitator", ids["fia"], Standing.facilitator),
            Principal("facilitator of another cohort", ids["gus"], Standing.known),
            Principal("unknown user", ids["dora"], Standing.unknown),
            # The facilitator's own user id, in another workspace: somebody else.
            Principal("user of another workspace or tenant", ids["fia"], Standing.unknown, True),
        ]


# Roster: user, name, organisation, role, cohort.
ROSTER = (
    ("fia", "Fia Facilitator", "region-vasterbotten", Role.facilitator, "grupp-1"),
    ("anna", "Anna Lindqvist", "umea", Role.participant, "grupp-1"),
    ("bjorn", "Björn Öberg", "pitea", Role.participant, "grupp-1"),
    ("cecilia", "Cecilia Åström", "skelleftea", Role.participant, "grupp-1"),
    ("sara", "Sara Stöd", "umea", Role.support, "grupp-1"),
    ("gus", "Gus Gran", "pitea", Role.facilitator, "grupp-2"),
    ("hugo", "Hugo Holm", "umea", Role.participant, "grupp-2"),
    ("ines", "Ines Isaksson", "pitea", Role.participant, "grupp-2"),
)
USERS = ("fia", "anna", "bjorn", "cecilia", "sara", "gus", "hugo", "ines", "dora")


CONSOLE = Platform(
    "console",
    "local",
    "elsewhere",
    "channel-grupp-1",
    "channel-grupp-2",
    {u: u for u in USERS},
    "en",
)
SLACK = Platform(
    "slack",
    p.TEAM_ID,
    "T_ELSEWHERE",
    "C_COHORT",
    "C_OTHER",
    {u: f"U_{u.upper()}" for u in USERS},
    "sv",
)
TEAMS = Platform(
    "teams",
    TENANT,
    "00000000-0000-4000-8000-0000000000e7",
    "19:grupp1@thread.tacv2",
    "19:grupp2@thread.tacv2",
    {u: f"29:{u}" for u in USERS},
    "en",
)


async def two_cohorts(store: Store, programme: Programme, platform: Platform) -> None:
    """grupp-1 (self-enrolment on) and grupp-2, in two channels of one workspace."""
    await load_programme(store, programme)
    for key, channel in (("grupp-1", platform.channel), ("grupp-2", platform.other_channel)):
        spec = CohortSpec(
            key=key,
            program_id=programme.id,
            title=key.replace("-", " ").title(),
            platform=platform.name,
            workspace=platform.workspace,
            conversation_id=channel,
            language=platform.language,
            self_enrol=key == "grupp-1",
        )
        await create_cohort(store, spec)
        rows = [
            RosterRow(i, name, None, platform.ids[user], org, role)
            for i, (user, name, org, role, cohort) in enumerate(ROSTER, start=1)
            if cohort == key
        ]
        _, problems = await import_roster(store, key, rows, skip_bad=False)
        assert not problems


# ---------------------------------------------------------------- what they are told


def refusals(t: Translator, platform: str = "console") -> dict[str, str]:
    """The role refusals, as the person reads them (a hint typed as their platform needs)."""
    join = " ".join(REGISTRY.command(("join",)).words_in(t.language))
    return {
        "enrolled": t("Join a cohort first; then your settings can be saved."),
        "no cohort": t("This conversation is not a cohort's channel."),
        "not a member": t(
            "You are not enrolled in {cohort}. Write {command} in the cohort's channel, "
            "or ask a facilitator to enrol you.",
            cohort=TITLE,
            command=typed_on(platform, join),
        ),
        "participant": t("Surveys and self-assessments are for participants."),
        "facilitator": t("Only a facilitator of this cohort can do that."),
    }


def expected_refusal(
    access_: Access, who: Principal, t: Translator, platform: str = "console"
) -> str | None:
    """The refusal the matrix promises this person, or None where it lets them."""
    said = refusals(t, platform)
    if access.allows(access_, who.standing):
        return None
    if access_ is Access.enrolled:
        return said["enrolled"]
    if who.elsewhere:  # their workspace has no cohort in this channel
        return said["no cohort"]
    if who.standing in (Standing.unknown, Standing.known):
        return said["not a member"]
    return said["participant"] if access_ is Access.participant else said["facilitator"]


@dataclass
class Answer:
    private: str  # what the person alone was shown
    public: int  # messages to the channel or to other people

    def refused_for_role(self, t: Translator, platform: str = "console") -> list[str]:
        return [text for text in refusals(t, platform).values() if text in self.private]


def answer_of(outgoing: Iterable[Outgoing]) -> Answer:
    private, public = [], 0
    for item in outgoing:
        if not isinstance(item.to, ToActor):
            public += 1
        elif isinstance(item.message, Message):
            private.append(render(item.message)[0])
        elif isinstance(item.message, Form):
            private.append(f"[form {item.message.form_id}: {item.message.title}]")
        elif isinstance(item.message, FileMessage):
            private.append(f"[file {item.message.filename}]")
    return Answer("\n".join(private), public)


# ---------------------------------------------------------------- the commands' examples

# One line per command, with arguments that work: `{lab}` and the people's user ids are
# filled in per platform. Together with the setup (theme 1 started, its quiz and survey and
# the first self-assessment open) each has something to do.
EXAMPLES: dict[tuple[str, ...], str] = {
    ("help",): "help",
    ("join",): "join",
    ("language",): "language {language}",
    ("timezone",): "timezone Europe/Stockholm",
    ("nudges",): "nudges",
    ("hours",): "hours mon-fri 08-17",
    ("theme",): "theme",
    ("theme", "show"): "theme show 1",
    ("reflect",): "reflect The films made me think --facilitators",
    ("bank",): "bank",
    ("needs",): "needs Better digital meetings --private",
    ("plan",): "plan One digital meeting a week --private",
    ("survey",): "survey 1",
    ("assess",): "assess",
    ("schedule",): "schedule",
    ("quiz",): "quiz 1",
    ("buddies",): "buddies optin",
    ("labs",): "labs",
    ("lab", "signup"): "lab signup {lab} 1",
    ("lab", "cancel"): "lab cancel {lab} 1",
    ("lab", "ics"): "lab ics {lab} 1",
    ("theme", "start"): "theme start 2",
    ("quiz", "start"): "quiz start 2",
    ("quiz", "close"): "quiz close 2",
    ("survey", "open"): "survey open 2",
    ("survey", "close"): "survey close 2",
    ("survey", "results"): "survey results 1",
    ("assess", "open"): "assess open end",
    ("assess", "close"): "assess close end",
    ("assess", "results"): "assess results",
    ("results",): "results 1",
    ("report",): "report",
    ("digest",): "digest 1",
    ("task",): "task 1",
    ("needs", "summary"): "needs summary --org umea",
    ("pair",): "pair 1 --seed 7",
    ("pair", "add"): "pair add {cecilia} 1",
    ("pair", "remove"): "pair remove {cecilia} 1",
    ("pair", "pin"): "pair pin {anna} {bjorn}",
    ("pair", "forbid"): "pair forbid {anna} {cecilia}",
    ("pair", "clear"): "pair clear {anna} {cecilia}",
    ("lab", "attendees"): "lab attendees {lab} 1",
    ("lab", "attended"): "lab attended {lab} 1 {anna}",
    ("lab", "absent"): "lab absent {lab} 1 {anna}",
    ("enrol",): "enrol newcomer umea --name New_Comer",
    ("export",): "export csv",
    ("attendance",): "attendance",
    ("attendance", "mine"): "attendance mine",
    ("attendance", "here"): "attendance here 1:workshop",
    ("attendance", "export"): "attendance export csv",
    ("events",): "events",
    ("event", "register"): "event register motesplats",
    ("event", "cancel"): "event cancel motesplats",
    ("event", "ics"): "event ics motesplats",
    ("event", "registered"): "event registered motesplats",
    ("schedule", "move"): "schedule move 2:quiz_close 2031-03-04 10:00",
    ("nudge",): "nudge 1 post",
    ("nudges", "resume"): "nudges resume {anna}",
    ("nudges", "stop"): "nudges stop {anna}",
    ("members",): "members",
    ("failures",): "failures",
    ("mydata",): "mydata",
    ("forget",): "forget",
}
SETUP = ("theme start 1", "quiz start 1", "survey open 1", "assess open start")
# A user of another workspace has no cohort channel there: nothing to join.
NEEDS_THE_CHANNEL = {("join",)}


def example(words: tuple[str, ...], platform: Platform) -> str:
    return EXAMPLES[words].format(lab=LAB, language=platform.language, **platform.ids)


Say = Callable[[Principal, str], Awaitable[Answer]]
Snapshot = Callable[[], Awaitable[dict[str, int]]]


async def walk_commands(
    say: Say, platform: Platform, snapshot: Snapshot
) -> dict[tuple[tuple[str, ...], str], Answer]:
    """Every command, by everyone: each refusal the matrix's, changing nothing; no allowance
    refused for the role. The allowed answers, by command and column, for a closer look."""
    t = translator(platform.language)
    facilitator = platform.principals()[2]
    for line in SETUP:
        assert not (await say(facilitator, line)).refused_for_role(t, platform.name), line
    allowed = {}
    for command in REGISTRY.commands:
        line = example(command.words, platform)
        for who in platform.principals():
            want = expected_refusal(command.access, who, t, platform.name)
            if who.elsewhere and command.words in NEEDS_THE_CHANNEL:
                want = refusals(t)["no cohort"]
            before = await snapshot() if want is not None else {}
            got = await say(who, line)
            if want is not None:
                assert want in got.private, (line, who.column, got)
                assert got.refused_for_role(t, platform.name) == [want], (line, who.column, got)
                assert got.public == 0, (line, who.column)
                assert await snapshot() == before, (line, who.column)
            else:
                assert got.refused_for_role(t, platform.name) == [], (line, who.column, got)
                assert got.private.strip() or got.public, (line, who.column)
                allowed[command.words, who.column] = got
    # What went to the channel: the facilitator's theme 2, its quiz, the survey after it and
    # the self-assessment at the end.
    assert {words for (words, _), got in allowed.items() if got.public} == POSTED
    return allowed


POSTED = {("theme", "start"), ("quiz", "start"), ("survey", "open"), ("assess", "open")}


def snapshot_of(store: Store) -> Snapshot:
    """The number of rows in every table but the adapters' own bookkeeping (the events they
    have seen, where Teams takes messages), which they keep for refused requests too."""

    async def snapshot() -> dict[str, int]:
        async with store.transaction() as repos:
            connection = await repos.session.connection()
            names = await connection.run_sync(lambda c: inspect(c).get_table_names())
            kept = sorted(set(names) - BOOKKEEPING)
            query = " UNION ALL ".join(f"SELECT '{n}', count(*) FROM {n}" for n in kept)
            return {str(n): int(c) for n, c in await repos.session.execute(text(query))}

    return snapshot


BOOKKEEPING = {"processed_events", "conversation_addresses", "alembic_version"}

# What an allowed command did, in English, as the neutral walk's people read it: one text
# for everyone allowed, or (for those Digilog knows, for those it does not).
EFFECTS: dict[tuple[str, ...], str | tuple[str, str]] = {
    ("help",): "== Digilog commands ==",
    ("join",): "Grupp 1",
    ("language",): "From now on I will write to you in English.",
    ("timezone",): "Times are shown to you in Europe/Stockholm.",
    ("nudges",): "== Your nudges ==",
    ("hours",): "Mon–Fri 08–17",
    ("theme",): "1. Why there is such a focus on digital transformation (started, quiz open)",
    ("theme", "show"): "== Theme 1: Why there is such a focus on digital transformation ==",
    ("reflect",): "Saved in the reflection bank as #",
    ("bank",): "The films made me think",
    ("needs",): "“My needs inventory” is saved in the reflection bank",
    ("plan",): "“My plan for change” is saved in the reflection bank",
    ("survey",): ":theme:1: Survey after theme 1]",  # its form
    ("assess",): ":assessment:start: Self-assessment at the start]",
    ("schedule",): "== Calendar ==",
    ("quiz",): "== Question 1 of 8 ==",
    ("buddies",): "You will be paired with a learning buddy from another organisation.",
    ("labs",): "**Handling information** (hantera-information)",
    ("lab", "signup"): "You have a seat at Handling information",
    ("lab", "cancel"): "You are no longer signed up for Handling information",
    ("lab", "ics"): "[file hantera-information-1.ics]",
    ("theme", "start"): "Theme 2 has started and its digilog is open.",
    ("quiz", "start"): "The quiz for theme 2 is open.",
    ("quiz", "close"): "The quiz for theme 2 is closed.",
    ("survey", "open"): "“Survey after theme 2” is open.",
    ("survey", "close"): "“Survey after theme 2” is closed.",
    ("survey", "results"): "== Survey after theme 1 ==",
    ("assess", "open"): "“Self-assessment at the end” is open.",
    ("assess", "close"): "“Self-assessment at the end” is closed.",
    ("assess", "results"): "== Self-assessment: start and end ==",
    ("results",): "== Quiz results: theme 1 ==",
    ("report",): "== Report ==",
    ("digest",): "== Digest of the digilog, theme 1",
    ("task",): "== Reflection task, theme 1 ==",
    # A participant is refused by the feature, the support function and facilitators are
    # shown the summary: both name it.
    ("needs", "summary"): "the needs inventories",
    ("pair",): "== Learning buddies for theme 1 ==",
    ("pair", "add"): "No learning buddies have been announced for that yet.",
    ("pair", "remove"): "No learning buddies have been announced for that yet.",
    ("pair", "pin"): "Anna and Björn Öberg will always be paired.",
    ("pair", "forbid"): "Anna and Cecilia Åström will not be paired.",
    ("pair", "clear"): "Anna and Cecilia Åström are paired like anyone else again.",
    ("lab", "attendees"): "== Handling information · ",
    ("lab", "attended"): "has not taken place yet.",
    ("lab", "absent"): "has not taken place yet.",
    ("enrol",): "New Comer is enrolled as participant from Umeå Municipality.",
    ("export",): "[file digilog-grupp-1-reflections.csv]",
    # The walk's cohort has no calendar: these say so, and change nothing.
    ("attendance",): "The calendar has no workshops, local meetings or events yet.",
    ("attendance", "mine"): "No attendance has been marked for you yet.",
    ("attendance", "here"): "There is no gathering 1:workshop.",
    ("attendance", "export"): "[file digilog-grupp-1-attendance.csv]",
    ("events",): "The calendar has no events.",
    ("event", "register"): "There is no event motesplats.",
    ("event", "cancel"): "There is no event motesplats.",
    ("event", "ics"): "There is no event motesplats.",
    ("event", "registered"): "There is no event motesplats.",
    ("schedule", "move"): "The calendar has no 2:quiz_close.",
    ("nudge",): "== Nudge preview ==",
    ("nudges", "resume"): "Nudges to Anna are on again.",
    ("nudges", "stop"): "Nudges to Anna are stopped",
    ("members",): "== People in Grupp 1 ==",
    ("failures",): "== Actions that did not go through ==",
    # Someone of another workspace with the facilitator's user id gets nothing of hers.
    ("mydata",): ("[file digilog-my-data-", "Digilog stores nothing about you."),
    ("forget",): ("== Erase your data ==", "Digilog stores nothing about you."),
}


# ---------------------------------------------------------------- the neutral path


@dataclass
class Neutral:
    """Digilog.handle with console actors: the console's own path, and tests/chat.py's."""

    digilog: Digilog
    store: Store
    platform: Platform = CONSOLE

    def actor(self, who: Principal) -> Actor:
        workspace = self.platform.other_workspace if who.elsewhere else self.platform.workspace
        return Actor(self.platform.name, workspace, who.user, who.user.title(), "en-GB")

    def where(self, who: Principal, channel: str | None = None) -> Conversation:
        actor = self.actor(who)
        return Conversation(actor.platform, actor.workspace, channel or self.platform.channel)

    async def send(self, event: Inbound) -> Answer:
        return answer_of(await self.digilog.handle(event))

    async def say(self, who: Principal, line: str, channel: str | None = None) -> Answer:
        return await self.send(CommandReceived(self.actor(who), self.where(who, channel), line))

    async def click(self, who: Principal, action_id: str, channel: str | None = None) -> Answer:
        return await self.send(ChoiceMade(self.actor(who), self.where(who, channel), action_id))

    async def submit(
        self, who: Principal, form_id: str, values: dict[str, str], channel: str | None = None
    ) -> Answer:
        event = FormSubmitted(self.actor(who), self.where(who, channel), form_id, values)
        return await self.send(event)

    async def ids(self) -> tuple[int, dict[str, int]]:
        """grupp-1's id, and the people's ids by user id."""
        async with self.store.transaction() as repos:
            cohort = await repos.cohorts.by_key("grupp-1")
            assert cohort is not None
            query = select(Person).where(Person.workspace == self.platform.workspace)
            people = await repos.session.scalars(query)
            return cohort.id, {str(person.user_id): person.id for person in people}


@pytest.fixture
async def neutral(store: Store, programme: Programme) -> Neutral:
    await two_cohorts(store, programme, CONSOLE)
    return Neutral(Digilog(store), store)


def test_the_walks_cover_the_whole_matrix() -> None:
    """Every column of the matrix has someone to walk it; every command an example."""
    for platform in (CONSOLE, SLACK, TEAMS):
        walked = [(who.column, who.standing) for who in platform.principals()]
        assert walked == list(access.PRINCIPALS)
    everything = {command.words for command in REGISTRY.commands}
    assert set(EXAMPLES) == everything
    assert set(EFFECTS) == everything


async def test_every_command_by_everyone_on_the_neutral_path(
    neutral: Neutral, store: Store
) -> None:
    allowed = await walk_commands(neutral.say, CONSOLE, snapshot_of(store))
    for command in REGISTRY.commands:
        for who in CONSOLE.principals():
            if (command.words, who.column) not in allowed:
                continue
            effect = EFFECTS[command.words]
            if isinstance(effect, tuple):
                effect = effect[who.standing is Standing.unknown]
            assert effect in allowed[command.words, who.column].private, (command.words, who)
    async with store.transaction() as repos:
        assert await repos.people.by_account("console", CONSOLE.other_workspace, "fia") is None


def console_answer(printed: str, t: Translator) -> Answer:
    """What the console printed for one line: what it showed the person alone, and how many
    messages went to a channel or to other people (by the header above each message)."""
    cut = "\0"
    channel = t("[Digilog in #{channel}]", channel=cut).split(cut)[0]
    others = (
        t("[Digilog → {name}, direct message]", name=cut).split(cut)[1],
        t("[Digilog → {names}, a group conversation]", names=cut).split(cut)[1],
    )
    private, public = [], 0
    for block in ("\n" + printed).split("\n["):
        head = "[" + block.split("\n", 1)[0]
        if head.startswith(channel) or head.endswith(others):
            public += 1
        else:
            private.append("[" + block)
    return Answer("\n".join(private), public)


async def test_every_command_by_everyone_in_the_console(
    neutral: Neutral, store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The console adapter itself (`digilog console`, `as USER` then the command). The
    console has one workspace: the user of another one is walked on the neutral path."""
    monkeypatch.chdir(tmp_path)  # the console saves files (exports, mydata) where it runs
    async with store.transaction() as repos:
        cohort = await repos.cohorts.by_key("grupp-1")
    assert cohort is not None
    out = io.StringIO()
    console = Console(neutral.digilog, store, cohort, "fia", out=out, echo=False)
    await console.load_names()
    t = translator(CONSOLE.language)

    async def say(who: Principal, line: str) -> Answer:
        if who.elsewhere:
            return await neutral.say(who, line)
        console.user_id = who.user
        start = len(out.getvalue())
        await console.line(line)
        printed = out.getvalue()[start:]
        if "`cancel`: stop" in printed:  # a form asks its first field: leave it unanswered
            await console.line("cancel")
        return console_answer(printed, t)

    await walk_commands(say, CONSOLE, snapshot_of(store))


async def test_help_lists_exactly_what_the_matrix_allows(neutral: Neutral) -> None:
    row = re.compile(r"^ {4}(?P<title>\S.*?) {2,}(?P<names>\S.*)$", re.MULTILINE)
    for who in CONSOLE.principals():
        shown = (await neutral.say(who, "help")).private
        listed = {name for m in row.finditer(shown) for name in m["names"].split(", ")}
        allowed = {
            " ".join(c.words)
            for c in REGISTRY.commands
            if access.allows(c.access, who.standing) and c.words != ("help",)
        }
        assert listed == allowed, who.column
        for words in allowed:  # and `help COMMAND` gives that command's usage
            usage = next(c.usage for c in REGISTRY.commands if " ".join(c.words) == words)
            assert usage in (await neutral.say(who, f"help {words}")).private, (who, words)


# ---------------------------------------------------------------- buttons and forms


@dataclass(frozen=True)
class Use:
    """A button pressed, or a form sent (with `fields`), and what the first person allowed to
    is told. `{c}` is grupp-1's id, `{group}` Anna's learning buddies', `{anna_id}` hers."""

    template: str
    effect: str
    fields: dict[str, str] | None = None

    def act(self, values: dict[str, Any]) -> ButtonKind | FormKind:
        identifier = self.template.format(**values)
        found = REGISTRY.button(identifier) if self.fields is None else REGISTRY.form(identifier)
        assert found is not None, identifier
        return found

    def event(self, values: dict[str, Any]) -> Callable[[Actor, Conversation], Inbound]:
        identifier = self.template.format(**values)
        if self.fields is None:
            return partial(ChoiceMade, action_id=identifier)
        return partial(FormSubmitted, form_id=identifier, values=self.fields)


# Every kind of button and form, used by everyone in this order: the learning buddies are
# announced before "We met"; joining and erasing change who people are, so they come last.
USES = (
    Use("quiz:{c}-1:begin", "== Question 1 of 8 =="),
    Use("nudge:{c}:1:post:-:walk", "The nudge goes to 3 people"),
    Use("pair:{c}:1:7", "1 group announced."),
    Use("outbox:{c}:names", "Nobody: nothing failed or is held up."),
    Use("met:{c}:{group}", "Noted: you met. Thank you!"),
    Use("meeting:{c}:needs", "[form meeting:{c}:needs: My needs inventory]"),
    Use("lab:{c}:signup:" + LAB + ":1", "You have a seat at Handling information"),
    Use("reflect:{c}:1", "[form reflect:{c}: Write a reflection]"),
    Use("attend:{c}:{anna_id}:present:theme:1:workshop", "no longer on the calendar"),
    Use("here:{c}:theme:1:workshop", "no longer on the calendar"),
    Use("event:{c}:ics:motesplats", "There is no event motesplats."),
    Use("digest:{c}:1", "== Digest of the digilog, theme 1"),
    Use("task:{c}:1:buddy", "== Reflection task, theme 1 =="),
    Use("taskwho:{c}:1", "You do it with Eva Ek.", {"name": "Eva Ek"}),
    Use(
        "taskfound:{c}:1",
        "the reflection task of theme 1 is done",
        {"text": "Three likenesses", "visibility": "private"},
    ),
    Use("survey:{c}:theme:1", "[form survey:{c}:theme:1: Survey after theme 1]"),
    Use(
        "reflect:{c}",
        "Saved in the reflection bank as #",
        {"theme": "1", "visibility": "private", "text": "Written in a form"},
    ),
    Use(
        "meeting:{c}:plan",
        "“My plan for change” is saved in the reflection bank",
        {"text": "One digital meeting a week", "visibility": "facilitators"},
    ),
    Use(
        "survey:{c}:theme:1",
        "Thank you! Your answers to “Survey after theme 1” are saved.",
        {"useful": "4", "buddy": "5", "comment": "Good"},
    ),
    Use("join:{c}:umea", "You are already in Grupp 1"),
    Use("forget:{c}:{anna_id}:keep", "Everything Digilog stored about you is erased."),
)
# What a feature says when the button or form is not for this person or this cohort:
# finer than the matrix, and as much a refusal.
FINER = (
    "That button belongs to another cohort.",
    "That quiz belongs to another cohort.",
    "That form belongs to another cohort.",
    "Only the buddies of this group can say they met.",
    "Only the person who asked to be forgotten can press that button.",
)


def test_every_button_and_form_kind_is_used() -> None:
    values = {"c": 1, "group": 1, "anna_id": 1}
    buttons = {use.act(values).kind for use in USES if use.fields is None}
    forms = {use.act(values).kind for use in USES if use.fields is not None}
    assert buttons == {act.kind for act in REGISTRY.buttons}
    assert forms == {act.kind for act in REGISTRY.forms}
    # The features' own prefixes are the matrix's kinds.
    assert REGISTRY.form(surveys.PREFIX) is not None and REGISTRY.button(surveys.PREFIX)
    assert REGISTRY.form(meetings.PREFIX) is not None and REGISTRY.button(meetings.PREFIX)
    assert REGISTRY.form(bank.FORM_PREFIX) is not None
    assert REGISTRY.button(f"{personal_data.PREFIX}:0:1:all") is not None


async def test_every_button_and_form_by_everyone_on_the_neutral_path(
    neutral: Neutral, store: Store
) -> None:
    fia = CONSOLE.principals()[2]
    for line in (*SETUP, "pair 1 --seed 7"):
        await neutral.say(fia, line)
    cohort_id, person_ids = await neutral.ids()
    values: dict[str, Any] = {"c": cohort_id, "anna_id": person_ids["anna"], "group": 0}
    for use in USES:
        if use.template.startswith("met:"):
            values["group"] = await group_of(store, person_ids["anna"])
        effect = use.effect.format(**values)
        await walk_one(neutral, use.act(values), use.event(values), effect, snapshot_of(store))


async def walk_one(
    neutral: Neutral,
    act: access.Act,
    event: Callable[[Actor, Conversation], Inbound],
    effect: str,
    snapshot: Snapshot,
) -> None:
    """One button or form, used by everyone: refused as the matrix says, changing nothing;
    allowed otherwise (the first one allowed is told `effect`). And used by a facilitator of
    another cohort in their own cohort's channel, where it is not theirs."""
    t = translator("en")
    gus = CONSOLE.principals()[3]
    before = await snapshot()
    theirs = await neutral.send(
        event(neutral.actor(gus), neutral.where(gus, CONSOLE.other_channel))
    )
    assert [r for r in [*FINER, *refusals(t).values()] if r in theirs.private], (act, theirs)
    assert theirs.public == 0 and await snapshot() == before, act
    first = True
    for who in CONSOLE.principals():
        want = expected_refusal(act.access, who, t)
        if who.elsewhere and act.kind == "join":
            want = refusals(t)["no cohort"]
        before = await snapshot()
        got = await neutral.send(event(neutral.actor(who), neutral.where(who)))
        if want is not None:
            assert got.refused_for_role(t) == [want], (act.kind, who.column, got)
            assert got.public == 0 and await snapshot() == before, (act.kind, who.column)
            continue
        assert got.refused_for_role(t) == [], (act.kind, who.column, got)
        if first:
            assert effect in got.private, (act.kind, who.column, got)
            first = False


async def group_of(store: Store, person_id: int) -> int:
    async with store.transaction() as repos:
        query = select(BuddyMember.group_id).where(BuddyMember.person_id == person_id)
        group = await repos.session.scalar(query)
    assert group is not None, "the learning buddies were not announced"
    return int(group)


# ---------------------------------------------------------------- Slack and Teams


def strings(node: Any) -> list[str]:
    """Every text in a payload Slack or Teams was sent."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in strings(value)]
    return []


@dataclass
class Served:
    """`digilog serve` for one platform, and what the platform's fake was sent."""

    http: aiohttp.ClientSession
    url: str
    drained: Callable[[], Awaitable[None]]


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Served]:
    async with serve(settings) as server, aiohttp.ClientSession() as http:
        # A walk sends a person's commands faster than anyone types: no slowing down here.
        server.app[RUNTIME].digilog.pace = PerPerson(burst=1_000_000)
        yield Served(http, str(server.make_url("/")), server.app[WORK].drained)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_every_command_by_everyone_in_slack(
    database_url: str, store: Store, programme: Programme, tmp_path: Path
) -> None:
    await two_cohorts(store, programme, SLACK)
    responses = itertools.count(1)
    async with FakeSlack() as fake:
        for user in SLACK.ids.values():
            fake.users[user] = {"real_name": user.title(), "locale": "sv-SE"}
        async with serving(serve_settings(database_url, tmp_path, slack=fake)) as served:

            async def say(who: Principal, line: str) -> Answer:
                team = SLACK.other_workspace if who.elsewhere else SLACK.workspace
                url = fake.response_url(f"walk-{next(responses)}")
                request = p.slash_command(
                    line, user=who.user, team=team, channel=SLACK.channel, response_url=url
                )
                before = len(fake.calls)
                async with served.http.post(
                    served.url + "slack/events",
                    data=request.body.encode(),
                    headers=request.headers(SLACK_SECRET),
                ) as response:
                    assert response.status == 200
                await served.drained()
                calls = fake.calls[before:]
                public = [
                    c
                    for c in calls
                    if c.method == "chat.postMessage" and c.params.get("channel") == SLACK.channel
                ]
                told = [c for c in calls if c not in public and c.method != "users.info"]
                private = [s for c in told for s in strings(c.params)]
                return Answer("\n".join(private), len(public))

            await walk_commands(say, SLACK, snapshot_of(store))
    async with store.transaction() as repos:
        assert await repos.people.by_account("slack", SLACK.other_workspace, "U_FIA") is None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_every_command_by_everyone_in_teams(
    database_url: str, store: Store, programme: Programme, tmp_path: Path
) -> None:
    await two_cohorts(store, programme, TEAMS)
    activities = itertools.count(1)
    connector = FakeConnector(APP_ID, "app-secret")
    # The app serves the fake's tenant, TENANT: TEAMS.workspace, grupp-1's and grupp-2's.
    async with (
        connector.running(),
        serving(serve_settings(database_url, tmp_path, teams=connector)) as served,
    ):
        with SIGNER.serving_keys():

            async def say(who: Principal, line: str) -> Answer:
                tenant = TEAMS.other_workspace if who.elsewhere else TEAMS.workspace
                body = {
                    "type": "message",
                    "id": f"walk-{next(activities)}",
                    "channelId": "msteams",
                    "serviceUrl": connector.service_url,
                    "from": {"id": who.user, "name": who.user, "aadObjectId": who.user},
                    "recipient": {"id": BOT, "name": "Digilog"},
                    "conversation": {
                        "id": TEAMS.channel,
                        "conversationType": "channel",
                        "isGroup": True,
                        "tenantId": tenant,
                    },
                    "locale": "en-GB",
                    "channelData": {"tenant": {"id": tenant}, "team": {"id": "19:team"}},
                    "text": f"<at>Digilog</at> {line}",
                    "entities": [
                        {
                            "type": "mention",
                            "mentioned": {"id": BOT, "name": "Digilog"},
                            "text": "<at>Digilog</at>",
                        }
                    ],
                }
                token = SIGNER.token(audience=APP_ID, service_url=connector.service_url)
                before = len(connector.calls)
                async with served.http.post(
                    served.url + "api/messages",
                    json=body,
                    headers={"Authorization": f"Bearer {token}"},
                ) as response:
                    assert response.status == 200
                await served.drained()
                calls = connector.calls[before:]
                public = [c for c in calls if c.conversation_id == TEAMS.channel]
                private = [s for c in calls if c not in public for s in strings(c.body)]
                return Answer("\n".join(private), len(public))

            await walk_commands(say, TEAMS, snapshot_of(store))
    async with store.transaction() as repos:
        assert await repos.people.by_account("teams", TEAMS.other_workspace, "29:fia") is None


# ---------------------------------------------------------------- the administrator


def cli_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found |= cli_commands(command, (*prefix, name))
        else:
            found.add((*prefix, name))
    return found


def test_the_administrators_acts_are_the_digilog_commands() -> None:
    """Every `digilog` subcommand is in the matrix: a new one must say who may run it."""
    assert cli_commands(cli) == {act.words for act in access.ADMINISTRATOR_ACTS}, (
        "add it to ADMINISTRATOR_ACTS in handlers/core/access.py; then docs/role_matrix.py"
    )


def test_no_chat_command_is_an_administrators_act() -> None:
    chat = {command.words: command for command in REGISTRY.commands}
    for act in access.ADMINISTRATOR_ACTS:
        found, _ = REGISTRY.find(" ".join(act.words) + " grupp-1")
        if act.in_chat is None:
            # Nothing, or a chat command of the first word alone (`schedule load` is
            # `schedule`, which shows one's own calendar).
            assert found is None or found.words != act.words, act
        else:
            words, _ = act.in_chat
            assert words in chat, act  # the smaller counterpart, in the matrix's rows
    # The only role change in chat: a facilitator's enrol with --facilitator or --support.
    roles = {role.value for role in Role} - {Role.participant.value}
    changing = [c.words for c in REGISTRY.commands if roles & set(c.flags)]
    assert changing == [("enrol",)]
    assert chat["enrol",].access is Access.facilitator


async def test_a_chat_user_cannot_reach_an_administrators_act(
    neutral: Neutral, store: Store
) -> None:
    """The acts in chat, typed by the cohort's facilitator: unknown commands, or the first
    word's own (cohort-scoped) command; no administrator act is done."""
    fia = CONSOLE.principals()[2]
    lines = {
        ("person", "erase"): "person erase --platform console --workspace local --user-id anna",
        ("person", "export"): "person export --email anna@example.org",
        ("cohort", "enrol"): "cohort enrol grupp-2 --org umea --user-id fia --role facilitator",
        ("cohort", "create"): "cohort create grupp-3 --program digital-kompetens --title X",
        ("cohort", "import"): "cohort import grupp-2 roster.csv",
        ("secrets", "rotate"): "secrets rotate",
        ("db", "backup"): "db backup copy.db",
        ("audit",): "audit",
        ("retention", "run"): "retention run",
    }
    snapshot = snapshot_of(store)
    for words, line in lines.items():
        assert words in {act.words for act in access.ADMINISTRATOR_ACTS}
        before = await snapshot()
        got = await neutral.say(fia, line)
        assert f"I don't know the command “{words[0]}”." in got.private, line
        assert got.public == 0 and await snapshot() == before, line


async def test_only_a_facilitator_of_the_cohort_changes_a_role_in_chat(
    neutral: Neutral, store: Store
) -> None:
    t = translator("en")
    said = refusals(t)
    anna, sara, fia, gus, dora, stranger = CONSOLE.principals()

    async def role(user: str, cohort: str = "grupp-1") -> Role | None:
        async with store.transaction() as repos:
            person = await repos.people.by_account("console", "local", user)
            found = await repos.cohorts.by_key(cohort)
            assert found is not None
            member = await repos.people.member(found.id, person.id) if person else None
            return member.membership.role if member else None

    tries = (
        (anna, "enrol anna umea --facilitator", said["facilitator"]),
        (sara, "enrol sara umea --facilitator", said["facilitator"]),
        (gus, "enrol gus pitea --facilitator", said["not a member"]),
        (dora, "enrol dora umea --facilitator", said["not a member"]),
        (stranger, "enrol fia umea --facilitator --in grupp-1", said["no cohort"]),
    )
    for who, line, refusal in tries:
        assert (await neutral.say(who, line)).private.strip() == refusal, line
    # From a direct message, naming the cohort: not theirs either.
    got = await neutral.say(gus, "enrol gus pitea --facilitator --in grupp-1", "dm-gus")
    assert got.private.strip() == said["no cohort"]
    assert await role("anna") is Role.participant and await role("sara") is Role.support
    assert await role("gus") is None and await role("dora") is None
    assert await role("fia", "grupp-2") is None
    # The cohort's facilitator may.
    got = await neutral.say(fia, "enrol sara umea --facilitator")
    assert "now facilitator" in got.private
    assert await role("sara") is Role.facilitator


# ---------------------------------------------------------------- another workspace


async def test_a_user_of_another_workspace_is_never_the_member_with_the_same_id(
    neutral: Neutral, store: Store, programme: Programme
) -> None:
    """User ids are unique per workspace only: `fia` and `anna` of another workspace, even
    in a cohort of their own there, are not grupp-1's fia and anna, by any route."""
    spec = CohortSpec(
        key="grupp-x",
        program_id=programme.id,
        title="Grupp X",
        platform="console",
        workspace=CONSOLE.other_workspace,
        conversation_id=CONSOLE.channel,  # the same channel id as grupp-1's
        language="en",
    )
    await create_cohort(store, spec)
    rows = [
        RosterRow(1, "Other Fia", None, "fia", "umea", Role.facilitator),
        RosterRow(2, "Other Anna", None, "anna", "pitea", Role.participant),
    ]
    await import_roster(store, "grupp-x", rows, skip_bad=False)
    fia = CONSOLE.principals()[2]
    for line in SETUP:
        await neutral.say(fia, line)
    await neutral.say(CONSOLE.principals()[0], "reflect Anna's own thought --facilitators")
    cohort_id, person_ids = await neutral.ids()
    other_fia = Principal("facilitator elsewhere", "fia", Standing.facilitator, True)
    other_anna = Principal("participant elsewhere", "anna", Standing.participant, True)
    snapshot = snapshot_of(store)
    before = await snapshot()

    # In their own channel: their own cohort, none of grupp-1.
    members = (await neutral.say(other_fia, "members")).private
    assert "People in Grupp X" in members and "Lindqvist" not in members
    bank_x = (await neutral.say(other_fia, "bank")).private
    assert "Anna's own thought" not in bank_x
    # In a direct message, naming grupp-1: not theirs.
    no_cohort = refusals(translator("en"))["no cohort"]
    for who, line in (
        (other_fia, "members --in grupp-1"),
        (other_fia, "theme start 2 --in grupp-1"),
        (other_anna, "bank --in grupp-1"),
        (other_anna, "quiz 1 --in grupp-1"),
    ):
        assert (await neutral.say(who, line, "dm")).private.strip() == no_cohort, line
    # grupp-1's buttons and forms, which carry its cohort id, pressed in a direct message.
    for who, action_id in (
        (other_fia, f"nudge:{cohort_id}:1:post:-:x"),
        (other_fia, f"pair:{cohort_id}:1:7"),
        (other_anna, f"quiz:{cohort_id}-1:begin"),
        (other_anna, f"lab:{cohort_id}:signup:{LAB}:1"),
        (other_anna, f"reflect:{cohort_id}:1"),
    ):
        got = await neutral.click(who, action_id, "dm")
        assert got.private.strip() == no_cohort, action_id
    got = await neutral.click(other_anna, f"forget:{cohort_id}:{person_ids['anna']}:all", "dm")
    assert "Only the person who asked to be forgotten" in got.private
    form = await neutral.submit(other_anna, f"reflect:{cohort_id}", {"text": "x"}, "dm")
    assert form.private.strip() == no_cohort
    assert await snapshot() == before
    # Their data is theirs: not grupp-1's anna's.
    mine = await neutral.say(other_anna, "mydata", "dm")
    assert "[file digilog-my-data-" in mine.private
    assert f"digilog-my-data-{person_ids['anna']}.zip" not in mine.private


# ---------------------------------------------------------------- the matrix in the docs


def test_the_markdown_table_is_up_to_date() -> None:
    """docs/role-matrix.md is what `docs/role_matrix.py` prints."""
    written = (ROOT / "docs" / "role-matrix.md").read_text(encoding="utf-8")
    assert written == guide.matrix_markdown(REGISTRY), "run: .venv/bin/python docs/role_matrix.py"
