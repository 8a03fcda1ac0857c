"""How the candidate Swedish analysers do on the labelled set (bench/search_labels.py).

Each analyser decides, word by word, whether a query word finds a word of a reflection;
a reflection is a hit when every query word finds one of its words. Prints micro-averaged
recall and precision over all (query, reflection) pairs, and the misses of each, so the
choice in docs/search.md can be checked and redone.

    .venv/bin/python bench/swedish_analysers.py
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import simplemma  # noqa: E402
import snowballstemmer  # noqa: E402
import Stemmer  # noqa: E402

from bench.search_labels import QUERIES, REFLECTIONS  # noqa: E402
from storage import swedish  # noqa: E402

Matcher = Callable[[str, str], bool]  # (query word, text word) -> found


def by_key(key: Callable[[str], str]) -> Matcher:
    cache: dict[str, str] = {}

    def keyed(word: str) -> str:
        if word not in cache:
            cache[word] = key(word)
        return cache[word]

    return lambda q, w: keyed(q) == keyed(w)


def analysers() -> dict[str, Matcher]:
    snowball2 = snowballstemmer.stemmer("swedish")
    snowball3 = Stemmer.Stemmer("swedish")
    return {
        "Snowball 2.2 (old)": by_key(snowball2.stemWord),
        "Snowball 3 (PyStemmer)": by_key(snowball3.stemWord),
        "simplemma lemmas": by_key(lambda w: simplemma.lemmatize(w, lang="sv")),
        "simplemma greedy": by_key(lambda w: simplemma.lemmatize(w, lang="sv", greedy=True)),
        "storage.swedish (new)": lambda q, w: swedish.matches(
            swedish.query_word(q), swedish.analyse_word(w)
        ),
    }


def evaluate(found: Matcher) -> tuple[float, float, list[str]]:
    texts = {key: swedish.words(text) for key, text in REFLECTIONS.items()}
    true_positives = false_positives = false_negatives = 0
    misses: list[str] = []
    for query, expected in QUERIES.items():
        query_words = swedish.words(query)
        hits = {
            key
            for key, text_words in texts.items()
            if all(any(found(q, w) for w in text_words) for q in query_words)
        }
        true_positives += len(hits & expected)
        false_positives += len(hits - expected)
        false_negatives += len(expected - hits)
        for key in sorted(expected - hits):
            misses.append(f"{query} missed {key}")
        for key in sorted(hits - expected):
            misses.append(f"{query} wrongly found {key}")
    recall = true_positives / max(1, true_positives + false_negatives)
    precision = true_positives / max(1, true_positives + false_positives)
    return recall, precision, misses


def main() -> None:
    swedish.analyse_word("förvärmning")  # load the dictionary outside the timings
    print(f"{len(QUERIES)} queries over {len(REFLECTIONS)} reflections\n")
    print(f"{'analyser':<26} {'recall':>7} {'precision':>9} {'time':>8}")
    details: list[str] = []
    for name, matcher in analysers().items():
        start = time.perf_counter()
        recall, precision, misses = evaluate(matcher)
        took = time.perf_counter() - start
        print(f"{name:<26} {recall:>7.3f} {precision:>9.3f} {took * 1000:>6.0f}ms")
        details.append(f"\n{name}: {len(misses)} wrong")
        details.extend(f"  {m}" for m in misses)
    if "-v" in sys.argv:
        print("\n".join(details))


if __name__ == "__main__":
    main()
