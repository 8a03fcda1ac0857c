"""Surveys after each theme, and the self-assessment at the start and at the end.

Both are questionnaires from the programme file, answered in a form while a
facilitator or the calendar keeps them open. A survey's key is `theme:<n>`, a
self-assessment round's `assessment:start` or `assessment:end`. Answering again
while it is open replaces one's earlier answers. Facilitators see figures by the rule
of `anonymity.py` (only means over at least `anonymity.K` respondents, per group only
when every group has that many), and free text without names once K have answered.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import fmean

from handlers.core import anonymity
from handlers.core.access import Access
from handlers.core.channels import to_every_channel
from handlers.core.context import Args, Context, Refusal, address_of
from handlers.core.deliveries import Composing, Decision, Drop, Send
from handlers.core.formats import number_text, signed_text
from handlers.core.humane import DEFAULT_HOURS, next_humane_time
from handlers.core.i18n import N_, Translator, translator
from handlers.core.programme_file import LabSession, Programme, Scale, SurveyQuestion, localise
from handlers.core.registry import ButtonKind, Command, Feature, FormKind
from handlers.core.steps import WORKPLACE_ZONE, assessment_key, channel_step, survey_key
from handlers.core.vocabulary import (
    Field,
    Form,
    FormSubmitted,
    Message,
    MessageBuilder,
    Option,
    Outgoing,
    SelectField,
    Span,
    TextField,
    ToActor,
)
from handlers.labs import _choose, sessions_by_key
from handlers.themes import theme_number
from storage.deliveries import Planned
from storage.models import CalendarEntry, Cohort, Role, SignupState, SurveyAnswer
from storage.surveys import Answer
from storage.unit import Repositories

PREFIX = "survey:"  # of forms and buttons: `survey:<cohort>:<key>`
FINAL = "final"  # the final evaluation of the whole programme
LAB_QUESTIONS = "lab_questions"  # a delivery: a lab session's questions, to one attendee
# A lab session's questions are asked from its end, and answered for this long.
LAB_ASKED_AFTER = timedelta(hours=1)
LAB_ANSWERS_FOR = timedelta(days=14)
# Attendance not marked a day after a session: everyone who had a seat is asked instead.
LAB_MARKING_WAIT = timedelta(days=1)
FINAL_WORDS = ("final", "slut")  # `survey open final`, `enkät öppna slut`
LAB_WORDS = ("lab", "labb")  # `survey lab hantera-information 1`, `enkät labb …`
ROUNDS = ("start", "end")
SWEDISH_ROUNDS = {"början": "start", "slut": "end", "slutet": "end"}
Run = Callable[[Context, Args], Awaitable[list[Outgoing]]]
MAX_ANSWER_CHARS = 2000


@dataclass(frozen=True)
class Question:
    id: str
    rating: bool  # else free text
    label: str


@dataclass(frozen=True)
class Questionnaire:
    key: str
    title: str
    scale: Scale
    questions: tuple[Question, ...]

    @property
    def is_assessment(self) -> bool:
        return self.key.startswith("assessment:")


def questionnaire(programme: Programme, key: str, t: Translator) -> Questionnaire | None:
    """The questions behind a key, in the reader's language; None if the programme has none."""
    kind, _, which = key.partition(":")
    language = t.language
    survey = programme.survey

    def asked(questions: list[SurveyQuestion]) -> tuple[Question, ...]:
        return tuple(
            Question(q.id, q.kind == "rating", localise(q.text, language)) for q in questions
        )

    if kind == "theme" and survey is not None and which.isdigit():
        theme = programme.theme(int(which))
        if theme is None:
            return None
        return Questionnaire(
            key,
            t("Survey after theme {number}", number=int(which)),
            survey.scale,
            asked(survey.for_theme(int(which))),
        )
    if key == FINAL and survey is not None and survey.final is not None:
        return Questionnaire(
            key, t("Final evaluation of the programme"), survey.scale, asked(survey.final.questions)
        )
    if kind == "lab" and survey is not None and survey.lab is not None:
        chosen = sessions_by_key(programme).get(which)
        if chosen is None:
            return None
        return Questionnaire(
            key,
            t("After the lab: {title}", title=localise(chosen.lab.title, language)),
            survey.scale,
            asked(survey.lab.questions),
        )
    if kind == "assessment" and programme.self_assessment is not None and which in ROUNDS:
        title = (
            t("Self-assessment at the start")
            if which == "start"
            else t("Self-assessment at the end")
        )
        return Questionnaire(
            key,
            title,
            programme.self_assessment.scale,
            tuple(
                Question(
                    area.id,
                    True,
                    localise(area.title, language)
                    + (f": {localise(area.description, language)}" if area.description else ""),
                )
                for area in programme.self_assessment.areas
            ),
        )
    return None


def _scale_text(t: Translator, scale: Scale, language: str) -> str:
    low = f" ({localise(scale.low, language)})" if scale.low else ""
    high = f" ({localise(scale.high, language)})" if scale.high else ""
    return t("From {min}{low} to {max}{high}.", min=scale.min, low=low, max=scale.max, high=high)


# ---------------------------------------------------------------- the form


def form(
    context: Context, cohort: Cohort, found: Questionnaire, before: Mapping[str, SurveyAnswer]
) -> Form:
    t = context.t
    ends = {found.scale.min: found.scale.low, found.scale.max: found.scale.high}
    options = tuple(
        (str(v), f"{v} – {context.local(meaning)}" if (meaning := ends.get(v)) else str(v))
        for v in found.scale.values()
    )
    fields: list[Field] = []
    for question in found.questions:
        earlier = before.get(question.id)
        if question.rating:
            fields.append(
                SelectField(
                    question.id,
                    question.label,
                    options,
                    initial=str(earlier.rating) if earlier and earlier.rating is not None else None,
                )
            )
        else:
            fields.append(
                TextField(
                    question.id,
                    question.label,
                    multiline=True,
                    max_length=MAX_ANSWER_CHARS,
                    optional=True,
                    initial=earlier.text if earlier else None,
                )
            )
    intro = _scale_text(t, found.scale, context.language)
    if not found.is_assessment:
        intro += " " + t("Facilitators see the answers only together with at least four others'.")
    return Form(
        form_id=f"{PREFIX}{cohort.id}:{found.key}",
        title=found.title,
        intro=intro,
        fields=tuple(fields),
        submit_label=t("Send"),
    )


async def _open(context: Context, key: str) -> Questionnaire:
    """The questionnaire, if it is open now: otherwise a refusal that says why."""
    t = context.t
    cohort = context.require_cohort()
    found = questionnaire(await context.programme(), key, t)
    if found is None:
        raise Refusal(t("This programme has no such survey."))
    if key.startswith("lab:"):
        await _lab_open(context, key, found)
        return found
    window = await context.repos.surveys.window(cohort.id, key)
    if window is None:
        raise Refusal(t("“{title}” is not open yet.", title=found.title))
    if window.closed_at is not None:
        raise Refusal(t("“{title}” has closed; answers are no longer taken.", title=found.title))
    return found


async def _lab_open(context: Context, key: str, found: Questionnaire) -> None:
    """A lab session's questions are for its attendees, from its end for two weeks."""
    t = context.t
    cohort = context.require_cohort()
    chosen = sessions_by_key(await context.programme())[key.removeprefix("lab:")]
    now = context.now()
    if now < chosen.session.end:
        raise Refusal(t("“{title}” is not open yet.", title=found.title))
    if now >= chosen.session.end + LAB_ANSWERS_FOR:
        raise Refusal(t("“{title}” has closed; answers are no longer taken.", title=found.title))
    person = context.require_member().person.id
    if person not in await lab_attendees(
        context.repos, cohort, chosen.key, chosen.session.end, now
    ):
        raise Refusal(t("Only those who attended the session are asked about it."))


async def lab_attendees(
    repos: Repositories, cohort: Cohort, session_key: str, ended: datetime, now: datetime
) -> set[int]:
    """Who is asked about a lab session: those marked present; if nobody has been marked a
    day after it ended, everyone who had a seat (attendance is then not being kept)."""
    present = await repos.labs.attended(cohort.id, session_key)
    if present or now < ended + LAB_MARKING_WAIT:
        return present
    return {p.id for p in await repos.labs.people(cohort.id, session_key, SignupState.signed_up)}


def _participant(context: Context) -> None:
    if context.require_member().membership.role != Role.participant:
        raise Refusal(context.t("Surveys and self-assessments are for participants."))


async def form_for(context: Context, key: str) -> Outgoing:
    """The form for a questionnaire that is open, filled in with one's earlier answers."""
    _participant(context)
    found = await _open(context, key)
    cohort = context.require_cohort()
    person = context.require_member().person
    before = {
        a.question_id: a
        for a in await context.repos.surveys.answers_of(cohort.id, person.id)
        if a.survey_key == key
    }
    return Outgoing(ToActor(), form(context, cohort, found, before))


def _validated(
    context: Context, found: Questionnaire, values: Mapping[str, str]
) -> dict[str, Answer]:
    """Every answer checked before any is stored: a bad one changes nothing."""
    t = context.t
    answers: dict[str, Answer] = {}
    for question in found.questions:
        value = (values.get(question.id) or "").strip()
        if question.rating:
            if not value:
                raise Refusal(t("Answer “{question}”.", question=question.label))
            if not value.lstrip("-").isdigit() or int(value) not in found.scale.values():
                raise Refusal(
                    t(
                        "“{value}” is not on the scale: give a whole number from {min} to {max}.",
                        value=value,
                        min=found.scale.min,
                        max=found.scale.max,
                    )
                )
            answers[question.id] = (int(value), None)
        elif value:
            if len(value) > MAX_ANSWER_CHARS:
                raise Refusal(
                    t(
                        "That is {length} characters; an answer can be at most {limit}.",
                        length=len(value),
                        limit=MAX_ANSWER_CHARS,
                    )
                )
            answers[question.id] = (None, value)
    return answers


async def form_submitted(context: Context, event: FormSubmitted) -> list[Outgoing]:
    t = context.t
    cohort = context.require_cohort()
    _, cohort_id, key = [*event.form_id.split(":", 2), "", ""][:3]
    if cohort_id != str(cohort.id):
        raise Refusal(t("That form belongs to another cohort."))
    _participant(context)
    found = await _open(context, key)
    answers = _validated(context, found, event.values)
    person = context.require_member().person
    await context.repos.surveys.save(cohort.id, key, person.id, answers, context.now())
    if found.is_assessment:
        return [context.reply(await own_assessment(context, thanks=True))]
    return [context.reply(t("Thank you! Your answers to “{title}” are saved.", title=found.title))]


# ---------------------------------------------------------------- participants' commands


async def take_survey(context: Context, args: Args) -> list[Outgoing]:
    """survey [N | final | lab LAB [N]]: the form of theme N's survey, of the final
    evaluation, of a lab session's questions (for one who lost the message that asked),
    or of the survey open now."""
    _participant(context)
    programme = await context.programme()
    if args.words and args.words[0].lower() in FINAL_WORDS:
        return [await form_for(context, FINAL)]
    if args.words and args.words[0].lower() in LAB_WORDS:
        if programme.survey is None or programme.survey.lab is None:
            raise Refusal(context.t("This programme asks no questions after its labs."))
        return [await form_for(context, "lab:" + _choose(context, programme, args.words[1:]).key)]
    if args.words:
        return [await form_for(context, survey_key(theme_number(context, args, programme)))]
    open_keys = [k for k in await _open_keys(context) if k.startswith("theme:") or k == FINAL]
    if not open_keys:
        raise Refusal(context.t("No survey is open right now."))
    return [await form_for(context, open_keys[-1])]


async def take_assessment(context: Context, args: Args) -> list[Outgoing]:
    """assess: the self-assessment's form while a round is open, else one's own change."""
    _participant(context)
    if (await context.programme()).self_assessment is None:
        raise Refusal(context.t("This programme has no self-assessment."))
    open_keys = [k for k in await _open_keys(context) if k.startswith("assessment:")]
    if open_keys and "mine" not in args.flags:
        return [await form_for(context, open_keys[-1])]
    return [context.reply(await own_assessment(context))]


async def _open_keys(context: Context) -> list[str]:
    cohort = context.require_cohort()
    windows = await context.repos.surveys.windows(cohort.id)
    return [w.survey_key for w in windows if w.closed_at is None]


async def own_assessment(context: Context, *, thanks: bool = False) -> Message:
    """One's own ratings per area, at the start and at the end, and the change."""
    t = context.t
    cohort = context.require_cohort()
    programme = await context.programme()
    assert programme.self_assessment is not None
    person = context.require_member().person
    mine: dict[tuple[str, str], int] = {
        (a.survey_key, a.question_id): a.rating
        for a in await context.repos.surveys.answers_of(cohort.id, person.id)
        if a.rating is not None
    }
    build = MessageBuilder()
    if thanks:
        build.para(t("Thank you! Your self-assessment is saved."))
    build.heading(t("Your self-assessment"))
    start, end = assessment_key("start"), assessment_key("end")
    if not any(key in (start, end) for key, _ in mine):
        build.para(t("You have not taken the self-assessment yet."))
        return build.build()
    rows = []
    for area in programme.self_assessment.areas:
        before, after = mine.get((start, area.id)), mine.get((end, area.id))
        if before is not None and after is not None:
            value = t(
                "{before} → {after} ({change:+d})",
                before=before,
                after=after,
                change=after - before,
            )
        elif before is not None:
            value = t("{before} at the start", before=before)
        elif after is not None:
            value = t("{after} at the end", after=after)
        else:
            value = "–"
        rows.append((context.local(area.title), value))
    build.facts(rows)
    build.note(_scale_text(t, programme.self_assessment.scale, context.language))
    return build.build()


# ---------------------------------------------------------------- facilitators' commands


def announcement(cohort: Cohort, found_key: str, programme: Programme) -> Message:
    """The channel post that opens a survey or a self-assessment, in the cohort's language."""
    t = translator(cohort.language)
    found = questionnaire(programme, found_key, t)
    assert found is not None
    lead = (
        t("Rate yourself in each area. Only you see your own answers and your change.")
        if found.is_assessment
        else t.plural(
            "A short survey: {n} question. Facilitators see the answers only together with "
            "at least four others'.",
            "A short survey: {n} questions. Facilitators see the answers only together with "
            "at least four others'.",
            len(found.questions),
        )
    )
    return (
        MessageBuilder()
        .heading(found.title)
        .para(lead)
        .choices([Option(f"{PREFIX}{cohort.id}:{found.key}", t("Answer"), style="primary")])
        .build()
    )


def closing_note(cohort: Cohort, found_key: str, programme: Programme) -> Message:
    t = translator(cohort.language)
    found = questionnaire(programme, found_key, t)
    assert found is not None
    return (
        MessageBuilder()
        .para(t("“{title}” has closed. Thank you for your answers.", title=found.title))
        .build()
    )


async def _facilitated_key(context: Context, args: Args, assessment: bool) -> str:
    programme = await context.programme()
    t = context.t
    if assessment:
        if programme.self_assessment is None:
            raise Refusal(t("This programme has no self-assessment."))
        which = args.words[0].lower() if args.words else ""
        which = SWEDISH_ROUNDS.get(which, which)
        if which not in ROUNDS:
            raise Refusal(t("Say which round: start or end."))
        return assessment_key(which)
    if programme.survey is None:
        raise Refusal(t("This programme has no survey."))
    if args.words and args.words[0].lower() in FINAL_WORDS:
        if programme.survey.final is None:
            raise Refusal(t("This programme has no final evaluation."))
        return FINAL
    number = theme_number(context, args, programme)
    if await context.repos.themes.get(context.require_cohort().id, number) is None:
        raise Refusal(t("Start theme {number} before its survey.", number=number))
    return survey_key(number)


def open_command(assessment: bool) -> Run:
    async def run(context: Context, args: Args) -> list[Outgoing]:
        t = context.t
        cohort = context.require_cohort()
        key = await _facilitated_key(context, args, assessment)
        found = questionnaire(await context.programme(), key, t)
        assert found is not None
        now = context.now()
        if not await context.repos.surveys.open(cohort.id, key, now):
            raise Refusal(t("“{title}” is already open.", title=found.title))
        posts = await to_every_channel(
            context.repos,
            cohort,
            announcement(cohort, key, await context.programme()),
        )
        return [*posts, context.reply(t("“{title}” is open.", title=found.title))]

    return run


def close_command(assessment: bool) -> Run:
    async def run(context: Context, args: Args) -> list[Outgoing]:
        t = context.t
        cohort = context.require_cohort()
        key = await _facilitated_key(context, args, assessment)
        found = questionnaire(await context.programme(), key, t)
        assert found is not None
        if not await context.repos.surveys.close(cohort.id, key, context.now()):
            raise Refusal(t("“{title}” is not open.", title=found.title))
        return [context.reply(t("“{title}” is closed.", title=found.title))]

    return run


# ---------------------------------------------------------------- figures


@dataclass
class SurveyFigures:
    """A survey's ratings: question → group → (respondents, mean); group "" is everyone."""

    respondents: int
    means: dict[str, dict[str, tuple[int, float]]] = field(default_factory=dict)
    comments: list[str] = field(default_factory=list)


@dataclass
class AssessmentFigures:
    """Those who rated themselves at both ends: area → group → (people, start, end)."""

    respondents: int
    means: dict[str, dict[str, tuple[int, float, float]]] = field(default_factory=dict)


def _groups(groups: anonymity.Groups, bases: Mapping[str, int], respondents: int) -> list[str]:
    """Which groups a figure over `respondents` people is shown for: everyone ("") when they
    are at least K, and each group too when it can be shown for every one of them."""
    if not anonymity.shown(respondents):
        return []
    if len(groups.order) > 1 and anonymity.per_group(bases, groups.order):
        return ["", *groups.order]
    return [""]


async def survey_figures(
    repos: Repositories, cohort: Cohort, programme: Programme, theme: int | str, t: Translator
) -> SurveyFigures:
    """A survey's figures (after a theme, by its number; else by its key: `final`, a lab
    session's); empty of figures when fewer than K have answered."""
    key = survey_key(theme) if isinstance(theme, int) else theme
    found = questionnaire(programme, key, t)
    groups = await anonymity.groups(repos, cohort, t)
    labels = groups.label_of
    answers = [a for a in await repos.surveys.answers(cohort.id, key) if a.person_id in labels]
    figures = SurveyFigures(len({a.person_id for a in answers}))
    if not labels or not anonymity.shown(figures.respondents) or found is None:
        return figures
    ratings: defaultdict[tuple[str, str], dict[int, int]] = defaultdict(dict)
    for answer in answers:
        if answer.rating is not None:
            ratings[answer.question_id, ""][answer.person_id] = answer.rating
            ratings[answer.question_id, labels[answer.person_id]][answer.person_id] = answer.rating
        elif answer.text:
            figures.comments.append(answer.text)
    for question in found.questions:
        everyone = ratings.get((question.id, ""), {})
        for group in _groups(groups, groups.bases(everyone), len(everyone)):
            if values := ratings.get((question.id, group)):
                figures.means.setdefault(question.id, {})[group] = (
                    len(values),
                    fmean(values.values()),
                )
    # In no particular order: the order of answering says something about who wrote what.
    figures.comments.sort(key=str.casefold)
    return figures


async def assessment_figures(
    repos: Repositories, cohort: Cohort, programme: Programme, t: Translator
) -> AssessmentFigures:
    groups = await anonymity.groups(repos, cohort, t)
    labels = groups.label_of
    ratings: dict[tuple[int, str], dict[str, int]] = defaultdict(dict)
    for round_ in ROUNDS:
        for answer in await repos.surveys.answers(cohort.id, assessment_key(round_)):
            if answer.rating is not None and answer.person_id in groups.organisation_of:
                ratings[answer.person_id, answer.question_id][round_] = answer.rating
    both = {p for (p, _), pair in ratings.items() if len(pair) == 2}
    figures = AssessmentFigures(len(both))
    if not labels or not anonymity.shown(len(both)) or programme.self_assessment is None:
        return figures
    collected: defaultdict[tuple[str, str], dict[int, tuple[int, int]]] = defaultdict(dict)
    for (person, area_id), pair in ratings.items():
        if len(pair) == 2:
            for group in ("", labels[person]):
                collected[area_id, group][person] = (pair["start"], pair["end"])
    for area in programme.self_assessment.areas:
        everyone = collected.get((area.id, ""), {})
        for group in _groups(groups, groups.bases(everyone), len(everyone)):
            if pairs := list(collected.get((area.id, group), {}).values()):
                figures.means.setdefault(area.id, {})[group] = (
                    len(pairs),
                    fmean(p[0] for p in pairs),
                    fmean(p[1] for p in pairs),
                )
    return figures


def change_text(t: Translator, n: int, start: float, end: float) -> str:
    """A group's mean at the start and at the end, the change, and how many they are."""
    language = t.language
    return (
        f"{number_text(start, language)} → {number_text(end, language)} "
        f"({signed_text(end - start, language)}, {n})"
    )


async def _too_small(context: Context) -> str:
    """Why a cohort of fewer than K participants shows no figures; "" when it has K."""
    found = await anonymity.groups(context.repos, context.require_cohort(), context.t)
    return "" if found.label_of else anonymity.too_small(context.t, len(found.organisation_of))


def _results_key(context: Context, args: Args, programme: Programme) -> str:
    """`survey results 2`, `survey results final`, `survey results lab LAB [N]`."""
    first = args.words[0].lower() if args.words else ""
    if first in FINAL_WORDS:
        return FINAL
    if first in LAB_WORDS:
        return "lab:" + _choose(context, programme, args.words[1:]).key
    return survey_key(theme_number(context, args, programme))


async def survey_results(context: Context, args: Args) -> list[Outgoing]:
    """survey results N: the ratings per organisation group, and the comments without names."""
    t = context.t
    cohort = context.require_cohort()
    programme = await context.programme()
    if programme.survey is None:
        raise Refusal(t("This programme has no survey."))
    key = _results_key(context, args, programme)
    found = questionnaire(programme, key, t)
    if found is None:
        raise Refusal(t("This programme has no such survey."))
    figures = await survey_figures(context.repos, cohort, programme, key, t)
    build = MessageBuilder().heading(found.title)
    if too_small := await _too_small(context):
        return [context.reply(build.para(too_small).build())]
    if not figures.means and not figures.comments:
        build.para(anonymity.too_few(t, figures.respondents))
        return [context.reply(build.build())]
    build.para(t.plural("{n} has answered.", "{n} have answered.", figures.respondents))
    for question in found.questions:
        if not question.rating:
            continue
        groups = figures.means.get(question.id, {})
        build.para(Span(question.label, strong=True))
        build.facts(
            (name or t("Everyone"), f"{number_text(mean, context.language)} ({n})")
            for name, (n, mean) in groups.items()
        )
    if figures.comments:
        build.para(Span(t("Comments"), strong=True))
        build.bullets(figures.comments)
    build.note(_scale_text(t, found.scale, context.language))
    return [context.reply(build.build())]


async def assessment_results(context: Context, args: Args) -> list[Outgoing]:
    """assess results: per area, the mean at the start and at the end, per organisation group."""
    t = context.t
    cohort = context.require_cohort()
    programme = await context.programme()
    if programme.self_assessment is None:
        raise Refusal(t("This programme has no self-assessment."))
    figures = await assessment_figures(context.repos, cohort, programme, t)
    build = MessageBuilder().heading(t("Self-assessment: start and end"))
    if too_small := await _too_small(context):
        return [context.reply(build.para(too_small).build())]
    if not figures.means:
        build.para(anonymity.too_few(t, figures.respondents))
        return [context.reply(build.build())]
    build.para(
        t.plural(
            "{n} person has rated themselves at both the start and the end.",
            "{n} people have rated themselves at both the start and the end.",
            figures.respondents,
        )
    )
    for area in programme.self_assessment.areas:
        build.para(Span(context.local(area.title), strong=True))
        build.facts(
            (name or t("Everyone"), change_text(t, n, start, end))
            for name, (n, start, end) in figures.means.get(area.id, {}).items()
        )
    build.note(_scale_text(t, programme.self_assessment.scale, context.language))
    return [context.reply(build.build())]


async def _survey_button(context: Context, action_id: str) -> list[Outgoing]:
    """“Answer” when a survey opens: `survey:<cohort>:theme:3`."""
    return [await form_for(context, [*action_id.split(":", 2), ""][2])]


async def _compose_opening_or_closing(composing: Composing) -> Decision:
    """The calendar opens or closes a survey or a self-assessment round, once, and says so."""
    assert composing.due is not None
    repos, cohort, now = composing.repos, composing.cohort, composing.now
    number = composing.theme_number
    if number is not None and await composing.theme_run() is None:
        return Drop(N_("the theme has not started"))
    # `assessment:start:open` names its round, `final:open` the final evaluation; a survey
    # is its theme's.
    entry_key = composing.due.entry.key
    if number is not None:
        key = survey_key(number)
    elif entry_key.startswith(FINAL + ":"):
        key = FINAL
    else:
        key = assessment_key(entry_key.split(":")[1])
    if questionnaire(composing.programme, key, composing.t) is None:
        return Drop(N_("the programme has no such survey"))
    opening = composing.due.step.kind.endswith("_open")
    if not composing.applied:
        if opening and not await repos.surveys.open(cohort.id, key, now):
            return Drop(N_("it had been opened by hand"))
        if not opening and not await repos.surveys.close(cohort.id, key, now):
            return Drop(N_("it was not open"))
        composing.apply()
    post = (announcement if opening else closing_note)(cohort, key, composing.programme)
    return await composing.everywhere(post)


_OPENING_AND_CLOSING = (
    "survey_open",
    "survey_close",
    "assessment_open",
    "assessment_close",
    "final_open",
    "final_close",
)


def _lab_questions_at(session: LabSession) -> datetime:
    """An hour after the session, in a Swedish workplace's working time (as nudges go)."""
    return next_humane_time(session.end + LAB_ASKED_AFTER, WORKPLACE_ZONE, DEFAULT_HOURS)


def _unmarked_at(session: LabSession) -> datetime:
    return next_humane_time(session.end + LAB_MARKING_WAIT, WORKPLACE_ZONE, DEFAULT_HOURS)


def _lab_questions_moments(
    cohort: Cohort, programme: Programme, entries: list[CalendarEntry]
) -> list[datetime]:
    """When `_plan_lab_questions` may find questions due: a rehearsal stops there."""
    if programme.survey is None or programme.survey.lab is None:
        return []
    sessions = [c.session for c in sessions_by_key(programme).values()]
    return [at for s in sessions for at in (_lab_questions_at(s), _unmarked_at(s))]


async def _plan_lab_questions(
    repos: Repositories, cohort: Cohort, programme: Programme, now: datetime
) -> list[Planned]:
    """After each lab session, its questions to each attendee, once, while they are open."""
    if programme.survey is None or programme.survey.lab is None:
        return []
    planned: list[Planned] = []
    for key, chosen in sessions_by_key(programme).items():
        asked_from = _lab_questions_at(chosen.session)
        closes = chosen.session.end + LAB_ANSWERS_FOR
        if not asked_from <= now < closes:
            continue
        # Nobody marked present: everyone with a seat is asked once the wait for marking
        # is over, and that is when it fell due.
        marked = bool(await repos.labs.attended(cohort.id, key))
        due_at = asked_from if marked else max(asked_from, _unmarked_at(chosen.session))
        for person in sorted(await lab_attendees(repos, cohort, key, chosen.session.end, now)):
            planned.append(
                Planned(
                    key=f"{LAB_QUESTIONS}:c{cohort.id}:{key}:p{person}",
                    cohort_id=cohort.id,
                    kind=LAB_QUESTIONS,
                    due_at=due_at,
                    relevant_until=closes,
                    person_id=person,
                    detail={"session": key},
                )
            )
    return planned


async def _compose_lab_questions(composing: Composing) -> Decision:
    """A lab session's questions, to one attendee, with a button that opens the form."""
    repos, cohort, delivery = composing.repos, composing.cohort, composing.delivery
    session = str((delivery.detail or {}).get("session"))
    if delivery.person_id is None:
        return Drop(N_("a lab's questions go to one person"))
    person = await repos.people.get(delivery.person_id)
    if person is None or person.user_id is None:
        return Drop(N_("the person has no account to write to"))
    t = translator(person.language or cohort.language)
    found = questionnaire(composing.programme, f"lab:{session}", t)
    if found is None:
        return Drop(N_("the programme no longer has that session or lab questions"))
    answered = {a.survey_key for a in await repos.surveys.answers_of(cohort.id, person.id)}
    if found.key in answered:
        return Drop(N_("already answered"))
    message = (
        MessageBuilder()
        .heading(found.title)
        .para(
            t.plural(
                "Thank you for coming. {n} question about the session, to make the labs "
                "better; facilitators see the answers only together with at least four "
                "others'.",
                "Thank you for coming. {n} questions about the session, to make the labs "
                "better; facilitators see the answers only together with at least four "
                "others'.",
                len(found.questions),
            )
        )
        .choices([Option(f"{PREFIX}{cohort.id}:{found.key}", t("Answer"), style="primary")])
        .build()
    )
    return Send(Outgoing(address_of(person), message))


FEATURE = Feature(
    "surveys",
    N_("Surveys and self-assessment"),
    commands=(
        Command(
            ("survey",),
            N_("survey [<theme> | final | lab <lab> [session]]"),
            N_(
                "Answer the survey after a theme, the final evaluation of the programme, or "
                "the questions after a lab session you attended."
            ),
            Access.participant,
            take_survey,
            sv=("enkät",),
        ),
        Command(
            ("assess",),
            N_("assess [--mine]"),
            N_("Take the self-assessment while it is open, or see your own change per area."),
            Access.participant,
            take_assessment,
            flags=("mine",),
            sv=("självskattning",),
        ),
        Command(
            ("survey", "open"),
            N_("survey open <theme> | final"),
            N_("Open the survey after a theme, or the final evaluation of the programme."),
            Access.facilitator,
            open_command(assessment=False),
            sv=("enkät", "öppna"),
        ),
        Command(
            ("survey", "close"),
            N_("survey close <theme> | final"),
            N_("Close the survey after a theme, or the final evaluation of the programme."),
            Access.facilitator,
            close_command(assessment=False),
            sv=("enkät", "stäng"),
        ),
        Command(
            ("survey", "results"),
            N_("survey results <theme> | final | lab <lab> [session]"),
            N_(
                "The ratings per organisation (groups of five or more) and the comments of a "
                "theme's survey, the final evaluation, or a lab session's questions."
            ),
            Access.facilitator,
            survey_results,
            sv=("enkät", "resultat"),
        ),
        Command(
            ("assess", "open"),
            N_("assess open start|end"),
            N_("Open the self-assessment at the start or at the end."),
            Access.facilitator,
            open_command(assessment=True),
            sv=("självskattning", "öppna"),
        ),
        Command(
            ("assess", "close"),
            N_("assess close start|end"),
            N_("Close a round of the self-assessment."),
            Access.facilitator,
            close_command(assessment=True),
            sv=("självskattning", "stäng"),
        ),
        Command(
            ("assess", "results"),
            N_("assess results"),
            N_("The self-assessment's change per area (groups of five or more)."),
            Access.facilitator,
            assessment_results,
            sv=("självskattning", "resultat"),
        ),
    ),
    buttons=(
        ButtonKind(
            "survey",
            Access.participant,
            "“Answer” a survey",
            _survey_button,
            "this cohort's, open",
            same_cohort=True,
        ),
    ),
    forms=(
        FormKind(
            "survey",
            Access.participant,
            "survey or self-assessment answers",
            form_submitted,
            "this cohort's, open",
        ),
    ),
    steps=tuple(channel_step(kind) for kind in _OPENING_AND_CLOSING),
    deliveries={
        **dict.fromkeys(_OPENING_AND_CLOSING, _compose_opening_or_closing),
        LAB_QUESTIONS: _compose_lab_questions,
    },
    planners=(_plan_lab_questions,),
    moments=(_lab_questions_moments,),
    labels={
        LAB_QUESTIONS: N_("Questions after a lab session"),
        "survey_open": N_("Survey openings"),
        "survey_close": N_("Survey closings"),
        "assessment_open": N_("Self-assessment openings"),
        "assessment_close": N_("Self-assessment closings"),
        "final_open": N_("Final evaluation openings"),
        "final_close": N_("Final evaluation closings"),
    },
)
