"""The Slack adapter: a bolt AsyncApp whose listeners translate, call the handlers, and deliver.

Every listener acks first (Slack wants an answer within 3 seconds) and does the work
after; slow or failing Slack calls then cost the person a late reply, never a retry.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from functools import partial
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.logs import carrying_request_id
from bot.settings import Settings
from bot.slack import translate
from bot.slack.blocks import values_from_view_state
from bot.slack.directory import Directory
from bot.slack.messenger import Origin, deliver
from bot.slack.secure_store import sealed_installation_store
from bot.work import WorkQueue
from handlers.digilog import Digilog
from handlers.vocabulary import Actor, FormSubmitted, HomeOpened

log = logging.getLogger(__name__)

COMMAND = "/digilog"
SAVE_SHORTCUT = "save_to_bank"
# The fewest bot scopes that do the job; docs/slack.md says why each is there.
BOT_SCOPES = (
    "commands",
    "chat:write",
    "channels:history",
    "groups:history",
    "im:history",
    "im:write",
    "mpim:write",
    "users:read",
    "users:read.email",
)


def web_client(
    settings: Settings, session: aiohttp.ClientSession, token: str | None = None
) -> AsyncWebClient:
    # One HTTP session for every call: a new connection per call cost a millisecond each.
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_url,
        session=session,
        retry_handlers=[
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
        ],
    )


def build_slack_app(
    settings: Settings,
    digilog: Digilog,
    engine: AsyncEngine,
    work: WorkQueue,
    session: aiohttp.ClientSession,
) -> AsyncApp:
    """The bolt app for one workspace (a bot token) or many (OAuth)."""
    signing_secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    )
    if settings.slack_client_id and settings.slack_client_secret:
        client_id = settings.slack_client_id
        app = SlackApp(
            signing_secret=signing_secret,
            client=web_client(settings, session),
            oauth_settings=AsyncOAuthSettings(
                client_id=client_id,
                client_secret=settings.slack_client_secret.get_secret_value(),
                scopes=list(BOT_SCOPES),
                installation_store=sealed_installation_store(settings, engine),
                state_store=AsyncSQLAlchemyOAuthStateStore(expiration_seconds=600, engine=engine),
            ),
        )
        # A workspace that uninstalls Digilog, or revokes its tokens, takes them away here too.
        app.enable_token_revocation_listeners()
    else:
        token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
        app = SlackApp(
            signing_secret=signing_secret,
            client=web_client(settings, session, token),
            # Socket Mode connections are authenticated by the app token instead.
            request_verification_enabled=settings.slack_app_token is None,
        )
    SlackListeners(digilog, Directory(), work).register(app)
    return app


class SlackApp(AsyncApp):
    """bolt's app, refusing a payload not shaped as Slack sends it before bolt reads it.

    bolt's middleware, matchers and even the arguments of our error handler read the
    payload first and fail on odd shapes; the listeners' work after the ack would too.
    Refused here, a malformed payload is dropped: nothing stored, no reply. As bot/web.py
    refuses a body that does not parse, signed or not.
    """

    async def async_dispatch(self, req: AsyncBoltRequest) -> BoltResponse:
        problem = translate.problem(req.body) or translate.context_problem(req.context)
        if problem is not None:
            log.warning("Slack payload refused: %s", problem[:200])
            return BoltResponse(status=400, body="malformed payload")
        return await super().async_dispatch(req)


class SlackListeners:
    """Each listener acks, then queues the real work (see bot/work.py)."""

    def __init__(self, digilog: Digilog, directory: Directory, work: WorkQueue) -> None:
        self.digilog = digilog
        self.directory = directory
        self.work = work

    def register(self, app: AsyncApp) -> None:
        app.command(COMMAND)(self.on_command)
        app.action(re.compile(r".+"))(self.on_action)
        app.view_submission(re.compile(r".+"))(self.on_view_submission)
        app.shortcut(SAVE_SHORTCUT)(self.on_save_shortcut)
        app.event("message")(self.on_message)
        app.event("app_home_opened")(self.on_home_opened)
        app.error(self.on_error)

    # Listeners: ack, queue the work, return. Events are acked by bolt itself.

    async def on_command(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        await self.work.put(carrying_request_id(partial(self.command, body, client, respond)))

    async def on_action(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        await self.work.put(carrying_request_id(partial(self.action, body, client, respond)))

    async def on_view_submission(
        self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()  # closes the modal
        await self.work.put(carrying_request_id(partial(self.view_submission, body, view, client)))

    async def on_save_shortcut(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        await self.work.put(carrying_request_id(partial(self.save_shortcut, body, client, respond)))

    async def on_message(
        self, body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await self.work.put(carrying_request_id(partial(self.message, body, event, client)))

    async def on_home_opened(
        self, body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient
    ) -> None:
        if event.get("tab") == "home":
            await self.work.put(carrying_request_id(partial(self.home_opened, body, event, client)))

    # The work: translate, handle, deliver.

    async def _actor(self, client: AsyncWebClient, team: str, user_id: str) -> Actor:
        user = await self.directory.user(client, team, user_id)
        return translate.actor(
            team,
            user_id,
            name=user.name,
            locale=user.locale,
            email=user.email,
            timezone=user.timezone,
        )

    async def command(
        self, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        team, user_id = translate.team_of(body), str(body["user_id"])
        event = translate.command(body, await self._actor(client, team, user_id))
        origin = Origin(
            client,
            team,
            user_id,
            channel_id=str(body.get("channel_id") or "") or None,
            trigger_id=body.get("trigger_id"),
            respond=respond,
        )
        await deliver(self.digilog, origin, await self.digilog.handle(event))

    async def action(
        self, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        team, user_id = translate.team_of(body), str(body["user"]["id"])
        event = translate.choice(body, await self._actor(client, team, user_id))
        if event is None:
            return
        container = body.get("container") or {}
        origin = Origin(
            client,
            team,
            user_id,
            channel_id=event.where.conversation_id or None,
            thread_ts=event.where.thread_id,
            trigger_id=body.get("trigger_id"),
            respond=respond if body.get("response_url") else None,
            # A private question is replaced by its feedback; a channel post stays.
            replace_original=bool(container.get("is_ephemeral")),
        )
        await deliver(self.digilog, origin, await self.digilog.handle(event))

    async def view_submission(
        self, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        team, user_id = translate.team_of(body), str(body["user"]["id"])
        channel, thread = translate.form_origin(view) or ("", None)
        event = FormSubmitted(
            await self._actor(client, team, user_id),
            translate.conversation(team, channel, thread),
            str(view.get("callback_id", "")),
            values_from_view_state((view.get("state") or {}).get("values") or {}),
        )
        origin = Origin(client, team, user_id, channel_id=channel or None, thread_ts=thread)
        await deliver(self.digilog, origin, await self.digilog.handle(event))

    async def save_shortcut(
        self, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        team, user_id = translate.team_of(body), str(body["user"]["id"])
        text = str((body.get("message") or {}).get("text", ""))
        names = await self.directory.names(client, team, translate.mentions(text))
        event = translate.saved_message(body, await self._actor(client, team, user_id), names)
        origin = Origin(
            client,
            team,
            user_id,
            channel_id=event.where.conversation_id or None,
            respond=respond if body.get("response_url") else None,
        )
        await deliver(self.digilog, origin, await self.digilog.handle(event))

    async def message(
        self, body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient
    ) -> None:
        team = translate.team_of(body)
        message = event.get("message") or event
        names = await self.directory.names(
            client, team, translate.mentions(str(message.get("text", "")))
        )
        neutral = translate.message_event(event, team, names)
        if neutral is None:
            return
        # The same event, with the person's name and locale as Slack knows them.
        neutral = replace(neutral, actor=await self._actor(client, team, neutral.actor.user_id))
        origin = Origin(
            client,
            team,
            neutral.actor.user_id,
            channel_id=neutral.where.conversation_id,
            thread_ts=neutral.where.thread_id,
        )
        # Slack resends an event it thinks failed; its event_id makes the retry a no-op.
        outgoing = await self.digilog.handle(neutral, delivery_id=body.get("event_id"))
        await deliver(self.digilog, origin, outgoing)

    async def home_opened(
        self, body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient
    ) -> None:
        team, user_id = translate.team_of(body), str(event["user"])
        where = translate.conversation(team, str(event.get("channel", "")))
        neutral = HomeOpened(await self._actor(client, team, user_id), where)
        origin = Origin(client, team, user_id)
        await deliver(self.digilog, origin, await self.digilog.handle(neutral))

    async def on_error(self, error: Exception, body: dict[str, Any]) -> None:
        # SlackApp.async_dispatch refused a malformed payload: body and event are objects.
        kind = body.get("type") or (body.get("event") or {}).get("type") or body.get("command")
        log.exception("Slack request (%s) failed: %s", kind, error, exc_info=error)
