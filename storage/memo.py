"""Reads kept for the rest of a transaction, and the writes that make them stale.

A batch of clicks is handled in one transaction (handlers/digilog.py), and each click asks
the same few questions (who is this, what have they answered). Asked once for the whole
batch, the answers are kept in the session's `info` under a memo's name; any write in
that transaction to a table a memo was read from forgets the memo, so what a later event
reads is never older than what an earlier one wrote. A rollback to a savepoint forgets
every memo (`forget_all`): what was read after it may have been undone.

A statement that keeps its memo up to date itself (a quiz answer adds itself to the
answers read) says so with the execution option KEEPS_MEMO. Columns that are changed on the
kept objects themselves and that no memo is read by (a person's name as the platform now
gives it) say so with `changed_in_place`: the ORM's update of them leaves the memos be.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import Any

from sqlalchemy import event, inspect
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
_IN_PLACE: dict[str, frozenset[str]] = {}  # table → columns changed_in_place


def memo(name: str, *models: type[Any]) -> Memo:
    """A memo of reads from the tables of `models`, forgotten when this transaction
    writes to one of them. With no models: a memo of what its read wrote itself (a
    batch's deliveries recorded), which no other write makes stale."""
    kept = Memo(name, frozenset(model.__tablename__ for model in models))
    _MEMOS.append(kept)
    return kept


def changed_in_place(model: type[Any], *columns: str) -> None:
    """An ORM update of only these columns of `model` does not make a memo stale: a memo
    holds the very objects so changed, and finds nothing by these columns."""
    table = model.__tablename__
    _IN_PLACE[table] = _IN_PLACE.get(table, frozenset()) | frozenset(columns)


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
        and not _only_in_place(instance, table.name)
    }
    _forget_written(session, written)


def _only_in_place(instance: Any, table: str) -> bool:
    """A changed object (not new, not deleted) whose changes are all changed_in_place."""
    in_place = _IN_PLACE.get(table)
    if not in_place:
        return False
    state = inspect(instance)
    if state.pending or state.deleted or state.was_deleted:
        return False
    changed = {attr.key for attr in state.attrs if attr.history.has_changes()}
    return changed <= in_place
