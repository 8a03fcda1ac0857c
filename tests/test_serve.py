"""`digilog serve` as an operator starts it: a process that answers on its port."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import aiohttp
import pytest

from tests import slack_payloads as p
from tests.processes import serving
from tests.slack_fake import FakeSlack

SECRET = "serve-secret"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_serve_answers_health_checks_and_verifies_slack_requests(
    database_url: str, tmp_path: Path
) -> None:
    async with FakeSlack() as fake:
        env = {
            **os.environ,
            "DIGILOG_DATABASE_URL": database_url,
            "DIGILOG_DATA_DIR": str(tmp_path),
            "SLACK_BOT_TOKEN": "xoxb-serve",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.api_url,
        }
        async with serving(env, tmp_path) as served, aiohttp.ClientSession() as http:
            async with http.get(f"{served.base_url}/healthz") as r:
                assert r.status == 200
            request = p.slash_command("help", user="U_SOMEONE")
            async with http.post(
                f"{served.base_url}/slack/events",
                data=request.body.encode(),
                headers=request.headers("not-the-secret"),
            ) as r:
                assert r.status == 401


def test_serve_without_credentials_says_what_is_missing(tmp_path: Path) -> None:
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env |= {
        "DIGILOG_DATA_DIR": str(tmp_path),
        "DIGILOG_LANGUAGE": "sv",
        "SLACK_BOT_TOKEN": "xoxb-1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 2
    assert (
        "digilog serve: SLACK_SIGNING_SECRET behövs för att kontrollera förfrågningar över "
        "HTTP (eller ange SLACK_APP_TOKEN för Socket Mode)\n"
    ) in result.stderr
