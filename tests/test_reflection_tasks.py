"""The reflection task as in the programme: with a colleague or a learning buddy, chosen
with a button where the programme allows both; a colleague from the roster gets the task
too; "what we found" is a reflection of its own kind, and the report counts tasks done."""

from __future__ import annotations

from bot.console.render import render
from handlers.core.i18n import translator
from handlers.core.programme_file import Programme
from handlers.core.vocabulary import FileMessage, Form, Option, Outgoing, SelectField, ToPerson
from handlers.digilog import Digilog
from handlers.report import figures
from storage.models import Role
from storage.unit import Store
from tests.chat import Chat
from tests.conftest import PEOPLE, make_cohort

COLLEAGUES = (
    *PEOPLE,
    ("anders", "Anders Nilsson", "umea", Role.participant),
    ("agnes", "Agnes Berg", "umea", Role.participant),
)


async def test_a_participant_chooses_a_colleague_and_both_get_the_task(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    cohort = await make_cohort(store, programme, people=COLLEAGUES)
    chat = Chat(digilog, cohort)
    started = await chat.say("fia", "theme start 1")
    [post] = started.public[:1]
    labels = [o.label for o in chat_options(post)]
    assert labels[:2] == ["With a colleague", "With my learning buddy"]
    assert "colleague from your own organisation or with your learning buddy" in str(post)
    # Not chosen yet: `task 1` reads as the post does, not as the colleague's version.
    before = (await chat.say("anna", "task 1")).text
    assert "Compare your two organisations" in before and "Together with a colleague" not in before

    async with store.transaction() as repos:
        people = {m.person.user_id: m.person.id for m in await repos.people.members(cohort.id)}

    reply = await chat.click("anna", f"task:{cohort.id}:1:colleague")
    [form] = reply.forms
    assert form.form_id == f"taskwho:{cohort.id}:1"
    select = form.fields[0]
    assert isinstance(select, SelectField)
    # Only colleagues of her own organisation, not herself, not Björn of Piteå.
    assert [label for _, label in select.options] == ["Agnes Berg", "Anders Nilsson"]

    for values, refusal in (
        ({}, "one of them"),
        ({"colleague": str(people["anders"]), "name": "Eva Ek"}, "one of them"),
        ({"colleague": str(people["bjorn"])}, "from your own organisation"),
        ({"name": "x" * 201}, "at most 200 characters"),
    ):
        assert refusal in (await chat.submit("anna", form.form_id, values)).text
    async with store.transaction() as repos:
        assert await repos.tasks.get(cohort.id, 1, people["anna"]) is None  # nothing changed

    reply = await chat.submit("anna", form.form_id, {"colleague": str(people["anders"])})
    assert "Together with a colleague in your own organisation" in reply.private
    assert "You do it with Anders Nilsson." in reply.private
    [dm] = [o for o in reply.outgoing if isinstance(o.to, ToPerson)]
    assert dm.to.user_id == "anders"
    assert "Anna Lindqvist does the reflection task of theme 1 with you." in str(dm.message)

    # Either of them hands in what they found; it is done for both.
    [found_form] = (await chat.click("anders", f"task:{cohort.id}:1:found")).forms
    assert found_form.form_id == f"taskfound:{cohort.id}:1"
    reply = await chat.submit(
        "anders",
        found_form.form_id,
        {"text": "Vi hittade tre e-tjänster som bara digitiserats.", "visibility": "facilitators"},
    )
    assert "the reflection task of theme 1 is done" in reply.text
    assert "already" in (await chat.click("anna", f"task:{cohort.id}:1:found")).text
    assert "Done: you have handed in" in (await chat.say("anna", "task 1")).text

    # Someone not in the programme, by name; then with a learning buddy.
    [form] = (await chat.click("agnes", f"task:{cohort.id}:1:colleague")).forms
    await chat.submit("agnes", form.form_id, {"name": "  Eva   Ek "})
    async with store.transaction() as repos:
        agnes = await repos.tasks.get(cohort.id, 1, people["agnes"])
        assert agnes is not None and agnes.partner_name == "Eva Ek" and agnes.partner_id is None
    assert "Choose first" in (await chat.click("bjorn", f"task:{cohort.id}:1:found")).text
    reply = await chat.click("bjorn", f"task:{cohort.id}:1:buddy")
    assert "Compare your two organisations" in reply.text
    assert "The facilitators announce your learning buddy" in reply.text
    [found_form] = (await chat.click("bjorn", f"task:{cohort.id}:1:found")).forms
    await chat.submit(
        "bjorn", found_form.form_id, {"text": "Tre likheter.", "visibility": "private"}
    )

    async with store.transaction() as repos:
        report = await figures(repos, cohort, translator("en"))
        assert report.tasks == {1: {"colleague": 2, "buddy": 1}}
    bank = await chat.say("anna", "bank --kind task")
    assert "Vi hittade tre e-tjänster" not in bank.text  # for the facilitators, not the cohort
    assert "Tre likheter" not in bank.text  # private
    facilitator = await chat.say("fia", "bank --kind task")
    assert "Vi hittade tre e-tjänster" in facilitator.text
    assert "what we found (reflection task)" in facilitator.text


async def test_a_theme_done_with_a_colleague_only_offers_no_buddy_and_speaks_swedish(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    cohort = await make_cohort(store, programme, people=COLLEAGUES, language="sv")
    chat = Chat(digilog, cohort, locale="sv")
    await chat.say("fia", "theme start 1")
    started = await chat.say("fia", "theme start 2")
    [post] = started.public[:1]
    assert [o.label for o in chat_options(post)][:1] == ["Med kollega"]
    refused = await chat.click("anna", f"task:{cohort.id}:2:buddy")
    assert "I det här temat gör du reflektionsuppgiften med en kollega." in refused.text
    assert "Säg först vem" in (await chat.click("anna", f"task:{cohort.id}:2:found")).text
    reply = await chat.say("anna", "uppgift 1")
    assert [o.label for o in reply.options][:2] == ["Med kollega", "Med lärkompis"]


def chat_options(post: Outgoing) -> list[Option]:
    assert not isinstance(post.message, Form | FileMessage)
    return render(post.message)[1]
