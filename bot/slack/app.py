"""The Slack adapter: a bolt AsyncApp whose listeners translate, call the handlers, and deliver.

Every listener acks first (Slack wants an answer within 3 seconds) and does the work
after; slow or failing Slack calls then cost the person a late reply, never a retry.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.edge import unquote_form_value
from bot.lanes import Lanes
from bot.logs import failure_of
from bot.settings import Settings
from bot.slack import translate
from bot.slack.blocks import values_from_view_state
from bot.slack.directory import Accounts, Directory
from bot.slack.messenger import Origin, deliver
from bot.webhooks import WebhookPoster
from bot.work import Entry, Job, Journal, NotJournalled
from handlers import failures
from handlers.core.i18n import language_of, translator
from handlers.core.vocabulary import Actor, FormSubmitted, HomeOpened, Inbound, Outgoing, ToActor
from handlers.digilog import Digilog, cohort_of
from storage.inbound import Failed
from storage.unit import Store

log = logging.getLogger(__name__)

COMMAND = "/digilog"
# Named, so that bolt need not read the source of every frame on the stack to name the
# app after its caller's file (inspect.stack(): about 60 ms of each start).
APP_NAME = "digilog"
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
    journal: Journal,
    lanes: Lanes,
    session: aiohttp.ClientSession,
    poster: WebhookPoster,
) -> AsyncApp:
    """The bolt app for one workspace (a bot token) or many (OAuth); its listeners do the
    work for the journal's Slack entries."""
    signing_secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    )
    installations = installations_of(settings, engine)
    if installations is not None and settings.slack_client_id and settings.slack_client_secret:
        client_id = settings.slack_client_id
        app = SlackApp(
            name=APP_NAME,
            signing_secret=signing_secret,
            client=web_client(settings, session),
            request_verification_enabled=False,  # as below: bot/edge.py verified it
            oauth_settings=AsyncOAuthSettings(
                client_id=client_id,
                client_secret=settings.slack_client_secret.get_secret_value(),
                scopes=list(BOT_SCOPES),
                installation_store=installations,
                state_store=AsyncSQLAlchemyOAuthStateStore(expiration_seconds=600, engine=engine),
            ),
        )
        # A workspace that uninstalls Digilog, or revokes its tokens, takes them away here too.
        app.enable_token_revocation_listeners()
    else:
        token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
        app = SlackApp(
            name=APP_NAME,
            signing_secret=signing_secret,
            client=web_client(settings, session, token),
            # bot/edge.py verified the signature on the raw bytes before bolt saw the
            # request (checking it again cost every ack an HMAC); Socket Mode connections
            # are authenticated by the app token instead.
            request_verification_enabled=False,
        )
    listeners = slack_work(settings, digilog, journal, lanes, session, poster, installations)
    listeners.register(app)
    if installations is None:
        app.direct = listeners
    return app


def installations_of(settings: Settings, engine: AsyncEngine) -> AsyncInstallationStore | None:
    """Where OAuth installs keep their bot tokens; None for one bot token (no OAuth)."""
    if settings.slack_client_id and settings.slack_client_secret:
        # Here: its Fernet (cryptography) is loaded only where tokens are stored sealed.
        from bot.slack.secure_store import sealed_installation_store

        return sealed_installation_store(settings, engine)
    return None


def slack_work(
    settings: Settings,
    digilog: Digilog,
    journal: Journal,
    lanes: Lanes,
    session: aiohttp.ClientSession,
    poster: WebhookPoster,
    installations: AsyncInstallationStore | None,
) -> SlackListeners:
    """The work after the ack for the journal's Slack entries, added to it: in `digilog
    serve` behind bolt's listeners, in `digilog worker` on its own (no requests there)."""
    clients = SlackClients(settings, session, installations)
    directory = Directory(accounts=held_accounts(digilog.store))
    listeners = SlackListeners(digilog, directory, journal, lanes, clients, poster)
    journal.add("slack", listeners)
    return listeners


def held_accounts(store: Store) -> Accounts:
    """The user ids of the people Digilog holds in a Slack workspace."""

    async def accounts(team: str) -> set[str]:
        async with store.transaction() as repos:
            return await repos.people.accounts("slack", team)

    return accounts


class SlackApp(AsyncApp):
    """bolt's app, refusing a payload not shaped as Slack sends it before bolt reads it.

    bolt's middleware, matchers and even the arguments of our error handler read the
    payload first and fail on odd shapes; the listeners' work after the ack would too.
    Refused here, a malformed payload is dropped: nothing stored, no reply. As bot/web.py
    refuses a body that does not parse, signed or not.
    """

    # Set when one bot token serves every request (no OAuth): then nothing in bolt's
    # dispatch depends on the workspace, and a click can be journalled without it.
    direct: SlackListeners | None = None

    async def async_dispatch(self, req: AsyncBoltRequest) -> BoltResponse:
        problem = translate.problem(req.body) or translate.context_problem(req.context)
        if problem is not None:
            log.warning("Slack payload refused: %s", problem[:200])
            return BoltResponse(status=400, body="malformed payload")
        return await super().async_dispatch(req)

    async def ack_click(self, form: str) -> BoltResponse | None:
        """A button click (a verified form whose only field is an interaction payload of
        type block_actions) journalled and acked as its listener would, without bolt's
        middleware, matchers and argument building, which cost an ack more than the rest
        of it together; None for anything else, which bolt dispatches."""
        listeners = self.direct
        if listeners is None or not form.startswith("payload=") or "&" in form:
            return None
        try:
            body = json.loads(unquote_form_value(form.removeprefix("payload=")))
        except ValueError:
            return None  # bolt answers it as it answers any body it cannot read
        if not isinstance(body, dict) or body.get("type") != "block_actions":
            return None
        if problem := translate.problem(body):
            log.warning("Slack payload refused: %s", problem[:200])
            return BoltResponse(status=400, body="malformed payload")
        if not body["actions"][0]["action_id"]:
            return None  # no listener of ours matches it: bolt says so
        try:
            await listeners.journal.record("slack", "action", translate.click_to_keep(body))
        except NotJournalled as error:
            # Not acked: Slack shows the person its own error, as after bolt's listener.
            log.error("Slack request (block_actions) not journalled, not acked: %s", error)
            return BoltResponse(status=503, body="")
        return BoltResponse(status=200, body="")


class SlackClients:
    """Web API clients for the work after the ack, one per bot token. Without the SDK's
    rate-limit retries: a 429 holds the destination's lane (bot/lanes.py), not a worker."""

    def __init__(
        self,
        settings: Settings,
        session: aiohttp.ClientSession,
        installations: AsyncInstallationStore | None,
    ) -> None:
        self._settings = settings
        self._session = session
        self._installations = installations
        self._clients: dict[str, AsyncWebClient] = {}

    async def of(self, body: dict[str, Any]) -> AsyncWebClient:
        token = await self._token(body)
        client = self._clients.get(token)
        if client is None:
            client = self._clients[token] = AsyncWebClient(
                token=token,
                base_url=self._settings.slack_api_url,
                session=self._session,
                retry_handlers=[AsyncConnectionErrorRetryHandler(max_retry_count=2)],
            )
        return client

    async def _token(self, body: dict[str, Any]) -> str:
        if self._installations is None:
            token = self._settings.slack_bot_token
            if token is None:
                raise LookupError("no Slack bot token is configured")
            return token.get_secret_value()
        enterprise = body.get("enterprise") if isinstance(body.get("enterprise"), dict) else None
        enterprise_id = (enterprise or {}).get("id") or body.get("enterprise_id")
        bot = await self._installations.async_find_bot(
            enterprise_id=enterprise_id,
            team_id=translate.team_of(body) or None,
            # A slash command's form says "false" as a string.
            is_enterprise_install=body.get("is_enterprise_install") in (True, "true"),
        )
        if bot is None or not bot.bot_token:
            raise LookupError(f"no installation for workspace {translate.team_of(body)}")
        return bot.bot_token


# What each journal kind is called in a failure row and in the person's notice.
KINDS = ("command", "action", "view", "shortcut", "message", "home")
NOTICE_KIND = {"command": "command", "action": "choice", "view": "form", "message": "post"}


class SlackListeners:
    """Each listener journals its request, acks, and leaves the work to the journal's
    workers (bot/work.py), which call `perform`."""

    def __init__(
        self,
        digilog: Digilog,
        directory: Directory,
        journal: Journal,
        lanes: Lanes,
        clients: SlackClients,
        poster: WebhookPoster,
    ) -> None:
        self.digilog = digilog
        self.directory = directory
        self.journal = journal
        self.lanes = lanes
        self.clients = clients
        self.poster = poster

    def register(self, app: AsyncApp) -> None:
        app.command(COMMAND)(self.on_command)
        app.action(re.compile(r".+"))(self.on_action)
        app.view_submission(re.compile(r".+"))(self.on_view_submission)
        app.shortcut(SAVE_SHORTCUT)(self.on_save_shortcut)
        # Events are acked by bolt before their listener runs: they are journalled in a
        # listener middleware, which runs before that.
        app.event("message", middleware=[self.journal_event("message")])(self.on_event)
        app.event("app_home_opened", middleware=[self.journal_event("home")])(self.on_event)
        app.error(self.on_error)

    # Listeners: journal, ack, return.

    async def on_command(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await self.journal.record("slack", "command", body)
        await ack()

    async def on_action(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await self.journal.record("slack", "action", translate.click_to_keep(body))
        await ack()

    async def on_view_submission(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await self.journal.record("slack", "view", body)
        await ack()  # closes the modal

    async def on_save_shortcut(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await self.journal.record("slack", "shortcut", body)
        await ack()

    def journal_event(self, kind: str) -> Callable[..., Awaitable[BoltResponse | None]]:
        async def record(
            body: dict[str, Any], next: Callable[[], Awaitable[None]]
        ) -> BoltResponse | None:
            event = body.get("event") or {}
            if kind == "home" and event.get("tab") != "home":
                return await next()  # type: ignore[func-returns-value]
            try:
                # Slack resends an event it thinks failed: its event_id makes that a no-op.
                await self.journal.record("slack", kind, body, event_id=body.get("event_id"))
            except NotJournalled as error:  # not acked: Slack sends it again
                # Its type and place only (NotJournalled never quotes the database).
                log.error("Slack event not journalled, left for Slack to resend: %s", error)
                return BoltResponse(status=503, body="")
            return await next()  # type: ignore[func-returns-value]

        return record

    async def on_event(self) -> None:
        """Journalled by the middleware; the work is the journal's."""

    # The work: translate, handle, hand the replies to their lanes.

    async def perform(self, entry: Entry) -> Awaitable[None] | None:
        """One entry on its own: made ready, handled in a transaction of its own, sent."""
        job = await self.prepare(entry)
        if job is None:
            return None
        outgoing = await self.digilog.handle(
            job.event, delivery_id=job.delivery_id, journal_id=entry.id
        )
        entry.handled = True
        return job.send(outgoing)

    async def prepare(self, entry: Entry) -> Job | None:
        """The entry as a neutral event (Slack asked who the person is), and how its
        messages go out; the journal handles a batch of them in one transaction."""
        body = entry.payload
        client = await self.clients.of(body)
        match entry.kind:
            case "command":
                return await self.command(entry, body, client)
            case "action":
                return await self.action(entry, body, client)
            case "view":
                return await self.view_submission(entry, body, body.get("view") or {}, client)
            case "shortcut":
                return await self.save_shortcut(entry, body, client)
            case "message":
                return await self.message(entry, body, body.get("event") or {}, client)
            case "home":
                return await self.home_opened(entry, body, body.get("event") or {}, client)
        raise ValueError(f"no Slack work of kind {entry.kind!r}")

    async def _actor(
        self, client: AsyncWebClient, team: str, user_id: str, *, at_once: bool = False
    ) -> Actor:
        """Who acted, as Slack describes them. `at_once`: someone Digilog holds is not
        kept waiting for users.info (bot/slack/directory.py), for the clicks and forms
        that come in bursts; a typed command waits, as it may hinge on a new time zone."""
        if at_once:
            user = await self.directory.user_at_once(client, team, user_id)
        else:
            user = await self.directory.user(client, team, user_id)
        return translate.actor(
            team,
            user_id,
            name=user.name,
            locale=user.locale,
            email=user.email,
            timezone=user.timezone,
        )

    def _job(self, event: Inbound, origin: Origin, delivery_id: str | None = None) -> Job:
        def send(outgoing: list[Outgoing]) -> Awaitable[None] | None:
            return deliver(self.digilog, origin, outgoing, self.lanes)

        return Job(event, send, delivery_id)

    def _origin(self, client: AsyncWebClient, team: str, user_id: str, **where: Any) -> Origin:
        return Origin(client, team, user_id, self.poster, **where)

    async def command(
        self, entry: Entry, body: dict[str, Any], client: AsyncWebClient
    ) -> Job | None:
        team, user_id = translate.team_of(body), str(body["user_id"])
        event = translate.command(body, await self._actor(client, team, user_id))
        origin = self._origin(
            client,
            team,
            user_id,
            channel_id=str(body.get("channel_id") or "") or None,
            trigger_id=body.get("trigger_id"),
            response_url=body.get("response_url") or None,
        )
        return self._job(event, origin)

    async def action(
        self, entry: Entry, body: dict[str, Any], client: AsyncWebClient
    ) -> Job | None:
        team, user_id = translate.team_of(body), str(body["user"]["id"])
        event = translate.choice(body, await self._actor(client, team, user_id, at_once=True))
        if event is None:
            return None
        container = body.get("container") or {}
        origin = self._origin(
            client,
            team,
            user_id,
            channel_id=event.where.conversation_id or None,
            thread_ts=event.where.thread_id,
            trigger_id=body.get("trigger_id"),
            response_url=body.get("response_url") or None,
            # A private question is replaced by its feedback; a channel post stays.
            replace_original=bool(container.get("is_ephemeral")),
        )
        return self._job(event, origin)

    async def view_submission(
        self, entry: Entry, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> Job | None:
        team, user_id = translate.team_of(body), str(body["user"]["id"])
        channel, thread = translate.form_origin(view) or ("", None)
        event = FormSubmitted(
            await self._actor(client, team, user_id, at_once=True),
            translate.conversation(team, channel, thread),
            str(view.get("callback_id", "")),
            values_from_view_state((view.get("state") or {}).get("values") or {}),
        )
        origin = self._origin(client, team, user_id, channel_id=channel or None, thread_ts=thread)
        return self._job(event, origin)

    async def save_shortcut(
        self, entry: Entry, body: dict[str, Any], client: AsyncWebClient
    ) -> Job | None:
        team, user_id = translate.team_of(body), str(body["user"]["id"])
        text = str((body.get("message") or {}).get("text", ""))
        names = await self.directory.names(client, team, translate.mentions(text))
        event = translate.saved_message(body, await self._actor(client, team, user_id), names)
        origin = self._origin(
            client,
            team,
            user_id,
            channel_id=event.where.conversation_id or None,
            response_url=body.get("response_url") or None,
        )
        return self._job(event, origin)

    async def message(
        self, entry: Entry, body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient
    ) -> Job | None:
        team = translate.team_of(body)
        message = event.get("message") or event
        names = await self.directory.names(
            client, team, translate.mentions(str(message.get("text", "")))
        )
        neutral = translate.message_event(event, team, names)
        if neutral is None:
            return None
        # The same event, with the person's name and locale as Slack knows them.
        neutral = replace(neutral, actor=await self._actor(client, team, neutral.actor.user_id))
        origin = self._origin(
            client,
            team,
            neutral.actor.user_id,
            channel_id=neutral.where.conversation_id,
            thread_ts=neutral.where.thread_id,
        )
        # Slack resends an event it thinks failed; its event_id makes the retry a no-op.
        return self._job(neutral, origin, delivery_id=body.get("event_id"))

    async def home_opened(
        self, entry: Entry, body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient
    ) -> Job | None:
        team, user_id = translate.team_of(body), str(event["user"])
        where = translate.conversation(team, str(event.get("channel", "")))
        neutral = HomeOpened(await self._actor(client, team, user_id), where)
        return self._job(neutral, self._origin(client, team, user_id))

    # When it did not go through.

    def _who(self, body: dict[str, Any]) -> tuple[str, str, str | None]:
        """(workspace, user id, channel) of a payload, whatever its kind."""
        event = body.get("event") if isinstance(body.get("event"), dict) else None
        user = body.get("user")
        if isinstance(user, dict):
            user_id = str(user.get("id") or "")
        elif event is not None:
            user_id = str(event.get("user") or "")
        else:
            user_id = str(body.get("user_id") or user or "")
        channel = body.get("channel")
        channel_id = (
            channel.get("id") if isinstance(channel, dict) else body.get("channel_id") or channel
        )
        if event is not None:
            channel_id = event.get("channel") or channel_id
        return translate.team_of(body), user_id, str(channel_id) if channel_id else None

    async def tell_failed(self, entry: Entry) -> bool:
        body = entry.payload
        team, user_id, channel = self._who(body)
        if not user_id or entry.kind == "home":
            return False
        client = await self.clients.of(body)
        language = await self._language(client, team, user_id)
        command = str((body.get("command") and body.get("text")) or "").split()[:1]
        notice = failures.notice(
            translator(language),
            NOTICE_KIND.get(entry.kind, "other"),
            command[0] if command else None,
        )
        # A private reply: to the response_url, else only for them in the channel (an
        # event's channel is where they posted), else their direct conversation.
        origin = self._origin(
            client,
            team,
            user_id,
            channel_id=channel if entry.kind != "view" else None,
            response_url=body.get("response_url") or None,
        )
        sending = deliver(self.digilog, origin, [Outgoing(ToActor(), notice)], self.lanes)
        if sending is not None:
            await sending
        return True

    async def _language(self, client: AsyncWebClient, team: str, user_id: str) -> str | None:
        """The person's language as Digilog knows it, else as Slack does."""
        try:
            language = await failures.language(self.digilog.store, "slack", team, user_id)
        except Exception as error:
            log.warning("language of a Slack user unknown: %s", failure_of(error))
            language = None
        if language is None:
            language = language_of((await self.directory.user(client, team, user_id)).locale)
        return language

    def failed(self, entry: Entry, reason: str) -> tuple[Failed, int | None]:
        body = entry.payload
        team, user_id, channel = self._who(body)
        what, cohort = entry.kind, None
        if entry.kind == "command":
            words = str(body.get("text") or "").split()
            what = f"command: {words[0][:40]}" if words else "command"
        elif entry.kind == "action":
            actions = body.get("actions") or [{}]
            action_id = (
                str(actions[0].get("action_id") or "") if isinstance(actions[0], dict) else ""
            )
            what, cohort = f"button: {action_id[:150]}", cohort_of(action_id)
        elif entry.kind == "view":
            callback = str((body.get("view") or {}).get("callback_id") or "")
            what, cohort = f"form: {callback[:150]}", cohort_of(callback)
        failed = Failed("slack", team, user_id, channel, entry.kind, what, reason)
        return failed, cohort

    async def on_error(
        self, error: Exception, body: dict[str, Any], response: BoltResponse | None
    ) -> None:
        # SlackApp.async_dispatch refused a malformed payload: body and event are objects.
        kind = body.get("type") or (body.get("event") or {}).get("type") or body.get("command")
        if isinstance(error, NotJournalled) and response is not None:
            # Not acked: Slack shows the person its own error (and resends an event).
            response.status = 503
            log.error("Slack request (%s) not journalled, not acked: %s", kind, error)
            return
        log.exception("Slack request (%s) failed: %s", kind, error, exc_info=error)
