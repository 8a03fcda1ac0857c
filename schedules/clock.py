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
    """Starts at `start` and runs `speed` times as fast: a calendar rehearsed in the console."""

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        self.start, self.speed = start, speed
        self._began = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._began) * self.speed)

    def jump(self, to: datetime) -> None:
        self.start, self._began = to, time.monotonic()
