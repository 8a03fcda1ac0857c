"""A person who floods commands is slowed down, alone; sensitive acts are logged for good."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from handlers.core.limits import PerPerson
from handlers.core.programme_file import Programme
from handlers.digilog import Digilog
from storage.models import AuditEntry
from storage.unit import Store
from tests.chat import Chat
from tests.conftest import make_cohort


def test_a_bucket_lets_a_burst_through_then_one_a_second() -> None:
    pace = PerPerson(per_minute=60, burst=3)
    start, anna, bjorn = (
        datetime(2027, 1, 1, tzinfo=UTC),
        ("slack", "T1", "U_A"),
        ("slack", "T1", "U_B"),
    )
    assert [pace.wait(anna, start) for _ in range(3)] == [0, 0, 0]
    assert pace.wait(anna, start) == pytest.approx(1.0)
    assert pace.wait(bjorn, start) == 0  # someone else is not slowed down
    assert pace.wait(anna, start + timedelta(seconds=1)) == 0
    assert pace.wait(anna, start + timedelta(seconds=1)) > 0


async def test_flooding_commands_is_refused_and_changes_nothing(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    cohort = await make_cohort(store, programme, platform="slack", workspace="T1")
    chat = Chat(digilog, cohort, locale="en-GB")  # the refusal comes before any lookup
    replies = [await chat.say("anna", f"reflect Tanke nummer {n}") for n in range(25)]
    refused = [r for r in replies if "faster than Digilog takes them" in r.text]
    assert len(refused) == 5
    assert "Saved in the reflection bank" in (await chat.say("bjorn", "reflect Min tanke")).text
    async with store.transaction() as repos:
        rows = (await repos.session.scalars(text("SELECT body FROM reflections"))).all()
    assert len(rows) == 21 and "Tanke nummer 24" not in rows


async def entries(store: Store) -> list[AuditEntry]:
    async with store.transaction() as repos:
        return list(reversed(await repos.audit.entries()))


async def test_sensitive_acts_are_logged_and_the_log_cannot_be_changed(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    cohort = await make_cohort(store, programme)
    chat = Chat(digilog, cohort)
    async with store.transaction() as repos:
        fia = await repos.people.by_account(cohort.platform, cohort.workspace, "fia")
        anna = await repos.people.by_account(cohort.platform, cohort.workspace, "anna")
    assert fia is not None and anna is not None
    # Making Fia a facilitator was logged when the roster was imported.
    [made] = await entries(store)
    assert (made.action, made.subject_person_id, made.detail) == (
        "role_change",
        fia.id,
        {"from": None, "to": "facilitator"},
    )
    await chat.say("anna", "reflect --facilitators Bara för processledarna")
    await chat.say("fia", "bank")  # reads Anna's facilitator-only reflection
    await chat.say("fia", "export json")
    await chat.say("fia", "enrol anna umea --facilitator")
    actions = [(e.action, e.actor_person_id) for e in await entries(store)][1:]
    assert actions == [
        ("read_restricted_reflections", fia.id),
        ("export_bank", fia.id),
        ("role_change", fia.id),
    ]
    await chat.say("anna", "bank")  # her own: nothing to log
    assert len(await entries(store)) == 4
    with pytest.raises(DBAPIError):
        async with store.transaction() as repos:
            await repos.session.execute(text("UPDATE audit_log SET action = 'nothing'"))
    with pytest.raises(DBAPIError):
        async with store.transaction() as repos:
            await repos.session.execute(text("DELETE FROM audit_log"))
    assert len(await entries(store)) == 4


async def test_an_erasure_and_a_personal_export_are_logged_by_number_only(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    cohort = await make_cohort(store, programme)
    chat = Chat(digilog, cohort)
    async with store.transaction() as repos:
        anna = await repos.people.by_account(cohort.platform, cohort.workspace, "anna")
    assert anna is not None
    await chat.say("anna", "mydata")
    [erase_all, _] = (await chat.say("anna", "forget")).options
    await chat.click("anna", erase_all.action_id)
    logged = [(e.action, e.actor_person_id, e.subject_person_id) for e in await entries(store)]
    assert logged[-2:] == [
        ("export_personal_data", anna.id, anna.id),
        ("erasure", anna.id, anna.id),
    ]


async def test_names_and_ids_longer_than_any_real_one_are_fitted_or_refused(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    """SQLite stores any length; PostgreSQL refuses a value longer than its column."""
    cohort = await make_cohort(store, programme, self_enrol=True)
    chat = Chat(digilog, cohort)
    long_name = "Å" * 1000
    chat_actor = chat.actor
    chat.actor = lambda user: replace(chat_actor(user), display_name=long_name)  # type: ignore[method-assign]
    joined = await chat.say("newcomer", "join umea")
    assert "Welcome" in joined.text or "joined" in joined.text.lower(), joined.text
    async with store.transaction() as repos:
        person = await repos.people.by_account("console", "local", "newcomer")
        assert person is not None and person.display_name == "Å" * 200
    chat.actor = chat_actor  # type: ignore[method-assign]

    too_long = "u" * 150
    refused = await chat.say("fia", f"enrol {too_long} umea")
    assert "too long for a user id" in refused.text
    # Such an id from a platform is nobody real: ignored, and nothing stored.
    assert (await chat.say(too_long, "join umea")).outgoing == []
    async with store.transaction() as repos:
        assert await repos.people.by_account("console", "local", too_long) is None
