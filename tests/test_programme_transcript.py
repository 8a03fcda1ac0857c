"""The programme as it is really run, rehearsed in the console over the whole term with the
bundled example programme and calendar: each organisation's own opening meeting (its
reminder, a shared needs inventory, the support function's summary), a reflection task
done with a colleague, the digest before a workshop, a theme done with a colleague and
its own survey questions, attendance at a local meeting, a workshop and a lab with each
one's hours, an event to register for, a lab session's questions afterwards, the final
evaluation opened at the joint closing, the report's attendance and hours, and the
funder's attendance list."""

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
clock 2027-01-25 15:30
as fia
attendance meeting:opening:umea
2
3
clock 2027-02-01 09:30
as anna
lab signup hantera-information 1
events
event register motesplats
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
clock 2027-02-10 16:30
as fia
attendance 1:workshop --self
as anna
attendance here 1:workshop
as fia
clock 2027-02-16 15:30
lab attended hantera-information 1 anna
clock 2027-02-16 16:30
as anna
survey lab hantera-information 1
4
3
Mer tid att prova själv.
attendance mine
clock 2027-06-10 15:30
as eva
survey final
5
4
5
Jag håller kortare möten.
as fia
report
attendance export
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
    # Umeå's own meeting: its own three participants, marked by the facilitator.
    marked = between(out, "fia> attendance meeting:opening:umea", "fia> clock")
    assert "0 of 3 present" in marked and "2 of 3 present" in marked
    assert "✅ Anna Lindqvist (Umeå Municipality)" in marked and "Björn" not in marked
    # Events: one to register for, both in one's calendar.
    events = between(out, "anna> events", "anna> task 1")
    assert "(150 of 150 seats free)" in events
    assert "You are registered for Mötesplats Digitala Västerbotten" in events
    # The workshop: the participants say they were there, once the facilitator lets them.
    assert "Were you at Workshop, theme 1 (Wed 10 Feb 13:00–16:00)?" in out
    assert "Noted: you were at Workshop, theme 1." in out
    # The lab session's attendee is asked afterwards, and answers by typing the command.
    asked = between(out, "fia> clock 2027-02-16 16:30", "anna> survey lab")
    assert "[Tue 16 Feb 16:00] [Digilog → Anna Lindqvist, direct message]" in asked
    assert "== After the lab: Handling information ==" in asked
    assert "Thank you! Your answers to “After the lab: Handling information” are saved." in out
    # Her hours: the local meeting (2 h), the workshop (3 h), the lab (2 h).
    mine = between(out, "anna> attendance mine", "anna> clock")
    assert "Theme 1                          3 h" in mine
    assert "Labs, local meetings and events  4 h" in mine
    assert "In total                         7 h" in mine
    # The report counts every gathering, an organisation's own meeting too, and the hours.
    final_report = between(out, "eva> as fia\n", "fia> attendance export")
    assert "The organisations' own opening local meetings\n    All organisations  2 of 6" in (
        final_report
    )
    assert "Workshop, theme 1 (Wed 10 Feb)\n    All organisations  1 of 6 present" in final_report
    assert (
        "All organisations  Theme 1: 3 h · labs, local meetings and events: 6 h · in total 9 h"
        in final_report
    )
    # The funder's list: a row per presence, with its hours and a signature column.
    assert "4 rows of attendance, exported for you." in out
    listed = (tmp_path / "digilog-demo-attendance.csv").read_text(encoding="utf-8-sig")
    assert listed.splitlines()[0] == "Name,Organisation,Activity,Date,Hours,Signature"
    assert (
        "Anna Lindqvist,Umeå Municipality,The opening local meeting of Umeå Municipality,"
        "2027-01-25,2," in listed
    )
    assert "Anna Lindqvist,Umeå Municipality,Lab: Handling information,2027-02-16,2," in listed
    # The final evaluation opens at the joint closing.
    assert "[Thu 10 Jun 15:30] [Digilog in #demo]\n  == Final evaluation of the programme ==" in out
    assert "Thank you! Your answers to “Final evaluation of the programme” are saved." in out
