"""A needs inventory leads somewhere: Digilog suggests up to three labs whose descriptions
meet it (through the reflection bank's Swedish analyser), with sign-up buttons, in the
reader's language; and nothing when nothing meets it."""

from __future__ import annotations

from pathlib import Path

from handlers.core.programme_file import Programme, load_programme
from handlers.digilog import Digilog
from handlers.lab_suggestions import suggest, terms
from storage.unit import Store
from tests.chat import Chat
from tests.conftest import make_cohort

PROGRAMME = load_programme(Path(__file__).parent.parent / "examples" / "digital-kompetens.yaml")
PHISHING = "kanna-igen-natfiskemejl"
INFORMATION = "hantera-information"


def suggested(needs: str) -> list[str]:
    return [s.lab.id for s in suggest(PROGRAMME.labs, needs)]


def test_inflections_and_compounds_meet_the_labs_words() -> None:
    # "nätfiskemejlen" and "informationssäkerheten": another form, and a compound.
    assert suggested("Jag vill känna igen nätfiskemejlen och prata informationssäkerheten.")[0] == (
        PHISHING
    )
    assert suggested("Hur sorterar jag informationen när jag drunknar i mejlen?")[0] == (
        INFORMATION
    )
    assert "nätfiske" in terms("nätfiskemejlet") and "mejl" in terms("nätfiskemejlet")
    # Two letters, but what a lab is about: "AI" meets "AI-tjänster".
    assert suggested("Jag vill förstå vad AI betyder för oss som chefer.") == [
        "generativ-ai-i-vardagen"
    ]


def test_nothing_is_suggested_when_nothing_matches() -> None:
    assert suggested("Jag vill baka bröd och åka skidor i fjällen.") == []
    assert suggested("") == []
    # Words every needs inventory has, and function words, match no lab by themselves.
    assert suggested("Jag vill lära mig och utveckla mig, jag behöver hjälp.") == []


def test_at_most_three_labs_best_first() -> None:
    everything = " ".join(f"{lab.title['sv']} {lab.description['sv']}" for lab in PROGRAMME.labs)
    found = suggest(PROGRAMME.labs, everything)
    assert len(found) == 3
    assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)


async def test_writing_the_needs_inventory_suggests_labs_with_sign_up_buttons(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    cohort = await make_cohort(store, programme, "grupp-sv", language="sv")
    chat = Chat(digilog, cohort)
    saved = await chat.say(
        "anna", "behov Jag vill bli bättre på att känna igen nätfiskemejl i min grupp."
    )
    assert "Lärlabb som kan möta dina behov:" in saved.text
    assert "Känna igen ett nätfiskemejl" in saved.text
    assert "Lab" not in saved.text.replace("Labb", "")  # no English heading or title
    signup = f"lab:{cohort.id}:signup:{PHISHING}:1"
    buttons = {o.action_id: o.label for o in saved.options}
    assert buttons[signup] == f"Anmäl mig: {PHISHING} 1"

    seated = await chat.click("anna", signup)
    assert "Du har en plats" in seated.text
    # Writing it again: the session she has a seat in has no button any more.
    again = await chat.say("anna", "behov Nätfiske och säkra mejl, det vill jag kunna.")
    assert "Känna igen ett nätfiskemejl" in again.text
    assert signup not in {o.action_id for o in again.options}

    # The form leads to the same place.
    submitted = await chat.submit(
        "bjorn",
        f"meeting:{cohort.id}:needs",
        {"text": "Att sortera information och mejl utan att drunkna.", "visibility": "private"},
    )
    assert "Hantera information" in submitted.text
    assert f"lab:{cohort.id}:signup:{INFORMATION}:1" in {o.action_id for o in submitted.options}


async def test_nothing_is_suggested_for_needs_no_lab_meets(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    cohort = await make_cohort(store, programme, "grupp-sv", language="sv")
    chat = Chat(digilog, cohort)
    saved = await chat.say("anna", "behov Jag vill baka bröd och åka skidor.")
    assert "sparad" in saved.text
    assert "Lärlabb som kan möta dina behov" not in saved.text
    assert not [o for o in saved.options if ":signup:" in o.action_id]


async def test_the_suggestions_are_in_the_readers_language(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    cohort = await make_cohort(store, programme, "grupp-sv", language="sv")
    chat = Chat(digilog, cohort)
    await chat.say("anna", "language en")
    saved = await chat.say("anna", "needs Att känna igen nätfiskemejl och prata säkerhet.")
    assert "Labs that may meet your needs:" in saved.text
    assert "Recognising a phishing email" in saved.text
    assert f"Sign up: {PHISHING} 1" in {o.label for o in saved.options}


def test_a_programme_of_one_lab_suggests_it_when_the_needs_meet_it() -> None:
    """With one lab, every term of it is in every lab: weighed against the labs alone
    each would count for nothing, and the one lab would never be suggested."""
    [one] = [lab for lab in PROGRAMME.labs if lab.id == INFORMATION]
    found = suggest([one], "Hur sorterar jag informationen när jag drunknar i mejlen?")
    assert [s.lab.id for s in found] == [INFORMATION]
    # One shared word is not a match, nor are needs that the lab does not meet.
    assert suggest([one], "Jag vill bli bättre på budskap.") == []
    assert suggest([one], "Jag vill baka bröd och åka skidor i fjällen.") == []
    assert suggest([one], "Jag vill lära mig och utveckla mig, jag behöver hjälp.") == []


async def test_a_one_lab_programme_offers_its_lab_with_its_sign_up_button(
    store: Store, programme: Programme, digilog: Digilog
) -> None:
    only = programme.model_copy(
        update={"labs": [lab for lab in programme.labs if lab.id == INFORMATION]}
    )
    cohort = await make_cohort(store, only, "grupp-sv", language="sv")
    saved = await Chat(digilog, cohort).say(
        "anna", "behov Att sortera information och mejl utan att drunkna."
    )
    assert "Lärlabb som kan möta dina behov:" in saved.text
    assert "Hantera information" in saved.text
    assert f"lab:{cohort.id}:signup:{INFORMATION}:1" in {o.action_id for o in saved.options}
