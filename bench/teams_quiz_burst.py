"""Teams quiz burst: `digilog serve` against a bare Microsoft 365 Agents SDK app, side by side.

Starts two servers on 127.0.0.1, each in its own process as in production:

- `digilog serve` through `bot.launch` (bot.web.create_app with Settings from the environment),
  Teams only, on a scratch database that holds the example programme and one Teams
  cohort: 250 participants (29:bench-0001 …, from the four municipalities) and a
  facilitator from Region Västerbotten;
- a bare Agents SDK app set up as the SDK's quickstart does (aiohttp `CloudAdapter`,
  `jwt_authorization_middleware`, `start_agent_process`, an `AgentApplication` with
  MemoryStorage and MsalConnectionManager) whose one route only acknowledges an
  `adaptiveCard/action` invoke. No database.

Both write to a FakeConnector (tests/teams_fake.py) that this process runs. Setup
goes through Digilog's HTTP endpoint: the facilitator's `@Digilog theme start 1` and
`@Digilog quiz start 1` in the cohort's channel. Then, as in Teams, each participant
presses the answer buttons of theme 1's quiz on the question cards in their personal
chat with the bot: 1,000 `adaptiveCard/action` invokes (Action.Execute, verb and
data {"action_id": "quiz:<cohort>-1:<question>:<option>"} as Digilog renders them),
250 people × questions 0–3, 50 in flight. The identical burst goes to the bare app,
then to Digilog, then (once Digilog has finished its work) to the bare app again (its
two bursts show the noise).

Digilog answers an activity as soon as it has verified it and queued the work
(bot/work.py); the database and the reply card come after the answer. So each setup
step waits for its effect (polling, SETUP_TIMEOUT), and two things are reported:

(a) the answer path, side by side: p50/p99 time to HTTP response and requests/s of
    each burst (what Teams' 5 s limit for an invoke's answer is about), the ratios
    Digilog / bare against the targets (≥ 0.8 × the bare app's requests/s, p99 ≤
    1.5 × its p99; MET only if met against both bare bursts);
(b) completion, Digilog alone (the bare app does no work): from the burst's first
    request until all 1,000 QuizAnswer rows are recorded and 1,000 reply cards have
    reached the FakeConnector (each clicked message updated to the card the invoke
    answered: the answer and the next question), the answers/s that makes, and
    Digilog's CPU per answer over that time.

Then it checks the database: exactly 1,000 QuizAnswer rows, 4 per participant, each
with the option pressed, and one reply card per answer in the person's chat. If the
work is not complete after --timeout seconds, the run fails. Nothing asserts on time;
the exit status is 1 only when a correctness check fails (130 when interrupted).

Request authentication: both servers validate a signed JWT on every request, as in
production. Anonymous mode was not chosen because it is not how either runs for
real (Digilog allows it on loopback only, for the Agents Playground) and it would
leave out the RS256 signature check that every real Teams request costs. Both use
the SDK's own `JwtTokenValidator` (its shared, cached key set, fetched on a worker
thread) with the same configuration: audience = the app id, the issuer allow-list on
(Digilog turns it on; the bare app via VALIDATE_ISSUER), and the token's
`serviceurl` claim compared with the activity's. Each request carries its own token,
signed by this process (tests/teams_fake.py `Signer`) before the burst starts. In
each server process Microsoft's key-set fetch is answered with the Signer's key set
(`Signer.serving_keys()` does the same in the tests). Outbound, both get the bot's
own access token the production way, through MsalAuth (Digilog's `entra_token`, the
SDK's MsalConnectionManager): MSAL's HTTP client is given a stand-in for
login.microsoftonline.com's discovery document whose token endpoint is the
FakeConnector's, so MSAL fetches one token and then serves it from its cache, as it
does in production. Nothing but 127.0.0.1 is contacted.

    .venv/bin/python bench/teams_quiz_burst.py                         # SQLite, ~1.5 min
    .venv/bin/python bench/teams_quiz_burst.py --participants 25       # quick smoke run
    .venv/bin/python bench/teams_quiz_burst.py \\
        --database postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import random
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    free_port,
    met,
    print_problems,
    print_table,
    run_in_workdir,
    running,
    scratch_database,
)
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.engine import URL  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from handlers.admin import CohortSpec, create_cohort, import_roster, load_programme  # noqa: E402
from handlers.core.programme_file import Programme, Quiz  # noqa: E402
from handlers.core.programme_file import load_programme as read_programme  # noqa: E402
from storage.db import create_engine, normalise_url  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Person, QuizAnswer, ThemeRun  # noqa: E402
from storage.unit import Store  # noqa: E402
from tests.teams_fake import Call, FakeConnector, Signer  # noqa: E402

PROGRAMME_FILE = ROOT / "examples" / "digital-kompetens.yaml"
APP_ID = "00000000-0000-4000-8000-0000000000b1"
APP_PASSWORD = "bench-app-secret"
TENANT = "00000000-0000-4000-8000-00000000007e"
BOT = f"28:{APP_ID}"
CHANNEL = "19:quiz-burst@thread.tacv2"
MESSAGES = "/api/messages"  # where both servers take Teams' activities
TEAM_ID = "19:bench-team@thread.tacv2"
COHORT_KEY = "quiz-burst"
THEME = 1
FACILITATOR = "29:bench-fia"
CARD = "application/vnd.microsoft.card.adaptive"
WARMUP_REQUESTS = 24
TARGET_RPS_RATIO = 0.8  # digilog req/s ≥ 0.8 × the bare app's
TARGET_P99_RATIO = 1.5  # digilog p99 ≤ 1.5 × the bare app's
SETUP_TIMEOUT = 30.0  # for each setup step's effect (the work comes after the answer)
COMPLETION_TIMEOUT = 120.0  # default --timeout: the burst's work done, or the run fails
POLL = 0.05  # seconds between looks at the database and the FakeConnector
TOKEN_LIFETIME = 3600.0

# Loaded first by both server processes: Microsoft's two addresses answered on the spot.
BENCH_SITE = '''\
"""What crosses to Microsoft, faked at the edge of this process (both servers load it).

- The key set that inbound tokens are checked against: the bench's test key set
  (tests/teams_fake.py Signer.serving_keys does the same in the tests).
- MSAL's calls to login.microsoftonline.com: the tenant's discovery document names the
  bench's FakeConnector as the token endpoint, so MSAL gets the bot's access token
  there once and keeps it in its cache, as it does in production. Any other address
  is refused.
"""
import json
import os

import jwt
import requests

JWKS = json.loads(open(os.environ["BENCH_JWKS_FILE"], encoding="utf-8").read())
TOKEN_URL = os.environ["BENCH_TOKEN_URL"]


def _fetch_data(client):
    return JWKS


class _Login(requests.Session):
    """login.microsoftonline.com as MSAL sees it: the tenant's discovery document here,
    its token endpoint forwarded to the FakeConnector's."""

    def request(self, method, url, *args, **kwargs):
        parts = url.split("?")[0].split("/")
        if url.startswith("https://login.microsoftonline.com/") and len(parts) > 4:
            base = "/".join(parts[:4])
            if method == "POST" and url.split("?")[0] == base + "/oauth2/v2.0/token":
                return super().request(method, TOKEN_URL, *args, **kwargs)
            if method == "GET" and url.split("?")[0].endswith("/.well-known/openid-configuration"):
                document = {
                    "token_endpoint": base + "/oauth2/v2.0/token",
                    "authorization_endpoint": base + "/oauth2/v2.0/authorize",
                    "issuer": base + "/v2.0",
                }
                response = requests.Response()
                response.status_code = 200
                response._content = json.dumps(document).encode()
                response.headers["Content-Type"] = "application/json"
                response.url = url
                return response
        raise RuntimeError(f"bench: refused to contact {url}")


def install():
    jwt.PyJWKClient.fetch_data = _fetch_data
    from microsoft_agents.authentication.msal import msal_auth

    class ConfidentialClientApplication(msal_auth.ConfidentialClientApplication):
        def __init__(self, *args, **kwargs):
            kwargs.setdefault("http_client", _Login())
            super().__init__(*args, **kwargs)

    msal_auth.ConfidentialClientApplication = ConfidentialClientApplication
'''

DIGILOG_SERVE = '''\
"""`digilog serve` with the bench's stand-ins for Microsoft's addresses."""
import sys

from bot import launch

launch.pause_collector()  # as `digilog` (bot.launch) starts

import bench_site  # noqa: E402

bench_site.install()

from bot.cli import main  # noqa: E402

main(["serve", "--host", "127.0.0.1", "--port", sys.argv[1]])
'''

BARE_AGENT = '''\
"""A bare Agents SDK app (the SDK's quickstart setup) whose one route acks an invoke."""
import logging
import re
import sys
from os import environ

import bench_site

bench_site.install()

from aiohttp.web import Application, Request, Response, run_app  # noqa: E402
from microsoft_agents.activity import AdaptiveCardInvokeResponse, load_configuration_from_env
from microsoft_agents.authentication.msal import MsalConnectionManager  # noqa: E402
from microsoft_agents.hosting.aiohttp import (  # noqa: E402
    CloudAdapter,
    jwt_authorization_middleware,
    start_agent_process,
)
from microsoft_agents.hosting.core import (  # noqa: E402
    AgentApplication,
    Authorization,
    MemoryStorage,
    TurnContext,
    TurnState,
)

logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
agents_sdk_config = load_configuration_from_env(environ)
STORAGE = MemoryStorage()
CONNECTION_MANAGER = MsalConnectionManager(**agents_sdk_config)
ADAPTER = CloudAdapter(connection_manager=CONNECTION_MANAGER)
AUTHORIZATION = Authorization(STORAGE, CONNECTION_MANAGER, **agents_sdk_config)
AGENT_APP = AgentApplication[TurnState](
    storage=STORAGE, adapter=ADAPTER, authorization=AUTHORIZATION, **agents_sdk_config
)


@AGENT_APP.adaptive_card.action_execute(re.compile(".*"))
async def only_ack(context: TurnContext, state: TurnState, data):
    return AdaptiveCardInvokeResponse(
        status_code=200, type="application/vnd.microsoft.activity.message", value=""
    )


async def entry_point(request: Request) -> Response:
    return await start_agent_process(request, request.app["agent_app"], request.app["adapter"])


APP = Application(middlewares=[jwt_authorization_middleware])
APP.router.add_post("/api/messages", entry_point)
APP["agent_configuration"] = CONNECTION_MANAGER.get_default_connection_configuration()
APP["agent_app"] = AGENT_APP
APP["adapter"] = AGENT_APP.adapter
run_app(APP, host="127.0.0.1", port=int(sys.argv[1]), print=None)
'''


# ------------------------------------------------------------------ the clicks


@dataclass(frozen=True)
class Click:
    """One press of a button on a card: who, which question, which option (None: begin)."""

    user: str
    question: int | None
    option: int | None

    def action_id(self, cohort_id: int) -> str:
        quiz = f"quiz:{cohort_id}-{THEME}"
        return f"{quiz}:begin" if self.question is None else f"{quiz}:{self.question}:{self.option}"


def participant_ids(count: int) -> list[str]:
    return [f"29:bench-{n:04d}" for n in range(1, count + 1)]


def display_name(user: str) -> str:
    """The name in the roster, and the one Teams sends (so no click renames anyone)."""
    if user == FACILITATOR:
        return "Fia Facilitator"
    return f"Deltagare {int(user.rpartition('-')[2])}"


def quiz_of(programme: Programme) -> Quiz:
    found = programme.theme(THEME)
    if found is None or found.quiz is None:
        raise RuntimeError(f"the example programme has no quiz in theme {THEME}")
    return found.quiz


def answer_clicks(
    programme: Programme, users: Sequence[str], questions: int, rng: random.Random
) -> list[Click]:
    """Everyone answers question 0, then everyone question 1, …: a person's next answer
    comes long after the reply to their last, as it does when people read the card."""
    quiz = quiz_of(programme)
    if len(quiz.questions) < questions:
        raise RuntimeError(f"theme {THEME}'s quiz has only {len(quiz.questions)} questions")
    return [
        Click(user, q, rng.randrange(len(quiz.questions[q].options)))
        for q in range(questions)
        for user in users
    ]


_ids = itertools.count(1)


def activity(
    user: str,
    service_url: str,
    *,
    personal: bool,
    kind: str = "message",
    text: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An activity as Teams sends it: in the cohort's channel or in the person's chat."""
    conversation: dict[str, Any] = (
        {"id": f"a:{user}", "conversationType": "personal", "tenantId": TENANT}
        if personal
        else {
            "id": CHANNEL,
            "conversationType": "channel",
            "isGroup": True,
            "tenantId": TENANT,
        }
    )
    channel_data: dict[str, Any] = {"tenant": {"id": TENANT}}
    if not personal:
        channel_data |= {"team": {"id": TEAM_ID}, "channel": {"id": CHANNEL}}
    body: dict[str, Any] = {
        "type": kind,
        "id": f"f:{next(_ids)}",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": {"id": user, "name": display_name(user), "aadObjectId": f"aad-{user}"},
        "recipient": {"id": BOT, "name": "Digilog"},
        "conversation": conversation,
        "locale": "en-GB",
        "channelData": channel_data,
        **extra,
    }
    if text is not None:
        body["text"] = f"<at>Digilog</at> {text}"
        body["entities"] = [
            {
                "type": "mention",
                "mentioned": {"id": BOT, "name": "Digilog"},
                "text": "<at>Digilog</at>",
            }
        ]
    return body


def invoke(click: Click, cohort_id: int, verb: str, service_url: str) -> dict[str, Any]:
    """An Action.Execute: `begin` on the channel's quiz card, an answer in the personal chat."""
    data = {"action_id": click.action_id(cohort_id)}
    return activity(
        click.user,
        service_url,
        personal=click.question is not None,
        kind="invoke",
        name="adaptiveCard/action",
        value={
            "action": {"type": "Action.Execute", "verb": verb, "data": data},
            "trigger": "manual",
        },
        replyToId=f"card-{click.user}-{click.question}",
    )


# ------------------------------------------------------------------ the database


async def prepare_database(url: URL, programme: Programme, users: Sequence[str]) -> int:
    """Migrate, load the programme, create the Teams cohort and enrol everyone."""
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
                platform="teams",
                workspace=TENANT,
                conversation_id=CHANNEL,
                language="en",
            ),
        )
        rows = bench_roster(FACILITATOR, display_name(FACILITATOR), users, display_name)
        await import_roster(store, COHORT_KEY, rows, skip_bad=False)
        return cohort.id
    finally:
        await engine.dispose()


async def query(engine: AsyncEngine, statement: Any) -> list[Any]:
    async with engine.connect() as connection:
        return list((await connection.execute(statement)).all())


async def theme_started(engine: AsyncEngine, cohort_id: int) -> bool:
    rows = await query(
        engine,
        select(ThemeRun.id).where(ThemeRun.cohort_id == cohort_id, ThemeRun.theme_number == THEME),
    )
    return len(rows) == 1


async def quiz_open(engine: AsyncEngine, cohort_id: int) -> bool:
    rows = await query(
        engine,
        select(ThemeRun.quiz_opened_at, ThemeRun.quiz_closed_at).where(
            ThemeRun.cohort_id == cohort_id, ThemeRun.theme_number == THEME
        ),
    )
    return len(rows) == 1 and rows[0][0] is not None and rows[0][1] is None


async def recorded_answers(engine: AsyncEngine) -> list[tuple[str, int, int, int]]:
    """(user id, theme, question, option) of every QuizAnswer row in the database."""
    rows = await query(
        engine,
        select(
            Person.user_id,
            QuizAnswer.theme_number,
            QuizAnswer.question_index,
            QuizAnswer.option_index,
        ).join(Person, Person.id == QuizAnswer.person_id),
    )
    return [(str(u), t, q, o) for u, t, q, o in rows]


async def answer_rows(engine: AsyncEngine) -> int:
    [(count,)] = await query(engine, select(func.count()).select_from(QuizAnswer))
    return int(count)


async def last_answer_at(engine: AsyncEngine) -> float | None:
    """When the last QuizAnswer row was written (the server's clock: time.time())."""
    [(last,)] = await query(engine, select(func.max(QuizAnswer.answered_at)))
    return None if last is None else float(last.timestamp())


def answer_problems(
    recorded: Sequence[tuple[str, int, int, int]], expected: Sequence[Click]
) -> list[str]:
    """What is wrong with the stored answers; empty when all is well."""
    problems = []
    if len(recorded) != len(expected):
        problems.append(f"{len(recorded)} QuizAnswer rows, expected exactly {len(expected)}")
    twice = [key for key, n in Counter((u, t, q) for u, t, q, _ in recorded).items() if n > 1]
    if twice:
        problems.append(f"{len(twice)} (person, question) pairs recorded twice, e.g. {twice[0]}")
    stored = {(u, q): o for u, t, q, o in recorded if t == THEME}
    missing = [c for c in expected if (c.user, c.question) not in stored]
    wrong = [c for c in expected if stored.get((c.user, c.question), c.option) != c.option]
    if missing:
        problems.append(f"{len(missing)} answers pressed but not recorded, e.g. {missing[0]}")
    if wrong:
        problems.append(f"{len(wrong)} answers hold another option than pressed, e.g. {wrong[0]}")
    return problems


class TimedCalls(list[Call]):
    """The FakeConnector's call list, remembering when (time.monotonic()) each came."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, call: Call) -> None:
        self.times.append(time.monotonic())
        super().append(call)


def is_card(call: Call) -> bool:
    """A click's reply card: the message clicked, updated to the card the invoke answered
    (the answer and the next question), so that it stays so after a reload."""
    return (
        call.method == "PUT"
        and "/activities/" in call.path
        and any(a.get("contentType") == CARD for a in call.body.get("attachments", []))
    )


async def until(what: str, check: Callable[[], Awaitable[bool]], limit: float) -> None:
    """Poll `check` until it holds; after `limit` seconds, fail saying what did not happen."""
    deadline = time.monotonic() + limit
    while not await check():
        if time.monotonic() >= deadline:
            raise RuntimeError(f"{what}: not after {limit:.0f} s")
        await asyncio.sleep(POLL)


# ------------------------------------------------------------------ the servers


def child_env(connector: FakeConnector, workdir: Path, extra: dict[str, str]) -> dict[str, str]:
    """Our environment without any Digilog, Slack, Teams or Agents SDK setting of the
    caller's, plus ours."""
    prefixes = ("DIGILOG_", "SLACK_", "TEAMS_", "CONNECTIONS", "AGENTAPPLICATION", "BENCH_")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(prefixes)}
    env.pop("PORT", None)
    env.update(
        PYTHONPATH=os.pathsep.join([str(workdir), str(ROOT)]),
        BENCH_JWKS_FILE=str(workdir / "jwks.json"),
        BENCH_TOKEN_URL=connector.token_url,
    )
    env.update(extra)
    return env


def digilog_env(connector: FakeConnector, workdir: Path, url: URL) -> dict[str, str]:
    return child_env(
        connector,
        workdir,
        {
            "TEAMS_APP_ID": APP_ID,
            "TEAMS_APP_PASSWORD": APP_PASSWORD,
            "TEAMS_TENANT_ID": TENANT,
            "DIGILOG_DATABASE_URL": url.render_as_string(hide_password=False),
            "DIGILOG_DATA_DIR": str(workdir),
            "DIGILOG_HOST": "127.0.0.1",
            "DIGILOG_LOG_LEVEL": "WARNING",
        },
    )


def bare_env(connector: FakeConnector, workdir: Path) -> dict[str, str]:
    settings = "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__"
    return child_env(
        connector,
        workdir,
        {
            settings + "CLIENTID": APP_ID,
            settings + "CLIENTSECRET": APP_PASSWORD,
            settings + "TENANTID": TENANT,
            settings + "VALIDATE_ISSUER": "true",  # as Digilog's auth_configuration does
        },
    )


# ------------------------------------------------------------------ the load


@dataclass
class Burst(BurstFigures):
    """One burst at one server: per-request times to response and what they cost."""

    server: str
    latencies: list[float]
    elapsed: float
    statuses: Counter[str]
    server_cpu: float | None
    bench_cpu: float
    bodies: Counter[str] = field(default_factory=Counter)
    started: float = 0.0  # time.monotonic() at the first request
    started_wall: float = 0.0  # time.time() then
    cpu_before: float | None = None  # the server's CPU seconds then


@dataclass
class Load:
    """Signs and sends activities; the token and key set stand in for Microsoft's."""

    session: aiohttp.ClientSession
    signer: Signer
    service_url: str

    def signed(self, bodies: Sequence[dict[str, Any]]) -> list[tuple[bytes, dict[str, str]]]:
        """Each activity with its own token, made now (before any timing)."""
        return [
            (
                json.dumps(body).encode(),
                {
                    "Authorization": "Bearer "
                    + self.signer.token(
                        audience=APP_ID, service_url=self.service_url, lifetime=TOKEN_LIFETIME
                    ),
                    "Content-Type": "application/json; charset=utf-8",
                },
            )
            for body in bodies
        ]

    async def send(self, server: Server, body: dict[str, Any]) -> int:
        [(data, headers)] = self.signed([body])
        async with self.session.post(server.url, data=data, headers=headers) as response:
            await response.read()
            return response.status

    async def fire(
        self, server: Server, bodies: Sequence[dict[str, Any]], concurrency: int
    ) -> Burst:
        """Send all, `concurrency` at a time; time each from send to full response."""
        signed = self.signed(bodies)
        latencies = [0.0] * len(signed)
        statuses: Counter[str] = Counter()
        answers: Counter[str] = Counter()
        queue = iter(enumerate(signed))

        async def worker() -> None:
            for i, (data, headers) in queue:
                began = time.monotonic()
                try:
                    async with self.session.post(server.url, data=data, headers=headers) as reply:
                        answers[(await reply.read()).decode(errors="replace")[:120]] += 1
                        statuses[str(reply.status)] += 1
                except aiohttp.ClientError as error:
                    statuses[type(error).__name__] += 1
                latencies[i] = time.monotonic() - began

        cpu_before, bench_before = server.cpu(), time.process_time()
        started_wall, started = time.time(), time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.monotonic() - started
        cpu_after = server.cpu()
        server_cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
        return Burst(
            server.name,
            latencies,
            elapsed,
            statuses,
            server_cpu,
            time.process_time() - bench_before,
            answers,
            started,
            started_wall,
            cpu_before,
        )


# ------------------------------------------------------------------ the report


def machine(database: str | None) -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if database is None:
        import sqlite3

        where = f"SQLite {sqlite3.sqlite_version} (a fresh file)"
    else:
        server = normalise_url(database).set(database=None)
        where = f"a scratch database on {server.render_as_string(hide_password=True)}"
    return (
        f"{platform.system()} {platform.machine()}, nproc={cpus}, Python "
        f"{platform.python_version()}; database: {where}"
    )


def code_version() -> str:
    """The commit measured, and whether the work tree differs from it (others may be editing)."""
    import subprocess

    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "not a git work tree"
    return f"commit {commit}" + (
        f" with uncommitted changes to {len(changed)} file(s)" if changed else ", clean"
    )


def print_verdict(digilog: Burst, bares: Sequence[Burst]) -> None:
    """Digilog against each bare burst; a target is MET only if met against both."""
    rps = [digilog.rps / b.rps for b in bares]
    p99 = [digilog.p99 / b.p99 for b in bares]
    needed_rps = " / ".join(f"{TARGET_RPS_RATIO * b.rps:.0f}" for b in bares)
    needed_p99 = " / ".join(f"{1000 * TARGET_P99_RATIO * b.p99:.0f}" for b in bares)
    print(f"digilog / bare SDK, against {' and '.join(b.server for b in bares)}:")
    print(
        f"  req/s ratio {', '.join(f'{r:.2f}' for r in rps)}   target ≥ {TARGET_RPS_RATIO:.2f} "
        f"(≥ {needed_rps} req/s; digilog {digilog.rps:.0f}): "
        f"{met(all(r >= TARGET_RPS_RATIO for r in rps))}"
    )
    print(
        f"  p99 ratio   {', '.join(f'{r:.2f}' for r in p99)}   target ≤ {TARGET_P99_RATIO:.2f} "
        f"(≤ {needed_p99} ms; digilog {1000 * digilog.p99:.0f}): "
        f"{met(all(r <= TARGET_P99_RATIO for r in p99))}"
    )
    if len(bares) > 1:
        rates = sorted(b.rps for b in bares)
        print(
            f"  noise: the bare app's identical bursts ran at "
            f"{', '.join(f'{b.rps:.0f}' for b in bares)} req/s "
            f"({100 * (rates[-1] - rates[0]) / rates[-1]:.0f} % apart)"
        )


def print_server_logs(servers: Sequence[Server]) -> None:
    """Each distinct warning/error a server logged, with how often."""
    for server in servers:
        found = Counter(
            line[:160] for line in server.log_lines(r"^(WARNING|ERROR|CRITICAL)|Traceback")
        )
        if not found:
            print(f"  {server.name}: no warnings or errors")
            continue
        print(f"  {server.name}: {sum(found.values())} warning/error line(s):")
        for line, n in sorted(found.items(), key=lambda item: -item[1])[:8]:
            print(f"    {n:>4} × {line}")


# ------------------------------------------------------------------ the run


def reply_problems(
    during: Sequence[Call], bare_calls: int, users: Sequence[str], questions: int
) -> list[str]:
    """Digilog's replies during its burst: one card per answer, the message clicked in
    the person's own chat, and no other message; and nothing sent to the FakeConnector
    during the bare app's bursts."""
    posts = [c for c in during if is_card(c)]
    others = [c for c in during if c.method == "POST" and c.path.endswith("/activities")]
    opened = [c for c in during if c.path == "/v3/conversations"]
    per_chat = Counter(c.conversation_id for c in posts)
    problems = []
    if len(posts) != len(users) * questions or others:
        problems.append(
            f"{len(posts)} reply cards and {len(others)} other messages for "
            f"{len(users) * questions} answers"
        )
    if set(per_chat) != {f"a:{u}" for u in users} or set(per_chat.values()) != {questions}:
        problems.append(f"chats by replies received: {dict(Counter(per_chat.values()))}")
    if bare_calls:
        problems.append(f"{bare_calls} FakeConnector calls during the bare app's bursts")
    print_problems(
        f"digilog's replies: {len(posts):,} cards, {questions} in each person's chat "
        f"(personal chats opened during the burst: {len(opened)})",
        problems,
    )
    return problems


def find_action(card: dict[str, Any], needle: str) -> dict[str, Any] | None:
    """The first Action.Execute in a card whose action id contains `needle`."""
    if isinstance(card, dict):
        if card.get("type") == "Action.Execute" and needle in str(
            (card.get("data") or {}).get("action_id", "")
        ):
            return card
        children: Any = card.values()
    elif isinstance(card, list):
        children = card
    else:
        return None
    for child in children:
        if isinstance(child, dict | list) and (found := find_action(child, needle)):
            return found
    return None


async def open_quiz(
    load: Load, digilog: Server, connector: FakeConnector, engine: AsyncEngine, cohort_id: int
) -> dict[str, Any]:
    """The facilitator's commands in the channel, each followed by its effect (Digilog
    answers first and does the work after); the quiz card's `begin` button."""

    def begin_button() -> dict[str, Any] | None:
        cards = reversed(connector.cards(CHANNEL))
        return next((found for card in cards if (found := find_action(card, ":begin"))), None)

    async def command(text: str) -> None:
        body = activity(FACILITATOR, load.service_url, personal=False, text=text)
        status = await load.send(digilog, body)
        if status != 200:
            raise RuntimeError(f"setup: `@Digilog {text}` answered {status}")

    posted = len(connector.cards(CHANNEL))
    await command(f"theme start {THEME}")
    await until(
        f"setup: theme {THEME} did not start (no theme run in the database)",
        lambda: theme_started(engine, cohort_id),
        SETUP_TIMEOUT,
    )

    async def theme_posted() -> bool:
        return len(connector.cards(CHANNEL)) > posted

    await until(f"setup: no theme {THEME} card in the channel", theme_posted, SETUP_TIMEOUT)
    await command(f"quiz start {THEME}")
    await until(
        f"setup: the quiz of theme {THEME} did not open (in the database)",
        lambda: quiz_open(engine, cohort_id),
        SETUP_TIMEOUT,
    )

    async def card_posted() -> bool:
        return begin_button() is not None

    await until(
        "setup: no quiz card with a `begin` button in the channel", card_posted, SETUP_TIMEOUT
    )
    begin = begin_button()
    assert begin is not None
    return begin


async def warm_up(
    load: Load,
    servers: Sequence[Server],
    connector: FakeConnector,
    cohort_id: int,
    verb: str,
    users: Sequence[str],
) -> None:
    """Participants press "Take the quiz" in the channel (not counted, records nothing):
    each gets question 1 in a personal chat the bot opens. Waits until every one of them
    has it (the work comes after the answer), and so checks the answer buttons' data is
    what the timed burst sends."""
    clicks = [Click(u, None, None) for u in users[:WARMUP_REQUESTS]]
    for server in servers:
        bodies = [invoke(c, cohort_id, verb, load.service_url) for c in clicks]
        burst = await load.fire(server, bodies, 8)
        if burst.failures:
            raise RuntimeError(f"warm-up at {server.name}: {dict(burst.statuses)}")

    def waiting() -> list[str]:
        """Who has no question card with the answer buttons the burst will press."""
        return [
            c.user
            for c in clicks
            if not any(
                find_action(card, Click(c.user, 0, 0).action_id(cohort_id))
                for card in connector.cards(f"a:{c.user}")
            )
        ]

    async def all_got_question_1() -> bool:
        return not waiting()

    try:
        await until("warm-up", all_got_question_1, SETUP_TIMEOUT)
    except RuntimeError as error:
        left = waiting()
        raise RuntimeError(
            f"{error}: {len(left)} of {len(clicks)} got no question card with "
            f"{Click(left[0], 0, 0).action_id(cohort_id)}, e.g. {left[0]}"
        ) from None


@dataclass
class Completion:
    """Digilog's work for one burst: when it was done, and what it cost."""

    answers: int  # QuizAnswer rows when the wait ended
    cards: int  # reply cards received since the burst began
    rows_at: float | None  # the last row's answered_at, seconds after the first request
    cards_at: float | None  # when the last expected card arrived, likewise
    server_cpu: float | None  # CPU seconds from the first request to completion
    expected: int

    @property
    def complete(self) -> bool:
        return self.answers >= self.expected and self.cards >= self.expected

    @property
    def seconds(self) -> float | None:
        if not self.complete or self.rows_at is None or self.cards_at is None:
            return None
        return max(self.rows_at, self.cards_at)


async def wait_done(
    engine: AsyncEngine,
    calls: TimedCalls,
    mark: int,
    burst: Burst,
    server: Server,
    expected: int,
    limit: float,
) -> Completion:
    """Until `expected` QuizAnswer rows are recorded and `expected` reply cards have come
    (counted from `mark` in the FakeConnector's calls), or `limit` s after the burst's
    first request. The times are the last row's answered_at and the last card's arrival,
    not when this poll saw them."""
    deadline = burst.started + limit
    while True:
        card_times = [
            t for c, t in zip(calls[mark:], calls.times[mark:], strict=True) if is_card(c)
        ]
        rows = await answer_rows(engine)
        if (rows >= expected and len(card_times) >= expected) or time.monotonic() >= deadline:
            break
        await asyncio.sleep(POLL)
    cpu_after = server.cpu()
    last_row = await last_answer_at(engine)
    return Completion(
        answers=rows,
        cards=len(card_times),
        rows_at=None if last_row is None else last_row - burst.started_wall,
        cards_at=card_times[expected - 1] - burst.started if len(card_times) >= expected else None,
        server_cpu=None
        if cpu_after is None or burst.cpu_before is None
        else cpu_after - burst.cpu_before,
        expected=expected,
    )


TARGET_END_TO_END_RATIO = 0.3  # answers/s to completion ≥ 0.3 × the bare app's req/s


def print_completion(
    done: Completion, burst: Burst, timeout: float, bare: Sequence[Burst] = ()
) -> list[str]:
    """(b): Digilog's figure alone; the bare app does no work to complete."""
    print(
        f"(b) completion, digilog alone (the bare app does no work): from the burst's first "
        f"request until all {done.expected:,} answers are recorded and {done.expected:,} "
        "reply cards have reached the FakeConnector"
    )
    cpu = (
        "n/a"
        if done.server_cpu is None
        else f"{1000 * done.server_cpu / done.expected:.1f} ms per answer"
    )
    if done.seconds is None:
        print(
            f"  NOT COMPLETE after {timeout:g} s: {done.answers:,} rows, {done.cards:,} "
            f"cards (expected {done.expected:,} of each); digilog CPU so far {cpu}"
        )
        return [
            f"the burst's work was not done within {timeout:g} s: {done.answers:,} "
            f"QuizAnswer rows, {done.cards:,} reply cards"
        ]
    assert done.rows_at is not None and done.cards_at is not None
    print(
        f"  {done.seconds:.2f} s (last row {done.rows_at:.2f} s, last card "
        f"{done.cards_at:.2f} s; the HTTP answers took {burst.elapsed:.2f} s): "
        f"{done.expected / done.seconds:.0f} answers/s; digilog CPU {cpu} "
        "(answer and work, first request to completion)"
    )
    if bare:
        ratios = [done.expected / done.seconds / b.rps for b in bare]
        print(
            f"  answers/s ÷ the bare app's req/s: {', '.join(f'{r:.2f}' for r in ratios)} "
            f"(target ≥ {TARGET_END_TO_END_RATIO:.1f}: "
            f"{met(all(r >= TARGET_END_TO_END_RATIO for r in ratios))})"
        )
    return []


async def run(args: argparse.Namespace, workdir: Path) -> int:
    cancel_on_sigterm()
    programme = read_programme(PROGRAMME_FILE)
    users = participant_ids(args.participants)
    clicks = answer_clicks(programme, users, args.questions, random.Random(args.seed))
    print(
        f"Teams quiz burst: {args.participants} participants × {args.questions} answers = "
        f"{len(clicks):,} signed adaptiveCard/action invokes per burst, "
        f"{args.concurrency} in flight"
    )
    print(f"machine: {machine(args.database)}")
    print(f"code: {code_version()}")
    print(
        "load generator and FakeConnector in this process; each server in its own; every "
        "request carries its own RS256 token, validated by both"
    )
    signer = Signer()
    (workdir / "jwks.json").write_text(json.dumps(signer.jwks()))
    (workdir / "bench_site.py").write_text(BENCH_SITE)
    (workdir / "digilog_serve.py").write_text(DIGILOG_SERVE)
    (workdir / "bare_agent.py").write_text(BARE_AGENT)
    failures: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        url = await stack.enter_async_context(
            scratch_database(args.database, workdir / "digilog.db", "digilog_bench", args.keep)
        )
        began = time.monotonic()
        cohort_id = await prepare_database(url, programme, users)
        engine = create_engine(url)  # the bench's looks at the database
        stack.push_async_callback(engine.dispose)
        calls = TimedCalls()
        connector = await stack.enter_async_context(
            FakeConnector(APP_ID, APP_PASSWORD, calls=calls).running()
        )
        python = sys.executable
        profiler = ["-m", "cProfile", "-o", str(args.profile.resolve())] if args.profile else []
        digilog_port, bare_port = free_port(), free_port()
        digilog = await stack.enter_async_context(
            running(
                "digilog",
                [python, *profiler, str(workdir / "digilog_serve.py"), str(digilog_port)],
                digilog_env(connector, workdir, url),
                digilog_port,
                workdir,
                path=MESSAGES,
            )
        )
        bare = await stack.enter_async_context(
            running(
                "bare SDK",
                [python, str(workdir / "bare_agent.py"), str(bare_port)],
                bare_env(connector, workdir),
                bare_port,
                workdir,
                path=MESSAGES,
                health=None,  # the quickstart app has no health route
            )
        )
        http = aiohttp.TCPConnector(limit=args.concurrency)
        session = await stack.enter_async_context(aiohttp.ClientSession(connector=http))
        load = Load(session, signer, connector.service_url)
        begin = await open_quiz(load, digilog, connector, engine, cohort_id)
        verb = str(begin.get("verb") or "")
        print(
            f"setup: {len(users) + 1} people enrolled; `@Digilog theme start {THEME}` and "
            f"`@Digilog quiz start {THEME}` sent to digilog: quiz open in the database, its "
            f"card in the channel ({time.monotonic() - began:.1f} s)"
        )
        await warm_up(load, (bare, digilog), connector, cohort_id, verb, users)
        print(
            f"warm-up: {WARMUP_REQUESTS} “Take the quiz” presses in the channel to each "
            "server, not counted (digilog opened each a personal chat and sent question 1: "
            "all received)"
        )
        if await answer_rows(engine):
            failures.append("answers were recorded before the burst")

        bodies = [invoke(c, cohort_id, verb, load.service_url) for c in clicks]
        mark = len(calls)
        with collector_paused():
            bare_first = await load.fire(bare, bodies, args.concurrency)
        bare_first.server = "bare SDK (1)"
        bare_calls = len(calls) - mark
        mark = len(calls)
        with collector_paused():  # until the work is done: that time is measured too
            digilog_burst = await load.fire(digilog, bodies, args.concurrency)
            # Its work goes on after the answers: wait for it before the next burst.
            done = await wait_done(
                engine, calls, mark, digilog_burst, digilog, len(clicks), args.timeout
            )
        during = calls[mark:]
        mark = len(calls)
        with collector_paused():
            bare_second = await load.fire(bare, bodies, args.concurrency)
        bare_second.server = "bare SDK (2)"
        bare_calls += len(calls) - mark
        bursts = [bare_first, digilog_burst, bare_second]
        print(
            f"(a) the answer path: bursts, in this order (the same {len(bodies):,} "
            "activities, new tokens; the second bare burst after digilog's work was done):"
        )
        print_table(bursts, server_width=12)
        print_verdict(digilog_burst, [bare_first, bare_second])
        failures += print_completion(done, digilog_burst, args.timeout, [bare_first, bare_second])

        print("checks:")
        for burst in (digilog_burst, bare_first):
            shown = "; ".join(f"{n} × {body}" for body, n in burst.bodies.most_common(2))
            print(f"  {burst.server} answered: {shown}")
        statuses = [f"{b.server}: {dict(b.statuses)}" for b in bursts if b.failures]
        failures += statuses
        print_problems("every request answered 200", statuses)
        answers = await recorded_answers(engine)
        problems = answer_problems(answers, clicks)
        failures += problems
        print_problems(
            f"QuizAnswer rows in the database: {len(answers):,} (expected exactly "
            f"{len(clicks):,}); {args.questions} per participant, none twice, options as pressed",
            problems,
        )
        failures += reply_problems(during, bare_calls, users, args.questions)
        print("server logs:")
        print_server_logs([digilog, bare])
    if args.profile:
        print(f"cProfile stats of digilog serve: {args.profile} (sort by tottime)")
    if failures:
        print("FAILED:")
        for failure in failures:
            print(f"  {failure}")
        return 1
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--participants", type=int, default=250, help="default 250 (max 9999)")
    parser.add_argument("--questions", type=int, default=4, help="per participant (default 4)")
    parser.add_argument("--concurrency", type=int, default=50, help="in flight (default 50)")
    parser.add_argument("--seed", type=int, default=1, help="which options are pressed")
    parser.add_argument(
        "--database",
        metavar="URL",
        help="a PostgreSQL URL: the run gets a scratch database next to the named one, "
        "dropped at the end (default: a fresh SQLite file)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=COMPLETION_TIMEOUT,
        metavar="S",
        help="seconds from digilog's first request for all answers to be recorded and all "
        f"reply cards received; else the run fails (default {COMPLETION_TIMEOUT:.0f})",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (db, logs)")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="run digilog serve under cProfile and write its stats to FILE (slows it down)",
    )
    args = parser.parse_args(argv)
    if not WARMUP_REQUESTS <= args.participants <= 9999 or not 1 <= args.questions <= 8:
        parser.error(f"--participants must be {WARMUP_REQUESTS}..9999 and --questions 1..8")
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    if args.database and normalise_url(args.database).get_backend_name() != "postgresql":
        parser.error("--database: a PostgreSQL URL (the default is SQLite)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return run_in_workdir(run, parse_args(argv), "digilog-teams-burst-", "the servers were stopped")


if __name__ == "__main__":
    sys.exit(main())
