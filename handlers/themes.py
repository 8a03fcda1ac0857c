"""Themes: listing them, and starting one, which posts its prompt and opens its digilog."""

from __future__ import annotations

from datetime import timedelta

from handlers import tasks
from handlers.core.access import Access
from handlers.core.channels import to_every_channel
from handlers.core.context import Args, Context, Refusal
from handlers.core.deliveries import Composing, Decision, Drop
from handlers.core.i18n import N_, Translator, translator
from handlers.core.programme_file import Material, Programme, Theme, localise
from handlers.core.registry import Command, Feature
from handlers.core.steps import DAY_BEFORE, EVENING_BEFORE, Audience, Step, channel_step
from handlers.core.vocabulary import (
    Message,
    MessageBuilder,
    Option,
    Outgoing,
    Span,
)

RECEIPT_PREFIX = "theme:"

KIND_LABELS = {"film": N_("film"), "podcast": N_("podcast"), "text": N_("text"), "link": N_("link")}


def theme_number(context: Context, args: Args, programme: Programme) -> int:
    words = args.words
    if not words:
        raise Refusal(context.t("Missing {what}.", what=context.t("theme number")))
    try:
        number = int(words[0])
    except ValueError:
        number = 0
    if programme.theme(number) is None:
        raise Refusal(
            context.t(
                "There is no theme {number}; this programme has themes 1–{last}.",
                number=words[0],
                last=len(programme.themes),
            )
        )
    return number


def _material_kind(t: Translator, material: Material) -> str:
    kind = t(KIND_LABELS[material.kind])
    if material.minutes is None:
        return kind
    return kind + ", " + t("{minutes} min", minutes=material.minutes)


def theme_post(theme: Theme, number: int, language: str, cohort_id: int) -> Message:
    """The post that opens a theme in the cohort's channel; its thread is the digilog."""
    t: Translator = translator(language)

    def local(value: dict[str, str]) -> str:
        return localise(value, language)

    build = MessageBuilder().heading(
        t("Theme {number}: {title}", number=number, title=local(theme.title))
    )
    build.para(local(theme.intro))
    if theme.materials:
        build.para(Span(t("Materials"), strong=True))
        build.bullets(
            (Span(local(m.title), link=m.url), Span(f" ({_material_kind(t, m)})"))
            for m in theme.materials
        )
    task = theme.reflection_task
    build.para(Span(t("Reflection task"), strong=True))
    build.para(local(task.text))
    build.note(tasks.how_note(t, task))
    if theme.workshop is not None:
        build.para(Span(t("Workshop"), strong=True), Span(": " + local(theme.workshop.title)))
        if theme.workshop.description:
            build.para(local(theme.workshop.description))
    build.divider()
    build.para(Span(t("Digilog"), strong=True), Span(": " + local(theme.digilog_prompt)))
    build.note(t("Reply in the thread under this post; every reply goes into the reflection bank."))
    build.choices(
        [
            *tasks.choices(t, task, cohort_id, number),
            Option(f"reflect:{cohort_id}:{number}", t("Write a reflection")),
        ]
    )
    build.summary = t("Theme {number}: {title}", number=number, title=local(theme.title))
    return build.build()


async def list_themes(context: Context, args: Args) -> list[Outgoing]:
    if args.words:  # `theme 2` reads as `theme show 2`
        return await show_theme(context, args)
    cohort = context.require_cohort()
    context.require_member()
    programme = await context.programme()
    runs = {run.theme_number: run for run in await context.repos.themes.started(cohort.id)}
    rows = []
    for number, theme in enumerate(programme.themes, start=1):
        run = runs.get(number)
        if run is None:
            state = context.t("not started")
        elif run.quiz_opened_at and not run.quiz_closed_at:
            state = context.t("started, quiz open")
        else:
            state = context.t("started")
        rows.append(f"{number}. {context.local(theme.title)} ({state})")
    message = (
        MessageBuilder().heading(context.local(programme.programme.title)).bullets(rows).build()
    )
    return [context.reply(message)]


async def show_theme(context: Context, args: Args) -> list[Outgoing]:
    context.require_member()
    programme = await context.programme()
    number = theme_number(context, args, programme)
    theme = programme.theme(number)
    assert theme is not None
    cohort = context.require_cohort()
    return [context.reply(theme_post(theme, number, context.language, cohort.id))]


async def start_theme(context: Context, args: Args) -> list[Outgoing]:
    t = context.t
    member = context.require_facilitator()
    cohort = context.require_cohort()
    programme = await context.programme()
    number = theme_number(context, args, programme)
    forced = "force" in args.flags
    runs = {run.theme_number for run in await context.repos.themes.started(cohort.id)}
    if number in runs:
        raise Refusal(t("Theme {number} has already started.", number=number))
    if number > 1 and (number - 1) not in runs and not forced:
        raise Refusal(
            t(
                "Theme {previous} has not started yet, and the themes build on each other. "
                "Start theme {previous} first, or add --force.",
                previous=number - 1,
            )
        )
    run = await context.repos.themes.start(cohort.id, number, member.person.id, forced)
    if run is None:  # someone else started it a moment ago
        raise Refusal(t("Theme {number} has already started.", number=number))
    theme = programme.theme(number)
    assert theme is not None
    posts = await to_every_channel(
        context.repos,
        cohort,
        theme_post(theme, number, cohort.language, cohort.id),
        receipt=f"{RECEIPT_PREFIX}{run.id}",
    )
    started = t("Theme {number} has started and its digilog is open.", number=number)
    return [*posts, context.reply(started)]


async def _compose_theme_start(composing: Composing) -> Decision:
    """The calendar starts a theme: posted once, unless a facilitator started it by hand."""
    number = composing.theme_number
    theme = composing.programme.theme(number or 0)
    assert theme is not None and number is not None
    repos, cohort = composing.repos, composing.cohort
    run = await repos.themes.get(cohort.id, number)
    if run is None and (run := await repos.themes.start(cohort.id, number, None, False)):
        composing.apply()
    elif not composing.applied or run is None or run.post_message_id is not None:
        return Drop(N_("the theme had been started by hand"))
    post = theme_post(theme, number, cohort.language, cohort.id)
    return await composing.everywhere(post, f"{RECEIPT_PREFIX}{run.id}")


async def _compose_workshop(composing: Composing) -> Decision:
    assert composing.due is not None
    what = composing.t("The workshop of theme {number}", number=composing.theme_number)
    soon = composing.due.step.kind == "workshop_soon"
    return await composing.everywhere(composing.reminder(what, soon=soon))


FEATURE = Feature(
    "themes",
    N_("Themes"),
    commands=(
        Command(
            ("theme",),
            N_("theme"),
            N_("List the themes and which have started."),
            Access.member,
            list_themes,
            sv=("tema",),
        ),
        Command(
            ("theme", "show"),
            N_("theme show <number>"),
            N_("Show a theme's materials and tasks."),
            Access.member,
            show_theme,
            sv=("tema", "visa"),
        ),
        Command(
            ("theme", "start"),
            N_("theme start <number> [--force]"),
            N_("Post a theme to the cohort and open its digilog."),
            Access.facilitator,
            start_theme,
            flags=("force",),
            sv=("tema", "starta"),
        ),
    ),
    steps=(
        channel_step("theme_start"),
        Step(
            "workshop_tomorrow", "workshop", DAY_BEFORE, Audience.channel, relevance=EVENING_BEFORE
        ),
        Step(
            "workshop_soon",
            "workshop",
            -timedelta(hours=1),
            Audience.channel,
            working_time=False,
        ),
    ),
    deliveries={
        "theme_start": _compose_theme_start,
        "workshop_tomorrow": _compose_workshop,
        "workshop_soon": _compose_workshop,
    },
    labels={
        "theme_start": N_("Theme posts"),
        "workshop_tomorrow": N_("Workshop reminders"),
        "workshop_soon": N_("Workshop reminders"),
    },
)
