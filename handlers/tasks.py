"""The reflection task as the programme runs it: with a colleague or with a learning buddy.

Per theme the programme file says which forms are allowed (`with: buddy`, `colleague` or
`either`). Where both are, the participant chooses with a button ("Med kollega", "Med
lärkompis"); a colleague task asks who (a colleague of one's own organisation in the
roster, or a name written by hand), and a colleague from the roster gets the task too. A
short "what we found" is handed in as a reflection of its own kind (`task_finding`),
which marks the task done for both; the report counts the tasks done per kind.
"""

from __future__ import annotations

from handlers.bank import REFLECTION_AUDIENCES, VISIBILITY_LABELS, check_length, chosen_audience
from handlers.core.access import Access
from handlers.core.context import MAX_REFLECTION_CHARS, Args, Context, Refusal, address_of
from handlers.core.i18n import N_, Translator, translator
from handlers.core.programme_file import ReflectionTask, localise
from handlers.core.registry import ButtonKind, Command, Feature, FormKind
from handlers.core.vocabulary import (
    Block,
    BulletList,
    Choices,
    Form,
    FormSubmitted,
    Message,
    MessageBuilder,
    Option,
    Outgoing,
    Paragraph,
    SelectField,
    Span,
    TextField,
    ToActor,
)
from storage.models import Reflection, ReflectionTaskChoice, Role, Source, Visibility
from storage.people import Member

PREFIX = "task"  # buttons: `task:<cohort>:<theme>:colleague|buddy|found`
WHO = "taskwho"  # form: `taskwho:<cohort>:<theme>`, whom the colleague task is done with
FOUND = "taskfound"  # form: `taskfound:<cohort>:<theme>`, what we found
FORM_LABELS = {"colleague": N_("with a colleague"), "buddy": N_("with a learning buddy")}
MAX_NAME = 200
MAX_COLLEAGUES = 100  # a select of more is unusable (and Slack shows at most 100)


def choices(t: Translator, task: ReflectionTask, cohort_id: int, theme: int) -> list[Option]:
    """The buttons under a theme's task: choose how to do it, or hand in what you found."""
    found = Option(f"{PREFIX}:{cohort_id}:{theme}:found", t("Hand in what we found"))
    if task.with_ == "buddy":
        return [found]
    options = [Option(f"{PREFIX}:{cohort_id}:{theme}:colleague", t("With a colleague"))]
    if task.with_ == "either":
        options.append(Option(f"{PREFIX}:{cohort_id}:{theme}:buddy", t("With my learning buddy")))
    return options


def how_note(t: Translator, task: ReflectionTask) -> str:
    """Under the task in the theme's post: with whom it is done."""
    if task.with_ == "buddy":
        return t("Do it with your learning buddy from another organisation.")
    if task.with_ == "colleague":
        return t("Do it with a colleague from your own organisation: say who with the button.")
    return t(
        "Do it with a colleague from your own organisation or with your learning buddy from "
        "another: choose with a button."
    )


def _parts(context: Context, action_id: str) -> tuple[int, str]:
    """`task:<cohort>:<theme>:<what>`: Digilog has checked the cohort (same_cohort)."""
    parts = action_id.split(":")
    if len(parts) != 4 or not parts[2].isdigit():
        raise Refusal(context.t("That button no longer does anything."))
    return int(parts[2]), parts[3]


async def _task(context: Context, theme: int) -> ReflectionTask:
    found = (await context.programme()).theme(theme)
    if found is None:
        raise Refusal(context.t("That button no longer does anything."))
    return found.reflection_task


def _allowed(context: Context, task: ReflectionTask, form: str) -> None:
    if form not in task.forms():
        raise Refusal(
            context.t(
                "In this theme the reflection task is done {how}.",
                how=context.t(FORM_LABELS[task.forms()[0]]),
            )
        )


async def _done_already(context: Context, theme: int) -> ReflectionTaskChoice | None:
    cohort, member = context.require_cohort(), context.require_member()
    existing = await context.repos.tasks.get(cohort.id, theme, member.person.id)
    if existing is not None and existing.done_at is not None:
        raise Refusal(
            context.t(
                "You have handed in the reflection task of theme {number} already.",
                number=theme,
            )
        )
    return existing


def _the_task(
    t: Translator, language: str, task: ReflectionTask, form: str, cohort_id: int, theme: int
) -> MessageBuilder:
    build = MessageBuilder().heading(t("Reflection task, theme {number}", number=theme))
    build.para(localise(task.text_for(form), language))
    return build


def _hand_in(t: Translator, cohort_id: int, theme: int) -> list[Option]:
    return [Option(f"{PREFIX}:{cohort_id}:{theme}:found", t("Hand in what we found"))]


async def _with_buddy(context: Context, theme: int, task: ReflectionTask) -> list[Outgoing]:
    t, cohort, member = context.t, context.require_cohort(), context.require_member()
    _allowed(context, task, "buddy")
    await _done_already(context, theme)
    await context.repos.tasks.choose(cohort.id, theme, member.person.id, "buddy")
    build = _the_task(t, context.language, task, "buddy", cohort.id, theme)
    groups = await context.repos.buddies.round_groups(cohort.id, theme) or {}
    buddies = next((g for g in groups.values() if member.person.id in g), [])
    names = [
        p.display_name
        for p in [await context.repos.people.get(pid) for pid in buddies]
        if p is not None and p.id != member.person.id
    ]
    if names:
        build.para(t("Your learning buddies: {names}.", names=", ".join(names)))
    else:
        build.note(t("The facilitators announce your learning buddy; you get a message then."))
    build.choices(_hand_in(t, cohort.id, theme))
    return [context.reply(build.build())]


async def _who_form(context: Context, theme: int, task: ReflectionTask) -> list[Outgoing]:
    """The colleague task asks who: a colleague of one's own organisation, or a name."""
    t, cohort, member = context.t, context.require_cohort(), context.require_member()
    _allowed(context, task, "colleague")
    await _done_already(context, theme)
    colleagues = await _colleagues(context)
    fields: list[SelectField | TextField] = []
    if colleagues:
        fields.append(
            SelectField(
                "colleague",
                t("A colleague in the programme"),
                tuple((str(m.person.id), m.person.display_name) for m in colleagues),
                optional=True,
            )
        )
    fields.append(
        TextField(
            "name",
            t("Or their name, if they are not in the programme"),
            max_length=MAX_NAME,
            optional=True,
        )
    )
    form = Form(
        form_id=f"{WHO}:{cohort.id}:{theme}",
        title=t("With a colleague"),
        intro=t(
            "Who do you do the reflection task of theme {number} with? A colleague from {org}.",
            number=theme,
            org=localise(member.organisation.name, context.language),
        ),
        fields=tuple(fields),
        submit_label=t("Save"),
    )
    return [Outgoing(ToActor(), form)]


async def _colleagues(context: Context) -> list[Member]:
    cohort, member = context.require_cohort(), context.require_member()
    return [
        m
        for m in await context.repos.people.members(cohort.id, Role.participant)
        if m.organisation.id == member.organisation.id and m.person.id != member.person.id
    ][:MAX_COLLEAGUES]


def _form_theme(context: Context, form_id: str) -> int:
    parts = form_id.split(":")
    if len(parts) != 3 or not parts[2].isdigit():
        raise Refusal(context.t("That form belongs to another cohort."))
    if int(parts[1]) != context.require_cohort().id:
        raise Refusal(context.t("That form belongs to another cohort."))
    return int(parts[2])


async def who_submitted(context: Context, event: FormSubmitted) -> list[Outgoing]:
    t, cohort, member = context.t, context.require_cohort(), context.require_member()
    theme = _form_theme(context, event.form_id)
    task = await _task(context, theme)
    _allowed(context, task, "colleague")
    await _done_already(context, theme)
    picked = (event.values.get("colleague") or "").strip()
    name = " ".join((event.values.get("name") or "").split())
    if len(name) > MAX_NAME:
        raise Refusal(t("A name can be at most {limit} characters.", limit=MAX_NAME))
    if bool(picked) == bool(name):
        raise Refusal(t("Choose a colleague in the programme, or write a name: one of them."))
    partner = None
    if picked:
        partner = next((m for m in await _colleagues(context) if str(m.person.id) == picked), None)
        if partner is None:
            raise Refusal(t("Choose a colleague from your own organisation in the programme."))
    me = member.person.id
    await context.repos.tasks.choose(
        cohort.id,
        theme,
        me,
        "colleague",
        partner_id=partner.person.id if partner else None,
        partner_name=None if partner else name,
    )
    who = partner.person.display_name if partner else name
    build = _the_task(t, context.language, task, "colleague", cohort.id, theme)
    build.para(t("You do it with {name}.", name=who))
    build.choices(_hand_in(t, cohort.id, theme))
    sent = [context.reply(build.build())]
    if partner is not None and partner.person.user_id is not None:
        theirs = await context.repos.tasks.get(cohort.id, theme, partner.person.id)
        if theirs is None or theirs.done_at is None:
            # Both get the task: the colleague's own row names the one who chose them.
            await context.repos.tasks.choose(
                cohort.id, theme, partner.person.id, "colleague", partner_id=me
            )
            note = _for_the_colleague(
                translator(partner.person.language or cohort.language),
                task,
                cohort.id,
                theme,
                member.person.display_name,
            )
            sent.append(Outgoing(address_of(partner.person), note))
    return sent


def _for_the_colleague(
    t: Translator, task: ReflectionTask, cohort_id: int, theme: int, chooser: str
) -> Message:
    """The task, for the colleague someone chose, in the colleague's own language."""
    note = _the_task(t, t.language, task, "colleague", cohort_id, theme)
    note.para(
        t(
            "{name} does the reflection task of theme {number} with you.",
            name=chooser,
            number=theme,
        )
    )
    note.choices(_hand_in(t, cohort_id, theme))
    return note.build()


async def _found_form(context: Context, theme: int, task: ReflectionTask) -> list[Outgoing]:
    t, cohort = context.t, context.require_cohort()
    existing = await _done_already(context, theme)
    if existing is None:
        if len(task.forms()) > 1:
            raise Refusal(t("Choose first: with a colleague or with your learning buddy."))
        if task.forms() == ("colleague",):
            raise Refusal(t("Say first who you do it with: the button “With a colleague”."))
    form = Form(
        form_id=f"{FOUND}:{cohort.id}:{theme}",
        title=t("What we found"),
        intro=t(
            "A few sentences on what you found in the reflection task of theme {number}; "
            "it goes into the reflection bank.",
            number=theme,
        ),
        fields=(
            TextField(
                "text",
                t("What we found"),
                multiline=True,
                max_length=MAX_REFLECTION_CHARS,
            ),
            SelectField(
                "visibility",
                t("Who may read it"),
                tuple((v.value, t(VISIBILITY_LABELS[v])) for v in REFLECTION_AUDIENCES),
                initial=Visibility.facilitators.value,
            ),
        ),
        submit_label=t("Hand in"),
    )
    return [Outgoing(ToActor(), form)]


async def found_submitted(context: Context, event: FormSubmitted) -> list[Outgoing]:
    t, cohort, member = context.t, context.require_cohort(), context.require_member()
    theme = _form_theme(context, event.form_id)
    task = await _task(context, theme)
    existing = await _done_already(context, theme)
    if existing is None:
        if len(task.forms()) > 1 or task.forms() == ("colleague",):
            raise Refusal(t("Choose first: with a colleague or with your learning buddy."))
        existing = await context.repos.tasks.choose(cohort.id, theme, member.person.id, "buddy")
    visibility = chosen_audience(
        context, event.values.get("visibility"), REFLECTION_AUDIENCES, Visibility.facilitators
    )
    body = check_length(context, event.values.get("text", ""))
    reflection, _ = await context.repos.reflections.add(
        Reflection(
            cohort_id=cohort.id,
            author_id=member.person.id,
            organisation_id=member.organisation.id,
            theme_number=theme,
            source=Source.task_finding,
            visibility=visibility,
            body=body,
        )
    )
    done = [member.person.id]
    if existing.form == "colleague" and existing.partner_id is not None:
        theirs = await context.repos.tasks.get(cohort.id, theme, existing.partner_id)
        if theirs is not None and theirs.partner_id == member.person.id:
            done.append(existing.partner_id)  # what we found is both people's
    await context.repos.tasks.done(cohort.id, theme, done, reflection.id, context.now())
    return [
        context.reply(
            t(
                "Saved in the reflection bank as #{id}: the reflection task of theme {number} "
                "is done. Thank you!",
                id=reflection.id,
                number=theme,
            )
        )
    ]


async def press(context: Context, action_id: str) -> list[Outgoing]:
    context.require_member()
    theme, what = _parts(context, action_id)
    task = await _task(context, theme)
    if what == "buddy":
        return await _with_buddy(context, theme, task)
    if what == "colleague":
        return await _who_form(context, theme, task)
    if what == "found":
        return await _found_form(context, theme, task)
    raise Refusal(context.t("That button no longer does anything."))


async def show(context: Context, args: Args) -> list[Outgoing]:
    """`task [N]`: a theme's reflection task, how you do it, and its buttons."""
    t, cohort, member = context.t, context.require_cohort(), context.require_member()
    programme = await context.programme()
    if args.words:
        from handlers.themes import theme_number

        number = theme_number(context, args, programme)
    else:
        started = await context.repos.themes.started(cohort.id)
        if not started:
            raise Refusal(t("No theme has started yet."))
        number = started[-1].theme_number
    theme = programme.theme(number)
    assert theme is not None
    task = theme.reflection_task
    mine = await context.repos.tasks.get(cohort.id, number, member.person.id)
    # Not chosen yet: as the theme's post reads, unless the task is done one way only.
    forms = task.forms()
    form = mine.form if mine else (forms[0] if len(forms) == 1 else "buddy")
    build = _the_task(t, context.language, task, form, cohort.id, number)
    if mine is not None:
        build.note(await _my_part(context, t, mine))
        if mine.done_at is None:
            build.choices(_hand_in(t, cohort.id, number))
    else:
        build.note(how_note(t, task))
        build.choices(choices(t, task, cohort.id, number))
    return [context.reply(build.build())]


async def _my_part(context: Context, t: Translator, mine: ReflectionTaskChoice) -> str:
    """How one does the task, with whom, or that it is handed in."""
    if mine.done_at is not None:
        return t("Done: you have handed in what you found.")
    partner = await context.repos.people.get(mine.partner_id) if mine.partner_id else None
    who = partner.display_name if partner else mine.partner_name
    return t("You do it {how}.", how=t(FORM_LABELS[mine.form])) + (
        " " + t("You do it with {name}.", name=who) if who else ""
    )


async def theme_post_view(context: Context, action_id: str) -> Message | None:
    """A theme's channel post as one participant sees it: how they do its task, whether
    they handed in what they found, whether they wrote a reflection. Only reads; None for
    a button it does not know."""
    from handlers.themes import theme_post  # themes imports this module for the buttons

    cohort, member = context.cohort, context.member
    parts = action_id.split(":")
    if cohort is None or len(parts) != 4 or parts[1] != str(cohort.id) or not parts[2].isdigit():
        return None
    number = int(parts[2])
    theme = (await context.programme()).theme(number)
    if theme is None:
        return None
    post = theme_post(theme, number, cohort.language, cohort.id)
    if member is None:
        return post
    # In the post's language: one card, one language.
    t = translator(cohort.language)
    lines: list[str] = []
    mine = await context.repos.tasks.get(cohort.id, number, member.person.id)
    if mine is not None:
        lines.append(await _my_part(context, t, mine))
    if await context.repos.reflections.latest_by(cohort.id, member.person.id, number):
        lines.append(t("You have written a reflection on this theme."))
    if not lines:
        return post
    buttons = next((n for n, b in enumerate(post.blocks) if isinstance(b, Choices)), None)
    at = len(post.blocks) if buttons is None else buttons
    mark: list[Block] = [
        Paragraph((Span(t("Your part"), strong=True),)),
        BulletList(tuple((Span(line),) for line in lines)),
    ]
    return Message((*post.blocks[:at], *mark, *post.blocks[at:]), post.summary)


FEATURE = Feature(
    "tasks",
    N_("Themes"),  # in help, beside the themes' own commands
    commands=(
        Command(
            ("task",),
            N_("task [theme]"),
            N_(
                "A theme's reflection task: choose to do it with a colleague or your learning "
                "buddy, and hand in what you found."
            ),
            Access.participant,
            show,
            sv=("uppgift",),
        ),
    ),
    buttons=(
        ButtonKind(
            PREFIX,
            Access.participant,
            "choose how to do a reflection task, or hand in what was found",
            press,
            "this cohort's",
            same_cohort=True,
            view=theme_post_view,
        ),
    ),
    forms=(
        FormKind(WHO, Access.participant, "say which colleague a task is done with", who_submitted),
        FormKind(FOUND, Access.participant, "hand in what a task found", found_submitted),
    ),
    reads_text=True,
)
