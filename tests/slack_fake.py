"""A fake Slack Web API on loopback, so tests can see exactly what the app sent.

Tests fake only what crosses the process boundary. This server answers the way
slack.com/api does - same URLs (``base_url`` + method name), same bodies (form or
JSON), same ``ok``/``error`` envelope, HTTP 429 with ``Retry-After`` - so the app's
real ``AsyncWebClient``, its retry handlers and bolt all run unchanged. It records
every request as a :class:`Call` for the test to assert on.

It is asyncio-native and listens on a random port (no threads, no fixed port), so
tests can run in parallel::

    async with FakeSlack() as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
        ...  # push a request through the app
        [call] = await slack.wait_for("chat.postMessage")
        assert call.params["channel"] == "C_COHORT"
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from aiohttp import WSMsgType, web

from tests.slack_payloads import APP_ID, BOT_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID, TEAM_NAME

# Parameters slack_sdk JSON-encodes when it sends them as form fields or query params.
JSON_PARAMS = frozenset(
    {"blocks", "attachments", "view", "files", "metadata", "unfurls", "outputs", "user_auth_blocks"}
)
MAX_BLOCKS = 50  # Slack refuses more blocks per message with invalid_blocks
MAX_TEXT = 40_000  # ... and longer text with msg_too_long
RESPONSE_URL = "response_url:"  # method prefix under which response_url posts are recorded
UPLOAD = "upload:"  # method prefix under which file uploads (step 2 of v2) are recorded

Json = dict[str, Any]
Handler = Callable[["FakeSlack", "Call"], Json]


@dataclass(frozen=True)
class Call:
    """One request the fake received.

    ``params`` merges query string and body, with JSON-encoded fields decoded;
    ``token`` comes from the ``Authorization: Bearer`` header or a ``token`` param;
    ``at`` is ``time.monotonic()`` on arrival.
    """

    method: str
    params: dict[str, Any]
    token: str | None
    at: float


@dataclass
class UploadedFile:
    """A file uploaded through files.getUploadURLExternal + the upload URL."""

    id: str
    filename: str
    length: int
    content: bytes = b""
    title: str | None = None
    channel_id: str | None = None
    initial_comment: str | None = None
    thread_ts: str | None = None
    completed: bool = False


@dataclass
class _Bucket:
    rate: float
    capacity: float
    tokens: float
    at: float

    def take(self, now: float) -> float:
        """0 if a call may go now (and count it), else the seconds until one may."""
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass
class _Fault:
    """An injected failure, consumed by the next call to its method."""

    error: str
    status: int = 200
    retry_after: int | None = None


class FakeSlack:
    """The fake Web API server; use as ``async with FakeSlack() as slack``.

    State tests may read or fill:

    - ``calls``: every request, in arrival order;
    - ``users[user_id]``: what ``users.info`` knows (keys: name, real_name,
      display_name, email, locale, tz, is_bot, plus any extra top-level fields);
    - ``channels[channel_id]``: extra fields for ``conversations.info``;
    - ``messages[(channel, ts)]``: the current text/blocks of each message posted,
      updated by chat.update and removed by chat.delete;
    - ``files[file_id]``: uploaded files with their bytes;
    - ``home_view_ids[user_id]``: the App Home view id views.publish gave each user.
    """

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.users: dict[str, dict[str, Any]] = {
            BOT_USER_ID: {"name": "digilog", "real_name": "Digilog", "is_bot": True}
        }
        self.channels: dict[str, dict[str, Any]] = {}
        self.messages: dict[tuple[str, str], Json] = {}
        self.files: dict[str, UploadedFile] = {}
        self._faults: defaultdict[str, deque[_Fault]] = defaultdict(deque)
        self._buckets: dict[str, _Bucket] = {}
        self.rate_limited = 0  # 429s answered because a rate was exceeded
        self._arrived = asyncio.Condition()
        # Socket Mode: the app's WebSocket and the acks it sent, by envelope id.
        self._ws: web.WebSocketResponse | None = None
        self.socket_acks: dict[str, dict[str, Any]] = {}
        self._last_ts = 0
        self._stopping = asyncio.Event()
        self._ids = itertools.count(1)
        self.home_view_ids: dict[str, str] = {}
        self._runner: web.AppRunner | None = None
        self._base = ""

    # ------------------------------------------------------------ lifetime

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a port the OS picks."""
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_route("*", "/hooks/{name:.+}", self._hook)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self._base = f"http://{host}:{port}"

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------ what tests use

    @property
    def api_url(self) -> str:
        """Pass as ``AsyncWebClient(base_url=...)``; ends with "/" as slack_sdk needs."""
        return f"{self._started()}/api/"

    def response_url(self, name: str) -> str:
        """A ``response_url`` for a payload; posts to it are recorded as
        ``Call(method="response_url:<name>", params=<the JSON body>)``."""
        return f"{self._started()}/hooks/{name}"

    def _started(self) -> str:
        if not self._base:
            raise RuntimeError("FakeSlack is not started; use `async with FakeSlack() as slack`")
        return self._base

    def calls_to(self, method: str) -> list[Call]:
        """The calls to one method (e.g. ``"chat.postMessage"``), oldest first."""
        return [call for call in self.calls if call.method == method]

    def responses(self, name: str) -> list[Call]:
        """What the app posted to ``response_url(name)``."""
        return self.calls_to(RESPONSE_URL + name)

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5,  # noqa: ASYNC109 - a deadline per wait reads best in a test
    ) -> list[Call]:
        """Wait until at least ``count`` calls to ``method`` arrived; return them all.

        The app acks first and sends later, so a test must wait rather than look
        right after the request. Raises AssertionError naming what did arrive.
        """
        async with self._arrived:
            try:
                async with asyncio.timeout(timeout):
                    await self._arrived.wait_for(lambda: len(self.calls_to(method)) >= count)
            except TimeoutError:
                seen = [call.method for call in self.calls]
                raise AssertionError(
                    f"expected {count} call(s) to {method} within {timeout}s, "
                    f"got {len(self.calls_to(method))}; all calls: {seen}"
                ) from None
        return self.calls_to(method)

    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 1) -> None:
        """The next ``times`` calls to ``method`` get HTTP 429, ``Retry-After`` and
        ``{"ok": false, "error": "ratelimited"}``, as Slack does."""
        for _ in range(times):
            self._faults[method].append(_Fault("ratelimited", 429, retry_after))

    def enforce_rate(self, method: str, per_second: float, *, burst: int = 1) -> None:
        """From now on, calls to ``method`` beyond ``per_second`` (a token bucket of
        ``burst``) get HTTP 429 with ``Retry-After`` in whole seconds, as Slack does."""
        self._buckets[method] = _Bucket(per_second, float(burst), float(burst), time.monotonic())

    def lose_answer(self, method: str, *, times: int = 1) -> None:
        """The next ``times`` calls to ``method`` take effect, but the connection closes
        before the answer: the app cannot know whether it worked."""
        for _ in range(times):
            self._faults[method].append(_Fault("", LOST))

    def stall_answer(self, method: str) -> None:
        """The next call to ``method`` takes effect, and its answer waits until the fake
        stops: the app is stuck as a process is that dies mid-call."""
        self._faults[method].append(_Fault("", STALLED))

    def fail(self, method: str, *, error: str, times: int = 1, status: int = 200) -> None:
        """The next ``times`` calls to ``method`` answer ``{"ok": false, "error": error}``
        (with HTTP ``status``: Slack answers 500 with ``internal_error`` on a bad day)."""
        for _ in range(times):
            self._faults[method].append(_Fault(error, status))

    def clear(self) -> None:
        """Forget recorded calls (not users, channels, messages or faults)."""
        self.calls.clear()

    def next_ts(self) -> str:
        """A fresh message ts, as Slack's: the time now, made unique and increasing."""
        micros = max(int(time.time() * 1_000_000), self._last_ts + 1)
        self._last_ts = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def upload_url(self, file_id: str) -> str:
        """Where step 2 of files_upload_v2 posts the bytes (files.slack.com on Slack)."""
        return f"{self._started()}/upload/{file_id}"

    def next_id(self, prefix: str) -> str:
        """A fresh Slack-style id such as ``V000001`` or ``F000002``."""
        return f"{prefix}{next(self._ids):06d}"

    # ------------------------------------------------------------ HTTP side

    async def _record(self, call: Call) -> None:
        async with self._arrived:
            self.calls.append(call)
            self._arrived.notify_all()

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _read_params(request)
        token = _bearer(request) or _pop_str(params, "token")
        call = Call(method, params, token, time.monotonic())
        await self._record(call)
        # oauth.v2.access authenticates with the app's client id and secret instead,
        # apps.connections.open with an app-level token.
        wanted = "xapp-" if method in APP_TOKEN_METHODS else "xoxb-"
        if method not in CLIENT_AUTHENTICATED and not (token and token.startswith(wanted)):
            return _answer({"ok": False, "error": "invalid_auth"})
        faults = self._faults.get(method)
        handler = HANDLERS.get(method)
        if faults and faults[0].status in (LOST, STALLED):
            fault = faults.popleft()
            answer = handler(self, call) if handler else {"ok": True}
            if fault.status == STALLED:
                await self._stopping.wait()
                return _answer(answer)
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        if faults:
            return _fault_answer(faults.popleft())
        bucket = self._buckets.get(method)
        if bucket is not None and (wait := bucket.take(call.at)) > 0:
            self.rate_limited += 1
            return _fault_answer(_Fault("ratelimited", 429, max(1, math.ceil(wait))))
        return _answer(handler(self, call) if handler else {"ok": True})

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode's WebSocket: say hello, then collect the app's acks."""
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_json({"type": "hello", "num_connections": 1})
        async with self._arrived:
            self._ws = socket
            self._arrived.notify_all()
        async for message in socket:
            if message.type != WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            if "envelope_id" in data:
                async with self._arrived:
                    self.socket_acks[data["envelope_id"]] = data
                    self._arrived.notify_all()
        return socket

    async def socket_push(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send an envelope over Socket Mode as Slack does; return the app's ack."""
        envelope_id = uuid.uuid4().hex
        async with asyncio.timeout(5):
            async with self._arrived:
                await self._arrived.wait_for(lambda: self._ws is not None)
            assert self._ws is not None
            await self._ws.send_json(
                {
                    "envelope_id": envelope_id,
                    "type": kind,
                    "accepts_response_payload": kind != "events_api",
                    "payload": payload,
                }
            )
            async with self._arrived:
                await self._arrived.wait_for(lambda: envelope_id in self.socket_acks)
        return self.socket_acks[envelope_id]

    async def _hook(self, request: web.Request) -> web.Response:
        """A response_url: Slack answers a plain-text ``ok``, or 429 when the test
        rate-limited ``response_url:<name>`` (that post is not recorded: it did not go)."""
        params = await _read_params(request)
        name = request.match_info["name"]
        if faults := self._faults.get(RESPONSE_URL + name):
            self.rate_limited += 1
            return _fault_answer(faults.popleft())
        await self._record(Call(RESPONSE_URL + name, params, None, time.monotonic()))
        return web.Response(text="ok", content_type="text/plain")

    async def _upload(self, request: web.Request) -> web.Response:
        """Step 2 of files_upload_v2: raw bytes to the URL we handed out."""
        file_id = request.match_info["file_id"]
        content = await request.read()
        upload = self.files.get(file_id)
        await self._record(Call(UPLOAD + file_id, {"content": content}, None, time.monotonic()))
        if upload is None:
            return web.Response(status=404, text="file not found", content_type="text/plain")
        upload.content = content
        return web.Response(text=f"OK - {len(content)}", content_type="text/plain")

    # ------------------------------------------------------------ pieces for handlers

    def user_object(self, user_id: str, *, with_locale: bool) -> Json | None:
        """``users.info``'s user, built from ``users[user_id]``; None if unknown."""
        entry = self.users.get(user_id)
        if entry is None:
            return None
        known = {"name", "real_name", "display_name", "email", "locale", "tz", "is_bot"}
        name = entry.get("name", user_id.lower())
        real_name = entry.get("real_name", name.title())
        user: Json = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": name,
            "deleted": False,
            "real_name": real_name,
            "tz": entry.get("tz", "Europe/Stockholm"),
            "tz_label": "Central European Time",
            "tz_offset": 3600,
            "is_admin": False,
            "is_owner": False,
            "is_bot": entry.get("is_bot", False),
            "is_app_user": False,
            "updated": 1_700_000_000,
            "profile": {
                "display_name": entry.get("display_name", name),
                "real_name": real_name,
                "email": entry.get("email", f"{name}@example.org"),
                "team": TEAM_ID,
            },
        }
        if with_locale:
            user["locale"] = entry.get("locale", "sv-SE")
        user.update({k: v for k, v in entry.items() if k not in known})
        return user

    def view_object(self, view: Json, view_id: str | None) -> Json:
        """A view as views.* returns it: what was sent plus id, hash and state."""
        return {
            "state": {"values": {}},
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            **view,
            "id": view_id or self.next_id("V"),
            "team_id": TEAM_ID,
            "hash": f"{int(time.time())}.{self.next_id('h')}",
            "app_id": APP_ID,
            "bot_id": BOT_ID,
        }


# ---------------------------------------------------------------- parsing


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Query string plus body, whichever encoding slack_sdk chose."""
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json() if request.can_read_body else {}
        params.update(body)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        for key in form:
            values = [_form_value(v) for v in form.getall(key)]
            params[key] = values[0] if len(values) == 1 else values
    return {key: _decode(key, value) for key, value in params.items()}


def _form_value(value: Any) -> Any:
    """Multipart file fields arrive as FileField; keep their bytes."""
    file = getattr(value, "file", None)
    return file.read() if file is not None else value


def _decode(key: str, value: Any) -> Any:
    """JSON-decode the params slack_sdk sends as JSON strings inside forms."""
    if key in JSON_PARAMS and isinstance(value, str):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme == "Bearer" else None


def _pop_str(params: dict[str, Any], key: str) -> str | None:
    value = params.pop(key, None)
    return value if isinstance(value, str) else None


def _answer(body: Json) -> web.Response:
    return web.json_response(body)


def _fault_answer(fault: _Fault) -> web.Response:
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
    return web.json_response(
        {"ok": False, "error": fault.error}, status=fault.status, headers=headers
    )


def _truthy(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


# ---------------------------------------------------------------- method handlers


def _auth_test(slack: FakeSlack, call: Call) -> Json:
    return {
        "ok": True,
        "url": f"https://{TEAM_DOMAIN}.slack.com/",
        "team": TEAM_NAME,
        "user": "digilog",
        "team_id": TEAM_ID,
        "user_id": BOT_USER_ID,
        "bot_id": BOT_ID,
        "is_enterprise_install": False,
    }


def _channel_of(params: Json) -> str | None:
    """Posting to a user id lands in the DM with them, as on Slack."""
    channel = params.get("channel")
    if not isinstance(channel, str) or not channel:
        return None
    return f"D{channel}" if channel[:1] in ("U", "W") else channel


def _message_error(params: Json) -> str | None:
    """The checks Slack makes before posting that an app can fail."""
    text = params.get("text")
    blocks = params.get("blocks")
    if not text and not blocks and not params.get("attachments"):
        return "no_text"
    if isinstance(text, str) and len(text) > MAX_TEXT:
        return "msg_too_long"
    if isinstance(blocks, list) and len(blocks) > MAX_BLOCKS:
        return "invalid_blocks"
    return None


def _post_message(slack: FakeSlack, call: Call) -> Json:
    channel = _channel_of(call.params)
    if channel is None:
        return {"ok": False, "error": "channel_not_found"}
    if error := _message_error(call.params):
        return {"ok": False, "error": error}
    ts = slack.next_ts()
    message: Json = {
        "type": "message",
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "app_id": APP_ID,
        "team": TEAM_ID,
        "text": call.params.get("text", ""),
        "blocks": call.params.get("blocks", []),
        "ts": ts,
    }
    if thread_ts := call.params.get("thread_ts"):
        message["thread_ts"] = thread_ts
    if metadata := call.params.get("metadata"):
        message["metadata"] = metadata
    slack.messages[(channel, ts)] = message
    return {"ok": True, "channel": channel, "ts": ts, "message": message}


def _history(slack: FakeSlack, call: Call) -> Json:
    """conversations.history and .replies, newest first; metadata only when asked for."""
    channel = str(call.params.get("channel", ""))
    oldest = float(call.params.get("oldest") or 0)
    thread = call.params.get("ts") if call.method == "conversations.replies" else None
    with_metadata = _truthy(call.params.get("include_all_metadata"))
    found = []
    for (where, ts), message in slack.messages.items():
        if where != channel or float(ts) < oldest:
            continue
        if thread is not None and ts != thread and message.get("thread_ts") != thread:
            continue
        if thread is None and message.get("thread_ts") not in (None, ts):
            continue  # history shows a thread's root, not its replies
        shown = dict(message)
        if not with_metadata:
            shown.pop("metadata", None)
        found.append(shown)
    found.sort(key=lambda m: float(m["ts"]), reverse=True)
    return {"ok": True, "messages": found, "has_more": False}


def _permalink(slack: FakeSlack, call: Call) -> Json:
    channel, ts = str(call.params.get("channel", "")), str(call.params.get("message_ts", ""))
    if (channel, ts) not in slack.messages:
        return {"ok": False, "error": "message_not_found"}
    return {
        "ok": True,
        "channel": channel,
        "permalink": f"https://{TEAM_DOMAIN}.slack.com/archives/{channel}/p{ts.replace('.', '')}",
    }


def _post_ephemeral(slack: FakeSlack, call: Call) -> Json:
    if _channel_of(call.params) is None:
        return {"ok": False, "error": "channel_not_found"}
    if not call.params.get("user"):
        return {"ok": False, "error": "user_not_in_channel"}
    if error := _message_error(call.params):
        return {"ok": False, "error": error}
    return {"ok": True, "message_ts": slack.next_ts()}


def _update(slack: FakeSlack, call: Call) -> Json:
    """Lenient about unknown ts: payload builders refer to messages never posted here."""
    channel, ts = call.params.get("channel", ""), call.params.get("ts", "")
    if error := _message_error(call.params):
        return {"ok": False, "error": error}
    message = slack.messages.get((channel, ts), {"type": "message", "user": BOT_USER_ID})
    message.update(text=call.params.get("text", ""), blocks=call.params.get("blocks", []), ts=ts)
    message["edited"] = {"user": BOT_USER_ID, "ts": slack.next_ts()}
    slack.messages[(channel, ts)] = message
    return {"ok": True, "channel": channel, "ts": ts, "text": message["text"], "message": message}


def _delete(slack: FakeSlack, call: Call) -> Json:
    channel, ts = call.params.get("channel", ""), call.params.get("ts", "")
    slack.messages.pop((channel, ts), None)
    return {"ok": True, "channel": channel, "ts": ts}


def _views(slack: FakeSlack, call: Call) -> Json:
    """views.open/push/update/publish; a user's Home keeps one view id, as on Slack."""
    view = call.params.get("view")
    if not isinstance(view, dict):
        return {"ok": False, "error": "invalid_arguments"}
    view_id = call.params.get("view_id")
    if call.method == "views.publish":
        user = str(call.params.get("user_id", ""))
        view_id = slack.home_view_ids.setdefault(user, slack.next_id("V"))
    return {"ok": True, "view": slack.view_object(view, view_id)}


def _users_info(slack: FakeSlack, call: Call) -> Json:
    """Like Slack, ``locale`` is only there when asked for with ``include_locale``."""
    user = slack.user_object(
        str(call.params.get("user", "")), with_locale=_truthy(call.params.get("include_locale"))
    )
    return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}


def _conversations_open(slack: FakeSlack, call: Call) -> Json:
    users = call.params.get("users")
    if isinstance(users, str) and users:
        ids = users.split(",")
        return {
            "ok": True,
            "no_op": True,
            "already_open": True,
            "channel": {"id": "D" + "".join(ids)},
        }
    if channel := call.params.get("channel"):
        return {"ok": True, "no_op": True, "already_open": True, "channel": {"id": channel}}
    return {"ok": False, "error": "users_list_not_supplied"}


def _conversations_info(slack: FakeSlack, call: Call) -> Json:
    channel = str(call.params.get("channel", ""))
    if not channel:
        return {"ok": False, "error": "channel_not_found"}
    is_im = channel.startswith("D")
    info: Json = {
        "id": channel,
        "name": channel.lower(),
        "is_channel": channel.startswith("C"),
        "is_group": channel.startswith("G"),
        "is_im": is_im,
        "is_private": not channel.startswith("C"),
        "is_archived": False,
        "is_member": True,
        "created": 1_700_000_000,
        "context_team_id": TEAM_ID,
    }
    if is_im:
        info["user"] = channel[1:]
    info.update(slack.channels.get(channel, {}))
    return {"ok": True, "channel": info}


def _get_upload_url(slack: FakeSlack, call: Call) -> Json:
    filename = call.params.get("filename")
    length = call.params.get("length")
    if not filename or length is None:
        return {"ok": False, "error": "invalid_arguments"}
    file_id = slack.next_id("F")
    slack.files[file_id] = UploadedFile(file_id, str(filename), int(length))
    return {"ok": True, "upload_url": slack.upload_url(file_id), "file_id": file_id}


def _complete_upload(slack: FakeSlack, call: Call) -> Json:
    entries = call.params.get("files")
    if not isinstance(entries, list) or not entries:
        return {"ok": False, "error": "invalid_arguments"}
    done: list[Json] = []
    for entry in entries:
        upload = slack.files.get(entry.get("id", ""))
        if upload is None or len(upload.content) != upload.length:
            return {"ok": False, "error": "file_not_found"}
        upload.title = entry.get("title") or upload.filename
        upload.channel_id = call.params.get("channel_id")
        upload.initial_comment = call.params.get("initial_comment")
        upload.thread_ts = call.params.get("thread_ts")
        upload.completed = True
        done.append(
            {"id": upload.id, "name": upload.filename, "title": upload.title, "size": upload.length}
        )
    return {"ok": True, "files": done}


def _team_info(slack: FakeSlack, call: Call) -> Json:
    return {
        "ok": True,
        "team": {
            "id": TEAM_ID,
            "name": TEAM_NAME,
            "domain": TEAM_DOMAIN,
            "email_domain": "example.org",
        },
    }


def _oauth_access(slack: FakeSlack, call: Call) -> Json:
    """The end of an OAuth install: a bot token for a second workspace, T2."""
    if call.params.get("code") != OAUTH_CODE:
        return {"ok": False, "error": "invalid_code"}
    return {
        "ok": True,
        "app_id": "A_DIGILOG",
        "authed_user": {"id": "U_ADMIN"},
        "scope": "commands,chat:write",
        "token_type": "bot",
        "access_token": "xoxb-installed-t2",
        "bot_user_id": "UBOT",
        "team": {"id": "T2", "name": "Second workspace"},
        "enterprise": None,
        "is_enterprise_install": False,
    }


def _connections_open(slack: FakeSlack, call: Call) -> Json:
    return {"ok": True, "url": slack._started().replace("http://", "ws://") + "/socket"}


OAUTH_CODE = "a-valid-oauth-code"
LOST = -1  # a fault's status: the call takes effect, the answer never arrives
STALLED = -2  # the call takes effect, the answer waits until the fake stops
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})
CLIENT_AUTHENTICATED = frozenset({"oauth.v2.access"})

HANDLERS: dict[str, Handler] = {
    "oauth.v2.access": _oauth_access,
    "apps.connections.open": _connections_open,
    "auth.test": _auth_test,
    "chat.postMessage": _post_message,
    "chat.postEphemeral": _post_ephemeral,
    "chat.getPermalink": _permalink,
    "conversations.history": _history,
    "conversations.replies": _history,
    "chat.update": _update,
    "chat.delete": _delete,
    "views.open": _views,
    "views.publish": _views,
    "views.update": _views,
    "views.push": _views,
    "users.info": _users_info,
    "conversations.open": _conversations_open,
    "conversations.info": _conversations_info,
    "files.getUploadURLExternal": _get_upload_url,
    "files.completeUploadExternal": _complete_upload,
    "team.info": _team_info,
}
