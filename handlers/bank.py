"""The reflection bank: digilog posts and replies, written reflections, listing and search."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from handlers.context import MAX_REFLECTION_CHARS, Args, Context, Refusal
from handlers.i18n import N_
from handlers.vocabulary import (
    MessageBuilder,
    Outgoing,
    PostDeleted,
    PostEdited,
    Span,
    ThreadPost,
)
from storage.models import Reflection, Source, Visibility
from storage.reflections import ReflectionView, Viewer
from storage.search import highlight, query_stems

SOURCE_LABELS = {
    Source.digilog_post: N_("digilog"),
    Source.digilog_reply: N_("digilog reply"),
    Source.command: N_("written reflection"),
    Source.saved_message: N_("saved message"),
}
VISIBILITY_LABELS = {
    Visibility.private: N_("only the author"),
    Visibility.facilitators: N_("the author and the facilitators"),
    Visibility.cohort: N_("the whole cohort"),
}


def check_length(context: Context, body: str) -> str:
    body = body.strip()
    if not body:
        raise Refusal(context.t("Write something to save."))
    if len(body) > MAX_REFLECTION_CHARS:
        raise Refusal(
            context.t(
                "That is {length} characters; a reflection can be at most {limit}. "
                "Split it into two, or shorten it.",
                length=len(body),
                limit=MAX_REFLECTION_CHARS,
            )
        )
    return body


async def thread_post(context: Context, event: ThreadPost) -> list[Outgoing]:
    """A message in a theme post's thread is a digilog post, saved into the bank."""
    cohort = context.cohort
    if cohort is None or event.where.thread_id is None:
        return []
    run = await context.repos.themes.by_post(cohort.id, event.where.thread_id)
    if run is None:
        return []  # a thread that is not a digilog
    member = context.require_member()
    if run.digilog_closed_at is not None:
        raise Refusal(
            context.t("The digilog for theme {number} is closed.", number=run.theme_number)
        )
    body = check_length(context, event.text)
    replied_to = None
    if event.reply_to_message_id is not None:
        replied_to = await context.repos.reflections.by_message(
            cohort.id, event.reply_to_message_id
        )
    reflection, created = await context.repos.reflections.add(
        Reflection(
            cohort_id=cohort.id,
            author_id=member.person.id,
            organisation_id=member.organisation.id,
            theme_number=run.theme_number,
            source=Source.digilog_reply if replied_to else Source.digilog_post,
            visibility=Visibility.cohort,
            body=body,
            message_id=event.message_id,
            reply_to_id=replied_to.id if replied_to else None,
            replied_to_person_id=replied_to.author_id if replied_to else None,
        )
    )
    if not created:
        return []  # a redelivery: it is saved already, and said so already
    return [context.reply(context.t("Saved in the reflection bank as #{id}.", id=reflection.id))]


async def post_edited(context: Context, event: PostEdited) -> list[Outgoing]:
    if context.cohort is None or context.person is None:
        return []
    reflection = await context.repos.reflections.by_message(context.cohort.id, event.message_id)
    if reflection is None or reflection.author_id != context.person.id:
        return []
    await context.repos.reflections.edit(reflection, check_length(context, event.text))
    return []


async def post_deleted(context: Context, event: PostDeleted) -> list[Outgoing]:
    if context.cohort is None or context.person is None:
        return []
    reflection = await context.repos.reflections.by_message(context.cohort.id, event.message_id)
    if reflection is not None and reflection.author_id == context.person.id:
        await context.repos.reflections.remove(reflection)
    return []


async def reflect(context: Context, args: Args) -> list[Outgoing]:
    """reflect [--theme N] [--private | --facilitators | --cohort] TEXT"""
    member = context.require_member()
    cohort = context.require_cohort()
    visibility = Visibility.private
    for name in ("facilitators", "cohort"):
        if name in args.flags:
            visibility = Visibility(name)
    theme = await _theme_option(context, args)
    if theme is None:
        started = await context.repos.themes.started(cohort.id)
        theme = started[-1].theme_number if started else None
    body = check_length(context, args.rest)
    reflection, _ = await context.repos.reflections.add(
        Reflection(
            cohort_id=cohort.id,
            author_id=member.person.id,
            organisation_id=member.organisation.id,
            theme_number=theme,
            source=Source.command,
            visibility=visibility,
            body=body,
        )
    )
    return [
        context.reply(
            context.t(
                "Saved in the reflection bank as #{id}, visible to {audience}.",
                id=reflection.id,
                audience=context.t(VISIBILITY_LABELS[visibility]),
            )
        )
    ]


async def _theme_option(context: Context, args: Args) -> int | None:
    value = args.options.get("theme")
    if value is None:
        return None
    programme = await context.programme()
    if not value.isdigit() or programme.theme(int(value)) is None:
        raise Refusal(
            context.t(
                "There is no theme {number}; this programme has themes 1–{last}.",
                number=value,
                last=len(programme.themes),
            )
        )
    return int(value)


async def bank(context: Context, args: Args) -> list[Outgoing]:
    """bank [WORDS] [--theme N] [--mine]: newest first, or ranked search hits."""
    member = context.require_member()
    cohort = context.require_cohort()
    viewer = Viewer(cohort.id, member.person.id, context.is_facilitator)
    theme = await _theme_option(context, args)
    mine = "mine" in args.flags
    t = context.t
    build = MessageBuilder()
    if args.rest:
        views = await context.repos.reflections.search(
            viewer, args.rest, theme=theme, mine=mine, limit=10
        )
        stems = query_stems(args.rest)
        build.heading(t("Reflections matching “{words}”", words=args.rest))
    else:
        views, stems = (
            await context.repos.reflections.visible(viewer, theme=theme, mine=mine, limit=10),
            [],
        )
        build.heading(t("Latest reflections"))
    if not views:
        build.para(t("Nothing found."))
    zone = ZoneInfo(cohort.timezone)
    for view in views:
        build.note(_byline(context, view, zone))
        build.para(*(Span(f.text, strong=f.match) for f in highlight(view.reflection.body, stems)))
    build.summary = t.plural("{n} reflection", "{n} reflections", len(views))
    return [context.reply(build.build())]


def _byline(context: Context, view: ReflectionView, zone: ZoneInfo) -> str:
    t = context.t
    r = view.reflection
    parts = [
        f"#{r.id}",
        f"{view.author.display_name} ({context.local(view.organisation.name)})",
    ]
    if r.theme_number is not None:
        parts.append(t("theme {number}", number=r.theme_number))
    parts.append(t(SOURCE_LABELS[r.source]))
    if view.replied_to is not None:
        parts.append(t("reply to {name}", name=view.replied_to.display_name))
    if r.visibility != Visibility.cohort:
        parts.append(t("visible to {audience}", audience=t(VISIBILITY_LABELS[r.visibility])))
    parts.append(_when(r.created_at, zone))
    return " · ".join(parts)


def _when(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")
