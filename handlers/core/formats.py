"""How times, places, numbers and lists read in a message: one place, so that every text
says them alike, and as a reader of that language writes them (Babel, CLDR's data).

A Swede reads "sön 24 jan. 09:30–11:30", "25 %", "3,5" and "Anna, Björn och Cilla";
an English reader "Sun 24 Jan 09:30–11:30", "25%", "3.5" and "Anna, Björn and Cilla".
Files a program reads (exports' cells, stored keys, commands to type back) keep ISO dates.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton, format_time
from babel.lists import format_list
from babel.numbers import format_decimal, format_percent

from handlers.core.i18n import Translator
from handlers.core.programme_file import localise
from handlers.core.vocabulary import Span

# British English for English readers: a 24-hour clock and the day before the month, as
# in the Swedish municipalities that are Digilog's readers.
_LOCALES = {"sv": "sv_SE", "en": "en_GB"}


def locale_of(language: str) -> str:
    return _LOCALES.get(language, _LOCALES["en"])


def day_text(day: date | datetime, language: str, *, year: bool = False) -> str:
    """`sön 24 jan.` / `Sun 24 Jan`; with the year, `sön 24 jan. 2027`."""
    return format_skeleton("yMMMEd" if year else "MMMEd", day, locale=locale_of(language))


def clock_text(moment: datetime, language: str) -> str:
    return format_time(moment, "HH:mm", locale=locale_of(language))


def when_text(
    start: datetime, end: datetime | None, zone: ZoneInfo, language: str, *, year: bool = False
) -> str:
    """`sön 24 jan. 09:30–11:30` in the reader's zone; the end's day too if it is another."""
    begins = start.astimezone(zone)
    when = f"{day_text(begins, language, year=year)} {clock_text(begins, language)}"
    if end is not None:
        ends = end.astimezone(zone)
        if ends.date() != begins.date():
            when += f" – {day_text(ends, language, year=year)} {clock_text(ends, language)}"
        else:
            when += "–" + clock_text(ends, language)
    return when


def percent_text(part: float, whole: float, language: str) -> str:
    """`25 %` / `25%`, whole percents; a dash when there is nothing to count."""
    if not whole:
        return "–"
    return share_text(round(part / whole, 2), language)


def share_text(fraction: float, language: str) -> str:
    """A fraction already worked out (0.25) as a percent in the reader's way."""
    return format_percent(fraction, locale=locale_of(language))


def number_text(value: float, language: str, *, decimals: int = 1) -> str:
    """`3,5` / `3.5`, always with that many decimals."""
    pattern = "0." + "0" * decimals if decimals else "0"
    return format_decimal(value, pattern, locale=locale_of(language))


def hours_number(value: float, language: str) -> str:
    """`1,5` / `1.5`, and whole hours without decimals: `2`."""
    return format_decimal(round(value, 2), "0.##", locale=locale_of(language))


def signed_text(value: float, language: str, *, decimals: int = 1) -> str:
    """`+0,4` / `-0,4`: a change, always with its sign."""
    digits = "0." + "0" * decimals if decimals else "0"
    return format_decimal(value, f"+{digits};-{digits}", locale=locale_of(language))


def list_text(items: Iterable[str], language: str, *, either: bool = False) -> str:
    """`a, b och c` / `a, b and c`; with `either`, `a, b eller c` / `a, b or c`."""
    found = [str(item) for item in items]
    if not found:
        return ""
    return format_list(found, style="or" if either else "standard", locale=locale_of(language))


def where_spans(t: Translator, place: dict[str, str] | None, link: str | None) -> list[Span]:
    """Where something happens: the place, the link, or both."""
    spans = [Span(localise(place, t.language))] if place else []
    if link:
        spans += [Span(" · ")] if spans else []
        spans.append(Span(t("link"), link=link))
    return spans
