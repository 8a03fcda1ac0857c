"""Cohort calendars: a file checked line by line, stored whole, shown in the cohort's zone."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.console.render import render
from handlers.admin import calendar, load_calendar
from handlers.core.calendar_file import load_calendar as read_calendar
from handlers.core.programme_file import Programme
from handlers.core.vocabulary import Message
from handlers.core.yaml_file import FileProblems
from handlers.digilog import Digilog
from storage.models import Cohort
from storage.unit import Store
from tests.chat import Chat
from tests.conftest import ROOT, run_digilog

EXAMPLE = ROOT / "examples" / "digital-kompetens-calendar.yaml"


def test_the_example_calendar_fits_the_example_programme(programme: Programme) -> None:
    events = read_calendar(EXAMPLE, programme, "Europe/Stockholm")
    kinds = [e.kind for e in events]
    assert kinds.count("theme_start") == 4
    assert kinds.count("quiz_close") == 4
    assert {"opening_meeting", "closing_meeting"} <= set(kinds)
    first = next(e for e in events if e.key == "theme:1:start")
    # 08:00 in Stockholm in February is 07:00 UTC.
    assert first.starts_at.astimezone(UTC) == datetime(2027, 2, 1, 7, 0, tzinfo=UTC)
    assert events == sorted(events, key=lambda e: (e.starts_at, e.key))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "themes:\n  1:\n    start: 2027-02-01 08:00\n"
            "    quiz: {opens: 2027-02-10 08:00, closes: 2027-02-09 08:00}\n",
            "cal.yaml:4: themes[1].quiz.closes: it closes before it opens",
        ),
        (
            "themes:\n  1:\n    start: 2027-02-01 08:00\n"
            "    digilog: {opens: 2027-01-20 08:00, closes: 2027-02-09 08:00}\n",
            "cal.yaml:4: themes[1].digilog.opens: it opens before the theme starts",
        ),
        (
            "themes:\n  1: {start: 2027-03-01 08:00}\n  2: {start: 2027-02-01 08:00}\n",
            "cal.yaml:3: themes[2].start: theme 2 starts before theme 1",
        ),
        (
            "themes:\n  1: {start: 2027-02-01 08:00}\n  9: {start: 2027-03-01 08:00}\n",
            "cal.yaml:3: themes[9]: the programme has no theme 9",
        ),
        (
            "themes:\n  1: {start: 2027-02-01 08:00, quizz: {}}\n",
            "cal.yaml:2: themes[1].quizz: unknown field (check the spelling)",
        ),
        (
            "timezone: Mars/Olympus\nthemes:\n  1: {start: 2027-02-01 08:00}\n",
            "cal.yaml:1: timezone: unknown time zone Mars/Olympus (e.g. Europe/Stockholm)",
        ),
        ("themes: [1, 2\n", "cal.yaml:2: (YAML): a list in [brackets] that is never closed"),
    ],
)
def test_a_bad_calendar_names_file_line_and_field(
    programme: Programme, tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "cal.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FileProblems) as raised:
        read_calendar(path, programme, "Europe/Stockholm")
    lines = [str(p).replace(str(tmp_path) + "/", "") for p in raised.value.problems]
    assert any(line.startswith(expected) for line in lines), lines


async def test_loading_replaces_the_calendar_and_a_bad_file_changes_nothing(
    store: Store, cohort: Cohort, tmp_path: Path
) -> None:
    assert await load_calendar(store, cohort.key, EXAMPLE) == 50
    bad = tmp_path / "bad.yaml"
    bad.write_text("themes:\n  9: {start: 2027-02-01 08:00}\n", encoding="utf-8")
    with pytest.raises(FileProblems):
        await load_calendar(store, cohort.key, bad)
    _, _, entries = await calendar(store, cohort.key)
    assert len(entries) == 50
    small = tmp_path / "small.yaml"
    small.write_text("themes:\n  1: {start: 2027-02-01 08:00}\n", encoding="utf-8")
    assert await load_calendar(store, cohort.key, small) == 1
    _, _, entries = await calendar(store, cohort.key)
    assert [(e.key, e.starts_at) for e in entries] == [
        ("theme:1:start", datetime(2027, 2, 1, 7, 0, tzinfo=UTC))
    ]


async def test_schedule_shows_whats_coming_in_the_readers_language(
    store: Store, cohort: Cohort, digilog: Digilog
) -> None:
    chat = Chat(digilog, cohort)
    before = await chat.say("anna", "schedule")
    assert "Lab: Handling information" in before.text  # labs come from the programme
    await load_calendar(store, cohort.key, EXAMPLE)
    [reply] = (await chat.say("anna", "schedule")).outgoing
    assert isinstance(reply.message, Message)
    text = render(reply.message)[0]
    assert "Mon 1 Feb 08:00**  Theme 1 starts: Why there is such a focus" in text
    assert text.index("Theme 1 starts") < text.index("The digilog of theme 1 opens")
    assert "Times in Europe/Stockholm." in text
    outsider = await chat.say("stranger", "schedule")
    assert "not enrolled" in outsider.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_cli_loads_and_shows_a_calendar(database_url: str, tmp_path: Path) -> None:
    def digilog(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return run_digilog(database_url, tmp_path, *args, stdin=stdin, language="sv")

    assert digilog("console", stdin="quit\n").returncode == 0  # creates the demo cohort
    bad = tmp_path / "bad.yaml"
    bad.write_text("themes:\n  9: {start: 2027-02-01 08:00}\n", encoding="utf-8")
    refused = digilog("schedule", "load", "demo", str(bad))
    assert refused.returncode == 1
    assert f"{bad}:2: themes[9]: utbildningen har inget tema 9" in refused.stderr
    loaded = digilog("schedule", "load", "demo", str(EXAMPLE))
    assert loaded.returncode == 0, loaded.stderr
    shown = digilog("schedule", "show", "demo", "--all")
    assert "Tema 1 startar: Därför är det stort fokus på digital transformation" in shown.stdout
    assert "Tider i Europe/Stockholm." in shown.stdout


async def test_schedule_shows_times_in_the_readers_own_time_zone(
    store: Store, cohort: Cohort, digilog: Digilog
) -> None:
    chat = Chat(digilog, cohort)
    await load_calendar(store, cohort.key, EXAMPLE)
    refused = await chat.say("anna", "timezone Mars/Olympus")
    assert "There is no time zone Mars/Olympus" in refused.text
    moved = await chat.say("anna", "timezone America/New_York")
    assert "Times are shown to you in America/New_York." in moved.text
    text = (await chat.say("anna", "schedule")).text
    # 08:00 in Stockholm on 1 February is 02:00 in New York.
    assert "Mon 1 Feb 02:00**  Theme 1 starts" in text
    assert "Times in America/New_York." in text
    others = (await chat.say("bjorn", "schedule")).text
    assert "Mon 1 Feb 08:00**  Theme 1 starts" in others
