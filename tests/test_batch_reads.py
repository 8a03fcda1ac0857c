"""Clicks handled together (Digilog.handle_many, as the inbound journal's workers do) read
who each person is and what they have answered in one query for the whole batch. What
they are told must be what they would be told one by one: an earlier click's writes are
seen by the later ones. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.util import await_only

from handlers.core.programme_file import Programme
from handlers.core.vocabulary import (
    Actor,
    ChoiceMade,
    CommandReceived,
    Conversation,
    Inbound,
    Outgoing,
)
from handlers.digilog import Digilog
from storage.models import Cohort, QuizAnswer, Role
from storage.unit import Store
from tests.chat import Chat, Reply
from tests.conftest import make_cohort
from tests.test_handlers import correct_option, pick, rows, wrong_option


def text_of(result: list[Outgoing] | Exception) -> str:
    assert not isinstance(result, Exception), result
    return Reply(result).text


@contextmanager
def statements_sent(store: Store) -> Iterator[list[str]]:
    """The SQL the store sends while the block runs, each statement as one line."""
    sent: list[str] = []

    def seen(_connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(" ".join(statement.split()))

    event.listen(store.engine.sync_engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", seen)


async def quiz_open(digilog: Digilog, cohort: Cohort, facilitator: str = "fia") -> Chat:
    """The cohort's chat, theme 1 started and its quiz open, as the facilitator does it."""
    chat = Chat(digilog, cohort)
    await chat.say(facilitator, "theme start 1")
    await chat.say(facilitator, "quiz start 1")
    return chat


async def right_and_wrong(
    digilog: Digilog, cohort: Cohort, programme: Programme
) -> tuple[Chat, int, int]:
    """The quiz opened, and a right and a wrong option of its first question."""
    chat = await quiz_open(digilog, cohort)
    return chat, correct_option(programme, 1, 0), wrong_option(programme, 1, 0)


def clicked(
    chat: Chat, who: str, question: int, option: int, *, actor: Actor | None = None
) -> ChoiceMade:
    """`who`'s click on an option of theme 1's quiz in the cohort's channel."""
    return ChoiceMade(
        actor or chat.actor(who), chat.channel, pick(chat.cohort, 1, question, option)
    )


async def handled_together(
    digilog: Digilog, events: Sequence[Inbound]
) -> list[list[Outgoing] | Exception]:
    return await digilog.handle_many([(event, None, None) for event in events])


async def test_clicks_handled_together_are_answered_as_one_by_one(
    digilog: Digilog, store: Store, cohort: Cohort, programme: Programme
) -> None:
    chat, right, wrong = await right_and_wrong(digilog, cohort, programme)
    clicks = [
        clicked(chat, "anna", 0, right),
        clicked(chat, "bjorn", 0, wrong),
        # Anna's second click sees her first: the next question is the third.
        clicked(chat, "anna", 1, 0),
        # And her first answer counts, clicked again in the same batch.
        clicked(chat, "anna", 0, wrong),
    ]

    anna_first, bjorn, anna_second, anna_again = await handled_together(digilog, clicks)

    assert "✅ Right!" in text_of(anna_first)
    assert "Question 2 of" in text_of(anna_first)
    assert "❌ Not quite." in text_of(bjorn)
    assert "Question 2 of" in text_of(bjorn)
    assert "Question 3 of" in text_of(anna_second)
    assert "your first answer counts" in text_of(anna_again)
    assert "Question 3 of" in text_of(anna_again)
    stored = sorted(
        (a.person_id, a.question_index, a.option_index) for a in await rows(store, QuizAnswer)
    )
    assert len(stored) == 3  # Anna's two, Björn's one; the repeated click stored nothing


async def test_a_batchs_new_answers_go_in_as_one_statement(
    digilog: Digilog, store: Store, cohort: Cohort, programme: Programme
) -> None:
    chat, right, wrong = await right_and_wrong(digilog, cohort, programme)
    clicks = [
        clicked(chat, "anna", 0, right),
        clicked(chat, "bjorn", 0, wrong),
        clicked(chat, "cecilia", 0, right),
    ]

    with statements_sent(store) as sent:
        results = await handled_together(digilog, clicks)

    assert all("Question" in text_of(result) for result in results)
    inserts = [s for s in sent if s.startswith("INSERT INTO quiz_answers")]
    assert len(inserts) == 1, inserts
    stored = [(a.question_index, a.option_index) for a in await rows(store, QuizAnswer)]
    assert sorted(stored) == sorted([(0, right), (0, wrong), (0, right)])


async def test_a_new_name_from_the_platform_does_not_make_the_batch_read_people_again(
    digilog: Digilog, store: Store, cohort: Cohort, programme: Programme
) -> None:
    """The first click after a start brings each person's name and time zone as the
    platform has them; stored on the person the batch read, the others' reads stand."""
    chat = await quiz_open(digilog, cohort)
    right = correct_option(programme, 1, 0)
    renamed = replace(chat.actor("anna"), display_name="Anna L", timezone="Europe/Helsinki")
    clicks = [
        clicked(chat, "anna", 0, right, actor=renamed),
        clicked(chat, "bjorn", 0, right),
        clicked(chat, "cecilia", 0, right),
    ]

    with statements_sent(store) as sent:
        results = await handled_together(digilog, clicks)

    assert all("✅ Right!" in text_of(result) for result in results)
    assert len([s for s in sent if s.startswith("SELECT people.")]) == 1, sent
    async with store.transaction() as repos:
        anna = await repos.people.by_account("console", "local", "anna")
    assert anna is not None and (anna.display_name, anna.timezone) == ("Anna L", "Europe/Helsinki")


async def test_an_answer_stored_meanwhile_by_another_worker_counts_and_the_reply_says_so(
    digilog: Digilog, store: Store, cohort: Cohort, programme: Programme
) -> None:
    """On PostgreSQL another worker may store a person's answer between the batch's read
    and its write: the batch is then handled one by one, and says which answer counts."""
    if store.engine.dialect.name == "sqlite":
        pytest.skip(
            "SQLite: the batch holds the write lock from its start; no one writes meanwhile"
        )
    chat, right, wrong = await right_and_wrong(digilog, cohort, programme)
    async with store.transaction() as repos:
        bjorn = await repos.people.by_account("console", "local", "bjorn")
    assert bjorn is not None
    other = await store.engine.connect()  # another worker's connection
    meanwhile: list[str] = []

    def before(_connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("INSERT INTO quiz_answers") and not meanwhile:
            meanwhile.append(statement)
            values = (cohort.id, bjorn.id, right)
            await_only(
                other.exec_driver_sql(
                    "INSERT INTO quiz_answers (cohort_id, person_id, theme_number, "
                    "question_index, option_index, correct, answered_at) "
                    "VALUES ($1, $2, 1, 0, $3, true, now())",
                    values,
                )
            )
            await_only(other.commit())

    event.listen(store.engine.sync_engine, "before_cursor_execute", before)
    try:
        anna, bjorn_reply = await handled_together(
            digilog,
            [
                clicked(chat, "anna", 0, right),
                clicked(chat, "bjorn", 0, wrong),
            ],
        )
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", before)
        await other.close()

    assert meanwhile
    assert "✅ Right!" in text_of(anna)
    assert "your first answer counts" in text_of(bjorn_reply)  # not the wrong one he clicked
    stored = {(a.person_id, a.option_index) for a in await rows(store, QuizAnswer)}
    assert (bjorn.id, right) in stored and (bjorn.id, wrong) not in stored
    assert len(stored) == 2


async def test_someone_enrolled_in_the_same_batch_gets_their_answer(
    digilog: Digilog, store: Store, programme: Programme
) -> None:
    # Dora is known (she is in another cohort) but not in this one when the batch's clicks
    # are read ahead; the facilitator's enrol, handled before her click, makes that stale.
    await make_cohort(
        store, programme, "andra", people=(("dora", "Dora Dahl", "umea", Role.participant),)
    )
    cohort = await make_cohort(
        store,
        programme,
        "grupp",
        people=(
            ("gun", "Gun Gran", "umea", Role.facilitator),
            ("erik", "Erik Ek", "pitea", Role.participant),
        ),
    )
    chat = await quiz_open(digilog, cohort, "gun")
    right = correct_option(programme, 1, 0)
    batch: list[Inbound] = [
        clicked(chat, "erik", 0, right),
        CommandReceived(chat.actor("gun"), chat.channel, "enrol dora pitea"),
        clicked(chat, "dora", 0, right),
    ]

    erik, enrolled, dora = await handled_together(digilog, batch)

    assert "✅ Right!" in text_of(erik)
    assert "dora" in text_of(enrolled).lower()
    assert "✅ Right!" in text_of(dora)
    assert len(await rows(store, QuizAnswer)) == 2


async def test_what_was_read_ahead_is_forgotten_once_the_transaction_writes_there(
    store: Store, programme: Programme
) -> None:
    await make_cohort(
        store, programme, "andra", people=(("dora", "Dora Dahl", "umea", Role.participant),)
    )
    cohort = await make_cohort(store, programme, "grupp")
    place = ("console", "local", cohort.conversation_id)
    async with store.transaction() as repos:
        await repos.people.read_ahead("console", "local", ["dora", "anna"], place)
        known = repos.people.known_person("console", "local", "dora", place)
        assert known is not None and known[2] is None  # read: not in this cohort
        dora = known[0]
        pitea = next(
            o for o in await repos.programs.organisations(programme.id) if o.key == "pitea"
        )
        await repos.people.enrol(cohort.id, dora.id, pitea.id, Role.participant)

        assert repos.people.known_person("console", "local", "anna", place) is None
        found = await repos.people.where_they_are("console", "local", "dora", place)
        assert found is not None and found[2] is not None  # read again: now she is

        await repos.quizzes.read_ahead({(cohort.id, dora.id, 1)})
        assert await repos.quizzes.answered(cohort.id, dora.id, 1) == {}
        await repos.quizzes.answer(cohort.id, dora.id, 1, 0, 2, True)
        assert await repos.quizzes.answered(cohort.id, dora.id, 1) == {0: True}  # kept up


async def test_a_delivery_handled_before_is_not_handled_again_in_a_batch(
    digilog: Digilog, store: Store, cohort: Cohort, programme: Programme
) -> None:
    chat = await quiz_open(digilog, cohort)
    right = correct_option(programme, 1, 0)
    anna = clicked(chat, "anna", 0, right)
    bjorn = clicked(chat, "bjorn", 0, right)
    await digilog.handle(anna, delivery_id="delivery-1")

    # The platform sends Anna's click again (its answer was lost), beside Björn's.
    again, first = await digilog.handle_many(
        [(anna, "delivery-1", None), (bjorn, "delivery-2", None)]
    )

    assert again == []  # handled before: nothing done, nothing said
    assert "✅ Right!" in text_of(first)
    assert len(await rows(store, QuizAnswer)) == 2


async def test_clicks_from_peoples_own_chats_are_answered_as_one_by_one(
    digilog: Digilog, store: Store, cohort: Cohort, programme: Programme
) -> None:
    # As a Teams quiz goes: each question card in the person's own chat with Digilog.
    chat, right, wrong = await right_and_wrong(digilog, cohort, programme)

    def own_chat(user: str) -> Conversation:
        return Conversation(cohort.platform, cohort.workspace, f"chat-with-{user}")

    clicks = [
        ChoiceMade(chat.actor("anna"), own_chat("anna"), pick(cohort, 1, 0, right)),
        ChoiceMade(chat.actor("bjorn"), own_chat("bjorn"), pick(cohort, 1, 0, wrong)),
        ChoiceMade(chat.actor("cecilia"), own_chat("cecilia"), pick(cohort, 1, 0, right)),
    ]
    await chat.click("cecilia", pick(cohort, 1, 0, wrong), own_chat("cecilia"))

    with statements_sent(store) as sent:
        anna, bjorn, cecilia = await handled_together(digilog, clicks)

    assert "✅ Right!" in text_of(anna) and "Question 2 of" in text_of(anna)
    assert "❌ Not quite." in text_of(bjorn) and "Question 2 of" in text_of(bjorn)
    assert "your first answer counts" in text_of(cecilia)
    assert len(await rows(store, QuizAnswer)) == 3
    # Who they are and their memberships: read once for the batch, not once a click.
    for table in ("people", "memberships"):
        reads = [q for q in sent if q.startswith("SELECT") and f"FROM {table}" in q]
        assert len(reads) == 1, (table, reads)
    # And what each has answered: no click asks for its own.
    one_by_one = "SELECT quiz_answers.question_index, quiz_answers.correct FROM"
    assert not [q for q in sent if q.startswith(one_by_one)]


async def test_a_refusal_in_a_batch_leaves_the_others_deliveries_to_be_handled(
    digilog: Digilog, store: Store, cohort: Cohort, programme: Programme
) -> None:
    # The first click is refused before the database (a NUL in its sender's name), and
    # its refusal records its delivery; the others' deliveries, recorded ahead, are still
    # each handled once.
    chat = await quiz_open(digilog, cohort)
    right = correct_option(programme, 1, 0)
    broken = replace(chat.actor("cecilia"), display_name="Cecilia\x00")
    batch = [
        (ChoiceMade(broken, chat.channel, pick(cohort, 1, 0, right)), "delivery-0", None),
        (
            clicked(chat, "anna", 0, right),
            "delivery-1",
            None,
        ),
        (
            clicked(chat, "bjorn", 0, right),
            "delivery-2",
            None,
        ),
    ]

    refused, anna, bjorn = await digilog.handle_many(batch)

    assert "NUL" in text_of(refused)
    assert "✅ Right!" in text_of(anna)
    assert "✅ Right!" in text_of(bjorn)
    assert len(await rows(store, QuizAnswer)) == 2
