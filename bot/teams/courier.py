"""Scheduled deliveries out through the Bot Connector, at a pace Teams accepts.

**Where a message goes.** A channel post goes to the channel's conversation id; a reply
in a thread to `<channel>;messageid=<root>`. A message for a person goes to their
one-to-one chat with the bot: the one Digilog has seen (`conversation_addresses`), else
one it opens with the tenant's newest address and bot id, and then remembers. Digilog
learns a tenant's address (its service URL) from the first activity Teams sends it from
there; until then nothing can be sent to that tenant, and the row waits and is retried.

**Pace.** Microsoft documents these limits for bots, past which Teams answers 429: per
bot and conversation ("thread") at most 7 operations a second, 8 in 2 seconds, 60 in 30
seconds and 1,800 an hour; per app and tenant about 50 requests a second. `Windows`
keeps a sliding window of each, per conversation and per tenant, and a post waits its
turn; a wait longer than `TeamsLimits.longest_wait` gives the row back to the outbox
(`TryLater`) instead of holding the sender and the row's lease. A 429 holds that
conversation for its `Retry-After` (1 s if none); a 429 on opening a chat, or on a
second conversation of the tenant while the first is still held, is taken as a
tenant-wide throttle and holds the whole tenant.

**Errors** (as Microsoft lists them for bots): 429 → `TryLater`; 412, 502, 503 and 504
are passing → `Refused(permanent=False)`, retried with backoff; 403 on a person's chat
(opening it or posting to it) → `Refused(unreachable=True)`: the person has not
installed the app and is in no roster the bot is in; any other 4xx or 5xx →
`Refused(permanent=True)`. A dropped connection or a timeout after the request may have
left → `OutcomeUnknown`; one that cannot have left (no connection, no access token, a
chat not yet opened) → `Refused(permanent=False)`.

**Nothing twice: Teams deliveries are at most once.** Slack keeps a delivery's key in
the message's metadata, so a sender unsure whether an attempt went out can look. The
Bot Connector has no way to read a bot's messages back or to find one by a key (and
Microsoft Graph would need permissions Digilog does not ask for). So `find`, asked about
an attempt whose outcome is unknown (its answer was lost, or a sender died during it),
cannot know: it answers as if the message had gone out, with an empty message id, and
logs a warning each time. Returning None instead would make deliveries at least once:
the retry would post again, a duplicate whenever the lost answer had been a success.
Digilog's rule is that nothing is sent twice, so such a message may be lost instead (a
nudge that never comes; a theme post whose thread id is unknown, so notes into its
thread are refused, saying so). It is rare: a request that took longer than
`request_seconds`, or a sender that died in the middle of one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

import aiohttp

from bot.pace import Busy, Clock, Limit, Pacer, Sleep
from bot.pace import Windows as Windows  # where the tests and older callers find it
from bot.teams.chats import open_chat
from bot.teams.connector import Connector, ConnectorError
from bot.teams.messenger import activity_of, viewable, viewers_of
from bot.teams.translate import PLATFORM
from handlers.core.i18n import translator
from handlers.core.vocabulary import Message, Outgoing, ToConversation, ToPerson
from schedules.courier import NO_ANSWER, OutcomeUnknown, Refused, Sent, TryLater
from storage.unit import Repositories, Store

log = logging.getLogger(__name__)

# Passing failures: Microsoft says to retry 412, 502 and 504 (and 429); 503 says so itself.
PASSING = frozenset({412, 502, 503, 504})
# A request taking longer is given up (its outcome unknown). The token, opening a chat and
# the post, with two waits for a turn, stay inside the sender's 60 s lease on the row.
REQUEST_SECONDS = 15.0
CONVERSATION, TENANT = "conversation", "tenant"


@dataclass(frozen=True)
class TeamsLimits:
    per_conversation: tuple[Limit, ...] = (
        Limit(7, 1),
        Limit(8, 2),
        Limit(60, 30),
        Limit(1800, 3600),
    )
    per_tenant: tuple[Limit, ...] = (Limit(50, 1),)
    longest_wait: float = 5.0  # a longer wait for a turn gives the row back (TryLater)


TEAMS_LIMITS = TeamsLimits()
Key = tuple[str, str]  # (kind, id): (CONVERSATION, "19:…@thread.tacv2"), (TENANT, "…")


@dataclass(frozen=True)
class _Route:
    tenant: str
    service_url: str
    conversation_id: str  # the channel or the personal chat: what is paced and reported
    target: str  # where the activity is posted: `;messageid=` for a thread reply
    personal: bool
    language: str | None
    viewers: list[str] | None = None  # who fetch their own view of a channel card


class TeamsCourier:
    """Sends a scheduled message to a Teams channel, thread or person; see the module's
    docstring for pacing, errors and why Teams deliveries are at most once."""

    def __init__(
        self,
        store: Store,
        connector: Connector,
        *,
        limits: TeamsLimits = TEAMS_LIMITS,
        request_seconds: float = REQUEST_SECONDS,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.store, self.connector = store, connector
        self.limits, self.request_seconds = limits, request_seconds
        self.pacer = Pacer(
            {CONVERSATION: limits.per_conversation, TENANT: limits.per_tenant},
            clock=clock,
            sleep=sleep,
        )
        self.windows = self.pacer.windows
        # tenant → the conversation last throttled there: a second one while it is still
        # held means the throttle is the tenant's.
        self._throttled: dict[str, str] = {}

    async def send(self, key: str, outgoing: Outgoing) -> Sent:
        if not isinstance(outgoing.message, Message):
            # A form would draw as a card all the same; no schedule sends one (nor do the
            # other couriers).
            raise Refused("Teams: only messages are scheduled, not forms or files", permanent=True)
        await self._token()
        route = await self._route(outgoing)
        activity = activity_of(
            outgoing.message,
            translator(route.language),
            shared=not route.personal,
            viewers=route.viewers,
        )
        await self.pacer.turn(
            route.tenant,
            ((TENANT, route.tenant), (CONVERSATION, route.conversation_id)),
            self.limits.longest_wait,
            "Teams: paced under its rate limits",
        )
        try:
            async with asyncio.timeout(self.request_seconds):
                message_id = await self.connector.send(route.service_url, route.target, activity)
        except ConnectorError as error:
            self._refused(error, route.tenant, route.conversation_id, personal=route.personal)
        except aiohttp.ClientConnectorError as error:
            held = self.pacer.no_answer(route.tenant)
            raise Busy(held, f"Teams: no connection: {error}", outage=True) from error
        except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError) as error:
            self.pacer.no_answer(route.tenant)
            raise OutcomeUnknown(f"Teams: {str(error) or type(error).__name__}") from error
        self.pacer.answered(route.tenant)
        if not message_id:
            log.warning("Teams took delivery %s but gave no message id", key)
        return Sent(route.conversation_id, message_id)

    async def find(self, key: str, outgoing: Outgoing, since: datetime) -> Sent | None:
        """At most once (see the module's docstring): an attempt whose outcome is unknown
        is taken as sent, since Teams offers no way to look."""
        conversation_id = ""
        match outgoing.to:
            case ToConversation(conversation=conversation):
                conversation_id = conversation.conversation_id
            case ToPerson(workspace=tenant, user_id=user_id):
                async with self.store.transaction() as repos:
                    chat = await repos.addresses.personal(PLATFORM, tenant, user_id)
                conversation_id = chat.conversation_id if chat else user_id
        log.warning(
            "delivery %s may or may not have reached Teams (it offers no way to look); "
            "taking it as sent, so it may be lost but is never sent twice",
            key,
        )
        return Sent(conversation_id, "")

    # ---------------------------------------------------------------- where it goes

    async def _route(self, outgoing: Outgoing) -> _Route:
        match outgoing.to:
            case ToConversation(conversation=conversation):
                if conversation.platform != PLATFORM:
                    raise Refused(
                        f"not a Teams conversation: {conversation.platform}", permanent=True
                    )
                if conversation.thread_id == "":
                    # A thread whose first message's id was lost (an unknown outcome).
                    raise Refused("Teams: the thread's first message id is unknown", permanent=True)
                tenant, channel = conversation.workspace, conversation.conversation_id
                async with self.store.transaction() as repos:
                    known = await repos.addresses.of_conversation(PLATFORM, tenant, channel)
                    known = known or await repos.addresses.newest_in(PLATFORM, tenant)
                    cohort = await repos.cohorts.by_conversation(PLATFORM, tenant, channel)
                    viewers = (
                        await viewers_of(repos, cohort, tenant)
                        if viewable(outgoing.message) is not None
                        else None
                    )
                if known is None:
                    _not_heard_from(tenant)
                target = channel
                if conversation.thread_id is not None:
                    target += f";messageid={conversation.thread_id}"
                language = cohort.language if cohort else None
                return _Route(tenant, known.address, channel, target, False, language, viewers)
            case ToPerson(platform=platform, workspace=tenant, user_id=user_id):
                if platform != PLATFORM:
                    raise Refused(f"not a Teams person: {platform}", permanent=True)
                return await self._personal(tenant, user_id)
        raise Refused(
            f"a scheduled delivery cannot go to {type(outgoing.to).__name__}", permanent=True
        )

    async def _personal(self, tenant: str, user_id: str) -> _Route:
        """The person's one-to-one chat with the bot: known, or opened and remembered."""
        async with self.store.transaction() as repos:
            chat = await repos.addresses.personal(PLATFORM, tenant, user_id)
            newest = None if chat else await repos.addresses.newest_in(PLATFORM, tenant)
            language = await _language_of(repos, tenant, user_id)
        if chat is not None:
            known = chat.conversation_id
            return _Route(tenant, chat.address, known, known, True, language)
        if newest is None:
            _not_heard_from(tenant)
        await self.pacer.turn(tenant, ((TENANT, tenant),), self.limits.longest_wait, "Teams: paced")
        try:
            async with asyncio.timeout(self.request_seconds):
                chat_id = await open_chat(
                    self.store, self.connector, newest.address, newest.bot_id, tenant, user_id
                )
        except ConnectorError as error:
            self._refused(error, tenant, None, personal=True)
        except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError, KeyError) as error:
            # Nothing went to the person; opening the chat again gives the same one.
            raise Refused(f"Teams: the chat was not opened: {error!r}") from error
        return _Route(tenant, newest.address, chat_id, chat_id, True, language)

    # ---------------------------------------------------------------- refusals

    async def _token(self) -> None:
        """The access token first (MSAL keeps it): a slow or failing token service is then
        not mistaken for a post that may have gone out."""
        try:
            async with asyncio.timeout(self.request_seconds):
                await self.connector.token()
        except Exception as error:  # whatever failed, nothing was sent; retried
            raise Refused(f"Teams: no access token: {error!r}") from error

    def _refused(
        self, error: ConnectorError, tenant: str, conversation: str | None, *, personal: bool
    ) -> NoReturn:
        status, code = error.status, _code_of(error.detail)
        reason = f"Teams: {status} {code}".rstrip()
        if status == 429:
            self.pacer.answered(tenant)
            seconds = error.retry_after if error.retry_after is not None else 1.0
            self._throttle(tenant, conversation, seconds)
            raise TryLater(
                seconds, f"Teams: throttled (429), {seconds:g} s", whole=conversation is None
            ) from error
        if status in PASSING:
            # The service is struggling: hold the tenant a while, as for a dropped call.
            if status != 412:
                self.pacer.no_answer(tenant)
            raise Refused(reason, trouble=NO_ANSWER if status != 412 else None) from error
        self.pacer.answered(tenant)
        if status == 403 and personal:
            raise Refused(
                f"{reason}: the person has not installed Digilog in Teams, nor is in a team "
                "or chat it is in",
                unreachable=True,
            ) from error
        raise Refused(reason, permanent=True) from error

    def _throttle(self, tenant: str, conversation: str | None, seconds: float) -> None:
        tenant_wide = conversation is None
        if conversation is not None:
            before = self._throttled.get(tenant)
            tenant_wide = (
                before is not None
                and before != conversation
                and self.windows.held((CONVERSATION, before)) > 0
            )
            self._throttled[tenant] = conversation
            self.windows.hold((CONVERSATION, conversation), seconds)
        if tenant_wide:
            log.warning("Teams throttles tenant %s: holding its posts for %g s", tenant, seconds)
            self.windows.hold((TENANT, tenant), seconds)


async def _language_of(repos: Repositories, tenant: str, user_id: str) -> str | None:
    """The person's saved language, else their (first) cohort's."""
    person = await repos.people.by_account(PLATFORM, tenant, user_id)
    if person is None:
        return None
    if person.language:
        return person.language
    cohorts = await repos.cohorts.of_person(person.id)
    return cohorts[0].language if cohorts else None


def _not_heard_from(tenant: str) -> NoReturn:
    raise Refused(
        f"Digilog has not yet heard from the Teams tenant {tenant}: it learns where to send "
        "from the first message or command it gets there"
    )


def _code_of(detail: str) -> str:
    """The Bot Connector's error code (`{"error": {"code": "…"}}`), if it gave one."""
    try:
        answer = json.loads(detail)
    except ValueError:
        return ""
    error = answer.get("error") if isinstance(answer, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        return str(error["code"])
    return ""
