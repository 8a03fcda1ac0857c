"""Labs that meet a needs inventory: when a participant writes what they want to develop,
up to three labs whose title and description share its words, each with its sign-up
buttons.

A text's terms come from the reflection bank's Swedish analyser (storage/swedish.py):
each word's lemmas and compound parts, so "digitaliseringsstrategin" meets a lab about
"strategi" and "ledarskapet" one about "ledarskap". A shared term weighs by its inverse
document frequency over the programme's labs, so a word every lab has ("digital", in
this programme) counts for nothing, and function words are not terms at all. The labs
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
    ]
)


def terms(text: str) -> set[str]:
    """The lemmas and compound parts of a text's words, function words left out."""
    found: set[str] = set()
    for word in words(text):
        if word in _NOT_TERMS:
            continue
        analysed = analyse_word(word)
        found |= {
            t
            for t in analysed.bases | analysed.parts
            if len(t) >= _SHORTEST_TERM and t not in _NOT_TERMS
        }
    return found


@dataclass(frozen=True)
class Suggestion:
    lab: Lab
    score: float


def _lab_text(lab: Lab) -> str:
    return f"{localise(lab.title, 'sv')} {localise(lab.description, 'sv')}"


def suggest(labs: Iterable[Lab], needs: str, most: int = MOST) -> list[Suggestion]:
    """The labs whose words the needs text shares most, by IDF-weighted overlap, best
    first; none when nothing matches well enough."""
    labs = list(labs)
    wanted = terms(needs)
    if not labs or not wanted:
        return []
    lab_terms = [terms(_lab_text(lab)) for lab in labs]
    frequency: dict[str, int] = {}
    for found in lab_terms:
        for term in found:
            frequency[term] = frequency.get(term, 0) + 1
    # Smoothed: a term in every lab weighs 0, one in a single lab of ten about 1.7.
    weight = {t: math.log((1 + len(labs)) / (1 + n)) for t, n in frequency.items()}
    scored = [
        Suggestion(lab, sum(weight[t] for t in wanted & found))
        for lab, found in zip(labs, lab_terms, strict=True)
    ]
    good = [s for s in scored if s.score >= LEAST_SCORE * _scale(len(labs))]
    good.sort(key=lambda s: -s.score)
    return good[:most]


def _scale(labs: int) -> float:
    """The weight of a term that one lab in two has, so the threshold means the same
    with four labs as with forty: a match must be worth about two such terms."""
    return 2 * math.log((1 + labs) / (1 + labs / 2))


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
