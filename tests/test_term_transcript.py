"""A whole spring term rehearsed in the console, as a facilitator would: organisations of
7, 5, 3 and 2 participants, all four themes' digilogs and quizzes, learning buddies and
reflection tasks, the surveys after the themes and the self-assessment at both ends, the
calendar's posts and nudges on the way. The same transcript says the same, byte for byte,
twice on SQLite and twice on PostgreSQL, and every figure of the report is checked against
what the transcript did: who posted, who replied to whom, who finished which quiz and what
each was told they scored; who handed in which reflection task, how, and which buddy
groups said they met; every survey rating and comment, and every self-assessment change;
lab seats, attendance and hours. Every figure about a group stands for at least five
people, and the checks say so where each is shown.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from handlers import admin
from handlers.core.programme_file import load_programme, localise
from handlers.core.roster import RosterRow
from storage.db import create_engine
from storage.models import Base, Role, UTCDateTime
from storage.unit import Store
from tests.conftest import EXAMPLE
from tests.test_rehearsal import CALENDAR, empty_postgres, run_console_at

K = 5  # every figure about a group stands for at least this many people

# (organisation, its label in the report, how many): the two smallest are merged into
# "Other organisations" (five people), so every group stands for at least five.
ORGANISATIONS = (
    ("umea", "Umeå Municipality", 7),
    ("skelleftea", "Skellefteå Municipality", 5),
    ("pitea", "Other organisations", 3),
    ("ornskoldsvik", "Other organisations", 2),
)
PEOPLE = [
    (f"{org[:2]}{n}", org, label) for org, label, size in ORGANISATIONS for n in range(1, size + 1)
]
GROUPS = ("Skellefteå Municipality", "Umeå Municipality", "Other organisations")
# When each theme's digilog and quiz are open (the example calendar's times).
THEMES = {
    1: ("2027-02-01 10:00", "2027-02-22 10:00"),
    2: ("2027-03-01 10:00", "2027-03-22 10:00"),
    3: ("2027-04-05 10:00", "2027-04-26 10:00"),
    4: ("2027-05-03 10:00", "2027-05-24 10:00"),
}
QUESTIONS = {1: 8, 2: 8, 3: 8, 4: 8}
LAB = "hantera-information"  # its first session: Tuesday 16 February


@dataclass
class Expected:
    """What the transcript did, theme by theme, as the report should count it."""

    posted: dict[tuple[int, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    replies: dict[tuple[int, str], int] = field(default_factory=lambda: defaultdict(int))
    across: dict[tuple[int, str], int] = field(default_factory=lambda: defaultdict(int))
    quizzers: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    seated: list[str] = field(default_factory=list)  # a seat at the first lab session
    attended: list[str] = field(default_factory=list)
    # theme → person → question → rating; theme → the comments written
    ratings: dict[int, dict[str, dict[str, int]]] = field(default_factory=lambda: defaultdict(dict))
    comments: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    # round ("start", "end") → person → area → rating
    assessed: dict[str, dict[str, dict[str, int]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    # theme → who had opted out of learning buddies when the round was announced
    opted_out: dict[int, set[str]] = field(default_factory=dict)
    met: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))  # "We met"
    # theme → person → how their reflection task was done, for those it is done for
    tasks: dict[int, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))


def organisation(user: str) -> str:
    return next(org for u, org, _ in PEOPLE if u == user)


def label(user: str) -> str:
    return next(lab for u, _, lab in PEOPLE if u == user)


def first_colleague(user: str) -> str:
    """The first colleague of one's own organisation the colleague form offers."""
    return next(u for u, org, _ in PEOPLE if org == organisation(user) and u != user)


PROGRAMME = load_programme(EXAMPLE)
# Each theme's survey: opened by the calendar at the end of the theme, answered the next
# morning. Who answers makes each case of the rule: after theme 1 all but two in Umeå (every
# group has five: figures per group); after theme 2 every other person and after theme 4
# two of three (too few in some group: figures for everyone only); after theme 3 four
# people (too few for any figure, or any comment).
SURVEYS = {
    1: "2027-03-02 10:00",
    2: "2027-04-01 10:00",
    3: "2027-05-06 10:00",
    4: "2027-06-03 10:00",
}
ANSWERS_SURVEY = {
    1: lambda i: i not in (5, 6),
    2: lambda i: i % 2 == 0,
    3: lambda i: i % 5 == 1,
    4: lambda i: i % 3 != 2,
}
COMMENTS = ("mer tid för samtal, tack.", "bra filmer, kortare texter.", "workshopen var bäst.")
# The self-assessment: its start round is open when the term begins, its end round from
# 7 June. One in Umeå misses the start and another the end: five or more in every group
# rated themselves at both, so the change is shown per group.
ASSESSED = {"start": "2027-02-01 10:00", "end": "2027-06-08 10:00"}
SKIPS_ASSESSMENT = {"start": 5, "end": 2}
AREAS = [area.id for area in PROGRAMME.self_assessment.areas] if PROGRAMME.self_assessment else []
BUDDY_THEMES = (1, 3)  # their reflection task is done with a learning buddy or a colleague
OPTS_OUT = 9  # sk3 opts out of learning buddies before theme 1, and back in before theme 3


def survey_rating(theme: int, i: int, question: int) -> int:
    return 1 + (i * (i + 3) // 4 + 2 * question + theme) % 5


def assessment_rating(round_: str, i: int, area: int) -> int:
    start = 1 + (i + area) % 3
    return start if round_ == "start" else max(1, min(5, start + i % 4 - 1))


def transcript() -> tuple[str, Expected]:
    """The term's lines, and what they did."""
    blocks: list[tuple[str, list[str]]] = []  # (when, lines): run in the order of when
    expected = Expected()
    posts: list[str] = []  # p1, p2 … → author
    for round_, when in ASSESSED.items():
        blocks.append((when, _assessment(round_, expected)))
    for theme, (opens, quiz_opens) in THEMES.items():
        lines: list[str] = _digilog(theme, posts, expected)
        if theme == 1:  # every third person takes a seat at a lab; most of them go
            for i, (user, _, _) in enumerate(PEOPLE):
                if i % 3 == 0:
                    lines += [f"as {user}", f"lab signup {LAB} 1"]
                    expected.seated.append(user)
            expected.attended = [u for n, u in enumerate(expected.seated) if n % 4 != 3]
        if theme in BUDDY_THEMES:
            lines += _buddies(theme, expected)
        blocks.append((opens, lines))
        lines = _tasks(theme, expected)
        for i, (user, _, _) in enumerate(PEOPLE):
            if theme % 2 == 1 and (i + theme) % 5 == 0:
                continue  # does not take this quiz (in the even themes, everyone does)
            answer = str(1 + (i + theme) % 2)
            lines += [f"as {user}", f"quiz {theme}", *[answer] * QUESTIONS[theme]]
            expected.quizzers[theme].append(user)
        blocks.append((quiz_opens, lines))
        blocks.append((SURVEYS[theme], _survey(theme, expected)))
    blocks.append(
        (
            "2027-06-20 10:00",
            [
                "as fia",
                f"lab attended {LAB} 1 {' '.join(expected.attended)}",
                "report",
                *[f"survey results {theme}" for theme in THEMES],
                "quit",
            ],
        )
    )
    out: list[str] = []
    clock = ""
    for when, lines in sorted(blocks, key=lambda block: block[0]):
        if when != clock:
            out.append(f"clock {when}")
            clock = when
        out += lines
    return "\n".join(out) + "\n", expected


def _assessment(round_: str, expected: Expected) -> list[str]:
    """A round of the self-assessment: each rates themselves in every area, but one."""
    lines: list[str] = []
    for i, (user, _, _) in enumerate(PEOPLE):
        if i == SKIPS_ASSESSMENT[round_]:
            continue
        given = {area: assessment_rating(round_, i, n) for n, area in enumerate(AREAS)}
        lines += [f"as {user}", "assess", *map(str, given.values())]
        expected.assessed[round_][user] = given
    return lines


def _digilog(theme: int, posts: list[str], expected: Expected) -> list[str]:
    """Two of three post in the theme's digilog; some reply. `posts`: p1, p2 … → author."""
    lines: list[str] = []
    authors = [u for i, (u, _, _) in enumerate(PEOPLE) if (i + theme) % 3 != 0]
    first = len(posts)
    for user in authors:
        lines += [f"as {user}", f"post --theme {theme} Tankar om tema {theme} från {user}."]
        posts.append(user)
        expected.posted[theme, label(user)].add(user)
    # Every fourth person replies to the post two places after theirs in this theme:
    # sometimes a colleague's, sometimes another organisation's.
    theme_posts = list(range(first, len(posts)))
    for i, (user, _, _) in enumerate(PEOPLE):
        if (i + theme) % 4 != 1:
            continue
        target = theme_posts[(i + 2) % len(theme_posts)]
        if posts[target] == user:
            target = theme_posts[(i + 3) % len(theme_posts)]
        lines += [f"as {user}", f"reply p{target + 1} Håller med, {posts[target]}!"]
        posts.append(user)
        expected.posted[theme, label(user)].add(user)
        expected.replies[theme, label(user)] += 1
        if organisation(posts[target]) != organisation(user):
            expected.across[theme, label(user)] += 1
    return lines


def _buddies(theme: int, expected: Expected) -> list[str]:
    """A facilitator pairs learning buddies for the theme and announces them; some of the
    buddies press "We met" under their group's introduction."""
    opted = PEOPLE[OPTS_OUT][0]
    lines = [f"as {opted}", "buddies optout" if theme == BUDDY_THEMES[0] else "buddies optin"]
    expected.opted_out[theme] = {opted} if theme == BUDDY_THEMES[0] else set()
    lines += ["as fia", f"pair {theme} --seed {40 + theme}", "1"]
    for i, (user, _, _) in enumerate(PEOPLE):
        if user not in expected.opted_out[theme] and (i + theme) % 3 == 1:
            lines += [f"as {user}", "1"]
            expected.met[theme].append(user)
    return lines


def _tasks(theme: int, expected: Expected) -> list[str]:
    """The theme's reflection task, as each does it (or not): with the learning buddy, with
    a colleague outside the programme, or with one in it, who then has it done too."""
    either = PROGRAMME.themes[theme - 1].reflection_task.with_ == "either"
    done = expected.tasks[theme]
    chosen: dict[str, str] = {}  # whom a colleague in the programme was chosen by
    lines: list[str] = []
    hand_in = ["1", f"Vi hittade tre likheter i tema {theme}.", ""]
    for i, (user, _, _) in enumerate(PEOPLE):
        if user in done:
            continue  # a colleague has handed in what the two of them found
        how = (i + theme) % 4 if either else 1 + (i + theme) % 3
        if how == 0:  # with the learning buddy
            lines += [f"as {user}", f"task {theme}", "2", *hand_in]
            done[user] = "buddy"
        elif how == 1:  # with a colleague who is not in the programme
            lines += [f"as {user}", f"task {theme}", "1", "", "Karin Holm", *hand_in]
            done[user] = "colleague"
        elif how == 2:  # with the first colleague the form offers
            colleague = first_colleague(user)
            lines += [f"as {user}", f"task {theme}", "1", "1", "", *hand_in]
            if colleague not in done:
                chosen[colleague] = user
            done[user] = "colleague"
            if chosen.get(colleague) == user:  # what we found is both people's
                done[colleague] = "colleague"
        # how == 3: does not do the task
    return lines


def _survey(theme: int, expected: Expected) -> list[str]:
    """The survey after the theme, answered by some; some write a comment."""
    assert PROGRAMME.survey is not None
    lines: list[str] = []
    for i, (user, _, _) in enumerate(PEOPLE):
        if not ANSWERS_SURVEY[theme](i):
            continue
        lines += [f"as {user}", f"survey {theme}"]
        given: dict[str, int] = {}
        for n, question in enumerate(PROGRAMME.survey.for_theme(theme)):
            if question.kind == "rating":
                given[question.id] = survey_rating(theme, i, n)
                lines.append(str(given[question.id]))
            elif i % 3 == 0:
                comment = f"Tema {theme}: {COMMENTS[(i // 3 + theme) % len(COMMENTS)]}"
                expected.comments[theme].append(comment)
                lines.append(comment)
            else:
                lines.append("")
        expected.ratings[theme][user] = given
    return lines


async def prepare(url: str) -> None:
    """The example programme, a cohort of seventeen in four organisations, its calendar."""
    engine = create_engine(url)
    try:
        store = Store(engine)
        programme = load_programme(EXAMPLE)
        await admin.load_programme(store, programme)
        await admin.create_cohort(
            store,
            admin.CohortSpec(key="term", program_id=programme.id, title="Term", language="en"),
        )
        rows = [
            RosterRow(1, "Fia Facilitator", None, "fia", "region-vasterbotten", Role.facilitator)
        ] + [
            RosterRow(n, f"Person {user}", None, user, org, Role.participant)
            for n, (user, org, _) in enumerate(PEOPLE, start=2)
        ]
        added, problems = await admin.import_roster(store, "term", rows, skip_bad=False)
        assert added == len(rows) and not problems
        await admin.load_calendar(store, "term", CALENDAR)
    finally:
        await engine.dispose()


async def stamped_today(url: str, since: datetime) -> dict[str, int]:
    """Per column, how many times stored since `since` carry the real time rather than the
    rehearsal's (which begins in 2027)."""
    rehearsal = datetime(2027, 1, 1, tzinfo=UTC)
    found: dict[str, int] = {}
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            for table in Base.metadata.sorted_tables:
                for column in table.columns:
                    if isinstance(column.type, UTCDateTime):
                        query = select(func.count()).where(column >= since, column < rehearsal)
                        if count := await connection.scalar(query):
                            found[f"{table.name}.{column.name}"] = count
    finally:
        await engine.dispose()
    return found


def told_scores(out: str) -> dict[tuple[int, str], int]:
    """What each participant was told they scored, by theme."""
    scores: dict[tuple[int, str], int] = {}
    for match in re.finditer(
        r"^(\w+)> quiz (\d)\n(?:.*\n)*?.*You answered (\d+) of (\d+) questions correctly",
        out,
        re.M,
    ):
        user, theme, right, total = match.groups()
        assert int(total) == QUESTIONS[int(theme)]
        scores[int(theme), user] = int(right)
    return scores


REPORT_LINE = re.compile(
    r"^  (.+?)\s{2,}(\d+) of (\d+) in the digilog · (\d+) replies, (\d+) across organisations"
    r" · quiz (\d+) of (\d+)(?: \((\d+)%\))?$"
)


def shown_for(people: list[str]) -> list[str]:
    """The groups a figure over these people may be shown for, by the rule: everyone when
    they are at least K, and each group too when each group has K of them."""
    if len(people) < K:
        return []
    if all(sum(1 for u in people if label(u) == g) >= K for g in GROUPS):
        return ["Everyone", *GROUPS]
    return ["Everyone"]


def members(group: str, people: list[str]) -> list[str]:
    return people if group == "Everyone" else [u for u in people if label(u) == group]


def near(shown: str, exact: float) -> bool:
    """A figure printed with one decimal is the exact one, rounded."""
    return abs(float(shown) - exact) <= 0.05 + 1e-9


def asked(theme: int) -> dict[str, str]:
    """The survey's rated questions after a theme, as they were asked: id → text."""
    assert PROGRAMME.survey is not None
    return {
        q.id: localise(q.text, "en")
        for q in PROGRAMME.survey.for_theme(theme)
        if q.kind == "rating"
    }


def check_survey(theme: int, section: str, out: str, expected: Expected) -> str:
    """The survey's figures in the report and in `survey results`; which case it was."""
    answered = expected.ratings[theme]
    people = list(answered)
    groups = shown_for(people)
    questions = asked(theme)
    found: dict[str, dict[str, tuple[str, int]]] = {}
    for group, figures in re.findall(r"^    Survey, (.+?)\s{2,}(.+)$", section, re.M):
        found[group] = {}
        for part in figures.split(" · "):
            match = re.fullmatch(r"(.+): (\d+\.\d) \((\d+)\)", part)
            assert match, part
            found[group][match.group(1)] = (match.group(2), int(match.group(3)))
    assert list(found) == groups, (theme, section)
    for group in groups:
        # Labelled as they were asked after this theme.
        assert set(found[group]) == set(questions.values()), (theme, group)
        for qid, text in questions.items():
            ratings = [answered[u][qid] for u in members(group, people)]
            mean, n = found[group][text]
            assert n == len(ratings) >= K, (theme, group, qid)
            assert near(mean, sum(ratings) / n), (theme, group, qid, mean)
    if 0 < len(people) < K:
        assert f"(Survey: {len(people)} have answered. Figures are shown from {K}" in section
    elif not people:
        assert "Survey" not in section
    # `survey results`: the same figures, question by question, and the comments without
    # names once K have answered; before that not one of them, anywhere.
    results = out.split(f"fia> survey results {theme}\n", 1)[1].split("\nfia> ", 1)[0]
    if len(people) < K:
        assert f"{len(people)} have answered. Figures are shown from {K}" in results
        assert "Survey, " not in section and "**Comments**" not in results
        for comment in expected.comments[theme]:
            typed = len(re.findall(rf"^\w+> {re.escape(comment)}$", out, re.M))
            assert out.count(comment) == typed, comment
        return "too few"
    assert f"{len(people)} have answered." in results
    for qid, text in questions.items():
        block = results.split(f"**{text}**\n", 1)[1].split("**", 1)[0]
        rows = dict(re.findall(r"^    (.+?)\s{2,}(\d+\.\d \(\d+\))$", block, re.M))
        assert list(rows) == groups, (theme, qid)
        for group in groups:
            mean, n = found[group][text]
            assert rows[group] == f"{mean} ({n})", (theme, group, qid)
    comments = re.findall(r"^    • (.+)$", results, re.M)
    assert expected.comments[theme] and comments == sorted(
        expected.comments[theme], key=str.casefold
    ), theme
    return "per group" if len(groups) > 1 else "everyone"


GROUP_TALK = re.compile(
    r"^\[Digilog → (.+), a group conversation\]\n  == Your learning buddies for theme (\d) ==$",
    re.M,
)


def check_buddies(theme: int, section: str, out: str, expected: Expected) -> None:
    """The groups announced pair people across organisations, everyone who takes part
    once; the report counts the groups, and those where someone pressed "We met"."""
    groups = [
        [name.removeprefix("Person ") for name in names.split(", ")]
        for names, number in GROUP_TALK.findall(out)
        if int(number) == theme
    ]
    paired = [u for group in groups for u in group]
    taking_part = [u for u, _, _ in PEOPLE if u not in expected.opted_out[theme]]
    assert sorted(paired) == sorted(taking_part), theme
    for group in groups:
        # Across real organisations, whatever groups the report merges them into.
        assert 2 <= len(group) <= 3 and len({organisation(u) for u in group}) >= 2, group
        if len(group) == 2:
            assert organisation(group[0]) != organisation(group[1]), group
    met = sum(1 for group in groups if set(group) & set(expected.met[theme]))
    assert 0 < met < len(groups)
    assert f"(Learning buddies: {met} of {len(groups)} groups have met.)" in section, theme


def check_tasks(theme: int, section: str, expected: Expected) -> None:
    done = list(expected.tasks[theme].values())
    colleague, buddy = done.count("colleague"), done.count("buddy")
    assert (buddy > 0) == (theme in BUDDY_THEMES)
    assert (
        f"(Reflection task handed in: {colleague} with a colleague, {buddy} with a learning buddy.)"
    ) in section, theme


def check_assessment(report: str, expected: Expected) -> None:
    """Per area, the mean at the start and at the end of those who rated themselves at
    both, per group when each group has K of them."""
    section = report.split("**Self-assessment: start and end**\n", 1)[1]
    start, end = expected.assessed["start"], expected.assessed["end"]
    both = [u for u in start if u in end]
    groups = shown_for(both)
    assert groups == ["Everyone", *GROUPS]  # this term's case: shown per group
    rows = re.findall(
        r"^    (.+) · (.+?)\s{2,}(\d+\.\d) → (\d+\.\d) \(([+-]\d+\.\d), (\d+)\)$", section, re.M
    )
    assert PROGRAMME.self_assessment is not None
    titles = [localise(area.title, "en") for area in PROGRAMME.self_assessment.areas]
    assert [(title, group) for title, group, *_ in rows] == [
        (title, group) for title in titles for group in groups
    ]
    for title, group, before, after, change, n in rows:
        area = AREAS[titles.index(title)]
        people = members(group, both)
        assert int(n) == len(people) >= K, (title, group)
        mean_start = sum(start[u][area] for u in people) / len(people)
        mean_end = sum(end[u][area] for u in people) / len(people)
        assert near(before, mean_start) and near(after, mean_end), (title, group)
        assert near(change, mean_end - mean_start), (title, group)


def check_report(out: str, expected: Expected) -> None:
    report = out.split("fia> report\n", 1)[1]
    sizes = {g: sum(1 for _, _, lab in PEOPLE if lab == g) for g in GROUPS}
    assert min(sizes.values()) >= K
    scores = told_scores(out)
    cases: set[str] = set()
    for theme in THEMES:
        section = report.split(f"Theme {theme}: ", 1)[1].split("Theme ", 1)[0]
        found = {
            m.group(1).strip(): m.groups()[1:]
            for line in section.splitlines()
            if (m := REPORT_LINE.match(line))
        }
        assert set(found) == set(GROUPS), section
        finishers = expected.quizzers[theme]
        per_group = {g: [u for u in finishers if label(u) == g] for g in GROUPS}
        shown = all(len(users) >= K for users in per_group.values())
        for group in GROUPS:
            posted, people, replies, across, done, people2, mean = found[group]
            assert int(people) == int(people2) == sizes[group]
            assert int(posted) == len(expected.posted[theme, group]), (theme, group)
            assert int(replies) == expected.replies[theme, group], (theme, group)
            assert int(across) == expected.across[theme, group], (theme, group)
            assert int(done) == len(per_group[group]), (theme, group)
            if shown:
                share = sum(scores[theme, u] for u in per_group[group]) / (
                    QUESTIONS[theme] * len(per_group[group])
                )
                assert mean is not None and int(mean) == round(share * 100), (theme, group)
            else:
                assert mean is None, (theme, group)
        cases.add(check_survey(theme, section, out, expected))
        check_tasks(theme, section, expected)
        if theme in BUDDY_THEMES:
            check_buddies(theme, section, out, expected)
        else:
            assert "Learning buddies" not in section
    # Each case of the rule came up: a survey shown per group, one for everyone only, one
    # with too few answers to show anything.
    assert cases == {"per group", "everyone", "too few"}
    check_assessment(report, expected)
    labs = report.split("Labs: seats taken, and sessions attended", 1)[1]
    for group in GROUPS:
        seats = sum(1 for u in expected.seated if label(u) == group)
        went = sum(1 for u in expected.attended if label(u) == group)
        assert re.search(rf"^\s+{group}\s+{seats} seats · {went} attended$", labs, re.M), group
    # The hours: the lab session is all anyone was marked present at.
    session = next(lab for lab in PROGRAMME.labs if lab.id == LAB).sessions[0]
    length = (session.end - session.start).total_seconds() / 3600
    hours = report.split("**Hours of attendance**\n", 1)[1]
    for group in GROUPS:
        total = length * sum(1 for u in expected.attended if label(u) == group)
        each = f"{round(total / sizes[group], 1):g} h per participant"
        shown = (
            f"labs, local meetings and events: {total:g} h · in total {total:g} h ({each})"
            if total
            else f"in total 0 h ({each})"
        )
        assert re.search(rf"^    {group}\s+{re.escape(shown)}$", hours, re.M), (group, shown)


def test_a_whole_term_says_the_same_every_time_and_the_report_adds_up(
    sqlite_template: Path, postgres_database: str, tmp_path: Path
) -> None:
    text, expected = transcript()
    outputs: list[str] = []
    for run in range(2):
        path = tmp_path / f"term{run}.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite+aiosqlite:///{path}"
        for n, database in enumerate((url, postgres_database)):
            if database == postgres_database:
                asyncio.run(empty_postgres(postgres_database))
            asyncio.run(prepare(database))
            cwd = tmp_path / f"run{run}-{n}"  # the report's chart is saved there
            cwd.mkdir()
            before = datetime.now(UTC)
            outputs.append(run_console_at(database, cwd, text, "2027-01-31 08:00", "term"))
            # Everything the rehearsal stored carries its time, not today's.
            assert asyncio.run(stamped_today(database, before)) == {}
    (tmp_path / "term.txt").write_text(outputs[0])
    for other in outputs[1:]:
        assert other == outputs[0]
    out = outputs[0]
    # Everyone who took a quiz was told a score; nothing went wrong on the way.
    assert len(told_scores(out)) == sum(len(u) for u in expected.quizzers.values())
    assert "Traceback" not in out and "(no choice" not in out
    assert "(not one of the choices)" not in out
    check_report(out, expected)
    # Nudges: at most one message a day to anyone, and never a message that someone's
    # nudges were paused.
    days = [
        (day, name)
        for day, name, body in re.findall(
            r"^\[\w{3} (\d{1,2} \w{3}) \d\d:\d\d\] \[Digilog → (.+), direct message\]\n"
            r"((?:  .*\n)+)",
            out,
            re.M,
        )
        if "One such message a day at most" in body
    ]
    assert days and len(days) == len(set(days))
    assert "are paused" not in out
    # The lab's reminder went the day before, to each with a seat.
    assert out.count("Lab: Handling information is tomorrow") == len(expected.seated)
