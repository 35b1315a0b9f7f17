"""The delivery worker: takes notifications from the outbox and sends them through the adapters.

At-least-once with idempotency keys: a row is written once per event, each platform's delivery is
leased while it is sent and marked with the platform's message reference afterwards, transient
failures come back with backoff, permanent ones are kept as failed with their reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after
        # Waiting for another message to arrive first is not a failed attempt.
        self.waiting = waiting


class NoAddress(Exception):
    """Nowhere to send on this platform (the channel or person has no id there): skipped."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Sender(Protocol):
    """An adapter's sending side."""

    platform: str

    def channel_address(self, channel: Channel) -> str | None:
        """The platform's id for a logical channel, or None if it has none there."""
        ...

    def person_address(self, person: PersonRef) -> str | None:
        """The platform's id to DM a person, or None if they have none there."""
        ...

    async def send(
        self, to: Destination, message: Message, *, late: bool, thread: str | None = None
    ) -> str | None:
        """Post a message (in the thread of message `thread`, if given); return its reference."""
        ...

    async def edit(self, ref: str, to: Destination, message: Message) -> str | None:
        """Replace a posted message in place; return its (possibly new) reference."""
        ...


def backoff(attempt: int) -> timedelta:
    """How long to wait before attempt `attempt + 1`: 2s, 4s, 8s ... at most 5 minutes."""
    return timedelta(seconds=min(2**attempt, 300))


class DeliveryWorker:
    """Sends due deliveries for a set of senders; wake it after writing to the outbox."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        senders: Sequence[Sender],
        *,
        poll_interval: float = 5.0,
        max_attempts: int = 8,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.senders = list(senders)
        self.poll_interval = poll_interval
        self.max_attempts = max_attempts
        self._wake = asyncio.Event()
        # One pass at a time, so drain() returns only when everything due has been handled.
        self._lock = asyncio.Lock()

    def wake(self) -> None:
        """Ask for a delivery pass now (new rows were committed)."""
        self._wake.set()

    async def run_forever(self) -> None:
        """Deliver whenever woken, and every poll interval for retries and other replicas' rows."""
        while True:
            try:
                await self.drain()
            except Exception:
                log.exception("delivery pass failed; trying again shortly")
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for drops a cancellation that
            # arrives as the wake-up does, and closing the runtime then waits for ever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await self._wake.wait()
            self._wake.clear()

    async def drain(self) -> int:
        """Send everything due now on every platform; return how many deliveries were handled."""
        handled = 0
        async with self._lock:
            for sender in self.senders:
                while batch := await outbox.claim(self.sessions, sender.platform, self.clock.now()):
                    for claimed in batch:
                        await self._deliver(sender, claimed)
                    handled += len(batch)
        return handled

    async def _deliver(self, sender: Sender, claimed: outbox.Claimed) -> None:
        message = Message.from_dict(claimed.payload)
        try:
            to = await self._destination(sender, claimed)
        except NoAddress as exc:
            await outbox.mark_failed(self.sessions, claimed.delivery_id, exc.reason, skipped=True)
            return
        try:
            ref = await self._send_or_edit(sender, claimed, to, message)
        except DeliveryError as exc:
            await self._failed(claimed, exc)
            return
        except Exception as exc:
            log.exception("sending %s to %s failed", claimed.key, sender.platform)
            await self._failed(claimed, DeliveryError(f"{type(exc).__name__}: {exc}"))
            return
        await outbox.mark_delivered(self.sessions, claimed.delivery_id, ref, self.clock.now())

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
        anchor = claimed.edit_of or claimed.thread_of
        if anchor is None:
            return await sender.send(to, message, late=claimed.late)
        async with reading(self.sessions) as session:
            status, ref = await outbox.ref_of(session, anchor, sender.platform)
        if status in (DeliveryStatus.PENDING, DeliveryStatus.SENDING):
            raise DeliveryError(f"{anchor} is not sent yet", retry_after=1.0, waiting=True)
        if status is DeliveryStatus.DELIVERED and ref:
            if claimed.edit_of:
                return await sender.edit(ref, to, message)
            return await sender.send(to, message, late=claimed.late, thread=ref)
        # The message to edit or reply to never arrived: this one is posted on its own.
        return await sender.send(to, message, late=claimed.late)

    async def _failed(self, claimed: outbox.Claimed, exc: DeliveryError) -> None:
        if exc.permanent or claimed.attempts >= self.max_attempts:
            log.error(
                "giving up on %s for %s after %d attempts: %s",
                claimed.key,
                claimed.platform,
                claimed.attempts,
                exc.reason,
            )
            await outbox.mark_failed(self.sessions, claimed.delivery_id, exc.reason, skipped=False)
            return
        wait = timedelta(seconds=exc.retry_after) if exc.retry_after else backoff(claimed.attempts)
        log.warning("retrying %s on %s in %s: %s", claimed.key, claimed.platform, wait, exc.reason)
        await outbox.mark_retry(
            self.sessions,
            claimed.delivery_id,
            exc.reason,
            self.clock.now() + wait,
            refund_attempt=exc.waiting,
        )
