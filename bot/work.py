"""Work that follows an ack, done by a few workers in arrival order.

Slack wants an ack within 3 seconds, Teams an answer to an invoke within 5. Started
as a task of its own, every click's work would compete with the acks for the one
event loop (a burst of 1,000 clicks left 1,000 handlers alive at once, and their
garbage collections delayed the acks); in a queue it waits its turn, and while
requests are still coming in, it waits for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]
MAX_DEFERRAL = 1.0  # seconds a job waits for the requests in flight before it runs anyway


class WorkQueue:
    def __init__(self, workers: int, capacity: int = 10_000) -> None:
        self._queue: asyncio.Queue[Job] = asyncio.Queue(maxsize=capacity)
        self._count = workers
        self._workers: list[asyncio.Task[None]] = []
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def request_started(self) -> None:
        self._in_flight += 1
        self._idle.clear()

    def request_finished(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self._idle.set()

    def start(self) -> None:
        self._workers = [asyncio.create_task(self._work()) for _ in range(self._count)]

    async def put(self, job: Job) -> None:
        """Queue a job; when the queue is full, wait (the request was acked already)."""
        await self._queue.put(job)

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            # Requests in flight have a deadline, this job has none: let them answer
            # first. Only for so long, so that steady traffic still gets its replies.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), MAX_DEFERRAL)
            try:
                await job()
            except Exception:  # one failed job must not stop the worker; log it whole
                log.exception("work after an ack failed")
            finally:
                self._queue.task_done()

    async def drained(self) -> None:
        """Until every job queued so far is done (tests wait for this)."""
        await self._queue.join()

    async def close(self) -> None:
        """Finish what was acked, then stop."""
        await self._queue.join()
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
