"""Digilog in Swedish, as a Swedish facilitator or participant meets it: flags, hints and
whole exchanges."""

from __future__ import annotations

import asyncio
import inspect
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from cryptography.fernet import Fernet

from bot.cli import main
from bot.console.shell import Console
from bot.sealing import Sealer, SecretKeyError
from bot.teams import package as teams_package
from handlers import admin
from handlers.core.context import SAME_IN_SWEDISH, SWEDISH_FLAGS, Args
from handlers.core.i18n import translator
from handlers.core.programme_file import Programme
from handlers.core.vocabulary import FileMessage
from handlers.digilog import Digilog
from handlers.features import REGISTRY
from storage.db import create_engine
from storage.models import Delivery, InboundFailure
from storage.unit import Store
from tests.chat import Chat
from tests.conftest import EXAMPLE, ROOT, make_cohort
from tests.excel import open_as_excel


def test_every_flag_and_option_has_a_swedish_name() -> None:
    english = {
        name for c in REGISTRY.commands for name in (*c.flags, *c.options) if name
    } - SAME_IN_SWEDISH
    named = {e for names in SWEDISH_FLAGS.values() for e in names}
    assert english - named == set()
    assert named - english == set()  # no Swedish name for a flag nobody declares


def test_swedish_flags_are_read_as_the_english_ones() -> None:
    args = Args.parse(
        "ledarskap --tema 2 --typ plan --mina --i grupp-2",
        flags=("mine",),
        options=("theme", "kind", "in"),
    )
    assert (args.rest, args.flags) == ("ledarskap", {"mine"})
    assert args.options == {"theme": "2", "kind": "plan", "in": "grupp-2"}
    # One Swedish word, two English ones: the command's own flag is meant.
    assert Args.parse("--processledare", flags=("facilitators",)).flags == {"facilitators"}
    assert Args.parse("anna umea --processledare", flags=("facilitator",)).flags == {"facilitator"}
    assert Args.parse("--ändå 3", flags=("force",)) == Args("3", {"force"}, {})


# ---------------------------------------------------------------- the administrator's CLI


def _helps(command: click.Command) -> list[str]:
    texts = [inspect.cleandoc(command.help)] if command.help else []
    texts += [p.help for p in command.params if isinstance(p, click.Option) and p.help]
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            texts += _helps(sub)
    return texts


def test_every_help_text_of_the_cli_is_in_swedish() -> None:
    t = translator("sv")
    assert [text for text in _helps(main) if t(text) == text] == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_cli_speaks_swedish(database_url: str) -> None:
    def digilog(*args: str, language: str = "sv") -> Result:
        env = {"DIGILOG_DATABASE_URL": database_url, "DIGILOG_LANGUAGE": language}
        return CliRunner().invoke(main, list(args), env=env)

    helped = digilog("cohort", "--help")
    assert "Användning:" in helped.output and "Deltagargrupper och vilka" in helped.output
    assert "Visa den här hjälpen och avsluta." in helped.output
    missing = digilog("cohort", "enrol", "grupp-1")
    assert missing.exit_code == 2 and "Fel: Flagga saknas '--org'" in missing.output
    unknown = digilog("schedule", "show", "finns-inte")
    assert unknown.exit_code == 1
    assert "det finns ingen deltagargrupp ”finns-inte”" in unknown.output
    bad_date = digilog("retention", "set", "grupp-1", "--ends", "2027-13-01")
    assert "har inte formatet" in bad_date.output and "2027-06-30" in bad_date.output
    # click's own placeholders and notes: no TEXT-for-INTEGER English in a Swedish help.
    retention = digilog("retention", "set", "--help").output
    assert "retention set [FLAGGOR] GRUPP" in retention
    assert "--ends ÅÅÅÅ-MM-DD" in retention and "--days HELTAL" in retention
    assert not re.search(r"\b(?:OPTIONS|INTEGER|COHORT|DIRECTORY|PATH)\b|%Y", retention)
    assert "[krävs]" in digilog("cohort", "create", "--help").output
    assert "--out KATALOG" in digilog("report", "--help").output
    assert "KOMMANDO [ARGUMENT]..." in digilog("--help").output
    not_a_number = digilog("retention", "set", "grupp-1", "--days", "tio")
    assert not_a_number.exit_code == 2
    assert "Fel: Ogiltigt värde för '--days': 'tio' är inte ett giltigt heltal." in (
        not_a_number.output
    )
    no_file = digilog("cohort", "import", "grupp-1", "finns-inte.csv")
    assert "Ogiltigt värde för 'FIL': Fil 'finns-inte.csv' finns inte." in no_file.output
    # And back in English in the same process: click's words are not left in Swedish.
    english = digilog("cohort", "--help", language="en")
    assert "Usage:" in english.output and "Cohorts and who is in them." in english.output
    english = digilog("retention", "set", "grupp-1", "--days", "ten", language="en")
    assert "retention set [OPTIONS] COHORT" in english.output
    assert "'ten' is not a valid integer." in english.output


def _sv(database_url: str, *args: str, language: str = "sv") -> Result:
    env = {"DIGILOG_DATABASE_URL": database_url, "DIGILOG_LANGUAGE": language}
    return CliRunner().invoke(main, list(args), env=env)


def _cohort(database_url: str, *options: str, key: str = "grupp-1") -> None:
    _sv(database_url, "program", "load", str(EXAMPLE))
    made = _sv(
        database_url, "cohort", "create", key, "--program", "digital-kompetens",
        "--title", key, *options,
    )  # fmt: skip
    assert made.exit_code == 0, made.output


def test_every_action_in_the_audit_log_has_a_name_in_both_languages() -> None:
    recorded = {
        action
        for package in ("bot", "handlers", "schedules", "storage")
        for path in (ROOT / package).rglob("*.py")
        for action in re.findall(r"audit\.record\(\s*\"(\w+)\"", path.read_text(encoding="utf-8"))
    }
    assert {"export_bank", "role_change", "erasure"} <= recorded  # the search finds them
    assert recorded - set(admin.AUDIT_ACTIONS) == set()
    t = translator("sv")
    assert [name for name in admin.AUDIT_ACTIONS.values() if t(name) == name] == []


async def _record_unknown_action(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with Store(engine).transaction() as repos:
            # As a newer Digilog may write it, to a log an older one reads.
            await repos.audit.record("archive_restored", detail={"archive": 3, "checked": True})
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_audit_log_reads_in_swedish_and_scripts_read_its_own_names(
    database_url: str, tmp_path: Path
) -> None:
    _cohort(database_url)
    enrolled = ("cohort", "enrol", "grupp-1", "--user-id", "fia", "--name", "Fia Fröjd")
    assert _sv(database_url, *enrolled, "--org", "umea", "--role", "facilitator").exit_code == 0
    exported = _sv(database_url, "bank", "export", "grupp-1", "--include-private")
    assert exported.exit_code == 0, exported.output
    attendance = ("attendance", "export", "grupp-1", str(tmp_path / "närvaro.csv"))
    assert _sv(database_url, *attendance).exit_code == 0
    assert _sv(database_url, "retention", "set", "grupp-1", "--days", "30").exit_code == 0
    asyncio.run(_record_unknown_action(database_url))

    shown = _sv(database_url, "audit")
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert len(lines) == 5
    unknown, retention, attended, bank, role = lines
    assert "archive_restored (okänd åtgärd)" in unknown and "archive: 3, checked: ja" in unknown
    assert "lagringstiden ändrad" in retention and retention.endswith("dagar som sparas: 30")
    assert "närvarolistan exporterad" in attended and "filformat: csv, rader: 0" in attended
    assert "reflektionsbanken exporterad" in bank
    assert bank.endswith("gjort via: kommandoraden, privata reflektioner med: ja")
    assert "roll ändrad" in role and role.endswith("administratör om #1  ny roll: processledare")
    # Words, not the code's names or JSON; people by number only.
    known = "\n".join(lines[1:])
    assert not re.search(r"\b(?:[a-z]+_[a-z_]+|true|false|null|cli|facilitator)\b", known)
    assert "{" not in shown.output and "Fia" not in shown.output
    assert english_in(known) == [], known

    scripted = _sv(database_url, "audit", "--json", "--cohort", "grupp-1")
    assert scripted.exit_code == 0, scripted.output
    entries = [json.loads(line) for line in scripted.output.splitlines()]
    assert [e["action"] for e in entries] == [
        "retention_change",
        "export_attendance",
        "export_bank",
        "role_change",
    ]
    assert set(entries[-1]) == {
        "id",
        "at",
        "cohort",
        "action",
        "actor_person_id",
        "subject_person_id",
        "detail",
    }
    assert entries[-1]["cohort"] == "grupp-1" and entries[-1]["subject_person_id"] == 1
    assert entries[-1]["detail"] == {"from": None, "to": "facilitator"}
    assert entries[2]["detail"] == {"by": "cli", "private": True}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entries[0]["at"])
    assert "Fia" not in scripted.output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_calendar_at_the_terminal_has_no_markup(database_url: str) -> None:
    _cohort(database_url)
    calendar = ROOT / "examples" / "digital-kompetens-calendar.yaml"
    assert _sv(database_url, "schedule", "load", "grupp-1", str(calendar)).exit_code == 0
    shown = _sv(database_url, "schedule", "show", "grupp-1", "--all")
    assert shown.exit_code == 0, shown.output
    assert "  • mån 1 feb. 08:00  Tema 1 startar: " in shown.output
    assert "**" not in shown.output


def _options(command: click.Command) -> list[tuple[str, click.Option]]:
    found = [
        (command.name or "digilog", p)
        for p in command.params
        if isinstance(p, click.Option) and p.name not in ("help", "version")
    ]
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            found += _options(sub)
    return found


def test_every_option_of_the_cli_says_what_it_is_for() -> None:
    """An option without a help text shows only its values (`[participant|facilitator|…]`):
    with one, the Swedish reader is told what it is in Swedish (the test above)."""
    assert [f"{name} {o.opts[0]}" for name, o in _options(main) if not o.help] == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_clis_choices_are_read_and_typed_in_swedish(database_url: str) -> None:
    enrol = " ".join(_sv(database_url, "cohort", "enrol", "--help").output.split())
    assert "--role [deltagare|processledare|stödfunktion]" in enrol
    assert "standard: deltagare" in enrol
    assert (
        "--platform [konsol|slack|teams]" in _sv(database_url, "person", "export", "--help").output
    )
    _cohort(database_url, "--platform", "konsol")
    fia = "cohort", "enrol", "grupp-1", "--user-id", "fia", "--org", "umea"
    made = _sv(database_url, *fia, "--role", "processledare")
    assert made.exit_code == 0 and "fia: tillagd som processledare" in made.output
    # The English word, as docs and scripts write it, works in Swedish too.
    again = _sv(database_url, *fia, "--role", "support")
    assert again.exit_code == 0 and "fia: uppdaterad som stödfunktion" in again.output
    wrong = _sv(database_url, *fia, "--role", "chef")
    assert wrong.exit_code == 2
    assert "'chef' är inte något av 'deltagare', 'processledare', 'stödfunktion'." in wrong.output
    english = _sv(database_url, "cohort", "enrol", "--help", language="en").output
    assert "--role [participant|facilitator|support]" in english


async def _failed_actions(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with Store(engine).transaction() as repos:
            cohort = await repos.cohorts.by_key("grupp-1")
            assert cohort is not None
            for minute, what, reason, told in (
                (2, "button: quiz:1-1:0:1", "OperationalError at storage/quizzes.py:88", True),
                (1, "command: tema", "TimeoutError at a library", False),
            ):
                when = datetime(2027, 2, 3, 9, minute, tzinfo=UTC)
                repos.session.add(
                    InboundFailure(
                        platform="slack",
                        workspace="T1",
                        user_id="U_ANNA",
                        cohort_id=cohort.id,
                        kind="action",
                        what=what,
                        reason=reason,
                        attempts=2,
                        told=told,
                        received_at=when,
                        failed_at=when,
                    )
                )
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_failed_actions_are_listed_in_swedish(database_url: str) -> None:
    _cohort(database_url)
    asyncio.run(_failed_actions(database_url))
    shown = _sv(database_url, "failures", "--cohort", "grupp-1")
    assert shown.exit_code == 0, shown.output
    head, *rows = shown.output.splitlines()
    assert head == "2 misslyckade åtgärder; 0 åtgärder i den inkommande journalen nu."
    assert [row.split("T1/U_ANNA  ")[1] for row in rows] == [
        "knapp: quiz:1-1:0:1  fick besked, 2 försök: OperationalError i storage/quizzes.py:88",
        "kommando: tema  fick INTE besked, 2 försök: TimeoutError i ett bibliotek",
    ]


async def test_a_swedish_facilitator_reads_what_failed_in_swedish(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    """The chat's failures view names the kind of action in the facilitator's words, as
    `digilog failures` does; the button's id and the command as typed stay as they are."""
    cohort = await make_cohort(store, programme, language="sv")
    async with store.transaction() as repos:
        for minute, what in (
            (3, f"button: quiz:{cohort.id}-1:0:1"),
            (2, "command: tema"),
            (1, "home"),
        ):
            when = datetime(2027, 2, 3, 9, minute, tzinfo=UTC)
            repos.session.add(
                InboundFailure(
                    platform=cohort.platform,
                    workspace=cohort.workspace,
                    user_id="anna",
                    cohort_id=cohort.id,
                    kind="action",
                    what=what,
                    reason="TimeoutError at a library",
                    attempts=2,
                    told=True,
                    received_at=when,
                    failed_at=when,
                )
            )
    shown = (await Chat(digilog, cohort).say("fia", "misslyckade")).text
    assert f"Anna Lindqvist · knapp: quiz:{cohort.id}-1:0:1 · fick besked" in shown
    assert "Anna Lindqvist · kommando: tema · fick besked" in shown
    assert "Anna Lindqvist · startsida · fick besked" in shown
    assert not re.search(r"\b(?:button|command|home)\b", re.sub(r"`[^`]*`", "", shown)), shown


# What `digilog serve` and `digilog worker` say is missing, for each way of getting the
# configuration wrong.
SERVING_PROBLEMS = [
    (
        "serve",
        {"SLACK_BOT_TOKEN": "xoxb-1"},
        [
            "SLACK_SIGNING_SECRET behövs för att kontrollera förfrågningar över HTTP (eller "
            "ange SLACK_APP_TOKEN för Socket Mode)"
        ],
    ),
    (
        "serve",
        {"SLACK_CLIENT_ID": "111.222", "SLACK_APP_TOKEN": "xapp-1"},
        [
            "SLACK_CLIENT_ID är angiven men inte SLACK_CLIENT_SECRET",
            "Socket Mode (SLACK_APP_TOKEN) behöver även SLACK_BOT_TOKEN",
            "Slack OAuth (SLACK_CLIENT_ID) sparar varje arbetsytas token krypterad med "
            "DIGILOG_SECRET_KEYS, som inte är angiven; skapa en nyckel med "
            "`digilog secrets new-key`",
        ],
    ),
    (
        "serve",
        {"TEAMS_APP_ID": "0a1b2c3d-4e5f-6789-abcd-ef0123456789"},
        [
            "TEAMS_APP_ID är angiven men inte TEAMS_APP_PASSWORD (appens klienthemlighet)",
            "TEAMS_APP_ID är angiven men inte TEAMS_TENANT_ID (er klientorganisation i Entra)",
        ],
    ),
    (
        "serve",
        {"DIGILOG_TEAMS_ANONYMOUS": "true", "DIGILOG_HOST": "0.0.0.0"},
        [
            "DIGILOG_TEAMS_ANONYMOUS tar emot det som kommer från Teams utan att kontrollera "
            "vem som skickade det: den är bara till för Agents Playground på den här datorn, "
            "så DIGILOG_HOST måste vara 127.0.0.1 (eller ::1)"
        ],
    ),
    (
        "worker",
        {
            "SLACK_CLIENT_ID": "111.222",
            "SLACK_CLIENT_SECRET": "client-secret",
            "DIGILOG_SECRET_KEYS": "not-a-fernet-key-but-a-secret",
        },
        [
            "DIGILOG_SECRET_KEYS: nyckel 1 av 1 är ingen Fernet-nyckel (32 byte i url-säker "
            "base64; skapa en med `digilog secrets new-key`)"
        ],
    ),
]
PLATFORM_VARIABLES = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_CLIENT_ID",
    "SLACK_CLIENT_SECRET",
    "TEAMS_APP_ID",
    "TEAMS_APP_PASSWORD",
    "TEAMS_TENANT_ID",
    "DIGILOG_TEAMS_ANONYMOUS",
    "DIGILOG_HOST",
    "DIGILOG_SECRET_KEYS",
)
VARIABLE = re.compile(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b")


@pytest.mark.parametrize(("command", "configured", "said"), SERVING_PROBLEMS)
def test_serve_and_worker_say_what_is_missing_in_swedish(
    command: str,
    configured: dict[str, str],
    said: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the checkout's
    unset: dict[str, str | None] = dict.fromkeys(PLATFORM_VARIABLES)
    base = unset | {"DIGILOG_DATA_DIR": str(tmp_path), **configured}

    def run(language: str) -> Result:
        return CliRunner().invoke(main, [command], env=base | {"DIGILOG_LANGUAGE": language})

    swedish, english = run("sv"), run("en")
    assert swedish.exit_code == 2 and english.exit_code == 2
    assert swedish.stderr.splitlines() == [f"digilog {command}: {line}" for line in said]
    # The variables keep their names: the Swedish names each that the English does.
    assert VARIABLE.findall(swedish.stderr) == VARIABLE.findall(english.stderr)
    assert "not-a-fernet-key-but-a-secret" not in swedish.stderr + english.stderr


def test_a_bad_secret_key_is_named_in_swedish_and_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    bad = "not-a-fernet-key-but-a-secret"
    good = Fernet.generate_key().decode()

    def rotate(keys: str | None) -> Result:
        env = {
            "DIGILOG_LANGUAGE": "sv",
            "DIGILOG_DATA_DIR": str(tmp_path),
            "DIGILOG_SECRET_KEYS": keys,
        }
        return CliRunner().invoke(main, ["secrets", "rotate"], env=env)

    none = rotate(None)
    assert none.exit_code == 1
    assert none.stderr == (
        "Fel: ingen hemlig nyckel: ange DIGILOG_SECRET_KEYS (skapa en med "
        "`digilog secrets new-key`)\n"
    )
    malformed = rotate(f"{good},{bad}")
    assert malformed.exit_code == 1
    assert "DIGILOG_SECRET_KEYS: nyckel 2 av 2 är ingen Fernet-nyckel" in malformed.stderr
    assert bad not in malformed.stderr and good not in malformed.stderr

    # A token sealed with a key that is no longer given: said without the token or a key.
    token = "xoxb-1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
    dropped = Fernet.generate_key().decode()
    sealed = Sealer([dropped]).seal(token)
    t = translator("sv")
    for attempt in (Sealer([good]).open, Sealer([good]).reseal):
        with pytest.raises(SecretKeyError) as refused:
            attempt(sealed)
        said = refused.value.said(t)
        assert said.startswith(
            "en sparad Slack-token går inte att öppna med någon av nycklarna i DIGILOG_SECRET_KEYS"
        )
        assert all(secret not in said for secret in (token, sealed, good, dropped))


def test_the_teams_package_says_what_is_wrong_in_swedish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot_id = "0a1b2c3d-4e5f-6789-abcd-ef0123456789"

    def package(*options: str) -> Result:
        arguments = ["teams", "package", "--out", str(tmp_path / "digilog.zip"), *options]
        if "--bot-id" not in options:
            arguments += ["--bot-id", bot_id]
        return CliRunner().invoke(main, arguments, env={"DIGILOG_LANGUAGE": "sv"})

    def error(*options: str) -> str:
        refused = package(*options)
        assert refused.exit_code == 2, refused.output
        return refused.stderr.splitlines()[-1]

    assert error("--bot-id", "digilog") == (
        "Fel: bot-id:t ska vara botens app-id (klient-id) i Microsoft Entra, ett GUID som "
        "0a1b2c3d-4e5f-6789-abcd-ef0123456789, inte ”digilog”"
    )
    assert error("--app-version", "1.0") == (
        "Fel: versionen ska vara ett versionsnummer med tre heltal och punkter emellan, till "
        "exempel 1.0.0, inte ”1.0”"
    )
    assert error("--name", " ") == "Fel: namnet får inte vara tomt"
    assert error("--developer", "x" * 33) == (
        f"Fel: utvecklarens namn har 33 tecken; Teams tillåter högst 32: ”{'x' * 33}”"
    )
    assert error("--privacy", "http://region.example.se/integritet") == (
        "Fel: integritetspolicyns adress ska vara en https://-adress, inte "
        "”http://region.example.se/integritet”"
    )
    assert error("--domain", "https://digilog.example.org") == (
        "Fel: en giltig domän är ett värdnamn utan schema, port och sökväg, som "
        "digilog.example.org eller *.example.org, inte ”https://digilog.example.org”"
    )
    # A command menu Teams would refuse, as a changed command table could make it.
    monkeypatch.setattr(
        teams_package, "COMMAND_LISTS", ((("personal",), (("help",), ("finns-inte",))),)
    )
    assert error() == (
        "Fel: kommandomenyn i Teams tar upp ”finns-inte”, men något sådant kommando finns inte"
    )
    too_many = tuple(command.words for command in REGISTRY.commands[:11])
    monkeypatch.setattr(teams_package, "COMMAND_LISTS", ((("personal",), too_many),))
    assert error() == "Fel: en kommandomeny i Teams rymmer högst 10 kommandon"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_failed_backup_says_so_in_swedish(database_url: str, tmp_path: Path) -> None:
    failed = _sv(database_url, "db", "backup", str(tmp_path / "finns-inte" / "kopia.db"))
    assert failed.exit_code == 1
    assert failed.stderr.startswith("digilog db backup: kopieringen misslyckades: ")


# ---------------------------------------------------------------- whole exchanges in Swedish

ENGLISH_WORDS = re.compile(
    r"\b(?:the|and|you|your|write|theme|cohort|seats?|free|sign up|cancel|nudges?|"
    r"Mon|Tue|Wed|Thu|Fri|Sat|Sun|Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b"
)


def english_in(text: str) -> list[str]:
    """English words in a Swedish reply, leaving out what is typed (`…`) and names."""
    prose = re.sub(r"`[^`]*`", " ", text)
    return ENGLISH_WORDS.findall(prose)


async def test_a_swedish_participant_in_slack(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    """Help, an unknown command, a Swedish command word and a date, as Anna meets them in
    Slack: in Swedish, short, and every hint typed as Slack needs it."""
    cohort = await make_cohort(store, programme, language="sv", platform="slack", workspace="T1")
    chat = Chat(digilog, cohort)

    helped = (await chat.say("anna", "hjälp")).text
    assert "Kommandon i Digilog" in helped
    assert len(helped.strip().splitlines()) <= 15
    assert "`/digilog hjälp KOMMANDO`" in helped or "`/digilog hjälp" in helped
    assert english_in(helped) == [], helped

    unknown = (await chat.say("anna", "schemma")).text
    assert "Jag känner inte till kommandot ”schemma”" in unknown
    assert "`/digilog schema`" in unknown
    assert len(unknown.strip().splitlines()) <= 3  # a suggestion, not the whole help

    calendar = (await chat.say("anna", "schema")).text
    assert "Kalender" in calendar
    assert "tis 16 feb. 13:00–15:00" in calendar  # a lab session, in Swedish
    assert english_in(calendar) == [], calendar

    labs = await chat.say("anna", "labb")
    assert "Anmäl mig: Hantera information, tis 16 feb. 13:00" in [o.label for o in labs.options]
    assert "`/digilog labb anmäl LABB N`" in labs.text
    seated = (await chat.say("anna", "labb anmäl hantera-information 1")).text
    assert "Du har en plats på Hantera information, tis 16 feb. 13:00–15:00." in seated
    assert "`/digilog labb avboka" not in seated or english_in(seated) == []

    hours = (await chat.say("anna", "arbetstider mån-tor 9-15")).text
    assert "mån–tor 09–15" in hours and "`/digilog påminnelser pausa`" in hours
    assert english_in(hours) == [], hours


async def test_a_swedish_facilitator_exports_for_excel(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    cohort = await make_cohort(store, programme, language="sv", platform="teams", workspace="T")
    chat = Chat(digilog, cohort)
    started = (await chat.say("fia", "tema starta 1")).text
    assert english_in(started) == [], started
    await chat.post("anna", 1, "Vi testade 3,5 timmar; det gick bra.")
    exported = await chat.say("fia", "exportera csv")
    [file] = [o.message for o in exported.outgoing if isinstance(o.message, FileMessage)]
    head, *rows = open_as_excel(file.content, "sv")
    assert head[:4] == ["ID", "Skapad", "Uppdaterad", "Skribent"]
    assert rows[0][head.index("Text")] == "Vi testade 3,5 timmar; det gick bra."
    refused = (await chat.say("fia", "exportera xml")).text
    assert "csv eller json" in refused
    not_member = Chat(digilog, cohort)
    outsider = (await not_member.say("okand", "bank")).text
    assert "`@Digilog gå med`" in outsider  # Teams: a mention, in Swedish


async def test_a_swedish_facilitators_hints_are_typed_as_teams_needs_them(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    """Hints that name a command give the Swedish words, as a Teams mention."""
    cohort = await make_cohort(store, programme, language="sv", platform="teams", workspace="T")
    chat = Chat(digilog, cohort)
    saved = (
        await chat.say(
            "anna", "behov Jag vill bli bättre på att känna igen nätfiskemejl i min grupp."
        )
    ).text
    assert "`@Digilog labb` visar alla lärlabb och deras tillfällen." in saved
    stopped = (await chat.say("fia", "påminnelser stoppa bjorn")).text
    assert (
        "tills du skriver `@Digilog påminnelser återuppta bjorn` eller hen skriver "
        "`@Digilog påminnelser på`." in stopped
    )
    assert english_in(stopped) == [], stopped


async def test_a_swedish_facilitator_in_the_console(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    """The console's own words in Swedish, and why a rehearsal did not send something in
    Swedish words: the kind's label and the reason, never theme_start."""
    cohort = await make_cohort(store, programme, language="sv")
    out = io.StringIO()
    console = Console(digilog, store, cohort, "fia", out=out, echo=False)
    await console.line("hjälp")
    helped = out.getvalue()
    assert "som <användar-id> [namn]" in helped and "avsluta" in helped
    await console.line("vilka")
    assert "Anna Lindqvist" in out.getvalue()
    due = datetime(2027, 3, 1, 7, tzinfo=UTC)
    console.tell_skipped(
        [
            Delivery(kind="theme_start", due_at=due, reason="the theme had been started by hand"),
            Delivery(kind="nudge_post", due_at=due, reason="snoozed until it was too late"),
        ]
    )
    told = out.getvalue().splitlines()[-2:]
    assert told == [
        "  (skickades inte: Inlägg om teman, skulle ha gått mån 1 mars 08:00; "
        "temat hade redan startats för hand)",
        "  (skickades inte: Påminnelser om att skriva i digilogen, skulle ha gått "
        "mån 1 mars 08:00; personen har pausat sina påminnelser, tills det var för sent)",
    ], told
    assert await console.line("avsluta") is False
