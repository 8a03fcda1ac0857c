"""The lab catalogue: seats that never run over, a waitlist promoted in order, .ics files."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from icalendar import Calendar

from bot.console.render import render
from handlers.admin import import_roster
from handlers.digilog import Digilog
from handlers.labs import session_key
from handlers.programme_file import Programme
from handlers.roster import RosterRow
from handlers.vocabulary import FileMessage, HomeOpened, Message, Outgoing, ToPerson
from storage.models import Cohort, Role, SignupState
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
    assert "You have a seat at Handling information on 2027-02-16 13:00–15:00" in seated.text
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

    cancelled = await chat.say("anna", f"lab cancel {LAB} 1")
    assert "no longer signed up" in cancelled.text
    assert "30 of 30 seats free" in (await chat.say("bjorn", "labs")).text


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("lab signup", "Which lab?"),
        ("lab signup no-such-lab", "There is no lab no-such-lab."),
        (f"lab signup {LAB}", f"Which session of {LAB}? Give its number, 1–2."),
        (f"lab signup {LAB} 7", f"{LAB} has sessions 1–2."),
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
    assert "2027-03-17 09:00–11:00**  Handling information · you have a seat" in text
    [cancel] = [o.action_id for o in options]
    assert "no longer signed up" in (await chat.click("anna", cancel)).text


def _only(outgoing: list[Outgoing]) -> Message:
    [item] = outgoing
    assert isinstance(item.message, Message)
    return item.message
