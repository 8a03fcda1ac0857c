"""Digilog.handle through the chat test backend, on SQLite and PostgreSQL.

Each test reads like a transcript: someone says something in the cohort's channel,
we look at what they were told and at what the database now holds.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from handlers.core.context import MAX_REFLECTION_CHARS
from handlers.core.programme_file import Programme
from handlers.core.vocabulary import Conversation
from handlers.digilog import Digilog
from storage.models import (
    Cohort,
    Membership,
    Organisation,
    Person,
    QuizAnswer,
    Reflection,
    Role,
    Source,
    ThemeRun,
    Visibility,
)
from storage.unit import Store
from tests.chat import Chat
from tests.conftest import make_cohort

ONLY_FACILITATORS = "Only a facilitator of this cohort can do that."
ALREADY_ANSWERED = "You have already answered that question; your first answer counts."


# ---------------------------------------------------------------- helpers: what is stored


async def rows(store: Store, model: type[Any], **where: Any) -> list[Any]:
    async with store.transaction() as repos:
        query = select(model).filter_by(**where).order_by(model.id)
        return list((await repos.session.scalars(query)).all())


async def count(store: Store, model: type[Any], **where: Any) -> int:
    async with store.transaction() as repos:
        query = select(func.count()).select_from(model).filter_by(**where)
        return int(await repos.session.scalar(query) or 0)


async def person(store: Store, user_id: str) -> Person | None:
    async with store.transaction() as repos:
        return await repos.people.by_account("console", "local", user_id)


async def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a command could change, as plain tuples to compare before and after."""
    async with store.transaction() as repos:
        s = repos.session
        return {
            "runs": [
                (
                    r.cohort_id,
                    r.theme_number,
                    r.forced,
                    r.post_message_id,
                    r.quiz_opened_at,
                    r.quiz_closed_at,
                )
                for r in await s.scalars(select(ThemeRun).order_by(ThemeRun.id))
            ],
            "people": [
                (p.user_id, p.display_name, p.language)
                for p in await s.scalars(select(Person).order_by(Person.id))
            ],
            "memberships": [
                (m.cohort_id, m.person_id, m.organisation_id, m.role)
                for m in await s.scalars(select(Membership).order_by(Membership.id))
            ],
            "answers": [
                (a.person_id, a.theme_number, a.question_index, a.option_index)
                for a in await s.scalars(select(QuizAnswer).order_by(QuizAnswer.id))
            ],
            "reflections": [
                (r.author_id, r.body, r.visibility)
                for r in await s.scalars(select(Reflection).order_by(Reflection.id))
            ],
        }


def correct_option(programme: Programme, theme: int, question: int) -> int:
    quiz = programme.theme(theme).quiz  # type: ignore[union-attr]
    assert quiz is not None
    return next(i for i, o in enumerate(quiz.questions[question].options) if o.correct)


def wrong_option(programme: Programme, theme: int, question: int) -> int:
    quiz = programme.theme(theme).quiz  # type: ignore[union-attr]
    assert quiz is not None
    return next(i for i, o in enumerate(quiz.questions[question].options) if not o.correct)


def pick(cohort: Cohort, theme: int, question: int, option: int) -> str:
    return f"quiz:{cohort.id}-{theme}:{question}:{option}"


@pytest.fixture
def chat(digilog: Digilog, cohort: Cohort) -> Chat:
    return Chat(digilog, cohort)


# ---------------------------------------------------------------- who may do what

# Each facilitator command, and what the facilitator has done before a participant tries it
# (so that the refused command would otherwise have had something to do).
FACILITATOR_COMMANDS = {
    "theme start 1": [],
    "quiz start 1": ["theme start 1"],
    "quiz close 1": ["theme start 1", "quiz start 1"],
    "results 1": ["theme start 1", "quiz start 1"],
    "enrol x umea": [],
    "members": [],
}


@pytest.mark.parametrize("command", list(FACILITATOR_COMMANDS))
async def test_a_participant_cannot_run_a_facilitator_command(
    chat: Chat, store: Store, cohort: Cohort, command: str
) -> None:
    for line in FACILITATOR_COMMANDS[command]:
        await chat.say("fia", line)
    before = await snapshot(store)

    reply = await chat.say("anna", command)

    assert reply.text.strip() == ONLY_FACILITATORS
    assert reply.public == []
    assert await snapshot(store) == before


async def test_a_refused_theme_start_stores_no_theme_run(
    chat: Chat, store: Store, cohort: Cohort
) -> None:
    reply = await chat.say("bjorn", "theme start 1")

    assert ONLY_FACILITATORS in reply.text
    assert await rows(store, ThemeRun) == []
    # ...and the facilitator can still start it afterwards.
    reply = await chat.say("fia", "theme start 1")
    assert "Theme 1 has started" in reply.private
    assert [r.theme_number for r in await rows(store, ThemeRun)] == [1]


async def test_a_refused_enrol_creates_no_person(chat: Chat, store: Store) -> None:
    reply = await chat.say("anna", "enrol xavier umea --name Xavier_X")

    assert ONLY_FACILITATORS in reply.text
    assert await person(store, "xavier") is None
    # The same line from the facilitator does enrol.
    reply = await chat.say("fia", "enrol xavier umea --name Xavier_X")
    assert "Xavier X is enrolled as participant from Umeå Municipality." in reply.text
    xavier = await person(store, "xavier")
    assert xavier is not None and xavier.display_name == "Xavier X"


async def test_the_facilitator_sees_the_members(chat: Chat) -> None:
    reply = await chat.say("fia", "members")

    assert "People in Grupp 1" in reply.text
    assert "Björn Öberg (bjorn) · Piteå Municipality · participant" in reply.text
    assert "Fia Facilitator (fia) · Region Västerbotten · facilitator" in reply.text
    assert "4 people" in reply.text


# ---------------------------------------------------------------- strangers and joining


async def test_an_unknown_person_is_told_how_to_join(chat: Chat, store: Store) -> None:
    reply = await chat.say("dora", "bank")

    assert "You are not enrolled in Grupp 1" in reply.text
    assert "`join`" in reply.text
    assert await person(store, "dora") is None


async def test_without_self_enrol_join_names_the_facilitator(chat: Chat, store: Store) -> None:
    reply = await chat.say("dora", "join")

    assert reply.text.strip() == (
        "To join Grupp 1, ask a facilitator to enrol you: Fia Facilitator."
    )
    assert reply.options == []
    assert await person(store, "dora") is None


async def test_with_self_enrol_join_offers_the_organisations_and_a_click_enrols(
    digilog: Digilog, store: Store, programme: Programme, cohort: Cohort
) -> None:
    open_cohort = await make_cohort(
        store,
        programme,
        "oppen-grupp",
        self_enrol=True,
        people=(("gun", "Gun Gran", "umea", Role.facilitator),),
    )
    chat = Chat(digilog, open_cohort)

    reply = await chat.say("dora", "join")

    assert "Welcome to Oppen Grupp! Which organisation are you from?" in reply.text
    keys = ["umea", "skelleftea", "ornskoldsvik", "pitea", "region-vasterbotten"]
    assert [o.action_id for o in reply.options] == [f"join:{open_cohort.id}:{k}" for k in keys]
    assert "Piteå Municipality" in [o.label for o in reply.options]
    assert await person(store, "dora") is None  # asking is not joining

    # A join button of another cohort does nothing here.
    refused = await chat.click("dora", f"join:{cohort.id}:pitea")
    assert "That button belongs to another cohort." in refused.text
    assert await person(store, "dora") is None

    reply = await chat.click("dora", f"join:{open_cohort.id}:pitea")

    assert "Welcome to Oppen Grupp, Dora from Piteå Municipality!" in reply.text
    dora = await person(store, "dora")
    assert dora is not None
    (membership,) = await rows(store, Membership, person_id=dora.id)
    assert membership.cohort_id == open_cohort.id
    assert membership.role == Role.participant
    (pitea,) = await rows(store, Organisation, id=membership.organisation_id)
    assert pitea.key == "pitea"

    # Dora is a member now: the bank opens for her, and joining again changes nothing.
    assert "Latest reflections" in (await chat.say("dora", "bank")).text
    again = await chat.say("dora", "join")
    assert "You are already in Oppen Grupp, from Piteå Municipality." in again.text
    assert await count(store, Membership, person_id=dora.id) == 1


async def test_a_double_click_on_a_join_button_enrols_once(
    digilog: Digilog,
    store: Store,
    programme: Programme,
) -> None:
    open_cohort = await make_cohort(
        store,
        programme,
        "oppen-grupp",
        self_enrol=True,
        people=(("gun", "Gun Gran", "umea", Role.facilitator),),
    )
    chat = Chat(digilog, open_cohort)

    replies = await asyncio.gather(
        *(chat.click("dora", f"join:{open_cohort.id}:pitea") for _ in range(5))
    )

    welcomed = [r for r in replies if "Welcome to Oppen Grupp, Dora" in r.text]
    already = [r for r in replies if "You are already in Oppen Grupp" in r.text]
    assert (len(welcomed), len(already)) == (1, 4)
    dora = await person(store, "dora")
    assert dora is not None
    assert await count(store, Membership, person_id=dora.id) == 1


# ---------------------------------------------------------------- commands that go wrong


async def test_an_unknown_command_is_named_with_the_nearest_ones(chat: Chat) -> None:
    reply = await chat.say("anna", "frobnicate now")

    assert "I don't know the command “frobnicate”." in reply.text
    assert "`help` lists what you can do." in reply.text
    assert "Did you mean" not in reply.text  # nothing is near
    near = await chat.say("anna", "bnak ledarskap")
    assert "Did you mean `bank`?" in near.text
    # Only what she may run is offered: "them" is near "theme", not "theme start".
    assert "Did you mean `theme`?" in (await chat.say("anna", "them start 1")).text


async def test_help_is_short_and_in_swedish_with_swedish_command_words(chat: Chat) -> None:
    """A Swedish participant reads an overview in Swedish, types Swedish command words,
    and `hjälp KOMMANDO` tells more."""
    await chat.say("anna", "language sv")

    overview = (await chat.say("anna", "hjälp")).text
    themes = (await chat.say("anna", "hjälp tema")).text
    listed = await chat.say("anna", "tema")

    assert "== Kommandon i Digilog ==" in overview
    assert len(overview.splitlines()) <= 15
    assert "Teman  " in overview and "tema, tema visa" in overview
    assert "tema starta" not in overview  # a facilitator's, not hers
    assert "`hjälp gå med` berättar mer om ett kommando." in overview
    assert "tema visa <nummer>" in themes and "Visa material och uppgifter" in themes
    assert "Jag känner inte till" not in listed.text
    assert "Menade du `tema`?" in (await chat.say("anna", "tem")).text


async def test_theme_start_without_a_number_says_what_is_missing(chat: Chat, store: Store) -> None:
    reply = await chat.say("fia", "theme start")

    assert reply.text.strip() == "Missing theme number."
    assert await rows(store, ThemeRun) == []


async def test_theme_start_of_a_theme_that_does_not_exist(chat: Chat, store: Store) -> None:
    reply = await chat.say("fia", "theme start 9")

    assert "There is no theme 9; this programme has themes 1–4." in reply.text
    assert reply.public == []
    assert await rows(store, ThemeRun) == []


async def test_themes_start_in_order_unless_forced(chat: Chat, store: Store) -> None:
    reply = await chat.say("fia", "theme start 2")

    assert "Theme 1 has not started yet" in reply.text
    assert "--force" in reply.text
    assert reply.public == []
    assert await rows(store, ThemeRun) == []

    reply = await chat.say("fia", "theme start 2 --force")

    assert "Theme 2 has started and its digilog is open." in reply.private
    assert len(reply.public) == 1
    assert "Theme 2: The benefits of digitalisation" in reply.text
    (run,) = await rows(store, ThemeRun)
    assert (run.theme_number, run.forced) == (2, True)
    assert run.post_message_id == chat.posts[2]


async def test_starting_a_theme_twice_posts_it_once(chat: Chat, store: Store) -> None:
    first = await chat.say("fia", "theme start 1")
    second = await chat.say("fia", "theme start 1")

    assert len(first.public) == 1
    assert second.public == []
    assert "Theme 1 has already started." in second.text
    (run,) = await rows(store, ThemeRun)
    assert (run.theme_number, run.forced) == (1, False)


async def test_a_digilog_post_over_the_limit_is_refused(chat: Chat, store: Store) -> None:
    await chat.say("fia", "theme start 1")

    _, reply = await chat.post("anna", 1, "a" * (MAX_REFLECTION_CHARS + 1))

    assert "That is 4001 characters; a reflection can be at most 4000." in reply.text
    assert await rows(store, Reflection) == []

    # Exactly at the limit is fine.
    _, reply = await chat.post("anna", 1, "b" * MAX_REFLECTION_CHARS)
    assert "Saved in the reflection bank as #" in reply.text
    (saved,) = await rows(store, Reflection)
    assert len(saved.body) == MAX_REFLECTION_CHARS


async def test_a_nul_character_is_refused_and_a_text_that_only_says_so_is_kept(
    chat: Chat, store: Store
) -> None:
    await chat.say("fia", "theme start 1")

    _, reply = await chat.post("anna", 1, "Vi testade \\x00 i en fil")  # the four characters
    assert "Saved in the reflection bank as #" in reply.text
    _, reply = await chat.post("bjorn", 1, "Osynligt tecken:\0 här")
    assert "That text holds a NUL character" in reply.text
    assert [r.body for r in await rows(store, Reflection)] == ["Vi testade \\x00 i en fil"]


async def test_reflect_without_text_opens_the_reflection_form(chat: Chat, store: Store) -> None:
    for line in ("reflect", "reflect    ", "reflect --cohort"):
        (form,) = (await chat.say("anna", line)).forms
        assert form.form_id == f"reflect:{chat.cohort.id}", line
        assert [f.field_id for f in form.fields] == ["theme", "visibility", "text"]
    assert await rows(store, Reflection) == []


async def test_the_reflection_form_saves_with_its_theme_and_visibility(
    chat: Chat, store: Store
) -> None:
    await chat.say("fia", "theme start 1")
    (form,) = (await chat.say("anna", "reflect")).forms
    values = {"theme": "1", "visibility": "facilitators", "text": "Längre tankar om ledarskap."}
    reply = await chat.submit("anna", form.form_id, values)
    assert "visible to the author and the facilitators" in reply.text
    (saved,) = await rows(store, Reflection)
    assert (saved.theme_number, saved.visibility, saved.body) == (
        1,
        Visibility.facilitators,
        "Längre tankar om ledarskap.",
    )
    empty = await chat.submit("anna", form.form_id, {**values, "text": "  "})
    assert empty.text.strip() == "Write something to save."
    assert len(await rows(store, Reflection)) == 1


# ---------------------------------------------------------------- the digilog


async def test_a_post_and_a_reply_from_another_organisation_go_into_the_bank(
    chat: Chat, store: Store
) -> None:
    await chat.say("fia", "theme start 1")

    post_id, posted = await chat.post("anna", 1, "Vi har digitaliserat bygglovet i Umeå.")
    reply_id, replied = await chat.post(
        "bjorn", 1, "Hos oss i Piteå började vi med bygglovet också.", reply_to=post_id
    )

    assert "Saved in the reflection bank as #" in posted.text
    assert "Saved in the reflection bank as #" in replied.text
    anna, bjorn = await person(store, "anna"), await person(store, "bjorn")
    assert anna is not None and bjorn is not None
    post, reply = await rows(store, Reflection)
    assert (post.author_id, post.source, post.message_id) == (anna.id, Source.digilog_post, post_id)
    assert (post.theme_number, post.visibility) == (1, Visibility.cohort)
    assert post.replied_to_person_id is None and post.reply_to_id is None
    assert (reply.author_id, reply.source, reply.message_id) == (
        bjorn.id,
        Source.digilog_reply,
        reply_id,
    )
    assert reply.replied_to_person_id == anna.id
    assert reply.reply_to_id == post.id
    assert reply.organisation_id != post.organisation_id

    # Cecilia sees both, and that Björn answered Anna.
    bank = await chat.say("cecilia", "bank")
    assert "Anna Lindqvist (Umeå Municipality) · theme 1 · digilog ·" in bank.text
    assert "Björn Öberg (Piteå Municipality) · theme 1 · digilog reply · reply to Anna" in bank.text


async def test_a_redelivered_post_is_stored_once_and_answered_once(
    chat: Chat, store: Store
) -> None:
    await chat.say("fia", "theme start 1")
    message_id, first = await chat.post("anna", 1, "Invånarna vill kunna göra allt i mobilen.")

    _, again = await chat.post(
        "anna", 1, "Invånarna vill kunna göra allt i mobilen.", message_id=message_id
    )

    assert len(first.outgoing) == 1
    assert again.outgoing == []
    assert await count(store, Reflection) == 1


async def test_editing_a_post_changes_the_bank_and_the_search(chat: Chat, store: Store) -> None:
    await chat.say("fia", "theme start 1")
    message_id, _ = await chat.post("anna", 1, "Vi pratar mycket om cykelvägar i kommunen.")
    assert "Anna Lindqvist" in (await chat.say("bjorn", "bank cykelvägar")).text

    edited = await chat.edit("anna", 1, message_id, "Vi pratar mycket om snöröjning i kommunen.")

    assert edited.outgoing == []
    (reflection,) = await rows(store, Reflection)
    assert reflection.body == "Vi pratar mycket om snöröjning i kommunen."
    assert reflection.updated_at >= reflection.created_at
    found = await chat.say("bjorn", "bank snöröjning")
    assert "Anna Lindqvist (Umeå Municipality)" in found.text
    assert "**snöröjning**" in found.text
    gone = await chat.say("bjorn", "bank cykelvägar")
    assert "Nothing found." in gone.text
    assert "Anna Lindqvist" not in gone.text


async def test_only_the_author_can_edit_or_delete_a_post(chat: Chat, store: Store) -> None:
    await chat.say("fia", "theme start 1")
    message_id, _ = await chat.post("anna", 1, "Ledarskapet behöver ta ansvar för förändringen.")

    await chat.edit("bjorn", 1, message_id, "Björn skriver över Annas text.")
    await chat.delete("bjorn", 1, message_id)

    (reflection,) = await rows(store, Reflection)
    assert reflection.body == "Ledarskapet behöver ta ansvar för förändringen."


async def test_deleting_a_post_removes_it_from_the_bank_and_the_search(
    chat: Chat, store: Store
) -> None:
    await chat.say("fia", "theme start 1")
    post_id, _ = await chat.post("anna", 1, "Vår e-tjänst för färdtjänst fungerar dåligt.")
    await chat.post("bjorn", 1, "Vi har samma problem med färdtjänst i Piteå.", reply_to=post_id)

    deleted = await chat.delete("anna", 1, post_id)

    assert deleted.outgoing == []
    (left,) = await rows(store, Reflection)
    assert left.body == "Vi har samma problem med färdtjänst i Piteå."
    listing = await chat.say("cecilia", "bank")
    assert "Vår e-tjänst" not in listing.text
    assert "Anna Lindqvist (Umeå Municipality)" not in listing.text
    assert "Björn Öberg (Piteå Municipality)" in listing.text
    search = await chat.say("cecilia", "bank e-tjänst")
    assert "Nothing found." in search.text
    search = await chat.say("cecilia", "bank färdtjänst")
    assert "Björn Öberg (Piteå Municipality)" in search.text
    assert "Anna Lindqvist (Umeå Municipality)" not in search.text


# ---------------------------------------------------------------- who sees which reflection


async def test_reflections_are_seen_by_exactly_whom_they_are_meant_for(
    chat: Chat, store: Store
) -> None:
    to_facilitators = await chat.say("anna", "reflect --facilitators Budgeten oroar mig.")
    private = await chat.say("anna", "reflect Min privata tanke om ledarskapet.")
    shared = await chat.say("bjorn", "reflect --cohort Alla kan läsa om arbetssätten.")

    assert "visible to the author and the facilitators" in to_facilitators.text
    assert "visible to only the author" in private.text
    assert "visible to the whole cohort" in shared.text
    stored = {r.body: r.visibility for r in await rows(store, Reflection)}
    assert stored == {
        "Budgeten oroar mig.": Visibility.facilitators,
        "Min privata tanke om ledarskapet.": Visibility.private,
        "Alla kan läsa om arbetssätten.": Visibility.cohort,
    }

    async def seen_by(user: str) -> set[str]:
        text = (await chat.say(user, "bank")).text
        return {word for word in ("Budgeten", "privata", "arbetssätten") if word in text}

    assert await seen_by("anna") == {"Budgeten", "privata", "arbetssätten"}
    assert await seen_by("fia") == {"Budgeten", "arbetssätten"}
    assert await seen_by("bjorn") == {"arbetssätten"}
    assert await seen_by("cecilia") == {"arbetssätten"}

    # Search keeps to the same rules.
    assert "Nothing found." in (await chat.say("cecilia", "bank budgeten")).text
    assert "Nothing found." in (await chat.say("fia", "bank privata")).text
    assert "Anna Lindqvist" in (await chat.say("fia", "bank budgeten")).text


async def test_another_cohort_never_sees_this_cohorts_reflections(
    chat: Chat, digilog: Digilog, store: Store, programme: Programme
) -> None:
    await chat.say("fia", "theme start 1")
    await chat.post("anna", 1, "Digitaliseringen av hemtjänsten i Umeå.")
    await chat.say("anna", "reflect --cohort Ledarskap i hemtjänsten.")
    await chat.say("anna", "reflect --facilitators Hemtjänsten saknar budget.")
    other = await make_cohort(
        store,
        programme,
        "grupp-2",
        people=(
            ("gun", "Gun Gran", "umea", Role.facilitator),
            ("hugo", "Hugo Holm", "pitea", Role.participant),
        ),
    )
    chat2 = Chat(digilog, other)

    for user in ("gun", "hugo"):
        listing = await chat2.say(user, "bank")
        assert "Nothing found." in listing.text, user
        assert "Anna Lindqvist" not in listing.text
        search = await chat2.say(user, "bank hemtjänsten")
        assert "Nothing found." in search.text, user
        assert "Anna Lindqvist" not in search.text

    # While in the first cohort, its own facilitator does see them.
    assert "saknar budget." in (await chat.say("fia", "bank hemtjänsten")).text


async def test_a_reflection_shared_with_the_cohort_from_a_direct_message(
    chat: Chat, store: Store
) -> None:
    direct = Conversation("console", "local", "dm-anna")

    reply = await chat.say("anna", "reflect --cohort Alla får läsa detta.", where=direct)

    assert "visible to the whole cohort" in reply.text
    (saved,) = await rows(store, Reflection)
    assert (saved.body, saved.visibility) == ("Alla får läsa detta.", Visibility.cohort)


async def test_a_private_reflection_from_a_direct_message_lands_in_the_only_cohort(
    chat: Chat, store: Store, cohort: Cohort
) -> None:
    direct = Conversation("console", "local", "dm-anna")

    reply = await chat.say("anna", "reflect --facilitators Bara för processledarna.", where=direct)

    assert "visible to the author and the facilitators" in reply.text
    (saved,) = await rows(store, Reflection)
    assert (saved.cohort_id, saved.visibility) == (cohort.id, Visibility.facilitators)
    assert "Bara för processledarna." in (await chat.say("fia", "bank")).text


# ---------------------------------------------------------------- quizzes


async def test_the_first_answer_counts(
    chat: Chat, store: Store, cohort: Cohort, programme: Programme
) -> None:
    await chat.say("fia", "theme start 1")
    await chat.say("fia", "quiz start 1")
    right, wrong = correct_option(programme, 1, 0), wrong_option(programme, 1, 0)

    first = await chat.click("anna", pick(cohort, 1, 0, right))
    same_again = await chat.click("anna", pick(cohort, 1, 0, right))
    changed_mind = await chat.click("anna", pick(cohort, 1, 0, wrong))

    assert "✅ Right!" in first.text
    assert ALREADY_ANSWERED not in first.text
    for reply in (same_again, changed_mind):
        assert ALREADY_ANSWERED in reply.text
        assert "Right!" not in reply.text and "Not quite" not in reply.text
    anna = await person(store, "anna")
    (answer,) = await rows(store, QuizAnswer, person_id=anna.id)  # type: ignore[union-attr]
    assert (answer.question_index, answer.option_index, answer.correct) == (0, right, True)

    # Three participants are too few for any figure (tests/test_figures.py has more).
    results = await chat.say("fia", "results 1")
    assert "The cohort has 3 participants. Figures are shown from 5" in results.text
    assert "right" not in results.text


async def test_the_score_is_the_number_of_right_first_answers(
    chat: Chat, store: Store, cohort: Cohort, programme: Programme
) -> None:
    await chat.say("fia", "theme start 1")
    await chat.say("fia", "quiz start 1")
    quiz = programme.theme(1).quiz  # type: ignore[union-attr]
    assert quiz is not None
    total = len(quiz.questions)

    begin = await chat.click("anna", f"quiz:{cohort.id}-1:begin")
    assert f"Question 1 of {total}" in begin.text
    # Right on even questions, wrong on odd ones; then each answer is tried the other way.
    expected = 0
    for q in range(total):
        first, second = correct_option(programme, 1, q), wrong_option(programme, 1, q)
        if q % 2:
            first, second = second, first
        else:
            expected += 1
        reply = await chat.click("anna", pick(cohort, 1, q, first))
        assert ("✅ Right!" in reply.text) == (q % 2 == 0)
        again = await chat.click("anna", pick(cohort, 1, q, second))
        assert ALREADY_ANSWERED in again.text

    final = await chat.say("anna", "quiz 1")
    assert (
        f"You answered {expected} of {total} questions correctly in the quiz for theme 1."
        in final.text
    )
    anna = await person(store, "anna")
    answers = await rows(store, QuizAnswer, person_id=anna.id)  # type: ignore[union-attr]
    assert len(answers) == total
    assert sum(a.correct for a in answers) == expected


async def test_simultaneous_clicks_store_one_answer(
    chat: Chat, store: Store, cohort: Cohort, programme: Programme
) -> None:
    await chat.say("fia", "theme start 1")
    await chat.say("fia", "quiz start 1")
    options = len(programme.theme(1).quiz.questions[0].options)  # type: ignore[union-attr]

    replies = await asyncio.gather(
        *(chat.click("anna", pick(cohort, 1, 0, i % options)) for i in range(10))
    )

    anna = await person(store, "anna")
    answers = await rows(store, QuizAnswer, person_id=anna.id)  # type: ignore[union-attr]
    assert len(answers) == 1
    counted = [r for r in replies if ALREADY_ANSWERED not in r.text]
    assert len(counted) == 1
    assert ("✅ Right!" in counted[0].text) == answers[0].correct
    assert all("Question 2 of" in r.text for r in replies)


async def test_a_quiz_button_of_another_cohort_is_refused(
    chat: Chat, digilog: Digilog, store: Store, cohort: Cohort, programme: Programme
) -> None:
    await chat.say("fia", "theme start 1")
    await chat.say("fia", "quiz start 1")
    other = await make_cohort(
        store, programme, "grupp-2", people=(("gun", "Gun Gran", "umea", Role.facilitator),)
    )
    chat2 = Chat(digilog, other)
    await chat2.say("gun", "theme start 1")
    await chat2.say("gun", "quiz start 1")

    reply = await chat.click("anna", pick(other, 1, 0, correct_option(programme, 1, 0)))

    assert "That quiz belongs to another cohort." in reply.text
    assert await rows(store, QuizAnswer) == []


async def test_no_answers_before_the_quiz_opens_or_after_it_closes(
    chat: Chat, store: Store, cohort: Cohort
) -> None:
    before_theme = await chat.click("anna", pick(cohort, 1, 0, 0))
    assert "The quiz for theme 1 is not open yet." in before_theme.text

    await chat.say("fia", "theme start 1")
    before_quiz = await chat.click("anna", pick(cohort, 1, 0, 0))
    assert "The quiz for theme 1 is not open yet." in before_quiz.text
    assert "The quiz for theme 1 is not open yet." in (await chat.say("anna", "quiz 1")).text
    assert await rows(store, QuizAnswer) == []

    await chat.say("fia", "quiz start 1")
    await chat.say("fia", "quiz close 1")
    after = await chat.click("anna", pick(cohort, 1, 0, 0))
    assert "The quiz for theme 1 has closed." in after.text
    assert await rows(store, QuizAnswer) == []


# ---------------------------------------------------------------- languages


async def test_a_swedish_cohort_answers_in_swedish_until_someone_chooses_english(
    digilog: Digilog, store: Store, programme: Programme
) -> None:
    swedish = await make_cohort(store, programme, "grupp-sv", language="sv")
    chat = Chat(digilog, swedish)

    assert "== Kommandon i Digilog ==" in (await chat.say("anna", "help")).text

    chosen = await chat.say("anna", "language en")

    assert chosen.text.strip() == "From now on I will write to you in English."
    anna, bjorn = await person(store, "anna"), await person(store, "bjorn")
    assert anna is not None and anna.language == "en"
    assert bjorn is not None and bjorn.language is None
    assert "== Digilog commands ==" in (await chat.say("anna", "help")).text
    assert "== Kommandon i Digilog ==" in (await chat.say("bjorn", "help")).text
    # A refusal is in the person's language too.
    assert "Det kan bara en processledare" in (await chat.say("bjorn", "members")).text
    assert ONLY_FACILITATORS in (await chat.say("anna", "members")).text


async def test_the_theme_post_is_in_the_cohorts_language_whatever_the_facilitator_reads(
    digilog: Digilog, store: Store, programme: Programme
) -> None:
    swedish = await make_cohort(store, programme, "grupp-sv", language="sv")
    chat = Chat(digilog, swedish)
    await chat.say("fia", "language en")

    reply = await chat.say("fia", "theme start 1")

    assert "Theme 1 has started and its digilog is open." in reply.private
    (post,) = reply.public
    assert post.message.summary == "Tema 1: Därför är det stort fokus på digital transformation"


async def test_the_platforms_locale_counts_when_nobody_has_chosen(
    digilog: Digilog, store: Store, programme: Programme
) -> None:
    swedish = await make_cohort(store, programme, "grupp-sv", language="sv")
    chat = Chat(digilog, swedish, locale="en-GB")

    assert "== Digilog commands ==" in (await chat.say("anna", "help")).text

    # A saved choice wins over the platform's hint.
    await chat.say("bjorn", "language sv")
    assert "== Kommandon i Digilog ==" in (await chat.say("bjorn", "help")).text


async def test_in_another_cohorts_channel_in_key_is_refused_rather_than_ignored(
    store: Store, programme: Programme, digilog: Digilog, cohort: Cohort
) -> None:
    """Fia facilitates two cohorts; in grupp-2's channel she names grupp-1."""
    other = await make_cohort(store, programme, "grupp-2")
    in_other = Chat(digilog, other)
    refused = await in_other.say("fia", f"theme start 1 --in {cohort.key}")
    assert "names another cohort" in refused.text
    async with store.transaction() as repos:
        assert await repos.themes.started(cohort.id) == []
        assert await repos.themes.started(other.id) == []
    # Naming the channel's own cohort is fine.
    started = await in_other.say("fia", "theme start 1 --in grupp-2")
    assert "names another cohort" not in started.text
    async with store.transaction() as repos:
        assert [run.theme_number for run in await repos.themes.started(other.id)] == [1]


async def test_settings_in_swedish_words(chat: Chat, store: Store) -> None:
    """What follows a Swedish command word is Swedish too, and is shown back in Swedish."""
    await chat.say("anna", "språk sv")

    paused = await chat.say("anna", "påminnelser pausa")
    muted = await chat.say("anna", "påminnelser tysta inlägg")
    hours = await chat.say("anna", "arbetstider mån-tor 09-15")
    opted = await chat.say("anna", "lärkompisar avstå")

    assert "pausade till" in paused.text  # snoozed for a week
    assert re.search(r"Avstängda typer +inlägg", muted.text)
    assert "mån–tor 09–15" in hours.text
    assert "Du får ingen lärkompis." in opted.text
    async with store.transaction() as repos:
        anna = await repos.people.by_account("console", "local", "anna")
        assert anna is not None
        assert anna.muted_nudges == ["post"] and anna.working_hours == "mon-thu 09:00-15:00"
    preview = await chat.say("fia", "påminn 1 inlägg")
    assert "Nudge preview" in preview.text and "have not posted in the digilog" in preview.text


def test_what_reads_text_is_known_before_it_is_handled() -> None:
    """The journal loads the Swedish dictionary before these, a slice at a time (bot/work.py):
    the bank's search and whatever may save a reflection; never for a quiz click."""
    from handlers.core.vocabulary import (
        Actor,
        ChoiceMade,
        CommandReceived,
        FormSubmitted,
        HomeOpened,
        ThreadPost,
    )
    from handlers.features import REGISTRY

    anna = Actor("slack", "T1", "U_ANNA", "Anna", "sv-SE")
    here = Conversation("slack", "T1", "C1")
    reading = [
        CommandReceived(anna, here, "bank digitalisering"),
        CommandReceived(anna, here, "reflect Vi har pratat om ledarskap"),
        FormSubmitted(anna, here, "reflect:3-1", {"text": "Ledarskap"}),
        ThreadPost(anna, here, "1.2", "Vi provade det i går"),
    ]
    not_reading = [
        CommandReceived(anna, here, "help"),
        CommandReceived(anna, here, "quiz 1"),
        CommandReceived(anna, here, "no such command"),
        ChoiceMade(anna, here, "quiz:3-1:0:2"),
        HomeOpened(anna, here),
    ]
    assert [REGISTRY.reads_text(event) for event in reading] == [True] * len(reading)
    assert [REGISTRY.reads_text(event) for event in not_reading] == [False] * len(not_reading)
