"""A person's rights: all their data as a file, and erasure that leaves no row naming them."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select, text

from handlers.core.channels import relay
from handlers.core.programme_file import Programme
from handlers.core.vocabulary import FileMessage, SelectField, ToPerson, say
from handlers.digilog import Digilog
from handlers.labs import session_key
from storage.deliveries import Planned
from storage.models import Cohort, InboundFailure, LabSignup, Person, Role, SignupState, utcnow
from storage.search import fts5_match, tsquery_literal
from storage.swedish import parse_query
from storage.unit import Store
from tests.chat import Chat
from tests.conftest import make_cohort, run_digilog

USER = "uzelda42"  # the person who asks to be forgotten; nothing else says "zelda"
EMAIL = "zelda.quorndon@umea.example"
PEOPLE = (
    ("fia", "Fia Facilitator", "region-vasterbotten", Role.facilitator),
    (USER, "Zelda Quorndon", "umea", Role.participant),
    ("bjorn", "Björn Öberg", "pitea", Role.participant),
    ("cecilia", "Cecilia Åström", "skelleftea", Role.participant),
)
POST = "Vi provade zyxqorbal i teamet och det gick bra."
REPLY = "Håller med, men plixwomb var svårare."
PRIVATE = "En privat tanke om frobnicat."
NEEDS = "Jag vill utveckla glorptang i min verksamhet."
COMMENT = "Bra tema, mer quuxwell nästa gång."
OTHERS_REPLY = "Intressant, Björn svarar här."
SECRET_WORDS = ("zyxqorbal", "plixwomb", "frobnicat", "glorptang", "quuxwell")


async def person_of(store: Store, user: str) -> Person:
    async with store.transaction() as repos:
        person = await repos.people.by_account("console", "local", user)
        assert person is not None
        return person


async def build_activity(store: Store, programme: Programme, digilog: Digilog) -> tuple[Chat, str]:
    """A cohort where the person has every kind of data Digilog keeps; and the lab key."""
    cohort = await make_cohort(store, programme, people=PEOPLE)
    chat = Chat(digilog, cohort)
    await chat.say("fia", "theme start 1")
    post_id, _ = await chat.post(USER, 1, POST)
    _, _ = await chat.post("bjorn", 1, OTHERS_REPLY, reply_to=post_id)
    bjorn_post, _ = await chat.post("bjorn", 1, "Björns eget inlägg.")
    await chat.post(USER, 1, REPLY, reply_to=bjorn_post)
    await chat.say(USER, f"reflect {PRIVATE}")
    await chat.say(USER, f"needs {NEEDS}")
    # Quiz
    await chat.say("fia", "quiz start 1")
    await chat.click(USER, f"quiz:{cohort.id}-1:0:0")
    # Survey and self-assessment
    await chat.say("fia", "survey open 1")
    [survey] = (await chat.say(USER, "survey 1")).forms
    await chat.submit(USER, survey.form_id, {"useful": "4", "buddy": "2", "comment": COMMENT})
    await chat.say("fia", "assess open start")
    [assess] = (await chat.say(USER, "assess")).forms
    values = {f.field_id: f.options[0][0] for f in assess.fields if isinstance(f, SelectField)}
    assert "saved" in (await chat.submit(USER, assess.form_id, values)).text
    # Buddies: a round, "we met", and a facilitator's rule
    preview = await chat.say("fia", "pair 1 --seed 7")
    [announce] = preview.options
    await chat.click("fia", announce.action_id)
    await chat.say("fia", f"pair pin {USER} cecilia")
    zelda = await person_of(store, USER)
    lab = programme.labs[0]
    key = session_key(lab, lab.sessions[0])
    now = utcnow()
    async with store.transaction() as repos:
        zelda_row = await repos.people.get(zelda.id)
        assert zelda_row is not None
        zelda_row.email = EMAIL
        bjorn = await person_of_in(repos, "bjorn")
        # One seat: she has it, Björn waits.
        assert (await repos.labs.sign_up(cohort.id, key, 1, zelda.id))[0] is SignupState.signed_up
        assert (await repos.labs.sign_up(cohort.id, key, 1, bjorn))[0] is SignupState.waiting
        group = await repos.buddies.latest_group_of(cohort.id, zelda.id)
        assert group is not None
        await repos.buddies.mark_met(group[0], zelda.id, now)
        await repos.deliveries.add(
            [
                Planned(
                    key=f"nudge:test:p{zelda.id}",
                    cohort_id=cohort.id,
                    kind="nudge",
                    due_at=now,
                    person_id=zelda.id,
                    theme_number=1,
                ),
                Planned(
                    key=f"alert:test:p{zelda.id}",
                    cohort_id=cohort.id,
                    kind="alert",
                    due_at=now,
                    about_person_id=zelda.id,
                ),
            ]
        )
        await relay(repos, cohort, ToPerson("console", "local", USER), say("hej"), now=now)
        await repos.addresses.remember(
            "console", "local", f"a:{USER}", "https://service.example/", "bot", user_id=USER
        )
        assert await repos.events.first_time("console", f"a:{USER}:message:1")
        # An action of hers that did not go through (bot/work.py keeps who, what, why).
        repos.session.add(
            InboundFailure(
                platform="console",
                workspace="local",
                user_id=USER,
                conversation_id=None,
                cohort_id=cohort.id,
                kind="action",
                what="button: quiz",
                reason="IntegrityError at storage/quizzes.py:58",
                attempts=3,
                told=True,
                received_at=now,
            )
        )
    return chat, key


async def person_of_in(repos: Any, user: str) -> int:
    person = await repos.people.by_account("console", "local", user)
    assert person is not None
    return int(person.id)


def unzip(content: bytes) -> tuple[dict[str, Any], set[str]]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return json.loads(archive.read("data.json")), set(archive.namelist())


# ---------------------------------------------------------------- export


async def test_mydata_holds_every_kind_of_data(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    chat, _ = await build_activity(store, programme, digilog)
    reply = await chat.say(USER, "mydata")
    [file] = [o.message for o in reply.outgoing if isinstance(o.message, FileMessage)]
    data, names = unzip(file.content)
    assert "data.json" in names
    for table in (
        "person",
        "memberships",
        "reflections",
        "replies_to_you",
        "quiz_answers",
        "survey_answers",
        "lab_signups",
        "buddy_groups",
        "buddy_rules",
        "deliveries",
        "conversation_addresses",
        "failed_actions",
    ):
        assert data[table], table
        assert f"{table}.csv" in names
    [person] = data["person"]
    assert person["user_id"] == USER and person["email"] == EMAIL
    bodies = {r["body"] for r in data["reflections"]}
    assert {POST, REPLY, PRIVATE, NEEDS} <= bodies
    # That Björn answered her, never his words.
    assert len(data["replies_to_you"]) == 1
    assert OTHERS_REPLY not in json.dumps(data, ensure_ascii=False)
    keys = {a["survey_key"] for a in data["survey_answers"]}
    assert keys == {"theme:1", "assessment:start"}
    assert COMMENT in {a["text"] for a in data["survey_answers"]}
    assert {d["direction"] for d in data["deliveries"]} == {"to", "about"}
    assert data["buddy_groups"][0]["met_at"] is not None
    assert data["lab_signups"][0]["state"] == "signed_up"

    # Someone in no cohort: the file still comes; someone unknown: nothing is stored.
    unknown = await chat.say("stranger", "mydata")
    assert "stores nothing about you" in unknown.text


# ---------------------------------------------------------------- erasure


async def all_rows(store: Store) -> dict[str, list[str]]:
    """Every row of every table in the database, each value as text."""
    async with store.engine.connect() as connection:
        names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        if connection.dialect.name == "sqlite":
            rows = await connection.execute(
                text("SELECT name FROM sqlite_master WHERE type='table'")
            )
            names = sorted(set(names) | {r[0] for r in rows})
        found: dict[str, list[str]] = {}
        for name in names:
            result = await connection.execute(text(f'SELECT * FROM "{name}"'))
            found[name] = [
                " | ".join(
                    v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in row
                )
                for row in result
            ]
        return found


async def fts_hits(store: Store, word: str) -> int:
    async with store.engine.connect() as connection:
        if connection.dialect.name != "sqlite":
            query = "SELECT count(*) FROM reflections WHERE search_vector @@ CAST(:q AS tsquery)"
            q = tsquery_literal(parse_query(word))
            return int((await connection.execute(text(query), {"q": q})).scalar_one())
        query = "SELECT count(*) FROM reflection_search WHERE reflection_search MATCH :m"
        match = fts5_match(parse_query(word))
        return int((await connection.execute(text(query), {"m": match})).scalar_one())


def naming(rows: dict[str, list[str]], needles: list[str]) -> list[str]:
    return [
        f"{table}: {row}"
        for table, values in rows.items()
        for row in values
        if any(n.lower() in row.lower() for n in needles)
    ]


@pytest.mark.parametrize("keep", [False, True], ids=["all", "keep-reflections"])
async def test_forget_leaves_no_row_naming_the_person(
    store: Store, programme: Programme, digilog: Digilog, keep: bool
) -> None:
    chat, key = await build_activity(store, programme, digilog)
    cohort = chat.cohort
    zelda = await person_of(store, USER)
    names = [USER, EMAIL, "Zelda", zelda.display_name]
    async with store.transaction() as repos:
        posts_before = await repos.reflections.count(cohort.id)
    assert naming(await all_rows(store), names)  # the scan does find her while she is there

    preview = await chat.say(USER, "forget")
    assert "It cannot be undone" in preview.text
    assert [o.action_id for o in preview.options] == [
        f"forget:{cohort.id}:{zelda.id}:all",
        f"forget:{cohort.id}:{zelda.id}:keep",
    ]
    done = await chat.click(USER, preview.options[1 if keep else 0].action_id)
    assert "is erased" in done.text
    # Björn waited for her seat and has it now, and is told.
    told = [o for o in done.outgoing if isinstance(o.to, ToPerson) and o.to.user_id == "bjorn"]
    assert told and "A seat freed up" in chat_text(told[0])

    rows = await all_rows(store)
    assert naming(rows, names) == []
    kept_texts = [POST, REPLY, NEEDS] if keep else []
    gone = [t for t in (POST, REPLY, PRIVATE, NEEDS, COMMENT) if t not in kept_texts]
    assert naming(rows, gone) == []
    for word in SECRET_WORDS:
        expected = 1 if keep and any(word in t for t in kept_texts) else 0
        assert await fts_hits(store, word) == expected, word

    async with store.transaction() as repos:
        bjorn = await person_of_in(repos, "bjorn")
        seats = await repos.labs.people(cohort.id, key, SignupState.signed_up)
        assert [p.id for p in seats] == [bjorn]
        assert await repos.labs.people(cohort.id, key, SignupState.waiting) == []
        members = await repos.people.members(cohort.id)
        assert USER not in {m.person.user_id for m in members}
        assert all(m.person.display_name != "Anonymous participant" for m in members)
        posts_after = await repos.reflections.count(cohort.id)
        # Her post, reply and needs inventory stay, anonymously; the private one goes.
        assert posts_after == posts_before - (1 if keep else 4)
        activity = await repos.reflections.digilog_activity(cohort.id)
        assert len(activity) == (4 if keep else 2)
    # Others' answers to her keep their text.
    assert naming(rows, [OTHERS_REPLY])
    bank = await chat.say("bjorn", "bank")
    assert ("Anonymous participant" in bank.text) is keep
    # Her account is new to Digilog now.
    assert "stores nothing about you" in (await chat.say(USER, "mydata")).text


def chat_text(outgoing: Any) -> str:
    from bot.console.render import render

    return render(outgoing.message)[0]


async def test_nobody_else_can_press_forget(
    store: Store, programme: Programme, digilog: Digilog, cohort: Cohort
) -> None:
    chat = Chat(digilog, cohort)
    await chat.say("anna", "theme")
    [option, _] = (await chat.say("anna", "forget")).options
    forged = await chat.click("bjorn", option.action_id)
    assert "Only the person who asked to be forgotten" in forged.text
    for bad in ("forget:0:x:all", f"forget:{cohort.id}:1:maybe", "forget"):
        assert "no longer does anything" in (await chat.click("anna", bad)).text
    async with store.transaction() as repos:
        assert await repos.people.by_account("console", "local", "anna") is not None
        assert len(await repos.people.members(cohort.id)) == 4


# ---------------------------------------------------------------- administrator


def test_person_export_and_erase_from_the_terminal(
    database_url: str, tmp_path: Path, store: Store, programme: Programme, digilog: Digilog
) -> None:
    import asyncio

    async def setup() -> None:
        await build_activity(store, programme, digilog)
        await store.engine.dispose()

    asyncio.run(setup())
    account = ("--user-id", USER, "--platform", "console", "--workspace", "local")
    out = tmp_path / "zelda.zip"
    exported = run_digilog(database_url, tmp_path, "person", "export", *account, "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    data, _ = unzip(out.read_bytes())
    assert data["person"][0]["email"] == EMAIL
    by_mail = tmp_path / "mail.zip"
    assert (
        run_digilog(
            database_url,
            tmp_path,
            "person",
            "export",
            "--email",
            EMAIL.upper(),
            "--out",
            str(by_mail),
        ).returncode
        == 0
    )
    assert unzip(by_mail.read_bytes())[0]["person"] == data["person"]

    # Bad input: a clear message, and nothing changes.
    for args, message in (
        (("person", "erase", "--user-id", USER), "together"),
        (("person", "erase", "--email", EMAIL, "--user-id", USER), "either --email"),
        (("person", "erase", "--email", "nobody@example.org", "--yes"), "nobody is stored as"),
        (("person", "export", "--email", EMAIL, "--out", str(tmp_path / "x.txt")), ".zip"),
    ):
        refused = run_digilog(database_url, tmp_path, *args, language="en")
        assert refused.returncode != 0 and message in refused.stderr, (args, refused.stderr)
    declined = run_digilog(
        database_url, tmp_path, "person", "erase", *account, stdin="n\n", language="en"
    )
    assert declined.returncode == 1 and "nothing was erased" in declined.stdout
    assert "Reflections you wrote: 4" in declined.stdout
    # A Swede is asked in Swedish and answers in Swedish; anything else is asked again.
    nej = run_digilog(database_url, tmp_path, "person", "erase", *account, stdin="kanske\nnej\n")
    assert nej.returncode == 1 and "Radera? [j/N]:" in nej.stdout and "[y/N]" not in nej.stdout
    assert "Svara ja eller nej." in nej.stderr and "ingenting raderades" in nej.stdout

    async def still_there() -> bool:
        async with store.transaction() as repos:
            found = await repos.people.by_account("console", "local", USER) is not None
        await store.engine.dispose()
        return found

    assert asyncio.run(still_there())
    erased = run_digilog(database_url, tmp_path, "person", "erase", *account, "--yes")
    assert erased.returncode == 0, erased.stderr
    assert "är raderad" in erased.stdout  # in DIGILOG_LANGUAGE

    async def scan() -> tuple[list[str], int]:
        rows = await all_rows(store)
        async with store.transaction() as repos:
            waiting = await repos.session.scalars(
                select(LabSignup.id).where(LabSignup.state == SignupState.waiting)
            )
            count = len(list(waiting))
        await store.engine.dispose()
        return naming(rows, [USER, EMAIL, "Zelda", POST]), count

    leftovers, waiting = asyncio.run(scan())
    assert leftovers == []
    assert waiting == 0  # Björn got her seat
    again = run_digilog(database_url, tmp_path, "person", "erase", *account, "--yes")
    assert again.returncode != 0 and "ingen är sparad som" in again.stderr


@pytest.mark.parametrize("container", ["message", "ephemeral", "view"])
def test_the_journal_keeps_of_a_slack_click_only_what_its_work_reads(container: str) -> None:
    """A click on a channel post brings the post's text and blocks and the clicker's name:
    the inbound journal stores none of them, and the work reads the same from what it
    keeps as from the whole."""
    from urllib.parse import parse_qs

    from bot.slack import translate
    from handlers.core.vocabulary import Actor
    from tests import slack_payloads

    request = slack_payloads.block_action(
        "quiz:c-1:0:2",
        "quiz:c-1:0:2",
        container=container,  # type: ignore[arg-type]
        message_text="Hemliga tankar om min chef",
        kind="static_select",
    )
    body = json.loads(parse_qs(request.body)["payload"][0])
    assert translate.problem(body) is None
    kept = translate.click_to_keep(body)
    stored = json.dumps(kept, ensure_ascii=False)
    for private in ("Hemliga tankar", '"name"', '"username"', '"token"', '"api_app_id"'):
        assert private not in stored
    assert translate.problem(kept) is None
    who = Actor("slack", "T_DIGILOG", "U_ANNA", "Anna")
    assert translate.choice(kept, who) == translate.choice(body, who)
    assert translate.team_of(kept) == translate.team_of(body)
    for key in ("response_url", "trigger_id"):
        assert kept.get(key) == body.get(key)
    assert (kept.get("container") or {}).get("is_ephemeral") == (
        (body.get("container") or {}).get("is_ephemeral")
    )
