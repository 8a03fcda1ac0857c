"""Cohorts are sealed (issue #7): nothing of one cohort is visible from another, nor across
workspaces or platforms, by any route a person has.

Four cohorts of the same programme, on SQLite and PostgreSQL:

- A and B meet in two channels of the same console workspace W1;
- C meets in workspace W2, in a channel with A's channel id, and its people have A's
  user ids (`fia`, `anna`, `bjorn`): the same ids, other people;
- D meets in Microsoft Teams, in a tenant that is also called W1, again with A's ids.

Every cohort gets the same kinds of content, each with a word of its own (A's reflections
speak of a zebra, B's of a quokka, C's of an okapi, D's of a lemur) and surnames of its own:
a digilog post and a reply, reflections of every visibility, a needs inventory and a shared
plan for change, quiz answers, survey answers, a self-assessment, learning buddies and lab
seats. Then B's people (and A's namesakes elsewhere) try every route to A's things:
commands, buttons and forms that carry A's cohort id, the home page, their own data, and
posts in A's threads. What they are shown must hold nothing of the others, and A's rows
must be as they were.
"""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import uuid
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from bot.console.render import render
from handlers.admin import CohortSpec, create_cohort, import_roster, load_programme
from handlers.core.limits import PerPerson
from handlers.core.programme_file import Programme
from handlers.core.roster import RosterRow
from handlers.core.vocabulary import (
    Actor,
    Conversation,
    FileMessage,
    Form,
    FormSubmitted,
    HomeOpened,
    MessageSaved,
    Outgoing,
    PostDeleted,
    PostEdited,
    SelectField,
    TextField,
    ThreadPost,
    ToActor,
    ToConversation,
    ToGroup,
    ToHome,
    ToPerson,
)
from handlers.digilog import Digilog
from handlers.labs import session_key
from storage.db import create_engine
from storage.models import (
    AuditEntry,
    Base,
    BuddyGroup,
    BuddyMember,
    BuddyRound,
    CalendarEntry,
    Cohort,
    Membership,
    Person,
    Reflection,
    Role,
    SignupState,
    Source,
    ThemePost,
    ThemeRun,
    Visibility,
)
from storage.reflections import Viewer
from storage.unit import Store
from tests.chat import Chat, Reply
from tests.conftest import POSTGRES_URL, table_names

QUESTIONS = 8  # theme 1's quiz in the example programme
AREAS = ("information", "communication", "content", "safety", "problem-solving", "leading-change")
LAB = "hantera-information"  # session 1 on 2027-02-16
BEFORE_THE_LABS = datetime(2027, 1, 11, 9, 0, tzinfo=UTC)
AFTER_THE_FIRST_LAB = datetime(2027, 2, 17, 9, 0, tzinfo=UTC)
CHANNEL = "general"  # A's channel id; C's and D's too, in their own workspaces


@dataclass(frozen=True)
class Spec:
    name: str
    key: str
    platform: str
    workspace: str
    channel: str
    word: str  # in every text its people write
    surname: str  # of every one of its people
    # user id, first name, organisation, role
    people: tuple[tuple[str, str, str, Role], ...]

    @property
    def facilitator(self) -> str:
        return next(u for u, _, _, r in self.people if r == Role.facilitator)

    @property
    def participants(self) -> list[str]:
        return [u for u, _, _, r in self.people if r == Role.participant]

    def name_of(self, user: str) -> str:
        return next(f"{first} {self.surname}" for u, first, _, _ in self.people if u == user)


SPECS = (
    Spec(
        "A",
        "grupp-a",
        "console",
        "W1",
        CHANNEL,
        "zebra",
        "Apelgren",
        (
            ("fia", "Fia", "region-vasterbotten", Role.facilitator),
            ("anna", "Anna", "umea", Role.participant),
            ("bjorn", "Björn", "pitea", Role.participant),
            ("cecilia", "Cecilia", "skelleftea", Role.participant),
            ("david", "David", "umea", Role.participant),
            ("eva", "Eva", "pitea", Role.participant),
            ("sune", "Sune", "umea", Role.support),
        ),
    ),
    Spec(
        "B",
        "grupp-b",
        "console",
        "W1",
        "lobby",
        "quokka",
        "Bergkvist",
        (
            ("bea", "Bea", "region-vasterbotten", Role.facilitator),
            ("berit", "Berit", "umea", Role.participant),
            ("bosse", "Bosse", "pitea", Role.participant),
            ("britt", "Britt", "skelleftea", Role.participant),
            ("bruno", "Bruno", "umea", Role.participant),
            ("boel", "Boel", "pitea", Role.participant),
            ("bodil", "Bodil", "umea", Role.support),
        ),
    ),
    Spec(
        "C",
        "grupp-c",
        "console",
        "W2",
        CHANNEL,
        "okapi",
        "Carlberg",
        (
            ("fia", "Fia", "region-vasterbotten", Role.facilitator),
            ("anna", "Anna", "umea", Role.participant),
            ("bjorn", "Björn", "pitea", Role.participant),
        ),
    ),
    Spec(
        "D",
        "grupp-d",
        "teams",
        "W1",
        CHANNEL,
        "lemur",
        "Dahlgren",
        (
            ("fia", "Fia", "region-vasterbotten", Role.facilitator),
            ("anna", "Anna", "umea", Role.participant),
            ("bjorn", "Björn", "pitea", Role.participant),
        ),
    ),
)


# ---------------------------------------------------------------- the chat, per cohort


@dataclass
class Room(Chat):
    """The chat backend for one cohort, its people named as the platform names them."""

    spec: Spec = field(kw_only=True)

    def actor(self, user: str) -> Actor:
        known = {u for u, *_ in self.spec.people}
        name = self.spec.name_of(user) if user in known else user.title()
        return Actor(self.cohort.platform, self.cohort.workspace, user, name, self.locale)

    def direct(self, user: str) -> Conversation:
        """The person's direct conversation with Digilog."""
        return Conversation(self.cohort.platform, self.cohort.workspace, f"dm-{user}")

    async def submit_in(
        self, user: str, form_id: str, values: dict[str, str], where: Conversation
    ) -> Reply:
        return await self.send(FormSubmitted(self.actor(user), where, form_id, values))

    async def home(self, user: str) -> Reply:
        return await self.send(HomeOpened(self.actor(user), self.direct(user)))


@dataclass
class Clock:
    now: datetime = BEFORE_THE_LABS

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    store: Store
    digilog: Digilog
    clock: Clock
    rooms: dict[str, Room]
    groups: dict[str, list[int]] = field(default_factory=dict)  # buddy group ids

    def __getitem__(self, name: str) -> Room:
        return self.rooms[name]

    def id(self, name: str) -> int:
        return self.rooms[name].cohort.id


def world_in(store: Store) -> World:
    clock = Clock()
    # Buttons and forms come in quickly from the same people: no slowing down here.
    digilog = Digilog(store, now=clock, pace=PerPerson(burst=100_000))
    return World(store, digilog, clock, {})


async def make_room(store: Store, digilog: Digilog, programme: Programme, spec: Spec) -> Room:
    """The cohort, its channel and its people (a roster, as an administrator imports it)."""
    await load_programme(store, programme)
    cohort = await create_cohort(
        store,
        CohortSpec(
            key=spec.key,
            program_id=programme.id,
            title=spec.key.replace("-", " ").title(),
            platform=spec.platform,
            workspace=spec.workspace,
            conversation_id=spec.channel,
            language="en",
        ),
    )
    rows = [
        RosterRow(n, spec.name_of(user), None, user, organisation, role)
        for n, (user, _, organisation, role) in enumerate(spec.people, start=1)
    ]
    created, problems = await import_roster(store, spec.key, rows, skip_bad=False)
    assert not problems and created == len(rows)
    return Room(digilog, cohort, locale="en-GB", spec=spec)


async def fill(store: Store, room: Room, spec: Spec, *, assessment: bool) -> list[int]:
    """Everything a cohort does in theme 1, each text with the cohort's word; returns the
    ids of its learning-buddy groups. One of each kind through Digilog, as people do it;
    the rest of the answers straight into the repositories, which is quicker."""
    w, lead, (first, second, *others) = spec.word, spec.facilitator, spec.participants
    cohort = room.cohort.id
    await room.say(lead, "theme start 1")
    # The same platform message ids in every cohort: each is looked up in its own.
    await room.post(first, 1, f"The {w} way of leading starts with listening.", message_id="m-1")
    await room.post(second, 1, f"A {w} agrees: listening first.", reply_to="m-1", message_id="m-2")
    for user, line in (
        (first, f"reflect Only I know of the {w} in my team."),
        (first, f"reflect --facilitators The {w} problem is our budget."),
        (second, f"reflect --cohort Everyone may read of my {w}."),
        (second, f"needs A {w} needs inventory: data literacy."),
        (first, f"plan --share My {w} plan: a digital service desk by June."),
    ):
        reply = await room.say(user, line)
        assert "Saved in the reflection bank" in reply.text or "is saved" in reply.text
    await room.say(lead, "quiz start 1")
    assert "Right!" in (await room.click(first, f"quiz:{cohort}-1:0:0")).text
    await room.say(lead, "survey open 1")
    comment = {"useful": "4", "buddy": "3", "comment": f"The {w} film by {first} was good."}
    assert "Thank you" in (await room.submit(first, f"survey:{cohort}:theme:1", comment)).text
    preview = await room.say(lead, "pair 1 --seed 7")
    [announce] = [o.action_id for o in preview.options if o.action_id.startswith("pair:")]
    announced = await room.click(lead, announce)
    met = [o.action_id for o in announced.options if o.action_id.startswith("met:")]
    assert met, announced.text
    assert "Noted" in (await room.click(first, met[0])).text
    for user in (first, second):
        assert "You have a seat" in (await room.say(user, f"lab signup {LAB} 1")).text

    async with store.transaction() as repos:
        people = {m.person.user_id: m.person.id for m in await repos.people.members(cohort)}
        for user in (first, second):  # both finish the quiz, all right
            for question in range(QUESTIONS):
                await repos.quizzes.answer(cohort, people[user], 1, question, 0, True)
        for user in (second, *others):
            said = f"The {w} film by {user} was good."
            answers = {"useful": (4, None), "buddy": (3, None), "comment": (None, said)}
            await repos.surveys.save(cohort, "theme:1", people[user], answers, BEFORE_THE_LABS)
        if assessment:
            for round_, rating in (("start", 2), ("end", 4)):
                key = f"assessment:{round_}"
                await repos.surveys.open(cohort, key, BEFORE_THE_LABS)
                for user in spec.participants:
                    mine = dict.fromkeys(AREAS, (rating, None))
                    await repos.surveys.save(cohort, key, people[user], mine, BEFORE_THE_LABS)
                await repos.surveys.close(cohort, key, BEFORE_THE_LABS)
    return sorted({int(action.rsplit(":", 1)[1]) for action in met})


@dataclass(frozen=True)
class Built:
    """The four cohorts, built once per kind of database; each test gets a copy."""

    url: str
    cohorts: dict[str, Cohort]
    posts: dict[str, dict[int, str]]  # theme → its post's message id, per cohort
    groups: dict[str, list[int]]


async def build(url: str, programme: Programme) -> Built:
    """The four cohorts and all they did, in the database at `url`."""
    engine = create_engine(url)
    try:
        store = Store(engine)
        world = world_in(store)
        for spec in SPECS:
            world.rooms[spec.name] = await make_room(store, world.digilog, programme, spec)
        for spec in SPECS:
            world.groups[spec.name] = await fill(
                store, world[spec.name], spec, assessment=spec.name in ("A", "B")
            )
        async with store.transaction() as repos:
            # A's calendar, with a place of its own; and A's Anna, whose nudges had paused.
            workshop = CalendarEntry(
                key="theme:1:workshop",
                kind="workshop",
                theme_number=1,
                starts_at=datetime(2027, 1, 20, 9, 0, tzinfo=UTC),
                ends_at=datetime(2027, 1, 20, 11, 0, tzinfo=UTC),
                place={"en": "The zebra hall", "sv": "Zebrasalen"},
            )
            await repos.calendar.replace(world.id("A"), [workshop])
            anna = await repos.people.by_account("console", "W1", "anna")
            assert anna is not None
            anna.nudges_paused_at = datetime(2027, 1, 1, tzinfo=UTC)
    finally:
        await engine.dispose()
    rooms = world.rooms.items()
    return Built(
        url,
        {name: room.cohort for name, room in rooms},
        {name: dict(room.posts) for name, room in rooms},
        world.groups,
    )


async def _postgres(statement: str) -> None:
    """CREATE or DROP a database, on the server the PostgreSQL tests use."""
    assert POSTGRES_URL is not None
    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def _copy_of(url: str, name: str) -> str:
    """CREATE DATABASE name TEMPLATE url's database: a copy in a tenth of a second."""
    source = make_url(url)
    asyncio.run(_postgres(f'CREATE DATABASE "{name}" TEMPLATE "{source.database}"'))
    return source.set(database=name).render_as_string(hide_password=False)


def _drop(name: str) -> None:
    asyncio.run(_postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, programme: Programme
) -> Iterator[Built]:
    """Building the cohorts takes a second; copying the database a test needs, much less."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("isolation") / "built.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield asyncio.run(build(f"sqlite+aiosqlite:///{path}", programme))
        return
    # A copy of the test run's migrated database (emptied: earlier tests leave rows).
    migrated: str = request.getfixturevalue("postgres_database")
    name = f"{make_url(migrated).database}_isolation"
    url = _copy_of(migrated, name)
    try:

        async def empty_and_build() -> Built:
            engine = create_engine(url)
            try:
                async with engine.begin() as connection:
                    tables = ", ".join(await table_names(connection))
                    await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            finally:
                await engine.dispose()
            return await build(url, programme)

        yield asyncio.run(empty_and_build())
    finally:
        _drop(name)


@pytest.fixture
def database_url(built: Built, tmp_path: Path) -> Iterator[str]:
    """Instead of conftest's empty database: a copy of the built one, for this test alone."""
    if built.url.startswith("sqlite"):
        path = tmp_path / "digilog.db"
        shutil.copy(make_url(built.url).database or "", path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    name = f"{make_url(built.url).database}_{uuid.uuid4().hex[:8]}"
    try:
        yield _copy_of(built.url, name)
    finally:
        _drop(name)


@pytest.fixture
def world(store: Store, built: Built) -> World:
    world = world_in(store)
    for spec in SPECS:
        room = Room(world.digilog, built.cohorts[spec.name], locale="en-GB", spec=spec)
        room.posts.update(built.posts[spec.name])
        world.rooms[spec.name] = room
    world.groups.update(built.groups)
    return world


# ---------------------------------------------------------------- what someone was shown


def _file_text(file: FileMessage) -> str:
    if file.content[:2] == b"PK":  # a zip: mydata
        with zipfile.ZipFile(io.BytesIO(file.content)) as archive:
            return "\n".join(archive.read(n).decode("utf-8") for n in archive.namelist())
    return file.content.decode("utf-8", errors="replace")


def shown(outgoing: Iterable[Outgoing]) -> str:
    """Everything in the messages, forms and files: texts, button ids, file contents."""
    parts: list[str] = []
    for item in outgoing:
        message = item.message
        if isinstance(message, FileMessage):
            parts += [message.filename, message.title, message.comment, _file_text(message)]
        elif isinstance(message, Form):
            parts += [message.form_id, message.title, message.intro or ""]
            for found in message.fields:
                parts += [found.field_id, found.label]
                if isinstance(found, TextField):
                    parts.append(found.initial or "")
                elif isinstance(found, SelectField):
                    parts += [label for _, label in found.options]
        else:
            words, options = render(message)
            parts += [words, *(f"{o.action_id} {o.label}" for o in options)]
    return "\n".join(parts)


def unasked(outgoing: Iterable[Outgoing]) -> str:
    """What was shown, bar the heading that repeats the words someone searched for."""
    lines = shown(outgoing).splitlines()
    return "\n".join(x for x in lines if not x.strip().startswith("== Reflections matching"))


def data_of(reply: Reply) -> dict[str, Any]:
    """The data.json of a `mydata` file."""
    [file] = files(reply)
    with zipfile.ZipFile(io.BytesIO(file.content)) as archive:
        found: dict[str, Any] = json.loads(archive.read("data.json"))
        return found


def files(reply: Reply) -> list[FileMessage]:
    return [o.message for o in reply.outgoing if isinstance(o.message, FileMessage)]


def assert_only_of(world: World, own: str, reply: Reply | list[Reply]) -> str:
    """What was shown holds nothing of the other cohorts: not their words, not their
    people's names, no button of theirs; and it went to nobody of theirs."""
    replies = reply if isinstance(reply, list) else [reply]
    outgoing = [o for r in replies for o in r.outgoing]
    seen = unasked(outgoing)
    for spec in SPECS:
        if spec.name == own:
            continue
        assert spec.word not in seen.lower(), f"{spec.name}'s words shown:\n{seen}"
        assert spec.surname not in seen, f"{spec.name}'s people shown:\n{seen}"
        theirs = world.id(spec.name)
        for action in (o.action_id for r in replies for o in r.options):
            head = action.split(":")[1:2]
            assert head != [str(theirs)] and not action.startswith(f"quiz:{theirs}-"), action
    for item in outgoing:
        assert _reaches(world, item) in (None, own), f"sent to cohort {_reaches(world, item)}"
    return seen


def _reaches(world: World, item: Outgoing) -> str | None:
    """Whose cohort a message goes to (its channel, or someone only that cohort has)."""
    to = item.to
    if isinstance(to, ToActor | ToHome):
        return None
    if isinstance(to, ToConversation):
        where = to.conversation
        for name, room in world.rooms.items():
            channel = room.channel
            if (where.platform, where.workspace, where.conversation_id) == (
                channel.platform,
                channel.workspace,
                channel.conversation_id,
            ):
                return name
        return "?"
    accounts = [(to.platform, to.workspace, to.user_id)] if isinstance(to, ToPerson) else []
    if isinstance(to, ToGroup):
        accounts = [(to.platform, to.workspace, u) for u in to.user_ids]
    owners = {
        name
        for name, room in world.rooms.items()
        for platform, workspace, user in accounts
        if (platform, workspace) == (room.cohort.platform, room.cohort.workspace)
        and user in {u for u, *_ in room.spec.people}
    }
    return owners.pop() if len(owners) == 1 else "?"


# ---------------------------------------------------------------- what is stored


def _row(instance: Any) -> tuple[Any, ...]:
    return tuple(getattr(instance, c.key) for c in instance.__table__.columns)


async def state_of(store: Store, cohort_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every row that is the cohort's: its own tables' rows, its buddy groups and theme
    posts, its people (as persons), its audit entries, and on SQLite its search index."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    async with store.transaction() as repos:
        s = repos.session
        for mapper in Base.registry.mappers:
            model = mapper.class_
            column = model.__table__.c.get("cohort_id")
            if column is not None:
                rows = await s.scalars(select(model).where(column == cohort_id))
                found[model.__tablename__] = sorted((_row(r) for r in rows), key=repr)
        found["cohort"] = [_row(await s.get(Cohort, cohort_id))]
        rounds = select(BuddyRound.id).where(BuddyRound.cohort_id == cohort_id)
        groups = select(BuddyGroup.id).where(BuddyGroup.round_id.in_(rounds))
        runs = select(ThemeRun.id).where(ThemeRun.cohort_id == cohort_id)
        members = select(Membership.person_id).where(Membership.cohort_id == cohort_id)
        for name, query in (
            ("buddy_groups", select(BuddyGroup).where(BuddyGroup.id.in_(groups))),
            ("buddy_members", select(BuddyMember).where(BuddyMember.group_id.in_(groups))),
            ("theme_posts", select(ThemePost).where(ThemePost.run_id.in_(runs))),
            ("people", select(Person).where(Person.id.in_(members))),
        ):
            found[name] = sorted((_row(r) for r in await s.scalars(query)), key=repr)
        audit = select(AuditEntry).where(AuditEntry.cohort_id == cohort_id)
        found["audit"] = sorted((_row(r) for r in await s.scalars(audit)), key=repr)
        if s.get_bind().dialect.name == "sqlite":
            ids = select(Reflection.id).where(Reflection.cohort_id == cohort_id)
            index = await s.execute(
                text("SELECT rowid, form, base, part FROM reflection_search ORDER BY rowid")
            )
            mine = set(await s.scalars(ids))
            found["reflection_search"] = [tuple(r) for r in index if r[0] in mine]
    return found


async def everything(world: World) -> dict[str, dict[str, list[tuple[Any, ...]]]]:
    return {name: await state_of(world.store, world.id(name)) for name in world.rooms}


async def person_id(store: Store, platform: str, workspace: str, user: str) -> int:
    async with store.transaction() as repos:
        found = await repos.people.by_account(platform, workspace, user)
        assert found is not None
        return found.id


# ---------------------------------------------------------------- participants


async def test_a_participant_of_another_cohort_finds_nothing_of_a(world: World) -> None:
    b = world["B"]
    before = await state_of(world.store, world.id("A"))

    # The bank, listed and searched: B's own things, never A's.
    latest = await b.say("berit", "bank")
    assert "quokka" in latest.text.lower()
    for line in (
        "bank zebra",
        "bank zebra listening",
        "bank listening",  # a word both cohorts wrote
        "bank Apelgren",
        "bank --mine",
        "bank --kind plan",
        "bank --kind needs",
        "bank --theme 1 zebra",
        "bank zebra --in grupp-a",  # in B's channel, B's bank
    ):
        reply = await b.say("berit", line)
        assert_only_of(world, "B", reply)
    assert "Nothing found." in (await b.say("berit", "bank zebra")).text
    listening = await b.say("berit", "bank listening")
    assert "quokka" in listening.text.lower()

    # Asking for A's bank by its key, outside any channel: refused, and A is not named.
    for line in ("bank --in grupp-a", "bank zebra --in grupp-a", f"bank --in #{world.id('A')}"):
        reply = await b.say("berit", line, where=b.direct("berit"))
        assert "This conversation is not a cohort's channel." in reply.text
        assert "Grupp A" not in reply.text
        assert_only_of(world, "B", reply)

    # B's support function sees the plans B's own organisation shared, not A's.
    support = await b.say("bodil", "bank --kind plan")
    assert "quokka plan" in support.text.lower()
    assert_only_of(world, "B", support)

    # Everything else a participant can ask for.
    replies = [
        await b.say("berit", line)
        for line in (
            "theme",
            "theme show 1",
            "quiz 1",
            "survey 1",
            "assess --mine",
            "labs",
            "labs --mine",
            "schedule --all",
            "needs",
            "plan",
            "reflect",
            "forget",  # what would be erased: her own rows only
            "help",
        )
    ]
    replies.append(await b.home("berit"))
    replies.append(await b.home("bodil"))
    assert_only_of(world, "B", replies)
    assert "Grupp B" in shown(replies[-2].outgoing)

    # Her own data: her cohort, her reflections, nobody else's.
    mydata = await b.say("berit", "mydata", where=b.direct("berit"))
    assert_only_of(world, "B", mydata)
    data = data_of(mydata)
    assert data["person"][0]["id"] == await person_id(world.store, "console", "W1", "berit")
    assert [m["cohort"] for m in data["memberships"]] == ["grupp-b"]
    assert {r["cohort"] for r in data["reflections"]} == {"grupp-b"}
    assert all("quokka" in r["body"] for r in data["reflections"])

    assert await state_of(world.store, world.id("A")) == before


# ---------------------------------------------------------------- facilitators


async def test_a_facilitator_of_another_cohort_sees_only_their_own(world: World) -> None:
    b = world["B"]
    before = await state_of(world.store, world.id("A"))

    members = await b.say("bea", "members")
    assert "7 people" in members.text
    results = await b.say("bea", "results 1")
    assert "2 of 5 participants have answered." in results.text
    survey = await b.say("bea", "survey results 1")
    assert "5 have answered." in survey.text and "quokka film" in survey.text
    assessment = await b.say("bea", "assess results")
    assert "5 people have rated themselves at both the start and the end." in assessment.text
    report = await b.say("bea", "report")
    assert "2 of 5 in the digilog" in report.text and "quiz 2 of 5" in report.text
    attendees = await b.say("bea", f"lab attendees {LAB} 1")
    assert "Berit Bergkvist" in attendees.text and "Bosse Bergkvist" in attendees.text
    exports = [
        await b.say("bea", line) for line in ("export", "export json", "export csv --pseudonymised")
    ]
    [csv_file] = files(exports[0])
    # All of B's seven reflections but the private one.
    assert csv_file.comment == "6 reflections, exported for you."
    assert "quokka" in _file_text(csv_file).lower()
    others = [
        await b.say("bea", line)
        for line in (
            "schedule --all",
            "bank",
            "bank zebra",
            "bank --kind plan",
            "pair 1 --seed 3",
            "pair --seed 3",
            "nudge 1 quiz",
            "theme",
        )
    ]
    others.append(await b.home("bea"))
    for reply in (members, results, survey, assessment, report, attendees, *exports, *others):
        assert_only_of(world, "B", reply)
    assert "quokka" in (await b.say("bea", "bank")).text.lower()

    # Naming A's people (user ids of B's own workspace): not in this cohort.
    world.clock.now = AFTER_THE_FIRST_LAB
    for line, refusal in (
        ("pair add anna 1", "anna is not a participant of this cohort."),
        ("pair remove anna 1", "anna is not a participant of this cohort."),
        ("pair pin anna berit", "anna is not a participant of this cohort."),
        ("pair forbid berit bjorn", "bjorn is not a participant of this cohort."),
        ("pair clear anna bjorn", "anna is not a participant of this cohort."),
        (f"lab attended {LAB} 1 anna", "anna is not in this cohort."),
        (f"lab absent {LAB} 1 bjorn", "bjorn is not in this cohort."),
        (f"lab attended {LAB} 1 berit anna", "anna is not in this cohort."),
        ("nudges resume anna", "anna is not in this cohort."),
        ("nudges resume fia", "fia is not in this cohort."),
        ("schedule move 1:workshop 2027-01-21 09:00", "The calendar has no 1:workshop."),
    ):
        reply = await b.say("bea", line)
        assert refusal in reply.text, (line, reply.text)
        assert_only_of(world, "B", reply)
    assert await state_of(world.store, world.id("A")) == before

    # Enrolling someone of the workspace who is in A as well: they join B, and nothing
    # of A changes: not their name, not their membership there, not A's bank.
    enrolled = await b.say("bea", "enrol anna umea")
    assert "is enrolled as participant from Umeå Municipality." in enrolled.text
    assert "zebra" not in enrolled.text.lower()
    assert await state_of(world.store, world.id("A")) == before
    members = await b.say("bea", "members")
    assert "8 people" in members.text
    for line in ("bank", "bank zebra", "export json", "report", "results 1"):
        reply = await b.say("bea", line)
        assert "zebra" not in unasked(reply.outgoing).lower()
    # Anna herself, now in two cohorts, still sees each cohort's bank from its channel.
    assert "quokka" in (await b.say("anna", "bank")).text.lower()
    assert "zebra" not in (await b.say("anna", "bank")).text.lower()
    assert "zebra" in unasked((await world["A"].say("anna", "bank zebra")).outgoing).lower()


# ---------------------------------------------------------------- buttons and forms


def a_buttons(world: World) -> list[str]:
    a, b = world.id("A"), world.id("B")
    group = world.groups["A"][0]
    return [
        f"quiz:{a}-1:begin",
        f"quiz:{a}-1:0:0",
        f"quiz:{a}-1:7:1",
        f"reflect:{a}:1",
        f"survey:{a}:theme:1",
        f"survey:{a}:assessment:end",
        f"join:{a}:umea",
        f"lab:{a}:signup:{LAB}:2",
        f"lab:{a}:cancel:{LAB}:1",
        f"lab:{a}:ics:{LAB}:1",
        f"met:{a}:{group}",
        f"met:{b}:{group}",  # B's id, A's group
        f"meeting:{a}:plan",
        f"meeting:{a}:needs",
        f"pair:{a}:1:7",
        f"pair:{a}:2:42",
        f"nudge:{a}:1:post:-:0badcafe",
        f"nudge:{a}:1:quiz:umea:0badcafe",
    ]


def a_forms(world: World) -> list[tuple[str, dict[str, str]]]:
    a = world.id("A")
    return [
        (f"reflect:{a}", {"theme": "1", "visibility": "cohort", "text": "Smuggled in."}),
        (f"survey:{a}:theme:1", {"useful": "1", "buddy": "1", "comment": "Smuggled in."}),
        (f"survey:{a}:assessment:end", {"information": "5"}),
        (f"meeting:{a}:plan", {"text": "Smuggled in.", "visibility": "organisation"}),
        (f"meeting:{a}:needs", {"text": "Smuggled in.", "visibility": "cohort"}),
    ]


async def test_a_buttons_and_forms_do_nothing_anywhere_else(world: World) -> None:
    b, c, d = world["B"], world["C"], world["D"]
    anna_a = await person_id(world.store, "console", "W1", "anna")
    forget = [f"forget:{world.id('A')}:{anna_a}:all", f"forget:0:{anna_a}:keep"]
    before = await everything(world)
    # Who presses them, and where: B's participant and facilitator in B's channel and
    # in their direct conversations; A's namesakes in C's workspace and in Teams; and
    # someone of W1 in no cohort at all.
    places = [
        (b, "berit", b.channel, "B"),
        (b, "berit", b.direct("berit"), "B"),
        (b, "bea", b.channel, "B"),
        (b, "bea", b.direct("bea"), "B"),
        (c, "anna", c.channel, "C"),
        (c, "anna", c.direct("anna"), "C"),
        (c, "fia", c.channel, "C"),
        (d, "anna", d.direct("anna"), "D"),
        (d, "fia", d.channel, "D"),
        (b, "zed", b.direct("zed"), "B"),
    ]
    for room, user, where, own in places:
        for action in a_buttons(world) + forget:
            reply = await room.click(user, action, where=where)
            assert [type(o.to) for o in reply.outgoing] == [ToActor], (user, action, reply.text)
            assert reply.forms == [] and files(reply) == []
            assert_only_of(world, own, reply)
        for form_id, values in a_forms(world):
            submitted = await room.submit_in(user, form_id, values, where)
            assert [type(o.to) for o in submitted.outgoing] == [ToActor], (user, form_id)
            assert "Smuggled" not in submitted.text
            assert_only_of(world, own, submitted)
    # In B's channel, each says whose it is.
    refused = await b.click("berit", f"reflect:{world.id('A')}:1")
    assert "That button belongs to another cohort." in refused.text
    refused = await b.click("berit", f"quiz:{world.id('A')}-1:0:0")
    assert "That quiz belongs to another cohort." in refused.text
    refused = await b.submit("berit", f"reflect:{world.id('A')}", a_forms(world)[0][1])
    assert "That form belongs to another cohort." in refused.text
    refused = await b.click("bea", f"pair:{world.id('A')}:2:42")
    assert "That button belongs to another cohort." in refused.text
    assert await everything(world) == before


# ---------------------------------------------------------------- namesakes elsewhere


async def test_the_same_user_id_in_another_workspace_is_someone_else(world: World) -> None:
    c, d = world["C"], world["D"]
    anna = {
        name: await person_id(world.store, room.cohort.platform, room.cohort.workspace, "anna")
        for name, room in world.rooms.items()
        if name != "B"
    }
    assert len(set(anna.values())) == 3  # A's, C's and D's Anna are three people
    before = await state_of(world.store, world.id("A"))

    for room, own in ((c, "C"), (d, "D")):
        word = room.spec.word
        bank = await room.say("anna", "bank")
        assert word in bank.text.lower()
        replies = [
            bank,
            await room.say("anna", "bank zebra"),
            await room.say("anna", "bank listening"),
            await room.say("anna", "bank --mine"),
            await room.say("anna", "assess --mine"),
            await room.say("anna", "labs --mine"),
            await room.say("anna", "quiz 1"),
            await room.home("anna"),
            await room.home("fia"),
            await room.say("fia", "members"),
            await room.say("fia", "results 1"),
            await room.say("fia", "survey results 1"),
            await room.say("fia", "report"),
            await room.say("fia", "export json"),
            await room.say("fia", f"lab attendees {LAB} 1"),
            await room.say("fia", "nudges resume david"),  # A has a david; C and D do not
        ]
        assert "Nothing found." in replies[1].text
        assert_only_of(world, own, replies)
        # `--in` A's key, from a direct conversation: refused.
        for line in ("bank --in grupp-a", f"bank zebra --in #{world.id('A')}"):
            refused = await room.say("anna", line, where=room.direct("anna"))
            assert "This conversation is not a cohort's channel." in refused.text
        # Her own data is hers: one cohort, her own reflections.
        mydata = await room.say("anna", "mydata", where=room.direct("anna"))
        assert_only_of(world, own, mydata)
        data = data_of(mydata)
        assert data["person"][0]["id"] == anna[own]
        assert [m["cohort"] for m in data["memberships"]] == [room.cohort.key]
        assert {r["cohort"] for r in data["reflections"]} == {room.cohort.key}
        # Their facilitators name their own Anna and Björn, not A's.
        world.clock.now = AFTER_THE_FIRST_LAB
        for line, done in (
            ("nudges resume anna", "Nudges to Anna "),
            (f"lab attended {LAB} 1 anna bjorn", "Marked as attended: Anna "),
            ("enrol bjorn pitea --name Björn_Renamed", "Björn Renamed was already enrolled"),
        ):
            reply = await room.say("fia", line)
            assert done in reply.text, (line, reply.text)
            assert_only_of(world, own, reply)
        world.clock.now = BEFORE_THE_LABS

    # A's own Anna still sees A, and only A.
    hers = [await world["A"].home("anna"), await world["A"].say("anna", "bank")]
    assert "zebra" in shown(hers[1].outgoing)
    assert_only_of(world, "A", hers)
    assert await state_of(world.store, world.id("A")) == before


# ---------------------------------------------------------------- threads


async def test_posts_in_a_thread_by_outsiders_land_in_no_bank(world: World) -> None:
    a, b, c, d = world["A"], world["B"], world["C"], world["D"]
    before = await everything(world)
    a_thread = a.channel.thread(a.posts[1])
    attempts: list[ThreadPost | MessageSaved] = [
        # B's participant and facilitator write in A's thread, and answer A's post.
        ThreadPost(b.actor("berit"), a_thread, "x-1", "A quokka in the zebra thread."),
        ThreadPost(b.actor("bea"), a_thread, "x-2", "A quokka answers.", reply_to_message_id="m-1"),
        ThreadPost(b.actor("bea"), a_thread, "x-3", "Hej @anna", mentions=("anna",)),
        # A's namesakes from W2 (a shared channel) and from Teams, and someone in no cohort.
        ThreadPost(c.actor("anna"), a_thread, "x-4", "An okapi in the zebra thread."),
        ThreadPost(d.actor("anna"), a_thread, "x-5", "A lemur in the zebra thread."),
        ThreadPost(b.actor("zed"), a_thread, "x-6", "A stranger in the zebra thread."),
        # Saving a message of one's own in A's thread into a bank.
        MessageSaved(b.actor("berit"), a_thread, "x-7", "berit", "A quokka saved there."),
        MessageSaved(c.actor("anna"), a_thread, "x-8", "anna", "An okapi saved there."),
    ]
    for event in attempts:
        outgoing = await world.digilog.handle(event)
        assert [type(o.to) for o in outgoing] == [ToActor], event
        assert "You are not enrolled in Grupp A" in shown(outgoing)
    # In B's own thread, a mention of A's Anna (a user id of this workspace) answers nobody.
    b_thread = b.channel.thread(b.posts[1])
    mention = ThreadPost(b.actor("bosse"), b_thread, "z-1", "As @anna says?", mentions=("anna",))
    saved = await world.digilog.handle(mention)
    assert "Saved in the reflection bank" in shown(saved)
    # A thread in B's own channel under A's theme post's id is no digilog of B's.
    under_a = b.channel.thread(a.posts[1])
    assert await world.digilog.handle(ThreadPost(b.actor("berit"), under_a, "y-1", "Hm.")) == []
    # Outsiders editing and deleting A's posts by their message ids: nothing happens; the
    # same ids in their own cohorts are their own posts (m-1 is the first participant's).
    for room, user in ((b, "berit"), (b, "bosse"), (c, "anna"), (d, "anna"), (b, "zed")):
        for message_id in ("m-1", "m-2"):
            await room.send(PostEdited(room.actor(user), a_thread, message_id, "Changed."))
            await room.send(PostDeleted(room.actor(user), a_thread, message_id))
            if user != "zed":
                await room.send(PostEdited(room.actor(user), room.channel, message_id, "Mine."))
    after = await everything(world)
    assert after["A"] == before["A"]
    async with world.store.transaction() as repos:
        answer = await repos.reflections.by_message(world.id("B"), "z-1")
        assert answer is not None and answer.source == Source.digilog_post
        assert answer.replied_to_person_id is None and answer.reply_to_id is None
        edited = await repos.session.scalars(select(Reflection).where(Reflection.body == "Mine."))
        expected = [("B", "m-1"), ("B", "m-2"), ("C", "m-1"), ("D", "m-1")]
        assert sorted((r.cohort_id, r.message_id) for r in edited) == sorted(
            (world.id(name), message_id) for name, message_id in expected
        )


# ---------------------------------------------------------------- the storage layer


async def test_the_repositories_never_return_another_cohorts_rows(
    world: World, programme: Programme
) -> None:
    """What the handlers rely on: every query of a cohort's rows stays in that cohort, on
    SQLite's FTS5 index and PostgreSQL's text search alike."""
    a, b = world.id("A"), world.id("B")
    lab = next(lab for lab in programme.labs if lab.id == LAB)
    key = session_key(lab, lab.sessions[0])
    async with world.store.transaction() as repos:

        async def someone(user: str) -> Person:
            found = await repos.people.by_account("console", "W1", user)
            assert found is not None
            return found

        members = {m.person.id for m in await repos.people.members(b)}
        anna_a, bea, berit, bodil = [await someone(u) for u in ("anna", "bea", "berit", "bodil")]
        umea = await repos.programs.find_organisation(programme.id, "umea")
        assert umea is not None
        viewers = [
            Viewer(b, bea.id, is_facilitator=True),
            Viewer(b, berit.id, is_facilitator=False),
            Viewer(b, bodil.id, is_facilitator=False, supports_organisation_id=umea.id),
            # Someone who wrote in A, looking into B: their own rows of A stay in A.
            Viewer(b, anna_a.id, is_facilitator=False),
            Viewer(b, anna_a.id, is_facilitator=True, supports_organisation_id=umea.id),
        ]
        for viewer in viewers:
            for words in ("zebra", "listening", "plan", "budget", "zebra quokka"):
                found = await repos.reflections.search(viewer, words, limit=100)
                assert {v.reflection.cohort_id for v in found} <= {b}, (viewer, words)
                for kinds in ([Source.change_plan], [Source.needs_inventory], [Source.command]):
                    narrowed = await repos.reflections.search(viewer, words, sources=kinds)
                    assert {v.reflection.cohort_id for v in narrowed} <= {b}, (viewer, words)
                naive = await repos.reflections.naive_search(viewer, words, limit=100)
                rows = [await repos.reflections.get(i) for i in naive]
                assert {r.cohort_id for r in rows if r is not None} <= {b}, (viewer, words)
            for mine in (False, True):
                listed = await repos.reflections.visible(viewer, mine=mine, limit=1000)
                assert {v.reflection.cohort_id for v in listed} <= {b}, viewer
            exported = [v async for v in repos.reflections.export(b, viewer)]
            assert exported and {v.reflection.cohort_id for v in exported} == {b}
        # The positive controls: B's words are found in B, A's in A.
        assert await repos.reflections.search(viewers[0], "quokka")
        assert await repos.reflections.search(viewers[0], "zebra") == []
        assert await repos.reflections.search(viewers[3], "zebra") == []
        assert await repos.reflections.search(Viewer(a, anna_a.id, False), "zebra")
        everything_of_b = [v async for v in repos.reflections.export(b, private=True)]
        assert {v.reflection.cohort_id for v in everything_of_b} == {b}
        assert {v.author.id for v in everything_of_b} <= members
        assert {v.reflection.visibility for v in everything_of_b} == set(Visibility)
        # The same platform message id in two cohorts: each finds its own.
        for cohort in (a, b):
            found_post = await repos.reflections.by_message(cohort, "m-1")
            assert found_post is not None and found_post.cohort_id == cohort
        b_channel = world["B"].channel
        where_b = (b_channel.platform, b_channel.workspace, b_channel.conversation_id)
        assert await repos.themes.by_post(b, *where_b, world["A"].posts[1]) is None

        # The figures behind results, reports, nudges and the home page: B's people only.
        assert set(await repos.quizzes.scores(b, 1)) <= members
        assert sum(r.participants for r in await repos.quizzes.by_organisation(b, 1)) == 2
        assert sum(r.answered for r in await repos.quizzes.by_question(b, 1)) == 2 * QUESTIONS
        assert await repos.quizzes.answers(b, anna_a.id, 1) == []
        assert {x.person_id for x in await repos.surveys.answers(b, "theme:1")} <= members
        assert await repos.surveys.respondents(b, "theme:1") <= members
        assert await repos.surveys.answers_of(b, anna_a.id) == []
        assert await repos.reflections.digilog_authors(b, 1) <= members
        assert await repos.reflections.repliers(b, 1) <= members
        assert {row[1] for row in await repos.reflections.digilog_activity(b)} <= members
        assert sum(n for *_, n in await repos.reflections.reply_counts(b)) == 1
        assert await repos.reflections.count_by(b, anna_a.id) == 0
        assert await repos.reflections.latest_by(b, anna_a.id, 1) is None
        counts = await repos.labs.counts(b)
        assert sum(n for states in counts.values() for n in states.values()) == 2
        assert {p.id for p in await repos.labs.people(b, key, SignupState.signed_up)} <= members
        assert set(await repos.labs.seated_people(b)) <= members
        assert await repos.labs.of_person(b, anna_a.id) == {}
        groups = await repos.buddies.round_groups(b, 1)
        assert groups is not None and sorted(groups) == world.groups["B"]
        assert {p for ids in groups.values() for p in ids} <= members
        assert [await repos.buddies.cohort_of_group(g) for g in world.groups["A"]] == [a, a]
        assert await repos.buddies.latest_group_of(b, anna_a.id) is None
        assert {p for pair in await repos.buddies.earlier_pairs(b) for p in pair} <= members
        # Channels and people by platform, workspace and id: never a namesake's.
        here = await repos.cohorts.by_conversation("console", "W1", CHANNEL)
        assert here is not None and here.id == world.id("A")
        here = await repos.cohorts.by_conversation("console", "W2", CHANNEL)
        assert here is not None and here.id == world.id("C")
        here = await repos.cohorts.by_conversation("teams", "W1", CHANNEL)
        assert here is not None and here.id == world.id("D")
        assert await repos.people.member(b, anna_a.id) is None
        assert [c.key for c in await repos.cohorts.of_person(anna_a.id)] == ["grupp-a"]
