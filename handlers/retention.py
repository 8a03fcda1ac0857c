"""Retention: a cohort's personal data is deleted a set time after its programme ends.

The programme ends at the cohort's last calendar entry, or on a date an administrator
sets. By default everything that names a person goes 180 days later; reflections and quiz
answers may have periods of their own. The facilitators are told 14 days before each
deletion, and a deletion never comes sooner than 14 days after they were told, so a
period shortened today still gives them that time. Before the first deletion the report's
figures are kept: counts and means per organisation, each for at least five people.

Reflections kept longer than the people stay in the bank under the cohort's anonymous
author, as when someone asks to be forgotten and leaves their reflections; private ones
go with their author. Quiz answers name their person, so they cannot outlive the people.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from handlers import report
from handlers.core.context import address_of, zone_of
from handlers.core.deliveries import Composing, Decision, Drop, Send
from handlers.core.formats import day_text
from handlers.core.humane import WorkingHours, next_humane_time
from handlers.core.i18n import N_, Said, Translator, translator
from handlers.core.registry import Feature
from handlers.core.vocabulary import Message, MessageBuilder, Outgoing
from handlers.personal_data import ANONYMOUS
from storage.deliveries import Planned
from storage.models import Cohort, Delivery, Retention, Role
from storage.unit import Repositories, Store

log = logging.getLogger(__name__)

DEFAULT_DAYS = 180
NOTICE_AHEAD = timedelta(days=14)
LONGEST_DAYS = 3650
NOTICE = "retention_notice"
DEDUPE_KEPT = timedelta(days=7)
FAILURES_KEPT = timedelta(days=30)
PEOPLE_PER_TRANSACTION = 5  # about a fifth of a second of SQLite's write lock


class Kind(StrEnum):
    """What goes, in the order it goes when deadlines fall together."""

    quiz_answers = "quiz_answers"
    reflections = "reflections"
    # Everything else that names a person, and the people themselves.
    personal_data = "personal_data"


WHAT = {
    Kind.quiz_answers: N_("the quiz answers"),
    Kind.reflections: N_("the reflection bank"),
    Kind.personal_data: N_(
        "everything else that names a person: who took part, survey and self-assessment "
        "answers, lab sign-ups, learning buddies and the messages sent"
    ),
}


# A whole sentence per kind: the administrator reads the kind in their language, never
# the internal name (quiz_answers).
ALREADY_DELETED = {
    Kind.quiz_answers: N_("{key}: the quiz answers have already been deleted"),
    Kind.reflections: N_("{key}: the reflection bank has already been deleted"),
    Kind.personal_data: N_("{key}: the rest of the personal data has already been deleted"),
}


class RetentionError(Said):
    """A clear reason why a period was not changed, in the administrator's language."""


@dataclass(frozen=True)
class Policy:
    ends_at: datetime | None
    days: int = DEFAULT_DAYS
    reflection_days: int | None = None
    quiz_answer_days: int | None = None

    def days_of(self, kind: Kind) -> int:
        own = {Kind.reflections: self.reflection_days, Kind.quiz_answers: self.quiz_answer_days}
        return own.get(kind) or self.days

    def deadline(self, kind: Kind) -> datetime | None:
        if self.ends_at is None:
            return None
        return self.ends_at + timedelta(days=self.days_of(kind))


@dataclass
class CohortRetention:
    """A cohort's policy and how far it has got."""

    cohort: Cohort
    policy: Policy
    noticed: dict[str, Any] = field(default_factory=dict)  # kind → {"for": …, "at": …}
    deleted: dict[str, Any] = field(default_factory=dict)  # kind → when

    def pending(self) -> list[tuple[Kind, datetime]]:
        """The kinds not yet deleted that have a deadline, soonest first."""
        found = [
            (kind, at)
            for kind in Kind
            if kind.value not in self.deleted and (at := self.policy.deadline(kind)) is not None
        ]
        order = list(Kind)
        return sorted(found, key=lambda item: (item[1], order.index(item[0])))

    def noticed_for(self, kind: Kind, deadline: datetime) -> datetime | None:
        """When the facilitators were told of this deadline, if they were."""
        told = self.noticed.get(kind.value)
        if not isinstance(told, dict):
            return None
        # Compared as moments: the same one may be written in another time zone.
        if datetime.fromisoformat(str(told["for"])) != deadline:
            return None
        return datetime.fromisoformat(str(told["at"]))

    def deletes_at(self, kind: Kind, deadline: datetime) -> datetime | None:
        """When it goes: at its deadline, and never sooner than 14 days after the notice."""
        told = self.noticed_for(kind, deadline)
        return None if told is None else max(deadline, told + NOTICE_AHEAD)

    @property
    def closed(self) -> bool:
        return Kind.personal_data.value in self.deleted


async def retention_of(
    repos: Repositories, cohort: Cohort, calendar_ends: dict[int, datetime] | None = None
) -> CohortRetention:
    """`calendar_ends`: every cohort's last calendar time, when the caller has read them."""
    row = await repos.retention.get(cohort.id)
    if calendar_ends is None and (row is None or row.ends_at is None):
        calendar_ends = await repos.retention.calendar_ends()
    return _from_row(cohort, row, (calendar_ends or {}).get(cohort.id))


def _from_row(
    cohort: Cohort, row: Retention | None, calendar_end: datetime | None
) -> CohortRetention:
    if row is None:
        return CohortRetention(cohort, Policy(calendar_end))
    policy = Policy(
        row.ends_at or calendar_end, row.days, row.reflection_days, row.quiz_answer_days
    )
    return CohortRetention(cohort, policy, dict(row.noticed or {}), dict(row.deleted or {}))


async def is_closed(repos: Repositories, cohort: Cohort) -> bool:
    """Its personal data has been deleted: nobody joins it any more."""
    row = await repos.retention.get(cohort.id)
    return row is not None and Kind.personal_data.value in (row.deleted or {})


# ---------------------------------------------------------------- the administrator's settings


async def set_policy(
    repos: Repositories,
    cohort: Cohort,
    *,
    ends_at: datetime | None = None,
    days: int | None = None,
    reflection_days: int | None = None,
    quiz_answer_days: int | None = None,
) -> CohortRetention:
    """Change what is given; a zero for reflections or quiz answers means "as the rest"."""
    current = await retention_of(repos, cohort)
    if current.closed:
        raise RetentionError(
            N_("{key}: its personal data has already been deleted"), key=cohort.key
        )
    for name, value, least in (
        ("--days", days, 1),
        ("--reflections", reflection_days, 0),
        ("--quiz-answers", quiz_answer_days, 0),
    ):
        if value is not None and not least <= value <= LONGEST_DAYS:
            raise RetentionError(
                N_("{name} {value}: give a number of days from 1 to {most}"),
                name=name,
                value=value,
                most=LONGEST_DAYS,
            )
    old = current.policy
    new = Policy(
        ends_at or old.ends_at,
        days or old.days,
        old.reflection_days if reflection_days is None else reflection_days or None,
        old.quiz_answer_days if quiz_answer_days is None else quiz_answer_days or None,
    )
    if new.quiz_answer_days is not None and new.quiz_answer_days > new.days:
        raise RetentionError(
            N_(
                "quiz answers name their person, so they cannot be kept longer than the rest "
                "({quiz} > {days} days)"
            ),
            quiz=new.quiz_answer_days,
            days=new.days,
        )
    for kind in Kind:
        if kind.value in current.deleted and new.deadline(kind) != old.deadline(kind):
            raise RetentionError(ALREADY_DELETED[kind], key=cohort.key)
    row = await repos.retention.get_or_add(cohort.id, old.days)
    if ends_at is not None:
        row.ends_at = ends_at
    row.days, row.reflection_days, row.quiz_answer_days = (
        new.days,
        new.reflection_days,
        new.quiz_answer_days,
    )
    await repos.audit.record(
        "retention_change",
        cohort_id=cohort.id,
        detail={
            "ends_at": row.ends_at.isoformat() if row.ends_at else None,
            "days": new.days,
            "reflection_days": new.reflection_days,
            "quiz_answer_days": new.quiz_answer_days,
        },
    )
    return await retention_of(repos, cohort)


# ---------------------------------------------------------------- the sweep


@dataclass
class Swept:
    notices: int = 0  # messages planned to facilitators
    deletions: list[tuple[str, Kind, dict[str, int]]] = field(default_factory=list)


async def sweep(store: Store, now: datetime) -> Swept:
    """Tell the facilitators what goes in 14 days, and delete what is due: each cohort in
    a transaction of its own. Safe to run any number of times, from any process."""
    async with store.transaction() as repos:
        cohort_ids = [cohort.id for cohort in await repos.cohorts.all()]
        ends = await repos.retention.calendar_ends()
        # Platforms retry a delivery within minutes; a week later its mark has no use.
        await repos.events.forget_before(now - DEDUPE_KEPT)
        # Failed actions name who acted: kept long enough to be looked into, no longer.
        await repos.inbound.forget_failures_before(now - FAILURES_KEPT)
    swept = Swept()
    for cohort_id in cohort_ids:
        async with store.transaction() as repos:
            cohort = await repos.cohorts.by_id(cohort_id)
            if cohort is None:
                continue
            due = await _tell(repos, await retention_of(repos, cohort, ends), now, swept)
        for kind in due:
            counts = await _delete(store, cohort_id, kind, now)
            swept.deletions.append((cohort.key, kind, counts))
    return swept


async def _tell(
    repos: Repositories, state: CohortRetention, now: datetime, swept: Swept
) -> list[Kind]:
    """Plan the notices that are due; returns the kinds whose deletion is due."""
    cohort = state.cohort
    if not any(now >= deadline - NOTICE_AHEAD for _, deadline in state.pending()):
        return []  # nothing to tell or delete yet: most cohorts, most of the time
    facilitators = [
        m.person
        for m in await repos.people.members(cohort.id, Role.facilitator)
        if m.person.user_id is not None
    ]
    # Each facilitator is told at a humane time for them; the 14 days count from the last.
    humane = {
        person.id: next_humane_time(
            now, zone_of(person, cohort), WorkingHours.stored(person.working_hours)
        )
        for person in facilitators
    }
    told_at = max([now, *humane.values()])
    # By the day it goes: one message per day.
    to_tell: dict[datetime, list[tuple[Kind, datetime]]] = {}
    due: list[Kind] = []
    for kind, deadline in state.pending():
        deletes_at = state.deletes_at(kind, deadline)
        if deletes_at is None:
            if now >= deadline - NOTICE_AHEAD:
                goes_at = max(deadline, told_at + NOTICE_AHEAD)
                to_tell.setdefault(goes_at, []).append((kind, deadline))
        elif now >= deletes_at:
            due.append(kind)
    if to_tell and not facilitators:
        log.warning("%s: no facilitator to tell that personal data goes", cohort.key)
    row = None
    for goes_at, kinds in to_tell.items():
        detail = {
            "deadline": goes_at.isoformat(),
            "ended": state.policy.ends_at.isoformat() if state.policy.ends_at else None,
            "kinds": [kind.value for kind, _ in kinds],
        }
        swept.notices += await repos.deliveries.add(
            Planned(
                key=f"{NOTICE}:c{cohort.id}:{goes_at:%Y%m%d%H%M}:f{person.id}",
                cohort_id=cohort.id,
                kind=NOTICE,
                due_at=humane[person.id],
                relevant_until=goes_at,
                person_id=person.id,
                detail=detail,
            )
            for person in facilitators
        )
        row = row or await repos.retention.get_or_add(cohort.id, state.policy.days)
        told = {k.value: {"for": at.isoformat(), "at": told_at.isoformat()} for k, at in kinds}
        row.noticed = {**(row.noticed or {}), **told}
    return due


def notice_message(t: Translator, cohort: Cohort, detail: dict[str, Any]) -> Message:
    zone = zone_of(None, cohort)
    deadline = datetime.fromisoformat(str(detail["deadline"])).astimezone(zone)
    build = MessageBuilder().heading(
        t("Personal data of {cohort} is deleted soon", cohort=cohort.title)
    )
    ended = detail.get("ended")
    if ended:
        build.para(
            t(
                "The programme ended on {ended}. On {date}, Digilog deletes:",
                ended=day_text(
                    datetime.fromisoformat(str(ended)).astimezone(zone), t.language, year=True
                ),
                date=day_text(deadline, t.language, year=True),
            )
        )
    build.bullets(t(WHAT[Kind(kind)]) for kind in detail.get("kinds", []) if kind in set(Kind))
    build.note(
        t(
            "Figures per organisation (groups of five or more) are kept. To keep the data "
            "longer, ask an administrator: `digilog retention set {key}`.",
            key=cohort.key,
        )
    )
    return build.build()


async def notice(repos: Repositories, cohort: Cohort, delivery: Delivery) -> Outgoing | None:
    person = await repos.people.get(delivery.person_id or 0)
    if person is None or person.user_id is None:
        return None
    t = translator(person.language or cohort.language)
    return Outgoing(address_of(person), notice_message(t, cohort, delivery.detail or {}))


# ---------------------------------------------------------------- deleting


async def _delete(store: Store, cohort_id: int, kind: Kind, now: datetime) -> dict[str, int]:
    """One kind of the cohort's data. The people go a few at a time, each batch in its own
    short transaction: a long one would hold SQLite's write lock from everyone else. A
    deletion cut short is taken up again by the next sweep."""
    async with store.transaction() as repos:
        cohort = await repos.cohorts.by_id(cohort_id)
        assert cohort is not None
        if not await repos.retention.kept_figures(cohort_id):
            await _keep_figures(repos, cohort, now)
        counts: dict[str, int] = {}
        if kind is Kind.quiz_answers:
            counts["quiz_answers"] = await repos.retention.delete_quiz_answers(cohort_id)
        elif kind is Kind.reflections:
            counts["reflections"] = await repos.retention.delete_reflections(cohort_id)
        row = await repos.retention.get(cohort_id)
        reflections_stay = row is None or Kind.reflections.value not in (row.deleted or {})
    if kind is Kind.personal_data:
        counts = await _delete_people(store, cohort, reflections_stay)
    async with store.transaction() as repos:
        row = await repos.retention.get_or_add(cohort_id, DEFAULT_DAYS)
        row.deleted = {**(row.deleted or {}), kind.value: now.isoformat()}
        await repos.audit.record(
            "retention_deletion", cohort_id=cohort_id, detail={"kind": kind.value, **counts}, at=now
        )
    log.info("%s: %s deleted under retention: %s", cohort.key, kind.value, counts)
    return counts


async def _delete_people(store: Store, cohort: Cohort, reflections_stay: bool) -> dict[str, int]:
    """Each member's data in the cohort; a person in no other cohort goes altogether."""
    names = {cohort.id: translator(cohort.language)(ANONYMOUS)}
    counts = {"people": 0, "reflections_kept_anonymously": 0, "reflections": 0, "answers": 0}
    while True:
        async with store.transaction() as repos:
            batch = (await repos.people.members(cohort.id))[:PEOPLE_PER_TRANSACTION]
            personal = repos.personal_data
            for member in batch:
                erased = await personal.erase(
                    member.person,
                    keep_reflections=reflections_stay,
                    anonymous_names=names,
                    cohort_id=cohort.id,
                    optimise_index=False,
                )
                counts["people"] += 1
                counts["reflections"] += erased.reflections
                counts["reflections_kept_anonymously"] += erased.kept
                counts["answers"] += erased.quiz_answers + erased.survey_answers
            if not batch:
                counts["other_rows"] = await repos.retention.delete_cohort_traces(cohort.id)
                await personal.optimise_search_index()
                return counts


async def _keep_figures(repos: Repositories, cohort: Cohort, now: datetime) -> None:
    t = translator(cohort.language)
    files = report.files(t, await report.figures(repos, cohort, t))
    await repos.retention.keep_figures(
        cohort.id,
        (
            (name, content if isinstance(content, bytes) else content.encode(), title)
            for name, content, title in files
        ),
        now,
    )


# ---------------------------------------------------------------- the administrator's view

LABELS = {
    Kind.quiz_answers: N_("quiz answers"),
    Kind.reflections: N_("reflection bank"),
    Kind.personal_data: N_("everything else"),
}


COUNTED = {
    "quiz_answers": N_("quiz answers"),
    "reflections": N_("reflections"),
    "reflections_kept_anonymously": N_("reflections kept anonymously"),
    "people": N_("people"),
    "answers": N_("survey and quiz answers"),
    "other_rows": N_("other rows"),
}


def counts_text(t: Translator, counts: dict[str, int]) -> str:
    """ "people: 12, reflections: 40": what a deletion took, in the reader's words."""
    return ", ".join(
        f"{t(COUNTED[key]) if key in COUNTED else key}: {n}" for key, n in counts.items()
    )


async def overview(store: Store, cohort_key: str | None = None) -> list[CohortRetention]:
    async with store.transaction() as repos:
        ends = await repos.retention.calendar_ends()
        cohorts = await repos.cohorts.all()
        if cohort_key is not None:
            cohorts = [c for c in cohorts if c.key == cohort_key]
            if not cohorts:
                raise RetentionError(N_("no cohort “{key}”"), key=cohort_key)
        return [await retention_of(repos, cohort, ends) for cohort in cohorts]


async def change(
    store: Store,
    cohort_key: str,
    *,
    ends_on: date | None = None,
    days: int | None = None,
    reflection_days: int | None = None,
    quiz_answer_days: int | None = None,
) -> CohortRetention:
    async with store.transaction() as repos:
        cohort = await repos.cohorts.by_key(cohort_key)
        if cohort is None:
            raise RetentionError(N_("no cohort “{key}”"), key=cohort_key)
        # The end of that day where the cohort meets: its last evening is part of it.
        ends_at = (
            datetime.combine(ends_on, time(23, 59), zone_of(None, cohort)) if ends_on else None
        )
        return await set_policy(
            repos,
            cohort,
            ends_at=ends_at,
            days=days,
            reflection_days=reflection_days,
            quiz_answer_days=quiz_answer_days,
        )


def describe(state: CohortRetention, t: Translator) -> list[str]:
    """Lines for the terminal: when the programme ended, and per kind of data its period,
    when it goes, whether the facilitators were told and whether it has gone. Times are
    the cohort's; words the administrator's."""
    policy, zone = state.policy, zone_of(None, state.cohort)
    key = state.cohort.key

    def local(at: datetime) -> str:
        return f"{at.astimezone(zone):%Y-%m-%d %H:%M}"

    if policy.ends_at is None:
        date = t("YYYY-MM-DD")
        command = f"`digilog retention set {key} --ends {date}`"
        return [
            t(
                "{key}: no end date (no calendar): nothing is deleted until one is set with "
                "{command}",
                key=key,
                command=command,
            )
        ]
    lines = [
        t(
            "{key}: the programme ends {when} ({zone})",
            key=key,
            when=local(policy.ends_at),
            zone=zone.key,
        )
    ]
    labels = {kind: t(label) for kind, label in LABELS.items()}
    width = max(len(label) for label in labels.values())
    for kind in Kind:
        deadline = policy.deadline(kind)
        assert deadline is not None
        days = t.plural("{n} day", "{n} days", policy.days_of(kind))
        line = f"  {labels[kind]:<{width}}  {days:>9}"
        if kind.value in state.deleted:
            gone = datetime.fromisoformat(str(state.deleted[kind.value]))
            lines.append(f"{line}  " + t("deleted {when}", when=local(gone)))
            continue
        told = state.noticed_for(kind, deadline)
        when = state.deletes_at(kind, deadline) or deadline
        status = (
            t("facilitators told {when}", when=local(told))
            if told
            else t("facilitators not yet told")
        )
        lines.append(
            f"{line}  " + t("deleted from {when} ({status})", when=local(when), status=status)
        )
    return lines


async def kept_report(repos: Repositories, cohort: Cohort) -> list[tuple[str, bytes, str]] | None:
    """The report as it was before the first deletion, once anything has been deleted."""
    row = await repos.retention.get(cohort.id)
    if row is None or not row.deleted:
        return None
    return [(f.name, f.content, f.title) for f in await repos.retention.kept_figures(cohort.id)]


async def _compose_notice(composing: Composing) -> Decision:
    found = await notice(composing.repos, composing.cohort, composing.delivery)
    return Drop(N_("nobody to tell")) if found is None else Send(found)


FEATURE = Feature(
    "retention",
    deliveries={NOTICE: _compose_notice},
    labels={NOTICE: N_("Notices before personal data is erased")},
)
