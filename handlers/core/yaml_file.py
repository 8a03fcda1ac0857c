"""YAML files that people write by hand, checked so that every problem names its line.

Problems come out as `FILE:LINE: field.path: what is wrong`, YAML syntax errors
included, so a facilitator can fix a whole file in one pass. What is wrong is said in the
reader's language, in words an administrator can act on: a problem carries a catalogue
text and its values rather than a parser's English, and lists count from 1 as people do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from handlers.core.i18n import N_, Translator, translator

Loc = tuple[str | int, ...]
Model = TypeVar("Model", bound=BaseModel)

WHOLE_FILE, SYNTAX = N_("(file)"), N_("(YAML)")


class Mistake(ValueError):
    """What a validator finds wrong: a catalogue text (English, translated when shown) with
    its values, and `at`, where below the value being checked it is (a theme's start)."""

    def __init__(self, text: str, *, at: Loc = (), **values: Any) -> None:
        super().__init__(text.format(**values))
        self.text, self.at, self.values = text, at, values


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    path: str
    text: str  # a catalogue text, with {placeholders} for `values`
    values: Mapping[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return self.text.format(**self.values)

    def render(self, t: Translator) -> str:
        path = t(self.path) if self.path in (WHOLE_FILE, SYNTAX) else self.path
        return f"{self.file}:{self.line}: {path}: {t(self.text, **self.values)}"

    def __str__(self) -> str:
        return self.render(translator("en"))


class FileProblems(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems

    def render(self, t: Translator) -> list[str]:
        return [problem.render(t) for problem in self.problems]


# Pydantic's kinds of error, in words for someone editing the file by hand.
_KINDS: dict[str, str] = {
    "missing": N_("this field is required"),
    "extra_forbidden": N_("unknown field (check the spelling)"),
    "string_type": N_("expected a text"),
    "int_type": N_("expected a whole number"),
    "int_parsing": N_("expected a whole number"),
    "int_from_float": N_("expected a whole number"),
    "float_type": N_("expected a number"),
    "float_parsing": N_("expected a number"),
    "bool_type": N_("expected true or false"),
    "bool_parsing": N_("expected true or false"),
    "datetime_type": N_("expected a date and time, like 2027-02-02 09:00"),
    "datetime_parsing": N_("expected a date and time, like 2027-02-02 09:00"),
    "datetime_from_date_parsing": N_("expected a date and time, like 2027-02-02 09:00"),
    "date_type": N_("expected a date, like 2027-02-02"),
    "date_parsing": N_("expected a date, like 2027-02-02"),
    "date_from_datetime_parsing": N_("expected a date, like 2027-02-02"),
    "list_type": N_("expected a list (lines that start with “- ”)"),
    "dict_type": N_("expected fields (lines of “name: value”)"),
    "model_type": N_("expected fields (lines of “name: value”)"),
    "model_attributes_type": N_("expected fields (lines of “name: value”)"),
    "greater_than": N_("must be more than {gt}"),
    "greater_than_equal": N_("must be at least {ge}"),
    "less_than": N_("must be less than {lt}"),
    "less_than_equal": N_("must be at most {le}"),
    "too_short": N_("needs at least {min_length}"),
    "too_long": N_("may have at most {max_length}"),
    "string_too_short": N_("needs at least {min_length} characters"),
    "string_too_long": N_("may have at most {max_length} characters"),
    "literal_error": N_("expected one of: {expected}"),
    "enum": N_("expected one of: {expected}"),
    "url_parsing": N_("expected a web address starting with https://"),
    "url_type": N_("expected a web address starting with https://"),
}
_NOT_VALID = N_("this value is not valid here")

# PyYAML's complaints, and what to do about them.
_SYNTAX: tuple[tuple[str, str], ...] = (
    ("'\\t'", N_("a tab character: indent with spaces")),
    ("mapping values are not allowed", N_("a colon inside a text: put the text in quotes")),
    ("could not find expected ':'", N_("a line without “name: value” where one was expected")),
    ("expected <block end>", N_("the indentation does not match the lines above")),
    ("did not find expected key", N_("the indentation does not match the lines above")),
    ("did not find expected '-'", N_("the indentation does not match the lines above")),
    ("end of stream", N_("a quotation mark that is never closed")),
    ("expected ',' or ']'", N_("a list in [brackets] that is never closed")),
    ("expected ',' or '}'", N_("fields in curly brackets that are never closed")),
    ("cannot start any token", N_("a text that starts with a special character: put it in quotes")),
    ("found undefined", N_("a text that starts with a special character: put it in quotes")),
    ("a key must be a plain value", N_("a key must be a plain word, not a list or fields")),
)
_SYNTAX_ELSE = N_("this line cannot be read: check its indentation, colons and quotes")


def _syntax(problem: str) -> str:
    return next((text for clue, text in _SYNTAX if clue in problem), _SYNTAX_ELSE)


@dataclass(frozen=True)
class Located:
    """Plain data read from a file, and the line where each path of it begins."""

    filename: str
    data: Any
    lines: dict[Loc, int]

    def line_of(self, loc: Loc) -> int:
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return 1

    def problem(self, loc: Loc, text: str, **values: Any) -> Problem:
        return Problem(self.filename, self.line_of(loc), format_path(loc, self.data), text, values)

    def validate(self, model: type[Model]) -> Model:
        try:
            return model.model_validate(self.data)
        except ValidationError as error:
            raise FileProblems([self._problem(detail) for detail in error.errors()]) from None

    def _problem(self, detail: Any) -> Problem:
        loc: Loc = tuple(p for p in detail["loc"] if isinstance(p, int | str))
        context = detail.get("ctx") or {}
        if isinstance(mistake := context.get("error"), Mistake):
            return self.problem((*loc, *mistake.at), mistake.text, **mistake.values)
        text = _KINDS.get(detail["type"], _NOT_VALID)
        values = {k: v for k, v in context.items() if f"{{{k}}}" in text}
        return self.problem(loc, text, **values)


class _DuplicateKey(Exception):
    def __init__(self, path: Loc, line: int, key: str) -> None:
        self.path, self.line, self.key = path, line, key


def _plain(node: yaml.Node, loader: yaml.SafeLoader, path: Loc, lines: dict[Loc, int]) -> Any:
    """Build plain data from a YAML node tree, remembering the line of every path."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:  # `? [a, b]`: a list or a mapping as a key
                raise yaml.constructor.ConstructorError(
                    None, None, "a key must be a plain value", key_node.start_mark
                ) from None
            if key in result:
                raise _DuplicateKey(path, key_node.start_mark.line + 1, str(key))
            child = (*path, key)
            lines[child] = key_node.start_mark.line + 1
            result[key] = _plain(value_node, loader, child, lines)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item, loader, (*path, i), lines) for i, item in enumerate(node.value)]
    try:
        return loader.construct_object(node, deep=True)
    except ValueError as error:  # a date that does not exist, `!!int ten`
        raise yaml.constructor.ConstructorError(None, None, str(error), node.start_mark) from None


def format_path(loc: Loc, data: Any = None) -> str:
    """`themes[1].quiz`: the first theme's quiz. Items of a list are counted from 1, as
    people count; a key of a mapping is shown as the file has it (`themes[9]` in a
    calendar is theme 9), which is why the data read is walked alongside."""
    text, node = "", data
    for part in loc:
        in_list = isinstance(node, list) and isinstance(part, int)
        if isinstance(part, int):
            text += f"[{part + 1 if in_list or node is None else part}]"
        else:
            text += f".{part}" if text else part
        if in_list:
            node = node[part] if 0 <= int(part) < len(node) else None
        else:
            node = node.get(part) if isinstance(node, dict) else None
    return text or WHOLE_FILE


def parse_mapping(source: str, filename: str, expected: str) -> Located:
    """The file's top-level mapping; `expected` says what it should hold, for the error."""
    lines: dict[Loc, int] = {}
    try:
        data = _load(source, lines)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        problem = " ".join(p for p in (error.context, error.problem) if p)
        raise FileProblems([Problem(filename, line, SYNTAX, _syntax(problem))]) from None
    except yaml.YAMLError as error:  # not marked: a control character (a ReaderError)
        line = source.count("\n", 0, getattr(error, "position", 0)) + 1
        control = N_("a control character, which text may not contain")
        raise FileProblems([Problem(filename, line, SYNTAX, control)]) from None
    except RecursionError:
        deep = N_("nested too deep")
        raise FileProblems([Problem(filename, 1, SYNTAX, deep)]) from None
    except _DuplicateKey as duplicate:
        path = format_path((*duplicate.path, duplicate.key))
        twice = Problem(filename, duplicate.line, path, N_("this name appears twice"))
        raise FileProblems([twice]) from None
    if not isinstance(data, dict):
        text = N_("expected fields: {expected}")
        raise FileProblems([Problem(filename, 1, WHOLE_FILE, text, {"expected": expected})])
    return Located(filename, data, lines)


def _load(source: str, lines: dict[Loc, int]) -> Any:
    loader = yaml.SafeLoader(source)
    try:
        node = loader.get_single_node()
        return _plain(node, loader, (), lines) if node is not None else None
    finally:
        loader.dispose()


def read_source(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        text = N_("not UTF-8 text: save the file as UTF-8")
        raise FileProblems([Problem(str(path), 1, WHOLE_FILE, text)]) from None
    except FileNotFoundError:
        raise FileProblems([Problem(str(path), 1, WHOLE_FILE, N_("no such file"))]) from None
    except IsADirectoryError:
        text = N_("a folder, not a file")
        raise FileProblems([Problem(str(path), 1, WHOLE_FILE, text)]) from None
    except PermissionError:
        text = N_("no permission to read the file")
        raise FileProblems([Problem(str(path), 1, WHOLE_FILE, text)]) from None
    except OSError:
        text = N_("the file cannot be read")
        raise FileProblems([Problem(str(path), 1, WHOLE_FILE, text)]) from None
