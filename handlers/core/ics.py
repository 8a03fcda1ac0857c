"""A calendar file (.ics, RFC 5545) of one happening, for one's own calendar: a lab
session, an event. One builder, so every file Digilog hands out reads the same way in
Outlook, Google Calendar and the rest (times in UTC, a stable UID per happening and
cohort, so opening the file again updates the entry instead of adding another)."""

from __future__ import annotations

from datetime import UTC, datetime

PRODID = "-//Digilog//calendar//EN"


def ics(
    uid: str,
    starts_at: datetime,
    ends_at: datetime,
    summary: str,
    *,
    stamped: datetime,
    description: str | None = None,
    location: str | None = None,
    url: str | None = None,
) -> bytes:
    """The file's bytes; `uid` names the happening (with its cohort) for good."""
    # Imported at the first file asked for (some 3 MB): most servers never hand one out.
    from icalendar import Calendar, Event

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    event = Event()
    event.add("uid", f"{uid}@digilog")
    event.add("dtstamp", stamped.astimezone(UTC))
    event.add("dtstart", starts_at.astimezone(UTC))
    event.add("dtend", ends_at.astimezone(UTC))
    event.add("summary", summary)
    if description:
        event.add("description", description)
    if location:
        event.add("location", location)
    if url:
        event.add("url", url)
    calendar.add_component(event)
    content: bytes = calendar.to_ical()
    return content
