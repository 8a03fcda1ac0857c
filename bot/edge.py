"""The HTTP edge: what every request meets before any of Digilog's or a library's parsers.

- Each request gets an id (bot/logs.py) that its log lines, its queued work and its
  outgoing calls carry.
- A request that fails anyway is answered 503 with one log line naming the failure's
  type and where it was raised, never its message or the body (either may hold a
  person's text), and never a traceback.
- Slack's signature and timestamp are checked here on the raw bytes, before bolt
  parses anything: an unverifiable request is 401 with one line naming no content.
- JSON is read only with its nesting bounded, so a body of 5,000 brackets is a 400
  rather than a RecursionError in a parser.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from itertools import accumulate
from typing import Any
from urllib.parse import unquote_plus

from aiohttp import web

from bot.logs import REQUEST_ID, failure_of, new_request_id

log = logging.getLogger(__name__)

# Slack's own payloads nest about a dozen levels (a modal's blocks and their rich text).
MAX_JSON_DEPTH = 64
# Slack refuses to sign a request older than five minutes; so do we (a replayed one).
MAX_SIGNATURE_AGE_SECONDS = 60 * 5
_BRACKETS = str.maketrans({"{": "(", "[": "(", "}": ")", "]": ")"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Malformed(ValueError):
    """A body that is not what it claims to be; the reason names no content."""


@web.middleware
async def edge(request: web.Request, handler: Handler) -> web.StreamResponse:
    token = REQUEST_ID.set(new_request_id(request.headers.get("X-Request-Id")))
    try:
        return await handler(request)
    except web.HTTPException:
        raise  # aiohttp's own answers: 404, 405, 413 for a body over the limit
    except Exception as error:  # the last line of defence: a request never gets a 500
        log.error("%s %s failed: %s", request.method, request.path, failure_of(error))
        return web.json_response({"error": "could not be handled; try again"}, status=503)
    finally:
        REQUEST_ID.reset(token)


# ---------------------------------------------------------------- Slack


def slack_refusal(secret: str, headers: Any, body: bytes, now: float | None = None) -> str | None:
    """Why a Slack request is not Slack's (None: it is), checked on the raw bytes.

    The reason names the header at fault, never the body or a header's value."""
    stamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not stamp or not signature:
        return "unsigned"
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        return "timestamp is not a number"
    if abs((time.time() if now is None else now) - int(stamp)) > MAX_SIGNATURE_AGE_SECONDS:
        return "timestamp too old or in the future"
    expected = (
        "v0="
        + hmac.new(
            secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256
        ).hexdigest()
    )
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        return "signature does not match"
    return None


def slack_body_problem(body: bytes, content_type: str) -> str | None:
    """Why a signed Slack body cannot be handed to bolt (None: it can)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8"
    if content_type.startswith("application/json"):
        return depth_problem(text) or nul_problem(text)
    # A form: a slash command's fields, or an interaction's JSON in `payload`. Only the
    # JSON's brackets, quotes and backslashes matter to its depth: those are decoded and
    # the rest left as sent, which gives the same depth as decoding it all (as bolt
    # does next) at a fraction of the cost. A field's name is decoded as parse_qsl would.
    for field in text.split("&"):
        if "%00" in field:
            return NUL
        name, _, value = field.partition("=")
        if "%" in name or "+" in name:
            name = unquote_plus(name)
        if name != "payload":
            continue
        # Fewer openings than the limit cannot nest deeper: an interaction's payload has
        # a dozen, and counting them costs a tenth of decoding its structure.
        openings = (
            value.count("%7B") + value.count("%5B") + value.count("%7b") + value.count("%5b")
        ) + (value.count("{") + value.count("["))
        problem = None if openings <= MAX_JSON_DEPTH else depth_problem(_structure(value))
        if problem is None and ("u0000" in value or _surrogate_escaped(value)):
            problem = nul_problem(unquote_plus(value))
        if problem is not None:
            return problem
    return None


def unquote_form_value(encoded: str) -> str:
    """`urllib.parse.unquote_plus` with the C codecs: that one decodes escape by escape in
    Python, 80 µs for a small interaction payload, a fifth of a click's ack. Each `%XX`
    becomes `\\xXX` for the `unicode_escape` codec; anything it would read otherwise (a
    backslash as sent, a non-ASCII character, a `%` without two hex digits, bytes that
    are not UTF-8) goes to `unquote_plus`, so both always give the same text."""
    if "\\" in encoded:
        return unquote_plus(encoded)
    try:
        escaped = encoded.encode("ascii").replace(b"+", b" ").replace(b"%", b"\\x")
        return escaped.decode("unicode_escape").encode("latin-1").decode("utf-8")
    except (UnicodeError, ValueError):
        return unquote_plus(encoded)


_STRUCTURE = (("%22", '"'), ("%5C", "\\"), ("%7B", "{"), ("%7D", "}"), ("%5B", "["), ("%5D", "]"))


def _structure(encoded: str) -> str:
    """A form value with the JSON's structural characters decoded, the rest as sent.
    (No other escape decodes to one of them, and `%25` leaves `%` as `%25` here.)"""
    if "%" not in encoded:
        return encoded
    for escape, char in _STRUCTURE:
        encoded = encoded.replace(escape, char).replace(escape.lower(), char)
    return encoded


# ---------------------------------------------------------------- JSON


def depth_problem(text: str) -> str | None:
    """None when the JSON text nests no deeper than MAX_JSON_DEPTH (brackets in strings
    do not count); it may still not be JSON."""
    if text.count("{") + text.count("[") <= MAX_JSON_DEPTH:
        return None
    outside_strings = "".join(text.split('"')[::2]) if '\\"' not in text else _unquoted(text)
    brackets = outside_strings.translate(_BRACKETS)
    steps = (1 if c == "(" else -1 for c in brackets if c in "()")
    if max(accumulate(steps), default=0) > MAX_JSON_DEPTH:
        return f"nested deeper than {MAX_JSON_DEPTH} levels"
    return None


def _unquoted(text: str) -> str:
    """The text with its JSON strings (escaped quotes and all) left out."""
    out: list[str] = []
    in_string = escaped = False
    for c in text:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        else:
            out.append(c)
    return "".join(out)


def load_json(body: bytes) -> Any:
    """The body as JSON, its nesting bounded; Malformed otherwise."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Malformed("not UTF-8") from error
    if problem := depth_problem(text):
        raise Malformed(problem)
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise Malformed("not JSON") from error
    if "\\u0000" in text and _holds_nul(value):
        raise Malformed(NUL)
    if _surrogate_escaped(text) and _holds_lone_surrogate(value):
        raise Malformed(LONE_SURROGATE)
    return value


# No platform sends a NUL character, and PostgreSQL cannot store one in a text: a body
# holding one is malformed, not work that fails later.
NUL = "a NUL character in a string"


# Half of a surrogate pair with no other half: JSON can write one (\\ud8aa), but it is no
# character, cannot be written as UTF-8, and no platform sends it. Let in, it fails later
# where Digilog writes it out (a reply to a conversation so named), after the ack.
LONE_SURROGATE = "half of a surrogate pair in a string"
# Its escape in JSON text, or in a form value holding JSON (the backslash percent-encoded).
_SURROGATE_ESCAPE = re.compile(r"(?:\\|%5[cC])u[dD][89a-fA-F]")


def _surrogate_escaped(text: str) -> bool:
    """Whether JSON text, or a form value holding JSON, may escape half a surrogate
    pair: a quick look, which the caller's exact check follows. Two substring searches
    first: the expression alone, over a whole payload, took half of its checks."""
    return ("ud" in text or "uD" in text) and bool(_SURROGATE_ESCAPE.search(text))


def nul_problem(text: str) -> str | None:
    """NUL when the JSON text holds a NUL character in a string, LONE_SURROGATE when it
    holds half a surrogate pair (None if neither, or not JSON)."""
    nul, surrogate = "\\u0000" in text, _surrogate_escaped(text)
    if not (nul or surrogate):
        return None  # the only ways JSON can carry either
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None  # not JSON: that is for bolt to say
    if nul and _holds_nul(value):
        return NUL
    return LONE_SURROGATE if surrogate and _holds_lone_surrogate(value) else None


def _holds_nul(value: Any) -> bool:
    return _any_text(value, lambda text: "\x00" in text)


def _holds_lone_surrogate(value: Any) -> bool:
    def lone(text: str) -> bool:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False

    return _any_text(value, lone)


def _any_text(value: Any, bad: Callable[[str], bool]) -> bool:
    if isinstance(value, str):
        return bad(value)
    if isinstance(value, dict):
        return any(_any_text(k, bad) or _any_text(v, bad) for k, v in value.items())
    if isinstance(value, list):
        return any(_any_text(item, bad) for item in value)
    return False
