"""POSTs to a platform's one-off URLs (Slack's response_url) on kept-alive connections.

A quiz click's reply is one small POST to the click's response_url. Through aiohttp's
client it cost the event loop about 220 µs of CPU (a request and a response object, a
timeout, the connector's bookkeeping, tasks): a seventh of a burst's event loop. Here it
costs about 70 µs: the request is written as bytes on a connection kept from an earlier
post, and the answer is read by llhttp, the parser Node.js uses, through httptools.

Only what these posts need: HTTP/1.1, a body that is in memory, the answer's status and
headers (Retry-After), its body read and dropped. A URL that the environment sends
through a proxy (HTTPS_PROXY, NO_PROXY) goes through aiohttp's client, which speaks to
proxies. A post is never sent twice: a connection that fails before the whole answer
came raises `PostFailed`, and the caller decides.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import time
import urllib.request
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
import httptools

log = logging.getLogger(__name__)

CONNECT_SECONDS = 10.0
ANSWER_SECONDS = 30.0  # from the request's first byte to the answer's last
IDLE_SECONDS = 15.0  # a connection unused this long is closed, not used again (as aiohttp)
IDLE_PER_HOST = 16  # kept connections per host; the reply lanes send 16 at a time
MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 1024 * 1024
# Visible ASCII only: what goes into the request line and the Host header cannot end
# them early (a URL with a line break in it would write a header of its own).
_VISIBLE = re.compile(r"[!-~]+")


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]  # names in lower case


class PostFailed(Exception):
    """The post got no whole answer: the connection failed, closed or timed out, or the
    answer was not HTTP. Whether the server acted on it is not known."""


class WebhookPoster:
    def __init__(self, session: aiohttp.ClientSession) -> None:
        """`session`: for the URLs a proxy serves."""
        self._session = session
        self._idle: dict[tuple[str, str, int], deque[_Connection]] = {}
        self._proxies: dict[tuple[str, str], str | None] = {}
        self._tls: ssl.SSLContext | None = None
        self._closed = False

    async def post(self, url: str, body: bytes, content_type: str) -> Answer:
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), parts.hostname or ""
        if scheme not in ("http", "https") or not _VISIBLE.fullmatch(host):
            raise ValueError(f"not a URL to post to: {scheme}://{host!r}")
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        if not _VISIBLE.fullmatch(target) or parts.username or parts.password:
            raise ValueError(f"not a URL to post to: {scheme}://{host} (its path)")
        if (proxy := self._proxy_for(scheme, host)) is not None:
            return await self._post_by_proxy(url, body, content_type, proxy)
        port = parts.port or (443 if scheme == "https" else 80)
        default_port = port == (443 if scheme == "https" else 80)
        authority = host if default_port else f"{host}:{port}"
        if ":" in host:  # an IPv6 literal
            authority = f"[{host}]" if default_port else f"[{host}]:{port}"
        request = (
            f"POST {target} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: Digilog\r\n"
            f"Accept: */*\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode("ascii") + body
        started = time.monotonic()
        connection = await self._connection(scheme, host, port)
        try:
            answer = await connection.exchange(request, ANSWER_SECONDS)
        except BaseException:
            connection.close()
            raise
        self._keep(connection)
        if log.isEnabledFor(logging.DEBUG):
            elapsed = (time.monotonic() - started) * 1000
            log.debug("outgoing POST %s: %d in %.0f ms", host, answer.status, elapsed)
        return answer

    async def close(self) -> None:
        self._closed = True
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    async def _connection(self, scheme: str, host: str, port: int) -> _Connection:
        idle = self._idle.get((scheme, host, port))
        now = time.monotonic()
        while idle:
            connection = idle.pop()  # the most recent: the least likely to be closed by now
            if connection.usable and now - connection.idle_since < IDLE_SECONDS:
                return connection
            connection.close()
        tls = self._tls_context() if scheme == "https" else None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(CONNECT_SECONDS):
                _, connection = await loop.create_connection(
                    lambda: _Connection((scheme, host, port)),
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls is not None else None,
                )
        except (OSError, TimeoutError) as error:
            raise PostFailed(f"could not connect: {type(error).__name__}") from error
        return connection

    def _keep(self, connection: _Connection) -> None:
        if self._closed or not connection.usable:
            connection.close()
            return
        idle = self._idle.setdefault(connection.address, deque())
        if len(idle) >= IDLE_PER_HOST:
            idle.popleft().close()  # the oldest
        connection.idle_since = time.monotonic()
        idle.append(connection)

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:  # loading the certificates takes milliseconds: once, when needed
            self._tls = ssl.create_default_context()
        return self._tls

    def _proxy_for(self, scheme: str, host: str) -> str | None:
        """The proxy the environment names for this host, as curl and slack_sdk read it."""
        key = (scheme, host)
        if key not in self._proxies:
            proxies = urllib.request.getproxies_environment()
            proxy = proxies.get(scheme)
            if proxy and urllib.request.proxy_bypass(host):  # NO_PROXY
                proxy = None
            self._proxies[key] = proxy or None
        return self._proxies[key]

    async def _post_by_proxy(self, url: str, body: bytes, content_type: str, proxy: str) -> Answer:
        try:
            async with self._session.post(
                url, data=body, headers={"Content-Type": content_type}, proxy=proxy
            ) as response:
                await response.read()
                headers = {name.lower(): value for name, value in response.headers.items()}
                return Answer(response.status, headers)
        except aiohttp.ClientError as error:
            raise PostFailed(f"through the proxy: {type(error).__name__}") from error


@asynccontextmanager
async def posting(session: aiohttp.ClientSession) -> AsyncIterator[WebhookPoster]:
    """A poster whose kept connections are closed on the way out."""
    poster = WebhookPoster(session)
    try:
        yield poster
    finally:
        await poster.close()


class _Connection(asyncio.Protocol):
    """One connection: one request at a time, its answer parsed as it arrives."""

    def __init__(self, address: tuple[str, str, int]) -> None:
        self.address = address
        self.idle_since = 0.0
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[Answer] | None = None
        self._status = 0
        self._headers: dict[str, str] = {}
        self._header_bytes = 0
        self._body_bytes = 0
        self._headers_done = False
        self._lost = False

    @property
    def usable(self) -> bool:
        return not self._lost and self._transport is not None and not self._transport.is_closing()

    async def exchange(self, request: bytes, seconds: float) -> Answer:
        """The request's answer, or PostFailed after `seconds` (a timer of its own:
        asyncio.timeout's context costs two and a half times as much)."""
        assert self._transport is not None and self._waiter is None
        loop = asyncio.get_running_loop()
        self._waiter = loop.create_future()
        timer = loop.call_later(seconds, self._fail, PostFailed("no answer in time"))
        self._transport.write(request)
        try:
            return await self._waiter
        finally:
            timer.cancel()

    def close(self) -> None:
        self._lost = True
        if self._transport is not None:
            self._transport.close()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # an answer no request asked for: not to be trusted
            self.close()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(PostFailed(f"not an HTTP answer: {type(error).__name__}"))

    def eof_received(self) -> bool | None:
        self._ended()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._ended()

    # httptools' callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value)
        if self._header_bytes > MAX_HEADER_BYTES:
            self._fail(PostFailed("the answer's headers are too long"))
            return
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        if self._body_bytes > MAX_BODY_BYTES:
            self._fail(PostFailed("the answer's body is too long"))

    def on_message_complete(self) -> None:
        if 100 <= self._status < 200:  # an interim answer (100 Continue): the real one follows
            self._next_answer()
            return
        if not self._parser.should_keep_alive():
            self._lost = True  # the server closes it, or it cannot tell where the next begins
        self._resolve()

    # ---

    def _ended(self) -> None:
        was_lost, self._lost = self._lost, True
        if self._waiter is None or self._waiter.done():
            return
        framed = "content-length" in self._headers or "transfer-encoding" in self._headers
        if self._headers_done and not framed and not was_lost:
            self._resolve()  # an answer without a length ends where the connection does
        else:
            self._fail(PostFailed("the connection closed before the whole answer"))

    def _resolve(self) -> None:
        waiter, self._waiter = self._waiter, None
        answer = Answer(self._status, self._headers)
        self._next_answer()
        if waiter is not None and not waiter.done():
            waiter.set_result(answer)

    def _fail(self, error: PostFailed) -> None:
        waiter, self._waiter = self._waiter, None
        self.close()
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def _next_answer(self) -> None:
        self._status, self._headers = 0, {}
        self._header_bytes = self._body_bytes = 0
        self._headers_done = False
