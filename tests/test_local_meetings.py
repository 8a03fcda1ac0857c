"""Local meetings per organisation: each organisation's own opening and closing meeting,
reminders to its own participants and support people, and the support function's summary
of its managers' needs inventories (its own organisation only; figures from five)."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.core.calendar_file import parse_calendar
from handlers.core.programme_file import Programme
from handlers.core.yaml_file import FileProblems
from handlers.digilog import Digilog
from storage.models import Cohort, Role
from storage.unit import Store
from tests.chat import Chat
from tests.conftest import EXAMPLE, make_cohort
from tests.test_schedules import Programme as Running
from tests.test_schedules import local, running, slack, with_calendar  # noqa: F401

PEOPLE = (
    ("fia", "Fia Facilitator", "region-vasterbotten", Role.facilitator),
    *((f"u{n}", f"Umeå {n}", "umea", Role.participant) for n in range(1, 7)),
    ("karin", "Karin Holm", "umea", Role.support),
    ("p1", "Piteå 1", "pitea", Role.participant),
    ("p2", "Piteå 2", "pitea", Role.participant),
    ("anders", "Anders Berglund", "pitea", Role.support),
)
# Umeå meets on a Monday: its reminder goes on the Friday before.
CALENDAR = """\
themes:
  1: {start: 2027-02-01 08:00}
local_meetings:
  organisations:
    umea:
      opening: {start: 2027-01-25 13:00, end: 2027-01-25 15:00, place: Umeå, host: Karin Holm}
      closing: {start: 2027-06-07 13:00, end: 2027-06-07 15:00, place: Umeå, host: Karin Holm}
    pitea:
      opening: {start: 2027-01-27 13:00, end: 2027-01-27 15:00, place: Piteå}
"""


def test_the_example_has_each_organisations_own_meetings(programme: Programme) -> None:
    text = (EXAMPLE.parent / "digital-kompetens-calendar.yaml").read_text(encoding="utf-8")
    entries = parse_calendar(text, "calendar.yaml", programme, "Europe/Stockholm")
    meetings = [e for e in entries if e.kind in ("opening_meeting", "closing_meeting")]
    assert sorted({e.organisation for e in meetings}) == sorted(
        o.id for o in programme.programme.organisations
    )
    assert len(meetings) == 10 and all(e.host and e.place for e in meetings)
    umea = next(e for e in meetings if e.key == "meeting:opening:umea")
    assert umea.host == "Karin Holm, HR-avdelningen"
    broken = text.replace("    pitea:\n      opening:", "    lulea:\n      opening:")
    with pytest.raises(FileProblems) as found:
        parse_calendar(broken, "calendar.yaml", programme, "Europe/Stockholm")
    assert "local_meetings.organisations.lulea" in str(found.value)
    assert "the programme has no organisation lulea" in str(found.value)


async def test_an_organisations_meeting_reminds_its_own_people(
    store: Store,
    programme: Programme,
    digilog: Digilog,
    running: Running,  # noqa: F811
    tmp_path: Path,
) -> None:
    cohort = await make_cohort(store, programme, people=PEOPLE)
    await with_calendar(store, cohort, tmp_path, CALENDAR)
    await running.at(local("2027-01-22 12:59"))
    assert running.dms("u1") == []
    await running.at(local("2027-01-22 13:00"))  # Friday: the working day before Monday
    for user in ("u1", "u6", "karin"):
        [reminder] = running.dms(user)
        assert "The opening local meeting of Umeå Municipality is on" in reminder
    for user in ("p1", "anders", "fia"):
        assert running.dms(user) == []
    channel = [c for c in running.slack.calls_to("chat.postMessage") if c.params["channel"]]
    assert all(c.params["channel"] != cohort.conversation_id for c in channel)
    [call] = [c for c in running.slack.calls_to("chat.postMessage") if c.params["channel"] == "u1"]
    assert "Host: Karin Holm" in str(call.params["blocks"])
    assert f"meeting:{cohort.id}:needs" in str(call.params["blocks"])
    [call] = [
        c for c in running.slack.calls_to("chat.postMessage") if c.params["channel"] == "karin"
    ]
    assert "a week after the meeting you get a summary" in str(call.params["blocks"])
    await running.at(local("2027-01-26 13:00"))  # Piteå's is on Wednesday
    assert len(running.dms("p1")) == 1 and len(running.dms("anders")) == 1
    assert len(running.dms("u1")) == 1

    # A participant's calendar shows their own organisation's meetings; a facilitator's all.
    chat = Chat(digilog, cohort)
    mine = (await chat.say("u1", "schedule --all")).text
    assert "The opening local meeting of Umeå Municipality · Host: Karin Holm" in mine
    assert "Piteå Municipality" not in mine
    everything = (await chat.say("fia", "schedule --all")).text
    assert "Umeå Municipality" in everything and "Piteå Municipality" in everything

    # A week after the opening meeting, its support person gets the needs summary.
    for n, flag in ((1, "--share"), (2, "--share"), (3, "--cohort"), (4, "")):
        await chat.say(f"u{n}", f"needs {flag} Jag vill lära mig mer om digital arbetsmiljö {n}.")
    await running.at(local("2027-02-01 13:00"))
    [summary] = running.dms("karin")[1:]
    assert "Summary of the needs inventories of Umeå Municipality" in summary
    [call] = [
        c for c in running.slack.calls_to("chat.postMessage") if c.params["channel"] == "karin"
    ][1:]
    assert "4 of the organisation's 6 participants" in str(call.params["blocks"])


async def test_the_support_function_sees_only_its_own_organisations_summary(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    cohort = await make_cohort(store, programme, people=PEOPLE)
    chat = Chat(digilog, cohort)
    shared = "Jag vill leda digital förändring med mina medarbetare."
    await chat.say("u1", f"needs --share {shared}")
    await chat.say("u2", "needs --share Jag vill förstå digital förändring och AI i vården.")
    await chat.say("u3", "needs --cohort Digital förändring i små steg är mitt mål.")
    await chat.say("u4", "needs Min chef och jag är oense om allt, skriv inte det här vidare.")
    await chat.say("p1", "needs --share Piteås behov: bättre e-tjänster för invånarna.")

    summary = (await chat.say("karin", "needs summary")).text
    assert "Summary of the needs inventories of Umeå Municipality" in summary
    assert "4 of the organisation's 6 participants have written" in summary
    assert shared in summary and "Digital förändring i små steg" in summary
    assert "oense" not in summary  # shared with the facilitators only
    assert "Piteå" not in summary  # another organisation's
    assert "förändring (3)" in summary  # in all three shared (a lemma, from three people)

    # Piteå has two participants: its support function gets no figures, only the texts.
    pitea = (await chat.say("anders", "needs summary")).text
    assert "fewer than 5 participants" in pitea and "of the organisation's" not in pitea
    assert "bättre e-tjänster" in pitea and "medarbetare" not in pitea
    refused = await chat.say("anders", "needs summary --org umea")
    assert "only its own organisation's summary" in refused.text

    assert (
        "is for the support function and the facilitators"
        in (await chat.say("u1", "needs summary")).text
    )
    assert "Say which organisation with --org" in (await chat.say("fia", "needs summary")).text
    by_facilitator = (await chat.say("fia", "needs summary --org umea")).text
    assert "4 of the organisation's 6 participants" in by_facilitator
    assert "oense" not in by_facilitator  # the support function's view, not the bank's


async def test_a_plan_shared_tells_support_a_needs_inventory_does_not(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    cohort: Cohort = await make_cohort(store, programme, people=PEOPLE)
    chat = Chat(digilog, cohort)
    reply = await chat.say("u1", "needs --share Jag vill lära mig leda på distans.")
    assert not reply.public and "the organisation's support" in reply.text
    reply = await chat.say("u1", "plan --share Jag inför en digital veckoträff.")
    assert [o.to.user_id for o in reply.public] == ["karin"]  # type: ignore[union-attr]
