"""Real-shaped Slack request payloads, and the signature Slack puts on them.

Scenario tests push these through the real bolt dispatcher, so the shapes follow
what Slack actually sends (Slack's API docs and the fixtures in
slackapi/bolt-python's tests): interactive payloads carry ``enterprise: null``,
``api_app_id``, ``trigger_id`` and a ``response_url``; events come in an
``event_callback`` envelope with a fresh ``event_id`` and ``authorizations``.

Each builder returns a :class:`SlackRequest` - the body as Slack would send it
and its content type - which unpacks as ``body, content_type`` and can sign
itself with :meth:`SlackRequest.headers`.

The default ``response_url`` points at a closed port on loopback on purpose: a
test that forgets to pass ``slack.response_url(...)`` fails fast instead of
talking to hooks.slack.com.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple
from urllib.parse import parse_qsl, urlencode

TEAM_ID = "T1"
TEAM_DOMAIN = "digilog-test"
TEAM_NAME = "Digilog test"
APP_ID = "A_DIGILOG"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
VERIFICATION_TOKEN = "legacy-verification-token"  # deprecated by Slack, still sent
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
NOWHERE = "http://127.0.0.1:9/hooks"  # discard port: connection refused, never the internet

Container = Literal["message", "ephemeral", "view"]
ActionKind = Literal["button", "static_select", "radio_buttons", "overflow"]


class SlackRequest(NamedTuple):
    """What one HTTP POST to /slack/events carries: a body and its content type."""

    body: str
    content_type: str

    def headers(
        self,
        secret: str,
        *,
        timestamp: int | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
    ) -> dict[str, str]:
        """Signed headers for this body; see :func:`signed_headers`."""
        return signed_headers(
            self.body,
            secret,
            timestamp=timestamp,
            content_type=self.content_type,
            retry_num=retry_num,
            retry_reason=retry_reason,
        )

    @property
    def payload(self) -> dict[str, Any]:
        """The decoded payload, for assertions (e.g. ``req.payload["event_id"]``)."""
        if self.content_type == JSON:
            decoded: dict[str, Any] = json.loads(self.body)
            return decoded
        fields = dict(parse_qsl(self.body, keep_blank_values=True))
        if "payload" in fields:
            inner: dict[str, Any] = json.loads(fields["payload"])
            return inner
        return dict(fields)


def signed_headers(
    body: str,
    secret: str,
    *,
    timestamp: int | None = None,
    content_type: str,
    retry_num: int | None = None,
    retry_reason: str | None = None,
) -> dict[str, str]:
    """Headers Slack sends: ``v0=`` + HMAC-SHA256(secret, ``v0:{timestamp}:{body}``).

    Computed here by hand rather than with slack_sdk, so that verifying them with
    slack_sdk's ``SignatureVerifier`` is an independent check. Pass ``retry_num``
    and ``retry_reason`` (e.g. ``1, "http_timeout"``) to mimic Slack redelivering
    an event it thinks we missed; the body, and so the ``event_id``, stays the same.
    """
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
    }
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
    return headers


# ---------------------------------------------------------------- ids and stamps

_ts_counter = itertools.count(1)
_trigger_counter = itertools.count(1)


def next_ts() -> str:
    """A fresh Slack message ts (``"1712345678.123456"``), strictly increasing."""
    micros = int(time.time() * 1_000_000) + next(_ts_counter)
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def new_event_id() -> str:
    """An ``event_id`` shaped like Slack's (``Ev`` + 10 characters), unique per call."""
    return "Ev" + uuid.uuid4().hex[:10].upper()


def new_trigger_id() -> str:
    """A ``trigger_id`` shaped like Slack's; bolt passes it to ``views.open``."""
    n = next(_trigger_counter)
    return f"{int(time.time())}.{n}.{uuid.uuid4().hex[:24]}"


def _default_response_url(kind: str, team: str) -> str:
    return f"{NOWHERE}/{kind}/{team}/{uuid.uuid4().hex[:12]}"


def _form(fields: Mapping[str, str]) -> SlackRequest:
    return SlackRequest(urlencode(fields), FORM)


def _interactive(payload: Mapping[str, Any]) -> SlackRequest:
    """Interactive payloads are JSON inside a form field named ``payload``."""
    return _form({"payload": json.dumps(payload)})


def _user(user: str, team: str) -> dict[str, str]:
    name = user.lower()
    return {"id": user, "username": name, "name": name, "team_id": team}


def _team(team: str) -> dict[str, str]:
    return {"id": team, "domain": TEAM_DOMAIN}


# ---------------------------------------------------------------- slash commands


def slash_command(
    text: str,
    *,
    user: str = "U_ANNA",
    channel: str = "C_COHORT",
    team: str = TEAM_ID,
    command: str = "/digilog",
    response_url: str | None = None,
    trigger_id: str | None = None,
    channel_name: str | None = None,
) -> SlackRequest:
    """A slash command, form-encoded exactly as Slack posts it (no enterprise fields)."""
    return _form(
        {
            "token": VERIFICATION_TOKEN,
            "team_id": team,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel,
            "channel_name": channel_name or _channel_name(channel),
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url or _default_response_url("commands", team),
            "trigger_id": trigger_id or new_trigger_id(),
        }
    )


def _channel_name(channel: str) -> str:
    return "directmessage" if channel.startswith("D") else channel.lower()


def _channel_type(channel: str) -> str:
    return {"D": "im", "G": "group"}.get(channel[:1], "channel")


# ---------------------------------------------------------------- interactivity


def _action(action_id: str, value: str, block_id: str, kind: ActionKind) -> dict[str, Any]:
    """One element of ``actions``: buttons carry ``value``, menus ``selected_option``."""
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": block_id,
        "type": kind,
        "action_ts": next_ts(),
    }
    if kind == "button":
        action["value"] = value
        action["text"] = {"type": "plain_text", "text": value, "emoji": True}
    else:
        action["selected_option"] = {
            "text": {"type": "plain_text", "text": value, "emoji": True},
            "value": value,
        }
    return action


def _view(
    view_id: str,
    *,
    team: str,
    view_type: str,
    callback_id: str,
    private_metadata: str,
    state_values: Mapping[str, Any],
    blocks: list[dict[str, Any]],
) -> dict[str, Any]:
    """A view object as Slack echoes it back in interactive payloads."""
    view: dict[str, Any] = {
        "id": view_id,
        "team_id": team,
        "type": view_type,
        "blocks": blocks,
        "private_metadata": private_metadata,
        "callback_id": callback_id,
        "state": {"values": dict(state_values)},
        "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
        "title": {"type": "plain_text", "text": "Digilog"},
        "clear_on_close": False,
        "notify_on_close": False,
        "close": None,
        "submit": None,
        "previous_view_id": None,
        "root_view_id": view_id,
        "app_id": APP_ID,
        "external_id": "",
        "app_installed_team_id": team,
        "bot_id": BOT_ID,
    }
    if view_type == "modal":
        view["close"] = {"type": "plain_text", "text": "Avbryt"}
        view["submit"] = {"type": "plain_text", "text": "Skicka"}
    return view


def block_action(
    action_id: str,
    value: str,
    *,
    user: str = "U_ANNA",
    channel: str = "C_COHORT",
    message_ts: str = "1700000000.000100",
    container: Container = "message",
    response_url: str | None = None,
    trigger_id: str | None = None,
    team: str = TEAM_ID,
    block_id: str = "digilog",
    kind: ActionKind = "button",
    message_text: str = "",
    view_id: str = "V_HOME",
    view_type: str = "home",
    view_callback_id: str = "",
    private_metadata: str = "",
) -> SlackRequest:
    """A ``block_actions`` payload: a click on a button (or a menu choice).

    ``container`` decides the shape, as in Slack: ``"message"`` carries the
    ``message`` and ``channel``; ``"ephemeral"`` carries the channel but no message
    (Slack does not echo ephemeral messages); ``"view"`` carries the ``view`` (App
    Home or a modal) and no channel or response_url.
    """
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user, team),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": _container(container, channel, message_ts, view_id),
        "trigger_id": trigger_id or new_trigger_id(),
        "team": _team(team),
        "enterprise": None,
        "is_enterprise_install": False,
        "state": {"values": {}},
        "actions": [_action(action_id, value, block_id, kind)],
    }
    if container == "view":
        payload["view"] = _view(
            view_id,
            team=team,
            view_type=view_type,
            callback_id=view_callback_id,
            private_metadata=private_metadata,
            state_values={},
            blocks=[],
        )
        return _interactive(payload)
    payload["channel"] = {"id": channel, "name": _channel_name(channel)}
    payload["response_url"] = response_url or _default_response_url("actions", team)
    if container == "message":
        payload["message"] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": team,
            "text": message_text,
            "ts": message_ts,
            "blocks": [],
        }
    return _interactive(payload)


def _container(kind: Container, channel: str, message_ts: str, view_id: str) -> dict[str, Any]:
    if kind == "view":
        return {"type": "view", "view_id": view_id}
    return {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel,
        "is_ephemeral": kind == "ephemeral",
    }


def _state_value(value: Any) -> Any:
    """Plain strings stand for a plain_text_input; anything else is passed as given."""
    if isinstance(value, str):
        return {"type": "plain_text_input", "value": value}
    return value


def view_submission(
    callback_id: str,
    state_values: Mapping[str, Mapping[str, Any]],
    private_metadata: str = "",
    *,
    user: str = "U_ANNA",
    team: str = TEAM_ID,
    view_id: str = "V_MODAL",
    trigger_id: str | None = None,
) -> SlackRequest:
    """A modal submitted: ``state_values`` is ``{block_id: {action_id: value}}``.

    A value may be a plain string (taken as a ``plain_text_input``) or the full
    element state, e.g. ``{"type": "static_select", "selected_option": {...}}``.
    Input blocks matching the state are generated so the view looks consistent.
    """
    values = {
        block: {action: _state_value(v) for action, v in actions.items()}
        for block, actions in state_values.items()
    }
    blocks = [
        {
            "type": "input",
            "block_id": block,
            "label": {"type": "plain_text", "text": block},
            "optional": False,
            "element": {"type": state["type"], "action_id": action},
        }
        for block, actions in values.items()
        for action, state in actions.items()
    ]
    payload: dict[str, Any] = {
        "type": "view_submission",
        "team": _team(team),
        "user": _user(user, team),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or new_trigger_id(),
        "view": _view(
            view_id,
            team=team,
            view_type="modal",
            callback_id=callback_id,
            private_metadata=private_metadata,
            state_values=values,
            blocks=blocks,
        ),
        "response_urls": [],
        "enterprise": None,
        "is_enterprise_install": False,
    }
    return _interactive(payload)


def message_shortcut(
    callback_id: str,
    *,
    user: str = "U_ANNA",
    channel: str = "C_COHORT",
    message_ts: str = "1700000000.000100",
    message_user: str = "U_BERTIL",
    message_text: str = "",
    team: str = TEAM_ID,
    trigger_id: str | None = None,
    response_url: str | None = None,
    thread_ts: str | None = None,
) -> SlackRequest:
    """A message shortcut (``type: message_action``) chosen on someone's message."""
    message: dict[str, Any] = {
        "type": "message",
        "user": message_user,
        "ts": message_ts,
        "text": message_text,
        "team": team,
    }
    if thread_ts is not None:
        message["thread_ts"] = thread_ts
    payload = {
        "type": "message_action",
        "token": VERIFICATION_TOKEN,
        "action_ts": next_ts(),
        "team": _team(team),
        "user": _user(user, team),
        "channel": {"id": channel, "name": _channel_name(channel)},
        "is_enterprise_install": False,
        "enterprise": None,
        "api_app_id": APP_ID,
        "callback_id": callback_id,
        "trigger_id": trigger_id or new_trigger_id(),
        "response_url": response_url or _default_response_url("app", team),
        "message_ts": message_ts,
        "message": message,
    }
    return _interactive(payload)


# ---------------------------------------------------------------- Events API


def event_callback(event: Mapping[str, Any], *, team: str = TEAM_ID) -> SlackRequest:
    """Wrap one event in the Events API envelope, with a fresh ``event_id``.

    Public so a test can send an event shape not covered below.
    """
    envelope = {
        "token": VERIFICATION_TOKEN,
        "team_id": team,
        "context_team_id": team,
        "context_enterprise_id": None,
        "api_app_id": APP_ID,
        "event": dict(event),
        "type": "event_callback",
        "event_id": new_event_id(),
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{uuid.uuid4().hex[:40]}",
    }
    return SlackRequest(json.dumps(envelope), JSON)


def _rich_text(text: str) -> list[dict[str, Any]]:
    """The rich_text block Slack adds to messages typed in the client."""
    return [
        {
            "type": "rich_text",
            "block_id": uuid.uuid4().hex[:5],
            "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
            ],
        }
    ]


def message_event(
    text: str,
    *,
    user: str = "U_ANNA",
    channel: str = "C_COHORT",
    ts: str | None = None,
    thread_ts: str | None = None,
    subtype: str | None = None,
    team: str = TEAM_ID,
    parent_user_id: str = BOT_USER_ID,
) -> SlackRequest:
    """A person posts in a channel, a DM (``D...``) or, with ``thread_ts``, a thread."""
    ts = ts or next_ts()
    event: dict[str, Any] = {
        "client_msg_id": str(uuid.uuid4()),
        "type": "message",
        "text": text,
        "user": user,
        "ts": ts,
        "blocks": _rich_text(text),
        "team": team,
        "channel": channel,
        "event_ts": ts,
        "channel_type": _channel_type(channel),
    }
    if subtype is not None:
        event["subtype"] = subtype
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
        event["parent_user_id"] = parent_user_id
    return event_callback(event, team=team)


def message_changed(
    channel: str,
    ts: str,
    thread_ts: str | None,
    new_text: str,
    user: str,
    *,
    previous_text: str = "",
    team: str = TEAM_ID,
) -> SlackRequest:
    """Someone edited their message ``ts``; the event itself has a new ts."""
    event_ts = next_ts()
    message: dict[str, Any] = {
        "type": "message",
        "text": new_text,
        "user": user,
        "team": team,
        "ts": ts,
        "edited": {"user": user, "ts": event_ts},
        "blocks": _rich_text(new_text),
    }
    previous: dict[str, Any] = {
        "type": "message",
        "text": previous_text,
        "user": user,
        "team": team,
        "ts": ts,
        "blocks": _rich_text(previous_text),
    }
    if thread_ts is not None:
        message["thread_ts"] = previous["thread_ts"] = thread_ts
    event = {
        "type": "message",
        "subtype": "message_changed",
        "message": message,
        "previous_message": previous,
        "channel": channel,
        "hidden": True,
        "ts": event_ts,
        "event_ts": event_ts,
        "channel_type": _channel_type(channel),
    }
    return event_callback(event, team=team)


def message_deleted(
    channel: str,
    deleted_ts: str,
    thread_ts: str | None,
    user: str,
    *,
    previous_text: str = "",
    team: str = TEAM_ID,
) -> SlackRequest:
    """Someone deleted their message ``deleted_ts``."""
    event_ts = next_ts()
    previous: dict[str, Any] = {
        "type": "message",
        "text": previous_text,
        "user": user,
        "team": team,
        "ts": deleted_ts,
    }
    if thread_ts is not None:
        previous["thread_ts"] = thread_ts
    event = {
        "type": "message",
        "subtype": "message_deleted",
        "previous_message": previous,
        "channel": channel,
        "hidden": True,
        "deleted_ts": deleted_ts,
        "event_ts": event_ts,
        "ts": event_ts,
        "channel_type": _channel_type(channel),
    }
    return event_callback(event, team=team)


def bot_message(
    text: str,
    *,
    channel: str = "C_COHORT",
    ts: str | None = None,
    thread_ts: str | None = None,
    bot_id: str = "B_OTHER",
    user: str | None = None,
    username: str = "Other bot",
    subtype: str | None = "bot_message",
    team: str = TEAM_ID,
) -> SlackRequest:
    """A message from a bot. Defaults: another app's legacy ``bot_message``.

    Our own bot's posts echo back as ``bot_message(text, bot_id=BOT_ID,
    user=BOT_USER_ID, subtype=None)``, which is how chat.postMessage by a bot
    token appears in the event stream.
    """
    ts = ts or next_ts()
    event: dict[str, Any] = {
        "type": "message",
        "text": text,
        "ts": ts,
        "bot_id": bot_id,
        "app_id": APP_ID if bot_id == BOT_ID else "A_OTHER",
        "channel": channel,
        "event_ts": ts,
        "channel_type": _channel_type(channel),
    }
    if subtype is not None:
        event["subtype"] = subtype
        event["username"] = username
    if user is not None:
        event["user"] = user
        event["team"] = team
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event_callback(event, team=team)


def channel_join(
    user: str,
    channel: str = "C_COHORT",
    *,
    inviter: str | None = None,
    team: str = TEAM_ID,
) -> SlackRequest:
    """The ``channel_join`` message Slack posts when someone joins a channel."""
    ts = next_ts()
    event: dict[str, Any] = {
        "type": "message",
        "subtype": "channel_join",
        "ts": ts,
        "user": user,
        "text": f"<@{user}> has joined the channel",
        "channel": channel,
        "event_ts": ts,
        "channel_type": _channel_type(channel),
    }
    if inviter is not None:
        event["inviter"] = inviter
    return event_callback(event, team=team)


def member_joined_channel(
    user: str,
    channel: str = "C_COHORT",
    *,
    inviter: str | None = None,
    team: str = TEAM_ID,
) -> SlackRequest:
    """The ``member_joined_channel`` event (the non-message way to see a join)."""
    event: dict[str, Any] = {
        "type": "member_joined_channel",
        "user": user,
        "channel": channel,
        "channel_type": "C" if channel.startswith("C") else "G",
        "team": team,
        "event_ts": next_ts(),
    }
    if inviter is not None:
        event["inviter"] = inviter
    return event_callback(event, team=team)


def app_home_opened(
    user: str,
    channel: str | None = None,
    tab: str = "home",
    *,
    team: str = TEAM_ID,
    view_id: str | None = None,
) -> SlackRequest:
    """The user opened our App Home; ``channel`` defaults to their DM, ``"D" + user``.

    Slack includes ``view`` only once a home view has been published for the user.
    """
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user,
        "channel": channel or f"D{user}",
        "tab": tab,
        "event_ts": next_ts(),
    }
    if view_id is not None:
        event["view"] = _view(
            view_id,
            team=team,
            view_type="home",
            callback_id="",
            private_metadata="",
            state_values={},
            blocks=[],
        )
    return event_callback(event, team=team)


def url_verification(challenge: str) -> SlackRequest:
    """The handshake Slack sends when the Request URL is saved; echo ``challenge``."""
    body = {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
    return SlackRequest(json.dumps(body), JSON)
