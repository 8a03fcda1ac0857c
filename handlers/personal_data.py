"""A person's rights: their data as a file (`mydata`), and being forgotten (`forget`).

The same for an administrator at the terminal: `digilog person export` and
`digilog person erase` call the functions at the end of this module.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

from handlers.core import csv_cells
from handlers.core.access import Access
from handlers.core.channels import relay
from handlers.core.context import Args, Context, Refusal, programme_of
from handlers.core.i18n import N_, Said, Translator, translator
from handlers.core.registry import ButtonKind, Command, Feature
from handlers.core.vocabulary import (
    Actor,
    Conversation,
    FileMessage,
    Message,
    MessageBuilder,
    Option,
    Outgoing,
    ToActor,
    ToPerson,
)
from handlers.labs import _seat_freed, not_begun_sessions, sessions_by_key
from storage.models import Cohort, Person, utcnow
from storage.personal_data import Erased, Row
from storage.unit import Repositories, Store

PREFIX = "forget"
ALL, KEEP = "all", "keep"
ANONYMOUS = N_("Anonymous participant")
# What the preview counts, in this order: the table and how the person reads it.
COUNTED = (
    ("memberships", N_("Cohorts")),
    ("reflections", N_("Reflections you wrote")),
    ("quiz_answers", N_("Quiz answers")),
    ("survey_answers", N_("Survey and self-assessment answers")),
    ("lab_signups", N_("Lab sign-ups")),
    ("buddy_groups", N_("Learning-buddy groups")),
    ("deliveries", N_("Messages and nudges sent")),
)


# ---------------------------------------------------------------- the file


def zip_of(data: dict[str, list[Row]], t: Translator) -> bytes:
    """data.json with everything, and a CSV per table, for Excel in the reader's language
    (the JSON keeps its keys: it is for programs)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", json.dumps(data, ensure_ascii=False, indent=2))
        for name, rows in data.items():
            columns: list[str] = []
            for row in rows:
                columns += [k for k in row if k not in columns]
            cells = ([_cell(row.get(c)) for c in columns] for row in rows)
            archive.writestr(f"{name}.csv", csv_cells.table(t, columns, cells))
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return value


async def collect(repos: Repositories, person: Person) -> dict[str, list[Row]]:
    data = await repos.personal_data.collect(person)
    return {"exported_at": [{"at": utcnow().isoformat()}], **data}


def filename_of(person: Person) -> str:
    return f"digilog-my-data-{person.id}.zip"


# ---------------------------------------------------------------- participant commands


async def mydata(context: Context, args: Args) -> list[Outgoing]:
    """mydata: everything Digilog stores about you, as a file only you get."""
    t = context.t
    person = context.person
    if person is None:
        return [context.reply(t("Digilog stores nothing about you."))]
    content = zip_of(await collect(context.repos, person), t)
    await context.repos.audit.record(
        "export_personal_data", actor_person_id=person.id, subject_person_id=person.id
    )
    return [
        Outgoing(
            ToActor(),
            FileMessage(
                filename=filename_of(person),
                content=content,
                title=t("Your data in Digilog"),
                comment=t(
                    "Everything Digilog stores about you: data.json has all of it, "
                    "and there is a CSV file per table."
                ),
            ),
        )
    ]


def _counts(t: Translator, data: dict[str, list[Row]]) -> list[tuple[str, str]]:
    return [(t(label), str(len(data.get(name, [])))) for name, label in COUNTED]


async def forget(context: Context, args: Args) -> list[Outgoing]:
    """forget: what would be erased, and the buttons that erase it."""
    t = context.t
    person = context.person
    if person is None:
        return [context.reply(t("Digilog stores nothing about you."))]
    data = await collect(context.repos, person)
    cohort_id = context.cohort.id if context.cohort is not None else 0
    action = f"{PREFIX}:{cohort_id}:{person.id}"
    message = (
        MessageBuilder()
        .heading(t("Erase your data"))
        .para(
            t(
                "This erases everything Digilog stores about you: your name, accounts and "
                "e-mail address, your cohorts, reflections, answers, lab seats, learning "
                "buddies and the messages sent to you. It cannot be undone."
            )
        )
        .facts(_counts(t, data))
        .para(
            t(
                "You can instead leave the reflections you shared in the cohort's bank, "
                "without your name: they then belong to an anonymous participant."
            )
        )
        .choices(
            [
                Option(f"{action}:{ALL}", t("Erase everything"), "danger"),
                Option(f"{action}:{KEEP}", t("Erase, but leave my reflections anonymously")),
            ]
        )
        .build()
    )
    return [context.reply(message)]


@dataclass(frozen=True)
class ForgetAction:
    cohort_id: int
    person_id: int
    keep_reflections: bool

    @classmethod
    def parse(cls, action_id: str) -> ForgetAction | None:
        """`forget:<cohort or 0>:<person>:all|keep` (the cohort only picks the context)."""
        parts = action_id.split(":")
        if (
            len(parts) != 4
            or parts[0] != PREFIX
            or not parts[1].isdigit()
            or not parts[2].isdigit()
            or parts[3] not in (ALL, KEEP)
        ):
            return None
        return cls(int(parts[1]), int(parts[2]), parts[3] == KEEP)


async def forget_choice(context: Context, action_id: str) -> list[Outgoing]:
    """A press of one of forget's buttons: only the person it names can press it."""
    t = context.t
    action = ForgetAction.parse(action_id)
    if action is None:
        raise Refusal(t("That button no longer does anything."))
    person = context.person
    if person is None or person.id != action.person_id:
        raise Refusal(t("Only the person who asked to be forgotten can press that button."))
    erased, notes = await erase(
        context.repos, person, keep_reflections=action.keep_reflections, context=context
    )
    text = t("Everything Digilog stored about you is erased.")
    if erased.kept:
        text += " " + t.plural(
            "{n} reflection stays in the cohort's bank, without your name.",
            "{n} reflections stay in the cohort's bank, without your name.",
            erased.kept,
        )
    return [context.reply(text), *(note for _, note in notes)]


async def erase(
    repos: Repositories,
    person: Person,
    *,
    keep_reflections: bool,
    context: Context | None = None,
) -> tuple[Erased, list[tuple[Cohort, Outgoing]]]:
    """Erase the person; and the messages to whoever got a lab seat they held."""
    cohorts: dict[int, Cohort] = {c.id: c for c in await repos.cohorts.all()}
    names = {cid: translator(c.language)(ANONYMOUS) for cid, c in cohorts.items()}
    erased_id = person.id
    now = context.now() if context is not None else utcnow()
    erased = await repos.personal_data.erase(
        person,
        keep_reflections=keep_reflections,
        anonymous_names=names,
        not_begun=await not_begun_sessions(repos, person.id, now),
    )
    # By number only: after this, the number names nobody.
    await repos.audit.record(
        "erasure",
        actor_person_id=erased_id if context is not None else None,
        subject_person_id=erased_id,
        detail={"keep_reflections": keep_reflections},
    )
    notes: list[tuple[Cohort, Outgoing]] = []
    for cohort_id, key, promoted in erased.promoted:
        cohort = cohorts.get(cohort_id)
        if cohort is None or promoted.user_id is None:
            continue
        chosen = sessions_by_key(await programme_of(repos, cohort.program_id)).get(key)
        if chosen is None:
            continue
        helper = context or _context_for(repos, cohort)
        notes.append((cohort, _seat_freed(cohort, chosen, promoted, helper)))
    return erased, notes


def _context_for(repos: Repositories, cohort: Cohort) -> Context:
    where = Conversation(cohort.platform, cohort.workspace, cohort.conversation_id)
    actor = Actor(cohort.platform, cohort.workspace, "")
    return Context(repos, actor, where, cohort=cohort, t=translator(cohort.language))


# ---------------------------------------------------------------- administrator


class PersonNotFound(Said, LookupError):
    """Nobody, or more than one, answers to what the administrator named."""


@dataclass(frozen=True)
class Who:
    """How an administrator names a person: an account, or an e-mail address."""

    user_id: str | None = None
    platform: str | None = None
    workspace: str | None = None
    email: str | None = None

    def describe(self) -> str:
        if self.email:
            return self.email
        return f"{self.platform}/{self.workspace}/{self.user_id}"


async def find_person(repos: Repositories, who: Who) -> Person:
    found = await repos.personal_data.find(
        user_id=who.user_id, platform=who.platform, workspace=who.workspace, email=who.email
    )
    if not found:
        raise PersonNotFound(N_("nobody is stored as {who}"), who=who.describe())
    if len(found) > 1:
        accounts = ", ".join(f"{p.platform}/{p.workspace}/{p.user_id or '-'}" for p in found)
        raise PersonNotFound(
            N_(
                "{who} is {n} people ({accounts}); name one with --user-id, --platform and "
                "--workspace"
            ),
            who=who.describe(),
            n=len(found),
            accounts=accounts,
        )
    return found[0]


async def export_person(store: Store, who: Who, t: Translator) -> tuple[Person, bytes]:
    """The person's data for the person: in their own language if they chose one, else
    in the administrator's (`t`)."""
    async with store.transaction() as repos:
        person = await find_person(repos, who)
        await repos.audit.record("export_personal_data", subject_person_id=person.id)
        data = await collect(repos, person)
        return person, zip_of(data, translator(person.language) if person.language else t)


async def preview_person(store: Store, who: Who) -> tuple[Person, list[tuple[str, str]]]:
    """The person and how much of each kind of data they have, in English."""
    async with store.transaction() as repos:
        person = await find_person(repos, who)
        data = await collect(repos, person)
        return person, _counts(translator("en"), data)


async def erase_person(store: Store, who: Who, *, keep_reflections: bool) -> Erased:
    """Erase the person; whoever got their lab seat is told through the outbox, as the
    terminal cannot write to them."""
    async with store.transaction() as repos:
        person = await find_person(repos, who)
        erased, notes = await erase(repos, person, keep_reflections=keep_reflections)
        for cohort, note in notes:
            if not isinstance(note.to, ToPerson) or not isinstance(note.message, Message):
                continue
            await relay(repos, cohort, note.to, note.message, now=utcnow())
        return erased


FEATURE = Feature(
    "personal_data",
    N_("Your data"),
    commands=(
        Command(
            ("mydata",),
            N_("mydata"),
            N_("Everything Digilog stores about you, as a file sent to you."),
            Access.anyone,
            mydata,
            note="one's own data",
            sv=("mina", "data"),
        ),
        Command(
            ("forget",),
            N_("forget"),
            N_("Erase everything Digilog stores about you (you confirm first)."),
            Access.anyone,
            forget,
            note="one's own data",
            sv=("glöm", "mig"),
        ),
    ),
    buttons=(
        ButtonKind(
            PREFIX,
            Access.anyone,
            "erase one's data (after `forget`)",
            forget_choice,
            "only the person named",
        ),
    ),
)
