"""What the benches share: their server and worker subprocesses, a scratch database for a
run, the figures of a burst of requests, and the frame of a run.

The benches are run as `python bench/<name>.py`, so this folder is on sys.path and they
import this module as `common`. It imports storage.db, so a bench puts the project root
on sys.path first, as each does before its own imports of the project.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import math
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy.engine import URL

from handlers.core.roster import RosterRow
from storage.db import normalise_url, scratch_postgresql
from storage.models import Role

READY_TIMEOUT = 30.0
ORGANISATIONS = ("umea", "skelleftea", "ornskoldsvik", "pitea")  # the participants', in turn
FACILITATOR_ORGANISATION = "region-vasterbotten"
STOP_TIMEOUT = 10.0  # for a clean exit after the signal (cProfile writes its stats then)


# ------------------------------------------------------------------ the subprocesses


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_seconds(pid: int, *, main_thread: bool = False) -> float | None:
    """User + system CPU time of a process so far (Linux /proc), None elsewhere;
    `main_thread`: of its main thread only (where an asyncio server's event loop runs)."""
    try:
        stat = Path(
            f"/proc/{pid}/task/{pid}/stat" if main_thread else f"/proc/{pid}/stat"
        ).read_text()
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
    path: str  # where the requests go, e.g. /slack/events
    counts: Path | None = None  # its SQL statement count, when run by counted_command
    # Processes that do its work beside it (`digilog worker`), each with its log and its
    # statement count: its CPU, statements and log lines are theirs too.
    helpers: list[tuple[asyncio.subprocess.Process, Path, Path | None]] = field(
        default_factory=list
    )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def cpu(self, *, main_threads: bool = False) -> float | None:
        """Its processes' CPU; `main_threads`: only where their event loops run, the
        bottleneck of a burst (a database driver's thread or PostgreSQL run beside them)."""
        seconds = [
            cpu_seconds(p.pid, main_thread=main_threads)
            for p in (self.process, *(h for h, _, _ in self.helpers))
        ]
        return None if None in seconds else sum(s for s in seconds if s is not None)

    def loop_cpu(self) -> float | None:
        return self.cpu(main_threads=True)

    def statements(self) -> int | None:
        files = [self.counts, *(counts for _, _, counts in self.helpers)]
        found = [statements(f) if f is not None else None for f in files]
        return None if None in found else sum(n for n in found if n is not None)

    def log_lines(self, pattern: str) -> list[str]:
        lines = []
        for log in (self.log, *(log for _, log, _ in self.helpers)):
            text = log.read_text(errors="replace") if log.exists() else ""
            lines += [line for line in text.splitlines() if re.search(pattern, line)]
        return lines


@contextlib.asynccontextmanager
async def helping(
    server: Server,
    name: str,
    args: Sequence[str],
    env: dict[str, str],
    workdir: Path,
    counts: Path | None = None,
) -> AsyncIterator[None]:
    """A process doing `server`'s work beside it (no port), counted as part of it; stopped
    (SIGINT, then kill) on the way out."""
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *args, cwd=workdir, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT
        )
    server.helpers.append((process, log, counts))
    try:
        yield
    finally:
        await stop(process)


@contextlib.asynccontextmanager
async def running(
    name: str,
    args: Sequence[str],
    env: dict[str, str],
    port: int,
    workdir: Path,
    *,
    path: str,
    health: str | None = "/healthz",
    log_name: str | None = None,
    counts: Path | None = None,
) -> AsyncIterator[Server]:
    """A server subprocess, ready for requests; stopped (SIGINT, then kill) on the way out.
    Its output goes to `log_name` in workdir (default: the name, spaces as underscores)."""
    log = workdir / (log_name or f"{name.replace(' ', '_')}.log")
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *args, cwd=workdir, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT
        )
    server = Server(name, port, process, log, path, counts)
    try:
        await wait_ready(server, health)
        yield server
    finally:
        await stop(process)


async def wait_ready(server: Server, health: str | None) -> None:
    """Until GET `health` answers 200, or, for None (an app with no health route), until a
    GET of the server's own URL answers at all."""
    url = f"http://127.0.0.1:{server.port}{health}" if health is not None else server.url
    deadline = time.monotonic() + READY_TIMEOUT
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if server.process.returncode is not None:
                break
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url) as response:
                    if response.status == 200 or health is None:
                        return
            await asyncio.sleep(0.1)
    tail = server.log.read_text(errors="replace")[-3000:] if server.log.exists() else ""
    raise RuntimeError(f"{server.name} did not become ready; its output:\n{tail}")


async def stop(process: asyncio.subprocess.Process, how: signal.Signals = signal.SIGINT) -> None:
    """`how` (aiohttp's run_app shuts down cleanly on SIGINT), then SIGKILL after
    STOP_TIMEOUT."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(how)
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


COUNTED = """\
\"\"\"Run a module as `python -m` does, counting the SQL statements it sends (for a bench):
the count is written to the file named first, every 0.1 s.\"\"\"
import os
import runpy
import sys
import threading
import time

from sqlalchemy import event
from sqlalchemy.engine import Engine

count = 0


def _count(*_args):
    global count
    count += 1


event.listen(Engine, "before_cursor_execute", _count)
out = sys.argv[1]


def _write():
    while True:
        with open(out + ".tmp", "w") as f:
            f.write(str(count))
        os.replace(out + ".tmp", out)
        time.sleep(0.1)


threading.Thread(target=_write, daemon=True).start()
module = sys.argv[2]
sys.argv = [module, *sys.argv[3:]]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def counted_command(
    python: str, workdir: Path, module_args: Sequence[str], name: str = "sql_statements"
) -> tuple[list[str], Path]:
    """`python -m <module_args>`, counting its SQL statements into the returned file."""
    script, counts = workdir / "counted.py", workdir / f"{name}.txt"
    script.write_text(COUNTED)
    return [python, str(script), str(counts), *module_args], counts


def statements(counts: Path) -> int | None:
    """The SQL statements the counted server has sent so far (see counted_command)."""
    try:
        return int(counts.read_text() or 0)
    except (OSError, ValueError):
        return None


# ------------------------------------------------------------------ the database


@contextlib.asynccontextmanager
async def scratch_database(
    base: str | None, sqlite_file: Path, prefix: str, keep: bool
) -> AsyncIterator[URL]:
    """`sqlite_file`, new, or a scratch PostgreSQL database `<prefix>_<random>` next to the
    one named in `base` (which is not touched), dropped at the end unless `keep`."""
    if base is None:
        yield normalise_url(f"sqlite:///{sqlite_file}")
        return
    async with scratch_postgresql(base, prefix, keep=keep) as url:
        try:
            yield url
        finally:
            if keep:
                print(f"kept PostgreSQL database {url.database}")


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The bench process's garbage collector off while a burst is timed. A collection of
    the load generator's heap (thousands of signed requests, the fake's records) paused
    it for about 100 ms mid-burst, and every request in flight then looked that much
    slower: Digilog's log showed it had journalled and answered that first wave within
    25 ms, while the bench measured 135 ms. Collected before, so the heap starts small."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# ------------------------------------------------------------------ the figures


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest rank: the smallest value with at least p % of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


class BurstFigures:
    """What one burst at one server comes to; each bench's Burst dataclass has these
    fields, and more of its own."""

    server: str
    latencies: list[float]  # per request, from send to full response
    elapsed: float
    statuses: Counter[str]
    server_cpu: float | None
    bench_cpu: float

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


def print_table(bursts: Sequence[BurstFigures], server_width: int) -> None:
    print(
        f"  {'server':<{server_width}} {'requests':>8} {'req/s':>7} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'max ms':>7} {'non-200':>7} {'srv CPU ms/req':>14} "
        f"{'bench CPU ms/req':>16}"
    )
    for b in bursts:
        cpu = "n/a" if b.server_cpu is None else f"{1000 * b.server_cpu / b.requests:.2f}"
        print(
            f"  {b.server:<{server_width}} {b.requests:>8} {b.rps:>7.0f} {1000 * b.p50:>7.1f} "
            f"{1000 * b.p99:>7.1f} {1000 * max(b.latencies):>7.1f} {b.failures:>7} {cpu:>14} "
            f"{1000 * b.bench_cpu / b.requests:>16.2f}"
        )


def met(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def print_problems(what: str, problems: Sequence[str]) -> None:
    print(f"  {what}: {'FAILED' if problems else 'OK'}")
    for problem in problems:
        print(f"    - {problem}")


# ------------------------------------------------------------------ the run


def cancel_on_sigterm() -> None:
    """SIGTERM (a timeout, a CI runner) unwinds like Ctrl-C: the current task is cancelled,
    and its way out stops the subprocesses."""
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)


def run_in_workdir(
    run: Callable[[argparse.Namespace, Path], Coroutine[Any, Any, int]],
    args: argparse.Namespace,
    prefix: str,
    stopped: str,
) -> int:
    """`run` in a new temporary directory, removed at the end unless --keep; its exit
    status, or 130 when interrupted (saying what was stopped)."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        return asyncio.run(run(args, workdir))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print(f"interrupted; {stopped}", file=sys.stderr)
        return 130
    finally:
        if args.keep:
            print(f"kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


# ------------------------------------------------------------------ the cohort


def bench_roster(
    facilitator: str, facilitator_name: str, users: Sequence[str], name_of: Callable[[str], str]
) -> list[RosterRow]:
    """The roster a bench enrols: its facilitator, then every user as a participant of the
    four organisations in turn (so that every organisation group has people)."""
    rows = [
        RosterRow(
            1, facilitator_name, None, facilitator, FACILITATOR_ORGANISATION, Role.facilitator
        )
    ]
    rows += [
        RosterRow(i + 2, name_of(user), None, user, ORGANISATIONS[i % 4], Role.participant)
        for i, user in enumerate(users)
    ]
    return rows
