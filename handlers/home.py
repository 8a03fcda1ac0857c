"""A person's own page with the bot: where they are in the programme, or how the cohort is doing."""

from __future__ import annotations

from dataclasses import replace

from handlers import buddies, gatherings, labs, report, surveys
from handlers.core import anonymity
from handlers.core.context import Context
from handlers.core.formats import when_text
from handlers.core.i18n import N_
from handlers.core.programme_file import Programme
from handlers.core.vocabulary import MessageBuilder, Option, Outgoing, Span, ToHome
from storage.models import Role, SignupState, ThemeRun

DONE, NOT_YET = "✅", "⬜"


async def home(context: Context) -> list[Outgoing]:
    t = context.t
    build = MessageBuilder()
    cohorts = [context.cohort] if context.cohort and context.member else []
    if not cohorts and context.person is not None:
        cohorts = await context.repos.cohorts.of_person(context.person.id)
    if not cohorts:
        build.heading(t("Welcome to Digilog"))
        build.para(
            t(
                "You are not in a cohort yet. Write {command} in your cohort's channel, "
                "or ask a facilitator to enrol you.",
                command=context.command("join"),
            )
        )
        return [Outgoing(ToHome(), build.build())]
    for cohort in cohorts:
        assert context.person is not None
        member = await context.repos.people.member(cohort.id, context.person.id)
        view = replace(context, cohort=cohort, member=member, _programme=None)
        await _cohort_section(view, build)
    return [Outgoing(ToHome(), build.build())]


async def _cohort_section(context: Context, build: MessageBuilder) -> None:
    t = context.t
    cohort, member = context.require_cohort(), context.require_member()
    programme = await context.programme()
    runs = await context.repos.themes.started(cohort.id)
    if build.blocks:
        build.divider()
    build.heading(f"{context.local(programme.programme.title)} · {cohort.title}")
    if not runs:
        build.para(t("No theme has started yet."))
    elif member.membership.role == Role.facilitator:
        await _progress(context, programme, runs[-1], build)
    else:
        await _journey(context, programme, runs, build)
    if member.membership.role == Role.participant:
        await _open_questionnaires(context, programme, build)
    if member.membership.role == Role.participant and programme.labs:
        await _labs(context, programme, build)
    if member.membership.role == Role.participant:
        await _attendance(context, build)
    await _buddies(context, build)


async def _open_questionnaires(
    context: Context, programme: Programme, build: MessageBuilder
) -> None:
    """Surveys and self-assessment rounds open now, each with its button; answered ones say so."""
    t = context.t
    cohort, person = context.require_cohort(), context.require_member().person
    answered = {a.survey_key for a in await context.repos.surveys.answers_of(cohort.id, person.id)}
    for window in await context.repos.surveys.windows(cohort.id):
        found = surveys.questionnaire(programme, window.survey_key, t)
        if window.closed_at is not None or found is None:
            continue
        done = window.survey_key in answered
        build.para(
            Span(found.title, strong=True),
            Span(" · " + (t("answered; you can still change your answers") if done else t("open"))),
        )
        label = t("Change my answers") if done else t("Answer")
        build.choices([Option(f"{surveys.PREFIX}{cohort.id}:{window.survey_key}", label)])


async def _attendance(context: Context, build: MessageBuilder) -> None:
    """The hours the person was marked present, once there are any."""
    t = context.t
    cohort, member = context.require_cohort(), context.require_member()
    hours = await gatherings.my_hours(context.repos, cohort, member.person.id, t)
    if hours:
        build.para(
            Span(t("Your attendance") + ": ", strong=True),
            Span(t("{hours} h in total", hours=gatherings.hours_text(t, hours))),
        )
        build.note(
            t("Write {command} to see each time.", command=context.command("attendance", "mine"))
        )


async def _buddies(context: Context, build: MessageBuilder) -> None:
    """The person's group in the newest round; the button marks "we met" as in the group's
    own conversation. Nothing when they are in no round."""
    t = context.t
    cohort, member = context.require_cohort(), context.require_member()
    found = await context.repos.buddies.latest_group_of(cohort.id, member.person.id)
    if found is None:
        return
    group_id, met = found
    rows = []
    for person_id, met_at in met.items():
        if person_id == member.person.id:
            continue
        buddy = await context.repos.people.member(cohort.id, person_id)
        if buddy is None:  # they have left the cohort since
            continue
        said = t("says you met") if met_at else t("has not said you met yet")
        rows.append(
            (
                Span(buddy.person.display_name, strong=True),
                Span(f" ({context.local(buddy.organisation.name)}) · {said}"),
            )
        )
    build.para(Span(t("Your learning buddies"), strong=True))
    build.bullets(rows)
    if met[member.person.id] is None:
        build.choices([Option(buddies.met_action(cohort.id, group_id), t("We met"))])
    else:
        build.note(t("You have said that you met."))


async def _labs(context: Context, programme: Programme, build: MessageBuilder) -> None:
    """The person's lab sessions, each with a button to give the place up."""
    t = context.t
    cohort, member = context.require_cohort(), context.require_member()
    mine = await context.repos.labs.of_person(cohort.id, member.person.id)
    sessions = labs.sessions_by_key(programme)
    chosen = sorted(
        ((sessions[key], state) for key, state in mine.items() if key in sessions),
        key=lambda pair: pair[0].session.start,
    )
    build.para(Span(t("Your labs"), strong=True))
    if not chosen:
        build.para(
            t(
                "You have not signed up for a lab yet: write {command} to see them.",
                command=context.command("labs"),
            )
        )
        return
    build.bullets(
        (
            Span(
                when_text(c.session.start, c.session.end, context.zone, context.language) + "  ",
                strong=True,
            ),
            Span(context.local(c.lab.title)),
            Span(
                " · "
                + (
                    t("you have a seat")
                    if state is SignupState.signed_up
                    else t("you are on the waitlist")
                )
            ),
        )
        for c, state in chosen
    )
    # A session that has begun can no longer be given up (`lab cancel` says so).
    now = context.now()
    build.choices(
        Option(
            f"lab:{cohort.id}:cancel:{c.lab.id}:{c.number}",
            labs.button_label(context, N_("Cancel: {lab}, {when}"), c.lab, c.session),
        )
        for c, _ in chosen
        if c.session.start > now
    )


async def _journey(
    context: Context, programme: Programme, runs: list[ThemeRun], build: MessageBuilder
) -> None:
    t = context.t
    cohort, member = context.require_cohort(), context.require_member()
    me = member.person.id
    current = runs[-1]
    theme = programme.theme(current.theme_number)
    assert theme is not None
    posted = me in await context.repos.reflections.digilog_authors(cohort.id, current.theme_number)
    now = t("Now: theme {number}", number=current.theme_number)
    build.para(Span(f"{now} · {context.local(theme.title)}", strong=True))
    materials: list[Span] = [Span(t("Materials") + ": ")]
    for i, material in enumerate(theme.materials):
        materials += [Span(", ")] if i else []
        materials.append(Span(context.local(material.title), link=material.url))
    steps = [
        tuple(materials),
        _step(t("Reflection task"), context.local(theme.reflection_task.text)),
    ]
    if theme.workshop is not None:
        steps.append(_step(t("Workshop"), context.local(theme.workshop.title)))
    steps.append(_step(t("Digilog"), context.local(theme.digilog_prompt), done=posted))
    build.bullets(steps)
    scores = []
    for run in runs:
        quiz = (programme.theme(run.theme_number) or theme).quiz
        if quiz is None:
            continue
        answered, right = (await context.repos.quizzes.scores(cohort.id, run.theme_number)).get(
            me, (0, 0)
        )
        if answered == len(quiz.questions):
            state = t("{score} of {total} right", score=right, total=len(quiz.questions))
        elif run.quiz_opened_at and not run.quiz_closed_at:
            state = t(
                "open: write {command}", command=context.command("quiz", then=str(run.theme_number))
            )
        else:
            state = t("not open")
        scores.append((t("Quiz, theme {number}", number=run.theme_number), state))
    build.facts(scores)
    count = await context.repos.reflections.count_by(cohort.id, me)
    build.note(
        t.plural(
            "You have {n} reflection in the bank; write {command} to read it.",
            "You have {n} reflections in the bank; write {command} to read them.",
            count,
            command=context.command("bank", then=context.flag("mine")),
        )
    )


def _step(label: str, text: str, *, done: bool | None = None) -> tuple[Span, ...]:
    """A step of the theme; a tick only where Digilog can know it was done."""
    mark = "" if done is None else (DONE if done else NOT_YET) + " "
    return (Span(mark + label + ": ", strong=True), Span(text))


async def _progress(
    context: Context, programme: Programme, current: ThemeRun, build: MessageBuilder
) -> None:
    """The current theme per group, as the report counts it (the same groups and rule)."""
    t = context.t
    number = current.theme_number
    theme = programme.theme(number)
    assert theme is not None
    found = await report.participation(context.repos, context.require_cohort(), t)
    progress = t("Progress in theme {number}", number=number)
    build.para(Span(f"{progress} · {context.local(theme.title)}", strong=True))
    if not found.organisations:
        build.para(anonymity.too_small(t, found.participants))
        return
    build.facts(
        (
            name,
            t.plural(
                "{n} participant", "{n} participants", (row := found.row(number, name)).participants
            )
            + " · "
            + t("{posted} in the digilog", posted=row.posted)
            + " · "
            + t("{done} finished the quiz", done=row.quiz_done),
        )
        for name in found.organisations
    )
    build.para(
        t.plural(
            "{n} reply in the digilogs answered someone from another organisation.",
            "{n} replies in the digilogs answered someone from another organisation.",
            found.replies_across,
        )
    )
    build.note(
        t(
            "{command} shows the quiz per question.",
            command=context.command("results", then=str(number)),
        )
    )
