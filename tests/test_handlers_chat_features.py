"""Features the chat platforms lean on: mentions, saved messages, delivery ids, home pages."""

from __future__ import annotations

import pytest

from bot.console.render import render
from handlers.admin import import_roster
from handlers.core.programme_file import Programme
from handlers.core.roster import RosterRow
from handlers.core.vocabulary import (
    Actor,
    CommandReceived,
    Conversation,
    HomeOpened,
    Message,
    MessageSaved,
    Outgoing,
    ThreadPost,
    ToHome,
)
from handlers.digilog import Digilog
from storage.models import Cohort, Reflection, Role, Source
from storage.unit import Store
from tests.chat import Chat
from tests.conftest import make_cohort
from tests.test_handlers import person, rows


@pytest.fixture
def chat(digilog: Digilog, cohort: Cohort) -> Chat:
    return Chat(digilog, cohort)


def home_text(outgoing: list[Outgoing]) -> str:
    [page] = outgoing
    assert isinstance(page.to, ToHome)
    assert isinstance(page.message, Message)
    return render(page.message)[0]


async def test_a_mention_in_a_thread_answers_that_persons_latest_post(
    chat: Chat, store: Store
) -> None:
    await chat.say("fia", "theme start 1")
    await chat.post("anna", 1, "Första tanken.")
    await chat.post("anna", 1, "Andra tanken.")
    event_text = "Jag håller med dig!"
    await chat.send(
        ThreadPost(
            chat.actor("bjorn"),
            chat.channel.thread(chat.posts[1]),
            "m-mention",
            event_text,
            mentions=("nobody", "anna"),
        )
    )
    second = (await rows(store, Reflection))[1]
    reply = (await rows(store, Reflection, message_id="m-mention"))[0]
    assert (reply.source, reply.reply_to_id) == (Source.digilog_reply, second.id)
    anna = await person(store, "anna")
    assert anna is not None and reply.replied_to_person_id == anna.id


async def test_a_message_is_saved_by_its_author_only_and_once(chat: Chat, store: Store) -> None:
    own = MessageSaved(chat.actor("anna"), chat.channel, "m-1", "anna", "Min tanke.")
    first = await chat.send(own)
    again = await chat.send(own)
    other = await chat.send(
        MessageSaved(chat.actor("anna"), chat.channel, "m-2", "bjorn", "Björns tanke.")
    )
    assert "Saved in the reflection bank as #" in first.text
    assert "already in the reflection bank" in again.text
    assert "only save messages that you wrote yourself" in other.text
    [saved] = await rows(store, Reflection)
    assert (saved.body, saved.source, saved.message_id) == (
        "Min tanke.",
        Source.saved_message,
        "m-1",
    )


async def test_a_retried_delivery_is_handled_once_refusals_too(
    digilog: Digilog, chat: Chat, store: Store
) -> None:
    start = CommandReceived(chat.actor("fia"), chat.channel, "theme start 1")
    first = await digilog.handle(start, delivery_id="Ev1")
    assert len(first) == 2
    assert await digilog.handle(start, delivery_id="Ev1") == []
    refused = CommandReceived(chat.actor("anna"), chat.channel, "theme start 2")
    assert len(await digilog.handle(refused, delivery_id="Ev2")) == 1
    assert await digilog.handle(refused, delivery_id="Ev2") == []


async def test_the_theme_post_offers_the_reflection_form(chat: Chat) -> None:
    started = await chat.say("fia", "theme start 1")
    [post] = started.public
    assert isinstance(post.message, Message)
    *_, option = render(post.message)[1]  # after the reflection task's choices
    assert option.action_id == f"reflect:{chat.cohort.id}:1"
    (form,) = (await chat.click("anna", option.action_id)).forms
    assert form.fields[0].initial == "1"  # type: ignore[union-attr]


async def test_home_for_a_participant_a_facilitator_and_a_stranger(chat: Chat) -> None:
    await chat.say("fia", "theme start 1")
    first, _ = await chat.post("anna", 1, "Ett inlägg.")
    await chat.post("bjorn", 1, "Ett svar från Piteå.", reply_to=first)
    await chat.post("anna", 1, "Och ett till från Umeå, till mig själv.", reply_to=first)
    anna = home_text((await chat.send(HomeOpened(chat.actor("anna"), chat.channel))).outgoing)
    assert "Now: theme 1" in anna
    assert "✅ Digilog" in anna
    fia = home_text((await chat.send(HomeOpened(chat.actor("fia"), chat.channel))).outgoing)
    assert "Progress in theme 1" in fia
    # Three participants are too few for figures (tests/test_figures.py counts the replies
    # across organisations on home and in the report for cohorts of every size).
    assert "The cohort has 3 participants. Figures are shown from 5" in fia
    assert "Umeå Municipality" not in fia and "reply" not in fia
    stranger = Actor("console", "local", "okand")
    text = home_text((await chat.send(HomeOpened(stranger, chat.channel))).outgoing)
    assert "You are not in a cohort yet" in text


async def test_home_shows_every_cohort_of_someone_in_several(
    digilog: Digilog, store: Store, programme: Programme, cohort: Cohort
) -> None:
    await make_cohort(
        store,
        programme,
        "grupp-2",
        people=(("anna", "Anna Lindqvist", "umea", Role.participant),),
    )
    direct = Conversation("console", "local", "dm-anna")
    outgoing = await digilog.handle(HomeOpened(Actor("console", "local", "anna"), direct))
    text = home_text(outgoing)
    assert "Grupp 1" in text and "Grupp 2" in text


async def test_a_new_platform_name_replaces_the_stored_one(chat: Chat, store: Store) -> None:
    renamed = Actor("console", "local", "anna", "Anna L. Berg")
    await chat.send(CommandReceived(renamed, chat.channel, "help"))
    anna = await person(store, "anna")
    assert anna is not None and anna.display_name == "Anna L. Berg"


async def test_someone_rostered_by_email_is_recognised_by_their_platform_address(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    cohort = await make_cohort(store, programme)
    row = RosterRow(1, "Eva Ek", "Eva.Ek@umea.se", None, "umea", Role.participant)
    await import_roster(store, cohort.key, [row], skip_bad=False)
    channel = Conversation("console", "local", cohort.conversation_id)
    eva = Actor("console", "local", "eva-account", "Eva Ek", email="eva.ek@umea.se")
    [reply] = await digilog.handle(CommandReceived(eva, channel, "bank"))
    assert isinstance(reply.message, Message)
    assert "Latest reflections" in render(reply.message)[0]
    linked = await person(store, "eva-account")
    assert linked is not None and linked.email == "Eva.Ek@umea.se"
    stranger = Actor("console", "local", "other", "Other", email="someone@else.se")
    [refused] = await digilog.handle(CommandReceived(stranger, channel, "bank"))
    assert isinstance(refused.message, Message)
    assert "You are not enrolled" in render(refused.message)[0]
