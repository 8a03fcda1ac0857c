"""Pacing every call to a platform: sliding windows per lane, holds for Retry-After and
outages. One `Pacer` per process and platform, shared by everything in the process that
calls that platform (the scheduled senders). The interactive replies' lanes
(bot/lanes.py) hold and pace their lanes with the same `Windows`: one limiter in one
place.

A lane is a key `(kind, id)`: `("tier3", "T123")` is workspace T123's Tier 3 methods,
`("channel", "C9")` one channel, `("tenant", "…")` a Teams tenant. `Limit`s per kind say
how many turns any `seconds` may hold. A call takes a turn in every lane it belongs to
(a post: its workspace's post lane and its channel), waiting until each allows one more.

Two kinds of hold stop a lane for a while:

- **Retry-After.** The platform answered 429: the lane it throttled is held for as long as
  it asked, so no call of that lane, lookups included, goes sooner.
- **An outage.** The platform did not answer (a timeout, a dropped connection, HTTP 5xx):
  the whole workspace is held with a capped, jittered backoff that grows while the outage
  lasts and resets on the first answer. Without it every sender would push row after row
  into an outage, each becoming a row in doubt that must be looked up afterwards.

A wait longer than a caller's `longest` raises `TryLater` rather than sleeping: a
scheduled row goes back to the outbox, due again when the lane frees, instead of holding
the sender and its lease. Asyncio only; the clock, sleep and jitter are injectable.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass

from schedules.courier import NO_ANSWER, RATE_LIMITED, TryLater

# (kind, id): the kind names the limits; the id is a workspace, a channel, or a reply
# lane's own key (bot/lanes.py).
Key = tuple[str, Hashable]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

OUTAGE_FIRST = 1.0  # the first hold after the platform did not answer, in seconds
OUTAGE_CAP = 10.0  # the longest: an outage is probed at least this often


@dataclass(frozen=True)
class Limit:
    """At most `most` turns in any `seconds`."""

    most: int
    seconds: float


class Busy(TryLater):
    """The lane is held or full for longer than the caller would wait; nothing was sent."""

    def __init__(self, seconds: float, reason: str, *, outage: bool = False) -> None:
        super().__init__(seconds, reason, NO_ANSWER if outage else RATE_LIMITED, whole=outage)
        self.outage = outage


class Windows:
    """Sliding windows: a turn for some keys waits until every limit of every key allows
    one more, then counts in each.

    Each key keeps the times of its last turns (as many as its largest limit needs): a
    limit of `most` in `seconds` is full while the `most`-th last turn is younger than
    `seconds`, and frees when it ages out.
    """

    SWEEP_EVERY = 1024  # turns between forgetting keys that have been idle a long while

    def __init__(
        self,
        limits: Mapping[str, Sequence[Limit]],
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.limits = {kind: tuple(given) for kind, given in limits.items()}
        self.clock, self.sleep = clock, sleep
        self._turns: dict[Key, deque[float]] = {}
        self._held: dict[Key, float] = {}  # key → held until (a throttle's Retry-After)
        self._since_sweep = 0

    def delay(self, keys: Sequence[Key]) -> float:
        """Seconds until every key allows one more turn (0: now)."""
        now = self.clock()
        return max((self._delay(key, now) for key in keys), default=0.0)

    def _delay(self, key: Key, now: float) -> float:
        wait = self._held.get(key, now) - now
        turns = self._turns.get(key)
        if turns:
            for limit in self.limits.get(key[0], ()):
                if len(turns) >= limit.most:
                    wait = max(wait, turns[-limit.most] + limit.seconds - now)
        return max(wait, 0.0)

    async def turn(
        self, keys: Sequence[Key], longest: float = math.inf, reason: str = "paced"
    ) -> None:
        """Wait for a turn that every key allows, and take it. A wait longer than
        `longest` raises Busy with it instead (nothing is taken)."""
        while (wait := self.delay(keys)) > 0:
            if wait > longest:
                raise Busy(wait, reason)
            await self.sleep(wait)
        # No await since the last delay(): no other task took a turn in between.
        now = self.clock()
        for key in keys:
            if key not in self._turns:
                most = max((limit.most for limit in self.limits.get(key[0], ())), default=1)
                self._turns[key] = deque(maxlen=most)
            self._turns[key].append(now)
        self._since_sweep += 1
        if self._since_sweep >= self.SWEEP_EVERY:
            self._sweep(now)

    def hold(self, key: Key, seconds: float) -> None:
        """No turn for the key for `seconds` from now."""
        self._held[key] = max(self._held.get(key, 0.0), self.clock() + seconds)

    def held(self, key: Key) -> float:
        """Seconds the key is still held for (0: not held)."""
        return max(float(self._held.get(key, 0.0)) - self.clock(), 0.0)

    def holding(self, kind: str) -> list[Hashable]:
        """The ids of `kind` held now."""
        now = self.clock()
        return [key[1] for key, until in self._held.items() if key[0] == kind and until > now]

    def _sweep(self, now: float) -> None:
        """Forget the keys whose turns have all aged out of every window: a fan-out to
        2,500 people leaves a key for each of their chats behind."""
        self._since_sweep = 0
        for key, turns in list(self._turns.items()):
            span = max((limit.seconds for limit in self.limits.get(key[0], ())), default=0.0)
            if not turns or turns[-1] + span <= now:
                del self._turns[key]
        for key, until in list(self._held.items()):
            if until <= now:
                del self._held[key]


OUTAGE = "outage"


class Pacer:
    """The windows of one platform plus outage holds per workspace (or tenant)."""

    def __init__(
        self,
        limits: Mapping[str, Sequence[Limit]],
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        outage_first: float = OUTAGE_FIRST,
        outage_cap: float = OUTAGE_CAP,
    ) -> None:
        self.windows = Windows(limits, clock=clock, sleep=sleep)
        self.jitter, self.outage_first, self.outage_cap = jitter, outage_first, outage_cap
        self._failures: dict[str, int] = {}  # workspace → calls in a row it did not answer

    async def turn(
        self, workspace: str, keys: Sequence[Key], longest: float = math.inf, reason: str = ""
    ) -> None:
        """A turn in `keys`, unless the workspace is held for an outage longer than
        `longest` (then Busy, marked as an outage)."""
        down = self.windows.held((OUTAGE, workspace))
        if down > longest:
            raise Busy(down, "the platform did not answer", outage=True)
        await self.windows.turn(((OUTAGE, workspace), *keys), longest, reason or "paced")

    def retry_after(self, key: Key, seconds: float) -> None:
        """The platform answered 429 for this lane: nothing in it for `seconds`."""
        self.windows.hold(key, seconds)

    def answered(self, workspace: str) -> None:
        """The platform answered (whatever it said): any outage is over."""
        self._failures.pop(workspace, None)

    def no_answer(self, workspace: str) -> float:
        """The platform did not answer: hold the workspace, longer the longer it lasts
        (capped; jittered so that processes do not probe in step). Returns the hold."""
        failures = self._failures.get(workspace, 0) + 1
        self._failures[workspace] = failures
        ceiling = min(self.outage_cap, self.outage_first * 2.0 ** (failures - 1))
        seconds = ceiling * (0.5 + self.jitter() / 2)
        self.windows.hold((OUTAGE, workspace), seconds)
        return seconds

    def down_for(self, workspace: str) -> float:
        return self.windows.held((OUTAGE, workspace))
