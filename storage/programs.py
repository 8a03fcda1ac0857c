"""Programmes and their organisations."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import BRIEF
from storage.models import Organisation, Program

# session.info: the checksum of each programme read in this transaction.
_VERSIONS = "digilog_programme_versions"


class ProgramRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def save(
        self,
        program_id: str,
        title: dict[str, Any],
        definition: dict[str, Any],
        checksum: str,
        organisations: list[tuple[str, dict[str, Any]]],
    ) -> tuple[Program, bool]:
        """Store a validated programme, replacing an earlier version; True if anything changed.

        Organisations are only added or renamed, never removed: people belong to them.
        """
        self.forget_versions()
        program = await self._session.get(Program, program_id)
        if program is not None and program.checksum == checksum:
            return program, False
        if program is None:
            program = Program(id=program_id, title=title, definition=definition, checksum=checksum)
            self._session.add(program)
        else:
            program.title, program.definition, program.checksum = title, definition, checksum
        existing = {o.key: o for o in await self.organisations(program_id)}
        for key, name in organisations:
            if key in existing:
                existing[key].name = name
            else:
                self._session.add(Organisation(program_id=program_id, key=key, name=name))
        await self._session.flush()
        return program, True

    async def get(self, program_id: str) -> Program | None:
        return await self._session.get(Program, program_id)

    async def checksum(self, program_id: str) -> str | None:
        """Which version is stored, without loading the whole definition; read once per
        transaction (a batch of clicks asks for each), as only `save` changes it."""
        known: dict[str, str | None] = self._session.info.setdefault(_VERSIONS, {})
        if program_id not in known:
            known[program_id] = await self._session.scalar(
                select(Program.checksum).where(Program.id == program_id),
                execution_options={BRIEF: True},
            )
        return known[program_id]

    def forget_versions(self) -> None:
        """After a rollback to a savepoint: a version read or saved since may be undone."""
        self._session.info.pop(_VERSIONS, None)

    async def all(self) -> list[Program]:
        return list((await self._session.scalars(select(Program).order_by(Program.id))).all())

    async def count(self) -> int:
        return (await self._session.scalar(select(func.count()).select_from(Program))) or 0

    async def find_organisation(self, program_id: str, wanted: str) -> Organisation | None:
        """By id or name in any language, ignoring case; else the only one it begins."""
        needle = wanted.strip().casefold()
        if not needle:
            return None
        organisations = await self.organisations(program_id)
        for organisation in organisations:
            if needle in {organisation.key, *(n.casefold() for n in organisation.name.values())}:
                return organisation
        starts = [
            o
            for o in organisations
            if any(n.casefold().startswith(needle) for n in (o.key, *o.name.values()))
        ]
        return starts[0] if len(starts) == 1 else None

    async def organisations(self, program_id: str) -> list[Organisation]:
        query = select(Organisation).where(Organisation.program_id == program_id)
        return list((await self._session.scalars(query.order_by(Organisation.id))).all())
