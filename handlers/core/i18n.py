"""Message catalogues (gettext .po, read with Babel): English source texts, Swedish translations.

Code writes English text through a Translator, `t("Theme {number} has started", number=2)`;
the Swedish lives in handlers/locales/sv/LC_MESSAGES/digilog.po. tests/test_catalogue.py
checks that every text the code uses is translated and keeps its placeholders.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

LOCALES = Path(__file__).parent.parent / "locales"
DOMAIN = "digilog"
SOURCE_LANGUAGE = "en"
SUPPORTED = ("sv", "en")


def N_(message: str) -> str:
    """Marks a text for the catalogue where it is defined; it is translated where it is shown."""
    return message


@cache
def _catalogue(language: str) -> dict[str | tuple[str, str], str | tuple[str, ...]]:
    if language == SOURCE_LANGUAGE:
        return {}
    path = LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as handle:
        catalogue = read_po(handle, locale=language)
    entries: dict[str | tuple[str, str], str | tuple[str, ...]] = {}
    for message in catalogue:
        if not message.id or message.fuzzy:
            continue
        translation = message.string
        if isinstance(message.id, tuple | list):
            forms = tuple(translation or ())
            if forms and all(forms):
                entries[(message.id[0], message.id[1])] = forms
        elif isinstance(translation, str) and translation:
            entries[message.id] = translation
    return entries


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
