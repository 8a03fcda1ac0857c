"""Secrets sealed at rest with Fernet: the keys of DIGILOG_SECRET_KEYS, newest first.

Apart from the Slack installation store that uses it, so that the settings can check the
keys without loading the Slack SDK (and without an import cycle between the two).
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from handlers.core.i18n import N_, Said

# Every Fernet token starts with these bytes (version 0x80, then the timestamp's high
# bytes); no Slack token (xox…) or webhook URL (https://…) does.
SEALED_PREFIX = "gAAAAA"


class SecretKeyError(Said):
    """The keys are missing or malformed, or a stored value opens with none of them: in
    English in a log, in the administrator's language where they read it (`said(t)`). The
    message never contains a key or a token."""


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")


def is_sealed(value: str) -> bool:
    return value.startswith(SEALED_PREFIX)


class Sealer:
    """Seals with the first key, opens with any."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise SecretKeyError(
                N_(
                    "no secret key: set DIGILOG_SECRET_KEYS (make one with "
                    "`digilog secrets new-key`)"
                )
            )
        fernets = []
        for number, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.encode("ascii")))
            except (ValueError, UnicodeEncodeError):
                # Which key, by place only: the key itself may be a secret set by mistake.
                raise SecretKeyError(
                    N_(
                        "DIGILOG_SECRET_KEYS: key {number} of {count} is not a Fernet key "
                        "(32 bytes in url-safe base64; make one with `digilog secrets new-key`)"
                    ),
                    number=number,
                    count=len(keys),
                ) from None
        self._fernet = MultiFernet(fernets)

    def seal(self, value: str) -> str:
        """The value encrypted with the newest key; a value already sealed stays as it is."""
        if is_sealed(value):
            return value
        return self._fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def open(self, value: str) -> str:
        """The plain value; a legacy plain-text value comes back unchanged."""
        if not is_sealed(value):
            return value
        try:
            return self._fernet.decrypt(value.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise SecretKeyError(
                N_(
                    "a stored Slack token opens with none of the keys in DIGILOG_SECRET_KEYS "
                    "(was the key it was sealed with dropped before `digilog secrets rotate`?)"
                )
            ) from None

    def reseal(self, value: str) -> str:
        """The value sealed with the newest key, whether it was plain or sealed with any key."""
        if not is_sealed(value):
            return self.seal(value)
        try:
            return self._fernet.rotate(value.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise SecretKeyError(
                N_(
                    "a stored Slack token opens with none of the keys in DIGILOG_SECRET_KEYS; "
                    "put the key it was sealed with back (after the new one) and run "
                    "`digilog secrets rotate` again"
                )
            ) from None
