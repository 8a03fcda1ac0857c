"""Block Kit rendering: Slack's own models check every block and view we build."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.slack.blocks import (
    FALLBACK_TEXT,
    MESSAGE_BLOCKS,
    SECTION_TEXT,
    SELECT_ACTION_PREFIX,
    SlackMessage,
    chosen_action_id,
    escape,
    mrkdwn,
    render_home,
    render_message,
    render_modal,
    split_spans,
    values_from_view_state,
)
from handlers.core.vocabulary import (
    Form,
    Message,
    MessageBuilder,
    Option,
    SelectField,
    Span,
    TextField,
)

JSON = dict[str, Any]


def valid(block: JSON) -> JSON:
    """Slack's models accept the block and read it back unchanged (no unknown keys)."""
    parsed = Block.parse(block)
    assert parsed is not None, block
    parsed.validate_json()
    assert parsed.to_dict() == block  # to_dict validates every nested element too
    return block


def valid_view(view: JSON) -> JSON:
    model = View(**view)
    model.validate_json()
    assert model.to_dict() == view
    for block in view["blocks"]:
        valid(block)
    return view


def rendered(message: Message) -> list[SlackMessage]:
    parts = render_message(message)
    for part in parts:
        assert 1 <= len(part.blocks) <= MESSAGE_BLOCKS
        assert 0 < len(part.text) <= FALLBACK_TEXT
        for block in part.blocks:
            valid(block)
        # A private reply's body is joined from each block's JSON text, made when it was
        # rendered: it must say exactly what the blocks say.
        for replace_original in (True, False):
            assert json.loads(part.response_body(replace_original=replace_original)) == {
                "text": part.text,
                "blocks": part.blocks,
                "response_type": "ephemeral",
                "replace_original": replace_original,
            }
    return parts


def only(message: Message) -> list[JSON]:
    parts = rendered(message)
    assert len(parts) == 1
    return parts[0].blocks


def section(text: str) -> JSON:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def plain(text: str) -> JSON:
    return {"type": "plain_text", "text": text, "emoji": True}


def sentences(count: int) -> str:
    return " ".join(f"Mening nummer {n} handlar om digitalt ledarskap." for n in range(count))


# ---------------------------------------------------------------- text


def test_a_plain_message_renders_block_for_block() -> None:
    message = (
        MessageBuilder()
        .heading("Tema 1: Digital transformation")
        .para("Titta på filmen och ", Span("reflektera", strong=True), ".")
        .bullets(["Film 1", "Podd 2"])
        .facts([("Start", "12 mars"), ("Plats", "Zoom")])
        .note("Svara senast fredag.")
        .divider()
        .build()
    )

    [part] = rendered(message)

    assert part.text == "Tema 1: Digital transformation"
    assert part.blocks == [
        {"type": "header", "text": plain("Tema 1: Digital transformation")},
        section("Titta på filmen och *reflektera*."),
        section("• Film 1\n• Podd 2"),
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": "*Start*\n12 mars"},
                {"type": "mrkdwn", "text": "*Plats*\nZoom"},
            ],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "Svara senast fredag."}]},
        {"type": "divider"},
    ]


def test_escaping_and_links() -> None:
    assert escape("a & b < c > d") == "a &amp; b &lt; c &gt; d"
    assert mrkdwn((Span("R&D <ny>"),)) == "R&amp;D &lt;ny&gt;"
    # A "|" or ">" in a link's text cannot end the link early.
    link = Span("Film | del 1 > 2", link="https://play.example/v?a=1&b=2")
    assert mrkdwn((link,)) == "<https://play.example/v?a=1&amp;b=2|Film ∣ del 1 &gt; 2>"
    assert mrkdwn((Span("x", link="https://e.se/a|b>c"),)) == "<https://e.se/a%7Cb%3Ec|x>"


def test_strong_keeps_asterisks_inside_whitespace() -> None:
    assert mrkdwn((Span(" viktigt ", strong=True),)) == " *viktigt* "
    assert mrkdwn((Span("   ", strong=True),)) == "   "
    assert mrkdwn((Span("rad ett\n\nrad två", strong=True),)) == "*rad ett*\n\n*rad två*"
    assert mrkdwn((Span(" läs ", strong=True, link="https://e.se"),)) == " *<https://e.se|läs>* "


def test_plain_text_fields_are_not_escaped() -> None:
    message = MessageBuilder().heading("R&D <2025>").choices([Option("a", "Ja & nej")]).build()
    header, actions = only(message)
    assert header["text"]["text"] == "R&D <2025>"
    assert actions["elements"][0]["text"]["text"] == "Ja & nej"


def test_a_long_paragraph_splits_at_sentences_and_loses_nothing() -> None:
    text = sentences(210)
    assert len(text) > 10_000

    blocks = only(MessageBuilder().para(text).build())

    chunks = [b["text"]["text"] for b in blocks]
    assert len(chunks) == 4
    assert all(
        b["type"] == "section" and len(c) <= SECTION_TEXT
        for b, c in zip(blocks, chunks, strict=True)
    )
    assert all(chunk.endswith(".") for chunk in chunks)  # a sentence end, not mid-word
    assert " ".join(chunks) == text


def test_splitting_never_breaks_an_entity_a_link_or_bold() -> None:
    word_of_entities = Span("&" * 4000)  # one "word" longer than a section: cut between characters
    links = tuple(Span(f"länk {n} ", link=f"https://e.se/{n}") for n in range(200))
    bold = Span(sentences(80), strong=True)

    chunks = [mrkdwn(c) for c in split_spans((word_of_entities, *links, bold), SECTION_TEXT)]

    assert all(len(chunk) <= SECTION_TEXT for chunk in chunks)
    joined = "".join(chunks)
    assert joined.count("&amp;") == 4000
    assert all(re.fullmatch(r"(&amp;)+", chunk) for chunk in chunks[:2])
    for chunk in chunks:
        assert chunk.count("<") == chunk.count(">"), chunk  # every link whole
        assert chunk.count("*") % 2 == 0, chunk  # every bold run closed
    assert re.findall(r"<https://e\.se/(\d+)\|", joined) == [str(n) for n in range(200)]


def test_splitting_prefers_a_blank_line_to_a_sentence_end() -> None:
    paragraphs = [sentences(14) for _ in range(8)]  # about 680 characters each
    chunks = [mrkdwn(c) for c in split_spans((Span("\n\n".join(paragraphs)),), SECTION_TEXT)]
    assert [chunk.count("\n\n") + 1 for chunk in chunks] == [4, 4]
    assert "\n\n".join(chunks) == "\n\n".join(paragraphs)


def test_a_link_too_long_for_a_section_keeps_its_text_and_url() -> None:
    url = "https://e.se/" + "a" * 3100
    chunks = [mrkdwn(c) for c in split_spans((Span("Se filmen", link=url),), SECTION_TEXT)]
    assert all(len(chunk) <= SECTION_TEXT for chunk in chunks)
    assert "".join(chunks) == "Se filmen" + url


def test_a_word_longer_than_a_section_is_cut_without_losing_characters() -> None:
    word = "x" * 7000
    chunks = split_spans((Span(word),), SECTION_TEXT)
    assert [len(c[0].text) for c in chunks] == [3000, 3000, 1000]
    assert "".join(c[0].text for c in chunks) == word


def test_a_long_heading_becomes_bold_sections() -> None:
    heading = "Reflektion " * 18 + "om ledarskap"  # 210 characters
    [block] = only(MessageBuilder().heading(heading).build())
    assert block == section(f"*{heading}*")


def test_a_long_bullet_list_and_a_long_note_split() -> None:
    items = [f"Punkt {n}: " + "ord " * 60 for n in range(20)]
    note = sentences(70)
    blocks = only(MessageBuilder().bullets(items).note(note).build())

    bullets = [b for b in blocks if b["type"] == "section"]
    notes = [b for b in blocks if b["type"] == "context"]
    assert len(bullets) == 2
    lines = "\n".join(b["text"]["text"] for b in bullets).split("\n")
    assert lines == [f"• {item.strip()}" for item in items]
    assert len(notes) == 2
    assert all(len(b["elements"]) == 1 for b in notes)
    assert " ".join(b["elements"][0]["text"] for b in notes) == note


def test_facts_with_a_long_value_become_lines() -> None:
    long_value = sentences(60)
    blocks = only(MessageBuilder().facts([("Uppgift", long_value), ("Tid", "1 h")]).build())
    texts = [b["text"]["text"] for b in blocks]
    assert texts[0].startswith("*Uppgift*  Mening nummer 0")
    assert texts[-1].endswith("\n*Tid*  1 h")
    assert re.sub(r"\s+", "", "".join(texts)) == re.sub(
        r"\s+", "", f"*Uppgift*{long_value}*Tid*1 h"
    )


def test_eleven_short_facts_take_two_sections_of_fields() -> None:
    blocks = only(MessageBuilder().facts([(f"F{n}", str(n)) for n in range(11)]).build())
    assert [len(b["fields"]) for b in blocks] == [10, 1]


# ---------------------------------------------------------------- several messages


def test_sixty_paragraphs_make_two_messages_in_order() -> None:
    builder = MessageBuilder(summary="Sammanfattning")
    for n in range(60):
        builder.para(f"Stycke {n}")

    parts = rendered(builder.build())

    assert [len(p.blocks) for p in parts] == [50, 10]
    texts = [b["text"]["text"] for p in parts for b in p.blocks]
    assert texts == [f"Stycke {n}" for n in range(60)]
    assert [p.text for p in parts] == ["Sammanfattning (1/2)", "Sammanfattning (2/2)"]


def test_a_message_stays_under_slacks_total_text_limit() -> None:
    builder = MessageBuilder()
    for _ in range(7):
        builder.para(sentences(55))  # about 2,600 characters each

    parts = rendered(builder.build())

    assert [len(p.blocks) for p in parts] == [3, 3, 1]


def test_a_heading_moves_with_its_content_to_the_next_message() -> None:
    builder = MessageBuilder()
    for n in range(49):
        builder.para(f"Stycke {n}")
    builder.heading("Nästa del").para("Innehåll")

    first, second = rendered(builder.build())

    assert len(first.blocks) == 49
    assert second.blocks == [{"type": "header", "text": plain("Nästa del")}, section("Innehåll")]


def test_the_fallback_text_is_escaped_and_only_cut_with_an_ellipsis() -> None:
    message = MessageBuilder(summary="<&> " + "x" * 5000).para("Hej").build()
    [part] = rendered(message)
    assert part.text.startswith("&lt;&amp;&gt; x")
    assert part.text.endswith("x…")
    assert len(part.text) == FALLBACK_TEXT


def test_an_empty_summary_falls_back_to_the_first_text() -> None:
    message = Message(blocks=MessageBuilder().para(" Hej ").build().blocks, summary="")
    assert render_message(message)[0].text == "Hej"


# ---------------------------------------------------------------- choices


def test_three_short_options_are_buttons_with_the_exact_action_ids() -> None:
    options = [
        Option("lab:join:1", "Anmäl mig", "primary"),
        Option("lab:later:1", "Senare"),
        Option("lab:leave:1", "Avanmäl", "danger"),
    ]
    [actions] = only(MessageBuilder().choices(options).build())

    assert actions == {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": plain("Anmäl mig"),
                "action_id": "lab:join:1",
                "value": "lab:join:1",
                "style": "primary",
            },
            {
                "type": "button",
                "text": plain("Senare"),
                "action_id": "lab:later:1",
                "value": "lab:later:1",
            },
            {
                "type": "button",
                "text": plain("Avanmäl"),
                "action_id": "lab:leave:1",
                "value": "lab:leave:1",
                "style": "danger",
            },
        ],
    }
    assert chosen_action_id(actions["elements"][1]) == "lab:later:1"


def test_quiz_options_over_75_characters_are_listed_and_answered_by_number() -> None:
    labels = [
        f"Alternativ {n}: digital kompetens handlar om att leda förändring med tekniken som stöd"
        for n in range(1, 5)
    ]
    assert all(len(label) > 75 for label in labels)
    options = [Option(f"quiz:q1:2:{n}", label) for n, label in enumerate(labels, 1)]
    message = MessageBuilder().para("Vad är digital kompetens?").choices(options).build()

    question, listing, actions = only(message)

    assert question == section("Vad är digital kompetens?")
    assert listing == section("\n".join(f"{n}. {label}" for n, label in enumerate(labels, 1)))
    assert [e["text"]["text"] for e in actions["elements"]] == ["1", "2", "3", "4"]
    assert [e["action_id"] for e in actions["elements"]] == [f"quiz:q1:2:{n}" for n in range(1, 5)]


def test_eight_options_are_a_menu_valued_by_action_id() -> None:
    options = [Option(f"org:pick:{n}", f"Organisation {n}") for n in range(8)]
    [actions] = only(MessageBuilder().choices(options).build())

    [menu] = actions["elements"]
    assert menu == {
        "type": "static_select",
        "action_id": f"{SELECT_ACTION_PREFIX}0.0",
        "placeholder": plain("Välj / Choose"),
        "options": [
            {"text": plain(f"Organisation {n}"), "value": f"org:pick:{n}"} for n in range(8)
        ],
    }
    picked = {"type": "static_select", "action_id": menu["action_id"]}
    picked["selected_option"] = menu["options"][5]
    assert chosen_action_id(picked) == "org:pick:5"


def test_thirty_long_options_need_two_actions_blocks() -> None:
    options = [Option(f"survey:1:{n}", "Ett långt svarsalternativ " * 4) for n in range(30)]
    blocks = only(MessageBuilder().choices(options).build())
    assert [len(b["elements"]) for b in blocks if b["type"] == "actions"] == [25, 5]


def test_a_too_long_action_id_is_refused() -> None:
    message = MessageBuilder().choices([Option("quiz:" + "x" * 251, "Ja")]).build()
    with pytest.raises(ValueError, match="action id"):
        render_message(message)


def test_an_action_id_repeated_in_one_message_is_refused() -> None:
    message = (
        MessageBuilder().choices([Option("a", "Ja")]).choices([Option("a", "Ja igen")]).build()
    )
    with pytest.raises(ValueError, match="twice"):
        render_message(message)


def test_a_menu_value_longer_than_150_is_refused() -> None:
    options = [Option(f"{n}:" + "x" * 160, f"Val {n}") for n in range(6)]
    with pytest.raises(ValueError, match="menu"):
        render_message(MessageBuilder().choices(options).build())


# ---------------------------------------------------------------- modal


def reflection_form() -> Form:
    return Form(
        form_id="reflection",
        title="Din reflektion över tema 1",  # 26 characters: over the title's 24
        intro="Skriv <fritt> & ärligt.",
        fields=(
            TextField(
                "text",
                "Vad tar du med dig?",
                multiline=True,
                max_length=4000,
                placeholder="Några meningar…",
            ),
            SelectField(
                "theme",
                "Tema",
                options=(("1", "Digital transformation"), ("2", "Ledarskap")),
                initial="2",
            ),
            TextField("extra", "Något mer?", optional=True, initial="Nej"),
        ),
        submit_label="Spara",
    )


def test_a_form_is_a_modal_that_validates() -> None:
    view = valid_view(
        render_modal(reflection_form(), callback_id="reflection", private_metadata='{"c":"C1"}')
    )

    assert view["title"] == plain("Din reflektion över…")
    assert view["submit"] == plain("Spara")
    assert view["close"] == plain("Avbryt / Cancel")
    title, intro, text, theme, extra = view["blocks"]
    assert title == section("*Din reflektion över tema 1*")
    assert intro == section("Skriv &lt;fritt&gt; &amp; ärligt.")
    assert text == {
        "type": "input",
        "block_id": "text",
        "label": plain("Vad tar du med dig?"),
        "element": {
            "type": "plain_text_input",
            "action_id": "text",
            "multiline": True,
            "max_length": 3000,  # Slack's ceiling: it asks for less, it cuts nothing
            "placeholder": plain("Några meningar…"),
        },
        "optional": False,
    }
    assert theme["element"]["initial_option"] == {"text": plain("Ledarskap"), "value": "2"}
    assert [o["value"] for o in theme["element"]["options"]] == ["1", "2"]
    assert extra["optional"] is True
    assert extra["element"]["initial_value"] == "Nej"


def test_view_state_reads_back_into_field_values() -> None:
    # As a view_submission carries it: view.state.values[block_id][action_id].
    state_values: dict[str, dict[str, JSON]] = {
        "text": {"text": {"type": "plain_text_input", "value": "Att våga fråga."}},
        "theme": {
            "theme": {
                "type": "static_select",
                "selected_option": {
                    "text": {"type": "plain_text", "text": "Ledarskap", "emoji": True},
                    "value": "2",
                },
            }
        },
        "extra": {"extra": {"type": "plain_text_input", "value": None}},
    }
    assert values_from_view_state(state_values) == {
        "text": "Att våga fråga.",
        "theme": "2",
        "extra": "",
    }
    unpicked = {"theme": {"theme": {"type": "static_select", "selected_option": None}}}
    assert values_from_view_state(unpicked) == {"theme": ""}


def test_long_select_labels_are_listed_above_the_menu() -> None:
    long_label = "Jag håller helt med om att digitaliseringen har förändrat mitt ledarskap"
    form = Form(
        "survey",
        "Enkät",
        (
            SelectField(
                "q1", "Påstående 1", tuple((str(n), f"{long_label} ({n})") for n in range(3))
            ),
        ),
        "Skicka",
    )
    view = valid_view(render_modal(form, callback_id="survey", private_metadata=""))
    listing, field = view["blocks"]
    assert listing["text"]["text"].split("\n")[0] == f"1. {long_label} (0)"
    texts = [o["text"]["text"] for o in field["element"]["options"]]
    assert texts == [
        f"{n}. Jag håller helt med om att digitaliseringen har förändrat mitt…" for n in (1, 2, 3)
    ]


def test_a_modal_refuses_what_slack_would_refuse() -> None:
    form = reflection_form()
    with pytest.raises(ValueError, match="private_metadata"):
        render_modal(form, callback_id="x", private_metadata="x" * 3001)
    bad_initial = Form("f", "F", (SelectField("s", "S", (("1", "Ett"),), initial="9"),), "OK")
    with pytest.raises(ValueError, match="not an option"):
        render_modal(bad_initial, callback_id="x", private_metadata="")


# ---------------------------------------------------------------- App Home


def test_home_merges_paragraphs_to_stay_within_100_blocks() -> None:
    builder = MessageBuilder()
    for n in range(150):
        builder.para(f"Stycke {n}")

    view = valid_view(render_home(builder.build()))

    assert len(view["blocks"]) == 1  # 150 short paragraphs fit one section
    assert view["blocks"][0]["text"]["text"] == "\n\n".join(f"Stycke {n}" for n in range(150))


def test_home_drops_whole_trailing_blocks_and_says_more_exists() -> None:
    builder = MessageBuilder()
    for n in range(80):
        builder.para(f"Stycke {n}").divider()

    view = valid_view(render_home(builder.build(), more="Mer finns."))

    blocks = view["blocks"]
    assert len(blocks) == 100
    assert blocks[-1] == {"type": "context", "elements": [{"type": "mrkdwn", "text": "Mer finns."}]}
    assert blocks[98] == section("Stycke 49")
    assert [b["text"]["text"] for b in blocks[:99:2]] == [f"Stycke {n}" for n in range(50)]
