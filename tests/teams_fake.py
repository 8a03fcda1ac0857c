"""A fake of what crosses the boundary to Microsoft: the Bot Connector service that a bot
writes to, the Entra token endpoint it gets its access token from, and the key set
Microsoft signs inbound activities with. Each runs on loopback in the test's process.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.asymmetric import rsa

from handlers.admin import CohortSpec, create_cohort, import_roster, load_programme
from handlers.core.programme_file import Programme
from handlers.core.roster import RosterRow
from storage.models import Cohort, Role
from storage.unit import Store

ACCESS_TOKEN = "connector-access-token"
BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"

# The Teams side of the tests: one tenant, one bot, the cohort's channel and its people.
APP_ID = "00000000-0000-4000-8000-0000000000a1"
TENANT = "00000000-0000-4000-8000-00000000007e"
BOT = f"28:{APP_ID}"
CHANNEL = "19:grupp1@thread.tacv2"
PEOPLE = (
    ("29:fia", "Fia Facilitator", "region-vasterbotten", Role.facilitator),
    ("29:anna", "Anna Lindqvist", "umea", Role.participant),
    ("29:bjorn", "Björn Öberg", "pitea", Role.participant),
)


async def teams_cohort(store: Store, programme: Programme) -> Cohort:
    """The cohort "grupp-1", meeting in CHANNEL of TENANT, with PEOPLE enrolled."""
    await load_programme(store, programme)
    spec = CohortSpec(
        key="grupp-1",
        program_id=programme.id,
        title="Grupp 1",
        platform="teams",
        workspace=TENANT,
        conversation_id=CHANNEL,
        language="en",
    )
    cohort = await create_cohort(store, spec)
    rows = [RosterRow(i, n, None, u, o, r) for i, (u, n, o, r) in enumerate(PEOPLE, 1)]
    await import_roster(store, "grupp-1", rows, skip_bad=False)
    return cohort


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    conversation_id: str | None
    body: dict[str, Any]


@dataclass(frozen=True)
class Failure:
    status: int
    code: str
    retry_after: float | None


@dataclass
class FakeConnector:
    """Records what the bot sends; answers as the Bot Connector does, including its refusals."""

    app_id: str
    app_password: str
    calls: list[Call] = field(default_factory=list)
    unreachable: set[str] = field(default_factory=set)  # people who never installed the bot
    throttled: int = 0  # this many next posts get 429
    retry_after: float = 1.0
    lost: int = 0  # this many next posts are taken, but their answer never comes
    dropped: int = 0  # this many next posts are taken, then the connection closes unanswered
    _failures: dict[str, list[Failure]] = field(default_factory=dict)
    # A team's (or chat's) members, as `pagedmembers` lists them, `page_size` at a time.
    members: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    page_size: int = 2
    # What was uploaded to the person's OneDrive through a file consent's upload URL.
    uploads: dict[str, bytes] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1000))
    _server: TestServer | None = None
    _stopping: asyncio.Event | None = None

    def fail_next(
        self,
        status: int,
        times: int = 1,
        *,
        code: str = "Failure",
        retry_after: float | None = None,
        on: str = "post",
    ) -> None:
        """The next `times` posts (`on="post"`) or chat openings (`on="create"`) are refused
        with this status and error code, and nothing is recorded."""
        self._failures.setdefault(on, []).extend([Failure(status, code, retry_after)] * times)

    def _failure(self, on: str) -> web.Response | None:
        queued = self._failures.get(on)
        if not queued:
            return None
        failure = queued.pop(0)
        headers = {} if failure.retry_after is None else {"Retry-After": str(failure.retry_after)}
        error = {"code": failure.code, "message": f"refused by the test ({failure.status})"}
        return web.json_response({"error": error}, status=failure.status, headers=headers)

    def created(self) -> list[str]:
        """The people a one-to-one chat was opened with, in order."""
        return [
            member["id"]
            for c in self.calls
            if c.method == "POST" and c.path == "/v3/conversations"
            for member in c.body["members"]
        ]

    @property
    def service_url(self) -> str:
        assert self._server is not None
        return str(self._server.make_url("/"))

    @property
    def token_url(self) -> str:
        return self.service_url + "token"

    def posted(self, conversation_id: str | None = None) -> list[dict[str, Any]]:
        """The activities posted, to one conversation (`;messageid=` and all) or to any."""
        return [
            c.body
            for c in self.calls
            if c.method == "POST"
            and c.path.endswith("/activities")
            and (conversation_id is None or c.conversation_id == conversation_id)
        ]

    def cards(self, conversation_id: str | None = None) -> list[dict[str, Any]]:
        """The Adaptive Cards posted (a file's consent or info card is not one)."""
        return [
            attachment["content"]
            for activity in self.posted(conversation_id)
            for attachment in activity.get("attachments", [])
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive"
        ]

    @asynccontextmanager
    async def running(self) -> AsyncIterator[FakeConnector]:
        app = web.Application()
        app.router.add_post("/token", self._token)
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{conversation}/activities", self._post)
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", self._put)
        app.router.add_get("/v3/conversations/{conversation}/pagedmembers", self._members)
        app.router.add_put("/onedrive/{name}", self._upload)
        self._server = TestServer(app, host="127.0.0.1")
        self._stopping = asyncio.Event()
        await self._server.start_server()
        try:
            yield self
        finally:
            self._stopping.set()  # a lost answer is given at last, to a client long gone
            await self._server.close()

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if (form.get("client_id"), form.get("client_secret")) != (self.app_id, self.app_password):
            return web.json_response({"error": "invalid_client"}, status=401)
        body = {"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 3600}
        return web.json_response(body)

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {ACCESS_TOKEN}"

    async def _create(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        body = await request.json()
        if (failure := self._failure("create")) is not None:
            return failure
        self.calls.append(Call("POST", request.path, None, body))
        [member] = body["members"]
        if member["id"] in self.unreachable:
            error = {"code": "Forbidden", "message": "The bot is not part of the roster"}
            return web.json_response({"error": error}, status=403)
        return web.json_response({"id": f"a:{member['id']}"}, status=201)

    async def _post(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        conversation = request.match_info["conversation"]
        body = await request.json()
        if self.throttled:
            self.throttled -= 1
            headers = {"Retry-After": str(self.retry_after)}
            return web.json_response({"error": "throttled"}, status=429, headers=headers)
        if (failure := self._failure("post")) is not None:
            return failure
        self.calls.append(Call("POST", request.path, conversation, body))
        if self.dropped:
            self.dropped -= 1
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        if self.lost and self._stopping is not None:
            self.lost -= 1
            await self._stopping.wait()
        return web.json_response({"id": str(next(self._ids))}, status=201)

    async def _members(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        everyone = self.members.get(request.match_info["conversation"])
        if everyone is None:
            return web.json_response({"error": {"code": "NotFound"}}, status=404)
        start = int(request.query.get("continuationToken") or 0)
        page = everyone[start : start + self.page_size]
        more = start + self.page_size < len(everyone)
        body: dict[str, Any] = {"members": page}
        if more:
            body["continuationToken"] = str(start + self.page_size)
        self.calls.append(Call("GET", request.path, request.match_info["conversation"], {}))
        return web.json_response(body)

    def upload_info(self, name: str) -> dict[str, Any]:
        """What Teams sends when the person accepts a file: where to put it in OneDrive."""
        return {
            "contentUrl": self.service_url + f"onedrive/{name}?view",
            "name": name,
            "uploadUrl": self.service_url + f"onedrive/{name}",
            "uniqueId": f"unique-{name}",
            "fileType": name.rpartition(".")[2],
        }

    async def _upload(self, request: web.Request) -> web.Response:
        """OneDrive's upload session: the bytes in one PUT, with their Content-Range."""
        body = await request.read()
        expected = f"bytes 0-{len(body) - 1}/{len(body)}"
        if request.headers.get("Content-Range") != expected or "Authorization" in request.headers:
            return web.json_response({"error": "bad upload"}, status=400)
        self.uploads[request.match_info["name"]] = body
        return web.json_response({"id": request.match_info["name"]}, status=201)

    async def _put(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        body = await request.json()
        self.calls.append(Call("PUT", request.path, request.match_info["conversation"], body))
        return web.json_response({"id": request.match_info["activity"]})


# ---------------------------------------------------------------- signing inbound activities


@dataclass
class Signer:
    """A test RSA key standing in for Microsoft's: signs tokens, and serves its key set."""

    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    kid: str = field(default_factory=lambda: uuid.uuid4().hex)
    fetched: list[str] = field(default_factory=list)  # the key set addresses asked for

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def token(
        self,
        *,
        audience: str,
        service_url: str,
        issuer: str = BOT_FRAMEWORK_ISSUER,
        lifetime: float = 3600,
        key: rsa.RSAPrivateKey | None = None,
    ) -> str:
        now = time.time()
        claims = {
            "iss": issuer,
            "aud": audience,
            "serviceurl": service_url,
            "nbf": int(now) - 60,
            "iat": int(now) - 60,
            "exp": int(now + lifetime),
        }
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": self.kid})

    @contextmanager
    def serving_keys(self) -> Iterator[None]:
        """Microsoft's key fetch, answered with this key set: the one network call the SDK's
        validator makes, faked where it leaves the process."""
        original = jwt.PyJWKClient.fetch_data
        signer = self

        def fetch_data(client: jwt.PyJWKClient) -> Any:
            signer.fetched.append(client.uri)
            return signer.jwks()

        jwt.PyJWKClient.fetch_data = fetch_data  # type: ignore[method-assign]
        try:
            yield
        finally:
            jwt.PyJWKClient.fetch_data = original  # type: ignore[method-assign]
