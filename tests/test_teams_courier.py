"""The Teams courier against the fake Bot Connector: where scheduled messages land, how each
of Teams' refusals is answered, the pace it keeps (on a fake clock), and the real sender
sending a Teams cohort's deliveries through it once each."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import select

from bot.teams.connector import Connector, ConnectorError, KeptToken, static_token
from bot.teams.courier import TEAMS_LIMITS, Limit, TeamsCourier, Windows
from handlers.admin import load_calendar
from handlers.core.programme_file import Programme
from handlers.core.steps import AD_HOC
from handlers.core.vocabulary import (
    Conversation,
    MessageBuilder,
    Outgoing,
    ToConversation,
    ToPerson,
)
from handlers.digilog import Digilog
from schedules.courier import OutcomeUnknown, Refused, Sent, TryLater
from schedules.send import Sender
from schedules.timekeeper import Timekeeper
from storage.deliveries import Planned
from storage.models import Cohort, Delivery, DeliveryState
from storage.unit import Store
from tests.teams_fake import (
    ACCESS_TOKEN,
    APP_ID,
    BOT,
    CHANNEL,
    TENANT,
    FakeConnector,
    teams_cohort,
)

STOCKHOLM = ZoneInfo("Europe/Stockholm")


@dataclass
class FakeTime:
    """A monotonic clock that moves only when someone sleeps on it."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
async def fake() -> AsyncIterator[FakeConnector]:
    async with FakeConnector(APP_ID, "app-secret").running() as connector:
        yield connector


@pytest.fixture
async def connector(fake: FakeConnector) -> AsyncIterator[Connector]:
    async with aiohttp.ClientSession() as session:
        yield Connector(session, static_token(ACCESS_TOKEN))


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


async def heard_from_tenant(store: Store, fake: FakeConnector) -> None:
    """What the Teams adapter keeps when the first activity comes from the cohort's channel."""
    async with store.transaction() as repos:
        await repos.addresses.remember("teams", TENANT, CHANNEL, fake.service_url, BOT)


async def queue_nudges(
    store: Store, cohort: Cohort, due: datetime, wanted: Iterable[tuple[str, str]]
) -> None:
    """Nudges of theme 1, as a facilitator's `nudge` queues them: (Teams user, task) each."""
    async with store.transaction() as repos:
        ids = {}
        for user in {user for user, _ in wanted}:
            person = await repos.people.by_account("teams", TENANT, user)
            assert person is not None
            ids[user] = person.id
        await repos.deliveries.add(
            Planned(
                key=f"{AD_HOC}:c{cohort.id}:t:{task}:p{ids[user]}",
                cohort_id=cohort.id,
                kind=AD_HOC,
                due_at=due,
                relevant_until=local("2027-05-08 10:00"),
                theme_number=1,
                person_id=ids[user],
                detail={"task": task},
            )
            for user, task in wanted
        )


@pytest.fixture
async def courier(
    store: Store, connector: Connector, fake: FakeConnector, clock: FakeTime
) -> TeamsCourier:
    await heard_from_tenant(store, fake)
    return TeamsCourier(store, connector, clock=clock, sleep=clock.sleep)


def note(text: str) -> MessageBuilder:
    return MessageBuilder().para(text)


def to_channel(text: str, thread: str | None = None, channel: str = CHANNEL) -> Outgoing:
    where = Conversation("teams", TENANT, channel, thread)
    return Outgoing(ToConversation(where), note(text).build())


def to_person(user_id: str, text: str = "Theme 1: you have not posted yet") -> Outgoing:
    return Outgoing(ToPerson("teams", TENANT, user_id), note(text).build())


# ---------------------------------------------------------------- where it lands


async def test_a_channel_post_and_a_thread_reply_land_in_their_conversations(
    courier: TeamsCourier, fake: FakeConnector
) -> None:
    post = await courier.send("k1", to_channel("Theme 1 has started"))
    assert post.conversation_id == CHANNEL and post.message_id
    [activity] = fake.posted(CHANNEL)
    assert "Theme 1 has started" in json.dumps(activity)
    assert activity["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"

    reply = await courier.send("k2", to_channel("The digilog is open", thread=post.message_id))
    assert reply.conversation_id == CHANNEL and reply.message_id != post.message_id
    [in_thread] = fake.posted(f"{CHANNEL};messageid={post.message_id}")
    assert "The digilog is open" in json.dumps(in_thread)
    assert len(fake.posted(CHANNEL)) == 1  # the reply did not start a thread of its own


async def test_a_nudge_opens_the_persons_chat_once_and_remembers_it(
    store: Store, courier: TeamsCourier, connector: Connector, fake: FakeConnector
) -> None:
    first = await courier.send("n1", to_person("29:anna"))
    assert first == Sent("a:29:anna", first.message_id)
    async with store.transaction() as repos:
        chat = await repos.addresses.personal("teams", TENANT, "29:anna")
    assert chat is not None and chat.conversation_id == "a:29:anna"
    assert (chat.address, chat.bot_id) == (fake.service_url, BOT)
    # Another process (a courier of its own) finds the chat in the database.
    again = TeamsCourier(store, connector)
    await again.send("n2", to_person("29:anna", "The quiz closes tomorrow"))
    assert fake.created() == ["29:anna"]
    assert [a["summary"] for a in fake.posted("a:29:anna")] == [
        "Theme 1: you have not posted yet",
        "The quiz closes tomorrow",
    ]


async def test_nothing_goes_to_a_tenant_digilog_has_not_heard_from(
    store: Store, connector: Connector, fake: FakeConnector
) -> None:
    courier = TeamsCourier(store, connector)
    for outgoing in (to_channel("Theme 1 has started"), to_person("29:anna")):
        with pytest.raises(Refused) as refused:
            await courier.send("k", outgoing)
        assert not refused.value.permanent  # it may hear from the tenant before the retry
        assert "has not yet heard from the Teams tenant" in refused.value.reason
    assert fake.calls == []


# ---------------------------------------------------------------- refusals


async def test_a_person_who_never_installed_digilog_is_unreachable(
    store: Store, courier: TeamsCourier, fake: FakeConnector
) -> None:
    fake.unreachable.add("29:bjorn")
    with pytest.raises(Refused) as refused:
        await courier.send("n1", to_person("29:bjorn"))
    assert refused.value.unreachable and refused.value.permanent
    assert refused.value.reason.startswith("Teams: 403 Forbidden")
    async with store.transaction() as repos:
        assert await repos.addresses.personal("teams", TENANT, "29:bjorn") is None
    # A chat Digilog knew, whose person has since removed the app, says the same.
    await courier.send("n2", to_person("29:anna"))
    fake.fail_next(403, code="BotNotInConversationRoster")
    with pytest.raises(Refused) as refused:
        await courier.send("n3", to_person("29:anna"))
    assert refused.value.unreachable
    # In a channel a 403 is the bot's problem, not a person's.
    fake.fail_next(403, code="BotNotInConversationRoster")
    with pytest.raises(Refused) as refused:
        await courier.send("c1", to_channel("Theme 1 has started"))
    assert refused.value.permanent and not refused.value.unreachable
    assert refused.value.reason == "Teams: 403 BotNotInConversationRoster"


async def test_a_throttle_says_try_later_and_holds_that_conversation(
    courier: TeamsCourier, fake: FakeConnector, clock: FakeTime
) -> None:
    fake.fail_next(429, code="Throttled", retry_after=4)
    with pytest.raises(TryLater) as later:
        await courier.send("k1", to_channel("Theme 1 has started"))
    assert later.value.seconds == 4
    assert fake.posted() == []
    # Another conversation goes at once; this one waits out the Retry-After.
    started = clock.now
    await courier.send("k2", to_person("29:anna"))
    assert clock.now == started
    await courier.send("k1", to_channel("Theme 1 has started"))
    assert clock.now - started == pytest.approx(4)
    # Without a Retry-After, a second.
    fake.fail_next(429, code="Throttled")
    with pytest.raises(TryLater) as later:
        await courier.send("k3", to_channel("The quiz is open"))
    assert later.value.seconds == 1


async def test_a_throttle_in_a_second_conversation_holds_the_whole_tenant(
    courier: TeamsCourier, fake: FakeConnector, clock: FakeTime
) -> None:
    fake.fail_next(429, times=2, retry_after=3)
    for channel in ("19:a@thread.tacv2", "19:b@thread.tacv2"):
        with pytest.raises(TryLater):
            await courier.send("k", to_channel("Theme 1 has started", channel=channel))
    started = clock.now
    await courier.send("k", to_channel("Theme 1 has started", channel="19:c@thread.tacv2"))
    assert clock.now - started == pytest.approx(3)


@pytest.mark.parametrize("status", [412, 502, 503, 504])
async def test_a_passing_failure_is_retried(
    courier: TeamsCourier, fake: FakeConnector, status: int
) -> None:
    fake.fail_next(status, code="ServiceError")
    with pytest.raises(Refused) as refused:
        await courier.send("k", to_channel("Theme 1 has started"))
    assert not refused.value.permanent and not refused.value.unreachable
    assert refused.value.reason == f"Teams: {status} ServiceError"
    await courier.send("k", to_channel("Theme 1 has started"))  # the retry goes through
    assert len(fake.posted(CHANNEL)) == 1


@pytest.mark.parametrize("status", [400, 401, 404, 500])
async def test_any_other_failure_is_final(
    courier: TeamsCourier, fake: FakeConnector, status: int
) -> None:
    fake.fail_next(status, code="BadArgument")
    with pytest.raises(Refused) as refused:
        await courier.send("k", to_channel("Theme 1 has started"))
    assert refused.value.permanent and not refused.value.unreachable
    assert refused.value.reason == f"Teams: {status} BadArgument"


async def test_a_passing_failure_to_open_a_chat_is_retried_and_nothing_is_remembered(
    store: Store, courier: TeamsCourier, fake: FakeConnector
) -> None:
    fake.fail_next(502, on="create")
    with pytest.raises(Refused) as refused:
        await courier.send("n", to_person("29:anna"))
    assert not refused.value.permanent
    async with store.transaction() as repos:
        assert await repos.addresses.personal("teams", TENANT, "29:anna") is None
    await courier.send("n", to_person("29:anna"))
    assert fake.created() == ["29:anna"] and len(fake.posted("a:29:anna")) == 1


async def test_a_lost_answer_is_taken_as_sent_and_never_sent_again(
    store: Store, connector: Connector, fake: FakeConnector, caplog: pytest.LogCaptureFixture
) -> None:
    """The post reached Teams but its answer did not come back: the outcome is unknown, and
    `find` takes it as sent (Teams has no way to look), saying so in the log."""
    await heard_from_tenant(store, fake)
    courier = TeamsCourier(store, connector, request_seconds=0.2)
    fake.lost = 1
    outgoing = to_channel("Theme 1 has started")
    with pytest.raises(OutcomeUnknown):
        await courier.send("theme:1", outgoing)
    assert len(fake.posted(CHANNEL)) == 1
    with caplog.at_level(logging.WARNING, logger="bot.teams.courier"):
        found = await courier.find("theme:1", outgoing, datetime.now(STOCKHOLM))
    assert found == Sent(CHANNEL, "")
    assert "taking it as sent" in caplog.text and "theme:1" in caplog.text
    # A thread under a post whose id was lost cannot be written to: said plainly.
    with pytest.raises(Refused, match="first message id is unknown") as refused:
        await courier.send("note", to_channel("The digilog is open", thread=""))
    assert refused.value.permanent


async def test_no_connection_means_nothing_went_out(store: Store, connector: Connector) -> None:
    async with FakeConnector(APP_ID, "app-secret").running() as gone:
        url = gone.service_url  # nothing listens there once it has stopped
    async with store.transaction() as repos:
        await repos.addresses.remember("teams", TENANT, CHANNEL, url, BOT)
    courier = TeamsCourier(store, connector)
    with pytest.raises(TryLater) as later:
        await courier.send("k", to_channel("Theme 1 has started"))
    # Not sent, so the row simply waits (no doubt), and the tenant is held meanwhile:
    # the next rows are given back without trying.
    assert later.value.trouble == "no_answer" and "no connection" in later.value.reason
    assert courier.pacer.down_for(TENANT) > 0


# ---------------------------------------------------------------- pace


async def test_windows_wait_until_every_window_allows_one_more() -> None:
    clock = FakeTime(0.0)
    windows = Windows({"c": TEAMS_LIMITS.per_conversation}, clock=clock, sleep=clock.sleep)
    one = [("c", "19:one")]
    times = []
    for _ in range(9):
        await windows.turn(one)
        times.append(clock.now)
    # 7 in a second, then the 8th when the first second has passed; the 9th waits for
    # the 8-in-2-seconds window, until the first turns are 2 seconds old.
    assert times == [0.0] * 7 + [1.0, 2.0]
    # Another conversation has windows of its own.
    await windows.turn([("c", "19:two")])
    assert clock.now == 2.0


async def test_windows_slide() -> None:
    clock = FakeTime(0.0)
    windows = Windows({"c": (Limit(2, 10),)}, clock=clock, sleep=clock.sleep)
    key = [("c", "x")]
    times = []
    for gap in (0, 0, 0, 3, 0, 0):
        clock.now += gap
        await windows.turn(key)
        times.append(clock.now)
    # Two turns in any 10 s: each waits for the last-but-one to age out.
    assert times == [0, 0, 10, 13, 20, 23]
    assert windows.delay(key) == pytest.approx(7)


async def test_a_wait_longer_than_allowed_gives_the_turn_back() -> None:
    clock = FakeTime(0.0)
    windows = Windows({"c": (Limit(1, 60),), "t": (Limit(50, 1),)}, clock=clock)
    keys = [("t", "tenant"), ("c", "x")]
    await windows.turn(keys, longest=10)
    with pytest.raises(TryLater) as later:
        await windows.turn(keys, longest=10)
    assert later.value.seconds == 60 and clock.now == 0
    # Nothing was counted for the turn given back: the tenant still has 49.
    for n in range(49):
        await windows.turn([("t", "tenant"), ("c", f"other-{n}")], longest=0)
    with pytest.raises(TryLater):
        await windows.turn([("t", "tenant"), ("c", "one-too-many")], longest=0)


async def test_a_hold_delays_only_its_key() -> None:
    clock = FakeTime(0.0)
    windows = Windows({"c": (Limit(7, 1),)}, clock=clock, sleep=clock.sleep)
    windows.hold(("c", "x"), 5)
    assert windows.held(("c", "x")) == 5 and windows.held(("c", "y")) == 0
    await windows.turn([("c", "y")])
    assert clock.now == 0
    await windows.turn([("c", "x")])
    assert clock.now == 5


async def test_idle_keys_are_forgotten() -> None:
    clock = FakeTime(0.0)
    windows = Windows({"c": (Limit(1, 10),)}, clock=clock, sleep=clock.sleep)
    windows.SWEEP_EVERY = 3
    for n in range(2):
        await windows.turn([("c", f"idle-{n}")])
    clock.now = 100
    await windows.turn([("c", "busy")])  # the third turn sweeps
    assert windows.delay([("c", "busy")]) == 10
    assert windows.delay([("c", "idle-0")]) == 0
    assert set(windows._turns) == {("c", "busy")}


async def test_nine_posts_to_a_conversation_take_a_second_longer_than_seven(
    courier: TeamsCourier, fake: FakeConnector, clock: FakeTime
) -> None:
    started = clock.now
    for n in range(7):
        await courier.send(f"k{n}", to_channel(f"Post {n}"))
    seven = clock.now - started
    for n in range(7, 9):
        await courier.send(f"k{n}", to_channel(f"Post {n}"))
    nine = clock.now - started
    assert nine - seven >= 1
    assert len(fake.posted(CHANNEL)) == 9


async def test_a_tenant_gets_fifty_posts_a_second(
    courier: TeamsCourier, fake: FakeConnector, clock: FakeTime
) -> None:
    started = clock.now
    for n in range(50):
        await courier.send("k", to_channel("Theme 1", channel=f"19:c{n}@thread.tacv2"))
    assert clock.now == started
    await courier.send("k", to_channel("Theme 1", channel="19:c50@thread.tacv2"))
    assert clock.now - started == pytest.approx(1)
    assert len(fake.posted()) == 51


# ---------------------------------------------------------------- the sender, end to end

CALENDAR = """\
themes:
  1:
    start: 2027-04-26 08:00
    digilog: {opens: 2027-04-26 09:00, closes: 2027-05-08 10:00}
"""


def local(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=STOCKHOLM)


@dataclass
class ManualClock:
    moment: datetime

    def now(self) -> datetime:
        return self.moment


async def test_the_sender_sends_a_teams_cohorts_deliveries_once_each(
    store: Store,
    programme: Programme,
    digilog: Digilog,
    connector: Connector,
    fake: FakeConnector,
    tmp_path: Path,
) -> None:
    cohort = await teams_cohort(store, programme)
    await heard_from_tenant(store, fake)
    path = tmp_path / "calendar.yaml"
    path.write_text(CALENDAR, encoding="utf-8")
    await load_calendar(store, "grupp-1", path)

    clock = ManualClock(local("2027-04-26 08:00"))
    digilog.now = clock.now
    sender = Sender(store, digilog, TeamsCourier(store, connector), clock, worker="teams")
    timekeeper = Timekeeper(store, clock, lambda: None, sweep_seconds=60, timers=False)

    async def at(when: str) -> int:
        clock.moment = local(when)
        await timekeeper.sweep()
        return await sender.send_due()

    # The theme's post starts a thread in the channel; the digilog's opening is a reply.
    assert await at("2027-04-26 08:00") == 1
    assert len(fake.posted(CHANNEL)) == 1
    async with store.transaction() as repos:
        run = await repos.themes.get(cohort.id, 1)
    assert run is not None and run.post_message_id
    assert await at("2027-04-26 09:00") == 1
    assert len(fake.posted(f"{CHANNEL};messageid={run.post_message_id}")) == 1

    # Nudges, as a facilitator's `nudge` queues them: Anna twice, Björn once.
    clock.moment = local("2027-04-27 10:00")
    await queue_nudges(
        store,
        cohort,
        clock.moment,
        (("29:anna", "post"), ("29:bjorn", "post"), ("29:anna", "reply")),
    )
    assert await sender.send_due() == 3
    assert fake.created() == ["29:anna", "29:bjorn"]
    # Anna's two nudges go as one message: a person gets at most one a working day.
    assert len(fake.posted("a:29:anna")) == 1 and len(fake.posted("a:29:bjorn")) == 1

    async with store.transaction() as repos:
        deliveries = list(await repos.session.scalars(select(Delivery).order_by(Delivery.id)))
    sent = [d for d in deliveries if d.state is DeliveryState.sent]
    folded = [d for d in deliveries if d.state is DeliveryState.skipped]
    assert len(sent) == 4 and len(folded) == 1
    assert (folded[0].reason or "").startswith("sent in the message of ")
    assert all(d.message_id and d.conversation_id for d in sent)
    # Each went once: nothing is due any more, and nothing more reaches Teams.
    calls = len(fake.calls)
    assert await at("2027-04-27 10:05") == 0
    assert len(fake.calls) == calls
    assert len(fake.posted()) == 4


async def test_someone_unreachable_is_held_and_the_facilitator_told_once(
    store: Store,
    programme: Programme,
    digilog: Digilog,
    connector: Connector,
    fake: FakeConnector,
) -> None:
    cohort = await teams_cohort(store, programme)
    await heard_from_tenant(store, fake)
    clock = ManualClock(local("2027-04-27 10:00"))
    digilog.now = clock.now
    sender = Sender(store, digilog, TeamsCourier(store, connector), clock, worker="teams")
    fake.unreachable.add("29:anna")
    async with store.transaction() as repos:
        await repos.themes.start(cohort.id, 1, None, False)
        anna = await repos.people.by_account("teams", TENANT, "29:anna")
        assert anna is not None

        def nudge(task: str) -> Planned:
            return Planned(
                key=f"{AD_HOC}:c{cohort.id}:t:{task}:p{anna.id}",
                cohort_id=cohort.id,
                kind=AD_HOC,
                due_at=clock.moment,
                relevant_until=local("2027-05-08 10:00"),
                theme_number=1,
                person_id=anna.id,
                detail={"task": task},
            )

        await repos.deliveries.add([nudge("post")])
    await sender.send_due()  # Teams: 403, she is in no roster the bot is in
    await sender.send_due()  # the facilitators' alert
    [alert] = fake.cards("a:29:fia")
    assert "Digilog cannot write to Anna Lindqvist" in json.dumps(alert, ensure_ascii=False)
    async with store.transaction() as repos:
        person = await repos.people.get(anna.id)
        assert person is not None and person.unreachable_since is not None
        # A second nudge to her is not even tried, and no second alert goes out.
        await repos.deliveries.add([nudge("reply")])
    created = len(fake.created())
    await sender.send_due()
    await sender.send_due()
    assert len(fake.created()) == created and len(fake.cards("a:29:fia")) == 1
    async with store.transaction() as repos:
        states = {
            d.key.split(":")[3]: (d.state, d.reason)
            for d in await repos.session.scalars(
                select(Delivery).where(Delivery.person_id == anna.id)
            )
        }
    assert states["post"][0] is DeliveryState.failed
    assert states["reply"][0] is DeliveryState.skipped
    assert "until they use Digilog" in str(states["reply"][1])


async def test_the_bots_token_is_fetched_once_for_many_cards_and_again_after_a_401(
    fake: FakeConnector,
) -> None:
    fetched: list[str] = []
    tokens = iter(["stale-token", ACCESS_TOKEN, ACCESS_TOKEN])

    async def entra() -> str:
        await asyncio.sleep(0.01)  # the cards below all ask while this one is on its way
        fetched.append(token := next(tokens))
        return token

    async with aiohttp.ClientSession() as session:
        connector = Connector(session, KeptToken(entra))
        # The first token is refused (as a revoked one would be): the card fails, and the
        # token is not kept; the next card fetches a new one and goes.
        with pytest.raises(ConnectorError) as refused:
            await connector.send(fake.service_url, CHANNEL, {"type": "message", "text": "1"})
        assert refused.value.status == 401
        await asyncio.gather(
            *(
                connector.send(fake.service_url, CHANNEL, {"type": "message", "text": str(n)})
                for n in range(2, 12)
            )
        )

    assert fetched == ["stale-token", ACCESS_TOKEN]  # ten cards, one fetch between them
    assert len(fake.calls) == 10


async def test_a_kept_token_is_fetched_again_after_a_few_minutes() -> None:
    now = [0.0]
    fetched: list[int] = []

    async def entra() -> str:
        fetched.append(len(fetched) + 1)
        return f"token-{len(fetched)}"

    token = KeptToken(entra, clock=lambda: now[0])
    assert [await token(), await token()] == ["token-1", "token-1"]
    now[0] += KeptToken.KEEP_SECONDS + 1
    assert await token() == "token-2"
