"""Learning buddies: pairs across organisations, new buddies rather than earlier ones.

Pure and deterministic given a seed. The cost of a pairing is, in order: pairs from
the same organisation, then pairs that were buddies before. Small cohorts (up to
ten people) are solved exactly; larger ones by a greedy pass that can always avoid
same-organisation pairs when that is possible, then swaps that remove repeats.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass

EXACT_UP_TO = 10
ATTEMPTS = 12

Group = tuple[int, ...]
Cost = tuple[int, int, int]  # forbidden pairs, same organisation, earlier buddies


@dataclass(frozen=True)
class Candidate:
    person_id: int
    organisation: str


def pair_up(
    people: Sequence[Candidate],
    earlier: set[frozenset[int]],
    seed: int,
    *,
    pinned: Collection[frozenset[int]] = (),
    forbidden: Collection[frozenset[int]] = (),
) -> list[Group]:
    """Groups of two, and one of three when the number is odd; ValueError under two.

    A facilitator's pinned pairs stay together; forbidden pairs are avoided before
    anything else.
    """
    if len(people) < 2:
        raise ValueError("pairing needs at least two people")
    present = {c.person_id for c in people}
    fixed: list[Group] = []
    for pair in sorted(tuple(sorted(p)) for p in pinned):
        if set(pair) <= present and not any(set(pair) & set(g) for g in fixed):
            fixed.append(pair)
    taken = {p for g in fixed for p in g}
    rest = [c for c in people if c.person_id not in taken]
    if len(rest) == 1:  # the one left over joins the pinned pair they fit best
        i = min(
            range(len(fixed)),
            key=lambda i: _fit(rest[0], fixed[i], people, earlier, set(forbidden)),
        )
        fixed[i] = (*fixed[i], rest[0].person_id)
        rest = []
    groups = _pair_rest(rest, earlier, set(forbidden), seed) if rest else []
    return sorted(tuple(sorted(group)) for group in fixed + groups)


def _pair_rest(
    people: Sequence[Candidate],
    earlier: set[frozenset[int]],
    forbidden: set[frozenset[int]],
    seed: int,
) -> list[Group]:
    rng = random.Random(seed)
    order = sorted(people, key=lambda c: c.person_id)
    rng.shuffle(order)
    organisation = {c.person_id: c.organisation for c in people}

    def cost(groups: Sequence[Group]) -> Cost:
        banned = same = repeats = 0
        for group in groups:
            for a, b in itertools.combinations(group, 2):
                banned += frozenset((a, b)) in forbidden
                same += organisation[a] == organisation[b]
                repeats += frozenset((a, b)) in earlier
        return banned, same, repeats

    if len(people) <= EXACT_UP_TO:
        return min(_partitions([c.person_id for c in order]), key=cost)
    tries = (
        _greedy(order, earlier, forbidden, random.Random(rng.random())) for _ in range(ATTEMPTS)
    )
    return min((_improve(groups, cost) for groups in tries), key=cost)


def _partitions(ids: list[int], need_triple: bool | None = None) -> Iterator[list[Group]]:
    """Every way to split the ids into pairs, with one triple when their number is odd."""
    if need_triple is None:
        need_triple = len(ids) % 2 == 1
    if not ids:
        if not need_triple:
            yield []
        return
    first, rest = ids[0], ids[1:]
    for partner in rest:
        left = [i for i in rest if i != partner]
        for tail in _partitions(left, need_triple):
            yield [(first, partner), *tail]
    if need_triple:
        for partners in itertools.combinations(rest, 2):
            left = [i for i in rest if i not in partners]
            for tail in _partitions(left, False):
                yield [(first, *partners), *tail]


def _greedy(
    order: Sequence[Candidate],
    earlier: set[frozenset[int]],
    forbidden: set[frozenset[int]],
    rng: random.Random,
) -> list[Group]:
    """Take someone from the largest organisation left, and a partner from another.

    While no organisation has more than half of those left, pairing its largest with
    any other keeps it so, unless another organisation has exactly half: then the
    partner must come from there. So no pair is from one organisation when that can
    be avoided.
    """
    by_org: defaultdict[str, list[Candidate]] = defaultdict(list)
    for candidate in order:
        by_org[candidate.organisation].append(candidate)
    groups: list[Group] = []
    while sum(len(v) for v in by_org.values()) >= 2:
        left = sum(len(v) for v in by_org.values())
        largest = max(by_org, key=lambda org: (len(by_org[org]), rng.random()))
        person = by_org[largest].pop(0)
        others = [org for org in by_org if org != largest and by_org[org]]
        # After this pair, left - 2 remain; an organisation with more than half of them
        # would have to pair within itself later, so its people go first.
        forced = [org for org in others if len(by_org[org]) * 2 > left - 2]
        pool = [c for org in (forced or others) for c in by_org[org]] or by_org[largest]
        pool = [
            c for c in pool if frozenset((person.person_id, c.person_id)) not in forbidden
        ] or pool
        fresh = [c for c in pool if frozenset((person.person_id, c.person_id)) not in earlier]
        partner = rng.choice(fresh or pool)
        by_org[partner.organisation].remove(partner)
        groups.append((person.person_id, partner.person_id))
        for org in [org for org, members in by_org.items() if not members]:
            del by_org[org]
    leftover = [c for members in by_org.values() for c in members]
    if leftover:  # an odd number: the last one joins the pair they fit best
        last = leftover[0]
        groups.sort(key=lambda g: _fit(last, g, order, earlier, forbidden))
        groups[0] = (*groups[0], last.person_id)
    return groups


def _fit(
    person: Candidate,
    group: Group,
    everyone: Sequence[Candidate],
    earlier: set[frozenset[int]],
    forbidden: set[frozenset[int]],
) -> Cost:
    organisation = {c.person_id: c.organisation for c in everyone}
    pairs = [frozenset((member, person.person_id)) for member in group]
    return (
        sum(pair in forbidden for pair in pairs),
        sum(organisation[member] == person.organisation for member in group),
        sum(pair in earlier for pair in pairs),
    )


def _improve(groups: list[Group], score: Callable[[Sequence[Group]], Cost]) -> list[Group]:
    """Swap partners between two groups while that lowers the cost (repeats, mostly)."""
    best = list(groups)
    current = score(best)
    improved = True
    while improved and any(current):
        improved = False
        for i, j in itertools.combinations(range(len(best)), 2):
            a, b = best[i], best[j]
            for x, y in itertools.product(range(len(a)), range(len(b))):
                swapped_a = (*a[:x], b[y], *a[x + 1 :])
                swapped_b = (*b[:y], a[x], *b[y + 1 :])
                trial = [*best[:i], swapped_a, *best[i + 1 : j], swapped_b, *best[j + 1 :]]
                if (new := score(trial)) < current:
                    best, current, improved = trial, new, True
                    break
            if improved:
                break
    return best


def best_group_for(
    person: Candidate,
    groups: dict[int, list[Candidate]],
    earlier: set[frozenset[int]],
    forbidden: set[frozenset[int]],
) -> int:
    """Where someone who joins late fits best: a pair before a three, then by cost."""
    everyone = [person, *(c for members in groups.values() for c in members)]

    def fit(group_id: int) -> tuple[int, Cost, int]:
        members = groups[group_id]
        ids = tuple(c.person_id for c in members)
        return len(members), _fit(person, ids, everyone, earlier, forbidden), group_id

    return min(groups, key=fit)
