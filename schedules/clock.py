"""Where the time comes from: the system's, a rehearsal's (sped up, or starting elsewhere),
or a test's."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Protocol

from storage.models import utcnow


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return utcnow()


class RehearsalClock:
    """Starts at `start` and runs `speed` times as fast: a calendar rehearsed in the console.

    At speed 0 it stands still between `jump`s, so a transcript rehearsed twice runs
    through the same moments and says the same, byte for byte.
    """

    def __init__(self, start: datetime, speed: float = 0.0) -> None:
        self.start, self.speed = start, speed
        self._began = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._began) * self.speed)

    @property
    def frozen(self) -> bool:
        return self.speed == 0

    def jump(self, to: datetime) -> None:
        self.start, self._began = to, time.monotonic()
