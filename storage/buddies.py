"""Learning-buddy rounds: one per cohort and theme, written once, whoever clicks first."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import insert_ignoring_duplicates
from storage.models import (
    BuddyGroup,
    BuddyMember,
    BuddyRound,
    BuddyRule,
    Membership,
    Person,
    now_of,
)


class BuddyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def earlier_pairs(self, cohort_id: int) -> set[frozenset[int]]:
        """Everyone who has been someone's buddy in this cohort, as pairs."""
        query = (
            select(BuddyMember.group_id, BuddyMember.person_id)
            .join(BuddyGroup, BuddyGroup.id == BuddyMember.group_id)
            .join(BuddyRound, BuddyRound.id == BuddyGroup.round_id)
            .where(BuddyRound.cohort_id == cohort_id)
            .order_by(BuddyMember.group_id)
        )
        rows = (await self._session.execute(query)).all()
        pairs: set[frozenset[int]] = set()
        for _, members in itertools.groupby(rows, key=lambda row: row[0]):
            ids = [person for _, person in members]
            pairs.update(frozenset(p) for p in itertools.combinations(ids, 2))
        return pairs

    async def start_round(
        self, cohort_id: int, theme: int, seed: int, groups: Sequence[Sequence[int]]
    ) -> list[int] | None:
        """Store the groups; None if this cohort and theme had its round already."""
        round_id = await self._session.scalar(
            insert_ignoring_duplicates(self._session, BuddyRound)
            .values(
                cohort_id=cohort_id, theme_number=theme, seed=seed, created_at=now_of(self._session)
            )
            .returning(BuddyRound.id)
        )
        if round_id is None:
            return None
        ids = []
        for members in groups:
            group = BuddyGroup(round_id=round_id)
            self._session.add(group)
            await self._session.flush()
            self._session.add_all(BuddyMember(group_id=group.id, person_id=p) for p in members)
            ids.append(group.id)
        await self._session.flush()
        return ids

    async def members(self, group_id: int) -> list[Person]:
        query = (
            select(Person)
            .join(BuddyMember, BuddyMember.person_id == Person.id)
            .where(BuddyMember.group_id == group_id)
            .order_by(Person.display_name)
        )
        return list(await self._session.scalars(query))

    async def latest_group_of(
        self, cohort_id: int, person_id: int
    ) -> tuple[int, dict[int, datetime | None]] | None:
        """The person's group in the cohort's newest round, and when each member of it said
        "we met" (None: not yet); None if there is no round or the person is not in it."""
        latest = (
            select(BuddyRound.id)
            .where(BuddyRound.cohort_id == cohort_id)
            .order_by(BuddyRound.created_at.desc(), BuddyRound.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        group_id = await self._session.scalar(
            select(BuddyGroup.id)
            .join(BuddyMember, BuddyMember.group_id == BuddyGroup.id)
            .where(BuddyGroup.round_id == latest, BuddyMember.person_id == person_id)
        )
        if group_id is None:
            return None
        query = (
            select(BuddyMember.person_id, BuddyMember.met_at)
            .where(BuddyMember.group_id == group_id)
            .order_by(BuddyMember.id)
        )
        return group_id, dict((await self._session.execute(query)).all())

    async def cohort_of_group(self, group_id: int) -> int | None:
        query = (
            select(BuddyRound.cohort_id)
            .join(BuddyGroup, BuddyGroup.round_id == BuddyRound.id)
            .where(BuddyGroup.id == group_id)
        )
        cohort: int | None = await self._session.scalar(query)
        return cohort

    async def mark_met(self, group_id: int, person_id: int, when: datetime) -> bool | None:
        """None if the person is not in the group; False if they had said so already."""
        result = await self._session.execute(
            update(BuddyMember)
            .where(
                BuddyMember.group_id == group_id,
                BuddyMember.person_id == person_id,
                BuddyMember.met_at.is_(None),
            )
            .values(met_at=when)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            return True
        member = await self._session.scalar(
            select(BuddyMember.id).where(
                BuddyMember.group_id == group_id, BuddyMember.person_id == person_id
            )
        )
        return None if member is None else False

    async def set_opt_out(self, cohort_id: int, person_id: int, opt_out: bool) -> None:
        await self._session.execute(
            update(Membership)
            .where(Membership.cohort_id == cohort_id, Membership.person_id == person_id)
            .values(buddy_opt_out=opt_out)
        )

    async def met_by_theme(self, cohort_id: int) -> dict[int, tuple[int, int]]:
        """theme (0: the whole programme) → (groups, groups where someone said "we met")."""
        query = (
            select(BuddyRound.theme_number, BuddyGroup.id, BuddyMember.met_at)
            .join(BuddyGroup, BuddyGroup.round_id == BuddyRound.id)
            .join(BuddyMember, BuddyMember.group_id == BuddyGroup.id)
            .where(BuddyRound.cohort_id == cohort_id)
        )
        met: dict[int, dict[int, bool]] = {}
        for theme, group, met_at in (await self._session.execute(query)).all():
            groups = met.setdefault(theme, {})
            groups[group] = groups.get(group, False) or met_at is not None
        return {theme: (len(g), sum(g.values())) for theme, g in met.items()}

    async def set_rule(self, cohort_id: int, a: int, b: int, pinned: bool | None) -> None:
        """Pin (True) or forbid (False) a pair; None clears what was said of it."""
        first, second = sorted((a, b))
        await self._session.execute(
            delete(BuddyRule).where(
                BuddyRule.cohort_id == cohort_id,
                BuddyRule.first_id == first,
                BuddyRule.second_id == second,
            )
        )
        if pinned is not None:
            self._session.add(
                BuddyRule(cohort_id=cohort_id, first_id=first, second_id=second, pinned=pinned)
            )
        await self._session.flush()

    async def rules(self, cohort_id: int) -> tuple[set[frozenset[int]], set[frozenset[int]]]:
        """The pinned pairs and the forbidden ones."""
        query = select(BuddyRule).where(BuddyRule.cohort_id == cohort_id)
        pinned: set[frozenset[int]] = set()
        forbidden: set[frozenset[int]] = set()
        for rule in await self._session.scalars(query):
            (pinned if rule.pinned else forbidden).add(frozenset((rule.first_id, rule.second_id)))
        return pinned, forbidden

    async def round_groups(self, cohort_id: int, theme: int) -> dict[int, list[int]] | None:
        """group id → members of the cohort's round for that theme; None if there is none."""
        round_id = await self._session.scalar(
            select(BuddyRound.id).where(
                BuddyRound.cohort_id == cohort_id, BuddyRound.theme_number == theme
            )
        )
        if round_id is None:
            return None
        query = (
            select(BuddyGroup.id, BuddyMember.person_id)
            .join(BuddyMember, BuddyMember.group_id == BuddyGroup.id, isouter=True)
            .where(BuddyGroup.round_id == round_id)
            .order_by(BuddyGroup.id, BuddyMember.id)
        )
        groups: dict[int, list[int]] = {}
        for group, person in (await self._session.execute(query)).all():
            groups.setdefault(group, [])
            if person is not None:
                groups[group].append(person)
        return groups

    async def move(self, person_id: int, from_group: int | None, to_group: int | None) -> None:
        if from_group is not None:
            await self._session.execute(
                delete(BuddyMember).where(
                    BuddyMember.group_id == from_group, BuddyMember.person_id == person_id
                )
            )
        if to_group is not None:
            self._session.add(BuddyMember(group_id=to_group, person_id=person_id))
        await self._session.flush()
