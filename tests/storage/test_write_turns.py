"""Write transactions take turns: recording a request never queues behind other writers.

On SQLite the process's writers are handed the one write lock in turn (storage.engine.WriteGate),
the inbox's records first; on PostgreSQL they do not wait for each other at all. Either way a
request waiting to be acknowledged is recorded once the write under way commits, ahead of the
deliveries, wake-ups and commands queued behind it.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from storage.engine import is_sqlite
from storage.models import Channel, InboundRequest
from tests.harness import Chat


async def _count(chat: Chat, model: type[Channel] | type[InboundRequest]) -> int:
    async with chat.runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_request_is_recorded_before_writers_that_queued_earlier(
    chat: Chat, database_url: str
) -> None:
    runtime = chat.runtime
    finished: list[str] = []
    release = asyncio.Event()

    async def long_write() -> None:
        async with runtime.sessions.begin() as session:
            session.add(Channel(name="first"))
            await session.flush()  # on SQLite this write holds the lock until it commits
            await release.wait()
        finished.append("long write")

    async def other_write() -> None:
        async with runtime.sessions.begin() as session:
            session.add(Channel(name="queued"))
        finished.append("other write")

    async def record() -> None:
        assert await runtime.inbox.accept("test:turns:1", "test.kind", {"n": 1})
        finished.append("record")

    holder = asyncio.create_task(long_write())
    await asyncio.sleep(0.1)
    queued = asyncio.create_task(other_write())
    await asyncio.sleep(0.1)  # the other writer queues first
    recording = asyncio.create_task(record())
    await asyncio.sleep(0.3)
    if is_sqlite(database_url):
        assert finished == []  # one writer at a time: both wait for the long write
    else:
        assert finished == ["other write", "record"]  # no shared lock to wait for
    release.set()
    await asyncio.wait_for(asyncio.gather(holder, queued, recording), 10)
    if is_sqlite(database_url):
        assert finished == ["long write", "record", "other write"]
    assert await _count(chat, InboundRequest) == 1
    assert await _count(chat, Channel) >= 2


async def test_a_writer_given_up_while_waiting_leaves_the_turn_free(
    chat: Chat, database_url: str
) -> None:
    runtime = chat.runtime
    release = asyncio.Event()

    async def long_write() -> None:
        async with runtime.sessions.begin() as session:
            session.add(Channel(name="first"))
            await session.flush()
            await release.wait()

    async def write(name: str) -> None:
        async with runtime.sessions.begin() as session:
            session.add(Channel(name=name))

    holder = asyncio.create_task(long_write())
    await asyncio.sleep(0.1)
    given_up = asyncio.create_task(write("never"))
    await asyncio.sleep(0.1)
    given_up.cancel()
    release.set()
    await holder
    # The cancelled writer kept no turn: the next one goes at once.
    await asyncio.wait_for(write("next"), 2)
    async with runtime.sessions() as session:
        names = set((await session.scalars(select(Channel.name))).all())
    assert {"first", "next"} <= names
    if is_sqlite(database_url):
        assert "never" not in names  # it was still waiting for its turn when given up
