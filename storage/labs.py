"""Lab sign-ups: seats taken by a conditional update, so no session is ever over capacity,
and a waitlist promoted in order when someone cancels."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import insert_ignoring_duplicates
from storage.models import LabSeats, LabSignup, Person, SignupState, now_of


@dataclass(frozen=True)
class Cancelled:
    was: SignupState | None  # None: the person had no place to give up
    promoted: Person | None  # the first on the waitlist, who now has the seat


# Attendance counts only with a seat still held: someone who gave it up afterwards no
# longer shows among the attendees, so the report does not count them either.
_ATTENDED = (LabSignup.state == SignupState.signed_up, LabSignup.attended_at.is_not(None))


class LabRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _seats(self, cohort_id: int, session_key: str, capacity: int) -> None:
        await self._session.execute(
            insert_ignoring_duplicates(self._session, LabSeats).values(
                cohort_id=cohort_id, session_key=session_key, capacity=capacity, taken=0
            )
        )
        # A programme file may have changed the capacity since the seats were counted.
        await self._session.execute(
            update(LabSeats)
            .where(LabSeats.cohort_id == cohort_id, LabSeats.session_key == session_key)
            .values(capacity=capacity)
        )

    async def state(self, cohort_id: int, session_key: str, person_id: int) -> SignupState | None:
        return await self._session.scalar(
            select(LabSignup.state).where(
                LabSignup.cohort_id == cohort_id,
                LabSignup.session_key == session_key,
                LabSignup.person_id == person_id,
            )
        )

    async def sign_up(
        self, cohort_id: int, session_key: str, capacity: int, person_id: int
    ) -> tuple[SignupState, bool]:
        """A seat if one is free, else a place on the waitlist; and whether that is new."""
        this = (
            LabSignup.cohort_id == cohort_id,
            LabSignup.session_key == session_key,
            LabSignup.person_id == person_id,
        )
        before = await self.state(cohort_id, session_key, person_id)
        if before in (SignupState.signed_up, SignupState.waiting):
            return before, False
        # First the person's own row, in the queue: a second sign-up of theirs at the
        # same moment finds it and takes no seat.
        if before is None:
            queued = await self._session.scalar(
                insert_ignoring_duplicates(self._session, LabSignup)
                .values(
                    cohort_id=cohort_id,
                    session_key=session_key,
                    person_id=person_id,
                    state=SignupState.waiting,
                    created_at=now_of(self._session),
                )
                .returning(LabSignup.id)
            )
            changed = queued is not None
        else:  # signing up again after cancelling: at the back of the queue
            requeued = await self._session.execute(
                update(LabSignup)
                .where(*this, LabSignup.state == SignupState.cancelled)
                .values(state=SignupState.waiting, created_at=now_of(self._session))
                .execution_options(synchronize_session=False)
            )
            changed = requeued.rowcount == 1  # type: ignore[attr-defined]
        if not changed:
            now_state = await self.state(cohort_id, session_key, person_id)
            return now_state or SignupState.waiting, False
        await self._seats(cohort_id, session_key, capacity)
        # Taking the seat and checking there is one are one statement: concurrent
        # sign-ups queue on the row, and each sees the count the one before left.
        took = await self._session.execute(
            update(LabSeats)
            .where(
                LabSeats.cohort_id == cohort_id,
                LabSeats.session_key == session_key,
                LabSeats.taken < LabSeats.capacity,
            )
            .values(taken=LabSeats.taken + 1)
            .execution_options(synchronize_session=False)
        )
        if took.rowcount != 1:  # type: ignore[attr-defined]
            return SignupState.waiting, True
        await self._session.execute(
            update(LabSignup)
            .where(*this)
            .values(state=SignupState.signed_up)
            .execution_options(synchronize_session=False)
        )
        return SignupState.signed_up, True

    async def cancel(
        self, cohort_id: int, session_key: str, person_id: int, *, promote: bool = True
    ) -> Cancelled:
        """Give up a seat or a waitlist place; a freed seat goes to the first waiting, unless
        not to `promote` (a session that has begun: its waitlist no longer moves)."""
        was = await self.state(cohort_id, session_key, person_id)
        if was not in (SignupState.signed_up, SignupState.waiting):
            return Cancelled(None, None)
        mine = (
            LabSignup.cohort_id == cohort_id,
            LabSignup.session_key == session_key,
        )
        await self._session.execute(
            update(LabSignup)
            .where(*mine, LabSignup.person_id == person_id, LabSignup.state == was)
            .values(state=SignupState.cancelled)
            .execution_options(synchronize_session=False)
        )
        if was is SignupState.waiting:
            return Cancelled(was, None)
        while promote:
            first = await self._session.scalar(
                select(LabSignup.id)
                .where(*mine, LabSignup.state == SignupState.waiting)
                .order_by(LabSignup.created_at, LabSignup.id)
                .limit(1)
            )
            if first is None:
                break
            # The seat passes on only if that person is still waiting (a concurrent
            # cancellation may have promoted them); else the next one.
            promoted = await self._session.execute(
                update(LabSignup)
                .where(LabSignup.id == first, LabSignup.state == SignupState.waiting)
                .values(state=SignupState.signed_up)
                .execution_options(synchronize_session=False)
            )
            if promoted.rowcount == 1:  # type: ignore[attr-defined]
                signup = await self._session.get(LabSignup, first)
                assert signup is not None
                return Cancelled(was, await self._session.get(Person, signup.person_id))
        await self._session.execute(
            update(LabSeats)
            .where(LabSeats.cohort_id == cohort_id, LabSeats.session_key == session_key)
            .values(taken=LabSeats.taken - 1)
        )
        return Cancelled(was, None)

    async def people(self, cohort_id: int, session_key: str, state: SignupState) -> list[Person]:
        query = (
            select(Person)
            .join(LabSignup, LabSignup.person_id == Person.id)
            .where(
                LabSignup.cohort_id == cohort_id,
                LabSignup.session_key == session_key,
                LabSignup.state == state,
            )
            .order_by(LabSignup.created_at, LabSignup.id)
        )
        return list(await self._session.scalars(query))

    async def counts(self, cohort_id: int) -> dict[str, dict[SignupState, int]]:
        """session key → how many are signed up and waiting."""
        query = (
            select(LabSignup.session_key, LabSignup.state, func.count())
            .where(LabSignup.cohort_id == cohort_id, LabSignup.state != SignupState.cancelled)
            .group_by(LabSignup.session_key, LabSignup.state)
        )
        found: dict[str, dict[SignupState, int]] = {}
        for key, state, count in (await self._session.execute(query)).all():
            found.setdefault(key, {})[SignupState(state)] = count
        return found

    async def of_person(self, cohort_id: int, person_id: int) -> dict[str, SignupState]:
        query = select(LabSignup.session_key, LabSignup.state).where(
            LabSignup.cohort_id == cohort_id,
            LabSignup.person_id == person_id,
            LabSignup.state != SignupState.cancelled,
        )
        return {
            key: SignupState(state) for key, state in (await self._session.execute(query)).all()
        }

    async def seated_people(self, cohort_id: int) -> list[int]:
        """Who holds a seat, once per seat (someone in two sessions counts twice)."""
        query = select(LabSignup.person_id).where(
            LabSignup.cohort_id == cohort_id, LabSignup.state == SignupState.signed_up
        )
        return list(await self._session.scalars(query))

    async def set_attended(
        self, cohort_id: int, session_key: str, person_ids: Collection[int], when: datetime | None
    ) -> None:
        """Mark people with a seat as present (a time) or not (None); marking someone
        again keeps the first time, so repeating a command changes nothing."""
        query = update(LabSignup).where(
            LabSignup.cohort_id == cohort_id,
            LabSignup.session_key == session_key,
            LabSignup.person_id.in_(person_ids),
            LabSignup.state == SignupState.signed_up,
        )
        if when is not None:
            query = query.where(LabSignup.attended_at.is_(None))
        await self._session.execute(
            query.values(attended_at=when).execution_options(synchronize_session=False)
        )

    async def attended(self, cohort_id: int, session_key: str) -> set[int]:
        """Who of those with a seat at the session was marked present."""
        query = select(LabSignup.person_id).where(
            LabSignup.cohort_id == cohort_id,
            LabSignup.session_key == session_key,
            *_ATTENDED,
        )
        return set(await self._session.scalars(query))

    async def attended_people(self, cohort_id: int) -> list[int]:
        """Who attended, once per session (someone at two sessions counts twice)."""
        query = select(LabSignup.person_id).where(LabSignup.cohort_id == cohort_id, *_ATTENDED)
        return list(await self._session.scalars(query))
