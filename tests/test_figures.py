"""Figures a facilitator can trust (#15): every figure about a group stands for at least
five people, counted over participants only; replies across organisations are counted
between real organisations; quiz options come in each person's own order and answers map
back to the programme's option; waitlists move only for sessions that have not begun."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.console.render import render
from bot.slack.blocks import render_message
from bot.teams.cards import card, choice_of
from handlers import report
from handlers.core.anonymity import K
from handlers.core.i18n import translator
from handlers.core.programme_file import Programme, localise
from handlers.core.programme_file import load_programme as read_programme
from handlers.core.vocabulary import HomeOpened
from handlers.digilog import Digilog
from handlers.labs import session_key
from storage.db import create_engine
from storage.models import Cohort, Role, SignupState
from storage.unit import Store
from tests.chat import Chat
from tests.conftest import EXAMPLE, make_cohort
from tests.excel import records_as_excel

ORGANISATIONS = ("umea", "pitea", "skelleftea", "ornskoldsvik")
FACILITATOR = ("fia", "Fia Facilitator", "region-vasterbotten", Role.facilitator)
SUPPORT = ("sune", "Sune Support", "umea", Role.support)
OTHER, EVERYONE = "Other organisations", "All organisations"


def roster(sizes: dict[str, int]) -> tuple[tuple[str, str, str, Role], ...]:
    return tuple(
        (f"{org}{n}", f"{org.title()} {n}", org, Role.participant)
        for org, size in sizes.items()
        for n in range(size)
    )


def facts(text: str, value: str) -> list[tuple[str, re.Match[str]]]:
    """The console's fact lines whose value matches `value`: (label, match)."""
    found = []
    for line in text.splitlines():
        if m := re.match(r"^\s+(?P<label>\S.*?)\s{2,}" + value + r"$", line):
            found.append((m["label"].strip(), m))
    return found


async def say(chat: Chat, command: str) -> str:
    reply = await chat.say("fia", command)
    return "\n".join(render(m)[0] for _, m in reply.messages)


async def home_of(chat: Chat, user: str) -> str:
    reply = await chat.send(HomeOpened(chat.actor(user), chat.channel))
    return "\n".join(render(m)[0] for _, m in reply.messages)


# ---------------------------------------------------------------- the property


@dataclass
class Done:
    """What one person did; the test's own count of every figure comes from these."""

    posts: bool = False
    reply_to: int | None = None  # an index among the people who posted
    answered: int = 0  # quiz questions answered, in order
    right: int = 0  # of which the first `right` with the right option
    survey: int | None = None  # the rating given to every rated question
    assessed: tuple[int, int] | None = None  # start and end
    lab: bool = False


@dataclass
class World:
    org_of: dict[str, str]  # participant user id → organisation's English name
    done: dict[str, Done]
    sizes: Counter[str] = field(default_factory=Counter)
    answered_user: dict[str, str] = field(default_factory=dict)  # reply's author → whom

    def members(self, label: str, named: set[str]) -> set[str]:
        """The participants a group label in one output stands for."""
        if label == EVERYONE or label == "Everyone":
            return set(self.org_of)
        if label == OTHER:
            return {u for u, org in self.org_of.items() if org not in named}
        return {u for u, org in self.org_of.items() if org == label}


people_done = st.builds(
    Done,
    posts=st.booleans(),
    reply_to=st.none() | st.integers(0, 30),
    answered=st.sampled_from([0, 8, 8, 3]),
    right=st.integers(0, 8),
    survey=st.none() | st.integers(1, 5),
    assessed=st.none() | st.tuples(st.integers(1, 5), st.integers(1, 5)),
    lab=st.booleans(),
)


async def act(chat: Chat, store: Store, programme: Programme, world: World) -> None:
    """Everything each participant did, and the facilitator and a support person doing
    it all too (their answers must count nowhere)."""
    cohort = chat.cohort
    await chat.say("fia", "theme start 1")
    await chat.say("fia", "quiz start 1")
    quiz = programme.themes[0].quiz
    assert quiz is not None and programme.survey is not None and programme.self_assessment
    posters: list[tuple[str, str]] = []
    everyone = {**world.done, "fia": Done(True, 0, 8, 8, 5, (1, 5), True)}
    everyone["sune"] = everyone["fia"]
    for user, did in everyone.items():
        if did.posts:
            message_id, _ = await chat.post(user, 1, f"Inlägg av {user}.")
            posters.append((user, message_id))
    for user, did in everyone.items():
        if did.reply_to is not None and posters:
            author, message_id = posters[did.reply_to % len(posters)]
            if author != user:
                await chat.post(user, 1, f"Svar av {user}.", reply_to=message_id)
            else:
                did.reply_to = None
        else:
            did.reply_to = None
    lab = programme.labs[0]
    key = session_key(lab, lab.sessions[0])
    ratings = [q.id for q in programme.survey.ratings()]
    areas = [a.id for a in programme.self_assessment.areas]
    now = datetime(2027, 2, 1, tzinfo=UTC)
    async with store.transaction() as repos:
        ids = {m.person.user_id: m.person.id for m in await repos.people.members(cohort.id)}
        for user, did in everyone.items():
            person = ids[user]
            for q in range(did.answered):
                options = quiz.questions[q].options
                right = next(i for i, o in enumerate(options) if o.correct)
                option = right if q < did.right else (right + 1) % len(options)
                await repos.quizzes.answer(cohort.id, person, 1, q, option, option == right)
            if did.survey is not None:
                answers = dict.fromkeys(ratings, (did.survey, None))
                await repos.surveys.save(cohort.id, "theme:1", person, answers, now)
            if did.assessed is not None:
                for round_, value in zip(("start", "end"), did.assessed, strict=True):
                    answers = dict.fromkeys(areas, (value, None))
                    await repos.surveys.save(
                        cohort.id, f"assessment:{round_}", person, answers, now
                    )
            if did.lab:
                await repos.labs.sign_up(cohort.id, key, 100, person)


def check_cohort_too_small(outputs: dict[str, str]) -> None:
    for name, text in outputs.items():
        assert "Figures are shown from 5 participants on" in text, name
        assert not re.search(r"\d+ of \d+|\(\d+\)|\d+ participants? ·", text), name


def check(world: World, outputs: dict[str, str], files: dict[str, str]) -> None:  # noqa: C901
    """Every group figure in every output stands for at least K participants, and is the
    test's own count of them."""
    small = {org for org, n in world.sizes.items() if n < K}
    for name, text in [*outputs.items(), *files.items()]:
        for org in small:  # a small organisation is never named
            assert org not in text, (name, org)
    done = world.done
    finished = {u for u, d in done.items() if d.answered == 8}

    # The report: participation per group, a mean score only over K who finished, in
    # every group or none.
    text = outputs["report"]
    named = {label for label, _ in facts(text, r"\d+ of \d+ in the digilog.*")}
    rows = facts(
        text,
        r"(?P<posted>\d+) of (?P<people>\d+) in the digilog · (?P<replies>\d+) replies, "
        r"(?P<across>\d+) across organisations · quiz (?P<done>\d+) of \d+(?: \((?P<pct>\d+)%\))?",
    )
    assert rows
    across_total = 0
    for label, m in rows:
        members = world.members(label, named)
        assert int(m["people"]) == len(members) >= K, label
        assert int(m["posted"]) == sum(
            done[u].posts or done[u].reply_to is not None for u in members
        )
        assert int(m["done"]) == len(members & finished), label
        if m["pct"] is not None:
            assert len(members & finished) >= K, label
        across_total += int(m["across"])
    assert len({m["pct"] is None for _, m in rows}) == 1  # shown for every group or none
    for label, m in facts(text, r"(?P<seats>\d+) seats · \d+ attended"):
        members = world.members(label, named)
        assert len(members) >= K and int(m["seats"]) == sum(done[u].lab for u in members)
    for label, m in facts(text, r"(?P<value>.*\(\d+\).*)"):
        if label.startswith("Survey, "):
            assert len(world.members(label.removeprefix("Survey, "), named)) >= K
            assert all(int(n) >= K for n in re.findall(r"\((\d+)\)", m["value"])), label
    for label, m in facts(text, r".* → .* \([+-]\d\.\d, (?P<n>\d+)\)"):
        assert int(m["n"]) >= K, label

    # Real organisations, before any merging: the test's own count, and home's.
    replies = [u for u, d in done.items() if d.reply_to is not None]
    assert across_total == sum(1 for u in replies if _across(world, u))
    home = outputs["home"]
    assert f"{across_total} repl" in home, home

    # The report's files: the same rule.
    for row in records_as_excel(files["report.csv"], "en"):
        assert int(row["Participants"]) >= K
        if row["Quiz mean score"]:
            assert int(row["Quiz done"]) >= K
    if "surveys.csv" in files:
        for row in records_as_excel(files["surveys.csv"], "en"):
            assert int(row["Respondents"]) >= K
    if "self-assessment.csv" in files:
        for row in records_as_excel(files["self-assessment.csv"], "en"):
            assert int(row["People"]) >= K

    # Quiz results: participants only; a question over K answers; groups of K answers.
    text = outputs["results"]
    answered = {u for u, d in done.items() if d.answered}
    assert f"{len(answered)} of {len(world.org_of)} participants have answered." in text
    for q, n in re.findall(r"^\s+(\d+)\. .* — \d+ of (\d+) right", text, re.M):
        assert int(n) == sum(done[u].answered > int(q) - 1 for u in done) >= K
    groups = facts(text, r"(?P<n>\d+) participants? · .* right")
    named = {label for label, _ in groups}
    for label, m in groups:
        assert int(m["n"]) == len(world.members(label, named) & answered) >= K, label

    # Survey and self-assessment results.
    for label, m in facts(outputs["survey"], r"\d\.\d \((?P<n>\d+)\)"):
        assert int(m["n"]) >= K, label
    for label, m in facts(outputs["assess"], r".* → .* \([+-]\d\.\d, (?P<n>\d+)\)"):
        assert int(m["n"]) >= K, label

    # The facilitator's home page.
    lines = facts(home, r"(?P<n>\d+) participants? · (?P<posted>\d+) in the digilog · .*")
    assert lines
    named = {label for label, _ in lines}
    for label, m in lines:
        assert int(m["n"]) == len(world.members(label, named)) >= K, label


def _across(world: World, user: str) -> bool:
    """A reply to a participant of another real organisation."""
    answered = world.answered_user[user]
    return answered in world.org_of and world.org_of[answered] != world.org_of[user]


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(st.integers(1, 6), min_size=1, max_size=4),
    st.data(),
)
def test_no_group_figure_stands_for_fewer_than_five(
    database_url: str, sizes: list[int], data: st.DataObject
) -> None:
    programme = read_programme(EXAMPLE)
    by_org = dict(zip(ORGANISATIONS, sizes, strict=False))
    people = roster(by_org)
    done = {user: data.draw(people_done) for user, *_ in people}
    asyncio.run(_property(database_url, programme, by_org, people, done))


async def _property(
    database_url: str,
    programme: Programme,
    by_org: dict[str, int],
    people: tuple[tuple[str, str, str, Role], ...],
    done: dict[str, Done],
) -> None:
    engine = create_engine(database_url)
    try:
        store = Store(engine)
        cohort = await make_cohort(
            store, programme, f"k-{uuid.uuid4().hex[:8]}", people=(FACILITATOR, SUPPORT, *people)
        )
        names = {o.id: localise(o.name, "en") for o in programme.programme.organisations}
        world = World({u: names[org] for u, _, org, _ in people}, done)
        world.sizes = Counter(world.org_of.values())
        chat = Chat(Digilog(store), cohort)
        await act(chat, store, programme, world)
        world.answered_user = await _answered(store, cohort)
        outputs = {
            "report": await say(chat, "report"),
            "results": await say(chat, "results 1"),
            "survey": await say(chat, "survey results 1"),
            "assess": await say(chat, "assess results"),
            "home": await home_of(chat, "fia"),
        }
        t = translator("en")
        async with store.transaction() as repos:
            found = await report.figures(repos, cohort, t)
        files = {
            name: content for name, content, _ in report.files(t, found) if isinstance(content, str)
        }
        if len(people) < K:
            check_cohort_too_small(outputs)
        else:
            check(world, outputs, files)
    finally:
        await engine.dispose()


async def _answered(store: Store, cohort: Cohort) -> dict[str, str]:
    """Whom each participant's reply answered, as stored."""
    async with store.transaction() as repos:
        user_of = {
            m.person.id: m.person.user_id or "" for m in await repos.people.members(cohort.id)
        }
        return {
            user_of[author]: user_of.get(answered or 0, "")
            for _, author, source, answered in await repos.reflections.digilog_activity(cohort.id)
            if source.value == "digilog_reply"
        }


# ---------------------------------------------------------------- waitlists


async def test_a_waitlist_moves_only_for_a_session_that_has_not_begun(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    cohort = await make_cohort(store, programme, people=(FACILITATOR, *roster({"umea": 3})))
    chat = Chat(digilog, cohort)
    lab = programme.labs[0]
    key = session_key(lab, lab.sessions[0])
    async with store.transaction() as repos:
        ids = {m.person.user_id: m.person.id for m in await repos.people.members(cohort.id)}
        # One seat: umea0 has it, umea1 waits.
        await repos.labs.sign_up(cohort.id, key, 1, ids["umea0"])
        await repos.labs.sign_up(cohort.id, key, 1, ids["umea1"])
    digilog.now = lambda: lab.sessions[0].start.astimezone(UTC)  # it has begun
    refused = await chat.say("umea0", f"lab cancel {lab.id} 1")
    assert "has already begun" in refused.text
    preview = await chat.say("umea0", "forget")
    done = await chat.click("umea0", preview.options[0].action_id)
    assert "is erased" in done.text
    assert not any("A seat freed up" in render(m)[0] for _, m in done.messages)
    async with store.transaction() as repos:
        assert await repos.labs.people(cohort.id, key, SignupState.signed_up) == []
        waiting = await repos.labs.people(cohort.id, key, SignupState.waiting)
        assert [p.id for p in waiting] == [ids["umea1"]]


# ---------------------------------------------------------------- quizzes


async def test_options_come_in_each_persons_own_order_and_map_back_in_every_adapter(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    people = roster({"umea": 6})
    cohort = await make_cohort(store, programme, people=(FACILITATOR, SUPPORT, *people))
    chat = Chat(digilog, cohort)
    await chat.say("fia", "theme start 1")
    await chat.say("fia", "quiz start 1")
    quiz = programme.themes[0].quiz
    assert quiz is not None
    options = quiz.questions[0].options
    orders = []
    for user, *_ in people:
        [(_, shown)] = (await chat.click(user, f"quiz:{cohort.id}-1:begin")).messages
        [(_, again)] = (await chat.click(user, f"quiz:{cohort.id}-1:begin")).messages
        assert again == shown  # the same order every time for that person
        # Console: [n] label, and the option's id names its place in the file.
        text, choices = render(shown)
        places = [int(c.action_id.rsplit(":", 1)[1]) for c in choices]
        assert sorted(places) == list(range(len(options)))
        for n, (choice, place) in enumerate(zip(choices, places, strict=True), 1):
            assert f"[{n}] {options[place].text['en']}" in text and choice.label in text
        # Teams: the numbered list above buttons 1…n, each pressing its option's id.
        rendered = card(shown)
        listed = [e["text"] for e in rendered["body"] if e["type"] == "TextBlock"]
        buttons = [a for e in rendered["body"] if e["type"] == "ActionSet" for a in e["actions"]]
        for n, (button, place) in enumerate(zip(buttons, places, strict=True), 1):
            assert button["title"] == str(n)
            pressed = {"action": {"type": "Action.Execute", "data": button["data"]}}
            assert choice_of(pressed) == choices[n - 1].action_id
            assert f"{n}. {options[place].text['en']}" in "\n".join(listed)
        # Slack is checked end to end in test_slack_scenarios.
        assert render_message(shown)
        orders.append(places)
        reply = await chat.click(user, choices[0].action_id)
        assert ("Right!" in reply.text) == options[places[0]].correct
    assert len({tuple(o) for o in orders}) > 1  # not one order for everyone
    # Facilitators' and support people's tries count nowhere.
    for user in ("fia", "sune"):
        await chat.click(user, f"quiz:{cohort.id}-1:0:0")
    results = await say(chat, "results 1")
    assert "6 of 6 participants have answered." in results
    assert "— " + f"{sum(options[o[0]].correct for o in orders)} of 6 right" in results
    # Per option, in the file's order, counting participants only.
    chosen = Counter(o[0] for o in orders)
    listing = results.split(quiz.questions[0].text["en"], 1)[1]
    lines = [
        line for line in listing.splitlines() if line.strip().lstrip("• ").startswith(("✅", "▫️"))
    ]
    for place, option in enumerate(options):
        assert lines[place].endswith(f"{option.text['en']}: {chosen[place]}")
