"""Teams as a participant's home: joining by button, replies and names by @mention, cards
that change once used, files through the consent flow, the home page, buddy threads, and a
person Digilog cannot reach. Real-shaped activities through `digilog serve`, against the
fake Bot Connector (and its fake OneDrive upload endpoint)."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote

from sqlalchemy import select

from handlers.admin import import_roster
from handlers.core.roster import RosterRow
from storage.models import OfferedFile, ProcessedEvent, Reflection, Role
from storage.swedish import LEXICON
from tests.teams_fake import BOT, CHANNEL, TENANT
from tests.test_teams_scenarios import Teams, actions, check_card, teams, texts

__all__ = ["teams"]  # the fixture, used by name


def mention(user: str, name: str) -> dict[str, Any]:
    return {"type": "mention", "mentioned": {"id": user, "name": name}, "text": f"<at>{name}</at>"}


def with_mentions(body: dict[str, Any], text: str, *people: tuple[str, str]) -> dict[str, Any]:
    """The activity's text as Teams writes it, each @mention an entity beside it."""
    body["text"] = text
    body["entities"] = [mention(BOT, "Digilog"), *(mention(u, n) for u, n in people)]
    return body


async def cohort_id(teams: Teams) -> int:
    async with teams.store.transaction() as repos:
        cohort = await repos.cohorts.by_key("grupp-1")
        assert cohort is not None
        return cohort.id


def buttons(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in actions(card) if a["type"] == "Action.Execute"]


async def start_theme(teams: Teams) -> str:
    await teams.say("29:fia", "theme start 1")
    async with teams.store.transaction() as repos:
        [run] = await repos.themes.started(await cohort_id(teams))
    assert run.post_message_id is not None
    return run.post_message_id


# ---------------------------------------------------------------- join, reply, name


async def test_an_organisation_button_in_the_personal_chat_joins_its_cohort(teams: Teams) -> None:
    async with teams.store.transaction() as repos:
        cohort = await repos.cohorts.by_key("grupp-1")
        assert cohort is not None
        cohort.self_enrol = True
    assert await teams.say("29:cia", "join") == 200
    offer = teams.connector.cards("a:29:cia")[-1]  # the buttons come in her own chat
    umea = next(b for b in buttons(offer) if b["data"]["action_id"].endswith(":umea"))
    # The button says which channel it was asked for in; without that, the personal chat
    # names no cohort, and a button of a cohort not yet hers does nothing there.
    assert umea["data"]["asked_in"].endswith(":" + CHANNEL)  # sealed: bot/teams/binding.py
    bare = {k: v for k, v in umea["data"].items() if k != "asked_in"}
    status, refused = await teams.execute("29:cia", bare, personal=True)
    assert status == 200 and "cohort" in json.dumps(refused)
    async with teams.store.transaction() as repos:
        assert await repos.people.by_account("teams", TENANT, "29:cia") is None
    status, answer = await teams.execute("29:cia", umea["data"], personal=True)
    assert status == 200
    # The card she clicked now says what happened, its buttons gone.
    assert answer["type"] == "application/vnd.microsoft.card.adaptive"
    assert "Welcome to Grupp 1" in texts(answer["value"]) and not buttons(answer["value"])
    async with teams.store.transaction() as repos:
        person = await repos.people.by_account("teams", TENANT, "29:cia")
        assert person is not None
        member = await repos.people.member(cohort.id, person.id)
    assert member is not None and member.organisation.key == "umea"


async def test_an_at_mention_reply_in_a_theme_thread_is_a_digilog_post(teams: Teams) -> None:
    root = await start_theme(teams)
    reply = teams.activity("29:anna", thread=root)
    with_mentions(
        reply,
        "<at>Digilog</at> In vår kommun har <at>Björn Öberg</at> visat vägen.",
        ("29:bjorn", "Björn Öberg"),
    )
    assert await teams.send(reply) == 200
    async with teams.store.transaction() as repos:
        [stored] = (await repos.session.scalars(select(Reflection))).all()
    assert stored.body == "In vår kommun har @Björn Öberg visat vägen."
    assert stored.theme_number == 1
    # A command word first: still a command, even in the thread.
    before = len(teams.connector.cards("a:29:anna"))
    assert await teams.send(teams.activity("29:anna", text="help", thread=root, mention_bot=True))
    assert "Digilog commands" in texts(teams.connector.cards("a:29:anna")[before])
    assert await teams.count(Reflection) == 1
    # In the bank, the post links to its thread in Teams.
    assert await teams.send(teams.activity("29:anna", text="bank", personal=True)) == 200
    listed = texts(teams.connector.cards("a:29:anna")[-1])
    link = f"(https://teams.microsoft.com/l/message/{quote(CHANNEL, safe='')}/{root}?"
    assert f"[Open the thread]{link}" in listed


async def test_facilitator_commands_name_people_by_at_mention(teams: Teams) -> None:
    command = teams.activity("29:fia")
    with_mentions(
        command,
        "<at>Digilog</at> enrol <at>David Lycksele</at> umea",
        ("29:david", "David Lycksele"),
    )
    assert await teams.send(command) == 200
    assert "is enrolled as participant" in texts(teams.connector.cards("a:29:fia")[-1])
    cohort = await cohort_id(teams)
    async with teams.store.transaction() as repos:
        david = await repos.people.by_account("teams", TENANT, "29:david")
        assert david is not None
        assert await repos.people.member(cohort, david.id) is not None

    pin = teams.activity("29:fia")
    with_mentions(
        pin,
        "<at>Digilog</at> pair pin <at>Anna Lindqvist</at> <at>Björn Öberg</at>",
        ("29:anna", "Anna Lindqvist"),
        ("29:bjorn", "Björn Öberg"),
    )
    assert await teams.send(pin) == 200
    assert "Anna Lindqvist and Björn Öberg will always be paired" in texts(
        teams.connector.cards("a:29:fia")[-1]
    )


async def test_a_join_button_cannot_be_made_to_name_a_cohort_one_was_not_asked_into(
    teams: Teams,
) -> None:
    """The channel a join button carries comes back from the person's client: written by
    hand, or taken from someone else's card, it joins nothing."""
    other = "19:grupp2@thread.tacv2"
    async with teams.store.transaction() as repos:
        cohort = await repos.cohorts.by_key("grupp-1")
        assert cohort is not None
        cohort.self_enrol = True
    assert await teams.say("29:cia", "join") == 200
    offer = teams.connector.cards("a:29:cia")[-1]
    umea = next(b for b in buttons(offer) if b["data"]["action_id"].endswith(":umea"))
    sealed = umea["data"]["asked_in"]
    assert sealed.endswith(":" + CHANNEL)  # the channel, and the server's seal on it
    mac = sealed[: -len(CHANNEL) - 1]
    forgeries = {
        "the seal on another channel": f"{mac}:{other}",
        "a seal made up": f"{'A' * len(mac)}:{CHANNEL}",
        "nothing after the seal": f"{mac}:",
    }
    before = len(teams.connector.cards("a:29:dora"))
    for why, value in forgeries.items():
        status, refused = await teams.execute(
            "29:cia", {**umea["data"], "asked_in": value}, personal=True
        )
        assert status == 200, why
        assert refused["type"] == "application/vnd.microsoft.activity.message", why
        assert "was not given to you" in refused["value"], why
    # A bare channel, as buttons carried before they were sealed, is not taken: the button
    # names no channel, and the personal chat is no cohort's.
    status, refused = await teams.execute(
        "29:cia", {**umea["data"], "asked_in": CHANNEL}, personal=True
    )
    assert "This conversation is not a cohort's channel." in texts(refused["value"])
    # Cia's own sealed button, pressed by Dora, who was never asked: refused too.
    status, refused = await teams.execute("29:dora", umea["data"], personal=True)
    assert "was not given to you" in refused["value"]
    assert len(teams.connector.cards("a:29:dora")) == before
    async with teams.store.transaction() as repos:
        assert await repos.people.by_account("teams", TENANT, "29:cia") is None
        assert await repos.people.by_account("teams", TENANT, "29:dora") is None
    # The button as it was given to her still works.
    status, answer = await teams.execute("29:cia", umea["data"], personal=True)
    assert "Welcome to Grupp 1" in texts(answer["value"])


# ---------------------------------------------------------------- cards that change once used


async def refreshed(teams: Teams, user: str, refresh: dict[str, Any]) -> dict[str, Any]:
    """The card a person's Teams client is given when it refreshes a channel card."""
    body = teams.activity(
        user,
        kind="invoke",
        name="adaptiveCard/action",
        value={"action": {**refresh["action"], "id": ""}, "trigger": "automatic"},
    )
    body["replyToId"] = "channel-card"
    marks, calls = await teams.count(ProcessedEvent), len(teams.connector.calls)
    status, answer = await teams.invoke(body)
    assert status == 200
    # A look changes nothing: no mark stored, nothing sent to anyone.
    assert await teams.count(ProcessedEvent) == marks
    assert len(teams.connector.calls) == calls
    assert answer["type"] == "application/vnd.microsoft.card.adaptive"
    card: dict[str, Any] = answer["value"]
    check_card(card)
    return card


async def test_the_theme_post_shows_each_participant_their_part(teams: Teams) -> None:
    root = await start_theme(teams)
    post = teams.connector.cards(CHANNEL)[-1]
    assert sorted(post["refresh"]["userIds"]) == ["29:anna", "29:bjorn", "29:fia"]
    assert "Your part" not in texts(await refreshed(teams, "29:anna", post["refresh"]))
    reply = teams.activity("29:anna", text="Vi provade det i kommunen.", thread=root)
    assert await teams.send(reply) == 200
    anna = await refreshed(teams, "29:anna", post["refresh"])
    assert "You have written a reflection on this theme." in texts(anna)
    # The post itself, and its buttons, are all still there for her.
    assert post["body"][0]["text"] in texts(anna)
    assert [b["title"] for b in buttons(anna)] == [b["title"] for b in buttons(post)]
    assert "Your part" not in texts(await refreshed(teams, "29:bjorn", post["refresh"]))


async def test_the_quiz_card_in_the_channel_shows_each_person_their_own_state(
    teams: Teams,
) -> None:
    """One card in the channel for everyone; each person's Teams client fetches their own
    view of it (Universal Actions `refresh`): how far they are, and their result."""
    await start_theme(teams)
    await teams.say("29:fia", "quiz start 1")
    posted = teams.connector.cards(CHANNEL)[-1]
    refresh = posted["refresh"]
    # The cohort's Teams members are the ones whose clients fetch their own view.
    assert sorted(refresh["userIds"]) == ["29:anna", "29:bjorn", "29:fia"]
    assert refresh["action"]["type"] == "Action.Execute"

    def asked(user: str) -> dict[str, Any]:
        body = teams.activity(
            user,
            kind="invoke",
            name="adaptiveCard/action",
            value={"action": {**refresh["action"], "id": ""}, "trigger": "automatic"},
        )
        body["replyToId"] = "quiz-card"
        return body

    async def view(user: str) -> dict[str, Any]:
        status, answer = await teams.invoke(asked(user))
        assert status == 200
        assert answer["type"] == "application/vnd.microsoft.card.adaptive"
        card: dict[str, Any] = answer["value"]
        check_card(card)
        return card

    # Like every activity, a refresh is taken only when Microsoft signed it.
    assert await teams.send(asked("29:anna"), token=None) == 401
    before = len(teams.connector.calls)
    untouched = await view("29:anna")
    assert "Take the quiz" in texts(untouched)  # nothing answered: the card as posted
    [begin] = buttons(posted)
    await teams.execute("29:anna", begin["data"])
    question = teams.connector.cards("a:29:anna")[-1]
    _, answered = await teams.execute("29:anna", buttons(question)[0]["data"], personal=True)
    question = answered["value"]  # the card clicked: its answer, and the next question
    mine = await view("29:anna")
    assert "You have answered 1 of" in texts(mine)
    assert [b["title"] for b in buttons(mine)] == ["Continue the quiz"]
    # Her view stays hers, and is fetched again for her alone.
    assert mine["refresh"]["userIds"] == ["29:anna"]
    assert "Take the quiz" in texts(await view("29:bjorn"))
    while buttons(question):
        _, answered = await teams.execute("29:anna", buttons(question)[0]["data"], personal=True)
        question = answered["value"]
    done = await view("29:anna")
    assert "questions correctly in the quiz for theme 1" in texts(done) and not buttons(done)
    # Looking changed nothing: no message to the channel, and the card posted is everyone's.
    views = [c for c in teams.connector.calls[before:] if c.conversation_id == CHANNEL]
    assert views == []
    cohort = await cohort_id(teams)
    async with teams.store.transaction() as repos:
        bjorn = await repos.people.by_account("teams", TENANT, "29:bjorn")
        assert bjorn is not None
        assert await repos.quizzes.answers(cohort, bjorn.id, 1) == []


async def test_an_answered_question_becomes_its_answer_and_the_next_question(
    teams: Teams,
) -> None:
    await start_theme(teams)
    await teams.say("29:fia", "quiz start 1")
    [begin] = buttons(teams.connector.cards(CHANNEL)[-1])
    # In the channel the card is everyone's: a line says where the question went.
    status, answer = await teams.execute("29:anna", begin["data"])
    assert status == 200
    assert answer["type"] == "application/vnd.microsoft.activity.message"
    assert answer["value"] == "The question is in your chat with Digilog."
    question = teams.connector.cards("a:29:anna")[-1]
    assert "Question 1" in texts(question)
    posted = len(teams.connector.cards("a:29:anna"))
    status, answer = await teams.execute(
        "29:anna", buttons(question)[0]["data"], personal=True, card_id="question-1"
    )
    # The card clicked goes on, as Slack's private question does: the answer (its
    # buttons gone), and below it the next question with its own.
    replaced = answer["value"]
    assert answer["type"] == "application/vnd.microsoft.card.adaptive"
    check_card(replaced)
    assert ("Right!" in texts(replaced)) or ("Not quite" in texts(replaced))
    assert "Question 2" in texts(replaced)
    assert buttons(replaced) and all(":1:" in b["data"]["action_id"] for b in buttons(replaced))
    # And the message itself becomes that card, so it stays so after a reload: one call,
    # and no new card in the chat.
    [kept] = [c for c in teams.connector.calls if c.method == "PUT"]
    assert kept.path.endswith("/activities/question-1") and kept.conversation_id == "a:29:anna"
    assert kept.body["attachments"][0]["content"] == replaced
    assert len(teams.connector.cards("a:29:anna")) == posted
    # To the end: the last answer and the result, no button left.
    while buttons(replaced):
        _, answer = await teams.execute(
            "29:anna", buttons(replaced)[0]["data"], personal=True, card_id="question-1"
        )
        replaced = answer["value"]
    assert "Your result" in texts(replaced)
    assert len(teams.connector.cards("a:29:anna")) == posted


async def test_a_submitted_form_shows_what_was_saved_and_cannot_be_sent_again(
    teams: Teams,
) -> None:
    await start_theme(teams)
    await teams.say("29:fia", "survey open 1")
    [answer_button] = buttons(teams.connector.cards(CHANNEL)[-1])
    status, answer = await teams.execute("29:anna", answer_button["data"])
    assert answer["value"] == "The form is in your chat with Digilog."
    form = teams.connector.cards("a:29:anna")[-1]
    [submit] = buttons(form)
    value = {**submit["data"], "useful": "4", "buddy": "5", "comment": "Bra tema"}
    status, answer = await teams.execute("29:anna", value, personal=True)
    assert status == 200 and answer["type"] == "application/vnd.microsoft.card.adaptive"
    saved = answer["value"]
    assert "are saved" in texts(saved) and "Bra tema" in texts(saved)
    assert not buttons(saved) and not [e for e in saved["body"] if "Input" in e["type"]]


# ---------------------------------------------------------------- home, time zone


async def test_home_and_the_first_opening_of_the_personal_chat_show_the_journey(
    teams: Teams,
) -> None:
    await start_theme(teams)
    installed = teams.activity("29:anna", kind="installationUpdate", action="add", personal=True)
    assert await teams.send(installed) == 200
    [greeting] = teams.connector.cards("a:29:anna")
    assert "Grupp 1" in texts(greeting) and "Now: theme 1" in texts(greeting)
    assert await teams.send(teams.activity("29:anna", text="home", personal=True)) == 200
    assert texts(teams.connector.cards("a:29:anna")[-1]) == texts(greeting)
    # The Swedish word too, as the Swedish command menu's reader would write it.
    assert await teams.send(teams.activity("29:anna", text="Hem", personal=True)) == 200
    assert texts(teams.connector.cards("a:29:anna")[-1]) == texts(greeting)

    # Where Teams tells of the opening as a conversationUpdate (the bot added to the chat),
    # the same greeting; someone else added to a chat is no opening of Digilog's.
    opened = teams.activity(
        "29:bjorn",
        kind="conversationUpdate",
        personal=True,
        membersAdded=[{"id": BOT}],
    )
    assert await teams.send(opened) == 200
    [bjorns] = teams.connector.cards("a:29:bjorn")
    assert "Now: theme 1" in texts(bjorns)
    other = teams.activity(
        "29:bjorn", kind="conversationUpdate", personal=True, membersAdded=[{"id": "29:bjorn"}]
    )
    assert await teams.send(other) == 200
    assert len(teams.connector.cards("a:29:bjorn")) == 1


async def test_a_new_personal_chat_is_greeted_once_though_teams_tells_of_it_twice(
    teams: Teams,
) -> None:
    # The Agents Playground (and Teams) send both an installationUpdate and a
    # conversationUpdate that adds the bot; either may reach any process.
    installed = teams.activity("29:anna", kind="installationUpdate", action="add", personal=True)
    opened = teams.activity(
        "29:anna", kind="conversationUpdate", personal=True, membersAdded=[{"id": BOT}]
    )
    assert await teams.send(installed) == 200
    assert await teams.send(opened) == 200
    assert len(teams.connector.cards("a:29:anna")) == 1
    # Another person's chat is greeted all the same.
    assert await teams.send(
        teams.activity("29:bjorn", kind="installationUpdate", action="add", personal=True)
    )
    assert len(teams.connector.cards("a:29:bjorn")) == 1


async def test_times_are_in_the_teams_clients_zone_until_the_person_sets_one(
    teams: Teams,
) -> None:
    asked = teams.activity("29:anna", text="timezone", personal=True)
    asked["localTimezone"] = "America/New_York"
    assert await teams.send(asked) == 200
    assert r"America/New\_York" in texts(teams.connector.cards("a:29:anna")[-1])
    await teams.send(teams.activity("29:anna", text="timezone Europe/Helsinki", personal=True))
    again = teams.activity("29:anna", text="timezone", personal=True)
    again["localTimezone"] = "America/New_York"
    await teams.send(again)
    assert "Europe/Helsinki" in texts(teams.connector.cards("a:29:anna")[-1])


# ---------------------------------------------------------------- files


async def test_an_export_arrives_through_the_file_consent_flow(teams: Teams) -> None:
    await start_theme(teams)
    assert await teams.send(teams.activity("29:fia", text="export csv", personal=True)) == 200
    [offer] = teams.file_offers("29:fia")
    assert offer["name"].endswith(".csv") and offer["content"]["sizeInBytes"] > 0
    async with teams.store.transaction() as repos:
        [kept] = (await repos.session.scalars(select(OfferedFile))).all()
        content = bytes(kept.content)

    # Someone else cannot take it with the same context.
    assert (await teams.invoke(teams.accepting("29:anna", offer, "stolen.csv")))[0] == 200
    assert teams.connector.uploads == {}

    accepted = teams.accepting("29:fia", offer)
    status, _ = await teams.invoke(accepted)
    assert status == 200
    assert teams.connector.uploads == {offer["name"]: content}
    info = teams.connector.posted("a:29:fia")[-1]["attachments"][0]
    assert info["contentType"] == "application/vnd.microsoft.teams.card.file.info"
    assert info["name"] == offer["name"] and info["content"]["uniqueId"]
    assert await teams.count(OfferedFile) == 0  # sent once, and not kept

    # Accepting again sends nothing twice.
    await teams.invoke(accepted)
    assert len(teams.connector.uploads) == 1


async def test_add_to_my_calendar_offers_the_sessions_ics_in_teams(teams: Teams) -> None:
    """The button Slack answers with an .ics file gives the same file in Teams, through
    the consent flow, instead of a refusal that names a command."""
    assert await teams.send(teams.activity("29:anna", text="labs", personal=True)) == 200
    catalogue = teams.connector.cards("a:29:anna")[-1]
    signup = next(b for b in buttons(catalogue) if ":signup:" in b["data"]["action_id"])
    status, seat = await teams.execute("29:anna", signup["data"], personal=True)
    assert "You have a seat" in texts(seat["value"])
    [add] = buttons(seat["value"])
    assert add["title"] == "Add to my calendar"
    status, answer = await teams.execute("29:anna", add["data"], personal=True)
    assert status == 200 and answer["value"] == "The file is offered in your chat with Digilog."
    [offer] = teams.file_offers("29:anna")
    assert offer["name"].endswith(".ics") and offer["content"]["sizeInBytes"] > 0
    async with teams.store.transaction() as repos:
        [kept] = (await repos.session.scalars(select(OfferedFile))).all()
    assert bytes(kept.content).startswith(b"BEGIN:VCALENDAR")


async def test_a_file_never_accepted_goes_when_its_person_is_erased(teams: Teams) -> None:
    assert await teams.send(teams.activity("29:anna", text="mydata", personal=True)) == 200
    assert await teams.count(OfferedFile) == 1
    assert await teams.send(teams.activity("29:anna", text="forget", personal=True)) == 200
    [erase_all] = [
        b["data"]
        for card in teams.connector.cards("a:29:anna")
        for b in buttons(card)
        if b["data"]["action_id"].endswith(":all")
    ]
    status, _ = await teams.execute("29:anna", erase_all, personal=True)
    assert status == 200
    assert await teams.count(OfferedFile) == 0


# ---------------------------------------------------------------- buddies, the unreachable


async def test_buddies_meet_in_a_channel_thread_and_the_unreachable_are_counted(
    teams: Teams,
) -> None:
    rows = [
        RosterRow(1, "Cia Carlsson", None, "29:cia", "umea", Role.participant),
        RosterRow(2, "Dan Dahl", None, "29:dan", "pitea", Role.participant),
    ]
    await import_roster(teams.store, "grupp-1", rows, skip_bad=False)
    cohort = await cohort_id(teams)
    async with teams.store.transaction() as repos:
        for user in ("29:anna", "29:bjorn"):  # both opted out, so they are told so each
            person = await repos.people.by_account("teams", TENANT, user)
            assert person is not None
            await repos.buddies.set_opt_out(cohort, person.id, True)
    teams.connector.unreachable.add("29:anna")  # she never opened Digilog in Teams

    await teams.say("29:fia", "pair 1")
    [announce] = buttons(teams.connector.cards("a:29:fia")[-1])
    await teams.execute("29:fia", announce["data"], personal=True)

    [thread] = [p for p in teams.connector.posted(CHANNEL) if p.get("entities")]
    named = {e["mentioned"]["id"] for e in thread["entities"]}
    assert named == {"29:cia", "29:dan"}
    assert all(e["text"] in thread["text"] for e in thread["entities"])
    card = thread["attachments"][0]["content"]
    assert "Reflection task" in texts(card)
    assert [b["title"] for b in buttons(card)] == ["We met"]
    # Björn hears he is not paired; Anna cannot be reached, and Fia is told so, truly.
    assert "not paired" in texts(teams.connector.cards("a:29:bjorn")[-1])
    note = texts(teams.connector.cards("a:29:fia")[-1])
    assert "Not reached in Teams: 1 of 2 people (Anna Lindqvist)" in note
    async with teams.store.transaction() as repos:
        anna = await repos.people.by_account("teams", TENANT, "29:anna")
    assert anna is not None and anna.unreachable_since is not None


# ---------------------------------------------------------------- save a message


def save_action(teams: Teams, user: str, author: str, message_id: str, **payload: Any) -> Any:
    """ "Save to Digilog" from a channel message's menu, as Teams sends it."""
    return teams.activity(
        user,
        kind="invoke",
        name="composeExtension/fetchTask",
        value={
            "commandId": "saveToBank",
            "commandContext": "message",
            "messagePayload": {
                "id": message_id,
                "from": {"user": {"id": f"aad-{author}", "displayName": author}},
                "body": {"contentType": "html", "content": payload.pop("html")},
                **payload,
            },
        },
    )


async def test_a_message_of_ones_own_is_saved_to_the_bank_from_its_menu(teams: Teams) -> None:
    root = await start_theme(teams)
    # The Swedish dictionary loads in the background as a process starts; a process that
    # has just started answers "on it" instead, and this test is about the answer.
    await asyncio.to_thread(LEXICON.lemma, "")
    status, answer = await teams.invoke(
        save_action(teams, "29:anna", "29:anna", "m-1", html="<p>Vi har <b>börjat</b>.</p>")
    )
    assert status == 200
    assert answer["task"]["type"] == "message"
    assert answer["task"]["value"].startswith("Saved in the reflection bank as #")
    # In a theme's thread it is that theme's; someone else's message is not one's to save.
    thread_reply = save_action(
        teams, "29:anna", "29:anna", "m-2", html="<p>Och <at>Björn</at> med.</p>", replyToId=root
    )
    assert (await teams.invoke(thread_reply))[0] == 200
    _, refused = await teams.invoke(save_action(teams, "29:bjorn", "29:anna", "m-3", html="Hej"))
    assert refused["task"]["value"] == "You can only save messages that you wrote yourself."
    async with teams.store.transaction() as repos:
        saved = (await repos.session.scalars(select(Reflection).order_by(Reflection.id))).all()
    assert [(r.body, r.theme_number, r.source.value) for r in saved] == [
        ("Vi har börjat.", 1, "saved_message"),  # the theme under way
        ("Och @Björn med.", 1, "saved_message"),
    ]
    # Saving it again adds nothing.
    _, again = await teams.invoke(
        save_action(teams, "29:anna", "29:anna", "m-1", html="<p>Vi har börjat.</p>")
    )
    assert "already in the reflection bank" in again["task"]["value"]
    assert await teams.count(Reflection) == 2
    # Another app's command, or a payload that is not one: a line, and nothing saved.
    for value in ({"commandId": "other"}, {"commandId": "saveToBank", "messagePayload": "x"}):
        odd = teams.activity("29:anna", kind="invoke", name="composeExtension/fetchTask")
        odd["value"] = value
        status, said = await teams.invoke(odd)
        assert status == 200 and said["task"]["value"] == "That is not something Digilog saves."
    assert await teams.count(Reflection) == 2
