"""Gatherings of a cohort (workshops, local meetings, events), by their calendar entry's
stable key: who was present, whether participants may say so themselves, and who has
registered for an event that has seats. A registration takes a seat by a conditional
update, so an event is never over capacity however many register at once."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import insert_ignoring_duplicates, upsert
from storage.models import Attendance, EventRegistration, Gathering, Person, now_of


class GatheringRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _gathering(self, cohort_id: int, entry_key: str) -> None:
        await self._session.execute(
            insert_ignoring_duplicates(self._session, Gathering).values(
                cohort_id=cohort_id, entry_key=entry_key, self_marking=False, taken=0
            )
        )

    # Attendance.

    async def self_marking(self, cohort_id: int) -> set[str]:
        """The gatherings whose participants may mark themselves present."""
        query = select(Gathering.entry_key).where(
            Gathering.cohort_id == cohort_id, Gathering.self_marking.is_(True)
        )
        return set(await self._session.scalars(query))

    async def allow_self_marking(self, cohort_id: int, entry_key: str, allowed: bool) -> None:
        await self._gathering(cohort_id, entry_key)
        await self._session.execute(
            update(Gathering)
            .where(Gathering.cohort_id == cohort_id, Gathering.entry_key == entry_key)
            .values(self_marking=allowed)
            .execution_options(synchronize_session=False)
        )

    async def mark(
        self,
        cohort_id: int,
        entry_key: str,
        person_ids: Collection[int],
        *,
        present: bool,
        by_self: bool = False,
        when: datetime | None = None,
    ) -> None:
        """Present or not; the last mark wins, so a facilitator corrects a mark by marking
        again."""
        if not person_ids:
            return
        moment = when or now_of(self._session)
        await self._session.execute(
            upsert(
                self._session,
                Attendance,
                ["cohort_id", "entry_key", "person_id"],
                ["present", "by_self", "marked_at"],
            ).values(
                [
                    {
                        "cohort_id": cohort_id,
                        "entry_key": entry_key,
                        "person_id": person_id,
                        "present": present,
                        "by_self": by_self,
                        "marked_at": moment,
                    }
                    for person_id in person_ids
                ]
            )
        )

    async def mark_self(self, cohort_id: int, entry_key: str, person_id: int) -> bool:
        """A participant's own "I was there": never over a facilitator's mark."""
        added = await self._session.scalar(
            insert_ignoring_duplicates(self._session, Attendance)
            .values(
                cohort_id=cohort_id,
                entry_key=entry_key,
                person_id=person_id,
                present=True,
                by_self=True,
                marked_at=now_of(self._session),
            )
            .returning(Attendance.id)
        )
        return added is not None

    async def mark_of(self, cohort_id: int, entry_key: str, person_id: int) -> bool | None:
        """Present (True), absent (False), or not marked (None)."""
        return await self._session.scalar(
            select(Attendance.present).where(
                Attendance.cohort_id == cohort_id,
                Attendance.entry_key == entry_key,
                Attendance.person_id == person_id,
            )
        )

    async def present(self, cohort_id: int, entry_key: str | None = None) -> dict[str, set[int]]:
        """entry key → who was present (of one gathering, or of all)."""
        query = select(Attendance.entry_key, Attendance.person_id).where(
            Attendance.cohort_id == cohort_id, Attendance.present.is_(True)
        )
        if entry_key is not None:
            query = query.where(Attendance.entry_key == entry_key)
        found: dict[str, set[int]] = {}
        for key, person_id in (await self._session.execute(query)).all():
            found.setdefault(key, set()).add(person_id)
        return found

    async def of_person(self, cohort_id: int, person_id: int) -> set[str]:
        """The gatherings a person was present at."""
        query = select(Attendance.entry_key).where(
            Attendance.cohort_id == cohort_id,
            Attendance.person_id == person_id,
            Attendance.present.is_(True),
        )
        return set(await self._session.scalars(query))

    # Registration for events.

    async def registered(self, cohort_id: int, entry_key: str) -> list[Person]:
        query = (
            select(Person)
            .join(EventRegistration, EventRegistration.person_id == Person.id)
            .where(
                EventRegistration.cohort_id == cohort_id, EventRegistration.entry_key == entry_key
            )
            .order_by(EventRegistration.created_at, EventRegistration.id)
        )
        return list(await self._session.scalars(query))

    async def is_registered(self, cohort_id: int, entry_key: str, person_id: int) -> bool:
        found = await self._session.scalar(
            select(EventRegistration.id).where(
                EventRegistration.cohort_id == cohort_id,
                EventRegistration.entry_key == entry_key,
                EventRegistration.person_id == person_id,
            )
        )
        return found is not None

    async def register(
        self, cohort_id: int, entry_key: str, capacity: int | None, person_id: int
    ) -> bool | None:
        """True: registered now; False: was already; None: the event is full."""
        if await self.is_registered(cohort_id, entry_key, person_id):
            return False
        if capacity is not None:
            await self._gathering(cohort_id, entry_key)
            # Taking the seat and checking there is one are one statement: concurrent
            # registrations queue on the row, and each sees the count the one before left.
            took = await self._session.execute(
                update(Gathering)
                .where(
                    Gathering.cohort_id == cohort_id,
                    Gathering.entry_key == entry_key,
                    Gathering.taken < capacity,
                )
                .values(taken=Gathering.taken + 1, capacity=capacity)
                .execution_options(synchronize_session=False)
            )
            if took.rowcount != 1:  # type: ignore[attr-defined]
                return None
        added = await self._session.scalar(
            insert_ignoring_duplicates(self._session, EventRegistration)
            .values(
                cohort_id=cohort_id,
                entry_key=entry_key,
                person_id=person_id,
                created_at=now_of(self._session),
            )
            .returning(EventRegistration.id)
        )
        if added is None:  # the same person at the same moment: give the seat back
            if capacity is not None:
                await self._release(cohort_id, entry_key)
            return False
        return True

    async def cancel(self, cohort_id: int, entry_key: str, person_id: int) -> bool:
        gone = await self._session.execute(
            delete(EventRegistration)
            .where(
                EventRegistration.cohort_id == cohort_id,
                EventRegistration.entry_key == entry_key,
                EventRegistration.person_id == person_id,
            )
            .execution_options(synchronize_session=False)
        )
        if gone.rowcount != 1:  # type: ignore[attr-defined]
            return False
        await self._release(cohort_id, entry_key)
        return True

    async def _release(self, cohort_id: int, entry_key: str) -> None:
        await self._session.execute(
            update(Gathering)
            .where(
                Gathering.cohort_id == cohort_id,
                Gathering.entry_key == entry_key,
                Gathering.taken > 0,
            )
            .values(taken=Gathering.taken - 1)
            .execution_options(synchronize_session=False)
        )

    async def counts(self, cohort_id: int) -> dict[str, int]:
        """entry key → how many have registered."""
        query = (
            select(EventRegistration.entry_key, func.count())
            .where(EventRegistration.cohort_id == cohort_id)
            .group_by(EventRegistration.entry_key)
        )
        rows = (await self._session.execute(query)).all()
        return {str(key): int(count) for key, count in rows}
