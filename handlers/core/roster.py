"""Roster CSV files as spreadsheets really write them: `,` or `;`, with or without a BOM."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from handlers.core.i18n import N_, Translator, translator
from storage.models import Role

HEADERS = {
    "name": {"name", "namn", "full name", "fullständigt namn"},
    "email": {"email", "e-mail", "e-post", "epost", "mail", "e-postadress"},
    "user_id": {
        "user",
        "user id",
        "user_id",
        "userid",
        "platform user id",
        "användar-id",
        "användarid",
        "slack id",
        "teams id",
    },
    "organisation": {"organisation", "organization", "org", "organisation id", "kommun"},
    "role": {"role", "roll"},
}
ROLES = {
    "participant": Role.participant,
    "deltagare": Role.participant,
    "": Role.participant,
    "facilitator": Role.facilitator,
    "processledare": Role.facilitator,
    "support": Role.support,
    "stödfunktion": Role.support,
    "stodfunktion": Role.support,
}
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class RosterRow:
    line: int
    name: str
    email: str | None
    user_id: str | None
    organisation: str
    role: Role


@dataclass(frozen=True)
class RosterProblem:
    line: int
    field: str  # a column's name as the file has it, or one of the labels below
    text: str  # a catalogue text, with {placeholders} for `values`
    values: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def message(self) -> str:
        return self.text.format(**self.values)

    def format(self, filename: str, t: Translator | None = None) -> str:
        t = t or translator("en")
        where = t(self.field) if self.field in _LABELS else self.field
        return f"{filename}:{self.line}: {where}: {t(self.text, **self.values)}"


_LABELS = (N_("(file)"), N_("(header)"), N_("(row)"))


def decode(data: bytes) -> str:
    """UTF-8 (BOM or not); failing that, the Windows code page Excel uses in Sweden."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def parse_roster(data: bytes) -> tuple[list[RosterRow], list[RosterProblem]]:
    text = decode(data)
    first_line = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return _parse(reader)
    except csv.Error:
        problem = N_("not a CSV file the way it should be: save it as CSV from the spreadsheet")
        return [], [RosterProblem(reader.line_num or 1, "(file)", problem)]


# Long on purpose: one check per column, each with its own message.
def _parse(reader: Any) -> tuple[list[RosterRow], list[RosterProblem]]:  # noqa: C901
    header = next(reader, None)
    if header is None:
        return [], [RosterProblem(1, "(file)", N_("the file is empty"))]
    columns: dict[str, int] = {}
    for index, title in enumerate(header):
        cleaned = title.strip().lower()
        for name, aliases in HEADERS.items():
            if cleaned in aliases:
                columns[name] = index
    problems: list[RosterProblem] = []
    if "organisation" not in columns:
        problems.append(RosterProblem(1, "(header)", N_("no organisation column")))
    if "email" not in columns and "user_id" not in columns:
        problems.append(RosterProblem(1, "(header)", N_("needs an email or a user id column")))
    if problems:
        return [], problems
    rows: list[RosterRow] = []
    seen: dict[str, int] = {}
    line = reader.line_num
    for record in reader:
        start, line = line + 1, reader.line_num
        if not any(cell.strip() for cell in record):
            continue

        def cell(name: str, record: list[str] = record) -> str:
            index = columns.get(name)
            return record[index].strip() if index is not None and index < len(record) else ""

        email, user_id, organisation = (
            cell("email") or None,
            cell("user_id") or None,
            cell("organisation"),
        )
        row_problems = []
        if not email and not user_id:
            row_problems.append(
                RosterProblem(start, "email", N_("give an email address or a user id"))
            )
        if email and not EMAIL.fullmatch(email):
            row_problems.append(
                RosterProblem(
                    start, "email", N_("“{email}” is not an email address"), {"email": email}
                )
            )
        if not organisation:
            row_problems.append(RosterProblem(start, "organisation", N_("missing")))
        role = ROLES.get(cell("role").lower())
        if role is None:
            row_problems.append(
                RosterProblem(
                    start,
                    "role",
                    N_("“{role}”: use participant, facilitator or support"),
                    {"role": cell("role")},
                )
            )
        identity = (user_id or email or "").lower()
        if identity and identity in seen:
            row_problems.append(
                RosterProblem(
                    start,
                    "(row)",
                    N_("the same person as on line {line}"),
                    {"line": seen[identity]},
                )
            )
        if row_problems or role is None:
            problems.extend(row_problems)
            continue
        seen[identity] = start
        name = cell("name") or (email.split("@")[0] if email else user_id) or ""
        rows.append(RosterRow(start, name, email, user_id, organisation, role))
    return rows, problems
