"""Theme runs: which themes a cohort has started, where their posts are, quiz state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import BRIEF, insert_ignoring_duplicates
from storage.models import Cohort, CohortChannel, ThemePost, ThemeRun, now_of

_RUNS = "digilog_theme_runs"  # the runs read in this transaction (session.info)
# Built once: every quiz click asks it.
_RUN = (
    select(ThemeRun)
    .where(
        ThemeRun.cohort_id == bindparam("cohort_id"),
        ThemeRun.theme_number == bindparam("theme_number"),
    )
    .execution_options(**{BRIEF: True})
)


class ThemeRunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, cohort_id: int, theme_number: int) -> ThemeRun | None:
        """Read once per transaction: a batch of clicks on one quiz asks for it fifty times.
        What is kept is the session's own object, so changes made to it show; `start`
        forgets what was read, as does a rollback to a savepoint (`forget_runs`)."""
        known: dict[tuple[int, int], ThemeRun | None] = self._session.info.setdefault(_RUNS, {})
        key = (cohort_id, theme_number)
        if key not in known:
            known[key] = await self._session.scalar(
                _RUN, {"cohort_id": cohort_id, "theme_number": theme_number}
            )
        return known[key]

    def forget_runs(self) -> None:
        """After a rollback to a savepoint: a run read or started since may be undone."""
        self._session.info.pop(_RUNS, None)

    async def by_id(self, run_id: int) -> ThemeRun | None:
        return await self._session.get(ThemeRun, run_id)

    async def start(
        self, cohort_id: int, theme_number: int, started_by: int | None, forced: bool
    ) -> ThemeRun | None:
        """Start a theme once: None if it had already been started (by anyone, concurrently too)."""
        self.forget_runs()
        inserted = await self._session.scalar(
            insert_ignoring_duplicates(self._session, ThemeRun)
            .values(
                cohort_id=cohort_id,
                theme_number=theme_number,
                started_by=started_by,
                forced=forced,
                started_at=now_of(self._session),
            )
            .returning(ThemeRun.id)
        )
        return None if inserted is None else await self._session.get(ThemeRun, inserted)

    async def started(self, cohort_id: int) -> list[ThemeRun]:
        query = select(ThemeRun).where(ThemeRun.cohort_id == cohort_id)
        return list((await self._session.scalars(query.order_by(ThemeRun.theme_number))).all())

    async def by_post(
        self, cohort_id: int, platform: str, workspace: str, conversation_id: str, message_id: str
    ) -> ThemeRun | None:
        """The theme whose post this is, in the cohort's own channel or another of its.

        A message id alone is not enough: Slack's are timestamps, and a message in a
        private channel or a direct message may carry the same one as a theme post."""
        own = await self._session.scalar(
            select(ThemeRun)
            .join(Cohort, Cohort.id == ThemeRun.cohort_id)
            .where(
                ThemeRun.cohort_id == cohort_id,
                ThemeRun.post_message_id == message_id,
                Cohort.platform == platform,
                Cohort.workspace == workspace,
                Cohort.conversation_id == conversation_id,
            )
        )
        if own is not None:
            return own
        return await self._session.scalar(
            select(ThemeRun)
            .join(ThemePost, ThemePost.run_id == ThemeRun.id)
            .join(CohortChannel, CohortChannel.id == ThemePost.channel_id)
            .where(
                ThemeRun.cohort_id == cohort_id,
                ThemePost.message_id == message_id,
                CohortChannel.platform == platform,
                CohortChannel.workspace == workspace,
                CohortChannel.conversation_id == conversation_id,
            )
        )

    async def record_post(
        self, run_id: int, message_id: str, channel_id: int | None = None
    ) -> None:
        """Keep where the theme's post landed: in the cohort's own channel, or in another
        of its channels (`channel_id`). The first report wins."""
        run = await self._session.get(ThemeRun, run_id)
        if run is None:
            return
        if channel_id is None:
            if run.post_message_id is None:
                run.post_message_id = message_id
        elif await self.post_in(run_id, channel_id) is None:
            self._session.add(
                ThemePost(run_id=run_id, channel_id=channel_id, message_id=message_id)
            )
        await self._session.flush()

    async def post_in(self, run_id: int, channel_id: int) -> str | None:
        """The theme's post in one of the cohort's other channels, if it has gone out."""
        return await self._session.scalar(
            select(ThemePost.message_id).where(
                ThemePost.run_id == run_id, ThemePost.channel_id == channel_id
            )
        )

    async def set_quiz_state(
        self, run: ThemeRun, *, opened: datetime | None, closed: datetime | None
    ) -> None:
        run.quiz_opened_at, run.quiz_closed_at = opened, closed
        await self._session.flush()
