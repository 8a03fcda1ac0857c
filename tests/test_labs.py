"""The lab catalogue: seats that never run over, a waitlist promoted in order, .ics files."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from bot.console.render import render
from handlers.admin import import_roster
from handlers.core.ics import PRODID
from handlers.core.programme_file import Programme
from handlers.core.roster import RosterRow
from handlers.core.vocabulary import FileMessage, HomeOpened, Message, Outgoing, ToPerson
from handlers.digilog import Digilog
from handlers.labs import session_key
from storage.models import Cohort, LabSignup, Role, SignupState
from storage.unit import Store
from tests.chat import Chat
from tests.conftest import make_cohort

LAB = "hantera-information"  # sessions: 1 online (30 seats), 2 in Umeå (20 seats)


async def test_sign_up_cancel_and_the_catalogue(cohort: Cohort, digilog: Digilog) -> None:
    chat = Chat(digilog, cohort)
    catalogue = await chat.say("anna", "labs")
    assert "Leading digitally and in a digital age" in catalogue.text
    assert "30 of 30 seats free" in catalogue.text
    assert any(o.action_id == f"lab:{cohort.id}:signup:{LAB}:1" for o in catalogue.options)

    seated = await chat.click("anna", f"lab:{cohort.id}:signup:{LAB}:1")
    assert "You have a seat at Handling information on Tue 16 Feb 13:00–15:00" in seated.text
    again = await chat.say("anna", f"lab signup {LAB} 1")
    assert "You already have a seat" in again.text
    assert "29 of 30 seats free" in (await chat.say("bjorn", "labs")).text
    assert "you have a seat" in (await chat.say("anna", "labs --mine")).text

    [ics] = [o.action_id for o in seated.options]
    [file] = [o.message for o in (await chat.click("anna", ics)).outgoing]
    assert isinstance(file, FileMessage) and file.filename == f"{LAB}-1.ics"
    [event] = Calendar.from_ical(file.content).walk("VEVENT")
    # 13:00 in Stockholm in February is 12:00 UTC.
    assert event.decoded("dtstart") == datetime(2027, 2, 16, 12, 0, tzinfo=UTC)
    assert str(event["summary"]) == "Lab: Handling information"
    assert Calendar.from_ical(file.content)["prodid"] == PRODID  # as an event's

    cancelled = await chat.say("anna", f"lab cancel {LAB} 1")
    assert "no longer signed up" in cancelled.text
    assert "30 of 30 seats free" in (await chat.say("bjorn", "labs")).text


async def test_lab_buttons_say_the_labs_title_and_the_sessions_day(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    cohort = await make_cohort(store, programme, language="sv")
    chat = Chat(digilog, cohort)
    labels = {o.action_id: o.label for o in (await chat.say("anna", "labb")).options}
    assert labels[f"lab:{cohort.id}:signup:{LAB}:1"] == (
        "Anmäl mig: Hantera information, tis 16 feb. 13:00"
    )
    assert not [label for label in labels.values() if LAB in label or "-" in label.split(":")[1]]
    await chat.say("anna", f"labb anmäl {LAB} 2")
    home = _only((await chat.send(HomeOpened(chat.actor("anna"), chat.channel))).outgoing)
    assert [o.label for o in render(home)[1]] == ["Avboka: Hantera information, ons 17 mars 09:00"]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("lab signup", "Which lab?"),
        ("lab signup no-such-lab", "There is no lab no-such-lab."),
        (f"lab signup {LAB}", "Which session of Handling information? Give its number, 1–2."),
        (f"lab signup {LAB} 7", "Handling information has sessions 1–2."),
        (f"lab cancel {LAB} 2", "You are not signed up for Handling information"),
        (f"lab attendees {LAB} 1", "Only a facilitator"),
    ],
)
async def test_bad_lab_commands_say_why_and_change_nothing(
    store: Store, cohort: Cohort, digilog: Digilog, command: str, expected: str
) -> None:
    reply = await Chat(digilog, cohort).say("anna", command)
    assert expected in reply.text
    async with store.transaction() as repos:
        assert await repos.labs.counts(cohort.id) == {}


async def test_a_past_session_takes_no_sign_ups(cohort: Cohort, digilog: Digilog) -> None:
    digilog.now = lambda: datetime(2027, 3, 1, tzinfo=UTC)
    reply = await Chat(digilog, cohort).say("anna", f"lab signup {LAB} 1")
    assert "already taken place" in reply.text


async def test_fifty_at_once_fill_ten_seats_and_the_rest_wait_in_order(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    people = tuple((f"p{n:02d}", f"Person {n:02d}", "umea", Role.participant) for n in range(1, 51))
    cohort = await make_cohort(
        store, programme, people=(("fia", "Fia", "region-vasterbotten", Role.facilitator), *people)
    )
    async with store.transaction() as repos:
        ids = [m.person.id for m in await repos.people.members(cohort.id, Role.participant)]
    key = session_key(programme.labs[0], programme.labs[0].sessions[0])

    async def sign_up(person_id: int) -> SignupState:
        async with store.transaction() as repos:
            state, _ = await repos.labs.sign_up(cohort.id, key, 10, person_id)
            return state

    states = await asyncio.gather(*(sign_up(person) for person in ids))
    assert states.count(SignupState.signed_up) == 10
    assert states.count(SignupState.waiting) == 40
    async with store.transaction() as repos:
        seated = await repos.labs.people(cohort.id, key, SignupState.signed_up)
        waiting = await repos.labs.people(cohort.id, key, SignupState.waiting)
        assert len(seated) == 10 and len(waiting) == 40
        # Cancelling gives the seat to the first who waited.
        done = await repos.labs.cancel(cohort.id, key, seated[0].id)
        assert done.was is SignupState.signed_up
        assert done.promoted is not None and done.promoted.id == waiting[0].id
        assert len(await repos.labs.people(cohort.id, key, SignupState.signed_up)) == 10


async def test_the_first_on_the_waitlist_is_told_when_a_seat_frees_up(
    store: Store, programme: Programme, digilog: Digilog, cohort: Cohort
) -> None:
    others = [f"x{n:02d}" for n in range(30)]
    rows = [
        RosterRow(n, u.upper(), None, u, "pitea", Role.participant) for n, u in enumerate(others, 1)
    ]
    _, problems = await import_roster(store, cohort.key, rows, skip_bad=False)
    assert not problems
    chat = Chat(digilog, cohort)
    for user in others:  # the 30 seats of the online session
        assert "You have a seat" in (await chat.say(user, f"lab signup {LAB} 1")).text
    full = await chat.say("anna", f"lab signup {LAB} 1")
    assert "is full. You are number 1 on the waitlist" in full.text
    assert "0 of 30 seats free" in (await chat.say("bjorn", "labs")).text
    attendees = await chat.say("fia", f"lab attendees {LAB} 1")
    assert "1. Anna Lindqvist" in attendees.text

    freed = await chat.say("x00", f"lab cancel {LAB} 1")
    [note] = [o for o in freed.outgoing if isinstance(o.to, ToPerson)]
    assert isinstance(note.to, ToPerson) and note.to.user_id == "anna"
    assert isinstance(note.message, Message)
    assert "A seat freed up: you now have a seat at Handling information" in render(note.message)[0]
    assert "you have a seat" in (await chat.say("anna", "labs")).text


async def test_the_home_page_lists_ones_labs_with_a_button_to_cancel(
    cohort: Cohort, digilog: Digilog
) -> None:
    chat = Chat(digilog, cohort)
    before = await chat.send(HomeOpened(chat.actor("anna"), chat.channel))
    assert "You have not signed up for a lab yet" in render(_only(before.outgoing))[0]
    await chat.say("anna", f"lab signup {LAB} 2")
    home = _only((await chat.send(HomeOpened(chat.actor("anna"), chat.channel))).outgoing)
    text, options = render(home)
    assert "Wed 17 Mar 09:00–11:00**  Handling information · you have a seat" in text
    [cancel] = [o.action_id for o in options]
    assert "no longer signed up" in (await chat.click("anna", cancel)).text


SESSION_1 = datetime(2027, 2, 16, 12, 0, tzinfo=UTC)  # LAB 1, 13:00 in Stockholm


async def _seated(chat: Chat, *users: str, lab: str = LAB, n: int = 1) -> None:
    for user in users:
        assert "You have a seat" in (await chat.say(user, f"lab signup {lab} {n}")).text


async def _attended_at(store: Store, cohort: Cohort) -> dict[int, datetime | None]:
    """person id → when they were marked at LAB 1, for those signed up there."""
    async with store.transaction() as repos:
        rows = await repos.session.execute(
            select(LabSignup.person_id, LabSignup.attended_at).where(
                LabSignup.cohort_id == cohort.id, LabSignup.session_key.startswith(f"{LAB}@")
            )
        )
        return dict(rows.all())


async def _ids(store: Store, cohort: Cohort) -> dict[str, int]:
    async with store.transaction() as repos:
        return {m.person.user_id or "": m.person.id for m in await repos.people.members(cohort.id)}


async def test_a_facilitator_marks_who_attended_and_can_undo_it(
    store: Store, cohort: Cohort, digilog: Digilog
) -> None:
    chat = Chat(digilog, cohort)
    await _seated(chat, "anna", "bjorn")
    before = await chat.say("fia", f"lab attendees {LAB} 1")
    assert "attended" not in before.text  # the session has not happened yet
    assert "• Anna Lindqvist" in before.text

    digilog.now = lambda: SESSION_1 + timedelta(hours=1)  # under way
    marked = await chat.say("fia", f"lab attended {LAB} 1 @anna")
    assert "Marked as attended: Anna Lindqvist." in marked.text
    assert "1 of 2 attended" in marked.text
    view = (await chat.say("fia", f"lab attendees {LAB} 1")).text
    assert "1 of 2 attended" in view
    assert "✅ Anna Lindqvist" in view and "⬜ Björn Öberg" in view
    ids = await _ids(store, cohort)
    assert (await _attended_at(store, cohort))[ids["anna"]] == SESSION_1 + timedelta(hours=1)

    # Marking again, with someone new, keeps Anna's first time.
    digilog.now = lambda: SESSION_1 + timedelta(days=2)
    again = await chat.say("fia", f"lab attended {LAB} 1 anna bjorn anna")
    assert "Marked as attended: Anna Lindqvist and Björn Öberg." in again.text
    assert "2 of 2 attended" in again.text
    assert await _attended_at(store, cohort) == {
        ids["anna"]: SESSION_1 + timedelta(hours=1),
        ids["bjorn"]: SESSION_1 + timedelta(days=2),
    }

    undone = await chat.say("fia", f"lab absent {LAB} 1 bjorn")
    assert "No longer marked as attended: Björn Öberg." in undone.text
    assert "1 of 2 attended" in undone.text and "⬜ Björn Öberg" in undone.text
    assert (await _attended_at(store, cohort))[ids["bjorn"]] is None


@pytest.mark.parametrize(
    ("user", "command", "expected"),
    [
        ("fia", f"lab attended {LAB} 1 bjorn nobody", "nobody is not in this cohort."),
        (
            "fia",
            f"lab attended {LAB} 1 bjorn cecilia",
            "Cecilia Åström has no seat at Handling information on Tue 16 Feb",
        ),
        ("fia", f"lab attended {LAB} 1 fia", "Fia Facilitator has no seat"),
        ("fia", f"lab attended {LAB} 2 bjorn", "on Wed 17 Mar 09:00–11:00 has not taken place"),
        ("fia", "lab attended no-such-lab 1 bjorn", "There is no lab no-such-lab."),
        ("fia", f"lab attended {LAB} bjorn", "Which session of Handling information?"),
        ("fia", f"lab attended {LAB} 3 bjorn", "Handling information has sessions 1–2."),
        ("fia", f"lab attended {LAB} 1", "Name the people by user id"),
        ("fia", f"lab absent {LAB} 1 anna nobody", "nobody is not in this cohort."),
        ("fia", f"lab absent {LAB} 1 anna cecilia", "Cecilia Åström has no seat"),
        ("anna", f"lab attended {LAB} 1 bjorn", "Only a facilitator"),
        ("anna", f"lab absent {LAB} 1 anna", "Only a facilitator"),
    ],
)
async def test_bad_attendance_commands_say_why_and_change_nothing(
    store: Store, cohort: Cohort, digilog: Digilog, user: str, command: str, expected: str
) -> None:
    chat = Chat(digilog, cohort)
    await _seated(chat, "anna", "bjorn", "cecilia")
    await chat.say("cecilia", f"lab cancel {LAB} 1")  # who gave the seat up has none
    digilog.now = lambda: SESSION_1 + timedelta(hours=3)
    assert "Marked as attended" in (await chat.say("fia", f"lab attended {LAB} 1 anna")).text
    before = await _attended_at(store, cohort)

    reply = await chat.say(user, command)
    assert expected in reply.text
    assert "Marked as attended" not in reply.text and "No longer marked" not in reply.text
    assert await _attended_at(store, cohort) == before


async def test_attended_people_counts_each_attended_session(
    store: Store, cohort: Cohort, digilog: Digilog
) -> None:
    phishing = "kanna-igen-natfiskemejl"
    chat = Chat(digilog, cohort)
    await _seated(chat, "anna", "bjorn", "cecilia")
    await _seated(chat, "anna", lab=phishing)
    digilog.now = lambda: datetime(2027, 3, 1, tzinfo=UTC)
    await chat.say("fia", f"lab attended {LAB} 1 anna bjorn")
    await chat.say("fia", f"lab attended {phishing} 1 anna")
    ids = await _ids(store, cohort)
    async with store.transaction() as repos:
        found = await repos.labs.attended_people(cohort.id)
    assert sorted(found) == sorted([ids["anna"], ids["anna"], ids["bjorn"]])

    # A session that has taken place keeps its history: its seats can no longer be given up.
    refused = await chat.say("bjorn", f"lab cancel {LAB} 1")
    assert "has already begun; it can no longer be cancelled" in refused.text
    async with store.transaction() as repos:
        assert sorted(await repos.labs.attended_people(cohort.id)) == sorted(found)


def _only(outgoing: list[Outgoing]) -> Message:
    [item] = outgoing
    assert isinstance(item.message, Message)
    return item.message
