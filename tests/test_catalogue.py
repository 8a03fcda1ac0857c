"""Every text the code shows has a Swedish translation that keeps its placeholders."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from handlers.core.i18n import LOCALES, translator

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
