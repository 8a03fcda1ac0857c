"""The role matrix: who may run each command, press each kind of button and send each form.

Every command, kind of button (by the first part of its id: `quiz:…`, `survey:…`) and kind
of form carries its level where its feature declares it (handlers/core/registry.py). `Digilog`
checks the level before it hands an event to a feature, so no adapter (Slack, Teams, the
console) can reach a feature past it. The features keep their own finer checks: that a
button belongs to this cohort, that a quiz is open, that only the person named may press
"Erase everything".

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

from handlers.core.context import Context, Refusal
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
    AdminAct(
        ("attendance", "export"),
        "any cohort's attendance list",
        (("attendance", "export"), _THEIR_COHORTS),
    ),
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

Generated by `docs/role_matrix.py` from `handlers/core/access.py` and the features' declarations;
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


def matrix_markdown(
    commands: Iterable[tuple[str, Access, str]],
    buttons: Iterable[tuple[str, Access, str, str]],
    forms: Iterable[tuple[str, Access, str, str]],
) -> str:
    """The matrix as Markdown: commands (as labelled, level, note), buttons and forms (kind, level,
    what, what else is checked), and the administrator's acts."""
    lines = [LEGEND]
    lines += _table("Commands", commands)
    lines += _table("Buttons", ((f"`{k}:…` {what}", a, finer) for k, a, what, finer in buttons))
    lines += _table("Forms", ((f"`{k}:…` {what}", a, finer) for k, a, what, finer in forms))
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
