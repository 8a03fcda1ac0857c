"""One contract for the couriers: console, Slack and Teams answer the sender alike.

`schedules/courier.py` says what a sender needs from a platform: `send` a message tagged
with its delivery key and say where it landed (`Sent`), or say why not in one of three
ways the sender acts on (`Refused`, permanent or not; `TryLater`, after so many seconds;
`OutcomeUnknown`, it may have gone); and `find` a message whose outcome is in doubt,
answering only what it knows. Each test here runs the same steps against each courier:
Slack against the fake Web API, Teams against the fake Bot Connector (both on loopback,
through the real HTTP clients), the console against its own output. Where a platform
cannot have a failure at all, the test says why in place of the steps, and still checks
what that courier does instead.

The couriers' pacers run on a fake monotonic clock that moves only when a courier sleeps
on it: a wait for Retry-After is seen as time the courier slept, not measured.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.console.courier import ConsoleCourier
from bot.console.shell import Console
from bot.pace import Pacer
from bot.slack.courier import SlackCourier, courier_client, slack_limits
from bot.teams.connector import Connector, static_token
from bot.teams.courier import TeamsCourier
from handlers.core.programme_file import Programme
from handlers.core.vocabulary import (
    Conversation,
    FileMessage,
    Form,
    MessageBuilder,
    Outgoing,
    ToConversation,
    ToGroup,
    ToPerson,
)
from handlers.digilog import Digilog
from schedules.clock import SystemClock
from schedules.courier import Courier, OutcomeUnknown, Refused, Sent, TryLater
from storage.unit import Store
from tests.conftest import make_cohort
from tests.slack_fake import FakeSlack
from tests.slack_payloads import TEAM_ID
from tests.teams_fake import ACCESS_TOKEN, APP_ID, FakeConnector, teams_cohort
from tests.test_teams_courier import FakeTime, heard_from_tenant

PLATFORMS = ("console", "slack", "teams")
RETRY_AFTER = 3  # seconds: longer than Slack's one post a second per channel, so told apart
LONG_RETRY_AFTER = 30  # longer than a courier waits for a turn: the row is given back


@dataclass
class Under:
    """A courier under contract, with its platform's switches for the failures it can have
    (None where the platform cannot have that failure)."""

    platform: str
    courier: Courier
    clock: FakeTime
    workspace: str
    channel: str
    person: str
    landed: Callable[[str], int]  # how many messages with this text reached the platform
    refuse_channel: Callable[[], None] | None
    drop_answer: Callable[[], None] | None
    rate_limit: Callable[[int], None] | None
    failing_lookup: Callable[[int], None] | None  # the next lookup answers this status

    def to_channel(self, text: str, thread: str | None = None) -> Outgoing:
        where = Conversation(self.platform, self.workspace, self.channel, thread)
        return Outgoing(ToConversation(where), MessageBuilder().para(text).build())

    def to_person(self, text: str) -> Outgoing:
        to = ToPerson(self.platform, self.workspace, self.person)
        return Outgoing(to, MessageBuilder().para(text).build())


@pytest.fixture(params=PLATFORMS)
async def under(
    request: pytest.FixtureRequest, store: Store, programme: Programme
) -> AsyncIterator[Under]:
    clock = FakeTime()
    platform = str(request.param)
    if platform == "console":
        cohort = await make_cohort(store, programme)
        out = io.StringIO()
        console = Console(Digilog(store), store, cohort, "fia", out=out)
        yield Under(
            platform,
            ConsoleCourier(console, SystemClock()),
            clock,
            cohort.workspace,
            cohort.conversation_id,
            "anna",
            lambda text: out.getvalue().count(text),
            refuse_channel=None,
            drop_answer=None,
            rate_limit=None,
            failing_lookup=None,
        )
    elif platform == "slack":
        async with FakeSlack() as slack, aiohttp.ClientSession() as session:
            client = courier_client("xoxb-test", slack.api_url, session)

            async def client_for(workspace: str) -> AsyncWebClient:
                return client

            pacer = Pacer(slack_limits(20), clock=clock, sleep=clock.sleep)

            def slack_landed(text: str) -> int:
                return sum(text in str(m.get("text")) for m in slack.messages.values())

            def slack_lookup_fails(status: int) -> None:
                if status == 429:
                    slack.rate_limit("conversations.history", retry_after=RETRY_AFTER)
                else:
                    slack.fail("conversations.history", error="internal_error", status=status)

            yield Under(
                platform,
                SlackCourier(client_for, 20, pacer=pacer),
                clock,
                TEAM_ID,
                "C_COHORT",
                "U_ANNA",
                slack_landed,
                refuse_channel=lambda: slack.fail("chat.postMessage", error="channel_not_found"),
                drop_answer=lambda: slack.lose_answer("chat.postMessage"),
                rate_limit=lambda s: slack.rate_limit("chat.postMessage", retry_after=s),
                failing_lookup=slack_lookup_fails,
            )
    else:
        cohort = await teams_cohort(store, programme)
        async with (
            FakeConnector(APP_ID, "app-secret").running() as fake,
            aiohttp.ClientSession() as session,
        ):
            await heard_from_tenant(store, fake)
            connector = Connector(session, static_token(ACCESS_TOKEN))

            def teams_landed(text: str) -> int:
                return sum(text in json.dumps(activity) for activity in fake.posted())

            def teams_drop() -> None:
                fake.dropped += 1

            yield Under(
                platform,
                TeamsCourier(store, connector, clock=clock, sleep=clock.sleep),
                clock,
                cohort.workspace,
                cohort.conversation_id,
                "29:anna",
                teams_landed,
                refuse_channel=lambda: fake.fail_next(404, code="ConversationNotFound"),
                drop_answer=teams_drop,
                rate_limit=lambda s: fake.fail_next(429, code="Throttled", retry_after=s),
                # The Bot Connector has no lookup, so no lookup can fail (see below).
                failing_lookup=None,
            )


def since() -> datetime:
    """A moment before anything a test sends (Slack looks from it on)."""
    return datetime.now(UTC) - timedelta(minutes=5)


# ---------------------------------------------------------------- sent


async def test_a_message_sent_says_where_it_landed_with_the_platforms_id(under: Under) -> None:
    post = await under.courier.send("k-post", under.to_channel("Theme 1 has started"))
    assert post.conversation_id == under.channel and post.message_id
    direct = await under.courier.send("k-nudge", under.to_person("You have not posted yet"))
    assert direct.message_id and direct.message_id != post.message_id
    # A person is written to in their direct conversation, which the platform names.
    assert direct.conversation_id
    reply = await under.courier.send(
        "k-reply", under.to_channel("The digilog is open", thread=post.message_id)
    )
    assert reply.conversation_id == under.channel and reply.message_id not in (
        post.message_id,
        direct.message_id,
    )
    for text in ("Theme 1 has started", "You have not posted yet", "The digilog is open"):
        assert under.landed(text) == 1, text


# ---------------------------------------------------------------- refused


@pytest.mark.parametrize("what", ["a file", "a form", "a group"])
async def test_what_no_schedule_sends_is_refused_for_good_and_nothing_lands(
    under: Under, what: str
) -> None:
    """Only messages to a channel, a thread or a person are scheduled: a file, a form (it
    would take over the reader's next answers) or a group message is refused as no retry
    mends, on every platform, and nothing reaches it (not even a saved file)."""
    text = "Not for a schedule"
    outgoing = under.to_channel(text)
    if what == "a file":
        outgoing = Outgoing(outgoing.to, FileMessage("notes.txt", text.encode(), text, text))
    elif what == "a form":
        outgoing = Outgoing(outgoing.to, Form("survey:1:1", text, (), "Send"))
    else:
        to = ToGroup(under.platform, under.workspace, (under.person,))
        outgoing = Outgoing(to, outgoing.message)
    with pytest.raises(Refused) as refused:
        await under.courier.send("k-not", outgoing)
    assert refused.value.permanent
    assert under.landed(text) == 0


async def test_a_channel_the_platform_does_not_know_is_refused_for_good(under: Under) -> None:
    if under.refuse_channel is None:
        # The console prints to its own terminal: there is no channel it could fail to
        # find. It still says where the post went.
        assert under.platform == "console"
        sent = await under.courier.send("k-gone", under.to_channel("To a channel"))
        assert sent.conversation_id == under.channel
        return
    under.refuse_channel()  # Slack: channel_not_found; Teams: 404 ConversationNotFound
    with pytest.raises(Refused) as refused:
        await under.courier.send("k-gone", under.to_channel("To a channel that is gone"))
    assert refused.value.permanent and not refused.value.unreachable
    assert refused.value.trouble == "refused"
    assert under.landed("To a channel that is gone") == 0


async def test_a_thread_whose_first_message_is_unknown_is_refused_for_good(under: Under) -> None:
    """A root id lost with an answer (Teams cannot look it up: `find` gives "") is no thread
    to reply in; posting without it would put the reply in the channel instead."""
    with pytest.raises(Refused) as refused:
        await under.courier.send("k-thread", under.to_channel("Into no thread", thread=""))
    assert refused.value.permanent
    assert under.landed("Into no thread") == 0


# ---------------------------------------------------------------- outcome unknown


async def test_an_answer_lost_after_the_request_left_is_an_unknown_outcome(under: Under) -> None:
    if under.drop_answer is None:
        # The console prints in the sender's own process: the print has happened or not
        # when `send` returns, and a sender that dies meanwhile takes the terminal with
        # it. There is no answer to lose. What it printed, it finds.
        sent = await under.courier.send("k-lost", under.to_channel("Printed once"))
        assert await under.courier.find("k-lost", under.to_channel("Printed once"), since()) == (
            sent
        )
        return
    under.drop_answer()
    with pytest.raises(OutcomeUnknown) as unknown:
        await under.courier.send("k-lost", under.to_channel("Taken, answer lost"))
    assert unknown.value.trouble == "no_answer"
    assert under.landed("Taken, answer lost") == 1  # it did go out: only the answer is lost


# ---------------------------------------------------------------- rate limited


async def test_rate_limited_means_try_later_and_the_next_call_waits_retry_after(
    under: Under,
) -> None:
    if under.rate_limit is None:
        # A terminal has no rate limit: nothing tells the console to slow down, so it
        # never answers TryLater. Ten posts to one channel go at once, without a wait.
        before = under.clock.now
        for n in range(10):
            await under.courier.send(f"k-{n}", under.to_channel(f"Post {n}"))
        assert under.clock.now == before
        return
    under.rate_limit(RETRY_AFTER)
    with pytest.raises(TryLater) as later:
        await under.courier.send("k-429", under.to_channel("Throttled once"))
    assert later.value.seconds == RETRY_AFTER and later.value.trouble == "rate_limited"
    assert under.landed("Throttled once") == 0
    # The next attempt waits out Retry-After before it calls, then goes.
    before = under.clock.now
    sent = await under.courier.send("k-429", under.to_channel("Throttled once"))
    assert under.clock.now - before >= RETRY_AFTER
    assert sent.message_id and under.landed("Throttled once") == 1


async def test_a_retry_after_longer_than_a_turn_gives_the_row_back_without_calling(
    under: Under,
) -> None:
    if under.rate_limit is None:
        return  # the console is never rate limited (see the test above)
    under.rate_limit(LONG_RETRY_AFTER)
    with pytest.raises(TryLater):
        await under.courier.send("k-429", under.to_channel("Throttled long"))
    with pytest.raises(TryLater) as later:
        await under.courier.send("k-429", under.to_channel("Throttled long"))
    # Given back at once, saying how long is left, and the platform was not asked again.
    assert 0 < later.value.seconds <= LONG_RETRY_AFTER
    assert under.landed("Throttled long") == 0
    under.clock.now += LONG_RETRY_AFTER
    await under.courier.send("k-429", under.to_channel("Throttled long"))
    assert under.landed("Throttled long") == 1


# ---------------------------------------------------------------- find


async def test_find_settles_a_message_in_doubt_without_sending_it(under: Under) -> None:
    """The sender asks `find` before sending a row in doubt again. Slack finds the message
    by the key in its metadata; the console by what it printed. The Bot Connector has no
    way to look, so the Teams courier answers "taken as sent" with no id: a message may
    then be lost, never sent twice (bot/teams/courier.py)."""
    text = "In doubt after a lost answer"
    if under.drop_answer is not None:
        under.drop_answer()
        with pytest.raises(OutcomeUnknown):
            await under.courier.send("k-doubt", under.to_person(text))
    else:
        await under.courier.send("k-doubt", under.to_person(text))
    found = await under.courier.find("k-doubt", under.to_person(text), since())
    assert found is not None and found.conversation_id
    if under.platform == "teams":
        assert found.message_id == ""
    else:
        assert found.message_id
    assert under.landed(text) == 1  # looking sent nothing


async def test_find_of_a_message_that_never_went_says_so_where_it_can_look(
    under: Under,
) -> None:
    found = await under.courier.find("k-never", under.to_channel("Never sent"), since())
    if under.platform == "teams":
        assert found == Sent(under.channel, "")  # cannot look: at most once
    else:
        assert found is None  # looked, and it is not there: the sender sends it
    assert under.landed("Never sent") == 0


@pytest.mark.parametrize("status", [500, 429])
async def test_a_lookup_that_fails_never_says_not_there(under: Under, status: int) -> None:
    """Only a lookup that answers may clear a doubt: one that fails raises, so the row stays
    in doubt (issue 21's duplicate came from a 500 taken as "not there")."""
    if under.failing_lookup is None:
        # The console looks in its own memory and Teams does not call anything to look,
        # so neither has a lookup that can fail.
        assert under.platform in ("console", "teams")
        return
    text = "Taken, then the lookup fails"
    assert under.drop_answer is not None
    under.drop_answer()
    with pytest.raises(OutcomeUnknown):
        await under.courier.send("k-look", under.to_channel(text))
    under.failing_lookup(status)
    if status == 429:
        with pytest.raises(TryLater) as later:
            await under.courier.find("k-look", under.to_channel(text), since())
        assert later.value.seconds == RETRY_AFTER
    else:
        with pytest.raises(OutcomeUnknown):
            await under.courier.find("k-look", under.to_channel(text), since())
    # A lookup after it waits out Retry-After (or the outage hold), then finds it.
    before = under.clock.now
    found = await under.courier.find("k-look", under.to_channel(text), since())
    assert found is not None and found.conversation_id == under.channel
    if status == 429:
        assert under.clock.now - before >= RETRY_AFTER
    assert under.landed(text) == 1


async def test_every_courier_is_a_courier() -> None:
    """The sender sees only the protocol: each courier has its two calls, async."""
    for courier in (ConsoleCourier, SlackCourier, TeamsCourier):
        assert asyncio.iscoroutinefunction(courier.send)
        assert asyncio.iscoroutinefunction(courier.find)
