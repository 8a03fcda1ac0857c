"""The digest of a digilog: a rehearsed theme, its figures counted by the test itself from
what people did, nothing private or facilitators-only in it, and the digest sent to the
facilitators on the working day before the workshop."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from bot.console.render import render
from handlers.core.i18n import translator
from handlers.core.programme_file import Programme
from handlers.core.vocabulary import FileMessage, Message
from handlers.digest import digest, distinctive, excerpt, message, working_day_before
from handlers.digilog import Digilog
from storage import swedish
from storage.models import Cohort, Role
from storage.unit import Store
from tests.chat import Chat
from tests.conftest import make_cohort
from tests.test_schedules import STOCKHOLM, local, running, slack, with_calendar  # noqa: F401
from tests.test_schedules import Programme as Running

ORGS = {
    "umea": "Umeå Municipality",
    "skelleftea": "Skellefteå Municipality",
    "pitea": "Piteå Municipality",
    "ornskoldsvik": "Örnsköldsvik Municipality",
}
# 6 + 6 + 6 + 2: Örnsköldsvik's two are merged with the smallest named group (Piteå, by
# name) into "Other organisations", so that the merged group is itself at least five.
PEOPLE = tuple(
    (f"{org[:2]}{n}", f"{name.split()[0]} {n}", org, Role.participant)
    for org, name in ORGS.items()
    for n in range(1, 7 if org != "ornskoldsvik" else 3)
)
GROUP = {
    "umea": "Umeå Municipality",
    "skelleftea": "Skellefteå Municipality",
    "pitea": "Other organisations",
    "ornskoldsvik": "Other organisations",
}

# A theme's digilog as it was rehearsed: (author, text, index of the post it answers).
THREAD: list[tuple[str, str, int | None]] = [
    (
        "um1",
        "Hos oss har den digitala arbetsmiljön blivit en fråga för skyddsronden. "
        "Vi mäter nu hur många system en medarbetare loggar in i varje dag.",
        None,
    ),
    (
        "sk1",
        "Kompetensförsörjningen är vår största oro: vi hittar inte de specialister vi "
        "behöver, och de vi har går till privata arbetsgivare.",
        None,
    ),
    (
        "pi1",
        "Invånarnas förväntningar på e-tjänster ökar snabbare än vi hinner bygga dem. "
        "Vi måste våga prioritera bort något.",
        None,
    ),
    (
        "or1",
        "Vi har börjat med en digital arbetsmiljö-enkät i två förvaltningar. "
        "Svaren visar att stödet vid nya system är för tunt.",
        None,
    ),
    (
        "um2",
        "Jag undrar hur andra chefer gör med medarbetare som inte vill använda de nya "
        "verktygen alls. Det tar mycket av min tid.",
        None,
    ),
    (
        "sk2",
        "Den digitala arbetsmiljön borde vara en del av varje upphandling. "
        "Ingen frågar användarna innan avtalet skrivs.",
        None,
    ),
    ("pi2", "Vi testar kvantdatorer i ett labb, men det är nog för tidigt för oss.", None),
    (
        "um3",
        "Kompetensförsörjning handlar också om att behålla dem vi har. "
        "Vi satsar på intern rörlighet och handledning.",
        None,
    ),
    (
        "sk3",
        "Rubinplanen är vår plan för att samla alla inloggningar på ett ställe, "
        "vi berättar gärna mer på workshopen.",
        None,
    ),
    ("um1", "Håller med!", 1),
    (
        "pi3",
        "Samma hos oss: kompetensförsörjningen styr vilka digitala satsningar vi alls "
        "kan göra, och den digitala arbetsmiljön får stå tillbaka.",
        1,
    ),
    (
        "um4",
        "Vi har samma problem med invånarnas förväntningar. En tydlig prioritering "
        "mellan e-tjänster har hjälpt oss.",
        2,
    ),
    ("or2", "Enkäten om digital arbetsmiljö låter intressant, kan ni dela frågorna?", 3),
    ("or1", "Absolut, jag lägger upp dem i digilogen i morgon.", 12),
    (
        "sk4",
        "Vi har haft goda erfarenheter av att låta de mest skeptiska medarbetarna "
        "testa nya verktyg först, med stöd av en kollega.",
        4,
    ),
    ("pi4", "Upphandlingen är nyckeln till en bättre digital arbetsmiljö, håller med.", 5),
    (
        "sk5",
        "Intern rörlighet låter klokt för kompetensförsörjningen, hur gör ni rent "
        "praktiskt med handledningen?",
        7,
    ),
    ("pi5", "Er enkät om digital arbetsmiljö vill vi gärna låna till Piteå.", 3),
]
# Written only for the author, or for the facilitators: never in a digest, though the
# same words would otherwise be common enough to count.
PRIVATE = [
    ("um5", "--private", "Rubinplanen oroar mig, min chef vet inget om den hemliga budgeten."),
    ("um6", "--facilitators", "Rubinplanen kommer att kosta mer än hela budgeten för året."),
    ("pi5", "--private", "Rubinplanen har jag aldrig hört talas om, och inte vår chef heller."),
]
SECRETS = ("hemliga budgeten", "kosta mer än hela budgeten", "aldrig hört talas om")


async def rehearse(store: Store, programme: Programme, digilog: Digilog) -> tuple[Cohort, Chat]:
    cohort = await make_cohort(
        store, programme, people=(("fia", "Fia", "region-vasterbotten", Role.facilitator), *PEOPLE)
    )
    chat = Chat(digilog, cohort)
    await chat.say("fia", "theme start 1")
    ids: list[str] = []
    for author, text, answers in THREAD:
        message_id, reply = await chat.post(
            author, 1, text, reply_to=ids[answers] if answers is not None else None
        )
        assert "Saved" in reply.text
        ids.append(message_id)
    # A facilitator's question (neither counted nor quoted) and answer (which answers a post).
    await chat.post("fia", 1, "Vilka av er har en strategi för digital arbetsmiljö skriven?")
    await chat.post("fia", 1, "Bra fråga, den tar vi upp på workshopen.", reply_to=ids[4])
    for author, flag, text in PRIVATE:
        assert "Saved" in (await chat.say(author, f"reflect --theme 1 {flag} {text}")).text
    # The rest of the bank: a later theme where competence supply is talked about a lot,
    # so that it says less about theme 1 than the digital work environment does.
    await chat.say("fia", "theme start 2")
    for author in ("um5", "sk6", "pi6", "um6", "sk2"):
        await chat.post(author, 2, "Kompetensförsörjningen kommer tillbaka i varje samtal.")
    return cohort, chat


async def test_a_digest_counts_what_happened_and_shows_nothing_private(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    cohort, chat = await rehearse(store, programme, digilog)
    async with store.transaction() as repos:
        found = await digest(repos, cohort, 1, translator("en"))

    org = {user: o for user, _, o, _ in PEOPLE}
    posted, replied = {g: set() for g in GROUP.values()}, {g: set() for g in GROUP.values()}
    posts, replies, pairs = Counter(), Counter(), Counter()
    for author, _, answers in THREAD:
        group = GROUP[org[author]]
        if answers is None:
            posts[group] += 1
            posted[group].add(author)
            continue
        replies[group] += 1
        replied[group].add(author)
        answered = THREAD[answers][0]
        if org[answered] != org[author]:
            pairs[tuple(sorted((group, GROUP[org[answered]])))] += 1
    assert found.groups == ["Skellefteå Municipality", "Umeå Municipality", "Other organisations"]
    assert found.group_sizes == {
        "Skellefteå Municipality": 6,
        "Umeå Municipality": 6,
        "Other organisations": 8,
    }
    for group in found.groups:
        assert found.posted[group] == len(posted[group]), group
        assert found.replied[group] == len(replied[group]), group
        assert found.posts[group] == posts[group], group
        assert found.replies[group] == replies[group], group
    assert dict(found.pairs) == dict(pairs)
    # Piteå and Örnsköldsvik are two organisations inside one merged group.
    assert found.pairs["Other organisations", "Other organisations"] == 1
    answered = {answers for _, _, answers in THREAD if answers is not None} | {4}
    assert [c.body for c in found.unanswered] == [
        text for i, (_, text, answers) in enumerate(THREAD) if answers is None and i not in answered
    ]
    assert found.post_count == sum(1 for t in THREAD if t[2] is None)
    assert found.reply_count == sum(1 for t in THREAD if t[2] is not None)

    words = [w.shown for w in found.words]
    phrases = [p.shown for p in found.phrases]
    assert words[:2] == ["digital", "arbetsmiljö"]
    # Competence supply comes up in five posts here, but in every post of the rest of the
    # bank too: compared with it, it says little about this theme; alone, it would.
    assert "kompetensförsörjning" not in words
    alone, _ = distinctive(found.contributions, [])
    assert "kompetensförsörjning" in [w.shown for w in alone]
    assert any("digital" in p and "arbetsmiljö" in p for p in phrases)
    assert "kvantdator" not in words  # one person's word
    # Said once in the digilog and twice in private: private words do not count.
    assert "rubinplan" not in words
    by = Counter(c.author_id for c in found.quotes)
    assert 3 <= len(found.quotes) <= 5 and max(by.values()) == 1
    shared = {text for _, text, _ in THREAD}
    assert all(q.body in shared for q in found.quotes)

    for language in ("en", "sv"):
        reply = await chat.say("fia", "digest 1" if language == "en" else "sammanfattning 1")
        text = reply.text
        for secret in SECRETS:
            assert secret not in text
        assert "Vilka av er har en strategi" not in text  # a facilitator's post is not quoted
        assert "Håller med!" not in text  # too short to quote, and answered by nobody
        [png] = [o.message for o in reply.outgoing if isinstance(o.message, FileMessage)]
        assert png.content.startswith(b"\x89PNG") and png.filename == "grupp-1-digest-1.png"
        chat.locale = "sv"
    assert "Ord" in text and "Skellefteå kommun" in text

    english = render(message(translator("en"), found, STOCKHOLM))[0]
    assert "Skellefteå Municipality  3 of 6 posted, 2 replied · 3 posts, 2 replies" in english
    assert "Skellefteå Municipality and Umeå Municipality: 3 replies" in english
    assert "Between organisations within Other organisations: 1 reply" in english
    assert excerpt(THREAD[0][1]) in english  # the digital work environment's first post


async def test_only_facilitators_get_a_digest_and_a_small_cohort_shows_no_figures(
    store: Store, programme: Programme, digilog: Digilog, cohort: Cohort
) -> None:
    chat = Chat(digilog, cohort)
    await chat.say("fia", "theme start 1")
    await chat.post("anna", 1, "Den digitala arbetsmiljön är viktig för oss alla.")
    assert "Only a facilitator" in (await chat.say("anna", "digest 1")).text
    assert "There is no theme 9" in (await chat.say("fia", "digest 9")).text
    reply = await chat.say("fia", "digest 1")
    assert "Figures are shown from 5 participants on" in reply.text
    assert "Anna Lindqvist" in reply.text  # a post without a reply is named, not a figure
    assert not [o for o in reply.outgoing if isinstance(o.message, FileMessage)]
    assert "Nobody has written" in (await chat.say("fia", "digest 2")).text


def test_the_working_day_before() -> None:
    def at(text: str) -> datetime:
        return local(text).astimezone(STOCKHOLM)

    assert working_day_before(at("2027-02-10 13:00"), STOCKHOLM) == at("2027-02-09 08:00")
    assert working_day_before(at("2027-02-15 09:00"), STOCKHOLM) == at("2027-02-12 08:00")
    # Easter 2027: Good Friday 26 March, Easter Monday 29 March.
    assert working_day_before(at("2027-03-30 13:00"), STOCKHOLM) == at("2027-03-25 08:00")


async def test_the_digest_reaches_the_facilitators_the_working_day_before_the_workshop(
    store: Store,
    cohort: Cohort,
    digilog: Digilog,
    running: Running,  # noqa: F811
    tmp_path: Path,
) -> None:
    await with_calendar(store, cohort, tmp_path)  # the workshop is Thursday 29 April, 13:00
    chat = Chat(digilog, cohort)
    await running.at(local("2027-04-28 07:59"))
    assert running.dms("fia") == []
    await running.at(local("2027-04-28 08:00"))
    [sent] = running.dms("fia")
    assert "Digest of the digilog, theme 1" in sent
    [call] = [c for c in running.slack.calls_to("chat.postMessage") if c.params["channel"] == "fia"]
    assert "The workshop of theme 1 is on the next working day" in str(call.params["blocks"])
    assert running.dms("anna") == []
    await running.at(local("2027-04-28 12:00"))
    assert len(running.dms("fia")) == 1  # once
    [row] = [r for r in await running.rows() if r.kind == "digest_before_workshop"]
    assert row.person_id is not None
    # Its button gives the digest again, in a direct message, for this cohort.
    reply = await chat.click("fia", f"digest:{cohort.id}:1")
    assert isinstance(reply.outgoing[0].message, Message)
    assert "Digest of the digilog, theme 1" in reply.text


async def test_a_digest_waits_for_the_dictionary_loaded_in_turns_of_the_event_loop(
    store: Store,
    programme: Programme,
    digilog: Digilog,
    running: Running,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In a process that has analysed no text yet, the sender loads the dictionary before
    it composes a digest, a slice per turn of the event loop and outside the digest's
    transaction. Loaded at once by the digest itself, it held the loop, and on SQLite
    everyone's writes, for a second."""
    cohort, _ = await rehearse(store, programme, digilog)
    await with_calendar(store, cohort, tmp_path)  # the workshop is Thursday 29 April, 13:00
    await running.at(local("2027-04-28 07:59"))
    # As in a process just started: nothing loaded, no word analysed.
    monkeypatch.setattr(swedish, "LEXICON", swedish._Lexicon())
    swedish.analyse_word.cache_clear()
    swedish._split.cache_clear()
    ticks: list[float] = []

    async def tick() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.005)

    ticker = asyncio.create_task(tick())
    try:
        await running.at(local("2027-04-28 08:00"))
    finally:
        ticker.cancel()
    [sent] = running.dms("fia")
    assert "Digest of the digilog, theme 1" in sent
    # The loop turned all along: loaded at once, one gap was the whole load (about 1 s).
    assert max(later - earlier for earlier, later in itertools.pairwise(ticks)) < 0.3
