"""A number, once given, names one person, one reflection, one audit entry for good: not
the next one after a deletion (SQLite gives the highest id in use plus one unless the
table is AUTOINCREMENT; PostgreSQL's sequences never go back). Migration 0030 rebuilds
the SQLite tables with their rows as they were.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from storage import migrate
from storage.models import Cohort, Person, Reflection, Source, Visibility
from storage.reflections import Viewer
from storage.unit import Store

TABLES = ("people", "reflections", "audit_log")


async def person_id(store: Store, user: str) -> int:
    async with store.transaction() as repos:
        person = await repos.people.by_account("console", "local", user)
        assert person is not None
        return person.id


async def add_reflection(store: Store, cohort: Cohort, body: str) -> int:
    author = await person_id(store, "anna")
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
                visibility=Visibility.cohort,
                body=body,
            )
        )
        return reflection.id


async def new_person(store: Store, user: str) -> Person:
    async with store.transaction() as repos:
        return await repos.people.find_or_add(
            "console", "local", user_id=user, email=None, display_name=user.title()
        )


async def highest_id(store: Store, table: str) -> int:
    async with store.transaction() as repos:
        return int(await repos.session.scalar(text(f"SELECT max(id) FROM {table}")) or 0)


async def test_an_erased_persons_number_is_not_given_to_the_next_person(
    store: Store, cohort: Cohort
) -> None:
    newest = await highest_id(store, "people")
    async with store.transaction() as repos:
        person = await repos.people.get(newest)
        assert person is not None
        await repos.personal_data.erase(person, keep_reflections=False, anonymous_names={})
        await repos.audit.record("erase", subject_person_id=newest)
    assert await highest_id(store, "people") < newest  # the newest is gone

    newcomer = await new_person(store, "nyanstalld")
    assert newcomer.id > newest
    async with store.transaction() as repos:
        entries = await repos.audit.entries()
    # The log's "about #n" still names the erased person, and nobody else.
    assert [e.subject_person_id for e in entries if e.action == "erase"] == [newest]
    assert newcomer.id not in {e.subject_person_id for e in entries}


async def test_a_deleted_reflections_number_is_not_given_again(
    store: Store, cohort: Cohort
) -> None:
    first = await add_reflection(store, cohort, "Ledarskapet i förändring.")
    second = await add_reflection(store, cohort, "Nyttan med e-tjänster.")
    async with store.transaction() as repos:
        reflection = await repos.reflections.get(second)
        assert reflection is not None
        await repos.reflections.remove(reflection)
    third = await add_reflection(store, cohort, "Quizet var svårt.")
    assert third > second > first
    # The search index, keyed by the number, does not mix the new one up with the old.
    viewer = Viewer(cohort.id, await person_id(store, "bjorn"), False)
    async with store.transaction() as repos:
        assert [v.reflection.id for v in await repos.reflections.search(viewer, "nytta")] == []
        assert [v.reflection.id for v in await repos.reflections.search(viewer, "quiz")] == [third]


async def contents(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    async with store.transaction() as repos:
        return {
            table: [
                tuple(row)
                for row in (await repos.session.execute(text(f"SELECT * FROM {table} ORDER BY id")))
            ]
            for table in TABLES
        }


async def test_the_migration_carries_every_row_over(store: Store, cohort: Cohort) -> None:
    if store.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only: PostgreSQL's tables are not rebuilt")
    reflection = await add_reflection(store, cohort, "Digitaliseringsstrategin tar form.")
    async with store.transaction() as repos:
        await repos.audit.record("export", cohort_id=cohort.id, detail={"rows": 1})
    before = await contents(store)

    await migrate.downgrade(store.engine, "0023")
    assert await contents(store) == before
    async with store.engine.connect() as connection:
        sql = (
            await connection.execute(text("SELECT group_concat(sql) FROM sqlite_master"))
        ).scalar()
    assert "AUTOINCREMENT" not in str(sql)

    await migrate.upgrade(store.engine)
    assert await contents(store) == before
    async with store.engine.connect() as connection:
        for table in TABLES:
            sql = await connection.scalar(
                text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"),
                {"t": table},
            )
            assert "AUTOINCREMENT" in str(sql), table
        # Foreign keys are on again, and the rows that point at people still do.
        assert (await connection.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        assert (await connection.execute(text("PRAGMA foreign_key_check"))).all() == []
    # The rebuilt audit log still refuses to be changed.
    with pytest.raises(Exception, match="append-only"):
        async with store.transaction() as repos:
            await repos.session.execute(text("DELETE FROM audit_log"))
    # The search still finds the reflection under its number.
    viewer = Viewer(cohort.id, await person_id(store, "bjorn"), False)
    async with store.transaction() as repos:
        hits = await repos.reflections.search(viewer, "strategi")
    assert [v.reflection.id for v in hits] == [reflection]

    # And from now on a number is not given again.
    async with store.transaction() as repos:
        stored = await repos.reflections.get(reflection)
        assert stored is not None
        await repos.reflections.remove(stored)
    assert await add_reflection(store, cohort, "Nästa.") > reflection
