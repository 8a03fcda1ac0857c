"""A cohort's reflection bank as CSV or JSON, written row by row as it is read."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any, Literal, TextIO

from handlers.context import Args, Context, Refusal
from handlers.vocabulary import FileMessage, Outgoing, ToActor
from storage.reflections import ReflectionView

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


def record(view: ReflectionView) -> dict[str, Any]:
    r = view.reflection
    return {
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


async def write(views: AsyncIterator[ReflectionView], out: TextIO, fmt: Format) -> int:
    """Write every reflection; nothing at all until the first one is read, so a failure
    before it (an unknown cohort) leaves no half-written file behind."""
    writer = csv.writer(out) if fmt == "csv" else None
    rows = 0

    def start() -> None:
        if writer:
            writer.writerow(FIELDS)
        else:
            out.write("[")

    async for view in views:
        if rows == 0:
            start()
        row = record(view)
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
    """export [csv|json]: the cohort's reflection bank as a file, sent privately."""
    context.require_facilitator()
    cohort = context.require_cohort()
    fmt = (args.words[0] if args.words else "csv").lower()
    if fmt not in FORMATS:
        raise Refusal(context.t("Choose a format: {choices}", choices=", ".join(FORMATS)))
    buffer = io.StringIO()
    rows = await write(context.repos.reflections.export(cohort.id), buffer, fmt)
    filename = f"digilog-{cohort.key}-reflections.{fmt}"
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
