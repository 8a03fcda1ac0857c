"""Slack quiz burst: `digilog serve` against a bare bolt app that only acks, side by side.

Starts two servers on 127.0.0.1, each in its own process as in production:

- `python -m bot.launch serve` (what `digilog serve` runs) on a fresh SQLite file
  that already holds the example programme, one Slack cohort (250 participants
  U0001…U0250 from the four municipalities, a facilitator from Region Västerbotten)
  and open quizzes for themes 1–3;
- a bare bolt AsyncApp with the same adapter (aiohttp, POST /slack/events, request
  verification on) whose one listener only acks.

Both talk to a FakeSlack Web API run by this process. Each round fires the same
1,000 signed block_actions (every participant clicks an option of questions 0–3 of
one theme's quiz, container "ephemeral", 50 requests in flight) at both servers, and
prints requests/s and p50/p99 time to HTTP response (the ack) for both, and the
ratios digilog/bare against the targets: ≥ 0.8 × bare bolt's requests/s and a p99
≤ 1.5 × bare bolt's. Round 1 (theme 1) runs bare then digilog, with digilog's
users.info cache cold; round 2 (theme 2) runs digilog then bare, cache warm.

After each digilog burst it waits for all 1,000 response_url replies and checks the
database: exactly 1,000 answers for that theme, 4 per participant, none twice, each
with the option clicked. Last, 100 duplicate clicks (other options) must record
nothing and change nothing. Nothing asserts on time; the exit status is 1 only when
a correctness check fails.

    .venv/bin/python bench/slack_quiz_burst.py
    .venv/bin/python bench/slack_quiz_burst.py --participants 50   # quick smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from common import (  # noqa: E402
    BurstFigures,
    Server,
    bench_roster,
    cancel_on_sigterm,
    collector_paused,
    counted_command,
    free_port,
    helping,
    met,
    percentile,
    print_problems,
    print_table,
    run_in_workdir,
    running,
    scratch_database,
)
from sqlalchemy import func, select  # noqa: E402

from handlers.admin import CohortSpec, create_cohort, import_roster, load_programme  # noqa: E402
from handlers.core.programme_file import Programme, Quiz  # noqa: E402
from handlers.core.programme_file import load_programme as read_programme  # noqa: E402
from handlers.core.vocabulary import Actor, CommandReceived, Conversation  # noqa: E402
from handlers.digilog import Digilog  # noqa: E402
from storage.db import create_engine, normalise_url  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Person, QuizAnswer  # noqa: E402
from storage.unit import Store  # noqa: E402
from tests import slack_payloads as payloads  # noqa: E402
from tests.slack_fake import RESPONSE_URL, FakeSlack  # noqa: E402

PROGRAMME_FILE = ROOT / "examples" / "digital-kompetens.yaml"
SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"
TEAM = payloads.TEAM_ID
CHANNEL = "C_COHORT"
EVENTS = "/slack/events"  # where both servers take Slack's requests
COHORT_KEY = "quiz-burst"
FACILITATOR = "U_FAC"
WARMUP_THEME = 3  # the facilitator's warm-up clicks answer this quiz, never the timed ones
OPEN_QUIZZES = (1, 2, WARMUP_THEME)
WARMUP_REQUESTS = 24
# bolt reads SLACK_BOT_TOKEN from the environment as well as our client's token; harmless.
KNOWN_NOTICE = "As you gave `client` as well, `token` will be unused"
TARGET_RPS_RATIO = 0.8  # digilog req/s ≥ 0.8 × bare bolt's
TARGET_P99_RATIO = 1.5  # digilog p99 ≤ 1.5 × bare bolt's
TARGET_END_TO_END_RATIO = 0.3  # answers stored and replied per second ≥ 0.3 × bare bolt's req/s
TARGET_HELD_P99 = 1.0  # seconds: others' replies while one channel is held by a 429
HELD_THEME = 4  # the facilitator starts it during the throttled run: its post meets the 429
REPLY_TIMEOUT = 60.0
REPLY_QUIET = 10.0  # no reply for this long: the missing ones are not coming

BARE_BOLT = '''\
"""A bolt AsyncApp that only acks, served like `digilog serve` serves Digilog."""
import logging
import os
import re
import sys

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
bolt = AsyncApp(
    signing_secret=os.environ["SLACK_SIGNING_SECRET"],
    client=AsyncWebClient(
        token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]
    ),
    request_verification_enabled=True,
)


@bolt.action(re.compile(".*"))
async def only_ack(ack):
    await ack()


async def events(request):
    return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))


async def healthz(request):
    return web.json_response({"ok": True})


app = web.Application(client_max_size=1024 * 1024)
app.router.add_post("/slack/events", events)
app.router.add_get("/healthz", healthz)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
'''


# ------------------------------------------------------------------ the clicks


@dataclass(frozen=True)
class Click:
    """One button press: who, which question of which theme's quiz, which option."""

    user: str
    theme: int
    question: int
    option: int
    reply_name: str  # the response_url is fake.response_url(reply_name)

    def action_id(self, cohort_id: int) -> str:
        return f"quiz:{cohort_id}-{self.theme}:{self.question}:{self.option}"


def participant_ids(count: int) -> list[str]:
    return [f"U{n:04d}" for n in range(1, count + 1)]


def quiz_of(programme: Programme, theme: int) -> Quiz:
    found = programme.theme(theme)
    if found is None or found.quiz is None:
        raise RuntimeError(f"the example programme has no quiz in theme {theme}")
    return found.quiz


def quiz_clicks(
    programme: Programme, theme: int, users: Sequence[str], questions: int, rng: random.Random
) -> list[Click]:
    """Everyone answers question 0, then everyone question 1, …: how a class clicks."""
    quiz = quiz_of(programme, theme)
    assert len(quiz.questions) >= questions
    return [
        Click(user, theme, q, rng.randrange(len(quiz.questions[q].options)), f"t{theme}-{i}")
        for i, (q, user) in enumerate((q, u) for q in range(questions) for u in users)
    ]


def duplicate_clicks(
    programme: Programme, sent: Sequence[Click], count: int, rng: random.Random
) -> list[Click]:
    """Clicks on questions already answered, each on a different option than the first."""
    duplicates = []
    for i, first in enumerate(rng.sample(list(sent), min(count, len(sent)))):
        quiz = quiz_of(programme, first.theme)
        options = len(quiz.questions[first.question].options)
        other = (first.option + 1 + rng.randrange(options - 1)) % options
        duplicates.append(Click(first.user, first.theme, first.question, other, f"dup-{i}"))
    return duplicates


def warmup_clicks(count: int) -> list[Click]:
    """The facilitator answers the warm-up quiz (new answers, then duplicates)."""
    return [Click(FACILITATOR, WARMUP_THEME, i % 4, 0, f"warmup-{i}") for i in range(count)]


def to_requests(
    clicks: Sequence[Click], cohort_id: int, fake: FakeSlack
) -> list[payloads.SlackRequest]:
    return [
        payloads.block_action(
            click.action_id(cohort_id),
            click.action_id(cohort_id),
            user=click.user,
            channel=CHANNEL,
            container="ephemeral",
            response_url=fake.response_url(click.reply_name),
        )
        for click in clicks
    ]


# ------------------------------------------------------------------ the database


async def prepare_database(url: str, programme: Programme, users: Sequence[str]) -> int:
    """Migrate, load the programme, create the cohort, enrol everyone, open the quizzes."""
    engine = create_engine(url)
    try:
        await upgrade(engine)
        store = Store(engine)
        await load_programme(store, programme)
        cohort = await create_cohort(
            store,
            CohortSpec(
                key=COHORT_KEY,
                program_id=programme.id,
                title="Quiz burst",
                platform="slack",
                workspace=TEAM,
                conversation_id=CHANNEL,
                language="sv",
            ),
        )
        rows = bench_roster(FACILITATOR, "Fia Facilitator", users, lambda user: f"Deltagare {user}")
        await import_roster(store, COHORT_KEY, rows, skip_bad=False)
        await open_quizzes(store, cohort.id)
        return cohort.id
    finally:
        await engine.dispose()


async def open_quizzes(store: Store, cohort_id: int) -> None:
    """What a facilitator types: theme start N, quiz start N; then check it took."""
    digilog = Digilog(store)
    actor = Actor("slack", TEAM, FACILITATOR, "Fia Facilitator", "sv-SE")
    where = Conversation("slack", TEAM, CHANNEL)
    for theme in OPEN_QUIZZES:
        for command in (f"theme start {theme}", f"quiz start {theme}"):
            await digilog.handle(CommandReceived(actor, where, command))
    async with store.transaction() as repos:
        for theme in OPEN_QUIZZES:
            run = await repos.themes.get(cohort_id, theme)
            if run is None or run.quiz_opened_at is None or run.quiz_closed_at is not None:
                raise RuntimeError(f"setup: the quiz of theme {theme} did not open")


async def recorded_answers(url: str, cohort_id: int) -> list[tuple[str, int, int, int]]:
    """(user id, theme, question, option) of every stored answer."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(
                    Person.user_id,
                    QuizAnswer.theme_number,
                    QuizAnswer.question_index,
                    QuizAnswer.option_index,
                )
                .join(Person, Person.id == QuizAnswer.person_id)
                .where(QuizAnswer.cohort_id == cohort_id)
            )
            return [(str(u), t, q, o) for u, t, q, o in rows.all()]
    finally:
        await engine.dispose()


async def last_answer_at(url: str, cohort_id: int, theme: int) -> float | None:
    """When the last answer of a theme was stored (time.time()'s clock)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            query = select(func.max(QuizAnswer.answered_at)).where(
                QuizAnswer.cohort_id == cohort_id, QuizAnswer.theme_number == theme
            )
            last = (await connection.execute(query)).scalar_one()
    finally:
        await engine.dispose()
    if last is None:
        return None
    if last.tzinfo is None:  # SQLite keeps no zone; Digilog stores UTC
        last = last.replace(tzinfo=UTC)
    return float(last.timestamp())


async def answer_count(url: str, cohort_id: int) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            query = select(func.count()).where(QuizAnswer.cohort_id == cohort_id)
            return int((await connection.execute(query.select_from(QuizAnswer))).scalar_one())
    finally:
        await engine.dispose()


def answer_problems(
    recorded: Sequence[tuple[str, int, int, int]], theme: int, expected: Sequence[Click]
) -> list[str]:
    """What is wrong with one theme's stored answers; empty when all is well."""
    mine = [row for row in recorded if row[1] == theme]
    problems = []
    if len(mine) != len(expected):
        problems.append(f"{len(mine)} answers recorded for theme {theme}, expected {len(expected)}")
    twice = [key for key, n in Counter((u, q) for u, _, q, _ in mine).items() if n > 1]
    if twice:
        problems.append(f"{len(twice)} (person, question) pairs recorded twice, e.g. {twice[0]}")
    stored = {(u, q): o for u, _, q, o in mine}
    missing = [c for c in expected if (c.user, c.question) not in stored]
    wrong = [c for c in expected if stored.get((c.user, c.question), c.option) != c.option]
    if missing:
        problems.append(f"{len(missing)} clicks have no answer, e.g. {missing[0]}")
    if wrong:
        problems.append(f"{len(wrong)} answers hold another option than clicked, e.g. {wrong[0]}")
    return problems


# ------------------------------------------------------------------ the servers


def digilog_command(python: str, port: int, profile: Path | None) -> list[str]:
    """`digilog serve`, under cProfile (stats written when it stops) if asked."""
    profiler = ["-m", "cProfile", "-o", str(profile.resolve())] if profile else []
    return [
        python,
        *profiler,
        "-m",
        "bot.launch",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def child_env(fake: FakeSlack, extra: dict[str, str]) -> dict[str, str]:
    """Our environment without any DIGILOG_/SLACK_ setting of the caller's, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGILOG_", "SLACK_"))}
    env.pop("PORT", None)
    env.update(
        PYTHONPATH=str(ROOT),
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=fake.api_url,
        DIGILOG_LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


# ------------------------------------------------------------------ the load


@dataclass
class Burst(BurstFigures):
    """One burst at one server: per-request times to response and what they cost."""

    server: str
    latencies: list[float]
    sent_at: list[float]
    elapsed: float
    statuses: Counter[str]
    server_cpu: float | None  # during the burst of requests
    bench_cpu: float
    cpu_at_start: float | None
    replies: list[float] = field(default_factory=list)  # response_url latencies (digilog)
    replies_done: float | None = None  # burst start to the last reply, seconds
    replies_cpu: float | None = None  # server CPU from burst start to the last reply
    loop_cpu_at_start: float | None = None
    replies_loop_cpu: float | None = None  # of which its event loops' threads
    started_wall: float = 0.0  # time.time() when the burst began (answers are stamped so)
    statements_at_start: int | None = None
    statements: int | None = None  # SQL statements from burst start to the last reply
    end_to_end: float | None = None  # burst start until every answer stored and replied


async def fire(
    session: aiohttp.ClientSession,
    server: Server,
    requests: Sequence[payloads.SlackRequest],
    concurrency: int,
    per_second: float | None = None,
) -> Burst:
    """Send all requests, `concurrency` at a time (and at most `per_second`); time each
    from send to full response."""
    signed = [(r.body.encode(), r.headers(SECRET)) for r in requests]  # fresh timestamps
    latencies = [0.0] * len(signed)
    sent_at = [0.0] * len(signed)
    statuses: Counter[str] = Counter()
    queue = iter(enumerate(signed))

    async def worker() -> None:
        for i, (body, headers) in queue:
            if per_second:
                await asyncio.sleep(max(0.0, started + i / per_second - time.monotonic()))
            sent_at[i] = time.monotonic()
            try:
                async with session.post(server.url, data=body, headers=headers) as response:
                    await response.read()
                    statuses[str(response.status)] += 1
            except aiohttp.ClientError as error:
                statuses[type(error).__name__] += 1
            latencies[i] = time.monotonic() - sent_at[i]

    cpu_before, bench_before = server.cpu(), time.process_time()
    loop_cpu_before = server.loop_cpu()
    statements_before = server.statements() if server.counts else None
    started_wall = time.time()
    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    cpu_after = server.cpu()
    server_cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return Burst(
        server.name,
        latencies,
        sent_at,
        elapsed,
        statuses,
        server_cpu,
        time.process_time() - bench_before,
        cpu_before,
        started_wall=started_wall,
        statements_at_start=statements_before,
        loop_cpu_at_start=loop_cpu_before,
    )


async def wait_for_replies(fake: FakeSlack, clicks: Sequence[Click]) -> dict[str, float]:
    """reply name → arrival time of its first response_url post: once all came, or when
    none came for REPLY_QUIET s (a lost click never answers), or after REPLY_TIMEOUT s."""
    wanted = {c.reply_name for c in clicks}
    arrived: dict[str, float] = {}
    seen = 0
    now = time.monotonic()
    deadline, last_news = now + REPLY_TIMEOUT, now
    while True:
        for call in fake.calls[seen:]:
            name = call.method.removeprefix(RESPONSE_URL)
            if name in wanted and name not in arrived:
                arrived[name] = last_news = call.at
        seen = len(fake.calls)
        now = time.monotonic()
        if len(arrived) == len(wanted) or now > deadline or now - last_news > REPLY_QUIET:
            return arrived
        await asyncio.sleep(0.05)


async def settle(fake: FakeSlack, quiet: float = 0.5) -> None:
    """Until the app has sent nothing new for `quiet` seconds: its work after the ack is done."""
    seen = -1
    while seen != len(fake.calls):
        seen = len(fake.calls)
        await asyncio.sleep(quiet)


async def add_replies(
    burst: Burst, server: Server, fake: FakeSlack, clicks: Sequence[Click]
) -> None:
    arrived = await wait_for_replies(fake, clicks)
    counted = server.statements() if server.counts else None
    if counted is not None and burst.statements_at_start is not None:
        burst.statements = counted - burst.statements_at_start
    cpu = server.cpu()
    if cpu is not None and burst.cpu_at_start is not None:
        burst.replies_cpu = cpu - burst.cpu_at_start
    loop_cpu = server.loop_cpu()
    if loop_cpu is not None and burst.loop_cpu_at_start is not None:
        burst.replies_loop_cpu = loop_cpu - burst.loop_cpu_at_start
    burst.replies = [
        arrived[c.reply_name] - burst.sent_at[i]
        for i, c in enumerate(clicks)
        if c.reply_name in arrived
    ]
    if arrived:
        burst.replies_done = max(arrived.values()) - min(burst.sent_at)


# ------------------------------------------------------------------ the report


def print_header(args: argparse.Namespace) -> None:
    total = args.participants * args.questions
    print(
        f"Slack quiz burst: {args.participants} participants × {args.questions} answers = "
        f"{total:,} signed block_actions per burst, {args.concurrency} in flight"
    )
    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; database: "
        f"{'PostgreSQL (scratch database)' if args.database else 'SQLite (fresh file)'}; "
        f"load generator and fake Slack Web API in this process, each server in its own"
    )
    if args.workers:
        print(
            f"digilog: `digilog serve` and {args.workers} `digilog worker` "
            f"process{'es' if args.workers > 1 else ''} (Slack's journalled work taken by any)"
        )


def print_replies(burst: Burst, expected: int) -> None:
    if not burst.replies:
        print(f"  replies: none of {expected} response_url replies arrived")
        return
    done = "" if burst.replies_done is None else f", the last {burst.replies_done:.2f} s after "
    print(
        f"  replies: {len(burst.replies)}/{expected} response_url replies{done}the burst began; "
        f"click → reply p50 {1000 * percentile(burst.replies, 50):.0f} ms, "
        f"p99 {1000 * percentile(burst.replies, 99):.0f} ms"
    )
    if burst.replies_cpu is not None and burst.replies_done:
        print(
            f"  digilog's CPU from burst start to its last reply: {burst.replies_cpu:.2f} s "
            f"({1000 * burst.replies_cpu / expected:.1f} ms per click, "
            f"{100 * burst.replies_cpu / burst.replies_done:.0f} % of one core)"
            + (
                ""
                if burst.replies_loop_cpu is None
                else f"; its event loop's thread {1000 * burst.replies_loop_cpu / expected:.2f} ms "
                f"per click"
            )
        )


@dataclass(frozen=True)
class Verdict:
    rps_ratio: float
    p99_ratio: float
    end_to_end_ratio: float = 0.0

    @property
    def end_to_end_met(self) -> bool:
        return self.end_to_end_ratio >= TARGET_END_TO_END_RATIO

    @property
    def rps_met(self) -> bool:
        return self.rps_ratio >= TARGET_RPS_RATIO

    @property
    def p99_met(self) -> bool:
        return self.p99_ratio <= TARGET_P99_RATIO


def compare(bare: Burst, digilog: Burst, end_to_end_ratio: float) -> Verdict:
    verdict = Verdict(digilog.rps / bare.rps, digilog.p99 / bare.p99, end_to_end_ratio)
    print(
        f"  ratios digilog/bare: req/s {verdict.rps_ratio:.2f} "
        f"(target ≥ {TARGET_RPS_RATIO:.2f}: {met(verdict.rps_met)}), "
        f"p99 {verdict.p99_ratio:.2f} (target ≤ {TARGET_P99_RATIO:.2f}: {met(verdict.p99_met)})"
    )
    return verdict


def print_summary(
    verdicts: Sequence[Verdict],
    bare_rps: Sequence[float],
    failures: int,
    held_p99: float | None,
) -> None:
    rps = [v.rps_ratio for v in verdicts]
    p99 = [v.p99_ratio for v in verdicts]
    print("summary:")
    if len(bare_rps) > 1:
        spread = 100 * (max(bare_rps) - min(bare_rps)) / max(bare_rps)
        print(
            f"  noise: bare bolt's req/s in its {len(bare_rps)} bursts: "
            f"{', '.join(f'{r:.0f}' for r in bare_rps)} ({spread:.0f} % apart, same work)"
        )
    print(
        f"  req/s ratio per round: {', '.join(f'{r:.2f}' for r in rps)} — target ≥ "
        f"{TARGET_RPS_RATIO:.2f}: {met(all(v.rps_met for v in verdicts))} "
        f"(MET only if met in every round)"
    )
    print(
        f"  p99 ratio per round:   {', '.join(f'{r:.2f}' for r in p99)} — target ≤ "
        f"{TARGET_P99_RATIO:.2f}: {met(all(v.p99_met for v in verdicts))}"
    )
    e2e = [v.end_to_end_ratio for v in verdicts]
    print(
        f"  end-to-end answers/s ÷ bare acks/s per round: {', '.join(f'{r:.2f}' for r in e2e)}"
        f" — target ≥ {TARGET_END_TO_END_RATIO:.1f}: "
        f"{met(all(v.end_to_end_met for v in verdicts))}"
    )
    if held_p99 is not None:
        print(
            f"  others' replies while a channel was held, p99: {1000 * held_p99:.0f} ms — "
            f"target < {1000 * TARGET_HELD_P99:.0f} ms: {met(held_p99 < TARGET_HELD_P99)}"
        )
    print(f"  correctness: {'OK' if failures == 0 else f'{failures} check(s) FAILED'}")


def print_server_logs(servers: Sequence[Server]) -> None:
    """Each distinct warning/error a server logged, with how often (tracebacks not repeated)."""
    for server in servers:
        found = Counter(line[:160] for line in server.log_lines(r"^(WARNING|ERROR|CRITICAL) "))
        known = sum(n for line, n in found.items() if KNOWN_NOTICE in line)
        others = {line: n for line, n in found.items() if KNOWN_NOTICE not in line}
        note = f" (besides bolt's notice that `token` is unused, {known}×)" if known else ""
        if not others:
            print(f"  {server.name}: no warnings or errors{note}")
            continue
        print(f"  {server.name}: {sum(others.values())} warning/error line(s){note}:")
        for line, n in sorted(others.items(), key=lambda item: -item[1])[:8]:
            print(f"    {n:>4} × {line}")


# ------------------------------------------------------------------ the run


@dataclass
class Bench:
    args: argparse.Namespace
    fake: FakeSlack
    session: aiohttp.ClientSession
    bare: Server
    digilog: Server
    database_url: str
    cohort_id: int
    programme: Programme
    failures: int = 0
    bare_rps: list[float] = field(default_factory=list)
    held_at: float = 0.0
    held_p99: float | None = None

    async def warm_up(self) -> None:
        clicks = warmup_clicks(WARMUP_REQUESTS)
        for server in (self.bare, self.digilog):
            requests = to_requests(clicks, self.cohort_id, self.fake)
            burst = await fire(self.session, server, requests, 8)
            if burst.failures:
                raise RuntimeError(f"warm-up at {server.name} failed: {dict(burst.statuses)}")
        arrived = await wait_for_replies(self.fake, clicks)
        if len(arrived) != len(clicks):
            raise RuntimeError(f"warm-up: {len(arrived)}/{len(clicks)} digilog replies arrived")
        await settle(self.fake)

    async def burst(
        self, server: Server, clicks: Sequence[Click], per_second: float | None = None
    ) -> Burst:
        requests = to_requests(clicks, self.cohort_id, self.fake)
        with collector_paused():  # until the fake has every reply: that time is measured too
            burst = await fire(self.session, server, requests, self.args.concurrency, per_second)
            if server is self.digilog:
                await add_replies(burst, server, self.fake, clicks)
        await settle(self.fake)
        return burst

    def clicks(self, theme: int) -> list[Click]:
        """The timed clicks on one theme's quiz: the same every time for the same seed."""
        users = participant_ids(self.args.participants)
        rng = random.Random(self.args.seed + theme)
        return quiz_clicks(self.programme, theme, users, self.args.questions, rng)

    async def run_round(self, number: int, theme: int, digilog_first: bool, cache: str) -> Verdict:
        clicks = self.clicks(theme)
        order = (self.digilog, self.bare) if digilog_first else (self.bare, self.digilog)
        names = ", ".join(s.name for s in order)
        print(f"round {number}: theme {theme}'s quiz, order {names}; digilog's users.info {cache}")
        results = {s.name: await self.burst(s, clicks) for s in order}
        bare, digilog = results[self.bare.name], results[self.digilog.name]
        self.bare_rps.append(bare.rps)
        print_table([bare, digilog], server_width=10)
        print_replies(digilog, len(clicks))
        end_to_end = await self.end_to_end(digilog, theme, len(clicks), bare)
        recorded = await recorded_answers(self.database_url, self.cohort_id)
        problems = answer_problems(recorded, theme, clicks)
        self.failures += len(problems)
        print_problems(
            f"answers: {len(clicks):,} clicks → exactly {len(clicks):,} recorded for theme "
            f"{theme}, {self.args.questions} per participant, none twice, options as clicked",
            problems,
        )
        return compare(bare, digilog, end_to_end)

    async def end_to_end(self, burst: Burst, theme: int, expected: int, bare: Burst) -> float:
        """Burst start until every answer is stored and every reply reached the fake; the
        answers per second that makes, as a share of bare bolt's acks per second."""
        stored = await last_answer_at(self.database_url, self.cohort_id, theme)
        replied = burst.replies_done
        if stored is None or replied is None or len(burst.replies) < expected:
            print("  end to end: not every answer was stored and replied")
            return 0.0
        burst.end_to_end = max(replied, stored - burst.started_wall)
        rate = expected / burst.end_to_end
        ratio = rate / bare.rps
        print(
            f"  end to end: all {expected:,} answers stored and replied {burst.end_to_end:.2f} s "
            f"after the burst began: {rate:.0f} answers/s = {ratio:.2f} × bare bolt's "
            f"{bare.rps:.0f} acks/s (target ≥ {TARGET_END_TO_END_RATIO:.1f}: "
            f"{met(ratio >= TARGET_END_TO_END_RATIO)})"
        )
        per_answer = []
        if burst.replies_cpu is not None:
            per_answer.append(f"CPU {1000 * burst.replies_cpu / expected:.1f} ms")
        if burst.statements is not None:
            per_answer.append(f"SQL statements {burst.statements / expected:.1f}")
        print(f"  per answer, from the burst's start to its last reply: {', '.join(per_answer)}")
        return ratio

    async def hold_the_channel(self) -> None:
        """Slack answers the next channel post with 429 and Retry-After; the facilitator
        starts a theme, whose post meets it: the channel's lane is held from now on."""
        self.fake.rate_limit("chat.postMessage", retry_after=self.args.retry_after)
        before = len(self.fake.calls_to("chat.postMessage"))
        request = payloads.slash_command(
            f"theme start {HELD_THEME}",
            user=FACILITATOR,
            channel=CHANNEL,
            response_url=self.fake.response_url("held-facilitator"),
        )
        body, headers = request.body.encode(), request.headers(SECRET)
        async with self.session.post(self.digilog.url, data=body, headers=headers) as response:
            await response.read()
        await self.fake.wait_for("chat.postMessage", count=before + 1, timeout=30)
        self.held_at = time.monotonic()

    async def duplicates(self) -> None:
        before = await recorded_answers(self.database_url, self.cohort_id)
        stored = {(user, theme, question) for user, theme, question, _ in before}
        # Only clicks that were recorded: a lost one's "duplicate" would rightly count.
        sent = [
            c for c in self.clicks(1) + self.clicks(2) if (c.user, c.theme, c.question) in stored
        ]
        clicks = duplicate_clicks(self.programme, sent, self.args.duplicates, random.Random(0))
        held = self.args.retry_after > 0
        print(
            f"duplicates: {len(clicks)} clicks on answered questions, other options, at digilog"
            + (
                f"; the cohort's channel held (429, Retry-After {self.args.retry_after} s) "
                f"just before, by the facilitator's theme post; {self.args.held_rate:g} clicks/s"
                if held
                else ""
            )
        )
        if held:
            await self.hold_the_channel()
        # Clicks as they come in a workshop, not a burst: what is measured is whether
        # they wait for the held channel, not how fast a burst is worked off.
        burst = await self.burst(self.digilog, clicks, self.args.held_rate if held else None)
        print_table([burst], server_width=10)
        print_replies(burst, len(clicks))
        if held and burst.replies:
            p99 = percentile(burst.replies, 99)
            self.held_p99 = p99
            posts = self.fake.calls_to("chat.postMessage")
            went = posts[-1].at - self.held_at if len(posts) >= 2 else None
            print(
                f"  while the channel was held: others' replies p99 {1000 * p99:.0f} ms "
                f"(target < {1000 * TARGET_HELD_P99:.0f} ms: {met(p99 < TARGET_HELD_P99)}); "
                + (
                    f"the held theme post went {went:.1f} s after its 429"
                    if went is not None
                    else "the held theme post has not gone yet"
                )
            )
        after = await recorded_answers(self.database_url, self.cohort_id)
        problems = []
        if sorted(after) != sorted(before):
            problems.append(f"answers changed: {len(before)} before, {len(after)} after")
        if len(burst.replies) != len(clicks):
            problems.append(f"{len(clicks) - len(burst.replies)} duplicate clicks got no reply")
        self.failures += len(problems)
        print_problems("nothing recorded again, every duplicate answered", problems)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--participants", type=int, default=250, help="default 250 (max 9999)")
    parser.add_argument("--questions", type=int, default=4, help="per participant (default 4)")
    parser.add_argument("--concurrency", type=int, default=50, help="in flight (default 50)")
    parser.add_argument("--duplicates", type=int, default=100, help="default 100")
    parser.add_argument("--seed", type=int, default=1, help="which options are clicked")
    parser.add_argument(
        "--database",
        metavar="URL",
        help="a PostgreSQL URL: the run gets a scratch database next to the named one, "
        "dropped at the end (default: a fresh SQLite file)",
    )
    parser.add_argument(
        "--retry-after",
        type=int,
        default=5,
        metavar="S",
        help="the throttled run: the channel's Retry-After during the duplicates (default 5; "
        "0 for no throttled run)",
    )
    parser.add_argument(
        "--held-rate",
        type=float,
        default=20.0,
        metavar="N",
        help="the throttled run's clicks per second (default 20)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="also run N `digilog worker` processes beside digilog serve (default 0); their "
        "CPU and statements count as digilog's",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (db, logs)")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="run digilog serve under cProfile and write its stats to FILE (slows it down)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.participants <= 9999 or not 1 <= args.questions <= 8:
        parser.error("--participants must be 1..9999 and --questions 1..8")
    if args.database and normalise_url(args.database).get_backend_name() != "postgresql":
        parser.error("--database: a PostgreSQL URL (the default is SQLite)")
    return args


async def run(args: argparse.Namespace, workdir: Path) -> int:
    cancel_on_sigterm()
    programme = read_programme(PROGRAMME_FILE)
    users = participant_ids(args.participants)
    bare_script = workdir / "bare_bolt.py"
    bare_script.write_text(BARE_BOLT)
    print_header(args)
    async with contextlib.AsyncExitStack() as stack:
        url = await stack.enter_async_context(
            scratch_database(args.database, workdir / "digilog.db", "digilog_bench", args.keep)
        )
        database_url = url.render_as_string(hide_password=False)
        cohort_id = await prepare_database(database_url, programme, users)
        fake = await stack.enter_async_context(FakeSlack())
        for n, user in enumerate(users, 1):
            fake.users[user] = {"real_name": f"Deltagare {n}", "locale": "sv-SE"}
        fake.users[FACILITATOR] = {"real_name": "Fia Facilitator", "locale": "sv-SE"}
        python = sys.executable
        digilog_port, bare_port = free_port(), free_port()
        digilog_env = child_env(
            fake, {"DIGILOG_DATABASE_URL": database_url, "DIGILOG_DATA_DIR": str(workdir)}
        )
        serve = digilog_command(python, digilog_port, args.profile)
        counts: Path | None
        serve, counts = counted_command(python, workdir, serve[serve.index("-m") + 1 :])
        if args.profile:  # cProfile runs the module itself: no statement count then
            serve, counts = digilog_command(python, digilog_port, args.profile), None
        digilog = await stack.enter_async_context(
            running(
                "digilog", serve, digilog_env, digilog_port, workdir, path=EVENTS, counts=counts
            )
        )
        for n in range(1, args.workers + 1):
            # `digilog worker`: the journal's Slack work on another core, as a deployment
            # on PostgreSQL runs it beside serve (Procfile).
            worker, worker_counts = counted_command(
                python, workdir, ["bot.launch", "worker"], f"sql_statements_worker_{n}"
            )
            await stack.enter_async_context(
                helping(digilog, f"digilog_worker_{n}", worker, digilog_env, workdir, worker_counts)
            )
        bare = await stack.enter_async_context(
            running(
                "bare bolt",
                [python, str(bare_script), str(bare_port)],
                child_env(fake, {}),
                bare_port,
                workdir,
                path=EVENTS,
                log_name="bare bolt.log",  # the name --keep has always left it under
            )
        )
        connector = aiohttp.TCPConnector(limit=args.concurrency)
        session = await stack.enter_async_context(aiohttp.ClientSession(connector=connector))
        bench = Bench(args, fake, session, bare, digilog, database_url, cohort_id, programme)
        await bench.warm_up()
        verdicts = [
            await bench.run_round(1, 1, digilog_first=False, cache="cache cold"),
            await bench.run_round(2, 2, digilog_first=True, cache="cache warm"),
        ]
        if args.duplicates:
            await bench.duplicates()
        total = await answer_count(database_url, cohort_id)
        print(f"all answers in the cohort: {total:,} (warm-up quiz included)")
        print("server logs:")
        print_server_logs([digilog, bare])
        print_summary(verdicts, bench.bare_rps, bench.failures, bench.held_p99)
    return 1 if bench.failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_in_workdir(run, parse_args(argv), "digilog-quiz-burst-", "the servers were stopped")


if __name__ == "__main__":
    sys.exit(main())
