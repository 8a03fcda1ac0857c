"""Labs that meet a needs inventory: when a participant writes what they want to develop,
up to three labs whose title and description share its words, each with its sign-up
buttons.

A text's terms come from the reflection bank's Swedish analyser (storage/swedish.py):
each word's lemmas and compound parts, so "digitaliseringsstrategin" meets a lab about
"strategi" and "ledarskapet" one about "ledarskap". A shared term weighs by its inverse
document frequency over the programme's labs and one lab about something else, so a
word every lab has ("digital", in this programme) counts for little, and function words
are not terms at all. The lab about something else is what keeps a programme of one lab
from weighing all its words at nothing: its lab's words then stand out against a lab the
needs could have asked for instead. The labs
are matched on their Swedish text (the inventory is written in Swedish), and shown in
the reader's language.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from handlers.core.context import Context
from handlers.core.programme_file import Lab, Programme, localise
from handlers.core.vocabulary import MessageBuilder, Option, Outgoing, Span
from handlers.labs import session_key
from storage.models import SignupState
from storage.swedish import analyse_word, words

MOST = 3
# Below this a lab shares no more than a word or two that half the labs have.
LEAST_SCORE = 1.0
_SHORTEST_TERM = 3
# Shorter, but what a lab is about: "AI", "IT" (and "AI-tjänster" has the part "ai").
_SHORT_TERMS = frozenset(["ai", "it"])
# Words that say nothing about what a lab is for: pronouns, auxiliaries, conjunctions,
# and the words anyone writes about wanting to learn something.
_NOT_TERMS = frozenset(
    [
        "alla",
        "allt",
        "andra",
        "att",
        "av",
        "bara",
        "bli",
        "blir",
        "de",
        "dem",
        "den",
        "denna",
        "dessa",
        "det",
        "detta",
        "dig",
        "din",
        "dina",
        "ditt",
        "du",
        "där",
        "efter",
        "eller",
        "en",
        "ett",
        "finnas",
        "få",
        "för",
        "från",
        "ge",
        "genom",
        "ha",
        "hade",
        "han",
        "har",
        "hon",
        "hos",
        "hur",
        "här",
        "i",
        "in",
        "inom",
        "inte",
        "jag",
        "kan",
        "kunna",
        "kunde",
        "man",
        "med",
        "mellan",
        "men",
        "mer",
        "mig",
        "min",
        "mina",
        "mitt",
        "mot",
        "mycket",
        "må",
        "ni",
        "nu",
        "när",
        "någon",
        "något",
        "några",
        "och",
        "om",
        "oss",
        "på",
        "sig",
        "sin",
        "sina",
        "sitt",
        "själv",
        "ska",
        "skulle",
        "som",
        "så",
        "till",
        "under",
        "upp",
        "ur",
        "ut",
        "utan",
        "vad",
        "var",
        "vara",
        "vi",
        "vid",
        "vilja",
        "vill",
        "våra",
        "vår",
        "än",
        "är",
        "också",
        "även",
        "mest",
        "lite",
        "bättre",
        "bra",
        "mer",
        "mera",
        "gärna",
        "hjälp",
        "lära",
        "lär",
        "utveckla",
        "utvecklas",
        "behov",
        "behöva",
        "behöver",
        "betyda",
        "betyder",
        "förstå",
        "förstår",
    ]
)


def terms(text: str) -> set[str]:
    """The lemmas and compound parts of a text's words, function words left out."""
    found: set[str] = set()
    for word_terms in _terms_by_word(text):
        found |= word_terms
    return found


def _terms_by_word(text: str) -> list[frozenset[str]]:
    """Each word's terms (its lemmas and compound parts), once per distinct word."""
    found: dict[str, frozenset[str]] = {}
    for word in words(text):
        if word in _NOT_TERMS or word in found:
            continue
        analysed = analyse_word(word)
        found[word] = frozenset(
            t
            for t in analysed.bases | analysed.parts
            if (len(t) >= _SHORTEST_TERM or t in _SHORT_TERMS) and t not in _NOT_TERMS
        )
    return [terms for terms in found.values() if terms]


@dataclass(frozen=True)
class Suggestion:
    lab: Lab
    score: float


def _lab_text(lab: Lab) -> str:
    return f"{localise(lab.title, 'sv')} {localise(lab.description, 'sv')}"


def suggest(labs: Iterable[Lab], needs: str, most: int = MOST) -> list[Suggestion]:
    """The labs whose words the needs text shares most, by IDF-weighted overlap (each of
    its words counted once, by its best term), best first; none when nothing matches well
    enough."""
    labs = list(labs)
    wanted = _terms_by_word(needs)
    if not labs or not wanted:
        return []
    lab_terms = [terms(_lab_text(lab)) for lab in labs]
    frequency: dict[str, int] = {}
    for found in lab_terms:
        for term in found:
            frequency[term] = frequency.get(term, 0) + 1
    weight = {t: _weight(len(labs), n) for t, n in frequency.items()}
    scored = [
        Suggestion(lab, _score(wanted, found, weight))
        for lab, found in zip(labs, lab_terms, strict=True)
    ]
    good = [s for s in scored if s.score >= LEAST_SCORE * _scale(len(labs))]
    good.sort(key=lambda s: -s.score)
    return good[:most]


def _score(wanted: list[frozenset[str]], found: set[str], weight: dict[str, float]) -> float:
    """What the needs' words are worth to one lab: each word by the best of its terms the
    lab shares, and each term once. A word counts once however many parts the analyser
    finds in it ("budskap": "bud", "kap", "budskap"), so one shared word is never taken
    for a match of several."""
    counted: set[str] = set()
    for word_terms in wanted:
        shared = word_terms & found
        if shared:
            counted.add(max(shared, key=lambda t: (weight[t], t)))
    return sum(weight[t] for t in counted)


def _weight(labs: int, having: float) -> float:
    """A term's inverse document frequency over `labs` labs, `having` of which have it.
    Smoothed, and counted as if beside them were one more lab without the term: a term in
    every lab of ten weighs about 0.09, one in a single lab of ten about 1.8, and the one
    lab of a one-lab programme still tells its terms from those of no lab (0.4 each)."""
    return math.log((2 + labs) / (1 + having))


def _scale(labs: int) -> float:
    """The weight of a term that one lab in two has (a lab of its own, with fewer than
    two labs), so the threshold means the same with one lab as with forty: a match must
    be worth about two such terms."""
    return 2 * _weight(labs, max(1.0, labs / 2))


async def suggestions_for(context: Context, programme: Programme, needs: str) -> list[Outgoing]:
    """The message suggesting labs for a needs inventory, or nothing."""
    chosen = suggest(programme.labs, needs)
    if not chosen:
        return []
    t = context.t
    cohort = context.require_cohort()
    member = context.require_member()
    mine = await context.repos.labs.of_person(cohort.id, member.person.id)
    now = context.now()
    build = MessageBuilder().para(Span(t("Labs that may meet your needs:"), strong=True))
    options: list[Option] = []
    rows = []
    for suggestion in chosen:
        lab = suggestion.lab
        rows.append(
            (
                Span(context.local(lab.title), strong=True),
                Span(f" ({lab.id}): " + context.local(lab.description)),
            )
        )
        for n, session in enumerate(lab.sessions, start=1):
            if session.start <= now or mine.get(session_key(lab, session)) in (
                SignupState.signed_up,
                SignupState.waiting,
            ):
                continue
            options.append(
                Option(
                    f"lab:{cohort.id}:signup:{lab.id}:{n}",
                    t("Sign up: {lab} {n}", lab=lab.id, n=n),
                )
            )
    build.bullets(rows)
    build.note(t("{command} shows every lab and its sessions.", command=context.command("labs")))
    if options:
        build.choices(options)
    return [context.reply(build.build())]
