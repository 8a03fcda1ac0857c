"""Figures about groups that cannot be traced to a person (k-anonymity): the one rule.

Every figure about a group that leaves the database stands for at least K people.

- The groups are the cohort's participants by organisation, the same in every figure
  (report, CSV and charts, the home page, quiz, survey and self-assessment results):
  an organisation of at least K participants by its name, the smaller ones merged into
  one "other" group; if that group is itself smaller than K, the smallest shown
  organisations join it until it is not, so that no small group can be worked out by
  subtracting the shown ones from the total. One grouping everywhere, because two
  groupings of the same people would let one subtract a small group out of them.
- A cohort of fewer than K participants shows no figures at all.
- A figure over some of a group (a mean score of those who finished, the mean rating of
  those who answered) stands for those people: it is shown only when they are at least
  K. And if it cannot be shown for one group, it is shown for none, only for everyone
  together (when they are at least K): a total beside all groups but one gives that one
  away. `per_group` decides that, `shown` the rest.
- Facilitators' and support people's own answers are never in these figures: the groups
  are participants only.

Where a facilitator needs names (whom a nudge goes to, who sits in a lab), the reply is a
list of people they may see, not a figure, and this rule does not apply to it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from handlers.core.i18n import N_, Translator
from handlers.core.programme_file import localise
from storage.models import Cohort, Role

if TYPE_CHECKING:
    from storage.unit import Repositories

K = 5
OTHER = N_("Other organisations")
EVERYONE = N_("All organisations")


def labels(sizes: Mapping[str, int], *, other: str, everyone: str, k: int = K) -> dict[str, str]:
    """Each organisation's label, given how many people stand behind it: its own name,
    `other`, or `everyone` when none stands alone. Empty when fewer than `k` in all."""
    if sum(sizes.values()) < k:
        return {}
    merged = {name for name, size in sizes.items() if size < k}
    shown = sorted((name for name in sizes if name not in merged), key=lambda n: (sizes[n], n))
    while 0 < sum(sizes[name] for name in merged) < k:
        merged.add(shown.pop(0))
    if not shown:
        return dict.fromkeys(sizes, everyone)
    return {name: other if name in merged else name for name in sizes}


def grouped(
    organisation_of: Mapping[int, str], *, other: str, everyone: str, k: int = K
) -> dict[int, str]:
    """Each person's group label (see `labels`); empty when fewer than `k` people."""
    found = labels(Counter(organisation_of.values()), other=other, everyone=everyone, k=k)
    return {person: found[name] for person, name in organisation_of.items()} if found else {}


def groups_in_order(found: Mapping[int, str] | Mapping[str, str], other: str) -> list[str]:
    """The groups by name, with `other` last."""
    return sorted(set(found.values()), key=lambda label: (label == other, label))


def named_labels(t: Translator, sizes: Mapping[str, int]) -> dict[str, str]:
    """`labels`, in the reader's language."""
    return labels(sizes, other=t(OTHER), everyone=t(EVERYONE))


def named_groups(t: Translator, organisation_of: Mapping[int, str]) -> dict[int, str]:
    """`grouped`, in the reader's language."""
    return grouped(organisation_of, other=t(OTHER), everyone=t(EVERYONE))


def in_order(t: Translator, found: Mapping[int, str] | Mapping[str, str]) -> list[str]:
    """The groups by name, "Other organisations" last."""
    return groups_in_order(found, t(OTHER))


def too_small(t: Translator, participants: int) -> str:
    return t.plural(
        "The cohort has {n} participant. Figures are shown from {k} participants on, "
        "so that none can be traced to a person.",
        "The cohort has {n} participants. Figures are shown from {k} participants on, "
        "so that none can be traced to a person.",
        participants,
        k=K,
    )


def too_few(t: Translator, respondents: int) -> str:
    return t.plural(
        "{n} has answered. Figures are shown from {k} answers on, so that no answer can be "
        "traced to a person.",
        "{n} have answered. Figures are shown from {k} answers on, so that no answer can be "
        "traced to a person.",
        respondents,
        k=K,
    )


def shown(base: int, k: int = K) -> bool:
    """Whether a figure over `base` people may be shown."""
    return base >= k


def per_group(bases: Mapping[str, int], groups: list[str], k: int = K) -> bool:
    """Whether a figure over some of each group (base: how many of the group it is over)
    may be shown per group: only when it can be for every group, else for none."""
    return bool(groups) and all(bases.get(group, 0) >= k for group in groups)


@dataclass(frozen=True)
class Groups:
    """A cohort's participants in the groups every figure about them uses."""

    label_of: dict[int, str]  # participant → group; empty when fewer than K in all
    organisation_of: dict[int, int]  # participant → their real organisation's id
    order: list[str]  # the groups by name, "Other organisations" last

    def size(self, group: str) -> int:
        return sum(1 for label in self.label_of.values() if label == group)

    def bases(self, people: Iterable[int]) -> dict[str, int]:
        """How many of `people` are in each group (people outside every group left out)."""
        found: Counter[str] = Counter()
        for person in people:
            if person in self.label_of:
                found[self.label_of[person]] += 1
        return dict(found)

    def across(self, author: int, answered: int | None) -> bool:
        """A reply between two real organisations, whatever groups they are merged into."""
        return (
            answered is not None
            and answered in self.organisation_of
            and author in self.organisation_of
            and self.organisation_of[answered] != self.organisation_of[author]
        )


async def groups(repos: Repositories, cohort: Cohort, t: Translator) -> Groups:
    """The cohort's groups, in the reader's language."""
    members = await repos.people.members(cohort.id, Role.participant)
    label_of = named_groups(
        t, {m.person.id: localise(m.organisation.name, t.language) for m in members}
    )
    organisation_of = {m.person.id: m.organisation.id for m in members}
    return Groups(label_of, organisation_of, in_order(t, label_of))
