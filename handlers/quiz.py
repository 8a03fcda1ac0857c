"""Quizzes: a facilitator opens a theme's quiz, participants answer, the first answer counts.

Each person sees a question's options in an order of their own (`shown_order`); the
buttons and the stored answers name options by their place in the programme file, and
results list them in that order."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from handlers.core import anonymity
from handlers.core.access import Access
from handlers.core.channels import to_every_channel
from handlers.core.context import Args, Context, Refusal
from handlers.core.deliveries import Composing, Decision, Drop
from handlers.core.formats import percent_text
from handlers.core.i18n import N_, translator
from handlers.core.programme_file import Programme, Quiz, Theme, localise
from handlers.core.registry import ButtonKind, Command, Feature
from handlers.core.steps import channel_step
from handlers.core.vocabulary import (
    Message,
    MessageBuilder,
    Option,
    Outgoing,
    Span,
)
from handlers.themes import theme_number
from storage.models import Cohort, ThemeRun
from storage.unit import Repositories


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


def quiz_announcement(
    cohort: Cohort, theme: Theme, number: int, language: str | None = None
) -> Message:
    """The channel post that opens a quiz, in the cohort's language (or `language`)."""
    assert theme.quiz is not None
    t = translator(language or cohort.language)
    return (
        MessageBuilder()
        .heading(t("Quiz: theme {number}", number=number))
        .para(
            t.plural(
                "The quiz for “{title}” is open: {n} question. Your first answer counts.",
                "The quiz for “{title}” is open: {n} questions. Your first answer counts.",
                len(theme.quiz.questions),
                title=localise(theme.title, language or cohort.language),
            )
        )
        .choices(
            [Option(QuizAction(cohort.id, number).begin(), t("Take the quiz"), style="primary")]
        )
        .build()
    )


async def quiz_view(context: Context, action_id: str) -> Message | None:
    """The quiz's channel card as one person sees it: how far they are, their result once
    they are done, or that it has closed. Reads only. None for a button it does not know."""
    t = context.t
    action, cohort = QuizAction.parse(action_id), context.cohort
    if action is None or action.question is not None or cohort is None:
        return None
    if action.cohort_id != cohort.id:
        return None
    number = action.theme
    theme = (await context.programme()).theme(number)
    run = await context.repos.themes.get(cohort.id, number)
    if theme is None or theme.quiz is None or run is None or run.quiz_opened_at is None:
        return None
    total = len(theme.quiz.questions)
    build = MessageBuilder().heading(t("Quiz: theme {number}", number=number))
    closed = run.quiz_closed_at is not None
    answers = (
        await context.repos.quizzes.answers(cohort.id, context.member.person.id, number)
        if context.member is not None
        else []
    )
    if not answers and not closed:
        return quiz_announcement(cohort, theme, number, t.language)  # as posted, in their words
    if closed:
        build.para(t("The quiz for theme {number} has closed.", number=number))
    if answers and (closed or len(answers) >= total):
        build.para(
            t(
                "You answered {score} of {total} questions correctly "
                "in the quiz for theme {number}.",
                score=sum(1 for a in answers if a.correct),
                total=total,
                number=number,
            )
        )
        return build.build()
    if closed:
        return build.build()
    build.para(
        t(
            "You have answered {answered} of {total} questions.",
            answered=len(answers),
            total=total,
        )
    )
    build.choices([Option(action.begin(), t("Continue the quiz"), style="primary")])
    return build.build()


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
    answered = await context.repos.quizzes.answered(cohort.id, member.person.id, number)
    build = lead or MessageBuilder()
    remaining = [i for i in range(len(quiz.questions)) if i not in answered]
    if not remaining:
        score = sum(answered.values())
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
    # Shown shuffled; the button still names the option by its place in the programme file.
    order = shown_order(cohort.id, member.person.id, number, index, len(question.options))
    build.choices(
        Option(action.pick(index, i), context.local(question.options[i].text)) for i in order
    )
    return context.reply(build.build())


def shown_order(
    cohort_id: int, person_id: int, theme: int, question: int, options: int
) -> list[int]:
    """The order in which a person sees a question's options: shuffled, so that no place
    is always the right one, and the same every time that person sees that question. From
    a hash of who and which question, never from the random module's state."""

    def rank(option: int) -> bytes:
        return hashlib.sha256(
            f"{cohort_id}:{person_id}:{theme}:{question}:{option}".encode()
        ).digest()

    return sorted(range(options), key=rank)


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
    """results N: participants' answers per question and option (in the programme file's
    order) and per group, by the rule of `anonymity.py`."""
    t = context.t
    context.require_facilitator()
    cohort = context.require_cohort()
    programme: Programme = await context.programme()
    number = theme_number(context, args, programme)
    theme = programme.theme(number)
    assert theme is not None
    if theme.quiz is None:
        raise Refusal(t("Theme {number} has no quiz.", number=number))
    build = MessageBuilder().heading(t("Quiz results: theme {number}", number=number))
    groups = await anonymity.groups(context.repos, cohort, t)
    if not groups.label_of:
        build.para(anonymity.too_small(t, len(groups.organisation_of)))
        return [context.reply(build.build())]
    repos = context.repos
    per_question = {r.question_index: r for r in await repos.quizzes.by_question(cohort.id, number)}
    per_option = await repos.quizzes.by_option(cohort.id, number)
    per_organisation = await repos.quizzes.by_organisation(cohort.id, number)
    answered = sum(r.participants for r in per_organisation)
    build.para(
        t(
            "{answered} of {total} participants have answered.",
            answered=answered,
            total=len(groups.organisation_of),
        )
    )
    if not per_organisation:
        build.note(t("No answers yet."))
        return [context.reply(build.build())]
    build.para(Span(t("By question"), strong=True))
    for i, question in enumerate(theme.quiz.questions):
        result = per_question.get(i)
        n, right = (result.answered, result.correct) if result else (0, 0)
        head = f"{i + 1}. {context.local(question.text)} — "
        if not anonymity.shown(n):
            build.para(head + anonymity.too_few(t, n))
            continue
        build.para(
            head
            + t(
                "{correct} of {answered} right ({percent})",
                correct=right,
                answered=n,
                percent=percent_text(right, n, t.language),
            )
        )
        build.bullets(
            f"{'✅' if option.correct else '▫️'} {context.local(option.text)}: "
            f"{per_option.get((i, o), 0)}"
            for o, option in enumerate(question.options)
        )
    build.para(Span(t("By organisation"), strong=True))
    label_of_organisation = {
        groups.organisation_of[person]: label for person, label in groups.label_of.items()
    }
    totals: dict[str, list[int]] = {}
    for r in per_organisation:
        if r.organisation_id in label_of_organisation:
            counts = totals.setdefault(label_of_organisation[r.organisation_id], [0, 0, 0])
            for j, value in enumerate((r.participants, r.answers, r.correct)):
                counts[j] += value
    if anonymity.per_group({g: c[0] for g, c in totals.items()}, groups.order):
        build.facts(
            (
                group,
                t.plural("{n} participant", "{n} participants", totals[group][0])
                + " · "
                + t(
                    "{percent} right",
                    percent=percent_text(totals[group][2], totals[group][1], t.language),
                ),
            )
            for group in groups.order
        )
    else:
        build.note(
            t(
                "Shown per organisation once at least {k} in every group have answered, so "
                "that no answer can be traced to a person.",
                k=anonymity.K,
            )
        )
    return [context.reply(build.build())]


async def _quiz_button(context: Context, action_id: str) -> list[Outgoing]:
    action = QuizAction.parse(action_id)
    if action is None:
        raise Refusal(context.t("That button no longer does anything."))
    return await choice(context, action)


async def _read_answers_ahead(repos: Repositories, presses: list[tuple[int, int, str]]) -> None:
    """A burst of answers: what each answerer has answered, read in one query."""
    quizzes = set()
    for cohort_id, person_id, action_id in presses:
        action = QuizAction.parse(action_id)
        if action is not None and action.cohort_id == cohort_id:
            quizzes.add((cohort_id, person_id, action.theme))
    await repos.quizzes.read_ahead(quizzes)


async def _compose_quiz(composing: Composing) -> Decision:
    """The calendar opens or closes a theme's quiz, once, and says so in the channel."""
    assert composing.due is not None
    repos, cohort, now, t = composing.repos, composing.cohort, composing.now, composing.t
    number = composing.theme_number
    run = await composing.theme_run()
    if run is None or number is None:
        return Drop(N_("the theme has not started"))
    if composing.due.step.kind == "quiz_open":
        theme = composing.programme.theme(number)
        if theme is None or theme.quiz is None:
            return Drop(N_("the theme has no quiz"))
        if run.quiz_opened_at is not None and not composing.applied:
            return Drop(N_("the quiz had been opened by hand"))
        if not composing.applied:
            await repos.themes.set_quiz_state(run, opened=now, closed=None)
            composing.apply()
        return await composing.everywhere(quiz_announcement(cohort, theme, number))
    if not composing.applied:
        if run.quiz_opened_at is None or run.quiz_closed_at is not None:
            return Drop(N_("the quiz was not open"))
        await repos.themes.set_quiz_state(run, opened=run.quiz_opened_at, closed=now)
        composing.apply()
    closed = t("The quiz for theme {number} has closed.", number=number)
    return await composing.everywhere(MessageBuilder().para(closed).build())


FEATURE = Feature(
    "quiz",
    N_("Quizzes"),
    commands=(
        Command(
            ("quiz",),
            N_("quiz [number]"),
            N_("Take a theme's quiz."),
            Access.member,
            take_quiz,
            sv=("quiz",),
        ),
        Command(
            ("quiz", "start"),
            N_("quiz start <number>"),
            N_("Open a theme's quiz."),
            Access.facilitator,
            start_quiz,
            sv=("quiz", "starta"),
        ),
        Command(
            ("quiz", "close"),
            N_("quiz close <number>"),
            N_("Close a theme's quiz."),
            Access.facilitator,
            close_quiz,
            sv=("quiz", "stäng"),
        ),
        Command(
            ("results",),
            N_("results <number>"),
            N_("Quiz results per question and per organisation."),
            Access.facilitator,
            results,
            sv=("resultat",),
        ),
    ),
    buttons=(
        ButtonKind(
            "quiz",
            Access.member,
            "a quiz's Begin and answer buttons",
            _quiz_button,
            "this cohort's quiz, open",
            view=quiz_view,
            read_ahead=_read_answers_ahead,
        ),
    ),
    steps=(channel_step("quiz_open"), channel_step("quiz_close")),
    deliveries={"quiz_open": _compose_quiz, "quiz_close": _compose_quiz},
    labels={"quiz_open": N_("Quiz openings"), "quiz_close": N_("Quiz closings")},
)
