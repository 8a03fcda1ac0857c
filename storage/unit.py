"""One transaction, every repository: what a handler works with."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage import memo
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
from storage.models import CLOCK
from storage.offered_files import OfferedFileRepository
from storage.people import CohortRepository, PeopleRepository
from storage.personal_data import PersonalDataRepository
from storage.programs import ProgramRepository
from storage.quizzes import QuizRepository
from storage.reflections import ReflectionRepository
from storage.retention import RetentionRepository
from storage.surveys import SurveyRepository
from storage.tasks import ReflectionTaskRepository
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
    offered_files: OfferedFileRepository
    tasks: ReflectionTaskRepository
    inbound: InboundRepository

    def forget_reads(self) -> None:
        """After a rollback to a savepoint: what the repositories keep of what they read in
        this transaction may have been undone."""
        self.programs.forget_versions()
        self.themes.forget_runs()
        memo.forget_all(self.session)


class Store:
    def __init__(self, engine: AsyncEngine, now: Callable[[], datetime] | None = None) -> None:
        """`now`: the clock every row written through this store is stamped by (a
        rehearsal's); by default the system's."""
        self.engine, self.now = engine, now
        bind = engine if now is None else engine.execution_options(**{CLOCK: now})
        info = {} if now is None else {CLOCK: now}
        self._sessions = async_sessionmaker(bind, expire_on_commit=False, info=info)

    def on_clock(self, now: Callable[[], datetime]) -> Store:
        """The same database, its rows stamped by `now`."""
        return Store(self.engine, now)

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
            offered_files=OfferedFileRepository(session),
            tasks=ReflectionTaskRepository(session),
            inbound=InboundRepository(session),
        )
