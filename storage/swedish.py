"""The Swedish analyser: text -> index terms, and a person's query -> a parsed query.

One analyser, in Python, feeds both databases (see storage/search.py), so SQLite and
PostgreSQL find exactly the same reflections. It knows Swedish words from simplemma's
Swedish dictionary (about 960,000 inflected forms of 129,000 lemmas, shipped inside the
package: nothing is fetched at run time). How it was chosen, with its measured recall
and precision against Snowball, is in docs/search.md.

Every word of a text gives three kinds of terms:

- its *form*, the word as written (lower case): "ledarskapets";
- its *bases*, the lemmas it may be a form of: "ledarskap". A word the dictionary does
  not know is lemmatised by its compound head ("förändringsarbetet" ->
  "förändringsarbete") or else by Snowball 3's Swedish stemmer ("quizet" -> "quiz");
- its *parts*, the lemmas of the words a compound is built from:
  "digitaliseringsstrategi" -> "digitalisering", "strategi".

A query word matches a word of the text when one of its bases is a base or a part of that
word. Ranking puts a matching form first, then a base (an inflection), then a part.
Lemmas, not stems, keep "lag" away from "lagade" (a form of "laga").
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import lzma
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import ModuleType

import Stemmer

log = logging.getLogger(__name__)

# Bumped whenever a change here changes the terms of some text: reflections indexed by an
# older version are re-indexed in the background (storage/search.py, reindex_batch).
VERSION = 1

# Letters and digits, with hyphens inside a word ("Teams-mötet"); apostrophes and every
# other character separate words. Only letters and digits: what FTS5's unicode61
# tokenizer also keeps, so a term is one token there as in a PostgreSQL tsvector.
WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
LONGEST_WORD = 60  # longer "words" (a pasted URL, a row of letters) are not indexed
MAX_QUERY_WORDS = 16

# Compound modifiers that are prefixes or function words, not words of their own:
# "samarbete" is not about "simma", nor "förslag" about "slag".
_NOT_A_MODIFIER = frozenset(
    [
        "all",
        "an",
        "av",
        "be",
        "bi",
        "de",
        "den",
        "det",
        "där",
        "efter",
        "ej",
        "emot",
        "er",
        "fram",
        "från",
        "för",
        "före",
        "genom",
        "ge",
        "hem",
        "hos",
        "i",
        "in",
        "inom",
        "jag",
        "kring",
        "med",
        "mellan",
        "mot",
        "ner",
        "ni",
        "när",
        "o",
        "och",
        "om",
        "omkring",
        "on",
        "på",
        "sam",
        "sin",
        "sina",
        "till",
        "tills",
        "under",
        "upp",
        "ur",
        "ut",
        "utan",
        "utom",
        "vad",
        "var",
        "vi",
        "vid",
        "åter",
        "över",
    ]
)
# Heads that are suffixes in practice: "frihet" is not about heat.
_NOT_A_HEAD = frozenset(
    [
        "het",
        "heta",
        "dom",
        "skap",
        "else",
        "ning",
        "ande",
        "ende",
        "are",
        "lig",
        "ligt",
        "isk",
        "ism",
        "ist",
    ]
)
# Endings of a definite or genitive noun ("labben", "invånarnas"), tried when the
# dictionary lemmatises a form to another word than the one a reader means.
_NOUN_ENDINGS = (
    "arnas",
    "ernas",
    "ornas",
    "arna",
    "erna",
    "orna",
    "ens",
    "ets",
    "nas",
    "en",
    "et",
    "na",
    "ns",
    "n",
    "ar",
    "er",
    "or",
)
_MIN_PART = 3
_MIN_COMPOUND = 6
# A slice of the dictionary's load: 1–2 ms on this project's 2-core machine.
SLICE_BYTES = 128 * 1024  # of the decompressed stream
SLICE_RECORDS = 1_000


def _simplemma_reader() -> tuple[ModuleType, Path]:
    """simplemma's front-code reader (a module of the standard library's imports only)
    and its Swedish stream, without importing simplemma: its package imports every
    language's rules first, 80 ms of the event loop's time."""
    package = importlib.util.find_spec("simplemma")  # finds it, runs nothing
    if package is None or package.origin is None:
        raise ModuleNotFoundError("simplemma")
    folder = Path(package.origin).parent / "strategies" / "dictionaries"
    spec = importlib.util.spec_from_file_location("digilog_frontcode", folder / "frontcode.py")
    assert spec is not None and spec.loader is not None
    reader = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reader)
    return reader, folder / "data" / "sv.plzma"


class _Lexicon:
    """simplemma's Swedish forms -> lemma, and the set of lemmas, kept as the UTF-8 bytes
    simplemma stores them in (decoding 960,000 entries would take seconds). Loaded on first
    use, by `preload`, or a slice at a time by `load_slice` (about 1 s of CPU and 100 MB in
    all), so a process that never searches never pays for it.

    Kept in shards by a key's first two bytes: one dict of 960,000 entries grows by
    copying itself, and each copy holds the GIL for tens of milliseconds, so a load in
    the background stalled the event loop's acks 3–4 times by 50–100 ms. The 1,117 shards
    hold 24,000 entries at most, and grow in well under a millisecond. simplemma 2.0's own
    decoder builds the one big dict, so its stream is read here with its (private) reader;
    the version is pinned in requirements/main.txt, and tests/test_swedish_search.py fails
    if the reader changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._forms: dict[bytes, dict[bytes, bytes]] | None = None
        self._lemmas: dict[bytes, set[bytes]] = {}
        self._loading: Iterator[None] | None = None  # the load begun in slices

    def _slices(self) -> Iterator[None]:
        """The load, pausing after each slice of about a millisecond or two."""
        began = time.monotonic()
        frontcode, stream_path = _simplemma_reader()
        yield
        chunks: list[bytes] = []
        with lzma.open(stream_path, "rb") as stream:
            while chunk := stream.read(SLICE_BYTES):
                chunks.append(chunk)
                yield
        data = b"".join(chunks)
        reversed_keys, count, start = frontcode._read_header(data)
        forms: dict[bytes, dict[bytes, bytes]] = {}
        lemmas: dict[bytes, set[bytes]] = {}
        read = 0
        for _, key, value in frontcode._iter_records(data, start):
            if reversed_keys:
                key, value = key[::-1], value[::-1]
            forms.setdefault(key[:2], {})[key] = value
            lemmas.setdefault(value[:2], set()).add(value)
            read += 1
            if read % SLICE_RECORDS == 0:
                yield
        if read != count:
            raise ValueError(f"simplemma's Swedish dictionary: {read} of {count} read")
        self._lemmas = lemmas
        self._forms = forms
        log.info("Swedish dictionary: %d forms, loaded in %.1f s", read, time.monotonic() - began)

    def load_slice(self) -> bool:
        """One slice of the load (a millisecond or two); True once the whole is loaded.
        False at once when another thread is loading it."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            if self._forms is None:
                self._loading = self._loading or self._slices()
                try:
                    if next(self._loading, True) is True:
                        self._loading = None
                except BaseException:  # the next try begins again
                    self._loading = None
                    raise
            return self._forms is not None
        finally:
            self._lock.release()

    def _load(self) -> dict[bytes, dict[bytes, bytes]]:
        with self._lock:
            if self._forms is None:
                try:
                    for _ in self._loading or self._slices():
                        pass
                finally:
                    self._loading = None
            assert self._forms is not None
            return self._forms

    def _lemma_bytes(self, word: bytes) -> bytes | None:
        shard = (self._forms or self._load()).get(word[:2])
        return shard.get(word) if shard is not None else None

    def lemma(self, word: str) -> str | None:
        found = self._lemma_bytes(word.encode())
        return found.decode() if found is not None else None

    def is_lemma(self, word: str) -> bool:
        if self._forms is None:
            self._load()
        encoded = word.encode()
        return encoded in self._lemmas.get(encoded[:2], ())

    def knows(self, word: str) -> bool:
        return self._lemma_bytes(word.encode()) is not None

    def lemmas(self) -> list[str]:
        if self._forms is None:
            self._load()
        return [
            w
            for shard in self._lemmas.values()
            for w in (b.decode() for b in shard)
            if w.isalpha() and w.islower()
        ]


LEXICON = _Lexicon()
_stemmer = Stemmer.Stemmer("swedish")
_stem_lock = threading.Lock()


def normalise(text: str) -> str:
    # NFC so that "ö" typed as o + combining diaeresis is the same word as "ö".
    return unicodedata.normalize("NFC", text).lower()


def words(text: str) -> list[str]:
    """The words of a text, lower case, in order; over-long ones are left out."""
    return [w for w in WORD.findall(normalise(text)) if len(w) <= LONGEST_WORD]


def word_spans(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, word) of each word in `text` as written, for highlighting."""
    for match in WORD.finditer(text):
        word = normalise(match.group())
        if len(word) <= LONGEST_WORD:
            yield match.start(), match.end(), word


def _stem(word: str) -> str:
    with _stem_lock:  # PyStemmer's stemmer object is not thread-safe
        result: str = _stemmer.stemWord(word)
    return result


def _known_bases(word: str) -> set[str]:
    """The lemmas the dictionary gives a form, itself when it is a lemma, and the noun
    it is a definite form of: "labben" -> labb, "far" -> far and fara."""
    bases: set[str] = set()
    lemma = LEXICON.lemma(word)
    if lemma is not None:
        bases.add(lemma)
    if LEXICON.is_lemma(word):
        bases.add(word)
    for ending in _NOUN_ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= _MIN_PART:
            stripped = word[: -len(ending)]
            if LEXICON.is_lemma(stripped):
                bases.add(stripped)
    if not bases and word.endswith("s") and LEXICON.is_lemma(word[:-1]):
        bases.add(word[:-1])  # a genitive of a word the dictionary has only unmarked
    return bases


def _modifier_lemma(modifier: str) -> str | None:
    """The word a compound's first part stands for: "digitaliserings" -> digitalisering,
    "teams" -> team, or None when it is no word of its own (or only a prefix)."""
    if len(modifier) < _MIN_PART or modifier in _NOT_A_MODIFIER:
        return None
    if modifier.endswith("s") and modifier[:-1] in _NOT_A_MODIFIER:
        return None  # "förslag" is not "förs" + "lag"
    lemma = LEXICON.lemma(modifier)
    if lemma is None and modifier.endswith("s") and LEXICON.is_lemma(modifier[:-1]):
        lemma = modifier[:-1]  # joining -s- on a word the dictionary lists bare
    if lemma is None or lemma in _NOT_A_MODIFIER or len(lemma) < _MIN_PART:
        return None
    return lemma


@lru_cache(maxsize=200_000)
def _split(word: str, depth: int = 0) -> tuple[str, str] | None:
    """The best split of a compound into (modifier, head): the longest head that is a
    known word, after a modifier that is a word of its own or itself a compound. A word
    the dictionary knows splits only where its lemma is the modifier and the head's
    lemma, so "medarbetarna" (a form of "medarbetare") is not "medar" + "betarna"."""
    if len(word) < _MIN_COMPOUND or depth > 2:
        return None
    whole = _known_bases(word)
    for cut in range(_MIN_PART, len(word) - _MIN_PART + 1):
        modifier, head = word[:cut], word[cut:]
        if not LEXICON.knows(head):
            continue
        head_lemma = LEXICON.lemma(head) or head
        if head in _NOT_A_HEAD or head_lemma in _NOT_A_HEAD or len(head_lemma) < _MIN_PART:
            continue
        if whole and not any(modifier + b in whole for b in _known_bases(head) | {head}):
            continue
        # A three-letter head only after a joining -s- ("arbetstid"): otherwise too many
        # words end in something that happens to be short word ("betala" is no "ala").
        if len(head) < 4 and not modifier.endswith("s"):
            continue
        if _modifier_lemma(modifier) is not None or _split(modifier, depth + 1) is not None:
            return modifier, head
    return None


@dataclass(frozen=True)
class WordTerms:
    form: str
    bases: frozenset[str]
    parts: frozenset[str]


@lru_cache(maxsize=500_000)
def analyse_word(word: str) -> WordTerms:
    """The terms of one word (lower case, as `words` gives it)."""
    if "-" in word:
        return _hyphenated(word)
    bases = _known_bases(word)
    parts: set[str] = set()
    split = _split(word)
    if split is not None:
        modifier, head = split
        head_terms = analyse_word(head)
        if not bases:
            # An unknown compound is lemmatised by its head: "förändringsarbetet".
            bases = {modifier + b for b in head_terms.bases}
        parts |= head_terms.bases | head_terms.parts
        modifier_lemma = _modifier_lemma(modifier)
        if modifier_lemma is not None:
            parts.add(modifier_lemma)
        else:
            parts |= analyse_word(modifier).bases | analyse_word(modifier).parts
    if not bases:
        bases = {_stem(word)}
    return WordTerms(word, frozenset(bases), frozenset(parts - bases))


def _hyphenated(word: str) -> WordTerms:
    """ "teams-mötet": based on its last part ("teams-möte"), with every part a part."""
    pieces = word.split("-")
    *front, last = pieces
    last_terms = analyse_word(last)
    bases = {"-".join((*front, b)) for b in last_terms.bases}
    parts: set[str] = set()
    for piece in pieces:
        terms = analyse_word(piece)
        parts |= terms.bases | terms.parts
    return WordTerms(word, frozenset(bases), frozenset(parts - bases))


@dataclass(frozen=True)
class IndexTerms:
    """A text's terms, by kind, each list in the order of the text's words."""

    forms: list[str]
    bases: list[list[str]]
    parts: list[list[str]]


def index_terms(text: str) -> IndexTerms:
    """What the index stores for a text (storage/search.py writes it to either database)."""
    forms: list[str] = []
    bases: list[list[str]] = []
    parts: list[list[str]] = []
    for word in words(text):
        terms = analyse_word(word)
        forms.append(terms.form)
        bases.append(sorted(terms.bases))
        parts.append(sorted(terms.parts))
    return IndexTerms(forms, bases, parts)


# ---------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class QueryWord:
    form: str
    bases: frozenset[str]


@dataclass(frozen=True)
class ParsedQuery:
    """What a person asked for: every word required, phrases in order, some words not.

    Nothing in the query is an operator but a leading "-" and double quotes; FTS5's and
    tsquery's syntax are plain characters here, and most of them are no part of a word.
    """

    required: tuple[QueryWord, ...] = ()
    phrases: tuple[tuple[QueryWord, ...], ...] = ()
    excluded: tuple[QueryWord, ...] = ()
    dropped_words: int = 0  # beyond MAX_QUERY_WORDS

    @property
    def empty(self) -> bool:
        return not self.required


def query_word(word: str) -> QueryWord:
    terms = analyse_word(word)
    return QueryWord(terms.form, terms.bases)


_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"'})
_PIECE = re.compile(r'"([^"]*)"?|(\S+)')


def parse_query(query: str) -> ParsedQuery:
    """`"a phrase" word -excluded`: phrases in order, words all required, "-word" not.

    An unclosed quote runs to the end. A word of a phrase is also required, so the index
    narrows the candidates and the phrase is checked on their words (storage/search.py).
    """
    required: dict[str, QueryWord] = {}
    excluded: dict[str, QueryWord] = {}
    phrases: list[tuple[QueryWord, ...]] = []
    budget = MAX_QUERY_WORDS
    dropped = 0
    for match in _PIECE.finditer(query.translate(_QUOTES)):
        phrase_text, piece = match.group(1), match.group(2)
        if phrase_text is not None:
            phrase = []
            for word in words(phrase_text):
                if budget <= 0:
                    dropped += 1
                    continue
                budget -= 1
                qw = query_word(word)
                phrase.append(qw)
                required.setdefault(word, qw)
            if len(phrase) > 1:
                phrases.append(tuple(phrase))
            continue
        negative = piece.startswith("-") and len(piece) > 1
        for word in words(piece[1:] if negative else piece):
            if budget <= 0:
                dropped += 1
                continue
            budget -= 1
            (excluded if negative else required).setdefault(word, query_word(word))
    return ParsedQuery(
        required=tuple(required.values()),
        phrases=tuple(phrases),
        excluded=tuple(qw for w, qw in excluded.items() if w not in required),
        dropped_words=dropped,
    )


def matches(query_word: QueryWord, terms: WordTerms) -> bool:
    return bool(query_word.bases & (terms.bases | terms.parts))


def contains_phrase(text: str, phrase: Iterable[QueryWord]) -> bool:
    """Whether the text has the phrase's words one after another, in any of their forms."""
    wanted = list(phrase)
    terms = [analyse_word(w) for w in words(text)]
    for start in range(len(terms) - len(wanted) + 1):
        if all(matches(q, terms[start + i]) for i, q in enumerate(wanted)):
            return True
    return False


def vocabulary() -> list[str]:
    """Every Swedish lemma the analyser knows (words of letters, lower case): what typo
    suggestions are drawn from."""
    return LEXICON.lemmas()


def preload() -> None:
    """Load the dictionary in a background thread, so the first search or saved
    reflection of a process does not wait for it."""
    threading.Thread(target=LEXICON.lemma, args=("",), name="swedish-lexicon", daemon=True).start()


def load_slice() -> bool:
    """One slice of the dictionary's load, for an event loop to run between its requests
    (a millisecond or two); True once it is loaded."""
    return LEXICON.load_slice()


async def loaded_in_turns(one_slice: Callable[[], bool] = load_slice) -> None:
    """Until the dictionary is loaded, one slice per turn of the event loop: what comes
    meanwhile is answered. Loaded at once by the first word analysed, it held the loop for
    a second, and on SQLite the write lock of the transaction it was read in."""
    while not one_slice():  # noqa: ASYNC110
        await asyncio.sleep(0)
