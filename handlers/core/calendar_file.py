"""Cohort calendar files: when each theme starts, its workshop, digilog and quiz, and the
local meetings. Validated like programme files, and against the cohort's programme."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import Field, ValidationError, field_validator, model_validator

from handlers.core.i18n import N_
from handlers.core.programme_file import (
    LocalText,
    Programme,
    Slug,
    Strict,
    Url,
    before,
    known_zone,
)
from handlers.core.yaml_file import FileProblems, Mistake, parse_mapping, read_source
from storage.models import CalendarEntry


class Window(Strict):
    opens: datetime
    closes: datetime

    @model_validator(mode="after")
    def _in_order(self) -> Window:
        if not before(self.opens, self.closes):
            raise Mistake(N_("it closes before it opens"), at=("closes",))
        return self


class Session(Strict):
    start: datetime
    end: datetime | None = None
    place: LocalText | None = None
    link: Url | None = None

    @model_validator(mode="after")
    def _in_order(self) -> Session:
        if self.end is not None and not before(self.start, self.end):
            raise Mistake(N_("it ends before it starts"), at=("end",))
        return self


class ThemeDates(Strict):
    start: datetime
    workshop: Session | None = None
    digilog: Window | None = None
    quiz: Window | None = None
    survey: Window | None = None

    @model_validator(mode="after")
    def _after_the_start(self) -> ThemeDates:
        for name in WINDOWS:
            window: Window | None = getattr(self, name)
            if window is not None and before(window.opens, self.start):
                raise Mistake(N_("it opens before the theme starts"), at=(name, "opens"))
        return self


WINDOWS = ("digilog", "quiz", "survey")
EVENT_PREFIX = "event:"


class OrganisationMeeting(Session):
    """One organisation's own local meeting, with whoever hosts it there."""

    host: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class OrganisationMeetings(Strict):
    opening: OrganisationMeeting | None = None
    closing: OrganisationMeeting | None = None


class LocalMeetings(Strict):
    opening: Session | None = None  # needs inventory, for the whole cohort
    closing: Session | None = None  # plans for change, for the whole cohort
    # Each organisation's own opening and closing meeting, by its id in the programme.
    organisations: dict[Annotated[str, Field(max_length=40)], OrganisationMeetings] = Field(
        default_factory=dict
    )


class Registration(Strict):
    capacity: int = Field(gt=0)


class EventDates(Session):
    """A named event of the programme: a conference, the joint closing, an extra webinar."""

    key: Annotated[Slug, Field(max_length=40)]
    title: LocalText
    registration: Registration | None = None


class AssessmentDates(Strict):
    """When the self-assessment can be taken: at the start and at the end."""

    start: Window | None = None
    end: Window | None = None

    @model_validator(mode="after")
    def _start_before_end(self) -> AssessmentDates:
        if self.start and self.end and before(self.end.opens, self.start.closes):
            raise Mistake(
                N_("the self-assessment at the end opens before the one at the start closes"),
                at=("end", "opens"),
            )
        return self


class Calendar(Strict):
    timezone: str | None = None
    themes: dict[int, ThemeDates] = Field(min_length=1)
    local_meetings: LocalMeetings = Field(default_factory=LocalMeetings)
    self_assessment: AssessmentDates = Field(default_factory=AssessmentDates)
    events: list[EventDates] = Field(default_factory=list)
    # The final evaluation of the whole programme (the survey's `final:`), e.g. from the
    # joint closing on.
    final_evaluation: Window | None = None
    # How long a workshop, local meeting or event without an `end` lasts: its hours count
    # towards a participant's attendance.
    default_hours: float | None = Field(default=None, gt=0, le=24)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return None if value is None else known_zone(value)

    @model_validator(mode="after")
    def _themes_in_order(self) -> Calendar:
        # Themes build on each other: a later theme cannot start before an earlier one.
        numbers = sorted(self.themes)
        for earlier, later in itertools.pairwise(numbers):
            if before(self.themes[later].start, self.themes[earlier].start):
                raise Mistake(
                    N_("theme {later} starts before theme {earlier}"),
                    at=("themes", later, "start"),
                    later=later,
                    earlier=earlier,
                )
        return self

    @model_validator(mode="after")
    def _events_once(self) -> Calendar:
        seen: set[str] = set()
        for n, event in enumerate(self.events):
            if event.key in seen:
                raise Mistake(
                    N_("two events are called {key}"), at=("events", n, "key"), key=event.key
                )
            seen.add(event.key)
        return self


@dataclass(frozen=True)
class Event:
    """One dated event, in UTC-aware times, ready to be stored."""

    key: str
    kind: str
    theme: int | None
    starts_at: datetime
    ends_at: datetime | None = None
    place: dict[str, str] | None = None
    link: str | None = None
    title: dict[str, str] | None = None
    capacity: int | None = None
    organisation: str | None = None  # an organisation's own local meeting
    host: str | None = None


def parse_calendar(source: str, filename: str, programme: Programme, zone: str) -> list[Event]:
    """The events of a calendar file, checked against the cohort's programme.

    Times without a zone are in the file's `timezone:`, else the cohort's (`zone`).
    """
    located = parse_mapping(
        source,
        filename,
        "themes:, local_meetings:, self_assessment:, events:, final_evaluation:",
    )
    calendar = located.validate(Calendar)
    problems = [
        located.problem(
            ("themes", number), N_("the programme has no theme {number}"), number=number
        )
        for number in calendar.themes
        if programme.theme(number) is None
    ]
    if programme.survey is None:
        problems += [
            located.problem(("themes", number, "survey"), N_("the programme has no survey:"))
            for number, dates in calendar.themes.items()
            if dates.survey is not None
        ]
    assessment = calendar.self_assessment
    if programme.self_assessment is None and (assessment.start or assessment.end):
        problems.append(
            located.problem(("self_assessment",), N_("the programme has no self_assessment:"))
        )
    known = {o.id for o in programme.programme.organisations}
    problems += [
        located.problem(
            ("local_meetings", "organisations", organisation),
            N_("the programme has no organisation {id}"),
            id=organisation,
        )
        for organisation in calendar.local_meetings.organisations
        if organisation not in known
    ]
    if calendar.final_evaluation is not None and (
        programme.survey is None or programme.survey.final is None
    ):
        problems.append(
            located.problem(
                ("final_evaluation",), N_("the programme's survey has no final: questions")
            )
        )
    if problems:
        raise FileProblems(problems)
    names = {o.id: o.name for o in programme.programme.organisations}
    # An organisation's own meeting is titled with its name, as the programme spells it.
    return [
        replace(e, title=names[e.organisation]) if e.organisation else e
        for e in events(calendar, ZoneInfo(calendar.timezone or zone))
    ]


def load_calendar(path: Path, programme: Programme, zone: str) -> list[Event]:
    return parse_calendar(read_source(path), str(path), programme, zone)


def events(calendar: Calendar, zone: ZoneInfo) -> list[Event]:
    def at(moment: datetime) -> datetime:
        return moment if moment.tzinfo else moment.replace(tzinfo=zone)

    found: list[Event] = []
    length = timedelta(hours=calendar.default_hours) if calendar.default_hours else None

    def session(key: str, kind: str, theme: int | None, value: Session | None) -> None:
        if value is not None:
            start = at(value.start)
            end = at(value.end) if value.end else (start + length if length else None)
            title = capacity = None
            if isinstance(value, EventDates):
                title = value.title
                capacity = value.registration.capacity if value.registration else None
            organisation = host = None
            if isinstance(value, OrganisationMeeting):
                organisation, host = key.rpartition(":")[2], value.host
            found.append(
                Event(
                    key,
                    kind,
                    theme,
                    start,
                    end,
                    value.place,
                    value.link,
                    title,
                    capacity,
                    organisation,
                    host,
                )
            )

    for number, dates in sorted(calendar.themes.items()):
        prefix = f"theme:{number}:"
        found.append(Event(prefix + "start", "theme_start", number, at(dates.start)))
        session(prefix + "workshop", "workshop", number, dates.workshop)
        for name in WINDOWS:
            if (window := getattr(dates, name)) is not None:
                found.append(
                    Event(prefix + name + "_open", name + "_open", number, at(window.opens))
                )
                found.append(
                    Event(prefix + name + "_close", name + "_close", number, at(window.closes))
                )
    session("meeting:opening", "opening_meeting", None, calendar.local_meetings.opening)
    session("meeting:closing", "closing_meeting", None, calendar.local_meetings.closing)
    for organisation, own in sorted(calendar.local_meetings.organisations.items()):
        session(f"meeting:opening:{organisation}", "opening_meeting", None, own.opening)
        session(f"meeting:closing:{organisation}", "closing_meeting", None, own.closing)
    for event in calendar.events:
        session(EVENT_PREFIX + event.key, "event", None, event)
    found += _programme_windows(calendar, at)
    return sorted(found, key=lambda e: (e.starts_at, e.key))


def _programme_windows(calendar: Calendar, at: Callable[[datetime], datetime]) -> list[Event]:
    """The self-assessment's rounds and the final evaluation: open, then closed."""
    found: list[Event] = []
    windows = [
        (f"assessment:{name}:", "assessment_", getattr(calendar.self_assessment, name))
        for name in ("start", "end")
    ]
    windows.append(("final:", "final_", calendar.final_evaluation))
    for prefix, kind, window in windows:
        if window is not None:
            found.append(Event(prefix + "open", kind + "open", None, at(window.opens)))
            found.append(Event(prefix + "close", kind + "close", None, at(window.closes)))
    return found


def check_entries(entries: Iterable[CalendarEntry]) -> None:
    """The rules of a calendar file, for a stored calendar that was changed; ValueError."""
    themes: dict[int, dict[str, Any]] = {}
    meetings: dict[str, Any] = {}
    assessment: dict[str, dict[str, Any]] = {}
    named: list[dict[str, Any]] = []
    final: dict[str, Any] = {}
    for entry in entries:
        session = {"start": entry.starts_at, "end": entry.ends_at}
        if entry.kind == "event":
            key = entry.key.removeprefix(EVENT_PREFIX)
            named.append({**session, "key": key, "title": entry.title or {"en": key}})
            continue
        if entry.kind in ("opening_meeting", "closing_meeting"):
            which = entry.kind.removesuffix("_meeting")
            if entry.organisation is not None:
                own = meetings.setdefault("organisations", {}).setdefault(entry.organisation, {})
                own[which] = {**session, "host": entry.host}
            else:
                meetings[which] = session
            continue
        if entry.kind in ("final_open", "final_close"):
            final["opens" if entry.kind == "final_open" else "closes"] = entry.starts_at
            continue
        if entry.kind in ("assessment_open", "assessment_close"):
            edge = "opens" if entry.kind == "assessment_open" else "closes"
            assessment.setdefault(entry.key.split(":")[1], {})[edge] = entry.starts_at
            continue
        assert entry.theme_number is not None
        dates = themes.setdefault(entry.theme_number, {})
        if entry.kind == "theme_start":
            dates["start"] = entry.starts_at
        elif entry.kind == "workshop":
            dates["workshop"] = session
        else:
            window, _, edge = entry.kind.rpartition("_")
            dates.setdefault(window, {})["opens" if edge == "open" else "closes"] = entry.starts_at
    try:
        Calendar.model_validate(
            {
                "themes": themes,
                "local_meetings": meetings,
                "self_assessment": assessment,
                "events": named,
                **({"final_evaluation": final} if final else {}),
            }
        )
    except ValidationError as error:
        # The first problem, as its catalogue text: the reader sees it in their language.
        found = (error.errors()[0].get("ctx") or {}).get("error")
        raise (
            found if isinstance(found, Mistake) else Mistake(N_("the calendar does not add up"))
        ) from None


def as_row(event: Event) -> dict[str, Any]:
    return {
        "key": event.key,
        "kind": event.kind,
        "theme_number": event.theme,
        "starts_at": event.starts_at,
        "ends_at": event.ends_at,
        "place": event.place,
        "link": event.link,
        "title": event.title,
        "capacity": event.capacity,
        "organisation": event.organisation,
        "host": event.host,
    }
