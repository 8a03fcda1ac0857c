"""Dates, times, numbers and lists read as a Swede, or an English reader, writes them."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from handlers.core.formats import (
    day_text,
    hours_number,
    list_text,
    number_text,
    percent_text,
    share_text,
    signed_text,
    when_text,
)
from handlers.core.humane import WorkingHours

STOCKHOLM = ZoneInfo("Europe/Stockholm")
NBSP = "\xa0"


def test_a_time_reads_with_swedish_weekday_and_month_names() -> None:
    start = datetime(2027, 1, 24, 8, 30, tzinfo=UTC)  # 09:30 in Stockholm
    end = datetime(2027, 1, 24, 10, 30, tzinfo=UTC)
    assert when_text(start, end, STOCKHOLM, "sv") == "sön 24 jan. 09:30–11:30"
    assert when_text(start, end, STOCKHOLM, "en") == "Sun 24 Jan 09:30–11:30"
    assert when_text(start, None, STOCKHOLM, "sv", year=True) == "sön 24 jan. 2027 09:30"
    assert "Sun" not in when_text(start, None, STOCKHOLM, "sv")


def test_a_span_over_midnight_names_both_days() -> None:
    start = datetime(2027, 3, 5, 20, 0, tzinfo=STOCKHOLM)
    end = datetime(2027, 3, 6, 2, 0, tzinfo=STOCKHOLM)
    assert when_text(start, end, STOCKHOLM, "sv") == "fre 5 mars 20:00 – lör 6 mars 02:00"


def test_a_day_in_the_readers_zone() -> None:
    late = datetime(2027, 6, 30, 23, 30, tzinfo=UTC)  # already 1 July in Stockholm
    assert day_text(late.astimezone(STOCKHOLM), "sv") == "tors 1 juli"
    assert day_text(late.astimezone(STOCKHOLM), "en", year=True) == "Thu, 1 Jul 2027"


@pytest.mark.parametrize(
    ("language", "percent", "share", "number", "change", "hours"),
    [
        ("sv", f"25{NBSP}%", f"67{NBSP}%", "3,5", "-0,4", "1,5"),
        ("en", "25%", "67%", "3.5", "-0.4", "1.5"),
    ],
)
def test_numbers_in_the_readers_way(
    language: str, percent: str, share: str, number: str, change: str, hours: str
) -> None:
    assert percent_text(1, 4, language) == percent
    assert percent_text(0, 0, language) == "–"
    assert share_text(2 / 3, language) == share
    assert number_text(3.5, language) == number
    assert signed_text(-0.42, language) == change
    assert signed_text(0.4, language).startswith("+")
    assert hours_number(1.5, language) == hours
    assert hours_number(3.0, language) == "3"


def test_lists_end_with_och_or_and() -> None:
    names = ["Anna", "Björn", "Cilla"]
    assert list_text(names, "sv") == "Anna, Björn och Cilla"
    assert list_text(names, "en") == "Anna, Björn and Cilla"
    assert list_text(["csv", "json"], "sv", either=True) == "csv eller json"
    assert list_text(["csv", "json"], "en", either=True) == "csv or json"
    assert list_text([], "sv") == ""


def test_working_hours_read_as_written_and_read_back() -> None:
    hours = WorkingHours.parse("mon-fri 8-17")
    assert hours.display("sv") == "mån–fre 08–17"
    assert hours.display("en") == "Mon–Fri 08–17"
    for language in ("sv", "en"):
        assert WorkingHours.parse(hours.display(language)) == hours
    assert WorkingHours.parse("8:30-16").display("sv") == "mån–fre 08:30–16"
