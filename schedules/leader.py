"""Which process keeps the calendar: the one holding a PostgreSQL advisory lock.

The lock belongs to a database session, so it goes when its process dies (even by
SIGKILL: the server sees the connection close) and a waiting process takes it. On
SQLite there is one process, and it leads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, suppress

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

# A 64-bit key no other application on the database is likely to use ("digilog" + 1).
LOCK_KEY = int.from_bytes(b"digilog\x01", "big") - 2**63

Lead = Callable[[], AbstractAsyncContextManager[None]]


async def hold_leadership(
    engine: AsyncEngine, stop: asyncio.Event, lead: Lead, *, retry_seconds: float = 5.0
) -> None:
    """Until stopped: whenever this process holds the lock, keep `lead()` entered."""
    if engine.dialect.name != "postgresql":
        async with lead():
            await stop.wait()
        return
    while not stop.is_set():
        try:
            async with engine.connect() as connection:
                if await _try_lock(connection):
                    log.info("this process now keeps the calendar")
                    async with lead():
                        await _until_lost(connection, stop, retry_seconds)
                    with suppress(Exception):
                        await connection.execute(
                            text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY}
                        )
        except Exception as error:  # the database went away: try again as a follower
            log.warning("leader election: %s", error)
        await sleep_unless(stop, retry_seconds)


async def _try_lock(connection: AsyncConnection) -> bool:
    got = await connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY})
    await connection.commit()  # the lock is the session's; no transaction stays open
    return bool(got)


async def _until_lost(connection: AsyncConnection, stop: asyncio.Event, every: float) -> None:
    """Return when stopped, or raise when the connection (and so the lock) is gone."""
    while not await sleep_unless(stop, every):
        await connection.execute(text("SELECT 1"))
        await connection.commit()


async def sleep_unless(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep; True at once if `stop` is set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
