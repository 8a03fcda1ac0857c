"""One cohort, two platforms: a Slack channel and a Teams channel, served by one `digilog
serve`. Theme 1 runs in both: the post reaches both channels, each thread is the
digilog there, the bank holds both, and a buddy pair across platforms meets."""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.web import WORK
from handlers.admin import add_channel, import_roster
from handlers.core.programme_file import Programme
from handlers.core.roster import RosterRow
from storage.models import BuddyMember, QuizAnswer, Reflection, Role, ThemePost, ThemeRun
from storage.unit import Store
from tests import slack_payloads as p
from tests.servers import serve, serve_settings
from tests.slack_fake import FakeSlack
from tests.teams_fake import APP_ID, BOT, TENANT, FakeConnector
from tests.test_slack_scenarios import Slack, buttons, slack_cohort
from tests.test_teams_scenarios import SIGNER, Teams, actions, texts

SLACK_CHANNEL = "C_COHORT"
TEAMS_CHANNEL = "19:grupp1@thread.tacv2"  # the Teams helpers' channel


@dataclass
class Both:
    slack: Slack
    teams: Teams
    store: Store


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 15) -> None:
    """The outbox's sender runs in the serve process, polling every 0.1 s here."""
    for _ in range(int(seconds * 10)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("it did not happen in time")


@pytest.fixture
async def both(
    database_url: str, store: Store, programme: Programme, tmp_path: Path
) -> AsyncIterator[Both]:
    await slack_cohort(store, programme, language="en", self_enrol=True)
    await add_channel(store, "grupp-1", "teams", TENANT, TEAMS_CHANNEL)
    rows = [
        RosterRow(1, "Fia Facilitator", None, "U_FIA", "region-vasterbotten", Role.facilitator),
        RosterRow(2, "Anna Lindqvist", "anna@umea.se", "U_ANNA", "umea", Role.participant),
    ]
    await import_roster(store, "grupp-1", rows, skip_bad=False)
    connector = FakeConnector(APP_ID, "app-secret")
    async with FakeSlack() as fake, connector.running(), aiohttp.ClientSession() as http:
        for user, name in (("U_FIA", "Fia Facilitator"), ("U_ANNA", "Anna Lindqvist")):
            fake.users[user] = {"real_name": name, "display_name": name, "locale": "en-GB"}
        settings = serve_settings(
            database_url,
            tmp_path,
            slack=fake,
            teams=connector,
            sender_poll_seconds=0.1,
            schedule_sweep_seconds=3600,
        )
        async with serve(settings) as server:
            with SIGNER.serving_keys():
                yield Both(
                    Slack(
                        fake,
                        str(server.make_url("/slack/events")),
                        http,
                        store,
                        server.app[WORK].drained,
                    ),
                    Teams(
                        connector,
                        SIGNER,
                        str(server.make_url("/api/messages")),
                        http,
                        store,
                        server.app[WORK].drained,
                    ),
                    store,
                )
            await server.app[WORK].drained()


async def test_theme_one_runs_in_a_slack_and_a_teams_channel_at_once(both: Both) -> None:
    slack, teams, store = both.slack, both.teams, both.store
    # Björn works in Teams: he joins from the cohort's Teams channel.
    assert await teams.say("29:bjorn", "join pitea") == 200

    # The facilitator starts theme 1 in Slack: Slack's channel gets it at once, Teams'
    # through the outbox, and each post's id is kept as its channel's thread root.
    await slack.command("theme start 1", "U_FIA")
    await slack.fake.wait_for("chat.postMessage")
    await eventually(lambda: _has(teams.connector.posted(TEAMS_CHANNEL)))
    [teams_post] = teams.connector.cards(TEAMS_CHANNEL)
    assert "Why there is such a focus on digital transformation" in texts(teams_post)

    async def root_kept() -> bool:  # the sender records it once Teams has answered
        async with store.transaction() as repos:
            return bool((await repos.session.scalars(select(ThemePost))).all())

    await eventually(root_kept)
    async with store.transaction() as repos:
        [run] = (await repos.session.scalars(select(ThemeRun))).all()
        [teams_root] = (await repos.session.scalars(select(ThemePost))).all()
    assert run.post_message_id is not None

    # A reply in each thread goes into the one bank, with its theme.
    slack_reply = p.message_event(
        "I Umeå har vi börjat.", user="U_ANNA", channel=SLACK_CHANNEL, thread_ts=run.post_message_id
    )
    await slack.send(slack_reply)
    teams_reply = teams.activity("29:bjorn", text="I Piteå också.", thread=teams_root.message_id)
    assert await teams.send(teams_reply) == 200

    async def both_in_bank() -> bool:
        async with store.transaction() as repos:
            found = (await repos.session.scalars(select(Reflection))).all()
        return sorted((r.body, r.theme_number) for r in found) == [
            ("I Piteå också.", 1),
            ("I Umeå har vi börjat.", 1),
        ]

    await eventually(both_in_bank)

    # The quiz opens in both channels; Björn takes it in his chat with Digilog in Teams.
    await slack.command("quiz start 1", "U_FIA")
    await eventually(lambda: _has(teams.connector.cards(TEAMS_CHANNEL)[1:]))
    [begin] = [a for a in actions(teams.connector.cards(TEAMS_CHANNEL)[-1]) if "data" in a]
    assert await teams.click("29:bjorn", begin["data"]) == 200
    question = teams.connector.cards("a:29:bjorn")[-1]
    first = next(a for a in actions(question) if "data" in a)
    assert await teams.click("29:bjorn", first["data"]) == 200
    async with store.transaction() as repos:
        assert len((await repos.session.scalars(select(QuizAnswer))).all()) == 1

    # Buddies across platforms: each gets the introduction where they are, with the
    # other's name, organisation and (where known) e-mail address.
    [preview] = await slack.command("pair 1 --seed 5", "U_FIA", name="pair")
    [announce] = buttons(preview.params["blocks"])
    url = slack.fake.response_url("announce")
    await slack.send(
        p.block_action(announce["action_id"], announce["value"], user="U_FIA", response_url=url)
    )
    await eventually(lambda: _has(_intros(teams.connector.cards("a:29:bjorn"))))
    [intro] = _intros(teams.connector.cards("a:29:bjorn"))
    assert "Anna Lindqvist (Umeå Municipality, anna@umea.se)" in texts(intro)
    opened = await slack.fake.wait_for("conversations.open")
    assert any("U_ANNA" in str(call.params.get("users")) for call in opened)


async def _has(found: list[object]) -> bool:
    return bool(found)


def _intros(cards: list[dict[str, object]]) -> list[dict[str, object]]:
    return [c for c in cards if "Your learning buddies" in texts(c)]


async def test_a_whole_theme_with_files_buddies_and_the_quiz_in_slack_and_teams(
    both: Both, programme: Programme
) -> None:
    """Issue 17's yardstick: the Teams half of a mixed cohort does all the Slack half does,
    each in its own client: join, the digilog, the quiz to its end, buddies, files."""
    slack, teams, store = both.slack, both.teams, both.store
    slack.fake.users["U_EVA"] = {"real_name": "Eva Ek", "display_name": "Eva Ek"}
    await import_roster(
        store,
        "grupp-1",
        [RosterRow(3, "Eva Ek", None, "U_EVA", "pitea", Role.participant)],
        skip_bad=False,
    )
    async with store.transaction() as repos:
        cohort = await repos.cohorts.by_key("grupp-1")
        assert cohort is not None
        region = await repos.programs.find_organisation(cohort.program_id, "region-vasterbotten")
        assert region is not None
        fia = await repos.people.find_or_add(
            "teams", TENANT, user_id="29:fia", email=None, display_name="Fia Facilitator"
        )
        await repos.people.enrol(cohort.id, fia.id, region.id, Role.facilitator)

    # Björn joins by button: asked in the Teams channel, pressed in his own chat.
    assert await teams.say("29:bjorn", "join") == 200
    offer = teams.connector.cards("a:29:bjorn")[-1]
    [pitea] = [
        a for a in actions(offer) if a.get("data", {}).get("action_id", "").endswith(":pitea")
    ]
    status, joined = await teams.execute("29:bjorn", pitea["data"], personal=True)
    assert status == 200 and "Welcome to Grupp 1" in texts(joined["value"])
    assert await teams.say("29:cia", "join umea") == 200

    # The facilitator in Teams starts theme 1: both channels get it.
    assert await teams.say("29:fia", "theme start 1") == 200
    await slack.fake.wait_for("chat.postMessage")

    async def roots() -> bool:
        async with store.transaction() as repos:
            [run] = (await repos.session.scalars(select(ThemeRun))).all()
            posts = (await repos.session.scalars(select(ThemePost))).all()
        return run.post_message_id is not None and len(posts) == 1

    await eventually(roots)
    async with store.transaction() as repos:
        [run] = (await repos.session.scalars(select(ThemeRun))).all()
        [teams_root] = (await repos.session.scalars(select(ThemePost))).all()

    # The digilog: a Slack reply, and a Teams reply that reaches Digilog by @mention.
    await slack.send(
        p.message_event(
            "I Umeå har vi börjat.",
            user="U_ANNA",
            channel=SLACK_CHANNEL,
            thread_ts=run.post_message_id,
        )
    )
    reply = teams.activity("29:bjorn", thread=teams_root.message_id)
    reply["text"] = "<at>Digilog</at> I Piteå har <at>Cia</at> börjat."
    reply["entities"] = [
        {
            "type": "mention",
            "mentioned": {"id": BOT, "name": "Digilog"},
            "text": "<at>Digilog</at>",
        },
        {"type": "mention", "mentioned": {"id": "29:cia", "name": "Cia"}, "text": "<at>Cia</at>"},
    ]
    assert await teams.send(reply) == 200

    async def both_in_bank() -> bool:
        async with store.transaction() as repos:
            found = (await repos.session.scalars(select(Reflection))).all()
        return sorted((r.body, r.theme_number) for r in found) == [
            ("I Piteå har @Cia börjat.", 1),
            ("I Umeå har vi börjat.", 1),
        ]

    await eventually(both_in_bank)

    # The quiz: Björn and Cia take it to its end in their chats with Digilog.
    quiz = programme.themes[0].quiz
    assert quiz is not None
    assert await teams.say("29:fia", "quiz start 1") == 200
    [begin] = [a for a in actions(teams.connector.cards(TEAMS_CHANNEL)[-1]) if "data" in a]
    for user in ("29:bjorn", "29:cia"):
        status, line = await teams.execute(user, begin["data"])
        assert line["value"] == "The question is in your chat with Digilog."
        # One card goes on in the chat: each answer above the next question.
        question = teams.connector.cards(f"a:{user}")[-1]
        for n in range(len(quiz.questions)):
            assert f"Question {n + 1}" in texts(question)
            first = next(a for a in actions(question) if "data" in a)
            status, answered = await teams.execute(user, first["data"], personal=True)
            assert status == 200
            question = answered["value"]
        assert "Your result" in texts(question)
        assert not [a for a in actions(question) if "data" in a]
    async with store.transaction() as repos:
        answers = (await repos.session.scalars(select(QuizAnswer))).all()
    assert len(answers) == 2 * len(quiz.questions)

    # Buddies, announced from Teams: Teams buddies meet in a thread of the Teams channel
    # that @mentions them; Slack buddies get the introduction in Slack.
    assert await teams.say("29:fia", "pair 1 --seed 5") == 200
    [announce] = [a for a in actions(teams.connector.cards("a:29:fia")[-1]) if "data" in a]
    assert await teams.click("29:fia", announce["data"], personal=True) == 200
    threads = [a for a in teams.connector.posted(TEAMS_CHANNEL) if a.get("entities")]
    mentioned = {e["mentioned"]["id"] for a in threads for e in a["entities"]}
    assert mentioned == {"29:bjorn", "29:cia"}

    async def slack_buddies_told() -> bool:
        told = {
            str(call.params.get("channel"))
            for call in slack.fake.calls_to("chat.postMessage")
            if "learning buddies" in str(call.params.get("blocks"))
        }
        return {"U_ANNA", "U_EVA"} <= told

    await eventually(slack_buddies_told)
    card = next(
        a["attachments"][0]["content"]
        for a in threads
        if "29:bjorn" in {e["mentioned"]["id"] for e in a["entities"]}
    )
    [we_met] = [a for a in actions(card) if "data" in a]
    assert await teams.click("29:bjorn", we_met["data"]) == 200
    async with store.transaction() as repos:
        bjorn = await repos.people.by_account("teams", TENANT, "29:bjorn")
        assert bjorn is not None
        met = await repos.session.scalar(
            select(BuddyMember.met_at).where(BuddyMember.person_id == bjorn.id)
        )
    assert met is not None

    # Files: Björn's own data through Teams' file consent, into his OneDrive; the
    # facilitator's export in Slack as a Slack file.
    assert await teams.send(teams.activity("29:bjorn", text="mydata", personal=True)) == 200
    [consent] = teams.file_offers("29:bjorn")
    assert (await teams.invoke(teams.accepting("29:bjorn", consent)))[0] == 200
    await eventually(lambda: _has(list(teams.connector.uploads)))
    with zipfile.ZipFile(io.BytesIO(teams.connector.uploads[consent["name"]])) as archive:
        assert "I Piteå har @Cia börjat." in archive.read("data.json").decode("utf-8")
    await slack.send(
        p.slash_command("export csv", user="U_FIA", response_url=slack.fake.response_url("fia"))
    )
    [done] = await slack.fake.wait_for("files.completeUploadExternal")
    assert done.params["channel_id"] == "DU_FIA"
