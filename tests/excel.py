"""A CSV file opened as Excel opens it, on a Swedish or an English computer.

Excel takes the file's encoding from a UTF-8 byte-order mark (without one, Windows-1252:
"Ã¥" for "å"); it splits cells at the computer's list separator (`;` in Sweden, where the
comma is the decimal sign, `,` in English) and reads a decimal written the computer's way
as a number. A file that fails here opens garbled, or in one column.
"""

from __future__ import annotations

import csv
import io
import re

SEPARATOR = {"sv": ";", "en": ","}
DECIMAL = {"sv": re.compile(r"-?\d+(,\d+)?"), "en": re.compile(r"-?\d+(\.\d+)?")}


def open_as_excel(content: str | bytes, language: str) -> list[list[str]]:
    raw = content.encode("utf-8") if isinstance(content, str) else content
    assert raw.startswith(b"\xef\xbb\xbf"), "no byte-order mark: Excel reads the file as cp1252"
    text = raw.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=SEPARATOR[language]))
    assert rows, "an empty file"
    width = len(rows[0])
    assert all(len(row) == width for row in rows), "rows of different widths"
    return rows


def records_as_excel(content: str | bytes, language: str) -> list[dict[str, str]]:
    """Each row by its column names, as the reader sees them in the first row."""
    head, *rows = open_as_excel(content, language)
    return [dict(zip(head, row, strict=True)) for row in rows]


def is_number(cell: str, language: str) -> bool:
    """Whether Excel on that computer reads the cell as a number (not as text)."""
    return bool(DECIMAL[language].fullmatch(cell))
