"""Retention: a cohort's personal data goes a set time after its programme ends, the
facilitators are told 14 days before, and the figures per organisation stay.

The clock is the test's: every sweep is given the moment it runs at.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.console.render import render
from handlers import report, retention
from handlers.admin import import_roster
from handlers.core.deliveries import Send, compose
from handlers.core.i18n import translator
from handlers.core.programme_file import Programme
from handlers.core.roster import RosterRow
from handlers.core.vocabulary import Message
from handlers.digilog import Digilog
from handlers.features import REGISTRY
from handlers.retention import Kind, RetentionError
from schedules.timekeeper import Timekeeper
from storage.models import CalendarEntry, Cohort, Delivery, Role, utcnow
from storage.unit import Store
from tests.chat import Chat
from tests.conftest import make_cohort, run_digilog
from tests.test_erasure_bytes import found_in, raw_bytes
from tests.test_personal_data import (
    EMAIL,
    NEEDS,
    POST,
    PRIVATE,
    SECRET_WORDS,
    USER,
    all_rows,
    build_activity,
    fts_hits,
    naming,
)

END = datetime(2027, 6, 10, 15, 0, tzinfo=UTC)  # the cohort's last calendar entry
DAY = timedelta(days=1)
# People only in the first cohort; Björn is in the second one too.
GONE = [USER, EMAIL, "Zelda", "Quorndon", "Fia Facilitator", "cecilia", "Åström"]
BJORN_ELSEWHERE = "Björn skriver i grupp 2 om vombatix."


class FixedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


async def set_calendar_end(store: Store, cohort_id: int, end: datetime = END) -> None:
    async with store.transaction() as repos:
        await repos.calendar.replace(
            cohort_id,
            [
                CalendarEntry(
                    key="theme:1:start",
                    kind="theme_start",
                    theme_number=1,
                    starts_at=end - 60 * DAY,
                ),
                CalendarEntry(
                    key="meeting:closing",
                    kind="closing_meeting",
                    theme_number=None,
                    starts_at=end - DAY,
                    ends_at=end,
                ),
            ],
        )


async def notice_rows(store: Store) -> list[Delivery]:
    async with store.transaction() as repos:
        return list(
            await repos.session.scalars(select(Delivery).where(Delivery.kind == retention.NOTICE))
        )


async def notice_text(store: Store, delivery: Delivery, now: datetime) -> str:
    async with store.transaction() as repos:
        row = await repos.session.get(Delivery, delivery.id)
        assert row is not None
        decision = await compose(repos, row, now, REGISTRY)
    assert isinstance(decision, Send), decision
    assert isinstance(decision.outgoing.message, Message)
    return render(decision.outgoing.message)[0]


async def second_cohort_with_bjorn(store: Store, programme: Programme, digilog: Digilog) -> Chat:
    people = (
        ("gustav", "Gustav Facilitator", "region-vasterbotten", Role.facilitator),
        ("bjorn", "Björn Öberg", "pitea", Role.participant),
    )
    cohort = await make_cohort(store, programme, "grupp-2", people=people)
    chat = Chat(digilog, cohort)
    await chat.say("gustav", "theme start 1")
    await chat.post("bjorn", 1, BJORN_ELSEWHERE)
    return chat


async def test_facilitators_are_told_14_days_before_then_everything_goes_but_the_figures(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    chat, _ = await build_activity(store, programme, digilog)
    cohort = chat.cohort
    # Enough people for figures per organisation (five or more in each group).
    more = [(f"p{i}", org) for i, org in enumerate(["umea"] * 4 + ["pitea"] * 3)]
    roster = [
        RosterRow(i, f"Person {i}", None, u, o, Role.participant)
        for i, (u, o) in enumerate(more, 1)
    ]
    assert (await import_roster(store, cohort.key, roster, skip_bad=False))[0] == len(more)
    for user, _ in more[:5]:
        await chat.post(user, 1, f"Ett inlägg av {user}.")
    async with store.transaction() as repos:
        t = translator(cohort.language)
        before = {n: c for n, c, _ in report.files(t, await report.figures(repos, cohort, t))}
    assert str(before["report.csv"]).count("\n") >= 3  # a header and a row per group
    other = await second_cohort_with_bjorn(store, programme, digilog)
    await set_calendar_end(store, cohort.id)
    await set_calendar_end(store, other.cohort.id, END + 365 * DAY)
    assert naming(await all_rows(store), GONE)  # the scan finds them while they are there

    # Long before: nothing.
    swept = await retention.sweep(store, END + 100 * DAY)
    assert swept.notices == 0 and swept.deletions == []
    # 14 days before the 180th day: the facilitator is told, once, of that date.
    told_at = END + 166 * DAY + timedelta(minutes=30)  # a Tuesday, 16:30 in Stockholm
    assert (await retention.sweep(store, told_at)).notices == 1
    assert (await retention.sweep(store, told_at + timedelta(hours=3))).notices == 0
    [notice] = await notice_rows(store)
    text = await notice_text(store, notice, notice.due_at)
    assert "7 Dec 2027" in text and "10 Jun 2027" in text  # END + 180 days, and END
    assert "quiz answers" in text and "reflection bank" in text
    assert f"digilog retention set {cohort.key}" in text
    async with store.transaction() as repos:
        fia = await repos.people.by_account("console", "local", "fia")
        assert fia is not None and notice.person_id == fia.id
    # The day before: still nothing deleted.
    assert (await retention.sweep(store, END + 179 * DAY)).deletions == []
    assert naming(await all_rows(store), GONE)

    # The day, but never sooner than 14 days after the notice (given half an hour late).
    assert (await retention.sweep(store, END + 180 * DAY)).deletions == []
    # Then the quiz answers, the bank and everything else naming them go together.
    swept = await retention.sweep(store, told_at + 14 * DAY)
    assert [kind for _, kind, _ in swept.deletions] == [
        Kind.quiz_answers,
        Kind.reflections,
        Kind.personal_data,
    ]
    rows = await all_rows(store)
    assert naming(rows, GONE) == []
    assert naming(rows, [POST, PRIVATE, NEEDS]) == []
    for word in SECRET_WORDS:
        assert await fts_hits(store, word) == 0, word
    # Nor in any byte of the database files (SQLite's WAL, PostgreSQL's pages).
    assert found_in(await raw_bytes(store), [*GONE, POST, PRIVATE, NEEDS, *SECRET_WORDS]) == []
    assert (await retention.sweep(store, END + 181 * DAY)).deletions == []  # done once

    async with store.transaction() as repos:
        assert await repos.people.members(cohort.id) == []
        assert await repos.reflections.count(cohort.id) == 0
        # Björn is in the other cohort: he stays, with what he has there.
        [bjorn] = [
            m for m in await repos.people.members(other.cohort.id) if m.person.user_id == "bjorn"
        ]
        assert await repos.reflections.count(other.cohort.id) == 1
        # The figures per organisation are kept: the report as it stood before.
        kept = await retention.kept_report(repos, cohort)
        assert kept is not None
        files = {name: content for name, content, _ in kept}
        assert files["report.csv"].decode() == before["report.csv"]
        assert files["surveys.csv"].decode() == before["surveys.csv"]
        assert files["participation.png"].startswith(b"\x89PNG")
        # The audit log says what went, and names nobody.
        entries = await repos.audit.entries(cohort.id)
        deleted = [e.detail for e in entries if e.action == "retention_deletion"]
        assert {d["kind"] for d in deleted if d} == {k.value for k in Kind}
        assert all(e.subject_person_id is None for e in entries if e.action == "retention_deletion")
    assert bjorn is not None
    assert BJORN_ELSEWHERE in (await other.say("bjorn", "bank")).text
    # Nobody joins a cohort whose data is gone.
    refused = await chat.say("anna", "join umea")
    assert "nobody can join it any more" in refused.text


async def test_reflections_kept_longer_stay_anonymously_until_their_own_day(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    chat, _ = await build_activity(store, programme, digilog)
    cohort = chat.cohort
    await set_calendar_end(store, cohort.id)
    state = await retention.change(store, cohort.key, reflection_days=365, quiz_answer_days=30)
    assert state.policy.deadline(Kind.reflections) == END + 365 * DAY
    async with store.transaction() as repos:
        shared_before = await repos.reflections.count(cohort.id)

    # Quiz answers first: due on day 30. Day 16 is a Saturday: the facilitator is told on
    # Monday at eight, so the answers go 14 days after that, not on day 30.
    assert (await retention.sweep(store, END + 16 * DAY)).notices == 1
    [notice] = await notice_rows(store)
    monday = datetime(2027, 6, 28, 6, 0, tzinfo=UTC)  # 08:00 in Stockholm
    assert notice.due_at == monday
    assert (await retention.sweep(store, END + 30 * DAY)).deletions == []
    swept = await retention.sweep(store, monday + 14 * DAY)
    assert [kind for _, kind, _ in swept.deletions] == [Kind.quiz_answers]
    async with store.transaction() as repos:
        assert await repos.quizzes.scores(cohort.id, 1) == {}
        assert len(await repos.people.members(cohort.id)) == 4

    # Day 180: the people go, their shared reflections stay under the anonymous author.
    assert (await retention.sweep(store, END + 166 * DAY)).notices == 1
    swept = await retention.sweep(store, END + 180 * DAY)
    assert [kind for _, kind, _ in swept.deletions] == [Kind.personal_data]
    rows = await all_rows(store)
    assert naming(rows, GONE) == []
    assert naming(rows, [PRIVATE]) == []  # private reflections went with their author
    assert naming(rows, [POST, NEEDS])  # shared ones stay, without a name
    async with store.transaction() as repos:
        left = await repos.reflections.count(cohort.id)
        assert 0 < left < shared_before

    # Day 365: nobody is left to tell, yet the 14 days still pass before the bank goes.
    assert (await retention.sweep(store, END + 351 * DAY)).notices == 0
    assert (await retention.sweep(store, END + 364 * DAY)).deletions == []
    swept = await retention.sweep(store, END + 365 * DAY)
    assert [kind for _, kind, _ in swept.deletions] == [Kind.reflections]
    rows = await all_rows(store)
    assert naming(rows, [POST, NEEDS, "Anonymous participant", "Anonym deltagare"]) == []


async def test_a_period_shortened_into_the_past_still_gives_the_facilitators_14_days(
    store: Store, programme: Programme, cohort: Cohort, digilog: Digilog
) -> None:
    await set_calendar_end(store, cohort.id)
    later = datetime(2027, 9, 14, 10, 0, tzinfo=UTC)  # a Tuesday morning
    await retention.change(store, cohort.key, days=30)
    assert (await retention.sweep(store, later)).notices == 1
    [notice] = await notice_rows(store)
    assert "28 Sept 2027" in await notice_text(store, notice, later)  # 14 days later
    assert (await retention.sweep(store, later + 13 * DAY)).deletions == []
    swept = await retention.sweep(store, later + 14 * DAY)
    assert Kind.personal_data in [kind for _, kind, _ in swept.deletions]
    # Moving the end later after a notice means a new notice before the new date.
    with pytest.raises(RetentionError, match="already been deleted") as refused:
        await retention.change(store, cohort.key, days=400)
    # A Swede reads which data in Swedish, not the internal kind (quiz_answers).
    said = refused.value.said(translator("sv"))
    assert said.startswith(f"{cohort.key}: ") and "redan raderad" in said
    assert not {kind.value for kind in Kind} & set(said.replace(":", " ").split()), said


async def test_bad_periods_are_refused_and_change_nothing(store: Store, cohort: Cohort) -> None:
    for name, value, message in (
        ("days", 0, "from 1 to"),
        ("days", 5000, "from 1 to"),
        ("reflection_days", -1, "from 1 to"),
        ("quiz_answer_days", 200, "cannot be kept longer"),
    ):
        with pytest.raises(RetentionError, match=message):
            await retention.change(store, cohort.key, **{name: value})  # type: ignore[arg-type]
    with pytest.raises(RetentionError, match="no cohort"):
        await retention.change(store, "nope", days=30)
    [state] = await retention.overview(store, cohort.key)
    assert state.policy == retention.Policy(None)  # no calendar: no end, nothing planned
    assert "no end date" in retention.describe(state, translator("en"))[0]
    assert "inget slutdatum" in retention.describe(state, translator("sv"))[0]
    async with store.transaction() as repos:
        assert await repos.retention.get(cohort.id) is None


async def test_a_moved_deadline_brings_a_new_notice(
    store: Store, programme: Programme, cohort: Cohort
) -> None:
    await set_calendar_end(store, cohort.id)
    assert (await retention.sweep(store, END + 170 * DAY)).notices == 1
    await retention.change(store, cohort.key, days=200)  # the facilitators asked for time
    assert (await retention.sweep(store, END + 181 * DAY)).deletions == []
    assert (await retention.sweep(store, END + 186 * DAY)).notices == 1
    assert (await retention.sweep(store, END + 199 * DAY)).deletions == []
    assert (await retention.sweep(store, END + 200 * DAY)).deletions


async def test_only_the_real_clock_deletes(store: Store, cohort: Cohort) -> None:
    """A console rehearsal moves its clock at will: its sweep must never delete."""
    await set_calendar_end(store, cohort.id, datetime(2020, 1, 1, tzinfo=UTC))
    clock = FixedClock(datetime(2030, 1, 1, tzinfo=UTC))
    rehearsal = Timekeeper(store, clock, lambda: None, sweep_seconds=1, timers=False)
    await rehearsal.sweep()
    assert await notice_rows(store) == []
    real = Timekeeper(store, clock, lambda: None, sweep_seconds=1, timers=True)
    await real.sweep()
    assert len(await notice_rows(store)) == 1
    real.scheduler.remove_all_jobs()


def test_retention_from_the_terminal(
    database_url: str, tmp_path: Path, store: Store, programme: Programme
) -> None:

    async def setup() -> None:
        await make_cohort(store, programme)
        await store.engine.dispose()

    asyncio.run(setup())
    done = run_digilog(
        database_url,
        tmp_path,
        "retention",
        "set",
        "grupp-1",
        "--ends",
        "2020-01-31",
        "--days",
        "30",
        "--quiz-answers",
        "10",
    )
    assert done.returncode == 0, done.stderr
    # In DIGILOG_LANGUAGE (Swedish), the end on that day in full.
    assert "utbildningen slutar 2020-01-31 23:59 (Europe/Stockholm)" in done.stdout
    assert "quizsvar" in done.stdout and "10 dagar" in done.stdout
    assert "quiz_answers" not in done.stdout and " days" not in done.stdout
    refused = run_digilog(database_url, tmp_path, "retention", "set", "grupp-1", "--days", "0")
    assert refused.returncode != 0 and "från 1 till" in refused.stderr  # in DIGILOG_LANGUAGE
    ran = run_digilog(database_url, tmp_path, "retention", "run")
    assert ran.returncode == 0, ran.stderr
    assert (
        "1 meddelande till processledare" in ran.stdout
    )  # one facilitator, one date: all kinds are due
    again = run_digilog(database_url, tmp_path, "retention", "run")
    assert "0 meddelanden" in again.stdout and "raderade" not in again.stdout
    shown = run_digilog(database_url, tmp_path, "retention", "show")
    assert "processledarna meddelade" in shown.stdout and "facilitators" not in shown.stdout
    audit = run_digilog(database_url, tmp_path, "audit")
    assert "lagringstiden ändrad" in audit.stdout and "retention_change" not in audit.stdout


async def test_dedupe_marks_are_kept_a_week(store: Store) -> None:
    async with store.transaction() as repos:
        assert await repos.events.first_time("slack", "Ev-retried")
        received = utcnow()
    await retention.sweep(store, received + 6 * DAY)
    async with store.transaction() as repos:
        assert not await repos.events.first_time("slack", "Ev-retried")  # still a retry
    await retention.sweep(store, received + 8 * DAY)
    async with store.transaction() as repos:
        assert await repos.events.first_time("slack", "Ev-retried")
