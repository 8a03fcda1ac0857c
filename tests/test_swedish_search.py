"""Bank search finds what a Swedish reader means, the same on SQLite and PostgreSQL.

The labelled set (bench/search_labels.py) runs on each database; each database's hits
must be exactly what the analyser itself says in Python, so the two databases find the
same reflections for every query, and both must reach the issue's recall and precision.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from bench.search_labels import QUERIES, REFLECTIONS
from handlers.core.programme_file import Programme
from handlers.digilog import Digilog
from storage import migrate, swedish
from storage.models import Cohort, Reflection, Role, Source, Visibility
from storage.reflections import Viewer, reindex_in_background
from storage.search import ANALYSER_VERSION, highlight, tsvector_literal
from storage.swedish import parse_query
from storage.unit import Store
from tests.chat import Chat
from tests.conftest import make_cohort


async def person_id(store: Store, user: str) -> int:
    async with store.transaction() as repos:
        person = await repos.people.by_account("console", "local", user)
        assert person is not None
        return person.id


async def add_all(
    store: Store, cohort: Cohort, bodies: list[str], visibility: Visibility = Visibility.cohort
) -> list[int]:
    author = await person_id(store, "anna")
    ids = []
    async with store.transaction() as repos:
        member = await repos.people.member(cohort.id, author)
        assert member is not None
        for body in bodies:
            reflection, _ = await repos.reflections.add(
                Reflection(
                    cohort_id=cohort.id,
                    author_id=author,
                    organisation_id=member.organisation.id,
                    theme_number=1,
                    source=Source.command,
                    visibility=visibility,
                    body=body,
                )
            )
            ids.append(reflection.id)
    return ids


async def found(store: Store, cohort: Cohort, query: str, user: str = "bjorn") -> list[str]:
    viewer = Viewer(cohort.id, await person_id(store, user), False)
    async with store.transaction() as repos:
        views = await repos.reflections.search(viewer, query, limit=100)
    return [v.reflection.body for v in views]


def analyser_hits(query: str) -> set[str]:
    """What the analyser says in Python, word by word: the reference for both databases."""
    parsed = parse_query(query)
    hits = set()
    for key, body in REFLECTIONS.items():
        terms = [swedish.analyse_word(w) for w in swedish.words(body)]
        if all(any(swedish.matches(q, t) for t in terms) for q in parsed.required):
            hits.add(key)
    return hits


async def test_the_labelled_queries_find_the_same_on_either_database(
    store: Store, cohort: Cohort
) -> None:
    keys = list(REFLECTIONS)
    await add_all(store, cohort, [REFLECTIONS[k] for k in keys])
    by_body = {body: key for key, body in REFLECTIONS.items()}
    true_positives = false_positives = false_negatives = 0
    for query, expected in QUERIES.items():
        hits = {by_body[body] for body in await found(store, cohort, query)}
        assert hits == analyser_hits(query), query
        true_positives += len(hits & expected)
        false_positives += len(hits - expected)
        false_negatives += len(expected - hits)
    assert true_positives / (true_positives + false_negatives) >= 0.95
    assert true_positives / (true_positives + false_positives) >= 0.95


@pytest.mark.parametrize(
    ("query", "stored"),
    [
        ("ledarskap", "Ledarskapet förändras på distans."),
        ("ledarskap", "Ledarskapets villkor."),
        ("ledarskapet", "Ledarskap i en digital tid."),
        ("förändringsarbete", "Förändringsarbetet tar tid."),
        ("labb", "Labbet var givande."),
        ("labbet", "Alla labben var fullbokade."),
        ("quiz", "Quizet var svårt."),
        ("nytta", "Nyttan måste synas."),
        ("demografi", "Demografin ändras."),
        ("medarbetare", "Medarbetarna vill bestämma."),
        ("invånare", "Invånarnas behov styr."),
        ("strategi", "Regionens digitaliseringsstrategi behöver förankras."),
        ("digitalisering", "Regionens digitaliseringsstrategi behöver förankras."),
        ("Teams-möte", "Teams-mötet blev kort."),
        ("möte", "Teams-mötet blev kort."),
        ("kompetensförsörjning", "Kompetensförsörjningen är svår."),
        ("försörjning", "Kompetensförsörjningen är svår."),
        ("distansarbete", "Distansarbetet har gjort oss flexibla."),
        ("arbete", "Distansarbetet har gjort oss flexibla."),
    ],
)
async def test_base_forms_find_inflections_and_compounds(
    store: Store, cohort: Cohort, query: str, stored: str
) -> None:
    await add_all(store, cohort, [stored, "Något helt annat om budget och lokaler."])
    assert await found(store, cohort, query) == [stored]


@pytest.mark.parametrize(
    ("query", "stored"),
    [
        ("lag", "Vi lagade mat tillsammans."),
        ("tid", "Lokaltidningen skrev om oss."),
        ("far", "Alla får säga sin mening."),
        ("far", "Vi ska fira när det är klart."),
    ],
)
async def test_a_short_word_finds_no_word_that_merely_starts_the_same(
    store: Store, cohort: Cohort, query: str, stored: str
) -> None:
    await add_all(store, cohort, [stored])
    assert await found(store, cohort, query) == []


async def test_the_form_as_written_ranks_first_then_inflections_then_compounds(
    store: Store, cohort: Cohort
) -> None:
    compound = "Regionens digitaliseringsstrategi behöver förankras."
    inflected = "Strategin antogs i våras."
    exact = "Vi saknar en strategi för data."
    await add_all(store, cohort, [exact, compound, inflected])
    assert await found(store, cohort, "strategi") == [exact, inflected, compound]
    assert (await found(store, cohort, "strategin"))[0] == inflected


async def test_phrases_keep_their_order_and_a_minus_leaves_out(
    store: Store, cohort: Cohort
) -> None:
    in_order = "Digital kompetens behövs i alla led."
    reversed_ = "Kompetens som är digital är sällsynt."
    other = "Kompetensen ökar, och det digitala också."
    await add_all(store, cohort, [in_order, reversed_, other])
    assert sorted(await found(store, cohort, "digital kompetens")) == sorted(
        [in_order, reversed_, other]
    )
    assert await found(store, cohort, '"digital kompetens"') == [in_order]
    assert await found(store, cohort, "“digitala kompetensen”") == [in_order]  # typographic
    assert sorted(await found(store, cohort, "kompetens -led")) == sorted([reversed_, other])
    assert await found(store, cohort, '"digital kompetens" -led') == []


@pytest.mark.parametrize(
    "query",
    [
        "ledarskap OR quiz",
        "NEAR(ledarskap quiz)",
        "ledarskap AND NOT quiz",
        "ledarskap*",
        "form:ledarskap",
        "{base part}: ledarskap",
        "^ledarskap",
        "ledarskap & !quiz | tid",
        "ledarskap:*",
        "'ledarskap':A",
        "ledarskap'; DROP TABLE reflections; --",
        'ledarskap"',
        '"ledarskap',
        "ledarskap\\",
        "ledarskap ()",
    ],
)
async def test_no_operator_is_ever_interpreted(store: Store, cohort: Cohort, query: str) -> None:
    """Each query is the word "ledarskap" plus characters that are no part of a word, or
    words nobody wrote: it finds the reflection about ledarskap only when those extra
    words are in it, on both databases, and never fails."""
    about = "Ledarskap är att lyssna."
    both = "Ledarskap OR quiz AND NOT near tid drop table reflections form base part A."
    await add_all(store, cohort, [about, both, "Ett quiz om tid."])
    hits = await found(store, cohort, query)
    assert set(hits) <= {about, both} and both in hits
    if not set(swedish.words(query)) - {"ledarskap"}:
        assert about in hits


async def test_reflections_indexed_by_an_older_analyser_are_reindexed_in_the_background(
    store: Store, cohort: Cohort
) -> None:
    await add_all(store, cohort, ["Ledarskapet först.", "Quizet sedan."])
    async with store.transaction() as repos:
        # As an older analyser would have left them: other terms, an older version.
        if repos.session.get_bind().dialect.name == "sqlite":
            await repos.session.execute(
                text("UPDATE reflection_search SET form = 'x', base = 'x', part = ''")
            )
        else:
            await repos.session.execute(
                text("UPDATE reflections SET search_vector = CAST(:v AS tsvector)"),
                {"v": tsvector_literal("x")},
            )
        await repos.session.execute(text("UPDATE reflections SET search_version = 0"))
    assert await found(store, cohort, "ledarskap") == []
    assert await reindex_in_background(store, pause=0) == 2
    assert await found(store, cohort, "ledarskap") == ["Ledarskapet först."]
    assert await found(store, cohort, "quiz") == ["Quizet sedan."]
    async with store.transaction() as repos:
        versions = await repos.session.scalars(text("SELECT search_version FROM reflections"))
        assert set(versions) == {ANALYSER_VERSION}
    assert await reindex_in_background(store, pause=0) == 0


def test_highlighting_marks_the_inflection_and_the_compound_as_written() -> None:
    body = "Ledarskapets villkor och regionens digitaliseringsstrategi, inte ledare."
    query = parse_query("ledarskap strategi")
    marked = [f.text for f in highlight(body, query.required) if f.match]
    assert marked == ["Ledarskapets", "digitaliseringsstrategi"]


# ------------------------------------------------------------------ in the chat


@pytest.fixture
def chat(digilog: Digilog, cohort: Cohort) -> Chat:
    return Chat(digilog, cohort)


async def test_a_typo_gets_the_nearest_words_in_the_bank(chat: Chat) -> None:
    await chat.say("anna", "reflect --cohort Ledarskapet förändras när teamet arbetar på distans.")
    reply = await chat.say("bjorn", "bank ledarskp")
    assert "Nothing found." in reply.text
    assert "Did you mean: ledarskap?" in reply.text
    found = await chat.say("bjorn", "bank ledarskap")
    assert "**Ledarskapet**" in found.text


async def test_a_suggestion_never_tells_of_a_reflection_one_may_not_read(chat: Chat) -> None:
    await chat.say("anna", "reflect --private Uppsägningen av avtalet oroar mig.")
    reply = await chat.say("bjorn", "bank uppsägnig")
    assert "Nothing found." in reply.text and "Did you mean" not in reply.text
    own = await chat.say("anna", "bank uppsägnig")
    assert "Did you mean: uppsägning?" in own.text


async def test_swedish_readers_are_asked_menade_du(digilog: Digilog, cohort: Cohort) -> None:
    chat = Chat(digilog, cohort, locale="sv-SE")
    await chat.say("anna", "reflect --cohort Demografin i kommunen ändras snabbt.")
    reply = await chat.say("bjorn", "bank demogarfi")
    assert "Menade du: demografi?" in reply.text


@pytest.mark.parametrize(
    ("query", "answer"),
    [
        ("***", "Search for at least one word."),
        ("-ledarskap", "Search for at least one word."),
        ('""', "Search for at least one word."),
        ("ö" * 10_000, "A search can be at most 300 characters; that is 10000."),
        ("ledarskap " * 20, "Only the first 16 words were searched for."),
        ("ledarskap\x00", "NUL character"),
    ],
)
async def test_hostile_searches_get_a_clear_answer(chat: Chat, query: str, answer: str) -> None:
    await chat.say("anna", "reflect --cohort Ledarskap är att lyssna.")
    reply = await chat.say("bjorn", f"bank {query}")
    assert answer in reply.text


async def test_a_nul_character_is_refused_before_it_reaches_the_database(
    chat: Chat, store: Store
) -> None:
    reply = await chat.say("anna", "reflect --cohort Ett\x00 försök.")
    assert "NUL character" in reply.text
    await chat.say("fia", "theme start 1")
    _, posted = await chat.post("anna", 1, "Digilogg\x00inlägg")
    assert "NUL character" in posted.text
    async with store.transaction() as repos:
        count = await repos.session.scalar(text("SELECT count(*) FROM reflections"))
    assert count == 0


async def test_a_search_only_ever_shows_what_the_viewer_may_read(
    store: Store, programme: Programme, cohort: Cohort
) -> None:
    await add_all(store, cohort, ["Ledarskapet privat."], Visibility.private)
    other = await make_cohort(
        store, programme, "grupp-2", people=(("olle", "Olle", "pitea", Role.participant),)
    )
    assert await found(store, cohort, "ledarskap", user="bjorn") == []
    assert await found(store, cohort, "ledarskap", user="anna") == ["Ledarskapet privat."]
    assert await found(store, other, "ledarskap", user="olle") == []


async def test_the_migration_reindexes_an_existing_bank(store: Store, cohort: Cohort) -> None:
    await add_all(store, cohort, ["Ledarskapet förändras.", "Quizet var svårt."])

    # The bank as the old analyser indexed it.
    await migrate.downgrade(store.engine, "0017")
    await migrate.upgrade(store.engine)
    assert await found(store, cohort, "ledarskap") == ["Ledarskapet förändras."]
    assert await found(store, cohort, "quiz") == ["Quizet var svårt."]
    async with store.transaction() as repos:
        versions = await repos.session.scalars(text("SELECT search_version FROM reflections"))
        assert set(versions) == {ANALYSER_VERSION}


def test_the_dictionary_loads_in_slices_the_same_as_at_once() -> None:
    """A server loads it a slice at a time between requests (bot/work.py); a search that
    comes in the middle finishes the load, and either way every form is there."""
    at_once, sliced, interrupted = swedish._Lexicon(), swedish._Lexicon(), swedish._Lexicon()
    slices = 1
    while not sliced.load_slice():
        slices += 1
    assert slices > 500  # each a millisecond or two, not one long hold of the loop
    for _ in range(50):
        assert not interrupted.load_slice()
    assert interrupted.lemma("medarbetarna") == "medarbetare"
    assert interrupted.load_slice()  # nothing left to load
    for lexicon in (at_once, sliced, interrupted):
        assert lexicon.lemma("reflektionerna") == "reflektion"
        assert lexicon.is_lemma("digitalisering")
        assert lexicon.knows("e-tjänsterna") == at_once.knows("e-tjänsterna")
    assert sorted(sliced.lemmas()) == sorted(at_once.lemmas())
