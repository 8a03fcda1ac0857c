"""`digilog serve` in a process of its own, as an operator starts it, for tests that need one.

The process is ready when /healthz answers, not after a fixed time: on a loaded machine
start-up may take many seconds. If it dies or never answers, the test fails with what the
process wrote, which is where the reason is.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

READY_WITHIN = 180.0  # seconds: generous, since a slow start is not what these tests test


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    process: asyncio.subprocess.Process
    base_url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@asynccontextmanager
async def serving(
    env: Mapping[str, str], folder: Path, *args: str, port: int | None = None
) -> AsyncIterator[Served]:
    """`digilog serve` (started as the `digilog` command starts it) on a free port of
    127.0.0.1, until the block ends."""
    port = port or free_port()
    log = folder / f"serve-{port}.log"
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "bot.launch", "serve", "--host", "127.0.0.1", "--port", str(port), *args),
            env=dict(env),
            cwd=folder,  # away from any .env file in the checkout
            stdin=asyncio.subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
        )
    served = Served(process, f"http://127.0.0.1:{port}", log)
    try:
        await until_healthy(served)
        yield served
    finally:
        if process.returncode is None:
            with suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=30)
            except TimeoutError:
                with suppress(ProcessLookupError):
                    process.kill()
                await process.wait()


async def until_healthy(served: Served, within: float = READY_WITHIN) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as http:
        while True:
            if served.process.returncode is not None:
                pytest.fail(
                    f"digilog serve exited with {served.process.returncode}:\n{served.output()}"
                )
            with suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(
                    f"{served.base_url}/healthz", timeout=aiohttp.ClientTimeout(total=5)
                ) as response:
                    if response.status == 200:
                        return
            if time.monotonic() > deadline:
                pytest.fail(
                    f"digilog serve did not answer within {within:.0f} s:\n{served.output()}"
                )
            await asyncio.sleep(0.1)
