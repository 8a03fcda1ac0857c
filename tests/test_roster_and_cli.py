"""Roster files as spreadsheets write them, and the `digilog` command line on both databases.

The CLI opens its own engine and calls asyncio.run, so these tests are synchronous and
set up or inspect data with small asyncio.run helpers of their own.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from bot.cli import main
from handlers.core.csv_cells import header
from handlers.core.i18n import translator
from handlers.core.programme_file import load_programme as read_programme
from handlers.core.roster import parse_roster
from handlers.digilog import Digilog
from handlers.export import FIELDS as EXPORT_FIELDS
from storage.db import create_engine
from storage.models import Role
from storage.unit import Store
from tests.chat import Chat
from tests.conftest import EXAMPLE, make_cohort, run_digilog
from tests.excel import open_as_excel

# ---------------------------------------------------------------- parse_roster


def problems_of(data: bytes) -> list[str]:
    return [p.format("roster.csv") for p in parse_roster(data)[1]]


def test_a_comma_separated_roster() -> None:
    data = (
        b"name,email,organisation,role\n"
        b"Anna Lindqvist,anna.lindqvist@umea.se,umea,participant\n"
        b"Fia Facilitator,fia@regionvasterbotten.se,region-vasterbotten,facilitator\n"
    )

    rows, problems = parse_roster(data)

    assert problems == []
    assert [(r.line, r.name, r.email, r.organisation, r.role) for r in rows] == [
        (2, "Anna Lindqvist", "anna.lindqvist@umea.se", "umea", Role.participant),
        (
            3,
            "Fia Facilitator",
            "fia@regionvasterbotten.se",
            "region-vasterbotten",
            Role.facilitator,
        ),
    ]


SWEDISH_ROSTER = (
    "namn;e-post;organisation;roll\r\n"
    "Åsa Öberg;asa.oberg@ornskoldsvik.se;Örnsköldsviks kommun;deltagare\r\n"
    "Örjan Ärlig;orjan.arlig@skelleftea.se;Skellefteå kommun;processledare\r\n"
)
SWEDISH_ROWS = [
    (2, "Åsa Öberg", "asa.oberg@ornskoldsvik.se", "Örnsköldsviks kommun", Role.participant),
    (3, "Örjan Ärlig", "orjan.arlig@skelleftea.se", "Skellefteå kommun", Role.facilitator),
]


def test_a_semicolon_roster_with_a_byte_order_mark_keeps_the_swedish_letters() -> None:
    rows, problems = parse_roster(b"\xef\xbb\xbf" + SWEDISH_ROSTER.encode("utf-8"))

    assert problems == []
    assert [(r.line, r.name, r.email, r.organisation, r.role) for r in rows] == SWEDISH_ROWS


def test_a_roster_saved_by_old_excel_in_cp1252_is_decoded() -> None:
    data = SWEDISH_ROSTER.encode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # what makes it a cp1252 file

    rows, problems = parse_roster(data)

    assert problems == []
    assert [(r.line, r.name, r.email, r.organisation, r.role) for r in rows] == SWEDISH_ROWS


def test_swedish_headers_in_any_case_and_a_user_id_column() -> None:
    data = (
        "Namn;Användar-id;Kommun;Roll\n"
        "Björn Öberg;U123BJORN;Piteå kommun;Deltagare\n"
        "Cecilia Åström;U456CECI;skelleftea;PROCESSLEDARE\n"
    ).encode()

    rows, problems = parse_roster(data)

    assert problems == []
    assert [(r.name, r.user_id, r.email, r.organisation, r.role) for r in rows] == [
        ("Björn Öberg", "U123BJORN", None, "Piteå kommun", Role.participant),
        ("Cecilia Åström", "U456CECI", None, "skelleftea", Role.facilitator),
    ]


def test_bad_rows_are_reported_with_their_line_numbers_and_blank_lines_skipped() -> None:
    data = (
        "namn;e-post;organisation;roll\n"  # 1
        "Anna Lindqvist;anna@umea.se;umea;deltagare\n"  # 2
        "\n"  # 3
        "Utan Organisation;utan@umea.se;;deltagare\n"  # 4
        "Fel Adress;inte-en-adress;umea;deltagare\n"  # 5
        "Fel Roll;chef@umea.se;umea;chef\n"  # 6
        ";;;\n"  # 7: empty cells, a blank row too
        "Anna Igen;ANNA@umea.se;pitea;deltagare\n"  # 8: the same e-mail as line 2
        '"Björn\nÖberg";bjorn@pitea.se;pitea;deltagare\n'  # 9–10: a name over two lines
        "Cecilia Åström;cecilia@skelleftea;skelleftea;\n"  # 11
    ).encode()

    rows, problems = parse_roster(data)

    assert [(r.line, r.name) for r in rows] == [(2, "Anna Lindqvist"), (9, "Björn\nÖberg")]
    assert [p.format("roster.csv") for p in problems] == [
        "roster.csv:4: organisation: missing",
        "roster.csv:5: email: “inte-en-adress” is not an email address",
        "roster.csv:6: role: “chef”: use participant, facilitator or support",
        "roster.csv:8: (row): the same person as on line 2",
        "roster.csv:11: email: “cecilia@skelleftea” is not an email address",
    ]


def test_a_roster_without_the_needed_columns() -> None:
    assert problems_of(b"namn;roll\nAnna;deltagare\n") == [
        "roster.csv:1: (header): no organisation column",
        "roster.csv:1: (header): needs an email or a user id column",
    ]
    assert problems_of(b"") == ["roster.csv:1: (file): the file is empty"]


# ---------------------------------------------------------------- running the CLI


def digilog(database_url: str, *args: str) -> Result:
    env = {"DIGILOG_DATABASE_URL": database_url, "DIGILOG_LANGUAGE": "en"}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def ok(database_url: str, *args: str) -> Result:
    result = digilog(database_url, *args)
    assert result.exit_code == 0, result.output
    return result


def cohort_with_programme(database_url: str, key: str = "grupp-1") -> None:
    ok(database_url, "program", "load", str(EXAMPLE))
    ok(
        database_url,
        "cohort",
        "create",
        key,
        "--program",
        "digital-kompetens",
        "--title",
        "Grupp 1",
    )


async def _members(database_url: str, key: str) -> list[tuple[str, str | None, str, Role]]:
    engine = create_engine(database_url)
    try:
        async with Store(engine).transaction() as repos:
            cohort = await repos.cohorts.by_key(key)
            assert cohort is not None
            return [
                (
                    m.person.display_name,
                    m.person.email or m.person.user_id,
                    m.organisation.key,
                    m.membership.role,
                )
                for m in await repos.people.members(cohort.id)
            ]
    finally:
        await engine.dispose()


def members(database_url: str, key: str = "grupp-1") -> list[tuple[str, str | None, str, Role]]:
    return asyncio.run(_members(database_url, key))


async def _cohort_keys(database_url: str) -> list[str]:
    engine = create_engine(database_url)
    try:
        async with Store(engine).transaction() as repos:
            return [c.key for c in await repos.cohorts.all()]
    finally:
        await engine.dispose()


# ---------------------------------------------------------------- digilog cohort import

GOOD_AND_UNKNOWN_ORGANISATION = (
    "namn;e-post;organisation;roll\n"
    "Åsa Öberg;asa.oberg@ornskoldsvik.se;Örnsköldsviks kommun;deltagare\n"
    "Lena Luleå;lena@lulea.se;Luleå kommun;deltagare\n"
    "Per Persson;per.persson@pitea.se;pitea;processledare\n"
)
GOOD_AND_BAD_EMAIL = (
    "namn;e-post;organisation;roll\n"
    "Åsa Öberg;asa.oberg@ornskoldsvik.se;Örnsköldsviks kommun;deltagare\n"
    "Lena Lind;lena-at-umea.se;umea;deltagare\n"
    "Per Persson;per.persson@pitea.se;pitea;processledare\n"
)
KNOWN = "umea, skelleftea, ornskoldsvik, pitea, region-vasterbotten"
BAD_ROWS = {
    "unknown organisation": (
        GOOD_AND_UNKNOWN_ORGANISATION,
        f"organisation: unknown “Luleå kommun” (known: {KNOWN})",
    ),
    "bad email": (GOOD_AND_BAD_EMAIL, "email: “lena-at-umea.se” is not an email address"),
}
GOOD_PEOPLE = [
    ("Per Persson", "per.persson@pitea.se", "pitea", Role.facilitator),
    ("Åsa Öberg", "asa.oberg@ornskoldsvik.se", "ornskoldsvik", Role.participant),
]


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_import_with_a_bad_row_stores_nothing(database_url: str, tmp_path: Path, case: str) -> None:
    roster, problem = BAD_ROWS[case]
    cohort_with_programme(database_url)
    path = tmp_path / "roster.csv"
    path.write_text(roster, encoding="utf-8-sig")

    result = digilog(database_url, "cohort", "import", "grupp-1", str(path))

    assert result.exit_code != 0
    assert f"{path}:3: {problem}" in result.stderr.splitlines()
    assert "nothing was imported" in result.stderr
    assert members(database_url) == []


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_import_skipping_bad_rows_stores_the_good_ones(
    database_url: str, tmp_path: Path, case: str
) -> None:
    roster, problem = BAD_ROWS[case]
    cohort_with_programme(database_url)
    path = tmp_path / "roster.csv"
    path.write_text(roster, encoding="utf-8-sig")

    result = ok(database_url, "cohort", "import", "grupp-1", str(path), "--skip-bad")

    assert result.stderr.splitlines() == [f"{path}:3: {problem}"]
    assert result.stdout.strip() == "2 people enrolled (2 new, 0 updated); 1 row skipped"
    assert members(database_url) == GOOD_PEOPLE


def test_importing_the_same_roster_again_updates(database_url: str, tmp_path: Path) -> None:
    cohort_with_programme(database_url)
    path = tmp_path / "roster.csv"
    path.write_bytes(SWEDISH_ROSTER.encode("cp1252"))
    first = ok(database_url, "cohort", "import", "grupp-1", str(path))

    again = ok(database_url, "cohort", "import", "grupp-1", str(path))

    assert first.stdout.strip() == "2 people enrolled (2 new, 0 updated)"
    assert again.stdout.strip() == "2 people enrolled (0 new, 2 updated)"
    assert members(database_url) == [
        ("Åsa Öberg", "asa.oberg@ornskoldsvik.se", "ornskoldsvik", Role.participant),
        ("Örjan Ärlig", "orjan.arlig@skelleftea.se", "skelleftea", Role.facilitator),
    ]


def test_import_into_an_unknown_cohort(database_url: str, tmp_path: Path) -> None:
    cohort_with_programme(database_url)
    path = tmp_path / "roster.csv"
    path.write_text(SWEDISH_ROSTER, encoding="utf-8")

    result = digilog(database_url, "cohort", "import", "grupp-9", str(path))

    assert result.exit_code != 0
    assert "no cohort “grupp-9”" in result.stderr


# ---------------------------------------------------------------- digilog cohort create / enrol


def test_create_a_cohort_for_an_unknown_programme(database_url: str) -> None:
    ok(database_url, "program", "load", str(EXAMPLE))

    result = digilog(
        database_url, "cohort", "create", "grupp-1", "--program", "okand", "--title", "Grupp 1"
    )

    assert result.exit_code != 0
    assert "Error: no programme “okand” is loaded (digilog program load FILE)" in result.stderr
    assert asyncio.run(_cohort_keys(database_url)) == []


def test_create_a_cohort_twice(database_url: str) -> None:
    cohort_with_programme(database_url)

    result = digilog(
        database_url,
        "cohort",
        "create",
        "grupp-1",
        "--program",
        "digital-kompetens",
        "--title",
        "Grupp 1 igen",
    )

    assert result.exit_code != 0
    assert "Error: a cohort “grupp-1” exists already" in result.stderr
    assert asyncio.run(_cohort_keys(database_url)) == ["grupp-1"]


def test_create_a_cohort_with_a_bad_key(database_url: str) -> None:
    ok(database_url, "program", "load", str(EXAMPLE))

    result = digilog(
        database_url,
        "cohort",
        "create",
        "Grupp 1",
        "--program",
        "digital-kompetens",
        "--title",
        "Grupp 1",
    )

    assert result.exit_code != 0
    assert "cohort key “Grupp 1”: use lowercase letters, digits and hyphens" in result.stderr
    assert asyncio.run(_cohort_keys(database_url)) == []


def test_enrol_one_person_and_change_their_role(database_url: str) -> None:
    cohort_with_programme(database_url)

    first = ok(
        database_url,
        "cohort",
        "enrol",
        "grupp-1",
        "--user-id",
        "dora",
        "--name",
        "Dora Ek",
        "--org",
        "Piteå kommun",
    )
    again = ok(
        database_url,
        "cohort",
        "enrol",
        "grupp-1",
        "--user-id",
        "dora",
        "--name",
        "Dora Ek",
        "--org",
        "umea",
        "--role",
        "facilitator",
    )

    assert first.stdout.strip() == "Dora Ek: enrolled as participant"
    assert again.stdout.strip() == "Dora Ek: updated as facilitator"
    assert members(database_url) == [("Dora Ek", "dora", "umea", Role.facilitator)]


def test_enrol_in_an_unknown_organisation(database_url: str) -> None:
    cohort_with_programme(database_url)

    result = digilog(
        database_url, "cohort", "enrol", "grupp-1", "--user-id", "dora", "--org", "lulea"
    )

    assert result.exit_code != 0
    assert f"Error: unknown “lulea” (known: {KNOWN})" in result.stderr
    assert members(database_url) == []


# ---------------------------------------------------------------- digilog bank export

TRICKY = 'Vi säger "digitalt först", men:\nÅsa i Örnsköldsvik håller inte med; hon vill ha tid.'


async def _reflections(database_url: str) -> None:
    """Grupp 1: a digilog post, a reply and a private reflection; grupp 2: one reflection."""
    engine = create_engine(database_url)
    try:
        store = Store(engine)
        programme = read_programme(EXAMPLE)
        chat = Chat(Digilog(store), await make_cohort(store, programme, "grupp-1"))
        await chat.say("fia", "theme start 1")
        post_id, _ = await chat.post("anna", 1, TRICKY)
        await chat.post("bjorn", 1, "Hos oss i Piteå tar vi det stegvis.", reply_to=post_id)
        await chat.say("cecilia", "reflect Min egen tanke, bara för mig.")
        other = await make_cohort(
            store, programme, "grupp-2", people=(("gun", "Gun Gran", "umea", Role.facilitator),)
        )
        await Chat(Digilog(store), other).say("gun", "reflect --cohort Från en annan grupp.")
    finally:
        await engine.dispose()


EXPECTED_EXPORT = [
    # author, author_user_id, organisation, theme, source, visibility, replied_to, body
    ("Anna Lindqvist", "anna", "umea", "1", "digilog_post", "cohort", "", TRICKY),
    (
        "Björn Öberg",
        "bjorn",
        "pitea",
        "1",
        "digilog_reply",
        "cohort",
        "Anna Lindqvist",
        "Hos oss i Piteå tar vi det stegvis.",
    ),
    (
        "Cecilia Åström",
        "cecilia",
        "skelleftea",
        "1",
        "command",
        "private",
        "",
        "Min egen tanke, bara för mig.",
    ),
]
EXPORT_HEADER = tuple(header(translator("en"), EXPORT_FIELDS))
COMPARED = (
    "author",
    "author_user_id",
    "organisation",
    "theme",
    "source",
    "visibility",
    "replied_to",
    "body",
)


def test_export_as_csv_survives_commas_quotes_newlines_and_swedish(database_url: str) -> None:
    asyncio.run(_reflections(database_url))

    result = ok(database_url, "bank", "export", "grupp-1", "--format", "csv", "--include-private")

    records = open_as_excel(result.stdout, "en")
    assert tuple(records[0]) == EXPORT_HEADER
    exported = [dict(zip(EXPORT_FIELDS, record, strict=True)) for record in records[1:]]
    assert [tuple(r[k] for k in COMPARED) for r in exported] == EXPECTED_EXPORT
    assert exported[1]["reply_to_id"] == exported[0]["id"]
    assert result.stderr.strip() == "3 reflections exported"
    # Only when asked: a private reflection is its author's, and the log says who took it.
    shared = ok(database_url, "bank", "export", "grupp-1", "--format", "csv")
    records = open_as_excel(shared.stdout, "en")
    assert [tuple(r[EXPORT_FIELDS.index(k)] for k in COMPARED) for r in records[1:]] == (
        EXPECTED_EXPORT[:2]
    )
    assert shared.stderr.strip() == "2 reflections exported"
    logged = [json.loads(line) for line in ok(database_url, "audit", "--json").stdout.splitlines()]
    assert [e["detail"]["private"] for e in logged if e["action"] == "export_bank"] == [False, True]
    shown = ok(database_url, "audit").stdout.splitlines()
    exports = [line for line in shown if "reflection bank exported" in line]
    assert [line.endswith("private reflections included: no") for line in exports] == [True, False]


def test_an_english_export_opens_in_swedish_excel_with_excel(database_url: str) -> None:
    """An administrator who reads English on a Swedish computer: without --excel the commas
    put each row in one column there; with it the same records open in their columns."""
    asyncio.run(_reflections(database_url))
    plain = ok(database_url, "bank", "export", "grupp-1", "--format", "csv").stdout
    head = plain.splitlines()[0]
    assert ";" not in head and "," in head  # Swedish Excel: the whole header in one column
    excel = ok(database_url, "bank", "export", "grupp-1", "--format", "csv", "--excel").stdout
    assert open_as_excel(excel, "sv") == open_as_excel(plain, "en")  # English words, `;`
    refused = digilog(database_url, "bank", "export", "grupp-1", "--format", "json", "--excel")
    assert refused.exit_code == 2 and "--excel goes with --format csv" in refused.output


def test_export_as_json_survives_commas_quotes_newlines_and_swedish(
    database_url: str, tmp_path: Path
) -> None:
    asyncio.run(_reflections(database_url))
    out = tmp_path / "bank.json"

    private = "--include-private"
    on_stdout = ok(database_url, "bank", "export", "grupp-1", "--format", "json", private)
    ok(database_url, "bank", "export", "grupp-1", "--format", "json", private, "--out", str(out))

    for exported in (json.loads(on_stdout.stdout), json.loads(out.read_text(encoding="utf-8"))):
        assert [tuple(r) for r in exported] == [EXPORT_FIELDS] * 3
        assert [
            tuple("" if r[k] is None else str(r[k]) for k in COMPARED) for r in exported
        ] == EXPECTED_EXPORT
        assert exported[0]["theme"] == 1 and exported[1]["reply_to_id"] == exported[0]["id"]
    assert "Örnsköldsvik" in out.read_text(encoding="utf-8")  # written as text, not \u escapes


def test_a_pseudonymised_export_has_stable_ids_and_no_names(database_url: str) -> None:
    asyncio.run(_reflections(database_url))

    pseudonymised = ("--format", "json", "--pseudonymised", "--include-private")
    first = ok(database_url, "bank", "export", "grupp-1", *pseudonymised)
    again = ok(database_url, "bank", "export", "grupp-1", *pseudonymised)
    bare = ok(database_url, "bank", "export", "grupp-1", *pseudonymised, "--no-text")

    rows = json.loads(first.stdout)
    assert rows == json.loads(again.stdout)  # the same person has the same id every time
    for name in ("Anna", "Björn", "Cecilia", "anna", "bjorn", "cecilia"):
        assert name not in json.dumps([{k: v for k, v in r.items() if k != "body"} for r in rows])
    authors = [r["author"] for r in rows]
    assert all(a.startswith("p-") for a in authors) and len(set(authors)) == 3
    assert rows[1]["replied_to"] == rows[0]["author"]
    assert [r["body"] for r in rows] == [e[-1] for e in EXPECTED_EXPORT]
    assert [r["body"] for r in json.loads(bare.stdout)] == [None, None, None]
    refused = digilog(database_url, "bank", "export", "grupp-1", "--no-text")
    assert refused.exit_code != 0 and "--no-text goes with --pseudonymised" in refused.stderr


def test_export_of_a_cohort_without_reflections(database_url: str) -> None:
    cohort_with_programme(database_url)

    as_json = ok(database_url, "bank", "export", "grupp-1", "--format", "json")
    as_csv = ok(database_url, "bank", "export", "grupp-1")

    assert json.loads(as_json.stdout) == []
    assert open_as_excel(as_csv.stdout, "en") == [list(EXPORT_HEADER)]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_of_an_unknown_cohort(database_url: str, fmt: str) -> None:
    cohort_with_programme(database_url)

    result = digilog(database_url, "bank", "export", "grupp-9", "--format", fmt)

    assert result.exit_code != 0
    assert "Error: no cohort “grupp-9”" in result.stderr


# ---------------------------------------------------------------- --help everywhere


def _command_paths(
    command: click.Command = main, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, ...]]:
    yield path
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _command_paths(sub, (*path, name))


COMMAND_PATHS = list(_command_paths())


def test_the_walk_finds_every_command() -> None:
    assert {
        ("db", "upgrade"),
        ("program", "validate"),
        ("program", "load"),
        ("cohort", "create"),
        ("cohort", "enrol"),
        ("cohort", "import"),
        ("bank", "export"),
        ("console",),
        ("serve",),
    } <= set(COMMAND_PATHS)


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=lambda p: " ".join(("digilog", *p)))
def test_every_command_answers_help(path: tuple[str, ...]) -> None:
    for flag in ("--help", "-h"):
        result = CliRunner().invoke(
            main, [*path, flag], prog_name="digilog", env={"DIGILOG_LANGUAGE": "en"}
        )
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith(f"Usage: {' '.join(('digilog', *path))} ")


def test_a_backup_of_a_sqlite_database_is_a_consistent_copy(
    database_url: str, tmp_path: Path
) -> None:
    lines = "theme start 1\nas anna\npost Ett inlägg om digitalisering.\nquit\n"
    assert run_digilog(database_url, tmp_path, "console", stdin=lines).returncode == 0
    copy = tmp_path / "backup.db"
    made = run_digilog(database_url, tmp_path, "db", "backup", str(copy))
    if not database_url.startswith("sqlite"):
        assert made.returncode == 2 and "pg_dump" in made.stderr
        assert not copy.exists()
        return
    assert made.returncode == 0, made.stderr
    with sqlite3.connect(copy) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        [(body,)] = connection.execute("SELECT body FROM reflections").fetchall()
    assert body == "Ett inlägg om digitalisering."
    again = run_digilog(database_url, tmp_path, "db", "backup", str(copy))
    assert again.returncode == 2 and "finns redan" in again.stderr  # the CLI speaks Swedish


@pytest.mark.parametrize(
    ("terminal", "said"),
    [
        ("sv_SE.UTF-8", "DIGILOG_LANGUAGE: Digilog talar inte 'de'; välj ett av sv, en"),
        ("en_GB.UTF-8", "DIGILOG_LANGUAGE: Digilog does not speak 'de'; choose one of sv, en"),
    ],
)
def test_a_setting_digilog_cannot_take_is_named_in_the_terminals_language(
    terminal: str, said: str
) -> None:
    """Not a traceback: which setting, in the terminal's language (the language setting
    may be the one that is wrong), and nothing runs."""
    env = {"DIGILOG_LANGUAGE": "de", "DIGILOG_PORT": "abc", "LANG": terminal}
    env |= {"LC_ALL": "", "LC_MESSAGES": ""}
    result = CliRunner().invoke(main, ["db", "upgrade"], env=env)
    assert result.exit_code == 1
    assert said in result.output
    assert "DIGILOG_PORT: 'abc'" in result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
