"""The storage contract, run against real SQLite and real PostgreSQL alike."""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from handlers.core.programme_file import Programme
from storage import migrate
from storage.models import Cohort, Reflection, Role, Source, Visibility
from storage.reflections import Viewer
from storage.unit import Store
from tests.conftest import make_cohort


async def person_id(store: Store, user: str) -> int:
    async with store.transaction() as repos:
        person = await repos.people.by_account("console", "local", user)
        assert person is not None
        return person.id


async def add(
    store: Store,
    cohort: Cohort,
    user: str,
    body: str,
    *,
    visibility: Visibility = Visibility.cohort,
    message_id: str | None = None,
) -> int:
    author = await person_id(store, user)
    async with store.transaction() as repos:
        member = await repos.people.member(cohort.id, author)
        assert member is not None
        reflection, _ = await repos.reflections.add(
            Reflection(
                cohort_id=cohort.id,
                author_id=author,
                organisation_id=member.organisation.id,
                theme_number=1,
                source=Source.command,
                visibility=visibility,
                body=body,
                message_id=message_id,
            )
        )
        return reflection.id


async def search(
    store: Store, cohort: Cohort, user: str, words: str, *, facilitator: bool = False
) -> list[str]:
    viewer = Viewer(cohort.id, await person_id(store, user), facilitator)
    async with store.transaction() as repos:
        return [v.reflection.body for v in await repos.reflections.search(viewer, words)]


async def test_schema_is_at_the_newest_migration(store: Store) -> None:
    assert await migrate.is_current(store.engine)
    await migrate.upgrade(store.engine)  # running it again changes nothing
    assert await migrate.is_current(store.engine)


@pytest.mark.parametrize(
    ("query", "stored"),
    [
        ("reflektion", "Reflektionerna från workshopen var många."),
        ("reflektionerna", "En reflektion om ledarskap."),
        ("digitalisering", "Digitaliseringen av hemtjänsten går fort."),
        ("digitaliseringen", "Vi pratade om digitalisering i ledningsgruppen."),
        ("medarbetare", "Medarbetarna behöver vara delaktiga."),
    ],
)
async def test_search_matches_swedish_inflections(
    store: Store, cohort: Cohort, query: str, stored: str
) -> None:
    await add(store, cohort, "anna", stored)
    await add(store, cohort, "anna", "Något helt annat om budget och lokaler.")
    assert await search(store, cohort, "bjorn", query) == [stored]


async def test_search_ranks_and_requires_every_word(store: Store, cohort: Cohort) -> None:
    await add(store, cohort, "anna", "Ledarskap.")
    await add(
        store, cohort, "anna", "Ledarskap och digitalisering, digitalisering, digitalisering."
    )
    await add(store, cohort, "anna", "Digitalisering utan ledare.")
    hits = await search(store, cohort, "bjorn", "digitalisering ledarskap")
    assert hits == ["Ledarskap och digitalisering, digitalisering, digitalisering."]
    # The exact form ranks before another form of the word (storage/search.py's scores).
    await add(store, cohort, "anna", "Ledarskapet växer.")
    ranked = await search(store, cohort, "bjorn", "ledarskap")
    assert len(ranked) == 3 and ranked[-1] == "Ledarskapet växer."
    assert await search(store, cohort, "bjorn", '"; DROP TABLE reflections; --') == []
    assert await search(store, cohort, "bjorn", "   ") == []


async def test_visibility_and_cohorts_are_sealed(
    store: Store, programme: Programme, cohort: Cohort
) -> None:
    await add(store, cohort, "anna", "Privat reflektion.", visibility=Visibility.private)
    await add(
        store, cohort, "anna", "Reflektion till processledarna.", visibility=Visibility.facilitators
    )
    await add(store, cohort, "anna", "Reflektion till alla.", visibility=Visibility.cohort)
    other = await make_cohort(
        store,
        programme,
        "grupp-2",
        people=(
            ("eva", "Eva", "umea", Role.facilitator),
            ("olle", "Olle", "pitea", Role.participant),
        ),
    )
    await add(store, other, "olle", "Reflektion i en annan grupp.")

    assert sorted(await search(store, cohort, "anna", "reflektion")) == [
        "Privat reflektion.",
        "Reflektion till alla.",
        "Reflektion till processledarna.",
    ]
    assert await search(store, cohort, "bjorn", "reflektion") == ["Reflektion till alla."]
    assert sorted(await search(store, cohort, "fia", "reflektion", facilitator=True)) == [
        "Reflektion till alla.",
        "Reflektion till processledarna.",
    ]
    assert await search(store, other, "eva", "reflektion", facilitator=True) == [
        "Reflektion i en annan grupp."
    ]


async def test_edit_and_delete_keep_the_search_index_in_step(store: Store, cohort: Cohort) -> None:
    reflection_id = await add(store, cohort, "anna", "Om kompetensförsörjning.", message_id="m1")
    async with store.transaction() as repos:
        reflection = await repos.reflections.get(reflection_id)
        assert reflection is not None
        await repos.reflections.edit(reflection, "Om automatisering.")
    assert await search(store, cohort, "bjorn", "kompetensförsörjning") == []
    assert await search(store, cohort, "bjorn", "automatiseringen") == ["Om automatisering."]
    async with store.transaction() as repos:
        reflection = await repos.reflections.by_message(cohort.id, "m1")
        assert reflection is not None
        await repos.reflections.remove(reflection)
    assert await search(store, cohort, "bjorn", "automatisering") == []


async def test_the_same_platform_message_is_stored_once(store: Store, cohort: Cohort) -> None:
    first = await add(store, cohort, "anna", "En gång.", message_id="slack-123")
    second = await add(store, cohort, "anna", "En gång.", message_id="slack-123")
    assert first == second
    async with store.transaction() as repos:
        assert await repos.reflections.count(cohort.id) == 1


async def test_a_failed_transaction_stores_nothing(store: Store, cohort: Cohort) -> None:
    async def fail_half_way() -> None:
        async with store.transaction() as repos:
            await repos.themes.start(cohort.id, 1, None, False)
            raise RuntimeError("something went wrong half-way")

    with pytest.raises(RuntimeError):
        await fail_half_way()
    async with store.transaction() as repos:
        assert await repos.themes.started(cohort.id) == []


async def test_a_theme_starts_once_under_concurrency(store: Store, cohort: Cohort) -> None:
    async def start() -> bool:
        async with store.transaction() as repos:
            return await repos.themes.start(cohort.id, 1, None, False) is not None

    outcomes = await asyncio.gather(*(start() for _ in range(8)))
    assert outcomes.count(True) == 1
    async with store.transaction() as repos:
        assert [r.theme_number for r in await repos.themes.started(cohort.id)] == [1]


async def test_the_first_quiz_answer_counts_under_concurrency(store: Store, cohort: Cohort) -> None:
    anna = await person_id(store, "anna")

    async def answer(option: int) -> tuple[int, bool]:
        async with store.transaction() as repos:
            counted, new = await repos.quizzes.answer(cohort.id, anna, 1, 0, option, option == 0)
            return counted.option_index, new

    outcomes = await asyncio.gather(*(answer(i % 4) for i in range(12)))
    assert sum(new for _, new in outcomes) == 1
    winner = next(option for option, new in outcomes if new)
    assert {option for option, _ in outcomes} == {winner}
    async with store.transaction() as repos:
        stored = await repos.quizzes.answers(cohort.id, anna, 1)
        assert [(a.question_index, a.option_index) for a in stored] == [(0, winner)]
        per_question = await repos.quizzes.by_question(cohort.id, 1)
        assert [(r.question_index, r.answered) for r in per_question] == [(0, 1)]


async def test_quiz_results_by_organisation_count_participants_only(
    store: Store, cohort: Cohort
) -> None:
    async with store.transaction() as repos:
        for user, correct in (("anna", True), ("bjorn", False), ("fia", True)):
            person = await repos.people.by_account("console", "local", user)
            assert person is not None
            await repos.quizzes.answer(cohort.id, person.id, 1, 0, 0, correct)
            await repos.quizzes.answer(cohort.id, person.id, 1, 1, 0, True)
        rows = await repos.quizzes.by_organisation(cohort.id, 1)
        organisations = {o.id: o.key for o in await repos.programs.organisations(cohort.program_id)}
    summary = {
        organisations[r.organisation_id]: (r.participants, r.answers, r.correct) for r in rows
    }
    assert summary == {"umea": (1, 2, 2), "pitea": (1, 2, 1)}


async def test_people_are_found_by_account_or_email_and_enrolled_once(
    store: Store, cohort: Cohort
) -> None:
    async with store.transaction() as repos:
        by_email = await repos.people.find_or_add(
            "console",
            "local",
            user_id=None,
            email="Asa.Oberg@ornskoldsvik.se",
            display_name="Åsa Öberg",
        )
        linked = await repos.people.find_or_add(
            "console",
            "local",
            user_id="asa",
            email="asa.oberg@ornskoldsvik.se",
            display_name="Åsa Öberg",
        )
        assert linked.id == by_email.id and linked.user_id == "asa"
        organisations = await repos.programs.organisations(cohort.program_id)
        _, new = await repos.people.enrol(
            cohort.id, linked.id, organisations[0].id, Role.participant
        )
        _, again = await repos.people.enrol(
            cohort.id, linked.id, organisations[1].id, Role.facilitator
        )
        member = await repos.people.member(cohort.id, linked.id)
    assert (new, again) == (True, False)
    assert member is not None and member.membership.role == Role.facilitator
    assert member.organisation.id == organisations[1].id


async def test_stored_times_come_back_in_utc(store: Store, cohort: Cohort) -> None:
    reflection_id = await add(store, cohort, "anna", "Tid.")
    async with store.transaction() as repos:
        reflection = await repos.reflections.get(reflection_id)
        raw = await repos.session.scalar(text("SELECT count(*) FROM reflections"))
    assert reflection is not None and reflection.created_at.utcoffset() is not None
    assert reflection.created_at.utcoffset().total_seconds() == 0
    assert raw == 1


async def test_a_connection_lost_while_idle_is_replaced_before_use(
    postgres_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pooled PostgreSQL connections are pinged only after an idle spell (not at every
    checkout, which cost a burst three round trips per transaction): one whose server
    process went away meanwhile is replaced, and the transaction never sees it."""
    from storage import db

    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.2)
    engine, admin = db.create_engine(postgres_database), db.create_engine(postgres_database)
    try:
        async with engine.connect() as connection:
            lost = await connection.scalar(text("SELECT pg_backend_pid()"))
        async with admin.connect() as connection:
            assert await connection.scalar(text(f"SELECT pg_terminate_backend({lost})"))
        await asyncio.sleep(0.3)
        async with engine.begin() as connection:
            now_serving = await connection.scalar(text("SELECT pg_backend_pid()"))
        assert now_serving != lost
    finally:
        await engine.dispose()
        await admin.dispose()


async def test_a_brief_statement_runs_in_the_event_loops_thread_on_sqlite(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """A BRIEF statement (a quiz answer, a theme run) is not handed to aiosqlite's
    thread once its transaction holds the write lock: the hand-over cost more than the
    statement. Any other statement still is, and a failing one fails as before."""
    from storage import db

    path = tmp_path / "digilog.db"
    shutil.copy(sqlite_template, path)
    engine = db.create_engine(f"sqlite+aiosqlite:///{path}")

    @event.listens_for(engine.sync_engine, "connect")
    def _ran_in(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.create_function("ran_in", 0, threading.get_ident)

    brief = {db.BRIEF: True}
    try:
        store = Store(engine)
        async with store.transaction() as repos:
            assert await repos.session.scalar(text("SELECT ran_in()")) != threading.get_ident()
            ran_in = await repos.session.scalar(text("SELECT ran_in()"), execution_options=brief)
            assert ran_in == threading.get_ident()
        with pytest.raises(OperationalError, match="no such table"):
            async with store.transaction() as repos:
                await repos.session.execute(text("SELECT * FROM nowhere"), execution_options=brief)
        async with store.transaction() as repos:  # the connection went back to the pool sound
            assert await repos.session.scalar(text("SELECT 1"), execution_options=brief) == 1
    finally:
        await engine.dispose()
