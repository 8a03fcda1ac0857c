"""The Microsoft Teams app package: manifest.json, two icons and a Swedish language file, zipped.

Teams installs a bot from a zip of exactly these files at the zip's root. The manifest follows
the app manifest schema 1.29; its command menus are built from the real command table, so a
renamed command fails the build instead of leaving a dead menu entry. The same arguments give
the same bytes: the icons are drawn here, without fonts, and the zip carries fixed dates.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from PIL import Image, ImageDraw

from bot.teams.translate import HOME_WORDS, SAVE_MESSAGE
from handlers.core.access import Access
from handlers.core.context import Args, Context
from handlers.core.i18n import N_, Said, Translator, translator
from handlers.core.registry import Command
from handlers.core.vocabulary import Outgoing
from handlers.features import REGISTRY
from handlers.home import home

MANIFEST_VERSION = "1.29"
SCHEMA_URL = (
    f"https://developer.microsoft.com/json-schemas/teams/v{MANIFEST_VERSION}/"
    "MicrosoftTeams.schema.json"
)
LOCALIZATION_SCHEMA_URL = (
    f"https://developer.microsoft.com/json-schemas/teams/v{MANIFEST_VERSION}/"
    "MicrosoftTeams.Localization.schema.json"
)
MANIFEST_FILE = "manifest.json"
COLOR_ICON = "color.png"
OUTLINE_ICON = "outline.png"
SWEDISH = "sv-se"
SWEDISH_FILE = f"{SWEDISH}.json"

# Placeholders on a domain reserved for examples (RFC 2606), so they can never be someone
# else's page. The developer of a Teams app is whoever runs it: the region or organisation
# that runs the programme, whose privacy notice is the one that applies (it holds the data).
DEFAULT_DEVELOPER = "Digilog"
DEFAULT_WEBSITE = "https://example.org/digilog"
DEFAULT_PRIVACY = "https://example.org/digilog/privacy"
DEFAULT_TERMS = "https://example.org/digilog/terms"

ACCENT = (0x1F, 0x6F, 0x78)
WHITE = (255, 255, 255)

# Limits, the strictest of the sources. The 1.29 manifest schema allows 3 command lists of 12
# commands, titles of 128 and descriptions of 4000 characters; but the localization schema
# only addresses commands[0-9] with titles of at most 32 and descriptions of at most 128
# characters, and the bot menu documentation says 10 commands per menu. Keeping to 10/32/128
# lets every entry be translated.
MAX_COMMANDS = 10
MAX_TITLE = 32
MAX_DESCRIPTION = 128
MAX_NAME = 30  # name.short
MAX_FULL_NAME = 100  # name.full
MAX_SHORT_DESCRIPTION = 80  # description.short
MAX_FULL_DESCRIPTION = 4000  # description.full
MAX_DEVELOPER = 32  # developer.name

# Which commands the menus offer. Teams shows a list's commands when someone types @ and the
# bot's name (team, group chat) or opens the chat with the bot (personal); everything else is
# still one `help` away, and every role is checked on the server whichever menu offered it.
#
# personal, the chat with the bot: what a participant does alone, in private. Writing and
# finding reflections, taking a quiz or survey, the lab catalogue, what is coming up, and the
# two settings people look for when Digilog writes to them (language, nudges).
# `home` first: the page Slack shows on App Home (it takes the place of `theme`, which the
# page covers, as a list holds ten).
PERSONAL_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("home",),
    ("help",),
    ("reflect",),
    ("bank",),
    ("quiz",),
    ("survey",),
    ("labs",),
    ("schedule",),
    ("language",),
    ("nudges",),
)
# team and groupChat, where the cohort meets: first what participants need in the channel
# (`join` only works there), then the facilitator commands that act on the channel itself,
# posting to everyone or previewing a post before it goes out: start a theme, open and close
# its quiz, open a survey, pair learning buddies, nudge those who have not done a step.
# Reports, exports, enrolment and results are read privately and stay with `help`.
CHANNEL_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("help",),
    ("join",),
    ("theme",),
    ("schedule",),
    ("theme", "start"),
    ("quiz", "start"),
    ("quiz", "close"),
    ("survey", "open"),
    ("pair",),
    ("nudge",),
)
COMMAND_LISTS: tuple[tuple[tuple[str, ...], tuple[tuple[str, ...], ...]], ...] = (
    (("personal",), PERSONAL_COMMANDS),
    (("team", "groupChat"), CHANNEL_COMMANDS),
)

# Resource-specific consent, granted by a team's owner when they add the app to that team,
# for that team only.
#
# ChannelMessage.Read.Group (Application): without it Teams sends a bot only the channel
# messages that @mention it. A digilog is people replying to the theme post in its thread, to
# each other; asking them to @mention Digilog in every reply would be clumsy and easy to
# forget, and the forgotten replies would be missing from the reflection bank.
#
# ChatMessage.Read.Chat is left out on purpose. It would let Digilog read every message in every
# group chat it is added to. Nothing needs that: a digilog lives in a channel thread (group
# chats have no threads), commands in a group chat @mention the bot, and buttons such as a
# buddy group's "We met" reach the bot without any permission. What buddies say to each other
# in their chat is theirs.
RESOURCE_SPECIFIC_PERMISSIONS = ({"name": "ChannelMessage.Read.Group", "type": "Application"},)

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_SEMVER = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
_DOMAIN = re.compile(r"^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
_URL = re.compile(r"^https://[^\s/?#]+\.[^\s/?#]+(/\S*)?$")


@dataclass(frozen=True)
class What:
    """What a message is about ("the name", "the summary of “quiz”"): English where the
    message is English, and said in the reader's language with the rest of it."""

    text: str
    values: Mapping[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.text.format(**self.values) if self.values else self.text

    def said(self, t: Translator) -> str:
        return t(self.text, **self.values)


class PackageError(Said, ValueError):
    """A bad argument, or a menu Teams would refuse, named: English in str(), in the
    administrator's language in `said(t)`, the `What` it is about included."""

    def said(self, t: Translator) -> str:
        return t(
            self.text,
            **{k: v.said(t) if isinstance(v, What) else v for k, v in self.values.items()},
        )


_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "name.full": "{name}: learning programmes in chat",
        "description.short": (
            "Cohort learning in chat: themes, digilogs, quizzes and a reflection bank."
        ),
        "description.full": (
            "{name} runs cohort-based learning programmes in Teams. For each theme it posts "
            "the materials and the reflection task in the cohort's channel and opens a "
            "digilog: an asynchronous discussion in the post's thread, whose replies go into "
            "a searchable reflection bank. It runs quizzes and surveys as cards, pairs "
            "learning buddies across organisations, signs people up for labs, and nudges "
            "those who have not yet done a step, at sensible times. Facilitators steer it "
            "with commands; everyone reads it in their own language, Swedish or English."
        ),
    },
    "sv": {
        "name.full": "{name}: lärprogram i chatten",
        "description.short": (
            "Lärande i grupp i chatten: teman, digiloger, quiz och en reflektionsbank."
        ),
        "description.full": (
            "{name} driver utbildningar för deltagargrupper i Teams. För varje tema lägger "
            "den ut material och reflektionsuppgift i gruppens kanal och öppnar en digilog: "
            "ett samtal i inläggets tråd, där svaren samlas i en sökbar reflektionsbank. Den "
            "kör quiz och enkäter som kort, parar ihop lärkompisar från olika organisationer, "
            "tar emot anmälningar till lärlabb och knuffar på dem som ännu inte har gjort ett "
            "moment, på rimliga tider. Processledare styr den med kommandon; var och en läser "
            "den på sitt eget språk, svenska eller engelska."
        ),
    },
}


def build_package(
    bot_id: str,
    *,
    name: str = "Digilog",
    version: str | None = None,
    developer: str = DEFAULT_DEVELOPER,
    website_url: str = DEFAULT_WEBSITE,
    privacy_url: str = DEFAULT_PRIVACY,
    terms_url: str = DEFAULT_TERMS,
    valid_domains: Sequence[str] = (),
) -> bytes:
    """The app package to upload to Teams, as the bytes of a zip.

    `bot_id` is the bot's Microsoft Entra application (client) id; it is also the app's id.
    `version` defaults to Digilog's own; Teams wants a higher one for every new upload.
    `valid_domains` are host names (no scheme) the app may open inside Teams, such as the
    host Digilog is served from. Raises PackageError (a ValueError), naming the argument, on
    a bad value.
    """
    manifest, swedish = manifest_and_swedish(
        bot_id,
        name=name,
        version=version,
        developer=developer,
        website_url=website_url,
        privacy_url=privacy_url,
        terms_url=terms_url,
        valid_domains=valid_domains,
    )
    files = (
        (MANIFEST_FILE, _json(manifest)),
        (COLOR_ICON, color_icon()),
        (OUTLINE_ICON, outline_icon()),
        (SWEDISH_FILE, _json(swedish)),
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for file_name, content in files:
            # A fixed date and owner make the same package the same bytes.
            info = zipfile.ZipInfo(file_name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            archive.writestr(info, content)
    return buffer.getvalue()


def manifest_and_swedish(
    bot_id: str,
    *,
    name: str = "Digilog",
    version: str | None = None,
    developer: str = DEFAULT_DEVELOPER,
    website_url: str = DEFAULT_WEBSITE,
    privacy_url: str = DEFAULT_PRIVACY,
    terms_url: str = DEFAULT_TERMS,
    valid_domains: Sequence[str] = (),
) -> tuple[dict[str, Any], dict[str, Any]]:
    """manifest.json and sv-se.json as dictionaries; see build_package."""
    bot_id = _bot_id(bot_id)
    name = _text(What(N_("the name")), name, MAX_NAME)
    developer = _text(What(N_("the developer's name")), developer, MAX_DEVELOPER)
    version = _version(version)
    urls = {
        "websiteUrl": _url(What(N_("the website address")), website_url),
        "privacyUrl": _url(What(N_("the privacy notice address")), privacy_url),
        "termsOfUseUrl": _url(What(N_("the terms of use address")), terms_url),
    }
    domains = [_domain(domain) for domain in valid_domains]
    english, swedish_texts = _texts("en", name), _texts("sv", name)
    command_lists = [
        {
            "scopes": list(scopes),
            "commands": [
                {"title": " ".join(command.words), "description": command.summary}
                for command in _commands(words)
            ],
        }
        for scopes, words in COMMAND_LISTS
    ]
    manifest: dict[str, Any] = {
        "$schema": SCHEMA_URL,
        "manifestVersion": MANIFEST_VERSION,
        "version": version,
        "id": bot_id,
        "localizationInfo": {
            "defaultLanguageTag": "en-us",
            "additionalLanguages": [{"languageTag": SWEDISH, "file": SWEDISH_FILE}],
        },
        "developer": {"name": developer, **urls},
        "name": {"short": name, "full": english["name.full"]},
        "description": {
            "short": english["description.short"],
            "full": english["description.full"],
        },
        "icons": {"outline": OUTLINE_ICON, "color": COLOR_ICON},
        "accentColor": "#{:02X}{:02X}{:02X}".format(*ACCENT),
        "bots": [
            {
                "botId": bot_id,
                "scopes": ["team", "groupChat", "personal"],
                "supportsFiles": True,  # the file consent flow (bot/teams/files.py)
                "isNotificationOnly": False,
                "commandLists": command_lists,
            }
        ],
        # Teams' counterpart of Slack's message shortcut (bot/teams/translate.py).
        "composeExtensions": [
            {
                "botId": bot_id,
                "commands": [
                    {
                        "id": SAVE_MESSAGE,
                        "type": "action",
                        "title": SAVE_TITLE,
                        "description": SAVE_DESCRIPTION,
                        "context": ["message"],
                        "fetchTask": True,
                    }
                ],
            }
        ],
        "validDomains": domains,
        # RSC needs webApplicationInfo; its `resource` is unused by RSC but must be set. This
        # is the Application ID URI Microsoft's bot sign-in expects, should that come.
        "webApplicationInfo": {"id": bot_id, "resource": f"api://botid-{bot_id}"},
        "authorization": {
            "permissions": {"resourceSpecific": [dict(p) for p in RESOURCE_SPECIFIC_PERMISSIONS]}
        },
        "defaultInstallScope": "team",
    }
    # Titles are what Teams puts in the message box when one is picked, and commands are the
    # same words in every language, so only the descriptions are translated.
    t = translator("sv")
    swedish: dict[str, Any] = {
        "$schema": LOCALIZATION_SCHEMA_URL,
        "name.short": name,
        "name.full": swedish_texts["name.full"],
        "description.short": swedish_texts["description.short"],
        "description.full": swedish_texts["description.full"],
    }
    for i, (_, words) in enumerate(COMMAND_LISTS):
        for j, command in enumerate(_commands(words)):
            description = _limited(
                What(
                    N_("the Swedish summary of “{command}”"), {"command": " ".join(command.words)}
                ),
                t(command.summary),
                MAX_DESCRIPTION,
            )
            swedish[f"bots[0].commandLists[{i}].commands[{j}].description"] = description
    swedish["composeExtensions[0].commands[0].title"] = _limited(
        What(N_("the Swedish title of the message action")), t(SAVE_TITLE), MAX_TITLE
    )
    swedish["composeExtensions[0].commands[0].description"] = _limited(
        What(N_("the Swedish description of the message action")),
        t(SAVE_DESCRIPTION),
        MAX_DESCRIPTION,
    )
    return manifest, swedish


SAVE_TITLE = N_("Save to Digilog")
SAVE_DESCRIPTION = N_("Save this message of yours in the reflection bank.")


async def _home(context: Context, args: Args) -> list[Outgoing]:
    return await home(context)


# Teams' own word for the page Slack shows on App Home: bot/teams/translate.py turns it into
# HomeOpened, as opening App Home is in Slack. Listed here for the personal command menu.
HOME_COMMAND = Command(
    HOME_WORDS[:1],
    N_("home"),
    N_("Your page: where you are in the programme, and what comes next."),
    Access.anyone,
    _home,
    sv=HOME_WORDS[1:],
)


def _commands(words: Sequence[tuple[str, ...]]) -> list[Command]:
    by_words = {command.words: command for command in (*REGISTRY.commands, HOME_COMMAND)}
    if len(words) > MAX_COMMANDS:
        raise PackageError(
            N_("a Teams command menu holds at most {limit} commands"), limit=MAX_COMMANDS
        )
    found = []
    for key in words:
        command = by_words.get(key)
        named = {"command": " ".join(key)}
        if command is None:
            raise PackageError(
                N_("the Teams command menu names “{command}”: no such command"), **named
            )
        _limited(What(N_("the command “{command}”"), named), " ".join(command.words), MAX_TITLE)
        _limited(What(N_("the summary of “{command}”"), named), command.summary, MAX_DESCRIPTION)
        found.append(command)
    return found


def _bot_id(bot_id: str) -> str:
    value = bot_id.strip()
    if not _GUID.match(value):
        raise PackageError(
            N_(
                "the bot id must be the bot's Microsoft Entra application (client) id, a GUID "
                "such as 0a1b2c3d-4e5f-6789-abcd-ef0123456789; got “{value}”"
            ),
            value=bot_id,
        )
    return value


def _version(version: str | None) -> str:
    if version is None:
        try:
            version = metadata.version("digilog")
        except metadata.PackageNotFoundError:
            version = "0.0.0"
        if not _SEMVER.match(version):
            raise PackageError(
                N_(
                    "Digilog's version “{version}” is not MAJOR.MINOR.PATCH; give the "
                    "package's version yourself, e.g. 1.0.0"
                ),
                version=version,
            )
    if not _SEMVER.match(version):
        raise PackageError(
            N_("the version must be MAJOR.MINOR.PATCH, e.g. 1.0.0; got “{version}”"),
            version=version,
        )
    return version


def _text(what: What, value: str, limit: int) -> str:
    value = value.strip()
    if not value:
        # Swedish agrees with `what` ("namnet … tomt"): the fields here are all neuter.
        raise PackageError(N_("{what} must not be empty"), what=what)
    return _limited(what, value, limit)


def _limited(what: What, value: str, limit: int) -> str:
    if len(value) > limit:
        raise PackageError(
            N_("{what} has {count} characters; Teams allows at most {limit}: “{value}”"),
            what=what,
            count=len(value),
            limit=limit,
            value=value,
        )
    return value


def _url(what: What, value: str) -> str:
    if not _URL.match(value):
        raise PackageError(
            N_("{what} must be an https:// address; got “{value}”"), what=what, value=value
        )
    return _limited(what, value, 2048)


def _domain(value: str) -> str:
    if not _DOMAIN.match(value):
        raise PackageError(
            N_(
                "a valid domain is a host name without scheme, port or path, such as "
                "digilog.example.org or *.example.org; got “{value}”"
            ),
            value=value,
        )
    return value


def _texts(language: str, name: str) -> dict[str, str]:
    limits = {
        "name.full": MAX_FULL_NAME,
        "description.short": MAX_SHORT_DESCRIPTION,
        "description.full": MAX_FULL_DESCRIPTION,
    }
    return {
        key: _limited(
            What(N_("the app's {key} ({language})"), {"key": key, "language": language}),
            text.format(name=name),
            limits[key],
        )
        for key, text in _TEXTS[language].items()
    }


def _json(value: dict[str, Any]) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


# ------------------------------------------------------------------ icons

_SCALE = 8  # draw this many times larger, then scale down: smooth edges without fonts


def color_icon() -> bytes:
    """192×192, full colour: a white speech bubble with a D, on the accent colour."""
    size = 192 * _SCALE
    image = Image.new("RGB", (size, size), ACCENT)
    inset = 36 * _SCALE
    _mark(ImageDraw.Draw(image), (inset, inset, size - inset, size - inset), WHITE, ACCENT)
    return _png(image.resize((192, 192), Image.Resampling.LANCZOS))


def outline_icon() -> bytes:
    """32×32, white on transparent and nothing else: the bubble, with the D cut out."""
    size = 32 * _SCALE
    alpha = Image.new("L", (size, size), 0)
    inset = 1 * _SCALE
    _mark(ImageDraw.Draw(alpha), (inset, inset, size - inset, size - inset), 255, 0)
    # Teams wants the outline icon only white and transparent, so no half-transparent edge.
    small = alpha.resize((32, 32), Image.Resampling.BOX)
    mask = small.point([0] * 128 + [255] * 128)
    image = Image.new("RGBA", (32, 32), (*WHITE, 0))
    image.putalpha(mask)
    return _png(image)


def _mark(
    draw: ImageDraw.ImageDraw,
    box: tuple[int, int, int, int],
    bubble: tuple[int, int, int] | int,
    letter: tuple[int, int, int] | int,
) -> None:
    """A speech bubble with its tail at the lower left, and a D in it, filling `box`."""
    left, top, right, bottom = box
    width, height = right - left, bottom - top

    def at(u: float, v: float) -> tuple[float, float]:
        return (left + u * width, top + v * height)

    def rect(u0: float, v0: float, u1: float, v1: float) -> list[tuple[float, float]]:
        return [at(u0, v0), at(u1, v1)]

    draw.rounded_rectangle(rect(0, 0, 1, 0.78), radius=0.2 * width, fill=bubble)
    draw.polygon([at(0.20, 0.70), at(0.46, 0.70), at(0.12, 1.0)], fill=bubble)
    # The D: a stem and a half disc, less a smaller stem and half disc inside.
    draw.rectangle(rect(0.28, 0.16, 0.50, 0.62), fill=letter)
    draw.pieslice(rect(0.27, 0.16, 0.73, 0.62), -90, 90, fill=letter)
    draw.rectangle(rect(0.39, 0.27, 0.50, 0.51), fill=bubble)
    draw.pieslice(rect(0.38, 0.27, 0.62, 0.51), -90, 90, fill=bubble)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
