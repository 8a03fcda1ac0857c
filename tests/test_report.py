"""The facilitators' report: its figures match what the test itself counted; a real PNG."""

from __future__ import annotations

import json
import random
import struct
from collections import Counter
from pathlib import Path

import pytest

from bot.console.render import render
from handlers.core.i18n import translator
from handlers.core.programme_file import Programme
from handlers.core.vocabulary import FileMessage, Message
from handlers.digilog import Digilog
from handlers.report import chart, figures, table
from storage.models import Cohort, Role
from storage.unit import Store
from tests.chat import Chat
from tests.conftest import make_cohort, run_digilog
from tests.excel import is_number, open_as_excel

ORGS = {
    "umea": "Umeå Municipality",
    "pitea": "Piteå Municipality",
    "skelleftea": "Skellefteå Municipality",
}


async def test_the_report_counts_what_happened(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    rng = random.Random(4)
    people = tuple(
        (f"u{n:02d}", f"Person {n:02d}", list(ORGS)[n % 3], Role.participant) for n in range(18)
    )
    cohort = await make_cohort(
        store, programme, people=(("fia", "Fia", "region-vasterbotten", Role.facilitator), *people)
    )
    chat = Chat(digilog, cohort)
    await chat.say("fia", "theme start 1")
    org_of = {user: ORGS[org] for user, _, org, _ in people}
    posted, posts, replies, across = Counter(), Counter(), Counter(), Counter()
    first_posts: list[tuple[str, str]] = []
    for user, *_ in people:
        if rng.random() < 0.6:
            message_id, _ = await chat.post(user, 1, f"Ett inlägg av {user}.")
            first_posts.append((user, message_id))
            posted[org_of[user]] += 1
            posts[org_of[user]] += 1
    for user, *_ in people:
        if first_posts and rng.random() < 0.5:
            author, message_id = rng.choice(first_posts)
            if author == user:
                continue
            await chat.post(user, 1, f"Ett svar av {user}.", reply_to=message_id)
            if user not in dict(first_posts):  # a reply is taking part too
                posted[org_of[user]] += 1
            replies[org_of[user]] += 1
            across[org_of[user]] += org_of[author] != org_of[user]
    await chat.say("fia", "quiz start 1")
    done: Counter[str] = Counter()
    for user, *_ in people[:7]:
        reply = await chat.click(user, f"quiz:{cohort.id}-1:begin")
        while reply.options and reply.options[0].action_id.startswith("quiz:"):
            reply = await chat.click(user, reply.options[0].action_id)
        done[org_of[user]] += 1

    async with store.transaction() as repos:
        found = await figures(repos, cohort, translator("en"))
    assert found.themes == [(1, "Why there is such a focus on digital transformation")]
    for org in ORGS.values():
        row = found.row(1, org)
        assert row.participants == 6
        assert (row.posted, row.posts, row.replies, row.replies_across) == (
            posted[org],
            posts[org],
            replies[org],
            across[org],
        ), org
        assert row.quiz_done == done[org]
    csv_text = table(translator("en"), found)
    head, *rows = open_as_excel(csv_text, "en")
    assert head[:4] == ["Theme", "Organisation", "Participants", "Posted"]
    assert len(rows) == 3
    head, *rows = open_as_excel(table(translator("sv"), found), "sv")
    assert head[:4] == ["Tema", "Organisation", "Deltagare", "Har skrivit inlägg"]
    scores = [row[-1] for row in rows if row[-1]]
    assert all(is_number(score, "sv") for score in scores), scores

    png = chart(translator("en"), found)
    assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width > 500 and height > 200

    [text, file] = (await chat.say("fia", "report")).outgoing
    assert isinstance(text.message, Message)
    shown = render(text.message)[0]
    umea = found.row(1, "Umeå Municipality")
    assert f"{umea.posted} of 6 in the digilog · {umea.replies} replies" in shown
    assert isinstance(file.message, FileMessage) and file.message.content[:4] == b"\x89PNG"
    not_allowed = await chat.say("u01", "report")
    assert "Only a facilitator" in not_allowed.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_cli_writes_the_chart_and_the_csv(database_url: str, tmp_path: Path) -> None:
    assert (
        run_digilog(database_url, tmp_path, "console", stdin="theme start 1\nquit\n").returncode
        == 0
    )
    # The demo's four participants are too few to show; nine more make two groups of five.
    too_few = run_digilog(database_url, tmp_path, "report", "demo", "--out", str(tmp_path / "few"))
    assert too_few.returncode == 0, too_few.stderr
    assert not (tmp_path / "few" / "participation.png").exists()
    roster = tmp_path / "roster.csv"
    rows = [f"U{n},u{n},umea" for n in range(5)] + [f"P{n},p{n},pitea" for n in range(4)]
    roster.write_text("name,user id,organisation\n" + "\n".join(rows) + "\n", encoding="utf-8")
    assert (
        run_digilog(database_url, tmp_path, "cohort", "import", "demo", str(roster)).returncode == 0
    )
    written = run_digilog(database_url, tmp_path, "report", "demo", "--out", str(tmp_path / "out"))
    assert written.returncode == 0, written.stderr
    assert (tmp_path / "out" / "participation.png").read_bytes()[:4] == b"\x89PNG"
    rows = open_as_excel((tmp_path / "out" / "report.csv").read_bytes(), "sv")
    assert ["1", "Umeå kommun", "6"] in [row[:3] for row in rows]
    assert ["1", "Övriga organisationer", "7"] in [row[:3] for row in rows]
    missing = run_digilog(database_url, tmp_path, "report", "nope")
    assert missing.returncode == 1 and "det finns ingen deltagargrupp ”nope”" in missing.stderr


async def test_a_pseudonymised_export_in_the_chat(cohort: Cohort, digilog: Digilog) -> None:
    chat = Chat(digilog, cohort)
    await chat.say("fia", "theme start 1")
    await chat.post("anna", 1, "Vi delar allt i Teams nu.")

    async def exported(command: str) -> list[dict[str, object]]:
        [file] = [o.message for o in (await chat.say("fia", command)).outgoing]
        assert isinstance(file, FileMessage)
        rows: list[dict[str, object]] = json.loads(file.content)
        return rows

    [named] = await exported("export json")
    [first] = await exported("export json --pseudonymised")
    [second] = await exported("export json --pseudonymised --no-text")
    assert named["author"] == "Anna Lindqvist"
    assert first["author"] == second["author"] != named["author"]
    assert first["author_user_id"] is None and second["body"] is None
