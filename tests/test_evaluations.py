"""Evaluation where it belongs: per-theme survey questions, a final evaluation of the whole
programme, and a few questions to each lab session's attendees afterwards; every figure
stands for at least five people."""

from __future__ import annotations

import pytest

from handlers.core.calendar_file import parse_calendar
from handlers.core.programme_file import Programme, parse_programme
from handlers.core.vocabulary import ToPerson
from handlers.core.yaml_file import FileProblems
from handlers.digilog import Digilog
from storage.models import Role
from storage.unit import Store
from tests.chat import Chat
from tests.conftest import EXAMPLE, make_cohort
from tests.test_schedules import Programme as Running
from tests.test_schedules import local, running, slack  # noqa: F401

PEOPLE = (
    ("fia", "Fia Facilitator", "region-vasterbotten", Role.facilitator),
    *((f"u{n}", f"Umeå {n}", "umea", Role.participant) for n in range(1, 5)),
    *((f"p{n}", f"Piteå {n}", "pitea", Role.participant) for n in range(1, 5)),
)
LAB = "hantera-information"  # session 1: Tuesday 16 February 2027, 13:00–15:00


def test_each_theme_asks_its_own_questions(programme: Programme) -> None:
    assert programme.survey is not None
    ids = {n: [q.id for q in programme.survey.for_theme(n)] for n in (1, 2, 3, 4)}
    assert ids == {
        1: ["useful", "buddy", "comment"],
        2: ["useful", "comment", "colleague"],  # done with a colleague: no buddy question
        3: ["useful", "buddy", "comment"],
        4: ["useful", "comment", "colleague"],
    }
    assert "lärkompis eller kollega" in programme.survey.for_theme(1)[1].text["sv"]
    assert [q.id for q in programme.survey.ratings()] == ["useful", "buddy", "colleague"]
    assert programme.survey.final is not None and programme.survey.lab is not None


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ("  themes:\n    2: {leave_out: [nothing]}\n", "leaves out nothing"),
        ("  themes:\n    9: {leave_out: [buddy]}\n", "no theme 9"),
        (
            "  lab:\n    questions:\n"
            + "".join(f"      - {{id: q{n}, kind: rating, text: Q}}\n" for n in range(4)),
            "at most three questions",
        ),
    ],
)
def test_a_wrong_survey_is_refused_with_its_line(change: str, problem: str) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    head, _, rest = text.partition("survey:\n")
    # The survey's own per-theme and lab parts are replaced by the broken one.
    survey, _, tail = rest.partition("\n# ----")
    survey = survey.split("  # Per theme:")[0]
    broken = head + "survey:\n" + survey + change + "\n# ----" + tail
    with pytest.raises(FileProblems) as found:
        parse_programme(broken, "broken.yaml")
    assert problem in str(found.value)


def test_a_final_evaluation_needs_its_questions(programme: Programme) -> None:
    calendar = (EXAMPLE.parent / "digital-kompetens-calendar.yaml").read_text(encoding="utf-8")
    entries = parse_calendar(calendar, "calendar.yaml", programme, "Europe/Stockholm")
    assert [e.key for e in entries if e.kind.startswith("final_")] == ["final:open", "final:close"]
    assert programme.survey is not None
    without = programme.model_copy(
        update={"survey": programme.survey.model_copy(update={"final": None})}
    )
    with pytest.raises(FileProblems) as found:
        parse_calendar(calendar, "calendar.yaml", without, "Europe/Stockholm")
    assert "final_evaluation" in str(found.value) and "no final:" in str(found.value)


async def test_the_survey_after_a_colleague_theme_and_the_final_evaluation(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    cohort = await make_cohort(store, programme, people=PEOPLE)
    chat = Chat(digilog, cohort)
    await chat.say("fia", "theme start 1")
    await chat.say("fia", "theme start 2")
    await chat.say("fia", "survey open 2")
    [form] = (await chat.say("u1", "survey 2")).forms
    assert [f.field_id for f in form.fields] == ["useful", "comment", "colleague"]

    assert "not open yet" in (await chat.say("u1", "survey final")).text
    opened = await chat.say("fia", "survey open final")
    assert "“Final evaluation of the programme” is open." in opened.text
    [form] = (await chat.say("u1", "survey final")).forms
    assert [f.field_id for f in form.fields] == ["overall", "format", "recommend", "change"]
    answers = {"overall": "4", "format": "5", "recommend": "5", "change": "Kortare möten"}
    for user in ("u1", "u2", "u3", "p1"):
        await chat.submit(user, form.form_id, answers)
    few = await chat.say("fia", "survey results final")
    assert "4 have answered. Figures are shown from 5 answers on" in few.text
    assert "Kortare möten" not in few.text
    await chat.submit("p2", form.form_id, {**answers, "overall": "3"})
    results = await chat.say("fia", "survey results final")
    assert "Everyone  3.8 (5)" in results.text  # (4 * 4 + 3) / 5
    assert "Umeå" not in results.text  # one group of three and one of two: no groups shown
    assert "Only a facilitator" in (await chat.say("u1", "survey results final")).text


async def test_a_lab_sessions_attendees_are_asked_afterwards(
    store: Store,
    programme: Programme,
    digilog: Digilog,
    running: Running,  # noqa: F811
) -> None:
    cohort = await make_cohort(store, programme, people=PEOPLE)
    chat = Chat(digilog, cohort)
    running.clock.moment = local("2027-02-10 09:00")
    seated = ["u1", "u2", "u3", "p1", "p2", "p3"]
    for user in seated:
        await chat.say(user, f"lab signup {LAB} 1")
    await running.at(local("2027-02-16 15:30"))
    marked = await chat.say("fia", f"lab attended {LAB} 1 u1 u2 u3 p1 p2")  # p3 stayed away
    assert "Only a facilitator" not in marked.text
    await running.at(local("2027-02-16 15:59"))
    assert all(running.dms(user) == [] for user in seated)
    await running.at(local("2027-02-16 16:00"))  # an hour after the session ended
    for user in seated[:5]:
        [asked] = running.dms(user)
        assert "After the lab: Handling information" in asked
    assert running.dms("p3") == []
    await running.at(local("2027-02-17 09:00"))
    assert len(running.dms("u1")) == 1  # once

    key = f"lab:{LAB}@2027-02-16T12:00Z"
    refused = await chat.click("p3", f"survey:{cohort.id}:{key}")
    assert "Only those who attended the session" in refused.text
    [form] = (await chat.click("u1", f"survey:{cohort.id}:{key}")).forms
    assert [f.field_id for f in form.fields] == ["useful", "pace", "comment"]
    # One who lost the message asks for the form by name, in either language.
    [typed] = (await chat.say("u2", f"survey lab {LAB} 1")).forms
    assert typed.form_id == form.form_id
    swedish = Chat(digilog, cohort, locale="sv-SE")
    [typed] = (await swedish.say("u3", f"enkät labb {LAB} 1")).forms
    assert typed.form_id == form.form_id
    assert "Only those who attended" in (await chat.say("p3", f"survey lab {LAB} 1")).text
    assert "There is no lab nope" in (await chat.say("u2", "survey lab nope")).text
    for n, user in enumerate(seated[:5]):
        reply = await chat.submit(user, form.form_id, {"useful": str(3 + n % 2), "pace": "4"})
        assert "are saved" in reply.text
    results = await chat.say("fia", f"survey results lab {LAB} 1")
    assert "After the lab: Handling information" in results.text
    assert "Everyone  3.4 (5)" in results.text  # 3, 4, 3, 4, 3
    # Two weeks after the session its questions are closed.
    running.clock.moment = local("2027-03-02 16:00")
    assert "has closed" in (await chat.click("u2", f"survey:{cohort.id}:{key}")).text
    assert not [o for o in refused.outgoing if isinstance(o.to, ToPerson)]


async def test_help_shows_the_final_evaluation_and_the_lab_questions_in_either_language(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    cohort = await make_cohort(store, programme, people=PEOPLE)
    english, swedish = Chat(digilog, cohort), Chat(digilog, cohort, locale="sv-SE")
    mine = (await english.say("u1", "help survey")).text
    assert "survey [<theme> | final | lab <lab> [session]]" in mine
    assert "the final evaluation of the programme, or the questions after a lab session" in mine
    theirs = (await english.say("fia", "help survey")).text
    assert "survey open <theme> | final" in theirs and "survey close <theme> | final" in theirs
    assert "survey results <theme> | final | lab <lab> [session]" in theirs
    deltagare = (await swedish.say("u1", "hjälp enkät")).text
    assert "enkät [<tema> | slut | labb <labb> [tillfälle]]" in deltagare
    assert "frågorna efter ett lärlabb du var med på" in deltagare
    svenska = (await swedish.say("fia", "hjälp enkät")).text
    for usage in (
        "enkät öppna <tema> | slut",
        "enkät stäng <tema> | slut",
        "enkät resultat <tema> | slut | labb <labb> [tillfälle]",
    ):
        assert usage in svenska
    assert "slututvärderingen" in svenska and "final" not in svenska
    # The words after a command are its arguments: help on them is help on the command.
    assert (
        "survey [<theme> | final | lab <lab> [session]]"
        in (await english.say("u1", "help survey final")).text
    )
    assert "enkät öppna <tema> | slut" in (await swedish.say("fia", "hjälp enkät slut")).text
