"""Nudge fan-out: one facilitator's nudge to 2,500 participants through a rate-limited Slack.

A FakeSlack Web API run by this process (tests/slack_fake.py) allows --limit
chat.postMessage calls a second (a token bucket of --burst) and answers HTTP 429 with
Retry-After beyond that, as Slack does. The sender is `digilog worker`
(`python -m bot.cli worker`) in its own process, as in production, on a scratch database
that holds the example programme and one Slack cohort of --participants people whose
working hours are every hour of every day, theme 1 started, and the nudge a facilitator
queues with `nudge 1 post` and its "Send to them" button.

- run 1: the worker sends the whole fan-out. Printed: posts accepted, 429s, the rate
  from the first accepted post to the last, and that rate against the limit's (target
  ≥ 0.9), next to a bare sender in the same run: the courier's own pacing
  (bot.slack.courier.Pace) and slack_sdk client posting the same message to the same
  people one after another, with no outbox and no database.
- run 2, on a fresh database: the worker is SIGKILLed at the midpoint, by the fake at
  the moment it has taken the message that makes half the people served and before it
  answers (the worst moment: the message is out, the worker never hears of it). A new
  worker is started at once and runs until every row is done. Printed: how many people
  got 0, 1 or 2+ messages (target: all exactly 1), and how long the restart took.

Nothing asserts on time. The exit status is 1 when a correctness check fails (run 2 not
exactly one message each, or rows not all sent), 2 when today is a Swedish public
holiday (nudges wait for the next working day, so there is nothing to measure), and 130
when interrupted.

    .venv/bin/python bench/fanout.py                       # 2,500 people at 50/s: ~4 min
    .venv/bin/python bench/fanout.py --participants 300 --limit 50 --no-baseline
    .venv/bin/python bench/fanout.py \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402
from sqlalchemy import func, select, text, update  # noqa: E402
from sqlalchemy.engine import URL  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from handlers.admin import CohortSpec, create_cohort, import_roster, load_programme  # noqa: E402
from handlers.digilog import Digilog  # noqa: E402
from handlers.humane import WorkingHours, holiday_name  # noqa: E402
from handlers.programme_file import load_programme as read_programme  # noqa: E402
from handlers.roster import RosterRow  # noqa: E402
from handlers.steps import AD_HOC  # noqa: E402
from handlers.vocabulary import (  # noqa: E402
    Actor,
    ChoiceMade,
    Choices,
    CommandReceived,
    Conversation,
    Delivered,
    Message,
    Outgoing,
    Paragraph,
)
from schedules.send import LEASE  # noqa: E402
from storage.db import create_engine, normalise_url  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Delivery, DeliveryState, Membership, Person, Role  # noqa: E402
from storage.unit import Store  # noqa: E402
from tests import slack_payloads as payloads  # noqa: E402
from tests.slack_fake import FakeSlack  # noqa: E402

PROGRAMME_FILE = ROOT / "examples" / "digital-kompetens.yaml"
TOKEN = "xoxb-bench"
TEAM = payloads.TEAM_ID
CHANNEL = "C_COHORT"
COHORT_KEY = "fanout"
FACILITATOR = "U_FAC"
ORGANISATIONS = ("umea", "skelleftea", "ornskoldsvik", "pitea")
FACILITATOR_ORGANISATION = "region-vasterbotten"
ZONE = ZoneInfo("Europe/Stockholm")  # the cohort's, and so everyone's
THEME = 1
ALWAYS = WorkingHours.parse("mon-sun 00-24").format()  # what `hours mon-sun 00-24` stores
TARGET_RATIO = 0.9
POLL_SECONDS = 0.5  # how often the bench looks at the outbox
SENDER_POLL_SECONDS = 1.0  # DIGILOG_SENDER_POLL_SECONDS: how soon a worker sees freed rows
STOP_TIMEOUT = 10.0
POST = "chat.postMessage"

BARE_SENDER = '''\
"""The baseline: the courier's pace and client, no outbox, no database.

Posts the same message to every user id in argv[1] (a JSON file), one after another,
as the sender does; on a 429 it holds the pace for Retry-After and tries that one again.
"""
import asyncio
import json
import os
import sys

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.courier import PER_CHANNEL_SECONDS, Pace


async def main() -> None:
    job = json.loads(open(sys.argv[1]).read())
    pace = Pace(float(os.environ["DIGILOG_SLACK_POSTS_PER_SECOND"]), PER_CHANNEL_SECONDS)
    async with aiohttp.ClientSession() as session:
        client = AsyncWebClient(
            token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"],
            session=session,
        )
        for n, user in enumerate(job["users"]):
            metadata = {"event_type": "bare", "event_payload": {"key": f"bare:{n}"}}
            while True:
                await pace.turn(user)
                try:
                    await client.chat_postMessage(
                        channel=user, text=job["text"], blocks=job["blocks"], metadata=metadata
                    )
                    break
                except SlackApiError as error:
                    if error.response.status_code != 429:
                        raise
                    pace.hold(float(error.response.headers.get("Retry-After", 1)))


asyncio.run(main())
'''


# ------------------------------------------------------------------ the fake Slack


class BenchSlack(FakeSlack):
    """FakeSlack that also notes when each chat.postMessage was accepted, can SIGKILL a
    process at the moment it accepts the n-th, and gives messages the ts Slack gives.

    Slack's ts is the Unix time of the message. FakeSlack's own count from 1700000000
    (November 2023); the courier looks for a message that may have gone out with
    conversations.history(oldest=<the row's creation time>), which would never find
    those. Here ts is the wall clock in microseconds, always increasing.
    """

    def __init__(self) -> None:
        super().__init__()
        self.accepted: list[float] = []  # monotonic arrival time of each accepted post
        self.kill_at: int | None = None  # SIGKILL `victim` on taking the post with this number
        self.victim: asyncio.subprocess.Process | None = None
        self.killed_at: float | None = None
        self._last_micros = 0

    def next_ts(self) -> str:
        micros = max(time.time_ns() // 1000, self._last_micros + 1)
        self._last_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    async def _api(self, request: web.Request) -> web.Response:
        response = await super()._api(request)
        if request.match_info["method"] == POST and _ok(response):
            self.accepted.append(time.monotonic())
            if len(self.accepted) == self.kill_at and self.victim is not None:
                # The message is stored; the worker dies before it reads the answer.
                with contextlib.suppress(ProcessLookupError):
                    self.victim.kill()
                self.killed_at = time.monotonic()
        return response

    def per_person(self) -> Counter[str]:
        """Messages in each person's direct conversation (D + user id), by user id."""
        return Counter(channel[1:] for channel, _ in self.messages if channel.startswith("DU0"))

    def keys_posted(self) -> Counter[str]:
        """How often each delivery key was posted (from the message metadata)."""
        return Counter(
            str((m.get("metadata") or {}).get("event_payload", {}).get("key"))
            for (channel, _), m in self.messages.items()
            if channel.startswith("DU0")
        )


def _ok(response: web.Response) -> bool:
    body = response.body
    return response.status == 200 and isinstance(body, bytes) and json.loads(body).get("ok") is True


# ------------------------------------------------------------------ the database


def participant_ids(count: int) -> list[str]:
    return [f"U{n:05d}" for n in range(1, count + 1)]


@dataclass
class Setup:
    cohort_id: int
    enrol_seconds: float
    preview_seconds: float
    confirm_seconds: float
    reply: str
    rows: int


async def prepare(url: URL, fake: FakeSlack, users: Sequence[str]) -> Setup:
    """The example programme, one Slack cohort of `users`, theme 1 started and its post
    in the fake's channel, and the facilitator's nudge: preview, then "Send to them"."""
    engine = create_engine(url)
    try:
        await upgrade(engine)
        store = Store(engine)
        programme = read_programme(PROGRAMME_FILE)
        await load_programme(store, programme)
        cohort = await create_cohort(
            store,
            CohortSpec(
                key=COHORT_KEY,
                program_id=programme.id,
                title="Fan-out",
                platform="slack",
                workspace=TEAM,
                conversation_id=CHANNEL,
                language="sv",
                timezone=ZONE.key,
            ),
        )
        rows = [
            RosterRow(
                1, "Fia Facilitator", None, FACILITATOR, FACILITATOR_ORGANISATION, Role.facilitator
            )
        ]
        rows += [
            RosterRow(
                i + 2, f"Deltagare {user}", None, user, ORGANISATIONS[i % 4], Role.participant
            )
            for i, user in enumerate(users)
        ]
        started = time.perf_counter()
        created, problems = await import_roster(store, COHORT_KEY, rows, skip_bad=False)
        enrol_seconds = time.perf_counter() - started
        if problems or created != len(rows):
            raise RuntimeError(f"setup: {created} enrolled, {problems[:3]}")
        async with store.transaction() as repos:
            members = select(Membership.person_id).where(Membership.cohort_id == cohort.id)
            await repos.session.execute(
                update(Person).where(Person.id.in_(members)).values(working_hours=ALWAYS)
            )

        digilog = Digilog(store)
        actor = Actor("slack", TEAM, FACILITATOR, "Fia Facilitator", "sv-SE")
        where = Conversation("slack", TEAM, CHANNEL)
        posted = await digilog.handle(CommandReceived(actor, where, f"theme start {THEME}"))
        receipts = [o.receipt for o in posted if o.receipt]
        if len(receipts) != 1:
            raise RuntimeError(f"setup: theme start {THEME} gave {_texts(posted)}")
        ts = fake.next_ts()  # the theme's post, so that nudges can link to its thread
        fake.messages[(CHANNEL, ts)] = {"type": "message", "text": "tema 1", "ts": ts}
        await digilog.delivered(Delivered(receipts[0], where, ts))

        started = time.perf_counter()
        preview = await digilog.handle(CommandReceived(actor, where, f"nudge {THEME} post"))
        preview_seconds = time.perf_counter() - started
        actions = [
            option.action_id
            for o in preview
            if isinstance(o.message, Message)
            for block in o.message.blocks
            if isinstance(block, Choices)
            for option in block.options
            if option.action_id.startswith("nudge:")
        ]
        if len(actions) != 1:
            raise RuntimeError(f"setup: `nudge {THEME} post` gave {_texts(preview)}")
        started = time.perf_counter()
        confirmed = await digilog.handle(ChoiceMade(actor, where, actions[0]))
        confirm_seconds = time.perf_counter() - started
        async with store.transaction() as repos:
            query = select(func.count()).where(Delivery.kind == AD_HOC)
            count = int(await repos.session.scalar(query.select_from(Delivery)) or 0)
        return Setup(
            cohort.id, enrol_seconds, preview_seconds, confirm_seconds, _texts(confirmed), count
        )
    finally:
        await engine.dispose()


def _texts(outgoing: Sequence[Outgoing]) -> str:
    return " / ".join(
        "".join(span.text for span in block.spans)
        for o in outgoing
        if isinstance(o.message, Message)
        for block in o.message.blocks
        if isinstance(block, Paragraph)
    )


@dataclass
class Outbox:
    """The nudge rows by state, read with a plain engine: on SQLite its reads take no
    write lock (the product's engine begins every transaction IMMEDIATE)."""

    url: URL
    engine: Any = None

    async def __aenter__(self) -> Outbox:
        self.engine = create_async_engine(self.url)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.engine.dispose()

    async def states(self) -> Counter[str]:
        query = (
            select(Delivery.state, func.count())
            .where(Delivery.kind == AD_HOC)
            .group_by(Delivery.state)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return Counter({str(getattr(state, "value", state)): int(n) for state, n in rows})

    async def held(self) -> tuple[int, int]:
        """Rows in `sending` (held under a lease), and how many of them are maybe_sent."""
        query = select(Delivery.maybe_sent).where(
            Delivery.kind == AD_HOC, Delivery.state == DeliveryState.sending
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return len(rows), sum(1 for (maybe,) in rows if maybe)

    async def reasons(self) -> Counter[str]:
        query = (
            select(Delivery.state, Delivery.reason, func.count())
            .where(Delivery.kind == AD_HOC, Delivery.reason.is_not(None))
            .group_by(Delivery.state, Delivery.reason)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return Counter({f"{getattr(s, 'value', s)}: {r}": int(n) for s, r, n in rows})

    async def wait_until_done(self, expected: int, within: float) -> tuple[Counter[str], bool]:
        """Poll until every row is sent, skipped or failed; False if the timeout came first."""
        deadline = time.monotonic() + within
        while True:
            states = await self.states()
            if states["pending"] + states["sending"] == 0 and sum(states.values()) == expected:
                return states, True
            if time.monotonic() > deadline:
                return states, False
            await asyncio.sleep(POLL_SECONDS)


@contextlib.asynccontextmanager
async def scratch_database(
    base: str | None, workdir: Path, name: str, keep: bool
) -> AsyncIterator[URL]:
    """A fresh SQLite file in the work directory, or a scratch PostgreSQL database."""
    if base is None:
        yield normalise_url(f"sqlite:///{workdir / f'{name}.db'}")
        return
    parsed = normalise_url(base)
    if parsed.get_backend_name() != "postgresql":
        raise SystemExit("--database-url: give a PostgreSQL URL (SQLite is the default)")
    database = f"digilog_fanout_{secrets.token_hex(4)}"
    admin = create_async_engine(parsed, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{database}"'))
        try:
            yield parsed.set(database=database)
        finally:
            if keep:
                print(f"kept PostgreSQL database {database}")
            else:
                async with admin.connect() as connection:
                    await connection.execute(
                        text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
                    )
    finally:
        await admin.dispose()


# ------------------------------------------------------------------ the sender processes


def child_env(fake: FakeSlack, args: argparse.Namespace, url: URL | None) -> dict[str, str]:
    """Our environment without any DIGILOG_/SLACK_ setting of the caller's, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGILOG_", "SLACK_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_API_URL=fake.api_url,
        DIGILOG_SLACK_POSTS_PER_SECOND=str(args.pace),
        DIGILOG_SENDER_POLL_SECONDS=str(SENDER_POLL_SECONDS),
        DIGILOG_LOG_LEVEL="INFO",
    )
    if url is not None:
        env["DIGILOG_DATABASE_URL"] = url.render_as_string(hide_password=False)
    return env


async def start(
    args: Sequence[str], env: dict[str, str], log: Path, workdir: Path
) -> asyncio.subprocess.Process:
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            *args, cwd=workdir, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT
        )


def worker_command() -> list[str]:
    return [sys.executable, "-m", "bot.cli", "worker"]


async def stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM (the worker stops cleanly on it), then SIGKILL after STOP_TIMEOUT."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


def log_summary(log: Path) -> list[str]:
    """Each distinct warning or error the worker logged (numbers blurred), with a count."""
    if not log.exists():
        return []
    seen: Counter[str] = Counter()
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith(("WARNING", "ERROR", "CRITICAL", "Traceback")):
            seen[re.sub(r"\d+", "N", line)[:160]] += 1
    return [f"{n:>6} × {line}" for line, n in seen.most_common(8)]


# ------------------------------------------------------------------ measuring


@dataclass
class Rate:
    name: str
    accepted: int
    rate_limited: int
    first_to_last: float  # seconds from the first accepted post to the last
    other_calls: Counter[str] = field(default_factory=Counter)

    @property
    def per_second(self) -> float:
        # n posts spaced by first_to_last span n-1 intervals
        return (self.accepted - 1) / self.first_to_last if self.first_to_last > 0 else 0.0


def rate_of(name: str, fake: BenchSlack) -> Rate:
    times = fake.accepted
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    others = Counter(c.method for c in fake.calls if c.method != POST)
    return Rate(name, len(times), fake.rate_limited, span, others)


def windows(times: Sequence[float], seconds: float = 5.0) -> tuple[float, float]:
    """Lowest and highest posts/s over whole windows of `seconds` from the first post."""
    if len(times) < 2 or times[-1] - times[0] < seconds:
        return (0.0, 0.0)
    start, counts = times[0], Counter(int((t - times[0]) // seconds) for t in times)
    whole = int((times[-1] - start) // seconds)
    rates = [counts[i] / seconds for i in range(whole)]
    return min(rates), max(rates)


def table(rows: Sequence[Sequence[str]], align: str) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [
            c.ljust(w) if a == "<" else c.rjust(w) for c, w, a in zip(r, widths, align, strict=True)
        ]
        lines.append("  " + "  ".join(cells).rstrip())
    return "\n".join(lines)


def machine(url: URL) -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    where = (
        "SQLite file"
        if url.get_backend_name() == "sqlite"
        else f"PostgreSQL {url.set(database=None).render_as_string(hide_password=True)}"
    )
    system = f"{platform.system()} {platform.machine()}, nproc={cpus}"
    return f"{system}, Python {platform.python_version()}, {where}"


# ------------------------------------------------------------------ the runs


@dataclass
class Bench:
    args: argparse.Namespace
    workdir: Path
    users: list[str]
    failures: list[str] = field(default_factory=list)
    message: dict[str, Any] = field(default_factory=dict)  # one nudge as posted (for bare)

    @property
    def timeout(self) -> float:
        """Long enough for the fan-out three times over, a lease running out, and startup."""
        return 3 * len(self.users) / self.args.limit + LEASE.total_seconds() + 60

    def fake(self) -> BenchSlack:
        fake = BenchSlack()
        return fake

    async def setup(self, url: URL, fake: BenchSlack, label: str) -> Setup:
        setup = await prepare(url, fake, self.users)
        print(
            f"{label} setup: {len(self.users):,} participants enrolled in "
            f"{setup.enrol_seconds:.1f} s; theme {THEME} started; `nudge {THEME} post` preview "
            f'{setup.preview_seconds:.2f} s, "Send to them" {setup.confirm_seconds:.2f} s '
            f"→ {setup.rows:,} rows. Reply: {setup.reply}"
        )
        if setup.rows != len(self.users):
            self.failures.append(f"{label}: {setup.rows} rows for {len(self.users)} people")
        return setup

    async def run_one(self, url: URL) -> tuple[Rate, Counter[str], float]:
        """Run 1: the whole fan-out by one worker."""
        async with BenchSlack() as fake:
            fake.enforce_rate(POST, self.args.limit, burst=self.args.burst)
            await self.setup(url, fake, "run 1")
            fake.clear()
            fake.accepted.clear()
            log = self.workdir / "run1-worker.log"
            began = time.monotonic()
            worker = await start(
                worker_command(), child_env(fake, self.args, url), log, self.workdir
            )
            try:
                async with Outbox(url) as outbox:
                    states, done = await outbox.wait_until_done(len(self.users), self.timeout)
                    reasons = await outbox.reasons()
            finally:
                await stop(worker)
            rate = rate_of("run 1: digilog worker", fake)
            startup = fake.accepted[0] - began if fake.accepted else float("nan")
            if not done:
                self.failures.append(f"run 1: not done after {self.timeout:.0f} s: {dict(states)}")
            if states["sent"] != len(self.users):
                self.failures.append(f"run 1: {dict(states)}; {dict(reasons)}")
            sample = next((m for (ch, _), m in fake.messages.items() if ch.startswith("DU0")), None)
            if sample is not None:
                self.message = {"text": sample["text"], "blocks": sample["blocks"]}
            per_person = fake.per_person()
            print_rate_detail(rate, fake, startup, states, reasons, per_person, len(self.users))
            print_log("run 1 worker", log)
            return rate, states, startup

    async def run_bare(self) -> Rate:
        """The baseline: the same posts from a process with the courier's pace and no outbox."""
        job = self.workdir / "bare.json"
        text_ = self.message.get("text") or "Du har inte skrivit i digiloggen för tema 1 än."
        job.write_text(
            json.dumps({"users": self.users, "text": text_, "blocks": self.message.get("blocks")})
        )
        script = self.workdir / "bare_sender.py"
        script.write_text(BARE_SENDER)
        async with BenchSlack() as fake:
            fake.enforce_rate(POST, self.args.limit, burst=self.args.burst)
            log = self.workdir / "bare-sender.log"
            began = time.monotonic()
            process = await start(
                [sys.executable, str(script), str(job)],
                child_env(fake, self.args, None),
                log,
                self.workdir,
            )
            try:
                await asyncio.wait_for(process.wait(), self.timeout)
            finally:
                await stop(process)
            rate = rate_of("bare sender (Pace, no outbox)", fake)
            startup = fake.accepted[0] - began if fake.accepted else float("nan")
            if process.returncode != 0 or rate.accepted != len(self.users):
                self.failures.append(
                    f"bare sender: exit {process.returncode}, {rate.accepted} posts"
                )
            print_rate_detail(rate, fake, startup, None, None, fake.per_person(), len(self.users))
            print_log("bare sender", log)
            return rate

    async def run_two(self, url: URL) -> Counter[int]:
        """Run 2: SIGKILL the worker at the midpoint, start another, count per person."""
        async with BenchSlack() as fake, Outbox(url) as outbox:
            fake.enforce_rate(POST, self.args.limit, burst=self.args.burst)
            await self.setup(url, fake, "run 2")
            fake.clear()
            fake.accepted.clear()
            half = (len(self.users) + 1) // 2
            fake.kill_at = half
            log = self.workdir / "run2-worker.log"
            env = child_env(fake, self.args, url)
            began = time.monotonic()
            first = await start(worker_command(), env, log, self.workdir)
            fake.victim = first
            try:
                await asyncio.wait_for(first.wait(), self.timeout)
            finally:
                await stop(first)
            if fake.killed_at is None:
                self.failures.append(
                    f"run 2: the worker ended before post {half}: {first.returncode}"
                )
                return Counter()
            at_kill = await outbox.states()
            held, maybe = await outbox.held()
            posts_at_kill = len(fake.accepted)
            lookups_before = len(fake.calls_to("conversations.history"))
            restarted = time.monotonic()
            second = await start(worker_command(), env, log, self.workdir)
            try:
                states, done = await outbox.wait_until_done(len(self.users), self.timeout)
                reasons = await outbox.reasons()
            finally:
                await stop(second)
            finished = time.monotonic()
            after = [t for t in fake.accepted if t > restarted]
            per_person = fake.per_person()
            distribution = Counter(per_person.get(u, 0) for u in self.users)
            keys = fake.keys_posted()
            twice = sum(1 for n in keys.values() if n > 1)
            lookups = len(fake.calls_to("conversations.history")) - lookups_before
            found_again = sum(
                1
                for line in log.read_text(errors="replace").splitlines()
                if "had gone out before" in line
            )
            print(
                f"  worker 1 started; SIGKILLed {fake.killed_at - began:.1f} s later, by the "
                f"fake, on taking post {half:,} (before answering it)\n"
                f"  at the kill: {at_kill['sent']:,} rows sent, {held} held under the dead "
                f"worker's {LEASE.total_seconds():.0f} s lease ({maybe} of them maybe_sent), "
                f"{at_kill['pending']:,} pending; {posts_at_kill:,} posts in Slack\n"
                f"  worker 2 started at once: first post after "
                f"{(after[0] - restarted) if after else float('nan'):.1f} s, last after "
                f"{(after[-1] - restarted) if after else float('nan'):.1f} s, all rows done after "
                f"{finished - restarted:.1f} s; {len(after):,} posts, {fake.rate_limited} × 429 "
                f"in the whole run\n"
                f"  looked up in Slack (conversations.history): {lookups}; found there and not "
                f"sent again: {found_again}\n"
                f"  rows: {_states(states)}"
                + (f"; reasons: {_reasons(reasons)}" if reasons else "")
            )
            print_log("run 2 workers", log)
            if not done:
                self.failures.append(f"run 2: not done after {self.timeout:.0f} s: {dict(states)}")
            if states["sent"] != len(self.users):
                self.failures.append(f"run 2: rows {dict(states)}")
            if set(distribution) != {1}:
                self.failures.append(
                    f"run 2: messages per person {dict(sorted(distribution.items()))}"
                )
            if twice:
                self.failures.append(f"run 2: {twice} delivery keys posted more than once")
            return distribution


def _states(states: Counter[str]) -> str:
    return ", ".join(f"{n:,} {state}" for state, n in sorted(states.items())) or "none"


def _reasons(reasons: Counter[str]) -> str:
    return "; ".join(f"{n} × {reason}" for reason, n in reasons.most_common(4))


def print_rate_detail(
    rate: Rate,
    fake: BenchSlack,
    startup: float,
    states: Counter[str] | None,
    reasons: Counter[str] | None,
    per_person: Counter[str],
    people: int,
) -> None:
    low, high = windows(fake.accepted)
    others = ", ".join(f"{m} {n:,}" for m, n in sorted(rate.other_calls.items())) or "none"
    line = (
        f"  {rate.name}: {rate.accepted:,} posts accepted in {rate.first_to_last:.1f} s "
        f"(first post {startup:.1f} s after start), {rate.rate_limited} × 429; "
        f"5 s windows {low:.0f}–{high:.0f}/s; other API calls: {others}; "
        f"people with a message: {len(per_person):,}/{people:,}"
    )
    if states is not None:
        line += f"\n  rows: {_states(states)}"
    if reasons:
        line += f"; reasons: {_reasons(reasons)}"
    print(line)


def print_log(name: str, log: Path) -> None:
    lines = log_summary(log)
    print(f"  {name} log: " + ("no warnings or errors" if not lines else ""))
    for line in lines:
        print(f"  {line}")


# ------------------------------------------------------------------ main


def holiday_today() -> str | None:
    return holiday_name(datetime.now(ZONE).date())


async def run(args: argparse.Namespace, workdir: Path) -> int:
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    users = participant_ids(args.participants)
    bench = Bench(args, workdir, users)
    limit = args.limit
    probe = normalise_url(args.database_url or f"sqlite:///{workdir / 'x.db'}")
    print(
        f"Fan-out: one nudge (`nudge {THEME} post`) to {len(users):,} participants through a "
        f"FakeSlack that allows {limit:g} {POST}/s (token bucket, burst {args.burst}) and answers "
        f"429 + Retry-After beyond it"
    )
    print(f"machine: {machine(probe)}")
    print(
        f"sender: `digilog worker` subprocess, DIGILOG_SLACK_POSTS_PER_SECOND={args.pace:g} "
        f"({args.pace / limit:.2f} × the limit), lease {LEASE.total_seconds():.0f} s, "
        f"working hours {ALWAYS} for everyone\n"
    )
    rows: list[tuple[Rate, float]] = []
    async with scratch_database(args.database_url, workdir, "run1", args.keep) as url:
        run1, _, startup1 = await bench.run_one(url)
    rows.append((run1, startup1))
    if not args.no_baseline:
        print()
        bare = await bench.run_bare()
        rows.append((bare, float("nan")))
    distribution: Counter[int] = Counter()
    if not args.no_restart:
        print("\nrun 2 (fresh database): SIGKILL at the midpoint, then a new worker")
        async with scratch_database(args.database_url, workdir, "run2", args.keep) as url:
            distribution = await bench.run_two(url)

    print("\nsummary")
    header = ("", "posts", "429s", "first→last", "posts/s", "× limit", f"target ≥ {TARGET_RATIO}")
    lines: list[tuple[str, ...]] = [header]
    lines.append(("the limit (FakeSlack)", "", "", "", f"{limit:.1f}", "1.00", ""))
    for rate, _ in rows:
        ratio = rate.per_second / limit
        verdict = "" if rate is not run1 else ("MET" if ratio >= TARGET_RATIO else "not met")
        lines.append(
            (
                rate.name,
                f"{rate.accepted:,}",
                f"{rate.rate_limited}",
                f"{rate.first_to_last:.1f} s",
                f"{rate.per_second:.1f}",
                f"{ratio:.2f}",
                verdict,
            )
        )
    print(table(lines, "<rrrrr<"))
    if not args.no_restart:
        people = len(users)
        exact = distribution.get(1, 0)
        print(
            f"\n  run 2, messages per person after a SIGKILL at the midpoint and a restart: "
            f"0: {distribution.get(0, 0):,}   1: {exact:,}   2+: "
            f"{sum(n for k, n in distribution.items() if k >= 2):,}   "
            f"(target: all {people:,} exactly 1: {'MET' if exact == people else 'not met'})"
        )
    if bench.failures:
        print("\nFAILED:")
        for failure in bench.failures:
            print(f"  {failure}")
        return 1
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--participants", type=int, default=2500, help="default 2500")
    parser.add_argument(
        "--limit", type=float, default=50.0, help="posts/s the fake allows (default 50)"
    )
    parser.add_argument(
        "--burst", type=int, default=1, help="the fake's token bucket size (default 1)"
    )
    parser.add_argument(
        "--pace",
        type=float,
        default=None,
        help="DIGILOG_SLACK_POSTS_PER_SECOND for the sender (default: the limit)",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL URL: each run gets a scratch database next to the named one "
        "(default: SQLite files in a temporary directory)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare sender")
    parser.add_argument("--no-restart", action="store_true", help="skip run 2 (the SIGKILL)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (dbs, logs)")
    args = parser.parse_args(argv)
    if not 2 <= args.participants <= 99_999 or args.limit <= 0 or args.burst < 1:
        parser.error("--participants must be 2..99999, --limit above 0, --burst at least 1")
    args.pace = args.pace or args.limit
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if (holiday := holiday_today()) is not None:
        print(
            f"Today is a Swedish public holiday ({holiday}) in {ZONE.key}: Digilog holds "
            "nudges until the next working day, so there is no fan-out to measure today. "
            "Run it another day.",
            file=sys.stderr,
        )
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="digilog-fanout-"))
    try:
        return asyncio.run(run(args, workdir))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; the workers were stopped", file=sys.stderr)
        return 130
    finally:
        if args.keep:
            print(f"kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
