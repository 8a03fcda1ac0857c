"""The console adapter: lines in, neutral events to the handlers, terminal text out.

Acts as any enrolled (or unknown) person with `as`, and stands in for the parts of a
chat platform that a terminal lacks: `post` and `reply` are messages in a theme's
thread, and a number picks one of the choices last shown to the person acting: those
in the channel, their own, or those of a group conversation they are in.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shlex
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from bot.console.render import render
from handlers.core.deliveries import reason_words
from handlers.core.formats import when_text
from handlers.core.i18n import N_, Translator, translator
from handlers.core.vocabulary import (
    Actor,
    ChoiceMade,
    CommandReceived,
    Conversation,
    Delivered,
    Field,
    FileMessage,
    Form,
    FormSubmitted,
    HomeOpened,
    Inbound,
    Option,
    Outgoing,
    SelectField,
    ThreadPost,
    ToActor,
    ToConversation,
    ToGroup,
    ToHome,
    ToPerson,
)
from handlers.digilog import Digilog
from schedules.clock import Clock, SystemClock
from schedules.rehearsal import Rehearsal
from storage.models import Cohort, Delivery
from storage.unit import Store

PLATFORM, WORKSPACE = "console", "local"

CONSOLE_HELP = (
    (N_("as <user-id> [name]"), N_("Act as someone else (anyone, to try joining).")),
    (N_("who"), N_("List the cohort's people and their user ids.")),
    (N_("post [--theme N] <text>"), N_("Post in a theme's digilog (its thread).")),
    (N_("reply <p1> <text>"), N_("Reply to a digilog post shown as [p1].")),
    (N_("<number>"), N_("Pick one of the choices last shown.")),
    (N_("home"), N_("Your page: where you are, or how the cohort is doing.")),
    (
        N_("clock [+2d | +3h | YYYY-MM-DD HH:MM]"),
        N_("Show the time, or move it in a rehearsal (--at/--speed) and run what fell due."),
    ),
    (N_("quit"), N_("Leave the console.")),
)
# The console's own words as a Swede writes them (its help shows them so); the English
# ones work in every language. None is one of Digilog's command words.
SWEDISH_CONSOLE_WORDS = {
    "som": "as",
    "vilka": "who",
    "inlägg": "post",
    "svara": "reply",
    "hem": "home",
    "klocka": "clock",
    "avsluta": "quit",
}


@dataclass
class Console:
    digilog: Digilog
    store: Store
    cohort: Cohort
    user_id: str
    out: TextIO = field(default_factory=lambda: sys.stdout)
    color: bool = False
    echo: bool = True
    display_names: dict[str, str] = field(default_factory=dict)
    # The choices of the latest line whose answer showed any, by who may pick them (None:
    # anyone, in the channel). A private message's buttons are not another person's to press.
    _choices: dict[str | None, list[Option]] = field(default_factory=dict)
    _choices_line: int = 0  # the line those choices were shown after
    _lines: int = 0
    _posts: dict[str, tuple[str, str]] = field(default_factory=dict)  # p1 → (message, thread)
    _form: FormInProgress | None = None
    clock: Clock = field(default_factory=SystemClock)
    rehearsal: Rehearsal | None = None  # the calendar on a rehearsal's clock

    @property
    def conversation(self) -> Conversation:
        return Conversation(PLATFORM, WORKSPACE, self.cohort.conversation_id)

    @property
    def t(self) -> Translator:
        return translator(self.cohort.language)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.cohort.timezone)

    @property
    def actor(self) -> Actor:
        return Actor(PLATFORM, WORKSPACE, self.user_id, self.display_names.get(self.user_id))

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    async def load_names(self) -> None:
        async with self.store.transaction() as repos:
            for member in await repos.people.members(self.cohort.id):
                if member.person.user_id:
                    self.display_names[member.person.user_id] = member.person.display_name

    async def run(self, read_line: Callable[[str], str]) -> None:
        await self.load_names()
        await self.run_due()
        while True:
            try:
                line = await asyncio.to_thread(read_line, f"{self.user_id}> ")
            except EOFError:
                return
            if self.echo:
                self.print(f"{self.user_id}> {line}")
            if not await self.line(line):
                return
            await self.run_due()

    async def run_due(self) -> None:
        """In a rehearsal whose clock stands still, what a line made due goes out before the
        next line is read (nothing runs in the background, so nothing comes late)."""
        if self.rehearsal is not None and self.rehearsal.clock.frozen:
            self.tell_skipped(await self.rehearsal.after_line())

    def tell_skipped(self, skipped: list[Delivery]) -> None:
        for delivery in skipped:
            self.print(
                "  "
                + self.t(
                    "(not sent: {kind}, due {when}; {reason})",
                    kind=self.kind_words(delivery.kind),
                    when=when_text(delivery.due_at, None, self.zone, self.t.language),
                    reason=reason_words(self.t, delivery.reason or ""),
                )
            )

    def kind_words(self, kind: str) -> str:
        """What facilitators call a kind's messages, as the schedule does, not its key."""
        label = self.digilog.features.label(kind)
        return self.t(label) if label else self.t("Other messages")

    async def line(self, line: str) -> bool:
        """Handle one line; False when the person wants to leave."""
        line = line.strip()
        self._lines += 1
        if self._form is not None:
            await self.answer_form(line)
            return True
        if not line or line.startswith("#"):
            return True
        word, _, rest = line.partition(" ")
        word = word.lower()
        word = SWEDISH_CONSOLE_WORDS.get(word, word)
        if word in ("quit", "exit"):
            return False
        if word.isdigit():
            await self.pick(int(word))
        elif word == "as":
            await self.switch(rest)
        elif word == "who":
            await self.who()
        elif word == "post":
            await self.post(rest)
        elif word == "reply":
            await self.reply(rest)
        elif word == "home":
            await self.send(HomeOpened(self.actor, self.conversation))
        elif word == "clock":
            await self.move_clock(rest.strip())
        else:
            await self.send(CommandReceived(self.actor, self.conversation, line))
            if word in ("help", "hjälp") and not rest.strip():
                t = self.t
                self.print("\n".join(f"  {t(usage):<28} {t(text)}" for usage, text in CONSOLE_HELP))
        return True

    async def send(self, event: Inbound) -> None:
        for outgoing in await self.digilog.handle(event):
            await self.deliver(outgoing)

    async def deliver(self, outgoing: Outgoing) -> None:
        message_id = self.show(outgoing)
        if outgoing.receipt is not None and message_id is not None:
            await self.digilog.delivered(Delivered(outgoing.receipt, self.conversation, message_id))

    def show(self, outgoing: Outgoing, when: str | None = None) -> str | None:
        """Print it; the message id it gets, as a platform would give one (not forms, files)."""
        if isinstance(outgoing.message, Form):
            self._form = FormInProgress(outgoing.message)
            self.print(f"[{outgoing.message.title}]")
            if outgoing.message.intro:
                self.print(f"  {outgoing.message.intro}")
            self.prompt_field()
            return None
        if isinstance(outgoing.message, FileMessage):
            self.save_file(outgoing.message)
            return None
        text, options = render(outgoing.message, color=self.color)
        match outgoing.to:
            case ToHome():
                header = self.t("[Your page with Digilog]")
            case ToActor():
                header = self.t(
                    "[Digilog → {name}, only you]", name=self.actor.display_name or self.user_id
                )
            case ToConversation(conversation=conversation):
                header = self.t("[Digilog in #{channel}]", channel=conversation.conversation_id)
            case ToPerson(user_id=user_id):
                header = self.t(
                    "[Digilog → {name}, direct message]",
                    name=self.display_names.get(user_id, user_id),
                )
            case ToGroup(user_ids=user_ids):
                header = self.t(
                    "[Digilog → {names}, a group conversation]",
                    names=", ".join(self.display_names.get(u, u) for u in user_ids),
                )
        if when is not None:
            header = f"{when} {header}"
        self.print(f"{header}\n{text}")
        if options:
            self.offer(outgoing, options)
        return f"console-{uuid.uuid4().hex}"

    def offer(self, outgoing: Outgoing, options: list[Option]) -> None:
        """Remember who may pick these choices; a line's first ones replace older ones."""
        if self._choices_line != self._lines:
            self._choices, self._choices_line = {}, self._lines
        match outgoing.to:
            case ToConversation():
                self._choices = {None: options}  # shown to everyone, so everyone's latest
            case ToPerson(user_id=user_id):
                self._choices[user_id] = options
            case ToGroup(user_ids=user_ids):
                self._choices.update(dict.fromkeys(user_ids, options))
            case _:  # ToActor, ToHome: the person acting
                self._choices[self.user_id] = options

    def save_file(self, file: FileMessage) -> None:
        """A terminal has no file transfer: the file lands in the working directory."""
        path = Path(file.filename)
        counter = 1
        while path.exists():
            counter += 1
            path = Path(f"{Path(file.filename).stem}-{counter}{Path(file.filename).suffix}")
        path.write_bytes(file.content)
        self.print(
            self.t(
                "[file {path}, {size} bytes] {comment}",
                path=path,
                size=len(file.content),
                comment=file.comment,
            )
        )

    def prompt_field(self) -> None:
        assert self._form is not None
        current = self._form.current
        if isinstance(current, SelectField):
            for i, (_, label) in enumerate(current.options, start=1):
                self.print(f"  [{i}] {label}")
        self.print("  " + self.t("{label} (empty: keep, `cancel`: stop):", label=current.label))

    async def answer_form(self, line: str) -> None:
        """One line answers one field; the last one sends the form."""
        assert self._form is not None
        if line.lower() in ("cancel", "avbryt"):  # the prompt names the reader's word
            self._form = None
            self.print("  " + self.t("(cancelled)"))
            return
        if not self._form.answer(line):
            self.print("  " + self.t("(not one of the choices)"))
        if not self._form.done:
            self.prompt_field()
            return
        form, self._form = self._form, None
        await self.send(
            FormSubmitted(self.actor, self.conversation, form.form.form_id, form.values)
        )

    async def move_clock(self, to: str) -> None:
        """`clock`, `clock +2d`, `clock 2027-02-24 09:00`: rehearse a calendar."""
        if to:
            if self.rehearsal is None:
                self.print(
                    "  "
                    + self.t("(the clock moves only in a rehearsal: start with --at or --speed)")
                )
                return
            target = parse_moment(to, self.clock.now(), self.zone)
            if target is None:
                self.print("  " + self.t("(clock +2d, clock +3h, or clock 2027-02-24 09:00)"))
                return
            if target < self.clock.now():
                self.print("  " + self.t("(a rehearsal's clock moves forward only)"))
                return
            # Every moment on the way that something falls due, in turn, at its own time.
            self.tell_skipped(await self.rehearsal.advance(target))
        now = self.clock.now().astimezone(self.zone)
        when = when_text(now, None, self.zone, self.t.language, year=True) + f" {now:%Z}"
        self.print("  " + self.t("(it is {when})", when=when))

    async def pick(self, number: int) -> None:
        options = self._choices.get(self.user_id, self._choices.get(None, []))
        if not 1 <= number <= len(options):
            self.print("  " + self.t("(no choice {number} is shown)", number=number))
            return
        await self.send(ChoiceMade(self.actor, self.conversation, options[number - 1].action_id))

    async def switch(self, rest: str) -> None:
        parts = shlex.split(rest) if rest else []
        if not parts:
            self.print("  " + self.t("(as <user-id> [name])"))
            return
        self.user_id = parts[0]
        if len(parts) > 1:
            self.display_names[self.user_id] = " ".join(parts[1:])
        name = self.display_names.get(self.user_id)
        if name:
            self.print("  " + self.t("(you are now {name})", name=name))
        else:
            self.print("  " + self.t("(you are now {name}, not enrolled)", name=self.user_id))

    async def who(self) -> None:
        async with self.store.transaction() as repos:
            members = await repos.people.members(self.cohort.id)
        t = self.t
        for member in members:
            self.print(
                f"  {member.person.user_id or member.person.email:<12} "
                f"{member.person.display_name} · {t(member.membership.role.value)}"
            )

    async def _threads(self) -> dict[int, str]:
        async with self.store.transaction() as repos:
            runs = await repos.themes.started(self.cohort.id)
        return {r.theme_number: r.post_message_id for r in runs if r.post_message_id}

    async def post(self, rest: str, reply_to: str | None = None, thread: str | None = None) -> None:
        text = rest
        if thread is None:
            threads = await self._threads()
            theme = None
            if rest.startswith(("--theme", "--tema")):
                _, value, text = [*rest.split(maxsplit=2), "", ""][:3]
                theme = int(value) if value.isdigit() else -1
            if not threads:
                self.print(
                    "  " + self.t("(no theme has started, so there is no digilog to post in)")
                )
                return
            if theme is not None and theme not in threads:
                self.print("  " + self.t("(theme {number} has no digilog yet)", number=theme))
                return
            thread = threads[theme if theme is not None else max(threads)]
        message_id = f"console-{uuid.uuid4().hex}"
        ref = f"p{len(self._posts) + 1}"
        self._posts[ref] = (message_id, thread)
        self.print(f"[{ref}] {self.actor.display_name or self.user_id}: {text}")
        await self.send(
            ThreadPost(self.actor, self.conversation.thread(thread), message_id, text, reply_to)
        )

    async def reply(self, rest: str) -> None:
        ref, _, text = rest.partition(" ")
        if ref not in self._posts:
            self.print("  " + self.t("(no post {ref}; posts are shown as [p1], [p2] …)", ref=ref))
            return
        message_id, thread = self._posts[ref]
        await self.post(text, reply_to=message_id, thread=thread)


@dataclass
class FormInProgress:
    """A form being filled in line by line."""

    form: Form
    values: dict[str, str] = field(default_factory=dict)

    @property
    def current(self) -> Field:
        return self.form.fields[len(self.values)]

    @property
    def done(self) -> bool:
        return len(self.values) == len(self.form.fields)

    def answer(self, line: str) -> bool:
        current = self.current
        if isinstance(current, SelectField):
            if not line:
                self.values[current.field_id] = current.initial or ""
                return True
            choices = {value: value for value, _ in current.options}
            choices |= {str(i): value for i, (value, _) in enumerate(current.options, start=1)}
            if line not in choices:
                return False
            self.values[current.field_id] = choices[line]
            return True
        self.values[current.field_id] = line or current.initial or ""
        return True


_RELATIVE = re.compile(r"^\+(\d+)([dhm])$")


def parse_moment(text: str, now: datetime, zone: ZoneInfo) -> datetime | None:
    """`+2d`, `+3h`, `+30m`, or a local `YYYY-MM-DD HH:MM`; None if it is neither."""
    if match := _RELATIVE.match(text):
        unit = {"d": "days", "h": "hours", "m": "minutes"}[match.group(2)]
        return now + timedelta(**{unit: int(match.group(1))})
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=zone)
    except ValueError:
        return None


def interactive_reader(stream: TextIO) -> Callable[[str], str]:
    if stream.isatty():
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401  (line editing and history for input())
        return input

    def read(_prompt: str) -> str:
        line = stream.readline()
        if not line:
            raise EOFError
        return line.rstrip("\n")

    return read
