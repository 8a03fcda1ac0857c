"""The role matrix: who may run each command, press each kind of button and send each form.

Commands carry their level in handlers/commands.py; buttons and forms carry theirs here, by
the first part of their id (`quiz:…`, `survey:…`). `Digilog` checks the level before it
hands an event to a feature, so no adapter (Slack, Teams, the console) can reach a feature
past it. The features keep their own finer checks: that a button belongs to this cohort,
that a quiz is open, that only the person named may press "Erase everything".

Who someone is, is read from their account in the workspace or tenant they act from
(platform, workspace, user id) and the cohort of the conversation. User ids are unique only
within a workspace, so someone from another workspace is never the member with the same id.

The administrator is not in chat at all: what they do is the `digilog` command on the server
(ADMINISTRATOR_ACTS), run by whoever holds the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum, IntEnum

from handlers.context import Context, Refusal
from storage.models import Role


class Access(IntEnum):
    """Who may use a command, button or form. A larger level admits fewer people, but
    `participant` and `facilitator` do not include each other: ALLOWED says whom each admits."""

    anyone = 0  # everyone, even someone Digilog does not know
    enrolled = 1  # someone Digilog knows, in any cohort: their own settings follow them
    member = 2  # anyone in this cohort: participant, support function or facilitator
    participant = 3  # the cohort's participants: others' answers would skew the surveys
    facilitator = 4  # the cohort's facilitators


class Standing(Enum):
    """Who someone is where they act, as far as Digilog can tell."""

    unknown = "unknown"  # no account in this workspace: a stranger, or from another workspace
    known = "known"  # an account, but not in this conversation's cohort
    participant = "participant"
    support = "support"
    facilitator = "facilitator"


_MEMBERS = frozenset({Standing.participant, Standing.support, Standing.facilitator})
ALLOWED: dict[Access, frozenset[Standing]] = {
    Access.anyone: frozenset(Standing),
    Access.enrolled: _MEMBERS | {Standing.known},
    Access.member: _MEMBERS,
    Access.participant: frozenset({Standing.participant}),
    Access.facilitator: frozenset({Standing.facilitator}),
}
_BY_ROLE = {
    Role.participant: Standing.participant,
    Role.support: Standing.support,
    Role.facilitator: Standing.facilitator,
}


def standing_of(context: Context) -> Standing:
    if context.member is not None:
        return _BY_ROLE[context.member.membership.role]
    return Standing.unknown if context.person is None else Standing.known


def allows(access: Access, standing: Standing) -> bool:
    return standing in ALLOWED[access]


def require(context: Context, access: Access) -> None:
    """Refuse, saying what is missing, unless the person's standing admits them."""
    if allows(access, standing_of(context)):
        return
    if access is Access.enrolled:
        raise Refusal(context.t("Join a cohort first; then your settings can be saved."))
    context.require_member()  # no cohort here, or not in it
    if access is Access.participant:
        raise Refusal(context.t("Surveys and self-assessments are for participants."))
    context.require_facilitator()


# ---------------------------------------------------------------- buttons and forms


@dataclass(frozen=True)
class Act:
    """A kind of button or form: the first part of its id, who may use it, and (for the
    matrix) what it does and what its handler checks beyond the role. In English: the
    matrix is documentation, not a message to anyone."""

    kind: str
    access: Access
    what: str
    finer: str = ""


BUTTONS: tuple[Act, ...] = (
    Act("quiz", Access.member, "a quiz's Begin and answer buttons", "this cohort's quiz, open"),
    Act("met", Access.member, "“We met”", "only the buddies of that group"),
    Act("meeting", Access.member, "open the needs inventory or plan for change", "this cohort's"),
    Act("lab", Access.member, "sign up, cancel, calendar file", "this cohort's lab"),
    Act("reflect", Access.member, "“Write a reflection” under a theme post", "this cohort's"),
    Act("survey", Access.participant, "“Answer” a survey", "this cohort's, open"),
    Act("nudge", Access.facilitator, "send a previewed nudge", "this cohort's; sent once"),
    Act("pair", Access.facilitator, "announce previewed learning buddies", "this cohort's; once"),
    Act("join", Access.anyone, "join as someone of an organisation", "this cohort's channel"),
    Act("forget", Access.anyone, "erase one's data (after `forget`)", "only the person named"),
)
FORMS: tuple[Act, ...] = (
    Act("reflect", Access.member, "a reflection", "this cohort's"),
    Act("meeting", Access.member, "a needs inventory or plan for change", "this cohort's"),
    Act("survey", Access.participant, "survey or self-assessment answers", "this cohort's, open"),
)
_BUTTONS = {act.kind: act for act in BUTTONS}
_FORMS = {act.kind: act for act in FORMS}


def button(action_id: str) -> Act | None:
    """The kind of button an action id is (`quiz:3-1:begin` is a quiz's), or None."""
    return _BUTTONS.get(action_id.split(":", 1)[0])


def form(form_id: str) -> Act | None:
    return _FORMS.get(form_id.split(":", 1)[0])


# ---------------------------------------------------------------- the administrator


@dataclass(frozen=True)
class AdminAct:
    """A `digilog` subcommand: for whoever runs the server, never reachable from a chat.
    `in_chat` names the chat command that does the like on a smaller scale, and for whom."""

    words: tuple[str, ...]
    what: str
    in_chat: tuple[tuple[str, ...], str] | None = None


_THEIR_COHORTS = "a facilitator, their cohort's"
_ONESELF = "anyone, about themselves"
ADMINISTRATOR_ACTS: tuple[AdminAct, ...] = (
    AdminAct(("db", "upgrade"), "create or update the database schema"),
    AdminAct(("db", "backup"), "copy the SQLite database"),
    AdminAct(("program", "validate"), "check a programme file"),
    AdminAct(("program", "load"), "load a programme file"),
    AdminAct(("cohort", "create"), "create a cohort, self-enrolment on or off"),
    AdminAct(("cohort", "channel"), "give a cohort a channel on another platform"),
    AdminAct(
        ("cohort", "enrol"),
        "enrol anyone in any cohort, in any role",
        (("enrol",), "a facilitator, in their cohort"),
    ),
    AdminAct(("cohort", "import"), "import a roster"),
    AdminAct(("schedule", "load"), "load a cohort's calendar"),
    AdminAct(
        ("schedule", "show"), "any cohort's calendar", (("schedule",), "a member, their cohort's")
    ),
    AdminAct(("bank", "export"), "any cohort's reflection bank", (("export",), _THEIR_COHORTS)),
    AdminAct(("report",), "any cohort's report", (("report",), _THEIR_COHORTS)),
    AdminAct(("person", "export"), "everything stored about anyone", (("mydata",), _ONESELF)),
    AdminAct(("person", "erase"), "erase anyone", (("forget",), _ONESELF)),
    AdminAct(("retention", "show"), "how long each cohort's personal data is kept"),
    AdminAct(("retention", "set"), "a cohort's end and how long its data is kept"),
    AdminAct(("retention", "run"), "delete the personal data that is due"),
    AdminAct(("audit",), "the audit log"),
    AdminAct(
        ("failures",),
        "actions that did not go through, with the reason",
        (("failures",), _THEIR_COHORTS),
    ),
    AdminAct(("secrets", "new-key"), "a key to encrypt stored Slack tokens"),
    AdminAct(("secrets", "rotate"), "encrypt stored Slack tokens with the newest key"),
    AdminAct(("teams", "package"), "the Teams app package"),
    AdminAct(("console",), "the terminal console, acting as anyone (`as USER`)"),
    AdminAct(("serve",), "serve Slack and Teams"),
    AdminAct(("worker",), "send scheduled posts and nudges"),
)


# ---------------------------------------------------------------- the matrix as a table

# The matrix's columns: the people the issue names, and the standing each has in a cohort.
PRINCIPALS: tuple[tuple[str, Standing], ...] = (
    ("participant", Standing.participant),
    ("support function", Standing.support),
    ("facilitator", Standing.facilitator),
    ("facilitator of another cohort", Standing.known),
    ("unknown user", Standing.unknown),
    ("user of another workspace or tenant", Standing.unknown),
)

LEGEND = """\
# Who may do what in Digilog

Generated by `docs/role_matrix.py` from `handlers/access.py` and `handlers/commands.py`;
`tests/test_role_matrix.py` walks it through the console, Slack and Teams.

- **participant**, **support function**, **facilitator**: enrolled in the cohort whose
  channel it is (in a direct message: the cohort named with `--in KEY`, or one's only cohort).
- **facilitator of another cohort**: enrolled in the same workspace, not in this cohort.
  They may change their own settings, and nothing of this cohort.
- **unknown user**: nobody Digilog knows in this workspace.
- **user of another workspace or tenant**: Slack and Teams user ids are unique only within
  a workspace or tenant, so such a user is never taken for the member with the same id.
- **administrator**: whoever runs the `digilog` command on the server. There is no
  administrator in chat (n/a): there they are whoever their account is. The acts in the
  last table have no chat command, and the only role change in chat is
  `enrol USER ORG --facilitator|--support`, which only a facilitator of the cohort may run.

✓ may; — may not. "Also checked" is what the feature checks beyond the role.

Not in the tables: a reply in a theme post's thread (a digilog post), its edit or deletion,
and "Save to reflection bank" are for members of the cohort; the feature that takes them
checks it, as a message in any other thread is none of Digilog's business. The home page
is anyone's, and tells someone who is in no cohort how to join.
"""


def _row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _table(heading: str, rows: Iterable[tuple[str, Access, str]]) -> list[str]:
    names = [name for name, _ in PRINCIPALS]
    lines = [
        f"## {heading}",
        "",
        _row(["", *names, "administrator", "also checked"]),
        _row(["---"] * (len(names) + 3)),
    ]
    for label, access, finer in rows:
        marks = ["✓" if allows(access, standing) else "—" for _, standing in PRINCIPALS]
        lines.append(_row([label, *marks, "n/a", finer]))
    return [*lines, ""]


def matrix_markdown(commands: Iterable[tuple[str, Access, str]]) -> str:
    """The matrix as Markdown: commands (usage, level, note), buttons, forms, and the
    administrator's acts."""
    lines = [LEGEND]
    lines += _table("Commands", ((f"`{usage}`", access, note) for usage, access, note in commands))
    lines += _table("Buttons", ((f"`{a.kind}:…` {a.what}", a.access, a.finer) for a in BUTTONS))
    lines += _table("Forms", ((f"`{a.kind}:…` {a.what}", a.access, a.finer) for a in FORMS))
    names = [name for name, _ in PRINCIPALS]
    lines += [
        "## The administrator's acts: the `digilog` command only",
        "",
        _row(["", *names, "administrator", "in chat instead"]),
        _row(["---"] * (len(names) + 3)),
    ]
    for act in ADMINISTRATOR_ACTS:
        instead = f"`{' '.join(act.in_chat[0])}`: {act.in_chat[1]}" if act.in_chat else "none"
        label = f"`digilog {' '.join(act.words)}` {act.what}"
        lines.append(_row([label, *["—"] * len(names), "✓", instead]))
    return "\n".join(lines) + "\n"
