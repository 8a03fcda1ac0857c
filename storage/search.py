"""Swedish-aware full-text helpers shared by the SQLite index, queries and highlighting.

Both databases stem with Snowball's Swedish algorithm, so stemming a query here and
marking the matching words of a text here agree with what either database matched.
snowballstemmer is held below 3: its 3.x Swedish stemmer also strips the definite
"-et" ("ledarskapet" → "ledarskap"), which PostgreSQL 15's 'swedish' does not, and
the two databases would then find different things (tests/test_repositories.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
MAX_QUERY_WORDS = 12

_stemmer = snowballstemmer.stemmer("swedish")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    result: str = _stemmer.stemWord(word.lower())
    return result


def words(text: str) -> list[str]:
    return WORD.findall(text)


def index_text(text: str) -> str:
    """What the SQLite FTS5 table stores for a text: its stems, in order."""
    return " ".join(stem(w) for w in words(text))


def query_stems(query: str) -> list[str]:
    seen: dict[str, None] = {}
    for w in words(query)[:MAX_QUERY_WORDS]:
        seen.setdefault(stem(w), None)
    return list(seen)


def fts5_match(stems: Iterable[str]) -> str:
    """An FTS5 MATCH expression requiring every stem; quoting keeps FTS5 syntax out."""
    return " ".join('"' + s.replace('"', '""') + '"' for s in stems)


@dataclass(frozen=True)
class Fragment:
    text: str
    match: bool


def highlight(text: str, stems: Iterable[str], *, context: int = 120) -> list[Fragment]:
    """Split `text` into fragments, marking words whose stem was searched for.

    Long texts are cut to a window around the first match, with an ellipsis, so a
    hit in the middle of a 4,000-character reflection still shows where it is.
    """
    wanted = set(stems)
    spans = [m.span() for m in WORD.finditer(text) if stem(m.group()) in wanted]
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
