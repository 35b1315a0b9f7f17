"""The outbox: idempotent writes and leased claims, as several replicas see them."""

from __future__ import annotations

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
        await post_notification(sessions, clock, f"n{n}")
    first = await outbox.claim(sessions, "fake", clock.now(), limit=12)
    second = await outbox.claim(sessions, "fake", clock.now(), limit=12)
    keys = [c.key for c in first] + [c.key for c in second]
    assert len(keys) == 20 and len(set(keys)) == 20
