"""Record, acknowledge, then work: the inbound journal and the workers that empty it.

Slack wants an ack within 3 seconds, Teams an answer to an invoke within 5. Each action
that needs work is written to the journal (one INSERT) before it is acknowledged; the
workers of any process take entries under a lease (PostgreSQL: `SKIP LOCKED`), do the
work and delete the entry once its replies are out. A process that dies leaves its
entries behind, and the next worker takes them when their lease runs out.

An entry whose work fails is tried again after a pause; when it still fails, or fails
after its work was stored (a reply that could not be sent), the person is told in their
language and the failure is kept for facilitators and operators (`digilog failures`).

Replies do not hold a worker: they go out through the lanes of bot/lanes.py, and the
entry is deleted when they are out, so a throttled channel holds no one else's work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Row

from bot.logs import REQUEST_ID, failure_of
from bot.together import Together
from storage.db import listening
from storage.inbound import INBOUND_CHANNEL, Claim, Failed
from storage.models import utcnow
from storage.swedish import loaded_in_turns
from storage.unit import Store

if TYPE_CHECKING:
    from handlers.core.vocabulary import Inbound, Outgoing
    from handlers.digilog import Digilog

log = logging.getLogger(__name__)

# An action to journal: platform, kind, payload, the platform's event id, the request's id.
Action = tuple[str, str, dict[str, Any], str | None, str | None]
FLUSH_SECONDS = 0.25  # finished entries wait this long to be deleted together
MAX_DEFERRAL = 1.0  # seconds a worker waits for the requests in flight before it works anyway
# A burst: BURST_REQUESTS actions acked within BURST_SECONDS (160 a second). While one lasts
# the work waits; at a workshop's pace it goes ahead whenever no request is in flight. A
# Teams click is not counted: its request waits for its own work, so waiting for the next
# ones would only hold up the answers they wait for.
BURST_REQUESTS, BURST_SECONDS = 16, 0.1
BUSY_BATCH = 5  # entries taken when the work goes ahead of requests in flight
# Quiet for this long after actions were worked: a lull, in which what the work needs is
# loaded, a slice at a time: a wave of clicks that comes meanwhile finds it paused until
# the next lull.
LULL = 2.0
WARM_PAUSE = 0.05  # seconds between looks at whether the load may go on
PREPARING = 8  # entries of a batch made ready at once (each may ask the platform something)


class NotJournalled(Exception):
    """The database did not take an action: the request must not be acknowledged."""


@dataclass
class Entry:
    """A journal entry as a worker holds it."""

    id: int
    platform: str
    kind: str
    payload: dict[str, Any]
    attempts: int
    received_at: datetime
    handled: bool = False  # its work is stored: never do it again, only its replies remain
    request_id: str | None = None
    event_id: str | None = None

    @classmethod
    def of(cls, row: Row[Any]) -> Entry:
        """From a row of the journal's CLAIMED_COLUMNS."""
        return cls(
            row.id,
            row.platform,
            row.kind,
            row.payload,
            row.attempts,
            row.received_at,
            row.handled,
            row.request_id,
            row.event_id,
        )


class Performer(Protocol):
    """A platform's half of the work: what an entry means, and how to answer it."""

    async def perform(self, entry: Entry) -> Awaitable[None] | None:
        """Do the entry's work; set `entry.handled` once it is stored. Returns what is
        still being sent (awaited apart from the worker), or None when all is sent."""

    async def tell_failed(self, entry: Entry) -> bool:
        """Tell the person their action did not go through; True if the message went."""

    def failed(self, entry: Entry, reason: str) -> tuple[Failed, int | None]:
        """What the failure row says, and the cohort when the payload names it."""


@dataclass
class Job:
    """An entry made ready, outside any transaction (its calls to the platform done): the
    event to handle, and how its messages go out."""

    event: Inbound
    send: Callable[[list[Outgoing]], Awaitable[None] | None]
    delivery_id: str | None = None
    # Called once the batch's work is over for this entry, stored or failed (after send):
    # what waits on it hears something even when it failed or had nothing to say (a Teams
    # click's request, which has its answer to give within Teams' 5 s).
    settle: Callable[[bool], None] | None = None  # called with whether the work failed


@dataclass
class Answered:
    """An entry answered before the database (a refusal): nothing to handle, only what is
    still being sent (None when all is sent)."""

    sending: Awaitable[None] | None


class Batching(Performer, Protocol):
    """A performer whose entries are handled together: the journal handles the jobs of a
    batch of entries in one transaction (Digilog.handle_many), then sends each one's.

    It may also have `alone(entry) -> bool`: True for an entry still worked one by one
    through `perform` (work that is its own, such as a Teams file upload)."""

    digilog: Digilog

    async def prepare(self, entry: Entry) -> Job | Answered | None:
        """The entry's job; None when it asks for nothing (the entry is done), Answered
        when it was answered without the database."""


@dataclass(frozen=True)
class JournalTiming:
    workers: int = 1
    batch: int = 50  # entries a worker takes at once, and handles in one transaction
    lease_seconds: float = 30.0
    poll_seconds: float = 2.0
    attempts: int = 3
    backoff_seconds: float = 2.0  # the first retry's pause; each later one 4 × longer


def worker_name() -> str:
    """Unique per process and start: a restarted process does not own its old leases."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


class Journal:
    def __init__(
        self,
        store: Store,
        timing: JournalTiming | None = None,
        warm: Callable[[], bool] | None = None,
    ) -> None:
        self.store = store
        # What the work will soon need and an idle process need not hold (the Swedish
        # dictionary, 100 MB and a second of CPU to load), as slices run on this loop
        # (True once all is loaded): only in lulls after this process has worked actions,
        # paused whenever a request comes. Loaded in one go in a thread it held the GIL
        # for that second: at the first action it fell into a workshop's first burst; in
        # a lull, into the wave that came right after.
        self._warm = warm
        # What a search or saved reflection finishes first if the lull's load has not.
        self._load_slice = warm
        self._warming: asyncio.Task[None] | None = None
        self._last_worked: float | None = None  # when this process last took actions
        self.timing = timing or JournalTiming()
        self.worker = worker_name()
        self.performers: dict[str, Performer] = {}
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()  # set as entries finish (`drained` waits for it)
        self._tasks: list[asyncio.Task[None]] = []
        self._finishing: set[asyncio.Future[None]] = set()  # replies on their way, and more
        self._active = 0  # entries this process holds: being worked, or their replies sent
        self._in_flight = 0
        self._starts: deque[float] = deque(maxlen=BURST_REQUESTS)  # the latest actions' times
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False
        self._finished: list[int] = []  # done, to be deleted with the next few
        self._record_together = Together(self._record_many)  # one INSERT for those waiting
        # Entries claimed as they were journalled (see `record`): worked before the
        # journal is asked for more, without a claim of their own.
        self._taken: deque[Entry] = deque()
        self._last_claim = 0.0  # when the journal was last asked (the loop's clock)
        # Actions were journalled (here or by another process) that only a claim finds.
        self._claim_soon = False
        self._to_flush = asyncio.Event()

    def add(self, platform: str, performer: Performer) -> None:
        self.performers[platform] = performer

    # ------------------------------------------------------------ the ack path

    def request_started(self) -> None:
        self._in_flight += 1
        self._idle.clear()

    def request_finished(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self._idle.set()

    async def record(
        self,
        platform: str,
        kind: str,
        payload: dict[str, Any],
        event_id: str | None = None,
        *,
        answered_by_work: bool = False,
    ) -> bool:
        """Journal an action before it is acknowledged; False for a platform event already
        in the journal (a retry). Raises when the database does not take it: then the
        request must not be acknowledged, so that the platform tries again.

        Requests that come while a write is under way are written together, in one
        transaction (a group commit): in a burst, one INSERT serves dozens of acks.

        `answered_by_work`: the request waits for this action's work (a Teams click, whose
        answer is the updated card), so no request of the same person follows until the
        work is done; it does not count towards a burst the work should wait out. Only
        this process can give that answer, so the action is claimed as it is written (by
        a started journal that works its platform): no other process's worker takes it,
        and this one needs no claim of its own."""
        if not answered_by_work:
            self._starts.append(asyncio.get_running_loop().time())
        action = (platform, kind, payload, event_id, REQUEST_ID.get())
        return await self._record_together((action, not answered_by_work))

    async def _record_many(self, recorded: list[tuple[Action, bool]]) -> list[bool]:
        actions = [action for action, _ in recorded]
        # Other processes' workers hear how many count towards a burst, to wait it out too.
        said = f"{self.worker} {sum(starts for _, starts in recorded)}"
        now = utcnow()
        taken = None
        if self._tasks and not self._closing:
            own = [
                i
                for i, (action, starts) in enumerate(recorded)
                if not starts and action[0] in self.performers
            ]
            lease = timedelta(seconds=self.timing.lease_seconds)
            taken = Claim(own, self.worker, now + lease) if own else None
        try:
            async with self.store.transaction() as repos:
                new = await repos.inbound.record_many(actions, now, said=said, taken=taken)
        except Exception as error:  # each request hears of it, and is not acked
            # Named, not quoted: the database's message holds the payloads' texts.
            raise NotJournalled(failure_of(error)) from None
        if taken is None or len(taken.positions) < len(recorded):
            self._claim_soon = True
        if taken is not None:
            # Once per row: the same activity twice in one write is one row.
            rows = {}
            for position in taken.positions:
                platform, kind, payload, event_id, request_id = actions[position]
                if event_id is not None and (row_id := new.get((platform, event_id))):
                    rows[row_id] = Entry(
                        row_id, platform, kind, payload, 1, now, False, request_id, event_id
                    )
            self._taken.extend(rows.values())
        self._wake.set()
        return [
            event_id is None or (platform, event_id) in new
            for platform, _, _, event_id, _ in actions
        ]

    # ------------------------------------------------------------ lifetime

    def start(self) -> None:
        if self._tasks or self._closing:
            return
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self.timing.workers)]
        self._tasks.append(asyncio.create_task(self._keep_leases()))
        self._tasks.append(asyncio.create_task(self._flush_finished()))
        self._tasks.append(asyncio.create_task(self._listen()))

    async def _listen(self) -> None:
        """Woken when any process journals an action (PostgreSQL's NOTIFY), not only at
        the next poll: a `digilog worker` takes a burst's clicks as they come."""
        try:
            async with listening(self.store.engine, INBOUND_CHANNEL, self._heard) as heard:
                if heard:
                    await asyncio.Event().wait()  # until close() cancels it
        except Exception as error:  # the poll still finds everything, only later
            log.warning("inbound journal: not listening, polling: %s", failure_of(error))

    def _heard(self, said: str) -> None:
        """Another process journalled actions. A burst of them is one for this process's
        workers too (a `digilog worker` beside `digilog serve`): they wait it out, as
        that process's own do, rather than take the cores its acks need."""
        sender, _, starts = said.rpartition(" ")
        if sender != self.worker:
            self._claim_soon = True  # this process's own were told at their write
            if starts.isdigit():
                now = asyncio.get_running_loop().time()
                self._starts.extend([now] * min(int(starts), BURST_REQUESTS))
        self._wake.set()

    async def drained(self) -> None:
        """Until the journal is empty and nothing is being sent (tests wait for this).
        Entries done here are deleted at once rather than with the next few."""
        while True:
            # Cleared before looking: a change while this looks wakes the wait below.
            self._changed.clear()
            if self._active == 0:
                waiting = await self._waiting()
                if waiting == 0:
                    return
                if waiting <= len(self._finished):
                    await self._flush()
                    continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), self.timing.poll_seconds)

    async def close(self, grace: float = 10.0) -> None:
        """Finish what is in hand (replies for up to `grace` s, at most a lease: by then
        another process may have taken the entry), then stop. Entries left behind stay in
        the journal for the next process."""
        grace = min(grace, self.timing.lease_seconds)
        self._closing = True
        self._wake.set()
        if self._warming is not None:
            self._tasks.append(self._warming)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._finishing:
            await asyncio.wait(self._finishing, timeout=grace)
        for finishing in self._finishing:
            finishing.cancel()
        await asyncio.gather(*self._finishing, return_exceptions=True)
        await self._flush()

    async def _waiting(self) -> int:
        try:
            async with self.store.transaction() as repos:
                return await repos.inbound.waiting()
        except Exception as error:  # the database is away: nothing can be said to be done
            log.warning("inbound journal unreadable: %s", failure_of(error))
            return 1

    def _changed_now(self) -> None:
        self._changed.set()

    # ------------------------------------------------------------ the workers

    async def _work(self) -> None:
        while not self._closing:
            try:
                await self._work_once()
            except Exception as error:  # a worker that died would leave the journal unworked
                log.error("inbound journal: a worker's turn failed: %s", failure_of(error))
                await asyncio.sleep(self.timing.poll_seconds)

    async def _work_once(self) -> None:
        """One turn: take what is due, or wait for the next action or poll."""
        self._wake.clear()
        # Requests in flight have a deadline and this work has none: let them be
        # answered first, though not for so long that steady traffic starves it. Work
        # that goes ahead anyway takes a few entries, so that the requests behind it
        # wait for little (on SQLite they wait for its transaction's one connection).
        quiet = await self._until_quiet()
        limit = self.timing.batch if quiet else BUSY_BATCH
        loop = asyncio.get_running_loop()
        # What was claimed as it was journalled goes first. The journal is asked as soon
        # as something only a claim finds was journalled, and at least every poll (for
        # retries): a message does not wait behind a workshop's stream of clicks.
        entries: list[Entry] = []
        since_claim = loop.time() - self._last_claim
        if not self._taken or self._claim_soon or since_claim >= self.timing.poll_seconds:
            self._claim_soon = False
            self._last_claim = loop.time()
            try:
                entries = await self._claim(limit)
            except Exception as error:  # the database is away: try again at the next poll
                log.warning("inbound journal: could not take entries: %s", failure_of(error))
        if not entries and self._taken:
            entries = [self._taken.popleft() for _ in range(min(limit, len(self._taken)))]
        if not entries:
            self._warm_when_idle()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.timing.poll_seconds)
            return
        self._active += len(entries)
        self._last_worked = asyncio.get_running_loop().time()
        await self._run_batch(entries)

    def _warm_when_idle(self) -> None:
        if self._warm is None or self._last_worked is None or not self._in_lull():
            return
        warm, self._warm = self._warm, None
        self._warming = asyncio.create_task(self._warm_in_slices(warm))

    def _in_lull(self) -> bool:
        """No request and no entry in hand, and none for LULL seconds."""
        if self._active or self._in_flight:
            return False
        latest = max(self._last_worked or 0.0, self._starts[-1] if self._starts else 0.0)
        return asyncio.get_running_loop().time() - latest >= LULL

    async def _warm_in_slices(self, load_slice: Callable[[], bool]) -> None:
        """Slices only in a lull: one that comes in the gaps of a burst's work adds its
        time to the burst's last answer."""
        try:
            while not load_slice():
                # What came meanwhile is read in the loop's next turns: if it is a request,
                # it goes first.
                for _ in range(3):
                    await asyncio.sleep(0)
                # A lull has no event to wait for; a look every WARM_PAUSE is cheap.
                while not self._in_lull():  # noqa: ASYNC110
                    await asyncio.sleep(WARM_PAUSE)
            self._load_slice = None
        except Exception as error:  # what needs it loads it when it does, or says why not
            log.error("inbound journal: could not load ahead: %s", failure_of(error))

    async def _until_quiet(self) -> bool:
        """Until no request is in flight and no burst of actions came lately (True), or
        MAX_DEFERRAL has passed (False). Idle alone is not enough in a burst: acks that
        share a group commit are all answered at once, and the burst's next requests
        come a moment later. At a workshop's pace (a few clicks a second) idle is enough."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + MAX_DEFERRAL
        while True:
            left = deadline - loop.time()
            if left <= 0:
                return False
            try:
                await asyncio.wait_for(self._idle.wait(), left)
            except TimeoutError:
                return False
            starts = self._starts
            busy_for = (
                starts[0] + BURST_SECONDS - loop.time() if len(starts) == starts.maxlen else 0.0
            )
            if busy_for <= 0:
                # The loop may have been busy itself: what came meanwhile is read in its
                # next few turns. Quiet only if nothing started in them either.
                for _ in range(3):
                    await asyncio.sleep(0)
                if self._in_flight == 0:
                    return True
                continue
            await asyncio.sleep(min(busy_for, left))

    async def _run_batch(self, entries: list[Entry]) -> None:
        """Entries taken together: those of a batching performer are made ready side by
        side (each asks the platform who acted, a round trip the first time), then
        handled in one transaction; the others are worked one by one."""
        batched: list[tuple[Entry, Batching]] = []
        for position, entry in enumerate(entries):
            if self._closing:
                # Not begun (those put aside to be handled together neither): another
                # worker takes them when the lease runs out.
                self._active -= len(entries) - position + len(batched)
                return
            performer = self.performers.get(entry.platform)
            if entry.handled or not hasattr(performer, "prepare") or _alone(performer, entry):
                # Its log lines and calls out carry the id of the request that brought it.
                token = REQUEST_ID.set(entry.request_id)
                try:
                    await self._run(entry)
                finally:
                    REQUEST_ID.reset(token)
            else:
                batched.append((entry, performer))  # type: ignore[arg-type]
        if not batched:
            return
        calls = asyncio.Semaphore(PREPARING)

        async def prepare(entry: Entry, performer: Batching) -> Job | Answered | Exception | None:
            REQUEST_ID.set(entry.request_id)  # in this task's own copy of the context
            async with calls:
                try:
                    return await performer.prepare(entry)
                except Exception as error:
                    return error

        prepared = await asyncio.gather(*(prepare(e, p) for e, p in batched))
        jobs: list[tuple[Entry, Batching, Job]] = []
        for (entry, performer), job in zip(batched, prepared, strict=True):
            token = REQUEST_ID.set(entry.request_id)
            try:
                if isinstance(job, Exception):
                    self._later(self._failed(entry, performer, job))
                elif job is None:
                    self._finish_later(entry, performer, None)
                elif isinstance(job, Answered):
                    self._finish_later(entry, performer, job.sending)
                else:
                    jobs.append((entry, performer, job))
            finally:
                REQUEST_ID.reset(token)
        if jobs:
            await self._handle_readers_last(jobs)

    async def _handle_readers_last(self, jobs: list[tuple[Entry, Batching, Job]]) -> None:
        """While the dictionary is not loaded, the jobs that read text (a search, a saved
        reflection: Feature.reads_text) are handled once it is; the others need not wait."""
        if self._load_slice is not None:
            reads = [performer.digilog.features.reads_text(job.event) for _, performer, job in jobs]
            if any(reads):
                if others := [job for job, reading in zip(jobs, reads, strict=True) if not reading]:
                    await self._handle_jobs(others)
                await self._words_ready(self._load_slice)
                jobs = [job for job, reading in zip(jobs, reads, strict=True) if reading]
        await self._handle_jobs(jobs)

    async def _words_ready(self, load_slice: Callable[[], bool]) -> None:
        """The rest of the dictionary's load now, a slice per turn of the event loop: the
        requests that come meanwhile are answered. Loaded at once by the search itself, it
        held the loop for a second."""
        try:
            await loaded_in_turns(load_slice)
        except Exception as error:  # the work loads it itself, and fails there if it must
            log.error("inbound journal: could not load ahead: %s", failure_of(error))
            return
        self._warm = self._load_slice = None

    async def _handle_jobs(self, jobs: list[tuple[Entry, Batching, Job]]) -> None:
        """One transaction for the batch's work, each entry marked handled in it."""

        @contextlib.contextmanager
        def scope(i: int) -> Iterator[None]:
            token = REQUEST_ID.set(jobs[i][0].request_id)
            try:
                yield
            finally:
                REQUEST_ID.reset(token)

        digilog = jobs[0][1].digilog
        results: list[list[Outgoing] | Exception]
        try:
            results = await digilog.handle_many(
                [(job.event, job.delivery_id, entry.id) for entry, _, job in jobs], scope
            )
        except Exception as error:  # none was stored; each is retried, each settled
            results = [error for _ in jobs]
        for i, ((entry, performer, job), result) in enumerate(zip(jobs, results, strict=True)):
            with scope(i):
                try:
                    self._handled(entry, performer, job, result)
                finally:
                    if job.settle is not None:
                        job.settle(isinstance(result, Exception))

    def _handled(
        self, entry: Entry, performer: Batching, job: Job, result: list[Outgoing] | Exception
    ) -> None:
        if isinstance(result, Exception):
            self._later(self._failed(entry, performer, result))
            return
        entry.handled = True
        try:
            sending = job.send(result)
        except Exception as error:
            self._later(self._failed(entry, performer, error))
            return
        self._finish_later(entry, performer, sending)

    async def _claim(self, limit: int) -> list[Entry]:
        lease = timedelta(seconds=self.timing.lease_seconds)
        async with self.store.transaction() as repos:
            # Only what this process can work: a Teams click's answer is awaited in the
            # process that took its request, so a worker without Teams leaves it.
            rows = await repos.inbound.claim(
                self.worker, utcnow(), lease, limit, platforms=self.performers.keys()
            )
            return [Entry.of(row) for row in rows]

    async def _run(self, entry: Entry) -> None:
        """Work one entry; it stays counted as active until its replies are out."""
        if entry.handled:
            # Its worker stored the work and died before its replies were out; doing it
            # again would store it twice. What it would have said is not known.
            log.warning(
                "inbound entry %d was handled before a restart; its reply is lost", entry.id
            )
            self._finish_later(entry, None, None)
            return
        performer = self.performers.get(entry.platform)
        if performer is None:
            # Another process serves that platform (or it was switched off): leave it.
            log.warning("inbound entry %d is for %s, not served here", entry.id, entry.platform)
            self._later(self._release(entry))
            return
        try:
            sending = await performer.perform(entry)
        except Exception as error:
            self._later(self._failed(entry, performer, error))
            return
        self._finish_later(entry, performer, sending)

    def _later(self, job: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await job
            finally:
                self._active -= 1
                self._changed_now()

        task = asyncio.create_task(run())
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)

    def _finish_later(
        self, entry: Entry, performer: Performer | None, sending: Awaitable[None] | None
    ) -> None:
        """Done once its replies are out; failed if they fail. On the replies' own future
        when they have one (a Slack reply's lane gives one), without a task: a task per
        click was 2 % of a burst's event loop."""
        if sending is None:
            self._done(entry)
            self._active -= 1
            self._changed_now()
            return
        sending = asyncio.ensure_future(sending)  # a coroutine's task; a future as it is

        def finished(future: asyncio.Future[None]) -> None:
            self._finishing.discard(future)
            if not future.cancelled():
                if (error := future.exception()) is not None:
                    assert performer is not None
                    self._later(self._failed(entry, performer, error))  # it counts it off
                    return
                self._done(entry)
            self._active -= 1
            self._changed_now()

        self._finishing.add(sending)
        sending.add_done_callback(finished)

    def _done(self, entry: Entry) -> None:
        """Deleted with the next few entries done, in one statement. Should this process
        die before, the next one finds the entry marked handled and only deletes it (an
        entry never handled, such as a refusal, is answered again: it changed nothing)."""
        self._finished.append(entry.id)
        self._to_flush.set()

    async def _flush_finished(self) -> None:
        while True:
            await self._to_flush.wait()
            # A moment for more to finish: one DELETE then serves a whole batch.
            await asyncio.sleep(FLUSH_SECONDS)
            self._to_flush.clear()
            await self._flush()

    async def _flush(self) -> None:
        finished, self._finished = self._finished, []
        if not finished:
            return
        try:
            async with self.store.transaction() as repos:
                await repos.inbound.all_done(finished, self.worker)
        except Exception as error:  # left in the journal: the lease runs out, then deleted
            log.warning(
                "%d inbound entries done, but not deleted: %s", len(finished), failure_of(error)
            )
        self._changed_now()

    async def _release(self, entry: Entry) -> None:
        later = utcnow() + timedelta(seconds=self.timing.lease_seconds)
        with contextlib.suppress(Exception):
            async with self.store.transaction() as repos:
                await repos.inbound.retry_at(entry.id, self.worker, later, "no performer")

    async def _failed(self, entry: Entry, performer: Performer, error: BaseException) -> None:
        # Its type and place, not its message: that may quote the person's text.
        reason = failure_of(error)
        log.error(
            "inbound entry %d (%s %s) failed, attempt %d: %s",
            entry.id,
            entry.platform,
            entry.kind,
            entry.attempts,
            reason,
        )
        # Work that was stored is not done again; work that was not may be, a few times.
        if not entry.handled and entry.attempts < self.timing.attempts:
            pause = self.timing.backoff_seconds * 4 ** (entry.attempts - 1)
            try:
                async with self.store.transaction() as repos:
                    await repos.inbound.retry_at(
                        entry.id, self.worker, utcnow() + timedelta(seconds=pause), reason
                    )
            except Exception as db_error:  # its lease runs out and it is tried again anyway
                log.warning(
                    "inbound entry %d: retry not recorded: %s", entry.id, failure_of(db_error)
                )
            asyncio.get_running_loop().call_later(pause, self._wake.set)
            return
        await self._give_up(entry, performer, reason)

    async def _give_up(self, entry: Entry, performer: Performer, reason: str) -> None:
        try:
            told = await performer.tell_failed(entry)
        except Exception as error:
            log.error(
                "inbound entry %d: the person could not be told: %s", entry.id, failure_of(error)
            )
            told = False
        failed, cohort_id = performer.failed(entry, reason)
        try:
            async with self.store.transaction() as repos:
                if cohort_id is None and failed.conversation_id:
                    cohort = await repos.cohorts.by_conversation(
                        failed.platform, failed.workspace, failed.conversation_id
                    )
                    cohort_id = cohort.id if cohort else None
                if cohort_id is None:
                    cohort_id = await _only_cohort(repos, failed)
                await repos.inbound.fail(
                    entry.id,
                    self.worker,
                    failed,
                    cohort_id=cohort_id,
                    attempts=entry.attempts,
                    received_at=entry.received_at,
                    told=told,
                    now=utcnow(),
                )
        except Exception as error:  # its lease runs out; the next worker gives up again
            log.error("inbound entry %d: failure not recorded: %s", entry.id, failure_of(error))

    async def _keep_leases(self) -> None:
        """Renew this process's leases while it holds entries (replies waiting in a held
        lane may take longer than one lease)."""
        every = self.timing.lease_seconds / 3
        while True:
            await asyncio.sleep(every)
            if self._active == 0 and not self._taken:
                continue
            until = utcnow() + timedelta(seconds=self.timing.lease_seconds)
            try:
                async with self.store.transaction() as repos:
                    await repos.inbound.renew(self.worker, until)
            except Exception as error:  # the leases may run out; others then take the entries
                log.warning("inbound journal: leases not renewed: %s", failure_of(error))


def _alone(performer: Performer | None, entry: Entry) -> bool:
    alone = getattr(performer, "alone", None)
    return alone is not None and bool(alone(entry))


async def _only_cohort(repos: Any, failed: Failed) -> int | None:
    """The person's cohort when they are in exactly one (a direct message names none)."""
    person = await repos.people.by_account(failed.platform, failed.workspace, failed.user_id)
    if person is None:
        return None
    cohorts = await repos.cohorts.of_person(person.id)
    return cohorts[0].id if len(cohorts) == 1 else None
