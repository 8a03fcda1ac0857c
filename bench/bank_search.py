"""Reflection bank search benchmark: ranked full-text search against a naive LIKE scan.

Builds one cohort (the example programme, 40 participants from 5 organisations and a
facilitator, enrolled with import_roster) holding --rows Swedish reflections, then times
ReflectionRepository.search() and, in the same run and on the same queries and viewers,
ReflectionRepository.naive_search(). Prints p50/p95/max of both and the ratio.

Target (from the issue): search() p95 under 20 ms on SQLite on a 2-core machine.
Nothing here asserts on time: the figures are printed next to the baseline.

    .venv/bin/python bench/bank_search.py                      # 100,000 rows, scratch SQLite
    .venv/bin/python bench/bank_search.py --rows 2000 --queries 20
    .venv/bin/python bench/bank_search.py \
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test

With a PostgreSQL URL a scratch database digilog_bench_<random> is created next to the
named one (which is left untouched) and dropped at the end, unless --keep.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import random
import re
import secrets
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Column, MetaData, Table, Text, func, insert, select, text  # noqa: E402
from sqlalchemy import cast as cast_  # noqa: E402
from sqlalchemy.dialects.postgresql import TSVECTOR  # noqa: E402
from sqlalchemy.engine import URL  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402
from sqlalchemy.types import TypeDecorator  # noqa: E402

from bench.search_labels import QUERIES, REFLECTIONS  # noqa: E402
from handlers.admin import CohortSpec, create_cohort, import_roster, load_programme  # noqa: E402
from handlers.core.programme_file import load_programme as read_programme  # noqa: E402
from handlers.core.roster import RosterRow  # noqa: E402
from storage.db import create_engine, normalise_url, scratch_postgresql  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Reflection, Role, Source, Visibility  # noqa: E402
from storage.reflections import Viewer  # noqa: E402
from storage.search import (  # noqa: E402
    ANALYSER_VERSION,
    forms_literal,
    fts5_match,
    sqlite_columns,
    tsquery_literal,
    tsvector_literal,
)
from storage.swedish import analyse_word, matches, parse_query, words  # noqa: E402
from storage.unit import Store  # noqa: E402

PROGRAMME_FILE = ROOT / "examples" / "digital-kompetens.yaml"
ORGANISATIONS = ("umea", "skelleftea", "ornskoldsvik", "pitea")  # participants
FACILITATOR_ORGANISATION = "region-vasterbotten"
PARTICIPANTS = 40
THEMES = 4
TARGET_P95_MS = {"sqlite": 20.0, "postgresql": 30.0}
TARGET_INDEX_S = 60.0  # indexing 100,000 reflections
TARGET_RECALL = TARGET_PRECISION = 0.95
ADDED_THROUGH_REPOSITORY = 5  # rows stored with ReflectionRepository.add(), not the bulk path
BATCH = 5000
MARKER = "bänktestmarkören"  # one bulk row and the add() rows carry it: both paths searchable

# ------------------------------------------------------------------ Swedish text generation
# Lists are ordered from common to less common; choices are Zipf-weighted by position, so
# "digitaliseringen" turns up in many reflections and "nyttorealiseringen" in fewer.

SUBJECTS = (
    "vi",
    "jag",
    "ledningsgruppen",
    "min lärkompis",
    "cheferna",
    "medarbetarna",
    "många medarbetare",
    "invånarna",
    "förvaltningen",
    "verksamheten",
    "organisationen",
    "min enhet",
    "kommunen",
    "regionen",
    "flera kollegor",
    "vi chefer",
)
NOUN_PHRASES = (  # the programme's words
    "digitaliseringen",
    "medarbetarna",
    "verksamheten",
    "förändringen",
    "ledarskapet",
    "invånarna",
    "digitalisering",
    "reflektionen",
    "kompetensen",
    "nya arbetssätt",
    "e-tjänster",
    "mina medarbetare",
    "förändringsarbetet",
    "digitaliseringens möjligheter",
    "invånarnas behov",
    "medarbetarnas kompetens",
    "automatisering",
    "stora förändringar",
    "ledarskap",
    "nyttorealisering",
    "reflektionerna från workshopen",
    "arbetssättet",
    "en ny e-tjänst",
    "digital kompetens",
    "organisationen",
    "kulturen",
    "tilliten i gruppen",
    "våra processer",
    "den digitala transformationen",
    "ledarskapets roll",
    "automatiseringen av enkla ärenden",
    "nyttorealiseringen",
    "reflektioner",
    "medarbetare",
    "invånare",
    "förändringar",
    "kompetens",
    "verksamhetens mål",
    "e-tjänsten",
    "samarbetet mellan förvaltningarna",
    "informationssäkerheten",
    "datadrivna beslut",
    "lärandet",
    "chefer och ledare",
    "kommunens digitala service",
    "en digital strategi",
    "arbetssätten",
    "förändringsarbete",
    "kompetensförsörjningen",
    "AI-verktyg",
    "reflektion",
    "medarbetarens perspektiv",
    "invånarens väg genom e-tjänsten",
    "digitaliseringens risker",
    "förändringarnas tempo",
    "ledarskapets utmaningar",
)
EVERYDAY = (  # what else a manager's reflection is about
    "arbetsplatsträffarna",
    "budgeten",
    "tiden",
    "mötena",
    "rutinerna",
    "schemat",
    "introduktionen av nya kollegor",
    "dokumentationen",
    "uppföljningen",
    "kommunikationen",
    "ärendehanteringen",
    "systemstödet",
    "intranätet",
    "planeringen",
    "beslutsvägarna",
    "arbetsmiljön",
    "prioriteringarna",
    "målen",
    "ekonomin",
    "visionen",
    "rekryteringen",
    "äldreomsorgen",
    "skolan",
    "socialtjänsten",
    "bygglovshandläggningen",
    "kundtjänsten",
    "ledningssystemet",
    "samverkan med regionen",
    "våra rutiner för avvikelser",
    "sjukfrånvaron",
    "handläggarnas vardag",
    "upphandlingen",
    "nämnden",
    "politikerna",
    "enkäten",
    "lönesamtalen",
    "hemtjänsten",
    "telefontiderna",
    "bemanningen",
    "medborgardialogen",
    "våra lokaler",
    "onboardingen",
    "arbetsbelastningen",
    "statistiken",
    "pilotprojektet",
)
VERBS = (  # finite, after a subject, before a noun phrase
    "behöver förstå",
    "vill utveckla",
    "försöker förbättra",
    "pratar mycket om",
    "diskuterade",
    "har börjat arbeta med",
    "ser fram emot",
    "märker av",
    "underskattar ofta",
    "måste prioritera",
    "har svårt att se",
    "lär sig mer om",
    "reflekterar över",
    "tar ansvar för",
    "planerar för",
    "följer upp",
    "ifrågasätter",
    "behöver mer tid för",
    "saknar en tydlig bild av",
    "har goda erfarenheter av",
    "är nyfikna på",
    "väntar på",
)
INFINITIVES = (
    "förstå",
    "utveckla",
    "förbättra",
    "prata om",
    "följa upp",
    "prioritera",
    "arbeta med",
    "ta ansvar för",
    "lära oss mer om",
    "reflektera över",
    "leda",
    "förankra",
    "mäta",
    "testa",
    "utvärdera",
)
NP_VERBS = (  # finite, with a noun phrase as subject and object
    "påverkar",
    "förändrar",
    "underlättar",
    "kräver",
    "utmanar",
    "stärker",
    "förutsätter",
    "skapar",
    "ger",
    "gynnar",
)
ADJECTIVES = (
    "viktigt",
    "svårt",
    "avgörande",
    "spännande",
    "tydligt",
    "nödvändigt",
    "intressant",
    "lätt",
)
PREDICATES = (
    "en förutsättning för",
    "en utmaning för",
    "en viktig del av",
    "en möjlighet för",
    "en fråga om",
    "nyckeln till",
)
ADVERBIALS = (
    "just nu",
    "i vardagen",
    "på arbetsplatsträffen",
    "under hösten",
    "på riktigt",
    "i ledningsgruppen",
    "efter workshopen",
    "i vår kommun",
    "framöver",
    "på sikt",
    "varje vecka",
    "i det här temat",
    "för invånarna",
    "i verksamheten",
    "tillsammans med medarbetarna",
    "i förändringsarbetet",
)
CONJUNCTIONS = (", och", ", men", " eftersom", ", samtidigt som", ", vilket innebär att", ", så")
RARE_SENTENCES = (  # the rare query's word, in a few dozen reflections
    "{S} har läst om blockkedjeteknik och undrar om den passar {NP}.",
    "Någon nämnde blockkedjetekniken, men jag ser inte hur den hjälper {NP}.",
    "Kan blockkedjetekniken förändra {NP} på sikt?",
)


def word_count(text: str) -> int:
    return len(text.replace(",", " ").split())


def _zipf(n: int, s: float = 0.8) -> list[float]:
    weights = [1 / (rank**s) for rank in range(1, n + 1)]
    return list(_cumulative(weights))


def _cumulative(weights: Sequence[float]) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


class TextGenerator:
    """Deterministic Swedish reflection texts: 1–5 sentences, 20–120 words."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._cum = {
            id(v): _zipf(len(v)) for v in (SUBJECTS, NOUN_PHRASES, EVERYDAY, VERBS, ADVERBIALS)
        }
        self.clauses: list[Callable[[], str]] = [
            lambda: f"{self.s()} {self.v()} {self.np()}",
            lambda: f"{self.s()} {self.v()} {self.np()} {self.a()}",
            lambda: f"{self.s()} {self.v()} {self.np()} {self.a()}",
            lambda: (
                f"det är {self.pick(ADJECTIVES)} att {self.pick(INFINITIVES)} {self.np()} "
                f"{self.a()}"
            ),
            lambda: f"jag tror att {self.np()} {self.pick(NP_VERBS)} {self.np()}",
            lambda: f"{self.np()} {self.pick(NP_VERBS)} {self.np()} {self.a()}",
            lambda: f"{self.np()} är {self.pick(PREDICATES)} {self.np()}",
            lambda: f"för mig handlar {self.np()} om {self.np()}",
            lambda: (
                f"det jag tar med mig från temat är att {self.np()} {self.pick(NP_VERBS)} "
                f"{self.np()}"
            ),
            lambda: f"{self.s()} har inte hunnit {self.pick(INFINITIVES)} {self.np()} än",
            lambda: f"under workshopen pratade vi om {self.np()} och {self.np()}",
            lambda: f"det finns en risk att {self.np()} {self.pick(NP_VERBS)} {self.np()}",
        ]

    def pick(self, options: Sequence[str]) -> str:
        cum = self._cum.get(id(options))
        if cum is None:
            return self.rng.choice(options)
        return self.rng.choices(options, cum_weights=cum)[0]

    def s(self) -> str:
        return self.pick(SUBJECTS)

    def v(self) -> str:
        return self.pick(VERBS)

    def np(self) -> str:
        return self.pick(NOUN_PHRASES if self.rng.random() < 0.35 else EVERYDAY)

    def a(self) -> str:
        return self.pick(ADVERBIALS)

    def clause(self) -> str:
        return self.rng.choice(self.clauses)()

    def sentence(self, goal: int) -> list[str]:
        """Clauses joined by conjunctions until about `goal` words."""
        parts = [self.clause()]
        count = word_count(parts[0])
        while count < goal - 3:
            parts.append(f"{self.rng.choice(CONJUNCTIONS)} {self.clause()}")
            count += word_count(parts[-1])
        return parts

    def body(self, rare: bool = False) -> str:
        rng = self.rng
        extra = ""
        if rare:
            extra = rng.choice(RARE_SENTENCES).format(S=self.s().capitalize(), NP=self.np())
        budget = 120 - word_count(extra)
        target = int(rng.triangular(20, budget, 45))
        most = max(1, min(5, target // 12))
        n_sentences = rng.randint(min(most, math.ceil(target / 30)), most)  # 12–30 words each
        sentences = [self.sentence(round(target / n_sentences)) for _ in range(n_sentences)]

        def total() -> int:
            return sum(word_count(p) for s in sentences for p in s)

        while total() > budget:  # drop a trailing clause from the longest sentence
            longest = max((s for s in sentences if len(s) > 1), key=len, default=None)
            if longest is None:
                break
            longest.pop()
        while total() < 20:
            sentences[-1].append(f"{rng.choice(CONJUNCTIONS)} {self.clause()}")
        texts = []
        for parts in sentences:
            joined = "".join(parts)  # conjunctions carry their own leading space or comma
            end = "?" if rng.random() < 0.06 else "."
            texts.append(joined[0].upper() + joined[1:] + end)
        if extra:
            texts.insert(rng.randint(0, len(texts)), extra)
        return " ".join(texts)


# ------------------------------------------------------------------ the cohort

FIRST_NAMES = (
    "Anna",
    "Björn",
    "Cecilia",
    "David",
    "Elin",
    "Fredrik",
    "Greta",
    "Hampus",
    "Ida",
    "Johan",
    "Karin",
    "Lars",
    "Maja",
    "Nils",
    "Oskar",
    "Petra",
    "Rasmus",
    "Sara",
    "Tove",
    "Ulf",
)
LAST_NAMES = (
    "Lindqvist",
    "Öberg",
    "Åström",
    "Nilsson",
    "Johansson",
    "Karlsson",
    "Berglund",
    "Lundgren",
    "Holmström",
    "Sjöberg",
    "Forsberg",
    "Ek",
    "Wikström",
    "Nordin",
    "Isaksson",
    "Marklund",
)


@dataclass
class Cohort:
    id: int
    key: str
    participants: list[tuple[int, int]]  # (person id, organisation id)
    facilitator: tuple[int, int]


async def build_cohort(store: Store, rng: random.Random, key: str) -> Cohort:
    programme = read_programme(PROGRAMME_FILE)
    await load_programme(store, programme)
    cohort = await create_cohort(
        store,
        CohortSpec(
            key=key,
            program_id=programme.id,
            title="Bänktest",
            workspace=key,
            timezone=programme.programme.timezone,
        ),
    )
    rows = [
        RosterRow(
            1,
            "Fia Processledare",
            "fia@example.se",
            "fac-1",
            FACILITATOR_ORGANISATION,
            Role.facilitator,
        )
    ]
    for i in range(PARTICIPANTS):
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        rows.append(
            RosterRow(
                i + 2,
                name,
                f"p{i + 1:02d}@example.se",
                f"u{i + 1:03d}",
                ORGANISATIONS[i % len(ORGANISATIONS)],
                Role.participant,
            )
        )
    created, problems = await import_roster(store, key, rows, skip_bad=False)
    if problems or created != len(rows):
        raise SystemExit(f"roster import failed: {created} enrolled, {problems}")
    async with store.transaction() as repos:
        members = await repos.people.members(cohort.id)
    participants = sorted(
        (m.person.id, m.organisation.id) for m in members if m.membership.role == Role.participant
    )
    (facilitator,) = [
        (m.person.id, m.organisation.id) for m in members if m.membership.role == Role.facilitator
    ]
    return Cohort(cohort.id, key, participants, facilitator)


# ------------------------------------------------------------------ data

SOURCES = (Source.digilog_post, Source.digilog_reply, Source.command, Source.saved_message)
SOURCE_WEIGHTS = _cumulative((50, 35, 10, 5))
VISIBILITIES = (Visibility.cohort, Visibility.private, Visibility.facilitators)
VISIBILITY_WEIGHTS = _cumulative((85, 10, 5))
START = datetime(2025, 9, 1, 7, 0, tzinfo=UTC)
SPAN = timedelta(weeks=16)  # four themes, four weeks each


def reflection_rows(
    rng: random.Random,
    gen: TextGenerator,
    cohort: Cohort,
    first_id: int,
    count: int,
    rare_rows: set[int],
) -> list[dict[str, object]]:
    authors = [*cohort.participants, cohort.facilitator]
    author_weights = _cumulative(
        [1 / (r**0.5) for r in range(1, len(cohort.participants) + 1)] + [0.3]
    )
    rows = []
    for n in range(count):
        i = first_id + n
        author_id, organisation_id = rng.choices(authors, cum_weights=author_weights)[0]
        source = rng.choices(SOURCES, cum_weights=SOURCE_WEIGHTS)[0]
        reply_to_id = replied_to = None
        if source == Source.digilog_reply and i > 1:
            reply_to_id = rng.randint(max(1, i - 200), i - 1)
            replied_to = rng.choice(authors)[0]
        created = START + SPAN * (n / count) + timedelta(seconds=rng.randint(0, 600))
        rows.append(
            {
                "id": i,
                "cohort_id": cohort.id,
                "author_id": author_id,
                "organisation_id": organisation_id,
                "theme_number": 1 + THEMES * n // count,
                "source": source,
                "visibility": rng.choices(VISIBILITIES, cum_weights=VISIBILITY_WEIGHTS)[0],
                "body": gen.body(rare=i in rare_rows),
                "message_id": None if source == Source.command else f"bench-{i}",
                "reply_to_id": reply_to_id,
                "replied_to_person_id": replied_to,
                "created_at": created,
                "updated_at": created,
            }
        )
    return rows


# ------------------------------------------------------------------ databases


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.rmdir()


def _sqlite_megabytes(path: Path) -> float:
    files = [Path(f"{path}{suffix}") for suffix in ("", "-wal")]
    return sum(f.stat().st_size for f in files if f.exists()) / 1e6


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


@asynccontextmanager
async def scratch_database(url: str | None, keep: bool) -> AsyncIterator[tuple[URL, str]]:
    """A URL to benchmark on: a fresh SQLite file, or a scratch PostgreSQL database."""
    if url is None:
        directory = tempfile.mkdtemp(prefix="digilog-bench-")
        path = Path(directory) / "bench.db"
        try:
            yield normalise_url(f"sqlite:///{path}"), f"scratch SQLite file {path}"
        finally:
            if keep:
                print(f"kept {path}")
            else:
                _remove_sqlite(path)
        return
    parsed = normalise_url(url)
    if parsed.get_backend_name() != "postgresql":
        yield parsed, f"{parsed.render_as_string(hide_password=True)} (as given)"
        return
    async with scratch_postgresql(parsed, "digilog_bench", keep=keep) as scratch:
        try:
            yield (
                scratch,
                (
                    f"scratch PostgreSQL database {scratch.database} on "
                    f"{parsed.set(database=None).render_as_string(hide_password=True)}"
                ),
            )
        finally:
            if keep:
                print(f"kept PostgreSQL database {scratch.database}")


async def machine(engine: AsyncEngine) -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    model = _cpu_model()
    async with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            version = await conn.scalar(text("select sqlite_version()"))
            db = f"SQLite {version} (Python sqlite3 module {sqlite3.sqlite_version})"
        else:
            version = await conn.scalar(text("show server_version"))
            db = f"PostgreSQL {version}"
    return (
        f"{platform.system()} {platform.machine()}, nproc={cpus} ({model or 'cpu ?'}), "
        f"Python {platform.python_version()}, {db}"
    )


# ------------------------------------------------------------------ measuring

SINGLE = (
    "reflektion",
    "digitaliseringen",
    "medarbetarna",
    "ledarskapet",
    "invånarnas",
    "förändringar",
    "kompetensen",
    "e-tjänster",
    "automatisering",
    "nyttorealiseringen",
    "arbetssätt",
    "verksamheten",
)
DOUBLE = (
    "digitaliseringen medarbetarna",
    "ledarskap tilliten",
    "invånarna e-tjänsten",
    "förändringsarbete kulturen",
    "automatisering verksamheten",
    "kompetens chefer",
)
RARE = ("blockkedjetekniken",)
SAMPLES = ("reflektion", "reflektionerna", "medarbetarna", "kompetens")


def kind_of(query: str) -> str:
    return "rare" if query in RARE else ("two words" if " " in query else "one word")


def pct(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass
class Timing:
    query: str
    facilitator: bool
    call_ms: float  # the search call alone
    total_ms: float  # with the transaction around it (BEGIN … COMMIT)
    hits: int


async def run_queries(store: Store, plan: list[tuple[str, Viewer]], method: str) -> list[Timing]:
    out = []
    for query, viewer in plan:
        start = time.perf_counter()
        async with store.transaction() as repos:
            t0 = time.perf_counter()
            if method == "fts":
                hits = len(await repos.reflections.search(viewer, query))
            else:
                hits = len(await repos.reflections.naive_search(viewer, query))
            t1 = time.perf_counter()
        end = time.perf_counter()
        out.append(Timing(query, viewer.is_facilitator, (t1 - t0) * 1e3, (end - start) * 1e3, hits))
    return out


async def fts_matches(store: Store, query: str) -> int:
    """Rows the full-text index matches, before the visibility filter and the limit."""
    parsed = parse_query(query)
    async with store.transaction() as repos:
        session = repos.session
        if session.get_bind().dialect.name == "sqlite":
            n = await session.scalar(
                text("SELECT count(*) FROM reflection_search WHERE reflection_search MATCH :m"),
                {"m": fts5_match(parsed)},
            )
        else:
            n = await session.scalar(
                text("SELECT count(*) FROM reflections WHERE search_vector @@ CAST(:q AS tsquery)"),
                {"q": tsquery_literal(parsed)},
            )
        return int(n or 0)


async def compare_hits(store: Store, viewer: Viewer, query: str) -> str:
    """Unlimited hit counts of both methods and the word forms only one of them found."""
    async with store.transaction() as repos:
        fts = await repos.reflections.search(viewer, query, limit=10_000_000)
        like_ids = set(await repos.reflections.naive_search(viewer, query, limit=10_000_000))
        fts_bodies = {v.reflection.id: v.reflection.body for v in fts}
        only_like = sorted(like_ids - fts_bodies.keys())
        like_bodies: dict[int, str] = {}
        for start in range(0, len(only_like), 500):
            chunk = only_like[start : start + 500]
            result = await repos.session.execute(
                select(Reflection.id, Reflection.body).where(Reflection.id.in_(chunk))
            )
            like_bodies.update(dict(result.all()))
    wanted = parse_query(query).required
    needles = [w.lower() for w in query.split()]
    fts_forms: Counter[str] = Counter()
    for rid in fts_bodies.keys() - like_ids:
        fts_forms.update(
            {w for w in words(fts_bodies[rid]) if any(matches(q, analyse_word(w)) for q in wanted)}
        )
    like_forms: Counter[str] = Counter()
    for body in like_bodies.values():
        like_forms.update({w for w in words(body) if any(n in w for n in needles)})

    def top(c: Counter[str]) -> str:
        return ", ".join(f"{w} ({n})" for w, n in c.most_common(3)) or "-"

    both = len(like_ids & fts_bodies.keys())
    return (
        f"  {query:<16} FTS {len(fts_bodies):>6}  LIKE {len(like_ids):>6}  both {both:>6}"
        f"\n  {'':<16} only FTS found: {top(fts_forms)}"
        f"\n  {'':<16} only LIKE found: {top(like_forms)}"
    )


async def check_index(store: Store, added: list[int], bulk_ids: list[int]) -> str:
    """The bulk path and ReflectionRepository.add() must leave the same index content."""
    problems = []
    id_list = ",".join(str(i) for i in [*added, *bulk_ids])
    async with store.transaction() as repos:
        session = repos.session
        sqlite = session.get_bind().dialect.name == "sqlite"
        n_rows = await session.scalar(select(func.count()).select_from(Reflection))
        outdated = await session.scalar(
            select(func.count()).where(Reflection.search_version != ANALYSER_VERSION)
        )
        if outdated:
            problems.append(f"{outdated} reflections not indexed by version {ANALYSER_VERSION}")
        if sqlite:
            n_index = await session.scalar(text("SELECT count(*) FROM reflection_search"))
            if n_index != n_rows:
                problems.append(f"{n_rows} reflections but {n_index} index rows")
            rows = (
                await session.execute(
                    text(
                        "SELECT r.id, r.body, s.form, s.base, s.part FROM reflections r "
                        f"LEFT JOIN reflection_search s ON s.rowid = r.id WHERE r.id IN ({id_list})"
                    )
                )
            ).all()
            bad = [row[0] for row in rows if tuple(row[2:]) != sqlite_columns(row[1])]
            await session.execute(
                text("INSERT INTO reflection_search(reflection_search) VALUES('integrity-check')")
            )
        else:
            rows = (
                await session.execute(
                    text(
                        "SELECT id, body, search_vector::text || ' / ' || search_forms::text"
                        " FROM reflections "
                        f"WHERE id IN ({id_list})"
                    )
                )
            ).all()
            bad = []
            for rid, body, stored in rows:
                expected = await session.scalar(
                    text(
                        "SELECT CAST(:v AS tsvector)::text || ' / ' || CAST(:f AS tsvector)::text"
                    ),
                    {"v": tsvector_literal(body), "f": forms_literal(body)},
                )
                if stored != expected:
                    bad.append(rid)
        if bad or len(rows) != len(added) + len(bulk_ids):
            problems.append(f"rows {bad[:5]} differ from the analyser's terms of their body")
        facilitator = await session.scalar(
            text("SELECT person_id FROM memberships WHERE role = 'facilitator' LIMIT 1")
        )
        cohort_id = await session.scalar(text("SELECT cohort_id FROM reflections LIMIT 1"))
        viewer = Viewer(cohort_id, facilitator, True)
        found = {
            v.reflection.id
            for v in await repos.reflections.search(viewer, MARKER.removesuffix("en"), limit=100)
        }  # another form of the marker word
        expected_ids = {bulk_ids[0], *added}
        if found != expected_ids:
            problems.append(f"marker search found {sorted(found)}, expected {sorted(expected_ids)}")
    checked = (
        f"{len(added)} add() rows and {len(bulk_ids)} bulk rows compared with the analyser's "
        f"terms of their body, every row at analyser version {ANALYSER_VERSION}"
        + (f", {n_rows:,} reflections = index rows, FTS5 integrity-check" if sqlite else "")
    )
    if problems:
        return "FAILED: " + "; ".join(problems)
    return (
        f"ok ({checked}; a search for another form of a marker word finds the bulk row "
        f"and the add() rows alike)"
    )


class _Tsvector(TypeDecorator[str]):
    """A tsvector written from its text form: storage.search.tsvector_literal."""

    impl = Text
    cache_ok = True

    def bind_expression(self, bindvalue: Any) -> Any:
        return cast_(bindvalue, TSVECTOR)


def _with_vector() -> Table:
    """The reflections table with its search_vector and search_forms, which the model leaves to the
    repository: the bulk path writes rows and their vectors in one INSERT."""
    columns = [c._copy() for c in cast(Table, Reflection.__table__).columns]
    return Table(
        "reflections",
        MetaData(),
        *columns,
        Column("search_vector", _Tsvector()),
        Column("search_forms", _Tsvector()),
    )


# ----------------------------------------------------- recall and precision, old and new

_OLD_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


def _old_stems(text_: str) -> list[str]:
    """The analyser before this one (storage/search.py up to migration 0017): Snowball
    2.2's Swedish stems of every word, as the SQLite index stored them."""
    import snowballstemmer

    stemmer = snowballstemmer.stemmer("swedish")
    return [stemmer.stemWord(w.lower()) for w in _OLD_WORD.findall(text_)]


async def labelled_table(store: Store, rng: random.Random) -> tuple[str, dict[str, float]]:
    """Recall and precision on the labelled set: LIKE, the old analyser, the new one.

    The labelled reflections go into a cohort of their own. The new analyser is the real
    ReflectionRepository.search(); the old one is rebuilt beside it as it was: SQLite,
    an FTS5 table of Snowball 2.2 stems queried with every stem quoted; PostgreSQL, the
    built-in 'swedish' configuration with plainto_tsquery.
    """
    cohort = await build_cohort(store, rng, f"labels-{secrets.token_hex(3)}")
    viewer = Viewer(cohort.id, cohort.facilitator[0], True)
    ids: dict[int, str] = {}
    async with store.transaction() as repos:
        for key, body in REFLECTIONS.items():
            stored, _ = await repos.reflections.add(
                Reflection(
                    cohort_id=cohort.id,
                    author_id=cohort.participants[0][0],
                    organisation_id=cohort.participants[0][1],
                    theme_number=1,
                    source=Source.command,
                    visibility=Visibility.cohort,
                    body=body,
                )
            )
            ids[stored.id] = key
        session = repos.session
        sqlite = session.get_bind().dialect.name == "sqlite"
        if sqlite:
            await session.execute(
                text(
                    "CREATE VIRTUAL TABLE old_search USING fts5("
                    "stems, tokenize = 'unicode61 remove_diacritics 0')"
                )
            )
            await session.execute(
                text("INSERT INTO old_search(rowid, stems) VALUES (:id, :stems)"),
                [{"id": i, "stems": " ".join(_old_stems(REFLECTIONS[k]))} for i, k in ids.items()],
            )
    scores: dict[str, tuple[int, int, int]] = {}
    for method in ("LIKE (naive_search)", "old analyser", "new analyser"):
        tp = fp = fn = 0
        for query, expected in QUERIES.items():
            async with store.transaction() as repos:
                session = repos.session
                if method.startswith("LIKE"):
                    found = await repos.reflections.naive_search(viewer, query, limit=10_000)
                elif method == "new analyser":
                    views = await repos.reflections.search(viewer, query, limit=10_000)
                    found = [v.reflection.id for v in views]
                elif sqlite:
                    stems = list(dict.fromkeys(_old_stems(query)))[:12]
                    match = " ".join('"' + st.replace('"', '""') + '"' for st in stems)
                    found = list(
                        (
                            await session.scalars(
                                text("SELECT rowid FROM old_search WHERE old_search MATCH :m"),
                                {"m": match},
                            )
                        ).all()
                        if stems
                        else []
                    )
                else:
                    found = list(
                        (
                            await session.scalars(
                                text(
                                    "SELECT id FROM reflections WHERE cohort_id = :c AND "
                                    "to_tsvector('swedish', body) @@ plainto_tsquery('swedish', :q)"
                                ),
                                {"c": cohort.id, "q": query},
                            )
                        ).all()
                    )
            hits = {ids[i] for i in found if i in ids}
            tp += len(hits & expected)
            fp += len(hits - expected)
            fn += len(expected - hits)
        scores[method] = (tp, fp, fn)
    if sqlite:
        async with store.transaction() as repos:
            await repos.session.execute(text("DROP TABLE old_search"))
    rows: list[tuple[str, ...]] = [
        ("method", "recall", "precision", "found right", "wrong", "missed")
    ]
    figures: dict[str, float] = {}
    for method, (tp, fp, fn) in scores.items():
        recall, precision = tp / max(1, tp + fn), tp / max(1, tp + fp)
        figures[f"{method} recall"], figures[f"{method} precision"] = recall, precision
        rows.append((method, f"{recall:.3f}", f"{precision:.3f}", str(tp), str(fp), str(fn)))
    return table(rows, "<>>>>>"), figures


def table(rows: Sequence[Sequence[str]], align: str) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [
            c.ljust(w) if a == "<" else c.rjust(w) for c, w, a in zip(r, widths, align, strict=True)
        ]
        lines.append("  " + "  ".join(cells).rstrip())
    return "\n".join(lines)


# ------------------------------------------------------------------ main


async def bench(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    async with scratch_database(args.database_url, args.keep) as (url, where):
        engine = create_engine(url)
        try:
            await run(engine, where, rng, args)
        finally:
            await engine.dispose()


async def run(
    engine: AsyncEngine, where: str, rng: random.Random, args: argparse.Namespace
) -> None:
    store = Store(engine)
    dialect = engine.dialect.name
    print("Digilog reflection bank search benchmark")
    print(f"machine:  {await machine(engine)}")
    print(f"database: {where}")
    print(
        f"run:      seed {args.seed}, {args.rows:,} reflections, {args.queries} timed queries "
        f"per method; code from {Path(sys.modules[Store.__module__].__file__ or '').parent.parent}"
    )

    t = time.perf_counter()
    await upgrade(engine)
    t_schema = time.perf_counter() - t
    t = time.perf_counter()
    cohort = await build_cohort(store, rng, f"bench-{secrets.token_hex(3)}")
    t_cohort = time.perf_counter() - t
    print(
        f"setup:    schema (alembic upgrade) {t_schema:.2f} s; programme, cohort and roster "
        f"({len(cohort.participants)} participants from {len(ORGANISATIONS)} organisations "
        f"+ 1 facilitator from {FACILITATOR_ORGANISATION}) {t_cohort:.2f} s"
    )

    # Generate everything first (so generation and insertion are timed apart).
    n_added = min(ADDED_THROUGH_REPOSITORY, max(0, args.rows - 1))
    n_bulk = args.rows - n_added
    async with store.transaction() as repos:
        first_id = int(await repos.session.scalar(select(func.max(Reflection.id))) or 0) + 1
    gen = TextGenerator(rng)
    rare_rows = set(rng.sample(range(first_id, first_id + args.rows), max(3, args.rows // 2000)))
    t = time.perf_counter()
    rows = reflection_rows(rng, gen, cohort, first_id, args.rows, rare_rows)
    rows[0]["body"] = f"{rows[0]['body']} Ett {MARKER}."
    t_text = time.perf_counter() - t
    bulk, through_add = rows[:n_bulk], rows[n_bulk:]
    for r in bulk:
        r["search_version"] = ANALYSER_VERSION
    t = time.perf_counter()
    analyse_word("förvärmning")  # loads the dictionary, as the first search or save does
    t_dictionary = time.perf_counter() - t
    t = time.perf_counter()
    if dialect == "sqlite":
        terms = [
            dict(zip(("form", "base", "part"), sqlite_columns(str(r["body"])), strict=True))
            | {"id": r["id"]}
            for r in bulk
        ]
    else:
        terms = []
        for r in bulk:
            r["search_vector"] = tsvector_literal(str(r["body"]))
            r["search_forms"] = forms_literal(str(r["body"]))
    t_analyse = time.perf_counter() - t
    counts = [word_count(str(r["body"])) for r in rows]
    print(
        f"generate: {len(rows):,} texts, {sum(counts):,} words (per text {min(counts)}–"
        f"{max(counts)}, mean {sum(counts) / len(counts):.0f}) in {t_text:.1f} s; "
        f"loading the dictionary {t_dictionary:.1f} s, the analyser's terms {t_analyse:.1f} s"
    )

    t = time.perf_counter()
    table_ = cast(Table, Reflection.__table__) if dialect == "sqlite" else _with_vector()
    for start in range(0, len(bulk), BATCH):
        async with store.transaction() as repos:
            await repos.session.execute(insert(table_), bulk[start : start + BATCH])
            if dialect == "sqlite":
                await repos.session.execute(
                    text(
                        "INSERT INTO reflection_search(rowid, form, base, part) "
                        "VALUES (:id, :form, :base, :part)"
                    ),
                    terms[start : start + BATCH],
                )
    if dialect == "postgresql":
        async with store.transaction() as repos:
            await repos.session.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('reflections', 'id'), "
                    "(SELECT max(id) FROM reflections))"
                )
            )
    t_bulk = time.perf_counter() - t
    added = []
    t = time.perf_counter()
    async with store.transaction() as repos:
        for r in through_add:
            values = {k: v for k, v in r.items() if k not in ("id", "updated_at")}
            values["body"] = f"{values['body']} Ett {MARKER}."
            values["visibility"] = Visibility.cohort
            stored, _ = await repos.reflections.add(Reflection(**values))
            added.append(stored.id)
    t_add = time.perf_counter() - t
    t = time.perf_counter()
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    t_analyze = time.perf_counter() - t
    size = ""
    if dialect == "sqlite":
        mb = _sqlite_megabytes(Path(str(engine.url.database)))
        size = f", database {mb:.0f} MB"
    else:
        async with engine.connect() as conn:
            mb = await conn.scalar(text("SELECT pg_database_size(current_database())")) / 1e6
        size = f", database {mb:.0f} MB"
    print(
        f"insert:   {len(bulk):,} rows in batches of {BATCH:,} "
        f"({'reflections + reflection_search' if dialect == 'sqlite' else 'with both tsvectors'}) "
        f"in {t_bulk:.1f} s ({len(bulk) / t_bulk:,.0f} rows/s), {len(added)} through "
        f"ReflectionRepository.add() in {t_add * 1e3:.0f} ms, ANALYZE {t_analyze:.1f} s{size}"
    )
    bulk_ids = [cast(int, r["id"]) for r in bulk]
    sample = rng.sample(bulk_ids[1:], min(200, len(bulk) - 1))
    print(f"index:    {await check_index(store, added, [bulk_ids[0], *sample])}")
    del rows, bulk, terms
    t_indexing = t_analyse + t_bulk
    print(
        f"indexing: {len(bulk_ids):,} reflections: terms {t_analyse:.1f} s + the insert above "
        f"(rows and index) {t_bulk:.1f} s = {t_indexing:.1f} s"
    )

    print(
        f"\nrecall and precision on the labelled set (bench/search_labels.py: {len(QUERIES)} "
        f"queries over {len(REFLECTIONS)} reflections, in a cohort of their own):"
    )
    labelled, figures = await labelled_table(store, rng)
    print(labelled)

    participant = Viewer(cohort.id, cohort.participants[0][0], False)
    facilitator = Viewer(cohort.id, cohort.facilitator[0], True)

    print("\nhits for sample queries (participant viewer, no limit; LIKE does not stem):")
    t = time.perf_counter()
    for q in SAMPLES:
        print(await compare_hits(store, participant, q))
    print(f"  ({time.perf_counter() - t:.1f} s)")

    distinct = [*SINGLE, *DOUBLE, *RARE]
    plan: list[tuple[str, Viewer]] = []
    order = distinct[:]
    while len(plan) < args.queries:
        rng.shuffle(order)
        for q in order:
            if len(plan) == args.queries:
                break
            plan.append((q, facilitator if len(plan) % 4 == 3 else participant))
    warmup = [(q, participant) for q in distinct]
    await run_queries(store, warmup, "fts")
    await run_queries(store, warmup, "like")
    fts = await run_queries(store, plan, "fts")
    like = await run_queries(store, plan, "like")

    n_fac = sum(1 for _, v in plan if v.is_facilitator)
    print(
        f"\ntimed:    {len(plan)} queries per method ({len(plan) - n_fac} as a participant, "
        f"{n_fac} as the facilitator), each in its own store.transaction(), after a warm-up "
        f"pass over the {len(distinct)} distinct queries; one word {len(SINGLE)}, two words "
        f"{len(DOUBLE)}, rare {len(RARE)}"
    )
    rows_out: list[tuple[str, ...]] = [
        ("method", "p50 ms", "p95 ms", "max ms", "p50 ms incl. txn", "p95 ms incl. txn")
    ]
    stats = {}
    for label, ts in (("FTS search()", fts), ("LIKE naive_search()", like)):
        calls = [x.call_ms for x in ts]
        totals = [x.total_ms for x in ts]
        stats[label] = (pct(calls, 50), pct(calls, 95))
        rows_out.append(
            (
                label,
                f"{pct(calls, 50):.2f}",
                f"{pct(calls, 95):.2f}",
                f"{max(calls):.2f}",
                f"{pct(totals, 50):.2f}",
                f"{pct(totals, 95):.2f}",
            )
        )
    (f50, f95), (l50, l95) = stats.values()
    rows_out.append(("ratio naive/FTS", f"{l50 / f50:.2f}x", f"{l95 / f95:.2f}x", "", "", ""))
    print(table(rows_out, "<>>>>>"))

    print(
        "\nper query (call ms; matches = rows the full-text index matches before the "
        "visibility filter and LIMIT 20):"
    )
    per: list[tuple[str, ...]] = [
        (
            "query",
            "kind",
            "matches",
            "n",
            "FTS p50",
            "FTS max",
            "LIKE p50",
            "LIKE max",
            "FTS hits",
            "LIKE hits",
        )
    ]
    for q in distinct:
        f = [x for x in fts if x.query == q]
        lk = [x for x in like if x.query == q]
        if not f:
            continue
        per.append(
            (
                q,
                kind_of(q),
                f"{await fts_matches(store, q):,}",
                str(len(f)),
                f"{pct([x.call_ms for x in f], 50):.2f}",
                f"{max(x.call_ms for x in f):.2f}",
                f"{pct([x.call_ms for x in lk], 50):.2f}",
                f"{max(x.call_ms for x in lk):.2f}",
                str(f[0].hits),
                str(lk[0].hits),
            )
        )
    print(table(per, "<<>>>>>>>>"))

    target = TARGET_P95_MS.get(dialect, TARGET_P95_MS["postgresql"])
    recall, precision = figures["new analyser recall"], figures["new analyser precision"]
    scale = "" if args.rows >= 100_000 else f" (at {args.rows:,} rows, not 100,000)"

    def verdict(ok: bool) -> str:
        return "MET" if ok else "NOT MET"

    print(f"\ntargets{scale}, nproc={len(os.sched_getaffinity(0))}:")
    print(f"  search() p95 < {target:.0f} ms on {dialect}: {verdict(f95 < target)} ({f95:.2f} ms)")
    print(
        f"  indexing 100,000 reflections < {TARGET_INDEX_S:.0f} s: "
        f"{verdict(t_indexing * 100_000 / max(1, len(bulk_ids)) < TARGET_INDEX_S)} "
        f"({t_indexing:.1f} s for {len(bulk_ids):,})"
    )
    print(
        f"  recall >= {TARGET_RECALL} and precision >= {TARGET_PRECISION} on the labelled set: "
        f"{verdict(recall >= TARGET_RECALL and precision >= TARGET_PRECISION)} "
        f"(recall {recall:.3f}, precision {precision:.3f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="reflections (default 100000)")
    parser.add_argument(
        "--queries", type=int, default=200, help="timed searches per method (default 200)"
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="default: a fresh SQLite file in a temporary directory; a "
        "PostgreSQL URL gets a scratch database next to the named one",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch SQLite file or PostgreSQL database"
    )
    args = parser.parse_args()
    if args.rows < 10 or args.queries < 1:
        parser.error("--rows must be at least 10 and --queries at least 1")
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
