"""Scheduled deliveries on the platform's bad days: exactly once through every failure, at
the pace the platform allows, channel posts first, retries until the row's deadline, and
facilitators who know. Through the real couriers against the fake Slack Web API and the
fake Bot Connector, on a test's clock."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import event, select

from bot.pace import Busy, Pacer
from bot.slack.courier import SlackCourier, courier_client, slack_limits
from bot.teams.connector import Connector, static_token
from bot.teams.courier import TeamsCourier
from handlers.admin import import_roster
from handlers.core.i18n import translator
from handlers.core.programme_file import Programme as ProgrammeFile
from handlers.core.roster import RosterRow
from handlers.core.steps import AD_HOC
from handlers.core.vocabulary import Conversation, MessageBuilder, Outgoing, ToConversation
from handlers.digilog import Digilog
from handlers.features import REGISTRY
from schedules.courier import OutcomeUnknown, TryLater
from schedules.send import Sender
from schedules.timekeeper import Timekeeper
from storage.deliveries import Planned
from storage.models import Cohort, Delivery, DeliveryState, Person, PlannedStep, Role
from storage.unit import Store
from tests.chat import Chat
from tests.conftest import run_digilog
from tests.slack_fake import FakeSlack
from tests.teams_fake import ACCESS_TOKEN, APP_ID, FakeConnector, teams_cohort
from tests.test_schedules import (
    ManualClock,
    Programme,
    local,
    sender_for,
    three_nudges_queued,
    with_calendar,
)
from tests.test_teams_courier import heard_from_tenant, queue_nudges


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


@pytest.fixture
async def running(store: Store, digilog: Digilog, slack: FakeSlack) -> AsyncIterator[Programme]:
    """As in test_schedules.py: the scheduling parts of a process, on the test's clock."""
    clock = ManualClock(local("2027-04-20 09:00"))
    digilog.now = clock.now
    async with aiohttp.ClientSession() as session:
        client = courier_client("xoxb-test", slack.api_url, session)
        sender = sender_for(store, digilog, client, clock, "test-sender")
        timekeeper = Timekeeper(store, clock, lambda: None, sweep_seconds=60, timers=False)
        yield Programme(store, clock, timekeeper, sender, slack)


@pytest.fixture
async def bot_connector() -> AsyncIterator[FakeConnector]:
    async with FakeConnector(APP_ID, "app-secret").running() as fake:
        yield fake


@pytest.fixture
async def connector(bot_connector: FakeConnector) -> AsyncIterator[Connector]:
    async with aiohttp.ClientSession() as session:
        yield Connector(session, static_token(ACCESS_TOKEN))


CHANNEL = "channel-grupp-1"


def theme_post_rows(rows: list[Delivery]) -> list[Delivery]:
    return [r for r in rows if r.kind == "theme_start"]


def channel_posts(fake: FakeSlack) -> list[str]:
    return [str(c.params.get("channel")) for c in fake.calls_to("chat.postMessage")]


# ---------------------------------------------------------------- exactly once


async def test_answer_lost_then_lookup_500_sends_one_message(
    store: Store, cohort: Cohort, running: Programme, tmp_path: Path
) -> None:
    """Slack took the theme post but the answer was lost; the lookup then got HTTP 500 and
    after it a 429: the row stays in doubt through both, and the lookup that answers finds
    the post. One message."""
    await with_calendar(store, cohort, tmp_path)
    fake = running.slack
    fake.lose_answer("chat.postMessage")
    fake.fail("conversations.history", error="internal_error", status=500)
    await running.at(local("2027-04-26 08:00"))
    [row] = theme_post_rows(await running.rows())
    assert row.state is DeliveryState.pending and row.maybe_sent and row.trouble == "no_answer"
    await running.at(local("2027-04-26 08:05"))  # the lookup: HTTP 500
    [row] = theme_post_rows(await running.rows())
    assert row.state is DeliveryState.pending and row.maybe_sent
    assert len(fake.calls_to("conversations.history")) == 1
    await running.at(local("2027-04-26 08:15"))  # the lookup answers: it is there
    [row] = theme_post_rows(await running.rows())
    assert row.state is DeliveryState.sent and row.message_id and not row.maybe_sent
    assert channel_posts(fake).count(CHANNEL) == 1
    assert [key for key in fake.messages if key[0] == CHANNEL] == [(CHANNEL, row.message_id)]
    # Its thread is the digilog: the theme run knows the post the lookup found.
    async with store.transaction() as repos:
        run = await repos.themes.get(cohort.id, 1)
    assert run is not None and run.post_message_id == row.message_id


async def test_a_nudge_in_doubt_is_looked_up_even_when_it_is_no_longer_needed(
    store: Store, cohort: Cohort, digilog: Digilog, running: Programme, tmp_path: Path
) -> None:
    """Slack took Anna's nudge but the answer was lost; before the retry she posted, so
    the nudge would no longer be sent. It went out all the same: the row says sent, not
    skipped, and she has one message."""
    await three_nudges_queued(store, cohort, digilog, running, tmp_path)
    fake = running.slack
    fake.lose_answer("chat.postMessage")
    await running.at(running.clock.moment)
    in_doubt = [r for r in await running.rows() if r.kind == AD_HOC and r.maybe_sent]
    assert len(in_doubt) == 1 and in_doubt[0].state is DeliveryState.pending
    async with store.transaction() as repos:
        run = await repos.themes.get(cohort.id, 1)
        person = await repos.session.get(Person, in_doubt[0].person_id)
    assert run is not None and run.post_message_id and person is not None
    chat = Chat(digilog, cohort, posts={1: run.post_message_id})
    await chat.post(person.user_id or "", 1, "Vi provade att fråga först och lyssna sedan.")
    await running.at(running.clock.moment + timedelta(minutes=3))
    [row] = [r for r in await running.rows() if r.id == in_doubt[0].id]
    assert row.state is DeliveryState.sent and not row.maybe_sent and row.message_id
    dms = Counter(c.params["channel"] for c in fake.calls_to("chat.postMessage")[1:])
    assert dms == {"anna": 1, "bjorn": 1, "cecilia": 1}


async def test_a_500_on_a_post_leaves_it_in_doubt_and_it_is_looked_for_first(
    store: Store, cohort: Cohort, running: Programme, tmp_path: Path
) -> None:
    """Slack says an internal error may have left part of an operation done: the row is in
    doubt, looked for (not there), then sent. One message, after an outage of several
    attempts, well past the old limit of five."""
    await with_calendar(store, cohort, tmp_path)
    fake = running.slack
    fake.fail("chat.postMessage", error="internal_error", status=500, times=8)
    moment = local("2027-04-26 08:00")
    for _ in range(10):
        await running.at(moment)
        moment += timedelta(minutes=10)
    [row] = theme_post_rows(await running.rows())
    assert row.state is DeliveryState.sent and row.attempts > 5
    assert [key for key in fake.messages if key[0] == CHANNEL] == [(CHANNEL, row.message_id)]
    # Every retry after a 500 looked first.
    looked = [c for c in fake.calls_to("conversations.history") if c.params["channel"] == CHANNEL]
    assert len(looked) == row.attempts - 1


async def test_a_lookup_honours_retry_after_and_the_row_stays_in_doubt(
    store: Store, cohort: Cohort, running: Programme, tmp_path: Path
) -> None:
    await with_calendar(store, cohort, tmp_path)
    fake = running.slack
    fake.lose_answer("chat.postMessage")
    fake.rate_limit("conversations.history", retry_after=30)
    await running.at(local("2027-04-26 08:00"))
    await running.at(local("2027-04-26 08:05"))  # the lookup: 429, wait 30 s
    [row] = theme_post_rows(await running.rows())
    assert row.state is DeliveryState.pending and row.maybe_sent
    assert row.trouble == "rate_limited"
    # However soon the sender comes back, no lookup goes before Slack's 30 s are over.
    await running.at(local("2027-04-26 08:10"))
    assert len(fake.calls_to("conversations.history")) == 1
    assert len(fake.calls_to("chat.postMessage")) == 1


async def test_lookups_are_paced_at_their_tier_and_share_one_limiter(slack: FakeSlack) -> None:
    """Two couriers (two senders of one process) on one pacer: Tier 3 is one budget."""
    pacer = Pacer(slack_limits(1000, per_channel_seconds=0, tier3_per_minute=2))
    async with aiohttp.ClientSession() as session:
        client = courier_client("xoxb-test", slack.api_url, session)

        async def client_for(workspace: str) -> AsyncWebClient:
            return client

        couriers = [SlackCourier(client_for, 1000, pacer=pacer) for _ in range(2)]
        outgoing = Outgoing(
            ToConversation(Conversation("slack", "T1", "C1")), MessageBuilder().para("x").build()
        )
        since = local("2027-04-26 08:00")
        assert await couriers[0].find("a", outgoing, since) is None
        assert await couriers[1].find("b", outgoing, since) is None
        with pytest.raises(Busy) as busy:  # the third in a minute would wait ~60 s
            await couriers[0].find("c", outgoing, since)
    assert busy.value.seconds > 50 and not busy.value.outage
    assert len(slack.calls_to("conversations.history")) == 2


async def test_every_call_times_out_and_the_lease_is_extended_meanwhile(
    store: Store, cohort: Cohort, digilog: Digilog, running: Programme, tmp_path: Path
) -> None:
    """A held answer: the sender renews its lease while it waits, so no other sender takes
    the row; the call gives up after its timeout and the row is in doubt, not lost."""
    await three_nudges_queued(store, cohort, digilog, running, tmp_path)
    fake = running.slack
    fake.stall_answer("chat.postMessage")
    lease = timedelta(seconds=0.3)
    async with aiohttp.ClientSession() as session:
        client = courier_client("xoxb-test", fake.api_url, session)

        async def client_for(workspace: str) -> AsyncWebClient:
            return client

        pacer = Pacer(slack_limits(1000, per_channel_seconds=0), outage_first=0.0)
        slow = SlackCourier(client_for, 1000, pacer=pacer, request_seconds=2.0)
        waiting = Sender(store, digilog, slow, running.clock, worker="waiting", lease=lease)
        sending = asyncio.create_task(waiting.send_due())
        await fake.wait_for("chat.postMessage", count=2)  # the theme post, then the stall
        # The test's clock moves on far past the lease; the row stays the waiting sender's.
        running.clock.moment += timedelta(hours=1)
        async with asyncio.timeout(5):
            while True:
                rows = [r for r in await running.rows() if r.maybe_sent]
                if rows and rows[0].lease_until and rows[0].lease_until > running.clock.moment:
                    break
                await asyncio.sleep(0.05)
        [in_flight] = rows
        # Another sender takes the rows the first had claimed but not begun, not that one.
        other = sender_for(store, digilog, client, running.clock, "other")
        taken = await other.claim()
        assert len(taken) == 2 and in_flight.id not in {d.id for d in taken}
        await sending
    [stalled] = [r for r in await running.rows() if r.id == in_flight.id]
    assert stalled.maybe_sent and stalled.state is DeliveryState.pending
    assert stalled.trouble == "no_answer"


async def test_an_outage_holds_the_workspace_rather_than_putting_rows_in_doubt(
    slack: FakeSlack,
) -> None:
    """Slack did not answer: the next calls give their rows back unsent (Busy) until the
    hold ends, instead of each pushing one more row into doubt."""
    pacer = Pacer(slack_limits(1000, per_channel_seconds=0), jitter=lambda: 1.0)
    slack.fail("chat.postMessage", error="internal_error", status=500)
    async with aiohttp.ClientSession() as session:
        client = courier_client("xoxb-test", slack.api_url, session)

        async def client_for(workspace: str) -> AsyncWebClient:
            return client

        courier = SlackCourier(client_for, 1000, pacer=pacer, longest_wait=0.0)
        outgoing = Outgoing(
            ToConversation(Conversation("slack", "T1", "C1")), MessageBuilder().para("x").build()
        )
        with pytest.raises(OutcomeUnknown):
            await courier.send("one", outgoing)
        with pytest.raises(Busy) as busy:
            await courier.send("two", outgoing)
    assert busy.value.outage and busy.value.trouble == "no_answer"
    assert isinstance(busy.value, TryLater)
    assert len(slack.calls_to("chat.postMessage")) == 1


# ---------------------------------------------------------------- priority and planning


async def test_channel_posts_are_claimed_before_nudges_that_fell_due_earlier(
    store: Store, cohort: Cohort
) -> None:
    early = local("2027-04-27 10:00")
    async with store.transaction() as repos:
        await repos.deliveries.add(
            Planned(
                key=f"nudge_adhoc:c{cohort.id}:t:p{n}",
                cohort_id=cohort.id,
                kind="nudge_adhoc",
                due_at=early,
                person_id=1,
            )
            for n in range(1400)
        )
        await repos.deliveries.add(
            [
                Planned(
                    key=f"theme_start:c{cohort.id}:theme:2:start",
                    cohort_id=cohort.id,
                    kind="theme_start",
                    due_at=early + timedelta(minutes=30),
                )
            ]
        )
    async with store.transaction() as repos:
        batch = await repos.deliveries.claim("one", early + timedelta(hours=1), timedelta(1), 10)
    assert batch[0].kind == "theme_start"
    assert [d.kind for d in batch[1:]] == ["nudge_adhoc"] * 9


async def test_a_due_step_is_planned_once_and_again_only_when_the_roster_changes(
    store: Store, cohort: Cohort, running: Programme, tmp_path: Path
) -> None:
    await with_calendar(store, cohort, tmp_path)
    await running.at(local("2027-05-06 10:00"))  # the post nudge (due 6 May) is due
    rows = [r for r in await running.rows() if r.kind == "nudge_post"]
    assert len(rows) == 3
    async with store.transaction() as repos:
        marks = list(await repos.session.scalars(select(PlannedStep.step)))
    assert f"nudge_post:c{cohort.id}:theme:1:digilog_close" in marks

    inserts: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO DELIVERIES"):
            inserts.append(statement)

    sync_engine = store.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", count)
    try:
        for minutes in (1, 2, 3):
            await running.timekeeper.sweep()
            running.clock.moment += timedelta(minutes=minutes)
        assert inserts == []  # nothing planned again: the markers say it is done
        roster = [RosterRow(1, "Dora Dahl", None, "dora", "umea", Role.participant)]
        await import_roster(store, cohort.key, roster, skip_bad=False)
        await running.timekeeper.sweep()
    finally:
        event.remove(sync_engine, "before_cursor_execute", count)
    assert len(inserts) == 1  # the roster changed: planned again, once
    rows = [r for r in await running.rows() if r.kind == "nudge_post"]
    assert len(rows) == 4


# ---------------------------------------------------------------- deadlines and facilitators


async def test_an_outage_is_told_once_and_its_end_once_and_nothing_is_lost(
    store: Store, cohort: Cohort, digilog: Digilog, running: Programme, tmp_path: Path
) -> None:
    await three_nudges_queued(store, cohort, digilog, running, tmp_path)
    fake = running.slack
    fake.fail("chat.postMessage", error="internal_error", status=500, times=6)
    start = running.clock.moment
    await running.at(start)  # three nudges fail: Slack did not answer
    chat = Chat(digilog, cohort)
    shown = await chat.say("fia", "schedule")
    assert "Nudges sent by a facilitator:** 3 waiting (3: Console did not answer)" in shown.text
    await running.at(start + timedelta(minutes=2))  # again; delayed over a minute: told
    alerts = [r for r in await running.rows() if r.kind == "alert_outage"]
    assert len(alerts) == 1 and alerts[0].state is DeliveryState.sent
    for minutes in range(4, 30, 2):  # Slack answers again; everything goes out
        await running.at(start + timedelta(minutes=minutes))
    told = running.dms("fia")
    assert len(told) == 2
    assert "are delayed: Console did not answer since" in told[0]
    assert "are on their way again" in told[1] and "3 have gone out" in told[1]
    # Each tried three times; each got one message.
    assert Counter(channel for channel, _ in fake.messages if channel != CHANNEL) == {
        "anna": 1,
        "bjorn": 1,
        "cecilia": 1,
        "fia": 2,
    }


async def test_past_its_deadline_a_row_fails_is_shown_in_words_and_can_be_sent_again(
    store: Store, cohort: Cohort, digilog: Digilog, running: Programme, tmp_path: Path
) -> None:
    await with_calendar(store, cohort, tmp_path)
    fake = running.slack
    # Slack refuses the theme post twice over, then the channel is fixed.
    fake.fail("chat.postMessage", error="channel_not_found")
    await running.at(local("2027-04-26 08:00"))
    [row] = theme_post_rows(await running.rows())
    assert row.state is DeliveryState.failed and row.trouble == "refused"
    chat = Chat(digilog, cohort)
    shown = await chat.say("fia", "schedule --names")
    assert "Theme posts:** 1 failed (1: Console refused them)" in shown.text
    assert "the cohort's channel: Theme posts, failed, Console refused them" in shown.text
    anna = await chat.say("anna", "schedule --names")
    assert "Theme posts" not in anna.text and "Who missed them" not in anna.text
    clicked = await chat.click("fia", f"outbox:{cohort.id}:again")
    assert "1 message will be sent again" in clicked.text
    await running.at(local("2027-04-26 08:05"))
    [row] = theme_post_rows(await running.rows())
    assert row.state is DeliveryState.sent
    assert len(fake.messages) == 1
    refused = await chat.click("anna", f"outbox:{cohort.id}:again")
    assert "Only facilitators" in refused.text or "facilitator" in refused.text.lower()


async def test_a_nudge_retried_until_its_deadline_is_then_reported(
    store: Store, cohort: Cohort, digilog: Digilog, running: Programme, tmp_path: Path
) -> None:
    await three_nudges_queued(store, cohort, digilog, running, tmp_path)
    async with store.transaction() as repos:  # due to close within the hour
        for row in await repos.session.scalars(select(Delivery)):
            if row.kind == "nudge_adhoc":
                row.relevant_until = running.clock.moment + timedelta(minutes=50)
    fake = running.slack
    fake.fail("chat.postMessage", error="internal_error", status=500, times=100)
    start = running.clock.moment
    for minutes in range(0, 70, 5):
        await running.at(start + timedelta(minutes=minutes))
    rows = [r for r in await running.rows() if r.kind == "nudge_adhoc"]
    assert {r.state for r in rows} == {DeliveryState.failed}
    assert all(r.attempts > 5 for r in rows)
    shown = await Chat(digilog, cohort).say("fia", "schedule")
    assert "Nudges sent by a facilitator:** 3 failed" in shown.text
    assert "Console did not answer" in shown.text or "deadline passed" in shown.text


def test_every_delivery_kind_is_named_for_facilitators_in_both_languages() -> None:
    """`schedule` counts by kind: a kind a feature composes without naming it would be
    counted as "Other messages", and one left untranslated would be English to a Swede."""
    sv = translator("sv")
    for feature in REGISTRY.features:
        for kind in feature.deliveries:
            label = REGISTRY.label(kind)
            assert label is not None, f"{feature.name} composes {kind} without a label"
            assert sv(label) != label, f"{label!r} has no Swedish"


async def test_swedish_facilitators_read_why_in_swedish(
    store: Store, cohort: Cohort, digilog: Digilog, running: Programme, tmp_path: Path
) -> None:
    await three_nudges_queued(store, cohort, digilog, running, tmp_path)
    running.slack.fail("chat.postMessage", error="internal_error", status=500, times=3)
    await running.at(running.clock.moment)
    chat = Chat(digilog, cohort)
    await chat.say("fia", "language sv")
    shown = await chat.say("fia", "schedule")
    assert "Påminnelser från en processledare:** 3 väntar (3: Console svarade inte)" in shown.text


# ---------------------------------------------------------------- a sender stopped mid-call


async def test_a_stopped_sender_leaves_a_row_in_doubt_and_the_next_finds_it(
    store: Store, cohort: Cohort, digilog: Digilog, running: Programme, tmp_path: Path
) -> None:
    await three_nudges_queued(store, cohort, digilog, running, tmp_path)
    fake = running.slack
    fake.stall_answer("chat.postMessage")
    async with aiohttp.ClientSession() as session:
        client = courier_client("xoxb-test", fake.api_url, session)
        doomed = sender_for(store, digilog, client, running.clock, "doomed")
        dying = asyncio.create_task(doomed.send_due())
        await fake.wait_for("chat.postMessage", count=2)
        dying.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await dying
    await running.at(running.clock.moment + timedelta(minutes=3))
    dms = Counter(c.params["channel"] for c in fake.calls_to("chat.postMessage")[1:])
    assert dms == {"anna": 1, "bjorn": 1, "cecilia": 1}


# ---------------------------------------------------------------- Teams


async def test_teams_429_502_and_a_dropped_connection_each_row_once(
    store: Store,
    programme: ProgrammeFile,
    digilog: Digilog,
    connector: Connector,
    bot_connector: FakeConnector,
) -> None:
    """The outbox is shared: through the fake Bot Connector answering 429, then 502, then
    dropping the connection after taking a post, every row goes out once. (Teams has no
    way to look a message up: the dropped one is taken as sent, never sent twice.)"""
    cohort = await teams_cohort(store, programme)
    await heard_from_tenant(store, bot_connector)
    clock = ManualClock(local("2027-04-27 10:00"))
    digilog.now = clock.now
    courier = TeamsCourier(store, connector)
    courier.pacer.outage_first = 0.0  # the test's clock moves it, not the wall's
    sender = Sender(store, digilog, courier, clock, worker="teams")
    await queue_nudges(store, cohort, clock.moment, (("29:anna", "post"), ("29:bjorn", "post")))
    bot_connector.throttled, bot_connector.retry_after = 1, 0
    bot_connector.fail_next(502, code="ServiceError")
    bot_connector.dropped = 1
    for minute in range(12):
        clock.moment = local("2027-04-27 10:00") + timedelta(minutes=minute)
        await sender.send_due()
    async with store.transaction() as repos:
        rows = list(await repos.session.scalars(select(Delivery).where(Delivery.kind == AD_HOC)))
    # Every failure was met: the 429, the 502 and the dropped connection.
    assert bot_connector.throttled == bot_connector.dropped == 0
    assert not bot_connector._failures.get("post")
    assert [r.state for r in rows] == [DeliveryState.sent] * 2
    assert len(bot_connector.posted("a:29:anna")) == 1
    assert len(bot_connector.posted("a:29:bjorn")) == 1


async def test_the_cli_schedule_shows_what_failed_and_who_missed_it(
    store: Store,
    cohort: Cohort,
    running: Programme,
    tmp_path: Path,
    database_url: str,
) -> None:
    await three_nudges_queued(store, cohort, Digilog(store), running, tmp_path)
    running.slack.fail("chat.postMessage", error="user_not_found", times=2)
    await running.at(running.clock.moment)
    hinted = await asyncio.to_thread(
        run_digilog, database_url, tmp_path, "schedule", "show", cohort.key
    )
    # The hint is the terminal's own command, not the chat's `schedule --names`.
    assert f"`digilog schedule show {cohort.key} --names` lists who missed them." in hinted.stdout
    shown = await asyncio.to_thread(
        run_digilog, database_url, tmp_path, "schedule", "show", cohort.key, "--names"
    )
    assert shown.returncode == 0, shown.stderr
    # Plain text at a terminal: no ** around what a chat shows in bold.
    assert "Nudges sent by a facilitator: 2 failed (2: Console refused them)" in shown.stdout
    assert "**" not in shown.stdout
    assert "Anna Lindqvist: Nudges sent by a facilitator, failed, Console refused" in shown.stdout
