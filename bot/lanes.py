"""Interactive replies in lanes, one per destination: a 429 holds only its own lane.

A lane is a destination the platform limits on its own: a person (their replies, in
the order they were made), a channel, a group. Sends in one lane go one after another;
lanes run side by side, at most `concurrency` calls at once. When the platform answers
a call with 429 and Retry-After, that lane waits that long and tries the same call
again; the worker that did the work has long moved on, and every other lane keeps
going. Scheduled posts do not come here: they have the outbox and its couriers.

The holds and any limits per lane are kept by the limiter that paces the outbox's
couriers (`Windows`, bot/pace.py), under the kind "lane": one limiter, in one place.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bot.pace import Clock, Limit, Sleep, Windows
from handlers.core.vocabulary import Outgoing, ToConversation, ToGroup, ToPerson

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_HOLD = 300.0  # seconds of Retry-After one send may wait in all before it fails


class Throttled(Exception):
    """The platform said: not now, try again in `seconds` (HTTP 429, Retry-After)."""

    def __init__(self, seconds: float, detail: str = "") -> None:
        super().__init__(f"rate limited for {seconds:g} s {detail}".strip())
        self.seconds = max(0.0, seconds)


LANE = "lane"  # the kind of a reply lane's key in the limiter


@dataclass
class _Lane:
    # Each send with the context it was queued in: its calls log under its request's id.
    queue: deque[tuple[Callable[[], Awaitable[Any]], asyncio.Future[Any], contextvars.Context]] = (
        field(default_factory=deque)
    )
    task: asyncio.Task[None] | None = None
    # The context the lane's task runs in: that of the send that started it, which then
    # needs no task of its own (one task less per click).
    context: contextvars.Context | None = None


class Lanes:
    def __init__(
        self,
        concurrency: int = 16,
        max_hold: float = MAX_HOLD,
        limits: Sequence[Limit] = (),
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """`limits`: how many sends any one lane may make in a window (none by default:
        the platform's 429 says when to stop)."""
        self._lanes: dict[Hashable, _Lane] = {}
        self._slots = asyncio.Semaphore(concurrency)
        self._max_hold = max_hold
        self.windows = Windows({LANE: tuple(limits)}, clock=clock, sleep=sleep)

    def send(self, lane: Hashable, call: Callable[[], Awaitable[T]]) -> asyncio.Future[T]:
        """Queue `call` in `lane`; the future has its result (or its final error)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        state = self._lanes.get(lane)
        if state is None:
            state = self._lanes[lane] = _Lane()
        context = contextvars.copy_context()
        state.queue.append((call, future, context))
        if state.task is None:
            state.context = context
            state.task = asyncio.create_task(self._run(lane, state), context=context)
        return future

    def held(self) -> list[Hashable]:
        """The lanes waiting out a Retry-After now."""
        return [key for key in self.windows.holding(LANE) if key in self._lanes]

    async def _run(self, key: Hashable, lane: _Lane) -> None:
        try:
            while lane.queue:
                call, future, context = lane.queue[0]
                waited = 0.0
                while True:
                    # Waits out the lane's hold (and its limits, if it has any).
                    await self.windows.turn(((LANE, key),))
                    try:
                        async with self._slots:
                            if context is lane.context:
                                result = await call()
                            else:
                                result = await asyncio.create_task(_run(call), context=context)
                    except Throttled as throttled:
                        waited += throttled.seconds
                        if waited > self._max_hold:
                            _settle(future, error=throttled)
                            break
                        # Not the lane's key: it names a person or a channel.
                        log.info("a lane is held for %g s", throttled.seconds)
                        self.windows.hold((LANE, key), throttled.seconds)
                        continue
                    except Exception as error:
                        _settle(future, error=error)
                    else:
                        _settle(future, result=result)
                    break
                lane.queue.popleft()
        finally:
            for _, future, _ in lane.queue:  # cancelled (shutting down): nothing more goes out
                future.cancel()
            self._lanes.pop(key, None)


async def _run(call: Callable[[], Awaitable[T]]) -> T:
    return await call()


def _settle(
    future: asyncio.Future[Any], *, result: Any = None, error: BaseException | None = None
) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


async def all_sent(futures: list[asyncio.Future[Any]]) -> None:
    """Wait for every send; then raise the first failure, if any (the others went)."""
    results = await asyncio.gather(*futures, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


def lane_of(platform: str, workspace: str, actor: str | None, item: Outgoing) -> Hashable:
    """The lane a reply goes in: one per conversation (platforms limit posts per channel),
    per person and per group; a reply to the one who acted keeps its order in theirs."""
    match item.to:
        case ToConversation(conversation=conversation):
            return (platform, workspace, "conversation", conversation.conversation_id)
        case ToPerson(user_id=user_id):
            return (platform, workspace, "person", user_id)
        case ToGroup(user_ids=user_ids):
            return (platform, workspace, "group", tuple(sorted(user_ids)))
    return (platform, workspace, "person", actor)
