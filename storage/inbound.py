"""Inbound requests: accepted before they are acknowledged, run from the record, done once.

A platform that gets an HTTP 200 does not send again (Slack, GitHub), so a request must be on
disk before it is acknowledged. `accept` records it (key, kind, payload) in a commit of its
own; the transaction of its effect calls `start`, which marks it done, so the effect and the
mark commit together or not at all. A receiver that dies after the acknowledgement leaves the
record not done: once `resume_at` has passed, any process claims it (`claim_due`) and runs it
again, and `start` lets exactly one run take effect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import InboundRequest


@dataclass(frozen=True)
class Accepted:
    """A request accepted and not yet done: what runs it, and with what."""

    key: str
    kind: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class Arrival:
    """A request to accept: its key (what a re-send repeats), kind and payload."""

    key: str
    kind: str
    payload: dict[str, Any]


async def accept(
    session: AsyncSession, arrivals: Sequence[Arrival], now: datetime, resume_after: timedelta
) -> list[bool]:
    """Record requests in the caller's transaction; False for each whose key is known already.

    Keys repeated within `arrivals` count once (the first). A concurrent replica recording the
    same key makes the commit fail (IntegrityError): the caller then accepts them one by one.
    """
    keys = [a.key for a in arrivals]
    known = set(
        (
            await session.scalars(select(InboundRequest.key).where(InboundRequest.key.in_(keys)))
        ).all()
    )
    fresh: list[bool] = []
    for arrival in arrivals:
        if arrival.key in known:
            fresh.append(False)
            continue
        known.add(arrival.key)
        session.add(
            InboundRequest(
                key=arrival.key,
                received_at=now,
                kind=arrival.kind,
                payload=arrival.payload,
                resume_at=now + resume_after,
                attempts=0,
            )
        )
        fresh.append(True)
    await session.flush()
    return fresh


async def start(session: AsyncSession, key: str, now: datetime) -> bool:
    """Mark a request done in its effect's transaction: False if it was done already.

    A key never accepted (a console command, a platform with no acknowledgement to protect) is
    recorded here, done. On PostgreSQL a concurrent run of the same request waits on the row
    and then finds it done; on SQLite transactions that write run one at a time.
    """
    marked = await session.execute(
        update(InboundRequest)
        .where(InboundRequest.key == key, InboundRequest.done_at.is_(None))
        .values(done_at=now, resume_at=None, payload=None)
        .execution_options(synchronize_session=False)
    )
    if marked.rowcount:  # type: ignore[attr-defined]
        return True
    if await session.scalar(select(InboundRequest.id).where(InboundRequest.key == key)):
        return False
    session.add(InboundRequest(key=key, received_at=now, done_at=now, attempts=0))
    try:
        # A concurrent twin (another replica) waits here on the unique key, then fails; the
        # caller then rolls its transaction back.
        await session.flush()
    except IntegrityError:
        return False
    return True


async def finish(session: AsyncSession, key: str, now: datetime) -> None:
    """Mark a request done that ended without an effect (refused, or failed and rolled back)."""
    await session.execute(
        update(InboundRequest)
        .where(InboundRequest.key == key, InboundRequest.done_at.is_(None))
        .values(done_at=now, resume_at=None, payload=None)
        .execution_options(synchronize_session=False)
    )


async def forget(session: AsyncSession, key: str) -> None:
    """Drop an accepted request that is not done, as if it never came: a re-send of it then
    runs anew (a GitHub delivery that applied to nothing, or failed, may be redelivered)."""
    await session.execute(
        delete(InboundRequest)
        .where(InboundRequest.key == key, InboundRequest.done_at.is_(None))
        .execution_options(synchronize_session=False)
    )


async def claim_due(
    session: AsyncSession, now: datetime, resume_after: timedelta, *, limit: int = 50
) -> list[Accepted]:
    """Take requests whose receiver has not finished them in time, pushing their `resume_at`
    on so that no other process takes them meanwhile."""
    rows = (
        await session.scalars(
            select(InboundRequest)
            .where(InboundRequest.resume_at <= now)
            .order_by(InboundRequest.resume_at, InboundRequest.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    taken = []
    for row in rows:
        row.resume_at = now + resume_after
        row.attempts += 1
        if row.kind is not None and row.payload is not None:
            taken.append(Accepted(row.key, row.kind, dict(row.payload), row.attempts))
    await session.flush()
    return taken
