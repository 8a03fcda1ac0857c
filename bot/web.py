"""The aiohttp application that `digilog serve` runs: Slack's and Teams' endpoints and a
health check."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from sqlalchemy import text

from bot.compose import (
    Runtime,
    journal_of,
    open_runtime,
    platform_couriers,
    running_schedules,
    timing_of,
)
from bot.edge import edge, slack_body_problem, slack_refusal
from bot.lanes import Lanes
from bot.logs import outgoing_calls
from bot.settings import Settings
from bot.slack.app import SlackApp, build_slack_app
from bot.work import Journal
from schedules.service import Scheduling

if TYPE_CHECKING:
    from bot.teams.app import TeamsAdapter

log = logging.getLogger(__name__)

# Slack's largest payloads (a modal's state, a long message event) stay far below this;
# anything bigger is refused before it is read.
MAX_BODY_BYTES = 1024 * 1024
FORM = "application/x-www-form-urlencoded"

SETTINGS = web.AppKey("settings", Settings)
RUNTIME = web.AppKey("runtime", Runtime)
SLACK = web.AppKey("slack", AsyncApp)
WORK = web.AppKey("work", Journal)
LANES = web.AppKey("lanes", Lanes)
# The Agents SDK takes a second or more to import: loaded only when Teams is on.
TEAMS: web.AppKey[TeamsAdapter] = web.AppKey("teams")
SCHEDULING = web.AppKey("scheduling", Scheduling)


def create_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[edge])
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_runtime)
    app.router.add_get("/healthz", healthz)
    if settings.slack_enabled or settings.teams_enabled:
        app.cleanup_ctx.append(_work)
    if settings.slack_enabled:
        app.cleanup_ctx.append(_slack)
    # In Socket Mode requests come over the app's own WebSocket, unsigned; an HTTP
    # endpoint there would take unsigned requests from anyone who can reach the port.
    if settings.slack_enabled and settings.slack_app_token is None:
        app.router.add_post("/slack/events", slack_events)
        if settings.slack_client_id:
            app.router.add_get("/slack/install", slack_install)
            app.router.add_get("/slack/oauth_redirect", slack_oauth_redirect)
    if settings.teams_enabled:
        app.cleanup_ctx.append(_teams)
        app.router.add_post("/api/messages", teams_messages)
    if settings.slack_enabled or settings.teams_enabled:
        app.cleanup_ctx.append(_start_work)  # once each platform has added its work
        app.cleanup_ctx.append(_scheduling)
    return app


async def _runtime(app: web.Application) -> AsyncIterator[None]:
    async with open_runtime(app[SETTINGS]) as runtime:
        app[RUNTIME] = runtime
        yield


async def _work(app: web.Application) -> AsyncIterator[None]:
    """The inbound journal's workers, for both platforms (they add their halves of the
    work as they start), and the lanes their replies go out in."""
    journal = journal_of(app[SETTINGS], app[RUNTIME].store)
    app[WORK] = journal
    app[LANES] = Lanes()
    yield
    # The platforms' cleanups ran first, each closing the journal while its session was
    # still open; closing again does nothing.
    await journal.close()


async def _start_work(app: web.Application) -> AsyncIterator[None]:
    app[WORK].start()
    yield


async def _slack(app: web.Application) -> AsyncIterator[None]:
    settings, runtime = app[SETTINGS], app[RUNTIME]
    engine, work = runtime.store.engine, app[WORK]
    async with aiohttp.ClientSession(trace_configs=[outgoing_calls()]) as session:
        bolt = build_slack_app(settings, runtime.digilog, engine, work, app[LANES], session)
        app[SLACK] = bolt
        handler = None
        if settings.slack_app_token is not None:
            # Socket Mode: Slack pushes over a WebSocket, so no public URL is needed.
            handler = AsyncSocketModeHandler(bolt, settings.slack_app_token.get_secret_value())
            await handler.connect_async()  # type: ignore[no-untyped-call]
        try:
            yield
        finally:
            if handler is not None:
                await handler.close_async()  # type: ignore[no-untyped-call]
            # Replies on their way need this session: finish them before it closes.
            await work.close()


async def _teams(app: web.Application) -> AsyncIterator[None]:
    from bot.teams.app import TeamsAdapter, auth_configuration
    from bot.teams.binding import binder_of
    from bot.teams.connector import teams_connector
    from bot.teams.messenger import Messenger

    settings, runtime = app[SETTINGS], app[RUNTIME]
    async with aiohttp.ClientSession(trace_configs=[outgoing_calls()]) as session:
        connector = teams_connector(settings, session)
        binder = binder_of(
            settings.secret_key_list(),
            settings.teams_app_password.get_secret_value() if settings.teams_app_password else None,
        )
        messenger = Messenger(connector, runtime.digilog, runtime.store, binder=binder)
        auth = auth_configuration(
            settings.teams_app_id, settings.teams_tenant_id, anonymous=settings.teams_anonymous
        )
        app[TEAMS] = TeamsAdapter(
            runtime.digilog, messenger, auth, runtime.store, app[WORK], app[LANES]
        )
        try:
            yield
        finally:
            # Replies on their way need this session: finish them before it closes.
            await app[WORK].close()


async def _scheduling(app: web.Application) -> AsyncIterator[None]:
    """Scheduled posts and nudges, each through its platform's courier."""
    settings, runtime = app[SETTINGS], app[RUNTIME]
    async with aiohttp.ClientSession() as session:
        couriers = platform_couriers(settings, runtime, session)
        async with running_schedules(runtime, couriers, timing_of(settings)) as running:
            app[SCHEDULING] = running
            # What was set up so far lives as long as the app: nothing to collect there.
            gc.freeze()
            yield


async def teams_messages(request: web.Request) -> web.Response:
    return await request.app[TEAMS].messages(request)


async def healthz(request: web.Request) -> web.Response:
    """200 while the database answers: what a load balancer needs to know."""
    try:
        async with request.app[RUNTIME].store.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:  # any failure to reach the database means unhealthy
        log.warning("health check: database unreachable: %s", error)
        return web.json_response({"ok": False, "database": "unreachable"}, status=503)
    return web.json_response({"ok": True})


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
