"""Gatherings: attendance at workshops, local meetings and events, each person's hours, the
funder's attendance list, and the calendar's named events with their registration."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from icalendar import Calendar

from bot.console.render import render
from bot.console.shell import Console
from handlers import report
from handlers.admin import import_roster, load_calendar
from handlers.core.calendar_file import load_calendar as read_calendar
from handlers.core.deliveries import Send, compose
from handlers.core.i18n import translator
from handlers.core.ics import PRODID
from handlers.core.programme_file import Programme
from handlers.core.roster import RosterRow
from handlers.core.vocabulary import FileMessage, HomeOpened, Outgoing, ToConversation
from handlers.core.yaml_file import FileProblems
from handlers.digilog import Digilog
from handlers.features import REGISTRY
from storage.models import Cohort, Delivery, Role
from storage.unit import Store
from tests.chat import Chat
from tests.conftest import ROOT, make_cohort, run_digilog

CALENDAR = ROOT / "examples" / "digital-kompetens-calendar.yaml"
# Workshop 1 is on 10 February 2027, 13:00–16:00 in Stockholm (12:00–15:00 UTC).
AFTER_WORKSHOP_1 = datetime(2027, 2, 10, 16, 0, tzinfo=UTC)
AFTER_EVERYTHING = datetime(2027, 6, 20, 12, 0, tzinfo=UTC)


async def with_calendar(store: Store, cohort: Cohort) -> None:
    await load_calendar(store, cohort.key, CALENDAR)


def plain(text: str) -> str:
    """Rendered text without emphasis, each run of spaces one: as a reader scans it."""
    return re.sub(r"[ ]+", " ", text.replace("**", ""))


def file_of(outgoing: list[Outgoing]) -> FileMessage:
    [file] = [o.message for o in outgoing if isinstance(o.message, FileMessage)]
    return file


async def test_a_facilitator_marks_attendance_in_the_console(
    store: Store, cohort: Cohort, digilog: Digilog
) -> None:
    await with_calendar(store, cohort)
    digilog.now = lambda: AFTER_WORKSHOP_1
    out = io.StringIO()
    console = Console(digilog, store, cohort, "fia", out=out, echo=True)
    await console.load_names()
    transcript = [
        "attendance",
        "attendance 1:workshop",
        "1",  # Anna Lindqvist: present
        "3",  # Cecilia Åström: present
        "as anna",
        "attendance mine",
        "as fia",
        "attendance 1:workshop",
        "3",  # Cecilia after all was not there
    ]
    said = []  # what each line of the transcript printed
    for line in transcript:
        start = len(out.getvalue())
        await console.line(line)
        said.append(out.getvalue()[start:])
    overview, _, first, second, _, mine, _, _, last = said
    assert "Workshop, theme 1 · 0 of 3 present · 3 h  [1:workshop]" in overview
    # Each organisation holds its own: Umeå's is for its one participant here.
    assert (
        "The opening local meeting of Umeå Municipality · 0 of 1 present · 2 h  "
        "[meeting:opening:umea]" in overview
    )
    assert "Mötesplats Digitala Västerbotten (hybrid conference)" in overview
    assert "[1] ⬜ Anna Lindqvist" in said[1] and "[4] Let participants mark" in said[1]
    assert "1 of 3 present" in first and "[1] ✅ Anna Lindqvist" in first
    assert "2 of 3 present" in second
    assert "✅ Anna Lindqvist (Umeå Municipality)" in second
    assert "⬜ Björn Öberg" in second and "✅ Cecilia Åström" in second
    assert "Wed 10 Feb Workshop, theme 1 · 3 h" in plain(mine)
    assert "Theme 1 3 h" in plain(mine) and "In total 3 h" in plain(mine)
    assert "1 of 3 present" in last and "⬜ Cecilia Åström" in last
    async with store.transaction() as repos:
        present = await repos.gatherings.present(cohort.id)
        anna = await repos.people.by_account("console", "local", "anna")
    assert anna is not None and present == {"theme:1:workshop": {anna.id}}


async def test_marking_waits_for_the_gathering_and_bad_keys_change_nothing(
    store: Store, cohort: Cohort, digilog: Digilog
) -> None:
    await with_calendar(store, cohort)
    digilog.now = lambda: datetime(2027, 2, 9, 9, 0, tzinfo=UTC)
    chat = Chat(digilog, cohort)
    early = await chat.say("fia", "attendance 1:workshop")
    assert "Attendance can be marked once the gathering has begun." in early.text
    assert not [o for o in early.options if o.action_id.startswith("attend:")]
    wrong = await chat.say("fia", "attendance 9:workshop")
    assert (
        "There is no gathering 9:workshop. The gatherings are: meeting:opening:umea, " in wrong.text
    )
    async with store.transaction() as repos:
        anna = await repos.people.by_account("console", "local", "anna")
    assert anna is not None
    pressed = await chat.click("fia", f"attend:{cohort.id}:{anna.id}:present:theme:1:workshop")
    assert "Attendance can be marked once the gathering has begun." in pressed.text
    refused = await chat.click("anna", f"attend:{cohort.id}:{anna.id}:present:theme:1:workshop")
    assert "Only a facilitator" in refused.text
    async with store.transaction() as repos:
        assert await repos.gatherings.present(cohort.id) == {}


async def test_participants_say_they_were_there_only_when_allowed(
    store: Store, cohort: Cohort, digilog: Digilog
) -> None:
    await with_calendar(store, cohort)
    digilog.now = lambda: AFTER_WORKSHOP_1
    chat = Chat(digilog, cohort)
    not_yet = await chat.say("anna", "attendance here 1:workshop")
    assert "For Workshop, theme 1, the facilitators mark who was present." in not_yet.text

    allowed = await chat.say("fia", "attendance 1:workshop --self")
    assert "Participants may mark themselves present." in allowed.text
    [invitation] = allowed.public
    assert isinstance(invitation.to, ToConversation)
    [button] = [o for o in allowed.options if o.action_id.startswith("here:")]
    assert button.label == "I was there"
    noted = await chat.click("anna", button.action_id)
    assert "Noted: you were at Workshop, theme 1." in noted.text
    again = await chat.say("anna", "attendance here 1:workshop")
    assert "You are already marked present" in again.text

    # A facilitator's mark stands: Björn, marked absent, cannot mark himself present.
    async with store.transaction() as repos:
        bjorn = await repos.people.by_account("console", "local", "bjorn")
    assert bjorn is not None
    await chat.click("fia", f"attend:{cohort.id}:{bjorn.id}:absent:theme:1:workshop")
    denied = await chat.say("bjorn", "attendance here 1:workshop")
    assert "A facilitator has marked you absent" in denied.text
    # The facilitator may stop it again.
    stopped = await chat.click("fia", f"attend:{cohort.id}:self:off:theme:1:workshop")
    assert "Only facilitators mark attendance here." in stopped.text
    late = await chat.say("cecilia", "attendance here 1:workshop")
    assert "the facilitators mark who was present" in late.text
    async with store.transaction() as repos:
        present = await repos.gatherings.present(cohort.id)
    assert len(present["theme:1:workshop"]) == 1


async def test_hours_add_up_per_theme_and_in_total_in_either_language(
    store: Store, cohort: Cohort, digilog: Digilog
) -> None:
    await with_calendar(store, cohort)
    digilog.now = lambda: AFTER_EVERYTHING
    chat = Chat(digilog, cohort)
    async with store.transaction() as repos:
        anna = await repos.people.by_account("console", "local", "anna")
        assert anna is not None
        for key in (
            "theme:1:workshop",
            "theme:2:workshop",
            "meeting:opening:umea",
            "event:motesplats",
        ):
            await repos.gatherings.mark(cohort.id, key, [anna.id], present=True)
    # A lab session she was marked at counts too (13:00–15:00).
    digilog.now = lambda: datetime(2027, 2, 1, 9, 0, tzinfo=UTC)
    await chat.say("anna", "lab signup hantera-information 1")
    digilog.now = lambda: AFTER_EVERYTHING
    await chat.say("fia", "lab attended hantera-information 1 anna")
    mine = plain((await chat.say("anna", "attendance mine")).text)
    assert "Theme 1 3 h" in mine and "Theme 2 3 h" in mine
    # The opening meeting (2 h), the conference (7 h) and the lab (2 h).
    assert "Labs, local meetings and events 11 h" in mine
    assert "In total 17 h" in mine
    assert "Lab: Handling information · 2 h" in mine
    swedish = plain((await Chat(digilog, cohort, locale="sv-SE").say("anna", "närvaro mina")).text)
    assert "Tema 1 3 tim" in swedish and "Totalt 17 tim" in swedish
    home = await chat.send(HomeOpened(chat.actor("anna"), chat.channel))
    assert "Your attendance: 17 h in total" in plain(home.text)
    nothing = await chat.send(HomeOpened(chat.actor("bjorn"), chat.channel))
    assert "Your attendance" not in nothing.text


async def _marked_cohort(store: Store, programme: Programme, language: str) -> Cohort:
    cohort = await make_cohort(store, programme, language=language)
    # Someone whose name a spreadsheet would run as a formula.
    rows = [RosterRow(1, '=HYPERLINK("http://x")', None, "eve", "umea", Role.participant)]
    _, problems = await import_roster(store, cohort.key, rows, skip_bad=False)
    assert not problems
    await with_calendar(store, cohort)
    async with store.transaction() as repos:
        members = await repos.people.members(cohort.id, Role.participant)
        ids = {m.person.user_id: m.person.id for m in members}
        await repos.gatherings.mark(
            cohort.id, "theme:1:workshop", [ids["anna"], ids["bjorn"], ids["eve"]], present=True
        )
        await repos.gatherings.mark(cohort.id, "meeting:opening:umea", [ids["anna"]], present=True)
    return cohort


async def test_the_attendance_list_opens_in_swedish_excel(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    cohort = await _marked_cohort(store, programme, "sv")
    digilog.now = lambda: AFTER_EVERYTHING
    reply = await Chat(digilog, cohort, locale="sv-SE").say("fia", "närvaro exportera")
    file = file_of(reply.outgoing)
    assert file.filename == "digilog-grupp-1-attendance.csv"
    content = file.content
    assert content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    lines = content.decode("utf-8").removeprefix("\ufeff").splitlines()
    assert lines[0] == "Namn;Organisation;Aktivitet;Datum;Timmar;Underskrift"
    assert (
        "Anna Lindqvist;Umeå kommun;Den inledande lokala träffen i Umeå kommun;2027-01-25;2;"
        in lines
    )
    assert "Anna Lindqvist;Umeå kommun;Workshop, tema 1;2027-02-10;3;" in lines
    # The formula is text: a quote before it, and the quote doubled by CSV quoting.
    rows = list(csv.reader(lines[1:], delimiter=";"))
    assert [
        '\'=HYPERLINK("http://x")',
        "Umeå kommun",
        "Workshop, tema 1",
        "2027-02-10",
        "3",
        "",
    ] in rows
    assert len(rows) == 4

    # The printable page: one per organisation, with a signature column.
    page = file_of(
        (await Chat(digilog, cohort, locale="sv-SE").say("fia", "närvaro exportera html")).outgoing
    )
    text = page.content.decode("utf-8")
    assert text.count('<section class="page">') == 2  # Umeå and Piteå
    assert "<th>Underskrift</th>" in text and "&quot;http://x&quot;" in text
    narrowed = await Chat(digilog, cohort, locale="sv-SE").say(
        "fia", "närvaro exportera html --organisation pitea"
    )
    one = file_of(narrowed.outgoing).content.decode("utf-8")
    assert one.count('<section class="page">') == 1 and "Björn Öberg" in one
    assert "Anna Lindqvist" not in one
    bad = await Chat(digilog, cohort, locale="sv-SE").say(
        "fia", "närvaro exportera --organisation lulea"
    )
    assert "Det finns ingen organisation lulea." in bad.text
    async with store.transaction() as repos:
        logged = [e.action for e in await repos.audit.entries(cohort.id)]
    assert logged.count("export_attendance") == 3  # not the refused one


async def test_the_english_list_uses_commas(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    cohort = await _marked_cohort(store, programme, "en")
    reply = await Chat(digilog, cohort).say("fia", "attendance export csv")
    lines = file_of(reply.outgoing).content.decode("utf-8").removeprefix("\ufeff").splitlines()
    assert lines[0] == "Name,Organisation,Activity,Date,Hours,Signature"
    assert (
        "Anna Lindqvist,Umeå Municipality,The opening local meeting of Umeå Municipality,"
        "2027-01-25,2," in lines
    )


async def test_the_administrator_exports_the_list_from_the_cli(
    database_url: str, store: Store, programme: Programme, tmp_path: Path
) -> None:
    cohort = await _marked_cohort(store, programme, "sv")
    out = tmp_path / "närvaro.csv"
    done = run_digilog(
        database_url, tmp_path, "attendance", "export", cohort.key, "--format", "csv", str(out)
    )
    assert done.returncode == 0, done.stderr
    content = out.read_bytes()
    assert content.startswith(b"\xef\xbb\xbfNamn;Organisation;Aktivitet;Datum;Timmar;Underskrift")
    assert "4 rader" in done.stderr
    page = tmp_path / "umea.html"
    done = run_digilog(
        database_url,
        tmp_path,
        "attendance",
        "export",
        cohort.key,
        "--organisation",
        "umea",
        "--format",
        "html",
        str(page),
    )
    assert done.returncode == 0, done.stderr
    assert "Anna Lindqvist" in page.read_text(encoding="utf-8")
    assert "Björn Öberg" not in page.read_text(encoding="utf-8")
    missing = run_digilog(database_url, tmp_path, "attendance", "export", "nope", str(out))
    assert missing.returncode != 0 and "nope" in missing.stderr


async def test_the_report_counts_attendance_per_gathering(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    people = tuple((f"u{n}", f"Umeå {n}", "umea", Role.participant) for n in range(6)) + tuple(
        (f"p{n}", f"Piteå {n}", "pitea", Role.participant) for n in range(3)
    )
    cohort = await make_cohort(
        store, programme, people=(("fia", "Fia", "region-vasterbotten", Role.facilitator), *people)
    )
    await with_calendar(store, cohort)
    async with store.transaction() as repos:
        ids = {m.person.user_id: m.person.id for m in await repos.people.members(cohort.id)}
        await repos.gatherings.mark(
            cohort.id, "theme:1:workshop", [ids[u] for u in ("u0", "u1", "u2", "p0")], present=True
        )
    digilog.now = lambda: AFTER_WORKSHOP_1
    text = (await Chat(digilog, cohort).say("fia", "report")).text
    section = plain(text.split("**Attendance**", 1)[1])
    assert "Workshop, theme 1 (Wed 10 Feb)" in section
    # Piteå's three are too few to stand alone and no other small group can take them in,
    # so Umeå joins them: the figures are for all organisations together.
    assert "All organisations 4 of 9 present" in section
    assert "Piteå" not in section and "Umeå" not in section
    # What has not begun yet is not "0 of 9 present": it is not there at all.
    assert "Workshop, theme 2" not in section and "closing" not in section
    async with store.transaction() as repos:
        found = await report.figures(repos, cohort, translator("en"))
    [table] = [
        content
        for name, content, _ in report.files(translator("en"), found)
        if name == "attendance.csv"
    ]
    assert '"Workshop, theme 1 (Wed 10 Feb)",All organisations,4,9' in str(table)


async def test_each_organisations_own_meetings_count_in_the_report_and_its_hours(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    """The funder pays for every hour a participant attended: an organisation's own local
    meeting counts in the report's attendance and hours as a workshop does, in groups of
    at least five (one row for all the organisations' own opening meetings)."""
    people = tuple((f"u{n}", f"Umeå {n}", "umea", Role.participant) for n in range(6)) + tuple(
        (f"p{n}", f"Piteå {n}", "pitea", Role.participant) for n in range(5)
    )
    cohort = await make_cohort(
        store, programme, people=(("fia", "Fia", "region-vasterbotten", Role.facilitator), *people)
    )
    await with_calendar(store, cohort)
    async with store.transaction() as repos:
        ids = {m.person.user_id: m.person.id for m in await repos.people.members(cohort.id)}
        marks = {
            "theme:1:workshop": ["u0", "p0"],  # 3 h
            "meeting:opening:umea": ["u0", "u1", "u2", "u3"],  # 2 h each
            "meeting:opening:pitea": ["p0", "p1", "p2"],  # 2 h each
        }
        for key, users in marks.items():
            await repos.gatherings.mark(cohort.id, key, [ids[u] for u in users], present=True)
    digilog.now = lambda: AFTER_WORKSHOP_1
    text = plain((await Chat(digilog, cohort).say("fia", "report")).text)
    section = text.split("Attendance", 1)[1]
    own = section.split("The organisations' own opening local meetings", 1)[1]
    assert own.index("Piteå Municipality 3 of 5 present") < own.index("Workshop, theme 1")
    assert "Umeå Municipality 4 of 6 present" in own
    hours = section.split("Hours of attendance", 1)[1]
    assert (
        "Umeå Municipality Theme 1: 3 h · labs, local meetings and events: 8 h · "
        "in total 11 h (1.8 h per participant)" in hours
    )
    assert "Piteå Municipality Theme 1: 3 h · labs, local meetings and events: 6 h" in hours
    swedish = plain((await Chat(digilog, cohort, locale="sv-SE").say("fia", "rapport")).text)
    assert "Organisationernas egna inledande lokala träffar" in swedish
    assert (
        "Umeå kommun Tema 1: 3 tim · lärlabb, lokala träffar och evenemang: 8 tim · "
        "totalt 11 tim (1,8 tim per deltagare)" in swedish
    )
    async with store.transaction() as repos:
        found = await report.figures(repos, cohort, translator("sv"))
    files = {name: content for name, content, _ in report.files(translator("sv"), found)}
    attendance = str(files["attendance.csv"])
    assert "Organisationernas egna inledande lokala träffar;Umeå kommun;4;6" in attendance
    assert "Umeå kommun;Totalt;11;6" in str(files["hours.csv"])
    assert "Piteå kommun;;6;5" in str(files["hours.csv"])


async def test_own_meetings_in_the_report_stand_for_the_whole_group(
    store: Store, programme: Programme, digilog: Digilog, tmp_path: Path
) -> None:
    """Skellefteå (three) and Piteå (three) are one group of six; Piteå holds no meeting of
    its own. Its row counts Skellefteå's two present out of the six, not out of the three
    whose organisation held one: that would be a figure about three people."""
    people = (
        *((f"u{n}", f"Umeå {n}", "umea", Role.participant) for n in range(5)),
        *((f"s{n}", f"Skellefteå {n}", "skelleftea", Role.participant) for n in range(3)),
        *((f"p{n}", f"Piteå {n}", "pitea", Role.participant) for n in range(3)),
    )
    cohort = await make_cohort(
        store, programme, people=(("fia", "Fia", "region-vasterbotten", Role.facilitator), *people)
    )
    text = CALENDAR.read_text(encoding="utf-8")
    start = text.index("    pitea:\n")
    calendar = tmp_path / "calendar.yaml"
    calendar.write_text(
        text[:start] + text[text.index("    region-vasterbotten:\n") :], encoding="utf-8"
    )
    await load_calendar(store, cohort.key, calendar)
    async with store.transaction() as repos:
        ids = {m.person.user_id: m.person.id for m in await repos.people.members(cohort.id)}
        assert "meeting:opening:pitea" not in {
            e.key for e in await repos.calendar.entries(cohort.id)
        }
        await repos.gatherings.mark(
            cohort.id, "meeting:opening:skelleftea", [ids["s0"], ids["s1"]], present=True
        )
    digilog.now = lambda: AFTER_WORKSHOP_1
    text = plain((await Chat(digilog, cohort).say("fia", "report")).text)
    own = text.split("The organisations' own opening local meetings", 1)[1].split("Workshop")[0]
    assert "Other organisations 2 of 6 present" in own
    assert "of 3 present" not in own


# ------------------------------------------------------------------ events


async def test_events_are_in_the_schedule_with_reminders_and_a_calendar_file(
    store: Store, cohort: Cohort, digilog: Digilog
) -> None:
    await with_calendar(store, cohort)
    digilog.now = lambda: datetime(2027, 4, 1, 9, 0, tzinfo=UTC)
    chat = Chat(digilog, cohort)
    schedule = await chat.say("anna", "schedule")
    assert "Thu 22 Apr 09:00–16:00 Mötesplats Digitala Västerbotten (hybrid conference)" in (
        plain(schedule.text)
    )
    assert "The programme's joint closing" in schedule.text
    swedish = await Chat(digilog, cohort, locale="sv-SE").say("anna", "schema")
    assert "Gemensam avslutning av utbildningen" in swedish.text

    async with store.transaction() as repos:
        entries = await repos.calendar.entries(cohort.id)
    steps = {
        (s.step.kind, s.entry.key): s.at
        for s in REGISTRY.future_steps(entries, datetime(2027, 4, 1, tzinfo=UTC))
        if s.entry.kind == "event"
    }
    # 09:00 in Stockholm in April is 07:00 UTC.
    assert steps[("event_tomorrow", "event:motesplats")] == datetime(2027, 4, 21, 7, tzinfo=UTC)
    assert steps[("event_soon", "event:motesplats")] == datetime(2027, 4, 22, 6, tzinfo=UTC)
    assert ("event_soon", "event:avslutning") in steps

    moved = await chat.say("fia", "schedule move event:motesplats 2027-04-23 09:00")
    assert "event:motesplats moved to Fri 23 Apr 09:00" in moved.text
    async with store.transaction() as repos:
        entries = await repos.calendar.entries(cohort.id)
    [conference] = [e for e in entries if e.key == "event:motesplats"]
    assert conference.ends_at == datetime(2027, 4, 23, 14, 0, tzinfo=UTC)  # still 7 hours
    await chat.say("fia", "schedule move event:motesplats 2027-04-22 09:00")

    ics = await chat.say("anna", "event ics motesplats")
    file = file_of(ics.outgoing)
    assert file.filename == "motesplats.ics"
    [event] = Calendar.from_ical(file.content).walk("VEVENT")
    assert event.decoded("dtstart") == datetime(2027, 4, 22, 7, 0, tzinfo=UTC)
    assert str(event["summary"]) == "Mötesplats Digitala Västerbotten (hybrid conference)"
    assert "Folkets hus" in str(event["location"])
    # Built by the one builder a lab session's file comes from too.
    assert Calendar.from_ical(file.content)["prodid"] == PRODID


async def test_event_reminders_go_out_the_day_before_and_an_hour_before(
    store: Store, cohort: Cohort, digilog: Digilog
) -> None:
    await with_calendar(store, cohort)
    async with store.transaction() as repos:
        entries = await repos.calendar.entries(cohort.id)
    moment = datetime(2027, 4, 21, 7, 0, tzinfo=UTC)
    [due] = [s for s in REGISTRY.due_steps(entries, moment) if s.entry.key == "event:motesplats"]
    delivery = Delivery(
        key=due.key(cohort.id),
        cohort_id=cohort.id,
        kind=due.step.kind,
        due_at=due.at,
        detail={"entry": due.entry.key},
    )
    async with store.transaction() as repos:
        decision = await compose(repos, delivery, moment, REGISTRY)
    assert isinstance(decision, Send)
    rendered, options = render(decision.outgoing.message)  # type: ignore[arg-type]
    assert (
        "Mötesplats Digitala Västerbotten (hybrid conference) is tomorrow: "
        "Thu 22 Apr 09:00–16:00." in rendered
    )
    assert [o.action_id for o in options] == [
        f"event:{cohort.id}:register:motesplats",
        f"event:{cohort.id}:ics:motesplats",
    ]
    # The evening before, it is no longer worth sending.
    async with store.transaction() as repos:
        late = await compose(repos, delivery, datetime(2027, 4, 21, 20, 0, tzinfo=UTC), REGISTRY)
    assert not isinstance(late, Send)


async def test_registration_never_exceeds_capacity_under_concurrency(
    store: Store, programme: Programme, tmp_path: Path, digilog: Digilog
) -> None:
    people = tuple((f"p{n:02d}", f"Person {n:02d}", "umea", Role.participant) for n in range(30))
    cohort = await make_cohort(
        store, programme, people=(("fia", "Fia", "region-vasterbotten", Role.facilitator), *people)
    )
    small = tmp_path / "calendar.yaml"
    small.write_text(
        "themes:\n  1: {start: 2027-02-01 08:00}\n"
        "events:\n"
        "  - key: webbinarium\n"
        "    title: {sv: Extra webbinarium, en: Extra webinar}\n"
        "    start: 2027-03-03 10:00\n"
        "    registration: {capacity: 8}\n",
        encoding="utf-8",
    )
    await load_calendar(store, cohort.key, small)
    async with store.transaction() as repos:
        ids = [m.person.id for m in await repos.people.members(cohort.id, Role.participant)]

    async def register(person_id: int) -> bool | None:
        async with store.transaction() as repos:
            return await repos.gatherings.register(cohort.id, "event:webbinarium", 8, person_id)

    results = await asyncio.gather(*(register(person) for person in ids))
    assert results.count(True) == 8 and results.count(None) == 22
    async with store.transaction() as repos:
        assert len(await repos.gatherings.registered(cohort.id, "event:webbinarium")) == 8
        registered = await repos.gatherings.registered(cohort.id, "event:webbinarium")
    digilog.now = lambda: datetime(2027, 3, 1, tzinfo=UTC)
    chat = Chat(digilog, cohort)
    last = next(p for p in people if p[1] not in {r.display_name for r in registered})[0]
    full = await chat.say(last, "event register webbinarium")
    assert "Extra webinar is full." in full.text
    first = next(p for p in people if p[1] == registered[0].display_name)[0]
    assert "no longer registered" in (await chat.say(first, "event cancel webbinarium")).text
    taken = await chat.say(last, "event register webbinarium")
    assert "You are registered for Extra webinar on Wed 3 Mar 10:00" in taken.text
    seats = await chat.say("fia", "event registered webbinarium")
    assert "Registered 8" in plain(seats.text) and "Free 0" in plain(seats.text)
    listed = await chat.say(first, "events")
    assert "0 of 8 seats free" in listed.text


def test_bad_event_calendars_name_the_line(programme: Programme, tmp_path: Path) -> None:
    path = tmp_path / "cal.yaml"
    path.write_text(
        "themes:\n  1: {start: 2027-02-01 08:00}\n"
        "events:\n"
        "  - {key: konferens, title: {sv: A, en: A}, start: 2027-03-03 10:00}\n"
        "  - {key: konferens, title: {sv: B, en: B}, start: 2027-03-04 10:00,"
        " registration: {capacity: 0}}\n",
        encoding="utf-8",
    )
    with pytest.raises(FileProblems) as problems:
        read_calendar(path, programme, "Europe/Stockholm")
    assert "cal.yaml:5: events[2].registration.capacity: must be more than 0" in str(problems.value)


async def test_ones_attendance_is_in_mydata_and_goes_with_forget(
    store: Store, cohort: Cohort, digilog: Digilog
) -> None:
    await with_calendar(store, cohort)
    digilog.now = lambda: datetime(2027, 4, 1, tzinfo=UTC)
    chat = Chat(digilog, cohort)
    assert "You are registered" in (await chat.say("anna", "event register motesplats")).text
    async with store.transaction() as repos:
        anna = await repos.people.by_account("console", "local", "anna")
        assert anna is not None
        await repos.gatherings.mark(cohort.id, "theme:1:workshop", [anna.id], present=True)
    data = await chat.say("anna", "mydata")
    with zipfile.ZipFile(io.BytesIO(file_of(data.outgoing).content)) as archive:
        found = json.loads(archive.read("data.json"))
    assert [r["entry_key"] for r in found["attendance"]] == ["theme:1:workshop"]
    assert [r["entry_key"] for r in found["event_registrations"]] == ["event:motesplats"]
    await chat.click("anna", f"forget:{cohort.id}:{anna.id}:all")
    async with store.transaction() as repos:
        assert await repos.gatherings.present(cohort.id) == {}
        assert await repos.gatherings.registered(cohort.id, "event:motesplats") == []
    # Her seat went back: 150 are free again.
    listed = await chat.say("bjorn", "events")
    assert "150 of 150 seats free" in listed.text
