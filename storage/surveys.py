"""Surveys and self-assessments: when each is open, and everyone's answers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import upsert
from storage.models import SurveyAnswer, SurveyWindow

Answer = tuple[int | None, str | None]  # a rating, or a text


class SurveyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def window(self, cohort_id: int, survey_key: str) -> SurveyWindow | None:
        return await self._session.get(SurveyWindow, (cohort_id, survey_key))

    async def windows(self, cohort_id: int) -> list[SurveyWindow]:
        found = await self._session.scalars(
            select(SurveyWindow)
            .where(SurveyWindow.cohort_id == cohort_id)
            .order_by(SurveyWindow.opened_at)
        )
        return list(found)

    async def open(self, cohort_id: int, survey_key: str, at: datetime) -> bool:
        """Open it (again, if it had closed); False if it was open already."""
        window = await self.window(cohort_id, survey_key)
        if window is None:
            self._session.add(
                SurveyWindow(cohort_id=cohort_id, survey_key=survey_key, opened_at=at)
            )
            await self._session.flush()
            return True
        if window.closed_at is None:
            return False
        window.opened_at, window.closed_at = at, None
        return True

    async def close(self, cohort_id: int, survey_key: str, at: datetime) -> bool:
        """Close it; False if it was not open."""
        window = await self.window(cohort_id, survey_key)
        if window is None or window.closed_at is not None:
            return False
        window.closed_at = at
        return True

    async def save(
        self,
        cohort_id: int,
        survey_key: str,
        person_id: int,
        answers: Mapping[str, Answer],
        at: datetime,
    ) -> None:
        if not answers:
            return
        rows = [
            {
                "cohort_id": cohort_id,
                "survey_key": survey_key,
                "person_id": person_id,
                "question_id": question,
                "rating": rating,
                "text": text,
                "answered_at": at,
            }
            for question, (rating, text) in answers.items()
        ]
        statement = upsert(
            self._session,
            SurveyAnswer,
            ["cohort_id", "survey_key", "person_id", "question_id"],
            ["rating", "text", "answered_at"],
        )
        await self._session.execute(statement, rows)

    async def answers(self, cohort_id: int, survey_key: str) -> list[SurveyAnswer]:
        found = await self._session.scalars(
            select(SurveyAnswer)
            .where(SurveyAnswer.cohort_id == cohort_id, SurveyAnswer.survey_key == survey_key)
            .order_by(SurveyAnswer.id)
        )
        return list(found)

    async def answers_of(self, cohort_id: int, person_id: int) -> list[SurveyAnswer]:
        found = await self._session.scalars(
            select(SurveyAnswer)
            .where(SurveyAnswer.cohort_id == cohort_id, SurveyAnswer.person_id == person_id)
            .order_by(SurveyAnswer.id)
        )
        return list(found)

    async def respondents(self, cohort_id: int, survey_key: str) -> set[int]:
        found = await self._session.scalars(
            select(SurveyAnswer.person_id)
            .where(SurveyAnswer.cohort_id == cohort_id, SurveyAnswer.survey_key == survey_key)
            .distinct()
        )
        return set(found)
