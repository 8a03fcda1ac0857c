"""The programme as it is really run, rehearsed in the console over the whole term with the
bundled example programme and calendar: each organisation's own opening meeting (its
reminder, a shared needs inventory, the support function's summary), a reflection task
done with a colleague, the digest before a workshop, a theme done with a colleague and
its own survey questions, and the final evaluation opened at the joint closing."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from tests.test_rehearsal import prepare, run_console_at

START = "2027-01-20 08:00"
TRANSCRIPT = """\
as fia
enrol karin umea --support --name Karin
enrol anders umea --name Anders
enrol eva umea --name Eva
clock 2027-01-22 13:00
as anna
needs --share Jag vill lära mig leda digital förändring i min förvaltning.
as anders
needs --share Jag vill förstå digital förändring och vad AI betyder för oss.
as karin
needs summary
schedule
clock 2027-02-01 09:30
as anna
task 1
1
1

as anders
task 1
1
Vi hittade tre e-tjänster som bara har digitiserats, och en process som verkligen förändrats.

post --theme 1 Invånarnas förväntningar på digitala e-tjänster växer snabbare än vi bygger dem.
as bjorn
post --theme 1 Kompetensförsörjningen styr allt hos oss, och de digitala e-tjänsterna får vänta.
as cecilia
reply p1 Samma här: invånarnas förväntningar på e-tjänster är höga, vi prioriterar hårt.
as david
post --theme 1 Vi testar kvantdatorer i ett labb.
as eva
reply p2 Kompetensförsörjningen är vår största fråga också, hur behåller ni folk?
as fia
clock 2027-02-09 08:00
digest 1
report
theme start 2
survey open 2
as anna
survey 2
4
kortare filmer
5
clock 2027-06-10 15:30
as eva
survey final
5
4
5
Jag håller kortare möten.
as fia
schedule --all
quit
"""


def run(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "term.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite+aiosqlite:///{path}"
    asyncio.run(prepare(url))
    return run_console_at(url, tmp_path, TRANSCRIPT, START)


def between(out: str, start: str, end: str) -> str:
    return out.split(start, 1)[1].split(end, 1)[0]


def test_the_programme_as_it_is_run_over_a_term(sqlite_template: Path, tmp_path: Path) -> None:
    out = run(sqlite_template, tmp_path)

    # Umeå's own opening meeting, on a Monday, is recalled on the Friday to its own people.
    reminders = between(out, "fia> clock 2027-01-22 13:00", "fia> as anna")
    for name in ("Anna Lindqvist", "anders", "eva", "karin"):
        assert f"[Fri 22 Jan 13:00] [Digilog → {name}, direct message]" in reminders
    assert "Björn" not in reminders and "[Digilog in #demo]" not in reminders
    assert "Host: Karin Holm, HR-avdelningen" in reminders
    assert "(As support: a week after the meeting you get a summary" in reminders
    # The support function's summary: its own organisation's shared needs inventories.
    summary = between(out, "karin> needs summary", "karin> schedule")
    assert "Phrases  digital förändring (2)" in summary
    assert "fewer than 5 participants" in summary
    calendar = between(out, "karin> schedule", "karin> clock")
    assert "The opening local meeting of Umeå Municipality · Host: Karin Holm" in calendar
    assert "Piteå Municipality" not in calendar  # another organisation's own meeting
    # Theme 1 is done with a colleague or a learning buddy, as each chooses.
    assert "    [1] With a colleague\n    [2] With my learning buddy\n    [3] Write a" in out
    task = between(out, "anna> task 1", "anna> as anders")
    assert "  [1] Anders\n  [2] Eva\n  A colleague in the programme" in task
    assert "[Digilog → anders, direct message]" in task
    assert "Anna Lindqvist does the reflection task of theme 1 with you." in task
    assert "the reflection task of theme 1 is done. Thank you!" in out
    # The digest, the working day before the workshop: figures for all six together.
    digest = between(out, "fia> clock 2027-02-09 08:00", "fia> digest 1")
    assert "[Tue 9 Feb 08:00] [Digilog → Fia Facilitator, direct message]" in digest
    assert "All organisations  3 of 6 posted, 2 replied · 3 posts, 2 replies" in digest
    assert "David Nilsson (Örnsköldsvik Municipality), 1/2: Vi testar kvantdatorer" in digest
    assert "“invånarnas förväntningar” (2)" in digest
    assert "Vi hittade tre e-tjänster" not in digest  # a task's finding is not the digilog's
    assert "[file demo-digest-1.png" in out
    assert "(Reflection task handed in: 2 with a colleague, 0 with a learning buddy.)" in out
    # Theme 2 is done with a colleague: its survey asks about that, not about a buddy.
    survey = between(out, "anna> survey 2", "anna> clock")
    assert "Doing the reflection task with a colleague was valuable" in survey
    assert "learning buddy" not in survey
    # The final evaluation opens at the joint closing.
    assert "[Thu 10 Jun 15:30] [Digilog in #demo]\n  == Final evaluation of the programme ==" in out
    assert "Thank you! Your answers to “Final evaluation of the programme” are saved." in out
