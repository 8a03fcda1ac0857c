"""The entry point for adapters: one neutral event in, the messages to send out."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime

from handlers import bank, guide, home, themes
from handlers.core import access, channels
from handlers.core.context import Args, Context, Refusal, build_context
from handlers.core.i18n import Translator, language_of, translator
from handlers.core.limits import PerPerson
from handlers.core.registry import ButtonKind, Registry
from handlers.core.vocabulary import (
    CardViewed,
    ChoiceMade,
    CommandReceived,
    Delivered,
    FormSubmitted,
    HomeOpened,
    Inbound,
    MessageSaved,
    Outgoing,
    PostDeleted,
    PostEdited,
    ThreadPost,
    ToActor,
    say,
)
from handlers.features import REGISTRY
from storage.models import ID_LENGTH, utcnow
from storage.unit import Repositories, Store

log = logging.getLogger(__name__)


def _carries_nul(value: object) -> bool:
    """Whether any text of an event holds a NUL character, which PostgreSQL cannot store
    in a text column (it fails the whole transaction) and no person means to send."""
    # The repr shows a NUL as \x00 (and a text that says "\x00" as \\x00): without one,
    # nothing to look for, at a fraction of the cost of walking the fields.
    if "\\x00" not in repr(value):
        return False
    return _walk_for_nul(value)


def _walk_for_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(_walk_for_nul(k) or _walk_for_nul(v) for k, v in value.items())
    if isinstance(value, tuple | list):
        return any(_walk_for_nul(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return any(_walk_for_nul(getattr(value, f.name)) for f in dataclasses.fields(value))
    return False


def _nul_refused(t: Translator) -> Refusal:
    return Refusal(
        t(
            "That text holds a NUL character (an invisible control character) "
            "that Digilog cannot store. Remove it and send it again."
        )
    )


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


class _Again(Exception):
    """A batch handled as one piece of work failed somewhere: handle it again, one by one."""


# What the checks before the database said of an event: its answer there, or None and the
# cohort key it names; or why it stops there (a Refusal, or its own failure).
Guarded = tuple[list[Outgoing] | None, str | None] | Exception


class Digilog:
    """Handles every inbound event in one transaction: all of it is stored, or none of it."""

    def __init__(
        self,
        store: Store,
        now: Callable[[], datetime] = utcnow,
        pace: PerPerson | None = None,
        features: Registry = REGISTRY,
    ) -> None:
        self.store = store
        self.now = now  # a rehearsal or a test moves it
        self.pace = pace or PerPerson()
        self.features = features

    async def handle(
        self, event: Inbound, *, delivery_id: str | None = None, journal_id: int | None = None
    ) -> list[Outgoing]:
        """Handle one event; with a delivery id (Slack's event_id), a retry is handled once.

        `journal_id`, the event's inbound journal entry, is marked handled in the same
        transaction as the work, so a worker that dies after it never does the work twice."""
        try:
            early, cohort_key = self._guard(event)
            if early is not None:
                return early
            async with self.store.transaction() as repos:
                outgoing = await self._within(repos, event, delivery_id, cohort_key)
                if outgoing is not None and journal_id is not None:
                    await repos.inbound.handled([journal_id])
                return outgoing or []
        except Refusal as refusal:
            # The transaction has rolled back; the person is told why, once.
            if not delivery_id:
                return [Outgoing(ToActor(), refusal.message)]
            async with self.store.transaction() as repos:
                return await self._refused(repos, event, delivery_id, refusal)

    async def handle_many(
        self,
        events: Sequence[tuple[Inbound, str | None, int | None]],
        scope: Callable[[int], AbstractContextManager[object]] | None = None,
    ) -> list[list[Outgoing] | Exception]:
        """Handle several events (event, delivery id, journal id) in one transaction: a
        burst of clicks costs one BEGIN and one COMMIT rather than one each. Returns each
        event's messages, or the error its work raised; should the commit fail, every
        event gets that error (nothing of any of them was stored).

        First all of them as one piece of work. Should any be refused or fail, that is
        rolled back and they are handled again, each in a savepoint of its own: what one
        stores is then kept or undone apart from the others. (Doing work again that was
        rolled back is what the journal does with any failed work.)

        `scope(i)` is entered around event i's work (its log lines carry its request id)."""

        def within(i: int) -> AbstractContextManager[object]:
            return scope(i) if scope is not None else nullcontext()

        if len(events) == 1:  # alone: its own transaction, no savepoint needed
            event, delivery_id, journal_id = events[0]
            with within(0):
                try:
                    outgoing = await self.handle(
                        event, delivery_id=delivery_id, journal_id=journal_id
                    )
                except Exception as error:
                    return [error]
                return [outgoing]
        # Before the database, once each: the pace of commands counts an event once.
        guarded: list[Guarded] = []
        for i, (event, _, _) in enumerate(events):
            with within(i):
                try:
                    guarded.append(self._guard(event))
                except Exception as error:  # a Refusal, or this event's own failure
                    guarded.append(error)
        with contextlib.suppress(_Again):
            return await self._all_at_once(events, guarded, within)
        return await self._one_by_one(events, guarded, within)

    async def _all_at_once(
        self,
        events: Sequence[tuple[Inbound, str | None, int | None]],
        guarded: list[Guarded],
        within: Callable[[int], AbstractContextManager[object]],
    ) -> list[list[Outgoing] | Exception]:
        """Every event's work in one transaction, no savepoints; _Again if any failed."""
        results: list[list[Outgoing] | Exception] = []
        try:
            async with self.store.transaction() as repos:
                await self._read_ahead(repos, events, guarded)
                handled: list[int] = []
                for i, (event, delivery_id, journal_id) in enumerate(events):
                    with within(i):
                        outcome = guarded[i]
                        if isinstance(outcome, Refusal):
                            results.append(await self._refused(repos, event, delivery_id, outcome))
                            continue
                        if isinstance(outcome, Exception):
                            results.append(outcome)
                            continue
                        early, cohort_key = outcome
                        if early is not None:
                            results.append(early)
                            continue
                        outgoing = await self._within(repos, event, delivery_id, cohort_key)
                    results.append(outgoing or [])
                    if outgoing is not None and journal_id is not None:
                        handled.append(journal_id)
                # One statement marks them all, in the transaction that stores their work.
                await repos.inbound.handled(handled)
        except Exception as error:  # refused or failed (or the commit): one by one instead
            raise _Again from error
        return results

    async def _read_ahead(
        self,
        repos: Repositories,
        events: Sequence[tuple[Inbound, str | None, int | None]],
        guarded: list[Guarded],
    ) -> None:
        """What a batch's events will each read, read for all at once: their deliveries
        recorded (a retry is handled once), who each person is where they clicked (one
        query per conversation), then what their buttons' features read (a quiz's
        answers so far). Each event still reads anything not read ahead,
        and whatever an earlier event writes makes the reads ahead of it stale
        (storage/memo.py): a batch gives the answers its events would one by one."""
        deliveries: dict[str, list[str]] = {}
        for (event, delivery_id, _), outcome in zip(events, guarded, strict=True):
            if delivery_id and not isinstance(outcome, Exception) and outcome[0] is None:
                deliveries.setdefault(event.actor.platform, []).append(delivery_id)
        for platform, delivered in deliveries.items():
            if len(delivered) > 1:
                await repos.events.read_ahead(platform, delivered)
        await self._read_clicks_ahead(repos, events, guarded)

    async def _read_clicks_ahead(
        self,
        repos: Repositories,
        events: Sequence[tuple[Inbound, str | None, int | None]],
        guarded: list[Guarded],
    ) -> None:
        clicks: dict[tuple[str, str, tuple[str, str, str]], list[ChoiceMade]] = {}
        for event, outcome in zip((e for e, _, _ in events), guarded, strict=True):
            if isinstance(event, ChoiceMade) and not isinstance(outcome, Exception):
                actor, where = event.actor, event.where
                place = (where.platform, where.workspace, where.conversation_id)
                clicks.setdefault((actor.platform, actor.workspace, place), []).append(event)
        # Several in one conversation (a channel), or each in a chat of their own (a card
        # in one's own Teams chat): one query per conversation, or three for all of them.
        alone: dict[tuple[str, str], list[tuple[str, tuple[str, str, str]]]] = {}
        for (platform, workspace, place), choices in clicks.items():
            if len(choices) > 1:
                users = [choice.actor.user_id for choice in choices]
                await repos.people.read_ahead(platform, workspace, users, place)
            else:
                alone.setdefault((platform, workspace), []).append(
                    (choices[0].actor.user_id, place)
                )
        for (platform, workspace), elsewhere in alone.items():
            if len(elsewhere) > 1:
                await repos.people.read_ahead_elsewhere(platform, workspace, elsewhere)
        await self._read_presses_ahead(repos, clicks)

    async def _read_presses_ahead(
        self,
        repos: Repositories,
        clicks: Mapping[tuple[str, str, tuple[str, str, str]], list[ChoiceMade]],
    ) -> None:
        """What the buttons' features read for each press (a quiz's answers so far)."""
        presses: dict[ButtonKind, list[tuple[int, int, str]]] = {}
        for (platform, workspace, place), choices in clicks.items():
            for choice in choices:
                button = self.features.button(choice.action_id)
                known = repos.people.known_person(platform, workspace, choice.actor.user_id, place)
                if button is None or button.read_ahead is None or known is None:
                    continue
                person, cohort, _ = known
                # Outside its channel, a button names its cohort itself.
                cohort_id = cohort.id if cohort is not None else _cohort_of(choice.action_id)
                if cohort_id is not None:
                    presses.setdefault(button, []).append((cohort_id, person.id, choice.action_id))
        for button, pressed in presses.items():
            if len(pressed) > 1 and button.read_ahead is not None:
                await button.read_ahead(repos, pressed)

    async def _one_by_one(
        self,
        events: Sequence[tuple[Inbound, str | None, int | None]],
        guarded: list[Guarded],
        within: Callable[[int], AbstractContextManager[object]],
    ) -> list[list[Outgoing] | Exception]:
        """Every event's work in a savepoint of its own, in one transaction."""
        results: list[list[Outgoing] | Exception] = [[] for _ in events]
        try:
            async with self.store.transaction() as repos:
                handled: list[int] = []
                for i, (event, delivery_id, journal_id) in enumerate(events):
                    with within(i):
                        try:
                            outgoing, stored = await self._in_savepoint(
                                repos, event, delivery_id, guarded[i]
                            )
                        except Exception as error:  # this event's alone; the others go on
                            repos.forget_reads()  # it may have stored one
                            results[i] = error
                            continue
                    results[i] = outgoing
                    if stored and journal_id is not None:
                        handled.append(journal_id)
                await repos.inbound.handled(handled)
        except Exception as error:  # the commit (or the marking) failed: none was stored
            return [error for _ in events]
        return results

    async def _in_savepoint(
        self, repos: Repositories, event: Inbound, delivery_id: str | None, guarded: Guarded
    ) -> tuple[list[Outgoing], bool]:
        """One event of a batch: its messages, and whether its work was stored."""
        try:
            if isinstance(guarded, Exception):
                raise guarded
            early, cohort_key = guarded
            if early is not None:
                return early, False
            async with repos.session.begin_nested():
                outgoing = await self._within(repos, event, delivery_id, cohort_key)
            return outgoing or [], outgoing is not None
        except Refusal as refusal:
            # Its savepoint has rolled back; the person is told why, once.
            repos.forget_reads()
            async with repos.session.begin_nested():
                return await self._refused(repos, event, delivery_id, refusal), False

    def _guard(self, event: Inbound) -> tuple[list[Outgoing] | None, str | None]:
        """What is checked before the database: an answer that ends the event there (or
        a Refusal raised), else None and the cohort key the event names."""
        actor = event.actor
        if len(actor.user_id or "") > ID_LENGTH or len(actor.workspace or "") > ID_LENGTH:
            # Longer than any platform's ids: nobody real, and no row could hold it.
            log.warning("%s event from an id too long to be real: ignored", actor.platform)
            return [], None
        if isinstance(event, CommandReceived | FormSubmitted) and actor.platform != "console":
            wait = self.pace.wait((actor.platform, actor.workspace, actor.user_id), self.now())
            if wait:
                t = translator(language_of(actor.locale))
                slow_down = t(
                    "You are sending commands faster than Digilog takes them: "
                    "try again in {seconds} seconds.",
                    seconds=max(1, round(wait)),
                )
                return [Outgoing(ToActor(), say(slow_down))], None
        cohort_key = None
        if isinstance(event, CommandReceived):
            cohort_key = Args.parse(event.text, options=("in",)).options.get("in")
        elif isinstance(event, ChoiceMade | CardViewed) and (
            cohort_id := _cohort_of(event.action_id)
        ):
            cohort_key = f"#{cohort_id}"
        elif isinstance(event, FormSubmitted) and (cohort_id := _cohort_of(event.form_id)):
            cohort_key = f"#{cohort_id}"  # a form opened from a direct message or a home page
        if cohort_key is not None and "\x00" in cohort_key:
            cohort_key = None  # refused below, once the reader's language is known
        if _carries_nul(event.actor) or _carries_nul(event.where):
            # Before anything reaches the database: PostgreSQL would fail the
            # transaction on it, SQLite would store it.
            raise _nul_refused(translator(language_of(actor.locale)))
        return None, cohort_key

    async def _within(
        self, repos: Repositories, event: Inbound, delivery_id: str | None, cohort_key: str | None
    ) -> list[Outgoing] | None:
        """The work in the database; None for a retry that was handled before."""
        if delivery_id and not await repos.events.first_time(event.actor.platform, delivery_id):
            return None
        context = await build_context(
            repos,
            event.actor,
            event.where,
            cohort_key,
            several_ok=isinstance(event, HomeOpened),  # the home page shows them all
        )
        context.now = self.now
        context.features = self.features
        if _carries_nul(event):
            raise _nul_refused(context.t)  # in the reader's language, nothing stored
        outgoing = await self._dispatch(context, event)
        here = (event.actor.platform, event.actor.workspace)
        return await channels.hand_over(repos, context.cohort, outgoing, here, self.now())

    async def _refused(
        self, repos: Repositories, event: Inbound, delivery_id: str | None, refusal: Refusal
    ) -> list[Outgoing]:
        """The person is told why, once: a retried delivery is told nothing."""
        if isinstance(event, CardViewed):
            return []  # a card's look is asked for, not an action: the card stays as posted
        if delivery_id and not await repos.events.first_time(event.actor.platform, delivery_id):
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
            case CardViewed():
                return await self._view(context, event.action_id)

    async def _command(self, context: Context, text: str) -> list[Outgoing]:
        command, rest = self.features.find(text)
        if command is None:
            return [context.reply(guide.unknown_command(context, text))]
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
        button = self.features.button(action_id)
        if button is None:
            log.warning("unknown action id %r", action_id)
            raise Refusal(context.t("That button no longer does anything."))
        access.require(context, button.access)  # the role matrix; the features check the rest
        if button.same_cohort and _cohort_of(action_id) != context.require_cohort().id:
            raise Refusal(context.t("That button belongs to another cohort."))
        return await button.press(context, action_id)

    async def _view(self, context: Context, action_id: str) -> list[Outgoing]:
        """A shared card as this person sees it: their own state, or nothing (as posted)."""
        button = self.features.button(action_id)
        if button is None or button.view is None:
            return []
        cohort = context.cohort
        if button.same_cohort and (cohort is None or _cohort_of(action_id) != cohort.id):
            return []
        shown = await button.view(context, action_id)
        return [context.reply(shown)] if shown is not None else []

    async def _form(self, context: Context, event: FormSubmitted) -> list[Outgoing]:
        form = self.features.form(event.form_id)
        if form is None:
            log.warning("unknown form id %r", event.form_id)
            raise Refusal(context.t("That button no longer does anything."))
        access.require(context, form.access)
        return await form.submit(context, event)

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
