"""Start-up and idle footprint of `digilog serve` (#16): time until GET /healthz answers
200 and resident memory (VmRSS) once idle, for Slack only, Teams only and both, on a
fresh database and on one already migrated, beside a bare aiohttp app that answers
/healthz with a SQLAlchemy `SELECT 1` (the floor any Python service of this shape pays).

Targets: healthy in < 2 s, < 120 MB when idle. Nothing asserts on time.

    .venv/bin/python bench/startup.py
    .venv/bin/python bench/startup.py --runs 2 --idle 2          # quick smoke run
    .venv/bin/python bench/startup.py --database postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from common import (  # noqa: E402
    READY_TIMEOUT,
    cancel_on_sigterm,
    free_port,
    met,
    percentile,
    run_in_workdir,
    scratch_database,
    stop,
)

HEALTHY_WITHIN = 2.0  # seconds
IDLE_MB = 120.0
POLL = 0.01  # seconds between /healthz attempts: the figure is this fine

# Fake credentials: nothing is called at start, so they need not be real. The platforms'
# URLs stay at their defaults, as in production; `unshare -n` shows none is reached.
SLACK = {"SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": "bench-signing-secret"}
TEAMS = {
    "TEAMS_APP_ID": "00000000-0000-4000-8000-000000000001",
    "TEAMS_APP_PASSWORD": "bench-password",
    "TEAMS_TENANT_ID": "00000000-0000-4000-8000-000000000002",
}
CONFIGURATIONS: dict[str, dict[str, str]] = {
    "slack": SLACK,
    "teams": TEAMS,
    "slack+teams": {**SLACK, **TEAMS},
}

BARE = """\
\"\"\"The floor: aiohttp serving /healthz with a SQLAlchemy SELECT 1, nothing else.\"\"\"
import sys

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

engine = create_async_engine(sys.argv[2])


async def healthz(request):
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    return web.Response(text="ok")


app = web.Application()
app.router.add_get("/healthz", healthz)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


@dataclass
class Figures:
    name: str
    database: str  # "fresh" or "migrated"
    seconds: list[float] = field(default_factory=list)
    megabytes: list[float] = field(default_factory=list)

    @property
    def met(self) -> bool:
        return max(self.seconds) < HEALTHY_WITHIN and max(self.megabytes) < IDLE_MB


def tail_of(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS (Linux /proc only)")


async def start_once(
    args: Sequence[str], env: dict[str, str], port: int, workdir: Path, log: Path, idle: float
) -> tuple[float, float]:
    """Seconds from exec to the first 200 from /healthz, and MB resident after `idle` s."""
    url = f"http://127.0.0.1:{port}/healthz"
    with log.open("wb") as out:
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            *args, cwd=workdir, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT
        )
    try:
        healthy = None
        async with aiohttp.ClientSession() as session:
            while time.perf_counter() - started < READY_TIMEOUT:
                if process.returncode is not None:
                    break
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(url) as response:
                        if response.status == 200:
                            healthy = time.perf_counter() - started
                            break
                await asyncio.sleep(POLL)
        if healthy is None:
            raise RuntimeError(f"{args} did not become healthy; its output:\n{tail_of(log)}")
        await asyncio.sleep(idle)
        return healthy, resident_mb(process.pid)
    finally:
        await stop(process)


def child_env(database_url: str, workdir: Path, extra: dict[str, str]) -> dict[str, str]:
    """Our environment without any DIGILOG_/SLACK_/TEAMS_ setting of the caller's, plus
    ours; no .env is read, as the working directory is the temporary one."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DIGILOG_", "SLACK_", "TEAMS_")) and k != "PORT"
    }
    env.update(
        PYTHONPATH=str(ROOT),
        DIGILOG_DATABASE_URL=database_url,
        DIGILOG_DATA_DIR=str(workdir),
        DIGILOG_LANGUAGE="en",
        DIGILOG_LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def serve_command(port: int) -> list[str]:
    return [sys.executable, "-m", "bot.launch", "serve", "--host", "127.0.0.1", "--port", str(port)]


def migrate(database_url: str, workdir: Path) -> None:
    """`digilog db upgrade`, as an operator brings a database up to date."""
    subprocess.run(
        [sys.executable, "-m", "bot.cli", "db", "upgrade"],
        cwd=workdir,
        env=child_env(database_url, workdir, {}),
        check=True,
        capture_output=True,
    )


def print_figures(rows: Sequence[Figures], floor: Figures) -> None:
    print(
        f"{'configuration':<14} {'database':<9} {'healthy p50':>11} {'max':>7} "
        f"{'idle MB p50':>11} {'max':>7} {'over floor':>10}  targets"
    )
    for row in [floor, *rows]:
        extra = percentile(row.megabytes, 50) - percentile(floor.megabytes, 50)
        verdict = "" if row is floor else met(row.met)
        print(
            f"{row.name:<14} {row.database:<9} {percentile(row.seconds, 50):>10.2f}s "
            f"{max(row.seconds):>6.2f}s {percentile(row.megabytes, 50):>11.1f} "
            f"{max(row.megabytes):>7.1f} {'' if row is floor else f'{extra:+.1f} MB':>10}  "
            f"{verdict}"
        )


async def run(args: argparse.Namespace, workdir: Path) -> int:
    cancel_on_sigterm()
    bare_script = workdir / "bare_healthz.py"
    bare_script.write_text(BARE)
    print(
        f"digilog serve start-up: {args.runs} runs each, idle {args.idle:g} s before VmRSS; "
        f"{'PostgreSQL (scratch databases)' if args.database else 'SQLite files'}; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs"
    )
    print(f"targets: healthy < {HEALTHY_WITHIN:g} s and idle < {IDLE_MB:g} MB (max of the runs)")
    rows: list[Figures] = []
    async with contextlib.AsyncExitStack() as stack:
        url = await stack.enter_async_context(
            scratch_database(args.database, workdir / "migrated.db", "digilog_bench", args.keep)
        )
        migrated = url.render_as_string(hide_password=False)
        migrate(migrated, workdir)
        floor = Figures("bare aiohttp", "migrated")
        for name in CONFIGURATIONS:
            rows += [Figures(name, "fresh"), Figures(name, "migrated")]
        # Round-robin, so a busy moment on a shared machine spreads over all of them.
        for n in range(args.runs):
            port = free_port()
            seconds, mb = await start_once(
                [sys.executable, str(bare_script), str(port), migrated],
                child_env(migrated, workdir, {}),
                port,
                workdir,
                workdir / "bare.log",
                args.idle,
            )
            floor.seconds.append(seconds)
            floor.megabytes.append(mb)
            for row in rows:
                credentials = CONFIGURATIONS[row.name]
                async with contextlib.AsyncExitStack() as fresh:
                    database = migrated
                    if row.database == "fresh":
                        scratch = await fresh.enter_async_context(
                            scratch_database(
                                args.database,
                                workdir / f"fresh-{n}-{row.name}.db",
                                "digilog_bench",
                                False,
                            )
                        )
                        database = scratch.render_as_string(hide_password=False)
                    port = free_port()
                    seconds, mb = await start_once(
                        serve_command(port),
                        child_env(database, workdir, credentials),
                        port,
                        workdir,
                        workdir / f"serve-{row.name}-{row.database}.log",
                        args.idle,
                    )
                row.seconds.append(seconds)
                row.megabytes.append(mb)
            print(f"  run {n + 1}/{args.runs} done", file=sys.stderr)
    print_figures(rows, floor)
    print(
        "all targets: "
        + met(all(row.met for row in rows))
        + f" (healthy < {HEALTHY_WITHIN:g} s and idle < {IDLE_MB:g} MB in every run)"
    )
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="starts per configuration (5)")
    parser.add_argument(
        "--idle", type=float, default=5.0, help="seconds idle before VmRSS is read (5)"
    )
    parser.add_argument(
        "--database",
        help="a PostgreSQL URL: the runs get scratch databases next to the named one, "
        "dropped at the end (default: SQLite files)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (dbs, logs)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return run_in_workdir(run, parse_args(argv), "digilog-startup-", "the servers were stopped")


if __name__ == "__main__":
    sys.exit(main())
