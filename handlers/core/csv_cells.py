"""Every CSV Digilog writes goes through here, so that no cell is a formula, and so that
the file opens as it should in the reader's spreadsheet.

Excel reads a CSV in the computer's own way: without a UTF-8 byte-order mark it takes
å, ä and ö for Windows-1252; on a Swedish computer it splits at `;` (the comma is the
decimal sign there) and reads "3,5" as a number, "3.5" as text. So every file starts with
the mark, and a Swedish reader's file uses `;` and decimal commas. Column names are said in
the reader's language, the same name for the same column in every file.

A spreadsheet runs a cell that begins with `=`, `+`, `-` or `@` (and some a tab or a
carriage return) as a formula: a display name `=HYPERLINK(…)` in an export would link
or run whatever its author chose when a facilitator opens the file. OWASP's rule: such
a cell gets a leading apostrophe, which spreadsheets show as text. A plain number
("-0.125", "+3") is a number, not a formula, and stays as it is.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from handlers.core.i18n import N_, Translator

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")
BOM = "\ufeff"


@dataclass(frozen=True)
class Sheet:
    """How the reader's spreadsheet splits cells and writes decimals."""

    delimiter: str
    decimal: str


SHEETS = {"sv": Sheet(";", ","), "en": Sheet(",", ".")}


def sheet_for(language: str, *, excel: bool = False) -> Sheet:
    """The reader's language decides; `excel` asks for the Swedish Excel way in any."""
    return SHEETS["sv"] if excel else SHEETS.get(language, SHEETS["en"])


# One name per column, whichever file it is in.
COLUMNS = {
    "id": N_("ID"),
    "address": N_("Address"),
    "answered_at": N_("Answered"),
    "area": N_("Area"),
    "attended_at": N_("Attended"),
    "author": N_("Author"),
    "author_user_id": N_("Author's user ID"),
    "body": N_("Text"),
    "bot_id": N_("Bot ID"),
    "buddy_opt_out": N_("No learning buddy"),
    "by_self": N_("Marked by themselves"),
    "change": N_("Change"),
    "cohort": N_("Cohort"),
    "cohort_title": N_("Cohort name"),
    "conversation_id": N_("Conversation ID"),
    "correct": N_("Correct"),
    "created_at": N_("Created"),
    "direction": N_("Direction"),
    "display_name": N_("Name"),
    "due_at": N_("Due"),
    "email": N_("Email"),
    "end": N_("End"),
    "entry_key": N_("Calendar entry"),
    "gathering": N_("Gathering"),
    "group": N_("Group"),
    "group_id": N_("Group ID"),
    "hours": N_("Hours"),
    "joined_at": N_("Joined"),
    "kind": N_("Kind"),
    "language": N_("Language"),
    "marked_at": N_("Marked"),
    "mean_rating": N_("Mean rating"),
    "met_at": N_("Met"),
    "muted_nudges": N_("Muted reminders"),
    "nudges_paused_at": N_("Reminders paused"),
    "nudges_snoozed_until": N_("Reminders snoozed until"),
    "option_index": N_("Option"),
    "organisation": N_("Organisation"),
    "participants": N_("Participants"),
    "people": N_("People"),
    "pinned": N_("Pinned"),
    "platform": N_("Platform"),
    "posted": N_("Posted"),
    "posts": N_("Posts"),
    "present": N_("Present"),
    "question": N_("Question"),
    "question_id": N_("Question"),
    "question_index": N_("Question number"),
    "quiz_done": N_("Quiz done"),
    "quiz_mean_score": N_("Quiz mean score"),
    "rating": N_("Rating"),
    "replied_to": N_("Reply to"),
    "replies": N_("Replies"),
    "replies_across": N_("Replies across organisations"),
    "reply_id": N_("Reply ID"),
    "reply_to_id": N_("Reply to ID"),
    "respondents": N_("Respondents"),
    "role": N_("Role"),
    "sent_at": N_("Sent"),
    "session_key": N_("Lab session"),
    "source": N_("Source"),
    "start": N_("Start"),
    "started_at": N_("Started"),
    "state": N_("State"),
    "survey_key": N_("Survey"),
    "text": N_("Text"),
    "theme": N_("Theme"),
    "theme_number": N_("Theme"),
    "timezone": N_("Time zone"),
    "unreachable_since": N_("Unreachable since"),
    "updated_at": N_("Updated"),
    "user_id": N_("User ID"),
    "visibility": N_("Visible to"),
    "workspace": N_("Workspace"),
    "working_hours": N_("Working hours"),
    "your_reflection_id": N_("Your reflection's ID"),
}


def header(t: Translator, names: Sequence[str]) -> list[str]:
    """The columns' names in the reader's language; a name not listed stays as it is."""
    return [t(COLUMNS[name]) if name in COLUMNS else name for name in names]


def neutralised(value: Any) -> Any:
    formula = isinstance(value, str) and value.startswith(FORMULA_STARTS)
    return "'" + value if formula and not PLAIN_NUMBER.fullmatch(value) else value


class SafeWriter:
    """csv.writer's writerow, each cell neutralised, decimals in the sheet's way."""

    def __init__(self, out: TextIO, sheet: Sheet) -> None:
        self._writer = csv.writer(out, delimiter=sheet.delimiter)
        self._decimal = sheet.decimal

    def _cell(self, value: Any) -> Any:
        if isinstance(value, float):
            return str(value).replace(".", self._decimal)
        return neutralised(value)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([self._cell(cell) for cell in row])


def writer(out: TextIO, language: str, *, excel: bool = False) -> SafeWriter:
    """A writer for a file that starts here: the byte-order mark first."""
    out.write(BOM)
    return SafeWriter(out, sheet_for(language, excel=excel))


def table(
    t: Translator, columns: Sequence[str], rows: Iterable[Iterable[Any]], *, excel: bool = False
) -> str:
    """A whole CSV file as text: the mark, the named columns, the rows."""
    out = io.StringIO()
    write = writer(out, t.language, excel=excel)
    write.writerow(header(t, columns))
    for row in rows:
        write.writerow(row)
    return out.getvalue()
