"""The reflection bank: digilog posts and replies, written reflections, listing and search."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from handlers.core import channels
from handlers.core.access import Access
from handlers.core.context import MAX_REFLECTION_CHARS, Args, Context, Refusal
from handlers.core.deliveries import Composing, Decision, Drop
from handlers.core.formats import list_text, when_text
from handlers.core.i18n import N_
from handlers.core.registry import ButtonKind, Command, Feature, FormKind
from handlers.core.steps import channel_step
from handlers.core.vocabulary import (
    Conversation,
    Form,
    FormSubmitted,
    MessageBuilder,
    MessageSaved,
    Outgoing,
    PostDeleted,
    PostEdited,
    SelectField,
    Span,
    TextField,
    ThreadPost,
    ToActor,
)
from storage.models import Reflection, Role, Source, Visibility
from storage.reflections import ReflectionView, Viewer
from storage.search import highlight
from storage.swedish import MAX_QUERY_WORDS, ParsedQuery, QueryWord, parse_query

SOURCE_LABELS = {
    Source.digilog_post: N_("digilog"),
    Source.digilog_reply: N_("digilog reply"),
    Source.command: N_("written reflection"),
    Source.saved_message: N_("saved message"),
    Source.needs_inventory: N_("needs inventory"),
    Source.change_plan: N_("plan for change"),
    Source.task_finding: N_("what we found (reflection task)"),
}
# `bank --kind KIND`
KINDS = {
    "digilog": (Source.digilog_post, Source.digilog_reply),
    "written": (Source.command,),
    "saved": (Source.saved_message,),
    "needs": (Source.needs_inventory,),
    "plan": (Source.change_plan,),
    "task": (Source.task_finding,),
}
# The kinds as a Swede writes them; either language's word works.
SWEDISH_KINDS = {
    "digilog": "digilog",
    "skrivna": "written",
    "sparade": "saved",
    "behov": "needs",
    "plan": "plan",
}
VISIBILITY_LABELS = {
    Visibility.private: N_("only the author"),
    Visibility.facilitators: N_("the author and the facilitators"),
    Visibility.cohort: N_("the whole cohort"),
    Visibility.organisation: N_("the author, the facilitators and the organisation's support"),
}
# A search is a few words; a pasted page is refused rather than cut at some word.
MAX_QUERY_CHARS = 300
# Only a plan for change is shared with an organisation's support function (`meetings.py`).
REFLECTION_AUDIENCES = (Visibility.private, Visibility.facilitators, Visibility.cohort)


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
    run = await context.repos.themes.by_post(cohort.id, *_thread_of(event.where))
    if run is None:
        return []  # a thread that is not a digilog
    member = context.require_member()
    if run.digilog_closed_at is not None:
        raise Refusal(
            context.t("The digilog for theme {number} is closed.", number=run.theme_number)
        )
    body = check_length(context, event.text)
    replied_to = await _answered(context, event, run.theme_number)
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


def _thread_of(where: Conversation) -> tuple[str, str, str, str]:
    """A thread is known by its workspace, channel and root: a root's id alone (Slack's
    timestamps) may recur in another channel."""
    assert where.thread_id is not None
    return where.platform, where.workspace, where.conversation_id, where.thread_id


async def _answered(context: Context, event: ThreadPost, theme: int) -> Reflection | None:
    """The post a digilog message answers: the one it replies to, or else the latest
    post in this theme by the first cohort member it mentions."""
    cohort = context.require_cohort()
    repos = context.repos
    if event.reply_to_message_id is not None:
        return await repos.reflections.by_message(cohort.id, event.reply_to_message_id)
    for user_id in event.mentions:
        person = await repos.people.by_account(
            context.actor.platform, context.actor.workspace, user_id
        )
        if person is not None and person.id != context.member_person_id:
            latest = await repos.reflections.latest_by(cohort.id, person.id, theme)
            if latest is not None:
                return latest
    return None


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
    """reflect [--theme N] [--private | --facilitators | --cohort] TEXT; no text: a form."""
    context.require_member()
    visibility = Visibility.private
    for name in ("facilitators", "cohort"):
        if name in args.flags:
            visibility = Visibility(name)
    theme = await _theme_option(context, args)
    if not args.rest.strip():
        return [Outgoing(ToActor(), await reflection_form(context, theme))]
    return [await save_reflection(context, args.rest, theme, visibility, Source.command)]


async def save_reflection(
    context: Context,
    body: str,
    theme: int | None,
    visibility: Visibility,
    source: Source,
    message_id: str | None = None,
) -> Outgoing:
    member = context.require_member()
    cohort = context.require_cohort()
    if theme is None:
        started = await context.repos.themes.started(cohort.id)
        theme = started[-1].theme_number if started else None
    reflection, created = await context.repos.reflections.add(
        Reflection(
            cohort_id=cohort.id,
            author_id=member.person.id,
            organisation_id=member.organisation.id,
            theme_number=theme,
            source=source,
            visibility=visibility,
            body=check_length(context, body),
            message_id=message_id,
        )
    )
    if not created:
        return context.reply(
            context.t("That message is already in the reflection bank (#{id}).", id=reflection.id)
        )
    return context.reply(
        context.t(
            "Saved in the reflection bank as #{id}, visible to {audience}.",
            id=reflection.id,
            audience=context.t(VISIBILITY_LABELS[visibility]),
        )
    )


FORM_PREFIX = "reflect:"


async def reflection_form(context: Context, theme: int | None) -> Form:
    """A longer reflection, with its theme and who may read it."""
    t = context.t
    cohort = context.require_cohort()
    programme = await context.programme()
    started = [r.theme_number for r in await context.repos.themes.started(cohort.id)]
    if theme is not None and programme.theme(theme) is None:
        theme = None  # a button that names a theme the programme does not have
    if theme is None and started:
        theme = started[-1]
    themes = sorted({*started, *([theme] if theme else [])})
    theme_options = tuple(
        (str(n), f"{n}. {context.local(programme.themes[n - 1].title)}") for n in themes
    )
    return Form(
        form_id=f"{FORM_PREFIX}{cohort.id}",
        title=t("Write a reflection"),
        intro=t("It goes into the reflection bank of {cohort}.", cohort=cohort.title),
        fields=(
            SelectField(
                "theme",
                t("Theme"),
                (*theme_options, ("none", t("No theme"))),
                initial=str(theme) if theme else "none",
            ),
            SelectField(
                "visibility",
                t("Who may read it"),
                tuple((v.value, t(VISIBILITY_LABELS[v])) for v in REFLECTION_AUDIENCES),
                initial=Visibility.private.value,
            ),
            TextField(
                "text",
                t("Your reflection"),
                multiline=True,
                max_length=MAX_REFLECTION_CHARS,
                placeholder=t("What did you notice, learn or want to try?"),
            ),
        ),
        submit_label=t("Save"),
    )


async def form_submitted(context: Context, event: FormSubmitted) -> list[Outgoing]:
    cohort = context.require_cohort()
    if event.form_id != f"{FORM_PREFIX}{cohort.id}":
        raise Refusal(context.t("That form belongs to another cohort."))
    programme = await context.programme()
    theme_text = event.values.get("theme", "none")
    theme = int(theme_text) if theme_text.isdigit() else None
    if theme_text != "none" and (theme is None or programme.theme(theme) is None):
        raise Refusal(
            context.t(
                "There is no theme {number}; this programme has themes 1–{last}.",
                number=theme_text,
                last=len(programme.themes),
            )
        )
    visibility = chosen_audience(
        context, event.values.get("visibility"), REFLECTION_AUDIENCES, Visibility.private
    )
    body = event.values.get("text", "")
    return [await save_reflection(context, body, theme, visibility, Source.command)]


def chosen_audience(
    context: Context, value: str | None, allowed: tuple[Visibility, ...], default: Visibility
) -> Visibility:
    """Who may read it, as picked in a form: one of `allowed`, or a refusal."""
    try:
        visibility = Visibility(value or default.value)
    except ValueError:
        visibility = None
    if visibility not in allowed:
        raise Refusal(context.t("Choose who may read the reflection."))
    return visibility


async def message_saved(context: Context, event: MessageSaved) -> list[Outgoing]:
    """ "Save to reflection bank" on a message: only on one's own, and only once."""
    context.require_member()
    cohort = context.require_cohort()
    if event.author_user_id != context.actor.user_id:
        raise Refusal(context.t("You can only save messages that you wrote yourself."))
    theme = None
    if event.where.thread_id is not None:
        run = await context.repos.themes.by_post(cohort.id, *_thread_of(event.where))
        theme = run.theme_number if run else None
    return [
        await save_reflection(
            context, event.text, theme, Visibility.cohort, Source.saved_message, event.message_id
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
    supports = member.organisation.id if member.membership.role == Role.support else None
    viewer = Viewer(cohort.id, member.person.id, context.is_facilitator, supports)
    theme = await _theme_option(context, args)
    mine = "mine" in args.flags
    typed = (args.options.get("kind") or "").lower()
    kind = SWEDISH_KINDS.get(typed, typed)
    if kind and kind not in KINDS:
        names = SWEDISH_KINDS if context.language == "sv" else KINDS
        raise Refusal(
            context.t(
                "There is no kind “{kind}”: use {kinds}.",
                kind=typed,
                kinds=list_text(names, context.language, either=True),
            )
        )
    sources = KINDS.get(kind, ())
    t = context.t
    build = MessageBuilder()
    matched: tuple[QueryWord, ...] = ()
    if args.rest:
        parsed = _parsed_query(context, args.rest)
        views = await context.repos.reflections.search(
            viewer, parsed, theme=theme, mine=mine, sources=sources, limit=10
        )
        matched = parsed.required
        build.heading(t("Reflections matching “{words}”", words=args.rest))
        if parsed.dropped_words:
            build.note(
                t(
                    "Only the first {n} words were searched for.",
                    n=MAX_QUERY_WORDS,
                )
            )
    else:
        parsed = None
        views = await context.repos.reflections.visible(
            viewer, theme=theme, mine=mine, sources=sources, limit=10
        )
        build.heading(t("Latest reflections"))
    await _audit_restricted_reading(context, cohort.id, member.person.id, views)
    if not views:
        build.para(t("Nothing found."))
        if parsed is not None:
            offers = await context.repos.reflections.suggestions(
                viewer, parsed, theme=theme, mine=mine, sources=sources
            )
            if offers:
                build.para(
                    t("Did you mean: {words}?", words=list_text(offers, t.language, either=True))
                )
    zone = context.zone
    threads: dict[int, Conversation | None] = {}
    for view in views:
        build.note(_byline(context, view, zone))
        spans = [Span(f.text, strong=f.match) for f in highlight(view.reflection.body, matched)]
        if (thread := await _thread_of_entry(context, view, threads)) is not None:
            spans += [Span(" · "), Span(t("Open the thread"), ref=thread)]
        build.para(*spans)
    build.summary = t.plural("{n} reflection", "{n} reflections", len(views))
    return [context.reply(build.build())]


def _parsed_query(context: Context, words: str) -> ParsedQuery:
    """The search a person typed, or a refusal that says what a search can be."""
    t = context.t
    if len(words) > MAX_QUERY_CHARS:
        raise Refusal(
            t(
                "A search can be at most {limit} characters; that is {length}. "
                "Search for a few words.",
                limit=MAX_QUERY_CHARS,
                length=len(words),
            )
        )
    parsed = parse_query(words)
    if parsed.empty:
        raise Refusal(
            t(
                "Search for at least one word. Words in “double quotes” are a phrase, "
                "and -word leaves out reflections with that word."
            )
        )
    return parsed


async def _audit_restricted_reading(
    context: Context, cohort_id: int, reader_id: int, views: list[ReflectionView]
) -> None:
    """Someone reading others' reflections that were not for the whole cohort is logged."""
    read = [
        v.reflection.id
        for v in views
        if v.reflection.visibility in (Visibility.facilitators, Visibility.organisation)
        and v.reflection.author_id != reader_id
    ]
    if read:
        await context.repos.audit.record(
            "read_restricted_reflections",
            cohort_id=cohort_id,
            actor_person_id=reader_id,
            detail={"reflections": read},
        )


async def _thread_of_entry(
    context: Context, view: ReflectionView, threads: dict[int, Conversation | None]
) -> Conversation | None:
    """The thread a digilog post or reply was written in, when the reader can open it: on
    their own platform (a Teams reader is linked to the Teams thread, where a Teams author
    wrote it). `threads` keeps each theme's, looked up once per list."""
    r, actor = view.reflection, context.actor
    if (
        r.theme_number is None
        or r.source not in (Source.digilog_post, Source.digilog_reply)
        or (view.author.platform, view.author.workspace) != (actor.platform, actor.workspace)
    ):
        return None
    if r.theme_number not in threads:
        cohort = context.require_cohort()
        run = await context.repos.themes.get(cohort.id, r.theme_number)
        threads[r.theme_number] = (
            await channels.thread_on(context.repos, cohort, run, actor.platform, actor.workspace)
            if run is not None
            else None
        )
    return threads[r.theme_number]


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
    parts.append(when_text(r.created_at, None, zone, t.language))
    return " · ".join(parts)


async def _reflect_button(context: Context, action_id: str) -> list[Outgoing]:
    """“Write a reflection” under a theme post: `reflect:<cohort>:<theme>`."""
    argument = [*action_id.split(":", 2), ""][2]
    theme = int(argument) if argument.isdigit() else None
    return [Outgoing(ToActor(), await reflection_form(context, theme))]


async def _compose_digilog(composing: Composing) -> Decision:
    """A note in the theme's thread when its digilog opens or closes."""
    run = await composing.theme_run()
    number, t = composing.theme_number, composing.t
    if run is None:
        return Drop(N_("the theme has not started"))
    assert composing.due is not None
    if composing.due.step.kind == "digilog_open":
        text = t("The digilog of theme {number} is open: reply in this thread.", number=number)
        return await composing.in_threads(run, text)
    if run.digilog_closed_at is None:
        run.digilog_closed_at = composing.now
    text = t(
        "The digilog of theme {number} is closed. What was said here is in the reflection bank.",
        number=number,
    )
    return await composing.in_threads(run, text)


FEATURE = Feature(
    "bank",
    N_("Reflection bank"),
    commands=(
        Command(
            ("reflect",),
            N_("reflect [--theme N] [--cohort | --facilitators] <text>"),
            N_("Save a reflection; only you see it unless you say --cohort or --facilitators."),
            Access.member,
            reflect,
            flags=("cohort", "facilitators", "private"),
            options=("theme", "in"),
            sv=("reflektera",),
        ),
        Command(
            ("bank",),
            N_("bank [words] [--theme N] [--kind digilog|written|saved|needs|plan] [--mine]"),
            N_("List or search the reflection bank."),
            Access.member,
            bank,
            note="only reflections one may read",
            flags=("mine",),
            options=("theme", "kind", "in"),
            sv=("bank",),
        ),
    ),
    buttons=(
        ButtonKind(
            "reflect",
            Access.member,
            "“Write a reflection” under a theme post",
            _reflect_button,
            "this cohort's",
            same_cohort=True,
        ),
    ),
    forms=(FormKind("reflect", Access.member, "a reflection", form_submitted, "this cohort's"),),
    steps=(channel_step("digilog_open"), channel_step("digilog_close")),
    deliveries={"digilog_open": _compose_digilog, "digilog_close": _compose_digilog},
    labels={"digilog_open": N_("Digilog openings"), "digilog_close": N_("Digilog closings")},
    reads_text=True,
)
