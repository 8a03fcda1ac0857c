"""Who has done a theme's steps: the one place that decides whom a nudge is for."""

from __future__ import annotations

from handlers.core.context import programme_of
from handlers.core.steps import Task, survey_key
from storage.models import Cohort, Role
from storage.unit import Repositories


async def done_by(repos: Repositories, cohort: Cohort, task: Task, theme: int) -> set[int]:
    """The people who have done the task (post, reply, quiz) in that theme."""
    match task:
        case Task.post:
            return await repos.reflections.digilog_authors(cohort.id, theme)
        case Task.reply:
            return await repos.reflections.repliers(cohort.id, theme)
        case Task.quiz:
            programme = await programme_of(repos, cohort.program_id)
            found = programme.theme(theme)
            questions = len(found.quiz.questions) if found and found.quiz else 0
            scores = await repos.quizzes.scores(cohort.id, theme)
            return {person for person, (answered, _) in scores.items() if answered >= questions}
        case Task.survey:
            return await repos.surveys.respondents(cohort.id, survey_key(theme))


async def missing(
    repos: Repositories, cohort: Cohort, task: Task, theme: int, organisation: str | None = None
) -> list[int]:
    """Participants who have not done it, in name order; only one organisation's if given.

    Replying is asked only of those who have posted: the others get the post nudge.
    """
    done = await done_by(repos, cohort, task, theme)
    if task is Task.reply:
        posted = await repos.reflections.digilog_authors(cohort.id, theme)
    members = await repos.people.members(cohort.id, Role.participant)
    return [
        m.person.id
        for m in members
        if m.person.id not in done
        and (task is not Task.reply or m.person.id in posted)
        and (organisation is None or m.organisation.key == organisation)
    ]
