"""The reflection bank's full-text index, the same on both databases.

storage/swedish.py turns a text into terms in Python; this module writes them where each
database can search them, and turns a parsed query into each database's query language:

- SQLite: an FTS5 table `reflection_search(form, base, part)`, rowid = reflections.id,
  each column the space-separated terms of that kind;
- PostgreSQL: `reflections.search_vector`, a tsvector built here from the same terms
  (lexemes as they are, no dictionary of PostgreSQL's in between) with a GIN index:
  the set of the text's bases and of its parts marked `~`; and `search_forms`, the set
  of its words as written, which only ranks.

A query word asks for any of its bases among the bases or parts (FTS5: columns
`{base part}`; tsquery: `base | ~base`), or its form among the forms, which ranks first.
Both sides only ever see quoted terms, so no operator of FTS5 or tsquery is interpreted.
"""

from __future__ import annotations

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

# The index's layout is part of what a stored row's version says: 2 is PostgreSQL's
# two tsvectors below (version 1 had one, weighted, at three positions a word).
INDEX_LAYOUT = 2
ANALYSER_VERSION = VERSION * 100 + INDEX_LAYOUT
FTS5_WEIGHTS = (10.0, 3.0, 0.5)  # form, base, part
# PostgreSQL: what a query word scores when a text has its form as written, one of its
# bases, or only a compound part with it; the same order as FTS5's bm25 weights.
PG_SCORES = (1.0, 0.3, 0.05)
PART_MARK = "~"  # "~strategi": a compound part


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
    """What finds a text on PostgreSQL (`search_vector`), in tsvector's input syntax, to
    be cast with ::tsvector: the set of its bases, and of its compound parts marked `~`.

    No positions, no weights, no forms: a query's tsquery then names only lexemes, GIN
    answers it exactly (a weight in a tsquery makes every GIN match a recheck of the
    row's tsvector), and the vector stays small enough to stay in the row, uncompressed,
    so testing a row against it is cheap. Forms go to forms_literal, for ranking.
    """
    terms: IndexTerms = index_terms(text)
    lexemes = {base for bases in terms.bases for base in bases}
    lexemes.update(PART_MARK + part for parts in terms.parts for part in parts)
    return " ".join(_lexeme(t) for t in sorted(lexemes))


def forms_literal(text: str) -> str:
    """The words of a text as written (`search_forms`), to rank an exact form first."""
    return " ".join(_lexeme(t) for t in sorted(set(index_terms(text).forms)))


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


def _tsquery_bases(word: QueryWord) -> str:
    """Any of the word's bases, as a base or as a compound part."""
    found = (_lexeme(m + b) for b in sorted(word.bases) for m in ("", PART_MARK))
    return "(" + " | ".join(found) + ")"


def tsquery_literal(query: ParsedQuery) -> str:
    """What finds the query's reflections, in tsquery's input syntax (cast with
    ::tsquery): every required word's bases, none of an excluded word's. A form of a text
    word has that word's bases, so asking for the bases also finds the form."""
    parts = [_tsquery_bases(w) for w in query.required]
    parts.extend("!" + _tsquery_bases(w) for w in query.excluded)
    return " & ".join(parts)


def tsquery_rank_literals(query: ParsedQuery) -> list[tuple[str, str]]:
    """For each required word, the tsquery of its form as written (for `search_forms`) and
    that of its bases (for `search_vector`): a found text has the form (scores
    PG_SCORES[0]), else a base (PG_SCORES[1]), else only a part (PG_SCORES[2])."""
    return [
        (
            _lexeme(w.form),
            " | ".join(_lexeme(b) for b in sorted(w.bases)),
        )
        for w in query.required
    ]


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
