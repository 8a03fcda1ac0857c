"""Message catalogues (gettext .po): English source texts, Swedish translations.

Code writes English text through a Translator, `t("Theme {number} has started", number=2)`;
the Swedish lives in handlers/locales/sv/LC_MESSAGES/digilog.po (kept with Babel's
tools). tests/test_catalogue.py checks that every text the code uses is translated and
keeps its placeholders, and that the catalogue read here is the one Babel reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

LOCALES = Path(__file__).parent.parent / "locales"
DOMAIN = "digilog"
SOURCE_LANGUAGE = "en"
SUPPORTED = ("sv", "en")


def N_(message: str) -> str:
    """Marks a text for the catalogue where it is defined; it is translated where it is shown."""
    return message


Catalogue = dict[str | tuple[str, str], str | tuple[str, ...]]


@cache
def _catalogue(language: str) -> Catalogue:
    if language == SOURCE_LANGUAGE:
        return {}
    path = LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    return read_catalogue(path.read_text(encoding="utf-8").splitlines())


# A .po line: a keyword (msgid, msgid_plural, msgstr, msgstr[1]) and its quoted text, or
# a quoted text alone that goes on with the keyword before it.
_LINE = re.compile(r'^(?:(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)\s+)?"(.*)"\s*$')
_ESCAPE = re.compile(r"\\(.)")
_ESCAPED = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def read_catalogue(lines: Iterable[str]) -> Catalogue:
    """The translations of a .po file: each text's, or a plural's forms (all of them, or
    the entry is left out). Fuzzy, untranslated and obsolete (#~) entries are left out.

    Babel's `read_po` reads the same (tests/test_catalogue.py) at five times the cost:
    a start spent 43 ms in it on a slow machine, 8 in this (bench/startup.py)."""
    entries: Catalogue = {}
    entry: dict[str, str] = {}  # the entry being read: its keywords' texts
    fuzzy = False
    keyword = ""

    def finish() -> None:
        nonlocal fuzzy
        if not fuzzy and (translated := _translated(entry)) is not None:
            entries[translated[0]] = translated[1]
        entry.clear()
        fuzzy = False

    for line in lines:
        if line.startswith("#"):  # comments and flags come before the entry they are of
            if keyword.startswith("msgstr"):
                finish()
                keyword = ""
            if line.startswith("#,") and "fuzzy" in line[2:].replace(",", " ").split():
                fuzzy = True
            continue
        found = _LINE.match(line)
        if found is None:
            continue  # a blank line between entries
        named, text = found.groups()
        text = _ESCAPE.sub(lambda m: _ESCAPED.get(m.group(1), m.group(0)), text)
        if named is None:
            entry[keyword] = entry.get(keyword, "") + text
            continue
        if named in ("msgctxt", "msgid") and keyword.startswith("msgstr"):
            finish()
        keyword = named
        entry[keyword] = text
    finish()
    return entries


def _translated(
    entry: dict[str, str],
) -> tuple[str | tuple[str, str], str | tuple[str, ...]] | None:
    msgid = entry.get("msgid")
    if not msgid or "msgctxt" in entry:  # the header, or a context the translator lacks
        return None
    if "msgid_plural" in entry:
        forms = tuple(entry[k] for k in sorted(entry) if k.startswith("msgstr["))
        return ((msgid, entry["msgid_plural"]), forms) if forms and all(forms) else None
    return (msgid, entry["msgstr"]) if entry.get("msgstr") else None


def language_of(locale: str | None) -> str | None:
    """`sv-SE`, `sv_FI`, `en-GB` → a supported language, or None."""
    if not locale:
        return None
    language = locale.replace("_", "-").split("-")[0].lower()
    return language if language in SUPPORTED else None


@dataclass(frozen=True)
class Translator:
    language: str

    def __call__(self, message: str, /, **values: object) -> str:
        translated = _catalogue(self.language).get(message, message)
        assert isinstance(translated, str)
        return translated.format(**values) if values else translated

    def plural(self, singular: str, plural: str, n: int, /, **values: object) -> str:
        forms = _catalogue(self.language).get((singular, plural))
        if isinstance(forms, tuple):
            # Swedish and English share the rule: one form for 1, another for the rest.
            chosen = forms[0] if n == 1 else forms[min(1, len(forms) - 1)]
        else:
            chosen = singular if n == 1 else plural
        return chosen.format(n=n, **values)


class Said(Exception):
    """An error whose message is a catalogue text: English in a log, the reader's language
    where a person reads it (`said(t)`)."""

    def __init__(self, text: str, /, **values: object) -> None:
        super().__init__(text.format(**values) if values else text)
        self.text, self.values = text, values

    def said(self, t: Translator) -> str:
        return t(self.text, **self.values)


def translator(language: str | None) -> Translator:
    return Translator(language if language in SUPPORTED else SUPPORTED[0])
