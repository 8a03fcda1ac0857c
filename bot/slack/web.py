"""Slack's half of `digilog serve`'s web app: its endpoints and the bolt app behind them.

bot/web.py adds it only when Slack is on, so that a Teams-only server never imports
bolt and the SDK (about 0.1 s and 8 MB at start, #16).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.edge import slack_body_problem, slack_refusal
from bot.logs import calls_out
from bot.settings import Settings
from bot.slack.app import SlackApp, build_slack_app
from bot.web import LANES, RUNTIME, SETTINGS, WORK
from bot.webhooks import posting

log = logging.getLogger(__name__)

FORM = "application/x-www-form-urlencoded"
SLACK = web.AppKey("slack", AsyncApp)


def add_slack(app: web.Application, settings: Settings) -> None:
    """The bolt app's lifetime, and its endpoints unless Slack comes over a WebSocket."""
    app.cleanup_ctx.append(_slack)
    # In Socket Mode requests come over the app's own WebSocket, unsigned; an HTTP
    # endpoint there would take unsigned requests from anyone who can reach the port.
    if settings.slack_app_token is None:
        app.router.add_post("/slack/events", slack_events)
        if settings.slack_client_id:
            app.router.add_get("/slack/install", slack_install)
            app.router.add_get("/slack/oauth_redirect", slack_oauth_redirect)


async def _slack(app: web.Application) -> AsyncIterator[None]:
    settings, runtime = app[SETTINGS], app[RUNTIME]
    engine, work = runtime.store.engine, app[WORK]
    async with calls_out() as session, posting(session) as poster:
        bolt = build_slack_app(settings, runtime.digilog, engine, work, app[LANES], session, poster)
        app[SLACK] = bolt
        handler = None
        if settings.slack_app_token is not None:
            # Socket Mode: Slack pushes over a WebSocket, so no public URL is needed. Its
            # client loads only here, as most servers take Slack's requests over HTTP.
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            handler = AsyncSocketModeHandler(bolt, settings.slack_app_token.get_secret_value())
            await handler.connect_async()  # type: ignore[no-untyped-call]
        try:
            yield
        finally:
            if handler is not None:
                await handler.close_async()  # type: ignore[no-untyped-call]
            # Replies on their way need this session: finish them before it closes.
            await work.close()


async def slack_events(request: web.Request) -> web.Response:
    work = request.app[WORK]
    work.request_started()  # the work queue waits while requests are being answered
    try:
        return await _dispatch(request)
    finally:
        work.request_finished()


async def _dispatch(request: web.Request) -> web.Response:
    """Verified on the raw bytes, then bounded, then bolt: nothing unverified is parsed."""
    body = await request.read()  # over MAX_BODY_BYTES: aiohttp answers 413 unread
    secret = request.app[SETTINGS].slack_signing_secret
    refusal = "no signing secret" if secret is None else None
    refusal = refusal or slack_refusal(
        secret.get_secret_value() if secret else "", request.headers, body
    )
    if refusal is not None:
        # One line, naming no content: during a clock drift or a secret rotation every
        # real request comes here, with people's texts in its body.
        log.warning("Slack request refused (401): %s", refusal)
        return web.Response(status=401, text="unverified request")
    if problem := slack_body_problem(body, request.content_type):
        log.warning("signed Slack request with a malformed body refused (400): %s", problem)
        return web.Response(status=400, text="malformed request")
    bolt = request.app[SLACK]
    if isinstance(bolt, SlackApp) and request.content_type == FORM:
        direct = await bolt.ack_click(body.decode("utf-8"))
        if direct is not None:
            return await to_aiohttp_response(direct)
    try:
        bolt_request = AsyncBoltRequest(
            body=body.decode("utf-8"),
            query=request.query_string,
            headers=request.headers,  # type: ignore[arg-type]
        )
    except (ValueError, TypeError, AttributeError, IndexError, KeyError, RecursionError):
        # bolt reads fields such as `authorizations` while parsing, trusting their shape.
        log.warning("signed Slack request with a malformed body refused (400)")
        return web.Response(status=400, text="malformed request")
    response = await bolt.async_dispatch(bolt_request)
    if response.status >= 500 and response.status != 503:
        # bolt has logged the failure; a 500 would only make Slack retry the same request.
        # A 503 is meant: an event the inbound journal could not take, for Slack to resend.
        response = BoltResponse(status=200, body="")
    return await to_aiohttp_response(response)


async def slack_install(request: web.Request) -> web.Response:
    flow = request.app[SLACK].oauth_flow
    assert flow is not None
    return await to_aiohttp_response(await flow.handle_installation(await to_bolt_request(request)))


async def slack_oauth_redirect(request: web.Request) -> web.Response:
    flow = request.app[SLACK].oauth_flow
    assert flow is not None
    return await to_aiohttp_response(await flow.handle_callback(await to_bolt_request(request)))
