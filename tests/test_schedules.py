"""The programme runs itself: calendar steps become delivery rows, and the sender sends each
once, through the real Slack courier against the fake Slack Web API, on a test's clock."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bot.pace import Pacer
from bot.slack.courier import SlackCourier, courier_client, slack_limits
from handlers.admin import load_calendar
from handlers.core.humane import WorkingHours, cap_frees_at, holiday_name, next_humane_time
from handlers.core.programme_file import Programme as ProgrammeFile
from handlers.core.vocabulary import Conversation
from handlers.digilog import Digilog
from schedules.send import Sender
from schedules.timekeeper import Timekeeper
from storage.deliveries import Planned
from storage.models import Cohort, Delivery, DeliveryState
from storage.unit import Store
from tests.chat import Chat
from tests.conftest import PEOPLE, ROOT, make_cohort, run_digilog
from tests.slack_fake import FakeSlack

STOCKHOLM = ZoneInfo("Europe/Stockholm")
EXAMPLE_CALENDAR = ROOT / "examples" / "digital-kompetens-calendar.yaml"

# Theme 1 around Ascension Day (Thursday 6 May 2027): the post nudge falls due on the
# holiday, the quiz nudge on a Sunday evening.
CALENDAR = """\
themes:
  1:
    start: 2027-04-26 08:00
    workshop:
      start: 2027-04-29 13:00
      end: 2027-04-29 16:00
      place: {sv: Umeå, en: Umeå}
    digilog: {opens: 2027-04-26 08:00, closes: 2027-05-08 10:00}
    quiz: {opens: 2027-05-03 08:00, closes: 2027-05-10 17:00}
"""


def local(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=STOCKHOLM)


@dataclass
class ManualClock:
    moment: datetime

    def now(self) -> datetime:
        return self.moment


@dataclass
class Programme:
    """The scheduling parts of a running process, driven by the test's clock."""

    store: Store
    clock: ManualClock
    timekeeper: Timekeeper
    sender: Sender
    slack: FakeSlack

    async def at(self, when: datetime) -> None:
        """Move the clock and run what fell due, as the timers and the sender would."""
        self.clock.moment = when
        await self.timekeeper.sweep()
        await self.sender.send_due()

    async def rows(self) -> list[Delivery]:
        async with self.store.transaction() as repos:
            return list(await repos.session.scalars(select(Delivery).order_by(Delivery.id)))

    def dms(self, user: str) -> list[str]:
        return [
            str(c.params.get("text"))
            for c in self.slack.calls_to("chat.postMessage")
            if c.params.get("channel") == user
        ]


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


def sender_for(
    store: Store, digilog: Digilog, client: AsyncWebClient, clock: ManualClock, worker: str
) -> Sender:
    async def client_for(workspace: str) -> AsyncWebClient:
        return client

    # No outage hold between the test's steps: its clock, not the wall's, moves them.
    pacer = Pacer(slack_limits(1000, per_channel_seconds=0), outage_first=0.0)
    courier = SlackCourier(client_for, posts_per_second=1000, pacer=pacer)
    return Sender(store, digilog, courier, clock, worker=worker)


@pytest.fixture
async def running(store: Store, digilog: Digilog, slack: FakeSlack) -> AsyncIterator[Programme]:
    clock = ManualClock(local("2027-04-20 09:00"))
    digilog.now = clock.now  # what people do happens on the test's clock too
    async with aiohttp.ClientSession() as session:
        client = courier_client("xoxb-test", slack.api_url, session)
        sender = sender_for(store, digilog, client, clock, "test-sender")
        timekeeper = Timekeeper(store, clock, lambda: None, sweep_seconds=60, timers=False)
        yield Programme(store, clock, timekeeper, sender, slack)


async def with_calendar(store: Store, cohort: Cohort, tmp_path: Path, text: str = CALENDAR) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_text(text, encoding="utf-8")
    await load_calendar(store, cohort.key, path)


def working_day_ticks(first: datetime, last: datetime) -> list[datetime]:
    """Every hour from `first` to `last`: day, night, weekend and holiday alike."""
    ticks, moment = [], first
    while moment <= last:
        ticks.append(moment)
        moment += timedelta(hours=1)
    return ticks


async def test_a_theme_runs_itself_and_nudges_only_at_humane_times(
    store: Store, cohort: Cohort, digilog: Digilog, running: Programme, tmp_path: Path
) -> None:
    await with_calendar(store, cohort, tmp_path)
    chat = Chat(digilog, cohort)
    for tick in working_day_ticks(local("2027-04-25 00:00"), local("2027-04-27 12:00")):
        await running.at(tick)
    # The theme started on time, and its post became the digilog's thread.
    async with store.transaction() as repos:
        run = await repos.themes.get(cohort.id, 1)
    assert run is not None and run.post_message_id is not None
    chat.posts[1] = run.post_message_id
    anna_post, _ = await chat.post("anna", 1, "Mitt team delar allt i en kanal nu.")
    await chat.post("bjorn", 1, "Vi provade samma sak!", reply_to=anna_post)
    await chat.post("cecilia", 1, "Jag reflekterar själv först.")
    # Cecilia answers the whole quiz once it is open; Anna and Björn do not.
    for tick in working_day_ticks(local("2027-04-27 13:00"), local("2027-05-11 12:00")):
        await running.at(tick)
        if tick == local("2027-05-03 09:00"):
            reply = await chat.click("cecilia", f"quiz:{cohort.id}-1:begin")
            while reply.options and "quiz:" in reply.options[0].action_id:
                reply = await chat.click("cecilia", reply.options[0].action_id)

    sent = {row.key: row for row in await running.rows() if row.state is DeliveryState.sent}
    by_kind = Counter(row.kind for row in sent.values())
    assert by_kind["theme_start"] == 1
    assert by_kind["workshop_tomorrow"] == 1 and by_kind["workshop_soon"] == 1
    assert by_kind["quiz_open"] == 1 and by_kind["quiz_close"] == 1
    assert by_kind["digilog_close"] == 1

    def sent_at(kind: str, person: str | None = None) -> datetime:
        [row] = [
            r
            for r in sent.values()
            if r.kind == kind and (person is None or r.key.endswith(f":p{person}"))
        ]
        assert row.sent_at is not None
        return row.sent_at.astimezone(STOCKHOLM)

    assert sent_at("theme_start") == local("2027-04-26 08:00")
    assert sent_at("workshop_tomorrow") == local("2027-04-28 13:00")
    assert sent_at("workshop_soon") == local("2027-04-29 12:00")
    assert sent_at("quiz_close") == local("2027-05-10 17:00")

    async with store.transaction() as repos:
        ids = {m.person.user_id: m.person.id for m in await repos.people.members(cohort.id)}
    # Björn posted only a reply, so he counts as posted and as replying: no digilog nudge.
    # Anna posted but replied to nobody; Cecilia too. Nobody is left who has not posted.
    nudged = {(row.kind, row.person_id) for row in sent.values() if row.kind.startswith("nudge_")}
    assert nudged == {
        ("nudge_reply", ids["anna"]),
        ("nudge_reply", ids["cecilia"]),
        ("nudge_quiz", ids["anna"]),
        ("nudge_quiz", ids["bjorn"]),
    }
    # The reply nudges fell due on Ascension Day and went the next working morning;
    # the quiz nudges fell due on Sunday evening and went on Monday morning.
    assert holiday_name(local("2027-05-06 10:00").date()) == "Ascension Day"
    assert sent_at("nudge_reply", str(ids["anna"])) == local("2027-05-07 08:00")
    assert sent_at("nudge_quiz", str(ids["bjorn"])) == local("2027-05-10 08:00")
    for row in sent.values():
        if row.person_id is not None:
            assert row.sent_at is not None
            moment = row.sent_at.astimezone(STOCKHOLM)
            assert moment.isoweekday() <= 5 and 8 <= moment.hour < 17
            assert holiday_name(moment.date()) is None
    # Each nudge says what is missing and points at it; Slack got each delivery once.
    [quiz_nudge] = running.dms("bjorn")
    assert "Theme 1: you have not finished the quiz (closes Mon 10 May 17:00)" in quiz_nudge
    reply_nudge = next(
        c for c in running.slack.calls_to("chat.postMessage") if c.params["channel"] == "anna"
    )
    assert "now reply to someone else's post" in str(reply_nudge.params["text"])
    assert f"/archives/{cohort.conversation_id}/p" in json.dumps(reply_nudge.params["blocks"])
    keys = [
        c.params["metadata"]["event_payload"]["key"]
        for c in running.slack.calls_to("chat.postMessage")
        if c.params.get("metadata")
    ]
    assert sorted(keys) == sorted(sent)
    # Ticking again over the same days sends nothing more.
    before = len(running.slack.calls_to("chat.postMessage"))
    for tick in working_day_ticks(local("2027-04-26 07:00"), local("2027-04-26 10:00")):
        await running.at(tick)
    assert len(running.slack.calls_to("chat.postMessage")) == before


async def test_after_downtime_what_still_matters_goes_out_once(
    store: Store, cohort: Cohort, running: Programme, tmp_path: Path
) -> None:
    await with_calendar(store, cohort, tmp_path)
    # Down from before theme 1 began until the Wednesday morning after.
    await running.at(local("2027-04-28 10:00"))
    await running.at(local("2027-04-28 10:01"))
    sent = [row for row in await running.rows() if row.state is DeliveryState.sent]
    # The theme's post, and the facilitators' digest of a digilog whose workshop is tomorrow.
    assert sorted((r.kind, r.sent_at) for r in sent) == [
        ("digest_before_workshop", local("2027-04-28 10:00").astimezone(UTC)),
        ("theme_start", local("2027-04-28 10:00").astimezone(UTC)),
    ]
    # Down again over the evening before the workshop: "tomorrow" is not said on the day.
    await running.at(local("2027-04-29 09:00"))
    await running.at(local("2027-04-29 12:00"))
    kinds = [r.kind for r in await running.rows() if r.state is DeliveryState.sent]
    assert sorted(kinds) == ["digest_before_workshop", "theme_start", "workshop_soon"]


async def test_nothing_goes_out_once_it_no_longer_matters(
    store: Store, cohort: Cohort, running: Programme, tmp_path: Path
) -> None:
    await with_calendar(store, cohort, tmp_path)
    # Down from before theme 1 began until a week after its quiz closed.
    await running.at(local("2027-05-18 09:00"))
    assert running.slack.calls_to("chat.postMessage") == []


async def nudge(chat: Chat, command: str) -> str:
    """A facilitator previews a nudge and presses its button (twice: a double click)."""
    preview = await chat.say("fia", command)
    [send] = [o for o in preview.options if o.action_id.startswith("nudge:")]
    confirmed = await chat.click("fia", send.action_id)
    again = await chat.click("fia", send.action_id)
    assert "already been sent" in again.text
    return preview.text + "\n" + confirmed.text


async def test_weekly_cap_snooze_and_mute_hold(
    store: Store, cohort: Cohort, digilog: Digilog, running: Programme, tmp_path: Path
) -> None:
    await with_calendar(store, cohort, tmp_path)
    chat = Chat(digilog, cohort)
    monday = local("2027-04-26 09:00")
    await running.at(monday)  # theme 1 started at 08:00
    async with store.transaction() as repos:
        run = await repos.themes.get(cohort.id, 1)
    assert run is not None and run.post_message_id is not None
    chat.posts[1] = run.post_message_id
    # Four nudges to Anna in four days; she heeds the first, so none of them pause.
    for day, command in enumerate(
        ["nudge 1 post --org umea", "nudge 1 reply --org umea", "nudge 1 quiz --org umea"]
    ):
        running.clock.moment = monday + timedelta(days=day)
        text = await nudge(chat, command)
        assert "Anna Lindqvist" in text and "goes to 1 person" in text
        assert "1 person in theme 1 has " in text
        await running.at(monday + timedelta(days=day, minutes=1))
        if day == 0:
            await chat.post("anna", 1, "Nu har jag skrivit!")
    assert len(running.dms("anna")) == 3
    running.clock.moment = monday + timedelta(days=3)
    await nudge(chat, "nudge 1 reply --org umea")
    await running.at(monday + timedelta(days=3, minutes=1))
    assert len(running.dms("anna")) == 3  # the cap: three a week
    [waiting] = [r for r in await running.rows() if r.state is DeliveryState.pending]
    assert waiting.reason == "weekly cap reached"
    # It goes once the first is a week old.
    await running.at(monday + timedelta(days=7, minutes=1))
    assert len(running.dms("anna")) == 4

    # Snoozed: nothing until the snooze ends (the digilog closes first); muted: nothing.
    snoozed = await chat.say("bjorn", "nudges snooze")
    assert "snoozed until" in snoozed.text
    muted = await chat.say("cecilia", "nudges mute post")
    assert "Muted kinds    post" in muted.text
    running.clock.moment = monday + timedelta(days=8)
    assert "2 people in theme 1 have not posted" in await nudge(chat, "nudge 1 post")
    await running.at(monday + timedelta(days=8, minutes=1))
    assert running.dms("bjorn") == [] and running.dms("cecilia") == []
    reasons = {
        r.reason
        for r in await running.rows()
        if r.state is DeliveryState.skipped and r.kind.startswith("nudge_")
    }
    assert reasons == {"the person muted this kind of nudge", "snoozed until it was too late"}


async def test_unheeded_nudges_come_less_often_never_stop_and_the_facilitator_sees_who(
    store: Store, cohort: Cohort, digilog: Digilog, running: Programme, tmp_path: Path
) -> None:
    # A survey keeps the calendar (and the facilitators' weekly list) going to June.
    calendar = CALENDAR + "    survey: {opens: 2027-05-10 17:00, closes: 2027-05-31 17:00}\n"
    await with_calendar(store, cohort, tmp_path, calendar)
    chat = Chat(digilog, cohort)
    await running.at(local("2027-04-26 08:00"))
    monday = local("2027-05-03 09:00")

    async def nudge_bjorn(at: datetime) -> None:
        running.clock.moment = at
        preview = await chat.say("fia", "nudge 1 post --org pitea")
        [send] = [o for o in preview.options if o.action_id.startswith("nudge:")]
        await chat.click("fia", send.action_id)
        await running.at(at + timedelta(minutes=1))

    for week in range(4):
        await nudge_bjorn(monday + timedelta(days=7 * week))
    # Never paused: all four went, and the facilitator got no message per person, but
    # a list on the Monday morning after three went unheeded.
    assert len(running.dms("bjorn")) == 4
    summaries = [
        json.dumps(c.params["blocks"], ensure_ascii=False)
        for c in running.slack.calls_to("chat.postMessage")
        if c.params.get("channel") == "fia"
    ]
    # Monday 24 May, the first Monday after three went unheeded (none before: nobody
    # was far behind, and a list of nobody is not sent).
    [summary] = summaries
    assert "Far behind this week" in summary and "Björn Öberg (Piteå" in summary
    async with store.transaction() as repos:
        bjorn = await repos.people.by_account("console", "local", "bjorn")
    assert bjorn is not None and bjorn.nudges_paused_at is None
    # After three unheeded, one every other working day: Tuesday's waits for Wednesday.
    await nudge_bjorn(monday + timedelta(days=22))
    assert len(running.dms("bjorn")) == 4
    [waiting] = [
        r
        for r in await running.rows()
        if r.state is DeliveryState.pending and r.kind.startswith("nudge_")
    ]
    assert waiting.reason == "every other working day after unheeded nudges"
    assert waiting.due_at == local("2027-05-26 08:00").astimezone(UTC)
    await running.at(local("2027-05-26 08:00"))
    assert len(running.dms("bjorn")) == 5
    # Only a facilitator (or he himself) stops them.
    stopped = await chat.say("fia", "nudges stop bjorn")
    assert "stopped" in stopped.text
    await nudge_bjorn(local("2027-05-28 09:00"))
    assert len(running.dms("bjorn")) == 5
    resumed = await chat.say("fia", "nudges resume bjorn")
    assert "on again" in resumed.text


async def test_one_message_a_day_lists_everything_open(
    store: Store, cohort: Cohort, digilog: Digilog, running: Programme, tmp_path: Path
) -> None:
    await with_calendar(store, cohort, tmp_path)
    chat = Chat(digilog, cohort)
    await running.at(local("2027-04-26 08:00"))  # theme 1 starts
    await running.at(local("2027-05-03 08:30"))  # its quiz is open
    for command in ("nudge 1 post --org pitea", "nudge 1 quiz --org pitea"):
        preview = await chat.say("fia", command)
        [send] = [o for o in preview.options if o.action_id.startswith("nudge:")]
        await chat.click("fia", send.action_id)
    await running.at(local("2027-05-03 08:31"))
    # Two nudges, one message: a line each, with the digilog's link and the quiz's button.
    [call] = [
        c for c in running.slack.calls_to("chat.postMessage") if c.params["channel"] == "bjorn"
    ]
    blocks = json.dumps(call.params["blocks"], ensure_ascii=False)
    assert "Still open for you:" in blocks
    assert "Theme 1: you have not posted in the digilog yet (closes Sat 8 May 10:00)" in blocks
    assert "Theme 1: you have not finished the quiz (closes Mon 10 May 17:00)" in blocks
    assert "Take the quiz of theme 1" in blocks and "/archives/" in blocks
    async with store.transaction() as repos:
        bjorn = await repos.people.by_account("console", "local", "bjorn")
    assert bjorn is not None
    rows = [r for r in await running.rows() if r.person_id == bjorn.id]
    sent = [r for r in rows if r.state is DeliveryState.sent]
    [carried] = [r for r in rows if r.state is DeliveryState.skipped]
    assert len(sent) == 1 and carried.reason == f"sent in the message of {sent[0].key}"
    assert sent[0].detail is not None and sent[0].detail["carries"] == [carried.key]
    # A third nudge the same day waits for the next working day.
    preview = await chat.say("fia", "nudge 1 post --org pitea")
    [send] = [o for o in preview.options if o.action_id.startswith("nudge:")]
    await chat.click("fia", send.action_id)
    await running.at(local("2027-05-03 10:00"))
    assert len(running.dms("bjorn")) == 1
    await running.at(local("2027-05-04 08:00"))
    assert len(running.dms("bjorn")) == 2


async def pitea_nudged_twice(chat: Chat, running: Programme) -> None:
    """Theme 1's digilog and quiz are open, and a facilitator nudges Piteå for both."""
    await running.at(local("2027-04-26 08:00"))
    await running.at(local("2027-05-03 08:30"))
    for command in ("nudge 1 post --org pitea", "nudge 1 quiz --org pitea"):
        preview = await chat.say("fia", command)
        [send] = [o for o in preview.options if o.action_id.startswith("nudge:")]
        await chat.click("fia", send.action_id)


def lines_to(running: Programme, user: str) -> list[str]:
    return [
        json.dumps(c.params["blocks"], ensure_ascii=False)
        for c in running.slack.calls_to("chat.postMessage")
        if c.params["channel"] == user
    ]


async def test_a_day_message_tried_again_still_lists_what_it_took(
    store: Store, cohort: Cohort, digilog: Digilog, running: Programme, tmp_path: Path
) -> None:
    """Slack refuses the day's message once (HTTP 500): tried again, it still lists both
    nudges, not only the one whose row carries it."""
    await with_calendar(store, cohort, tmp_path)
    await pitea_nudged_twice(Chat(digilog, cohort), running)
    running.slack.fail("chat.postMessage", error="internal_error", status=500)
    await running.at(local("2027-05-03 08:31"))
    await running.at(local("2027-05-03 08:45"))
    *_, delivered = lines_to(running, "bjorn")
    assert "you have not posted in the digilog yet" in delivered
    assert "you have not finished the quiz" in delivered


async def test_when_a_day_message_fails_for_good_what_it_took_goes_out_on_its_own(
    store: Store, cohort: Cohort, digilog: Digilog, running: Programme, tmp_path: Path
) -> None:
    """Slack refuses the day's message for good (its blocks): the nudge it had taken is
    not lost with it, but goes out in a message of its own (nothing went out that day)."""
    await with_calendar(store, cohort, tmp_path)
    await pitea_nudged_twice(Chat(digilog, cohort), running)
    running.slack.fail("chat.postMessage", error="invalid_blocks")
    await running.at(local("2027-05-03 08:31"))
    async with store.transaction() as repos:
        bjorn = await repos.people.by_account("console", "local", "bjorn")
    assert bjorn is not None
    rows = [r for r in await running.rows() if r.person_id == bjorn.id]
    assert sorted(r.state.value for r in rows) == ["failed", "sent"]
    refused, delivered = lines_to(running, "bjorn")
    assert "you have not posted in the digilog yet" in refused
    assert "you have not finished the quiz" in refused
    assert "Still open for you:" not in delivered  # its own line only


async def test_a_swedish_participant_in_slack_reads_how_to_snooze_as_slack_needs_it(
    store: Store, programme: ProgrammeFile, digilog: Digilog, running: Programme, tmp_path: Path
) -> None:
    """The day's message names the command in Swedish, typed as Slack needs it."""
    cohort = await make_cohort(store, programme, language="sv", platform="slack", workspace="T1")
    await with_calendar(store, cohort, tmp_path)
    chat = Chat(digilog, cohort)
    await running.at(local("2027-04-26 08:00"))  # theme 1 starts
    preview = await chat.say("fia", "nudge 1 post --org pitea")
    [send] = [o for o in preview.options if o.action_id.startswith("nudge:")]
    await chat.click("fia", send.action_id)
    await running.at(local("2027-04-26 08:31"))
    [call] = [
        c for c in running.slack.calls_to("chat.postMessage") if c.params["channel"] == "bjorn"
    ]
    blocks = json.dumps(call.params["blocks"], ensure_ascii=False)
    assert "Skriv `/digilog påminnelser` för att pausa dem" in blocks, blocks
    assert "`nudges`" not in blocks and "`påminnelser`" not in blocks


async def test_a_lost_answer_is_looked_up_rather_than_sent_again(
    store: Store, cohort: Cohort, running: Programme, tmp_path: Path
) -> None:
    """Slack posted it but the answer never came: the retry finds it and sends nothing."""
    await with_calendar(store, cohort, tmp_path)
    running.slack.lose_answer("chat.postMessage")
    await running.at(local("2027-04-26 08:00"))
    [row] = [r for r in await running.rows() if r.kind == "theme_start"]
    assert row.state is DeliveryState.pending and row.maybe_sent
    await running.at(local("2027-04-26 08:05"))  # past the retry's wait
    [row] = [r for r in await running.rows() if r.kind == "theme_start"]
    assert row.state is DeliveryState.sent
    assert len(running.slack.calls_to("chat.postMessage")) == 1
    assert running.slack.calls_to("conversations.history")


async def three_nudges_queued(
    store: Store, cohort: Cohort, digilog: Digilog, running: Programme, tmp_path: Path
) -> None:
    """Theme 1 has started (its post took Slack's first answer), and a facilitator has
    nudged its three participants, who have not posted: three rows, due now."""
    await with_calendar(store, cohort, tmp_path)
    await running.at(local("2027-04-26 08:00"))
    running.clock.moment = local("2027-04-27 10:00")
    await nudge(Chat(digilog, cohort), "nudge 1 post")


async def test_a_sender_that_dies_mid_fanout_loses_and_duplicates_nothing(
    store: Store, cohort: Cohort, digilog: Digilog, running: Programme, tmp_path: Path
) -> None:
    """A sender dies while Slack takes its second nudge; another finishes the fan-out."""
    await three_nudges_queued(store, cohort, digilog, running, tmp_path)
    slack = running.slack
    slack.stall_answer("chat.postMessage")  # the theme post took the first answer
    async with aiohttp.ClientSession() as session:
        client = courier_client("xoxb-test", slack.api_url, session)
        doomed = sender_for(store, digilog, client, running.clock, "doomed")
        dying = asyncio.create_task(doomed.send_due())
        await slack.wait_for("chat.postMessage", count=2)
        dying.cancel()  # the process is gone, and its claims with it
        with contextlib.suppress(asyncio.CancelledError):
            await dying
    states = Counter(r.state for r in await running.rows() if r.kind == "nudge_adhoc")
    assert states == {DeliveryState.sending: 3}
    # Within the lease nobody sends them again; after it, the new sender looks first.
    await running.at(local("2027-04-27 10:01"))
    assert len(slack.calls_to("chat.postMessage")) == 2
    await running.at(local("2027-04-27 10:03"))
    rows = [r for r in await running.rows() if r.kind == "nudge_adhoc"]
    assert all(r.state is DeliveryState.sent for r in rows)
    dms = Counter(c.params["channel"] for c in slack.calls_to("chat.postMessage")[1:])
    assert dms == {"anna": 1, "bjorn": 1, "cecilia": 1}


async def test_rescheduling_moves_the_timers(store: Store, cohort: Cohort, tmp_path: Path) -> None:
    clock = ManualClock(local("2027-04-01 09:00"))
    timekeeper = Timekeeper(store, clock, lambda: None, sweep_seconds=60)
    await with_calendar(store, cohort, tmp_path)
    await timekeeper.rebuild()
    jobs = {job.id: job.trigger.run_date for job in timekeeper.jobs(cohort.id)}
    start = f"c{cohort.id}:theme_start:theme:1:start"
    assert jobs[start] == local("2027-04-26 08:00")
    assert jobs[f"c{cohort.id}:workshop_soon:theme:1:workshop"] == local("2027-04-29 12:00")
    moved = CALENDAR.replace("start: 2027-04-26 08:00", "start: 2027-04-26 07:30")
    await with_calendar(store, cohort, tmp_path, moved)
    await timekeeper.sweep()
    jobs = {job.id: job.trigger.run_date for job in timekeeper.jobs(cohort.id)}
    assert jobs[start] == local("2027-04-26 07:30")
    # Rebuilt from the database alone: a new timekeeper (a restart) has the same timers.
    fresh = Timekeeper(store, clock, lambda: None, sweep_seconds=60)
    await fresh.rebuild()
    assert {job.id for job in fresh.jobs(cohort.id)} == set(jobs)


def test_working_hours_holidays_and_the_weekly_cap() -> None:
    hours = WorkingHours.parse("mon-thu 8:30-16")
    assert hours.format() == "mon-thu 08:30-16:00"
    assert WorkingHours.parse("mon,wed,fri 9-15").days == frozenset({1, 3, 5})
    for bad in ("17-08", "25-26", "mon-sun", "sun-mon 8-17", "8-17 extra words"):
        with pytest.raises(ValueError, match=r"\S"):
            WorkingHours.parse(bad)
    always = WorkingHours.parse("mon-sun 00-24")
    assert always.format() == "mon-sun 00:00-24:00"
    late = local("2027-05-05 23:59") + timedelta(seconds=30)
    assert next_humane_time(late, STOCKHOLM, always) == late.astimezone(UTC)
    default = WorkingHours.stored(None)
    # Friday evening → Monday morning; Midsummer Day is a Saturday; Christmas Eve is not a
    # public holiday but Christmas Day and Boxing Day are.
    assert next_humane_time(local("2027-04-30 17:30"), STOCKHOLM, default) == local(
        "2027-05-03 08:00"
    ).astimezone(UTC)
    assert next_humane_time(local("2027-12-24 18:00"), STOCKHOLM, default) == local(
        "2027-12-27 08:00"
    ).astimezone(UTC)
    assert next_humane_time(local("2027-05-05 12:00"), STOCKHOLM, default) == local(
        "2027-05-05 12:00"
    ).astimezone(UTC)
    now = local("2027-05-10 12:00")
    three = [now - timedelta(days=6), now - timedelta(days=2), now - timedelta(hours=1)]
    assert cap_frees_at(three[:2], now) is None
    assert cap_frees_at(three, now) == three[0] + timedelta(days=7)


async def test_set_hours_and_see_them(cohort: Cohort, digilog: Digilog) -> None:
    chat = Chat(digilog, cohort)
    refused = await chat.say("anna", "hours 17-08")
    assert "could not read" in refused.text
    shown = await chat.say("anna", "hours mon-thu 9-15")
    assert "Mon–Thu 09–15 (Europe/Stockholm)" in shown.text
    state = await chat.say("anna", "nudges")
    assert "Mon–Thu 09–15" in state.text
    unknown = await chat.say("anna", "nudges mute everything")
    assert "Mute which kind?" in unknown.text
    not_allowed = await chat.say("anna", "nudge 1 post")
    assert "Only a facilitator" in not_allowed.text


async def test_a_facilitator_moves_an_entry_and_its_timers_follow(
    store: Store, cohort: Cohort, digilog: Digilog, tmp_path: Path
) -> None:
    clock = ManualClock(local("2027-04-01 09:00"))
    digilog.now = clock.now
    await with_calendar(store, cohort, tmp_path)
    timekeeper = Timekeeper(store, clock, lambda: None, sweep_seconds=60)
    await timekeeper.rebuild()
    chat = Chat(digilog, cohort)
    shown = await chat.say("fia", "schedule")
    assert "[1:quiz_close]" in shown.text
    assert "Nudge, theme 1: quiz not finished · 3 people as of now" in shown.text
    refused = await chat.say("fia", "schedule move 1:quiz_close 2027-05-02 17:00")
    assert "That would not work: it closes before it opens" in refused.text
    await chat.say("fia", "language sv")  # and a Swedish facilitator reads it in Swedish
    refused = await chat.say("fia", "schedule move 1:quiz_close 2027-05-02 17:00")
    assert "Det skulle inte fungera: den stängs innan den öppnas" in refused.text
    await chat.say("fia", "language en")
    unknown = await chat.say("fia", "schedule move 7:quiz_close 2027-05-12 17:00")
    assert "The calendar has no 7:quiz_close" in unknown.text
    not_allowed = await chat.say("anna", "schedule move 1:quiz_close 2027-05-12 17:00")
    assert "Only a facilitator" in not_allowed.text
    moved = await chat.say("fia", "schedule move 1:quiz_close 2027-05-12 17:00")
    assert "moved to Wed 12 May 17:00" in moved.text
    await timekeeper.sweep()
    jobs = {job.id: job.trigger.run_date for job in timekeeper.jobs(cohort.id)}
    assert jobs[f"c{cohort.id}:nudge_quiz:theme:1:quiz_close"] == local("2027-05-11 17:00")
    assert jobs[f"c{cohort.id}:quiz_close:theme:1:quiz_close"] == local("2027-05-12 17:00")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_console_rehearses_a_calendar(database_url: str, tmp_path: Path) -> None:
    def digilog(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return run_digilog(database_url, tmp_path, *args, stdin=stdin, language="en")

    assert digilog("console", stdin="quit\n").returncode == 0  # creates the demo cohort
    loaded = digilog("schedule", "load", "demo", str(EXAMPLE_CALENDAR))
    assert loaded.returncode == 0, loaded.stderr
    rehearsal = digilog(
        "console", "--at", "2027-01-31 20:00", stdin="clock\nclock +12h\nas anna\nhome\nquit\n"
    )
    assert rehearsal.returncode == 0, rehearsal.stderr
    out = rehearsal.stdout
    assert "(it is Sun, 31 Jan 2027 20:00 CET)" in out
    # Theme 1 starts on Monday at 08:00: posted when the rehearsal's clock passes it.
    assert "[Mon 1 Feb 08:00] [Digilog in #demo]" in out
    assert "Theme 1: Why there is such a focus on digital transformation" in out
    assert "(it is Mon, 1 Feb 2027 08:00 CET)" in out
    assert "Now: theme 1" in out
    moved = digilog("console", "--speed", "0", stdin="quit\n")
    assert moved.returncode == 2 and "--speed" in moved.stderr


async def test_a_sender_whose_lease_ran_out_sends_nothing(
    store: Store, cohort: Cohort, digilog: Digilog, running: Programme, tmp_path: Path
) -> None:
    """A slow sender's rows went to another after its lease; it must not send them too."""
    await three_nudges_queued(store, cohort, digilog, running, tmp_path)
    async with aiohttp.ClientSession() as session:
        client = courier_client("xoxb-test", running.slack.api_url, session)
        slow = sender_for(store, digilog, client, running.clock, "slow")
        claimed = await slow.claim()
        assert len(claimed) == 3
        await running.at(local("2027-04-27 10:02"))  # past its lease: the others send them
        for delivery in claimed:
            await slow.send(delivery)
    dms = Counter(c.params["channel"] for c in running.slack.calls_to("chat.postMessage")[1:])
    assert dms == {"anna": 1, "bjorn": 1, "cecilia": 1}
    rows = [r for r in await running.rows() if r.kind == "nudge_adhoc"]
    assert {r.claimed_by for r in rows} == {"test-sender"}


async def test_a_refused_post_is_retried_then_shown_to_facilitators(
    store: Store, cohort: Cohort, digilog: Digilog, running: Programme, tmp_path: Path
) -> None:
    await with_calendar(store, cohort, tmp_path)
    running.slack.fail("chat.postMessage", error="internal_error", times=2)
    running.slack.fail("chat.postMessage", error="channel_not_found", times=1)
    await running.at(local("2027-04-26 08:00"))
    [row] = [r for r in await running.rows() if r.kind == "theme_start"]
    assert row.state is DeliveryState.pending and row.reason == "Slack: internal_error"
    await running.at(local("2027-04-26 08:01"))  # the first retry waits 10 s, the next 20 s
    await running.at(local("2027-04-26 08:02"))
    [row] = [r for r in await running.rows() if r.kind == "theme_start"]
    assert row.state is DeliveryState.failed and row.reason == "Slack: channel_not_found"
    assert row.attempts == 3
    shown = await Chat(digilog, cohort).say("fia", "schedule")
    assert "Theme posts:** 1 failed (1: Console refused them)" in shown.text
    assert "Send again to those who missed it" in shown.text


async def test_a_nudges_button_works_in_a_direct_message_for_someone_in_two_cohorts(
    store: Store, programme: ProgrammeFile, cohort: Cohort, digilog: Digilog
) -> None:
    await make_cohort(store, programme, "grupp-2", people=PEOPLE[:2])  # Fia and Anna again
    chat = Chat(digilog, cohort)
    await chat.say("fia", "theme start 1")
    await chat.say("fia", "quiz start 1")
    direct = Conversation(cohort.platform, cohort.workspace, "D-anna")
    typed = await chat.say("anna", "quiz", where=direct)
    assert "flera deltagargrupper" in typed.text  # a command must say which (--in)
    clicked = await chat.click("anna", f"quiz:{cohort.id}-1:begin", where=direct)
    assert "Question 1" in clicked.text


async def test_a_claim_takes_its_batch_and_no_more(store: Store, cohort: Cohort) -> None:
    """Two senders each get their own batch of a large fan-out, never all of it."""
    now = local("2027-04-27 10:00")
    async with store.transaction() as repos:
        await repos.deliveries.add(
            Planned(key=f"load:{n}", cohort_id=cohort.id, kind="nudge_adhoc", due_at=now)
            for n in range(2500)
        )
    async with store.transaction() as repos:
        first = await repos.deliveries.claim("one", now, timedelta(minutes=1), 10)
    async with store.transaction() as repos:
        second = await repos.deliveries.claim("two", now, timedelta(minutes=1), 10)
    assert len(first) == len(second) == 10
    assert not {d.id for d in first} & {d.id for d in second}
    async with store.transaction() as repos:
        counts = await repos.deliveries.counts(cohort.id)
    assert counts == {DeliveryState.sending: 20, DeliveryState.pending: 2480}


async def test_those_signed_up_for_a_lab_are_reminded_the_day_before(
    cohort: Cohort, digilog: Digilog, running: Programme
) -> None:
    chat = Chat(digilog, cohort)
    running.clock.moment = local("2027-02-10 09:00")
    await chat.say("anna", "lab signup hantera-information 1")  # Tuesday 16 Feb, 13:00
    await chat.say("bjorn", "lab signup hantera-information 1")
    await chat.say("bjorn", "lab cancel hantera-information 1")
    await running.at(local("2027-02-15 12:59"))
    assert running.dms("anna") == []
    await running.at(local("2027-02-15 13:00"))
    [reminder] = running.dms("anna")
    assert "Lab: Handling information is tomorrow: Tue 16 Feb 13:00–15:00." in reminder
    assert running.dms("bjorn") == []
    await running.at(local("2027-02-15 13:30"))
    assert len(running.dms("anna")) == 1


async def test_a_sender_told_to_stop_gives_back_what_it_has_not_begun(
    store: Store, cohort: Cohort, digilog: Digilog, running: Programme, tmp_path: Path
) -> None:
    await three_nudges_queued(store, cohort, digilog, running, tmp_path)
    stop = asyncio.Event()

    async def stop_after_the_first() -> None:
        await running.slack.wait_for("chat.postMessage", count=2)  # the theme post, a nudge
        stop.set()

    async with aiohttp.ClientSession() as session:
        client = courier_client("xoxb-test", running.slack.api_url, session)
        leaving = sender_for(store, digilog, client, running.clock, "leaving")
        stopper = asyncio.create_task(stop_after_the_first())
        assert await leaving.send_due(stop) == 1
        await stopper
    rows = [r for r in await running.rows() if r.kind == "nudge_adhoc"]
    assert Counter(r.state for r in rows) == {DeliveryState.sent: 1, DeliveryState.pending: 2}
    assert all(r.claimed_by is None for r in rows if r.state is DeliveryState.pending)
    await running.at(running.clock.moment)  # no lease to wait for: sent at once
    assert all(r.state is DeliveryState.sent for r in await running.rows())


async def test_the_calendar_opens_and_closes_surveys_and_nudges_who_has_not_answered(
    store: Store, cohort: Cohort, digilog: Digilog, running: Programme, tmp_path: Path
) -> None:
    await with_calendar(
        store,
        cohort,
        tmp_path,
        """\
local_meetings:
  opening: {start: 2027-09-01 13:00, end: 2027-09-01 15:00}
self_assessment:
  start: {opens: 2027-09-01 13:00, closes: 2027-09-03 12:00}
themes:
  1:
    start: 2027-09-06 08:00
    survey: {opens: 2027-09-13 09:00, closes: 2027-09-17 15:00}
""",
    )
    chat = Chat(digilog, cohort)

    def channel_posts() -> list[tuple[str, list[str]]]:
        return [
            (
                str(c.params.get("text")),
                [
                    str(e.get("action_id"))
                    for b in c.params.get("blocks") or []
                    for e in b.get("elements", [])
                    if isinstance(e, dict)
                ],
            )
            for c in running.slack.calls_to("chat.postMessage")
            if c.params.get("channel") == cohort.conversation_id
        ]

    await running.at(local("2027-08-31 13:00"))  # the day before the opening meeting
    [(text, buttons)] = channel_posts()
    assert "The opening local meeting is tomorrow" in text
    assert buttons == [f"meeting:{cohort.id}:needs"]
    await running.at(local("2027-09-01 13:00"))
    assert "Self-assessment at the start" in channel_posts()[-1][0]
    assert channel_posts()[-1][1] == [f"survey:{cohort.id}:assessment:start"]
    [form] = (await chat.click("anna", channel_posts()[-1][1][0])).forms
    assert form.form_id == f"survey:{cohort.id}:assessment:start"
    await running.at(local("2027-09-03 12:00"))
    assert "“Self-assessment at the start” has closed" in channel_posts()[-1][0]
    assert "has closed" in (await chat.submit("anna", form.form_id, {})).text

    await running.at(local("2027-09-06 08:00"))
    await running.at(local("2027-09-13 09:00"))
    text, [answer] = channel_posts()[-1]
    assert "Survey after theme 1" in text
    await chat.submit("anna", answer, {"useful": "4", "buddy": "5"})
    await running.at(local("2027-09-16 15:00"))  # a day before it closes
    assert running.dms("anna") == []
    [nudge_text] = running.dms("bjorn")
    assert "Theme 1: you have not answered the survey yet (it takes a minute)" in nudge_text
    assert len(running.dms("cecilia")) == 1 and running.dms("fia") == []
    await running.at(local("2027-09-17 15:00"))
    assert "“Survey after theme 1” has closed" in channel_posts()[-1][0]
    late = await chat.submit("bjorn", answer, {"useful": "1", "buddy": "1"})
    assert "has closed; answers are no longer taken" in late.text
    await running.at(local("2027-09-17 15:01"))
    kinds = Counter(r.kind for r in await running.rows() if r.state is DeliveryState.sent)
    assert kinds == {
        "meeting_tomorrow": 1,
        "assessment_open": 1,
        "assessment_close": 1,
        "theme_start": 1,
        "survey_open": 1,
        "nudge_survey": 2,
        "survey_close": 1,
    }


def test_a_channel_reminder_keeps_a_swedish_workplaces_calendar() -> None:
    from handlers.features import REGISTRY
    from storage.models import CalendarEntry

    def entry(key: str, kind: str, at: str) -> CalendarEntry:
        return CalendarEntry(key=key, kind=kind, theme_number=1, starts_at=local(at))

    entries = [
        # Monday 7 June 2027: the day before is Sunday 6 June, National Day.
        entry("meeting:closing", "closing_meeting", "2027-06-07 13:00"),
        # Friday 7 May 2027: the day before is Ascension Day.
        entry("theme:1:workshop", "workshop", "2027-05-07 09:00"),
        # Wednesday 12 May 2027 at 07:30: the day before at 07:30 is before work begins.
        entry("event:early", "event", "2027-05-12 07:30"),
        # A quiz closes on a Sunday evening: its time is the point.
        entry("theme:1:quiz_close", "quiz_close", "2027-05-09 17:00"),
    ]
    due = {
        (d.step.kind, d.entry.key): d.at.astimezone(STOCKHOLM)
        for d in REGISTRY.future_steps(entries, local("2027-01-01 00:00"))
    }
    assert due["meeting_tomorrow", "meeting:closing"] == local("2027-06-04 13:00")
    assert due["workshop_tomorrow", "theme:1:workshop"] == local("2027-05-05 09:00")
    assert due["event_tomorrow", "event:early"] == local("2027-05-10 08:00")
    # "Starts in an hour" is sent an hour before, whatever the day; a quiz closes when
    # the calendar says.
    assert due["workshop_soon", "theme:1:workshop"] == local("2027-05-07 08:00")
    assert due["quiz_close", "theme:1:quiz_close"] == local("2027-05-09 17:00")
    # Each still goes before it stops being true (the evening before).
    for d in REGISTRY.future_steps(entries, local("2027-01-01 00:00")):
        assert d.at < d.relevant_until or d.step.kind == "quiz_close"


async def test_a_reminder_moved_before_a_holiday_says_when_not_tomorrow(
    store: Store, cohort: Cohort, running: Programme, tmp_path: Path
) -> None:
    # The workshop on Friday 7 May 2027 follows Ascension Day: its reminder goes on
    # Wednesday, and says when rather than "tomorrow".
    calendar = CALENDAR.replace("2027-04-29 13:00", "2027-05-07 13:00").replace(
        "2027-04-29 16:00", "2027-05-07 16:00"
    )
    await with_calendar(store, cohort, tmp_path, calendar)
    await running.at(local("2027-05-05 12:59"))
    posts = [c.params.get("text") for c in running.slack.calls_to("chat.postMessage")]
    assert not any("workshop" in str(p).lower() for p in posts)
    await running.at(local("2027-05-05 13:00"))
    posts = [str(c.params.get("text")) for c in running.slack.calls_to("chat.postMessage")]
    [reminder] = [p for p in posts if "The workshop of theme 1" in p]
    assert "The workshop of theme 1 is coming up: Fri 7 May 13:00–16:00." in reminder
    await running.at(local("2027-05-06 13:00"))  # the holiday itself: nothing more
    posts = [str(c.params.get("text")) for c in running.slack.calls_to("chat.postMessage")]
    assert len([p for p in posts if "The workshop of theme 1" in p]) == 1
