"""Who a Slack user is (name, locale), asked of users.info once an hour at most."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.messenger import refusal

log = logging.getLogger(__name__)
TTL_SECONDS = 3600


@dataclass(frozen=True)
class SlackUser:
    name: str | None
    locale: str | None
    email: str | None = None  # with the users:read.email scope
    timezone: str | None = None


@dataclass
class Directory:
    _known: dict[tuple[str, str], tuple[float, SlackUser]] = field(default_factory=dict)

    async def user(self, client: AsyncWebClient, team: str, user_id: str) -> SlackUser:
        key = (team, user_id)
        cached = self._known.get(key)
        if cached and time.monotonic() - cached[0] < TTL_SECONDS:
            return cached[1]
        try:
            response = await client.users_info(user=user_id, include_locale=True)
        except SlackApiError as error:
            # Not knowing someone's locale is no reason to fail their request.
            log.warning("users.info %.40s failed: %s", user_id, refusal(error))
            return SlackUser(None, None)
        data = response.get("user") or {}
        profile = data.get("profile") or {}
        name = profile.get("display_name") or profile.get("real_name") or data.get("real_name")
        user = SlackUser(
            name or data.get("name"), data.get("locale"), profile.get("email"), data.get("tz")
        )
        self._known[key] = (time.monotonic(), user)
        return user

    async def names(
        self, client: AsyncWebClient, team: str, user_ids: Iterable[str]
    ) -> dict[str, str]:
        found = {}
        for user_id in user_ids:
            user = await self.user(client, team, user_id)
            if user.name:
                found[user_id] = user.name
        return found
