"""Slack quiz burst: `digilog serve` against a bare bolt app that only acks, side by side.

Starts two servers on 127.0.0.1, each in its own process as in production:

- `python -m bot.cli serve` on a fresh SQLite file that already holds the example
  programme, one Slack cohort (250 participants U0001…U0250 from the four
  municipalities, a facilitator from Region Västerbotten) and open quizzes for
  themes 1–3;
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
import math
import os
import platform
import random
import re
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from handlers.admin import CohortSpec, create_cohort, import_roster, load_programme  # noqa: E402
from handlers.digilog import Digilog  # noqa: E402
from handlers.programme_file import Programme  # noqa: E402
from handlers.programme_file import load_programme as read_programme  # noqa: E402
from handlers.roster import RosterRow  # noqa: E402
from handlers.vocabulary import Actor, CommandReceived, Conversation  # noqa: E402
from storage.db import create_engine  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Person, QuizAnswer, Role, ThemeRun  # noqa: E402
from storage.unit import Store  # noqa: E402
from tests import slack_payloads as payloads  # noqa: E402
from tests.slack_fake import RESPONSE_URL, FakeSlack  # noqa: E402

PROGRAMME_FILE = ROOT / "examples" / "digital-kompetens.yaml"
SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"
TEAM = payloads.TEAM_ID
CHANNEL = "C_COHORT"
COHORT_KEY = "quiz-burst"
FACILITATOR = "U_FAC"
ORGANISATIONS = ("umea", "skelleftea", "ornskoldsvik", "pitea")
FACILITATOR_ORGANISATION = "region-vasterbotten"
WARMUP_THEME = 3  # the facilitator's warm-up clicks answer this quiz, never the timed ones
OPEN_QUIZZES = (1, 2, WARMUP_THEME)
WARMUP_REQUESTS = 24
TARGET_RPS_RATIO = 0.8  # digilog req/s ≥ 0.8 × bare bolt's
TARGET_P99_RATIO = 1.5  # digilog p99 ≤ 1.5 × bare bolt's
READY_TIMEOUT = 30.0
REPLY_TIMEOUT = 60.0

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
    client=AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]),
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


def quiz_clicks(
    programme: Programme, theme: int, users: Sequence[str], questions: int, rng: random.Random
) -> list[Click]:
    """Everyone answers question 0, then everyone question 1, …: how a class clicks."""
    quiz = programme.theme(theme).quiz  # type: ignore[union-attr]
    assert quiz is not None and len(quiz.questions) >= questions
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
        quiz = programme.theme(first.theme).quiz  # type: ignore[union-attr]
        assert quiz is not None
        options = len(quiz.questions[first.question].options)
        other = (first.option + 1 + rng.randrange(options - 1)) % options
        duplicates.append(Click(first.user, first.theme, first.question, other, f"dup-{i}"))
    return duplicates


def warmup_clicks(users: int) -> list[Click]:
    """The facilitator answers the warm-up quiz (new answers, then duplicates)."""
    return [
        Click(FACILITATOR, WARMUP_THEME, i % 4, 0, f"warmup-{i}") for i in range(users)
    ]


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
        rows = [RosterRow(1, "Fia Facilitator", None, FACILITATOR, FACILITATOR_ORGANISATION,
                          Role.facilitator)]
        rows += [
            RosterRow(i + 2, f"Deltagare {user}", None, user, ORGANISATIONS[i % 4], Role.participant)
            for i, user in enumerate(users)
        ]
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc), None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    name: str
    port: int
    process: asyncio.subprocess.Process
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    def cpu(self) -> float | None:
        return cpu_seconds(self.process.pid)

    def log_lines(self, pattern: str) -> list[str]:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [line for line in text.splitlines() if re.search(pattern, line)]


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


@contextlib.asynccontextmanager
async def running(
    name: str, args: Sequence[str], env: dict[str, str], port: int, workdir: Path
) -> AsyncIterator[Server]:
    """A server subprocess, ready for requests; stopped (SIGINT, then kill) on the way out."""
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *args, cwd=workdir, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT
        )
    server = Server(name, port, process, log)
    try:
        await wait_ready(server)
        yield server
    finally:
        await stop(process)


async def wait_ready(server: Server) -> None:
    health = f"http://127.0.0.1:{server.port}/healthz"
    deadline = time.monotonic() + READY_TIMEOUT
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if server.process.returncode is not None:
                break
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(health) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    tail = server.log.read_text(errors="replace")[-3000:] if server.log.exists() else ""
    raise RuntimeError(f"{server.name} did not become ready; its output:\n{tail}")


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGINT)  # aiohttp's run_app shuts down cleanly on it
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


# ------------------------------------------------------------------ the load


@dataclass
class Burst:
    """One burst at one server: per-request times to response and what they cost."""

    server: str
    label: str
    latencies: list[float]
    sent_at: list[float]
    elapsed: float
    statuses: Counter[str]
    server_cpu: float | None
    bench_cpu: float
    replies: list[float] = field(default_factory=list)  # response_url latencies (digilog)
    replies_done: float | None = None  # burst start to the last reply, seconds

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 99)

    @property
    def failures(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != "200")


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest rank: the smallest value with at least p % of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


async def fire(
    session: aiohttp.ClientSession,
    server: Server,
    requests: Sequence[payloads.SlackRequest],
    concurrency: int,
    label: str,
) -> Burst:
    """Send all requests, `concurrency` at a time; time each from send to full response."""
    signed = [(r.body.encode(), r.headers(SECRET)) for r in requests]  # fresh timestamps
    latencies = [0.0] * len(signed)
    sent_at = [0.0] * len(signed)
    statuses: Counter[str] = Counter()
    queue = iter(enumerate(signed))

    async def worker() -> None:
        for i, (body, headers) in queue:
            sent_at[i] = time.monotonic()
            try:
                async with session.post(server.url, data=body, headers=headers) as response:
                    await response.read()
                    statuses[str(response.status)] += 1
            except aiohttp.ClientError as error:
                statuses[type(error).__name__] += 1
            latencies[i] = time.monotonic() - sent_at[i]

    cpu_before, bench_before = server.cpu(), time.process_time()
    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    cpu_after = server.cpu()
    server_cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return Burst(
        server.name,
        label,
        latencies,
        sent_at,
        elapsed,
        statuses,
        server_cpu,
        time.process_time() - bench_before,
    )


async def wait_for_replies(
    fake: FakeSlack, clicks: Sequence[Click], timeout: float
) -> dict[str, float]:
    """reply name → arrival time of its first response_url post, once all came (or timeout)."""
    wanted = {c.reply_name for c in clicks}
    arrived: dict[str, float] = {}
    seen = 0
    deadline = time.monotonic() + timeout
    while True:
        for call in fake.calls[seen:]:
            name = call.method.removeprefix(RESPONSE_URL)
            if name in wanted and name not in arrived:
                arrived[name] = call.at
        seen = len(fake.calls)
        if len(arrived) == len(wanted) or time.monotonic() > deadline:
            return arrived
        await asyncio.sleep(0.05)


async def settle(fake: FakeSlack, quiet: float = 0.5) -> None:
    """Until the app has sent nothing new for `quiet` seconds: its work after the ack is done."""
    seen = -1
    while seen != len(fake.calls):
        seen = len(fake.calls)
        await asyncio.sleep(quiet)


async def add_replies(burst: Burst, fake: FakeSlack, clicks: Sequence[Click]) -> None:
    arrived = await wait_for_replies(fake, clicks, REPLY_TIMEOUT)
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
        f"{platform.system()} {platform.release()}; database: SQLite (fresh file); "
        f"load generator and fake Slack Web API in this process, each server in its own"
    )


def print_table(bursts: Sequence[Burst]) -> None:
    head = (
        f"  {'server':<10} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'max ms':>7} {'non-200':>7} {'srv CPU ms/req':>14} {'bench CPU ms/req':>16}"
    )
    print(head)
    for b in bursts:
        cpu = "n/a" if b.server_cpu is None else f"{1000 * b.server_cpu / b.requests:.2f}"
        print(
            f"  {b.server:<10} {b.requests:>8} {b.rps:>7.0f} {1000 * b.p50:>7.1f} "
            f"{1000 * b.p99:>7.1f} {1000 * max(b.latencies):>7.1f} {b.failures:>7} {cpu:>14} "
            f"{1000 * b.bench_cpu / b.requests:>16.2f}"
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


@dataclass(frozen=True)
class Verdict:
    rps_ratio: float
    p99_ratio: float

    @property
    def rps_met(self) -> bool:
        return self.rps_ratio >= TARGET_RPS_RATIO

    @property
    def p99_met(self) -> bool:
        return self.p99_ratio <= TARGET_P99_RATIO


def compare(bare: Burst, digilog: Burst) -> Verdict:
    verdict = Verdict(digilog.rps / bare.rps, digilog.p99 / bare.p99)
    print(
        f"  ratios digilog/bare: req/s {verdict.rps_ratio:.2f} "
        f"(target ≥ {TARGET_RPS_RATIO:.2f}: {met(verdict.rps_met)}), "
        f"p99 {verdict.p99_ratio:.2f} (target ≤ {TARGET_P99_RATIO:.2f}: {met(verdict.p99_met)})"
    )
    return verdict


def met(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def print_problems(what: str, problems: Sequence[str]) -> None:
    if problems:
        print(f"  {what}: FAILED")
        for problem in problems:
            print(f"    - {problem}")
    else:
        print(f"  {what}: OK")


def print_summary(verdicts: Sequence[Verdict], failures: int) -> None:
    rps = [v.rps_ratio for v in verdicts]
    p99 = [v.p99_ratio for v in verdicts]
    print("summary:")
    print(
        f"  req/s ratio per round: {', '.join(f'{r:.2f}' for r in rps)} — target ≥ "
        f"{TARGET_RPS_RATIO:.2f}: {met(all(v.rps_met for v in verdicts))} "
        f"(MET only if met in every round)"
    )
    print(
        f"  p99 ratio per round:   {', '.join(f'{r:.2f}' for r in p99)} — target ≤ "
        f"{TARGET_P99_RATIO:.2f}: {met(all(v.p99_met for v in verdicts))}"
    )
    print(f"  correctness: {'OK' if failures == 0 else f'{failures} check(s) FAILED'}")


def print_server_logs(servers: Sequence[Server]) -> None:
    for server in servers:
        lines = server.log_lines(r"ERROR|CRITICAL|Traceback|WARNING")
        if lines:
            print(f"  {server.name} logged {len(lines)} warning/error line(s), first ones:")
            for line in lines[:5]:
                print(f"    {line[:200]}")
        else:
            print(f"  {server.name} logged no warnings or errors")


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

    async def warm_up(self) -> None:
        clicks = warmup_clicks(WARMUP_REQUESTS)
        for server in (self.bare, self.digilog):
            requests = to_requests(clicks, self.cohort_id, self.fake)
            burst = await fire(self.session, server, requests, 8, "warm-up")
            if burst.failures:
                raise RuntimeError(f"warm-up at {server.name} failed: {dict(burst.statuses)}")
        arrived = await wait_for_replies(self.fake, clicks, REPLY_TIMEOUT)
        if len(arrived) != len(clicks):
            raise RuntimeError(f"warm-up: {len(arrived)}/{len(clicks)} digilog replies arrived")
        await settle(self.fake)

    async def burst(self, server: Server, clicks: Sequence[Click], label: str) -> Burst:
        requests = to_requests(clicks, self.cohort_id, self.fake)
        burst = await fire(self.session, server, requests, self.args.concurrency, label)
        if server is self.digilog:
            await add_replies(burst, self.fake, clicks)
        await settle(self.fake)
        return burst

    async def round(self, number: int, theme: int, digilog_first: bool, cache: str) -> Verdict:
        users = participant_ids(self.args.participants)
        rng = random.Random(self.args.seed + theme)
        clicks = quiz_clicks(self.programme, theme, users, self.args.questions, rng)
        order = (self.digilog, self.bare) if digilog_first else (self.bare, self.digilog)
        names = ", ".join(s.name for s in order)
        print(f"round {number}: theme {theme}'s quiz, order {names}; digilog's users.info {cache}")
        results = {s.name: await self.burst(s, clicks, f"round {number}") for s in order}
        bare, digilog = results[self.bare.name], results[self.digilog.name]
        print_table([bare, digilog])
        print_replies(digilog, len(clicks))
        recorded = await recorded_answers(self.database_url, self.cohort_id)
        problems = answer_problems(recorded, theme, clicks)
        self.failures += len(problems)
        print_problems(
            f"answers: {len(clicks):,} clicks → exactly {len(clicks):,} recorded for theme "
            f"{theme}, {self.args.questions} per participant, none twice, options as clicked",
            problems,
        )
        return compare(bare, digilog)

    async def duplicates(self) -> None:
        users = participant_ids(self.args.participants)
        sent = [
            click
            for theme in (1, 2)
            for click in quiz_clicks(
                self.programme,
                theme,
                users,
                self.args.questions,
                random.Random(self.args.seed + theme),
            )
        ]
        before = await recorded_answers(self.database_url, self.cohort_id)
        clicks = duplicate_clicks(self.programme, sent, self.args.duplicates, random.Random(0))
        print(f"duplicates: {len(clicks)} clicks on answered questions, other options, at digilog")
        burst = await self.burst(self.digilog, clicks, "duplicates")
        print_table([burst])
        print_replies(burst, len(clicks))
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
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (db, logs)")
    args = parser.parse_args(argv)
    if not 1 <= args.participants <= 9999 or not 1 <= args.questions <= 8:
        parser.error("--participants must be 1..9999 and --questions 1..8")
    return args


async def run(args: argparse.Namespace, workdir: Path) -> int:
    programme = read_programme(PROGRAMME_FILE)
    database_url = f"sqlite+aiosqlite:///{workdir / 'digilog.db'}"
    users = participant_ids(args.participants)
    cohort_id = await prepare_database(database_url, programme, users)
    bare_script = workdir / "bare_bolt.py"
    bare_script.write_text(BARE_BOLT)
    print_header(args)
    async with contextlib.AsyncExitStack() as stack:
        fake = await stack.enter_async_context(FakeSlack())
        for n, user in enumerate(users, 1):
            fake.users[user] = {"real_name": f"Deltagare {n}", "locale": "sv-SE"}
        fake.users[FACILITATOR] = {"real_name": "Fia Facilitator", "locale": "sv-SE"}
        python = sys.executable
        digilog_port, bare_port = free_port(), free_port()
        digilog_env = child_env(
            fake, {"DIGILOG_DATABASE_URL": database_url, "DIGILOG_DATA_DIR": str(workdir)}
        )
        serve = [python, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port"]
        digilog = await stack.enter_async_context(
            running("digilog", [*serve, str(digilog_port)], digilog_env, digilog_port, workdir)
        )
        bare = await stack.enter_async_context(
            running(
                "bare bolt",
                [python, str(bare_script), str(bare_port)],
                child_env(fake, {}),
                bare_port,
                workdir,
            )
        )
        connector = aiohttp.TCPConnector(limit=args.concurrency)
        session = await stack.enter_async_context(aiohttp.ClientSession(connector=connector))
        bench = Bench(args, fake, session, bare, digilog, database_url, cohort_id, programme)
        await bench.warm_up()
        verdicts = [
            await bench.round(1, 1, digilog_first=False, cache="cache cold"),
            await bench.round(2, 2, digilog_first=True, cache="cache warm"),
        ]
        if args.duplicates:
            await bench.duplicates()
        total = await answer_count(database_url, cohort_id)
        print(f"all answers in the cohort: {total:,} (warm-up quiz included)")
        print("server logs:")
        print_server_logs([digilog, bare])
        print_summary(verdicts, bench.failures)
    return 1 if bench.failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="digilog-quiz-burst-"))
    try:
        return asyncio.run(run(args, workdir))
    finally:
        if args.keep:
            print(f"kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
