"""The `digilog` command."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import re
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TextIO, TypeVar
from zoneinfo import ZoneInfo

import click
from pydantic import ValidationError

from bot import launch
from bot.compose import (
    Runtime,
    configure_logging,
    journal_of,
    open_runtime,
    platform_couriers,
    rehearsal,
    running_schedules,
    timing_of,
)
from bot.console.render import render
from bot.settings import Settings
from handlers import admin, export, gatherings
from handlers.core.context import Refusal, programme_of
from handlers.core.formats import list_text
from handlers.core.i18n import N_, SUPPORTED, Translator, language_of, translator
from handlers.core.programme_file import load_programme
from handlers.core.roster import RosterRow, parse_roster
from handlers.core.yaml_file import FileProblems
from handlers.failures import failed_what
from handlers.features import REGISTRY
from handlers.people import ROLE_NAMES
from handlers.retention import RetentionError
from handlers.schedule import calendar_message, with_deliveries
from storage import swedish
from storage.models import Role, utcnow

P = ParamSpec("P")
T = TypeVar("T")

EXAMPLE_NAME = "digital-kompetens.yaml"


def bundled_example() -> Path:
    """The example programme, in a source checkout or an installed wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "examples" / EXAMPLE_NAME, here.parent / "examples" / EXAMPLE_NAME):
        if candidate.exists():
            return candidate
    t = _translator()
    raise click.ClickException(
        t("the bundled example {name} is missing from this install", name=EXAMPLE_NAME)
    )


def _translator() -> Translator:
    """The administrator's language: DIGILOG_LANGUAGE if set, else the terminal's locale
    (LC_ALL, LC_MESSAGES, LANG) if it is Swedish or English, else Swedish."""
    settings = _settings()
    if "language" in settings.model_fields_set:
        return translator(settings.language)
    return translator(_terminal_language() or settings.language)


def _terminal_language() -> str | None:
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if found := language_of(os.environ.get(variable)):
            return found
    return None


def _settings() -> Settings:
    """The settings; those it cannot take are named, and nothing runs. In the terminal's
    language, as DIGILOG_LANGUAGE may be the one that is wrong."""
    try:
        return Settings()
    except ValidationError as error:
        t = translator(_terminal_language())
        raise click.ClickException(
            "\n".join(_not_taken(t, problem) for problem in error.errors())
        ) from None


def _not_taken(t: Translator, problem: Any) -> str:
    field = str(problem["loc"][0]) if problem["loc"] else ""
    if field in Settings.model_fields:
        alias = Settings.model_fields[field].validation_alias
        variable = alias if isinstance(alias, str) else f"DIGILOG_{field.upper()}"
    else:
        variable = field
    if field == "language":
        return t(
            "{variable}: Digilog does not speak {value!r}; choose one of {choices}",
            variable=variable,
            value=str(problem.get("input", ""))[:40],
            choices=", ".join(SUPPORTED),
        )
    if any(word in variable for word in ("TOKEN", "SECRET", "KEY", "PASSWORD", "URL")):
        return t("{variable}: not a value this setting takes", variable=variable)
    return t(
        "{variable}: {value!r} is not a value this setting takes",
        variable=variable,
        value=str(problem.get("input", ""))[:40],
    )


# click says its own words ("Usage:", "Missing argument", "Show this message and exit.")
# through gettext, bound in each of its modules as `_`; they are in our catalogue too, so
# the administrator reads them in the same language as the rest.
_CLICK_MODULES = (
    click.core,
    click.decorators,
    click.exceptions,
    click.formatting,
    click.parser,
    click.termui,
    click.types,
)


def _speak(t: Translator) -> None:
    """Every help text and every message of click's in `t`'s language, from the English
    kept on first use (a second run in another language starts from it again)."""

    def say(message: str) -> str:
        return t(message)

    def say_plural(singular: str, plural: str, n: int) -> str:
        return t(singular) if n == 1 else t(plural)

    for module in _CLICK_MODULES:
        if hasattr(module, "_"):
            module._ = say  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = say_plural  # type: ignore[attr-defined]
    _translate_help(main, t)


# The placeholders click shows for values ("--days INTEGER", "COHORT"): its type names
# and our arguments' names, in the administrator's language too.
METAVARS = (
    N_("[OPTIONS]"),
    N_("COMMAND [ARGS]..."),
    N_("text"),
    N_("integer"),
    N_("float range"),
    N_("file"),
    N_("directory"),
    N_("path"),
    N_("filename"),
    N_("KEY"),
    N_("FILE"),
    N_("COHORT"),
    N_("YYYY-MM-DD"),
    N_("'YYYY-MM-DD HH:MM'"),
)
# The words of a yes-or-no question (_confirm), its first letters what one types.
ANSWERS = (N_("yes"), N_("no"))
_DATE_PARTS = (("%Y", "YYYY"), ("%m", "MM"), ("%d", "DD"), ("%H", "HH"), ("%M", "MM"))


def _translate_help(command: click.Command, t: Translator) -> None:
    english = command.__dict__.setdefault(
        "_english",
        tuple(
            inspect.cleandoc(text) if text else text
            for text in (command.help, command.short_help, command.options_metavar)
        ),
    )
    command.help = t(english[0]) if english[0] else english[0]
    command.short_help = t(english[1]) if english[1] else english[1]
    command.options_metavar = t(english[2]) if english[2] else english[2]
    command._help_option = None  # click keeps its --help option, words and all, once made
    for param in command.params:
        if isinstance(param, click.Option):
            said = param.__dict__.setdefault("_english", param.help)
            param.help = t(said) if said else said
        _translate_metavar(param, t)
    if isinstance(command, click.Group):
        said = command.__dict__.setdefault("_english_subcommands", command.subcommand_metavar)
        command.subcommand_metavar = t(said) if said else said
        for sub in command.commands.values():
            _translate_help(sub, t)


def _translate_metavar(param: click.Parameter, t: Translator) -> None:
    """ "--days HELTAL", "GRUPP", "--ends ÅÅÅÅ-MM-DD" for a Swede. A type's name is also
    what its errors say ("'x' är inte ett giltigt heltal."): it is translated in place,
    its English kept (click's INT and STRING are one object for every option)."""
    kind = param.type
    if isinstance(kind, Words):
        kind.t = t
    type_name = kind.__dict__.get("_english_name", kind.name)
    kind._english_name = type_name  # type: ignore[attr-defined]
    kind.name = t(type_name)
    metavar = param.__dict__.setdefault("_english_metavar", param.metavar)
    if metavar is None and isinstance(kind, click.DateTime):
        # click shows its strptime formats ("[%Y-%m-%d]"): a reader wants "YYYY-MM-DD".
        metavar = "|".join(kind.formats)
        for directive, shown in _DATE_PARTS:
            metavar = metavar.replace(directive, shown)
    elif (
        metavar is None
        and isinstance(param, click.Argument)
        and not isinstance(kind, click.Choice)
        and param.required
        and param.nargs == 1
    ):
        metavar = (param.name or "").upper()  # what click shows for an argument
    param.metavar = t(metavar) if metavar else metavar


class Words(click.Choice[str]):
    """A choice the administrator reads and types in their own words ("--role
    [deltagare|processledare|stödfunktion]"); the code gets the stable value, and the
    English word works in every language (as the docs and scripts write it). `words`: a
    catalogue text for each value that is a word; the others (slack, teams) are names."""

    def __init__(self, values: list[str], words: dict[str, str]) -> None:
        super().__init__(values, case_sensitive=False)
        self.words = words
        self.t = translator("en")  # until _speak says which language

    def normalize_choice(self, choice: object, ctx: click.Context | None) -> str:
        # Each value, and whatever is typed, as the reader's word: "Facilitator" and
        # "processledare" are both "processledare" in Swedish.
        said = str(choice)
        word = self.words.get(said.casefold())
        return super().normalize_choice(self.t(word) if word else said, ctx)


PLATFORMS = ["console", "slack", "teams"]
PLATFORM_WORDS = {"console": N_("console")}
ROLE_WORDS = {
    Role.participant.value: N_("participant"),
    Role.facilitator.value: N_("facilitator"),
    Role.support.value: N_("support"),  # one word, as typed ("support function" elsewhere)
}


class DigilogGroup(click.Group):
    """The `digilog` group: speaks the administrator's language before click parses."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            _speak(_translator())
        except click.ClickException as unreadable:  # a setting it cannot take
            _speak(translator(_terminal_language()))
            unreadable.show()
            sys.exit(unreadable.exit_code)
        return super().main(*args, **kwargs)


def _confirm(t: Translator, question: str) -> bool:
    """A yes or no, no unless said: "Radera? [j/N]" for a Swede, who answers j or ja (y and
    yes work too). click.confirm says and reads [y/N] in English only."""
    yes, no = t("yes"), t("no")
    said_yes, said_no = {yes, yes[0], "y", "yes"}, {no, no[0], "n", "no", ""}
    while True:
        answer = click.prompt(
            f"{question} [{yes[0]}/{no[0].upper()}]", default="", show_default=False
        )
        if answer.strip().lower() in said_yes:
            return True
        if answer.strip().lower() in said_no:
            return False
        click.echo(t("Answer {yes} or {no}.", yes=yes, no=no), err=True)


# For an administrator who reads English on a computer with Swedish regional settings:
# without it an English CSV's commas open in one column there.
EXCEL_HELP = N_(
    "CSV for Excel with Swedish regional settings (semicolons, decimal commas) whatever "
    "the language."
)


def run_async(function: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, T]:
    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        return asyncio.run(function(*args, **kwargs))

    return wrapper


async def _with_runtime(work: Callable[[Runtime], Awaitable[T]]) -> T:
    async with open_runtime(Settings()) as runtime:
        try:
            return await work(runtime)
        except (admin.AdminError, RetentionError) as error:
            raise click.ClickException(error.said(_translator())) from None


@click.group(cls=DigilogGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="digilog")
@click.pass_context
def main(context: click.Context) -> None:
    """Digilog: cohort-based learning programmes in Slack, Teams and a terminal console."""
    configure_logging(_settings())
    if context.invoked_subcommand not in ("serve", "worker"):
        launch.started()  # those two say so once they are listening or sending


# ------------------------------------------------------------------ db


@main.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@run_async
async def db_upgrade() -> None:
    """Create or update the schema to the newest migration."""
    settings = Settings()
    async with open_runtime(settings):
        pass
    t = _translator()
    click.echo(
        t("the database is up to date: {url}", url=_safe_url(settings.effective_database_url))
    )


@db.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def db_backup(file: Path) -> None:
    """Copy the SQLite database to FILE, consistently, while Digilog runs.

    For PostgreSQL use its own tool: pg_dump --format=custom --file=FILE DATABASE.
    """
    from sqlalchemy.engine import make_url

    from storage.db import backup_sqlite

    settings = Settings()
    t = _translator()
    url = settings.effective_database_url
    if make_url(url).get_backend_name() != "sqlite":
        click.echo(
            "digilog db backup: "
            + t(
                "the database is PostgreSQL; back it up with "
                "`pg_dump --format=custom --file=FILE DATABASE` (see docs/operations.md, Backups)"
            ),
            err=True,
        )
        sys.exit(2)
    if file.exists():
        click.echo(
            "digilog db backup: " + t("{file} exists already; choose a new file", file=file),
            err=True,
        )
        sys.exit(2)
    try:
        backup_sqlite(url, file)
    except Exception as error:  # sqlite3's errors: no such database, a full disk
        click.echo("digilog db backup: " + t("the copy failed: {error}", error=error), err=True)
        file.unlink(missing_ok=True)
        sys.exit(1)
    click.echo(t("copied {url} to {file}", url=_safe_url(url), file=file))


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# ------------------------------------------------------------------ program


@main.group()
def program() -> None:
    """Programme files: validate and load."""


def _load_or_exit(path: Path) -> Any:
    try:
        return load_programme(path)
    except FileProblems as error:
        for line in error.render(_translator()):
            click.echo(line, err=True)
        sys.exit(1)


@program.command("validate")
@click.argument("file", type=click.Path(path_type=Path))
def program_validate(file: Path) -> None:
    """Check a programme file; prints FILE:LINE: field: problem for each problem."""
    programme = _load_or_exit(file)
    t = _translator()
    questions = sum(len(theme.quiz.questions) for theme in programme.themes if theme.quiz)
    click.echo(
        t(
            "{file}: ok — {id}: {themes} themes, {questions} quiz questions, {labs} labs, "
            "{organisations} organisations",
            file=file,
            id=programme.id,
            themes=len(programme.themes),
            questions=questions,
            labs=len(programme.labs),
            organisations=len(programme.programme.organisations),
        )
    )


@program.command("load")
@click.argument("file", type=click.Path(path_type=Path))
@run_async
async def program_load(file: Path) -> None:
    """Validate a programme file and store it (replacing an earlier version)."""
    programme = _load_or_exit(file)

    async def work(runtime: Runtime) -> bool:
        return await admin.load_programme(runtime.store, programme)

    changed = await _with_runtime(work)
    t = _translator()
    click.echo(f"{programme.id}: " + (t("loaded") if changed else t("unchanged")))


# ------------------------------------------------------------------ cohort


@main.group()
def cohort() -> None:
    """Cohorts and who is in them."""


@cohort.command("create")
@click.argument("key")
@click.option("--program", "program_id", required=True, help="Id of a loaded programme.")
@click.option("--title", required=True, help="The cohort's name, e.g. 'Grupp 1, våren 2027'.")
@click.option(
    "--platform",
    type=Words(PLATFORMS, PLATFORM_WORDS),
    default="console",
    help="Where the cohort meets; default: the console.",
)
@click.option("--workspace", default="local", help="Slack team id or Teams tenant id.")
@click.option("--conversation", help="Channel id of the cohort (default: the key).")
@click.option("--language", type=click.Choice(["sv", "en"]), help="Default: DIGILOG_LANGUAGE.")
@click.option("--timezone", help="Default: DIGILOG_TIMEZONE.")
@click.option("--self-enrol/--no-self-enrol", default=False, help="May people join by themselves?")
@run_async
async def cohort_create(
    key: str,
    program_id: str,
    title: str,
    platform: str,
    workspace: str,
    conversation: str | None,
    language: str | None,
    timezone: str | None,
    self_enrol: bool,
) -> None:
    """Create a cohort that runs a programme in one conversation."""

    async def work(runtime: Runtime) -> None:
        spec = admin.CohortSpec(
            key=key,
            program_id=program_id,
            title=title,
            platform=platform,
            workspace=workspace,
            conversation_id=conversation,
            language=language or runtime.settings.language,
            timezone=timezone or runtime.settings.timezone,
            self_enrol=self_enrol,
        )
        await admin.create_cohort(runtime.store, spec)

    await _with_runtime(work)
    t = _translator()
    click.echo(t("cohort {key} created", key=key))


@cohort.command("channel")
@click.argument("key")
@click.option(
    "--platform",
    type=click.Choice(["slack", "teams"]),
    required=True,
    help="The channel's platform.",
)
@click.option("--workspace", required=True, help="Slack team id or Teams tenant id.")
@click.option("--conversation", required=True, help="The channel's id on that platform.")
@run_async
async def cohort_channel(key: str, platform: str, workspace: str, conversation: str) -> None:
    """Give a cohort another channel, such as a Teams channel beside its Slack one."""

    async def work(runtime: Runtime) -> None:
        await admin.add_channel(runtime.store, key, platform, workspace, conversation)

    await _with_runtime(work)
    t = _translator()
    click.echo(
        t(
            "cohort {key} also meets in {platform} channel {conversation}",
            key=key,
            platform=platform,
            conversation=conversation,
        )
    )


@cohort.command("enrol")
@click.argument("cohort_key", metavar="COHORT")
@click.option("--user-id", help="The person's platform user id (console: any handle).")
@click.option("--email", help="E-mail address, linked to an account when they first act.")
@click.option("--name", help="Display name.")
@click.option("--org", "organisation", required=True, help="Organisation id or name.")
@click.option(
    "--role",
    type=Words([r.value for r in Role], ROLE_WORDS),
    default=Role.participant.value,
    help="Their role in the cohort; default: participant.",
)
@run_async
async def cohort_enrol(
    cohort_key: str,
    user_id: str | None,
    email: str | None,
    name: str | None,
    organisation: str,
    role: str,
) -> None:
    """Enrol one person in a cohort."""
    t = _translator()
    if not user_id and not email:
        raise click.UsageError(t("give --user-id or --email"))
    row = RosterRow(1, name or user_id or email or "", email, user_id, organisation, Role(role))

    async def work(runtime: Runtime) -> bool:
        return await admin.enrol(runtime.store, cohort_key, row)

    created = await _with_runtime(work)
    said = t("{name}: enrolled as {role}") if created else t("{name}: updated as {role}")
    click.echo(said.format(name=row.name, role=t(ROLE_NAMES[Role(role)])))


@cohort.command("import")
@click.argument("cohort_key", metavar="COHORT")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-bad", is_flag=True, help="Store the good rows even if some are bad.")
@run_async
async def cohort_import(cohort_key: str, file: Path, skip_bad: bool) -> None:
    """Enrol everyone in a roster CSV (name, email or user id, organisation, role).

    Comma or semicolon separated, with or without a byte-order mark. Unless
    --skip-bad is given, nothing is stored if any row is bad.
    """
    t = _translator()
    nothing = t("nothing was imported; fix the rows above or use --skip-bad")
    rows, problems = parse_roster(await asyncio.to_thread(file.read_bytes))
    if problems and not skip_bad:
        _report(file, problems)
        raise click.ClickException(nothing)

    async def work(runtime: Runtime) -> tuple[int, list[Any]]:
        return await admin.import_roster(runtime.store, cohort_key, rows, skip_bad=skip_bad)

    created, more = await _with_runtime(work)
    problems += more
    _report(file, problems)
    if more and not skip_bad:
        raise click.ClickException(nothing)
    stored = len(rows) - len(more)
    said = t(
        "{stored} people enrolled ({created} new, {updated} updated)",
        stored=stored,
        created=created,
        updated=stored - created,
    )
    if problems:
        said += "; " + t.plural("{n} row skipped", "{n} rows skipped", len(problems))
    click.echo(said)


def _report(file: Path, problems: list[Any]) -> None:
    for problem in sorted(problems, key=lambda p: p.line):
        click.echo(problem.format(str(file), _translator()), err=True)


# ------------------------------------------------------------------ schedule


@main.group()
def schedule() -> None:
    """A cohort's calendar: when themes, workshops, digilogs, quizzes and meetings happen."""


@schedule.command("load")
@click.argument("cohort_key", metavar="COHORT")
@click.argument("file", type=click.Path(path_type=Path))
@run_async
async def schedule_load(cohort_key: str, file: Path) -> None:
    """Check a calendar file against the cohort's programme and make it the calendar.

    Prints FILE:LINE: field: problem for each problem, and then stores nothing.
    """

    async def work(runtime: Runtime) -> int:
        try:
            return await admin.load_calendar(runtime.store, cohort_key, file)
        except FileProblems as error:
            for line in error.render(_translator()):
                click.echo(line, err=True)
            sys.exit(1)

    events = await _with_runtime(work)
    click.echo(
        _translator().plural(
            "{key}: calendar with {n} event loaded",
            "{key}: calendar with {n} events loaded",
            events,
            key=cohort_key,
        )
    )


@schedule.command("show")
@click.argument("cohort_key", metavar="COHORT")
@click.option("--all", "include_past", is_flag=True, help="Also what has already happened.")
@click.option("--names", is_flag=True, help="Who missed a message (failed or held up), by name.")
@run_async
async def schedule_show(cohort_key: str, include_past: bool, names: bool) -> None:
    """List what is coming up, and who will be nudged when, in the cohort's language and zone;
    what waits to go out and what failed, and why."""

    async def work(runtime: Runtime) -> str:
        cohort, programme, entries = await admin.calendar(runtime.store, cohort_key)
        t, zone, now = translator(cohort.language), ZoneInfo(cohort.timezone), utcnow()
        message = calendar_message(
            t, programme, entries, zone, now=now, include_past=include_past, keys=True
        )
        async with runtime.store.transaction() as repos:
            message = await with_deliveries(
                repos, REGISTRY, cohort, t, zone, message, entries, now, names=names
            )
        return render(message, indent="", color=sys.stdout.isatty(), marks=False)[0]

    click.echo(await _with_runtime(work))


# ------------------------------------------------------------------ bank


@main.group()
def bank() -> None:
    """The reflection bank."""


@bank.command("export")
@click.argument("cohort_key", metavar="COHORT")
@click.option(
    "--format", "fmt", type=click.Choice(export.FORMATS), default="csv", help="Default: csv."
)
@click.option("--out", type=click.File("w", encoding="utf-8"), default="-", help="Default: stdout.")
@click.option("--pseudonymised", is_flag=True, help="People as stable random ids, for evaluation.")
@click.option("--no-text", is_flag=True, help="With --pseudonymised: leave the texts out.")
@click.option(
    "--include-private",
    is_flag=True,
    help="Private reflections too (only their authors see them in chat); the audit log says so.",
)
@click.option("--excel", is_flag=True, help=EXCEL_HELP)
@run_async
async def bank_export(
    cohort_key: str,
    fmt: export.Format,
    out: TextIO,
    pseudonymised: bool,
    no_text: bool,
    include_private: bool,
    excel: bool,
) -> None:
    """Write a cohort's reflections as CSV or JSON, streamed row by row; without the
    private ones unless --include-private."""
    t = _translator()
    if no_text and not pseudonymised:
        raise click.UsageError(t("--no-text goes with --pseudonymised"))
    if excel and fmt != "csv":
        raise click.UsageError(t("--excel goes with --format csv"))

    async def work(runtime: Runtime) -> int:
        pseudonyms = None
        if pseudonymised:
            salt = await admin.pseudonym_salt(runtime.store, cohort_key)
            pseudonyms = export.Pseudonyms(salt, text=not no_text)
        views = admin.export_reflections(runtime.store, cohort_key, private=include_private)
        return await export.write(views, out, fmt, t, pseudonyms, excel=excel)

    rows = await _with_runtime(work)
    click.echo(t.plural("{n} reflection exported", "{n} reflections exported", rows), err=True)


@main.group()
def attendance() -> None:
    """Attendance at workshops, local meetings, events and labs."""


@attendance.command("export")
@click.argument("cohort_key", metavar="COHORT")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option(
    "--organisation", help="Only this organisation's participants (its key, or its name)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(gatherings.FORMATS),
    default="csv",
    help="CSV for Excel, or a printable HTML page per organisation; default: csv.",
)
@click.option("--excel", is_flag=True, help=EXCEL_HELP)
@run_async
async def attendance_export(
    cohort_key: str, file: Path, organisation: str | None, fmt: gatherings.Format, excel: bool
) -> None:
    """Write the attendance list for the funder (name, organisation, activity, date, hours,
    signature) as CSV for Excel or as a printable HTML page per organisation, in
    DIGILOG_LANGUAGE."""
    t = _translator()
    if excel and fmt != "csv":
        raise click.UsageError(t("--excel goes with --format csv"))

    async def work(runtime: Runtime) -> tuple[bytes, int]:
        async with runtime.store.transaction() as repos:
            cohort = await repos.cohorts.by_key(cohort_key)
            if cohort is None:
                raise click.ClickException(t("no cohort “{key}”", key=cohort_key))
            programme = await programme_of(repos, cohort.program_id)
            try:
                found = await gatherings.export_file(
                    repos, cohort, programme, t, fmt, organisation, excel=excel
                )
            except Refusal as refusal:
                said = render(refusal.message, marks=False)[0].strip()
                raise click.ClickException(said) from None
            await repos.audit.record(
                "export_attendance",
                cohort_id=cohort.id,
                detail={"format": fmt, "rows": found[1], "organisation": organisation},
            )
            return found

    content, rows = await _with_runtime(work)
    await asyncio.to_thread(file.write_bytes, content)
    click.echo(
        t.plural("{n} row of attendance, exported.", "{n} rows of attendance, exported.", rows),
        err=True,
    )


@main.command("report")
@click.argument("cohort_key", metavar="COHORT")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where the chart and the CSV go.",
)
@click.option("--excel", is_flag=True, help=EXCEL_HELP)
@run_async
async def report_command(cohort_key: str, out: Path, excel: bool) -> None:
    """Write a cohort's report: report.csv and participation.png per theme and organisation,
    surveys.csv, self-assessment.csv and self-assessment.png."""
    from handlers import report, retention

    async def work(runtime: Runtime) -> list[tuple[str, str | bytes, str]]:
        async with runtime.store.transaction() as repos:
            cohort = await repos.cohorts.by_key(cohort_key)
            if cohort is None:
                raise admin.AdminError(N_("no cohort “{key}”"), key=cohort_key)
            kept = await retention.kept_report(repos, cohort)
            if kept is not None:
                t = _translator()
                click.echo(t("the figures kept before the cohort's personal data was deleted"))
                return list(kept)
            t = translator(cohort.language)
            return report.files(t, await report.figures(repos, cohort, t), excel=excel)

    def write(files: list[tuple[str, str | bytes, str]]) -> list[Path]:
        out.mkdir(parents=True, exist_ok=True)
        for name, content, _ in files:
            if isinstance(content, bytes):
                (out / name).write_bytes(content)
            else:
                (out / name).write_text(content, encoding="utf-8")
        return [out / name for name, _, _ in files]

    written = await asyncio.to_thread(write, await _with_runtime(work))
    t = _translator()
    click.echo(t("wrote {files}", files=list_text((str(p) for p in written), t.language)))


# ------------------------------------------------------------------ person


@main.group()
def person() -> None:
    """One person's data: export it, or erase it."""


def _who(
    user_id: str | None, platform: str | None, workspace: str | None, email: str | None
) -> Any:
    """The person named either by account (all three) or by e-mail address, never both."""
    from handlers.personal_data import Who

    t = _translator()
    account = (user_id, platform, workspace)
    if email and any(account):
        raise click.UsageError(
            t("give either --email or --user-id with --platform and --workspace")
        )
    if email:
        return Who(email=email)
    if not all(account):
        raise click.UsageError(t("give --user-id, --platform and --workspace together, or --email"))
    return Who(user_id=user_id, platform=platform, workspace=workspace)


def _person_options(function: Callable[P, T]) -> Callable[P, T]:
    for option in reversed(
        (
            click.option("--user-id", help="The person's platform user id."),
            click.option(
                "--platform",
                type=Words(PLATFORMS, PLATFORM_WORDS),
                help="The platform of that user id.",
            ),
            click.option("--workspace", help="Slack team id or Teams tenant id (console: local)."),
            click.option("--email", help="Their e-mail address, instead of the three above."),
        )
    ):
        function = option(function)
    return function


async def _person_work(work: Callable[[Runtime], Awaitable[T]]) -> T:
    from handlers.personal_data import PersonNotFound

    async def guarded(runtime: Runtime) -> T:
        try:
            return await work(runtime)
        except PersonNotFound as error:
            raise admin.AdminError(error.text, **error.values) from None

    return await _with_runtime(guarded)


@person.command("export")
@_person_options
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The .zip to write: data.json and a CSV per table.",
)
@run_async
async def person_export(
    user_id: str | None, platform: str | None, workspace: str | None, email: str | None, out: Path
) -> None:
    """Write everything Digilog stores about one person to a .zip."""
    from handlers.personal_data import export_person

    who = _who(user_id, platform, workspace, email)
    t = _translator()
    if out.suffix.lower() != ".zip":
        raise click.UsageError(t("--out must name a .zip file"))

    async def work(runtime: Runtime) -> bytes:
        _, content = await export_person(runtime.store, who, t)
        return content

    content = await _person_work(work)
    await asyncio.to_thread(out.write_bytes, content)
    click.echo(t("wrote {files}", files=out))


@person.command("erase")
@_person_options
@click.option(
    "--keep-reflections",
    is_flag=True,
    help="Leave what they shared in the cohort's bank, under an anonymous author.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@run_async
async def person_erase(
    user_id: str | None,
    platform: str | None,
    workspace: str | None,
    email: str | None,
    keep_reflections: bool,
    yes: bool,
) -> None:
    """Erase one person: afterwards no row names them. It cannot be undone."""
    from handlers.personal_data import erase_person, preview_person

    who = _who(user_id, platform, workspace, email)

    async def preview(runtime: Runtime) -> list[tuple[str, str]]:
        _, counts = await preview_person(runtime.store, who)
        return counts

    counts = await _person_work(preview)
    t = _translator()
    if not yes:
        click.echo(
            t("This erases {who} and everything Digilog stores about them:", who=who.describe())
        )
        for label, count in counts:
            click.echo(f"  {t(label)}: {count}")
        if keep_reflections:
            click.echo(t("Their shared reflections stay in the bank under an anonymous author."))
        if not _confirm(t, t("Erase?")):
            click.echo(t("nothing was erased"))
            sys.exit(1)

    async def work(runtime: Runtime) -> Any:
        return await erase_person(runtime.store, who, keep_reflections=keep_reflections)

    erased = await _person_work(work)
    click.echo(
        t(
            "{who} is erased: {reflections} reflections deleted, {kept} kept anonymously, "
            "{memberships} memberships, {quiz} quiz answers, {survey} survey answers, "
            "{labs} lab sign-ups, {deliveries} deliveries",
            who=who.describe(),
            reflections=erased.reflections,
            kept=erased.kept,
            memberships=erased.memberships,
            quiz=erased.quiz_answers,
            survey=erased.survey_answers,
            labs=erased.lab_signups,
            deliveries=erased.deliveries,
        )
    )


# ------------------------------------------------------------------ retention


@main.group()
def retention() -> None:
    """How long each cohort's personal data is kept after its programme ends."""


@retention.command("show")
@click.option("--cohort", "cohort_key", help="Only this cohort.")
@run_async
async def retention_show(cohort_key: str | None) -> None:
    """When each cohort's data goes, whether the facilitators were told, what has gone."""
    from handlers import retention as policy

    async def work(runtime: Runtime) -> list[Any]:
        return await policy.overview(runtime.store, cohort_key)

    for state in await _with_runtime(work):
        click.echo("\n".join(policy.describe(state, _translator())))


@retention.command("set")
@click.argument("cohort_key", metavar="COHORT")
@click.option("--ends", type=click.DateTime(["%Y-%m-%d"]), help="The programme's end date.")
@click.option("--days", type=int, help="Days after the end that personal data is kept.")
@click.option("--reflections", type=int, help="Days for the reflection bank (0: as --days).")
@click.option("--quiz-answers", type=int, help="Days for quiz answers, at most --days (0: same).")
@run_async
async def retention_set(
    cohort_key: str,
    ends: Any,
    days: int | None,
    reflections: int | None,
    quiz_answers: int | None,
) -> None:
    """Change a cohort's retention; the facilitators are told 14 days before anything goes."""
    from handlers import retention as policy

    async def work(runtime: Runtime) -> Any:
        return await policy.change(
            runtime.store,
            cohort_key,
            ends_on=ends.date() if ends else None,
            days=days,
            reflection_days=reflections,
            quiz_answer_days=quiz_answers,
        )

    click.echo("\n".join(policy.describe(await _with_runtime(work), _translator())))


@retention.command("run")
@run_async
async def retention_run() -> None:
    """Tell and delete what is due now (`serve` and `worker` do this by themselves)."""
    from handlers import retention as policy

    async def work(runtime: Runtime) -> Any:
        return await policy.sweep(runtime.store, utcnow())

    swept = await _with_runtime(work)
    t = _translator()
    click.echo(
        t.plural(
            "{n} notice to facilitators planned (`serve` or `worker` sends it)",
            "{n} notices to facilitators planned (`serve` or `worker` sends them)",
            swept.notices,
        )
    )
    for key, kind, counts in swept.deletions:
        click.echo(
            t(
                "{key}: {kind} deleted: {counts}",
                key=key,
                kind=t(policy.LABELS[kind]),
                counts=policy.counts_text(t, counts),
            )
        )


# ------------------------------------------------------------------ teams


@main.group()
def teams() -> None:
    """Microsoft Teams: the app package to upload."""


@teams.command("package")
@click.option("--bot-id", required=True, help="The bot's Microsoft Entra app (client) id.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    required=True,
    help="The .zip to write.",
)
@click.option("--name", default="Digilog", show_default=True, help="The app's name in Teams.")
@click.option("--app-version", help="MAJOR.MINOR.PATCH, higher at every upload; default Digilog's.")
@click.option("--developer", help="Who runs the app: your organisation's name.")
@click.option("--website", help="https:// address of your page about the app.")
@click.option("--privacy", help="https:// address of your privacy notice.")
@click.option("--terms", help="https:// address of your terms of use.")
@click.option("--domain", "domains", multiple=True, help="Host name Digilog runs at; repeatable.")
def teams_package(
    bot_id: str,
    out: Path,
    name: str,
    app_version: str | None,
    developer: str | None,
    website: str | None,
    privacy: str | None,
    terms: str | None,
    domains: tuple[str, ...],
) -> None:
    """Write the app package (manifest.json, icons, Swedish texts) to upload to Teams."""
    from bot.teams.package import PackageError, build_package

    t = _translator()
    given = {
        "developer": developer,
        "website_url": website,
        "privacy_url": privacy,
        "terms_url": terms,
    }
    try:
        package = build_package(
            bot_id,
            name=name,
            version=app_version,
            valid_domains=domains,
            **{key: value for key, value in given.items() if value is not None},
        )
    except PackageError as error:
        raise click.UsageError(error.said(t)) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(package)
    click.echo(
        t("wrote {file}: upload it in Teams (Apps, Manage your apps, Upload an app)", file=out)
    )
    if website is None or privacy is None or terms is None:
        click.echo(
            t(
                "note: without --website, --privacy and --terms the app's links point at "
                "placeholders on example.org; give your organisation's pages before you "
                "publish it"
            ),
            err=True,
        )


@main.command("audit")
@click.option("--cohort", "cohort_key", help="Only this cohort's entries.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object per line, for scripts: the log's own field and action names, "
    "untranslated in every language.",
)
@run_async
async def audit_command(cohort_key: str | None, as_json: bool) -> None:
    """The audit log, newest first: exports, reading others' restricted reflections, role
    changes, erasures. People appear by number only."""

    async def work(runtime: Runtime) -> list[tuple[Any, str]]:
        return await admin.audit_entries(runtime.store, cohort_key)

    entries = await _with_runtime(work)
    if as_json:
        for entry, key in entries:
            click.echo(json.dumps(admin.audit_record(entry, key), ensure_ascii=False))
        return
    t = _translator()
    for entry, key in entries:
        who = f"#{entry.actor_person_id}" if entry.actor_person_id else t("administrator")
        about = (
            " " + t("about #{id}", id=entry.subject_person_id) if entry.subject_person_id else ""
        )
        action = admin.audit_action(t, entry.action)
        click.echo(
            f"{entry.at:%Y-%m-%d %H:%M:%S}Z  {key or '-':<12} {action:<36} {who}{about}  "
            f"{admin.audit_detail(t, entry.detail)}".rstrip()
        )


@main.command("failures")
@click.option("--cohort", "cohort_key", help="Only this cohort's failed actions.")
@click.option("--limit", default=50, show_default=True, help="How many, newest first.")
@run_async
async def failures_command(cohort_key: str | None, limit: int) -> None:
    """People's actions that did not go through after their retries (newest first), and
    how many actions wait in the inbound journal now. See docs/inbound.md."""

    t = _translator()

    async def work(runtime: Runtime) -> tuple[list[Any], int, int, dict[int, str]]:
        async with runtime.store.transaction() as repos:
            cohort_id = None
            if cohort_key is not None:
                found = await repos.cohorts.by_key(cohort_key)
                if found is None:
                    raise click.ClickException(t("no cohort “{key}”", key=cohort_key))
                cohort_id = found.id
            rows = await repos.inbound.failures(cohort_id=cohort_id, limit=limit)
            total = await repos.inbound.failure_count(cohort_id=cohort_id)
            waiting = await repos.inbound.waiting()
            keys = {c.id: c.key for c in await repos.cohorts.all()}
            return rows, total, waiting, keys

    rows, total, waiting, keys = await _with_runtime(work)
    click.echo(
        t.plural("{n} failed action", "{n} failed actions", total)
        + "; "
        + t.plural(
            "{n} action in the inbound journal now.",
            "{n} actions in the inbound journal now.",
            waiting,
        )
    )
    for row in rows:
        cohort = keys.get(row.cohort_id, "-") if row.cohort_id else "-"
        told = t("told") if row.told else t("NOT told")
        attempts = t.plural("{n} attempt", "{n} attempts", row.attempts)
        click.echo(
            f"{row.failed_at:%Y-%m-%d %H:%M:%S}Z  {cohort:<12} {row.platform:<5} "
            f"{row.workspace}/{row.user_id}  {failed_what(t, row.what)}  {told}, {attempts}: "
            f"{_failed_reason(t, row.reason)}"
        )


# A failure's reason as bot/logs.py's failure_of writes it: the error's type, and the
# line of Digilog's own code it went through or "a library".
_REASON = re.compile(r"(?P<error>[\w.]+) at (?P<place>.+)")


def _failed_reason(t: Translator, reason: str | None) -> str:
    first = reason.splitlines()[0][:300] if reason else ""
    found = _REASON.fullmatch(first)
    if found is None:
        return first
    place = found["place"]
    return t(
        "{error} at {place}",
        error=found["error"],
        place=t("a library") if place == "a library" else place,
    )


# ------------------------------------------------------------------ console and serve


@main.command()
@click.option("--cohort", "cohort_key", help="Which cohort (default: the only console cohort).")
@click.option("--as", "user_id", help="Whom to act as (default: the cohort's first facilitator).")
@click.option(
    "--at",
    "start_at",
    metavar="'YYYY-MM-DD HH:MM'",
    help="Rehearse the calendar from this moment (the cohort's time zone).",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    help="Rehearse the calendar this many times as fast as real time, e.g. 3600.",
)
@run_async
async def console(
    cohort_key: str | None, user_id: str | None, start_at: str | None, speed: float | None
) -> None:
    """Chat with Digilog in the terminal; pipe a transcript in to run it non-interactively.

    On an empty database it loads the bundled example programme and a demo cohort. The
    cohort's calendar runs while the console does: posts and nudges appear when due. With
    --at the time is a rehearsal's and stands still until `clock +2d` moves it (stopping at
    everything that falls due on the way); with --speed it also runs by itself.
    """
    from bot.console.courier import ConsoleCourier
    from bot.console.setup import choose_cohort
    from bot.console.shell import Console, interactive_reader, parse_moment
    from schedules.clock import RehearsalClock
    from schedules.service import Timing

    async def work(runtime: Runtime) -> None:
        # Someone is about to type: the dictionary loads while they read the greeting.
        swedish.preload()
        cohort, default_user = await choose_cohort(runtime, bundled_example(), cohort_key)
        rehearsed: RehearsalClock | None = None
        if start_at is not None or speed is not None:
            zone = ZoneInfo(cohort.timezone)
            start = parse_moment(start_at, utcnow(), zone) if start_at else utcnow()
            if start is None:
                t = _translator()
                raise click.BadParameter(t("write it like 2027-02-01 09:00"), param_hint="--at")
            # Without --speed the rehearsal's clock stands still until `clock` moves it.
            rehearsed = RehearsalClock(start, speed or 0.0)
            runtime = runtime.on_clock(rehearsed)
        shell = Console(
            runtime.digilog,
            runtime.store,
            cohort,
            user_id or default_user,
            color=sys.stdout.isatty(),
            echo=not sys.stdin.isatty(),
            clock=runtime.clock,
        )
        courier = ConsoleCourier(shell, runtime.clock)
        if rehearsed is not None:
            shell.rehearsal = rehearsal(runtime, courier, rehearsed)
        if sys.stdin.isatty():
            click.echo(
                shell.t(
                    "Digilog console — cohort {key}, acting as {user}. "
                    "Write help, or quit to leave.",
                    key=cohort.key,
                    user=shell.user_id,
                )
            )
        if rehearsed is not None and rehearsed.frozen:
            await shell.run(interactive_reader(sys.stdin))
            return
        # Every second of real time: a running rehearsal's clock runs ahead of
        # APScheduler's timers.
        timing = Timing(sweep_seconds=1.0, poll_seconds=1.0)
        async with running_schedules(runtime, courier, timing):
            await shell.run(interactive_reader(sys.stdin))

    await _with_runtime(work)


@main.command()
@click.option("--host", help="Default: DIGILOG_HOST (0.0.0.0).")
@click.option("--port", type=int, help="Default: DIGILOG_PORT or PORT (3000).")
def serve(host: str | None, port: int | None) -> None:
    """Serve Slack over HTTP (POST /slack/events) or Socket Mode, and GET /healthz.

    It also sends scheduled posts and nudges, and keeps the calendar if no other
    process does.
    """
    from aiohttp import web

    from bot.web import create_app

    settings = _serving_settings("serve", host=host)
    t = _translator()
    address = f"{host or settings.host}:{port or settings.port}"
    # aiohttp says it has started in English ("Running on …"): in the reader's words.
    web.run_app(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        print=lambda _: _started(
            "digilog serve: " + t("listening on {address}; Ctrl+C stops it", address=address)
        ),
    )


def _started(said: str) -> None:
    launch.started()
    click.echo(said, err=True)


def _serving_settings(command: str, *, host: str | None = None) -> Settings:
    """The settings `serve` and `worker` need (Slack and/or Teams), or exit 2 saying what is
    missing."""
    settings = Settings()
    if host is not None:
        # What is checked (anonymous Teams on loopback only) is the address bound.
        settings = settings.model_copy(update={"host": host})
    t = _translator()
    if not (settings.slack_enabled or settings.teams_enabled):
        click.echo(
            f"digilog {command}: "
            + t(
                "no Slack credentials are configured (SLACK_BOT_TOKEN, or SLACK_CLIENT_ID and "
                "SLACK_CLIENT_SECRET) and no Teams bot (TEAMS_APP_ID); see docs/slack.md and "
                "docs/microsoft-teams.md. `digilog console` runs a programme in the terminal."
            ),
            err=True,
        )
        sys.exit(2)
    problems = []
    if command == "serve":
        problems += settings.slack_problems(t) if settings.slack_enabled else []
        problems += settings.teams_problems(t) if settings.teams_enabled else []
    elif settings.slack_client_id and settings.slack_client_secret:
        # A worker answers no request, but it opens the stored tokens of OAuth installs
        # (bot/slack/app.py, installations_of): say why rather than fail at the first.
        problems += settings.secret_key_problems(t)
    if problems:
        for problem in problems:
            click.echo(f"digilog {command}: {problem}", err=True)
        sys.exit(2)
    return settings


@main.command()
@run_async
async def worker() -> None:
    """Send scheduled posts and nudges, keep the calendar if no other process does, and
    work Slack's journalled actions beside `digilog serve`.

    No HTTP: run it beside `digilog serve` processes on the same PostgreSQL. (A Teams
    click's answer goes back in its own request, so Teams' actions stay with serve.)
    """
    import aiohttp

    from bot.lanes import Lanes
    from bot.logs import calls_out
    from bot.slack.app import installations_of, slack_work
    from bot.webhooks import posting
    from schedules.service import worker_name

    settings = _serving_settings("worker")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    async with (
        open_runtime(settings) as runtime,
        aiohttp.ClientSession() as session,
        calls_out() as replies,
        posting(replies) as poster,
    ):
        journal = journal_of(settings, runtime.store)
        if settings.slack_enabled:
            installations = installations_of(settings, runtime.store.engine)
            slack_work(settings, runtime.digilog, journal, Lanes(), replies, poster, installations)
        if journal.performers:
            journal.start()
        couriers = platform_couriers(settings, runtime, session)
        try:
            async with running_schedules(runtime, couriers, timing_of(settings)):
                _started(f"digilog worker {worker_name()}: " + _translator()("sending"))
                await stop.wait()
        finally:
            await journal.close()  # replies on their way finish, the rest stays journalled


# ------------------------------------------------------------------ secrets


@main.group()
def secrets() -> None:
    """The keys that encrypt stored Slack tokens (DIGILOG_SECRET_KEYS)."""


@secrets.command("new-key")
def secrets_new_key() -> None:
    """Print a fresh key: put it first in DIGILOG_SECRET_KEYS, then run `secrets rotate`."""
    from bot.sealing import new_key

    click.echo(new_key())


@secrets.command("rotate")
@run_async
async def secrets_rotate() -> None:
    """Encrypt every stored token again with the newest key (plain-text ones too); after
    that the older keys can be dropped from DIGILOG_SECRET_KEYS."""
    from bot.sealing import Sealer, SecretKeyError
    from bot.slack.secure_store import SealedInstallationStore

    settings = Settings()
    t = _translator()
    try:
        sealer = Sealer(settings.secret_key_list())
        async with open_runtime(settings) as runtime:
            store = SealedInstallationStore(
                settings.slack_client_id or "", runtime.store.engine, sealer
            )
            changed = await store.reseal_all()
    except SecretKeyError as error:
        raise click.ClickException(error.said(t)) from None
    others = len(settings.secret_key_list()) - 1
    said = t("{n} stored secrets encrypted with the newest key", n=changed)
    if others:
        said += "; " + t.plural(
            "the older key may now be dropped", "the {n} older keys may now be dropped", others
        )
    click.echo(said)


if __name__ == "__main__":
    main()
