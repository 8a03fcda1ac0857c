"""The reflection bank's full-text index, the same on both databases.

storage/swedish.py turns a text into terms in Python; this module writes them where each
database can search them, and turns a parsed query into each database's query language:

- SQLite: an FTS5 table `reflection_search(form, base, part)`, rowid = reflections.id,
  each column the space-separated terms of that kind;
- PostgreSQL: `reflections.search_vector`, a tsvector built here from the same terms
  (lexemes as they are, no dictionary of PostgreSQL's in between) with a GIN index:
  forms weighted A, bases B, parts C, each word of the text at its own positions.

A query word asks for any of its bases among the bases or parts (FTS5: columns
`{base part}`; tsquery: weights `:BC`), or its form among the forms, which ranks first.
Both sides only ever see quoted terms, so no operator of FTS5 or tsquery is interpreted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from storage.swedish import (
    VERSION,
    IndexTerms,
    ParsedQuery,
    QueryWord,
    analyse_word,
    contains_phrase,
    index_terms,
    matches,
    word_spans,
)

ANALYSER_VERSION = VERSION
# ts_rank weights, in PostgreSQL's order {D, C, B, A}: a form beats an inflection beats
# a compound part; the same order as FTS5's bm25 column weights below.
PG_WEIGHTS = "{0, 0.05, 0.3, 1.0}"
FTS5_WEIGHTS = (10.0, 3.0, 0.5)  # form, base, part
_POSITIONS_PER_WORD = 3  # a word's form, bases and parts each at their own position
_MAX_POSITION = 16383  # PostgreSQL's highest; later words share it
_MAX_POSITIONS_PER_LEXEME = 255  # PostgreSQL keeps at most 256 positions of a lexeme


def sqlite_columns(text: str) -> tuple[str, str, str]:
    """The FTS5 row of a text: (forms, bases, parts), each terms joined by spaces."""
    terms = index_terms(text)
    return (
        " ".join(terms.forms),
        " ".join(b for word in terms.bases for b in word),
        " ".join(p for word in terms.parts for p in word),
    )


def _lexeme(term: str) -> str:
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(text: str) -> str:
    """The tsvector of a text in PostgreSQL's input syntax, to be cast with ::tsvector.

    A word's form, bases and parts get positions of their own: PostgreSQL merges equal
    positions of a lexeme and keeps the higher weight, which would turn a base that is
    also the word as written into a form only, and `:BC` would no longer find it.
    """
    terms: IndexTerms = index_terms(text)
    positions: dict[str, list[str]] = defaultdict(list)

    def place(term: str, position: int, weight: str) -> None:
        held = positions[term]
        if len(held) < _MAX_POSITIONS_PER_LEXEME:
            held.append(f"{min(position, _MAX_POSITION)}{weight}")

    for i, form in enumerate(terms.forms):
        first = i * _POSITIONS_PER_WORD + 1
        place(form, first, "A")
        for base in terms.bases[i]:
            place(base, first + 1, "B")
        for part in terms.parts[i]:
            place(part, first + 2, "C")
    return " ".join(f"{_lexeme(t)}:{','.join(p)}" for t, p in positions.items())


# --------------------------------------------------------------------------- queries


def _fts5_string(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _fts5_word(word: QueryWord) -> str:
    bases = " OR ".join(_fts5_string(b) for b in sorted(word.bases))
    return f"({{base part}} : ({bases}) OR {{form}} : {_fts5_string(word.form)})"


def fts5_match(query: ParsedQuery) -> str:
    """An FTS5 MATCH expression: every required word, none of the excluded ones."""
    required = " AND ".join(_fts5_word(w) for w in query.required)
    if not query.excluded:
        return required
    excluded = " OR ".join(_fts5_word(w) for w in query.excluded)
    return f"({required}) NOT ({excluded})"


def _tsquery_word(word: QueryWord) -> str:
    alternatives = [f"{_lexeme(b)}:BC" for b in sorted(word.bases)]
    alternatives.append(f"{_lexeme(word.form)}:A")
    return "(" + " | ".join(alternatives) + ")"


def tsquery_literal(query: ParsedQuery) -> str:
    """The same query in tsquery's input syntax, to be cast with ::tsquery."""
    parts = [_tsquery_word(w) for w in query.required]
    parts.extend("!" + _tsquery_word(w) for w in query.excluded)
    return " & ".join(parts)


def phrases_hold(text: str, query: ParsedQuery) -> bool:
    """Whether every quoted phrase of the query is in the text, its words in order."""
    return all(contains_phrase(text, phrase) for phrase in query.phrases)


# ---------------------------------------------------------------------- highlighting


@dataclass(frozen=True)
class Fragment:
    text: str
    match: bool


def highlight(text: str, query_words: Iterable[QueryWord], *, context: int = 120) -> list[Fragment]:
    """Split `text` into fragments, marking each word a query word found: the form as
    written, an inflection ("ledarskapets") or a compound ("digitaliseringsstrategin").

    Long texts are cut to a window around the first match, with an ellipsis, so a
    hit in the middle of a 4,000-character reflection still shows where it is.
    """
    wanted = list(query_words)
    spans: Sequence[tuple[int, int]] = (
        [
            (start, end)
            for start, end, word in word_spans(text)
            if any(matches(q, analyse_word(word)) for q in wanted)
        ]
        if wanted
        else []
    )
    start, end, prefix, suffix = 0, len(text), "", ""
    if len(text) > 2 * context + 40:
        first = spans[0][0] if spans else 0
        start = max(0, first - context)
        end = min(len(text), start + 2 * context + 40)
        prefix = "…" if start > 0 else ""
        suffix = "…" if end < len(text) else ""
    fragments: list[Fragment] = [Fragment(prefix, False)] if prefix else []
    cursor = start
    for s, e in spans:
        if s < start or e > end:
            continue
        if s > cursor:
            fragments.append(Fragment(text[cursor:s], False))
        fragments.append(Fragment(text[s:e], True))
        cursor = e
    if cursor < end:
        fragments.append(Fragment(text[cursor:end], False))
    if suffix:
        fragments.append(Fragment(suffix, False))
    return fragments
