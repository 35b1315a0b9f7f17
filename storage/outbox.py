"""The outbox: notifications written with the change that caused them, then claimed and sent.

Writes are idempotent by key; claims are leases, so a crashed sender's work is picked up again
and several replicas never send the same delivery at the same time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.engine import reading
from storage.models import Delivery, DeliveryStatus, OutboxItem


async def enqueue(
    session: AsyncSession,
    *,
    key: str,
    payload: dict[str, Any],
    platforms: Iterable[str],
    now: datetime,
    channel: str | None = None,
    person_id: int | None = None,
    edit_of: str | None = None,
    thread_of: str | None = None,
    late: bool = False,
) -> bool:
    """Add a notification in the caller's transaction; False if its key was already written."""
    if (channel is None) == (person_id is None):
        raise ValueError("a notification goes to exactly one channel or one person")
    if await session.scalar(select(OutboxItem.id).where(OutboxItem.key == key)) is not None:
        return False
    item = OutboxItem(
        key=key,
        channel=channel,
        person_id=person_id,
        payload=payload,
        edit_of=edit_of,
        thread_of=thread_of,
        late=late,
        created_at=now,
    )
    item.deliveries = [
        Delivery(platform=p, status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now)
        for p in sorted(set(platforms))
    ]
    session.add(item)
    return True


@dataclass(frozen=True)
class Claimed:
    """A delivery this sender holds a lease on, with what it needs to send it."""

    delivery_id: int
    platform: str
    attempts: int
    key: str
    channel: str | None
    person_id: int | None
    payload: dict[str, Any]
    edit_of: str | None
    thread_of: str | None
    late: bool


def _claimable(platform: str, now: datetime) -> Any:
    return and_(
        Delivery.platform == platform,
        or_(
            and_(Delivery.status == DeliveryStatus.PENDING, Delivery.next_attempt_at <= now),
            # A sender that died mid-send leaves a lapsed lease: the delivery is up for grabs.
            and_(Delivery.status == DeliveryStatus.SENDING, Delivery.lease_until < now),
        ),
    )


async def claim(
    sessions: async_sessionmaker[AsyncSession],
    platform: str,
    now: datetime,
    *,
    lease: timedelta = timedelta(minutes=2),
    limit: int = 50,
) -> list[Claimed]:
    """Lease up to `limit` due deliveries for a platform, oldest first."""
    # Two queries the (platform, status, next_attempt_at) index answers directly, run without
    # the write lock; only the few rows found are then claimed, each by compare-and-set.
    async with reading(sessions) as session:
        due = await session.execute(
            select(Delivery.id, Delivery.outbox_id)
            .where(
                Delivery.platform == platform,
                Delivery.status == DeliveryStatus.PENDING,
                Delivery.next_attempt_at <= now,
            )
            .order_by(Delivery.next_attempt_at)
            .limit(limit)
        )
        lapsed = await session.execute(
            select(Delivery.id, Delivery.outbox_id)
            .where(
                Delivery.platform == platform,
                Delivery.status == DeliveryStatus.SENDING,
                Delivery.lease_until < now,
            )
            .limit(limit)
        )
        candidates = [i for i, _ in sorted([*due.all(), *lapsed.all()], key=lambda r: r[1])]
    if not candidates:
        return []
    async with sessions.begin() as session:
        won: list[int] = []
        for delivery_id in candidates[:limit]:
            # Compare-and-set: of several replicas racing for a row, exactly one matches it.
            result = await session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id, _claimable(platform, now))
                .values(
                    status=DeliveryStatus.SENDING,
                    lease_until=now + lease,
                    attempts=Delivery.attempts + 1,
                )
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                won.append(delivery_id)
        if not won:
            return []
        rows = (
            await session.execute(
                select(Delivery, OutboxItem)
                .join(OutboxItem, Delivery.outbox_id == OutboxItem.id)
                .where(Delivery.id.in_(won))
                .order_by(OutboxItem.id)
            )
        ).all()
        return [
            Claimed(
                delivery_id=d.id,
                platform=d.platform,
                attempts=d.attempts,
                key=o.key,
                channel=o.channel,
                person_id=o.person_id,
                payload=o.payload,
                edit_of=o.edit_of,
                thread_of=o.thread_of,
                late=o.late,
            )
            for d, o in rows
        ]


async def _finish(
    sessions: async_sessionmaker[AsyncSession], delivery_id: int, **values: Any
) -> None:
    async with sessions.begin() as session:
        await session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.SENDING)
            .values(lease_until=None, **values)
        )


async def mark_delivered(
    sessions: async_sessionmaker[AsyncSession], delivery_id: int, ref: str | None, now: datetime
) -> None:
    """Record that a delivery reached its platform, with the platform's message reference."""
    await _finish(
        sessions,
        delivery_id,
        status=DeliveryStatus.DELIVERED,
        ref=ref,
        delivered_at=now,
        error=None,
    )


async def mark_retry(
    sessions: async_sessionmaker[AsyncSession],
    delivery_id: int,
    error: str,
    at: datetime,
    *,
    refund_attempt: bool = False,
) -> None:
    """Put a delivery back in the queue for another attempt at `at`."""
    await _finish(
        sessions,
        delivery_id,
        status=DeliveryStatus.PENDING,
        error=error,
        next_attempt_at=at,
        # A delivery that only waited (for the message it edits) keeps its attempts.
        attempts=Delivery.attempts - (1 if refund_attempt else 0),
    )


async def mark_failed(
    sessions: async_sessionmaker[AsyncSession], delivery_id: int, error: str, *, skipped: bool
) -> None:
    """Give up on a delivery for good, keeping the reason (skipped: nowhere to send it)."""
    status = DeliveryStatus.SKIPPED if skipped else DeliveryStatus.FAILED
    await _finish(sessions, delivery_id, status=status, error=error)


async def ref_of(
    session: AsyncSession, key: str, platform: str
) -> tuple[DeliveryStatus, str | None]:
    """The status and message reference of a notification on a platform (for edits)."""
    row = (
        await session.execute(
            select(Delivery.status, Delivery.ref)
            .join(OutboxItem, Delivery.outbox_id == OutboxItem.id)
            .where(OutboxItem.key == key, Delivery.platform == platform)
        )
    ).first()
    if row is None:
        return DeliveryStatus.FAILED, None
    return row[0], row[1]


async def failures(session: AsyncSession, limit: int = 50) -> Sequence[tuple[OutboxItem, Delivery]]:
    """Deliveries given up on, newest first, with their reasons."""
    rows = await session.execute(
        select(OutboxItem, Delivery)
        .join(Delivery, Delivery.outbox_id == OutboxItem.id)
        .where(Delivery.status == DeliveryStatus.FAILED)
        .order_by(OutboxItem.id.desc())
        .limit(limit)
    )
    return [(o, d) for o, d in rows.all()]
