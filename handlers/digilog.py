"""The entry point for adapters: one neutral event in, the messages to send out."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from handlers import (
    access,
    bank,
    buddies,
    channels,
    commands,
    home,
    labs,
    meetings,
    nudges,
    people,
    personal_data,
    quiz,
    surveys,
    themes,
)
from handlers.context import Args, Context, Refusal, build_context
from handlers.i18n import language_of, translator
from handlers.limits import PerPerson
from handlers.vocabulary import (
    ChoiceMade,
    CommandReceived,
    Delivered,
    FormSubmitted,
    HomeOpened,
    Inbound,
    MessageBuilder,
    MessageSaved,
    Outgoing,
    PostDeleted,
    PostEdited,
    ThreadPost,
    ToActor,
    say,
)
from storage.models import ID_LENGTH, utcnow
from storage.unit import Store

log = logging.getLogger(__name__)


def _cohort_of(action_id: str) -> int | None:
    """The cohort a button or form belongs to: `quiz:<cohort>-<theme>:…`, `reflect:<cohort>:…`,
    `survey:<cohort>:…`."""
    parts = action_id.split(":")
    if len(parts) < 2:
        return None
    head = parts[1].partition("-")[0] if parts[0] == "quiz" else parts[1]
    return int(head) if head.isdigit() else None


def cohort_of(action_id: str) -> int | None:
    """The cohort a button or form id names, for those outside a transaction (the failure
    rows of bot/work.py); None for any id that names none."""
    try:
        return _cohort_of(action_id)
    except ValueError:  # a digit str.isdigit() takes and int() does not (e.g. "²")
        return None


def _of_this_cohort(context: Context, action_id: str) -> None:
    """A button of another cohort does nothing here, even for someone in both."""
    if _cohort_of(action_id) != context.require_cohort().id:
        raise Refusal(context.t("That button belongs to another cohort."))


class Digilog:
    """Handles every inbound event in one transaction: all of it is stored, or none of it."""

    def __init__(
        self, store: Store, now: Callable[[], datetime] = utcnow, pace: PerPerson | None = None
    ) -> None:
        self.store = store
        self.now = now  # a rehearsal or a test moves it
        self.pace = pace or PerPerson()

    async def handle(
        self, event: Inbound, *, delivery_id: str | None = None, journal_id: int | None = None
    ) -> list[Outgoing]:
        """Handle one event; with a delivery id (Slack's event_id), a retry is handled once.

        `journal_id`, the event's inbound journal entry, is marked handled in the same
        transaction as the work, so a worker that dies after it never does the work twice."""
        actor = event.actor
        if len(actor.user_id or "") > ID_LENGTH or len(actor.workspace or "") > ID_LENGTH:
            # Longer than any platform's ids: nobody real, and no row could hold it.
            log.warning("%s event from an id too long to be real: ignored", actor.platform)
            return []
        if isinstance(event, CommandReceived | FormSubmitted) and actor.platform != "console":
            wait = self.pace.wait((actor.platform, actor.workspace, actor.user_id), self.now())
            if wait:
                t = translator(language_of(actor.locale))
                slow_down = t(
                    "You are sending commands faster than Digilog takes them: "
                    "try again in {seconds} seconds.",
                    seconds=max(1, round(wait)),
                )
                return [Outgoing(ToActor(), say(slow_down))]
        cohort_key = None
        if isinstance(event, CommandReceived):
            cohort_key = Args.parse(event.text, options=("in",)).options.get("in")
        elif isinstance(event, ChoiceMade) and (cohort_id := _cohort_of(event.action_id)):
            cohort_key = f"#{cohort_id}"
        elif isinstance(event, FormSubmitted) and (cohort_id := _cohort_of(event.form_id)):
            cohort_key = f"#{cohort_id}"  # a form opened from a direct message or a home page
        try:
            async with self.store.transaction() as repos:
                if delivery_id and not await repos.events.first_time(
                    event.actor.platform, delivery_id
                ):
                    return []
                context = await build_context(
                    repos,
                    event.actor,
                    event.where,
                    cohort_key,
                    several_ok=isinstance(event, HomeOpened),  # the home page shows them all
                )
                context.now = self.now
                outgoing = await self._dispatch(context, event)
                if journal_id is not None:
                    await repos.inbound.handled(journal_id)
                here = (event.actor.platform, event.actor.workspace)
                return await channels.hand_over(repos, context.cohort, outgoing, here, self.now())
        except Refusal as refusal:
            # The transaction has rolled back; the person is told why, once.
            if delivery_id:
                async with self.store.transaction() as repos:
                    if not await repos.events.first_time(event.actor.platform, delivery_id):
                        return []
            return [Outgoing(ToActor(), refusal.message)]

    async def _dispatch(self, context: Context, event: Inbound) -> list[Outgoing]:
        match event:
            case CommandReceived():
                return await self._command(context, event.text)
            case ChoiceMade():
                return await self._choice(context, event.action_id)
            case ThreadPost():
                return await bank.thread_post(context, event)
            case PostEdited():
                return await bank.post_edited(context, event)
            case PostDeleted():
                return await bank.post_deleted(context, event)
            case FormSubmitted():
                return await self._form(context, event)
            case MessageSaved():
                return await bank.message_saved(context, event)
            case HomeOpened():
                return await home.home(context)

    async def _command(self, context: Context, text: str) -> list[Outgoing]:
        command, rest = commands.find(text)
        if command is None:
            word = text.split()[0] if text.split() else ""
            help_text = commands.help_message(context)
            lead = (
                MessageBuilder().para(context.t("I don't know the command “{word}”.", word=word))
                if word
                else MessageBuilder()
            )
            lead.blocks.extend(help_text.blocks)
            return [context.reply(lead.build())]
        args = Args.parse(rest, flags=command.flags, options=command.options)
        named, cohort = args.options.get("in"), context.cohort
        if named and cohort is not None and named not in (cohort.key, f"#{cohort.id}"):
            # In a cohort's channel the command is that cohort's: acting on it while the
            # person named another would do the wrong thing to the wrong people.
            raise Refusal(
                context.t(
                    "This is the channel of {cohort}, and --in {key} names another cohort: "
                    "write the command in a direct message to Digilog, or in that cohort's "
                    "channel.",
                    cohort=cohort.title,
                    key=named,
                )
            )
        access.require(context, command.access)
        return await command.run(context, args)

    async def _choice(self, context: Context, action_id: str) -> list[Outgoing]:
        act = access.button(action_id)
        if act is None:
            log.warning("unknown action id %r", action_id)
            raise Refusal(context.t("That button no longer does anything."))
        access.require(context, act.access)  # the role matrix; the features check the rest
        kind = act.kind
        if kind == "quiz" and (action := quiz.QuizAction.parse(action_id)) is not None:
            return await quiz.choice(context, action)
        if kind == "nudge":
            return await nudges.confirm(context, action_id)
        if kind == "pair":
            _of_this_cohort(context, action_id)
            return await buddies.announce(context, action_id)
        if kind == "met":
            return await buddies.met(context, action_id)
        if kind == "meeting":
            return [await meetings.form_for(context, meetings.kind_of(context, action_id))]
        if kind == "lab":
            return await labs.choice(context, action_id)
        if kind == personal_data.PREFIX:
            return await personal_data.forget_choice(context, action_id)
        if kind in ("reflect", "join", "survey"):
            # `reflect:<cohort>:<theme>` on a theme post, `join:<cohort>:<organisation>`,
            # `survey:<cohort>:theme:3` when a survey opens.
            _of_this_cohort(context, action_id)
            argument = [*action_id.split(":", 2), ""][2]
            if kind == "survey":
                return [await surveys.form_for(context, argument)]
            if kind == "join":
                return await people.join(context, Args(argument, set(), {}))
            theme = int(argument) if argument.isdigit() else None
            return [Outgoing(ToActor(), await bank.reflection_form(context, theme))]
        log.warning("unknown action id %r", action_id)
        raise Refusal(context.t("That button no longer does anything."))

    async def _form(self, context: Context, event: FormSubmitted) -> list[Outgoing]:
        act = access.form(event.form_id)
        if act is None:
            log.warning("unknown form id %r", event.form_id)
            raise Refusal(context.t("That button no longer does anything."))
        access.require(context, act.access)
        if act.kind == "survey":
            return await surveys.form_submitted(context, event)
        if act.kind == "meeting":
            return await meetings.form_submitted(context, event)
        return await bank.form_submitted(context, event)

    async def delivered(self, report: Delivered) -> None:
        """Keep the platform's id of a posted message that others will reply to."""
        if report.receipt.startswith(themes.RECEIPT_PREFIX):
            run_id = int(report.receipt.removeprefix(themes.RECEIPT_PREFIX))
            async with self.store.transaction() as repos:
                cohort = await repos.cohorts.by_conversation(
                    report.where.platform, report.where.workspace, report.where.conversation_id
                )
                channel = (
                    await channels.channel_id_of(repos, cohort, report.where) if cohort else None
                )
                await repos.themes.record_post(run_id, report.message_id, channel)
