"""The HTTP edge as an attacker meets it: nothing unverified is parsed, no request gets a
500 or leaves a traceback, and no log line holds a body, a person's id or a secret.

Hypothesis draws raw requests (any method, path, headers and bytes) and posts them to
the app of `digilog serve` with Slack and Teams both on; the examples are drawn first
with a synchronous `@given` and posted to one server (see tests/test_fuzz.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import aiohttp
import pytest
from aiohttp.test_utils import make_mocked_request
from hypothesis import strategies as st

from bot.edge import MAX_JSON_DEPTH
from bot.logs import JsonFormatter, RequestIdFilter
from bot.teams.app import _over_loopback
from bot.web import WORK
from tests import slack_payloads as p
from tests.servers import SLACK_SECRET, serve, serve_settings
from tests.slack_fake import FakeSlack
from tests.teams_fake import APP_ID, FakeConnector, Signer
from tests.test_fuzz import drawn

# What must never reach a log: a person's text, their id, a token, the signing secret.
PRIVATE_TEXT = "Min hemliga reflektion om chefen Kalle"
USER_ID = "U_SECRETPERSON"
TOKEN = "xoxb-leaked-token-123"


@dataclass
class Edge:
    http: aiohttp.ClientSession
    base: str
    signer: Signer
    connector: FakeConnector
    slack: FakeSlack
    drained: Callable[[], Awaitable[None]]

    async def post(
        self, path: str, body: bytes, headers: dict[str, str] | None = None
    ) -> tuple[int, str]:
        async with self.http.post(self.base + path, data=body, headers=headers or {}) as r:
            return r.status, await r.text()

    def teams_token(self) -> str:
        return self.signer.token(audience=APP_ID, service_url=self.connector.service_url)


@pytest.fixture
async def edge(tmp_path: Path) -> AsyncIterator[Edge]:
    """`digilog serve` with Slack (HTTP) and Teams, against the fakes, on SQLite (the
    edge answers before any database is touched)."""
    connector = FakeConnector(APP_ID, "app-secret")
    async with FakeSlack() as slack, connector.running(), aiohttp.ClientSession() as http:
        signer = Signer()
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'digilog.db'}"
        settings = serve_settings(database_url, tmp_path, slack=slack, teams=connector)
        async with serve(settings) as server:
            with signer.serving_keys():
                yield Edge(
                    http,
                    str(server.make_url("")).rstrip("/"),
                    signer,
                    connector,
                    slack,
                    server.app[WORK].drained,
                )
                await server.app[WORK].drained()


def signed(body: bytes, *, secret: str = SLACK_SECRET, stamp: str | None = None) -> dict[str, str]:
    stamp = stamp or str(int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest.hexdigest()}"}


def failures(records: list[logging.LogRecord]) -> list[str]:
    """Errors and tracebacks, from any logger."""
    return [
        f"{r.name}: {r.getMessage()[:300]}"
        for r in records
        if r.levelno >= logging.ERROR or r.exc_info is not None
    ]


DEEP_JSON = b'{"a":' * 5000 + b"1" + b"}" * 5000
DEEP_FORM = urlencode({"payload": "[" * 5000 + "]" * 5000}).encode()
JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def test_unsigned_deep_bodies_are_refused_before_any_parser(
    edge: Edge, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for body, headers in ((DEEP_JSON, JSON), (DEEP_FORM, FORM)):
        assert (await edge.post("/slack/events", body, headers))[0] == 401
    assert failures(caplog.records) == []


async def test_signed_deep_bodies_are_malformed_not_a_crash(
    edge: Edge, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for body, headers in ((DEEP_JSON, JSON), (DEEP_FORM, FORM)):
        assert (await edge.post("/slack/events", body, headers | signed(body)))[0] == 400
    # Just within the bound is read as JSON (and is no payload bolt knows).
    nested = b'{"a":' * (MAX_JSON_DEPTH - 1) + b"1" + b"}" * (MAX_JSON_DEPTH - 1)
    assert (await edge.post("/slack/events", nested, JSON | signed(nested)))[0] in (400, 404)
    token = {"Authorization": f"Bearer {edge.teams_token()}"}
    assert (await edge.post("/api/messages", DEEP_JSON, JSON | token))[0] == 400
    assert failures(caplog.records) == []


async def test_a_timestamp_that_is_no_number_or_stale_is_401(
    edge: Edge, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = p.slash_command("help").body.encode()
    for stamp in ("abc", "", "1e9", "-5", "١٢٣", str(int(time.time()) - 301), "9" * 40):
        headers = FORM | signed(body, stamp=stamp or "0")
        headers["X-Slack-Request-Timestamp"] = stamp
        assert (await edge.post("/slack/events", body, headers))[0] == 401, stamp
    assert failures(caplog.records) == []


async def test_a_signed_view_without_a_type_is_not_a_500(
    edge: Edge, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    payload = p.view_submission("reflection:1", {"b": {"a": "x"}}).payload
    del payload["view"]["type"]
    body = urlencode({"payload": json.dumps(payload)}).encode()
    status, _ = await edge.post("/slack/events", body, FORM | signed(body))
    assert status in (200, 400)
    assert failures(caplog.records) == []


def teams_message(edge: Edge, conversation: str, text: str = "hej") -> dict[str, Any]:
    """A Teams message from Anna in `conversation`, to be signed by the edge's token."""
    return {
        "type": "message",
        "id": "1",
        "channelId": "msteams",
        "serviceUrl": edge.connector.service_url,
        "from": {"id": "29:anna"},
        "recipient": {"id": f"28:{APP_ID}"},
        "conversation": {"id": conversation},
        "text": text,
    }


async def test_a_nul_character_in_a_signed_body_is_malformed(
    edge: Edge, caplog: pytest.LogCaptureFixture
) -> None:
    """No platform sends a NUL, and PostgreSQL cannot store one: found by the fuzz test
    as a worker failing at the database after the ack, now refused at the edge."""
    caplog.set_level(logging.DEBUG)
    event = p.event_callback({"type": "message", "user": USER_ID, "channel": "C1", "text": "a\x00"})
    command = p.slash_command("bank a\x00b")
    view = p.view_submission("reflection:1", {"b": {"a": "x\x00"}})
    for request, headers in ((event, JSON), (command, FORM), (view, FORM)):
        body = request.body.encode()
        assert (await edge.post("/slack/events", body, headers | signed(body)))[0] == 400
    token = {"Authorization": f"Bearer {edge.teams_token()}"}
    activity = teams_message(edge, "a:1\x00")
    body = json.dumps(activity).encode()
    assert (await edge.post("/api/messages", body, JSON | token))[0] == 400
    # A backslash and "u0000" typed as text is no NUL: taken as usual.
    activity["conversation"] = {"id": "a:1"}
    activity["text"] = "\\u0000"
    body = json.dumps(activity).encode()
    assert (await edge.post("/api/messages", body, JSON | token))[0] == 200
    await edge.drained()
    assert failures(caplog.records) == []


async def test_half_a_surrogate_pair_or_an_endless_id_in_a_signed_body_is_malformed(
    edge: Edge, caplog: pytest.LogCaptureFixture
) -> None:
    """JSON can write half a surrogate pair (no character, not UTF-8); no platform sends
    one. Found by the fuzz test as a Teams conversation id that failed the reply after
    the ack; now refused at the edge. A whole pair (an emoji written as two escapes) is a
    character like any other."""
    caplog.set_level(logging.DEBUG)
    token = {"Authorization": f"Bearer {edge.teams_token()}"}
    activity = teams_message(edge, "a:1\ud8aa")
    body = json.dumps(activity).encode()  # ASCII: the half pair as the escape \ud8aa
    assert (await edge.post("/api/messages", body, JSON | token))[0] == 400
    click = p.block_action("quiz:1-1:0:1", "quiz:1-1:0:1", user=USER_ID)
    payload = json.loads(dict(parse_qsl(click.body))["payload"])
    payload["user"]["name"] = "Anna \udc00"
    form = urlencode({"payload": json.dumps(payload)}).encode()
    assert (await edge.post("/slack/events", form, FORM | signed(form)))[0] == 400
    # Nor is an id far longer than any Teams gives (the fuzz test's, of astral characters,
    # made a reply whose request line the Connector could not take).
    activity["conversation"] = {"id": "\U0003a9f4" * 200}
    body = json.dumps(activity).encode()
    assert (await edge.post("/api/messages", body, JSON | token))[0] == 400
    activity["conversation"] = {"id": "a:1"}
    activity["text"] = "hej 😀"
    body = json.dumps(activity).encode()  # the emoji as \ud83d\ude00
    assert b"\\ud83d\\ude00" in body
    assert (await edge.post("/api/messages", body, JSON | token))[0] == 200
    await edge.drained()
    assert failures(caplog.records) == []


async def test_an_activity_the_sdk_cannot_read_is_400_and_its_content_is_not_logged(
    edge: Edge, caplog: pytest.LogCaptureFixture
) -> None:
    """The SDK logs what it cannot validate, content and traceback, at ERROR: with a
    good token, a body that is JSON but no activity must leave neither."""
    caplog.set_level(logging.DEBUG)
    token = {"Authorization": f"Bearer {edge.teams_token()}"}
    for activity in ({"type": [], "text": PRIVATE_TEXT}, {"text": PRIVATE_TEXT}, [PRIVATE_TEXT]):
        body = json.dumps(activity).encode()
        assert (await edge.post("/api/messages", body, JSON | token))[0] == 400
    assert failures(caplog.records) == []
    assert [r.name for r in caplog.records if "hemliga" in r.getMessage()] == []


async def test_no_log_line_holds_a_body_an_id_or_a_secret(
    edge: Edge, caplog: pytest.LogCaptureFixture
) -> None:
    """Forged, stale and malformed requests carrying a reflection, a user id and a token:
    every record at every level of every logger is searched for them."""
    caplog.set_level(logging.DEBUG)
    event = {"type": "message", "user": USER_ID, "channel": "C_COHORT", "text": PRIVATE_TEXT}
    event |= {"ts": p.next_ts(), "thread_ts": p.next_ts()}
    body = p.event_callback(event).body.replace('"token": "', f'"token": "{TOKEN}').encode()
    malformed = body[:-5]
    requests: list[tuple[str, bytes, dict[str, str]]] = [
        ("/slack/events", body, JSON | signed(body, secret="the-old-secret")),  # forged
        ("/slack/events", body, JSON | signed(body, stamp=str(int(time.time()) - 3600))),
        ("/slack/events", body, JSON),  # unsigned
        ("/slack/events", malformed, JSON | signed(malformed)),  # signed, but broken
        ("/slack/events", body, {"Content-Type": "text/plain; charset=nonsense"}),
        ("/api/messages", body, JSON | {"Authorization": f"Bearer {TOKEN}"}),
        ("/api/messages", body, JSON | {"Authorization": f"Bearer {edge.teams_token()}x"}),
        ("/api/messages", malformed, JSON | {"Authorization": f"Bearer {edge.teams_token()}"}),
    ]
    for path, raw, headers in requests:
        status, answer = await edge.post(path, raw, headers)
        assert 400 <= status < 500, (path, headers)
        assert PRIVATE_TEXT not in answer
    logged = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)
    for secret in (PRIVATE_TEXT, "hemliga", USER_ID, TOKEN, SLACK_SECRET, edge.teams_token()[:40]):
        assert secret not in logged, secret
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert refusals and all("\n" not in r.getMessage() for r in refusals)
    assert failures(caplog.records) == []


@pytest.fixture
def at_debug(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """DEBUG on before the server starts: its sessions trace their calls only then."""
    caplog.set_level(logging.DEBUG)
    return caplog


async def test_a_request_id_goes_from_the_edge_to_the_work_and_the_call_out(
    at_debug: pytest.LogCaptureFixture, edge: Edge
) -> None:
    caplog = at_debug
    caplog.handler.addFilter(RequestIdFilter())
    reply_to = edge.slack.response_url("edge")
    body = p.slash_command("help", user="U_ANNA", response_url=reply_to).body.encode()
    headers = FORM | signed(body) | {"X-Request-Id": "edge-test-17"}
    assert (await edge.post("/slack/events", body, headers))[0] == 200
    await edge.drained()
    outgoing = [r for r in caplog.records if r.getMessage().startswith("outgoing POST")]
    assert outgoing, "the reply was not sent"
    assert {getattr(r, "request_id", None) for r in outgoing} == {"edge-test-17"}
    # One JSON object per line, the id in it.
    line = JsonFormatter().format(outgoing[0])
    assert "\n" not in line and json.loads(line)["request_id"] == "edge-test-17"
    # A caller's id that could carry anything else is replaced by one of ours.
    seen = len(caplog.records)
    headers["X-Request-Id"] = "<x> " + PRIVATE_TEXT
    assert (await edge.post("/slack/events", body, headers | signed(body)))[0] == 200
    await edge.drained()
    ids = {getattr(r, "request_id", None) for r in caplog.records[seen:]} - {None}
    assert ids and all(len(i) == 16 and "hemliga" not in i for i in ids)


# ---------------------------------------------------------------- the whole edge, fuzzed

PATHS = ["/slack/events", "/api/messages", "/healthz", "/slack/install", "/", "/x/../healthz"]
HEADER_NAMES = [
    "Content-Type",
    "X-Slack-Request-Timestamp",
    "X-Slack-Signature",
    "Authorization",
    "X-Request-Id",
    "Content-Encoding",
]


@st.composite
def raw_requests(draw: st.DrawFn) -> tuple[str, str, dict[str, str], bytes, bool]:
    """(method, path, headers, body, sign it): anything a socket may be sent."""
    method = draw(st.sampled_from(["POST", "GET", "PUT", "DELETE", "OPTIONS", "PATCH"]))
    path = draw(st.sampled_from(PATHS) | st.text("/abcz%.?=&", min_size=1, max_size=20))
    if not path.startswith("/"):
        path = "/" + path
    header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
    headers = draw(st.dictionaries(st.sampled_from(HEADER_NAMES), header_text, max_size=4))
    body = draw(
        st.binary(max_size=300)
        | st.just(DEEP_JSON)
        | st.just(DEEP_FORM)
        | st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
            max_leaves=20,
        ).map(lambda doc: json.dumps(doc).encode())
    )
    return method, path, headers, body, draw(st.booleans())


async def test_no_request_gets_a_500_or_leaves_a_traceback(
    edge: Edge, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = edge.teams_token()
    seen: dict[int, int] = {}
    for method, path, headers, body, sign in drawn(raw_requests()):
        if sign and path == "/slack/events":
            headers = headers | signed(body)
        elif sign and path == "/api/messages":
            headers = headers | {"Authorization": f"Bearer {token}"}
        try:
            async with edge.http.request(
                method,
                edge.base + path,
                data=body,
                headers=headers,
                skip_auto_headers=["Content-Type"],
            ) as response:
                await response.read()
        except (ValueError, aiohttp.InvalidURL):
            continue  # the client itself would not send it
        seen[response.status] = seen.get(response.status, 0) + 1
        assert response.status < 500, (method, path, headers, body[:200])
    assert failures(caplog.records) == []
    assert seen


# ---------------------------------------------------------------- anonymous Teams


def test_anonymous_teams_is_refused_when_the_address_bound_is_not_loopback(
    tmp_path: Path,
) -> None:
    """DIGILOG_HOST says loopback, the flag binds every address: it is the flag that counts."""
    env = {
        "PATH": "/usr/bin:/bin",
        "DIGILOG_DATA_DIR": str(tmp_path),
        "DIGILOG_HOST": "127.0.0.1",
        "DIGILOG_TEAMS_ANONYMOUS": "true",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve", "--host", "0.0.0.0", "--port", "1"],
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "DIGILOG_TEAMS_ANONYMOUS" in done.stderr and "127.0.0.1" in done.stderr


class _Transport:
    """What an accepted socket tells of its two ends (aiohttp's transport, as the OS fills it)."""

    def __init__(self, local: str, peer: str) -> None:
        self.ends = {"sockname": (local, 3000), "peername": (peer, 50000)}

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.ends.get(name, default)


@pytest.mark.parametrize(
    ("local", "peer", "anonymous_ok"),
    [
        ("127.0.0.1", "127.0.0.1", True),
        ("::1", "::1", True),
        ("::ffff:127.0.0.1", "::ffff:127.0.0.1", True),
        ("192.0.2.10", "192.0.2.99", False),  # a server bound to 0.0.0.0, reached from outside
        ("127.0.0.1", "192.0.2.99", False),
        ("0.0.0.0", "127.0.0.1", False),
    ],
)
def test_anonymous_teams_takes_only_requests_that_came_over_loopback(
    local: str, peer: str, anonymous_ok: bool
) -> None:
    request = make_mocked_request("POST", "/api/messages", transport=_Transport(local, peer))
    assert _over_loopback(request) is anonymous_ok
