"""Teams end to end: real-shaped activities posted to `digilog serve`'s /api/messages, signed
as Microsoft signs them, and what the fake Bot Connector received and the database holds."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from bot.settings import Settings
from bot.web import WORK
from handlers.admin import import_roster
from handlers.core.i18n import translator
from handlers.core.programme_file import Programme
from handlers.core.roster import RosterRow
from storage.models import ProcessedEvent, QuizAnswer, Reflection, Role, ThemeRun
from storage.unit import Store
from tests.conftest import ROOT
from tests.servers import serve, serve_settings
from tests.teams_fake import (
    APP_ID,
    BOT,
    CHANNEL,
    PEOPLE,
    TENANT,
    FakeConnector,
    Signer,
    teams_cohort,
)

# shared/ lies beside the project (CI's layout); DIGILOG_SHARED says where when it does not
# (a worktree kept elsewhere).
SHARED = Path(os.environ.get("DIGILOG_SHARED") or ROOT.parent / "shared")
CARD_SCHEMA = SHARED / "schemas" / "adaptive-card-1.5.json"
_ids = itertools.count(1)
# Microsoft's signing keys stay the same for days; the SDK keeps them for the whole process.
SIGNER = Signer()


@dataclass
class Teams:
    connector: FakeConnector
    signer: Signer
    url: str
    http: aiohttp.ClientSession
    store: Store
    # Until what was acked has been handled: Digilog answers first, then does the work.
    drained: Callable[[], Awaitable[None]] | None = None
    # False for a server in anonymous mode (another process, which cannot fetch our keys).
    signed: bool = True

    def activity(
        self,
        user: str,
        *,
        kind: str = "message",
        text: str | None = None,
        thread: str | None = None,
        personal: bool = False,
        mention_bot: bool = False,
        activity_id: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """An activity as Teams sends it, from one of PEOPLE."""
        name = {u: n for u, n, _, _ in PEOPLE}.get(user, user)
        conversation: dict[str, Any] = (
            {"id": f"a:{user}", "conversationType": "personal", "tenantId": TENANT}
            if personal
            else {
                "id": CHANNEL + (f";messageid={thread}" if thread else ""),
                "conversationType": "channel",
                "isGroup": True,
                "tenantId": TENANT,
            }
        )
        body: dict[str, Any] = {
            "type": kind,
            "id": activity_id or f"{next(_ids)}",
            "channelId": "msteams",
            "serviceUrl": self.connector.service_url,
            "from": {"id": user, "name": name, "aadObjectId": f"aad-{user}"},
            "recipient": {"id": BOT, "name": "Digilog"},
            "conversation": conversation,
            "locale": "en-GB",
            "channelData": {"tenant": {"id": TENANT}}
            | ({} if personal else {"team": {"id": "19:team@thread.tacv2"}}),
            **extra,
        }
        if text is not None:
            body["text"] = f"<at>Digilog</at> {text}" if mention_bot else f"<p>{text}</p>"
        if mention_bot:
            body["entities"] = [
                {
                    "type": "mention",
                    "mentioned": {"id": BOT, "name": "Digilog"},
                    "text": "<at>Digilog</at>",
                }
            ]
        return body

    def file_offers(self, user: str) -> list[dict[str, Any]]:
        """The file consent cards posted to a person's chat with Digilog."""
        return [
            a
            for activity in self.connector.posted(f"a:{user}")
            for a in activity.get("attachments", [])
            if a["contentType"] == "application/vnd.microsoft.teams.card.file.consent"
        ]

    def accepting(
        self, user: str, offer: dict[str, Any], upload_name: str | None = None
    ) -> dict[str, Any]:
        """`user` allowing a file consent card: Teams' invoke, with where the upload goes."""
        return self.activity(
            user,
            kind="invoke",
            name="fileConsent/invoke",
            personal=True,
            value={
                "type": "fileUpload",
                "action": "accept",
                "context": offer["content"]["acceptContext"],
                "uploadInfo": self.connector.upload_info(upload_name or offer["name"]),
            },
        )

    async def send(self, body: dict[str, Any], token: str | None = "good") -> int:
        headers = {}
        if token == "good":
            token = self.token() if self.signed else None
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        async with self.http.post(self.url, json=body, headers=headers) as response:
            await response.read()
        if self.drained is not None:
            await self.drained()
        return response.status

    def token(self) -> str:
        return self.signer.token(audience=APP_ID, service_url=self.connector.service_url)

    async def say(self, user: str, text: str, **where: Any) -> int:
        return await self.send(self.activity(user, text=text, mention_bot=True, **where))

    async def click(
        self,
        user: str,
        data: dict[str, Any],
        activity_id: str | None = None,
        *,
        personal: bool = False,
    ) -> int:
        """An Action.Execute on a card: an `adaptiveCard/action` invoke."""
        status, _ = await self.execute(user, data, activity_id, personal=personal)
        return status

    async def execute(
        self,
        user: str,
        data: dict[str, Any],
        activity_id: str | None = None,
        *,
        personal: bool = False,
        card_id: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """An Action.Execute, and the invoke's answer: the card Teams shows in place of the
        one clicked, or the line it shows. `card_id` is the clicked card's message."""
        value = {"action": {"type": "Action.Execute", "verb": "digilog", "data": data}}
        body = self.activity(
            user,
            kind="invoke",
            name="adaptiveCard/action",
            value=value,
            activity_id=activity_id,
            personal=personal,
        )
        if card_id is not None:
            body["replyToId"] = card_id
        return await self.invoke(body)

    async def invoke(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {self.token()}"} if self.signed else {}
        async with self.http.post(self.url, json=body, headers=headers) as response:
            answer = await response.json(content_type=None)
        if self.drained is not None:
            await self.drained()
        return response.status, answer

    async def count(self, table: type) -> int:
        async with self.store.transaction() as repos:
            return (await repos.session.scalar(select(func.count()).select_from(table))) or 0


@pytest.fixture
async def teams(
    database_url: str, store: Store, programme: Programme, tmp_path: Path
) -> AsyncIterator[Teams]:
    await teams_cohort(store, programme)
    signer = SIGNER
    connector = FakeConnector(APP_ID, "app-secret")
    async with connector.running(), aiohttp.ClientSession() as http:
        settings = serve_settings(database_url, tmp_path, teams=connector)
        async with serve(settings) as server:
            with signer.serving_keys():
                url = str(server.make_url("/api/messages"))
                drained = server.app[WORK].drained
                yield Teams(connector, signer, url, http, store, drained)
            check_cards(connector)


def check_cards(connector: FakeConnector) -> None:
    """Every card the bot sent is an Adaptive Card 1.5 as Microsoft's schema defines it."""
    for card in connector.cards():
        check_card(card)


def check_card(card: dict[str, Any]) -> None:
    """The card is an Adaptive Card 1.5 as Microsoft's schema defines it."""
    if not CARD_SCHEMA.exists():
        pytest.skip(f"{CARD_SCHEMA} is missing: the cards were not checked against the schema")
    validator = jsonschema.Draft6Validator(json.loads(CARD_SCHEMA.read_text(encoding="utf-8")))
    validator.validate(card)


def texts(card: dict[str, Any]) -> str:
    """All the text a card shows, and its buttons' titles."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("text", "title", "value", "label"):
                if isinstance(node.get(key), str):
                    found.append(node[key])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return "\n".join(found)


def actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    """The card's buttons (a `refresh` is no button: nobody sees it)."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if str(node.get("type", "")).startswith("Action."):
                found.append(node)
            for key, value in node.items():
                if key != "refresh":
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return found


# ---------------------------------------------------------------- who may call


async def test_only_activities_that_microsoft_signed_for_this_bot_are_taken(teams: Teams) -> None:
    body = teams.activity("29:fia", text="theme start 1", mention_bot=True)
    service = teams.connector.service_url
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    refused = {
        "no token": None,
        "not a JWT": "not-a-token",
        "forged signature": teams.signer.token(audience=APP_ID, service_url=service, key=other_key),
        "wrong audience": teams.signer.token(audience="someone-else", service_url=service),
        "wrong issuer": teams.signer.token(
            audience=APP_ID, service_url=service, issuer="https://sts.windows.net/evil/"
        ),
        "expired": teams.signer.token(audience=APP_ID, service_url=service, lifetime=-3600),
        "for another serviceUrl": teams.signer.token(
            audience=APP_ID, service_url="https://smba.trafficmanager.net/other/"
        ),
    }
    for why, token in refused.items():
        assert await teams.send(body, token=token) == 401, why
    assert teams.connector.calls == []
    assert await teams.count(ThemeRun) == 0 and await teams.count(ProcessedEvent) == 0
    # The key set was asked of Microsoft's addresses, nowhere else.
    microsoft = ("https://login.botframework.com/", "https://login.microsoftonline.com/")
    assert teams.signer.fetched
    assert all(u.startswith(microsoft) for u in teams.signer.fetched), teams.signer.fetched

    assert await teams.send(body) == 200
    assert await teams.count(ThemeRun) == 1


async def test_anonymous_mode_is_refused_unless_on_loopback(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, teams_anonymous=True, host="0.0.0.0")
    t = translator("en")
    assert any("127.0.0.1" in problem for problem in settings.teams_problems(t))
    local = Settings(_env_file=None, data_dir=tmp_path, teams_anonymous=True, host="127.0.0.1")
    assert local.teams_problems(t) == []


# ---------------------------------------------------------------- a theme in a channel


async def test_a_theme_runs_in_a_teams_channel(teams: Teams) -> None:
    assert await teams.say("29:fia", "theme start 1") == 200
    [post] = teams.connector.posted(CHANNEL)  # a new thread in the channel
    assert "Why there is such a focus on digital transformation" in texts(
        post["attachments"][0]["content"]
    )
    async with teams.store.transaction() as repos:
        cohort = await repos.cohorts.by_key("grupp-1")
        assert cohort is not None
        [run] = await repos.themes.started(cohort.id)
    root = run.post_message_id
    assert root is not None

    # A reply in the thread is a digilog post; an edit and a delete follow it.
    reply = teams.activity("29:anna", text="Vi har digitaliserat &amp; förändrat.", thread=root)
    assert await teams.send(reply) == 200
    assert await teams.send(reply) == 200  # Teams delivered it twice
    async with teams.store.transaction() as repos:
        [stored] = (await repos.session.scalars(select(Reflection))).all()
    assert stored.body == "Vi har digitaliserat & förändrat." and stored.theme_number == 1
    edited = teams.activity(
        "29:anna",
        kind="messageUpdate",
        text="Vi har förändrat arbetssätt.",
        thread=root,
        activity_id=reply["id"],
        channelData={"tenant": {"id": TENANT}, "eventType": "editMessage"},
    )
    assert await teams.send(edited) == 200
    async with teams.store.transaction() as repos:
        [stored] = (await repos.session.scalars(select(Reflection))).all()
    assert stored.body == "Vi har förändrat arbetssätt."
    deleted = teams.activity(
        "29:anna",
        kind="messageDelete",
        thread=root,
        activity_id=reply["id"],
        channelData={"tenant": {"id": TENANT}, "eventType": "softDeleteMessage"},
    )
    assert await teams.send(deleted) == 200
    assert await teams.count(Reflection) == 0

    # The quiz: a card in the channel; each person's questions come in their own chat.
    assert await teams.say("29:fia", "quiz start 1") == 200
    [begin] = [
        a for a in actions(teams.connector.cards(CHANNEL)[-1]) if a["type"] == "Action.Execute"
    ]
    assert await teams.click("29:anna", begin["data"]) == 200
    [question] = teams.connector.cards("a:29:anna")[-1:]
    assert "Question 1" in texts(question)
    first = next(a for a in actions(question) if a["type"] == "Action.Execute")
    assert await teams.click("29:anna", first["data"], activity_id="click-1") == 200
    assert await teams.click("29:anna", first["data"], activity_id="click-1") == 200  # again
    async with teams.store.transaction() as repos:
        answers = (await repos.session.scalars(select(QuizAnswer))).all()
    assert len(answers) == 1


async def test_help_in_a_personal_chat_and_a_refusal_for_a_participant(teams: Teams) -> None:
    assert await teams.send(teams.activity("29:anna", text="help", personal=True)) == 200
    [card] = teams.connector.cards("a:29:anna")
    assert "Digilog commands" in texts(card) and "theme start" not in texts(card)
    assert "@Digilog help join" in texts(card)  # a hint says it as it is typed in Teams
    assert await teams.say("29:anna", "theme start 1") == 200
    refusal = teams.connector.cards("a:29:anna")[-1]
    assert "Only a facilitator" in texts(refusal)
    assert await teams.count(ThemeRun) == 0


async def test_every_personal_chat_is_kept_when_many_write_at_once(teams: Teams) -> None:
    """Where each person's chat takes messages (for nudges later) is written for all the
    activities that come together, in one go: none of them is lost in it."""
    people = [user for user, _, _, _ in PEOPLE]
    # The first person twice: one statement may not write the same row twice.
    bodies = [teams.activity(user, text="help", personal=True) for user in [*people, people[0]]]
    statuses = await asyncio.gather(*(teams.send(body) for body in bodies))
    assert set(statuses) == {200}
    async with teams.store.transaction() as repos:
        for user in people:
            chat = await repos.addresses.personal("teams", TENANT, user)
            assert chat is not None and chat.conversation_id == f"a:{user}", user
            assert (chat.address, chat.bot_id) == (teams.connector.service_url, BOT)
    for user in people:  # and each was answered there
        assert teams.connector.cards(f"a:{user}"), user


async def test_a_form_submitted_from_a_card(teams: Teams) -> None:
    await teams.say("29:fia", "theme start 1")
    await teams.say("29:fia", "survey open 1")
    [answer] = [
        a for a in actions(teams.connector.cards(CHANNEL)[-1]) if a["type"] == "Action.Execute"
    ]
    await teams.click("29:anna", answer["data"])
    form = teams.connector.cards("a:29:anna")[-1]
    [submit] = [a for a in actions(form) if a["type"] in ("Action.Submit", "Action.Execute")]
    inputs = {"useful": "4", "buddy": "5", "comment": "Bra tema"}
    value = {**submit["data"], **inputs}
    if submit["type"] == "Action.Submit":  # arrives as a message with a value
        body = teams.activity("29:anna", personal=True, value=value)
        assert await teams.send(body) == 200
    else:
        assert await teams.click("29:anna", value) == 200
    async with teams.store.transaction() as repos:
        [cohort] = [c for c in [await repos.cohorts.by_key("grupp-1")] if c]
        stored = {
            a.question_id: (a.rating, a.text)
            for a in await repos.surveys.answers(cohort.id, "theme:1")
        }
    assert stored == {"useful": (4, None), "buddy": (5, None), "comment": (None, "Bra tema")}
    assert "Your answers to “Survey after theme 1” are saved" in texts(
        teams.connector.cards("a:29:anna")[-1]
    )


async def test_someone_the_bot_cannot_reach_does_not_stop_the_rest(teams: Teams) -> None:
    teams.connector.unreachable.add("29:anna")
    assert await teams.say("29:anna", "theme show 1") == 200  # her reply cannot go to her chat
    assert await teams.say("29:fia", "theme start 1") == 200
    assert len(teams.connector.posted(CHANNEL)) == 1


async def test_someone_joins_the_cohort_from_the_channel(teams: Teams) -> None:
    async with teams.store.transaction() as repos:
        cohort = await repos.cohorts.by_key("grupp-1")
        assert cohort is not None
        cohort.self_enrol = True
    assert await teams.say("29:cia", "join umea") == 200
    async with teams.store.transaction() as repos:
        person = await repos.people.by_account("teams", TENANT, "29:cia")
        assert person is not None
        member = await repos.people.member(cohort.id, person.id)
    assert member is not None and member.organisation.key == "umea"


async def test_an_action_submit_message_is_a_submitted_form(teams: Teams) -> None:
    """Older cards and dialogs answer with Action.Submit: a message whose value is the form."""
    await teams.say("29:fia", "theme start 1")
    await teams.say("29:fia", "survey open 1")
    async with teams.store.transaction() as repos:
        cohort = await repos.cohorts.by_key("grupp-1")
        assert cohort is not None
    value = {"form_id": f"survey:{cohort.id}:theme:1", "useful": "2", "buddy": "3"}
    assert await teams.send(teams.activity("29:bjorn", personal=True, value=value)) == 200
    async with teams.store.transaction() as repos:
        stored = {
            a.question_id: a.rating for a in await repos.surveys.answers(cohort.id, "theme:1")
        }
    assert stored == {"useful": 2, "buddy": 3}


async def test_a_roster_by_email_is_matched_to_teams_accounts_when_installed(
    teams: Teams,
) -> None:
    row = RosterRow(9, "Cia Carlsson", "cia@pitea.se", None, "pitea", Role.participant)
    await import_roster(teams.store, "grupp-1", [row], skip_bad=False)
    team = "19:team@thread.tacv2"
    teams.connector.members[team] = [
        {"id": "29:fia", "name": "Fia Facilitator", "email": "fia@region.se"},
        {"id": "29:someone", "name": "Someone Else", "userPrincipalName": "someone@umea.se"},
        {"id": "29:cia", "name": "Cia Carlsson", "email": "Cia@Pitea.se"},
    ]
    # Before: Teams does not tell Digilog who Cia is.
    assert await teams.say("29:cia", "theme") == 200
    assert "not enrolled" in texts(teams.connector.cards("a:29:cia")[-1])
    installed = teams.activity(
        "29:fia",
        kind="installationUpdate",
        action="add",
        channelData={"tenant": {"id": TENANT}, "team": {"id": team}},
    )
    assert await teams.send(installed) == 200
    assert len([c for c in teams.connector.calls if c.path.endswith("/pagedmembers")]) == 2
    async with teams.store.transaction() as repos:
        cia = await repos.people.by_account("teams", TENANT, "29:cia")
    assert cia is not None and cia.display_name == "Cia Carlsson"
    assert await teams.say("29:cia", "theme") == 200
    assert "not enrolled" not in texts(teams.connector.cards("a:29:cia")[-1])
