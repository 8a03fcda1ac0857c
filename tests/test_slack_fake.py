"""The fake Slack answers slack_sdk's real client the way Slack does.

Scenario tests trust the fake; these tests earn that trust by driving it with the
real ``AsyncWebClient`` (and its retry handlers) and slack_sdk's own signature
verifier, not with hand-built requests.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from tests import slack_payloads as p
from tests.slack_fake import FakeSlack

SECRET = "test-signing-secret"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-test", base_url=slack.api_url)


async def test_api_url_ends_with_slash_and_uses_a_random_port(slack: FakeSlack) -> None:
    assert slack.api_url.startswith("http://127.0.0.1:")
    assert slack.api_url.endswith("/api/")
    async with FakeSlack() as other:
        assert other.api_url != slack.api_url


async def test_auth_test_names_the_bot(client: AsyncWebClient) -> None:
    auth = await client.auth_test()
    assert (auth["user_id"], auth["bot_id"], auth["team_id"]) == ("UBOT", "BBOT", "T1")


async def test_post_message_is_recorded_decoded_with_increasing_ts(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Tema 1*"}}]
    first = await client.chat_postMessage(channel="C_COHORT", text="Tema 1", blocks=blocks)
    second = await client.chat_postMessage(channel="C_COHORT", text="Tema 2")

    [call, _] = await slack.wait_for("chat.postMessage", count=2)
    assert call.params == {"channel": "C_COHORT", "text": "Tema 1", "blocks": blocks}
    assert call.token == "xoxb-test"
    # A ts is the time of posting, as on Slack (senders look for their messages by it).
    assert abs(float(first["ts"]) - time.time()) < 60
    assert float(second["ts"]) > float(first["ts"])
    assert first["message"]["user"] == "UBOT"
    assert first["message"]["blocks"] == blocks
    assert slack.messages[("C_COHORT", first["ts"])]["text"] == "Tema 1"


async def test_form_encoded_json_fields_are_decoded(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """Some slack_sdk methods (and any app using ``data=``) send blocks as a form string."""
    blocks = [{"type": "divider"}]
    await client.api_call("chat.postMessage", data={"channel": "C1", "blocks": json.dumps(blocks)})
    assert slack.calls_to("chat.postMessage")[0].params["blocks"] == blocks


async def test_posting_to_a_user_lands_in_their_dm(client: AsyncWebClient) -> None:
    answer = await client.chat_postMessage(channel="U_ANNA", text="Hej")
    assert answer["channel"] == "DU_ANNA"


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_a_message_without_text_or_blocks_is_refused(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C_COHORT")
    assert caught.value.response["error"] == "no_text"


async def test_users_info_gives_the_configured_locale_when_asked(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    slack.users["U_ANNA"] = {"real_name": "Anna Andersson", "locale": "en-US"}
    slack.users["U_BERTIL"] = {"real_name": "Bertil Berg"}

    anna = (await client.users_info(user="U_ANNA", include_locale=True))["user"]
    bertil = (await client.users_info(user="U_BERTIL", include_locale=True))["user"]
    bare = (await client.users_info(user="U_ANNA"))["user"]

    assert anna["locale"] == "en-US"
    assert anna["profile"]["real_name"] == "Anna Andersson"
    assert bertil["locale"] == "sv-SE"
    assert "locale" not in bare  # as on Slack: no include_locale, no locale


async def test_unknown_user_is_user_not_found(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as caught:
        await client.users_info(user="U_NOBODY")
    assert caught.value.response["error"] == "user_not_found"


async def test_rate_limited_twice_then_the_retry_handler_gets_through(slack: FakeSlack) -> None:
    """Retry-After 0 keeps this fast; the header value itself is checked below."""
    slack.rate_limit("chat.postMessage", times=2, retry_after=0)
    client = AsyncWebClient(
        token="xoxb-test",
        base_url=slack.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    )

    answer = await client.chat_postMessage(channel="C_COHORT", text="Hej")

    assert answer["ok"] is True
    assert len(slack.calls_to("chat.postMessage")) == 3


async def test_rate_limit_answers_429_with_retry_after(slack: FakeSlack) -> None:
    slack.rate_limit("chat.postMessage", times=1, retry_after=1)
    client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url, retry_handlers=[])

    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C_COHORT", text="Hej")

    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "1"
    assert caught.value.response["error"] == "ratelimited"
    assert (await client.chat_postMessage(channel="C_COHORT", text="Hej"))["ok"]


async def test_injected_failure_is_used_once(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.fail("chat.postMessage", error="channel_not_found")
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C_GONE", text="Hej")
    assert caught.value.response["error"] == "channel_not_found"
    assert (await client.chat_postMessage(channel="C_GONE", text="Hej"))["ok"]


async def test_files_upload_v2_stores_the_bytes(slack: FakeSlack, client: AsyncWebClient) -> None:
    csv = "namn;tema\nÅsa;1\n".encode()
    answer = await client.files_upload_v2(
        filename="export.csv", content=csv, channel="C_COHORT", title="Export"
    )

    [upload] = slack.files.values()
    assert answer["file"]["id"] == upload.id
    assert (upload.content, upload.title, upload.channel_id) == (csv, "Export", "C_COHORT")
    assert upload.completed
    methods = [call.method for call in slack.calls]
    assert methods == [
        "files.getUploadURLExternal",
        f"upload:{upload.id}",
        "files.completeUploadExternal",
    ]


async def test_views_get_an_id_and_home_keeps_its_id(client: AsyncWebClient) -> None:
    view = {"type": "home", "blocks": []}
    first = await client.views_publish(user_id="U_ANNA", view=view)
    again = await client.views_publish(user_id="U_ANNA", view=view)
    modal = await client.views_open(trigger_id="1.2.3", view={"type": "modal", "blocks": []})

    assert first["view"]["id"] == again["view"]["id"]
    assert modal["view"]["id"] != first["view"]["id"]


async def test_conversations_open_names_the_dm(client: AsyncWebClient) -> None:
    answer = await client.conversations_open(users=["U_ANNA"])
    assert answer["channel"]["id"] == "DU_ANNA"


async def test_other_methods_answer_ok_and_are_recorded(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    await client.reactions_add(channel="C_COHORT", timestamp="1.2", name="tada")
    await client.api_call("pins.add", json={"channel": "C_COHORT"})
    assert [call.method for call in slack.calls] == ["reactions.add", "pins.add"]


async def test_a_token_that_is_not_a_bot_token_is_invalid_auth(slack: FakeSlack) -> None:
    client = AsyncWebClient(token="xoxp-user-token", base_url=slack.api_url)
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C_COHORT", text="Hej")
    assert caught.value.response["error"] == "invalid_auth"
    assert slack.calls_to("chat.postMessage")[0].token == "xoxp-user-token"


async def test_no_token_at_all_is_invalid_auth(slack: FakeSlack) -> None:
    client = AsyncWebClient(base_url=slack.api_url)
    with pytest.raises(SlackApiError) as caught:
        await client.auth_test()
    assert caught.value.response["error"] == "invalid_auth"


async def test_response_url_posts_are_recorded(slack: FakeSlack) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(slack.response_url("quiz"), json={"text": "Rätt!"}) as answer,
    ):
        assert await answer.text() == "ok"
    [call] = await slack.wait_for("response_url:quiz")
    assert call.params == {"text": "Rätt!"}
    assert slack.responses("quiz") == [call]


async def test_wait_for_gives_up_with_a_clear_message(slack: FakeSlack) -> None:
    with pytest.raises(AssertionError, match=r"chat\.postMessage.*got 0"):
        await slack.wait_for("chat.postMessage", timeout=0.05)


# ---------------------------------------------------------------- signatures


def test_signed_headers_verify_with_slack_sdk() -> None:
    body, content_type = p.slash_command("quiz 1")
    headers = p.signed_headers(body, SECRET, content_type=content_type)
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert SignatureVerifier(SECRET).is_valid_request(body, headers)


def test_a_tampered_body_or_wrong_secret_does_not_verify() -> None:
    request = p.message_event("hej")
    headers = request.headers(SECRET)
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid_request(request.body, headers)
    assert not verifier.is_valid_request(request.body.replace("hej", "hallå"), headers)
    assert not SignatureVerifier("other").is_valid_request(request.body, headers)


def test_an_old_timestamp_does_not_verify() -> None:
    body, content_type = p.url_verification("abc")
    headers = p.signed_headers(body, SECRET, timestamp=1_600_000_000, content_type=content_type)
    assert not SignatureVerifier(SECRET).is_valid_request(body, headers)


def test_retry_headers_keep_the_event_id() -> None:
    request = p.message_event("hej")
    headers = request.headers(SECRET, retry_num=1, retry_reason="http_timeout")
    assert (headers["X-Slack-Retry-Num"], headers["X-Slack-Retry-Reason"]) == ("1", "http_timeout")
    assert SignatureVerifier(SECRET).is_valid_request(request.body, headers)


# ---------------------------------------------------------------- payload shapes


def test_events_get_unique_event_ids() -> None:
    ids = {p.message_event("hej").payload["event_id"] for _ in range(20)}
    assert len(ids) == 20


def test_slash_command_is_a_real_form() -> None:
    body, _ = p.slash_command("quiz 1", user="U_BERTIL")
    fields = {k: v[0] for k, v in parse_qs(body).items()}
    assert (fields["command"], fields["text"], fields["user_id"]) == (
        "/digilog",
        "quiz 1",
        "U_BERTIL",
    )
    assert fields["team_id"] == "T1" and fields["trigger_id"] and fields["response_url"]


def test_block_action_containers() -> None:
    in_message = p.block_action("quiz:1:2:a", "a").payload
    ephemeral = p.block_action("quiz:1:2:a", "a", container="ephemeral").payload
    in_view = p.block_action("lab:signup", "ai", container="view", view_id="V9").payload

    assert in_message["message"]["ts"] == in_message["container"]["message_ts"]
    assert in_message["enterprise"] is None
    assert ephemeral["container"]["is_ephemeral"] and "message" not in ephemeral
    assert in_view["view"]["id"] == "V9" and "channel" not in in_view
    assert in_message["actions"][0]["value"] == "a"


def test_view_submission_wraps_plain_strings_as_inputs() -> None:
    payload = p.view_submission("reflection", {"b": {"a": "Min tanke"}}, "theme=1").payload
    assert payload["view"]["state"]["values"] == {
        "b": {"a": {"type": "plain_text_input", "value": "Min tanke"}}
    }
    assert payload["view"]["private_metadata"] == "theme=1"
