"""Where every "now" comes from, so tests can run weeks of time in milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Source of the current instant (always timezone-aware, UTC)."""

    def now(self) -> datetime:
        """Return the current instant in UTC."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        """Return the current instant in UTC."""
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when a test moves it."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start")

    def now(self) -> datetime:
        """Return the fake current instant."""
        return self._now

    def advance(self, by: timedelta) -> datetime:
        """Move time forward by `by` and return the new instant."""
        self._now += by
        return self._now

    def set(self, at: datetime) -> None:
        """Jump to an instant (which must be timezone-aware)."""
        if at.tzinfo is None:
            raise ValueError("FakeClock.set needs a timezone-aware instant")
        self._now = at.astimezone(UTC)
