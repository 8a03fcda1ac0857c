"""`POST /api/messages`: Teams activities in, each one verified, handled once, and answered.

Every activity carries a JWT that Microsoft signed for this bot; the Agents SDK's
validator checks the signature against Microsoft's published keys, the audience
(our app id), the issuer and the expiry. A token is also bound to the `serviceUrl`
it was issued for, so a valid token cannot send the bot's replies (and its access
token) somewhere else. Anonymous mode, for the Agents Playground on one's own
machine, skips all that and is refused unless Digilog listens on loopback only.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field

from aiohttp import web
from microsoft_agents.activity import Activity
from microsoft_agents.hosting.core import AgentAuthConfiguration, JwtTokenValidator
from pydantic import ValidationError

from bot.edge import Malformed, load_json
from bot.lanes import Lanes
from bot.logs import failure_of
from bot.settings import is_loopback
from bot.teams.cards import choice_of
from bot.teams.connector import ConnectorError
from bot.teams.messenger import Messenger
from bot.teams.translate import PLATFORM, conversation_of, event_of, field_of, where_of
from bot.work import Entry, Journal
from handlers import failures
from handlers.digilog import Digilog, cohort_of
from handlers.i18n import translator
from handlers.vocabulary import Outgoing, ToActor
from storage.inbound import Failed
from storage.unit import Store

log = logging.getLogger(__name__)
CLAIMS = web.RequestKey("claims", dict[str, object])


@dataclass
class TeamsAdapter:
    digilog: Digilog
    messenger: Messenger
    auth: AgentAuthConfiguration
    store: Store
    work: Journal
    lanes: Lanes
    # The address last kept per conversation: written again only when Teams changes it.
    _addresses: dict[tuple[str, str], tuple[str, str, str | None]] = field(default_factory=dict)

    async def messages(self, request: web.Request) -> web.Response:
        self.work.request_started()  # queued work waits while requests are answered
        try:
            return await self._answer(request)
        finally:
            self.work.request_finished()

    async def _answer(self, request: web.Request) -> web.Response:
        refused = await self._refused(request)
        if refused is not None:
            return refused
        try:
            body = load_json(await request.read())
            activity = Activity.model_validate(body)
        except (Malformed, ValidationError, RecursionError):
            return web.json_response({"error": "not an activity"}, status=400)
        claims = request.get(CLAIMS) or {}
        if claims.get("serviceurl") and (
            str(claims["serviceurl"]).rstrip("/").lower()
            != (activity.service_url or "").rstrip("/").lower()
        ):
            log.warning("Teams activity refused: its serviceUrl is not the token's")
            return web.json_response({"error": "serviceUrl does not match the token"}, status=401)
        # Verified: journalled, answered now, handled next (Teams waits 5 s for an
        # invoke's answer, and a burst of clicks must not queue behind each other's work).
        # Hashed: a fixed length whatever Teams' ids, and no chat id that names someone.
        raw = activity.conversation.id if activity.conversation else ""
        delivery = hashlib.sha256(f"{raw}:{activity.type}:{activity.id}".encode()).hexdigest()
        await self.work.record(PLATFORM, "activity", body, event_id=delivery)
        if activity.type == "invoke":
            # The answer Teams waits for; what the person gets comes in their chat.
            return web.json_response(
                {
                    "statusCode": 200,
                    "type": "application/vnd.microsoft.activity.message",
                    "value": "",
                }
            )
        return web.Response(status=200)

    def __post_init__(self) -> None:
        self.work.add(PLATFORM, self)
        self.messenger.lanes = self.lanes

    async def perform(self, entry: Entry) -> Awaitable[None] | None:
        activity = Activity.model_validate(entry.payload)
        await self._remember(activity)
        if _installed_in_a_team(activity):
            await self._link_roster(activity)
        event = event_of(activity)
        if event is None:
            return None
        raw = activity.conversation.id if activity.conversation else ""
        delivery = hashlib.sha256(f"{raw}:{activity.type}:{activity.id}".encode()).hexdigest()
        outgoing = await self.digilog.handle(event, delivery_id=delivery, journal_id=entry.id)
        entry.handled = True
        return self.messenger.deliver(where_of(activity), outgoing)

    async def tell_failed(self, entry: Entry) -> bool:
        activity = Activity.model_validate(entry.payload)
        where = where_of(activity)
        if not where.user_id or activity.type not in ("message", "invoke"):
            return False
        try:
            language = await failures.language(self.store, PLATFORM, where.tenant_id, where.user_id)
        except Exception as error:
            log.warning("language of a Teams user unknown: %s", failure_of(error))
            language = None
        kind = "choice" if activity.type == "invoke" else "other"
        notice = failures.notice(translator(language or where.language), kind)
        sending = self.messenger.deliver(where, [Outgoing(ToActor(), notice)])
        if sending is not None:
            await sending
        return True

    def failed(self, entry: Entry, reason: str) -> tuple[Failed, int | None]:
        activity = Activity.model_validate(entry.payload)
        where = where_of(activity)
        what, cohort = activity.type or "activity", None
        action_id = choice_of(activity.value) if isinstance(activity.value, dict) else None
        if isinstance(action_id, str):
            what, cohort = f"button: {action_id[:150]}", cohort_of(action_id)
        conversation = conversation_of(activity).conversation_id
        failed = Failed(
            PLATFORM, where.tenant_id, where.user_id, conversation, "activity", what, reason
        )
        return failed, cohort

    async def _link_roster(self, activity: Activity) -> None:
        """When Digilog joins a team, tie the people a roster named only by e-mail address
        to their Teams accounts, from the team's member list."""
        where = where_of(activity)
        team = field_of(activity.channel_data, "team", "id")
        if not isinstance(team, str) or not team:
            return
        try:
            members = await self.messenger.connector.members(where.service_url, team)
        except ConnectorError as error:
            log.warning("the team's members could not be read: %s", error)
            return
        linked = 0
        async with self.store.transaction() as repos:
            for member in members:
                email = member.get("email") or member.get("userPrincipalName")
                if member.get("id") and email:
                    person = await repos.people.link_account(
                        PLATFORM, where.tenant_id, str(member["id"]), str(email)
                    )
                    linked += person is not None
        log.info("Teams team %s: %d of %d members linked to the roster", team, linked, len(members))

    async def _remember(self, activity: Activity) -> None:
        """Where Teams takes messages for this conversation: what scheduled posts and nudges
        need later (it comes with every activity, installations included)."""
        where = where_of(activity)
        conversation = conversation_of(activity).conversation_id
        if not (where.service_url and where.tenant_id and where.bot_id and conversation):
            return
        too_long = (
            len(where.tenant_id) > 100
            or len(conversation) > 300
            or len(where.service_url) > 500
            or len(where.bot_id) > 200
        )
        if too_long:  # no id Teams gives is this long: not an address worth keeping
            log.warning("Teams activity with ids too long to keep its address; not kept")
            return
        user = where.user_id if where.personal else None
        known = (where.service_url, where.bot_id, user)
        if self._addresses.get((where.tenant_id, conversation)) == known:
            return
        async with self.store.transaction() as repos:
            await repos.addresses.remember(
                PLATFORM,
                where.tenant_id,
                conversation,
                where.service_url,
                where.bot_id,
                user_id=user,
            )
        self._addresses[where.tenant_id, conversation] = known

    async def _refused(self, request: web.Request) -> web.Response | None:
        """None when the request's token is good (its claims kept on the request)."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            if self.auth.ANONYMOUS_ALLOWED and _over_loopback(request):
                return None
            return web.json_response({"error": "no token"}, status=401)
        if scheme.lower() != "bearer" or not token.strip():
            return web.json_response({"error": "not a bearer token"}, status=401)
        try:
            identity = await JwtTokenValidator(self.auth).validate_token(token.strip())
        except Exception as error:  # PyJWT's errors, ValueError, a key that cannot be fetched
            log.warning("Teams activity refused: %s", type(error).__name__)
            return web.json_response({"error": "invalid token"}, status=401)
        request[CLAIMS] = dict(identity.claims or {})
        return None


def _over_loopback(request: web.Request) -> bool:
    """The request came over this machine's loopback, both ends: whatever address the
    server was told to bind, a request from the network never arrives this way."""
    transport = request.transport
    if transport is None:
        return False
    ends = (transport.get_extra_info("sockname"), transport.get_extra_info("peername"))
    return all(isinstance(end, tuple) and is_loopback(str(end[0])) for end in ends)


def _installed_in_a_team(activity: Activity) -> bool:
    """The app was added to a team (or the bot to its conversation)."""
    if activity.type == "installationUpdate":
        return activity.action in (None, "add", "add-upgrade")
    if activity.type == "conversationUpdate" and activity.recipient is not None:
        return any(m.id == activity.recipient.id for m in activity.members_added or [])
    return False


def auth_configuration(
    app_id: str | None, tenant_id: str | None, *, anonymous: bool
) -> AgentAuthConfiguration:
    """What a token must say: issued to our app, by Microsoft (the Bot Framework or our
    tenant's Entra), and checked against the issuer list, which the SDK leaves optional."""
    return AgentAuthConfiguration(
        client_id=app_id,
        tenant_id=tenant_id,
        anonymous_allowed=anonymous,
        validate_issuer=True,
    )
