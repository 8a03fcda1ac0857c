"""Quiz answers: the first answer to each question counts, whatever comes after it."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, case, event, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

from storage.db import BRIEF, insert_ignoring_duplicates
from storage.memo import KEEPS_MEMO, memo
from storage.models import Membership, QuizAnswer, Role, now_of


@dataclass(frozen=True)
class CountedAnswer:
    """A person's answer to one question that counts: the first they gave."""

    option_index: int
    correct: bool


@dataclass(frozen=True)
class QuestionResult:
    question_index: int
    answered: int
    correct: int


@dataclass(frozen=True)
class OrganisationResult:
    organisation_id: int
    participants: int  # participants of that organisation who answered at least one question
    answers: int
    correct: int


# The answerer's membership of the cohort: its role says whether the answer is counted.
_PARTICIPANT = (Membership.person_id == QuizAnswer.person_id) & (
    Membership.cohort_id == QuizAnswer.cohort_id
)


# Built once (per dialect, for the insert): every quiz click runs both.
_INSERT_ANSWER: dict[str, Any] = {}
_OF_ONE_QUIZ = (
    QuizAnswer.cohort_id == bindparam("cohort_id"),
    QuizAnswer.person_id == bindparam("person_id"),
    QuizAnswer.theme_number == bindparam("theme_number"),
)
_ANSWERS = select(QuizAnswer).where(*_OF_ONE_QUIZ).order_by(QuizAnswer.question_index)
_ANSWERED = (
    select(QuizAnswer.question_index, QuizAnswer.correct)
    .where(*_OF_ONE_QUIZ)
    .execution_options(**{BRIEF: True})
)
# A batch's: read in aiosqlite's thread, which costs the loop less than reading it here.
_ALL_ANSWERED = select(
    QuizAnswer.cohort_id,
    QuizAnswer.person_id,
    QuizAnswer.theme_number,
    QuizAnswer.question_index,
    QuizAnswer.correct,
).where(
    QuizAnswer.cohort_id.in_(bindparam("cohorts", expanding=True)),
    QuizAnswer.person_id.in_(bindparam("people", expanding=True)),
    QuizAnswer.theme_number.in_(bindparam("themes", expanding=True)),
)
# answered() read ahead for a batch's quiz clicks: (cohort, person, theme) → answers.
_READ_AHEAD = memo("quiz_answered", QuizAnswer)
# A batch's new answers, written together: the session's info holds those not yet written.
_PENDING = "digilog_quiz_answers_pending"
_WRITES_PENDING = "digilog_writes_pending_answers"


class AnsweredMeanwhile(Exception):
    """Another transaction wrote an answer this batch took to be the first: the batch's
    replies would say otherwise than what is stored, so it is not committed."""


def _insert_answer(session: Any) -> Any:
    """INSERT … ON CONFLICT DO NOTHING RETURNING the answer's key, built once per dialect."""
    dialect = session.get_bind().dialect.name
    statement = _INSERT_ANSWER.get(dialect)
    if statement is None:
        statement = _INSERT_ANSWER[dialect] = (
            insert_ignoring_duplicates(session, QuizAnswer.__table__)
            .returning(
                QuizAnswer.cohort_id,
                QuizAnswer.person_id,
                QuizAnswer.theme_number,
                QuizAnswer.question_index,
            )
            # It adds itself to what was read.
            .execution_options(**{KEEPS_MEMO: True, BRIEF: True})
        )
    return statement


@event.listens_for(Session, "do_orm_execute")
def _pending_first(state: ORMExecuteState) -> None:
    """Whatever the transaction does next sees the answers it recorded."""
    if state.session.info.get(_PENDING) and not state.execution_options.get(_WRITES_PENDING):
        _write_pending(state.session)


@event.listens_for(Session, "before_commit")
def _pending_before_commit(session: Session) -> None:
    if session.info.get(_PENDING):
        _write_pending(session)


@event.listens_for(Session, "after_soft_rollback")
def _pending_rolled_back(session: Session, _previous: Any) -> None:
    session.info.pop(_PENDING, None)


def _write_pending(session: Session) -> None:
    """The batch's new answers in one statement (SQLAlchemy sends them as one multi-row
    INSERT); each must have gone in, or the batch's replies are wrong."""
    pending = session.info.pop(_PENDING)
    written = session.execute(
        # Many rows: aiosqlite's thread writes them, not the event loop's (storage/db.py).
        _insert_answer(session).execution_options(**{_WRITES_PENDING: True, BRIEF: False}),
        pending,
    ).all()
    if len(written) != len(pending):
        raise AnsweredMeanwhile(f"{len(pending) - len(written)} of {len(pending)} answered")


class QuizRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def answer(
        self,
        cohort_id: int,
        person_id: int,
        theme_number: int,
        question_index: int,
        option_index: int,
        correct: bool,
    ) -> tuple[CountedAnswer, bool]:
        """Record an answer unless one exists; returns the answer that counts and if it is
        new. Not an ORM object: building one was a tenth of a quiz click's work."""
        values = {
            "cohort_id": cohort_id,
            "person_id": person_id,
            "theme_number": theme_number,
            "question_index": question_index,
            "option_index": option_index,
            "correct": correct,
            "answered_at": now_of(self._session),
        }
        kept = _READ_AHEAD.peek(self._session)
        key = (cohort_id, person_id, theme_number)
        if kept is not None and key in kept and question_index not in kept[key]:
            # Read ahead in this transaction and not answered: this one counts. It is
            # written with the batch's others, one statement for all, before any other
            # statement or the commit (_write_pending), which checks that it still was
            # the first. (The Slack burst bench: 1.2 statements per answer before, 0.3.)
            self._session.info.setdefault(_PENDING, []).append(values)
            kept[key][question_index] = correct
            return CountedAnswer(option_index, correct), True
        inserted = await self._session.scalar(_insert_answer(self._session), values)
        if inserted is not None:  # this answer is the one that counts
            kept = _READ_AHEAD.peek(self._session)
            if kept is not None and key in kept:
                kept[key][question_index] = correct
            return CountedAnswer(option_index, correct), True
        counted = (
            await self._session.execute(
                select(QuizAnswer.option_index, QuizAnswer.correct).where(
                    QuizAnswer.cohort_id == cohort_id,
                    QuizAnswer.person_id == person_id,
                    QuizAnswer.theme_number == theme_number,
                    QuizAnswer.question_index == question_index,
                ),
                execution_options={BRIEF: True},
            )
        ).one()
        return CountedAnswer(counted.option_index, counted.correct), False

    async def answered(self, cohort_id: int, person_id: int, theme_number: int) -> dict[int, bool]:
        """question index → whether the answer that counts is right: all a click's next
        question needs, without building an object per answer."""
        kept = _READ_AHEAD.peek(self._session)
        if kept is not None and (key := (cohort_id, person_id, theme_number)) in kept:
            return dict(kept[key])
        params = {"cohort_id": cohort_id, "person_id": person_id, "theme_number": theme_number}
        rows = await self._session.execute(_ANSWERED, params)
        return dict(rows.all())

    async def read_ahead(self, quizzes: Collection[tuple[int, int, int]]) -> None:
        """answered() for several (cohort, person, theme) in one query: a batch's quiz
        clicks each ask it. Kept for the rest of the transaction, each answer recorded
        meanwhile added to it (and forgotten on any other write to the answers)."""
        if not quizzes:
            return
        cohorts, people, themes = (sorted({key[i] for key in quizzes}) for i in range(3))
        rows = await self._session.execute(
            _ALL_ANSWERED, {"cohorts": cohorts, "people": people, "themes": themes}
        )
        kept = _READ_AHEAD.of(self._session)
        for key in quizzes:
            kept[key] = {}
        for cohort_id, person_id, theme_number, question, correct in rows:
            if (key := (cohort_id, person_id, theme_number)) in kept:
                kept[key][question] = correct

    async def answers(self, cohort_id: int, person_id: int, theme_number: int) -> list[QuizAnswer]:
        params = {"cohort_id": cohort_id, "person_id": person_id, "theme_number": theme_number}
        return list((await self._session.scalars(_ANSWERS, params)).all())

    async def scores(self, cohort_id: int, theme_number: int) -> dict[int, tuple[int, int]]:
        """person id → (questions answered, answered right) for one theme's quiz."""
        query = (
            select(
                QuizAnswer.person_id,
                func.count(),
                func.sum(case((QuizAnswer.correct, 1), else_=0)),
            )
            .where(QuizAnswer.cohort_id == cohort_id, QuizAnswer.theme_number == theme_number)
            .group_by(QuizAnswer.person_id)
        )
        rows = (await self._session.execute(query)).all()
        return {person: (n, int(right or 0)) for person, n, right in rows}

    async def by_question(self, cohort_id: int, theme_number: int) -> list[QuestionResult]:
        """Participants' answers per question: facilitators' and support people's tries
        are not theirs to count."""
        query = (
            select(
                QuizAnswer.question_index,
                func.count(),
                func.sum(case((QuizAnswer.correct, 1), else_=0)),
            )
            .join(Membership, _PARTICIPANT)
            .where(
                QuizAnswer.cohort_id == cohort_id,
                QuizAnswer.theme_number == theme_number,
                Membership.role == Role.participant,
            )
            .group_by(QuizAnswer.question_index)
            .order_by(QuizAnswer.question_index)
        )
        rows = (await self._session.execute(query)).all()
        return [QuestionResult(q, n, int(c or 0)) for q, n, c in rows]

    async def by_option(self, cohort_id: int, theme_number: int) -> dict[tuple[int, int], int]:
        """(question, option as in the programme file) → how many participants chose it."""
        query = (
            select(QuizAnswer.question_index, QuizAnswer.option_index, func.count())
            .join(Membership, _PARTICIPANT)
            .where(
                QuizAnswer.cohort_id == cohort_id,
                QuizAnswer.theme_number == theme_number,
                Membership.role == Role.participant,
            )
            .group_by(QuizAnswer.question_index, QuizAnswer.option_index)
        )
        return {(q, o): n for q, o, n in (await self._session.execute(query)).all()}

    async def by_organisation(self, cohort_id: int, theme_number: int) -> list[OrganisationResult]:
        query = (
            select(
                Membership.organisation_id,
                func.count(func.distinct(QuizAnswer.person_id)),
                func.count(),
                func.sum(case((QuizAnswer.correct, 1), else_=0)),
            )
            .join(Membership, _PARTICIPANT)
            .where(
                QuizAnswer.cohort_id == cohort_id,
                QuizAnswer.theme_number == theme_number,
                Membership.role == Role.participant,
            )
            .group_by(Membership.organisation_id)
            .order_by(Membership.organisation_id)
        )
        rows = (await self._session.execute(query)).all()
        return [OrganisationResult(o, p, n, int(c or 0)) for o, p, n, c in rows]
