"""What the calendar sets off: each kind of calendar entry, the steps it brings, and how long
each step stays worth sending. Each feature declares its own steps (handlers/core/registry.py).

A step is a channel post (a theme starts, a quiz opens, a workshop is tomorrow) or a
nudge to each participant who has not done something yet. A step falls due at its
entry's time plus an offset; after `relevant_until` it is not sent at all, so an
outage does not end in a quiz reminder after the quiz has closed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from handlers.core.humane import DEFAULT_HOURS, working_moment_before
from storage.models import CalendarEntry

# The workplace whose calendar channel posts keep: a Swedish one (its public holidays are
# Sweden's, as for nudges).
WORKPLACE_ZONE = ZoneInfo("Europe/Stockholm")

# A state change (a digilog or quiz closing) is still worth doing this long after an outage.
CLOSING_GRACE = timedelta(days=7)


class Audience(StrEnum):
    channel = "channel"  # one post in the cohort's channel
    missing = "missing"  # one direct message to each participant who has not done `task`


class Task(StrEnum):
    """What a nudge asks for; `progress.py` knows how to tell whether it is done."""

    post = "post"  # post in the theme's digilog
    reply = "reply"  # reply to someone else in it
    quiz = "quiz"  # answer every question of the theme's quiz
    survey = "survey"  # answer the survey after the theme


@dataclass(frozen=True)
class Step:
    kind: str  # the delivery kind, e.g. "nudge_quiz"
    entry_kind: str  # the calendar entry that sets it off
    offset: timedelta  # from the entry's time
    audience: Audience
    task: Task | None = None
    # Worth sending until the entry's time plus this: a reminder that something is
    # tomorrow stops being true in the evening before it.
    relevance: timedelta = timedelta(0)
    # A post in the channel goes in a Swedish workplace's working time: on a weekend or a
    # public holiday, or outside working hours, it goes on the working day before. False
    # when its time is the point: a quiz opens or closes when the calendar says, and
    # "starts in an hour" is sent an hour before, whatever the day.
    working_time: bool = True


DAY_BEFORE, EVENING_BEFORE = -timedelta(days=1), -timedelta(hours=12)
AD_HOC = "nudge_adhoc"


def channel_step(kind: str, entry_kind: str | None = None) -> Step:
    """A post in the channel when its entry's time comes (it opens or closes something
    then), worth doing for a week after."""
    return Step(
        kind,
        entry_kind or kind,
        timedelta(0),
        Audience.channel,
        relevance=CLOSING_GRACE,
        working_time=False,
    )


def survey_key(theme: int) -> str:
    """The survey after a theme: its calendar entries and its stored answers name it so."""
    return f"theme:{theme}"


def assessment_key(round_: str) -> str:
    """A round of the self-assessment (start or end), named as the survey's key."""
    return f"assessment:{round_}"


@dataclass(frozen=True)
class DueStep:
    step: Step
    entry: CalendarEntry
    at: datetime
    relevant_until: datetime

    def key(self, cohort_id: int, person_id: int | None = None) -> str:
        """One delivery per step, calendar entry and person: the period is the entry."""
        target = f":p{person_id}" if person_id is not None else ""
        return f"{self.step.kind}:c{cohort_id}:{self.entry.key}{target}"


def _timed(steps: Sequence[Step], entries: list[CalendarEntry]) -> Iterator[DueStep]:
    for entry in entries:
        for step in steps:
            if step.entry_kind != entry.kind:
                continue
            if step.kind == "digilog_open" and _opens_with_theme(entry, entries):
                continue  # the theme's own post opens its digilog
            if step.audience is Audience.channel and entry.organisation is not None:
                continue  # an organisation's own meeting is not the whole channel's
            at = entry.starts_at + step.offset
            if step.audience is Audience.channel and step.working_time:
                at = working_moment_before(at, WORKPLACE_ZONE, DEFAULT_HOURS)
            yield DueStep(step, entry, at, entry.starts_at + step.relevance)


def _opens_with_theme(entry: CalendarEntry, entries: list[CalendarEntry]) -> bool:
    return any(
        e.kind == "theme_start"
        and e.theme_number == entry.theme_number
        and e.starts_at >= entry.starts_at
        for e in entries
    )


def deadline(kind: str, entries: list[CalendarEntry], theme: int) -> datetime | None:
    """When a theme's task closes (at its entry of `kind`), if the calendar says."""
    return next((e.starts_at for e in entries if e.kind == kind and e.theme_number == theme), None)


def due_steps(steps: Sequence[Step], entries: list[CalendarEntry], now: datetime) -> list[DueStep]:
    """Steps whose time has come and that are still worth sending."""
    return [s for s in _timed(steps, entries) if s.at <= now < s.relevant_until]


def future_steps(
    steps: Sequence[Step], entries: list[CalendarEntry], now: datetime
) -> list[DueStep]:
    """Steps still to come, soonest first: what the scheduler sets its timers for."""
    return sorted((s for s in _timed(steps, entries) if s.at > now), key=lambda s: s.at)


def step_of(
    steps: Sequence[Step], entries: list[CalendarEntry], kind: str, entry_key: str
) -> DueStep | None:
    """The step as the calendar has it now: a moved entry moves its relevance too."""
    for due in _timed(steps, entries):
        if due.step.kind == kind and due.entry.key == entry_key:
            return due
    return None
