"""The Bot Connector REST API (v3): how a bot writes to Teams.

Each call goes to the `serviceUrl` that Teams gave with an activity, with the bot's
Entra access token. Errors carry the HTTP status and `Retry-After`, so that a
sender can tell a throttle (429) from a person the bot cannot reach (403).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import aiohttp

from bot.settings import Settings

if TYPE_CHECKING:
    from microsoft_agents.authentication.msal import MsalAuth

log = logging.getLogger(__name__)

TokenSource = Callable[[], Awaitable[str]]
BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"


class ConnectorError(Exception):
    def __init__(self, status: int, detail: str, retry_after: float | None = None) -> None:
        super().__init__(f"Bot Connector answered {status}: {detail}")
        self.status = status
        self.detail = detail
        self.retry_after = retry_after


@dataclass
class Connector:
    session: aiohttp.ClientSession
    token: TokenSource

    async def send(self, service_url: str, conversation_id: str, activity: dict[str, Any]) -> str:
        """Post into a conversation: in a channel's id, a new thread; with `;messageid=`, a
        reply in that thread. The new message's id."""
        path = f"v3/conversations/{quote(conversation_id, safe='')}/activities"
        answer = await self._call("POST", service_url, path, activity)
        return str(answer.get("id", ""))

    async def update(
        self, service_url: str, conversation_id: str, activity_id: str, activity: dict[str, Any]
    ) -> None:
        path = f"v3/conversations/{quote(conversation_id, safe='')}/activities/{activity_id}"
        await self._call("PUT", service_url, path, {**activity, "id": activity_id})

    async def personal_chat(
        self, service_url: str, tenant_id: str, bot_id: str, user_id: str
    ) -> str:
        """The one-to-one conversation of the bot and a person (Teams keeps one per pair, so
        asking again gives the same id)."""
        body = {
            "bot": {"id": bot_id},
            "members": [{"id": user_id}],
            "isGroup": False,
            "tenantId": tenant_id,
            "channelData": {"tenant": {"id": tenant_id}},
        }
        answer = await self._call("POST", service_url, "v3/conversations", body)
        return str(answer["id"])

    async def members(self, service_url: str, conversation_id: str) -> list[dict[str, Any]]:
        """Everyone in a team or chat, page by page (Teams gives at most 500 at a time)."""
        found: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            path = f"v3/conversations/{quote(conversation_id, safe='')}/pagedmembers?pageSize=500"
            if token:
                path += f"&continuationToken={quote(token, safe='')}"
            page = await self._call("GET", service_url, path, None)
            found += [m for m in page.get("members") or [] if isinstance(m, dict)]
            token = page.get("continuationToken")
            if not token:
                return found

    async def _call(
        self, method: str, service_url: str, path: str, body: dict[str, Any] | None
    ) -> dict[str, Any]:
        url = service_url.rstrip("/") + "/" + path
        token = await self.token()
        headers = {"Authorization": f"Bearer {token}"}
        async with self.session.request(method, url, json=body, headers=headers) as response:
            text = await response.text()
            if response.status >= 400:
                if response.status == 401 and isinstance(self.token, KeptToken):
                    self.token.forget()
                retry = response.headers.get("Retry-After")
                # The error's text is logged: never the token, should a service echo it.
                detail = text.replace(token, "[token]") if token else text
                raise ConnectorError(
                    response.status,
                    detail[:300],
                    float(retry) if retry and retry.replace(".", "", 1).isdigit() else None,
                )
            if not text:
                return {}
            answer = await response.json(content_type=None)
            return answer if isinstance(answer, dict) else {}


def static_token(value: str) -> TokenSource:
    async def token() -> str:
        return value

    return token


def entra_token(app_id: str, password: str, tenant_id: str, token_url: str | None) -> TokenSource:
    """The bot's own access token for the Bot Connector, from Entra (MSAL caches and renews
    it); `token_url` points elsewhere, such as a test's fake.

    MSAL (with requests and urllib3 under it, some 4 MB and 80 ms) is loaded at the first
    token asked for, which is the first message sent: a server that only listens does not
    carry it, and that first send waits on Entra over the network anyway."""
    if token_url is not None:
        return _fetched_token(app_id, password, token_url)
    auths: list[MsalAuth] = []

    async def token() -> str:
        if not auths:
            from microsoft_agents.authentication.msal import MsalAuth
            from microsoft_agents.hosting.core import AgentAuthConfiguration

            configuration = AgentAuthConfiguration(
                client_id=app_id, client_secret=password, tenant_id=tenant_id
            )
            auths.append(MsalAuth(configuration))
        return await auths[0].get_access_token(BOT_FRAMEWORK_SCOPE, [BOT_FRAMEWORK_SCOPE])

    return KeptToken(token)


class KeptToken:
    """A token kept for a few minutes: MSAL's own cache lookup (in a thread, with its
    tracing) cost each card sent in a quiz burst more than a millisecond. Entra's tokens
    live an hour or more, so a token kept for KEEP_SECONDS is always still valid; one the
    Connector refuses anyway (401) is forgotten and the next call fetches a new one."""

    KEEP_SECONDS = 300.0

    def __init__(self, source: TokenSource, clock: Callable[[], float] = time.monotonic) -> None:
        self._source, self._clock = source, clock
        self._kept: tuple[str, float] | None = None
        self._fetching: asyncio.Future[str] | None = None

    async def __call__(self) -> str:
        kept = self._kept
        if kept is not None and self._clock() < kept[1]:
            return kept[0]
        if self._fetching is not None:  # one fetch serves everyone who asks meanwhile
            return await asyncio.shield(self._fetching)
        self._fetching = asyncio.get_running_loop().create_future()
        try:
            token = await self._source()
        except BaseException as error:
            self._fetching.set_exception(error)
            self._fetching.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        else:
            self._kept = (token, self._clock() + self.KEEP_SECONDS)
            self._fetching.set_result(token)
            return token
        finally:
            self._fetching = None

    def forget(self) -> None:
        self._kept = None


def _fetched_token(app_id: str, password: str, token_url: str) -> TokenSource:
    """OAuth client credentials against `token_url`, fetched once per call (tests only)."""

    async def token() -> str:
        form = {
            "grant_type": "client_credentials",
            "client_id": app_id,
            "client_secret": password,
            "scope": BOT_FRAMEWORK_SCOPE,
        }
        async with aiohttp.ClientSession() as session, session.post(token_url, data=form) as reply:
            reply.raise_for_status()
            return str((await reply.json())["access_token"])

    return token


def teams_connector(settings: Settings, session: aiohttp.ClientSession) -> Connector:
    """The bot's connector with its Entra token; anonymous (the Agents Playground on this
    machine) sends without one."""
    if settings.teams_app_id and settings.teams_app_password:
        token = entra_token(
            settings.teams_app_id,
            settings.teams_app_password.get_secret_value(),
            settings.teams_tenant_id or "",
            settings.teams_token_url,
        )
    else:
        token = static_token("")
    return Connector(session, token)
