"""What the calendar sets off: each kind of calendar entry, the steps it brings, and how long
each step stays worth sending.

A step is a channel post (a theme starts, a quiz opens, a workshop is tomorrow) or a
nudge to each participant who has not done something yet. A step falls due at its
entry's time plus an offset; after `relevant_until` it is not sent at all, so an
outage does not end in a quiz reminder after the quiz has closed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from storage.models import CalendarEntry

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


DAY_BEFORE, EVENING_BEFORE = -timedelta(days=1), -timedelta(hours=12)
STEPS: tuple[Step, ...] = (
    Step("theme_start", "theme_start", timedelta(0), Audience.channel, relevance=CLOSING_GRACE),
    Step("digilog_open", "digilog_open", timedelta(0), Audience.channel, relevance=CLOSING_GRACE),
    Step("digilog_close", "digilog_close", timedelta(0), Audience.channel, relevance=CLOSING_GRACE),
    Step("quiz_open", "quiz_open", timedelta(0), Audience.channel, relevance=CLOSING_GRACE),
    Step("quiz_close", "quiz_close", timedelta(0), Audience.channel, relevance=CLOSING_GRACE),
    Step("workshop_tomorrow", "workshop", DAY_BEFORE, Audience.channel, relevance=EVENING_BEFORE),
    Step("workshop_soon", "workshop", -timedelta(hours=1), Audience.channel),
    Step(
        "meeting_tomorrow",
        "opening_meeting",
        DAY_BEFORE,
        Audience.channel,
        relevance=EVENING_BEFORE,
    ),
    Step(
        "meeting_tomorrow",
        "closing_meeting",
        DAY_BEFORE,
        Audience.channel,
        relevance=EVENING_BEFORE,
    ),
    Step("nudge_post", "digilog_close", -timedelta(days=2), Audience.missing, Task.post),
    Step("nudge_reply", "digilog_close", -timedelta(days=2), Audience.missing, Task.reply),
    Step("nudge_quiz", "quiz_close", -timedelta(days=1), Audience.missing, Task.quiz),
    Step("survey_open", "survey_open", timedelta(0), Audience.channel, relevance=CLOSING_GRACE),
    Step("survey_close", "survey_close", timedelta(0), Audience.channel, relevance=CLOSING_GRACE),
    Step("nudge_survey", "survey_close", -timedelta(days=1), Audience.missing, Task.survey),
    Step(
        "assessment_open",
        "assessment_open",
        timedelta(0),
        Audience.channel,
        relevance=CLOSING_GRACE,
    ),
    Step(
        "assessment_close",
        "assessment_close",
        timedelta(0),
        Audience.channel,
        relevance=CLOSING_GRACE,
    ),
)
# The calendar entry by which each task must be done.
DEADLINES = {
    Task.post: "digilog_close",
    Task.reply: "digilog_close",
    Task.quiz: "quiz_close",
    Task.survey: "survey_close",
}
NUDGE_TASKS = {step.kind: step.task for step in STEPS if step.task is not None}
AD_HOC = "nudge_adhoc"


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


def _timed(entries: list[CalendarEntry]) -> Iterator[DueStep]:
    for entry in entries:
        for step in STEPS:
            if step.entry_kind != entry.kind:
                continue
            if step.kind == "digilog_open" and _opens_with_theme(entry, entries):
                continue  # the theme's own post opens its digilog
            yield DueStep(
                step, entry, entry.starts_at + step.offset, entry.starts_at + step.relevance
            )


def _opens_with_theme(entry: CalendarEntry, entries: list[CalendarEntry]) -> bool:
    return any(
        e.kind == "theme_start"
        and e.theme_number == entry.theme_number
        and e.starts_at >= entry.starts_at
        for e in entries
    )


def deadline(entries: list[CalendarEntry], task: Task, theme: int) -> datetime | None:
    """When a theme's task closes, if the calendar says."""
    kind = DEADLINES[task]
    return next((e.starts_at for e in entries if e.kind == kind and e.theme_number == theme), None)


def due_steps(entries: list[CalendarEntry], now: datetime) -> list[DueStep]:
    """Steps whose time has come and that are still worth sending."""
    return [s for s in _timed(entries) if s.at <= now < s.relevant_until]


def future_steps(entries: list[CalendarEntry], now: datetime) -> list[DueStep]:
    """Steps still to come, soonest first: what the scheduler sets its timers for."""
    return sorted((s for s in _timed(entries) if s.at > now), key=lambda s: s.at)


def step_of(entries: list[CalendarEntry], kind: str, entry_key: str) -> DueStep | None:
    """The step as the calendar has it now: a moved entry moves its relevance too."""
    for due in _timed(entries):
        if due.step.kind == kind and due.entry.key == entry_key:
            return due
    return None
