"""What a sender needs from a platform: send one message, and find one that may have gone.

The Slack and Teams adapters and the console implement this; the sender knows nothing
else of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from handlers.core.vocabulary import Outgoing, ToConversation, ToGroup, ToPerson

# Why a delivery waits or failed, in categories a facilitator can read (handlers/schedule.py
# says each in words); the platform's own words stay in the row's `reason`.
NO_ANSWER = "no_answer"  # a timeout, a dropped connection, HTTP 5xx: an outage
RATE_LIMITED = "rate_limited"  # 429, or our own pacing would have waited too long
REFUSED = "refused"  # the platform said no (a bad channel, a revoked token)
UNREACHABLE = "unreachable"  # the person cannot be written to at all
NOT_CONNECTED = "not_connected"  # this process does not serve that platform or tenant yet
EXPIRED = "expired"  # its deadline passed while it could not be sent
TROUBLES = (NO_ANSWER, RATE_LIMITED, REFUSED, UNREACHABLE, NOT_CONNECTED, EXPIRED)


@dataclass(frozen=True)
class Sent:
    """Where the message landed and the platform's id for it."""

    conversation_id: str
    message_id: str


class TryLater(Exception):
    """The platform said not now (Slack: 429 with Retry-After); nothing was sent."""

    def __init__(
        self,
        seconds: float,
        reason: str = "rate limited",
        trouble: str = RATE_LIMITED,
        *,
        whole: bool = False,
    ) -> None:
        super().__init__(reason)
        self.seconds = seconds
        self.reason = reason
        self.trouble = trouble
        # Everything to that workspace or tenant waits (an outage, a throttle on posting),
        # not only this call's lane (a lookup's): the sender then leaves the cohort's other
        # rows alone meanwhile.
        self.whole = whole


class Refused(Exception):
    """The platform refused the message (a bad channel, a revoked token); nothing was sent.

    `unreachable`: the person cannot be written to at all (Teams: not in the roster of
    anywhere the bot is), which no retry mends and a facilitator should hear of.
    """

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool = False,
        unreachable: bool = False,
        trouble: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent or unreachable
        self.unreachable = unreachable
        self.trouble = trouble or (UNREACHABLE if unreachable else REFUSED)


class OutcomeUnknown(Exception):
    """The request may have reached the platform (a timeout, a dropped connection, a 5xx
    after which Slack says some of it may have been done)."""

    trouble = NO_ANSWER


class Courier(Protocol):
    async def send(self, key: str, outgoing: Outgoing) -> Sent:
        """Send it, tagged with the delivery key; raise TryLater, Refused or OutcomeUnknown."""
        ...

    async def find(self, key: str, outgoing: Outgoing, since: datetime) -> Sent | None:
        """The message tagged with this key if it went out after `since`, else None."""
        ...


class ByPlatform:
    """Each message to the courier of its platform, for a process that serves several."""

    def __init__(self, couriers: Mapping[str, Courier]) -> None:
        self.couriers = dict(couriers)

    def _of(self, outgoing: Outgoing) -> Courier:
        to = outgoing.to
        platform = to.conversation.platform if isinstance(to, ToConversation) else None
        if isinstance(to, ToPerson | ToGroup):
            platform = to.platform
        courier = self.couriers.get(platform or "")
        if courier is None:
            # Another process may serve that platform; this one leaves the row to it.
            raise Refused(f"{platform} is not connected in this process", trouble=NOT_CONNECTED)
        return courier

    async def send(self, key: str, outgoing: Outgoing) -> Sent:
        return await self._of(outgoing).send(key, outgoing)

    async def find(self, key: str, outgoing: Outgoing, since: datetime) -> Sent | None:
        return await self._of(outgoing).find(key, outgoing, since)
