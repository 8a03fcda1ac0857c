"""The aiohttp application that `digilog serve` runs: Slack's and Teams' endpoints and a
health check."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web
from sqlalchemy import text

from bot.compose import (
    Runtime,
    journal_of,
    open_runtime,
    platform_couriers,
    running_schedules,
    timing_of,
)
from bot.edge import edge
from bot.lanes import Lanes
from bot.logs import calls_out, failure_of
from bot.settings import Settings
from bot.work import Journal

if TYPE_CHECKING:
    from bot.teams.app import TeamsAdapter

log = logging.getLogger(__name__)

# Slack's largest payloads (a modal's state, a long message event) stay far below this;
# anything bigger is refused before it is read.
MAX_BODY_BYTES = 1024 * 1024

SETTINGS = web.AppKey("settings", Settings)
RUNTIME = web.AppKey("runtime", Runtime)
WORK = web.AppKey("work", Journal)
LANES = web.AppKey("lanes", Lanes)
# The Agents SDK takes a second or more to import: loaded only when Teams is on.
TEAMS: web.AppKey[TeamsAdapter] = web.AppKey("teams")

# Scheduled posts and nudges begin this long after start. A start's first moment is for
# requests: after a restart, Slack's retries and the clicks of people waiting come at
# once, and the schedules' first sweep beside them delayed the first answer by 40–60 ms
# on a slow machine (bench/startup.py). A post a second later costs no one.
SCHEDULES_AFTER_SECONDS = 1.0


def create_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[edge])
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_runtime)
    app.router.add_get("/healthz", healthz)
    if settings.slack_enabled or settings.teams_enabled:
        app.cleanup_ctx.append(_work)
    if settings.slack_enabled:
        # Here, not at the top: a Teams-only server need not load bolt and the SDK.
        from bot.slack.web import add_slack

        add_slack(app, settings)
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


async def _teams(app: web.Application) -> AsyncIterator[None]:
    from bot.teams.app import TeamsAdapter, TokenCheck
    from bot.teams.binding import binder_of
    from bot.teams.connector import teams_connector
    from bot.teams.messenger import Messenger

    settings, runtime = app[SETTINGS], app[RUNTIME]
    async with calls_out() as session:
        connector = teams_connector(settings, session)
        binder = binder_of(
            settings.secret_key_list(),
            settings.teams_app_password.get_secret_value() if settings.teams_app_password else None,
        )
        messenger = Messenger(connector, runtime.digilog, runtime.store, binder=binder)
        auth = TokenCheck(
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
    """Scheduled posts and nudges, each through its platform's courier, from
    SCHEDULES_AFTER_SECONDS after start until the server stops."""
    stopping = asyncio.Event()
    keeping = asyncio.create_task(
        _keep_schedules(app[SETTINGS], app[RUNTIME], stopping), name="schedules"
    )
    keeping.add_done_callback(_report_schedules)
    yield
    stopping.set()
    with contextlib.suppress(Exception):  # told by _report_schedules
        await keeping


async def _keep_schedules(settings: Settings, runtime: Runtime, stopping: asyncio.Event) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(SCHEDULES_AFTER_SECONDS):
            await stopping.wait()
    if stopping.is_set():
        return  # stopped before they began
    async with aiohttp.ClientSession() as session:
        couriers = platform_couriers(settings, runtime, session)
        async with running_schedules(runtime, couriers, timing_of(settings)):
            await stopping.wait()


def _report_schedules(keeping: asyncio.Task[None]) -> None:
    if not keeping.cancelled() and (error := keeping.exception()) is not None:
        log.error("scheduled posts and nudges stopped: %s", failure_of(error))


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
