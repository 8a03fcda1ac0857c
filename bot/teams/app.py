"""`POST /api/messages`: Teams activities in, each one verified, handled once, and answered.

Every activity carries a JWT that Microsoft signed for this bot; the Agents SDK's
validator checks the signature against Microsoft's published keys, the audience
(our app id), the issuer and the expiry. A token is also bound to the `serviceUrl`
it was issued for, so a valid token cannot send the bot's replies (and its access
token) somewhere else. Anonymous mode, for the Agents Playground on one's own
machine, skips all that and is refused unless Digilog listens on loopback only.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from aiohttp import web
from microsoft_agents.activity import Activity
from pydantic import ValidationError

from bot.edge import Malformed, load_json
from bot.lanes import Lanes
from bot.logs import failure_of
from bot.settings import is_loopback
from bot.teams.cards import choice_of, shown_values, viewed_of
from bot.teams.connector import ConnectorError
from bot.teams.files import answer_consent, on_loopback
from bot.teams.messenger import INVOKE_MESSAGE, Clicked, Messenger
from bot.teams.translate import (
    MESSAGE_ACTION,
    PLATFORM,
    ForgedButton,
    actor_of,
    conversation_of,
    event_of,
    field_of,
    tenant_of,
    where_of,
)
from bot.together import Together
from bot.work import Answered, Entry, Job, Journal
from handlers import failures
from handlers.core.i18n import translator
from handlers.core.vocabulary import CardViewed, HomeOpened, Message, Outgoing, ToActor, say
from handlers.digilog import Digilog, cohort_of
from storage.addresses import Address
from storage.inbound import Failed
from storage.unit import Store

if TYPE_CHECKING:
    from microsoft_agents.hosting.core import JwtTokenValidator

log = logging.getLogger(__name__)

# Teams' conversation ids run to about 130 characters (a thread's, with its message id).
MAX_CONVERSATION_BYTES = 500


class _NoActivityInLog(logging.Filter):
    """The SDK logs an activity it cannot read at ERROR, with a traceback and the
    activity's content in it. Digilog answers such a request 400 and logs one line
    that names no content (logs never hold texts), so the SDK's record is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Validation error for Activity")


logging.getLogger("microsoft_agents.activity.activity").addFilter(_NoActivityInLog())
CLAIMS = web.RequestKey("claims", dict[str, object])
FILE_CONSENT = "fileConsent/invoke"
INVOKE_WAIT = 4.0  # seconds of Teams' 5 for an invoke's answer


@dataclass
class TeamsAdapter:
    digilog: Digilog
    messenger: Messenger
    auth: TokenCheck
    store: Store
    work: Journal
    lanes: Lanes
    # The address last kept per conversation: written again only when Teams changes it.
    _addresses: dict[tuple[str, str], tuple[str, str, str | None]] = field(default_factory=dict)
    # Clicks waiting in this process for their answer card, by the activity's delivery id:
    # this process's worker gives it (another process's worker sends a message instead).
    _clicks: dict[str, Clicked] = field(default_factory=dict)
    # "Save to Digilog" waiting for its line, likewise.
    _saves: dict[str, asyncio.Future[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.work.add(PLATFORM, self)
        self.messenger.lanes = self.lanes
        # A process that has just started knows no address: a burst's first activities
        # from 250 personal chats were 250 transactions of one upsert each.
        self._remember_together = Together(self._remember_many)

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
        except (Malformed, ValidationError, RecursionError, TypeError) as error:
            # TypeError: the SDK's own refusal of some fields (a blank channelId).
            log.info("Teams request refused: not an activity (%s)", type(error).__name__)
            return web.json_response({"error": "not an activity"}, status=400)
        conversation = activity.conversation.id if activity.conversation else ""
        if len(conversation.encode()) > MAX_CONVERSATION_BYTES:
            # No id Teams gives is this long; a reply to it would not fit in a request line.
            log.info("Teams request refused: a conversation id too long to answer")
            return web.json_response({"error": "not an activity"}, status=400)
        claims = request.get(CLAIMS) or {}
        if claims.get("serviceurl") and (
            str(claims["serviceurl"]).rstrip("/").lower()
            != (activity.service_url or "").rstrip("/").lower()
        ):
            log.warning("Teams activity refused: its serviceUrl is not the token's")
            return web.json_response({"error": "serviceUrl does not match the token"}, status=401)
        # Verified: journalled (one INSERT, bot/work.py), then answered; a worker of any
        # process does the work. A card's click waits for its answer, for at most
        # INVOKE_WAIT of the 5 s Teams gives: the updated card, or a line, never nothing.
        delivery = _delivery_id(activity)
        if activity.type == "invoke" and activity.name == MESSAGE_ACTION:
            return web.json_response(await self._message_action(activity, body, delivery))
        if activity.type == "invoke" and activity.name != FILE_CONSENT:
            clicked = Clicked(
                personal=where_of(activity).personal,
                answer=asyncio.get_running_loop().create_future(),
                values=shown_values(activity.value) if isinstance(activity.value, dict) else (),
                card_id=activity.reply_to_id,
                view=viewed_of(activity.value) if isinstance(activity.value, dict) else None,
            )
            self._clicks[delivery] = clicked
            try:
                await self.work.record(
                    PLATFORM, "activity", body, event_id=delivery, answered_by_work=True
                )
                # This request now waits on its own work: the workers must not wait for it.
                self.work.request_finished()
                try:
                    answer = await asyncio.wait_for(asyncio.shield(clicked.answer), INVOKE_WAIT)
                except TimeoutError:
                    t = translator(where_of(activity).language)
                    line = (
                        # A card's refresh sends nothing later: the card stays as it was.
                        t("Digilog is busy: the card shows your part when it is next opened.")
                        if clicked.view is not None
                        else t("Digilog is on it: the answer comes in your chat.")
                    )
                    answer = {"statusCode": 200, "type": INVOKE_MESSAGE, "value": line}
                    clicked.give(answer)  # what comes later goes as a message
                finally:
                    self.work.request_started()  # as `messages` counts it
            finally:
                self._clicks.pop(delivery, None)
            return web.json_response(answer)
        await self.work.record(PLATFORM, "activity", body, event_id=delivery)
        if activity.type == "invoke":
            return web.json_response({"status": 200})
        return web.Response(status=200)

    # The work, for the journal's Teams entries.

    def alone(self, entry: Entry) -> bool:
        """File consents and "Save to Digilog" are worked one by one (`perform`); the rest
        join the journal's batches (`prepare`), their work in one transaction."""
        payload = entry.payload
        return payload.get("type") == "invoke" and payload.get("name") in (
            FILE_CONSENT,
            MESSAGE_ACTION,
        )

    async def perform(self, entry: Entry) -> Awaitable[None] | None:
        activity = Activity.model_validate(entry.payload)
        if activity.type == "invoke" and activity.name == FILE_CONSENT:
            await self._file_consent(activity)
            return None
        if activity.type == "invoke" and activity.name == MESSAGE_ACTION:
            return await self._save_message(activity, entry)
        # Any other entry on its own (the journal batches them): as a batch of one.
        job = await self.prepare(entry)
        if job is None:
            return None
        if isinstance(job, Answered):
            return job.sending
        failed = True
        try:
            outgoing = await self.digilog.handle(
                job.event, delivery_id=job.delivery_id, journal_id=entry.id
            )
            entry.handled = True
            failed = False
            return job.send(outgoing)
        finally:
            if job.settle is not None:
                job.settle(failed)

    async def prepare(self, entry: Entry) -> Job | Answered | None:
        """The entry as a neutral event, outside any transaction: the conversation's
        address kept, the roster linked when Digilog joins a team. The journal handles a
        batch of them in one transaction, then gives a waiting click its card (`send`)
        or, whatever came of the work, a line (`settle`)."""
        activity = Activity.model_validate(entry.payload)
        clicked = self._clicks.get(entry.event_id or "") if activity.type == "invoke" else None
        job: Job | None = None
        try:
            await self._remember(activity)
            if _installed_in_a_team(activity):
                await self._link_roster(activity)
            try:
                event = event_of(activity, self.messenger.binder)
            except ForgedButton as forged:
                return Answered(self._refuse_forged(activity, str(forged), clicked))
            delivery: str | None = _delivery_id(activity)
            if event is None and _opened_personally(activity):
                event = HomeOpened(actor_of(activity), conversation_of(activity))
                # Teams (and the Agents Playground) may say so twice, as installationUpdate
                # and as conversationUpdate, each to any process: one greeting per chat,
                # kept by the same stored mark that keeps a retried activity from being
                # handled twice.
                delivery = _greeting_id(activity)
            if event is None:
                return None
            if isinstance(event, CardViewed):
                delivery = None  # a look changes nothing: asking twice needs no stored mark
            where = where_of(activity)

            def send(outgoing: list[Outgoing]) -> Awaitable[None] | None:
                return self.messenger.deliver(where, outgoing, clicked)

            job = Job(event, send, delivery, settle=partial(_settle, activity, clicked))
            return job
        finally:
            if job is None:  # answered here, or never to be: the click hears so now
                _settle(activity, clicked, False)

    def _refuse_forged(
        self, activity: Activity, action_id: str, clicked: Clicked | None
    ) -> Awaitable[None] | None:
        """A button whose channel was not sealed for the person who pressed it: nothing is
        done, and they are told so, in the line Teams shows for the click (or a message)."""
        where = where_of(activity)
        log.warning("Teams: a button's channel did not open for its presser (%s)", action_id[:60])
        t = translator(where.language)
        line = t(
            "This button was changed, or was not given to you, so it does nothing. Ask for "
            "it again in your cohort's channel."
        )
        if clicked is not None and clicked.give(
            {"statusCode": 200, "type": INVOKE_MESSAGE, "value": line}
        ):
            return None
        return self.messenger.deliver(where, [Outgoing(ToActor(), say(line))])

    async def _message_action(
        self, activity: Activity, body: dict[str, Any], delivery: str
    ) -> dict[str, object]:
        """ "Save to Digilog" on a message: the answer is the line Teams shows in a small
        dialog; past INVOKE_WAIT, the line says so and the answer comes in the chat."""
        said: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._saves[delivery] = said
        try:
            await self.work.record(
                PLATFORM, "activity", body, event_id=delivery, answered_by_work=True
            )
            self.work.request_finished()  # this request now waits on its own work
            try:
                line = await asyncio.wait_for(asyncio.shield(said), INVOKE_WAIT)
            except TimeoutError:
                t = translator(where_of(activity).language)
                line = t("Digilog is on it: the answer comes in your chat.")
                if not said.done():
                    said.set_result(line)  # what comes later goes as a message
            finally:
                self.work.request_started()
        finally:
            self._saves.pop(delivery, None)
        return {"task": {"type": "message", "value": line}}

    async def _save_message(self, activity: Activity, entry: Entry) -> Awaitable[None] | None:
        where = where_of(activity)
        # Waited for in this process, or (another process's, or after a restart) not at all.
        said = self._saves.get(entry.event_id or "")
        if said is None:
            said = asyncio.get_running_loop().create_future()
        try:
            event = event_of(activity)
            if event is None:
                t = translator(where.language)
                said.set_result(t("That is not something Digilog saves."))
                return None
            outgoing = await self.digilog.handle(
                event, delivery_id=_delivery_id(activity), journal_id=entry.id
            )
            entry.handled = True
            first = next((o for o in outgoing if isinstance(o.message, Message)), None)
            if first is not None and isinstance(first.message, Message) and not said.done():
                said.set_result(first.message.summary)
                outgoing = [o for o in outgoing if o is not first]
            return self.messenger.deliver(where, outgoing)
        finally:
            if not said.done():
                t = translator(where.language)
                said.set_result(t("Done."))

    async def tell_failed(self, entry: Entry) -> bool:
        activity = Activity.model_validate(entry.payload)
        where = where_of(activity)
        if not where.user_id or activity.type not in ("message", "invoke"):
            return False
        if isinstance(activity.value, dict) and viewed_of(activity.value) is not None:
            return False  # a card's refresh, asked by the client, not by the person: no notice
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

    async def _file_consent(self, activity: Activity) -> None:
        """The person accepted (or declined) a file Digilog offered: upload it, and say so."""
        where = where_of(activity)
        value = activity.value if isinstance(activity.value, dict) else {}
        answer = await answer_consent(
            self.store,
            self.messenger.connector.session,
            where,
            value,
            translator(where.language),
            # Plain http on loopback only where Teams itself is on loopback (the Agents
            # Playground, the tests' fake): OneDrive is https.
            loopback_ok=on_loopback(where.service_url),
        )
        if answer is not None:
            try:
                await self.messenger.connector.send(
                    where.service_url, where.conversation_id, answer
                )
            except ConnectorError as error:
                log.error("Teams refused the file's card: %s", error)

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
        await self._remember_together(
            Address(where.tenant_id, conversation, where.service_url, where.bot_id, user)
        )

    async def _remember_many(self, addresses: list[Address]) -> list[None]:
        # Each conversation once, as it was given last.
        latest = {(a.workspace, a.conversation_id): a for a in addresses}
        async with self.store.transaction() as repos:
            await repos.addresses.remember_many(PLATFORM, list(latest.values()))
        for key, a in latest.items():
            self._addresses[key] = (a.address, a.bot_id, a.user_id)
        return [None] * len(addresses)

    async def _refused(self, request: web.Request) -> web.Response | None:
        """None when the request's token is good (its claims kept on the request)."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            if self.auth.anonymous and _over_loopback(request):
                return None
            return web.json_response({"error": "no token"}, status=401)
        if scheme.lower() != "bearer" or not token.strip():
            return web.json_response({"error": "not a bearer token"}, status=401)
        try:
            identity = await self.auth.validator().validate_token(token.strip())
        except Exception as error:  # PyJWT's errors, ValueError, a key that cannot be fetched
            log.warning("Teams activity refused: %s", type(error).__name__)
            return web.json_response({"error": "invalid token"}, status=401)
        request[CLAIMS] = dict(identity.claims or {})
        return None


def _settle(activity: Activity, clicked: Clicked | None, failed: bool) -> None:
    """A click whose work is over without an answer still hears something: "Done." when
    Teams sent it again or it had nothing to say; when its work failed and is tried
    again, that the answer comes in the person's chat (as the retry's, or the notice that
    it did not go through, does)."""
    if clicked is not None:
        t = translator(where_of(activity).language)
        line = t("Digilog is on it: the answer comes in your chat.") if failed else t("Done.")
        clicked.give({"statusCode": 200, "type": INVOKE_MESSAGE, "value": line})


def _delivery_id(activity: Activity) -> str:
    """The activity's id for deduplication. Hashed: a fixed length whatever Teams' ids,
    and no chat id that names someone."""
    raw = activity.conversation.id if activity.conversation else ""
    return hashlib.sha256(f"{raw}:{activity.type}:{activity.id}".encode()).hexdigest()


def _greeting_id(activity: Activity) -> str:
    """The one greeting of a personal chat: the same for every activity that opens it."""
    raw = activity.conversation.id if activity.conversation else ""
    return hashlib.sha256(f"greeting:{tenant_of(activity)}:{raw}".encode()).hexdigest()


def _over_loopback(request: web.Request) -> bool:
    """The request came over this machine's loopback, both ends: whatever address the
    server was told to bind, a request from the network never arrives this way."""
    transport = request.transport
    if transport is None:
        return False
    ends = (transport.get_extra_info("sockname"), transport.get_extra_info("peername"))
    return all(isinstance(end, tuple) and is_loopback(str(end[0])) for end in ends)


def _opened_personally(activity: Activity) -> bool:
    """Digilog was added to someone's personal scope: the first opening of their chat."""
    conversation = activity.conversation
    if conversation is None or conversation.conversation_type != "personal":
        return False
    if activity.type == "installationUpdate":
        return activity.action in (None, "add", "add-upgrade")
    if activity.type == "conversationUpdate" and activity.recipient is not None:
        return any(m.id == activity.recipient.id for m in activity.members_added or [])
    return False


def _installed_in_a_team(activity: Activity) -> bool:
    """The app was added to a team (or the bot to its conversation)."""
    if activity.type == "installationUpdate":
        return activity.action in (None, "add", "add-upgrade")
    if activity.type == "conversationUpdate" and activity.recipient is not None:
        return any(m.id == activity.recipient.id for m in activity.members_added or [])
    return False


@dataclass
class TokenCheck:
    """What a token must say: issued to our app, by Microsoft (the Bot Framework or our
    tenant's Entra), and checked against the issuer list, which the SDK leaves optional.

    The SDK's validator lives in `microsoft_agents.hosting.core`, whose package brings
    some 360 modules (0.2–0.3 s of a start on a slow machine, bench/startup.py). It is
    loaded at the first token checked, as Microsoft's signing keys are fetched then."""

    app_id: str | None
    tenant_id: str | None
    anonymous: bool
    _validator: JwtTokenValidator | None = field(default=None, init=False, repr=False)

    def validator(self) -> JwtTokenValidator:
        if self._validator is None:
            from microsoft_agents.hosting.core import AgentAuthConfiguration, JwtTokenValidator

            configuration = AgentAuthConfiguration(
                client_id=self.app_id,
                tenant_id=self.tenant_id,
                anonymous_allowed=self.anonymous,
                validate_issuer=True,
            )
            self._validator = JwtTokenValidator(configuration)
        return self._validator
