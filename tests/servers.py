"""`digilog serve` in a test, against tests/slack_fake.py and tests/teams_fake.py.

The end-to-end tests (Slack and Teams scenarios, the role matrix, the fuzzing, the mixed
cohort) each serve the real app; how its settings point it at the fakes, and how it is
started and stopped, is here once, so a new setting or fake is wired up in one place.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer
from microsoft_agents.hosting.core.authorization.jwt.jwt_token_validator import (
    JwtTokenValidator,
)

from bot.settings import Settings
from bot.web import create_app
from tests.slack_fake import FakeSlack
from tests.teams_fake import TENANT, FakeConnector

# What the served app checks Slack's request signatures with; tests sign with it.
SLACK_SECRET = "test-signing-secret"


def serve_settings(
    database_url: str,
    data_dir: Path,
    *,
    slack: FakeSlack | None = None,
    teams: FakeConnector | None = None,
    **overrides: Any,
) -> Settings:
    """Settings for `digilog serve` with Slack against `slack` (a bot token, no OAuth),
    Teams against `teams` (its app, in the fake's tenant), either, both or neither; any
    other setting as `overrides`."""
    platforms: dict[str, Any] = {}
    if slack is not None:
        platforms |= {
            "slack_bot_token": "xoxb-test",
            "slack_signing_secret": SLACK_SECRET,
            "slack_api_url": slack.api_url,
        }
    if teams is not None:
        platforms |= {
            "teams_app_id": teams.app_id,
            "teams_app_password": teams.app_password,
            "teams_tenant_id": TENANT,
            "teams_token_url": teams.token_url,
        }
    # No .env: a developer's own settings must not reach a test.
    return Settings(
        _env_file=None, database_url=database_url, data_dir=data_dir, **platforms, **overrides
    )


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[TestServer]:
    """The app of `digilog serve` listening on loopback (a free port) until the block ends."""
    # The Agents SDK keeps one JWKS client per key URL for the whole process, with the keys
    # it fetched. A test's fake connector serves its keys on a fresh port that an earlier
    # test's server may have had, so a kept client would answer with another fake's keys.
    JwtTokenValidator._jwk_client_manager._cache.clear()
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()
