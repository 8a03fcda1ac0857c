"""Scheduling in a running process: a sender always, the timekeeper while elected leader."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from handlers.digilog import Digilog
from schedules.clock import Clock, SystemClock
from schedules.courier import Courier
from schedules.leader import hold_leadership
from schedules.send import LEASE, Sender
from schedules.timekeeper import Timekeeper
from storage.unit import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Timing:
    sweep_seconds: float = 10.0  # how soon a changed calendar is noticed, at the latest
    poll_seconds: float = 2.0  # how soon a sender sees rows another process wrote
    election_seconds: float = 5.0  # how often a follower tries to become the leader
    lease_seconds: float = LEASE.total_seconds()  # how long a dead sender's rows wait
    # Senders in the process, sharing its couriers (and so the pace): while one waits for
    # the platform's answer, another composes and records, so the database's work does
    # not come out of the pace.
    senders: int = 2


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Scheduling:
    timekeeper: Timekeeper
    sender: Sender


@asynccontextmanager
async def scheduling(
    store: Store,
    digilog: Digilog,
    courier: Courier,
    *,
    clock: Clock | None = None,
    timing: Timing = Timing(),
    lead: bool = True,
) -> AsyncIterator[Scheduling]:
    """Send due deliveries while entered; keep the calendar too when elected (and `lead`)."""
    clock = clock or SystemClock()
    stop, wake = asyncio.Event(), asyncio.Event()
    senders = [
        Sender(
            store,
            digilog,
            courier,
            clock,
            worker=worker_name() + (f"/{n}" if n else ""),
            lease=timedelta(seconds=timing.lease_seconds),
        )
        for n in range(max(1, timing.senders))
    ]
    sender = senders[0]
    timekeeper = Timekeeper(
        store,
        clock,
        wake.set,
        sweep_seconds=timing.sweep_seconds,
        timers=isinstance(clock, SystemClock),
    )
    tasks = [
        asyncio.create_task(each.run(stop, wake, timing.poll_seconds), name=f"sender {n}")
        for n, each in enumerate(senders)
    ]
    if lead:
        tasks.append(
            asyncio.create_task(
                hold_leadership(
                    store.engine,
                    stop,
                    timekeeper.running,
                    retry_seconds=timing.election_seconds,
                ),
                name="leader election",
            )
        )
    try:
        yield Scheduling(timekeeper, sender)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
