"""A rehearsal tells the truth: the same transcript says the same, byte for byte, on SQLite
and PostgreSQL, every time; what it stores carries the rehearsal's time; moving the clock
over a window delivers what fell due in it, in due order, at the time it was due, and
says so when something due was not sent."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select, text

from handlers import admin
from handlers.core.programme_file import load_programme
from storage.db import create_engine
from storage.models import Delivery, DeliveryState, LabSignup, QuizAnswer, Reflection
from storage.unit import Store
from tests.conftest import EXAMPLE, ROOT, table_names

CALENDAR = ROOT / "examples" / "digital-kompetens-calendar.yaml"
ZONE = ZoneInfo("Europe/Stockholm")
START = "2027-01-31 08:00"

TRANSCRIPT = """\
clock 2027-02-01 09:30
as anna
post Digitaliseringen av våra e-tjänster har förändrat hur vi möter invånarna.
lab signup hantera-information 1
as bjorn
reply p1 Hos oss i Piteå har ledarskapet fått en ny roll i förändringsarbetet.
as fia
clock +20d
clock 2027-02-22 10:15
as anna
quiz 1
1
1
1
1
1
1
1
1
as fia
theme start 2
clock +9d
schedule
clock 2027-02-01 08:00
quit
"""


def local(text_: str) -> datetime:
    return datetime.strptime(text_, "%Y-%m-%d %H:%M").replace(tzinfo=ZONE).astimezone(UTC)


async def prepare(url: str) -> None:
    """The bundled example with its demo cohort and the cohort's spring calendar."""
    engine = create_engine(url)
    try:
        store = Store(engine)
        programme = load_programme(EXAMPLE)
        await admin.load_programme(store, programme)
        await admin.seed_demo(store, programme, "en")
        await admin.load_calendar(store, "demo", CALENDAR)
    finally:
        await engine.dispose()


async def empty_postgres(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            tables = ", ".join(await table_names(connection))
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


def run_console_at(url: str, cwd: Path, transcript: str, at: str, cohort: str | None = None) -> str:
    """`digilog console --at` with the transcript piped in: its output."""
    env = {**os.environ, "DIGILOG_DATABASE_URL": url, "DIGILOG_LANGUAGE": "en"}
    chosen = ["--cohort", cohort] if cohort else []
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "console", "--at", at, *chosen],
        input=transcript,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def rehearse(url: str, cwd: Path) -> str:
    return run_console_at(url, cwd, TRANSCRIPT, START)


def test_a_rehearsal_says_the_same_every_time_on_both_databases(
    sqlite_template: Path, postgres_database: str, tmp_path: Path
) -> None:
    outputs: list[str] = []
    for run in range(2):
        path = tmp_path / f"run{run}.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite+aiosqlite:///{path}"
        asyncio.run(prepare(url))
        outputs.append(rehearse(url, tmp_path))
        asyncio.run(empty_postgres(postgres_database))
        asyncio.run(prepare(postgres_database))
        outputs.append(rehearse(postgres_database, tmp_path))
    first = outputs[0]
    (tmp_path / "transcript.txt").write_text(first)
    for other in outputs[1:]:
        assert other == first
    check_transcript(first)
    asyncio.run(check_stored(postgres_database))


def check_transcript(out: str) -> None:
    # Posts come stamped with the time they fell due, each time later than or as the one
    # before, and each after the line that moved the clock over it.
    stamps = [
        datetime.strptime(f"{s} 2027", "%a %d %b %H:%M %Y")
        for s in re.findall(r"^\[(\w{3} \d{1,2} \w{3} \d\d:\d\d)\] \[Digilog", out, re.M)
    ]
    assert stamps == sorted(stamps) and len(stamps) > 5
    # Theme 1 starts at 08:00 on Monday: its post says 08:00, not 09:30 when the clock stopped.
    start = out.split("fia> clock 2027-02-01 09:30\n", 1)[1].split("anna> post", 1)[0]
    assert "[Mon 1 Feb 08:00] [Digilog in #demo]\n  == Theme 1:" in start
    # The quiz opened at 08:00 on the 22nd, on the way of `clock +20d`… which stops at
    # Sunday 21st 09:30; `clock 2027-02-22 10:15` then brings it, stamped 08:00.
    quiz = out.split("fia> clock 2027-02-22 10:15\n", 1)[1].split("anna> quiz 1", 1)[0]
    assert "[Mon 22 Feb 08:00] [Digilog in #demo]\n  == Quiz: theme 1 ==" in quiz
    # Anna's quiz: eight answers, one score.
    assert out.count("You answered") == 1
    # Nudges go within working hours, and at the moment they were due.
    nudges = re.findall(r"^\[(\w{3}) \d{1,2} \w{3} (\d\d):\d\d\] \[Digilog → .*direct", out, re.M)
    assert nudges and all(day not in ("Sat", "Sun") and 8 <= int(hour) < 17 for day, hour in nudges)
    # Theme 2, started by hand, is not started again when its time comes: that is told.
    assert (
        "  (not sent: Theme posts, due Mon 1 Mar 08:00; the theme had been started by hand)" in out
    )
    # The clock does not go back.
    assert "fia> clock 2027-02-01 08:00\n  (a rehearsal's clock moves forward only)" in out


async def check_stored(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            reflections = (await connection.execute(select(Reflection.created_at))).scalars()
            assert sorted(reflections) == [local("2027-02-01 09:30")] * 2
            answers = set((await connection.execute(select(QuizAnswer.answered_at))).scalars())
            assert answers == {local("2027-02-22 10:15")}
            signups = set((await connection.execute(select(LabSignup.created_at))).scalars())
            assert signups == {local("2027-02-01 09:30")}
            # Everything due by the rehearsal's last moment went out or was told as skipped;
            # only what is due later still waits.
            query = select(Delivery.key, Delivery.due_at, Delivery.state)
            rows = (await connection.execute(query)).all()
            end = local("2027-03-03 10:15")
            assert rows
            for key, due_at, state in rows:
                if due_at <= end:
                    assert state in (DeliveryState.sent, DeliveryState.skipped), key
                else:
                    assert state is DeliveryState.pending, key
    finally:
        await engine.dispose()


async def test_a_store_on_a_clock_stamps_every_row_it_writes_by_that_clock(store: Store) -> None:
    rehearsed = store.on_clock(lambda: local("2027-02-02 10:00"))
    async with rehearsed.transaction() as repos:
        # A time a repository sets (the audit entry's) as much as a column's default (the
        # programme's loaded_at).
        await repos.audit.record("rehearsal.check")
        await repos.programs.save("p", {"en": "P"}, {}, "sum", [])
    async with store.transaction() as repos:
        [entry] = await repos.audit.entries()
        program = await repos.programs.get("p")
        assert program is not None
        await repos.audit.record("real.time")
        latest = (await repos.audit.entries())[0]
    assert entry.at == program.loaded_at == local("2027-02-02 10:00")
    assert latest.at.year == datetime.now(UTC).year  # the plain store keeps the system's time
