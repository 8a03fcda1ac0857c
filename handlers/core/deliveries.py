"""What a delivery row says when its time comes, and whether it should go at all.

The sender calls `compose` inside the transaction that holds the claimed row. The
feature that declared the row's kind composes it (handlers/core/registry.py); what every
composer needs is read here once: the cohort, the calendar entry as it stands now (a
moved entry moves its relevance too), and the programme. A channel post may change
state as it goes (a theme starts, a quiz opens or closes); a nudge is checked against
everything that makes it humane.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from handlers.core import channels
from handlers.core.context import cohort_channel, programme_of, zone_of
from handlers.core.formats import when_text, where_spans
from handlers.core.i18n import N_, Translator, translator
from handlers.core.programme_file import Programme
from handlers.core.progress import done_by
from handlers.core.registry import Feature, Registry
from handlers.core.steps import DueStep, Task
from handlers.core.vocabulary import Message, MessageBuilder, Option, Outgoing, Span, ToConversation
from storage.models import CalendarEntry, Cohort, Delivery, ThemeRun
from storage.unit import Repositories


@dataclass(frozen=True)
class Send:
    outgoing: Outgoing


@dataclass(frozen=True)
class Wait:
    until: datetime
    reason: str


@dataclass(frozen=True)
class Drop:
    reason: str


Decision = Send | Wait | Drop

# A Wait that would last past the row's deadline becomes a Drop with its reason and this.
TOO_LATE = " until it was too late"


def reason_words(t: Translator, reason: str) -> str:
    """Why a row was not sent, in the reader's language: reasons are catalogue texts (N_),
    stored in English for the log."""
    if reason.endswith(TOO_LATE):
        return t(
            "{reason}, until it was too late", reason=reason_words(t, reason[: -len(TOO_LATE)])
        )
    return t(reason)


@dataclass
class SharedReads:
    """Cohort-wide reads that the rows of one claimed batch share.

    A fan-out of 2,500 nudges would otherwise read the same cohort, calendar,
    programme and "who has posted" 2,500 times. A batch takes seconds, so someone
    who posts during it may still get that batch's nudge.
    """

    cohorts: dict[int, Cohort | None] = field(default_factory=dict)
    entries: dict[int, list[CalendarEntry]] = field(default_factory=dict)
    programmes: dict[str, Programme] = field(default_factory=dict)
    done: dict[tuple[int, Task, int], set[int]] = field(default_factory=dict)
    threads: dict[tuple[int, int], str | None] = field(default_factory=dict)

    async def cohort(self, repos: Repositories, cohort_id: int) -> Cohort | None:
        if cohort_id not in self.cohorts:
            self.cohorts[cohort_id] = await repos.cohorts.by_id(cohort_id)
        return self.cohorts[cohort_id]

    async def calendar(self, repos: Repositories, cohort_id: int) -> list[CalendarEntry]:
        if cohort_id not in self.entries:
            self.entries[cohort_id] = await repos.calendar.entries(cohort_id)
        return self.entries[cohort_id]

    async def programme(self, repos: Repositories, program_id: str) -> Programme:
        if program_id not in self.programmes:
            self.programmes[program_id] = await programme_of(repos, program_id)
        return self.programmes[program_id]

    async def done_by(
        self, repos: Repositories, cohort: Cohort, task: Task, theme: int
    ) -> set[int]:
        if (cohort.id, task, theme) not in self.done:
            self.done[cohort.id, task, theme] = await done_by(repos, cohort, task, theme)
        return self.done[cohort.id, task, theme]

    async def thread(self, repos: Repositories, cohort_id: int, theme: int) -> str | None:
        """The theme post's id: its thread is the digilog a nudge links to."""
        if (cohort_id, theme) not in self.threads:
            run = await repos.themes.get(cohort_id, theme)
            self.threads[cohort_id, theme] = run.post_message_id if run else None
        return self.threads[cohort_id, theme]


@dataclass
class Composing:
    """One claimed row on its way out, with what its composer needs."""

    repos: Repositories
    delivery: Delivery
    now: datetime
    reads: SharedReads
    features: Registry
    cohort: Cohort
    programme: Programme
    due: DueStep | None  # the calendar step that planned the row, as the calendar has it now
    relevant_until: datetime | None

    @property
    def t(self) -> Translator:
        return translator(self.cohort.language)

    @property
    def theme_number(self) -> int | None:
        return self.due.entry.theme_number if self.due else self.delivery.theme_number

    async def theme_run(self) -> ThemeRun | None:
        number = self.theme_number
        return await self.repos.themes.get(self.cohort.id, number) if number else None

    @property
    def applied(self) -> bool:
        """This row made its state change already, so that its retry posts rather than
        mistaking the change for a facilitator's."""
        return bool((self.delivery.detail or {}).get("applied"))

    def apply(self) -> None:
        self.delivery.detail = {**(self.delivery.detail or {}), "applied": True}

    async def everywhere(self, post: Message, receipt: str | None = None) -> Decision:
        """The post for the cohort's own channel; its other channels get it relayed."""
        await channels.mirror(
            self.repos, self.cohort, post, key=self.delivery.key, now=self.now, receipt=receipt
        )
        to = ToConversation(cohort_channel(self.cohort))
        return Send(Outgoing(to, post, receipt=receipt))

    async def in_threads(self, run: ThemeRun, text: str) -> Decision:
        """A note in the theme post's thread, on every channel of the cohort."""
        if run.post_message_id is None:
            return Drop(N_("the theme's post has no thread"))
        note = MessageBuilder().para(text).build()
        await channels.mirror(
            self.repos,
            self.cohort,
            note,
            key=self.delivery.key,
            now=self.now,
            theme=run.theme_number,
        )
        thread = cohort_channel(self.cohort).thread(run.post_message_id)
        return Send(Outgoing(ToConversation(thread), note))

    def reminder(self, what: str, *, soon: bool, choices: Sequence[Option] = ()) -> Message:
        """ "{what} is tomorrow" (or "starts in an hour"), with when, where and any buttons."""
        assert self.due is not None
        t, entry, zone = self.t, self.due.entry, zone_of(None, self.cohort)
        when = when_text(entry.starts_at, entry.ends_at, zone, t.language)
        # A reminder moved to the working day before a weekend or holiday is not "tomorrow".
        tomorrow = (self.now.astimezone(zone) + timedelta(days=1)).date()
        if soon:
            lead = t("{what} starts in an hour: {when}.", what=what, when=when)
        elif entry.starts_at.astimezone(zone).date() == tomorrow:
            lead = t("{what} is tomorrow: {when}.", what=what, when=when)
        else:
            lead = t("{what} is coming up: {when}.", what=what, when=when)
        build = MessageBuilder().para(Span(t("Reminder") + ": ", strong=True), Span(lead))
        if where := where_spans(t, entry.place, entry.link):
            build.para(*where)
        if choices:
            build.choices(list(choices))
        return build.build()


async def compose(
    repos: Repositories,
    delivery: Delivery,
    now: datetime,
    features: Registry,
    reads: SharedReads | None = None,
) -> Decision:
    reads = reads or SharedReads()
    cohort = await reads.cohort(repos, delivery.cohort_id)
    if cohort is None:
        return Drop(N_("the cohort is gone"))
    entries = await reads.calendar(repos, cohort.id)
    entry_key = (delivery.detail or {}).get("entry")
    due: DueStep | None = None
    if entry_key is not None:
        due = features.step_of(entries, delivery.kind, entry_key)
        if due is None:
            return Drop(N_("no longer on the calendar"))
    relevant_until = due.relevant_until if due else delivery.relevant_until
    if relevant_until is not None and now >= relevant_until:
        return Drop(N_("no longer relevant"))
    composer = features.composer(delivery.kind)
    if composer is None:
        return Drop(f"unknown kind {delivery.kind}")
    programme = await reads.programme(repos, cohort.program_id)
    return await composer(
        Composing(repos, delivery, now, reads, features, cohort, programme, due, relevant_until)
    )


async def _relay(composing: Composing) -> Decision:
    """A post of the cohort's own channel, for one of its other channels."""
    relayed = await channels.relayed(composing.repos, composing.delivery, composing.now)
    if isinstance(relayed, datetime):
        return Wait(relayed, "the theme's post in that channel has not gone out yet")
    return Send(relayed)


# What the core itself sends: a post of one channel relayed to the cohort's others.
RELAYS = Feature(
    "relays",
    deliveries={channels.RELAY: _relay},
    labels={channels.RELAY: N_("Posts to the cohort's other channels")},
)
