"""When a nudge may reach a person: their working hours, never a Swedish public holiday,
and at most a few a week."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    import holidays

WEEKLY_CAP = 3
CAP_WINDOW = timedelta(days=7)
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # as stored
SWEDISH_DAY_NAMES = ("mån", "tis", "ons", "tor", "fre", "lör", "sön")
_DAY = "|".join((*DAY_NAMES, *SWEDISH_DAY_NAMES))
_DAYS = re.compile(rf"^(?:({_DAY})(?:-({_DAY}))?)(?:,(?:({_DAY})(?:-({_DAY}))?))*$")
_TIMES = re.compile(r"^(\d{1,2})(?::(\d\d))?-(\d{1,2})(?::(\d\d))?$")


@dataclass(frozen=True)
class WorkingHours:
    """Weekdays (1 = Monday) and the local times between which nudges may arrive."""

    days: frozenset[int]
    start: time
    end: time  # 00:00 here means midnight at the end of the day

    def closes_on(self, day: date, zone: ZoneInfo) -> datetime:
        if self.end == time(0):
            return datetime.combine(day + timedelta(days=1), time(0), zone)
        return datetime.combine(day, self.end, zone)

    @classmethod
    def parse(cls, text: str) -> WorkingHours:
        """`08-17`, `8:30-16`, `mon-thu 08-17` or `mon,wed,fri 9-15` (or `mån-tor 08-17`,
        with – for - as a Swede may write it); ValueError if not."""
        words = text.lower().replace("–", "-").split()
        if not 1 <= len(words) <= 2:
            raise ValueError(text)
        days = frozenset(range(1, 6))
        if len(words) == 2:
            days = _parse_days(words[0])
        match = _TIMES.match(words[-1])
        if match is None:
            raise ValueError(text)
        h1, m1, h2, m2 = (int(g) if g else 0 for g in match.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise ValueError(text)
        start, end = time(h1, m1), time(h2 % 24, m2)
        if h2 != 24 and end <= start:
            raise ValueError(text)
        return cls(days, start, end)

    @classmethod
    def stored(cls, value: str | None) -> WorkingHours:
        if value:
            try:
                return cls.parse(value)
            except ValueError:
                pass  # a value from an older format: the default is the safe reading
        return DEFAULT_HOURS

    def format(self) -> str:
        """As stored: `mon-fri 08:00-17:00`."""
        end = "24:00" if self.end == time(0) else f"{self.end:%H:%M}"
        return f"{_format_days(self.days, DAY_NAMES, '-')} {self.start:%H:%M}-{end}"

    def display(self, language: str) -> str:
        """As a reader writes it: `mån–fre 08–17` in Swedish, `Mon–Fri 08–17` in English
        (both read back by `parse`); minutes only where there are some, `08:30–16`."""
        names = SWEDISH_DAY_NAMES if language == "sv" else tuple(n.title() for n in DAY_NAMES)
        end = "24" if self.end == time(0) else _hour(self.end)
        return f"{_format_days(self.days, names, '–')} {_hour(self.start)}–{end}"


def _hour(at: time) -> str:
    return f"{at:%H}" if not at.minute else f"{at:%H:%M}"


def _parse_days(text: str) -> frozenset[int]:
    if not _DAYS.match(text):
        raise ValueError(text)
    days: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        a = _day_number(first)
        b = _day_number(last) if last else a
        if b < a:
            raise ValueError(text)
        days.update(range(a, b + 1))
    return frozenset(days)


def _day_number(name: str) -> int:
    """1 for Monday, whether written mon or mån."""
    names = SWEDISH_DAY_NAMES if name in SWEDISH_DAY_NAMES else DAY_NAMES
    return names.index(name) + 1


def _format_days(days: frozenset[int], names: tuple[str, ...], dash: str) -> str:
    ordered = sorted(days)
    runs: list[list[int]] = []
    for day in ordered:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ",".join(
        names[r[0] - 1] + (f"{dash}{names[r[-1] - 1]}" if len(r) > 1 else "") for r in runs
    )


DEFAULT_HOURS = WorkingHours(frozenset(range(1, 6)), time(8), time(17))


@cache
def _swedish_holidays(year: int) -> holidays.HolidayBase:
    # Imported here, at the first nudge or date that needs it: some 3.5 MB that an idle
    # server does not carry.
    import holidays

    return holidays.country_holidays("SE", years=year)


def holiday_name(day: date) -> str | None:
    """The Swedish public holiday on that day, if it is one."""
    name = _swedish_holidays(day.year).get(day)
    return str(name) if name else None


def next_humane_time(at: datetime, zone: ZoneInfo, hours: WorkingHours) -> datetime:
    """`at` if a nudge may arrive then, else the next moment one may (in UTC)."""
    local = at.astimezone(zone)
    for offset in range(60):  # two months is more than any run of holidays and weekends
        day = local.date() + timedelta(days=offset)
        if day.isoweekday() not in hours.days or holiday_name(day):
            continue
        opens = datetime.combine(day, hours.start, zone)
        closes = hours.closes_on(day, zone)
        if offset == 0 and local >= closes:
            continue
        return max(opens, local).astimezone(UTC)
    raise ValueError(f"no working time within two months of {at}")


def next_working_day(day: date, hours: WorkingHours) -> date:
    """The first of the person's working days after `day` that is no public holiday."""
    for offset in range(1, 61):
        candidate = day + timedelta(days=offset)
        if candidate.isoweekday() in hours.days and not holiday_name(candidate):
            return candidate
    raise ValueError(f"no working day within two months of {day}")


def working_moment_before(at: datetime, zone: ZoneInfo, hours: WorkingHours) -> datetime:
    """`at` if it falls in working time; else the same time of day (kept within working
    hours) on the working day before: a reminder may come early, never after the fact."""
    local = at.astimezone(zone)
    for offset in range(60):
        day = local.date() - timedelta(days=offset)
        if day.isoweekday() not in hours.days or holiday_name(day):
            continue
        opens, closes = datetime.combine(day, hours.start, zone), hours.closes_on(day, zone)
        if offset == 0 and local < opens:
            continue  # before the day's work begins: the day before
        moment = datetime.combine(day, local.time(), zone)
        # The last hour of the working day, if the time of day falls after it ends.
        latest = max(opens, closes - timedelta(hours=1))
        return min(max(moment, opens), latest).astimezone(UTC)
    raise ValueError(f"no working time within two months before {at}")


def cap_frees_at(sent: list[datetime], now: datetime) -> datetime | None:
    """None while the weekly cap allows a nudge now; else when it will again."""
    recent = sorted(when for when in sent if when > now - CAP_WINDOW)
    if len(recent) < WEEKLY_CAP:
        return None
    return recent[-WEEKLY_CAP] + CAP_WINDOW
