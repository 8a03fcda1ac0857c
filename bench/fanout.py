"""Nudge fan-out: one facilitator's nudge to 2,500 participants through a rate-limited Slack.

A FakeSlack Web API run by this process (tests/slack_fake.py) accepts --limit
chat.postMessage calls a second (a token bucket holding --burst, by default one second's
worth) and answers HTTP 429 with Retry-After beyond that, as Slack does. The sender is
`digilog worker` (`python -m bot.launch worker`) in its own process, as in production, with
DIGILOG_SLACK_POSTS_PER_SECOND at the limit (--pace), on a scratch database that holds
the example programme and one Slack cohort of --participants people (working hours:
every hour of every day), theme 1 started, and the nudge a facilitator queues with
`nudge 1 post` and the preview's "Send to them" button.

- run 1: the worker sends the whole fan-out. Printed: posts accepted, 429s, the rate
  from the first accepted post to the last against the limit (target ≥ 0.9), CPU per
  post; in the same run, a bare sender as the baseline: the courier's own pacing
  (bot.pace.Pacer with Slack's limits) and slack_sdk client posting the same message to the same
  people one after another, with no outbox and no database.
- run 2, on a fresh database: the fake SIGKILLs the worker at the midpoint, when it
  takes a post and before it answers (the worst moment: the message is out and the
  worker never hears so); the post is moved from exactly half to the middle of the batch
  the worker claimed with it, so that claimed rows not yet begun are left too. A new
  worker starts at once and runs until every row is done. Printed: how many people got
  0, 1 or 2+ messages (target: all exactly 1), and how long the restart took (the dead
  worker's rows wait for its lease to run out).

Nothing asserts on time. The exit status is 1 when a correctness check fails (a row not
sent, run 2 not exactly one message each), 2 when today is a Swedish public holiday
(Digilog holds nudges until the next working day: nothing to measure), 130 when
interrupted.

    .venv/bin/python bench/fanout.py                 # 2,500 people at 50/s: 4–5 min
    .venv/bin/python bench/fanout.py --participants 300 --no-baseline   # smoke run, ~90 s
    .venv/bin/python bench/fanout.py \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import json
import math
import os
import platform
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402
from bank_search import table  # noqa: E402
from common import (  # noqa: E402
    bench_roster,
    cancel_on_sigterm,
    cpu_seconds,
    run_in_workdir,
    scratch_database,
    stop,
)
from sqlalchemy import func, insert, select, update  # noqa: E402
from sqlalchemy.engine import URL  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine  # noqa: E402

from bot.settings import Settings  # noqa: E402
from handlers.admin import CohortSpec, create_cohort, import_roster, load_programme  # noqa: E402
from handlers.core.humane import WorkingHours, holiday_name  # noqa: E402
from handlers.core.programme_file import load_programme as read_programme  # noqa: E402
from handlers.core.steps import AD_HOC  # noqa: E402
from handlers.core.vocabulary import (  # noqa: E402
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
from handlers.digilog import Digilog  # noqa: E402
from schedules.send import Sender  # noqa: E402
from storage.db import create_engine, normalise_url  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import (  # noqa: E402
    CalendarEntry,
    Cohort,
    Delivery,
    DeliveryState,
    Membership,
    Person,
    utcnow,
)
from storage.unit import Store  # noqa: E402
from tests import slack_payloads as payloads  # noqa: E402
from tests.slack_fake import Call, FakeSlack, _Fault  # noqa: E402

PROGRAMME_FILE = ROOT / "examples" / "digital-kompetens.yaml"
TOKEN = "xoxb-bench"
TEAM = payloads.TEAM_ID
CHANNEL = "C_COHORT"
COHORT_KEY = "fanout"
FACILITATOR = "U_FAC"
ZONE = ZoneInfo("Europe/Stockholm")  # the cohort's, and so everyone's
THEME = 1
ALWAYS = WorkingHours.parse("mon-sun 00-24").format()  # what `hours mon-sun 00-24` stores
TARGET_RATIO = 0.9
THEME_POST_TARGET = 5.0  # seconds after it fell due
IDLE_TARGET = 1.0  # CPU-seconds a minute
SCENARIOS = ("lost", "outage", "long", "theme", "three")
POLL_SECONDS = 0.5  # how often the bench looks at the outbox
SENDER_POLL_SECONDS = 1.0  # DIGILOG_SENDER_POLL_SECONDS: how soon a worker sees freed rows
SWEEP_SECONDS = float(Settings.model_fields["schedule_sweep_seconds"].default)
STOP_SIGNAL = signal.SIGTERM  # the worker stops cleanly on it (then SIGKILL, if need be)
POST = "chat.postMessage"
PER_CHANNEL = 1.0  # Slack: about one post a second per channel
TIER_3 = ("conversations.open", "conversations.history", "conversations.replies")
TIER_3_PER_MINUTE = 50
DEFAULT_LEASE = float(Settings.model_fields["sender_lease_seconds"].default)

BARE_SENDER = '''\
"""The baseline: the courier's pace and client, no outbox, no database.

Posts the same message to every user id in the JSON file argv[1], one after another as
the sender does; on a 429 it holds the pace for Retry-After and tries that one again.
"""
import asyncio
import json
import math
import os
import sys
import time

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.pace import Pacer
from bot.slack.courier import slack_limits


async def main() -> None:
    with open(sys.argv[1]) as file:
        job = json.load(file)
    pacer = Pacer(slack_limits(float(os.environ["DIGILOG_SLACK_POSTS_PER_SECOND"])))
    lane = ("post", "T")
    async with aiohttp.ClientSession() as session:
        client = AsyncWebClient(
            token=os.environ["SLACK_BOT_TOKEN"],
            base_url=os.environ["SLACK_API_URL"],
            session=session,
        )
        for n, user in enumerate(job["users"]):
            metadata = {"event_type": "bare", "event_payload": {"key": f"bare:{n}"}}
            while True:
                await pacer.turn("T", (lane, ("channel", user)))
                try:
                    await client.chat_postMessage(
                        channel=user, text=job["text"], blocks=job["blocks"], metadata=metadata
                    )
                    break
                except SlackApiError as error:
                    if error.response.status_code != 429:
                        raise
                    pacer.retry_after(lane, float(error.response.headers.get("Retry-After", 1)))
    print(f"cpu seconds {time.process_time():.3f}")


asyncio.run(main())
'''


# ------------------------------------------------------------------ the fake Slack


class BenchSlack(FakeSlack):
    """FakeSlack that also notes when it accepted each chat.postMessage, and can SIGKILL a
    process at the moment it takes the n-th (the message is stored, no answer goes back)."""

    def __init__(self) -> None:
        super().__init__()
        self.accepted: list[float] = []  # monotonic arrival time of each accepted post
        self.kill_at: int | None = None  # SIGKILL `victim` on taking the post with this number
        self.victim: asyncio.subprocess.Process | None = None
        self.killed_at: float | None = None
        self.accepted_in: list[tuple[float, str]] = []  # (time, channel) of each accepted post
        self._last_in: dict[str, float] = {}
        self.down: tuple[float, float, str] | None = None  # (from, until, "drop" | "500")
        self._took_one = False
        self.outage_calls: Counter[str] = Counter()

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        now = time.monotonic()
        if self.down is not None and self.down[0] <= now < self.down[1]:
            return await self._outage(request, method, self.down[2])
        response = await super()._api(request)
        if method == POST and _ok(response):
            self._accept(response)
        return response

    def _accept(self, response: web.Response) -> None:
        self.accepted.append(time.monotonic())
        body = response.body
        assert isinstance(body, bytes)
        channel = str(json.loads(body).get("channel"))
        self.accepted_in.append((self.accepted[-1], channel))
        self._last_in[channel] = self.accepted[-1]
        if len(self.accepted) == self.kill_at and self.victim is not None:
            # The message is stored; the worker dies before it reads the answer.
            with contextlib.suppress(ProcessLookupError):
                self.victim.kill()
            self.killed_at = time.monotonic()

    async def _record(self, call: Call) -> None:
        """Recorded before the fake looks at its faults: a post to a channel that had one
        within the second is answered 429 there, as Slack does."""
        await super()._record(call)
        if call.method == POST and (held := self._channel_busy(call.params, call.at)):
            self.rate_limited += 1
            self._faults[POST].appendleft(_Fault("ratelimited", 429, held))

    def _channel_busy(self, params: dict[str, Any], now: float) -> int:
        """Slack's one post a second per channel: the whole seconds to wait, or 0."""
        last = self._last_in.get(str(params.get("channel")))
        if last is None or now - last >= PER_CHANNEL:
            return 0
        return max(1, math.ceil(PER_CHANNEL - (now - last)))

    async def _outage(self, request: web.Request, method: str, mode: str) -> web.Response:
        """Slack on a bad day. "drop": the connection closes unanswered (the first post of
        the outage is taken first: its answer is lost); "500": HTTP 500, nothing done."""
        self.outage_calls[method] += 1
        if mode == "500":
            return web.json_response({"ok": False, "error": "internal_error"}, status=500)
        if method == POST and not self._took_one:
            self._took_one = True
            response = await super()._api(request)
            if _ok(response):
                self._accept(response)
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    def direct_messages(self) -> list[dict[str, Any]]:
        """Messages in people's direct conversations (D + user id), oldest first."""
        found = [
            {**message, "with": channel[1:]}
            for (channel, _), message in self.messages.items()
            if channel.startswith("DU")
        ]
        return sorted(found, key=lambda m: float(m["ts"]))

    def per_person(self) -> Counter[str]:
        """Messages in each person's direct conversation, by user id."""
        return Counter(m["with"] for m in self.direct_messages())

    def keys_posted(self) -> Counter[str]:
        """How often each delivery key was posted (from the messages' metadata)."""
        return Counter(
            str(((m.get("metadata") or {}).get("event_payload") or {}).get("key"))
            for m in self.direct_messages()
        )


def _ok(response: web.Response) -> bool:
    body = response.body
    return response.status == 200 and isinstance(body, bytes) and json.loads(body).get("ok") is True


# ------------------------------------------------------------------ the database


def participant_ids(count: int) -> list[str]:
    return [f"U{n:05d}" for n in range(1, count + 1)]


@dataclass
class Setup:
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
        rows = bench_roster(FACILITATOR, "Fia Facilitator", users, lambda user: f"Deltagare {user}")
        started = time.perf_counter()
        created, problems = await import_roster(store, COHORT_KEY, rows, skip_bad=False)
        enrol_seconds = time.perf_counter() - started
        if problems or created != len(rows):
            raise RuntimeError(f"setup: {created} enrolled, {problems[:3]}")
        async with store.transaction() as repos:  # as if each had written `hours mon-sun 00-24`
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
        ts = fake.next_ts()  # the theme's post, so that each nudge links to its thread
        fake.messages[(CHANNEL, ts)] = {"type": "message", "text": f"tema {THEME}", "ts": ts}
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
        return Setup(enrol_seconds, preview_seconds, confirm_seconds, _texts(confirmed), count)
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


class Outbox:
    """The nudge rows, read through a plain engine: on SQLite its reads take no write lock
    (the product's engine begins every transaction IMMEDIATE, which would queue the
    worker behind the bench)."""

    def __init__(self, url: URL) -> None:
        self.engine: AsyncEngine = create_async_engine(url)

    async def __aenter__(self) -> Outbox:
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
        return Counter({str(state): int(n) for state, n in rows})

    async def held(self) -> tuple[int, int]:
        """Rows in `sending` (held under a lease), and how many of them are maybe_sent."""
        query = select(Delivery.maybe_sent).where(
            Delivery.kind == AD_HOC, Delivery.state == DeliveryState.sending
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return len(rows), sum(1 for (maybe,) in rows if maybe)

    async def reasons(self) -> Counter[str]:
        """Why rows waited or were not sent: (state: reason) → rows."""
        query = (
            select(Delivery.state, Delivery.reason, func.count())
            .where(Delivery.kind == AD_HOC, Delivery.reason.is_not(None))
            .group_by(Delivery.state, Delivery.reason)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return Counter({f"{state}: {reason}": int(n) for state, reason, n in rows})

    async def wait_until_done(self, expected: int, within: float) -> tuple[Counter[str], bool]:
        """Poll until every row is sent, skipped or failed; False if `within` s ran out."""
        deadline = time.monotonic() + within
        while True:
            states = await self.states()
            if states["pending"] + states["sending"] == 0 and sum(states.values()) == expected:
                return states, True
            if time.monotonic() > deadline:
                return states, False
            await asyncio.sleep(POLL_SECONDS)


# ------------------------------------------------------------------ the sender processes


def child_env(fake: FakeSlack, args: argparse.Namespace, url: URL | None) -> dict[str, str]:
    """Our environment without any DIGILOG_/SLACK_ setting of the caller's, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGILOG_", "SLACK_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_API_URL=fake.api_url,
        DIGILOG_SLACK_POSTS_PER_SECOND=f"{args.pace:g}",
        DIGILOG_SENDER_POLL_SECONDS=f"{SENDER_POLL_SECONDS:g}",
        DIGILOG_LOG_LEVEL="INFO",
    )
    if args.lease is not None:
        env["DIGILOG_SENDER_LEASE_SECONDS"] = f"{args.lease:g}"
    if url is not None:
        env["DIGILOG_DATABASE_URL"] = url.render_as_string(hide_password=False)
    return env


async def start(
    args: Sequence[str], env: dict[str, str], log: Path, workdir: Path
) -> asyncio.subprocess.Process:
    """Its working directory is the temporary one, so no .env file is read."""
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            *args, cwd=workdir, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT
        )


def worker_command() -> list[str]:
    return [sys.executable, "-m", "bot.launch", "worker"]


def log_summary(log: Path) -> list[str]:
    """Each distinct warning or error logged (numbers blurred), most frequent first."""
    if not log.exists():
        return []
    seen: Counter[str] = Counter()
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith(("WARNING", "ERROR", "CRITICAL", "Traceback")):
            seen[re.sub(r"\d+", "N", line)[:150]] += 1
    return [f"{n:>5} × {line}" for line, n in seen.most_common(8)]


# ------------------------------------------------------------------ measuring


@dataclass
class Rate:
    name: str
    accepted: int
    rate_limited: int
    first_to_last: float  # seconds from the first accepted post to the last
    startup: float  # process start to its first accepted post
    cpu: float | None  # the sender's CPU seconds in all (startup included)
    bench_cpu: float  # this process's (the fake's) CPU seconds meanwhile
    windows: tuple[float, float]  # lowest and highest posts/s over 5 s windows
    other_calls: Counter[str] = field(default_factory=Counter)

    @property
    def per_second(self) -> float:
        """Posts after the first over the time from the first to the last."""
        return (self.accepted - 1) / self.first_to_last if self.first_to_last > 0 else 0.0

    def cpu_ms(self, cpu: float | None) -> str:
        return f"{1000 * cpu / self.accepted:.1f}" if cpu is not None and self.accepted else "?"


def measure(name: str, fake: BenchSlack, began: float, cpu: float | None, bench_cpu: float) -> Rate:
    times = fake.accepted
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    others = Counter(c.method for c in fake.calls if c.method != POST)
    return Rate(
        name,
        len(times),
        fake.rate_limited,
        span,
        times[0] - began if times else float("nan"),
        cpu,
        bench_cpu,
        windows(times),
        others,
    )


def windows(times: Sequence[float], seconds: float = 5.0) -> tuple[float, float]:
    """Lowest and highest posts/s over the whole windows of `seconds` from the first post."""
    whole = int((times[-1] - times[0]) // seconds) if times else 0
    if whole < 1:
        return (0.0, 0.0)
    counts = Counter(int((t - times[0]) // seconds) for t in times)
    rates = [counts[i] / seconds for i in range(whole)]
    return min(rates), max(rates)


def describe(rate: Rate, people: int, fake: BenchSlack) -> str:
    others = ", ".join(f"{m} {n:,}" for m, n in sorted(rate.other_calls.items())) or "none"
    low, high = rate.windows
    return (
        f"  {rate.name}: {rate.accepted:,} posts accepted in {rate.first_to_last:.1f} s "
        f"= {rate.per_second:.1f}/s (5 s windows {low:.0f}–{high:.0f}/s), "
        f"{rate.rate_limited} × 429; first post {rate.startup:.1f} s after start\n"
        f"  CPU per post: sender {rate.cpu_ms(rate.cpu)} ms (startup included), "
        f"bench+fake {rate.cpu_ms(rate.bench_cpu)} ms; other API calls: {others}; "
        f"people with a message: {len(fake.per_person()):,}/{people:,}"
    )


def machine(url: str | None) -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if url is None:
        import sqlite3

        where = f"SQLite {sqlite3.sqlite_version} files"
    else:
        where = normalise_url(url).set(database=None).render_as_string(hide_password=True)
        where = f"scratch databases on {where}"
    system = f"{platform.system()} {platform.machine()}, nproc={cpus}"
    return f"{system}, Python {platform.python_version()}, {where}"


def _states(states: Counter[str]) -> str:
    return ", ".join(f"{n:,} {state}" for state, n in sorted(states.items())) or "none"


def _reasons(reasons: Counter[str]) -> str:
    return "; ".join(f"{n:,} × {reason}" for reason, n in reasons.most_common(4))


def print_log(name: str, log: Path) -> None:
    lines = log_summary(log)
    print(f"  {name} log: {'no warnings or errors' if not lines else ''}")
    for line in lines:
        print(f"  {line}")


# ------------------------------------------------------------------ the runs


def kill_point(people: int) -> int:
    """The post at the midpoint, moved to the middle of the batch the worker claimed with
    it, so that the kill leaves both a row in flight and claimed rows not yet begun."""
    batch = int(inspect.signature(Sender).parameters["batch"].default)
    return max(1, people // 2 // batch * batch + batch // 2)


@dataclass
class Bench:
    args: argparse.Namespace
    workdir: Path
    users: list[str]
    failures: list[str] = field(default_factory=list)
    message: dict[str, Any] = field(default_factory=dict)  # one nudge as posted (for bare)

    @property
    def lease(self) -> float:
        return float(self.args.lease if self.args.lease is not None else DEFAULT_LEASE)

    @property
    def timeout(self) -> float:
        """The fan-out ten times over, a lease running out, and startup."""
        limit: float = self.args.limit
        return 10 * len(self.users) / limit + self.lease + 60

    def fake(self) -> BenchSlack:
        fake = BenchSlack()
        fake.enforce_rate(POST, self.args.limit, burst=self.args.burst)
        for method in TIER_3:  # Slack's Tier 3: 50 a minute per method and workspace
            fake.enforce_rate(method, TIER_3_PER_MINUTE / 60, burst=TIER_3_PER_MINUTE)
        return fake

    async def setup(self, url: URL, fake: BenchSlack, label: str) -> None:
        setup = await prepare(url, fake, self.users)
        print(
            f"{label}: {len(self.users):,} participants enrolled in {setup.enrol_seconds:.1f} s; "
            f"theme {THEME} started; `nudge {THEME} post` preview {setup.preview_seconds:.2f} s, "
            f'"Send to them" {setup.confirm_seconds:.2f} s → {setup.rows:,} rows '
            f'("{setup.reply}")'
        )
        if setup.rows != len(self.users):
            self.failures.append(f"{label}: {setup.rows} rows for {len(self.users)} people")
        fake.clear()  # setup made no Slack calls but the theme post's; count from here

    async def run_one(self, url: URL) -> Rate:
        """Run 1: the whole fan-out by one worker."""
        async with self.fake() as fake, Outbox(url) as outbox:
            await self.setup(url, fake, "run 1")
            log = self.workdir / "run1-worker.log"
            began, bench_began = time.monotonic(), time.process_time()
            worker = await start(
                worker_command(), child_env(fake, self.args, url), log, self.workdir
            )
            try:
                states, done = await outbox.wait_until_done(len(self.users), self.timeout)
                cpu = cpu_seconds(worker.pid)
            finally:
                await stop(worker, STOP_SIGNAL)
            rate = measure("digilog worker", fake, began, cpu, time.process_time() - bench_began)
            reasons = await outbox.reasons()
            print(describe(rate, len(self.users), fake))
            print(f"  rows: {_states(states)}" + (f"; {_reasons(reasons)}" if reasons else ""))
            print_log("worker", log)
            if not done:
                self.failures.append(f"run 1: not done after {self.timeout:.0f} s")
            if states["sent"] != len(self.users):
                self.failures.append(f"run 1: rows {_states(states)}")
            if posted := fake.direct_messages():
                self.message = {"text": posted[0]["text"], "blocks": posted[0]["blocks"]}
            return rate

    async def run_bare(self) -> Rate:
        """The baseline: the same posts from a process with the courier's pace and no outbox."""
        job = self.workdir / "bare.json"
        job.write_text(
            json.dumps(
                {
                    "users": self.users,
                    "text": self.message.get("text") or "Du har inte skrivit i digiloggen än.",
                    "blocks": self.message.get("blocks"),
                }
            )
        )
        script = self.workdir / "bare_sender.py"
        script.write_text(BARE_SENDER)
        async with self.fake() as fake:
            log = self.workdir / "bare-sender.log"
            began, bench_began = time.monotonic(), time.process_time()
            process = await start(
                [sys.executable, str(script), str(job)],
                child_env(fake, self.args, None),
                log,
                self.workdir,
            )
            try:
                await asyncio.wait_for(process.wait(), self.timeout)
            except TimeoutError:
                self.failures.append(f"bare sender: not done after {self.timeout:.0f} s")
            finally:
                await stop(process, STOP_SIGNAL)
            found = re.findall(r"cpu seconds ([\d.]+)", log.read_text(errors="replace"))
            cpu = float(found[-1]) if found else None
            rate = measure("bare sender", fake, began, cpu, time.process_time() - bench_began)
            print(describe(rate, len(self.users), fake))
            print_log("bare sender", log)
            if process.returncode != 0 or rate.accepted != len(self.users):
                self.failures.append(f"bare sender: exit {process.returncode}, {rate.accepted}")
            return rate

    async def run_two(self, url: URL) -> Counter[int]:
        """Run 2: SIGKILL the worker at the midpoint, start another, count per person."""
        people = len(self.users)
        async with self.fake() as fake, Outbox(url) as outbox:
            await self.setup(url, fake, "run 2")
            kill_at = kill_point(people)
            fake.kill_at = kill_at
            log = self.workdir / "run2-workers.log"
            env = child_env(fake, self.args, url)
            began = time.monotonic()
            fake.victim = first = await start(worker_command(), env, log, self.workdir)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(first.wait(), self.timeout)
            await stop(first, STOP_SIGNAL)
            if fake.killed_at is None:
                self.failures.append(f"run 2: worker 1 ended unkilled (exit {first.returncode})")
                return Counter()
            at_kill = await outbox.states()
            held, maybe = await outbox.held()
            lookups_before = len(fake.calls_to("conversations.history"))
            restarted = time.monotonic()
            second = await start(worker_command(), env, log, self.workdir)
            try:
                states, done = await outbox.wait_until_done(people, self.timeout)
            finally:
                await stop(second, STOP_SIGNAL)
            finished = time.monotonic()
            reasons = await outbox.reasons()
            after = [t - restarted for t in fake.accepted if t > restarted]
            distribution = Counter(fake.per_person().get(u, 0) for u in self.users)
            twice = sum(1 for n in fake.keys_posted().values() if n > 1)
            lookups = len(fake.calls_to("conversations.history")) - lookups_before
            not_again = log.read_text(errors="replace").count("had gone out before")
            first_post, last_post = (after[0], after[-1]) if after else (math.nan, math.nan)
            print(
                f"  worker 1: SIGKILLed {fake.killed_at - began:.1f} s after its start, by the "
                f"fake, on taking post {kill_at:,} and before answering it\n"
                f"  then: {at_kill['sent']:,} rows sent, {held} held under the dead worker's "
                f"lease ({maybe} marked maybe_sent), {at_kill['pending']:,} pending\n"
                f"  worker 2, started at once: first post after {first_post:.1f} s, last after "
                f"{last_post:.1f} s, every row done after {finished - restarted:.1f} s "
                f"(lease {self.lease:g} s); {len(after):,} posts\n"
                f"  worker 2 looked in Slack (conversations.history) {lookups} times; "
                f"found there and not sent again: {not_again}; 429s in run 2: "
                f"{fake.rate_limited}\n"
                f"  rows: {_states(states)}" + (f"; {_reasons(reasons)}" if reasons else "")
            )
            print_log("workers", log)
            if not done:
                self.failures.append(f"run 2: not done after {self.timeout:.0f} s")
            if states["sent"] != people:
                self.failures.append(f"run 2: rows {_states(states)}")
            if set(distribution) != {1}:
                self.failures.append(f"run 2: messages per person {dict(distribution)}")
            if twice:
                self.failures.append(f"run 2: {twice} delivery keys posted more than once")
            return distribution


# ------------------------------------------------------------------ bad days


@dataclass
class Outcome:
    """One scenario: how many delivery keys reached their person once, twice or never; the
    rate posts were accepted at; how long recovery took against what the backlog needs at
    the limit; a theme post's delay."""

    name: str
    once: int
    twice: int
    never: int
    rate: float = math.nan
    rate_target: bool = True  # whether the rate is held to ≥ 0.9 × the limit
    recover: float | None = None
    need: float | None = None
    theme_delay: float | None = None
    note: str = ""


def counted(fake: BenchSlack, keys: Sequence[str]) -> tuple[int, int, int]:
    posted = fake.keys_posted()
    once = sum(1 for key in keys if posted.get(key) == 1)
    twice = sum(1 for key in keys if posted.get(key, 0) > 1)
    return once, twice, sum(1 for key in keys if key not in posted)


def rate_between(times: Sequence[float], start: float, end: float) -> float:
    inside = [t for t in times if start <= t <= end]
    return (len(inside) - 1) / (inside[-1] - inside[0]) if len(inside) > 2 else math.nan


async def until(condition: Any, within: float, every: float = 0.1) -> bool:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(every)
    return True


async def ad_hoc_keys(outbox: Outbox) -> list[str]:
    async with outbox.engine.connect() as connection:
        rows = await connection.execute(select(Delivery.key).where(Delivery.kind == AD_HOC))
        return [str(key) for (key,) in rows]


async def unsent(outbox: Outbox) -> int:  # rows pending or being sent
    states = await outbox.states()
    return states["pending"] + states["sending"]


class Scenarios:
    """The bad days of the issue, each on a fresh database with `digilog worker`s."""

    def __init__(self, bench: Bench) -> None:
        self.bench, self.args = bench, bench.args
        self.people = len(bench.users)
        self.outcomes: list[Outcome] = []

    async def _run(
        self,
        name: str,
        during: Any,
        *,
        workers: int = 1,
        label: str,
    ) -> Outcome:
        """Set up, start the workers, run `during(fake, outbox, workers, url)` beside them
        until every row is done, stop them, and count."""
        bench = self.bench
        workdir = bench.workdir / name
        workdir.mkdir(exist_ok=True)
        print(f"\n{label}")
        async with (
            scratch_database(
                self.args.database_url, workdir / "outbox.db", "digilog_fanout", self.args.keep
            ) as url,
            bench.fake() as fake,
            Outbox(url) as outbox,
        ):
            await bench.setup(url, fake, f"  {name}")
            keys = await ad_hoc_keys(outbox)
            env = child_env(fake, self.args, url)
            env["DIGILOG_SLACK_POSTS_PER_SECOND"] = f"{self.args.pace / workers:g}"
            env["DIGILOG_SLACK_LOOKUPS_PER_MINUTE"] = f"{TIER_3_PER_MINUTE // workers}"
            procs = [
                await start(worker_command(), env, workdir / f"worker{n}.log", workdir)
                for n in range(workers)
            ]
            began = time.monotonic()
            try:
                extra = asyncio.create_task(during(fake, outbox, procs, url, workdir))
                states, done = await outbox.wait_until_done(self.people, bench.timeout + 900)
                finished = time.monotonic()
                try:  # whatever happens, the bench ends by itself
                    outcome: Outcome = await asyncio.wait_for(
                        extra, 2 * self.args.idle_seconds + 120
                    )
                except TimeoutError:
                    outcome = Outcome(name, 0, 0, 0, note="its measurement did not finish")
            finally:
                for proc in procs:
                    await stop(proc, STOP_SIGNAL)
            once, twice, never = counted(fake, keys)
            outcome.once, outcome.twice, outcome.never = once, twice, never
            if math.isnan(outcome.rate):
                outcome.rate = rate_between(fake.accepted, began, finished)
            reasons = await outbox.reasons()
            print(
                f"  {len(fake.accepted):,} posts accepted, {fake.rate_limited} × 429, "
                f"calls: {_calls(fake)}; outage answers: {dict(fake.outage_calls) or 'none'}"
            )
            print(f"  rows: {_states(states)}" + (f"; {_reasons(reasons)}" if reasons else ""))
            for n in range(workers):
                print_log(f"worker {n}", workdir / f"worker{n}.log")
            if not done:
                bench.failures.append(f"{name}: not done in time ({_states(states)})")
            if twice or never:
                bench.failures.append(f"{name}: {twice} twice, {never} never")
            self.outcomes.append(outcome)
            return outcome

    async def lost_then_500(self) -> Outcome:
        async def during(fake: BenchSlack, outbox: Outbox, *_: Any) -> Outcome:
            await until(lambda: len(fake.accepted) >= self.people // 4, self.bench.timeout)
            fake.lose_answer(POST)
            fake.fail("conversations.open", error="internal_error", status=500)
            fake.fail("conversations.history", error="internal_error", status=500)
            return Outcome("answer lost, then lookup 500", 0, 0, 0, rate_target=False)

        return await self._run(
            "lost",
            during,
            label="answer lost, then the lookup's conversations.open and .history answer HTTP 500",
        )

    async def outage(self, seconds: float, mode: str, name: str, label: str) -> Outcome:
        limit = self.args.limit

        async def during(fake: BenchSlack, outbox: Outbox, *_: Any) -> Outcome:
            await until(lambda: len(fake.accepted) >= self.people // 4, self.bench.timeout)
            begins = time.monotonic()
            fake.down = (begins, begins + seconds, mode)
            before = rate_between(fake.accepted, 0, begins)
            await asyncio.sleep(seconds)
            backlog = await unsent(outbox)
            ended = time.monotonic()
            await outbox.wait_until_done(self.people, self.bench.timeout + 900)
            recover = time.monotonic() - ended
            doubt = len(fake.calls_to("conversations.history"))
            return Outcome(
                label,
                0,
                0,
                0,
                rate=before,
                rate_target=False,
                recover=recover,
                need=backlog / limit,
                note=f"{backlog:,} waiting when it ended; {doubt} history lookups",
            )

        return await self._run(name, during, label=label)

    async def theme_post(self) -> Outcome:
        """A theme post falls due 30 s on, behind the backlog; then the leader idles with a
        nudge step due whose 2,500 rows exist already, beside an idle baseline."""

        async def during(
            fake: BenchSlack, outbox: Outbox, procs: list[Any], url: URL, workdir: Path
        ) -> Outcome:
            # Due at 40 % of the fan-out (at least 15 s on, for the leader's sweep to see
            # the new calendar entry and set its timer).
            lead = max(15.0, 0.4 * self.people / self.args.limit)
            due = utcnow() + timedelta(seconds=lead)
            due_at = time.monotonic() + lead
            async with outbox.engine.begin() as connection:
                cohort_id = await connection.scalar(select(Cohort.id))
                await connection.execute(
                    insert(CalendarEntry).values(
                        cohort_id=cohort_id,
                        key="theme:2:start",
                        kind="theme_start",
                        theme_number=2,
                        starts_at=due,
                    )
                )
            await until(lambda: time.monotonic() >= due_at, lead + 5)
            backlog = await unsent(outbox)
            await until(
                lambda: any(t >= due_at and c == CHANNEL for t, c in fake.accepted_in),
                self.bench.timeout,
            )
            posted = [t for t, c in fake.accepted_in if c == CHANNEL and t >= due_at - 1]
            delay = posted[0] - due_at if posted else math.nan
            await outbox.wait_until_done(self.people, self.bench.timeout + 900)
            idle = await self.idle(procs[0], outbox, int(cohort_id or 0))
            return Outcome(
                "theme post due behind a backlog",
                0,
                0,
                0,
                rate_target=False,
                theme_delay=delay,
                note=f"{backlog:,} nudges still to go when it fell due; {idle}",
            )

        return await self._run("theme", during, label="a theme post falls due behind a backlog")

    async def idle(self, worker: Any, outbox: Outbox, cohort_id: int) -> str:
        """The leader's CPU over --idle-seconds: nothing due (baseline), then a nudge step
        due for everyone, its rows all there and sent (as after its fan-out)."""
        seconds = self.args.idle_seconds
        first = cpu_seconds(worker.pid)
        await asyncio.sleep(seconds)
        second = cpu_seconds(worker.pid)
        async with outbox.engine.begin() as connection:
            people = (
                await connection.execute(
                    select(Membership.person_id).where(Membership.cohort_id == cohort_id)
                )
            ).all()
            close = utcnow() + timedelta(days=1)
            step = f"nudge_post:c{cohort_id}:theme:1:digilog_close"
            await connection.execute(
                insert(Delivery),
                [
                    {
                        "key": f"{step}:p{person}",
                        "step": step,
                        "cohort_id": cohort_id,
                        "kind": "nudge_post",
                        "theme_number": 1,
                        "person_id": person,
                        "due_at": close - timedelta(days=2),
                        "relevant_until": close,
                        "state": DeliveryState.sent,
                        "attempts": 1,
                        "maybe_sent": False,
                        "priority": 2,
                        "created_at": utcnow(),
                        "sent_at": utcnow(),
                    }
                    for (person,) in people
                ],
            )
            await connection.execute(
                insert(CalendarEntry).values(
                    cohort_id=cohort_id,
                    key="theme:1:digilog_close",
                    kind="digilog_close",
                    theme_number=1,
                    starts_at=close,
                )
            )
        # The leader's next sweep plans the step, once (a marker); then it idles.
        settle = SWEEP_SECONDS + 5
        await asyncio.sleep(settle)
        planned = cpu_seconds(worker.pid)
        await asyncio.sleep(seconds)
        third = cpu_seconds(worker.pid)
        if first is None or second is None or third is None or planned is None:
            return "idle CPU: not measurable here"
        idle, due = (second - first) * 60 / seconds, (third - planned) * 60 / seconds
        once = (planned - second) - (second - first) * settle / seconds
        self.idle_figures = (idle, due)
        return (
            f"idle leader: {idle:.2f} CPU-s/min with nothing due (baseline), {due:.2f} with a "
            f"nudge step due for {len(people):,} (rows there); planning that step once took "
            f"about {max(once, 0):.2f} CPU-s"
        )

    idle_figures: tuple[float, float] | None = None

    async def three_processes(self) -> Outcome:
        """Three workers on PostgreSQL, each paced at a third; the leader SIGKILLed midway."""

        async def during(
            fake: BenchSlack, outbox: Outbox, procs: list[Any], url: URL, workdir: Path
        ) -> Outcome:
            logs = [workdir / f"worker{n}.log" for n in range(len(procs))]

            def leader() -> int | None:
                for n, log in enumerate(logs):
                    text = log.read_text(errors="replace") if log.exists() else ""
                    if "now keeps the calendar" in text and procs[n].returncode is None:
                        return n
                return None

            await until(lambda: len(fake.accepted) >= self.people // 2, self.bench.timeout)
            killed = time.monotonic()
            rate = rate_between(fake.accepted, 0, killed)
            chosen = leader()
            note = "no leader found in the logs"
            if chosen is not None:
                procs[chosen].kill()
                await procs[chosen].wait()
                replaced = await until(lambda: (n := leader()) is not None and n != chosen, 60, 0.2)
                took = time.monotonic() - killed
                note = f"leader (worker {chosen}) SIGKILLed at the midpoint; " + (
                    f"another leads after {took:.1f} s" if replaced else "none took over"
                )
            return Outcome("3 processes, leader killed", 0, 0, 0, rate=rate, note=note)

        return await self._run(
            "three", during, workers=3, label="three workers on PostgreSQL, leader SIGKILLed"
        )


def _calls(fake: BenchSlack) -> str:
    counts = Counter(c.method for c in fake.calls)
    return ", ".join(f"{m} {n:,}" for m, n in sorted(counts.items()))


def print_outcomes(
    outcomes: Sequence[Outcome], limit: float, idle: tuple[float, float] | None
) -> list[str]:
    """The table, and what missed a target."""
    missed: list[str] = []
    lines: list[Sequence[str]] = [
        (
            "scenario",
            "once",
            "twice",
            "never",
            "posts/s",
            "× limit",
            "recovery",
            "2 × need",
            "theme post",
            "",
        )
    ]
    for o in outcomes:
        ratio = o.rate / limit if not math.isnan(o.rate) else math.nan
        verdicts = []
        if o.twice or o.never:
            verdicts.append("NOT exactly once")
        if o.rate_target and not math.isnan(ratio) and ratio < TARGET_RATIO:
            verdicts.append("rate < 0.9")
        if o.recover is not None and o.need is not None and o.recover > 2 * o.need:
            verdicts.append("slow recovery")
        if o.theme_delay is not None and not (o.theme_delay < THEME_POST_TARGET):
            verdicts.append("theme post late")
        missed += [f"{o.name}: {v}" for v in verdicts]
        lines.append(
            (
                o.name,
                f"{o.once:,}",
                str(o.twice),
                str(o.never),
                "" if math.isnan(o.rate) else f"{o.rate:.1f}",
                "" if math.isnan(ratio) else f"{ratio:.2f}",
                "" if o.recover is None else f"{o.recover:.0f} s",
                "" if o.need is None else f"{2 * o.need:.0f} s",
                "" if o.theme_delay is None else f"{o.theme_delay:.1f} s",
                "MET" if not verdicts else "; ".join(verdicts),
            )
        )
    print(table(lines, "<rrrrrrrr<"))
    for o in outcomes:
        if o.note:
            print(f"  {o.name}: {o.note}")
    if idle is not None:
        met = idle[1] < IDLE_TARGET
        print(
            f"  idle leader, a nudge step due (rows there): {idle[1]:.2f} CPU-s/min against "
            f"{idle[0]:.2f} with nothing due; target < {IDLE_TARGET:g}: "
            f"{'MET' if met else 'not met'}"
        )
        if not met:
            missed.append("idle leader CPU")
    return missed


# ------------------------------------------------------------------ main


async def run(args: argparse.Namespace, workdir: Path) -> int:
    cancel_on_sigterm()
    users = participant_ids(args.participants)
    bench = Bench(args, workdir, users)
    limit = args.limit
    print(
        f"Fan-out: `nudge {THEME} post` to {len(users):,} participants through a FakeSlack "
        f"that accepts {limit:g} {POST}/s (token bucket of {args.burst}) and answers "
        "429 + Retry-After beyond"
    )
    print(f"machine: {machine(args.database_url)}")
    print(
        f"sender: `digilog worker` subprocess, DIGILOG_SLACK_POSTS_PER_SECOND={args.pace:g} "
        f"({args.pace / limit:.2f} × the limit), sender lease {bench.lease:g} s; working "
        f"hours {ALWAYS} for everyone\n"
    )
    rates: list[Rate] = []
    if not args.no_rate:
        async with scratch_database(
            args.database_url, workdir / "run1.db", "digilog_fanout", args.keep
        ) as url:
            rates = [await bench.run_one(url)]
    if not args.no_baseline and not args.no_rate:
        print("\nbaseline (same run, same fake settings, no database)")
        rates.append(await bench.run_bare())
    distribution: Counter[int] = Counter()
    if not args.no_restart:
        print("\nrun 2 (a fresh database): SIGKILL at the midpoint, then a new worker")
        async with scratch_database(
            args.database_url, workdir / "run2.db", "digilog_fanout", args.keep
        ) as url:
            distribution = await bench.run_two(url)

    scenarios = Scenarios(bench)
    if not args.no_restart:
        scenarios.outcomes.append(
            Outcome(
                "SIGKILL mid-run, restart",
                distribution.get(1, 0),
                sum(n for k, n in distribution.items() if k >= 2),
                distribution.get(0, 0),
                rate_target=False,
            )
        )
    chosen = args.scenarios
    if "lost" in chosen:
        await scenarios.lost_then_500()
    if "outage" in chosen:
        await scenarios.outage(
            args.outage,
            "drop",
            "outage",
            f"a {args.outage:g} s outage (connections dropped unanswered)",
        )
    if "long" in chosen:
        await scenarios.outage(
            args.long_outage,
            "500",
            "long",
            f"HTTP 500 for {args.long_outage:g} s, the deadline two days away",
        )
    if "theme" in chosen:
        await scenarios.theme_post()
    if "three" in chosen:
        if args.database_url:
            await scenarios.three_processes()
        else:
            print("\nthree workers: needs --database-url (PostgreSQL); skipped")

    print("\nsummary")
    lines: list[Sequence[str]] = [
        ("", "posts", "429s", "first→last", "posts/s", "× limit", "sender CPU/post", "")
    ]
    lines.append(("the limit (FakeSlack)", "", "", "", f"{limit:.1f}", "1.00", "", ""))
    for rate in rates:
        ratio = rate.per_second / limit
        verdict = f"target ≥ {TARGET_RATIO}: {'MET' if ratio >= TARGET_RATIO else 'not met'}"
        lines.append(
            (
                f"run 1: {rate.name}" if rate is rates[0] else rate.name,
                f"{rate.accepted:,}",
                str(rate.rate_limited),
                f"{rate.first_to_last:.1f} s",
                f"{rate.per_second:.1f}",
                f"{ratio:.2f}",
                f"{rate.cpu_ms(rate.cpu)} ms",
                verdict if rate is rates[0] else "",
            )
        )
    if rates:
        print(table(lines, "<rrrrrr<"))
    if scenarios.outcomes:
        print(
            f"\nbad days (the fake: {limit:g} posts/s per workspace, 1/s per channel, Tier 3 "
            f"{TIER_3_PER_MINUTE}/min per lookup method; targets: 0 twice, 0 never, ≥ "
            f"{TARGET_RATIO} × the limit, recovery within 2 × what the backlog needs at the "
            f"limit, theme post < {THEME_POST_TARGET:g} s)"
        )
        bench.failures += print_outcomes(scenarios.outcomes, limit, scenarios.idle_figures)
    if not args.no_restart:
        people, exact = len(users), distribution.get(1, 0)
        more = sum(n for k, n in distribution.items() if k >= 2)
        print(
            f"\n  run 2, messages per person after a SIGKILL at the midpoint and a restart: "
            f"0: {distribution.get(0, 0):,}   1: {exact:,}   2+: {more:,}   "
            f"target all exactly 1: {'MET' if exact == people else 'not met'}"
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
        "--limit", type=float, default=20.0, help="posts/s the fake accepts (default 20)"
    )
    parser.add_argument(
        "--burst",
        type=int,
        default=None,
        help="the fake's token bucket: posts it takes at once (default: one second's, "
        "the limit; 1 is a strict spacing no jitter may undercut)",
    )
    parser.add_argument(
        "--pace",
        type=float,
        default=None,
        help="DIGILOG_SLACK_POSTS_PER_SECOND for the senders (default: the limit)",
    )
    parser.add_argument(
        "--lease",
        type=float,
        default=None,
        help=f"DIGILOG_SENDER_LEASE_SECONDS (default: Digilog's, {DEFAULT_LEASE:g} s)",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL URL: each run gets a scratch database next to the named one, "
        "dropped at the end (default: SQLite files in a temporary directory)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare sender")
    parser.add_argument("--no-restart", action="store_true", help="skip run 2 (the SIGKILL)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir, dbs and logs")
    parser.add_argument("--no-rate", action="store_true", help="skip run 1 and the baseline")
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"bad days to run, comma-separated, of {','.join(SCENARIOS)} (default: all; "
        "`three` needs --database-url); '' for none",
    )
    parser.add_argument("--outage", type=float, default=67.0, help="seconds (default 67)")
    parser.add_argument(
        "--long-outage", type=float, default=420.0, help="seconds of HTTP 500 (default 420)"
    )
    parser.add_argument(
        "--idle-seconds", type=float, default=60.0, help="idle leader CPU window (default 60)"
    )
    args = parser.parse_args(argv)
    if not 2 <= args.participants <= 99_999 or args.limit <= 0:
        parser.error("--participants must be 2..99999 and --limit above 0")
    if args.database_url and normalise_url(args.database_url).get_backend_name() != "postgresql":
        parser.error("--database-url: a PostgreSQL URL (the default is SQLite)")
    args.scenarios = [name for name in args.scenarios.split(",") if name]
    if unknown := set(args.scenarios) - set(SCENARIOS):
        parser.error(f"--scenarios: unknown {sorted(unknown)}")
    args.burst = args.burst or max(1, round(args.limit))
    args.pace = args.pace or args.limit
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if holiday := holiday_name(datetime.now(ZONE).date()):
        print(
            f"Today is a Swedish public holiday in {ZONE.key} ({holiday}): Digilog holds "
            "nudges until the next working day, so there is no fan-out to measure. "
            "Run the bench on another day.",
            file=sys.stderr,
        )
        return 2
    return run_in_workdir(run, args, "digilog-fanout-", "the workers were stopped")


if __name__ == "__main__":
    sys.exit(main())
