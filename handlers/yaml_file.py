"""YAML files that people write by hand, checked so that every problem names its line.

Problems come out as `FILE:LINE: field.path: what is wrong`, YAML syntax errors
included, so a facilitator can fix a whole file in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Loc = tuple[str | int, ...]
Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.path}: {self.message}"


class FileProblems(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


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

    def problem(self, loc: Loc, message: str) -> Problem:
        return Problem(self.filename, self.line_of(loc), format_path(loc), message)

    def validate(self, model: type[Model]) -> Model:
        try:
            return model.model_validate(self.data)
        except ValidationError as error:
            raise FileProblems([self._problem(detail) for detail in error.errors()]) from None

    def _problem(self, detail: Any) -> Problem:
        loc: Loc = tuple(p for p in detail["loc"] if isinstance(p, int | str))
        message = str(detail["msg"]).removeprefix("Value error, ")
        if detail["type"] == "extra_forbidden":
            message = "unknown field (check the spelling)"
        elif detail["type"] == "missing":
            message = "this field is required"
        return self.problem(loc, message)


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


def format_path(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(file)"


def parse_mapping(source: str, filename: str, expected: str) -> Located:
    """The file's top-level mapping; `expected` says what it should hold, for the error."""
    lines: dict[Loc, int] = {}
    try:
        data = _load(source, lines)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        problem = " ".join(p for p in (error.context, error.problem) if p) or "invalid YAML"
        raise FileProblems([Problem(filename, line, "(yaml)", problem)]) from None
    except yaml.YAMLError as error:  # not marked: a control character (a ReaderError)
        line = source.count("\n", 0, getattr(error, "position", 0)) + 1
        raise FileProblems([Problem(filename, line, "(yaml)", str(error).split("\n")[0])]) from None
    except RecursionError:
        raise FileProblems([Problem(filename, 1, "(yaml)", "nested too deep")]) from None
    except _DuplicateKey as duplicate:
        path = format_path((*duplicate.path, duplicate.key))
        twice = Problem(filename, duplicate.line, path, "this key appears twice")
        raise FileProblems([twice]) from None
    if not isinstance(data, dict):
        raise FileProblems([Problem(filename, 1, "(file)", f"expected a mapping with {expected}")])
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
    except UnicodeDecodeError as error:
        raise FileProblems(
            [Problem(str(path), 1, "(file)", f"not UTF-8 text ({error.reason})")]
        ) from None
    except OSError as error:
        raise FileProblems(
            [Problem(str(path), 1, "(file)", error.strerror or str(error))]
        ) from None
