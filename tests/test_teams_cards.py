"""Adaptive Cards for Teams: real handler messages and forms, checked against the official
Adaptive Cards 1.5 schema, and submissions read back as Teams sends them."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest

from bot.teams.binding import Binder, binder_of
from bot.teams.cards import (
    CARD_BYTES,
    MAX_ACTIONS,
    VERB,
    card,
    card_size,
    choice_of,
    escape,
    form_card,
    markdown,
    submitted_values,
)
from handlers.core.programme_file import Programme
from handlers.core.vocabulary import (
    Conversation,
    Form,
    FormSubmitted,
    HomeOpened,
    Message,
    MessageBuilder,
    Option,
    SelectField,
    Span,
    TextField,
)
from handlers.digilog import Digilog
from handlers.quiz import quiz_announcement
from handlers.themes import theme_post
from storage.models import Cohort
from tests.chat import Chat
from tests.conftest import ROOT

JSON = dict[str, Any]

SCHEMA_FILE = ROOT.parent / "shared" / "schemas" / "adaptive-card-1.5.json"


@pytest.fixture(scope="session")
def card_schema() -> jsonschema.Draft6Validator:
    """The official Adaptive Cards 1.5 schema, from shared/ beside the project."""
    if not SCHEMA_FILE.is_file():
        pytest.skip(
            f"the Adaptive Cards 1.5 schema is missing at {SCHEMA_FILE}: "
            "these tests need ../shared/schemas/ beside the project (see its README.md)"
        )
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return jsonschema.Draft6Validator(schema)


@pytest.fixture
def valid(card_schema: jsonschema.Draft6Validator) -> Any:
    def check(rendered: JSON) -> JSON:
        card_schema.validate(rendered)
        assert rendered["type"] == "AdaptiveCard" and rendered["version"] == "1.5"
        assert rendered["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
        assert card_size(rendered) <= CARD_BYTES
        json.dumps(rendered)  # JSON-able, nothing else
        return rendered

    return check


@pytest.fixture
def chat(digilog: Digilog, cohort: Cohort) -> Chat:
    return Chat(digilog, cohort)


def texts(rendered: JSON) -> list[str]:
    return [e["text"] for e in rendered["body"] if e["type"] == "TextBlock"]


def actions(rendered: JSON) -> list[JSON]:
    return [a for e in rendered["body"] if e["type"] == "ActionSet" for a in e["actions"]]


def inputs(rendered: JSON) -> dict[str, JSON]:
    return {e["id"]: e for e in rendered["body"] if e["type"].startswith("Input.")}


def pressed(action: JSON, values: dict[str, str] | None = None) -> JSON:
    """An `adaptiveCard/action` invoke's value, as Teams sends it for an Action.Execute."""
    assert action["type"] == "Action.Execute"
    data = {**action["data"], **(values or {})}
    return {"action": {"type": "Action.Execute", "verb": action["verb"], "data": data}}


def unescaped(text: str) -> str:
    """What CommonMark shows for text that holds only backslash escapes and paragraphs."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text.replace("\n\n", "\n"))


def message_of(reply: Any) -> Message:
    [(_, message)] = reply.messages
    assert isinstance(message, Message)
    return message


# ---------------------------------------------------------------- real messages


def test_a_theme_post_is_a_valid_card(valid: Any, programme: Programme) -> None:
    theme = programme.theme(1)
    assert theme is not None
    message = theme_post(theme, 1, "en", 7)

    rendered = valid(card(message))

    heading, *_ = rendered["body"]
    assert heading == {
        "type": "TextBlock",
        "text": message.summary,
        "wrap": True,
        "style": "heading",
        "size": "Medium",
        "weight": "Bolder",
    }
    assert rendered["fallbackText"] == rendered["speak"] == message.summary
    [materials] = [t for t in texts(rendered) if t.startswith("- ")]
    first = theme.materials[0]
    assert materials.split("\n")[0].startswith(f"- [{escape(first.title['en'])}]({first.url})")
    assert len(materials.split("\n")) == len(theme.materials)
    assert "**Reflection task**" in texts(rendered)
    # The divider draws its line above the digilog paragraph that follows it.
    [digilog] = [e for e in rendered["body"] if e.get("separator")]
    assert digilog["text"].startswith("**Digilog**: ")
    # Theme 1 lets the participant choose how to do the reflection task, then reflect.
    *task_choices, button = actions(rendered)
    assert [c["title"] for c in task_choices] == ["With a colleague", "With my learning buddy"]
    assert button == {
        "type": "Action.Execute",
        "title": "Write a reflection",
        "verb": VERB,
        "data": {"action_id": "reflect:7:1"},
    }
    assert choice_of(pressed(button)) == "reflect:7:1"


def test_a_quiz_announcement_has_a_positive_button(
    valid: Any, programme: Programme, cohort: Cohort
) -> None:
    theme = programme.theme(1)
    assert theme is not None
    rendered = valid(card(quiz_announcement(cohort, theme, 1)))
    [button] = actions(rendered)
    assert button["style"] == "positive"
    assert button["title"] == "Take the quiz"
    assert choice_of(pressed(button)) == f"quiz:{cohort.id}-1:begin"


async def test_a_quiz_question_lists_long_options_and_answers_by_number(
    valid: Any, chat: Chat
) -> None:
    await chat.say("fia", "theme start 1")
    [announcement] = (await chat.say("fia", "quiz start 1")).public
    assert isinstance(announcement.message, Message)
    [begin] = actions(valid(card(announcement.message)))

    question = valid(card(message_of(await chat.click("anna", choice_of(pressed(begin)) or ""))))

    listing = texts(question)[-1]
    labels = [line.split(". ", 1)[1] for line in listing.split("\n")]
    # Shown in Anna's own order (handlers.quiz.shown_order), the right one among them.
    assert "Using digital technology to change" in listing
    buttons = actions(question)
    assert [b["title"] for b in buttons] == [str(n) for n in range(1, len(labels) + 1)]
    assert [b["tooltip"] for b in buttons] == [unescaped(label) for label in labels]
    [right] = [b for b in buttons if b["tooltip"].startswith("Using digital technology")]
    answer = await chat.click("anna", choice_of(pressed(right)) or "")
    assert "Right!" in answer.text
    # The next question's options are short: buttons with the labels themselves.
    short = actions(valid(card(message_of(answer))))
    assert sorted(b["title"] for b in short) == sorted(
        [
            "Digitisation",
            "Digitalisation",
            "Digital transformation",
            "Automation",
        ]
    )
    assert not any("tooltip" in b for b in short)


async def test_the_reflection_form_round_trips_and_user_text_shows_literally(
    valid: Any, chat: Chat
) -> None:
    [post] = (await chat.say("fia", "theme start 1")).public
    assert isinstance(post.message, Message)
    *_, write = actions(valid(card(post.message)))  # after the reflection task's choices
    [form] = (await chat.click("anna", choice_of(pressed(write)) or "")).forms

    rendered = valid(form_card(form))

    assert texts(rendered)[0] == "Write a reflection"
    fields = inputs(rendered)
    assert list(fields) == ["theme", "visibility", "text"]
    assert fields["theme"]["type"] == "Input.ChoiceSet"
    assert fields["theme"]["style"] == "compact"
    assert fields["theme"]["value"] == "1"
    assert fields["theme"]["choices"][0]["value"] == "1"
    assert fields["text"]["type"] == "Input.Text"
    assert fields["text"]["isMultiline"] is True
    assert fields["text"]["isRequired"] is True and fields["text"]["errorMessage"]
    [submit] = rendered["actions"]
    assert submit["type"] == "Action.Execute" and submit["title"] == "Save"
    assert submit["data"]["form_id"] == form.form_id
    # How the card showed each field travels with the answers, for the answered card.
    assert submit["data"]["shown"]["visibility"][0] == fields["visibility"]["label"]

    reflection = "Jag lärde mig **mycket** av [x](y) – och _det_ var `bra` <3 & mer."
    filled = {"theme": "1", "visibility": "cohort", "text": reflection}
    submitted = submitted_values(pressed(submit, filled))
    assert submitted == (form.form_id, filled)
    form_id, values = submitted
    saved = await chat.send(FormSubmitted(chat.actor("anna"), chat.channel, form_id, values))
    assert "Saved in the reflection bank" in saved.text

    bank = valid(card(message_of(await chat.say("anna", "bank"))))
    [shown] = [t for t in texts(bank) if "lärde" in t]
    assert shown == (
        r"Jag lärde mig \*\*mycket\*\* av \[x\](y) – och \_det\_ var \`bra\` \<3 & mer."
    )
    assert unescaped(shown) == reflection


async def test_a_survey_form_and_its_post_are_valid_cards(valid: Any, chat: Chat) -> None:
    await chat.say("fia", "theme start 1")
    [post] = (await chat.say("fia", "survey open 1")).public
    assert isinstance(post.message, Message)
    [answer] = actions(valid(card(post.message)))
    assert answer["style"] == "positive"
    [form] = (await chat.click("anna", choice_of(pressed(answer)) or "")).forms

    rendered = valid(form_card(form, placeholder="Choose", required="Please answer."))

    fields = inputs(rendered)
    assert list(fields) == [field.field_id for field in form.fields]
    ratings = [f for f in fields.values() if f["type"] == "Input.ChoiceSet"]
    assert ratings and all(f["isRequired"] and f["placeholder"] == "Choose" for f in ratings)
    assert [c["value"] for c in ratings[0]["choices"]] == list("12345")
    comment = fields["comment"]
    assert comment["isRequired"] is False and "errorMessage" not in comment
    [submit] = rendered["actions"]
    form_id, values = submitted_values(pressed(submit, {"useful": "4", "buddy": "2"})) or ("", {})
    thanks = await chat.send(FormSubmitted(chat.actor("anna"), chat.channel, form_id, values))
    assert "are saved" in thanks.text


async def test_home_pages_are_valid_cards(valid: Any, chat: Chat) -> None:
    await chat.say("fia", "theme start 1")
    await chat.say("fia", "survey open 1")
    await chat.post("anna", 1, "Ett inlägg med *stjärnor* och _understreck_.")
    for user in ("anna", "fia", "okand"):
        page = message_of(await chat.send(HomeOpened(chat.actor(user), chat.channel)))
        rendered = valid(card(page))
        assert rendered["body"][0]["style"] == "heading"
    anna = valid(card(message_of(await chat.send(HomeOpened(chat.actor("anna"), chat.channel)))))
    assert any(a["data"]["action_id"].startswith("survey:") for a in actions(anna))


# ---------------------------------------------------------------- Markdown


def test_markdown_escapes_what_teams_would_read_as_markup() -> None:
    assert escape("**fet** och [x](y)") == r"\*\*fet\*\* och \[x\](y)"
    assert escape("a_b `c` ~d~ <e> \\ f") == r"a\_b \`c\` \~d\~ \<e> \\ f"
    assert escape("R&amp;D & co") == r"R\&amp;D & co"  # an entity, not a lone "&"
    assert escape("{{DATE(2025-03-12T09:00:00Z)}}") == r"\{\{DATE(2025-03-12T09:00:00Z)}}"
    # At the start of a line: lists, headings, quotes; in the middle of one, nothing to do.
    for line, shown in [
        ("- punkt", r"\- punkt"),
        ("+ punkt", r"\+ punkt"),
        ("# rubrik", r"\# rubrik"),
        ("> citat", r"\> citat"),
        ("1. ett", r"1\. ett"),
        ("2025) år", r"2025\) år"),
        ("    kod", "kod"),
    ]:
        assert escape(line) == shown
        assert escape(line, line_start=False) == line
    assert markdown((Span("rad ett\n- rad två\r\n3. tre"),)) == "rad ett\n\n\\- rad två\n\n3\\. tre"


def test_strong_links_and_references() -> None:
    spans = (
        Span("Se "),
        Span("filmen [del 1]", link="https://e.se/a b(c)"),
        Span(" nu ", strong=True),
        Span("här", strong=True, link="https://e.se/x"),
        Span(" och "),
        Span("  ", link="https://e.se/tom"),
    )
    assert markdown(spans) == (
        r"Se [filmen \[del 1\]](https://e.se/a%20b%28c%29) **nu** **[här](https://e.se/x)**"
        r" och [https://e.se/tom](https://e.se/tom)"
    )
    assert markdown((Span("rad ett\nrad två", strong=True),)) == "**rad ett**\n\n**rad två**"
    assert markdown((Span("   ", strong=True),)) == ""

    thread = Conversation("teams", "tenant", "19:kanal", "1700000000000")
    ref = (Span("Gå till digilogen", ref=thread),)
    assert markdown(ref) == "Gå till digilogen"
    assert markdown(ref, link_to=lambda _: None) == "Gå till digilogen"
    link = "https://teams.microsoft.com/l/message/19:kanal/1700000000000"
    seen: list[Conversation] = []

    def link_to(where: Conversation) -> str:
        seen.append(where)
        return link

    assert markdown(ref, link_to=link_to) == f"[Gå till digilogen]({link})"
    assert seen == [thread]
    rendered = card(MessageBuilder().para(*ref).build(), link_to=link_to)
    assert texts(rendered) == [f"[Gå till digilogen]({link})"]


def test_every_block_kind(valid: Any) -> None:
    message = (
        MessageBuilder()
        .divider()  # nothing above it: no line
        .heading("Tema 1: R&D <2025>")
        .para("Titta på ", Span("filmen", strong=True), ".")
        .bullets([(Span("Film"),), "Podd - del 2", "  "])
        .facts([("Start", "12 mars"), ("Plats *", "Zoom")])
        .note("Svara senast fredag.")
        .divider()
        .divider()
        .choices([Option("a", "Ja", "primary"), Option("b", "Nej", "danger"), Option("c", "?")])
        .divider()  # nothing below it: no line
        .build()
    )

    rendered = valid(card(message))

    heading, para, bullets, facts, note, buttons = rendered["body"]
    assert heading["text"] == r"Tema 1: R&D \<2025>"
    assert para == {"type": "TextBlock", "text": "Titta på **filmen**.", "wrap": True}
    assert bullets["text"] == "- Film\n- Podd - del 2"
    assert facts == {
        "type": "FactSet",
        "facts": [
            {"title": "Start", "value": "12 mars"},
            {"title": r"Plats \*", "value": "Zoom"},
        ],
    }
    assert note == {
        "type": "TextBlock",
        "text": "Svara senast fredag.",
        "wrap": True,
        "isSubtle": True,
        "size": "Small",
    }
    assert buttons["separator"] is True
    assert [e.get("separator") for e in rendered["body"][:-1]] == [None] * 5
    assert [(a["title"], a.get("style")) for a in buttons["actions"]] == [
        ("Ja", "positive"),
        ("Nej", "destructive"),
        ("?", None),
    ]


def test_many_options_take_several_rows_and_none_is_dropped(valid: Any) -> None:
    options = [Option(f"org:{n}", f"Kommun {n}") for n in range(14)]
    rendered = valid(card(MessageBuilder().choices(options).build()))
    rows = [e["actions"] for e in rendered["body"] if e["type"] == "ActionSet"]
    assert all(len(row) <= MAX_ACTIONS for row in rows) and len(rows) > 2
    assert [choice_of(pressed(a)) for row in rows for a in row] == [o.action_id for o in options]


def test_an_empty_summary_falls_back_to_the_first_text(valid: Any) -> None:
    rendered = valid(card(Message(MessageBuilder().para(" Hej  du ").build().blocks, "")))
    assert rendered["fallbackText"] == rendered["speak"] == "Hej du"


# ---------------------------------------------------------------- refusals


def test_a_card_over_the_size_limit_is_refused_not_cut() -> None:
    builder = MessageBuilder()
    for n in range(40):
        builder.para(f"Stycke {n}: " + "ord " * 200)  # about 32 KB in all
    with pytest.raises(ValueError, match=r"Adaptive Card of [\d,]+ bytes; Teams takes about"):
        card(builder.build())
    long_form = Form(
        "f",
        "F",
        (SelectField("s", "S", tuple((str(n), "alternativ " * 10) for n in range(400))),),
        "OK",
    )
    with pytest.raises(ValueError, match="form 'f' makes an Adaptive Card"):
        form_card(long_form)


def test_cards_refuse_what_would_be_ambiguous() -> None:
    twice = MessageBuilder().choices([Option("a", "Ja")]).choices([Option("a", "Igen")]).build()
    with pytest.raises(ValueError, match="twice"):
        card(twice)
    with pytest.raises(ValueError, match="no label"):
        card(MessageBuilder().choices([Option("a", " ")]).build())
    reserved = Form("f", "F", (TextField("form_id", "Id"),), "OK")
    with pytest.raises(ValueError, match="reserved"):
        form_card(reserved)
    repeated = Form("f", "F", (TextField("x", "X"), TextField("x", "Y")), "OK")
    with pytest.raises(ValueError, match="repeats a field id"):
        form_card(repeated)
    bad_initial = Form("f", "F", (SelectField("s", "S", (("1", "Ett"),), initial="9"),), "OK")
    with pytest.raises(ValueError, match="not an option"):
        form_card(bad_initial)


# ---------------------------------------------------------------- coming back


def test_a_form_card_in_full(valid: Any) -> None:
    form = Form(
        form_id="reflect:3",
        title="Din reflektion",
        intro="Skriv *fritt* & ärligt.",
        fields=(
            TextField(
                "text", "Vad tar du med dig?", multiline=True, max_length=4000, placeholder="…"
            ),
            SelectField("theme", "Tema", (("1", "Tema 1"), ("2", "Tema 2")), initial="2"),
            TextField("extra", "Något mer?", optional=True, initial="Nej"),
        ),
        submit_label="Spara",
    )

    rendered = valid(form_card(form))

    title, intro, text, theme, extra = rendered["body"]
    assert title["text"] == "Din reflektion" and title["style"] == "heading"
    assert intro["text"] == r"Skriv \*fritt\* & ärligt."
    assert text == {
        "type": "Input.Text",
        "id": "text",
        "label": "Vad tar du med dig?",
        "isRequired": True,
        "errorMessage": "Fyll i det här. / Please fill this in.",
        "isMultiline": True,
        "maxLength": 4000,
        "placeholder": "…",
    }
    assert theme == {
        "type": "Input.ChoiceSet",
        "id": "theme",
        "label": "Tema",
        "isRequired": True,
        "errorMessage": "Fyll i det här. / Please fill this in.",
        "style": "compact",
        "choices": [{"title": "Tema 1", "value": "1"}, {"title": "Tema 2", "value": "2"}],
        "placeholder": "Välj / Choose",
        "wrap": True,
        "value": "2",
    }
    assert extra == {
        "type": "Input.Text",
        "id": "extra",
        "label": "Något mer?",
        "isRequired": False,
        "isMultiline": False,
        "value": "Nej",
    }
    assert rendered["actions"] == [
        {
            "type": "Action.Execute",
            "title": "Spara",
            "verb": VERB,
            "data": {
                "form_id": "reflect:3",
                "shown": {
                    "text": ["Vad tar du med dig?", {}],
                    "theme": ["Tema", {"1": "Tema 1", "2": "Tema 2"}],
                    "extra": ["Något mer?", {}],
                },
            },
            "style": "positive",
        }
    ]
    assert rendered["fallbackText"] == "Din reflektion"


def test_submitted_values_reads_every_shape_teams_sends() -> None:
    data = {"form_id": "reflect:3", "text": "Att våga fråga.", "theme": "2", "extra": ""}
    expected = ("reflect:3", {"text": "Att våga fråga.", "theme": "2", "extra": ""})
    # Action.Execute: an adaptiveCard/action invoke.
    invoke = {"action": {"type": "Action.Execute", "verb": VERB, "data": data}, "trigger": "manual"}
    assert submitted_values(invoke) == expected
    # What the adapter has already unwrapped, or an Action.Submit's message value.
    assert submitted_values(data) == expected
    # A dialog's task/submit invoke.
    assert submitted_values({"data": data, "context": {"theme": "dark"}}) == expected
    # Values come back as strings, whatever JSON carried them.
    odd = {"form_id": "f", "n": 3, "yes": True, "none": None, "msteams": {"type": "x"}}
    assert submitted_values(odd) == ("f", {"n": "3", "yes": "true", "none": ""})
    # Not ours: another verb, no form id, a choice.
    assert submitted_values({"action": {"verb": "other", "data": data}}) is None
    assert submitted_values({"text": "hej"}) is None
    assert submitted_values({"action_id": "a"}) is None
    assert submitted_values({"form_id": ""}) is None


def test_choice_of_reads_a_pressed_button() -> None:
    button = {"type": "Action.Execute", "verb": VERB, "data": {"action_id": "lab:join:1"}}
    assert choice_of(pressed(button)) == "lab:join:1"
    assert choice_of({"action_id": "lab:join:1"}) == "lab:join:1"
    assert choice_of({"action": {"verb": "other", "data": {"action_id": "x"}}}) is None
    assert choice_of({"form_id": "f", "action_id": "x"}) is None  # a form, not a button
    assert choice_of({"action_id": 5}) is None
    assert choice_of({}) is None


def test_a_sealed_channel_opens_for_its_person_only_and_after_a_key_rotation() -> None:
    """A join button's channel (bot/teams/binding.py): for one person in one tenant, and
    still good once DIGILOG_SECRET_KEYS has a new key first."""
    channel = "19:grupp1@thread.tacv2"
    binder = binder_of(["first-key"], "app-password")
    sealed = binder.seal("tenant", "29:anna", channel)
    assert Binder.looks_sealed(sealed) and not Binder.looks_sealed(channel)
    assert binder.open("tenant", "29:anna", sealed) == channel
    assert binder.open("tenant", "29:bjorn", sealed) is None
    assert binder.open("other-tenant", "29:anna", sealed) is None
    assert binder.open("tenant", "29:anna", sealed.replace("grupp1", "grupp2")) is None
    assert (
        binder_of(["new-key", "first-key"], "app-password").open("tenant", "29:anna", sealed)
        == channel
    )
    assert binder_of(["someone-elses"], None).open("tenant", "29:anna", sealed) is None
