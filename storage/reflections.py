"""The reflection bank: storing, editing, listing, searching and exporting reflections."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnClause,
    ColumnElement,
    Select,
    Subquery,
    and_,
    bindparam,
    case,
    cast,
    column,
    delete,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.db import insert_ignoring_duplicates
from storage.models import (
    Membership,
    Organisation,
    Person,
    Reflection,
    Source,
    Visibility,
    now_of,
)
from storage.search import (
    ANALYSER_VERSION,
    FTS5_WEIGHTS,
    PG_SCORES,
    forms_literal,
    fts5_match,
    phrases_hold,
    sqlite_columns,
    tsquery_literal,
    tsquery_rank_literals,
    tsvector_literal,
)
from storage.swedish import ParsedQuery, parse_query, query_word, vocabulary

if TYPE_CHECKING:
    from storage.unit import Store

log = logging.getLogger(__name__)

_search_table = table("reflection_search", column("rowid"))
RANK_WINDOW = 200  # how many of the newest matches search() ranks; see there
PHRASE_WINDOW = 2000  # how many of the newest matches a quoted phrase is looked for in
SUGGESTIONS = 3
REINDEX_BATCH = 100


@dataclass(frozen=True)
class Viewer:
    """Who is looking: decides which reflections of a cohort they may see."""

    cohort_id: int
    person_id: int
    is_facilitator: bool
    # Someone of an organisation's support function sees what its people shared with it.
    supports_organisation_id: int | None = None


@dataclass(frozen=True)
class ReflectionView:
    reflection: Reflection
    author: Person
    organisation: Organisation
    replied_to: Person | None


_ReplyTo = aliased(Person)
_vector: ColumnClause[Any] = column("search_vector")
_forms: ColumnClause[Any] = column("search_forms")


def _tsquery(value: ColumnElement[Any]) -> ColumnElement[Any]:
    # PostgreSQL's dialect is loaded where its search runs: a SQLite server starts without it.
    from sqlalchemy.dialects.postgresql import TSQUERY

    return cast(value, TSQUERY)


def _pg_score(window: Subquery, parsed: ParsedQuery) -> ColumnElement[Any]:
    """Each required word scores by the best way a text has it: as written, another form
    (a base), or a compound part (PG_SCORES). Unlike bm25 on SQLite, how often a word
    occurs does not count; equal scores go newest first on both."""
    form_score, base_score, part_score = PG_SCORES
    total: ColumnElement[Any] | None = None
    for i, (form, bases) in enumerate(tsquery_rank_literals(parsed)):
        has_form = window.c.forms.op("@@")(_tsquery(bindparam(f"rank_form_{i}", form)))
        has_base = window.c.vector.op("@@")(_tsquery(bindparam(f"rank_base_{i}", bases)))
        word = case((has_form, form_score), (has_base, base_score), else_=part_score)
        total = word if total is None else total + word
    assert total is not None
    return total


def _visible_to(viewer: Viewer) -> ColumnElement[bool]:
    allowed = [Reflection.visibility == Visibility.cohort, Reflection.author_id == viewer.person_id]
    if viewer.is_facilitator:
        allowed.append(
            Reflection.visibility.in_((Visibility.facilitators, Visibility.organisation))
        )
    elif viewer.supports_organisation_id is not None:
        allowed.append(
            and_(
                Reflection.visibility == Visibility.organisation,
                Reflection.organisation_id == viewer.supports_organisation_id,
            )
        )
    return and_(Reflection.cohort_id == viewer.cohort_id, or_(*allowed))


def _narrowed(
    viewer: Viewer, theme: int | None, mine: bool, sources: Collection[Source]
) -> list[ColumnElement[bool]]:
    """A theme's, one's own, or one kind's reflections only."""
    conditions: list[ColumnElement[bool]] = []
    if theme is not None:
        conditions.append(Reflection.theme_number == theme)
    if mine:
        conditions.append(Reflection.author_id == viewer.person_id)
    if sources:
        conditions.append(Reflection.source.in_(tuple(sources)))
    return conditions


def _with_people(
    query: Select[Reflection, Person, Organisation, Person],
) -> Select[Reflection, Person, Organisation, Person]:
    return (
        query.join(Person, Person.id == Reflection.author_id)
        .join(Organisation, Organisation.id == Reflection.organisation_id)
        .outerjoin(_ReplyTo, _ReplyTo.id == Reflection.replied_to_person_id)
    )


class ReflectionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._sqlite = session.get_bind().dialect.name == "sqlite"

    async def add(self, reflection: Reflection) -> tuple[Reflection, bool]:
        """Store a reflection; another delivery of the same platform message stores nothing,
        even when both arrive at once."""
        if reflection.message_id is None:
            self._session.add(reflection)
            await self._session.flush()
            await self._index(reflection)
            return reflection, True
        now = now_of(self._session)
        values = {
            column.key: getattr(reflection, column.key)
            for column in Reflection.__table__.columns
            if getattr(reflection, column.key, None) is not None
        }
        values.setdefault("created_at", now)
        values.setdefault("updated_at", now)
        inserted = await self._session.scalar(
            insert_ignoring_duplicates(self._session, Reflection)
            .values(**values)
            .returning(Reflection.id)
        )
        stored = await self.by_message(reflection.cohort_id, reflection.message_id)
        assert stored is not None
        if inserted is not None:
            await self._index(stored)
        return stored, inserted is not None

    async def by_message(self, cohort_id: int, message_id: str) -> Reflection | None:
        return await self._session.scalar(
            select(Reflection).where(
                Reflection.cohort_id == cohort_id, Reflection.message_id == message_id
            )
        )

    async def latest_by(self, cohort_id: int, author_id: int, theme: int) -> Reflection | None:
        return await self._session.scalar(
            select(Reflection)
            .where(
                Reflection.cohort_id == cohort_id,
                Reflection.author_id == author_id,
                Reflection.theme_number == theme,
            )
            .order_by(Reflection.created_at.desc(), Reflection.id.desc())
            .limit(1)
        )

    async def digilog_authors(self, cohort_id: int, theme: int) -> set[int]:
        """Who has posted or replied in a theme's digilog."""
        query = select(Reflection.author_id).where(
            Reflection.cohort_id == cohort_id,
            Reflection.theme_number == theme,
            Reflection.source.in_((Source.digilog_post, Source.digilog_reply)),
        )
        return set((await self._session.scalars(query.distinct())).all())

    async def digilog_activity(
        self, cohort_id: int
    ) -> Sequence[tuple[int | None, int, Source, int | None]]:
        """(theme, author, post or reply, whom it answered) for every digilog contribution."""
        query = select(
            Reflection.theme_number,
            Reflection.author_id,
            Reflection.source,
            Reflection.replied_to_person_id,
        ).where(
            Reflection.cohort_id == cohort_id,
            Reflection.source.in_((Source.digilog_post, Source.digilog_reply)),
        )
        return [tuple(row) for row in (await self._session.execute(query)).all()]  # type: ignore[misc]

    async def repliers(self, cohort_id: int, theme: int) -> set[int]:
        """Who has replied to someone else in a theme's digilog."""
        query = select(Reflection.author_id).where(
            Reflection.cohort_id == cohort_id,
            Reflection.theme_number == theme,
            Reflection.source == Source.digilog_reply,
            Reflection.replied_to_person_id != Reflection.author_id,
        )
        return set((await self._session.scalars(query.distinct())).all())

    async def count_by(self, cohort_id: int, author_id: int) -> int:
        query = select(func.count()).where(
            Reflection.cohort_id == cohort_id, Reflection.author_id == author_id
        )
        return (await self._session.scalar(query)) or 0

    async def get(self, reflection_id: int) -> Reflection | None:
        return await self._session.get(Reflection, reflection_id)

    async def edit(self, reflection: Reflection, body: str) -> None:
        reflection.body = body
        reflection.updated_at = now_of(self._session)
        await self._session.flush()
        await self._index(reflection)

    async def remove(self, reflection: Reflection) -> None:
        if self._sqlite:
            await self._session.execute(
                delete(_search_table).where(_search_table.c.rowid == reflection.id)
            )
        await self._session.delete(reflection)
        await self._session.flush()

    async def _index(self, reflection: Reflection) -> None:
        await self._write_index(reflection.id, reflection.body)

    async def _write_index(self, reflection_id: int, body: str) -> None:
        """Index a body with this analyser, and mark the reflection as indexed by it."""
        if self._sqlite:
            form, base, part = sqlite_columns(body)
            await self._session.execute(
                text(
                    "INSERT OR REPLACE INTO reflection_search(rowid, form, base, part) "
                    "VALUES (:id, :form, :base, :part)"
                ),
                {"id": reflection_id, "form": form, "base": base, "part": part},
            )
            await self._session.execute(
                text("UPDATE reflections SET search_version = :v WHERE id = :id"),
                {"id": reflection_id, "v": ANALYSER_VERSION},
            )
        else:
            await self._session.execute(
                text(
                    "UPDATE reflections SET search_vector = CAST(:vector AS tsvector), "
                    "search_forms = CAST(:forms AS tsvector), search_version = :v WHERE id = :id"
                ),
                {
                    "id": reflection_id,
                    "vector": tsvector_literal(body),
                    "forms": forms_literal(body),
                    "v": ANALYSER_VERSION,
                },
            )

    async def reindex_outdated(self, batch: int = REINDEX_BATCH) -> int:
        """Re-index up to `batch` reflections an older analyser indexed, newest first
        (the ones people look for soonest); how many it did."""
        rows = (
            await self._session.execute(
                select(Reflection.id, Reflection.body)
                .where(Reflection.search_version != ANALYSER_VERSION)
                .order_by(Reflection.id.desc())
                .limit(batch)
            )
        ).all()
        for reflection_id, body in rows:
            await self._write_index(reflection_id, body)
        return len(rows)

    async def visible(
        self,
        viewer: Viewer,
        *,
        theme: int | None = None,
        mine: bool = False,
        sources: Collection[Source] = (),
        limit: int = 20,
    ) -> list[ReflectionView]:
        query = _with_people(select(Reflection, Person, Organisation, _ReplyTo)).where(
            _visible_to(viewer), *_narrowed(viewer, theme, mine, sources)
        )
        query = query.order_by(Reflection.created_at.desc(), Reflection.id.desc()).limit(limit)
        return [ReflectionView(*row) for row in (await self._session.execute(query)).all()]

    async def search(
        self,
        viewer: Viewer,
        query: str | ParsedQuery,
        *,
        theme: int | None = None,
        mine: bool = False,
        sources: Collection[Source] = (),
        limit: int = 20,
    ) -> list[ReflectionView]:
        """Ranked full-text search, best first, within what the viewer may see.

        Only the newest RANK_WINDOW matches the viewer may see are ranked. A common word
        matches tens of thousands of reflections in a big bank, and every match costs:
        scoring it, and on PostgreSQL finding it (the newest matches come from walking
        the table newest first and testing each row, as GIN hands out no order), which
        is what kept PostgreSQL's p95 above 100 ms with 2,000. Ranking picks by form,
        inflection and compound part, which the newest 200 matches of a common word have
        many of. With fewer matches than that the result is the full ranking. A quoted
        phrase is checked, in Python, the same way for both databases, on the words of
        the newest PHRASE_WINDOW matches of its words.
        """
        parsed = parse_query(query) if isinstance(query, str) else query
        if parsed.empty:
            return []
        conditions = [_visible_to(viewer), *_narrowed(viewer, theme, mine, sources)]
        candidates, score_of, lower_is_better = self._candidates(parsed)
        candidates = candidates.where(*conditions)
        if parsed.phrases:
            window_query = candidates.add_columns(Reflection.body).limit(PHRASE_WINDOW).subquery()
            window = (
                await self._session.execute(
                    select(window_query.c.id, score_of(window_query), window_query.c.body)
                )
            ).all()
            kept = [(id_, score) for id_, score, body in window if phrases_hold(body, parsed)]
            kept.sort(key=lambda row: (row[1] if lower_is_better else -row[1], -row[0]))
            ids = [id_ for id_, _ in kept[:limit]]
            if not ids:
                return []
            query_views = _with_people(select(Reflection, Person, Organisation, _ReplyTo)).where(
                Reflection.id.in_(ids)
            )
            views = {
                row[0].id: ReflectionView(*row)
                for row in (await self._session.execute(query_views)).all()
            }
            return [views[id_] for id_ in ids]
        window_query = candidates.limit(max(RANK_WINDOW, limit)).subquery()
        score = score_of(window_query).label("score")
        best = (
            select(window_query.c.id, score)
            .order_by(score.asc() if lower_is_better else score.desc(), window_query.c.id.desc())
            .limit(limit)
            .subquery()
        )
        ranked = best.c.score.asc() if lower_is_better else best.c.score.desc()
        statement = (
            _with_people(select(Reflection, Person, Organisation, _ReplyTo))
            .join(best, best.c.id == Reflection.id)
            .order_by(ranked, Reflection.id.desc())
        )
        rows = (await self._session.execute(statement)).all()
        return [ReflectionView(*row) for row in rows]

    def _candidates(
        self, parsed: ParsedQuery
    ) -> tuple[Select[tuple[int, Any]], Callable[[Subquery], ColumnElement[Any]], bool]:
        """Every match, newest first; how to score the matches of a window of it; and
        whether a lower score is better.

        PostgreSQL scores only the window, so that the planner does not score every match
        before sorting them by id.
        """
        if self._sqlite:
            weights = ", ".join(str(w) for w in FTS5_WEIGHTS)
            bm25: ColumnElement[Any] = literal_column(f"bm25(reflection_search, {weights})")
            statement = (
                select(Reflection.id.label("id"), bm25.label("score"))
                .join(_search_table, _search_table.c.rowid == Reflection.id)
                .where(text("reflection_search MATCH :match").bindparams(match=fts5_match(parsed)))
                .order_by(_search_table.c.rowid.desc())
            )
            return statement, lambda window: window.c.score, True
        found = _tsquery(bindparam("tsquery", tsquery_literal(parsed)))
        statement = (
            select(Reflection.id.label("id"), _vector.label("vector"), _forms.label("forms"))
            .where(_vector.op("@@")(found))
            .order_by(Reflection.id.desc())
        )
        return statement, lambda window: _pg_score(window, parsed), False

    async def _any_match(
        self,
        viewer: Viewer,
        parsed: ParsedQuery,
        theme: int | None,
        mine: bool,
        sources: Collection[Source],
    ) -> bool:
        candidates, _, _ = self._candidates(parsed)
        statement = candidates.where(
            _visible_to(viewer), *_narrowed(viewer, theme, mine, sources)
        ).limit(1)
        return (await self._session.execute(statement)).first() is not None

    async def suggestions(
        self,
        viewer: Viewer,
        parsed: ParsedQuery,
        *,
        theme: int | None = None,
        mine: bool = False,
        sources: Collection[Source] = (),
    ) -> list[str]:
        """For a query that found nothing: the same query with each word that finds
        nothing on its own replaced by the nearest Swedish words (by edit distance) that
        do find something the viewer may see. Only words the viewer's own search would
        find are offered, so a suggestion never tells of a reflection they may not read.
        """
        replacements: dict[str, list[str]] = {}
        for word in parsed.required:
            alone = ParsedQuery(required=(word,))
            if await self._any_match(viewer, alone, theme, mine, sources):
                continue
            found: list[str] = []
            for candidate in nearest_words(word.form):
                probe = ParsedQuery(required=(query_word(candidate),))
                if await self._any_match(viewer, probe, theme, mine, sources):
                    found.append(candidate)
                    if len(found) == SUGGESTIONS:
                        break
            if not found:
                return []  # a word with no near neighbour in the bank: nothing to offer
            replacements[word.form] = found
        if not replacements:
            return []
        forms = [w.form for w in parsed.required]
        first_wrong = next(f for f in forms if f in replacements)
        offers = []
        for choice in replacements[first_wrong]:
            offers.append(
                " ".join(choice if f == first_wrong else replacements.get(f, [f])[0] for f in forms)
            )
        return offers

    async def naive_search(self, viewer: Viewer, words: str, *, limit: int = 20) -> list[int]:
        """A LIKE scan on the raw words: the baseline that bench/bank_search.py measures against."""
        conditions = [Reflection.body.ilike(f"%{w}%") for w in words.split()]
        query = (
            select(Reflection.id)
            .where(_visible_to(viewer), *conditions)
            .order_by(Reflection.id.desc())
            .limit(limit)
        )
        return list((await self._session.scalars(query)).all())

    async def export(
        self,
        cohort_id: int,
        viewer: Viewer | None = None,
        batch: int = 1000,
        *,
        private: bool = False,
    ) -> AsyncIterator[ReflectionView]:
        """A cohort's reflections, oldest first, streamed in batches: those the viewer may
        see, or (for an administrator) every one but the private ones, unless `private`."""
        query = (
            _with_people(select(Reflection, Person, Organisation, _ReplyTo))
            .where(Reflection.cohort_id == cohort_id)
            .order_by(Reflection.id)
            .execution_options(yield_per=batch)
        )
        if viewer is not None:
            query = query.where(_visible_to(viewer))
        elif not private:
            query = query.where(Reflection.visibility != Visibility.private)
        result = await self._session.stream(query)
        async for row in result:
            yield ReflectionView(*row)

    async def authors_of(self, cohort_id: int, source: Source) -> set[int]:
        """Who has written a reflection of one kind (a needs inventory), whoever may read it:
        for a count, never for its text."""
        query = select(Reflection.author_id).where(
            Reflection.cohort_id == cohort_id, Reflection.source == source
        )
        return set((await self._session.scalars(query.distinct())).all())

    async def shared_digilog(self, cohort_id: int, theme: int) -> list[ReflectionView]:
        """A theme's digilog posts and replies that the whole cohort may see, oldest first:
        what a digest may count and quote."""
        query = (
            _with_people(select(Reflection, Person, Organisation, _ReplyTo))
            .where(
                Reflection.cohort_id == cohort_id,
                Reflection.theme_number == theme,
                Reflection.visibility == Visibility.cohort,
                Reflection.source.in_((Source.digilog_post, Source.digilog_reply)),
            )
            .order_by(Reflection.created_at, Reflection.id)
        )
        return [ReflectionView(*row) for row in (await self._session.execute(query)).all()]

    async def shared_bodies_beside(self, cohort_id: int, theme: int, limit: int) -> list[str]:
        """The newest texts of the cohort's bank that everyone in it may see, outside one
        theme: what a digest compares that theme's words with."""
        query = (
            select(Reflection.body)
            .where(
                Reflection.cohort_id == cohort_id,
                Reflection.visibility == Visibility.cohort,
                or_(Reflection.theme_number.is_(None), Reflection.theme_number != theme),
            )
            .order_by(Reflection.id.desc())
            .limit(limit)
        )
        return list((await self._session.scalars(query)).all())

    async def count(self, cohort_id: int) -> int:
        query = select(func.count()).where(Reflection.cohort_id == cohort_id)
        return (await self._session.scalar(query)) or 0

    async def reply_counts(self, cohort_id: int) -> Sequence[tuple[int, int, int]]:
        """(author organisation, answered person's organisation, replies) for the cohort."""
        answered = aliased(Membership)
        query = (
            select(Reflection.organisation_id, answered.organisation_id, func.count())
            .join(
                answered,
                and_(
                    answered.person_id == Reflection.replied_to_person_id,
                    answered.cohort_id == Reflection.cohort_id,
                ),
            )
            .where(Reflection.cohort_id == cohort_id)
            .group_by(Reflection.organisation_id, answered.organisation_id)
        )
        return [(a, b, n) for a, b, n in (await self._session.execute(query)).all()]


_CHOICES: list[str] = []


def nearest_words(word: str, limit: int = 12) -> list[str]:
    """Swedish words within one edit (two for longer words) of `word`, nearest first."""
    # Imported at the first search that finds nothing (some 3 MB an idle server does
    # not carry); reading the vocabulary below costs far more than the import.
    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein

    if not _CHOICES:
        _CHOICES.extend(sorted(set(vocabulary())))
    longest = 1 if len(word) <= 4 else 2
    found = process.extract(
        word, _CHOICES, scorer=Levenshtein.distance, score_cutoff=longest, limit=limit
    )
    return [choice for choice, distance, _ in sorted(found, key=lambda f: (f[1], f[2])) if distance]


async def reindex_in_background(store: Store, pause: float = 0.05) -> int:
    """Re-index, a batch per transaction, every reflection an older analyser indexed.

    Searches go on meanwhile (with the old terms until a row's turn comes); the pause
    between batches leaves the event loop to the bot. Returns how many it re-indexed.
    """
    done = 0
    while True:
        async with store.transaction() as repos:
            count = await repos.reflections.reindex_outdated()
        done += count
        if count < REINDEX_BATCH:
            break
        await asyncio.sleep(pause)
    if done:
        log.info("re-indexed %d reflections for search version %d", done, ANALYSER_VERSION)
    return done
