"""The outbox: notifications written with the change that caused them, then claimed and sent.

Writes are idempotent by key. Each delivery belongs to a lane (its destination on its platform):
only a lane's head, its oldest unfinished delivery, can be claimed, so a destination receives its
notifications in order and is served by one sender at a time, whichever replica that is. Claims
are short leases renewed while the call runs, so a crashed sender's work is picked up again
within seconds; each lane's pace is kept in the database, so every replica honours it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.engine import reading
from storage.models import Delivery, DeliveryLane, DeliveryStatus, OutboxItem

# How long a claim holds a delivery unless renewed: a sender that dies frees its work this soon.
LEASE = timedelta(seconds=8)
UNFINISHED = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)


def lane_of(channel: str | None, person_id: int | None) -> str:
    """The lane of a notification: its channel, or the person it is for."""
    return f"channel:{channel}" if channel is not None else f"person:{person_id}"


@dataclass(frozen=True)
class Draft:
    """A notification to add: its idempotency key, payload, and its one channel or person."""

    key: str
    payload: dict[str, Any]
    channel: str | None = None
    person_id: int | None = None
    edit_of: str | None = None
    thread_of: str | None = None
    late: bool = False
    # Held until then: outside its recipient's working hours (see `enqueue`).
    not_before: datetime | None = None


# Keys per look-up statement: under every driver's bound-parameter limit (asyncpg: 32,767).
_KEYS_PER_STATEMENT = 10_000


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
    not_before: datetime | None = None,
) -> bool:
    """Add a notification in the caller's transaction; False if its key was already written.

    `not_before` holds it until then (outside its recipient's working hours): it is neither
    its lane's head nor claimable before, so the lane's other notifications are not held up.
    """
    draft = Draft(key, payload, channel, person_id, edit_of, thread_of, late, not_before)
    return (await enqueue_all(session, [draft], platforms=platforms, now=now))[0]


async def enqueue_all(
    session: AsyncSession,
    drafts: Sequence[Draft],
    *,
    platforms: Iterable[str],
    now: datetime,
) -> list[bool]:
    """Add notifications in the caller's transaction, in order; for each, False if its key was
    written already (before, or earlier in `drafts`).

    A constant number of statements however many there are (one look-up of the keys, one insert
    of the items, one of their deliveries), so firing a thousand SLA stages at once writes
    thousands of rows in a handful of round trips.
    """
    for draft in drafts:
        if (draft.channel is None) == (draft.person_id is None):
            raise ValueError(f"a notification goes to exactly one channel or one person ({draft})")
    keys = list(dict.fromkeys(d.key for d in drafts))
    taken: set[str] = set()
    for n in range(0, len(keys), _KEYS_PER_STATEMENT):
        chunk = keys[n : n + _KEYS_PER_STATEMENT]
        taken.update(await session.scalars(select(OutboxItem.key).where(OutboxItem.key.in_(chunk))))
    written: list[bool] = []
    fresh: list[Draft] = []
    for draft in drafts:
        written.append(draft.key not in taken)
        if written[-1]:
            taken.add(draft.key)
            fresh.append(draft)
    if not fresh:
        return written
    each = sorted(set(platforms))
    # RETURNING in any order, matched back by key: asking SQLite for the parameters' order
    # makes SQLAlchemy send one INSERT per row.
    items = cast(Table, OutboxItem.__table__)
    returned = await session.execute(
        # The table, not the entity: the ORM's bulk INSERT asks for the parameters' order.
        insert(items).returning(items.c.key, items.c.id),
        [
            {
                "key": d.key,
                "channel": d.channel,
                "person_id": d.person_id,
                "payload": d.payload,
                "edit_of": d.edit_of,
                "thread_of": d.thread_of,
                "late": d.late,
                "created_at": now,
            }
            for d in fresh
        ],
    )
    ids: dict[str, int] = {key: item_id for key, item_id in returned}
    # Delivery ids follow the items' order: a lane's head is its oldest notification.
    deliveries = [
        {
            "outbox_id": ids[d.key],
            "platform": p,
            "lane": lane_of(d.channel, d.person_id),
            "status": DeliveryStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "not_before": d.not_before,
            "unsure": False,
        }
        for d in fresh
        for p in each
    ]
    if deliveries:
        await session.execute(insert(Delivery), deliveries)
    return written


@dataclass(frozen=True)
class Claimed:
    """A delivery this sender holds a lease on, with what it needs to send it."""

    delivery_id: int
    platform: str
    attempts: int
    lane: str
    # An earlier attempt may have arrived: the sender looks before it sends again.
    unsure: bool
    outbox_id: int
    created_at: datetime
    key: str
    channel: str | None
    person_id: int | None
    payload: dict[str, Any]
    edit_of: str | None
    thread_of: str | None
    late: bool


def _released(now: datetime) -> Any:
    """Not held, or held no longer."""
    return or_(Delivery.not_before.is_(None), Delivery.not_before <= now)


def _claimable(platform: str, now: datetime) -> Any:
    return and_(
        Delivery.platform == platform,
        _released(now),
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
    lease: timedelta = LEASE,
    limit: int = 20,
    allowance: timedelta = timedelta(0),
) -> list[Claimed]:
    """Lease the heads of up to `limit` lanes that may send now, longest waiting first.

    A lane's head is its oldest unfinished delivery; it is claimable when it is due (or its
    lease lapsed) and its lane's pace is at most `allowance` (the platform's burst) ahead of now.
    """
    paced = and_(DeliveryLane.platform == Delivery.platform, DeliveryLane.lane == Delivery.lane)
    async with reading(sessions) as session:
        # Two steps, not one join: fresh rows leave the planner's statistics behind, and a
        # nested loop over "every unfinished row x every lane head" took seconds on PostgreSQL.
        heads = (
            await session.scalars(
                select(func.min(Delivery.id))
                .where(
                    Delivery.platform == platform,
                    Delivery.status.in_(UNFINISHED),
                    _released(now),
                )
                .group_by(Delivery.lane)
            )
        ).all()
        if not heads:
            return []
        # Lanes with a send in flight (a few dozen at most): none of them may start another.
        busy = (
            await session.scalars(
                select(Delivery.lane).where(
                    Delivery.platform == platform,
                    Delivery.status == DeliveryStatus.SENDING,
                    Delivery.lease_until >= now,
                )
            )
        ).all()
        candidates = (
            await session.scalars(
                select(Delivery.id)
                .outerjoin(DeliveryLane, paced)
                .where(
                    Delivery.id.in_(heads),
                    _claimable(platform, now),
                    # A held delivery released while a newer one of its lane is being sent
                    # (an urgent DM) is the lane's head again, but waits for that send.
                    Delivery.lane.not_in(busy),
                    or_(
                        DeliveryLane.paced_until.is_(None),
                        DeliveryLane.paced_until <= now + allowance,
                    ),
                )
                .order_by(Delivery.next_attempt_at, Delivery.id)
                .limit(limit)
            )
        ).all()
    if not candidates:
        return []
    async with sessions.begin() as session:
        won: list[int] = []
        for delivery_id in candidates:
            # Compare-and-set: of several replicas racing for a row, exactly one matches it.
            result = await session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id, _claimable(platform, now))
                .values(
                    status=DeliveryStatus.SENDING,
                    lease_until=now + lease,
                    attempts=Delivery.attempts + 1,
                    # A lapsed lease means its sender died mid-call: the message may be there.
                    unsure=or_(Delivery.unsure, Delivery.status == DeliveryStatus.SENDING),
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
                .execution_options(populate_existing=True)
            )
        ).all()
        return [
            Claimed(
                delivery_id=d.id,
                platform=d.platform,
                attempts=d.attempts,
                lane=d.lane,
                unsure=d.unsure,
                outbox_id=o.id,
                created_at=o.created_at,
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


async def next_lapse(sessions: async_sessionmaker[AsyncSession], platform: str) -> datetime | None:
    """When the first lease held on a platform lapses (its sender may have died), if any."""
    async with reading(sessions) as session:
        return await session.scalar(
            select(func.min(Delivery.lease_until)).where(
                Delivery.platform == platform, Delivery.status == DeliveryStatus.SENDING
            )
        )


async def next_release(
    sessions: async_sessionmaker[AsyncSession], platform: str, now: datetime
) -> datetime | None:
    """When the first delivery held for later on a platform may go, if any is held."""
    async with reading(sessions) as session:
        return await session.scalar(
            select(func.min(Delivery.not_before)).where(
                Delivery.platform == platform,
                Delivery.status == DeliveryStatus.PENDING,
                Delivery.not_before > now,
            )
        )


async def renew(
    sessions: async_sessionmaker[AsyncSession], delivery_ids: Iterable[int], until: datetime
) -> None:
    """Extend the leases of deliveries still being sent (their calls are running)."""
    ids = list(delivery_ids)
    if not ids:
        return
    async with sessions.begin() as session:
        await session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids), Delivery.status == DeliveryStatus.SENDING)
            .values(lease_until=until)
        )


async def release(
    sessions: async_sessionmaker[AsyncSession], delivery_ids: Iterable[int], now: datetime
) -> int:
    """Hand back deliveries a stopping sender holds, due at once for whoever comes next.

    Their calls may have been cut off on the way, so the next sender looks before it sends;
    being handed back is not a failed attempt.
    """
    ids = list(delivery_ids)
    if not ids:
        return 0
    async with sessions.begin() as session:
        result = await session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids), Delivery.status == DeliveryStatus.SENDING)
            .values(
                status=DeliveryStatus.PENDING,
                lease_until=None,
                next_attempt_at=now,
                unsure=True,
                attempts=Delivery.attempts - 1,
            )
        )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def superseded(session: AsyncSession, claimed: Claimed) -> bool:
    """Whether a claimed edit is out of date: a newer edit of the same message is queued."""
    if claimed.edit_of is None:
        return False
    newer = await session.scalar(
        select(OutboxItem.id)
        .join(Delivery, Delivery.outbox_id == OutboxItem.id)
        .where(
            OutboxItem.edit_of == claimed.edit_of,
            OutboxItem.id > claimed.outbox_id,
            Delivery.platform == claimed.platform,
        )
        .limit(1)
    )
    return newer is not None


async def _finish(
    sessions: async_sessionmaker[AsyncSession],
    delivery_id: int,
    *,
    pace: timedelta | None = None,
    now: datetime | None = None,
    **values: Any,
) -> None:
    async with sessions.begin() as session:
        await session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.SENDING)
            .values(lease_until=None, **values)
        )
        if pace is not None and now is not None:
            await _pace(session, delivery_id, pace, now)


async def _pace(session: AsyncSession, delivery_id: int, pace: timedelta, now: datetime) -> None:
    """Move the lane's pace on by one message (GCRA: from now, or from where it already is)."""
    row = (
        await session.execute(
            select(Delivery.platform, Delivery.lane).where(Delivery.id == delivery_id)
        )
    ).first()
    if row is None:
        return
    platform, lane = row
    # Read-modify-write is safe: a lane has one delivery in flight at a time, on one replica.
    current = await session.scalar(
        select(DeliveryLane).where(DeliveryLane.platform == platform, DeliveryLane.lane == lane)
    )
    if current is None:
        session.add(DeliveryLane(platform=platform, lane=lane, paced_until=now + pace))
    else:
        current.paced_until = max(current.paced_until, now) + pace


async def mark_delivered(
    sessions: async_sessionmaker[AsyncSession],
    delivery_id: int,
    ref: str | None,
    now: datetime,
    *,
    pace: timedelta | None = None,
    paced_from: datetime | None = None,
) -> None:
    """Record that a delivery reached its platform, with the platform's message reference
    (and, given the platform's `pace`, that its lane took one more message at `paced_from`)."""
    await _finish(
        sessions,
        delivery_id,
        pace=pace,
        now=paced_from or now,
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
    unsure: bool = False,
) -> None:
    """Put a delivery back in the queue for another attempt at `at` (`unsure`: this attempt
    may have reached the platform, so the next one looks first)."""
    await _finish(
        sessions,
        delivery_id,
        status=DeliveryStatus.PENDING,
        error=error,
        next_attempt_at=at,
        # A delivery that only waited (for the message it edits) keeps its attempts.
        attempts=Delivery.attempts - (1 if refund_attempt else 0),
        unsure=or_(Delivery.unsure, literal(unsure)),
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


@dataclass(frozen=True)
class Backlog:
    """One platform's unfinished and failed deliveries, as a metrics scrape reports them."""

    pending: int = 0
    failed: int = 0
    # Direct messages waiting for their recipient's working hours: not late, so not pending.
    held: int = 0
    # Since when the longest-waiting notification still to be delivered has been due (written,
    # or released from being held); None when there is none.
    oldest_pending: datetime | None = None


async def backlog(session: AsyncSession, now: datetime) -> dict[str, Backlog]:
    """Per platform: deliveries pending or being sent, held ones, failed ones, and the oldest
    pending.

    One grouped query over the deliveries not yet delivered or skipped (the `ix_delivery_due`
    index leads with platform and status), cheap enough for every scrape.
    """
    held = and_(Delivery.not_before.is_not(None), Delivery.not_before > now)
    rows = await session.execute(
        select(
            Delivery.platform,
            Delivery.status,
            held,
            func.count(),
            func.min(func.coalesce(Delivery.not_before, OutboxItem.created_at)),
        )
        .join(OutboxItem, Delivery.outbox_id == OutboxItem.id)
        .where(
            Delivery.status.in_(
                [DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.FAILED]
            )
        )
        .group_by(Delivery.platform, Delivery.status, held)
    )
    found: dict[str, Backlog] = {}
    for platform, status, is_held, count, since in rows.all():
        was = found.get(platform, Backlog())
        if status is DeliveryStatus.FAILED:
            found[platform] = replace(was, failed=was.failed + count)
        elif is_held:
            found[platform] = replace(was, held=was.held + count)
        else:
            earliest = min((t for t in (was.oldest_pending, since) if t is not None), default=None)
            found[platform] = replace(was, pending=was.pending + count, oldest_pending=earliest)
    return found
