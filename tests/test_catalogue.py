"""Every text the code shows has a Swedish translation that keeps its placeholders."""

from __future__ import annotations

import io
import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from handlers.core.i18n import LOCALES, read_catalogue, translator

ROOT = Path(__file__).resolve().parents[1]
KEYWORDS = {"t": None, "N_": None, "plural": (1, 2)}
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def texts_in_code() -> set[str | tuple[str, str]]:
    found: set[str | tuple[str, str]] = set()
    for package in ("handlers", "bot"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / package, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            found.add(message if isinstance(message, str) else (message[0], message[1]))
    return found


def swedish() -> dict[str | tuple[str, str], str | tuple[str, ...]]:
    with (LOCALES / "sv" / "LC_MESSAGES" / "digilog.po").open("rb") as handle:
        catalogue = read_po(handle)
    return {
        (m.id if isinstance(m.id, str) else (m.id[0], m.id[1])): (
            m.string if isinstance(m.string, str) else tuple(m.string)
        )
        for m in catalogue
        if m.id and not m.fuzzy
    }


def test_every_text_in_the_code_is_translated_to_swedish() -> None:
    catalogue = swedish()
    code = texts_in_code()
    assert len(code) > 50
    missing = sorted(str(m) for m in code if not catalogue.get(m))
    assert missing == []


def test_translations_keep_their_placeholders() -> None:
    wrong = []
    for msgid, msgstr in swedish().items():
        sources = [msgid] if isinstance(msgid, str) else list(msgid)
        expected = set().union(*(set(PLACEHOLDER.findall(s)) for s in sources))
        for form in [msgstr] if isinstance(msgstr, str) else list(msgstr):
            if set(PLACEHOLDER.findall(form)) - expected or (
                isinstance(msgid, str) and set(PLACEHOLDER.findall(form)) != expected
            ):
                wrong.append(f"{msgid!r} → {form!r}")
    assert wrong == []


def test_swedish_and_english_differ_and_fall_back_to_english() -> None:
    assert translator("sv")("Digilog commands") != translator("en")("Digilog commands")
    assert translator("fi")("Digilog commands") == translator("sv")("Digilog commands")
    assert translator("sv").plural("{n} person", "{n} people", 3) == "3 personer"


def test_translators_are_called_t_so_their_texts_are_extracted() -> None:
    """`make catalogue` and the test above find texts in calls to `t(…)` only."""
    named = re.compile(r"^\s*(\w+)(?:: Translator)? = translator\(", re.MULTILINE)
    others = [
        f"{path.relative_to(ROOT)}: {match.group(1)}"
        for package in ("handlers", "bot")
        for path in sorted((ROOT / package).rglob("*.py"))
        for match in named.finditer(path.read_text(encoding="utf-8"))
        if match.group(1) != "t"
    ]
    assert others == []


TERMINOLOGY = ROOT / "docs" / "terminology.md"


def forbidden_words() -> dict[str, str]:
    """Each word of the terminology list's last column, and the word to use instead."""
    forbidden = {}
    for line in TERMINOLOGY.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[2] and cells[0] not in ("English", "---"):
            for word in cells[2].split(","):
                forbidden[word.split("(")[0].strip().lower()] = cells[1]
    return forbidden


def test_swedish_texts_follow_the_terminology_list() -> None:
    forbidden = forbidden_words()
    assert {"knuff", "kohort", "workshopp"} <= set(forbidden)
    found = []
    for msgstr in swedish().values():
        for text in [msgstr] if isinstance(msgstr, str) else list(msgstr):
            # Commands and flags in backquotes are typed as they are, in either language.
            prose = re.sub(r"`[^`]*`|\{\w+\}|--[\w-]+", " ", text).lower()
            for word in re.findall(r"[\wåäö]+", prose):
                if word in forbidden:
                    found.append(f"{word!r} (use {forbidden[word]}) in {text!r}")
    assert found == []


def test_swedish_usage_starts_with_the_swedish_command_words() -> None:
    from handlers.features import REGISTRY

    catalogue = swedish()
    wrong = []
    for command in REGISTRY.commands:
        usage = catalogue[command.usage]
        assert isinstance(usage, str)
        english = " ".join(command.words)
        if not usage.startswith(" ".join(command.sv)) or (
            command.sv != command.words and f" {english} " in f" {usage} "
        ):
            wrong.append(f"{command.usage!r} → {usage!r}")
    assert wrong == []


def test_each_text_has_one_swedish_translation() -> None:
    """A text given twice, or a translation with two msgstr lines, is read as the first
    and the second is silently lost (gettext's msgfmt refuses the file): a reviewer's
    correction appended at the end would never show."""
    entries: list[tuple[str, list[str]]] = []  # (msgctxt + msgid, the entry's keywords)
    field = ""
    for line in (LOCALES / "sv" / "LC_MESSAGES" / "digilog.po").read_text("utf-8").splitlines():
        keyword = line.split(" ", 1)[0]
        if keyword in ("msgctxt", "msgid") and (not entries or "msgstr" in entries[-1][1][-1]):
            entries.append(("", []))
        if keyword.startswith(("msgctxt", "msgid", "msgstr")):
            field = keyword
            entries[-1][1].append(keyword)
        if field in ("msgctxt", "msgid") and '"' in line:
            text, keywords = entries[-1]
            entries[-1] = (text + field + line[line.index('"') :], keywords)
        if not line.strip():
            field = ""
    seen: set[str] = set()
    for text, keywords in entries:
        assert len(keywords) == len(set(keywords)), f"two msgstr lines for {text[:80]}"
        assert text not in seen, f"translated twice: {text[:80]}"
        seen.add(text)


def as_babel_reads_it(po: str) -> dict[str | tuple[str, str], str | tuple[str, ...]]:
    """What the translator is to hold, by Babel's reading of the file: the translated,
    not fuzzy entries without a context; a plural only with all its forms."""
    entries: dict[str | tuple[str, str], str | tuple[str, ...]] = {}
    for m in read_po(io.BytesIO(po.encode()), locale="sv"):
        if not m.id or m.fuzzy or m.context is not None:
            continue
        if isinstance(m.id, str):
            if m.string:
                entries[m.id] = m.string
        elif all(m.string):
            entries[(m.id[0], m.id[1])] = tuple(m.string)
    return entries


AWKWARD_PO = r"""# a header comment
msgid ""
msgstr ""
"Language: sv\n"

#: bot/cli.py:1
#, python-brace-format
msgid "Theme {number} has started"
msgstr "Tema {number} har börjat"

#, fuzzy
msgid "guessed"
msgstr "gissat"

#, python-brace-format, fuzzy
msgid "also guessed"
msgstr "också gissat"

msgid "not yet"
msgstr ""

msgid ""
"a long text "
"in two lines"
msgstr ""
"en lång text "
"på två rader"

msgid "quote \"this\"\tand\\that\nnext"
msgstr "citera \"detta\"\toch\\det\nnästa"

msgid "{n} person"
msgid_plural "{n} people"
msgstr[0] "{n} person"
msgstr[1] "{n} personer"

msgid "{n} lab"
msgid_plural "{n} labs"
msgstr[0] "{n} labb"
msgstr[1] ""

msgctxt "menu"
msgid "Open"
msgstr "Öppna"

#~ msgid "gone"
#~ msgstr "borta"
msgid "right after an obsolete one"
msgstr "strax efter en föråldrad"
"""


def test_the_catalogue_is_read_as_babel_reads_it() -> None:
    """The translator reads .po files itself (Babel's reader took 40 ms of a start); what
    it reads must be what Babel, which keeps the file, reads."""
    expected = as_babel_reads_it(AWKWARD_PO)
    assert read_catalogue(AWKWARD_PO.splitlines()) == expected
    assert expected['quote "this"\tand\\that\nnext'] == 'citera "detta"\toch\\det\nnästa'
    assert set(expected) == {
        "Theme {number} has started",
        "a long text in two lines",
        'quote "this"\tand\\that\nnext',
        ("{n} person", "{n} people"),
        "right after an obsolete one",
    }
    swedish_po = (LOCALES / "sv" / "LC_MESSAGES" / "digilog.po").read_text(encoding="utf-8")
    assert read_catalogue(swedish_po.splitlines()) == as_babel_reads_it(swedish_po)
