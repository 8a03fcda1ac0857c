"""Aggregates by organisation that cannot be traced to a person (k-anonymity).

An organisation's figures are shown only when at least K people stand behind them.
Smaller organisations are merged into one "other" group; if that group is itself
smaller than K, the smallest shown organisations join it until it is not, so that
no small group can be worked out by subtracting the shown ones from the total.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

K = 5


def grouped(
    organisation_of: Mapping[int, str], *, other: str, everyone: str, k: int = K
) -> dict[int, str]:
    """Each person's group label: their organisation, `other`, or `everyone` when no
    organisation stands alone. Empty when fewer than `k` people take part at all."""
    if len(organisation_of) < k:
        return {}
    sizes = Counter(organisation_of.values())
    merged = {name for name, size in sizes.items() if size < k}
    shown = sorted((name for name in sizes if name not in merged), key=lambda n: (sizes[n], n))
    while 0 < sum(sizes[name] for name in merged) < k:
        merged.add(shown.pop(0))
    if not shown:
        return dict.fromkeys(organisation_of, everyone)
    return {person: other if name in merged else name for person, name in organisation_of.items()}


def groups_in_order(labels: Mapping[int, str], other: str) -> list[str]:
    """The groups by name, with `other` last."""
    return sorted(set(labels.values()), key=lambda label: (label == other, label))
