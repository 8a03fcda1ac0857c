"""Record, acknowledge, then work: the inbound journal of `digilog serve`.

A person's action is journalled before it is acknowledged; a process that dies between
the ack and the work leaves it to the next process, which does it once. An action whose
work fails reaches the person as a short message in their language and is kept for
facilitators and operators. A throttled channel holds no one else's reply.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

import aiohttp
import pytest
from sqlalchemy import func, select, text

from handlers.admin import CohortSpec, create_cohort, import_roster, load_programme
from handlers.core.programme_file import Programme
from handlers.core.roster import RosterRow
from handlers.core.vocabulary import Actor, CommandReceived, Conversation
from handlers.digilog import Digilog
from storage.db import create_engine, listening
from storage.inbound import INBOUND_CHANNEL
from storage.models import InboundEntry, InboundFailure, QuizAnswer, Role, utcnow
from storage.unit import Store
from tests import slack_payloads as p
from tests.servers import SLACK_SECRET, serve, serve_settings
from tests.slack_fake import FakeSlack
from tests.teams_fake import APP_ID as TEAMS_APP_ID
from tests.teams_fake import CHANNEL as TEAMS_CHANNEL
from tests.teams_fake import TENANT, FakeConnector, Signer, teams_cohort
from tests.test_teams_scenarios import Teams, actions, texts

if TYPE_CHECKING:
    from bot.work import Entry

CHANNEL = "C_COHORT"
PEOPLE = (
    ("U_FIA", "Fia Facilitator", "region-vasterbotten", Role.facilitator),
    ("U_ANNA", "Anna Lindqvist", "umea", Role.participant),
    ("U_BJORN", "Björn Öberg", "pitea", Role.participant),
)
ROOT = Path(__file__).resolve().parents[1]


async def quiz_cohort(store: Store, programme: Programme) -> int:
    """Cohort "grupp-1" in Slack channel C_COHORT, in Swedish, with theme 1's quiz open."""
    await load_programme(store, programme)
    cohort = await create_cohort(
        store,
        CohortSpec(
            key="grupp-1",
            program_id=programme.id,
            title="Grupp 1",
            platform="slack",
            workspace=p.TEAM_ID,
            conversation_id=CHANNEL,
            language="sv",
        ),
    )
    rows = [RosterRow(i, n, None, u, o, r) for i, (u, n, o, r) in enumerate(PEOPLE, 1)]
    await import_roster(store, "grupp-1", rows, skip_bad=False)
    digilog = Digilog(store)
    fia = Actor("slack", p.TEAM_ID, "U_FIA", "Fia Facilitator", "sv-SE")
    for line in ("theme start 1", "quiz start 1"):
        await digilog.handle(CommandReceived(fia, Conversation("slack", p.TEAM_ID, CHANNEL), line))
    return cohort.id


def people_in(fake: FakeSlack) -> None:
    for user, name, _, _ in PEOPLE:
        fake.users[user] = {"real_name": name, "display_name": name, "locale": "sv-SE"}


def click(cohort_id: int, fake: FakeSlack, name: str, *, user: str = "U_ANNA") -> p.SlackRequest:
    """`user` answers question 1 of theme 1's quiz with option 1, in the private question."""
    action = f"quiz:{cohort_id}-1:0:1"
    return p.block_action(
        action, action, user=user, container="ephemeral", response_url=fake.response_url(name)
    )


async def post(http: aiohttp.ClientSession, url: str, request: p.SlackRequest) -> int:
    headers = request.headers(SLACK_SECRET)
    async with http.post(url, data=request.body.encode(), headers=headers) as response:
        await response.read()
        return response.status


async def count(store: Store, model: Any) -> int:
    async with store.transaction() as repos:
        return int(await repos.session.scalar(select(func.count()).select_from(model)) or 0)


class Recording:
    """A performer that only notes each entry it works (`note`), then marks it handled."""

    def __init__(self, note: Callable[[Entry], Awaitable[None]]) -> None:
        self._note = note

    async def perform(self, entry: Entry) -> None:
        await self._note(entry)
        entry.handled = True

    async def tell_failed(self, entry: Entry) -> bool:
        return True

    def failed(self, entry: Entry, reason: str) -> Any:
        raise AssertionError(reason)


def reply_text(call: Any) -> str:
    return str(call.params.get("text", "")) + str(call.params.get("blocks", ""))


# ---------------------------------------------------------------- a process dies


class Served:
    """`digilog serve` (or `digilog worker`, which serves no HTTP) in a process of its own,
    as an operator runs it."""

    def __init__(self, env: dict[str, str], cwd: Path, command: str = "serve") -> None:
        self.env, self.cwd, self.command = env, cwd, command
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, http: aiohttp.ClientSession) -> None:
        where = ("--host", "127.0.0.1", "--port", str(self.port)) if self.command == "serve" else ()
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "bot.cli", self.command, *where),
            env=self.env,
            cwd=self.cwd,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        if self.command != "serve":
            return  # nothing to ask: what it does shows in the database and at the fake
        for _ in range(300):  # until it answers its health check (it is starting)
            try:
                async with http.get(f"{self.url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
        pytest.fail("digilog serve did not come up")

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def until(store: Store, condition: Any, timeout: float = 30) -> None:  # noqa: ASYNC109
    """Poll the database until `condition(repos)` holds (another process does the work)."""
    async with asyncio.timeout(timeout):
        while True:
            async with store.transaction() as repos:
                if await condition(repos):
                    return
            await asyncio.sleep(0.1)


def restarting_env(database_url: str, data_dir: Path, **platform: str) -> dict[str, str]:
    """A served process's environment: none of the caller's Digilog or platform settings,
    and a lease of a second, so that the next process takes a dead one's rows soon."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(PLATFORM_SETTINGS)},
        "PYTHONPATH": str(ROOT),
        "DIGILOG_DATABASE_URL": database_url,
        "DIGILOG_DATA_DIR": str(data_dir),
        "DIGILOG_INBOUND_LEASE_SECONDS": "1",
        "DIGILOG_INBOUND_POLL_SECONDS": "0.2",
        **platform,
    }


PLATFORM_SETTINGS = ("DIGILOG_", "SLACK_", "TEAMS_")


@pytest.mark.parametrize("then", ["serve", "worker"])
async def test_an_action_acked_by_a_process_that_died_is_done_once_after_restart(
    database_url: str, store: Store, programme: Programme, tmp_path: Path, then: str
) -> None:
    # The next process to take it is `digilog serve` restarted, or a `digilog worker`
    # beside it (which works Slack's actions too).
    cohort_id = await quiz_cohort(store, programme)
    async with FakeSlack() as fake, aiohttp.ClientSession() as http:
        people_in(fake)
        env = restarting_env(
            database_url,
            tmp_path,
            SLACK_BOT_TOKEN="xoxb-serve",
            SLACK_SIGNING_SECRET=SLACK_SECRET,
            SLACK_API_URL=fake.api_url,
        )
        first, second = Served(env, tmp_path), Served(env, tmp_path, then)
        try:
            await first.start(http)
            # The work after the ack asks Slack who Anna is first; that answer never comes.
            fake.stall_answer("users.info")
            assert await post(http, f"{first.url}/slack/events", click(cohort_id, fake, "a")) == 200
            await fake.wait_for("users.info")  # acked, and its work begun: now it dies
            await first.kill()
            assert await count(store, InboundEntry) == 1
            assert await count(store, QuizAnswer) == 0
            assert fake.responses("a") == []

            await second.start(http)
            # Once the dead process's lease has run out, the new one takes the click.
            replies = await fake.wait_for("response_url:a", timeout=30)
            await until(store, lambda repos: _journal_empty(repos))
            assert len(fake.responses("a")) == 1 == len(replies)
            assert "Rätt" in reply_text(replies[0]) or "Inte riktigt" in reply_text(replies[0])
            async with store.transaction() as repos:
                answers = list(await repos.session.scalars(select(QuizAnswer)))
            assert [(a.theme_number, a.question_index, a.option_index) for a in answers] == [
                (1, 0, 1)
            ]
        finally:
            await first.stop()
            await second.stop()


async def test_a_teams_click_told_its_answer_comes_later_gets_it_once_after_a_restart(
    database_url: str, store: Store, programme: Programme, tmp_path: Path
) -> None:
    # Teams answers a click with its card if the work is done within 4 s, else with "the
    # answer comes in your chat": a promise the next process keeps when this one dies.
    if not database_url.startswith("postgresql"):
        pytest.skip("holding the work but not the journal takes a table lock: PostgreSQL")
    await teams_cohort(store, programme)
    connector = FakeConnector(TEAMS_APP_ID, "app-secret")
    async with connector.running(), aiohttp.ClientSession() as http:
        env = restarting_env(
            database_url,
            tmp_path,
            TEAMS_APP_ID=TEAMS_APP_ID,
            TEAMS_APP_PASSWORD="app-secret",
            TEAMS_TENANT_ID=TENANT,
            DIGILOG_TEAMS_TOKEN_URL=connector.token_url,
            # Unsigned activities over loopback (no Microsoft key set to fetch here); what
            # goes out still takes the app's token from the fake.
            DIGILOG_TEAMS_ANONYMOUS="true",
            DIGILOG_HOST="127.0.0.1",
        )
        first, second = Served(env, tmp_path), Served(env, tmp_path)
        teams = Teams(connector, Signer(), f"{first.url}/api/messages", http, store, signed=False)
        try:
            await first.start(http)
            assert await teams.say("29:fia", "theme start 1") == 200
            await until_card(connector, TEAMS_CHANNEL, "Theme 1")
            assert await teams.say("29:fia", "quiz start 1") == 200
            begin = await until_card(connector, TEAMS_CHANNEL, "Take the quiz")
            assert await teams.click("29:anna", begin["data"]) == 200
            question = await until_card(connector, "a:29:anna", "Question 1")
            posted_to_anna = len(connector.calls)

            engine = create_engine(database_url)
            try:
                async with engine.connect() as holding:  # the work waits; the journal not
                    await holding.execute(text("LOCK TABLE quiz_answers IN ACCESS EXCLUSIVE MODE"))
                    status, answer = await teams.execute("29:anna", question["data"], personal=True)
                    assert status == 200
                    assert answer["value"] == "Digilog is on it: the answer comes in your chat."
                    await first.kill()
                    await holding.rollback()
            finally:
                await engine.dispose()
            assert await count(store, InboundEntry) == 1
            assert await count(store, QuizAnswer) == 0

            await second.start(http)
            await until(store, _journal_empty)
            anna = [c for c in connector.calls[posted_to_anna:] if c.conversation_id == "a:29:anna"]
            assert len(anna) == 1, anna
            assert "Question 2" in texts(anna[0].body["attachments"][0]["content"])
            async with store.transaction() as repos:
                answers = list(await repos.session.scalars(select(QuizAnswer)))
            assert [(a.theme_number, a.question_index) for a in answers] == [(1, 0)]
        finally:
            await first.stop()
            await second.stop()


async def until_card(connector: FakeConnector, conversation: str, says: str) -> dict[str, Any]:
    """The first button of the latest card in `conversation` that says `says` (an empty
    dict for a card without one), as soon as the fake has it."""
    async with asyncio.timeout(30):
        while True:
            for card in reversed(connector.cards(conversation)):
                if says in texts(card):
                    return next((a for a in actions(card) if a["type"] == "Action.Execute"), {})
            await asyncio.sleep(0.1)


async def _journal_empty(repos: Any) -> bool:
    return bool(await repos.inbound.waiting() == 0)


# ---------------------------------------------------------------- served in this process


@dataclass
class Slack:
    fake: FakeSlack
    http: aiohttp.ClientSession
    url: str
    store: Store
    cohort_id: int
    drained: Any

    async def send(self, request: p.SlackRequest) -> None:
        assert await post(self.http, self.url, request) == 200


@pytest.fixture
async def slack(
    database_url: str, store: Store, programme: Programme, tmp_path: Path
) -> AsyncIterator[Slack]:
    from bot.web import WORK

    cohort_id = await quiz_cohort(store, programme)
    async with FakeSlack() as fake, aiohttp.ClientSession() as http:
        people_in(fake)
        settings = serve_settings(
            database_url,
            tmp_path,
            slack=fake,
            inbound_attempts=2,
            inbound_backoff_seconds=0.05,
            inbound_poll_seconds=0.2,
            inbound_lease_seconds=2,
        )
        async with serve(settings) as server:
            url = str(server.make_url("/slack/events"))
            yield Slack(fake, http, url, store, cohort_id, server.app[WORK].drained)


@asynccontextmanager
async def writes_refused(
    store: Store, table: str = "quiz_answers", when: str | None = None
) -> AsyncIterator[None]:
    """The database refuses every new row of `table` (or those where `when`, a condition
    on NEW, holds), as a full disk would, until the block ends (PostgreSQL's test database
    outlives the test: the trigger goes with it)."""
    async with store.transaction() as repos:
        sqlite = repos.session.get_bind().dialect.name == "sqlite"
        if sqlite:
            await repos.session.execute(
                text(
                    f"CREATE TRIGGER refuse_writes BEFORE INSERT ON {table} "
                    + (f"WHEN {when} " if when else "")
                    + "BEGIN SELECT RAISE(ABORT, 'no space left on device'); END"
                )
            )
        else:
            await repos.session.execute(
                text(
                    "CREATE FUNCTION refuse_writes() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'no space left on device'; END $$ LANGUAGE plpgsql"
                )
            )
            await repos.session.execute(
                text(
                    f"CREATE TRIGGER refuse_writes BEFORE INSERT ON {table} FOR EACH ROW "
                    + (f"WHEN ({when}) " if when else "")
                    + "EXECUTE FUNCTION refuse_writes()"
                )
            )
    try:
        yield
    finally:
        async with store.transaction() as repos:
            if sqlite:
                await repos.session.execute(text("DROP TRIGGER refuse_writes"))
            else:
                await repos.session.execute(text(f"DROP TRIGGER refuse_writes ON {table}"))
                await repos.session.execute(text("DROP FUNCTION refuse_writes()"))


async def test_an_action_that_keeps_failing_reaches_the_person_and_the_facilitators(
    slack: Slack, database_url: str, tmp_path: Path
) -> None:
    async with writes_refused(slack.store):
        await slack.send(click(slack.cohort_id, slack.fake, "anna"))
        await slack.drained()

    # Tried twice (the setting), then Anna is told, in Swedish, in place of her question.
    [notice] = slack.fake.responses("anna")
    assert notice.params["text"] == (
        "Det gick inte att ta emot ditt val; försök igen eller kontakta en processledare."
    )
    assert notice.params["response_type"] == "ephemeral"
    assert await count(slack.store, QuizAnswer) == 0
    assert await count(slack.store, InboundEntry) == 0
    async with slack.store.transaction() as repos:
        [failure] = list(await repos.session.scalars(select(InboundFailure)))
    assert (failure.user_id, failure.cohort_id, failure.attempts, failure.told) == (
        "U_ANNA",
        slack.cohort_id,
        2,
        True,
    )
    assert failure.what == f"button: quiz:{slack.cohort_id}-1:0:1"
    # Its kind and where it was raised; never the database's message, which may quote
    # a statement's parameters (a person's text).
    assert " at storage/quizzes.py:" in failure.reason and "no space" not in failure.reason

    # Her facilitator sees it in the chat (who, what; not the database's words) ...
    fia = p.slash_command("failures", user="U_FIA", response_url=slack.fake.response_url("fia"))
    await slack.send(fia)
    [shown] = await slack.fake.wait_for("response_url:fia")
    shown_text = reply_text(shown)
    assert "Åtgärder som inte gick igenom" in shown_text
    assert "Anna Lindqvist" in shown_text and f"quiz:{slack.cohort_id}-1:0:1" in shown_text
    assert "no space left" not in shown_text
    # The operator's command, as typed at the terminal (its words are English everywhere).
    assert "en driftansvarig ser orsaken med `digilog failures --cohort grupp-1`" in shown_text

    # ... and so does an operator, with where it failed.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGILOG_", "SLACK_"))}
    env |= {"DIGILOG_DATABASE_URL": database_url, "DIGILOG_DATA_DIR": str(tmp_path)}
    env["PYTHONPATH"] = str(ROOT)
    env["DIGILOG_LANGUAGE"] = "sv"  # the operator's language
    cli = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "bot.cli", "failures", "--cohort", "grupp-1"),
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await cli.communicate()
    assert cli.returncode == 0, err.decode()
    printed = out.decode()
    assert printed.startswith("1 misslyckad åtgärd; 0 åtgärder i den inkommande journalen nu.")
    assert "U_ANNA" in printed and "knapp: quiz:" in printed
    assert "fick besked, 2 försök: " in printed and " i storage/quizzes.py:" in printed


async def test_a_participant_sees_no_failures_view(slack: Slack) -> None:
    anna = p.slash_command("failures", user="U_ANNA", response_url=slack.fake.response_url("a"))
    await slack.send(anna)
    [reply] = await slack.fake.wait_for("response_url:a")
    assert "Åtgärder som inte gick igenom" not in reply_text(reply)


async def test_odd_but_signed_input_gets_an_answer(slack: Slack) -> None:
    # A reflection button naming a theme the programme does not have: the form opens.
    action = f"reflect:{slack.cohort_id}:99"
    await slack.send(p.block_action(action, action, trigger_id=p.new_trigger_id()))
    [opened] = await slack.fake.wait_for("views.open")
    assert opened.params["view"]["callback_id"] == f"reflect:{slack.cohort_id}"

    # A slash command without a response_url: the reply comes only for her in the channel.
    command = p.slash_command("help", user="U_ANNA")
    fields = [(k, v) for k, v in parse_qsl(command.body) if k != "response_url"]
    await slack.send(p.SlackRequest(urlencode(fields), command.content_type))
    [ephemeral] = await slack.fake.wait_for("chat.postEphemeral")
    assert ephemeral.params["user"] == "U_ANNA" and ephemeral.params["channel"] == CHANNEL
    await slack.drained()
    assert await count(slack.store, InboundFailure) == 0


async def test_a_throttled_channel_holds_no_one_elses_reply(slack: Slack) -> None:
    # Slack holds the cohort's channel: the next post there is answered 429, Retry-After 30.
    slack.fake.rate_limit("chat.postMessage", retry_after=30)
    fia = p.slash_command("theme start 2", user="U_FIA", response_url=slack.fake.response_url("f"))
    await slack.send(fia)
    [held] = await slack.fake.wait_for("chat.postMessage")  # the theme post, answered 429

    # Anna's click right after: her answer comes while the channel is still held.
    await slack.send(click(slack.cohort_id, slack.fake, "anna"))
    [reply] = await slack.fake.wait_for("response_url:anna")
    assert "Rätt" in reply_text(reply) or "Inte riktigt" in reply_text(reply)
    assert slack.fake.calls_to("chat.postMessage") == [held]  # not tried again yet
    # And the facilitator's own reply did not wait for her channel post either.
    [started] = await slack.fake.wait_for("response_url:f")
    assert "2" in reply_text(started)
    assert slack.fake.calls_to("chat.postMessage") == [held]


async def test_a_retried_event_still_in_the_journal_is_journalled_once(slack: Slack) -> None:
    # The work waits for Slack's answer about Anna, which never comes: the event stays in
    # the journal while Slack, having had no reply in time, sends it again.
    slack.fake.stall_answer("users.info")
    event = p.message_event(
        "Hej alla!", user="U_ANNA", channel=CHANNEL, thread_ts="1700000000.000100"
    )
    await slack.send(event)
    await slack.fake.wait_for("users.info")
    headers = event.headers(SLACK_SECRET, retry_num=1, retry_reason="http_timeout")
    async with slack.http.post(slack.url, data=event.body.encode(), headers=headers) as response:
        assert response.status == 200
    async with slack.store.transaction() as repos:
        entries = list(await repos.session.scalars(select(InboundEntry)))
    assert [(e.kind, e.event_id) for e in entries] == [("message", event.payload["event_id"])]


async def test_an_action_the_journal_cannot_take_is_not_acknowledged(slack: Slack) -> None:
    async with writes_refused(slack.store, "inbound_journal"):
        # Slack then shows Anna its own error for the click, and resends the event.
        for request in (
            click(slack.cohort_id, slack.fake, "anna"),
            p.message_event("Hej", user="U_ANNA", channel=CHANNEL, thread_ts="1700000000.1"),
        ):
            assert await post(slack.http, slack.url, request) == 503
    assert await count(slack.store, InboundEntry) == 0
    # Once the database takes writes again, so does Digilog.
    await slack.send(click(slack.cohort_id, slack.fake, "again"))
    await slack.fake.wait_for("response_url:again")


async def test_clicks_worked_together_keep_each_others_answers_when_one_fails(
    slack: Slack,
) -> None:
    # A burst's clicks are worked in one transaction. The database refuses Björn's answer
    # (option 2) and takes Anna's (option 1): hers is stored and answered, he is told.
    async with writes_refused(slack.store, when="NEW.option_index = 2"):
        anna = click(slack.cohort_id, slack.fake, "anna")
        action = f"quiz:{slack.cohort_id}-1:0:2"
        bjorn = p.block_action(
            action,
            action,
            user="U_BJORN",
            container="ephemeral",
            response_url=slack.fake.response_url("bjorn"),
        )
        await asyncio.gather(slack.send(anna), slack.send(bjorn))
        await slack.drained()

    [answered] = slack.fake.responses("anna")
    assert "Rätt" in reply_text(answered) or "Inte riktigt" in reply_text(answered)
    [notice] = slack.fake.responses("bjorn")
    assert notice.params["text"].startswith("Det gick inte att ta emot ditt val")
    async with slack.store.transaction() as repos:
        answers = list(await repos.session.scalars(select(QuizAnswer)))
        [failure] = list(await repos.session.scalars(select(InboundFailure)))
    assert [(a.question_index, a.option_index) for a in answers] == [(0, 1)]
    assert failure.user_id == "U_BJORN" and failure.attempts == 2
    assert await count(slack.store, InboundEntry) == 0


async def test_teams_clicks_worked_together_keep_each_others_answers_when_one_fails(
    database_url: str, store: Store, programme: Programme, tmp_path: Path
) -> None:
    # Teams' clicks, too, are worked in one transaction. The database refuses Björn's
    # answer (option 2) and takes Anna's (option 1): her click is answered with its card
    # and her answer stored; he is told in his chat that his choice did not go through.
    from bot.web import WORK
    from tests.teams_fake import APP_ID, CHANNEL, FakeConnector, teams_cohort
    from tests.test_teams_scenarios import SIGNER, Teams, actions, texts

    cohort = await teams_cohort(store, programme)
    connector = FakeConnector(APP_ID, "app-secret")
    async with connector.running(), aiohttp.ClientSession() as http:
        settings = serve_settings(
            database_url,
            tmp_path,
            teams=connector,
            inbound_attempts=2,
            inbound_backoff_seconds=0.05,
            inbound_poll_seconds=0.2,
            inbound_lease_seconds=2,
        )
        async with serve(settings) as server, asyncio.timeout(60):
            with SIGNER.serving_keys():
                drained = server.app[WORK].drained
                url = str(server.make_url("/api/messages"))
                teams = Teams(connector, SIGNER, url, http, store, drained)
                assert await teams.say("29:fia", "theme start 1") == 200
                assert await teams.say("29:fia", "quiz start 1") == 200
                [begin] = [
                    a
                    for a in actions(connector.cards(CHANNEL)[-1])
                    if a["type"] == "Action.Execute"
                ]
                chosen = {}
                for user, option in (("29:anna", 1), ("29:bjorn", 2)):
                    assert await teams.click(user, begin["data"]) == 200
                    [question] = connector.cards(f"a:{user}")[-1:]
                    [chosen[user]] = [
                        a["data"]
                        for a in actions(question)
                        if a["type"] == "Action.Execute"
                        and str(a["data"].get("action_id", "")).endswith(f":0:{option}")
                    ]
                before = {user: len(connector.posted(f"a:{user}")) for user in chosen}
                teams.drained = None  # both in flight at once: one batch
                async with writes_refused(store, when="NEW.option_index = 2"):
                    (_, anna), (_, bjorn) = await asyncio.gather(
                        *(teams.execute(u, chosen[u], personal=True) for u in chosen)
                    )
                    await drained()
                told = connector.posted("a:29:bjorn")[before["29:bjorn"] :]

    assert anna["type"] == "application/vnd.microsoft.card.adaptive"
    assert "Question 1" not in texts(anna["value"])  # her answer's card, not the question
    assert bjorn["type"] != "application/vnd.microsoft.card.adaptive"
    # His click is not answered "Done.": it did not go through, and his chat says so.
    assert bjorn["value"] == "Digilog is on it: the answer comes in your chat."
    assert any(
        "Digilog could not take your choice" in json.dumps(m, ensure_ascii=False) for m in told
    )
    async with store.transaction() as repos:
        answers = list(await repos.session.scalars(select(QuizAnswer)))
        [failure] = list(await repos.session.scalars(select(InboundFailure)))
    assert [(a.question_index, a.option_index) for a in answers] == [(0, 1)]
    assert failure.user_id == "29:bjorn" and failure.attempts == 2
    assert failure.cohort_id == cohort.id
    assert await count(store, InboundEntry) == 0


async def test_a_process_takes_only_the_actions_it_can_work(store: Store) -> None:
    # `digilog worker` works Slack's actions; a Teams click's answer is awaited in the
    # serve process that took its request, so the worker must leave it there.
    now = utcnow()
    async with store.transaction() as repos:
        await repos.inbound.record_many(
            [
                ("teams", "activity", {"type": "invoke"}, "teams-1", None),
                ("slack", "action", {"type": "block_actions"}, None, None),
            ],
            now,
        )
    async with store.transaction() as repos:
        taken = await repos.inbound.claim("worker", now, timedelta(seconds=30), 10, ["slack"])
        assert [e.platform for e in taken] == ["slack"]
        rest = await repos.inbound.claim("serve", now, timedelta(seconds=30), 10)
        assert [e.platform for e in rest] == ["teams"]


async def test_a_click_whose_request_waits_is_claimed_as_it_is_journalled(store: Store) -> None:
    """A Teams click's answer goes back in its own request, so only the process holding
    that request can give it: the entry is claimed as it is written. No other process's
    worker takes it (before, one could, and the person got "Digilog is on it" instead of
    the card), and this one works it without asking the journal again."""
    from bot.work import Journal, JournalTiming

    worked: list[str | None] = []

    async def note(entry: Entry) -> None:
        worked.append(entry.event_id)

    journal = Journal(store, JournalTiming(poll_seconds=5))
    journal.add("teams", Recording(note))
    journal.start()
    try:
        await asyncio.sleep(0.1)  # its first look at the journal: nothing there
        async with store.transaction() as repos:  # a row only another process works
            await repos.inbound.record_many([("slack", "action", {}, None, None)], utcnow())
        click = {"type": "invoke", "name": "adaptiveCard/action"}
        assert await journal.record("teams", "activity", click, "a-1", answered_by_work=True)
        async with store.transaction() as repos:
            taken = await repos.inbound.claim("elsewhere", utcnow(), timedelta(seconds=30), 10)
        assert [row.platform for row in taken] == ["slack"]  # the click is not there
        async with store.transaction() as repos:
            await repos.inbound.all_done([taken[0].id], "elsewhere")
        await asyncio.wait_for(journal.drained(), 3)  # well within the 5 s poll: no claim
        assert worked == ["a-1"]
    finally:
        await journal.close()


async def test_a_message_is_not_kept_waiting_behind_a_stream_of_claimed_clicks(
    store: Store,
) -> None:
    """Clicks claimed as they are journalled are worked from memory; a message journalled
    meanwhile is in the journal only. It is taken at the worker's next turn, not at the
    next poll (before, it waited up to a poll behind a workshop's clicks)."""
    from bot.work import Journal, JournalTiming

    loop = asyncio.get_running_loop()
    worked: dict[str | None, float] = {}

    async def note(entry: Entry) -> None:
        await asyncio.sleep(0.02)  # each click's work takes a moment: the clicks pile up
        worked[entry.event_id] = loop.time()

    journal = Journal(store, JournalTiming(poll_seconds=5))
    journal.add("teams", Recording(note))
    journal.start()
    click = {"type": "invoke", "name": "adaptiveCard/action"}
    try:
        await asyncio.sleep(0.1)  # its first look at the journal: nothing there
        for n in range(30):
            await journal.record("teams", "activity", click, f"click-{n}", answered_by_work=True)
            await asyncio.sleep(0.01)
        posted = loop.time()
        await journal.record("teams", "activity", {"type": "message"}, "message-1")
        for n in range(30, 100):
            await journal.record("teams", "activity", click, f"click-{n}", answered_by_work=True)
            await asyncio.sleep(0.01)
        await asyncio.wait_for(journal.drained(), 10)
        assert len(worked) == 101
        assert worked["message-1"] - posted < 1.0  # the clicks went on for about 2 s
        assert worked["message-1"] < worked["click-99"]
    finally:
        await journal.close()


async def test_an_action_journalled_here_wakes_the_other_processes_at_once(
    store: Store, database_url: str
) -> None:
    # A `digilog worker` would otherwise find a burst's clicks only at its next poll. Its
    # own connection stands for the other process: PostgreSQL notifies across them.
    other = create_engine(database_url)
    heard = asyncio.Event()
    try:
        async with listening(other, INBOUND_CHANNEL, lambda _: heard.set()) as listens:
            async with store.transaction() as repos:
                await repos.inbound.record_many([("slack", "action", {}, None, None)], utcnow())
            if listens:
                await asyncio.wait_for(heard.wait(), 5)
            else:  # SQLite has no notifications: workers poll
                assert store.engine.dialect.name == "sqlite"
    finally:
        await other.dispose()


async def test_a_worker_waits_out_a_burst_another_process_is_acking(
    store: Store, database_url: str
) -> None:
    """A `digilog worker` beside `digilog serve` hears how many actions each of serve's
    group commits journalled, and waits out a burst as serve's own workers do, rather
    than take the cores serve's acks need. Here one journal only records (serve's acks)
    and another, on its own connections, works (the worker process)."""
    from bot.work import Journal, JournalTiming

    if store.engine.dialect.name != "postgresql":
        pytest.skip("only PostgreSQL tells other processes (SQLite runs one process)")
    other = create_engine(database_url)
    worked_at: list[float] = []

    async def note(entry: Entry) -> None:
        worked_at.append(asyncio.get_running_loop().time())

    acking = Journal(store, JournalTiming(poll_seconds=5))
    worker = Journal(Store(other), JournalTiming(poll_seconds=5))
    worker.add("slack", Recording(note))
    worker.start()
    try:
        await asyncio.sleep(0.2)  # listening
        for wave in range(6):  # 20 clicks every 30 ms, well within MAX_DEFERRAL
            await asyncio.gather(
                *(acking.record("slack", "action", {"n": wave * 20 + n}) for n in range(20))
            )
            await asyncio.sleep(0.03)
        burst_over = asyncio.get_running_loop().time()
        for _ in range(100):
            if len(worked_at) == 120:
                break
            await asyncio.sleep(0.05)
        assert len(worked_at) == 120
        assert min(worked_at) >= burst_over
    finally:
        await worker.close()
        await other.dispose()


async def test_what_the_work_will_need_loads_once_the_first_actions_are_worked(
    store: Store,
) -> None:
    """The Swedish dictionary takes a second of CPU to load: not while the first burst of
    a workshop is being worked nor right after it, not in a process that works nothing,
    and, once begun, never while a request waits (it goes a slice at a time)."""
    from bot.work import Journal, JournalTiming

    sliced = asyncio.Event()
    slices: list[bool] = []  # at each slice: was a request in flight?
    request_in_flight = False
    may_finish = False
    seen_warm: list[bool] = []

    def load_slice() -> bool:
        slices.append(request_in_flight)
        sliced.set()
        return may_finish and len(slices) > 20

    async def note(entry: Entry) -> None:
        await asyncio.sleep(0.05)  # a reply on its way
        seen_warm.append(sliced.is_set())

    journal = Journal(store, JournalTiming(poll_seconds=0.05), warm=load_slice)
    journal.add("slack", Recording(note))
    journal.start()
    try:
        await asyncio.sleep(0.3)  # idle, nothing worked yet: nothing to warm for
        assert not sliced.is_set()
        await asyncio.gather(*(journal.record("slack", "action", {"n": n}) for n in range(5)))
        await journal.drained()
        await asyncio.sleep(0.3)  # worked, but the next wave of clicks may come at once
        assert not sliced.is_set()
        await asyncio.wait_for(sliced.wait(), 5)  # in the lull after it
        assert seen_warm == [False] * 5

        journal.request_started()  # a click comes: the load pauses for it
        request_in_flight = True
        paused_at = len(slices)
        await asyncio.sleep(0.3)
        assert len(slices) == paused_at
        request_in_flight = False
        may_finish = True
        journal.request_finished()
        for _ in range(100):
            if len(slices) > 20:
                break
            await asyncio.sleep(0.05)
        assert len(slices) == 21 and not any(slices)
        await asyncio.sleep(0.2)
        assert len(slices) == 21  # loaded: no slice more
    finally:
        await journal.close()


async def test_a_search_before_the_dictionary_is_loaded_waits_for_it_in_slices(
    store: Store, programme: Programme
) -> None:
    """A search (or a saved reflection) that comes before the lull's load has finished
    has the rest loaded a slice per turn of the event loop, not at once inside its work:
    requests go on being answered meanwhile, and the batch's other actions (a quiz click)
    do not wait for it."""
    from bot.work import Job, Journal, JournalTiming

    await quiz_cohort(store, programme)
    loop = asyncio.get_running_loop()
    slices: list[float] = []
    ticks: list[float] = []
    handled: dict[str, float] = {}

    def load_slice() -> bool:
        time.sleep(0.002)  # a slice's CPU: the loop is held for it
        slices.append(loop.time())
        return len(slices) >= 100

    class Commands:
        digilog = Digilog(store)

        async def prepare(self, entry: Entry) -> Job:
            actor = Actor("slack", p.TEAM_ID, "U_ANNA", "Anna Lindqvist", "sv-SE")
            text = entry.payload["text"]

            def send(outgoing: list[Any]) -> None:
                assert outgoing, text
                handled[text] = loop.time()

            where = Conversation("slack", p.TEAM_ID, CHANNEL)
            return Job(CommandReceived(actor, where, text), send)

        async def perform(self, entry: Entry) -> None:
            raise AssertionError("batched")

        async def tell_failed(self, entry: Entry) -> bool:
            return True

        def failed(self, entry: Entry, reason: str) -> Any:
            raise AssertionError(reason)

    async def ticking() -> None:
        while True:
            ticks.append(loop.time())
            await asyncio.sleep(0.005)

    journal = Journal(store, JournalTiming(poll_seconds=0.05), warm=load_slice)
    journal.add("slack", Commands())
    ticker = asyncio.create_task(ticking())
    try:
        # Both journalled before the worker starts: one batch.
        await journal.record("slack", "command", {"text": "bank digitalisering"})
        await journal.record("slack", "command", {"text": "quiz 1"})
        journal.start()
        await journal.drained()
        assert len(slices) == 100 and set(handled) == {"bank digitalisering", "quiz 1"}
        # The click went before the load, the search after it.
        assert handled["quiz 1"] < slices[0] and handled["bank digitalisering"] > slices[-1]
        # The loop turned between slices: at 5 ms a tick, ~40 over the load's ~200 ms.
        during = [t for t in ticks if slices[0] < t < slices[-1]]
        assert len(during) >= 10, f"{len(during)} ticks while loading"
    finally:
        ticker.cancel()
        await journal.close()
