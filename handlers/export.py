"""A cohort's reflection bank as CSV or JSON, written row by row as it is read."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal, TextIO

from handlers.core import csv_cells
from handlers.core.access import Access
from handlers.core.context import Args, Context, Refusal
from handlers.core.formats import list_text
from handlers.core.i18n import N_, Translator
from handlers.core.registry import Command, Feature
from handlers.core.vocabulary import FileMessage, Outgoing, ToActor
from storage.models import Person
from storage.reflections import ReflectionView, Viewer

Format = Literal["csv", "json"]
FORMATS: tuple[Format, ...] = ("csv", "json")
FIELDS = (
    "id",
    "created_at",
    "updated_at",
    "author",
    "author_user_id",
    "organisation",
    "theme",
    "source",
    "visibility",
    "reply_to_id",
    "replied_to",
    "body",
)


@dataclass(frozen=True)
class Pseudonyms:
    """For evaluating a programme: people become stable random ids, text may be left out.

    The ids are a keyed hash of the person under the cohort's own secret, so the same
    person has the same id in every export of that cohort and nobody can reverse it.
    """

    salt: str
    text: bool = True

    def of(self, person: Person | None) -> str | None:
        if person is None:
            return None
        digest = hmac.new(self.salt.encode(), str(person.id).encode(), hashlib.sha256)
        return "p-" + digest.hexdigest()[:12]


def new_salt() -> str:
    return secrets.token_hex(32)


def record(view: ReflectionView, pseudonyms: Pseudonyms | None = None) -> dict[str, Any]:
    r = view.reflection
    row = {
        "id": r.id,
        "created_at": r.created_at.isoformat(),
        "updated_at": r.updated_at.isoformat(),
        "author": view.author.display_name,
        "author_user_id": view.author.user_id,
        "organisation": view.organisation.key,
        "theme": r.theme_number,
        "source": r.source.value,
        "visibility": r.visibility.value,
        "reply_to_id": r.reply_to_id,
        "replied_to": view.replied_to.display_name if view.replied_to else None,
        "body": r.body,
    }
    if pseudonyms is not None:
        row["author"] = pseudonyms.of(view.author)
        row["author_user_id"] = None
        row["replied_to"] = pseudonyms.of(view.replied_to)
        row["body"] = r.body if pseudonyms.text else None
    return row


async def write(
    views: AsyncIterator[ReflectionView],
    out: TextIO,
    fmt: Format,
    t: Translator,
    pseudonyms: Pseudonyms | None = None,
    *,
    excel: bool = False,
) -> int:
    """Write every reflection; nothing at all until the first one is read, so a failure
    before it (an unknown cohort) leaves no half-written file behind."""
    # A CSV opens in Excel in the reader's language; the JSON keeps its keys for programs.
    # `excel`: Swedish Excel's `;` and decimal comma whatever the language (csv_cells).
    writer = csv_cells.writer(out, t.language, excel=excel) if fmt == "csv" else None
    rows = 0

    def start() -> None:
        if writer:
            writer.writerow(csv_cells.header(t, FIELDS))
        else:
            out.write("[")

    async for view in views:
        if rows == 0:
            start()
        row = record(view, pseudonyms)
        if writer:
            writer.writerow(["" if row[k] is None else row[k] for k in FIELDS])
        else:
            out.write(("," if rows else "") + "\n" + json.dumps(row, ensure_ascii=False))
        rows += 1
    if rows == 0:
        start()
    if not writer:
        out.write("\n]\n" if rows else "]\n")
    return rows


async def export(context: Context, args: Args) -> list[Outgoing]:
    """export [csv|json] [--pseudonymised [--no-text]]: the reflection bank as a file."""
    context.require_facilitator()
    cohort = context.require_cohort()
    fmt = (args.words[0] if args.words else "csv").lower()
    if fmt not in FORMATS:
        raise Refusal(
            context.t(
                "Choose a format: {choices}",
                choices=list_text(FORMATS, context.language, either=True),
            )
        )
    pseudonyms = None
    if "pseudonymised" in args.flags:
        if cohort.pseudonym_salt is None:
            cohort.pseudonym_salt = new_salt()
        pseudonyms = Pseudonyms(cohort.pseudonym_salt, text="no-text" not in args.flags)
    buffer = io.StringIO()
    # What the facilitator may read: never someone's private reflection.
    viewer = Viewer(cohort.id, context.require_member().person.id, is_facilitator=True)
    views = context.repos.reflections.export(cohort.id, viewer)
    rows = await write(views, buffer, fmt, context.t, pseudonyms)
    await context.repos.audit.record(
        "export_bank",
        cohort_id=cohort.id,
        actor_person_id=viewer.person_id,
        detail={"format": fmt, "rows": rows, "pseudonymised": pseudonyms is not None},
    )
    kind = "pseudonymised" if pseudonyms else "reflections"
    filename = f"digilog-{cohort.key}-{kind}.{fmt}"
    return [
        Outgoing(
            ToActor(),
            FileMessage(
                filename=filename,
                content=buffer.getvalue().encode("utf-8"),
                title=context.t("Reflection bank of {cohort}", cohort=cohort.title),
                comment=context.t.plural(
                    "{n} reflection, exported for you.", "{n} reflections, exported for you.", rows
                ),
            ),
        )
    ]


FEATURE = Feature(
    "export",
    N_("Export"),
    commands=(
        Command(
            ("export",),
            N_("export [csv|json] [--pseudonymised [--no-text]]"),
            N_(
                "The cohort's reflection bank as a file, sent to you; pseudonymised for "
                "evaluating the programme, with or without the texts."
            ),
            Access.facilitator,
            export,
            flags=("pseudonymised", "no-text"),
            sv=("exportera",),
        ),
    ),
)
