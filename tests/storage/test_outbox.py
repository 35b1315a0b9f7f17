"""The outbox: idempotent writes, leased claims of each lane's head, and each lane's pace, as
several replicas see them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from commands.core.clock import FakeClock
from storage import outbox
from storage.models import OutboxItem
from tests.outbox import post_notification


async def test_the_same_key_is_written_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    clock = FakeClock()
    assert await post_notification(sessions, clock, "review:1:breach") is True
    assert await post_notification(sessions, clock, "review:1:breach") is False
    async with sessions() as session:
        assert await session.scalar(select(func.count(OutboxItem.id))) == 1


async def test_two_replicas_never_claim_the_same_delivery(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = FakeClock()
    for n in range(20):
        await post_notification(sessions, clock, f"n{n}", channel=f"c{n}")
    first = await outbox.claim(sessions, "fake", clock.now(), limit=12)
    second = await outbox.claim(sessions, "fake", clock.now(), limit=12)
    keys = [c.key for c in first] + [c.key for c in second]
    assert len(keys) == 20 and len(set(keys)) == 20


async def test_only_the_oldest_unfinished_delivery_of_a_lane_is_claimed(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = FakeClock()
    for n in range(3):
        await post_notification(sessions, clock, f"shared{n}")
    await post_notification(sessions, clock, "other", channel="other")
    first = await outbox.claim(sessions, "fake", clock.now())
    assert sorted(c.key for c in first) == ["other", "shared0"]
    assert await outbox.claim(sessions, "fake", clock.now()) == [], "shared1 waits for shared0"
    head = next(c for c in first if c.key == "shared0")
    await outbox.mark_retry(sessions, head.delivery_id, "HTTP 500", clock.now())
    # A failed head is retried before anything behind it: the lane keeps its order.
    assert [c.key for c in await outbox.claim(sessions, "fake", clock.now())] == ["shared0"]


async def test_a_lane_paced_on_one_replica_is_paced_on_every_replica(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = FakeClock()
    for n in range(2):
        await post_notification(sessions, clock, f"shared{n}")
    await post_notification(sessions, clock, "other", channel="other")
    claimed = await outbox.claim(sessions, "fake", clock.now(), limit=1)
    assert [c.key for c in claimed] == ["shared0"]
    await outbox.mark_delivered(
        sessions, claimed[0].delivery_id, "m1", clock.now(), pace=timedelta(seconds=1)
    )
    assert [c.key for c in await outbox.claim(sessions, "fake", clock.now())] == ["other"]
    clock.advance(timedelta(seconds=1))
    assert [c.key for c in await outbox.claim(sessions, "fake", clock.now())] == ["shared1"]


async def test_a_lapsed_or_returned_lease_is_claimed_again_as_unsure(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = FakeClock()
    await post_notification(sessions, clock, "crashed", channel="a")
    await post_notification(sessions, clock, "returned", channel="b")
    held = {c.key: c for c in await outbox.claim(sessions, "fake", clock.now())}
    assert not any(c.unsure for c in held.values())
    assert await outbox.release(sessions, [held["returned"].delivery_id], clock.now()) == 1
    again = await outbox.claim(sessions, "fake", clock.now())
    assert [(c.key, c.unsure, c.attempts) for c in again] == [("returned", True, 1)]
    await outbox.mark_delivered(sessions, again[0].delivery_id, "m1", clock.now())
    clock.advance(outbox.LEASE + timedelta(seconds=1))
    again = await outbox.claim(sessions, "fake", clock.now())
    assert [(c.key, c.unsure, c.attempts) for c in again] == [("crashed", True, 2)]


async def test_a_held_delivery_waits_without_holding_up_its_lane(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = FakeClock()
    soon = clock.now() + timedelta(seconds=2)
    await post_notification(sessions, clock, "held", not_before=soon)
    await post_notification(sessions, clock, "urgent")
    [urgent] = await outbox.claim(sessions, "fake", clock.now())
    assert urgent.key == "urgent", "the held one is not its lane's head yet"
    assert await outbox.next_release(sessions, "fake", clock.now()) == soon
    clock.advance(timedelta(seconds=2))
    # Released, and the lane's head again, but its lane has a send in flight: one at a time.
    assert await outbox.claim(sessions, "fake", clock.now()) == []
    await outbox.mark_delivered(sessions, urgent.delivery_id, "ref", clock.now())
    assert [c.key for c in await outbox.claim(sessions, "fake", clock.now())] == ["held"]
    assert await outbox.next_release(sessions, "fake", clock.now()) is None
