"""How times and places read in a message: one place, so that every text says them alike."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from handlers.i18n import Translator
from handlers.programme_file import localise
from handlers.vocabulary import Span


def when_text(start: datetime, end: datetime | None, zone: ZoneInfo) -> str:
    when = start.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    if end is not None:
        when += "–" + end.astimezone(zone).strftime("%H:%M")
    return when


def where_spans(t: Translator, place: dict[str, str] | None, link: str | None) -> list[Span]:
    """Where something happens: the place, the link, or both."""
    spans = [Span(localise(place, t.language))] if place else []
    if link:
        spans += [Span(" · ")] if spans else []
        spans.append(Span(t("link"), link=link))
    return spans
