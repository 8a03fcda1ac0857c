"""Who a Slack user is, asked of users.info within Tier 4 (bot/slack/directory.py): a
burst of people Digilog holds is answered without waiting once the minute is spent,
and someone new is always asked about first."""

from __future__ import annotations

import asyncio

from slack_sdk.web.async_client import AsyncWebClient

from bot.pace import Limit
from bot.slack.app import held_accounts
from bot.slack.directory import UNKNOWN, Directory
from storage.unit import Store
from tests.slack_fake import FakeSlack

TEAM = "T_DIR"


async def test_past_tier4_a_held_person_is_answered_at_once_and_looked_up_later(
    store: Store,
) -> None:
    async with store.transaction() as repos:
        for user_id, name in (("U_ANNA", "Anna"), ("U_BO", "Bo")):
            await repos.people.find_or_add(
                "slack", TEAM, user_id=user_id, email=None, display_name=name
            )
    async with FakeSlack() as fake:
        fake.users["U_ANNA"] = {"display_name": "Anna A", "locale": "en-GB"}
        fake.users["U_BO"] = {"display_name": "Bo B", "locale": "en-GB"}
        fake.users["U_NEW"] = {"real_name": "Nya N", "email": "nya@umea.se"}
        client = AsyncWebClient(token="xoxb-dir", base_url=fake.api_url)
        directory = Directory(accounts=held_accounts(store), tier4=Limit(1, 0.5))

        anna = await directory.user_at_once(client, TEAM, "U_ANNA")  # the minute's one call
        assert (anna.name, anna.locale) == ("Anna A", "en-GB")

        # Bo's lookup would wait: he is answered with what Digilog stores of him.
        assert await directory.user_at_once(client, TEAM, "U_BO") is UNKNOWN
        # Someone new is asked about however full the minute: their e-mail links them.
        new = await directory.user_at_once(client, TEAM, "U_NEW")
        assert new.email == "nya@umea.se"

        # Bo is looked up once the window frees, for his next action.
        await fake.wait_for("users.info", count=3)
        for _ in range(50):
            if directory.cached(TEAM, "U_BO") is not None:
                break
            await asyncio.sleep(0.05)
        bo = await directory.user_at_once(client, TEAM, "U_BO")
        assert (bo.name, bo.locale) == ("Bo B", "en-GB")
        looked_up = [call.params["user"] for call in fake.calls_to("users.info")]
        assert looked_up == ["U_ANNA", "U_NEW", "U_BO"]


async def test_clicks_that_come_together_read_who_digilog_holds_once(store: Store) -> None:
    async with store.transaction() as repos:
        for n in range(8):
            await repos.people.find_or_add(
                "slack", TEAM, user_id=f"U{n}", email=None, display_name=f"P{n}"
            )
    reads = 0
    read_people = held_accounts(store)

    async def counted(team: str) -> set[str]:
        nonlocal reads
        reads += 1
        return await read_people(team)

    async with FakeSlack() as fake:
        for n in range(8):
            fake.users[f"U{n}"] = {"display_name": f"P{n}"}
        client = AsyncWebClient(token="xoxb-dir", base_url=fake.api_url)
        directory = Directory(accounts=counted, tier4=Limit(1, 60))
        users = await asyncio.gather(
            *(directory.user_at_once(client, TEAM, f"U{n}") for n in range(8))
        )
    assert reads == 1
    assert sum(user is UNKNOWN for user in users) == 7  # one lookup fits in the minute
