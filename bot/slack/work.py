"""Work that follows an ack, done by a few workers in arrival order.

Acks must go out within 3 seconds. Started as a task of its own, every click's work
would compete with the acks for the one event loop (a burst of 1,000 clicks left
1,000 handlers alive at once, and their garbage collections delayed the acks); in a
queue it waits its turn, and the acks stay quick.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]
QUIET = 0.002  # seconds without a new request before a job runs
MAX_DEFERRAL = 1.0  # the longest the queue waits for quiet before it works regardless


class WorkQueue:
    def __init__(self, workers: int, capacity: int = 10_000) -> None:
        self._queue: asyncio.Queue[Job] = asyncio.Queue(maxsize=capacity)
        self._count = workers
        self._workers: list[asyncio.Task[None]] = []
        self._last_put = 0.0
        self._busy_since: float | None = None

    async def _let_acks_go_first(self) -> None:
        """While requests stream in, wait: their acks have a deadline, this job has none.

        Only for so long: under steady heavy traffic (no quiet moment for MAX_DEFERRAL)
        jobs run between the requests, so replies keep coming."""
        while (now := time.monotonic()) - self._last_put < QUIET:
            self._busy_since = self._busy_since or now
            if now - self._busy_since > MAX_DEFERRAL:
                return
            await asyncio.sleep(QUIET)
        self._busy_since = None

    def start(self) -> None:
        self._workers = [asyncio.create_task(self._work()) for _ in range(self._count)]

    async def put(self, job: Job) -> None:
        """Queue a job; when the queue is full, wait (the request was acked already)."""
        self._last_put = time.monotonic()
        await self._queue.put(job)

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            await self._let_acks_go_first()
            try:
                await job()
            except Exception:  # one failed job must not stop the worker; log it whole
                log.exception("work after an ack failed")
            finally:
                self._queue.task_done()

    async def close(self) -> None:
        """Finish what was acked, then stop."""
        await self._queue.join()
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
