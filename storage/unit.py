"""One transaction, every repository: what a handler works with."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.addresses import AddressRepository
from storage.audit import AuditRepository
from storage.buddies import BuddyRepository
from storage.calendar import CalendarRepository
from storage.db import ERASED, scrub
from storage.deliveries import DeliveryRepository
from storage.events import ProcessedEventRepository
from storage.gatherings import GatheringRepository
from storage.inbound import InboundRepository
from storage.labs import LabRepository
from storage.people import CohortRepository, PeopleRepository
from storage.personal_data import PersonalDataRepository
from storage.programs import ProgramRepository
from storage.quizzes import QuizRepository
from storage.reflections import ReflectionRepository
from storage.retention import RetentionRepository
from storage.surveys import SurveyRepository
from storage.themes import ThemeRunRepository


@dataclass
class Repositories:
    session: AsyncSession
    programs: ProgramRepository
    cohorts: CohortRepository
    people: PeopleRepository
    themes: ThemeRunRepository
    reflections: ReflectionRepository
    quizzes: QuizRepository
    events: ProcessedEventRepository
    calendar: CalendarRepository
    deliveries: DeliveryRepository
    labs: LabRepository
    buddies: BuddyRepository
    surveys: SurveyRepository
    addresses: AddressRepository
    audit: AuditRepository
    retention: RetentionRepository
    personal_data: PersonalDataRepository
    gatherings: GatheringRepository
    inbound: InboundRepository


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Repositories]:
        """Everything inside commits together or not at all."""
        async with self._sessions() as session:
            async with session.begin():
                yield self._repositories(session)
            if session.info.pop(ERASED, False):
                await scrub(self.engine)

    def _repositories(self, session: AsyncSession) -> Repositories:
        return Repositories(
            session=session,
            programs=ProgramRepository(session),
            cohorts=CohortRepository(session),
            people=PeopleRepository(session),
            themes=ThemeRunRepository(session),
            reflections=ReflectionRepository(session),
            quizzes=QuizRepository(session),
            events=ProcessedEventRepository(session),
            calendar=CalendarRepository(session),
            deliveries=DeliveryRepository(session),
            labs=LabRepository(session),
            buddies=BuddyRepository(session),
            surveys=SurveyRepository(session),
            addresses=AddressRepository(session),
            audit=AuditRepository(session),
            retention=RetentionRepository(session),
            personal_data=PersonalDataRepository(session),
            gatherings=GatheringRepository(session),
            inbound=InboundRepository(session),
        )
