"""The inbound journal: each action is written before it is acknowledged, and taken by one
worker at a time under a lease, as the delivery outbox's rows are (storage/deliveries.py)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Integer, Row, Table, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import BRIEF, insert_ignoring_duplicates, notify
from storage.models import InboundEntry, InboundFailure


def _claim_statement(dialect: str, platforms: tuple[str, ...] | None) -> Any:
    """The claim, with the time, the lease, the worker and the limit as parameters: built
    once (building it took 0.4 ms, a worker claims every 50 clicks of a burst)."""
    journal = cast(Table, InboundEntry.__table__)
    now = bindparam("now", type_=journal.c.due_at.type)
    claimable = or_(
        (InboundEntry.lease_until.is_(None)) & (InboundEntry.due_at <= now),
        InboundEntry.lease_until < now,
    )
    if platforms is not None:
        claimable = claimable & InboundEntry.platform.in_(platforms)
    candidates = (
        select(InboundEntry.id)
        .where(claimable)
        .order_by(InboundEntry.id)
        .limit(bindparam("limit", type_=Integer))
    )
    if dialect == "postgresql":
        # As a CTE, run once (see DeliveryRepository.claim); other processes' rows skipped.
        chosen = candidates.with_for_update(skip_locked=True).cte("chosen")
        candidates = select(chosen.c.id)
    # The table's own UPDATE and the columns a worker reads, as rows: ORM objects for a
    # batch of 50 cost as much again as the statement, and nothing keeps them.
    return (
        update(journal)
        .where(journal.c.id.in_(candidates.scalar_subquery()), claimable)
        .values(
            lease_until=bindparam("until", type_=journal.c.lease_until.type),
            claimed_by=bindparam("worker", type_=journal.c.claimed_by.type),
            attempts=journal.c.attempts + 1,
        )
        .returning(*(journal.c[name] for name in CLAIMED_COLUMNS))
    )


# Per dialect and the platforms a worker serves.
_CLAIM: dict[tuple[str, tuple[str, ...] | None], Any] = {}


@dataclass(frozen=True)
class Failed:
    """What a failure row says: who acted, where, what it was and why it did not go."""

    platform: str
    workspace: str
    user_id: str
    conversation_id: str | None
    kind: str
    what: str
    reason: str


@dataclass(frozen=True)
class Claim:
    """Actions claimed as they are journalled: their positions, the worker, its lease."""

    positions: Collection[int]
    worker: str
    until: datetime


# What a claimed entry is read with (bot/work.py's Entry).
CLAIMED_COLUMNS = (
    "id",
    "platform",
    "kind",
    "payload",
    "attempts",
    "received_at",
    "handled",
    "request_id",
    "event_id",
)

# What a process listens on to hear that another journalled an action (PostgreSQL).
INBOUND_CHANNEL = "digilog_inbound"


# One entry's own statements: one row, through its id (see storage.db.BRIEF).
_BRIEF = {BRIEF: True}


class InboundRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record_many(
        self,
        actions: list[tuple[str, str, dict[str, Any], str | None, str | None]],
        now: datetime,
        *,
        said: str = "",
        taken: Claim | None = None,
    ) -> dict[tuple[str, str], int]:
        """Journal several actions (platform, kind, payload, event id, request id) at once;
        returns the (platform, event id) of those new, with their row ids (the rest were
        retries). `said`: what the processes listening on INBOUND_CHANNEL hear of it.
        `taken`: which of them (by position; only those with an event id) are claimed
        as they are written, by whom and until when."""
        rows = [
            {
                "platform": platform,
                "event_id": event_id,
                "kind": kind,
                "payload": payload,
                "due_at": now,
                "attempts": 0,
                "handled": False,
                "received_at": now,
                "request_id": request_id,
                "claimed_by": None,
                "lease_until": None,
            }
            for platform, kind, payload, event_id, request_id in actions
        ]
        if taken is not None:
            for position in taken.positions:
                if rows[position]["event_id"] is not None:
                    rows[position] |= {
                        "claimed_by": taken.worker,
                        "lease_until": taken.until,
                        "attempts": 1,
                    }
        # Clicks and commands have no platform id to be resent by: one executemany, its
        # statement compiled once for good (a multi-row VALUES is compiled anew for each
        # number of rows, which cost more than writing them).
        # Workers of other processes hear of it at the commit, not at their next poll.
        await notify(self._session, INBOUND_CHANNEL, said)
        if plain := [row for row in rows if row["event_id"] is None]:
            # The table's own INSERT, not the ORM's bulk one: the ack waits for it.
            journal = cast(Table, InboundEntry.__table__)
            await self._session.execute(insert(journal), plain)
        identified = [row for row in rows if row["event_id"] is not None]
        if not identified:
            return {}
        # Those a platform may resend (events, Teams activities): one executemany that
        # skips the ones journalled before and names the rows it wrote (SQLAlchemy sends
        # it as a few multi-row INSERTs), not a statement each.
        inserted = await self._session.execute(
            insert_ignoring_duplicates(self._session, InboundEntry.__table__).returning(
                InboundEntry.platform, InboundEntry.event_id, InboundEntry.id
            ),
            identified,
        )
        return {(str(platform), str(event_id)): int(id_) for platform, event_id, id_ in inserted}

    async def claim(
        self,
        worker: str,
        now: datetime,
        lease: timedelta,
        limit: int,
        platforms: Collection[str] | None = None,
    ) -> list[Row[Any]]:
        """Take up to `limit` due entries (of `platforms`, or any), oldest first, until the
        lease runs out; an entry whose lease ran out belonged to a worker that died and
        is taken again."""
        dialect = self._session.get_bind().dialect.name
        key = (dialect, None if platforms is None else tuple(sorted(platforms)))
        statement = _CLAIM.get(key)
        if statement is None:
            statement = _CLAIM[key] = _claim_statement(*key)
        params = {"now": now, "until": now + lease, "worker": worker, "limit": limit}
        claimed = await self._session.execute(statement, params)
        return sorted(claimed.all(), key=lambda row: int(row.id))

    async def renew(self, worker: str, until: datetime) -> None:
        """Keep this worker's entries: their replies are still on their way."""
        await self._session.execute(
            update(InboundEntry)
            .where(InboundEntry.claimed_by == worker, InboundEntry.lease_until.is_not(None))
            .values(lease_until=until)
            .execution_options(synchronize_session=False)
        )

    async def handled(self, entry_ids: list[int]) -> None:
        """In the transaction that stores their work: done, whatever happens next."""
        if not entry_ids:
            return
        await self._session.execute(
            update(InboundEntry)
            .where(InboundEntry.id.in_(entry_ids))
            .values(handled=True)
            .execution_options(synchronize_session=False)
        )

    async def done(self, entry_id: int, worker: str) -> bool:
        """The work and its replies are done: the entry goes. False if another worker had
        taken it meanwhile (this one's lease ran out)."""
        result = await self._session.execute(
            delete(InboundEntry)
            .where(InboundEntry.id == entry_id, InboundEntry.claimed_by == worker)
            .execution_options(synchronize_session=False, **_BRIEF)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def all_done(self, entry_ids: list[int], worker: str) -> int:
        """Several entries done at once (their work was marked handled as it was stored)."""
        result = await self._session.execute(
            delete(InboundEntry)
            .where(InboundEntry.id.in_(entry_ids), InboundEntry.claimed_by == worker)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def retry_at(self, entry_id: int, worker: str, when: datetime, reason: str) -> bool:
        result = await self._session.execute(
            update(InboundEntry)
            .where(InboundEntry.id == entry_id, InboundEntry.claimed_by == worker)
            .values(due_at=when, lease_until=None, claimed_by=None, reason=reason[:2000])
            .execution_options(synchronize_session=False, **_BRIEF)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def fail(
        self,
        entry_id: int,
        worker: str,
        failed: Failed,
        *,
        cohort_id: int | None,
        attempts: int,
        received_at: datetime,
        told: bool,
        now: datetime,
    ) -> bool:
        """Give up on an entry: it leaves the journal and a failure row says what it was."""
        if not await self.done(entry_id, worker):
            return False
        self._session.add(
            InboundFailure(
                platform=failed.platform,
                workspace=failed.workspace[:100],
                user_id=failed.user_id[:100],
                conversation_id=(failed.conversation_id or None) and failed.conversation_id[:300],
                cohort_id=cohort_id,
                kind=failed.kind[:30],
                what=failed.what[:200],
                reason=failed.reason[:2000],
                attempts=attempts,
                told=told,
                received_at=received_at,
                failed_at=now,
            )
        )
        await self._session.flush()
        return True

    async def waiting(self) -> int:
        """Entries not done yet, in any process."""
        return int(await self._session.scalar(select(func.count()).select_from(InboundEntry)) or 0)

    async def failures(
        self, *, cohort_id: int | None = None, since: datetime | None = None, limit: int = 50
    ) -> list[InboundFailure]:
        """The latest failures, newest first: of one cohort, or all."""
        query = select(InboundFailure)
        if cohort_id is not None:
            query = query.where(InboundFailure.cohort_id == cohort_id)
        if since is not None:
            query = query.where(InboundFailure.failed_at >= since)
        query = query.order_by(InboundFailure.failed_at.desc(), InboundFailure.id.desc())
        return list(await self._session.scalars(query.limit(limit)))

    async def failure_count(
        self, *, cohort_id: int | None = None, since: datetime | None = None
    ) -> int:
        query = select(func.count()).select_from(InboundFailure)
        if cohort_id is not None:
            query = query.where(InboundFailure.cohort_id == cohort_id)
        if since is not None:
            query = query.where(InboundFailure.failed_at >= since)
        return int(await self._session.scalar(query) or 0)

    async def forget_failures_before(self, moment: datetime) -> int:
        result = await self._session.execute(
            delete(InboundFailure).where(InboundFailure.failed_at < moment)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
