"""Cohorts, people and who belongs where."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Row, Select, and_, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import BRIEF, insert_ignoring_duplicates
from storage.memo import changed_in_place, memo
from storage.models import (
    NAME_LENGTH,
    Cohort,
    CohortChannel,
    Membership,
    Organisation,
    Person,
    Role,
    now_of,
)


@dataclass(frozen=True)
class Member:
    person: Person
    membership: Membership
    organisation: Organisation


def _whereabouts(row: Row[Person, Cohort, Membership, Organisation]) -> Whereabouts:
    person, cohort, membership, organisation = row
    if membership is None or organisation is None:
        return person, cohort, None
    return person, cohort, Member(person, membership, organisation)


class CohortRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def create(self, cohort: Cohort) -> Cohort:
        self._session.add(cohort)
        await self._session.flush()
        return cohort

    async def by_key(self, key: str) -> Cohort | None:
        return await self._session.scalar(select(Cohort).where(Cohort.key == key))

    async def by_id(self, cohort_id: int) -> Cohort | None:
        return await self._session.get(Cohort, cohort_id)

    async def by_conversation(
        self, platform: str, workspace: str, conversation_id: str
    ) -> Cohort | None:
        """The cohort whose channel this is: its own, or one of its other channels."""
        own = await self._session.scalar(
            select(Cohort).where(
                Cohort.platform == platform,
                Cohort.workspace == workspace,
                Cohort.conversation_id == conversation_id,
            )
        )
        if own is not None:
            return own
        return await self._session.scalar(
            select(Cohort)
            .join(CohortChannel, CohortChannel.cohort_id == Cohort.id)
            .where(
                CohortChannel.platform == platform,
                CohortChannel.workspace == workspace,
                CohortChannel.conversation_id == conversation_id,
            )
        )

    async def other_channels(self, cohort_id: int) -> list[CohortChannel]:
        """The cohort's channels beside its own, oldest first."""
        found = await self._session.scalars(
            select(CohortChannel)
            .where(CohortChannel.cohort_id == cohort_id)
            .order_by(CohortChannel.id)
        )
        return list(found)

    async def add_channel(
        self, cohort_id: int, platform: str, workspace: str, conversation_id: str
    ) -> CohortChannel:
        """A further channel for the cohort; ValueError if it is some cohort's already."""
        if await self.by_conversation(platform, workspace, conversation_id) is not None:
            raise ValueError(f"{platform} channel {conversation_id} belongs to a cohort already")
        channel = CohortChannel(
            cohort_id=cohort_id,
            platform=platform,
            workspace=workspace,
            conversation_id=conversation_id,
        )
        self._session.add(channel)
        await self._session.flush()
        return channel

    async def all(self) -> list[Cohort]:
        return list((await self._session.scalars(select(Cohort).order_by(Cohort.key))).all())

    async def of_person(self, person_id: int) -> list[Cohort]:
        kept = _MEMBERSHIPS.peek(self._session)
        if kept is not None and ("of", person_id) in kept:
            return list(kept[("of", person_id)])
        query = (
            select(Cohort)
            .join(Membership, Membership.cohort_id == Cohort.id)
            .where(Membership.person_id == person_id)
            .order_by(Cohort.key)
        )
        return list((await self._session.scalars(query)).all())


def _where_they_are(many: bool = False) -> Select[Person, Cohort, Membership, Organisation]:
    """PeopleRepository.where_they_are's query, built once: every click asks it, and
    building a statement of this size cost more than running it. `many`: for the
    accounts in the expanding parameter `user_ids` (a batch's) rather than `user_id`."""
    other_channel = select(CohortChannel.cohort_id).where(
        CohortChannel.platform == bindparam("on_platform"),
        CohortChannel.workspace == bindparam("in_workspace"),
        CohortChannel.conversation_id == bindparam("conversation_id"),
    )
    return (
        select(Person, Cohort, Membership, Organisation)
        .select_from(Person)
        .outerjoin(
            Cohort,
            or_(
                and_(
                    Cohort.platform == bindparam("on_platform"),
                    Cohort.workspace == bindparam("in_workspace"),
                    Cohort.conversation_id == bindparam("conversation_id"),
                ),
                Cohort.id.in_(other_channel),
            ),
        )
        .outerjoin(
            Membership,
            and_(Membership.cohort_id == Cohort.id, Membership.person_id == Person.id),
        )
        .outerjoin(Organisation, Organisation.id == Membership.organisation_id)
        .where(
            Person.platform == bindparam("platform"),
            Person.workspace == bindparam("workspace"),
            Person.user_id.in_(bindparam("user_ids", expanding=True))
            if many
            else Person.user_id == bindparam("user_id"),
        )
    )


# One person's: brief (storage.db.BRIEF). A batch's is read in aiosqlite's thread, which
# costs the loop less than reading it here.
_WHERE_THEY_ARE = _where_they_are().execution_options(**{BRIEF: True})
_WHERE_THEY_ALL_ARE = _where_they_are(many=True)
# where_they_are's answers read ahead for a batch, each taken by the event it was read for.
_READ_AHEAD = memo("where_they_are", Person, Membership, Organisation, Cohort, CohortChannel)
# Read ahead for people who clicked outside a cohort's channel (a Teams card in their own
# chat): ("of", person id) → their cohorts by key, ("member", cohort id, person id) →
# their membership or None.
_MEMBERSHIPS = memo("memberships", Person, Membership, Organisation, Cohort)
# What a click brings from the platform (handlers/core/context.py), set on the very Person
# the memos hold. Forgetting them for it made each later click of a first burst (the
# platform's names new to Digilog) read its person again, one query each.
changed_in_place(Person, "display_name", "timezone", "unreachable_since")
Whereabouts = tuple[Person, Cohort | None, "Member | None"]


class PeopleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def by_account(self, platform: str, workspace: str, user_id: str) -> Person | None:
        return await self._session.scalar(
            select(Person).where(
                Person.platform == platform,
                Person.workspace == workspace,
                Person.user_id == user_id,
            )
        )

    async def accounts(self, platform: str, workspace: str) -> set[str]:
        """The user ids of everyone Digilog holds in a workspace (linked to an account)."""
        rows = await self._session.scalars(
            select(Person.user_id).where(
                Person.platform == platform,
                Person.workspace == workspace,
                Person.user_id.is_not(None),
            )
        )
        return {str(user_id) for user_id in rows}

    async def read_ahead(
        self,
        platform: str,
        workspace: str,
        user_ids: Collection[str],
        conversation: tuple[str, str, str],
    ) -> None:
        """where_they_are for several accounts in one conversation, in one query: a
        batch's clicks each ask it. Each answer is kept for the one call it was read for,
        and forgotten with the others once this transaction writes to people, their
        memberships or cohorts (storage/memo.py)."""
        on_platform, in_workspace, conversation_id = conversation
        params = {
            "platform": platform,
            "workspace": workspace,
            "user_ids": sorted(set(user_ids)),
            "on_platform": on_platform,
            "in_workspace": in_workspace,
            "conversation_id": conversation_id,
        }
        rows: dict[str | None, list[Row[Person, Cohort, Membership, Organisation]]] = {}
        for row in (await self._session.execute(_WHERE_THEY_ALL_ARE, params)).all():
            rows.setdefault(row[0].user_id, []).append(row)
        kept = _READ_AHEAD.of(self._session)
        for user_id, found in rows.items():
            if len(found) == 1:  # else asked again, one by one, as where_they_are does
                kept[(platform, workspace, user_id, conversation)] = _whereabouts(found[0])

    async def read_ahead_elsewhere(
        self, platform: str, workspace: str, clicks: Collection[tuple[str, tuple[str, str, str]]]
    ) -> None:
        """where_they_are, the cohorts and the memberships of people who each clicked in a
        conversation of their own (user id, conversation): a Teams card in one's own chat.
        Three queries for the batch: the people, which of the conversations are a
        cohort's (those are left to be read one by one), and their memberships."""
        users = sorted({user for user, _ in clicks})
        people = {
            person.user_id: person
            for person in await self._session.scalars(
                select(Person).where(
                    Person.platform == platform,
                    Person.workspace == workspace,
                    Person.user_id.in_(users),
                )
            )
        }
        if not people:
            return
        places = {place for _, place in clicks}
        claimed = await self._cohort_conversations(places)
        rows = await self._session.execute(
            select(Membership, Organisation, Cohort)
            .join(Organisation, Organisation.id == Membership.organisation_id)
            .join(Cohort, Cohort.id == Membership.cohort_id)
            .where(Membership.person_id.in_([person.id for person in people.values()]))
            .order_by(Cohort.key)
        )
        by_id = {person.id: person for person in people.values()}
        memberships = _MEMBERSHIPS.of(self._session)
        for person in people.values():
            memberships[("of", person.id)] = []
        for membership, organisation, cohort in rows.all():
            person = by_id[membership.person_id]
            memberships[("of", person.id)].append(cohort)
            memberships[("member", cohort.id, person.id)] = Member(person, membership, organisation)
        whereabouts = _READ_AHEAD.of(self._session)
        for user, place in clicks:
            if user in people and place not in claimed:
                whereabouts[(platform, workspace, user, place)] = (people[user], None, None)

    async def _cohort_conversations(
        self, places: Collection[tuple[str, str, str]]
    ) -> set[tuple[str, str, str]]:
        """Which of these conversations are a cohort's, its own or another of its channels."""
        ids = sorted({conversation for _, _, conversation in places})
        own = select(Cohort.platform, Cohort.workspace, Cohort.conversation_id).where(
            Cohort.conversation_id.in_(ids)
        )
        other = select(
            CohortChannel.platform, CohortChannel.workspace, CohortChannel.conversation_id
        ).where(CohortChannel.conversation_id.in_(ids))
        found = await self._session.execute(own.union_all(other))
        return {(p, w, c) for p, w, c in found.all()} & set(places)

    def known_person(
        self, platform: str, workspace: str, user_id: str, conversation: tuple[str, str, str]
    ) -> Whereabouts | None:
        """What read_ahead found for this account, without taking it."""
        kept = _READ_AHEAD.peek(self._session)
        if kept is None:
            return None
        return kept.get((platform, workspace, user_id, conversation))

    async def where_they_are(
        self, platform: str, workspace: str, user_id: str, conversation: tuple[str, str, str]
    ) -> Whereabouts | None:
        """In one query: the person with this account, the cohort whose channel (its own or
        another of its channels) the conversation is, and their membership of it. None
        when that is not one answer (nobody has the account): then ask one by one."""
        kept = _READ_AHEAD.peek(self._session)
        if kept and (ahead := kept.pop((platform, workspace, user_id, conversation), None)):
            return ahead  # type: ignore[no-any-return]
        on_platform, in_workspace, conversation_id = conversation
        params = {
            "platform": platform,
            "workspace": workspace,
            "user_id": user_id,
            "on_platform": on_platform,
            "in_workspace": in_workspace,
            "conversation_id": conversation_id,
        }
        rows = (await self._session.execute(_WHERE_THEY_ARE, params)).all()
        if len(rows) != 1:  # nobody, or (never meant) two cohorts claiming the channel
            return None
        return _whereabouts(rows[0])

    async def by_email(self, platform: str, workspace: str, email: str) -> Person | None:
        return await self._session.scalar(
            select(Person).where(
                Person.platform == platform,
                Person.workspace == workspace,
                func.lower(Person.email) == email.lower(),
            )
        )

    async def link_account(
        self, platform: str, workspace: str, user_id: str, email: str
    ) -> Person | None:
        """The person a roster named only by this e-mail address, now tied to their account."""
        person = await self._session.scalar(
            select(Person).where(
                Person.platform == platform,
                Person.workspace == workspace,
                Person.user_id.is_(None),
                func.lower(Person.email) == email.lower(),
            )
        )
        if person is not None:
            person.user_id = user_id
            await self._session.flush()
        return person

    async def get(self, person_id: int) -> Person | None:
        return await self._session.get(Person, person_id)

    async def find_or_add(
        self,
        platform: str,
        workspace: str,
        *,
        user_id: str | None,
        email: str | None,
        display_name: str,
    ) -> Person:
        """The person with this account (or, failing that, e-mail address), created if new.

        Safe under concurrency: two first clicks by the same new person make one row.
        """
        person = None
        if user_id:
            person = await self.by_account(platform, workspace, user_id)
        if person is None and email:
            person = await self.by_email(platform, workspace, email)
        if person is None and user_id:
            await self._session.execute(
                insert_ignoring_duplicates(self._session, Person).values(
                    platform=platform,
                    workspace=workspace,
                    user_id=user_id,
                    email=email,
                    display_name=display_name[:NAME_LENGTH],
                    created_at=now_of(self._session),
                )
            )
            person = await self.by_account(platform, workspace, user_id)
            assert person is not None
        elif person is None:
            person = Person(
                platform=platform, workspace=workspace, email=email, display_name=display_name
            )
            self._session.add(person)
        else:
            person.user_id = person.user_id or user_id
            person.email = person.email or email
            person.display_name = display_name or person.display_name
        await self._session.flush()
        return person

    async def enrol(
        self, cohort_id: int, person_id: int, organisation_id: int, role: Role
    ) -> tuple[Membership, bool]:
        """Add the person to the cohort, or update their organisation and role; True if new."""
        inserted = await self._session.scalar(
            insert_ignoring_duplicates(self._session, Membership)
            .values(
                cohort_id=cohort_id,
                person_id=person_id,
                organisation_id=organisation_id,
                role=role,
                joined_at=now_of(self._session),
            )
            .returning(Membership.id)
        )
        membership = await self._session.scalar(
            select(Membership).where(
                Membership.cohort_id == cohort_id, Membership.person_id == person_id
            )
        )
        assert membership is not None
        membership.organisation_id, membership.role = organisation_id, role
        await self._session.flush()
        return membership, inserted is not None

    async def member(self, cohort_id: int, person_id: int) -> Member | None:
        kept = _MEMBERSHIPS.peek(self._session)
        if kept is not None and ("of", person_id) in kept:
            found: Member | None = kept.get(("member", cohort_id, person_id))
            return found
        row = (
            await self._session.execute(
                select(Person, Membership, Organisation)
                .join(Membership, Membership.person_id == Person.id)
                .join(Organisation, Organisation.id == Membership.organisation_id)
                .where(Membership.cohort_id == cohort_id, Person.id == person_id)
            )
        ).first()
        return Member(*row) if row else None

    async def members(self, cohort_id: int, role: Role | None = None) -> list[Member]:
        query = (
            select(Person, Membership, Organisation)
            .join(Membership, Membership.person_id == Person.id)
            .join(Organisation, Organisation.id == Membership.organisation_id)
            .where(Membership.cohort_id == cohort_id)
            .order_by(Person.display_name, Person.id)
        )
        if role is not None:
            query = query.where(Membership.role == role)
        return [Member(*row) for row in (await self._session.execute(query)).all()]
