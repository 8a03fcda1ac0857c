"""The delivery outbox: rows written before anything is sent, claimed by one sender at a time."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import insert_ignoring_duplicates
from storage.models import (
    Delivery,
    DeliveryOutage,
    DeliveryState,
    Membership,
    PlannedStep,
    now_of,
    utcnow,
)

NUDGE_PREFIX = "nudge_"
# The reason of a nudge that went out as a line of another's message (the day's one
# message to a person): it was not skipped, it was sent with that one.
IN_MESSAGE = "sent in the message of "
ALERT_PREFIX = "alert_"
# Claimed in this order: a channel post (a theme post, a quiz opening, a workshop
# reminder) goes before nudges that fell due earlier; a facilitator's alert in between.
CHANNEL_POST, ALERT, PERSONAL = 0, 1, 2
_PERSON_PART = re.compile(r":p\d+$")


def priority_of(kind: str, person_id: int | None) -> int:
    if person_id is None:
        return CHANNEL_POST
    return ALERT if kind.startswith(ALERT_PREFIX) else PERSONAL


def step_of_key(key: str) -> str:
    """The step a row belongs to: its key without the person it goes to."""
    return _PERSON_PART.sub("", key)


@dataclass(frozen=True)
class Tally:
    """Rows of one kind in one state, for one trouble (None: none)."""

    kind: str
    state: DeliveryState
    trouble: str | None
    count: int


@dataclass(frozen=True)
class Planned:
    """Work that fell due; `key` makes planning it again, anywhere, a no-op."""

    key: str
    cohort_id: int
    kind: str
    due_at: datetime
    relevant_until: datetime | None = None
    theme_number: int | None = None
    person_id: int | None = None
    about_person_id: int | None = None
    detail: dict[str, Any] | None = None


class DeliveryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, planned: Iterable[Planned]) -> int:
        """Write the rows that are not there yet; returns how many were new."""
        rows = [
            {
                "key": p.key,
                "cohort_id": p.cohort_id,
                "kind": p.kind,
                "theme_number": p.theme_number,
                "person_id": p.person_id,
                "about_person_id": p.about_person_id,
                "detail": p.detail,
                "due_at": p.due_at,
                "relevant_until": p.relevant_until,
                "state": DeliveryState.pending,
                "attempts": 0,
                "maybe_sent": False,
                "created_at": now_of(self._session),
                "priority": priority_of(p.kind, p.person_id),
                "step": step_of_key(p.key),
            }
            for p in planned
        ]
        added = 0
        for start in range(0, len(rows), 500):  # stays under SQLite's bound-parameter limit
            inserted = await self._session.scalars(
                insert_ignoring_duplicates(self._session, Delivery)
                .values(rows[start : start + 500])
                .returning(Delivery.id)
            )
            added += len(inserted.all())
        return added

    async def claim(
        self,
        worker: str,
        now: datetime,
        lease: timedelta,
        limit: int,
        *,
        not_cohorts: Iterable[int] = (),
    ) -> list[Delivery]:
        """Take up to `limit` due rows for this worker until the lease runs out.

        A row whose lease ran out belonged to a sender that died: it is taken again; if
        that sender had got as far as calling the platform (`maybe_sent`), the new one
        looks there before it sends.
        """
        claimable = or_(
            and_(Delivery.state == DeliveryState.pending, Delivery.due_at <= now),
            and_(Delivery.state == DeliveryState.sending, Delivery.lease_until < now),
        )
        candidates = select(Delivery.id).where(claimable)
        if skipped := list(not_cohorts):  # held by an outage or a throttle in this process
            candidates = candidates.where(Delivery.cohort_id.not_in(skipped))
        candidates = candidates.order_by(Delivery.priority, Delivery.due_at, Delivery.id)
        candidates = candidates.limit(limit)
        if self._session.get_bind().dialect.name == "postgresql":
            # As a CTE, which PostgreSQL runs once: a `LIMIT … SKIP LOCKED` subquery
            # inside `IN (…)` may be run again per row and claim far more than `limit`.
            chosen = candidates.with_for_update(skip_locked=True).cte("chosen")
            candidates = select(chosen.c.id)
        # One conditional update: the condition is checked again on each row it changes,
        # so a row another process claimed since the select is not changed (on SQLite the
        # statement is atomic anyway); the rows it returns are this worker's.
        claimed = await self._session.scalars(
            update(Delivery)
            .where(Delivery.id.in_(candidates.scalar_subquery()), claimable)
            .values(
                state=DeliveryState.sending,
                lease_until=now + lease,
                claimed_by=worker,
                attempts=Delivery.attempts + 1,
            )
            .returning(Delivery),
            execution_options={"populate_existing": True},
        )
        return sorted(claimed.all(), key=lambda d: (d.priority, d.due_at, d.id))

    async def _change_held(self, delivery_id: int, worker: str, **values: Any) -> bool:
        """Change a row this worker still holds; False if its lease went to another."""
        result = await self._session.execute(
            update(Delivery)
            .where(
                Delivery.id == delivery_id,
                Delivery.state == DeliveryState.sending,
                Delivery.claimed_by == worker,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def _finish(self, delivery_id: int, worker: str, **values: Any) -> bool:
        """Done with the row for now: it is no longer held by anyone."""
        return await self._change_held(delivery_id, worker, lease_until=None, **values)

    async def mark_sent(
        self,
        delivery_id: int,
        worker: str,
        conversation_id: str | None,
        message_id: str | None,
        now: datetime,
    ) -> bool:
        return await self._finish(
            delivery_id,
            worker,
            state=DeliveryState.sent,
            conversation_id=conversation_id,
            message_id=message_id,
            sent_at=now,
            maybe_sent=False,
            reason=None,
            trouble=None,
            trouble_since=None,
        )

    async def held(self, delivery_id: int, worker: str) -> Delivery | None:
        """The row, if this worker still holds it (its lease may have gone to another)."""
        delivery = await self._session.get(Delivery, delivery_id, populate_existing=True)
        if delivery is None or delivery.state != DeliveryState.sending:
            return None
        return delivery if delivery.claimed_by == worker else None

    async def about_to_send(self, delivery_id: int, worker: str, lease_until: datetime) -> bool:
        """Mark the row as possibly sent and renew the lease, just before the platform is
        called: if this process dies during the call, the next sender looks first. False
        (change nothing else then) if another sender took the row meanwhile."""
        return await self._change_held(
            delivery_id, worker, maybe_sent=True, lease_until=lease_until
        )

    async def extend(self, delivery_id: int, worker: str, lease_until: datetime) -> bool:
        """A call to the platform is still under way: keep the row this worker's."""
        return await self._change_held(delivery_id, worker, lease_until=lease_until)

    async def release(self, delivery_ids: list[int], worker: str) -> None:
        """Give back claimed rows this worker has not begun: due again, for anyone. One in
        doubt from an earlier attempt stays in doubt."""
        await self._session.execute(
            update(Delivery)
            .where(
                Delivery.id.in_(delivery_ids),
                Delivery.claimed_by == worker,
                Delivery.state == DeliveryState.sending,
            )
            .values(
                state=DeliveryState.pending,
                claimed_by=None,
                lease_until=None,
                attempts=Delivery.attempts - 1,
            )
            .execution_options(synchronize_session=False)
        )

    async def retry_at(
        self,
        delivery_id: int,
        worker: str,
        when: datetime,
        reason: str,
        *,
        maybe_sent: bool,
        trouble: str | None = None,
        now: datetime | None = None,
    ) -> bool:
        return await self._finish(
            delivery_id,
            worker,
            state=DeliveryState.pending,
            due_at=when,
            reason=reason,
            maybe_sent=maybe_sent,
            claimed_by=None,
            **_troubled(trouble, now),
        )

    async def postpone(
        self,
        delivery_id: int,
        worker: str,
        when: datetime,
        reason: str,
        *,
        nothing_sent: bool = False,
        trouble: str | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Not now (outside working hours, over the weekly cap, rate limited): later, same row.

        Waiting is not a failed attempt. `nothing_sent` when the platform said so, which
        clears an earlier doubt about whether it went out.
        """
        values: dict[str, Any] = {"maybe_sent": False} if nothing_sent else {}
        return await self._finish(
            delivery_id,
            worker,
            state=DeliveryState.pending,
            due_at=when,
            reason=reason,
            claimed_by=None,
            attempts=Delivery.attempts - 1,
            **values,
            **_troubled(trouble, now),
        )

    async def skip(self, delivery_id: int, worker: str, reason: str) -> bool:
        return await self._finish(delivery_id, worker, state=DeliveryState.skipped, reason=reason)

    async def fail(
        self, delivery_id: int, worker: str, reason: str, trouble: str | None = None
    ) -> bool:
        """The row failed for good. Rows that were to go out in its message wait again,
        each for a message of its own (or another's)."""
        failed = await self._finish(
            delivery_id, worker, state=DeliveryState.failed, reason=reason, trouble=trouble
        )
        if failed:
            key = await self._session.scalar(select(Delivery.key).where(Delivery.id == delivery_id))
            await self._session.execute(
                update(Delivery)
                .where(_folded_into(str(key)))
                .values(state=DeliveryState.pending, reason=None, claimed_by=None)
                .execution_options(synchronize_session=False)
            )
        return failed

    async def last_nudges(self, person_id: int, count: int) -> list[Delivery]:
        """The person's latest sent nudges, newest first: enough for the weekly cap and to
        see whether the last few were heeded."""
        query = (
            select(Delivery)
            .where(
                Delivery.person_id == person_id,
                Delivery.kind.startswith(NUDGE_PREFIX, autoescape=True),
                Delivery.state == DeliveryState.sent,
            )
            .order_by(Delivery.sent_at.desc(), Delivery.id.desc())
            .limit(count)
        )
        return list(await self._session.scalars(query))

    async def of_cohort(
        self, cohort_id: int, states: Iterable[DeliveryState], limit: int = 50
    ) -> list[Delivery]:
        query = (
            select(Delivery)
            .where(Delivery.cohort_id == cohort_id, Delivery.state.in_(list(states)))
            .order_by(Delivery.due_at.desc(), Delivery.id.desc())
            .limit(limit)
        )
        return list(await self._session.scalars(query))

    async def counts(self, cohort_id: int) -> dict[DeliveryState, int]:
        query = (
            select(Delivery.state, func.count())
            .where(Delivery.cohort_id == cohort_id)
            .group_by(Delivery.state)
        )
        rows = (await self._session.execute(query)).all()
        return {DeliveryState(state): count for state, count in rows}

    async def tally(self, cohort_id: int, states: Iterable[DeliveryState]) -> list[Tally]:
        """How many rows of each kind are in each state, by trouble: what `schedule` shows."""
        query = (
            select(Delivery.kind, Delivery.state, Delivery.trouble, func.count())
            .where(Delivery.cohort_id == cohort_id, Delivery.state.in_(list(states)))
            .group_by(Delivery.kind, Delivery.state, Delivery.trouble)
        )
        rows = (await self._session.execute(query)).all()
        return [Tally(kind, DeliveryState(state), trouble, n) for kind, state, trouble, n in rows]

    async def send_again(
        self, cohort_id: int, now: datetime, within: timedelta, reason: str
    ) -> int:
        """The cohort's rows that failed (never went out) and fell due within `within`,
        due again now. Each keeps its key (so it still goes out at most once) and its doubt
        (one that may have gone is looked for first); one that no longer matters is dropped
        when its turn comes, as any row is. Returns how many."""
        query = (
            update(Delivery)
            .where(
                Delivery.cohort_id == cohort_id,
                Delivery.state == DeliveryState.failed,
                Delivery.due_at >= now - within,
            )
            .values(
                state=DeliveryState.pending,
                due_at=now,
                attempts=0,
                trouble=None,
                trouble_since=None,
                claimed_by=None,
                reason=reason,
            )
            .execution_options(synchronize_session=False)
        )
        result = await self._session.execute(query)
        return int(getattr(result, "rowcount", 0) or 0)

    async def in_trouble(self, cohort_id: int, step: str) -> int:
        """Rows of a step still waiting after trouble (an outage, a throttle)."""
        query = select(func.count()).where(
            Delivery.cohort_id == cohort_id,
            Delivery.step == step,
            Delivery.state.in_([DeliveryState.pending, DeliveryState.sending]),
            Delivery.trouble_since.is_not(None),
        )
        return int(await self._session.scalar(query.select_from(Delivery)) or 0)

    async def step_sent(self, cohort_id: int, step: str) -> tuple[int, datetime | None]:
        """How many rows of a step went out, and when the last did."""
        query = select(func.count(), func.max(Delivery.sent_at)).where(
            Delivery.cohort_id == cohort_id,
            Delivery.step == step,
            Delivery.state == DeliveryState.sent,
        )
        count, last = (await self._session.execute(query)).one()
        return int(count or 0), last

    # ------------------------------------------------------------ planned steps

    async def planned_marks(self, cohort_id: int) -> dict[str, str]:
        """Each planned step of the cohort and what it was planned from."""
        query = select(PlannedStep.step, PlannedStep.mark).where(PlannedStep.cohort_id == cohort_id)
        return {str(step): str(mark) for step, mark in (await self._session.execute(query)).all()}

    async def roster_mark(self, cohort_id: int) -> str:
        """Changes whenever someone joins or leaves the cohort (or changes role)."""
        query = select(func.count(), func.max(Membership.id), func.sum(Membership.person_id)).where(
            Membership.cohort_id == cohort_id
        )
        count, last, total = (await self._session.execute(query)).one()
        roles = select(Membership.role, func.count()).where(Membership.cohort_id == cohort_id)
        by_role = (await self._session.execute(roles.group_by(Membership.role))).all()
        shown = ",".join(f"{role}={n}" for role, n in sorted(by_role, key=lambda r: str(r[0])))
        return f"{count}:{last}:{total}:{shown}"

    async def mark_planned(self, cohort_id: int, step: str, mark: str, now: datetime) -> None:
        found = await self._session.get(PlannedStep, (cohort_id, step))
        if found is None:
            found = PlannedStep(cohort_id=cohort_id, step=step, mark=mark, planned_at=now)
            self._session.add(found)
        else:
            found.mark, found.planned_at = mark, now
        await self._session.flush()

    # ------------------------------------------------------------ outages

    async def outage_begun(
        self, cohort_id: int, step: str, kind: str, trouble: str, since: datetime, now: datetime
    ) -> bool:
        """Note that an outage delays a step; True if it is news (nobody noted it yet)."""
        if await self._session.get(DeliveryOutage, (cohort_id, step)) is not None:
            return False
        inserted = await self._session.scalars(
            insert_ignoring_duplicates(self._session, DeliveryOutage)
            .values(
                cohort_id=cohort_id,
                step=step,
                kind=kind,
                trouble=trouble,
                since=since,
                noticed_at=now,
                recovered_at=None,
            )
            .returning(DeliveryOutage.step)
        )
        return len(inserted.all()) == 1

    async def open_outages(self) -> list[DeliveryOutage]:
        query = select(DeliveryOutage).where(DeliveryOutage.recovered_at.is_(None))
        return list(await self._session.scalars(query))

    async def outage(self, cohort_id: int, step: str) -> DeliveryOutage | None:
        return await self._session.get(DeliveryOutage, (cohort_id, step), populate_existing=True)

    # What a rehearsal asks of the outbox: it moves its clock from one due moment to the
    # next, and says so when something that fell due was not sent.

    async def due_pending(self, now: datetime) -> list[int]:
        """The rows waiting to go that are due by `now`."""
        query = select(Delivery.id).where(
            Delivery.state == DeliveryState.pending, Delivery.due_at <= now
        )
        return list(await self._session.scalars(query))

    async def next_due(self, after: datetime, until: datetime) -> datetime | None:
        """When the next row waiting to go falls due, after `after` and by `until`."""
        query = select(func.min(Delivery.due_at)).where(
            Delivery.state == DeliveryState.pending,
            Delivery.due_at > after,
            Delivery.due_at <= until,
        )
        return await self._session.scalar(query)

    async def skipped_among(self, delivery_ids: list[int]) -> list[Delivery]:
        """Which of these rows were skipped (not those sent as part of another's message),
        in due order."""
        if not delivery_ids:
            return []
        query = (
            select(Delivery)
            .where(
                Delivery.id.in_(delivery_ids),
                Delivery.state == DeliveryState.skipped,
                Delivery.reason.is_(None)
                | ~Delivery.reason.startswith(IN_MESSAGE, autoescape=True),
            )
            .order_by(Delivery.due_at, Delivery.id)
        )
        return list(await self._session.scalars(query))

    # A person's nudges go out as one message a day: the row that goes lists the others.

    async def open_nudges(
        self, person_id: int, cohort_id: int, now: datetime, carrier: str
    ) -> list[Delivery]:
        """The person's nudges in a cohort that are due and not yet sent or dropped, and
        those an earlier attempt at `carrier`'s message took, in due order."""
        query = (
            select(Delivery)
            .where(
                Delivery.person_id == person_id,
                Delivery.cohort_id == cohort_id,
                Delivery.kind.startswith(NUDGE_PREFIX, autoescape=True),
                Delivery.state.in_([DeliveryState.pending, DeliveryState.sending])
                | _folded_into(carrier),
                Delivery.due_at <= now,
            )
            .order_by(Delivery.due_at, Delivery.id)
        )
        return list(await self._session.scalars(query))

    async def fold_into(self, delivery_ids: list[int], key: str, worker: str | None) -> set[int]:
        """Those of these rows still waiting, or claimed by this `worker`, go out in the
        message of `key`; which they are. A row another sender holds is its to send."""
        if not delivery_ids:
            return set()
        ours = (Delivery.state == DeliveryState.sending) & (Delivery.claimed_by == worker)
        mine = (Delivery.state == DeliveryState.pending) | ours | _folded_into(key)
        taken = await self._session.scalars(
            update(Delivery)
            .where(Delivery.id.in_(delivery_ids), mine)
            .values(state=DeliveryState.skipped, reason=IN_MESSAGE + key)
            .returning(Delivery.id)
            .execution_options(synchronize_session=False)
        )
        return set(taken)

    async def nudged_at_least(self, cohort_id: int, count: int) -> list[int]:
        """The people of a cohort sent at least `count` nudges: the only ones whose last
        few can have gone unheeded."""
        query = (
            select(Delivery.person_id)
            .where(
                Delivery.cohort_id == cohort_id,
                Delivery.kind.startswith(NUDGE_PREFIX, autoescape=True),
                Delivery.state == DeliveryState.sent,
                Delivery.person_id.is_not(None),
            )
            .group_by(Delivery.person_id)
            .having(func.count() >= count)
        )
        return [p for p in await self._session.scalars(query) if p is not None]


def _troubled(trouble: str | None, now: datetime | None) -> dict[str, Any]:
    """Columns for a row that waits after trouble: the category, and since when (kept from
    the first trouble: `coalesce`)."""
    if trouble is None:
        return {}
    since = now or utcnow()
    # Typed, so that the column's UTC conversion applies to it as to any other value.
    stamp = literal(since, type_=Delivery.__table__.c.trouble_since.type)
    return {"trouble": trouble, "trouble_since": func.coalesce(Delivery.trouble_since, stamp)}


def _folded_into(key: str) -> ColumnElement[bool]:
    """Rows taken into the message of the row `key`."""
    return (Delivery.state == DeliveryState.skipped) & (Delivery.reason == IN_MESSAGE + key)
