"""Reads kept for the rest of a transaction, and the writes that make them stale.

A batch of clicks is handled in one transaction (handlers/digilog.py), and each click asks
the same few questions (who is this, what have they answered). Asked once for the whole
batch, the answers are kept in the session's `info` under a memo's name; any write in
that transaction to a table a memo was read from forgets the memo, so what a later event
reads is never older than what an earlier one wrote. A rollback to a savepoint forgets
every memo (`forget_all`): what was read after it may have been undone.

A statement that keeps its memo up to date itself (a quiz answer adds itself to the
answers read) says so with the execution option KEEPS_MEMO.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

KEEPS_MEMO = "digilog_keeps_memo"
_PREFIX = "digilog_memo:"


@dataclass(frozen=True)
class Memo:
    name: str
    tables: frozenset[str]  # a write to any of these makes it stale

    def of(self, session: Any) -> dict[Any, Any]:
        """The memo in this transaction (a sync or async session), created empty."""
        kept: dict[Any, Any] = session.info.setdefault(_PREFIX + self.name, {})
        return kept

    def peek(self, session: Any) -> dict[Any, Any] | None:
        kept: dict[Any, Any] | None = session.info.get(_PREFIX + self.name)
        return kept


_MEMOS: list[Memo] = []


def memo(name: str, *models: type[Any]) -> Memo:
    """A memo of reads from the tables of `models`, forgotten when this transaction
    writes to one of them. With no models: a memo of what its read wrote itself (a
    batch's deliveries recorded), which no other write makes stale."""
    kept = Memo(name, frozenset(model.__tablename__ for model in models))
    _MEMOS.append(kept)
    return kept


def forget_all(session: Any) -> None:
    for kept in _MEMOS:
        session.info.pop(_PREFIX + kept.name, None)


def _forget_written(session: Session, tables: set[str]) -> None:
    for kept in _MEMOS:
        if kept.tables & tables:
            session.info.pop(_PREFIX + kept.name, None)


@event.listens_for(Session, "do_orm_execute")
def _on_statement(state: ORMExecuteState) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    if state.execution_options.get(KEEPS_MEMO) or not state.session.info:
        return
    table = getattr(state.statement, "table", None)
    if table is not None:
        _forget_written(state.session, {table.name})


@event.listens_for(Session, "before_flush")
def _on_flush(session: Session, _context: Any, _instances: Any) -> None:
    if not any(key.startswith(_PREFIX) for key in session.info):
        return
    written = {
        table.name
        for instance in chain(session.new, session.dirty, session.deleted)
        if (table := getattr(type(instance), "__table__", None)) is not None
    }
    _forget_written(session, written)
