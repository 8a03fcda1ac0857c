"""The sender: claims due delivery rows, asks the handlers what each says, sends it through
the platform's courier, and records the platform's message id. Any process may run one."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from handlers.deliveries import Drop, Send, SharedReads, Wait, compose
from handlers.digilog import Digilog
from handlers.nudges import unreachable as cannot_reach
from handlers.vocabulary import Delivered, Outgoing, ToConversation
from schedules.clock import Clock
from schedules.courier import Courier, OutcomeUnknown, Refused, Sent, TryLater
from storage.models import Delivery
from storage.unit import Store

log = logging.getLogger(__name__)

# A sender renews its lease on each row as it starts on it, so the lease covers one
# message (pacing, a slow answer), not a whole batch; after it a dead sender's rows
# go to another.
LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 5
FIRST_RETRY = timedelta(seconds=10)


class _LostRow(Exception):
    """Another sender took the row while this one composed it."""


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
    ) -> None:
        self.store, self.digilog, self.courier, self.clock = store, digilog, courier, clock
        self.worker, self.batch, self.lease = worker, batch, lease

    async def send_due(self, stop: asyncio.Event | None = None) -> int:
        """Send whatever is due until nothing is (or until stopped); returns rows handled."""
        handled = 0
        while not (stop and stop.is_set()) and (claimed := await self.claim()):
            reads = SharedReads()
            for n, delivery in enumerate(claimed):
                if stop and stop.is_set():
                    # Stopping: what was claimed but not begun goes back at once, rather
                    # than waiting for the lease to run out.
                    async with self.store.transaction() as repos:
                        await repos.deliveries.release([d.id for d in claimed[n:]], self.worker)
                    break
                await self.send(delivery, reads)
                handled += 1
        return handled

    async def claim(self) -> list[Delivery]:
        async with self.store.transaction() as repos:
            return await repos.deliveries.claim(
                self.worker, self.clock.now(), self.lease, self.batch
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
            log.warning("delivery %s went to another sender; leaving it", claimed.key)

    # Long on purpose: every outcome of a send, each recorded in its own way.
    async def _send(self, claimed: Delivery, reads: SharedReads | None) -> None:  # noqa: C901
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
                    if not await repos.deliveries.skip(delivery.id, self.worker, reason):
                        raise _LostRow(claimed.key)
                    return
                case Wait(until=until, reason=reason):
                    if not await repos.deliveries.postpone(delivery.id, self.worker, until, reason):
                        raise _LostRow(claimed.key)
                    return
            # Committed before the platform is called. Should another sender have taken
            # the row meanwhile, what composing it changed is rolled back.
            if not await repos.deliveries.about_to_send(delivery.id, self.worker, now + self.lease):
                raise _LostRow(claimed.key)
        assert isinstance(decision, Send)
        try:
            sent = await self._look_then_send(claimed, decision.outgoing)
        except TryLater as later:
            async with self.store.transaction() as repos:
                await repos.deliveries.postpone(
                    claimed.id,
                    self.worker,
                    self.clock.now() + timedelta(seconds=later.seconds),
                    later.reason,
                    # Slack said not now; a row in doubt before stays in doubt (it may
                    # have been the lookup that was refused).
                    nothing_sent=not claimed.maybe_sent,
                )
        except Refused as refused:
            if refused.unreachable:
                await self._fail(claimed, refused.reason, unreachable=True)
            elif refused.permanent:
                await self._fail(claimed, refused.reason)
            else:
                await self._retry(claimed, refused.reason, False)
        except OutcomeUnknown as unknown:
            await self._retry(claimed, str(unknown) or "no answer", True)
        else:
            await self._sent(claimed, decision, sent.conversation_id, sent.message_id)

    async def _look_then_send(self, claimed: Delivery, outgoing: Outgoing) -> Sent:
        """A row that may have gone out already is looked for on the platform first."""
        if claimed.maybe_sent:
            found = await self.courier.find(claimed.key, outgoing, claimed.created_at)
            if found is not None:
                log.info("delivery %s had gone out before; not sending it again", claimed.key)
                return found
        return await self.courier.send(claimed.key, outgoing)

    async def _sent(
        self, delivery: Delivery, decision: Send, conversation_id: str, message_id: str
    ) -> None:
        async with self.store.transaction() as repos:
            await repos.deliveries.mark_sent(
                delivery.id, self.worker, conversation_id, message_id, self.clock.now()
            )
        outgoing = decision.outgoing
        # An unknown id (a platform that cannot look a message up) is no thread to keep.
        if outgoing.receipt is not None and message_id and isinstance(outgoing.to, ToConversation):
            await self.digilog.delivered(
                Delivered(outgoing.receipt, outgoing.to.conversation, message_id)
            )

    async def _retry(self, delivery: Delivery, reason: str, maybe_sent: bool) -> None:
        if delivery.attempts >= MAX_ATTEMPTS:
            await self._fail(delivery, reason)
            return
        wait = FIRST_RETRY * 2 ** (delivery.attempts - 1)
        log.warning("delivery %s: %s; trying again in %s", delivery.key, reason, wait)
        async with self.store.transaction() as repos:
            await repos.deliveries.retry_at(
                delivery.id, self.worker, self.clock.now() + wait, reason, maybe_sent=maybe_sent
            )

    async def _fail(self, delivery: Delivery, reason: str, *, unreachable: bool = False) -> None:
        log.error("delivery %s failed for good: %s", delivery.key, reason)
        async with self.store.transaction() as repos:
            await repos.deliveries.fail(delivery.id, self.worker, reason)
            if unreachable:
                await cannot_reach(repos, delivery, self.clock.now())
