"""Files for one person in Teams: the file consent flow of a bot's personal chat.

A bot cannot attach a file to a message in Teams. It sends a FileConsentCard (name,
size, what it is); when the person accepts, Teams creates the file in their OneDrive
and sends a `fileConsent/invoke` with an `uploadUrl`; the bot PUTs the bytes there and
posts a file info card that opens the file. Until then the file waits in the database
(`offered_files`), for that person only; declining, or a day without an answer, drops it.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bot.teams.translate import Where
from handlers.core.i18n import Translator
from handlers.core.vocabulary import FileMessage
from storage.unit import Store

log = logging.getLogger(__name__)
CONSENT = "application/vnd.microsoft.teams.card.file.consent"
INFO = "application/vnd.microsoft.teams.card.file.info"
OFFER_KEPT = timedelta(days=1)
UPLOAD_SECONDS = 60.0


def consent_card(file: FileMessage, file_id: str, t: Translator) -> dict[str, Any]:
    """The message asking the person to accept the file."""
    context = {"offered_file": file_id}
    return {
        "type": "message",
        "summary": file.title,
        "attachments": [
            {
                "contentType": CONSENT,
                "name": file.filename,
                "content": {
                    "description": file.comment or file.title,
                    "sizeInBytes": len(file.content),
                    "acceptContext": context,
                    "declineContext": context,
                },
            }
        ],
    }


def on_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _upload_allowed(url: str, *, loopback_ok: bool) -> bool:
    """Only https (OneDrive's), or plain http on loopback when `loopback_ok`: the bytes are
    someone's personal data."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    return parts.scheme == "http" and loopback_ok and on_loopback(url)


async def answer_consent(
    store: Store,
    session: aiohttp.ClientSession,
    where: Where,
    value: Mapping[str, Any],
    t: Translator,
    *,
    loopback_ok: bool,
) -> dict[str, Any] | None:
    """What a `fileConsent/invoke` means: the file uploaded and its info card to post, or a
    line for the person; None when it is not one of ours."""
    context = value.get("context")
    file_id = context.get("offered_file") if isinstance(context, Mapping) else None
    if not isinstance(file_id, str):
        return None
    async with store.transaction() as repos:
        file = await repos.offered_files.take(file_id, where.tenant_id, where.user_id)
        content = (file.filename, bytes(file.content)) if file is not None else None
    if content is None:
        return _line(t("That file has been sent or declined already, or it has expired."))
    if value.get("action") != "accept":
        return _line(t("The file was not sent."))
    info = value.get("uploadInfo")
    if not isinstance(info, Mapping):
        return _line(t("Teams did not say where to put the file; nothing was sent."))
    upload_url, content_url = info.get("uploadUrl"), info.get("contentUrl")
    if not (isinstance(upload_url, str) and _upload_allowed(upload_url, loopback_ok=loopback_ok)):
        log.warning("Teams file consent with an upload address Digilog does not write to")
        return _line(t("Teams did not say where to put the file; nothing was sent."))
    name, data = content
    size = len(data)
    headers = {"Content-Range": f"bytes 0-{size - 1}/{size}" if size else "bytes */0"}
    try:
        async with session.put(
            upload_url,
            data=data,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=UPLOAD_SECONDS),
        ) as reply:
            if reply.status >= 400:
                raise aiohttp.ClientResponseError(
                    reply.request_info, (), status=reply.status, message=reply.reason or ""
                )
    except (aiohttp.ClientError, TimeoutError) as error:
        log.warning("the file upload to the person's OneDrive failed: %r", error)
        return _line(t("The file could not be put in your OneDrive; ask for it again."))
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": INFO,
                "contentUrl": content_url if isinstance(content_url, str) else upload_url,
                "name": str(info.get("name") or name),
                "content": {
                    "uniqueId": str(info.get("uniqueId") or ""),
                    "fileType": str(info.get("fileType") or name.rpartition(".")[2]),
                },
            }
        ],
    }


def _line(text: str) -> dict[str, Any]:
    return {"type": "message", "text": text}
