"""Redraw the example charts of docs/reports.md from a generated cohort, through the real handlers.

    .venv/bin/python docs/make_examples.py

Sixty participants from the example programme's five organisations take part in
themes 1–3 at random (seeded, so the charts are the same each time), answer the
surveys and rate themselves at the start and at the end; the report's own charts
are then written to docs/.
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handlers.admin import CohortSpec, create_cohort, import_roster, load_programme  # noqa: E402
from handlers.core.i18n import translator  # noqa: E402
from handlers.core.programme_file import load_programme as read_programme  # noqa: E402
from handlers.core.roster import RosterRow  # noqa: E402
from handlers.core.vocabulary import (  # noqa: E402
    Actor,
    ChoiceMade,
    CommandReceived,
    Conversation,
    FormSubmitted,
    ThreadPost,
)
from handlers.digilog import Digilog  # noqa: E402
from handlers.report import assessment_chart, chart, figures  # noqa: E402
from storage import migrate  # noqa: E402
from storage.db import create_engine  # noqa: E402
from storage.models import Role  # noqa: E402
from storage.unit import Store  # noqa: E402

PEOPLE = 60


async def main() -> None:
    rng = random.Random(7)
    programme = read_programme(ROOT / "examples" / "digital-kompetens.yaml")
    organisations = [o.id for o in programme.programme.organisations]
    assert programme.self_assessment is not None
    areas = [a.id for a in programme.self_assessment.areas]
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite+aiosqlite:///{folder}/examples.db")
        await migrate.upgrade(engine)
        store = Store(engine)
        await load_programme(store, programme)
        cohort = await create_cohort(
            store,
            CohortSpec(
                key="exempel",
                program_id=programme.id,
                title="Exempel",
                conversation_id="C-EXEMPEL",
                language="en",
            ),
        )
        rows = [RosterRow(1, "Fia", None, "fia", "region-vasterbotten", Role.facilitator)]
        rows += [
            RosterRow(n + 2, f"P{n}", None, f"p{n}", organisations[n % 5], Role.participant)
            for n in range(PEOPLE)
        ]
        await import_roster(store, cohort.key, rows, skip_bad=False)
        digilog = Digilog(store)
        channel = Conversation("console", "local", cohort.conversation_id)

        def actor(user: str) -> Actor:
            return Actor("console", "local", user)

        async def say(user: str, text: str) -> None:
            await digilog.handle(CommandReceived(actor(user), channel, text))

        async def submit(user: str, form_id: str, values: dict[str, str]) -> None:
            await digilog.handle(FormSubmitted(actor(user), channel, form_id, values))

        participants = [f"p{n}" for n in range(PEOPLE)]
        # Each organisation takes part a little differently, and less as the spring goes on.
        eagerness = {org: 0.55 + 0.08 * i for i, org in enumerate(organisations)}
        await say("fia", "assess open start")
        start = {p: {a: rng.randint(1, 3) for a in areas} for p in participants}
        for person, ratings in start.items():
            values = {a: str(r) for a, r in ratings.items()}
            await submit(person, f"survey:{cohort.id}:assessment:start", values)
        await say("fia", "assess close start")
        for theme in (1, 2, 3):
            await say("fia", f"theme start {theme}")
            async with store.transaction() as repos:
                run = await repos.themes.get(cohort.id, theme)
                assert run is not None
                await repos.themes.record_post(run.id, f"root-{theme}")
            thread = channel.thread(f"root-{theme}")
            await say("fia", f"quiz start {theme}")
            quiz = programme.themes[theme - 1].quiz
            for n, person in enumerate(participants):
                chance = eagerness[organisations[n % 5]] - 0.1 * theme
                if rng.random() < chance:
                    await digilog.handle(
                        ThreadPost(actor(person), thread, f"m-{theme}-{person}", "Ett inlägg.")
                    )
                if quiz is not None and rng.random() < chance + 0.1:
                    for question in range(len(quiz.questions)):
                        action = f"quiz:{cohort.id}-{theme}:{question}:0"
                        await digilog.handle(ChoiceMade(actor(person), channel, action))
        await say("fia", "assess open end")
        for person, ratings in start.items():
            values = {a: str(min(5, r + rng.choice((0, 1, 1, 2)))) for a, r in ratings.items()}
            await submit(person, f"survey:{cohort.id}:assessment:end", values)
        t = translator("en")
        async with store.transaction() as repos:
            found = await figures(repos, cohort, t)
        await engine.dispose()
    participation, growth = chart(t, found), assessment_chart(t, found)
    assert participation is not None and growth is not None
    (ROOT / "docs" / "report-example.png").write_bytes(participation)
    (ROOT / "docs" / "self-assessment-example.png").write_bytes(growth)
    print("wrote docs/report-example.png and docs/self-assessment-example.png")


if __name__ == "__main__":
    asyncio.run(main())
