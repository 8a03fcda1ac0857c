"""The sender: claims due delivery rows, asks the handlers what each says, sends it through
the platform's courier, and records the platform's message id. Any process may run one."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any, TypeVar

from handlers.core.deliveries import Drop, Send, SharedReads, Wait, compose
from handlers.core.vocabulary import (
    Conversation,
    Delivered,
    Message,
    Outgoing,
    ToConversation,
    ToGroup,
    ToPerson,
)
from handlers.digilog import Digilog
from handlers.nudges import unreachable as cannot_reach
from handlers.schedule import outage_begun
from schedules.clock import Clock
from schedules.courier import (
    EXPIRED,
    NO_ANSWER,
    Courier,
    OutcomeUnknown,
    Refused,
    TryLater,
)
from storage.models import Delivery
from storage.swedish import loaded_in_turns
from storage.unit import Store

log = logging.getLogger(__name__)

# A sender renews its lease on each row as it starts on it, and again while a call to the
# platform is under way, so the lease covers one message however slow the platform is;
# after it a dead sender's rows go to another. Every platform call times out well inside.
LEASE = timedelta(seconds=60)
# Retries follow the row's deadline, not a count: capped, jittered, doubling backoff.
FIRST_RETRY = timedelta(seconds=10)
LONGEST_RETRY = timedelta(minutes=5)
# A row with no deadline of its own (an alert, a notice) is tried this long.
NO_DEADLINE = timedelta(days=1)
# An outage that has kept a step's rows from going out this long is told to facilitators.
OUTAGE_NOTICE_AFTER = timedelta(minutes=1)

T = TypeVar("T")

# Where a row's message went, kept in its detail as it goes out (see `_where`).
WENT_TO = "went_to"


class _LostRow(Exception):
    """The row is no longer this sender's: another took it, or it went out in another
    row's message."""


class Sender:
    def __init__(
        self,
        store: Store,
        digilog: Digilog,
        courier: Courier,
        clock: Clock,
        *,
        worker: str,
        batch: int = 10,
        lease: timedelta = LEASE,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.store, self.digilog, self.courier, self.clock = store, digilog, courier, clock
        self.worker, self.batch, self.lease, self.jitter = worker, batch, lease, jitter
        # Cohorts whose platform said "not now" (an outage, a throttle), until when
        # (time.monotonic): their rows are not claimed meanwhile, rather than each being
        # claimed, composed and given back.
        self._held: dict[int, float] = {}
        # Steps this process has told facilitators about: no need to ask the database again.
        self._told: set[tuple[int, str]] = set()

    async def send_due(self, stop: asyncio.Event | None = None) -> int:
        """Send whatever is due until nothing is (or until stopped); returns rows handled."""
        handled = 0
        while not (stop and stop.is_set()) and (claimed := await self.claim()):
            reads = SharedReads()
            given_back: list[int] = []
            for n, delivery in enumerate(claimed):
                if stop and stop.is_set():
                    # Stopping: what was claimed but not begun goes back at once, rather
                    # than waiting for the lease to run out.
                    given_back += [d.id for d in claimed[n:]]
                    break
                if self._is_held(delivery.cohort_id):
                    # Its platform said not now: back, untouched, until the hold ends.
                    given_back.append(delivery.id)
                    continue
                await self.send(delivery, reads)
                handled += 1
            if given_back:
                async with self.store.transaction() as repos:
                    await repos.deliveries.release(given_back, self.worker)
        return handled

    def _is_held(self, cohort_id: int) -> bool:
        until = self._held.get(cohort_id)
        if until is None:
            return False
        if until <= time.monotonic():
            del self._held[cohort_id]
            return False
        return True

    def held_cohorts(self) -> list[int]:
        return [cohort_id for cohort_id in list(self._held) if self._is_held(cohort_id)]

    async def claim(self) -> list[Delivery]:
        async with self.store.transaction() as repos:
            return await repos.deliveries.claim(
                self.worker,
                self.clock.now(),
                self.lease,
                self.batch,
                not_cohorts=self.held_cohorts(),
            )

    async def run(self, stop: asyncio.Event, wake: asyncio.Event, poll_seconds: float) -> None:
        """Until stopped: send what is due, then sleep until woken or the next poll."""
        while not stop.is_set():
            wake.clear()  # before sending: a wake-up during the round starts another
            try:
                await self.send_due(stop)
            except Exception:  # the database away for a moment must not end the sender
                log.exception("sending due deliveries failed; trying again shortly")
            waiters = {asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())}
            _, pending = await asyncio.wait(
                waiters, timeout=poll_seconds, return_when=asyncio.FIRST_COMPLETED
            )
            for waiter in pending:
                waiter.cancel()

    async def send(self, claimed: Delivery, reads: SharedReads | None = None) -> None:
        """Compose, send and record one claimed row (unless it went to another sender)."""
        try:
            await self._send(claimed, reads)
        except _LostRow:
            log.info("delivery %s is no longer this sender's; leaving it", claimed.key)

    # Long on purpose: every outcome of a send, each recorded in its own way.
    async def _send(self, claimed: Delivery, reads: SharedReads | None) -> None:  # noqa: C901
        in_doubt = claimed.maybe_sent
        earlier = _went_to(claimed)
        if in_doubt and earlier is not None:
            # Whether it went out is settled before what it would say now: a row that
            # went out must not be dropped or put off because of what happened since.
            try:
                found = await self._extending(
                    claimed, self.courier.find(claimed.key, earlier, claimed.created_at)
                )
            except (TryLater, Refused, OutcomeUnknown) as trouble:
                await self._after_trouble(claimed, trouble, in_doubt=True)
                return
            if found is not None:
                log.info("delivery %s had gone out before; not sending it again", claimed.key)
                await self._sent(claimed, earlier, found.conversation_id, found.message_id)
                return
            in_doubt = False  # looked, and it is not there
        if self.digilog.features.composing_reads_text(claimed.kind):
            # Before its transaction, which would hold SQLite's write lock meanwhile.
            try:
                await loaded_in_turns()
            except Exception as error:  # composing loads it itself, and fails there if it must
                log.error("could not load the Swedish dictionary ahead: %r", error)
        now = self.clock.now()
        async with self.store.transaction() as repos:
            # The batch may have taken long enough for the lease on this row to run out
            # and another sender to take it: then it is that sender's, not ours.
            delivery = await repos.deliveries.held(claimed.id, self.worker)
            if delivery is None:
                raise _LostRow(claimed.key)
            decision = await compose(repos, delivery, now, self.digilog.features, reads)
            match decision:
                case Drop(reason=reason):
                    late = "too late" in reason or "no longer relevant" in reason
                    if delivery.trouble_since is not None and late:
                        # Trouble kept it from going out in time: a failure to report.
                        reason = f"{delivery.reason}; its deadline passed ({reason})"
                        if not await repos.deliveries.fail(
                            delivery.id, self.worker, reason, EXPIRED
                        ):
                            raise _LostRow(claimed.key)
                        return
                    if not await repos.deliveries.skip(delivery.id, self.worker, reason):
                        raise _LostRow(claimed.key)
                    return
                case Wait(until=until, reason=reason):
                    if not await repos.deliveries.postpone(
                        delivery.id, self.worker, until, reason, nothing_sent=not in_doubt
                    ):
                        raise _LostRow(claimed.key)
                    return
            # Where it goes is kept with the row: should this process die during the
            # call, the next sender looks there before anything else.
            delivery.detail = {**(delivery.detail or {}), WENT_TO: _where(decision.outgoing)}
            # Committed before the platform is called. Should another sender have taken
            # the row meanwhile, what composing it changed is rolled back.
            if not await repos.deliveries.about_to_send(delivery.id, self.worker, now + self.lease):
                raise _LostRow(claimed.key)
        assert isinstance(decision, Send)
        try:
            if in_doubt:
                # In doubt from before this row kept where it went: only a lookup that
                # answers settles that. Whatever else happens to it, the row stays in doubt.
                found = await self._extending(
                    claimed, self.courier.find(claimed.key, decision.outgoing, claimed.created_at)
                )
                if found is not None:
                    log.info("delivery %s had gone out before; not sending it again", claimed.key)
                    await self._sent(
                        claimed, decision.outgoing, found.conversation_id, found.message_id
                    )
                    return
                in_doubt = False  # looked, and it is not there
            sent = await self._extending(claimed, self.courier.send(claimed.key, decision.outgoing))
        except (TryLater, Refused, OutcomeUnknown) as trouble:
            await self._after_trouble(claimed, trouble, in_doubt=in_doubt)
        else:
            await self._sent(claimed, decision.outgoing, sent.conversation_id, sent.message_id)

    async def _after_trouble(
        self, claimed: Delivery, trouble: TryLater | Refused | OutcomeUnknown, *, in_doubt: bool
    ) -> None:
        """What the platform's trouble means for the row."""
        match trouble:
            case TryLater() as later:
                # Not now (a throttle, our own pacing, an outage before anything left):
                # later, same row, not a failed attempt. A row in doubt stays so.
                if later.whole:
                    self._hold(claimed.cohort_id, later.seconds)
                async with self.store.transaction() as repos:
                    await repos.deliveries.postpone(
                        claimed.id,
                        self.worker,
                        self.clock.now() + timedelta(seconds=later.seconds),
                        later.reason,
                        nothing_sent=not in_doubt,
                        trouble=later.trouble,
                        now=self.clock.now(),
                    )
                await self._maybe_tell(claimed, later.trouble)
            case Refused() as refused if refused.permanent:
                await self._fail(
                    claimed, refused.reason, refused.trouble, unreachable=refused.unreachable
                )
            case Refused() as refused:
                await self._retry(claimed, refused.reason, in_doubt, refused.trouble)
            case OutcomeUnknown() as unknown:
                await self._retry(claimed, str(unknown) or "no answer", True, NO_ANSWER)

    async def _extending(self, claimed: Delivery, call: Awaitable[T]) -> T:
        """Run a platform call, renewing the row's lease while it lasts: a slow answer
        must not let another sender take the row and send it too."""

        async def renew() -> None:
            every = self.lease.total_seconds() / 3
            while True:
                await asyncio.sleep(every)
                async with self.store.transaction() as repos:
                    held = await repos.deliveries.extend(
                        claimed.id, self.worker, self.clock.now() + self.lease
                    )
                if not held:
                    return

        renewing = asyncio.create_task(renew())
        try:
            return await call
        finally:
            renewing.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await renewing

    def _hold(self, cohort_id: int, seconds: float) -> None:
        self._held[cohort_id] = max(self._held.get(cohort_id, 0.0), time.monotonic() + seconds)

    async def _sent(
        self, delivery: Delivery, outgoing: Outgoing, conversation_id: str, message_id: str
    ) -> None:
        async with self.store.transaction() as repos:
            await repos.deliveries.mark_sent(
                delivery.id, self.worker, conversation_id, message_id, self.clock.now()
            )
        # An unknown id (a platform that cannot look a message up) is no thread to keep.
        if outgoing.receipt is not None and message_id and isinstance(outgoing.to, ToConversation):
            await self.digilog.delivered(
                Delivered(outgoing.receipt, outgoing.to.conversation, message_id)
            )

    def deadline(self, delivery: Delivery, now: datetime) -> datetime:
        """Until when the row is worth trying: its own relevance, else a day from its
        first trouble."""
        return delivery.relevant_until or ((delivery.trouble_since or now) + NO_DEADLINE)

    async def _retry(self, delivery: Delivery, reason: str, maybe_sent: bool, trouble: str) -> None:
        now = self.clock.now()
        ceiling = min(FIRST_RETRY * 2 ** min(delivery.attempts - 1, 20), LONGEST_RETRY)
        wait = ceiling * (0.5 + self.jitter() / 2)
        if now + wait >= self.deadline(delivery, now):
            await self._fail(delivery, f"{reason} (tried until its deadline)", trouble)
            return
        log.warning("delivery %s: %s; trying again in %s", delivery.key, reason, wait)
        async with self.store.transaction() as repos:
            await repos.deliveries.retry_at(
                delivery.id,
                self.worker,
                now + wait,
                reason,
                maybe_sent=maybe_sent,
                trouble=trouble,
                now=now,
            )
        await self._maybe_tell(delivery, trouble)

    async def _maybe_tell(self, delivery: Delivery, trouble: str) -> None:
        """An outage that has delayed a step for a while is told to its facilitators, once
        (the leader's sweep tells them when it is over)."""
        if trouble != NO_ANSWER or delivery.step is None:
            return
        told = (delivery.cohort_id, delivery.step)
        if told in self._told:
            return
        now = self.clock.now()
        async with self.store.transaction() as repos:
            row = await repos.session.get(Delivery, delivery.id, populate_existing=True)
            since = row.trouble_since if row is not None else None
            if since is None or now - since < OUTAGE_NOTICE_AFTER:
                return
            self._told.add(told)
            await outage_begun(repos, delivery, trouble, since, now)

    async def _fail(
        self, delivery: Delivery, reason: str, trouble: str, *, unreachable: bool = False
    ) -> None:
        log.error("delivery %s failed for good: %s", delivery.key, reason)
        async with self.store.transaction() as repos:
            await repos.deliveries.fail(delivery.id, self.worker, reason, trouble)
            if unreachable:
                await cannot_reach(repos, delivery, self.clock.now())


def _where(outgoing: Outgoing) -> dict[str, Any] | None:
    """Where a message goes, as JSON; None for where no sender posts (a reply, a home page)."""
    match outgoing.to:
        case ToConversation(conversation=conversation):
            kept = {"conversation": asdict(conversation)}
        case ToPerson() as person:
            kept = {"person": asdict(person)}
        case ToGroup() as group:
            kept = {"group": asdict(group)}
        case _:
            return None
    return {**kept, "receipt": outgoing.receipt}


def _went_to(delivery: Delivery) -> Outgoing | None:
    """Where the row's message went when it was last sent (as `_where` kept it): enough to
    look it up, with no words of its own."""
    kept = (delivery.detail or {}).get(WENT_TO)
    if not isinstance(kept, dict):
        return None
    to: ToConversation | ToPerson | ToGroup
    if "conversation" in kept:
        to = ToConversation(Conversation(**kept["conversation"]))
    elif "person" in kept:
        to = ToPerson(**kept["person"])
    elif "group" in kept:
        group = kept["group"]
        meet_in = Conversation(**group["meet_in"]) if group.get("meet_in") else None
        to = ToGroup(**{**group, "user_ids": tuple(group["user_ids"]), "meet_in": meet_in})
    else:
        return None
    return Outgoing(to, Message((), ""), kept.get("receipt"))
