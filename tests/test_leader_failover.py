"""Leader failover: three `digilog worker` processes, the leader killed mid fan-out.

What it proves, on real PostgreSQL and real processes (only Slack is faked):

- exactly one worker keeps the calendar (holds the advisory lock) and turns due
  calendar steps into delivery rows: two channel posts (a theme starts, its quiz
  opens) and a nudge to each of 40 participants for each of two steps;
- when that leader dies by SIGKILL in the middle of the fan-out, with no chance to
  clean up, another worker takes the lock over and keeps the calendar;
- the leader dies at the worst moment: Slack has taken one of its posts, but the
  answer never reached it, so its row says "maybe sent". The worker that takes the
  row over looks on Slack (the message's metadata carries the delivery key) and
  records it as sent instead of posting it again;
- every delivery row that ends `sent` reached Slack exactly once, nothing reached
  Slack that is not a `sent` row, both channel posts went out once, and no
  participant got the same kind of nudge twice.

Each worker has its own bot token, so the fake can tell the leader's calls from the
others' and hold the answer to one of its posts. Leases last 3 seconds here
(`DIGILOG_SENDER_LEASE_SECONDS`; a minute by default), so the dead leader's rows
are taken over soon.

Nudges are humane: participants here work around the clock, but on a Swedish public
holiday their nudges wait for the next working day. Then only the channel posts go
out, the leader is killed after the first, and the rest of the assertions still
hold: rows waiting for later are fine; only what reached Slack is checked.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import ExitStack, asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, TypeVar
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from sqlalchemy import func, or_, select, update

from handlers.core.humane import holiday_name
from handlers.core.programme_file import Programme
from storage.models import CalendarEntry, Delivery, DeliveryState, Person, Role, utcnow
from storage.unit import Store
from tests.conftest import ROOT, make_cohort
from tests.slack_fake import Call, FakeSlack

T = TypeVar("T")

PARTICIPANTS = 40
ORGANISATIONS = ("umea", "pitea", "skelleftea", "ornskoldsvik", "region-vasterbotten")
WORKERS = 3
LEADS = "this process now keeps the calendar"
READY = ": sending"  # "digilog worker HOST:PID: sending"
KILL_AFTER = 10  # messages on Slack before the leader's post that is held
NUDGE_KINDS = ("nudge_post", "nudge_quiz")
CHANNEL_KINDS = ("theme_start", "quiz_open")
METADATA_TYPE = "digilog_delivery"


class HoldingSlack(FakeSlack):
    """The fake, able to take one post from one token and never answer it.

    Armed with a token, it holds the answer to that token's first keyed post once
    `after` keyed messages have arrived: the post is on Slack, the poster is stuck in
    the call, as a process is that dies before it hears back.
    """

    def __init__(self) -> None:
        super().__init__()
        self.hold_token: str | None = None
        self.hold_after = 0
        self.held: Call | None = None
        self.holding = asyncio.Event()
        self._release = asyncio.Event()

    async def _api(self, request: web.Request) -> web.Response:
        response = await super()._api(request)
        token = self.hold_token
        if (
            token is not None
            and self.held is None
            and request.match_info["method"] == "chat.postMessage"
            and request.headers.get("Authorization") == f"Bearer {token}"
        ):
            # One process posts one message at a time: its latest call is this one.
            call = [c for c in self.calls if c.token == token][-1]
            if key_of(call) is not None and len(keys_received(self)) > self.hold_after:
                self.held = call
                self.holding.set()
                await self._release.wait()
        return response

    async def stop(self) -> None:
        self._release.set()
        await super().stop()


def key_of(call: Call) -> str | None:
    metadata = call.params.get("metadata")
    if isinstance(metadata, dict) and metadata.get("event_type") == METADATA_TYPE:
        return str(metadata["event_payload"]["key"])
    return None


def keys_received(slack: FakeSlack) -> list[tuple[str, str]]:
    """(delivery key, channel) of each message posted; a message's later parts have no key."""
    found = []
    for call in slack.calls_to("chat.postMessage"):
        if (key := key_of(call)) is not None:
            found.append((key, str(call.params["channel"])))
    return found


@dataclass
class Worker:
    process: asyncio.subprocess.Process
    log: Path
    token: str

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def name(self) -> str:
        """As `schedules.service.worker_name` names it in `deliveries.claimed_by`."""
        return f"{socket.gethostname()}:{self.pid}"

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def leads(self) -> bool:
        return LEADS in self.text()

    def ready(self) -> bool:
        return READY in self.text()

    def alive(self) -> bool:
        return self.process.returncode is None


def open_logs(stack: ExitStack, folder: Path) -> list[tuple[Path, IO[bytes]]]:
    paths = [folder / f"worker-{n}.log" for n in range(1, WORKERS + 1)]
    return [(path, stack.enter_context(path.open("wb"))) for path in paths]


@asynccontextmanager
async def workers(database_url: str, slack: FakeSlack, folder: Path) -> AsyncIterator[list[Worker]]:
    """Start the workers; whatever happens, stop them (SIGTERM, then SIGKILL)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DIGILOG_"))}
    env |= {
        "DIGILOG_DATABASE_URL": database_url,
        "DIGILOG_DATA_DIR": str(folder),
        "DIGILOG_LOG_LEVEL": "INFO",
        "DIGILOG_LANGUAGE": "en",  # READY is matched in English, whatever the machine's locale
        "DIGILOG_SCHEDULE_SWEEP_SECONDS": "0.5",
        "DIGILOG_SENDER_POLL_SECONDS": "0.2",
        "DIGILOG_LEADER_RETRY_SECONDS": "0.5",
        "DIGILOG_SLACK_POSTS_PER_SECOND": "20",
        "DIGILOG_SENDER_LEASE_SECONDS": "3",
        "SLACK_API_URL": slack.api_url,
        "PYTHONPATH": str(ROOT),
    }
    started: list[Worker] = []
    with ExitStack() as stack:
        try:
            for number, (path, log) in enumerate(open_logs(stack, folder), start=1):
                token = f"xoxb-worker-{number}"
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "bot.cli",
                    "worker",
                    env={**env, "SLACK_BOT_TOKEN": token},
                    cwd=folder,  # away from any .env file in the checkout
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                )
                started.append(Worker(process, path, token))
            yield started
        finally:
            for worker in started:
                if worker.alive():
                    with suppress(ProcessLookupError):
                        worker.process.terminate()
            for worker in started:
                try:
                    await asyncio.wait_for(worker.process.wait(), timeout=10)
                except TimeoutError:
                    with suppress(ProcessLookupError):
                        worker.process.kill()
                    await worker.process.wait()


async def until(
    what: str,
    check: Callable[[], Awaitable[T | None]],
    running: list[Worker],
    timeout: float = 120,  # noqa: ASYNC109 - a deadline per wait reads best here
) -> T:
    """Poll `check()` until it returns something true; fail with the workers' logs if not."""
    deadline = time.monotonic() + timeout
    while not (found := await check()):
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {w.log.name}\n{w.text()[-3000:]}" for w in running)
            pytest.fail(f"waited {timeout}s in vain for {what}\n{tails}")
        await asyncio.sleep(0.02)
    return found


def people() -> tuple[tuple[str, str, str, Role], ...]:
    participants = tuple(
        (f"U{n:04d}", f"Deltagare {n}", ORGANISATIONS[n % len(ORGANISATIONS)], Role.participant)
        for n in range(1, PARTICIPANTS + 1)
    )
    return (("UFACIL", "Fia Facilitator", "region-vasterbotten", Role.facilitator), *participants)


async def rows(store: Store) -> list[Delivery]:
    async with store.transaction() as repos:
        return list(await repos.session.scalars(select(Delivery).order_by(Delivery.id)))


async def unfinished(store: Store) -> int:
    """Rows a live sender still has to handle: pending and due, or being sent."""
    due_and_pending = (Delivery.state == DeliveryState.pending) & (Delivery.due_at <= utcnow())
    query = (
        select(func.count())
        .select_from(Delivery)
        .where(or_(due_and_pending, Delivery.state == DeliveryState.sending))
    )
    async with store.transaction() as repos:
        return int(await repos.session.scalar(query) or 0)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_killed_leader_is_replaced_and_nothing_is_sent_twice(
    database_url: str, store: Store, programme: Programme, tmp_path: Path
) -> None:
    # A Slack cohort: the workers send through their Slack courier, to the fake.
    cohort = await make_cohort(
        store, programme, "failover", people=people(), platform="slack", workspace="T1"
    )
    async with store.transaction() as repos:
        await repos.session.execute(update(Person).values(working_hours="mon-sun 00-24"))

    async with HoldingSlack() as slack, workers(database_url, slack, tmp_path) as running:

        async def leader_now() -> Worker | None:
            return next((w for w in running if w.alive() and w.leads()), None)

        async def all_ready() -> bool:
            return all(w.ready() for w in running)

        await until("every worker to start", all_ready, running)
        leader = await until("a leader", leader_now, running)
        assert [w for w in running if w.leads()] == [leader], "two processes lead at once"

        # The calendar, to the second: the theme starts and its quiz opens; two days
        # before the digilog closes and a day before the quiz closes, every participant
        # who has not posted or answered (all of them) gets a nudge.
        start = utcnow() + timedelta(seconds=2)
        entries = [
            ("theme:1:start", "theme_start", start),
            ("theme:1:digilog_open", "digilog_open", start),
            ("theme:1:quiz_open", "quiz_open", start + timedelta(seconds=1.5)),
            ("theme:1:digilog_close", "digilog_close", start + timedelta(days=2, seconds=3)),
            ("theme:1:quiz_close", "quiz_close", start + timedelta(days=1, seconds=4)),
        ]
        async with store.transaction() as repos:
            await repos.calendar.replace(
                cohort.id,
                [
                    CalendarEntry(key=key, kind=kind, theme_number=1, starts_at=at)
                    for key, kind, at in entries
                ],
            )
        expected_rows = len(CHANNEL_KINDS) + len(NUDGE_KINDS) * PARTICIPANTS
        holiday = holiday_name(start.astimezone(ZoneInfo(cohort.timezone)).date())

        if holiday:  # only the channel posts go out today

            async def something_sent() -> bool:
                return bool(keys_received(slack))

            await until("a message on Slack", something_sent, running)
        else:
            slack.hold_after, slack.hold_token = KILL_AFTER, leader.token

            async def held() -> bool:
                return slack.holding.is_set()

            await until("a post of the leader's, held", held, running)
        os.kill(leader.pid, signal.SIGKILL)
        await leader.process.wait()
        received_before = len(keys_received(slack))

        async def successor_now() -> Worker | None:
            return await leader_now() if not leader.alive() else None

        successor = await until("another worker to keep the calendar", successor_now, running)

        async def settled() -> bool:
            if utcnow() < start + timedelta(seconds=5):
                return False  # the last step is not due yet
            return len(await rows(store)) == expected_rows and await unfinished(store) == 0

        await until("every due row to be handled", settled, running, timeout=180)
        survivors = [w for w in running if w is not leader]
        assert successor in survivors
        assert all(w.alive() for w in survivors), "a worker died"

    # SIGTERM stopped the survivors cleanly.
    assert [w.process.returncode for w in survivors] == [0] * len(survivors)
    assert not [w.log.name for w in survivors if "Traceback" in w.text()]

    final = {row.key: row for row in await rows(store)}
    received = keys_received(slack)
    times = Counter(key for key, _ in received)
    assert received_before < expected_rows, "the leader was killed after the fan-out"
    assert [key for key, n in times.items() if n > 1] == [], "sent twice"
    assert set(times) <= set(final), "a message of no delivery row"
    sent = {key for key, row in final.items() if row.state is DeliveryState.sent}
    assert set(times) == sent, {
        key: (final[key].state, final[key].reason, final[key].maybe_sent)
        for key in set(times) ^ sent
    }
    assert [key for key, row in final.items() if row.state is DeliveryState.failed] == []
    for kind in CHANNEL_KINDS:
        assert len([key for key, _ in received if key.startswith(kind + ":")]) == 1, kind
    nudges = Counter(
        (channel, key.split(":", 1)[0]) for key, channel in received if channel.startswith("U")
    )
    assert {kind for _, kind in nudges} <= set(NUDGE_KINDS)
    assert max(nudges.values(), default=0) <= 1, "a participant got one kind of nudge twice"
    if not holiday:
        # The post the leader never heard back about: found on Slack, not sent again.
        assert slack.held is not None
        held_key = key_of(slack.held)
        assert held_key is not None and times[held_key] == 1
        assert final[held_key].state is DeliveryState.sent
        assert final[held_key].claimed_by != leader.name
        assert slack.calls_to("conversations.history")
