"""Bounded, fair admission of commands: a fast "busy" beats a 30-second wait for a connection.

Each command asks for a place before it is acknowledged. Commands that write and commands that
only read have a lane each, because the database treats them differently: SQLite runs one
writer at a time beside any number of readers; PostgreSQL shares one connection pool, of which
the delivery worker and the SLA wake-up keep their own share. A lane runs a few commands at
once; the others wait, served in turn one person after another, so one person's script cannot
starve everyone else. Past the lane's waiting room, past what the lane can finish within
`max_wait` at its recent pace, or past one person's share, the answer is "busy" at once: the
decision is made before the platform's HTTP request is answered.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from storage.engine import is_sqlite

T = TypeVar("T")

BUSY = "Liaison is busy, try again in a few seconds."
# Connections every process keeps for its own work beside commands: the delivery worker, the
# SLA wake-up, the calendar jobs, and the inbox's one writer of accepted requests.
RESERVED_CONNECTIONS = 4
# SQLAlchemy's default pool: 5 connections plus 10 more under load.
POOL = 5 + 10
SQLITE_READERS = 4
SMOOTHING = 0.2
# What a command is assumed to take before any has finished (seconds).
PRIOR = 0.05


@dataclass(frozen=True)
class Limits:
    """How many commands run at once per lane, how many may wait, and one person's share."""

    writers: int
    readers: int
    waiting: int = 200
    per_user: int = 10
    # A command that would likely wait longer than this for its place is told "busy" now.
    max_wait: float = 2.0

    @classmethod
    def for_database(
        cls,
        url: str,
        *,
        writers: int = 0,
        readers: int = 0,
        waiting: int = 200,
        per_user: int = 10,
        max_wait: float = 2.0,
    ) -> Limits:
        """Limits sized to the database at `url`; a non-zero `writers` or `readers` wins."""
        if is_sqlite(url):
            # One writer at a time: more would only hold connections while queueing on the lock.
            auto_writers, auto_readers = 1, SQLITE_READERS
        else:
            share = POOL - RESERVED_CONNECTIONS
            auto_readers = share // 3
            auto_writers = share - auto_readers
        return cls(writers or auto_writers, readers or auto_readers, waiting, per_user, max_wait)


class Lane:
    """At most `running` commands at once; the rest wait, taken one person after another."""

    def __init__(
        self, name: str, running: int, waiting: int, per_user: int, max_wait: float = 2.0
    ) -> None:
        self.name = name
        self.limit = running
        self.room = waiting
        self.per_user = per_user
        self.max_wait = max_wait
        self.running = 0
        self.refused = 0
        # How long a command holds its place, smoothed over the last few (seconds).
        self.service = PRIOR
        self._queues: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()
        self._held: dict[str, int] = {}

    @property
    def waiting(self) -> int:
        """How many commands wait for a place."""
        return sum(len(q) for q in self._queues.values())

    def admit(self, user: str) -> Ticket | None:
        """A place in the lane for one of `user`'s commands, or None: busy (decided at once)."""
        if self.turns_away(user):
            return None
        self._held[user] = self._held.get(user, 0) + 1
        ticket = Ticket(self, user)
        if self.running < self.limit and not self._queues:
            self.running += 1
            ticket.granted.set_result(None)
        else:
            self._queues.setdefault(user, deque()).append(ticket.granted)
        return ticket

    def turns_away(self, user: str) -> bool:
        """Whether a command of `user`'s is refused now ("busy"), counted as refused; nothing
        is taken either way (`admit` takes the place)."""
        held = self._held.get(user, 0)
        if held >= self.per_user or (self.running >= self.limit and self._full()):
            self.refused += 1
            return True
        return False

    def _full(self) -> bool:
        # A full waiting room, or a queue that would take longer than max_wait to reach this
        # command at the pace commands have been finishing: a wait that long is worse than
        # "busy", and the platform's own deadline (Slack's answer, Discord's 15 minutes) looms.
        expected = (self.waiting + 1) * self.service / self.limit
        return self.waiting >= self.room or expected > self.max_wait

    def finished(self, seconds: float) -> None:
        """A command held its place this long: update the pace the queue is judged by."""
        self.service += (seconds - self.service) * SMOOTHING

    def _release(self, ticket: Ticket) -> None:
        left = self._held[ticket.user] - 1
        if left:
            self._held[ticket.user] = left
        else:
            del self._held[ticket.user]
        if ticket.granted.done() and not ticket.granted.cancelled():
            self.running -= 1
        else:
            self._withdraw(ticket)
        self._grant()

    def _withdraw(self, ticket: Ticket) -> None:
        queue = self._queues.get(ticket.user)
        if queue is not None and ticket.granted in queue:
            queue.remove(ticket.granted)
            if not queue:
                del self._queues[ticket.user]
        ticket.granted.cancel()

    def _grant(self) -> None:
        # Round robin: the person at the head gets one place, then goes to the back.
        while self.running < self.limit and self._queues:
            user, queue = next(iter(self._queues.items()))
            granted = queue.popleft()
            if queue:
                self._queues.move_to_end(user)
            else:
                del self._queues[user]
            if not granted.done():
                self.running += 1
                granted.set_result(None)


class Ticket:
    """One admitted command's place: wait for the turn, run, give the place back."""

    def __init__(self, lane: Lane, user: str) -> None:
        self.lane = lane
        self.user = user
        self.granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._released = False

    async def run(self, work: Awaitable[T]) -> T:
        """Wait for the turn, then run `work`; the place is given back however it ends."""
        try:
            await asyncio.shield(self.granted)
            start = time.monotonic()
            try:
                return await work
            finally:
                self.lane.finished(time.monotonic() - start)
        finally:
            self.release()
            if asyncio.iscoroutine(work):
                work.close()  # never started if the wait was cancelled: no "never awaited"

    def release(self) -> None:
        """Give the place back (once), also when the command never ran."""
        if not self._released:
            self._released = True
            self.lane._release(self)


class Intake:
    """The process's two lanes: commands that write, and commands that only read."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.writers = Lane(
            "write", limits.writers, limits.waiting, limits.per_user, limits.max_wait
        )
        self.readers = Lane(
            "read", limits.readers, limits.waiting, limits.per_user, limits.max_wait
        )

    def admit(self, user: str, *, read_only: bool) -> Ticket | None:
        """A place for a command of `user`'s, or None when Liaison is busy."""
        return self.lane(read_only).admit(user)

    @property
    def crowded(self) -> bool:
        """Whether either lane runs all it may: only then can a command be refused for
        anything but its person's share."""
        return any(lane.running >= lane.limit for lane in (self.readers, self.writers))

    def lane(self, read_only: bool) -> Lane:
        """The lane of commands that only read, or of those that may write."""
        return self.readers if read_only else self.writers
