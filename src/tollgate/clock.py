"""The one clock. Services and token checks ask it for the time; tests move it instead of
sleeping (joserfc and pyjwt take `now` the same way)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


def utcnow() -> datetime:
    """The wall clock, for code outside the services (CLI output, key rotation defaults)."""
    return datetime.now(UTC)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, aware UTC."""

    def timestamp(self) -> float:
        """The current instant in Unix seconds."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def timestamp(self) -> float:
        return time.time()


class MovableClock:
    """A clock that stands still until moved: for tests, and for replaying events."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self._now

    def timestamp(self) -> float:
        return self._now.timestamp()

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
