"""Surveys after a theme, the self-assessment, the local meetings' answers, and the rule
that no figure per organisation stands for fewer than five people."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.console.render import render
from handlers.core import anonymity
from handlers.core.i18n import translator
from handlers.core.programme_file import Programme
from handlers.core.vocabulary import (
    Conversation,
    FileMessage,
    FormSubmitted,
    HomeOpened,
    Message,
    SelectField,
    ToConversation,
    ToPerson,
)
from handlers.digilog import Digilog
from handlers.report import assessment_chart, figures, files
from storage.models import Cohort, Role, Source, Visibility
from storage.unit import Store
from tests.chat import Chat
from tests.conftest import make_cohort

SURVEY = "theme:1"
FACILITATOR = ("fia", "Fia", "region-vasterbotten", Role.facilitator)


def people(counts: dict[str, int]) -> tuple[tuple[str, str, str, Role], ...]:
    """Participants per organisation: `umea0`, `umea1`, …"""
    return tuple(
        (f"{org}{n}", f"{org.title()} {n}", org, Role.participant)
        for org, count in counts.items()
        for n in range(count)
    )


def has_fact(text: str, label: str, value: str) -> bool:
    """A label and its value on one line, however the console pads them."""
    return re.search(re.escape(label) + r"\s+" + re.escape(value), text) is not None


async def answers_in(store: Store, cohort: Cohort, key: str) -> list[tuple[str, int | None]]:
    async with store.transaction() as repos:
        return [(a.question_id, a.rating) for a in await repos.surveys.answers(cohort.id, key)]


# ---------------------------------------------------------------- k-anonymity


@given(st.lists(st.sampled_from("abcdefg"), max_size=40), st.integers(min_value=1, max_value=8))
def test_no_group_is_smaller_than_k(organisations: list[str], k: int) -> None:
    organisation_of = dict(enumerate(organisations))
    labels = anonymity.grouped(organisation_of, other="other", everyone="all", k=k)
    if len(organisations) < k:
        assert labels == {}
        return
    assert labels.keys() == organisation_of.keys()
    sizes = Counter(labels.values())
    assert min(sizes.values()) >= k
    for person, label in labels.items():
        assert label in (organisation_of[person], "other", "all")
    # An organisation big enough keeps its name unless the small ones need it to reach k.
    small = sum(n for n in Counter(organisations).values() if n < k)
    if small == 0 or small >= k:
        for person, org in organisation_of.items():
            if organisations.count(org) >= k:
                assert labels[person] == org


def test_small_organisations_are_merged_and_a_small_other_takes_the_next_smallest() -> None:
    def grouped(**sizes: int) -> Counter[str]:
        organisation_of = dict(enumerate(org for org, size in sizes.items() for _ in range(size)))
        return Counter(anonymity.grouped(organisation_of, other="other", everyone="all").values())

    assert grouped(a=6, b=6, c=3, d=2) == {"a": 6, "b": 6, "other": 5}
    assert grouped(a=6, b=7, c=3) == {"b": 7, "other": 9}  # 3 alone could be worked out
    assert grouped(a=3, b=3) == {"all": 6}
    assert grouped(a=4) == {}


# ---------------------------------------------------------------- surveys


async def test_a_survey_opens_is_answered_replaced_and_closes(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    cohort = await make_cohort(
        store, programme, people=(FACILITATOR, *people({"umea": 6, "pitea": 6, "skelleftea": 3}))
    )
    chat = Chat(digilog, cohort)
    assert "Start theme 1 before its survey" in (await chat.say("fia", "survey open 1")).text
    assert "is not open yet" in (await chat.say("umea0", "survey 1")).text
    await chat.say("fia", "theme start 1")
    opened = await chat.say("fia", "survey open 1")
    [post] = opened.public
    assert isinstance(post.to, ToConversation) and isinstance(post.message, Message)
    text, [answer] = render(post.message)
    assert "Survey after theme 1" in text and "at least four others'" in text
    assert "already open" in (await chat.say("fia", "survey open 1")).text

    [form] = (await chat.click("umea0", answer.action_id)).forms
    assert form.form_id == f"survey:{cohort.id}:{SURVEY}"
    assert [f.field_id for f in form.fields] == ["useful", "buddy", "comment"]
    useful = form.fields[0]
    assert isinstance(useful, SelectField) and [v for v, _ in useful.options] == list("12345")

    thanks = await chat.submit("umea0", form.form_id, {"useful": "4", "buddy": "2"})
    assert "Your answers to “Survey after theme 1” are saved" in thanks.text
    again = await chat.submit(
        "umea0", form.form_id, {"useful": "5", "buddy": "2", "comment": "Bra"}
    )
    assert "saved" in again.text
    assert sorted(await answers_in(store, cohort, SURVEY)) == [
        ("buddy", 2),
        ("comment", None),
        ("useful", 5),
    ]
    # The form shows one's own earlier answers.
    [form] = (await chat.say("umea0", "survey")).forms
    assert form.fields[0].initial == "5"

    for values, expected in (
        ({"useful": "6", "buddy": "2"}, "“6” is not on the scale"),
        ({"useful": "0", "buddy": "2"}, "“0” is not on the scale"),
        ({"useful": "four", "buddy": "2"}, "“four” is not on the scale"),
        ({"buddy": "2"}, "Answer “The theme was useful"),
        ({"useful": "3", "buddy": "3", "comment": "x" * 2001}, "can be at most 2000"),
    ):
        refused = await chat.submit("umea1", form.form_id, values)
        assert expected in refused.text, values
    assert "for participants" in (await chat.submit("fia", form.form_id, {"useful": "3"})).text
    assert len(await answers_in(store, cohort, SURVEY)) == 3  # none of that was stored

    # Four answers are too few to show; the fifth and more are shown per group of five.
    results = await chat.say("fia", "survey results 1")
    assert "1 has answered. Figures are shown from 5 answers on" in results.text
    for user in ["umea1", "umea2", "umea3", "umea4", "pitea0", "pitea1", "skelleftea0"]:
        await chat.submit(user, form.form_id, {"useful": "3", "buddy": "4", "comment": user})
    results = (await chat.say("fia", "survey results 1")).text
    assert "8 have answered." in results
    # Umeå has 5 answers; Piteå's 2 and Skellefteå's 1 are merged, and being 3, take Umeå's.
    assert has_fact(results, "Everyone", "3.2 (8)")
    assert "Umeå" not in results and "organisations" not in results
    assert "• Bra" in results and "• pitea0" in results

    await chat.say("fia", "survey close 1")
    late = await chat.submit("umea1", form.form_id, {"useful": "1", "buddy": "1"})
    assert "has closed; answers are no longer taken" in late.text
    assert ("useful", 1) not in await answers_in(store, cohort, SURVEY)
    assert "No survey is open right now" in (await chat.say("umea1", "survey")).text


async def test_the_report_shows_ratings_only_for_groups_of_five(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    cohort = await make_cohort(
        store, programme, people=(FACILITATOR, *people({"umea": 6, "pitea": 6, "skelleftea": 3}))
    )
    chat = Chat(digilog, cohort)
    await chat.say("fia", "theme start 1")
    await chat.say("fia", "survey open 1")
    form_id = f"survey:{cohort.id}:{SURVEY}"
    for user in [f"umea{n}" for n in range(6)]:
        await chat.submit(user, form_id, {"useful": "5", "buddy": "4"})
    for user in [f"pitea{n}" for n in range(4)] + ["skelleftea0", "skelleftea1"]:
        await chat.submit(user, form_id, {"useful": "2", "buddy": "3"})

    async with store.transaction() as repos:
        found = await figures(repos, cohort, translator("en"))
    # Participation: Umeå 6, Piteå 6, Skellefteå's 3 alone are "other" but too few, so
    # Piteå (of the two sixes, the first by name) joins them.
    assert found.organisations == ["Umeå Municipality", "Other organisations"]
    assert found.row(1, "Other organisations").participants == 9
    survey = found.surveys[1].means["useful"]
    assert survey[""] == (12, pytest.approx(3.5))
    assert survey["Umeå Municipality"] == (6, 5.0)
    assert survey["Other organisations"] == (6, 2.0)  # Piteå's 4 and Skellefteå's 2
    shown = render((await chat.say("fia", "report")).messages[0][1])[0]
    assert "Survey, Umeå Municipality" in shown
    assert "Skellefteå" not in shown


async def test_a_cohort_of_four_shows_no_figures(cohort: Cohort, digilog: Digilog) -> None:
    chat = Chat(digilog, cohort)
    await chat.say("fia", "theme start 1")
    reply = await chat.say("fia", "report")
    assert "The cohort has 3 participants. Figures are shown from 5 participants on" in reply.text
    assert len(reply.outgoing) == 1  # and no chart


# ---------------------------------------------------------------- self-assessment


async def test_the_self_assessment_shows_each_their_own_change(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    cohort = await make_cohort(store, programme, people=(FACILITATOR, *people({"umea": 5})))
    chat = Chat(digilog, cohort)
    areas = [a.id for a in programme.self_assessment.areas] if programme.self_assessment else []
    assert "Say which round: start or end" in (await chat.say("fia", "assess open middle")).text
    assert (
        "is not open yet"
        in (
            await chat.submit(
                "umea0", f"survey:{cohort.id}:assessment:start", dict.fromkeys(areas, "2")
            )
        ).text
    )
    await chat.say("fia", "assess open start")
    [form] = (await chat.say("umea0", "assess")).forms
    assert [f.field_id for f in form.fields] == areas
    for n in range(5):
        await chat.submit(f"umea{n}", form.form_id, dict.fromkeys(areas, "2"))
    await chat.say("fia", "assess close start")
    mine = await chat.say("umea0", "assess")
    assert has_fact(mine.text, "Information and data literacy", "2 at the start")

    await chat.say("fia", "assess open end")
    [form] = (await chat.say("umea0", "assess")).forms
    assert form.form_id.endswith("assessment:end")
    done = await chat.submit("umea0", form.form_id, {**dict.fromkeys(areas, "4"), "safety": "1"})
    assert "Your self-assessment is saved" in done.text
    assert has_fact(done.text, "Information and data literacy", "2 → 4 (+2)")
    assert has_fact(done.text, "Safety", "2 → 1 (-1)")
    bad = await chat.submit("umea1", form.form_id, {**dict.fromkeys(areas, "3"), "safety": "9"})
    assert "“9” is not on the scale" in bad.text

    assert "Figures are shown from 5 answers on" in (await chat.say("fia", "assess results")).text
    for n in range(1, 5):
        await chat.submit(f"umea{n}", form.form_id, dict.fromkeys(areas, "3"))
    results = (await chat.say("fia", "assess results")).text
    assert "5 people have rated themselves at both the start and the end" in results
    assert has_fact(results, "Everyone", "2.0 → 3.2 (+1.2, 5)")  # information: 4, 3, 3, 3, 3

    async with store.transaction() as repos:
        found = await figures(repos, cohort, translator("en"))
    png = assessment_chart(translator("en"), found)
    assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"
    names = [name for name, _, _ in files(translator("en"), found)]
    assert "self-assessment.png" in names and "self-assessment.csv" in names


# ---------------------------------------------------------------- local meetings


async def test_a_plan_for_change_is_shared_with_ones_own_support_function(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    cohort = await make_cohort(
        store,
        programme,
        people=(
            FACILITATOR,
            ("anna", "Anna", "umea", Role.participant),
            ("arvid", "Arvid", "umea", Role.participant),
            ("stina", "Stina Stöd", "umea", Role.support),
            ("sven", "Sven Stöd", "pitea", Role.support),
        ),
    )
    chat = Chat(digilog, cohort)
    needs = await chat.say("anna", "needs Att leda på distans")
    assert "“My needs inventory” is saved" in needs.text
    assert "visible to the author and the facilitators" in needs.text
    [form] = (await chat.say("anna", "needs")).forms
    assert form.fields[0].initial == "Att leda på distans"
    await chat.submit("anna", form.form_id, {"text": "Att leda hybrid", "visibility": "private"})

    plan = await chat.say("anna", "plan --share Införa digitala morgonmöten")
    [told] = [o for o in plan.outgoing if isinstance(o.to, ToPerson)]
    assert isinstance(told.to, ToPerson) and told.to.user_id == "stina"
    assert isinstance(told.message, Message)
    assert "Införa digitala morgonmöten" in render(told.message)[0]
    again = await chat.say("anna", "plan --share Införa digitala morgonmöten varje vecka")
    assert not [o for o in again.outgoing if isinstance(o.to, ToPerson)]  # told once

    seen_by = {
        user: (await chat.say(user, "bank --kind plan")).text for user in ("stina", "sven", "arvid")
    }
    assert "varje vecka" in seen_by["stina"]
    assert "Nothing found" in seen_by["sven"] and "Nothing found" in seen_by["arvid"]
    assert "Att leda hybrid" not in (await chat.say("fia", "bank --kind needs")).text
    assert "There is no kind “plans”" in (await chat.say("anna", "bank --kind plans")).text

    async with store.transaction() as repos:
        kinds = Counter(
            [
                (view.reflection.source, view.reflection.visibility)
                async for view in repos.reflections.export(cohort.id, private=True)
            ]
        )
    assert kinds == {
        (Source.needs_inventory, Visibility.private): 1,
        (Source.change_plan, Visibility.organisation): 1,
    }
    # A needs inventory may now be shared with one's own organisation's support function.
    shared = await chat.submit(
        "anna", f"meeting:{cohort.id}:needs", {"text": "x", "visibility": "organisation"}
    )
    assert "the organisation's support" in shared.text
    # A facilitator's export holds what they may read: not Anna's private needs inventory.
    [exported] = [
        o.message
        for o in (await chat.say("fia", "export json")).outgoing
        if isinstance(o.message, FileMessage)
    ]
    assert "varje vecka" in exported.content.decode()
    assert "Att leda hybrid" not in exported.content.decode()


async def test_the_home_page_offers_what_is_open_to_answer(
    cohort: Cohort, digilog: Digilog
) -> None:
    chat = Chat(digilog, cohort)

    async def home() -> tuple[str, list[str]]:
        [page] = (await chat.send(HomeOpened(chat.actor("anna"), chat.channel))).messages
        text, options = render(page[1])
        return text, [o.action_id for o in options]

    assert "Survey after theme 1" not in (await home())[0]
    await chat.say("fia", "theme start 1")
    await chat.say("fia", "survey open 1")
    text, buttons = await home()
    assert "**Survey after theme 1** · open" in text
    assert f"survey:{cohort.id}:{SURVEY}" in buttons
    await chat.submit("anna", f"survey:{cohort.id}:{SURVEY}", {"useful": "4", "buddy": "4"})
    assert "answered; you can still change your answers" in (await home())[0]
    await chat.say("fia", "survey close 1")
    text, buttons = await home()
    assert "Survey after theme 1" not in text and f"survey:{cohort.id}:{SURVEY}" not in buttons


async def test_quiz_results_by_organisation_merge_small_ones(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    cohort = await make_cohort(
        store, programme, people=(FACILITATOR, *people({"umea": 5, "pitea": 3, "skelleftea": 2}))
    )
    chat = Chat(digilog, cohort)
    await chat.say("fia", "theme start 1")
    await chat.say("fia", "quiz start 1")
    for user, *_ in people({"umea": 5, "pitea": 3, "skelleftea": 2}):
        reply = await chat.click(user, f"quiz:{cohort.id}-1:begin")
        while reply.options and reply.options[0].action_id.startswith("quiz:"):
            reply = await chat.click(user, reply.options[0].action_id)
    results = (await chat.say("fia", "results 1")).text.split("By organisation", 1)[1]
    assert re.search(r"Umeå Municipality +5 participants", results)
    assert re.search(r"Other organisations +5 participants", results)
    assert "Piteå" not in results and "Skellefteå" not in results


async def test_a_form_sent_from_a_direct_message_finds_its_cohort(
    store: Store, programme: Programme, cohort: Cohort, digilog: Digilog
) -> None:
    await make_cohort(
        store,
        programme,
        "grupp-2",
        people=(FACILITATOR, ("anna", "Anna", "umea", Role.participant)),
    )
    chat = Chat(digilog, cohort)
    await chat.say("fia", "theme start 1")
    await chat.say("fia", "survey open 1")
    direct = Conversation(cohort.platform, cohort.workspace, "D-anna")
    [form] = (await chat.click("anna", f"survey:{cohort.id}:{SURVEY}", where=direct)).forms
    sent = await chat.send(
        FormSubmitted(chat.actor("anna"), direct, form.form_id, {"useful": "4", "buddy": "4"})
    )
    assert "Your answers to “Survey after theme 1” are saved" in sent.text
    assert len(await answers_in(store, cohort, SURVEY)) == 2
