"""Logging: plain lines or one JSON object per line, each with the id of the request
it serves, from the edge through the work after the ack to the calls that go out.

The request id lives in a context variable: set by the edge middleware, written into
the action's inbound journal entry and set again by the worker that does its work
(bot/work.py), and read by a filter on every handler, so any logger's record carries it
without passing it around.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import secrets
import time
import traceback
from contextvars import ContextVar
from pathlib import Path
from types import SimpleNamespace
from typing import Literal

import aiohttp

from storage.db import DRIVER_FILE, DRIVER_FRAMES

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
# A caller's own id (a proxy's X-Request-Id) is kept only when it cannot carry anything
# else into the log: a short run of plain characters.
_GIVEN_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Ours: this process's random half, then a count. Only unique, never secret: a random id
# each time cost every ack a system call (1–2 % of a burst's event loop on this machine).
_OWN_PREFIX = secrets.token_hex(4)
_OWN_IDS = (f"{_OWN_PREFIX}{n & 0xFFFFFFFF:08x}" for n in itertools.count())

Format = Literal["text", "json"]
TEXT_FORMAT = "%(levelname)s %(name)s%(request_tag)s: %(message)s"

log = logging.getLogger(__name__)
_ROOT = Path(__file__).resolve().parents[1]


def new_request_id(given: str | None = None) -> str:
    if given is not None and _GIVEN_ID.fullmatch(given):
        return given
    return next(_OWN_IDS)


class RequestIdFilter(logging.Filter):
    """Stamps every record with the request id in force (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = REQUEST_ID.get()
        record.request_id = request_id
        record.request_tag = f" [{request_id}]" if request_id else ""
        return True


class JsonFormatter(logging.Formatter):
    """One object per line: time (UTC), level, logger, message, request id, and for a
    failure the exception's type and traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str, format: Format) -> None:
    """Set up the root logger for a command or server: as logging.basicConfig, left as it
    is when someone else (a test's log capture) has set it up; ours is replaced."""
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "digilog", False)]
    if len(ours) == len(root.handlers):
        for old in ours:
            root.removeHandler(old)
        handler = logging.StreamHandler()
        handler.addFilter(RequestIdFilter())
        formatter = JsonFormatter() if format == "json" else logging.Formatter(TEXT_FORMAT)
        handler.setFormatter(formatter)
        handler.digilog = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        root.setLevel(level)
    # Alembic narrates every start at INFO; only its warnings are news.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # and APScheduler every job
    # At DEBUG slack_sdk logs every response body, the OAuth access token's too; and
    # bolt logs a request body whose signature it refused (bot/edge.py refuses those
    # before bolt sees them, but a body must never reach a log line however it came).
    logging.getLogger("slack_sdk").setLevel(logging.INFO)
    logging.getLogger("slack_bolt").setLevel(logging.INFO)
    # At DEBUG aiosqlite logs every statement with its parameters: people's texts.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)


def calls_out() -> aiohttp.ClientSession:
    """A session for Digilog's calls to a platform: traced (`outgoing_calls`), and keeping
    no cookies, which neither platform's API uses (a look through the jar cost each call
    a percent of a quiz click's work)."""
    return aiohttp.ClientSession(
        trace_configs=outgoing_calls(), cookie_jar=aiohttp.DummyCookieJar()
    )


def outgoing_calls() -> list[aiohttp.TraceConfig]:
    """A session's trace that logs each call Digilog makes (method, host, status,
    milliseconds; never a path or a body, which name people and hold texts) under the
    request id in force; none unless DEBUG is on when the session is made. (A trace costs
    every call out five signals whether they log or not: 3 % of a quiz burst's event loop,
    which posts a reply per click.)"""
    if not log.isEnabledFor(logging.DEBUG):
        return []
    trace = aiohttp.TraceConfig()

    async def started(
        _session: aiohttp.ClientSession,
        context: SimpleNamespace,
        _params: aiohttp.TraceRequestStartParams,
    ) -> None:
        context.started = time.monotonic()

    async def ended(
        _session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        elapsed = (time.monotonic() - getattr(context, "started", time.monotonic())) * 1000
        log.debug(
            "outgoing %s %s: %d in %.0f ms",
            params.method,
            params.url.host,
            params.response.status,
            elapsed,
        )

    async def failed(
        _session: aiohttp.ClientSession,
        _context: SimpleNamespace,
        params: aiohttp.TraceRequestExceptionParams,
    ) -> None:
        log.debug(
            "outgoing %s %s failed: %s",
            params.method,
            params.url.host,
            type(params.exception).__name__,
        )

    trace.on_request_start.append(started)
    trace.on_request_end.append(ended)
    trace.on_request_exception.append(failed)
    return [trace]


def failure_of(error: BaseException) -> str:
    """A failure as a log line may name it: its type and the deepest line of Digilog's own
    code it went through; never its message, which may quote a body or a statement's
    parameters (people's texts)."""
    return f"{type(error).__name__} at {_where(error)}"


def _where(error: BaseException) -> str:
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        path = Path(frame.filename)
        if path.is_relative_to(_ROOT) and ".venv" not in path.parts:
            if str(path) == DRIVER_FILE and frame.name in DRIVER_FRAMES:
                continue  # the SQLite driver's plumbing: the statement's caller says more
            return f"{path.relative_to(_ROOT)}:{frame.lineno}"
    return "a library"
