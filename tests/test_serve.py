"""`digilog serve` as an operator starts it: a process that answers on its port."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from tests import slack_payloads as p
from tests.slack_fake import FakeSlack

SECRET = "serve-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_serve_answers_health_checks_and_verifies_slack_requests(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    async with FakeSlack() as fake:
        env = {
            **os.environ,
            "DIGILOG_DATABASE_URL": database_url,
            "DIGILOG_DATA_DIR": str(tmp_path),
            "SLACK_BOT_TOKEN": "xoxb-serve",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.api_url,
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as http:
                for _ in range(100):
                    try:
                        async with http.get(f"{base}/healthz") as r:
                            assert r.status == 200
                            break
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.1)
                else:
                    pytest.fail("digilog serve did not come up")
                request = p.slash_command("help", user="U_SOMEONE")
                async with http.post(
                    f"{base}/slack/events",
                    data=request.body.encode(),
                    headers=request.headers("not-the-secret"),
                ) as r:
                    assert r.status == 401
        finally:
            process.terminate()
            await process.wait()


def test_serve_without_credentials_says_what_is_missing(tmp_path: Path) -> None:
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env |= {"DIGILOG_DATA_DIR": str(tmp_path), "SLACK_BOT_TOKEN": "xoxb-1"}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "SLACK_SIGNING_SECRET is needed" in result.stderr
