"""bot/webhooks.py: Slack's response_url replies on kept connections, against servers on
loopback that answer as a platform may: kept alive or not, chunked, without a length,
throttled, broken, silent, or through a proxy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp
import pytest

from bot import webhooks
from bot.webhooks import PostFailed, posting

JSON = "application/json; charset=utf-8"

Answering = Callable[[bytes, asyncio.StreamWriter], Awaitable[bool]]


class RawServer:
    """Reads each request whole (headers and Content-Length's body) and lets `answer`
    write what it likes; it returns whether to keep the connection."""

    def __init__(self, answer: Answering) -> None:
        self.answer = answer
        self.connections = 0
        self.requests: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                if not await self.answer(head + body, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def raw_server(answer: Answering) -> AsyncIterator[tuple[RawServer, str]]:
    server = RawServer(answer)
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        listening.close()
        await listening.wait_closed()


def answer_with(raw: bytes, keep: bool = True) -> Answering:
    async def answer(_request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(raw)
        await writer.drain()
        return keep

    return answer


OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


@asynccontextmanager
async def poster() -> AsyncIterator[webhooks.WebhookPoster]:
    async with aiohttp.ClientSession() as session, posting(session) as made:
        yield made


async def test_replies_share_one_kept_connection_and_say_what_was_sent() -> None:
    async with raw_server(answer_with(OK)) as (server, base), poster() as post:
        for n in range(3):
            answer = await post.post(f"{base}/actions/T1/{n}?x=1", b'{"n":%d}' % n, JSON)
            assert answer.status == 200
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"POST /actions/T1/0?x=1 HTTP/1.1\r\n")
    assert b"\r\nHost: 127.0.0.1:" in first
    assert b"\r\nContent-Type: application/json; charset=utf-8\r\n" in first
    assert first.endswith(b'\r\n\r\n{"n":0}')


async def test_a_throttled_answer_gives_its_retry_after() -> None:
    throttled = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n"
    async with raw_server(answer_with(throttled)) as (_, base), poster() as post:
        answer = await post.post(f"{base}/r", b"{}", JSON)
    assert (answer.status, answer.headers["retry-after"]) == (429, "7")


async def test_chunked_and_interim_answers_are_read_whole_and_the_connection_kept() -> None:
    chunked = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nnot f\r\n5\r\nound!\r\n0\r\n\r\n"
    )
    async with raw_server(answer_with(chunked)) as (server, base), poster() as post:
        assert (await post.post(f"{base}/r", b"{}", JSON)).status == 404
        assert (await post.post(f"{base}/r", b"{}", JSON)).status == 404
    assert server.connections == 1


async def test_an_answer_without_a_length_ends_with_its_connection() -> None:
    until_close = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nok, and more"
    ends = answer_with(until_close, keep=False)
    async with raw_server(ends) as (server, base), poster() as post:
        for _ in range(2):
            assert (await post.post(f"{base}/r", b"{}", JSON)).status == 200
    assert server.connections == 2  # that connection could not carry another


async def test_connection_close_is_honoured() -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    async with raw_server(answer_with(closing, keep=False)) as (server, base), poster() as post:
        for _ in range(2):
            assert (await post.post(f"{base}/r", b"{}", JSON)).status == 200
    assert server.connections == 2


async def test_a_connection_the_server_closed_while_idle_is_not_used_again() -> None:
    async with raw_server(answer_with(OK, keep=False)) as (server, base), poster() as post:
        # The server answers as if it kept the connection, then closes it.
        assert (await post.post(f"{base}/r", b"{}", JSON)).status == 200
        await asyncio.sleep(0.05)  # its close reaches us
        assert (await post.post(f"{base}/r", b"{}", JSON)).status == 200
    assert server.connections == 2
    assert len(server.requests) == 2


async def test_a_connection_lost_before_the_answer_fails_the_post_and_sends_it_once() -> None:
    async def hang_up(_request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Len")
        await writer.drain()
        return False

    async with raw_server(hang_up) as (server, base), poster() as post:
        with pytest.raises(PostFailed):
            await post.post(f"{base}/r", b"{}", JSON)
    assert len(server.requests) == 1


async def test_an_answer_that_is_not_http_fails_the_post_and_its_connection() -> None:
    not_http = answer_with(b"SSH-2.0-OpenSSH\r\n\r\n")
    async with raw_server(not_http) as (server, base), poster() as post:
        for _ in range(2):
            with pytest.raises(PostFailed):
                await post.post(f"{base}/r", b"{}", JSON)
    assert server.connections == 2  # the broken one was not used again


async def test_an_endless_answer_is_cut_off() -> None:
    huge = b"HTTP/1.1 200 OK\r\nContent-Length: 9999999\r\n\r\n" + b"x" * (2 * 1024 * 1024)
    async with raw_server(answer_with(huge)) as (_, base), poster() as post:
        with pytest.raises(PostFailed, match="too long"):
            await post.post(f"{base}/r", b"{}", JSON)


async def test_a_silent_server_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhooks, "ANSWER_SECONDS", 0.2)

    async def silent(_request: bytes, _writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(5)
        return False

    async with raw_server(silent) as (server, base), poster() as post:
        with pytest.raises(PostFailed, match="in time"):
            await post.post(f"{base}/r", b"{}", JSON)
    assert len(server.requests) == 1


async def test_nothing_is_sent_to_a_url_that_could_write_a_header_of_its_own() -> None:
    async with raw_server(answer_with(OK)) as (server, base), poster() as post:
        for url in (
            f"{base}/r\r\nX-Injected: 1",
            f"{base}/r x",
            "ftp://127.0.0.1/r",
            "http://user:secret@127.0.0.1/r",
        ):
            with pytest.raises(ValueError, match="not a URL to post to"):
                await post.post(url, b"{}", JSON)
    assert server.requests == []


async def test_nothing_listening_fails_the_post() -> None:
    listening = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    listening.close()
    await listening.wait_closed()
    async with poster() as post:
        with pytest.raises(PostFailed, match="could not connect"):
            await post.post(f"http://127.0.0.1:{port}/r", b"{}", JSON)


async def test_a_proxy_the_environment_names_carries_the_post(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Behind an outgoing proxy the replies go through it, as slack_sdk's calls do."""

    async def proxy(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(OK if request.startswith(b"POST http://hooks.example/actions/1 ") else b"")
        await writer.drain()
        return False

    async with raw_server(proxy) as (server, base):
        monkeypatch.setenv("HTTP_PROXY", base)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        async with poster() as post:
            answer = await post.post("http://hooks.example/actions/1", b'{"a":1}', JSON)
    assert answer.status == 200
    assert server.requests[0].endswith(b'{"a":1}')


async def test_no_proxy_keeps_a_host_off_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    async with raw_server(answer_with(OK)) as (server, base):
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with poster() as post:
            assert (await post.post(f"{base}/r", b"{}", JSON)).status == 200
    assert len(server.requests) == 1
