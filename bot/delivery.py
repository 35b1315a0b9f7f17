"""The delivery worker: takes notifications from the outbox and sends them through the adapters.

Lanes: each destination (a channel, a person's DM) on each platform is a lane whose deliveries go
out one at a time, in the order they were written; different lanes go out concurrently, so a
slow or rate-limited destination delays only itself. Each send holds a short lease, renewed
while the call runs, and carries a key the platform can de-duplicate on (`SendKey`): a send
whose outcome is unknown (its answer was lost, or its sender died) is looked for before it is
sent again. Transient failures come back with backoff; permanent ones are kept with their reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.logs import redact
from bot.tasks import Spawner
from commands.core.clock import Clock
from commands.core.messages import Message, PersonRef, person_from_dict
from storage import outbox
from storage.engine import reading
from storage.models import Channel, DeliveryStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Destination:
    """Where one delivery goes on one platform."""

    channel: str | None
    person: PersonRef | None
    address: str


class DeliveryError(Exception):
    """A send that did not work; `permanent` ones are not retried."""

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        waiting: bool = False,
        unsure: bool = False,
        looking: bool = False,
        code: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        # The platform's own word for the error ("channel_not_found", "50007", "503"), or
        # "unreachable" when no answer came; None for what is not the platform's error.
        self.code = code
        self.permanent = permanent
        self.retry_after = retry_after
        # Waiting for another message to arrive first is not a failed attempt.
        self.waiting = waiting
        # The call may have reached the platform (a timeout, a 5xx): look before sending again.
        self.unsure = unsure
        # Only looking for an earlier attempt failed: nothing was sent, so no attempt is spent
        # (a delivery whose outcome is unknown is never given up while it cannot be looked for).
        self.looking = looking


@dataclass(frozen=True)
class Outcome:
    """What became of one delivery attempt: for the log line and whoever counts (the metrics).

    `outcome` is one of OUTCOMES; `code` is the platform's error code when it answered one.
    """

    delivery_id: int
    key: str
    platform: str
    outcome: str
    attempt: int
    code: str | None = None


# waiting: held back for a message in another lane to go first (no attempt spent).
OUTCOMES = ("delivered", "skipped", "retry", "waiting", "failed")


@dataclass(frozen=True)
class SendKey:
    """What a platform can de-duplicate a send on: the notification's key, when it was written
    (no copy of it is older), and whether an earlier attempt may already have arrived."""

    key: str
    since: datetime
    unsure: bool = False


class NoAddress(Exception):
    """Nowhere to send on this platform (the channel or person has no id there): skipped."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Sender(Protocol):
    """An adapter's sending side."""

    platform: str
    # The platform's limit per destination: one message every `pace` seconds, with bursts of
    # `burst` messages; every replica honours it through the outbox's lanes.
    pace: float
    burst: int

    def channel_address(self, channel: Channel) -> str | None:
        """The platform's id for a logical channel, or None if it has none there."""
        ...

    def person_address(self, person: PersonRef) -> str | None:
        """The platform's id to DM a person, or None if they have none there."""
        ...

    async def send(
        self,
        to: Destination,
        message: Message,
        *,
        late: bool,
        thread: str | None = None,
        once: SendKey | None = None,
    ) -> str | None:
        """Post a message (in the thread of message `thread`, if given); return its reference.

        With `once`, the post carries the key so the platform (or a look first, when `unsure`)
        keeps a repeated send from showing twice.
        """
        ...

    async def edit(self, ref: str, to: Destination, message: Message) -> str | None:
        """Replace a posted message in place; return its (possibly new) reference."""
        ...


def backoff(attempt: int, first: float = 2.0) -> timedelta:
    """How long to wait before attempt `attempt + 1`: `first` (2 s), then double, at most 5 min."""
    return timedelta(seconds=min(first * 2 ** (attempt - 1), 300))


class DeliveryWorker:
    """Sends due deliveries lane by lane for a set of senders; wake it after outbox writes."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        senders: Sequence[Sender],
        *,
        poll_interval: float = 5.0,
        max_attempts: int = 8,
        lanes: int = 64,
        lease: timedelta = outbox.LEASE,
        tasks: Spawner | None = None,
        first_backoff: float = 2.0,
        settle: float = 0.05,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.senders = list(senders)
        self.poll_interval = poll_interval
        self.max_attempts = max_attempts
        # How many lanes of one platform this process sends to at once.
        self.lanes = lanes
        self.lease = lease
        self.tasks = tasks or Spawner()
        # The first retry's wait after a transient failure; each next one doubles.
        self.first_backoff = first_backoff
        # Sends that end close together are followed by one claim, not one each.
        self.settle = settle
        self._changed = asyncio.Event()
        # The worker's own writes queue here, in order: dozens of lanes finishing at once would
        # otherwise all wait on SQLite's busy handler, which is not fair and can time out.
        self._writing = asyncio.Lock()
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._platform_of: dict[int, str] = {}
        self._stopping = False
        self._renewed = time.monotonic()
        # When lanes this process paced or put off open again (monotonic seconds, a heap).
        self._openings: list[float] = []
        # When the last pass of `run_forever` ended without an error (monotonic seconds): a
        # readiness check asks how long ago that was.
        self.last_pass: float | None = None
        # Told about every delivery attempt's outcome (the runtime's metrics).
        self.observers: list[Callable[[Outcome], None]] = []

    def wake(self) -> None:
        """Ask for a delivery pass now (new rows were committed)."""
        self._changed.set()

    async def run_forever(self) -> None:
        """Deliver whenever woken, as lanes open, and every poll interval for other replicas'
        rows; returns once `stop()` is called."""
        while not self._stopping:
            self._changed.clear()
            try:
                if not await self._fill():
                    await self._watch_leases()
                await self._renew_if_due()
                self.last_pass = time.monotonic()
            except Exception:
                log.exception("delivery pass failed; trying again shortly")
                await asyncio.sleep(1.0)
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for drops a cancellation that
            # arrives as the wake-up does, and closing the runtime then waits for ever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._rest()):
                    await self._changed.wait()
            await asyncio.sleep(self.settle)

    async def drain(self) -> int:
        """Send everything due now on every platform, lane by lane; return how many deliveries
        this call started (those other passes started are waited for too)."""
        handled = 0
        while True:
            started = await self._fill()
            handled += started
            if not started and not self._inflight:
                return handled
            if self._inflight:
                await asyncio.wait(
                    list(self._inflight.values()),
                    timeout=self.lease.total_seconds() / 3,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                await self._renew_if_due()

    async def stop(self, grace: float = 5.0) -> int:
        """Stop claiming, let sends in flight finish for up to `grace` seconds, then hand the
        rest back to the outbox for the next sender; return how many were handed back."""
        self._stopping = True
        self._changed.set()
        tasks = list(self._inflight.values())
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
        held = list(self._inflight)
        for task in self._inflight.values():
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        async with self._writing:
            returned = await outbox.release(self.sessions, held, self.clock.now())
        if returned:
            log.warning("handed %d deliveries in flight back to the outbox", returned)
        return returned

    def _rest(self) -> float:
        """How long to sleep: until a known lane opens, a lease needs renewing, or a poll."""
        rest = self.poll_interval
        if self._inflight:
            rest = min(rest, self.lease.total_seconds() / 3)
        now = time.monotonic()
        while self._openings and self._openings[0] <= now:
            heapq.heappop(self._openings)
        if self._openings:
            rest = min(rest, self._openings[0] - now)
        return rest

    def _opens_in(self, seconds: float) -> None:
        heapq.heappush(self._openings, time.monotonic() + seconds)

    async def _fill(self) -> int:
        """Claim the heads of open lanes, up to `lanes` in flight per platform, and start them."""
        started = 0
        for sender in self.senders:
            busy = sum(1 for p in self._platform_of.values() if p == sender.platform)
            room = self.lanes - busy
            if room <= 0 or self._stopping:
                continue
            burst = timedelta(seconds=sender.pace * max(sender.burst - 1, 0))
            async with self._writing:
                batch = await outbox.claim(
                    self.sessions,
                    sender.platform,
                    self.clock.now(),
                    lease=self.lease,
                    limit=room,
                    allowance=burst,
                )
            for claimed in batch:
                if claimed.delivery_id in self._inflight:
                    # Its lease lapsed while its call still runs here (a stalled loop): the
                    # claim renewed it; a second send of it must not start.
                    continue
                self._platform_of[claimed.delivery_id] = sender.platform
                self._inflight[claimed.delivery_id] = self.tasks.spawn(
                    self._run_one(sender, claimed), name=f"delivery {claimed.key}"
                )
            started += len(batch)
        return started

    async def _watch_leases(self) -> None:
        """Wake when a lease held elsewhere lapses (a sender that died is taken over at once),
        and when a delivery held for its recipient's working hours may go."""
        now = self.clock.now()
        for sender in self.senders:
            lapse = await outbox.next_lapse(self.sessions, sender.platform)
            if lapse is not None:
                self._opens_in(max((lapse - now).total_seconds(), 0.0) + 0.05)
        released = await self.next_release()
        if released is not None:
            self._opens_in(max((released - now).total_seconds(), 0.0) + 0.05)

    async def next_release(self) -> datetime | None:
        """When the first delivery held for later (`not_before`) may go, on any platform."""
        now = self.clock.now()
        found = [await outbox.next_release(self.sessions, s.platform, now) for s in self.senders]
        return min((f for f in found if f is not None), default=None)

    async def _renew_if_due(self) -> None:
        if not self._inflight:
            self._renewed = time.monotonic()
            return
        if time.monotonic() - self._renewed < self.lease.total_seconds() / 3:
            return
        self._renewed = time.monotonic()
        async with self._writing:
            await outbox.renew(self.sessions, list(self._inflight), self.clock.now() + self.lease)

    async def _run_one(self, sender: Sender, claimed: outbox.Claimed) -> None:
        try:
            await self._deliver(sender, claimed)
        except Exception:
            # Recording the outcome failed (the database): the lease lapses, and the next
            # claim of this delivery looks for the message before sending it again.
            log.exception("delivering %s failed; it is taken up again shortly", claimed.key)
        finally:
            self._inflight.pop(claimed.delivery_id, None)
            self._platform_of.pop(claimed.delivery_id, None)
            self._changed.set()

    async def _deliver(self, sender: Sender, claimed: outbox.Claimed) -> None:
        if claimed.edit_of is not None:
            async with reading(self.sessions) as session:
                stale = await outbox.superseded(session, claimed)
        else:
            stale = False
        if stale:
            # A newer version of the card is queued behind this one: only the newest is shown.
            async with self._writing:
                await outbox.mark_failed(
                    self.sessions, claimed.delivery_id, "superseded by a newer edit", skipped=True
                )
            self._outcome(claimed, "skipped", why="superseded by a newer edit")
            return
        message = Message.from_dict(claimed.payload)
        try:
            to = await self._destination(sender, claimed)
        except NoAddress as exc:
            async with self._writing:
                await outbox.mark_failed(
                    self.sessions, claimed.delivery_id, exc.reason, skipped=True
                )
            self._outcome(claimed, "skipped", why=exc.reason)
            return
        began = self.clock.now()
        try:
            ref = await self._send_or_edit(sender, claimed, to, message)
        except DeliveryError as exc:
            await self._failed(claimed, exc)
            return
        except Exception as exc:
            log.exception("sending %s to %s failed", claimed.key, sender.platform)
            await self._failed(claimed, DeliveryError(f"{type(exc).__name__}: {exc}", unsure=True))
            return
        pace = timedelta(seconds=sender.pace) if sender.pace else None
        # The lane's slot was taken when the message left, not when its answer came back.
        async with self._writing:
            await outbox.mark_delivered(
                self.sessions,
                claimed.delivery_id,
                ref,
                self.clock.now(),
                pace=pace,
                paced_from=began,
            )
        self._outcome(claimed, "delivered", why=f"ref {ref}" if ref else "")
        if sender.pace:
            opens = (began - self.clock.now()).total_seconds() + sender.pace
            self._opens_in(max(opens, 0.0))

    async def _destination(self, sender: Sender, claimed: outbox.Claimed) -> Destination:
        """Where to send on this platform; NoAddress says why there is nowhere."""
        if claimed.channel is not None:
            async with reading(self.sessions) as session:
                channel = await session.scalar(
                    select(Channel).where(Channel.name == claimed.channel)
                )
            address = sender.channel_address(channel) if channel else None
            if address is None:
                raise NoAddress(
                    f"channel {claimed.channel!r} has no {sender.platform} id configured"
                )
            return Destination(claimed.channel, None, address)
        person = person_from_dict(claimed.payload["to"]) if "to" in claimed.payload else None
        address = sender.person_address(person) if person else None
        if address is None or person is None:
            raise NoAddress(f"person {claimed.person_id} has no {sender.platform} account")
        return Destination(None, person, address)

    async def _send_or_edit(
        self, sender: Sender, claimed: outbox.Claimed, to: Destination, message: Message
    ) -> str | None:
        once = SendKey(claimed.key, claimed.created_at, claimed.unsure)
        anchor = claimed.edit_of or claimed.thread_of
        if anchor is None:
            return await sender.send(to, message, late=claimed.late, once=once)
        async with reading(self.sessions) as session:
            status, ref = await outbox.ref_of(session, anchor, sender.platform)
        if status in (DeliveryStatus.PENDING, DeliveryStatus.SENDING):
            # Only when the anchor is in another lane: in its own lane it went first.
            raise DeliveryError(f"{anchor} is not sent yet", retry_after=1.0, waiting=True)
        if status is DeliveryStatus.DELIVERED and ref:
            if claimed.edit_of:
                return await sender.edit(ref, to, message)
            return await sender.send(to, message, late=claimed.late, thread=ref, once=once)
        # The message to edit or reply to never arrived: this one is posted on its own.
        return await sender.send(to, message, late=claimed.late, once=once)

    def _outcome(
        self,
        claimed: outbox.Claimed,
        outcome: str,
        *,
        why: str = "",
        code: str | None = None,
        level: int = logging.INFO,
    ) -> None:
        """One log line per delivery attempt, with its ids and outcome; tell the observers."""
        done = Outcome(
            claimed.delivery_id, claimed.key, claimed.platform, outcome, claimed.attempts, code
        )
        log.log(
            level,
            "delivery %d %s on %s: %s (attempt %d)%s",
            done.delivery_id,
            done.key,
            done.platform,
            outcome,
            done.attempt,
            f": {why}" if why else "",
            extra={
                "delivery": done.delivery_id,
                "key": done.key,
                "platform": done.platform,
                "outcome": outcome,
                "attempt": done.attempt,
                "code": code,
            },
        )
        for observe in self.observers:
            observe(done)

    async def _failed(self, claimed: outbox.Claimed, exc: DeliveryError) -> None:
        # The reason is kept in the outbox and shown by `liaison outbox failed`: no secret in it.
        exc.reason = redact(exc.reason)
        if exc.permanent or claimed.attempts >= self.max_attempts:
            async with self._writing:
                await outbox.mark_failed(
                    self.sessions, claimed.delivery_id, exc.reason, skipped=False
                )
            self._outcome(
                claimed,
                "failed",
                why=f"giving up after {claimed.attempts} attempts: {exc.reason}",
                code=exc.code,
                level=logging.ERROR,
            )
            return
        wait = (
            timedelta(seconds=exc.retry_after)
            if exc.retry_after
            else backoff(claimed.attempts, self.first_backoff)
        )
        async with self._writing:
            await outbox.mark_retry(
                self.sessions,
                claimed.delivery_id,
                exc.reason,
                self.clock.now() + wait,
                refund_attempt=exc.waiting or exc.looking,
                unsure=exc.unsure,
            )
        self._outcome(
            claimed,
            "waiting" if exc.waiting else "retry",
            why=f"retrying in {wait}: {exc.reason}",
            code=exc.code,
            # Waiting for a message in another lane is routine, not a warning.
            level=logging.INFO if exc.waiting else logging.WARNING,
        )
        self._opens_in(wait.total_seconds())
