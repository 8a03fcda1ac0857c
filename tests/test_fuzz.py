"""Hostile and broken input, fuzzed with hypothesis: programme and calendar files, roster
CSVs, and what Slack and Teams post to `digilog serve`.

What must hold for every input: no crash, no 5xx, no partial write, only clear errors.
A file's problems are `FileProblems`, each naming the file, a line of it and a field; a
roster's are `RosterProblem`s; a request that is not valid is answered below 500, logs
no error and leaves every table as it was.

The HTTP properties draw their examples first with a synchronous `@given` (hypothesis
does not run async tests on pytest-asyncio's loop) and then post them all to one server.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import hmac
import io
import json
import logging
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes, quote_plus, unquote_plus, urlencode

import aiohttp
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from bot.edge import unquote_form_value
from bot.slack.app import SAVE_SHORTCUT
from bot.web import MAX_BODY_BYTES, WORK
from handlers import admin
from handlers.core.calendar_file import parse_calendar
from handlers.core.programme_file import Programme, parse_programme
from handlers.core.programme_file import load_programme as read_programme
from handlers.core.roster import HEADERS, ROLES, RosterProblem, RosterRow, parse_roster
from handlers.core.yaml_file import FileProblems
from handlers.features import REGISTRY
from storage.models import CalendarEntry
from storage.unit import Store
from tests import slack_payloads as p
from tests import test_teams_scenarios as teams_scenarios
from tests.conftest import EXAMPLE, ROOT, make_cohort, table_names
from tests.servers import SLACK_SECRET as SECRET
from tests.servers import serve, serve_settings
from tests.slack_fake import FakeSlack
from tests.teams_fake import APP_ID
from tests.test_slack_scenarios import PEOPLE as SLACK_PEOPLE
from tests.test_slack_scenarios import Slack, slack_cohort

teams = teams_scenarios.teams  # the fixture: `digilog serve` with Teams, a fake Connector
Teams = teams_scenarios.Teams

CALENDAR_EXAMPLE = EXAMPLE.with_name("digital-kompetens-calendar.yaml")
PROGRAMME = read_programme(EXAMPLE)
PROGRAMME_DATA: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
CALENDAR_DATA: dict[str, Any] = yaml.safe_load(CALENDAR_EXAMPLE.read_text(encoding="utf-8"))
ZONES = ("Europe/Stockholm", "UTC", "America/St_Johns")

FILES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Drawing the payloads that the HTTP tests post; each example is a request to the server.
DRAW = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ---------------------------------------------------------------- strategies


def keys_of(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {str(k) for k in value} | {k for v in value.values() for k in keys_of(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_of(v)}
    return set()


KNOWN_KEYS = sorted(keys_of(PROGRAMME_DATA) | keys_of(CALENDAR_DATA))

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.datetimes()
    | st.dates()
)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
yaml_keys = st.sampled_from(KNOWN_KEYS) | st.text(max_size=20) | st.integers(-3, 12)
yaml_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(yaml_keys, inner, max_size=5),
    max_leaves=25,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
huge_texts = st.builds(
    lambda unit, times: unit * times, st.text(min_size=1, max_size=4), st.integers(2_000, 20_000)
)
odd_texts = (
    st.text(max_size=300)
    | huge_texts
    | st.sampled_from(["", " ", "\x00", "\u202e", "🙂" * 500, "<at>x</at>", "&lt;@U1&gt;"])
)
# YAML's own punctuation, so that random text hits its syntax more often than not.
yaml_texts = st.text(alphabet="-:[]{},&*!|>'\"%@`#?\n \tabcé0129.+~<=\\\x01\ufeff", max_size=400)

Path_ = tuple[str | int, ...]


class Seed:
    """A document to mutate; short in hypothesis's reports, however long the document."""

    def __init__(self, name: str, value: Any) -> None:
        self.name, self.value = name, value

    def __repr__(self) -> str:
        return self.name


def paths(value: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    """Every place in a document: each key of a mapping, each item of a list."""
    if isinstance(value, dict | list):
        children: Any = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in children:
            yield (*prefix, key)
            yield from paths(child, (*prefix, key))


def nested(depth: int, inner: Any) -> Any:
    for _ in range(depth):
        inner = [inner]
    return inner


@st.composite
def mutated(draw: st.DrawFn, base: Seed, values: st.SearchStrategy[Any] = json_values) -> Any:
    """The document with a few things wrong: a key dropped, a value of another type, a
    huge text, a value nested deep, a key that means nothing."""
    doc = copy.deepcopy(base.value)
    for _ in range(draw(st.integers(1, 3))):
        places = list(paths(doc))
        if not places:
            break
        place = draw(st.sampled_from(places))
        parent: Any = doc
        for step in place[:-1]:
            parent = parent[step]
        key: Any = place[-1]
        change = draw(st.sampled_from(["drop", "retype", "huge", "nest", "add"]))
        if change == "drop":
            del parent[key]
        elif change == "retype":
            parent[key] = draw(values)
        elif change == "huge":
            parent[key] = draw(huge_texts)
        elif change == "nest":
            parent[key] = nested(draw(st.integers(1, 60)), parent[key])
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=12))] = draw(values)
        else:
            parent.append(draw(values))
    return doc


def dump(doc: Any) -> str:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's, when there: faster
    return yaml.dump(doc, Dumper=dumper, allow_unicode=True, sort_keys=False)


@st.composite
def line_edits(draw: st.DrawFn, source: Seed) -> str:
    """The file's text with a line dropped, repeated (duplicate keys) or garbled."""
    lines = str(source.value).splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        if not lines:
            break
        at = draw(st.integers(0, len(lines) - 1))
        change = draw(st.sampled_from(["drop", "repeat", "garble", "indent"]))
        if change == "drop":
            del lines[at]
        elif change == "repeat":
            lines.insert(at, lines[at])
        elif change == "indent":
            lines[at] = draw(st.sampled_from([" ", "\t", "   "])) + lines[at]
        else:
            cut = draw(st.integers(0, len(lines[at])))
            lines[at] = lines[at][:cut] + draw(yaml_texts) + lines[at][cut:]
    return "".join(lines)


def yaml_sources(example: Path, data: Any) -> st.SearchStrategy[str]:
    text = Seed(example.name, example.read_text(encoding="utf-8"))
    return (
        st.text(max_size=500)
        | yaml_texts
        | st.builds(dump, yaml_values)
        | st.builds(dump, mutated(Seed(example.name, data), yaml_values))
        | line_edits(text)
    )


DEEP = "a: " + "[" * 1_000 + "]" * 1_000 + "\n"


# ---------------------------------------------------------------- files: the property


def explains(error: FileProblems, source: str, filename: str) -> None:
    """Every problem names this file, a line that is in it, and a field. Lines as the file
    is read back (universal newlines: a lone carriage return ends a line too)."""
    last_line = source.replace("\r\n", "\n").replace("\r", "\n").count("\n") + 1
    assert error.problems, "FileProblems without a problem"
    for problem in error.problems:
        assert problem.file == filename
        assert 1 <= problem.line <= last_line, (problem, last_line)
        assert isinstance(problem.path, str) and problem.path.strip(), problem
        assert isinstance(problem.message, str) and problem.message.strip(), problem
        assert str(problem).startswith(f"{filename}:{problem.line}: {problem.path}: ")


def parse_or_explain(parse: Callable[[str, str], object], source: str) -> None:
    filename = "fuzzed.yaml"
    try:
        parse(source, filename)
    except FileProblems as error:
        explains(error, source, filename)


def calendar_of(source: str, filename: str, zone: str = "Europe/Stockholm") -> object:
    return parse_calendar(source, filename, PROGRAMME, zone)


# Crashes found by fuzzing, kept as examples so they are tried on every run.
KNOWN_BAD_YAML = (
    "a: \x01\n",  # ReaderError: not a MarkedYAMLError
    "? [a, b]\n: c\n",  # a list as a key: TypeError, unhashable
    "start: 2025-02-30\n",  # a date that does not exist: ValueError from the constructor
    "minutes: !!int ten\n",  # ValueError from the constructor
    DEEP,  # RecursionError in the composer
)


@FILES
@given(yaml_sources(EXAMPLE, PROGRAMME_DATA))
@example(KNOWN_BAD_YAML[0])
@example(KNOWN_BAD_YAML[1])
@example(KNOWN_BAD_YAML[2])
@example(KNOWN_BAD_YAML[3])
@example(KNOWN_BAD_YAML[4])
def test_a_broken_programme_file_gets_problems_that_name_file_line_and_field(
    source: str,
) -> None:
    parse_or_explain(parse_programme, source)


MIXED_ZONES = """\
themes:
  1:
    start: 2025-01-01 10:00
    digilog: {opens: 2025-01-02 10:00, closes: 2025-01-03T10:00:00+01:00}
"""


@FILES
@given(yaml_sources(CALENDAR_EXAMPLE, CALENDAR_DATA), st.sampled_from(ZONES))
@example(MIXED_ZONES, "Europe/Stockholm")  # naive and aware times compared: TypeError
@example(KNOWN_BAD_YAML[2], "UTC")
def test_a_broken_calendar_file_gets_problems_that_name_file_line_and_field(
    source: str, zone: str
) -> None:
    parse_or_explain(lambda s, f: calendar_of(s, f, zone), source)


def test_the_examples_still_parse() -> None:
    """The seeds of the fuzzing are valid, so what the mutations break is the mutation."""
    parse_programme(EXAMPLE.read_text(encoding="utf-8"), str(EXAMPLE))
    calendar_of(CALENDAR_EXAMPLE.read_text(encoding="utf-8"), str(CALENDAR_EXAMPLE))


# ---------------------------------------------------------------- files: no partial write


async def entries(store: Store) -> list[tuple[Any, ...]]:
    async with store.transaction() as repos:
        rows = await repos.session.scalars(select(CalendarEntry).order_by(CalendarEntry.key))
        return [(e.cohort_id, e.key, e.kind, e.starts_at, e.ends_at) for e in rows]


async def test_a_broken_calendar_changes_nothing_in_the_database(
    store: Store, programme: Programme, tmp_path: Path
) -> None:
    cohort = await make_cohort(store, programme)
    assert await admin.load_calendar(store, cohort.key, CALENDAR_EXAMPLE) > 0
    sources: list[str] = drawn(yaml_sources(CALENDAR_EXAMPLE, CALENDAR_DATA))
    for number, source in enumerate(sources):
        path = tmp_path / f"calendar-{number}.yaml"
        path.write_text(source, encoding="utf-8")
        before = await entries(store)
        try:
            await admin.load_calendar(store, cohort.key, path)
        except FileProblems as error:
            explains(error, source, str(path))
            assert await entries(store) == before, source[:300]


# ---------------------------------------------------------------- roster CSVs

ALL_HEADERS = sorted({h for aliases in HEADERS.values() for h in aliases})


@st.composite
def roster_files(draw: st.DrawFn) -> bytes:
    header = draw(
        st.lists(st.sampled_from(ALL_HEADERS) | st.text(max_size=12), min_size=0, max_size=7)
    )
    cell = (
        st.text(max_size=30)
        | st.sampled_from(sorted(ROLES))
        | st.builds("{}@{}.se".format, st.text(max_size=8), st.text(max_size=8))
        | st.sampled_from(["umea", "a@b", "@", "U123", '"', "\r", "\n", "x" * 200])
    )
    rows = draw(st.lists(st.lists(cell, max_size=8), max_size=12))
    out = io.StringIO()
    csv.writer(out, delimiter=draw(st.sampled_from([",", ";", "\t"]))).writerows([header, *rows])
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]))
    return out.getvalue().encode(encoding, errors="replace")


def parse_or_report(data: bytes) -> None:
    rows, problems = parse_roster(data)
    lines = data.count(b"\n") + data.count(b"\r") + 1
    for row in rows:
        assert isinstance(row, RosterRow) and row.organisation and (row.email or row.user_id)
    for problem in problems:
        assert isinstance(problem, RosterProblem)
        assert 1 <= problem.line <= lines, (problem, lines)
        assert problem.field.strip() and problem.message.strip()
    identities = [(r.user_id or r.email or "").lower() for r in rows]
    assert len(identities) == len(set(identities)), "the same person twice"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2_000) | roster_files())
@example(b"\x81")  # not UTF-8, and not cp1252 either: UnicodeDecodeError
@example(b'organisation,email\n"' + b"x" * 140_000)  # csv.Error: field larger than field limit
def test_a_roster_file_gives_rows_or_problems_and_never_raises(data: bytes) -> None:
    parse_or_report(data)


# ---------------------------------------------------------------- inbound HTTP: helpers


# An event that was handled, even as "nothing to do", is remembered so a retry is not:
# by design, and no content of the event is kept.
BOOKKEEPING = ("processed_events",)


async def row_counts(store: Store, skip: tuple[str, ...] = ()) -> dict[str, int]:
    async with store.engine.connect() as connection:
        tables = await table_names(connection)
    async with store.transaction() as repos:
        counts = {}
        for table in tables:
            if table not in skip:
                count = await repos.session.scalar(select(func.count()).select_from(text(table)))
                counts[table] = count or 0
        return counts


# Digilog's own loggers, and bolt's (it logs a listener that raised). The Agents SDK logs
# every activity it cannot read at ERROR, before Digilog answers 400: not a crash.
OURS = ("bot", "handlers", "storage", "schedules", "slack_bolt")


def changed(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {t: (n, after[t]) for t, n in before.items() if after[t] != n}


def errors_in(records: list[logging.LogRecord]) -> list[str]:
    """The errors Digilog logged: a crash in work after an ack is logged, not answered."""
    return [
        f"{r.name}: {r.getMessage()[:200]}" + (where_it_broke(r.exc_info) if r.exc_info else "")
        for r in records
        if r.levelno >= logging.ERROR and r.name.split(".")[0] in OURS
    ]


def where_it_broke(exc_info: Any) -> str:
    """The exception, and the deepest line of Digilog's own code it went through."""
    frames = [
        f"{Path(f.filename).relative_to(ROOT)}:{f.lineno}"
        for f in traceback.extract_tb(exc_info[2])
        if f.filename.startswith(str(ROOT)) and "/tests/" not in f.filename
    ]
    return f" {exc_info[1]!r}"[:300] + (f" at {frames[-1]}" if frames else "")


def drawn(strategy: st.SearchStrategy[Any]) -> list[Any]:
    """Examples of a strategy, drawn by hypothesis (so edge cases come first)."""
    found: list[Any] = []

    @DRAW
    @given(strategy)
    def keep(value: Any) -> None:
        found.append(value)

    keep()
    return found


# ---------------------------------------------------------------- Slack


@dataclass
class SlackServer:
    slack: Slack
    drained: Callable[[], Awaitable[None]]

    async def post(self, body: bytes, content_type: str | None, *, sign: bool = True) -> int:
        headers: dict[str, str] = {}
        if content_type is not None:
            headers["Content-Type"] = content_type
        if sign:
            stamp = str(int(time.time()))
            base = f"v0:{stamp}:".encode() + body
            digest = hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest()
            headers |= {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}
        async with self.slack.http.post(self.slack.url, data=body, headers=headers) as response:
            await response.read()
            return response.status


@pytest.fixture
async def slack_server(
    database_url: str, store: Store, programme: Programme, tmp_path: Path
) -> AsyncIterator[SlackServer]:
    """As tests/test_slack_scenarios.py's `slack`, with a way to wait for queued work."""
    await slack_cohort(store, programme, language="sv", self_enrol=True)
    rows = [RosterRow(i, n, None, u, o, r) for i, (u, n, o, r, _) in enumerate(SLACK_PEOPLE, 1)]
    await admin.import_roster(store, "grupp-1", rows, skip_bad=False)
    async with FakeSlack() as fake, aiohttp.ClientSession() as http:
        for user, name, _, _, locale in SLACK_PEOPLE:
            fake.users[user] = {"real_name": name, "display_name": name, "locale": locale}
        async with serve(serve_settings(database_url, tmp_path, slack=fake)) as server:
            drained = server.app[WORK].drained
            slack = Slack(fake, str(server.make_url("/slack/events")), http, store, drained)
            yield SlackServer(slack, drained)


def not_a_command(value: str) -> bool:
    return REGISTRY.find(value)[0] is None


def slack_bases() -> dict[str, dict[str, Any]]:
    """Real-shaped payloads to break; none of them would change anything if valid."""
    root = p.next_ts()
    return {
        "thread reply": p.message_event("hej", thread_ts=root).payload,
        "edit": p.message_changed("C_COHORT", root, None, "x", "U_ANNA").payload,
        "delete": p.message_deleted("C_COHORT", root, root, "U_ANNA").payload,
        "home": p.app_home_opened("U_ANNA").payload,
        "join": p.member_joined_channel("U_NEW").payload,
    }


def interactive_bases(fake_url: str) -> list[dict[str, Any]]:
    return [
        p.block_action("quiz:999:1:2", "quiz:999:1:2", response_url=fake_url).payload,
        p.block_action("x", "y", container="view").payload,
        p.block_action(
            "x", "y", kind="static_select", container="ephemeral", response_url=fake_url
        ).payload,
        p.view_submission("reflection:999", {"b": {"text": "min reflektion"}}, "{}").payload,
        p.message_shortcut(SAVE_SHORTCUT, message_text="hej", response_url=fake_url).payload,
    ]


@st.composite
def slack_requests(draw: st.DrawFn, fake_url: str) -> tuple[str, bytes, str | None]:
    """(what it is, body, content type): a broken event, command or interaction."""
    kind = draw(st.sampled_from(["event", "command", "interactive", "broken", "raw"]))
    if kind == "event":
        base = draw(st.sampled_from(list(slack_bases().values())))
        doc = draw(mutated(Seed("event", base)))
        if isinstance(doc, dict):
            doc["event_id"] = p.new_event_id()  # else bolt's retry handling hides the rest
        return kind, json.dumps(doc).encode(), p.JSON
    if kind == "command":
        fields: dict[str, Any] = dict(p.slash_command("x", response_url=fake_url).payload)
        fields["text"] = draw(odd_texts.filter(not_a_command))
        fields = draw(mutated(Seed("command", fields), json_scalars | st.text(max_size=50)))
        form = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
        form["response_url"] = fake_url
        if form.get("text") is not None and not not_a_command(form["text"]):
            form["text"] = "nonsense"
        return kind, urlencode(form).encode(), p.FORM
    if kind == "interactive":
        doc = draw(mutated(Seed("interaction", draw(st.sampled_from(interactive_bases(fake_url))))))
        if isinstance(doc, dict) and "response_url" in doc:
            doc["response_url"] = fake_url  # Slack's own; a reply to nowhere is logged
        return kind, urlencode({"payload": json.dumps(doc)}).encode(), p.FORM
    if kind == "broken":
        inner = draw(st.text(max_size=200) | st.just('{"type": "block_actions", "user": '))
        field = draw(st.sampled_from(["payload", "command", "text", "ssl_check"]))
        return kind, urlencode({field: inner}).encode(), p.FORM
    content_type = draw(
        st.sampled_from([p.JSON, p.FORM, "text/plain", "application/json; charset=latin-1"])
        | st.none()
    )
    return kind, draw(st.binary(max_size=500)), content_type


async def test_broken_slack_requests_get_no_5xx_no_error_and_change_nothing(
    slack_server: SlackServer, caplog: pytest.LogCaptureFixture
) -> None:
    server, fake = slack_server, slack_server.slack.fake
    fake_url = fake.response_url("fuzz")
    requests = drawn(slack_requests(fake_url))
    before = await row_counts(server.slack.store, BOOKKEEPING)
    caplog.set_level(logging.WARNING)
    answers: dict[int, list[str]] = {}
    crashed: list[tuple[bytes, list[str]]] = []
    for kind, body, content_type in requests:
        seen = len(caplog.records)
        status = await server.post(body, content_type)
        answers.setdefault(status, []).append(kind)
        assert status < 500, (kind, content_type, body[:300])
        await server.drained()
        if errors := errors_in(caplog.records[seen:]):
            crashed.append((body, errors))
    assert crashed == [], "\n".join(f"{b[:400]!r}\n  -> {e}" for b, e in crashed)
    assert changed(before, await row_counts(server.slack.store, BOOKKEEPING)) == {}
    assert set(answers) <= {200, 400, 401, 404, 413}, answers


# ---------------------------------------------------------------- Teams


def teams_bases(teams: Teams) -> list[dict[str, Any]]:
    """Real-shaped activities to break; none of them would change anything if valid."""
    card = {"action": {"type": "Action.Execute", "verb": "digilog", "data": {"a": "quiz:9:9:9"}}}
    return [
        teams.activity("29:anna", text="nonsense", mention_bot=True),
        teams.activity("29:anna", text="hej", thread="1700000000000"),
        teams.activity("29:anna", text="hej", personal=True),
        teams.activity("29:anna", kind="messageUpdate", text="x", thread="1700000000000"),
        teams.activity("29:anna", kind="messageDelete", thread="1700000000000"),
        teams.activity("29:anna", kind="invoke", name="adaptiveCard/action", value=card),
        teams.activity("29:anna", kind="message", value={"digilog_form": "x", "f": 1}),
        teams.activity("29:anna", kind="conversationUpdate", membersAdded=[{"id": "29:new"}]),
        teams.activity("29:anna", kind="typing"),
    ]


@st.composite
def teams_activities(draw: st.DrawFn, bases: list[dict[str, Any]]) -> Any:
    doc = draw(mutated(Seed("activity", draw(st.sampled_from(bases)))))
    if isinstance(doc, dict) and draw(st.booleans()):
        # Break what the handler reads, keeping what the SDK needs to take the activity.
        doc[draw(st.sampled_from(["type", "name", "value", "text", "channelData"]))] = draw(
            json_values | st.sampled_from(["invoke", "message", "adaptiveCard/action"])
        )
    return doc


async def test_broken_teams_activities_get_no_5xx_no_error_and_store_nothing(
    teams: Teams, caplog: pytest.LogCaptureFixture
) -> None:
    activities = drawn(teams_activities(teams_bases(teams)))
    skip = (*BOOKKEEPING, "conversation_addresses")  # every activity leaves its address
    before = await row_counts(teams.store, skip)
    caplog.set_level(logging.WARNING)
    crashed: list[tuple[Any, list[str]]] = []
    for activity in activities:
        seen = len(caplog.records)
        status = await teams.send(activity)
        assert status < 500, json.dumps(activity)[:500]
        if errors := errors_in(caplog.records[seen:]):
            crashed.append((activity, errors))
    assert crashed == [], "\n".join(f"{json.dumps(a)[:400]}\n  -> {e}" for a, e in crashed)
    assert changed(before, await row_counts(teams.store, skip)) == {}


async def test_a_teams_activity_from_nobody_is_not_acted_on(
    teams: Teams, caplog: pytest.LogCaptureFixture
) -> None:
    """Found by the property above: a `from` without an id crashed the queued work."""
    caplog.set_level(logging.WARNING)
    before = await row_counts(teams.store, (*BOOKKEEPING, "conversation_addresses"))
    for base in teams_bases(teams):
        base["from"] = {"name": "Nobody"}
        assert await teams.send(base) < 500
    assert errors_in(caplog.records) == []
    after = await row_counts(teams.store, (*BOOKKEEPING, "conversation_addresses"))
    assert changed(before, after) == {}


# ---------------------------------------------------------------- bodies over the limit


BIG = b'{"type": "message", "text": "' + b"x" * MAX_BODY_BYTES + b'"}'


async def test_a_slack_body_over_the_limit_is_refused(slack_server: SlackServer) -> None:
    assert await slack_server.post(BIG, p.JSON) == 413
    assert await slack_server.post(BIG, p.FORM, sign=False) == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: read, then refused
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"x" * 65536

    async with slack_server.slack.http.post(
        slack_server.slack.url, data=chunks(), headers={"Content-Type": p.JSON}
    ) as response:
        assert response.status == 413
    # Just under the limit is read, and answered as any other request.
    reply = {"type": "message", "user": "U_ANNA", "channel": "C_COHORT", "ts": p.next_ts()}
    reply |= {"thread_ts": p.next_ts(), "text": "x" * (MAX_BODY_BYTES - 8192)}
    assert await slack_server.post(p.event_callback(reply).body.encode(), p.JSON) == 200


async def test_a_teams_body_over_the_limit_is_refused(teams: Teams) -> None:
    token = teams.signer.token(audience=APP_ID, service_url=teams.connector.service_url)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with teams.http.post(teams.url, data=BIG, headers=headers) as response:
        assert response.status == 413
    # Without a token it is refused before the body is read at all.
    async with teams.http.post(teams.url, data=BIG) as response:
        assert response.status == 401
    # Just under the limit is read, and answered as any other request.
    body = teams.activity("29:anna", text="x" * (MAX_BODY_BYTES - 8192), thread="1")
    assert await teams.send(body) == 200


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.text().map(lambda text: quote_plus(text)),  # as Slack encodes a payload
        st.text(alphabet="%+\\abcdefABCDEF0123456789xXé\x00 "),  # and anything else
        st.binary().map(lambda raw: quote_from_bytes(raw)),  # bytes that are not UTF-8
    )
)
@example("%7B%22a%22%3A+%22%C3%A5%5C%22%22%7D")
@example("%E2%82")  # half a character
@example("%4G%")
def test_the_fast_form_decoder_reads_every_value_as_unquote_plus(encoded: str) -> None:
    assert unquote_form_value(encoded) == unquote_plus(encoded)
