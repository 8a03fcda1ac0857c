"""Leader failover: three `digilog worker` processes, the leader killed mid fan-out.

What it proves, on real PostgreSQL and real processes (only Slack is faked):

- exactly one worker keeps the calendar (holds the advisory lock) and turns due
  calendar steps into delivery rows: two channel posts (a theme starts, its quiz
  opens) and a nudge to each of 40 participants for two steps;
- when that leader dies by SIGKILL in the middle of sending, with no chance to
  clean up, another worker takes the lock over and keeps the calendar;
- every delivery row that ends `sent` reached Slack exactly once, nothing reached
  Slack that is not a `sent` row, and no participant got the same kind of nudge
  twice, even for rows the dead leader had claimed or was posting when it died.

A sender's lease lasts two minutes (`schedules.send.LEASE`), which no test should
wait for: once the dead process is gone, the test cuts short the leases it held,
as if those two minutes had passed. The next sender then looks on Slack (message
metadata carries the delivery key) before it sends what may already have gone out.

Nudges are humane: participants here work around the clock, but on a Swedish public
holiday their nudges wait for the next working day. The assertions hold either way:
rows waiting for later are fine; only what was sent is checked.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, or_, select, update

from handlers.humane import holiday_name
from handlers.programme_file import Programme
from storage.models import CalendarEntry, Delivery, DeliveryState, Person, Role, utcnow
from storage.unit import Store
from tests.conftest import ROOT, make_cohort
from tests.slack_fake import FakeSlack

PARTICIPANTS = 40
ORGANISATIONS = ("umea", "pitea", "skelleftea", "ornskoldsvik", "region-vasterbotten")
WORKERS = 3
LEADS = "this process now keeps the calendar"
READY = ": sending"
KILL_AFTER = 15  # messages received before the leader is killed (1 on a holiday)
NUDGE_KINDS = ("nudge_post", "nudge_quiz")
CHANNEL_KINDS = ("theme_start", "quiz_open")


class LiveSlack(FakeSlack):
    """The fake, with message timestamps of the present, as Slack's are.

    The sender looks for a message it may have sent with conversations.history
    `oldest=<when the row was written>`; the plain fake's timestamps start in 2023, so
    that look would always miss.
    """

    def __init__(self) -> None:
        super().__init__()
        self._last_micros = 0

    def next_ts(self) -> str:
        micros = max(time.time_ns() // 1000, self._last_micros + 1)
        self._last_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


@dataclass
class Worker:
    process: asyncio.subprocess.Process
    log: Path

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


def people() -> tuple[tuple[str, str, str, Role], ...]:
    participants = tuple(
        (f"U{n:04d}", f"Deltagare {n}", ORGANISATIONS[n % len(ORGANISATIONS)], Role.participant)
        for n in range(1, PARTICIPANTS + 1)
    )
    return (("UFACIL", "Fia Facilitator", "region-vasterbotten", Role.facilitator), *participants)


def open_logs(stack: ExitStack, folder: Path) -> list[tuple[Path, IO[bytes]]]:
    paths = [folder / f"worker-{n}.log" for n in range(1, WORKERS + 1)]
    return [(path, stack.enter_context(path.open("wb"))) for path in paths]


@asynccontextmanager
async def workers(database_url: str, slack: FakeSlack, folder: Path) -> AsyncIterator[list[Worker]]:
    """Start the workers; always stop them (SIGTERM, then SIGKILL) when done."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DIGILOG_"))}
    env |= {
        "DIGILOG_DATABASE_URL": database_url,
        "DIGILOG_DATA_DIR": str(folder),
        "DIGILOG_LOG_LEVEL": "INFO",
        "DIGILOG_SCHEDULE_SWEEP_SECONDS": "0.5",
        "DIGILOG_SENDER_POLL_SECONDS": "0.2",
        "DIGILOG_LEADER_RETRY_SECONDS": "0.5",
        "DIGILOG_SLACK_POSTS_PER_SECOND": "20",
        "SLACK_BOT_TOKEN": "xoxb-failover",
        "SLACK_API_URL": slack.api_url,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(ROOT),
    }
    started: list[Worker] = []
    with ExitStack() as stack:
        try:
            for path, log in open_logs(stack, folder):
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "bot.cli",
                    "worker",
                    env=env,
                    cwd=folder,  # away from any .env file of the checkout
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                )
                started.append(Worker(process, path))
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


async def until(what: str, check: Any, timeout: float, logs: list[Worker]) -> Any:  # noqa: ASYNC109
    """Poll `check()` (sync or async) until it returns something true."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if asyncio.iscoroutine(found):
            found = await found
        if found:
            return found
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {w.log.name}\n{w.text()[-3000:]}" for w in logs)
            pytest.fail(f"timed out after {timeout}s waiting for {what}\n{tails}")
        await asyncio.sleep(0.02)


def keys_received(slack: FakeSlack) -> list[tuple[str, str]]:
    """(delivery key, channel) of each message posted; later parts carry no key."""
    found = []
    for call in slack.calls_to("chat.postMessage"):
        metadata = call.params.get("metadata")
        if isinstance(metadata, dict) and metadata.get("event_type") == "digilog_delivery":
            found.append((str(metadata["event_payload"]["key"]), str(call.params["channel"])))
    return found


async def unfinished(store: Store) -> int:
    """Rows a live sender still has to handle: due and pending, or being sent."""
    async with store.transaction() as repos:
        query = (
            select(func.count())
            .select_from(Delivery)
            .where(
                or_(
                    (Delivery.state == DeliveryState.pending) & (Delivery.due_at <= utcnow()),
                    Delivery.state == DeliveryState.sending,
                )
            )
        )
        return int(await repos.session.scalar(query) or 0)


async def rows(store: Store) -> list[Delivery]:
    async with store.transaction() as repos:
        return list(await repos.session.scalars(select(Delivery).order_by(Delivery.id)))


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_killed_leader_is_replaced_and_nothing_is_sent_twice(
    database_url: str, store: Store, programme: Programme, tmp_path: Path
) -> None:
    cohort = await make_cohort(store, programme, "failover", people=people())
    async with store.transaction() as repos:
        await repos.session.execute(update(Person).values(working_hours="mon-sun 00-24"))

    async with LiveSlack() as slack, workers(database_url, slack, tmp_path) as running:
        await until("every worker to start", lambda: all(w.ready() for w in running), 30, running)
        leader = await until(
            "a leader", lambda: next((w for w in running if w.leads()), None), 30, running
        )
        assert [w for w in running if w.leads()] == [leader], "two processes lead at once"

        # The calendar, with second precision: the theme starts, its quiz opens, and
        # the steps two days before the digilog closes and a day before the quiz
        # closes nudge every participant (nobody has posted or answered yet).
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
                    CalendarEntry(key=k, kind=kind, theme_number=1, starts_at=at)
                    for k, kind, at in entries
                ],
            )
        expected_rows = len(CHANNEL_KINDS) + len(NUDGE_KINDS) * PARTICIPANTS
        holiday = holiday_name(start.astimezone(ZoneInfo(cohort.timezone)).date())
        kill_after = 1 if holiday else KILL_AFTER

        await until(
            f"{kill_after} messages on Slack",
            lambda: len(keys_received(slack)) >= kill_after,
            30,
            running,
        )
        os.kill(leader.pid, signal.SIGKILL)
        await leader.process.wait()
        received_before = len(keys_received(slack))
        successor = await until(
            "another worker to keep the calendar",
            lambda: next((w for w in running if w is not leader and w.leads()), None),
            30,
            running,
        )
        # As if the dead leader's two-minute leases had run out.
        async with store.transaction() as repos:
            await repos.session.execute(
                update(Delivery)
                .where(Delivery.state == DeliveryState.sending, Delivery.claimed_by == leader.name)
                .values(lease_until=utcnow() - timedelta(seconds=1))
            )

        async def settled() -> bool:
            if utcnow() < start + timedelta(seconds=5):
                return False  # the last step is not due yet
            all_rows = await rows(store)
            return len(all_rows) == expected_rows and await unfinished(store) == 0

        await until("every due row to be handled", settled, 60, running)
        survivors = [w for w in running if w is not leader]
        assert all(w.alive() for w in survivors), "a worker died"
        assert successor in survivors

    final = await rows(store)
    received = keys_received(slack)
    times = Counter(key for key, _ in received)
    sent = {row.key for row in final if row.state is DeliveryState.sent}
    by_key = {row.key: row for row in final}

    assert received_before < expected_rows or holiday, "the leader was killed too late"
    assert not [key for key, n in times.items() if n > 1], "sent twice"
    assert set(times) <= set(by_key), "a message of no delivery row"
    assert set(times) == sent, "sent rows and messages on Slack differ"
    assert not [row.key for row in final if row.state is DeliveryState.failed]
    for kind in CHANNEL_KINDS:
        [post] = [key for key, _ in received if key.startswith(kind + ":")]
        assert by_key[post].state is DeliveryState.sent
    dms = Counter(
        (channel, key.split(":", 1)[0]) for key, channel in received if channel.startswith("U")
    )
    assert {kind for _, kind in dms} <= set(NUDGE_KINDS)
    assert max(dms.values(), default=0) <= 1, "a participant got a kind of nudge twice"
    if not holiday:
        assert len(dms) >= kill_after - len(CHANNEL_KINDS)
