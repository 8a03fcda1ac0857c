"""The channel a button was asked for in, sealed so that nobody can name another.

Teams has no reply for one person in a channel, so an answer to something asked there (the
organisation buttons of `join`) goes to the person's own chat, and its buttons carry the
channel they were asked for in: pressed there, they act in that channel. That value comes
back from the person's client, so on its own anyone in the tenant could write any channel
into it and join a cohort they were never asked into. It is therefore sealed: an HMAC over
the tenant, the person and the channel, with a key only the server has. A value that does
not open, or opens for someone else, is refused.

The key is derived from a secret every deployment already has: DIGILOG_SECRET_KEYS (each
of its keys opens, the first seals, so a rotation keeps buttons already sent working) and
TEAMS_APP_PASSWORD. Without either (the Agents Playground in anonymous loopback mode), a
key made at start-up serves that process alone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

_PURPOSE = b"digilog/teams/asked_in\x00"  # keys for this use only, whatever they are made from
_MAC_CHARS = 43  # 32 bytes of SHA-256 in unpadded url-safe base64


def _key(material: str) -> bytes:
    return hashlib.sha256(_PURPOSE + material.encode("utf-8")).digest()


def _mac(key: bytes, tenant: str, user: str, channel: str) -> str:
    message = "\x00".join((tenant, user, channel)).encode("utf-8")
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


@dataclass(frozen=True)
class Binder:
    """Seals with the first key, opens with any."""

    keys: tuple[bytes, ...]

    @classmethod
    def of(cls, materials: Sequence[str]) -> Binder:
        keys = tuple(_key(m) for m in materials if m)
        if not keys:
            log.warning(
                "Teams: no DIGILOG_SECRET_KEYS nor TEAMS_APP_PASSWORD to seal buttons with; "
                "a key of this process's own serves (buttons sent by one process are refused "
                "by another)"
            )
            return cls.random()
        return cls(keys)

    @classmethod
    def random(cls) -> Binder:
        return cls((secrets.token_bytes(32),))

    def seal(self, tenant: str, user: str, channel: str) -> str:
        """The channel, with the proof that it was given to this person in this tenant."""
        return f"{_mac(self.keys[0], tenant, user, channel)}:{channel}"

    @staticmethod
    def looks_sealed(value: str) -> bool:
        """Whether the value has a seal at all: buttons sent before sealing carried the bare
        channel (`19:…`, a colon at its third character, never at the 44th)."""
        mac = value[:_MAC_CHARS]
        return (
            value[_MAC_CHARS : _MAC_CHARS + 1] == ":"
            and len(mac) == _MAC_CHARS
            and all(c.isascii() and (c.isalnum() or c in "-_") for c in mac)
        )

    def open(self, tenant: str, user: str, sealed: str) -> str | None:
        """The channel sealed for this person, or None for a value forged, changed or
        sealed for someone else."""
        mac, rest = sealed[:_MAC_CHARS], sealed[_MAC_CHARS:]
        colon, channel = rest[:1], rest[1:]
        if colon != ":" or not channel:
            return None
        for key in self.keys:
            # As bytes: compare_digest refuses a str with anything but ASCII in it.
            expected = _mac(key, tenant, user, channel).encode()
            if hmac.compare_digest(mac.encode("utf-8", "replace"), expected):
                return channel
        return None


def binder_of(secret_keys: Sequence[str], app_password: str | None) -> Binder:
    return Binder.of([*secret_keys, app_password or ""])
