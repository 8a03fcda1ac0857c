"""The issue's end-to-end check: a transcript piped into `digilog console` runs theme 1."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from storage.unit import Store
from tests.conftest import EXAMPLE, run_digilog

TRANSCRIPT = """\
# a facilitator starts theme 1
theme start 1
as anna
post Digitaliseringen av våra e-tjänster har förändrat hur vi möter invånarna.
as bjorn
reply p1 Hos oss i Piteå har ledarskapet fått en ny roll i förändringsarbetet.
bank digitalisering
as fia
quiz start 1
as anna
quiz
1
2
1
1
1
1
1
1
as bjorn
1
quiz 1
2
2
2
2
2
2
2
2
as fia
results 1
quit
"""


def run_console(database_url: str, transcript: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DIGILOG_DATABASE_URL": database_url, "DIGILOG_LANGUAGE": "en"}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "console", *args],
        input=transcript,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_theme_one_runs_end_to_end_in_the_console(database_url: str) -> None:
    result = run_console(database_url, TRANSCRIPT)
    assert result.returncode == 0, result.stderr
    out = result.stdout

    # The facilitator's theme post went to the channel, with the example's title.
    assert "[Digilog in #demo]" in out
    assert "Theme 1: Why there is such a focus on digital transformation" in out
    # Two participants from different organisations posted and replied.
    assert "[p1] Anna Lindqvist: Digitaliseringen" in out
    assert "[p2] Björn Öberg: Hos oss i Piteå" in out
    # Björn searched with the base form and found Anna's post, inflected word highlighted.
    search = out.split("bjorn> bank digitalisering", 1)[1].split("fia> quiz start 1", 1)[0]
    assert "Anna Lindqvist (Umeå Municipality)" in search
    assert "**Digitaliseringen** av våra e-tjänster" in search
    # Anna's private quiz buttons are not Björn's to press.
    assert "bjorn> 1\n  (no choice 1 is shown)" in out
    # The quiz: every answer counted once, a score at the end for both.
    assert out.count("You answered") == 2
    assert re.search(r"You answered \d of 8 questions correctly", out)
    # The demo's four participants are too few for any figure, even how many answered.
    results = out.split("fia> results 1", 1)[1]
    assert "The cohort has 4 participants. Figures are shown from 5 participants on" in results
    assert "have answered" not in results and "Umeå" not in results


def test_search_finds_another_participants_inflected_words(database_url: str) -> None:
    transcript = (
        "theme start 1\n"
        "as anna\n"
        "post Vi behöver fler reflektioner om hur digitaliseringen påverkar ledarskapet.\n"
        "as bjorn\n"
        "reply p1 Min reflektion: digitalisering handlar om arbetssätt, inte teknik.\n"
        "as anna\n"
        "bank reflektion\n"
    )
    result = run_console(database_url, transcript)
    assert result.returncode == 0, result.stderr
    search = result.stdout.split("anna> bank reflektion", 1)[1]
    # Björn's reply (another organisation) is found, with the matching word highlighted,
    # and so is Anna's own post, where the plural form matched.
    assert "Björn Öberg (Piteå Municipality)" in search
    assert "Min **reflektion**: digitalisering" in search
    assert "fler **reflektioner** om" in search


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_console_reads_the_bundled_example_only_once(database_url: str) -> None:
    first = run_console(database_url, "theme\n")
    second = run_console(database_url, "who\n")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "Anna Lindqvist" in second.stdout
    assert EXAMPLE.exists()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_lab_sign_up_in_the_console(database_url: str, tmp_path: Path) -> None:
    transcript = "as anna\nlabs\n1\n1\nas fia\nlab attendees hantera-information 1\nquit\n"
    result = run_digilog(database_url, tmp_path, "console", stdin=transcript, language="en")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Leading digitally and in a digital age" in out
    assert "You have a seat at Handling information on Tue 16 Feb 13:00–15:00." in out
    # The confirmation's button saved the session as a calendar file.
    assert "[file hantera-information-1.ics" in out
    assert (tmp_path / "hantera-information-1.ics").read_bytes().startswith(b"BEGIN:VCALENDAR")
    attendees = out.split("fia> lab attendees", 1)[1]
    assert "Signed up" in attendees and "Anna Lindqvist" in attendees


BUDDY_ROUND = """\
theme start 1
pair 1
1
1
as anna
1
1
as cecilia
1
quit
"""


def test_a_buddy_round_is_announced_and_each_group_says_it_met(database_url: str) -> None:
    result = run_console(database_url, BUDDY_ROUND)
    assert result.returncode == 0, result.stderr
    out = result.stdout

    # The facilitator previews the pairs, privately, with a button to announce them.
    preview = out.split("fia> pair 1\n", 1)[1].split("fia> 1\n", 1)[0]
    assert "[Digilog → Fia Facilitator, only you]" in preview
    assert "== Learning buddies for theme 1 ==" in preview and "[1] Announce" in preview
    # Picking it announces: each pair gets a group conversation of its own with the
    # reflection task and a "We met" button.
    announced = out.split("fia> 1\n", 2)[1]
    groups = re.findall(r"\[Digilog → (.+), a group conversation\]", announced)
    assert len(groups) == 2
    names = sorted(name for group in groups for name in group.split(", "))
    assert names == ["Anna Lindqvist", "Björn Öberg", "Cecilia Åström", "David Nilsson"]
    assert announced.count("[1] We met") == 2 and "Reflection task" in announced
    assert "2 groups announced." in announced
    # The facilitator is in neither group: those buttons are not hers to press.
    assert "fia> 1\n  (no choice 1 is shown)\nfia> as anna" in out
    # Anna and Cecilia each press the button of their own group; pressing again counts once.
    assert out.count("Noted: you met. Thank you!") == 2
    assert "anna> 1\n[Digilog → Anna Lindqvist, only you]\n  You had said so already." in out
    assert "cecilia> 1\n[Digilog → Cecilia Åström, only you]\n  Noted: you met." in out


SURVEY = """\
theme start 1
survey open 1
as anna
1
9
4
5
More time with my learning buddy, please.
as bjorn
survey
3
cancel
as fia
survey results 1
quit
"""


async def test_a_survey_is_answered_line_by_line_in_the_console(
    database_url: str, store: Store
) -> None:
    result = run_console(database_url, SURVEY)
    assert result.returncode == 0, result.stderr
    out = result.stdout

    # The survey is announced in the channel with a button that opens the form.
    assert "== Survey after theme 1 ==" in out and "[1] Answer" in out
    form = out.split("anna> 1\n", 1)[1].split("as bjorn", 1)[0]
    assert form.startswith("[Survey after theme 1]\n  From 1 (Strongly disagree) to 5")
    # One field a line; a rating off the scale is asked again.
    assert "  The theme was useful in my work as a manager. (empty: keep" in form
    assert "anna> 9\n  (not one of the choices)\n  [1] 1" in form
    assert "  What do you take with you, and what could have been better? (empty: keep" in form
    assert "Thank you! Your answers to “Survey after theme 1” are saved." in form
    # Björn starts the form with `survey` and stops halfway: nothing of his is kept.
    assert "bjorn> cancel\n  (cancelled)" in out
    # The demo's four participants are too few for the facilitator to see any figures.
    results = out.split("fia> survey results 1", 1)[1]
    assert "The cohort has 4 participants. Figures are shown from 5 participants on" in results
    assert "has answered" not in results

    async with store.transaction() as repos:
        [cohort] = await repos.cohorts.all()
        answers = await repos.surveys.answers(cohort.id, "theme:1")
    assert sorted((a.question_id, a.rating, a.text) for a in answers) == [
        ("buddy", 5, None),
        ("comment", None, "More time with my learning buddy, please."),
        ("useful", 4, None),
    ]
