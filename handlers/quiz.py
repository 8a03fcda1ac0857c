"""Quizzes: a facilitator opens a theme's quiz, participants answer, the first answer counts."""

from __future__ import annotations

from dataclasses import dataclass

from handlers import anonymity
from handlers.channels import to_every_channel
from handlers.context import Args, Context, Refusal
from handlers.i18n import translator
from handlers.programme_file import Programme, Quiz, Theme, localise
from handlers.themes import theme_number
from handlers.vocabulary import (
    Message,
    MessageBuilder,
    Option,
    Outgoing,
    Span,
)
from storage.models import Cohort, Role, ThemeRun


@dataclass(frozen=True)
class QuizAction:
    """`quiz:<cohort>-<theme>:begin` or `quiz:<cohort>-<theme>:<question>:<option>`."""

    cohort_id: int
    theme: int
    question: int | None = None
    option: int | None = None

    @property
    def quiz_id(self) -> str:
        return f"{self.cohort_id}-{self.theme}"

    def begin(self) -> str:
        return f"quiz:{self.quiz_id}:begin"

    def pick(self, question: int, option: int) -> str:
        return f"quiz:{self.quiz_id}:{question}:{option}"

    @classmethod
    def parse(cls, action_id: str) -> QuizAction | None:
        parts = action_id.split(":")
        if len(parts) not in (3, 4) or parts[0] != "quiz":
            return None
        cohort, _, theme = parts[1].partition("-")
        try:
            if len(parts) == 3:
                return cls(int(cohort), int(theme)) if parts[2] == "begin" else None
            return cls(int(cohort), int(theme), int(parts[2]), int(parts[3]))
        except ValueError:
            return None


async def _open_quiz(context: Context, number: int) -> tuple[ThemeRun, Quiz]:
    cohort = context.require_cohort()
    programme = await context.programme()
    theme = programme.theme(number)
    run = await context.repos.themes.get(cohort.id, number)
    if theme is None or theme.quiz is None:
        raise Refusal(context.t("Theme {number} has no quiz.", number=number))
    if run is None or run.quiz_opened_at is None:
        raise Refusal(context.t("The quiz for theme {number} is not open yet.", number=number))
    if run.quiz_closed_at is not None:
        raise Refusal(context.t("The quiz for theme {number} has closed.", number=number))
    return run, theme.quiz


async def start_quiz(context: Context, args: Args) -> list[Outgoing]:
    t = context.t
    context.require_facilitator()
    cohort = context.require_cohort()
    programme = await context.programme()
    number = theme_number(context, args, programme)
    theme = programme.theme(number)
    assert theme is not None
    if theme.quiz is None:
        raise Refusal(t("Theme {number} has no quiz.", number=number))
    run = await context.repos.themes.get(cohort.id, number)
    if run is None:
        raise Refusal(t("Start theme {number} before its quiz.", number=number))
    if run.quiz_opened_at is not None and run.quiz_closed_at is None:
        raise Refusal(t("The quiz for theme {number} is already open.", number=number))
    now = context.now()
    await context.repos.themes.set_quiz_state(run, opened=now, closed=None)
    posts = await to_every_channel(
        context.repos,
        cohort,
        quiz_announcement(cohort, theme, number),
    )
    return [*posts, context.reply(t("The quiz for theme {number} is open.", number=number))]


def quiz_announcement(cohort: Cohort, theme: Theme, number: int) -> Message:
    """The channel post that opens a quiz, in the cohort's language."""
    assert theme.quiz is not None
    t = translator(cohort.language)
    return (
        MessageBuilder()
        .heading(t("Quiz: theme {number}", number=number))
        .para(
            t.plural(
                "The quiz for “{title}” is open: {n} question. Your first answer counts.",
                "The quiz for “{title}” is open: {n} questions. Your first answer counts.",
                len(theme.quiz.questions),
                title=localise(theme.title, cohort.language),
            )
        )
        .choices(
            [Option(QuizAction(cohort.id, number).begin(), t("Take the quiz"), style="primary")]
        )
        .build()
    )


async def close_quiz(context: Context, args: Args) -> list[Outgoing]:
    context.require_facilitator()
    number = theme_number(context, args, await context.programme())
    run, _ = await _open_quiz(context, number)
    await context.repos.themes.set_quiz_state(run, opened=run.quiz_opened_at, closed=context.now())
    return [context.reply(context.t("The quiz for theme {number} is closed.", number=number))]


async def take_quiz(context: Context, args: Args) -> list[Outgoing]:
    """quiz [N]: the next unanswered question of theme N's quiz (or of the open one)."""
    context.require_member()
    cohort = context.require_cohort()
    if args.words:
        number = theme_number(context, args, await context.programme())
    else:
        open_runs = [
            r
            for r in await context.repos.themes.started(cohort.id)
            if r.quiz_opened_at and not r.quiz_closed_at
        ]
        if not open_runs:
            raise Refusal(context.t("No quiz is open right now."))
        number = open_runs[-1].theme_number
    return [await _next_question(context, number)]


async def _next_question(
    context: Context, number: int, lead: MessageBuilder | None = None, quiz: Quiz | None = None
) -> Outgoing:
    """The next unanswered question, or the score; `quiz` when the caller checked it is open."""
    t = context.t
    member = context.require_member()
    cohort = context.require_cohort()
    if quiz is None:
        _, quiz = await _open_quiz(context, number)
    answers = await context.repos.quizzes.answers(cohort.id, member.person.id, number)
    answered = {a.question_index for a in answers}
    build = lead or MessageBuilder()
    remaining = [i for i in range(len(quiz.questions)) if i not in answered]
    if not remaining:
        score = sum(1 for a in answers if a.correct)
        build.heading(t("Your result"))
        build.para(
            t(
                "You answered {score} of {total} questions correctly "
                "in the quiz for theme {number}.",
                score=score,
                total=len(quiz.questions),
                number=number,
            )
        )
        return context.reply(build.build())
    index = remaining[0]
    question = quiz.questions[index]
    action = QuizAction(cohort.id, number)
    build.heading(
        t("Question {position} of {total}", position=index + 1, total=len(quiz.questions))
    )
    build.para(context.local(question.text))
    build.choices(
        Option(action.pick(index, i), context.local(option.text))
        for i, option in enumerate(question.options)
    )
    return context.reply(build.build())


async def choice(context: Context, action: QuizAction) -> list[Outgoing]:
    t = context.t
    member = context.require_member()
    cohort = context.require_cohort()
    if action.cohort_id != cohort.id:
        raise Refusal(t("That quiz belongs to another cohort."))
    if action.question is None or action.option is None:
        return [await _next_question(context, action.theme)]
    _, quiz = await _open_quiz(context, action.theme)
    if not (0 <= action.question < len(quiz.questions)):
        raise Refusal(t("That question is not in this quiz."))
    question = quiz.questions[action.question]
    if not (0 <= action.option < len(question.options)):
        raise Refusal(t("That option is not in this question."))
    chosen = question.options[action.option]
    answer, new = await context.repos.quizzes.answer(
        cohort.id, member.person.id, action.theme, action.question, action.option, chosen.correct
    )
    lead = MessageBuilder()
    if not new:
        lead.note(t("You have already answered that question; your first answer counts."))
    else:
        correct = [context.local(o.text) for o in question.options if o.correct]
        # The question stays above its answer where the question's message is replaced.
        lead.para(Span(context.local(question.text), strong=True))
        if answer.correct:
            lead.para(t("✅ Right!"))
        else:
            lead.para(t("❌ Not quite. The right answer: {answer}", answer=" / ".join(correct)))
        lead.para(context.local(question.explanation))
        lead.divider()
    return [await _next_question(context, action.theme, lead, quiz)]


async def results(context: Context, args: Args) -> list[Outgoing]:
    t = context.t
    context.require_facilitator()
    cohort = context.require_cohort()
    programme: Programme = await context.programme()
    number = theme_number(context, args, programme)
    theme = programme.theme(number)
    assert theme is not None
    if theme.quiz is None:
        raise Refusal(t("Theme {number} has no quiz.", number=number))
    per_question = {
        r.question_index: r for r in await context.repos.quizzes.by_question(cohort.id, number)
    }
    per_organisation = await context.repos.quizzes.by_organisation(cohort.id, number)
    organisations = {o.id: o for o in await context.repos.programs.organisations(cohort.program_id)}
    participants = await context.repos.people.members(cohort.id, Role.participant)
    answered = sum(r.participants for r in per_organisation)
    build = MessageBuilder().heading(t("Quiz results: theme {number}", number=number))
    build.para(
        t(
            "{answered} of {total} participants have answered.",
            answered=answered,
            total=len(participants),
        )
    )
    build.para(t("By question"))
    rows = []
    for i, question in enumerate(theme.quiz.questions):
        result = per_question.get(i)
        n, right = (result.answered, result.correct) if result else (0, 0)
        rows.append(
            f"{i + 1}. {context.local(question.text)} — "
            + t(
                "{correct} of {answered} right ({percent})",
                correct=right,
                answered=n,
                percent=_percent(right, n),
            )
        )
    build.bullets(rows)
    build.para(t("By organisation"))
    # Only groups of at least anonymity.K: smaller organisations are merged.
    name = {
        r.organisation_id: context.local(organisations[r.organisation_id].name)
        for r in per_organisation
    }
    label = anonymity.named_labels(
        t, {name[r.organisation_id]: r.participants for r in per_organisation}
    )
    groups: dict[str, list[int]] = {}
    for r in per_organisation:
        if r.organisation_id in name and name[r.organisation_id] in label:
            counts = groups.setdefault(label[name[r.organisation_id]], [0, 0, 0])
            for i, value in enumerate((r.participants, r.answers, r.correct)):
                counts[i] += value
    build.facts(
        (
            group,
            t.plural("{n} participant", "{n} participants", groups[group][0])
            + " · "
            + t("{percent} right", percent=_percent(groups[group][2], groups[group][1])),
        )
        for group in anonymity.in_order(t, {g: g for g in groups})
    )
    if not per_organisation:
        build.note(t("No answers yet."))
    elif not groups:
        build.note(anonymity.too_few(t, answered))
    return [context.reply(build.build())]


def _percent(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)} %" if whole else "–"
