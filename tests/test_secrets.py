"""Secrets stay secret: Slack OAuth tokens are encrypted at rest and the key can be rotated;
no token, password or key shows in a log record, a settings repr or an error's text."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.fernet import Fernet
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from sqlalchemy import text

from bot.compose import configure_logging
from bot.sealing import Sealer, SecretKeyError
from bot.settings import Settings
from bot.slack.secure_store import INSTALLATION_SECRETS, SealedInstallationStore
from bot.teams.connector import Connector, ConnectorError, static_token, teams_connector
from bot.teams.courier import TeamsCourier
from bot.web import create_app
from schedules.courier import OutcomeUnknown, Refused
from storage.unit import Store
from tests import slack_fake
from tests.conftest import run_digilog
from tests.slack_fake import FakeSlack
from tests.teams_fake import APP_ID, BOT, CHANNEL, TENANT, FakeConnector
from tests.test_teams_courier import to_channel

CLIENT_ID = "111.222"
OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
# Real-shaped values. slack_sdk's columns hold 200 characters, and a sealed value is about
# 2.3 times as long as the plain one plus 60: up to 79 characters fit (PostgreSQL enforces it).
SECRETS = {
    "bot_token": "xoxb-1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "bot_refresh_token": "xoxe-1-My0xLTEyMzQ1Njc4OTAxMjMtMTIzNDU2Nzg5MDEy",
    "user_token": "xoxp-1234567890123-1234567890123-1234567890123-0123456789abcdef0123456789abcdef",
    "user_refresh_token": "xoxe-1-My0xLTEyMzQ1Njc4OTAxMjMtOTg3NjU0MzIxMDk4",
    "incoming_webhook_url": "https://hooks.slack.com/services/T01234567/B01234567/AbCdEfGhIjKlMnOpQrStUvWx",
}


def installation(team: str = "T1", **tokens: str) -> Installation:
    return Installation(
        app_id="A_DIGILOG",
        enterprise_id=None,
        team_id=team,
        team_name="Workspace",
        bot_id="B1",
        bot_user_id="UBOT",
        bot_scopes="commands,chat:write",
        user_id="U_ADMIN",
        user_scopes="identify",
        incoming_webhook_channel="#general",
        incoming_webhook_channel_id="C1",
        **(SECRETS | tokens),
    )


def sealed(store: Store, *keys: str) -> SealedInstallationStore:
    return SealedInstallationStore(CLIENT_ID, store.engine, Sealer(list(keys)))


async def raw(store: Store, table: str, columns: tuple[str, ...]) -> list[dict[str, str | None]]:
    """What the database holds, read past the store with plain SQL."""
    async with store.engine.connect() as connection:
        result = await connection.execute(text(f"SELECT {', '.join(columns)} FROM {table}"))
        return [dict(row) for row in result.mappings()]


async def stored_values(store: Store) -> list[str]:
    bots = await raw(store, "slack_bots", ("bot_token", "bot_refresh_token"))
    installs = await raw(store, "slack_installations", INSTALLATION_SECRETS)
    return [value for row in bots + installs for value in row.values() if value is not None]


# ---------------------------------------------------------------- at rest


async def test_a_saved_token_is_encrypted_in_the_database_and_decrypted_when_found(
    store: Store,
) -> None:
    slack = sealed(store, NEW_KEY)
    await slack.async_save(installation())
    values = await stored_values(store)
    assert len(values) == 7  # five in the installation, two in the bot
    for value in values:
        assert value.startswith("gAAAAA") and len(value) <= 200
        assert not any(secret in value for secret in SECRETS.values())
    assert Sealer([NEW_KEY]).open(values[0]) == SECRETS["bot_token"]  # sealed once, not twice

    found = await slack.async_find_installation(enterprise_id=None, team_id="T1")
    assert found is not None
    assert {name: getattr(found, name) for name in SECRETS} == SECRETS
    bot = await slack.async_find_bot(enterprise_id=None, team_id="T1")
    assert bot is not None
    assert (bot.bot_token, bot.bot_refresh_token) == (
        SECRETS["bot_token"],
        SECRETS["bot_refresh_token"],
    )
    by_user = await slack.async_find_installation(
        enterprise_id=None, team_id="T1", user_id="U_ADMIN"
    )
    assert by_user is not None and by_user.user_token == SECRETS["user_token"]
    assert by_user.bot_token == SECRETS["bot_token"]


async def test_rotation_reencrypts_with_the_new_key_and_the_old_key_can_then_go(
    store: Store,
) -> None:
    await sealed(store, OLD_KEY).async_save(installation())
    before = await stored_values(store)
    both = sealed(store, NEW_KEY, OLD_KEY)
    # Until the rotation, both keys are needed: what is stored opens with the old one.
    found = await both.async_find_bot(enterprise_id=None, team_id="T1")
    assert found is not None and found.bot_token == SECRETS["bot_token"]

    assert await both.reseal_all() == 7
    after = await stored_values(store)
    assert all(value.startswith("gAAAAA") for value in after)
    assert set(after).isdisjoint(before)
    assert [Sealer([NEW_KEY]).open(value) for value in after] == [
        Sealer([OLD_KEY]).open(value) for value in before
    ]

    new_only = sealed(store, NEW_KEY)
    found_install = await new_only.async_find_installation(enterprise_id=None, team_id="T1")
    assert found_install is not None
    assert {name: getattr(found_install, name) for name in SECRETS} == SECRETS
    with pytest.raises(SecretKeyError) as error:
        await sealed(store, OLD_KEY).async_find_bot(enterprise_id=None, team_id="T1")
    assert OLD_KEY not in str(error.value) and NEW_KEY not in str(error.value)


async def test_plain_text_rows_from_before_are_read_and_encrypted_by_rotate(
    store: Store,
) -> None:
    legacy = AsyncSQLAlchemyInstallationStore(CLIENT_ID, store.engine)
    await legacy.async_save(installation())
    assert sorted(await stored_values(store)) == sorted(
        [SECRETS["bot_token"], SECRETS["bot_refresh_token"], *SECRETS.values()]
    )
    slack = sealed(store, NEW_KEY)
    found = await slack.async_find_installation(enterprise_id=None, team_id="T1")
    assert found is not None
    assert {name: getattr(found, name) for name in SECRETS} == SECRETS

    assert await slack.reseal_all() == 7
    values = await stored_values(store)
    assert all(value.startswith("gAAAAA") for value in values)
    assert not set(values) & set(SECRETS.values())
    bot = await slack.async_find_bot(enterprise_id=None, team_id="T1")
    assert bot is not None and bot.bot_token == SECRETS["bot_token"]


async def test_the_cli_makes_a_key_and_rotates(
    database_url: str, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = run_digilog(database_url, tmp_path, "secrets", "new-key")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    Fernet(key.encode())  # a valid key

    await AsyncSQLAlchemyInstallationStore(CLIENT_ID, store.engine).async_save(installation())
    monkeypatch.delenv("DIGILOG_SECRET_KEYS", raising=False)
    refused = run_digilog(database_url, tmp_path, "secrets", "rotate")
    assert refused.returncode == 1 and "DIGILOG_SECRET_KEYS" in refused.stderr

    monkeypatch.setenv("DIGILOG_SECRET_KEYS", f"{key},{OLD_KEY}")
    rotated = run_digilog(database_url, tmp_path, "secrets", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    assert "7 sparade hemligheter" in rotated.stdout and "kan nu tas bort" in rotated.stdout
    values = await stored_values(store)
    assert all(Sealer([key]).open(value) in SECRETS.values() for value in values)
    assert all(value.startswith("gAAAAA") for value in values)


# ---------------------------------------------------------------- serve refuses


def test_serve_refuses_oauth_without_keys_or_with_a_bad_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'digilog.db'}"
    monkeypatch.setenv("SLACK_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SLACK_CLIENT_SECRET", "client-secret")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing-secret")
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "TEAMS_APP_ID", "DIGILOG_SECRET_KEYS"):
        monkeypatch.delenv(name, raising=False)
    refused = run_digilog(url, tmp_path, "serve")
    assert refused.returncode == 2
    assert "DIGILOG_SECRET_KEYS" in refused.stderr and "secrets new-key" in refused.stderr

    bad = "not-a-fernet-key-but-a-secret"
    monkeypatch.setenv("DIGILOG_SECRET_KEYS", f"{NEW_KEY}, {bad}")
    refused = run_digilog(url, tmp_path, "serve")
    assert refused.returncode == 2
    assert "nyckel 2 av 2 är ingen Fernet-nyckel" in refused.stderr  # run_digilog: Swedish
    assert bad not in refused.stderr and NEW_KEY not in refused.stderr


def test_the_settings_repr_hides_every_secret() -> None:
    secrets = {
        "slack_bot_token": "xoxb-repr-bot-token",
        "slack_signing_secret": "repr-signing-secret",
        "slack_app_token": "xapp-repr-app-token",
        "slack_client_secret": "repr-client-secret",
        "teams_app_password": "repr-teams-password",
        "secret_keys": NEW_KEY,
    }
    settings = Settings(
        _env_file=None,
        database_url="postgresql+asyncpg://digilog:repr-db-password@db/digilog",
        **secrets,  # type: ignore[arg-type]
    )
    shown = repr(settings) + str(settings)
    for value in (*secrets.values(), "repr-db-password"):
        assert value not in shown
    assert settings.secret_key_list() == [NEW_KEY]


# ---------------------------------------------------------------- logs and errors


async def test_no_secret_in_any_log_record_or_error_text(
    database_url: str, store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client_secret, signing_secret = "oauth-client-secret-x1", "signing-secret-x2"
    teams_password, wrong_password = "teams-app-password-x3", "wrong-teams-password-x4"
    errors: list[str] = []

    # A Slack OAuth install into a second workspace, end to end.
    async with FakeSlack() as fake, aiohttp.ClientSession() as http:
        settings = Settings(
            _env_file=None,
            database_url=database_url,
            data_dir=tmp_path,
            slack_client_id=CLIENT_ID,
            slack_client_secret=client_secret,
            slack_signing_secret=signing_secret,
            slack_api_url=fake.api_url,
            secret_keys=f"{NEW_KEY},{OLD_KEY}",
            log_level="DEBUG",
        )
        # As `digilog serve` does: whether another test did it first must not matter.
        configure_logging(settings)
        server = TestServer(create_app(settings), host="127.0.0.1")
        await server.start_server()
        try:
            async with http.get(server.make_url("/slack/install"), allow_redirects=False) as r:
                location = r.headers.get("Location", "") + await r.text()
                cookie = r.headers.get("Set-Cookie", "")
            state = location.split("state=", 1)[1].split("&", 1)[0].split('"', 1)[0]
            callback = server.make_url("/slack/oauth_redirect").with_query(
                code=slack_fake.OAUTH_CODE, state=state
            )
            headers = {"Cookie": cookie.split(";", 1)[0]}
            async with http.get(callback, headers=headers, allow_redirects=False) as r:
                assert r.status == 200, await r.text()
            # A callback with a stale state: the error page names no secret either.
            async with http.get(callback, headers=headers, allow_redirects=False) as r:
                errors.append(await r.text())
        finally:
            await server.close()
    [bot_token] = [row["bot_token"] for row in await raw(store, "slack_bots", ("bot_token",))]
    assert bot_token is not None and Sealer([NEW_KEY]).open(bot_token) == "xoxb-installed-t2"

    # A Teams send the Bot Connector refuses, and one whose token Entra refuses.
    async with (
        FakeConnector(APP_ID, teams_password).running() as connector,
        aiohttp.ClientSession() as session,
    ):
        async with store.transaction() as repos:
            await repos.addresses.remember("teams", TENANT, CHANNEL, connector.service_url, BOT)
        for password in (teams_password, wrong_password):
            teams = Settings(
                _env_file=None,
                teams_app_id=APP_ID,
                teams_app_password=password,
                teams_tenant_id=TENANT,
                teams_token_url=connector.token_url,
            )
            courier = TeamsCourier(store, teams_connector(teams, session))
            connector.fail_next(500, code="ServiceError")
            with pytest.raises((Refused, OutcomeUnknown)) as failed:
                await courier.send("k", to_channel("Theme 1 has started"))
            logging.getLogger("test").exception("the send failed", exc_info=failed.value)
            cause = failed.value.__cause__
            errors += [str(failed.value), repr(failed.value), str(cause), repr(cause)]
    assert "Teams: 500 ServiceError" in errors

    secrets = (
        client_secret,
        signing_secret,
        "xoxb-installed-t2",
        NEW_KEY,
        OLD_KEY,
        teams_password,
        wrong_password,
        "connector-access-token",  # the Entra access token the fake hands out
    )
    # Not checked: the OAuth code in the access log's request line; it is spent by then.
    logged = [caplog.text, *(record.getMessage() for record in caplog.records)]
    assert any(record.levelno == logging.DEBUG for record in caplog.records)
    for secret in secrets:
        leaks = [line for line in logged + errors if secret in line]
        assert not leaks, f"{secret!r} leaked: {leaks[0][:300]}"


async def test_a_connector_error_never_repeats_the_token_a_service_echoes() -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.Response(status=400, text=f"bad request: {dict(request.headers)}")

    app = web.Application()
    app.router.add_post("/v3/conversations/{conversation}/activities", echo)
    async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as session:
        connector = Connector(session, static_token("echoed-access-token"))
        with pytest.raises(ConnectorError) as error:
            await connector.send(str(server.make_url("/")), CHANNEL, {"type": "message"})
    assert error.value.status == 400 and "[token]" in error.value.detail
    assert "echoed-access-token" not in str(error.value)
