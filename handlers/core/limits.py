"""Commands per person: a person who floods Digilog with commands is slowed down, and
nobody else notices. Kept in memory, per process: it protects the process at hand. The
console has one person at its keyboard (and scripts piped into it): it is not counted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

Key = tuple[str, str, str]  # platform, workspace, user id


@dataclass
class PerPerson:
    """A token bucket each: `burst` commands at once, then one per `per_minute`th of a
    minute. Buttons are not counted: a quiz is answered click by click."""

    per_minute: float = 60.0
    burst: float = 20.0
    _buckets: dict[Key, tuple[float, datetime]] = field(default_factory=dict)

    def wait(self, key: Key, now: datetime) -> float:
        """0 if the person may go ahead (and it is counted); else the seconds to wait."""
        tokens, since = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - since).total_seconds() * self.per_minute / 60)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return (1 - tokens) * 60 / self.per_minute
        self._buckets[key] = (tokens - 1, now)
        if len(self._buckets) > 10_000:
            self._forget_idle(now)
        return 0.0

    def _forget_idle(self, now: datetime) -> None:
        """People whose bucket has filled up again are as if never seen."""
        full = self.burst * 60 / self.per_minute
        self._buckets = {
            k: v for k, v in self._buckets.items() if (now - v[1]).total_seconds() < full
        }
