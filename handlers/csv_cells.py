"""Every CSV Digilog writes goes through here, so that no cell is a formula.

A spreadsheet runs a cell that begins with `=`, `+`, `-` or `@` (and some a tab or a
carriage return) as a formula: a display name `=HYPERLINK(…)` in an export would link
or run whatever its author chose when a facilitator opens the file. OWASP's rule: such
a cell gets a leading apostrophe, which spreadsheets show as text. A plain number
("-0.125", "+3") is a number, not a formula, and stays as it is.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any, TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")


def neutralised(value: Any) -> Any:
    formula = isinstance(value, str) and value.startswith(FORMULA_STARTS)
    return "'" + value if formula and not PLAIN_NUMBER.fullmatch(value) else value


class SafeWriter:
    """csv.writer's writerow, each cell neutralised."""

    def __init__(self, out: TextIO, **options: Any) -> None:
        self._writer = csv.writer(out, **options)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([neutralised(cell) for cell in row])


def writer(out: TextIO, **options: Any) -> SafeWriter:
    return SafeWriter(out, **options)
