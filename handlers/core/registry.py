"""What each feature offers, declared once in its own module, and looked up by the core.

A feature module ends with one `FEATURE = Feature(...)`: its commands (with usage, summary
and who may use them), its kinds of button and form, the delivery kinds it composes when
their time comes, the calendar steps it plans, and any planner of rows of its own. The
list of features (handlers/features.py) builds one `Registry` from them; `Digilog`, the
sender and the timekeeper look everything up there, so that adding a feature touches its
module and that list, and nothing else. Help and the role matrix are generated from the
same declarations.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from handlers.core.access import Access
from handlers.core.context import Args, Context
from handlers.core.steps import DueStep, Step, Task, deadline, due_steps, future_steps, step_of
from handlers.core.vocabulary import (
    ChoiceMade,
    CommandReceived,
    FormSubmitted,
    Inbound,
    Message,
    MessageSaved,
    Outgoing,
    PostEdited,
    ThreadPost,
)
from storage.models import CalendarEntry, Cohort

if TYPE_CHECKING:
    from handlers.core.deliveries import Composing, Decision
    from handlers.core.programme_file import Programme
    from storage.deliveries import Planned
    from storage.unit import Repositories

K = TypeVar("K")
V = TypeVar("V")
Run = Callable[[Context, Args], Awaitable[list[Outgoing]]]
Press = Callable[[Context, str], Awaitable[list[Outgoing]]]  # the button's action id
# How a shared card with this button looks to the person asking: None for as it was posted.
View = Callable[[Context, str], Awaitable[Message | None]]
Submit = Callable[[Context, FormSubmitted], Awaitable[list[Outgoing]]]
ReadAhead = Callable[["Repositories", list[tuple[int, int, str]]], Awaitable[None]]
Compose = Callable[["Composing"], Awaitable["Decision"]]
Planner = Callable[["Repositories", Cohort, "Programme", datetime], Awaitable[Iterable["Planned"]]]
# When a feature's planner may find something due: a rehearsal moving its clock stops there.
Moments = Callable[[Cohort, "Programme", list[CalendarEntry]], Iterable[datetime]]


@dataclass(frozen=True)
class Command:
    words: tuple[str, ...]
    usage: str  # a catalogue text: its Swedish translation starts with the Swedish words
    summary: str
    access: Access
    run: Run
    flags: tuple[str, ...] = ()
    options: tuple[str, ...] = field(default=("in",))
    note: str = ""  # for the role matrix, in English: what the command checks beyond the role
    sv: tuple[str, ...] = ()  # the Swedish words; either language's words run the command

    def words_in(self, language: str) -> tuple[str, ...]:
        return self.sv if language == "sv" and self.sv else self.words


@dataclass(frozen=True)
class ButtonKind:
    """A kind of button: the first part of its action id (`quiz:3-1:begin` is a quiz's).
    `what` and `finer` are the role matrix's columns, in English: documentation, not a
    message to anyone."""

    kind: str
    access: Access
    what: str
    press: Press
    finer: str = ""
    # The cohort in the id must be the one the event is about: a button of another cohort
    # does nothing here, even for someone in both.
    same_cohort: bool = False
    # A card posted to a channel with this button shows each person their own state where
    # the platform can (a Teams card's refresh): how, for the person asking. It must only read.
    view: View | None = None
    # What the presses of a batch will each read, read for all of them at once (one query
    # instead of one each): given (cohort id, person id, action id) of each press.
    read_ahead: ReadAhead | None = None


@dataclass(frozen=True)
class FormKind:
    kind: str
    access: Access
    what: str
    submit: Submit
    finer: str = ""


@dataclass(frozen=True)
class Feature:
    name: str
    title: str = ""  # a catalogue text: the heading of its commands in help
    commands: tuple[Command, ...] = ()
    buttons: tuple[ButtonKind, ...] = ()
    forms: tuple[FormKind, ...] = ()
    deliveries: dict[str, Compose] = field(default_factory=dict)  # delivery kind -> composer
    # Delivery kind -> what a facilitator calls such messages (a catalogue text), for
    # `schedule`'s count of what waits and what failed.
    labels: dict[str, str] = field(default_factory=dict)
    steps: tuple[Step, ...] = ()
    planners: tuple[Planner, ...] = ()
    moments: tuple[Moments, ...] = ()
    # Its commands, buttons, forms and deliveries may analyse Swedish text (the reflection
    # bank's index and search, lab suggestions, a digest): they need the dictionary loaded
    # (storage/swedish.py).
    reads_text: bool = False

    def command(self, words: tuple[str, ...]) -> Command:
        """One of this feature's commands, by its English words (for a scheduled message,
        which has no Registry at hand)."""
        return next(c for c in self.commands if c.words == words)


class Registry:
    """Every feature's declarations as lookup tables; two features may not claim one name."""

    def __init__(self, features: Iterable[Feature]) -> None:
        self.features = tuple(features)
        self.commands = tuple(c for f in self.features for c in f.commands)
        self.buttons = tuple(b for f in self.features for b in f.buttons)
        self.forms = tuple(form for f in self.features for form in f.forms)
        self.steps = tuple(s for f in self.features for s in f.steps)
        self.planners = tuple(p for f in self.features for p in f.planners)
        self.moments = tuple(m for f in self.features for m in f.moments)
        self._commands = _unique(
            "command",
            ((words, c) for c in self.commands for words in {c.words, c.sv} if words),
        )
        self.titles = {c.words: f.title for f in self.features for c in f.commands}
        self._buttons = _unique("button", ((b.kind, b) for b in self.buttons))
        self._forms = _unique("form", ((form.kind, form) for form in self.forms))
        self._composers = _unique(
            "delivery kind", ((kind, c) for f in self.features for kind, c in f.deliveries.items())
        )
        self._labels = _unique(
            "delivery label",
            ((kind, label) for f in self.features for kind, label in f.labels.items()),
        )
        self._nudge_tasks = {s.kind: s.task for s in self.steps if s.task is not None}
        readers = [f for f in self.features if f.reads_text]
        self._reading_commands = {c.words for f in readers for c in f.commands}
        self._reading_buttons = {b.kind for f in readers for b in f.buttons}
        self._reading_forms = {form.kind for f in readers for form in f.forms}
        self._reading_deliveries = {kind for f in readers for kind in f.deliveries}
        # A nudge's step is set off by the entry that closes its task: that entry is its deadline.
        self._deadlines = {s.task: s.entry_kind for s in self.steps if s.task is not None}

    def find(self, text: str) -> tuple[Command | None, str]:
        """The command a line starts with (the longest match) and the rest of the line,
        as typed."""
        stripped = text.strip()
        head = stripped.split(maxsplit=2)
        for n in (2, 1):
            key = tuple(word.lower() for word in head[:n])
            if len(key) == n and key in self._commands:
                rest = stripped.split(maxsplit=n)[n:]
                return self._commands[key], rest[0] if rest else ""
        return None, stripped

    def command(self, words: tuple[str, ...]) -> Command:
        """The command of these (English or Swedish) words; a KeyError names a mistake in
        the code, not in what someone typed."""
        return self._commands[words]

    def button(self, action_id: str) -> ButtonKind | None:
        return self._buttons.get(action_id.split(":", 1)[0])

    def form(self, form_id: str) -> FormKind | None:
        return self._forms.get(form_id.split(":", 1)[0])

    def reads_text(self, event: Inbound) -> bool:
        """Whether handling the event may analyse Swedish text (Feature.reads_text): a post
        or an edit may go into the reflection bank."""
        match event:
            case CommandReceived():
                command, _ = self.find(event.text)
                return command is not None and command.words in self._reading_commands
            case ChoiceMade():
                return event.action_id.split(":", 1)[0] in self._reading_buttons
            case FormSubmitted():
                return event.form_id.split(":", 1)[0] in self._reading_forms
            case ThreadPost() | PostEdited() | MessageSaved():
                return True
        return False

    def composer(self, kind: str) -> Compose | None:
        return self._composers.get(kind)

    def composing_reads_text(self, kind: str) -> bool:
        """Whether composing a delivery of this kind may analyse Swedish text (a digest)."""
        return kind in self._reading_deliveries

    def label(self, kind: str) -> str | None:
        """What facilitators call a delivery kind's messages (untranslated)."""
        return self._labels.get(kind)

    def nudge_task(self, kind: str) -> Task | None:
        return self._nudge_tasks.get(kind)

    # The calendar, read with every feature's steps.

    def due_steps(self, entries: list[CalendarEntry], now: datetime) -> list[DueStep]:
        return due_steps(self.steps, entries, now)

    def future_steps(self, entries: list[CalendarEntry], now: datetime) -> list[DueStep]:
        return future_steps(self.steps, entries, now)

    def step_of(self, entries: list[CalendarEntry], kind: str, entry_key: str) -> DueStep | None:
        return step_of(self.steps, entries, kind, entry_key)

    def deadline(self, entries: list[CalendarEntry], task: Task, theme: int) -> datetime | None:
        return deadline(self._deadlines[task], entries, theme)


def _unique(what: str, pairs: Iterable[tuple[K, V]]) -> dict[K, V]:
    found: dict[K, V] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"two features declare the {what} {key!r}")
        found[key] = value
    return found
