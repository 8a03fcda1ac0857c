"""The delivery outbox: rows written before anything is sent, claimed by one sender at a time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import insert_ignoring_duplicates
from storage.models import Delivery, DeliveryState, now_of

NUDGE_PREFIX = "nudge_"
# The reason of a nudge that went out as a line of another's message (the day's one
# message to a person): it was not skipped, it was sent with that one.
IN_MESSAGE = "sent in the message of "


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
        self, worker: str, now: datetime, lease: timedelta, limit: int
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
        candidates = (
            select(Delivery.id).where(claimable).order_by(Delivery.due_at, Delivery.id).limit(limit)
        )
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
        return sorted(claimed.all(), key=lambda d: (d.due_at, d.id))

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

    async def release(self, delivery_ids: list[int], worker: str) -> None:
        """Give back claimed rows this worker has not begun: due again, for anyone."""
        await self._session.execute(
            update(Delivery)
            .where(
                Delivery.id.in_(delivery_ids),
                Delivery.claimed_by == worker,
                Delivery.state == DeliveryState.sending,
                Delivery.maybe_sent.is_(False),
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
        self, delivery_id: int, worker: str, when: datetime, reason: str, *, maybe_sent: bool
    ) -> bool:
        return await self._finish(
            delivery_id,
            worker,
            state=DeliveryState.pending,
            due_at=when,
            reason=reason,
            maybe_sent=maybe_sent,
            claimed_by=None,
        )

    async def postpone(
        self,
        delivery_id: int,
        worker: str,
        when: datetime,
        reason: str,
        *,
        nothing_sent: bool = False,
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
        )

    async def skip(self, delivery_id: int, worker: str, reason: str) -> bool:
        return await self._finish(delivery_id, worker, state=DeliveryState.skipped, reason=reason)

    async def fail(self, delivery_id: int, worker: str, reason: str) -> bool:
        return await self._finish(delivery_id, worker, state=DeliveryState.failed, reason=reason)

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

    async def open_nudges(self, person_id: int, cohort_id: int, now: datetime) -> list[Delivery]:
        """The person's nudges in a cohort that are due and not yet sent or dropped, in due
        order."""
        query = (
            select(Delivery)
            .where(
                Delivery.person_id == person_id,
                Delivery.cohort_id == cohort_id,
                Delivery.kind.startswith(NUDGE_PREFIX, autoescape=True),
                Delivery.state.in_([DeliveryState.pending, DeliveryState.sending]),
                Delivery.due_at <= now,
            )
            .order_by(Delivery.due_at, Delivery.id)
        )
        return list(await self._session.scalars(query))

    async def fold_into(self, delivery_ids: list[int], key: str) -> None:
        """These rows, waiting and not held by any sender, go out in the message of `key`."""
        if not delivery_ids:
            return
        await self._session.execute(
            update(Delivery)
            .where(Delivery.id.in_(delivery_ids), Delivery.state == DeliveryState.pending)
            .values(state=DeliveryState.skipped, reason=IN_MESSAGE + key)
            .execution_options(synchronize_session=False)
        )

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
