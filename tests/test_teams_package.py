"""The Teams app package: a manifest valid against the official 1.29 schema, icons Teams accepts,
command menus within Teams' limits that name real commands, and a Swedish language file."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from PIL import Image

from bot.cli import main
from bot.teams.package import (
    HOME_COMMAND,
    MAX_COMMANDS,
    MAX_DESCRIPTION,
    MAX_TITLE,
    build_package,
)
from handlers.core.access import Access
from handlers.core.i18n import translator
from handlers.features import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
MANIFEST_SCHEMA = ROOT.parent / "shared" / "schemas" / "teams-manifest-1.29.schema.json"
BOT_ID = "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
# `home` is Teams' own word (Slack opens the same page as its App Home tab).
BY_TITLE = {" ".join(command.words): command for command in (*REGISTRY.commands, HOME_COMMAND)}


@pytest.fixture(scope="module")
def manifest_schema() -> dict[str, Any]:
    if not MANIFEST_SCHEMA.exists():
        pytest.skip(
            f"the Teams manifest schema is missing: expected {MANIFEST_SCHEMA} "
            "(shared/schemas beside the repository; see shared/schemas/README.md)"
        )
    schema: dict[str, Any] = json.loads(MANIFEST_SCHEMA.read_text(encoding="utf-8"))
    # The schema's \p{L} pattern is not a Python regex, so its own check needs no formats.
    jsonschema.Draft4Validator.check_schema(schema, format_checker=None)
    return schema


def unzip(package: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return unzip(build_package(BOT_ID))


@pytest.fixture(scope="module")
def manifest(files: dict[str, bytes]) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(files["manifest.json"].decode("utf-8"))
    return value


def schema_errors(schema: dict[str, Any], instance: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft4Validator(schema, format_checker=None)
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(instance)
    ]


def test_the_manifest_is_valid_against_the_official_schema(
    manifest: dict[str, Any], manifest_schema: dict[str, Any]
) -> None:
    assert schema_errors(manifest_schema, manifest) == []
    # Draft 4 ignores the schema's `const`, so the version is checked here.
    assert manifest["manifestVersion"] == "1.29"
    assert manifest["$schema"].endswith("/v1.29/MicrosoftTeams.schema.json")


def test_the_check_catches_what_teams_would_refuse(
    manifest: dict[str, Any], manifest_schema: dict[str, Any]
) -> None:
    broken = json.loads(json.dumps(manifest))
    broken["bots"][0]["scopes"] = ["groupchat"]
    del broken["developer"]["privacyUrl"]
    errors = schema_errors(manifest_schema, broken)
    assert any(e.startswith("bots/0/scopes/0:") for e in errors), errors
    assert any("privacyUrl" in e for e in errors), errors


def test_the_zip_holds_the_manifest_and_what_it_names_at_its_root(
    files: dict[str, bytes], manifest: dict[str, Any]
) -> None:
    named = {
        manifest["icons"]["color"],
        manifest["icons"]["outline"],
        *(language["file"] for language in manifest["localizationInfo"]["additionalLanguages"]),
    }
    assert set(files) == {"manifest.json", *named}
    assert named == {"color.png", "outline.png", "sv-se.json"}


def test_the_bot_is_the_app(manifest: dict[str, Any]) -> None:
    (bot,) = manifest["bots"]
    assert manifest["id"] == bot["botId"] == manifest["webApplicationInfo"]["id"] == BOT_ID
    assert bot["scopes"] == ["team", "groupChat", "personal"]
    assert bot["supportsFiles"] is True
    assert bot["isNotificationOnly"] is False
    assert manifest["name"]["short"] == "Digilog"
    assert manifest["localizationInfo"]["defaultLanguageTag"] == "en-us"


def test_the_bot_hears_thread_replies_and_no_more(manifest: dict[str, Any]) -> None:
    permissions = manifest["authorization"]["permissions"]["resourceSpecific"]
    assert permissions == [{"name": "ChannelMessage.Read.Group", "type": "Application"}]
    # RSC wants webApplicationInfo with a resource, even though it does not use it.
    assert manifest["webApplicationInfo"]["resource"]


def test_the_command_menus_keep_teams_limits_and_name_real_commands(
    manifest: dict[str, Any],
) -> None:
    (bot,) = manifest["bots"]
    lists = bot["commandLists"]
    # One list per scope: each of the bot's scopes has exactly one menu.
    scopes = [scope for command_list in lists for scope in command_list["scopes"]]
    assert sorted(scopes) == sorted(bot["scopes"])
    for command_list in lists:
        commands = command_list["commands"]
        assert 0 < len(commands) <= MAX_COMMANDS
        titles = [command["title"] for command in commands]
        assert len(set(titles)) == len(titles)
        for command in commands:
            assert len(command["title"]) <= MAX_TITLE
            assert len(command["description"]) <= MAX_DESCRIPTION
            assert command["title"] in BY_TITLE, f"{command['title']!r} is not a command"
            assert command["description"] == BY_TITLE[command["title"]].summary


def test_the_personal_menu_is_for_participants_and_the_channel_menu_for_the_cohort(
    manifest: dict[str, Any],
) -> None:
    menus = {
        tuple(m["scopes"]): [c["title"] for c in m["commands"]]
        for m in manifest["bots"][0]["commandLists"]
    }
    personal, channel = menus[("personal",)], menus[("team", "groupChat")]
    assert all(BY_TITLE[title].access < Access.facilitator for title in personal)
    assert {"help", "reflect", "bank", "quiz"} <= set(personal)
    # `join` works only in the cohort's channel; starting a theme posts there.
    assert {"help", "join", "theme start", "quiz start"} <= set(channel)
    assert "join" not in personal


def test_the_swedish_file_keeps_the_localization_schema(
    files: dict[str, bytes], manifest: dict[str, Any]
) -> None:
    swedish: dict[str, str] = json.loads(files["sv-se.json"].decode("utf-8"))
    # The rules of MicrosoftTeams.Localization.schema.json (OfficeDev/microsoft-teams-app-schema)
    # for what this file uses: no other keys, these required, these lengths.
    fixed = {"$schema": 2048, "name.short": 30, "name.full": 100}
    fixed |= {"description.short": 80, "description.full": 4000}
    command_key = re.compile(
        r"^bots\[0\]\.commandLists\[([0-2])\]\.commands\[([0-9])\]\.(title|description)$"
    )
    action_key = re.compile(r"^composeExtensions\[0\]\.commands\[([0-9])\]\.(title|description)$")
    assert {"name.short", "name.full", "description.short", "description.full"} <= set(swedish)
    assert swedish["$schema"].endswith("/v1.29/MicrosoftTeams.Localization.schema.json")
    to_swedish = translator("sv")
    lists = manifest["bots"][0]["commandLists"]
    described = 0
    for key, value in swedish.items():
        assert isinstance(value, str)
        if key in fixed:
            assert len(value) <= fixed[key], key
            continue
        action = action_key.match(key)
        if action:
            # The message action's title and description (32 and 128 characters), in Swedish.
            command = manifest["composeExtensions"][0]["commands"][int(action[1])]
            assert len(value) <= (MAX_TITLE if action[2] == "title" else MAX_DESCRIPTION), key
            assert value == to_swedish(command[action[2]]) and value != command[action[2]]
            continue
        match = command_key.match(key)
        assert match, f"{key} is not a key the localization schema allows"
        list_index, command_index, field = int(match[1]), int(match[2]), match[3]
        assert field == "description"  # the titles are the commands, the same in Swedish
        assert len(value) <= MAX_DESCRIPTION, key
        command = lists[list_index]["commands"][command_index]
        assert value == to_swedish(BY_TITLE[command["title"]].summary)
        assert value != command["description"]  # translated, not copied
        described += 1
    assert described == sum(len(command_list["commands"]) for command_list in lists)
    assert swedish["name.short"] == manifest["name"]["short"]
    assert "lärkompisar" in swedish["description.full"]
    assert swedish["composeExtensions[0].commands[0].title"] == "Spara i Digilog"


def test_a_message_of_ones_own_can_be_saved_from_its_menu(manifest: dict[str, Any]) -> None:
    """Teams' counterpart of Slack's message shortcut: one action, on messages only, that
    Digilog answers at once (fetchTask), by the same bot."""
    [extension] = manifest["composeExtensions"]
    assert extension["botId"] == BOT_ID
    [command] = extension["commands"]
    assert command["id"] == "saveToBank" and command["type"] == "action"
    assert command["context"] == ["message"] and command["fetchTask"] is True
    assert len(command["title"]) <= MAX_TITLE


def test_the_color_icon_is_192_pixels_in_full_colour(files: dict[str, bytes]) -> None:
    with Image.open(io.BytesIO(files["color.png"])) as image:
        assert image.format == "PNG"
        assert image.size == (192, 192)
        rgba = image.convert("RGBA")
    colours = rgba.getcolors(maxcolors=192 * 192)
    assert colours is not None and len(colours) > 2
    assert all(isinstance(pixel, tuple) and pixel[3] == 255 for _, pixel in colours)


def test_the_outline_icon_is_32_pixels_of_white_and_transparency_only(
    files: dict[str, bytes],
) -> None:
    with Image.open(io.BytesIO(files["outline.png"])) as image:
        assert image.format == "PNG"
        assert image.size == (32, 32)
        assert image.mode == "RGBA"
        colours = image.getcolors(maxcolors=32 * 32)
    assert colours is not None
    pixels = [(n, pixel) for n, pixel in colours if isinstance(pixel, tuple)]
    white = sum(n for n, pixel in pixels if pixel == (255, 255, 255, 255))
    transparent = sum(n for n, pixel in pixels if pixel[3] == 0)
    assert white + transparent == 32 * 32, "a pixel is neither white nor fully transparent"
    assert white > 200 and transparent > 200  # a mark, not a blank or a filled square


def test_the_same_arguments_give_the_same_bytes() -> None:
    assert build_package(BOT_ID) == build_package(BOT_ID)
    assert build_package(BOT_ID) != build_package(BOT_ID, name="Lärbot")


def test_names_urls_version_and_domains_come_from_the_arguments(
    manifest_schema: dict[str, Any],
) -> None:
    files = unzip(
        build_package(
            BOT_ID.upper(),
            name="Lärbot",
            version="2.3.4",
            developer="Region Exempel",
            website_url="https://region.example.se/larbot",
            privacy_url="https://region.example.se/integritet",
            terms_url="https://region.example.se/villkor",
            valid_domains=["digilog.region.example.se"],
        )
    )
    manifest = json.loads(files["manifest.json"])
    assert schema_errors(manifest_schema, manifest) == []
    assert manifest["id"] == manifest["bots"][0]["botId"] == BOT_ID.upper()
    assert manifest["version"] == "2.3.4"
    assert manifest["name"] == {"short": "Lärbot", "full": "Lärbot: learning programmes in chat"}
    assert manifest["developer"] == {
        "name": "Region Exempel",
        "websiteUrl": "https://region.example.se/larbot",
        "privacyUrl": "https://region.example.se/integritet",
        "termsOfUseUrl": "https://region.example.se/villkor",
    }
    assert manifest["validDomains"] == ["digilog.region.example.se"]
    assert json.loads(files["sv-se.json"])["name.full"] == "Lärbot: lärprogram i chatten"


@pytest.mark.parametrize(
    "bot_id",
    [
        "",
        "digilog",
        "0a1b2c3d4e5f6789abcdef0123456789",
        "{0a1b2c3d-4e5f-6789-abcd-ef0123456789}",
        "0a1b2c3d-4e5f-6789-abcd-ef012345678g",
        "28:0a1b2c3d-4e5f-6789-abcd-ef0123456789",
    ],
)
def test_a_bot_id_that_is_no_guid_is_refused_saying_what_it_must_be(bot_id: str) -> None:
    with pytest.raises(ValueError, match=r"the bot id must be .*Entra application \(client\) id"):
        build_package(bot_id)


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"name": "A name far too long for the Teams app bar"}, "the name has 41 characters"),
        ({"name": "  "}, "the name must not be empty"),
        ({"version": "1.0"}, "the version must be MAJOR.MINOR.PATCH"),
        ({"privacy_url": "http://example.org/privacy"}, "the privacy notice address must be"),
        ({"website_url": "example.org"}, "the website address must be"),
        ({"valid_domains": ["https://digilog.example.org"]}, "a valid domain is a host name"),
        ({"developer": "x" * 33}, "the developer's name has 33 characters"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message(
    arguments: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        build_package(BOT_ID, **arguments)


# ---------------------------------------------------------------- the CLI


def test_the_cli_writes_the_package(tmp_path: Path, manifest_schema: dict[str, Any]) -> None:
    out = tmp_path / "teams" / "digilog.zip"
    result = CliRunner().invoke(
        main,
        ["teams", "package", "--bot-id", BOT_ID, "--out", str(out), "--name", "Lärbot"],
        env={"DIGILOG_LANGUAGE": "en"},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.stdout
    assert "placeholders on example.org" in result.stderr
    manifest = json.loads(unzip(out.read_bytes())["manifest.json"])
    assert manifest["name"]["short"] == "Lärbot"
    assert manifest["id"] == BOT_ID
    assert schema_errors(manifest_schema, manifest) == []


def test_the_cli_takes_your_organisations_pages(tmp_path: Path) -> None:
    out = tmp_path / "digilog.zip"
    options = (
        f"--bot-id {BOT_ID} --out {out} --app-version 1.2.3 --developer Region "
        "--website https://region.example.se/larbot --privacy https://region.example.se/integritet "
        "--terms https://region.example.se/villkor --domain digilog.region.example.se"
    )
    result = CliRunner().invoke(
        main, ["teams", "package", *options.split()], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    manifest = json.loads(unzip(out.read_bytes())["manifest.json"])
    assert manifest["version"] == "1.2.3"
    assert manifest["developer"]["name"] == "Region"
    assert manifest["developer"]["privacyUrl"] == "https://region.example.se/integritet"
    assert manifest["validDomains"] == ["digilog.region.example.se"]


def test_the_cli_refuses_a_bad_bot_id_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "digilog.zip"
    result = CliRunner().invoke(
        main,
        ["teams", "package", "--bot-id", "my-bot", "--out", str(out)],
        env={"DIGILOG_LANGUAGE": "en"},  # tests/test_swedish.py has it in Swedish
        catch_exceptions=False,
    )
    assert result.exit_code == 2
    assert "the bot id must be the bot's Microsoft Entra application (client) id" in result.stderr
    assert "“my-bot”" in result.stderr
    assert not out.exists()
