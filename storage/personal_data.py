"""Everything Digilog stores about one person: gathered for an export, or erased.

Erasure leaves no row that names the person: their own rows go, rows of others that
point at them let go (replies keep their text, a theme run forgets who started it),
a lab seat they held passes to the first on the waitlist, and opaque rows that could
still carry their platform id (event deduplication, relays, Slack installations) are
deleted or blanked. With `keep_reflections`, what they shared with the cohort stays in
its bank under the cohort's anonymous author instead.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Executable,
    column,
    delete,
    func,
    literal,
    or_,
    select,
    table,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import mark_erased
from storage.gatherings import GatheringRepository
from storage.labs import LabRepository
from storage.models import (
    Attendance,
    BuddyGroup,
    BuddyMember,
    BuddyRound,
    BuddyRule,
    Cohort,
    ConversationAddress,
    Delivery,
    EventRegistration,
    InboundFailure,
    LabSignup,
    Membership,
    OfferedFile,
    Organisation,
    Person,
    ProcessedEvent,
    QuizAnswer,
    Reflection,
    ReflectionTaskChoice,
    SignupState,
    SurveyAnswer,
    ThemeRun,
    Visibility,
)

# The anonymous author of a cohort's kept reflections: on no platform, so no account
# ever matches it, and in no cohort, so nobody counts, pairs or nudges it.
ANONYMOUS_PLATFORM = "anonymous"

_search_table = table("reflection_search", column("rowid"))
_slack_installations = table(
    "slack_installations",
    column("team_id"),
    column("user_id"),
    column("user_token"),
    column("user_scopes"),
    column("user_refresh_token"),
)

Row = dict[str, Any]


def plain(value: Any) -> Any:
    """A value as JSON has it."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def row_of(instance: Any, *, leave_out: Sequence[str] = ()) -> Row:
    """Every column of an ORM row, JSON-ready."""
    return {
        c.key: plain(getattr(instance, c.key))
        for c in instance.__table__.columns
        if c.key not in leave_out
    }


def anonymous_workspace(cohort_id: int) -> str:
    return f"cohort-{cohort_id}"


class PersonalDataRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._sqlite = session.get_bind().dialect.name == "sqlite"

    # ------------------------------------------------------------ finding

    async def find(
        self,
        *,
        user_id: str | None = None,
        platform: str | None = None,
        workspace: str | None = None,
        email: str | None = None,
    ) -> list[Person]:
        """The people with this account, or this e-mail address (on any platform)."""
        query = select(Person).where(Person.platform != ANONYMOUS_PLATFORM).order_by(Person.id)
        if user_id is not None:
            query = query.where(Person.user_id == user_id)
        if platform is not None:
            query = query.where(Person.platform == platform)
        if workspace is not None:
            query = query.where(Person.workspace == workspace)
        if email is not None:
            query = query.where(func.lower(Person.email) == email.lower())
        return list(await self._session.scalars(query))

    # ------------------------------------------------------------ export

    async def _rows(self, query: Executable) -> list[Row]:
        result = await self._session.execute(query)
        return [{k: plain(v) for k, v in row._mapping.items()} for row in result]

    async def _own(self, model: Any, person_id: int, *columns: Any) -> list[Row]:
        """A table's rows of the person's (`model.person_id`), with each row's cohort."""
        return await self._rows(
            select(Cohort.key.label("cohort"), *columns)
            .join(Cohort, Cohort.id == model.cohort_id)
            .where(model.person_id == person_id)
            .order_by(model.id)
        )

    async def collect(self, person: Person) -> dict[str, list[Row]]:
        """All of it, table by table: what the person gets when they ask for their data."""
        pid = person.id
        data: dict[str, list[Row]] = {"person": [row_of(person)]}
        data["memberships"] = await self._rows(
            select(
                Cohort.key.label("cohort"),
                Cohort.title.label("cohort_title"),
                Organisation.key.label("organisation"),
                Membership.role,
                Membership.joined_at,
                Membership.buddy_opt_out,
            )
            .join(Cohort, Cohort.id == Membership.cohort_id)
            .join(Organisation, Organisation.id == Membership.organisation_id)
            .where(Membership.person_id == pid)
            .order_by(Membership.id)
        )
        data["reflections"] = await self._rows(
            select(
                Reflection.id,
                Cohort.key.label("cohort"),
                Organisation.key.label("organisation"),
                Reflection.theme_number,
                Reflection.source,
                Reflection.visibility,
                Reflection.body,
                Reflection.reply_to_id,
                Reflection.created_at,
                Reflection.updated_at,
            )
            .join(Cohort, Cohort.id == Reflection.cohort_id)
            .join(Organisation, Organisation.id == Reflection.organisation_id)
            .where(Reflection.author_id == pid)
            .order_by(Reflection.id)
        )
        # That someone answered them, and when; the answer's text is the other person's.
        data["replies_to_you"] = await self._rows(
            select(
                Reflection.id.label("reply_id"),
                Cohort.key.label("cohort"),
                Reflection.theme_number,
                Reflection.reply_to_id.label("your_reflection_id"),
                Reflection.created_at,
            )
            .join(Cohort, Cohort.id == Reflection.cohort_id)
            .where(Reflection.replied_to_person_id == pid, Reflection.author_id != pid)
            .order_by(Reflection.id)
        )
        data["quiz_answers"] = await self._own(
            QuizAnswer,
            pid,
            QuizAnswer.theme_number,
            QuizAnswer.question_index,
            QuizAnswer.option_index,
            QuizAnswer.correct,
            QuizAnswer.answered_at,
        )
        data["survey_answers"] = await self._own(
            SurveyAnswer,
            pid,
            SurveyAnswer.survey_key,
            SurveyAnswer.question_id,
            SurveyAnswer.rating,
            SurveyAnswer.text,
            SurveyAnswer.answered_at,
        )
        data["lab_signups"] = await self._own(
            LabSignup,
            pid,
            LabSignup.session_key,
            LabSignup.state,
            LabSignup.created_at,
            LabSignup.attended_at,
        )
        data["attendance"] = await self._own(
            Attendance,
            pid,
            Attendance.entry_key,
            Attendance.present,
            Attendance.by_self,
            Attendance.marked_at,
        )
        data["reflection_tasks"] = await self._own(
            ReflectionTaskChoice,
            pid,
            ReflectionTaskChoice.theme_number,
            ReflectionTaskChoice.form,
            ReflectionTaskChoice.partner_name,
            ReflectionTaskChoice.chosen_at,
            ReflectionTaskChoice.done_at,
            ReflectionTaskChoice.finding_id,
        )
        data["event_registrations"] = await self._own(
            EventRegistration, pid, EventRegistration.entry_key, EventRegistration.created_at
        )
        data["buddy_groups"] = await self._rows(
            select(
                Cohort.key.label("cohort"),
                BuddyRound.theme_number,
                BuddyMember.group_id,
                BuddyMember.met_at,
            )
            .join(BuddyGroup, BuddyGroup.id == BuddyMember.group_id)
            .join(BuddyRound, BuddyRound.id == BuddyGroup.round_id)
            .join(Cohort, Cohort.id == BuddyRound.cohort_id)
            .where(BuddyMember.person_id == pid)
            .order_by(BuddyMember.id)
        )
        # A facilitator's word on a pair: that there is one, not the other person.
        data["buddy_rules"] = await self._rows(
            select(Cohort.key.label("cohort"), BuddyRule.pinned)
            .join(Cohort, Cohort.id == BuddyRule.cohort_id)
            .where(or_(BuddyRule.first_id == pid, BuddyRule.second_id == pid))
        )
        data["deliveries"] = await self._rows(
            select(
                Cohort.key.label("cohort"),
                Delivery.kind,
                Delivery.theme_number,
                # "to": a message to them; "about": a facilitator was told about them.
                literal("to").label("direction"),
                Delivery.due_at,
                Delivery.state,
                Delivery.sent_at,
            )
            .join(Cohort, Cohort.id == Delivery.cohort_id)
            .where(Delivery.person_id == pid)
            .order_by(Delivery.id)
        )
        data["deliveries"] += await self._rows(
            select(
                Cohort.key.label("cohort"),
                Delivery.kind,
                Delivery.theme_number,
                literal("about").label("direction"),
                Delivery.due_at,
                Delivery.state,
                Delivery.sent_at,
            )
            .join(Cohort, Cohort.id == Delivery.cohort_id)
            .where(Delivery.about_person_id == pid, Delivery.person_id.is_distinct_from(pid))
            .order_by(Delivery.id)
        )
        data["theme_runs_started"] = await self._rows(
            select(Cohort.key.label("cohort"), ThemeRun.theme_number, ThemeRun.started_at)
            .join(Cohort, Cohort.id == ThemeRun.cohort_id)
            .where(ThemeRun.started_by == pid)
            .order_by(ThemeRun.id)
        )
        data["conversation_addresses"] = (
            [
                row_of(a)
                for a in await self._session.scalars(
                    select(ConversationAddress).where(
                        ConversationAddress.platform == person.platform,
                        ConversationAddress.workspace == person.workspace,
                        ConversationAddress.user_id == person.user_id,
                    )
                )
            ]
            if person.user_id is not None
            else []
        )
        data["failed_actions"] = (
            [
                row_of(f)
                for f in await self._session.scalars(
                    select(InboundFailure)
                    .where(
                        InboundFailure.platform == person.platform,
                        InboundFailure.workspace == person.workspace,
                        InboundFailure.user_id == person.user_id,
                    )
                    .order_by(InboundFailure.id)
                )
            ]
            if person.user_id is not None
            else []
        )
        return data

    # ------------------------------------------------------------ erasure

    async def anonymous_author(self, cohort_id: int, name: str) -> Person:
        """The cohort's anonymous author, made the first time someone leaves reflections."""
        workspace = anonymous_workspace(cohort_id)
        found = await self._session.scalar(
            select(Person)
            .where(Person.platform == ANONYMOUS_PLATFORM, Person.workspace == workspace)
            .order_by(Person.id)
            .limit(1)
        )
        if found is not None:
            return found
        person = Person(platform=ANONYMOUS_PLATFORM, workspace=workspace, display_name=name)
        self._session.add(person)
        await self._session.flush()
        return person

    async def erase(
        self,
        person: Person,
        *,
        keep_reflections: bool,
        anonymous_names: dict[int, str],
        cohort_id: int | None = None,
        optimise_index: bool = True,
        not_begun: Collection[tuple[int, str]] = (),
    ) -> Erased:
        """Erase the person, in this transaction. `anonymous_names` is the anonymous
        author's name per cohort, in the cohort's language (for kept reflections).
        A lab seat they held goes to the first on the waitlist only in the sessions
        (cohort, session key) of `not_begun`: a session that has taken place keeps its
        history.

        With `cohort_id`, only what they have in that cohort (retention); the person
        themselves goes too once no cohort holds them any more.
        """
        mark_erased(self._session)
        erased = Erased()
        await self._erase_rows(
            person, erased, keep_reflections, anonymous_names, cohort_id, not_begun
        )
        if cohort_id is not None:
            if await self._session.scalar(
                select(Membership.id).where(Membership.person_id == person.id).limit(1)
            ):
                return erased
            # Nothing holds them: whatever is left of theirs elsewhere goes with them.
            await self._erase_rows(
                person, erased, keep_reflections, anonymous_names, None, not_begun
            )
        await self._erase_identity(person, erased)
        if optimise_index:
            await self.optimise_search_index()
        return erased

    async def optimise_search_index(self) -> None:
        """FTS5 only marks deleted rows until its segments merge: merge them now, so that
        no word of an erased text stays in the index's pages."""
        if self._sqlite:
            await self._session.execute(
                text("INSERT INTO reflection_search(reflection_search) VALUES ('optimize')")
            )

    async def _erase_rows(
        self,
        person: Person,
        erased: Erased,
        keep_reflections: bool,
        anonymous_names: dict[int, str],
        cohort_id: int | None,
        not_begun: Collection[tuple[int, str]],
    ) -> None:
        """Their rows in one cohort (or in all): reflections, answers, sign-ups, buddies,
        deliveries to and about them, memberships."""
        pid = person.id
        s = self._session

        def within(model: Any) -> Any:
            return literal(True) if cohort_id is None else model.cohort_id == cohort_id

        # A seat they held goes to the first on the waitlist, as if they had cancelled;
        # only in a session that has not begun.
        labs = LabRepository(s)
        held = (
            await s.execute(
                select(LabSignup.cohort_id, LabSignup.session_key).where(
                    LabSignup.person_id == pid,
                    LabSignup.state.in_((SignupState.signed_up, SignupState.waiting)),
                    within(LabSignup),
                )
            )
        ).all()
        for held_in, session_key in held:
            promote = (held_in, session_key) in not_begun
            done = await labs.cancel(held_in, session_key, pid, promote=promote)
            if done.promoted is not None:
                erased.promoted.append((held_in, session_key, done.promoted))

        # Reflections: gone, or (the shared ones) the cohort's anonymous author's.
        own = list(
            await s.scalars(
                select(Reflection).where(Reflection.author_id == pid, within(Reflection))
            )
        )
        kept: dict[int, int] = {}  # cohort → its anonymous author
        to_delete: list[int] = []
        for reflection in own:
            if keep_reflections and reflection.visibility != Visibility.private:
                in_cohort = reflection.cohort_id
                if in_cohort not in kept:
                    name = anonymous_names.get(in_cohort, "Anonymous participant")
                    kept[in_cohort] = (await self.anonymous_author(in_cohort, name)).id
                reflection.author_id = kept[in_cohort]
                # The platform's message id would lead back to the post under their name.
                reflection.message_id = None
                if reflection.replied_to_person_id == pid:
                    reflection.replied_to_person_id = kept[in_cohort]
                erased.kept += 1
            else:
                to_delete.append(reflection.id)
        await s.flush()
        # Others' answers to them keep their text; whom they answered becomes the
        # anonymous author (their reflections stayed) or no one.
        for in_cohort, anonymous in kept.items():
            await s.execute(
                update(Reflection)
                .where(Reflection.replied_to_person_id == pid, Reflection.cohort_id == in_cohort)
                .values(replied_to_person_id=anonymous)
                .execution_options(synchronize_session=False)
            )
        await s.execute(
            update(Reflection)
            .where(Reflection.replied_to_person_id == pid, within(Reflection))
            .values(replied_to_person_id=None)
            .execution_options(synchronize_session=False)
        )
        erased.reflections += await self.delete_reflections(to_delete)

        erased.quiz_answers += await self._delete(
            QuizAnswer, QuizAnswer.person_id == pid, within(QuizAnswer)
        )
        erased.survey_answers += await self._delete(
            SurveyAnswer, SurveyAnswer.person_id == pid, within(SurveyAnswer)
        )
        erased.lab_signups += await self._delete(
            LabSignup, LabSignup.person_id == pid, within(LabSignup)
        )
        # Their presence at gatherings, and their seats at events (given back).
        gatherings = GatheringRepository(s)
        registered = (
            await s.execute(
                select(EventRegistration.cohort_id, EventRegistration.entry_key).where(
                    EventRegistration.person_id == pid, within(EventRegistration)
                )
            )
        ).all()
        for held_in, entry_key in registered:
            await gatherings.cancel(held_in, entry_key, pid)
        await self._delete(Attendance, Attendance.person_id == pid, within(Attendance))
        # Their reflection tasks; a colleague who named them keeps the task, not the name.
        await self._delete(
            ReflectionTaskChoice,
            ReflectionTaskChoice.person_id == pid,
            within(ReflectionTaskChoice),
        )
        await s.execute(
            update(ReflectionTaskChoice)
            .where(ReflectionTaskChoice.partner_id == pid, within(ReflectionTaskChoice))
            .values(partner_id=None)
            .execution_options(synchronize_session=False)
        )
        in_groups = (
            BuddyMember.group_id.in_(
                select(BuddyGroup.id)
                .join(BuddyRound, BuddyRound.id == BuddyGroup.round_id)
                .where(BuddyRound.cohort_id == cohort_id)
            )
            if cohort_id is not None
            else literal(True)
        )
        erased.buddy_groups += await self._delete(
            BuddyMember, BuddyMember.person_id == pid, in_groups
        )
        await self._delete(
            BuddyRule,
            or_(BuddyRule.first_id == pid, BuddyRule.second_id == pid),
            within(BuddyRule),
        )
        erased.deliveries += await self._delete(
            Delivery,
            or_(Delivery.person_id == pid, Delivery.about_person_id == pid),
            within(Delivery),
        )
        erased.deliveries += await self._delete_relays_naming(person, cohort_id)
        await s.execute(
            update(ThemeRun)
            .where(ThemeRun.started_by == pid, within(ThemeRun))
            .values(started_by=None)
            .execution_options(synchronize_session=False)
        )
        erased.memberships += await self._delete(
            Membership, Membership.person_id == pid, within(Membership)
        )

    async def delete_reflections(self, ids: Sequence[int]) -> int:
        """Reflections and their words in the search index; answers to them stay."""
        if not ids:
            return 0
        s = self._session
        await s.execute(
            update(Reflection)
            .where(Reflection.reply_to_id.in_(ids))
            .values(reply_to_id=None)
            .execution_options(synchronize_session=False)
        )
        if self._sqlite:
            await s.execute(delete(_search_table).where(_search_table.c.rowid.in_(ids)))
        return await self._delete(Reflection, Reflection.id.in_(ids))

    async def _erase_identity(self, person: Person, erased: Erased) -> None:
        """The person and what names them outside any cohort: their one-to-one chats with
        the bot, what went there, event-dedupe marks, who installed Slack."""
        s = self._session
        personal: list[str] = []
        if person.user_id is not None:
            personal = list(
                await s.scalars(
                    select(ConversationAddress.conversation_id).where(
                        ConversationAddress.platform == person.platform,
                        ConversationAddress.workspace == person.workspace,
                        ConversationAddress.user_id == person.user_id,
                    )
                )
            )
            await self._delete(
                ConversationAddress,
                ConversationAddress.platform == person.platform,
                ConversationAddress.workspace == person.workspace,
                or_(
                    ConversationAddress.user_id == person.user_id,
                    ConversationAddress.conversation_id.in_(personal),
                ),
            )
        if personal:
            erased.deliveries += await self._delete(
                Delivery, Delivery.conversation_id.in_(personal)
            )
        if person.user_id is not None:
            # A file offered in Teams and not yet accepted is a copy of their data.
            await self._delete(
                OfferedFile,
                OfferedFile.workspace == person.workspace,
                OfferedFile.user_id == person.user_id,
            )

        # A delivery id is the platform's; a Teams one begins with the conversation's id,
        # and a personal chat's id may carry the person's own.
        if person.user_id is not None:
            marks = [ProcessedEvent.delivery_id.contains(person.user_id, autoescape=True)]
            marks += [
                ProcessedEvent.delivery_id.startswith(f"{c}:", autoescape=True) for c in personal
            ]
            await self._delete(
                ProcessedEvent, ProcessedEvent.platform == person.platform, or_(*marks)
            )
            # Their actions that did not go through name them.
            await self._delete(
                InboundFailure,
                InboundFailure.platform == person.platform,
                InboundFailure.workspace == person.workspace,
                InboundFailure.user_id == person.user_id,
            )
            # Slack keeps who installed the app; the workspace's bot stays installed.
            if person.platform == "slack":
                await s.execute(
                    update(_slack_installations)
                    .where(
                        _slack_installations.c.team_id == person.workspace,
                        _slack_installations.c.user_id == person.user_id,
                    )
                    .values(user_id="", user_token=None, user_scopes=None, user_refresh_token=None)
                )
        await s.delete(person)
        await s.flush()

    async def _delete(self, model: Any, *where: Any) -> int:
        result = await self._session.execute(
            delete(model).where(*where).execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def _delete_relays_naming(self, person: Person, cohort_id: int | None) -> int:
        """Messages waiting to be relayed to another platform that are to the person, or
        that show their name (a reflection of theirs posted on to another channel)."""
        query = select(Delivery.id, Delivery.detail).where(
            Delivery.person_id.is_(None), Delivery.detail.is_not(None)
        )
        if cohort_id is not None:
            query = query.where(Delivery.cohort_id == cohort_id)
        found = await self._session.execute(query)
        needles = [n for n in (person.display_name, person.email) if n]
        doomed = []
        for delivery_id, detail in found:
            if not isinstance(detail, dict):
                continue
            to = detail.get("person")
            if (
                isinstance(to, list)
                and to[:2] == [person.platform, person.workspace]
                and person.user_id is not None
                and to[2:3] == [person.user_id]
            ):
                doomed.append(delivery_id)
                continue
            message = json.dumps(detail.get("message") or {}, ensure_ascii=False)
            if any(n in message for n in needles):
                doomed.append(delivery_id)
        if not doomed:
            return 0
        return await self._delete(Delivery, Delivery.id.in_(doomed))


@dataclass
class Erased:
    """How many rows of each kind went."""

    reflections: int = 0
    kept: int = 0  # reflections left in a cohort's bank under its anonymous author
    quiz_answers: int = 0
    survey_answers: int = 0
    lab_signups: int = 0
    buddy_groups: int = 0
    deliveries: int = 0
    memberships: int = 0
    # (cohort, lab session, who now has the seat the person held)
    promoted: list[tuple[int, str, Person]] = field(default_factory=list)
