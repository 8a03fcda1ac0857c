"""Who a Slack user is (name, locale), asked of users.info once an hour at most.

users.info is a Tier 4 method: about 100 calls a minute per workspace. A workshop's first
quiz burst after a start brings hundreds of people the cache has not seen; asking about
each before answering them would run into that limit and hold every answer behind a
round trip. So a click or form from someone Digilog already holds waits for users.info
only while the workspace's minute has room for it. Beyond that they are answered at once
with what Digilog stores of them (name, time zone, language; a reply in the cohort's
language if they set none), and Slack is asked about them in the background, at Tier 4's
pace, for their next action. Someone Digilog does not hold yet is always asked about at
once: their e-mail address links a roster row, their name enrols them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.logs import failure_of
from bot.pace import Limit, Windows
from bot.slack.messenger import refusal

log = logging.getLogger(__name__)
TTL_SECONDS = 3600
# Tier 4: about 100 calls a minute per workspace, for the lookups of people Digilog holds.
TIER4 = Limit(100, 60.0)
# How long the set of people Digilog holds is trusted. One who joined since is asked
# about at once, as before: staleness costs a round trip, never a wrong answer.
HELD_SECONDS = 60.0

# The user ids Digilog holds in a workspace (people linked to a Slack account).
Accounts = Callable[[str], Awaitable[set[str]]]


@dataclass(frozen=True)
class SlackUser:
    name: str | None
    locale: str | None
    email: str | None = None  # with the users:read.email scope
    timezone: str | None = None


UNKNOWN = SlackUser(None, None)


@dataclass
class Directory:
    accounts: Accounts | None = None
    tier4: Limit = TIER4
    _known: dict[tuple[str, str], tuple[float, SlackUser]] = field(default_factory=dict)
    _held: dict[str, tuple[float, set[str]]] = field(default_factory=dict)
    _reading: dict[str, asyncio.Future[set[str]]] = field(default_factory=dict)
    _to_look_up: dict[tuple[str, str], AsyncWebClient] = field(default_factory=dict)
    _looking_up: asyncio.Task[None] | None = None
    _minutes: Windows = field(init=False)

    def __post_init__(self) -> None:
        self._minutes = Windows({"users.info": [self.tier4]})

    def cached(self, team: str, user_id: str) -> SlackUser | None:
        found = self._known.get((team, user_id))
        if found and time.monotonic() - found[0] < TTL_SECONDS:
            return found[1]
        return None

    async def user(self, client: AsyncWebClient, team: str, user_id: str) -> SlackUser:
        cached = self.cached(team, user_id)
        if cached is not None:
            return cached
        try:
            response = await client.users_info(user=user_id, include_locale=True)
        except SlackApiError as error:
            # Not knowing someone's locale is no reason to fail their request.
            log.warning("users.info %.40s failed: %s", user_id, refusal(error))
            if error.response.status_code == 429:
                wait = float(error.response.headers.get("Retry-After", 0) or 0)
                self._minutes.hold(("users.info", team), max(wait, 1.0))
            return UNKNOWN
        data = response.get("user") or {}
        profile = data.get("profile") or {}
        name = profile.get("display_name") or profile.get("real_name") or data.get("real_name")
        user = SlackUser(
            name or data.get("name"), data.get("locale"), profile.get("email"), data.get("tz")
        )
        self._known[(team, user_id)] = (time.monotonic(), user)
        return user

    async def user_at_once(self, client: AsyncWebClient, team: str, user_id: str) -> SlackUser:
        """As `user`, but someone Digilog holds does not wait beyond the workspace's Tier 4
        minute: UNKNOWN then (their stored profile serves), Slack's answer for their next
        action."""
        cached = self.cached(team, user_id)
        if cached is not None:
            return cached
        if not await self._holds(team, user_id):
            return await self.user(client, team, user_id)
        lane = ("users.info", team)
        if self._minutes.delay([lane]) == 0:
            await self._minutes.turn([lane])
            return await self.user(client, team, user_id)
        self._to_look_up[(team, user_id)] = client
        if self._looking_up is None or self._looking_up.done():
            self._looking_up = asyncio.create_task(self._look_up_waiting())
        return UNKNOWN

    async def _holds(self, team: str, user_id: str) -> bool:
        if self.accounts is None:
            return False
        read = self._held.get(team)
        if read is None or time.monotonic() - read[0] > HELD_SECONDS:
            # One read for the clicks that come together (8 are made ready at once).
            reading = self._reading.get(team)
            if reading is None:
                reading = self._reading[team] = asyncio.ensure_future(self.accounts(team))
                reading.add_done_callback(lambda _: self._reading.pop(team, None))
            try:
                read = (time.monotonic(), await asyncio.shield(reading))
            except Exception as error:  # the database is away: ask Slack, as before
                log.warning("Slack directory: people not read: %s", failure_of(error))
                return False
            self._held[team] = read
        return user_id in read[1]

    async def _look_up_waiting(self) -> None:
        while self._to_look_up:
            (team, user_id), client = next(iter(self._to_look_up.items()))
            del self._to_look_up[(team, user_id)]
            if self.cached(team, user_id) is None:
                await self._minutes.turn([("users.info", team)])
                try:
                    await self.user(client, team, user_id)
                except Exception as error:  # Slack away, or the process stopping: next time
                    log.warning("users.info %.40s failed: %s", user_id, failure_of(error))

    async def names(
        self, client: AsyncWebClient, team: str, user_ids: Iterable[str]
    ) -> dict[str, str]:
        found = {}
        for user_id in user_ids:
            user = await self.user(client, team, user_id)
            if user.name:
                found[user_id] = user.name
        return found
