"""Learning buddies: pairing properties over random cohorts, and a round in the chat."""

from __future__ import annotations

import itertools
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.console.render import render
from handlers.core.programme_file import Programme
from handlers.core.vocabulary import HomeOpened, Message, ToGroup, ToPerson
from handlers.digilog import Digilog
from handlers.pairing import Candidate, pair_up
from storage.models import BuddyRound, Cohort, Role
from storage.unit import Store
from tests.chat import Chat
from tests.conftest import PEOPLE, make_cohort

ORGANISATIONS = ("umea", "pitea", "skelleftea", "region", "ornskoldsvik")


@st.composite
def cohorts(draw: st.DrawFn, most: int = 40) -> tuple[list[Candidate], set[frozenset[int]], int]:
    organisations = draw(st.lists(st.sampled_from(ORGANISATIONS), min_size=2, max_size=most))
    people = [Candidate(n, org) for n, org in enumerate(organisations)]
    pairs = list(itertools.combinations(range(len(people)), 2))
    earlier = draw(st.sets(st.sampled_from(pairs), max_size=len(people))) if pairs else set()
    return people, {frozenset(p) for p in earlier}, draw(st.integers(0, 2**31))


def cost(
    groups: list[tuple[int, ...]],
    people: list[Candidate],
    earlier: set[frozenset[int]],
    forbidden: frozenset[frozenset[int]] | set[frozenset[int]] = frozenset(),
) -> tuple[int, int, int]:
    """Forbidden pairs, pairs from one organisation, earlier buddies: fewer is better."""
    organisation = {c.person_id: c.organisation for c in people}
    pairs = [frozenset(p) for g in groups for p in itertools.combinations(g, 2)]
    same = sum(len({organisation[p] for p in pair}) == 1 for pair in pairs)
    banned = sum(pair in forbidden for pair in pairs)
    return banned, same, sum(pair in earlier for pair in pairs)


def best_possible(
    people: list[Candidate],
    earlier: set[frozenset[int]],
    forbidden: frozenset[frozenset[int]] | set[frozenset[int]] = frozenset(),
) -> tuple[int, int, int]:
    """By brute force, written independently: the lowest cost any grouping has."""

    def groupings(ids: tuple[int, ...], triple: bool) -> list[list[tuple[int, ...]]]:
        if not ids:
            return [] if triple else [[]]
        first, rest = ids[0], ids[1:]
        found = []
        for other in rest:
            left = tuple(i for i in rest if i != other)
            found += [[(first, other), *g] for g in groupings(left, triple)]
        if triple:
            for two in itertools.combinations(rest, 2):
                left = tuple(i for i in rest if i not in two)
                found += [[(first, *two), *g] for g in groupings(left, False)]
        return found

    ids = tuple(c.person_id for c in people)
    return min(cost(g, people, earlier, forbidden) for g in groupings(ids, len(ids) % 2 == 1))


@settings(max_examples=150, deadline=None)
@given(cohorts())
def test_everyone_who_takes_part_is_in_exactly_one_group(
    cohort: tuple[list[Candidate], set[frozenset[int]], int],
) -> None:
    people, earlier, seed = cohort
    groups = pair_up(people, earlier, seed)
    assert Counter(p for g in groups for p in g) == Counter(c.person_id for c in people)
    sizes = Counter(len(g) for g in groups)
    assert sizes[3] == len(people) % 2 and set(sizes) <= {2, 3}
    assert pair_up(people, earlier, seed) == groups  # the same seed, the same pairs


@settings(max_examples=150, deadline=None)
@given(cohorts())
def test_no_pair_from_one_organisation_while_another_pairing_exists(
    cohort: tuple[list[Candidate], set[frozenset[int]], int],
) -> None:
    people, earlier, seed = cohort
    largest = max(Counter(c.organisation for c in people).values())
    if len(people) % 2 == 0 and largest <= len(people) // 2:
        assert cost(pair_up(people, earlier, seed), people, earlier)[1] == 0


@settings(max_examples=100, deadline=None)
@given(cohorts(most=8))
def test_small_cohorts_get_the_best_pairing_there_is(
    cohort: tuple[list[Candidate], set[frozenset[int]], int],
) -> None:
    """Fewest same-organisation pairs first, then fewest earlier buddies again."""
    people, earlier, seed = cohort
    assert cost(pair_up(people, earlier, seed), people, earlier) == best_possible(people, earlier)


def test_a_large_cohort_gets_new_buddies_round_after_round() -> None:
    people = [Candidate(n, ORGANISATIONS[n % 5]) for n in range(250)]
    earlier: set[frozenset[int]] = set()
    for seed in range(4):
        groups = pair_up(people, earlier, seed)
        assert cost(groups, people, earlier) == (0, 0, 0)
        earlier |= {frozenset(g) for g in groups}


async def test_a_buddy_round_in_the_chat(cohort: Cohort, digilog: Digilog) -> None:
    chat = Chat(digilog, cohort)
    out = await chat.say("cecilia", "buddies optout")
    assert "will not be paired" in out.text
    preview = await chat.say("fia", "pair 1 --seed 7")
    assert "Anna Lindqvist (Umeå Municipality) – Björn Öberg (Piteå Municipality)" in preview.text
    assert "Not paired (opted out, or not on the platform yet): Cecilia Åström" in preview.text
    [announce] = preview.options
    announced = await chat.click("fia", announce.action_id)
    [group] = [o for o in announced.outgoing if isinstance(o.to, ToGroup)]
    assert isinstance(group.to, ToGroup) and sorted(group.to.user_ids) == ["anna", "bjorn"]
    assert isinstance(group.message, Message)
    [told] = [o for o in announced.outgoing if isinstance(o.to, ToPerson)]
    assert isinstance(told.to, ToPerson) and told.to.user_id == "cecilia"
    assert "1 group announced" in announced.private
    again = await chat.click("fia", announce.action_id)
    assert "announced already" in again.text

    [met] = [o.action_id for o in render(group.message)[1]]
    assert "Noted: you met" in (await chat.click("anna", met)).text
    assert "said so already" in (await chat.click("anna", met)).text
    assert "Only the buddies of this group" in (await chat.click("cecilia", met)).text
    not_allowed = await chat.say("anna", "pair 1")
    assert "Only a facilitator" in not_allowed.text


async def _home(chat: Chat, user: str) -> tuple[str, list[str]]:
    [page] = (await chat.send(HomeOpened(chat.actor(user), chat.channel))).outgoing
    assert isinstance(page.message, Message)
    text, options = render(page.message)
    return text, [o.action_id for o in options]


async def test_the_home_page_shows_ones_buddies_of_the_latest_round(
    cohort: Cohort, digilog: Digilog
) -> None:
    chat = Chat(digilog, cohort)
    assert "Your learning buddies" not in (await _home(chat, "anna"))[0]  # no round yet
    await chat.say("cecilia", "buddies optout")
    [announce] = (await chat.say("fia", "pair 1 --seed 7")).options
    announced = await chat.click("fia", announce.action_id)
    [group] = [o.message for o in announced.outgoing if isinstance(o.to, ToGroup)]
    assert isinstance(group, Message)
    [met] = [o.action_id for o in render(group)[1]]

    text, buttons = await _home(chat, "anna")
    assert "Your learning buddies" in text
    assert "Björn Öberg** (Piteå Municipality) · has not said you met yet" in text
    assert met in buttons  # the same button as in the group's conversation
    assert "Your learning buddies" not in (await _home(chat, "cecilia"))[0]  # not paired

    assert "Noted: you met" in (await chat.click("anna", met)).text
    text, buttons = await _home(chat, "anna")
    assert "You have said that you met." in text and met not in buttons
    text, buttons = await _home(chat, "bjorn")
    assert "Anna Lindqvist** (Umeå Municipality) · says you met" in text
    assert met in buttons

    # A new round replaces the old one on the page, with its own button.
    [announce] = (await chat.say("fia", "pair 2 --seed 1")).options
    announced = await chat.click("fia", announce.action_id)
    [group] = [o.message for o in announced.outgoing if isinstance(o.to, ToGroup)]
    assert isinstance(group, Message)
    [met_again] = [o.action_id for o in render(group)[1]]
    text, buttons = await _home(chat, "anna")
    assert "Björn Öberg** (Piteå Municipality) · has not said you met yet" in text
    assert met_again in buttons and met not in buttons


@settings(max_examples=150, deadline=None)
@given(cohorts(), st.data())
def test_pinned_pairs_stay_together_and_forbidden_ones_apart_when_possible(
    cohort: tuple[list[Candidate], set[frozenset[int]], int], data: st.DataObject
) -> None:
    people, earlier, seed = cohort
    ids = [c.person_id for c in people]
    pairs = [frozenset(p) for p in itertools.combinations(ids, 2)]
    forbidden = data.draw(st.sets(st.sampled_from(pairs), max_size=len(ids)))
    shuffled = data.draw(st.permutations(ids))
    pinned = {
        frozenset(shuffled[i : i + 2])
        for i in range(0, data.draw(st.integers(0, len(ids) // 2)) * 2, 2)
    } - forbidden
    groups = pair_up(people, earlier, seed, pinned=pinned, forbidden=forbidden)
    assert Counter(p for g in groups for p in g) == Counter(ids)
    for pair in pinned:
        assert any(pair <= set(g) for g in groups)
    if len(people) <= 8 and not pinned:  # then the best grouping avoids every forbidden pair
        possible = best_possible(people, earlier, forbidden)
        assert cost(groups, people, earlier, forbidden) == possible


async def test_a_facilitator_pins_and_forbids_pairs(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    people = tuple(
        (f"p{n}", f"Person {n}", ["umea", "pitea", "skelleftea"][n % 3], Role.participant)
        for n in range(6)
    )
    cohort = await make_cohort(
        store, programme, people=(("fia", "Fia", "region-vasterbotten", Role.facilitator), *people)
    )
    chat = Chat(digilog, cohort)
    assert "always be paired" in (await chat.say("fia", "pair pin p0 p3")).text  # both Umeå
    assert "will not be paired" in (await chat.say("fia", "pair forbid p1 p2")).text
    assert "not a participant" in (await chat.say("fia", "pair pin p0 nobody")).text
    assert "Name two people" in (await chat.say("fia", "pair forbid p1")).text
    for seed in range(5):
        preview = (await chat.say("fia", f"pair --seed {seed}")).text
        assert "Person 0 (Umeå Municipality) – Person 3 (Umeå Municipality)" in preview
        assert "Person 1 (Piteå Municipality) – Person 2" not in preview
    cleared = await chat.say("fia", "pair clear p0 p3")
    assert "like anyone else again" in cleared.text
    preview = (await chat.say("fia", "pair --seed 1")).text
    assert "Person 0 (Umeå Municipality) – Person 3" not in preview


async def test_someone_joins_late_and_someone_leaves_without_a_reshuffle(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    people = tuple(
        (f"p{n}", f"Person {n}", ["umea", "pitea", "skelleftea"][n % 3], Role.participant)
        for n in range(7)
    )
    cohort = await make_cohort(
        store, programme, people=(("fia", "Fia", "region-vasterbotten", Role.facilitator), *people)
    )
    chat = Chat(digilog, cohort)
    await chat.say("p6", "buddies optout")
    [announce] = (await chat.say("fia", "pair --seed 3")).options
    await chat.click("fia", announce.action_id)

    async def groups() -> list[list[str]]:
        async with store.transaction() as repos:
            found = await repos.buddies.round_groups(cohort.id, 0)
            assert found is not None
            users = {m.person.id: m.person.user_id for m in await repos.people.members(cohort.id)}
        return sorted(sorted(users[p] or "" for p in ids) for ids in found.values() if ids)

    before = await groups()
    assert len(before) == 3 and all(len(g) == 2 for g in before)
    added = await chat.say("fia", "pair add p6")
    [joined] = [o for o in added.outgoing if isinstance(o.to, ToGroup)]
    assert isinstance(joined.to, ToGroup) and "p6" in joined.to.user_ids
    assert len(joined.to.user_ids) == 3
    after_join = await groups()
    assert sum(len(g) for g in after_join) == 7
    untouched = [g for g in after_join if "p6" not in g]
    assert len(untouched) == 2 and all(g in before for g in untouched)  # nobody reshuffled
    again = await chat.say("fia", "pair add p6")
    assert "has learning buddies already" in again.text

    pair_of_p0 = next(g for g in after_join if "p0" in g)
    removed = await chat.say("fia", "pair remove p0")
    assert "has left their learning buddies" in removed.text
    after_leave = await groups()
    assert all("p0" not in g for g in after_leave)
    assert sum(len(g) for g in after_leave) == 6 and all(len(g) >= 2 for g in after_leave)
    if len(pair_of_p0) == 2:  # the buddy left alone joined another group
        [moved] = [o for o in removed.outgoing if isinstance(o.to, ToGroup)]
        assert isinstance(moved.to, ToGroup)
        assert next(u for u in pair_of_p0 if u != "p0") in moved.to.user_ids
    assert (
        "No learning buddies have been announced" in (await chat.say("fia", "pair add p0 2")).text
    )


async def test_pairing_a_cohort_of_one_says_why_and_stores_nothing(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    cohort = await make_cohort(store, programme, "ensam", people=PEOPLE[:2])  # Fia and Anna
    chat = Chat(digilog, cohort)
    reply = await chat.say("fia", "pair 1")
    assert "Pairing needs at least two participants who take part" in reply.text
    assert not reply.options
    async with store.transaction() as repos:
        assert await repos.session.scalar(select(func.count()).select_from(BuddyRound)) == 0
