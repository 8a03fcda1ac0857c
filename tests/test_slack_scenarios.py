"""Slack end to end: signed, real-shaped payloads through the real bolt dispatcher of
`digilog serve`, against a fake Slack Web API; assertions on what Slack was sent and
what the database holds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from sqlalchemy import select, text

from bot.sealing import Sealer
from bot.slack.app import SAVE_SHORTCUT
from bot.web import WORK
from handlers.admin import CohortSpec, create_cohort, import_roster, load_programme
from handlers.core.programme_file import Programme
from handlers.core.roster import RosterRow
from storage.models import QuizAnswer, Reflection, Role, Source, ThemeRun, Visibility
from storage.unit import Store
from tests import slack_fake
from tests import slack_payloads as p
from tests.excel import open_as_excel
from tests.servers import SLACK_SECRET as SECRET
from tests.servers import serve, serve_settings
from tests.slack_fake import Call, FakeSlack

CHANNEL = "C_COHORT"
PEOPLE = (
    ("U_FIA", "Fia Facilitator", "region-vasterbotten", Role.facilitator, "en-GB"),
    ("U_ANNA", "Anna Lindqvist", "umea", Role.participant, "sv-SE"),
    ("U_BJORN", "Björn Öberg", "pitea", Role.participant, "en-US"),
)


@dataclass
class Slack:
    """The app under test as Slack sees it: an URL to post signed payloads to."""

    fake: FakeSlack
    url: str
    http: aiohttp.ClientSession
    store: Store
    # Until every action taken so far is worked and its replies are out (bot/work.py):
    # what a test waits for, rather than sleeping until Slack hears nothing new.
    drained: Callable[[], Awaitable[None]]

    async def send(self, request: p.SlackRequest, **signing: Any) -> aiohttp.ClientResponse:
        headers = request.headers(SECRET, **signing)
        async with self.http.post(self.url, data=request.body.encode(), headers=headers) as r:
            await r.read()
            return r

    async def command(self, text: str, user: str, name: str = "cmd") -> list[Call]:
        before = len(self.fake.responses(name))
        url = self.fake.response_url(name)
        response = await self.send(p.slash_command(text, user=user, response_url=url))
        assert response.status == 200
        return (await self.fake.wait_for(f"response_url:{name}", count=before + 1))[before:]

    async def rows(self, model: Any) -> list[Any]:
        async with self.store.transaction() as repos:
            return list((await repos.session.scalars(select(model).order_by(model.id))).all())


def blocks_text(blocks: list[dict[str, Any]]) -> str:
    """Every text in the blocks, after checking each block against Slack's own models."""
    out = []
    for raw in blocks:
        block = Block.parse(raw)
        assert block is not None
        block.validate_json()
        out.append(str(raw))
    return "\n".join(out)


async def slack_cohort(
    store: Store, programme: Programme, *, language: str, self_enrol: bool
) -> None:
    """The cohort "grupp-1" in channel C_COHORT of workspace T1."""
    await load_programme(store, programme)
    await create_cohort(
        store,
        CohortSpec(
            key="grupp-1",
            program_id=programme.id,
            title="Grupp 1",
            platform="slack",
            workspace=p.TEAM_ID,
            conversation_id=CHANNEL,
            language=language,
            self_enrol=self_enrol,
        ),
    )


@pytest.fixture
async def slack(
    database_url: str, store: Store, programme: Programme, tmp_path: Path
) -> AsyncIterator[Slack]:
    await slack_cohort(store, programme, language="sv", self_enrol=True)
    rows = [RosterRow(i, n, None, u, o, r) for i, (u, n, o, r, _) in enumerate(PEOPLE, 1)]
    await import_roster(store, "grupp-1", rows, skip_bad=False)
    async with FakeSlack() as fake, aiohttp.ClientSession() as http:
        for user, name, _, _, locale in PEOPLE:
            fake.users[user] = {"real_name": name, "display_name": name, "locale": locale}
        settings = serve_settings(database_url, tmp_path, slack=fake)
        async with serve(settings) as server:
            drained = server.app[WORK].drained
            yield Slack(fake, str(server.make_url("/slack/events")), http, store, drained)
            await drained()
            check_everything_sent(fake)


def check_everything_sent(fake: FakeSlack) -> None:
    """Every block and view the app sent, in any test, passes slack_sdk's own models."""
    for call in fake.calls:
        if isinstance(call.params.get("blocks"), list):
            blocks_text(call.params["blocks"])
        if isinstance(call.params.get("view"), dict):
            View(**call.params["view"]).validate_json()


async def start_theme_one(slack: Slack) -> str:
    """A facilitator starts theme 1; its post's ts, the root of the digilog thread."""
    await slack.command("theme start 1", "U_FIA")
    await slack.fake.wait_for("chat.postMessage")
    await slack.drained()
    return await theme_post_ts(slack)


async def theme_post_ts(slack: Slack) -> str:
    [run] = await slack.rows(ThemeRun)
    assert run.post_message_id
    return str(run.post_message_id)


# ---------------------------------------------------------------- verification


async def test_a_forged_or_stale_request_is_refused_and_changes_nothing(slack: Slack) -> None:
    request = p.slash_command("theme start 1", user="U_FIA")
    forged = dict(request.headers(SECRET))
    forged["X-Slack-Signature"] = "v0=" + "0" * 64
    async with slack.http.post(slack.url, data=request.body.encode(), headers=forged) as r:
        assert r.status == 401
    stale = await slack.send(request, timestamp=int(time.time()) - 6 * 60)
    assert stale.status == 401
    unsigned_headers = {"Content-Type": request.content_type}
    async with slack.http.post(
        slack.url, data=request.body.encode(), headers=unsigned_headers
    ) as r:
        assert r.status == 401
    await slack.drained()
    assert await slack.rows(ThemeRun) == []
    assert slack.fake.calls_to("chat.postMessage") == []


async def test_a_malformed_payload_never_gets_a_500(slack: Slack) -> None:
    for body, content_type in (
        ("payload=%7Bnot-json", p.FORM),
        ('{"type": "event_callback", "event": {}}', p.JSON),
        ("", p.FORM),
        ('{"type": "block_actions"}', p.JSON),
    ):
        response = await slack.send(p.SlackRequest(body, content_type))
        assert response.status < 500, body


async def test_health_check_reports_the_database(slack: Slack) -> None:
    async with slack.http.get(slack.url.replace("/slack/events", "/healthz")) as r:
        assert r.status == 200
        assert await r.json() == {"ok": True}


# ---------------------------------------------------------------- commands


async def test_help_is_private_and_in_the_persons_language(slack: Slack) -> None:
    [swedish] = await slack.command("help", "U_ANNA")
    assert swedish.params["response_type"] == "ephemeral"
    assert "Kommandon i Digilog" in blocks_text(swedish.params["blocks"])
    assert "theme start" not in blocks_text(swedish.params["blocks"])  # not hers to run
    assert "/digilog hjälp gå med" in blocks_text(swedish.params["blocks"])  # as typed in Slack
    [english] = await slack.command("help", "U_FIA", name="fia")
    text = blocks_text(english.params["blocks"])
    assert "Digilog commands" in text and "theme start" in text


async def test_a_participant_cannot_start_a_theme(slack: Slack) -> None:
    [reply] = await slack.command("theme start 1", "U_ANNA")
    assert "processledare" in blocks_text(reply.params["blocks"])
    await slack.drained()
    assert await slack.rows(ThemeRun) == []
    assert slack.fake.calls_to("chat.postMessage") == []


async def test_theme_start_posts_block_kit_to_the_channel_and_keeps_its_ts(slack: Slack) -> None:
    await slack.command("theme start 1", "U_FIA")
    [post] = await slack.fake.wait_for("chat.postMessage")
    assert post.params["channel"] == CHANNEL
    blocks = post.params["blocks"]
    assert blocks[0]["type"] == "header"
    assert "Därför är det stort fokus på digital transformation" in blocks[0]["text"]["text"]
    text = blocks_text(blocks)
    assert "https://larplattform.example.se/digital-kompetens/tema-1/" in text
    await slack.drained()
    stored = await theme_post_ts(slack)
    posted = [m for (channel, ts), m in slack.fake.messages.items() if channel == CHANNEL]
    assert [m["ts"] for m in posted] == [stored]


# ---------------------------------------------------------------- the digilog


async def test_a_thread_elsewhere_with_a_theme_posts_ts_is_no_digilog(slack: Slack) -> None:
    """Slack's message ids are timestamps: a reply in a direct message or another channel
    whose thread_ts equals the theme post's is not the theme's thread, and is not shared
    with the cohort."""
    root = await start_theme_one(slack)
    for channel in ("D_ANNA", "G_PRIVATE", "C_OTHER"):
        elsewhere = p.message_event(
            "Min privata tanke om chefen.", user="U_ANNA", channel=channel, thread_ts=root
        )
        assert (await slack.send(elsewhere)).status == 200
    await slack.drained()
    assert await slack.rows(Reflection) == []
    # The same words in the theme's own thread are the digilog.
    here = p.message_event("Min tanke.", user="U_ANNA", channel=CHANNEL, thread_ts=root)
    await slack.send(here)
    await slack.fake.wait_for("chat.postEphemeral")
    assert [r.body for r in await slack.rows(Reflection)] == ["Min tanke."]


async def test_thread_replies_go_into_the_bank_once_with_who_answered_whom(slack: Slack) -> None:
    root = await start_theme_one(slack)

    anna = p.message_event(
        "Digitaliseringen har ändrat vår vardag.", user="U_ANNA", channel=CHANNEL, thread_ts=root
    )
    assert (await slack.send(anna)).status == 200
    await slack.fake.wait_for("chat.postEphemeral")
    # Slack retries the same event: nothing new is stored, nobody is told twice.
    assert (await slack.send(anna, retry_num=1, retry_reason="http_timeout")).status == 200
    bjorn = p.message_event(
        "<@U_ANNA> håller med, hos oss i Piteå också.",
        user="U_BJORN",
        channel=CHANNEL,
        thread_ts=root,
    )
    await slack.send(bjorn)
    await slack.fake.wait_for("chat.postEphemeral", count=2)
    # Not reflections: another bot, a join, a message outside any thread.
    await slack.send(p.bot_message("Automatiskt meddelande", channel=CHANNEL, thread_ts=root))
    await slack.send(p.channel_join("U_NEW", channel=CHANNEL))
    await slack.send(p.message_event("Hej alla!", user="U_ANNA", channel=CHANNEL))
    await slack.drained()

    first, second = await slack.rows(Reflection)
    assert len(await slack.rows(Reflection)) == 2
    assert (first.source, first.visibility, first.theme_number) == (
        Source.digilog_post,
        Visibility.cohort,
        1,
    )
    assert second.source == Source.digilog_reply
    assert second.replied_to_person_id == first.author_id
    assert second.body == "@Anna Lindqvist håller med, hos oss i Piteå också."
    assert len(slack.fake.calls_to("chat.postEphemeral")) == 2
    saved = slack.fake.calls_to("chat.postEphemeral")[0]
    assert saved.params["user"] == "U_ANNA" and saved.params["thread_ts"] == root


async def test_editing_and_deleting_a_digilog_message_follow_in_the_bank(slack: Slack) -> None:
    root = await start_theme_one(slack)
    post = p.message_event(
        "Om kompetensförsörjning.", user="U_ANNA", channel=CHANNEL, thread_ts=root
    )
    ts = post.payload["event"]["ts"]
    await slack.send(post)
    await slack.fake.wait_for("chat.postEphemeral")

    await slack.send(p.message_changed(CHANNEL, ts, root, "Om automatisering.", "U_ANNA"))
    await slack.drained()
    [edited] = await slack.rows(Reflection)
    assert edited.body == "Om automatisering."

    await slack.send(p.message_deleted(CHANNEL, ts, root, "U_ANNA"))
    await slack.drained()
    assert await slack.rows(Reflection) == []


# ---------------------------------------------------------------- quiz


async def test_a_quiz_in_slack_counts_the_first_click_only(
    slack: Slack, programme: Programme
) -> None:
    await slack.command("theme start 1", "U_FIA")
    await slack.command("quiz start 1", "U_FIA")
    posts = await slack.fake.wait_for("chat.postMessage", count=2)
    [begin] = [
        element
        for block in posts[1].params["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]
    url = slack.fake.response_url("quiz")
    await slack.send(
        p.block_action(begin["action_id"], begin["value"], user="U_ANNA", response_url=url)
    )
    [question] = await slack.fake.wait_for("response_url:quiz")
    assert question.params["response_type"] == "ephemeral"
    buttons = [
        e for b in question.params["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert len(buttons) >= 2
    # The options come shuffled; each button names its option by its place in the file.
    options = programme.themes[0].quiz.questions[0].options  # type: ignore[union-attr]
    # Long options are listed by number above buttons 1, 2, …: button n is the nth listed.
    listed = [
        line
        for b in question.params["blocks"]
        if b["type"] == "section"
        for line in b["text"]["text"].splitlines()
        if line[:1].isdigit()
    ]
    places = [int(button["action_id"].rsplit(":", 1)[1]) for button in buttons]
    assert sorted(places) == list(range(len(options)))
    for n, (button, place) in enumerate(zip(buttons, places, strict=True), 1):
        assert button["text"]["text"] == str(n)
        assert listed[n - 1] == f"{n}. {options[place].text['sv']}"
    first = buttons[0]
    click = p.block_action(
        first["action_id"], first["value"], user="U_ANNA", container="ephemeral", response_url=url
    )
    await slack.send(click)
    # Her answer is in before she clicks again. (Two clicks that come together may be
    # worked side by side on PostgreSQL, and the one stored first counts.)
    await slack.fake.wait_for("response_url:quiz", count=2)
    await slack.send(
        p.block_action(
            first["action_id"],
            first["value"],
            user="U_ANNA",
            container="ephemeral",
            response_url=url,
        )
    )
    second_option = buttons[1]
    await slack.send(
        p.block_action(
            second_option["action_id"],
            second_option["value"],
            user="U_ANNA",
            container="ephemeral",
            response_url=url,
        )
    )
    replies = await slack.fake.wait_for("response_url:quiz", count=4)
    await slack.drained()
    [answer] = await slack.rows(QuizAnswer)
    chosen = int(first["action_id"].rsplit(":", 1)[1])
    assert (answer.question_index, answer.option_index) == (0, chosen)
    assert answer.correct == options[chosen].correct
    feedback = [blocks_text(r.params["blocks"]) for r in replies[1:]]
    assert sum("redan svarat" in text for text in feedback) == 2
    assert all(r.params["replace_original"] for r in replies[1:])


# ---------------------------------------------------------------- forms, shortcuts, home


async def test_reflect_opens_a_modal_and_its_submission_is_saved(slack: Slack) -> None:
    await slack.command("theme start 1", "U_FIA")
    await slack.fake.wait_for("chat.postMessage")
    request = p.slash_command("reflect", user="U_ANNA", response_url=slack.fake.response_url("r"))
    await slack.send(request)
    [opened] = await slack.fake.wait_for("views.open")
    view = opened.params["view"]
    View(**view).validate_json()
    assert opened.params["trigger_id"] == request.payload["trigger_id"]
    submission = p.view_submission(
        view["callback_id"],
        {
            "theme": {"theme": "1"},
            "visibility": {"visibility": "facilitators"},
            "text": {"text": "En längre reflektion om ledarskap."},
        },
        view["private_metadata"],
        user="U_ANNA",
    )
    assert (await slack.send(submission)).status == 200
    await slack.fake.wait_for("chat.postEphemeral")
    [saved] = await slack.rows(Reflection)
    assert (saved.body, saved.visibility, saved.theme_number, saved.source) == (
        "En längre reflektion om ledarskap.",
        Visibility.facilitators,
        1,
        Source.command,
    )


async def test_the_save_shortcut_saves_only_ones_own_message_once(slack: Slack) -> None:
    url = slack.fake.response_url("save")
    own = p.message_shortcut(
        SAVE_SHORTCUT,
        user="U_ANNA",
        message_user="U_ANNA",
        message_text="Vi testar en antipilot i hemtjänsten.",
        response_url=url,
        message_ts="1700000001.000100",
    )
    await slack.send(own)
    await slack.send(own)
    others = p.message_shortcut(
        "save_to_bank",
        user="U_ANNA",
        message_user="U_BJORN",
        message_text="Björns tankar.",
        response_url=url,
    )
    await slack.send(others)
    replies = await slack.fake.wait_for("response_url:save", count=3)
    await slack.drained()
    [saved] = await slack.rows(Reflection)
    assert (saved.body, saved.source) == (
        "Vi testar en antipilot i hemtjänsten.",
        Source.saved_message,
    )
    texts = " ".join(blocks_text(r.params["blocks"]) for r in replies)
    assert "redan i reflektionsbanken" in texts
    assert "bara spara meddelanden som du själv" in texts


async def test_app_home_shows_the_participants_journey(slack: Slack) -> None:
    await slack.command("theme start 1", "U_FIA")
    await slack.fake.wait_for("chat.postMessage")
    await slack.send(p.app_home_opened("U_ANNA"))
    [published] = await slack.fake.wait_for("views.publish")
    assert published.params["user_id"] == "U_ANNA"
    View(**published.params["view"]).validate_json()
    text = blocks_text(published.params["view"]["blocks"])
    assert "Nu: tema 1" in text


async def test_a_rate_limited_post_is_retried_after_retry_after(slack: Slack) -> None:
    slack.fake.rate_limit("chat.postMessage", times=1, retry_after=0)
    await slack.command("theme start 1", "U_FIA")
    calls = await slack.fake.wait_for("chat.postMessage", count=2, timeout=10)
    assert len(calls) == 2
    await slack.drained()
    assert await theme_post_ts(slack)


async def test_a_throttled_reply_comes_once_after_its_retry_after(slack: Slack) -> None:
    """Slack answers a response_url with 429 too: the reply waits that out and goes once."""
    slack.fake.rate_limit("response_url:help", retry_after=1)
    started = time.monotonic()
    [reply] = await slack.command("help", "U_ANNA", name="help")
    assert time.monotonic() - started >= 1.0
    assert slack.fake.rate_limited == 1
    assert "Kommandon i Digilog" in blocks_text(reply.params["blocks"])
    await slack.drained()
    assert len(slack.fake.responses("help")) == 1


async def test_an_unknown_person_joins_by_picking_their_organisation(slack: Slack) -> None:
    slack.fake.users["U_NEW"] = {"real_name": "Nora Ny", "display_name": "", "locale": "en-GB"}
    [offer] = await slack.command("join", "U_NEW")
    buttons = [e for b in offer.params["blocks"] if b["type"] == "actions" for e in b["elements"]]
    pitea = next(b for b in buttons if b["text"]["text"] == "Piteå Municipality")
    url = slack.fake.response_url("join")
    await slack.send(
        p.block_action(
            pitea["action_id"],
            pitea["value"],
            user="U_NEW",
            container="ephemeral",
            response_url=url,
        )
    )
    [welcome] = await slack.fake.wait_for("response_url:join")
    assert "Welcome to Grupp 1, Nora Ny from Piteå Municipality" in blocks_text(
        welcome.params["blocks"]
    )
    async with slack.store.transaction() as repos:
        person = await repos.people.by_account("slack", p.TEAM_ID, "U_NEW")
        assert person is not None
        cohort = await repos.cohorts.by_key("grupp-1")
        assert cohort is not None
        member = await repos.people.member(cohort.id, person.id)
    assert member is not None
    assert (member.organisation.key, member.membership.role) == ("pitea", Role.participant)


async def test_a_facilitator_exports_the_bank_as_a_file_in_a_direct_message(slack: Slack) -> None:
    root = await start_theme_one(slack)
    await slack.send(
        p.message_event(
            'Ledarskap, tillit; och "citat".', user="U_ANNA", channel=CHANNEL, thread_ts=root
        )
    )
    await slack.fake.wait_for("chat.postEphemeral")
    refused = await slack.command("export", "U_ANNA", name="anna")
    assert "processledare" in blocks_text(refused[0].params["blocks"])
    await slack.send(
        p.slash_command("export csv", user="U_FIA", response_url=slack.fake.response_url("fia"))
    )
    [done] = await slack.fake.wait_for("files.completeUploadExternal")
    assert done.params["channel_id"] == "DU_FIA"
    [uploaded] = slack.fake.files.values()
    rows = open_as_excel(uploaded.content, "en")  # Fia reads English
    assert rows[0][:4] == ["ID", "Created", "Updated", "Author"]
    assert rows[1][3] == "Anna Lindqvist" and rows[1][-1] == 'Ledarskap, tillit; och "citat".'


async def test_the_facilitators_home_shows_progress_by_organisation(slack: Slack) -> None:
    # Two participants are too few for any figure: five more in each organisation.
    more = [(f"U_UMEA{n}", "umea") for n in range(5)] + [(f"U_PITEA{n}", "pitea") for n in range(4)]
    rows = [RosterRow(i, u, None, u, o, Role.participant) for i, (u, o) in enumerate(more, 1)]
    await import_roster(slack.store, "grupp-1", rows, skip_bad=False)
    root = await start_theme_one(slack)
    await slack.send(p.message_event("Ett inlägg.", user="U_ANNA", channel=CHANNEL, thread_ts=root))
    await slack.fake.wait_for("chat.postEphemeral")
    await slack.send(p.app_home_opened("U_FIA"))
    [published] = await slack.fake.wait_for("views.publish")
    text = blocks_text(published.params["view"]["blocks"])
    assert "Progress in theme 1" in text
    assert "Umeå Municipality" in text and "1 in the digilog" in text
    assert "6 participants" in text and "5 participants" in text


async def test_a_thread_outside_any_cohort_is_not_a_digilog(slack: Slack) -> None:
    await slack.send(
        p.message_event(
            "Privat tråd.", user="U_ANNA", channel="C_OTHER", thread_ts="1700000000.000900"
        )
    )
    await slack.drained()
    assert await slack.rows(Reflection) == []
    assert slack.fake.calls_to("chat.postEphemeral") == []


OAUTH_KEY = "7BvrwpXTdIl8pLMh2CxkoWIm9gx7xpqBYQf2Jr9xJ3c="


async def test_oauth_installs_another_workspace_into_our_tables(
    database_url: str, store: Store, tmp_path: Path
) -> None:
    async with FakeSlack() as fake, aiohttp.ClientSession() as http:
        settings = serve_settings(
            database_url,
            tmp_path,
            slack_client_id="111.222",
            slack_client_secret="client-secret",
            slack_signing_secret=SECRET,
            slack_api_url=fake.api_url,
            secret_keys=OAUTH_KEY,
        )
        async with serve(settings) as server:
            async with http.get(server.make_url("/slack/install"), allow_redirects=False) as r:
                assert r.status in (200, 302)
                page = await r.text()
                location = r.headers.get("Location", "") + page
                cookie = r.headers.get("Set-Cookie", "")
            assert "https://slack.com/oauth/v2/authorize" in location
            assert "client_id=111.222" in location
            state = location.split("state=", 1)[1].split("&", 1)[0].split('"', 1)[0]
            callback = server.make_url("/slack/oauth_redirect").with_query(
                code=slack_fake.OAUTH_CODE, state=state
            )
            headers = {"Cookie": cookie.split(";", 1)[0]}
            async with http.get(callback, headers=headers, allow_redirects=False) as r:
                assert r.status == 200, await r.text()
            async with store.transaction() as repos:
                rows = (
                    await repos.session.execute(text("SELECT team_id, bot_token FROM slack_bots"))
                ).all()
            # The token is stored encrypted (see tests/test_secrets.py) and opens with the key.
            assert [(team, Sealer([OAUTH_KEY]).open(token)) for team, token in rows] == [
                ("T2", "xoxb-installed-t2")
            ]

            # The work after the ack (in the inbound journal's worker) uses the token that
            # workspace installed, opened from the sealed store.
            hello = p.slash_command(
                "help", user="U_T2", team="T2", response_url=fake.response_url("t2")
            )
            async with http.post(
                server.make_url("/slack/events"),
                data=hello.body.encode(),
                headers=hello.headers(SECRET),
            ) as r:
                assert r.status == 200, await r.text()
            await fake.wait_for("response_url:t2")
            assert {c.token for c in fake.calls_to("users.info")} == {"xoxb-installed-t2"}

            # The workspace uninstalls Digilog: its tokens go from our tables too.
            uninstalled = p.event_callback({"type": "app_uninstalled"}, team="T2")
            async with http.post(
                server.make_url("/slack/events"),
                data=uninstalled.body.encode(),
                headers=uninstalled.headers(SECRET),
            ) as r:
                assert r.status == 200, await r.text()
            for _ in range(100):  # bolt deletes them after it has answered
                async with store.transaction() as repos:
                    left = [
                        await repos.session.scalar(
                            text(f"SELECT count(*) FROM {table} WHERE team_id = 'T2'")
                        )
                        for table in ("slack_bots", "slack_installations")
                    ]
                if left == [0, 0]:
                    break
                await asyncio.sleep(0.05)
            async with store.transaction() as repos:
                for table in ("slack_bots", "slack_installations"):
                    count = f"SELECT count(*) FROM {table} WHERE team_id = 'T2'"
                    assert await repos.session.scalar(text(count)) == 0, table


async def test_socket_mode_takes_commands_over_the_websocket_and_serves_no_http_endpoint(
    database_url: str, store: Store, programme: Programme, tmp_path: Path
) -> None:
    await slack_cohort(store, programme, language="en", self_enrol=False)
    async with FakeSlack() as fake, aiohttp.ClientSession() as http:
        settings = serve_settings(
            database_url,
            tmp_path,
            slack_bot_token="xoxb-test",
            slack_app_token="xapp-test",
            slack_api_url=fake.api_url,
        )
        async with serve(settings) as server:
            command = p.slash_command(
                "help", user="U_STRANGER", response_url=fake.response_url("socket")
            )
            ack = await fake.socket_push("slash_commands", command.payload)
            assert ack["envelope_id"]
            [reply] = await fake.wait_for("response_url:socket")
            assert "Digilog commands" in blocks_text(reply.params["blocks"])
            unsigned = {"Content-Type": command.content_type}
            async with http.post(
                server.make_url("/slack/events"), data=command.body, headers=unsigned
            ) as r:
                assert r.status in (404, 405)


async def test_a_person_rostered_by_email_is_known_in_slack(slack: Slack) -> None:
    row = RosterRow(1, "Eva Ek", "eva.ek@umea.se", None, "umea", Role.participant)
    await import_roster(slack.store, "grupp-1", [row], skip_bad=False)
    slack.fake.users["U_EVA"] = {"real_name": "Eva Ek", "email": "Eva.Ek@umea.se"}
    [reply] = await slack.command("bank", "U_EVA")
    assert "Senaste reflektionerna" in blocks_text(reply.params["blocks"])
    [info] = slack.fake.calls_to("users.info")[-1:]
    assert info.params["user"] == "U_EVA"


async def test_slacks_time_zone_for_a_person_is_used_for_their_times(slack: Slack) -> None:
    slack.fake.users["U_ANNA"]["tz"] = "Europe/Helsinki"
    [reply] = await slack.command("timezone", "U_ANNA")
    assert "Europe/Helsinki" in blocks_text(reply.params["blocks"])


# ---------------------------------------------------------------- learning buddies


async def test_announced_buddies_get_a_group_conversation_in_slack(slack: Slack) -> None:
    [preview] = await slack.command("pair 1 --seed 5", "U_FIA", name="pair")
    assert "Anna Lindqvist" in blocks_text(preview.params["blocks"])
    [announce] = [
        e for b in preview.params["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    url = slack.fake.response_url("announce")
    await slack.send(
        p.block_action(announce["action_id"], announce["value"], user="U_FIA", response_url=url)
    )
    [opened] = await slack.fake.wait_for("conversations.open")
    assert sorted(opened.params["users"].split(",")) == ["U_ANNA", "U_BJORN"]
    [post] = await slack.fake.wait_for("chat.postMessage")
    assert post.params["channel"] == "D" + opened.params["users"].replace(",", "")
    assert "Vi har träffats" in blocks_text(post.params["blocks"])  # the cohort speaks Swedish


# ---------------------------------------------------------------- surveys and plans


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def inputs(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A modal's input blocks by block_id, in the order they are shown."""
    return {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}


def filled_in(view: dict[str, Any], answers: dict[str, str]) -> dict[str, dict[str, Any]]:
    """`view.state.values` as Slack sends it when the modal is submitted with `answers`:
    a menu's choice as the option it offered, a text input's value (None if left empty)."""
    values: dict[str, dict[str, Any]] = {}
    for block_id, block in inputs(view).items():
        element, answer = block["element"], answers.get(block_id)
        if element["type"] == "static_select":
            offered = {o["value"]: o for o in element["options"]}
            assert answer is None or answer in offered, f"{block_id}: {answer!r} is not offered"
            state = {"type": "static_select", "selected_option": offered.get(answer or "")}
        else:
            state = {"type": "plain_text_input", "value": answer}
        values[block_id] = {element["action_id"]: state}
    return values


async def open_survey_one(slack: Slack) -> dict[str, Any]:
    """Theme 1 starts and its survey opens; the channel post, with its "Answer" button."""
    await start_theme_one(slack)
    [reply] = await slack.command("survey open 1", "U_FIA", name="survey")
    assert "“Survey after theme 1” is open." in blocks_text(reply.params["blocks"])
    *_, post = await slack.fake.wait_for("chat.postMessage", count=2)
    assert post.params["channel"] == CHANNEL
    return post.params


async def click_answer(slack: Slack, post: dict[str, Any], user: str) -> dict[str, Any]:
    """`user` clicks the post's "Answer" button; the modal Slack was asked to open."""
    [answer] = buttons(post["blocks"])
    before = len(slack.fake.calls_to("views.open"))
    click = p.block_action(
        answer["action_id"],
        answer["value"],
        user=user,
        response_url=slack.fake.response_url(f"answer-{user}"),
    )
    assert (await slack.send(click)).status == 200
    opened = (await slack.fake.wait_for("views.open", count=before + 1))[-1]
    assert opened.params["trigger_id"] == click.payload["trigger_id"]
    view: dict[str, Any] = opened.params["view"]
    View(**view).validate_json()
    return view


async def submit(slack: Slack, view: dict[str, Any], state: dict[str, Any], user: str) -> str:
    """Submit the modal; the text of the private reply that follows."""
    before = len(slack.fake.calls_to("chat.postEphemeral"))
    submission = p.view_submission(
        view["callback_id"], state, view.get("private_metadata", ""), user=user
    )
    assert (await slack.send(submission)).status == 200
    reply = (await slack.fake.wait_for("chat.postEphemeral", count=before + 1))[-1]
    assert (reply.params["channel"], reply.params["user"]) == (CHANNEL, user)
    return blocks_text(reply.params["blocks"])


async def survey_answers(
    slack: Slack, key: str = "theme:1"
) -> list[tuple[str, int | None, str | None]]:
    """What is stored for a survey (or a self-assessment round): question, rating, text."""
    async with slack.store.transaction() as repos:
        cohort = await repos.cohorts.by_key("grupp-1")
        assert cohort is not None
        return sorted(
            (a.question_id, a.rating, a.text) for a in await repos.surveys.answers(cohort.id, key)
        )


async def test_a_survey_is_answered_in_a_modal_opened_from_the_channel_post(
    slack: Slack,
) -> None:
    post = await open_survey_one(slack)
    assert "Enkät efter tema 1" in blocks_text(post["blocks"])  # the cohort speaks Swedish
    [answer] = buttons(post["blocks"])
    assert answer["text"]["text"] == "Svara"

    view = await click_answer(slack, post, "U_BJORN")
    assert view["title"]["text"] == "Survey after theme 1"  # Björn reads English
    fields = inputs(view)
    assert list(fields) == ["useful", "buddy", "comment"]
    for rating in (fields["useful"], fields["buddy"]):
        assert rating["element"]["type"] == "static_select" and not rating["optional"]
        assert [o["value"] for o in rating["element"]["options"]] == ["1", "2", "3", "4", "5"]
    comment = fields["comment"]
    assert comment["optional"]
    assert comment["element"]["type"] == "plain_text_input" and comment["element"]["multiline"]

    thanks = await submit(
        slack,
        view,
        filled_in(view, {"useful": "4", "buddy": "5", "comment": "Bra samtal med Anna."}),
        "U_BJORN",
    )
    assert "Thank you! Your answers to “Survey after theme 1” are saved." in thanks
    assert await survey_answers(slack) == [
        ("buddy", 5, None),
        ("comment", None, "Bra samtal med Anna."),
        ("useful", 4, None),
    ]


async def test_a_rating_off_the_scale_is_refused_and_changes_nothing(slack: Slack) -> None:
    post = await open_survey_one(slack)
    view = await click_answer(slack, post, "U_BJORN")
    # The comment is optional: left empty, Slack sends its value as null.
    await submit(slack, view, filled_in(view, {"useful": "3", "buddy": "4"}), "U_BJORN")
    assert await survey_answers(slack) == [("buddy", 4, None), ("useful", 3, None)]

    # A tampered client sends an option the menu never offered.
    again = await click_answer(slack, post, "U_BJORN")
    assert inputs(again)["useful"]["element"]["initial_option"]["value"] == "3"  # as answered
    state = filled_in(again, {"useful": "3", "buddy": "2", "comment": "Nytt svar"})
    state["useful"]["useful"]["selected_option"] = {
        "text": {"type": "plain_text", "text": "9", "emoji": True},
        "value": "9",
    }
    refused = await submit(slack, again, state, "U_BJORN")
    assert "“9” is not on the scale: give a whole number from 1 to 5." in refused
    assert await survey_answers(slack) == [("buddy", 4, None), ("useful", 3, None)]


async def test_a_plan_for_change_is_written_in_a_modal_and_shared_with_support(
    slack: Slack,
) -> None:
    support = RosterRow(1, "Sara Stöd", None, "U_SARA", "umea", Role.support)
    await import_roster(slack.store, "grupp-1", [support], skip_bad=False)
    slack.fake.users["U_SARA"] = {"real_name": "Sara Stöd", "locale": "sv-SE"}
    command = p.slash_command("plan", user="U_ANNA", response_url=slack.fake.response_url("plan"))
    await slack.send(command)
    [opened] = await slack.fake.wait_for("views.open")
    assert opened.params["trigger_id"] == command.payload["trigger_id"]
    view = opened.params["view"]
    View(**view).validate_json()
    assert view["title"]["text"] == "Min plan för förändring"
    fields = inputs(view)
    assert list(fields) == ["text", "visibility"]
    text = fields["text"]
    assert text["element"]["type"] == "plain_text_input" and text["element"]["multiline"]
    assert not text["optional"]
    menu = fields["visibility"]["element"]
    assert menu["type"] == "static_select"
    assert [o["value"] for o in menu["options"]] == [
        "private",
        "facilitators",
        "organisation",
        "cohort",
    ]
    assert menu["initial_option"]["value"] == "facilitators"

    plan = "Vi inför digitala medarbetarsamtal i hemtjänsten före sommaren."
    saved = await submit(
        slack, view, filled_in(view, {"text": plan, "visibility": "organisation"}), "U_ANNA"
    )
    assert "”Min plan för förändring” är sparad i reflektionsbanken som #1" in saved
    [reflection] = await slack.rows(Reflection)
    assert (reflection.body, reflection.source, reflection.visibility) == (
        plan,
        Source.change_plan,
        Visibility.organisation,
    )
    # Umeå's support function hears of it in a direct message.
    [told] = [
        c for c in await slack.fake.wait_for("chat.postMessage") if c.params["channel"] == "DU_SARA"
    ]
    assert plan in blocks_text(told.params["blocks"])


async def test_the_self_assessment_opens_in_a_modal_and_shows_ones_own_ratings(
    slack: Slack,
) -> None:
    [opened] = await slack.command("assess open start", "U_FIA", name="assess")
    assert "is open" in blocks_text(opened.params["blocks"])
    [post] = await slack.fake.wait_for("chat.postMessage")
    view = await click_answer(slack, post.params, "U_BJORN")
    # Slack caps a modal's title at 24 characters: the title is shown in full above.
    assert view["title"]["text"] == "Self-assessment at the…"
    assert "*Self-assessment at the start*" in blocks_text(view["blocks"])
    areas = inputs(view)
    assert len(areas) == 6
    assert all(b["element"]["type"] == "static_select" for b in areas.values())
    ratings = dict.fromkeys(areas, "3") | {"information": "2"}
    shown = await submit(slack, view, filled_in(view, ratings), "U_BJORN")
    assert "Thank you! Your self-assessment is saved." in shown
    assert "Information and data literacy" in shown  # each area with its rating
    assert "2 at the start" in shown and "3 at the start" in shown
    assert await survey_answers(slack, "assessment:start") == sorted(
        (area, int(rating), None) for area, rating in ratings.items()
    )


# ---------------------------------------------------------------- a buddy group's button


async def test_a_buddy_says_we_met_in_the_group_conversation(slack: Slack) -> None:
    [preview] = await slack.command("pair 1 --seed 5", "U_FIA", name="pair")
    [announce] = buttons(preview.params["blocks"])
    await slack.send(
        p.block_action(
            announce["action_id"],
            announce["value"],
            user="U_FIA",
            container="ephemeral",
            response_url=slack.fake.response_url("pair"),
        )
    )
    [post] = await slack.fake.wait_for("chat.postMessage")
    [met] = buttons(post.params["blocks"])
    assert met["text"]["text"] == "Vi har träffats"
    group = post.params["channel"]
    url = slack.fake.response_url("met")
    for _ in range(2):  # a second click is counted once
        await slack.send(
            p.block_action(
                met["action_id"],
                met["value"],
                user="U_BJORN",
                channel=group,
                response_url=url,
            )
        )
    first, second = await slack.fake.wait_for("response_url:met", count=2)
    assert first.params["response_type"] == "ephemeral"
    assert "Noted: you met. Thank you!" in blocks_text(first.params["blocks"])
    assert "You had said so already." in blocks_text(second.params["blocks"])
    # The facilitator is not in the group: her click is refused.
    await slack.send(
        p.block_action(
            met["action_id"], met["value"], user="U_FIA", channel=group, response_url=url
        )
    )
    [*_, refused] = await slack.fake.wait_for("response_url:met", count=3)
    assert "Only the buddies of this group can say they met." in blocks_text(
        refused.params["blocks"]
    )


async def test_a_digilog_reply_in_the_bank_links_to_its_thread(slack: Slack) -> None:
    root = await start_theme_one(slack)
    await slack.send(
        p.message_event("Vi har börjat.", user="U_ANNA", channel=CHANNEL, thread_ts=root)
    )
    await slack.drained()
    [listed] = await slack.command("bank", "U_ANNA")
    shown = blocks_text(listed.params["blocks"])
    permalink = f"https://{p.TEAM_DOMAIN}.slack.com/archives/{CHANNEL}/p{root.replace('.', '')}"
    assert f"<{permalink}|Öppna tråden>" in shown
