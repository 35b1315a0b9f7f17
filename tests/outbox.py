"""Outbox helpers shared by the outbox's own tests and the delivery worker's."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from commands.core.clock import FakeClock
from commands.core.messages import Message, line
from storage import outbox


async def post_notification(
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    key: str,
    *,
    channel: str = "shared",
    edit_of: str | None = None,
    thread_of: str | None = None,
    platforms: tuple[str, ...] = ("fake",),
    not_before: datetime | None = None,
) -> bool:
    """Write a notification of one line to the outbox, titled by its key."""
    async with sessions.begin() as session:
        return await outbox.enqueue(
            session,
            key=key,
            payload=Message(title=key, lines=(line("x"),)).to_dict(),
            platforms=platforms,
            now=clock.now(),
            channel=channel,
            edit_of=edit_of,
            thread_of=thread_of,
            not_before=not_before,
        )
