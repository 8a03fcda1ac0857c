"""A whole spring term rehearsed in the console, as a facilitator would: organisations of
7, 5, 3 and 2 participants, all four themes' digilogs and quizzes, the calendar's posts
and nudges on the way. The same transcript says the same, byte for byte, twice on SQLite
and twice on PostgreSQL, and every figure of the report is checked against what the
transcript did: who posted, who replied to whom, who finished which quiz and what each
was told they scored.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from handlers import admin
from handlers.core.programme_file import load_programme
from handlers.core.roster import RosterRow
from storage.db import create_engine
from storage.models import Role
from storage.unit import Store
from tests.conftest import EXAMPLE
from tests.test_rehearsal import CALENDAR, empty_postgres, run_console_at

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


def organisation(user: str) -> str:
    return next(org for u, org, _ in PEOPLE if u == user)


def label(user: str) -> str:
    return next(lab for u, _, lab in PEOPLE if u == user)


def transcript() -> tuple[str, Expected]:
    """The term's lines, and what they did."""
    lines: list[str] = []
    expected = Expected()
    posts: list[str] = []  # p1, p2 … → author
    for theme, (opens, quiz_opens) in THEMES.items():
        lines.append(f"clock {opens}")
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
        if theme == 1:  # every third person takes a seat at a lab; most of them go
            for i, (user, _, _) in enumerate(PEOPLE):
                if i % 3 == 0:
                    lines += [f"as {user}", f"lab signup {LAB} 1"]
                    expected.seated.append(user)
            expected.attended = [u for n, u in enumerate(expected.seated) if n % 4 != 3]
        lines.append(f"clock {quiz_opens}")
        for i, (user, _, _) in enumerate(PEOPLE):
            if theme % 2 == 1 and (i + theme) % 5 == 0:
                continue  # does not take this quiz (in the even themes, everyone does)
            answer = str(1 + (i + theme) % 2)
            lines += [f"as {user}", f"quiz {theme}", *[answer] * QUESTIONS[theme]]
            expected.quizzers[theme].append(user)
    lines += [
        "clock 2027-06-20 10:00",
        "as fia",
        f"lab attended {LAB} 1 {' '.join(expected.attended)}",
        "report",
        "quit",
    ]
    return "\n".join(lines) + "\n", expected


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


def check_report(out: str, expected: Expected) -> None:
    report = out.split("fia> report\n", 1)[1]
    sizes = {g: sum(1 for _, _, lab in PEOPLE if lab == g) for g in GROUPS}
    assert min(sizes.values()) >= 5
    scores = told_scores(out)
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
        shown = all(len(users) >= 5 for users in per_group.values())
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
    labs = report.split("Labs: seats taken, and sessions attended", 1)[1]
    for group in GROUPS:
        seats = sum(1 for u in expected.seated if label(u) == group)
        went = sum(1 for u in expected.attended if label(u) == group)
        assert re.search(rf"^\s+{group}\s+{seats} seats · {went} attended$", labs, re.M), group


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
            outputs.append(run_console_at(database, cwd, text, "2027-01-31 08:00", "term"))
    (tmp_path / "term.txt").write_text(outputs[0])
    for other in outputs[1:]:
        assert other == outputs[0]
    out = outputs[0]
    # Everyone who took a quiz was told a score; nothing went wrong on the way.
    assert len(told_scores(out)) == sum(len(u) for u in expected.quizzers.values())
    assert "Traceback" not in out and "(no choice" not in out
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
