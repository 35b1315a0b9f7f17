"""Calendar jobs with several replicas: each occurrence is posted once, whoever runs it.

Two runtimes share one database and one fake clock, as two replicas of the bot would; both run
their due jobs at the same moment.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import select

from bot.config import Settings
from commands.core.clock import FakeClock
from storage.models import OutboxItem
from tests.harness import Chat, open_chat


def _at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def _keys(chat: Chat, prefix: str) -> list[str]:
    async with chat.runtime.sessions() as session:
        rows = await session.scalars(
            select(OutboxItem.key).where(OutboxItem.key.like(prefix + "%")).order_by(OutboxItem.id)
        )
        return list(rows)


async def _both_run(clock: FakeClock, at: datetime, replicas: list[Chat]) -> list[str]:
    """Both replicas run what is due at `at`; return the titles both consoles received."""
    clock.set(at)
    starts = [len(r.console.transcript) for r in replicas]
    await asyncio.gather(*(r.runtime.jobs.run_due() for r in replicas))
    await asyncio.gather(*(r.runtime.worker.drain() for r in replicas))
    return [
        text.splitlines()[0]
        for r, start in zip(replicas, starts, strict=True)
        for _, text in r.delivered(start)
    ]


async def test_two_replicas_post_the_agenda_and_the_digest_once(settings: Settings) -> None:
    clock = FakeClock(_at(2026, 1, 11, 12, 0))
    replicas = [await open_chat(settings, clock), await open_chat(settings, clock)]
    try:
        await replicas[0].ok('/agenda add "Audit scope"')
        # Monday 09:00 London: the weekly digest.
        titles = await _both_run(clock, _at(2026, 1, 12, 9, 0), replicas)
        assert [t for t in titles if t.startswith("Weekly digest")] == ["Weekly digest · 2026-W03"]
        assert await _keys(replicas[0], "digest:") == ["digest:2026-W03"]
        # Wednesday 16:00 London: the agenda of Thursday's 16:00 sync, a day ahead.
        titles = await _both_run(clock, _at(2026, 1, 14, 16, 0), replicas)
        assert len([t for t in titles if "genda" in t]) == 1, titles
        assert await _keys(replicas[1], "agenda:") == ["agenda:2026-01-15"]
    finally:
        for replica in replicas:
            await replica.runtime.close()
