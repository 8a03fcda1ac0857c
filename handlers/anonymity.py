"""Aggregates by organisation that cannot be traced to a person (k-anonymity).

An organisation's figures are shown only when at least K people stand behind them.
Smaller organisations are merged into one "other" group; if that group is itself
smaller than K, the smallest shown organisations join it until it is not, so that
no small group can be worked out by subtracting the shown ones from the total.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from handlers.i18n import N_, Translator

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


def too_few(t: Translator, respondents: int) -> str:
    return t.plural(
        "{n} has answered. Figures are shown from {k} answers on, so that no answer can be "
        "traced to a person.",
        "{n} have answered. Figures are shown from {k} answers on, so that no answer can be "
        "traced to a person.",
        respondents,
        k=K,
    )
